/*
 * ln_detect.c: multi-scale 3D blob detection.
 *
 * Nodules are compact bright blobs in dark parenchyma, from 4 mm to masses
 * of several centimetres, solid (about 0 HU) or ground glass (-700 to -300
 * HU). The scale-normalised Laplacian of Gaussian responds to a ball of
 * radius r most strongly at sigma = r / sqrt(3); its difference-of-Gaussians
 * approximation (DoG between sigma and sqrt(2) sigma, which is already
 * scale-normalised) finds such blobs as local maxima in space, at every
 * scale we look at. Vessels respond too (a tube gives two thirds of a
 * ball's response), which is why every candidate carries the Hessian's
 * eigenvalues at its scale: a blob curves down in all three directions, a
 * vessel in two, the pleura in one. Candidates are ranked (and capped) by
 * that: the cube root of the three eigenvalues' product when all curve
 * down, zero otherwise, which is as large for a faint ground-glass blob as
 * its contrast allows and near zero for any vessel, however dense.
 *
 * The image we filter is the scan inside the lung envelope, clamped to
 * -1000..150 HU (bone and contrast would otherwise dominate), with
 * everything outside the envelope and inside the airways set to the
 * parenchyma's median, so that the chest wall and mediastinum make no
 * response. Scales go in steps of sqrt(2) from 1 mm; each is computed on a
 * pyramid level with about one voxel per sigma, which keeps a 300-slice
 * scan within a few seconds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ln_nodule.h"

#define N_SCALES 9              /* DoG levels: sigma 1 .. 16 mm */
#define SIGMA0_MM 1.0
#define MIN_RESPONSE_HU 15.0    /* well below any nodule's, above most noise at 1 mm */
/* A safety valve: thin-slice scans have hundreds of thousands of noise
 * maxima at 1 mm; the triage ranks them, this bounds the memory. */
#define MAX_PER_SCALE 100000

typedef struct {
  LnCandidate *items;
  int n, cap;
} List;

static int
list_push (List *l, const LnCandidate *c)
{
  if (l->n == l->cap)
    {
      int cap = l->cap ? l->cap * 2 : 1024;
      LnCandidate *grown = realloc (l->items, (size_t) cap * sizeof *grown);
      if (grown == NULL)
        return -1;
      l->items = grown;
      l->cap = cap;
    }
  l->items[l->n++] = *c;
  return 0;
}

static int
by_triage (const void *pa, const void *pb)
{
  const LnCandidate *a = pa, *b = pb;
  if (a->triage != b->triage)
    return a->triage > b->triage ? -1 : 1;
  return a->response > b->response ? -1 : a->response < b->response;
}

/* Eigenvalues of a symmetric 3x3 matrix (a, b, c on the diagonal; d = xy,
 * e = yz, f = xz), sorted by decreasing magnitude. */
static void
eigen_sym3 (double a, double b, double c, double d, double e, double f, double out[3])
{
  double p1 = d * d + e * e + f * f;
  double ev[3];
  if (p1 < 1e-12 * (a * a + b * b + c * c) + 1e-30)
    {
      ev[0] = a;
      ev[1] = b;
      ev[2] = c;
    }
  else
    {
      double q = (a + b + c) / 3.0;
      double p2 = (a - q) * (a - q) + (b - q) * (b - q) + (c - q) * (c - q) + 2.0 * p1;
      double p = sqrt (p2 / 6.0);
      double B[6] = { (a - q) / p, (b - q) / p, (c - q) / p, d / p, e / p, f / p };
      /* det(B) / 2 */
      double r = (B[0] * (B[1] * B[2] - B[4] * B[4]) - B[3] * (B[3] * B[2] - B[4] * B[5]) +
                  B[5] * (B[3] * B[4] - B[1] * B[5])) / 2.0;
      double phi = r <= -1 ? M_PI / 3.0 : r >= 1 ? 0 : acos (r) / 3.0;
      ev[0] = q + 2 * p * cos (phi);
      ev[2] = q + 2 * p * cos (phi + 2.0 * M_PI / 3.0);
      ev[1] = 3 * q - ev[0] - ev[2];
    }
  /* sort by |value| descending */
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (fabs (ev[j]) > fabs (ev[i]))
        {
          double t = ev[i];
          ev[i] = ev[j];
          ev[j] = t;
        }
  memcpy (out, ev, sizeof ev);
}

