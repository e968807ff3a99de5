/*
 * ln_series.c: which series to read, and its geometry.
 *
 * A route usually hands over the thinnest axial series, but a study may
 * arrive whole: scouts, soft-tissue and lung reconstructions, thick and thin
 * slices, sometimes another body part. Nodules are found best on the
 * thinnest axial CT with a sharp (lung) kernel, so that is what we pick,
 * and we say why when nothing fits.
 *
 * The host sorts slices along their normal; we still check the spacing
 * (missing or uneven slices) and the stacking direction (gantry tilt), and
 * resample to a regular, orthogonal grid when either is off, so that every
 * later stage can work in millimetres without special cases. The source
 * slice geometry is kept to map results back onto the images.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ln_series.h"

/* ---- attributes ---------------------------------------------------------------- */

static int
parse_doubles (const char *text, double *out, int max)
{
  int n = 0;
  while (text != NULL && *text && n < max)
    {
      char *end = NULL;
      double v = strtod (text, &end);
      if (end == text)
        break;
      out[n++] = v;
      text = end;
      while (*text == '\\' || *text == ' ')
        text++;
    }
  return n;
}

static void
upper_copy (const char *in, char *out, size_t len)
{
  size_t i = 0;
  for (; in != NULL && in[i] && i + 1 < len; i++)
    out[i] = (char) toupper ((unsigned char) in[i]);
  out[i] = '\0';
}

static int
contains_any (const char *upper, const char *const *words)
{
  for (; *words; words++)
    if (strstr (upper, *words) != NULL)
      return 1;
  return 0;
}

/* Words that put a series in the chest (or a region that includes it). */
static const char *const chest_words[] = { "CHEST", "THORA", "TORAX", "LUNG", "PULM", "TORSO", "TRUNK",
                                           "WHOLEBODY", "WHOLE BODY", "WHOLE_BODY", NULL };
/* Body parts that are not the chest, when nothing mentions the chest. */
static const char *const other_words[] = { "HEAD", "BRAIN", "SKULL", "NECK", "SINUS", "ABDOMEN", "PELVIS",
                                           "KNEE", "ANKLE", "FOOT", "HAND", "WRIST", "ELBOW", "SHOULDER",
                                           "HIP", "SPINE", "LSPINE", "CSPINE", "EXTREMITY", "LEG", "ARM",
                                           "CARDIAC", "HEART", "CORONARY", NULL };

enum { REGION_OTHER = -1, REGION_UNKNOWN = 0, REGION_CHEST = 1 };

/* The body region a series shows, by its DICOM description. The image
 * content decides later when nothing is said. */
static int
body_region (const PrereadHost *host, PrereadJob *job, size_t series, char *named, size_t named_len)
{
  const char *texts[] = { host->series_attribute (job, series, "BodyPartExamined"),
                          host->study_attribute (job, "StudyDescription"),
                          host->series_attribute (job, series, "SeriesDescription"),
                          host->series_attribute (job, series, "ProtocolName") };
  char upper[256];
  named[0] = '\0';
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    {
      upper_copy (texts[i], upper, sizeof upper);
      if (contains_any (upper, chest_words))
        return REGION_CHEST;
    }
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    {
      upper_copy (texts[i], upper, sizeof upper);
      if (upper[0] == '\0')
        continue;
      /* An explicit BodyPartExamined that is not the chest is enough. */
      if (i == 0 || contains_any (upper, other_words))
        {
          snprintf (named, named_len, "%s", texts[i]);
          return REGION_OTHER;
        }
    }
  return REGION_UNKNOWN;
}

int
ln_kernel_score (const char *kernel)
{
  char k[64];
  upper_copy (kernel, k, sizeof k);
  if (k[0] == '\0')
    return 0;
  if (strstr (k, "LUNG") != NULL || strcmp (k, "L") == 0 || strncmp (k, "YC", 2) == 0 || strncmp (k, "YD", 2) == 0)
    return 2;
  if (strstr (k, "BONE") != NULL || strstr (k, "SHARP") != NULL || strstr (k, "EDGE") != NULL ||
      strstr (k, "DETAIL") != NULL)
    return 1;
  /* Siemens B/Br/Bl/I/Hr NN, Canon FC NN: the number is the sharpness. */
  const char *digits = k;
  while (*digits && !isdigit ((unsigned char) *digits))
    digits++;
  if (*digits)
    {
      int n = atoi (digits);
      if (strncmp (k, "FC", 2) == 0)
        return (n >= 50 && n < 60) || (n >= 80 && n < 90) ? 2 : 0;
      if (n >= 60)
        return 2;
      if (n >= 50)
        return 1;
    }
  return 0;
}

