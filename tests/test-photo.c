/* test-photo.c: `preread import-photo`, photos from a camera as DICOM.
 *
 * A synthetic dermatology photo (plugin/analyzers/skin-lesion/eval/
 * sl-make-photo.py) is turned into a baseline JPEG and a PNG with DCMTK's
 * dcmj2pnm, as a phone or a camera would give them; import-photo must wrap
 * the JPEG without touching its compressed stream, the PNG losslessly, with
 * the facts given, into objects dciodvfy finds valid; and refuse what is
 * not a photo, or facts that do not fit DICOM, leaving nothing behind.
 * The upload from the web page, which runs this command, is in test-web.c.
 */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "pr-test-util.h"

#define REQUIRE_PHOTO_TOOLS()                                                                   \
  G_STMT_START                                                                                  \
  {                                                                                             \
    PR_TEST_REQUIRE_STUDY_MAKER ();                                                             \
    PR_TEST_REQUIRE ("dcmj2pnm");                                                        \
    PR_TEST_REQUIRE ("dcmdump");                                                         \
  }                                                                                             \
  G_STMT_END

static char *
dump (const char *path)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (pr_test_run (&out, NULL, "dcmdump", "+L", "+P", "0002,0010", "+P", "0008,0016", "+P",
                                "0008,0060", "+P", "0010,0020", "+P", "0010,0010", "+P", "0018,0015", "+P",
                                "0020,0062", "+P", "0008,0100", "+P", "0028,0004", "+P", "0028,0010", "+P",
                                "0028,0011", "+P", "0020,0013", "+P", "0020,000d", "+P", "0020,000e", "+P",
                                "0008,1070", "+P", "0028,2110", path, NULL),
                   ==, 0);
  return g_steal_pointer (&out);
}

static void
assert_dump_has (const char *dump_text, const char *needle)
{
  if (strstr (dump_text, needle) == NULL)
    g_error ("expected %s in:\n%s", needle, dump_text);
}

/* dciodvfy finds no error in the object (warnings are printed, not fatal). */
static void
assert_valid (const char *path)
{
  if (!pr_test_have_program ("dciodvfy"))
    {
      g_test_message ("dciodvfy not installed: %s not validated", path);
      return;
    }
  g_autofree char *out = NULL, *err = NULL;
  pr_test_run (&out, &err, "dciodvfy", "-new", path, NULL);
  g_autofree char *all = g_strconcat (out ? out : "", err ? err : "", NULL);
  g_test_message ("dciodvfy %s:\n%s", path, all);
  g_assert_null (strstr (all, "Error"));
}

static GPtrArray *
dicom_files (const char *dir)
{
  GPtrArray *files = pr_test_list_files (dir);
  for (guint i = files->len; i-- > 0;)
    if (!g_str_has_suffix (files->pdata[i], ".dcm"))
      g_ptr_array_remove_index (files, i);
  return files;
}

/* The JPEG's entropy-coded data, from its first start-of-scan marker to the end. */
static GBytes *
entropy_coded (const char *jpeg)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (jpeg, &data, &length, NULL));
  for (gsize i = 0; i + 1 < length; i++)
    if ((guchar) data[i] == 0xff && (guchar) data[i + 1] == 0xda)
      return g_bytes_new (data + i, length - i);
  g_error ("%s has no start of scan", jpeg);
}

