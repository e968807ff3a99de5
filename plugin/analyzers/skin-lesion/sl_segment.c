/*
 * sl_segment.c: the lesion mask and its outline.
 *
 *   1. Channel: after illumination normalisation, skin is ~1 in every
 *      channel and a lesion is darker. Three candidate "lesionness"
 *      channels (-log of the normalised blue, green, and mean) are
 *      smoothed a little, and the one whose histogram splits best into two
 *      classes (Otsu's separability eta) is used: blue carries most melanin
 *      contrast, green most haemoglobin contrast (red, vascular lesions),
 *      the mean is the least noisy.
 *   2. Threshold: Otsu's, within the field of view.
 *   3. Component: the dark components are scored by area and closeness to
 *      the image centre (photos are taken of a lesion); components hugging
 *      a long stretch of the image border are shading, not a lesion.
 *      Fragments near the chosen one are merged by a closing (lesions with
 *      regression or globules break up under a global threshold).
 *   4. Growth: Otsu's threshold sits between the class means and cuts the
 *      faint periphery off, where experts draw the border at the last
 *      visible pigment. Hysteresis: pixels connected to the lesion, within
 *      a band around it, join when clearly above the skin's own variation
 *      (2.5 robust sigma) and a quarter of the way from skin to lesion, or
 *      when their colour is far from the skin's (4 robust sigma over the
 *      three channels): a pink or light-brown rim differs in hue more than
 *      in brightness.
 *   5. Smoothing: Gaussian of the mask at 0.5 (a curvature flow in one
 *      step), largest component, holes filled.
 *   6. Outline: the crack boundary between the lesion's pixels and the
 *      rest, so that the polygon encloses exactly the lesion's pixel
 *      centres, simplified by Douglas-Peucker and mapped to the input
 *      image's coordinates.
 */
#include "sl_lesion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
is_cancelled (const SlParams *params)
{
  return params->cancelled != NULL && params->cancelled (params->cancel_data);
}

/* Chooses the lesionness channel (see above) into wk->lesionness. */
static int
choose_channel (SlWork *wk)
{
  int w = wk->w, h = wk->h, side = w < h ? w : h;
  size_t n = (size_t) w * h;
  float *cand = malloc (sizeof *cand * n);
  if (cand == NULL)
    return 0;
  double best_eta = -1;
  for (int k = 0; k < 3; k++)
    {
      for (size_t i = 0; i < n; i++)
        {
          float v = k == 0 ? wk->norm[2].px[i]
                  : k == 1 ? wk->norm[1].px[i]
                           : (wk->norm[0].px[i] + wk->norm[1].px[i] + wk->norm[2].px[i]) / 3.0f;
          cand[i] = -logf (v > 0.02f ? v : 0.02f);
        }
      if (!sl_gauss_blur (cand, cand, w, h, 0.004 * side))
        {
          free (cand);
          return 0;
        }
      double eta = 0;
      sl_otsu (cand, wk->fov.px, n, &eta);
      if (eta > best_eta)
        {
          best_eta = eta;
          wk->channel = k;
          memcpy (wk->lesionness.px, cand, sizeof *cand * n);
        }
    }
  free (cand);
  wk->separability = best_eta;
  return 1;
}

typedef struct {
  double area, sx, sy, sum_f;
  int border_pixels;
} Component;

/* Picks the lesion among the components; returns its label, 0 for none,
 * -1 when out of memory. The photographed lesion is the most conspicuous
 * dark region near the centre: conspicuity grows with contrast and with
 * size (as its square root, so that a big faint shadow does not beat a
 * small dark lesion); regions touching the image border are more often
 * shading, skin folds or the lens rim. */
