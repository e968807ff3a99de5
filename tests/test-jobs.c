/* test-jobs.c: routes firing into the job queue, jobs running, failing, retried,
 * cancelled, surviving kill -9, and configuration reloads, against the real
 * daemon with the built-in test analyzer. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "pr-test-util.h"

#define XML_HEAD "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"

typedef struct {
  char *work;
  char *config;
  char *study;                  /* a generated study folder */
  PrTestDaemon *daemon;
} Fixture;

static void
fixture_start (Fixture *f, const char *analyzers_and_routes)
{
  f->work = pr_test_make_tmpdir ();
  g_autofree char *xml = g_strconcat (XML_HEAD, analyzers_and_routes, "</preread>\n", NULL);
  f->config = pr_test_write_file (f->work, "preread.xml", xml);
  g_autofree char *arg = g_strdup_printf ("--config=%s", f->config);
  const char *args[] = { arg, NULL };
  f->daemon = pr_test_daemon_start (NULL, args);
}

static void
fixture_stop (Fixture *f)
{
  pr_test_daemon_free (f->daemon);
  if (!g_test_failed ())
    pr_test_remove_tree (f->work);
  g_free (f->work);
  g_free (f->config);
  g_free (f->study);
}

static char *
make_study (Fixture *f, const char *seed, const char *slices)
{
  g_autofree char *dir = g_build_filename (f->work, seed, NULL);
  g_free (pr_test_make_study (dir, "--slices", slices, "--seed", seed, NULL));
  return g_steal_pointer (&dir);
}

static void
send (Fixture *f, const char *path)
{
  g_autofree char *target = pr_test_daemon_target (f->daemon);
  g_autofree char *out = NULL;
  int status = pr_test_run (&out, NULL, pr_test_preread (), "send", "-q", "--to", target, path, NULL);
  g_assert_cmpint (status, ==, 0);
}

static gboolean
wait_jobs (Fixture *f, const char *state, gint64 count, guint timeout_ms)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM jobs WHERE state = '%s'", state);
  return pr_test_wait_index_int (f->daemon, sql, count, timeout_ms);
}

static void
test_study_routed_once_job_done (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers><analyzer name=\"inventory\" builtin=\"test\"/></analyzers>\n"
                     "<routes><route name=\"all\"><analyze analyzer=\"inventory\" prefer=\"all\"/></route></routes>\n");
  g_autofree char *study = make_study (&f, "once", "3");
  send (&f, study);
  g_assert_true (wait_jobs (&f, "done", 1, 15000));
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM route_runs"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT attempts FROM jobs"), ==, 1);
  /* The findings are left in the job folder for the result builders. */
  gint64 id = pr_test_index_int (f.daemon, "SELECT id FROM jobs");
  g_autofree char *findings = g_strdup_printf ("%s/jobs/%" G_GINT64_FORMAT "/output/findings.json", f.daemon->storage, id);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (findings, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "preread-findings/1"));
  g_autofree char *list = pr_test_daemon_command (f.daemon, "jobs", "list", NULL);
  g_assert_true (g_str_has_prefix (list, "0\n"));
  g_assert_nonnull (strstr (list, "done"));
  g_assert_nonnull (strstr (list, "test analyzer: 1 series seen"));
  /* Nothing more happens to a settled study. */
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT routed_instances FROM studies", 3, 5000));
  g_usleep (1500000);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM route_runs"), ==, 1);
  fixture_stop (&f);
}

static void
test_expected_count_fires_early (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers><analyzer name=\"a\" builtin=\"test\"/></analyzers>\n"
                     "<routes><route name=\"early\"><completion quiet-period=\"600\" expected-instances=\"4\"/>"
                     "<analyze analyzer=\"a\"/></route></routes>\n");
  g_autofree char *study = make_study (&f, "early", "4");
  gint64 start = g_get_monotonic_time ();
  send (&f, study);
  /* With a 10-minute quiet period only the expected count can fire it. */
  g_assert_true (wait_jobs (&f, "done", 1, 15000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 15 * G_USEC_PER_SEC);
  g_assert_true (pr_test_daemon_wait_for_log (f.daemon, "route early fired (expected count)", 1000));
  fixture_stop (&f);
}

