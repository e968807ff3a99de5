/* pr-index-jobs.c: the job queue's persistence and its state transitions.
 *
 * Every transition is one UPDATE guarded by the state it leaves, so two
 * actors (the scheduler, an administrator's command) can never both move a
 * job: the second finds it changed and gets PR_INDEX_ERROR_NOT_FOUND.
 */
#include "config.h"

#include "pr-index-private.h"

#include <string.h>

static const char *const state_names[] = {
  "queued", "running", "done", "declined", "failed", "timed-out", "cancelled",
};

const char *
pr_job_state_to_string (PrJobState state)
{
  return state <= PR_JOB_CANCELLED ? state_names[state] : "?";
}

gboolean
pr_job_state_from_string (const char *text, PrJobState *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (text, state_names[i]) == 0)
      {
        *state = (PrJobState) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
pr_job_state_is_final (PrJobState state)
{
  return state != PR_JOB_QUEUED && state != PR_JOB_RUNNING;
}

void
pr_job_free (PrJob *job)
{
  if (job == NULL)
    return;
  g_free (job->route);
  g_free (job->analyzer);
  g_free (job->series_uids);
  g_free (job->parameters);
  g_free (job->reason);
  g_free (job->summary);
  g_free (job->result_priority);
  g_free (job);
}

#define JOB_COLUMNS                                                                                        \
  "id, route_run_id, study_id, route, analyzer, series_uids, parameters, priority, state, attempts,"       \
  " max_attempts, not_before, cancel_requested, created_at, coalesce (started_at, 0),"                     \
  " coalesce (finished_at, 0), reason, summary, result_priority"

static PrJob *
job_from_row (sqlite3_stmt *stmt)
{
  PrJob *job = g_new0 (PrJob, 1);
  job->id = sqlite3_column_int64 (stmt, 0);
  job->route_run_id = sqlite3_column_int64 (stmt, 1);
  job->study_id = sqlite3_column_int64 (stmt, 2);
  job->route = pr_index_column_text (stmt, 3);
  job->analyzer = pr_index_column_text (stmt, 4);
  job->series_uids = pr_index_column_text (stmt, 5);
  job->parameters = pr_index_column_text (stmt, 6);
  job->priority = sqlite3_column_int (stmt, 7);
  pr_job_state_from_string ((const char *) sqlite3_column_text (stmt, 8), &job->state);
  job->attempts = sqlite3_column_int (stmt, 9);
  job->max_attempts = sqlite3_column_int (stmt, 10);
  job->not_before_us = sqlite3_column_int64 (stmt, 11);
  job->cancel_requested = sqlite3_column_int (stmt, 12) != 0;
  job->created_at_us = sqlite3_column_int64 (stmt, 13);
  job->started_at_us = sqlite3_column_int64 (stmt, 14);
  job->finished_at_us = sqlite3_column_int64 (stmt, 15);
  job->reason = pr_index_column_text (stmt, 16);
  job->summary = pr_index_column_text (stmt, 17);
  job->result_priority = pr_index_column_text (stmt, 18);
  return job;
}

static GPtrArray *
collect_jobs (PrIndex *index, sqlite3_stmt *stmt, GError **error)
{
  GPtrArray *jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_job_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (jobs, job_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      g_ptr_array_unref (jobs);
      pr_index_fail (index, error, "listing jobs");
      return NULL;
    }
  return jobs;
}

GPtrArray *
pr_index_list_jobs (PrIndex *index, const PrJobFilter *filter, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "SELECT " JOB_COLUMNS " FROM jobs"
                                                " WHERE (?1 IS NULL OR state = ?1) AND (?2 = 0 OR study_id = ?2)"
                                                " AND (?3 IS NULL OR analyzer = ?3)"
                                                " ORDER BY id DESC LIMIT ?4",
                                                error);
  if (stmt == NULL)
    return NULL;
  if (filter->state >= 0)
    sqlite3_bind_text (stmt, 1, pr_job_state_to_string ((PrJobState) filter->state), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, filter->study_id);
  pr_index_bind_text (stmt, 3, filter->analyzer);
  sqlite3_bind_int64 (stmt, 4, filter->limit ? (gint64) filter->limit : -1);
  return collect_jobs (index, stmt, error);
}

PrJob *
pr_index_get_job (PrIndex *index, gint64 job_id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, job_id);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return job_from_row (stmt);
  if (rc == SQLITE_DONE)
    g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no job %" G_GINT64_FORMAT, job_id);
  else
    pr_index_fail (index, error, "reading a job");
  return NULL;
}

GPtrArray *
pr_index_next_runnable_jobs (PrIndex *index, const char *analyzer, gint64 now_us, guint limit, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "SELECT " JOB_COLUMNS " FROM jobs"
                                                " WHERE state = 'queued' AND not_before <= ?1"
                                                " AND (?3 IS NULL OR analyzer = ?3)"
                                                " ORDER BY priority DESC, created_at, id LIMIT ?2",
                                                error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, now_us);
  sqlite3_bind_int64 (stmt, 2, limit);
  pr_index_bind_text (stmt, 3, analyzer);
  return collect_jobs (index, stmt, error);
}

