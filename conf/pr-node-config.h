/* pr-node-config.h: the settings of this gateway node.
 *
 * The embedded default (no config file) is pr_node_config_new_default();
 * a config file and then command-line options override it field by field.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *ae_title;               /* our AE title; default "PREREAD" */
  char *bind_address;           /* default "127.0.0.1": nothing listens beyond loopback unless asked */
  guint16 port;                 /* default 11112 */
  char *storage_dir;            /* default $XDG_DATA_HOME/preread */
  guint max_associations;       /* concurrent associations; default 32 */
  guint quiet_period_s;         /* a study is complete after this long without instances; default 30 */
  guint64 free_space_reserve_mb;/* refuse C-STORE (0xA700) below this much free space; default 1024 */
  guint acse_timeout_s;         /* to receive an association request; default 30 */
  guint dimse_timeout_s;        /* idle time within an association; default 60 */
  gboolean check_called_ae;     /* refuse requests addressed to another AE title; default TRUE */
  char **allowed_calling_aes;   /* (nullable) only these may associate; NULL allows any */
  char *http_address;           /* ADDR:PORT of the web UI and REST API (default 127.0.0.1:8112), or "off" */
} PrNodeConfig;

/* Returns: (transfer full): the embedded default; free with pr_node_config_free(). */
PrNodeConfig *pr_node_config_new_default (void);

/* Returns: (transfer full): a deep copy. */
PrNodeConfig *pr_node_config_copy (const PrNodeConfig *config);

void pr_node_config_free (PrNodeConfig *config);

/* Checks the values make sense together; errors name the setting. */
gboolean pr_node_config_validate (const PrNodeConfig *config, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrNodeConfig, pr_node_config_free)

/* Settings given on the command line: they win over the configuration
 * file, also after a reload. Unset fields are NULL or negative. */
typedef struct {
  char *storage_dir;
  char *bind_address;
  char *ae_title;
  char *http_address;
  int port;
  int max_associations;
  int quiet_period_s;
  int acse_timeout_s;
  int idle_timeout_s;
  gint64 free_space_reserve_mb;
  char **allowed_calling_aes;
  gboolean any_called_ae;
} PrNodeOverrides;

/* An empty set of overrides (everything unset). */
void pr_node_overrides_init (PrNodeOverrides *overrides);
void pr_node_overrides_apply (const PrNodeOverrides *overrides, PrNodeConfig *config);
void pr_node_overrides_clear (PrNodeOverrides *overrides);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PrNodeOverrides, pr_node_overrides_clear)

G_END_DECLS