static void
test_update_reruns_or_ignores (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers><analyzer name=\"a\" builtin=\"test\"/></analyzers>\n"
                     "<routes>\n"
                     "<route name=\"again\" on-update=\"rerun\"><analyze analyzer=\"a\"/></route>\n"
                     "<route name=\"once\" on-update=\"ignore\"><analyze analyzer=\"a\"/></route>\n"
                     "</routes>\n");
  g_autofree char *study = make_study (&f, "update", "3");
  g_autoptr (GPtrArray) files = pr_test_list_files (study);
  send (&f, files->pdata[0]);
  send (&f, files->pdata[1]);
  g_assert_true (wait_jobs (&f, "done", 2, 15000));
  /* A late instance: "again" runs again on the updated study, "once" does not. */
  send (&f, files->pdata[2]);
  g_assert_true (wait_jobs (&f, "done", 3, 15000));
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM route_runs WHERE route = 'again'"), ==, 2);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT trigger = 'update' FROM route_runs WHERE route = 'again'"
                                                " AND run = 2"), ==, 1);
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT routed_instances FROM studies", 3, 5000));
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM route_runs WHERE route = 'once'"), ==, 1);
  fixture_stop (&f);
}

static void
test_forwards_become_outbox_items (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<peers><peer name=\"archive\" ae-title=\"ARCHIVE\" host=\"127.0.0.1\" port=\"4242\"/></peers>\n"
                     "<routes>\n"
                     "<route name=\"archive\"><forward-to peer=\"archive\"/></route>\n"
                     "<route name=\"back\"><forward-to sender=\"true\"/></route>\n"
                     "</routes>\n");
  g_autofree char *study = make_study (&f, "forward", "5");
  send (&f, study);
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT count(*) FROM outbox WHERE peer = 'archive'"
                                                   " AND state = 'pending'", 5, 15000));
  /* The sender (PREREAD-SEND) is no configured peer: those items are dead,
   * with the reason, rather than silently dropped. */
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT count(*) FROM outbox WHERE peer IS NULL"
                                                   " AND state = 'dead' AND last_error LIKE '%PREREAD-SEND%'",
                                         5, 15000));
  fixture_stop (&f);
}

static void
test_failures_retried_then_final (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers>\n"
                     "<analyzer name=\"crasher\" builtin=\"test\" max-attempts=\"2\" retry-delay=\"1\">"
                     "<parameter name=\"outcome\">crash</parameter></analyzer>\n"
                     "<analyzer name=\"hanger\" builtin=\"test\" timeout=\"2\" max-attempts=\"1\">"
                     "<parameter name=\"outcome\">hang</parameter></analyzer>\n"
                     "<analyzer name=\"silent\" builtin=\"test\" timeout=\"30\" no-progress-timeout=\"2\" max-attempts=\"1\">"
                     "<parameter name=\"outcome\">hang</parameter></analyzer>\n"
                     "<analyzer name=\"decliner\" builtin=\"test\"><parameter name=\"outcome\">decline</parameter></analyzer>\n"
                     "<analyzer name=\"babbler\" builtin=\"test\"><parameter name=\"outcome\">garbage</parameter></analyzer>\n"
                     "<analyzer name=\"failer\" builtin=\"test\"><parameter name=\"outcome\">fail</parameter></analyzer>\n"
                     "</analyzers>\n<routes><route name=\"r\">"
                     "<analyze analyzer=\"crasher\"/><analyze analyzer=\"hanger\"/><analyze analyzer=\"silent\"/>"
                     "<analyze analyzer=\"decliner\"/><analyze analyzer=\"babbler\"/><analyze analyzer=\"failer\"/>"
                     "</route></routes>\n");
  g_autofree char *study = make_study (&f, "failures", "1");
  send (&f, study);
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE state NOT IN ('queued', 'running')",
                                         6, 40000));
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'crasher' AND state = 'failed'"
                                                " AND attempts = 2 AND reason LIKE '%SIGSEGV%'"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'hanger'"
                                                " AND state = 'timed-out' AND reason LIKE '%timed out after 2 s%'"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'silent'"
                                                " AND state = 'timed-out' AND reason LIKE '%no progress for 2 s%'"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'decliner'"
                                                " AND state = 'declined' AND reason LIKE '%told to decline%'"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'babbler'"
                                                " AND state = 'failed' AND reason LIKE '%not valid JSON%'"), ==, 1);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'failer'"
                                                " AND state = 'failed' AND reason LIKE '%told to fail%'"), ==, 1);
  /* The daemon went on serving through all of it. */
  g_autofree char *port = pr_test_daemon_port_string (f.daemon);
  g_assert_cmpint (pr_test_run (NULL, NULL, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL), ==, 0);
  fixture_stop (&f);
}

