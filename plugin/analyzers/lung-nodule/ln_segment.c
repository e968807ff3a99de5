/*
 * ln_segment.c: one candidate's segmentation and measurements.
 *
 * Everything happens in a patch around the candidate (about 2.5 blob radii
 * plus 4 mm), at the scan's full resolution:
 *
 *   - the local background is the median of the aerated lung in the patch,
 *     the peak the highest 3x3 in-plane mean near the centre; the nodule is
 *     what is connected to the peak above half-way between them (the half-
 *     maximum edge of a blurred object is where its true edge was, whatever
 *     the blur), inside the lung envelope (which cuts nodules off the chest
 *     wall along the pleura);
 *   - vessels touching the nodule pass the threshold too: a morphological
 *     opening with a ball of six tenths of the nodule's inscribed radius (at
 *     most 3 mm) removes what is thinner than the ball, and the component at
 *     the centre is kept and given back its edge; the centre reported is the
 *     centroid of the region's core, which stubs and cuts do not pull;
 *   - a solid peak with a ground-glass halo (a ring around it well above the
 *     background) is part-solid: the whole nodule is then segmented at half
 *     the halo's contrast, the solid component at -300 HU;
 *   - sizes are measured as Lung-RADS asks, on the axial slice where the
 *     nodule is largest: the outline, its longest chord and the longest chord
 *     perpendicular to it; the volume in 3D.
 *
 * The same pass collects what the classifier needs: shape (elongation,
 * ellipsoid fill), contact with the pleura, what leaves the nodule through a
 * shell around it (vessels), how much the opening removed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ln_nodule.h"

#define SOLID_HU -300.0f        /* Lung-RADS solid component: soft-tissue attenuation */
#define CALCIFIED_HU 200.0      /* a nodule mostly above this is calcified (benign) */
#define MIN_CONTRAST_HU 60.0
#define HALO_HU 120.0           /* a ring this far above the background is ground glass */
#define HALO_TAIL 0.2            /* ... and this share of the solid part's contrast */
#define THIN_SLICE_MM 2.0       /* slices no thicker than this show a nodule's cap without a skirt */

typedef struct {
  int x0, y0, z0, nx, ny, nz;
  double sp[3];
  float *raw;                   /* the scan's HU */
  float *hu;                    /* the same, noise harmonised (ln_harmonize) */
  float *mean3;                 /* 3x3 in-plane mean, for peaks and the solid part */
  uint8_t *allowed;             /* in the lung envelope, not airway */
  uint8_t *aerated;             /* aerated lung */
  uint8_t *grown;               /* the thresholded region before the opening */
  uint8_t *region;              /* the nodule */
  int32_t *queue;
} Patch;

static size_t
pidx (const Patch *p, int x, int y, int z)
{
  return ((size_t) z * p->ny + y) * p->nx + x;
}

static void
patch_free (Patch *p)
{
  free (p->raw);
  free (p->hu);
  free (p->mean3);
  free (p->allowed);
  free (p->aerated);
  free (p->grown);
  free (p->region);
  free (p->queue);
  memset (p, 0, sizeof *p);
}

static int
patch_load (Patch *p, const LnScan *scan, const LnLungs *lungs, const double g[3], const double half_mm[3])
{
  const LnVol *img = &scan->img;
  int lo[3], hi[3], dims[3] = { img->nx, img->ny, img->nz };
  for (int a = 0; a < 3; a++)
    {
      int h = (int) ceil (half_mm[a] / img->sp[a]);
      if (h < 2)
        h = 2;
      int c = (int) floor (g[a] + 0.5);
      lo[a] = c - h < 0 ? 0 : c - h;
      hi[a] = c + h + 1 > dims[a] ? dims[a] : c + h + 1;
    }
  p->x0 = lo[0], p->y0 = lo[1], p->z0 = lo[2];
  p->nx = hi[0] - lo[0], p->ny = hi[1] - lo[1], p->nz = hi[2] - lo[2];
  memcpy (p->sp, img->sp, sizeof p->sp);
  size_t n = (size_t) p->nx * p->ny * p->nz;
  p->raw = malloc (n * sizeof *p->raw);
  p->hu = malloc (n * sizeof *p->hu);
  p->mean3 = malloc (n * sizeof *p->mean3);
  p->allowed = malloc (n);
  p->aerated = malloc (n);
  p->grown = calloc (n, 1);
  p->region = calloc (n, 1);
  p->queue = malloc (n * sizeof *p->queue);
  if (!p->raw || !p->hu || !p->mean3 || !p->allowed || !p->aerated || !p->grown || !p->region || !p->queue)
    return -1;
  const LnMask *env = &lungs->envelope, *air = &lungs->airway, *lung = &lungs->lung;
  for (int z = 0; z < p->nz; z++)
    for (int y = 0; y < p->ny; y++)
      {
        const float *src = img->v + LN_IDX (img, p->x0, p->y0 + y, p->z0 + z);
        memcpy (p->raw + pidx (p, 0, y, z), src, (size_t) p->nx * sizeof (float));
        /* the coarse masks' row under this patch row */
        size_t row = LN_IDX (env, 0, (p->y0 + y) / lungs->f[1], (p->z0 + z) / lungs->f[2]);
        uint8_t *al = p->allowed + pidx (p, 0, y, z), *ae = p->aerated + pidx (p, 0, y, z);
        for (int x = 0; x < p->nx; x++)
          {
            size_t c = row + (size_t) ((p->x0 + x) / lungs->f[0]);
            al[x] = env->v[c] && !air->v[c];
            ae[x] = lung->v[c] != 0;
          }
      }
  memcpy (p->hu, p->raw, n * sizeof *p->hu);
  LnVol view = { p->nx, p->ny, p->nz, { p->sp[0], p->sp[1], p->sp[2] }, p->hu };
  if (ln_harmonize (lungs, scan, &view) != 0)
    return -1;
  for (int z = 0; z < p->nz; z++)
    for (int y = 0; y < p->ny; y++)
      for (int x = 0; x < p->nx; x++)
        {
          double s = 0;
          int k = 0;
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
              {
                int X = x + dx, Y = y + dy;
                if (X >= 0 && Y >= 0 && X < p->nx && Y < p->ny)
                  {
                    s += p->hu[pidx (p, X, Y, z)];
                    k++;
                  }
              }
          p->mean3[pidx (p, x, y, z)] = (float) (s / k);
        }
  return 0;
}