static int32_t
pick_component (const SlWork *wk, const int32_t *labels, int count, double skin)
{
  int w = wk->w, h = wk->h;
  Component *comp = calloc ((size_t) count + 1, sizeof *comp);
  if (comp == NULL)
    return -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = (size_t) y * w + x;
        int32_t l = labels[i];
        if (l == 0)
          continue;
        comp[l].area++;
        comp[l].sx += x + 0.5;
        comp[l].sy += y + 0.5;
        comp[l].sum_f += wk->lesionness.px[i];
        comp[l].border_pixels += (x == 0 || y == 0 || x == w - 1 || y == h - 1);
      }
  size_t fov_area = sl_mask_count (&wk->fov);
  double half_diag = hypot (w, h) / 2, perimeter = 2.0 * (w + h);
  double best = 0;
  int32_t pick = 0;
  for (int l = 1; l <= count; l++)
    {
      Component *c = &comp[l];
      if (c->area < 0.001 * (double) fov_area || c->area < 20)
        continue;
      double d = hypot (c->sx / c->area - w / 2.0, c->sy / c->area - h / 2.0) / half_diag;
      double contrast = c->sum_f / c->area - skin;
      double score = sqrt (c->area) * fmax (contrast, 1e-3) * exp (-d * d / (2 * 0.3 * 0.3));
      if (c->border_pixels > 0.25 * perimeter)
        score *= 0.1;
      else if (c->border_pixels > 0)
        score *= 0.5;
      if (score > best)
        best = score, pick = l;
    }
  free (comp);
  return pick;
}

/* Hysteresis growth of wk->lesion into pixels above @t_low, within @band
 * of the current lesion. */
static int
grow (SlWork *wk, double t_low, const float *colour_z, double z_low, double band)
{
  int w = wk->w, h = wk->h;
  size_t n = (size_t) w * h;
  SlMask allowed;
  size_t *stack = malloc (sizeof *stack * n);
  if (stack == NULL || !sl_mask_alloc (&allowed, w, h))
    {
      free (stack);
      return 0;
    }
  memcpy (allowed.px, wk->lesion.px, n);
  if (!sl_mask_dilate (&allowed, band))
    {
      free (stack), sl_mask_free (&allowed);
      return 0;
    }
  size_t top = 0;
  for (size_t i = 0; i < n; i++)
    if (wk->lesion.px[i])
      stack[top++] = i;
  while (top > 0)
    {
      size_t i = stack[--top];
      int x = (int) (i % w), y = (int) (i / w);
      const int nx[4] = { x - 1, x + 1, x, x }, ny[4] = { y, y, y - 1, y + 1 };
      for (int k = 0; k < 4; k++)
        {
          if (nx[k] < 0 || ny[k] < 0 || nx[k] >= w || ny[k] >= h)
            continue;
          size_t j = (size_t) ny[k] * w + nx[k];
          if (!wk->lesion.px[j] && allowed.px[j] && wk->fov.px[j]
              && (wk->lesionness.px[j] > t_low || (colour_z != NULL && colour_z[j] > z_low)))
            wk->lesion.px[j] = 1, stack[top++] = j;
        }
    }
  free (stack), sl_mask_free (&allowed);
  return 1;
}

/* Keeps the largest 8-connected component of @m. */
static int
keep_largest (SlMask *m)
{
  size_t n = (size_t) m->w * m->h;
  int32_t *labels = malloc (sizeof *labels * n);
  if (labels == NULL)
    return 0;
  int count = sl_label (m, labels);
  if (count < 0)
    {
      free (labels);
      return 0;
    }
  if (count > 1)
    {
      size_t *area = calloc ((size_t) count + 1, sizeof *area);
      if (area == NULL)
        {
          free (labels);
          return 0;
        }
      for (size_t i = 0; i < n; i++)
        area[labels[i]]++;
      int32_t best = 1;
      for (int l = 2; l <= count; l++)
        if (area[l] > area[best])
          best = l;
      sl_mask_keep_label (m, labels, best);
      free (area);
    }
  free (labels);
  return 1;
}

/* How far each pixel's colour is from the skin's, in units of the skin's
 * own variation: the root mean square over the three channels of
 * (-log normalised value - skin median) / skin robust sigma, each channel
 * smoothed like the lesionness. Darkness alone misses a periphery that
 * differs from the skin in hue more than in brightness (the pink or
 * light-brown rim experts include); this sees it. @skin_class marks the
 * pixels the statistics come from. Returns NULL when out of memory. */
