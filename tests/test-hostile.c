/* test-hostile.c: what an attacker or a broken peer sends, and the daemon survives.
 *
 * Cases from ../shared/anchors/RELIABILITY.md: hostile UIDs and AE titles
 * (path traversal, C1/C2/A9), oversized or non-DICOM requests (A1/A2/A5),
 * silent and idle peers (A10), more associations than slots (A11), and a
 * data set far bigger than memory should allow (B8). After each, the daemon
 * still answers C-ECHO.
 */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pr-test-util.h"

static void
assert_still_serving (PrTestDaemon *d)
{
  g_autofree char *port = pr_test_daemon_port_string (d);
  g_assert_true (pr_test_daemon_is_alive (d));
  g_assert_cmpint (pr_test_run (NULL, NULL, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL), ==, 0);
}

/* storescu -v, returning everything it printed. */
static char *
store_verbose (PrTestDaemon *d, const char *calling, const char *called, const char *path, int *status)
{
  g_autofree char *port = pr_test_daemon_port_string (d);
  g_autofree char *out = NULL, *err = NULL;
  *status = pr_test_run (&out, &err, "storescu", "-v", "-aet", calling, "-aec", called, "127.0.0.1", port, "+sd",
                         path, NULL);
  return g_strconcat (out ? out : "", err ? err : "", NULL);
}

static guint
count_files (const char *dir)
{
  g_autoptr (GPtrArray) files = pr_test_list_files (dir);
  return files->len;
}

static void
test_hostile_sop_instance_uids (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  const char *uids[] = { "../../x", "1.2/3", "..", "/tmp/pwned" };
  for (gsize i = 0; i < G_N_ELEMENTS (uids); i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/case%zu", work, i);
      g_free (pr_test_make_study (dir, "--slices", "1", "--sop-uid", uids[i], NULL));
      int status;
      g_autofree char *out = store_verbose (d, "ATTACKER", "PREREAD", dir, &status);
      g_assert_nonnull (strstr (out, "Received Store Response (Error: CannotUnderstand)"));
    }
  g_assert_true (pr_test_daemon_wait_for_log (d, "not an acceptable identifier", 5000));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 0);
  g_autofree char *studies = g_build_filename (d->storage, "studies", NULL);
  g_assert_cmpuint (count_files (studies), ==, 0);
  /* Nothing landed next to the storage folder or in /tmp either. */
  g_autofree char *parent = g_path_get_dirname (d->storage);
  g_autofree char *x = g_build_filename (parent, "x", NULL);
  g_assert_false (g_file_test (x, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test ("/tmp/pwned", G_FILE_TEST_EXISTS));
  assert_still_serving (d);
  pr_test_remove_tree (work);
}

static void
test_hostile_study_uid (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "1", "--study-uid", "../../etc", NULL));
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  int status;
  g_autofree char *out = store_verbose (d, "ATTACKER", "PREREAD", work, &status);
  g_assert_nonnull (strstr (out, "CannotUnderstand"));
  g_assert_true (pr_test_daemon_wait_for_log (d, "Study Instance UID missing or unacceptable", 5000));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM studies"), ==, 0);
  g_autofree char *tmp = g_build_filename (d->storage, "tmp", NULL);
  g_assert_cmpuint (count_files (tmp), ==, 0);
  assert_still_serving (d);
  pr_test_remove_tree (work);
}

static void
test_hostile_ae_titles (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "1", NULL));
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);

  /* A slash is legal in an AE title; it is data, never a path. */
  int status;
  g_autofree char *out = store_verbose (d, "A/../B", "PREREAD", work, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances WHERE calling_ae = 'A/../B'"), ==, 1);
  g_autofree char *a = g_build_filename (d->storage, "A", NULL);
  g_autofree char *b = g_build_filename (d->storage, "B", NULL);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (b, G_FILE_TEST_EXISTS));

  /* A called AE aimed at a path is simply not ours. */
  g_autofree char *out2 = store_verbose (d, "MODALITY", "../secret", work, &status);
  g_assert_cmpint (status, !=, 0);
  g_assert_nonnull (strstr (out2, "Called AE Title Not Recognized"));
  assert_still_serving (d);
  pr_test_remove_tree (work);
}

/* Sends @bytes as a new connection and waits for the daemon to hang up or
 * abort; returns how long that took. */
