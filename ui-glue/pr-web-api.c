/* pr-web-api.c: the REST API: routes, roles, and what each does (see ui-glue/API.md). */
#include "config.h"

#include "pr-web-private.h"

#include <string.h>

#include <gio/gio.h>

typedef void (*Handler) (PrWebRequest *r);

typedef struct {
  const char *method;
  const char *pattern;          /* segments; "#" an id, "*" a name */
  PrWebRole role;               /* the least role that may call it */
  Handler handler;
} Route;

/* ---- helpers ---------------------------------------------------------------------------- */

static gboolean
parse_id (const char *text, gint64 *id)
{
  if (text == NULL || *text == '\0' || strlen (text) > 18)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  *id = g_ascii_strtoll (text, NULL, 10);
  return *id > 0;
}

static guint
limit_of (PrWebRequest *r)
{
  const char *text = pr_web_query (r, "limit");
  guint64 limit = text ? g_ascii_strtoull (text, NULL, 10) : 200;
  return (guint) CLAMP (limit, 1, 1000);
}

/* "2026-11-23" or "20261123" as "20261123"; NULL when it is neither. */
static char *
normalize_date (const char *text)
{
  GString *digits = g_string_new (NULL);
  for (const char *p = text; *p; p++)
    if (g_ascii_isdigit (*p))
      g_string_append_c (digits, *p);
    else if (*p != '-')
      break;
  if (digits->len != 8 || strlen (text) > 10)
    {
      g_string_free (digits, TRUE);
      return NULL;
    }
  return g_string_free (digits, FALSE);
}

static void
respond_result (PrWebRequest *r, JsonNode *node, GError *error)
{
  if (node == NULL)
    {
      guint status = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? 404 : 500;
      pr_web_respond_error (r->msg, status, "%s", error ? error->message : "failed");
      return;
    }
  pr_web_respond_json (r->msg, 200, node);
  json_node_unref (node);
}

static void
respond_done (PrWebRequest *r, gboolean ok, GError *error, const char *message)
{
  if (!ok)
    {
      guint status = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? 409 : 500;
      pr_web_respond_error (r->msg, status, "%s", error ? error->message : "failed");
      return;
    }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  pr_web_respond_json (r->msg, 200, node);
}

static void
audit (PrWebRequest *r, const char *action, const char *target, const char *detail)
{
  const PrWebBackend *be = r->server->backend;
  be->audit (be->data, r->caller ? r->caller->user : "(anonymous)",
             r->caller ? pr_web_role_to_string (r->caller->role) : NULL, action, target, detail, r->remote);
}

/* ---- reading -------------------------------------------------------------------------- */

static void
get_me (PrWebRequest *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user");
  json_builder_add_string_value (b, r->caller->user);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, pr_web_role_to_string (r->caller->role));
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  pr_web_respond_json (r->msg, 200, node);
}

static void
get_worklist (PrWebRequest *r)
{
  PrWebWorklistQuery q = { pr_web_query (r, "text"),     pr_web_query (r, "modality"), pr_web_query (r, "analyzer"),
                           pr_web_query (r, "priority"), pr_web_query (r, "state"),    pr_web_query (r, "from"),
                           pr_web_query (r, "to"),       limit_of (r) };
  /* Dates are YYYYMMDD, or YYYY-MM-DD from a date input; empty is none. */
  if (q.date_from && !*q.date_from)
    q.date_from = NULL;
  if (q.date_to && !*q.date_to)
    q.date_to = NULL;
  g_autofree char *from = NULL, *to = NULL;
  if ((q.date_from && !(from = normalize_date (q.date_from))) || (q.date_to && !(to = normalize_date (q.date_to))))
    {
      pr_web_respond_error (r->msg, 400, "dates are YYYY-MM-DD");
      return;
    }
  q.date_from = from;
  q.date_to = to;
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  respond_result (r, be->worklist (be->data, &q, &error), error);
}

static void
get_study (PrWebRequest *r)
{
  gint64 id = 0;
  parse_id (r->segments[1], &id);
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  JsonNode *node = be->study (be->data, id, &error);
  if (node != NULL)
    audit (r, "view-study", r->segments[1], NULL);
  respond_result (r, node, error);
}

static void
get_jobs (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  respond_result (r, be->jobs (be->data, pr_web_query (r, "state"), limit_of (r), &error), error);
}

static void
get_outbox (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  respond_result (r, be->outbox (be->data, pr_web_query (r, "state"), limit_of (r), &error), error);
}

static void
get_analyzers (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  respond_result (r, be->analyzers (be->data, &error), error);
}

static void
get_routes (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  respond_result (r, be->routes (be->data, &error), error);
}

static void
get_audit (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  respond_result (r, be->audit_log (be->data, limit_of (r), &error), error);
}

static void
get_metrics (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = be->metrics (be->data, &error);
  if (text == NULL)
    {
      pr_web_respond_error (r->msg, 500, "%s", error->message);
      return;
    }
  soup_server_message_set_status (r->msg, 200, NULL);
  soup_server_message_set_response (r->msg, "text/plain; version=0.0.4; charset=utf-8", SOUP_MEMORY_COPY, text,
                                    strlen (text));
}

