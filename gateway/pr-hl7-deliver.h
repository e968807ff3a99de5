/* pr-hl7-deliver.h: the delivery child's HL7 half (see pr-deliver.h).
 *
 * A batch for a peer with protocol="hl7-mllp" holds the peer's host, port
 * and time limits, and items with their message file and control ID:
 *
 *   { "protocol": "hl7-mllp", "host": ..., "port": 2575, "connect_timeout": 10,
 *     "ack_timeout": 30, "items": [ { "id": 7, "path": "/abs/oru-1.hl7", "control_id": "PR12.9f3a0c1d" } ] }
 *
 * Messages go one at a time over one connection, most urgent first, each
 * waiting for its ACK (pr-hl7-ack.h says what each code means). Reports are
 * the same lines as for DICOM, with "-" for the status (HL7 has no DIMSE
 * status; the ACK code is in the text). When the peer cannot be reached
 * or does not answer in time, the items after it are not tried: they are
 * reported transient with the same reason, rather than each waiting out
 * its own timeout.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PR_HL7_PROTOCOL "hl7-mllp"

/* The largest message file sent; ours are a few kilobytes. */
#define PR_HL7_MAX_MESSAGE_BYTES (8 * 1024 * 1024)

/* Delivers @batch (the parsed batch file), reporting on stdout. Returns the exit status. */
int pr_hl7_deliver_batch (JsonObject *batch);

G_END_DECLS
