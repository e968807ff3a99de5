/* pr-index-ui-admin.c: jobs, outbox, analyzers, feedback and the audit trail for the web UI. */
#include "config.h"

#include "pr-ui-queries.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pr-analyzer-health.h"
#include "pr-index-private.h"

static JsonNode *
rows_as (PrIndex *index, const char *member, sqlite3_stmt *stmt, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, member);
  if (!pr_index_rows_to_json (index, b, stmt, error))
    return NULL;
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pr_ui_jobs (PrIndex *index, const char *state, guint limit, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT j.id, j.study_id, s.patient_id, s.accession_number, j.route, j.analyzer, j.analyzer_version, j.state,"
    " j.attempts, j.max_attempts, j.reason, j.summary, j.result_priority, j.results_state, j.results_error,"
    " j.created_at, j.started_at, j.finished_at FROM jobs j JOIN studies s ON s.id = j.study_id"
    " WHERE (?1 IS NULL OR j.state = ?1) ORDER BY j.id DESC LIMIT ?2",
    error);
  if (stmt == NULL)
    return NULL;
  pr_index_bind_text (stmt, 1, state && *state ? state : NULL);
  sqlite3_bind_int64 (stmt, 2, limit ? limit : 200);
  return rows_as (index, "jobs", stmt, error);
}

JsonNode *
pr_ui_outbox (PrIndex *index, const char *state, guint limit, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT id, kind, result_kind, study_id, job_id, route, peer, sop_instance_uid, state, attempts, priority,"
    " last_error, dimse_status, created_at, next_attempt_at, sent_at FROM outbox"
    " WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2",
    error);
  if (stmt == NULL)
    return NULL;
  pr_index_bind_text (stmt, 1, state && *state ? state : NULL);
  sqlite3_bind_int64 (stmt, 2, limit ? limit : 200);
  return rows_as (index, "items", stmt, error);
}

/* ---- statistics --------------------------------------------------------------------- */

void
pr_ui_wilson (guint successes, guint trials, double *low, double *high)
{
  if (trials == 0)
    {
      *low = 0;
      *high = 1;
      return;
    }
  const double z = 1.959964;
  double n = trials, p = successes / n;
  double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
  double half = z * sqrt (p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  *low = MAX (0, centre - half);
  *high = MIN (1, centre + half);
}

static void
add_rate (JsonBuilder *b, const char *name, guint successes, guint trials)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, successes);
  json_builder_set_member_name (b, "of");
  json_builder_add_int_value (b, trials);
  json_builder_set_member_name (b, "value");
  if (trials > 0)
    json_builder_add_double_value (b, (double) successes / trials);
  else
    json_builder_add_null_value (b);
  double low, high;
  pr_ui_wilson (successes, trials, &low, &high);
  json_builder_set_member_name (b, "ci95");
  json_builder_begin_array (b);
  json_builder_add_double_value (b, low);
  json_builder_add_double_value (b, high);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

typedef struct {
  char *analyzer;
  char *version;
  guint agree, disagree, missed;  /* finding-level verdicts */
  guint tp, fp, tn, fn;           /* study-level (per judged job) */
  guint judged_jobs;
} Tally;

static void
tally_free (Tally *t)
{
  g_free (t->analyzer);
  g_free (t->version);
  g_free (t);
}

/* One judged job into its analyzer version's tally. A job "flagged" the
 * study when it reported findings. Flagged: true positive when a finding
 * was agreed with; false positive when the study was marked negative or
 * every judged finding was disagreed with. Not flagged: true negative when
 * marked negative, false negative when a missed finding was marked. */
static void
tally_job (Tally *t, gint64 findings, guint agree, guint disagree, guint missed, guint negative)
{
  t->agree += agree;
  t->disagree += disagree;
  t->missed += missed;
  t->judged_jobs++;
  gboolean flagged = findings > 0;
  if (flagged && agree > 0)
    t->tp++;
  else if (flagged && (negative > 0 || disagree > 0))
    t->fp++;
  else if (!flagged && missed > 0)
    t->fn++;
  else if (!flagged && negative > 0)
    t->tn++;
}