static int
compare_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

/* Median of the patch's aerated lung darker than -500 HU (1 HU bins). */
static double
local_background (const Patch *p, double fallback)
{
  enum { LO = -1100, HI = -500 };
  unsigned hist[HI - LO + 1];
  memset (hist, 0, sizeof hist);
  size_t n = (size_t) p->nx * p->ny * p->nz, m = 0;
  for (size_t i = 0; i < n; i++)
    if (p->aerated[i] && p->allowed[i] && p->hu[i] < (float) HI)
      {
        int b = (int) floorf (p->hu[i]) - LO;
        hist[b < 0 ? 0 : b]++;
        m++;
      }
  if (m < 20)
    return fallback;
  size_t run = 0;
  for (int b = 0; b <= HI - LO; b++)
    if ((run += hist[b]) > m / 2)
      return b + LO + 0.5;
  return fallback;
}

/* Grows from @seed over allowed voxels with @field >= @t (6-connected) into
 * @out (set to 1). Returns the voxel count; *@touches_box is set when the
 * region reaches the patch's side faces. */
static size_t
grow (Patch *p, const float *field, float t, size_t seed, uint8_t *out, int *touches_box)
{
  size_t n = (size_t) p->nx * p->ny * p->nz;
  memset (out, 0, n);
  if (field[seed] < t || !p->allowed[seed])
    return 0;
  size_t head = 0, tail = 0;
  p->queue[tail++] = (int32_t) seed;
  out[seed] = 1;
  *touches_box = 0;
  while (head < tail)
    {
      size_t i = (size_t) p->queue[head++];
      int x = (int) (i % p->nx), y = (int) ((i / p->nx) % p->ny), z = (int) (i / ((size_t) p->nx * p->ny));
      if (x == 0 || y == 0 || x == p->nx - 1 || y == p->ny - 1 || (p->nz > 2 && (z == 0 || z == p->nz - 1)))
        *touches_box = 1;
      int nb[6][3] = { { x - 1, y, z }, { x + 1, y, z }, { x, y - 1, z }, { x, y + 1, z }, { x, y, z - 1 }, { x, y, z + 1 } };
      for (int k = 0; k < 6; k++)
        {
          int X = nb[k][0], Y = nb[k][1], Z = nb[k][2];
          if (X < 0 || Y < 0 || Z < 0 || X >= p->nx || Y >= p->ny || Z >= p->nz)
            continue;
          size_t j = pidx (p, X, Y, Z);
          if (out[j] || !p->allowed[j] || field[j] < t)
            continue;
          out[j] = 1;
          p->queue[tail++] = (int32_t) j;
        }
    }
  return tail;
}

/* A sub-box of the patch: the bounding box of @mask grown by @grow_mm
 * in plane and @grow_z_mm across slices. */
typedef struct {
  int lo[3], hi[3];
} Box;

