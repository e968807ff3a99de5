/* pr-web-backend.h: the gateway's side of ui-glue's narrow interface.
 *
 * Fills a PrWebBackend (ui-glue/pr-web-backend.h) with the index's read
 * models (pr-ui-queries.h), the administrator's actions, the routes of the
 * running configuration, and key images rendered by a child process and
 * cached under STORAGE/cache/.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"
#include "ui-glue/pr-web-auth.h"
#include "ui-glue/pr-web-backend.h"

G_BEGIN_DECLS

typedef struct _PrWebGateway PrWebGateway;

/* Something changed that the daemon acts on (a job to retry, an outbox item due). */
typedef void (*PrWebChanged) (gpointer user_data);

PrWebGateway *pr_web_gateway_new (PrIndex *index, const char *storage_root, const PrConfig *config,
                                  PrWebChanged changed, gpointer user_data);

/* Returns: (transfer none): the table to give pr_web_server_new(). */
const PrWebBackend *pr_web_gateway_get_backend (PrWebGateway *gateway);

void pr_web_gateway_set_config (PrWebGateway *gateway, const PrConfig *config);

/* The DICOM port the daemon bound, where uploaded photos are sent (pr-web-photo.h). */
void pr_web_gateway_set_dicom_port (PrWebGateway *gateway, guint16 port);

/**
 * pr_web_gateway_accounts:
 * @users: (out) (element-type PrWebAccount) (transfer full)
 * @tokens: (out) (element-type PrWebAccount) (transfer full)
 * @fresh_password: (out) (transfer full) (nullable): the installation's admin
 *   password when it was just made: to log once, never again
 *
 * The accounts of the configuration. When it has no user, an "admin"
 * account of this installation (STORAGE/web-admin, made on first use with
 * a random password that is logged once) is the only one, so that the
 * embedded default is usable and never open.
 */
void pr_web_gateway_accounts (PrWebGateway *gateway, GPtrArray **users, GPtrArray **tokens, char **fresh_password);

void pr_web_gateway_free (PrWebGateway *gateway);

G_END_DECLS
