/*
 * ln_nodule.h: the lung-nodule analyzer's internal interface.
 *
 * The pipeline is host-independent: it works on an LnScan (Hounsfield units
 * on a regular grid with its patient geometry) and fills an LnResult. Only
 * ln_module.c and ln_series.c talk to the preread host. Stages, one file each:
 *
 *   ln_image.c      volumes and masks, Gaussian smoothing, box downsampling,
 *                   distance transforms, connected components: the toolkit
 *   ln_series.c     which series to read (chest CT, axial, thinnest, lung
 *                   kernel), and the scan's geometry: unsorted or unevenly
 *                   spaced slices and gantry tilt are resampled to a regular grid
 *   ln_lung.c       body, lungs, airways, the lung envelope that includes
 *                   nodules touching the pleura, sides and approximate lobes
 *   ln_detect.c     multi-scale 3D blob detection (difference of Gaussians on
 *                   a pyramid) and the Hessian at each candidate
 *   ln_segment.c    per-candidate segmentation (half-contrast region growing,
 *                   vessel detachment by opening) and measurements
 *   ln_outline.c    the outline polygon on the key axial slice
 *   ln_features.c   the feature vector and the learned classifier
 *                   (coefficients in ln_classifier_model.h, generated)
 *   ln_lungrads.c   Lung-RADS v2022 categories, nodule and study
 *   ln_pipeline.c   the stages in order, progress, de-duplication
 *   ln_module.c     the preread entry point: findings, priority, summary
 *
 * Nothing here keeps state between calls: every buffer belongs to the call,
 * so the module is thread-safe.
 */
#ifndef LN_NODULE_H
#define LN_NODULE_H

#include <stddef.h>
#include <stdint.h>

/* ---- progress, cancellation and log, without the host -------------------- */

enum { LN_LOG_DEBUG = 0, LN_LOG_INFO = 1, LN_LOG_WARNING = 2 };

typedef struct {
  void *opaque;
  /* fraction 0..1 of the whole analysis; returns nonzero when cancelled */
  int (*progress) (void *opaque, double fraction, const char *message);
  void (*log) (void *opaque, int level, const char *message);
} LnMonitor;

/* Both accept a NULL monitor. ln_logf formats like printf. */
int ln_progress (const LnMonitor *m, double fraction, const char *message);
void ln_logf (const LnMonitor *m, int level, const char *format, ...) __attribute__ ((format (printf, 3, 4)));

/* ---- volumes and masks (ln_image.c) ---------------------------------------- */

/* A float volume, x fastest, then y, then z; spacing in mm per axis. */
typedef struct {
  int nx, ny, nz;
  double sp[3];
  float *v;
} LnVol;

/* A binary (or small label) volume with the same layout. */
typedef struct {
  int nx, ny, nz;
  double sp[3];
  uint8_t *v;
} LnMask;

#define LN_IDX(img, x, y, z) (((size_t) (z) * (size_t) (img)->ny + (size_t) (y)) * (size_t) (img)->nx + (size_t) (x))
#define LN_COUNT(img) ((size_t) (img)->nx * (size_t) (img)->ny * (size_t) (img)->nz)

int ln_vol_alloc (LnVol *v, int nx, int ny, int nz, const double sp[3]);
void ln_vol_free (LnVol *v);
int ln_mask_alloc (LnMask *m, int nx, int ny, int nz, const double sp[3]);
void ln_mask_free (LnMask *m);
size_t ln_mask_count (const LnMask *m);

/* Gaussian smoothing in place with standard deviation @sigma_mm[axis]
 * (separable FIR, edges replicated); an axis whose sigma is below a tenth
 * of a voxel is left alone. Returns 0, or -1 when out of memory. */
int ln_gauss (LnVol *v, const double sigma_mm[3]);

/* Box-average downsampling by integer factors; the last block of an axis
 * averages what exists. @out is allocated. */
int ln_downsample (const LnVol *in, const int f[3], LnVol *out);

/* Squared Euclidean distance (mm^2) from every voxel to the nearest voxel
 * where @mask is nonzero (Felzenszwalb and Huttenlocher's separable exact
 * transform, anisotropic). Voxels of an empty mask get a huge value. */
