/* pr-result-build.c: choosing, rendering and writing a job's result objects. */
#include "config.h"

#include "pr-result-build.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-image-render.h"
#include "dicom/pr-instance-header.h"
#include "dicom/pr-key-image.h"
#include "dicom/pr-result-objects.h"
#include "plugin/host/pr-findings.h"
#include "plugin/host/pr-job-description.h"
#include "pr-findings-report.h"

/* Series numbers of the objects we add: high, out of the way of a scanner's. */
enum { SERIES_SR = 9901, SERIES_SC, SERIES_GSPS, SERIES_SEG, SERIES_KOS };

typedef struct {
  const PrReport *report;
  const PrJobDescription *job;
  const char *folder;
  JsonBuilder *objects;
  GPtrArray *warnings;
  GPtrArray *keys;              /* PrResultReference*, for the KOS */
} Build;

static void
reference_free (PrResultReference *r)
{
  g_free ((char *) r->sop_class_uid);
  g_free ((char *) r->sop_instance_uid);
  g_free ((char *) r->series_instance_uid);
  g_free (r);
}

static void
add_key (Build *b, const char *sop_class, const char *sop_instance, const char *series)
{
  for (guint i = 0; i < b->keys->len; i++)
    if (strcmp (((PrResultReference *) b->keys->pdata[i])->sop_instance_uid, sop_instance) == 0)
      return;
  PrResultReference *r = g_new0 (PrResultReference, 1);
  r->sop_class_uid = g_strdup (sop_class);
  r->sop_instance_uid = g_strdup (sop_instance);
  r->series_instance_uid = g_strdup (series);
  g_ptr_array_add (b->keys, r);
}

/* Target of object @kind (number @n within it): derived UIDs, the file. */
typedef struct {
  PrResultTarget target;
  char *file;
  char *path;
  char *series_uid;
  char *sop_uid;
} Target;

static void
target_init (Target *t, const Build *b, const char *kind, guint n, int series_number, const char *description)
{
  g_autofree char *series_part = g_strdup_printf ("%s-series", kind);
  g_autofree char *instance_part = n ? g_strdup_printf ("%s-instance-%u", kind, n)
                                     : g_strdup_printf ("%s-instance", kind);
  t->series_uid = pr_dicom_uid_derive (b->report->uid_seed, series_part);
  t->sop_uid = pr_dicom_uid_derive (b->report->uid_seed, instance_part);
  t->file = n ? g_strdup_printf ("%s-%u.dcm", kind, n) : g_strdup_printf ("%s.dcm", kind);
  t->path = g_build_filename (b->folder, t->file, NULL);
  t->target.path = t->path;
  t->target.series_instance_uid = t->series_uid;
  t->target.sop_instance_uid = t->sop_uid;
  t->target.series_number = series_number;
  t->target.instance_number = (int) MAX (1, n);
  t->target.series_description = description;
}

static void
target_clear (Target *t)
{
  g_free (t->file);
  g_free (t->path);
  g_free (t->series_uid);
  g_free (t->sop_uid);
}

static void
record (Build *b, const char *kind, const Target *t, const char *sop_class)
{
  JsonBuilder *j = b->objects;
  json_builder_begin_object (j);
  json_builder_set_member_name (j, "kind");
  json_builder_add_string_value (j, kind);
  json_builder_set_member_name (j, "file");
  json_builder_add_string_value (j, t->file);
  json_builder_set_member_name (j, "sop_class_uid");
  json_builder_add_string_value (j, sop_class);
  json_builder_set_member_name (j, "sop_instance_uid");
  json_builder_add_string_value (j, t->sop_uid);
  json_builder_set_member_name (j, "series_instance_uid");
  json_builder_add_string_value (j, t->series_uid);
  json_builder_end_object (j);
}

static void
warn (Build *b, const char *kind, const GError *error)
{
  char *text = g_strdup_printf ("%s: %s", kind, error->message);
  fprintf (stderr, "preread results: %s\n", text);
  g_ptr_array_add (b->warnings, text);
}

/* The window for key images: the route's choice, the lung window for chest
 * CT (where most findings are in the lungs), else the image's own. */
