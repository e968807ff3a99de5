/* test-analyzers.c: the analyzer SDK from a vendor's side and from the daemon's.
 *
 *   - the public header compiles as an outside vendor compiles it (C99
 *     -pedantic, C++98/C++11), through its pkg-config file, and its layout
 *     is frozen;
 *   - every host function answers as documented (tests/analyzers/contract.c);
 *   - the examples in plugin/examples/ build and run;
 *   - modules that crash, hang, hog memory, fork-bomb, have the wrong ABI,
 *     emit garbage or throw C++ exceptions fail their job with a precise
 *     reason while the daemon goes on;
 *   - an analyzer failing again and again is quarantined, and comes back
 *     when re-enabled or when its file changes;
 *   - `preread analyze` and its --list.
 * Test modules come from tests/analyzers/ (built by make check). */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <utime.h>

#include "plugin/preread-analyzer.h"
#include "pr-test-util.h"

/* ---- helpers --------------------------------------------------------------- */

static const char *
builddir (void)
{
  const char *dir = g_getenv ("PREREAD_BUILDDIR");
  g_assert_nonnull (dir);
  return dir;
}

/* Where make check put the test and example modules. */
static char *
module_path (const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s.so", name);
  char *path = g_build_filename (builddir (), "tests", "analyzers", ".libs", file, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_free (path);
      path = g_build_filename (builddir (), "plugin", "examples", ".libs", file, NULL);
    }
  return path;
}

static void
use_test_modules (void)
{
  g_autofree char *tests = g_build_filename (builddir (), "tests", "analyzers", ".libs", NULL);
  g_autofree char *examples = g_build_filename (builddir (), "plugin", "examples", ".libs", NULL);
  g_autofree char *path = g_strconcat (tests, ":", examples, NULL);
  g_setenv ("PREREAD_ANALYZER_PATH", path, TRUE);
}

typedef struct {
  int status;
  char *out;
  char *err;
  JsonParser *parser;           /* stdout as JSON, when it is */
} Analyzed;

static void
analyzed_clear (Analyzed *a)
{
  g_free (a->out);
  g_free (a->err);
  g_clear_object (&a->parser);
}

/* preread analyze ARGS... (NULL-terminated) */
static void
analyze (Analyzed *a, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) pr_test_preread ());
  g_ptr_array_add (argv, (gpointer) "analyze");
  va_list args;
  va_start (args, first);
  for (const char *s = first; s != NULL; s = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) s);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  memset (a, 0, sizeof *a);
  a->status = pr_test_runv (&a->out, &a->err, (const char *const *) argv->pdata);
  g_test_message ("preread analyze exited %d; stderr:\n%s", a->status, a->err);
  a->parser = json_parser_new ();
  if (!json_parser_load_from_data (a->parser, a->out ? a->out : "", -1, NULL) ||
      json_parser_get_root (a->parser) == NULL)
    g_clear_object (&a->parser);
}

