/*
 * preread-analyzer.h: the preread analyzer ABI, version 1.0.
 *
 * This one header is everything a vendor needs to write an analyzer module
 * for preread, the DICOM AI gateway. It is self-contained C99 (no GLib, no
 * DCMTK, no C++ types), compiles as C and as C++, and anything not declared
 * here is not part of the ABI. plugin/ABI.md states what we promise.
 *
 * HOW TO WRITE AN ANALYZER
 *
 *   #include <preread-analyzer.h>
 *
 *   static PrereadStatus
 *   analyze (void *state, PrereadJob *job, const PrereadHost *host)
 *   {
 *     PrereadVolume volume = preread_volume_init ();
 *     if (host->series_volume (job, 0, &volume) != PREREAD_OK)
 *       return host->decline (job, "no image volume");
 *     ... look at volume.voxels (Hounsfield units for CT) ...
 *     PrereadFinding f = preread_finding_init ();
 *     PrereadCode nodule = { "SCT", "27925004", "Nodule" };
 *     f.type = nodule;
 *     f.confidence = 0.9;
 *     return host->add_finding (job, &f);
 *   }
 *
 *   PREREAD_ANALYZER_DEFINE ("my-analyzer", "1.0.0", "Example Vendor", "MIT",
 *                            "Finds things", 0, NULL, analyze, NULL)
 *
 * Build it as a shared object and point a configuration's
 * <analyzer module="..."> at it:
 *
 *   cc -shared -fPIC -o my-analyzer.so my-analyzer.c $(pkg-config --cflags preread-analyzer)
 *
 * preread never loads the module into its daemon. A separate runner process
 * loads it, once per job, under a memory limit and timeouts; a crash or a
 * hang fails that job and nothing else. The host decodes the images (any
 * transfer syntax its DICOM library can decode, with the modality LUT
 * applied) and writes the result objects (structured report, key images,
 * presentation state, segmentation): an analyzer never reads or writes DICOM
 * itself, though it may read the instance files if it wants to.
 *
 * OWNERSHIP, the one rule: what the host hands out (strings, volumes,
 * images) belongs to the host and stays valid until analyze() returns (or,
 * for volumes, until the module gives one back with release_volume());
 * what the analyzer hands to the host (findings, strings, arrays) is copied
 * before the call returns. Neither side frees the other's memory.
 *
 * THREADS: unless the descriptor has PREREAD_ANALYZER_THREAD_SAFE, the host
 * calls init, analyze and finish from one thread, one call at a time. Host
 * functions may be called from any thread the analyzer creates, during
 * analyze() only.
 *
 * Added in: 1.0 unless a member says otherwise.
 */
#ifndef PREREAD_ANALYZER_H
#define PREREAD_ANALYZER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ------------------------------------------------------------ */

/* The host refuses a module whose major differs from its own, or whose minor
 * is greater than its own. Minor versions only append (see plugin/ABI.md). */
#define PREREAD_ANALYZER_ABI_MAJOR 1
#define PREREAD_ANALYZER_ABI_MINOR 0

/* The one symbol a module exports: a function returning its descriptor. */
#define PREREAD_ANALYZER_ENTRY_SYMBOL "preread_analyzer_entry"

#if defined(_WIN32)
#define PREREAD_ANALYZER_EXPORT __declspec (dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define PREREAD_ANALYZER_EXPORT __attribute__ ((visibility ("default")))
#else
#define PREREAD_ANALYZER_EXPORT
#endif

/* PREREAD_ANALYZER_DEFINE expands in the vendor's file, outside this
 * header's extern "C" block: in C++ the entry point must still get C linkage
 * or the host would not find it. */
#ifdef __cplusplus
#define PREREAD_ANALYZER_EXTERN_C extern "C"
#else
#define PREREAD_ANALYZER_EXTERN_C
#endif

/* ---- status -------------------------------------------------------------- */

/* What analyzer callbacks and host functions return. Values are fixed
 * forever, new ones are appended, and the type is 32 bits wide. */
typedef enum {
  PREREAD_OK = 0,                   /* success */
  PREREAD_DECLINED = 1,             /* the study is not for this analyzer: not an error */
  PREREAD_ERROR_FAILED = 100,       /* the analysis failed; say why with host->fail() */
  PREREAD_ERROR_BAD_INPUT = 101,    /* the input is broken or unusable */
  PREREAD_ERROR_UNSUPPORTED = 102,  /* asked for something this host cannot do */
  PREREAD_ERROR_CANCELLED = 103,    /* stopped because host->is_cancelled() said so */
  PREREAD_ERROR_NO_MEMORY = 104,
  PREREAD_ERROR_OUT_OF_RANGE = 105, /* an index (series, instance, slice) beyond the end */
  PREREAD_ERROR_INVALID = 106,      /* a finding or argument the host rejects; see the log */
  _PREREAD_STATUS_FORCE_32_BIT = 0x7fffffff
} PrereadStatus;