static int
mask_box (const Patch *p, const uint8_t *mask, double grow_mm, double grow_z_mm, Box *b)
{
  int dims[3] = { p->nx, p->ny, p->nz };
  for (int a = 0; a < 3; a++)
    b->lo[a] = dims[a], b->hi[a] = -1;
  size_t n = (size_t) p->nx * p->ny * p->nz;
  for (size_t i = 0; i < n; i++)
    if (mask[i])
      {
        int c[3] = { (int) (i % p->nx), (int) ((i / p->nx) % p->ny), (int) (i / ((size_t) p->nx * p->ny)) };
        for (int a = 0; a < 3; a++)
          {
            b->lo[a] = c[a] < b->lo[a] ? c[a] : b->lo[a];
            b->hi[a] = c[a] > b->hi[a] ? c[a] : b->hi[a];
          }
      }
  if (b->hi[0] < 0)
    return 0;
  for (int a = 0; a < 3; a++)
    {
      int g = (int) ceil ((a == 2 ? grow_z_mm : grow_mm) / p->sp[a]) + 1;
      b->lo[a] = b->lo[a] - g < 0 ? 0 : b->lo[a] - g;
      b->hi[a] = b->hi[a] + g + 1 > dims[a] ? dims[a] : b->hi[a] + g + 1;
    }
  return 1;
}

/* Squared distance (mm^2) from each voxel of box @b to the nearest voxel
 * where @mask is set (@invert: where it is not), @z_sp the slice spacing
 * to use (huge: in plane only). @out has the box's size. */
static int
box_edt (const Patch *p, const Box *b, const uint8_t *mask, int invert, double z_sp, float *out)
{
  LnMask m = { b->hi[0] - b->lo[0], b->hi[1] - b->lo[1], b->hi[2] - b->lo[2], { p->sp[0], p->sp[1], z_sp }, NULL };
  m.v = malloc (LN_COUNT (&m));
  if (m.v == NULL)
    return -1;
  for (int z = 0; z < m.nz; z++)
    for (int y = 0; y < m.ny; y++)
      for (int x = 0; x < m.nx; x++)
        {
          uint8_t v = mask[pidx (p, b->lo[0] + x, b->lo[1] + y, b->lo[2] + z)] != 0;
          m.v[LN_IDX (&m, x, y, z)] = invert ? !v : v;
        }
  int rc = ln_edt_sq (&m, out);
  free (m.v);
  return rc;
}

/* Opening of @in by a ball of @radius mm, keeping the part connected to
 * @seed; result in @out. Falls back to @in inside a sphere around the seed
 * when the erosion leaves nothing there (a nodule smaller than the ball).
 * Works in @in's bounding box. */
static int
open_at (Patch *p, const uint8_t *in, double radius, size_t seed, double keep_mm, uint8_t *out)
{
  size_t n = (size_t) p->nx * p->ny * p->nz;
  memset (out, 0, n);
  Box b;
  if (!mask_box (p, in, radius, radius, &b))
    return 0;
  int bx = b.hi[0] - b.lo[0], by = b.hi[1] - b.lo[1], bz = b.hi[2] - b.lo[2];
  size_t bn = (size_t) bx * by * bz;
  float *d = malloc (bn * sizeof *d);
  uint8_t *core = calloc (n, 1);
  if (d == NULL || core == NULL)
    {
      free (d);
      free (core);
      return -1;
    }
  /* erosion: voxels farther than radius from the outside */
  if (box_edt (p, &b, in, 1, p->sp[2], d) != 0)
    {
      free (d);
      free (core);
      return -1;
    }
  const float r2 = (float) (radius * radius);
  int sx = (int) (seed % p->nx), sy = (int) ((seed / p->nx) % p->ny), sz = (int) (seed / ((size_t) p->nx * p->ny));
  size_t start = n;
  double best = keep_mm * keep_mm;
  for (int z = 0; z < bz; z++)
    for (int y = 0; y < by; y++)
      for (int x = 0; x < bx; x++)
        {
          size_t i = pidx (p, b.lo[0] + x, b.lo[1] + y, b.lo[2] + z);
          if (!in[i] || d[((size_t) z * by + y) * bx + x] <= r2)
            continue;
          core[i] = 1;
          /* the eroded voxel nearest the seed starts the kept component */
          double dx = (b.lo[0] + x - sx) * p->sp[0], dy = (b.lo[1] + y - sy) * p->sp[1],
                 dz = (b.lo[2] + z - sz) * p->sp[2];
          double dd = dx * dx + dy * dy + dz * dz;
          if (dd < best)
            {
              best = dd;
              start = i;
            }
        }
  if (start == n)
    {
      /* nothing survives near the seed: the nodule is smaller than the ball */
      for (size_t i = 0; i < n; i++)
        if (in[i])
          {
            double dx = ((int) (i % p->nx) - sx) * p->sp[0], dy = ((int) ((i / p->nx) % p->ny) - sy) * p->sp[1],
                   dz = ((int) (i / ((size_t) p->nx * p->ny)) - sz) * p->sp[2];
            out[i] = dx * dx + dy * dy + dz * dz <= keep_mm * keep_mm;
          }
      free (d);
      free (core);
      return 0;
    }
  /* the eroded component at the seed */
  float *field = malloc (n * sizeof *field);
  if (field == NULL)
    {
      free (d);
      free (core);
      return -1;
    }
  for (size_t i = 0; i < n; i++)
    field[i] = core[i] ? 1.0f : 0.0f;
  int touches;
  uint8_t *saved = p->allowed;
  p->allowed = (uint8_t *) in; /* grow within the region only (read-only there) */
  grow (p, field, 0.5f, start, core, &touches);
  p->allowed = saved;
  free (field);
  /* dilation back by the radius, within the region */
  if (box_edt (p, &b, core, 0, p->sp[2], d) != 0)
    {
      free (d);
      free (core);
      return -1;
    }
  for (int z = 0; z < bz; z++)
    for (int y = 0; y < by; y++)
      for (int x = 0; x < bx; x++)
        {
          size_t i = pidx (p, b.lo[0] + x, b.lo[1] + y, b.lo[2] + z);
          out[i] = in[i] && d[((size_t) z * by + y) * bx + x] <= r2 * 1.0001f;
        }
  free (d);
  free (core);
  return 0;
}

