/* pr-receiver.c: one association, from socket to durable, indexed instances. */
#include "config.h"

#include "pr-receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dicom/pr-association.h"
#include "dicom/pr-dicom.h"
#include "pr-index.h"
#include "pr-log.h"
#include "pr-spool.h"

typedef struct {
  PrSpool *spool;
  PrIndex *index;
  gint64 association_id;
  guint64 reserve_bytes;
} Receiver;

GStrv
pr_receiver_build_argv (const PrNodeConfig *config, gint64 association_id)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup ("preread-receiver"));
  g_ptr_array_add (argv, g_strdup (PR_RECEIVER_SUBCOMMAND));
  g_ptr_array_add (argv, g_strdup_printf ("--association=%" G_GINT64_FORMAT, association_id));
  g_ptr_array_add (argv, g_strdup_printf ("--storage=%s", config->storage_dir));
  g_ptr_array_add (argv, g_strdup_printf ("--aet=%s", config->ae_title));
  g_ptr_array_add (argv, g_strdup_printf ("--acse-timeout=%u", config->acse_timeout_s));
  g_ptr_array_add (argv, g_strdup_printf ("--dimse-timeout=%u", config->dimse_timeout_s));
  g_ptr_array_add (argv, g_strdup_printf ("--reserve-mb=%" G_GUINT64_FORMAT, config->free_space_reserve_mb));
  if (!config->check_called_ae)
    g_ptr_array_add (argv, g_strdup ("--any-called-ae"));
  for (char **ae = config->allowed_calling_aes; ae && *ae; ae++)
    g_ptr_array_add (argv, g_strdup_printf ("--allow=%s", *ae));
  g_ptr_array_add (argv, NULL);
  return (GStrv) g_ptr_array_free (argv, FALSE);
}

static char *
begin_store (gpointer user_data, const PrStoreRequest *request, PrDimseStatus *refusal)
{
  Receiver *self = user_data;
  guint64 free_bytes = pr_spool_free_space (self->spool);
  if (free_bytes < self->reserve_bytes)
    {
      g_autofree char *have = g_format_size (free_bytes);
      g_autofree char *want = g_format_size (self->reserve_bytes);
      g_warning ("refusing C-STORE: %s free on the storage disk, reserve is %s", have, want);
      *refusal = PR_DIMSE_OUT_OF_RESOURCES;
      return NULL;
    }
  return pr_spool_new_temp_path (self->spool, self->association_id);
}

static void
announce_stored (const PrIndexRecordResult *result)
{
  /* stdout is the pipe to the daemon; a dead daemon means SIGPIPE is
   * ignored and the write fails, which is fine: we die with it anyway. */
  printf ("stored %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", result->study_id,
          result->series_id, result->instance_id);
  fflush (stdout);
}

static PrDimseStatus
finish_store (gpointer user_data, const PrStoreRequest *request, const char *tmp_path,
              PrInstanceHeader *header, PrDimseStatus verdict)
{
  Receiver *self = user_data;
  g_autoptr (PrInstanceHeader) owned = header;

  if (verdict != PR_DIMSE_SUCCESS)
    {
      pr_spool_discard (self->spool, tmp_path);
      return verdict;
    }

  g_autofree char *relative = pr_spool_instance_path (header->study_instance_uid, header->series_instance_uid,
                                                      header->sop_instance_uid);
  gboolean already_stored = FALSE;
  g_autoptr (GError) error = NULL;
  if (!pr_spool_commit (self->spool, tmp_path, relative, &already_stored, &error))
    {
      g_warning ("C-STORE failed: %s", error->message);
      return g_error_matches (error, PR_SPOOL_ERROR, PR_SPOOL_ERROR_NO_SPACE) ? PR_DIMSE_OUT_OF_RESOURCES
                                                                             : PR_DIMSE_PROCESSING_FAILURE;
    }

  PrIndexReceipt receipt = {
    self->association_id, request->calling_ae, request->called_ae, relative, g_get_real_time (),
  };
  PrIndexRecordResult result;
  if (!pr_index_record_instance (self->index, header, &receipt, &result, &error))
    {
      /* The file is durable; answering failure makes the peer resend, and the
       * resend (or the daemon's reconciliation) indexes what is on disk. */
      g_warning ("C-STORE failed: stored but not indexed: %s", error->message);
      return PR_DIMSE_PROCESSING_FAILURE;
    }
  if (result.duplicate)
    g_debug ("instance %" G_GINT64_FORMAT " resent; keeping the copy we have", result.instance_id);
  else
    announce_stored (&result);
  (void) already_stored;
  return PR_DIMSE_SUCCESS;
}

