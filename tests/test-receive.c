/* test-receive.c: `preread serve` receiving from DCMTK's storescu and echoscu. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"
#include "gateway/pr-spool.h"
#include "pr-test-util.h"

/* Where the spool keeps the instance stored from @source. */
static char *
stored_path (PrTestDaemon *d, const char *source)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrInstanceHeader) h = pr_instance_header_read (source, &error);
  g_assert_no_error (error);
  g_autofree char *relative = pr_spool_instance_path (h->study_instance_uid, h->series_instance_uid,
                                                      h->sop_instance_uid);
  return g_build_filename (d->storage, relative, NULL);
}

static int
storescu (PrTestDaemon *d, char **err, const char *calling, const char *called, const char *dir)
{
  g_autofree char *port = pr_test_daemon_port_string (d);
  return pr_test_run (NULL, err, "storescu", "-aet", calling, "-aec", called, "127.0.0.1", port, "+sd", dir,
                      NULL);
}

static void
test_echo (void)
{
  PR_TEST_REQUIRE ("echoscu");
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *port = pr_test_daemon_port_string (d);
  g_assert_cmpint (pr_test_run (NULL, NULL, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL), ==, 0);
  g_assert_true (pr_test_daemon_wait_for_log (d, "1 echo", 5000));
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
}

/* Every instance stored is exactly what crossed the wire: compared with what
 * DCMTK's own storescp, in bit-preserving mode, writes for the same send.
 * Each transfer syntax is proposed on its own so that it is the one used. */
static void
test_store_is_bit_exact (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE ("storescp");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  const struct {
    const char *name, *option, *uid;
  } syntaxes[] = {
    { "explicit", "-xe", "1.2.840.10008.1.2.1" },
    { "implicit", "-xi", "1.2.840.10008.1.2" },
    { "big", "-xb", "1.2.840.10008.1.2.2" },
    { "deflated", "-xd", "1.2.840.10008.1.2.1.99" },
  };
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *ref = g_build_filename (work, "ref", NULL);
  g_mkdir (ref, 0700);
  g_autofree char *ref_port = g_strdup_printf ("%u", pr_test_free_port ());
  GPid scp = 0;
  const char *scp_argv[] = { "storescp", "+B", "-od", ref, "+xa", ref_port, NULL };
  g_autoptr (GError) error = NULL;
  g_spawn_async (NULL, (char **) scp_argv, NULL,
                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &scp,
                 &error);
  g_assert_no_error (error);
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *port = pr_test_daemon_port_string (d);
  for (int i = 0; i < 100 && pr_test_run (NULL, NULL, "echoscu", "127.0.0.1", ref_port, NULL) != 0; i++)
    g_usleep (50000);

  guint total = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (syntaxes); i++)
    {
      g_autofree char *dir = g_build_filename (work, syntaxes[i].name, NULL);
      g_autofree char *seed = g_strdup_printf ("bit-exact-%s", syntaxes[i].name);
      g_free (pr_test_make_study (dir, "--slices", "3", "--transfer-syntax", syntaxes[i].name, "--seed", seed, NULL));
      g_assert_cmpint (pr_test_run (NULL, NULL, "storescu", syntaxes[i].option, "-aec", "PREREAD", "127.0.0.1", port,
                                    "+sd", dir, NULL), ==, 0);
      g_assert_cmpint (pr_test_run (NULL, NULL, "storescu", syntaxes[i].option, "127.0.0.1", ref_port, "+sd", dir,
                                    NULL), ==, 0);
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM instances WHERE transfer_syntax_uid = '%s'",
                                              syntaxes[i].uid);
      g_assert_cmpint (pr_test_index_int (d, sql), ==, 3);

      g_autoptr (GPtrArray) sources = pr_test_list_files (dir);
      for (guint f = 0; f < sources->len; f++, total++)
        {
          g_autoptr (GError) herr = NULL;
          g_autoptr (PrInstanceHeader) h = pr_instance_header_read (sources->pdata[f], &herr);
          g_assert_no_error (herr);
          g_autofree char *ours = stored_path (d, sources->pdata[f]);
          /* storescp names its files <modality>.<SOP Instance UID> */
          g_autofree char *theirs = g_strdup_printf ("%s/CT.%s", ref, h->sop_instance_uid);
          g_autoptr (GBytes) a = pr_test_dataset_bytes (ours);
          g_autoptr (GBytes) b = pr_test_dataset_bytes (theirs);
          g_assert_nonnull (a);
          g_assert_nonnull (b);
          g_assert_cmpuint (g_bytes_get_size (a), >, 1000);
          g_assert_true (g_bytes_equal (a, b));
        }
    }
  kill (scp, SIGTERM);
  g_spawn_close_pid (scp);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, total);
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
  pr_test_remove_tree (work);
}

