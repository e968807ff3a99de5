/* pr-photo-private.h: between pr-photo.c (checks, PNG decoding) and the
 * DCMTK side (adapter/pr-photo.cc). Internal to dicom/. */
#pragma once

#include "pr-photo.h"

G_BEGIN_DECLS

/* The pixels: either a JPEG file kept as it is, or decoded RGB. */
typedef struct {
  const char *jpeg_path;         /* (nullable) */
  const guint8 *rgb;             /* (nullable) width x height x 3, when no jpeg_path */
  guint width, height;
} PrPhotoPixels;

/* Writes the object; @facts are already checked, the UIDs filled in. */
gboolean pr_photo_write_dataset (const PrPhotoFacts *facts, const PrPhotoPixels *pixels, const PrBodySite *site,
                                 const char *laterality, const char *sop_instance_uid, const char *output_path,
                                 GError **error);

G_END_DECLS
