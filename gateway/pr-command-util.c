/* pr-command-util.c: index, ids and times for the administrator's commands. */
#include "config.h"

#include "pr-command-util.h"

#include <string.h>

#include "dicom/pr-dicom.h"

#include "conf/pr-config.h"

PrIndex *
pr_command_open_index (const char *storage, const char *config_path, GError **error)
{
  g_autofree char *dir = NULL;
  if (storage != NULL)
    dir = g_strdup (storage);
  else
    {
      g_autoptr (PrConfig) config = config_path ? pr_config_load_file (config_path, error) : pr_config_load_default ();
      if (config == NULL)
        return NULL;
      dir = g_strdup (config->node->storage_dir);
    }
  g_autofree char *db = g_build_filename (dir, "index.sqlite", NULL);
  /* Opening would create an empty index: a typo must not look like "nothing to do". */
  if (!g_file_test (db, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no gateway data in %s (give --storage or --config)", dir);
      return NULL;
    }
  return pr_index_open (db, error);
}

gboolean
pr_command_parse_id (const char *text, gint64 *id)
{
  char *end = NULL;
  gint64 value = g_ascii_strtoll (text ? text : "", &end, 10);
  if (text == NULL || end == text || *end != '\0' || value <= 0)
    return FALSE;
  *id = value;
  return TRUE;
}

char *
pr_command_format_time (gint64 us)
{
  if (us <= 0)
    return g_strdup ("-");
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return g_date_time_format (t, "%Y-%m-%d %H:%M:%S");
}

/* Parses AET@HOST:PORT. The AE title may itself contain '@', the host
 * cannot, so the last '@' separates them; the last ':' starts the port. */
gboolean
pr_command_parse_target (const char *target, char **aet, char **host, guint16 *port)
{
  const char *at = strrchr (target, '@');
  const char *colon = strrchr (target, ':');
  if (at == NULL || colon == NULL || colon < at || at == target || colon == at + 1)
    return FALSE;
  char *end = NULL;
  guint64 p = g_ascii_strtoull (colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || p == 0 || p > 65535)
    return FALSE;
  *aet = g_strndup (target, (gsize) (at - target));
  *host = g_strndup (at + 1, (gsize) (colon - at - 1));
  *port = (guint16) p;
  return pr_dicom_ae_title_is_valid (*aet);
}
