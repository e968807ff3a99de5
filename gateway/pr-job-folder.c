/* pr-job-folder.c: writing job.json from the index. */
#include "config.h"

#include "pr-job-folder.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "conf/pr-conf-error.h"

void
pr_job_folder_free (PrJobFolder *f)
{
  if (f == NULL)
    return;
  g_free (f->folder);
  g_free (f->job_file);
  g_free (f->output_folder);
  g_free (f->findings_file);
  g_free (f->log_file);
  g_free (f);
}

PrJobFolder *
pr_job_folder_locate (const char *storage_root, gint64 job_id)
{
  PrJobFolder *f = g_new0 (PrJobFolder, 1);
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT, job_id);
  f->folder = g_build_filename (storage_root, "jobs", name, NULL);
  f->job_file = g_build_filename (f->folder, "job.json", NULL);
  f->output_folder = g_build_filename (f->folder, "output", NULL);
  f->findings_file = g_build_filename (f->output_folder, "findings.json", NULL);
  f->log_file = g_build_filename (f->folder, "analyzer.log", NULL);
  return f;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

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
  if (json != NULL && json_parser_load_from_data (parser, json, -1, NULL))
    json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
  else
    json_builder_add_null_value (b);
}

static gboolean
add_series (JsonBuilder *b, PrIndex *index, const char *storage_root, const PrIndexStudy *study,
            const char *series_uid, GError **error)
{
  const PrIndexSeries *series = NULL;
  for (guint i = 0; i < study->series->len; i++)
    if (strcmp (((PrIndexSeries *) study->series->pdata[i])->series_uid, series_uid) == 0)
      series = study->series->pdata[i];
  if (series == NULL)
    {
      g_set_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND, "series %s is no longer in the index", series_uid);
      return FALSE;
    }
  g_autoptr (GPtrArray) instances = pr_index_list_series_instances (index, series_uid, error);
  if (instances == NULL)
    return FALSE;

  json_builder_begin_object (b);
  add_string (b, "series_instance_uid", series_uid);
  add_raw_json (b, "attributes", series->attributes_json);
  json_builder_set_member_name (b, "instances");
  json_builder_begin_array (b);
  for (guint i = 0; i < instances->len; i++)
    {
      PrIndexInstance *inst = instances->pdata[i];
      g_autofree char *path = g_build_filename (storage_root, inst->path, NULL);
      json_builder_begin_object (b);
      add_string (b, "sop_instance_uid", inst->sop_instance_uid);
      add_string (b, "sop_class_uid", inst->sop_class_uid);
      add_string (b, "path", path);
      json_builder_set_member_name (b, "instance_number");
      if (inst->instance_number >= 0)
        json_builder_add_int_value (b, inst->instance_number);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return TRUE;
}

PrJobFolder *
pr_job_folder_prepare (PrIndex *index, const char *storage_root, const PrJob *job, GError **error)
{
  g_autoptr (PrJobFolder) f = pr_job_folder_locate (storage_root, job->id);
  g_autoptr (PrIndexStudy) study = pr_index_get_study (index, job->study_id, error);
  if (study == NULL)
    return NULL;

  /* Each attempt starts clean: nothing of a crashed attempt is trusted. */
  remove_tree (f->folder);
  if (g_mkdir_with_parents (f->output_folder, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s", f->output_folder,
                   g_strerror (errno));
      return NULL;
    }

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "schema", "preread-job/1");
  json_builder_set_member_name (b, "job");
  json_builder_add_int_value (b, job->id);
  json_builder_set_member_name (b, "attempt");
  json_builder_add_int_value (b, job->attempts);
  add_string (b, "analyzer", job->analyzer);
  add_string (b, "route", job->route);
  add_raw_json (b, "parameters", job->parameters);
  json_builder_set_member_name (b, "study");
  json_builder_begin_object (b);
  add_string (b, "study_instance_uid", study->study_uid);
  add_string (b, "calling_ae", study->calling_ae);
  json_builder_set_member_name (b, "instance_count");
  json_builder_add_int_value (b, study->instance_count);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "series");
  json_builder_begin_array (b);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, job->series_uids, -1, error))
    return NULL;
  JsonArray *uids = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (uids); i++)
    if (!add_series (b, index, storage_root, study, json_array_get_string_element (uids, i), error))
      return NULL;
  json_builder_end_array (b);

  add_string (b, "output_dir", f->output_folder);
  add_string (b, "findings_file", f->findings_file);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, TRUE);
  if (!g_file_set_contents (f->job_file, text, -1, error))
    return NULL;
  return g_steal_pointer (&f);
}
