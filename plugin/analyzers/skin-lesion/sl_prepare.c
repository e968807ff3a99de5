/*
 * sl_prepare.c: from the decoded photo to images the segmentation can trust.
 *
 *   1. Working resolution: phone photos are scaled down (area average) so
 *      that the shorter side is at most SL_WORK_SIDE pixels; every size
 *      below is relative to that side, so a 180 x 180 thumbnail and a
 *      600 x 450 dermoscopy image get the same treatment.
 *   2. Field of view: contact dermoscopes leave a black rim outside their
 *      round lens. Very dark regions that touch the image border and stay
 *      out of the central disk are marked as outside and ignored later.
 *   3. Hair: dark, thin, long structures. A generalised black top-hat
 *      (the maximum of grey closings along four line orientations, minus the
 *      image, as in DullRazor) finds thin dark structures; components that
 *      are long and thin are hair, and are filled from their surroundings
 *      by normalised convolution in each colour channel.
 *   4. Illumination: vignetting and uneven light are slow multiplicative
 *      fields. In the log domain, a smooth surface (plane + radial term) is
 *      fitted to the skin by iteratively re-weighted least squares, the
 *      lesion and other dark outliers being excluded at each round; each
 *      channel is divided by its surface, so that skin is ~1 everywhere and
 *      the lesion's darkening is comparable across the image. Dividing by
 *      the skin also makes colours relative to the patient's skin, which is
 *      how a dermatologist judges them.
 */
#include "sl_lesion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SL_WORK_SIDE 450

/* Area-average downscaling by @scale (<= 1) of an interleaved RGB image
 * into three planes. */
static int
downscale (const float *rgb, int w, int h, double scale, SlPlane out[3])
{
  int ow = (int) floor (w * scale + 0.5), oh = (int) floor (h * scale + 0.5);
  if (ow < 1)
    ow = 1;
  if (oh < 1)
    oh = 1;
  for (int c = 0; c < 3; c++)
    if (!sl_plane_alloc (&out[c], ow, oh))
      return 0;
  double fx = (double) w / ow, fy = (double) h / oh;
  for (int y = 0; y < oh; y++)
    {
      int y0 = (int) floor (y * fy), y1 = (int) floor ((y + 1) * fy);
      if (y1 <= y0)
        y1 = y0 + 1;
      if (y1 > h)
        y1 = h;
      for (int x = 0; x < ow; x++)
        {
          int x0 = (int) floor (x * fx), x1 = (int) floor ((x + 1) * fx);
          if (x1 <= x0)
            x1 = x0 + 1;
          if (x1 > w)
            x1 = w;
          double sum[3] = { 0, 0, 0 };
          for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++)
              for (int c = 0; c < 3; c++)
                sum[c] += rgb[((size_t) yy * w + xx) * 3 + c];
          double n = (double) (y1 - y0) * (x1 - x0);
          for (int c = 0; c < 3; c++)
            out[c].px[(size_t) y * ow + x] = (float) (sum[c] / n);
        }
    }
  return 1;
}