/* The filtered image: HU in the envelope, background elsewhere. */
static int
build_base (const LnScan *scan, const LnLungs *lungs, const int f0[3], LnVol *out)
{
  const int *b = lungs->box;
  int nx = (b[3] - b[0] + f0[0] - 1) / f0[0], ny = (b[4] - b[1] + f0[1] - 1) / f0[1],
      nz = (b[5] - b[2] + f0[2] - 1) / f0[2];
  double sp[3] = { scan->img.sp[0] * f0[0], scan->img.sp[1] * f0[1], scan->img.sp[2] * f0[2] };
  if (ln_vol_alloc (out, nx, ny, nz, sp) != 0)
    return -1;
  const float bg = (float) lungs->parenchyma_hu;
  const LnMask *env = &lungs->envelope, *air = &lungs->airway;
  for (int z = 0; z < nz; z++)
    for (int y = 0; y < ny; y++)
      {
        int Y = b[1] + y * f0[1], Z = b[2] + z * f0[2];
        /* the coarse masks' row under the block centres of this row */
        size_t row = LN_IDX (env, 0, (Y + f0[1] / 2) / lungs->f[1], (Z + f0[2] / 2) / lungs->f[2]);
        float *o = out->v + LN_IDX (out, 0, y, z);
        for (int x = 0; x < nx; x++)
          {
            int X = b[0] + x * f0[0];
            size_t c = row + (size_t) ((X + f0[0] / 2) / lungs->f[0]);
            if (!env->v[c] || air->v[c])
              {
                o[x] = bg;
                continue;
              }
            double sum = 0;
            int n = 0;
            for (int k = Z; k < Z + f0[2] && k < scan->img.nz; k++)
              for (int j = Y; j < Y + f0[1] && j < scan->img.ny; j++)
                for (int i = X; i < X + f0[0] && i < scan->img.nx; i++)
                  {
                    float v = scan->img.v[LN_IDX (&scan->img, i, j, k)];
                    sum += v < -1000.0f ? -1000.0f : v > 150.0f ? 150.0f : v;
                    n++;
                  }
            o[x] = (float) (n ? sum / n : bg);
          }
      }
  return 0;
}

/* Level factors (relative to the base) for scale @sigma: about one voxel per sigma. */
static void
level_for (const LnVol *base, double sigma, int f[3])
{
  for (int a = 0; a < 3; a++)
    {
      f[a] = 1;
      while (f[a] < 16 && base->sp[a] * f[a] * 2 <= sigma)
        f[a] *= 2;
    }
  /* z never coarser than in-plane */
  if (f[2] > f[0])
    f[2] = f[0];
}

/* Smooths a copy of @level to @sigma mm, accounting for the blur the box
 * downsampling already applied (variance h0^2 (f^2 - 1) / 12 per axis). */
static int
smoothed (const LnVol *level, const LnVol *base, const int f[3], double sigma, LnVol *out)
{
  if (ln_vol_alloc (out, level->nx, level->ny, level->nz, level->sp) != 0)
    return -1;
  memcpy (out->v, level->v, LN_COUNT (level) * sizeof (float));
  double s[3];
  for (int a = 0; a < 3; a++)
    {
      double pre = base->sp[a] * base->sp[a] * (f[a] * f[a] - 1) / 12.0;
      s[a] = sigma * sigma > pre ? sqrt (sigma * sigma - pre) : 0;
    }
  return ln_gauss (out, s);
}

