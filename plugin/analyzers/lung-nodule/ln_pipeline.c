/*
 * ln_pipeline.c: the stages in order.
 *
 *   lungs (0-15 %) -> blob candidates (15-55 %) -> per candidate:
 *   segmentation, measurements, features, probability (55-97 %) ->
 *   one nodule per blob (overlapping segmentations merge) -> side, lobe,
 *   Lung-RADS -> most suspicious first.
 *
 * Candidates below the operating point are dropped; with a dump requested
 * every segmented candidate is logged with its features, which is how
 * eval/ln-train.py collects training data from real runs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ln_nodule.h"


static double
seconds_now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Whether nodule @a's centre lies in @b's segmentation box, or the two are
 * closer than half the larger one: the same lesion found twice. */
static int
same_lesion (const LnNodule *a, const LnNodule *b)
{
  int inside = 1;
  for (int k = 0; k < 3; k++)
    if (a->g[k] < b->box[k] - 0.5 || a->g[k] > b->box[k + 3] - 0.5)
      inside = 0;
  if (inside)
    return 1;
  double d2 = 0;
  for (int k = 0; k < 3; k++)
    d2 += (a->centre[k] - b->centre[k]) * (a->centre[k] - b->centre[k]);
  double r = 0.5 * fmax (a->mean_diameter, b->mean_diameter);
  return d2 < r * r;
}

static int
by_probability (const void *pa, const void *pb)
{
  const LnNodule *a = pa, *b = pb;
  return a->probability > b->probability ? -1 : a->probability < b->probability;
}

static int
by_suspicion (const void *pa, const void *pb)
{
  const LnNodule *a = pa, *b = pb;
  if (a->category != b->category)
    return b->category - a->category;
  if (a->mean_diameter != b->mean_diameter)
    return a->mean_diameter > b->mean_diameter ? -1 : 1;
  return a->probability > b->probability ? -1 : a->probability < b->probability;
}

/* Features are written with %.17g, which reads back as the very double the
 * classifier compared: a tree trained on rounded values puts its thresholds
 * on them, and the exact value of every candidate at that threshold (all
 * of one detection scale, say) then falls on the other side. */
static void
dump (const LnMonitor *m, const LnNodule *n)
{
  char line[1024];
  int len = snprintf (line, sizeof line, "ln-candidate\t%.2f\t%.2f\t%.2f\t%.2f\t%.4f\t%d", n->centre[0],
                      n->centre[1], n->centre[2], n->mean_diameter, n->probability, (int) n->type);
  for (int k = 0; k < LN_N_FEATURES && len > 0 && (size_t) len < sizeof line; k++)
    len += snprintf (line + len, sizeof line - (size_t) len, "\t%.17g", n->features[k]);
  if (m && m->log)
    m->log (m->opaque, LN_LOG_DEBUG, line);
}