static float
clamp255 (double v)
{
  return (float) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Field of view: dark regions touching the border, outside the central
 * disk. A lesion reaching the edge is not dark enough or reaches into the
 * centre, so it stays inside. */
static int
field_of_view (SlWork *wk, const float *lum)
{
  int w = wk->w, h = wk->h;
  size_t n = (size_t) w * h;
  int side = w < h ? w : h;
  double bright = sl_quantile (lum, NULL, n, 0.9);
  SlMask dark;
  int32_t *labels = malloc (sizeof *labels * n);
  if (labels == NULL || !sl_mask_alloc (&dark, w, h))
    {
      free (labels);
      return 0;
    }
  for (size_t i = 0; i < n; i++)
    dark.px[i] = lum[i] < 0.3 * bright && lum[i] < 60;
  int count = sl_label (&dark, labels);
  if (count < 0)
    {
      free (labels), sl_mask_free (&dark);
      return 0;
    }
  /* Per component: touches the border? reaches the central disk? */
  uint8_t *outside = calloc ((size_t) count + 1, 1), *central = calloc ((size_t) count + 1, 1);
  if (outside == NULL || central == NULL)
    {
      free (outside), free (central), free (labels), sl_mask_free (&dark);
      return 0;
    }
  double cx = w / 2.0, cy = h / 2.0, r_central = 0.3 * side;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        int32_t l = labels[(size_t) y * w + x];
        if (l == 0)
          continue;
        if (x == 0 || y == 0 || x == w - 1 || y == h - 1)
          outside[l] = 1;
        if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) < r_central * r_central)
          central[l] = 1;
      }
  for (size_t i = 0; i < n; i++)
    dark.px[i] = labels[i] != 0 && outside[labels[i]] && !central[labels[i]];
  /* The lens rim is blurred: widen the excluded band a little. */
  int ok = sl_mask_dilate (&dark, 0.02 * side);
  for (size_t i = 0; i < n; i++)
    wk->fov.px[i] = !dark.px[i];
  free (outside), free (central), free (labels), sl_mask_free (&dark);
  return ok;
}

