/* pr-index-ui.c: the worklist and a study, as JSON for the web UI. */
#include "config.h"

#include "pr-ui-queries.h"

#include <string.h>

#include "pr-index-private.h"
#include "pr-job-folder.h"
#include "pr-result-build.h"

/* ---- rows to JSON ------------------------------------------------------------ */

static void
add_time (JsonBuilder *b, gint64 us)
{
  if (us <= 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  g_autoptr (GDateTime) seconds = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) t = g_date_time_add (seconds, us % G_USEC_PER_SEC);
  g_autofree char *text = g_date_time_format_iso8601 (t);
  json_builder_add_string_value (b, text);
}

/* Columns the queries build with group_concat or concat_ws: arrays on the wire. */
static gboolean
is_list_column (const char *name)
{
  return strcmp (name, "modalities") == 0 || strcmp (name, "analyzers") == 0 || strcmp (name, "flags") == 0 ||
         strcmp (name, "deliveries") == 0;
}

static void
add_list (JsonBuilder *b, const char *text)
{
  json_builder_begin_array (b);
  g_auto (GStrv) items = g_strsplit (text ? text : "", ",", -1);
  for (char **item = items; *item; item++)
    if (**item != '\0')
      json_builder_add_string_value (b, *item);
  json_builder_end_array (b);
}

void
pr_index_row_to_json (JsonBuilder *b, sqlite3_stmt *stmt)
{
  json_builder_begin_object (b);
  for (int i = 0; i < sqlite3_column_count (stmt); i++)
    {
      const char *name = sqlite3_column_name (stmt, i);
      json_builder_set_member_name (b, name);
      /* Times are microseconds in the index, ISO 8601 (UTC) on the wire. */
      if (g_str_has_suffix (name, "_at"))
        add_time (b, sqlite3_column_int64 (stmt, i));
      else if (is_list_column (name))
        add_list (b, (const char *) sqlite3_column_text (stmt, i));
      else
        switch (sqlite3_column_type (stmt, i))
          {
          case SQLITE_INTEGER:
            json_builder_add_int_value (b, sqlite3_column_int64 (stmt, i));
            break;
          case SQLITE_FLOAT:
            json_builder_add_double_value (b, sqlite3_column_double (stmt, i));
            break;
          case SQLITE_NULL:
            json_builder_add_null_value (b);
            break;
          default:
            json_builder_add_string_value (b, (const char *) sqlite3_column_text (stmt, i));
            break;
          }
    }
  json_builder_end_object (b);
}

gboolean
pr_index_rows_to_json (PrIndex *index, JsonBuilder *b, sqlite3_stmt *stmt, GError **error)
{
  json_builder_begin_array (b);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    pr_index_row_to_json (b, stmt);
  json_builder_end_array (b);
  return rc == SQLITE_DONE ? TRUE : pr_index_fail (index, error, "reading for the web UI");
}

/* ---- the worklist ------------------------------------------------------------- */

/* One row per study, with what the worklist shows of its analyses. */
#define WORKLIST_SELECT                                                                                         \
  "SELECT st.id, st.study_uid AS study_instance_uid, st.patient_name, st.patient_id, st.accession_number,"     \
  " st.study_date, st.study_description, st.instance_count,"                                                  \
  " (SELECT group_concat (DISTINCT modality) FROM series WHERE study_id = st.id) AS modalities,"            \
  " (SELECT group_concat (DISTINCT analyzer) FROM jobs WHERE study_id = st.id) AS analyzers,"              \
  " coalesce ((SELECT max (CASE result_priority WHEN 'critical' THEN 3 WHEN 'urgent' THEN 2 ELSE 1 END)"     \
  "   FROM jobs WHERE study_id = st.id AND state = 'done'), 0) AS priority_rank,"                            \
  " CASE WHEN st.state = 'receiving' THEN 'receiving'"                                                       \
  "   WHEN EXISTS (SELECT 1 FROM jobs WHERE study_id = st.id AND state IN ('queued', 'running'))"            \
  "     THEN 'analyzing'"                                                                                     \
  "   WHEN EXISTS (SELECT 1 FROM jobs WHERE study_id = st.id AND state IN ('failed', 'timed-out'))"          \
  "     THEN 'failed'"                                                                                        \
  "   WHEN EXISTS (SELECT 1 FROM jobs WHERE study_id = st.id) THEN 'analyzed'"                               \
  "   ELSE 'waiting' END AS state,"                                                                          \
  " (SELECT group_concat (analyzer || ': ' || summary, ' | ') FROM jobs"                                    \
  "   WHERE study_id = st.id AND state = 'done' AND summary IS NOT NULL) AS summary,"                        \
  " (SELECT CASE max (CASE result_priority WHEN 'critical' THEN 3 WHEN 'urgent' THEN 2 ELSE 1 END)"       \
  "   WHEN 3 THEN 'critical' WHEN 2 THEN 'urgent' WHEN 1 THEN 'routine' END"                                 \
  "   FROM jobs WHERE study_id = st.id AND state = 'done') AS priority,"                                      \
  " (CASE WHEN st.updated THEN 'updated,' ELSE '' END"                                                    \
  "  || CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE study_id = st.id AND state IN ('failed', 'timed-out'))"  \
  "     THEN 'analysis-failed,' ELSE '' END"                                                                   \
  "  || CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE study_id = st.id AND results_state = 'failed')"          \
  "     THEN 'results-failed,' ELSE '' END"                                                                    \
  "  || CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE study_id = st.id AND state = 'dead')"                  \
  "     THEN 'delivery-failed,' ELSE '' END"                                                                   \
  "  || CASE WHEN EXISTS (SELECT 1 FROM feedback WHERE study_id = st.id) THEN 'reviewed' ELSE '' END) AS flags,"       \
  " (SELECT coalesce (sum (finding_count), 0) FROM jobs WHERE study_id = st.id AND state = 'done')"          \
  "   AS finding_count,"                                                                                      \
  " (SELECT count (*) FROM feedback WHERE study_id = st.id) AS feedback_count,"                              \
  " st.first_received_at AS received_at, st.completed_at AS complete_at,"                                    \
  " (SELECT max (finished_at) FROM jobs WHERE study_id = st.id AND state NOT IN ('queued', 'running'))"     \
  "   AS analyzed_at,"                                                                                        \
  " (SELECT CASE WHEN count (*) > 0 AND sum (state = 'sent') = count (*) THEN max (sent_at) END"            \
  "   FROM outbox WHERE study_id = st.id AND kind = 'result') AS delivered_at"                               \
  " FROM studies st"