static void
test_jpeg (void)
{
  REQUIRE_PHOTO_TOOLS ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *jpeg = pr_test_make_photo (work, "7", NULL);
  g_autofree char *out_dir = g_build_filename (work, "out", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "import-photo", jpeg, "--output", out_dir,
                            "--patient-id", "DERM-7", "--patient-name", "Doe^Jane", "--body-site", "left forearm",
                            "--operator", "dr-who", NULL);
  g_test_message ("%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (g_str_has_prefix (out, "wrapped "));
  g_assert_nonnull (strstr (out, "\nstudy 2.25."));

  g_autoptr (GPtrArray) files = dicom_files (out_dir);
  g_assert_cmpuint (files->len, ==, 1);
  const char *file = files->pdata[0];
  g_autofree char *d = dump (file);
  g_test_message ("%s", d);
  assert_dump_has (d, "=JPEGBaseline");
  assert_dump_has (d, "=VLPhotographicImageStorage");
  assert_dump_has (d, "[XC]");
  assert_dump_has (d, "[DERM-7]");
  assert_dump_has (d, "[Doe^Jane]");
  assert_dump_has (d, "[ARM]");                 /* Body Part Examined */
  assert_dump_has (d, "(0020,0062) CS [L]");    /* Image Laterality */
  assert_dump_has (d, "[14975008]");            /* SCT Forearm */
  assert_dump_has (d, "[dr-who]");              /* Operators' Name */
  assert_dump_has (d, "(0028,2110) CS [01]");   /* lossy, as the JPEG was */

  /* Not re-encoded: the JPEG's compressed scan is in the object, byte for byte. */
  g_autoptr (GBytes) scan = entropy_coded (jpeg);
  g_autofree char *object = NULL;
  gsize object_length = 0;
  g_assert_true (g_file_get_contents (file, &object, &object_length, NULL));
  gsize scan_length = 0;
  const char *scan_data = g_bytes_get_data (scan, &scan_length);
  g_assert_nonnull (memmem (object, object_length, scan_data, scan_length));
  assert_valid (file);
  pr_test_remove_tree (work);
}

/* A file's Pixel Data value, as dcmdump +W writes it out. */
static GBytes *
pixel_data (const char *work, const char *name, const char *file)
{
  g_autofree char *dir = g_build_filename (work, name, NULL);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_cmpint (pr_test_run (NULL, NULL, "dcmdump", "-q", "+W", dir, file, NULL), ==, 0);
  g_autoptr (GPtrArray) written = pr_test_list_files (dir);
  g_assert_cmpuint (written->len, ==, 1);
  g_autofree char *data = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (written->pdata[0], &data, &length, NULL));
  return g_bytes_new_take (g_steal_pointer (&data), length);
}

static void
test_png (void)
{
  REQUIRE_PHOTO_TOOLS ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *png = NULL;
  g_autofree char *jpeg = pr_test_make_photo (work, "8", &png);
  g_autofree char *out_dir = g_build_filename (work, "out", NULL);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "import-photo", png, "-o", out_dir, "--patient-id",
                                "DERM-8", "--body-site", "back", NULL),
                   ==, 0);
  g_autoptr (GPtrArray) files = dicom_files (out_dir);
  g_assert_cmpuint (files->len, ==, 1);
  g_autofree char *d = dump (files->pdata[0]);
  assert_dump_has (d, "=LittleEndianExplicit");
  assert_dump_has (d, "[RGB]");
  assert_dump_has (d, "[BACK]");
  assert_dump_has (d, "(0028,2110) CS [00]");
  /* Lossless: the pixels are those of the photo the PNG was made from. */
  g_autofree char *source = g_strdup_printf ("%s/photo-8.dcm", work);
  g_autoptr (GBytes) theirs = pixel_data (work, "source", source);
  g_autoptr (GBytes) ours = pixel_data (work, "ours", files->pdata[0]);
  g_assert_true (g_bytes_equal (theirs, ours));
  assert_valid (files->pdata[0]);
  pr_test_remove_tree (work);
}

/* Several photos of one visit: one series, numbered in order. */
static void
test_series (void)
{
  REQUIRE_PHOTO_TOOLS ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *png = NULL;
  g_autofree char *jpeg = pr_test_make_photo (work, "9", &png);
  g_autofree char *out_dir = g_build_filename (work, "out", NULL);
  const char *study = "1.2.826.0.1.3680043.8.498.12345";
  g_autofree char *out = NULL;
  g_assert_cmpint (pr_test_run (&out, NULL, pr_test_preread (), "import-photo", jpeg, png, "-o", out_dir,
                                "--patient-id", "DERM-9", "--study", study, NULL),
                   ==, 0);
  g_autofree char *expected = g_strdup_printf ("study %s\n", study);
  g_assert_true (g_str_has_suffix (out, expected));
  g_autoptr (GPtrArray) files = dicom_files (out_dir);
  g_assert_cmpuint (files->len, ==, 2);
  char *series[2] = { NULL, NULL };
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *d = dump (files->pdata[i]);
      g_autofree char *study_line = g_strdup_printf ("(0020,000d) UI [%s]", study);
      assert_dump_has (d, study_line);
      g_autofree char *number = g_strdup_printf ("(0020,0013) IS [%u]", i + 1);
      const char *name = strrchr (files->pdata[i], '-');
      /* photo-SEED-N.dcm: the file of photo N has instance number N. */
      g_assert_nonnull (name);
      g_autofree char *own = g_strdup_printf ("(0020,0013) IS [%c]", name[1]);
      assert_dump_has (d, own);
      const char *s = strstr (d, "(0020,000e) UI [");
      g_assert_nonnull (s);
      series[i] = g_strndup (s, strcspn (s, "]"));
    }
  g_assert_cmpstr (series[0], ==, series[1]);
  g_free (series[0]);
  g_free (series[1]);
  pr_test_remove_tree (work);
}

