/* pr-scheduler.c: from queued job to finished job, one supervised process each. */
#include "config.h"

#include "pr-scheduler.h"

#include <string.h>

#include "plugin/builtin/pr-test-analyzer.h"
#include "plugin/host/pr-findings.h"
#include "plugin/host/pr-supervisor.h"
#include "pr-job-folder.h"

#define POLL_INTERVAL_S 2
#define MAX_RETRY_DELAY_S 600

typedef struct _Running Running;

struct _PrScheduler {
  PrIndex *index;
  char *storage_root;
  const PrConfig *config;
  PrJobEndedFunc on_ended;
  gpointer user_data;
  GHashTable *running;          /* job id (gint64*) -> Running* */
  guint max_running;
  guint poll_id;
  guint wake_id;
  gboolean stopping;
};

struct _Running {
  PrScheduler *scheduler;
  gint64 job_id;
  char *analyzer;
  char *description;            /* "job 12 (inventory on study 3)" */
  PrRunSpec spec;               /* for describing the outcome */
  PrRun *run;
  PrJobFolder *folder;
  int attempts;
  int max_attempts;
  guint retry_delay_s;
  gboolean cancelled_by_admin;
};

static void running_free (Running *r);

static guint
count_running (PrScheduler *self, const char *analyzer)
{
  guint n = 0;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (((Running *) value)->analyzer, analyzer) == 0)
      n++;
  return n;
}

/* argv for an analyzer, by kind. NULL with @reason when it cannot run yet. */
static GStrv
analyzer_argv (const PrAnalyzerConfig *a, const PrJobFolder *folder, const char **reason)
{
  switch (a->kind)
    {
    case PR_ANALYZER_BUILTIN:
      {
        /* Built-ins are this binary again, like receivers: still a separate
         * process under the same limits as vendor code. */
        const char *argv[] = { "/proc/self/exe", PR_TEST_ANALYZER_SUBCOMMAND, folder->folder, NULL };
        return g_strdupv ((char **) argv);
      }
    case PR_ANALYZER_PROGRAM:
      {
        const char *argv[] = { a->location, "--job", folder->folder, NULL };
        return g_strdupv ((char **) argv);
      }
    case PR_ANALYZER_MODULE:
    default:
      *reason = "analyzer modules need the analyzer runner, which this build does not have yet";
      return NULL;
    }
}

static void
finish (Running *r, PrJobState state, const char *reason, const char *summary, const char *priority)
{
  PrScheduler *self = r->scheduler;
  g_autoptr (GError) error = NULL;
  if (!pr_index_finish_job (self->index, r->job_id, state, reason, summary, priority, &error))
    g_warning ("%s: cannot record the end: %s", r->description, error->message);
  g_message ("%s: %s%s%s", r->description, pr_job_state_to_string (state), reason || summary ? ": " : "",
             reason ? reason : (summary ? summary : ""));
  if (self->on_ended != NULL)
    self->on_ended (r->job_id, state, self->user_data);
}

/* A crash, a timeout, an exit without findings: try again later, or give up. */
static void
retry_or_give_up (Running *r, PrJobState final_state, const char *reason)
{
  PrScheduler *self = r->scheduler;
  if (r->attempts >= r->max_attempts || self->stopping)
    {
      if (self->stopping)
        {
          g_autoptr (GError) error = NULL;
          if (!pr_index_requeue_job (self->index, r->job_id, 0, "interrupted by a shutdown", &error))
            g_warning ("%s: %s", r->description, error->message);
          return;
        }
      g_autofree char *final = g_strdup_printf ("%s (attempt %d of %d)", reason, r->attempts, r->max_attempts);
      finish (r, final_state, final, NULL, NULL);
      return;
    }
  guint delay = r->retry_delay_s;
  for (int i = 1; i < r->attempts && delay < MAX_RETRY_DELAY_S; i++)
    delay *= 2;
  delay = MIN (delay, MAX_RETRY_DELAY_S);
  g_autofree char *why = g_strdup_printf ("%s (attempt %d of %d; next in %u s)", reason, r->attempts,
                                          r->max_attempts, delay);
  g_autoptr (GError) error = NULL;
  if (!pr_index_requeue_job (self->index, r->job_id, g_get_real_time () + (gint64) delay * G_USEC_PER_SEC, why,
                             &error))
    g_warning ("%s: %s", r->description, error->message);
  g_message ("%s: %s", r->description, why);
}

