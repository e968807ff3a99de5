/* pr-report.c: the measurement report model's memory. */
#include "config.h"

#include "pr-report.h"

#include <string.h>

static void
code_clear (PrCode *code)
{
  g_clear_pointer (&code->scheme, g_free);
  g_clear_pointer (&code->value, g_free);
  g_clear_pointer (&code->meaning, g_free);
}

void
pr_code_set (PrCode *code, const char *scheme, const char *value, const char *meaning)
{
  code_clear (code);
  code->scheme = g_strdup (scheme);
  code->value = g_strdup (value);
  code->meaning = g_strdup (meaning);
}

static void
measurement_clear (PrReportMeasurement *m)
{
  code_clear (&m->concept);
  g_free (m->unit);
}

static void
evaluation_clear (PrReportEvaluation *e)
{
  code_clear (&e->concept);
  code_clear (&e->value);
}

static void
finding_free (PrReportFinding *f)
{
  g_free (f->tracking_id);
  g_free (f->tracking_uid);
  code_clear (&f->type);
  code_clear (&f->site);
  g_free (f->text);
  PrReportRegion *r = &f->region;
  g_free (r->sop_instance_uid);
  g_free (r->points);
  g_free (r->frame_of_reference_uid);
  g_free (r->bits);
  g_strfreev (r->slice_sop_instance_uids);
  g_free (r->slice_frames);
  g_free (r->series_instance_uid);
  g_array_unref (f->measurements);
  g_array_unref (f->evaluations);
  g_free (f);
}

static void
image_free (PrReportImage *image)
{
  g_free (image->sop_class_uid);
  g_free (image->sop_instance_uid);
  g_free (image->series_instance_uid);
  g_free (image->path);
  g_free (image);
}

PrReport *
pr_report_new (void)
{
  PrReport *report = g_new0 (PrReport, 1);
  report->images = g_ptr_array_new_with_free_func ((GDestroyNotify) image_free);
  report->findings = g_ptr_array_new_with_free_func ((GDestroyNotify) finding_free);
  return report;
}

void
pr_report_free (PrReport *report)
{
  if (report == NULL)
    return;
  g_free (report->algorithm_name);
  g_free (report->algorithm_version);
  g_free (report->algorithm_vendor);
  g_free (report->device_uid);
  g_ptr_array_unref (report->images);
  g_free (report->summary);
  g_ptr_array_unref (report->findings);
  g_free (report->uid_seed);
  g_free (report);
}

PrReportFinding *
pr_report_add_finding (PrReport *report)
{
  PrReportFinding *f = g_new0 (PrReportFinding, 1);
  f->number = report->findings->len + 1;
  f->confidence = -1;
  f->measurements = g_array_new (FALSE, TRUE, sizeof (PrReportMeasurement));
  g_array_set_clear_func (f->measurements, (GDestroyNotify) measurement_clear);
  f->evaluations = g_array_new (FALSE, TRUE, sizeof (PrReportEvaluation));
  g_array_set_clear_func (f->evaluations, (GDestroyNotify) evaluation_clear);
  g_ptr_array_add (report->findings, f);
  return f;
}

const PrReportImage *
pr_report_find_image (const PrReport *report, const char *sop_instance_uid)
{
  for (guint i = 0; sop_instance_uid != NULL && i < report->images->len; i++)
    {
      const PrReportImage *image = report->images->pdata[i];
      if (strcmp (image->sop_instance_uid, sop_instance_uid) == 0)
        return image;
    }
  return NULL;
}

static gboolean
has_shape (const PrReport *report, PrRegionShape first, PrRegionShape last)
{
  for (guint i = 0; i < report->findings->len; i++)
    {
      PrRegionShape shape = ((PrReportFinding *) report->findings->pdata[i])->region.shape;
      if (shape >= first && shape <= last)
        return TRUE;
    }
  return FALSE;
}

gboolean
pr_report_has_2d_regions (const PrReport *report)
{
  return has_shape (report, PR_REGION_POINT, PR_REGION_ELLIPSE);
}

gboolean
pr_report_has_3d_regions (const PrReport *report)
{
  return has_shape (report, PR_REGION_POINT_3D, PR_REGION_POLYLINE_3D);
}

gboolean
pr_report_has_masks (const PrReport *report)
{
  return has_shape (report, PR_REGION_MASK, PR_REGION_MASK);
}
