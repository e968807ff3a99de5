/* test-results.c: result objects in the PACS, and their reliable delivery.
 *
 *   - the objects `preread analyze --output` writes (SR, GSPS, SEG, SC, KOS)
 *     pass dciodvfy with no error, read back with dsrdump, carry the source
 *     study's identity in UTF-8, and are made again with the same UIDs;
 *   - the daemon delivers results and forwarded originals to a real Orthanc;
 *   - with Orthanc down, items wait and retry, and arrive exactly once when
 *     it is back, also across a kill -9 of the gateway;
 *   - a refusing peer makes dead letters at once, which `preread outbox`
 *     shows, retries and drops. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "conf/pr-config.h"
#include "gateway/pr-deliver.h"
#include "gateway/pr-outbox.h"
#include "pr-test-orthanc.h"
#include "pr-test-util.h"

/* ---- helpers --------------------------------------------------------------- */

static char *
contract_module (void)
{
  return g_build_filename (g_getenv ("PREREAD_BUILDDIR"), "tests", "analyzers", ".libs", "contract.so", NULL);
}

static char *
make_study (const char *work, const char *seed, const char *extra_name, const char *extra_value)
{
  char *dir = g_build_filename (work, seed, NULL);
  g_free (pr_test_make_study (dir, "--slices", "4", "--size", "32", "--seed", seed, extra_name, extra_value, NULL));
  return dir;
}

/* The errors dciodvfy finds in @path (empty: none). */
static char *
dciodvfy_errors (const char *path)
{
  g_autofree char *out = NULL, *err = NULL;
  pr_test_run (&out, &err, "dciodvfy", path, NULL);
  GString *errors = g_string_new (NULL);
  g_auto (GStrv) lines = g_strsplit (err ? err : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "Error"))
      g_string_append_printf (errors, "%s\n", *l);
  return g_string_free (errors, FALSE);
}

static char *
dump (const char *path)
{
  char *out = NULL;
  g_assert_cmpint (pr_test_run (&out, NULL, "dcmdump", "+U8", path, NULL), ==, 0);
  return out;
}

/* The value of @keyword in dcmdump's output: "(gggg,eeee) VR [value]  # len, vm Keyword". */
static char *
dump_value (const char *dump_text, const char *keyword)
{
  g_auto (GStrv) lines = g_strsplit (dump_text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_strchomp (*l);
      const char *open = strchr (*l, '[');
      const char *close = open ? strchr (open, ']') : NULL;
      const char *name = strrchr (*l, ' ');
      if (open && close && name && strcmp (name + 1, keyword) == 0)
        return g_strndup (open + 1, (gsize) (close - open - 1));
    }
  return NULL;
}

/* ---- pure logic --------------------------------------------------------------- */

static void
test_status_classes (void)
{
  g_assert_true (pr_deliver_status_is_transient (0xa700));
  g_assert_true (pr_deliver_status_is_transient (0xa7ff));
  g_assert_true (pr_deliver_status_is_transient (0x0110));
  g_assert_false (pr_deliver_status_is_transient (0xa900));
  g_assert_false (pr_deliver_status_is_transient (0x0122));
  g_assert_false (pr_deliver_status_is_transient (0xc000));

  PrPeer peer = { 0 };
  peer.retry_base_s = 30;
  peer.retry_max_s = 1800;
  for (int i = 0; i < 200; i++)
    {
      gint64 first = pr_outbox_backoff_us (&peer, 1);
      g_assert_cmpint (first, >=, 30 * 0.75 * G_USEC_PER_SEC);
      g_assert_cmpint (first, <=, 30 * 1.25 * G_USEC_PER_SEC);
      gint64 fourth = pr_outbox_backoff_us (&peer, 4); /* 30 * 2^3 */
      g_assert_cmpint (fourth, >=, 240 * 0.75 * G_USEC_PER_SEC);
      g_assert_cmpint (fourth, <=, 240 * 1.25 * G_USEC_PER_SEC);
      gint64 late = pr_outbox_backoff_us (&peer, 40);
      g_assert_cmpint (late, <=, 1800 * 1.25 * G_USEC_PER_SEC);
      g_assert_cmpint (late, >=, 1800 * 0.75 * G_USEC_PER_SEC);
    }
}

