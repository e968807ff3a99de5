/*
 * ln_image.c: the toolkit the stages share. Volumes and masks, Gaussian
 * smoothing, box downsampling, exact distance transforms, connected
 * components, per-slice flood fills.
 *
 * Everything works on whole volumes x fastest and keeps its temporary
 * memory to a line, a plane or an xz-slab, because the scans are large
 * (512 x 512 x 300 floats are 300 MB) and the memory budget is not.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ln_nodule.h"

int
ln_progress (const LnMonitor *m, double fraction, const char *message)
{
  if (m == NULL || m->progress == NULL)
    return 0;
  return m->progress (m->opaque, fraction, message);
}

void
ln_logf (const LnMonitor *m, int level, const char *format, ...)
{
  if (m == NULL || m->log == NULL)
    return;
  char line[1024];
  va_list args;
  va_start (args, format);
  vsnprintf (line, sizeof line, format, args);
  va_end (args);
  m->log (m->opaque, level, line);
}

int
ln_vol_alloc (LnVol *v, int nx, int ny, int nz, const double sp[3])
{
  memset (v, 0, sizeof *v);
  if (nx <= 0 || ny <= 0 || nz <= 0)
    return -1;
  v->v = calloc ((size_t) nx * ny * nz, sizeof (float));
  if (v->v == NULL)
    return -1;
  v->nx = nx;
  v->ny = ny;
  v->nz = nz;
  memcpy (v->sp, sp, sizeof v->sp);
  return 0;
}

void
ln_vol_free (LnVol *v)
{
  free (v->v);
  memset (v, 0, sizeof *v);
}

int
ln_mask_alloc (LnMask *m, int nx, int ny, int nz, const double sp[3])
{
  memset (m, 0, sizeof *m);
  if (nx <= 0 || ny <= 0 || nz <= 0)
    return -1;
  m->v = calloc ((size_t) nx * ny * nz, 1);
  if (m->v == NULL)
    return -1;
  m->nx = nx;
  m->ny = ny;
  m->nz = nz;
  memcpy (m->sp, sp, sizeof m->sp);
  return 0;
}

void
ln_mask_free (LnMask *m)
{
  free (m->v);
  memset (m, 0, sizeof *m);
}

size_t
ln_mask_count (const LnMask *m)
{
  size_t n = 0, total = LN_COUNT (m);
  for (size_t i = 0; i < total; i++)
    n += m->v[i] != 0;
  return n;
}

/* ---- Gaussian ------------------------------------------------------------------ */

/* out[j] += w * in[j] for j < n, written eight at a time so that the
 * basic-block vectoriser of -O2 turns it into SIMD. */
static inline void
axpy (float *restrict out, const float *restrict in, float w, int n)
{
  int j = 0;
  for (; j + 8 <= n; j += 8)
    {
      out[j + 0] += w * in[j + 0];
      out[j + 1] += w * in[j + 1];
      out[j + 2] += w * in[j + 2];
      out[j + 3] += w * in[j + 3];
      out[j + 4] += w * in[j + 4];
      out[j + 5] += w * in[j + 5];
      out[j + 6] += w * in[j + 6];
      out[j + 7] += w * in[j + 7];
    }
  for (; j < n; j++)
    out[j] += w * in[j];
}

/* Normalised kernel of radius ceil(3 sigma) voxels; returns the radius. */
static int
gauss_kernel (double sigma_vox, float **kernel)
{
  int r = (int) ceil (3.0 * sigma_vox);
  if (r < 1)
    r = 1;
  float *k = malloc ((size_t) (2 * r + 1) * sizeof *k);
  if (k == NULL)
    return -1;
  double sum = 0;
  for (int i = -r; i <= r; i++)
    sum += k[i + r] = (float) exp (-0.5 * i * i / (sigma_vox * sigma_vox));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);
  *kernel = k;
  return r;
}

/* Convolves @n lines of length @len, stored @stride floats apart with
 * consecutive lines adjacent (line j element i at buf[i * stride + j]),
 * edges replicated. @tmp holds (len + 2r) * n floats. Written so that the
 * inner loop runs over adjacent lines and vectorises. */
