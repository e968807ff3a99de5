/* pr-command-analyze.c: `preread analyze`, one analyzer on local files, no daemon.
 *
 * What a vendor develops with: the analyzer runs exactly as the daemon runs
 * it (same job folder, same runner, same limits, same findings checks), on
 * DICOM files given on the command line, and its findings are printed.
 */
#include "config.h"

#include "pr-commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "conf/pr-config.h"
#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"
#include "plugin/host/pr-findings.h"
#include "plugin/host/pr-job-description.h"
#include "plugin/host/pr-module.h"
#include "pr-analyzer-catalog.h"
#include "pr-analyzer-launch.h"
#include "pr-result-build.h"
#include "pr-router.h"
#include "pr-study-facts.h"

/* Series attributes in job.json: as the index keeps them. */
#define ATTRIBUTES_MAX_VALUE 1024

typedef struct {
  const PrAnalyzerConfig *analyzer;
  const PrRoute *route;         /* (nullable) --route */
  char **parameters;            /* --param NAME=VALUE */
  const char *output;           /* (nullable) --output */
  gboolean verbose;
  gboolean quiet;
} Options;

typedef struct {
  char *path;
  PrInstanceHeader *header;
} Member;

static void
member_free (Member *m)
{
  g_free (m->path);
  pr_instance_header_free (m->header);
  g_free (m);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
compare_members (gconstpointer a, gconstpointer b)
{
  const Member *x = *(const Member *const *) a, *y = *(const Member *const *) b;
  if (x->header->instance_number != y->header->instance_number)
    return x->header->instance_number < y->header->instance_number ? -1 : 1;
  return strcmp (x->path, y->path);
}

/* One series of the job, its instances in instance-number order. */
static void
add_series (PrJobDescription *job, const PrSeriesFacts *series)
{
  g_autoptr (GPtrArray) members = g_ptr_array_new_with_free_func ((GDestroyNotify) member_free);
  for (guint i = 0; i < series->files->len; i++)
    {
      PrInstanceHeader *h = pr_instance_header_read (series->files->pdata[i], NULL);
      if (h == NULL || h->sop_instance_uid == NULL)
        {
          pr_instance_header_free (h);
          continue;
        }
      Member *m = g_new0 (Member, 1);
      m->path = g_canonicalize_filename (series->files->pdata[i], NULL);
      m->header = h;
      g_ptr_array_add (members, m);
    }
  if (members->len == 0)
    return;
  g_ptr_array_sort (members, compare_members);
  const Member *first = members->pdata[0];
  g_autofree char *attributes = pr_instance_header_to_json (first->header, ATTRIBUTES_MAX_VALUE);
  PrJobSeries *s = pr_job_description_add_series (job, series->series_uid, attributes);
  for (guint i = 0; i < members->len; i++)
    {
      const Member *m = members->pdata[i];
      pr_job_series_add_instance (s, m->header->sop_instance_uid, m->header->sop_class_uid, m->path,
                                  m->header->instance_number);
    }
  if (job->study_attributes_json == NULL)
    job->study_attributes_json = pr_job_description_study_attributes (attributes);
}

static void
add_parameters (GHashTable *into, GHashTable *parameters)
{
  GHashTableIter iter;
  gpointer name, value;
  if (parameters == NULL)
    return;
  g_hash_table_iter_init (&iter, parameters);
  while (g_hash_table_iter_next (&iter, &name, &value))
    g_hash_table_replace (into, g_strdup (name), g_strdup (value));
}

/* The series and parameters the analyzer gets: all series, or what --route
 * would give it. NULL (with a message printed) when the route passes. */
static PrJobDescription *
describe_job (const Options *o, const PrStudyFacts *study, const char *folder)
{
  g_autoptr (PrJobDescription) job = pr_job_description_new ();
  job->analyzer = g_strdup (o->analyzer->name);
  job->study_instance_uid = g_strdup (study->study_uid);
  job->calling_ae = g_strdup (study->calling_ae);
  job->instance_count = study->instance_count;
  job->output_dir = g_build_filename (folder, "output", NULL);
  job->findings_file = g_build_filename (job->output_dir, "findings.json", NULL);
  add_parameters (job->parameters, o->analyzer->parameters);

  if (o->route == NULL)
    for (guint i = 0; i < study->series->len; i++)
      add_series (job, study->series->pdata[i]);
  else
    {
      job->route = g_strdup (o->route->name);
      g_autoptr (PrRouteDecision) decision = pr_router_decide_route (o->route, study);
      const PrAnalysisPlan *plan = NULL;
      for (guint i = 0; decision->matched && i < decision->plans->len; i++)
        if (strcmp (((PrAnalysisPlan *) decision->plans->pdata[i])->analysis->analyzer, o->analyzer->name) == 0)
          plan = decision->plans->pdata[i];
      if (!decision->matched)
        {
          g_printerr ("preread analyze: route %s does not take study %s:\n", o->route->name, study->study_uid);
          for (guint i = 0; i < decision->failures->len; i++)
            g_printerr ("  %s\n", (const char *) decision->failures->pdata[i]);
          return NULL;
        }
      if (plan == NULL || plan->series->len == 0)
        {
          g_printerr ("preread analyze: route %s gives %s no series of study %s%s%s\n", o->route->name,
                      o->analyzer->name, study->study_uid, plan && plan->why_none ? ": " : "",
                      plan && plan->why_none ? plan->why_none : " (the route does not run it)");
          return NULL;
        }
      add_parameters (job->parameters, plan->analysis->parameters);
      for (guint i = 0; i < plan->series->len; i++)
        add_series (job, plan->series->pdata[i]);
    }
  for (char **p = o->parameters; p && *p; p++)
    {
      const char *equals = strchr (*p, '=');
      g_hash_table_replace (job->parameters, g_strndup (*p, (gsize) (equals - *p)), g_strdup (equals + 1));
    }
  return g_steal_pointer (&job);
}

static void
on_progress (double fraction, const char *message, gpointer user_data)
{
  const Options *o = user_data;
  if (!o->quiet)
    g_printerr ("preread analyze: %3.0f%%%s%s\n", fraction * 100, message ? " " : "", message ? message : "");
}

static void
print_log (const char *path)
{
  g_autofree char *text = NULL;
  if (g_file_get_contents (path, &text, NULL, NULL) && *text)
    g_printerr ("---- %s ----\n%s%s", path, text, g_str_has_suffix (text, "\n") ? "" : "\n");
}

/* The result objects the gateway would send, into @folder/results, made by
 * the same child process as in the daemon. Fresh UIDs each run: these are
 * trial objects, never the ones a gateway delivered. */
static gboolean
write_results (const Options *o, const char *folder)
{
  g_autofree char *output = g_build_filename (folder, "results", NULL);
  g_autofree char *log = g_build_filename (folder, "results.log", NULL);
  g_autofree char *seed = g_uuid_string_random ();
  pr_job_folder_remove (output);
  g_unlink (log);
  const char *argv[] = { "/proc/self/exe", PR_RESULT_BUILD_SUBCOMMAND, folder, output, seed, NULL };
  PrRunSpec spec = { 0 };
  spec.argv = argv;
  spec.working_dir = folder;
  spec.log_path = log;
  spec.timeout_s = 600;
  spec.memory_limit_mb = 4096;
  PrRunOutcome outcome;
  g_autoptr (GError) error = NULL;
  if (!pr_run_sync (&spec, NULL, NULL, &outcome, NULL, &error))
    {
      g_printerr ("preread analyze: cannot make the result objects: %s\n", error->message);
      return FALSE;
    }
  g_autofree char *tail = pr_run_log_tail (log);
  if (outcome.end != PR_RUN_EXITED || outcome.exit_status != 0)
    {
      g_autofree char *how = pr_run_outcome_describe (&outcome, &spec);
      g_printerr ("preread analyze: making the result objects %s%s%s\n", how, tail ? ": " : "", tail ? tail : "");
      return FALSE;
    }
  g_autoptr (GDir) dir = g_dir_open (output, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".dcm"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) compare_names);
  g_ptr_array_add (names, NULL);
  g_autofree char *list = g_strjoinv (" ", (char **) names->pdata);
  if (!o->quiet)
    g_printerr ("preread analyze: result objects in %s: %s%s%s\n", output, list, tail ? " (" : "",
                tail ? "see results.log" : "");
  if (!o->quiet && tail)
    g_printerr ("preread analyze: %s\n", tail);
  return TRUE;
}

