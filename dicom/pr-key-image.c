/* pr-key-image.c: outlines, labels and the caption, with cairo. */
#include "config.h"

#include "pr-key-image.h"

#include <math.h>
#include <string.h>

#include <cairo.h>
#include <glib/gstdio.h>
#include <unistd.h>

/* The shorter side of a key image is at least this, so that labels read. */
#define MIN_SIDE 512
#define MAX_SIDE 4096

gboolean
pr_key_image_shows (const PrReportFinding *f, const char *sop_instance_uid, guint frame)
{
  const PrReportRegion *r = &f->region;
  if (r->shape >= PR_REGION_POINT && r->shape <= PR_REGION_ELLIPSE)
    return g_strcmp0 (r->sop_instance_uid, sop_instance_uid) == 0 && r->frame == frame;
  if (r->shape == PR_REGION_MASK)
    for (guint z = 0; z < r->box[5]; z++)
      if (g_strcmp0 (r->slice_sop_instance_uids[z], sop_instance_uid) == 0 &&
          (r->slice_frames == NULL || r->slice_frames[z] == frame))
        return TRUE;
  return FALSE;
}

/* A UCUM unit as a reader expects it: no "1", HU for Hounsfield units,
 * an annotation's text without its braces ("{pixels}" -> "pixels"). */
static char *
unit_text (const char *unit)
{
  if (unit == NULL || strcmp (unit, "1") == 0)
    return g_strdup ("");
  if (strcmp (unit, "[hnsf'U]") == 0)
    return g_strdup ("HU");
  gsize n = strlen (unit);
  if (n >= 2 && unit[0] == '{' && unit[n - 1] == '}')
    return g_strndup (unit + 1, n - 2);
  return g_strdup (unit);
}

static char *
label_of (const PrReportFinding *f)
{
  GString *label = g_string_new (NULL);
  g_string_append_printf (label, "%u %s", f->number, f->type.meaning ? f->type.meaning : "finding");
  if (f->measurements->len > 0)
    {
      const PrReportMeasurement *m = &g_array_index (f->measurements, PrReportMeasurement, 0);
      g_autofree char *unit = unit_text (m->unit);
      g_string_append_printf (label, fabs (m->value) >= 1000 ? " %.0f%s%s" : " %.4g%s%s", m->value,
                              *unit ? " " : "", unit);
    }
  if (f->confidence >= 0)
    g_string_append_printf (label, " (%d%%)", (int) lround (f->confidence * 100));
  return g_string_free (label, FALSE);
}

/* Text with a dark outline: readable on any background. */
static void
outlined_text (cairo_t *cr, double x, double y, const char *text, double r, double g, double b)
{
  cairo_move_to (cr, x, y);
  cairo_text_path (cr, text);
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_line_width (cr, 3);
  cairo_stroke_preserve (cr);
  cairo_set_source_rgb (cr, r, g, b);
  cairo_fill (cr);
}

static void
draw_mask_outline (cairo_t *cr, const PrReportRegion *r, guint z, double s)
{
  guint width = r->box[3], height = r->box[4];
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        guint64 bit = ((guint64) z * height + y) * width + x;
        if (!(r->bits[bit / 8] & (1u << (bit % 8))))
          continue;
        /* An edge of the mask: where the neighbour is outside. */
        static const int dx[] = { -1, 1, 0, 0 }, dy[] = { 0, 0, -1, 1 };
        for (int k = 0; k < 4; k++)
          {
            int nx = (int) x + dx[k], ny = (int) y + dy[k];
            gboolean inside = nx >= 0 && ny >= 0 && nx < (int) width && ny < (int) height;
            if (inside)
              {
                guint64 nbit = ((guint64) z * height + (guint) ny) * width + (guint) nx;
                inside = (r->bits[nbit / 8] & (1u << (nbit % 8))) != 0;
              }
            if (inside)
              continue;
            double px = (r->box[0] + x) * s, py = (r->box[1] + y) * s;
            double ax = px + (k == 1 ? s : 0), ay = py + (k == 3 ? s : 0);
            double bx = (k == 0 || k == 1) ? ax : px + s, by = (k == 0 || k == 1) ? py + s : ay;
            cairo_move_to (cr, ax, ay);
            cairo_line_to (cr, bx, by);
          }
      }
  cairo_stroke (cr);
}