static JsonObject *
findings_document (Analyzed *a)
{
  g_assert_nonnull (a->parser);
  JsonNode *root = json_parser_get_root (a->parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

static char *
make_study (const char *work, const char *seed, const char *slices, const char *size)
{
  char *dir = g_build_filename (work, seed, NULL);
  g_free (pr_test_make_study (dir, "--slices", slices, "--size", size, "--seed", seed, NULL));
  return dir;
}

/* ---- the header as a vendor compiles it -------------------------------------- */

/* Frozen layout of ABI 1.0 on LP64 (x86-64, arm64): structs only grow at
 * the end. A change here is an ABI break; see plugin/ABI.md. */
#if GLIB_SIZEOF_VOID_P == 8
G_STATIC_ASSERT (sizeof (PrereadVolume) == 160);
G_STATIC_ASSERT (offsetof (PrereadVolume, flags) == 20);
G_STATIC_ASSERT (offsetof (PrereadVolume, spacing) == 24);
G_STATIC_ASSERT (offsetof (PrereadVolume, voxels) == 144);
G_STATIC_ASSERT (offsetof (PrereadVolume, slice_positions) == 152);
G_STATIC_ASSERT (sizeof (PrereadCode) == 24);
G_STATIC_ASSERT (sizeof (PrereadLocation) == 72);
G_STATIC_ASSERT (offsetof (PrereadLocation, points) == 24);
G_STATIC_ASSERT (offsetof (PrereadLocation, mask_box) == 40);
G_STATIC_ASSERT (offsetof (PrereadLocation, mask) == 64);
G_STATIC_ASSERT (sizeof (PrereadMeasurement) == 40);
G_STATIC_ASSERT (sizeof (PrereadEvaluation) == 48);
G_STATIC_ASSERT (sizeof (PrereadFinding) == 184);
G_STATIC_ASSERT (offsetof (PrereadFinding, confidence) == 32);
G_STATIC_ASSERT (offsetof (PrereadFinding, location) == 80);
G_STATIC_ASSERT (offsetof (PrereadFinding, measurements) == 152);
G_STATIC_ASSERT (offsetof (PrereadFinding, n_evaluations) == 176);
G_STATIC_ASSERT (sizeof (PrereadHost) == 160);
G_STATIC_ASSERT (offsetof (PrereadHost, log) == 8);
G_STATIC_ASSERT (offsetof (PrereadHost, series_volume) == 80);
G_STATIC_ASSERT (offsetof (PrereadHost, instance_frames) == 96);
G_STATIC_ASSERT (offsetof (PrereadHost, add_finding) == 112);
G_STATIC_ASSERT (offsetof (PrereadHost, is_cancelled) == 152);
G_STATIC_ASSERT (sizeof (PrereadAnalyzerDescriptor) == 144);
G_STATIC_ASSERT (offsetof (PrereadAnalyzerDescriptor, name) == 8);
G_STATIC_ASSERT (offsetof (PrereadAnalyzerDescriptor, flags) == 48);
G_STATIC_ASSERT (offsetof (PrereadAnalyzerDescriptor, init) == 56);
G_STATIC_ASSERT (offsetof (PrereadAnalyzerDescriptor, reserved) == 80);
#endif
G_STATIC_ASSERT (sizeof (PrereadStatus) == 4);
G_STATIC_ASSERT (sizeof (PrereadShape) == 4);
G_STATIC_ASSERT (sizeof (PrereadPriority) == 4);

static void
test_abi_values (void)
{
  /* Values are part of the ABI, not only the layout. */
  g_assert_cmpint (PREREAD_ANALYZER_ABI_MAJOR, ==, 1);
  g_assert_cmpint (PREREAD_OK, ==, 0);
  g_assert_cmpint (PREREAD_DECLINED, ==, 1);
  g_assert_cmpint (PREREAD_ERROR_FAILED, ==, 100);
  g_assert_cmpint (PREREAD_ERROR_INVALID, ==, 106);
  g_assert_cmpint (PREREAD_SHAPE_MASK, ==, 8);
  g_assert_cmpint (PREREAD_PRIORITY_CRITICAL, ==, 2);
  PrereadFinding f = preread_finding_init ();
  g_assert_cmpuint (f.struct_size, ==, sizeof (PrereadFinding));
  g_assert_cmpfloat (f.confidence, ==, -1);
  g_assert_cmpint (f.location.series_index, ==, -1);
  PrereadVolume v = preread_volume_init ();
  g_assert_cmpuint (v.struct_size, ==, sizeof (PrereadVolume));
}

/* Compiles @source with @compiler and @flags (space-separated) plus the
 * pkg-config flags, into a module in @work. */
static void
compile (const char *work, const char *compiler, const char *flags, const char *cflags, const char *source,
         const char *output)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (compiler));
  g_autofree char *all = g_strconcat (flags, " ", cflags, NULL);
  g_auto (GStrv) split = g_strsplit_set (all, " \n", -1);
  for (char **s = split; *s; s++)
    if (**s)
      g_ptr_array_add (argv, g_strdup (*s));
  g_ptr_array_add (argv, g_strdup ("-shared"));
  g_ptr_array_add (argv, g_strdup ("-fPIC"));
  g_ptr_array_add (argv, g_strdup ("-o"));
  g_ptr_array_add (argv, g_build_filename (work, output, NULL));
  g_ptr_array_add (argv, g_strdup (source));
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_runv (&out, &err, (const char *const *) argv->pdata);
  if (status != 0)
    g_test_message ("%s %s %s:\n%s%s", compiler, flags, source, out, err);
  g_assert_cmpint (status, ==, 0);
}

static void
test_header_as_vendor (void)
{
  PR_TEST_REQUIRE ("pkg-config");
  PR_TEST_REQUIRE ("cc");
  PR_TEST_REQUIRE ("c++");
  g_autofree char *work = pr_test_make_tmpdir ();
  /* The uninstalled .pc file sits in the build tree's plugin/. */
  g_autofree char *pc_dir = g_build_filename (builddir (), "plugin", NULL);
  g_setenv ("PKG_CONFIG_PATH", pc_dir, TRUE);
  g_autofree char *cflags = NULL;
  g_assert_cmpint (pr_test_run (&cflags, NULL, "pkg-config", "--cflags", "preread-analyzer", NULL), ==, 0);
  g_strstrip (cflags);
  g_assert_nonnull (strstr (cflags, "-I"));

  g_autofree char *example = g_build_filename (pr_test_srcdir (), "plugin", "examples", "minimal-module.c", NULL);
  g_autofree char *cxx = g_build_filename (pr_test_srcdir (), "tests", "analyzers", "cxx.cc", NULL);
  compile (work, "cc", "-std=c99 -pedantic -Werror -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes",
           cflags, example, "example.so");
  compile (work, "c++", "-std=c++11 -pedantic -Werror -Wall -Wextra", cflags, cxx, "cxx.so");
  /* The header alone in the oldest dialects a vendor may still use. */
  g_autofree char *c98 = pr_test_write_file (work, "only-header.cc", "#include <preread-analyzer.h>\n");
  compile (work, "c++", "-std=c++98 -pedantic -Werror -Wall -Wextra", cflags, c98, "only-header-cxx.so");
  g_autofree char *c99 = pr_test_write_file (work, "only-header.c", "#include <preread-analyzer.h>\n");
  compile (work, "cc", "-std=c99 -pedantic -Werror -Wall -Wextra", cflags, c99, "only-header-c.so");

  /* What was built loads, and says who it is. */
  for (const char *const *m = (const char *const[]){ "example.so", "cxx.so", NULL }; *m; m++)
    {
      g_autofree char *path = g_build_filename (work, *m, NULL);
      g_autofree char *out = NULL;
      g_assert_cmpint (pr_test_run (&out, NULL, pr_test_preread (), "__probe-module", path, NULL), ==, 0);
      g_assert_nonnull (strstr (out, "\"abi\":\"1.0\""));
    }
  pr_test_remove_tree (work);
}