static void
test_retry_and_cancel (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers>\n"
                     "<analyzer name=\"failer\" builtin=\"test\"><parameter name=\"outcome\">fail</parameter></analyzer>\n"
                     "<analyzer name=\"slow\" builtin=\"test\" concurrency=\"1\"><parameter name=\"seconds\">20</parameter></analyzer>\n"
                     "</analyzers>\n<routes>\n"
                     "<route name=\"f\"><match><equals attribute=\"PatientID\">FAIL</equals></match><analyze analyzer=\"failer\"/></route>\n"
                     "<route name=\"s\"><match><equals attribute=\"PatientID\">SLOW</equals></match><analyze analyzer=\"slow\"/></route>\n"
                     "</routes>\n");
  g_autofree char *fail_dir = g_build_filename (f.work, "fail", NULL);
  g_free (pr_test_make_study (fail_dir, "--slices", "1", "--seed", "fail", "--patient-id", "FAIL", NULL));
  send (&f, fail_dir);
  g_assert_true (wait_jobs (&f, "failed", 1, 15000));
  gint64 failed = pr_test_index_int (f.daemon, "SELECT id FROM jobs WHERE state = 'failed'");

  /* retry: queued again with fresh attempts, runs, fails again. */
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, failed);
  g_autofree char *out = pr_test_daemon_command (f.daemon, "jobs", "retry", id, NULL);
  g_assert_true (g_str_has_prefix (out, "0\n"));
  g_assert_true (pr_test_daemon_wait_for_log (f.daemon, "started (attempt 1 of 3)", 10000));
  g_autofree char *again = g_strdup_printf ("SELECT count(*) FROM jobs WHERE id = %s AND state = 'failed'"
                                            " AND reason LIKE '%%told to fail%%'", id);
  g_assert_true (pr_test_wait_index_int (f.daemon, again, 1, 15000));
  /* Retrying what is not finished is refused. */
  g_autofree char *slow1 = g_build_filename (f.work, "slow1", NULL);
  g_autofree char *slow2 = g_build_filename (f.work, "slow2", NULL);
  g_free (pr_test_make_study (slow1, "--slices", "1", "--seed", "slow1", "--patient-id", "SLOW", NULL));
  g_free (pr_test_make_study (slow2, "--slices", "1", "--seed", "slow2", "--patient-id", "SLOW", NULL));
  send (&f, slow1);
  send (&f, slow2);
  /* concurrency 1: one runs, the other waits */
  g_assert_true (wait_jobs (&f, "running", 1, 15000));
  g_assert_true (wait_jobs (&f, "queued", 1, 15000));
  g_autofree char *queued = g_strdup_printf ("%" G_GINT64_FORMAT,
                                             pr_test_index_int (f.daemon, "SELECT id FROM jobs WHERE state = 'queued'"));
  g_autofree char *running = g_strdup_printf ("%" G_GINT64_FORMAT,
                                              pr_test_index_int (f.daemon, "SELECT id FROM jobs WHERE state = 'running'"));
  g_autofree char *refused = pr_test_daemon_command (f.daemon, "jobs", "retry", running, NULL);
  g_assert_true (g_str_has_prefix (refused, "1\n"));

  g_autofree char *c1 = pr_test_daemon_command (f.daemon, "jobs", "cancel", queued, NULL);
  g_assert_nonnull (strstr (c1, "is cancelled"));
  g_autofree char *c2 = pr_test_daemon_command (f.daemon, "jobs", "cancel", running, NULL);
  g_assert_nonnull (strstr (c2, "will be stopped"));
  g_assert_true (wait_jobs (&f, "cancelled", 2, 10000));
  /* filters */
  g_autofree char *list = pr_test_daemon_command (f.daemon, "jobs", "--state=cancelled", NULL);
  g_assert_nonnull (strstr (list, "cancelled by an administrator"));
  g_assert_null (strstr (list, "failer"));
  g_autofree char *by_analyzer = pr_test_daemon_command (f.daemon, "jobs", "--analyzer=failer", NULL);
  g_assert_nonnull (strstr (by_analyzer, "failer"));
  g_assert_null (strstr (by_analyzer, " slow "));
  g_autofree char *bad = pr_test_daemon_command (f.daemon, "jobs", "--state=bogus", NULL);
  g_assert_true (g_str_has_prefix (bad, "2\n"));
  fixture_stop (&f);
}