static void
convolve_lines (float *buf, int len, int n, size_t stride, const float *k, int r, float *restrict tmp)
{
  for (int i = -r; i < len + r; i++)
    {
      int src = i < 0 ? 0 : i >= len ? len - 1 : i;
      memcpy (tmp + (size_t) (i + r) * n, buf + (size_t) src * stride, (size_t) n * sizeof *tmp);
    }
  for (int i = 0; i < len; i++)
    {
      float *restrict out = buf + (size_t) i * stride;
      const float *restrict in = tmp + (size_t) i * n;
      memset (out, 0, (size_t) n * sizeof *out);
      for (int t = 0; t <= 2 * r; t++)
        axpy (out, in + (size_t) t * n, k[t], n);
    }
}

int
ln_gauss (LnVol *v, const double sigma_mm[3])
{
  const int nx = v->nx, ny = v->ny, nz = v->nz;
  const size_t plane = (size_t) nx * ny;
  for (int axis = 0; axis < 3; axis++)
    {
      double s = sigma_mm[axis] / v->sp[axis];
      int len = axis == 0 ? nx : axis == 1 ? ny : nz;
      if (s < 0.1 || len < 2)
        continue;
      float *k = NULL;
      int r = gauss_kernel (s, &k);
      if (r < 0)
        return -1;
      if (axis == 0)
        {
          /* Along x: one line at a time, through a padded copy; the
           * taps outside, the pixels inside, so that it vectorises. */
          float *restrict line = malloc ((size_t) (nx + 2 * r) * sizeof *line);
          float *restrict acc = malloc ((size_t) nx * sizeof *acc);
          if (line == NULL || acc == NULL)
            {
              free (line);
              free (acc);
              free (k);
              return -1;
            }
          for (size_t l = 0; l < (size_t) ny * nz; l++)
            {
              float *p = v->v + l * nx;
              for (int i = 0; i < r; i++)
                {
                  line[i] = p[0];
                  line[nx + r + i] = p[nx - 1];
                }
              memcpy (line + r, p, (size_t) nx * sizeof *line);
              memset (acc, 0, (size_t) nx * sizeof *acc);
              for (int t = 0; t <= 2 * r; t++)
                axpy (acc, line + t, k[t], nx);
              memcpy (p, acc, (size_t) nx * sizeof *acc);
            }
          free (line);
          free (acc);
        }
      else if (axis == 1)
        {
          /* Along y: one plane at a time, all x together. */
          float *tmp = malloc ((size_t) (ny + 2 * r) * nx * sizeof *tmp);
          if (tmp == NULL)
            {
              free (k);
              return -1;
            }
          for (int z = 0; z < nz; z++)
            convolve_lines (v->v + z * plane, ny, nx, (size_t) nx, k, r, tmp);
          free (tmp);
        }
      else
        {
          /* Along z: one xz-slab (fixed y) at a time, gathered so that
           * adjacent x stay adjacent. */
          float *slab = malloc ((size_t) nz * nx * sizeof *slab);
          float *tmp = malloc ((size_t) (nz + 2 * r) * nx * sizeof *tmp);
          if (slab == NULL || tmp == NULL)
            {
              free (slab);
              free (tmp);
              free (k);
              return -1;
            }
          for (int y = 0; y < ny; y++)
            {
              for (int z = 0; z < nz; z++)
                memcpy (slab + (size_t) z * nx, v->v + z * plane + (size_t) y * nx, (size_t) nx * sizeof *slab);
              convolve_lines (slab, nz, nx, (size_t) nx, k, r, tmp);
              for (int z = 0; z < nz; z++)
                memcpy (v->v + z * plane + (size_t) y * nx, slab + (size_t) z * nx, (size_t) nx * sizeof *slab);
            }
          free (slab);
          free (tmp);
        }
      free (k);
    }
  return 0;
}

/* ---- downsampling ------------------------------------------------------------- */

