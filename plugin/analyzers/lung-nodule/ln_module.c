/*
 * ln_module.c: the lung-nodule analyzer's entry point.
 *
 * Chooses the series (ln_series.c), runs the pipeline (ln_pipeline.c) and
 * turns each nodule into findings for the result objects:
 *
 *   - the nodule on its key slice: the outline polygon on the image where
 *     it is largest, with long axis, short axis, mean diameter, volume, mean
 *     and spread of attenuation (and the solid component's diameter for a
 *     part-solid nodule), Lung-RADS category, attenuation type, laterality
 *     and attachment as coded evaluations, the lobe as the site, the
 *     classifier's probability as the confidence;
 *   - the same nodule's centre as a 3D point in patient coordinates, with
 *     the same tracking identifier (a second measurement group of the same
 *     lesion, so that the structured report links them);
 *   - one study-level finding with the study's Lung-RADS category.
 *
 * A study with a Lung-RADS 4B or 4X nodule, or a mass (30 mm or more), is
 * urgent. Parameters (route <parameter> or preread analyze --param):
 *
 *   min-confidence        report candidates at least this probable
 *                         (default: the trained operating point)
 *   min-diameter-mm       report nodules at least this large, mean axial
 *                         diameter (default 3: below the 4 mm Lung-RADS
 *                         counts, with room for partial-volume undersizing)
 *   max-nodules           report at most this many (default 20)
 *   max-slice-thickness   thicker series are declined (default 6 mm)
 *   max-candidates        segment at most this many blobs (default 1500;
 *                         thinner slices than 2.5 mm get proportionally
 *                         fewer, at least 40 %)
 *   dump-candidates       1: log every candidate's features (training);
 *                         2: only the triage's, and stop after detection
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <preread-analyzer.h>

#include "ln_nodule.h"
#include "ln_series.h"

/* Raised whenever what it reports changes, so that results name the model
 * that made them. 1.1.0: the classifier retrained without the rounding skew
 * (EVALUATION.md), 400 trees of depth 5. */
#define LN_VERSION "1.1.0"
#define SCHEME "99PREREAD"
/* Blobs segmented per scan: the time budget (a few milliseconds each),
 * after the triage; ln_pipeline.c scales it down on thin slices. */
#define LN_DEFAULT_MAX_CANDIDATES 1500
#define LN_DEFAULT_MIN_DIAMETER_MM 3.0

typedef struct {
  const PrereadHost *host;
  PrereadJob *job;
} Bridge;

static int
bridge_progress (void *opaque, double fraction, const char *message)
{
  Bridge *b = opaque;
  b->host->progress (b->job, fraction, message);
  return b->host->is_cancelled (b->job);
}

static void
bridge_log (void *opaque, int level, const char *message)
{
  Bridge *b = opaque;
  b->host->log (b->job, level == LN_LOG_WARNING ? PREREAD_LOG_WARNING
                          : level == LN_LOG_INFO  ? PREREAD_LOG_INFO
                                                  : PREREAD_LOG_DEBUG,
                message);
}

static double
param_double (const PrereadHost *host, PrereadJob *job, const char *name, double fallback)
{
  const char *text = host->parameter (job, name);
  if (text == NULL || *text == '\0')
    return fallback;
  char *end = NULL;
  double v = strtod (text, &end);
  return end != text && isfinite (v) ? v : fallback;
}

/* ---- codes --------------------------------------------------------------------- */

static const PrereadCode code_nodule = { "SCT", "27925004", "Nodule" };
static const PrereadCode code_mass = { "SCT", "4147007", "Mass" };

/* SNOMED CT body structures, by side (the lobe model is approximate: the
 * text says so). */
