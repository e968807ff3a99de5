/*
 * ln_outline.c: the outline of a nodule on its key slice, and its axes.
 *
 * Marching squares on the slice's intensity (scaled so that the
 * segmentation threshold is the level 0.5), with every pixel outside the
 * nodule's region forced below the level: the polygon then follows the
 * half-contrast edge with sub-pixel accuracy where the nodule meets
 * parenchyma, and the segmentation's cut where it meets a vessel or the
 * chest wall. The long axis is the longest chord, the short axis the
 * longest chord perpendicular to it: Lung-RADS v2022's mean diameter is
 * their average on the slice where the nodule is largest.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ln_nodule.h"

typedef struct {
  float x[2], y[2];
  int32_t edge[2];              /* the cell edges the ends lie on */
  int used;
} Segment;

/* Value at padded pixel (i, j) (the padding ring is outside). */
static float
value_at (const uint8_t *inside, const float *field, int w, int h, int i, int j)
{
  int x = i - 1, y = j - 1;
  if (x < 0 || y < 0 || x >= w || y >= h)
    return 0.0f;
  size_t k = (size_t) y * w + x;
  if (!inside[k])
    {
      float v = field ? field[k] : 0.0f;
      return v < 0.4999f ? v : 0.4999f;
    }
  float v = field ? field[k] : 1.0f;
  return v > 0.5f ? v : 0.5f;
}

int
ln_outline (const uint8_t *inside, const float *field, int w, int h, float **points)
{
  *points = NULL;
  const int W = w + 2, H = h + 2;
  float *val = malloc ((size_t) W * H * sizeof *val);
  Segment *seg = malloc ((size_t) (W * H * 2 + 1) * sizeof *seg);
  int32_t *first = malloc ((size_t) W * H * 2 * sizeof *first), *second = malloc ((size_t) W * H * 2 * sizeof *second);
  float *loop = NULL, *best = NULL;
  int n_seg = 0, best_n = 0;
  double best_area = 0;
  if (val == NULL || seg == NULL || first == NULL || second == NULL)
    goto out;
  for (int j = 0; j < H; j++)
    for (int i = 0; i < W; i++)
      val[(size_t) j * W + i] = value_at (inside, field, w, h, i, j);
  for (size_t k = 0; k < (size_t) W * H * 2; k++)
    first[k] = second[k] = -1;

  /* Edge ids: horizontal edge from (i, j) to (i+1, j) is 2 (j W + i), the
   * vertical one from (i, j) to (i, j+1) is 2 (j W + i) + 1. */
  for (int j = 0; j + 1 < H; j++)
    for (int i = 0; i + 1 < W; i++)
      {
        float a = val[(size_t) j * W + i], b = val[(size_t) j * W + i + 1];
        float c = val[(size_t) (j + 1) * W + i + 1], d = val[(size_t) (j + 1) * W + i];
        int code = (a >= 0.5f) | (b >= 0.5f) << 1 | (c >= 0.5f) << 2 | (d >= 0.5f) << 3;
        if (code == 0 || code == 15)
          continue;
        /* crossing points on the four edges: top (a-b), right (b-c), bottom (d-c), left (a-d) */
        float px[4], py[4];
        int32_t id[4] = { 2 * (j * W + i), 2 * (j * W + i + 1) + 1, 2 * ((j + 1) * W + i), 2 * (j * W + i) + 1 };
        float t;
        t = (0.5f - a) / (b - a);
        px[0] = i + t, py[0] = (float) j;
        t = (0.5f - b) / (c - b);
        px[1] = (float) (i + 1), py[1] = j + t;
        t = (0.5f - d) / (c - d);
        px[2] = i + t, py[2] = (float) (j + 1);
        t = (0.5f - a) / (d - a);
        px[3] = (float) i, py[3] = j + t;
        /* pairs of crossed edges per case; saddles by the cell's mean */
        int pairs[2][2], np = 0;
        float mean = (a + b + c + d) / 4;
        switch (code)
          {
          case 1: case 14: pairs[0][0] = 3, pairs[0][1] = 0, np = 1; break;
          case 2: case 13: pairs[0][0] = 0, pairs[0][1] = 1, np = 1; break;
          case 3: case 12: pairs[0][0] = 3, pairs[0][1] = 1, np = 1; break;
          case 4: case 11: pairs[0][0] = 1, pairs[0][1] = 2, np = 1; break;
          case 6: case 9: pairs[0][0] = 0, pairs[0][1] = 2, np = 1; break;
          case 7: case 8: pairs[0][0] = 3, pairs[0][1] = 2, np = 1; break;
          case 5:
            if (mean >= 0.5f)
              pairs[0][0] = 3, pairs[0][1] = 2, pairs[1][0] = 0, pairs[1][1] = 1;
            else
              pairs[0][0] = 3, pairs[0][1] = 0, pairs[1][0] = 1, pairs[1][1] = 2;
            np = 2;
            break;
          case 10:
            if (mean >= 0.5f)
              pairs[0][0] = 3, pairs[0][1] = 0, pairs[1][0] = 1, pairs[1][1] = 2;
            else
              pairs[0][0] = 0, pairs[0][1] = 1, pairs[1][0] = 3, pairs[1][1] = 2;
            np = 2;
            break;
          default: break;
          }
        for (int p = 0; p < np; p++)
          {
            Segment *s = &seg[n_seg];
            for (int e = 0; e < 2; e++)
              {
                int k = pairs[p][e];
                s->x[e] = px[k];
                s->y[e] = py[k];
                s->edge[e] = id[k];
                if (first[id[k]] < 0)
                  first[id[k]] = n_seg;
                else
                  second[id[k]] = n_seg;
              }
            s->used = 0;
            n_seg++;
          }
      }

  /* Chain segments into closed loops; keep the one enclosing most area. */
  loop = malloc ((size_t) (n_seg + 1) * 2 * sizeof *loop);
  if (loop == NULL)
    goto out;
  for (int s0 = 0; s0 < n_seg; s0++)
    {
      if (seg[s0].used)
        continue;
      int n = 0, s = s0, end = 1;
      int32_t start_edge = seg[s0].edge[0];
      loop[2 * n] = seg[s0].x[0];
      loop[2 * n + 1] = seg[s0].y[0];
      n++;
      for (;;)
        {
          seg[s].used = 1;
          int32_t e = seg[s].edge[end];
          if (e == start_edge)
            break;
          loop[2 * n] = seg[s].x[end];
          loop[2 * n + 1] = seg[s].y[end];
          n++;
          int next = first[e] == s ? second[e] : first[e];
          if (next < 0 || seg[next].used)
            break;
          end = seg[next].edge[0] == e ? 1 : 0;
          s = next;
        }
      double area = 0;
      for (int k = 0; k < n; k++)
        {
          int l = (k + 1) % n;
          area += (double) loop[2 * k] * loop[2 * l + 1] - (double) loop[2 * l] * loop[2 * k + 1];
        }
      area = fabs (area) / 2;
      if (n >= 3 && area > best_area)
        {
          free (best);
          best = malloc ((size_t) n * 2 * sizeof *best);
          if (best == NULL)
            goto out;
          memcpy (best, loop, (size_t) n * 2 * sizeof *best);
          best_n = n;
          best_area = area;
        }
    }
  /* Padded cell coordinates to pixel coordinates: padded pixel centre i
   * is pixel i - 1, whose centre is at i - 1 + 0.5. */
  for (int k = 0; k < best_n; k++)
    {
      best[2 * k] -= 0.5f;
      best[2 * k + 1] -= 0.5f;
    }
  *points = best;
  best = NULL;
out:
  free (val);
  free (seg);
  free (first);
  free (second);
  free (loop);
  free (best);
  return *points ? best_n : 0;
}