/* ---- the host functions ------------------------------------------------------ */

/* The contract module's observations: tracking_id -> text. */
static GHashTable *
observations (JsonObject *document)
{
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonArray *findings = json_object_get_array_member (document, "findings");
  for (guint i = 0; i < json_array_get_length (findings); i++)
    {
      JsonObject *f = json_array_get_object_element (findings, i);
      JsonObject *type = json_object_get_object_member (f, "type");
      if (g_strcmp0 (json_object_get_string_member (type, "scheme"), "99TEST") == 0)
        g_hash_table_insert (seen, g_strdup (json_object_get_string_member (type, "value")),
                             g_strdup (json_object_get_string_member_with_default (f, "text", "")));
    }
  return seen;
}

static JsonObject *
finding_with_shape (JsonObject *document, const char *shape)
{
  JsonArray *findings = json_object_get_array_member (document, "findings");
  for (guint i = 0; i < json_array_get_length (findings); i++)
    {
      JsonObject *f = json_array_get_object_element (findings, i);
      JsonObject *location = json_object_has_member (f, "location") ? json_object_get_object_member (f, "location")
                                                                     : NULL;
      if (location && g_strcmp0 (json_object_get_string_member (location, "shape"), shape) == 0)
        return f;
    }
  g_assert_not_reached ();
}

