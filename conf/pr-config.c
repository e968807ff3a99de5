/* pr-config.c: the configuration's lifetime, lookups and embedded files. */
#include "config.h"

#include "pr-config.h"
#include "pr-config-private.h"
#include "pr-conf-resources.h"

#include <string.h>

const char *const pr_config_builtin_analyzers[] = { "test", NULL };

void
pr_conf_replace_string (char **field, const char *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static const char *
resource_text (const char *path)
{
  /* Compiled in, so a lookup failure is a build bug, not a user error. */
  g_autoptr (GBytes) bytes = g_resource_lookup_data (pr_conf_get_resource (), path, 0, NULL);
  g_assert (bytes != NULL);
  /* GResource data lives as long as the process and ends with a NUL. */
  return g_bytes_get_data (bytes, NULL);
}

const char *
pr_config_schema_xsd (void)
{
  return resource_text ("/org/preread/conf/preread.xsd");
}

const char *
pr_config_default_xml (void)
{
  return resource_text ("/org/preread/conf/default.xml");
}

PrConfig *
pr_config_load_default (void)
{
  g_autoptr (GError) error = NULL;
  PrConfig *config = pr_config_load_string (pr_config_default_xml (), "(embedded default)", &error);
  if (config == NULL)
    g_error ("the embedded default configuration is invalid: %s", error->message);
  return config;
}

static void
peer_free (PrPeer *p)
{
  g_free (p->name);
  g_free (p->ae_title);
  g_free (p->host);
  g_free (p->tls_certificate);
  g_free (p->tls_key);
  g_free (p->tls_ca);
  g_strfreev (p->result_objects);
  g_free (p->hl7_sending_application);
  g_free (p->hl7_sending_facility);
  g_free (p->hl7_receiving_application);
  g_free (p->hl7_receiving_facility);
  g_free (p);
}

void
pr_analyzer_config_free (PrAnalyzerConfig *a)
{
  if (a == NULL)
    return;
  g_free (a->name);
  g_free (a->location);
  g_clear_pointer (&a->parameters, g_hash_table_unref);
  g_free (a);
}

PrAnalyzerConfig *
pr_analyzer_config_copy (const PrAnalyzerConfig *a)
{
  PrAnalyzerConfig *copy = g_memdup2 (a, sizeof *a);
  copy->name = g_strdup (a->name);
  copy->location = g_strdup (a->location);
  copy->parameters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, a->parameters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy->parameters, g_strdup (key), g_strdup (value));
  return copy;
}

static void
analysis_free (PrRouteAnalysis *a)
{
  g_free (a->analyzer);
  pr_condition_free (a->series_filter);
  g_clear_pointer (&a->parameters, g_hash_table_unref);
  g_free (a);
}

static void
web_account_free (PrWebAccountConfig *a)
{
  g_free (a->name);
  g_free (a->role);
  g_free (a->secret_hash);
  g_free (a);
}

static void
destination_free (PrRouteDestination *d)
{
  g_free (d->peer);
  g_strfreev (d->result_objects);
  g_free (d);
}

static void
notify_free (PrRouteNotify *n)
{
  g_free (n->peer);
  g_free (n);
}

static void
route_free (PrRoute *r)
{
  g_free (r->name);
  pr_condition_free (r->match);
  g_ptr_array_unref (r->analyses);
  g_ptr_array_unref (r->results_to);
  g_ptr_array_unref (r->forward_to);
  g_ptr_array_unref (r->notify);
  g_free (r);
}

PrRoute *
pr_config_route_new (void)
{
  PrRoute *r = g_new0 (PrRoute, 1);
  r->analyses = g_ptr_array_new_with_free_func ((GDestroyNotify) analysis_free);
  r->results_to = g_ptr_array_new_with_free_func ((GDestroyNotify) destination_free);
  r->forward_to = g_ptr_array_new_with_free_func ((GDestroyNotify) destination_free);
  r->notify = g_ptr_array_new_with_free_func ((GDestroyNotify) notify_free);
  return r;
}

PrConfig *
pr_config_new (const char *source)
{
  PrConfig *c = g_new0 (PrConfig, 1);
  c->source = g_strdup (source ? source : "(string)");
  c->node = pr_node_config_new_default ();
  c->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  c->analyzers = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_analyzer_config_free);
  c->web_users = g_ptr_array_new_with_free_func ((GDestroyNotify) web_account_free);
  c->web_tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) web_account_free);
  c->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) route_free);
  return c;
}

void
pr_config_free (PrConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->source);
  pr_node_config_free (c->node);
  g_ptr_array_unref (c->peers);
  g_ptr_array_unref (c->analyzers);
  g_ptr_array_unref (c->routes);
  g_ptr_array_unref (c->web_users);
  g_ptr_array_unref (c->web_tokens);
  g_free (c->web_tls_certificate);
  g_free (c->web_tls_key);
  g_free (c);
}

#define FIND(array, type, wanted)                                             \
  for (guint i = 0; i < (array)->len; i++)                                    \
    if (strcmp (((type *) (array)->pdata[i])->name, (wanted)) == 0)           \
      return (array)->pdata[i];                                               \
  return NULL

const PrPeer *
pr_config_find_peer (const PrConfig *config, const char *name)
{
  FIND (config->peers, PrPeer, name);
}

const PrAnalyzerConfig *
pr_config_find_analyzer (const PrConfig *config, const char *name)
{
  FIND (config->analyzers, PrAnalyzerConfig, name);
}

const PrRoute *
pr_config_find_route (const PrConfig *config, const char *name)
{
  FIND (config->routes, PrRoute, name);
}

const char *
pr_priority_to_string (PrPriority priority)
{
  static const char *const names[] = { "low", "normal", "high", "urgent" };
  return priority <= PR_PRIORITY_URGENT ? names[priority] : "?";
}

const char *
pr_series_preference_to_string (PrSeriesPreference prefer)
{
  static const char *const names[] = { "all", "thinnest", "most-instances", "first" };
  return prefer <= PR_PREFER_FIRST ? names[prefer] : "?";
}

const char *
pr_result_priority_to_string (PrResultPriority priority)
{
  static const char *const names[] = { "routine", "urgent", "critical" };
  return priority <= PR_RESULT_CRITICAL ? names[priority] : "?";
}

PrResultPriority
pr_result_priority_from_string (const char *text)
{
  if (g_strcmp0 (text, "critical") == 0)
    return PR_RESULT_CRITICAL;
  if (g_strcmp0 (text, "urgent") == 0)
    return PR_RESULT_URGENT;
  return PR_RESULT_ROUTINE;
}

const char *
pr_peer_protocol_to_string (PrPeerProtocol protocol)
{
  return protocol == PR_PEER_HL7_MLLP ? "hl7-mllp" : "dicom";
}
