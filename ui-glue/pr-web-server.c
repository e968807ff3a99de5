/* pr-web-server.c: listening, security headers, static pages, and who is calling. */
#include "config.h"

#include "pr-web-private.h"

#include <string.h>

/* Compiled from ui-glue/web by glib-compile-resources. */
#include "ui-glue/pr-web-resources.h"

void
pr_web_respond_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text, strlen (text));
}

void
pr_web_respond_error (SoupServerMessage *msg, guint status, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  pr_web_respond_json (msg, status, node);
}

const char *
pr_web_query (PrWebRequest *r, const char *name)
{
  return r->query ? g_hash_table_lookup (r->query, name) : NULL;
}

JsonObject *
pr_web_request_object (PrWebRequest *r, JsonParser *parser)
{
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (r->msg));
  gsize length = 0;
  const char *data = g_bytes_get_data (body, &length);
  g_autoptr (GError) error = NULL;
  if (length == 0 || length > PR_WEB_MAX_BODY || !g_utf8_validate (data, (gssize) length, NULL) ||
      !json_parser_load_from_data (parser, data, (gssize) length, &error) || json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      pr_web_respond_error (r->msg, 400, "the body must be a JSON object%s%s", error ? ": " : "",
                            error ? error->message : "");
      return NULL;
    }
  return json_node_get_object (json_parser_get_root (parser));
}

/* On every response: no framing, no sniffing, no referrers, nothing from
 * elsewhere; API answers are never cached (they hold patient data). */
static void
add_security_headers (SoupServerMessage *msg, gboolean api, gboolean tls)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
                                " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "X-Frame-Options", "DENY");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "Cache-Control", api ? "no-store" : "no-cache");
  if (tls)
    soup_message_headers_replace (h, "Strict-Transport-Security", "max-age=31536000");
}

/* ---- static pages -------------------------------------------------------------------- */

static const struct {
  const char *suffix, *type;
} types[] = {
  { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },   { ".svg", "image/svg+xml" },
  { ".png", "image/png" },                 { ".ico", "image/x-icon" },
};

static void
serve_static (SoupServerMessage *msg, const char *path)
{
  if (g_strcmp0 (soup_server_message_get_method (msg), "GET") != 0 &&
      g_strcmp0 (soup_server_message_get_method (msg), "HEAD") != 0)
    {
      pr_web_respond_error (msg, 405, "only GET here");
      return;
    }
  /* The pages are a fixed set compiled in: a name is looked up, never
   * joined to a folder, so "..", encoded or not, finds nothing. */
  const char *name = strcmp (path, "/") == 0 ? "/index.html" : path;
  /* GResource ignores a trailing slash; a page is never a folder. */
  if (strstr (name, "..") != NULL || strchr (name, '\\') != NULL || g_str_has_suffix (name, "/"))
    {
      pr_web_respond_error (msg, 404, "no such page");
      return;
    }
  g_autofree char *resource = g_strconcat ("/org/preread/web", name, NULL);
  g_autoptr (GBytes) bytes = g_resources_lookup_data (resource, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (bytes == NULL)
    {
      pr_web_respond_error (msg, 404, "no such page");
      return;
    }
  const char *type = "application/octet-stream";
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (name, types[i].suffix))
      type = types[i].type;
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, data, length);
}

/* ---- requests ----------------------------------------------------------------------- */

static char *
session_cookie (SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Cookie");
  if (header == NULL)
    return NULL;
  g_autoptr (GHashTable) cookies = soup_header_parse_semi_param_list (header);
  const char *value = g_hash_table_lookup (cookies, "preread_session");
  return g_strdup (value);
}

static char *
bearer_token (SoupServerMessage *msg)
{
  const char *header =
    soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  if (header == NULL || g_ascii_strncasecmp (header, "Bearer ", 7) != 0)
    return NULL;
  return g_strstrip (g_strdup (header + 7));
}

static void
on_request (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  PrWebServer *self = user_data;
  gboolean api = g_str_has_prefix (path, "/api/") || strcmp (path, "/metrics") == 0;
  add_security_headers (msg, api, self->tls);
  if (!api)
    {
      serve_static (msg, path);
      return;
    }
  g_autofree char *session = session_cookie (msg);
  g_autofree char *bearer = bearer_token (msg);
  g_autoptr (PrWebCaller) caller = pr_web_auth_check (self->auth, session, bearer);
  g_auto (GStrv) segments = g_strsplit (strcmp (path, "/metrics") == 0 ? "metrics" : path + 5, "/", -1);
  PrWebRequest request = { self, msg, soup_server_message_get_method (msg), segments, query, caller, session,
                           soup_server_message_get_remote_host (msg) };
  pr_web_api_handle (&request);
}