static float *
colour_distance (const SlWork *wk, const uint8_t *skin_class)
{
  int w = wk->w, h = wk->h, side = w < h ? w : h;
  size_t n = (size_t) w * h;
  float *z = calloc (n, sizeof *z), *ch = malloc (sizeof *ch * n);
  if (z == NULL || ch == NULL)
    {
      free (z), free (ch);
      return NULL;
    }
  for (int c = 0; c < 3; c++)
    {
      for (size_t i = 0; i < n; i++)
        {
          float v = wk->norm[c].px[i];
          ch[i] = -logf (v > 0.02f ? v : 0.02f);
        }
      if (!sl_gauss_blur (ch, ch, w, h, 0.004 * side))
        {
          free (z), free (ch);
          return NULL;
        }
      double med = sl_quantile (ch, skin_class, n, 0.5);
      double sigma = (sl_quantile (ch, skin_class, n, 0.75) - sl_quantile (ch, skin_class, n, 0.25)) / 1.349;
      if (!isfinite (med) || !isfinite (sigma) || sigma <= 0)
        continue;
      for (size_t i = 0; i < n; i++)
        {
          double d = (ch[i] - med) / sigma;
          z[i] += (float) (d * d / 3.0);
        }
    }
  for (size_t i = 0; i < n; i++)
    z[i] = sqrtf (z[i]);
  free (ch);
  return z;
}

SlStatus
sl_segment (SlWork *wk, const SlParams *params)
{
  int w = wk->w, h = wk->h, side = w < h ? w : h;
  size_t n = (size_t) w * h;
  if (!choose_channel (wk))
    return SL_NO_MEMORY;
  if (is_cancelled (params))
    return SL_CANCELLED;
  const float *f = wk->lesionness.px;
  double t = sl_otsu (f, wk->fov.px, n, NULL);

  /* Skin statistics: the class below the threshold. */
  uint8_t *below = malloc (n);
  int32_t *labels = malloc (sizeof *labels * n);
  SlMask dark;
  if (below == NULL || labels == NULL || !sl_mask_alloc (&dark, w, h))
    {
      free (below), free (labels);
      return SL_NO_MEMORY;
    }
  for (size_t i = 0; i < n; i++)
    {
      below[i] = wk->fov.px[i] && f[i] <= t;
      dark.px[i] = wk->fov.px[i] && f[i] > t;
    }
  double skin = sl_quantile (f, below, n, 0.5);
  double skin_sigma = (sl_quantile (f, below, n, 0.75) - sl_quantile (f, below, n, 0.25)) / 1.349;
  free (below);
  if (!isfinite (skin))
    skin = 0;
  if (!isfinite (skin_sigma))
    skin_sigma = 0;

  SlStatus status = SL_NO_MEMORY;
  float *colour_z = NULL;
  if (!sl_mask_open (&dark, 0.006 * side) || !sl_mask_fill_holes (&dark))
    goto out;
  int count = sl_label (&dark, labels);
  if (count < 0)
    goto out;
  int32_t pick = pick_component (wk, labels, count, skin);
  if (pick < 0)
    goto out;
  status = SL_OK;
  if (pick == 0)
    goto out; /* nothing: wk->lesion stays empty */

  /* Merge nearby fragments: close the union of all dark components and
   * keep what overlaps the chosen one. */
  memcpy (wk->lesion.px, dark.px, n);
  status = SL_NO_MEMORY;
  if (!sl_mask_close (&wk->lesion, 0.02 * side))
    goto out;
  {
    int32_t *merged = malloc (sizeof *merged * n);
    if (merged == NULL)
      goto out;
    if (sl_label (&wk->lesion, merged) < 0)
      {
        free (merged);
        goto out;
      }
    int32_t keep = 0;
    for (size_t i = 0; i < n && keep == 0; i++)
      if (labels[i] == pick)
        keep = merged[i];
    sl_mask_keep_label (&wk->lesion, merged, keep);
    free (merged);
  }
  if (!sl_mask_fill_holes (&wk->lesion))
    goto out;
  if (is_cancelled (params))
    {
      status = SL_CANCELLED;
      goto out;
    }

  /* Lesion core level: the median of the chosen lesion. */
  double lesion = sl_quantile (f, wk->lesion.px, n, 0.5);
  if (!isfinite (lesion))
    lesion = t;
  wk->skin_level = skin;
  wk->lesion_level = lesion;

  /* Hysteresis growth into the faint periphery. */
  {
    double area = (double) sl_mask_count (&wk->lesion);
    double radius = sqrt (area / M_PI);
    double t_low = skin + 0.25 * (t - skin);
    if (t_low < skin + 2.5 * skin_sigma)
      t_low = skin + 2.5 * skin_sigma;
    double band = 0.03 * side + 0.15 * radius;
    /* The skin's colour is taken beyond twice the band, where no halo
     * is; a pixel is "clearly not skin" at 4 robust sigma (RMS over the
     * channels), a wider margin than the darkness rule's 2.5 because a
     * hue difference alone is weaker evidence than darkening. */
    SlMask far;
    if (!sl_mask_alloc (&far, w, h))
      goto out;
    memcpy (far.px, wk->lesion.px, n);
    if (!sl_mask_dilate (&far, 2 * band))
      {
        sl_mask_free (&far);
        goto out;
      }
    for (size_t i = 0; i < n; i++)
      far.px[i] = wk->fov.px[i] && !far.px[i];
    colour_z = colour_distance (wk, far.px);
    sl_mask_free (&far);
    if (colour_z == NULL)
      goto out;
    if (t_low < t && !grow (wk, t_low, colour_z, 4.0, band))
      goto out;
  }

  /* Smooth, one piece, no holes. */
  {
    float *soft = malloc (sizeof *soft * n);
    if (soft == NULL)
      goto out;
    for (size_t i = 0; i < n; i++)
      soft[i] = wk->lesion.px[i];
    if (!sl_gauss_blur (soft, soft, w, h, 0.008 * side))
      {
        free (soft);
        goto out;
      }
    for (size_t i = 0; i < n; i++)
      wk->lesion.px[i] = soft[i] > 0.5f && wk->fov.px[i];
    free (soft);
  }
  if (!keep_largest (&wk->lesion) || !sl_mask_fill_holes (&wk->lesion))
    goto out;
  status = SL_OK;
out:
  free (labels);
  free (colour_z);
  sl_mask_free (&dark);
  return status;
}

