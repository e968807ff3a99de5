/* pr-scheduler.h: runs queued jobs as supervised analyzer processes.
 *
 * Takes queued jobs from the index, urgent first, within the limits of each
 * analyzer's concurrency and of the machine (one job per processor), writes
 * each a job folder (STORAGE/jobs/ID/job.json, the contract every analyzer
 * reads) and runs the analyzer through plugin/host/pr-supervisor.h. When the
 * process ends, its findings decide the job's state; a crash or a timeout
 * sends it back to the queue after a growing delay, until its attempts run
 * out. Administrators' retries and cancels reach it through the index, which
 * it polls every two seconds.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"

G_BEGIN_DECLS

typedef struct _PrScheduler PrScheduler;

/* A job ended (done, declined, failed...): its results may be delivered. */
typedef void (*PrJobEndedFunc) (gint64 job_id, PrJobState state, gpointer user_data);

/**
 * pr_scheduler_new:
 * @index: (transfer none): must outlive the scheduler
 * @storage_root: the storage folder; job folders go under jobs/
 * @config: (transfer none): must stay valid until replaced with
 *   pr_scheduler_set_config()
 */
PrScheduler *pr_scheduler_new (PrIndex *index, const char *storage_root, const PrConfig *config,
                               PrJobEndedFunc on_ended, gpointer user_data);

/* Puts jobs left running by an earlier process back in the queue and starts
 * taking jobs. */
gboolean pr_scheduler_start (PrScheduler *scheduler, GError **error);

/* New jobs may be waiting: look now rather than at the next poll. */
void pr_scheduler_wake (PrScheduler *scheduler);

void pr_scheduler_set_config (PrScheduler *scheduler, const PrConfig *config);

guint pr_scheduler_get_n_running (PrScheduler *scheduler);

/* Stops every running analyzer; their jobs go back to the queue (the
 * attempt stays counted). Used on shutdown. */
void pr_scheduler_stop_all (PrScheduler *scheduler);

void pr_scheduler_free (PrScheduler *scheduler);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrScheduler, pr_scheduler_free)

G_END_DECLS
