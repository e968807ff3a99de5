/* pr-index.h: the SQLite index of everything received.
 *
 * One database file in the storage folder, opened by the daemon and by each
 * receiver process (SQLite WAL lets them write in turn). It holds studies,
 * series, instances and associations with the attributes the router and the
 * worklist need, and later jobs and outbox items.
 *
 * Durability: the index is derived from the spool. Commits use WAL with
 * synchronous=NORMAL, which survives any process crash; after a power loss
 * the last commits may be missing, and pr_daemon's reconciliation re-indexes
 * instances present in the spool but absent here.
 */
#pragma once

#include <glib.h>

#include "dicom/pr-association.h"
#include "dicom/pr-instance-header.h"
#include "pr-job.h"

G_BEGIN_DECLS

#define PR_INDEX_ERROR (pr_index_error_quark ())

typedef enum {
  PR_INDEX_ERROR_SQLITE,     /* SQLite failed; the message has its text */
  PR_INDEX_ERROR_SCHEMA,     /* the file was made by a newer preread */
  PR_INDEX_ERROR_NOT_FOUND,
} PrIndexError;

GQuark pr_index_error_quark (void);

typedef struct _PrIndex PrIndex;

/**
 * pr_index_open:
 * @path: the database file; created with the current schema if missing
 *
 * Returns: (transfer full): the index; free with pr_index_free().
 */
PrIndex *pr_index_open (const char *path, GError **error);

void pr_index_free (PrIndex *index);

/* How an instance came to us. */
typedef struct {
  gint64 association_id;        /* 0 when recovered from the spool */
  const char *calling_ae;       /* (nullable) */
  const char *called_ae;        /* (nullable) */
  const char *relative_path;    /* in the spool */
  gint64 received_at_us;        /* wall clock */
} PrIndexReceipt;

typedef struct {
  gint64 study_id;
  gint64 series_id;
  gint64 instance_id;
  gboolean duplicate;           /* the SOP Instance UID was already indexed: nothing changed */
  gboolean reopened;            /* the study had been complete and receives again */
} PrIndexRecordResult;

/**
 * pr_index_record_instance:
 * @header: the stored instance's attributes
 *
 * Adds the instance, creating its study and series on first sight (the series
 * keeps the first instance's attributes as DICOM JSON for routing), and marks
 * the study as receiving. Idempotent per SOP Instance UID.
 */
gboolean pr_index_record_instance (PrIndex *index, const PrInstanceHeader *header,
                                   const PrIndexReceipt *receipt, PrIndexRecordResult *result,
                                   GError **error);

/* Sets *found when an instance with this spool path is indexed. */
gboolean pr_index_has_instance_path (PrIndex *index, const char *relative_path, gboolean *found,
                                     GError **error);

/* Returns: the new association's id (> 0), or 0 with @error set. */
gint64 pr_index_begin_association (PrIndex *index, const char *peer_address, GError **error);

gboolean pr_index_end_association (PrIndex *index, gint64 association_id,
                                   const PrAssociationSummary *summary, GError **error);

typedef struct {
  gint64 study_id;
  gint64 last_received_at_us;
} PrIndexOpenStudy;

/**
 * pr_index_list_open_studies:
 *
 * Returns: (transfer full) (element-type PrIndexOpenStudy): studies still
 * receiving, for re-arming their quiet timers after a restart.
 */
GArray *pr_index_list_open_studies (PrIndex *index, GError **error);

typedef struct {
  gboolean completed;           /* FALSE: an instance arrived within the quiet period */
  gboolean is_update;           /* the study had been complete before (late instances) */
  gint64 last_received_at_us;   /* to re-arm the timer when not completed */
  guint completion_count;
  guint instance_count;
} PrIndexCompletion;

/**
 * pr_index_complete_study:
 *
 * Marks the study complete if nothing arrived during the last @quiet_us
 * before @now_us. The check and the change are one transaction, so an
 * instance recorded concurrently by a receiver either reopens the study
 * afterwards or prevents the completion.
 */
gboolean pr_index_complete_study (PrIndex *index, gint64 study_id, gint64 quiet_us, gint64 now_us,
                                  PrIndexCompletion *out, GError **error);

/* ---- a study as the router sees it -------------------------------------- */

typedef struct {
  gint64 id;
  char *series_uid;
  char *attributes_json;        /* the first instance's attributes (DICOM JSON) */
  guint instance_count;
  gint64 first_received_at_us;
} PrIndexSeries;

typedef struct {
  gint64 id;
  char *study_uid;
  char *calling_ae;             /* (nullable) of the latest association */
  char *called_ae;              /* (nullable) */
  guint instance_count;
  guint routed_instances;       /* instance count when routing last finished deciding */
  gint64 last_received_at_us;
  gboolean complete;
  GPtrArray *series;            /* PrIndexSeries*, in arrival order */
} PrIndexStudy;

/* Returns: (transfer full): the study with its series; NULL with
 * PR_INDEX_ERROR_NOT_FOUND when there is no such study. */
PrIndexStudy *pr_index_get_study (PrIndex *index, gint64 study_id, GError **error);
void pr_index_study_free (PrIndexStudy *study);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrIndexStudy, pr_index_study_free)

/* Studies whose routing has not caught up with their instances (after a
 * crash, or new instances): (element-type gint64) ids. */
