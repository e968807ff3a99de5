/* test-skin-lesion.c: the bundled skin-lesion analyzer, run as the gateway
 * runs it (`preread analyze`).
 *
 *   - on synthetic dermoscopy-like photos the project makes itself
 *     (plugin/analyzers/skin-lesion/eval/sl-make-photo.py: a lesion of known
 *     shape on skin, with vignetting, uneven light, noise and hair): the
 *     outline matches the known lesion, measurements carry units, sizes are
 *     in pixels without a scale and in mm with one, the category is an
 *     evaluation, an atypical lesion scores higher than a typical one and
 *     makes the study urgent, no finding is refused;
 *   - a CT series is declined (not colour photographs);
 *   - when ../shared/data is there, a few real dermoscopy photos with
 *     sanity checks.
 * The module comes from the build tree (plugin/analyzers/skin-lesion/.libs)
 * unless PREREAD_ANALYZER_PATH already says where it is. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "pr-test-analysis.h"
#include "pr-test-util.h"

/* ---- helpers --------------------------------------------------------------- */

#define REQUIRE_MODULE()                                                                     \
  G_STMT_START                                                                               \
  {                                                                                          \
    PR_TEST_REQUIRE ("img2dcm");                                                             \
    PR_TEST_REQUIRE_STUDY_MAKER ();                                                          \
    if (!pr_test_bundled_module_available ("skin-lesion"))                                                                \
      {                                                                                      \
        g_test_skip ("the skin-lesion module is not built (plugin/analyzers/skin-lesion)"); \
        return;                                                                              \
      }                                                                                      \
  }                                                                                          \
  G_STMT_END

/* Makes a synthetic photo; returns its known lesion size (JSON line). */
static JsonObject *
make_photo (const char *dcm, const char *mask, const char *kind, const char *seed, const char *spacing)
{
  g_autofree char *script = g_build_filename (pr_test_srcdir (), "plugin", "analyzers", "skin-lesion", "eval",
                                              "sl-make-photo.py", NULL);
  const char *argv[16] = { pr_test_python (), script, "--out", dcm, "--kind", kind, "--seed", seed };
  int n = 8;
  if (mask)
    argv[n++] = "--mask", argv[n++] = mask;
  if (spacing)
    argv[n++] = "--pixel-spacing", argv[n++] = spacing;
  argv[n] = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_runv (&out, &err, argv);
  if (status != 0)
    g_error ("sl-make-photo.py failed (%d): %s", status, err ? err : "");
  JsonParser *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  JsonObject *o = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  g_object_unref (parser);
  return o;
}

/* The skin-lesion finding (SCT 95324001), or NULL. */
static JsonObject *
lesion_finding (JsonObject *doc)
{
  JsonArray *findings = json_object_get_array_member (doc, "findings");
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    {
      JsonObject *f = json_array_get_object_element (findings, i);
      JsonObject *type = json_object_get_object_member (f, "type");
      if (g_strcmp0 (json_object_get_string_member (type, "scheme"), "SCT") == 0 &&
          g_strcmp0 (json_object_get_string_member (type, "value"), "95324001") == 0)
        return f;
    }
  return NULL;
}

/* A measurement by code value, or NULL; its unit in *@unit. */
static JsonObject *
measurement (JsonObject *finding, const char *value)
{
  JsonArray *ms = json_object_get_array_member (finding, "measurements");
  for (guint i = 0; ms && i < json_array_get_length (ms); i++)
    {
      JsonObject *m = json_array_get_object_element (ms, i);
      if (g_strcmp0 (json_object_get_string_member (json_object_get_object_member (m, "concept"), "value"), value) == 0)
        return m;
    }
  return NULL;
}

static double
measured (JsonObject *finding, const char *value)
{
  JsonObject *m = measurement (finding, value);
  g_assert_nonnull (m);
  return json_object_get_double_member (m, "value");
}

static const char *
category (JsonObject *finding)
{
  JsonArray *ev = json_object_get_array_member (finding, "evaluations");
  for (guint i = 0; ev && i < json_array_get_length (ev); i++)
    {
      JsonObject *e = json_array_get_object_element (ev, i);
      if (g_strcmp0 (json_object_get_string_member (json_object_get_object_member (e, "concept"), "value"),
                     "dermoscopy-category") == 0)
        return json_object_get_string_member (json_object_get_object_member (e, "value"), "value");
    }
  return NULL;
}