static void
test_reload_refuses_broken_config (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers><analyzer name=\"first\" builtin=\"test\"/></analyzers>\n"
                     "<routes><route name=\"r1\"><analyze analyzer=\"first\"/></route></routes>\n");
  /* Broken: an unknown element on line 3. */
  g_file_set_contents (f.config, XML_HEAD "<analyzers>\n<bogus/>\n</analyzers>\n</preread>\n", -1, NULL);
  kill (f.daemon->pid, SIGHUP);
  g_autofree char *expected = g_strdup_printf ("%s:4:", f.config);
  g_assert_true (pr_test_daemon_wait_for_log (f.daemon, "reload refused", 5000));
  g_assert_true (pr_test_daemon_wait_for_log (f.daemon, expected, 1000));
  /* The old configuration still routes. */
  g_autofree char *a = make_study (&f, "reload-a", "1");
  send (&f, a);
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'first'"
                                                   " AND state = 'done'", 1, 15000));

  /* A valid new one takes effect without a restart. */
  g_file_set_contents (f.config, XML_HEAD "<analyzers><analyzer name=\"second\" builtin=\"test\"/></analyzers>\n"
                                          "<routes><route name=\"r2\"><analyze analyzer=\"second\"/></route></routes>\n"
                                          "</preread>\n",
                       -1, NULL);
  GPid pid = f.daemon->pid;
  kill (pid, SIGHUP);
  g_assert_true (pr_test_daemon_wait_for_log (f.daemon, "is in effect: 1 route(s)", 5000));
  g_autofree char *b = make_study (&f, "reload-b", "1");
  send (&f, b);
  g_assert_true (pr_test_wait_index_int (f.daemon, "SELECT count(*) FROM jobs WHERE analyzer = 'second'"
                                                   " AND state = 'done'", 1, 15000));
  g_assert_cmpint (f.daemon->pid, ==, pid);
  fixture_stop (&f);
}

/* kill -9 while jobs are queued and running: after restart every job ends
 * exactly once, the interrupted one with its attempt counted. */
static void
test_kill_nine_jobs_end_once (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  Fixture f = { 0 };
  fixture_start (&f, "<analyzers><analyzer name=\"slow\" builtin=\"test\" concurrency=\"1\">"
                     "<parameter name=\"seconds\">3</parameter></analyzer></analyzers>\n"
                     "<routes><route name=\"r\"><analyze analyzer=\"slow\"/></route></routes>\n");
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *seed = g_strdup_printf ("kill-%d", i);
      g_autofree char *dir = make_study (&f, seed, "1");
      send (&f, dir);
    }
  g_assert_true (wait_jobs (&f, "running", 1, 15000));
  g_assert_true (wait_jobs (&f, "queued", 2, 15000));
  gint64 interrupted = pr_test_index_int (f.daemon, "SELECT id FROM jobs WHERE state = 'running'");
  pr_test_daemon_kill (f.daemon);

  /* The analyzer died with the daemon: nothing runs twice. */
  g_usleep (200000);
  g_autofree char *ps = NULL;
  pr_test_run (&ps, NULL, "ps", "-eo", "args", NULL);
  g_autofree char *folder = g_strdup_printf ("%s/jobs/", f.daemon->storage);
  g_assert_null (strstr (ps, folder));

  pr_test_daemon_restart (f.daemon);
  g_assert_true (pr_test_daemon_wait_for_log (f.daemon, "interrupted by the last shutdown are queued again", 5000));
  g_assert_true (wait_jobs (&f, "done", 3, 40000));
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM jobs"), ==, 3);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT count(*) FROM route_runs"), ==, 3);
  g_autofree char *sql = g_strdup_printf ("SELECT attempts FROM jobs WHERE id = %" G_GINT64_FORMAT, interrupted);
  g_assert_cmpint (pr_test_index_int (f.daemon, sql), ==, 2);
  g_assert_cmpint (pr_test_index_int (f.daemon, "SELECT sum (attempts) FROM jobs"), ==, 4);
  /* Each job started exactly as often as its attempts say. */
  g_autofree char *log = pr_test_daemon_log (f.daemon);
  guint starts = 0;
  for (const char *p = log; (p = strstr (p, ": started (attempt")) != NULL; p++)
    starts++;
  g_assert_cmpuint (starts, ==, 3); /* this run: the interrupted job again, and the two queued ones */
  fixture_stop (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/jobs/study-routed-once-job-done", test_study_routed_once_job_done);
  g_test_add_func ("/jobs/expected-count-fires-early", test_expected_count_fires_early);
  g_test_add_func ("/jobs/update-reruns-or-ignores", test_update_reruns_or_ignores);
  g_test_add_func ("/jobs/forwards-become-outbox-items", test_forwards_become_outbox_items);
  g_test_add_func ("/jobs/failures-retried-then-final", test_failures_retried_then_final);
  g_test_add_func ("/jobs/retry-and-cancel", test_retry_and_cancel);
  g_test_add_func ("/jobs/reload-refuses-broken-config", test_reload_refuses_broken_config);
  g_test_add_func ("/jobs/kill-nine-jobs-end-once", test_kill_nine_jobs_end_once);
  return g_test_run ();
}
