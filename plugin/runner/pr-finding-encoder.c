/* pr-finding-encoder.c: checking a module's finding and writing it as JSON. */
#include "config.h"

#include "pr-finding-encoder.h"

#include <math.h>
#include <string.h>

#include <gio/gio.h>

/* Bounds a finding must stay within; a result object is built from it. */
#define MAX_POINTS 100000
#define MAX_MEASUREMENTS 1000
#define MAX_TEXT_CHARS 10000
#define MAX_MASK_VOXELS (G_GUINT64_CONSTANT (1) << 31)

typedef struct {
  GError **error;
  gboolean failed;
} Check;

G_GNUC_PRINTF (2, 3)
static void
refuse (Check *c, const char *format, ...)
{
  if (c->failed)
    return;
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (c->error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, message);
  c->failed = TRUE;
}

char *
pr_finding_clean_text (const char *text, gsize max_chars)
{
  if (text == NULL)
    return NULL;
  /* Bounded before validation: a module may pass an unterminated buffer
   * of any length, and we must not scan gigabytes. */
  gsize length = strnlen (text, max_chars * 4 + 4);
  g_autofree char *valid = g_utf8_make_valid (text, (gssize) length);
  GString *out = g_string_new (NULL);
  gsize chars = 0;
  for (const char *p = valid; *p && chars < max_chars; p = g_utf8_next_char (p), chars++)
    {
      gunichar c = g_utf8_get_char (p);
      g_string_append_unichar (out, g_unichar_iscntrl (c) ? ' ' : c);
    }
  return g_string_free (out, FALSE);
}

static gboolean
code_is_set (const PrereadCode *code)
{
  return code->scheme != NULL || code->value != NULL || code->meaning != NULL;
}

/* A code: scheme 1-16 characters (SH), value 1-64, meaning 1-64 (LO). */
static void
add_code (JsonBuilder *b, Check *c, const char *member, const PrereadCode *code, const char *what)
{
  g_autofree char *scheme = pr_finding_clean_text (code->scheme, 16);
  g_autofree char *value = pr_finding_clean_text (code->value, 64);
  g_autofree char *meaning = pr_finding_clean_text (code->meaning, 64);
  if (scheme == NULL || value == NULL || meaning == NULL || !*scheme || !*value || !*meaning)
    {
      refuse (c, "%s needs a scheme, a value and a meaning", what);
      return;
    }
  if (member != NULL)
    json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "scheme");
  json_builder_add_string_value (b, scheme);
  json_builder_set_member_name (b, "value");
  json_builder_add_string_value (b, value);
  json_builder_set_member_name (b, "meaning");
  json_builder_add_string_value (b, meaning);
  json_builder_end_object (b);
}

static void
add_text (JsonBuilder *b, const char *member, const char *text, gsize max_chars)
{
  g_autofree char *clean = pr_finding_clean_text (text, max_chars);
  if (clean == NULL || *clean == '\0')
    return;
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, clean);
}

static const char *
shape_name (PrereadShape shape)
{
  switch (shape)
    {
    case PREREAD_SHAPE_POINT: return "point";
    case PREREAD_SHAPE_POLYLINE: return "polyline";
    case PREREAD_SHAPE_POLYGON: return "polygon";
    case PREREAD_SHAPE_CIRCLE: return "circle";
    case PREREAD_SHAPE_ELLIPSE: return "ellipse";
    case PREREAD_SHAPE_POINT_3D: return "point-3d";
    case PREREAD_SHAPE_POLYLINE_3D: return "polyline-3d";
    case PREREAD_SHAPE_MASK: return "mask";
    case PREREAD_SHAPE_NONE:
    default: return NULL;
    }
}

