/*
 * sl_lesion.h: the skin-lesion analyzer's internal interface.
 *
 * The pipeline is host-independent: sl_lesion_analyze() takes RGB samples
 * (0..255, x fastest) and fills an SlLesion. Only sl_module.c talks to the
 * preread host. Stages, one file each:
 *
 *   sl_image.c     planes, masks, blurs, line morphology, distance
 *                  transform, labelling, Otsu: the toolkit the others use
 *   sl_prepare.c   field of view (the dark dermoscope rim), hair removal,
 *                  illumination (vignetting, uneven light) and colour
 *                  normalisation
 *   sl_segment.c   lesion channel, threshold, component choice, hysteresis
 *                  growth, smoothing, the outline polygon
 *   sl_features.c  geometry and the dermoscopy ABCD features
 *   sl_score.c     total dermoscopy score, category, the learned model
 *
 * Nothing here keeps state between calls: every buffer belongs to the call.
 */
#ifndef SL_LESION_H
#define SL_LESION_H

#include <stddef.h>
#include <stdint.h>

/* M_PI is POSIX, not ISO C: strict -std=c11 builds lack it. */
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- images --------------------------------------------------------------- */

/* One float channel, x fastest. */
typedef struct {
  int w, h;
  float *px;
} SlPlane;

/* A binary image: 0 outside, 1 inside. */
typedef struct {
  int w, h;
  uint8_t *px;
} SlMask;

int sl_plane_alloc (SlPlane *p, int w, int h);
void sl_plane_free (SlPlane *p);
int sl_mask_alloc (SlMask *m, int w, int h);
void sl_mask_free (SlMask *m);
size_t sl_mask_count (const SlMask *m);

/* Mean over a (2r+1)^2 box, windows clipped at the edges (each output is the
 * mean of the pixels that exist). @in and @out may be the same. */
int sl_box_blur (const float *in, float *out, int w, int h, int r);
/* Approximately Gaussian (three box passes) with standard deviation @sigma. */
int sl_gauss_blur (const float *in, float *out, int w, int h, double sigma);
/* Normalised convolution: the blur of @in weighted by @weight (0..1), for
 * filling holes (hair, masked pixels) from their surroundings. */
int sl_weighted_blur (const float *in, const float *weight, float *out, int w, int h, int r);

/* Grey-level min (erode) or max (dilate) over a line of @len pixels through
 * each pixel, along (dx, dy) in {(1,0), (0,1), (1,1), (1,-1)} (van Herk /
 * Gil-Werman: constant time per pixel whatever the length). */
int sl_line_minmax (const float *in, float *out, int w, int h, int dx, int dy, int len, int take_max);
/* Closing (dilate then erode) along such a line: fills dark structures
 * narrower than @len across the line. */
int sl_line_close (const float *in, float *out, int w, int h, int dx, int dy, int len);

/* Squared Euclidean distance from every pixel to the nearest pixel where
 * @on is nonzero (Felzenszwalb-Huttenlocher). FLT_MAX-ish when none. */
int sl_distance2 (const uint8_t *on, float *d2, int w, int h);
/* Binary morphology with a disk of radius @r (via the distance transform). */
int sl_mask_dilate (SlMask *m, double r);
int sl_mask_erode (SlMask *m, double r);
int sl_mask_open (SlMask *m, double r);
int sl_mask_close (SlMask *m, double r);
/* Fills the holes of @m (background not connected to the image border). */
int sl_mask_fill_holes (SlMask *m);

/* 8-connected components of @m: labels 1..n in @labels (0 background).
 * Returns n, or -1 when out of memory. */
int sl_label (const SlMask *m, int32_t *labels);
/* Keeps only the component with label @keep. */
void sl_mask_keep_label (SlMask *m, const int32_t *labels, int32_t keep);

/* Otsu's threshold of @v over the pixels where @mask is set (NULL: all),
 * with 256 bins between the 0.5th and 99.5th percentile. @separability
 * receives Otsu's eta (between-class over total variance, 0..1). */
double sl_otsu (const float *v, const uint8_t *mask, size_t n, double *separability);
/* The @q quantile (0..1) of @v over @mask (NULL: all); NAN when empty. */
double sl_quantile (const float *v, const uint8_t *mask, size_t n, double q);

/* ---- the analysis -------------------------------------------------------------- */

/* The six dermoscopic colours of the ABCD rule. */
typedef enum {
  SL_COLOUR_WHITE,
  SL_COLOUR_RED,
  SL_COLOUR_LIGHT_BROWN,
  SL_COLOUR_DARK_BROWN,
  SL_COLOUR_BLUE_GRAY,
  SL_COLOUR_BLACK,
  SL_N_COLOURS
} SlColour;

/* The five differential structures of the ABCD rule. */
typedef enum {
  SL_STRUCT_NETWORK,
  SL_STRUCT_STRUCTURELESS,
  SL_STRUCT_STREAKS,
  SL_STRUCT_DOTS,
  SL_STRUCT_GLOBULES,
  SL_N_STRUCTURES
} SlStructure;

