/* pr-command-serve.c: `preread serve` options. */
#include "config.h"

#include "pr-commands.h"

#include "conf/pr-node-config.h"
#include "dicom/pr-dicom.h"
#include "pr-daemon.h"
#include "pr-log.h"

static void
replace_string (char **field, const char *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

int
pr_command_serve (int argc, char **argv)
{
  g_autoptr (PrNodeConfig) config = pr_node_config_new_default ();
  g_autofree char *storage = NULL, *bind = NULL, *aet = NULL;
  int port = -1, max_associations = -1, quiet = -1, acse_timeout = -1, idle_timeout = -1;
  gint64 reserve_mb = -1;
  g_auto (GStrv) allowed = NULL;
  gboolean any_called = FALSE, verbose = FALSE;

  GOptionEntry entries[] = {
    { "storage", 0, 0, G_OPTION_ARG_FILENAME, &storage, "Storage folder (default: $XDG_DATA_HOME/preread)", "DIR" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "DICOM port (default: 11112; 0 picks a free one)", "N" },
    { "bind", 0, 0, G_OPTION_ARG_STRING, &bind, "Address to listen on (default: 127.0.0.1)", "ADDR" },
    { "aet", 0, 0, G_OPTION_ARG_STRING, &aet, "Our AE title (default: PREREAD)", "AET" },
    { "max-associations", 0, 0, G_OPTION_ARG_INT, &max_associations, "Concurrent associations (default: 32)", "N" },
    { "quiet-period", 0, 0, G_OPTION_ARG_INT, &quiet, "Seconds without instances before a study is complete (default: 30)", "S" },
    { "reserve-mb", 0, 0, G_OPTION_ARG_INT64, &reserve_mb, "Refuse C-STORE below this much free disk (default: 1024)", "MB" },
    { "acse-timeout", 0, 0, G_OPTION_ARG_INT, &acse_timeout, "Seconds a peer has to send its association request (default: 30)", "S" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout, "Seconds an association may stay silent (default: 60)", "S" },
    { "allow-calling-aet", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed, "Accept only this calling AE title (repeatable)", "AET" },
    { "any-called-ae", 0, 0, G_OPTION_ARG_NONE, &any_called, "Accept requests addressed to any AE title", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- run the gateway");
  g_option_context_set_summary (context, "Receives studies over DICOM (C-ECHO, C-STORE) into the storage folder.\n"
                                         "Without options it runs on its embedded default: AE PREREAD on\n"
                                         "127.0.0.1:11112.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread serve: %s\n", error->message);
      return 2;
    }
  pr_log_init (verbose || g_getenv ("PREREAD_DEBUG") != NULL);

  if (storage != NULL)
    replace_string (&config->storage_dir, storage);
  if (bind != NULL)
    replace_string (&config->bind_address, bind);
  if (aet != NULL)
    replace_string (&config->ae_title, aet);
  if (port >= 0)
    {
      if (port > 65535)
        {
          g_printerr ("preread serve: --port must be 0..65535\n");
          return 2;
        }
      config->port = (guint16) port;
    }
  if (max_associations >= 0)
    config->max_associations = (guint) max_associations;
  if (quiet >= 0)
    config->quiet_period_s = (guint) quiet;
  if (acse_timeout >= 0)
    config->acse_timeout_s = (guint) acse_timeout;
  if (idle_timeout >= 0)
    config->dimse_timeout_s = (guint) idle_timeout;
  if (reserve_mb >= 0)
    config->free_space_reserve_mb = (guint64) reserve_mb;
  if (allowed != NULL)
    {
      g_strfreev (config->allowed_calling_aes);
      config->allowed_calling_aes = g_steal_pointer (&allowed);
    }
  if (any_called)
    config->check_called_ae = FALSE;

  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread serve: %s\n", error->message);
      return 1;
    }
  g_autoptr (PrDaemon) daemon = pr_daemon_new (config, &error);
  if (daemon == NULL)
    {
      g_printerr ("preread serve: %s\n", error->message);
      return 1;
    }
  return pr_daemon_run (daemon);
}