/* ---- the objects ---------------------------------------------------------------- */

static void
test_objects_valid (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  PR_TEST_REQUIRE ("dcmdump");
  PR_TEST_REQUIRE ("dsrdump");
  PR_TEST_REQUIRE ("dciodvfy");
  g_autofree char *work = pr_test_make_tmpdir ();
  /* A Latin-1 name: the objects must say it right, in UTF-8. */
  g_autofree char *study = make_study (work, "objects", "--patient-name", "M\xc3\xbcller^J\xc3\xbcrgen");
  g_autofree char *module = contract_module ();
  g_autofree char *output = g_build_filename (work, "job", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "analyze", "-a", module, "-q", "-o", output, study, NULL);
  g_test_message ("%s", err);
  g_assert_cmpint (status, ==, 0);

  g_autofree char *source = g_build_filename (study, "s01-0001.dcm", NULL);
  g_autofree char *source_dump = dump (source);
  g_autofree char *study_uid = dump_value (source_dump, "StudyInstanceUID");
  g_assert_nonnull (study_uid);

  const char *expected[] = { "sr.dcm", "gsps.dcm", "seg.dcm", "sc-1.dcm", "kos.dcm" };
  g_autoptr (GHashTable) uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *path = g_build_filename (output, "results", expected[i], NULL);
      g_test_message ("checking %s", expected[i]);
      g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
      g_autofree char *errors = dciodvfy_errors (path);
      if (*errors)
        g_test_message ("%s: dciodvfy:\n%s", expected[i], errors);
      g_assert_cmpstr (errors, ==, "");
      g_autofree char *text = dump (path);
      g_autofree char *uid = dump_value (text, "StudyInstanceUID");
      g_assert_cmpstr (uid, ==, study_uid);
      g_assert_nonnull (strstr (text, "ISO_IR 192"));
      g_assert_nonnull (strstr (text, "M\xc3\xbcller^J\xc3\xbcrgen"));
      g_assert_nonnull (strstr (text, "ContributingEquipmentSequence"));
      char *sop = dump_value (text, "SOPInstanceUID");
      g_assert_nonnull (sop);
      g_assert_false (g_hash_table_contains (uids, sop));
      g_hash_table_add (uids, sop);
    }

  /* The SR reads back, with the TID 1500 structure. */
  g_autofree char *sr = g_build_filename (output, "results", "sr.dcm", NULL);
  g_autofree char *sr_text = NULL;
  g_assert_cmpint (pr_test_run (&sr_text, NULL, "dsrdump", "+Pc", "+Pl", sr, NULL), ==, 0);
  const char *in_sr[] = {
    "(126000,DCM,\"Imaging Measurement Report\")", "(121005,DCM,\"Observer Type\")=(121007,DCM,\"Device\")",
    "(111028,DCM,\"Image Library\")", "(125007,DCM,\"Measurement Group\")",
    "(112039,DCM,\"Tracking Identifier\")=\"nodule 1\"", "(121071,DCM,\"Finding\")=(27925004,SCT,\"Nodule\")",
    "(363698007,SCT,\"Finding Site\")=(39607008,SCT,\"Lung structure\")", "(111030,DCM,\"Image Region\")=(CIRCLE",
    "(121231,DCM,\"Volume Surface\")=(POINT", "(121191,DCM,\"Referenced Segment\")",
    "(111012,DCM,\"Certainty of Finding\")=\"87.5\" (%,UCUM,\"Percent\")", "=\"8\" (mm,UCUM,\"millimeter\")",
    "(121073,DCM,\"Impression\")=\"contract: line one line two\"", "AI result, not for primary diagnosis",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (in_sr); i++)
    {
      g_test_message ("SR has %s", in_sr[i]);
      g_assert_nonnull (strstr (sr_text, in_sr[i]));
    }

  /* The key image says what it is; the SEG has the mask's two slices; the
   * presentation state draws the circle on its layer. */
  g_autofree char *sc = g_build_filename (output, "results", "sc-1.dcm", NULL);
  g_autofree char *sc_text = dump (sc);
  g_assert_nonnull (strstr (sc_text, "[YES]"));
  g_assert_nonnull (strstr (sc_text, "AI result, not for primary diagnosis"));
  g_autofree char *seg = g_build_filename (output, "results", "seg.dcm", NULL);
  g_autofree char *seg_text = dump (seg);
  g_autofree char *frames = dump_value (seg_text, "NumberOfFrames");
  g_assert_cmpstr (frames, ==, "2");
  g_autofree char *gsps = g_build_filename (output, "results", "gsps.dcm", NULL);
  g_autofree char *gsps_text = dump (gsps);
  g_assert_nonnull (strstr (gsps_text, "[CIRCLE]"));
  g_assert_nonnull (strstr (gsps_text, "GraphicLayer"));
  pr_test_remove_tree (work);
}