/* Runs the analyzer on one study in @folder. Returns the exit status:
 * 0 done, 3 declined, 1 anything else. */
static int
analyze_study (const Options *o, const PrStudyFacts *study, const char *folder)
{
  g_autoptr (PrJobDescription) job = describe_job (o, study, folder);
  if (job == NULL)
    return 3;
  g_autoptr (GError) error = NULL;
  g_autofree char *job_file = g_build_filename (folder, "job.json", NULL);
  g_autofree char *log_file = g_build_filename (folder, "analyzer.log", NULL);
  g_autofree char *text = pr_job_description_to_json (job);
  if (g_mkdir_with_parents (job->output_dir, 0700) != 0 || !g_file_set_contents (job_file, text, -1, &error))
    {
      g_printerr ("preread analyze: cannot write the job folder %s: %s\n", folder,
                  error ? error->message : g_strerror (errno));
      return 1;
    }
  g_unlink (job->findings_file);
  g_unlink (log_file);
  g_auto (GStrv) argv = pr_analyzer_argv (o->analyzer, folder, &error);
  if (argv == NULL)
    {
      g_printerr ("preread analyze: %s\n", error->message);
      return 1;
    }
  PrRunSpec spec = pr_analyzer_run_spec (o->analyzer, (const char *const *) argv, folder, log_file);
  PrRunOutcome outcome;
  if (!pr_run_sync (&spec, on_progress, (gpointer) o, &outcome, NULL, &error))
    {
      g_printerr ("preread analyze: cannot start %s: %s\n", argv[0], error->message);
      return 1;
    }
  if (o->verbose)
    print_log (log_file);
  g_autofree char *how = pr_run_outcome_describe (&outcome, &spec);
  g_autofree char *peak = g_format_size (outcome.peak_memory_kib * 1024);
  if (outcome.end != PR_RUN_EXITED || outcome.exit_status != 0)
    {
      g_autofree char *tail = pr_run_log_tail (log_file);
      g_printerr ("preread analyze: %s %s after %.1f s (peak memory %s)%s%s\n", o->analyzer->name, how,
                  outcome.duration_us / 1e6, peak, tail ? ": " : "", tail ? tail : "");
      if (!o->verbose)
        g_printerr ("preread analyze: its log: %s\n", log_file);
      return 1;
    }
  g_autoptr (PrFindings) findings = pr_findings_read (job->findings_file, job, &error);
  if (findings == NULL)
    {
      g_printerr ("preread analyze: %s: %s\n", o->analyzer->name, error->message);
      return 1;
    }
  printf ("%s%s", findings->json, g_str_has_suffix (findings->json, "\n") ? "" : "\n");
  fflush (stdout);
  static const char *const outcomes[] = { "done", "declined", "failed" };
  g_printerr ("preread analyze: %s %s study %s in %.1f s (peak memory %s): %u finding(s), priority %s%s%s%s%s\n",
              o->analyzer->name, outcomes[findings->status], study->study_uid, outcome.duration_us / 1e6, peak,
              findings->n_findings, findings->priority, findings->summary ? ": " : "",
              findings->summary ? findings->summary : "", findings->message ? ": " : "",
              findings->message ? findings->message : "");
  if (findings->status == PR_FINDINGS_DONE && o->output != NULL && !write_results (o, folder))
    return 1;
  return findings->status == PR_FINDINGS_DONE ? 0 : findings->status == PR_FINDINGS_DECLINED ? 3 : 1;
}

