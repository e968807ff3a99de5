/* pr-key-image-render.h: a job's key image as PNG, with or without the AI overlay.
 *
 * What the web UI shows: `preread __render-key-image JOB-FOLDER N OVERLAY
 * OUTPUT.png` renders the job's Nth key image (counted as
 * pr_result_key_images() counts them, from 1), annotated when OVERLAY is 1,
 * into OUTPUT.png. A child process, like every decoder of stored pixels:
 * the daemon serves the file it leaves.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_KEY_IMAGE_RENDER_SUBCOMMAND "__render-key-image"

int pr_key_image_render_main (int argc, char **argv);

G_END_DECLS
