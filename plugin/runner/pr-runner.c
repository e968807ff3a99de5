/* pr-runner.c: load one module, run one job, write its findings, exit. */
#include "config.h"

#include "pr-runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-volume.h"
#include "plugin/host/pr-job-description.h"
#include "plugin/host/pr-module.h"
#include "pr-runner-job.h"

/* The host copies volume flags bit for bit. */
G_STATIC_ASSERT (PR_VOLUME_UNEVEN_SPACING == PREREAD_VOLUME_UNEVEN_SPACING);
G_STATIC_ASSERT (PR_VOLUME_TILTED == PREREAD_VOLUME_TILTED);
G_STATIC_ASSERT (PR_VOLUME_SINGLE_IMAGE == PREREAD_VOLUME_SINGLE_IMAGE);
G_STATIC_ASSERT (PR_VOLUME_SPACING_UNKNOWN == PREREAD_VOLUME_SPACING_UNKNOWN);

static volatile sig_atomic_t cancelled;

static void
on_sigterm (int signal_number)
{
  /* The supervisor asks politely first (then SIGKILLs after a grace
   * period): is_cancelled() turns true so the module can stop cleanly. */
  cancelled = 1;
}

/* ---- dying at the memory limit ------------------------------------------------
 *
 * Code that hits its address-space limit rarely says so: malloc returns
 * NULL and the NULL write segfaults, or bad_alloc aborts. The supervisor
 * only sees the signal. So the runner looks, as the process dies, at how
 * much address space it had reserved; when that was at the limit, it says
 * so on stderr, the last line the scheduler reports. Only async-signal-safe
 * calls below. */

/* Allocations fail when they would cross the limit: a peak within this of
 * it means the limit is what stopped the process. */
#define NEAR_LIMIT_BYTES (128ull << 20)

static char alternate_stack[64 * 1024];

static unsigned long long
status_field_kib (const char *status, const char *field)
{
  const char *p = strstr (status, field);
  if (p == NULL)
    return 0;
  p += strlen (field);
  while (*p == ' ' || *p == '\t')
    p++;
  unsigned long long value = 0;
  while (*p >= '0' && *p <= '9')
    value = value * 10 + (unsigned long long) (*p++ - '0');
  return value;
}

static char *
append_number (char *out, unsigned long long value)
{
  char digits[24];
  int n = 0;
  do
    digits[n++] = (char) ('0' + value % 10);
  while ((value /= 10) > 0);
  while (n > 0)
    *out++ = digits[--n];
  return out;
}

static char *
append_text (char *out, const char *text)
{
  while (*text)
    *out++ = *text++;
  return out;
}

static void
on_fatal_signal (int signal_number)
{
  struct rlimit limit;
  char status[4096];
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, status, sizeof status - 1) : -1;
  if (fd >= 0)
    close (fd);
  if (n > 0 && getrlimit (RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    {
      status[n] = '\0';
      unsigned long long peak = status_field_kib (status, "VmPeak:") * 1024;
      if (peak + NEAR_LIMIT_BYTES >= (unsigned long long) limit.rlim_cur)
        {
          char line[256], *p = line;
          const char *name = sigabbrev_np (signal_number);
          p = append_text (p, "preread runner: the analyzer died of SIG");
          p = append_text (p, name ? name : "?");
          p = append_text (p, " at its memory limit (address space ");
          p = append_number (p, peak >> 20);
          p = append_text (p, " MB of ");
          p = append_number (p, (unsigned long long) limit.rlim_cur >> 20);
          p = append_text (p, " MB)\n");
          if (write (STDERR_FILENO, line, (size_t) (p - line)) < 0)
            {
              /* nothing left to do */
            }
        }
    }
  /* SA_RESETHAND restored the default action: die of the same signal, so
   * the supervisor reports it as it was. */
  raise (signal_number);
}

static void
watch_fatal_signals (void)
{
  stack_t stack = { 0 };
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  sigaltstack (&stack, NULL);
  struct sigaction action = { 0 };
  action.sa_handler = on_fatal_signal;
  sigemptyset (&action.sa_mask);
  action.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
  const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE };
  for (gsize i = 0; i < G_N_ELEMENTS (fatal); i++)
    sigaction (fatal[i], &action, NULL);
}

