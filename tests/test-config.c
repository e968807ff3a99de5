/* test-config.c: the configuration loader (schema, meaning, paths) and the
 * match conditions it builds. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>

#include "conf/pr-conf-error.h"
#include "conf/pr-condition.h"
#include "conf/pr-config.h"
#include "pr-test-util.h"

/* ---- helpers --------------------------------------------------------------- */

static PrConfig *
load_ok (const char *xml)
{
  g_autoptr (GError) error = NULL;
  PrConfig *config = pr_config_load_string (xml, "test.xml", &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

/* Loads @xml as "test.xml", expects @code and returns the message split into
 * its lines (one per problem). */
static char **
load_fails (const char *xml, PrConfError code)
{
  g_autoptr (GError) error = NULL;
  PrConfig *config = pr_config_load_string (xml, "test.xml", &error);
  g_assert_null (config);
  g_assert_error (error, PR_CONF_ERROR, (gint) code);
  g_test_message ("%s", error->message);
  return g_strsplit (error->message, "\n", -1);
}

/* Expects exactly one problem, on @line, whose message mentions @needle. */
static void
assert_one_error (const char *xml, PrConfError code, int line, const char *needle)
{
  g_auto (GStrv) lines = load_fails (xml, code);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_autofree char *prefix = g_strdup_printf ("test.xml:%d: ", line);
  if (!g_str_has_prefix (lines[0], prefix))
    g_error ("expected \"%s...\", got \"%s\"", prefix, lines[0]);
  if (needle != NULL && strstr (lines[0], needle) == NULL)
    g_error ("expected \"%s\" in \"%s\"", needle, lines[0]);
}

/* The same for schema errors: libxml2 may word them as it likes, and may
 * report one construct more than once; every report must name @line. */
static void
assert_schema_error (const char *xml, int line, const char *needle)
{
  g_auto (GStrv) lines = load_fails (xml, PR_CONF_ERROR_SCHEMA);
  g_assert_cmpuint (g_strv_length (lines), >=, 1);
  g_autofree char *prefix = g_strdup_printf ("test.xml:%d: ", line);
  gboolean found = FALSE;
  for (char **l = lines; *l; l++)
    {
      if (!g_str_has_prefix (*l, prefix))
        g_error ("expected \"%s...\", got \"%s\"", prefix, *l);
      found = found || needle == NULL || strstr (*l, needle) != NULL;
    }
  if (!found)
    g_error ("expected \"%s\" in the error", needle);
}

/* A configuration with one peer ("pacs") and one analyzer ("a") whose
 * <routes> element is on line 8; the routes themselves start on line 9. */
#define PREFIX                                                          \
  "<preread version=\"1\">\n"                                   /* 1 */ \
  "  <peers>\n"                                                 /* 2 */ \
  "    <peer name=\"pacs\" ae-title=\"PACS\" host=\"h\" port=\"104\"/>\n" /* 3 */ \
  "  </peers>\n"                                                /* 4 */ \
  "  <analyzers>\n"                                             /* 5 */ \
  "    <analyzer name=\"a\" builtin=\"test\"/>\n"               /* 6 */ \
  "  </analyzers>\n"                                            /* 7 */ \
  "  <routes>\n"                                                /* 8 */
#define SUFFIX \
  "  </routes>\n" \
  "</preread>\n"

static char *
example_path (const char *name)
{
  return g_build_filename (pr_test_srcdir (), "conf", "examples", name, NULL);
}

static PrConfig *
load_example (const char *name)
{
  g_autofree char *path = example_path (name);
  g_autoptr (GError) error = NULL;
  PrConfig *config = pr_config_load_file (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

/* ---- the embedded default ----------------------------------------------- */

static void
test_default_loads (void)
{
  const char *xml = pr_config_default_xml ();
  g_assert_nonnull (xml);
  g_assert_nonnull (strstr (xml, "<preread version=\"1\""));
  g_assert_nonnull (strstr (pr_config_schema_xsd (), "xs:schema"));

  g_autoptr (PrConfig) config = pr_config_load_default ();
  g_assert_cmpstr (config->source, ==, "(embedded default)");
  g_assert_cmpstr (config->node->ae_title, ==, "PREREAD");
  g_assert_cmpstr (config->node->bind_address, ==, "127.0.0.1");
  g_assert_cmpuint (config->node->port, ==, 11112);
  g_assert_cmpuint (config->node->quiet_period_s, ==, 30);
  g_assert_cmpuint (config->node->max_associations, ==, 32);
  g_assert_true (config->node->check_called_ae);
  g_assert_null (config->node->allowed_calling_aes);
  g_assert_cmpuint (config->routes->len, >=, 1);

  /* every route of the default refers to an analyzer it defines */
  for (guint i = 0; i < config->routes->len; i++)
    {
      const PrRoute *route = config->routes->pdata[i];
      for (guint j = 0; j < route->analyses->len; j++)
        {
          const PrRouteAnalysis *analysis = route->analyses->pdata[j];
          g_assert_nonnull (pr_config_find_analyzer (config, analysis->analyzer));
        }
    }
  const PrAnalyzerConfig *inventory = pr_config_find_analyzer (config, "inventory");
  g_assert_nonnull (inventory);
  g_assert_cmpint (inventory->kind, ==, PR_ANALYZER_BUILTIN);
  g_assert_cmpstr (inventory->location, ==, "test");
  g_assert_cmpstr (g_hash_table_lookup (inventory->parameters, "outcome"), ==, "done");
}

static void
test_default_text_loads_as_a_string (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_string (pr_config_default_xml (), "default.xml", &error);
  g_assert_no_error (error);
  g_autoptr (PrConfig) embedded = pr_config_load_default ();
  g_assert_cmpuint (config->routes->len, ==, embedded->routes->len);
  g_assert_cmpuint (config->analyzers->len, ==, embedded->analyzers->len);
  g_assert_cmpstr (config->node->ae_title, ==, embedded->node->ae_title);
}

/* ---- the examples ------------------------------------------------------- */

static void
test_examples_load (void)
{
  g_autofree char *dir_path = g_build_filename (pr_test_srcdir (), "conf", "examples", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  guint loaded = 0;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (!g_str_has_suffix (name, ".xml"))
        continue;
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autoptr (GError) load_error = NULL;
      g_autoptr (PrConfig) config = pr_config_load_file (path, &load_error);
      g_assert_no_error (load_error);
      g_assert_nonnull (config);
      g_assert_cmpstr (config->source, ==, path);
      g_assert_cmpuint (config->routes->len, >=, 1);
      g_test_message ("%s: %u peers, %u analyzers, %u routes", name, config->peers->len, config->analyzers->len,
                      config->routes->len);
      loaded++;
    }
  g_assert_cmpuint (loaded, >=, 3);
}

static void
test_example_chest_ct_values (void)
{
  g_autoptr (PrConfig) config = load_example ("chest-ct-lung-screening.xml");

  /* node */
  g_assert_cmpstr (config->node->bind_address, ==, "0.0.0.0");
  g_assert_cmpstr (config->node->storage_dir, ==, "/var/lib/preread");
  g_assert_cmpuint (config->node->free_space_reserve_mb, ==, 10240);
  g_assert_nonnull (config->node->allowed_calling_aes);
  g_assert_cmpuint (g_strv_length (config->node->allowed_calling_aes), ==, 2);
  g_assert_cmpstr (config->node->allowed_calling_aes[0], ==, "CT_ROOM1");
  g_assert_cmpstr (config->node->allowed_calling_aes[1], ==, "CT_ROOM2");

  /* peer */
  const PrPeer *pacs = pr_config_find_peer (config, "pacs");
  g_assert_nonnull (pacs);
  g_assert_cmpstr (pacs->ae_title, ==, "PACS");
  g_assert_cmpstr (pacs->host, ==, "pacs.hospital.example");
  g_assert_cmpuint (pacs->port, ==, 104);
  g_assert_false (pacs->tls);
  const char *objects[] = { "sr", "sc", "gsps", NULL };
  g_assert_cmpstrv (pacs->result_objects, objects);

  /* analyzer */
  const PrAnalyzerConfig *lung = pr_config_find_analyzer (config, "lung-nodule");
  g_assert_nonnull (lung);
  g_assert_cmpint (lung->kind, ==, PR_ANALYZER_MODULE);
  g_assert_cmpstr (lung->location, ==, "lung-nodule"); /* a bare module name stays a name */
  g_assert_cmpuint (lung->timeout_s, ==, 600);
  g_assert_cmpuint (lung->no_progress_timeout_s, ==, 120);
  g_assert_cmpuint (lung->memory_limit_mb, ==, 3072);
  g_assert_cmpuint (lung->concurrency, ==, 1);
  g_assert_cmpuint (lung->max_attempts, ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (lung->parameters, "min-diameter-mm"), ==, "4");

  /* route */
  const PrRoute *route = pr_config_find_route (config, "chest-ct-lung-screening");
  g_assert_nonnull (route);
  g_assert_cmpint (route->priority, ==, PR_PRIORITY_HIGH);
  g_assert_cmpint (route->on_update, ==, PR_ON_UPDATE_RERUN);
  g_assert_cmpuint (route->quiet_period_s, ==, 45);
  g_assert_nonnull (route->match);
  g_assert_cmpint (route->match->kind, ==, PR_CONDITION_ALL);
  g_assert_cmpuint (route->match->children->len, ==, 3);

  g_assert_cmpuint (route->analyses->len, ==, 1);
  const PrRouteAnalysis *analysis = route->analyses->pdata[0];
  g_assert_cmpstr (analysis->analyzer, ==, "lung-nodule");
  g_assert_cmpint (analysis->prefer, ==, PR_PREFER_THINNEST);
  g_assert_nonnull (analysis->series_filter);
  g_assert_cmpint (analysis->series_filter->kind, ==, PR_CONDITION_ALL);
  g_assert_cmpuint (analysis->series_filter->children->len, ==, 4);

  g_assert_cmpuint (route->results_to->len, ==, 1);
  const PrRouteDestination *to = route->results_to->pdata[0];
  g_assert_cmpstr (to->peer, ==, "pacs");
  g_assert_false (to->to_sender);
  g_assert_cmpuint (route->forward_to->len, ==, 0);
}

static void
test_example_dermatology_values (void)
{
  g_autoptr (PrConfig) config = load_example ("dermatology-photo.xml");
  g_assert_cmpuint (config->node->quiet_period_s, ==, 10);
  /* not given: the node's defaults */
  g_assert_cmpstr (config->node->bind_address, ==, "127.0.0.1");
  g_assert_cmpuint (config->node->port, ==, 11112);

  const PrAnalyzerConfig *skin = pr_config_find_analyzer (config, "skin-lesion");
  g_assert_nonnull (skin);
  g_assert_cmpuint (skin->concurrency, ==, 2);
  /* not given: the analyzer defaults */
  g_assert_cmpuint (skin->memory_limit_mb, ==, 4096);
  g_assert_cmpuint (skin->max_attempts, ==, 3);
  g_assert_cmpuint (skin->no_progress_timeout_s, ==, 0);

  const PrRoute *route = pr_config_find_route (config, "dermatology-photo");
  g_assert_nonnull (route);
  g_assert_cmpint (route->priority, ==, PR_PRIORITY_NORMAL);
  g_assert_cmpuint (route->quiet_period_s, ==, 5);
  g_assert_cmpuint (route->expected_instances, ==, 1);
  g_assert_cmpuint (route->expected_series, ==, 0);
  g_assert_cmpint (route->match->kind, ==, PR_CONDITION_ANY);
  g_assert_cmpint (((PrRouteAnalysis *) route->analyses->pdata[0])->prefer, ==, PR_PREFER_ALL);
  g_assert_null (((PrRouteAnalysis *) route->analyses->pdata[0])->series_filter);

  g_assert_cmpuint (route->results_to->len, ==, 2);
  const PrRouteDestination *sender = route->results_to->pdata[0];
  g_assert_true (sender->to_sender);
  g_assert_null (sender->peer);
  const char *objects[] = { "sr", "sc", NULL };
  g_assert_cmpstrv (sender->result_objects, objects);
  const PrRouteDestination *archive = route->results_to->pdata[1];
  g_assert_false (archive->to_sender);
  g_assert_cmpstr (archive->peer, ==, "derm-archive");
  g_assert_null (archive->result_objects);
}

static void
test_example_forward_values (void)
{
  g_autoptr (PrConfig) config = load_example ("forward-everything.xml");
  g_assert_cmpstr (config->node->ae_title, ==, "ROUTER");
  g_assert_cmpuint (config->analyzers->len, ==, 0);

  const PrPeer *research = pr_config_find_peer (config, "research");
  g_assert_nonnull (research);
  g_assert_true (research->tls);
  g_assert_cmpstr (research->tls_certificate, ==, "/etc/preread/tls/router.pem");
  g_assert_cmpstr (research->tls_key, ==, "/etc/preread/tls/router.key");
  g_assert_cmpstr (research->tls_ca, ==, "/etc/preread/tls/research-ca.pem");
  g_assert_false (pr_config_find_peer (config, "archive")->tls);

  const PrRoute *everything = pr_config_find_route (config, "archive-everything");
  g_assert_nonnull (everything);
  g_assert_null (everything->match);
  g_assert_cmpuint (everything->analyses->len, ==, 0);
  g_assert_cmpuint (everything->forward_to->len, ==, 1);

  const PrRoute *mr = pr_config_find_route (config, "mr-to-research");
  g_assert_nonnull (mr);
  g_assert_cmpint (mr->priority, ==, PR_PRIORITY_LOW);
  g_assert_cmpint (mr->on_update, ==, PR_ON_UPDATE_IGNORE);
  g_assert_cmpint (mr->match->kind, ==, PR_CONDITION_EQUALS);
  g_assert_cmpstr (mr->match->attribute, ==, "Modality");
  g_assert_cmpstr (mr->match->values[0], ==, "MR");
  g_assert_cmpstr (((PrRouteDestination *) mr->forward_to->pdata[0])->peer, ==, "research");
}

/* ---- schema errors -------------------------------------------------------- */

static void
test_schema_unknown_element (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <node ae-title=\"PREREAD\"/>\n"
                    "  <routes>\n"
                    "    <frobnicate/>\n" /* 4 */
                    "  </routes>\n"
                    "</preread>\n";
  assert_schema_error (xml, 4, "frobnicate");
}

static void
test_schema_unknown_attribute (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "\n"
                    "  <node ae-title=\"PREREAD\" colour=\"red\"/>\n" /* 3 */
                    "</preread>\n";
  assert_schema_error (xml, 3, "colour");
}

static void
test_schema_wrong_value_type (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <node ae-title=\"PREREAD\"\n"
                    "        port=\"abc\"/>\n" /* 3: libxml2 dates an element by the end of its start tag */
                    "</preread>\n";
  g_auto (GStrv) lines = load_fails (xml, PR_CONF_ERROR_SCHEMA);
  g_assert_true (g_str_has_prefix (lines[0], "test.xml:2: ") || g_str_has_prefix (lines[0], "test.xml:3: "));
  g_assert_nonnull (strstr (lines[0], "port"));

  /* and on one line, the line is certain */
  const char *one_line = "<preread version=\"1\">\n"
                         "  <peers>\n"
                         "    <peer name=\"pacs\" ae-title=\"PACS\" host=\"h\" port=\"abc\"/>\n" /* 3 */
                         "  </peers>\n"
                         "</preread>\n";
  assert_schema_error (one_line, 3, "abc");

  const char *too_big = "<preread version=\"1\">\n"
                        "  <node port=\"70000\"/>\n" /* 2 */
                        "</preread>\n";
  assert_schema_error (too_big, 2, "70000");
}

static void
test_schema_missing_required_attribute (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <peers>\n"
                    "    <peer name=\"pacs\" ae-title=\"PACS\" port=\"104\"/>\n" /* 3: no host */
                    "  </peers>\n"
                    "</preread>\n";
  assert_schema_error (xml, 3, "host");
}

static void
test_schema_wrong_version (void)
{
  const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<preread version=\"2\">\n" /* 2 */
                    "</preread>\n";
  assert_schema_error (xml, 2, "version");

  const char *none = "<?xml version=\"1.0\"?>\n"
                     "<!-- a comment -->\n"
                     "<preread>\n" /* 3 */
                     "</preread>\n";
  assert_schema_error (none, 3, "version");
}

static void
test_schema_wrong_root (void)
{
  const char *xml = "<config version=\"1\">\n"
                    "</config>\n";
  assert_schema_error (xml, 1, "config");
}

static void
test_schema_not_well_formed (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <node ae-title=\"PREREAD\">\n"
                    "</preread>\n";
  g_auto (GStrv) lines = load_fails (xml, PR_CONF_ERROR_SCHEMA);
  g_assert_true (g_str_has_prefix (lines[0], "test.xml:"));

  g_auto (GStrv) empty = load_fails ("", PR_CONF_ERROR_SCHEMA);
  g_assert_true (g_str_has_prefix (empty[0], "test.xml:"));
}

static void
test_schema_reports_every_problem (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <node ae-title=\"PREREAD\" colour=\"red\"/>\n" /* 2 */
                    "  <peers>\n"
                    "    <peer name=\"pacs\" ae-title=\"PACS\" host=\"h\" port=\"abc\"/>\n" /* 4 */
                    "  </peers>\n"
                    "</preread>\n";
  g_auto (GStrv) lines = load_fails (xml, PR_CONF_ERROR_SCHEMA);
  gboolean line2 = FALSE, line4 = FALSE;
  for (char **l = lines; *l; l++)
    {
      line2 = line2 || g_str_has_prefix (*l, "test.xml:2: ");
      line4 = line4 || g_str_has_prefix (*l, "test.xml:4: ");
    }
  g_assert_true (line2);
  g_assert_true (line4);
}

/* ---- semantic errors ---------------------------------------------------- */

static void
test_invalid_unknown_analyzer (void)
{
  const char *xml = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"nonesuch\"/>\n" /* 10 */
    "    </route>\n"
    SUFFIX;
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 10, "no analyzer named \"nonesuch\"");
}

static void
test_invalid_unknown_peer (void)
{
  const char *xml = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"a\"/>\n"
    "      <results-to peer=\"nope\"/>\n" /* 11 */
    "    </route>\n"
    SUFFIX;
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 11, "no peer named \"nope\"");

  const char *forward = PREFIX
    "    <route name=\"r\">\n"
    "      <forward-to peer=\"nope\"/>\n" /* 10 */
    "    </route>\n"
    SUFFIX;
  assert_one_error (forward, PR_CONF_ERROR_INVALID, 10, "no peer named \"nope\"");
}

static void
test_invalid_duplicate_route (void)
{
  const char *xml = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    "    <route name=\"r\">\n" /* 12 */
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 12, "route named \"r\"");
}

static void
test_invalid_duplicate_analyzer (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <analyzers>\n"
                    "    <analyzer name=\"a\" builtin=\"test\"/>\n"
                    "    <analyzer name=\"a\" builtin=\"test\"/>\n" /* 4 */
                    "  </analyzers>\n"
                    "</preread>\n";
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 4, "analyzer named \"a\"");
}

