/*
 * sl_image.c: the image toolkit of the skin-lesion analyzer.
 *
 * Everything works on plain float planes and byte masks, x fastest. The
 * operations are the ones whose cost must not grow with a structuring
 * element's size (a 12-megapixel phone photo is scaled down first, but hair
 * lines and lesions still span tens of pixels): box blurs by running sums,
 * line morphology by van Herk / Gil-Werman, disk morphology through an
 * exact distance transform.
 */
#include "sl_lesion.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SL_FAR 1e20f

int
sl_plane_alloc (SlPlane *p, int w, int h)
{
  p->w = w;
  p->h = h;
  p->px = calloc ((size_t) w * h, sizeof *p->px);
  return p->px != NULL;
}

void
sl_plane_free (SlPlane *p)
{
  free (p->px);
  p->px = NULL;
}

int
sl_mask_alloc (SlMask *m, int w, int h)
{
  m->w = w;
  m->h = h;
  m->px = calloc ((size_t) w * h, 1);
  return m->px != NULL;
}

void
sl_mask_free (SlMask *m)
{
  free (m->px);
  m->px = NULL;
}

size_t
sl_mask_count (const SlMask *m)
{
  size_t n = 0, total = (size_t) m->w * m->h;
  for (size_t i = 0; i < total; i++)
    n += m->px[i] != 0;
  return n;
}

/* ---- blurs ------------------------------------------------------------------ */

/* One running-sum pass over @n samples @stride apart; windows are clipped
 * at the ends so that each output is a true mean of existing samples. */
static void
box_1d (const float *in, float *out, int n, size_t stride, int r, double *tmp)
{
  double sum = 0;
  for (int i = 0; i < n; i++)
    tmp[i] = in[(size_t) i * stride];
  int lo = 0, hi = -1; /* current window [lo, hi] */
  for (int i = 0; i < n; i++)
    {
      int want_hi = i + r < n - 1 ? i + r : n - 1;
      int want_lo = i - r > 0 ? i - r : 0;
      while (hi < want_hi)
        sum += tmp[++hi];
      while (lo < want_lo)
        sum -= tmp[lo++];
      out[(size_t) i * stride] = (float) (sum / (hi - lo + 1));
    }
}

int
sl_box_blur (const float *in, float *out, int w, int h, int r)
{
  if (r <= 0)
    {
      if (out != in)
        memcpy (out, in, sizeof *out * (size_t) w * h);
      return 1;
    }
  double *tmp = malloc (sizeof *tmp * (size_t) (w > h ? w : h));
  if (tmp == NULL)
    return 0;
  for (int y = 0; y < h; y++)
    box_1d (in + (size_t) y * w, out + (size_t) y * w, w, 1, r, tmp);
  for (int x = 0; x < w; x++)
    box_1d (out + x, out + x, h, (size_t) w, r, tmp);
  free (tmp);
  return 1;
}

int
sl_gauss_blur (const float *in, float *out, int w, int h, double sigma)
{
  /* Three boxes of width 2r+1 have variance 3 ((2r+1)^2 - 1) / 12. */
  int r = (int) floor ((sqrt (4 * sigma * sigma + 1) - 1) / 2 + 0.5);
  if (r < 1)
    r = sigma > 0.3 ? 1 : 0;
  if (!sl_box_blur (in, out, w, h, r))
    return 0;
  return sl_box_blur (out, out, w, h, r) && sl_box_blur (out, out, w, h, r);
}

int
sl_weighted_blur (const float *in, const float *weight, float *out, int w, int h, int r)
{
  size_t n = (size_t) w * h;
  float *num = calloc (n, sizeof *num), *den = calloc (n, sizeof *den);
  if (num == NULL || den == NULL)
    {
      free (num);
      free (den);
      return 0;
    }
  for (size_t i = 0; i < n; i++)
    {
      num[i] = in[i] * weight[i];
      den[i] = weight[i];
    }
  int ok = sl_box_blur (num, num, w, h, r) && sl_box_blur (den, den, w, h, r);
  for (size_t i = 0; ok && i < n; i++)
    out[i] = den[i] > 1e-6f ? num[i] / den[i] : in[i];
  free (num);
  free (den);
  return ok;
}

/* ---- line morphology ------------------------------------------------------------ */

