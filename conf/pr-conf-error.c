/* pr-conf-error.c */
#include "config.h"

#include "pr-conf-error.h"

G_DEFINE_QUARK (preread-conf-error-quark, pr_conf_error)

gboolean
pr_conf_fail (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, PR_CONF_ERROR, PR_CONF_ERROR_INVALID, message);
  g_free (message);
  return FALSE;
}
