/* pr-index-results.c: result objects, and their outbox items, in the index. */
#include "config.h"

#include "pr-result-object.h"

#include <string.h>

#include "pr-hl7-message.h"
#include "pr-index-private.h"

void
pr_result_object_free (PrResultObject *o)
{
  if (o == NULL)
    return;
  g_free (o->kind);
  g_free (o->sop_class_uid);
  g_free (o->sop_instance_uid);
  g_free (o->series_instance_uid);
  g_free (o->path);
  g_free (o);
}

void
pr_result_notice_free (PrResultNotice *n)
{
  if (n == NULL)
    return;
  g_free (n->peer);
  g_free (n->control_id);
  g_free (n->path);
  g_free (n->error);
  g_free (n);
}

GArray *
pr_index_list_pending_results (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index, "SELECT id FROM jobs WHERE results_state = 'pending' AND state = 'done' ORDER BY id", error);
  if (stmt == NULL)
    return NULL;
  return pr_index_collect_ids (index, stmt, "listing jobs with results to build", error);
}

static gboolean
destination_takes (const PrResultDestination *d, const char *kind)
{
  if (d->objects == NULL || d->objects[0] == NULL)
    return TRUE;
  return g_strv_contains (d->objects, kind);
}

static gboolean
insert_object (PrIndex *index, gint64 job_id, const PrResultObject *o, gint64 now, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "INSERT OR IGNORE INTO results (job_id, study_id, kind, sop_class_uid, sop_instance_uid, series_instance_uid,"
    " path, created_at) SELECT ?1, study_id, ?2, ?3, ?4, ?5, ?6, ?7 FROM jobs WHERE id = ?1",
    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, job_id);
  pr_index_bind_text (stmt, 2, o->kind);
  pr_index_bind_text (stmt, 3, o->sop_class_uid);
  pr_index_bind_text (stmt, 4, o->sop_instance_uid);
  pr_index_bind_text (stmt, 5, o->series_instance_uid);
  pr_index_bind_text (stmt, 6, o->path);
  sqlite3_bind_int64 (stmt, 7, now);
  return pr_index_step_done (index, stmt, error, "recording a result object");
}

/* One outbox row for the job's route run. @failure (nullable) makes it a
 * dead letter at once, with that reason: nothing that could not be
 * resolved or made is retried, or dropped in silence. */
static gboolean
insert_outbox_item (PrIndex *index, gint64 job_id, const char *kind, const char *result_kind, const char *peer,
                    const char *identifier, const char *path, const char *failure, int priority, gint64 now,
                    GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "INSERT OR IGNORE INTO outbox (kind, study_id, route_run_id, job_id, route, peer, sop_instance_uid, path, state,"
    " last_error, created_at, retry_from, priority, result_kind)"
    " SELECT ?9, study_id, route_run_id, id, route, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?10 FROM jobs WHERE id = ?1",
    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, job_id);
  pr_index_bind_text (stmt, 2, peer);
  pr_index_bind_text (stmt, 3, identifier);
  pr_index_bind_text (stmt, 4, path);
  sqlite3_bind_text (stmt, 5, failure ? "dead" : "pending", -1, SQLITE_STATIC);
  pr_index_bind_text (stmt, 6, failure);
  sqlite3_bind_int64 (stmt, 7, now);
  sqlite3_bind_int (stmt, 8, priority);
  pr_index_bind_text (stmt, 9, kind);
  pr_index_bind_text (stmt, 10, result_kind);
  return pr_index_step_done (index, stmt, error, "adding to the outbox");
}

gboolean
pr_index_supersede_results (PrIndex *index, gint64 job_id, GError **error)
{
  const char *sql[] = {
    "UPDATE outbox SET state = 'cancelled', last_error = 'superseded: the job ran again'"
    " WHERE job_id = ?1 AND kind IN ('result', 'hl7') AND state IN ('pending', 'dead')",
    /* Being sent: it may still arrive. If it fails, its file is gone, so
     * it is cancelled then rather than retried (pr-index-outbox.c reads
     * this mark). */
    "UPDATE outbox SET last_error = 'superseded: the job ran again'"
    " WHERE job_id = ?1 AND kind IN ('result', 'hl7') AND state = 'sending'",
    "DELETE FROM results WHERE job_id = ?1",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (sql); i++)
    {
      g_autoptr (PrStmt) stmt = pr_index_statement (index, sql[i], error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, job_id);
      if (!pr_index_step_done (index, stmt, error, "superseding earlier results"))
        return FALSE;
    }
  return TRUE;
}

