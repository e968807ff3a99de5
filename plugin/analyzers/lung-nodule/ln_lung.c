/*
 * ln_lung.c: body, lungs, airways and the lung envelope.
 *
 * Works on a coarse grid (about 1.6 mm voxels, box-averaged) because the
 * lungs are large and smooth and a full-resolution pass over a 300-slice
 * scan would cost seconds we do not have:
 *
 *   1. air is below -400 HU; the air around the patient is what touches a
 *      slice's border (per slice, so that lungs cut by the first or last
 *      slice are not mistaken for outside air);
 *   2. the lungs are the large air-filled components inside the body whose
 *      mean is parenchyma, not pure gas (bowel, stomach);
 *   3. the trachea is found as a dark round midline tube in the top slices
 *      and followed down through the main bronchi; it is removed with its
 *      wall, because airway walls seen end-on look like nodules and the
 *      lumen is not parenchyma;
 *   4. the envelope of each lung is its mask with holes filled (vessels and
 *      nodules inside) and closed by a 25 mm ball: a nodule on the pleura is
 *      a dent in the aerated lung, and the closing fills dents narrower
 *      than the ball while leaving the flat chest wall out. 25 mm covers
 *      99 % of the LUNA16 nodules (99th percentile 23.9 mm); with 15 mm,
 *      wall-attached nodules of 15-25 mm and the lung side of masses
 *      against the mediastinum were cut off by the envelope. The closing is
 *      kept as a distance field, so that finer stages can interpolate its
 *      surface below the coarse voxel size;
 *   5. the parenchyma's noise is measured, and the in-plane smoothing that
 *      brings a sharp kernel's noise to a soft kernel's (LN_NOISE_TARGET_HU)
 *      is found, for the finer stages to apply.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ln_nodule.h"

#define AIR_HU -400.0f
#define ENVELOPE_BALL_MM 25.0
#define COARSE_MM 1.6

typedef struct {
  const LnScan *scan;
  LnVol hu;                     /* coarse HU */
  LnMask outside;               /* air around the patient */
  int32_t *labels;
  int superior;                 /* +1: higher z index is higher in the body */
} Work;

static int
round_factor (double spacing)
{
  int f = (int) floor (COARSE_MM / spacing + 0.5);
  return f < 1 ? 1 : f;
}

/* Median of the coarse HU over the voxels where @mask equals @value. */
static double
masked_median (const LnVol *hu, const LnMask *mask, int value)
{
  /* Histogram of 1 HU bins over -1100..+500: exact enough, no sort. */
  enum { LO = -1100, HI = 500 };
  size_t hist[HI - LO + 1] = { 0 }, n = 0;
  size_t total = LN_COUNT (hu);
  for (size_t i = 0; i < total; i++)
    if (mask->v[i] == value)
      {
        int b = (int) floorf (hu->v[i]) - LO;
        b = b < 0 ? 0 : b > HI - LO ? HI - LO : b;
        hist[b]++;
        n++;
      }
  if (n == 0)
    return -850;
  size_t half = n / 2, run = 0;
  for (int b = 0; b <= HI - LO; b++)
    if ((run += hist[b]) > half)
      return b + LO;
  return -850;
}

/* ---- trachea and main bronchi ------------------------------------------------- */

/* Follows the airway from the top of the lungs downwards on the coarse
 * grid: a dark (pure air) 2D region near the midline, then in every next
 * slice the dark regions overlapping the previous ones (grown by 3 mm), as
 * long as they do not balloon (which would be a leak into emphysematous
 * parenchyma). Marks @airway. */