/* Before a body is read: refuse what is too big to be ours, and bodies of
 * unknown length (chunked uploads) that could be anything. */
static void
on_headers (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  PrWebServer *self = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  goffset length = soup_message_headers_get_content_length (h);
  SoupEncoding encoding = soup_message_headers_get_encoding (h);
  goffset limit = PR_WEB_MAX_BODY;
  /* A photo may be big, but only someone logged in may send that much. */
  if (strcmp (path, "/api/photos") == 0 && length > limit)
    {
      g_autofree char *session = session_cookie (msg);
      g_autofree char *bearer = bearer_token (msg);
      g_autoptr (PrWebCaller) caller = pr_web_auth_check (self->auth, session, bearer);
      if (caller != NULL)
        limit = PR_WEB_MAX_PHOTO;
    }
  if (encoding == SOUP_ENCODING_CHUNKED || encoding == SOUP_ENCODING_EOF)
    pr_web_respond_error (msg, 411, "give the body's length");
  else if (length > limit)
    pr_web_respond_error (msg, 413, "the body is larger than %" G_GOFFSET_FORMAT " bytes", limit);
}

static gboolean
parse_address (const char *address, char **host, guint16 *port, GError **error)
{
  const char *colon = address ? strrchr (address, ':') : NULL;
  guint64 value = colon ? g_ascii_strtoull (colon + 1, NULL, 10) : 0;
  if (colon == NULL || colon == address || value > 65535)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "\"%s\" is not ADDRESS:PORT", address);
      return FALSE;
    }
  *host = g_strndup (address, (gsize) (colon - address));
  *port = (guint16) value;
  return TRUE;
}

PrWebServer *
pr_web_server_new (const PrWebBackend *backend, const char *address, const char *tls_certificate,
                   const char *tls_key, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  if (!parse_address (address, &host, &port, error))
    return NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  if (tls_certificate != NULL)
    {
      certificate = g_tls_certificate_new_from_files (tls_certificate, tls_key, error);
      if (certificate == NULL)
        {
          g_prefix_error (error, "web TLS: ");
          return NULL;
        }
    }
  /* The pages' resource lives in a convenience library: naming it keeps
   * the linker from dropping it (and its registration with it). */
  g_return_val_if_fail (pr_web_get_resource () != NULL, NULL);
  PrWebServer *self = g_new0 (PrWebServer, 1);
  self->backend = backend;
  self->auth = pr_web_auth_new ();
  self->tls = certificate != NULL;
  self->soup = soup_server_new ("server-header", "preread", "tls-certificate", certificate, NULL);
  /* Both on every path: libsoup looks handlers up by path, and an early
   * handler registered alone under /api would leave /api without a main one. */
  soup_server_add_early_handler (self->soup, NULL, on_headers, self, NULL);
  soup_server_add_handler (self->soup, NULL, on_request, self, NULL);

  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "web: \"%s\" is not an IP address", host);
      pr_web_server_free (self);
      return NULL;
    }
  g_autoptr (GSocketAddress) socket_address = g_inet_socket_address_new (inet, port);
  if (!soup_server_listen (self->soup, socket_address, self->tls ? SOUP_SERVER_LISTEN_HTTPS : 0, error))
    {
      g_prefix_error (error, "web: cannot listen on %s: ", address);
      pr_web_server_free (self);
      return NULL;
    }
  /* The port really taken (port 0 picks one). */
  GSList *listeners = soup_server_get_listeners (self->soup);
  guint16 bound = port;
  if (listeners != NULL)
    {
      g_autoptr (GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);
      if (local != NULL)
        bound = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_slist_free (listeners);
  gboolean v6 = strchr (host, ':') != NULL;
  self->url = g_strdup_printf ("%s://%s%s%s:%u/", self->tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
                               bound);
  return self;
}

PrWebAuth *
pr_web_server_get_auth (PrWebServer *self)
{
  return self->auth;
}

char *
pr_web_server_get_url (PrWebServer *self)
{
  return g_strdup (self->url);
}

void
pr_web_server_free (PrWebServer *self)
{
  if (self == NULL)
    return;
  if (self->soup)
    {
      soup_server_disconnect (self->soup);
      g_object_unref (self->soup);
    }
  pr_web_auth_free (self->auth);
  g_free (self->url);
  g_free (self);
}