int
ln_pipeline_run (const LnScan *scan, const LnParams *params, const LnMonitor *m, LnResult *out, char *why,
                 size_t why_len)
{
  memset (out, 0, sizeof *out);
  double t0 = seconds_now ();
  LnLungs lungs;
  if (ln_progress (m, 0.0, "segmenting the lungs") != 0)
    return -1;
  int rc = ln_lungs_segment (scan, m, &lungs, why, why_len);
  if (rc != 0)
    return rc;
  ln_logf (m, LN_LOG_INFO,
           "lungs in %.1f s: %.0f mL (right %.0f, left %.0f), parenchyma %.0f HU, noise index %.1f HU (smoothed by %.2f pixel), %s%s",
           seconds_now () - t0, lungs.volume_ml[0], lungs.volume_ml[1], lungs.volume_ml[2], lungs.parenchyma_hu, lungs.noise_hu,
           lungs.smooth_px, lungs.cut_apex ? "apex cut off, " : "", lungs.cut_base ? "base cut off" : "complete coverage");
  out->lung_volume_ml = lungs.volume_ml[0];
  out->incomplete = lungs.cut_apex || lungs.cut_base;

  /* The time budget: a candidate's patch spans more slices on thin slices
   * (about 4 ms each on 5 mm slices, 10 on 1 mm), while thin slices make
   * the triage's ranking sharper (less partial volume); below 2.5 mm the
   * budget shrinks with the spacing, to 40 % at 1 mm. On the 1 mm
   * benchmark volume with inserted nodules (EVALUATION.md) 600 candidates
   * found what 1500 did. */
  int budget = params->max_candidates;
  if (scan->img.sp[2] < 2.5)
    budget = (int) ceil (budget * fmax (scan->img.sp[2] / 2.5, 0.4));
  LnCandidate *cand = NULL;
  int n_cand = 0;
  if (ln_detect (scan, &lungs, m, 0.15, 0.55, budget, params->dump_candidates != 0, &cand, &n_cand) != 0)
    {
      ln_lungs_free (&lungs);
      snprintf (why, why_len, "blob detection failed (out of memory or cancelled)");
      return -1;
    }
  out->n_candidates = n_cand;
  double t1 = seconds_now ();
  ln_logf (m, LN_LOG_INFO, "%d blob candidates after %.1f s", n_cand, t1 - t0);
  if (params->dump_candidates == 2)
    n_cand = 0; /* the triage's training data only */

  LnNodule *kept = calloc ((size_t) (n_cand > 0 ? n_cand : 1), sizeof *kept);
  int n_kept = 0;
  if (kept == NULL)
    {
      free (cand);
      ln_lungs_free (&lungs);
      return -1;
    }
  for (int i = 0; i < n_cand; i++)
    {
      if (i % 64 == 0 && ln_progress (m, 0.55 + 0.42 * i / n_cand, "measuring candidates") != 0)
        {
          rc = -1;
          break;
        }
      LnNodule *n = &kept[n_kept];
      int s = ln_segment (scan, &lungs, &cand[i], n);
      if (s < 0)
        {
          rc = -1;
          break;
        }
      if (s > 0)
        continue;
      ln_features_compute (n);
      n->probability = ln_classify (n->features);
      if (params->dump_candidates)
        dump (m, n);
      if (n->probability < params->min_probability || n->mean_diameter < params->min_diameter_mm)
        {
          ln_nodule_clear (n);
          continue;
        }
      n_kept++;
    }
  ln_logf (m, LN_LOG_INFO, "%d candidates segmented and scored in %.1f s", n_cand, seconds_now () - t1);
  free (cand);
  if (rc != 0)
    {
      for (int i = 0; i < n_kept; i++)
        ln_nodule_clear (&kept[i]);
      free (kept);
      ln_lungs_free (&lungs);
      snprintf (why, why_len, "measuring candidates failed (out of memory or cancelled)");
      return -1;
    }

  /* One nodule per lesion: the most probable of overlapping findings. */
  qsort (kept, (size_t) n_kept, sizeof *kept, by_probability);
  int n_final = 0;
  for (int i = 0; i < n_kept; i++)
    {
      int dup = 0;
      for (int j = 0; j < n_final && !dup; j++)
        dup = same_lesion (&kept[i], &kept[j]) || same_lesion (&kept[j], &kept[i]);
      if (dup)
        {
          ln_nodule_clear (&kept[i]);
          continue;
        }
      if (i != n_final)
        {
          kept[n_final] = kept[i];
          memset (&kept[i], 0, sizeof kept[i]);
        }
      n_final++;
    }
  LnCategory study = LN_LR_1;
  for (int i = 0; i < n_final; i++)
    {
      LnNodule *n = &kept[i];
      ln_lungs_locate (&lungs, scan, n->g, n->centre, &n->side, &n->lobe);
      n->category = ln_lungrads_nodule (n);
      if ((LnCategory) n->category > study)
        study = (LnCategory) n->category;
    }
  qsort (kept, (size_t) n_final, sizeof *kept, by_suspicion);
  if (params->max_nodules > 0 && n_final > params->max_nodules)
    {
      for (int i = params->max_nodules; i < n_final; i++)
        ln_nodule_clear (&kept[i]);
      n_final = params->max_nodules;
    }
  /* Lungs not fully imaged: Lung-RADS 0 unless something suspicious was
   * found in what was imaged. */
  if (out->incomplete && study <= LN_LR_2)
    study = LN_LR_0;
  out->nodules = kept;
  out->n_nodules = n_final;
  out->study_category = study;
  out->seconds = seconds_now () - t0;
  ln_lungs_free (&lungs);
  ln_progress (m, 0.97, "reporting");
  return 0;
}

void
ln_result_free (LnResult *r)
{
  for (int i = 0; i < r->n_nodules; i++)
    ln_nodule_clear (&r->nodules[i]);
  free (r->nodules);
  memset (r, 0, sizeof *r);
}
