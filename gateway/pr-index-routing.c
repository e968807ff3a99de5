/* pr-index-routing.c: studies as the router reads them, and route runs. */
#include "config.h"

#include "pr-index-private.h"

#include <string.h>


static void
series_free (PrIndexSeries *s)
{
  g_free (s->series_uid);
  g_free (s->attributes_json);
  g_free (s);
}

void
pr_index_study_free (PrIndexStudy *study)
{
  if (study == NULL)
    return;
  g_free (study->study_uid);
  g_free (study->calling_ae);
  g_free (study->called_ae);
  g_clear_pointer (&study->series, g_ptr_array_unref);
  g_free (study);
}

PrIndexStudy *
pr_index_get_study (PrIndex *index, gint64 study_id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "SELECT study_uid, calling_ae, called_ae, instance_count,"
                                                " routed_instances, last_received_at, state = 'complete'"
                                                " FROM studies WHERE id = ?",
                                                error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, study_id);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no study %" G_GINT64_FORMAT, study_id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      pr_index_fail (index, error, "reading a study");
      return NULL;
    }
  g_autoptr (PrIndexStudy) study = g_new0 (PrIndexStudy, 1);
  study->id = study_id;
  study->study_uid = pr_index_column_text (stmt, 0);
  study->calling_ae = pr_index_column_text (stmt, 1);
  study->called_ae = pr_index_column_text (stmt, 2);
  study->instance_count = (guint) sqlite3_column_int (stmt, 3);
  study->routed_instances = (guint) sqlite3_column_int (stmt, 4);
  study->last_received_at_us = sqlite3_column_int64 (stmt, 5);
  study->complete = sqlite3_column_int (stmt, 6) != 0;
  study->series = g_ptr_array_new_with_free_func ((GDestroyNotify) series_free);

  g_autoptr (PrStmt) series = pr_index_statement (index,
                                                  "SELECT id, series_uid, attributes_json, instance_count,"
                                                  " first_received_at FROM series WHERE study_id = ?"
                                                  " ORDER BY first_received_at, id",
                                                  error);
  if (series == NULL)
    return NULL;
  sqlite3_bind_int64 (series, 1, study_id);
  while ((rc = sqlite3_step (series)) == SQLITE_ROW)
    {
      PrIndexSeries *s = g_new0 (PrIndexSeries, 1);
      s->id = sqlite3_column_int64 (series, 0);
      s->series_uid = pr_index_column_text (series, 1);
      s->attributes_json = pr_index_column_text (series, 2);
      s->instance_count = (guint) sqlite3_column_int (series, 3);
      s->first_received_at_us = sqlite3_column_int64 (series, 4);
      g_ptr_array_add (study->series, s);
    }
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "reading a study's series");
      return NULL;
    }
  return g_steal_pointer (&study);
}

GArray *
pr_index_list_unrouted_studies (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT id FROM studies WHERE routed_instances < instance_count"
                                                       " ORDER BY last_received_at",
                                                error);
  if (stmt == NULL)
    return NULL;
  return pr_index_collect_ids (index, stmt, "listing studies to route", error);
}

gboolean
pr_index_mark_routed (PrIndex *index, gint64 study_id, guint instance_count, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "UPDATE studies SET routed_instances = max (routed_instances, ?)"
                                                       " WHERE id = ?",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, (int) instance_count);
  sqlite3_bind_int64 (stmt, 2, study_id);
  return pr_index_step_done (index, stmt, error, "marking a study routed");
}

gboolean
pr_index_last_route_run (PrIndex *index, gint64 study_id, const char *route, guint *run, guint *instance_count,
                         GError **error)
{
  *run = 0;
  *instance_count = 0;
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT run, instance_count FROM route_runs"
                                                       " WHERE study_id = ? AND route = ? ORDER BY run DESC LIMIT 1",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, study_id);
  sqlite3_bind_text (stmt, 2, route, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *run = (guint) sqlite3_column_int (stmt, 0);
      *instance_count = (guint) sqlite3_column_int (stmt, 1);
    }
  else if (rc != SQLITE_DONE)
    return pr_index_fail (index, error, "reading route runs");
  return TRUE;
}

static gboolean
insert_job (PrIndex *index, gint64 run_id, gint64 study_id, const char *route, int priority,
            const PrIndexNewJob *job, gint64 now, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "INSERT INTO jobs (route_run_id, study_id, route, analyzer,"
                                                " series_uids, parameters, priority, state, max_attempts,"
                                                " created_at, finished_at, reason)"
                                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                                error);
  if (stmt == NULL)
    return FALSE;
  gboolean declined = job->declined_reason != NULL;
  sqlite3_bind_int64 (stmt, 1, run_id);
  sqlite3_bind_int64 (stmt, 2, study_id);
  sqlite3_bind_text (stmt, 3, route, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, job->analyzer, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 5, job->series_uids_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 6, job->parameters_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 7, priority);
  sqlite3_bind_text (stmt, 8, declined ? "declined" : "queued", -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 9, job->max_attempts);
  sqlite3_bind_int64 (stmt, 10, now);
  if (declined)
    sqlite3_bind_int64 (stmt, 11, now);
  pr_index_bind_text (stmt, 12, job->declined_reason);
  return pr_index_step_done (index, stmt, error, "adding a job");
}

