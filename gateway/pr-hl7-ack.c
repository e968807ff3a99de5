/* pr-hl7-ack.c: reading an ACK from a peer we do not control. */
#include "config.h"

#include "pr-hl7-ack.h"

#include <string.h>

#include <gio/gio.h>

#define MAX_TEXT_CHARS 200

void
pr_hl7_ack_free (PrHl7Ack *ack)
{
  if (ack == NULL)
    return;
  g_free (ack->code);
  g_free (ack->control_id);
  g_free (ack->text);
  g_free (ack);
}

/* Peer text goes into last_error and the logs: printable, one line, short. */
static char *
printable (const char *text, char separator)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  for (char *c = valid; *c; c++)
    if ((unsigned char) *c < 0x20 || *c == 0x7f || *c == separator || *c == '^' || *c == '&' || *c == '~')
      *c = ' ';
  g_strstrip (valid);
  if (g_utf8_strlen (valid, -1) > MAX_TEXT_CHARS)
    *g_utf8_offset_to_pointer (valid, MAX_TEXT_CHARS) = '\0';
  return *valid ? g_steal_pointer (&valid) : NULL;
}

static gboolean
classify (const char *code, PrHl7AckClass *outcome)
{
  if (strcmp (code, "AA") == 0 || strcmp (code, "CA") == 0)
    *outcome = PR_HL7_ACK_ACCEPTED;
  else if (strcmp (code, "AE") == 0 || strcmp (code, "CE") == 0)
    *outcome = PR_HL7_ACK_ERROR;
  else if (strcmp (code, "AR") == 0 || strcmp (code, "CR") == 0)
    *outcome = PR_HL7_ACK_REJECTED;
  else
    return FALSE;
  return TRUE;
}

PrHl7Ack *
pr_hl7_ack_parse (const char *message, gsize length, GError **error)
{
  if (length < 8 || memchr (message, '\0', length) != NULL || strncmp (message, "MSH", 3) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the answer is not an HL7 message (no MSH)");
      return NULL;
    }
  char separator = message[3];
  char separators[2] = { separator, '\0' };
  g_autofree char *text = g_strndup (message, length);
  g_auto (GStrv) segments = g_strsplit_set (text, "\r\n", -1);
  g_auto (GStrv) msa = NULL;
  const char *err = NULL;
  for (char **s = segments; *s; s++)
    {
      if (msa == NULL && strncmp (*s, "MSA", 3) == 0 && (*s)[3] == separator)
        msa = g_strsplit (*s, separators, 5);
      else if (err == NULL && strncmp (*s, "ERR", 3) == 0 && (*s)[3] == separator)
        err = *s + 4;
    }
  if (msa == NULL || g_strv_length (msa) < 3)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the answer is not an ACK (no MSA segment with a code and a control ID)");
      return NULL;
    }
  g_autoptr (PrHl7Ack) ack = g_new0 (PrHl7Ack, 1);
  ack->code = printable (msa[1], separator);
  if (ack->code == NULL || !classify (ack->code, &ack->outcome))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the ACK's MSA-1 is \"%s\", not AA, AE, AR, CA, CE or CR",
                   ack->code ? ack->code : "");
      return NULL;
    }
  /* The control ID is compared, not shown: keep it as sent, one field. */
  ack->control_id = g_strdup (msa[2]);
  if (g_strv_length (msa) >= 4 && *msa[3])
    ack->text = printable (msa[3], separator);
  if (ack->text == NULL && err != NULL)
    ack->text = printable (err, separator);
  return g_steal_pointer (&ack);
}
