/* test-web.c: the REST API of a real `preread serve`, as a client sees it.
 *
 *   - nothing without authentication, not even which paths exist;
 *   - sessions (cookie attributes, logout), bearer tokens, the lockout;
 *   - roles: what a radiologist may not do, and the CSRF header;
 *   - hostile requests (huge and chunked bodies, bad JSON, path tricks,
 *     malformed ids) get a 4xx and change nothing;
 *   - the worklist's order and filters, a study's findings, key images with
 *     and without the overlay, feedback becoming statistics and metrics,
 *     admin actions and their audit trail;
 *   - `preread passwd`.
 *
 * One daemon with analyzed studies serves most tests; the lockout test has
 * its own, since it locks loopback out. */
#include "config.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "pr-test-util.h"

#define ADMIN_PASSWORD "admin-password-1"
#define RAD_PASSWORD "radiologist-pw-1"

typedef struct {
  PrTestDaemon *daemon;
  char *work;
  char *token;                  /* a radiologist's API token */
  gint64 urgent_study, routine_study;
  gint64 contract_job, brightest_job, routine_job;
} World;

static World world;

/* ---- HTTP ------------------------------------------------------------------------ */

typedef struct {
  guint status;
  char *type;
  GBytes *body;
  char *set_cookie;
  SoupMessageHeaders *headers;
} Reply;

static void
reply_free (Reply *r)
{
  g_free (r->type);
  g_bytes_unref (r->body);
  g_free (r->set_cookie);
  if (r->headers)
    soup_message_headers_unref (r->headers);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

typedef struct {
  const char *cookie;           /* "preread_session=..." */
  const char *bearer;
  gboolean no_csrf_header;      /* leave out X-Requested-With */
  gboolean chunked;             /* send the body without a length */
  const char *type;             /* the body's type; application/json when NULL */
} Auth;

static Reply *
request_bytes (const char *base, const char *method, const char *path, const Auth *auth, const void *body,
               gsize length)
{
  static SoupSession *session;
  if (session == NULL)
    session = soup_session_new_with_options ("timeout", 60, NULL);
  g_autofree char *url = g_strconcat (base, path[0] == '/' ? path + 1 : path, NULL);
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_assert_nonnull (uri);
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri (method, uri);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  if (auth && auth->cookie)
    soup_message_headers_append (h, "Cookie", auth->cookie);
  if (auth && auth->bearer)
    {
      g_autofree char *value = g_strdup_printf ("Bearer %s", auth->bearer);
      soup_message_headers_append (h, "Authorization", value);
    }
  if (strcmp (method, "GET") != 0 && !(auth && auth->no_csrf_header))
    soup_message_headers_append (h, "X-Requested-With", "preread");
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, length);
      if (auth && auth->chunked)
        {
          g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (bytes);
          soup_message_set_request_body (msg, auth->type ? auth->type : "application/json", stream, -1);
        }
      else
        soup_message_set_request_body_from_bytes (msg, auth && auth->type ? auth->type : "application/json", bytes);
    }
  g_autoptr (GError) error = NULL;
  GBytes *answer = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  Reply *r = g_new0 (Reply, 1);
  r->status = soup_message_get_status (msg);
  r->body = answer;
  r->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  r->type = g_strdup (soup_message_headers_get_content_type (r->headers, NULL));
  const char *cookie = soup_message_headers_get_one (r->headers, "Set-Cookie");
  r->set_cookie = g_strdup (cookie);
  return r;
}

static Reply *
request (const char *method, const char *path, const Auth *auth, const char *body)
{
  return request_bytes (world.daemon->web_url, method, path, auth, body, body ? strlen (body) : 0);
}

/* Returns: (transfer full): the body as text. */
static char *
text_of (Reply *r)
{
  gsize n = 0;
  const char *data = g_bytes_get_data (r->body, &n);
  return data != NULL ? g_strndup (data, n) : g_strdup ("");
}

static JsonNode *
json_of (Reply *r)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize n = 0;
  const char *data = g_bytes_get_data (r->body, &n);
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) n, &error))
    g_error ("not JSON (%s): %.*s", error->message, (int) MIN (n, 300), data);
  return json_node_copy (json_parser_get_root (parser));
}

/* A member path like "study.priority" or "jobs.0.findings" of a reply. */
static JsonNode *
dig (JsonNode *node, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  for (char **p = parts; *p && node; p++)
    {
      if (JSON_NODE_HOLDS_ARRAY (node))
        {
          JsonArray *a = json_node_get_array (node);
          guint i = (guint) g_ascii_strtoull (*p, NULL, 10);
          node = i < json_array_get_length (a) ? json_array_get_element (a, i) : NULL;
        }
      else if (JSON_NODE_HOLDS_OBJECT (node))
        node = json_object_get_member (json_node_get_object (node), *p);
      else
        node = NULL;
    }
  return node;
}

static const char *
dig_string (JsonNode *node, const char *path)
{
  JsonNode *n = dig (node, path);
  return n && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_string (n) : NULL;
}

static gint64
dig_int (JsonNode *node, const char *path)
{
  JsonNode *n = dig (node, path);
  g_assert_nonnull (n);
  return json_node_get_int (n);
}

static guint
dig_length (JsonNode *node, const char *path)
{
  JsonNode *n = dig (node, path);
  g_assert_true (n != NULL && JSON_NODE_HOLDS_ARRAY (n));
  return json_array_get_length (json_node_get_array (n));
}

/* Whether the array at PATH holds the string WANTED. */
static gboolean
dig_contains (JsonNode *node, const char *path, const char *wanted)
{
  JsonNode *n = dig (node, path);
  g_assert_true (n != NULL && JSON_NODE_HOLDS_ARRAY (n));
  JsonArray *array = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (g_strcmp0 (json_array_get_string_element (array, i), wanted) == 0)
      return TRUE;
  return FALSE;
}

/* Bodies above this need a logged-in caller (ui-glue/pr-web-private.h). */
#define PR_TEST_WEB_SMALL_BODY 65536

/* Logs in; returns the "preread_session=..." pair for later requests. */
static char *
login (const char *user, const char *password)
{
  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"password\":\"%s\"}", user, password);
  g_autoptr (Reply) r = request ("POST", "/api/login", NULL, body);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_nonnull (r->set_cookie);
  return g_strndup (r->set_cookie, strcspn (r->set_cookie, ";"));
}

static guint
status_of (const char *method, const char *path, const Auth *auth, const char *body)
{
  g_autoptr (Reply) r = request (method, path, auth, body);
  return r->status;
}

/* ---- the world ---------------------------------------------------------------------- */

