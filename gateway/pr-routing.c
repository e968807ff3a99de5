/* pr-routing.c: per-study timers that ask the router whether routes are due. */
#include "config.h"

#include "pr-routing.h"
#include "pr-web-photo.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "pr-router.h"
#include "pr-study-facts.h"

/* Instance arrivals are coalesced: a study is looked at again at most this
 * often while it is receiving (only routes with expected counts need it). */
#define EXPECTED_CHECK_MS 250

struct _PrRouting {
  PrIndex *index;
  const PrConfig *config;
  PrRouteFiredFunc fired;
  gpointer user_data;
  GHashTable *studies;          /* study id (gint64*) -> Pending* */
};

typedef struct {
  PrRouting *routing;
  gint64 study_id;
  guint timer;
  gint64 due_us;                /* wall clock of the armed timer; 0 when none */
} Pending;

static gboolean on_due (gpointer user_data);

static void
pending_free (Pending *p)
{
  if (p->timer != 0)
    g_source_remove (p->timer);
  g_free (p);
}

static Pending *
pending_for (PrRouting *self, gint64 study_id)
{
  Pending *p = g_hash_table_lookup (self->studies, &study_id);
  if (p == NULL)
    {
      p = g_new0 (Pending, 1);
      p->routing = self;
      p->study_id = study_id;
      g_hash_table_insert (self->studies, &p->study_id, p);
    }
  return p;
}

static void
arm_at (Pending *p, gint64 due_us)
{
  if (p->timer != 0 && p->due_us <= due_us)
    return;
  if (p->timer != 0)
    g_source_remove (p->timer);
  gint64 wait_ms = (due_us - g_get_real_time ()) / 1000 + 1;
  p->due_us = due_us;
  p->timer = g_timeout_add ((guint) CLAMP (wait_ms, 0, G_MAXINT), on_due, p);
}

static gboolean
has_expected_counts (const PrConfig *config)
{
  for (guint i = 0; i < config->routes->len; i++)
    {
      const PrRoute *r = config->routes->pdata[i];
      if (r->expected_series || r->expected_instances)
        return TRUE;
    }
  return FALSE;
}

static gboolean
expected_counts_reached (const PrRoute *r, const PrStudyFacts *facts)
{
  if (!r->expected_series && !r->expected_instances)
    return FALSE;
  return (!r->expected_series || facts->series->len >= r->expected_series) &&
         (!r->expected_instances || facts->instance_count >= r->expected_instances);
}

/* The peer to send back to: the configured peer whose AE title is the one
 * that sent the study. */
static const PrPeer *
peer_of_sender (const PrConfig *config, const char *calling_ae)
{
  for (guint i = 0; calling_ae != NULL && i < config->peers->len; i++)
    {
      const PrPeer *peer = config->peers->pdata[i];
      if (peer->protocol == PR_PEER_DICOM && strcmp (peer->ae_title, calling_ae) == 0)
        return peer;
    }
  return NULL;
}

/* A photo uploaded on the web page: its sender is a person with a browser,
 * who reads the results there; there is no DICOM peer to send back to. */
static gboolean
is_web_upload (const PrStudyFacts *facts)
{
  return g_strcmp0 (facts->calling_ae, PR_WEB_UPLOAD_CALLING_AE) == 0;
}

static char *
results_to_json (const PrConfig *config, const PrRoute *route, const PrStudyFacts *facts)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < route->results_to->len; i++)
    {
      const PrRouteDestination *d = route->results_to->pdata[i];
      if (d->to_sender && is_web_upload (facts))
        continue;
      const PrPeer *peer = d->to_sender ? peer_of_sender (config, facts->calling_ae) : pr_config_find_peer (config, d->peer);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "peer");
      if (peer != NULL)
        json_builder_add_string_value (b, peer->name);
      else
        {
          json_builder_add_null_value (b);
          json_builder_set_member_name (b, "error");
          g_autofree char *why = g_strdup_printf ("no peer is configured with the sender's AE title \"%s\"",
                                                  facts->calling_ae ? facts->calling_ae : "?");
          json_builder_add_string_value (b, why);
        }
      char **objects = d->result_objects ? d->result_objects : (peer ? peer->result_objects : NULL);
      json_builder_set_member_name (b, "objects");
      json_builder_begin_array (b);
      for (char **o = objects; o && *o; o++)
        json_builder_add_string_value (b, *o);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