/* van Herk / Gil-Werman: max (or min) over a centred window of @k (odd)
 * samples in O(1) per sample. @a holds the line padded by k/2 neutral
 * values on each side; @g and @hbuf are work space of the same length. */
static void
minmax_1d (float *line, int n, int k, int take_max, float *a, float *g, float *hb)
{
  int r = k / 2, m = n + 2 * r;
  float neutral = take_max ? -SL_FAR : SL_FAR; /* negated below for min */
  for (int i = 0; i < r; i++)
    a[i] = a[m - 1 - i] = neutral;
  memcpy (a + r, line, sizeof *line * (size_t) n);
  /* Written for max; min is the max of the negated values. */
  float sign = take_max ? 1.0f : -1.0f;
  for (int i = 0; i < m; i++)
    a[i] *= sign;
  for (int i = 0; i < m; i++)
    g[i] = (i % k == 0 || g[i - 1] < a[i]) ? a[i] : g[i - 1];
  for (int i = m - 1; i >= 0; i--)
    hb[i] = (i % k == k - 1 || i == m - 1 || hb[i + 1] < a[i]) ? a[i] : hb[i + 1];
  for (int i = 0; i < n; i++)
    line[i] = sign * (hb[i] > g[i + k - 1] ? hb[i] : g[i + k - 1]);
}

int
sl_line_minmax (const float *in, float *out, int w, int h, int dx, int dy, int len, int take_max)
{
  if (len < 2)
    {
      if (out != in)
        memcpy (out, in, sizeof *out * (size_t) w * h);
      return 1;
    }
  int k = len | 1;
  int longest = w > h ? w : h;
  size_t cap = (size_t) longest + (size_t) k + 2;
  float *line = malloc (sizeof *line * cap * 4);
  size_t *where = malloc (sizeof *where * cap);
  if (line == NULL || where == NULL)
    {
      free (line);
      free (where);
      return 0;
    }
  float *a = line + cap, *g = a + cap, *hb = g + cap;
  if (out != in)
    memcpy (out, in, sizeof *out * (size_t) w * h);

  /* Every line of direction (dx, dy) starts on the top row or on the left
   * (or, going up, bottom) edge; walk each once. */
  int n_starts = (dx == 0 || dy == 0) ? (dx == 0 ? w : h) : w + h - 1;
  for (int s = 0; s < n_starts; s++)
    {
      int x, y;
      if (dy == 0)
        x = 0, y = s;
      else if (dx == 0)
        x = s, y = 0;
      else if (dy > 0)
        {
          /* down-right: starts on the left edge (bottom up) then the top row */
          if (s < h)
            x = 0, y = h - 1 - s;
          else
            x = s - h + 1, y = 0;
        }
      else
        {
          /* up-right: starts on the left edge then the bottom row */
          if (s < h)
            x = 0, y = s;
          else
            x = s - h + 1, y = h - 1;
        }
      int n = 0;
      for (; x >= 0 && x < w && y >= 0 && y < h; x += dx, y += dy)
        {
          size_t at = (size_t) y * w + x;
          where[n] = at;
          line[n] = out[at];
          n++;
        }
      minmax_1d (line, n, k, take_max, a, g, hb);
      for (int i = 0; i < n; i++)
        out[where[i]] = line[i];
    }
  free (line);
  free (where);
  return 1;
}

int
sl_line_close (const float *in, float *out, int w, int h, int dx, int dy, int len)
{
  return sl_line_minmax (in, out, w, h, dx, dy, len, 1) && sl_line_minmax (out, out, w, h, dx, dy, len, 0);
}

/* ---- distance transform and disk morphology ---------------------------------------- */

/* The lower envelope of parabolas (Felzenszwalb & Huttenlocher 2012).
 * "Infinite" is SL_FAR, small enough that sums stay finite in float. */
static void
edt_1d (const float *f, float *d, int n, int *v, float *z)
{
  int k = 0;
  v[0] = 0;
  z[0] = -SL_FAR;
  z[1] = SL_FAR;
  for (int q = 1; q < n; q++)
    {
      float s;
      for (;;)
        {
          int p = v[k];
          s = ((f[q] + (float) q * q) - (f[p] + (float) p * p)) / (2.0f * (float) (q - p));
          if (s > z[k] || k == 0)
            break;
          k--;
        }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = SL_FAR;
    }
  k = 0;
  for (int q = 0; q < n; q++)
    {
      while (z[k + 1] < (float) q)
        k++;
      float dq = (float) (q - v[k]);
      d[q] = dq * dq + f[v[k]];
    }
}