static void
track_airway (Work *w, const LnMask *lungs, float dark, const float *mid_x_coarse, LnMask *airway)
{
  const int nx = lungs->nx, ny = lungs->ny, nz = lungs->nz;
  const size_t plane = (size_t) nx * ny;
  const double px_area = lungs->sp[0] * lungs->sp[1];
  uint8_t *prev = calloc (plane, 1), *grown = calloc (plane, 1), *cur = calloc (plane, 1);
  int32_t *queue = malloc (plane * sizeof *queue);
  if (prev == NULL || grown == NULL || cur == NULL || queue == NULL)
    goto out;
  int z_top = -1;
  for (int k = 0; k < nz && z_top < 0; k++)
    {
      int z = w->superior > 0 ? nz - 1 - k : k;
      for (size_t i = 0; i < plane && z_top < 0; i++)
        if (lungs->v[z * plane + i])
          z_top = z;
    }
  if (z_top < 0)
    goto out;
  int have = 0;
  double prev_area = 0;
  /* Find the seed: within the top 40 mm of lung, the darkest round midline region. */
  int search = (int) ceil (40.0 / lungs->sp[2]);
  for (int k = 0; k < nz; k++)
    {
      int z = z_top - w->superior * k;
      if (z < 0 || z >= nz)
        break;
      const uint8_t *lz = lungs->v + z * plane;
      const float *hz = w->hu.v + z * plane;
      memset (cur, 0, plane);
      double area = 0;
      if (!have)
        {
          if (k > search)
            break;
          /* 2D components of dark lung voxels; keep the best seed. */
          double best = 1e9;
          uint8_t *seen = grown;
          memset (seen, 0, plane);
          for (size_t i = 0; i < plane; i++)
            {
              if (seen[i] || !lz[i] || hz[i] > dark)
                continue;
              size_t head = 0, tail = 0;
              queue[tail++] = (int32_t) i;
              seen[i] = 1;
              double sx = 0;
              while (head < tail)
                {
                  int32_t j = queue[head++];
                  sx += j % nx;
                  int x = j % nx, y = j / nx;
                  int32_t nb[4] = { x > 0 ? j - 1 : -1, x < nx - 1 ? j + 1 : -1, y > 0 ? j - nx : -1,
                                    y < ny - 1 ? j + nx : -1 };
                  for (int q = 0; q < 4; q++)
                    if (nb[q] >= 0 && !seen[nb[q]] && lz[nb[q]] && hz[nb[q]] <= dark)
                      {
                        seen[nb[q]] = 1;
                        queue[tail++] = nb[q];
                      }
                }
              double a = tail * px_area;
              double off = fabs (sx / tail - mid_x_coarse[z]) * lungs->sp[0];
              if (a < 40 || a > 800 || off > 40 || off >= best)
                continue;
              best = off;
              memset (cur, 0, plane);
              for (size_t q = 0; q < tail; q++)
                cur[queue[q]] = 1;
              area = a;
            }
          if (area == 0)
            continue;
          have = 1;
        }
      else
        {
          /* Dark regions overlapping the previous slice's airway, grown by 3 mm. */
          int r = (int) ceil (3.0 / lungs->sp[0]);
          memset (grown, 0, plane);
          for (int y = 0; y < ny; y++)
            for (int x = 0; x < nx; x++)
              if (prev[(size_t) y * nx + x])
                for (int dy = -r; dy <= r; dy++)
                  for (int dx = -r; dx <= r; dx++)
                    {
                      int X = x + dx, Y = y + dy;
                      if (X >= 0 && Y >= 0 && X < nx && Y < ny)
                        grown[(size_t) Y * nx + X] = 1;
                    }
          size_t head = 0, tail = 0;
          for (size_t i = 0; i < plane; i++)
            if (grown[i] && lz[i] && hz[i] <= dark)
              {
                cur[i] = 1;
                queue[tail++] = (int32_t) i;
              }
          while (head < tail)
            {
              int32_t j = queue[head++];
              int x = j % nx, y = j / nx;
              int32_t nb[4] = { x > 0 ? j - 1 : -1, x < nx - 1 ? j + 1 : -1, y > 0 ? j - nx : -1,
                                y < ny - 1 ? j + nx : -1 };
              for (int q = 0; q < 4; q++)
                if (nb[q] >= 0 && !cur[nb[q]] && lz[nb[q]] && hz[nb[q]] <= dark)
                  {
                    cur[nb[q]] = 1;
                    queue[tail++] = nb[q];
                  }
            }
          area = tail * px_area;
          /* Gone, or ballooning into the lung: the tracked airway ends. */
          if (area < 5 || area > 3.0 * prev_area + 100 || area > 1500)
            break;
        }
      memcpy (airway->v + z * plane, cur, plane);
      memcpy (prev, cur, plane);
      prev_area = area;
    }
out:
  free (prev);
  free (grown);
  free (cur);
  free (queue);
}

