/*
 * contract.c: a test module that exercises every host function of ABI 1.0
 * and reports what it saw, one finding per observation (type value = the
 * observation's name, text = what it saw), for tests/test-analyzers.c to
 * compare with what the host must answer. It also adds a volume mask and
 * checks the host's refusals of malformed findings.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <preread-analyzer.h>

static void
observe (PrereadJob *job, const PrereadHost *host, const char *name, const char *value)
{
  PrereadFinding f = preread_finding_init ();
  PrereadCode type = { "99TEST", name, "Observation" };
  f.type = type;
  f.text = value ? value : "(null)";
  f.tracking_id = name;
  host->add_finding (job, &f);
}

static void
observef (PrereadJob *job, const PrereadHost *host, const char *name, const char *format, double a, double b,
          double c)
{
  char text[256];
  snprintf (text, sizeof text, format, a, b, c);
  observe (job, host, name, text);
}

static const char *
status_name (PrereadStatus s)
{
  switch (s)
    {
    case PREREAD_OK: return "OK";
    case PREREAD_DECLINED: return "DECLINED";
    case PREREAD_ERROR_FAILED: return "FAILED";
    case PREREAD_ERROR_BAD_INPUT: return "BAD_INPUT";
    case PREREAD_ERROR_UNSUPPORTED: return "UNSUPPORTED";
    case PREREAD_ERROR_CANCELLED: return "CANCELLED";
    case PREREAD_ERROR_NO_MEMORY: return "NO_MEMORY";
    case PREREAD_ERROR_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case PREREAD_ERROR_INVALID: return "INVALID";
    default: return "?";
    }
}

typedef struct {
  PrereadJob *job;
  const PrereadHost *host;
  int mismatches;
} ThreadWork;

/* Host functions from the module's own threads, at once. */
static void *
hammer (void *data)
{
  ThreadWork *w = data;
  const char *expected = w->host->study_attribute (w->job, "PatientID");
  for (int i = 0; i < 2000; i++)
    {
      const char *id = w->host->study_attribute (w->job, "PatientID");
      const char *number = w->host->instance_attribute (w->job, 0, (size_t) (i % 5), "InstanceNumber");
      if (id != expected || number == NULL)
        w->mismatches++;
      w->host->progress (w->job, 0.5, "threads");
    }
  return NULL;
}

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  char text[512];
  observef (job, host, "init-state", "%g", state == (void *) host ? 1 : 0, 0, 0);
  observef (job, host, "abi", "%g.%g", host->abi_major, host->abi_minor, 0);
  observef (job, host, "host-struct-size-ok", "%g", host->struct_size >= sizeof (PrereadHost), 0, 0);

  /* Attributes: by keyword, by tag, absent, nonsense. */
  observe (job, host, "study-patient-id", host->study_attribute (job, "PatientID"));
  observe (job, host, "study-patient-id-by-tag", host->study_attribute (job, "0010,0020"));
  observe (job, host, "study-absent", host->study_attribute (job, "PerformedProcedureStepID"));
  observe (job, host, "study-nonsense", host->study_attribute (job, "NoSuchKeyword"));
  observe (job, host, "series-modality", host->series_attribute (job, 0, "Modality"));
  observe (job, host, "series-out-of-range", host->series_attribute (job, 7, "Modality"));
  observef (job, host, "n-series", "%g", (double) host->n_series (job), 0, 0);
  observef (job, host, "n-instances", "%g", (double) host->n_instances (job, 0), 0, 0);
  observe (job, host, "instance-0-number", host->instance_attribute (job, 0, 0, "InstanceNumber"));
  observe (job, host, "instance-out-of-range", host->instance_attribute (job, 0, 100000, "InstanceNumber"));
  const char *path = host->instance_path (job, 0, 0);
  observef (job, host, "instance-path-readable", "%g", path != NULL && access (path, R_OK) == 0, 0, 0);
  observe (job, host, "parameter-greeting", host->parameter (job, "greeting"));
  observe (job, host, "parameter-absent", host->parameter (job, "no-such-parameter"));

  /* Scratch space. */
  const char *scratch = host->scratch_dir (job);
  snprintf (text, sizeof text, "%s/probe.txt", scratch ? scratch : "/nonexistent");
  FILE *f = fopen (text, "w");
  observef (job, host, "scratch-writable", "%g", f != NULL && fputs ("x", f) >= 0 && fclose (f) == 0, 0, 0);

  /* Volumes: a struct too short to be 1.0, a series that does not exist, then the real one. */
  PrereadVolume tiny = preread_volume_init ();
  tiny.struct_size = 8;
  observe (job, host, "volume-short-struct", status_name (host->series_volume (job, 0, &tiny)));
  PrereadVolume missing = preread_volume_init ();
  observe (job, host, "volume-out-of-range", status_name (host->series_volume (job, 42, &missing)));
  PrereadVolume v = preread_volume_init ();
  PrereadStatus status = host->series_volume (job, 0, &v);
  observe (job, host, "volume-status", status_name (status));
  if (status != PREREAD_OK)
    return host->fail (job, status, "the contract test needs a volume");
  observef (job, host, "volume-size", "%gx%gx%g", v.columns, v.rows, v.slices);
  observef (job, host, "volume-spacing", "%.2f %.2f %.2f", v.spacing[0], v.spacing[1], v.spacing[2]);
  observef (job, host, "volume-normal", "%g %g %g", v.normal[0], v.normal[1], v.normal[2]);
  observef (job, host, "volume-samples-flags", "%g %g", v.samples_per_pixel, v.flags, 0);
  int ascending = 1;
  for (uint32_t z = 1; z < v.slices; z++)
    ascending &= v.slice_positions[z] > v.slice_positions[z - 1];
  observef (job, host, "volume-positions-ascending", "%g", ascending, 0, 0);
  observef (job, host, "volume-origin-z", "%.2f", v.origin[2], 0, 0);
  /* Mean of a 4x4 corner (air) of the middle slice: Hounsfield units, not stored values. */
  double sum = 0;
  size_t plane = (size_t) v.columns * v.rows;
  for (uint32_t y = 0; y < 4; y++)
    for (uint32_t x = 0; x < 4; x++)
      sum += v.voxels[(v.slices / 2) * plane + y * v.columns + x];
  observef (job, host, "volume-corner-hu", "%.0f", sum / 16, 0, 0);
  uint32_t frame = 99;
  const char *first = host->volume_slice_instance (job, 0, 0, &frame);
  observef (job, host, "slice-0-frame", "%g", frame, 0, 0);
  /* Which instance the first (lowest) slice is: find its InstanceNumber. */
  const char *first_number = NULL;
  for (size_t i = 0; first && i < host->n_instances (job, 0); i++)
    {
      const char *uid = host->instance_attribute (job, 0, i, "SOPInstanceUID");
      if (uid && strcmp (uid, first) == 0)
        first_number = host->instance_attribute (job, 0, i, "InstanceNumber");
    }
  observe (job, host, "slice-0-instance-number", first_number);
  observe (job, host, "slice-out-of-range", host->volume_slice_instance (job, 0, v.slices, NULL));

  /* Findings the host must refuse, each for one reason. */
  PrereadFinding bad = preread_finding_init ();
  PrereadCode nodule = { "SCT", "27925004", "Nodule" };
  bad.type = nodule;
  bad.confidence = NAN;
  observe (job, host, "refuse-nan-confidence", status_name (host->add_finding (job, &bad)));
  bad.confidence = 0.5;
  float two[4] = { 1, 1, 2, 2 };
  bad.location.shape = PREREAD_SHAPE_POLYGON;
  bad.location.sop_instance_uid = first;
  bad.location.points = two;
  bad.location.n_points = 2;
  observe (job, host, "refuse-polygon-2-points", status_name (host->add_finding (job, &bad)));
  bad.location.shape = PREREAD_SHAPE_POINT;
  bad.location.n_points = 1;
  bad.location.sop_instance_uid = "1.2.3.4.5.6.7.8.9";
  observe (job, host, "refuse-unknown-image", status_name (host->add_finding (job, &bad)));
  float outside[2] = { (float) v.columns + 5, 1 };
  bad.location.sop_instance_uid = first;
  bad.location.points = outside;
  observe (job, host, "refuse-point-outside", status_name (host->add_finding (job, &bad)));
  PrereadFinding no_type = preread_finding_init ();
  observe (job, host, "refuse-no-type", status_name (host->add_finding (job, &no_type)));
  PrereadFinding old = preread_finding_init ();
  old.type = nodule;
  old.struct_size = 16;
  observe (job, host, "refuse-short-struct", status_name (host->add_finding (job, &old)));

  /* A good 2D finding with a measurement and an evaluation. */
  PrereadFinding good = preread_finding_init ();
  good.type = nodule;
  good.confidence = 0.875;
  good.text = "A nodule, line one\nline two";
  good.tracking_id = "nodule 1";
  PrereadCode lung = { "SCT", "39607008", "Lung structure" };
  good.site = lung;
  float circle[4] = { 10.5f, 10.5f, 14.5f, 10.5f };
  good.location.shape = PREREAD_SHAPE_CIRCLE;
  good.location.sop_instance_uid = first;
  good.location.points = circle;
  good.location.n_points = 2;
  PrereadMeasurement diameter = { { "SCT", "81827009", "Diameter" }, 8.0, "mm" };
  good.measurements = &diameter;
  good.n_measurements = 1;
  PrereadEvaluation category = { { "99TEST", "category", "Category" }, { "99TEST", "4A", "Category 4A" } };
  good.evaluations = &category;
  good.n_evaluations = 1;
  observe (job, host, "accept-circle", status_name (host->add_finding (job, &good)));

  /* A 3D point and a volume mask: a 3x2x2 box, 5 voxels inside. */
  PrereadFinding point3d = preread_finding_init ();
  point3d.type = nodule;
  float p3[3] = { 1.5f, -2.5f, -10.0f };
  point3d.location.shape = PREREAD_SHAPE_POINT_3D;
  point3d.location.points = p3;
  point3d.location.n_points = 1;
  observe (job, host, "accept-point-3d", status_name (host->add_finding (job, &point3d)));
  PrereadFinding mask = preread_finding_init ();
  mask.type = nodule;
  uint8_t bits[12] = { 1, 0, 1, 0, 1, 0, 0, 0, 0, 9, 0, 255 };
  mask.location.shape = PREREAD_SHAPE_MASK;
  mask.location.series_index = 0;
  mask.location.mask_box[0] = 2;
  mask.location.mask_box[1] = 3;
  mask.location.mask_box[2] = 1;
  mask.location.mask_box[3] = 3;
  mask.location.mask_box[4] = 2;
  mask.location.mask_box[5] = 2;
  mask.location.mask = bits;
  observe (job, host, "accept-mask", status_name (host->add_finding (job, &mask)));
  mask.location.mask_box[2] = v.slices - 1; /* depth 2 from the last slice: beyond the volume */
  observe (job, host, "refuse-mask-outside", status_name (host->add_finding (job, &mask)));

  /* Threads. */
  pthread_t threads[4];
  ThreadWork work[4];
  for (int i = 0; i < 4; i++)
    {
      work[i].job = job;
      work[i].host = host;
      work[i].mismatches = 0;
      pthread_create (&threads[i], NULL, hammer, &work[i]);
    }
  int mismatches = 0;
  for (int i = 0; i < 4; i++)
    {
      pthread_join (threads[i], NULL);
      mismatches += work[i].mismatches;
    }
  observef (job, host, "thread-mismatches", "%g", mismatches, 0, 0);

  /* One instance's frames, then given back; the series volume comes back on request. */
  PrereadVolume frames = preread_volume_init ();
  status = host->instance_frames (job, 0, 2, &frames);
  observe (job, host, "frames-status", status_name (status));
  observef (job, host, "frames-size", "%gx%gx%g", frames.columns, frames.rows, frames.slices);
  PrereadVolume nowhere = preread_volume_init ();
  observe (job, host, "frames-out-of-range", status_name (host->instance_frames (job, 0, 999, &nowhere)));
  host->release_volume (job, &frames);
  observef (job, host, "frames-released", "%g", frames.voxels == NULL, 0, 0);
  host->release_volume (job, &v);
  PrereadVolume again = preread_volume_init ();
  observe (job, host, "volume-after-release", status_name (host->series_volume (job, 0, &again)));

  /* Nothing of the daemon's reaches us: no sockets, no index, no spool
   * files open (stdin, stdout, stderr and the progress pipe are ours). */
  char inherited[256] = "";
  for (int fd = 3; fd < 256; fd++)
    {
      char link[64], target[256];
      snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t n = readlink (link, target, sizeof target - 1);
      if (n < 0)
        continue;
      target[n] = '\0';
      if (strncmp (target, "pipe:", 5) == 0 || strstr (target, "analyzer.log") != NULL)
        continue;
      if (strlen (inherited) + strlen (target) + 2 < sizeof inherited)
        {
          strcat (inherited, target);
          strcat (inherited, " ");
        }
    }
  observe (job, host, "inherited-descriptors", inherited);
  observef (job, host, "cancelled", "%g", host->is_cancelled (job), 0, 0);

  host->log (job, PREREAD_LOG_INFO, "contract: all observations made");
  host->progress (job, 1.0, "done");
  const char *priority = host->parameter (job, "priority");
  host->set_priority (job, priority && strcmp (priority, "critical") == 0 ? PREREAD_PRIORITY_CRITICAL
                                                                            : PREREAD_PRIORITY_URGENT,
                      "contract: line one\nline two");
  return PREREAD_OK;
}

static PrereadStatus
init (const PrereadHost *host, void **state)
{
  *state = (void *) host;
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("contract", "1.2.3", "preread tests", "MIT", "Exercises every host function", 0, init,
                         analyze, NULL)