static gboolean
point_count_fits (PrereadShape shape, guint32 n)
{
  switch (shape)
    {
    case PREREAD_SHAPE_POINT:
    case PREREAD_SHAPE_POINT_3D: return n == 1;
    case PREREAD_SHAPE_CIRCLE: return n == 2;
    case PREREAD_SHAPE_ELLIPSE: return n == 4;
    case PREREAD_SHAPE_POLYLINE:
    case PREREAD_SHAPE_POLYLINE_3D: return n >= 2 && n <= MAX_POINTS;
    case PREREAD_SHAPE_POLYGON: return n >= 3 && n <= MAX_POINTS;
    default: return FALSE;
    }
}

static void
add_points (JsonBuilder *b, Check *c, const PrereadLocation *l, guint dimensions, guint columns, guint rows)
{
  if (l->points == NULL || !point_count_fits (l->shape, l->n_points))
    {
      const char *needed = "2 or more points";
      if (l->n_points > MAX_POINTS)
        needed = "at most " G_STRINGIFY (MAX_POINTS) " points";
      else if (l->shape == PREREAD_SHAPE_POINT || l->shape == PREREAD_SHAPE_POINT_3D)
        needed = "exactly 1 point";
      else if (l->shape == PREREAD_SHAPE_CIRCLE)
        needed = "2 points (centre, a point on the circle)";
      else if (l->shape == PREREAD_SHAPE_ELLIPSE)
        needed = "4 points (ends of the major axis, then of the minor axis)";
      else if (l->shape == PREREAD_SHAPE_POLYGON)
        needed = "3 or more points";
      refuse (c, "a %s needs %s and a points array", shape_name (l->shape), needed);
      return;
    }
  json_builder_set_member_name (b, "points");
  json_builder_begin_array (b);
  for (guint32 i = 0; i < l->n_points && !c->failed; i++)
    {
      const float *p = l->points + (gsize) i * dimensions;
      json_builder_begin_array (b);
      for (guint d = 0; d < dimensions; d++)
        {
          if (!isfinite (p[d]))
            refuse (c, "point %u is not a finite number", i + 1);
          json_builder_add_double_value (b, p[d]);
        }
      json_builder_end_array (b);
      /* Image coordinates run from 0 to the image's edge (PS3.3 C.10.5.1.2). */
      if (dimensions == 2 && (p[0] < 0 || p[1] < 0 || p[0] > columns || p[1] > rows))
        refuse (c, "point %u (%g, %g) lies outside the %ux%u image", i + 1, p[0], p[1], columns, rows);
    }
  json_builder_end_array (b);
}

/* The referenced image of a 2D location: one of the job's, frame in range. */
static gboolean
add_image_reference (JsonBuilder *b, Check *c, const PrereadLocation *l, const PrFindingContext *ctx, guint *columns,
                     guint *rows)
{
  guint frames = 0;
  if (l->sop_instance_uid == NULL ||
      !ctx->image_size (ctx->data, l->sop_instance_uid, columns, rows, &frames))
    {
      refuse (c, "a %s must reference an image of the job (sop_instance_uid)", shape_name (l->shape));
      return FALSE;
    }
  if ((frames > 1 && (l->frame < 1 || l->frame > frames)) || (frames <= 1 && l->frame > 1))
    {
      refuse (c, "frame %u does not exist in an image of %u frame(s)", l->frame, frames);
      return FALSE;
    }
  json_builder_set_member_name (b, "sop_instance_uid");
  json_builder_add_string_value (b, l->sop_instance_uid);
  if (frames > 1)
    {
      json_builder_set_member_name (b, "frame");
      json_builder_add_int_value (b, l->frame);
    }
  return TRUE;
}

/* Packed bits, least significant first, x fastest: the layout of DICOM
 * binary segmentations (PS3.5 8.1.1), so the SEG builder copies it as is. */
static char *
pack_mask (const guint8 *mask, guint64 voxels, guint64 *inside)
{
  gsize bytes = (gsize) ((voxels + 7) / 8);
  g_autofree guint8 *bits = g_malloc0 (bytes);
  *inside = 0;
  for (guint64 i = 0; i < voxels; i++)
    if (mask[i])
      {
        bits[i / 8] |= (guint8) (1u << (i % 8));
        (*inside)++;
      }
  return g_base64_encode (bits, bytes);
}

