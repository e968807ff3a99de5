/* pr-test-orthanc.c: starting, stopping and asking Orthanc. */
#include "config.h"

#include "pr-test-orthanc.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pr-test-util.h"

#define START_TIMEOUT_MS 30000

static const char *
orthanc_binary (void)
{
  static const char *const candidates[] = { "/usr/sbin/Orthanc", "/usr/bin/Orthanc", NULL };
  for (const char *const *c = candidates; *c; c++)
    if (g_file_test (*c, G_FILE_TEST_IS_EXECUTABLE))
      return *c;
  return NULL;
}

gboolean
pr_test_have_orthanc (void)
{
  return orthanc_binary () != NULL && pr_test_have_program ("curl");
}

static void
spawn (PrTestOrthanc *o)
{
  g_autofree char *config = g_build_filename (o->folder, "orthanc.json", NULL);
  g_autofree char *log = g_build_filename (o->folder, "orthanc.log", NULL);
  const char *argv[] = { orthanc_binary (), config, NULL };
  int log_fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_autoptr (GError) error = NULL;
  g_spawn_async_with_pipes_and_fds (o->folder, argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                                    pr_test_die_with_parent, NULL, -1, log_fd, log_fd, NULL, NULL, 0, &o->pid, NULL,
                                    NULL, NULL, &error);
  close (log_fd);
  g_assert_no_error (error);
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *system = pr_test_orthanc_get (o, "/system");
      if (system != NULL && strstr (system, "DicomAet") != NULL)
        return;
      g_usleep (100000);
    }
  g_autofree char *text = NULL;
  g_file_get_contents (log, &text, NULL, NULL);
  g_error ("Orthanc did not start within %d s; its log:\n%s", START_TIMEOUT_MS / 1000, text ? text : "");
}

PrTestOrthanc *
pr_test_orthanc_start (const char *ae_title)
{
  PrTestOrthanc *o = g_new0 (PrTestOrthanc, 1);
  o->folder = pr_test_make_tmpdir ();
  o->ae_title = g_strdup (ae_title);
  o->dicom_port = pr_test_free_port ();
  do
    o->http_port = pr_test_free_port ();
  while (o->http_port == o->dicom_port);
  g_autofree char *storage = g_build_filename (o->folder, "db", NULL);
  g_mkdir_with_parents (storage, 0700);
  g_autofree char *config = g_strdup_printf (
    "{\n"
    "  \"Name\": \"preread-test-pacs\",\n"
    "  \"StorageDirectory\": \"%s\", \"IndexDirectory\": \"%s\",\n"
    "  \"DicomAet\": \"%s\", \"DicomPort\": %u, \"DicomCheckCalledAet\": true,\n"
    "  \"HttpPort\": %u, \"HttpServerEnabled\": true, \"RemoteAccessAllowed\": false,\n"
    "  \"AuthenticationEnabled\": false, \"Plugins\": [], \"StorageCompression\": false,\n"
    "  \"UnknownSopClassAccepted\": true, \"DicomScpTimeout\": 30\n"
    "}\n",
    storage, storage, ae_title, o->dicom_port, o->http_port);
  g_free (pr_test_write_file (o->folder, "orthanc.json", config));
  spawn (o);
  return o;
}

void
pr_test_orthanc_stop (PrTestOrthanc *o)
{
  if (o->pid <= 0)
    return;
  kill (o->pid, SIGTERM);
  int status;
  waitpid (o->pid, &status, 0);
  g_spawn_close_pid (o->pid);
  o->pid = 0;
}

void
pr_test_orthanc_restart (PrTestOrthanc *o)
{
  pr_test_orthanc_stop (o);
  spawn (o);
}

char *
pr_test_orthanc_get (PrTestOrthanc *o, const char *path)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", o->http_port, path);
  char *body = NULL;
  int status = pr_test_run (&body, NULL, "curl", "-s", "-f", "--max-time", "10", url, NULL);
  if (status != 0)
    {
      g_free (body);
      return NULL;
    }
  return body;
}

gint64
pr_test_orthanc_count_instances (PrTestOrthanc *o)
{
  g_autofree char *statistics = pr_test_orthanc_get (o, "/statistics");
  const char *count = statistics ? strstr (statistics, "\"CountInstances\"") : NULL;
  const char *colon = count ? strchr (count, ':') : NULL;
  return colon ? g_ascii_strtoll (colon + 1, NULL, 10) : -1;
}

gboolean
pr_test_orthanc_wait_instances (PrTestOrthanc *o, gint64 count, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 seen = -1;
  while (g_get_monotonic_time () < deadline)
    {
      seen = pr_test_orthanc_count_instances (o);
      if (seen == count)
        return TRUE;
      g_usleep (200000);
    }
  g_test_message ("Orthanc holds %" G_GINT64_FORMAT " instances, not %" G_GINT64_FORMAT, seen, count);
  return FALSE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
pr_test_orthanc_sop_instance_uids (PrTestOrthanc *o)
{
  GPtrArray *uids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *list = pr_test_orthanc_get (o, "/instances?expand");
  /* Each expanded instance carries its "SOPInstanceUID" in MainDicomTags. */
  for (const char *p = list ? strstr (list, "\"SOPInstanceUID\"") : NULL; p != NULL;
       p = strstr (p + 1, "\"SOPInstanceUID\""))
    {
      const char *open = strchr (p + strlen ("\"SOPInstanceUID\""), '"');
      const char *close = open ? strchr (open + 1, '"') : NULL;
      if (close != NULL)
        g_ptr_array_add (uids, g_strndup (open + 1, (gsize) (close - open - 1)));
    }
  g_ptr_array_sort (uids, compare_strings);
  return uids;
}

void
pr_test_orthanc_free (PrTestOrthanc *o)
{
  if (o == NULL)
    return;
  pr_test_orthanc_stop (o);
  if (!g_test_failed ())
    pr_test_remove_tree (o->folder);
  g_free (o->folder);
  g_free (o->ae_title);
  g_free (o);
}