int
ln_downsample (const LnVol *in, const int f[3], LnVol *out)
{
  int nx = (in->nx + f[0] - 1) / f[0], ny = (in->ny + f[1] - 1) / f[1], nz = (in->nz + f[2] - 1) / f[2];
  double sp[3] = { in->sp[0] * f[0], in->sp[1] * f[1], in->sp[2] * f[2] };
  if (ln_vol_alloc (out, nx, ny, nz, sp) != 0)
    return -1;
  /* Block sums, row by row (no division per voxel: this runs over whole
   * scans), then each block divided by how many voxels it really had (the
   * last block of an axis may be short). */
  for (int Z = 0; Z < nz; Z++)
    {
      float *o = out->v + (size_t) Z * nx * ny;
      int z1 = (Z + 1) * f[2] < in->nz ? (Z + 1) * f[2] : in->nz;
      for (int z = Z * f[2]; z < z1; z++)
        for (int Y = 0; Y < ny; Y++)
          {
            int y1 = (Y + 1) * f[1] < in->ny ? (Y + 1) * f[1] : in->ny;
            float *orow = o + (size_t) Y * nx;
            for (int y = Y * f[1]; y < y1; y++)
              {
                const float *p = in->v + LN_IDX (in, 0, y, z);
                int x = 0;
                for (int X = 0; X < nx; X++)
                  {
                    int x1 = x + f[0] < in->nx ? x + f[0] : in->nx;
                    float sum = 0;
                    for (; x < x1; x++)
                      sum += p[x];
                    orow[X] += sum;
                  }
              }
          }
      int cz = z1 - Z * f[2];
      for (int Y = 0; Y < ny; Y++)
        {
          int cy = ((Y + 1) * f[1] < in->ny ? (Y + 1) * f[1] : in->ny) - Y * f[1];
          float *orow = o + (size_t) Y * nx;
          for (int X = 0; X < nx; X++)
            {
              int cx = ((X + 1) * f[0] < in->nx ? (X + 1) * f[0] : in->nx) - X * f[0];
              orow[X] /= (float) (cx * cy * cz);
            }
        }
    }
  return 0;
}

/* ---- distance transform ------------------------------------------------------ */

#define LN_FAR 1e20f

/* One dimension of the lower-envelope transform: @f in, @d out (may not
 * alias), spacing @s. @v and @zz are scratch of n and n + 1 entries. */
static void
edt_1d (const float *f, float *d, int n, double s, int *v, float *zz)
{
  const double s2 = s * s;
  /* Lines all inside or all without features are common: nothing to do. */
  int zeros = 1;
  for (int q = 0; q < n && zeros; q++)
    zeros = f[q] == 0.0f;
  if (zeros)
    {
      memset (d, 0, (size_t) n * sizeof *d);
      return;
    }
  int k = 0;
  int first = -1;
  for (int q = 0; q < n; q++)
    if (f[q] < LN_FAR)
      {
        first = q;
        break;
      }
  if (first < 0)
    {
      for (int q = 0; q < n; q++)
        d[q] = LN_FAR;
      return;
    }
  v[0] = first;
  zz[0] = -LN_FAR;
  zz[1] = LN_FAR;
  for (int q = first + 1; q < n; q++)
    {
      if (f[q] >= LN_FAR)
        continue;
      double sq;
      for (;;)
        {
          int p = v[k];
          sq = ((f[q] + s2 * q * q) - (f[p] + s2 * (double) p * p)) / (2.0 * s2 * (q - p));
          if (sq <= zz[k] && k > 0)
            k--;
          else
            break;
        }
      if (sq <= zz[k])
        {
          /* k == 0 and the new parabola dominates from the start */
          v[0] = q;
          zz[0] = -LN_FAR;
          zz[1] = LN_FAR;
          continue;
        }
      k++;
      v[k] = q;
      zz[k] = (float) sq;
      zz[k + 1] = LN_FAR;
    }
  k = 0;
  for (int q = 0; q < n; q++)
    {
      while (zz[k + 1] < q)
        k++;
      double dq = (double) (q - v[k]);
      d[q] = (float) (s2 * dq * dq + f[v[k]]);
    }
}