static void
test_contract (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  use_test_modules ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = make_study (work, "contract", "6", "32");
  g_autofree char *output = g_build_filename (work, "job", NULL);
  Analyzed a;
  analyze (&a, "--analyzer", "contract", "--param", "greeting=hello", "--param", "priority=critical", "--output",
           output, "-q", study, NULL);
  g_assert_cmpint (a.status, ==, 0);
  JsonObject *doc = findings_document (&a);
  g_assert_cmpstr (json_object_get_string_member (doc, "status"), ==, "done");
  g_assert_cmpstr (json_object_get_string_member (doc, "priority"), ==, "critical");
  /* Newlines from a module never reach a worklist line. */
  g_assert_cmpstr (json_object_get_string_member (doc, "summary"), ==, "contract: line one line two");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (doc, "analyzer"), "version"), ==,
                   "1.2.3");
  g_assert_cmpint (json_object_get_int_member (doc, "refused_findings"), ==, 7);

  g_autoptr (GHashTable) seen = observations (doc);
  const char *expected[][2] = {
    { "init-state", "1" },
    { "abi", "1.0" },
    { "host-struct-size-ok", "1" },
    { "study-patient-id", "PR-TEST-0001" },
    { "study-patient-id-by-tag", "PR-TEST-0001" },
    { "study-absent", "(null)" },
    { "study-nonsense", "(null)" },
    { "series-modality", "CT" },
    { "series-out-of-range", "(null)" },
    { "n-series", "1" },
    { "n-instances", "6" },
    { "instance-0-number", "1" },
    { "instance-out-of-range", "(null)" },
    { "instance-path-readable", "1" },
    { "parameter-greeting", "hello" },
    { "parameter-absent", "(null)" },
    { "scratch-writable", "1" },
    { "volume-short-struct", "INVALID" },
    { "volume-out-of-range", "OUT_OF_RANGE" },
    { "volume-status", "OK" },
    { "volume-size", "32x32x6" },
    { "volume-spacing", "0.70 0.70 1.25" },
    { "volume-normal", "0 0 1" },
    { "volume-samples-flags", "1 0" },
    { "volume-positions-ascending", "1" },
    /* The generator stacks slices downwards: the lowest is the last instance. */
    { "volume-origin-z", "-6.25" },
    { "slice-0-frame", "0" },
    { "slice-0-instance-number", "6" },
    { "slice-out-of-range", "(null)" },
    { "refuse-nan-confidence", "INVALID" },
    { "refuse-polygon-2-points", "INVALID" },
    { "refuse-unknown-image", "INVALID" },
    { "refuse-point-outside", "INVALID" },
    { "refuse-no-type", "INVALID" },
    { "refuse-short-struct", "INVALID" },
    { "accept-circle", "OK" },
    { "accept-point-3d", "OK" },
    { "accept-mask", "OK" },
    { "refuse-mask-outside", "INVALID" },
    { "thread-mismatches", "0" },
    { "frames-status", "OK" },
    { "frames-size", "32x32x1" },
    { "frames-out-of-range", "OUT_OF_RANGE" },
    { "frames-released", "1" },
    { "volume-after-release", "OK" },
    { "inherited-descriptors", "" },
    { "cancelled", "0" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_test_message ("observation %s", expected[i][0]);
      g_assert_cmpstr (g_hash_table_lookup (seen, expected[i][0]), ==, expected[i][1]);
    }
  /* Air in the corner: Hounsfield units (about -1000), not stored values (about 24). */
  double corner = g_ascii_strtod (g_hash_table_lookup (seen, "volume-corner-hu"), NULL);
  g_assert_cmpfloat (corner, >, -1060);
  g_assert_cmpfloat (corner, <, -940);

  JsonObject *circle = finding_with_shape (doc, "circle");
  g_assert_cmpfloat (json_object_get_double_member (circle, "confidence"), ==, 0.875);
  g_assert_cmpstr (json_object_get_string_member (circle, "text"), ==, "A nodule, line one line two");
  g_assert_cmpstr (json_object_get_string_member (circle, "tracking_id"), ==, "nodule 1");
  JsonObject *measurement = json_array_get_object_element (json_object_get_array_member (circle, "measurements"), 0);
  g_assert_cmpstr (json_object_get_string_member (measurement, "unit"), ==, "mm");
  g_assert_cmpfloat (json_object_get_double_member (measurement, "value"), ==, 8.0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (circle, "evaluations")), ==, 1);
  g_assert_nonnull (json_object_get_object_member (circle, "site"));

  JsonObject *point3d = json_object_get_object_member (finding_with_shape (doc, "point-3d"), "location");
  g_assert_true (json_object_has_member (point3d, "frame_of_reference_uid"));

  /* The mask: packed bits, least significant first; and the image of each slice. */
  JsonObject *mask = json_object_get_object_member (finding_with_shape (doc, "mask"), "location");
  JsonArray *box = json_object_get_array_member (mask, "box");
  const gint64 expected_box[] = { 2, 3, 1, 3, 2, 2 };
  for (guint i = 0; i < 6; i++)
    g_assert_cmpint (json_array_get_int_element (box, i), ==, expected_box[i]);
  g_assert_cmpstr (json_object_get_string_member (mask, "bits"), ==, "FQo=");
  g_assert_cmpint (json_object_get_int_member (mask, "voxels_inside"), ==, 5);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (mask, "slices")), ==, 2);
  g_assert_true (json_object_has_member (mask, "series_instance_uid"));

  /* The module's log went to analyzer.log; its scratch folder is gone. */
  g_autofree char *log_path = g_build_filename (output, "analyzer.log", NULL);
  g_autofree char *log = NULL;
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "analyzer info: contract: all observations made"));
  g_assert_nonnull (strstr (log, "finding refused: confidence nan is not within 0..1"));
  g_autofree char *scratch = g_build_filename (output, "scratch", NULL);
  g_assert_false (g_file_test (scratch, G_FILE_TEST_EXISTS));
  analyzed_clear (&a);
  pr_test_remove_tree (work);
}

/* ---- the examples ------------------------------------------------------------ */