/* Draws @f's region; returns where its label goes (below its bounds). */
static void
draw_region (cairo_t *cr, const PrReportFinding *f, const char *sop_instance_uid, guint frame, double s,
             double *label_x, double *label_y)
{
  const PrReportRegion *r = &f->region;
  double min_x = G_MAXDOUBLE, max_y = 0;
  for (guint i = 0; i < r->n_points && r->shape != PR_REGION_MASK; i++)
    {
      min_x = MIN (min_x, r->points[2 * i] * s);
      max_y = MAX (max_y, r->points[2 * i + 1] * s);
    }
  switch (r->shape)
    {
    case PR_REGION_POINT:
      {
        double x = r->points[0] * s, y = r->points[1] * s, arm = 10;
        cairo_move_to (cr, x - arm, y);
        cairo_line_to (cr, x - 3, y);
        cairo_move_to (cr, x + 3, y);
        cairo_line_to (cr, x + arm, y);
        cairo_move_to (cr, x, y - arm);
        cairo_line_to (cr, x, y - 3);
        cairo_move_to (cr, x, y + 3);
        cairo_line_to (cr, x, y + arm);
        cairo_stroke (cr);
        min_x = x - arm;
        max_y = y + arm;
        break;
      }
    case PR_REGION_CIRCLE:
      {
        double cx = r->points[0] * s, cy = r->points[1] * s;
        double radius = hypot (r->points[2] - r->points[0], r->points[3] - r->points[1]) * s;
        cairo_new_sub_path (cr);
        cairo_arc (cr, cx, cy, radius, 0, 2 * G_PI);
        cairo_stroke (cr);
        min_x = cx - radius;
        max_y = cy + radius;
        break;
      }
    case PR_REGION_ELLIPSE:
      {
        double ax = r->points[0] * s, ay = r->points[1] * s, bx = r->points[2] * s, by = r->points[3] * s;
        double major = hypot (bx - ax, by - ay) / 2;
        double minor = hypot ((r->points[6] - r->points[4]) * s, (r->points[7] - r->points[5]) * s) / 2;
        if (major > 0 && minor > 0)
          {
            cairo_save (cr);
            cairo_translate (cr, (ax + bx) / 2, (ay + by) / 2);
            cairo_rotate (cr, atan2 (by - ay, bx - ax));
            cairo_scale (cr, major, minor);
            cairo_new_sub_path (cr);
            cairo_arc (cr, 0, 0, 1, 0, 2 * G_PI);
            cairo_restore (cr);
            cairo_stroke (cr);
          }
        break;
      }
    case PR_REGION_POLYLINE:
    case PR_REGION_POLYGON:
      for (guint i = 0; i < r->n_points; i++)
        (i == 0 ? cairo_move_to : cairo_line_to) (cr, r->points[2 * i] * s, r->points[2 * i + 1] * s);
      if (r->shape == PR_REGION_POLYGON)
        cairo_close_path (cr);
      cairo_stroke (cr);
      break;
    case PR_REGION_MASK:
      for (guint z = 0; z < r->box[5]; z++)
        if (g_strcmp0 (r->slice_sop_instance_uids[z], sop_instance_uid) == 0 &&
            (r->slice_frames == NULL || r->slice_frames[z] == frame))
          draw_mask_outline (cr, r, z, s);
      min_x = r->box[0] * s;
      max_y = (r->box[1] + r->box[4]) * s;
      break;
    default:
      break;
    }
  *label_x = min_x;
  *label_y = max_y;
}

