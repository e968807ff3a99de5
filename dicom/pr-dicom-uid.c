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
