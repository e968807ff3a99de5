/* test-routes.c: `preread check-config` and `preread route` (the dry run).
 *
 * Runs the real binary on the configuration examples, on broken files
 * written here, and on studies generated at test time; when ../shared/data
 * is present, also on real data.
 */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "pr-test-util.h"

/* ---- helpers -------------------------------------------------------------- */

/* The 1-based line of @text holding @needle (which must be there). */
static int
line_of (const char *text, const char *needle)
{
  const char *at = strstr (text, needle);
  g_assert_nonnull (at);
  int line = 1;
  for (const char *p = text; p < at; p++)
    if (*p == '\n')
      line++;
  return line;
}

/* The non-empty lines of @text. */
static GStrv
lines_of (const char *text)
{
  g_auto (GStrv) all = g_strsplit (text ? text : "", "\n", -1);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (char **l = all; *l; l++)
    if (**l != '\0')
      g_strv_builder_add (b, *l);
  return g_strv_builder_end (b);
}

/* Asserts that every line of @err is "PATH:LINE: message" and that there are
 * @expected of them. */
static void
assert_error_lines (const char *err, const char *path, guint expected)
{
  g_auto (GStrv) lines = lines_of (err);
  g_autofree char *escaped = g_regex_escape_string (path, -1);
  g_autofree char *pattern = g_strdup_printf ("^%s:[0-9]+: \\S.*$", escaped);
  for (char **l = lines; *l; l++)
    if (!g_regex_match_simple (pattern, *l, 0, 0))
      g_error ("not a \"%s:LINE: message\" line: %s", path, *l);
  g_assert_cmpuint (g_strv_length (lines), ==, expected);
}

/* The line of @err (the whole line) reporting @path:@line, or NULL. */
static char *
error_line (const char *err, const char *path, int line)
{
  g_autofree char *prefix = g_strdup_printf ("%s:%d: ", path, line);
  g_auto (GStrv) lines = lines_of (err);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, prefix))
      return g_strdup (*l);
  return NULL;
}

/* What `preread route` printed for @route_name in the study @study_uid: the
 * route's line and its indented lines below, or NULL when absent. */
static char *
route_block (const char *out, const char *study_uid, const char *route_name)
{
  g_autofree char *study_line = g_strdup_printf ("study %s: ", study_uid);
  g_autofree char *route_line = g_strdup_printf ("  route %s: ", route_name);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  gboolean in_study = FALSE;
  GString *block = NULL;
  for (char **l = lines; *l; l++)
    {
      if (g_str_has_prefix (*l, "study "))
        {
          if (block != NULL)
            break;
          in_study = g_str_has_prefix (*l, study_line);
          continue;
        }
      if (!in_study)
        continue;
      if (block == NULL)
        {
          if (g_str_has_prefix (*l, route_line))
            block = g_string_new (*l);
          continue;
        }
      if (!g_str_has_prefix (*l, "    "))
        break;
      g_string_append_printf (block, "\n%s", *l);
    }
  return block ? g_string_free (block, FALSE) : NULL;
}

/* Asserts that @route matched (or not) in the study, and returns its block. */
static char *
assert_route (const char *out, const char *study_uid, const char *route, gboolean matched)
{
  char *block = route_block (out, study_uid, route);
  if (block == NULL)
    g_error ("no route %s in study %s in:\n%s", route, study_uid, out);
  g_autofree char *verdict = g_strdup_printf ("  route %s: %s", route, matched ? "matches (" : "no match");
  if (!g_str_has_prefix (block, verdict))
    g_error ("expected \"%s\", got:\n%s", verdict, block);
  return block;
}

#define assert_contains(haystack, needle)                                                           \
  G_STMT_START                                                                                      \
  {                                                                                                 \
    const char *h_ = (haystack);                                                                    \
    if (h_ == NULL || strstr (h_, (needle)) == NULL)                                                \
      g_error ("expected \"%s\" in:\n%s", (needle), h_ ? h_ : "(null)");                          \
  }                                                                                                 \
  G_STMT_END

