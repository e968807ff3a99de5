/* pr-main.c: the preread binary's entry point and subcommand dispatch. */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "pr-commands.h"
#include "pr-log.h"
#include "plugin/builtin/pr-test-analyzer.h"
#include "plugin/runner/pr-runner.h"
#include "pr-receiver.h"
#include "pr-deliver.h"
#include "pr-key-image-render.h"
#include "pr-result-build.h"

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "serve", pr_command_serve, "run the gateway: receive studies over DICOM" },
  { "send", pr_command_send, "send DICOM files or folders to a DICOM peer (C-STORE)" },
  { "import-photo", pr_command_import_photo, "wrap JPEG/PNG photos as DICOM and send them to the gateway" },
  { "check-config", pr_command_check_config, "check a configuration file, or print the default" },
  { "route", pr_command_route, "dry run: which routes would take these DICOM files" },
  { "jobs", pr_command_jobs, "list the analysis jobs; retry or cancel one; lift a quarantine" },
  { "analyze", pr_command_analyze, "run one analyzer on local DICOM files, without a daemon" },
  { "outbox", pr_command_outbox, "list deliveries to peers; retry or drop dead letters" },
  { "passwd", pr_command_passwd, "make a web UI account (password hash) or an API token" },
};

static void
print_help (FILE *out)
{
  fprintf (out, "Usage: preread COMMAND [OPTIONS...]\n\n"
                "preread is a DICOM AI gateway: it receives imaging studies, routes them to\n"
                "analyzers and delivers their results as DICOM objects.\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-13s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "  %-13s %s\n  %-13s %s\n\n", "help", "show this help", "--version", "show the version");
  fprintf (out, "Run \"preread COMMAND --help\" for the options of a command.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* Peers hang up at any time; a write to a closed socket must be an error
   * we handle, not a signal that kills the daemon. */
  signal (SIGPIPE, SIG_IGN);
  pr_log_init (g_getenv ("PREREAD_DEBUG") != NULL);

  if (argc < 2)
    {
      print_help (stderr);
      return 2;
    }
  const char *name = argv[1];
  if (strcmp (name, "--version") == 0 || strcmp (name, "version") == 0)
    {
      printf ("preread %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (strcmp (name, "help") == 0 || strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0)
    {
      print_help (stdout);
      return 0;
    }
  if (strcmp (name, PR_RECEIVER_SUBCOMMAND) == 0)
    return pr_receiver_main (argc - 1, argv + 1);
  if (strcmp (name, PR_TEST_ANALYZER_SUBCOMMAND) == 0)
    return pr_test_analyzer_main (argc - 1, argv + 1);
  if (strcmp (name, PR_KEY_IMAGE_RENDER_SUBCOMMAND) == 0)
    return pr_key_image_render_main (argc - 1, argv + 1);
  if (strcmp (name, PR_DELIVER_SUBCOMMAND) == 0)
    return pr_deliver_main (argc - 1, argv + 1);
  if (strcmp (name, PR_RESULT_BUILD_SUBCOMMAND) == 0)
    return pr_result_build_main (argc - 1, argv + 1);
  if (strcmp (name, PR_RUNNER_SUBCOMMAND) == 0)
    return pr_runner_main (argc - 1, argv + 1);
  if (strcmp (name, PR_RUNNER_PROBE_SUBCOMMAND) == 0)
    return pr_runner_probe_main (argc - 1, argv + 1);
  if (strcmp (name, PR_RUNNER_PROGRAM_SUBCOMMAND) == 0)
    return pr_runner_program_main (argc - 1, argv + 1);

  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (name, commands[i].name) == 0)
      {
        /* GOption prints argv[0] in its usage line: make it "preread serve". */
        argv[1] = g_strdup_printf ("preread %s", name);
        return commands[i].run (argc - 1, argv + 1);
      }

  fprintf (stderr, "preread: unknown command \"%s\"\n\n", name);
  print_help (stderr);
  return 2;
}
