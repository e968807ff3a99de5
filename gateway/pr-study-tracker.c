/* pr-study-tracker.c: one timer per open study, the index decides. */
#include "config.h"

#include "pr-study-tracker.h"

struct _PrStudyTracker {
  PrIndex *index;
  gint64 quiet_us;
  PrStudyCompleteFunc on_complete;
  gpointer user_data;
  GHashTable *open;             /* study id (gint64*) -> OpenStudy* */
};

typedef struct {
  PrStudyTracker *tracker;
  gint64 study_id;
  gint64 last_seen_us;          /* wall clock, like the index */
  guint timer;
} OpenStudy;

static gboolean on_quiet_period_over (gpointer user_data);

static void
arm (OpenStudy *study)
{
  gint64 due_us = study->last_seen_us + study->tracker->quiet_us - g_get_real_time ();
  guint ms = due_us <= 0 ? 0 : (guint) MIN (due_us / 1000 + 1, (gint64) G_MAXUINT);
  if (study->timer != 0)
    g_source_remove (study->timer);
  study->timer = g_timeout_add (ms, on_quiet_period_over, study);
}

static void
open_study_free (gpointer data)
{
  OpenStudy *study = data;
  if (study->timer != 0)
    g_source_remove (study->timer);
  g_free (study);
}

static OpenStudy *
lookup_or_add (PrStudyTracker *self, gint64 study_id)
{
  OpenStudy *study = g_hash_table_lookup (self->open, &study_id);
  if (study == NULL)
    {
      study = g_new0 (OpenStudy, 1);
      study->tracker = self;
      study->study_id = study_id;
      g_hash_table_insert (self->open, &study->study_id, study);
    }
  return study;
}

static gboolean
on_quiet_period_over (gpointer user_data)
{
  OpenStudy *study = user_data;
  PrStudyTracker *self = study->tracker;
  study->timer = 0;

  gint64 now = g_get_real_time ();
  if (study->last_seen_us + self->quiet_us > now)
    {
      arm (study); /* an instance came in since the timer was set */
      return G_SOURCE_REMOVE;
    }

  PrIndexCompletion completion;
  g_autoptr (GError) error = NULL;
  if (!pr_index_complete_study (self->index, study->study_id, self->quiet_us, now, &completion, &error))
    {
      /* The index is busy or broken: try again after another quiet period
       * rather than lose the completion. */
      g_warning ("cannot complete study %" G_GINT64_FORMAT ": %s", study->study_id, error->message);
      study->last_seen_us = now;
      arm (study);
      return G_SOURCE_REMOVE;
    }
  if (!completion.completed && completion.last_received_at_us + self->quiet_us > now)
    {
      /* A receiver recorded an instance we have not heard about yet. */
      study->last_seen_us = completion.last_received_at_us;
      arm (study);
      return G_SOURCE_REMOVE;
    }

  gint64 study_id = study->study_id;
  g_hash_table_remove (self->open, &study_id);
  if (completion.completed && self->on_complete != NULL)
    self->on_complete (study_id, &completion, self->user_data);
  return G_SOURCE_REMOVE;
}

PrStudyTracker *
pr_study_tracker_new (PrIndex *index, guint quiet_period_s, PrStudyCompleteFunc on_complete, gpointer user_data)
{
  PrStudyTracker *self = g_new0 (PrStudyTracker, 1);
  self->index = index;
  self->quiet_us = (gint64) quiet_period_s * G_USEC_PER_SEC;
  self->on_complete = on_complete;
  self->user_data = user_data;
  self->open = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, open_study_free);
  return self;
}

gboolean
pr_study_tracker_resume (PrStudyTracker *self, GError **error)
{
  g_autoptr (GArray) open = pr_index_list_open_studies (self->index, error);
  if (open == NULL)
    return FALSE;
  for (guint i = 0; i < open->len; i++)
    {
      PrIndexOpenStudy *s = &g_array_index (open, PrIndexOpenStudy, i);
      OpenStudy *study = lookup_or_add (self, s->study_id);
      study->last_seen_us = MAX (study->last_seen_us, s->last_received_at_us);
      arm (study);
    }
  return TRUE;
}

void
pr_study_tracker_note_instance (PrStudyTracker *self, gint64 study_id)
{
  OpenStudy *study = lookup_or_add (self, study_id);
  study->last_seen_us = g_get_real_time ();
  /* Re-arming on every instance would churn timers at hundreds per second;
   * the timer checks last_seen_us when it fires and re-arms itself. */
  if (study->timer == 0)
    arm (study);
}

void
pr_study_tracker_set_quiet_period (PrStudyTracker *self, guint quiet_period_s)
{
  self->quiet_us = (gint64) quiet_period_s * G_USEC_PER_SEC;
}

guint
pr_study_tracker_get_n_open (PrStudyTracker *self)
{
  return g_hash_table_size (self->open);
}

void
pr_study_tracker_free (PrStudyTracker *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->open);
  g_free (self);
}
