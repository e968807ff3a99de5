/* pr-job.h: one analyzer run on one study for one route, as the queue keeps it.
 *
 * States and their meaning:
 *   queued     waiting for a slot (and for not_before, after a failed attempt)
 *   running    an analyzer process works on it
 *   done       findings came back
 *   declined   the analyzer says the study is not for it (not an error)
 *   failed     the analyzer failed, or crashed max_attempts times
 *   timed-out  it ran out of time max_attempts times
 *   cancelled  an administrator cancelled it
 * Only queued and running are not final. A daemon killed while a job runs
 * finds it running on restart and puts it back in the queue; the attempt
 * stays counted.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PR_JOB_QUEUED,
  PR_JOB_RUNNING,
  PR_JOB_DONE,
  PR_JOB_DECLINED,
  PR_JOB_FAILED,
  PR_JOB_TIMED_OUT,
  PR_JOB_CANCELLED,
} PrJobState;

typedef struct {
  gint64 id;
  gint64 route_run_id;
  gint64 study_id;
  char *route;
  char *analyzer;
  char *series_uids;            /* JSON array of the selected series' UIDs */
  char *parameters;             /* JSON object: analyzer parameters merged with the route's */
  int priority;                 /* PrPriority */
  PrJobState state;
  int attempts;
  int max_attempts;
  gint64 not_before_us;
  gboolean cancel_requested;
  gint64 created_at_us;
  gint64 started_at_us;         /* 0 when never started */
  gint64 finished_at_us;        /* 0 when not finished */
  char *reason;                 /* (nullable) why it ended as it did */
  char *summary;                /* (nullable) the analyzer's one-line summary */
  char *result_priority;        /* (nullable) routine, urgent or critical */
} PrJob;

const char *pr_job_state_to_string (PrJobState state);

/* Returns: FALSE when @text names no state. */
gboolean pr_job_state_from_string (const char *text, PrJobState *state);

gboolean pr_job_state_is_final (PrJobState state);

void pr_job_free (PrJob *job);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrJob, pr_job_free)

G_END_DECLS
