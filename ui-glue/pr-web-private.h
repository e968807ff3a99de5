/* pr-web-private.h: shared by the ui-glue sources only. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "pr-web-server.h"

struct _PrWebServer {
  const PrWebBackend *backend;
  PrWebAuth *auth;
  SoupServer *soup;
  char *url;
  gboolean tls;
};

/* One API request, as the handlers see it. */
typedef struct {
  PrWebServer *server;
  SoupServerMessage *msg;
  const char *method;
  char **segments;              /* the path after /api/, split at "/" */
  GHashTable *query;            /* (nullable) */
  PrWebCaller *caller;          /* (nullable) who is calling */
  char *session;                /* (nullable) the session cookie */
  const char *remote;
} PrWebRequest;

/* The largest request body accepted (JSON from the web UI is tiny)... */
#define PR_WEB_MAX_BODY 65536
/* ...but for a photo, from an authenticated caller (a 48-megapixel phone JPEG is ~15 MB). */
#define PR_WEB_MAX_PHOTO 33554432

void pr_web_respond_json (SoupServerMessage *msg, guint status, JsonNode *node);
void pr_web_respond_error (SoupServerMessage *msg, guint status, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* The request body as a JSON object; NULL with a 400 sent when it is not. */
JsonObject *pr_web_request_object (PrWebRequest *request, JsonParser *parser);

/* Handles /api/...; responds to every request it gets, one way or another. */
void pr_web_api_handle (PrWebRequest *request);

/* Handles /api/login and /api/logout. */
void pr_web_api_login (PrWebRequest *request);
void pr_web_api_logout (PrWebRequest *request);

/* POST /api/photos (pr-web-photos.c). */
void pr_web_api_post_photo (PrWebRequest *request);

/* A query parameter, or NULL. */
const char *pr_web_query (PrWebRequest *request, const char *name);
