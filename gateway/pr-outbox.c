/* pr-outbox.c: one delivery child per peer, and what its reports mean. */
#include "config.h"

#include "pr-outbox.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "plugin/host/pr-supervisor.h"
#include "pr-deliver.h"
#include "pr-hl7-deliver.h"
#include "pr-outbox-item.h"

#define POLL_INTERVAL_S 2
#define BATCH_SIZE 64
/* A peer that never answers is found out by the child's DIMSE timeouts;
 * this is only the backstop. */
#define DELIVERY_TIMEOUT_S(n) (120 + 10 * (n))
/* MLLP: connecting, and waiting for the one ACK that does not come, at most. */
#define HL7_CONNECT_TIMEOUT_S 10

struct _PrOutbox {
  PrIndex *index;
  char *storage_root;
  const PrConfig *config;
  GHashTable *active;           /* peer name -> Delivery* */
  guint poll_id;
  guint wake_id;
  guint batch_counter;
  gboolean stopping;
};

typedef struct {
  PrOutbox *outbox;
  char *peer;
  GPtrArray *items;             /* PrOutboxItem*, claimed */
  char *batch_file;
  char *log_file;
  PrRun *run;
} Delivery;

static void
delivery_free (Delivery *d)
{
  if (d->batch_file)
    g_unlink (d->batch_file);
  g_free (d->peer);
  g_ptr_array_unref (d->items);
  g_free (d->batch_file);
  g_free (d->log_file);
  g_free (d);
}

gint64
pr_outbox_backoff_us (const PrPeer *peer, int attempts)
{
  double base = peer ? peer->retry_base_s : 30, most = peer ? peer->retry_max_s : 1800;
  double wait = base;
  for (int i = 1; i < attempts && wait < most; i++)
    wait *= 2;
  wait = MIN (wait, most);
  /* +-25 %: gateways that failed together do not all come back together. */
  wait *= 0.75 + 0.5 * g_random_double ();
  return (gint64) (wait * G_USEC_PER_SEC);
}

/* A transient failure: later, or a dead letter when the horizon has passed. */
static void
retry_or_bury (PrOutbox *self, const PrPeer *peer, const PrOutboxItem *item, const char *why, int status)
{
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  gint64 horizon = (gint64) (peer ? peer->give_up_after_s : 2 * 24 * 3600) * G_USEC_PER_SEC;
  gboolean ok;
  if (now - item->retry_from_us >= horizon)
    {
      g_autofree char *final = g_strdup_printf ("gave up after %d attempt(s) over %.1f h: %s", item->attempts,
                                                (now - item->retry_from_us) / 3.6e9, why);
      ok = pr_index_outbox_dead (self->index, item->id, final, status, &error);
      g_warning ("outbox item %" G_GINT64_FORMAT " to %s is a dead letter: %s", item->id, item->peer, final);
    }
  else
    ok = pr_index_outbox_later (self->index, item->id, now + pr_outbox_backoff_us (peer, item->attempts), why,
                                status, &error);
  if (!ok)
    g_warning ("outbox item %" G_GINT64_FORMAT ": %s", item->id, error->message);
}

static void
bury (PrOutbox *self, const PrOutboxItem *item, const char *why, int status)
{
  g_autoptr (GError) error = NULL;
  if (!pr_index_outbox_dead (self->index, item->id, why, status, &error))
    g_warning ("outbox item %" G_GINT64_FORMAT ": %s", item->id, error->message);
  else
    g_warning ("outbox item %" G_GINT64_FORMAT " to %s is a dead letter: %s", item->id, item->peer, why);
}

/* One report line of the child: "ok ID STATUS" or "fail ID CLASS STATUS TEXT". */
static void
apply_line (PrOutbox *self, const PrPeer *peer, GHashTable *by_id, const char *line)
{
  g_auto (GStrv) parts = g_strsplit (line, " ", 5);
  guint n = g_strv_length (parts);
  if (n < 3)
    return;
  gint64 id = g_ascii_strtoll (parts[1], NULL, 10);
  PrOutboxItem *item = g_hash_table_lookup (by_id, &id);
  if (item == NULL)
    return; /* not ours: the child is ours, but trust only ids we gave it */
  gboolean stored = strcmp (parts[0], "ok") == 0;
  const char *status_text = stored ? parts[2] : (n >= 4 ? parts[3] : "-");
  int status = strcmp (status_text, "-") == 0 ? -1 : (int) g_ascii_strtoll (status_text, NULL, 16);
  g_autoptr (GError) error = NULL;
  if (stored)
    {
      if (!pr_index_outbox_sent (self->index, id, status, &error))
        g_warning ("outbox item %" G_GINT64_FORMAT ": %s", id, error->message);
    }
  else if (n >= 4 && strcmp (parts[2], "permanent") == 0)
    bury (self, item, n == 5 ? parts[4] : "refused", status);
  else
    retry_or_bury (self, peer, item, n == 5 ? parts[4] : "failed", status);
  g_hash_table_remove (by_id, &id);
}