int
sl_distance2 (const uint8_t *on, float *d2, int w, int h)
{
  int n = w > h ? w : h;
  float *f = calloc ((size_t) n, sizeof *f), *d = calloc ((size_t) n, sizeof *d), *z = malloc (sizeof *z * (n + 1));
  int *v = malloc (sizeof *v * n);
  if (f == NULL || d == NULL || z == NULL || v == NULL)
    {
      free (f), free (d), free (z), free (v);
      return 0;
    }
  for (int x = 0; x < w; x++)
    {
      for (int y = 0; y < h; y++)
        f[y] = on[(size_t) y * w + x] ? 0 : SL_FAR;
      edt_1d (f, d, h, v, z);
      for (int y = 0; y < h; y++)
        d2[(size_t) y * w + x] = d[y];
    }
  for (int y = 0; y < h; y++)
    {
      memcpy (f, d2 + (size_t) y * w, sizeof *f * w);
      edt_1d (f, d, w, v, z);
      memcpy (d2 + (size_t) y * w, d, sizeof *d * w);
    }
  free (f), free (d), free (z), free (v);
  return 1;
}

/* Dilation: pixels within @r of the mask. Erosion is the dilation of the
 * complement, complemented. */
static int
dilate_impl (SlMask *m, double r, int complement)
{
  size_t n = (size_t) m->w * m->h;
  uint8_t *on = calloc (n, 1);
  float *d2 = malloc (sizeof *d2 * n);
  if (on == NULL || d2 == NULL)
    {
      free (on), free (d2);
      return 0;
    }
  for (size_t i = 0; i < n; i++)
    on[i] = complement ? !m->px[i] : m->px[i] != 0;
  int ok = sl_distance2 (on, d2, m->w, m->h);
  float r2 = (float) (r * r);
  for (size_t i = 0; ok && i < n; i++)
    {
      int inside = d2[i] <= r2;
      m->px[i] = (uint8_t) (complement ? !inside : inside);
    }
  free (on), free (d2);
  return ok;
}

int
sl_mask_dilate (SlMask *m, double r)
{
  return r <= 0 || dilate_impl (m, r, 0);
}

int
sl_mask_erode (SlMask *m, double r)
{
  return r <= 0 || dilate_impl (m, r, 1);
}

int
sl_mask_open (SlMask *m, double r)
{
  return sl_mask_erode (m, r) && sl_mask_dilate (m, r);
}

int
sl_mask_close (SlMask *m, double r)
{
  return sl_mask_dilate (m, r) && sl_mask_erode (m, r);
}

int
sl_mask_fill_holes (SlMask *m)
{
  int w = m->w, h = m->h;
  size_t n = (size_t) w * h;
  uint8_t *outside = calloc (n, 1);
  size_t *stack = malloc (sizeof *stack * n);
  if (outside == NULL || stack == NULL)
    {
      free (outside), free (stack);
      return 0;
    }
  size_t top = 0;
  for (int x = 0; x < w; x++)
    for (int k = 0; k < 2; k++)
      {
        size_t i = (size_t) (k ? h - 1 : 0) * w + x;
        if (!m->px[i] && !outside[i])
          outside[i] = 1, stack[top++] = i;
      }
  for (int y = 0; y < h; y++)
    for (int k = 0; k < 2; k++)
      {
        size_t i = (size_t) y * w + (k ? w - 1 : 0);
        if (!m->px[i] && !outside[i])
          outside[i] = 1, stack[top++] = i;
      }
  /* 4-connected background, so that an 8-connected lesion ring closes. */
  while (top > 0)
    {
      size_t i = stack[--top];
      int x = (int) (i % w), y = (int) (i / w);
      const int nx[4] = { x - 1, x + 1, x, x }, ny[4] = { y, y, y - 1, y + 1 };
      for (int k = 0; k < 4; k++)
        if (nx[k] >= 0 && nx[k] < w && ny[k] >= 0 && ny[k] < h)
          {
            size_t j = (size_t) ny[k] * w + nx[k];
            if (!m->px[j] && !outside[j])
              outside[j] = 1, stack[top++] = j;
          }
    }
  for (size_t i = 0; i < n; i++)
    m->px[i] = !outside[i];
  free (outside), free (stack);
  return 1;
}

