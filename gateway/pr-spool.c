/* pr-spool.c: durable storage of received instances.
 *
 * The commit sequence is the classic one from the crash-consistency
 * literature (write temp, fsync, rename, fsync the folder), done with
 * descriptors relative to the spool so that nothing outside it is touched.
 */
#include "config.h"

#include "pr-spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gstdio.h>

G_DEFINE_QUARK (preread-spool-error-quark, pr_spool_error)

#define KEY_HEX_DIGITS 32

struct _PrSpool {
  char *root;
  char *tmp_dir;
  char *studies_dir;
  int root_fd;
  guint temp_counter;
};

static gboolean
fail_errno (GError **error, int err, const char *what, const char *path)
{
  int code = (err == ENOSPC || err == EDQUOT) ? PR_SPOOL_ERROR_NO_SPACE : PR_SPOOL_ERROR_IO;
  g_set_error (error, PR_SPOOL_ERROR, code, "%s %s: %s", what, path, g_strerror (err));
  return FALSE;
}

/* fsync() of a folder makes the entries created or renamed in it durable. */
static gboolean
sync_folder (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail_errno (error, errno, "cannot open folder", path);
  int rc = fsync (fd);
  int err = errno;
  close (fd);
  if (rc != 0)
    return fail_errno (error, err, "cannot sync folder", path);
  return TRUE;
}

/* mkdir that is itself durable: the new entry is synced in its parent. */
static gboolean
make_folder_durably (const char *path, GError **error)
{
  if (mkdir (path, 0700) != 0)
    {
      if (errno == EEXIST)
        return TRUE;
      return fail_errno (error, errno, "cannot create folder", path);
    }
  g_autofree char *parent = g_path_get_dirname (path);
  return sync_folder (parent, error);
}

PrSpool *
pr_spool_open (const char *root, GError **error)
{
  g_autofree char *absolute = g_canonicalize_filename (root, NULL);
  if (g_mkdir_with_parents (absolute, 0700) != 0)
    {
      fail_errno (error, errno, "cannot create storage folder", absolute);
      return NULL;
    }

  PrSpool *spool = g_new0 (PrSpool, 1);
  spool->root = g_steal_pointer (&absolute);
  spool->tmp_dir = g_build_filename (spool->root, "tmp", NULL);
  spool->studies_dir = g_build_filename (spool->root, "studies", NULL);
  spool->root_fd = open (spool->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (spool->root_fd < 0 || !make_folder_durably (spool->tmp_dir, error) ||
      !make_folder_durably (spool->studies_dir, error))
    {
      if (spool->root_fd < 0)
        fail_errno (error, errno, "cannot open storage folder", spool->root);
      pr_spool_free (spool);
      return NULL;
    }
  return spool;
}

void
pr_spool_free (PrSpool *spool)
{
  if (spool == NULL)
    return;
  if (spool->root_fd >= 0)
    close (spool->root_fd);
  g_free (spool->root);
  g_free (spool->tmp_dir);
  g_free (spool->studies_dir);
  g_free (spool);
}

const char *
pr_spool_get_root (PrSpool *spool)
{
  return spool->root;
}

char *
pr_spool_new_temp_path (PrSpool *spool, gint64 association_id)
{
  /* The association id is unique for the daemon's lifetime and the counter
   * within the association, so two receivers never pick the same name. */
  return g_strdup_printf ("%s/a%" G_GINT64_FORMAT "-%u.part", spool->tmp_dir, association_id,
                          ++spool->temp_counter);
}

guint64
pr_spool_free_space (PrSpool *spool)
{
  struct statvfs st;
  if (fstatvfs (spool->root_fd, &st) != 0)
    return G_MAXUINT64;
  return (guint64) st.f_bavail * (guint64) st.f_frsize;
}

static void
append_key (GString *out, const char *uid)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, uid, -1);
  g_string_append_len (out, digest, KEY_HEX_DIGITS);
}

char *
pr_spool_instance_path (const char *study_uid, const char *series_uid, const char *sop_uid)
{
  GString *path = g_string_new ("studies/");
  append_key (path, study_uid);
  g_string_append_c (path, '/');
  append_key (path, series_uid);
  g_string_append_c (path, '/');
  append_key (path, sop_uid);
  g_string_append (path, ".dcm");
  return g_string_free (path, FALSE);
}

static gboolean
sync_file_data (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return fail_errno (error, errno, "cannot open", path);
  int rc = fdatasync (fd);
  int err = errno;
  close (fd);
  if (rc != 0)
    return fail_errno (error, err, "cannot sync", path);
  return TRUE;
}