static void
on_run_done (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  Running *r = user_data;
  PrScheduler *self = r->scheduler;
  g_autofree char *how = pr_run_outcome_describe (outcome, &r->spec);
  g_autofree char *peak = g_format_size (outcome->peak_memory_kib * 1024);
  g_debug ("%s: analyzer %s after %.1f s, peak memory %s", r->description, how, outcome->duration_us / 1e6, peak);

  if (outcome->end == PR_RUN_CANCELLED && r->cancelled_by_admin)
    finish (r, PR_JOB_CANCELLED, "cancelled by an administrator", NULL, NULL);
  else if (outcome->end == PR_RUN_TIMED_OUT || outcome->end == PR_RUN_NO_PROGRESS)
    retry_or_give_up (r, PR_JOB_TIMED_OUT, how);
  else if (outcome->end != PR_RUN_EXITED || outcome->exit_status != 0)
    retry_or_give_up (r, PR_JOB_FAILED, how);
  else
    {
      /* Findings are trusted only after a clean exit. */
      g_autoptr (GError) error = NULL;
      g_autoptr (PrFindings) findings = pr_findings_read (r->folder->findings_file, &error);
      if (findings == NULL)
        finish (r, PR_JOB_FAILED, error->message, NULL, NULL);
      else if (findings->status == PR_FINDINGS_DECLINED)
        finish (r, PR_JOB_DECLINED, findings->message ? findings->message : "not applicable", NULL, NULL);
      else if (findings->status == PR_FINDINGS_FAILED)
        finish (r, PR_JOB_FAILED, findings->message ? findings->message : "the analyzer reported a failure",
                NULL, NULL);
      else
        finish (r, PR_JOB_DONE, NULL, findings->summary, findings->priority);
    }
  g_hash_table_remove (self->running, &r->job_id);
  pr_scheduler_wake (self);
}

static void
start_job (PrScheduler *self, const PrJob *job, const PrAnalyzerConfig *a)
{
  g_autoptr (GError) error = NULL;
  if (!pr_index_start_job (self->index, job->id, g_get_real_time (), &error))
    return; /* cancelled meanwhile: not ours any more */

  Running *r = g_new0 (Running, 1);
  r->scheduler = self;
  r->job_id = job->id;
  r->analyzer = g_strdup (job->analyzer);
  r->description = g_strdup_printf ("job %" G_GINT64_FORMAT " (%s on study %" G_GINT64_FORMAT ")", job->id,
                                    job->analyzer, job->study_id);
  r->attempts = job->attempts + 1;
  r->max_attempts = job->max_attempts;
  r->retry_delay_s = a->retry_delay_s ? a->retry_delay_s : 30;

  r->folder = pr_job_folder_prepare (self->index, self->storage_root, job, &error);
  if (r->folder == NULL)
    {
      finish (r, PR_JOB_FAILED, error->message, NULL, NULL);
      running_free (r);
      return;
    }
  const char *reason = NULL;
  g_auto (GStrv) argv = analyzer_argv (a, r->folder, &reason);
  if (argv == NULL)
    {
      finish (r, PR_JOB_FAILED, reason, NULL, NULL);
      running_free (r);
      return;
    }
  PrRunSpec spec = {
    (const char *const *) argv, NULL, r->folder->folder, r->folder->log_file, a->timeout_s,
    a->no_progress_timeout_s, a->memory_limit_mb, 0,
  };
  r->spec = spec;
  r->spec.argv = NULL; /* argv dies with this function; describing needs only the limits */
  r->run = pr_run_start (&spec, NULL, on_run_done, r, &error);
  if (r->run == NULL)
    {
      g_autofree char *why = g_strdup_printf ("cannot start the analyzer: %s", error->message);
      retry_or_give_up (r, PR_JOB_FAILED, why);
      running_free (r);
      return;
    }
  g_hash_table_insert (self->running, &r->job_id, r);
  g_message ("%s: started (attempt %d of %d)", r->description, r->attempts, r->max_attempts);
}