static PrereadCode
lobe_code (const LnNodule *n)
{
  if (n->side == LN_SIDE_LEFT)
    switch (n->lobe)
      {
      case LN_LOBE_UPPER:
      case LN_LOBE_MIDDLE: return (PrereadCode) { "SCT", "44714003", "Upper lobe of left lung" };
      case LN_LOBE_LOWER: return (PrereadCode) { "SCT", "41224006", "Lower lobe of left lung" };
      default: return (PrereadCode) { "SCT", "44029006", "Left lung" };
      }
  switch (n->lobe)
    {
    case LN_LOBE_UPPER: return (PrereadCode) { "SCT", "42400003", "Upper lobe of right lung" };
    case LN_LOBE_MIDDLE: return (PrereadCode) { "SCT", "72481006", "Middle lobe of right lung" };
    case LN_LOBE_LOWER: return (PrereadCode) { "SCT", "266005", "Lower lobe of right lung" };
    default: return (PrereadCode) { "SCT", "3341006", "Right lung" };
    }
}

static const char *
lobe_abbreviation (const LnNodule *n)
{
  static const char *const right[] = { "R lung", "RUL", "RML", "RLL" };
  static const char *const left[] = { "L lung", "LUL", "LUL", "LLL" };
  return n->side == LN_SIDE_LEFT ? left[n->lobe] : right[n->lobe];
}

static const char *
lobe_words (const LnNodule *n)
{
  static const char *const right[] = { "right lung", "right upper lobe", "right middle lobe", "right lower lobe" };
  static const char *const left[] = { "left lung", "left upper lobe", "left upper lobe", "left lower lobe" };
  return n->side == LN_SIDE_LEFT ? left[n->lobe] : right[n->lobe];
}

static const char *
type_words (LnType t)
{
  return t == LN_TYPE_SOLID ? "solid" : t == LN_TYPE_PART_SOLID ? "part-solid" : "ground-glass";
}

static PrereadCode
type_code (LnType t)
{
  switch (t)
    {
    case LN_TYPE_SOLID: return (PrereadCode) { SCHEME, "solid", "Solid" };
    case LN_TYPE_PART_SOLID: return (PrereadCode) { SCHEME, "part-solid", "Part-solid" };
    default: return (PrereadCode) { "DCM", "112120", "Ground glass opacity" };
    }
}

static PrereadCode
category_code (LnCategory c)
{
  static const char *const values[] = { "lungrads-0", "lungrads-1", "lungrads-2", "lungrads-3",
                                        "lungrads-4A", "lungrads-4B", "lungrads-4X" };
  return (PrereadCode) { SCHEME, values[c], ln_lungrads_meaning (c) };
}

static const PrereadCode concept_lungrads = { SCHEME, "lungrads-v2022", "Lung-RADS v2022 category" };

static int
is_mass (const LnNodule *n)
{
  return n->mean_diameter >= LN_MASS_MM;
}

/* ---- findings ------------------------------------------------------------------- */