typedef enum {
  PREREAD_LOG_DEBUG = 0,
  PREREAD_LOG_INFO = 1,
  PREREAD_LOG_WARNING = 2,
  PREREAD_LOG_ERROR = 3,
  _PREREAD_LOG_FORCE_32_BIT = 0x7fffffff
} PrereadLogLevel;

/* Study-level priority, for the radiologist's worklist. */
typedef enum {
  PREREAD_PRIORITY_ROUTINE = 0,
  PREREAD_PRIORITY_URGENT = 1,
  PREREAD_PRIORITY_CRITICAL = 2,
  _PREREAD_PRIORITY_FORCE_32_BIT = 0x7fffffff
} PrereadPriority;

/* ---- inputs --------------------------------------------------------------- */

/* One analysis request: one study, the series its route selected. Opaque. */
typedef struct PrereadJob PrereadJob;

/* Volume flags. */
#define PREREAD_VOLUME_UNEVEN_SPACING (1u << 0) /* slice distances differ by more than 1 %; see slice_positions */
#define PREREAD_VOLUME_TILTED (1u << 1)         /* slices are stacked off their normal (gantry tilt) */
#define PREREAD_VOLUME_SINGLE_IMAGE (1u << 2)   /* one image, not a stack: geometry may be absent */
#define PREREAD_VOLUME_SPACING_UNKNOWN (1u << 3) /* no pixel spacing in the images: spacing[0], [1] are 1, in pixels */

/*
 * An image series decoded into one array, slices sorted along their normal.
 * Pixel values have the modality LUT applied: Hounsfield units for CT,
 * stored values otherwise. Colour images have samples_per_pixel == 3 (RGB,
 * 0..255). Coordinates follow DICOM: x along a row (increasing column index),
 * y down the columns, z along the normal, all in millimetres in the patient
 * coordinate system (LPS).
 *
 * The caller sets struct_size (preread_volume_init() does); the host fills
 * what that size covers.
 */
typedef struct {
  uint32_t struct_size;             /* sizeof (PrereadVolume) as the module compiled it */
  uint32_t columns;                 /* x */
  uint32_t rows;                    /* y */
  uint32_t slices;                  /* z */
  uint32_t samples_per_pixel;       /* 1, or 3 for RGB */
  uint32_t flags;                   /* PREREAD_VOLUME_* */
  double spacing[3];                /* mm between columns, rows, slices (mean) */
  double origin[3];                 /* patient position of the centre of the first voxel */
  double row_direction[3];          /* unit vector along a row (DICOM's first direction cosine) */
  double column_direction[3];       /* unit vector down a column */
  double normal[3];                 /* row_direction x column_direction */
  const float *voxels;              /* slices * rows * columns * samples_per_pixel, x fastest */
  const double *slice_positions;    /* per slice: position along the normal, mm */
} PrereadVolume;

/* A volume ready for series_volume(): zeroed, struct_size set. */
static inline PrereadVolume
preread_volume_init (void)
{
  PrereadVolume volume;
  memset (&volume, 0, sizeof volume);
  volume.struct_size = (uint32_t) sizeof volume;
  return volume;
}

/* ---- outputs -------------------------------------------------------------- */

/* A coded concept: ("SCT", "27925004", "Nodule"), ("DCM", "121071", "Finding"),
 * ("UCUM", "mm", "millimeter"), or a private scheme such as "99ACME". */
typedef struct {
  const char *scheme;               /* coding scheme designator */
  const char *value;                /* code value */
  const char *meaning;              /* code meaning, for people */
} PrereadCode;

typedef enum {
  PREREAD_SHAPE_NONE = 0,           /* the finding is about the study or a series */
  PREREAD_SHAPE_POINT = 1,          /* 2D, one point */
  PREREAD_SHAPE_POLYLINE = 2,       /* 2D, open */
  PREREAD_SHAPE_POLYGON = 3,        /* 2D, closed (first point not repeated) */
  PREREAD_SHAPE_CIRCLE = 4,         /* 2D, two points: centre, a point on the circle */
  PREREAD_SHAPE_ELLIPSE = 5,        /* 2D, four points: ends of the major axis, then of the minor axis */
  PREREAD_SHAPE_POINT_3D = 6,       /* patient coordinates, one point */
  PREREAD_SHAPE_POLYLINE_3D = 7,    /* patient coordinates, an outline */
  PREREAD_SHAPE_MASK = 8,           /* a binary mask (see PrereadLocation) */
  _PREREAD_SHAPE_FORCE_32_BIT = 0x7fffffff
} PrereadShape;

