/* test-crash.c: kill -9 at random moments under load; nothing acknowledged is lost.
 *
 * Four storescu senders push studies at once; the daemon is killed with
 * SIGKILL at a random moment (its receivers die with it), then restarted on
 * the same storage. Every instance a sender saw "Success" for must be in the
 * spool, intact, and in the index; no partial file may survive; index and
 * spool must agree; interrupted studies still complete. Rounds default to 6
 * (PREREAD_CRASH_ROUNDS to change); the random moments come from the GLib
 * test seed, printed by -k --tap, so a failing run can be repeated.
 */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"
#include "gateway/pr-spool.h"
#include "pr-test-util.h"

#define SENDERS 4
#define SLICES 60

typedef struct {
  GPid pid;
  char *log_path;
} Sender;

static void
start_sender (Sender *s, PrTestDaemon *d, const char *dir, const char *log_path)
{
  g_autofree char *port = pr_test_daemon_port_string (d);
  const char *argv[] = { "storescu", "-v", "-aec", "PREREAD", "127.0.0.1", port, "+sd", dir, NULL };
  int fd = g_open (log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_autoptr (GError) error = NULL;
  g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                    -1, fd, fd, NULL, NULL, 0, &s->pid, NULL, NULL, NULL, &error);
  close (fd);
  g_assert_no_error (error);
  s->log_path = g_strdup (log_path);
}

static void
wait_sender (Sender *s)
{
  int status;
  waitpid (s->pid, &status, 0);
  g_spawn_close_pid (s->pid);
}

/* Files storescu reports "Success" for, in its -v log. */
static void
collect_acknowledged (const char *log_path, GHashTable *acknowledged)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (log_path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  const char *current = NULL;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *sending = strstr (lines[i], "Sending file: ");
      if (sending != NULL)
        current = sending + strlen ("Sending file: ");
      else if (current != NULL && strstr (lines[i], "Received Store Response (Success)") != NULL)
        {
          g_hash_table_add (acknowledged, g_strdup (current));
          current = NULL;
        }
    }
}

static guint
count_dcm_files (const char *dir)
{
  g_autoptr (GPtrArray) files = pr_test_list_files (dir);
  guint n = 0;
  for (guint i = 0; i < files->len; i++)
    if (g_str_has_suffix (files->pdata[i], ".dcm"))
      n++;
  return n;
}

/* The invariants that must hold after every restart. */
static void
check_consistency (PrTestDaemon *d, GHashTable *acknowledged)
{
  g_autofree char *tmp = g_build_filename (d->storage, "tmp", NULL);
  g_autoptr (GPtrArray) leftovers = pr_test_list_files (tmp);
  g_assert_cmpuint (leftovers->len, ==, 0);

  g_autofree char *studies = g_build_filename (d->storage, "studies", NULL);
  guint on_disk = count_dcm_files (studies);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, on_disk);
  g_assert_cmpint (pr_test_index_int (d, "SELECT coalesce (sum (instance_count), 0) FROM studies"), ==, on_disk);

  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, acknowledged);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const char *source = key;
      g_autoptr (GError) error = NULL;
      g_autoptr (PrInstanceHeader) h = pr_instance_header_read (source, &error);
      g_assert_no_error (error);
      g_autofree char *relative = pr_spool_instance_path (h->study_instance_uid, h->series_instance_uid,
                                                          h->sop_instance_uid);
      g_autofree char *stored = g_build_filename (d->storage, relative, NULL);
      gboolean equal = FALSE;
      if (!pr_instance_content_equal (source, stored, &equal, &error))
        g_error ("acknowledged instance %s lost or unreadable after a crash: %s", source, error->message);
      g_assert_true (equal);
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM instances WHERE path = '%s'", relative);
      g_assert_cmpint (pr_test_index_int (d, sql), ==, 1);
    }
}

static void
test_kill_nine_under_load (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  const char *rounds_env = g_getenv ("PREREAD_CRASH_ROUNDS");
  int rounds = rounds_env ? atoi (rounds_env) : 6;
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autoptr (GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);

  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autoptr (GHashTable) acknowledged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint kills_mid_transfer = 0;
  for (int round = 0; round < rounds; round++)
    {
      /* New studies every round, so every kill lands on data in flight. */
      Sender senders[SENDERS];
      for (int i = 0; i < SENDERS; i++)
        {
          g_autofree char *dir = g_strdup_printf ("%s/round%d-study%d", work, round, i);
          g_autofree char *seed = g_strdup_printf ("crash-%d-%d", round, i);
          g_autofree char *slices = g_strdup_printf ("%d", SLICES);
          g_free (pr_test_make_study (dir, "--slices", slices, "--size", "256", "--seed", seed, NULL));
          g_ptr_array_add (dirs, g_steal_pointer (&dir));
        }
      for (int i = 0; i < SENDERS; i++)
        {
          g_autofree char *log = g_strdup_printf ("%s/sender%d-round%d.log", work, i, round);
          start_sender (&senders[i], d, dirs->pdata[dirs->len - SENDERS + i], log);
        }
      /* Kill once a random number of this round's instances is in, plus a
       * random few milliseconds: the moment lands anywhere in receiving,
       * committing or indexing, but always with transfers under way. */
      gint64 target = pr_test_index_int (d, "SELECT count(*) FROM instances") +
                      g_test_rand_int_range (1, SENDERS * SLICES - 20);
      gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
      while (pr_test_index_int (d, "SELECT count(*) FROM instances") < target && g_get_monotonic_time () < deadline)
        g_usleep (2000);
      g_usleep ((gulong) g_test_rand_int_range (0, 20) * 1000);
      pr_test_daemon_kill (d);
      guint before = g_hash_table_size (acknowledged);
      for (int i = 0; i < SENDERS; i++)
        {
          wait_sender (&senders[i]);
          collect_acknowledged (senders[i].log_path, acknowledged);
          g_free (senders[i].log_path);
        }
      guint acked = g_hash_table_size (acknowledged) - before;
      if (acked > 0 && acked < SENDERS * SLICES)
        kills_mid_transfer++;

      pr_test_daemon_restart (d);
      check_consistency (d, acknowledged);
      g_test_message ("round %d: killed after %u of %u instances were acknowledged; all present and intact", round,
                      acked, SENDERS * SLICES);
    }
  g_assert_cmpuint (kills_mid_transfer, >, 0);

  /* Finally the senders finish; every study completes despite the crashes. */
  g_autofree char *port = pr_test_daemon_port_string (d);
  for (guint i = 0; i < dirs->len; i++)
    g_assert_cmpint (pr_test_run (NULL, NULL, "storescu", "-aec", "PREREAD", "127.0.0.1", port, "+sd",
                                  dirs->pdata[i], NULL), ==, 0);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, dirs->len * SLICES);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (pr_test_index_int (d, "SELECT count(*) FROM studies WHERE state = 'complete'") < dirs->len &&
         g_get_monotonic_time () < deadline)
    g_usleep (100000);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM studies WHERE state = 'complete'"), ==, dirs->len);
  check_consistency (d, acknowledged);
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
  pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error))
    g_error ("%s", error->message);
  g_test_add_func ("/crash/kill-nine-under-load-loses-nothing-acknowledged", test_kill_nine_under_load);
  return g_test_run ();
}
