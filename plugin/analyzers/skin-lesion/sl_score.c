/*
 * sl_score.c: the total dermoscopy score, the category, and the learned
 * model.
 *
 * TDS (Stolz et al. 1994) = 1.3 A + 0.1 B + 0.5 C + 0.5 D with A 0..2
 * asymmetric axes, B 0..8 sectors with an abrupt cut-off, C 1..6 colours,
 * D 1..5 differential structures; below 4.75 benign-looking, 4.75 to 5.45
 * suspicious, above 5.45 highly suspicious (the rule's own cut-offs). Our D
 * is a count of structure proxies (sl_features.c), so the TDS here is an
 * automated approximation of the clinical score, and says so in the report.
 *
 * The learned model is a logistic regression on the same measured features
 * (standardised), trained by eval/sl-train.py on photos disjoint from those
 * the evaluation scores; its coefficients are generated into sl_model.h.
 * It reports a melanoma likelihood alongside the TDS and never changes the
 * category.
 */
#include "sl_lesion.h"
#include "sl_model.h"

#include <math.h>
#include <string.h>

const char *
sl_category_name (SlCategory c)
{
  switch (c)
    {
    case SL_CATEGORY_BENIGN: return "benign-looking";
    case SL_CATEGORY_SUSPICIOUS: return "suspicious";
    default: return "highly suspicious";
    }
}

/* A feature the model may use, by the name the module also reports it
 * under (the measurement's code value), so that the training script reads
 * exactly what the module computes. */
static double
feature (const SlLesion *l, const char *name)
{
  static const char *const colour_keys[SL_N_COLOURS] = { "frac-white", "frac-red", "frac-light-brown",
                                                         "frac-dark-brown", "frac-blue-gray", "frac-black" };
  static const char *const structure_keys[SL_N_STRUCTURES] = { "network", "structureless", "streaks", "dots",
                                                               "globules" };
  if (strcmp (name, "asym-shape-1") == 0)
    return l->asym_shape[0];
  if (strcmp (name, "asym-shape-2") == 0)
    return l->asym_shape[1];
  if (strcmp (name, "asym-colour-1") == 0)
    return l->asym_colour[0];
  if (strcmp (name, "asym-colour-2") == 0)
    return l->asym_colour[1];
  if (strcmp (name, "border-sharpness") == 0)
    {
      double s = 0;
      for (int k = 0; k < 8; k++)
        s += l->border_sharpness[k];
      return s / 8;
    }
  if (strcmp (name, "compactness") == 0)
    return l->compactness;
  if (strcmp (name, "solidity") == 0)
    return l->solidity;
  if (strcmp (name, "colour-spread") == 0)
    return l->colour_spread;
  if (strcmp (name, "n-colours") == 0)
    return l->n_colours;
  if (strcmp (name, "tds") == 0)
    return l->tds;
  if (strcmp (name, "image-fraction") == 0)
    return l->image_fraction;
  for (int k = 0; k < SL_N_COLOURS; k++)
    if (strcmp (name, colour_keys[k]) == 0)
      return l->colour_fraction[k];
  for (int k = 0; k < SL_N_STRUCTURES; k++)
    if (strcmp (name, structure_keys[k]) == 0)
      return l->structure_measure[k];
  return NAN;
}

/* sl_model_features() would silently drop the features beyond the
 * maximum: a regenerated model must fit. */
_Static_assert (SL_MODEL_N_FEATURES <= SL_MODEL_MAX_FEATURES, "sl_model.h has more features than the module takes");

int
sl_model_features (const SlLesion *l, double *values, int max)
{
  int n = SL_MODEL_N_FEATURES < max ? SL_MODEL_N_FEATURES : max;
  for (int k = 0; k < n; k++)
    {
      double v = feature (l, sl_model_feature_names[k]);
      values[k] = sl_model_log1p[k] ? log1p (fmax (v, 0)) : v;
    }
  return n;
}

void
sl_score (SlLesion *l)
{
  int a = l->asym_axes, b = l->border_abrupt, c = l->n_colours, d = l->n_structures;
  l->tds = 1.3 * a + 0.1 * b + 0.5 * c + 0.5 * d;
  l->category = l->tds > 5.45 ? SL_CATEGORY_HIGHLY_SUSPICIOUS
              : l->tds >= 4.75 ? SL_CATEGORY_SUSPICIOUS
                               : SL_CATEGORY_BENIGN;

  double x[SL_MODEL_MAX_FEATURES];
  int n = sl_model_features (l, x, SL_MODEL_MAX_FEATURES);
  double z = sl_model_intercept;
  for (int k = 0; k < n; k++)
    if (isfinite (x[k]) && sl_model_scale[k] > 0)
      z += sl_model_weight[k] * (x[k] - sl_model_mean[k]) / sl_model_scale[k];
  l->model_probability = 1 / (1 + exp (-z));
}
