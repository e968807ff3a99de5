/* pr-result-objects.h: DICOM result objects from a measurement report.
 *
 * Each builder writes one new instance into the source study (same Study
 * Instance UID, patient and study attributes copied from the source images,
 * a new series and instance from the UIDs given), with the gateway and the
 * algorithm as equipment, and checks it as DCMTK can before writing:
 *
 *   SR    TID 1500 measurement report (Comprehensive SR, or Comprehensive 3D
 *         SR when a region is in patient coordinates);
 *   GSPS  a grayscale softcopy presentation state whose graphic layer draws
 *         every 2D region and its label on the images they are on;
 *   SEG   a binary segmentation, one segment per mask;
 *   SC    a secondary capture key image from pixels rendered elsewhere
 *         (pr-key-image.h), Burned In Annotation YES;
 *   KOS   a key object selection naming the key images.
 *
 * Errors: PR_DICOM_ERROR_INVALID when the report has nothing for this
 * object (no 2D region for a GSPS, no mask for a SEG), PR_DICOM_ERROR_PARSE
 * when a source image cannot be read, PR_DICOM_ERROR_FAILED when DCMTK
 * refuses what we built, G_FILE_ERROR when it cannot be written.
 */
#pragma once

#include <glib.h>

#include "pr-report.h"

G_BEGIN_DECLS

typedef struct {
  const char *path;             /* the Part 10 file to write */
  const char *series_instance_uid;
  const char *sop_instance_uid;
  int series_number;
  int instance_number;
  const char *series_description;
} PrResultTarget;

gboolean pr_result_write_sr (const PrReport *report, const PrResultTarget *target, GError **error);

gboolean pr_result_write_gsps (const PrReport *report, const PrResultTarget *target, GError **error);

gboolean pr_result_write_seg (const PrReport *report, const PrResultTarget *target, GError **error);

/**
 * pr_result_write_sc:
 * @source: the image the key image shows
 * @rgb: @width x @height pixels, 8-bit RGB, rows top to bottom
 */
gboolean pr_result_write_sc (const PrReport *report, const PrResultTarget *target, const PrReportImage *source,
                             guint source_frame, const guint8 *rgb, guint width, guint height, GError **error);

typedef struct {
  const char *sop_class_uid;
  const char *sop_instance_uid;
  const char *series_instance_uid;
} PrResultReference;

/**
 * pr_result_write_kos:
 * @keys: the key images (the SC key images, the source images with findings)
 * @description: (nullable): the key object description (one line)
 */
gboolean pr_result_write_kos (const PrReport *report, const PrResultTarget *target, const PrResultReference *keys,
                              guint n_keys, const char *description, GError **error);

G_END_DECLS
