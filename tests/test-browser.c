/* test-browser.c: the web worklist in a real browser.
 *
 * Starts `preread serve` with two users and the contract and brightest-spot
 * analyzers (and skin-lesion, for photos), then runs tests/browser/worklist.mjs
 * in node: headless Chromium driven by playwright-core logs in, watches
 * studies sent with `preread send` appear live and an urgent one rise to the
 * top, opens it, switches the overlay, gives feedback, checks the statistics,
 * the admin pages and the phone layout, and uploads a skin photo. Any console
 * error or CSP violation in the page fails it. Screenshots of each step go to
 * $PREREAD_BUILDDIR/tests/artefacts/browser/.
 *
 * Afterwards the index must hold exactly the feedback the clicks gave.
 *
 * Skips, saying why, without node, Chromium, tests/browser/node_modules
 * (`npm ci --prefix tests/browser`, which bootstrap.sh runs) or the Python
 * packages that make test studies. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "pr-test-util.h"

#define ADMIN_PASSWORD "admin-password-1"
#define RAD_PASSWORD "radiologist-pw-1"

/* Runs `preread passwd ARGS` with @password on standard input; returns the <user .../> line. */
static char *
passwd (const char *password, const char *args)
{
  g_autofree char *command =
    g_strdup_printf ("printf '%%s\\n' '%s' | '%s' passwd %s", password, pr_test_preread (), args);
  char *out = NULL;
  int status = pr_test_run (&out, NULL, "sh", "-c", command, NULL);
  g_assert_cmpint (status, ==, 0);
  return out;
}

static char *
build_path (const char *first, ...) G_GNUC_NULL_TERMINATED;

/* A path under the build folder. */
static char *
build_path (const char *first, ...)
{
  const char *build = g_getenv ("PREREAD_BUILDDIR");
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) (build ? build : "."));
  va_list args;
  va_start (args, first);
  for (const char *p = first; p != NULL; p = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (args);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

static char *
write_config (const char *work, const char *dead_port, gboolean skin)
{
  g_autofree char *admin = passwd (ADMIN_PASSWORD, "admin --role admin");
  g_autofree char *rad = passwd (RAD_PASSWORD, "rad");
  g_autofree char *contract = build_path ("tests", "analyzers", ".libs", "contract.so", NULL);
  g_autofree char *brightest = build_path ("plugin", "examples", ".libs", "brightest-spot.so", NULL);
  g_autofree char *skin_module = build_path ("plugin", "analyzers", "skin-lesion", ".libs", "skin-lesion.so", NULL);
  g_autofree char *skin_analyzer =
    skin ? g_strdup_printf ("    <analyzer name=\"skin-lesion\" module=\"%s\" timeout=\"60\"/>\n", skin_module)
         : g_strdup ("");
  /* A photo is one instance: complete as soon as it is there. */
  const char *skin_route =
    skin ? "    <route name=\"skin\" priority=\"normal\"><match><equals attribute=\"Modality\">XC</equals></match>\n"
           "      <completion quiet-period=\"1\" expected-instances=\"1\"/>\n"
           "      <analyze analyzer=\"skin-lesion\" prefer=\"all\"/></route>\n"
         : "";
  /* As tests/test-web.c: contract flags URG* patients critical; brightest-spot
   * reads every CT, its results going to a peer nobody listens on (dead letters). */
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"
    "  <node ae-title=\"PREREAD\" quiet-period=\"1\"/>\n"
    "  <peers><peer name=\"nowhere\" ae-title=\"NOBODY\" host=\"127.0.0.1\" port=\"%s\" objects=\"sr\""
    "   retry-base=\"1\" retry-max=\"1\" give-up-after=\"1\"/></peers>\n"
    "  <analyzers>\n"
    "    <analyzer name=\"contract\" module=\"%s\" timeout=\"60\">\n"
    "      <parameter name=\"priority\">critical</parameter></analyzer>\n"
    "    <analyzer name=\"brightest-spot\" module=\"%s\" timeout=\"60\"/>\n"
    "%s"
    "  </analyzers>\n"
    "  <routes>\n"
    "    <route name=\"urgent\" priority=\"high\"><match><regex attribute=\"PatientID\">^URG</regex></match>\n"
    "      <analyze analyzer=\"contract\" prefer=\"all\"/></route>\n"
    "    <route name=\"ct\" priority=\"normal\"><match><equals attribute=\"Modality\">CT</equals></match>\n"
    "      <analyze analyzer=\"brightest-spot\" prefer=\"all\"/><results-to peer=\"nowhere\"/></route>\n"
    "%s"
    "  </routes>\n"
    "  <web>\n    %s    %s  </web>\n</preread>\n",
    dead_port, contract, brightest, skin_analyzer, skin_route, admin, rad);
  return pr_test_write_file (work, "preread.xml", xml);
}

/* A JPEG skin photo: plugin/analyzers/skin-lesion/eval/sl-make-photo.py
 * makes a DICOM VL photo, DCMTK's dcmj2pnm takes its pixels out as JPEG (what
 * a phone would send). NULL when a tool is missing. */
static char *
make_photo (const char *work)
{
  if (!pr_test_have_program ("img2dcm") || !pr_test_have_program ("dcmj2pnm"))
    return NULL;
  g_autofree char *script =
    g_build_filename (pr_test_srcdir (), "plugin", "analyzers", "skin-lesion", "eval", "sl-make-photo.py", NULL);
  g_autofree char *dcm = g_build_filename (work, "photo.dcm", NULL);
  char *jpeg = g_build_filename (work, "photo.jpg", NULL);
  const char *python = g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ? "/usr/bin/python3" : "python3";
  if (pr_test_run (NULL, NULL, python, script, "--out", dcm, "--kind", "atypical", "--seed", "7", "--patient-id",
                   "SKIN-1", NULL) != 0 ||
      pr_test_run (NULL, NULL, "dcmj2pnm", "+oj", dcm, jpeg, NULL) != 0)
    {
      g_free (jpeg);
      return NULL;
    }
  return jpeg;
}

