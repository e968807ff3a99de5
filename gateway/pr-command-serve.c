/* pr-command-serve.c: `preread serve` options. */
#include "config.h"

#include "pr-commands.h"

#include "conf/pr-config.h"
#include "dicom/pr-dicom.h"
#include "pr-daemon.h"
#include "pr-log.h"
#include "pr-router.h"

int
pr_command_serve (int argc, char **argv)
{
  g_auto (PrNodeOverrides) overrides;
  pr_node_overrides_init (&overrides);
  g_autofree char *config_path = NULL;
  gboolean verbose = FALSE;

  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default: the embedded one; "
      "see preread check-config --print-default)", "FILE" },
    { "storage", 0, 0, G_OPTION_ARG_FILENAME, &overrides.storage_dir, "Storage folder (default: $XDG_DATA_HOME/preread)", "DIR" },
    { "port", 0, 0, G_OPTION_ARG_INT, &overrides.port, "DICOM port (default: 11112; 0 picks a free one)", "N" },
    { "bind", 0, 0, G_OPTION_ARG_STRING, &overrides.bind_address, "Address to listen on (default: 127.0.0.1)", "ADDR" },
    { "aet", 0, 0, G_OPTION_ARG_STRING, &overrides.ae_title, "Our AE title (default: PREREAD)", "AET" },
    { "http", 0, 0, G_OPTION_ARG_STRING, &overrides.http_address,
      "Web UI and REST API address (default: 127.0.0.1:8112; port 0 picks one; off: none)", "ADDR:PORT" },
    { "max-associations", 0, 0, G_OPTION_ARG_INT, &overrides.max_associations, "Concurrent associations (default: 32)", "N" },
    { "quiet-period", 0, 0, G_OPTION_ARG_INT, &overrides.quiet_period_s, "Seconds without instances before a study is complete (default: 30)", "S" },
    { "reserve-mb", 0, 0, G_OPTION_ARG_INT64, &overrides.free_space_reserve_mb, "Refuse C-STORE below this much free disk (default: 1024)", "MB" },
    { "acse-timeout", 0, 0, G_OPTION_ARG_INT, &overrides.acse_timeout_s, "Seconds a peer has to send its association request (default: 30)", "S" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &overrides.idle_timeout_s, "Seconds an association may stay silent (default: 60)", "S" },
    { "allow-calling-aet", 0, 0, G_OPTION_ARG_STRING_ARRAY, &overrides.allowed_calling_aes, "Accept only this calling AE title (repeatable)", "AET" },
    { "any-called-ae", 0, 0, G_OPTION_ARG_NONE, &overrides.any_called_ae, "Accept requests addressed to any AE title", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- run the gateway");
  g_option_context_set_summary (context, "Receives studies over DICOM (C-ECHO, C-STORE), routes complete studies to\n"
                                         "analyzers and keeps everything in the storage folder. Without a\n"
                                         "configuration file it runs on its embedded default: AE PREREAD on\n"
                                         "127.0.0.1:11112. Options given here win over the configuration file,\n"
                                         "also after a reload (SIGHUP).");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread serve: %s\n", error->message);
      return 2;
    }
  pr_log_init (verbose || g_getenv ("PREREAD_DEBUG") != NULL);
  if (overrides.port > 65535)
    {
      g_printerr ("preread serve: --port must be 0..65535\n");
      return 2;
    }

  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread serve: %s\n", error->message);
      return 1;
    }
  g_autoptr (PrConfig) config = pr_router_load_config (config_path, &error);
  if (config == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  pr_node_overrides_apply (&overrides, config->node);

  g_autoptr (PrDaemon) daemon = pr_daemon_new (g_steal_pointer (&config), config_path, &overrides, &error);
  if (daemon == NULL)
    {
      g_printerr ("preread serve: %s\n", error->message);
      return 1;
    }
  return pr_daemon_run (daemon);
}
