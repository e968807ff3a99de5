/* pr-analyzer-launch.c: command lines and limits for analyzers. */
#include "config.h"

#include "pr-analyzer-launch.h"

#include <gio/gio.h>

#include "plugin/builtin/pr-test-analyzer.h"
#include "plugin/host/pr-module.h"
#include "plugin/runner/pr-runner.h"

char *
pr_analyzer_file (const PrAnalyzerConfig *a)
{
  switch (a->kind)
    {
    case PR_ANALYZER_MODULE:
      return pr_module_resolve (a->location);
    case PR_ANALYZER_PROGRAM:
      return g_strdup (a->location);
    case PR_ANALYZER_BUILTIN:
    default:
      return g_file_read_link ("/proc/self/exe", NULL);
    }
}

GStrv
pr_analyzer_argv (const PrAnalyzerConfig *a, const char *job_folder, GError **error)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  switch (a->kind)
    {
    case PR_ANALYZER_MODULE:
      {
        g_autofree char *module = pr_module_resolve (a->location);
        if (module == NULL)
          {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                         "no analyzer module \"%s\" (looked for %s.so in $PREREAD_ANALYZER_PATH and %s)",
                         a->location, a->location, pr_module_installed_folder ());
            g_strv_builder_unref (builder);
            return NULL;
          }
        /* Built-ins and the runner are this binary again, in their own
         * process under the analyzer's limits. */
        g_strv_builder_add_many (builder, "/proc/self/exe", PR_RUNNER_SUBCOMMAND, module, job_folder, NULL);
        break;
      }
    case PR_ANALYZER_PROGRAM:
      if (a->decode_volumes)
        g_strv_builder_add_many (builder, "/proc/self/exe", PR_RUNNER_PROGRAM_SUBCOMMAND, job_folder, a->location,
                                 NULL);
      else
        g_strv_builder_add_many (builder, a->location, "--job", job_folder, NULL);
      break;
    case PR_ANALYZER_BUILTIN:
    default:
      g_strv_builder_add_many (builder, "/proc/self/exe", PR_TEST_ANALYZER_SUBCOMMAND, job_folder, NULL);
      break;
    }
  GStrv argv = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return argv;
}

PrRunSpec
pr_analyzer_run_spec (const PrAnalyzerConfig *a, const char *const *argv, const char *job_folder,
                      const char *log_file)
{
  PrRunSpec spec = { 0 };
  spec.argv = argv;
  spec.working_dir = job_folder;
  spec.log_path = log_file;
  spec.timeout_s = a->timeout_s;
  spec.no_progress_timeout_s = a->no_progress_timeout_s;
  spec.memory_limit_mb = a->memory_limit_mb;
  return spec;
}
