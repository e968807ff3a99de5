/*
 * sl_module.c: the skin-lesion analyzer module, the only file that talks
 * to the preread host.
 *
 * Every instance (and frame) of every selected series is one photo: a
 * series of photos of different sizes is not a volume, so each is decoded
 * on its own with instance_frames() and given back at once. Per photo, one
 * finding: the lesion's outline (a polygon on that image), its
 * measurements, the ABCD features, the total dermoscopy score and the
 * category as an evaluation. The study is urgent when any photo is highly
 * suspicious, with a worklist line saying which.
 *
 * Scale: sizes are in mm only when the scale is known, from the route's
 * "mm-per-pixel" parameter or the image's PixelSpacing / ImagerPixelSpacing;
 * otherwise in pixels, under their own codes, and the text says so.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <preread-analyzer.h>

#include "sl_lesion.h"

#define SL_VERSION "1.0.0"
#define SCHEME "99PREREAD"

typedef struct {
  const PrereadHost *host;
  PrereadJob *job;
} Cancel;

static int
cancelled (void *data)
{
  const Cancel *c = data;
  return c->host->is_cancelled (c->job);
}

/* "0.05\0.05" (row spacing \ column spacing): mm per pixel, or 0. Photos
 * have square pixels; if not, the mean is used and the text says so. */
static double
parse_spacing (const char *value, int *square)
{
  *square = 1;
  if (value == NULL)
    return 0;
  char *end = NULL;
  double a = strtod (value, &end), b = a;
  if (end == value)
    return 0;
  if (*end == '\\')
    b = strtod (end + 1, NULL);
  if (!(a > 0) || !(b > 0) || !isfinite (a) || !isfinite (b))
    return 0;
  *square = fabs (a - b) <= 0.01 * fmax (a, b);
  return (a + b) / 2;
}

/* Where the scale comes from, for the text. */
typedef struct {
  double mm_per_pixel;
  const char *source;
  int square;
} Scale;

static Scale
scale_of (PrereadJob *job, const PrereadHost *host, size_t series, size_t instance)
{
  Scale s = { 0, NULL, 1 };
  const char *param = host->parameter (job, "mm-per-pixel");
  if (param != NULL)
    {
      char *end = NULL;
      double v = strtod (param, &end);
      if (end != param && v > 0 && isfinite (v))
        {
          s.mm_per_pixel = v;
          s.source = "the route's mm-per-pixel parameter";
          return s;
        }
      host->log (job, PREREAD_LOG_WARNING, "skin-lesion: ignoring mm-per-pixel: not a positive number");
    }
  const char *keys[2] = { "PixelSpacing", "ImagerPixelSpacing" };
  for (int k = 0; k < 2; k++)
    {
      s.mm_per_pixel = parse_spacing (host->instance_attribute (job, series, instance, keys[k]), &s.square);
      if (s.mm_per_pixel > 0)
        {
          s.source = keys[k];
          return s;
        }
    }
  return s;
}

/* A small growable list of measurements; strings are static. */
typedef struct {
  PrereadMeasurement items[64];
  uint32_t n;
} Measurements;

static void
add_measurement (Measurements *m, const char *scheme, const char *value, const char *meaning, double v,
                 const char *unit)
{
  if (m->n >= sizeof m->items / sizeof m->items[0] || !isfinite (v))
    return;
  m->items[m->n++] = (PrereadMeasurement) { { scheme, value, meaning }, v, unit };
}

/* Lengths and areas: SNOMED concepts in mm when the scale is known, our own
 * "in pixels" concepts otherwise (so nobody reads pixels as mm). */
