/* pr-supervisor.h: running an analyzer as a child process under limits.
 *
 * Vendor code never runs inside the daemon. Every analyzer run is a child
 * process started here, from the main thread, with:
 *   - no shell: argv goes to execve as is;
 *   - no inherited descriptors but stdin (/dev/null), stdout (a pipe we read
 *     for progress) and stderr (a log file in the job folder);
 *   - its own process group, so a timeout kills everything it started;
 *   - an address-space limit, an open-file limit, and no core dumps;
 *   - death if the daemon dies (PR_SET_PDEATHSIG);
 *   - a wall-clock timeout and a no-progress timeout: stdout lines
 *     "progress FRACTION [message]" count as progress (heartbeats); other
 *     lines are ignored (or kept, up to a bound, when asked), and no line
 *     grows beyond 4 KB whatever the child writes.
 * The outcome says precisely how it ended: exit status, signal name,
 * which timeout, or that it was cancelled.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *const *argv;      /* argv[0] is the program to run (no PATH lookup) */
  const char *const *envp;      /* (nullable) NULL: a minimal environment (PATH, LANG, TMPDIR) */
  const char *working_dir;      /* (nullable) */
  const char *log_path;         /* (nullable) the child's stderr goes here; else /dev/null */
  guint timeout_s;              /* 0: none */
  guint no_progress_timeout_s;  /* 0: none */
  guint64 memory_limit_mb;      /* address space; 0: none */
  guint max_open_files;         /* 0: 256 */
  gsize capture_output_max;     /* keep up to this many bytes of stdout lines that are not progress */
} PrRunSpec;

typedef enum {
  PR_RUN_EXITED,                /* exited on its own; see exit_status */
  PR_RUN_SIGNALED,              /* killed by a signal it did not get from us (crash, abort, OOM) */
  PR_RUN_TIMED_OUT,             /* ran longer than timeout_s */
  PR_RUN_NO_PROGRESS,           /* no progress report for no_progress_timeout_s */
  PR_RUN_CANCELLED,             /* pr_run_cancel() */
} PrRunEnd;

typedef struct {
  PrRunEnd end;
  int exit_status;              /* PR_RUN_EXITED */
  int signal;                   /* PR_RUN_SIGNALED */
  double last_progress;         /* last fraction reported, -1 when none */
  gint64 duration_us;
  guint64 peak_memory_kib;      /* maximum resident set of the child (and its children) */
  const char *output;           /* (nullable) captured stdout, valid during the done callback */
} PrRunOutcome;

/* One line for logs and job reasons: "exited with status 0", "killed by
 * signal SIGSEGV (Segmentation fault)", "timed out after 300 s", ... */
char *pr_run_outcome_describe (const PrRunOutcome *outcome, const PrRunSpec *spec);

/**
 * pr_run_log_tail:
 * @log_path: (nullable): a run's log
 *
 * Returns: (transfer full) (nullable): its last non-empty line, made safe
 * for a one-line reason: programs print why they give up last.
 */
char *pr_run_log_tail (const char *log_path);

typedef struct _PrRun PrRun;

typedef void (*PrRunProgressFunc) (double fraction, const char *message, gpointer user_data);
typedef void (*PrRunDoneFunc) (PrRun *run, const PrRunOutcome *outcome, gpointer user_data);

/**
 * pr_run_start:
 * @spec: copied
 * @progress: (nullable): called on the main loop for each progress line
 * @done: called on the main loop once the child has been reaped and its
 *   output read to the end; the run is freed after it returns
 *
 * Returns: (transfer none): the run, or NULL with @error when the program
 * could not be started (then @done is not called).
 */
PrRun *pr_run_start (const PrRunSpec *spec, PrRunProgressFunc progress, PrRunDoneFunc done, gpointer user_data,
                     GError **error);

/* Stops the run: SIGTERM to its process group, SIGKILL after a grace period.
 * @done follows with PR_RUN_CANCELLED. */
void pr_run_cancel (PrRun *run);

GPid pr_run_get_pid (PrRun *run);

/**
 * pr_run_sync:
 * @output: (out) (optional) (transfer full) (nullable): captured stdout
 *   (see capture_output_max)
 *
 * Runs to the end, iterating the default main context: for commands that
 * have nothing else to do meanwhile (`preread analyze`). The outcome's
 * output member is NULL; use @output.
 *
 * Returns: FALSE with @error when the program could not be started.
 */
gboolean pr_run_sync (const PrRunSpec *spec, PrRunProgressFunc progress, gpointer user_data, PrRunOutcome *outcome,
                      char **output, GError **error);

G_END_DECLS