int
ln_edt_sq (const LnMask *mask, float *out)
{
  const int nx = mask->nx, ny = mask->ny, nz = mask->nz;
  int nmax = nx > ny ? nx : ny;
  nmax = nmax > nz ? nmax : nz;
  float *f = malloc ((size_t) nmax * sizeof *f), *d = malloc ((size_t) nmax * sizeof *d);
  float *zz = malloc ((size_t) (nmax + 1) * sizeof *zz);
  int *v = malloc ((size_t) nmax * sizeof *v);
  if (f == NULL || d == NULL || zz == NULL || v == NULL)
    {
      free (f);
      free (d);
      free (zz);
      free (v);
      return -1;
    }
  size_t total = LN_COUNT (mask);
  for (size_t i = 0; i < total; i++)
    out[i] = mask->v[i] ? 0.0f : LN_FAR;
  const size_t plane = (size_t) nx * ny;
  /* x */
  for (size_t l = 0; l < (size_t) ny * nz; l++)
    {
      float *p = out + l * nx;
      memcpy (f, p, (size_t) nx * sizeof *f);
      edt_1d (f, p, nx, mask->sp[0], v, zz);
    }
  /* y */
  for (int z = 0; z < nz; z++)
    for (int x = 0; x < nx; x++)
      {
        float *p = out + z * plane + x;
        for (int y = 0; y < ny; y++)
          f[y] = p[(size_t) y * nx];
        edt_1d (f, d, ny, mask->sp[1], v, zz);
        for (int y = 0; y < ny; y++)
          p[(size_t) y * nx] = d[y];
      }
  /* z */
  if (nz > 1)
    for (size_t i = 0; i < plane; i++)
      {
        float *p = out + i;
        for (int z = 0; z < nz; z++)
          f[z] = p[z * plane];
        edt_1d (f, d, nz, mask->sp[2], v, zz);
        for (int z = 0; z < nz; z++)
          p[z * plane] = d[z];
      }
  free (f);
  free (d);
  free (zz);
  free (v);
  return 0;
}

/* ---- connected components ------------------------------------------------------ */

static int32_t
uf_find (int32_t *parent, int32_t a)
{
  while (parent[a] != a)
    {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
  return a;
}

static void
uf_union (int32_t *parent, int32_t a, int32_t b)
{
  a = uf_find (parent, a);
  b = uf_find (parent, b);
  if (a < b)
    parent[b] = a;
  else if (b < a)
    parent[a] = b;
}

int
ln_label (const LnMask *mask, int connectivity, int32_t *labels, size_t **sizes)
{
  const int nx = mask->nx, ny = mask->ny, nz = mask->nz;
  size_t cap = 1024;
  int32_t *parent = malloc (cap * sizeof *parent);
  if (parent == NULL)
    return -1;
  parent[0] = 0;
  int32_t next = 1;
  /* Raster scan: the already visited neighbours (half of the 6 or 26). */
  int offs[13][3];
  int n_offs = 0;
  for (int dz = -1; dz <= 0; dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++)
        {
          if (dz == 0 && (dy > 0 || (dy == 0 && dx >= 0)))
            continue;
          int manhattan = abs (dx) + abs (dy) + abs (dz);
          if (connectivity == 6 && manhattan != 1)
            continue;
          offs[n_offs][0] = dx;
          offs[n_offs][1] = dy;
          offs[n_offs][2] = dz;
          n_offs++;
        }
  for (int z = 0; z < nz; z++)
    for (int y = 0; y < ny; y++)
      for (int x = 0; x < nx; x++)
        {
          size_t i = LN_IDX (mask, x, y, z);
          labels[i] = 0;
          if (!mask->v[i])
            continue;
          int32_t found = 0;
          for (int o = 0; o < n_offs; o++)
            {
              int X = x + offs[o][0], Y = y + offs[o][1], Z = z + offs[o][2];
              if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny)
                continue;
              int32_t l = labels[LN_IDX (mask, X, Y, Z)];
              if (l == 0)
                continue;
              if (found == 0)
                found = l;
              else if (l != found)
                uf_union (parent, found, l);
            }
          if (found == 0)
            {
              if ((size_t) next >= cap)
                {
                  cap *= 2;
                  int32_t *grown = realloc (parent, cap * sizeof *parent);
                  if (grown == NULL)
                    {
                      free (parent);
                      return -1;
                    }
                  parent = grown;
                }
              parent[next] = next;
              found = next++;
            }
          labels[i] = found;
        }
  /* Resolve to consecutive final labels. */
  int32_t *final = calloc ((size_t) next, sizeof *final);
  if (final == NULL)
    {
      free (parent);
      return -1;
    }
  int32_t n = 0;
  for (int32_t l = 1; l < next; l++)
    {
      int32_t root = uf_find (parent, l);
      if (final[root] == 0)
        final[root] = ++n;
      final[l] = final[root];
    }
  size_t *count = calloc ((size_t) n + 1, sizeof *count);
  if (count == NULL)
    {
      free (parent);
      free (final);
      return -1;
    }
  size_t total = LN_COUNT (mask);
  for (size_t i = 0; i < total; i++)
    if (labels[i])
      {
        labels[i] = final[labels[i]];
        count[labels[i]]++;
      }
  free (parent);
  free (final);
  if (sizes != NULL)
    *sizes = count;
  else
    free (count);
  return n;
}

