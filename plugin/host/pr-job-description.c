/* pr-job-description.c: writing and reading job.json. */
#include "config.h"

#include "pr-job-description.h"

#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* job.json larger than this is not ours: a study of 100 000 instances
 * takes about 30 MB. */
#define MAX_JOB_FILE_BYTES (256 * 1024 * 1024)

static void
job_instance_free (PrJobInstance *i)
{
  g_free (i->sop_instance_uid);
  g_free (i->sop_class_uid);
  g_free (i->path);
  g_free (i);
}

static void
job_series_free (PrJobSeries *s)
{
  g_free (s->series_instance_uid);
  g_free (s->attributes_json);
  g_ptr_array_unref (s->instances);
  g_free (s);
}

PrJobDescription *
pr_job_description_new (void)
{
  PrJobDescription *job = g_new0 (PrJobDescription, 1);
  job->attempt = 1;
  job->parameters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  job->series = g_ptr_array_new_with_free_func ((GDestroyNotify) job_series_free);
  return job;
}

void
pr_job_description_free (PrJobDescription *job)
{
  if (job == NULL)
    return;
  g_free (job->analyzer);
  g_free (job->route);
  g_hash_table_unref (job->parameters);
  g_free (job->study_instance_uid);
  g_free (job->calling_ae);
  g_free (job->study_attributes_json);
  g_ptr_array_unref (job->series);
  g_free (job->output_dir);
  g_free (job->findings_file);
  g_free (job);
}

PrJobSeries *
pr_job_description_add_series (PrJobDescription *job, const char *series_uid, const char *attributes_json)
{
  PrJobSeries *s = g_new0 (PrJobSeries, 1);
  s->series_instance_uid = g_strdup (series_uid);
  s->attributes_json = g_strdup (attributes_json);
  s->instances = g_ptr_array_new_with_free_func ((GDestroyNotify) job_instance_free);
  g_ptr_array_add (job->series, s);
  return s;
}

void
pr_job_series_add_instance (PrJobSeries *series, const char *sop_instance_uid, const char *sop_class_uid,
                            const char *path, int instance_number)
{
  PrJobInstance *i = g_new0 (PrJobInstance, 1);
  i->sop_instance_uid = g_strdup (sop_instance_uid);
  i->sop_class_uid = g_strdup (sop_class_uid);
  i->path = g_strdup (path);
  i->instance_number = instance_number;
  g_ptr_array_add (series->instances, i);
}

/* Patient and General Study module attributes (PS3.3 C.7.1.1, C.7.2.1,
 * C.7.2.2): what an analyzer may want to know about the study as a whole. */
static const char *const study_tags[] = {
  "00080020", /* StudyDate */
  "00080030", /* StudyTime */
  "00080050", /* AccessionNumber */
  "00080090", /* ReferringPhysicianName */
  "00081030", /* StudyDescription */
  "00100010", /* PatientName */
  "00100020", /* PatientID */
  "00100021", /* IssuerOfPatientID */
  "00100030", /* PatientBirthDate */
  "00100040", /* PatientSex */
  "00101010", /* PatientAge */
  "00101020", /* PatientSize */
  "00101030", /* PatientWeight */
  "0020000D", /* StudyInstanceUID */
  "00200010", /* StudyID */
};

char *
pr_job_description_study_attributes (const char *series_attributes_json)
{
  if (series_attributes_json == NULL)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, series_attributes_json, -1, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonObject *all = json_node_get_object (root);
  g_autoptr (JsonObject) study = json_object_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (study_tags); i++)
    if (json_object_has_member (all, study_tags[i]))
      json_object_set_member (study, study_tags[i], json_node_copy (json_object_get_member (all, study_tags[i])));
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), study);
  return json_to_string (node, FALSE);
}

/* ---- writing ------------------------------------------------------------- */

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_raw_json (JsonBuilder *b, const char *name, const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  json_builder_set_member_name (b, name);
  if (json != NULL && json_parser_load_from_data (parser, json, -1, NULL) && json_parser_get_root (parser))
    json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
  else
    json_builder_add_null_value (b);
}