/* Runs `preread passwd ARGS` with @input on standard input; returns its stdout. */
static char *
passwd (const char *input, const char *args)
{
  g_autofree char *command = g_strdup_printf ("printf '%%s\\n' '%s' | '%s' passwd %s", input ? input : "",
                                              pr_test_preread (), args);
  char *out = NULL;
  g_autofree char *err = NULL;
  int status = pr_test_run (&out, &err, "sh", "-c", command, NULL);
  if (status != 0)
    {
      g_free (out);
      return NULL;
    }
  return out;
}

static char *
web_config (const char *work, const char *dead_port)
{
  g_autofree char *admin = passwd (ADMIN_PASSWORD, "admin --role admin");
  g_autofree char *rad = passwd (RAD_PASSWORD, "rad");
  g_autofree char *token_out = passwd (NULL, "scripts --token");
  g_assert_nonnull (admin);
  g_assert_nonnull (rad);
  g_assert_nonnull (token_out);
  g_auto (GStrv) token_lines = g_strsplit (token_out, "\n", -1);
  g_assert_true (g_str_has_prefix (token_lines[1], "<token name=\"scripts\" role=\"radiologist\""));
  world.token = g_strdup (token_lines[0]);
  const char *build = g_getenv ("PREREAD_BUILDDIR");
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"
    "  <node ae-title=\"PREREAD\" quiet-period=\"1\"/>\n"
    "  <peers><peer name=\"nowhere\" ae-title=\"NOBODY\" host=\"127.0.0.1\" port=\"%s\" objects=\"sr\""
    "   retry-base=\"1\" retry-max=\"1\" give-up-after=\"1\"/></peers>\n"
    "  <analyzers>\n"
    "    <analyzer name=\"contract\" module=\"%s/tests/analyzers/.libs/contract.so\" timeout=\"60\">\n"
    "      <parameter name=\"priority\">critical</parameter></analyzer>\n"
    "    <analyzer name=\"brightest-spot\" module=\"%s/plugin/examples/.libs/brightest-spot.so\" timeout=\"60\"/>\n"
    "    <analyzer name=\"skin-lesion\" module=\"%s/plugin/analyzers/skin-lesion/.libs/skin-lesion.so\""
    "     timeout=\"60\"/>\n"
    "  </analyzers>\n"
    "  <routes>\n"
    "    <route name=\"urgent\" priority=\"high\"><match><regex attribute=\"PatientID\">^URG</regex></match>\n"
    "      <analyze analyzer=\"contract\" prefer=\"all\"/></route>\n"
    "    <route name=\"ct\" priority=\"normal\"><match><equals attribute=\"Modality\">CT</equals></match>\n"
    "      <analyze analyzer=\"brightest-spot\" prefer=\"all\"/><results-to peer=\"nowhere\"/></route>\n"
    "    <route name=\"photo\"><match><equals attribute=\"Modality\">XC</equals></match>\n"
    "      <completion expected-instances=\"1\"/><analyze analyzer=\"skin-lesion\" prefer=\"all\"/>\n"
    "      <results-to sender=\"true\"/></route>\n"
    "  </routes>\n"
    "  <web>\n    %s    %s    %s  </web>\n</preread>\n",
    dead_port, build, build, build, admin, rad, token_lines[1]);
  return pr_test_write_file (work, "preread.xml", xml);
}

static gint64
index_id (const char *sql)
{
  return pr_test_index_int (world.daemon, sql);
}

/* A daemon with two analyzed studies: URG-1 (contract flags it critical,
 * brightest-spot too) and PID-R (brightest-spot only). */
static gboolean
world_start (void)
{
  if (!pr_test_can_make_studies ())
    return FALSE;
  world.work = pr_test_make_tmpdir ();
  g_autofree char *dead_port = g_strdup_printf ("%u", pr_test_free_port ());
  g_autofree char *config = web_config (world.work, dead_port);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { config_arg, NULL };
  world.daemon = pr_test_daemon_start (NULL, args);
  g_assert_nonnull (world.daemon->web_url);

  g_autofree char *routine = g_build_filename (world.work, "routine", NULL);
  g_autofree char *urgent = g_build_filename (world.work, "urgent", NULL);
  g_free (pr_test_make_study (routine, "--slices", "4", "--size", "48", "--seed", "routine", "--patient-id", "PID-R",
                              "--patient-name", "Routine^Rita", NULL));
  g_free (pr_test_make_study (urgent, "--slices", "4", "--size", "48", "--seed", "urgent", "--patient-id", "URG-1",
                              "--patient-name", "Urgent^Ulla", NULL));
  g_autofree char *target = pr_test_daemon_target (world.daemon);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, routine, NULL), ==, 0);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, urgent, NULL), ==, 0);
  g_assert_true (pr_test_wait_index_int (world.daemon,
                                         "SELECT count (*) FROM jobs WHERE state = 'done' AND results_state = 'built'",
                                         3, 60000));
  world.routine_study = index_id ("SELECT id FROM studies WHERE patient_id = 'PID-R'");
  world.urgent_study = index_id ("SELECT id FROM studies WHERE patient_id = 'URG-1'");
  world.contract_job = index_id ("SELECT id FROM jobs WHERE analyzer = 'contract'");
  world.brightest_job = index_id ("SELECT j.id FROM jobs j JOIN studies s ON s.id = j.study_id"
                                  " WHERE j.analyzer = 'brightest-spot' AND s.patient_id = 'URG-1'");
  world.routine_job = index_id ("SELECT j.id FROM jobs j JOIN studies s ON s.id = j.study_id"
                                " WHERE s.patient_id = 'PID-R'");
  return TRUE;
}

#define REQUIRE_WORLD()                                                                                     \
  G_STMT_START                                                                                              \
  {                                                                                                         \
    if (world.daemon == NULL)                                                                               \
      {                                                                                                     \
        g_test_skip ("needs python3-pydicom and python3-numpy to make studies (see README)");               \
        return;                                                                                             \
      }                                                                                                     \
  }                                                                                                         \
  G_STMT_END

/* ---- who may call --------------------------------------------------------------------- */