static gboolean
insert_forwards (PrIndex *index, gint64 run_id, gint64 study_id, const char *route,
                 const PrIndexNewForward *forward, gint64 now, GError **error)
{
  /* Every instance of the study this route has not yet sent to this peer. */
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "INSERT OR IGNORE INTO outbox (kind, study_id, route_run_id, route,"
                                                " peer, sop_instance_uid, path, state, last_error, created_at)"
                                                " SELECT 'forward', ?1, ?2, ?3, ?4, i.sop_uid, i.path, ?5, ?6, ?7"
                                                " FROM instances i JOIN series s ON s.id = i.series_id"
                                                " WHERE s.study_id = ?1 ORDER BY i.id",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, study_id);
  sqlite3_bind_int64 (stmt, 2, run_id);
  sqlite3_bind_text (stmt, 3, route, -1, SQLITE_TRANSIENT);
  pr_index_bind_text (stmt, 4, forward->peer);
  sqlite3_bind_text (stmt, 5, forward->peer != NULL ? "pending" : "dead", -1, SQLITE_STATIC);
  pr_index_bind_text (stmt, 6, forward->unresolved_reason);
  sqlite3_bind_int64 (stmt, 7, now);
  return pr_index_step_done (index, stmt, error, "adding forwarded instances to the outbox");
}

gboolean
pr_index_create_route_run (PrIndex *index, gint64 study_id, const char *route, const char *trigger, int priority,
                           guint instance_count, const char *results_to_json, const PrIndexNewJob *jobs, guint n_jobs,
                           const PrIndexNewForward *forwards, guint n_forwards, gint64 *run_id, GError **error)
{
  if (!pr_index_exec (index, "BEGIN IMMEDIATE", error))
    return FALSE;

  guint last_run = 0, last_count = 0;
  gint64 now = g_get_real_time ();
  if (!pr_index_last_route_run (index, study_id, route, &last_run, &last_count, error))
    goto rollback;
  {
    g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                  "INSERT INTO route_runs (study_id, route, run, trigger,"
                                                  " instance_count, results_to, created_at)"
                                                  " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                                  error);
    if (stmt == NULL)
      goto rollback;
    sqlite3_bind_int64 (stmt, 1, study_id);
    sqlite3_bind_text (stmt, 2, route, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int (stmt, 3, (int) last_run + 1);
    sqlite3_bind_text (stmt, 4, trigger, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int (stmt, 5, (int) instance_count);
    sqlite3_bind_text (stmt, 6, results_to_json ? results_to_json : "[]", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 7, now);
    if (!pr_index_step_done (index, stmt, error, "recording a route run"))
      goto rollback;
  }
  *run_id = sqlite3_last_insert_rowid (index->db);
  for (guint i = 0; i < n_jobs; i++)
    if (!insert_job (index, *run_id, study_id, route, priority, &jobs[i], now, error))
      goto rollback;
  for (guint i = 0; i < n_forwards; i++)
    if (!insert_forwards (index, *run_id, study_id, route, &forwards[i], now, error))
      goto rollback;
  if (!pr_index_exec (index, "COMMIT", error))
    goto rollback;
  return TRUE;

rollback:
  pr_index_exec (index, "ROLLBACK", NULL);
  return FALSE;
}

void
pr_index_instance_free (PrIndexInstance *instance)
{
  if (instance == NULL)
    return;
  g_free (instance->sop_instance_uid);
  g_free (instance->sop_class_uid);
  g_free (instance->path);
  g_free (instance);
}

GPtrArray *
pr_index_list_series_instances (PrIndex *index, const char *series_uid, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "SELECT i.sop_uid, i.sop_class_uid, i.path,"
                                                " coalesce (i.instance_number, -1)"
                                                " FROM instances i JOIN series s ON s.id = i.series_id"
                                                " WHERE s.series_uid = ? ORDER BY i.instance_number IS NULL,"
                                                " i.instance_number, i.id",
                                                error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, series_uid, -1, SQLITE_TRANSIENT);
  GPtrArray *instances = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_index_instance_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrIndexInstance *i = g_new0 (PrIndexInstance, 1);
      i->sop_instance_uid = pr_index_column_text (stmt, 0);
      i->sop_class_uid = pr_index_column_text (stmt, 1);
      i->path = pr_index_column_text (stmt, 2);
      i->instance_number = sqlite3_column_int (stmt, 3);
      g_ptr_array_add (instances, i);
    }
  if (rc != SQLITE_DONE)
    {
      g_ptr_array_unref (instances);
      pr_index_fail (index, error, "listing a series' instances");
      return NULL;
    }
  return instances;
}

char *
pr_index_get_route_run_results_to (PrIndex *index, gint64 route_run_id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT results_to FROM route_runs WHERE id = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, route_run_id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no route run %" G_GINT64_FORMAT, route_run_id);
      return NULL;
    }
  return pr_index_column_text (stmt, 0);
}
