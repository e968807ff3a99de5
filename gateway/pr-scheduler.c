/* pr-scheduler.c: from queued job to finished job, one supervised process each. */
#include "config.h"

#include "pr-scheduler.h"

#include <string.h>

#include "plugin/host/pr-findings.h"
#include "plugin/host/pr-job-description.h"
#include "plugin/host/pr-supervisor.h"
#include "plugin/runner/pr-runner.h"
#include "pr-analyzer-health.h"
#include "pr-analyzer-launch.h"
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
  PrAnalyzerKind kind;
  guint quarantine_after;
  char *analyzer_file;          /* (nullable) for the quarantine's file signature */
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

/* Counts a run towards (or clears) the analyzer's quarantine. */
static void
record_health (Running *r, gboolean misbehaved, const char *failure)
{
  PrScheduler *self = r->scheduler;
  g_autoptr (GError) error = NULL;
  g_autofree char *signature = misbehaved ? pr_analyzer_file_signature (r->analyzer_file) : NULL;
  gboolean quarantined = FALSE;
  if (!pr_index_record_analyzer_run (self->index, r->analyzer, misbehaved, failure, r->quarantine_after, signature,
                                     &quarantined, &error))
    g_warning ("analyzer %s: cannot record its health: %s", r->analyzer, error->message);
  else if (quarantined)
    g_warning ("analyzer %s is quarantined after %u failures in a row (the last: %s); its jobs wait until its "
               "file changes or `preread jobs enable %s`",
               r->analyzer, r->quarantine_after, failure, r->analyzer);
}

/* How a process that did not exit cleanly ended, with its own last word:
 * "exited with status 3: preread runner: ... built for analyzer ABI 2.0". */
static char *
describe_failure (Running *r, const PrRunOutcome *outcome)
{
  g_autofree char *how = pr_run_outcome_describe (outcome, &r->spec);
  g_autofree char *tail = pr_run_log_tail (r->folder->log_file);
  /* After a signal, only the runner's own last word is worth adding. */
  if (outcome->end == PR_RUN_SIGNALED && tail != NULL && !g_str_has_prefix (tail, PR_RUNNER_LOG_PREFIX))
    g_clear_pointer (&tail, g_free);
  if (outcome->end != PR_RUN_EXITED && outcome->end != PR_RUN_SIGNALED)
    g_clear_pointer (&tail, g_free);
  return tail ? g_strdup_printf ("%s: %s", how, tail) : g_steal_pointer (&how);
}

