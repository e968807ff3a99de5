/* pr-web-backend.c: answering the web UI from the index, the configuration and a renderer. */
#include "config.h"

#include "pr-web-backend.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "plugin/host/pr-supervisor.h"
#include "pr-analyzer-health.h"
#include "pr-job-folder.h"
#include "pr-job.h"
#include "pr-key-image-render.h"
#include "pr-outbox-item.h"
#include "pr-ui-queries.h"
#include "pr-web-photo.h"

struct _PrWebGateway {
  PrWebBackend backend;
  PrIndex *index;
  char *storage_root;
  const PrConfig *config;
  PrWebChanged changed;
  gpointer user_data;
  guint16 dicom_port;           /* as bound; 0 until the listener is up */
};

/* Index errors as ui-glue reads them: "not found" is the caller's problem. */
static void
translate (GError **error)
{
  if (error != NULL && *error != NULL && g_error_matches (*error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND))
    {
      GError *e = *error;
      *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, e->message);
      g_error_free (e);
    }
}

static JsonNode *
worklist (gpointer data, const PrWebWorklistQuery *q, GError **error)
{
  PrWebGateway *self = data;
  PrWorklistQuery query = { q->text, q->modality, q->analyzer, q->priority, q->state, q->date_from, q->date_to,
                            q->limit };
  return pr_ui_worklist (self->index, &query, error);
}

static JsonNode *
study (gpointer data, gint64 id, GError **error)
{
  PrWebGateway *self = data;
  JsonNode *node = pr_ui_study (self->index, self->storage_root, id, error);
  translate (error);
  return node;
}

static JsonNode *
jobs (gpointer data, const char *state, guint limit, GError **error)
{
  return pr_ui_jobs (((PrWebGateway *) data)->index, state, limit, error);
}

static JsonNode *
outbox (gpointer data, const char *state, guint limit, GError **error)
{
  return pr_ui_outbox (((PrWebGateway *) data)->index, state, limit, error);
}

static JsonNode *
analyzers (gpointer data, GError **error)
{
  PrWebGateway *self = data;
  JsonNode *node = pr_ui_analyzers (self->index, error);
  if (node == NULL)
    return NULL;
  /* Configured analyzers that never ran are analyzers too; each gets its kind. */
  JsonArray *list = json_object_get_array_member (json_node_get_object (node), "analyzers");
  for (guint i = 0; i < self->config->analyzers->len; i++)
    {
      const PrAnalyzerConfig *a = self->config->analyzers->pdata[i];
      JsonObject *found = NULL;
      for (guint k = 0; k < json_array_get_length (list) && found == NULL; k++)
        if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (list, k), "name"), a->name) == 0)
          found = json_array_get_object_element (list, k);
      if (found == NULL)
        {
          found = json_object_new ();
          json_object_set_string_member (found, "name", a->name);
          json_object_set_int_member (found, "queued", 0);
          json_object_set_boolean_member (found, "quarantined", FALSE);
          json_object_set_array_member (found, "feedback", json_array_new ());
          json_array_add_object_element (list, found);
        }
      static const char *const kinds[] = { "module", "program", "builtin" };
      json_object_set_string_member (found, "kind", kinds[a->kind]);
      json_object_set_boolean_member (found, "configured", TRUE);
    }
  return node;
}

static void
add_destinations (JsonBuilder *b, const char *member, GPtrArray *destinations)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < destinations->len; i++)
    {
      const PrRouteDestination *d = destinations->pdata[i];
      json_builder_add_string_value (b, d->to_sender ? "(the sender)" : d->peer);
    }
  json_builder_end_array (b);
}

/* The running configuration's routes, as the administrator wrote them. */
static JsonNode *
routes (gpointer data, GError **error)
{
  PrWebGateway *self = data;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, self->config->source);
  json_builder_set_member_name (b, "routes");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->config->routes->len; i++)
    {
      const PrRoute *r = self->config->routes->pdata[i];
      g_autofree char *match = pr_condition_describe (r->match);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, r->name);
      json_builder_set_member_name (b, "priority");
      json_builder_add_string_value (b, pr_priority_to_string (r->priority));
      json_builder_set_member_name (b, "match");
      json_builder_add_string_value (b, match);
      json_builder_set_member_name (b, "analyses");
      json_builder_begin_array (b);
      for (guint k = 0; k < r->analyses->len; k++)
        {
          const PrRouteAnalysis *a = r->analyses->pdata[k];
          g_autofree char *filter = pr_condition_describe (a->series_filter);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "analyzer");
          json_builder_add_string_value (b, a->analyzer);
          json_builder_set_member_name (b, "series");
          json_builder_add_string_value (b, filter);
          json_builder_set_member_name (b, "prefer");
          json_builder_add_string_value (b, pr_series_preference_to_string (a->prefer));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      add_destinations (b, "results_to", r->results_to);
      add_destinations (b, "forward_to", r->forward_to);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
