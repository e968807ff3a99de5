/* pr-hl7-ack.h: the receiver's answer to one HL7 message, and what it means for the outbox.
 *
 * We send in original acknowledgment mode (MSH-15/16 empty), so the answer
 * is an ACK whose MSA-1 says:
 *
 *   AA  application accept           sent
 *   CA  commit accept                sent (a receiver in enhanced mode has
 *                                    taken responsibility for the message)
 *   AE  application error            transient: the receiver could not
 *   CE  commit error                 process it now (a database down, a
 *                                    lock); the same message may pass later
 *   AR  application reject           permanent: the receiver refuses this
 *   CR  commit reject                message (type, version, processing ID,
 *                                    a required field); sending the same
 *                                    bytes again cannot help, so it is a
 *                                    dead letter at once, with the reason
 *
 * An answer that is no ACK, or answers another control ID, is not read as
 * any of these: the delivery treats it as transient (the peer may be
 * misconfigured for a while), and says what came back.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PR_HL7_ACK_ACCEPTED,          /* AA, CA */
  PR_HL7_ACK_ERROR,             /* AE, CE */
  PR_HL7_ACK_REJECTED,          /* AR, CR */
} PrHl7AckClass;

typedef struct {
  PrHl7AckClass outcome;
  char *code;                   /* MSA-1 as received: "AA"... */
  char *control_id;             /* MSA-2: the message it answers */
  char *text;                   /* (nullable) MSA-3 or the ERR segment, made printable, at most 200 characters */
} PrHl7Ack;

/**
 * pr_hl7_ack_parse:
 * @message: an unframed HL7 message (segments end with CR; LF is tolerated)
 *
 * Returns: (transfer full): the ACK, or NULL with G_IO_ERROR_INVALID_DATA
 * saying what is wrong with it (no MSH, no MSA, an unknown MSA-1).
 */
PrHl7Ack *pr_hl7_ack_parse (const char *message, gsize length, GError **error);

void pr_hl7_ack_free (PrHl7Ack *ack);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrHl7Ack, pr_hl7_ack_free)

G_END_DECLS