/* rename() that fails with EEXIST instead of replacing the target. */
static int
rename_without_replacing (const char *from, const char *to)
{
#ifdef HAVE_RENAMEAT2
  int rc = renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
  if (rc == 0 || errno != EINVAL)
    return rc;
#endif
  /* File systems without RENAME_NOREPLACE: link() fails on an existing
   * target too; the temporary name is removed afterwards. */
  if (link (from, to) != 0)
    return -1;
  unlink (from);
  return 0;
}

gboolean
pr_spool_commit (PrSpool *spool, const char *tmp_path, const char *relative_path,
                 gboolean *already_stored, GError **error)
{
  *already_stored = FALSE;
  g_autofree char *final_path = g_build_filename (spool->root, relative_path, NULL);
  g_autofree char *series_dir = g_path_get_dirname (final_path);
  g_autofree char *study_dir = g_path_get_dirname (series_dir);

  if (!sync_file_data (tmp_path, error) || !make_folder_durably (study_dir, error) ||
      !make_folder_durably (series_dir, error))
    {
      pr_spool_discard (spool, tmp_path);
      return FALSE;
    }

  if (rename_without_replacing (tmp_path, final_path) != 0)
    {
      int err = errno;
      pr_spool_discard (spool, tmp_path);
      if (err == EEXIST)
        {
          /* Keep the first copy: a resend after a lost response carries the
           * same data, and replacing a file others may be reading is worse. */
          *already_stored = TRUE;
          return TRUE;
        }
      return fail_errno (error, err, "cannot move into place", final_path);
    }

  return sync_folder (series_dir, error);
}

void
pr_spool_discard (PrSpool *spool, const char *tmp_path)
{
  if (g_unlink (tmp_path) != 0 && errno != ENOENT)
    g_warning ("cannot delete temporary file %s: %s", tmp_path, g_strerror (errno));
}

guint
pr_spool_remove_temporaries (PrSpool *spool)
{
  g_autoptr (GDir) dir = g_dir_open (spool->tmp_dir, 0, NULL);
  if (dir == NULL)
    return 0;
  guint removed = 0;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (spool->tmp_dir, name, NULL);
      if (g_unlink (path) == 0)
        removed++;
    }
  return removed;
}

static gint64
mtime_us (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * G_USEC_PER_SEC + st->st_mtim.tv_nsec / 1000;
}

static gboolean
is_key_name (const char *name, const char *suffix)
{
  size_t len = strlen (name), suffix_len = strlen (suffix);
  if (len != KEY_HEX_DIGITS + suffix_len || strcmp (name + KEY_HEX_DIGITS, suffix) != 0)
    return FALSE;
  for (size_t i = 0; i < KEY_HEX_DIGITS; i++)
    if (!g_ascii_isxdigit (name[i]))
      return FALSE;
  return TRUE;
}

void
pr_spool_foreach_recent_instance (PrSpool *spool, gint64 since_us, PrSpoolInstanceFunc func,
                                  gpointer user_data)
{
  g_autoptr (GDir) studies = g_dir_open (spool->studies_dir, 0, NULL);
  if (studies == NULL)
    return;
  const char *study;
  while ((study = g_dir_read_name (studies)) != NULL)
    {
      if (!is_key_name (study, ""))
        continue;
      g_autofree char *study_path = g_build_filename (spool->studies_dir, study, NULL);
      g_autoptr (GDir) series_list = g_dir_open (study_path, 0, NULL);
      if (series_list == NULL)
        continue;
      const char *series;
      while ((series = g_dir_read_name (series_list)) != NULL)
        {
          if (!is_key_name (series, ""))
            continue;
          g_autofree char *series_path = g_build_filename (study_path, series, NULL);
          struct stat st;
          /* A folder's mtime moves whenever an entry is added, so folders
           * older than @since_us cannot hold anything new. */
          if (lstat (series_path, &st) != 0 || !S_ISDIR (st.st_mode) || mtime_us (&st) < since_us)
            continue;
          g_autoptr (GDir) files = g_dir_open (series_path, 0, NULL);
          const char *file;
          while (files != NULL && (file = g_dir_read_name (files)) != NULL)
            {
              if (!is_key_name (file, ".dcm"))
                continue;
              g_autofree char *relative = g_strdup_printf ("studies/%s/%s/%s", study, series, file);
              if (!func (relative, user_data))
                return;
            }
        }
    }
}