/* ---- noise --------------------------------------------------------------------- */

/* The noise index of a few slices of aerated lung after an in-plane
 * Gaussian of @sigma_px: the median absolute difference between a pixel and
 * its 3x3 mean, scaled to a standard deviation (for white noise). */
static double
noise_index (const LnScan *scan, const LnLungs *lungs, const int *slices, int n_slices, double sigma_px)
{
  const LnVol *img = &scan->img;
  const int *b = lungs->box;
  int w = b[3] - b[0], h = b[4] - b[1];
  enum { BINS = 2000 };         /* 0.25 HU bins up to 500 HU */
  static const double bin = 0.25;
  size_t *hist = calloc (BINS, sizeof *hist), n = 0;
  LnVol plane = { 0 };
  double sp[3] = { img->sp[0], img->sp[1], 1.0 };
  if (hist == NULL || ln_vol_alloc (&plane, w, h, 1, sp) != 0)
    {
      free (hist);
      return -1;
    }
  for (int k = 0; k < n_slices; k++)
    {
      int z = slices[k];
      for (int y = 0; y < h; y++)
        memcpy (plane.v + (size_t) y * w, img->v + LN_IDX (img, b[0], b[1] + y, z), (size_t) w * sizeof (float));
      double s[3] = { sigma_px * img->sp[0], sigma_px * img->sp[1], 0 };
      ln_gauss (&plane, s);
      for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++)
          {
            int X = b[0] + x, Y = b[1] + y;
            if (img->v[LN_IDX (img, X, Y, z)] > -700.0f || !ln_lungs_at (lungs, &lungs->lung, X, Y, z))
              continue;
            double m = 0;
            for (int dy = -1; dy <= 1; dy++)
              for (int dx = -1; dx <= 1; dx++)
                m += plane.v[(size_t) (y + dy) * w + x + dx];
            double r = fabs (plane.v[(size_t) y * w + x] - m / 9.0);
            int i = (int) (r / bin);
            hist[i < BINS ? i : BINS - 1]++;
            n++;
          }
    }
  double result = -1;
  size_t run = 0;
  for (int i = 0; i < BINS && n > 0; i++)
    if ((run += hist[i]) > n / 2)
      {
        result = (i + 0.5) * bin / 0.6745 * 3.0 / sqrt (8.0);
        break;
      }
  free (hist);
  ln_vol_free (&plane);
  return result;
}

/* Measures the parenchyma's noise on six slices through the lungs and
 * finds the in-plane smoothing that brings it down to the target. */
static void
measure_noise (const LnScan *scan, LnLungs *lungs)
{
  int slices[6], n = 0;
  int z0 = lungs->box[2], z1 = lungs->box[5];
  for (int k = 0; k < 6; k++)
    {
      int z = z0 + (int) ((k + 1) * (double) (z1 - z0) / 7.0);
      if (z >= 0 && z < scan->img.nz)
        slices[n++] = z;
    }
  lungs->noise_hu = noise_index (scan, lungs, slices, n, 0);
  lungs->smooth_px = 0;
  if (lungs->noise_hu <= LN_NOISE_TARGET_HU)
    return;
  /* bisection: the index falls monotonically with the smoothing */
  double lo = 0, hi = 2.5;
  for (int it = 0; it < 6; it++)
    {
      double mid = 0.5 * (lo + hi);
      if (noise_index (scan, lungs, slices, n, mid) > LN_NOISE_TARGET_HU)
        lo = mid;
      else
        hi = mid;
    }
  lungs->smooth_px = hi;
}

int
ln_harmonize (const LnLungs *lungs, const LnScan *scan, LnVol *v)
{
  if (lungs->smooth_px <= 0)
    return 0;
  double s[3] = { lungs->smooth_px * scan->img.sp[0], lungs->smooth_px * scan->img.sp[1], 0 };
  return ln_gauss (v, s);
}

/* ---- the segmentation ---------------------------------------------------------- */

