/* test-lung-nodule.c: the bundled lung-nodule analyzer, run as the gateway
 * runs it (`preread analyze`).
 *
 *   - on a synthetic chest CT the project makes itself
 *     (plugin/analyzers/lung-nodule/eval/ln-phantom.py: body, spine, two
 *     lungs, trachea, vessels, noise, and nodules of known position, size
 *     and density): a 10 mm solid nodule and a 7 mm ground-glass one are
 *     found, with their centre (patient mm) and mean diameter within
 *     tolerance, the right attenuation type, side and Lung-RADS category;
 *     the findings carry what the result objects need (outline on the key
 *     slice, 3D point, measurements with units, the category as an
 *     evaluation, a confidence); a third, of 20 mm, is Lung-RADS 4B and
 *     makes the study urgent;
 *   - a head CT is declined by its description, a CT without lungs by its
 *     content, each with the reason;
 *   - when ../shared/data is there, the real chest CT: the expert-boxed
 *     tumour is found (a reported centre inside a box on a boxed slice).
 * The module comes from the build tree (plugin/analyzers/lung-nodule/.libs)
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
    PR_TEST_REQUIRE_STUDY_MAKER ();                                                          \
    if (!pr_test_bundled_module_available ("lung-nodule"))                                                                \
      {                                                                                      \
        g_test_skip ("the lung-nodule module is not built (plugin/analyzers/lung-nodule)"); \
        return;                                                                              \
      }                                                                                      \
  }                                                                                          \
  G_STMT_END

static char *
eval_script (const char *name)
{
  return g_build_filename (pr_test_srcdir (), "plugin", "analyzers", "lung-nodule", "eval", name, NULL);
}

static JsonObject *
parse_object (const char *text)
{
  JsonParser *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  JsonObject *o = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  g_object_unref (parser);
  return o;
}

/* Makes a phantom series in @dir (ln-phantom.py with @args, NULL-ended);
 * returns its ground truth. */
static JsonObject *
make_phantom (const char *dir, ...)
{
  g_autofree char *script = eval_script ("ln-phantom.py");
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) pr_test_python ());
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, (gpointer) "--out");
  g_ptr_array_add (argv, (gpointer) dir);
  va_list ap;
  va_start (ap, dir);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_runv (&out, &err, (const char *const *) argv->pdata);
  g_ptr_array_free (argv, TRUE);
  if (status != 0)
    g_error ("ln-phantom.py failed (%d): %s", status, err ? err : "");
  return parse_object (out);
}

/* An array member, or NULL when absent. */
static JsonArray *
array_member (JsonObject *o, const char *member)
{
  return json_object_has_member (o, member) ? json_object_get_array_member (o, member) : NULL;
}

static const char *
code_value (JsonObject *o, const char *member)
{
  JsonObject *c = json_object_has_member (o, member) ? json_object_get_object_member (o, member) : NULL;
  return c ? json_object_get_string_member (c, "value") : NULL;
}

static JsonObject *
measurement (JsonObject *finding, const char *value)
{
  JsonArray *ms = array_member (finding, "measurements");
  for (guint i = 0; ms && i < json_array_get_length (ms); i++)
    {
      JsonObject *m = json_array_get_object_element (ms, i);
      if (g_strcmp0 (code_value (m, "concept"), value) == 0)
        return m;
    }
  return NULL;
}

/* The coded answer to evaluation @concept, or NULL. */
static const char *
evaluation (JsonObject *finding, const char *concept)
{
  JsonArray *ev = array_member (finding, "evaluations");
  for (guint i = 0; ev && i < json_array_get_length (ev); i++)
    {
      JsonObject *e = json_array_get_object_element (ev, i);
      if (g_strcmp0 (code_value (e, "concept"), concept) == 0)
        return code_value (e, "value");
    }
  return NULL;
}

/* The finding with @tracking_id and location @shape, or NULL. */
static JsonObject *
finding_of (JsonObject *doc, const char *tracking_id, const char *shape)
{
  JsonArray *findings = json_object_get_array_member (doc, "findings");
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    {
      JsonObject *f = json_array_get_object_element (findings, i);
      JsonObject *loc = json_object_has_member (f, "location") ? json_object_get_object_member (f, "location") : NULL;
      if (g_strcmp0 (json_object_get_string_member_with_default (f, "tracking_id", ""), tracking_id) == 0 &&
          g_strcmp0 (loc ? json_object_get_string_member (loc, "shape") : NULL, shape) == 0)
        return f;
    }
  return NULL;
}