/* What is not a photo, or facts that do not fit: a clear error, nothing written. */
static void
test_refused (void)
{
  REQUIRE_PHOTO_TOOLS ();
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *jpeg = pr_test_make_photo (work, "10", NULL);
  g_autofree char *text = pr_test_write_file (work, "lesion.jpg", "this is not a photo\n");
  /* A JPEG cut short, as an interrupted upload leaves it. */
  g_autofree char *data = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (jpeg, &data, &length, NULL));
  g_autofree char *cut = g_build_filename (work, "cut.jpg", NULL);
  g_assert_true (g_file_set_contents (cut, data, 300, NULL));
  g_autofree char *out_dir = g_build_filename (work, "out", NULL);

  struct {
    const char *photo, *option, *value, *says;
    int status;
  } cases[] = {
    { text, "--patient-id", "P", "neither JPEG nor PNG", 1 },
    { cut, "--patient-id", "P", "cannot be wrapped", 1 },
    { jpeg, "--patient-id", "P\\Q", "backslash", 1 },
    { jpeg, "--patient-name", "A=B", "one representation", 1 },
    { jpeg, "--sex", "X", "M, F or O", 1 },
    { jpeg, "--birth-date", "1970-01-01", "YYYYMMDD", 1 },
    { jpeg, "--accession", "12345678901234567", "at most 16", 1 },
    { jpeg, "--study", "1.2.bad", "not a valid study UID", 2 },
    { "/no/such/photo.jpg", "--patient-id", "P", "No such file", 1 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      int status;
      if (strcmp (cases[i].option, "--patient-id") == 0)
        status = pr_test_run (NULL, &err, pr_test_preread (), "import-photo", cases[i].photo, "-o", out_dir,
                              "--patient-id", cases[i].value, NULL);
      else
        status = pr_test_run (NULL, &err, pr_test_preread (), "import-photo", cases[i].photo, "-o", out_dir,
                              "--patient-id", "P", cases[i].option, cases[i].value, NULL);
      g_test_message ("%s %s %s -> %d: %s", cases[i].photo, cases[i].option, cases[i].value, status, err);
      g_assert_cmpint (status, ==, cases[i].status);
      g_assert_nonnull (strstr (err, cases[i].says));
    }
  /* No patient ID at all is a usage error. */
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "import-photo", jpeg, "-o", out_dir, NULL), ==, 2);
  if (g_file_test (out_dir, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GPtrArray) left = dicom_files (out_dir);
      g_assert_cmpuint (left->len, ==, 0);
    }

  /* A gateway that is not there: exit status 3, and no temporary left. */
  g_autofree char *to = g_strdup_printf ("PREREAD@127.0.0.1:%u", pr_test_free_port ());
  g_autofree char *err = NULL;
  g_assert_cmpint (pr_test_run (NULL, &err, pr_test_preread (), "import-photo", jpeg, "--patient-id", "P", "--to", to,
                                "--timeout", "5", NULL),
                   ==, 3);
  g_test_message ("%s", err);
  g_assert_nonnull (strstr (err, "preread import-photo:"));
  pr_test_remove_tree (work);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/photo/jpeg", test_jpeg);
  g_test_add_func ("/photo/png", test_png);
  g_test_add_func ("/photo/series", test_series);
  g_test_add_func ("/photo/refused", test_refused);
  return g_test_run ();
}