static void
test_anonymous (void)
{
  REQUIRE_WORLD ();
  /* The page itself holds no data and loads for anyone, with its CSP. */
  g_autoptr (Reply) page = request ("GET", "/", NULL, NULL);
  g_assert_cmpuint (page->status, ==, 200);
  g_assert_cmpstr (page->type, ==, "text/html");
  const char *csp = soup_message_headers_get_one (page->headers, "Content-Security-Policy");
  g_assert_nonnull (csp);
  g_assert_nonnull (strstr (csp, "frame-ancestors 'none'"));
  g_assert_cmpstr (soup_message_headers_get_one (page->headers, "X-Content-Type-Options"), ==, "nosniff");

  /* Everything else is 401, existing or not, whatever the method: an
   * anonymous caller cannot even map the API. */
  const char *paths[] = { "/api/worklist",   "/api/studies/1", "/api/jobs",     "/api/outbox",
                          "/api/analyzers",  "/api/routes",    "/api/audit",    "/api/me",
                          "/metrics",        "/api/no-such",   "/api/jobs/1/key-images/1.png" };
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (Reply) r = request ("GET", paths[i], NULL, NULL);
      g_test_message ("GET %s -> %u", paths[i], r->status);
      g_assert_cmpuint (r->status, ==, 401);
      g_autofree char *text = text_of (r);
      g_assert_null (strstr (text, "Ulla")); /* no patient data in any answer */
      g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Cache-Control"), ==, "no-store");
    }
  g_autofree char *feedback = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/feedback", world.contract_job);
  g_assert_cmpuint (status_of ("POST", feedback, NULL, "{\"verdict\":\"negative\"}"), ==, 401);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM feedback WHERE user IS NULL"), ==, 0);

  /* A wrong password and an unknown user get the same answer. */
  g_autoptr (Reply) wrong = request ("POST", "/api/login", NULL, "{\"user\":\"admin\",\"password\":\"nope\"}");
  g_autoptr (Reply) unknown = request ("POST", "/api/login", NULL, "{\"user\":\"ghost\",\"password\":\"nope\"}");
  g_assert_cmpuint (wrong->status, ==, 401);
  g_assert_cmpuint (unknown->status, ==, 401);
  g_autofree char *wrong_text = text_of (wrong), *unknown_text = text_of (unknown);
  g_assert_cmpstr (wrong_text, ==, unknown_text);
  g_assert_null (wrong->set_cookie);

  /* Made-up cookies and tokens are nobody. */
  Auth forged = { .cookie = "preread_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
  g_assert_cmpuint (status_of ("GET", "/api/worklist", &forged, NULL), ==, 401);
  Auth bad_token = { .bearer = "not-a-token" };
  g_assert_cmpuint (status_of ("GET", "/api/worklist", &bad_token, NULL), ==, 401);
}

static void
test_sessions (void)
{
  REQUIRE_WORLD ();
  g_autoptr (Reply) r = request ("POST", "/api/login", NULL, "{\"user\":\"rad\",\"password\":\"" RAD_PASSWORD "\"}");
  g_assert_cmpuint (r->status, ==, 200);
  g_test_message ("Set-Cookie: %s", r->set_cookie);
  g_assert_true (g_str_has_prefix (r->set_cookie, "preread_session="));
  g_assert_nonnull (strstr (r->set_cookie, "HttpOnly"));
  g_assert_nonnull (strstr (r->set_cookie, "SameSite=Strict"));
  g_assert_null (strstr (r->set_cookie, "Secure")); /* plain HTTP on loopback */
  g_autofree char *cookie = g_strndup (r->set_cookie, strcspn (r->set_cookie, ";"));
  g_assert_cmpuint (strlen (cookie), >=, strlen ("preread_session=") + 32);

  Auth rad = { .cookie = cookie };
  g_autoptr (Reply) me = request ("GET", "/api/me", &rad, NULL);
  g_autoptr (JsonNode) who = json_of (me);
  g_assert_cmpstr (dig_string (who, "user"), ==, "rad");
  g_assert_cmpstr (dig_string (who, "role"), ==, "radiologist");

  /* A token is a radiologist too, and needs no CSRF header (no browser). */
  Auth token = { .bearer = world.token, .no_csrf_header = TRUE };
  g_autoptr (Reply) by_token = request ("GET", "/api/me", &token, NULL);
  g_autoptr (JsonNode) program = json_of (by_token);
  g_assert_cmpstr (dig_string (program, "user"), ==, "scripts");
  g_assert_cmpstr (dig_string (program, "role"), ==, "radiologist");

  /* After logout the cookie is worth nothing. */
  g_autoptr (Reply) out = request ("POST", "/api/logout", &rad, NULL);
  g_assert_cmpuint (out->status, ==, 200);
  g_assert_nonnull (strstr (out->set_cookie, "Max-Age=0"));
  g_assert_cmpuint (status_of ("GET", "/api/me", &rad, NULL), ==, 401);
}

static void
test_roles (void)
{
  REQUIRE_WORLD ();
  g_autofree char *rad_cookie = login ("rad", RAD_PASSWORD);
  g_autofree char *admin_cookie = login ("admin", ADMIN_PASSWORD);
  Auth rad = { .cookie = rad_cookie }, admin = { .cookie = admin_cookie };
  g_autofree char *retry = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/retry", world.routine_job);
  g_autofree char *cancel = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/cancel", world.routine_job);
  gint64 attempts_before = pr_test_index_int (world.daemon, "SELECT sum (attempts) FROM jobs");

  /* What only admins may do, refused to a radiologist and changing nothing. */
  g_assert_cmpuint (status_of ("GET", "/api/audit", &rad, NULL), ==, 403);
  g_assert_cmpuint (status_of ("POST", retry, &rad, NULL), ==, 403);
  g_assert_cmpuint (status_of ("POST", cancel, &rad, NULL), ==, 403);
  g_assert_cmpuint (status_of ("POST", "/api/outbox/retry-dead", &rad, NULL), ==, 403);
  g_assert_cmpuint (status_of ("POST", "/api/outbox/1/drop", &rad, NULL), ==, 403);
  g_assert_cmpuint (status_of ("POST", "/api/analyzers/contract/enable", &rad, NULL), ==, 403);
  Auth token = { .bearer = world.token };
  g_assert_cmpuint (status_of ("GET", "/api/audit", &token, NULL), ==, 403);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT sum (attempts) FROM jobs"), ==, attempts_before);

  /* What a radiologist may: read and give feedback, but from a browser
   * only with the header other sites cannot send. */
  g_assert_cmpuint (status_of ("GET", "/api/worklist", &rad, NULL), ==, 200);
  g_assert_cmpuint (status_of ("GET", "/api/analyzers", &rad, NULL), ==, 200);
  g_assert_cmpuint (status_of ("GET", "/metrics", &rad, NULL), ==, 200);
  g_autofree char *feedback = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/feedback", world.routine_job);
  Auth forged = { .cookie = rad_cookie, .no_csrf_header = TRUE };
  g_assert_cmpuint (status_of ("POST", feedback, &forged, "{\"verdict\":\"negative\"}"), ==, 403);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM feedback"), ==, 0);

  /* Admins may; a job that is done cannot be cancelled (409), but retried. */
  g_assert_cmpuint (status_of ("GET", "/api/audit", &admin, NULL), ==, 200);
  g_assert_cmpuint (status_of ("POST", cancel, &admin, NULL), ==, 409);
  g_assert_cmpuint (status_of ("POST", retry, &admin, NULL), ==, 200);
  g_autofree char *done_again = g_strdup_printf (
    "SELECT count (*) FROM jobs WHERE id = %" G_GINT64_FORMAT " AND state = 'done' AND results_state = 'built'"
    " AND reason IS NULL", world.routine_job);
  g_assert_true (pr_test_wait_index_int (world.daemon, done_again, 1, 60000));
  g_autoptr (Reply) audit = request ("GET", "/api/audit?limit=50", &admin, NULL);
  g_autoptr (JsonNode) trail = json_of (audit);
  gboolean seen = FALSE;
  for (guint i = 0; i < dig_length (trail, "audit"); i++)
    {
      g_autofree char *prefix = g_strdup_printf ("audit.%u.", i);
      g_autofree char *action = g_strconcat (prefix, "action", NULL), *user = g_strconcat (prefix, "user", NULL);
      if (g_strcmp0 (dig_string (trail, action), "retry-job") == 0 && g_strcmp0 (dig_string (trail, user), "admin") == 0)
        seen = TRUE;
    }
  g_assert_true (seen);
}

