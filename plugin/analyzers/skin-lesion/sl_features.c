/*
 * sl_features.c: geometry and the dermoscopy ABCD features of a segmented
 * lesion (Stolz's ABCD rule of dermoscopy).
 *
 * A  Asymmetry about the two principal axes. An axis counts when the
 *    lesion's shape or its colours differ across it: shape by the share of
 *    the lesion its mirror image does not cover; colour by the Lab distance
 *    between the mean colours of the two halves and by how differently the
 *    six dermoscopic colours are shared between them.
 * B  Border: the lesion is cut into 8 sectors around its centre; a sector
 *    counts when pigment ends abruptly there, i.e. when the band just
 *    inside the border is nearly as dark as the lesion's core while the band
 *    just outside is nearly skin. Irregularity of the outline (compactness,
 *    solidity) is measured too, for the report and the learned model; the
 *    ABCD rule's B is the abrupt cut-off, not irregularity.
 * C  Colours among white, red, light brown, dark brown, blue-gray and
 *    black. Colours are judged relative to the patient's skin: each pixel
 *    is divided by the fitted skin background (sl_prepare.c) and multiplied
 *    by a reference skin colour, then classified in CIE Lab by the rules in
 *    classify(). A colour counts when it covers at least 3 % of the lesion.
 * D  Differential structures. Honest proxies, not a dermatologist's
 *    pattern analysis: pigment network (a mesh of thin dark lines with many
 *    small holes), structureless areas (large parts of the lesion without
 *    texture), streaks (elongated dark lines at the periphery pointing
 *    outwards), dots and globules (small round dark blobs, by size). Sizes
 *    are in mm when the scale is known, otherwise relative to the image
 *    (a dermoscopy photo frames ~10-20 mm of skin).
 */
#include "sl_lesion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reference skin colour (sRGB): the median skin colour of the training
 * photos (see eval/sl-train.py). Colours are judged relative to it. */
static const double reference_skin[3] = { 222.0, 172.0, 160.0 };

#define SL_COLOUR_MIN_FRACTION 0.03

/* ---- colour --------------------------------------------------------------------------- */

static double
srgb_to_linear (double v)
{
  v /= 255.0;
  return v <= 0.04045 ? v / 12.92 : pow ((v + 0.055) / 1.055, 2.4);
}

static double
lab_f (double t)
{
  return t > 0.008856 ? cbrt (t) : 7.787 * t + 16.0 / 116.0;
}

void
sl_rgb_to_lab (double r, double g, double b, double lab[3])
{
  double R = srgb_to_linear (r), G = srgb_to_linear (g), B = srgb_to_linear (b);
  double X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  double Y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  double Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  double fx = lab_f (X), fy = lab_f (Y), fz = lab_f (Z);
  lab[0] = 116 * fy - 16;
  lab[1] = 500 * (fx - fy);
  lab[2] = 200 * (fy - fz);
}

/* One lesion pixel's dermoscopic colour, or -1 for none (skin-like, or
 * between classes). @skin is the Lab of the reference skin. The rules
 * follow the colours' descriptions: black and dark brown are dark, light
 * brown is brown and clearly darker than skin, blue-gray is dark-ish with
 * little or bluish chroma, red is more red than brown, white is lighter than
 * the surrounding skin and not more coloured. */
static int
classify (const double lab[3], const double skin[3])
{
  double L = lab[0], a = lab[1], b = lab[2];
  double chroma = hypot (a, b), hue = atan2 (b, a) * 180 / M_PI;
  double skin_chroma = hypot (skin[1], skin[2]);
  if (L >= skin[0] + 3 && chroma <= skin_chroma)
    return SL_COLOUR_WHITE;
  if (L < 22)
    return SL_COLOUR_BLACK;
  if (L < 70 && (hue > 100 || hue < -45 || chroma < 8))
    return SL_COLOUR_BLUE_GRAY;
  if (L >= 30 && a > 18 && hue < 35 && chroma > skin_chroma + 6)
    return SL_COLOUR_RED;
  if (L < 45)
    return SL_COLOUR_DARK_BROWN;
  if (L < skin[0] - 10 && hue >= 30)
    return SL_COLOUR_LIGHT_BROWN;
  return -1;
}

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct {
  double cx, cy;        /* centroid, working pixels (pixel centres at +0.5) */
  double axis[2][2];    /* unit vectors: major, minor */
  double lambda[2];     /* variances along them */
  double area;          /* working pixels */
  double radius;        /* equivalent radius */
} Moments;

