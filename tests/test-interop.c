/* test-interop.c: real-world files from ../shared/data against `preread serve`.
 *
 * Interop sets: every file DCMTK can parse that is a storable instance (a
 * storage SOP class and transfer syntax DCMTK knows, with SOP Class, SOP
 * Instance, Study and Series UIDs in its data set) must be stored, with the
 * same data set content as the file. Every other file must be refused
 * cleanly. Malformed set: each file is stored or refused, and the daemon
 * keeps serving. Skips when ../shared/data is absent.
 */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"
#include "gateway/pr-spool.h"
#include "pr-test-util.h"

typedef struct {
  char *path;
  char *sop_uid;            /* NULL when not storable */
  char *relative;           /* spool path when storable */
  const char *why_not;      /* why it is not storable */
} Candidate;

static void
candidate_free (gpointer data)
{
  Candidate *c = data;
  g_free (c->path);
  g_free (c->sop_uid);
  g_free (c->relative);
  g_free (c);
}

/* Reads inventory.csv: the files its dcmdump parse check passed. */
static GPtrArray *
parsable_files (const char *set_dir)
{
  g_autofree char *csv = g_build_filename (set_dir, "inventory.csv", NULL);
  g_autofree char *text = NULL;
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  if (!g_file_get_contents (csv, &text, NULL, NULL))
    return files;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) cols = g_strsplit (lines[i], ",", 5);
      if (g_strv_length (cols) >= 4 && strcmp (cols[3], "1") == 0)
        g_ptr_array_add (files, g_build_filename (set_dir, cols[0], NULL));
    }
  return files;
}

static Candidate *
classify (const char *path)
{
  Candidate *c = g_new0 (Candidate, 1);
  c->path = g_strdup (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrInstanceHeader) h = pr_instance_header_read (path, &error);
  if (h == NULL)
    c->why_not = "unreadable";
  else if (!pr_dicom_is_storage_sop_class (h->sop_class_uid))
    c->why_not = "no storage SOP Class UID this DCMTK knows in the data set";
  else if (!pr_dicom_is_known_transfer_syntax (h->transfer_syntax_uid))
    c->why_not = "transfer syntax unknown to this DCMTK";
  else if (!pr_dicom_uid_is_acceptable (h->sop_instance_uid) || !pr_dicom_uid_is_acceptable (h->study_instance_uid) ||
           !pr_dicom_uid_is_acceptable (h->series_instance_uid))
    c->why_not = "SOP Instance, Study or Series UID missing";
  else
    {
      c->sop_uid = g_strdup (h->sop_instance_uid);
      c->relative = pr_spool_instance_path (h->study_instance_uid, h->series_instance_uid, h->sop_instance_uid);
    }
  return c;
}

static void
test_interop_sets (void)
{
  const char *shared = pr_test_shared_data ();
  if (shared == NULL)
    {
      g_test_skip ("../shared/data is absent (set PREREAD_SHARED_DATA to use another copy)");
      return;
    }
  g_autofree char *interop = g_build_filename (shared, "interop", NULL);
  g_autoptr (GDir) dir = g_dir_open (interop, 0, NULL);
  g_assert_nonnull (dir);
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *target = pr_test_daemon_target (d);

  guint sets = 0, expected = 0, excluded = 0, compared = 0;
  GHashTable *first_by_uid = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (candidate_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *set_dir = g_build_filename (interop, name, NULL);
      g_autoptr (GPtrArray) files = parsable_files (set_dir);
      if (files->len == 0)
        continue;
      sets++;

      g_autoptr (GPtrArray) argv = g_ptr_array_new ();
      g_ptr_array_add (argv, (gpointer) pr_test_preread ());
      g_ptr_array_add (argv, (gpointer) "send");
      g_ptr_array_add (argv, (gpointer) "-q");
      g_ptr_array_add (argv, (gpointer) "--to");
      g_ptr_array_add (argv, target);
      for (guint i = 0; i < files->len; i++)
        {
          Candidate *c = classify (files->pdata[i]);
          g_ptr_array_add (all, c);
          g_ptr_array_add (argv, c->path);
          if (c->sop_uid != NULL && !g_hash_table_contains (first_by_uid, c->sop_uid))
            g_hash_table_insert (first_by_uid, c->sop_uid, c);
        }
      g_ptr_array_add (argv, NULL);
      g_autofree char *out = NULL, *err = NULL;
      pr_test_runv (&out, &err, (const char *const *) argv->pdata);
      g_test_message ("%s: %s", name, out ? g_strstrip (out) : "(no output)");
    }
  g_assert_cmpuint (sets, >, 0);

  for (guint i = 0; i < all->len; i++)
    {
      Candidate *c = all->pdata[i];
      if (c->sop_uid == NULL)
        {
          excluded++;
          g_test_message ("not storable: %s: %s", c->path, c->why_not);
          continue;
        }
      expected++;
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM instances WHERE path = '%s'", c->relative);
      if (pr_test_index_int (d, sql) != 1)
        g_error ("%s was not stored (SOP Instance UID %s)", c->path, c->sop_uid);

      /* The first file sent with a UID is the one kept, and must hold the
       * same content. (Byte identity of what crosses the wire is checked in
       * test-receive against storescp; DCMTK's sender re-encodes sequence
       * lengths, so here the comparison is element by element.) */
      if (g_hash_table_lookup (first_by_uid, c->sop_uid) == c)
        {
          g_autofree char *stored = g_build_filename (d->storage, c->relative, NULL);
          gboolean equal = FALSE;
          g_autoptr (GError) error = NULL;
          if (!pr_instance_content_equal (c->path, stored, &equal, &error))
            g_error ("%s: %s", c->path, error->message);
          if (!equal)
            g_error ("%s: stored data set differs from the file's", c->path);
          compared++;
        }
    }
  g_test_message ("%u sets: %u storable instances all stored (%u compared element by element), %u files not storable",
                  sets, expected, compared, excluded);
  g_assert_cmpuint (expected, >, 400);
  g_hash_table_unref (first_by_uid);

  g_autofree char *log = pr_test_daemon_log (d);
  g_assert_null (strstr (log, "killed by signal"));
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
}