static void
test_invalid_duplicate_peer (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <peers>\n"
                    "    <peer name=\"pacs\" ae-title=\"PACS\" host=\"h\" port=\"104\"/>\n"
                    "    <peer name=\"pacs\" ae-title=\"PACS2\" host=\"h\" port=\"105\"/>\n" /* 4 */
                    "  </peers>\n"
                    "</preread>\n";
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 4, "peer named \"pacs\"");
}

static void
test_invalid_analyzer_kind (void)
{
  const char *both = "<preread version=\"1\">\n"
                     "  <analyzers>\n"
                     "    <analyzer name=\"x\" module=\"m\" program=\"/bin/p\"/>\n" /* 3 */
                     "  </analyzers>\n"
                     "</preread>\n";
  assert_one_error (both, PR_CONF_ERROR_INVALID, 3, "exactly one of");

  const char *neither = "<preread version=\"1\">\n"
                        "  <analyzers>\n"
                        "\n"
                        "    <analyzer name=\"x\" timeout=\"5\"/>\n" /* 4 */
                        "  </analyzers>\n"
                        "</preread>\n";
  assert_one_error (neither, PR_CONF_ERROR_INVALID, 4, "exactly one of");
}

static void
test_invalid_unknown_builtin (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <analyzers>\n"
                    "    <analyzer name=\"x\" builtin=\"magic\"/>\n" /* 3 */
                    "  </analyzers>\n"
                    "</preread>\n";
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 3, "no built-in analyzer \"magic\"");
}

