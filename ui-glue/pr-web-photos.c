/* pr-web-photos.c: POST /api/photos, a dermatology photo from a phone's browser.
 *
 * The body is the photo itself (Content-Type image/jpeg or image/png), the
 * form's fields are query parameters: a phone's camera capture uploads with
 * one fetch and no multipart parsing on our side. The gateway imports it
 * (gateway/pr-web-photo.h); we answer once it is in the index, with the
 * study to open.
 */
#include "config.h"

#include <string.h>

#include "pr-web-private.h"

typedef struct {
  SoupServerMessage *msg;
  const PrWebBackend *backend;
  char *user, *role, *remote;
} Upload;

static void
on_imported (gint64 study_id, const char *study_uid, const GError *error, gpointer user_data)
{
  Upload *u = user_data;
  if (error != NULL)
    {
      gboolean input = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      pr_web_respond_error (u->msg, input ? 400 : 502, "%s", error->message);
    }
  else
    {
      g_autofree char *target = g_strdup_printf ("study %" G_GINT64_FORMAT, study_id);
      u->backend->audit (u->backend->data, u->user, u->role, "upload-photo", target, study_uid, u->remote);
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "ok");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, "photo received; the assessment follows when the study is complete");
      json_builder_set_member_name (b, "study_id");
      json_builder_add_int_value (b, study_id);
      json_builder_set_member_name (b, "study_uid");
      json_builder_add_string_value (b, study_uid);
      json_builder_end_object (b);
      g_autoptr (JsonNode) node = json_builder_get_root (b);
      pr_web_respond_json (u->msg, 201, node);
    }
  soup_server_message_unpause (u->msg);
  g_object_unref (u->msg);
  g_free (u->user);
  g_free (u->role);
  g_free (u->remote);
  g_free (u);
}

void
pr_web_api_post_photo (PrWebRequest *r)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (r->msg);
  const char *type = soup_message_headers_get_content_type (headers, NULL);
  if (g_strcmp0 (type, "image/jpeg") != 0 && g_strcmp0 (type, "image/png") != 0)
    {
      pr_web_respond_error (r->msg, 415, "send the photo as image/jpeg or image/png");
      return;
    }
  const char *patient_id = pr_web_query (r, "patient_id");
  if (patient_id == NULL || *patient_id == '\0')
    {
      pr_web_respond_error (r->msg, 400, "patient_id is required");
      return;
    }
  SoupMessageBody *body = soup_server_message_get_request_body (r->msg);
  g_autoptr (GBytes) image = soup_message_body_flatten (body);
  if (g_bytes_get_size (image) == 0)
    {
      pr_web_respond_error (r->msg, 400, "the photo is empty");
      return;
    }
  PrWebPhotoForm form = { patient_id, pr_web_query (r, "patient_name"), pr_web_query (r, "body_site") };
  Upload *u = g_new0 (Upload, 1);
  u->msg = g_object_ref (r->msg);
  u->backend = r->server->backend;
  u->user = g_strdup (r->caller->user);
  u->role = g_strdup (pr_web_role_to_string (r->caller->role));
  u->remote = g_strdup (r->remote);
  soup_server_message_pause (r->msg);
  u->backend->import_photo (u->backend->data, image, &form, r->caller->user, on_imported, u);
}
