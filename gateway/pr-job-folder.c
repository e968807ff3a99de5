/* pr-job-folder.c: writing job.json from the index. */
#include "config.h"

#include "pr-job-folder.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "plugin/host/pr-job-description.h"

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

static gboolean
add_series (PrJobDescription *d, PrIndex *index, const char *storage_root, const PrIndexStudy *study,
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
  PrJobSeries *s = pr_job_description_add_series (d, series_uid, series->attributes_json);
  for (guint i = 0; i < instances->len; i++)
    {
      PrIndexInstance *inst = instances->pdata[i];
      g_autofree char *path = g_build_filename (storage_root, inst->path, NULL);
      pr_job_series_add_instance (s, inst->sop_instance_uid, inst->sop_class_uid, path, inst->instance_number);
    }
  if (d->study_attributes_json == NULL)
    d->study_attributes_json = pr_job_description_study_attributes (series->attributes_json);
  return TRUE;
}

static gboolean
read_json (const char *text, JsonNodeType type, JsonParser *parser, GError **error)
{
  if (!json_parser_load_from_data (parser, text ? text : "", -1, error))
    return FALSE;
  if (json_node_get_node_type (json_parser_get_root (parser)) != type)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "unexpected JSON in the job's row: %s", text);
      return FALSE;
    }
  return TRUE;
}

/* The job as job.json describes it. */
static PrJobDescription *
describe (PrIndex *index, const char *storage_root, const PrJob *job, const PrJobFolder *f, GError **error)
{
  g_autoptr (PrIndexStudy) study = pr_index_get_study (index, job->study_id, error);
  if (study == NULL)
    return NULL;
  g_autoptr (PrJobDescription) d = pr_job_description_new ();
  d->job_id = job->id;
  d->attempt = job->attempts + 1; /* this attempt: the row counts it once started */
  d->analyzer = g_strdup (job->analyzer);
  d->route = g_strdup (job->route);
  d->study_instance_uid = g_strdup (study->study_uid);
  d->calling_ae = g_strdup (study->calling_ae);
  d->instance_count = study->instance_count;
  d->output_dir = g_strdup (f->output_folder);
  d->findings_file = g_strdup (f->findings_file);

  g_autoptr (JsonParser) parameters = json_parser_new ();
  if (!read_json (job->parameters, JSON_NODE_OBJECT, parameters, error))
    return NULL;
  JsonObject *p = json_node_get_object (json_parser_get_root (parameters));
  g_autoptr (GList) names = json_object_get_members (p);
  for (GList *n = names; n; n = n->next)
    {
      const char *value = json_object_get_string_member_with_default (p, n->data, NULL);
      if (value != NULL)
        g_hash_table_replace (d->parameters, g_strdup (n->data), g_strdup (value));
    }

  g_autoptr (JsonParser) uids = json_parser_new ();
  if (!read_json (job->series_uids, JSON_NODE_ARRAY, uids, error))
    return NULL;
  JsonArray *list = json_node_get_array (json_parser_get_root (uids));
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      const char *uid = json_node_get_string (json_array_get_element (list, i));
      if (uid == NULL || !add_series (d, index, storage_root, study, uid, error))
        return NULL;
    }
  return g_steal_pointer (&d);
}

PrJobFolder *
pr_job_folder_prepare (PrIndex *index, const char *storage_root, const PrJob *job, GError **error)
{
  g_autoptr (PrJobFolder) f = pr_job_folder_locate (storage_root, job->id);
  g_autoptr (PrJobDescription) description = describe (index, storage_root, job, f, error);
  if (description == NULL)
    return NULL;

  /* Each attempt starts clean: nothing of a crashed attempt is trusted. */
  pr_job_folder_remove (f->folder);
  if (g_mkdir_with_parents (f->output_folder, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s", f->output_folder,
                   g_strerror (errno));
      return NULL;
    }
  g_autofree char *text = pr_job_description_to_json (description);
  if (!g_file_set_contents (f->job_file, text, -1, error))
    return NULL;
  return g_steal_pointer (&f);
}