/* The largest inscribed distance (mm) of @mask within @reach mm of @seed:
 * the radius of the thickest part there. */
static double
inscribed_near (const Patch *p, const uint8_t *mask, size_t seed, double reach)
{
  Box b;
  if (!mask_box (p, mask, 0.0, 0.0, &b))
    return 0;
  size_t bn = (size_t) (b.hi[0] - b.lo[0]) * (b.hi[1] - b.lo[1]) * (b.hi[2] - b.lo[2]);
  float *d = malloc (bn * sizeof *d);
  if (d == NULL || box_edt (p, &b, mask, 1, p->sp[2], d) != 0)
    {
      free (d);
      return 0;
    }
  int sx = (int) (seed % p->nx), sy = (int) ((seed / p->nx) % p->ny), sz = (int) (seed / ((size_t) p->nx * p->ny));
  double best = 0;
  size_t k = 0;
  for (int z = b.lo[2]; z < b.hi[2]; z++)
    for (int y = b.lo[1]; y < b.hi[1]; y++)
      for (int x = b.lo[0]; x < b.hi[0]; x++, k++)
        {
          double dx = (x - sx) * p->sp[0], dy = (y - sy) * p->sp[1], dz = (z - sz) * p->sp[2];
          if (z == sz)
            dz = 0;
          if (dx * dx + dy * dy + dz * dz <= reach * reach && d[k] > best)
            best = d[k];
        }
  free (d);
  return sqrt (best);
}

/* The opening's radius: six tenths of the nodule's own inscribed radius
 * near the seed removes vessels thinner than that and keeps the nodule
 * (at least a pixel, at most 3 mm). */
static double
opening_radius (const Patch *p, const uint8_t *grown, size_t seed, double reach)
{
  double r = 0.6 * inscribed_near (p, grown, seed, reach);
  return fmin (fmax (r, 0.8 * p->sp[0]), 3.0);
}

/* The centre: the intensity-weighted centroid of the region's core, the
 * voxels deeper than 0.6 of the deepest, so that a vessel stub or a cut
 * along the pleura does not pull it. */
static void
core_centre (const Patch *p, const uint8_t *mask, double b, double out[3])
{
  Box bx;
  out[0] = out[1] = out[2] = 0;
  if (!mask_box (p, mask, 0.0, 0.0, &bx))
    return;
  size_t bn = (size_t) (bx.hi[0] - bx.lo[0]) * (bx.hi[1] - bx.lo[1]) * (bx.hi[2] - bx.lo[2]);
  float *d = malloc (bn * sizeof *d);
  if (d == NULL || box_edt (p, &bx, mask, 1, p->sp[2], d) != 0)
    {
      free (d);
      return;
    }
  float dmax = 0;
  for (size_t k = 0; k < bn; k++)
    dmax = d[k] > dmax ? d[k] : dmax;
  double w = 0, c[3] = { 0, 0, 0 };
  size_t k = 0;
  for (int z = bx.lo[2]; z < bx.hi[2]; z++)
    for (int y = bx.lo[1]; y < bx.hi[1]; y++)
      for (int x = bx.lo[0]; x < bx.hi[0]; x++, k++)
        {
          size_t i = pidx (p, x, y, z);
          if (!mask[i] || d[k] < 0.36f * dmax) /* squared distances: 0.6^2 */
            continue;
          double wt = fmax (p->hu[i] - b, 1.0);
          w += wt;
          c[0] += wt * x, c[1] += wt * y, c[2] += wt * z;
        }
  free (d);
  if (w > 0)
    for (int a = 0; a < 3; a++)
      out[a] = c[a] / w;
}