static PrereadStatus
add_nodule (const PrereadHost *host, PrereadJob *job, int series, const LnScan *scan, const LnNodule *n, int number)
{
  char tracking[32], text[1024];
  snprintf (tracking, sizeof tracking, "nodule %d", number);
  const char *attach = n->attachment == LN_ATTACH_PLEURA ? "juxtapleural"
                       : n->attachment == LN_ATTACH_VESSEL ? "vessel-attached"
                                                           : "isolated";
  int len = snprintf (text, sizeof text,
                      "%s %s%s, mean diameter %.1f mm (%.1f x %.1f mm on image %d), volume %.0f mm3, %s "
                      "(approximate lobe), %s.",
                      is_mass (n) ? "Mass," : "Nodule,", n->calcified ? "calcified " : "", type_words (n->type),
                      n->mean_diameter, n->long_axis, n->short_axis, n->key_slice + 1, n->volume, lobe_words (n),
                      attach);
  if (n->type == LN_TYPE_PART_SOLID && len > 0 && (size_t) len < sizeof text)
    len += snprintf (text + len, sizeof text - (size_t) len, " Solid component %.1f mm.", n->solid_diameter);
  if (len > 0 && (size_t) len < sizeof text)
    snprintf (text + len, sizeof text - (size_t) len, " %s; %s.", ln_lungrads_meaning ((LnCategory) n->category),
              ln_lungrads_management ((LnCategory) n->category));

  PrereadMeasurement m[8];
  int nm = 0;
  m[nm++] = (PrereadMeasurement) { { "SCT", "103339001", "Long axis" }, n->long_axis, "mm" };
  m[nm++] = (PrereadMeasurement) { { "SCT", "103340004", "Short axis" }, n->short_axis, "mm" };
  m[nm++] = (PrereadMeasurement) { { "SCT", "81827009", "Diameter" }, n->mean_diameter, "mm" };
  m[nm++] = (PrereadMeasurement) { { "SCT", "118565006", "Volume" }, n->volume, "mm3" };
  m[nm++] = (PrereadMeasurement) { { "DCM", "112181", "Mean Attenuation Coefficient" }, n->hu_mean, "[hnsf'U]" };
  m[nm++] = (PrereadMeasurement) {
    { "DCM", "112183", "Standard Deviation of Attenuation Coefficient" }, n->hu_sd, "[hnsf'U]"
  };
  if (n->type == LN_TYPE_PART_SOLID)
    m[nm++] = (PrereadMeasurement) {
      { SCHEME, "solid-component-diameter", "Solid component mean diameter" }, n->solid_diameter, "mm"
    };

  PrereadEvaluation e[6];
  int ne = 0;
  e[ne++] = (PrereadEvaluation) { concept_lungrads, category_code ((LnCategory) n->category) };
  e[ne++] = (PrereadEvaluation) { { SCHEME, "attenuation-type", "Nodule attenuation type" }, type_code (n->type) };
  e[ne++] = (PrereadEvaluation) {
    { "SCT", "272741003", "Laterality" },
    n->side == LN_SIDE_LEFT ? (PrereadCode) { "SCT", "7771000", "Left" } : (PrereadCode) { "SCT", "24028007", "Right" }
  };
  e[ne++] = (PrereadEvaluation) {
    { SCHEME, "attachment", "Attachment" },
    n->attachment == LN_ATTACH_PLEURA   ? (PrereadCode) { SCHEME, "juxtapleural", "Juxtapleural" }
    : n->attachment == LN_ATTACH_VESSEL ? (PrereadCode) { SCHEME, "vessel-attached", "Vessel-attached" }
                                        : (PrereadCode) { SCHEME, "isolated", "Isolated" }
  };
  if (n->calcified)
    e[ne++] = (PrereadEvaluation) { { SCHEME, "calcification", "Calcification" },
                                    { "SCT", "237897009", "Calcified" } };

  PrereadFinding f = preread_finding_init ();
  f.type = is_mass (n) ? code_mass : code_nodule;
  f.confidence = n->probability;
  f.text = text;
  f.tracking_id = tracking;
  f.site = lobe_code (n);
  uint32_t frame = 0;
  f.location.shape = PREREAD_SHAPE_POLYGON;
  f.location.sop_instance_uid = host->volume_slice_instance (job, (size_t) series, (uint32_t) n->key_slice, &frame);
  f.location.frame = frame;
  f.location.points = n->outline;
  f.location.n_points = (uint32_t) n->n_outline;
  f.measurements = m;
  f.n_measurements = (uint32_t) nm;
  f.evaluations = e;
  f.n_evaluations = (uint32_t) ne;
  PrereadStatus status = host->add_finding (job, &f);
  if (status != PREREAD_OK)
    return status;

  /* The centre, in 3D. */
  char centre_text[160];
  snprintf (centre_text, sizeof centre_text, "Centre of %s (patient coordinates, mm).", tracking);
  float point[3] = { (float) n->centre[0], (float) n->centre[1], (float) n->centre[2] };
  PrereadFinding c = preread_finding_init ();
  c.type = f.type;
  c.confidence = n->probability;
  c.text = centre_text;
  c.tracking_id = tracking;
  c.site = f.site;
  c.location.shape = PREREAD_SHAPE_POINT_3D;
  c.location.points = point;
  c.location.n_points = 1;
  (void) scan;
  return host->add_finding (job, &c);
}