/* The reported nodule (its key-slice finding) whose 3D centre is nearest
 * to @truth's, within @tolerance mm; NULL when none is. */
static JsonObject *
nodule_near (JsonObject *doc, JsonObject *truth, double tolerance, double *distance)
{
  JsonArray *c = json_object_get_array_member (truth, "centre_mm");
  double t[3] = { json_array_get_double_element (c, 0), json_array_get_double_element (c, 1),
                  json_array_get_double_element (c, 2) };
  JsonArray *findings = json_object_get_array_member (doc, "findings");
  JsonObject *best = NULL;
  double best_d = tolerance;
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    {
      JsonObject *f = json_array_get_object_element (findings, i);
      JsonObject *loc = json_object_has_member (f, "location") ? json_object_get_object_member (f, "location") : NULL;
      if (loc == NULL || g_strcmp0 (json_object_get_string_member (loc, "shape"), "point-3d") != 0)
        continue;
      JsonArray *p = json_array_get_array_element (json_object_get_array_member (loc, "points"), 0);
      double d = 0;
      for (int a = 0; a < 3; a++)
        d += pow (json_array_get_double_element (p, a) - t[a], 2);
      d = sqrt (d);
      if (d <= best_d)
        {
          best_d = d;
          best = finding_of (doc, json_object_get_string_member (f, "tracking_id"), "polygon");
        }
    }
  if (distance)
    *distance = best_d;
  return best;
}

/* What every nodule finding must carry for the result objects. */
static void
assert_well_formed (JsonObject *f)
{
  g_assert_nonnull (f);
  const char *type = code_value (f, "type");
  g_assert_true (g_str_equal (type, "27925004") || g_str_equal (type, "4147007"));
  double confidence = json_object_get_double_member (f, "confidence");
  g_assert_cmpfloat (confidence, >=, 0);
  g_assert_cmpfloat (confidence, <=, 1);
  JsonObject *loc = json_object_get_object_member (f, "location");
  g_assert_cmpstr (json_object_get_string_member (loc, "shape"), ==, "polygon");
  g_assert_nonnull (json_object_get_string_member (loc, "sop_instance_uid"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (loc, "points")), >=, 3);
  const char *units[][2] = { { "81827009", "mm" },  { "103339001", "mm" }, { "103340004", "mm" },
                             { "118565006", "mm3" }, { "112181", "[hnsf'U]" }, { "112183", "[hnsf'U]" } };
  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      JsonObject *m = measurement (f, units[i][0]);
      g_assert_nonnull (m);
      g_assert_cmpstr (json_object_get_string_member (m, "unit"), ==, units[i][1]);
    }
  g_assert_nonnull (evaluation (f, "lungrads-v2022"));
  g_assert_nonnull (evaluation (f, "attenuation-type"));
  g_assert_nonnull (evaluation (f, "272741003"));
  /* the same lesion as a 3D point, under the same tracking id */
  g_assert_nonnull (json_object_get_string_member (f, "tracking_id"));
}

/* The phantom's slice @k's SOP Instance UID is one of the truth's. */
static gboolean
on_truth_slices (JsonObject *truth, const char *sop)
{
  JsonArray *uids = array_member (truth, "slice_uids");
  for (guint i = 0; uids && i < json_array_get_length (uids); i++)
    if (g_strcmp0 (json_array_get_string_element (uids, i), sop) == 0)
      return TRUE;
  return FALSE;
}

/* The study's priority follows the nodules: urgent exactly when one is
 * Lung-RADS 4B or 4X, or a mass. */