/* ---- hostile requests ----------------------------------------------------------------- */

/* Everything a request could have changed. */
static char *
snapshot (void)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                          pr_test_index_int (world.daemon, "SELECT count (*) FROM feedback"),
                          pr_test_index_int (world.daemon, "SELECT sum (attempts) + count (*) FROM jobs"),
                          pr_test_index_int (world.daemon, "SELECT count (*) FROM outbox WHERE state = 'dead'"),
                          pr_test_index_int (world.daemon, "SELECT count (*) FROM jobs WHERE state = 'queued'"));
}

static void
test_hostile (void)
{
  REQUIRE_WORLD ();
  g_autofree char *cookie = login ("admin", ADMIN_PASSWORD);
  Auth admin = { .cookie = cookie };
  g_autofree char *before = snapshot ();
  g_autofree char *feedback = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/feedback", world.contract_job);

  /* A body too large is refused from its length, before it is read. */
  gsize big = 70 * 1024;
  g_autofree char *huge = g_malloc (big);
  memset (huge, ' ', big);
  huge[0] = '{';
  huge[big - 1] = '}';
  g_autoptr (Reply) too_big = request_bytes (world.daemon->web_url, "POST", feedback, &admin, huge, big);
  g_assert_cmpuint (too_big->status, ==, 413);
  /* A body without a length (chunked) is refused too. */
  Auth chunked = { .cookie = cookie, .chunked = TRUE };
  g_autoptr (Reply) no_length = request ("POST", feedback, &chunked, "{\"verdict\":\"negative\"}");
  g_assert_cmpuint (no_length->status, ==, 411);
  g_autoptr (Reply) login_big = request_bytes (world.daemon->web_url, "POST", "/api/login", NULL, huge, big);
  g_assert_cmpuint (login_big->status, ==, 413);

  /* Bodies that are not what they should be. */
  const char *bodies[] = { "{",
                           "[]",
                           "\"agree\"",
                           "{\"verdict\":\"maybe\"}",
                           "{\"verdict\":\"agree\"}",                /* which finding? */
                           "{\"verdict\":\"agree\",\"finding\":-1}",
                           "{\"verdict\":42}",
                           "{\"verdict\":\"agree\",\"finding\":\"1\"}",
                           "\xff\xfe{}" };
  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      guint status = status_of ("POST", feedback, &admin, bodies[i]);
      g_test_message ("body %zu -> %u", i, status);
      g_assert_cmpuint (status, ==, 400);
    }
  g_autofree char *long_comment = g_strnfill (2001, 'x');
  g_autofree char *too_long = g_strdup_printf ("{\"verdict\":\"negative\",\"comment\":\"%s\"}", long_comment);
  g_assert_cmpuint (status_of ("POST", feedback, &admin, too_long), ==, 400);
  g_assert_cmpuint (status_of ("POST", feedback, &admin, "{\"verdict\":\"agree\",\"finding\":100000}"), ==, 409);
  g_assert_cmpuint (status_of ("POST", "/api/login", NULL, "{\"user\":1}"), ==, 400);

  /* Paths that try to escape or to confuse the router: 404, never a file. */
  const char *paths[] = { "/../../../../etc/passwd",
                          "/%2e%2e/%2e%2e/etc/passwd",
                          "/..%2f..%2fetc%2fpasswd",
                          "/api/studies/0",
                          "/api/studies/-1",
                          "/api/studies/1e3",
                          "/api/studies/0x10",
                          "/api/studies/99999999999999999999",
                          "/api/studies/1%00",
                          "/api/studies/999999",
                          "/api/jobs/1/key-images/..%2f..%2findex.html",
                          "/api/jobs/1/key-images/1.jpg",
                          "/api/jobs/999999/key-images/1.png",
                          "/index.html%00.png",
                          "/app.js/",
                          "/api" };
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (Reply) r = request ("GET", paths[i], &admin, NULL);
      g_test_message ("GET %s -> %u", paths[i], r->status);
      /* 404 from us, or 400 from libsoup for a path it will not normalize. */
      g_assert_true (r->status == 404 || r->status == 400);
      g_autofree char *text = text_of (r);
      g_assert_null (strstr (text, "root:")); /* /etc/passwd */
    }
  /* Known paths with the wrong method. */
  g_assert_cmpuint (status_of ("DELETE", "/api/worklist", &admin, NULL), ==, 405);
  g_assert_cmpuint (status_of ("GET", "/api/login", NULL, NULL), ==, 405);
  g_assert_cmpuint (status_of ("GET", feedback, &admin, NULL), ==, 405);
  g_assert_cmpuint (status_of ("POST", "/", &admin, "{}"), ==, 405);
  /* Malformed query values. */
  g_assert_cmpuint (status_of ("GET", "/api/worklist?from=yesterday", &admin, NULL), ==, 400);
  g_assert_cmpuint (status_of ("GET", "/api/worklist?to=2026-13-45-1", &admin, NULL), ==, 400);
  g_assert_cmpuint (status_of ("GET", "/api/worklist?text=%27%3B%20DROP%20TABLE%20studies%3B--", &admin, NULL), ==,
                    200);

  g_autofree char *after = snapshot ();
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM studies"), ==, 2);
  g_assert_true (pr_test_daemon_is_alive (world.daemon));
}

/* ---- reading ------------------------------------------------------------------------- */

static guint
worklist_count (const Auth *auth, const char *query)
{
  g_autofree char *path = g_strconcat ("/api/worklist", query, NULL);
  g_autoptr (Reply) r = request ("GET", path, auth, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonNode) list = json_of (r);
  return dig_length (list, "studies");
}

