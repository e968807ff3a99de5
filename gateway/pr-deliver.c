/* pr-deliver.c: the delivery child: send a batch, report each item. */
#include "config.h"

#include "pr-deliver.h"

#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-store-client.h"
#include "pr-hl7-deliver.h"

gboolean
pr_deliver_status_is_transient (guint16 status)
{
  return (status & 0xff00) == 0xa700 || status == 0x0110 || status == 0xfe00;
}

const char *
pr_deliver_status_text (guint16 status)
{
  if ((status & 0xff00) == 0xa700)
    return "refused: out of resources";
  if ((status & 0xff00) == 0xa900)
    return "error: data set does not match SOP class";
  if ((status & 0xf000) == 0xc000)
    return "error: cannot understand";
  switch (status)
    {
    case 0x0110: return "processing failure";
    case 0x0122: return "refused: SOP class not supported";
    case 0x0124: return "refused: not authorized";
    case 0xfe00: return "cancelled";
    default: return "failure";
    }
}

typedef struct {
  GHashTable *ids;              /* path -> item id (gint64*) */
  GHashTable *reported;         /* item ids already reported */
} Batch;

static void
report_line (Batch *b, gint64 id, const char *line)
{
  g_hash_table_add (b->reported, g_memdup2 (&id, sizeof id));
  /* One line per write, flushed: a kill right after loses no report. */
  printf ("%s\n", line);
  fflush (stdout);
}

static void
report_item (Batch *b, const PrSendItem *item)
{
  gint64 *id = g_hash_table_lookup (b->ids, item->path);
  if (id == NULL)
    return;
  g_autofree char *line = NULL;
  switch (item->outcome)
    {
    case PR_SEND_STORED:
      line = g_strdup_printf ("ok %" G_GINT64_FORMAT " %04x", *id, item->status);
      break;
    case PR_SEND_REFUSED:
      line = g_strdup_printf ("fail %" G_GINT64_FORMAT " %s %04x C-STORE %s (0x%04x)", *id,
                              pr_deliver_status_is_transient (item->status) ? "transient" : "permanent", item->status,
                              pr_deliver_status_text (item->status), item->status);
      break;
    case PR_SEND_UNSENDABLE:
      line = g_strdup_printf ("fail %" G_GINT64_FORMAT " permanent - the peer accepts no way to send %s in %s%s%s", *id,
                              pr_dicom_uid_name (item->sop_class_uid), pr_dicom_uid_name (item->transfer_syntax_uid),
                              item->detail ? ": " : "", item->detail ? item->detail : "");
      break;
    case PR_SEND_INTERRUPTED:
      line = g_strdup_printf ("fail %" G_GINT64_FORMAT " transient - the association broke before the answer", *id);
      break;
    case PR_SEND_PENDING:
    default:
      return;
    }
  report_line (b, *id, line);
}

static void
on_progress (const PrSendItem *item, guint done, guint total, gpointer user_data)
{
  report_item (user_data, item);
}

static gboolean
read_batch (const char *path, PrStoreClientOptions *options, JsonParser *parser, GError **error)
{
  if (!json_parser_load_from_file (parser, path, error))
    return FALSE;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a delivery batch", path);
      return FALSE;
    }
  JsonObject *o = json_node_get_object (root);
  options->calling_ae = json_object_get_string_member_with_default (o, "calling_ae", "PREREAD");
  options->called_ae = json_object_get_string_member_with_default (o, "called_ae", "ANY-SCP");
  options->host = json_object_get_string_member_with_default (o, "host", "127.0.0.1");
  options->port = (guint16) json_object_get_int_member_with_default (o, "port", 104);
  options->tls_ca = json_object_get_string_member_with_default (o, "tls_ca", NULL);
  options->tls_certificate = json_object_get_string_member_with_default (o, "tls_certificate", NULL);
  options->tls_key = json_object_get_string_member_with_default (o, "tls_key", NULL);
  options->tls = options->tls_ca != NULL;
  options->connect_timeout_s = 10;
  options->acse_timeout_s = 30;
  options->dimse_timeout_s = 120;
  /* Results are ours to decompress; forwarded originals go as received
   * unless the peer cannot take that, and then only losslessly. */
  options->decompression = PR_DECOMPRESS_LOSSLESS;
  return TRUE;
}

int
pr_deliver_main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: preread %s BATCH-FILE\n", PR_DELIVER_SUBCOMMAND);
      return 2;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  PrStoreClientOptions options = { 0 };
  /* A peer speaking HL7 over MLLP: its own half (pr-hl7-deliver.h). */
  if (json_parser_load_from_file (parser, argv[1], NULL) && json_parser_get_root (parser) != NULL &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *batch = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (batch, "protocol", "dicom"), PR_HL7_PROTOCOL) == 0)
        return pr_hl7_deliver_batch (batch);
    }
  if (!pr_dicom_init (&error) || !read_batch (argv[1], &options, parser, &error))
    {
      fprintf (stderr, "preread deliver: %s\n", error->message);
      return 1;
    }
  Batch b = { g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free),
              g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL) };
  g_autoptr (PrStoreClient) client = pr_store_client_new (&options);
  JsonArray *items = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "items");
  for (guint i = 0; items && i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      gint64 id = json_object_get_int_member (item, "id");
      const char *path = json_object_get_string_member (item, "path");
      g_autoptr (GError) add_error = NULL;
      if (!pr_store_client_add_file (client, path, &add_error))
        {
          /* Gone or unreadable: the file will not get better by waiting. */
          g_autofree char *line = g_strdup_printf ("fail %" G_GINT64_FORMAT " permanent - %s", id, add_error->message);
          report_line (&b, id, line);
          continue;
        }
      g_hash_table_insert (b.ids, (gpointer) path, g_memdup2 (&id, sizeof id));
    }

  g_autoptr (GError) send_error = NULL;
  if (pr_store_client_get_n_items (client) > 0)
    pr_store_client_send (client, on_progress, &b, &send_error);
  /* What the association failure left unsent shares its fate. */
  gboolean permanent = send_error != NULL && g_error_matches (send_error, PR_DICOM_ERROR, PR_DICOM_ERROR_REJECTED);
  for (guint i = 0; i < pr_store_client_get_n_items (client); i++)
    {
      const PrSendItem *item = pr_store_client_get_item (client, i);
      gint64 *id = g_hash_table_lookup (b.ids, item->path);
      if (id == NULL || g_hash_table_contains (b.reported, id))
        continue;
      if (item->outcome != PR_SEND_PENDING)
        {
          report_item (&b, item);
          continue;
        }
      g_autofree char *line = g_strdup_printf ("fail %" G_GINT64_FORMAT " %s - %s", *id,
                                               permanent ? "permanent" : "transient",
                                               send_error ? send_error->message : "not sent");
      report_line (&b, *id, line);
    }
  g_hash_table_unref (b.ids);
  g_hash_table_unref (b.reported);
  return 0;
}