/* ---- per-slice flood fills ---------------------------------------------------- */

int
ln_flood_border_2d (const LnMask *mask, LnMask *out)
{
  const int nx = mask->nx, ny = mask->ny;
  const size_t plane = (size_t) nx * ny;
  int32_t *queue = malloc (plane * sizeof *queue);
  if (queue == NULL)
    return -1;
  for (int z = 0; z < mask->nz; z++)
    {
      const uint8_t *m = mask->v + z * plane;
      uint8_t *o = out->v + z * plane;
      memset (o, 0, plane);
      size_t head = 0, tail = 0;
      for (int x = 0; x < nx; x++)
        for (int e = 0; e < 2; e++)
          {
            int y = e ? ny - 1 : 0;
            size_t i = (size_t) y * nx + x;
            if (!m[i] && !o[i])
              {
                o[i] = 1;
                queue[tail++] = (int32_t) i;
              }
          }
      for (int y = 0; y < ny; y++)
        for (int e = 0; e < 2; e++)
          {
            int x = e ? nx - 1 : 0;
            size_t i = (size_t) y * nx + x;
            if (!m[i] && !o[i])
              {
                o[i] = 1;
                queue[tail++] = (int32_t) i;
              }
          }
      while (head < tail)
        {
          int32_t i = queue[head++];
          int x = i % nx, y = i / nx;
          int32_t nb[4] = { x > 0 ? i - 1 : -1, x < nx - 1 ? i + 1 : -1, y > 0 ? i - nx : -1,
                            y < ny - 1 ? i + nx : -1 };
          for (int k = 0; k < 4; k++)
            if (nb[k] >= 0 && !m[nb[k]] && !o[nb[k]])
              {
                o[nb[k]] = 1;
                queue[tail++] = nb[k];
              }
        }
    }
  free (queue);
  return 0;
}

int
ln_fill_holes_2d (LnMask *mask)
{
  LnMask outside;
  if (ln_mask_alloc (&outside, mask->nx, mask->ny, mask->nz, mask->sp) != 0)
    return -1;
  if (ln_flood_border_2d (mask, &outside) != 0)
    {
      ln_mask_free (&outside);
      return -1;
    }
  size_t total = LN_COUNT (mask);
  for (size_t i = 0; i < total; i++)
    if (!mask->v[i] && !outside.v[i])
      mask->v[i] = 1;
  ln_mask_free (&outside);
  return 0;
}