static void
moments (const SlMask *m, Moments *mo)
{
  double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (int y = 0; y < m->h; y++)
    for (int x = 0; x < m->w; x++)
      if (m->px[(size_t) y * m->w + x])
        {
          double px = x + 0.5, py = y + 0.5;
          n++, sx += px, sy += py, sxx += px * px, syy += py * py, sxy += px * py;
        }
  memset (mo, 0, sizeof *mo);
  if (n == 0)
    return;
  mo->area = n;
  mo->cx = sx / n;
  mo->cy = sy / n;
  double cxx = sxx / n - mo->cx * mo->cx, cyy = syy / n - mo->cy * mo->cy, cxy = sxy / n - mo->cx * mo->cy;
  double tr = cxx + cyy, det = cxx * cyy - cxy * cxy;
  double disc = sqrt (fmax (tr * tr / 4 - det, 0));
  mo->lambda[0] = tr / 2 + disc;
  mo->lambda[1] = fmax (tr / 2 - disc, 0);
  double theta = 0.5 * atan2 (2 * cxy, cxx - cyy);
  mo->axis[0][0] = cos (theta), mo->axis[0][1] = sin (theta);
  mo->axis[1][0] = -sin (theta), mo->axis[1][1] = cos (theta);
  mo->radius = sqrt (n / M_PI);
}

static int
compare_points (const void *a, const void *b)
{
  const double *p = a, *q = b;
  if (p[0] != q[0])
    return p[0] < q[0] ? -1 : 1;
  return (p[1] > q[1]) - (p[1] < q[1]);
}