/* Every measurement has a unit; the category is one of the three. */
static void
assert_well_formed (JsonObject *f)
{
  JsonArray *ms = json_object_get_array_member (f, "measurements");
  g_assert_nonnull (ms);
  g_assert_cmpuint (json_array_get_length (ms), >=, 10);
  for (guint i = 0; i < json_array_get_length (ms); i++)
    {
      const char *unit = json_object_get_string_member (json_array_get_object_element (ms, i), "unit");
      g_assert_nonnull (unit);
      g_assert_cmpuint (strlen (unit), >, 0);
    }
  const char *cat = category (f);
  g_assert_nonnull (cat);
  g_assert_true (g_str_equal (cat, "benign-looking") || g_str_equal (cat, "suspicious") ||
                 g_str_equal (cat, "highly-suspicious"));
  double tds = measured (f, "tds");
  g_assert_cmpfloat (tds, >=, 1.0);
  g_assert_cmpfloat (tds, <=, 8.9);
  double confidence = json_object_get_double_member (f, "confidence");
  g_assert_cmpfloat (confidence, >=, 0);
  g_assert_cmpfloat (confidence, <=, 1);
  /* Priority follows the category: urgent exactly when highly suspicious. */
}

/* The polygon's pixels (centres inside, even-odd) against a PGM mask: Dice. */
static double
dice_against (JsonObject *f, const char *pgm)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (pgm, &data, &length, NULL));
  int w = 0, h = 0, max = 0, offset = 0;
  g_assert_cmpint (sscanf (data, "P5 %d %d %d%n", &w, &h, &max, &offset), ==, 3);
  const guint8 *truth = (const guint8 *) data + offset + 1;
  g_assert_cmpuint (length, >=, (gsize) offset + 1 + (gsize) w * h);

  JsonObject *location = json_object_get_object_member (f, "location");
  g_assert_cmpstr (json_object_get_string_member (location, "shape"), ==, "polygon");
  JsonArray *points = json_object_get_array_member (location, "points");
  guint n = json_array_get_length (points);
  g_assert_cmpuint (n, >=, 3);
  g_autofree double *px = g_new (double, n), *py = g_new (double, n);
  for (guint i = 0; i < n; i++)
    {
      JsonArray *p = json_array_get_array_element (points, i);
      px[i] = json_array_get_double_element (p, 0);
      py[i] = json_array_get_double_element (p, 1);
      g_assert_cmpfloat (px[i], >=, 0);
      g_assert_cmpfloat (px[i], <=, w);
      g_assert_cmpfloat (py[i], >=, 0);
      g_assert_cmpfloat (py[i], <=, h);
    }
  double both = 0, predicted = 0, actual = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double cx = x + 0.5, cy = y + 0.5;
        gboolean in = FALSE;
        for (guint i = 0, j = n - 1; i < n; j = i++)
          if ((py[i] > cy) != (py[j] > cy) && cx < (px[j] - px[i]) * (cy - py[i]) / (py[j] - py[i]) + px[i])
            in = !in;
        gboolean t = truth[(gsize) y * w + x] != 0;
        both += in && t;
        predicted += in;
        actual += t;
      }
  return 2 * both / MAX (predicted + actual, 1);
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_synthetic (void)
{
  REQUIRE_MODULE ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *dcm = g_build_filename (work, "typical.dcm", NULL);
  g_autofree char *mask = g_build_filename (work, "typical.pgm", NULL);
  g_autoptr (JsonObject) truth = make_photo (dcm, mask, "typical", "1", NULL);

  PrTestAnalysis r;
  pr_test_analyze (&r, "skin-lesion", work, "job-typical", dcm, NULL);
  g_assert_cmpint (r.status, ==, 0);
  pr_test_assert_nothing_refused (&r);
  g_assert_cmpstr (json_object_get_string_member (r.doc, "status"), ==, "done");
  JsonObject *f = lesion_finding (r.doc);
  g_assert_nonnull (f);
  assert_well_formed (f);

  /* The outline is the lesion, hair and vignetting notwithstanding. */
  double dice = dice_against (f, mask);
  g_test_message ("Dice of the outline against the known lesion: %.3f", dice);
  g_assert_cmpfloat (dice, >=, 0.85);

  /* No scale: sizes in pixels, under the "in pixels" codes, never in mm. */
  JsonObject *d = measurement (f, "diameter-px");
  g_assert_nonnull (d);
  g_assert_cmpstr (json_object_get_string_member (d, "unit"), ==, "{pixels}");
  double expected = json_object_get_double_member (truth, "diameter_px");
  g_assert_cmpfloat (fabs (json_object_get_double_member (d, "value") - expected), <, 0.1 * expected);
  g_assert_null (measurement (f, "81827009"));
  g_assert_nonnull (strstr (json_object_get_string_member (f, "text"), "scale is unknown"));

  /* A smooth, evenly brown lesion is not alarming. */
  g_assert_cmpstr (category (f), ==, "benign-looking");
  g_assert_cmpstr (json_object_get_string_member (r.doc, "priority"), ==, "routine");
  double typical_tds = measured (f, "tds");
  double typical_confidence = json_object_get_double_member (f, "confidence");
  pr_test_analysis_clear (&r);

  /* An asymmetric, many-coloured lesion with an abrupt border scores
   * higher, is highly suspicious, and makes the study urgent with a line
   * for the worklist. */
  g_autofree char *atypical = g_build_filename (work, "atypical.dcm", NULL);
  g_autoptr (JsonObject) unused = make_photo (atypical, NULL, "atypical", "2", NULL);
  pr_test_analyze (&r, "skin-lesion", work, "job-atypical", atypical, NULL);
  g_assert_cmpint (r.status, ==, 0);
  pr_test_assert_nothing_refused (&r);
  f = lesion_finding (r.doc);
  g_assert_nonnull (f);
  assert_well_formed (f);
  g_test_message ("TDS typical %.2f, atypical %.2f", typical_tds, measured (f, "tds"));
  g_assert_cmpfloat (measured (f, "tds"), >, typical_tds + 1.0);
  g_assert_cmpfloat (measured (f, "n-colours"), >=, 3);
  g_assert_cmpstr (category (f), ==, "highly-suspicious");
  g_assert_cmpstr (json_object_get_string_member (r.doc, "priority"), ==, "urgent");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (r.doc, "summary"), "highly suspicious"));
  pr_test_analysis_clear (&r);

  /* Bare skin: whatever it outlines, it is less sure than of a lesion. */
  g_autofree char *skin = g_build_filename (work, "skin.dcm", NULL);
  g_autoptr (JsonObject) unused2 = make_photo (skin, NULL, "skin", "3", NULL);
  pr_test_analyze (&r, "skin-lesion", work, "job-skin", skin, NULL);
  g_assert_cmpint (r.status, ==, 0);
  pr_test_assert_nothing_refused (&r);
  f = lesion_finding (r.doc);
  if (f != NULL)
    g_assert_cmpfloat (json_object_get_double_member (f, "confidence"), <, typical_confidence - 0.2);
  pr_test_analysis_clear (&r);
  pr_test_remove_tree (work);
}

