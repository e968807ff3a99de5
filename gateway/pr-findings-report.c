/* pr-findings-report.c: findings JSON to PrReport. */
#include "config.h"

#include "pr-findings-report.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"

static const char *
string_member (JsonObject *o, const char *name)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
object_member (JsonObject *o, const char *name)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
array_member (JsonObject *o, const char *name)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  return node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static void
read_code (PrCode *code, JsonObject *o)
{
  if (o != NULL)
    pr_code_set (code, string_member (o, "scheme"), string_member (o, "value"), string_member (o, "meaning"));
}

static const struct {
  const char *name;
  PrRegionShape shape;
} shapes[] = {
  { "point", PR_REGION_POINT },         { "polyline", PR_REGION_POLYLINE },       { "polygon", PR_REGION_POLYGON },
  { "circle", PR_REGION_CIRCLE },       { "ellipse", PR_REGION_ELLIPSE },         { "point-3d", PR_REGION_POINT_3D },
  { "polyline-3d", PR_REGION_POLYLINE_3D }, { "mask", PR_REGION_MASK },
};

static void
read_points (PrReportRegion *r, JsonArray *points, guint dimensions)
{
  guint n = points ? json_array_get_length (points) : 0;
  r->points = g_new0 (float, (gsize) n * dimensions + 1);
  r->n_points = n;
  for (guint i = 0; i < n; i++)
    {
      JsonArray *p = json_array_get_array_element (points, i);
      for (guint d = 0; d < dimensions && p && d < json_array_get_length (p); d++)
        r->points[i * dimensions + d] = (float) json_array_get_double_element (p, d);
    }
}

static void
read_mask (PrReportRegion *r, JsonObject *location, const PrJobDescription *job)
{
  JsonArray *box = array_member (location, "box");
  for (guint i = 0; i < 6 && box; i++)
    r->box[i] = (guint) json_array_get_int_element (box, i);
  gsize length = 0;
  const char *bits = string_member (location, "bits");
  r->bits = bits ? g_base64_decode (bits, &length) : g_malloc0 (1);
  r->series_instance_uid = g_strdup (string_member (location, "series_instance_uid"));
  guint depth = MAX (1, r->box[5]);
  r->slice_sop_instance_uids = g_new0 (char *, depth + 1);
  r->slice_frames = g_new0 (guint, depth);
  JsonArray *slices = array_member (location, "slices");
  for (guint z = 0; z < depth; z++)
    {
      if (slices != NULL && z < json_array_get_length (slices))
        {
          JsonObject *slice = json_array_get_object_element (slices, z);
          r->slice_sop_instance_uids[z] = g_strdup (string_member (slice, "sop_instance_uid"));
          r->slice_frames[z] = (guint) json_object_get_int_member_with_default (slice, "frame", 0);
        }
      else /* a mask on one image */
        {
          r->slice_sop_instance_uids[z] = g_strdup (string_member (location, "sop_instance_uid"));
          r->slice_frames[z] = (guint) json_object_get_int_member_with_default (location, "frame", 0);
        }
    }
  (void) job;
}

static void
read_location (PrReportRegion *r, JsonObject *location, const PrJobDescription *job)
{
  const char *shape = string_member (location, "shape");
  for (gsize i = 0; shape && i < G_N_ELEMENTS (shapes); i++)
    if (strcmp (shapes[i].name, shape) == 0)
      r->shape = shapes[i].shape;
  r->sop_instance_uid = g_strdup (string_member (location, "sop_instance_uid"));
  r->frame = (guint) json_object_get_int_member_with_default (location, "frame", 0);
  r->frame_of_reference_uid = g_strdup (string_member (location, "frame_of_reference_uid"));
  if (r->shape == PR_REGION_MASK)
    read_mask (r, location, job);
  else if (r->shape != PR_REGION_NONE)
    read_points (r, array_member (location, "points"),
                 r->shape == PR_REGION_POINT_3D || r->shape == PR_REGION_POLYLINE_3D ? 3 : 2);
}

