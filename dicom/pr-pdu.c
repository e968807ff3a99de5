/* pr-pdu.c: A-ASSOCIATE-RJ, byte by byte (PS3.8 9.3.4). */
#include "config.h"

#include "pr-pdu.h"

#include <string.h>

void
pr_pdu_build_associate_rj (guint8 out[PR_PDU_ASSOCIATE_RJ_SIZE], PrRejectResult result,
                           PrRejectSource source, guint8 reason)
{
  memset (out, 0, PR_PDU_ASSOCIATE_RJ_SIZE);
  out[0] = 0x03;          /* PDU type: A-ASSOCIATE-RJ */
  /* out[1] reserved; out[2..5] PDU length, big endian, of what follows */
  out[5] = 4;
  /* out[6] reserved */
  out[7] = (guint8) result;
  out[8] = (guint8) source;
  out[9] = reason;
}