/* Runs an UPDATE that must change exactly one job; names the job otherwise. */
static gboolean
transition (PrIndex *index, sqlite3_stmt *stmt, gint64 job_id, const char *what, GError **error)
{
  if (!pr_index_step_done (index, stmt, error, what))
    return FALSE;
  if (sqlite3_changes (index->db) == 0)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "job %" G_GINT64_FORMAT " cannot be %s now",
                   job_id, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
pr_index_start_job (PrIndex *index, gint64 job_id, gint64 now_us, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                                                " started_at = ?, reason = NULL WHERE id = ? AND state = 'queued'",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, now_us);
  sqlite3_bind_int64 (stmt, 2, job_id);
  return transition (index, stmt, job_id, "started", error);
}

gboolean
pr_index_finish_job (PrIndex *index, gint64 job_id, PrJobState state, const char *reason, const char *summary,
                     const char *result_priority, GError **error)
{
  g_return_val_if_fail (pr_job_state_is_final (state), FALSE);
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE jobs SET state = ?1, finished_at = ?2, reason = ?3,"
                                                " summary = ?4, result_priority = ?5, cancel_requested = 0,"
                                                " results_state = CASE WHEN ?1 = 'done' THEN 'pending'"
                                                "                 ELSE 'none' END, results_error = NULL"
                                                " WHERE id = ?6 AND state = 'running'",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, pr_job_state_to_string (state), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, g_get_real_time ());
  pr_index_bind_text (stmt, 3, reason);
  pr_index_bind_text (stmt, 4, summary);
  pr_index_bind_text (stmt, 5, result_priority);
  sqlite3_bind_int64 (stmt, 6, job_id);
  return transition (index, stmt, job_id, "finished", error);
}

gboolean
pr_index_requeue_job (PrIndex *index, gint64 job_id, gint64 not_before_us, const char *reason, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE jobs SET state = 'queued', not_before = ?, reason = ?"
                                                " WHERE id = ? AND state = 'running'",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, not_before_us);
  pr_index_bind_text (stmt, 2, reason);
  sqlite3_bind_int64 (stmt, 3, job_id);
  return transition (index, stmt, job_id, "requeued", error);
}

guint
pr_index_requeue_running_jobs (PrIndex *index, GError **error)
{
  /* A job found running at startup was interrupted by the crash: its
   * attempt is counted (it was, when it started) and it waits for a slot. */
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE jobs SET state = 'queued',"
                                                " reason = 'interrupted by a restart of the gateway'"
                                                " WHERE state = 'running'",
                                                error);
  if (stmt == NULL || !pr_index_step_done (index, stmt, error, "requeueing interrupted jobs"))
    return 0;
  return (guint) sqlite3_changes (index->db);
}

gboolean
pr_index_retry_job (PrIndex *index, gint64 job_id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                                "UPDATE jobs SET state = 'queued', attempts = 0, not_before = 0,"
                                                " finished_at = NULL, reason = 'retried by an administrator'"
                                                " WHERE id = ? AND state NOT IN ('queued', 'running')",
                                                error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, job_id);
  return transition (index, stmt, job_id, "retried (it is queued or running)", error);
}

gboolean
pr_index_cancel_job (PrIndex *index, gint64 job_id, gboolean *was_running, GError **error)
{
  *was_running = FALSE;
  g_autoptr (PrStmt) queued = pr_index_statement (index,
                                                  "UPDATE jobs SET state = 'cancelled', finished_at = ?,"
                                                  " reason = 'cancelled by an administrator'"
                                                  " WHERE id = ? AND state = 'queued'",
                                                  error);
  if (queued == NULL)
    return FALSE;
  sqlite3_bind_int64 (queued, 1, g_get_real_time ());
  sqlite3_bind_int64 (queued, 2, job_id);
  if (!pr_index_step_done (index, queued, error, "cancelling a job"))
    return FALSE;
  if (sqlite3_changes (index->db) == 1)
    return TRUE;

  g_autoptr (PrStmt) running = pr_index_statement (index,
                                                   "UPDATE jobs SET cancel_requested = 1"
                                                   " WHERE id = ? AND state = 'running'",
                                                   error);
  if (running == NULL)
    return FALSE;
  sqlite3_bind_int64 (running, 1, job_id);
  *was_running = TRUE;
  return transition (index, running, job_id, "cancelled (it has already ended)", error);
}

GArray *
pr_index_list_cancel_requests (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT id FROM jobs WHERE state = 'running'"
                                                       " AND cancel_requested = 1",
                                                error);
  if (stmt == NULL)
    return NULL;
  return pr_index_collect_ids (index, stmt, "listing cancel requests", error);
}

gboolean
pr_index_set_job_findings (PrIndex *index, gint64 job_id, const char *version, guint n_findings, GError **error)
{
  g_autoptr (PrStmt) stmt =
    pr_index_statement (index, "UPDATE jobs SET analyzer_version = ?, finding_count = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  pr_index_bind_text (stmt, 1, version);
  sqlite3_bind_int64 (stmt, 2, n_findings);
  sqlite3_bind_int64 (stmt, 3, job_id);
  return pr_index_step_done (index, stmt, error, "recording an analyzer version");
}