static GPtrArray *
feedback_tallies (PrIndex *index, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT j.analyzer, coalesce (j.analyzer_version, 'unknown'), coalesce (j.finding_count, 0),"
    " sum (f.verdict = 'agree'), sum (f.verdict = 'disagree'), sum (f.verdict = 'missed'),"
    " sum (f.verdict = 'negative')"
    " FROM feedback f JOIN jobs j ON j.id = f.job_id GROUP BY j.id ORDER BY j.analyzer, 2",
    error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (GPtrArray) tallies = g_ptr_array_new_with_free_func ((GDestroyNotify) tally_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *analyzer = (const char *) sqlite3_column_text (stmt, 0);
      const char *version = (const char *) sqlite3_column_text (stmt, 1);
      Tally *t = tallies->len ? tallies->pdata[tallies->len - 1] : NULL;
      if (t == NULL || strcmp (t->analyzer, analyzer) != 0 || strcmp (t->version, version) != 0)
        {
          t = g_new0 (Tally, 1);
          t->analyzer = g_strdup (analyzer);
          t->version = g_strdup (version);
          g_ptr_array_add (tallies, t);
        }
      tally_job (t, sqlite3_column_int64 (stmt, 2), (guint) sqlite3_column_int (stmt, 3),
                 (guint) sqlite3_column_int (stmt, 4), (guint) sqlite3_column_int (stmt, 5),
                 (guint) sqlite3_column_int (stmt, 6));
    }
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "reading feedback");
      return NULL;
    }
  return g_steal_pointer (&tallies);
}

static void
add_tallies (JsonBuilder *b, GPtrArray *tallies, const char *analyzer)
{
  json_builder_set_member_name (b, "feedback");
  json_builder_begin_array (b);
  for (guint i = 0; i < tallies->len; i++)
    {
      const Tally *t = tallies->pdata[i];
      if (strcmp (t->analyzer, analyzer) != 0)
        continue;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, t->version);
      json_builder_set_member_name (b, "judged_studies");
      json_builder_add_int_value (b, t->judged_jobs);
      add_rate (b, "agreement", t->agree, t->agree + t->disagree);
      add_rate (b, "finding_sensitivity", t->agree, t->agree + t->missed);
      add_rate (b, "ppv", t->tp, t->tp + t->fp);
      add_rate (b, "sensitivity", t->tp, t->tp + t->fn);
      add_rate (b, "specificity", t->tn, t->tn + t->fp);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static int
compare_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

guint
pr_ui_latency (PrIndex *index, const char *analyzer, double *p50_s, double *p95_s)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT finished_at - started_at FROM jobs WHERE analyzer = ? AND state = 'done' AND started_at > 0"
    " ORDER BY id DESC LIMIT 200",
    NULL);
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, analyzer, -1, SQLITE_TRANSIENT);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          gint64 v = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (values, v);
        }
    }
  if (values->len == 0)
    return 0;
  qsort (values->data, values->len, sizeof (gint64), compare_gint64);
  /* Nearest rank: the smallest value at or above the quantile. */
  guint n = values->len;
  *p50_s = g_array_index (values, gint64, MIN (n - 1, (guint) ceil (0.5 * n) - 1)) / 1e6;
  *p95_s = g_array_index (values, gint64, MIN (n - 1, (guint) ceil (0.95 * n) - 1)) / 1e6;
  return n;
}

static void
add_latency (PrIndex *index, JsonBuilder *b, const char *analyzer)
{
  double p50 = 0, p95 = 0;
  gboolean known = pr_ui_latency (index, analyzer, &p50, &p95) > 0;
  json_builder_set_member_name (b, "latency_p50_s");
  known ? json_builder_add_double_value (b, p50) : json_builder_add_null_value (b);
  json_builder_set_member_name (b, "latency_p95_s");
  known ? json_builder_add_double_value (b, p95) : json_builder_add_null_value (b);
}

