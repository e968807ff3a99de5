/* pr-result-object.h: the result objects a job produced, as the index keeps them.
 *
 * A job that ends done gets results_state "pending"; the results builder
 * (pr-results.h) makes its objects and records them here, together with an
 * outbox item per object and destination, in one transaction: a crash
 * leaves either all of it or none (and the job still pending, so it is
 * built again, with the same UIDs). Result files live under
 * STORAGE/results/JOB/.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;
  gint64 job_id;
  gint64 study_id;
  char *kind;                   /* sr, sc, gsps, seg, kos */
  char *sop_class_uid;
  char *sop_instance_uid;
  char *series_instance_uid;
  char *path;                   /* relative to the storage folder */
} PrResultObject;

void pr_result_object_free (PrResultObject *object);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrResultObject, pr_result_object_free)

/* Where a job's results go, as its route run recorded it. */
typedef struct {
  const char *peer;             /* (nullable) NULL: unresolved */
  const char *unresolved_reason;/* (nullable) */
  const char *const *objects;   /* (nullable) kinds this destination takes; NULL or empty: all */
} PrResultDestination;

/* An HL7 result notice to record with the objects (pr-hl7-notify.h). */
typedef struct {
  char *peer;
  char *control_id;             /* MSH-10; the outbox item's sop_instance_uid */
  char *path;                   /* relative to the storage folder */
  char *error;                  /* (nullable) it could not be made: the item is a dead letter with this */
} PrResultNotice;

void pr_result_notice_free (PrResultNotice *notice);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrResultNotice, pr_result_notice_free)

/* Jobs whose results are still to be built: (element-type gint64). */
GArray *pr_index_list_pending_results (PrIndex *index, GError **error);

/**
 * pr_index_record_results:
 * @objects: (element-type PrResultObject): what was built (ids ignored)
 * @notices: (nullable) (element-type PrResultNotice): HL7 notices to send
 * @priority: of the outbox items: higher goes first
 *
 * Records the objects, an outbox item for each one a destination takes,
 * one (kind "hl7") for each notice, and marks the job's results built, in
 * one transaction.
 */
gboolean pr_index_record_results (PrIndex *index, gint64 job_id, GPtrArray *objects,
                                  const PrResultDestination *destinations, guint n_destinations,
                                  GPtrArray *notices, int priority, GError **error);

/* Before a job's results are built again (it ran again, so they get new
 * UIDs): its earlier objects are about to leave the disk, so their
 * undelivered items (HL7 notices too) are cancelled ("superseded") and
 * their rows go. Items being sent right now finish; should that attempt
 * fail, they are cancelled then, not retried. */
gboolean pr_index_supersede_results (PrIndex *index, gint64 job_id, GError **error);

/* The builder failed for good: results_state "failed" with @reason. */
gboolean pr_index_fail_results (PrIndex *index, gint64 job_id, const char *reason, GError **error);

/* Returns: (transfer full) (element-type PrResultObject): a job's objects. */
GPtrArray *pr_index_list_results (PrIndex *index, gint64 job_id, GError **error);

/* Returns: (transfer full): this installation's identity (a UUID made on
 * first call and kept in the index): part of every result UID's seed, so
 * that two gateways never make the same UIDs. */
char *pr_index_installation_id (PrIndex *index, GError **error);

G_END_DECLS
