/* pr-recovery.h: bringing the index back in line with the spool.
 *
 * An instance is committed to the spool before it is recorded in the index
 * (the spool is the truth). A crash between the two, or a power loss that
 * takes the last index commits, leaves instances on disk the index does not
 * know. Recovery finds them by looking only at series folders changed since
 * the last time recovery ran, and indexes them from the files themselves.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"
#include "pr-spool.h"

G_BEGIN_DECLS

/**
 * pr_recovery_reindex:
 * @since_us: wall-clock time; folders changed before it are skipped
 * @studies: (out) (transfer full) (element-type gint64): studies that received
 *   re-indexed instances, so their completion timers can be armed
 *
 * Returns: the number of instances re-indexed.
 */
guint pr_recovery_reindex (PrSpool *spool, PrIndex *index, gint64 since_us, GArray **studies);

G_END_DECLS
