/* test-send.c: `preread send` against DCMTK's storescp and against preread. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "pr-test-util.h"

typedef struct {
  GPid pid;
  char *dir;
  guint16 port;
} Storescp;

static Storescp *
storescp_start (void)
{
  Storescp *s = g_new0 (Storescp, 1);
  s->dir = pr_test_make_tmpdir ();
  s->port = pr_test_free_port ();
  g_autofree char *port = g_strdup_printf ("%u", s->port);
  const char *argv[] = { "storescp", "+xa", "-od", s->dir, port, NULL };
  g_autoptr (GError) error = NULL;
  g_spawn_async (NULL, (char **) argv, NULL,
                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &s->pid,
                 &error);
  g_assert_no_error (error);
  for (int i = 0; i < 100 && pr_test_run (NULL, NULL, "echoscu", "127.0.0.1", port, NULL) != 0; i++)
    g_usleep (50000);
  return s;
}

static void
storescp_free (Storescp *s)
{
  kill (s->pid, SIGTERM);
  g_spawn_close_pid (s->pid);
  pr_test_remove_tree (s->dir);
  g_free (s->dir);
  g_free (s);
}

static void
test_folder_to_storescp (void)
{
  PR_TEST_REQUIRE ("storescp");
  PR_TEST_REQUIRE ("echoscu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *nested = g_build_filename (work, "a", "b", NULL);
  g_free (pr_test_make_study (work, "--slices", "3", "--seed", "top", NULL));
  g_free (pr_test_make_study (nested, "--slices", "2", "--seed", "nested", NULL));
  g_autofree char *readme = g_build_filename (work, "README.txt", NULL);
  g_file_set_contents (readme, "not DICOM", -1, NULL);

  Storescp *scp = storescp_start ();
  g_autofree char *target = g_strdup_printf ("ANY-SCP@127.0.0.1:%u", scp->port);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "send", "--to", target, work, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "5 stored"));
  g_assert_nonnull (strstr (out, "1 skipped (not DICOM)"));
  /* Not a terminal: no progress bar. */
  g_assert_null (strstr (err, "\r["));
  g_autoptr (GPtrArray) received = pr_test_list_files (scp->dir);
  g_assert_cmpuint (received->len, ==, 5);
  storescp_free (scp);
  pr_test_remove_tree (work);
}

static void
test_roundtrip_to_preread (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "4", "--transfer-syntax", "implicit", NULL));
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *target = pr_test_daemon_target (d);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "--to", target, work, NULL), ==, 0);
  /* Sent in its own transfer syntax, not converted. */
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances WHERE transfer_syntax_uid = "
                                         "'1.2.840.10008.1.2'"), ==, 4);
  g_assert_true (pr_test_daemon_wait_for_log (d, "PREREAD-SEND -> PREREAD: 4 stored", 5000));
  pr_test_remove_tree (work);
}

static void
test_failures_exit_non_zero (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "1", NULL));
  g_autofree char *text = g_build_filename (work, "notes.txt", NULL);
  g_file_set_contents (text, "not DICOM", -1, NULL);
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *target = pr_test_daemon_target (d);
  g_autofree char *out = NULL, *err = NULL;

  /* A file named on the command line that is not DICOM is a failure. */
  g_assert_cmpint (pr_test_run (&out, &err, pr_test_preread (), "send", "--to", target, text, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "notes.txt"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* The peer rejects us: wrong called AE title. */
  g_autofree char *wrong = g_strdup_printf ("NOT-IT@127.0.0.1:%u", d->port);
  g_assert_cmpint (pr_test_run (&out, &err, pr_test_preread (), "send", "--to", wrong, work, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "association rejected"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Nobody listening. */
  g_autofree char *nobody = g_strdup_printf ("PREREAD@127.0.0.1:%u", pr_test_free_port ());
  g_assert_cmpint (pr_test_run (&out, &err, pr_test_preread (), "send", "--to", nobody, work, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "cannot associate"));
  g_assert_nonnull (strstr (out, "1 not sent"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Usage errors exit with 2. */
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", work, NULL), ==, 2);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "--to", "no-port@host", work, NULL), ==, 2);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "--to", target, "/no/such/file", NULL), ==, 2);
  pr_test_remove_tree (work);
}

static void
test_command_line (void)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (pr_test_run (&out, NULL, pr_test_preread (), "--version", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "preread " PACKAGE_VERSION));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (pr_test_run (&out, NULL, pr_test_preread (), "help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "serve"));
  g_assert_nonnull (strstr (out, "send"));
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "no-such-command", NULL), ==, 2);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "serve", "--port", "70000", NULL), ==, 2);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "serve", "--aet", "WAY-TOO-LONG-AE-TITLE", NULL), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/send/folder-to-storescp", test_folder_to_storescp);
  g_test_add_func ("/send/roundtrip-keeps-transfer-syntax", test_roundtrip_to_preread);
  g_test_add_func ("/send/failures-exit-non-zero", test_failures_exit_non_zero);
  g_test_add_func ("/cli/version-help-and-usage-errors", test_command_line);
  return g_test_run ();
}
