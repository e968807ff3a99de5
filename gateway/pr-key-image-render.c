/* pr-key-image-render.c: one key image to a PNG file. */
#include "config.h"

#include "pr-key-image-render.h"

#include <stdio.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-image-render.h"
#include "dicom/pr-key-image.h"
#include "pr-result-build.h"

int
pr_key_image_render_main (int argc, char **argv)
{
  if (argc != 5)
    {
      fprintf (stderr, "usage: preread %s JOB-FOLDER N OVERLAY(0|1) OUTPUT.png\n", PR_KEY_IMAGE_RENDER_SUBCOMMAND);
      return 2;
    }
  guint64 n = g_ascii_strtoull (argv[2], NULL, 10);
  gboolean overlay = g_strcmp0 (argv[3], "1") == 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrReport) report = NULL;
  g_autoptr (PrJobDescription) job = NULL;
  if (pr_dicom_init (&error))
    report = pr_result_load_report (argv[1], "render", &job, &error);
  if (report == NULL)
    {
      fprintf (stderr, "preread render: %s\n", error->message);
      return 1;
    }
  g_autoptr (GArray) frames = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GPtrArray) images = pr_result_key_images (report, frames);
  if (n < 1 || n > images->len)
    {
      fprintf (stderr, "preread render: the job has %u key image(s), not %s\n", images->len, argv[2]);
      return 1;
    }
  const PrReportImage *image = images->pdata[n - 1];
  guint frame = g_array_index (frames, guint, n - 1);
  PrWindow window = pr_result_key_image_window (job, image);
  guint width = 0, height = 0, out_width = 0, out_height = 0;
  g_autofree guint8 *rgb = pr_image_render (image->path, frame, &window, &width, &height, &error);
  if (rgb == NULL)
    {
      fprintf (stderr, "preread render: %s\n", error->message);
      return 1;
    }
  g_autofree guint8 *painted = pr_key_image_paint (rgb, width, height, report, image->sop_instance_uid, frame,
                                                   overlay, &out_width, &out_height);
  if (!pr_key_image_write_png (painted, out_width, out_height, argv[4], &error))
    {
      fprintf (stderr, "preread render: %s\n", error->message);
      return 1;
    }
  return 0;
}