static void
test_invalid_regex (void)
{
  const char *xml = PREFIX
    "    <route name=\"r\">\n"
    "      <match>\n"
    "        <regex attribute=\"StudyDescription\">(unclosed</regex>\n" /* 11 */
    "      </match>\n"
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 11, "(unclosed");

  /* in a series filter too */
  const char *series = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"a\">\n"
    "        <series>\n"
    "          <regex attribute=\"SeriesDescription\">[z-a]</regex>\n" /* 12 */
    "        </series>\n"
    "      </analyze>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (series, PR_CONF_ERROR_INVALID, 12, "does not compile");
}

static void
test_invalid_range (void)
{
  const char *inverted = PREFIX
    "    <route name=\"r\">\n"
    "      <match>\n"
    "        <range attribute=\"SliceThickness\" min=\"5\" max=\"1\"/>\n" /* 11 */
    "      </match>\n"
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (inverted, PR_CONF_ERROR_INVALID, 11, "SliceThickness");

  const char *open = PREFIX
    "    <route name=\"r\">\n"
    "      <match>\n"
    "        <exists attribute=\"Modality\"/>\n"
    "        <range attribute=\"SliceThickness\"/>\n" /* 12 */
    "      </match>\n"
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (open, PR_CONF_ERROR_INVALID, 12, "needs min=, max= or both");

  /* equal bounds are a valid (one-point) range */
  const char *point = PREFIX
    "    <route name=\"r\">\n"
    "      <match><range attribute=\"SliceThickness\" min=\"1\" max=\"1\"/></match>\n"
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    SUFFIX;
  g_autoptr (PrConfig) config = load_ok (point);
  g_assert_cmpint (((PrRoute *) config->routes->pdata[0])->match->kind, ==, PR_CONDITION_RANGE);
}

static void
test_invalid_unknown_fact (void)
{
  const char *xml = PREFIX
    "    <route name=\"r\">\n"
    "      <match>\n"
    "        <not>\n"
    "          <exists attribute=\"@nonsense\"/>\n" /* 12 */
    "        </not>\n"
    "      </match>\n"
    "      <analyze analyzer=\"a\"/>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 12, "unknown fact \"@nonsense\"");

  /* every documented fact is known */
  for (const char *const *fact = pr_condition_facts; *fact; fact++)
    {
      g_autofree char *ok = g_strdup_printf (PREFIX
                                             "    <route name=\"r\">\n"
                                             "      <match><exists attribute=\"%s\"/></match>\n"
                                             "      <analyze analyzer=\"a\"/>\n"
                                             "    </route>\n"
                                             SUFFIX,
                                             *fact);
      g_autoptr (PrConfig) config = load_ok (ok);
      g_assert_cmpstr (((PrRoute *) config->routes->pdata[0])->match->attribute, ==, *fact);
    }
}

static void
test_invalid_destination (void)
{
  const char *neither = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"a\"/>\n"
    "      <results-to/>\n" /* 11 */
    "    </route>\n"
    SUFFIX;
  assert_one_error (neither, PR_CONF_ERROR_INVALID, 11, "either peer=");

  const char *both = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"a\"/>\n"
    "      <results-to peer=\"pacs\" sender=\"true\"/>\n" /* 11 */
    "    </route>\n"
    SUFFIX;
  assert_one_error (both, PR_CONF_ERROR_INVALID, 11, "either peer=");

  const char *sender_false = PREFIX
    "    <route name=\"r\">\n"
    "      <analyze analyzer=\"a\"/>\n"
    "      <results-to sender=\"false\"/>\n" /* 11 */
    "    </route>\n"
    SUFFIX;
  assert_one_error (sender_false, PR_CONF_ERROR_INVALID, 11, "either peer=");
}

static void
test_invalid_route_does_nothing (void)
{
  const char *xml = PREFIX
    "    <route name=\"idle\">\n" /* 9 */
    "      <match>\n"
    "        <equals attribute=\"Modality\">CT</equals>\n"
    "      </match>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 9, "route \"idle\" does nothing");

  /* results without an analysis to make them */
  const char *results_only = PREFIX
    "    <route name=\"r\">\n" /* 9 */
    "      <results-to peer=\"pacs\"/>\n"
    "      <forward-to peer=\"pacs\"/>\n"
    "    </route>\n"
    SUFFIX;
  assert_one_error (results_only, PR_CONF_ERROR_INVALID, 9, "no <analyze>");
}

