/* pr-node-config.c: defaults and sanity checks for the node settings. */
#include "config.h"

#include "pr-node-config.h"

#include <string.h>
#include "pr-conf-error.h"
#include "dicom/pr-dicom.h"

PrNodeConfig *
pr_node_config_new_default (void)
{
  PrNodeConfig *c = g_new0 (PrNodeConfig, 1);
  c->ae_title = g_strdup ("PREREAD");
  c->bind_address = g_strdup ("127.0.0.1");
  c->port = 11112;
  c->storage_dir = g_build_filename (g_get_user_data_dir (), "preread", NULL);
  c->max_associations = 32;
  c->quiet_period_s = 30;
  c->free_space_reserve_mb = 1024;
  c->acse_timeout_s = 30;
  c->dimse_timeout_s = 60;
  c->check_called_ae = TRUE;
  c->allowed_calling_aes = NULL;
  /* The web worklist, on loopback like everything by default. */
  c->http_address = g_strdup ("127.0.0.1:8112");
  return c;
}

PrNodeConfig *
pr_node_config_copy (const PrNodeConfig *src)
{
  PrNodeConfig *c = g_memdup2 (src, sizeof *src);
  c->ae_title = g_strdup (src->ae_title);
  c->bind_address = g_strdup (src->bind_address);
  c->storage_dir = g_strdup (src->storage_dir);
  c->allowed_calling_aes = g_strdupv (src->allowed_calling_aes);
  c->http_address = g_strdup (src->http_address);
  return c;
}

void
pr_node_config_free (PrNodeConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->ae_title);
  g_free (c->bind_address);
  g_free (c->storage_dir);
  g_strfreev (c->allowed_calling_aes);
  g_free (c->http_address);
  g_free (c);
}

gboolean
pr_node_config_validate (const PrNodeConfig *c, GError **error)
{
  if (!pr_dicom_ae_title_is_valid (c->ae_title))
    return pr_conf_fail (error, "ae-title \"%s\" is not a valid AE title (1-16 printable characters)",
                         c->ae_title ? c->ae_title : "");
  for (char **ae = c->allowed_calling_aes; ae && *ae; ae++)
    if (!pr_dicom_ae_title_is_valid (*ae))
      return pr_conf_fail (error, "allowed calling AE title \"%s\" is not a valid AE title", *ae);
  if (c->storage_dir == NULL || *c->storage_dir == '\0')
    return pr_conf_fail (error, "storage folder is empty");
  if (c->bind_address == NULL || *c->bind_address == '\0')
    return pr_conf_fail (error, "bind address is empty");
  if (c->max_associations < 1 || c->max_associations > 1024)
    return pr_conf_fail (error, "max-associations must be between 1 and 1024, not %u", c->max_associations);
  if (c->quiet_period_s < 1 || c->quiet_period_s > 86400)
    return pr_conf_fail (error, "quiet period must be between 1 s and 1 day, not %u s", c->quiet_period_s);
  if (c->acse_timeout_s < 1 || c->dimse_timeout_s < 1)
    return pr_conf_fail (error, "timeouts must be at least 1 s");
  return TRUE;
}

void
pr_node_overrides_init (PrNodeOverrides *o)
{
  memset (o, 0, sizeof *o);
  o->port = o->max_associations = o->quiet_period_s = o->acse_timeout_s = o->idle_timeout_s = -1;
  o->free_space_reserve_mb = -1;
}

static void
replace (char **field, const char *value)
{
  if (value == NULL)
    return;
  g_free (*field);
  *field = g_strdup (value);
}

void
pr_node_overrides_apply (const PrNodeOverrides *o, PrNodeConfig *c)
{
  replace (&c->storage_dir, o->storage_dir);
  replace (&c->bind_address, o->bind_address);
  replace (&c->ae_title, o->ae_title);
  replace (&c->http_address, o->http_address);
  if (o->port >= 0)
    c->port = (guint16) o->port;
  if (o->max_associations >= 0)
    c->max_associations = (guint) o->max_associations;
  if (o->quiet_period_s >= 0)
    c->quiet_period_s = (guint) o->quiet_period_s;
  if (o->acse_timeout_s >= 0)
    c->acse_timeout_s = (guint) o->acse_timeout_s;
  if (o->idle_timeout_s >= 0)
    c->dimse_timeout_s = (guint) o->idle_timeout_s;
  if (o->free_space_reserve_mb >= 0)
    c->free_space_reserve_mb = (guint64) o->free_space_reserve_mb;
  if (o->allowed_calling_aes != NULL)
    {
      g_strfreev (c->allowed_calling_aes);
      c->allowed_calling_aes = g_strdupv (o->allowed_calling_aes);
    }
  if (o->any_called_ae)
    c->check_called_ae = FALSE;
}

void
pr_node_overrides_clear (PrNodeOverrides *o)
{
  g_free (o->storage_dir);
  g_free (o->bind_address);
  g_free (o->ae_title);
  g_free (o->http_address);
  g_strfreev (o->allowed_calling_aes);
  pr_node_overrides_init (o);
}