static void
on_delivery_done (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  Delivery *d = user_data;
  PrOutbox *self = d->outbox;
  const PrPeer *peer = pr_config_find_peer (self->config, d->peer);
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < d->items->len; i++)
    {
      PrOutboxItem *item = d->items->pdata[i];
      g_hash_table_insert (by_id, &item->id, item);
    }
  g_auto (GStrv) lines = g_strsplit (outcome->output ? outcome->output : "", "\n", -1);
  for (char **line = lines; *line; line++)
    if (**line)
      apply_line (self, peer, by_id, *line);

  /* Items the child never reported: it died, or was stopped. */
  if (g_hash_table_size (by_id) > 0)
    {
      g_autofree char *how = pr_run_outcome_describe (outcome, NULL);
      g_autofree char *tail = pr_run_log_tail (d->log_file);
      g_autofree char *why = g_strdup_printf ("the delivery process %s%s%s", how, tail ? ": " : "", tail ? tail : "");
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, by_id);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (outcome->end == PR_RUN_CANCELLED)
          {
            g_autoptr (GError) error = NULL;
            pr_index_outbox_later (self->index, ((PrOutboxItem *) value)->id, 0, "interrupted by a shutdown", -1,
                                   &error);
          }
        else
          retry_or_bury (self, peer, value, why, -1);
    }
  g_hash_table_remove (self->active, d->peer);
  pr_outbox_wake (self);
}

static char *
write_batch (PrOutbox *self, const PrPeer *peer, GPtrArray *items, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gboolean hl7 = peer->protocol == PR_PEER_HL7_MLLP;
  json_builder_begin_object (b);
  if (hl7)
    {
      json_builder_set_member_name (b, "protocol");
      json_builder_add_string_value (b, PR_HL7_PROTOCOL);
      json_builder_set_member_name (b, "connect_timeout");
      json_builder_add_int_value (b, HL7_CONNECT_TIMEOUT_S);
      json_builder_set_member_name (b, "ack_timeout");
      json_builder_add_int_value (b, peer->ack_timeout_s);
    }
  else
    {
      json_builder_set_member_name (b, "calling_ae");
      json_builder_add_string_value (b, self->config->node->ae_title);
      json_builder_set_member_name (b, "called_ae");
      json_builder_add_string_value (b, peer->ae_title);
      /* DICOM over TLS: the files, never their contents, go to the child. */
      const char *tls_members[] = { "tls_ca", "tls_certificate", "tls_key" };
      const char *tls_values[] = { peer->tls_ca, peer->tls_certificate, peer->tls_key };
      for (gsize i = 0; peer->tls && i < G_N_ELEMENTS (tls_members); i++)
        if (tls_values[i] != NULL)
          {
            json_builder_set_member_name (b, tls_members[i]);
            json_builder_add_string_value (b, tls_values[i]);
          }
    }
  json_builder_set_member_name (b, "host");
  json_builder_add_string_value (b, peer->host);
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, peer->port);
  json_builder_set_member_name (b, "items");
  json_builder_begin_array (b);
  for (guint i = 0; i < items->len; i++)
    {
      const PrOutboxItem *item = items->pdata[i];
      g_autofree char *path = g_build_filename (self->storage_root, item->path, NULL);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, item->id);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, path);
      if (hl7)
        {
          /* The ACK must answer this one (pr-hl7-deliver.h). */
          json_builder_set_member_name (b, "control_id");
          json_builder_add_string_value (b, item->sop_instance_uid);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, FALSE);
  g_autofree char *folder = g_build_filename (self->storage_root, "outbox", NULL);
  g_mkdir_with_parents (folder, 0700);
  g_autofree char *name = g_strdup_printf ("batch-%u.json", ++self->batch_counter);
  char *path = g_build_filename (folder, name, NULL);
  if (!g_file_set_contents (path, text, -1, error))
    {
      g_free (path);
      return NULL;
    }
  return path;
}

