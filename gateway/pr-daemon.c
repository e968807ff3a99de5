/* pr-daemon.c: startup, recovery, reload, the main loop and shutdown. */
#include "config.h"

#include "pr-daemon.h"

#include <string.h>

#include <glib-unix.h>

#include "pr-analyzer-launch.h"
#include "pr-index.h"
#include "pr-listener.h"
#include "pr-outbox.h"
#include "pr-recovery.h"
#include "pr-results.h"
#include "pr-router.h"
#include "pr-routing.h"
#include "pr-scheduler.h"
#include "pr-spool.h"
#include "pr-study-tracker.h"
#include "pr-web-backend.h"
#include "ui-glue/pr-web-server.h"

/* Recovery looks this far before its last run, because a folder's mtime and
 * our clock are read at slightly different moments. */
#define RECOVERY_SLACK_US (5 * G_USEC_PER_SEC)
/* Routine recovery keeps the window of folders to re-check short. */
#define RECOVERY_INTERVAL_S 3600
/* On SIGTERM, running associations and analyzers get this long to finish. */
#define SHUTDOWN_GRACE_S 10

#define META_RECOVERED_UNTIL "recovered_until_us"

struct _PrDaemon {
  PrConfig *config;
  char *config_path;
  const PrNodeOverrides *overrides;
  PrSpool *spool;
  PrIndex *index;
  PrStudyTracker *tracker;
  PrRouting *routing;
  PrScheduler *scheduler;
  PrResults *results;
  PrOutbox *outbox;
  PrWebGateway *web_gateway;
  PrWebServer *web;
  PrListener *listener;
  GMainLoop *loop;
  guint recovery_timer;
  guint shutdown_timer;
  guint shutdown_ticks;
  gboolean recovery_due;
  int exit_status;
};

/* An analyzer whose file is missing would fail every job: say so at once.
 * (Loading a module to check its ABI is left to its jobs and to
 * `preread check-config`: vendor code never runs in the daemon.) */
static void
warn_about_missing_analyzers (const PrConfig *config)
{
  for (guint i = 0; i < config->analyzers->len; i++)
    {
      const PrAnalyzerConfig *a = config->analyzers->pdata[i];
      g_autofree char *file = pr_analyzer_file (a);
      if (file == NULL || !g_file_test (file, G_FILE_TEST_IS_REGULAR))
        g_warning ("analyzer %s: %s %s not found; its jobs will fail until it is installed", a->name,
                   a->kind == PR_ANALYZER_MODULE ? "module" : "program", a->location);
    }
}

static void
on_study_complete (gint64 study_id, const PrIndexCompletion *completion, gpointer user_data)
{
  g_message ("study %" G_GINT64_FORMAT " complete%s: %u instances", study_id,
             completion->is_update ? " (updated with late instances)" : "", completion->instance_count);
}

static void
on_instance_stored (gint64 study_id, gpointer user_data)
{
  PrDaemon *self = user_data;
  pr_study_tracker_note_instance (self->tracker, study_id);
  pr_routing_note_instance (self->routing, study_id);
}

static void
on_route_fired (gint64 study_id, gint64 route_run_id, gpointer user_data)
{
  PrDaemon *self = user_data;
  pr_scheduler_wake (self->scheduler);
  pr_outbox_wake (self->outbox); /* forwarded originals */
}

static void
on_job_ended (gint64 job_id, PrJobState state, gpointer user_data)
{
  PrDaemon *self = user_data;
  if (state == PR_JOB_DONE)
    pr_results_wake (self->results);
}

static void
on_web_changed (gpointer user_data)
{
  PrDaemon *self = user_data;
  pr_scheduler_wake (self->scheduler);
  pr_outbox_wake (self->outbox);
}