/* The mean diameter (and axes) of the biggest 2D piece of @mask on slice @z,
 * outlined on @field at level 0.5. Returns the outline's point count. */
static int
slice_outline (const Patch *p, const uint8_t *mask, const float *hu, float t, float scale, int z, float **points)
{
  size_t plane = (size_t) p->nx * p->ny;
  float *field = malloc (plane * sizeof *field);
  if (field == NULL)
    return 0;
  for (size_t i = 0; i < plane; i++)
    field[i] = 0.5f + (hu[z * plane + i] - t) / scale;
  int n = ln_outline (mask + z * plane, field, p->nx, p->ny, points);
  free (field);
  return n;
}

static int
largest_slice (const Patch *p, const uint8_t *mask, size_t *area)
{
  size_t plane = (size_t) p->nx * p->ny, best = 0;
  int bz = -1;
  for (int z = 0; z < p->nz; z++)
    {
      size_t a = 0;
      for (size_t i = 0; i < plane; i++)
        a += mask[z * plane + i] != 0;
      if (a > best)
        {
          best = a;
          bz = z;
        }
    }
  if (area)
    *area = best;
  return bz;
}

/* Shape and surroundings, for the classifier. */
static void
describe (const Patch *p, const uint8_t *mask, float t, LnNodule *out, size_t count, size_t grown_count)
{
  double mean[3] = { 0, 0, 0 }, cov[6] = { 0 };
  size_t n = (size_t) p->nx * p->ny * p->nz;
  for (size_t i = 0; i < n; i++)
    if (mask[i])
      {
        double c[3] = { (double) (i % p->nx) * p->sp[0], (double) ((i / p->nx) % p->ny) * p->sp[1],
                        (double) (i / ((size_t) p->nx * p->ny)) * p->sp[2] };
        for (int a = 0; a < 3; a++)
          mean[a] += c[a] / count;
      }
  size_t surface = 0, on_wall = 0;
  for (size_t i = 0; i < n; i++)
    if (mask[i])
      {
        int x = (int) (i % p->nx), y = (int) ((i / p->nx) % p->ny), z = (int) (i / ((size_t) p->nx * p->ny));
        double c[3] = { x * p->sp[0] - mean[0], y * p->sp[1] - mean[1], z * p->sp[2] - mean[2] };
        cov[0] += c[0] * c[0], cov[1] += c[1] * c[1], cov[2] += c[2] * c[2];
        cov[3] += c[0] * c[1], cov[4] += c[1] * c[2], cov[5] += c[0] * c[2];
        int nb[4][2] = { { x - 1, y }, { x + 1, y }, { x, y - 1 }, { x, y + 1 } };
        for (int k = 0; k < 4; k++)
          {
            int X = nb[k][0], Y = nb[k][1];
            if (X < 0 || Y < 0 || X >= p->nx || Y >= p->ny)
              continue;
            size_t j = pidx (p, X, Y, z);
            if (mask[j])
              continue;
            surface++;
            if (!p->allowed[j])
              on_wall++;
          }
      }
  for (int k = 0; k < 6; k++)
    cov[k] /= count;
  /* Eigenvalues of the covariance (symmetric 3x3) by Jacobi sweeps. */
  double A[3][3] = { { cov[0], cov[3], cov[5] }, { cov[3], cov[1], cov[4] }, { cov[5], cov[4], cov[2] } };
  for (int sweep = 0; sweep < 10; sweep++)
    for (int i = 0; i < 3; i++)
      for (int j = i + 1; j < 3; j++)
        {
          if (fabs (A[i][j]) < 1e-12)
            continue;
          double th = 0.5 * atan2 (2 * A[i][j], A[j][j] - A[i][i]);
          double c = cos (th), s = sin (th);
          for (int k = 0; k < 3; k++)
            {
              double aik = A[i][k], ajk = A[j][k];
              A[i][k] = c * aik - s * ajk;
              A[j][k] = s * aik + c * ajk;
            }
          for (int k = 0; k < 3; k++)
            {
              double aki = A[k][i], akj = A[k][j];
              A[k][i] = c * aki - s * akj;
              A[k][j] = s * aki + c * akj;
            }
        }
  double ev[3] = { A[0][0], A[1][1], A[2][2] };
  double emax = fmax (ev[0], fmax (ev[1], ev[2])), emin = fmin (ev[0], fmin (ev[1], ev[2]));
  double emid = ev[0] + ev[1] + ev[2] - emax - emin;
  /* A voxel's own extent counts: add the variance of a uniform voxel. */
  double vox = (p->sp[0] * p->sp[0] + p->sp[1] * p->sp[1]) / 24.0;
  emax += vox, emid += vox, emin = fmax (emin, 0) + vox;
  /* the ellipsoid with these second moments has semi-axes sqrt(5 ev) */
  double ellipsoid = 4.0 / 3.0 * M_PI * sqrt (125.0 * emax * emid * emin);
  out->elongation = sqrt (emin / emax);
  out->ellipsoid_fill = ellipsoid > 0 ? out->volume / ellipsoid : 0;
  out->wall_fraction = surface ? (double) on_wall / surface : 0;
  out->opening_kept = grown_count ? (double) count / grown_count : 1;
  /* The shell between 1.3 and 2.0 equivalent radii: dense voxels there
   * are vessels (or wall) leaving the nodule. */
  double r = 0.5 * pow (6.0 * out->volume / M_PI, 1.0 / 3.0);
  size_t shell = 0, dense = 0;
  for (size_t i = 0; i < n; i++)
    {
      double c[3] = { (double) (i % p->nx) * p->sp[0] - mean[0], (double) ((i / p->nx) % p->ny) * p->sp[1] - mean[1],
                      (double) (i / ((size_t) p->nx * p->ny)) * p->sp[2] - mean[2] };
      double d = sqrt (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
      if (d < 1.3 * r || d > 2.0 * r + 0.5 * p->sp[0] || !p->allowed[i])
        continue;
      shell++;
      dense += p->hu[i] >= t;
    }
  out->shell_dense = shell ? (double) dense / shell : 0;
  if (out->wall_fraction >= 0.08)
    out->attachment = LN_ATTACH_PLEURA;
  else if (out->shell_dense >= 0.04 || out->opening_kept < 0.9)
    out->attachment = LN_ATTACH_VESSEL;
  else
    out->attachment = LN_ATTACH_ISOLATED;
}

/* Squared distance in mm from patch voxel @i to @cg (patch voxel
 * coordinates); on thick slices the nearest slice counts as distance 0. */
static double
distance2 (const Patch *p, size_t i, const double cg[3])
{
  int x = (int) (i % p->nx), y = (int) ((i / p->nx) % p->ny), z = (int) (i / ((size_t) p->nx * p->ny));
  double dx = (x - cg[0]) * p->sp[0], dy = (y - cg[1]) * p->sp[1], dz = (z - cg[2]) * p->sp[2];
  if (fabs (z - cg[2]) <= 0.5)
    dz = 0;
  return dx * dx + dy * dy + dz * dz;
}

/* The seed and peak of the blob at @cg: the brightest 3x3 mean within
 * @reach mm of the structure nearest to @cg, a structure being what is
 * connected above twice the minimum contrast over the background @b
 * (faint ground glass has more). Taking the brightest voxel anywhere in
 * reach would, for a large-scale candidate, pick a denser vessel near the
 * nodule rather than the nodule; taking the nearest voxel's neighbourhood
 * alone would miss a part-solid nodule's solid core. Returns the seed's
 * index, or the patch size when there is none. Uses p->grown. */
static size_t
find_peak (Patch *p, const double cg[3], double reach, double b)
{
  const size_t n = (size_t) p->nx * p->ny * p->nz;
  const double reach2 = reach * reach;
  float level = (float) (b + 2.0 * MIN_CONTRAST_HU);
  size_t near = n;
  double near2 = reach2;
  for (size_t i = 0; i < n; i++)
    if (p->allowed[i] && p->mean3[i] >= level)
      {
        double d2 = distance2 (p, i, cg);
        if (d2 <= near2)
          near2 = d2, near = i;
      }
  if (near == n)
    return n;
  int touches;
  grow (p, p->mean3, level, near, p->grown, &touches);
  size_t seed = near;
  for (size_t i = 0; i < n; i++)
    if (p->grown[i] && p->mean3[i] > p->mean3[seed] && distance2 (p, i, cg) <= reach2)
      seed = i;
  return seed;
}

int
ln_segment (const LnScan *scan, const LnLungs *lungs, const LnCandidate *cand, LnNodule *out)
{
  memset (out, 0, sizeof *out);
  out->cand = *cand;
  double r_est = fmax (2.0 * fmax (cand->sigma, cand->extent_sigma), 2.0);
  double half[3];
  for (int a = 0; a < 3; a++)
    half[a] = 1.6 * r_est + 4.0;
  Patch p = { 0 };
  int rc = 1;
  if (patch_load (&p, scan, lungs, cand->g, half) != 0)
    {
      rc = -1;
      goto done;
    }
  const size_t n = (size_t) p.nx * p.ny * p.nz;
  double b = local_background (&p, lungs->parenchyma_hu);
  double cg[3] = { cand->g[0] - p.x0, cand->g[1] - p.y0, cand->g[2] - p.z0 };
  double reach = fmax (0.5 * r_est, 1.5);
  size_t seed = find_peak (&p, cg, reach, b);
  float peak = seed < n ? p.mean3[seed] : -2000;
  double contrast = peak - b;
  if (seed == n || contrast < MIN_CONTRAST_HU)
    goto done;
  float t = (float) (b + 0.5 * contrast);
  int touches = 0;
  size_t grown_count = grow (&p, p.mean3, t, seed, p.grown, &touches);
  if (grown_count == 0)
    goto done;
  /* Detach vessels. */
  double rho = opening_radius (&p, p.grown, seed, reach);
  if (open_at (&p, p.grown, rho, seed, 1.5 * r_est, p.region) != 0)
    {
      rc = -1;
      goto done;
    }

  /* Part-solid: a ground-glass halo around a solid peak. */
  LnType type = peak >= SOLID_HU ? LN_TYPE_SOLID : LN_TYPE_GROUND_GLASS;
  if (type == LN_TYPE_SOLID)
    {
      /* the ring 0.5 to 3 mm outside the solid region, in plane (a
       * distance transform with the slices infinitely far apart), on the
       * slice where the region is largest, and on thin-slice scans also
       * those where it is at least half that: on a thick slice that holds
       * a solid nodule's cap, the cap's partial volume with the parenchyma
       * spreads around the part above the threshold and looks like a halo
       * (so solid nodules were called part-solid and measured 2-4 mm too
       * large on 5 mm slices) */
      Box rb;
      mask_box (&p, p.region, 3.0, 0.0, &rb);
      size_t max_area = 0, plane = (size_t) p.nx * p.ny;
      int key_z = largest_slice (&p, p.region, &max_area);
      int thick = p.sp[2] > THIN_SLICE_MM;
      size_t rn = (size_t) (rb.hi[0] - rb.lo[0]) * (rb.hi[1] - rb.lo[1]) * (rb.hi[2] - rb.lo[2]);
      float *ring = malloc (rn * sizeof *ring), *dist = malloc (rn * sizeof *dist);
      size_t m = 0;
      if (ring == NULL || dist == NULL || box_edt (&p, &rb, p.region, 0, 1e4, dist) != 0)
        {
          free (ring);
          free (dist);
          rc = -1;
          goto done;
        }
      size_t k = 0;
      for (int z = rb.lo[2]; z < rb.hi[2]; z++)
        {
          size_t area = 0;
          for (size_t i = 0; i < plane; i++)
            area += p.region[z * plane + i] != 0;
          if (2 * area < max_area || (thick && z != key_z))
            {
              k += (size_t) (rb.hi[1] - rb.lo[1]) * (rb.hi[0] - rb.lo[0]);
              continue;
            }
          for (int y = rb.lo[1]; y < rb.hi[1]; y++)
            for (int x = rb.lo[0]; x < rb.hi[0]; x++, k++)
              {
                size_t i = pidx (&p, x, y, z);
                if (!p.region[i] && p.allowed[i] && dist[k] > 0.25f && dist[k] <= 9.0f)
                  ring[m++] = p.hu[i];
              }
        }
      free (dist);
      double halo = b;
      if (m >= 8)
        {
          qsort (ring, m, sizeof *ring, compare_float);
          halo = ring[m / 2];
        }
      free (ring);
      /* The kernel's blur leaves a tail of the solid part in the ring
       * whose height grows with the solid part's contrast (11-16 % of it
       * on inserted solid nodules of the training cases, lung kernel,
       * 5 mm): a halo must stand above that as well as above HALO_HU. */
      if (halo - b >= fmax (HALO_HU, HALO_TAIL * contrast))
        {
          /* segment the whole nodule at half the halo's contrast */
          float tg = (float) (b + 0.5 * (halo - b));
          size_t all = grow (&p, p.mean3, tg, seed, p.grown, &touches);
          if (all > grown_count)
            {
              grown_count = all;
              double rho2 = opening_radius (&p, p.grown, seed, reach);
              if (open_at (&p, p.grown, rho2, seed, 2.0 * r_est, p.region) != 0)
                {
                  rc = -1;
                  goto done;
                }
              t = tg;
              type = LN_TYPE_PART_SOLID;
            }
        }
    }

  /* Measurements. */
  size_t count = 0, solid = 0, calcified = 0;
  double sum = 0, sum2 = 0, hsum = 0, hsum2 = 0, w = 0, cw[3] = { 0, 0, 0 };
  int bb[6] = { p.nx, p.ny, p.nz, -1, -1, -1 };
  for (size_t i = 0; i < n; i++)
    {
      if (!p.region[i])
        continue;
      int c[3] = { (int) (i % p.nx), (int) ((i / p.nx) % p.ny), (int) (i / ((size_t) p.nx * p.ny)) };
      double v = p.raw[i];
      count++;
      sum += v;
      sum2 += v * v;
      hsum += p.hu[i];
      hsum2 += (double) p.hu[i] * p.hu[i];
      solid += p.mean3[i] >= SOLID_HU;
      calcified += p.mean3[i] >= CALCIFIED_HU;
      double wt = fmax (v - b, 1.0);
      w += wt;
      for (int a = 0; a < 3; a++)
        {
          cw[a] += wt * c[a];
          bb[a] = c[a] < bb[a] ? c[a] : bb[a];
          bb[a + 3] = c[a] > bb[a + 3] ? c[a] : bb[a + 3];
        }
    }
  if (count == 0)
    goto done;
  const double voxel = p.sp[0] * p.sp[1] * p.sp[2];
  out->volume = count * voxel;
  out->hu_mean = sum / count;
  out->hu_sd = sqrt (fmax (sum2 / count - out->hu_mean * out->hu_mean, 0));
  out->texture_sd = sqrt (fmax (hsum2 / count - (hsum / count) * (hsum / count), 0));
  out->background_hu = b;
  out->peak_hu = peak;
  out->solid_fraction = (double) solid / count;
  out->calcified = calcified >= 0.5 * count;
  double core[3];
  core_centre (&p, p.region, b, core);
  if (core[0] == 0 && core[1] == 0 && core[2] == 0)
    for (int a = 0; a < 3; a++)
      core[a] = cw[a] / w;
  out->g[0] = p.x0 + core[0];
  out->g[1] = p.y0 + core[1];
  out->g[2] = p.z0 + core[2];
  ln_scan_to_patient (scan, out->g, out->centre);
  int origin[3] = { p.x0, p.y0, p.z0 };
  for (int a = 0; a < 3; a++)
    {
      out->box[a] = origin[a] + bb[a];
      out->box[a + 3] = origin[a] + bb[a + 3] + 1;
    }
  out->z_extent = (bb[5] - bb[2] + 1) * p.sp[2];

  /* Key slice: the largest cross-section, outlined at the threshold. */
  size_t area = 0;
  int kz = largest_slice (&p, p.region, &area);
  float scale = (float) fmax (peak - b, 1.0);
  float *pts = NULL;
  int np = slice_outline (&p, p.region, p.mean3, t, scale, kz, &pts);
  if (np < 3)
    {
      free (pts);
      goto done;
    }
  ln_axes (pts, np, p.sp[0], p.sp[1], &out->long_axis, &out->short_axis, out->axes);
  out->mean_diameter = 0.5 * (out->long_axis + out->short_axis);
  out->grid_key_z = p.z0 + kz;
  out->key_slice = ln_scan_source_slice (scan, out->grid_key_z);
  /* Patch pixels to the source slice's image coordinates (tilt shift). */
  double dx = p.x0 + scan->src_dx[out->key_slice], dy = p.y0 + scan->src_dy[out->key_slice];
  for (int k = 0; k < np; k++)
    {
      pts[2 * k] = (float) fmin (fmax (pts[2 * k] + dx, 0.0), scan->src_columns);
      pts[2 * k + 1] = (float) fmin (fmax (pts[2 * k + 1] + dy, 0.0), scan->src_rows);
    }
  for (int k = 0; k < 4; k++)
    {
      out->axes[2 * k] = (float) fmin (fmax (out->axes[2 * k] + dx, 0.0), scan->src_columns);
      out->axes[2 * k + 1] = (float) fmin (fmax (out->axes[2 * k + 1] + dy, 0.0), scan->src_rows);
    }
  out->outline = pts;
  out->n_outline = np;

  /* The solid component, measured alike on its own largest slice. */
  if (type == LN_TYPE_PART_SOLID && solid > 0)
    {
      uint8_t *solid_part = p.grown; /* reuse */
      for (size_t i = 0; i < n; i++)
        solid_part[i] = p.region[i] && p.mean3[i] >= SOLID_HU;
      int sz = largest_slice (&p, solid_part, NULL);
      float *sp = NULL;
      int ns = slice_outline (&p, solid_part, p.mean3, SOLID_HU, 200.0f, sz, &sp);
      double l = 0, s = 0;
      float ax[8];
      ln_axes (sp, ns, p.sp[0], p.sp[1], &l, &s, ax);
      free (sp);
      out->solid_diameter = 0.5 * (l + s);
      /* a speck of solid in a large halo is not yet part-solid */
      if (out->solid_diameter < 0.15 * out->mean_diameter)
        type = LN_TYPE_GROUND_GLASS, out->solid_diameter = 0;
    }
  else if (type == LN_TYPE_SOLID)
    out->solid_diameter = out->mean_diameter;
  out->type = type;

  describe (&p, p.region, t, out, count, grown_count);
  out->touches_box = touches;
  out->contrast = contrast;
  rc = 0;
done:
  patch_free (&p);
  if (rc != 0)
    ln_nodule_clear (out);
  return rc;
}

void
ln_nodule_clear (LnNodule *n)
{
  free (n->outline);
  n->outline = NULL;
  n->n_outline = 0;
}
