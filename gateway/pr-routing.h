/* pr-routing.h: when routes fire, and what firing leaves in the queue.
 *
 * Each route decides on its own when a study is ready for it: after the
 * route's quiet period (or the node's) without new instances, or as soon as
 * its expected number of series / instances has arrived. Firing records a
 * route run with its jobs and its forwarded instances in one transaction
 * (pr_index_create_route_run), so a study is routed exactly once per run,
 * crash or not. Instances arriving after a route fired make the study
 * "updated": routes with on-update="rerun" fire again after another quiet
 * period; on-update="ignore" routes do not.
 *
 * A study whose every route has either fired or stayed unmatched past its
 * quiet period is settled (studies.routed_instances); a restart resumes
 * every study not settled.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"

G_BEGIN_DECLS

typedef struct _PrRouting PrRouting;

/* A route fired: jobs and outbox items may be waiting. */
typedef void (*PrRouteFiredFunc) (gint64 study_id, gint64 route_run_id, gpointer user_data);

/* @index and @config are borrowed; see pr_routing_set_config(). */
PrRouting *pr_routing_new (PrIndex *index, const PrConfig *config, PrRouteFiredFunc fired, gpointer user_data);

/* Studies not settled at the last shutdown (or crash) are looked at again. */
gboolean pr_routing_resume (PrRouting *routing, GError **error);

/* An instance of @study_id was just stored. */
void pr_routing_note_instance (PrRouting *routing, gint64 study_id);

/* A new configuration: open studies are evaluated again against it. */
void pr_routing_set_config (PrRouting *routing, const PrConfig *config);

/* Studies with a route still to decide. */
guint pr_routing_get_n_pending (PrRouting *routing);

void pr_routing_free (PrRouting *routing);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrRouting, pr_routing_free)

G_END_DECLS