typedef enum {
  SL_CATEGORY_BENIGN = 0,          /* TDS < 4.75 */
  SL_CATEGORY_SUSPICIOUS = 1,      /* 4.75 .. 5.45 */
  SL_CATEGORY_HIGHLY_SUSPICIOUS = 2 /* > 5.45 */
} SlCategory;

const char *sl_colour_name (SlColour c);
const char *sl_structure_name (SlStructure s);
const char *sl_category_name (SlCategory c);

/* Returns nonzero when the caller wants the analysis stopped. */
typedef int (*SlCancelFunc) (void *data);

typedef struct {
  double mm_per_pixel;             /* > 0 when the scale is known */
  SlCancelFunc cancelled;          /* may be NULL */
  void *cancel_data;
} SlParams;

/* Working images shared by the stages, at working resolution. */
typedef struct {
  int w, h;                        /* working size */
  double scale;                    /* working pixels per input pixel (<= 1) */
  SlPlane rgb[3];                  /* hair removed, 0..255 */
  SlPlane norm[3];                 /* divided by the fitted skin background: skin ~ 1 */
  SlPlane lesionness;              /* the segmentation channel: higher = more lesion-like */
  SlMask fov;                      /* inside the dermoscope's field of view */
  SlMask hair;                     /* pixels replaced by hair removal */
  SlMask lesion;                   /* the segmented lesion */
  double skin_rgb[3];              /* median skin colour (input units) */
  double skin_level, lesion_level; /* lesionness of skin and of the lesion core */
  double separability;             /* Otsu's eta on the chosen channel */
  int channel;                     /* which candidate channel was chosen */
} SlWork;

typedef struct {
  int found;                       /* a lesion was segmented */
  const char *why_not;             /* when not found: why */

  /* Geometry, input pixels (mm when the scale is known: *_mm >= 0). */
  float *outline;                  /* x, y pairs, image coordinates (pixel corners at integers) */
  uint32_t n_outline;
  double area_px, perimeter_px, diameter_px, major_px, minor_px;
  double centre_x, centre_y;       /* input image coordinates */
  double area_mm2, diameter_mm, major_mm, minor_mm; /* -1 unless the scale is known */
  int touches_border;              /* the outline reaches the image edge: lesion may be cut off */
  double image_fraction;           /* lesion area / field-of-view area */
  double segmentation_confidence;  /* 0..1: contrast, separability, not cut off */
  double hair_fraction;            /* share of the image replaced as hair */

  /* A: asymmetry about the two principal axes. */
  double asym_shape[2];            /* non-overlap of the mask and its mirror image / area */
  double asym_colour[2];           /* colour distance between the two halves (Lab, normalised) */
  int asym_axes;                   /* 0..2 */

  /* B: border, 8 sectors. */
  double border_sharpness[8];      /* 0..1: how abruptly pigment ends in the sector */
  int border_abrupt;               /* 0..8 */
  double compactness;              /* perimeter^2 / (4 pi area): 1 for a disk */
  double solidity;                 /* area / convex hull area */

  /* C: colours. */
  double colour_fraction[SL_N_COLOURS];
  int n_colours;                   /* 1..6 */
  double colour_spread;            /* mean Lab distance of lesion pixels from their mean */

  /* D: structure proxies (see sl_features.c for what each one measures). */
  double structure_measure[SL_N_STRUCTURES];
  int structure_present[SL_N_STRUCTURES];
  int n_structures;                /* 1..5 */

  /* Score. */
  double tds;                      /* 1.3 A + 0.1 B + 0.5 C + 0.5 D */
  SlCategory category;
  double model_probability;        /* the learned model's melanoma probability, 0..1 */
} SlLesion;

/* Status of the pipeline. */
typedef enum { SL_OK = 0, SL_NO_MEMORY = 1, SL_CANCELLED = 2, SL_BAD_INPUT = 3 } SlStatus;

/* The whole analysis of one photo. @rgb: w*h*3 samples, 0..255. On
 * SL_OK, @out->found says whether a lesion was found. Free with
 * sl_lesion_clear(). */
SlStatus sl_lesion_analyze (const float *rgb, int w, int h, const SlParams *params, SlLesion *out);
void sl_lesion_clear (SlLesion *lesion);

/* Stages (each returns SL_OK or an error). */
SlStatus sl_prepare (const float *rgb, int w, int h, const SlParams *params, SlWork *work);
SlStatus sl_segment (SlWork *work, const SlParams *params);
SlStatus sl_outline (const SlWork *work, int in_w, int in_h, SlLesion *out);
SlStatus sl_features (const SlWork *work, const SlParams *params, SlLesion *out);
void sl_score (SlLesion *lesion);
void sl_work_free (SlWork *work);

/* Colour conversion: sRGB 0..255 to CIE L*a*b* (D65). */
void sl_rgb_to_lab (double r, double g, double b, double lab[3]);

/* The learned model's inputs, in the order of sl_model.h. */
#define SL_MODEL_MAX_FEATURES 32
int sl_model_features (const SlLesion *lesion, double *values, int max);

#endif /* SL_LESION_H */