static void
test_rebuild_same_uids (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = make_study (work, "rebuild", NULL, NULL);
  g_autofree char *module = contract_module ();
  g_autofree char *job = g_build_filename (work, "job", NULL);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "analyze", "-a", module, "-q", "-o", job, study, NULL),
                   ==, 0);
  g_autofree char *first = g_build_filename (work, "first", NULL);
  g_autofree char *second = g_build_filename (work, "second", NULL);
  g_autofree char *other = g_build_filename (work, "other", NULL);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "__build-results", job, first, "seed-a", NULL), ==, 0);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "__build-results", job, second, "seed-a", NULL), ==, 0);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "__build-results", job, other, "seed-b", NULL), ==, 0);
  g_autofree char *m1 = NULL, *m2 = NULL, *m3 = NULL;
  g_autofree char *p1 = g_build_filename (first, "manifest.json", NULL);
  g_autofree char *p2 = g_build_filename (second, "manifest.json", NULL);
  g_autofree char *p3 = g_build_filename (other, "manifest.json", NULL);
  g_assert_true (g_file_get_contents (p1, &m1, NULL, NULL));
  g_assert_true (g_file_get_contents (p2, &m2, NULL, NULL));
  g_assert_true (g_file_get_contents (p3, &m3, NULL, NULL));
  /* Same seed, same UIDs: a rebuild after a crash sends nothing new. */
  g_assert_cmpstr (m1, ==, m2);
  g_assert_cmpstr (m1, !=, m3);
  pr_test_remove_tree (work);
}

/* ---- delivery ------------------------------------------------------------------ */

typedef struct {
  char *work;
  char *config;
  PrTestOrthanc *orthanc;
  PrTestDaemon *daemon;
} Site;

static void
site_start (Site *s, const char *peer_ae, gboolean forward)
{
  s->work = pr_test_make_tmpdir ();
  s->orthanc = pr_test_orthanc_start ("TESTPACS");
  g_autofree char *module = contract_module ();
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"
    "<peers><peer name=\"pacs\" ae-title=\"%s\" host=\"127.0.0.1\" port=\"%u\" retry-base=\"1\" retry-max=\"2\"/>"
    "</peers>\n"
    "<analyzers><analyzer name=\"contract\" module=\"%s\" max-attempts=\"1\"/></analyzers>\n"
    "<routes><route name=\"all\"><analyze analyzer=\"contract\"/><results-to peer=\"pacs\"/>%s</route></routes>\n"
    "</preread>\n",
    peer_ae, s->orthanc->dicom_port, module, forward ? "<forward-to peer=\"pacs\"/>" : "");
  s->config = pr_test_write_file (s->work, "preread.xml", xml);
  g_autofree char *arg = g_strdup_printf ("--config=%s", s->config);
  const char *args[] = { arg, NULL };
  s->daemon = pr_test_daemon_start (NULL, args);
}