static void
test_scale (void)
{
  REQUIRE_MODULE ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *dcm = g_build_filename (work, "spaced.dcm", NULL);
  g_autoptr (JsonObject) truth = make_photo (dcm, NULL, "typical", "4", "0.02");
  double expected_mm = json_object_get_double_member (truth, "diameter_px") * 0.02;

  /* PixelSpacing in the image: SNOMED CT Diameter in mm. */
  PrTestAnalysis r;
  pr_test_analyze (&r, "skin-lesion", work, "job-spacing", dcm, NULL);
  g_assert_cmpint (r.status, ==, 0);
  pr_test_assert_nothing_refused (&r);
  JsonObject *f = lesion_finding (r.doc);
  g_assert_nonnull (f);
  JsonObject *d = measurement (f, "81827009");
  g_assert_nonnull (d);
  g_assert_cmpstr (json_object_get_string_member (d, "unit"), ==, "mm");
  g_assert_cmpfloat (fabs (json_object_get_double_member (d, "value") - expected_mm), <, 0.1 * expected_mm);
  g_assert_cmpstr (json_object_get_string_member (measurement (f, "42798000"), "unit"), ==, "mm2");
  g_assert_null (measurement (f, "diameter-px"));
  pr_test_analysis_clear (&r);

  /* A route parameter overrides it. */
  pr_test_analyze (&r, "skin-lesion", work, "job-param", dcm, "mm-per-pixel=0.04");
  g_assert_cmpint (r.status, ==, 0);
  f = lesion_finding (r.doc);
  g_assert_nonnull (f);
  g_assert_cmpfloat (fabs (measured (f, "81827009") - 2 * expected_mm), <, 0.2 * expected_mm);
  g_assert_nonnull (strstr (json_object_get_string_member (f, "text"), "mm-per-pixel"));
  pr_test_analysis_clear (&r);
  pr_test_remove_tree (work);
}

