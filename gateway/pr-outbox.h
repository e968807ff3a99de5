/* pr-outbox.h: delivers outbox items to peers, with backoff and dead letters.
 *
 * Every two seconds (and when woken) it looks for peers with due items and
 * starts, per peer, one delivery child (`preread __deliver`, pr-deliver.h)
 * with a batch of that peer's most urgent items (DICOM objects, or HL7
 * result notices for an hl7-mllp peer: gateway/HL7.md). As the child reports each
 * item: stored items are sent; permanent failures (SOP class not
 * supported, an invalid object, a rejected association) become dead letters
 * at once; transient ones (connection refused, timeout, out of resources)
 * wait retry-base seconds, doubling up to retry-max, with +-25 % jitter so
 * that a recovering PACS is not hit by every gateway at once, and become
 * dead letters when still failing give-up-after seconds after they were
 * queued (or retried by an administrator). Nothing retries forever, and
 * nothing is dropped silently: `preread outbox` shows every dead letter
 * with its last error.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"

G_BEGIN_DECLS

typedef struct _PrOutbox PrOutbox;

/* We call peers with the node's AE title (config->node->ae_title). */
PrOutbox *pr_outbox_new (PrIndex *index, const char *storage_root, const PrConfig *config);

/* Puts items left "sending" by a crash back to pending, and starts polling. */
gboolean pr_outbox_start (PrOutbox *outbox, GError **error);

void pr_outbox_wake (PrOutbox *outbox);

void pr_outbox_set_config (PrOutbox *outbox, const PrConfig *config);

guint pr_outbox_get_n_active (PrOutbox *outbox);

/* Stops the deliveries in progress (their items go back to pending at the next start). */
void pr_outbox_stop (PrOutbox *outbox);

void pr_outbox_free (PrOutbox *outbox);

/* The wait before attempt @attempts + 1 of an item to @peer, jitter included. */
gint64 pr_outbox_backoff_us (const PrPeer *peer, int attempts);

G_END_DECLS