fire (PrRouting *self, const PrRoute *route, const PrRouteDecision *decision, const PrStudyFacts *facts,
      const char *trigger)
{
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) jobs = g_array_new (FALSE, TRUE, sizeof (PrIndexNewJob));
  for (guint i = 0; i < decision->plans->len; i++)
    {
      const PrAnalysisPlan *plan = decision->plans->pdata[i];
      const PrAnalyzerConfig *a = pr_config_find_analyzer (self->config, plan->analysis->analyzer);
      char *series = pr_analysis_plan_series_json (plan);
      char *parameters = pr_analysis_parameters_json (a, plan->analysis);
      char *declined = plan->series->len == 0 ? g_strdup_printf ("no series qualifies: %s", plan->why_none) : NULL;
      g_ptr_array_add (strings, series);
      g_ptr_array_add (strings, parameters);
      g_ptr_array_add (strings, declined);
      PrIndexNewJob job = { plan->analysis->analyzer, series, parameters, a ? (int) a->max_attempts : 1, declined };
      g_array_append_val (jobs, job);
    }
  g_autoptr (GArray) forwards = g_array_new (FALSE, TRUE, sizeof (PrIndexNewForward));
  for (guint i = 0; i < route->forward_to->len; i++)
    {
      const PrRouteDestination *d = route->forward_to->pdata[i];
      if (d->to_sender && is_web_upload (facts))
        continue;
      const PrPeer *peer = d->to_sender ? peer_of_sender (self->config, facts->calling_ae)
                                        : pr_config_find_peer (self->config, d->peer);
      char *why = peer ? NULL : g_strdup_printf ("no peer is configured with the sender's AE title \"%s\"",
                                                 facts->calling_ae ? facts->calling_ae : "?");
      g_ptr_array_add (strings, why);
      PrIndexNewForward forward = { peer ? peer->name : NULL, why };
      g_array_append_val (forwards, forward);
    }
  g_autofree char *results_to = results_to_json (self->config, route, facts);

  gint64 run_id = 0;
  g_autoptr (GError) error = NULL;
  if (!pr_index_create_route_run (self->index, facts->study_id, route->name, trigger, (int) route->priority,
                                  facts->instance_count, results_to, (PrIndexNewJob *) jobs->data, jobs->len,
                                  (PrIndexNewForward *) forwards->data, forwards->len, &run_id, &error))
    {
      g_warning ("study %" G_GINT64_FORMAT ": route %s could not be recorded: %s", facts->study_id, route->name,
                 error->message);
      return;
    }
  g_message ("study %" G_GINT64_FORMAT ": route %s fired (%s): %u job(s), %u forward destination(s)",
             facts->study_id, route->name, trigger, jobs->len, forwards->len);
  if (self->fired != NULL)
    self->fired (facts->study_id, run_id, self->user_data);
}

/* Fires what is due; returns the wall-clock time of the next decision, or 0
 * when the study is settled. */
static gint64
evaluate (PrRouting *self, gint64 study_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrIndexStudy) study = pr_index_get_study (self->index, study_id, &error);
  if (study == NULL)
    {
      g_warning ("routing study %" G_GINT64_FORMAT ": %s", study_id, error->message);
      return 0;
    }
  g_autoptr (PrStudyFacts) facts = pr_study_facts_from_index (study);
  gint64 now = g_get_real_time ();
  gint64 next = G_MAXINT64;

  for (guint i = 0; i < self->config->routes->len; i++)
    {
      const PrRoute *route = self->config->routes->pdata[i];
      guint run = 0, count_at_run = 0;
      if (!pr_index_last_route_run (self->index, study_id, route->name, &run, &count_at_run, &error))
        {
          g_warning ("routing study %" G_GINT64_FORMAT ": %s", study_id, error->message);
          return now + 10 * G_USEC_PER_SEC; /* look again soon */
        }
      if (run > 0 && (count_at_run >= study->instance_count || route->on_update == PR_ON_UPDATE_IGNORE))
        continue;

      guint quiet = route->quiet_period_s ? route->quiet_period_s : self->config->node->quiet_period_s;
      gint64 due = study->last_received_at_us + (gint64) quiet * G_USEC_PER_SEC;
      g_autoptr (PrRouteDecision) decision = pr_router_decide_route (route, facts);
      gboolean expected = expected_counts_reached (route, facts);
      if (decision->matched && (now >= due || expected))
        fire (self, route, decision, facts, run > 0 ? "update" : (now >= due ? "quiet period" : "expected count"));
      else if (now < due)
        next = MIN (next, due);
      /* else: unmatched past its quiet period; settled until new instances */
    }
  if (next != G_MAXINT64)
    return next;
  if (!pr_index_mark_routed (self->index, study_id, study->instance_count, &error))
    g_warning ("routing study %" G_GINT64_FORMAT ": %s", study_id, error->message);
  return 0;
}

static gboolean
on_due (gpointer user_data)
{
  Pending *p = user_data;
  PrRouting *self = p->routing;
  p->timer = 0;
  p->due_us = 0;
  gint64 next = evaluate (self, p->study_id);
  if (next == 0)
    g_hash_table_remove (self->studies, &p->study_id);
  else
    arm_at (p, next);
  return G_SOURCE_REMOVE;
}

PrRouting *
pr_routing_new (PrIndex *index, const PrConfig *config, PrRouteFiredFunc fired, gpointer user_data)
{
  PrRouting *self = g_new0 (PrRouting, 1);
  self->index = index;
  self->config = config;
  self->fired = fired;
  self->user_data = user_data;
  self->studies = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) pending_free);
  return self;
}

gboolean
pr_routing_resume (PrRouting *self, GError **error)
{
  g_autoptr (GArray) ids = pr_index_list_unrouted_studies (self->index, error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    arm_at (pending_for (self, g_array_index (ids, gint64, i)), g_get_real_time ());
  if (ids->len > 0)
    g_message ("routing: %u study(ies) to decide from before the restart", ids->len);
  return TRUE;
}

void
pr_routing_note_instance (PrRouting *self, gint64 study_id)
{
  Pending *p = pending_for (self, study_id);
  /* Without expected counts nothing can be due before the quiet period,
   * which evaluate() computes from the index; a short first look costs one
   * query and arms the real deadline. */
  gint64 soon = g_get_real_time () + (gint64) EXPECTED_CHECK_MS * 1000;
  if (has_expected_counts (self->config) || p->timer == 0)
    arm_at (p, soon);
}

void
pr_routing_set_config (PrRouting *self, const PrConfig *config)
{
  self->config = config;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->studies);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    arm_at (value, g_get_real_time ());
}

guint
pr_routing_get_n_pending (PrRouting *self)
{
  return g_hash_table_size (self->studies);
}

void
pr_routing_free (PrRouting *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->studies);
  g_free (self);
}
