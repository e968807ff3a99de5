/* pr-mllp.h: a blocking MLLP client (HL7 v2 over TCP), for the delivery child.
 *
 * MLLP frames each message as 0x0B MESSAGE 0x1C 0x0D, and the receiver
 * answers each with one framed ACK on the same connection. The client
 * sends one message at a time and waits for its answer, with a time limit
 * on connecting and one on the answer, so that a peer that accepts and
 * then says nothing costs one ack-timeout, not the delivery's life.
 * Blocking is fine where it runs: the delivery child (pr-deliver.h) does
 * nothing else, and the daemon never waits for it.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PR_MLLP_START 0x0b
#define PR_MLLP_END 0x1c
#define PR_MLLP_END2 0x0d

/* The largest answer read; an ACK is a few hundred bytes. */
#define PR_MLLP_MAX_REPLY (1024 * 1024)

typedef struct _PrMllpClient PrMllpClient;

/* Nothing happens until the first exchange. */
PrMllpClient *pr_mllp_client_new (const char *host, guint16 port, guint connect_timeout_s, guint ack_timeout_s);

/**
 * pr_mllp_client_exchange:
 * @message: the message, unframed
 *
 * Connects when not connected (TCP_NODELAY: each frame is one small write
 * that waits for its answer), sends @message in one frame, and reads one
 * framed answer. A connection the peer closed since the last exchange is
 * opened again once, before anything of @message was answered. After any
 * error the connection is closed: what is in flight is unknown.
 *
 * Returns: (transfer full): the answer, unframed; NULL with @error:
 *   G_IO_ERROR_CONNECTION_REFUSED and the like when connecting fails,
 *   G_IO_ERROR_TIMED_OUT when no (whole) answer came in time,
 *   G_IO_ERROR_CONNECTION_CLOSED when the peer closed without answering,
 *   G_IO_ERROR_INVALID_DATA when the answer is not an MLLP frame.
 */
GBytes *pr_mllp_client_exchange (PrMllpClient *client, const char *message, gsize length, GError **error);

/* Whether the last failure was connecting (nothing was sent). */
gboolean pr_mllp_client_failed_to_connect (PrMllpClient *client);

void pr_mllp_client_free (PrMllpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrMllpClient, pr_mllp_client_free)

/* Returns: (transfer full): @message in an MLLP frame. */
GBytes *pr_mllp_frame (const char *message, gsize length);

/**
 * pr_mllp_unframe:
 * @data: bytes received so far
 * @complete: (out): set when @data holds a whole frame
 *
 * Finds one frame at the start of @data (after any CR or LF a sloppy
 * sender left before it).
 *
 * Returns: (transfer full) (nullable): the message of a complete frame;
 * NULL when incomplete, or with G_IO_ERROR_INVALID_DATA when @data cannot
 * become a frame.
 */
GBytes *pr_mllp_unframe (const guint8 *data, gsize length, gboolean *complete, GError **error);

G_END_DECLS