/* ---- key images (asynchronous: rendered by a child process) ---------------------------- */

typedef struct {
  SoupServerMessage *msg;
} Pending;

static void
on_image_ready (const char *path, const GError *error, gpointer user_data)
{
  Pending *p = user_data;
  g_autofree char *data = NULL;
  gsize length = 0;
  if (error != NULL || path == NULL || !g_file_get_contents (path, &data, &length, NULL))
    pr_web_respond_error (p->msg, error && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? 404 : 500,
                          "%s", error ? error->message : "the image could not be read");
  else
    {
      soup_server_message_set_status (p->msg, 200, NULL);
      soup_server_message_set_response (p->msg, "image/png", SOUP_MEMORY_TAKE, g_steal_pointer (&data), length);
    }
  soup_server_message_unpause (p->msg);
  g_object_unref (p->msg);
  g_free (p);
}

static void
get_key_image (PrWebRequest *r)
{
  gint64 job = 0, number = 0;
  parse_id (r->segments[1], &job);
  g_autofree char *name = g_strdup (r->segments[3]);
  if (!g_str_has_suffix (name, ".png") || (name[strlen (name) - 4] = '\0', !parse_id (name, &number)) ||
      number > 1000)
    {
      pr_web_respond_error (r->msg, 404, "key images are NUMBER.png");
      return;
    }
  gboolean overlay = g_strcmp0 (pr_web_query (r, "overlay"), "0") != 0;
  Pending *p = g_new0 (Pending, 1);
  p->msg = g_object_ref (r->msg);
  soup_server_message_pause (r->msg);
  const PrWebBackend *be = r->server->backend;
  be->key_image (be->data, job, (guint) number, overlay, on_image_ready, p);
}

/* ---- acting ---------------------------------------------------------------------------- */

static void
post_feedback (PrWebRequest *r)
{
  gint64 job = 0;
  parse_id (r->segments[1], &job);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = pr_web_request_object (r, parser);
  if (o == NULL)
    return;
  const char *verdict = json_object_get_string_member_with_default (o, "verdict", NULL);
  gint64 finding = json_object_get_int_member_with_default (o, "finding", 0);
  const char *comment = json_object_get_string_member_with_default (o, "comment", NULL);
  gboolean per_finding = g_strcmp0 (verdict, "agree") == 0 || g_strcmp0 (verdict, "disagree") == 0;
  gboolean per_job = g_strcmp0 (verdict, "missed") == 0 || g_strcmp0 (verdict, "negative") == 0;
  if (!(per_finding || per_job) || finding < 0 || finding > 100000 || (per_finding && finding == 0) ||
      (comment && g_utf8_strlen (comment, -1) > 2000))
    {
      pr_web_respond_error (r->msg, 400, "give a verdict (agree, disagree, missed, negative), a finding number for"
                                         " agree and disagree, and at most 2000 characters of comment");
      return;
    }
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  gboolean ok = be->add_feedback (be->data, job, (int) finding, verdict, comment, r->caller->user, &error);
  if (ok)
    {
      g_autofree char *target = g_strdup_printf ("job %s finding %" G_GINT64_FORMAT, r->segments[1], finding);
      audit (r, "feedback", target, verdict);
    }
  respond_done (r, ok, error, "feedback recorded");
}

static void
post_job_action (PrWebRequest *r)
{
  gint64 job = 0;
  parse_id (r->segments[1], &job);
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  gboolean retry = strcmp (r->segments[2], "retry") == 0;
  gboolean ok = retry ? be->retry_job (be->data, job, &error) : be->cancel_job (be->data, job, &error);
  if (ok)
    audit (r, retry ? "retry-job" : "cancel-job", r->segments[1], NULL);
  respond_done (r, ok, error, retry ? "the job is queued again" : "the job is cancelled (or being stopped)");
}

static void
post_outbox_action (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  if (strcmp (r->segments[1], "retry-dead") == 0)
    {
      guint n = be->retry_outbox (be->data, 0, &error);
      g_autofree char *detail = g_strdup_printf ("%u item(s)", n);
      if (error == NULL)
        audit (r, "retry-dead-letters", NULL, detail);
      g_autofree char *message = g_strdup_printf ("%u dead letter(s) are due again", n);
      respond_done (r, error == NULL, error, message);
      return;
    }
  gint64 id = 0;
  if (!parse_id (r->segments[1], &id) || r->segments[2] == NULL)
    {
      pr_web_respond_error (r->msg, 404, "no such outbox item");
      return;
    }
  gboolean retry = strcmp (r->segments[2], "retry") == 0;
  gboolean ok;
  if (retry)
    {
      ok = be->retry_outbox (be->data, id, &error) > 0;
      if (!ok && error == NULL)
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "item %" G_GINT64_FORMAT " is not dead or pending", id);
    }
  else
    ok = be->drop_outbox (be->data, id, &error);
  if (ok)
    audit (r, retry ? "retry-delivery" : "drop-delivery", r->segments[1], NULL);
  respond_done (r, ok, error, retry ? "the item is due again" : "the item is dropped");
}

