/* pr-image-render.h: an image frame as 8-bit RGB pixels, for key images.
 *
 * Grayscale images are windowed (the window asked for, else the image's
 * first VOI window, else its minimum and maximum) through DCMTK's display
 * pipeline (modality LUT, VOI, MONOCHROME1 inverted); colour images are
 * converted to RGB. Any transfer syntax DCMTK decodes.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gboolean set;                 /* FALSE: the image's own window */
  double center;
  double width;
} PrWindow;

/**
 * pr_image_render:
 * @frame: 1-based frame of a multi-frame image, 0 for single-frame images
 * @window: (nullable): the window for grayscale images
 * @modality: (out) (optional) (transfer full): the image's Modality
 *
 * Returns: (transfer full): @width x @height x 3 bytes, rows top to bottom;
 * NULL with @error (PR_DICOM_ERROR_PARSE, PR_DICOM_ERROR_FAILED).
 */
guint8 *pr_image_render (const char *path, guint frame, const PrWindow *window, guint *width, guint *height,
                         GError **error);

G_END_DECLS