static gint64
send_raw_and_wait_for_close (PrTestDaemon *d, const void *bytes, gsize length, guint timeout_ms)
{
  int fd = pr_test_connect (d->port);
  g_assert_cmpint (fd, >=, 0);
  gint64 start = g_get_monotonic_time ();
  pr_test_send_all (fd, bytes, length);
  guint8 head[10];
  int type;
  /* Drain until EOF (0), an A-ABORT (0x07) or an A-ASSOCIATE-RJ (0x03). */
  do
    type = pr_test_read_pdu (fd, timeout_ms, head);
  while (type > 0 && type != 0x07 && type != 0x03);
  close (fd);
  g_assert_cmpint (type, !=, -1); /* -1: still open at the timeout */
  return g_get_monotonic_time () - start;
}

static void
test_oversized_and_garbage_requests (void)
{
  PR_TEST_REQUIRE ("echoscu");
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);

  /* A-ASSOCIATE-RQ header declaring 1 GiB: refused without allocating it. */
  const guint8 huge[] = { 0x01, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00 };
  gint64 took = send_raw_and_wait_for_close (d, huge, sizeof huge, 5000);
  g_test_message ("1 GiB request header: closed after %.2f s", took / 1e6);

  /* A real 300 KB request (far beyond what any association needs). */
  g_autoptr (GByteArray) big = g_byte_array_new ();
  const guint8 head[6] = { 0x01, 0x00, 0x00, 0x04, 0x93, 0xe0 }; /* 300000 */
  g_byte_array_append (big, head, 6);
  g_byte_array_set_size (big, 6 + 300000);
  memset (big->data + 6, 0x20, 300000);
  took = send_raw_and_wait_for_close (d, big->data, big->len, 5000);
  g_test_message ("300 KB request: closed after %.2f s", took / 1e6);

  /* HTTP and TLS on the DICOM port. */
  const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  took = send_raw_and_wait_for_close (d, http, strlen (http), 5000);
  g_test_message ("HTTP request: closed after %.2f s", took / 1e6);
  const guint8 tls_hello[] = { 0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03 };
  send_raw_and_wait_for_close (d, tls_hello, sizeof tls_hello, 5000);

  /* Data before any association. */
  const guint8 pdata[] = { 0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03 };
  send_raw_and_wait_for_close (d, pdata, sizeof pdata, 5000);

  assert_still_serving (d);
  g_autofree char *log = pr_test_daemon_log (d);
  g_assert_null (strstr (log, "killed by signal"));
}

static void
test_silent_and_idle_peers_time_out (void)
{
  PR_TEST_REQUIRE ("echoscu");
  const char *args[] = { "--acse-timeout=2", "--idle-timeout=3", NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);

  /* Connects, says nothing: others are served meanwhile, and it is cut off. */
  int silent = pr_test_connect (d->port);
  g_assert_cmpint (silent, >=, 0);
  /* Half a request, then nothing. */
  int half = pr_test_connect (d->port);
  g_autoptr (GBytes) rq = pr_test_associate_rq ("SLOW", "PREREAD");
  pr_test_send_all (half, g_bytes_get_data (rq, NULL), 20);
  /* Associates, then goes quiet. */
  int idle = pr_test_connect (d->port);
  pr_test_send_all (idle, g_bytes_get_data (rq, NULL), g_bytes_get_size (rq));
  guint8 head[10];
  g_assert_cmpint (pr_test_read_pdu (idle, 5000, head), ==, 0x02);

  gint64 start = g_get_monotonic_time ();
  assert_still_serving (d);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);

  int fds[] = { silent, half, idle };
  for (gsize i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      int type;
      do
        type = pr_test_read_pdu (fds[i], 8000, head);
      while (type > 0 && type != 0x07);
      g_assert_cmpint (type, !=, -1); /* closed or aborted, not still hanging */
      close (fds[i]);
    }
  /* The idle association ended on our side, not by a release. */
  g_assert_true (pr_test_daemon_wait_for_log (d, "SLOW -> PREREAD", 5000));
  g_autofree char *log = pr_test_daemon_log (d);
  const char *line = strstr (log, "SLOW -> PREREAD");
  const char *eol = strchr (line, '\n');
  g_autofree char *ending = g_strndup (line, eol ? (gsize) (eol - line) : strlen (line));
  g_test_message ("idle association: %s", ending);
  g_assert_nonnull (strstr (ending, "idle timeout"));
  assert_still_serving (d);
}