int
ln_lungs_segment (const LnScan *scan, const LnMonitor *m, LnLungs *out, char *why, size_t why_len)
{
  memset (out, 0, sizeof *out);
  Work w = { .scan = scan };
  w.superior = scan->normal[2] >= 0 ? 1 : -1;
  out->f[0] = round_factor (scan->img.sp[0]);
  out->f[1] = round_factor (scan->img.sp[1]);
  out->f[2] = round_factor (scan->img.sp[2]);
  int rc = -1;
  size_t *sizes = NULL;
  LnMask air = { 0 }, tmp = { 0 };
  if (ln_downsample (&scan->img, out->f, &w.hu) != 0)
    goto done;
  const int nx = w.hu.nx, ny = w.hu.ny, nz = w.hu.nz;
  const size_t total = LN_COUNT (&w.hu), plane = (size_t) nx * ny;
  const double voxel_ml = w.hu.sp[0] * w.hu.sp[1] * w.hu.sp[2] / 1000.0;
  if (ln_mask_alloc (&air, nx, ny, nz, w.hu.sp) != 0 || ln_mask_alloc (&w.outside, nx, ny, nz, w.hu.sp) != 0 ||
      ln_mask_alloc (&out->lung, nx, ny, nz, w.hu.sp) != 0 || ln_mask_alloc (&tmp, nx, ny, nz, w.hu.sp) != 0 ||
      ln_mask_alloc (&out->airway, nx, ny, nz, w.hu.sp) != 0 ||
      ln_mask_alloc (&out->envelope, nx, ny, nz, w.hu.sp) != 0)
    goto done;
  w.labels = malloc (total * sizeof *w.labels);
  out->mid_x = calloc ((size_t) nz, sizeof *out->mid_x);
  if (w.labels == NULL || out->mid_x == NULL)
    goto done;

  /* 1. Air, and the air around the patient. */
  for (size_t i = 0; i < total; i++)
    tmp.v[i] = w.hu.v[i] >= AIR_HU;
  if (ln_flood_border_2d (&tmp, &w.outside) != 0)
    goto done;
  for (size_t i = 0; i < total; i++)
    air.v[i] = w.hu.v[i] < AIR_HU && !w.outside.v[i];
  /* The body's midline per slice, in coarse x; scan grid x is stored. */
  float *mid_coarse = calloc ((size_t) nz, sizeof *mid_coarse);
  if (mid_coarse == NULL)
    goto done;
  for (int z = 0; z < nz; z++)
    {
      double sx = 0, n = 0;
      for (size_t i = 0; i < plane; i++)
        if (!w.outside.v[z * plane + i])
          {
            sx += (double) (i % nx);
            n++;
          }
      mid_coarse[z] = (float) (n > 0 ? sx / n : nx / 2.0);
      out->mid_x[z] = (float) ((mid_coarse[z] + 0.5) * out->f[0] - 0.5);
    }
  if (ln_progress (m, 0.04, "lungs: components") != 0)
    {
      free (mid_coarse);
      goto done;
    }

  /* 2. Lung components: big, and parenchyma rather than pure gas. */
  int n = ln_label (&air, 6, w.labels, &sizes);
  if (n < 0)
    {
      free (mid_coarse);
      goto done;
    }
  double *sum = calloc ((size_t) n + 1, sizeof *sum);
  uint8_t *keep = calloc ((size_t) n + 1, 1);
  if (sum == NULL || keep == NULL)
    {
      free (sum);
      free (keep);
      free (mid_coarse);
      goto done;
    }
  int biggest = 0;
  for (size_t i = 0; i < total; i++)
    sum[w.labels[i]] += w.hu.v[i];
  for (int l = 1; l <= n; l++)
    if (biggest == 0 || sizes[l] > sizes[biggest])
      biggest = l;
  if (biggest == 0 || sizes[biggest] * voxel_ml < 150.0)
    {
      snprintf (why, why_len, "no lungs found: the largest air-filled region inside the body is %.0f mL",
                biggest ? sizes[biggest] * voxel_ml : 0.0);
      free (sum);
      free (keep);
      free (mid_coarse);
      rc = 1;
      goto done;
    }
  for (int l = 1; l <= n; l++)
    {
      double mean = sum[l] / (double) sizes[l];
      if (sizes[l] >= 0.15 * sizes[biggest] && sizes[l] * voxel_ml >= 100.0 && mean > -985.0)
        keep[l] = 1;
    }
  if (!keep[biggest])
    {
      snprintf (why, why_len, "no lungs found: the large air-filled regions inside the body are gas, not parenchyma");
      free (sum);
      free (keep);
      free (mid_coarse);
      rc = 1;
      goto done;
    }
  for (size_t i = 0; i < total; i++)
    out->lung.v[i] = keep[w.labels[i]] ? 1 : 0;
  free (sum);
  free (keep);
  free (sizes);
  sizes = NULL;
  out->parenchyma_hu = masked_median (&w.hu, &out->lung, 1);

  /* 3. Trachea and main bronchi, with their walls. */
  float dark = (float) fmin (-950.0, out->parenchyma_hu - 75.0);
  track_airway (&w, &out->lung, dark, mid_coarse, &out->airway);
  free (mid_coarse);
  if (ln_mask_count (&out->airway) > 0)
    {
      if (ln_dilate_ball (&out->airway, 3.0, &out->airway) != 0)
        goto done;
      for (size_t i = 0; i < total; i++)
        if (out->airway.v[i])
          out->lung.v[i] = 0;
    }
  /* Drop crumbs the airway cut off. */
  n = ln_label (&out->lung, 6, w.labels, &sizes);
  if (n < 0)
    goto done;
  size_t big = 0;
  for (int l = 1; l <= n; l++)
    big = sizes[l] > big ? sizes[l] : big;
  if (ln_progress (m, 0.08, "lungs: sides") != 0)
    goto done;

  /* Sides: left of the body's midline in patient space is the left lung. */
  for (int s = 0; s < 2; s++)
    {
      out->zmin[s] = out->ymin[s] = 1e9;
      out->zmax[s] = out->ymax[s] = -1e9;
    }
  double vol[3] = { 0, 0, 0 };
  for (int z = 0; z < nz; z++)
    for (int y = 0; y < ny; y++)
      for (int x = 0; x < nx; x++)
        {
          size_t i = LN_IDX (&w.hu, x, y, z);
          if (!out->lung.v[i])
            continue;
          if (sizes[w.labels[i]] < big / 100)
            {
              out->lung.v[i] = 0;
              continue;
            }
          double g[3] = { (x + 0.5) * out->f[0] - 0.5, (y + 0.5) * out->f[1] - 0.5, (z + 0.5) * out->f[2] - 0.5 };
          double p[3];
          ln_scan_to_patient (scan, g, p);
          double lateral = (g[0] - out->mid_x[z]) * scan->img.sp[0] * scan->row[0];
          int side = lateral > 0 ? LN_SIDE_LEFT : LN_SIDE_RIGHT;
          out->lung.v[i] = (uint8_t) (side + 1);
          vol[side + 1] += voxel_ml;
          out->have_side[side] = 1;
          out->zmin[side] = fmin (out->zmin[side], p[2]);
          out->zmax[side] = fmax (out->zmax[side], p[2]);
          out->ymin[side] = fmin (out->ymin[side], p[1]);
          out->ymax[side] = fmax (out->ymax[side], p[1]);
        }
  free (sizes);
  sizes = NULL;
  out->volume_ml[1] = vol[1];
  out->volume_ml[2] = vol[2];
  out->volume_ml[0] = vol[1] + vol[2];
  /* Coverage: lung on the first or last slice means the scan cut it. */
  for (int e = 0; e < 2; e++)
    {
      int z = e == 0 ? 0 : nz - 1;
      size_t count = 0;
      for (size_t i = 0; i < plane; i++)
        count += out->lung.v[z * plane + i] != 0;
      int is_apex = (e == 1) == (w.superior > 0);
      if (count * w.hu.sp[0] * w.hu.sp[1] > 500.0)
        {
          if (is_apex)
            out->cut_apex = 1;
          else
            out->cut_base = 1;
        }
    }

  /* 4. The envelope of each lung: holes filled, closed by a ball. */
  for (int side = 1; side <= 2; side++)
    {
      for (size_t i = 0; i < total; i++)
        tmp.v[i] = out->lung.v[i] == side;
      if (ln_fill_holes_2d (&tmp) != 0)
        goto done;
      if (ln_close_ball (&tmp, ENVELOPE_BALL_MM, &air) != 0)
        goto done;
      for (size_t i = 0; i < total; i++)
        if (air.v[i] && !w.outside.v[i] && !out->airway.v[i])
          out->envelope.v[i] = (uint8_t) side;
      if (ln_progress (m, 0.08 + 0.03 * side, "lungs: envelope") != 0)
        goto done;
    }
  /* Bounding box of the envelope on the scan grid, 5 mm margin. */
  int bb[6] = { nx, ny, nz, -1, -1, -1 };
  for (int z = 0; z < nz; z++)
    for (int y = 0; y < ny; y++)
      for (int x = 0; x < nx; x++)
        if (out->envelope.v[LN_IDX (&w.hu, x, y, z)])
          {
            int c[3] = { x, y, z };
            for (int a = 0; a < 3; a++)
              {
                bb[a] = c[a] < bb[a] ? c[a] : bb[a];
                bb[a + 3] = c[a] > bb[a + 3] ? c[a] : bb[a + 3];
              }
          }
  int dims[3] = { scan->img.nx, scan->img.ny, scan->img.nz };
  for (int a = 0; a < 3; a++)
    {
      int margin = (int) ceil (5.0 / scan->img.sp[a]);
      int lo = bb[a] * out->f[a] - margin, hi = (bb[a + 3] + 1) * out->f[a] + margin;
      out->box[a] = lo < 0 ? 0 : lo;
      out->box[a + 3] = hi > dims[a] ? dims[a] : hi;
    }
  measure_noise (scan, out);
  rc = 0;

done:
  if (rc != 0 && why[0] == '\0')
    snprintf (why, why_len, "out of memory segmenting the lungs");
  free (sizes);
  free (w.labels);
  ln_vol_free (&w.hu);
  ln_mask_free (&w.outside);
  ln_mask_free (&air);
  ln_mask_free (&tmp);
  if (rc != 0)
    ln_lungs_free (out);
  return rc;
}

