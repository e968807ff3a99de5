/* pr-results.h: builds each done job's result objects, one child at a time.
 *
 * Jobs that end done wait with results_state "pending" (also after a crash,
 * so nothing is lost). For each, a supervised child (`preread
 * __build-results`, pr-result-build.h) writes the objects into
 * STORAGE/results/JOB/; the manifest it leaves is recorded with an outbox
 * item per object and destination of the job's route run. Then the outbox
 * is woken.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"

G_BEGIN_DECLS

typedef struct _PrResults PrResults;

/* Called after a job's results are recorded: deliveries may be waiting. */
typedef void (*PrResultsBuiltFunc) (gint64 job_id, gpointer user_data);

PrResults *pr_results_new (PrIndex *index, const char *storage_root, const PrConfig *config,
                           PrResultsBuiltFunc built, gpointer user_data);

/* Looks for pending jobs now (at start, and after a job ended done). */
void pr_results_wake (PrResults *results);

void pr_results_set_config (PrResults *results, const PrConfig *config);

/* Stops a build in progress (its job stays pending). */
void pr_results_stop (PrResults *results);

void pr_results_free (PrResults *results);

G_END_DECLS
