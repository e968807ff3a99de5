/* pr-report.h: what the result builders are given: a measurement report.
 *
 * A neutral model of one algorithm's results on one study, close to DICOM's
 * TID 1500: who measured (the algorithm, as a device), which images were
 * looked at, and one group per finding (tracking identity, a coded finding
 * and site, an image region, measurements with UCUM units, qualitative
 * evaluations), plus the study-level priority and summary. The gateway
 * fills it from an analyzer's findings; every builder in
 * pr-result-objects.h reads it. Nothing here knows where it came from.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *scheme;                 /* NULL: not set */
  char *value;
  char *meaning;
} PrCode;

typedef enum {
  PR_REGION_NONE,
  PR_REGION_POINT,              /* 2D, image pixels: one point */
  PR_REGION_POLYLINE,
  PR_REGION_POLYGON,            /* closed; first point not repeated */
  PR_REGION_CIRCLE,             /* centre, a point on the circle */
  PR_REGION_ELLIPSE,            /* major axis ends, minor axis ends */
  PR_REGION_POINT_3D,           /* patient coordinates, mm */
  PR_REGION_POLYLINE_3D,
  PR_REGION_MASK,               /* a binary mask over a box of images */
} PrRegionShape;

typedef struct {
  PrRegionShape shape;
  /* 2D shapes, and masks on one image: the image */
  char *sop_instance_uid;
  guint frame;                  /* 1-based in multi-frame images, else 0 */
  /* 2D: x, y pairs in pixels ((0,0) the top-left corner); 3D: x, y, z triples in mm */
  float *points;
  guint n_points;
  char *frame_of_reference_uid; /* (nullable) 3D */
  /* masks: box of columns, rows, slices; packed bits (LSB first, x fastest);
   * the image each slice of the box is (one entry for an image mask) */
  guint box[6];
  guint8 *bits;
  char **slice_sop_instance_uids;
  guint *slice_frames;
  char *series_instance_uid;    /* (nullable) the series a volume mask is over */
} PrReportRegion;

typedef struct {
  PrCode concept;
  double value;
  char *unit;                   /* UCUM code */
} PrReportMeasurement;

typedef struct {
  PrCode concept;
  PrCode value;
} PrReportEvaluation;

typedef struct {
  guint number;                 /* 1-based, as the analyzer reported them */
  char *tracking_id;            /* never NULL: the analyzer's, or "finding N" */
  char *tracking_uid;
  PrCode type;
  PrCode site;                  /* scheme NULL: unknown */
  double confidence;            /* 0..1; < 0: none */
  char *text;                   /* (nullable) */
  PrReportRegion region;
  GArray *measurements;         /* PrReportMeasurement */
  GArray *evaluations;          /* PrReportEvaluation */
} PrReportFinding;

/* An image the algorithm looked at. */
typedef struct {
  char *sop_class_uid;
  char *sop_instance_uid;
  char *series_instance_uid;
  char *path;                   /* the stored file */
} PrReportImage;

typedef enum {
  PR_REPORT_ROUTINE,
  PR_REPORT_URGENT,
  PR_REPORT_CRITICAL,
} PrReportPriority;

typedef struct {
  /* The algorithm, as the observing device and contributing equipment. */
  char *algorithm_name;
  char *algorithm_version;
  char *algorithm_vendor;       /* (nullable) */
  char *device_uid;             /* stable per algorithm name and version */

  /* The source study: patient and study attributes are copied from the
   * first image's file. */
  GPtrArray *images;            /* PrReportImage*, in job order */

  PrReportPriority priority;
  char *summary;                /* (nullable) one line */
  GPtrArray *findings;          /* PrReportFinding* */

  /* Every UID a builder makes is derived from this (pr_dicom_uid_derive),
   * so that building the same results again makes the same UIDs. */
  char *uid_seed;
} PrReport;

PrReport *pr_report_new (void);
void pr_report_free (PrReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrReport, pr_report_free)

/* Appends and returns (transfer none) a zeroed finding with its arrays. */
PrReportFinding *pr_report_add_finding (PrReport *report);

void pr_code_set (PrCode *code, const char *scheme, const char *value, const char *meaning);

/* Returns: (transfer none) (nullable): the image with this SOP Instance UID. */
const PrReportImage *pr_report_find_image (const PrReport *report, const char *sop_instance_uid);

/* Whether any finding has a region of these shapes. */
gboolean pr_report_has_2d_regions (const PrReport *report);
gboolean pr_report_has_masks (const PrReport *report);
gboolean pr_report_has_3d_regions (const PrReport *report);

G_END_DECLS
