/* pr-outbox-item.h: one DICOM instance to deliver to one peer, as the index keeps it.
 *
 * States:
 *   pending    waiting for its next attempt (next_attempt_at)
 *   sending    handed to a delivery process now
 *   sent       the peer answered success (dimse_status, sent_at)
 *   dead       a permanent failure, or transient ones for longer than the
 *              peer's give-up horizon: waits for an administrator
 *   cancelled  dropped by an administrator
 * Items are forwarded originals (kind "forward"), result objects ("result"),
 * or HL7 result notices ("hl7", result_kind "oru": sop_instance_uid holds
 * the message's control ID, MSH-10, and dimse_status stays empty).
 * A crash while sending leaves "sending" items, put back to pending at the
 * next start: the peer may receive an instance twice, always with the same
 * SOP Instance UID, which a PACS treats as the same instance.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;
  char *kind;                   /* forward, result, hl7 */
  char *result_kind;            /* (nullable) sr, sc, gsps, seg, kos; oru for hl7 */
  gint64 study_id;
  gint64 job_id;                /* 0 for forwards */
  char *route;                  /* (nullable) */
  char *peer;                   /* (nullable) when the destination never resolved */
  char *sop_instance_uid;       /* for hl7 items: the message control ID */
  char *path;                   /* relative to the storage folder */
  char *state;
  int attempts;
  int priority;
  gint64 next_attempt_at_us;
  gint64 created_at_us;
  gint64 retry_from_us;         /* the give-up horizon counts from here */
  gint64 sent_at_us;            /* 0 when not sent */
  char *last_error;             /* (nullable) */
  int dimse_status;             /* -1 when never answered */
} PrOutboxItem;

void pr_outbox_item_free (PrOutboxItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrOutboxItem, pr_outbox_item_free)

/**
 * pr_index_list_outbox:
 * @state: (nullable): only items in this state
 * @peer: (nullable): only items for this peer
 * @limit: at most this many, most recent first; 0: all
 */
GPtrArray *pr_index_list_outbox (PrIndex *index, const char *state, const char *peer, guint limit, GError **error);

/* Peers with pending items due at @now_us: (element-type utf8), (transfer full). */
GPtrArray *pr_index_outbox_due_peers (PrIndex *index, gint64 now_us, GError **error);

/**
 * pr_index_claim_outbox:
 *
 * Takes up to @limit of @peer's due pending items, most urgent first, and
 * marks them sending with one more attempt.
 *
 * Returns: (transfer full) (element-type PrOutboxItem): the items claimed.
 */
GPtrArray *pr_index_claim_outbox (PrIndex *index, const char *peer, gint64 now_us, guint limit, GError **error);

gboolean pr_index_outbox_sent (PrIndex *index, gint64 id, int dimse_status, GError **error);

/* Back to pending until @next_attempt_us, with why. */
gboolean pr_index_outbox_later (PrIndex *index, gint64 id, gint64 next_attempt_us, const char *why,
                                int dimse_status, GError **error);

gboolean pr_index_outbox_dead (PrIndex *index, gint64 id, const char *why, int dimse_status, GError **error);

/* At startup: items left sending by a crash go back to pending. */
guint pr_index_outbox_requeue_sending (PrIndex *index, GError **error);

/**
 * pr_index_outbox_retry:
 * @id: an item, or 0 for every dead item
 *
 * An administrator's retry: dead (or pending) items become due now, their
 * give-up horizon starting again. Returns how many changed.
 */
guint pr_index_outbox_retry (PrIndex *index, gint64 id, GError **error);

/* An administrator drops a pending or dead item. */
gboolean pr_index_outbox_drop (PrIndex *index, gint64 id, GError **error);

/* How many items are in @state (for status lines and metrics). */
gint64 pr_index_outbox_count (PrIndex *index, const char *state, GError **error);

G_END_DECLS
