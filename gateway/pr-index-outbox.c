/* pr-index-outbox.c: the outbox's state transitions, each guarded by the state it leaves. */
#include "config.h"

#include "pr-outbox-item.h"

#include "pr-index-private.h"

void
pr_outbox_item_free (PrOutboxItem *item)
{
  if (item == NULL)
    return;
  g_free (item->kind);
  g_free (item->result_kind);
  g_free (item->route);
  g_free (item->peer);
  g_free (item->sop_instance_uid);
  g_free (item->path);
  g_free (item->state);
  g_free (item->last_error);
  g_free (item);
}

/* The mark pr_index_supersede_results() leaves on an item being sent: when
 * that attempt fails, the item is cancelled, not retried, since the job's
 * rebuild removed its file. */
#define SUPERSEDED "'superseded: the job ran again'"

#define ITEM_COLUMNS                                                                                          \
  "id, kind, result_kind, study_id, coalesce (job_id, 0), route, peer, sop_instance_uid, path, state,"       \
  " attempts, priority, next_attempt_at, created_at, CASE WHEN retry_from > 0 THEN retry_from ELSE created_at END," \
  " coalesce (sent_at, 0), last_error, coalesce (dimse_status, -1)"

static PrOutboxItem *
item_from_row (sqlite3_stmt *stmt)
{
  PrOutboxItem *item = g_new0 (PrOutboxItem, 1);
  item->id = sqlite3_column_int64 (stmt, 0);
  item->kind = pr_index_column_text (stmt, 1);
  item->result_kind = pr_index_column_text (stmt, 2);
  item->study_id = sqlite3_column_int64 (stmt, 3);
  item->job_id = sqlite3_column_int64 (stmt, 4);
  item->route = pr_index_column_text (stmt, 5);
  item->peer = pr_index_column_text (stmt, 6);
  item->sop_instance_uid = pr_index_column_text (stmt, 7);
  item->path = pr_index_column_text (stmt, 8);
  item->state = pr_index_column_text (stmt, 9);
  item->attempts = sqlite3_column_int (stmt, 10);
  item->priority = sqlite3_column_int (stmt, 11);
  item->next_attempt_at_us = sqlite3_column_int64 (stmt, 12);
  item->created_at_us = sqlite3_column_int64 (stmt, 13);
  item->retry_from_us = sqlite3_column_int64 (stmt, 14);
  item->sent_at_us = sqlite3_column_int64 (stmt, 15);
  item->last_error = pr_index_column_text (stmt, 16);
  item->dimse_status = sqlite3_column_int (stmt, 17);
  return item;
}

static GPtrArray *
collect_items (PrIndex *index, sqlite3_stmt *stmt, GError **error)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_outbox_item_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (items, item_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "reading the outbox");
      return NULL;
    }
  return g_steal_pointer (&items);
}

GPtrArray *
pr_index_list_outbox (PrIndex *index, const char *state, const char *peer, guint limit, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "SELECT " ITEM_COLUMNS " FROM outbox"
                                                " WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR peer = ?2)"
                                                " ORDER BY id DESC LIMIT ?3",
                                                error);
  if (stmt == NULL)
    return NULL;
  pr_index_bind_text (stmt, 1, state);
  pr_index_bind_text (stmt, 2, peer);
  sqlite3_bind_int64 (stmt, 3, limit ? (gint64) limit : -1);
  return collect_items (index, stmt, error);
}

GPtrArray *
pr_index_outbox_due_peers (PrIndex *index, gint64 now_us, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "SELECT DISTINCT peer FROM outbox WHERE state = 'pending'"
                                                " AND peer IS NOT NULL AND next_attempt_at <= ?",
                                                error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, now_us);
  g_autoptr (GPtrArray) peers = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (peers, pr_index_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "listing peers with due deliveries");
      return NULL;
    }
  return g_steal_pointer (&peers);
}

static int
compare_urgency (gconstpointer a, gconstpointer b)
{
  const PrOutboxItem *x = *(const PrOutboxItem *const *) a, *y = *(const PrOutboxItem *const *) b;
  if (x->priority != y->priority)
    return x->priority > y->priority ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

GPtrArray *
pr_index_claim_outbox (PrIndex *index, const char *peer, gint64 now_us, guint limit, GError **error)
{
  /* One statement, so that two claims can never take the same item. */
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET state = 'sending', attempts = attempts + 1"
                                                " WHERE id IN (SELECT id FROM outbox WHERE state = 'pending'"
                                                "   AND peer = ?1 AND next_attempt_at <= ?2"
                                                "   ORDER BY priority DESC, id LIMIT ?3)"
                                                " RETURNING " ITEM_COLUMNS,
                                                error);
  if (stmt == NULL)
    return NULL;
  pr_index_bind_text (stmt, 1, peer);
  sqlite3_bind_int64 (stmt, 2, now_us);
  sqlite3_bind_int64 (stmt, 3, limit);
  GPtrArray *items = collect_items (index, stmt, error);
  /* RETURNING promises no order: most urgent first again. */
  if (items != NULL)
    g_ptr_array_sort (items, compare_urgency);
  return items;
}

