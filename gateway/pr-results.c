/* pr-results.c: from a done job to recorded result objects and outbox items. */
#include "config.h"

#include "pr-results.h"

#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "plugin/host/pr-job-description.h"
#include "plugin/host/pr-supervisor.h"
#include "pr-hl7-notify.h"
#include "pr-job-folder.h"
#include "pr-job.h"
#include "pr-result-build.h"
#include "pr-result-object.h"

/* Rendering a few key images and writing five objects: minutes would mean
 * something is wrong. */
#define BUILD_TIMEOUT_S 600
#define BUILD_MEMORY_MB 4096

struct _PrResults {
  PrIndex *index;
  char *storage_root;
  const PrConfig *config;
  PrResultsBuiltFunc built;
  gpointer user_data;
  PrRun *run;                   /* the build in progress, or NULL */
  gint64 job_id;                /* its job */
  char *output;                 /* its output folder */
  char *log;
  guint wake_id;
  gboolean stopping;
};

static void build_next (PrResults *self);

static int
priority_rank (const char *result_priority)
{
  return g_strcmp0 (result_priority, "critical") == 0 ? 3 : g_strcmp0 (result_priority, "urgent") == 0 ? 2 : 1;
}

/* The objects in the manifest, with paths relative to the storage folder. */
static GPtrArray *
read_manifest (PrResults *self, gint64 job_id, GError **error)
{
  g_autofree char *manifest = g_build_filename (self->output, "manifest.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, manifest, error))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  JsonArray *objects = root && JSON_NODE_HOLDS_OBJECT (root)
                         ? json_object_get_array_member (json_node_get_object (root), "objects")
                         : NULL;
  if (objects == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s lists no objects", manifest);
      return NULL;
    }
  JsonArray *warnings = json_object_get_array_member (json_node_get_object (root), "warnings");
  for (guint i = 0; warnings && i < json_array_get_length (warnings); i++)
    g_warning ("job %" G_GINT64_FORMAT ": results: %s", job_id, json_array_get_string_element (warnings, i));
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_result_object_free);
  g_autofree char *relative_folder = g_strdup_printf ("results/%" G_GINT64_FORMAT, job_id);
  for (guint i = 0; i < json_array_get_length (objects); i++)
    {
      JsonObject *o = json_array_get_object_element (objects, i);
      const char *file = json_object_get_string_member_with_default (o, "file", "");
      /* Names come from our own child; still, no path ever leaves its folder. */
      if (*file == '\0' || strchr (file, '/') != NULL || file[0] == '.')
        continue;
      PrResultObject *object = g_new0 (PrResultObject, 1);
      object->job_id = job_id;
      object->kind = g_strdup (json_object_get_string_member_with_default (o, "kind", ""));
      object->sop_class_uid = g_strdup (json_object_get_string_member_with_default (o, "sop_class_uid", ""));
      object->sop_instance_uid = g_strdup (json_object_get_string_member_with_default (o, "sop_instance_uid", ""));
      object->series_instance_uid =
        g_strdup (json_object_get_string_member_with_default (o, "series_instance_uid", ""));
      object->path = g_build_filename (relative_folder, file, NULL);
      g_ptr_array_add (list, object);
    }
  return g_steal_pointer (&list);
}

/* Records what was built, for the destinations the route run resolved. */
static gboolean
record (PrResults *self, gint64 job_id, GError **error)
{
  g_autoptr (PrJob) job = pr_index_get_job (self->index, job_id, error);
  if (job == NULL)
    return FALSE;
  g_autoptr (GPtrArray) objects = read_manifest (self, job_id, error);
  if (objects == NULL)
    return FALSE;
  g_autofree char *results_to = pr_index_get_route_run_results_to (self->index, job->route_run_id, error);
  if (results_to == NULL)
    return FALSE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, results_to, -1, error))
    return FALSE;
  JsonArray *list = json_node_get_array (json_parser_get_root (parser));
  guint n = list ? json_array_get_length (list) : 0;
  g_autofree PrResultDestination *destinations = g_new0 (PrResultDestination, MAX (n, 1));
  g_autoptr (GPtrArray) kinds = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *d = json_array_get_object_element (list, i);
      JsonNode *peer = json_object_get_member (d, "peer");
      destinations[i].peer = peer && JSON_NODE_HOLDS_VALUE (peer) ? json_node_get_string (peer) : NULL;
      destinations[i].unresolved_reason = json_object_get_string_member_with_default (d, "error", NULL);
      JsonArray *objects_of = json_object_get_array_member (d, "objects");
      GPtrArray *names = g_ptr_array_new ();
      for (guint k = 0; objects_of && k < json_array_get_length (objects_of); k++)
        g_ptr_array_add (names, (gpointer) json_array_get_string_element (objects_of, k));
      g_ptr_array_add (names, NULL);
      destinations[i].objects = (const char *const *) names->pdata;
      g_ptr_array_add (kinds, g_ptr_array_free (names, FALSE));
    }
  int priority = priority_rank (job->result_priority) * 10 + job->priority;
  g_autofree char *installation = pr_index_installation_id (self->index, error);
  if (installation == NULL)
    return FALSE;
  g_autoptr (GPtrArray) notices =
    pr_hl7_notify_prepare (self->index, self->storage_root, self->config, job, installation);
  if (!pr_index_record_results (self->index, job_id, objects, destinations, n, notices, priority, error))
    return FALSE;
  g_message ("job %" G_GINT64_FORMAT ": %u result object(s) made, for %u destination(s)%s", job_id, objects->len, n,
             notices->len ? ", with HL7 notice(s)" : "");
  return TRUE;
}

