/* pr-index-studies.c: recording instances, and study completion. */
#include "config.h"

#include "pr-index-private.h"

#include <string.h>

/* Attribute values longer than this stay out of the per-series JSON that
 * routes match against; they are never routing criteria in practice. */
#define ROUTING_JSON_MAX_VALUE 1024

static gboolean
find_id (PrIndex *index, const char *sql, const char *uid, gint64 *id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, uid, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *id = sqlite3_column_int64 (stmt, 0);
  else if (rc == SQLITE_DONE)
    *id = 0;
  else
    return pr_index_fail (index, error, "looking up a study or series");
  return TRUE;
}

static gboolean
ensure_study (PrIndex *index, const PrInstanceHeader *h, const PrIndexReceipt *r, gint64 *study_id,
              GError **error)
{
  if (!find_id (index, "SELECT id FROM studies WHERE study_uid = ?", h->study_instance_uid, study_id, error))
    return FALSE;
  if (*study_id != 0)
    return TRUE;

  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                           "INSERT INTO studies (study_uid, patient_id, patient_name,"
                                           " patient_birth_date, patient_sex, accession_number, study_date,"
                                           " study_time, study_description, study_id, referring_physician,"
                                           " calling_ae, called_ae, first_received_at, last_received_at)"
                                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                           error);
  if (stmt == NULL)
    return FALSE;
  const char *texts[] = { h->study_instance_uid, h->patient_id, h->patient_name, h->patient_birth_date,
                          h->patient_sex, h->accession_number, h->study_date, h->study_time,
                          h->study_description, h->study_id, h->referring_physician_name,
                          r->calling_ae, r->called_ae };
  for (int i = 0; i < (int) G_N_ELEMENTS (texts); i++)
    pr_index_bind_text (stmt, i + 1, texts[i]);
  sqlite3_bind_int64 (stmt, 14, r->received_at_us);
  sqlite3_bind_int64 (stmt, 15, r->received_at_us);
  if (!pr_index_step_done (index, stmt, error, "adding a study"))
    return FALSE;
  *study_id = sqlite3_last_insert_rowid (index->db);
  return TRUE;
}

static gboolean
ensure_series (PrIndex *index, const PrInstanceHeader *h, const PrIndexReceipt *r, gint64 study_id,
               gint64 *series_id, GError **error)
{
  if (!find_id (index, "SELECT id FROM series WHERE series_uid = ?", h->series_instance_uid, series_id, error))
    return FALSE;
  if (*series_id != 0)
    return TRUE;

  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                           "INSERT INTO series (study_id, series_uid, modality, body_part,"
                                           " series_description, series_number, series_date, series_time,"
                                           " protocol_name, sop_class_uid, first_received_at, last_received_at,"
                                           " attributes_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                           error);
  if (stmt == NULL)
    return FALSE;
  g_autofree char *json = pr_instance_header_to_json (h, ROUTING_JSON_MAX_VALUE);
  sqlite3_bind_int64 (stmt, 1, study_id);
  pr_index_bind_text (stmt, 2, h->series_instance_uid);
  pr_index_bind_text (stmt, 3, h->modality);
  pr_index_bind_text (stmt, 4, h->body_part_examined);
  pr_index_bind_text (stmt, 5, h->series_description);
  if (h->series_number >= 0)
    sqlite3_bind_int (stmt, 6, h->series_number);
  pr_index_bind_text (stmt, 7, h->series_date);
  pr_index_bind_text (stmt, 8, h->series_time);
  pr_index_bind_text (stmt, 9, h->protocol_name);
  pr_index_bind_text (stmt, 10, h->sop_class_uid);
  sqlite3_bind_int64 (stmt, 11, r->received_at_us);
  sqlite3_bind_int64 (stmt, 12, r->received_at_us);
  pr_index_bind_text (stmt, 13, json);
  if (!pr_index_step_done (index, stmt, error, "adding a series"))
    return FALSE;
  *series_id = sqlite3_last_insert_rowid (index->db);
  return TRUE;
}

static gboolean
insert_instance (PrIndex *index, const PrInstanceHeader *h, const PrIndexReceipt *r, gint64 series_id,
                 PrIndexRecordResult *result, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                           "INSERT INTO instances (series_id, sop_uid, sop_class_uid,"
                                           " transfer_syntax_uid, instance_number, path, size, received_at,"
                                           " association_id, calling_ae) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                           " ON CONFLICT DO NOTHING",
                                           error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, series_id);
  pr_index_bind_text (stmt, 2, h->sop_instance_uid);
  pr_index_bind_text (stmt, 3, h->sop_class_uid);
  pr_index_bind_text (stmt, 4, h->transfer_syntax_uid);
  if (h->instance_number >= 0)
    sqlite3_bind_int (stmt, 5, h->instance_number);
  pr_index_bind_text (stmt, 6, r->relative_path);
  sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) h->file_size);
  sqlite3_bind_int64 (stmt, 8, r->received_at_us);
  if (r->association_id > 0)
    sqlite3_bind_int64 (stmt, 9, r->association_id);
  pr_index_bind_text (stmt, 10, r->calling_ae);
  if (!pr_index_step_done (index, stmt, error, "adding an instance"))
    return FALSE;
  result->duplicate = sqlite3_changes (index->db) == 0;
  result->instance_id = result->duplicate ? 0 : sqlite3_last_insert_rowid (index->db);
  return TRUE;
}

