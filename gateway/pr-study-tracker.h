/* pr-study-tracker.h: deciding when a study is complete.
 *
 * DICOM has no "end of study" message. A study counts as complete when no
 * instance has arrived for its quiet period; a late instance reopens it, and
 * its next completion is an update. The tracker keeps one timer per open
 * study on the main loop, and the index has the final word (see
 * pr_index_complete_study()), so receivers writing concurrently can never
 * make a study complete too early.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct _PrStudyTracker PrStudyTracker;

typedef void (*PrStudyCompleteFunc) (gint64 study_id, const PrIndexCompletion *completion,
                                     gpointer user_data);

/**
 * pr_study_tracker_new:
 * @index: (transfer none): must outlive the tracker
 * @quiet_period_s: default quiet period
 * @on_complete: called on the main loop when a study completes
 */
PrStudyTracker *pr_study_tracker_new (PrIndex *index, guint quiet_period_s, PrStudyCompleteFunc on_complete,
                                      gpointer user_data);

/* Re-arms timers for the studies the index says are still receiving
 * (after a restart, their quiet period continues from their last instance). */
gboolean pr_study_tracker_resume (PrStudyTracker *tracker, GError **error);

/* An instance of @study_id has just been stored. */
void pr_study_tracker_note_instance (PrStudyTracker *tracker, gint64 study_id);

void pr_study_tracker_set_quiet_period (PrStudyTracker *tracker, guint quiet_period_s);

/* Studies waiting for their quiet period to end. */
guint pr_study_tracker_get_n_open (PrStudyTracker *tracker);

void pr_study_tracker_free (PrStudyTracker *tracker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrStudyTracker, pr_study_tracker_free)

G_END_DECLS