static void
site_stop (Site *s)
{
  pr_test_daemon_free (s->daemon);
  pr_test_orthanc_free (s->orthanc);
  if (!g_test_failed ())
    pr_test_remove_tree (s->work);
  g_free (s->work);
  g_free (s->config);
}

static void
site_send (Site *s, const char *seed)
{
  g_autofree char *study = make_study (s->work, seed, NULL, NULL);
  g_autofree char *target = pr_test_daemon_target (s->daemon);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, study, NULL), ==, 0);
}

/* The SOP Instance UIDs the gateway made and forwarded, sorted. */
static GPtrArray *
expected_uids (Site *s)
{
  g_autoptr (GPtrArray) uids = g_ptr_array_new_with_free_func (g_free);
  gint64 n = pr_test_index_int (s->daemon, "SELECT count(*) FROM outbox");
  for (gint64 i = 0; i < n; i++)
    {
      g_autofree char *sql =
        g_strdup_printf ("SELECT sop_instance_uid FROM outbox ORDER BY sop_instance_uid LIMIT 1 OFFSET %" G_GINT64_FORMAT,
                         i);
      g_ptr_array_add (uids, pr_test_index_text (s->daemon, sql));
    }
  return g_steal_pointer (&uids);
}

static void
assert_same_uids (GPtrArray *a, GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_cmpstr (a->pdata[i], ==, b->pdata[i]);
}

static void
test_delivered_to_orthanc (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  PR_TEST_REQUIRE_ORTHANC ();
  Site s = { 0 };
  site_start (&s, "TESTPACS", TRUE);
  site_send (&s, "delivered");
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM jobs WHERE results_state = 'built'", 1, 30000));
  gint64 results = pr_test_index_int (s.daemon, "SELECT count(*) FROM results");
  g_assert_cmpint (results, >=, 5); /* sr, gsps, seg, sc..., kos */
  /* Every result and every original arrives. */
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM outbox WHERE state = 'sent'", results + 4,
                                         30000));
  g_assert_true (pr_test_orthanc_wait_instances (s.orthanc, results + 4, 10000));
  g_autoptr (GPtrArray) mine = expected_uids (&s);
  g_autoptr (GPtrArray) theirs = pr_test_orthanc_sop_instance_uids (s.orthanc);
  assert_same_uids (mine, theirs);
  g_autofree char *outbox = pr_test_daemon_command (s.daemon, "outbox", "--state", "sent", NULL);
  g_assert_nonnull (strstr (outbox, "result sr"));
  g_assert_nonnull (strstr (outbox, "forward"));
  site_stop (&s);
}

static void
test_peer_down_then_up (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  PR_TEST_REQUIRE_ORTHANC ();
  Site s = { 0 };
  site_start (&s, "TESTPACS", FALSE);
  pr_test_orthanc_stop (s.orthanc);
  site_send (&s, "down");
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM jobs WHERE results_state = 'built'", 1, 30000));
  /* They wait and retry (retry-base 1 s), with the reason in sight. */
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT min(attempts) >= 2 FROM outbox", 1, 30000));
  g_assert_cmpint (pr_test_index_int (s.daemon, "SELECT count(*) FROM outbox WHERE state IN ('sent', 'dead')"), ==, 0);
  g_autofree char *waiting = pr_test_daemon_command (s.daemon, "outbox", "list", NULL);
  /* (an item may be between attempts, or in one) */
  g_assert_true (strstr (waiting, "pending") || strstr (waiting, "sending"));
  g_assert_nonnull (strstr (waiting, "Connection refused"));

  pr_test_orthanc_restart (s.orthanc);
  gint64 n = pr_test_index_int (s.daemon, "SELECT count(*) FROM outbox");
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM outbox WHERE state = 'sent'", n, 30000));
  g_assert_true (pr_test_orthanc_wait_instances (s.orthanc, n, 10000));
  g_autoptr (GPtrArray) mine = expected_uids (&s);
  g_autoptr (GPtrArray) theirs = pr_test_orthanc_sop_instance_uids (s.orthanc);
  assert_same_uids (mine, theirs);
  site_stop (&s);
}