/* Hair: see the file comment. Fills wk->hair and repairs wk->rgb. */
static int
remove_hair (SlWork *wk, const float *lum)
{
  int w = wk->w, h = wk->h;
  size_t n = (size_t) w * h;
  int side = w < h ? w : h;
  int len = (int) (0.04 * side) | 1;
  if (len < 5)
    len = 5;
  float *closed = malloc (sizeof *closed * n), *best = malloc (sizeof *best * n);
  int32_t *labels = malloc (sizeof *labels * n);
  if (closed == NULL || best == NULL || labels == NULL)
    goto fail;
  const int dirs[4][2] = { { 1, 0 }, { 0, 1 }, { 1, 1 }, { 1, -1 } };
  for (size_t i = 0; i < n; i++)
    best[i] = lum[i];
  for (int d = 0; d < 4; d++)
    {
      /* Diagonal steps are sqrt(2) long: fewer of them for the same length. */
      int l = d < 2 ? len : ((int) (len / 1.41421356) | 1);
      if (!sl_line_close (lum, closed, w, h, dirs[d][0], dirs[d][1], l))
        goto fail;
      for (size_t i = 0; i < n; i++)
        best[i] = closed[i] > best[i] ? closed[i] : best[i];
    }
  /* Candidates: clearly darker than what the closing fills in, relative to
   * the local brightness (hair on dark lesions is less contrasted in
   * absolute terms). */
  for (size_t i = 0; i < n; i++)
    {
      float bh = best[i] - lum[i];
      wk->hair.px[i] = wk->fov.px[i] && bh > 10.0f && bh > 0.1f * best[i];
    }
  /* Only the thin part of the candidates can be hair: a dark dot or
   * globule with a hair touching it must survive. Thick parts are what an
   * opening keeps. */
  {
    SlMask thick;
    if (!sl_mask_alloc (&thick, w, h))
      goto fail;
    memcpy (thick.px, wk->hair.px, n);
    if (!sl_mask_open (&thick, 0.01 * side + 0.5))
      {
        sl_mask_free (&thick);
        goto fail;
      }
    for (size_t i = 0; i < n; i++)
      wk->hair.px[i] = wk->hair.px[i] && !thick.px[i];
    sl_mask_free (&thick);
  }
  int count = sl_label (&wk->hair, labels);
  if (count < 0)
    goto fail;
  /* Per component: area, perimeter (4-neighbour edges) and extent. */
  double *area = calloc ((size_t) count + 1, sizeof *area), *perim = calloc ((size_t) count + 1, sizeof *perim);
  int *bb = malloc (sizeof *bb * 4 * ((size_t) count + 1));
  if (area == NULL || perim == NULL || bb == NULL)
    {
      free (area), free (perim), free (bb);
      goto fail;
    }
  for (int l = 0; l <= count; l++)
    bb[4 * l] = w, bb[4 * l + 1] = h, bb[4 * l + 2] = -1, bb[4 * l + 3] = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = (size_t) y * w + x;
        int32_t l = labels[i];
        if (l == 0)
          continue;
        area[l]++;
        perim[l] += (x == 0 || labels[i - 1] != l) + (x == w - 1 || labels[i + 1] != l) +
                    (y == 0 || labels[i - w] != l) + (y == h - 1 || labels[i + w] != l);
        int *b = bb + 4 * l;
        b[0] = x < b[0] ? x : b[0];
        b[1] = y < b[1] ? y : b[1];
        b[2] = x > b[2] ? x : b[2];
        b[3] = y > b[3] ? y : b[3];
      }
  /* Hair is long (spans a good part of the image) and thin: for a thin
   * structure, perimeter ~ 2 x length, so 2 area / perimeter ~ its width.
   * Dots, globules and the pigment network's small fragments are short. */
  uint8_t *is_hair = calloc ((size_t) count + 1, 1);
  if (is_hair == NULL)
    {
      free (area), free (perim), free (bb);
      goto fail;
    }
  double min_extent = 0.12 * side, max_width = 0.012 * side + 1.5;
  for (int l = 1; l <= count; l++)
    {
      int *b = bb + 4 * l;
      double extent = hypot (b[2] - b[0] + 1, b[3] - b[1] + 1);
      double width = 2 * area[l] / perim[l];
      /* ... and elongated: a hair of length L spans L^2 / area ~ L / width,
       * crossing hairs still well above 15, while a compact cluster of dots
       * or a patch of pigment network (also thin, also long enough) stays
       * near 10. */
      is_hair[l] = extent >= min_extent && width <= max_width && extent * extent >= 15 * area[l];
    }
  for (size_t i = 0; i < n; i++)
    wk->hair.px[i] = is_hair[labels[i]];
  free (area), free (perim), free (bb), free (is_hair);

  /* Hair edges are soft: repair a slightly wider band. */
  if (!sl_mask_dilate (&wk->hair, 1.5))
    goto fail;
  float *weight = closed; /* reuse */
  for (size_t i = 0; i < n; i++)
    weight[i] = wk->hair.px[i] ? 0.0f : 1.0f;
  for (int c = 0; c < 3; c++)
    {
      if (!sl_weighted_blur (wk->rgb[c].px, weight, best, w, h, len / 2 + 1))
        goto fail;
      for (size_t i = 0; i < n; i++)
        if (wk->hair.px[i])
          wk->rgb[c].px[i] = best[i];
    }
  free (closed), free (best), free (labels);
  return 1;
fail:
  free (closed), free (best), free (labels);
  return 0;
}

/* Solves the 4 x 4 normal equations @a x = @b (Gaussian elimination with
 * partial pivoting). Returns 0 when singular. */
static int
solve4 (double a[4][4], double b[4], double x[4])
{
  for (int c = 0; c < 4; c++)
    {
      int p = c;
      for (int r = c + 1; r < 4; r++)
        if (fabs (a[r][c]) > fabs (a[p][c]))
          p = r;
      if (fabs (a[p][c]) < 1e-12)
        return 0;
      for (int k = 0; k < 4; k++)
        {
          double t = a[c][k];
          a[c][k] = a[p][k];
          a[p][k] = t;
        }
      double t = b[c];
      b[c] = b[p];
      b[p] = t;
      for (int r = c + 1; r < 4; r++)
        {
          double f = a[r][c] / a[c][c];
          for (int k = c; k < 4; k++)
            a[r][k] -= f * a[c][k];
          b[r] -= f * b[c];
        }
    }
  for (int r = 3; r >= 0; r--)
    {
      double s = b[r];
      for (int k = r + 1; k < 4; k++)
        s -= a[r][k] * x[k];
      x[r] = s / a[r][r];
    }
  return 1;
}

