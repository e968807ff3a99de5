/* pr-hl7-notify.h: the HL7 result notices a done job's route asks for.
 *
 * When a job's results are recorded (pr-results.c), every <notify> of the
 * job's route (as configured now) whose min-priority the job's results
 * reach gets one ORU^R01 (pr-hl7-message.h). Its file is
 * STORAGE/results/JOB/oru-N.hl7, N the <notify>'s place in the route (no
 * name from the wire or the configuration in a path), on disk (fsync)
 * before the index records its outbox item; from there the outbox treats it
 * like any delivery: retries, backoff, give-up horizon, dead letters,
 * `preread outbox`, the web API. A rerun of the job supersedes it with the
 * result objects.
 *
 * The control ID (MSH-10) is "PR", the job id, "." and 8 hex digits of a
 * hash of the installation, the job, its finish time and the peer: made
 * again after a crash it is the same (a receiver can recognise a repeat),
 * and the job's next run gets a new one. At most 20 characters, as older
 * receivers expect, up to job 999 999 999.
 *
 * Logs name jobs, peers and control IDs, never the patient.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"
#include "pr-job.h"

G_BEGIN_DECLS

/**
 * pr_hl7_notify_prepare:
 * @installation_id: pr_index_installation_id()
 *
 * Writes the message files @job's results call for.
 *
 * Returns: (transfer full) (element-type PrResultNotice): one notice per
 * message, for pr_index_record_results(); a message that could not be made
 * is a notice with its error (a dead letter), so the job's DICOM results
 * still go out. Empty when nobody is to be notified.
 */
GPtrArray *pr_hl7_notify_prepare (PrIndex *index, const char *storage_root, const PrConfig *config, const PrJob *job,
                                  const char *installation_id);

/* Returns: (transfer full): the control ID of @job's notice to @peer (see above). */
char *pr_hl7_notify_control_id (const char *installation_id, const PrJob *job, const char *peer);

G_END_DECLS