static void
test_invalid_reports_every_problem (void)
{
  const char *xml = PREFIX
    "    <route name=\"r\">\n"
    "      <match>\n"
    "        <range attribute=\"SliceThickness\" min=\"3\" max=\"2\"/>\n" /* 11 */
    "      </match>\n"
    "      <analyze analyzer=\"nonesuch\"/>\n" /* 13 */
    "      <results-to peer=\"nope\"/>\n" /* 14 */
    "    </route>\n"
    SUFFIX;
  g_auto (GStrv) lines = load_fails (xml, PR_CONF_ERROR_INVALID);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  const char *expected[] = { "test.xml:11: ", "test.xml:13: ", "test.xml:14: " };
  const char *needles[] = { "min (3) is above max (2)", "no analyzer named \"nonesuch\"", "no peer named \"nope\"" };
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      gboolean found = FALSE;
      for (char **l = lines; *l; l++)
        found = found || (g_str_has_prefix (*l, expected[i]) && strstr (*l, needles[i]) != NULL);
      if (!found)
        g_error ("no line \"%s...%s...\"", expected[i], needles[i]);
    }
}

static void
test_invalid_reports_problems_across_sections (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <analyzers>\n"
                    "    <analyzer name=\"x\" builtin=\"magic\"/>\n" /* 3 */
                    "  </analyzers>\n"
                    "  <routes>\n"
                    "    <route name=\"r\">\n"
                    "      <analyze analyzer=\"y\"/>\n" /* 7 */
                    "    </route>\n"
                    "    <route name=\"r\">\n" /* 9 */
                    "      <analyze analyzer=\"x\"/>\n"
                    "    </route>\n"
                    "  </routes>\n"
                    "</preread>\n";
  g_auto (GStrv) lines = load_fails (xml, PR_CONF_ERROR_INVALID);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  /* in the order of the checks: analyzers, then routes, then names */
  g_assert_true (g_str_has_prefix (lines[0], "test.xml:3: "));
  g_assert_true (g_str_has_prefix (lines[1], "test.xml:7: "));
  g_assert_true (g_str_has_prefix (lines[2], "test.xml:9: "));
}

static void
test_invalid_other_checks (void)
{
  /* a bind address that is not an address */
  assert_one_error ("<preread version=\"1\">\n"
                    "  <node bind=\"localhost\"/>\n"
                    "</preread>\n",
                    PR_CONF_ERROR_INVALID, 2, "not an IP address");
  /* http without a port */
  assert_one_error ("<preread version=\"1\">\n"
                    "\n"
                    "  <node http=\"127.0.0.1\"/>\n"
                    "</preread>\n",
                    PR_CONF_ERROR_INVALID, 3, "ADDRESS:PORT");
  /* tls with a certificate but no key */
  assert_one_error ("<preread version=\"1\">\n"
                    "  <peers>\n"
                    "    <peer name=\"p\" ae-title=\"P\" host=\"h\" port=\"104\">\n"
                    "      <tls certificate=\"c.pem\" ca=\"ca.pem\"/>\n" /* 4 */
                    "    </peer>\n"
                    "  </peers>\n"
                    "</preread>\n",
                    PR_CONF_ERROR_INVALID, 4, "both certificate and key");
  /* tls that would trust anyone */
  assert_one_error ("<preread version=\"1\">\n"
                    "  <peers>\n"
                    "    <peer name=\"p\" ae-title=\"P\" host=\"h\" port=\"104\">\n"
                    "      <tls/>\n" /* 4 */
                    "    </peer>\n"
                    "  </peers>\n"
                    "</preread>\n",
                    PR_CONF_ERROR_INVALID, 4, "certificate authorities to trust");
  /* no-progress timeout longer than the timeout */
  assert_one_error ("<preread version=\"1\">\n"
                    "  <analyzers>\n"
                    "    <analyzer name=\"x\" builtin=\"test\" timeout=\"10\" no-progress-timeout=\"20\"/>\n"
                    "  </analyzers>\n"
                    "</preread>\n",
                    PR_CONF_ERROR_INVALID, 3, "no-progress-timeout");
  /* the same parameter twice */
  assert_one_error ("<preread version=\"1\">\n"
                    "  <analyzers>\n"
                    "    <analyzer name=\"x\" builtin=\"test\">\n"
                    "      <parameter name=\"k\">1</parameter>\n"
                    "      <parameter name=\"k\">2</parameter>\n" /* 5 */
                    "    </analyzer>\n"
                    "  </analyzers>\n"
                    "</preread>\n",
                    PR_CONF_ERROR_INVALID, 5, "parameter \"k\" given twice");
  /* the same analyzer twice in one route */
  assert_one_error (PREFIX
                    "    <route name=\"r\">\n"
                    "      <analyze analyzer=\"a\"/>\n"
                    "      <analyze analyzer=\"a\"/>\n" /* 11 */
                    "    </route>\n"
                    SUFFIX,
                    PR_CONF_ERROR_INVALID, 11, "listed twice");
}

/* ---- I/O and paths ------------------------------------------------------ */

static void
test_missing_file (void)
{
  g_autofree char *dir = pr_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "no-such-config.xml", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_file (path, &error);
  g_assert_null (config);
  g_assert_error (error, PR_CONF_ERROR, PR_CONF_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  pr_test_remove_tree (dir);
}

static void
test_file_errors_name_the_file (void)
{
  g_autofree char *dir = pr_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "broken.xml", NULL);
  g_assert_true (g_file_set_contents (path,
                                      "<preread version=\"1\">\n"
                                      "  <analyzers>\n"
                                      "    <analyzer name=\"x\" builtin=\"magic\"/>\n"
                                      "  </analyzers>\n"
                                      "</preread>\n",
                                      -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_file (path, &error);
  g_assert_null (config);
  g_assert_error (error, PR_CONF_ERROR, PR_CONF_ERROR_INVALID);
  g_autofree char *prefix = g_strdup_printf ("%s:3: ", path);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  pr_test_remove_tree (dir);
}

static const char relative_paths_xml[] =
  "<preread version=\"1\">\n"
  "  <node storage=\"data\"/>\n"
  "  <peers>\n"
  "    <peer name=\"p\" ae-title=\"P\" host=\"h\" port=\"104\">\n"
  "      <tls certificate=\"tls/me.pem\" key=\"tls/me.key\" ca=\"/etc/ca.pem\"/>\n"
  "    </peer>\n"
  "  </peers>\n"
  "  <analyzers>\n"
  "    <analyzer name=\"prog\" program=\"bin/x\"/>\n"
  "    <analyzer name=\"abs\" program=\"/usr/bin/y\"/>\n"
  "    <analyzer name=\"mod-path\" module=\"mods/z.so\"/>\n"
  "    <analyzer name=\"mod-name\" module=\"z\"/>\n"
  "  </analyzers>\n"
  "</preread>\n";

static void
test_relative_paths_resolved (void)
{
  g_autofree char *dir = pr_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "preread.xml", NULL);
  g_assert_true (g_file_set_contents (path, relative_paths_xml, -1, NULL));

  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_file (path, &error);
  g_assert_no_error (error);

  g_autofree char *storage = g_build_filename (dir, "data", NULL);
  g_assert_cmpstr (config->node->storage_dir, ==, storage);
  g_autofree char *program = g_build_filename (dir, "bin", "x", NULL);
  g_assert_cmpstr (pr_config_find_analyzer (config, "prog")->location, ==, program);
  g_assert_cmpstr (pr_config_find_analyzer (config, "abs")->location, ==, "/usr/bin/y");
  g_autofree char *module = g_build_filename (dir, "mods", "z.so", NULL);
  g_assert_cmpstr (pr_config_find_analyzer (config, "mod-path")->location, ==, module);
  g_assert_cmpstr (pr_config_find_analyzer (config, "mod-name")->location, ==, "z");
  const PrPeer *peer = pr_config_find_peer (config, "p");
  g_autofree char *certificate = g_build_filename (dir, "tls", "me.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "tls", "me.key", NULL);
  g_assert_cmpstr (peer->tls_certificate, ==, certificate);
  g_assert_cmpstr (peer->tls_key, ==, key);
  g_assert_cmpstr (peer->tls_ca, ==, "/etc/ca.pem");

  pr_test_remove_tree (dir);
}

static void
test_relative_paths_kept_from_a_string (void)
{
  /* no file: nothing to be relative to */
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_string (relative_paths_xml, "(no such file)", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->node->storage_dir, ==, "data");
  g_assert_cmpstr (pr_config_find_analyzer (config, "prog")->location, ==, "bin/x");
}

/* ---- conditions ----------------------------------------------------------- */

/* Loads a route whose <match> holds @conditions; *condition is route->match. */
static PrConfig *
parse_match (const char *conditions, const PrCondition **condition)
{
  g_autofree char *xml = g_strdup_printf ("<preread version=\"1\">\n"
                                          "  <analyzers><analyzer name=\"a\" builtin=\"test\"/></analyzers>\n"
                                          "  <routes>\n"
                                          "    <route name=\"r\">\n"
                                          "      <match>\n"
                                          "%s\n" /* 6... */
                                          "      </match>\n"
                                          "      <analyze analyzer=\"a\"/>\n"
                                          "    </route>\n"
                                          "  </routes>\n"
                                          "</preread>\n",
                                          conditions);
  PrConfig *config = load_ok (xml);
  *condition = ((PrRoute *) config->routes->pdata[0])->match;
  g_assert_nonnull (*condition);
  return config;
}

static const char *
lookup_table (const char *attribute, gpointer user_data)
{
  return g_hash_table_lookup (user_data, attribute);
}

/* Evaluates @c against the NULL-terminated attribute, value pairs. */
static gboolean
holds_with (const PrCondition *c, const PrCondition **failed, ...)
{
  g_autoptr (GHashTable) values = g_hash_table_new (g_str_hash, g_str_equal);
  va_list args;
  va_start (args, failed);
  const char *attribute;
  while ((attribute = va_arg (args, const char *)) != NULL)
    g_hash_table_insert (values, (gpointer) attribute, va_arg (args, char *));
  va_end (args);
  return pr_condition_evaluate (c, lookup_table, values, failed);
}
#define holds(c, ...) holds_with ((c), NULL, __VA_ARGS__)

static void
test_condition_equals (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<equals attribute=\"Modality\">CT</equals>", &c);
  g_assert_cmpint (c->kind, ==, PR_CONDITION_EQUALS);
  g_assert_cmpint (c->line, ==, 6);
  g_assert_true (holds (c, "Modality", "CT", NULL));
  g_assert_false (holds (c, "Modality", "MR", NULL));
  g_assert_false (holds (c, "Modality", "ct", NULL));   /* case matters by default */
  g_assert_false (holds (c, "Modality", "CTX", NULL));  /* a whole value, not a prefix */
  g_assert_false (holds (c, "Modality", "", NULL));
  g_assert_false (holds (c, "BodyPartExamined", "CT", NULL)); /* absent */
  g_assert_true (holds (c, "Modality", "CT ", NULL));   /* DICOM pads values with spaces */

  /* whitespace around the value in the file does not count */
  const PrCondition *spaced;
  g_autoptr (PrConfig) config2 = parse_match ("<equals attribute=\"Modality\">\n  CT\n</equals>", &spaced);
  g_assert_true (holds (spaced, "Modality", "CT", NULL));
}

static void
test_condition_equals_multi_valued (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<equals attribute=\"ImageType\">AXIAL</equals>", &c);
  g_assert_true (holds (c, "ImageType", "ORIGINAL\\PRIMARY\\AXIAL", NULL));
  g_assert_true (holds (c, "ImageType", "AXIAL", NULL));
  g_assert_false (holds (c, "ImageType", "ORIGINAL\\PRIMARY\\LOCALIZER", NULL));
  g_assert_false (holds (c, "ImageType", "ORIGINAL\\PRIMARY\\AXIALX", NULL));
  g_assert_false (holds (c, "ImageType", "ORIGINAL\\PRIMARY AXIAL", NULL)); /* values split at \ only */
}