void
ln_axes (const float *p, int n, double sx, double sy, double *long_mm, double *short_mm, float axes[8])
{
  *long_mm = *short_mm = 0;
  memset (axes, 0, 8 * sizeof *axes);
  if (n < 3)
    return;
  int a = 0, b = 1;
  double best = -1;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      {
        double dx = (p[2 * i] - p[2 * j]) * sx, dy = (p[2 * i + 1] - p[2 * j + 1]) * sy;
        double d = dx * dx + dy * dy;
        if (d > best)
          {
            best = d;
            a = i;
            b = j;
          }
      }
  *long_mm = sqrt (best);
  axes[0] = p[2 * a], axes[1] = p[2 * a + 1], axes[2] = p[2 * b], axes[3] = p[2 * b + 1];
  if (*long_mm <= 0)
    return;
  /* In mm: u along the long axis, v across. */
  double ux = (p[2 * b] - p[2 * a]) * sx / *long_mm, uy = (p[2 * b + 1] - p[2 * a + 1]) * sy / *long_mm;
  double vx = -uy, vy = ux;
  double ox = p[2 * a] * sx, oy = p[2 * a + 1] * sy;
  double *cross = malloc ((size_t) n * sizeof *cross);
  if (cross == NULL)
    return;
  const int steps = 256;
  for (int k = 1; k < steps; k++)
    {
      double s0 = *long_mm * k / steps;
      int m = 0;
      for (int i = 0; i < n; i++)
        {
          int j = (i + 1) % n;
          double xi = p[2 * i] * sx - ox, yi = p[2 * i + 1] * sy - oy;
          double xj = p[2 * j] * sx - ox, yj = p[2 * j + 1] * sy - oy;
          double si = xi * ux + yi * uy, sj = xj * ux + yj * uy;
          if ((si < s0) == (sj < s0) || si == sj)
            continue;
          double t = (s0 - si) / (sj - si);
          double ti = xi * vx + yi * vy, tj = xj * vx + yj * vy;
          cross[m++] = ti + t * (tj - ti);
        }
      /* sort the crossings; inside runs are [0,1], [2,3], ... */
      for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && cross[j - 1] > cross[j]; j--)
          {
            double t = cross[j];
            cross[j] = cross[j - 1];
            cross[j - 1] = t;
          }
      for (int i = 0; i + 1 < m; i += 2)
        if (cross[i + 1] - cross[i] > *short_mm)
          {
            *short_mm = cross[i + 1] - cross[i];
            double cx = ox + s0 * ux, cy = oy + s0 * uy;
            axes[4] = (float) ((cx + cross[i] * vx) / sx);
            axes[5] = (float) ((cy + cross[i] * vy) / sy);
            axes[6] = (float) ((cx + cross[i + 1] * vx) / sx);
            axes[7] = (float) ((cy + cross[i + 1] * vy) / sy);
          }
    }
  free (cross);
}