/* Gives the web server the configuration's accounts. */
static void
apply_web_accounts (PrDaemon *self)
{
  g_autoptr (GPtrArray) users = NULL;
  g_autoptr (GPtrArray) tokens = NULL;
  g_autofree char *fresh = NULL;
  pr_web_gateway_accounts (self->web_gateway, &users, &tokens, &fresh);
  pr_web_auth_set_accounts (pr_web_server_get_auth (self->web), users, tokens);
  if (fresh != NULL)
    {
      g_autofree char *url = pr_web_server_get_url (self->web);
      /* Said once: only its hash is kept. */
      g_message ("web UI: log in at %s as admin with password %s (shown only now; configure <web> users to "
                 "replace this account)",
                 url, fresh);
    }
}

static gboolean
start_web (PrDaemon *self, GError **error)
{
  const char *address = self->config->node->http_address;
  if (address == NULL || strcmp (address, "off") == 0)
    return TRUE;
  self->web_gateway = pr_web_gateway_new (self->index, pr_spool_get_root (self->spool), self->config, on_web_changed,
                                          self);
  self->web = pr_web_server_new (pr_web_gateway_get_backend (self->web_gateway), address,
                                 self->config->web_tls_certificate, self->config->web_tls_key, error);
  if (self->web == NULL)
    return FALSE;
  g_autofree char *url = pr_web_server_get_url (self->web);
  g_message ("web: worklist and REST API at %s", url);
  apply_web_accounts (self);
  return TRUE;
}

static void
on_results_built (gint64 job_id, gpointer user_data)
{
  PrDaemon *self = user_data;
  pr_outbox_wake (self->outbox);
}

/* Indexes what the spool has and the index lacks, in folders changed since
 * the last recovery, and moves the mark forward to a point no running
 * receiver can still be writing before. */
static void
recover (PrDaemon *self)
{
  gint64 since = 0;
  g_autoptr (GError) error = NULL;
  if (!pr_index_get_meta_int (self->index, META_RECOVERED_UNTIL, &since, &error))
    since = 0; /* never ran: look at everything */

  gint64 started_real = g_get_real_time ();
  gint64 started_mono = g_get_monotonic_time ();
  GArray *studies = NULL;
  guint n = pr_recovery_reindex (self->spool, self->index, since - RECOVERY_SLACK_US, &studies);
  for (guint i = 0; i < studies->len; i++)
    {
      gint64 study_id = g_array_index (studies, gint64, i);
      pr_study_tracker_note_instance (self->tracker, study_id);
      if (self->routing != NULL)
        pr_routing_note_instance (self->routing, study_id);
    }
  g_array_unref (studies);
  if (n > 0)
    g_message ("recovery: indexed %u instance(s) found in the spool but not in the index", n);

  gint64 mark = started_real;
  if (self->listener != NULL)
    {
      gint64 oldest = pr_listener_get_oldest_active_start (self->listener);
      if (oldest != G_MAXINT64)
        mark = MIN (mark, started_real - (started_mono - oldest));
    }
  g_clear_error (&error);
  if (!pr_index_set_meta_int (self->index, META_RECOVERED_UNTIL, mark, &error))
    g_warning ("recovery: cannot record progress: %s", error->message);
}