static void
test_resend_is_idempotent (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "5", NULL));
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_assert_cmpint (storescu (d, NULL, "MODALITY", "PREREAD", work), ==, 0);
  gint64 bytes = pr_test_index_int (d, "SELECT total_bytes FROM studies");
  g_autoptr (GPtrArray) sources = pr_test_list_files (work);
  g_autofree char *first = stored_path (d, sources->pdata[0]);
  GStatBuf before, after;
  g_assert_cmpint (g_stat (first, &before), ==, 0);

  /* The same instances again: success, and nothing changes. */
  g_autofree char *err = NULL;
  g_assert_cmpint (storescu (d, &err, "MODALITY", "PREREAD", work), ==, 0);
  g_assert_null (strstr (err, "Store Failed"));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 5);
  g_assert_cmpint (pr_test_index_int (d, "SELECT total_bytes FROM studies"), ==, bytes);
  g_assert_cmpint (g_stat (first, &after), ==, 0);
  g_assert_cmpint (before.st_ino, ==, after.st_ino);
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
  pr_test_remove_tree (work);
}

static void
test_study_completes_and_reopens (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "4", NULL));
  g_autoptr (GPtrArray) files = pr_test_list_files (work);
  g_autofree char *late = g_build_filename (work, "..", "late.dcm", NULL);
  g_assert_cmpint (g_rename (files->pdata[3], late), ==, 0);

  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_assert_cmpint (storescu (d, NULL, "MODALITY", "PREREAD", work), ==, 0);
  g_assert_true (pr_test_daemon_wait_for_log (d, "complete: 3 instances", 10000));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM studies WHERE state = 'complete'"), ==, 1);

  /* A late instance reopens the study; its next completion is an update. */
  g_autofree char *port = pr_test_daemon_port_string (d);
  g_assert_cmpint (pr_test_run (NULL, NULL, "storescu", "-aec", "PREREAD", "127.0.0.1", port, late, NULL), ==, 0);
  g_assert_true (pr_test_daemon_wait_for_log (d, "complete (updated with late instances): 4 instances", 10000));
  g_assert_cmpint (pr_test_index_int (d, "SELECT completion_count FROM studies"), ==, 2);
  g_assert_cmpint (pr_test_index_int (d, "SELECT updated FROM studies"), ==, 1);
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
  g_unlink (late);
  pr_test_remove_tree (work);
}

static void
test_called_ae_checked (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "1", NULL));

  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint (storescu (d, &err, "MODALITY", "SOMEONE-ELSE", work), !=, 0);
  g_assert_nonnull (strstr (err, "Called AE Title Not Recognized"));
  g_assert_true (pr_test_daemon_wait_for_log (d, "rejected: called AE title not ours", 5000));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 0);
  pr_test_daemon_stop (d);

  const char *any[] = { "--any-called-ae", NULL };
  g_autoptr (PrTestDaemon) open = pr_test_daemon_start (NULL, any);
  g_assert_cmpint (storescu (open, NULL, "MODALITY", "SOMEONE-ELSE", work), ==, 0);
  g_assert_cmpint (pr_test_index_int (open, "SELECT count(*) FROM instances"), ==, 1);
  pr_test_remove_tree (work);
}