static void
deliver_to (PrOutbox *self, const char *peer_name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) items =
    pr_index_claim_outbox (self->index, peer_name, g_get_real_time (), BATCH_SIZE, &error);
  if (items == NULL || items->len == 0)
    {
      if (error != NULL)
        g_warning ("cannot read the outbox: %s", error->message);
      return;
    }
  const PrPeer *peer = pr_config_find_peer (self->config, peer_name);
  const char *refusal = NULL;
  g_autofree char *why = NULL;
  if (peer == NULL)
    why = g_strdup_printf ("peer %s is not configured (any more)", peer_name);
  else if (peer->tls && peer->protocol == PR_PEER_HL7_MLLP)
    refusal = "this build cannot send HL7 over TLS yet; the peer asks for it, and results are never sent in clear "
              "to a peer configured for TLS";
  for (guint i = 0; (why || refusal) && i < items->len; i++)
    {
      if (refusal)
        bury (self, items->pdata[i], refusal, -1);
      else
        retry_or_bury (self, NULL, items->pdata[i], why, -1);
    }
  if (why || refusal)
    return;
  /* A peer redefined by a reload (or a sender whose AE title matched a
   * peer of the other kind) can hold items it cannot take: say so, once. */
  gboolean hl7 = peer->protocol == PR_PEER_HL7_MLLP;
  for (guint i = items->len; i-- > 0;)
    {
      const PrOutboxItem *item = items->pdata[i];
      if ((strcmp (item->kind, "hl7") == 0) == hl7)
        continue;
      g_autofree char *mismatch =
        g_strdup_printf (hl7 ? "peer %s speaks HL7 (protocol hl7-mllp) and cannot take DICOM objects"
                             : "peer %s is a DICOM peer and cannot take HL7 messages",
                         peer_name);
      bury (self, item, mismatch, -1);
      g_ptr_array_remove_index (items, i);
    }
  if (items->len == 0)
    return;

  Delivery *d = g_new0 (Delivery, 1);
  d->outbox = self;
  d->peer = g_strdup (peer_name);
  d->items = g_steal_pointer (&items);
  d->batch_file = write_batch (self, peer, d->items, &error);
  g_autofree char *log_name = g_strdup_printf ("deliver-%s.log", peer_name);
  d->log_file = g_build_filename (self->storage_root, "outbox", log_name, NULL);
  if (d->batch_file != NULL)
    {
      g_unlink (d->log_file);
      const char *argv[] = { "/proc/self/exe", PR_DELIVER_SUBCOMMAND, d->batch_file, NULL };
      PrRunSpec spec = { 0 };
      spec.argv = argv;
      spec.log_path = d->log_file;
      spec.timeout_s = DELIVERY_TIMEOUT_S (d->items->len) + (hl7 ? HL7_CONNECT_TIMEOUT_S + peer->ack_timeout_s : 0);
      spec.memory_limit_mb = 2048;
      spec.capture_output_max = 1024 * 1024;
      d->run = pr_run_start (&spec, NULL, on_delivery_done, d, &error);
    }
  if (d->run == NULL)
    {
      g_autofree char *failure = g_strdup_printf ("cannot start a delivery: %s", error->message);
      for (guint i = 0; i < d->items->len; i++)
        retry_or_bury (self, peer, d->items->pdata[i], failure, -1);
      delivery_free (d);
      return;
    }
  g_hash_table_insert (self->active, d->peer, d);
  g_debug ("delivering %u item(s) to %s", d->items->len, peer_name);
}

static void
deliver_due (PrOutbox *self)
{
  if (self->stopping)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) peers = pr_index_outbox_due_peers (self->index, g_get_real_time (), &error);
  if (peers == NULL)
    {
      g_warning ("cannot read the outbox: %s", error->message);
      return;
    }
  for (guint i = 0; i < peers->len; i++)
    if (!g_hash_table_contains (self->active, peers->pdata[i]))
      deliver_to (self, peers->pdata[i]);
}

static gboolean
on_poll (gpointer user_data)
{
  deliver_due (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_wake (gpointer user_data)
{
  PrOutbox *self = user_data;
  self->wake_id = 0;
  deliver_due (self);
  return G_SOURCE_REMOVE;
}

void
pr_outbox_wake (PrOutbox *self)
{
  if (self->wake_id == 0 && !self->stopping)
    self->wake_id = g_idle_add (on_wake, self);
}

PrOutbox *
pr_outbox_new (PrIndex *index, const char *storage_root, const PrConfig *config)
{
  PrOutbox *self = g_new0 (PrOutbox, 1);
  self->index = index;
  self->storage_root = g_strdup (storage_root);
  self->config = config;
  self->active = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) delivery_free);
  return self;
}

gboolean
pr_outbox_start (PrOutbox *self, GError **error)
{
  g_autoptr (GError) local = NULL;
  guint requeued = pr_index_outbox_requeue_sending (self->index, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (requeued > 0)
    g_message ("%u delivery(ies) interrupted by the last shutdown are pending again", requeued);
  self->poll_id = g_timeout_add_seconds (POLL_INTERVAL_S, on_poll, self);
  pr_outbox_wake (self);
  return TRUE;
}

void
pr_outbox_set_config (PrOutbox *self, const PrConfig *config)
{
  self->config = config;
  pr_outbox_wake (self);
}

guint
pr_outbox_get_n_active (PrOutbox *self)
{
  return g_hash_table_size (self->active);
}

void
pr_outbox_stop (PrOutbox *self)
{
  self->stopping = TRUE;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->active);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    pr_run_cancel (((Delivery *) value)->run);
}

void
pr_outbox_free (PrOutbox *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->poll_id, g_source_remove);
  g_clear_handle_id (&self->wake_id, g_source_remove);
  /* Deliveries still running die with the daemon; their items are
   * "sending" and pending again at the next start. */
  g_hash_table_steal_all (self->active);
  g_hash_table_unref (self->active);
  g_free (self->storage_root);
  g_free (self);
}