static void
summary_line (const LnResult *r, char *out, size_t len)
{
  if (r->n_nodules == 0)
    {
      snprintf (out, len, "No lung nodule found, Lung-RADS %s%s", ln_lungrads_name (r->study_category),
                r->incomplete ? " (lungs not fully imaged)" : "");
      return;
    }
  /* The most suspicious first; name the largest too when it differs. */
  const LnNodule *top = &r->nodules[0];
  int masses = 0;
  for (int i = 0; i < r->n_nodules; i++)
    masses += is_mass (&r->nodules[i]);
  snprintf (out, len, "%d %s%s, %s %.0f mm %s %s, Lung-RADS %s", r->n_nodules,
            r->n_nodules == 1 ? (masses ? "mass" : "nodule") : "nodules", masses && r->n_nodules > 1 ? " (mass)" : "",
            r->n_nodules == 1 ? "" : "most suspicious", top->mean_diameter, type_words (top->type),
            lobe_abbreviation (top), ln_lungrads_name (r->study_category));
}

static PrereadStatus
add_study (const PrereadHost *host, PrereadJob *job, const LnResult *r, const char *series_text, double thickness)
{
  char text[1024];
  int len = snprintf (text, sizeof text, "%s; %s. %d nodule(s) reported from %d candidates; lungs %.0f mL, read on %s.",
                      ln_lungrads_meaning (r->study_category), ln_lungrads_management (r->study_category),
                      r->n_nodules, r->n_candidates, r->lung_volume_ml, series_text);
  if (r->incomplete && len > 0 && (size_t) len < sizeof text)
    len += snprintf (text + len, sizeof text - (size_t) len, " The lungs are not fully imaged.");
  if (thickness > 2.5 && len > 0 && (size_t) len < sizeof text)
    len += snprintf (text + len, sizeof text - (size_t) len,
                     " Slices of %.1f mm: Lung-RADS assumes 2.5 mm or less; small nodules may be missed or undersized.",
                     thickness);
  if (len > 0 && (size_t) len < sizeof text)
    snprintf (text + len, sizeof text - (size_t) len,
              " Lobes are approximate (geometric model, no fissure detection); category 4X, perifissural nodules "
              "and comparison with prior studies are left to the radiologist.");
  PrereadEvaluation e = { concept_lungrads, category_code (r->study_category) };
  PrereadFinding f = preread_finding_init ();
  f.type = (PrereadCode) { SCHEME, "lung-screening-assessment", "Lung cancer screening assessment" };
  f.text = text;
  f.tracking_id = "study";
  f.evaluations = &e;
  f.n_evaluations = 1;
  return host->add_finding (job, &f);
}