static void
test_examples (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  use_test_modules ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = make_study (work, "examples", "8", "48");

  /* The C module, by its installed name. */
  Analyzed a;
  analyze (&a, "-a", "brightest-spot", "-q", study, NULL);
  g_assert_cmpint (a.status, ==, 0);
  JsonObject *doc = findings_document (&a);
  g_assert_cmpstr (json_object_get_string_member (doc, "status"), ==, "done");
  JsonArray *findings = json_object_get_array_member (doc, "findings");
  g_assert_cmpuint (json_array_get_length (findings), ==, 1);
  JsonObject *f = json_array_get_object_element (findings, 0);
  JsonObject *m = json_array_get_object_element (json_object_get_array_member (f, "measurements"), 0);
  g_assert_cmpstr (json_object_get_string_member (m, "unit"), ==, "[hnsf'U]");
  /* The phantom's spine is 700 HU plus noise. */
  g_assert_cmpfloat (json_object_get_double_member (m, "value"), >, 650);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (f, "location"), "shape"), ==,
                   "point");
  analyzed_clear (&a);

  /* The external program, with and without volumes decoded for it. */
  g_autofree char *program = g_build_filename (pr_test_srcdir (), "plugin", "examples", "minimal-program.py", NULL);
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\"><analyzers>\n"
    "<analyzer name=\"files\" program=\"%s\"/>\n"
    "<analyzer name=\"volumes\" program=\"%s\" inputs=\"volumes\"/>\n"
    "</analyzers></preread>\n",
    program, program);
  g_autofree char *config = pr_test_write_file (work, "examples.xml", xml);
  analyze (&a, "-c", config, "-a", "files", "-q", study, NULL);
  g_assert_cmpint (a.status, ==, 0);
  doc = findings_document (&a);
  f = json_array_get_object_element (json_object_get_array_member (doc, "findings"), 0);
  g_assert_cmpstr (json_object_get_string_member (f, "text"), ==, "8 instance(s)");
  g_assert_false (json_object_has_member (f, "measurements"));
  analyzed_clear (&a);

  g_autofree char *kept = g_build_filename (work, "kept", NULL);
  analyze (&a, "-c", config, "-a", "volumes", "-q", "-o", kept, study, NULL);
  g_assert_cmpint (a.status, ==, 0);
  doc = findings_document (&a);
  f = json_array_get_object_element (json_object_get_array_member (doc, "findings"), 0);
  m = json_array_get_object_element (json_object_get_array_member (f, "measurements"), 0);
  g_assert_cmpfloat (json_object_get_double_member (m, "value"), >, 650);
  /* The program saw the geometry in its job.json. */
  g_autofree char *job_path = g_build_filename (kept, "job.json", NULL);
  g_autofree char *job = NULL;
  g_assert_true (g_file_get_contents (job_path, &job, NULL, NULL));
  g_assert_nonnull (strstr (job, "\"format\" : \"float32-le\""));
  g_assert_nonnull (strstr (job, "\"slice_positions\""));
  g_autofree char *volume = g_build_filename (kept, "volumes", "series-0.f32", NULL);
  GStatBuf st;
  g_assert_cmpint (g_stat (volume, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 48 * 48 * 8 * 4);
  analyzed_clear (&a);
  pr_test_remove_tree (work);
}

/* ---- misbehaviour under the daemon ------------------------------------------ */

static char *
analyzer_xml (const char *name, const char *module, const char *attributes, const char *parameters)
{
  g_autofree char *path = module_path (module);
  return g_strdup_printf ("<analyzer name=\"%s\" module=\"%s\" %s>%s</analyzer>\n", name, path, attributes,
                          parameters ? parameters : "");
}

static char *
job_field (PrTestDaemon *d, const char *analyzer, const char *field)
{
  g_autofree char *sql = g_strdup_printf ("SELECT %s FROM jobs WHERE analyzer = '%s'", field, analyzer);
  return pr_test_index_text (d, sql);
}

static gboolean
process_with_argument_exists (const char *needle)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      if (!g_ascii_isdigit (name[0]))
        continue;
      g_autofree char *path = g_build_filename ("/proc", name, "cmdline", NULL);
      g_autofree char *cmdline = NULL;
      gsize length = 0;
      if (!g_file_get_contents (path, &cmdline, &length, NULL))
        continue;
      for (gsize i = 0; i + 1 < length; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      if (strstr (cmdline, needle) != NULL && strstr (cmdline, "__run-module") != NULL)
        return TRUE;
    }
  return FALSE;
}

