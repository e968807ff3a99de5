/* pr-web-login.c: logging in and out, the password hash checked off the main loop. */
#include "config.h"

#include "pr-web-private.h"

#include <string.h>

#include <gio/gio.h>

typedef struct {
  PrWebServer *server;
  SoupServerMessage *msg;
  char *user;
  char *password;
  char *hash;
  char *remote;
} Login;

static void
login_free (Login *l)
{
  g_object_unref (l->msg);
  g_free (l->user);
  if (l->password)
    memset (l->password, 0, strlen (l->password)); /* not left lying in freed memory */
  g_free (l->password);
  g_free (l->hash);
  g_free (l->remote);
  g_free (l);
}

static void
check_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Login *l = data;
  g_task_return_boolean (task, pr_web_password_verify (l->password, l->hash));
}

static void
on_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Login *l = g_task_get_task_data (G_TASK (result));
  PrWebServer *self = l->server;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *session = NULL;
  g_autoptr (PrWebCaller) caller = pr_web_auth_end_login (self->auth, l->user, ok, l->remote, &session, &error);
  const PrWebBackend *be = self->backend;
  be->audit (be->data, l->user, caller ? pr_web_role_to_string (caller->role) : NULL,
             caller ? "login" : "login-failed", NULL, NULL, l->remote);
  if (caller == NULL)
    pr_web_respond_error (l->msg, 401, "%s", error->message);
  else
    {
      g_autofree char *cookie = g_strdup_printf ("preread_session=%s; Path=/; HttpOnly; SameSite=Strict%s", session,
                                                 self->tls ? "; Secure" : "");
      soup_message_headers_append (soup_server_message_get_response_headers (l->msg), "Set-Cookie", cookie);
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "user");
      json_builder_add_string_value (b, caller->user);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, pr_web_role_to_string (caller->role));
      json_builder_end_object (b);
      g_autoptr (JsonNode) node = json_builder_get_root (b);
      pr_web_respond_json (l->msg, 200, node);
    }
  soup_server_message_unpause (l->msg);
}

void
pr_web_api_login (PrWebRequest *r)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = pr_web_request_object (r, parser);
  if (o == NULL)
    return;
  const char *user = json_object_get_string_member_with_default (o, "user", NULL);
  const char *password = json_object_get_string_member_with_default (o, "password", NULL);
  if (user == NULL || password == NULL || strlen (user) > 64 || strlen (password) > 1024)
    {
      pr_web_respond_error (r->msg, 400, "give \"user\" and \"password\"");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = pr_web_auth_begin_login (r->server->auth, user, r->remote, &error);
  if (hash == NULL)
    {
      pr_web_respond_error (r->msg, 429, "%s", error->message);
      return;
    }
  Login *l = g_new0 (Login, 1);
  l->server = r->server;
  l->msg = g_object_ref (r->msg);
  l->user = g_strdup (user);
  l->password = g_strdup (password);
  l->hash = g_steal_pointer (&hash);
  l->remote = g_strdup (r->remote);
  soup_server_message_pause (r->msg);
  /* PBKDF2 takes a noticeable fraction of a second: not on the main loop,
   * where DICOM associations are accepted. */
  g_autoptr (GTask) task = g_task_new (NULL, NULL, on_checked, NULL);
  g_task_set_task_data (task, l, (GDestroyNotify) login_free);
  g_task_run_in_thread (task, check_in_thread);
}

void
pr_web_api_logout (PrWebRequest *r)
{
  pr_web_auth_logout (r->server->auth, r->session);
  const PrWebBackend *be = r->server->backend;
  be->audit (be->data, r->caller->user, pr_web_role_to_string (r->caller->role), "logout", NULL, NULL, r->remote);
  soup_message_headers_append (soup_server_message_get_response_headers (r->msg), "Set-Cookie",
                               "preread_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  pr_web_respond_json (r->msg, 200, node);
}