static double
series_thickness (const PrereadHost *host, PrereadJob *job, size_t series)
{
  double t = 0;
  const char *thick = host->series_attribute (job, series, "SliceThickness");
  const char *spacing = host->series_attribute (job, series, "SpacingBetweenSlices");
  if (thick == NULL || parse_doubles (thick, &t, 1) != 1 || t <= 0)
    if (spacing == NULL || parse_doubles (spacing, &t, 1) != 1 || t <= 0)
      t = 0;
  return t;
}

void
ln_series_describe (const PrereadHost *host, PrereadJob *job, int index, char *out, size_t out_len)
{
  const char *desc = host->series_attribute (job, (size_t) index, "SeriesDescription");
  const char *kernel = host->series_attribute (job, (size_t) index, "ConvolutionKernel");
  const char *number = host->series_attribute (job, (size_t) index, "SeriesNumber");
  double t = series_thickness (host, job, (size_t) index);
  snprintf (out, out_len, "series %s '%s', kernel %s, %.2g mm slices, %zu images", number ? number : "?",
            desc ? desc : "", kernel ? kernel : "unknown", t, host->n_instances (job, (size_t) index));
}

typedef struct {
  int index;
  int region;
  double thickness;
  int kernel;
  size_t images;
} Ranked;

static int
compare_ranked (const void *pa, const void *pb)
{
  const Ranked *a = pa, *b = pb;
  if (a->region != b->region)
    return b->region - a->region;
  /* Thickness within a quarter millimetre counts as equal. */
  double ta = a->thickness > 0 ? a->thickness : 99, tb = b->thickness > 0 ? b->thickness : 99;
  if (fabs (ta - tb) > 0.25)
    return ta < tb ? -1 : 1;
  if (a->kernel != b->kernel)
    return b->kernel - a->kernel;
  if (a->images != b->images)
    return a->images > b->images ? -1 : 1;
  return a->index - b->index;
}

/* Appends one reason to @why, "; "-separated. */
static void
append (char *why, size_t why_len, const char *text)
{
  size_t used = strlen (why);
  if (used + 2 >= why_len)
    return;
  if (used > 0)
    {
      snprintf (why + used, why_len - used, "; ");
      used += 2;
    }
  snprintf (why + used, why_len - used, "%s", text);
}

