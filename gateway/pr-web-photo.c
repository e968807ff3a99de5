/* pr-web-photo.c: an uploaded photo, through `preread import-photo`, into the gateway. */
#include "config.h"

#include "pr-web-photo.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-photo.h"
#include "plugin/host/pr-supervisor.h"
#include "pr-ui-queries.h"

typedef struct {
  PrIndex *index;
  char *image_path, *log_path, *study_uid;
  PrWebPhotoImported done;
  gpointer user_data;
} Import;

static void
import_free (Import *import)
{
  g_unlink (import->image_path);
  g_unlink (import->log_path);
  g_free (import->image_path);
  g_free (import->log_path);
  g_free (import->study_uid);
  g_free (import);
}

static void
on_imported (PrRun *run, const PrRunOutcome *outcome, gpointer user_data)
{
  Import *import = user_data;
  g_autoptr (GError) error = NULL;
  gint64 study_id = 0;
  if (outcome->end == PR_RUN_EXITED && outcome->exit_status == 0)
    {
      study_id = pr_ui_study_id_of (import->index, import->study_uid, &error);
      if (study_id == 0)
        g_prefix_error (&error, "the photo was sent but is not in the index: ");
    }
  else
    {
      /* import-photo says why last; 1 and 2 are the photo's or the form's fault. */
      g_autofree char *tail = pr_run_log_tail (import->log_path);
      /* The uploader never saw our file name: "the photo" it is. */
      g_autofree char *why = NULL;
      if (tail != NULL)
        {
          const char *text = g_str_has_prefix (tail, "preread import-photo: ") ? tail + 22 : tail;
          g_auto (GStrv) parts = g_strsplit (text, import->image_path, -1);
          why = g_strjoinv ("the photo", parts);
        }
      gboolean input = outcome->end == PR_RUN_EXITED && (outcome->exit_status == 1 || outcome->exit_status == 2);
      g_set_error (&error, G_IO_ERROR, input ? G_IO_ERROR_INVALID_DATA : G_IO_ERROR_FAILED, "%s",
                   why ? why : "the photo could not be imported");
    }
  import->done (study_id, study_id ? import->study_uid : NULL, error, import->user_data);
  import_free (import);
}

static void
fail (PrWebPhotoImported done, gpointer user_data, GIOErrorEnum code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (G_IO_ERROR, code, message);
  done (0, NULL, error, user_data);
}

void
pr_web_photo_import (PrIndex *index, const char *storage_root, const PrConfig *config, guint16 dicom_port,
                     GBytes *image,
                     const PrWebPhotoForm *form, const char *user, PrWebPhotoImported done, gpointer user_data)
{
  gsize length = 0;
  const guint8 *bytes = g_bytes_get_data (image, &length);
  PrPhotoFormat format = pr_photo_sniff (bytes, length);
  if (format == PR_PHOTO_FORMAT_UNKNOWN)
    return fail (done, user_data, G_IO_ERROR_INVALID_DATA, "the photo must be a JPEG or PNG file");
  PrPhotoFacts facts = { .patient_id = form->patient_id, .patient_name = form->patient_name,
                         .body_site = form->body_site, .operator_name = user };
  g_autoptr (GError) error = NULL;
  if (!pr_photo_check_facts (&facts, &error))
    return fail (done, user_data, G_IO_ERROR_INVALID_DATA, error->message);

  /* A private file named by us; the child reads it and we remove it. */
  g_autofree char *folder = g_build_filename (storage_root, "cache", "uploads", NULL);
  g_autofree char *seed = g_uuid_string_random ();
  g_autofree char *name = g_strdup_printf ("upload-%s.%s", seed, format == PR_PHOTO_FORMAT_JPEG ? "jpg" : "png");
  Import *import = g_new0 (Import, 1);
  import->index = index;
  import->image_path = g_build_filename (folder, name, NULL);
  import->log_path = g_strconcat (import->image_path, ".log", NULL);
  import->study_uid = pr_dicom_uid_derive (seed, "study");
  import->done = done;
  import->user_data = user_data;
  if (g_mkdir_with_parents (folder, 0700) != 0 ||
      !g_file_set_contents_full (import->image_path, (const char *) bytes, (gssize) length,
                                 G_FILE_SET_CONTENTS_NONE, 0600, &error))
    {
      fail (done, user_data, G_IO_ERROR_FAILED, error ? error->message : "the upload folder cannot be made");
      import_free (import);
      return;
    }

  /* To our own DICOM port; a gateway listening everywhere is on loopback too. */
  const PrNodeConfig *node = config->node;
  const char *host = node->bind_address;
  if (host == NULL || g_str_equal (host, "0.0.0.0"))
    host = "127.0.0.1";
  else if (g_str_equal (host, "::"))
    host = "::1";
  /* Every value as one --name=value argument: a value starting with "-"
   * is never taken for an option, and no shell ever sees any of it. */
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup ("/proc/self/exe"));
  g_ptr_array_add (argv, g_strdup ("import-photo"));
  g_ptr_array_add (argv, g_strconcat ("--patient-id=", form->patient_id, NULL));
  if (form->patient_name != NULL && *form->patient_name != '\0')
    g_ptr_array_add (argv, g_strconcat ("--patient-name=", form->patient_name, NULL));
  if (form->body_site != NULL && *form->body_site != '\0')
    g_ptr_array_add (argv, g_strconcat ("--body-site=", form->body_site, NULL));
  g_ptr_array_add (argv, g_strconcat ("--operator=", user, NULL));
  g_ptr_array_add (argv, g_strconcat ("--study=", import->study_uid, NULL));
  g_ptr_array_add (argv, g_strconcat ("--aet=", PR_WEB_UPLOAD_CALLING_AE, NULL));
  g_ptr_array_add (argv, g_strdup_printf ("--to=%s@%s:%u", node->ae_title, host, dicom_port ? dicom_port : node->port));
  g_ptr_array_add (argv, g_strdup ("--timeout=30"));
  g_ptr_array_add (argv, g_strdup ("--"));
  g_ptr_array_add (argv, g_strdup (import->image_path));
  g_ptr_array_add (argv, NULL);

  PrRunSpec spec = { 0 };
  spec.argv = (const char *const *) argv->pdata;
  spec.log_path = import->log_path;
  spec.timeout_s = 90;
  spec.memory_limit_mb = 1024;
  if (pr_run_start (&spec, NULL, on_imported, import, &error) == NULL)
    {
      fail (done, user_data, G_IO_ERROR_FAILED, error->message);
      import_free (import);
    }
}