static void
on_build_done (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  PrResults *self = user_data;
  gint64 job_id = self->job_id;
  self->run = NULL;
  g_autoptr (GError) error = NULL;
  if (outcome->end == PR_RUN_CANCELLED)
    g_message ("job %" G_GINT64_FORMAT ": making results interrupted; done again at the next start", job_id);
  else if (outcome->end != PR_RUN_EXITED || outcome->exit_status != 0)
    {
      g_autofree char *how = pr_run_outcome_describe (outcome, NULL);
      g_autofree char *tail = pr_run_log_tail (self->log);
      g_autofree char *reason = g_strdup_printf ("making the result objects %s%s%s", how, tail ? ": " : "",
                                                 tail ? tail : "");
      g_warning ("job %" G_GINT64_FORMAT ": %s", job_id, reason);
      if (!pr_index_fail_results (self->index, job_id, reason, &error))
        g_warning ("job %" G_GINT64_FORMAT ": %s", job_id, error->message);
    }
  else if (!record (self, job_id, &error))
    {
      g_warning ("job %" G_GINT64_FORMAT ": cannot record its results: %s", job_id, error->message);
      g_autoptr (GError) again = NULL;
      pr_index_fail_results (self->index, job_id, error->message, &again);
    }
  else if (self->built != NULL)
    self->built (job_id, self->user_data);
  g_clear_pointer (&self->output, g_free);
  g_clear_pointer (&self->log, g_free);
  if (!self->stopping)
    pr_results_wake (self);
}

static void
start_build (PrResults *self, gint64 job_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrJob) job = pr_index_get_job (self->index, job_id, &error);
  g_autofree char *installation = pr_index_installation_id (self->index, &error);
  if (job == NULL || installation == NULL)
    {
      g_warning ("job %" G_GINT64_FORMAT ": cannot make results: %s", job_id, error->message);
      pr_index_fail_results (self->index, job_id, error->message, NULL);
      pr_results_wake (self);
      return;
    }
  g_autoptr (PrJobFolder) folder = pr_job_folder_locate (self->storage_root, job_id);
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT, job_id);
  self->output = g_build_filename (self->storage_root, "results", name, NULL);
  self->log = g_build_filename (folder->folder, "results.log", NULL);
  /* A build interrupted by a crash left who knows what: start clean. The
   * seed is the same, so are the UIDs. A job that ran again replaces its
   * earlier objects, which nobody must try to send any more. */
  if (!pr_index_supersede_results (self->index, job_id, &error))
    {
      g_warning ("job %" G_GINT64_FORMAT ": cannot replace earlier results: %s", job_id, error->message);
      g_clear_error (&error);
    }
  pr_job_folder_remove (self->output);
  g_unlink (self->log);
  g_autofree char *seed = g_strdup_printf ("%s/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, installation, job_id,
                                           job->finished_at_us);
  const char *argv[] = { "/proc/self/exe", PR_RESULT_BUILD_SUBCOMMAND, folder->folder, self->output, seed, NULL };
  PrRunSpec spec = { 0 };
  spec.argv = argv;
  spec.working_dir = folder->folder;
  spec.log_path = self->log;
  spec.timeout_s = BUILD_TIMEOUT_S;
  spec.memory_limit_mb = BUILD_MEMORY_MB;
  self->job_id = job_id;
  self->run = pr_run_start (&spec, NULL, on_build_done, self, &error);
  if (self->run == NULL)
    {
      g_warning ("job %" G_GINT64_FORMAT ": cannot start making results: %s", job_id, error->message);
      pr_index_fail_results (self->index, job_id, error->message, NULL);
      g_clear_pointer (&self->output, g_free);
      g_clear_pointer (&self->log, g_free);
    }
}

static void
build_next (PrResults *self)
{
  if (self->run != NULL || self->stopping)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) pending = pr_index_list_pending_results (self->index, &error);
  if (pending == NULL)
    {
      g_warning ("cannot read the jobs waiting for results: %s", error->message);
      return;
    }
  if (pending->len > 0)
    start_build (self, g_array_index (pending, gint64, 0));
}

static gboolean
on_wake (gpointer user_data)
{
  PrResults *self = user_data;
  self->wake_id = 0;
  build_next (self);
  return G_SOURCE_REMOVE;
}

void
pr_results_wake (PrResults *self)
{
  if (self->wake_id == 0 && !self->stopping)
    self->wake_id = g_idle_add (on_wake, self);
}

PrResults *
pr_results_new (PrIndex *index, const char *storage_root, const PrConfig *config, PrResultsBuiltFunc built,
                gpointer user_data)
{
  PrResults *self = g_new0 (PrResults, 1);
  self->index = index;
  self->storage_root = g_strdup (storage_root);
  self->config = config;
  self->built = built;
  self->user_data = user_data;
  return self;
}

void
pr_results_set_config (PrResults *self, const PrConfig *config)
{
  self->config = config;
}

void
pr_results_stop (PrResults *self)
{
  self->stopping = TRUE;
  if (self->run != NULL)
    pr_run_cancel (self->run);
}

void
pr_results_free (PrResults *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->wake_id, g_source_remove);
  /* A build still running dies with the daemon; its job stays pending. */
  g_free (self->output);
  g_free (self->log);
  g_free (self->storage_root);
  g_free (self);
}