/* Runs an UPDATE of one item that must leave "sending". */
static gboolean
settle (PrIndex *index, sqlite3_stmt *stmt, gint64 id, const char *what, GError **error)
{
  if (!pr_index_step_done (index, stmt, error, what))
    return FALSE;
  if (sqlite3_changes (index->db) == 0)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "outbox item %" G_GINT64_FORMAT
                   " was not being sent", id);
      return FALSE;
    }
  return TRUE;
}

gboolean
pr_index_outbox_sent (PrIndex *index, gint64 id, int dimse_status, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET state = 'sent', sent_at = ?2, dimse_status = nullif (?3, -1),"
                                                " last_error = NULL WHERE id = ?1 AND state = 'sending'",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, g_get_real_time ());
  sqlite3_bind_int (stmt, 3, dimse_status);
  return settle (index, stmt, id, "recording a delivery", error);
}

gboolean
pr_index_outbox_later (PrIndex *index, gint64 id, gint64 next_attempt_us, const char *why, int dimse_status,
                       GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET next_attempt_at = ?2,"
                                                " state = CASE WHEN last_error IS " SUPERSEDED
                                                "   THEN 'cancelled' ELSE 'pending' END,"
                                                " last_error = CASE WHEN last_error IS " SUPERSEDED
                                                "   THEN last_error ELSE ?3 END,"
                                                " dimse_status = nullif (?4, -1)"
                                                " WHERE id = ?1 AND state = 'sending'",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, next_attempt_us);
  pr_index_bind_text (stmt, 3, why);
  sqlite3_bind_int (stmt, 4, dimse_status);
  return settle (index, stmt, id, "scheduling a retry", error);
}

gboolean
pr_index_outbox_dead (PrIndex *index, gint64 id, const char *why, int dimse_status, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET"
                                                " state = CASE WHEN state = 'sending' AND last_error IS " SUPERSEDED
                                                "   THEN 'cancelled' ELSE 'dead' END,"
                                                " last_error = CASE WHEN state = 'sending' AND last_error IS "
                                                SUPERSEDED " THEN last_error ELSE ?2 END,"
                                                " dimse_status = nullif (?3, -1)"
                                                " WHERE id = ?1 AND state IN ('sending', 'pending')",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  pr_index_bind_text (stmt, 2, why);
  sqlite3_bind_int (stmt, 3, dimse_status);
  return settle (index, stmt, id, "recording a dead letter", error);
}

guint
pr_index_outbox_requeue_sending (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET next_attempt_at = 0,"
                                                " state = CASE WHEN last_error IS " SUPERSEDED
                                                "   THEN 'cancelled' ELSE 'pending' END,"
                                                " last_error = CASE WHEN last_error IS " SUPERSEDED
                                                "   THEN last_error ELSE 'interrupted by a restart of the gateway' END"
                                                " WHERE state = 'sending'",
                                                error);
  if (stmt == NULL || !pr_index_step_done (index, stmt, error, "requeueing interrupted deliveries"))
    return 0;
  return (guint) sqlite3_changes (index->db);
}

guint
pr_index_outbox_retry (PrIndex *index, gint64 id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET state = 'pending', next_attempt_at = 0,"
                                                " attempts = 0, retry_from = ?2,"
                                                " last_error = 'retried by an administrator'"
                                                " WHERE (?1 = 0 AND state = 'dead')"
                                                "    OR (id = ?1 AND state IN ('dead', 'pending'))",
                                                error);
  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, g_get_real_time ());
  if (!pr_index_step_done (index, stmt, error, "retrying deliveries"))
    return 0;
  return (guint) sqlite3_changes (index->db);
}

gboolean
pr_index_outbox_drop (PrIndex *index, gint64 id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE outbox SET state = 'cancelled',"
                                                " last_error = 'dropped by an administrator'"
                                                " WHERE id = ? AND state IN ('pending', 'dead')",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  if (!pr_index_step_done (index, stmt, error, "dropping a delivery"))
    return FALSE;
  if (sqlite3_changes (index->db) == 0)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND,
                   "outbox item %" G_GINT64_FORMAT " is not pending or dead", id);
      return FALSE;
    }
  return TRUE;
}

gint64
pr_index_outbox_count (PrIndex *index, const char *state, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT count(*) FROM outbox WHERE state = ?", error);
  if (stmt == NULL)
    return -1;
  pr_index_bind_text (stmt, 1, state);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pr_index_fail (index, error, "counting the outbox");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}
