/* pr-index.c: opening the index, its schema, and small shared helpers. */
#include "config.h"

#include "pr-index-private.h"
#include "pr-index-schema.h"

G_DEFINE_QUARK (preread-index-error-quark, pr_index_error)

/* Several receiver processes and the daemon write in turn; a writer waits
 * this long for the lock before the C-STORE fails with a processing error. */
#define BUSY_TIMEOUT_MS 15000

gboolean
pr_index_fail (PrIndex *index, GError **error, const char *what)
{
  g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_SQLITE, "%s: %s", what, sqlite3_errmsg (index->db));
  return FALSE;
}

gboolean
pr_index_exec (PrIndex *index, const char *sql, GError **error)
{
  char *message = NULL;
  if (sqlite3_exec (index->db, sql, NULL, NULL, &message) != SQLITE_OK)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_SQLITE, "%s", message ? message : "sqlite3_exec failed");
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

void
pr_index_statement_release (PrStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

PrStmt *
pr_index_statement (PrIndex *index, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (index->statements, sql);
  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }
  if (sqlite3_prepare_v3 (index->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      pr_index_fail (index, error, "preparing a statement failed");
      return NULL;
    }
  g_hash_table_insert (index->statements, (gpointer) sql, stmt);
  return stmt;
}

char *
pr_index_column_text (sqlite3_stmt *stmt, int column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

void
pr_index_bind_text (sqlite3_stmt *stmt, int column, const char *value)
{
  if (value == NULL)
    sqlite3_bind_null (stmt, column);
  else
    sqlite3_bind_text (stmt, column, value, -1, SQLITE_TRANSIENT);
}

gboolean
pr_index_step_done (PrIndex *index, sqlite3_stmt *stmt, GError **error, const char *what)
{
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return pr_index_fail (index, error, what);
  return TRUE;
}

GArray *
pr_index_collect_ids (PrIndex *index, sqlite3_stmt *stmt, const char *what, GError **error)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (ids);
      pr_index_fail (index, error, what);
      return NULL;
    }
  return ids;
}

static gboolean
migrate (PrIndex *index, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  sqlite3_prepare_v2 (index->db, "PRAGMA user_version", -1, &stmt, NULL);
  int version = sqlite3_step (stmt) == SQLITE_ROW ? sqlite3_column_int (stmt, 0) : 0;
  sqlite3_finalize (stmt);

  int latest = (int) G_N_ELEMENTS (pr_index_migrations);
  if (version > latest)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_SCHEMA,
                   "%s has schema version %d; this preread knows up to %d (downgrade?)",
                   index->path, version, latest);
      return FALSE;
    }
  for (int v = version; v < latest; v++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", v + 1);
      if (!pr_index_exec (index, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!pr_index_exec (index, pr_index_migrations[v], error) || !pr_index_exec (index, bump, error))
        {
          pr_index_exec (index, "ROLLBACK", NULL);
          return FALSE;
        }
      if (!pr_index_exec (index, "COMMIT", error))
        return FALSE;
    }
  return TRUE;
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

PrIndex *
pr_index_open (const char *path, GError **error)
{
  g_autoptr (PrIndex) index = g_new0 (PrIndex, 1);
  index->path = g_strdup (path);
  index->statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_statement);

  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2 (path, &index->db, flags, NULL) != SQLITE_OK)
    {
      pr_index_fail (index, error, "cannot open the index");
      return NULL;
    }
  sqlite3_busy_timeout (index->db, BUSY_TIMEOUT_MS);
  if (!pr_index_exec (index,
                      "PRAGMA journal_mode = WAL;"
                      "PRAGMA synchronous = NORMAL;"
                      "PRAGMA foreign_keys = ON;",
                      error) ||
      !migrate (index, error))
    return NULL;
  return g_steal_pointer (&index);
}

void
pr_index_free (PrIndex *index)
{
  if (index == NULL)
    return;
  g_clear_pointer (&index->statements, g_hash_table_unref);
  if (index->db != NULL)
    sqlite3_close_v2 (index->db);
  g_free (index->path);
  g_free (index);
}

gboolean
pr_index_get_meta_int (PrIndex *index, const char *key, gint64 *value, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT value FROM meta WHERE key = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *value = sqlite3_column_int64 (stmt, 0);
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    return pr_index_fail (index, error, "reading meta");
  g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no meta value %s", key);
  return FALSE;
}

gboolean
pr_index_set_meta_int (PrIndex *index, const char *key, gint64 value, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "INSERT INTO meta (key, value) VALUES (?, ?) "
                                                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                           error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, value);
  return pr_index_step_done (index, stmt, error, "writing meta");
}

gint64
pr_index_begin_association (PrIndex *index, const char *peer_address, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "INSERT INTO associations (peer_address, started_at) "
                                                  "VALUES (?, ?)",
                                           error);
  if (stmt == NULL)
    return 0;
  pr_index_bind_text (stmt, 1, peer_address);
  sqlite3_bind_int64 (stmt, 2, g_get_real_time ());
  if (!pr_index_step_done (index, stmt, error, "recording an association"))
    return 0;
  return sqlite3_last_insert_rowid (index->db);
}

gboolean
pr_index_end_association (PrIndex *index, gint64 association_id, const PrAssociationSummary *summary,
                          GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                           "UPDATE associations SET peer_address = coalesce (?, peer_address),"
                                           " calling_ae = ?, called_ae = ?, ended_at = ?, stored = ?,"
                                           " refused = ?, echoes = ?, bytes = ?, outcome = ? WHERE id = ?",
                                           error);
  if (stmt == NULL)
    return FALSE;
  pr_index_bind_text (stmt, 1, summary->peer_address[0] ? summary->peer_address : NULL);
  pr_index_bind_text (stmt, 2, summary->calling_ae);
  pr_index_bind_text (stmt, 3, summary->called_ae);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  sqlite3_bind_int (stmt, 5, (int) summary->stored);
  sqlite3_bind_int (stmt, 6, (int) summary->refused);
  sqlite3_bind_int (stmt, 7, (int) summary->echoes);
  sqlite3_bind_int64 (stmt, 8, (sqlite3_int64) summary->bytes);
  pr_index_bind_text (stmt, 9, summary->outcome);
  sqlite3_bind_int64 (stmt, 10, association_id);
  return pr_index_step_done (index, stmt, error, "recording the end of an association");
}
