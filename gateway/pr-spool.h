/* pr-spool.h: the storage folder, where received instances live.
 *
 * Layout (all names made here, never taken from the wire):
 *   STORAGE/tmp/a<assoc>-<n>.part            data sets being received
 *   STORAGE/studies/<S>/<E>/<I>.dcm          stored instances
 * where S, E and I are the first 32 hex digits of the SHA-256 of the Study,
 * Series and SOP Instance UIDs. A UID therefore always maps to the same file
 * (a resent instance lands on itself) and no UID, however hostile, can
 * become a path component.
 *
 * The spool is the truth about what was received; the index is derived from
 * it and can be rebuilt from it (see pr_spool_foreach_recent_instance()).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_SPOOL_ERROR (pr_spool_error_quark ())

typedef enum {
  PR_SPOOL_ERROR_IO,        /* a system call failed; message has the errno text */
  PR_SPOOL_ERROR_NO_SPACE,  /* the disk is full (ENOSPC, EDQUOT) */
} PrSpoolError;

GQuark pr_spool_error_quark (void);

typedef struct _PrSpool PrSpool;

/**
 * pr_spool_open:
 * @root: the storage folder; created (mode 0700) with its subfolders if missing
 *
 * Returns: (transfer full): the spool; free with pr_spool_free().
 */
PrSpool *pr_spool_open (const char *root, GError **error);

void pr_spool_free (PrSpool *spool);

/* Returns: (transfer none): the absolute storage folder. */
const char *pr_spool_get_root (PrSpool *spool);

/**
 * pr_spool_new_temp_path:
 * @association_id: the association receiving the data set
 *
 * Returns: (transfer full): a fresh, unused path under tmp/.
 */
char *pr_spool_new_temp_path (PrSpool *spool, gint64 association_id);

/**
 * pr_spool_free_space:
 * Returns: bytes available to us on the storage file system, or
 * G_MAXUINT64 when it cannot be determined.
 */
guint64 pr_spool_free_space (PrSpool *spool);

/**
 * pr_spool_instance_path:
 *
 * Returns: (transfer full): the path, relative to the storage folder, where
 * the instance with these UIDs is stored.
 */
char *pr_spool_instance_path (const char *study_uid, const char *series_uid, const char *sop_uid);

/**
 * pr_spool_commit:
 * @tmp_path: a received data set under tmp/; consumed (moved or deleted)
 * @relative_path: from pr_spool_instance_path()
 * @already_stored: (out): TRUE when the instance was already in the spool;
 *   the spool keeps the first copy and @tmp_path is deleted
 *
 * Makes the instance durable: data synced, then renamed into place without
 * replacing anything, then the folder synced. When this returns TRUE the
 * instance survives a crash or power loss.
 */
gboolean pr_spool_commit (PrSpool *spool, const char *tmp_path, const char *relative_path,
                          gboolean *already_stored, GError **error);

/* Deletes a temporary file that will not be committed. */
void pr_spool_discard (PrSpool *spool, const char *tmp_path);

/**
 * pr_spool_remove_temporaries:
 *
 * Deletes every leftover under tmp/: data sets whose receiver died before
 * committing them. Only safe when no receiver is running.
 *
 * Returns: how many were removed.
 */
guint pr_spool_remove_temporaries (PrSpool *spool);

typedef gboolean (*PrSpoolInstanceFunc) (const char *relative_path, gpointer user_data);

/**
 * pr_spool_foreach_recent_instance:
 * @since_us: wall-clock time in microseconds
 *
 * Calls @func for every stored instance in a series folder changed at or
 * after @since_us. Used to find instances that reached the spool but not the
 * index (a crash between the two) without reading the whole spool.
 * Stops early when @func returns FALSE.
 */
void pr_spool_foreach_recent_instance (PrSpool *spool, gint64 since_us, PrSpoolInstanceFunc func,
                                       gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrSpool, pr_spool_free)

G_END_DECLS