void
ln_lungs_free (LnLungs *lungs)
{
  ln_mask_free (&lungs->lung);
  ln_mask_free (&lungs->envelope);
  ln_mask_free (&lungs->airway);
  free (lungs->mid_x);
  lungs->mid_x = NULL;
}

int
ln_lungs_at (const LnLungs *lungs, const LnMask *coarse, int x, int y, int z)
{
  int X = x / lungs->f[0], Y = y / lungs->f[1], Z = z / lungs->f[2];
  if (X < 0 || Y < 0 || Z < 0 || X >= coarse->nx || Y >= coarse->ny || Z >= coarse->nz)
    return 0;
  return coarse->v[LN_IDX (coarse, X, Y, Z)];
}

void
ln_lungs_locate (const LnLungs *lungs, const LnScan *scan, const double grid[3], const double patient[3], int *side,
                 int *lobe)
{
  int Z = (int) (grid[2] / lungs->f[2]);
  Z = Z < 0 ? 0 : Z >= lungs->lung.nz ? lungs->lung.nz - 1 : Z;
  double lateral = (grid[0] - lungs->mid_x[Z]) * scan->img.sp[0] * scan->row[0];
  *side = lateral > 0 ? LN_SIDE_LEFT : LN_SIDE_RIGHT;
  *lobe = LN_LOBE_UNKNOWN;
  int s = *side;
  if (!lungs->have_side[s] || lungs->zmax[s] - lungs->zmin[s] < 30 || lungs->ymax[s] - lungs->ymin[s] < 30)
    return;
  /* u: 0 at the base, 1 at the apex; v: 0 anterior, 1 posterior (LPS). A
   * geometric model of the fissures, not a detection of them: the oblique
   * fissure runs from about two thirds of the height posteriorly down to
   * the anterior base, the right horizontal fissure at about half height
   * in front of it. */
  double u = (patient[2] - lungs->zmin[s]) / (lungs->zmax[s] - lungs->zmin[s]);
  double v = (patient[1] - lungs->ymin[s]) / (lungs->ymax[s] - lungs->ymin[s]);
  if (u < 0.65 * v)
    *lobe = LN_LOBE_LOWER;
  else if (s == LN_SIDE_RIGHT && u < 0.55)
    *lobe = LN_LOBE_MIDDLE;
  else
    *lobe = LN_LOBE_UPPER;
}