static gboolean
on_recovery_timer (gpointer user_data)
{
  recover (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_recovery_due (gpointer user_data)
{
  PrDaemon *self = user_data;
  self->recovery_due = FALSE;
  recover (self);
  return G_SOURCE_REMOVE;
}

static void
on_receiver_exited (gint64 association_id, gboolean abnormal, gpointer user_data)
{
  PrDaemon *self = user_data;
  /* A receiver that died may have committed a file it did not index. */
  if (abnormal && !self->recovery_due)
    {
      self->recovery_due = TRUE;
      g_idle_add (on_recovery_due, self);
    }
}

gboolean
pr_daemon_reload (PrDaemon *self)
{
  if (self->config_path == NULL)
    {
      g_message ("reload: running on the embedded default; there is no file to reload "
                 "(start with --config FILE)");
      return FALSE;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) fresh = pr_router_load_config (self->config_path, &error);
  if (fresh != NULL && self->overrides != NULL)
    pr_node_overrides_apply (self->overrides, fresh->node);
  if (fresh != NULL && !pr_node_config_validate (fresh->node, &error))
    g_clear_pointer (&fresh, pr_config_free);
  if (fresh == NULL)
    {
      g_warning ("reload refused, the running configuration stays:\n%s", error->message);
      return FALSE;
    }

  /* What the process is bound to cannot change under it. */
  PrNodeConfig *old = self->config->node, *new = fresh->node;
  if (g_strcmp0 (old->bind_address, new->bind_address) != 0 || old->port != new->port ||
      g_strcmp0 (old->storage_dir, new->storage_dir) != 0)
    {
      g_warning ("reload: bind address, port and storage folder changes need a restart; keeping %s:%u and %s",
                 old->bind_address, old->port, old->storage_dir);
      g_free (new->bind_address);
      new->bind_address = g_strdup (old->bind_address);
      new->port = old->port;
      g_free (new->storage_dir);
      new->storage_dir = g_strdup (old->storage_dir);
    }

  PrConfig *previous = self->config;
  self->config = g_steal_pointer (&fresh);
  pr_listener_set_config (self->listener, self->config->node);
  pr_study_tracker_set_quiet_period (self->tracker, self->config->node->quiet_period_s);
  pr_routing_set_config (self->routing, self->config);
  pr_scheduler_set_config (self->scheduler, self->config);
  pr_results_set_config (self->results, self->config);
  pr_outbox_set_config (self->outbox, self->config);
  if (self->web != NULL)
    {
      pr_web_gateway_set_config (self->web_gateway, self->config);
      apply_web_accounts (self);
    }
  pr_config_free (previous);
  g_message ("reload: %s is in effect: %u route(s), %u analyzer(s), %u peer(s)", self->config_path,
             self->config->routes->len, self->config->analyzers->len, self->config->peers->len);
  warn_about_missing_analyzers (self->config);
  return TRUE;
}

static gboolean
on_hangup (gpointer user_data)
{
  pr_daemon_reload (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_shutdown_check (gpointer user_data)
{
  PrDaemon *self = user_data;
  guint busy = pr_listener_get_n_active (self->listener) + pr_scheduler_get_n_running (self->scheduler) +
               pr_outbox_get_n_active (self->outbox);
  if (busy == 0 || ++self->shutdown_ticks > SHUTDOWN_GRACE_S * 10)
    {
      if (pr_listener_get_n_active (self->listener) > 0)
        {
          g_message ("stopping %u association(s) still running", pr_listener_get_n_active (self->listener));
          pr_listener_terminate_receivers (self->listener);
        }
      g_main_loop_quit (self->loop);
      self->shutdown_timer = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_terminate (gpointer user_data)
{
  PrDaemon *self = user_data;
  if (self->shutdown_timer != 0)
    return G_SOURCE_CONTINUE;
  g_message ("shutting down: no new associations; waiting up to %d s for %u association(s); stopping %u "
             "analysis job(s) (they will run again)",
             SHUTDOWN_GRACE_S, pr_listener_get_n_active (self->listener),
             pr_scheduler_get_n_running (self->scheduler));
  pr_listener_stop (self->listener);
  pr_scheduler_stop_all (self->scheduler);
  pr_results_stop (self->results);
  pr_outbox_stop (self->outbox);
  self->shutdown_timer = g_timeout_add (100, on_shutdown_check, self);
  return G_SOURCE_CONTINUE;
}

PrDaemon *
pr_daemon_new (PrConfig *config, const char *config_path, const PrNodeOverrides *overrides, GError **error)
{
  g_autoptr (PrDaemon) self = g_new0 (PrDaemon, 1);
  self->config = config;
  self->config_path = g_strdup (config_path);
  self->overrides = overrides;
  if (!pr_node_config_validate (config->node, error))
    return NULL;

  self->spool = pr_spool_open (config->node->storage_dir, error);
  if (self->spool == NULL)
    return NULL;
  g_autofree char *index_path = g_build_filename (pr_spool_get_root (self->spool), "index.sqlite", NULL);
  self->index = pr_index_open (index_path, error);
  if (self->index == NULL)
    return NULL;

  /* Nothing receives yet, so every temporary file is a leftover. */
  guint stale = pr_spool_remove_temporaries (self->spool);
  if (stale > 0)
    g_message ("removed %u partial file(s) left by an interrupted run", stale);

  self->tracker = pr_study_tracker_new (self->index, config->node->quiet_period_s, on_study_complete, self);
  if (!pr_study_tracker_resume (self->tracker, error))
    return NULL;
  self->routing = pr_routing_new (self->index, config, on_route_fired, self);
  recover (self);
  if (!pr_routing_resume (self->routing, error))
    return NULL;
  self->scheduler = pr_scheduler_new (self->index, pr_spool_get_root (self->spool), config, on_job_ended, self);
  self->results = pr_results_new (self->index, pr_spool_get_root (self->spool), config, on_results_built, self);
  self->outbox = pr_outbox_new (self->index, pr_spool_get_root (self->spool), config);
  if (!pr_scheduler_start (self->scheduler, error) || !pr_outbox_start (self->outbox, error))
    return NULL;
  /* Jobs that ended done before a crash still get their results. */
  pr_results_wake (self->results);

  if (!start_web (self, error))
    return NULL;

  PrListenerEvents events = { on_instance_stored, on_receiver_exited };
  self->listener = pr_listener_new (config->node, self->index, &events, self, error);
  if (self->listener == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

int
pr_daemon_run (PrDaemon *self)
{
  self->loop = g_main_loop_new (NULL, FALSE);
  guint sigterm = g_unix_signal_add (SIGTERM, on_terminate, self);
  guint sigint = g_unix_signal_add (SIGINT, on_terminate, self);
  guint sighup = g_unix_signal_add (SIGHUP, on_hangup, self);
  self->recovery_timer = g_timeout_add_seconds (RECOVERY_INTERVAL_S, on_recovery_timer, self);

  if (self->web_gateway != NULL)
    pr_web_gateway_set_dicom_port (self->web_gateway, pr_listener_get_port (self->listener));
  const PrNodeConfig *node = self->config->node;
  g_message ("ready: AE %s listening on %s:%u, storage %s, configuration %s, %u route(s), %u open studies",
             node->ae_title, node->bind_address, pr_listener_get_port (self->listener), pr_spool_get_root (self->spool),
             self->config_path ? self->config_path : "(embedded default)", self->config->routes->len,
             pr_study_tracker_get_n_open (self->tracker));
  warn_about_missing_analyzers (self->config);
  g_main_loop_run (self->loop);

  g_source_remove (sigterm);
  g_source_remove (sigint);
  g_source_remove (sighup);
  g_clear_handle_id (&self->recovery_timer, g_source_remove);
  g_message ("stopped");
  return self->exit_status;
}

void
pr_daemon_free (PrDaemon *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->listener, pr_listener_free);
  g_clear_pointer (&self->web, pr_web_server_free);
  g_clear_pointer (&self->web_gateway, pr_web_gateway_free);
  g_clear_pointer (&self->scheduler, pr_scheduler_free);
  g_clear_pointer (&self->results, pr_results_free);
  g_clear_pointer (&self->outbox, pr_outbox_free);
  g_clear_pointer (&self->routing, pr_routing_free);
  g_clear_pointer (&self->tracker, pr_study_tracker_free);
  g_clear_pointer (&self->index, pr_index_free);
  g_clear_pointer (&self->spool, pr_spool_free);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->config, pr_config_free);
  g_free (self->config_path);
  g_free (self);
}