static void
test_condition_equals_ignore_case (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<equals attribute=\"BodyPartExamined\" ignore-case=\"true\">Chest</equals>",
                                             &c);
  g_assert_true (c->ignore_case);
  g_assert_true (holds (c, "BodyPartExamined", "CHEST", NULL));
  g_assert_true (holds (c, "BodyPartExamined", "chest", NULL));
  g_assert_true (holds (c, "BodyPartExamined", "HEAD\\cHeSt", NULL));
  g_assert_false (holds (c, "BodyPartExamined", "CHESTS", NULL));

  const PrCondition *strict;
  g_autoptr (PrConfig) config2 = parse_match ("<equals attribute=\"BodyPartExamined\" ignore-case=\"false\">Chest</equals>",
                                              &strict);
  g_assert_false (strict->ignore_case);
  g_assert_false (holds (strict, "BodyPartExamined", "CHEST", NULL));
  g_assert_true (holds (strict, "BodyPartExamined", "Chest", NULL));
}

static void
test_condition_one_of (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<one-of attribute=\"BodyPartExamined\">\n"
                                             "  <value>CHEST</value>\n"
                                             "  <value> LUNG </value>\n"
                                             "</one-of>",
                                             &c);
  g_assert_cmpint (c->kind, ==, PR_CONDITION_ONE_OF);
  g_assert_cmpuint (g_strv_length (c->values), ==, 2);
  g_assert_true (holds (c, "BodyPartExamined", "CHEST", NULL));
  g_assert_true (holds (c, "BodyPartExamined", "LUNG", NULL));
  g_assert_false (holds (c, "BodyPartExamined", "lung", NULL));
  g_assert_false (holds (c, "BodyPartExamined", "ABDOMEN", NULL));
  g_assert_true (holds (c, "BodyPartExamined", "ABDOMEN\\LUNG", NULL));
  g_assert_false (holds (c, NULL));

  const PrCondition *folded;
  g_autoptr (PrConfig) config2 = parse_match ("<one-of attribute=\"BodyPartExamined\" ignore-case=\"true\">"
                                              "<value>CHEST</value><value>THORAX</value></one-of>",
                                              &folded);
  g_assert_true (holds (folded, "BodyPartExamined", "thorax", NULL));
  g_assert_true (holds (folded, "BodyPartExamined", "Chest", NULL));
  g_assert_false (holds (folded, "BodyPartExamined", "head", NULL));
}

static void
test_condition_regex (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<regex attribute=\"StudyDescription\">CHEST|LUNG</regex>", &c);
  g_assert_cmpint (c->kind, ==, PR_CONDITION_REGEX);
  g_assert_cmpstr (c->pattern, ==, "CHEST|LUNG");
  /* a search, not a whole-text match */
  g_assert_true (holds (c, "StudyDescription", "CT CHEST W/O CONTRAST", NULL));
  g_assert_true (holds (c, "StudyDescription", "LDCT LUNG SCREENING", NULL));
  g_assert_false (holds (c, "StudyDescription", "ct chest", NULL));
  g_assert_false (holds (c, "StudyDescription", "CT HEAD", NULL));
  g_assert_false (holds (c, "StudyDescription", "", NULL));
  g_assert_false (holds (c, NULL));

  const PrCondition *anchored;
  g_autoptr (PrConfig) config2 = parse_match ("<regex attribute=\"StudyDescription\">^CHEST$</regex>", &anchored);
  g_assert_true (holds (anchored, "StudyDescription", "CHEST", NULL));
  g_assert_false (holds (anchored, "StudyDescription", "CT CHEST", NULL));

  const PrCondition *inline_flag;
  g_autoptr (PrConfig) config3 = parse_match ("<regex attribute=\"StudyDescription\">(?i)chest|ldct</regex>",
                                              &inline_flag);
  g_assert_true (holds (inline_flag, "StudyDescription", "CT CHEST", NULL));
  g_assert_true (holds (inline_flag, "StudyDescription", "Ldct screening", NULL));
  g_assert_false (holds (inline_flag, "StudyDescription", "CT HEAD", NULL));

  const PrCondition *folded;
  g_autoptr (PrConfig) config4 = parse_match ("<regex attribute=\"StudyDescription\" ignore-case=\"true\">chest</regex>",
                                              &folded);
  g_assert_true (holds (folded, "StudyDescription", "CT CHEST", NULL));

  /* the whole text, backslashes included */
  const PrCondition *whole;
  g_autoptr (PrConfig) config5 = parse_match ("<regex attribute=\"ImageType\">PRIMARY\\\\AXIAL</regex>", &whole);
  g_assert_true (holds (whole, "ImageType", "ORIGINAL\\PRIMARY\\AXIAL", NULL));
  g_assert_false (holds (whole, "ImageType", "ORIGINAL\\PRIMARY\\LOCALIZER", NULL));

  /* XML escapes are the regex's characters */
  const PrCondition *escaped;
  g_autoptr (PrConfig) config6 = parse_match ("<regex attribute=\"StudyDescription\">^A&amp;E &lt;1&gt;$</regex>",
                                              &escaped);
  g_assert_true (holds (escaped, "StudyDescription", "A&E <1>", NULL));
}

