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

/* storescp on a free port; with @tls (a pr_test_make_tls() folder) it
 * speaks only TLS and wants a client certificate from the same CA. */
static Storescp *
storescp_start_with (const char *tls)
{
  Storescp *s = g_new0 (Storescp, 1);
  s->dir = pr_test_make_tmpdir ();
  s->port = pr_test_free_port ();
  g_autofree char *port = g_strdup_printf ("%u", s->port);
  g_autofree char *key = tls ? g_build_filename (tls, "peer.key", NULL) : NULL;
  g_autofree char *cert = tls ? g_build_filename (tls, "peer.crt", NULL) : NULL;
  g_autofree char *ca = tls ? g_build_filename (tls, "ca.crt", NULL) : NULL;
  const char *plain[] = { "storescp", "+xa", "-od", s->dir, port, NULL };
  const char *secure[] = { "storescp", "+xa", "+tls", key, cert, "+cf", ca, "-od", s->dir, port, NULL };
  g_autoptr (GError) error = NULL;
  g_spawn_async (NULL, (char **) (tls ? secure : plain), NULL,
                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &s->pid,
                 &error);
  g_assert_no_error (error);
  for (int i = 0; i < 100; i++)
    {
      int fd = pr_test_connect (s->port);
      if (fd >= 0)
        {
          close (fd);
          break;
        }
      g_usleep (50000);
    }
  return s;
}

static Storescp *
storescp_start (void)
{
  return storescp_start_with (NULL);
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

/* DICOM over TLS: sent when the peer's certificate chains to our CA and we
 * show ours; refused, with the reason, otherwise; never sent in clear. */
static void
test_tls (void)
{
  PR_TEST_REQUIRE ("storescp");
  PR_TEST_REQUIRE ("openssl");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_free (pr_test_make_study (work, "--slices", "2", "--seed", "tls", NULL));
  g_autofree char *tls = g_build_filename (work, "tls", NULL);
  pr_test_make_tls (tls);
  g_autofree char *ca = g_build_filename (tls, "ca.crt", NULL);
  g_autofree char *cert = g_build_filename (tls, "client.crt", NULL);
  g_autofree char *key = g_build_filename (tls, "client.key", NULL);
  g_autofree char *stranger = g_build_filename (tls, "stranger.crt", NULL);
  g_autofree char *study = g_build_filename (work, "study", NULL);
  g_assert_cmpint (g_mkdir (study, 0700), ==, 0);
  g_autoptr (GPtrArray) files = pr_test_list_files (work);
  for (guint i = 0; i < files->len; i++)
    if (g_str_has_suffix (files->pdata[i], ".dcm"))
      {
        g_autofree char *base = g_path_get_basename (files->pdata[i]);
        g_autofree char *to = g_build_filename (study, base, NULL);
        g_assert_cmpint (g_rename (files->pdata[i], to), ==, 0);
      }

  Storescp *scp = storescp_start_with (tls);
  g_autofree char *target = g_strdup_printf ("ANY-SCP@127.0.0.1:%u", scp->port);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "send", "--to", target, "--tls-ca", ca, "--tls-cert", cert,
                            "--tls-key", key, study, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "2 stored"));

  struct {
    const char *ca, *what;
  } refused[] = { { stranger, "certificate verify failed" }, { NULL, "" } };
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *o = NULL, *e = NULL;
      status = refused[i].ca ? pr_test_run (&o, &e, pr_test_preread (), "send", "--to", target, "--tls-ca",
                                            refused[i].ca, "--tls-cert", cert, "--tls-key", key, study, NULL)
                             : pr_test_run (&o, &e, pr_test_preread (), "send", "--to", target, study, NULL);
      g_test_message ("%s%s", o, e);
      g_assert_cmpint (status, ==, 1);
      g_assert_nonnull (strstr (e, refused[i].what));
      g_assert_nonnull (strstr (o, "0 stored"));
    }
  g_autoptr (GPtrArray) received = pr_test_list_files (scp->dir);
  g_assert_cmpuint (received->len, ==, 2);
  storescp_free (scp);
  pr_test_remove_tree (work);
}

/* The gateway delivers over TLS too: a route forwards a study to a peer
 * configured with <tls>; a second peer that trusts no one we know gets
 * nothing, and its items say why. */
static void
test_tls_delivery (void)
{
  PR_TEST_REQUIRE ("storescp");
  PR_TEST_REQUIRE ("openssl");
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = g_build_filename (work, "study", NULL);
  g_free (pr_test_make_study (study, "--slices", "3", "--seed", "tls-delivery", NULL));
  g_autofree char *tls = g_build_filename (work, "tls", NULL);
  pr_test_make_tls (tls);
  Storescp *scp = storescp_start_with (tls);
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"
    "  <node ae-title=\"PREREAD\" quiet-period=\"1\"/>\n"
    "  <peers>\n"
    "    <peer name=\"secure\" ae-title=\"ANY-SCP\" host=\"127.0.0.1\" port=\"%u\">\n"
    "      <tls certificate=\"%s/client.crt\" key=\"%s/client.key\" ca=\"%s/ca.crt\"/></peer>\n"
    "    <peer name=\"wrong-ca\" ae-title=\"ANY-SCP\" host=\"127.0.0.1\" port=\"%u\" retry-base=\"1\""
    " retry-max=\"1\" give-up-after=\"600\">\n"
    "      <tls certificate=\"%s/client.crt\" key=\"%s/client.key\" ca=\"%s/stranger.crt\"/></peer>\n"
    "  </peers>\n"
    "  <routes><route name=\"all\"><forward-to peer=\"secure\"/><forward-to peer=\"wrong-ca\"/></route></routes>\n"
    "</preread>\n",
    scp->port, tls, tls, tls, scp->port, tls, tls, tls);
  g_autofree char *config = pr_test_write_file (work, "preread.xml", xml);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { config_arg, NULL };
  g_autoptr (PrTestDaemon) daemon = pr_test_daemon_start (NULL, args);
  g_autofree char *target = pr_test_daemon_target (daemon);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, study, NULL), ==, 0);
  g_assert_true (pr_test_wait_index_int (daemon, "SELECT count (*) FROM outbox WHERE peer = 'secure' AND state = 'sent'",
                                         3, 60000));
  g_assert_true (pr_test_wait_index_int (daemon, "SELECT count (*) FROM outbox WHERE peer = 'wrong-ca'"
                                                 " AND state = 'pending' AND last_error LIKE '%certificate verify failed%'",
                                         3, 60000));
  g_autoptr (GPtrArray) received = pr_test_list_files (scp->dir);
  g_assert_cmpuint (received->len, ==, 3);
  pr_test_daemon_stop (daemon);
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
  g_test_add_func ("/send/tls", test_tls);
  g_test_add_func ("/send/tls-delivery", test_tls_delivery);
  g_test_add_func ("/send/failures-exit-non-zero", test_failures_exit_non_zero);
  g_test_add_func ("/cli/version-help-and-usage-errors", test_command_line);
  return g_test_run ();
}