PrWindow
pr_result_key_image_window (const PrJobDescription *job, const PrReportImage *image)
{
  PrWindow window = { FALSE, 0, 0 };
  const char *wanted = job ? g_hash_table_lookup (job->parameters, "key-image-window") : NULL;
  if (g_strcmp0 (wanted, "image") == 0)
    return window;
  struct {
    const char *name;
    double center, width;
  } named[] = { { "lung", -600, 1500 }, { "soft-tissue", 40, 400 }, { "bone", 400, 1800 }, { "brain", 40, 80 } };
  for (gsize i = 0; wanted && i < G_N_ELEMENTS (named); i++)
    if (strcmp (wanted, named[i].name) == 0)
      return (PrWindow) { TRUE, named[i].center, named[i].width };
  double center, width;
  if (wanted && sscanf (wanted, "%lf,%lf", &center, &width) == 2 && width > 0)
    return (PrWindow) { TRUE, center, width };

  g_autoptr (PrInstanceHeader) h = pr_instance_header_read (image->path, NULL);
  if (h == NULL || g_strcmp0 (h->modality, "CT") != 0)
    return window;
  g_autofree char *text = g_strdup_printf ("%s %s %s", h->body_part_examined ? h->body_part_examined : "",
                                           h->study_description ? h->study_description : "",
                                           h->series_description ? h->series_description : "");
  g_autofree char *lower = g_ascii_strdown (text, -1);
  if (strstr (lower, "chest") || strstr (lower, "thorax") || strstr (lower, "lung") || strstr (lower, "thx"))
    return (PrWindow) { TRUE, -600, 1500 };
  return window;
}

GPtrArray *
pr_result_key_images (const PrReport *report, GArray *frames)
{
  GPtrArray *sources = g_ptr_array_new ();
  for (guint i = 0; i < report->findings->len && sources->len < PR_RESULT_MAX_KEY_IMAGES; i++)
    {
      const PrReportFinding *f = report->findings->pdata[i];
      const char *uid = NULL;
      guint frame = 0;
      if (f->region.shape >= PR_REGION_POINT && f->region.shape <= PR_REGION_ELLIPSE)
        {
          uid = f->region.sop_instance_uid;
          frame = f->region.frame;
        }
      else if (f->region.shape == PR_REGION_MASK && f->region.box[5] > 0)
        {
          guint middle = f->region.box[5] / 2;
          uid = f->region.slice_sop_instance_uids[middle];
          frame = f->region.slice_frames ? f->region.slice_frames[middle] : 0;
        }
      const PrReportImage *image = pr_report_find_image (report, uid);
      if (image == NULL)
        continue;
      gboolean seen = FALSE;
      for (guint k = 0; k < sources->len; k++)
        seen |= sources->pdata[k] == image && g_array_index (frames, guint, k) == frame;
      if (!seen)
        {
          g_ptr_array_add (sources, (gpointer) image);
          g_array_append_val (frames, frame);
        }
    }
  return sources;
}

static void
build_key_images (Build *b)
{
  g_autoptr (GArray) frames = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GPtrArray) sources = pr_result_key_images (b->report, frames);
  for (guint i = 0; i < sources->len; i++)
    {
      const PrReportImage *image = sources->pdata[i];
      guint frame = g_array_index (frames, guint, i);
      PrWindow window = pr_result_key_image_window (b->job, image);
      guint width = 0, height = 0, out_width = 0, out_height = 0;
      g_autoptr (GError) error = NULL;
      g_autofree guint8 *rgb = pr_image_render (image->path, frame, &window, &width, &height, &error);
      if (rgb == NULL)
        {
          warn (b, "sc", error);
          continue;
        }
      g_autofree guint8 *painted =
        pr_key_image_paint (rgb, width, height, b->report, image->sop_instance_uid, frame, TRUE, &out_width,
                            &out_height);
      Target t = { { 0 } };
      target_init (&t, b, "sc", i + 1, SERIES_SC, "AI key images (not for primary diagnosis)");
      if (pr_result_write_sc (b->report, &t.target, image, frame, painted, out_width, out_height, &error))
        {
          record (b, "sc", &t, "1.2.840.10008.5.1.4.1.1.7");
          add_key (b, "1.2.840.10008.5.1.4.1.1.7", t.sop_uid, t.series_uid);
          add_key (b, image->sop_class_uid, image->sop_instance_uid, image->series_instance_uid);
        }
      else
        warn (b, "sc", error);
      target_clear (&t);
    }
}