guint8 *
pr_key_image_paint (const guint8 *rgb, guint width, guint height, const PrReport *report,
                    const char *sop_instance_uid, guint frame, gboolean annotate, guint *out_width,
                    guint *out_height)
{
  guint shorter = MIN (width, height), longer = MAX (width, height);
  double s = MAX (1, ceil ((double) MIN_SIDE / MAX (shorter, 1)));
  while (s > 1 && longer * s > MAX_SIDE)
    s -= 1;
  guint image_w = (guint) (width * s), image_h = (guint) (height * s);
  double font = MAX (13.0, image_w / 42.0);
  guint band = (guint) ceil (font * 2.8);
  guint total_h = image_h + band;

  /* The source pixels as a cairo surface (xRGB, native order). */
  cairo_surface_t *src = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) width, (int) height);
  guint8 *data = cairo_image_surface_get_data (src);
  int stride = cairo_image_surface_get_stride (src);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        const guint8 *p = rgb + 3 * ((gsize) y * width + x);
        *(guint32 *) (data + (gsize) y * stride + 4 * x) = ((guint32) p[0] << 16) | ((guint32) p[1] << 8) | p[2];
      }
  cairo_surface_mark_dirty (src);

  cairo_surface_t *out = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) image_w, (int) total_h);
  cairo_t *cr = cairo_create (out);
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_paint (cr);
  cairo_save (cr);
  cairo_scale (cr, s, s);
  cairo_set_source_surface (cr, src, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), s > 1 ? CAIRO_FILTER_BILINEAR : CAIRO_FILTER_NEAREST);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_fill (cr);
  cairo_restore (cr);

  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size (cr, font);
  cairo_set_line_width (cr, MAX (2.0, image_w / 300.0));
  for (guint i = 0; i < report->findings->len; i++)
    {
      const PrReportFinding *f = report->findings->pdata[i];
      if (!annotate || !pr_key_image_shows (f, sop_instance_uid, frame))
        continue;
      cairo_set_source_rgb (cr, 1.0, 0.8, 0.0);
      cairo_set_line_width (cr, MAX (2.0, image_w / 300.0));
      double lx = 0, ly = 0;
      draw_region (cr, f, sop_instance_uid, frame, s, &lx, &ly);
      g_autofree char *label = label_of (f);
      cairo_text_extents_t extents;
      cairo_text_extents (cr, label, &extents);
      lx = CLAMP (lx, 2, MAX (2, image_w - extents.width - 2));
      ly = CLAMP (ly + font * 1.2, font, image_h - 4);
      outlined_text (cr, lx, ly, label, 1.0, 0.8, 0.0);
    }

  /* The caption: what this is, who made it, and what it says. */
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  cairo_rectangle (cr, 0, image_h, image_w, band);
  cairo_fill (cr);
  g_autofree char *caption =
    g_strdup_printf ("AI result, not for primary diagnosis - %s %s", report->algorithm_name ? report->algorithm_name : "analyzer",
                     report->algorithm_version ? report->algorithm_version : "");
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_move_to (cr, font * 0.4, image_h + font * 1.15);
  cairo_show_text (cr, caption);
  if (report->summary != NULL)
    {
      cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
      cairo_set_source_rgb (cr, 0.85, 0.85, 0.85);
      cairo_move_to (cr, font * 0.4, image_h + font * 2.4);
      cairo_show_text (cr, report->summary);
    }
  cairo_destroy (cr);
  cairo_surface_flush (out);

  guint8 *result = g_malloc ((gsize) image_w * total_h * 3);
  const guint8 *pixels = cairo_image_surface_get_data (out);
  int out_stride = cairo_image_surface_get_stride (out);
  for (guint y = 0; y < total_h; y++)
    for (guint x = 0; x < image_w; x++)
      {
        guint32 v = *(const guint32 *) (pixels + (gsize) y * out_stride + 4 * x);
        guint8 *q = result + 3 * ((gsize) y * image_w + x);
        q[0] = (guint8) (v >> 16);
        q[1] = (guint8) (v >> 8);
        q[2] = (guint8) v;
      }
  cairo_surface_destroy (out);
  cairo_surface_destroy (src);
  *out_width = image_w;
  *out_height = total_h;
  return result;
}

gboolean
pr_key_image_write_png (const guint8 *rgb, guint width, guint height, const char *path, GError **error)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) width, (int) height);
  guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        const guint8 *p = rgb + 3 * ((gsize) y * width + x);
        *(guint32 *) (data + (gsize) y * stride + 4 * x) = ((guint32) p[0] << 16) | ((guint32) p[1] << 8) | p[2];
      }
  cairo_surface_mark_dirty (surface);
  /* Per process: two renderers of the same image must not share a file. */
  g_autofree char *temporary = g_strdup_printf ("%s.%d.partial", path, (int) getpid ());
  cairo_status_t status = cairo_surface_write_to_png (surface, temporary);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS || g_rename (temporary, path) != 0)
    {
      g_unlink (temporary);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "cannot write %s: %s", path, cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}