/* ---- components ------------------------------------------------------------------- */

int
sl_label (const SlMask *m, int32_t *labels)
{
  int w = m->w, h = m->h;
  size_t n = (size_t) w * h;
  size_t *stack = malloc (sizeof *stack * n);
  if (stack == NULL)
    return -1;
  memset (labels, 0, sizeof *labels * n);
  int32_t next = 0;
  for (size_t s = 0; s < n; s++)
    {
      if (!m->px[s] || labels[s])
        continue;
      labels[s] = ++next;
      size_t top = 0;
      stack[top++] = s;
      while (top > 0)
        {
          size_t i = stack[--top];
          int x = (int) (i % w), y = (int) (i / w);
          for (int yy = y - 1; yy <= y + 1; yy++)
            for (int xx = x - 1; xx <= x + 1; xx++)
              {
                if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                  continue;
                size_t j = (size_t) yy * w + xx;
                if (m->px[j] && !labels[j])
                  labels[j] = next, stack[top++] = j;
              }
        }
    }
  free (stack);
  return next;
}

void
sl_mask_keep_label (SlMask *m, const int32_t *labels, int32_t keep)
{
  size_t n = (size_t) m->w * m->h;
  for (size_t i = 0; i < n; i++)
    m->px[i] = labels[i] == keep;
}

/* ---- statistics ------------------------------------------------------------------ */

static int
compare_floats (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

double
sl_quantile (const float *v, const uint8_t *mask, size_t n, double q)
{
  /* Quantiles of a quarter-million pixels do not need every one of them:
   * every k-th selected pixel, about 8000 in all, is plenty. */
  size_t selected = 0;
  for (size_t i = 0; i < n; i++)
    selected += (mask == NULL || mask[i]) && isfinite (v[i]);
  if (selected == 0)
    return NAN;
  size_t step = selected > 8000 ? selected / 8000 : 1, count = 0, seen = 0;
  float *tmp = malloc (sizeof *tmp * (selected / step + 1));
  if (tmp == NULL)
    return NAN;
  for (size_t i = 0; i < n; i++)
    if ((mask == NULL || mask[i]) && isfinite (v[i]) && seen++ % step == 0)
      tmp[count++] = v[i];
  qsort (tmp, count, sizeof *tmp, compare_floats);
  double pos = q * (double) (count - 1);
  size_t lo = (size_t) floor (pos);
  size_t hi = lo + 1 < count ? lo + 1 : lo;
  double result = tmp[lo] + (pos - (double) lo) * (tmp[hi] - tmp[lo]);
  free (tmp);
  return result;
}

double
sl_otsu (const float *v, const uint8_t *mask, size_t n, double *separability)
{
  double lo = sl_quantile (v, mask, n, 0.005), hi = sl_quantile (v, mask, n, 0.995);
  if (separability)
    *separability = 0;
  if (!(hi > lo))
    return isfinite (lo) ? lo : 0;
  enum { BINS = 256 };
  double hist[BINS] = { 0 }, total = 0, sum = 0;
  for (size_t i = 0; i < n; i++)
    {
      if ((mask != NULL && !mask[i]) || !isfinite (v[i]))
        continue;
      int b = (int) ((v[i] - lo) / (hi - lo) * (BINS - 1) + 0.5);
      b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
      hist[b]++;
      total++;
      sum += b;
    }
  if (total == 0)
    return lo;
  double mean = sum / total, var_total = 0;
  for (int b = 0; b < BINS; b++)
    var_total += hist[b] * (b - mean) * (b - mean);
  var_total /= total;
  double w0 = 0, sum0 = 0, best = -1;
  int best_b = BINS / 2;
  for (int b = 0; b < BINS - 1; b++)
    {
      w0 += hist[b];
      sum0 += hist[b] * b;
      double w1 = total - w0;
      if (w0 == 0 || w1 == 0)
        continue;
      double m0 = sum0 / w0, m1 = (sum - sum0) / w1;
      double between = w0 * w1 * (m0 - m1) * (m0 - m1) / (total * total);
      if (between > best)
        best = between, best_b = b;
    }
  if (separability && var_total > 0)
    *separability = best / var_total;
  return lo + (best_b + 0.5) / (BINS - 1) * (hi - lo);
}
