/* pr-hl7-message.h: a job's results as an HL7 v2.5.1 ORU^R01 message.
 *
 * What a RIS or PACS worklist takes to flag a study (gateway/HL7.md):
 *
 *   MSH  us, the peer, the message control ID, UTF-8
 *   PID  patient ID, name, birth date, sex
 *   ORC  RE, the accession number as placer and filler order number, priority
 *   OBR  the same numbers, the AI analysis as universal service ID, priority
 *        (S critical, A urgent, R routine), result status P: preliminary
 *   NTE  "AI preliminary result - not a diagnosis"
 *   OBX  1: summary (finding count, top category, the analyzer's line)
 *        2: Study Instance UID, 3: study description
 *        then one per finding: label, measurements with units, category,
 *        confidence
 *
 * Segments end with CR. Every value taken from DICOM or from the findings
 * goes through pr_hl7_escape(): the five delimiters become escape
 * sequences and control characters spaces, so no value can end a field, a
 * segment or an MLLP frame, whatever a modality or an analyzer wrote.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"

G_BEGIN_DECLS

/* At most this many findings get an OBX each; the summary counts them all. */
#define PR_HL7_MAX_FINDING_OBX 100

/* What one ORU^R01 says. All strings owned, all (nullable) unless said. */
typedef struct {
  /* MSH */
  char *control_id;             /* MSH-10; not NULL */
  gint64 created_at_us;         /* MSH-7, ORC-9, OBR-22 */
  char *sending_application;
  char *sending_facility;
  char *receiving_application;
  char *receiving_facility;
  /* the study, as the index has it (DICOM values: PN, DA, CS) */
  char *patient_id;
  char *patient_name;
  char *patient_birth_date;
  char *patient_sex;
  char *accession_number;
  char *study_instance_uid;
  char *study_description;
  /* the job */
  gint64 job_id;
  char *analyzer;
  char *analyzer_version;
  gint64 observed_at_us;        /* OBR-7, OBX-14: when the analysis finished */
  PrResultPriority priority;
  char *summary;                /* the analyzer's one line */
  JsonArray *findings;          /* (nullable) the findings document's "findings" (preread-findings/1) */
} PrHl7Oru;

void pr_hl7_oru_free (PrHl7Oru *oru);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrHl7Oru, pr_hl7_oru_free)

/* Returns: (transfer full): the message, segments ending with "\r". */
char *pr_hl7_oru_render (const PrHl7Oru *oru);

/**
 * pr_hl7_escape:
 * @text: (nullable): UTF-8 (invalid sequences are replaced)
 * @max_chars: keep at most this many characters; 0: all
 *
 * Returns: (transfer full): @text fit for one HL7 component: | ^ & ~ \
 * as \F\ \S\ \T\ \R\ \E\, control characters (CR, LF, MLLP's 0x0B and
 * 0x1C...) as spaces; "" for NULL.
 */
char *pr_hl7_escape (const char *text, guint max_chars);

/* OBR-5 and ORC-7.6: "S" (stat) for critical, "A" (ASAP) for urgent, "R" for routine. */
const char *pr_hl7_priority_code (PrResultPriority priority);

/* Returns: (transfer full) (nullable): MSH-10 of @message, NULL when it
 * does not start with an MSH segment. */
char *pr_hl7_message_control_id (const char *message);

/**
 * pr_index_get_hl7_oru:
 *
 * The study's and the job's part of a notice, from the index: the patient
 * and study as received, not from job.json, which an analyzer could have
 * written to. MSH values, findings and the control ID are left for the
 * caller.
 *
 * Returns: (transfer full): the facts, or NULL with @error.
 */
PrHl7Oru *pr_index_get_hl7_oru (PrIndex *index, gint64 job_id, GError **error);

G_END_DECLS