/* The 33rd association finds every slot (default 32) taken. */
static void
test_thirty_three_associations (void)
{
  PR_TEST_REQUIRE ("echoscu");
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autoptr (GBytes) rq = pr_test_associate_rq ("HOLDER", "PREREAD");
  int held[32];
  for (int i = 0; i < 32; i++)
    {
      held[i] = pr_test_connect (d->port);
      g_assert_cmpint (held[i], >=, 0);
      pr_test_send_all (held[i], g_bytes_get_data (rq, NULL), g_bytes_get_size (rq));
      guint8 head[10];
      g_assert_cmpint (pr_test_read_pdu (held[i], 10000, head), ==, 0x02);
    }
  g_autofree char *port = pr_test_daemon_port_string (d);
  g_autofree char *err = NULL;
  gint64 start = g_get_monotonic_time ();
  g_assert_cmpint (pr_test_run (NULL, &err, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL), !=, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (err, "Rejected Transient"));
  for (int i = 0; i < 32; i++)
    close (held[i]);
  gboolean ok = FALSE;
  for (int i = 0; i < 50 && !ok; i++)
    if (!(ok = pr_test_run (NULL, NULL, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL) == 0))
      g_usleep (100000);
  g_assert_true (ok);
}

/* 33 real senders at once: each either stores everything or is turned
 * away with a transient rejection; nothing in between. */
static void
test_thirty_three_senders (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  for (int i = 0; i < 33; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/sender%02d", work, i);
      g_autofree char *seed = g_strdup_printf ("sender-%d", i);
      g_free (pr_test_make_study (dir, "--slices", "3", "--seed", seed, NULL));
    }
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *port = pr_test_daemon_port_string (d);

  GPid pids[33];
  int errs[33];
  for (int i = 0; i < 33; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/sender%02d", work, i);
      const char *argv[] = { "storescu", "-aec", "PREREAD", "127.0.0.1", port, "+sd", dir, NULL };
      g_autoptr (GError) error = NULL;
      g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                NULL, NULL, &pids[i], NULL, NULL, &errs[i], &error);
      g_assert_no_error (error);
    }
  guint succeeded = 0, rejected = 0;
  for (int i = 0; i < 33; i++)
    {
      g_autoptr (GIOChannel) ch = g_io_channel_unix_new (errs[i]);
      g_io_channel_set_close_on_unref (ch, TRUE);
      g_autofree char *text = NULL;
      g_io_channel_read_to_end (ch, &text, NULL, NULL);
      int status = 0;
      waitpid (pids[i], &status, 0);
      g_spawn_close_pid (pids[i]);
      if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        succeeded++;
      else if (text != NULL && strstr (text, "Rejected Transient") != NULL)
        rejected++;
      else
        g_error ("sender %d failed otherwise: %s", i, text ? text : "");
    }
  g_test_message ("33 senders: %u stored everything, %u rejected transiently", succeeded, rejected);
  g_assert_cmpuint (succeeded + rejected, ==, 33);
  g_assert_cmpuint (succeeded, >=, 1);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 3 * succeeded);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM studies WHERE instance_count = 3"), ==, succeeded);
  assert_still_serving (d);
  pr_test_remove_tree (work);
}

/* A 128 MB instance streams to disk: the receiver's peak memory stays small. */
static void
test_memory_is_bounded (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "1", "--size", "8192", NULL)); /* 8192x8192x2 = 128 MiB */
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  int status;
  g_autofree char *out = store_verbose (d, "MODALITY", "PREREAD", work, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (pr_test_daemon_wait_for_log (d, "1 stored", 10000));

  g_autofree char *log = pr_test_daemon_log (d);
  const char *peak = strstr (log, "peak memory ");
  g_assert_nonnull (peak);
  peak += strlen ("peak memory ");
  /* g_format_size: "16.1 MB" with a no-break space before the unit */
  char *end = NULL;
  double value = g_ascii_strtod (peak, &end);
  g_autofree char *unit = g_strndup (end, 6);
  g_test_message ("receiver peak memory for a 128 MiB instance: %.1f%s", value, unit);
  g_assert_true (strstr (unit, "kB") != NULL || (strstr (unit, "MB") != NULL && value < 64.0));
  g_assert_cmpint (pr_test_index_int (d, "SELECT size FROM instances"), >, 128 * 1024 * 1024);
  pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hostile/sop-instance-uids-never-become-paths", test_hostile_sop_instance_uids);
  g_test_add_func ("/hostile/study-uid-never-becomes-a-path", test_hostile_study_uid);
  g_test_add_func ("/hostile/ae-titles-are-data", test_hostile_ae_titles);
  g_test_add_func ("/hostile/oversized-and-garbage-requests", test_oversized_and_garbage_requests);
  g_test_add_func ("/hostile/silent-and-idle-peers-time-out", test_silent_and_idle_peers_time_out);
  g_test_add_func ("/hostile/thirty-three-associations", test_thirty_three_associations);
  g_test_add_func ("/hostile/thirty-three-senders", test_thirty_three_senders);
  g_test_add_func ("/hostile/memory-is-bounded", test_memory_is_bounded);
  return g_test_run ();
}