/* Local maxima of G0 - G1 on one level, with their Hessian. */
static int
find_maxima (const LnVol *g0, const LnVol *g1, const LnScan *scan, const LnLungs *lungs, const int f0[3],
             const int f[3], double sigma, List *found)
{
  const int nx = g0->nx, ny = g0->ny, nz = g0->nz;
  if (nx < 3 || ny < 3 || nz < 3)
    return 0;
  const size_t sy = (size_t) nx, sz = (size_t) nx * ny;
  const double hx = g0->sp[0], hy = g0->sp[1], hz = g0->sp[2];
  const double norm = sigma * sigma;
  for (int z = 1; z < nz - 1; z++)
    for (int y = 1; y < ny - 1; y++)
      for (int x = 1; x < nx - 1; x++)
        {
          size_t i = LN_IDX (g0, x, y, z);
          float d = g0->v[i] - g1->v[i];
          if (d < MIN_RESPONSE_HU)
            continue;
          int is_max = 1;
          for (int dz = -1; dz <= 1 && is_max; dz++)
            for (int dy = -1; dy <= 1 && is_max; dy++)
              for (int dx = -1; dx <= 1; dx++)
                {
                  if (!dx && !dy && !dz)
                    continue;
                  size_t j = i + dz * sz + dy * sy + dx;
                  if (g0->v[j] - g1->v[j] > d)
                    {
                      is_max = 0;
                      break;
                    }
                }
          if (!is_max)
            continue;
          /* Back to scan grid coordinates, with a parabolic sub-voxel offset. */
          double off[3];
          size_t step[3] = { 1, sy, sz };
          for (int a = 0; a < 3; a++)
            {
              double m = g0->v[i - step[a]] - g1->v[i - step[a]], p = g0->v[i + step[a]] - g1->v[i + step[a]];
              double den = m - 2.0 * d + p;
              off[a] = den < 0 ? 0.5 * (m - p) / den : 0;
              off[a] = off[a] > 0.5 ? 0.5 : off[a] < -0.5 ? -0.5 : off[a];
            }
          int c[3] = { x, y, z };
          LnCandidate cand;
          memset (&cand, 0, sizeof cand);
          for (int a = 0; a < 3; a++)
            {
              int F = f0[a] * f[a];
              cand.g[a] = lungs->box[a] + (c[a] + off[a] + 0.5) * F - 0.5;
            }
          int gx = (int) floor (cand.g[0] + 0.5), gy = (int) floor (cand.g[1] + 0.5), gz = (int) floor (cand.g[2] + 0.5);
          if (!ln_lungs_at (lungs, &lungs->envelope, gx, gy, gz))
            continue;
          (void) scan;
          const float *G = g0->v;
          double a = (G[i + 1] - 2 * G[i] + G[i - 1]) / (hx * hx);
          double b = (G[i + sy] - 2 * G[i] + G[i - sy]) / (hy * hy);
          double cc = (G[i + sz] - 2 * G[i] + G[i - sz]) / (hz * hz);
          double dxy = (G[i + sy + 1] - G[i + sy - 1] - G[i - sy + 1] + G[i - sy - 1]) / (4 * hx * hy);
          double dyz = (G[i + sz + sy] - G[i + sz - sy] - G[i - sz + sy] + G[i - sz - sy]) / (4 * hy * hz);
          double dxz = (G[i + sz + 1] - G[i + sz - 1] - G[i - sz + 1] + G[i - sz - 1]) / (4 * hx * hz);
          eigen_sym3 (a * norm, b * norm, cc * norm, dxy * norm, dyz * norm, dxz * norm, cand.eig);
          cand.sigma = sigma;
          cand.response = d;
          cand.blob = cand.eig[0] < 0 && cand.eig[1] < 0 && cand.eig[2] < 0
                        ? cbrt (-cand.eig[0] * cand.eig[1] * cand.eig[2])
                        : 0;
          double tf[LN_N_TRIAGE];
          ln_triage_features (&cand, lungs->parenchyma_hu, tf);
          cand.triage = ln_triage (tf);
          cand.smoothed = G[i];
          if (list_push (found, &cand) != 0)
            return -1;
        }
  return 0;
}

/* Greedy non-maximum suppression across scales: a candidate closer to a
 * better-scored one than 0.8 of the sum of their scales (at least 2 mm) is
 * the same blob; a small blob at the edge of a large one stays separate
 * (their segmentations merge later if they are one nodule). The kept one
 * remembers the largest scale it absorbed: a big nodule's best-ranked
 * maximum is often a small-scale one on its surface texture, and the
 * segmentation needs room for the whole nodule. Stops when @max_keep are
 * kept. */
static int
suppress (List *all, const LnScan *scan, int max_keep, LnCandidate **out, int *n_out)
{
  qsort (all->items, (size_t) all->n, sizeof *all->items, by_triage);
  LnCandidate *kept = malloc ((size_t) (all->n > 0 ? all->n : 1) * sizeof *kept);
  if (kept == NULL)
    return -1;
  int n = 0;
  const double *sp = scan->img.sp;
  for (int i = 0; i < all->n && n < max_keep; i++)
    {
      const LnCandidate *c = &all->items[i];
      int same = 0;
      for (int j = 0; j < n && !same; j++)
        {
          double d2 = 0;
          for (int a = 0; a < 3; a++)
            {
              double d = (c->g[a] - kept[j].g[a]) * sp[a];
              d2 += d * d;
            }
          double r = 0.8 * (c->sigma + kept[j].sigma);
          if (r < 2.0)
            r = 2.0;
          same = d2 < r * r;
          if (same && c->sigma > kept[j].extent_sigma)
            kept[j].extent_sigma = c->sigma;
        }
      if (!same)
        {
          kept[n] = *c;
          kept[n].extent_sigma = c->sigma;
          n++;
        }
    }
  *out = kept;
  *n_out = n;
  return 0;
}