int
ln_series_rank (const PrereadHost *host, PrereadJob *job, double max_thickness, int *order, char *why,
                size_t why_len)
{
  size_t n = host->n_series (job);
  Ranked *r = calloc (n > 0 ? n : 1, sizeof *r);
  if (r == NULL)
    return 0;
  int kept = 0;
  why[0] = '\0';
  for (size_t i = 0; i < n; i++)
    {
      char label[64];
      const char *number = host->series_attribute (job, i, "SeriesNumber");
      snprintf (label, sizeof label, "series %s", number ? number : "?");
      const char *modality = host->series_attribute (job, i, "Modality");
      if (modality == NULL || strcmp (modality, "CT") != 0)
        {
          char what[96];
          snprintf (what, sizeof what, "%s is %s, not CT", label, modality ? modality : "of unknown modality");
          append (why, why_len, what);
          continue;
        }
      const char *type = host->series_attribute (job, i, "ImageType");
      char upper[256];
      upper_copy (type, upper, sizeof upper);
      if (strstr (upper, "LOCALIZER") != NULL)
        {
          {
          char what[128];
          snprintf (what, sizeof what, "%s is a localizer", label);
          append (why, why_len, what);
        }
          continue;
        }
      double iop[6];
      const char *orientation = host->series_attribute (job, i, "ImageOrientationPatient");
      if (orientation == NULL || parse_doubles (orientation, iop, 6) != 6)
        {
          {
          char what[128];
          snprintf (what, sizeof what, "%s has no image orientation", label);
          append (why, why_len, what);
        }
          continue;
        }
      /* The normal's z component: 1 for axial slices. */
      double nz = iop[0] * iop[4] - iop[1] * iop[3];
      if (fabs (nz) < 0.8)
        {
          {
          char what[128];
          snprintf (what, sizeof what, "%s is not axial", label);
          append (why, why_len, what);
        }
          continue;
        }
      char named[128];
      int region = body_region (host, job, i, named, sizeof named);
      if (region == REGION_OTHER)
        {
          char what[256];
          snprintf (what, sizeof what, "%s shows the %s, not the chest", label, named);
          append (why, why_len, what);
          continue;
        }
      double t = series_thickness (host, job, i);
      if (t > max_thickness)
        {
          char what[128];
          snprintf (what, sizeof what, "%s has %.3g mm slices (at most %.3g mm are usable)", label, t, max_thickness);
          append (why, why_len, what);
          continue;
        }
      if (host->n_instances (job, i) < 2)
        {
          {
          char what[128];
          snprintf (what, sizeof what, "%s is a single image, not a volume", label);
          append (why, why_len, what);
        }
          continue;
        }
      r[kept].index = (int) i;
      r[kept].region = region;
      r[kept].thickness = t;
      r[kept].kernel = ln_kernel_score (host->series_attribute (job, i, "ConvolutionKernel"));
      r[kept].images = host->n_instances (job, i);
      kept++;
    }
  if (n == 0)
    snprintf (why, why_len, "no series selected");
  qsort (r, (size_t) kept, sizeof *r, compare_ranked);
  for (int i = 0; i < kept; i++)
    order[i] = r[i].index;
  free (r);
  return kept;
}

/* ---- geometry ------------------------------------------------------------------- */

typedef struct {
  const char *uid;
  size_t instance;
} UidIndex;

static int
compare_uid (const void *a, const void *b)
{
  return strcmp (((const UidIndex *) a)->uid, ((const UidIndex *) b)->uid);
}

/* Per-slice ImagePositionPatient, through the instance each slice comes
 * from: the volume has one origin, and a tilted stack needs every slice's. */
static int
slice_positions_3d (const PrereadHost *host, PrereadJob *job, int series, uint32_t slices, double (*ipp)[3])
{
  size_t n = host->n_instances (job, (size_t) series);
  UidIndex *map = calloc (n > 0 ? n : 1, sizeof *map);
  if (map == NULL)
    return -1;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    {
      const char *uid = host->instance_attribute (job, (size_t) series, i, "SOPInstanceUID");
      if (uid != NULL)
        {
          map[m].uid = uid;
          map[m].instance = i;
          m++;
        }
    }
  qsort (map, m, sizeof *map, compare_uid);
  for (uint32_t s = 0; s < slices; s++)
    {
      uint32_t frame = 0;
      UidIndex key = { host->volume_slice_instance (job, (size_t) series, s, &frame), 0 };
      UidIndex *hit = key.uid ? bsearch (&key, map, m, sizeof *map, compare_uid) : NULL;
      const char *text = hit ? host->instance_attribute (job, (size_t) series, hit->instance, "ImagePositionPatient")
                             : NULL;
      if (frame > 0 || text == NULL || parse_doubles (text, ipp[s], 3) != 3)
        {
          free (map);
          return -1;
        }
    }
  free (map);
  return 0;
}