int ln_edt_sq (const LnMask *mask, float *out);

/* Dilation of @in by a ball of @radius mm into @out (which may be @in);
 * closing (dilation, then erosion) likewise: the closing keeps @in's own
 * voxels and adds what the ball cannot reach from outside. Both work in
 * @in's bounding box grown by the radius, exact (distance transform). */
int ln_dilate_ball (const LnMask *in, double radius, LnMask *out);
int ln_close_ball (const LnMask *in, double radius, LnMask *out);

/* Connected components of the nonzero voxels (6- or 26-connectivity).
 * Labels 1..n in @labels (0 = background), sizes[label] voxels in
 * *@sizes (allocated, n + 1 entries). Returns n, or -1 on failure. */
int ln_label (const LnMask *mask, int connectivity, int32_t *labels, size_t **sizes);

/* Per slice: marks (sets to 1 in @out) the zero voxels of @mask that are
 * 4-connected to the slice's border. */
int ln_flood_border_2d (const LnMask *mask, LnMask *out);

/* Per slice: fills holes (zero regions not connected to the border). */
int ln_fill_holes_2d (LnMask *mask);

/* ---- the scan: HU on a regular grid with its geometry (ln_series.c) --------- */

typedef struct {
  LnVol img;                    /* Hounsfield units; x = columns, y = rows, z = slices */
  float *owned;                 /* non-NULL when img.v was resampled (freed by ln_scan_free) */
  double origin[3];             /* patient position (mm, LPS) of voxel (0,0,0)'s centre */
  double row[3], col[3], normal[3];
  double pos0;                  /* position of grid slice 0 along the normal */
  /* the source slices, as the host delivered them (sorted along the normal) */
  int n_src;
  double *src_pos;              /* position along the normal */
  double *src_dx, *src_dy;      /* source pixel = grid voxel + (dx, dy) (gantry tilt) */
  int src_columns, src_rows;
  double thickness;             /* nominal slice thickness, mm */
  int tilted, uneven;           /* what was corrected */
} LnScan;

void ln_scan_free (LnScan *scan);
/* Grid coordinates (voxel units, may be fractional) to patient mm. */
void ln_scan_to_patient (const LnScan *scan, const double g[3], double p[3]);
/* The source slice nearest to grid slice coordinate @z. */
int ln_scan_source_slice (const LnScan *scan, double z);

/* ---- lungs (ln_lung.c) -------------------------------------------------------- */

typedef struct {
  int f[3];                     /* coarse grid = scan grid downsampled by f */
  LnMask lung;                  /* coarse: aerated lung, airways removed (1 right, 2 left) */
  LnMask envelope;              /* coarse: lung including what lies in it and on its pleura */
  LnMask airway;                /* coarse: trachea and main bronchi, dilated over their walls */
  float *mid_x;                 /* per coarse slice: the body's midline, scan grid x */
  double parenchyma_hu;         /* median HU of aerated lung */
  double noise_hu;              /* noise index of the parenchyma (pixel minus its 3x3 mean, robust) */
  double smooth_px;             /* in-plane Gaussian (pixels) that brings it to LN_NOISE_TARGET_HU */
  double volume_ml[3];          /* total, right, left */
  int box[6];                   /* scan grid: x0, y0, z0, x1, y1, z1 (exclusive) of the envelope */
  int cut_apex, cut_base;       /* the lungs reach the first or last slice */
  /* per side (0 right, 1 left), patient mm: extent for the lobe model */
  double zmin[2], zmax[2], ymin[2], ymax[2];
  int have_side[2];
} LnLungs;

/* Sharp (lung) kernels have several times the noise of soft ones; every
 * measurement downstream is made on images whose noise is brought down to
 * this index by in-plane smoothing, so that the classifier sees the same
 * thing whatever the reconstruction. */
#define LN_NOISE_TARGET_HU 12.0

/* Smooths @v in plane by @lungs->smooth_px pixels (nothing when 0). */
int ln_harmonize (const LnLungs *lungs, const LnScan *scan, LnVol *v);