static void
post_enable_analyzer (PrWebRequest *r)
{
  const PrWebBackend *be = r->server->backend;
  g_autoptr (GError) error = NULL;
  gboolean ok = be->enable_analyzer (be->data, r->segments[1], &error);
  if (ok)
    audit (r, "enable-analyzer", r->segments[1], NULL);
  respond_done (r, ok, error, "the analyzer is enabled");
}

/* ---- the table ------------------------------------------------------------------------ */

static const Route routes[] = {
  { "GET", "me", PR_WEB_ROLE_RADIOLOGIST, get_me },
  { "GET", "worklist", PR_WEB_ROLE_RADIOLOGIST, get_worklist },
  { "GET", "studies/#", PR_WEB_ROLE_RADIOLOGIST, get_study },
  { "GET", "jobs", PR_WEB_ROLE_RADIOLOGIST, get_jobs },
  { "GET", "jobs/#/key-images/*", PR_WEB_ROLE_RADIOLOGIST, get_key_image },
  { "POST", "jobs/#/feedback", PR_WEB_ROLE_RADIOLOGIST, post_feedback },
  { "POST", "jobs/#/retry", PR_WEB_ROLE_ADMIN, post_job_action },
  { "POST", "jobs/#/cancel", PR_WEB_ROLE_ADMIN, post_job_action },
  { "GET", "outbox", PR_WEB_ROLE_RADIOLOGIST, get_outbox },
  { "POST", "outbox/retry-dead", PR_WEB_ROLE_ADMIN, post_outbox_action },
  { "POST", "outbox/#/retry", PR_WEB_ROLE_ADMIN, post_outbox_action },
  { "POST", "outbox/#/drop", PR_WEB_ROLE_ADMIN, post_outbox_action },
  { "GET", "analyzers", PR_WEB_ROLE_RADIOLOGIST, get_analyzers },
  { "POST", "analyzers/*/enable", PR_WEB_ROLE_ADMIN, post_enable_analyzer },
  { "GET", "routes", PR_WEB_ROLE_RADIOLOGIST, get_routes },
  { "POST", "photos", PR_WEB_ROLE_RADIOLOGIST, pr_web_api_post_photo },
  { "GET", "audit", PR_WEB_ROLE_ADMIN, get_audit },
  { "GET", "metrics", PR_WEB_ROLE_RADIOLOGIST, get_metrics },
};

/* Whether @segments fit @pattern: "#" a positive id, "*" a plain name. */
static gboolean
matches (const char *pattern, char **segments)
{
  g_auto (GStrv) parts = g_strsplit (pattern, "/", -1);
  guint i = 0;
  for (; parts[i] != NULL; i++)
    {
      if (segments[i] == NULL)
        return FALSE;
      gint64 id;
      if (strcmp (parts[i], "#") == 0 ? !parse_id (segments[i], &id)
          : strcmp (parts[i], "*") == 0 ? (segments[i][0] == '\0' || strlen (segments[i]) > 128)
                                        : strcmp (parts[i], segments[i]) != 0)
        return FALSE;
    }
  return segments[i] == NULL;
}

void
pr_web_api_handle (PrWebRequest *r)
{
  if (r->segments[0] != NULL && r->segments[1] == NULL && strcmp (r->segments[0], "login") == 0)
    {
      if (strcmp (r->method, "POST") != 0)
        pr_web_respond_error (r->msg, 405, "POST your user name and password");
      else
        pr_web_api_login (r);
      return;
    }
  const Route *route = NULL;
  gboolean path_known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
    if (matches (routes[i].pattern, r->segments))
      {
        path_known = TRUE;
        if (strcmp (routes[i].method, r->method) == 0)
          route = &routes[i];
      }
  if (r->segments[0] != NULL && r->segments[1] == NULL && strcmp (r->segments[0], "logout") == 0)
    path_known = TRUE;
  /* Who before what: an anonymous caller learns nothing about the API. */
  if (r->caller == NULL)
    {
      pr_web_respond_error (r->msg, 401, "log in first");
      return;
    }
  if (r->segments[0] != NULL && r->segments[1] == NULL && strcmp (r->segments[0], "logout") == 0 &&
      strcmp (r->method, "POST") == 0)
    {
      pr_web_api_logout (r);
      return;
    }
  if (route == NULL)
    {
      pr_web_respond_error (r->msg, path_known ? 405 : 404, path_known ? "not with this method" : "no such resource");
      return;
    }
  if (r->caller->role < route->role)
    {
      pr_web_respond_error (r->msg, 403, "this needs the %s role", pr_web_role_to_string (route->role));
      return;
    }
  /* A browser session may change something only from our own pages: other
   * sites cannot set this header without a preflight we never grant. */
  if (strcmp (r->method, "GET") != 0 && !r->caller->by_token &&
      g_strcmp0 (soup_message_headers_get_one (soup_server_message_get_request_headers (r->msg), "X-Requested-With"),
                 "preread") != 0)
    {
      pr_web_respond_error (r->msg, 403, "missing X-Requested-With: preread");
      return;
    }
  route->handler (r);
}
