/* pr-recovery.c: re-index what the spool has and the index lacks. */
#include "config.h"

#include "pr-recovery.h"

#include <sys/stat.h>

#include "dicom/pr-instance-header.h"

typedef struct {
  PrSpool *spool;
  PrIndex *index;
  GArray *studies;
  guint reindexed;
} Recovery;

static gboolean
reindex_one (const char *relative_path, gpointer user_data)
{
  Recovery *rec = user_data;
  g_autoptr (GError) error = NULL;
  gboolean found = FALSE;
  if (!pr_index_has_instance_path (rec->index, relative_path, &found, &error))
    {
      g_warning ("recovery: %s", error->message);
      return FALSE;
    }
  if (found)
    return TRUE;

  g_autofree char *path = g_build_filename (pr_spool_get_root (rec->spool), relative_path, NULL);
  g_autoptr (PrInstanceHeader) header = pr_instance_header_read (path, &error);
  if (header == NULL || header->study_instance_uid == NULL || header->series_instance_uid == NULL ||
      header->sop_instance_uid == NULL)
    {
      g_warning ("recovery: %s is in the spool but unreadable, left alone: %s", relative_path,
                 error ? error->message : "UIDs missing");
      return TRUE;
    }

  /* The receipt is rebuilt from the file: its meta header names the AE that
   * sent it, and its modification time is when it was committed. */
  struct stat st;
  gint64 received = g_get_real_time ();
  if (stat (path, &st) == 0)
    received = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  PrIndexReceipt receipt = { 0, header->source_ae_title, NULL, relative_path, received };
  PrIndexRecordResult result;
  if (!pr_index_record_instance (rec->index, header, &receipt, &result, &error))
    {
      g_warning ("recovery: cannot index %s: %s", relative_path, error->message);
      return FALSE;
    }
  if (!result.duplicate)
    {
      rec->reindexed++;
      g_array_append_val (rec->studies, result.study_id);
    }
  return TRUE;
}

guint
pr_recovery_reindex (PrSpool *spool, PrIndex *index, gint64 since_us, GArray **studies)
{
  Recovery rec = { spool, index, g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
  pr_spool_foreach_recent_instance (spool, since_us, reindex_one, &rec);
  *studies = rec.studies;
  return rec.reindexed;
}