/* Returns 0; 1 when no lungs are found (@why says why); -1 on failure. */
int ln_lungs_segment (const LnScan *scan, const LnMonitor *m, LnLungs *out, char *why, size_t why_len);
void ln_lungs_free (LnLungs *lungs);
/* Whether scan voxel (x, y, z) lies in the coarse mask. */
int ln_lungs_at (const LnLungs *lungs, const LnMask *coarse, int x, int y, int z);

enum { LN_SIDE_RIGHT = 0, LN_SIDE_LEFT = 1 };
enum { LN_LOBE_UNKNOWN = 0, LN_LOBE_UPPER, LN_LOBE_MIDDLE, LN_LOBE_LOWER };
/* Side and approximate lobe of a patient point (geometric model: no fissures). */
void ln_lungs_locate (const LnLungs *lungs, const LnScan *scan, const double grid[3], const double patient[3],
                      int *side, int *lobe);

/* ---- candidates (ln_detect.c) ---------------------------------------------------- */

typedef struct {
  double g[3];                  /* scan grid coordinates */
  double sigma;                 /* detection scale, mm */
  double response;              /* difference of Gaussians at the peak, HU */
  double smoothed;              /* Gaussian-smoothed HU at the peak */
  double eig[3];                /* Hessian eigenvalues at the scale, |e0| >= |e1| >= |e2|, HU/mm^2 * sigma^2 */
  double blob;                  /* cube root of -e0 e1 e2 when all are negative, else 0: blob-ness in HU */
  double triage;                /* the first-stage classifier's score (ln_triage) */
  double extent_sigma;          /* the largest scale among the maxima merged into this one, mm */
} LnCandidate;

/* Finds blob candidates inside the lung envelope: every local maximum of
 * every scale is scored by the triage model; the best-scored of each blob
 * (across scales) are kept, at most @max_keep. With @dump, every maximum is
 * logged with its triage features (training). *@out is allocated. */
int ln_detect (const LnScan *scan, const LnLungs *lungs, const LnMonitor *m, double fraction0, double fraction1,
               int max_keep, int dump, LnCandidate **out, int *n_out);

/* ---- segmentation and measurements (ln_segment.c, ln_outline.c) ------------------ */

typedef enum { LN_TYPE_SOLID = 0, LN_TYPE_PART_SOLID = 1, LN_TYPE_GROUND_GLASS = 2 } LnType;
typedef enum { LN_ATTACH_ISOLATED = 0, LN_ATTACH_VESSEL = 1, LN_ATTACH_PLEURA = 2 } LnAttachment;

#define LN_N_FEATURES 18

typedef struct {
  LnCandidate cand;
  double g[3];                  /* centre, scan grid coordinates */
  double centre[3];             /* centre, patient mm */
  double long_axis, short_axis, mean_diameter; /* mm, on the key slice */
  double volume;                /* mm^3 */
  double hu_mean, hu_sd;        /* over the nodule, as imaged */
  double texture_sd;            /* the spread after noise harmonisation (a feature) */
  double background_hu, peak_hu;
  double solid_diameter;        /* mean diameter of the solid component, mm (0: none) */
  double solid_fraction;        /* of the volume */
  LnType type;
  int calcified;
  LnAttachment attachment;
  int side, lobe;
  int key_slice;                /* source slice where the nodule is largest */
  int grid_key_z;               /* the scan grid slice it corresponds to */
  float *outline;               /* x, y pairs in the key slice's pixel coordinates */
  int n_outline;
  float axes[8];                /* long axis ends, short axis ends, same coordinates */
  /* shape and surroundings, for the classifier */
  double contrast;              /* peak - background, HU */
  double elongation;            /* smallest / largest principal axis: 1 round, 0 a line */
  double ellipsoid_fill;        /* volume / the ellipsoid with the same second moments */
  double wall_fraction;         /* share of the outline on the lung envelope's edge */
  double opening_kept;          /* share of the thresholded region the opening kept */
  double shell_dense;           /* dense share of a shell at 1.3-2 radii (vessels leaving) */
  int touches_box;              /* the thresholded region ran out of the patch */
  double z_extent;              /* mm across slices */
  double features[LN_N_FEATURES];
  double probability;
  int category;                 /* LnCategory */
  int box[6];                   /* scan grid bounding box of the segmentation (x0,y0,z0,x1,y1,z1 exclusive) */
} LnNodule;

