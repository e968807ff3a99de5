/* pr-supervisor.c: spawn, watch, time out, kill and reap analyzer processes. */
#include "config.h"

#include "pr-supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>

/* After SIGTERM, a process group gets this long before SIGKILL. */
#define KILL_GRACE_MS 3000
/* Longer stdout lines are no progress report: ignored. */
#define MAX_LINE 4096

struct _PrRun {
  PrRunSpec spec;
  GStrv argv;
  char *log_path;
  GPid pid;
  gint64 started_us;
  PrRunProgressFunc progress;
  PrRunDoneFunc done;
  gpointer user_data;

  GInputStream *output;
  GCancellable *cancellable;
  gboolean output_done;
  char chunk[4096];
  GString *line;                /* the line being read, at most MAX_LINE bytes */
  gboolean overlong;
  GString *captured;            /* (nullable) other stdout lines, when asked to keep them */

  int pidfd;
  GSource *exit_source;
  gboolean exited;
  int wait_status;
  struct rusage usage;

  guint timeout_id;
  guint no_progress_id;
  guint kill_id;
  PrRunEnd forced_end;          /* why we killed it; PR_RUN_EXITED when we did not */
  double last_progress;
};

static void
child_setup (gpointer user_data)
{
  const PrRunSpec *spec = user_data;
  /* Runs between fork and exec: only async-signal-safe calls. */
  setpgid (0, 0);
  struct rlimit none = { 0, 0 };
  setrlimit (RLIMIT_CORE, &none);
  rlim_t files = spec->max_open_files ? spec->max_open_files : 256;
  struct rlimit nofile = { files, files };
  setrlimit (RLIMIT_NOFILE, &nofile);
  if (spec->memory_limit_mb > 0)
    {
      rlim_t bytes = (rlim_t) spec->memory_limit_mb * 1024 * 1024;
      struct rlimit as = { bytes, bytes };
      setrlimit (RLIMIT_AS, &as);
    }
#if defined(HAVE_PRCTL) && defined(PR_SET_PDEATHSIG)
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

static void
finish_if_done (PrRun *run)
{
  if (!run->exited || !run->output_done)
    return;
  g_clear_handle_id (&run->timeout_id, g_source_remove);
  g_clear_handle_id (&run->no_progress_id, g_source_remove);
  g_clear_handle_id (&run->kill_id, g_source_remove);

  PrRunOutcome outcome = { PR_RUN_EXITED, 0, 0, run->last_progress, g_get_monotonic_time () - run->started_us,
                           (guint64) run->usage.ru_maxrss };
  if (run->forced_end != PR_RUN_EXITED)
    outcome.end = run->forced_end;
  else if (WIFSIGNALED (run->wait_status))
    {
      outcome.end = PR_RUN_SIGNALED;
      outcome.signal = WTERMSIG (run->wait_status);
    }
  else
    outcome.exit_status = WEXITSTATUS (run->wait_status);

  outcome.output = run->captured ? run->captured->str : NULL;
  run->done (run, &outcome, run->user_data);

  if (run->captured)
    g_string_free (run->captured, TRUE);
  g_string_free (run->line, TRUE);
  g_clear_object (&run->output);
  g_clear_object (&run->cancellable);
  g_strfreev (run->argv);
  g_free (run->log_path);
  g_free (run);
}

static void
kill_group (PrRun *run, int signal_number)
{
  if (!run->exited)
    kill (-run->pid, signal_number);
}

static gboolean
on_kill_grace_over (gpointer user_data)
{
  PrRun *run = user_data;
  run->kill_id = 0;
  kill_group (run, SIGKILL);
  return G_SOURCE_REMOVE;
}

static void
stop (PrRun *run, PrRunEnd why)
{
  if (run->forced_end != PR_RUN_EXITED || run->exited)
    return;
  run->forced_end = why;
  kill_group (run, SIGTERM);
  run->kill_id = g_timeout_add (KILL_GRACE_MS, on_kill_grace_over, run);
}

static gboolean
on_timeout (gpointer user_data)
{
  PrRun *run = user_data;
  run->timeout_id = 0;
  stop (run, PR_RUN_TIMED_OUT);
  return G_SOURCE_REMOVE;
}

static gboolean
on_no_progress (gpointer user_data)
{
  PrRun *run = user_data;
  run->no_progress_id = 0;
  stop (run, PR_RUN_NO_PROGRESS);
  return G_SOURCE_REMOVE;
}

static void
handle_line (PrRun *run, const char *line)
{
  if (g_str_has_prefix (line, "progress "))
    {
      char *end = NULL;
      double fraction = g_ascii_strtod (line + 9, &end);
      if (end != line + 9 && fraction == fraction)
        {
          run->last_progress = CLAMP (fraction, 0.0, 1.0);
          if (run->no_progress_id != 0)
            {
              g_source_remove (run->no_progress_id);
              run->no_progress_id = g_timeout_add_seconds (run->spec.no_progress_timeout_s, on_no_progress, run);
            }
          if (run->progress != NULL)
            run->progress (run->last_progress, *end == ' ' ? end + 1 : NULL, run->user_data);
        }
      return;
    }
  if (run->captured != NULL && run->captured->len + strlen (line) + 1 <= run->spec.capture_output_max)
    {
      g_string_append (run->captured, line);
      g_string_append_c (run->captured, '\n');
    }
}

static void read_output (PrRun *run);

static void
on_output (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrRun *run = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
  if (n <= 0)
    {
      run->output_done = TRUE;
      finish_if_done (run);
      return;
    }
  /* Lines are bounded: a flood of garbage without newlines must not grow
   * our memory. The rest of an overlong line is dropped. */
  for (gssize i = 0; i < n; i++)
    {
      char c = run->chunk[i];
      if (c == '\n')
        {
          if (!run->overlong)
            handle_line (run, run->line->str);
          g_string_truncate (run->line, 0);
          run->overlong = FALSE;
        }
      else if (run->line->len < MAX_LINE)
        g_string_append_c (run->line, c != '\0' ? c : ' ');
      else
        run->overlong = TRUE;
    }
  read_output (run);
}

static void
read_output (PrRun *run)
{
  g_input_stream_read_async (run->output, run->chunk, sizeof run->chunk, G_PRIORITY_DEFAULT, run->cancellable,
                             on_output, run);
}

static gboolean
on_child_exit (gint fd, GIOCondition condition, gpointer user_data)
{
  PrRun *run = user_data;
  pid_t reaped = wait4 (run->pid, &run->wait_status, WNOHANG, &run->usage);
  if (reaped == 0)
    return G_SOURCE_CONTINUE;
  run->exited = TRUE;
  /* The group may hold children that outlived the leader (a fork bomb):
   * they die with it. */
  kill (-run->pid, SIGKILL);
  close (run->pidfd);
  run->exit_source = NULL;
  finish_if_done (run);
  return G_SOURCE_REMOVE;
}

PrRun *
pr_run_start (const PrRunSpec *spec, PrRunProgressFunc progress, PrRunDoneFunc done, gpointer user_data,
              GError **error)
{
  PrRun *run = g_new0 (PrRun, 1);
  run->spec = *spec;
  run->argv = g_strdupv ((char **) spec->argv);
  run->log_path = g_strdup (spec->log_path);
  run->spec.argv = (const char *const *) run->argv;
  run->spec.log_path = run->log_path;
  run->progress = progress;
  run->done = done;
  run->user_data = user_data;
  run->last_progress = -1;
  run->forced_end = PR_RUN_EXITED;

  const char *default_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL };
  int log_fd = open (spec->log_path ? spec->log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int out_fd = -1;
  gboolean ok = g_spawn_async_with_pipes_and_fds (spec->working_dir, (const char *const *) run->argv,
                                                  spec->envp ? spec->envp : default_env,
                                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
                                                    G_SPAWN_CLOEXEC_PIPES,
                                                  child_setup, &run->spec, -1, -1, log_fd, NULL, NULL, 0, &run->pid,
                                                  NULL, &out_fd, NULL, error);
  if (log_fd >= 0)
    close (log_fd);
  if (!ok)
    {
      g_strfreev (run->argv);
      g_free (run->log_path);
      g_free (run);
      return NULL;
    }
  run->started_us = g_get_monotonic_time ();

  /* A pidfd lets us reap with wait4() and so learn the child's peak memory;
   * GLib's child watch reaps without it. */
  run->pidfd = (int) syscall (SYS_pidfd_open, run->pid, 0);
  if (run->pidfd < 0)
    {
      g_warning ("pidfd_open failed (%s); killing analyzer %d", g_strerror (errno), (int) run->pid);
      kill (run->pid, SIGKILL);
      waitpid (run->pid, NULL, 0);
      close (out_fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "this kernel cannot watch processes (pidfd)");
      g_strfreev (run->argv);
      g_free (run->log_path);
      g_free (run);
      return NULL;
    }
  run->exit_source = g_unix_fd_source_new (run->pidfd, G_IO_IN);
  g_source_set_callback (run->exit_source, G_SOURCE_FUNC (on_child_exit), run, NULL);
  g_source_attach (run->exit_source, NULL);
  g_source_unref (run->exit_source);

  run->cancellable = g_cancellable_new ();
  run->output = g_unix_input_stream_new (out_fd, TRUE);
  run->line = g_string_new (NULL);
  if (spec->capture_output_max > 0)
    run->captured = g_string_new (NULL);
  read_output (run);

  if (spec->timeout_s > 0)
    run->timeout_id = g_timeout_add_seconds (spec->timeout_s, on_timeout, run);
  if (spec->no_progress_timeout_s > 0)
    run->no_progress_id = g_timeout_add_seconds (spec->no_progress_timeout_s, on_no_progress, run);
  return run;
}

void
pr_run_cancel (PrRun *run)
{
  stop (run, PR_RUN_CANCELLED);
}

GPid
pr_run_get_pid (PrRun *run)
{
  return run->pid;
}

char *
pr_run_outcome_describe (const PrRunOutcome *o, const PrRunSpec *spec)
{
  switch (o->end)
    {
    case PR_RUN_EXITED:
      return g_strdup_printf ("exited with status %d", o->exit_status);
    case PR_RUN_SIGNALED:
      {
        const char *name = sigabbrev_np (o->signal);
        g_autofree char *killed = g_strdup_printf ("killed by signal SIG%s (%s)", name ? name : "?",
                                                   g_strsignal (o->signal));
        /* A process that dies at its memory limit usually dies of what the
         * failed allocation caused (SIGSEGV on NULL, SIGABRT from
         * bad_alloc): say so, it is the precise reason. */
        guint64 limit_kib = spec ? spec->memory_limit_mb * 1024 : 0;
        if (limit_kib > 0 && o->peak_memory_kib * 10 >= limit_kib * 9)
          return g_strdup_printf ("%s at its memory limit (peak %" G_GUINT64_FORMAT " MB of %" G_GUINT64_FORMAT
                                  " MB)", killed, o->peak_memory_kib / 1024, spec->memory_limit_mb);
        return g_steal_pointer (&killed);
      }
    case PR_RUN_TIMED_OUT:
      return g_strdup_printf ("timed out after %u s", spec ? spec->timeout_s : 0);
    case PR_RUN_NO_PROGRESS:
      return g_strdup_printf ("stopped: no progress for %u s", spec ? spec->no_progress_timeout_s : 0);
    case PR_RUN_CANCELLED:
      return g_strdup ("cancelled");
    }
  return g_strdup ("?");
}

char *
pr_run_log_tail (const char *log_path)
{
  if (log_path == NULL)
    return NULL;
  int fd = open (log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char buffer[2048];
  off_t size = lseek (fd, 0, SEEK_END);
  off_t start = size > (off_t) sizeof buffer - 1 ? size - (off_t) (sizeof buffer - 1) : 0;
  ssize_t n = pread (fd, buffer, sizeof buffer - 1, start);
  close (fd);
  if (n <= 0)
    return NULL;
  buffer[n] = '\0';
  /* The last non-empty line, cleaned for a one-line reason. */
  char *end = buffer + n;
  while (end > buffer && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
    *--end = '\0';
  char *begin = end;
  while (begin > buffer && begin[-1] != '\n')
    begin--;
  if (*begin == '\0')
    return NULL;
  g_autofree char *valid = g_utf8_make_valid (begin, -1);
  for (char *p = valid; *p; p++)
    if ((guchar) *p < 0x20)
      *p = ' ';
  return g_utf8_substring (valid, 0, MIN (g_utf8_strlen (valid, -1), 300));
}

typedef struct {
  GMainLoop *loop;
  PrRunProgressFunc progress;
  gpointer user_data;
  PrRunOutcome outcome;
  char *output;
} SyncRun;

static void
on_sync_progress (double fraction, const char *message, gpointer user_data)
{
  SyncRun *s = user_data;
  if (s->progress != NULL)
    s->progress (fraction, message, s->user_data);
}

static void
on_sync_done (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  SyncRun *s = user_data;
  s->outcome = *outcome;
  s->output = g_strdup (outcome->output);
  s->outcome.output = NULL;
  g_main_loop_quit (s->loop);
}

gboolean
pr_run_sync (const PrRunSpec *spec, PrRunProgressFunc progress, gpointer user_data, PrRunOutcome *outcome,
             char **output, GError **error)
{
  SyncRun s = { g_main_loop_new (NULL, FALSE), progress, user_data, { 0 }, NULL };
  PrRun *run = pr_run_start (spec, on_sync_progress, on_sync_done, &s, error);
  if (run != NULL)
    g_main_loop_run (s.loop);
  g_main_loop_unref (s.loop);
  if (run == NULL)
    return FALSE;
  *outcome = s.outcome;
  if (output != NULL)
    *output = s.output;
  else
    g_free (s.output);
  return TRUE;
}