/*
 * Where a finding is. 2D shapes and 2D masks are on one image (an instance,
 * and a frame for multi-frame instances) in image coordinates: columns and
 * rows in pixels, (0, 0) the top-left corner of the top-left pixel, so the
 * centre of the first pixel is (0.5, 0.5), as in DICOM SCOORD. 3D shapes are
 * in patient coordinates (mm). A mask covers a box of a referenced image, or
 * of a series' volume (as series_volume() delivers it) when series_index is
 * set and sop_instance_uid is NULL.
 */
typedef struct {
  PrereadShape shape;
  const char *sop_instance_uid;     /* the image 2D shapes and 2D masks are on */
  uint32_t frame;                   /* 1-based frame in a multi-frame instance; 0 otherwise */
  const float *points;              /* 2D: x, y pairs; 3D: x, y, z triples */
  uint32_t n_points;                /* points, not floats */
  int32_t series_index;             /* MASK over a volume: the series; -1 otherwise */
  uint32_t mask_box[6];             /* MASK: first column, row, slice; then width, height, depth */
  const uint8_t *mask;              /* MASK: width * height * depth bytes, x fastest, nonzero = inside */
} PrereadLocation;

/* A measurement: ("SCT", "81827009", "Diameter"), 12.3, "mm" (a UCUM unit). */
typedef struct {
  PrereadCode concept;
  double value;
  const char *unit;                 /* UCUM: "mm", "mm3", "[hnsf'U]", "{ratio}" ... */
} PrereadMeasurement;

/* A qualitative evaluation: concept and coded answer, e.g. a category. */
typedef struct {
  PrereadCode concept;
  PrereadCode value;
} PrereadEvaluation;

/* One finding, the model every result object is built from. Start from
 * preread_finding_init(), which sets struct_size; the host reads only what
 * struct_size covers. */
typedef struct {
  uint32_t struct_size;             /* sizeof (PrereadFinding) as the module compiled it */
  PrereadCode type;                 /* what was found */
  double confidence;                /* 0..1; -1 when it does not apply */
  const char *text;                 /* (nullable) free text for the report */
  const char *tracking_id;          /* (nullable) stable name, e.g. "nodule 1" */
  PrereadCode site;                 /* (optional: scheme NULL) anatomical site */
  PrereadLocation location;
  const PrereadMeasurement *measurements;
  uint32_t n_measurements;
  const PrereadEvaluation *evaluations;
  uint32_t n_evaluations;
} PrereadFinding;

/* A finding ready to fill in: zeroed, struct_size set, no confidence
 * (-1), no location, no series (-1). Start every finding from this. */
static inline PrereadFinding
preread_finding_init (void)
{
  PrereadFinding finding;
  memset (&finding, 0, sizeof finding);
  finding.struct_size = (uint32_t) sizeof finding;
  finding.confidence = -1;
  finding.location.shape = PREREAD_SHAPE_NONE;
  finding.location.series_index = -1;
  return finding;
}

/* ---- the host ------------------------------------------------------------- */

/*
 * What the host offers, passed to every callback. Functions are appended in
 * later minor versions; check struct_size (or that the pointer is not NULL)
 * before calling one marked "Added in 1.N" with N above 0.
 *
 * Attributes are DICOM keywords ("Modality", "SliceThickness") or tags
 * ("0018,0050"), returned as text (multiple values joined by '\'), NULL when
 * absent. Indexes start at 0.
 */
typedef struct PrereadHost PrereadHost;
struct PrereadHost {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  void (*log) (PrereadJob *job, PrereadLogLevel level, const char *message);

  /* The study, the selected series, their instances. */
  const char *(*study_attribute) (PrereadJob *job, const char *keyword);
  size_t (*n_series) (PrereadJob *job);
  const char *(*series_attribute) (PrereadJob *job, size_t series, const char *keyword);
  size_t (*n_instances) (PrereadJob *job, size_t series);
  const char *(*instance_attribute) (PrereadJob *job, size_t series, size_t instance, const char *keyword);
  const char *(*instance_path) (PrereadJob *job, size_t series, size_t instance);

  /* Route and analyzer parameters (<parameter name="...">), NULL when unset. */
  const char *(*parameter) (PrereadJob *job, const char *name);

  /* A folder for the analyzer's own files, removed after the job. */
  const char *(*scratch_dir) (PrereadJob *job);