static int
analyze_files (Options *o, char **paths)
{
  guint skipped = 0;
  g_autoptr (GPtrArray) studies = pr_study_facts_from_files ((const char *const *) paths, &skipped);
  if (skipped > 0)
    g_printerr ("preread analyze: %u file(s) skipped: not readable DICOM with Study and Series Instance UIDs\n",
                skipped);
  if (studies->len == 0)
    {
      g_printerr ("preread analyze: no DICOM studies found\n");
      return 1;
    }
  int worst = 0;
  for (guint i = 0; i < studies->len; i++)
    {
      g_autofree char *folder = NULL;
      g_autoptr (GError) error = NULL;
      if (o->output == NULL)
        folder = g_dir_make_tmp ("preread-analyze-XXXXXX", &error);
      else if (studies->len == 1)
        folder = g_canonicalize_filename (o->output, NULL);
      else
        {
          /* Absolute: the analyzer runs with the job folder as its working directory. */
          g_autofree char *name = g_strdup_printf ("study-%u", i + 1);
          g_autofree char *relative = g_build_filename (o->output, name, NULL);
          folder = g_canonicalize_filename (relative, NULL);
        }
      if (folder == NULL)
        {
          g_printerr ("preread analyze: %s\n", error->message);
          return 1;
        }
      int status = analyze_study (o, studies->pdata[i], folder);
      /* 1 (failed) outranks 3 (declined) outranks 0 (done). */
      if (status == 1 || (status == 3 && worst == 0))
        worst = status;
      if (o->output == NULL)
        pr_job_folder_remove (folder);
      else if (!o->quiet)
        g_printerr ("preread analyze: job folder kept in %s\n", folder);
    }
  return worst;
}

/* An analyzer the configuration does not name: a module (by name or path)
 * or a program (an executable path). */