static void
test_misbehaving_modules (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = make_study (work, "misbehave", "4", "32");
  const char *quick = "max-attempts=\"1\" quarantine-after=\"0\"";
  g_autofree char *crash = analyzer_xml ("crash", "crash", quick, NULL);
  g_autofree char *hang = analyzer_xml ("hang", "hang", "max-attempts=\"1\" timeout=\"20\" no-progress-timeout=\"2\"", NULL);
  g_autofree char *spin = analyzer_xml ("spin", "hang", "max-attempts=\"1\" timeout=\"3\"",
                                        "<parameter name=\"heartbeat\">yes</parameter>");
  g_autofree char *hog = analyzer_xml ("hog", "hog", "max-attempts=\"1\" memory-limit-mb=\"512\"", NULL);
  g_autofree char *huge = analyzer_xml ("huge", "hog", "max-attempts=\"1\" memory-limit-mb=\"1024\"",
                                        "<parameter name=\"mode\">huge</parameter>");
  g_autofree char *bomb = analyzer_xml ("forkbomb", "forkbomb", "max-attempts=\"1\" timeout=\"3\"", NULL);
  g_autofree char *abi = analyzer_xml ("wrong-abi", "wrong-abi", "max-attempts=\"3\" retry-delay=\"1\"", NULL);
  g_autofree char *garbage = analyzer_xml ("garbage", "garbage", quick, NULL);
  g_autofree char *cxx = analyzer_xml ("cxx", "cxx", quick, NULL);
  g_autofree char *thrower = analyzer_xml ("thrower", "cxx", quick, "<parameter name=\"throw\">yes</parameter>");
  g_autofree char *good = analyzer_xml ("contract", "contract", quick, NULL);
  const char *names[] = { "crash", "hang", "spin", "hog", "huge", "forkbomb", "wrong-abi", "garbage", "cxx",
                          "thrower", "contract" };
  GString *routes = g_string_new ("<routes><route name=\"all\">");
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    g_string_append_printf (routes, "<analyze analyzer=\"%s\"/>", names[i]);
  g_string_append (routes, "</route></routes>\n");
  g_autofree char *routes_xml = g_string_free (routes, FALSE);
  g_autofree char *xml = g_strconcat ("<?xml version=\"1.0\"?>\n<preread version=\"1\"><analyzers>\n", crash, hang,
                                      spin, hog, huge, bomb, abi, garbage, cxx, thrower, good, "</analyzers>\n",
                                      routes_xml, "</preread>\n", NULL);
  g_autofree char *config = pr_test_write_file (work, "preread.xml", xml);
  g_autofree char *arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { arg, NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);
  g_autofree char *target = pr_test_daemon_target (d);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, study, NULL), ==, 0);

  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs WHERE state NOT IN ('queued', 'running')",
                                         G_N_ELEMENTS (names), 90000));
  struct {
    const char *analyzer, *state, *reason;
  } expected[] = {
    { "crash", "failed", "killed by signal SIGSEGV" },
    { "hang", "timed-out", "stopped: no progress for 2 s" },
    { "spin", "timed-out", "timed out after 3 s" },
    { "hog", "failed", "at its memory limit" },
    { "huge", "failed", "hog: the 4 GB allocation failed" },
    { "forkbomb", "timed-out", "timed out after 3 s" },
    { "wrong-abi", "failed", "was built for analyzer ABI 99.0; this preread speaks 1.0" },
    { "garbage", "failed", "analyze() returned 12345, which is not a PrereadStatus" },
    { "cxx", "done", NULL },
    { "thrower", "failed", "killed by signal SIGABRT" },
    { "contract", "done", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *state = job_field (d, expected[i].analyzer, "state");
      g_autofree char *reason = job_field (d, expected[i].analyzer, "reason");
      g_test_message ("%s: %s: %s", expected[i].analyzer, state, reason);
      g_assert_cmpstr (state, ==, expected[i].state);
      if (expected[i].reason != NULL)
        g_assert_nonnull (strstr (reason, expected[i].reason));
    }
  /* A module that cannot load is not retried: no attempt would differ. */
  g_autofree char *attempts = job_field (d, "wrong-abi", "attempts");
  g_assert_cmpstr (attempts, ==, "1");
  g_autofree char *summary = job_field (d, "cxx", "summary");
  g_assert_true (g_str_has_prefix (summary, "mean "));
  /* The module under the daemon saw none of the daemon's descriptors
   * (listening socket, index, receivers' pipes). */
  g_autofree char *contract_id = job_field (d, "contract", "id");
  g_autofree char *findings_path =
    g_build_filename (d->storage, "jobs", contract_id, "output", "findings.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, findings_path, NULL));
  g_autoptr (GHashTable) seen = observations (json_node_get_object (json_parser_get_root (parser)));
  g_assert_cmpstr (g_hash_table_lookup (seen, "inherited-descriptors"), ==, "");
  g_assert_cmpstr (g_hash_table_lookup (seen, "parameter-greeting"), ==, "(null)");
  /* Every process the fork bomb made died with it. */
  g_assert_false (process_with_argument_exists ("forkbomb.so"));
  g_assert_false (process_with_argument_exists ("hang.so"));

  /* And the daemon carries on receiving. */
  g_assert_true (pr_test_daemon_is_alive (d));
  g_autofree char *second = make_study (work, "after", "2", "16");
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, second, NULL), ==, 0);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, 6);
  pr_test_remove_tree (work);
}

/* ---- quarantine --------------------------------------------------------------- */

static void
send_new_study (PrTestDaemon *d, const char *work, const char *seed)
{
  g_autofree char *study = make_study (work, seed, "1", "16");
  g_autofree char *target = pr_test_daemon_target (d);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, study, NULL), ==, 0);
}