static void
test_worklist (void)
{
  const char *chromium = g_getenv ("PREREAD_CHROMIUM") ? g_getenv ("PREREAD_CHROMIUM") : "/usr/bin/chromium";
  g_autofree char *script = g_build_filename (pr_test_srcdir (), "tests", "browser", "worklist.mjs", NULL);
  g_autofree char *playwright =
    g_build_filename (pr_test_srcdir (), "tests", "browser", "node_modules", "playwright-core", "package.json", NULL);
  if (!pr_test_have_program ("node"))
    {
      g_test_skip ("needs node (Debian: nodejs)");
      return;
    }
  if (!g_file_test (chromium, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs Chromium at /usr/bin/chromium or $PREREAD_CHROMIUM (Debian: chromium)");
      return;
    }
  if (!g_file_test (playwright, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("needs playwright-core: npm ci --prefix tests/browser (bootstrap.sh does it)");
      return;
    }
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *contract = build_path ("tests", "analyzers", ".libs", "contract.so", NULL);
  g_autofree char *skin_module = build_path ("plugin", "analyzers", "skin-lesion", ".libs", "skin-lesion.so", NULL);
  g_assert_true (g_file_test (contract, G_FILE_TEST_EXISTS));
  gboolean skin = g_file_test (skin_module, G_FILE_TEST_EXISTS);

  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *routine = g_build_filename (work, "routine", NULL);
  g_autofree char *urgent = g_build_filename (work, "urgent", NULL);
  g_free (pr_test_make_study (routine, "--slices", "4", "--size", "96", "--seed", "routine", "--patient-id", "PID-R",
                              "--patient-name", "Routine^Rita", NULL));
  g_free (pr_test_make_study (urgent, "--slices", "4", "--size", "96", "--seed", "urgent", "--patient-id", "URG-1",
                              "--patient-name", "Urgent^Ulla", NULL));
  g_autofree char *photo = skin ? make_photo (work) : NULL;
  if (photo == NULL)
    g_test_message ("no skin photo for the upload page (needs the skin-lesion module, img2dcm and dcmj2pnm)");

  g_autofree char *dead_port = g_strdup_printf ("%u", pr_test_free_port ());
  g_autofree char *config = write_config (work, dead_port, skin);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { config_arg, NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);
  g_assert_nonnull (d->web_url);

  g_autofree char *target = pr_test_daemon_target (d);
  g_autofree char *artefacts = build_path ("tests", "artefacts", "browser", NULL);
  pr_test_remove_tree (artefacts); /* only this run's screenshots */
  g_assert_cmpint (g_mkdir_with_parents (artefacts, 0755), ==, 0);
  char **env = g_get_environ ();
  const char *vars[][2] = {
    { "PREREAD_WEB_URL", d->web_url }, { "PREREAD_BINARY", pr_test_preread () }, { "PREREAD_TARGET", target },
    { "PREREAD_ROUTINE", routine },    { "PREREAD_URGENT", urgent },           { "PREREAD_PHOTO", photo ? photo : "" },
    { "PREREAD_ARTEFACTS", artefacts }, { "PREREAD_RAD_PASSWORD", RAD_PASSWORD },
    { "PREREAD_ADMIN_PASSWORD", ADMIN_PASSWORD }, { "PREREAD_CHROMIUM", chromium },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (vars); i++)
    env = g_environ_setenv (env, vars[i][0], vars[i][1], TRUE);

  /* node's progress (stderr) goes straight to the log; its last stdout line is
   * the summary. `timeout`: a hung browser fails the test instead of stalling it. */
  const char *argv[] = { "timeout", "--kill-after=10", "110", "node", script, NULL };
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  int wait_status = 0;
  gint64 t0 = g_get_monotonic_time ();
  gboolean spawned = g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_SEARCH_PATH, pr_test_die_with_parent, NULL,
                                   &out, NULL, &wait_status, &error);
  g_strfreev (env);
  g_assert_no_error (error);
  g_assert_true (spawned);
  g_test_message ("worklist.mjs: %.1f s: %s", (g_get_monotonic_time () - t0) / 1e6, g_strstrip (out));
  g_test_message ("screenshots in %s", artefacts);
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  g_assert_nonnull (strstr (out, "\"ok\":true"));

  /* What the clicks left in the index: one agree, one disagree, one miss with
   * its comment, all by rad on the contract job; and the audit trail. */
  g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM feedback f JOIN jobs j ON j.id = f.job_id"
                                         " WHERE j.analyzer = 'contract' AND f.user = 'rad'"
                                         " AND f.verdict = 'agree' AND f.finding = 1"), ==, 1);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM feedback WHERE verdict = 'disagree' AND finding = 2"),
                   ==, 1);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM feedback WHERE verdict = 'missed'"
                                         " AND comment LIKE 'Nodule in the right upper lobe%'"), ==, 1);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM feedback"), ==, 3);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM audit WHERE action = 'feedback' AND user = 'rad'"),
                   ==, 3);
  if (strstr (out, "uploaded and analyzed") != NULL)
    g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM studies WHERE patient_id = 'SKIN-1'"), ==, 1);
  else
    g_test_message ("photo upload not checked end to end: see the summary above");

  pr_test_daemon_free (g_steal_pointer (&d));
  if (!g_test_failed ())
    pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/browser/worklist", test_worklist);
  return g_test_run ();
}