static gboolean
build_all (Build *b, GError **error)
{
  const PrReport *report = b->report;
  Target t = { { 0 } };
  target_init (&t, b, "sr", 0, SERIES_SR, "AI measurement report (not for primary diagnosis)");
  gboolean ok = pr_result_write_sr (report, &t.target, error);
  if (ok)
    record (b, "sr", &t, pr_report_has_3d_regions (report) ? "1.2.840.10008.5.1.4.1.1.88.34"
                                                           : "1.2.840.10008.5.1.4.1.1.88.33");
  target_clear (&t);
  if (!ok)
    return FALSE;

  g_autoptr (GError) local = NULL;
  if (pr_report_has_2d_regions (report))
    {
      target_init (&t, b, "gsps", 0, SERIES_GSPS, "AI findings overlay (not for primary diagnosis)");
      if (pr_result_write_gsps (report, &t.target, &local))
        record (b, "gsps", &t, "1.2.840.10008.5.1.4.1.1.11.1");
      /* Colour photos: the SC and the SR carry the overlay; DCMTK writes
       * no colour presentation state. Not a failure of this job. */
      else if (!g_error_matches (local, PR_DICOM_ERROR, PR_DICOM_ERROR_NOT_APPLICABLE))
        warn (b, "gsps", local);
      g_clear_error (&local);
      target_clear (&t);
    }
  if (pr_report_has_masks (report))
    {
      target_init (&t, b, "seg", 0, SERIES_SEG, "AI segmentation (not for primary diagnosis)");
      if (pr_result_write_seg (report, &t.target, &local))
        record (b, "seg", &t, "1.2.840.10008.5.1.4.1.1.66.4");
      else
        warn (b, "seg", local);
      g_clear_error (&local);
      target_clear (&t);
    }
  build_key_images (b);
  if (b->keys->len > 0)
    {
      target_init (&t, b, "kos", 0, SERIES_KOS, "AI key images selection (not for primary diagnosis)");
      g_autofree PrResultReference *flat = g_new0 (PrResultReference, b->keys->len);
      for (guint i = 0; i < b->keys->len; i++)
        flat[i] = *(PrResultReference *) b->keys->pdata[i];
      if (pr_result_write_kos (report, &t.target, flat, b->keys->len, report->summary, &local))
        record (b, "kos", &t, "1.2.840.10008.5.1.4.1.1.88.59");
      else
        warn (b, "kos", local);
      target_clear (&t);
    }
  return TRUE;
}

PrReport *
pr_result_load_report (const char *job_folder, const char *uid_seed, PrJobDescription **job_out, GError **error)
{
  g_autofree char *job_file = g_build_filename (job_folder, "job.json", NULL);
  g_autoptr (PrJobDescription) job = pr_job_description_load (job_file, error);
  if (job == NULL)
    return NULL;
  g_autoptr (PrFindings) findings = pr_findings_read (job->findings_file, job, error);
  if (findings == NULL)
    return NULL;
  if (findings->status != PR_FINDINGS_DONE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the analyzer's job did not end done: no results");
      return NULL;
    }
  PrReport *report = pr_findings_report_new (job, findings->json, uid_seed, error);
  if (report != NULL && job_out != NULL)
    *job_out = g_steal_pointer (&job);
  return report;
}

gboolean
pr_result_build (const char *job_folder, const char *output_folder, const char *uid_seed, GError **error)
{
  g_autoptr (PrJobDescription) job = NULL;
  g_autoptr (PrReport) report = pr_result_load_report (job_folder, uid_seed, &job, error);
  if (report == NULL)
    return FALSE;
  if (g_mkdir_with_parents (output_folder, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s", output_folder,
                   g_strerror (errno));
      return FALSE;
    }

  g_autoptr (JsonBuilder) j = json_builder_new ();
  json_builder_begin_object (j);
  json_builder_set_member_name (j, "objects");
  json_builder_begin_array (j);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) reference_free);
  Build b = { report, job, output_folder, j, warnings, keys };
  if (!build_all (&b, error))
    return FALSE;
  json_builder_end_array (j);
  json_builder_set_member_name (j, "warnings");
  json_builder_begin_array (j);
  for (guint i = 0; i < warnings->len; i++)
    json_builder_add_string_value (j, warnings->pdata[i]);
  json_builder_end_array (j);
  json_builder_end_object (j);
  g_autoptr (JsonNode) root = json_builder_get_root (j);
  g_autofree char *text = json_to_string (root, TRUE);
  g_autofree char *manifest = g_build_filename (output_folder, "manifest.json", NULL);
  /* Written last: its presence says the objects are all there. */
  return g_file_set_contents (manifest, text, -1, error);
}

int
pr_result_build_main (int argc, char **argv)
{
  if (argc != 4)
    {
      fprintf (stderr, "usage: preread %s JOB-FOLDER OUTPUT-FOLDER UID-SEED\n", PR_RESULT_BUILD_SUBCOMMAND);
      return 2;
    }
  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error) || !pr_result_build (argv[1], argv[2], argv[3], &error))
    {
      fprintf (stderr, "preread results: %s\n", error->message);
      return 1;
    }
  return 0;
}
