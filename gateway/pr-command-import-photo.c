/* pr-command-import-photo.c: `preread import-photo`, clinical photos into DICOM.
 *
 * Every photo of one command becomes one instance of one new series (of a
 * new study, or of --study): VL Photographic Image Storage, JPEG kept as it
 * is (dicom/pr-photo.h). The objects go to a gateway with C-STORE, as any
 * modality's would, so they take the normal path (durable receive, index,
 * routing to the skin-lesion analyzer); or into a folder with --output.
 *
 * stdout, for people and for the web upload that runs this command:
 *   wrapped FILE as SOP-INSTANCE-UID      one line per photo
 *   study STUDY-INSTANCE-UID              last
 * Exit status: 0 done, 1 a photo or a fact is bad, 2 usage, 3 the gateway
 * did not store them (not there, refused, out of space).
 */
#include "config.h"

#include "pr-commands.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>

#include "conf/pr-config.h"
#include "dicom/pr-dicom.h"
#include "dicom/pr-photo.h"
#include "dicom/pr-store-client.h"
#include "pr-command-util.h"

typedef struct {
  char *patient_id, *patient_name, *birth_date, *sex, *body_site, *accession, *description, *study, *operator_name;
  char *output, *to, *calling, *config;
  int timeout;
  char **files;
} Options;

static void
options_clear (Options *o)
{
  char **strings[] = { &o->patient_id, &o->patient_name, &o->birth_date, &o->sex, &o->body_site, &o->accession,
                       &o->description, &o->study, &o->operator_name, &o->output, &o->to, &o->calling, &o->config };
  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++)
    g_clear_pointer (strings[i], g_free);
  g_clear_pointer (&o->files, g_strfreev);
}

/* Where to send: --to, else the gateway of --config (or of the embedded
 * default) on this machine. */
static gboolean
resolve_target (const Options *o, char **aet, char **host, guint16 *port, GError **error)
{
  if (o->to != NULL)
    {
      if (pr_command_parse_target (o->to, aet, host, port))
        return TRUE;
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--to wants AET@HOST:PORT (for example PREREAD@127.0.0.1:11112), not \"%s\"", o->to);
      return FALSE;
    }
  g_autoptr (PrConfig) config = o->config ? pr_config_load_file (o->config, error) : pr_config_load_default ();
  if (config == NULL)
    return FALSE;
  *aet = g_strdup (config->node->ae_title);
  /* A gateway listening on every address is reachable on loopback. */
  const char *bind = config->node->bind_address;
  *host = g_strdup (bind == NULL || g_str_equal (bind, "0.0.0.0") || g_str_equal (bind, "::") ? "127.0.0.1" : bind);
  *port = config->node->port;
  return TRUE;
}

static gboolean
send_all (const Options *o, GPtrArray *made, GError **error)
{
  g_autofree char *aet = NULL, *host = NULL;
  guint16 port = 0;
  if (!resolve_target (o, &aet, &host, &port, error))
    return FALSE;
  PrStoreClientOptions options = { o->calling ? o->calling : "PREREAD-PHOTO", aet, host, port, 15,
                                   (guint) o->timeout, (guint) o->timeout, 0, PR_DECOMPRESS_NEVER };
  g_autoptr (PrStoreClient) client = pr_store_client_new (&options);
  for (guint i = 0; i < made->len; i++)
    if (!pr_store_client_add_file (client, made->pdata[i], error))
      return FALSE;
  if (!pr_store_client_send (client, NULL, NULL, error))
    return FALSE;
  for (guint i = 0; i < pr_store_client_get_n_items (client); i++)
    {
      const PrSendItem *item = pr_store_client_get_item (client, i);
      if (item->outcome == PR_SEND_STORED)
        continue;
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_REJECTED, "%s@%s:%u did not store a photo (status 0x%04X%s%s)",
                   aet, host, port, item->status, item->detail ? ": " : "", item->detail ? item->detail : "");
      return FALSE;
    }
  return TRUE;
}

