/* pr-daemon.c: startup, recovery, the main loop and shutdown. */
#include "config.h"

#include "pr-daemon.h"

#include <glib-unix.h>

#include "pr-index.h"
#include "pr-listener.h"
#include "pr-recovery.h"
#include "pr-spool.h"
#include "pr-study-tracker.h"

/* Recovery looks this far before its last run, because a folder's mtime and
 * our clock are read at slightly different moments. */
#define RECOVERY_SLACK_US (5 * G_USEC_PER_SEC)
/* Routine recovery keeps the window of folders to re-check short. */
#define RECOVERY_INTERVAL_S 3600
/* On SIGTERM, running associations get this long to finish. */
#define SHUTDOWN_GRACE_S 10

#define META_RECOVERED_UNTIL "recovered_until_us"

struct _PrDaemon {
  PrNodeConfig *config;
  PrSpool *spool;
  PrIndex *index;
  PrStudyTracker *tracker;
  PrListener *listener;
  GMainLoop *loop;
  guint recovery_timer;
  guint shutdown_timer;
  gboolean recovery_due;
  int exit_status;
};

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
    pr_study_tracker_note_instance (self->tracker, g_array_index (studies, gint64, i));
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

static gboolean
on_shutdown_check (gpointer user_data)
{
  PrDaemon *self = user_data;
  static guint waited;
  if (pr_listener_get_n_active (self->listener) == 0 || ++waited > SHUTDOWN_GRACE_S * 10)
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
  g_message ("shutting down: no new associations; waiting up to %d s for %u running", SHUTDOWN_GRACE_S,
             pr_listener_get_n_active (self->listener));
  pr_listener_stop (self->listener);
  self->shutdown_timer = g_timeout_add (100, on_shutdown_check, self);
  return G_SOURCE_CONTINUE;
}

PrDaemon *
pr_daemon_new (const PrNodeConfig *config, GError **error)
{
  if (!pr_node_config_validate (config, error))
    return NULL;

  g_autoptr (PrDaemon) self = g_new0 (PrDaemon, 1);
  self->config = pr_node_config_copy (config);
  self->spool = pr_spool_open (config->storage_dir, error);
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

  self->tracker = pr_study_tracker_new (self->index, config->quiet_period_s, on_study_complete, self);
  if (!pr_study_tracker_resume (self->tracker, error))
    return NULL;
  recover (self);

  PrListenerEvents events = { on_instance_stored, on_receiver_exited };
  self->listener = pr_listener_new (config, self->index, &events, self, error);
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
  self->recovery_timer = g_timeout_add_seconds (RECOVERY_INTERVAL_S, on_recovery_timer, self);

  g_message ("ready: AE %s listening on %s:%u, storage %s, %u open studies", self->config->ae_title,
             self->config->bind_address, pr_listener_get_port (self->listener), pr_spool_get_root (self->spool),
             pr_study_tracker_get_n_open (self->tracker));
  g_main_loop_run (self->loop);

  g_source_remove (sigterm);
  g_source_remove (sigint);
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
  g_clear_pointer (&self->tracker, pr_study_tracker_free);
  g_clear_pointer (&self->index, pr_index_free);
  g_clear_pointer (&self->spool, pr_spool_free);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  pr_node_config_free (self->config);
  g_free (self);
}
