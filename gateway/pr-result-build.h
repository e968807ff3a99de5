/* pr-result-build.h: a job's findings into DICOM result objects (a child process).
 *
 * `preread __build-results JOB-FOLDER OUTPUT-FOLDER UID-SEED` reads the
 * job's job.json and findings, and writes into OUTPUT-FOLDER every result
 * object the findings call for:
 *
 *   sr.dcm        always (TID 1500 measurement report)
 *   sc-N.dcm      a key image per image with findings (at most 16)
 *   gsps.dcm      when findings have 2D regions on grayscale images
 *   seg.dcm       when findings have masks
 *   kos.dcm       when there are key images
 *
 * and manifest.json, the list the daemon records and delivers:
 *
 *   { "objects": [ { "kind": "sr", "file": "sr.dcm", "sop_class_uid": ...,
 *                    "sop_instance_uid": ..., "series_instance_uid": ... } ],
 *     "warnings": [ "gsps: ..." ] }
 *
 * It runs as a child, like analyzers: decoding and rendering the source
 * images must not take the daemon down with them. Objects that cannot be
 * made are warnings; only a missing SR fails the build. The same seed gives
 * the same UIDs, so building again after a crash makes no duplicates.
 */
#pragma once

#include <glib.h>

#include "dicom/pr-image-render.h"
#include "dicom/pr-report.h"
#include "plugin/host/pr-job-description.h"

G_BEGIN_DECLS

#define PR_RESULT_BUILD_SUBCOMMAND "__build-results"

/* The most key images one job makes. */
#define PR_RESULT_MAX_KEY_IMAGES 16

int pr_result_build_main (int argc, char **argv);

/**
 * pr_result_load_report:
 * @job_folder: a job folder whose findings say done
 * @job: (out) (optional) (transfer full): its job.json
 *
 * Returns: (transfer full): the job's findings as a measurement report.
 */
PrReport *pr_result_load_report (const char *job_folder, const char *uid_seed, PrJobDescription **job,
                                 GError **error);

/* The window key images of @image are rendered with: the route's
 * "key-image-window" parameter (lung, soft-tissue, bone, brain, image, or
 * CENTER,WIDTH), else the lung window for chest CT, else the image's own. */
PrWindow pr_result_key_image_window (const PrJobDescription *job, const PrReportImage *image);

/**
 * pr_result_key_images:
 * @frames: (element-type guint): receives each image's frame
 *
 * The images key images are made of: each image a finding is drawn on, in
 * finding order (for a mask, the middle slice of its box), at most
 * PR_RESULT_MAX_KEY_IMAGES. The SC objects and the web UI's key images
 * both count them this way.
 *
 * Returns: (transfer container) (element-type PrReportImage): borrowed from @report.
 */
GPtrArray *pr_result_key_images (const PrReport *report, GArray *frames);

/**
 * pr_result_build:
 * @job_folder: a job folder with job.json and output/findings.json
 * @output_folder: created if needed
 * @uid_seed: see pr_findings_report_new()
 *
 * Does the work of the subcommand in this process (for `preread analyze`,
 * which is already a child of nobody important).
 */
gboolean pr_result_build (const char *job_folder, const char *output_folder, const char *uid_seed, GError **error);

G_END_DECLS