static void
add_series (JsonBuilder *b, const PrJobSeries *s)
{
  json_builder_begin_object (b);
  add_string (b, "series_instance_uid", s->series_instance_uid);
  add_raw_json (b, "attributes", s->attributes_json);
  json_builder_set_member_name (b, "instances");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->instances->len; i++)
    {
      const PrJobInstance *inst = s->instances->pdata[i];
      json_builder_begin_object (b);
      add_string (b, "sop_instance_uid", inst->sop_instance_uid);
      add_string (b, "sop_class_uid", inst->sop_class_uid);
      add_string (b, "path", inst->path);
      json_builder_set_member_name (b, "instance_number");
      if (inst->instance_number >= 0)
        json_builder_add_int_value (b, inst->instance_number);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
pr_job_description_to_json (const PrJobDescription *job)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "schema", "preread-job/1");
  json_builder_set_member_name (b, "job");
  json_builder_add_int_value (b, job->job_id);
  json_builder_set_member_name (b, "attempt");
  json_builder_add_int_value (b, job->attempt);
  add_string (b, "analyzer", job->analyzer);
  add_string (b, "route", job->route);

  /* Sorted, so that the same job always reads the same. */
  json_builder_set_member_name (b, "parameters");
  json_builder_begin_object (b);
  g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (job->parameters, NULL);
  qsort (names, g_hash_table_size (job->parameters), sizeof *names, compare_names);
  for (const char **n = names; *n; n++)
    add_string (b, *n, g_hash_table_lookup (job->parameters, *n));
  json_builder_end_object (b);

  json_builder_set_member_name (b, "study");
  json_builder_begin_object (b);
  add_string (b, "study_instance_uid", job->study_instance_uid);
  add_string (b, "calling_ae", job->calling_ae);
  json_builder_set_member_name (b, "instance_count");
  json_builder_add_int_value (b, job->instance_count);
  add_raw_json (b, "attributes", job->study_attributes_json);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "series");
  json_builder_begin_array (b);
  for (guint i = 0; i < job->series->len; i++)
    add_series (b, job->series->pdata[i]);
  json_builder_end_array (b);

  add_string (b, "output_dir", job->output_dir);
  add_string (b, "findings_file", job->findings_file);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

/* ---- reading ------------------------------------------------------------- */

typedef struct {
  GError **error;
  gboolean failed;
} Reader;

static void
invalid (Reader *r, const char *what)
{
  if (!r->failed)
    g_set_error_literal (r->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, what);
  r->failed = TRUE;
}

/* A string member; NULL (and no complaint) when absent or null unless @required. */
static char *
get_string (Reader *r, JsonObject *o, const char *member, gboolean required)
{
  JsonNode *node = o ? json_object_get_member (o, member) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        {
          g_autofree char *what = g_strdup_printf ("\"%s\" is missing", member);
          invalid (r, what);
        }
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_autofree char *what = g_strdup_printf ("\"%s\" must be a string", member);
      invalid (r, what);
      return NULL;
    }
  return g_strdup (json_node_get_string (node));
}

static gint64
get_int (Reader *r, JsonObject *o, const char *member, gint64 fallback)
{
  JsonNode *node = o ? json_object_get_member (o, member) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return fallback;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_autofree char *what = g_strdup_printf ("\"%s\" must be an integer", member);
      invalid (r, what);
      return fallback;
    }
  return json_node_get_int (node);
}

static JsonObject *
get_object (Reader *r, JsonObject *o, const char *member)
{
  JsonNode *node = o ? json_object_get_member (o, member) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *what = g_strdup_printf ("\"%s\" must be an object", member);
      invalid (r, what);
      return NULL;
    }
  return json_node_get_object (node);
}