/* What pr-make-study.py calls uid (seed, "series", index): "2.25." and the
 * first 16 bytes of SHA-256("SEED/series/INDEX") as a decimal number. */
static char *
generated_series_uid (const char *seed, guint index)
{
  g_autofree char *text = g_strdup_printf ("%s/series/%u", seed, index);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) text, -1);
  guint8 digest[32];
  gsize length = sizeof digest;
  g_checksum_get_digest (sum, digest, &length);

  guint8 n[16];
  memcpy (n, digest, 16);
  char decimal[48];
  int pos = sizeof decimal - 1;
  decimal[pos] = '\0';
  gboolean zero;
  do
    {
      /* n /= 10, big-endian, collecting the remainder. */
      guint remainder = 0;
      zero = TRUE;
      for (int i = 0; i < 16; i++)
        {
          guint value = (remainder << 8) | n[i];
          n[i] = (guint8) (value / 10);
          remainder = value % 10;
          if (n[i] != 0)
            zero = FALSE;
        }
      decimal[--pos] = (char) ('0' + remainder);
    }
  while (!zero);
  return g_strconcat ("2.25.", decimal + pos, NULL);
}

static char *
write_config (const char *dir, const char *name, const char *xml)
{
  return pr_test_write_file (dir, name, xml);
}

/* ---- check-config --------------------------------------------------------- */

static void
test_examples_are_valid (void)
{
  g_autofree char *examples = g_build_filename (pr_test_srcdir (), "conf", "examples", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (examples, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GRegex) route_re = g_regex_new ("<route\\s+name=\"([^\"]+)\"", 0, 0, NULL);
  guint files = 0;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (!g_str_has_suffix (name, ".xml"))
        continue;
      files++;
      g_autofree char *path = g_build_filename (examples, name, NULL);
      g_autofree char *xml = NULL;
      g_assert_true (g_file_get_contents (path, &xml, NULL, NULL));

      g_autofree char *out = NULL, *err = NULL;
      int status = pr_test_run (&out, &err, pr_test_preread (), "check-config", path, NULL);
      g_test_message ("%s:\n%s%s", path, out, err);
      g_assert_cmpint (status, ==, 0);
      g_autofree char *valid = g_strdup_printf ("%s: valid\n", path);
      g_assert_true (g_str_has_prefix (out, valid));

      /* Every route the file declares is in the summary. */
      g_autoptr (GMatchInfo) match = NULL;
      guint routes = 0;
      g_regex_match (route_re, xml, 0, &match);
      while (g_match_info_matches (match))
        {
          g_autofree char *route = g_match_info_fetch (match, 1);
          g_autofree char *line = g_strdup_printf ("\nroute %s: ", route);
          assert_contains (out, line);
          routes++;
          g_match_info_next (match, NULL);
        }
      g_assert_cmpuint (routes, >, 0);
    }
  g_assert_cmpuint (files, >=, 3);
}

static void
test_print_default_is_valid (void)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (pr_test_run (&out, NULL, pr_test_preread (), "check-config", "--print-default", NULL), ==, 0);
  assert_contains (out, "<preread version=\"1\">");

  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *path = write_config (work, "default.xml", out);
  g_autofree char *summary = NULL, *err = NULL;
  int status = pr_test_run (&summary, &err, pr_test_preread (), "check-config", path, NULL);
  g_test_message ("%s%s", summary, err);
  g_assert_cmpint (status, ==, 0);
  g_autofree char *valid = g_strdup_printf ("%s: valid\n", path);
  g_assert_true (g_str_has_prefix (summary, valid));
  assert_contains (summary, "\nroute inventory-everything: ");
  assert_contains (summary, "\nanalyzer inventory: built-in test");
  pr_test_remove_tree (work);
}

