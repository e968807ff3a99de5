/* pr-deliver.h: one batch of outbox items to one peer, in a child process.
 *
 * `preread __deliver BATCH-FILE` reads the batch (the peer, and item ids
 * with their files), sends every file with C-STORE in as few associations
 * as it can (over TLS when the peer has <tls>), or, for an HL7 peer, each
 * message over MLLP (pr-hl7-deliver.h), and reports each item on stdout as
 * soon as it is settled:
 *
 *   ok ID STATUS                      stored (STATUS: the DIMSE status, hex)
 *   fail ID transient STATUS TEXT     try again later
 *   fail ID permanent STATUS TEXT     a dead letter: trying again will not help
 *
 * (STATUS is "-" when the peer never answered for the item). The daemon
 * (pr-outbox.c) applies the lines to the index; an item the child never
 * reported (it crashed, or was killed at its time limit) counts as a
 * transient failure. A child, because network code blocks and a peer can
 * hang: the daemon must keep receiving meanwhile.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_DELIVER_SUBCOMMAND "__deliver"

int pr_deliver_main (int argc, char **argv);

/* Whether a C-STORE failure status is worth retrying: 0xA7xx (out of
 * resources), 0x0110 (processing failure) and 0xFE00 (cancelled) are;
 * 0xA9xx (data set does not match the SOP class), 0x0122 (SOP class not
 * supported), 0xCxxx (cannot understand) and the rest are not. */
gboolean pr_deliver_status_is_transient (guint16 status);

/* Returns: (transfer none): a few words on a DIMSE status. */
const char *pr_deliver_status_text (guint16 status);

G_END_DECLS