static void
test_malformed_files (void)
{
  PR_TEST_REQUIRE ("echoscu");
  const char *shared = pr_test_shared_data ();
  if (shared == NULL)
    {
      g_test_skip ("../shared/data is absent (set PREREAD_SHARED_DATA to use another copy)");
      return;
    }
  g_autofree char *malformed = g_build_filename (shared, "malformed", NULL);
  g_autoptr (GPtrArray) files = pr_test_list_files (malformed);
  g_autoptr (PrTestDaemon) d = pr_test_daemon_start (NULL, NULL);
  g_autofree char *target = pr_test_daemon_target (d);
  g_autofree char *port = pr_test_daemon_port_string (d);

  guint sent = 0;
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = files->pdata[i];
      if (g_str_has_suffix (path, ".csv"))
        continue;
      /* One association per file, so each outcome is its own. */
      g_autofree char *out = NULL, *err = NULL;
      int status = pr_test_run (&out, &err, pr_test_preread (), "send", "-q", "--to", target, path, NULL);
      g_test_message ("%s: exit %d: %s%s", path, status, out ? g_strstrip (out) : "", err ? g_strstrip (err) : "");
      g_assert_cmpint (status, >=, 0); /* the sender itself must not crash either */
      sent++;
      /* The daemon is still serving after each one. */
      g_assert_true (pr_test_daemon_is_alive (d));
    }
  g_assert_cmpuint (sent, >=, 20);
  g_assert_cmpint (pr_test_run (NULL, NULL, "echoscu", "-aec", "PREREAD", "127.0.0.1", port, NULL), ==, 0);

  /* Whatever was stored is indexed and readable: store or refuse, nothing in between. */
  g_autofree char *studies = g_build_filename (d->storage, "studies", NULL);
  g_autoptr (GPtrArray) stored = pr_test_list_files (studies);
  g_assert_cmpint (pr_test_index_int (d, "SELECT count(*) FROM instances"), ==, stored->len);
  g_autofree char *tmp = g_build_filename (d->storage, "tmp", NULL);
  g_autoptr (GPtrArray) leftovers = pr_test_list_files (tmp);
  g_assert_cmpuint (leftovers->len, ==, 0);
  g_autofree char *log = pr_test_daemon_log (d);
  g_assert_null (strstr (log, "killed by signal"));
  g_test_message ("%u malformed files sent: %u stored, the rest refused", sent, stored->len);
  g_assert_cmpint (pr_test_daemon_stop (d), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* DCMTK reports what it dislikes in a file as warnings; reading odd
   * files on purpose must not abort the test. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error))
    g_error ("%s", error->message);
  g_test_add_func ("/interop/storable-instances-stored-with-same-content", test_interop_sets);
  g_test_add_func ("/interop/malformed-files-stored-or-refused", test_malformed_files);
  return g_test_run ();
}