static void
add_mask (JsonBuilder *b, Check *c, const PrereadLocation *l, const PrFindingContext *ctx)
{
  const guint32 *box = l->mask_box;
  guint64 voxels = (guint64) box[3] * box[4] * box[5];
  if (l->mask == NULL || voxels == 0 || voxels > MAX_MASK_VOXELS)
    {
      refuse (c, "a mask needs mask_box with a width, height and depth of at least 1 and a mask array");
      return;
    }
  guint columns = 0, rows = 0, depth = 1;
  const PrVolume *volume = NULL;
  if (l->sop_instance_uid != NULL)
    {
      if (!add_image_reference (b, c, l, ctx, &columns, &rows))
        return;
    }
  else
    {
      g_autoptr (GError) error = NULL;
      const char *series_uid = ctx->series_uid (ctx->data, l->series_index);
      if (series_uid == NULL)
        {
          refuse (c, "a mask must reference an image (sop_instance_uid) or a series of the job (series_index)");
          return;
        }
      volume = ctx->series_volume (ctx->data, l->series_index, &error);
      if (volume == NULL)
        {
          refuse (c, "a mask over series %d needs its volume: %s", l->series_index, error->message);
          return;
        }
      columns = volume->columns;
      rows = volume->rows;
      depth = volume->slices;
      json_builder_set_member_name (b, "series_instance_uid");
      json_builder_add_string_value (b, series_uid);
    }
  if ((guint64) box[0] + box[3] > columns || (guint64) box[1] + box[4] > rows || (guint64) box[2] + box[5] > depth)
    {
      refuse (c, "mask_box (%u, %u, %u) + (%u x %u x %u) reaches beyond the %ux%ux%u %s", box[0], box[1], box[2],
              box[3], box[4], box[5], columns, rows, depth, volume ? "volume" : "image");
      return;
    }
  json_builder_set_member_name (b, "box");
  json_builder_begin_array (b);
  for (int i = 0; i < 6; i++)
    json_builder_add_int_value (b, box[i]);
  json_builder_end_array (b);
  guint64 inside = 0;
  g_autofree char *bits = pack_mask (l->mask, voxels, &inside);
  json_builder_set_member_name (b, "bits");
  json_builder_add_string_value (b, bits);
  json_builder_set_member_name (b, "voxels_inside");
  json_builder_add_int_value (b, (gint64) inside);
  if (volume != NULL)
    {
      /* The image each slice of the box is, so no one has to sort again. */
      json_builder_set_member_name (b, "slices");
      json_builder_begin_array (b);
      for (guint32 z = box[2]; z < box[2] + box[5]; z++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "sop_instance_uid");
          json_builder_add_string_value (b, volume->slice_instances[z]);
          json_builder_set_member_name (b, "frame");
          json_builder_add_int_value (b, volume->slice_frames[z]);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
}

static void
add_location (JsonBuilder *b, Check *c, const PrereadLocation *l, const PrFindingContext *ctx)
{
  const char *shape = shape_name (l->shape);
  if (shape == NULL)
    {
      refuse (c, "unknown shape %d", (int) l->shape);
      return;
    }
  json_builder_set_member_name (b, "location");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "shape");
  json_builder_add_string_value (b, shape);
  guint columns = 0, rows = 0;
  switch (l->shape)
    {
    case PREREAD_SHAPE_POINT_3D:
    case PREREAD_SHAPE_POLYLINE_3D:
      {
        int series = l->series_index >= 0 ? l->series_index : 0;
        const char *frame_of_reference = ctx->frame_of_reference (ctx->data, series);
        if (frame_of_reference != NULL)
          {
            json_builder_set_member_name (b, "frame_of_reference_uid");
            json_builder_add_string_value (b, frame_of_reference);
          }
        add_points (b, c, l, 3, 0, 0);
        break;
      }
    case PREREAD_SHAPE_MASK:
      add_mask (b, c, l, ctx);
      break;
    default:
      if (add_image_reference (b, c, l, ctx, &columns, &rows))
        add_points (b, c, l, 2, columns, rows);
      break;
    }
  json_builder_end_object (b);
}