static const char schema_errors_xml[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<preread version=\"1\">\n"
  "  <analyzers>\n"
  "    <analyzer name=\"probe\" builtin=\"test\" colour=\"red\"/>\n"
  "  </analyzers>\n"
  "  <routes>\n"
  "    <route name=\"first\">\n"
  "      <bogus/>\n"
  "      <analyze analyzer=\"probe\"/>\n"
  "    </route>\n"
  "  </routes>\n"
  "</preread>\n";

static void
test_schema_errors_name_file_and_line (void)
{
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *path = write_config (work, "schema.xml", schema_errors_xml);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "check-config", path, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpstr (out, ==, "");
  /* Both problems, one line each: an administrator fixes the file in one go. */
  assert_error_lines (err, path, 2);
  g_autofree char *unknown_element = error_line (err, path, line_of (schema_errors_xml, "<bogus/>"));
  assert_contains (unknown_element, "bogus");
  g_autofree char *unknown_attribute = error_line (err, path, line_of (schema_errors_xml, "colour="));
  assert_contains (unknown_attribute, "colour");
  pr_test_remove_tree (work);
}

static const char semantic_errors_xml[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<preread version=\"1\">\n"
  "  <analyzers>\n"
  "    <analyzer name=\"probe\" builtin=\"test\"/>\n"
  "  </analyzers>\n"
  "  <routes>\n"
  "    <route name=\"twice\">\n"
  "      <analyze analyzer=\"probe\"/>\n"
  "    </route>\n"
  "    <route name=\"twice\"><!-- duplicate -->\n"
  "      <analyze analyzer=\"nobody\"/>\n"
  "    </route>\n"
  "  </routes>\n"
  "</preread>\n";

static void
test_semantic_errors_one_line_each (void)
{
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *path = write_config (work, "semantic.xml", semantic_errors_xml);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "check-config", path, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpstr (out, ==, "");
  assert_error_lines (err, path, 2);
  g_autofree char *no_analyzer = error_line (err, path, line_of (semantic_errors_xml, "analyzer=\"nobody\""));
  assert_contains (no_analyzer, "\"nobody\"");
  g_autofree char *duplicate = error_line (err, path, line_of (semantic_errors_xml, "<!-- duplicate -->"));
  assert_contains (duplicate, "\"twice\"");
  pr_test_remove_tree (work);
}

static const char unknown_keyword_xml[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<preread version=\"1\">\n"
  "  <analyzers>\n"
  "    <analyzer name=\"probe\" builtin=\"test\"/>\n"
  "  </analyzers>\n"
  "  <routes>\n"
  "    <route name=\"typo\">\n"
  "      <match>\n"
  "        <equals attribute=\"Modality\">CT</equals>\n"
  "        <equals attribute=\"SliceThicknes\">1</equals>\n"
  "      </match>\n"
  "      <analyze analyzer=\"probe\"/>\n"
  "    </route>\n"
  "  </routes>\n"
  "</preread>\n";

static void
test_unknown_keyword_found_by_dictionary (void)
{
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *path = write_config (work, "keyword.xml", unknown_keyword_xml);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "check-config", path, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpstr (out, ==, "");
  assert_error_lines (err, path, 1);
  g_autofree char *line = error_line (err, path, line_of (unknown_keyword_xml, "SliceThicknes\""));
  assert_contains (line, "\"SliceThicknes\"");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* `preread route` refuses it the same way, before reading any image. */
  status = pr_test_run (&out, &err, pr_test_preread (), "route", "--config", path, work, NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpstr (out, ==, "");
  assert_error_lines (err, path, 1);
  pr_test_remove_tree (work);
}

static void
test_check_config_usage_errors_exit_2 (void)
{
  g_autofree char *err = NULL;
  g_assert_cmpint (pr_test_run (NULL, &err, pr_test_preread (), "check-config", NULL), ==, 2);
  assert_contains (err, "check-config");
  g_clear_pointer (&err, g_free);

  g_autofree char *a = g_build_filename (pr_test_srcdir (), "conf", "default.xml", NULL);
  g_autofree char *b = g_build_filename (pr_test_srcdir (), "conf", "examples", "forward-everything.xml", NULL);
  g_assert_cmpint (pr_test_run (NULL, &err, pr_test_preread (), "check-config", a, b, NULL), ==, 2);
  assert_contains (err, "check-config");
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "check-config", "--no-such-option", a, NULL), ==, 2);

  /* A file that cannot be read is not a usage error. */
  g_assert_cmpint (pr_test_run (NULL, &err, pr_test_preread (), "check-config", "/no/such/preread.xml", NULL), ==, 1);
  assert_contains (err, "/no/such/preread.xml");
}

/* ---- route: the dry run --------------------------------------------------- */

#define CHEST_STUDY_UID "1.2.826.0.1.3680043.10.1234.7"

typedef struct {
  char *work;
  char *chest;       /* folder of the two-series chest study */
  char *other;       /* folder of a second, one-series study */
  char *other_uid;
  char *thick_uid;   /* 3 slices of 5 mm */
  char *thin_uid;    /* 8 slices of 1 mm */
} Studies;

static void
studies_free (Studies *s)
{
  pr_test_remove_tree (s->work);
  g_free (s->work);
  g_free (s->chest);
  g_free (s->other);
  g_free (s->other_uid);
  g_free (s->thick_uid);
  g_free (s->thin_uid);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Studies, studies_free)

/* One chest CT study in two generator runs (same Study Instance UID,
 * different seeds, so different series UIDs and thicknesses), and another
 * study next to it. */
static Studies *
make_studies (void)
{
  Studies *s = g_new0 (Studies, 1);
  s->work = pr_test_make_tmpdir ();
  s->chest = g_build_filename (s->work, "chest", NULL);
  s->other = g_build_filename (s->work, "other", NULL);
  g_autofree char *thick = g_build_filename (s->chest, "thick", NULL);
  g_autofree char *thin = g_build_filename (s->chest, "thin", NULL);
  g_autofree char *uid1 = pr_test_make_study (thick, "--study-uid", CHEST_STUDY_UID, "--seed", "routes-thick",
                                              "--thickness", "5.0", "--slices", "3", "--size", "16", NULL);
  g_autofree char *uid2 = pr_test_make_study (thin, "--study-uid", CHEST_STUDY_UID, "--seed", "routes-thin",
                                              "--thickness", "1.0", "--slices", "8", "--size", "16", NULL);
  g_assert_cmpstr (uid1, ==, CHEST_STUDY_UID);
  g_assert_cmpstr (uid2, ==, CHEST_STUDY_UID);
  s->other_uid = pr_test_make_study (s->other, "--seed", "routes-other", "--slices", "2", "--size", "16", NULL);
  g_assert_cmpstr (s->other_uid, !=, CHEST_STUDY_UID);
  s->thick_uid = generated_series_uid ("routes-thick", 0);
  s->thin_uid = generated_series_uid ("routes-thin", 0);
  return s;
}

static const char dry_run_xml[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<preread version=\"1\">\n"
  "  <analyzers>\n"
  "    <analyzer name=\"probe\" builtin=\"test\"/>\n"
  "  </analyzers>\n"
  "  <routes>\n"
  "    <route name=\"chest-thin\">\n"
  "      <match><equals attribute=\"Modality\">CT</equals></match>\n"
  "      <analyze analyzer=\"probe\" prefer=\"thinnest\">\n"
  "        <series>\n"
  "          <range attribute=\"SliceThickness\" max=\"2.5\"/>\n"
  "          <equals attribute=\"@orientation\">AXIAL</equals>\n"
  "        </series>\n"
  "      </analyze>\n"
  "    </route>\n"
  "    <route name=\"mr-only\">\n"
  "      <match><equals attribute=\"Modality\">MR</equals></match>\n"
  "      <analyze analyzer=\"probe\"/>\n"
  "    </route>\n"
  "    <route name=\"biggest\">\n"
  "      <analyze analyzer=\"probe\" prefer=\"most-instances\"/>\n"
  "    </route>\n"
  "    <route name=\"thick-first\">\n"
  "      <analyze analyzer=\"probe\" prefer=\"first\"/>\n"
  "    </route>\n"
  "    <route name=\"too-thin\">\n"
  "      <match><equals attribute=\"Modality\">CT</equals></match>\n"
  "      <analyze analyzer=\"probe\">\n"
  "        <series><range attribute=\"SliceThickness\" max=\"0.1\"/></series>\n"
  "      </analyze>\n"
  "    </route>\n"
  "  </routes>\n"
  "</preread>\n";

static void
test_dry_run_picks_series_and_explains (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autoptr (Studies) s = make_studies ();
  g_autofree char *config = write_config (s->work, "routes.xml", dry_run_xml);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "route", "--config", config, s->chest, s->other, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);

  /* Two studies; the chest one gathers both generator runs. */
  g_autofree char *chest_line = g_strdup_printf ("study %s: 2 series, 11 instances\n", CHEST_STUDY_UID);
  assert_contains (out, chest_line);
  g_autofree char *other_line = g_strdup_printf ("study %s: 1 series, 2 instances\n", s->other_uid);
  assert_contains (out, other_line);
  g_assert_null (strstr (out, "skipped"));

  /* thinnest: the 1 mm series, the only one passing the filter. */
  g_autofree char *thin = assert_route (out, CHEST_STUDY_UID, "chest-thin", TRUE);
  assert_contains (thin, "matches (2 of 2 series)");
  assert_contains (thin, "analyze with probe (thinnest):");
  assert_contains (thin, s->thin_uid);
  assert_contains (thin, "\"AXIAL 1.00mm #1\"");
  assert_contains (thin, "8 instances");
  g_assert_null (strstr (thin, s->thick_uid));
  g_assert_null (strstr (thin, "AXIAL 5.00mm"));

  /* No match: for each series, the first condition that failed and the value seen. */
  g_autofree char *mr = assert_route (out, CHEST_STUDY_UID, "mr-only", FALSE);
  g_autofree char *mr_1 = g_strdup_printf ("series 1 (%s): Modality equals \"MR\" failed: is \"CT\"", s->thick_uid);
  g_autofree char *mr_2 = g_strdup_printf ("series 2 (%s): Modality equals \"MR\" failed: is \"CT\"", s->thin_uid);
  assert_contains (mr, mr_1);
  assert_contains (mr, mr_2);
  g_assert_null (strstr (mr, "analyze with"));
  g_autofree char *mr_other = assert_route (out, s->other_uid, "mr-only", FALSE);
  assert_contains (mr_other, "Modality equals \"MR\" failed: is \"CT\"");

  /* most-instances: 8 beats 3. */
  g_autofree char *biggest = assert_route (out, CHEST_STUDY_UID, "biggest", TRUE);
  assert_contains (biggest, "analyze with probe (most-instances):");
  assert_contains (biggest, s->thin_uid);
  g_assert_null (strstr (biggest, s->thick_uid));

  /* first: the first series in arrival (here: path) order. */
  g_autofree char *first = assert_route (out, CHEST_STUDY_UID, "thick-first", TRUE);
  assert_contains (first, "analyze with probe (first):");
  assert_contains (first, s->thick_uid);
  assert_contains (first, "\"AXIAL 5.00mm #1\"");
  g_assert_null (strstr (first, s->thin_uid));

  /* A filter nothing passes: the route matches, the analyzer gets nothing, and why. */
  g_autofree char *none = assert_route (out, CHEST_STUDY_UID, "too-thin", TRUE);
  assert_contains (none, "analyze with probe (all): no series qualifies: SliceThickness in [-inf, 0.1");
  assert_contains (none, "failed: is \"5");
  g_assert_null (strstr (none, s->thin_uid));

  /* The other study: its single 1.25 mm series is the thinnest. */
  g_autofree char *other_thin = assert_route (out, s->other_uid, "chest-thin", TRUE);
  assert_contains (other_thin, "matches (1 of 1 series)");
  assert_contains (other_thin, "\"AXIAL 1.25mm #1\"");
  g_autofree char *other_none = assert_route (out, s->other_uid, "too-thin", TRUE);
  assert_contains (other_none, "no series qualifies: ");
  assert_contains (other_none, "failed: is \"1.25");
}

static void
test_dry_run_skipped_empty_and_missing (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *mixed = g_build_filename (work, "mixed", NULL);
  g_autofree char *empty = g_build_filename (work, "empty", NULL);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0700), ==, 0);
  g_autofree char *uid = pr_test_make_study (mixed, "--seed", "routes-mixed", "--slices", "2", "--size", "16", NULL);
  g_free (pr_test_write_file (mixed, "README.txt", "not DICOM\n"));
  g_free (pr_test_write_file (mixed, "notes.dcm", "not DICOM either, despite the name\n"));

  /* Non-DICOM files are counted, the study is still routed (default configuration). */
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "route", mixed, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_autofree char *study_line = g_strdup_printf ("study %s: 1 series, 2 instances\n", uid);
  assert_contains (out, study_line);
  g_free (assert_route (out, uid, "inventory-everything", TRUE));
  assert_contains (out, "\n2 file(s) skipped: ");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* An empty folder. */
  status = pr_test_run (&out, &err, pr_test_preread (), "route", empty, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (out, ==, "no DICOM studies found\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Only non-DICOM files. */
  g_autofree char *text = g_build_filename (mixed, "README.txt", NULL);
  status = pr_test_run (&out, &err, pr_test_preread (), "route", text, NULL);
  g_assert_cmpint (status, ==, 0);
  assert_contains (out, "no DICOM studies found\n");
  assert_contains (out, "1 file(s) skipped: ");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A missing path, or none, is a usage error. */
  g_autofree char *missing = g_build_filename (work, "no-such-folder", NULL);
  status = pr_test_run (&out, &err, pr_test_preread (), "route", mixed, missing, NULL);
  g_assert_cmpint (status, ==, 2);
  assert_contains (err, "no-such-folder");
  g_assert_null (strstr (out, "study "));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "route", NULL), ==, 2);
  g_autofree char *no_config = g_build_filename (work, "no-such.xml", NULL);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "route", "--config", no_config, mixed, NULL), ==, 1);
  pr_test_remove_tree (work);
}