/* The background model's terms at (x, y): 1, x, y, r^2 in coordinates
 * normalised to about -1..1 around the image centre. */
static void
terms (int w, int h, int x, int y, double t[4])
{
  double half = (w > h ? w : h) / 2.0;
  double u = (x + 0.5 - w / 2.0) / half, v = (y + 0.5 - h / 2.0) / half;
  t[0] = 1;
  t[1] = u;
  t[2] = v;
  t[3] = u * u + v * v;
}

/* Least-squares fit of @logv over the grid points where @use is set. */
static int
fit_surface (const float *logv, const uint8_t *use, int w, int h, int step, double coef[4])
{
  double a[4][4] = { { 0 } }, b[4] = { 0 }, t[4];
  size_t count = 0;
  for (int y = step / 2; y < h; y += step)
    for (int x = step / 2; x < w; x += step)
      {
        size_t i = (size_t) y * w + x;
        if (!use[i])
          continue;
        terms (w, h, x, y, t);
        for (int r = 0; r < 4; r++)
          {
            for (int c = 0; c < 4; c++)
              a[r][c] += t[r] * t[c];
            b[r] += t[r] * logv[i];
          }
        count++;
      }
  /* Ridge on the shape terms: a fit from a thin ring of skin around a big
   * lesion must not invent a bright bump in the middle. */
  for (int r = 1; r < 4; r++)
    a[r][r] += 0.05 * (double) count;
  if (count < 16)
    return 0;
  return solve4 (a, b, coef);
}

static double
surface_at (const double coef[4], int w, int h, int x, int y)
{
  double t[4];
  terms (w, h, x, y, t);
  return coef[0] + coef[1] * t[1] + coef[2] * t[2] + coef[3] * t[3];
}

/* Illumination normalisation: see the file comment. */
static int
normalise_illumination (SlWork *wk)
{
  int w = wk->w, h = wk->h;
  size_t n = (size_t) w * h;
  int step = (w < h ? w : h) >= 200 ? 3 : 2;
  float *logv[3] = { NULL, NULL, NULL }, *loglum = malloc (sizeof (float) * n);
  uint8_t *skin = malloc (n);
  int ok = loglum != NULL && skin != NULL;
  for (int c = 0; ok && c < 3; c++)
    ok = (logv[c] = malloc (sizeof (float) * n)) != NULL;
  if (!ok)
    goto out;
  for (size_t i = 0; i < n; i++)
    {
      for (int c = 0; c < 3; c++)
        logv[c][i] = logf (wk->rgb[c].px[i] + 1.0f);
      loglum[i] = (logv[0][i] + logv[1][i] + logv[2][i]) / 3.0f;
    }
  /* Start from the bright class (Otsu) inside the field of view: skin for
   * pigmented lesions, even when the lesion fills most of the photo. */
  double t = sl_otsu (loglum, wk->fov.px, n, NULL);
  for (size_t i = 0; i < n; i++)
    skin[i] = wk->fov.px[i] && !wk->hair.px[i] && loglum[i] > t;
  double coef[4] = { 0, 0, 0, 0 };
  for (int round = 0; round < 4; round++)
    {
      if (!fit_surface (loglum, skin, w, h, step, coef))
        break;
      /* Robust spread of the residuals over the current skin. */
      float *res = wk->lesionness.px; /* scratch until segmentation */
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            size_t i = (size_t) y * w + x;
            res[i] = (float) (loglum[i] - surface_at (coef, w, h, x, y));
          }
      double med = sl_quantile (res, skin, n, 0.5);
      double q1 = sl_quantile (res, skin, n, 0.25), q3 = sl_quantile (res, skin, n, 0.75);
      double sigma = (q3 - q1) / 1.349;
      if (!(sigma > 0.01))
        sigma = 0.01;
      /* Skin: not much darker than the surface (lesions, hair remnants and
       * shadows are), nor much brighter (glare). */
      for (size_t i = 0; i < n; i++)
        skin[i] = wk->fov.px[i] && !wk->hair.px[i] && res[i] > med - 2.5 * sigma && res[i] < med + 4 * sigma;
    }
  /* Each channel against its own surface, on the same skin pixels. */
  for (int c = 0; c < 3; c++)
    {
      double cc[4];
      if (!fit_surface (logv[c], skin, w, h, step, cc))
        {
          /* No skin to fit (a lesion filling the photo): plain median. */
          double m = sl_quantile (logv[c], wk->fov.px, n, 0.9);
          cc[0] = isfinite (m) ? m : log (200.0);
          cc[1] = cc[2] = cc[3] = 0;
        }
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            size_t i = (size_t) y * w + x;
            double bg = surface_at (cc, w, h, x, y);
            wk->norm[c].px[i] = wk->fov.px[i] ? (float) exp (logv[c][i] - bg) : 1.0f;
          }
      double m = sl_quantile (wk->rgb[c].px, skin, n, 0.5);
      wk->skin_rgb[c] = isfinite (m) ? m : 200;
    }
