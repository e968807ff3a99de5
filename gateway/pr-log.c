/* pr-log.c: structured GLib log writer with a per-process context tag. */
#include "config.h"

#include "pr-log.h"

#include <stdio.h>
#include <unistd.h>

static gboolean log_verbose;
static char *log_context;

static const char *
level_name (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR: return "ERROR";
    case G_LOG_LEVEL_CRITICAL: return "CRITICAL";
    case G_LOG_LEVEL_WARNING: return "WARNING";
    case G_LOG_LEVEL_MESSAGE: return "NOTICE";
    case G_LOG_LEVEL_INFO: return "INFO";
    case G_LOG_LEVEL_DEBUG: return "DEBUG";
    default: return "LOG";
    }
}

static GLogWriterOutput
write_line (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *domain = NULL, *message = NULL;
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !log_verbose &&
      g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;

  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  int ms = g_date_time_get_microsecond (now) / 1000;

  /* One fprintf per line so lines from concurrent processes do not interleave. */
  fprintf (stderr, "%s.%03dZ %-7s %s: %s%s%s%s\n", stamp, ms, level_name (level),
           domain ? domain : "preread", log_context ? "[" : "", log_context ? log_context : "",
           log_context ? "] " : "", message ? message : "");
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
pr_log_init (gboolean verbose)
{
  static gsize installed = 0;
  log_verbose = verbose;
  /* GLib allows one writer per process; later calls only change verbosity. */
  if (g_once_init_enter (&installed))
    {
      g_log_set_writer_func (write_line, NULL, NULL);
      g_once_init_leave (&installed, 1);
    }
}

void
pr_log_set_context (const char *context)
{
  g_free (log_context);
  log_context = g_strdup (context);
}