static void
test_worklist (void)
{
  REQUIRE_WORLD ();
  Auth token = { .bearer = world.token };
  g_autoptr (Reply) r = request ("GET", "/api/worklist", &token, NULL);
  g_autoptr (JsonNode) list = json_of (r);
  g_assert_cmpuint (dig_length (list, "studies"), ==, 2);
  /* The urgent study first though it was not received last... */
  g_assert_cmpint (dig_int (list, "studies.0.id"), ==, world.urgent_study);
  g_assert_cmpstr (dig_string (list, "studies.0.priority"), ==, "critical");
  g_assert_cmpint (dig_int (list, "studies.0.priority_rank"), ==, 3);
  g_assert_cmpstr (dig_string (list, "studies.0.patient_name"), ==, "Urgent^Ulla");
  g_assert_cmpstr (dig_string (list, "studies.0.state"), ==, "analyzed");
  g_assert_cmpstr (dig_string (list, "studies.0.modalities.0"), ==, "CT");
  g_assert_cmpuint (dig_length (list, "studies.0.analyzers"), ==, 2);
  g_assert_nonnull (strstr (dig_string (list, "studies.0.summary"), "contract: "));
  g_assert_cmpint (dig_int (list, "studies.0.finding_count"), >, 1);
  /* ...with its times in order. */
  const char *received = dig_string (list, "studies.0.received_at");
  const char *complete = dig_string (list, "studies.0.complete_at");
  const char *analyzed = dig_string (list, "studies.0.analyzed_at");
  g_assert_true (received && complete && analyzed);
  g_assert_true (g_str_has_suffix (received, "Z"));
  g_assert_cmpint (strcmp (received, complete), <, 0);
  g_assert_cmpint (strcmp (complete, analyzed), <, 0);
  g_assert_cmpstr (dig_string (list, "studies.1.priority"), ==, "routine");

  /* Filters. */
  g_assert_cmpuint (worklist_count (&token, "?priority=critical"), ==, 1);
  g_assert_cmpuint (worklist_count (&token, "?priority=urgent"), ==, 0);
  g_assert_cmpuint (worklist_count (&token, "?text=ulla"), ==, 1);
  g_assert_cmpuint (worklist_count (&token, "?text=PID-R"), ==, 1);
  g_assert_cmpuint (worklist_count (&token, "?modality=CT"), ==, 2);
  g_assert_cmpuint (worklist_count (&token, "?modality=MR"), ==, 0);
  g_assert_cmpuint (worklist_count (&token, "?analyzer=contract"), ==, 1);
  g_assert_cmpuint (worklist_count (&token, "?state=analyzed"), ==, 2);
  g_assert_cmpuint (worklist_count (&token, "?state=receiving"), ==, 0);
  g_assert_cmpuint (worklist_count (&token, "?from=2099-01-01"), ==, 0);
  g_assert_cmpuint (worklist_count (&token, "?from=2000-01-01&to=20991231"), ==, 2);
  g_assert_cmpuint (worklist_count (&token, "?limit=1"), ==, 1);
  g_assert_cmpuint (worklist_count (&token, "?text=%25"), ==, 2); /* a LIKE wildcard matches as a wildcard, harmlessly */
}

static void
test_study (void)
{
  REQUIRE_WORLD ();
  Auth token = { .bearer = world.token };
  g_autofree char *path = g_strdup_printf ("/api/studies/%" G_GINT64_FORMAT, world.urgent_study);
  g_autoptr (Reply) r = request ("GET", path, &token, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonNode) study = json_of (r);
  g_assert_cmpstr (dig_string (study, "study.patient_id"), ==, "URG-1");
  g_assert_cmpuint (dig_length (study, "series"), ==, 1);
  g_assert_cmpuint (dig_length (study, "jobs"), ==, 2);
  /* brightest-spot's finding, with its measurement and location. */
  JsonNode *jobs = dig (study, "jobs");
  JsonNode *brightest = NULL;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (jobs)); i++)
    {
      JsonNode *job = json_array_get_element (json_node_get_array (jobs), i);
      if (g_strcmp0 (dig_string (job, "analyzer"), "brightest-spot") == 0)
        brightest = job;
    }
  g_assert_nonnull (brightest);
  g_assert_cmpstr (dig_string (brightest, "analyzer_version"), ==, "1.0.0");
  g_assert_cmpstr (dig_string (brightest, "findings.0.measurements.0.unit"), ==, "[hnsf'U]");
  g_assert_cmpstr (dig_string (brightest, "findings.0.location.shape"), ==, "point");
  g_assert_cmpstr (dig_string (brightest, "findings.0.location.sop_instance_uid"), ==,
                   dig_string (brightest, "key_images.0.sop_instance_uid"));
  /* Its result objects, each with a kind and a delivery to the dead peer. */
  g_assert_cmpuint (dig_length (study, "results"), >=, 4);
  /* Reading a study is in the audit trail, with who read it. */
  g_assert_true (pr_test_wait_index_int (
    world.daemon, "SELECT count (*) > 0 FROM audit WHERE action = 'view-study' AND user = 'scripts'", 1, 5000));
}

static gboolean
is_png (GBytes *bytes)
{
  gsize n = 0;
  const guint8 *data = g_bytes_get_data (bytes, &n);
  return n > 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static void
test_key_images (void)
{
  REQUIRE_WORLD ();
  Auth token = { .bearer = world.token };
  g_autofree char *with = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/key-images/1.png", world.brightest_job);
  g_autofree char *without = g_strconcat (with, "?overlay=0", NULL);
  g_autoptr (Reply) a = request ("GET", with, &token, NULL);
  g_autoptr (Reply) b = request ("GET", without, &token, NULL);
  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpuint (b->status, ==, 200);
  g_assert_cmpstr (a->type, ==, "image/png");
  g_assert_true (is_png (a->body));
  g_assert_true (is_png (b->body));
  g_assert_false (g_bytes_equal (a->body, b->body)); /* the overlay is drawn on one only */
  /* The second time comes from the cache, the same. */
  g_autoptr (Reply) again = request ("GET", with, &token, NULL);
  g_assert_true (g_bytes_equal (a->body, again->body));
  /* A key image the job does not have. */
  g_autofree char *missing = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/key-images/9.png", world.brightest_job);
  g_assert_cmpuint (status_of ("GET", missing, &token, NULL), ==, 404);
}

/* ---- feedback becomes measurement -------------------------------------------------------------- */

/* The feedback statistics of @analyzer's first version. */
static JsonNode *
stats_of (const Auth *auth, const char *analyzer)
{
  g_autoptr (Reply) r = request ("GET", "/api/analyzers", auth, NULL);
  g_autoptr (JsonNode) all = json_of (r);
  JsonArray *list = json_node_get_array (dig (all, "analyzers"));
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *a = json_array_get_element (list, i);
      if (g_strcmp0 (dig_string (a, "name"), analyzer) == 0)
        return json_node_copy (a);
    }
  g_assert_not_reached ();
}

