/* pr-findings-report.h: an analyzer's findings document as a measurement report.
 *
 * The bridge between the analyzer world (plugin/FINDINGS.md, already
 * checked by pr_findings_read()) and the DICOM result builders
 * (dicom/pr-report.h): codes, regions, measurements and evaluations move
 * across as they are; the job's instances become the report's images; the
 * tracking UIDs are derived from @uid_seed so that a rebuild gives the same
 * UIDs.
 */
#pragma once

#include <glib.h>

#include "dicom/pr-report.h"
#include "plugin/host/pr-job-description.h"

G_BEGIN_DECLS

/**
 * pr_findings_report_new:
 * @job: the job the findings answer
 * @findings_json: the findings document (status "done")
 * @uid_seed: what makes this job's result UIDs unique and stable
 *
 * Returns: (transfer full): the report, or NULL with @error when the
 * document is not usable (G_IO_ERROR_INVALID_DATA).
 */
PrReport *pr_findings_report_new (const PrJobDescription *job, const char *findings_json, const char *uid_seed,
                                  GError **error);

G_END_DECLS