/* ---- analyze ------------------------------------------------------------------ */

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  Bridge bridge = { host, job };
  LnMonitor monitor = { &bridge, bridge_progress, bridge_log };
  LnParams params = {
    .min_probability = param_double (host, job, "min-confidence", ln_classifier_threshold ()),
    .min_diameter_mm = param_double (host, job, "min-diameter-mm", LN_DEFAULT_MIN_DIAMETER_MM),
    .max_nodules = (int) param_double (host, job, "max-nodules", 20),
    .max_candidates = (int) param_double (host, job, "max-candidates", LN_DEFAULT_MAX_CANDIDATES),
    .dump_candidates = (int) param_double (host, job, "dump-candidates", 0),
  };
  double max_thickness = param_double (host, job, "max-slice-thickness", LN_DEFAULT_MAX_THICKNESS_MM);

  size_t n_series = host->n_series (job);
  int *order = calloc (n_series > 0 ? n_series : 1, sizeof *order);
  char why[2048] = "", reason[512] = "";
  if (order == NULL)
    return host->fail (job, PREREAD_ERROR_NO_MEMORY, "out of memory");
  int n = ln_series_rank (host, job, max_thickness, order, why, sizeof why);
  if (n == 0)
    {
      free (order);
      char message[2200];
      snprintf (message, sizeof message, "not a chest CT: %s", why);
      return host->decline (job, message);
    }

  /* The best series that loads and shows lungs. */
  PrereadVolume volume = preread_volume_init ();
  LnScan scan;
  LnResult result;
  int chosen = -1;
  char series_text[256] = "";
  why[0] = '\0';
  for (int i = 0; i < n && chosen < 0; i++)
    {
      ln_series_describe (host, job, order[i], series_text, sizeof series_text);
      host->log (job, PREREAD_LOG_INFO, series_text);
      reason[0] = '\0';
      int rc = ln_series_load (host, job, order[i], &volume, &scan, reason, sizeof reason);
      if (rc < 0)
        {
          free (order);
          return host->fail (job, PREREAD_ERROR_FAILED, reason);
        }
      if (rc == 0)
        {
          if (scan.tilted || scan.uneven)
            {
              char note[160];
              snprintf (note, sizeof note, "resampled to a regular grid (%s%s)", scan.tilted ? "gantry tilt " : "",
                        scan.uneven ? "uneven spacing" : "");
              host->log (job, PREREAD_LOG_INFO, note);
            }
          rc = ln_pipeline_run (&scan, &params, &monitor, &result, reason, sizeof reason);
          if (rc < 0)
            {
              ln_scan_free (&scan);
              free (order);
              if (host->is_cancelled (job))
                return PREREAD_ERROR_CANCELLED;
              return host->fail (job, PREREAD_ERROR_FAILED, reason);
            }
          if (rc == 0)
            {
              chosen = order[i];
              break;
            }
          ln_scan_free (&scan);
        }
      size_t used = strlen (why);
      snprintf (why + used, sizeof why - used, "%s%s: %s", used ? "; " : "", series_text, reason);
      if (host->release_volume != NULL)
        host->release_volume (job, &volume);
      volume = preread_volume_init ();
    }
  free (order);
  if (chosen < 0)
    {
      char message[2200];
      snprintf (message, sizeof message, "not a chest CT that can be read: %s", why);
      return host->decline (job, message);
    }

  char line[256];
  snprintf (line, sizeof line, "%d nodule(s) from %d candidates in %.1f s; study Lung-RADS %s", result.n_nodules,
            result.n_candidates, result.seconds, ln_lungrads_name (result.study_category));
  host->log (job, PREREAD_LOG_INFO, line);

  PrereadStatus status = PREREAD_OK;
  int urgent = 0;
  for (int i = 0; i < result.n_nodules && status == PREREAD_OK; i++)
    {
      const LnNodule *nod = &result.nodules[i];
      urgent |= nod->category == LN_LR_4B || nod->category == LN_LR_4X || is_mass (nod);
      status = add_nodule (host, job, chosen, &scan, nod, i + 1);
    }
  if (status == PREREAD_OK)
    status = add_study (host, job, &result, series_text, scan.img.sp[2] > scan.thickness ? scan.img.sp[2]
                                                                                          : scan.thickness);
  char summary[256];
  summary_line (&result, summary, sizeof summary);
  host->set_priority (job, urgent ? PREREAD_PRIORITY_URGENT : PREREAD_PRIORITY_ROUTINE, summary);
  ln_result_free (&result);
  ln_scan_free (&scan);
  host->progress (job, 1.0, "done");
  if (status != PREREAD_OK)
    return host->fail (job, status, "the host refused a finding (see the log)");
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("lung-nodule", LN_VERSION, "preread", "MIT",
                         "Lung nodules on chest CT: detection, measurements, Lung-RADS v2022",
                         PREREAD_ANALYZER_THREAD_SAFE, NULL, analyze, NULL)
