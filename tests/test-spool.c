/* test-spool.c: server-made names, durable commits, leftovers. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "gateway/pr-spool.h"
#include "pr-test-util.h"

typedef struct {
  char *root;
  PrSpool *spool;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->root = pr_test_make_tmpdir ();
  g_autoptr (GError) error = NULL;
  f->spool = pr_spool_open (f->root, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  pr_spool_free (f->spool);
  pr_test_remove_tree (f->root);
  g_free (f->root);
}

static char *
write_temp (Fixture *f, const char *content)
{
  char *tmp = pr_spool_new_temp_path (f->spool, 7);
  g_assert_true (g_file_set_contents (tmp, content, -1, NULL));
  return tmp;
}

static void
test_names_are_server_made (Fixture *f, gconstpointer data)
{
  const char *hostile[] = { "../../x", "1.2/3", "..", "/etc/passwd", "a\nb" };
  for (gsize i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autofree char *path = pr_spool_instance_path (hostile[i], hostile[i], hostile[i]);
      g_assert_true (g_str_has_prefix (path, "studies/"));
      g_assert_null (strstr (path, ".."));
      /* studies/<32 hex>/<32 hex>/<32 hex>.dcm */
      g_assert_cmpuint (strlen (path), ==, 8 + 33 + 33 + 32 + 4);
      for (const char *p = path + 8; *p; p++)
        g_assert_true (g_ascii_isxdigit (*p) || *p == '/' || strchr (".dcm", *p));
    }
  /* same UIDs, same file: a resend lands on itself */
  g_autofree char *a = pr_spool_instance_path ("1.2", "1.2.3", "1.2.3.4");
  g_autofree char *b = pr_spool_instance_path ("1.2", "1.2.3", "1.2.3.4");
  g_assert_cmpstr (a, ==, b);
}

static void
test_commit_and_duplicate (Fixture *f, gconstpointer data)
{
  g_autofree char *relative = pr_spool_instance_path ("1.2", "1.2.3", "1.2.3.4");
  g_autofree char *final = g_build_filename (f->root, relative, NULL);
  g_autoptr (GError) error = NULL;

  g_autofree char *first = write_temp (f, "first copy");
  gboolean already = TRUE;
  g_assert_true (pr_spool_commit (f->spool, first, relative, &already, &error));
  g_assert_no_error (error);
  g_assert_false (already);
  g_assert_false (g_file_test (first, G_FILE_TEST_EXISTS));

  g_autofree char *second = write_temp (f, "second copy");
  g_assert_true (pr_spool_commit (f->spool, second, relative, &already, &error));
  g_assert_true (already);
  g_assert_false (g_file_test (second, G_FILE_TEST_EXISTS));

  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (final, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "first copy");
}

static void
test_leftover_temporaries_removed (Fixture *f, gconstpointer data)
{
  g_autofree char *a = write_temp (f, "partial");
  g_autofree char *b = write_temp (f, "partial");
  g_assert_cmpuint (pr_spool_remove_temporaries (f->spool), ==, 2);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (pr_spool_remove_temporaries (f->spool), ==, 0);
}

static gboolean
collect (const char *relative, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (relative));
  return TRUE;
}

static void
test_recent_instances (Fixture *f, gconstpointer data)
{
  g_autofree char *relative = pr_spool_instance_path ("1.2", "1.2.3", "1.2.3.4");
  g_autofree char *tmp = write_temp (f, "x");
  gboolean already;
  g_autoptr (GError) error = NULL;
  gint64 before = g_get_real_time () - G_USEC_PER_SEC;
  g_assert_true (pr_spool_commit (f->spool, tmp, relative, &already, &error));

  /* junk that is not ours is ignored */
  g_autofree char *junk = g_build_filename (f->root, "studies", "not-a-key", NULL);
  g_mkdir (junk, 0700);

  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  pr_spool_foreach_recent_instance (f->spool, before, collect, found);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (found->pdata[0], ==, relative);

  g_ptr_array_set_size (found, 0);
  pr_spool_foreach_recent_instance (f->spool, g_get_real_time () + 60 * G_USEC_PER_SEC, collect, found);
  g_assert_cmpuint (found->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/spool/names-are-server-made", Fixture, NULL, setup, test_names_are_server_made, teardown);
  g_test_add ("/spool/commit-keeps-first-copy", Fixture, NULL, setup, test_commit_and_duplicate, teardown);
  g_test_add ("/spool/leftover-temporaries-removed", Fixture, NULL, setup, test_leftover_temporaries_removed,
              teardown);
  g_test_add ("/spool/recent-instances-found", Fixture, NULL, setup, test_recent_instances, teardown);
  return g_test_run ();
}
