/* pr-index.h: the SQLite index of everything received.
 *
 * One database file in the storage folder, opened by the daemon and by each
 * receiver process (SQLite WAL lets them write in turn). It holds studies,
 * series, instances and associations with the attributes the router and the
 * worklist need, and later jobs and outbox items.
 *
 * Durability: the index is derived from the spool. Commits use WAL with
 * synchronous=NORMAL, which survives any process crash; after a power loss
 * the last commits may be missing, and pr_daemon's reconciliation re-indexes
 * instances present in the spool but absent here.
 */
#pragma once

#include <glib.h>

#include "dicom/pr-association.h"
#include "dicom/pr-instance-header.h"

G_BEGIN_DECLS

#define PR_INDEX_ERROR (pr_index_error_quark ())

typedef enum {
  PR_INDEX_ERROR_SQLITE,     /* SQLite failed; the message has its text */
  PR_INDEX_ERROR_SCHEMA,     /* the file was made by a newer preread */
  PR_INDEX_ERROR_NOT_FOUND,
} PrIndexError;

GQuark pr_index_error_quark (void);

typedef struct _PrIndex PrIndex;

/**
 * pr_index_open:
 * @path: the database file; created with the current schema if missing
 *
 * Returns: (transfer full): the index; free with pr_index_free().
 */
PrIndex *pr_index_open (const char *path, GError **error);

void pr_index_free (PrIndex *index);

/* How an instance came to us. */
typedef struct {
  gint64 association_id;        /* 0 when recovered from the spool */
  const char *calling_ae;       /* (nullable) */
  const char *called_ae;        /* (nullable) */
  const char *relative_path;    /* in the spool */
  gint64 received_at_us;        /* wall clock */
} PrIndexReceipt;

typedef struct {
  gint64 study_id;
  gint64 series_id;
  gint64 instance_id;
  gboolean duplicate;           /* the SOP Instance UID was already indexed: nothing changed */
  gboolean reopened;            /* the study had been complete and receives again */
} PrIndexRecordResult;

/**
 * pr_index_record_instance:
 * @header: the stored instance's attributes
 *
 * Adds the instance, creating its study and series on first sight (the series
 * keeps the first instance's attributes as DICOM JSON for routing), and marks
 * the study as receiving. Idempotent per SOP Instance UID.
 */
gboolean pr_index_record_instance (PrIndex *index, const PrInstanceHeader *header,
                                   const PrIndexReceipt *receipt, PrIndexRecordResult *result,
                                   GError **error);

/* Sets *found when an instance with this spool path is indexed. */
gboolean pr_index_has_instance_path (PrIndex *index, const char *relative_path, gboolean *found,
                                     GError **error);

/* Returns: the new association's id (> 0), or 0 with @error set. */
gint64 pr_index_begin_association (PrIndex *index, const char *peer_address, GError **error);

gboolean pr_index_end_association (PrIndex *index, gint64 association_id,
                                   const PrAssociationSummary *summary, GError **error);

typedef struct {
  gint64 study_id;
  gint64 last_received_at_us;
} PrIndexOpenStudy;

/**
 * pr_index_list_open_studies:
 *
 * Returns: (transfer full) (element-type PrIndexOpenStudy): studies still
 * receiving, for re-arming their quiet timers after a restart.
 */
GArray *pr_index_list_open_studies (PrIndex *index, GError **error);

typedef struct {
  gboolean completed;           /* FALSE: an instance arrived within the quiet period */
  gboolean is_update;           /* the study had been complete before (late instances) */
  gint64 last_received_at_us;   /* to re-arm the timer when not completed */
  guint completion_count;
  guint instance_count;
} PrIndexCompletion;

/**
 * pr_index_complete_study:
 *
 * Marks the study complete if nothing arrived during the last @quiet_us
 * before @now_us. The check and the change are one transaction, so an
 * instance recorded concurrently by a receiver either reopens the study
 * afterwards or prevents the completion.
 */
gboolean pr_index_complete_study (PrIndex *index, gint64 study_id, gint64 quiet_us, gint64 now_us,
                                  PrIndexCompletion *out, GError **error);

/* A small persistent key/value store for the daemon's own bookkeeping. */
gboolean pr_index_get_meta_int (PrIndex *index, const char *key, gint64 *value, GError **error);
gboolean pr_index_set_meta_int (PrIndex *index, const char *key, gint64 value, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrIndex, pr_index_free)

G_END_DECLS
