/* pr-hl7-deliver.c: a batch of HL7 messages to one MLLP peer, each settled by its ACK. */
#include "config.h"

#include "pr-hl7-deliver.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "pr-hl7-ack.h"
#include "pr-hl7-message.h"
#include "pr-mllp.h"

static void G_GNUC_PRINTF (1, 2)
report (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *line = g_strdup_vprintf (format, args);
  va_end (args);
  /* One line per write, flushed: a kill right after loses no report. */
  printf ("%s\n", line);
  fflush (stdout);
}

/* The message file, checked to be the message the item stands for. */
static char *
load_message (const char *path, const char *control_id, gsize *length, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > PR_HL7_MAX_MESSAGE_BYTES)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "the message file is missing, or not a file of at most %d MB",
                   PR_HL7_MAX_MESSAGE_BYTES >> 20);
      return NULL;
    }
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, length, error))
    return NULL;
  g_autofree char *in_file = pr_hl7_message_control_id (text);
  if (g_strcmp0 (in_file, control_id) != 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "the message file is not message %s (its MSH-10 says %s)", control_id,
                   in_file ? in_file : "nothing");
      return NULL;
    }
  return g_steal_pointer (&text);
}

int
pr_hl7_deliver_batch (JsonObject *batch)
{
  const char *host = json_object_get_string_member_with_default (batch, "host", "127.0.0.1");
  guint16 port = (guint16) json_object_get_int_member_with_default (batch, "port", 2575);
  guint connect_timeout = (guint) json_object_get_int_member_with_default (batch, "connect_timeout", 10);
  guint ack_timeout = (guint) json_object_get_int_member_with_default (batch, "ack_timeout", 30);
  JsonArray *items = json_object_has_member (batch, "items") ? json_object_get_array_member (batch, "items") : NULL;
  g_autoptr (PrMllpClient) client = pr_mllp_client_new (host, port, connect_timeout, ack_timeout);
  /* Set when the peer is unreachable or mute: the rest share that fate untried. */
  g_autofree char *given_up = NULL;

  for (guint i = 0; items && i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      gint64 id = json_object_get_int_member_with_default (item, "id", 0);
      const char *path = json_object_get_string_member_with_default (item, "path", "");
      const char *control_id = json_object_get_string_member_with_default (item, "control_id", "");
      if (given_up != NULL)
        {
          report ("fail %" G_GINT64_FORMAT " transient - not tried: %s", id, given_up);
          continue;
        }
      g_autoptr (GError) error = NULL;
      gsize length = 0;
      g_autofree char *message = load_message (path, control_id, &length, &error);
      if (message == NULL)
        {
          /* Gone or not ours: waiting will not bring it back. */
          report ("fail %" G_GINT64_FORMAT " permanent - %s", id, error->message);
          continue;
        }
      g_autoptr (GBytes) answer = pr_mllp_client_exchange (client, message, length, &error);
      if (answer == NULL)
        {
          if (pr_mllp_client_failed_to_connect (client) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            given_up = g_strdup (error->message);
          report ("fail %" G_GINT64_FORMAT " transient - %s", id, error->message);
          continue;
        }
      gsize answer_length = 0;
      const char *answer_data = g_bytes_get_data (answer, &answer_length);
      g_autoptr (PrHl7Ack) ack = pr_hl7_ack_parse (answer_data, answer_length, &error);
      if (ack == NULL)
        {
          report ("fail %" G_GINT64_FORMAT " transient - %s:%u answered message %s with no usable ACK: %s", id, host,
                  port, control_id, error->message);
          continue;
        }
      if (strcmp (ack->control_id, control_id) != 0)
        {
          /* An answer to another message: the peer (or something in
           * between) is confused; this one is not known to be taken. */
          g_autofree char *theirs = g_utf8_make_valid (ack->control_id, 64);
          report ("fail %" G_GINT64_FORMAT " transient - %s:%u answered message %s with an ACK for control ID %s", id,
                  host, port, control_id, g_strcanon (theirs, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS ".-_", '?'));
          continue;
        }
      const char *text = ack->text ? ack->text : "no reason given";
      switch (ack->outcome)
        {
        case PR_HL7_ACK_ACCEPTED:
          report ("ok %" G_GINT64_FORMAT " -", id);
          break;
        case PR_HL7_ACK_ERROR:
          report ("fail %" G_GINT64_FORMAT " transient - HL7 ACK %s (application error) for %s: %s", id, ack->code,
                  control_id, text);
          break;
        case PR_HL7_ACK_REJECTED:
        default:
          report ("fail %" G_GINT64_FORMAT " permanent - HL7 ACK %s (rejected) for %s: %s", id, ack->code, control_id,
                  text);
          break;
        }
    }
  return 0;
}