static void
handle_cancel_requests (PrScheduler *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = pr_index_list_cancel_requests (self->index, &error);
  for (guint i = 0; ids != NULL && i < ids->len; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);
      Running *r = g_hash_table_lookup (self->running, &id);
      if (r != NULL && !r->cancelled_by_admin)
        {
          r->cancelled_by_admin = TRUE;
          pr_run_cancel (r->run);
        }
    }
}

static void
start_runnable_jobs (PrScheduler *self)
{
  if (self->stopping || g_hash_table_size (self->running) >= self->max_running)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) jobs = pr_index_next_runnable_jobs (self->index, g_get_real_time (), 64, &error);
  if (jobs == NULL)
    {
      g_warning ("cannot read the job queue: %s", error->message);
      return;
    }
  for (guint i = 0; i < jobs->len && g_hash_table_size (self->running) < self->max_running; i++)
    {
      const PrJob *job = jobs->pdata[i];
      if (g_hash_table_contains (self->running, &job->id))
        continue;
      const PrAnalyzerConfig *a = pr_config_find_analyzer (self->config, job->analyzer);
      if (a == NULL)
        continue; /* not configured now: it waits, visible as queued, until it is again */
      if (count_running (self, a->name) >= a->concurrency)
        continue;
      start_job (self, job, a);
    }
}

static gboolean
on_poll (gpointer user_data)
{
  PrScheduler *self = user_data;
  handle_cancel_requests (self);
  start_runnable_jobs (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_wake (gpointer user_data)
{
  PrScheduler *self = user_data;
  self->wake_id = 0;
  start_runnable_jobs (self);
  return G_SOURCE_REMOVE;
}

static void
running_free (Running *r)
{
  g_free (r->analyzer);
  g_free (r->description);
  pr_job_folder_free (r->folder);
  g_free (r);
}

PrScheduler *
pr_scheduler_new (PrIndex *index, const char *storage_root, const PrConfig *config, PrJobEndedFunc on_ended,
                  gpointer user_data)
{
  PrScheduler *self = g_new0 (PrScheduler, 1);
  self->index = index;
  self->storage_root = g_strdup (storage_root);
  self->config = config;
  self->on_ended = on_ended;
  self->user_data = user_data;
  self->running = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) running_free);
  /* One analysis per processor: analyzers are CPU-bound, and the receivers
   * must keep a share of the machine. */
  self->max_running = MAX (1, g_get_num_processors ());
  return self;
}

gboolean
pr_scheduler_start (PrScheduler *self, GError **error)
{
  g_autoptr (GError) local = NULL;
  guint requeued = pr_index_requeue_running_jobs (self->index, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (requeued > 0)
    g_message ("%u job(s) interrupted by the last shutdown are queued again", requeued);
  self->poll_id = g_timeout_add_seconds (POLL_INTERVAL_S, on_poll, self);
  pr_scheduler_wake (self);
  return TRUE;
}

void
pr_scheduler_wake (PrScheduler *self)
{
  if (self->wake_id == 0 && !self->stopping)
    self->wake_id = g_idle_add (on_wake, self);
}

void
pr_scheduler_set_config (PrScheduler *self, const PrConfig *config)
{
  self->config = config;
  pr_scheduler_wake (self);
}

guint
pr_scheduler_get_n_running (PrScheduler *self)
{
  return g_hash_table_size (self->running);
}

void
pr_scheduler_stop_all (PrScheduler *self)
{
  self->stopping = TRUE;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    pr_run_cancel (((Running *) value)->run);
}

void
pr_scheduler_free (PrScheduler *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->poll_id, g_source_remove);
  g_clear_handle_id (&self->wake_id, g_source_remove);
  /* Runs still going are left to die with the daemon (PR_SET_PDEATHSIG);
   * their jobs are requeued at the next start. */
  g_hash_table_steal_all (self->running);
  g_hash_table_unref (self->running);
  g_free (self->storage_root);
  g_free (self);
}