/* ---- the outline ------------------------------------------------------------------ */

/* Is pixel (x, y) inside? Outside the image is outside. */
static int
inside (const SlMask *m, int x, int y)
{
  return x >= 0 && y >= 0 && x < m->w && y < m->h && m->px[(size_t) y * m->w + x];
}

/* Douglas-Peucker on the open chain pts[first..last] (x, y pairs); marks
 * the vertices to keep. Iterative, with an explicit stack. */
static int
simplify (const double *pts, size_t first, size_t last, double eps, uint8_t *keep)
{
  size_t cap = 64, top = 0;
  size_t *stack = malloc (sizeof *stack * cap * 2);
  if (stack == NULL)
    return 0;
  keep[first] = keep[last] = 1;
  stack[top++] = first;
  stack[top++] = last;
  while (top > 0)
    {
      size_t b = stack[--top], a = stack[--top];
      double ax = pts[2 * a], ay = pts[2 * a + 1], bx = pts[2 * b], by = pts[2 * b + 1];
      double dx = bx - ax, dy = by - ay, len = hypot (dx, dy);
      double worst = -1;
      size_t at = a;
      for (size_t i = a + 1; i < b; i++)
        {
          double px = pts[2 * i] - ax, py = pts[2 * i + 1] - ay;
          double d = len > 0 ? fabs (px * dy - py * dx) / len : hypot (px, py);
          if (d > worst)
            worst = d, at = i;
        }
      if (worst > eps)
        {
          keep[at] = 1;
          if (top + 4 > cap * 2)
            {
              cap *= 2;
              size_t *bigger = realloc (stack, sizeof *stack * cap * 2);
              if (bigger == NULL)
                {
                  free (stack);
                  return 0;
                }
              stack = bigger;
            }
          stack[top++] = a;
          stack[top++] = at;
          stack[top++] = at;
          stack[top++] = b;
        }
    }
  free (stack);
  return 1;
}