GArray *pr_index_list_unrouted_studies (PrIndex *index, GError **error);

/* Routing has decided everything for @study_id as of @instance_count. */
gboolean pr_index_mark_routed (PrIndex *index, gint64 study_id, guint instance_count, GError **error);

/* ---- route runs ------------------------------------------------------- */

/* The latest run of @route for @study_id: *run = 0 when it never ran. */
gboolean pr_index_last_route_run (PrIndex *index, gint64 study_id, const char *route, guint *run,
                                  guint *instance_count, GError **error);

typedef struct {
  const char *analyzer;
  const char *series_uids_json; /* JSON array */
  const char *parameters_json;  /* JSON object */
  int max_attempts;
  const char *declined_reason;  /* (nullable) when set, the job is created already declined */
} PrIndexNewJob;

typedef struct {
  const char *peer;             /* (nullable) NULL when the destination could not be resolved */
  const char *unresolved_reason;/* (nullable) why: the items are created dead with it */
} PrIndexNewForward;

/**
 * pr_index_create_route_run:
 *
 * Records that @route fired for @study_id, in one transaction with its jobs
 * and with one outbox item per instance for each forward destination (only
 * instances not already forwarded by this route to that peer). A crash
 * leaves all of it or none of it. @results_to_json (a JSON array) records
 * where the jobs' results go, resolved now so that a later configuration
 * change does not redirect them.
 */
gboolean pr_index_create_route_run (PrIndex *index, gint64 study_id, const char *route, const char *trigger,
                                    int priority, guint instance_count, const char *results_to_json,
                                    const PrIndexNewJob *jobs, guint n_jobs,
                                    const PrIndexNewForward *forwards, guint n_forwards, gint64 *run_id,
                                    GError **error);

/* ---- jobs ------------------------------------------------------------- */

typedef struct {
  int state;                    /* a PrJobState, or -1 for any */
  gint64 study_id;              /* 0 for any */
  const char *analyzer;         /* (nullable) */
  guint limit;                  /* 0 for no limit; newest first */
} PrJobFilter;

/* Returns: (transfer full) (element-type PrJob): the jobs that pass @filter. */
GPtrArray *pr_index_list_jobs (PrIndex *index, const PrJobFilter *filter, GError **error);

/* Returns: (transfer full): the job, or NULL with PR_INDEX_ERROR_NOT_FOUND. */
PrJob *pr_index_get_job (PrIndex *index, gint64 job_id, GError **error);

typedef struct {
  char *sop_instance_uid;
  char *sop_class_uid;
  char *path;                   /* relative to the storage folder */
  int instance_number;          /* -1 when absent */
} PrIndexInstance;

void pr_index_instance_free (PrIndexInstance *instance);

/* Returns: (transfer full) (element-type PrIndexInstance): the series'
 * instances in InstanceNumber order (then arrival). */
GPtrArray *pr_index_list_series_instances (PrIndex *index, const char *series_uid, GError **error);

/* Where a route run's results go: its JSON array (see create_route_run). */
char *pr_index_get_route_run_results_to (PrIndex *index, gint64 route_run_id, GError **error);

/* The analyzer version that produced a done job's findings, and how many
 * findings: what feedback statistics are counted against. */
gboolean pr_index_set_job_findings (PrIndex *index, gint64 job_id, const char *version, guint n_findings,
                                    GError **error);

/* Queued jobs (of @analyzer, or of all when NULL) whose not_before has
 * passed, urgent first, oldest first. */
GPtrArray *pr_index_next_runnable_jobs (PrIndex *index, const char *analyzer, gint64 now_us, guint limit,
                                        GError **error);

/* queued -> running, counting the attempt. PR_INDEX_ERROR_NOT_FOUND when the
 * job is no longer queued (cancelled meanwhile). */
gboolean pr_index_start_job (PrIndex *index, gint64 job_id, gint64 now_us, GError **error);

/* running -> a final state. */
gboolean pr_index_finish_job (PrIndex *index, gint64 job_id, PrJobState state, const char *reason,
                              const char *summary, const char *result_priority, GError **error);

/* running -> queued, to try again not before @not_before_us. */
gboolean pr_index_requeue_job (PrIndex *index, gint64 job_id, gint64 not_before_us, const char *reason,
                               GError **error);

/* At startup: every running job goes back to the queue. Returns how many. */
guint pr_index_requeue_running_jobs (PrIndex *index, GError **error);

/* An administrator's retry: a final job goes back to the queue with fresh attempts. */
gboolean pr_index_retry_job (PrIndex *index, gint64 job_id, GError **error);

/* An administrator's cancel: a queued job is cancelled now; a running one is
 * marked for the scheduler to stop (*was_running). */
gboolean pr_index_cancel_job (PrIndex *index, gint64 job_id, gboolean *was_running, GError **error);

/* Running jobs an administrator asked to cancel: (element-type gint64) ids. */
GArray *pr_index_list_cancel_requests (PrIndex *index, GError **error);

/* A small persistent key/value store for the daemon's own bookkeeping. */
gboolean pr_index_get_meta_int (PrIndex *index, const char *key, gint64 *value, GError **error);
gboolean pr_index_set_meta_int (PrIndex *index, const char *key, gint64 value, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrIndex, pr_index_free)

G_END_DECLS