static void
post_feedback (const Auth *auth, gint64 job, const char *body)
{
  g_autofree char *path = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/feedback", job);
  g_autoptr (Reply) r = request ("POST", path, auth, body);
  g_autofree char *text = text_of (r);
  g_test_message ("feedback %s -> %u %s", body, r->status, text);
  g_assert_cmpuint (r->status, ==, 200);
}

static void
test_feedback (void)
{
  REQUIRE_WORLD ();
  g_autofree char *cookie = login ("rad", RAD_PASSWORD);
  Auth rad = { .cookie = cookie };
  /* On the contract job: agree with finding 1, disagree with 2, one miss;
   * then change the mind on 2: the later verdict replaces the earlier. */
  post_feedback (&rad, world.contract_job, "{\"verdict\":\"agree\",\"finding\":1}");
  post_feedback (&rad, world.contract_job, "{\"verdict\":\"agree\",\"finding\":2}");
  post_feedback (&rad, world.contract_job, "{\"verdict\":\"disagree\",\"finding\":2,\"comment\":\"artefact\"}");
  post_feedback (&rad, world.contract_job, "{\"verdict\":\"missed\",\"comment\":\"nodule RUL\"}");
  /* Brightest-spot flagged the routine study; the radiologist says it is negative. */
  post_feedback (&rad, world.routine_job, "{\"verdict\":\"negative\"}");

  g_autoptr (JsonNode) contract = stats_of (&rad, "contract");
  g_assert_cmpstr (dig_string (contract, "feedback.0.version"), ==, "1.2.3");
  g_assert_cmpint (dig_int (contract, "feedback.0.judged_studies"), ==, 1);
  g_assert_cmpint (dig_int (contract, "feedback.0.agreement.count"), ==, 1);
  g_assert_cmpint (dig_int (contract, "feedback.0.agreement.of"), ==, 2);
  g_assert_cmpfloat_with_epsilon (json_node_get_double (dig (contract, "feedback.0.agreement.value")), 0.5, 1e-9);
  /* Wilson 95 % for 1 of 2: 0.0945 to 0.9055. */
  g_assert_cmpfloat_with_epsilon (json_node_get_double (dig (contract, "feedback.0.agreement.ci95.0")), 0.0945, 1e-3);
  g_assert_cmpfloat_with_epsilon (json_node_get_double (dig (contract, "feedback.0.agreement.ci95.1")), 0.9055, 1e-3);
  g_assert_cmpint (dig_int (contract, "feedback.0.finding_sensitivity.of"), ==, 2); /* 1 agreed + 1 missed */
  g_assert_cmpint (dig_int (contract, "feedback.0.ppv.count"), ==, 1);              /* a true positive study */

  g_autoptr (JsonNode) brightest = stats_of (&rad, "brightest-spot");
  g_assert_cmpint (dig_int (brightest, "feedback.0.specificity.count"), ==, 0); /* flagged a negative study */
  g_assert_cmpint (dig_int (brightest, "feedback.0.specificity.of"), ==, 1);
  g_assert_cmpint (dig_int (brightest, "feedback.0.ppv.of"), ==, 1);
  g_assert_true (JSON_NODE_HOLDS_NULL (dig (brightest, "feedback.0.sensitivity.value"))); /* nothing to say yet */

  /* Who said what, in the study and in the metrics. */
  g_autofree char *path = g_strdup_printf ("/api/studies/%" G_GINT64_FORMAT, world.urgent_study);
  g_autoptr (Reply) r = request ("GET", path, &rad, NULL);
  g_autoptr (JsonNode) study = json_of (r);
  g_assert_cmpuint (dig_length (study, "feedback"), ==, 3);
  g_assert_cmpstr (dig_string (study, "feedback.1.user"), ==, "rad");
  g_assert_cmpstr (dig_string (study, "feedback.1.analyzer_version"), ==, "1.2.3");
  g_assert_true (dig_contains (study, "study.flags", "reviewed"));
  g_autoptr (Reply) m = request ("GET", "/metrics", &rad, NULL);
  g_autofree char *metrics = text_of (m);
  g_assert_true (g_str_has_prefix (m->type, "text/plain"));
  g_assert_nonnull (strstr (metrics, "preread_feedback_total{verdict=\"agree\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "preread_feedback_total{verdict=\"disagree\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "preread_instances_total 8\n"));
  g_assert_nonnull (strstr (metrics, "preread_analyzer_latency_seconds{analyzer=\"contract\",quantile=\"0.95\"} "));
  g_assert_nonnull (strstr (metrics, "preread_analyzer_latency_seconds_count{analyzer=\"contract\"} 1\n"));
}

/* ---- HTTPS ---------------------------------------------------------------------------- */

/* With <web><tls>, the daemon speaks only HTTPS: a client that trusts our CA
 * logs in and gets a Secure cookie; plain HTTP on that port gets nothing. */
static void
test_https (void)
{
  PR_TEST_REQUIRE ("openssl");
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *tls = g_build_filename (work, "tls", NULL);
  pr_test_make_tls (tls);
  g_autofree char *rad = passwd (RAD_PASSWORD, "rad");
  g_assert_nonnull (rad);
  g_autofree char *xml = g_strdup_printf ("<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"
                                          "  <node ae-title=\"PREREAD\"/>\n"
                                          "  <web>\n    <tls certificate=\"%s/peer.crt\" key=\"%s/peer.key\"/>\n"
                                          "    %s  </web>\n</preread>\n",
                                          tls, tls, rad);
  g_autofree char *config = pr_test_write_file (work, "preread.xml", xml);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { config_arg, NULL };
  g_autoptr (PrTestDaemon) daemon = pr_test_daemon_start (NULL, args);
  g_assert_true (g_str_has_prefix (daemon->web_url, "https://127.0.0.1:"));

  g_autofree char *ca = g_build_filename (tls, "ca.crt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsDatabase) trusted = g_tls_file_database_new (ca, &error);
  g_assert_no_error (error);
  g_autoptr (SoupSession) session = soup_session_new_with_options ("tls-database", trusted, "timeout", 30, NULL);
  g_autofree char *login_url = g_strconcat (daemon->web_url, "api/login", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", login_url);
  g_autofree char *body = g_strdup_printf ("{\"user\":\"rad\",\"password\":\"%s\"}", RAD_PASSWORD);
  g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  g_autoptr (GBytes) answer = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  const char *cookie = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Set-Cookie");
  g_test_message ("Set-Cookie: %s", cookie);
  g_assert_nonnull (strstr (cookie, "; Secure"));
  const char *hsts = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Strict-Transport-Security");
  g_assert_nonnull (hsts);

  /* The same port in clear: no answer we would accept as HTTP. */
  g_autofree char *plain = g_strdup_printf ("http://%s", daemon->web_url + strlen ("https://"));
  g_autofree char *plain_url = g_strconcat (plain, "api/me", NULL);
  g_autoptr (SoupSession) clear = soup_session_new_with_options ("timeout", 10, NULL);
  g_autoptr (SoupMessage) in_clear = soup_message_new ("GET", plain_url);
  g_autoptr (GError) clear_error = NULL;
  g_autoptr (GBytes) nothing = soup_session_send_and_read (clear, in_clear, NULL, &clear_error);
  g_test_message ("plain HTTP to the HTTPS port: %u %s", soup_message_get_status (in_clear),
                  clear_error ? clear_error->message : "");
  g_assert_true (clear_error != NULL || soup_message_get_status (in_clear) >= 400);
  pr_test_daemon_stop (daemon);
  pr_test_remove_tree (work);
}

/* ---- photos from a phone ---------------------------------------------------------------- */

static guint
upload_status (const char *query, const Auth *auth, const char *type, const void *body, gsize length,
               char **message)
{
  Auth with_type = *auth;
  with_type.type = type;
  g_autofree char *path = g_strconcat ("/api/photos", query, NULL);
  g_autoptr (Reply) r = request_bytes (world.daemon->web_url, "POST", path, &with_type, body, length);
  if (message != NULL)
    *message = text_of (r);
  return r->status;
}

static void
test_photo_upload (void)
{
  REQUIRE_WORLD ();
  PR_TEST_REQUIRE ("dcmj2pnm");
  g_autofree char *jpeg = pr_test_make_photo (world.work, "11", NULL);
  g_autofree char *photo = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (jpeg, &photo, &length, NULL));
  g_autofree char *cookie = login ("rad", RAD_PASSWORD);
  Auth rad = { .cookie = cookie };
  Auth nobody = { 0 };
  gint64 studies = pr_test_index_int (world.daemon, "SELECT count (*) FROM studies");

  /* Refused, with a reason, and nothing stored. */
  struct {
    const char *query, *type;
    const void *body;
    gsize length;
    guint status;
    const char *says;
  } refused[] = {
    { "?patient_id=DERM-1", "text/plain", photo, length, 415, "image/jpeg or image/png" },
    { "?patient_id=DERM-1", "image/jpeg", "not a photo at all", 18, 400, "JPEG or PNG" },
    { "", "image/jpeg", photo, length, 400, "patient_id is required" },
    { "?patient_id=A%5CB", "image/jpeg", photo, length, 400, "backslash" },
    { "?patient_id=DERM-1&patient_name=A%3DB", "image/jpeg", photo, length, 400, "one representation" },
    { "?patient_id=DERM-1", "image/jpeg", photo, 400, 400, "cannot be wrapped" }, /* cut short */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *message = NULL;
      guint status = upload_status (refused[i].query, &rad, refused[i].type, refused[i].body, refused[i].length,
                                    &message);
      g_test_message ("upload %s %s (%zu bytes) -> %u %s", refused[i].query, refused[i].type, refused[i].length,
                      status, message);
      g_assert_cmpuint (status, ==, refused[i].status);
      g_assert_nonnull (strstr (message, refused[i].says));
    }
  /* A big body from someone not logged in is refused before it is read. */
  gsize huge = 33 * 1024 * 1024;
  g_autofree char *big = g_malloc0 (huge);
  memcpy (big, photo, length);
  g_assert_cmpuint (upload_status ("?patient_id=DERM-1", &nobody, "image/jpeg", big, 2 * PR_TEST_WEB_SMALL_BODY, NULL),
                    ==, 413);
  g_assert_cmpuint (upload_status ("?patient_id=DERM-1", &nobody, "image/jpeg", photo, 1000, NULL), ==, 401);
  /* And one too big even for a radiologist. */
  g_assert_cmpuint (upload_status ("?patient_id=DERM-1", &rad, "image/jpeg", big, huge, NULL), ==, 413);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM studies"), ==, studies);

  /* The photo becomes a study of its own, analyzed, with its key image. */
  g_autofree char *answer = NULL;
  guint status = upload_status ("?patient_id=DERM-1&patient_name=Doe%5EJane&body_site=left%20forearm", &rad,
                                "image/jpeg", photo, length, &answer);
  g_test_message ("upload -> %u %s", status, answer);
  g_assert_cmpuint (status, ==, 201);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, answer, -1, NULL));
  JsonNode *root = json_parser_get_root (parser);
  gint64 study_id = dig_int (root, "study_id");
  g_assert_cmpint (study_id, ==, pr_test_index_int (world.daemon, "SELECT id FROM studies WHERE patient_id = 'DERM-1'"));
  g_assert_true (pr_test_wait_index_int (world.daemon,
                                         "SELECT count (*) FROM jobs WHERE analyzer = 'skin-lesion' AND state = 'done'"
                                         " AND results_state = 'built'",
                                         1, 60000));
  g_autofree char *study_path = g_strdup_printf ("/api/studies/%" G_GINT64_FORMAT, study_id);
  g_autoptr (Reply) r = request ("GET", study_path, &rad, NULL);
  g_autoptr (JsonNode) study = json_of (r);
  g_assert_cmpstr (dig_string (study, "study.patient_name"), ==, "Doe^Jane");
  g_assert_cmpstr (dig_string (study, "study.modalities.0"), ==, "XC");
  g_assert_cmpstr (dig_string (study, "series.0.body_part_examined"), ==, "ARM");
  g_assert_cmpstr (dig_string (study, "jobs.0.analyzer"), ==, "skin-lesion");
  g_assert_cmpuint (dig_length (study, "jobs.0.findings"), ==, 1);
  g_assert_true (g_str_has_suffix (dig_string (study, "jobs.0.findings.0.type.meaning"), "lesion"));
  gint64 job = dig_int (study, "jobs.0.id");
  g_autofree char *image = g_strdup_printf ("/api/jobs/%" G_GINT64_FORMAT "/key-images/1.png", job);
  g_autoptr (Reply) png = request ("GET", image, &rad, NULL);
  g_assert_cmpuint (png->status, ==, 200);
  g_assert_cmpstr (png->type, ==, "image/png");
  /* Results go back to the sender; the uploader reads them here, so none waits in the outbox. */
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM results r JOIN jobs j ON j.id = r.job_id"
                                                    " WHERE j.analyzer = 'skin-lesion' AND r.kind = 'sc'"),
                   ==, 1);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM outbox o JOIN studies s ON s.id = o.study_id"
                                                    " WHERE s.patient_id = 'DERM-1'"),
                   ==, 0);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM audit WHERE action = 'upload-photo'"
                                                    " AND user = 'rad'"),
                   ==, 1);
  g_assert_true (pr_test_daemon_is_alive (world.daemon));
}

