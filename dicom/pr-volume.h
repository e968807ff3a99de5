/* pr-volume.h: the images of a series, decoded into one float array.
 *
 * What analyzers receive instead of DICOM: pixel values with the modality
 * LUT applied (Hounsfield units for CT), slices sorted along their normal,
 * and the geometry to map voxels to patient coordinates. Decodes whatever
 * transfer syntax DCMTK can (uncompressed, deflate, RLE, JPEG, JPEG-LS);
 * multi-frame instances contribute one slice per frame, with per-frame
 * geometry from the functional groups when present.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_VOLUME_UNEVEN_SPACING (1u << 0)
#define PR_VOLUME_TILTED (1u << 1)
#define PR_VOLUME_SINGLE_IMAGE (1u << 2)
#define PR_VOLUME_SPACING_UNKNOWN (1u << 3)

typedef struct {
  guint columns, rows, slices;
  guint samples_per_pixel;      /* 1, or 3 (RGB, 0..255) */
  guint flags;                  /* PR_VOLUME_* */
  double spacing[3];            /* mm: columns, rows, slices (mean) */
  double origin[3];             /* patient position of the first voxel's centre */
  double row_direction[3];
  double column_direction[3];
  double normal[3];
  float *voxels;                /* slices * rows * columns * samples_per_pixel, x fastest */
  double *slice_positions;      /* along the normal, mm */
  char **slice_instances;       /* SOP Instance UID of each slice */
  guint *slice_frames;          /* 1-based frame of each slice, 0 for single-frame instances */
} PrVolume;

/**
 * pr_volume_load:
 * @paths: the series' instance files
 * @n_paths: how many
 * @max_voxels: refuse (PR_DICOM_ERROR_INVALID) volumes with more voxels than this; 0: no limit
 * @error: PR_DICOM_ERROR_PARSE (unreadable), PR_DICOM_ERROR_INVALID (images of
 *   different size or orientation, no pixel data), PR_DICOM_ERROR_FAILED
 *   (a transfer syntax DCMTK cannot decode), G_FILE_ERROR_NOMEM (the voxels
 *   do not fit in memory)
 *
 * Returns: (transfer full): the volume; free with pr_volume_free().
 */
PrVolume *pr_volume_load (const char *const *paths, guint n_paths, guint64 max_voxels, GError **error);

/**
 * pr_volume_load_frames:
 * @path: one instance file
 *
 * The frames of one image in frame order (not sorted by position), with
 * that image's geometry: for series whose images do not form one volume.
 * Errors as pr_volume_load().
 *
 * Returns: (transfer full): the frames as a volume of one slice per frame.
 */
PrVolume *pr_volume_load_frames (const char *path, guint64 max_voxels, GError **error);

void pr_volume_free (PrVolume *volume);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrVolume, pr_volume_free)

G_END_DECLS