/* ---- the runner ------------------------------------------------------------ */

/* Keeps the supervisor's pipe for progress lines only: whatever the module
 * prints on stdout goes to its log instead, so it cannot forge progress. */
static int
take_progress_pipe (void)
{
  int fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  dup2 (STDERR_FILENO, STDOUT_FILENO);
  return fd;
}

static int
unloadable (const char *message)
{
  /* The supervisor reports the last line of the log as the reason. */
  fprintf (stderr, "preread runner: %s\n", message);
  return PR_RUNNER_EXIT_UNLOADABLE;
}

int
pr_runner_main (int argc, char **argv)
{
  if (argc != 3)
    {
      fprintf (stderr, "usage: preread %s MODULE JOB-FOLDER\n", PR_RUNNER_SUBCOMMAND);
      return 2;
    }
  const char *module_path = argv[1];
  const char *folder = argv[2];
  struct sigaction action = { 0 };
  action.sa_handler = on_sigterm;
  sigemptyset (&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction (SIGTERM, &action, NULL);
  watch_fatal_signals ();
  int progress_fd = take_progress_pipe ();

  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error))
    return unloadable (error->message);
  g_autofree char *job_file = g_build_filename (folder, "job.json", NULL);
  PrJobDescription *description = pr_job_description_load (job_file, &error);
  if (description == NULL)
    {
      fprintf (stderr, "preread runner: %s\n", error->message);
      return 1;
    }
  g_autofree char *scratch = g_build_filename (folder, "scratch", NULL);
  g_mkdir_with_parents (scratch, 0700);
  PrereadJob *job = pr_runner_job_new (description, scratch, progress_fd, &cancelled);

  const PrereadAnalyzerDescriptor *d = pr_module_open (module_path, &error);
  if (d == NULL)
    {
      pr_runner_job_free (job);
      pr_job_folder_remove (scratch);
      return unloadable (error->message);
    }
  fprintf (stderr, "preread runner: %s %s (%s), analyzer ABI %u.%u\n", d->name, d->version, module_path,
           d->abi_major, d->abi_minor);

  const PrereadHost *host = pr_runner_host ();
  void *state = NULL;
  PrereadStatus status = d->init ? d->init (host, &state) : PREREAD_OK;
  const char *source = "init()";
  if (status == PREREAD_OK)
    {
      source = "analyze()";
      status = d->analyze (state, job, host);
      if (d->finish)
        d->finish (state);
    }
  gboolean written = pr_runner_job_finish (job, status, source, d, &error);
  pr_runner_job_free (job);
  pr_job_folder_remove (scratch);
  if (!written)
    {
      fprintf (stderr, "preread runner: cannot write the findings: %s\n", error->message);
      return 1;
    }
  return 0;
}

int
pr_runner_probe_main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: preread %s MODULE\n", PR_RUNNER_PROBE_SUBCOMMAND);
      return 2;
    }
  int out = take_progress_pipe ();
  g_autoptr (GError) error = NULL;
  const PrereadAnalyzerDescriptor *d = pr_module_open (argv[1], &error);
  if (d == NULL)
    return unloadable (error->message);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *names[] = { "name", "version", "vendor", "license", "description" };
  const char *values[] = { d->name, d->version, d->vendor, d->license, d->description };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      json_builder_set_member_name (b, names[i]);
      g_autofree char *valid = g_utf8_make_valid (values[i], (gssize) strnlen (values[i], 1000));
      json_builder_add_string_value (b, valid);
    }
  json_builder_set_member_name (b, "abi");
  g_autofree char *abi = g_strdup_printf ("%u.%u", d->abi_major, d->abi_minor);
  json_builder_add_string_value (b, abi);
  json_builder_set_member_name (b, "thread_safe");
  json_builder_add_boolean_value (b, (d->flags & PREREAD_ANALYZER_THREAD_SAFE) != 0);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, FALSE);
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  return write (out, line, strlen (line)) == (ssize_t) strlen (line) ? 0 : 1;
}