static PrAnalyzerConfig *
ad_hoc_analyzer (const char *name_or_path, GError **error)
{
  PrAnalyzerConfig *a = g_new0 (PrAnalyzerConfig, 1);
  a->parameters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  a->timeout_s = 300;
  a->memory_limit_mb = 4096;
  a->concurrency = 1;
  a->max_attempts = 1;
  gboolean is_path = strchr (name_or_path, '/') != NULL;
  if (is_path && !g_str_has_suffix (name_or_path, ".so") && g_file_test (name_or_path, G_FILE_TEST_IS_EXECUTABLE) &&
      !g_file_test (name_or_path, G_FILE_TEST_IS_DIR))
    {
      a->kind = PR_ANALYZER_PROGRAM;
      a->location = g_canonicalize_filename (name_or_path, NULL);
      a->name = g_path_get_basename (name_or_path);
      return a;
    }
  a->kind = PR_ANALYZER_MODULE;
  a->location = pr_module_resolve (name_or_path);
  if (a->location == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   is_path ? "%s: no such module or program"
                           : "no analyzer \"%s\" in the configuration, and no module %s.so in $PREREAD_ANALYZER_PATH "
                             "or %s",
                   name_or_path, name_or_path, pr_module_installed_folder ());
      pr_analyzer_config_free (a);
      return NULL;
    }
  g_autofree char *base = g_path_get_basename (a->location);
  a->name = g_strndup (base, strlen (base) - (g_str_has_suffix (base, ".so") ? 3 : 0));
  return a;
}

int
pr_command_analyze (int argc, char **argv)
{
  g_autofree char *analyzer = NULL, *config_path = NULL, *output = NULL, *route = NULL;
  g_auto (GStrv) parameters = NULL, paths = NULL;
  gboolean list = FALSE, verbose = FALSE, quiet = FALSE;
  int timeout = 0, memory = 0;
  GOptionEntry entries[] = {
    { "analyzer", 'a', 0, G_OPTION_ARG_STRING, &analyzer,
      "The analyzer: a name from the configuration, an installed module's name, or a module or program path", "NAME" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default: the embedded one)", "FILE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Keep the job folder (job.json, output/, analyzer.log) here",
      "DIR" },
    { "route", 'r', 0, G_OPTION_ARG_STRING, &route, "Give the analyzer the series and parameters this route would",
      "ROUTE" },
    { "param", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &parameters, "Set a parameter (repeatable)", "NAME=VALUE" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Wall-clock limit in seconds (default: the analyzer's, or 300)",
      "S" },
    { "memory-limit-mb", 0, 0, G_OPTION_ARG_INT, &memory, "Address-space limit (default: the analyzer's, or 4096)",
      "MB" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print the analyzer's log", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Do not print progress", NULL },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list, "List the analyzers found, with version, ABI and state", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &paths, NULL, "PATH..." },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("--analyzer NAME PATH... | --list");
  g_option_context_set_summary (
    context, "Runs one analyzer on local DICOM files (folders are read recursively), without\n"
             "a daemon, exactly as the gateway would run it: same job folder, same isolated\n"
             "runner, same limits, same checks. Prints the findings document (JSON) on\n"
             "stdout; progress and the outcome go to stderr.\n\n"
             "Exit status: 0 done, 3 declined (or the route does not take the study),\n"
             "1 failed (crash, timeout, invalid findings...), 2 usage.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread analyze: %s\n", error->message);
      return 2;
    }
  g_autoptr (PrConfig) config = config_path ? pr_config_load_file (config_path, &error) : pr_config_load_default ();
  if (config == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  if (list)
    return pr_analyzer_catalog_print (config) ? 0 : 1;

  if (analyzer == NULL || paths == NULL || paths[0] == NULL)
    {
      g_printerr ("preread analyze: give --analyzer NAME and DICOM files or folders (or --list)\n");
      return 2;
    }
  for (char **p = parameters; p && *p; p++)
    if (strchr (*p, '=') == NULL || **p == '=')
      {
        g_printerr ("preread analyze: --param wants NAME=VALUE, not \"%s\"\n", *p);
        return 2;
      }
  for (char **p = paths; *p; p++)
    if (!g_file_test (*p, G_FILE_TEST_EXISTS))
      {
        g_printerr ("preread analyze: %s: no such file or folder\n", *p);
        return 2;
      }
  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread analyze: %s\n", error->message);
      return 1;
    }

  Options o = { NULL, NULL, parameters, output, verbose, quiet };
  if (route != NULL && (o.route = pr_config_find_route (config, route)) == NULL)
    {
      g_printerr ("preread analyze: %s has no route \"%s\"\n", config->source, route);
      return 2;
    }
  /* A copy, so that --timeout and --memory-limit-mb can change it. */
  const PrAnalyzerConfig *configured = pr_config_find_analyzer (config, analyzer);
  g_autoptr (PrAnalyzerConfig) chosen =
    configured ? pr_analyzer_config_copy (configured) : ad_hoc_analyzer (analyzer, &error);
  if (chosen == NULL)
    {
      g_printerr ("preread analyze: %s\n", error->message);
      return 2;
    }
  if (timeout > 0)
    chosen->timeout_s = (guint) timeout;
  if (memory > 0)
    chosen->memory_limit_mb = (guint64) memory;
  if (chosen->no_progress_timeout_s > chosen->timeout_s)
    chosen->no_progress_timeout_s = 0;
  o.analyzer = chosen;
  return analyze_files (&o, paths);
}