static void
add_size (Measurements *m, const SlLesion *l, const Scale *scale)
{
  double k = scale->mm_per_pixel;
  if (k > 0)
    {
      add_measurement (m, "SCT", "81827009", "Diameter", l->diameter_px * k, "mm");
      add_measurement (m, "SCT", "131187009", "Major Axis", l->major_px * k, "mm");
      add_measurement (m, "SCT", "131188004", "Minor Axis", l->minor_px * k, "mm");
      add_measurement (m, "SCT", "131191004", "Perimeter", l->perimeter_px * k, "mm");
      add_measurement (m, "SCT", "42798000", "Area", l->area_px * k * k, "mm2");
    }
  else
    {
      add_measurement (m, SCHEME, "diameter-px", "Maximum diameter in pixels", l->diameter_px, "{pixels}");
      add_measurement (m, SCHEME, "major-axis-px", "Major axis in pixels", l->major_px, "{pixels}");
      add_measurement (m, SCHEME, "minor-axis-px", "Minor axis in pixels", l->minor_px, "{pixels}");
      add_measurement (m, SCHEME, "perimeter-px", "Perimeter in pixels", l->perimeter_px, "{pixels}");
      add_measurement (m, SCHEME, "area-px", "Area in pixels", l->area_px, "{pixels}");
    }
}

static void
add_features (Measurements *m, const SlLesion *l)
{
  static const char *const colour_keys[SL_N_COLOURS] = { "frac-white", "frac-red", "frac-light-brown",
                                                         "frac-dark-brown", "frac-blue-gray", "frac-black" };
  static const char *const colour_meanings[SL_N_COLOURS] = {
    "Share of lesion white", "Share of lesion red", "Share of lesion light brown",
    "Share of lesion dark brown", "Share of lesion blue-gray", "Share of lesion black"
  };
  double sharp = 0;
  for (int k = 0; k < 8; k++)
    sharp += l->border_sharpness[k] / 8;
  add_measurement (m, SCHEME, "tds", "Total dermoscopy score (automated)", l->tds, "{score}");
  add_measurement (m, SCHEME, "abcd-a", "ABCD asymmetry score", l->asym_axes, "{score}");
  add_measurement (m, SCHEME, "abcd-b", "ABCD border score", l->border_abrupt, "{score}");
  add_measurement (m, SCHEME, "abcd-c", "ABCD colour score", l->n_colours, "{score}");
  add_measurement (m, SCHEME, "abcd-d", "ABCD structure score (proxy)", l->n_structures, "{score}");
  add_measurement (m, SCHEME, "melanoma-likelihood", "Melanoma likelihood (model)", l->model_probability, "1");
  add_measurement (m, SCHEME, "asym-shape-1", "Shape asymmetry, major axis", l->asym_shape[0], "{ratio}");
  add_measurement (m, SCHEME, "asym-shape-2", "Shape asymmetry, minor axis", l->asym_shape[1], "{ratio}");
  add_measurement (m, SCHEME, "asym-colour-1", "Colour asymmetry, major axis", l->asym_colour[0], "1");
  add_measurement (m, SCHEME, "asym-colour-2", "Colour asymmetry, minor axis", l->asym_colour[1], "1");
  add_measurement (m, SCHEME, "border-sharpness", "Border cut-off sharpness", sharp, "{ratio}");
  add_measurement (m, SCHEME, "compactness", "Border compactness index", l->compactness, "{ratio}");
  add_measurement (m, SCHEME, "solidity", "Solidity (area / convex hull)", l->solidity, "{ratio}");
  add_measurement (m, SCHEME, "n-colours", "Dermoscopic colours present", l->n_colours, "{colours}");
  add_measurement (m, SCHEME, "colour-spread", "Colour variegation (mean Delta E)", l->colour_spread, "1");
  for (int k = 0; k < SL_N_COLOURS; k++)
    add_measurement (m, SCHEME, colour_keys[k], colour_meanings[k], l->colour_fraction[k], "{ratio}");
  add_measurement (m, SCHEME, "network", "Network cells per nominal mm2 (proxy)", l->structure_measure[SL_STRUCT_NETWORK],
                   "1");
  add_measurement (m, SCHEME, "structureless", "Share of lesion without structure (proxy)",
                   l->structure_measure[SL_STRUCT_STRUCTURELESS], "{ratio}");
  add_measurement (m, SCHEME, "streaks", "Peripheral radial streaks (proxy)", l->structure_measure[SL_STRUCT_STREAKS],
                   "{streaks}");
  add_measurement (m, SCHEME, "dots", "Dots (proxy)", l->structure_measure[SL_STRUCT_DOTS], "{dots}");
  add_measurement (m, SCHEME, "globules", "Globules (proxy)", l->structure_measure[SL_STRUCT_GLOBULES], "{globules}");
  add_measurement (m, SCHEME, "image-fraction", "Share of the field of view", l->image_fraction, "{ratio}");
  add_measurement (m, SCHEME, "hair-fraction", "Share of the image removed as hair", l->hair_fraction, "{ratio}");
}

