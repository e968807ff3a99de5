/* pr-router.c: route matching and series selection. */
#include "config.h"

#include "pr-router.h"

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "conf/pr-conf-error.h"
#include "dicom/pr-dicom.h"

typedef struct {
  const PrStudyFacts *study;
  const PrSeriesFacts *series;
} Context;

static const char *
lookup (const char *attribute, gpointer user_data)
{
  Context *ctx = user_data;
  return pr_study_facts_lookup (ctx->study, ctx->series, attribute);
}

/* "SliceThickness in [0, 2.5] failed: is 5" */
static char *
explain (const PrCondition *failed, const Context *ctx)
{
  g_autofree char *what = pr_condition_describe (failed);
  if (failed->attribute == NULL)
    return g_strdup_printf ("%s did not hold", what);
  const char *value = lookup (failed->attribute, (gpointer) ctx);
  if (value == NULL || *value == '\0')
    return g_strdup_printf ("%s failed: %s is absent", what, failed->attribute);
  return g_strdup_printf ("%s failed: is \"%s\"", what, value);
}

static void
plan_free (PrAnalysisPlan *plan)
{
  g_ptr_array_unref (plan->series);
  g_free (plan->why_none);
  g_free (plan);
}

void
pr_route_decision_free (PrRouteDecision *d)
{
  if (d == NULL)
    return;
  g_ptr_array_unref (d->matching_series);
  g_ptr_array_unref (d->failures);
  g_ptr_array_unref (d->plans);
  g_free (d);
}

static double
thickness_of (const PrStudyFacts *study, const PrSeriesFacts *s)
{
  const char *value = pr_study_facts_lookup (study, s, "SliceThickness");
  if (value == NULL)
    return INFINITY; /* unknown thickness loses to any known one */
  char *end = NULL;
  double t = g_ascii_strtod (value, &end);
  return end == value ? INFINITY : t;
}

static PrAnalysisPlan *
plan_analysis (const PrRouteAnalysis *analysis, const PrStudyFacts *study)
{
  PrAnalysisPlan *plan = g_new0 (PrAnalysisPlan, 1);
  plan->analysis = analysis;
  plan->series = g_ptr_array_new ();

  g_autoptr (GPtrArray) eligible = g_ptr_array_new ();
  for (guint i = 0; i < study->series->len; i++)
    {
      Context ctx = { study, study->series->pdata[i] };
      const PrCondition *failed = NULL;
      if (pr_condition_evaluate (analysis->series_filter, lookup, &ctx, &failed))
        g_ptr_array_add (eligible, (gpointer) ctx.series);
      else if (plan->why_none == NULL)
        plan->why_none = explain (failed, &ctx);
    }
  if (eligible->len == 0)
    {
      if (plan->why_none == NULL)
        plan->why_none = g_strdup ("the study has no series");
      return plan;
    }
  g_clear_pointer (&plan->why_none, g_free);

  const PrSeriesFacts *best = NULL;
  switch (analysis->prefer)
    {
    case PR_PREFER_ALL:
      g_ptr_array_extend (plan->series, eligible, NULL, NULL);
      return plan;
    case PR_PREFER_FIRST:
      best = eligible->pdata[0];
      break;
    case PR_PREFER_MOST_INSTANCES:
      for (guint i = 0; i < eligible->len; i++)
        {
          const PrSeriesFacts *s = eligible->pdata[i];
          if (best == NULL || s->instance_count > best->instance_count)
            best = s;
        }
      break;
    case PR_PREFER_THINNEST:
      for (guint i = 0; i < eligible->len; i++)
        {
          const PrSeriesFacts *s = eligible->pdata[i];
          double t = thickness_of (study, s);
          double b = best ? thickness_of (study, best) : INFINITY;
          /* Thinner wins; at equal thickness, more coverage wins. */
          if (best == NULL || t < b || (t == b && s->instance_count > best->instance_count))
            best = s;
        }
      break;
    }
  g_ptr_array_add (plan->series, (gpointer) best);
  return plan;
}