/* ---- route: every kind of condition --------------------------------------- */

typedef struct {
  const char *name;
  const char *match;       /* the <match> content */
  gboolean matches;
  const char *shown;       /* (nullable) expected in the route's output */
} ConditionCase;

/* Facts of the generated chest study: Modality CT, BodyPartExamined CHEST,
 * StudyDescription "CT CHEST SYNTHETIC", ImageType ORIGINAL\PRIMARY\AXIAL,
 * ConvolutionKernel LUNG, PatientSex O, an empty ReferringPhysicianName,
 * no ContrastBolusAgent; series 1 has 3 instances, series 2 has 8. */
static const ConditionCase condition_cases[] = {
  { "equals-ignore-case", "<equals attribute=\"BodyPartExamined\" ignore-case=\"true\">chest</equals>", TRUE, NULL },
  { "equals-case-matters", "<equals attribute=\"BodyPartExamined\">chest</equals>", FALSE,
    "BodyPartExamined equals \"chest\" failed: is \"CHEST\"" },
  { "equals-one-value", "<equals attribute=\"ImageType\">AXIAL</equals>", TRUE, NULL },
  { "equals-by-tag", "<equals attribute=\"0008,0060\">CT</equals>", TRUE, NULL },
  { "one-of-yes", "<one-of attribute=\"Modality\"><value>MR</value><value>CT</value></one-of>", TRUE, NULL },
  { "one-of-ignore-case", "<one-of attribute=\"Modality\" ignore-case=\"true\"><value>ct</value></one-of>", TRUE,
    NULL },
  { "one-of-no", "<one-of attribute=\"Modality\"><value>MR</value><value>PT</value></one-of>", FALSE,
    "failed: is \"CT\"" },
  { "regex-anywhere", "<regex attribute=\"StudyDescription\">CHEST</regex>", TRUE, NULL },
  { "regex-anchored", "<regex attribute=\"StudyDescription\">^CHEST$</regex>", FALSE,
    "failed: is \"CT CHEST SYNTHETIC\"" },
  { "range-thickness", "<range attribute=\"SliceThickness\" min=\"0.5\" max=\"1.5\"/>", TRUE, "(1 of 2 series)" },
  { "range-instances", "<range attribute=\"@instances\" min=\"8\"/>", TRUE, "(1 of 2 series)" },
  { "range-instances-no", "<range attribute=\"@instances\" min=\"9\"/>", FALSE, "failed: is \"8\"" },
  { "series-two", "<range attribute=\"@series\" min=\"2\" max=\"2\"/>", TRUE, "(2 of 2 series)" },
  { "series-three", "<range attribute=\"@series\" min=\"3\"/>", FALSE, "failed: is \"2\"" },
  { "orientation", "<equals attribute=\"@orientation\">AXIAL</equals>", TRUE, "(2 of 2 series)" },
  { "exists-yes", "<exists attribute=\"PatientID\"/>", TRUE, NULL },
  { "exists-empty", "<exists attribute=\"ReferringPhysicianName\"/>", FALSE, "ReferringPhysicianName is absent" },
  { "missing-absent", "<missing attribute=\"ContrastBolusAgent\"/>", TRUE, NULL },
  { "missing-empty", "<missing attribute=\"ReferringPhysicianName\"/>", TRUE, NULL },
  { "missing-no", "<missing attribute=\"Modality\"/>", FALSE, NULL },
  { "all-yes", "<all><equals attribute=\"Modality\">CT</equals><exists attribute=\"PatientID\"/></all>", TRUE,
    NULL },
  { "all-no", "<all><equals attribute=\"Modality\">CT</equals><equals attribute=\"PatientSex\">M</equals></all>",
    FALSE, "PatientSex equals \"M\" failed: is \"O\"" },
  { "any-yes", "<any><equals attribute=\"Modality\">MR</equals><equals attribute=\"ConvolutionKernel\">LUNG</equals></any>",
    TRUE, NULL },
  { "any-no", "<any><equals attribute=\"Modality\">MR</equals><equals attribute=\"Modality\">PT</equals></any>",
    FALSE, "did not hold" },
  { "not-yes", "<not><equals attribute=\"Modality\">MR</equals></not>", TRUE, NULL },
  { "not-no", "<not><exists attribute=\"PatientID\"/></not>", FALSE, "did not hold" },
  { "nested", "<any><all><equals attribute=\"@series\">2</equals><range attribute=\"@instances\" max=\"3\"/></all>"
              "<equals attribute=\"Modality\">MR</equals></any>", TRUE, "(1 of 2 series)" },
};