static void
on_run_done (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  Running *r = user_data;
  PrScheduler *self = r->scheduler;
  g_autofree char *how = describe_failure (r, outcome);
  g_autofree char *peak = g_format_size (outcome->peak_memory_kib * 1024);
  g_debug ("%s: analyzer %s after %.1f s, peak memory %s", r->description, how, outcome->duration_us / 1e6, peak);

  if (outcome->end == PR_RUN_CANCELLED)
    {
      /* Not the analyzer's fault either way: no health change. */
      if (r->cancelled_by_admin)
        finish (r, PR_JOB_CANCELLED, "cancelled by an administrator", NULL, NULL);
      else
        retry_or_give_up (r, PR_JOB_FAILED, how);
    }
  else if (outcome->end == PR_RUN_TIMED_OUT || outcome->end == PR_RUN_NO_PROGRESS)
    {
      record_health (r, TRUE, how);
      retry_or_give_up (r, PR_JOB_TIMED_OUT, how);
    }
  else if (outcome->end == PR_RUN_EXITED && outcome->exit_status == PR_RUNNER_EXIT_UNLOADABLE &&
           r->kind == PR_ANALYZER_MODULE)
    {
      /* Missing, not a module, or built for another ABI: no retry helps. */
      record_health (r, TRUE, how);
      finish (r, PR_JOB_FAILED, how, NULL, NULL);
    }
  else if (outcome->end != PR_RUN_EXITED || outcome->exit_status != 0)
    {
      record_health (r, TRUE, how);
      retry_or_give_up (r, PR_JOB_FAILED, how);
    }
  else
    {
      /* Findings are trusted only after a clean exit. */
      g_autoptr (GError) error = NULL;
      g_autoptr (PrJobDescription) job = pr_job_description_load (r->folder->job_file, NULL);
      g_autoptr (PrFindings) findings = pr_findings_read (r->folder->findings_file, job, &error);
      record_health (r, findings == NULL, error ? error->message : NULL);
      if (findings == NULL)
        finish (r, PR_JOB_FAILED, error->message, NULL, NULL);
      else if (findings->status == PR_FINDINGS_DECLINED)
        finish (r, PR_JOB_DECLINED, findings->message ? findings->message : "not applicable", NULL, NULL);
      else if (findings->status == PR_FINDINGS_FAILED)
        finish (r, PR_JOB_FAILED, findings->message ? findings->message : "the analyzer reported a failure",
                NULL, NULL);
      else
        {
          g_autoptr (GError) version_error = NULL;
          if (!pr_index_set_job_findings (self->index, r->job_id,
                                          findings->analyzer_version ? findings->analyzer_version : "unknown",
                                          findings->n_findings, &version_error))
            g_warning ("%s: %s", r->description, version_error->message);
          finish (r, PR_JOB_DONE, NULL, findings->summary, findings->priority);
        }
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
  r->kind = a->kind;
  r->quarantine_after = a->quarantine_after;
  r->analyzer_file = pr_analyzer_file (a);
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
  g_auto (GStrv) argv = pr_analyzer_argv (a, r->folder->folder, &error);
  if (argv == NULL)
    {
      record_health (r, TRUE, error->message);
      finish (r, PR_JOB_FAILED, error->message, NULL, NULL);
      running_free (r);
      return;
    }
  PrRunSpec spec = pr_analyzer_run_spec (a, (const char *const *) argv, r->folder->folder, r->folder->log_file);
  r->spec = spec;
  r->spec.argv = NULL; /* argv dies with this function; describing needs only the limits */
  r->spec.working_dir = r->spec.log_path = NULL;
  r->run = pr_run_start (&spec, NULL, on_run_done, r, &error);
  if (r->run == NULL)
    {
      g_autofree char *why = g_strdup_printf ("cannot start the analyzer: %s", error->message);
      record_health (r, TRUE, why);
      retry_or_give_up (r, PR_JOB_FAILED, why);
      running_free (r);
      return;
    }
  g_hash_table_insert (self->running, &r->job_id, r);
  g_message ("%s: started (attempt %d of %d)", r->description, r->attempts, r->max_attempts);
}

/* Whether @a's jobs must wait. A quarantine ends by itself when the
 * analyzer's file changed since: a fixed version was installed. */
static gboolean
is_quarantined (PrScheduler *self, const PrAnalyzerConfig *a)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrAnalyzerHealth) health = pr_index_get_analyzer_health (self->index, a->name, &error);
  if (health == NULL || health->quarantined_at_us == 0)
    return FALSE;
  g_autofree char *file = pr_analyzer_file (a);
  g_autofree char *signature = pr_analyzer_file_signature (file);
  if (signature == NULL || g_strcmp0 (signature, health->file_signature) == 0)
    return TRUE;
  if (!pr_index_release_analyzer (self->index, a->name, NULL, &error))
    {
      g_warning ("analyzer %s: cannot lift its quarantine: %s", a->name, error->message);
      return TRUE;
    }
  g_message ("analyzer %s: %s changed since it was quarantined; trying it again", a->name, file);
  return FALSE;
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

static int
compare_urgency (gconstpointer a, gconstpointer b)
{
  const PrJob *x = *(const PrJob *const *) a, *y = *(const PrJob *const *) b;
  if (x->priority != y->priority)
    return x->priority > y->priority ? -1 : 1;
  if (x->created_at_us != y->created_at_us)
    return x->created_at_us < y->created_at_us ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Candidates are taken per analyzer, as many as it has free slots, so that
 * a long queue for one analyzer (busy, or quarantined) never hides another
 * analyzer's jobs; then the most urgent of them start first. Jobs of an
 * analyzer no longer configured wait, visible as queued, until it is again. */
static void
start_runnable_jobs (PrScheduler *self)
{
  guint running = g_hash_table_size (self->running);
  if (self->stopping || running >= self->max_running)
    return;
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_job_free);
  gint64 now = g_get_real_time ();
  for (guint i = 0; i < self->config->analyzers->len; i++)
    {
      const PrAnalyzerConfig *a = self->config->analyzers->pdata[i];
      guint busy = count_running (self, a->name);
      if (busy >= a->concurrency || is_quarantined (self, a))
        continue;
      g_autoptr (GError) error = NULL;
      guint wanted = MIN (a->concurrency - busy, self->max_running - running);
      g_autoptr (GPtrArray) jobs = pr_index_next_runnable_jobs (self->index, a->name, now, wanted, &error);
      if (jobs == NULL)
        {
          g_warning ("cannot read the job queue: %s", error->message);
          return;
        }
      g_ptr_array_extend_and_steal (candidates, g_steal_pointer (&jobs));
    }
  g_ptr_array_sort (candidates, compare_urgency);
  for (guint i = 0; i < candidates->len && g_hash_table_size (self->running) < self->max_running; i++)
    {
      const PrJob *job = candidates->pdata[i];
      const PrAnalyzerConfig *a = pr_config_find_analyzer (self->config, job->analyzer);
      if (!g_hash_table_contains (self->running, &job->id) && count_running (self, a->name) < a->concurrency)
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
  g_free (r->analyzer_file);
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