/* ---- morphology with a ball, through the distance transform ---------------------- */

/* The bounding box of @m's set voxels grown by @grow_mm (plus two voxels),
 * clipped; 0 when @m is empty. */
static int
grown_box (const LnMask *m, double grow_mm, int lo[3], int hi[3])
{
  int dims[3] = { m->nx, m->ny, m->nz };
  for (int a = 0; a < 3; a++)
    {
      lo[a] = dims[a];
      hi[a] = -1;
    }
  for (int z = 0; z < m->nz; z++)
    for (int y = 0; y < m->ny; y++)
      {
        const uint8_t *row = m->v + LN_IDX (m, 0, y, z);
        for (int x = 0; x < m->nx; x++)
          if (row[x])
            {
              int c[3] = { x, y, z };
              for (int a = 0; a < 3; a++)
                {
                  lo[a] = c[a] < lo[a] ? c[a] : lo[a];
                  hi[a] = c[a] > hi[a] ? c[a] : hi[a];
                }
            }
      }
  if (hi[0] < 0)
    return 0;
  for (int a = 0; a < 3; a++)
    {
      int g = (int) ceil (grow_mm / m->sp[a]) + 2;
      lo[a] = lo[a] - g < 0 ? 0 : lo[a] - g;
      hi[a] = hi[a] + g + 1 > dims[a] ? dims[a] : hi[a] + g + 1;
    }
  return 1;
}

/* Dilation (@close 0) or closing (@close 1) of @in by a ball of @radius
 * mm into @out (which may be @in), computed only within @in's bounding box
 * grown by the radius: nothing outside it can change. */
static int
ball_op (const LnMask *in, double radius, int close, LnMask *out)
{
  int lo[3], hi[3];
  if (!grown_box (in, radius, lo, hi))
    {
      if (out != in)
        memset (out->v, 0, LN_COUNT (out));
      return 0;
    }
  LnMask crop;
  if (ln_mask_alloc (&crop, hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], in->sp) != 0)
    return -1;
  float *d = malloc (LN_COUNT (&crop) * sizeof *d);
  if (d == NULL)
    {
      ln_mask_free (&crop);
      return -1;
    }
  for (int z = 0; z < crop.nz; z++)
    for (int y = 0; y < crop.ny; y++)
      memcpy (crop.v + LN_IDX (&crop, 0, y, z), in->v + LN_IDX (in, lo[0], lo[1] + y, lo[2] + z), (size_t) crop.nx);
  const size_t n = LN_COUNT (&crop);
  const float r2 = (float) (radius * radius);
  int rc = ln_edt_sq (&crop, d);
  for (size_t i = 0; i < n && rc == 0; i++)
    crop.v[i] = d[i] <= r2;
  if (close && rc == 0)
    {
      /* erosion of the dilation: far enough from everything outside it */
      for (size_t i = 0; i < n; i++)
        crop.v[i] = !crop.v[i];
      rc = ln_edt_sq (&crop, d);
      for (size_t i = 0; i < n && rc == 0; i++)
        crop.v[i] = d[i] > r2;
    }
  if (rc == 0)
    {
      if (out != in)
        memset (out->v, 0, LN_COUNT (out));
      for (int z = 0; z < crop.nz; z++)
        for (int y = 0; y < crop.ny; y++)
          {
            uint8_t *o = out->v + LN_IDX (out, lo[0], lo[1] + y, lo[2] + z);
            const uint8_t *c = crop.v + LN_IDX (&crop, 0, y, z);
            if (close)
              for (int x = 0; x < crop.nx; x++)
                o[x] = c[x] || o[x];
            else
              memcpy (o, c, (size_t) crop.nx);
          }
    }
  free (d);
  ln_mask_free (&crop);
  return rc;
}

int
ln_dilate_ball (const LnMask *in, double radius, LnMask *out)
{
  return ball_op (in, radius, 0, out);
}

int
ln_close_ball (const LnMask *in, double radius, LnMask *out)
{
  return ball_op (in, radius, 1, out);
}