static void
test_condition_range (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<range attribute=\"SliceThickness\" min=\"0.5\" max=\"2.5\"/>", &c);
  g_assert_cmpint (c->kind, ==, PR_CONDITION_RANGE);
  g_assert_true (c->has_min && c->has_max);
  g_assert_true (holds (c, "SliceThickness", "1.25", NULL));
  g_assert_true (holds (c, "SliceThickness", "0.5", NULL));   /* bounds are inclusive */
  g_assert_true (holds (c, "SliceThickness", "2.5", NULL));
  g_assert_true (holds (c, "SliceThickness", "2.50000", NULL));
  g_assert_true (holds (c, "SliceThickness", " 1 ", NULL));   /* padded */
  g_assert_true (holds (c, "SliceThickness", "1e0", NULL));   /* DS allows exponents */
  g_assert_false (holds (c, "SliceThickness", "2.51", NULL));
  g_assert_false (holds (c, "SliceThickness", "0.49", NULL));
  g_assert_false (holds (c, "SliceThickness", "-1", NULL));
  /* not a number */
  g_assert_false (holds (c, "SliceThickness", "abc", NULL));
  g_assert_false (holds (c, "SliceThickness", "1.0mm", NULL));
  g_assert_false (holds (c, "SliceThickness", "", NULL));
  g_assert_false (holds (c, NULL));
  /* the first value counts */
  g_assert_true (holds (c, "SliceThickness", "1\\5", NULL));
  g_assert_false (holds (c, "SliceThickness", "5\\1", NULL));
}

static void
test_condition_range_open (void)
{
  const PrCondition *min_only;
  g_autoptr (PrConfig) config = parse_match ("<range attribute=\"@instances\" min=\"50\"/>", &min_only);
  g_assert_true (min_only->has_min);
  g_assert_false (min_only->has_max);
  g_assert_true (holds (min_only, "@instances", "50", NULL));
  g_assert_true (holds (min_only, "@instances", "1000000", NULL));
  g_assert_false (holds (min_only, "@instances", "49", NULL));
  g_assert_false (holds (min_only, "@instances", "many", NULL));

  const PrCondition *max_only;
  g_autoptr (PrConfig) config2 = parse_match ("<range attribute=\"SliceThickness\" max=\"2.5\"/>", &max_only);
  g_assert_false (max_only->has_min);
  g_assert_true (max_only->has_max);
  g_assert_true (holds (max_only, "SliceThickness", "2.5", NULL));
  g_assert_true (holds (max_only, "SliceThickness", "0", NULL));
  g_assert_true (holds (max_only, "SliceThickness", "-3", NULL));
  g_assert_false (holds (max_only, "SliceThickness", "2.6", NULL));
  g_assert_false (holds (max_only, NULL));

  const PrCondition *negative;
  g_autoptr (PrConfig) config3 = parse_match ("<range attribute=\"0020,1041\" min=\"-10.5\" max=\"-2\"/>", &negative);
  g_assert_true (holds (negative, "0020,1041", "-10.5", NULL));
  g_assert_true (holds (negative, "0020,1041", "-5", NULL));
  g_assert_false (holds (negative, "0020,1041", "-1", NULL));
}

static void
test_condition_exists_missing (void)
{
  const PrCondition *exists;
  g_autoptr (PrConfig) config = parse_match ("<exists attribute=\"PatientID\"/>", &exists);
  g_assert_cmpint (exists->kind, ==, PR_CONDITION_EXISTS);
  g_assert_true (holds (exists, "PatientID", "12345", NULL));
  g_assert_false (holds (exists, "PatientID", "", NULL));
  g_assert_false (holds (exists, NULL));

  const PrCondition *missing;
  g_autoptr (PrConfig) config2 = parse_match ("<missing attribute=\"PatientID\"/>", &missing);
  g_assert_cmpint (missing->kind, ==, PR_CONDITION_MISSING);
  g_assert_false (holds (missing, "PatientID", "12345", NULL));
  g_assert_true (holds (missing, "PatientID", "", NULL));
  g_assert_true (holds (missing, NULL));
  g_assert_true (holds (missing, "OtherAttribute", "x", NULL));
}

static const char chest_match[] =
  "<equals attribute=\"Modality\">CT</equals>\n"                      /* 6 */
  "<any>\n"                                                           /* 7 */
  "  <one-of attribute=\"BodyPartExamined\" ignore-case=\"true\">\n"  /* 8 */
  "    <value>CHEST</value><value>LUNG</value>\n"
  "  </one-of>\n"
  "  <regex attribute=\"StudyDescription\">(?i)chest|lung</regex>\n"  /* 11 */
  "</any>\n"
  "<not>\n"                                                           /* 13 */
  "  <regex attribute=\"ImageType\">LOCALIZER</regex>\n"              /* 14 */
  "</not>";

static void
test_condition_combinations (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match (chest_match, &c);
  g_assert_cmpint (c->kind, ==, PR_CONDITION_ALL);
  g_assert_cmpuint (c->children->len, ==, 3);

  g_assert_true (holds (c, "Modality", "CT", "BodyPartExamined", "chest", "ImageType", "ORIGINAL\\PRIMARY\\AXIAL", NULL));
  g_assert_true (holds (c, "Modality", "CT", "StudyDescription", "Low dose Lung", NULL)); /* ImageType absent: not a localizer */
  g_assert_false (holds (c, "Modality", "MR", "BodyPartExamined", "CHEST", NULL));
  g_assert_false (holds (c, "Modality", "CT", "BodyPartExamined", "HEAD", "StudyDescription", "Brain", NULL));
  g_assert_false (holds (c, "Modality", "CT", "BodyPartExamined", "CHEST", "ImageType", "ORIGINAL\\PRIMARY\\LOCALIZER",
                         NULL));

  /* nested all inside any, not of any */
  const PrCondition *nested;
  g_autoptr (PrConfig) config2 = parse_match ("<any>\n"
                                              "  <all>\n"
                                              "    <equals attribute=\"Modality\">MR</equals>\n"
                                              "    <exists attribute=\"@calling-ae\"/>\n"
                                              "  </all>\n"
                                              "  <not><any>\n"
                                              "    <exists attribute=\"StudyDescription\"/>\n"
                                              "    <exists attribute=\"SeriesDescription\"/>\n"
                                              "  </any></not>\n"
                                              "</any>",
                                              &nested);
  g_assert_cmpint (nested->kind, ==, PR_CONDITION_ANY);
  g_assert_true (holds (nested, "Modality", "MR", "@calling-ae", "MR1", "StudyDescription", "x", NULL));
  g_assert_false (holds (nested, "Modality", "MR", "StudyDescription", "x", NULL));
  g_assert_true (holds (nested, "Modality", "CT", NULL)); /* neither description: the not holds */
  g_assert_false (holds (nested, "Modality", "CT", "SeriesDescription", "x", NULL));

  /* NULL: no condition, always true */
  const PrCondition *failed = c;
  g_assert_true (pr_condition_evaluate (NULL, lookup_table, NULL, &failed));
  g_assert_null (failed);
}

static void
test_condition_failed_reports_the_deciding_node (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match (chest_match, &c);
  const PrCondition *equals = c->children->pdata[0];
  const PrCondition *any = c->children->pdata[1];
  const PrCondition *not = c->children->pdata[2];
  const PrCondition *failed = NULL;

  /* all: the first leaf that fails */
  g_assert_false (holds_with (c, &failed, "Modality", "MR", "BodyPartExamined", "HEAD", NULL));
  g_assert_true (failed == equals);
  g_assert_cmpint (failed->line, ==, 6);

  /* any: the any itself, not one of its children */
  failed = NULL;
  g_assert_false (holds_with (c, &failed, "Modality", "CT", "BodyPartExamined", "HEAD", NULL));
  g_assert_true (failed == any);
  g_assert_cmpint (failed->line, ==, 7);

  /* not: the not whose child held */
  failed = NULL;
  g_assert_false (holds_with (c, &failed, "Modality", "CT", "BodyPartExamined", "CHEST", "ImageType",
                              "ORIGINAL\\PRIMARY\\LOCALIZER", NULL));
  g_assert_true (failed == not);
  g_assert_cmpint (failed->line, ==, 13);

  /* holds: nothing failed */
  failed = c;
  g_assert_true (holds_with (c, &failed, "Modality", "CT", "BodyPartExamined", "LUNG", NULL));
  g_assert_null (failed);

  /* a lone leaf reports itself */
  const PrCondition *leaf;
  g_autoptr (PrConfig) config2 = parse_match ("<range attribute=\"SliceThickness\" max=\"2.5\"/>", &leaf);
  failed = NULL;
  g_assert_false (holds_with (leaf, &failed, "SliceThickness", "5", NULL));
  g_assert_true (failed == leaf);

  /* a failing leaf in an all nested in an all */
  const PrCondition *deep;
  g_autoptr (PrConfig) config3 = parse_match ("<exists attribute=\"Modality\"/>\n"
                                              "<all>\n"
                                              "  <exists attribute=\"PatientID\"/>\n"
                                              "  <missing attribute=\"PatientName\"/>\n" /* 9 */
                                              "</all>",
                                              &deep);
  failed = NULL;
  g_assert_false (holds_with (deep, &failed, "Modality", "CT", "PatientID", "1", "PatientName", "X", NULL));
  g_assert_nonnull (failed);
  g_assert_cmpint (failed->kind, ==, PR_CONDITION_MISSING);
  g_assert_cmpint (failed->line, ==, 9);
}