out:
  for (int c = 0; c < 3; c++)
    free (logv[c]);
  free (loglum), free (skin);
  return ok;
}

SlStatus
sl_prepare (const float *rgb, int w, int h, const SlParams *params, SlWork *wk)
{
  (void) params;
  memset (wk, 0, sizeof *wk);
  int side = w < h ? w : h;
  wk->scale = side > SL_WORK_SIDE ? (double) SL_WORK_SIDE / side : 1.0;
  if (!downscale (rgb, w, h, wk->scale, wk->rgb))
    return SL_NO_MEMORY;
  wk->w = wk->rgb[0].w;
  wk->h = wk->rgb[0].h;
  size_t n = (size_t) wk->w * wk->h;
  for (int c = 0; c < 3; c++)
    if (!sl_plane_alloc (&wk->norm[c], wk->w, wk->h))
      return SL_NO_MEMORY;
  if (!sl_plane_alloc (&wk->lesionness, wk->w, wk->h) || !sl_mask_alloc (&wk->fov, wk->w, wk->h) ||
      !sl_mask_alloc (&wk->hair, wk->w, wk->h) || !sl_mask_alloc (&wk->lesion, wk->w, wk->h))
    return SL_NO_MEMORY;
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < 3; c++)
      wk->rgb[c].px[i] = clamp255 (wk->rgb[c].px[i]);

  float *lum = malloc (sizeof *lum * n);
  if (lum == NULL)
    return SL_NO_MEMORY;
  for (size_t i = 0; i < n; i++)
    lum[i] = 0.299f * wk->rgb[0].px[i] + 0.587f * wk->rgb[1].px[i] + 0.114f * wk->rgb[2].px[i];
  int ok = field_of_view (wk, lum);
  if (ok && params->cancelled && params->cancelled (params->cancel_data))
    {
      free (lum);
      return SL_CANCELLED;
    }
  ok = ok && remove_hair (wk, lum);
  free (lum);
  if (!ok)
    return SL_NO_MEMORY;
  if (params->cancelled && params->cancelled (params->cancel_data))
    return SL_CANCELLED;
  return normalise_illumination (wk) ? SL_OK : SL_NO_MEMORY;
}

void
sl_work_free (SlWork *wk)
{
  for (int c = 0; c < 3; c++)
    {
      sl_plane_free (&wk->rgb[c]);
      sl_plane_free (&wk->norm[c]);
    }
  sl_plane_free (&wk->lesionness);
  sl_mask_free (&wk->fov);
  sl_mask_free (&wk->hair);
  sl_mask_free (&wk->lesion);
}