static void
test_calling_ae_allow_list (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "1", NULL));
  const char *args[] = { "--allow-calling-aet=CT_SCANNER", "--allow-calling-aet=MR_SCANNER", NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);

  g_autofree char *err = NULL;
  g_assert_cmpint (storescu (d, &err, "INTRUDER", "PREREAD", work), !=, 0);
  g_assert_nonnull (strstr (err, "Calling AE Title Not Recognized"));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 0);
  g_assert_cmpint (storescu (d, NULL, "MR_SCANNER", "PREREAD", work), ==, 0);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 1);
  pr_test_remove_tree (work);
}

static void
test_free_space_reserve (void)
{
  PR_TEST_REQUIRE ("storescu");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "2", NULL));
  /* A reserve no disk can meet: every C-STORE must get 0xA700. */
  const char *args[] = { "--reserve-mb=1000000000", NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);
  g_autofree char *port = pr_test_daemon_port_string (d);
  g_autofree char *out = NULL, *err = NULL;
  /* storescu stops at the first failure; -v shows the status it got. */
  g_assert_cmpint (pr_test_run (&out, &err, "storescu", "-v", "-aec", "PREREAD", "127.0.0.1", port, "+sd", work,
                                NULL), !=, 0);
  g_autofree char *both = g_strconcat (out, err, NULL);
  g_assert_nonnull (strstr (both, "Received Store Response (Refused: OutOfResources)"));
  g_assert_true (pr_test_daemon_wait_for_log (d, "0 stored, 1 refused", 5000));
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 0);
  g_autofree char *studies = g_build_filename (d->storage, "studies", NULL);
  g_autoptr (GPtrArray) stored = pr_test_list_files (studies);
  g_assert_cmpuint (stored->len, ==, 0);
  pr_test_remove_tree (work);
}

/* All slots taken: the next peer hears "rejected, transient" at once. */
static void
test_association_limit (void)
{
  PR_TEST_REQUIRE ("echoscu");
  const char *args[] = { "--max-associations=2", NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);
  g_autoptr (GBytes) rq = pr_test_associate_rq ("HOLDER", "PREREAD");
  int held[2];
  for (int i = 0; i < 2; i++)
    {
      held[i] = pr_test_connect (d->port);
      g_assert_cmpint (held[i], >=, 0);
      g_assert_true (pr_test_send_all (held[i], g_bytes_get_data (rq, NULL), g_bytes_get_size (rq)));
      guint8 head[10];
      g_assert_cmpint (pr_test_read_pdu (held[i], 5000, head), ==, 0x02); /* A-ASSOCIATE-AC */
    }

  g_autofree char *port = pr_test_daemon_port_string (d);
  g_autofree char *err = NULL;
  gint64 start = g_get_monotonic_time ();
  g_assert_cmpint (pr_test_run (NULL, &err, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL), !=, 0);
  gint64 took = g_get_monotonic_time () - start;
  g_assert_nonnull (strstr (err, "Rejected Transient"));
  g_assert_nonnull (strstr (err, "Local Limit Exceeded"));
  g_assert_cmpint (took, <, 2 * G_USEC_PER_SEC);

  /* Slots free again once the holders leave. */
  close (held[0]);
  close (held[1]);
  gboolean ok = FALSE;
  for (int i = 0; i < 50 && !ok; i++)
    {
      ok = pr_test_run (NULL, NULL, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL) == 0;
      if (!ok)
        g_usleep (100000);
    }
  g_assert_true (ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* DCMTK reports what it dislikes in a file as warnings; reading odd
   * files on purpose must not abort the test. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error))
    g_error ("%s", error->message);
  g_test_add_func ("/receive/echo", test_echo);
  g_test_add_func ("/receive/store-is-bit-exact", test_store_is_bit_exact);
  g_test_add_func ("/receive/resend-is-idempotent", test_resend_is_idempotent);
  g_test_add_func ("/receive/study-completes-and-reopens", test_study_completes_and_reopens);
  g_test_add_func ("/receive/called-ae-checked", test_called_ae_checked);
  g_test_add_func ("/receive/calling-ae-allow-list", test_calling_ae_allow_list);
  g_test_add_func ("/receive/free-space-reserve", test_free_space_reserve);
  g_test_add_func ("/receive/association-limit", test_association_limit);
  return g_test_run ();
}
