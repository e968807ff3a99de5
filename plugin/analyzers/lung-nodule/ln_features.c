/*
 * ln_features.c: what the classifier sees of a candidate, and the
 * classifier itself.
 *
 * Candidates are mostly vessels (seen end-on or at branchings), pleural and
 * fissural bumps, airway walls, partial-volume specks. The features
 * describe what tells them from nodules: size, contrast and density; the
 * blob-ness of the Hessian at the detection scale (a nodule curves down
 * in all three directions, a vessel in two); shape of the segmentation
 * (elongation, how well it fills an ellipsoid, its axis ratio); how much the
 * vessel-removing opening took away and how dense a shell around it is
 * (vessels leaving); contact with the chest wall; extent across slices.
 * Each is a plain number with a physical meaning, so that the model stays
 * inspectable.
 *
 * The model is a small boosted tree ensemble (after the triage, a
 * logistic model on the detection's own numbers) trained by
 * eval/ln-train.py; its numbers live in ln_classifier_model.h, generated
 * by that script (seed and command in its header comment). Nothing here is
 * tuned by hand.
 */
#include <math.h>

#include "ln_nodule.h"
#include "ln_classifier_model.h"

const char *const ln_feature_names[LN_N_FEATURES] = {
  "log_diameter",    /* ln(mean axial diameter / mm) */
  "log_volume",      /* ln(volume / mm3) */
  "contrast",        /* peak minus local background, kHU */
  "mean_hu",         /* kHU */
  "sd_hu",           /* spread after noise harmonisation, hundreds of HU */
  "dog_ratio",       /* difference-of-Gaussians response / contrast */
  "log_sigma",       /* ln(detection scale / mm) */
  "hessian_mid",     /* second / first Hessian eigenvalue (1 blob, 1 tube, 0 plate) */
  "hessian_min",     /* third / first (1 blob, 0 tube or plate) */
  "elongation",      /* smallest / largest principal axis */
  "ellipsoid_fill",  /* volume / moment-matched ellipsoid */
  "wall_fraction",   /* outline share on the lung envelope's edge */
  "opening_kept",    /* share kept by the vessel-removing opening */
  "shell_dense",     /* dense share of the shell at 1.3-2 radii */
  "z_ratio",         /* extent across slices / long axis */
  "touches_box",     /* the region ran out of its patch */
  "axis_ratio",      /* short / long axis on the key slice */
  "solid_fraction",  /* share of voxels above -300 HU */
};

const char *const ln_triage_names[LN_N_TRIAGE] = {
  "log_sigma",       /* ln(scale / mm) */
  "log_blob",        /* ln(cube root of the Hessian eigenvalues' product / HU) */
  "log_response",    /* ln(difference of Gaussians / HU) */
  "smoothed_hu",     /* Gaussian-smoothed HU at the peak, kHU */
  "contrast_hu",     /* that minus the lungs' parenchyma, kHU */
  "hessian_mid",     /* second / first eigenvalue */
  "hessian_min",     /* third / first eigenvalue */
  "log_curvature",   /* ln(-first eigenvalue / HU) */
};

void
ln_triage_features (const LnCandidate *c, double parenchyma_hu, double f[LN_N_TRIAGE])
{
  double e0 = c->eig[0];
  f[0] = log (c->sigma);
  f[1] = log (fmax (c->blob, 1.0));
  f[2] = log (fmax (c->response, 1.0));
  f[3] = c->smoothed / 1000.0;
  f[4] = (c->smoothed - parenchyma_hu) / 1000.0;
  f[5] = fabs (e0) > 1e-9 ? c->eig[1] / e0 : 0;
  f[6] = fabs (e0) > 1e-9 ? c->eig[2] / e0 : 0;
  f[7] = log (fmax (-e0, 1.0));
}

/* Logistic on the standardised features and their squares: curved enough
 * to separate blobs from the many vessel maxima, cheap enough for all. */
double
ln_triage (const double f[LN_N_TRIAGE])
{
  double score = LN_TRIAGE_BIAS;
  for (int k = 0; k < LN_N_TRIAGE; k++)
    {
      double z = (f[k] - ln_triage_mean[k]) / ln_triage_scale[k];
      score += ln_triage_weight[k] * z + ln_triage_weight[LN_N_TRIAGE + k] * z * z;
    }
  return score;
}

void
ln_features_compute (LnNodule *n)
{
  double *f = n->features;
  const LnCandidate *c = &n->cand;
  double e0 = c->eig[0];
  f[0] = log (fmax (n->mean_diameter, 0.5));
  f[1] = log (fmax (n->volume, 1.0));
  f[2] = n->contrast / 1000.0;
  f[3] = n->hu_mean / 1000.0;
  f[4] = n->texture_sd / 100.0;
  f[5] = n->contrast > 0 ? c->response / n->contrast : 0;
  f[6] = log (c->sigma);
  /* Signed ratios: for a bright blob all eigenvalues share the first's sign. */
  f[7] = fabs (e0) > 1e-9 ? c->eig[1] / e0 : 0;
  f[8] = fabs (e0) > 1e-9 ? c->eig[2] / e0 : 0;
  f[9] = n->elongation;
  f[10] = n->ellipsoid_fill;
  f[11] = n->wall_fraction;
  f[12] = n->opening_kept;
  f[13] = n->shell_dense;
  f[14] = n->long_axis > 0 ? n->z_extent / n->long_axis : 0;
  f[15] = n->touches_box;
  f[16] = n->long_axis > 0 ? n->short_axis / n->long_axis : 0;
  f[17] = n->solid_fraction;
}

double
ln_classify (const double features[LN_N_FEATURES])
{
  double score = LN_MODEL_BIAS;
  for (int t = 0; t < LN_MODEL_N_TREES; t++)
    {
      int k = ln_model_roots[t];
      while (ln_model_nodes[k].feature >= 0)
        k = features[ln_model_nodes[k].feature] <= ln_model_nodes[k].threshold ? ln_model_nodes[k].left
                                                                              : ln_model_nodes[k].right;
      score += ln_model_nodes[k].value;
    }
  return 1.0 / (1.0 + exp (-score));
}

double
ln_classifier_threshold (void)
{
  return LN_MODEL_DEFAULT_THRESHOLD;
}