static void
test_quarantine (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autofree char *work = pr_test_make_tmpdir ();
  /* A copy of the crashing module that the test can "upgrade" (touch). */
  g_autofree char *original = module_path ("crash");
  g_autofree char *module = g_build_filename (work, "crash.so", NULL);
  g_autofree char *bytes = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (original, &bytes, &length, NULL));
  g_assert_true (g_file_set_contents (module, bytes, (gssize) length, NULL));
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\"><analyzers>\n"
    "<analyzer name=\"crash\" module=\"%s\" max-attempts=\"1\" concurrency=\"1\" quarantine-after=\"2\"/>\n"
    "</analyzers><routes><route name=\"all\"><analyze analyzer=\"crash\"/></route></routes></preread>\n",
    module);
  g_autofree char *config = pr_test_write_file (work, "preread.xml", xml);
  g_autofree char *arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { arg, NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);

  /* Two crashes in a row quarantine it; the third study's job waits. */
  send_new_study (d, work, "q1");
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'failed'", 1, 20000));
  send_new_study (d, work, "q2");
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'failed'", 2, 20000));
  g_assert_true (pr_test_daemon_wait_for_log (d, "analyzer crash is quarantined after 2 failures", 5000));
  send_new_study (d, work, "q3");
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs", 3, 20000));
  g_usleep (4 * G_USEC_PER_SEC); /* two scheduler polls */
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'queued'"), ==, 1);
  g_autofree char *list = pr_test_daemon_command (d, "jobs", "list", NULL);
  g_assert_true (g_str_has_prefix (list, "0\n"));
  g_assert_nonnull (strstr (list, "analyzer crash is QUARANTINED"));
  g_assert_nonnull (strstr (list, "SIGSEGV"));

  /* --list shows it too. */
  Analyzed a;
  g_autofree char *wrong_abi = module_path ("wrong-abi");
  g_autofree char *storage_config = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\"><node storage=\"%s\"/><analyzers>\n"
    "<analyzer name=\"crash\" module=\"%s\"/>\n"
    "<analyzer name=\"wrong-abi\" module=\"%s\"/>\n</analyzers></preread>\n",
    d->storage, module, wrong_abi);
  g_autofree char *list_config = pr_test_write_file (work, "list.xml", storage_config);
  analyze (&a, "--list", "-c", list_config, NULL);
  g_assert_cmpint (a.status, ==, 1); /* a configured module does not load */
  g_assert_nonnull (strstr (a.out, "QUARANTINED"));
  g_assert_nonnull (strstr (a.out, "CANNOT LOAD"));
  g_assert_nonnull (strstr (a.out, "ABI 99.0"));
  analyzed_clear (&a);

  /* An administrator re-enables it: the waiting job runs (and crashes). */
  g_autofree char *enabled = pr_test_daemon_command (d, "jobs", "enable", "crash", NULL);
  g_assert_nonnull (strstr (enabled, "enabled again"));
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'failed'", 3, 20000));

  /* Quarantined again, then a new version of the file lifts it by itself. */
  send_new_study (d, work, "q4");
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'failed'", 4, 20000));
  send_new_study (d, work, "q5");
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs", 5, 20000));
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'queued'"), ==, 1);
  struct utimbuf later = { time (NULL) + 10, time (NULL) + 10 };
  g_assert_cmpint (utime (module, &later), ==, 0);
  g_assert_true (pr_test_wait_index_int (d, "SELECT count(*) FROM jobs WHERE state = 'failed'", 5, 20000));
  g_assert_true (pr_test_daemon_wait_for_log (d, "changed since it was quarantined", 1000));
  pr_test_remove_tree (work);
}

/* ---- preread analyze ---------------------------------------------------------- */