JsonNode *
pr_ui_analyzers (PrIndex *index, GError **error)
{
  g_autoptr (GPtrArray) tallies = feedback_tallies (index, error);
  if (tallies == NULL)
    return NULL;
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT a.name, sum (j.state = 'queued'), sum (j.state = 'running'), sum (j.state = 'done'),"
    " sum (j.state = 'declined'), sum (j.state IN ('failed', 'timed-out')),"
    " (SELECT analyzer_version FROM jobs WHERE analyzer = a.name AND analyzer_version IS NOT NULL"
    "   ORDER BY id DESC LIMIT 1)"
    " FROM (SELECT DISTINCT analyzer AS name FROM jobs UNION SELECT analyzer FROM analyzer_health) a"
    " LEFT JOIN jobs j ON j.analyzer = a.name GROUP BY a.name ORDER BY a.name",
    error);
  if (stmt == NULL)
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "analyzers");
  json_builder_begin_array (b);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (stmt, 0);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, name);
      const char *counts[] = { "queued", "running", "done", "declined", "failed" };
      for (int i = 0; i < 5; i++)
        {
          json_builder_set_member_name (b, counts[i]);
          json_builder_add_int_value (b, sqlite3_column_int64 (stmt, i + 1));
        }
      json_builder_set_member_name (b, "version");
      if (sqlite3_column_type (stmt, 6) == SQLITE_NULL)
        json_builder_add_null_value (b);
      else
        json_builder_add_string_value (b, (const char *) sqlite3_column_text (stmt, 6));
      add_latency (index, b, name);
      g_autoptr (PrAnalyzerHealth) health = pr_index_get_analyzer_health (index, name, NULL);
      json_builder_set_member_name (b, "consecutive_failures");
      json_builder_add_int_value (b, health ? health->consecutive_failures : 0);
      json_builder_set_member_name (b, "quarantined");
      json_builder_add_boolean_value (b, health && health->quarantined_at_us != 0);
      json_builder_set_member_name (b, "quarantine_reason");
      if (health && health->quarantine_reason)
        json_builder_add_string_value (b, health->quarantine_reason);
      else
        json_builder_add_null_value (b);
      add_tallies (b, tallies, name);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  if (rc != SQLITE_DONE)
    {
      pr_index_fail (index, error, "reading analyzers");
      return NULL;
    }
  return json_builder_get_root (b);
}

/* ---- what people write ------------------------------------------------------------- */

gboolean
pr_ui_add_feedback (PrIndex *index, gint64 job_id, int finding, const char *verdict, const char *comment,
                    const char *user, GError **error)
{
  gboolean per_finding = g_strcmp0 (verdict, "agree") == 0 || g_strcmp0 (verdict, "disagree") == 0;
  if (!per_finding && g_strcmp0 (verdict, "missed") != 0 && g_strcmp0 (verdict, "negative") != 0)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "no verdict \"%s\"", verdict);
      return FALSE;
    }
  /* Only done jobs are judged, and only findings they have. */
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "INSERT INTO feedback (study_id, job_id, finding, verdict, comment, user, analyzer, analyzer_version,"
    " created_at)"
    " SELECT study_id, id, ?2, ?3, ?4, ?5, analyzer, coalesce (analyzer_version, 'unknown'), ?6 FROM jobs"
    " WHERE id = ?1 AND state = 'done' AND (?2 IS NULL OR ?2 BETWEEN 1 AND coalesce (finding_count, 0))"
    " ON CONFLICT (job_id, coalesce (finding, 0), user) WHERE verdict IN ('agree', 'disagree', 'negative')"
    " DO UPDATE SET verdict = excluded.verdict, comment = excluded.comment, created_at = excluded.created_at",
    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, job_id);
  if (per_finding)
    sqlite3_bind_int (stmt, 2, finding);
  else
    sqlite3_bind_null (stmt, 2);
  pr_index_bind_text (stmt, 3, verdict);
  pr_index_bind_text (stmt, 4, comment && *comment ? comment : NULL);
  pr_index_bind_text (stmt, 5, user);
  sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
  if (!pr_index_step_done (index, stmt, error, "recording feedback"))
    return FALSE;
  if (sqlite3_changes (index->db) == 0)
    {
      if (per_finding)
        g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND,
                     "job %" G_GINT64_FORMAT " is not done, or has no finding %d", job_id, finding);
      else
        g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "job %" G_GINT64_FORMAT " is not done",
                     job_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
pr_ui_audit (PrIndex *index, const char *user, const char *role, const char *action, const char *target,
             const char *detail, const char *remote, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index, "INSERT INTO audit (at, user, role, action, target, detail, remote) VALUES (?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, g_get_real_time ());
  pr_index_bind_text (stmt, 2, user);
  pr_index_bind_text (stmt, 3, role);
  pr_index_bind_text (stmt, 4, action);
  pr_index_bind_text (stmt, 5, target);
  pr_index_bind_text (stmt, 6, detail);
  pr_index_bind_text (stmt, 7, remote);
  return pr_index_step_done (index, stmt, error, "writing the audit trail");
}

JsonNode *
pr_ui_audit_log (PrIndex *index, guint limit, GError **error)
{
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index, "SELECT id, at AS logged_at, user, role, action, target, detail, remote FROM audit ORDER BY id DESC LIMIT ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, limit ? limit : 200);
  return rows_as (index, "audit", stmt, error);
}
