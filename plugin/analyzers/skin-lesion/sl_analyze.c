/*
 * sl_analyze.c: one photo through the whole pipeline, and the names the
 * report uses.
 */
#include "sl_lesion.h"

#include <stdlib.h>
#include <string.h>

const char *
sl_colour_name (SlColour c)
{
  static const char *const names[SL_N_COLOURS] = { "white", "red", "light brown", "dark brown", "blue-gray",
                                                   "black" };
  return (unsigned) c < SL_N_COLOURS ? names[c] : "?";
}

const char *
sl_structure_name (SlStructure s)
{
  static const char *const names[SL_N_STRUCTURES] = { "pigment network", "structureless areas", "streaks",
                                                      "dots", "globules" };
  return (unsigned) s < SL_N_STRUCTURES ? names[s] : "?";
}

SlStatus
sl_lesion_analyze (const float *rgb, int w, int h, const SlParams *params, SlLesion *out)
{
  memset (out, 0, sizeof *out);
  if (rgb == NULL || w < 16 || h < 16)
    {
      out->why_not = "the image is too small to analyse";
      return SL_BAD_INPUT;
    }
  SlWork wk;
  SlStatus status = sl_prepare (rgb, w, h, params, &wk);
  if (status == SL_OK)
    status = sl_segment (&wk, params);
  if (status == SL_OK && sl_mask_count (&wk.lesion) == 0)
    out->why_not = "no lesion stands out from the skin";
  else if (status == SL_OK)
    {
      status = sl_outline (&wk, w, h, out);
      if (status == SL_OK && out->n_outline < 3)
        out->why_not = "the lesion is too small to outline";
      else if (status == SL_OK)
        {
          status = sl_features (&wk, params, out);
          if (status == SL_OK)
            {
              sl_score (out);
              out->found = 1;
            }
        }
    }
  sl_work_free (&wk);
  return status;
}

void
sl_lesion_clear (SlLesion *lesion)
{
  free (lesion->outline);
  memset (lesion, 0, sizeof *lesion);
}