static void
test_analyze_command (void)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  use_test_modules ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *study = make_study (work, "command", "2", "16");
  Analyzed a;

  analyze (&a, "-a", "no-such-analyzer", study, NULL);
  g_assert_cmpint (a.status, ==, 2);
  g_assert_nonnull (strstr (a.err, "no analyzer \"no-such-analyzer\""));
  analyzed_clear (&a);

  analyze (&a, study, NULL);
  g_assert_cmpint (a.status, ==, 2);
  analyzed_clear (&a);

  analyze (&a, "-a", "contract", "--param", "novalue", study, NULL);
  g_assert_cmpint (a.status, ==, 2);
  analyzed_clear (&a);

  /* The built-in test analyzer, told to decline: exit status 3. */
  analyze (&a, "-a", "inventory", "--param", "outcome=decline", "-q", study, NULL);
  g_assert_cmpint (a.status, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (findings_document (&a), "status"), ==, "declined");
  analyzed_clear (&a);

  /* A crash: exit 1, the reason on stderr, nothing on stdout. */
  analyze (&a, "-a", "crash", "-q", study, NULL);
  g_assert_cmpint (a.status, ==, 1);
  g_assert_nonnull (strstr (a.err, "killed by signal SIGSEGV"));
  g_assert_cmpstr (a.out, ==, "");
  analyzed_clear (&a);

  /* A wrong ABI, by path. */
  g_autofree char *wrong = module_path ("wrong-abi");
  analyze (&a, "-a", wrong, "-q", study, NULL);
  g_assert_cmpint (a.status, ==, 1);
  g_assert_nonnull (strstr (a.err, "built for analyzer ABI 99.0"));
  analyzed_clear (&a);

  /* Not DICOM at all. */
  g_autofree char *junk = pr_test_write_file (work, "junk.txt", "not dicom");
  analyze (&a, "-a", "contract", junk, NULL);
  g_assert_cmpint (a.status, ==, 1);
  g_assert_nonnull (strstr (a.err, "no DICOM studies found"));
  analyzed_clear (&a);

  /* A program's findings get the same checks as a module's. This one
   * writes the document it is given, with SOP standing for its first image. */
  g_autofree char *echo = pr_test_write_file (
    work, "echo-findings.py",
    "#!/usr/bin/python3\n"
    "import json, sys\n"
    "job = json.load(open(sys.argv[2] + '/job.json'))\n"
    "sop = job['series'][0]['instances'][0]['sop_instance_uid']\n"
    "open(job['findings_file'], 'w').write(job['parameters']['document'].replace('SOP', sop))\n");
  g_assert_cmpint (g_chmod (echo, 0755), ==, 0);
  const char *head = "document={\"schema\": \"preread-findings/1\", \"status\": \"done\", \"findings\": [{"
                     "\"type\": {\"scheme\": \"SCT\", \"value\": \"27925004\", \"meaning\": \"Nodule\"}";
  struct {
    const char *location, *error;
  } documents[] = {
    { ", \"location\": {\"shape\": \"circle\", \"sop_instance_uid\": \"SOP\", \"points\": [[8, 8], [10, 8]]}",
      NULL },
    { ", \"location\": {\"shape\": \"polygon\", \"sop_instance_uid\": \"SOP\", \"points\": [[1, 1], [2, 2]]}",
      "finding 1: a polygon cannot have 2 point(s)" },
    { ", \"location\": {\"shape\": \"point\", \"sop_instance_uid\": \"1.2.3\", \"points\": [[1, 1]]}",
      "image 1.2.3 is not part of the job" },
    { ", \"location\": {\"shape\": \"point\", \"sop_instance_uid\": \"SOP\", \"points\": [[17, 1]]}",
      "lies outside the 16x16 image" },
    { ", \"location\": {\"shape\": \"mask\", \"sop_instance_uid\": \"SOP\", \"box\": [0, 0, 0, 4, 4, 1], "
      "\"bits\": \"AAAA\"}",
      "the mask's bits hold 3 bytes; its box needs 2" },
    { ", \"confidence\": 1.5", "\"confidence\" must be a number within 0..1" },
    { ", \"measurements\": [{\"concept\": {\"scheme\": \"SCT\", \"value\": \"81827009\", "
      "\"meaning\": \"Diameter\"}, \"value\": 3}]",
      "measurement 1 needs a UCUM \"unit\"" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (documents); i++)
    {
      g_autofree char *param = g_strconcat (head, documents[i].location, "}]}", NULL);
      analyze (&a, "-a", echo, "-q", "--param", param, study, NULL);
      if (documents[i].error == NULL)
        g_assert_cmpint (a.status, ==, 0);
      else
        {
          g_assert_cmpint (a.status, ==, 1);
          g_assert_nonnull (strstr (a.err, documents[i].error));
        }
      analyzed_clear (&a);
    }

  /* A program flooding stdout with one endless line: the supervisor keeps
   * at most 4 KB of a line, and the program's real progress still counts. */
  g_autofree char *flood = pr_test_write_file (
    work, "flood.py",
    "#!/usr/bin/python3\n"
    "import json, sys\n"
    "sys.stdout.write('x' * (16 << 20))\n"
    "sys.stdout.write('\\nprogress 0.5 halfway\\n')\n"
    "sys.stdout.flush()\n"
    "job = json.load(open(sys.argv[2] + '/job.json'))\n"
    "open(job['findings_file'], 'w').write('{\"schema\": \"preread-findings/1\", \"status\": \"done\"}')\n");
  g_assert_cmpint (g_chmod (flood, 0755), ==, 0);
  analyze (&a, "-a", flood, study, NULL);
  g_assert_cmpint (a.status, ==, 0);
  g_assert_nonnull (strstr (a.err, " 50% halfway"));
  analyzed_clear (&a);

  /* --list finds the modules on the search path, with version and ABI. */
  analyze (&a, "--list", NULL);
  g_assert_cmpint (a.status, ==, 0);
  g_assert_nonnull (strstr (a.out, "brightest-spot"));
  g_assert_nonnull (strstr (a.out, "contract"));
  g_assert_nonnull (strstr (a.out, "1.2.3"));
  g_assert_nonnull (strstr (a.out, "inventory"));
  analyzed_clear (&a);
  pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/analyzers/abi-values", test_abi_values);
  g_test_add_func ("/analyzers/header-as-vendor", test_header_as_vendor);
  g_test_add_func ("/analyzers/contract", test_contract);
  g_test_add_func ("/analyzers/examples", test_examples);
  g_test_add_func ("/analyzers/misbehaving-modules", test_misbehaving_modules);
  g_test_add_func ("/analyzers/quarantine", test_quarantine);
  g_test_add_func ("/analyzers/analyze-command", test_analyze_command);
  return g_test_run ();
}