JsonNode *
pr_ui_worklist (PrIndex *index, const PrWorklistQuery *q, GError **error)
{
  /* Filters are bound, never pasted: the text comes from the web. */
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT * FROM (" WORKLIST_SELECT ") w"
    " WHERE (?1 IS NULL OR w.patient_name LIKE '%' || ?1 || '%' OR w.patient_id LIKE '%' || ?1 || '%'"
    "        OR w.accession_number LIKE '%' || ?1 || '%' OR w.study_description LIKE '%' || ?1 || '%')"
    " AND (?2 IS NULL OR ',' || w.modalities || ',' LIKE '%,' || ?2 || ',%')"
    " AND (?3 IS NULL OR ',' || w.analyzers || ',' LIKE '%,' || ?3 || ',%')"
    " AND (?4 IS NULL OR w.priority_rank = CASE ?4 WHEN 'critical' THEN 3 WHEN 'urgent' THEN 2"
    "                                        WHEN 'routine' THEN 1 ELSE -1 END)"
    " AND (?5 IS NULL OR w.state = ?5)"
    " AND (?6 IS NULL OR w.study_date >= ?6) AND (?7 IS NULL OR w.study_date <= ?7)"
    " ORDER BY w.priority_rank DESC, w.received_at DESC LIMIT ?8",
    error);
  if (stmt == NULL)
    return NULL;
  pr_index_bind_text (stmt, 1, q->text && *q->text ? q->text : NULL);
  pr_index_bind_text (stmt, 2, q->modality && *q->modality ? q->modality : NULL);
  pr_index_bind_text (stmt, 3, q->analyzer && *q->analyzer ? q->analyzer : NULL);
  pr_index_bind_text (stmt, 4, q->priority && *q->priority ? q->priority : NULL);
  pr_index_bind_text (stmt, 5, q->state && *q->state ? q->state : NULL);
  pr_index_bind_text (stmt, 6, q->date_from && *q->date_from ? q->date_from : NULL);
  pr_index_bind_text (stmt, 7, q->date_to && *q->date_to ? q->date_to : NULL);
  sqlite3_bind_int64 (stmt, 8, q->limit ? q->limit : 200);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "studies");
  if (!pr_index_rows_to_json (index, b, stmt, error))
    return NULL;
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- one study ------------------------------------------------------------------ */

static gboolean
add_rows (PrIndex *index, JsonBuilder *b, const char *member, const char *sql, gint64 id, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  json_builder_set_member_name (b, member);
  return pr_index_rows_to_json (index, b, stmt, error);
}

/* The findings document of a done job, and its key images, as the
 * renderer counts them. */