static void
read_finding (PrReport *report, JsonObject *o, const PrJobDescription *job)
{
  PrReportFinding *f = pr_report_add_finding (report);
  read_code (&f->type, object_member (o, "type"));
  read_code (&f->site, object_member (o, "site"));
  JsonNode *confidence = json_object_get_member (o, "confidence");
  if (confidence != NULL && JSON_NODE_HOLDS_VALUE (confidence))
    f->confidence = json_node_get_double (confidence);
  f->text = g_strdup (string_member (o, "text"));
  const char *tracking = string_member (o, "tracking_id");
  f->tracking_id = tracking ? g_strdup (tracking) : g_strdup_printf ("finding %u", f->number);
  g_autofree char *part = g_strdup_printf ("tracking %u", f->number);
  f->tracking_uid = pr_dicom_uid_derive (report->uid_seed, part);
  JsonObject *location = object_member (o, "location");
  if (location != NULL)
    read_location (&f->region, location, job);
  JsonArray *measurements = array_member (o, "measurements");
  for (guint i = 0; measurements && i < json_array_get_length (measurements); i++)
    {
      JsonObject *m = json_array_get_object_element (measurements, i);
      PrReportMeasurement measurement = { { 0 } };
      read_code (&measurement.concept, object_member (m, "concept"));
      measurement.value = json_object_get_double_member_with_default (m, "value", 0);
      measurement.unit = g_strdup (string_member (m, "unit"));
      g_array_append_val (f->measurements, measurement);
    }
  JsonArray *evaluations = array_member (o, "evaluations");
  for (guint i = 0; evaluations && i < json_array_get_length (evaluations); i++)
    {
      JsonObject *e = json_array_get_object_element (evaluations, i);
      PrReportEvaluation evaluation = { { 0 } };
      read_code (&evaluation.concept, object_member (e, "concept"));
      read_code (&evaluation.value, object_member (e, "value"));
      g_array_append_val (f->evaluations, evaluation);
    }
}

PrReport *
pr_findings_report_new (const PrJobDescription *job, const char *findings_json, const char *uid_seed,
                        GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, findings_json, -1, error))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the findings are not a JSON object");
      return NULL;
    }
  JsonObject *doc = json_node_get_object (root);
  g_autoptr (PrReport) report = pr_report_new ();
  report->uid_seed = g_strdup (uid_seed);

  JsonObject *analyzer = object_member (doc, "analyzer");
  const char *name = string_member (analyzer, "name");
  report->algorithm_name = g_strdup (name ? name : job->analyzer);
  const char *version = string_member (analyzer, "version");
  report->algorithm_version = g_strdup (version ? version : "unknown");
  report->algorithm_vendor = g_strdup (string_member (analyzer, "vendor"));
  /* The device is the algorithm at this version, wherever it runs. */
  g_autofree char *device = g_strdup_printf ("%s %s", report->algorithm_name, report->algorithm_version);
  report->device_uid = pr_dicom_uid_derive ("preread analyzer device", device);

  const char *priority = string_member (doc, "priority");
  report->priority = g_strcmp0 (priority, "critical") == 0 ? PR_REPORT_CRITICAL
                     : g_strcmp0 (priority, "urgent") == 0 ? PR_REPORT_URGENT
                                                            : PR_REPORT_ROUTINE;
  report->summary = g_strdup (string_member (doc, "summary"));

  for (guint s = 0; s < job->series->len; s++)
    {
      const PrJobSeries *series = job->series->pdata[s];
      for (guint i = 0; i < series->instances->len; i++)
        {
          const PrJobInstance *inst = series->instances->pdata[i];
          PrReportImage *image = g_new0 (PrReportImage, 1);
          image->sop_class_uid = g_strdup (inst->sop_class_uid);
          image->sop_instance_uid = g_strdup (inst->sop_instance_uid);
          image->series_instance_uid = g_strdup (series->series_instance_uid);
          image->path = g_strdup (inst->path);
          g_ptr_array_add (report->images, image);
        }
    }
  if (report->images->len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the job has no images to report on");
      return NULL;
    }

  JsonArray *findings = array_member (doc, "findings");
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    read_finding (report, json_array_get_object_element (findings, i), job);
  return g_steal_pointer (&report);
}
