/* pr-pdu.h: the one upper-layer PDU we build without DCMTK.
 *
 * When every association slot is taken, the listener refuses a new
 * connection itself, without reading its request: handing the socket to
 * DCMTK would mean spending a process (or a thread blocked for the ACSE
 * timeout) on a peer we are about to turn away.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_PDU_ASSOCIATE_RJ_SIZE 10

typedef enum {
  PR_REJECT_PERMANENT = 1,
  PR_REJECT_TRANSIENT = 2,
} PrRejectResult;

typedef enum {
  PR_REJECT_SOURCE_SERVICE_USER = 1,
  PR_REJECT_SOURCE_ACSE = 2,
  PR_REJECT_SOURCE_PRESENTATION = 3,
} PrRejectSource;

/* Reasons for source 3 (service provider, presentation related). */
#define PR_REJECT_REASON_TEMPORARY_CONGESTION 1
#define PR_REJECT_REASON_LOCAL_LIMIT_EXCEEDED 2

/**
 * pr_pdu_build_associate_rj:
 * @out: receives the PDU (PS3.8 9.3.4): type 03H, length 4, result, source, reason
 */
void pr_pdu_build_associate_rj (guint8 out[PR_PDU_ASSOCIATE_RJ_SIZE], PrRejectResult result,
                                PrRejectSource source, guint8 reason);

G_END_DECLS