static void
test_condition_types (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autoptr (Studies) s = make_studies ();
  GString *xml = g_string_new ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<preread version=\"1\">\n"
                               "  <analyzers><analyzer name=\"probe\" builtin=\"test\"/></analyzers>\n"
                               "  <routes>\n");
  for (guint i = 0; i < G_N_ELEMENTS (condition_cases); i++)
    g_string_append_printf (xml,
                            "    <route name=\"%s\">\n"
                            "      <match>%s</match>\n"
                            "      <analyze analyzer=\"probe\"/>\n"
                            "    </route>\n",
                            condition_cases[i].name, condition_cases[i].match);
  g_string_append (xml, "  </routes>\n</preread>\n");
  g_autofree char *text = g_string_free (xml, FALSE);
  g_autofree char *config = write_config (s->work, "conditions.xml", text);

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (pr_test_run (&out, &err, pr_test_preread (), "check-config", config, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  int status = pr_test_run (&out, &err, pr_test_preread (), "route", "--config", config, s->chest, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_autofree char *study_line = g_strdup_printf ("study %s: 2 series, 11 instances\n", CHEST_STUDY_UID);
  assert_contains (out, study_line);
  for (guint i = 0; i < G_N_ELEMENTS (condition_cases); i++)
    {
      const ConditionCase *c = &condition_cases[i];
      g_test_message ("route %s: expect %s", c->name, c->matches ? "match" : "no match");
      g_autofree char *block = assert_route (out, CHEST_STUDY_UID, c->name, c->matches);
      if (c->shown != NULL)
        assert_contains (block, c->shown);
      if (!c->matches)
        {
          /* One explanation per series. */
          assert_contains (block, "\n    series 1 (");
          assert_contains (block, "\n    series 2 (");
        }
    }
}

/* ---- route: real data ----------------------------------------------------- */

static void
test_shared_lung_ct (void)
{
  const char *shared = pr_test_shared_data ();
  if (shared == NULL)
    {
      g_test_skip ("needs ../shared/data (or PREREAD_SHARED_DATA): not found");
      return;
    }
  g_autofree char *images = g_build_filename (shared, "ct", "lung-pet-ct-dx-A0001", "images", NULL);
  if (!g_file_test (images, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("needs ct/lung-pet-ct-dx-A0001/images in the shared data: not found");
      return;
    }
  g_autofree char *config = g_build_filename (pr_test_srcdir (), "conf", "examples", "chest-ct-lung-screening.xml",
                                              NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "route", "--config", config, images, NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_auto (GStrv) lines = lines_of (out);
  guint studies = 0;
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "study "))
      {
        studies++;
        assert_contains (*l, ": 2 series, 128 instances");
      }
  g_assert_cmpuint (studies, ==, 1);
  assert_contains (out, "\n  route chest-ct-lung-screening: ");
}

static void
test_shared_interop_many_studies (void)
{
  const char *shared = pr_test_shared_data ();
  if (shared == NULL)
    {
      g_test_skip ("needs ../shared/data (or PREREAD_SHARED_DATA): not found");
      return;
    }
  g_autofree char *files = g_build_filename (shared, "interop", "pydicom-testfiles", NULL);
  if (!g_file_test (files, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("needs interop/pydicom-testfiles in the shared data: not found");
      return;
    }
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "route", files, NULL);
  g_assert_cmpint (status, ==, 0);
  g_auto (GStrv) lines = lines_of (out);
  guint studies = 0, routed = 0;
  for (char **l = lines; *l; l++)
    {
      if (g_str_has_prefix (*l, "study "))
        studies++;
      else if (g_str_has_prefix (*l, "  route inventory-everything: matches ("))
        routed++;
    }
  g_test_message ("%u studies, %u routed", studies, routed);
  g_assert_cmpuint (studies, >, 20);
  /* The default route takes every study that has a series. */
  g_assert_cmpuint (routed, ==, studies);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/routes/check-config/examples-are-valid-and-name-their-routes", test_examples_are_valid);
  g_test_add_func ("/routes/check-config/print-default-output-is-valid", test_print_default_is_valid);
  g_test_add_func ("/routes/check-config/schema-errors-name-file-and-line", test_schema_errors_name_file_and_line);
  g_test_add_func ("/routes/check-config/semantic-errors-one-line-each", test_semantic_errors_one_line_each);
  g_test_add_func ("/routes/check-config/unknown-keyword-found-by-dictionary",
                   test_unknown_keyword_found_by_dictionary);
  g_test_add_func ("/routes/check-config/usage-errors-exit-2", test_check_config_usage_errors_exit_2);
  g_test_add_func ("/routes/route/picks-series-and-explains-no-match", test_dry_run_picks_series_and_explains);
  g_test_add_func ("/routes/route/reports-skipped-files-empty-folders-and-missing-paths",
                   test_dry_run_skipped_empty_and_missing);
  g_test_add_func ("/routes/route/every-condition-type-decides-as-documented", test_condition_types);
  g_test_add_func ("/routes/route/shared-lung-ct-is-one-study-of-two-series", test_shared_lung_ct);
  g_test_add_func ("/routes/route/shared-interop-files-give-many-studies", test_shared_interop_many_studies);
  return g_test_run ();
}