static void
test_condition_describe (void)
{
  const PrCondition *range;
  g_autoptr (PrConfig) config = parse_match ("<range attribute=\"SliceThickness\" min=\"0\" max=\"2.5\"/>", &range);
  g_autofree char *range_text = pr_condition_describe (range);
  g_assert_nonnull (strstr (range_text, "SliceThickness in ["));
  g_assert_cmpstr (range_text, ==, "SliceThickness in [0, 2.5]");

  const PrCondition *open;
  g_autoptr (PrConfig) config2 = parse_match ("<range attribute=\"@instances\" min=\"50\"/>", &open);
  g_autofree char *open_text = pr_condition_describe (open);
  g_assert_nonnull (strstr (open_text, "@instances in [50, "));

  const PrCondition *c;
  g_autoptr (PrConfig) config3 = parse_match (chest_match, &c);
  g_autofree char *text = pr_condition_describe (c);
  g_test_message ("%s", text);
  g_assert_null (strchr (text, '\n'));
  g_assert_true (g_str_has_prefix (text, "all of ("));
  g_assert_nonnull (strstr (text, "Modality equals \"CT\""));
  g_assert_nonnull (strstr (text, "any of ("));
  g_assert_nonnull (strstr (text, "BodyPartExamined is one of \"CHEST\", \"LUNG\""));
  g_assert_nonnull (strstr (text, "StudyDescription matches /(?i)chest|lung/"));
  g_assert_nonnull (strstr (text, "not (ImageType matches /LOCALIZER/)"));

  const PrCondition *presence;
  g_autoptr (PrConfig) config4 = parse_match ("<exists attribute=\"A\"/><missing attribute=\"B\"/>", &presence);
  g_autofree char *presence_text = pr_condition_describe (presence);
  g_assert_nonnull (strstr (presence_text, "A exists"));
  g_assert_nonnull (strstr (presence_text, "B is missing"));

  g_autofree char *always = pr_condition_describe (NULL);
  g_assert_nonnull (always);
  g_assert_cmpstr (always, !=, "");
}

static gboolean
collect_attribute (const PrCondition *leaf, gpointer user_data)
{
  g_ptr_array_add (user_data, leaf->attribute);
  return TRUE;
}

static gboolean
stop_at_first (const PrCondition *leaf, gpointer user_data)
{
  (*(guint *) user_data)++;
  return FALSE;
}

static void
test_condition_foreach_attribute (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match (chest_match, &c);
  g_autoptr (GPtrArray) seen = g_ptr_array_new ();
  g_assert_true (pr_condition_foreach_attribute (c, collect_attribute, seen));
  g_assert_cmpuint (seen->len, ==, 4);
  g_assert_cmpstr (seen->pdata[0], ==, "Modality");
  g_assert_cmpstr (seen->pdata[1], ==, "BodyPartExamined");
  g_assert_cmpstr (seen->pdata[2], ==, "StudyDescription");
  g_assert_cmpstr (seen->pdata[3], ==, "ImageType");

  guint calls = 0;
  g_assert_false (pr_condition_foreach_attribute (c, stop_at_first, &calls));
  g_assert_cmpuint (calls, ==, 1);
}

/* ---- lookups and names -------------------------------------------------- */

static void
test_find (void)
{
  g_autoptr (PrConfig) config = load_example ("chest-ct-lung-screening.xml");
  const PrPeer *peer = pr_config_find_peer (config, "pacs");
  g_assert_nonnull (peer);
  g_assert_true (peer == config->peers->pdata[0]);
  g_assert_null (pr_config_find_peer (config, "PACS")); /* names are exact */
  g_assert_null (pr_config_find_peer (config, "lung-nodule"));

  const PrAnalyzerConfig *analyzer = pr_config_find_analyzer (config, "lung-nodule");
  g_assert_nonnull (analyzer);
  g_assert_true (analyzer == config->analyzers->pdata[0]);
  g_assert_null (pr_config_find_analyzer (config, "pacs"));
  g_assert_null (pr_config_find_analyzer (config, "lung"));

  const PrRoute *route = pr_config_find_route (config, "chest-ct-lung-screening");
  g_assert_nonnull (route);
  g_assert_true (route == config->routes->pdata[0]);
  g_assert_null (pr_config_find_route (config, "chest-ct"));

  /* an empty configuration */
  g_autoptr (PrConfig) empty = load_ok ("<preread version=\"1\"/>");
  g_assert_null (pr_config_find_peer (empty, "pacs"));
  g_assert_null (pr_config_find_analyzer (empty, "a"));
  g_assert_null (pr_config_find_route (empty, "r"));
  g_assert_cmpuint (empty->routes->len, ==, 0);
  g_assert_cmpstr (empty->node->ae_title, ==, "PREREAD");
}

static void
test_names (void)
{
  g_assert_cmpstr (pr_priority_to_string (PR_PRIORITY_LOW), ==, "low");
  g_assert_cmpstr (pr_priority_to_string (PR_PRIORITY_NORMAL), ==, "normal");
  g_assert_cmpstr (pr_priority_to_string (PR_PRIORITY_HIGH), ==, "high");
  g_assert_cmpstr (pr_priority_to_string (PR_PRIORITY_URGENT), ==, "urgent");
  g_assert_cmpstr (pr_priority_to_string ((PrPriority) 42), ==, "?");

  g_assert_cmpstr (pr_series_preference_to_string (PR_PREFER_ALL), ==, "all");
  g_assert_cmpstr (pr_series_preference_to_string (PR_PREFER_THINNEST), ==, "thinnest");
  g_assert_cmpstr (pr_series_preference_to_string (PR_PREFER_MOST_INSTANCES), ==, "most-instances");
  g_assert_cmpstr (pr_series_preference_to_string (PR_PREFER_FIRST), ==, "first");
  g_assert_cmpstr (pr_series_preference_to_string ((PrSeriesPreference) 42), ==, "?");
}

static void
test_names_round_trip (void)
{
  /* every name the schema accepts comes back as written */
  const char *priorities[] = { "low", "normal", "high", "urgent" };
  const char *preferences[] = { "all", "thinnest", "most-instances", "first" };
  for (gsize i = 0; i < G_N_ELEMENTS (priorities); i++)
    {
      g_autofree char *xml = g_strdup_printf (PREFIX
                                              "    <route name=\"r\" priority=\"%s\">\n"
                                              "      <analyze analyzer=\"a\" prefer=\"%s\"/>\n"
                                              "    </route>\n"
                                              SUFFIX,
                                              priorities[i], preferences[i]);
      g_autoptr (PrConfig) config = load_ok (xml);
      const PrRoute *route = pr_config_find_route (config, "r");
      g_assert_cmpstr (pr_priority_to_string (route->priority), ==, priorities[i]);
      g_assert_cmpstr (pr_series_preference_to_string (((PrRouteAnalysis *) route->analyses->pdata[0])->prefer), ==,
                       preferences[i]);
    }
  /* not given: normal, all, rerun */
  g_autoptr (PrConfig) config = load_ok (PREFIX
                                         "    <route name=\"r\"><analyze analyzer=\"a\"/></route>\n"
                                         SUFFIX);
  const PrRoute *route = pr_config_find_route (config, "r");
  g_assert_cmpint (route->priority, ==, PR_PRIORITY_NORMAL);
  g_assert_cmpint (route->on_update, ==, PR_ON_UPDATE_RERUN);
  g_assert_cmpint (((PrRouteAnalysis *) route->analyses->pdata[0])->prefer, ==, PR_PREFER_ALL);
}

/* ---- regressions found while writing these tests ----------------------- */

