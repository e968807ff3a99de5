/* pr-dicom-uid.c: syntax checks for wire identifiers (UIDs, AE titles).
 *
 * Plain C on purpose: these run on untrusted input before anything else
 * touches it, and they are small enough to read in full.
 */
#include "config.h"

#include "pr-dicom.h"

#include <string.h>

gboolean
pr_dicom_uid_is_valid (const char *uid)
{
  if (uid == NULL)
    return FALSE;

  size_t len = strlen (uid);
  if (len == 0 || len > 64)
    return FALSE;

  gboolean previous_was_dot = TRUE; /* forbids a leading dot */
  for (size_t i = 0; i < len; i++)
    {
      char c = uid[i];
      if (c == '.')
        {
          if (previous_was_dot)
            return FALSE;
          previous_was_dot = TRUE;
        }
      else if (c >= '0' && c <= '9')
        previous_was_dot = FALSE;
      else
        return FALSE;
    }
  return !previous_was_dot; /* forbids a trailing dot */
}

gboolean
pr_dicom_uid_is_acceptable (const char *uid)
{
  if (uid == NULL)
    return FALSE;
  size_t len = strlen (uid);
  if (len == 0 || len > 64)
    return FALSE;
  gboolean only_dots = TRUE;
  for (size_t i = 0; i < len; i++)
    {
      char c = uid[i];
      if (!g_ascii_isalnum (c) && c != '.' && c != '_' && c != '-')
        return FALSE;
      if (c != '.')
        only_dots = FALSE;
    }
  return !only_dots;
}

gboolean
pr_dicom_ae_title_is_valid (const char *ae)
{
  if (ae == NULL)
    return FALSE;

  size_t len = strlen (ae);
  if (len == 0 || len > 16)
    return FALSE;

  gboolean all_spaces = TRUE;
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) ae[i];
      if (c < 0x20 || c > 0x7e || c == '\\')
        return FALSE;
      if (c != ' ')
        all_spaces = FALSE;
    }
  return !all_spaces;
}

char *
pr_dicom_uid_derive (const char *seed, const char *part)
{
  /* PS3.5 B.2: a UUID's 128 bits as one decimal component under 2.25. A
   * hash of a stable seed gives the same UID every time the same object is
   * made again (after a crash, say), and so no duplicate at the peer. */
  g_autoptr (GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sha, (const guchar *) seed, -1);
  g_checksum_update (sha, (const guchar *) "\n", 1);
  g_checksum_update (sha, (const guchar *) part, -1);
  guint8 digest[32];
  gsize length = sizeof digest;
  g_checksum_get_digest (sha, digest, &length);
  /* Shape it as a version 4 variant 1 UUID, as the 2.25 arc expects. */
  digest[6] = (guint8) ((digest[6] & 0x0f) | 0x40);
  digest[8] = (guint8) ((digest[8] & 0x3f) | 0x80);
  unsigned __int128 value = 0;
  for (int i = 0; i < 16; i++)
    value = (value << 8) | digest[i];
  char digits[48];
  int n = 0;
  do
    {
      digits[n++] = (char) ('0' + (int) (value % 10));
      value /= 10;
    }
  while (value > 0);
  GString *uid = g_string_new ("2.25.");
  while (n > 0)
    g_string_append_c (uid, digits[--n]);
  return g_string_free (uid, FALSE);
}
