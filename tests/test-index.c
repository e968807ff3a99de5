/* test-index.c: recording instances and completing studies in the index. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"
#include "gateway/pr-index.h"
#include "pr-test-util.h"

typedef struct {
  char *dir;
  PrIndex *index;
  GPtrArray *files;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = pr_test_make_tmpdir ();
  if (!pr_test_can_make_studies ())
    return;
  g_autofree char *study = g_build_filename (f->dir, "study", NULL);
  g_free (pr_test_make_study (study, "--slices", "3", "--series", "2", "--patient-name", "Müller^Jürgen", NULL));
  f->files = pr_test_list_files (study);
  g_autofree char *db = g_build_filename (f->dir, "index.sqlite", NULL);
  g_autoptr (GError) error = NULL;
  f->index = pr_index_open (db, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  pr_index_free (f->index);
  if (f->files)
    g_ptr_array_unref (f->files);
  pr_test_remove_tree (f->dir);
  g_free (f->dir);
}

static PrInstanceHeader *
read_header (const char *path)
{
  g_autoptr (GError) error = NULL;
  PrInstanceHeader *h = pr_instance_header_read (path, &error);
  g_assert_no_error (error);
  return h;
}

static void
record (Fixture *f, const char *path, gint64 when, PrIndexRecordResult *result)
{
  g_autoptr (PrInstanceHeader) h = read_header (path);
  PrIndexReceipt receipt = { 1, "MODALITY", "PREREAD", path, when };
  g_autoptr (GError) error = NULL;
  g_assert_true (pr_index_record_instance (f->index, h, &receipt, result, &error));
  g_assert_no_error (error);
}

static void
test_header_attributes (Fixture *f, gconstpointer data)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autoptr (PrInstanceHeader) h = read_header (f->files->pdata[0]);
  g_assert_cmpstr (h->modality, ==, "CT");
  g_assert_cmpstr (h->patient_id, ==, "PR-TEST-0001");
  /* ISO_IR 100 in the file, UTF-8 in the index */
  g_assert_cmpstr (h->patient_name, ==, "Müller^Jürgen");
  g_assert_cmpstr (h->body_part_examined, ==, "CHEST");
  g_assert_cmpint (h->series_number, ==, 1);
  g_assert_cmpint (h->instance_number, ==, 1);
  g_assert_true (pr_dicom_uid_is_valid (h->study_instance_uid));
  g_autofree char *thickness = pr_instance_header_lookup (h, "SliceThickness");
  g_assert_cmpstr (thickness, ==, "1.25");
  g_autofree char *by_tag = pr_instance_header_lookup (h, "0018,0050");
  g_assert_cmpstr (by_tag, ==, "1.25");
  g_autofree char *kernel = pr_instance_header_lookup (h, "ConvolutionKernel");
  g_assert_cmpstr (kernel, ==, "LUNG");
  g_assert_null (pr_instance_header_lookup (h, "NoSuchKeyword"));

  g_autofree char *json = pr_instance_header_to_json (h, 1024);
  g_assert_nonnull (strstr (json, "\"00180050\""));      /* SliceThickness */
  g_assert_null (strstr (json, "\"7FE00010\""));         /* no pixel data */
}

static void
test_record_and_duplicates (Fixture *f, gconstpointer data)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  gint64 now = g_get_real_time ();
  PrIndexRecordResult r;
  for (guint i = 0; i < f->files->len; i++)
    {
      record (f, f->files->pdata[i], now, &r);
      g_assert_false (r.duplicate);
    }
  gint64 study = r.study_id;
  record (f, f->files->pdata[0], now, &r);
  g_assert_true (r.duplicate);

  g_autoptr (GArray) open = NULL;
  g_autoptr (GError) error = NULL;
  open = pr_index_list_open_studies (f->index, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (open->len, ==, 1);
  g_assert_cmpint (g_array_index (open, PrIndexOpenStudy, 0).study_id, ==, study);

  gboolean found = FALSE;
  g_assert_true (pr_index_has_instance_path (f->index, f->files->pdata[1], &found, &error));
  g_assert_true (found);
  g_assert_true (pr_index_has_instance_path (f->index, "studies/none", &found, &error));
  g_assert_false (found);
}

static void
test_completion_and_update (Fixture *f, gconstpointer data)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  gint64 t0 = g_get_real_time ();
  gint64 quiet = 30 * G_USEC_PER_SEC;
  PrIndexRecordResult r;
  for (guint i = 0; i < f->files->len - 1; i++)
    record (f, f->files->pdata[i], t0, &r);

  PrIndexCompletion c;
  g_autoptr (GError) error = NULL;
  /* within the quiet period: not complete */
  g_assert_true (pr_index_complete_study (f->index, r.study_id, quiet, t0 + quiet - 1, &c, &error));
  g_assert_false (c.completed);
  g_assert_cmpint (c.last_received_at_us, ==, t0);
  /* after it: complete, first time */
  g_assert_true (pr_index_complete_study (f->index, r.study_id, quiet, t0 + quiet, &c, &error));
  g_assert_true (c.completed);
  g_assert_false (c.is_update);
  g_assert_cmpuint (c.instance_count, ==, f->files->len - 1);
  /* completing twice does nothing */
  g_assert_true (pr_index_complete_study (f->index, r.study_id, quiet, t0 + 2 * quiet, &c, &error));
  g_assert_false (c.completed);

  /* a late instance reopens it; the next completion is an update */
  gint64 t1 = t0 + 3 * quiet;
  record (f, f->files->pdata[f->files->len - 1], t1, &r);
  g_assert_true (r.reopened);
  g_assert_true (pr_index_complete_study (f->index, r.study_id, quiet, t1 + quiet, &c, &error));
  g_assert_true (c.completed);
  g_assert_true (c.is_update);
  g_assert_cmpuint (c.completion_count, ==, 2);
  g_assert_cmpuint (c.instance_count, ==, f->files->len);
}

static void
test_meta_values (Fixture *f, gconstpointer data)
{
  PR_TEST_REQUIRE_STUDY_MAKER ();
  g_autoptr (GError) error = NULL;
  gint64 v = 0;
  g_assert_false (pr_index_get_meta_int (f->index, "x", &v, &error));
  g_assert_error (error, PR_INDEX_ERROR, PR_INDEX_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (pr_index_set_meta_int (f->index, "x", 42, &error));
  g_assert_true (pr_index_set_meta_int (f->index, "x", 43, &error));
  g_assert_true (pr_index_get_meta_int (f->index, "x", &v, &error));
  g_assert_cmpint (v, ==, 43);
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
  g_test_add ("/index/header-attributes", Fixture, NULL, setup, test_header_attributes, teardown);
  g_test_add ("/index/record-and-duplicates", Fixture, NULL, setup, test_record_and_duplicates, teardown);
  g_test_add ("/index/completion-and-update", Fixture, NULL, setup, test_completion_and_update, teardown);
  g_test_add ("/index/meta-values", Fixture, NULL, setup, test_meta_values, teardown);
  return g_test_run ();
}