static void
test_regex_written_over_lines_matches (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<regex attribute=\"StudyDescription\">\n   CHEST\n</regex>", &c);
  g_assert_true (holds (c, "StudyDescription", "CT CHEST", NULL));
  g_autofree char *text = pr_condition_describe (c);
  g_assert_null (strchr (text, '\n'));
}

static void
test_booleans_allow_surrounding_spaces (void)
{
  g_autoptr (PrConfig) config = load_ok ("<preread version=\"1\"><node check-called-ae=\" true \"/></preread>");
  g_assert_true (config->node->check_called_ae);
  g_autoptr (PrConfig) off = load_ok ("<preread version=\"1\"><node check-called-ae=\" false \"/></preread>");
  g_assert_false (off->node->check_called_ae);
  const PrCondition *c;
  g_autoptr (PrConfig) config2 = parse_match ("<equals attribute=\"Modality\" ignore-case=\" true \">ct</equals>", &c);
  g_assert_true (holds (c, "Modality", "CT", NULL));
}

static void
test_http_port_is_checked (void)
{
  const char *bad[] = { "127.0.0.1:70000", "127.0.0.1:65536", "127.0.0.1:80abc", "127.0.0.1:0", "no-port" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *xml = g_strdup_printf ("<preread version=\"1\">\n<node http=\"%s\"/>\n</preread>", bad[i]);
      assert_one_error (xml, PR_CONF_ERROR_INVALID, 2, "ADDRESS:PORT");
    }
  g_autoptr (PrConfig) ok = load_ok ("<preread version=\"1\"><node http=\"127.0.0.1:8042\"/></preread>");
  g_assert_cmpstr (ok->node->http_address, ==, "127.0.0.1:8042");
}

static void
test_range_takes_decimal_numbers_only (void)
{
  const PrCondition *c;
  g_autoptr (PrConfig) config = parse_match ("<range attribute=\"SliceThickness\" min=\"0.5\" max=\"2.5\"/>", &c);
  g_assert_true (holds (c, "SliceThickness", "1", NULL));
  g_assert_true (holds (c, "SliceThickness", "+1.25e0", NULL));
  g_assert_false (holds (c, "SliceThickness", "0x1", NULL));
  g_assert_false (holds (c, "SliceThickness", "1.0mm", NULL));
  const PrCondition *big;
  g_autoptr (PrConfig) config2 = parse_match ("<range attribute=\"@instances\" min=\"50\"/>", &big);
  g_assert_false (holds (big, "@instances", "inf", NULL));
  g_assert_false (holds (big, "@instances", "infinity", NULL));
  g_assert_false (holds (big, "@instances", "nan", NULL));
  g_assert_true (holds (big, "@instances", "50", NULL));
}

static void
test_duplicate_analyzer_message_reads_well (void)
{
  const char *xml = "<preread version=\"1\">\n"
                    "  <analyzers>\n"
                    "    <analyzer name=\"a\" builtin=\"test\"/>\n"
                    "    <analyzer name=\"a\" builtin=\"test\"/>\n"
                    "  </analyzers>\n"
                    "</preread>\n";
  assert_one_error (xml, PR_CONF_ERROR_INVALID, 4, "there is already an analyzer named \"a\"");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/default/loads-with-node-defaults-and-a-route", test_default_loads);
  g_test_add_func ("/config/default/text-loads-like-the-embedded-default", test_default_text_loads_as_a_string);

  g_test_add_func ("/config/examples/every-example-loads", test_examples_load);
  g_test_add_func ("/config/examples/chest-ct-values-are-parsed", test_example_chest_ct_values);
  g_test_add_func ("/config/examples/dermatology-values-are-parsed", test_example_dermatology_values);
  g_test_add_func ("/config/examples/forward-everything-values-are-parsed", test_example_forward_values);

  g_test_add_func ("/config/schema/unknown-element-names-its-line", test_schema_unknown_element);
  g_test_add_func ("/config/schema/unknown-attribute-names-its-line", test_schema_unknown_attribute);
  g_test_add_func ("/config/schema/wrong-value-type-names-its-line", test_schema_wrong_value_type);
  g_test_add_func ("/config/schema/missing-required-attribute-names-its-line", test_schema_missing_required_attribute);
  g_test_add_func ("/config/schema/wrong-version-names-its-line", test_schema_wrong_version);
  g_test_add_func ("/config/schema/wrong-root-element-is-refused", test_schema_wrong_root);
  g_test_add_func ("/config/schema/malformed-xml-is-a-schema-error", test_schema_not_well_formed);
  g_test_add_func ("/config/schema/every-problem-is-reported", test_schema_reports_every_problem);

  g_test_add_func ("/config/invalid/unknown-analyzer-in-route", test_invalid_unknown_analyzer);
  g_test_add_func ("/config/invalid/unknown-peer-in-destination", test_invalid_unknown_peer);
  g_test_add_func ("/config/invalid/duplicate-route-name", test_invalid_duplicate_route);
  g_test_add_func ("/config/invalid/duplicate-analyzer-name", test_invalid_duplicate_analyzer);
  g_test_add_func ("/config/invalid/duplicate-peer-name", test_invalid_duplicate_peer);
  g_test_add_func ("/config/invalid/analyzer-needs-exactly-one-kind", test_invalid_analyzer_kind);
  g_test_add_func ("/config/invalid/unknown-builtin-analyzer", test_invalid_unknown_builtin);
  g_test_add_func ("/config/invalid/regex-that-does-not-compile", test_invalid_regex);
  g_test_add_func ("/config/invalid/range-inverted-or-unbounded", test_invalid_range);
  g_test_add_func ("/config/invalid/unknown-fact", test_invalid_unknown_fact);
  g_test_add_func ("/config/invalid/destination-needs-peer-or-sender", test_invalid_destination);
  g_test_add_func ("/config/invalid/route-that-does-nothing", test_invalid_route_does_nothing);
  g_test_add_func ("/config/invalid/three-errors-give-three-lines", test_invalid_reports_every_problem);
  g_test_add_func ("/config/invalid/errors-across-sections-in-check-order", test_invalid_reports_problems_across_sections);
  g_test_add_func ("/config/invalid/other-checks-name-their-line", test_invalid_other_checks);

  g_test_add_func ("/config/file/missing-file-is-an-io-error-naming-it", test_missing_file);
  g_test_add_func ("/config/file/errors-name-the-file", test_file_errors_name_the_file);
  g_test_add_func ("/config/file/relative-paths-resolve-against-its-folder", test_relative_paths_resolved);
  g_test_add_func ("/config/file/relative-paths-kept-without-a-file", test_relative_paths_kept_from_a_string);

  g_test_add_func ("/config/condition/equals-single-value", test_condition_equals);
  g_test_add_func ("/config/condition/equals-any-of-several-values", test_condition_equals_multi_valued);
  g_test_add_func ("/config/condition/equals-ignoring-case", test_condition_equals_ignore_case);
  g_test_add_func ("/config/condition/one-of", test_condition_one_of);
  g_test_add_func ("/config/condition/regex-searches-the-whole-text", test_condition_regex);
  g_test_add_func ("/config/condition/range-inclusive-numbers-only", test_condition_range);
  g_test_add_func ("/config/condition/range-with-one-bound", test_condition_range_open);
  g_test_add_func ("/config/condition/exists-and-missing-treat-empty-as-missing", test_condition_exists_missing);
  g_test_add_func ("/config/condition/all-any-not-combine", test_condition_combinations);
  g_test_add_func ("/config/condition/failed-names-the-deciding-condition", test_condition_failed_reports_the_deciding_node);
  g_test_add_func ("/config/condition/describe-is-readable", test_condition_describe);
  g_test_add_func ("/config/condition/foreach-attribute-visits-leaves-in-order", test_condition_foreach_attribute);

  g_test_add_func ("/config/find/peer-analyzer-route-by-exact-name", test_find);
  g_test_add_func ("/config/names/priority-and-preference-strings", test_names);
  g_test_add_func ("/config/names/schema-values-round-trip", test_names_round_trip);

  g_test_add_func ("/config/regressions/regex-written-over-lines-matches", test_regex_written_over_lines_matches);
  g_test_add_func ("/config/regressions/booleans-allow-surrounding-spaces", test_booleans_allow_surrounding_spaces);
  g_test_add_func ("/config/regressions/http-port-is-checked", test_http_port_is_checked);
  g_test_add_func ("/config/regressions/range-takes-decimal-numbers-only", test_range_takes_decimal_numbers_only);
  g_test_add_func ("/config/regressions/duplicate-analyzer-message-reads-well", test_duplicate_analyzer_message_reads_well);
  return g_test_run ();
}
