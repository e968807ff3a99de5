/* pr-router.h: which routes a study takes, and which series each analyzer gets.
 *
 * Pure decisions, no side effects: the daemon turns them into route runs
 * and jobs (pr-routing.h), `preread route` prints them.
 *
 * A route matches a study when at least one of its series satisfies the
 * route's <match> (study-level attributes are the same in every series).
 * Each <analyze> then picks, among all the study's series, those passing its
 * <series> filter, and of those the one(s) its prefer= names.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-study-facts.h"

G_BEGIN_DECLS

typedef struct {
  const PrRouteAnalysis *analysis;
  GPtrArray *series;            /* (element-type PrSeriesFacts) borrowed from the facts */
  char *why_none;               /* (nullable) when no series qualifies: the filter condition that failed */
} PrAnalysisPlan;

typedef struct {
  const PrRoute *route;
  gboolean matched;
  GPtrArray *matching_series;   /* (element-type PrSeriesFacts) borrowed */
  GPtrArray *failures;          /* char*: per series, the first condition that failed and the value seen */
  GPtrArray *plans;             /* PrAnalysisPlan*, one per <analyze>, when matched */
} PrRouteDecision;

/* Returns: (transfer full) (element-type PrRouteDecision): one per route of @config, in order. */
GPtrArray *pr_router_decide (const PrConfig *config, const PrStudyFacts *study);

/* The decision for one route. */
PrRouteDecision *pr_router_decide_route (const PrRoute *route, const PrStudyFacts *study);

/* A JSON array of the plan's series UIDs. */
char *pr_analysis_plan_series_json (const PrAnalysisPlan *plan);

/* A JSON object of the analyzer's parameters overridden by the route's. */
char *pr_analysis_parameters_json (const PrAnalyzerConfig *analyzer, const PrRouteAnalysis *analysis);

/**
 * pr_router_check_config:
 *
 * What only the DICOM dictionary can tell: every attribute named in a
 * condition is a known keyword, a tag or a fact. Errors are
 * "FILE:LINE: message" lines, like the loader's.
 */
gboolean pr_router_check_config (const PrConfig *config, GError **error);

/* The configuration at @path (NULL: the embedded default), checked against
 * the schema and then by pr_router_check_config(). */
PrConfig *pr_router_load_config (const char *path, GError **error);

void pr_route_decision_free (PrRouteDecision *decision);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrRouteDecision, pr_route_decision_free)

G_END_DECLS