static void
test_declines_ct (void)
{
  REQUIRE_MODULE ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = g_build_filename (work, "ct", NULL);
  g_free (pr_test_make_study (study, "--slices", "2", "--size", "32", "--seed", "skin", NULL));
  PrTestAnalysis r;
  pr_test_analyze (&r, "skin-lesion", work, "job-ct", study, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (r.doc, "status"), ==, "declined");
  g_assert_nonnull (strstr (json_object_get_string_member (r.doc, "message"), "colour"));
  pr_test_analysis_clear (&r);
  pr_test_remove_tree (work);
}

/* A few real photos: a nevus, a melanoma, a hairy one, a low-resolution one. */
static void
test_real_photos (void)
{
  REQUIRE_MODULE ();
  const char *data = pr_test_shared_data ();
  if (data == NULL)
    {
      g_test_skip ("no ../shared/data (set PREREAD_SHARED_DATA): real photos not tested");
      return;
    }
  const char *photos[] = { "derm/ham10000-dev/images/ISIC_0024306.jpg", "derm/ham10000-dev/images/ISIC_0024310.jpg",
                           "derm/ham10000-dev/images/ISIC_0024320.jpg",
                           "derm/isic-9class-lowres/test/melanoma/ISIC_0000002.jpg" };
  g_autofree char *work = pr_test_make_tmpdir ();
  for (gsize i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autofree char *jpeg = g_build_filename (data, photos[i], NULL);
      if (!g_file_test (jpeg, G_FILE_TEST_EXISTS))
        {
          g_test_skip ("the shared dermoscopy photos are missing");
          return;
        }
      g_autofree char *name = g_strdup_printf ("real-%zu", i);
      g_autofree char *dcm = g_strdup_printf ("%s/%s.dcm", work, name);
      /* As VL Photographic, the JPEG kept as it is (JPEG baseline). */
      g_assert_cmpint (pr_test_run (NULL, NULL, "img2dcm", "-q", "-i", "JPEG", "--vl-photo", jpeg, dcm, NULL), ==, 0);
      PrTestAnalysis r;
      pr_test_analyze (&r, "skin-lesion", work, name, dcm, NULL);
      g_assert_cmpint (r.status, ==, 0);
      pr_test_assert_nothing_refused (&r);
      JsonObject *f = lesion_finding (r.doc);
      g_assert_nonnull (f);
      assert_well_formed (f);
      /* A lesion, not the whole photo nor a speck. */
      double fraction = measured (f, "image-fraction");
      g_test_message ("%s: TDS %.2f, %s, lesion %.0f %% of the field of view", photos[i], measured (f, "tds"),
                      category (f), 100 * fraction);
      g_assert_cmpfloat (fraction, >, 0.01);
      g_assert_cmpfloat (fraction, <, 0.9);
      gboolean urgent = g_str_equal (json_object_get_string_member (r.doc, "priority"), "urgent");
      g_assert_cmpint (urgent, ==, g_str_equal (category (f), "highly-suspicious"));
      pr_test_analysis_clear (&r);
    }
  pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/skin-lesion/synthetic", test_synthetic);
  g_test_add_func ("/skin-lesion/scale", test_scale);
  g_test_add_func ("/skin-lesion/declines-ct", test_declines_ct);
  g_test_add_func ("/skin-lesion/real-photos", test_real_photos);
  return g_test_run ();
}