static const PrereadCode category_codes[3] = {
  { SCHEME, "benign-looking", "Benign-looking" },
  { SCHEME, "suspicious", "Suspicious" },
  { SCHEME, "highly-suspicious", "Highly suspicious" },
};

/* Appends to @buf (bounded). */
static void
appendf (char *buf, size_t size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
appendf (char *buf, size_t size, const char *fmt, ...)
{
  size_t used = strlen (buf);
  if (used + 1 >= size)
    return;
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (buf + used, size - used, fmt, ap);
  va_end (ap);
}

static void
describe (char *text, size_t size, const SlLesion *l, const Scale *scale, int photo)
{
  text[0] = '\0';
  appendf (text, size, "Photo %d: lesion outlined (confidence %.2f refers to the outline: contrast and "
                       "separation from the skin, not to malignancy)%s. ",
           photo, l->segmentation_confidence,
           l->touches_border ? "; the lesion reaches the image edge and may be cut off" : "");
  if (scale->mm_per_pixel > 0)
    appendf (text, size, "Maximum diameter %.1f mm, area %.1f mm2 (scale %.4g mm per pixel from %s%s). ",
             l->diameter_px * scale->mm_per_pixel, l->area_px * scale->mm_per_pixel * scale->mm_per_pixel,
             scale->mm_per_pixel, scale->source, scale->square ? "" : ", pixels not square: mean spacing");
  else
    appendf (text, size, "Maximum diameter %.0f pixels: the scale is unknown (no PixelSpacing and no "
                         "mm-per-pixel parameter), so sizes are in pixels and no diameter in mm is given. ",
             l->diameter_px);
  appendf (text, size, "ABCD (automated): A=%d (asymmetric about %d of 2 axes), B=%d (of 8 border sectors "
                       "with an abrupt cut-off), C=%d (",
           l->asym_axes, l->asym_axes, l->border_abrupt, l->n_colours);
  int any = 0;
  for (int k = 0; k < SL_N_COLOURS; k++)
    if (l->colour_fraction[k] >= 0.03)
      appendf (text, size, "%s%s", any++ ? ", " : "", sl_colour_name ((SlColour) k));
  if (!any)
    appendf (text, size, "no distinct dermoscopic colour; counted as 1");
  appendf (text, size, "), D=%d (", l->n_structures);
  any = 0;
  for (int k = 0; k < SL_N_STRUCTURES; k++)
    if (l->structure_present[k])
      appendf (text, size, "%s%s", any++ ? ", " : "", sl_structure_name ((SlStructure) k));
  if (!any)
    appendf (text, size, "none detected; counted as 1");
  appendf (text, size, "). Total dermoscopy score %.2f: %s (cut-offs 4.75 and 5.45). D counts automated "
                       "proxies for the differential structures (network, structureless areas, streaks, dots, "
                       "globules), not a dermatologist's pattern analysis, so this score approximates the "
                       "clinical TDS. Model melanoma likelihood %.2f (logistic regression on these features). "
                       "Preliminary assessment for review by a dermatologist, not a diagnosis.",
           l->tds, sl_category_name (l->category), l->model_probability);
}

/* One photo: analyse it into @lesion (the caller clears it) and report it.
 * Returns what add_finding() returned, or the status to stop with. */
static PrereadStatus
report_photo (PrereadJob *job, const PrereadHost *host, const float *rgb, int w, int h, const char *sop,
              uint32_t frame, const Scale *scale, int photo, SlLesion *lesion)
{
  Cancel cancel = { host, job };
  SlParams params = { scale->mm_per_pixel, cancelled, &cancel };
  SlStatus st = sl_lesion_analyze (rgb, w, h, &params, lesion);
  if (st == SL_CANCELLED)
    return PREREAD_ERROR_CANCELLED;
  if (st == SL_NO_MEMORY)
    return host->fail (job, PREREAD_ERROR_NO_MEMORY, "skin-lesion: out of memory");
  char text[2048];
  PrereadFinding f = preread_finding_init ();
  if (!lesion->found)
    {
      snprintf (text, sizeof text, "Photo %d: no lesion analysed: %s.", photo,
                lesion->why_not ? lesion->why_not : "unknown reason");
      f.type = (PrereadCode) { SCHEME, "no-lesion", "No lesion segmented" };
      f.text = text;
      return host->add_finding (job, &f);
    }
  Measurements m = { .n = 0 };
  add_size (&m, lesion, scale);
  add_features (&m, lesion);

  PrereadEvaluation ev[1 + SL_N_COLOURS + SL_N_STRUCTURES + 1];
  uint32_t n_ev = 0;
  ev[n_ev++] = (PrereadEvaluation) { { SCHEME, "dermoscopy-category", "Dermoscopy category" },
                                     category_codes[lesion->category] };
  static const char *const colour_values[SL_N_COLOURS] = { "white", "red", "light-brown", "dark-brown",
                                                           "blue-gray", "black" };
  static const char *const colour_meanings[SL_N_COLOURS] = { "White", "Red", "Light brown", "Dark brown",
                                                             "Blue-gray", "Black" };
  for (int k = 0; k < SL_N_COLOURS; k++)
    if (lesion->colour_fraction[k] >= 0.03)
      ev[n_ev++] = (PrereadEvaluation) { { SCHEME, "colour-present", "Dermoscopic colour present" },
                                         { SCHEME, colour_values[k], colour_meanings[k] } };
  static const char *const structure_values[SL_N_STRUCTURES] = { "network", "structureless", "streaks", "dots",
                                                                 "globules" };
  static const char *const structure_meanings[SL_N_STRUCTURES] = { "Pigment network", "Structureless areas",
                                                                   "Streaks", "Dots", "Globules" };
  for (int k = 0; k < SL_N_STRUCTURES; k++)
    if (lesion->structure_present[k])
      ev[n_ev++] = (PrereadEvaluation) { { SCHEME, "structure-present", "Differential structure present (proxy)" },
                                         { SCHEME, structure_values[k], structure_meanings[k] } };
  /* SNOMED CT's Yes / No (DICOM CID 230). */
  ev[n_ev++] = (PrereadEvaluation) { { SCHEME, "touches-edge", "Lesion reaches the image edge" },
                                     lesion->touches_border ? (PrereadCode) { "SCT", "373066001", "Yes" }
                                                            : (PrereadCode) { "SCT", "373067005", "No" } };

  describe (text, sizeof text, lesion, scale, photo);
  f.type = (PrereadCode) { "SCT", "95324001", "Skin lesion" };
  f.confidence = lesion->segmentation_confidence;
  f.text = text;
  f.location.shape = PREREAD_SHAPE_POLYGON;
  f.location.sop_instance_uid = sop;
  f.location.frame = frame;
  f.location.points = lesion->outline;
  f.location.n_points = lesion->n_outline;
  f.measurements = m.items;
  f.n_measurements = m.n;
  f.evaluations = ev;
  f.n_evaluations = n_ev;
  PrereadStatus status = host->add_finding (job, &f);
  if (status != PREREAD_OK)
    host->log (job, PREREAD_LOG_ERROR, "skin-lesion: the host refused a finding (see above)");
  return status;
}

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  size_t n_series = host->n_series (job), total = 0;
  for (size_t s = 0; s < n_series; s++)
    total += host->n_instances (job, s);
  if (total == 0)
    return host->decline (job, "no images selected");

  int photo = 0, analysed = 0, not_colour = 0, undecodable = 0, worst_photo = 0;
  SlCategory worst = SL_CATEGORY_BENIGN;
  double worst_tds = 0;
  int worst_colours = 0, worst_axes = 0;
  size_t done = 0;
  for (size_t s = 0; s < n_series; s++)
    for (size_t i = 0; i < host->n_instances (job, s); i++, done++)
      {
        if (host->is_cancelled (job))
          return PREREAD_ERROR_CANCELLED;
        host->progress (job, (double) done / (double) total, "analysing photos");
        PrereadVolume v = preread_volume_init ();
        PrereadStatus st = host->instance_frames (job, s, i, &v);
        if (st == PREREAD_ERROR_CANCELLED)
          return st;
        if (st != PREREAD_OK)
          {
            undecodable++;
            continue;
          }
        if (v.samples_per_pixel != 3)
          {
            not_colour++;
            if (host->release_volume)
              host->release_volume (job, &v);
            continue;
          }
        const char *sop = host->instance_attribute (job, s, i, "SOPInstanceUID");
        Scale scale = scale_of (job, host, s, i);
        size_t plane = (size_t) v.columns * v.rows * 3;
        for (uint32_t z = 0; z < v.slices; z++)
          {
            SlLesion lesion;
            photo++;
            PrereadStatus rs = report_photo (job, host, v.voxels + z * plane, (int) v.columns, (int) v.rows, sop,
                                             v.slices > 1 ? z + 1 : 0, &scale, photo, &lesion);
            if (lesion.found)
              {
                analysed++;
                if (lesion.category > worst || worst_photo == 0 ||
                    (lesion.category == worst && lesion.tds > worst_tds))
                  {
                    worst = lesion.category;
                    worst_tds = lesion.tds;
                    worst_colours = lesion.n_colours;
                    worst_axes = lesion.asym_axes;
                    worst_photo = photo;
                  }
              }
            sl_lesion_clear (&lesion);
            if (rs == PREREAD_ERROR_CANCELLED || rs == PREREAD_ERROR_NO_MEMORY || rs == PREREAD_ERROR_FAILED)
              {
                if (host->release_volume)
                  host->release_volume (job, &v);
                return rs;
              }
          }
        if (host->release_volume)
          host->release_volume (job, &v);
      }
  host->progress (job, 1.0, "done");

  if (photo == 0)
    {
      if (undecodable > 0 && not_colour == 0)
        return host->fail (job, PREREAD_ERROR_UNSUPPORTED, "skin-lesion: none of the images could be decoded");
      return host->decline (job, "no colour photographs among the selected images");
    }
  char summary[200];
  if (analysed == 0)
    {
      snprintf (summary, sizeof summary, "no lesion found in %d photo(s)", photo);
      host->set_priority (job, PREREAD_PRIORITY_ROUTINE, summary);
      return PREREAD_OK;
    }
  snprintf (summary, sizeof summary, "%s lesion (TDS %.1f, %d colour%s, asymmetric about %d %s)",
            sl_category_name (worst), worst_tds, worst_colours, worst_colours == 1 ? "" : "s", worst_axes,
            worst_axes == 1 ? "axis" : "axes");
  if (photo > 1)
    appendf (summary, sizeof summary, " in photo %d of %d", worst_photo, photo);
  host->set_priority (job, worst == SL_CATEGORY_HIGHLY_SUSPICIOUS ? PREREAD_PRIORITY_URGENT : PREREAD_PRIORITY_ROUTINE,
                      summary);
  if (undecodable > 0 || not_colour > 0)
    {
      char msg[160];
      snprintf (msg, sizeof msg, "skin-lesion: skipped %d image(s) that do not decode and %d that are not colour",
                undecodable, not_colour);
      host->log (job, PREREAD_LOG_WARNING, msg);
    }
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("skin-lesion", SL_VERSION, "preread", "MIT",
                         "Dermoscopy photos: lesion outline, ABCD features, total dermoscopy score, category", 0,
                         NULL, analyze, NULL)
