/*
 * ln_lungrads.c: Lung-RADS v2022 categories for a baseline screening CT.
 *
 * The rules are the American College of Radiology's for a baseline
 * (first) screening examination, by attenuation and mean diameter (the
 * average of the long and short axes on one axial image, to one decimal):
 *
 *   solid         < 6 mm: 2;  6 to < 8: 3;  8 to < 15: 4A;  >= 15: 4B
 *   part-solid    total < 6 mm: 2;  solid component < 6: 3;
 *                 6 to < 8: 4A;  >= 8: 4B
 *   ground glass  < 30 mm: 2;  >= 30: 3
 *   calcified (benign pattern): 1
 *
 * What the analyzer does not decide, and leaves to the radiologist: 4X
 * (additional features such as spiculation or lymphadenopathy), the
 * category 2 exception for perifissural and juxtapleural nodules of benign
 * morphology, airway nodules, and every rule that needs a prior study
 * (growth, new nodules, stepped management). The study's category is its
 * most suspicious nodule's.
 */
#include <math.h>

#include "ln_nodule.h"

LnCategory
ln_lungrads_nodule (const LnNodule *n)
{
  if (n->calcified)
    return LN_LR_1;
  /* to one decimal, as Lung-RADS measures */
  double d = floor (n->mean_diameter * 10.0 + 0.5) / 10.0;
  double s = floor (n->solid_diameter * 10.0 + 0.5) / 10.0;
  switch (n->type)
    {
    case LN_TYPE_SOLID:
      return d < 6.0 ? LN_LR_2 : d < 8.0 ? LN_LR_3 : d < 15.0 ? LN_LR_4A : LN_LR_4B;
    case LN_TYPE_PART_SOLID:
      if (d < 6.0)
        return LN_LR_2;
      return s < 6.0 ? LN_LR_3 : s < 8.0 ? LN_LR_4A : LN_LR_4B;
    case LN_TYPE_GROUND_GLASS:
      return d < 30.0 ? LN_LR_2 : LN_LR_3;
    }
  return LN_LR_2;
}

const char *
ln_lungrads_name (LnCategory c)
{
  static const char *const names[] = { "0", "1", "2", "3", "4A", "4B", "4X" };
  return c >= LN_LR_0 && c <= LN_LR_4X ? names[c] : "?";
}

const char *
ln_lungrads_meaning (LnCategory c)
{
  static const char *const meanings[] = {
    "Lung-RADS 0: incomplete",         "Lung-RADS 1: negative",
    "Lung-RADS 2: benign appearance",  "Lung-RADS 3: probably benign",
    "Lung-RADS 4A: suspicious",        "Lung-RADS 4B: very suspicious",
    "Lung-RADS 4X: very suspicious, additional features",
  };
  return c >= LN_LR_0 && c <= LN_LR_4X ? meanings[c] : "Lung-RADS: unknown";
}

/* Management in a few words (Lung-RADS v2022, paraphrased). */
const char *
ln_lungrads_management (LnCategory c)
{
  switch (c)
    {
    case LN_LR_0: return "comparison with prior chest CT or additional screening images needed";
    case LN_LR_1:
    case LN_LR_2: return "continue annual screening with low-dose CT in 12 months";
    case LN_LR_3: return "low-dose CT in 6 months";
    case LN_LR_4A: return "low-dose CT in 3 months; PET/CT may be considered for a solid part of 8 mm or more";
    case LN_LR_4B:
    case LN_LR_4X: return "diagnostic chest CT, PET/CT and/or tissue sampling, by clinical evaluation";
    }
  return "";
}