/* Segments and measures one candidate; 1 when it yields no usable region. */
int ln_segment (const LnScan *scan, const LnLungs *lungs, const LnCandidate *cand, LnNodule *out);
void ln_nodule_clear (LnNodule *n);

/* Outline (polygon) of the 2D region @inside (w x h, x fastest) at the
 * level 0.5 of @field (or of the mask itself when @field is NULL), as
 * x, y pairs in that patch's pixel coordinates (0.5 = first pixel centre).
 * *@points is allocated. Returns the number of points (0: none). */
int ln_outline (const uint8_t *inside, const float *field, int w, int h, float **points);
/* Long axis (longest chord) and short axis (longest chord perpendicular to
 * it) of a closed polygon, in the units of @sx, @sy per pixel. Ends in
 * @axes (pixel coordinates): long a, long b, short a, short b. */
void ln_axes (const float *points, int n, double sx, double sy, double *long_mm, double *short_mm, float axes[8]);

/* ---- features and classifier (ln_features.c) ------------------------------------- */

extern const char *const ln_feature_names[LN_N_FEATURES];
/* One node of the boosted trees in ln_classifier_model.h: an inner node
 * sends a candidate left when features[feature] <= threshold; a leaf
 * (feature -1) adds its value to the score. */
typedef struct {
  int feature;
  double threshold;
  int left, right;
  double value;
} LnTreeNode;

/* The first stage (triage): a logistic model on what detection knows of a
 * candidate, which ranks the many local maxima so that only the likeliest
 * are segmented. */
#define LN_N_TRIAGE 8
extern const char *const ln_triage_names[LN_N_TRIAGE];
void ln_triage_features (const LnCandidate *c, double parenchyma_hu, double f[LN_N_TRIAGE]);
double ln_triage (const double f[LN_N_TRIAGE]);

/* Fills n->features from the segmentation's measurements. */
void ln_features_compute (LnNodule *n);
/* The learned probability that the candidate is a nodule. */
double ln_classify (const double features[LN_N_FEATURES]);
/* The operating point the training chose (the default min-confidence). */
double ln_classifier_threshold (void);

/* ---- Lung-RADS v2022 (ln_lungrads.c) --------------------------------------------- */

typedef enum {
  LN_LR_0 = 0, LN_LR_1, LN_LR_2, LN_LR_3, LN_LR_4A, LN_LR_4B, LN_LR_4X
} LnCategory;

/* Baseline screening category of one nodule. */
LnCategory ln_lungrads_nodule (const LnNodule *n);
const char *ln_lungrads_name (LnCategory c);     /* "4A" */
const char *ln_lungrads_meaning (LnCategory c);  /* "Lung-RADS 4A: suspicious" */
const char *ln_lungrads_management (LnCategory c);

/* A nodule whose mean diameter reaches this is a mass (Fleischner glossary). */
#define LN_MASS_MM 30.0

/* ---- the pipeline (ln_pipeline.c) ---------------------------------------------------- */

typedef struct {
  double min_probability;       /* report candidates at or above this */
  double min_diameter_mm;       /* report nodules at least this large (mean axial diameter) */
  int max_nodules;              /* report at most this many (largest category first) */
  int max_candidates;           /* segment at most this many blobs (time budget) */
  int dump_candidates;          /* 1: log every candidate with its features (training); 2: only the triage's */
} LnParams;

typedef struct {
  LnNodule *nodules;            /* most suspicious first */
  int n_nodules;
  int n_candidates;             /* blobs examined */
  LnCategory study_category;
  int incomplete;               /* lungs not fully covered */
  double lung_volume_ml;
  double seconds;
} LnResult;

int ln_pipeline_run (const LnScan *scan, const LnParams *params, const LnMonitor *m, LnResult *out, char *why,
                     size_t why_len);
void ln_result_free (LnResult *r);

#endif /* LN_NODULE_H */