static gboolean
count_instance (PrIndex *index, const PrInstanceHeader *h, const PrIndexReceipt *r,
                PrIndexRecordResult *result, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                           "UPDATE series SET instance_count = instance_count + 1,"
                                           " total_bytes = total_bytes + ?1,"
                                           " last_received_at = max (last_received_at, ?2) WHERE id = ?3",
                                           error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) h->file_size);
  sqlite3_bind_int64 (stmt, 2, r->received_at_us);
  sqlite3_bind_int64 (stmt, 3, result->series_id);
  if (!pr_index_step_done (index, stmt, error, "counting an instance in its series"))
    return FALSE;

  g_autoptr (PrStmt) state = pr_index_statement (index, "SELECT state FROM studies WHERE id = ?", error);
  if (state == NULL)
    return FALSE;
  sqlite3_bind_int64 (state, 1, result->study_id);
  if (sqlite3_step (state) != SQLITE_ROW)
    return pr_index_fail (index, error, "reading a study's state");
  result->reopened = g_strcmp0 ((const char *) sqlite3_column_text (state, 0), "complete") == 0;

  /* Late instances reopen a complete study; "updated" tells the router that
   * this completion will be a re-completion. */
  g_autoptr (PrStmt) study = pr_index_statement (index,
                             "UPDATE studies SET instance_count = instance_count + 1,"
                             " total_bytes = total_bytes + ?1,"
                             " last_received_at = max (last_received_at, ?2),"
                             " calling_ae = coalesce (?3, calling_ae), called_ae = coalesce (?4, called_ae),"
                             " updated = CASE WHEN state = 'complete' THEN 1 ELSE updated END,"
                             " state = 'receiving' WHERE id = ?5",
                             error);
  if (study == NULL)
    return FALSE;
  sqlite3_bind_int64 (study, 1, (sqlite3_int64) h->file_size);
  sqlite3_bind_int64 (study, 2, r->received_at_us);
  pr_index_bind_text (study, 3, r->calling_ae);
  pr_index_bind_text (study, 4, r->called_ae);
  sqlite3_bind_int64 (study, 5, result->study_id);
  return pr_index_step_done (index, study, error, "counting an instance in its study");
}

gboolean
pr_index_record_instance (PrIndex *index, const PrInstanceHeader *h, const PrIndexReceipt *r,
                          PrIndexRecordResult *result, GError **error)
{
  memset (result, 0, sizeof *result);
  g_return_val_if_fail (h->study_instance_uid && h->series_instance_uid && h->sop_instance_uid, FALSE);

  /* IMMEDIATE: take the write lock now, so that two receivers recording
   * into the same new study serialise instead of failing with BUSY later. */
  if (!pr_index_exec (index, "BEGIN IMMEDIATE", error))
    return FALSE;

  if (!ensure_study (index, h, r, &result->study_id, error) ||
      !ensure_series (index, h, r, result->study_id, &result->series_id, error) ||
      !insert_instance (index, h, r, result->series_id, result, error))
    goto rollback;

  if (result->duplicate)
    {
      /* Nothing to add; do not leave a new empty study or series behind. */
      pr_index_exec (index, "ROLLBACK", NULL);
      return TRUE;
    }
  if (!count_instance (index, h, r, result, error))
    goto rollback;
  if (!pr_index_exec (index, "COMMIT", error))
    goto rollback;
  return TRUE;

rollback:
  pr_index_exec (index, "ROLLBACK", NULL);
  return FALSE;
}

gboolean
pr_index_has_instance_path (PrIndex *index, const char *relative_path, gboolean *found, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT 1 FROM instances WHERE path = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, relative_path, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return pr_index_fail (index, error, "looking up an instance path");
  *found = rc == SQLITE_ROW;
  return TRUE;
}

GArray *
pr_index_list_open_studies (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT id, last_received_at FROM studies"
                                                  " WHERE state = 'receiving' ORDER BY last_received_at",
                                           error);
  if (stmt == NULL)
    return NULL;
  GArray *studies = g_array_new (FALSE, FALSE, sizeof (PrIndexOpenStudy));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrIndexOpenStudy s = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };
      g_array_append_val (studies, s);
    }
  if (rc != SQLITE_DONE)
    {
      g_array_unref (studies);
      pr_index_fail (index, error, "listing open studies");
      return NULL;
    }
  return studies;
}

gboolean
pr_index_complete_study (PrIndex *index, gint64 study_id, gint64 quiet_us, gint64 now_us,
                         PrIndexCompletion *out, GError **error)
{
  memset (out, 0, sizeof *out);
  g_autoptr (PrStmt) stmt = pr_index_statement (index,
                                           "UPDATE studies SET state = 'complete', completed_at = ?1,"
                                           " completion_count = completion_count + 1"
                                           " WHERE id = ?2 AND state = 'receiving' AND last_received_at <= ?3"
                                           " RETURNING completion_count, updated, instance_count",
                                           error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, now_us);
  sqlite3_bind_int64 (stmt, 2, study_id);
  sqlite3_bind_int64 (stmt, 3, now_us - quiet_us);
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      out->completed = TRUE;
      out->completion_count = (guint) sqlite3_column_int (stmt, 0);
      out->is_update = sqlite3_column_int (stmt, 1) != 0;
      out->instance_count = (guint) sqlite3_column_int (stmt, 2);
      return TRUE; /* the reset at scope exit completes and commits the update */
    }
  if (rc != SQLITE_DONE)
    return pr_index_fail (index, error, "completing a study");

  /* Not completed: either reopened by a late instance, or already complete. */
  g_autoptr (PrStmt) query = pr_index_statement (index, "SELECT last_received_at FROM studies WHERE id = ?", error);
  if (query == NULL)
    return FALSE;
  sqlite3_bind_int64 (query, 1, study_id);
  if (sqlite3_step (query) == SQLITE_ROW)
    out->last_received_at_us = sqlite3_column_int64 (query, 0);
  return TRUE;
}