static void
assert_priority_follows (JsonObject *doc)
{
  JsonArray *findings = json_object_get_array_member (doc, "findings");
  gboolean urgent = FALSE;
  for (guint i = 0; i < json_array_get_length (findings); i++)
    {
      JsonObject *f = json_array_get_object_element (findings, i);
      const char *lr = evaluation (f, "lungrads-v2022");
      if (!g_str_has_prefix (json_object_get_string_member_with_default (f, "tracking_id", ""), "nodule"))
        continue;
      urgent |= g_strcmp0 (lr, "lungrads-4B") == 0 || g_strcmp0 (lr, "lungrads-4X") == 0 ||
                g_str_equal (code_value (f, "type"), "4147007");
    }
  g_assert_cmpstr (json_object_get_string_member (doc, "priority"), ==, urgent ? "urgent" : "routine");
  JsonObject *study = finding_of (doc, "study", NULL);
  g_assert_nonnull (study);
  g_assert_nonnull (evaluation (study, "lungrads-v2022"));
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_synthetic (void)
{
  REQUIRE_MODULE ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *series = g_build_filename (work, "chest", NULL);
  /* A 10 mm solid nodule in the right lung, a 7 mm ground-glass one in the
   * left, a 20 mm solid one lower in the right (patient mm, LPS: x grows to
   * the patient's left, z up). */
  g_autoptr (JsonObject) truth = make_phantom (series, "--seed", "3", "--nodule=-75,10,-96.2,10,30",
                                               "--nodule=68,-30,-70,7,-550", "--nodule=-72,-5,-140,20,40", NULL);
  double spacing = json_object_get_double_member (truth, "slice_spacing_mm");
  JsonArray *nodules = json_object_get_array_member (truth, "nodules");

  PrTestAnalysis r;
  pr_test_analyze (&r, "lung-nodule", work, "job-chest", series, NULL);
  g_assert_cmpint (r.status, ==, 0);
  pr_test_assert_nothing_refused (&r);
  g_assert_cmpstr (json_object_get_string_member (r.doc, "status"), ==, "done");
  assert_priority_follows (r.doc);
  g_test_message ("summary: %s", json_object_get_string_member (r.doc, "summary"));

  /* The solid nodule: centre within half a slice and a millimetre, mean
   * diameter within 1.5 mm, on its own slices, Lung-RADS 4A, right. */
  JsonObject *t = json_array_get_object_element (nodules, 0);
  double d = 0;
  JsonObject *f = nodule_near (r.doc, t, 0.5 * spacing + 1.0, &d);
  g_assert_nonnull (f);
  assert_well_formed (f);
  double diameter = json_object_get_double_member (measurement (f, "81827009"), "value");
  g_test_message ("solid nodule: centre off by %.2f mm, mean diameter %.2f mm (true 10), confidence %.3f", d, diameter,
                  json_object_get_double_member (f, "confidence"));
  g_assert_cmpfloat (fabs (diameter - 10.0), <=, 1.5);
  g_assert_cmpstr (evaluation (f, "lungrads-v2022"), ==, "lungrads-4A");
  g_assert_cmpstr (evaluation (f, "attenuation-type"), ==, "solid");
  g_assert_cmpstr (evaluation (f, "272741003"), ==, "24028007"); /* right */
  g_assert_true (on_truth_slices (t, json_object_get_string_member (json_object_get_object_member (f, "location"),
                                                                     "sop_instance_uid")));
  double volume = json_object_get_double_member (measurement (f, "118565006"), "value");
  g_assert_cmpfloat (volume, >, 0.4 * M_PI / 6 * 1000);
  g_assert_cmpfloat (volume, <, 1.6 * M_PI / 6 * 1000);

  /* The ground-glass nodule: found, ground glass, Lung-RADS 2, left; its
   * faint edge on 2.5 mm slices makes its size less exact. */
  t = json_array_get_object_element (nodules, 1);
  f = nodule_near (r.doc, t, 0.5 * spacing + 1.0, &d);
  g_assert_nonnull (f);
  assert_well_formed (f);
  diameter = json_object_get_double_member (measurement (f, "81827009"), "value");
  g_test_message ("ground-glass nodule: centre off by %.2f mm, mean diameter %.2f mm (true 7)", d, diameter);
  g_assert_cmpfloat (fabs (diameter - 7.0), <=, 2.0);
  g_assert_cmpstr (evaluation (f, "attenuation-type"), ==, "112120");
  g_assert_cmpstr (evaluation (f, "lungrads-v2022"), ==, "lungrads-2");
  g_assert_cmpstr (evaluation (f, "272741003"), ==, "7771000"); /* left */

  /* The 20 mm solid nodule is Lung-RADS 4B: the study is urgent. */
  t = json_array_get_object_element (nodules, 2);
  f = nodule_near (r.doc, t, 0.5 * spacing + 1.0, &d);
  g_assert_nonnull (f);
  assert_well_formed (f);
  diameter = json_object_get_double_member (measurement (f, "81827009"), "value");
  g_test_message ("20 mm nodule: centre off by %.2f mm, mean diameter %.2f mm", d, diameter);
  g_assert_cmpfloat (fabs (diameter - 20.0), <=, 2.0);
  g_assert_cmpstr (evaluation (f, "lungrads-v2022"), ==, "lungrads-4B");
  g_assert_cmpstr (json_object_get_string_member (r.doc, "priority"), ==, "urgent");
  g_assert_nonnull (strstr (json_object_get_string_member (r.doc, "summary"), "4B"));
  pr_test_analysis_clear (&r);
  pr_test_remove_tree (work);
}

static void
test_declines (void)
{
  REQUIRE_MODULE ();
  g_autofree char *work = pr_test_make_tmpdir ();

  /* A head CT, by its description. */
  g_autofree char *head = g_build_filename (work, "head", NULL);
  g_autoptr (JsonObject) unused = make_phantom (head, "--body-part", "HEAD", "--length", "60", "--no-lungs", NULL);
  PrTestAnalysis r;
  pr_test_analyze (&r, "lung-nodule", work, "job-head", head, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (r.doc, "status"), ==, "declined");
  const char *message = json_object_get_string_member (r.doc, "message");
  g_test_message ("head CT: %s", message);
  g_assert_nonnull (strstr (message, "not a chest CT"));
  g_assert_nonnull (strstr (message, "HEAD"));
  pr_test_analysis_clear (&r);

  /* Nothing says what it is, and it has no lungs: declined by content. */
  g_autofree char *belly = g_build_filename (work, "belly", NULL);
  g_autoptr (JsonObject) unused2 = make_phantom (belly, "--body-part", "", "--description", "SYNTHETIC",
                                                  "--length", "100", "--no-lungs", NULL);
  pr_test_analyze (&r, "lung-nodule", work, "job-belly", belly, NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (r.doc, "status"), ==, "declined");
  message = json_object_get_string_member (r.doc, "message");
  g_test_message ("CT without lungs: %s", message);
  g_assert_nonnull (strstr (message, "no lungs found"));
  pr_test_analysis_clear (&r);
  pr_test_remove_tree (work);
}

/* The real chest CT (TCIA Lung-PET-CT-Dx A0001, two 5 mm series) with its
 * expert tumour boxes: the tumour is found. */
static void
test_real_ct (void)
{
  REQUIRE_MODULE ();
  const char *data = pr_test_shared_data ();
  g_autofree char *study = data ? g_build_filename (data, "ct", "lung-pet-ct-dx-A0001", "images", NULL) : NULL;
  g_autofree char *boxes = data ? g_build_filename (data, "ct", "lung-pet-ct-dx-A0001", "boxes", NULL) : NULL;
  if (study == NULL || !g_file_test (study, G_FILE_TEST_IS_DIR) || !g_file_test (boxes, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("no ../shared/data/ct/lung-pet-ct-dx-A0001 (set PREREAD_SHARED_DATA): the real CT is not tested");
      return;
    }
  g_autofree char *work = pr_test_make_tmpdir ();
  PrTestAnalysis r;
  pr_test_analyze (&r, "lung-nodule", work, "job-real", study, NULL);
  g_assert_cmpint (r.status, ==, 0);
  pr_test_assert_nothing_refused (&r);
  g_assert_cmpstr (json_object_get_string_member (r.doc, "status"), ==, "done");
  assert_priority_follows (r.doc);
  g_autofree char *findings = g_build_filename (work, "findings.json", NULL);
  g_assert_true (g_file_set_contents (findings, r.stdout_text, -1, NULL));
  g_autofree char *script = eval_script ("ln-expert-hit.py");
  g_autofree char *out = NULL, *err = NULL;
  const char *argv[] = { pr_test_python (), script, "--findings", findings, "--study", study, "--boxes", boxes, NULL };
  g_assert_cmpint (pr_test_runv (&out, &err, argv), ==, 0);
  g_test_message ("summary: %s; expert boxes: %s", json_object_get_string_member (r.doc, "summary"), out);
  g_autoptr (JsonObject) hit = parse_object (out);
  g_assert_cmpint (json_object_get_int_member (hit, "boxed_slices"), >, 0);
  g_assert_true (json_object_get_boolean_member (hit, "found"));
  pr_test_analysis_clear (&r);
  pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lung-nodule/synthetic", test_synthetic);
  g_test_add_func ("/lung-nodule/declines", test_declines);
  g_test_add_func ("/lung-nodule/real-ct", test_real_ct);
  return g_test_run ();
}