static void
add_findings (JsonBuilder *b, const char *storage_root, gint64 job_id)
{
  g_autoptr (PrJobFolder) folder = pr_job_folder_locate (storage_root, job_id);
  g_autoptr (JsonParser) parser = json_parser_new ();
  json_builder_set_member_name (b, "findings");
  if (json_parser_load_from_file (parser, folder->findings_file, NULL) && json_parser_get_root (parser) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *doc = json_node_get_object (json_parser_get_root (parser));
      JsonNode *findings = json_object_get_member (doc, "findings");
      json_builder_add_value (b, findings ? json_node_copy (findings) : json_node_new (JSON_NODE_NULL));
    }
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "key_images");
  json_builder_begin_array (b);
  g_autoptr (PrReport) report = pr_result_load_report (folder->folder, "ui", NULL, NULL);
  if (report != NULL)
    {
      g_autoptr (GArray) frames = g_array_new (FALSE, FALSE, sizeof (guint));
      g_autoptr (GPtrArray) images = pr_result_key_images (report, frames);
      for (guint i = 0; i < images->len; i++)
        {
          const PrReportImage *image = images->pdata[i];
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "number");
          json_builder_add_int_value (b, i + 1);
          json_builder_set_member_name (b, "sop_instance_uid");
          json_builder_add_string_value (b, image->sop_instance_uid);
          json_builder_set_member_name (b, "frame");
          json_builder_add_int_value (b, g_array_index (frames, guint, i));
          json_builder_end_object (b);
        }
    }
  json_builder_end_array (b);
}

JsonNode *
pr_ui_study (PrIndex *index, const char *storage_root, gint64 study_id, GError **error)
{
  g_autoptr (PrStmt) study = pr_index_statement (index, WORKLIST_SELECT " WHERE st.id = ?1", error);
  if (study == NULL)
    return NULL;
  sqlite3_bind_int64 (study, 1, study_id);
  int rc = sqlite3_step (study);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no study %" G_GINT64_FORMAT, study_id);
      else
        pr_index_fail (index, error, "reading a study");
      return NULL;
    }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "study");
  pr_index_row_to_json (b, study);
  sqlite3_reset (study);

  if (!add_rows (index, b, "series",
                 "SELECT series_uid AS series_instance_uid, modality, body_part AS body_part_examined,"
                 " series_description, series_number, instance_count FROM series WHERE study_id = ?1 ORDER BY id",
                 study_id, error))
    return NULL;
  if (!add_rows (index, b, "results",
                 "SELECT r.id, r.job_id, r.kind, r.sop_instance_uid, r.series_instance_uid, r.created_at,"
                 " (SELECT group_concat (peer || ':' || state) FROM outbox o"
                 "   WHERE o.sop_instance_uid = r.sop_instance_uid) AS deliveries"
                 " FROM results r WHERE r.study_id = ?1 ORDER BY r.id",
                 study_id, error))
    return NULL;
  if (!add_rows (index, b, "feedback",
                 "SELECT id, job_id, finding, verdict, comment, user, analyzer, analyzer_version, created_at"
                 " FROM feedback WHERE study_id = ?1 ORDER BY id",
                 study_id, error))
    return NULL;

  /* The jobs, each with its findings. */
  g_autoptr (PrStmt) jobs = pr_index_statement (
    index,
    "SELECT id, route, analyzer, analyzer_version, state, attempts, reason, summary, result_priority,"
    " results_state, created_at, started_at, finished_at FROM jobs WHERE study_id = ?1 ORDER BY id",
    error);
  if (jobs == NULL)
    return NULL;
  sqlite3_bind_int64 (jobs, 1, study_id);
  json_builder_set_member_name (b, "jobs");
  json_builder_begin_array (b);
  while ((rc = sqlite3_step (jobs)) == SQLITE_ROW)
    {
      gint64 job_id = sqlite3_column_int64 (jobs, 0);
      const char *state = (const char *) sqlite3_column_text (jobs, 4);
      /* The row's members, then the findings, in one object. */
      g_autoptr (JsonBuilder) row = json_builder_new ();
      pr_index_row_to_json (row, jobs);
      g_autoptr (JsonNode) node = json_builder_get_root (row);
      JsonObject *o = json_node_get_object (node);
      json_builder_begin_object (b);
      g_autoptr (GList) members = json_object_get_members (o);
      for (GList *m = members; m; m = m->next)
        {
          json_builder_set_member_name (b, m->data);
          json_builder_add_value (b, json_node_copy (json_object_get_member (o, m->data)));
        }
      if (g_strcmp0 (state, "done") == 0)
        add_findings (b, storage_root, job_id);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "reading a study's jobs");
      return NULL;
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

gint64
pr_ui_study_id_of (PrIndex *index, const char *study_uid, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (index, "SELECT id FROM studies WHERE study_uid = ?", error);
  if (stmt == NULL)
    return 0;
  pr_index_bind_text (stmt, 1, study_uid);
  g_autoptr (GArray) ids = pr_index_collect_ids (index, stmt, "finding a study", error);
  if (ids == NULL)
    return 0;
  if (ids->len == 0)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no study %s", study_uid);
      return 0;
    }
  return g_array_index (ids, gint64, 0);
}