gboolean
pr_index_record_results (PrIndex *index, gint64 job_id, GPtrArray *objects, const PrResultDestination *destinations,
                         guint n_destinations, GPtrArray *notices, int priority, GError **error)
{
  if (!pr_index_exec (index, "BEGIN IMMEDIATE", error))
    return FALSE;
  gint64 now = g_get_real_time ();
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < objects->len; i++)
    {
      const PrResultObject *o = objects->pdata[i];
      ok = insert_object (index, job_id, o, now, error);
      for (guint d = 0; ok && d < n_destinations; d++)
        if (destination_takes (&destinations[d], o->kind))
          {
            /* One that could not be resolved (the sender is no configured peer) is dead at once. */
            const PrResultDestination *to = &destinations[d];
            ok = insert_outbox_item (index, job_id, "result", o->kind, to->peer, o->sop_instance_uid, o->path,
                                     to->peer                  ? NULL
                                     : to->unresolved_reason ? to->unresolved_reason
                                                             : "the destination names no peer",
                                     priority, now, error);
          }
    }
  for (guint i = 0; ok && notices && i < notices->len; i++)
    {
      const PrResultNotice *n = notices->pdata[i];
      ok = insert_outbox_item (index, job_id, "hl7", "oru", n->peer, n->control_id, n->path, n->error, priority, now,
                               error);
    }
  if (ok)
    {
      g_autoptr (PrStmt) stmt = pr_index_statement (
        index, "UPDATE jobs SET results_state = 'built', results_error = NULL WHERE id = ?", error);
      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_int64 (stmt, 1, job_id);
          ok = pr_index_step_done (index, stmt, error, "marking results built");
        }
    }
  if (!ok)
    {
      pr_index_exec (index, "ROLLBACK", NULL);
      return FALSE;
    }
  return pr_index_exec (index, "COMMIT", error);
}

gboolean
pr_index_fail_results (PrIndex *index, gint64 job_id, const char *reason, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index, "UPDATE jobs SET results_state = 'failed', results_error = ? WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  pr_index_bind_text (stmt, 1, reason);
  sqlite3_bind_int64 (stmt, 2, job_id);
  return pr_index_step_done (index, stmt, error, "recording a results failure");
}

GPtrArray *
pr_index_list_results (PrIndex *index, gint64 job_id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT id, job_id, study_id, kind, sop_class_uid, sop_instance_uid, series_instance_uid, path FROM results"
    " WHERE job_id = ? ORDER BY id",
    error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, job_id);
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_result_object_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrResultObject *o = g_new0 (PrResultObject, 1);
      o->id = sqlite3_column_int64 (stmt, 0);
      o->job_id = sqlite3_column_int64 (stmt, 1);
      o->study_id = sqlite3_column_int64 (stmt, 2);
      o->kind = pr_index_column_text (stmt, 3);
      o->sop_class_uid = pr_index_column_text (stmt, 4);
      o->sop_instance_uid = pr_index_column_text (stmt, 5);
      o->series_instance_uid = pr_index_column_text (stmt, 6);
      o->path = pr_index_column_text (stmt, 7);
      g_ptr_array_add (list, o);
    }
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "listing results");
      return NULL;
    }
  return g_steal_pointer (&list);
}

char *
pr_index_installation_id (PrIndex *index, GError **error)
{
  g_autofree char *fresh = g_uuid_string_random ();
  g_autoptr (PrStmt) insert =
    pr_index_statement (index, "INSERT OR IGNORE INTO meta (key, value) VALUES ('installation_id', ?)", error);
  if (insert == NULL)
    return NULL;
  pr_index_bind_text (insert, 1, fresh);
  if (!pr_index_step_done (index, insert, error, "making the installation id"))
    return NULL;
  g_autoptr (PrStmt) select = pr_index_statement (index, "SELECT value FROM meta WHERE key = 'installation_id'", error);
  if (select == NULL)
    return NULL;
  if (sqlite3_step (select) != SQLITE_ROW)
    {
      pr_index_fail (index, error, "reading the installation id");
      return NULL;
    }
  return pr_index_column_text (select, 0);
}


PrHl7Oru *
pr_index_get_hl7_oru (PrIndex *index, gint64 job_id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT s.patient_id, s.patient_name, s.patient_birth_date, s.patient_sex, s.accession_number, s.study_uid,"
    " s.study_description, j.analyzer, j.analyzer_version, coalesce (j.finished_at, 0), j.result_priority, j.summary"
    " FROM jobs j JOIN studies s ON s.id = j.study_id WHERE j.id = ?",
    error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, job_id);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "there is no job %" G_GINT64_FORMAT, job_id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      pr_index_fail (index, error, "reading a job's study for its HL7 notice");
      return NULL;
    }
  PrHl7Oru *oru = g_new0 (PrHl7Oru, 1);
  oru->job_id = job_id;
  oru->patient_id = pr_index_column_text (stmt, 0);
  oru->patient_name = pr_index_column_text (stmt, 1);
  oru->patient_birth_date = pr_index_column_text (stmt, 2);
  oru->patient_sex = pr_index_column_text (stmt, 3);
  oru->accession_number = pr_index_column_text (stmt, 4);
  oru->study_instance_uid = pr_index_column_text (stmt, 5);
  oru->study_description = pr_index_column_text (stmt, 6);
  oru->analyzer = pr_index_column_text (stmt, 7);
  oru->analyzer_version = pr_index_column_text (stmt, 8);
  oru->observed_at_us = sqlite3_column_int64 (stmt, 9);
  oru->priority = pr_result_priority_from_string ((const char *) sqlite3_column_text (stmt, 10));
  oru->summary = pr_index_column_text (stmt, 11);
  return oru;
}