static JsonArray *
get_array (Reader *r, JsonObject *o, const char *member)
{
  JsonNode *node = o ? json_object_get_member (o, member) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_autofree char *what = g_strdup_printf ("\"%s\" must be an array", member);
      invalid (r, what);
      return NULL;
    }
  return json_node_get_array (node);
}

static char *
raw_json (JsonObject *o, const char *member)
{
  JsonNode *node = o ? json_object_get_member (o, member) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_to_string (node, FALSE);
}

static void
read_series (Reader *r, PrJobDescription *job, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (r, "a series must be an object");
      return;
    }
  JsonObject *o = json_node_get_object (node);
  g_autofree char *uid = get_string (r, o, "series_instance_uid", TRUE);
  g_autofree char *attributes = raw_json (o, "attributes");
  PrJobSeries *s = pr_job_description_add_series (job, uid, attributes);
  JsonArray *instances = get_array (r, o, "instances");
  for (guint i = 0; instances != NULL && i < json_array_get_length (instances) && !r->failed; i++)
    {
      JsonNode *item = json_array_get_element (instances, i);
      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          invalid (r, "an instance must be an object");
          return;
        }
      JsonObject *io = json_node_get_object (item);
      g_autofree char *sop = get_string (r, io, "sop_instance_uid", TRUE);
      g_autofree char *sop_class = get_string (r, io, "sop_class_uid", FALSE);
      g_autofree char *path = get_string (r, io, "path", TRUE);
      gint64 number = get_int (r, io, "instance_number", -1);
      if (path != NULL && !g_path_is_absolute (path))
        invalid (r, "instance paths must be absolute");
      pr_job_series_add_instance (s, sop, sop_class, path, (int) CLAMP (number, -1, G_MAXINT));
    }
}

PrJobDescription *
pr_job_description_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  if (length > MAX_JOB_FILE_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is larger than %d MB", path,
                   MAX_JOB_FILE_BYTES >> 20);
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, (gssize) length, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a JSON object", path);
      return NULL;
    }
  JsonObject *o = json_node_get_object (root);
  Reader r = { error, FALSE };
  g_autofree char *schema = get_string (&r, o, "schema", TRUE);
  if (!r.failed && strcmp (schema, "preread-job/1") != 0)
    invalid (&r, "the schema is not preread-job/1");

  g_autoptr (PrJobDescription) job = pr_job_description_new ();
  job->job_id = get_int (&r, o, "job", 0);
  job->attempt = (int) CLAMP (get_int (&r, o, "attempt", 1), 1, G_MAXINT);
  job->analyzer = get_string (&r, o, "analyzer", TRUE);
  job->route = get_string (&r, o, "route", FALSE);
  JsonObject *parameters = get_object (&r, o, "parameters");
  if (parameters != NULL)
    {
      g_autoptr (GList) names = json_object_get_members (parameters);
      for (GList *n = names; n; n = n->next)
        {
          char *value = get_string (&r, parameters, n->data, TRUE);
          if (value != NULL)
            g_hash_table_replace (job->parameters, g_strdup (n->data), value);
        }
    }
  JsonObject *study = get_object (&r, o, "study");
  job->study_instance_uid = get_string (&r, study, "study_instance_uid", TRUE);
  job->calling_ae = get_string (&r, study, "calling_ae", FALSE);
  job->instance_count = (guint) CLAMP (get_int (&r, study, "instance_count", 0), 0, G_MAXUINT);
  job->study_attributes_json = raw_json (study, "attributes");
  JsonArray *series = get_array (&r, o, "series");
  for (guint i = 0; series != NULL && i < json_array_get_length (series) && !r.failed; i++)
    read_series (&r, job, json_array_get_element (series, i));
  job->output_dir = get_string (&r, o, "output_dir", TRUE);
  job->findings_file = get_string (&r, o, "findings_file", TRUE);
  if (r.failed)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  return g_steal_pointer (&job);
}

void
pr_job_folder_remove (const char *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (folder, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        pr_job_folder_remove (child);
      else
        g_unlink (child);
    }
  g_rmdir (folder);
}