PrRouteDecision *
pr_router_decide_route (const PrRoute *route, const PrStudyFacts *study)
{
  PrRouteDecision *d = g_new0 (PrRouteDecision, 1);
  d->route = route;
  d->matching_series = g_ptr_array_new ();
  d->failures = g_ptr_array_new_with_free_func (g_free);
  d->plans = g_ptr_array_new_with_free_func ((GDestroyNotify) plan_free);

  for (guint i = 0; i < study->series->len; i++)
    {
      Context ctx = { study, study->series->pdata[i] };
      const PrCondition *failed = NULL;
      if (pr_condition_evaluate (route->match, lookup, &ctx, &failed))
        g_ptr_array_add (d->matching_series, (gpointer) ctx.series);
      else
        {
          g_autofree char *why = explain (failed, &ctx);
          g_ptr_array_add (d->failures, g_strdup_printf ("series %u (%s): %s", i + 1, ctx.series->series_uid, why));
        }
    }
  d->matched = d->matching_series->len > 0;
  if (study->series->len == 0)
    g_ptr_array_add (d->failures, g_strdup ("the study has no series"));
  if (d->matched)
    for (guint i = 0; i < route->analyses->len; i++)
      g_ptr_array_add (d->plans, plan_analysis (route->analyses->pdata[i], study));
  return d;
}

GPtrArray *
pr_router_decide (const PrConfig *config, const PrStudyFacts *study)
{
  GPtrArray *decisions = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_route_decision_free);
  for (guint i = 0; i < config->routes->len; i++)
    g_ptr_array_add (decisions, pr_router_decide_route (config->routes->pdata[i], study));
  return decisions;
}

char *
pr_analysis_plan_series_json (const PrAnalysisPlan *plan)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->series->len; i++)
    json_builder_add_string_value (b, ((PrSeriesFacts *) plan->series->pdata[i])->series_uid);
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
add_parameters (JsonObject *object, GHashTable *parameters)
{
  GHashTableIter iter;
  gpointer key, value;
  if (parameters == NULL)
    return;
  g_hash_table_iter_init (&iter, parameters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    json_object_set_string_member (object, key, value);
}

char *
pr_analysis_parameters_json (const PrAnalyzerConfig *analyzer, const PrRouteAnalysis *analysis)
{
  g_autoptr (JsonObject) object = json_object_new ();
  add_parameters (object, analyzer ? analyzer->parameters : NULL);
  add_parameters (object, analysis->parameters);
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), object);
  return json_to_string (root, FALSE);
}

typedef struct {
  const PrConfig *config;
  GString *errors;
} Checker;

static gboolean
check_leaf (const PrCondition *leaf, gpointer user_data)
{
  Checker *c = user_data;
  if (leaf->attribute[0] != '@' && !pr_dicom_attribute_to_tag (leaf->attribute, NULL))
    g_string_append_printf (c->errors, "%s%s:%d: unknown attribute \"%s\" (not a DICOM keyword, nor a tag like 0018,0050)",
                            c->errors->len ? "\n" : "", c->config->source, leaf->line, leaf->attribute);
  return TRUE;
}

gboolean
pr_router_check_config (const PrConfig *config, GError **error)
{
  Checker c = { config, g_string_new (NULL) };
  for (guint i = 0; i < config->routes->len; i++)
    {
      const PrRoute *route = config->routes->pdata[i];
      pr_condition_foreach_attribute (route->match, check_leaf, &c);
      for (guint j = 0; j < route->analyses->len; j++)
        pr_condition_foreach_attribute (((PrRouteAnalysis *) route->analyses->pdata[j])->series_filter, check_leaf, &c);
    }
  gboolean ok = c.errors->len == 0;
  if (!ok)
    g_set_error_literal (error, PR_CONF_ERROR, PR_CONF_ERROR_INVALID, c.errors->str);
  g_string_free (c.errors, TRUE);
  return ok;
}

PrConfig *
pr_router_load_config (const char *path, GError **error)
{
  g_autoptr (PrConfig) config = path ? pr_config_load_file (path, error) : pr_config_load_default ();
  if (config == NULL || !pr_router_check_config (config, error))
    return NULL;
  return g_steal_pointer (&config);
}
