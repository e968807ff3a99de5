/* pr-ui-queries.h: the index as the web UI and the REST API read it.
 *
 * Read models built straight as JSON (the shape ui-glue/API.md documents),
 * and the two things people write: feedback on findings, and the audit
 * trail of who did what. Patient data leaves through here only to
 * authenticated callers; ui-glue checks that before it asks.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct {
  const char *text;             /* (nullable) in patient name or id, accession, description */
  const char *modality;         /* (nullable) */
  const char *analyzer;         /* (nullable) */
  const char *priority;         /* (nullable) routine, urgent, critical */
  const char *state;            /* (nullable) receiving, waiting, analyzing, analyzed, failed */
  const char *date_from;        /* (nullable) YYYYMMDD, study date */
  const char *date_to;          /* (nullable) */
  guint limit;                  /* 0: 200 */
} PrWorklistQuery;

/* Studies, most urgent AI priority first, then the newest. */
JsonNode *pr_ui_worklist (PrIndex *index, const PrWorklistQuery *query, GError **error);

/* One study: patient and study attributes, series, each job with its
 * findings (from its findings file), key images, result objects and their
 * deliveries, and the feedback given. PR_INDEX_ERROR_NOT_FOUND when absent. */
JsonNode *pr_ui_study (PrIndex *index, const char *storage_root, gint64 study_id, GError **error);

/* The study with this Study Instance UID; 0 and PR_INDEX_ERROR_NOT_FOUND when none. */
gint64 pr_ui_study_id_of (PrIndex *index, const char *study_uid, GError **error);

JsonNode *pr_ui_jobs (PrIndex *index, const char *state, guint limit, GError **error);
JsonNode *pr_ui_outbox (PrIndex *index, const char *state, guint limit, GError **error);

/* Per analyzer: queue depth, running, outcomes, latency p50/p95 of its
 * last 200 runs, health and quarantine, and per version the feedback
 * statistics with 95 % Wilson intervals (see ui-glue/API.md). */
JsonNode *pr_ui_analyzers (PrIndex *index, GError **error);

/**
 * pr_ui_add_feedback:
 * @finding: 1-based finding number for agree and disagree; 0 otherwise
 * @verdict: agree, disagree, missed or negative
 *
 * A user's later verdict on the same finding (or study) replaces the
 * earlier one; "missed" marks accumulate.
 */
gboolean pr_ui_add_feedback (PrIndex *index, gint64 job_id, int finding, const char *verdict, const char *comment,
                             const char *user, GError **error);

gboolean pr_ui_audit (PrIndex *index, const char *user, const char *role, const char *action, const char *target,
                      const char *detail, const char *remote, GError **error);

JsonNode *pr_ui_audit_log (PrIndex *index, guint limit, GError **error);

/* Prometheus text exposition (version 0.0.4) of the gateway's counters. */
char *pr_ui_metrics (PrIndex *index, GError **error);

/* p50 and p95 run time (s) of @analyzer's last 200 done jobs; returns how
 * many there were (0: none, and the outputs untouched). */
guint pr_ui_latency (PrIndex *index, const char *analyzer, double *p50_s, double *p95_s);

/* The Wilson score interval of @successes in @trials at 95 %. */
void pr_ui_wilson (guint successes, guint trials, double *low, double *high);

G_END_DECLS