static void
log_summary (const PrAssociationSummary *s, gint64 elapsed_us, const GError *error)
{
  g_autofree char *size = g_format_size (s->bytes);
  double seconds = (double) elapsed_us / G_USEC_PER_SEC;
  /* Peak memory is logged because it must stay bounded whatever the peer
   * sends: data sets stream to disk. */
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  g_autofree char *peak = g_format_size ((guint64) usage.ru_maxrss * 1024);
  g_message ("association from %s %s -> %s: %u stored, %u refused, %u echo, %s in %.2f s, peak memory %s, %s%s%s",
             s->peer_address[0] ? s->peer_address : "?", s->calling_ae[0] ? s->calling_ae : "?",
             s->called_ae[0] ? s->called_ae : "?", s->stored, s->refused, s->echoes, size, seconds, peak,
             s->outcome, error ? ": " : "", error ? error->message : "");
}

int
pr_receiver_main (int argc, char **argv)
{
  gint64 association_id = 0;
  g_autofree char *storage = NULL;
  g_autofree char *aet = NULL;
  g_auto (GStrv) allowed = NULL;
  int acse_timeout = 30, dimse_timeout = 60;
  gint64 reserve_mb = 0;
  gboolean any_called = FALSE;
  GOptionEntry entries[] = {
    { "association", 0, 0, G_OPTION_ARG_INT64, &association_id, "Association id", "ID" },
    { "storage", 0, 0, G_OPTION_ARG_FILENAME, &storage, "Storage folder", "DIR" },
    { "aet", 0, 0, G_OPTION_ARG_STRING, &aet, "Our AE title", "AET" },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed, "Allowed calling AE title", "AET" },
    { "any-called-ae", 0, 0, G_OPTION_ARG_NONE, &any_called, "Accept any called AE title", NULL },
    { "acse-timeout", 0, 0, G_OPTION_ARG_INT, &acse_timeout, "ACSE timeout", "S" },
    { "dimse-timeout", 0, 0, G_OPTION_ARG_INT, &dimse_timeout, "DIMSE timeout", "S" },
    { "reserve-mb", 0, 0, G_OPTION_ARG_INT64, &reserve_mb, "Free-space reserve", "MB" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- serve one association (internal)");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error) || storage == NULL || aet == NULL ||
      association_id <= 0)
    {
      g_printerr ("preread %s: %s\n", PR_RECEIVER_SUBCOMMAND, error ? error->message : "missing options");
      return 2;
    }

  g_autofree char *tag = g_strdup_printf ("assoc %" G_GINT64_FORMAT, association_id);
  pr_log_set_context (tag);

  if (!pr_dicom_init (&error))
    {
      g_critical ("%s", error->message);
      close (PR_RECEIVER_SOCKET_FD);
      return 1;
    }

  g_autoptr (PrSpool) spool = pr_spool_open (storage, &error);
  g_autofree char *index_path = g_build_filename (storage, "index.sqlite", NULL);
  g_autoptr (PrIndex) index = spool ? pr_index_open (index_path, &error) : NULL;
  if (index == NULL)
    {
      g_critical ("cannot serve: %s", error->message);
      close (PR_RECEIVER_SOCKET_FD);
      return 1;
    }

  Receiver self = { spool, index, association_id, (guint64) reserve_mb * 1024 * 1024 };
  PrAssociationPolicy policy = {
    aet, !any_called, (const char *const *) allowed, (guint) acse_timeout, (guint) dimse_timeout, 131072,
  };
  PrStoreHandler handler = { begin_store, finish_store };
  PrAssociationSummary summary;

  gint64 started = g_get_monotonic_time ();
  gboolean ok = pr_association_serve (PR_RECEIVER_SOCKET_FD, &policy, &handler, &self, &summary, &error);
  log_summary (&summary, g_get_monotonic_time () - started, ok ? NULL : error);

  g_autoptr (GError) index_error = NULL;
  if (!pr_index_end_association (index, association_id, &summary, &index_error))
    g_warning ("cannot record the association's end: %s", index_error->message);
  return 0;
}
