/* pr-index-metrics.c: the gateway's counters in Prometheus' text format. */
#include "config.h"

#include "pr-ui-queries.h"

#include "pr-index-private.h"

/* One metric from @sql: one column is the value; two are a label value
 * (named by the column) and the value. */
static void
metric_rows (PrIndex *index, GString *out, const char *name, const char *type, const char *help, const char *sql)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  g_autoptr (PrStmt) stmt = pr_index_statement (index, sql, NULL);
  while (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    {
      int value = sqlite3_column_count (stmt) - 1;
      char number[G_ASCII_DTOSTR_BUF_SIZE];
      if (sqlite3_column_type (stmt, value) == SQLITE_FLOAT)
        g_ascii_formatd (number, sizeof number, "%.9g", sqlite3_column_double (stmt, value));
      else
        g_snprintf (number, sizeof number, "%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, value));
      if (value == 0)
        g_string_append_printf (out, "%s %s\n", name, number);
      else
        g_string_append_printf (out, "%s{%s=\"%s\"} %s\n", name, sqlite3_column_name (stmt, 0),
                                (const char *) sqlite3_column_text (stmt, 0), number);
    }
}

/* Run time of done jobs as a summary: p50 and p95 of the last 200 runs,
 * sum and count of all. */
static void
latency_summary (PrIndex *index, GString *out)
{
  const char *name = "preread_analyzer_latency_seconds";
  g_string_append_printf (out, "# HELP %s Run time of done analysis jobs (quantiles over the last 200)\n"
                               "# TYPE %s summary\n", name, name);
  g_autoptr (PrStmt) stmt = pr_index_statement (
    index,
    "SELECT analyzer, sum (finished_at - started_at) / 1e6, count (*) FROM jobs"
    " WHERE state = 'done' AND started_at > 0 GROUP BY analyzer ORDER BY analyzer",
    NULL);
  while (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *analyzer = (const char *) sqlite3_column_text (stmt, 0);
      double p50 = 0, p95 = 0;
      char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], sum[G_ASCII_DTOSTR_BUF_SIZE];
      if (pr_ui_latency (index, analyzer, &p50, &p95) > 0)
        g_string_append_printf (out, "%s{analyzer=\"%s\",quantile=\"0.5\"} %s\n"
                                     "%s{analyzer=\"%s\",quantile=\"0.95\"} %s\n",
                                name, analyzer, g_ascii_formatd (a, sizeof a, "%.9g", p50), name, analyzer,
                                g_ascii_formatd (b, sizeof b, "%.9g", p95));
      g_string_append_printf (out, "%s_sum{analyzer=\"%s\"} %s\n%s_count{analyzer=\"%s\"} %" G_GINT64_FORMAT "\n",
                              name, analyzer, g_ascii_formatd (sum, sizeof sum, "%.9g", sqlite3_column_double (stmt, 1)),
                              name, analyzer, (gint64) sqlite3_column_int64 (stmt, 2));
    }
}

/* Each metric is one query: one row per label value, or a single number. */
static const struct {
  const char *name, *type, *help, *sql;
} metrics[] = {
  { "preread_associations_total", "counter", "DICOM associations accepted",
    "SELECT count (*) FROM associations" },
  { "preread_instances_total", "counter", "Instances stored",
    "SELECT count (*) FROM instances" },
  { "preread_received_bytes_total", "counter", "Bytes of instances stored",
    "SELECT coalesce (sum (size), 0) FROM instances" },
  { "preread_studies", "gauge", "Studies by state",
    "SELECT state, count (*) FROM studies GROUP BY state" },
  { "preread_jobs", "gauge", "Analysis jobs by state",
    "SELECT state, count (*) FROM jobs GROUP BY state" },
  { "preread_analyzer_queue_depth", "gauge", "Jobs waiting, by analyzer",
    "SELECT analyzer, count (*) FROM jobs WHERE state = 'queued' GROUP BY analyzer" },
  { "preread_analyzer_runs_total", "counter", "Finished analyzer runs by analyzer",
    "SELECT analyzer, count (*) FROM jobs WHERE state NOT IN ('queued', 'running') GROUP BY analyzer" },
  { "preread_outbox_items", "gauge", "Deliveries by state",
    "SELECT state, count (*) FROM outbox GROUP BY state" },
  { "preread_outbox_retries_total", "counter", "Delivery attempts beyond the first",
    "SELECT coalesce (sum (max (attempts - 1, 0)), 0) FROM outbox" },
  { "preread_dead_letters", "gauge", "Deliveries given up, waiting for an administrator",
    "SELECT count (*) FROM outbox WHERE state = 'dead'" },
  { "preread_result_objects_total", "counter", "Result objects made by kind",
    "SELECT kind, count (*) FROM results GROUP BY kind" },
  { "preread_feedback_total", "counter", "Radiologist feedback by verdict",
    "SELECT verdict, count (*) FROM feedback GROUP BY verdict" },
  { "preread_quarantined_analyzers", "gauge", "Analyzers in quarantine",
    "SELECT count (*) FROM analyzer_health WHERE quarantined_at IS NOT NULL" },
};

char *
pr_ui_metrics (PrIndex *index, GError **error)
{
  GString *out = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (metrics); i++)
    metric_rows (index, out, metrics[i].name, metrics[i].type, metrics[i].help, metrics[i].sql);
  latency_summary (index, out);
  return g_string_free (out, FALSE);
}