  /* Decodes a series into a volume (slices sorted, modality LUT applied).
   * PREREAD_ERROR_UNSUPPORTED when its transfer syntax cannot be decoded,
   * PREREAD_ERROR_BAD_INPUT when its images do not form a volume (differing
   * sizes or orientations). The volume stays valid until analyze returns. */
  PrereadStatus (*series_volume) (PrereadJob *job, size_t series, PrereadVolume *volume);

  /* The instance (and frame, 1-based, 0 for single-frame) a slice of
   * series_volume() comes from; NULL before series_volume() succeeded. */
  const char *(*volume_slice_instance) (PrereadJob *job, size_t series, uint32_t slice, uint32_t *frame);

  /* Decodes one instance: its frames in frame order as the slices of a
   * volume (one slice for a single-frame image), with that image's
   * geometry. For series whose images do not form one volume: photographs
   * of different sizes, ultrasound clips, a mixed series. Same statuses as
   * series_volume(). */
  PrereadStatus (*instance_frames) (PrereadJob *job, size_t series, size_t instance, PrereadVolume *frames);

  /* Gives back what series_volume() or instance_frames() delivered, before
   * analyze() returns, for modules that walk many images and want their
   * memory back. @volume's pointers are cleared. Optional. */
  void (*release_volume) (PrereadJob *job, PrereadVolume *volume);

  /* Results: copied before returning. */
  PrereadStatus (*add_finding) (PrereadJob *job, const PrereadFinding *finding);
  void (*set_priority) (PrereadJob *job, PrereadPriority priority, const char *summary);

  /* End the job without findings. Both return the status to return from analyze(). */
  PrereadStatus (*decline) (PrereadJob *job, const char *reason);
  PrereadStatus (*fail) (PrereadJob *job, PrereadStatus status, const char *message);

  /* Liveness: a progress report is also the heartbeat the no-progress timeout
   * watches. fraction 0..1, message nullable. */
  void (*progress) (PrereadJob *job, double fraction, const char *message);
  int (*is_cancelled) (PrereadJob *job);

  /* Added in 1.1 and later: appended here. */
};

/* ---- the module ----------------------------------------------------------- */

/* Flags. */
#define PREREAD_ANALYZER_THREAD_SAFE (1u << 0) /* analyze() may run concurrently in one process */

typedef struct {
  uint32_t struct_size;             /* sizeof (PrereadAnalyzerDescriptor) as compiled */
  uint16_t abi_major;               /* PREREAD_ANALYZER_ABI_MAJOR as compiled */
  uint16_t abi_minor;
  const char *name;                 /* [a-z0-9-]+, the name configurations use */
  const char *version;              /* the analyzer's own version, e.g. "2.1.0" */
  const char *vendor;
  const char *license;
  const char *description;          /* one line */
  uint32_t flags;                   /* PREREAD_ANALYZER_* */

  /* Once per process, before any analyze; may be NULL. *state is passed to
   * analyze and finish. */
  PrereadStatus (*init) (const PrereadHost *host, void **state);
  /* Once per job. Return PREREAD_OK (findings added), PREREAD_DECLINED, or
   * an error status. */
  PrereadStatus (*analyze) (void *state, PrereadJob *job, const PrereadHost *host);
  /* Once, if init succeeded; may be NULL. */
  void (*finish) (void *state);

  void *reserved[8];                /* must be NULL */
} PrereadAnalyzerDescriptor;

typedef const PrereadAnalyzerDescriptor *(*PrereadAnalyzerEntry) (void);

/*
 * Defines the module's descriptor and its exported entry point. Use once,
 * at file scope. Positional, because designated initialisers are not C++
 * before C++20.
 */
#define PREREAD_ANALYZER_DEFINE(name, version, vendor, license, description, flags, init, analyze, finish)  \
  PREREAD_ANALYZER_EXTERN_C PREREAD_ANALYZER_EXPORT const PrereadAnalyzerDescriptor *preread_analyzer_entry (void); \
  static const PrereadAnalyzerDescriptor preread_analyzer_descriptor_ = {                                     \
    sizeof (PrereadAnalyzerDescriptor), PREREAD_ANALYZER_ABI_MAJOR, PREREAD_ANALYZER_ABI_MINOR,               \
    name, version, vendor, license, description, flags, init, analyze, finish,                               \
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }                                                         \
  };                                                                                                          \
  PREREAD_ANALYZER_EXTERN_C PREREAD_ANALYZER_EXPORT const PrereadAnalyzerDescriptor *preread_analyzer_entry (void) \
  {                                                                                                           \
    return &preread_analyzer_descriptor_;                                                                     \
  }

#ifdef __cplusplus
}
#endif

#endif /* PREREAD_ANALYZER_H */