static void
add_measurements (JsonBuilder *b, Check *c, const PrereadFinding *f)
{
  if (f->n_measurements == 0)
    return;
  if (f->measurements == NULL || f->n_measurements > MAX_MEASUREMENTS)
    {
      refuse (c, "measurements must point to n_measurements (at most %d) entries", MAX_MEASUREMENTS);
      return;
    }
  json_builder_set_member_name (b, "measurements");
  json_builder_begin_array (b);
  for (guint32 i = 0; i < f->n_measurements && !c->failed; i++)
    {
      const PrereadMeasurement *m = &f->measurements[i];
      g_autofree char *unit = pr_finding_clean_text (m->unit, 16);
      if (!isfinite (m->value))
        refuse (c, "measurement %u is not a finite number", i + 1);
      if (unit == NULL || *unit == '\0')
        refuse (c, "measurement %u needs a UCUM unit (\"1\" for none)", i + 1);
      if (c->failed)
        break;
      json_builder_begin_object (b);
      add_code (b, c, "concept", &m->concept, "a measurement's concept");
      json_builder_set_member_name (b, "value");
      json_builder_add_double_value (b, m->value);
      json_builder_set_member_name (b, "unit");
      json_builder_add_string_value (b, unit);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_evaluations (JsonBuilder *b, Check *c, const PrereadFinding *f)
{
  if (f->n_evaluations == 0)
    return;
  if (f->evaluations == NULL || f->n_evaluations > MAX_MEASUREMENTS)
    {
      refuse (c, "evaluations must point to n_evaluations (at most %d) entries", MAX_MEASUREMENTS);
      return;
    }
  json_builder_set_member_name (b, "evaluations");
  json_builder_begin_array (b);
  for (guint32 i = 0; i < f->n_evaluations && !c->failed; i++)
    {
      json_builder_begin_object (b);
      add_code (b, c, "concept", &f->evaluations[i].concept, "an evaluation's concept");
      add_code (b, c, "value", &f->evaluations[i].value, "an evaluation's value");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

JsonNode *
pr_finding_encode (const PrereadFinding *f, const PrFindingContext *ctx, GError **error)
{
  Check c = { error, FALSE };
  if (f == NULL || f->struct_size < sizeof (PrereadFinding))
    {
      refuse (&c, "the finding's struct_size is %u, expected at least %zu (set it to sizeof (PrereadFinding))",
              f ? f->struct_size : 0, sizeof (PrereadFinding));
      return NULL;
    }
  if (!(f->confidence == -1 || (f->confidence >= 0 && f->confidence <= 1)))
    {
      refuse (&c, "confidence %g is not within 0..1 (or -1 for none)", f->confidence);
      return NULL;
    }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_code (b, &c, "type", &f->type, "the finding's type");
  if (f->confidence >= 0)
    {
      json_builder_set_member_name (b, "confidence");
      json_builder_add_double_value (b, f->confidence);
    }
  add_text (b, "text", f->text, MAX_TEXT_CHARS);
  add_text (b, "tracking_id", f->tracking_id, 64);
  if (code_is_set (&f->site))
    add_code (b, &c, "site", &f->site, "the finding's site");
  if (!c.failed && f->location.shape != PREREAD_SHAPE_NONE)
    add_location (b, &c, &f->location, ctx);
  if (!c.failed)
    add_measurements (b, &c, f);
  if (!c.failed)
    add_evaluations (b, &c, f);
  json_builder_end_object (b);
  if (c.failed)
    return NULL;
  return json_builder_get_root (b);
}
