/* pr-job-folder.h: the folder an analyzer works in, and its job.json.
 *
 *   STORAGE/jobs/<job id>/job.json        what to analyze (schema preread-job/1)
 *   STORAGE/jobs/<job id>/output/         the analyzer writes here, findings.json first
 *   STORAGE/jobs/<job id>/analyzer.log    the analyzer's stderr
 *
 * job.json is the contract with external-program analyzers (documented in
 * plugin/JOB-FOLDER.md): the study's identity and attributes, the series the
 * route selected with their instances' files, and the parameters.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct {
  char *folder;                 /* STORAGE/jobs/ID */
  char *job_file;               /* .../job.json */
  char *output_folder;          /* .../output, emptied for every attempt */
  char *findings_file;          /* .../output/findings.json */
  char *log_file;               /* .../analyzer.log */
} PrJobFolder;

/* Returns: (transfer full): the folder, prepared for a new attempt of @job. */
PrJobFolder *pr_job_folder_prepare (PrIndex *index, const char *storage_root, const PrJob *job, GError **error);

/* Returns: (transfer full): the paths of @job's folder, without touching it. */
PrJobFolder *pr_job_folder_locate (const char *storage_root, gint64 job_id);

void pr_job_folder_free (PrJobFolder *folder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrJobFolder, pr_job_folder_free)

G_END_DECLS