static double
dot3 (const double a[3], const double b[3])
{
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Bilinear sample of source slice @s at pixel (x, y); air outside. */
static float
sample (const PrereadVolume *v, uint32_t s, double x, double y)
{
  if (x < 0 || y < 0 || x > v->columns - 1 || y > v->rows - 1)
    return -1000.0f;
  int x0 = (int) x, y0 = (int) y;
  int x1 = x0 + 1 < (int) v->columns ? x0 + 1 : x0, y1 = y0 + 1 < (int) v->rows ? y0 + 1 : y0;
  double fx = x - x0, fy = y - y0;
  const float *p = v->voxels + (size_t) s * v->columns * v->rows;
  double a = p[(size_t) y0 * v->columns + x0] * (1 - fx) + p[(size_t) y0 * v->columns + x1] * fx;
  double b = p[(size_t) y1 * v->columns + x0] * (1 - fx) + p[(size_t) y1 * v->columns + x1] * fx;
  return (float) (a * (1 - fy) + b * fy);
}

int
ln_series_load (const PrereadHost *host, PrereadJob *job, int index, PrereadVolume *volume, LnScan *scan,
                char *why, size_t why_len)
{
  memset (scan, 0, sizeof *scan);
  PrereadStatus status = host->series_volume (job, (size_t) index, volume);
  if (status == PREREAD_ERROR_UNSUPPORTED || status == PREREAD_ERROR_BAD_INPUT)
    {
      snprintf (why, why_len, "its images do not form a decodable volume (%s)",
                status == PREREAD_ERROR_UNSUPPORTED ? "unsupported transfer syntax" : "differing sizes or orientations");
      return 1;
    }
  if (status != PREREAD_OK)
    {
      snprintf (why, why_len, "the host could not decode it (status %d)", (int) status);
      return -1;
    }
  if (volume->samples_per_pixel != 1 || (volume->flags & PREREAD_VOLUME_SINGLE_IMAGE) || volume->slices < 8 ||
      volume->columns < 64 || volume->rows < 64 || volume->slice_positions == NULL)
    {
      snprintf (why, why_len, "it is not a CT volume (%ux%ux%u, %u samples per pixel)", volume->columns, volume->rows,
                volume->slices, volume->samples_per_pixel);
      return 1;
    }
  const uint32_t n = volume->slices;
  const double *pos = volume->slice_positions;
  double *gaps = malloc (n * sizeof *gaps);
  if (gaps == NULL)
    return -1;
  for (uint32_t s = 0; s + 1 < n; s++)
    gaps[s] = pos[s + 1] - pos[s];
  qsort (gaps, n - 1, sizeof *gaps, compare_double);
  double dz = gaps[(n - 1) / 2];
  double max_gap = gaps[n - 2];
  free (gaps);
  if (dz <= 0.05)
    {
      snprintf (why, why_len, "its slices are stacked at the same position (duplicates or several acquisitions)");
      return 1;
    }
  if (max_gap > 3.0 * dz + 0.5)
    {
      snprintf (why, why_len, "slices are missing: a gap of %.1f mm where the spacing is %.2f mm", max_gap, dz);
      return 1;
    }
  if (pos[n - 1] - pos[0] < 40.0)
    {
      snprintf (why, why_len, "it covers only %.0f mm along the body: too little for a chest", pos[n - 1] - pos[0]);
      return 1;
    }
  int uneven = (volume->flags & PREREAD_VOLUME_UNEVEN_SPACING) != 0;
  for (uint32_t s = 0; s + 1 < n && !uneven; s++)
    if (fabs ((pos[s + 1] - pos[s]) - dz) > 0.01 * dz)
      uneven = 1;
  int tilted = (volume->flags & PREREAD_VOLUME_TILTED) != 0;

  scan->n_src = (int) n;
  scan->src_pos = malloc (n * sizeof (double));
  scan->src_dx = calloc (n, sizeof (double));
  scan->src_dy = calloc (n, sizeof (double));
  if (scan->src_pos == NULL || scan->src_dx == NULL || scan->src_dy == NULL)
    {
      ln_scan_free (scan);
      return -1;
    }
  memcpy (scan->src_pos, pos, n * sizeof (double));
  scan->src_columns = (int) volume->columns;
  scan->src_rows = (int) volume->rows;
  memcpy (scan->row, volume->row_direction, sizeof scan->row);
  memcpy (scan->col, volume->column_direction, sizeof scan->col);
  memcpy (scan->normal, volume->normal, sizeof scan->normal);
  memcpy (scan->origin, volume->origin, sizeof scan->origin);
  scan->pos0 = pos[0];
  scan->uneven = uneven;
  scan->tilted = tilted;
  const char *thick = host->series_attribute (job, (size_t) index, "SliceThickness");
  if (thick == NULL || parse_doubles (thick, &scan->thickness, 1) != 1 || scan->thickness <= 0)
    scan->thickness = dz;

  if (tilted)
    {
      /* The in-plane offset of every slice from where its normal would put
       * it; the grid is centred on the mean offset. */
      double (*ipp)[3] = malloc (n * sizeof *ipp);
      if (ipp == NULL)
        {
          ln_scan_free (scan);
          return -1;
        }
      if (slice_positions_3d (host, job, index, n, ipp) != 0)
        {
          free (ipp);
          ln_scan_free (scan);
          snprintf (why, why_len, "its slices are tilted (gantry tilt) and their positions cannot be read");
          return 1;
        }
      double mean[3] = { 0, 0, 0 };
      for (uint32_t s = 0; s < n; s++)
        for (int a = 0; a < 3; a++)
          mean[a] += (ipp[s][a] - ipp[0][a]) / n;
      double along = dot3 (mean, scan->normal);
      for (int a = 0; a < 3; a++)
        scan->origin[a] = ipp[0][a] + mean[a] - along * scan->normal[a];
      for (uint32_t s = 0; s < n; s++)
        {
          double d[3] = { scan->origin[0] - ipp[s][0], scan->origin[1] - ipp[s][1], scan->origin[2] - ipp[s][2] };
          scan->src_dx[s] = dot3 (d, scan->row) / volume->spacing[0];
          scan->src_dy[s] = dot3 (d, scan->col) / volume->spacing[1];
        }
      free (ipp);
    }

  double sp[3] = { volume->spacing[0], volume->spacing[1], dz };
  if (!tilted && !uneven)
    {
      /* The common case: the host's voxels are the grid. */
      scan->img.nx = (int) volume->columns;
      scan->img.ny = (int) volume->rows;
      scan->img.nz = (int) n;
      memcpy (scan->img.sp, sp, sizeof sp);
      scan->img.v = (float *) volume->voxels;
      return 0;
    }

  int nz = (int) floor ((pos[n - 1] - pos[0]) / dz + 0.5) + 1;
  if (ln_vol_alloc (&scan->img, (int) volume->columns, (int) volume->rows, nz, sp) != 0)
    {
      ln_scan_free (scan);
      snprintf (why, why_len, "out of memory resampling the slices");
      return -1;
    }
  scan->owned = scan->img.v;
  uint32_t s = 0;
  for (int z = 0; z < nz; z++)
    {
      double p = pos[0] + z * dz;
      while (s + 2 < n && pos[s + 1] < p)
        s++;
      double w = (p - pos[s]) / (pos[s + 1] - pos[s]);
      w = w < 0 ? 0 : w > 1 ? 1 : w;
      float *out = scan->img.v + (size_t) z * volume->columns * volume->rows;
      for (uint32_t y = 0; y < volume->rows; y++)
        for (uint32_t x = 0; x < volume->columns; x++)
          {
            float a = sample (volume, s, x + scan->src_dx[s], y + scan->src_dy[s]);
            float b = sample (volume, s + 1, x + scan->src_dx[s + 1], y + scan->src_dy[s + 1]);
            out[(size_t) y * volume->columns + x] = (float) (a * (1 - w) + b * w);
          }
    }
  return 0;
}

void
ln_scan_free (LnScan *scan)
{
  free (scan->owned);
  free (scan->src_pos);
  free (scan->src_dx);
  free (scan->src_dy);
  memset (scan, 0, sizeof *scan);
}

void
ln_scan_to_patient (const LnScan *scan, const double g[3], double p[3])
{
  for (int a = 0; a < 3; a++)
    p[a] = scan->origin[a] + g[0] * scan->img.sp[0] * scan->row[a] + g[1] * scan->img.sp[1] * scan->col[a] +
           g[2] * scan->img.sp[2] * scan->normal[a];
}

int
ln_scan_source_slice (const LnScan *scan, double z)
{
  double p = scan->pos0 + z * scan->img.sp[2];
  int lo = 0, hi = scan->n_src - 1;
  while (hi - lo > 1)
    {
      int mid = (lo + hi) / 2;
      if (scan->src_pos[mid] <= p)
        lo = mid;
      else
        hi = mid;
    }
  return fabs (scan->src_pos[hi] - p) < fabs (scan->src_pos[lo] - p) ? hi : lo;
}