/* Logs every maximum with its triage features, for eval/ln-train.py. */
static void
dump_raw (const LnScan *scan, const LnLungs *lungs, const LnMonitor *m, const List *all)
{
  for (int i = 0; i < all->n; i++)
    {
      const LnCandidate *c = &all->items[i];
      double p[3], f[LN_N_TRIAGE];
      ln_scan_to_patient (scan, c->g, p);
      ln_triage_features (c, lungs->parenchyma_hu, f);
      char line[1024]; /* exact values, as in ln_pipeline.c's dump */
      int len = snprintf (line, sizeof line, "ln-raw\t%.2f\t%.2f\t%.2f\t%.4f", p[0], p[1], p[2], c->triage);
      for (int k = 0; k < LN_N_TRIAGE && len > 0 && (size_t) len < sizeof line; k++)
        len += snprintf (line + len, sizeof line - (size_t) len, "\t%.17g", f[k]);
      ln_logf (m, LN_LOG_DEBUG, "%s", line);
    }
}

int
ln_detect (const LnScan *scan, const LnLungs *lungs, const LnMonitor *m, double fraction0, double fraction1,
           int max_keep, int dump, LnCandidate **out, int *n_out)
{
  *out = NULL;
  *n_out = 0;
  int f0[3] = { scan->img.sp[0] < 0.55 ? 2 : 1, scan->img.sp[1] < 0.55 ? 2 : 1, scan->img.sp[2] < 0.6 ? 2 : 1 };
  LnVol base = { 0 }, level = { 0 }, g0 = { 0 }, g1 = { 0 };
  List all = { 0 };
  int rc = -1;
  if (build_base (scan, lungs, f0, &base) != 0 || ln_harmonize (lungs, scan, &base) != 0)
    goto done;
  int cur[3] = { 0, 0, 0 };
  for (int s = 0; s < N_SCALES; s++)
    {
      double sigma = SIGMA0_MM * pow (M_SQRT2, s), next = sigma * M_SQRT2;
      int f[3];
      level_for (&base, sigma, f);
      if (f[0] != cur[0] || f[1] != cur[1] || f[2] != cur[2])
        {
          /* A new pyramid level: both Gaussians are computed afresh on it. */
          ln_vol_free (&level);
          ln_vol_free (&g0);
          ln_vol_free (&g1);
          if (f[0] == 1 && f[1] == 1 && f[2] == 1)
            {
              if (ln_vol_alloc (&level, base.nx, base.ny, base.nz, base.sp) != 0)
                goto done;
              memcpy (level.v, base.v, LN_COUNT (&base) * sizeof (float));
            }
          else if (ln_downsample (&base, f, &level) != 0)
            goto done;
          memcpy (cur, f, sizeof cur);
          if (smoothed (&level, &base, f, sigma, &g0) != 0)
            goto done;
        }
      else
        {
          /* Same level: the previous scale's upper Gaussian is this one's lower. */
          ln_vol_free (&g0);
          g0 = g1;
          memset (&g1, 0, sizeof g1);
        }
      /* G(next) = G(sigma) further smoothed by sqrt(next^2 - sigma^2) */
      if (ln_vol_alloc (&g1, g0.nx, g0.ny, g0.nz, g0.sp) != 0)
        goto done;
      memcpy (g1.v, g0.v, LN_COUNT (&g0) * sizeof (float));
      double inc = sqrt (next * next - sigma * sigma);
      double incs[3] = { inc, inc, inc };
      if (ln_gauss (&g1, incs) != 0)
        goto done;
      List found = { 0 };
      if (find_maxima (&g0, &g1, scan, lungs, f0, f, sigma, &found) != 0)
        {
          free (found.items);
          goto done;
        }
      qsort (found.items, (size_t) found.n, sizeof *found.items, by_triage);
      for (int i = 0; i < found.n && i < MAX_PER_SCALE; i++)
        if (list_push (&all, &found.items[i]) != 0)
          {
            free (found.items);
            goto done;
          }
      ln_logf (m, LN_LOG_DEBUG, "scale %.2f mm on a %dx%dx%d level: %d maxima", sigma, level.nx, level.ny, level.nz,
               found.n);
      free (found.items);
      if (ln_progress (m, fraction0 + (fraction1 - fraction0) * (s + 1) / N_SCALES, "detecting blobs") != 0)
        goto done;
    }
  if (dump)
    dump_raw (scan, lungs, m, &all);
  if (suppress (&all, scan, max_keep, out, n_out) != 0)
    goto done;
  rc = 0;
done:
  ln_vol_free (&base);
  ln_vol_free (&level);
  ln_vol_free (&g0);
  ln_vol_free (&g1);
  free (all.items);
  return rc;
}