static double
cross (const double *o, const double *a, const double *b)
{
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

/* Outline geometry: perimeter, area, convex hull area, Feret diameter. */
static int
outline_geometry (const float *pts, uint32_t n, double *perimeter, double *area, double *hull_area, double *feret)
{
  *perimeter = *area = *hull_area = *feret = 0;
  if (n < 3)
    return 1;
  for (uint32_t i = 0; i < n; i++)
    {
      uint32_t j = (i + 1) % n;
      *perimeter += hypot (pts[2 * j] - pts[2 * i], pts[2 * j + 1] - pts[2 * i + 1]);
      *area += (double) pts[2 * i] * pts[2 * j + 1] - (double) pts[2 * j] * pts[2 * i + 1];
    }
  *area = fabs (*area) / 2;
  /* Andrew's monotone chain. */
  double *p = malloc (sizeof *p * 2 * n), *hull = malloc (sizeof *hull * 2 * (2 * n + 1));
  if (p == NULL || hull == NULL)
    {
      free (p), free (hull);
      return 0;
    }
  for (uint32_t i = 0; i < 2 * n; i++)
    p[i] = pts[i];
  qsort (p, n, sizeof *p * 2, compare_points);
  size_t k = 0;
  for (uint32_t i = 0; i < n; i++)
    {
      while (k >= 2 && cross (hull + 2 * (k - 2), hull + 2 * (k - 1), p + 2 * i) <= 0)
        k--;
      hull[2 * k] = p[2 * i], hull[2 * k + 1] = p[2 * i + 1], k++;
    }
  for (size_t i = n - 1, lower = k + 1; i-- > 0;)
    {
      while (k >= lower && cross (hull + 2 * (k - 2), hull + 2 * (k - 1), p + 2 * i) <= 0)
        k--;
      hull[2 * k] = p[2 * i], hull[2 * k + 1] = p[2 * i + 1], k++;
    }
  if (k > 1)
    k--; /* the last point repeats the first */
  for (size_t i = 0; i < k; i++)
    {
      size_t j = (i + 1) % k;
      *hull_area += hull[2 * i] * hull[2 * j + 1] - hull[2 * j] * hull[2 * i + 1];
      for (size_t m = i + 1; m < k; m++)
        {
          double d = hypot (hull[2 * m] - hull[2 * i], hull[2 * m + 1] - hull[2 * i + 1]);
          if (d > *feret)
            *feret = d;
        }
    }
  *hull_area = fabs (*hull_area) / 2;
  free (p), free (hull);
  return 1;
}

/* Which of the 8 sectors, counted from the major axis, (x, y) is in. */
static int
sector_of (const Moments *mo, double x, double y)
{
  double dx = x - mo->cx, dy = y - mo->cy;
  double u = dx * mo->axis[0][0] + dy * mo->axis[0][1], v = dx * mo->axis[1][0] + dy * mo->axis[1][1];
  double angle = atan2 (v, u) + M_PI; /* 0 .. 2 pi */
  int s = (int) (angle / (M_PI / 4));
  return s < 0 ? 0 : s > 7 ? 7 : s;
}

/* ---- the features ----------------------------------------------------------------------- */

typedef struct {
  const SlWork *wk;
  Moments mo;
  double *lab;          /* 3 per working pixel, lesion pixels only filled */
  int8_t *colour;       /* per working pixel: SlColour or -1 */
  float *din2, *dout2;  /* squared distances to outside / to the lesion */
  double skin_lab[3];
} Ctx;

static void
asymmetry (Ctx *c, SlLesion *out)
{
  const SlMask *m = &c->wk->lesion;
  const Moments *mo = &c->mo;
  for (int k = 0; k < 2; k++)
    {
      const double *ax = mo->axis[k];
      double overlap = 0, half_n[2] = { 0, 0 }, half_lab[2][3] = { { 0 } };
      double half_col[2][SL_N_COLOURS + 1] = { { 0 } };
      for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
          {
            size_t i = (size_t) y * m->w + x;
            if (!m->px[i])
              continue;
            double dx = x + 0.5 - mo->cx, dy = y + 0.5 - mo->cy;
            double along = dx * ax[0] + dy * ax[1];
            /* mirror across the axis through the centroid */
            double mx = mo->cx + 2 * along * ax[0] - dx, my = mo->cy + 2 * along * ax[1] - dy;
            int ix = (int) floor (mx), iy = (int) floor (my);
            if (ix >= 0 && iy >= 0 && ix < m->w && iy < m->h && m->px[(size_t) iy * m->w + ix])
              overlap++;
            int side = (dx * -ax[1] + dy * ax[0]) >= 0;
            half_n[side]++;
            for (int j = 0; j < 3; j++)
              half_lab[side][j] += c->lab[3 * i + j];
            half_col[side][c->colour[i] + 1]++;
          }
      out->asym_shape[k] = mo->area > 0 ? 1 - overlap / mo->area : 0;
      double de = 0, tv = 0;
      if (half_n[0] > 0 && half_n[1] > 0)
        {
          for (int j = 0; j < 3; j++)
            {
              double d = half_lab[0][j] / half_n[0] - half_lab[1][j] / half_n[1];
              de += d * d;
            }
          de = sqrt (de);
          for (int j = 0; j <= SL_N_COLOURS; j++)
            tv += fabs (half_col[0][j] / half_n[0] - half_col[1][j] / half_n[1]);
          tv /= 2;
        }
      /* One number: the larger of the mean-colour difference (in units of
       * 10 Delta E) and the colour-share difference (in units of 0.3). */
      out->asym_colour[k] = fmax (de / 10.0, tv / 0.3);
    }
  out->asym_axes = 0;
  for (int k = 0; k < 2; k++)
    out->asym_axes += out->asym_shape[k] > 0.12 || out->asym_colour[k] > 1.0;
}

static void
border (Ctx *c, SlLesion *out)
{
  const SlWork *wk = c->wk;
  const SlMask *m = &wk->lesion;
  double band = fmax (2.0, 0.15 * c->mo.radius), band2 = band * band;
  double sum_in[8] = { 0 }, n_in[8] = { 0 }, sum_out[8] = { 0 }, n_out[8] = { 0 };
  for (int y = 0; y < m->h; y++)
    for (int x = 0; x < m->w; x++)
      {
        size_t i = (size_t) y * m->w + x;
        if (!wk->fov.px[i] || wk->hair.px[i])
          continue;
        int s = sector_of (&c->mo, x + 0.5, y + 0.5);
        if (m->px[i] && c->din2[i] <= band2)
          sum_in[s] += wk->lesionness.px[i], n_in[s]++;
        else if (!m->px[i] && c->dout2[i] <= band2)
          sum_out[s] += wk->lesionness.px[i], n_out[s]++;
      }
  double contrast = wk->lesion_level - wk->skin_level;
  out->border_abrupt = 0;
  for (int s = 0; s < 8; s++)
    {
      double v = 0;
      if (n_in[s] > 0 && n_out[s] > 0 && contrast > 1e-3)
        v = (sum_in[s] / n_in[s] - sum_out[s] / n_out[s]) / contrast;
      out->border_sharpness[s] = v < 0 ? 0 : v > 1.5 ? 1.5 : v;
      out->border_abrupt += v > 0.6;
    }
}

static void
colours (Ctx *c, SlLesion *out)
{
  const SlMask *m = &c->wk->lesion;
  size_t n = (size_t) m->w * m->h;
  double count[SL_N_COLOURS] = { 0 }, mean[3] = { 0, 0, 0 }, total = 0;
  for (size_t i = 0; i < n; i++)
    if (m->px[i])
      {
        total++;
        for (int j = 0; j < 3; j++)
          mean[j] += c->lab[3 * i + j];
        if (c->colour[i] >= 0)
          count[c->colour[i]]++;
      }
  out->n_colours = 0;
  for (int k = 0; k < SL_N_COLOURS; k++)
    {
      out->colour_fraction[k] = total > 0 ? count[k] / total : 0;
      out->n_colours += out->colour_fraction[k] >= SL_COLOUR_MIN_FRACTION;
    }
  if (out->n_colours == 0)
    out->n_colours = 1; /* every lesion has a colour; none of the six stood out */
  double spread = 0;
  for (int j = 0; j < 3 && total > 0; j++)
    mean[j] /= total;
  for (size_t i = 0; i < n; i++)
    if (m->px[i])
      spread += sqrt (pow (c->lab[3 * i] - mean[0], 2) + pow (c->lab[3 * i + 1] - mean[1], 2) +
                      pow (c->lab[3 * i + 2] - mean[2], 2));
  out->colour_spread = total > 0 ? spread / total : 0;
}

/* Structure proxies: see the file comment. @unit is the size of 0.1 mm in
 * working pixels (estimated when the scale is unknown). */
static int
structures (Ctx *c, const SlParams *params, SlLesion *out)
{
  const SlWork *wk = c->wk;
  const SlMask *m = &wk->lesion;
  int w = m->w, h = m->h, side = w < h ? w : h;
  size_t n = (size_t) w * h;
  /* 0.1 mm in working pixels; without a scale, assume the photo's shorter
   * side spans 12 mm of skin, typical of contact dermoscopy. */
  double unit = params->mm_per_pixel > 0 ? 0.1 / (params->mm_per_pixel / wk->scale) : side / 120.0;
  if (unit < 0.5)
    unit = 0.5;

  float *lum = malloc (sizeof *lum * n), *closed = malloc (sizeof *closed * n), *best = malloc (sizeof *best * n);
  int32_t *labels = malloc (sizeof *labels * n);
  SlMask lines = { 0 }, holes = { 0 };
  int ok = lum && closed && best && labels && sl_mask_alloc (&lines, w, h) && sl_mask_alloc (&holes, w, h);
  if (!ok)
    goto out;
  for (size_t i = 0; i < n; i++)
    lum[i] = (wk->norm[0].px[i] + wk->norm[1].px[i] + wk->norm[2].px[i]) / 3.0f;
  /* Thin dark structures up to ~0.4 mm across: generalised black top-hat. */
  int len = (int) (4 * unit) | 1;
  if (len < 3)
    len = 3;
  const int dirs[4][2] = { { 1, 0 }, { 0, 1 }, { 1, 1 }, { 1, -1 } };
  memcpy (best, lum, sizeof *lum * n);
  for (int d = 0; d < 4 && ok; d++)
    {
      ok = sl_line_close (lum, closed, w, h, dirs[d][0], dirs[d][1], d < 2 ? len : ((int) (len / 1.414) | 1));
      for (size_t i = 0; ok && i < n; i++)
        best[i] = closed[i] > best[i] ? closed[i] : best[i];
    }
  if (!ok)
    goto out;
  double lesion_area = 0, line_area = 0;
  for (size_t i = 0; i < n; i++)
    {
      int in = m->px[i] && c->din2[i] > 4;
      lines.px[i] = in && !wk->hair.px[i] && (best[i] - lum[i]) > 0.08f * best[i];
      lesion_area += in;
      line_area += lines.px[i];
    }
  if (lesion_area < 50)
    goto out;

  /* Network: holes of the line mask within the lesion, small enough to be
   * the mesh's cells (up to ~0.5 mm across). */
  for (size_t i = 0; i < n; i++)
    holes.px[i] = m->px[i] && c->din2[i] > 4 && !lines.px[i];
  int count = sl_label (&holes, labels);
  ok = count >= 0;
  if (!ok)
    goto out;
  {
    double *area = calloc ((size_t) count + 1, sizeof *area);
    ok = area != NULL;
    if (!ok)
      goto out;
    for (size_t i = 0; i < n; i++)
      area[labels[i]]++;
    double cells = 0, max_cell = 25 * unit * unit;
    for (int l = 1; l <= count; l++)
      cells += area[l] >= 2 && area[l] <= max_cell;
    free (area);
    double line_share = line_area / lesion_area;
    /* cells per (1 mm)^2 of lesion */
    out->structure_measure[SL_STRUCT_NETWORK] = cells / (lesion_area / (100 * unit * unit));
    out->structure_present[SL_STRUCT_NETWORK] =
      out->structure_measure[SL_STRUCT_NETWORK] >= 3 && line_share > 0.1 && line_share < 0.7;
  }

  /* Dots, globules, streaks: components of the clearly dark structures. */
  for (size_t i = 0; i < n; i++)
    holes.px[i] = m->px[i] && !wk->hair.px[i] && (best[i] - lum[i]) > 0.12f * best[i];
  count = sl_label (&holes, labels);
  ok = count >= 0;
  if (!ok)
    goto out;
  {
    double *s = calloc ((size_t) 6 * (count + 1), sizeof *s); /* n, sx, sy, sxx, syy, sxy */
    ok = s != NULL;
    if (!ok)
      goto out;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        {
          int32_t l = labels[(size_t) y * w + x];
          if (l == 0)
            continue;
          double *q = s + 6 * l;
          q[0]++, q[1] += x, q[2] += y, q[3] += (double) x * x, q[4] += (double) y * y, q[5] += (double) x * y;
        }
    int dots = 0, globules = 0, streaks = 0;
    for (int l = 1; l <= count; l++)
      {
        double *q = s + 6 * l, a = q[0];
        if (a < 2)
          continue;
        double mx = q[1] / a, my = q[2] / a;
        double cxx = q[3] / a - mx * mx + 1.0 / 12, cyy = q[4] / a - my * my + 1.0 / 12, cxy = q[5] / a - mx * my;
        double tr = cxx + cyy, det = cxx * cyy - cxy * cxy, disc = sqrt (fmax (tr * tr / 4 - det, 0));
        double l1 = tr / 2 + disc, l2 = fmax (tr / 2 - disc, 1e-6);
        double elong = sqrt (l1 / l2), diameter = 2 * sqrt (a / M_PI), length = sqrt (12 * l1);
        if (elong < 2.0)
          {
            if (diameter <= 1.0 * unit)
              dots++;
            else if (diameter <= 10 * unit)
              globules++;
          }
        else if (elong > 3.0 && length > 5 * unit)
          {
            /* Streak: in the outer part of the lesion, along the radius. */
            size_t at = (size_t) (my + 0.5) * w + (size_t) (mx + 0.5);
            double depth = at < n ? sqrt (c->din2[at]) : 0;
            double theta = 0.5 * atan2 (2 * cxy, cxx - cyy);
            double radial = atan2 (my + 0.5 - c->mo.cy, mx + 0.5 - c->mo.cx);
            double diff = fabs (remainder (theta - radial, M_PI));
            if (depth < 0.3 * c->mo.radius && diff < M_PI / 6)
              streaks++;
          }
      }
    free (s);
    out->structure_measure[SL_STRUCT_DOTS] = dots;
    out->structure_measure[SL_STRUCT_GLOBULES] = globules;
    out->structure_measure[SL_STRUCT_STREAKS] = streaks;
    out->structure_present[SL_STRUCT_DOTS] = dots >= 3;
    out->structure_present[SL_STRUCT_GLOBULES] = globules >= 3;
    out->structure_present[SL_STRUCT_STREAKS] = streaks >= 2;
  }

  /* Structureless: lesion pixels whose neighbourhood (~0.5 mm) has little
   * texture and no thin dark lines. */
  {
    int r = (int) (2.5 * unit);
    if (r < 2)
      r = 2;
    float *mean = closed, *sq = best;
    for (size_t i = 0; i < n; i++)
      sq[i] = lum[i] * lum[i];
    ok = sl_box_blur (lum, mean, w, h, r) && sl_box_blur (sq, sq, w, h, r);
    for (size_t i = 0; i < n; i++)
      lum[i] = lines.px[i];
    ok = ok && sl_box_blur (lum, lum, w, h, r);
    if (!ok)
      goto out;
    double flat = 0;
    for (size_t i = 0; i < n; i++)
      {
        if (!m->px[i] || c->din2[i] <= 4)
          continue;
        double var = sq[i] - (double) mean[i] * mean[i];
        double cv = sqrt (fmax (var, 0)) / fmax (mean[i], 0.05);
        flat += cv < 0.04 && lum[i] < 0.05;
      }
    out->structure_measure[SL_STRUCT_STRUCTURELESS] = flat / lesion_area;
    out->structure_present[SL_STRUCT_STRUCTURELESS] = flat / lesion_area >= 0.1;
  }
out:
  out->n_structures = 0;
  for (int k = 0; k < SL_N_STRUCTURES; k++)
    out->n_structures += out->structure_present[k];
  if (out->n_structures == 0)
    out->n_structures = 1; /* the rule's minimum */
  free (lum), free (closed), free (best), free (labels);
  sl_mask_free (&lines), sl_mask_free (&holes);
  return ok;
}

SlStatus
sl_features (const SlWork *wk, const SlParams *params, SlLesion *out)
{
  const SlMask *m = &wk->lesion;
  int w = m->w, h = m->h;
  size_t n = (size_t) w * h;
  Ctx c = { .wk = wk };
  moments (m, &c.mo);
  if (c.mo.area == 0)
    return SL_OK;
  double s = wk->scale;

  /* Geometry, in input pixels. */
  double hull_area = 0, poly_area = 0;
  if (!outline_geometry (out->outline, out->n_outline, &out->perimeter_px, &poly_area, &hull_area, &out->diameter_px))
    return SL_NO_MEMORY;
  out->area_px = c.mo.area / (s * s);
  out->major_px = 4 * sqrt (c.mo.lambda[0]) / s;
  out->minor_px = 4 * sqrt (c.mo.lambda[1]) / s;
  out->centre_x = c.mo.cx / s;
  out->centre_y = c.mo.cy / s;
  out->compactness = poly_area > 0 ? out->perimeter_px * out->perimeter_px / (4 * M_PI * poly_area) : 1;
  out->solidity = hull_area > 0 ? poly_area / hull_area : 1;
  size_t fov_area = sl_mask_count (&wk->fov);
  out->image_fraction = fov_area > 0 ? c.mo.area / (double) fov_area : 0;
  out->hair_fraction = (double) sl_mask_count (&wk->hair) / (double) n;
  out->touches_border = 0;
  for (int y = 0; y < h && !out->touches_border; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = (size_t) y * w + x;
        if (!m->px[i])
          continue;
        int edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || !wk->fov.px[i - 1] || !wk->fov.px[i + 1] ||
                   !wk->fov.px[i - w] || !wk->fov.px[i + w];
        if (edge)
          {
            out->touches_border = 1;
            break;
          }
      }
  double mpp = params->mm_per_pixel;
  out->area_mm2 = mpp > 0 ? out->area_px * mpp * mpp : -1;
  out->diameter_mm = mpp > 0 ? out->diameter_px * mpp : -1;
  out->major_mm = mpp > 0 ? out->major_px * mpp : -1;
  out->minor_mm = mpp > 0 ? out->minor_px * mpp : -1;

  /* Per-pixel colour, relative to the skin. */
  c.lab = calloc (3 * n, sizeof *c.lab);
  c.colour = malloc (n);
  c.din2 = malloc (sizeof *c.din2 * n);
  c.dout2 = malloc (sizeof *c.dout2 * n);
  uint8_t *outside = malloc (n);
  SlStatus status = SL_NO_MEMORY;
  if (c.lab == NULL || c.colour == NULL || c.din2 == NULL || c.dout2 == NULL || outside == NULL)
    goto out;
  sl_rgb_to_lab (reference_skin[0], reference_skin[1], reference_skin[2], c.skin_lab);
  for (size_t i = 0; i < n; i++)
    {
      c.colour[i] = -1;
      outside[i] = !m->px[i];
      if (!m->px[i])
        continue;
      double rgb[3];
      for (int k = 0; k < 3; k++)
        {
          rgb[k] = wk->norm[k].px[i] * reference_skin[k];
          rgb[k] = rgb[k] > 255 ? 255 : rgb[k];
        }
      sl_rgb_to_lab (rgb[0], rgb[1], rgb[2], c.lab + 3 * i);
      c.colour[i] = (int8_t) classify (c.lab + 3 * i, c.skin_lab);
    }
  if (!sl_distance2 (outside, c.din2, w, h) || !sl_distance2 (m->px, c.dout2, w, h))
    goto out;
  if (params->cancelled && params->cancelled (params->cancel_data))
    {
      status = SL_CANCELLED;
      goto out;
    }
  asymmetry (&c, out);
  border (&c, out);
  colours (&c, out);
  if (!structures (&c, params, out))
    goto out;

  /* Segmentation confidence: a clean two-class split, a clear contrast,
   * and a lesion that is not cut off by the image edge. */
  {
    double contrast = wk->lesion_level - wk->skin_level;
    double conf = fmin (1, wk->separability / 0.7) * (1 - exp (-contrast / 0.15));
    if (out->touches_border)
      conf *= 0.75;
    out->segmentation_confidence = conf < 0 ? 0 : conf > 1 ? 1 : conf;
  }
  status = SL_OK;
out:
  free (c.lab), free (c.colour), free (c.din2), free (c.dout2), free (outside);
  return status;
}