SlStatus
sl_outline (const SlWork *wk, int in_w, int in_h, SlLesion *out)
{
  const SlMask *m = &wk->lesion;
  size_t n = (size_t) m->w * m->h, start = n;
  for (size_t i = 0; i < n; i++)
    if (m->px[i])
      {
        start = i;
        break;
      }
  if (start == n)
    return SL_OK;

  /* Crack following with the lesion on the right; at each corner prefer
   * turning left, then straight, then right, which walks the outer
   * boundary of an 8-connected region. Directions: 0 E, 1 S, 2 W, 3 N. */
  const int step[4][2] = { { 1, 0 }, { 0, 1 }, { -1, 0 }, { 0, -1 } };
  size_t cap = 1024, count = 0;
  double *pts = malloc (sizeof *pts * cap * 2);
  if (pts == NULL)
    return SL_NO_MEMORY;
  int sx = (int) (start % m->w), sy = (int) (start / m->w);
  int cx = sx, cy = sy, dir = 0;
  do
    {
      if (count == cap)
        {
          cap *= 2;
          double *bigger = realloc (pts, sizeof *pts * cap * 2);
          if (bigger == NULL)
            {
              free (pts);
              return SL_NO_MEMORY;
            }
          pts = bigger;
        }
      pts[2 * count] = cx;
      pts[2 * count + 1] = cy;
      count++;
      cx += step[dir][0];
      cy += step[dir][1];
      for (int turn = 3; turn <= 5; turn++) /* left (3), straight (4), right (5) */
        {
          int d = (dir + turn) % 4;
          /* The pixels right (R) and left (L) of the edge leaving (cx, cy) in d. */
          int rx, ry, lx, ly;
          switch (d)
            {
            case 0: rx = cx, ry = cy, lx = cx, ly = cy - 1; break;
            case 1: rx = cx - 1, ry = cy, lx = cx, ly = cy; break;
            case 2: rx = cx - 1, ry = cy - 1, lx = cx - 1, ly = cy; break;
            default: rx = cx, ry = cy - 1, lx = cx - 1, ly = cy - 1; break;
            }
          if (inside (m, rx, ry) && !inside (m, lx, ly))
            {
              dir = d;
              break;
            }
        }
    }
  while (!(cx == sx && cy == sy && dir == 0) && count < 4 * n);

  /* Simplify: split the closed chain at its start and at the vertex
   * farthest from it, Douglas-Peucker both halves. Tolerance grows until
   * the polygon has a reasonable number of points. */
  uint8_t *keep = calloc (count + 1, 1);
  double *closed = malloc (sizeof *closed * (count + 1) * 2);
  if (keep == NULL || closed == NULL)
    {
      free (pts), free (keep), free (closed);
      return SL_NO_MEMORY;
    }
  memcpy (closed, pts, sizeof *pts * count * 2);
  closed[2 * count] = pts[0];
  closed[2 * count + 1] = pts[1];
  size_t far = 0;
  double far_d = -1;
  for (size_t i = 0; i < count; i++)
    {
      double d = hypot (pts[2 * i] - pts[0], pts[2 * i + 1] - pts[1]);
      if (d > far_d)
        far_d = d, far = i;
    }
  size_t kept = 0;
  for (double eps = 0.7; eps < 1e6; eps *= 1.5)
    {
      memset (keep, 0, count + 1);
      if (far == 0 || !simplify (closed, 0, far, eps, keep) || !simplify (closed, far, count, eps, keep))
        {
          /* degenerate: keep everything */
          memset (keep, 1, count + 1);
        }
      kept = 0;
      for (size_t i = 0; i < count; i++)
        kept += keep[i];
      if (kept <= 1000)
        break;
    }
  free (out->outline);
  out->outline = malloc (sizeof *out->outline * 2 * (kept > 0 ? kept : 1));
  if (out->outline == NULL)
    {
      free (pts), free (keep), free (closed);
      return SL_NO_MEMORY;
    }
  out->n_outline = 0;
  for (size_t i = 0; i < count; i++)
    if (keep[i])
      {
        double x = pts[2 * i] / wk->scale, y = pts[2 * i + 1] / wk->scale;
        x = x < 0 ? 0 : x > in_w ? in_w : x;
        y = y < 0 ? 0 : y > in_h ? in_h : y;
        out->outline[2 * out->n_outline] = (float) x;
        out->outline[2 * out->n_outline + 1] = (float) y;
        out->n_outline++;
      }
  free (pts), free (keep), free (closed);
  return SL_OK;
}
