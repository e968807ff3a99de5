/* pr-index-health.c: the analyzer_health table. */
#include "config.h"

#include "pr-analyzer-health.h"

#include <sys/stat.h>

#include "pr-index-private.h"

void
pr_analyzer_health_free (PrAnalyzerHealth *h)
{
  if (h == NULL)
    return;
  g_free (h->analyzer);
  g_free (h->last_failure);
  g_free (h->quarantine_reason);
  g_free (h->file_signature);
  g_free (h);
}

char *
pr_analyzer_file_signature (const char *path)
{
  struct stat st;
  if (path == NULL || stat (path, &st) != 0)
    return NULL;
  return g_strdup_printf ("%lu:%lu:%lld:%lld.%09ld", (unsigned long) st.st_dev, (unsigned long) st.st_ino,
                          (long long) st.st_size, (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

gboolean
pr_index_record_analyzer_run (PrIndex *index, const char *analyzer, gboolean misbehaved, const char *failure,
                              guint quarantine_after, const char *file_signature, gboolean *quarantined,
                              GError **error)
{
  if (quarantined != NULL)
    *quarantined = FALSE;
  if (!misbehaved)
    {
      g_autoptr (PrStmt) reset =
        pr_index_statement (index, "UPDATE analyzer_health SET consecutive_failures = 0 WHERE analyzer = ?1", error);
      if (reset == NULL)
        return FALSE;
      sqlite3_bind_text (reset, 1, analyzer, -1, SQLITE_STATIC);
      return pr_index_step_done (index, reset, error, "recording an analyzer's success");
    }
  /* One statement: count, and quarantine when the count reaches the
   * threshold and it is not quarantined yet. */
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "INSERT INTO analyzer_health (analyzer, consecutive_failures, last_failure, last_failure_at)"
    " VALUES (?1, 1, ?2, ?3)"
    " ON CONFLICT (analyzer) DO UPDATE SET consecutive_failures = consecutive_failures + 1,"
    "   last_failure = excluded.last_failure, last_failure_at = excluded.last_failure_at",
    error);
  if (stmt == NULL)
    return FALSE;
  gint64 now = g_get_real_time ();
  sqlite3_bind_text (stmt, 1, analyzer, -1, SQLITE_STATIC);
  pr_index_bind_text (stmt, 2, failure);
  sqlite3_bind_int64 (stmt, 3, now);
  if (!pr_index_step_done (index, stmt, error, "recording an analyzer's failure"))
    return FALSE;
  if (quarantine_after == 0)
    return TRUE;
  g_autoptr (PrStmt) quarantine = pr_index_statement (
    index,
    "UPDATE analyzer_health SET quarantined_at = ?2, file_signature = ?3,"
    "   quarantine_reason = ?4 || ' failures in a row; the last: ' || coalesce (last_failure, '?')"
    " WHERE analyzer = ?1 AND quarantined_at IS NULL AND consecutive_failures >= ?4",
    error);
  if (quarantine == NULL)
    return FALSE;
  sqlite3_bind_text (quarantine, 1, analyzer, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (quarantine, 2, now);
  pr_index_bind_text (quarantine, 3, file_signature);
  sqlite3_bind_int (quarantine, 4, (int) quarantine_after);
  if (!pr_index_step_done (index, quarantine, error, "quarantining an analyzer"))
    return FALSE;
  if (quarantined != NULL)
    *quarantined = sqlite3_changes (sqlite3_db_handle (quarantine)) > 0;
  return TRUE;
}

#define HEALTH_COLUMNS                                                                                      \
  "analyzer, consecutive_failures, last_failure, coalesce (last_failure_at, 0), coalesce (quarantined_at, 0)," \
  " quarantine_reason, file_signature"

static PrAnalyzerHealth *
health_from_row (sqlite3_stmt *stmt)
{
  PrAnalyzerHealth *h = g_new0 (PrAnalyzerHealth, 1);
  h->analyzer = pr_index_column_text (stmt, 0);
  h->consecutive_failures = (guint) sqlite3_column_int (stmt, 1);
  h->last_failure = pr_index_column_text (stmt, 2);
  h->last_failure_at_us = sqlite3_column_int64 (stmt, 3);
  h->quarantined_at_us = sqlite3_column_int64 (stmt, 4);
  h->quarantine_reason = pr_index_column_text (stmt, 5);
  h->file_signature = pr_index_column_text (stmt, 6);
  return h;
}

PrAnalyzerHealth *
pr_index_get_analyzer_health (PrIndex *index, const char *analyzer, GError **error)
{
  g_autoptr (PrStmt) stmt =
    pr_index_statement (index, "SELECT " HEALTH_COLUMNS " FROM analyzer_health WHERE analyzer = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, analyzer, -1, SQLITE_STATIC);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return health_from_row (stmt);
  if (rc != SQLITE_DONE)
    pr_index_fail (index, error, "reading an analyzer's health");
  return NULL;
}

GPtrArray *
pr_index_list_analyzer_health (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt =
    pr_index_statement (index, "SELECT " HEALTH_COLUMNS " FROM analyzer_health ORDER BY analyzer", error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_analyzer_health_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (list, health_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "listing analyzer health");
      return NULL;
    }
  return g_steal_pointer (&list);
}

gboolean
pr_index_release_analyzer (PrIndex *index, const char *analyzer, gboolean *released, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (PrAnalyzerHealth) before = pr_index_get_analyzer_health (index, analyzer, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (released != NULL)
    *released = before != NULL && before->quarantined_at_us != 0;
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "UPDATE analyzer_health SET consecutive_failures = 0, quarantined_at = NULL, quarantine_reason = NULL,"
    "   file_signature = NULL WHERE analyzer = ?1",
    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, analyzer, -1, SQLITE_STATIC);
  return pr_index_step_done (index, stmt, error, "releasing an analyzer");
}