audit_log (gpointer data, guint limit, GError **error)
{
  return pr_ui_audit_log (((PrWebGateway *) data)->index, limit, error);
}

static char *
metrics (gpointer data, GError **error)
{
  return pr_ui_metrics (((PrWebGateway *) data)->index, error);
}

/* ---- key images ------------------------------------------------------------------------- */

typedef struct {
  char *path;
  PrWebImageReady ready;
  gpointer user_data;
  char *log;
} Render;

static void
on_rendered (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  Render *r = user_data;
  if (outcome->end == PR_RUN_EXITED && outcome->exit_status == 0 && g_file_test (r->path, G_FILE_TEST_EXISTS))
    r->ready (r->path, NULL, r->user_data);
  else
    {
      g_autofree char *tail = pr_run_log_tail (r->log);
      g_autoptr (GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such key image%s%s",
                                              tail ? ": " : "", tail ? tail : "");
      r->ready (NULL, error, r->user_data);
    }
  g_unlink (r->log);
  g_free (r->path);
  g_free (r->log);
  g_free (r);
}

static void
key_image (gpointer data, gint64 job_id, guint number, gboolean overlay, PrWebImageReady ready, gpointer user_data)
{
  PrWebGateway *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrJob) job = pr_index_get_job (self->index, job_id, &error);
  if (job == NULL || job->state != PR_JOB_DONE)
    {
      g_autoptr (GError) missing = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "job %" G_GINT64_FORMAT
                                                " has no findings", job_id);
      ready (NULL, missing, user_data);
      return;
    }
  /* Cached by job run: a job run again draws its new findings. */
  g_autofree char *folder = g_build_filename (self->storage_root, "cache", "key-images", NULL);
  g_mkdir_with_parents (folder, 0700);
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "-%u-%d.png", job_id,
                                           job->finished_at_us, number, overlay ? 1 : 0);
  g_autofree char *path = g_build_filename (folder, name, NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      ready (path, NULL, user_data);
      return;
    }
  g_autoptr (PrJobFolder) job_folder = pr_job_folder_locate (self->storage_root, job_id);
  g_autofree char *n = g_strdup_printf ("%u", number);
  const char *argv[] = { "/proc/self/exe", PR_KEY_IMAGE_RENDER_SUBCOMMAND, job_folder->folder, n, overlay ? "1" : "0",
                         path, NULL };
  Render *r = g_new0 (Render, 1);
  r->path = g_strdup (path);
  r->ready = ready;
  r->user_data = user_data;
  r->log = g_strconcat (path, ".log", NULL);
  PrRunSpec spec = { 0 };
  spec.argv = argv;
  spec.log_path = r->log;
  spec.timeout_s = 60;
  spec.memory_limit_mb = 2048;
  if (pr_run_start (&spec, NULL, on_rendered, r, &error) == NULL)
    {
      ready (NULL, error, user_data);
      g_free (r->path);
      g_free (r->log);
      g_free (r);
    }
}

/* ---- actions --------------------------------------------------------------------------- */

static gboolean
add_feedback (gpointer data, gint64 job_id, int finding, const char *verdict, const char *comment, const char *user,
              GError **error)
{
  gboolean ok = pr_ui_add_feedback (((PrWebGateway *) data)->index, job_id, finding, verdict, comment, user, error);
  translate (error);
  return ok;
}

static void
changed (PrWebGateway *self)
{
  if (self->changed)
    self->changed (self->user_data);
}

static gboolean
retry_job (gpointer data, gint64 job_id, GError **error)
{
  PrWebGateway *self = data;
  gboolean ok = pr_index_retry_job (self->index, job_id, error);
  translate (error);
  if (ok)
    changed (self);
  return ok;
}

static gboolean
cancel_job (gpointer data, gint64 job_id, GError **error)
{
  PrWebGateway *self = data;
  gboolean was_running = FALSE;
  gboolean ok = pr_index_cancel_job (self->index, job_id, &was_running, error);
  translate (error);
  if (ok)
    changed (self);
  return ok;
}

