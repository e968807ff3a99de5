/* pr-web-server.h: the HTTP service in the daemon: web worklist, REST API, metrics.
 *
 * libsoup on the daemon's main loop. Listens on loopback unless configured
 * otherwise, over TLS when given a certificate. Every API request is
 * authenticated (pr-web-auth.h) and checked against the role it needs;
 * the static pages (no patient data in them) load without a session so
 * that the login form can. Hostile input gets a 4xx and changes nothing:
 * bodies over 64 KB are refused before they are read, JSON is parsed with
 * limits, ids are parsed strictly, and there is no file system behind the
 * URLs (the pages are compiled into the binary). The API is documented in
 * ui-glue/API.md.
 */
#pragma once

#include <glib.h>

#include "pr-web-auth.h"
#include "pr-web-backend.h"

G_BEGIN_DECLS

typedef struct _PrWebServer PrWebServer;

/**
 * pr_web_server_new:
 * @backend: (transfer none): must outlive the server
 * @address: "ADDRESS:PORT"; port 0 picks a free one
 * @tls_certificate: (nullable): PEM certificate (chain); with @tls_key, HTTPS
 * @tls_key: (nullable): PEM private key
 *
 * Returns: (transfer full): a listening server, or NULL with @error.
 */
PrWebServer *pr_web_server_new (const PrWebBackend *backend, const char *address, const char *tls_certificate,
                                const char *tls_key, GError **error);

/* Returns: (transfer none): the accounts and sessions, for reloads. */
PrWebAuth *pr_web_server_get_auth (PrWebServer *server);

/* Returns: (transfer full): "http://127.0.0.1:8112/" (https with TLS). */
char *pr_web_server_get_url (PrWebServer *server);

void pr_web_server_free (PrWebServer *server);

G_END_DECLS