/* ---- operating ---------------------------------------------------------------------------------- */

static void
test_outbox_actions (void)
{
  REQUIRE_WORLD ();
  g_autofree char *cookie = login ("admin", ADMIN_PASSWORD);
  Auth admin = { .cookie = cookie };
  /* The peer never answers and gives up after a second: dead letters. */
  g_assert_true (pr_test_wait_index_int (
    world.daemon, "SELECT sum (state = 'dead') > 0 AND sum (state NOT IN ('dead', 'cancelled')) = 0 FROM outbox", 1,
    60000));
  g_autoptr (Reply) list = request ("GET", "/api/outbox?state=dead", &admin, NULL);
  g_autoptr (JsonNode) items = json_of (list);
  guint dead = dig_length (items, "items");
  g_assert_cmpuint (dead, >, 0);
  g_assert_nonnull (dig_string (items, "items.0.last_error"));
  gint64 first = dig_int (items, "items.0.id");
  g_autoptr (Reply) w = request ("GET", "/api/worklist?text=PID-R", &admin, NULL);
  g_autoptr (JsonNode) worklist = json_of (w);
  g_assert_true (dig_contains (worklist, "studies.0.flags", "delivery-failed"));

  /* The routine job ran again in test_roles: its first result went nowhere, superseded. */
  gint64 cancelled = pr_test_index_int (world.daemon, "SELECT count (*) FROM outbox WHERE state = 'cancelled'");
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM outbox WHERE last_error LIKE 'superseded%'"),
                   ==, 1);
  g_autofree char *drop = g_strdup_printf ("/api/outbox/%" G_GINT64_FORMAT "/drop", first);
  g_assert_cmpuint (status_of ("POST", drop, &admin, NULL), ==, 200);
  g_assert_cmpuint (status_of ("POST", drop, &admin, NULL), ==, 409); /* already dropped */
  g_autoptr (Reply) retried = request ("POST", "/api/outbox/retry-dead", &admin, NULL);
  g_assert_cmpuint (retried->status, ==, 200);
  g_autoptr (JsonNode) answer = json_of (retried);
  g_autofree char *expected = g_strdup_printf ("%u dead letter(s) are due again", dead - 1);
  g_assert_cmpstr (dig_string (answer, "message"), ==, expected);
  g_assert_cmpint (pr_test_index_int (world.daemon, "SELECT count (*) FROM outbox WHERE state = 'cancelled'"), ==,
                   cancelled + 1);

  /* Each action is in the audit trail. */
  g_assert_cmpint (pr_test_index_int (world.daemon,
                                      "SELECT count (*) FROM audit WHERE user = 'admin' AND action IN"
                                      " ('drop-delivery', 'retry-dead-letters')"),
                   ==, 2);
  g_autoptr (Reply) routes = request ("GET", "/api/routes", &admin, NULL);
  g_autoptr (JsonNode) config = json_of (routes);
  g_assert_cmpstr (dig_string (config, "routes.0.name"), ==, "urgent");
  g_assert_cmpstr (dig_string (config, "routes.0.analyses.0.analyzer"), ==, "contract");
}