static guint
retry_outbox (gpointer data, gint64 id, GError **error)
{
  PrWebGateway *self = data;
  guint n = pr_index_outbox_retry (self->index, id, error);
  if (n > 0)
    changed (self);
  return n;
}

static gboolean
drop_outbox (gpointer data, gint64 id, GError **error)
{
  gboolean ok = pr_index_outbox_drop (((PrWebGateway *) data)->index, id, error);
  translate (error);
  return ok;
}

static gboolean
enable_analyzer (gpointer data, const char *name, GError **error)
{
  PrWebGateway *self = data;
  gboolean released = FALSE;
  if (!pr_index_release_analyzer (self->index, name, &released, error))
    return FALSE;
  if (!released)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "analyzer %s is not quarantined", name);
      return FALSE;
    }
  changed (self);
  return TRUE;
}

static void
audit (gpointer data, const char *user, const char *role, const char *action, const char *target,
       const char *detail, const char *remote)
{
  g_autoptr (GError) error = NULL;
  if (!pr_ui_audit (((PrWebGateway *) data)->index, user, role, action, target, detail, remote, &error))
    g_warning ("audit trail: %s", error->message);
}

static void
import_photo (gpointer data, GBytes *image, const PrWebPhotoForm *form, const char *user, PrWebPhotoImported done,
              gpointer user_data)
{
  PrWebGateway *self = data;
  pr_web_photo_import (self->index, self->storage_root, self->config, self->dicom_port, image, form, user, done,
                       user_data);
}

/* ---- the gateway ----------------------------------------------------------------------- */

PrWebGateway *
pr_web_gateway_new (PrIndex *index, const char *storage_root, const PrConfig *config, PrWebChanged changed_cb,
                    gpointer user_data)
{
  PrWebGateway *self = g_new0 (PrWebGateway, 1);
  self->index = index;
  self->storage_root = g_strdup (storage_root);
  self->config = config;
  self->changed = changed_cb;
  self->user_data = user_data;
  PrWebBackend backend = {
    self,        worklist,      study,        jobs,       outbox,       analyzers,  routes,
    audit_log,   metrics,       key_image,    add_feedback, retry_job, cancel_job, retry_outbox,
    drop_outbox, enable_analyzer, audit,     import_photo,
  };
  self->backend = backend;
  return self;
}

const PrWebBackend *
pr_web_gateway_get_backend (PrWebGateway *self)
{
  return &self->backend;
}

void
pr_web_gateway_set_config (PrWebGateway *self, const PrConfig *config)
{
  self->config = config;
}

void
pr_web_gateway_set_dicom_port (PrWebGateway *self, guint16 port)
{
  self->dicom_port = port;
}

static GPtrArray *
accounts_of (GPtrArray *configured)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_web_account_free);
  for (guint i = 0; i < configured->len; i++)
    {
      const PrWebAccountConfig *a = configured->pdata[i];
      g_ptr_array_add (list, pr_web_account_new (a->name, pr_web_role_from_string (a->role), a->secret_hash));
    }
  return list;
}

/* The installation's own admin account, for configurations without users. */
static PrWebAccount *
installation_admin (PrWebGateway *self, char **fresh_password)
{
  g_autofree char *file = g_build_filename (self->storage_root, "web-admin", NULL);
  g_autofree char *hash = NULL;
  if (g_file_get_contents (file, &hash, NULL, NULL))
    g_strstrip (hash);
  if (hash == NULL || !g_str_has_prefix (hash, "pbkdf2-sha256$"))
    {
      g_autofree char *password = pr_web_random_secret (12);
      g_free (hash);
      hash = pr_web_password_hash (password);
      g_autofree char *text = g_strconcat (hash, "\n", NULL);
      g_autoptr (GError) error = NULL;
      if (!g_file_set_contents_full (file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
        g_warning ("web UI: cannot keep the admin password's hash in %s: %s", file, error->message);
      *fresh_password = g_steal_pointer (&password);
    }
  return pr_web_account_new ("admin", PR_WEB_ROLE_ADMIN, hash);
}

void
pr_web_gateway_accounts (PrWebGateway *self, GPtrArray **users, GPtrArray **tokens, char **fresh_password)
{
  *users = accounts_of (self->config->web_users);
  *tokens = accounts_of (self->config->web_tokens);
  *fresh_password = NULL;
  if ((*users)->len == 0)
    g_ptr_array_add (*users, installation_admin (self, fresh_password));
}

void
pr_web_gateway_free (PrWebGateway *self)
{
  if (self == NULL)
    return;
  g_free (self->storage_root);
  g_free (self);
}