static void
test_kill_nine_keeps_deliveries (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  PR_TEST_REQUIRE_ORTHANC ();
  Site s = { 0 };
  site_start (&s, "TESTPACS", TRUE);
  pr_test_orthanc_stop (s.orthanc);
  site_send (&s, "kill");
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM jobs WHERE results_state = 'built'", 1, 30000));
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT min(attempts) >= 1 FROM outbox", 1, 30000));
  gint64 n = pr_test_index_int (s.daemon, "SELECT count(*) FROM outbox");
  pr_test_daemon_kill (s.daemon);
  pr_test_orthanc_restart (s.orthanc);
  pr_test_daemon_restart (s.daemon);
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM outbox WHERE state = 'sent'", n, 30000));
  g_assert_true (pr_test_orthanc_wait_instances (s.orthanc, n, 10000));
  g_autoptr (GPtrArray) mine = expected_uids (&s);
  g_autoptr (GPtrArray) theirs = pr_test_orthanc_sop_instance_uids (s.orthanc);
  assert_same_uids (mine, theirs);
  /* Nothing was made twice. */
  g_assert_cmpint (pr_test_index_int (s.daemon, "SELECT count(*) FROM results"), ==,
                   pr_test_index_int (s.daemon, "SELECT count(DISTINCT sop_instance_uid) FROM results"));
  site_stop (&s);
}

static void
test_refusal_is_dead_letter (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  PR_TEST_REQUIRE_ORTHANC ();
  Site s = { 0 };
  /* Orthanc checks the called AE title: it rejects the association. */
  site_start (&s, "NOTTHEPACS", FALSE);
  site_send (&s, "refused");
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM jobs WHERE results_state = 'built'", 1, 30000));
  gint64 n = pr_test_index_int (s.daemon, "SELECT count(*) FROM outbox");
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT count(*) FROM outbox WHERE state = 'dead'", n, 30000));
  /* At once: one attempt each, not a retry. */
  g_assert_cmpint (pr_test_index_int (s.daemon, "SELECT max(attempts) FROM outbox"), ==, 1);
  g_autofree char *list = pr_test_daemon_command (s.daemon, "outbox", "list", NULL);
  g_assert_nonnull (strstr (list, "dead"));
  g_assert_nonnull (strstr (list, "reject"));
  g_assert_cmpint (pr_test_orthanc_count_instances (s.orthanc), ==, 0);

  g_autofree char *retried = pr_test_daemon_command (s.daemon, "outbox", "retry", "--all", NULL);
  g_assert_true (g_str_has_prefix (retried, "0\n"));
  g_assert_true (pr_test_wait_index_int (s.daemon, "SELECT max(attempts) FROM outbox WHERE state = 'dead'", 1, 30000));
  gint64 first = pr_test_index_int (s.daemon, "SELECT min(id) FROM outbox");
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, first);
  g_autofree char *dropped = pr_test_daemon_command (s.daemon, "outbox", "drop", id, NULL);
  g_assert_true (g_str_has_prefix (dropped, "0\n"));
  g_autofree char *sql = g_strdup_printf ("SELECT state = 'cancelled' FROM outbox WHERE id = %s", id);
  g_assert_cmpint (pr_test_index_int (s.daemon, sql), ==, 1);
  site_stop (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/results/status-classes-and-backoff", test_status_classes);
  g_test_add_func ("/results/objects-valid", test_objects_valid);
  g_test_add_func ("/results/rebuild-same-uids", test_rebuild_same_uids);
  g_test_add_func ("/results/delivered-to-orthanc", test_delivered_to_orthanc);
  g_test_add_func ("/results/peer-down-then-up", test_peer_down_then_up);
  g_test_add_func ("/results/kill-9-keeps-deliveries", test_kill_nine_keeps_deliveries);
  g_test_add_func ("/results/refusal-is-dead-letter", test_refusal_is_dead_letter);
  return g_test_run ();
}