/* ---- the lockout, on a daemon of its own ------------------------------------------------------ */

static void
test_lockout (void)
{
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *admin = passwd (ADMIN_PASSWORD, "admin --role admin");
  g_autofree char *xml = g_strdup_printf ("<preread version=\"1\"><web>%s</web></preread>", admin);
  g_autofree char *config = pr_test_write_file (work, "preread.xml", xml);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { config_arg, NULL };
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, args);
  const char *body = "{\"user\":\"admin\",\"password\":\"guess\"}";
  for (int i = 0; i < 10; i++)
    {
      g_autoptr (Reply) r = request_bytes (d->web_url, "POST", "/api/login", NULL, body, strlen (body));
      g_assert_cmpuint (r->status, ==, 401);
    }
  /* Now even the right password is refused, from this address. */
  const char *right = "{\"user\":\"admin\",\"password\":\"" ADMIN_PASSWORD "\"}";
  g_autoptr (Reply) locked = request_bytes (d->web_url, "POST", "/api/login", NULL, right, strlen (right));
  g_assert_cmpuint (locked->status, ==, 429);
  g_assert_null (locked->set_cookie);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count (*) FROM audit WHERE action = 'login-failed'"), >=, 10);
}

/* ---- preread passwd ---------------------------------------------------------------------------- */

static void
test_passwd (void)
{
  g_autofree char *line = passwd ("a long enough password", "alice --role admin");
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "<user name=\"alice\" role=\"admin\" password-hash=\"pbkdf2-sha256$600000$"));
  /* A fresh salt each time. */
  g_autofree char *again = passwd ("a long enough password", "alice --role admin");
  g_assert_cmpstr (line, !=, again);
  g_assert_null (strstr (line, "a long enough password"));
  /* Refused: short passwords, names the configuration would not take, unknown roles. */
  g_assert_null (passwd ("short", "alice"));
  g_assert_null (passwd ("a long enough password", "Alice"));
  g_assert_null (passwd ("a long enough password", "'a b'"));
  g_assert_null (passwd ("a long enough password", "alice --role root"));
  /* A token: the secret once, and a line whose hash is not the secret. */
  g_autofree char *token = passwd (NULL, "ci --token --role admin");
  g_auto (GStrv) lines = g_strsplit (token, "\n", -1);
  g_assert_cmpuint (strlen (lines[0]), >=, 40);
  g_assert_true (g_str_has_prefix (lines[1], "<token name=\"ci\" role=\"admin\" hash=\"sha256$"));
  g_assert_null (strstr (lines[1], lines[0]));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/web/passwd", test_passwd);
  g_test_add_func ("/web/anonymous", test_anonymous);
  g_test_add_func ("/web/sessions", test_sessions);
  g_test_add_func ("/web/roles", test_roles);
  g_test_add_func ("/web/hostile", test_hostile);
  g_test_add_func ("/web/worklist", test_worklist);
  g_test_add_func ("/web/study", test_study);
  g_test_add_func ("/web/key-images", test_key_images);
  g_test_add_func ("/web/feedback", test_feedback);
  g_test_add_func ("/web/outbox-actions", test_outbox_actions);
  g_test_add_func ("/web/photo-upload", test_photo_upload);
  g_test_add_func ("/web/https", test_https);
  g_test_add_func ("/web/lockout", test_lockout);
  gboolean started = world_start ();
  int status = g_test_run ();
  if (started)
    {
      pr_test_daemon_free (world.daemon);
      if (!g_test_failed ())
        pr_test_remove_tree (world.work);
    }
  return status;
}
