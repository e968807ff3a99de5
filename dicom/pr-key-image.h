/* pr-key-image.h: drawing the findings onto a rendered image (cairo).
 *
 * A key image must be readable on any PACS screen: small images are scaled
 * up (the shorter side to at least 512 pixels), every finding on the image
 * is outlined in yellow with its number, type, first measurement and
 * confidence, and a caption band below the image says that this is an AI
 * result not for primary diagnosis, which algorithm made it, and the
 * summary. Masks are drawn as their outline on the slice.
 */
#pragma once

#include <glib.h>

#include "pr-report.h"

G_BEGIN_DECLS

/**
 * pr_key_image_paint:
 * @rgb: the rendered image (pr_image_render()), @width x @height x 3
 * @sop_instance_uid: the image, to pick the findings on it
 * @frame: its frame (0 for single-frame images)
 * @annotate: FALSE draws the image, scaled and captioned, without the
 *   findings: the same picture with the AI overlay off
 *
 * Returns: (transfer full): the key image, @out_width x @out_height x 3 bytes.
 */
guint8 *pr_key_image_paint (const guint8 *rgb, guint width, guint height, const PrReport *report,
                            const char *sop_instance_uid, guint frame, gboolean annotate, guint *out_width,
                            guint *out_height);

/* Writes @rgb (@width x @height x 3) as a PNG file. */
gboolean pr_key_image_write_png (const guint8 *rgb, guint width, guint height, const char *path, GError **error);

/* Whether a finding is drawn on this image (and frame). */
gboolean pr_key_image_shows (const PrReportFinding *finding, const char *sop_instance_uid, guint frame);

G_END_DECLS