static int
import (Options *o)
{
  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread import-photo: %s\n", error->message);
      return 1;
    }
  /* Without --output the objects live in a private folder until sent. */
  g_autofree char *scratch = NULL;
  const char *folder = o->output;
  if (folder == NULL)
    {
      scratch = g_dir_make_tmp ("preread-photo-XXXXXX", &error);
      if (scratch == NULL)
        {
          g_printerr ("preread import-photo: %s\n", error->message);
          return 1;
        }
      folder = scratch;
    }
  else if (g_mkdir_with_parents (folder, 0700) != 0)
    {
      g_printerr ("preread import-photo: %s: %s\n", folder, g_strerror (errno));
      return 1;
    }

  g_autofree char *seed = g_uuid_string_random ();
  g_autofree char *study_uid = o->study ? g_strdup (o->study) : pr_dicom_uid_derive (seed, "study");
  g_autofree char *series_uid = pr_dicom_uid_derive (seed, "series");
  g_autoptr (GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  int status = 0;
  for (guint i = 0; o->files[i] != NULL; i++)
    {
      PrPhotoFacts facts = { o->patient_id, o->patient_name, o->birth_date, o->sex, o->body_site, o->accession,
                             o->description, study_uid, series_uid, o->operator_name, i + 1 };
      g_autofree char *name = g_strdup_printf ("photo-%s-%u.dcm", seed, i + 1);
      g_autofree char *path = g_build_filename (folder, name, NULL);
      g_autofree char *sop_uid = NULL;
      if (!pr_photo_wrap (o->files[i], &facts, path, &sop_uid, &error))
        {
          g_printerr ("preread import-photo: %s\n", error->message);
          status = 1;
          break;
        }
      printf ("wrapped %s as %s\n", o->files[i], sop_uid);
      g_ptr_array_add (made, g_steal_pointer (&path));
    }
  if (status == 0 && o->output == NULL && !send_all (o, made, &error))
    {
      g_printerr ("preread import-photo: %s\n", error->message);
      status = 3;
    }
  if (status == 0)
    printf ("study %s\n", study_uid);
  if (scratch != NULL || status != 0)
    for (guint i = 0; i < made->len; i++)
      g_unlink (made->pdata[i]);
  if (scratch != NULL)
    g_rmdir (scratch);
  return status;
}

int
pr_command_import_photo (int argc, char **argv)
{
  Options o = { .timeout = 60 };
  GOptionEntry entries[] = {
    { "patient-id", 0, 0, G_OPTION_ARG_STRING, &o.patient_id, "Patient ID (required)", "ID" },
    { "patient-name", 0, 0, G_OPTION_ARG_STRING, &o.patient_name, "Patient name, Family^Given", "NAME" },
    { "birth-date", 0, 0, G_OPTION_ARG_STRING, &o.birth_date, "Birth date", "YYYYMMDD" },
    { "sex", 0, 0, G_OPTION_ARG_STRING, &o.sex, "M, F or O", "SEX" },
    { "body-site", 0, 0, G_OPTION_ARG_STRING, &o.body_site, "Where the lesion is (\"left forearm\")", "TEXT" },
    { "accession", 0, 0, G_OPTION_ARG_STRING, &o.accession, "Accession number of the order", "NUMBER" },
    { "description", 0, 0, G_OPTION_ARG_STRING, &o.description, "Study description (default: Dermatology photo)",
      "TEXT" },
    { "study", 0, 0, G_OPTION_ARG_STRING, &o.study, "Add to this study (default: a new one)", "STUDY-UID" },
    { "operator", 0, 0, G_OPTION_ARG_STRING, &o.operator_name, "Who took the photo", "NAME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output, "Write the DICOM files into DIR instead of sending", "DIR" },
    { "to", 't', 0, G_OPTION_ARG_STRING, &o.to, "Send to AET@HOST:PORT (default: the local gateway)", "AET@HOST:PORT" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config, "The gateway whose port to send to", "FILE" },
    { "aet", 0, 0, G_OPTION_ARG_STRING, &o.calling, "Our (calling) AE title (default: PREREAD-PHOTO)", "AET" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &o.timeout, "Seconds to wait for the gateway (default: 60)", "S" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.files, NULL, "PHOTO..." },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PHOTO... - clinical photos as DICOM");
  g_option_context_set_summary (context,
                                "Wraps JPEG or PNG photos as DICOM VL Photographic Images (JPEG kept as it is,\n"
                                "EXIF left out) of one new series, and sends them to the gateway.\n"
                                "Exit status: 0 done, 1 a bad photo or value, 2 usage, 3 not stored.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  int status = 2;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_printerr ("preread import-photo: %s\n", error->message);
  else if (o.files == NULL || o.files[0] == NULL)
    g_printerr ("preread import-photo: no photos given\n");
  else if (o.patient_id == NULL)
    g_printerr ("preread import-photo: --patient-id is required\n");
  else if (o.calling != NULL && !pr_dicom_ae_title_is_valid (o.calling))
    g_printerr ("preread import-photo: \"%s\" is not a valid AE title\n", o.calling);
  else if (o.study != NULL && !pr_dicom_uid_is_valid (o.study))
    g_printerr ("preread import-photo: \"%s\" is not a valid study UID\n", o.study);
  else if (o.timeout <= 0)
    g_printerr ("preread import-photo: --timeout must be positive\n");
  else
    status = import (&o);
  options_clear (&o);
  return status;
}
