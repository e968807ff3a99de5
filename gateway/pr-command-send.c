/* pr-command-send.c: `preread send`, a C-STORE client for files and folders. */
#include "config.h"

#include "pr-commands.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-store-client.h"
#include "pr-command-util.h"
#include "pr-log.h"

typedef struct {
  gboolean tty;
  gint64 started_us;
  gint64 last_draw_us;
  guint64 bytes;
  guint stored, failed;
} Progress;

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static void
collect (GPtrArray *files, const char *path, gboolean explicit_arg, GPtrArray *explicit_files)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      if (dir == NULL)
        return;
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_strdup (name));
      /* Sorted, so that a folder is always sent in the same order. */
      g_ptr_array_sort (names, compare_names);
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *child = g_build_filename (path, names->pdata[i], NULL);
          /* Do not follow symbolic links to folders: they can loop. */
          if (g_file_test (child, G_FILE_TEST_IS_SYMLINK) && g_file_test (child, G_FILE_TEST_IS_DIR))
            continue;
          collect (files, child, FALSE, explicit_files);
        }
      return;
    }
  g_ptr_array_add (files, g_strdup (path));
  if (explicit_arg)
    g_ptr_array_add (explicit_files, g_strdup (path));
}

static void
draw (Progress *p, guint done, guint total, gboolean final)
{
  if (!p->tty)
    return;
  gint64 now = g_get_monotonic_time ();
  if (!final && now - p->last_draw_us < 100000)
    return;
  p->last_draw_us = now;
  const int width = 30;
  int filled = total ? (int) ((guint64) done * width / total) : width;
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
  bar[width] = '\0';
  g_autofree char *size = g_format_size (p->bytes);
  fprintf (stderr, "\r[%s] %u/%u  %s  %u stored  %u failed ", bar, done, total, size, p->stored, p->failed);
  if (final)
    fputc ('\n', stderr);
  fflush (stderr);
}

static const char *
describe_outcome (const PrSendItem *item)
{
  switch (item->outcome)
    {
    case PR_SEND_STORED: return "stored";
    case PR_SEND_REFUSED: return "refused";
    case PR_SEND_UNSENDABLE: return "not sendable";
    case PR_SEND_INTERRUPTED: return "interrupted";
    case PR_SEND_PENDING:
    default: return "not sent";
    }
}

static void
on_progress (const PrSendItem *item, guint done, guint total, gpointer user_data)
{
  Progress *p = user_data;
  if (item->outcome == PR_SEND_STORED)
    {
      p->stored++;
      p->bytes += item->file_size;
    }
  else
    {
      p->failed++;
      if (p->tty)
        fputc ('\n', stderr);
      if (item->outcome == PR_SEND_REFUSED)
        fprintf (stderr, "%s: refused with status 0x%04X\n", item->path, item->status);
      else
        fprintf (stderr, "%s: %s%s%s\n", item->path, describe_outcome (item), item->detail ? ": " : "",
                 item->detail ? item->detail : "");
    }
  draw (p, done, total, FALSE);
}

int
pr_command_send (int argc, char **argv)
{
  g_autofree char *to = NULL, *calling = NULL, *decompress = NULL, *tls_ca = NULL, *tls_cert = NULL, *tls_key = NULL;
  int timeout = 60;
  gboolean quiet = FALSE;
  g_auto (GStrv) paths = NULL;
  GOptionEntry entries[] = {
    { "to", 't', 0, G_OPTION_ARG_STRING, &to, "Destination, as AET@HOST:PORT", "AET@HOST:PORT" },
    { "aet", 0, 0, G_OPTION_ARG_STRING, &calling, "Our (calling) AE title (default: PREREAD-SEND)", "AET" },
    { "decompress", 0, 0, G_OPTION_ARG_STRING, &decompress,
      "When the peer refuses a file's transfer syntax: never, lossless (default) or always send it uncompressed",
      "MODE" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Seconds to wait for the peer (default: 60)", "S" },
    { "tls-ca", 0, 0, G_OPTION_ARG_FILENAME, &tls_ca,
      "Send over TLS, trusting the peer's certificate when it chains to these CAs (PEM)", "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "Our certificate (PEM), for peers that ask for one", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "Our certificate's private key (PEM)", "FILE" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress bar", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &paths, NULL, "PATH..." },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PATH... - send DICOM files with C-STORE");
  g_option_context_set_summary (context, "Sends every DICOM file in PATH (folders recursively), each in its own\n"
                                         "transfer syntax. Exits with 1 when anything was not stored.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread send: %s\n", error->message);
      return 2;
    }

  g_autofree char *aet = NULL, *host = NULL;
  guint16 port = 0;
  if (to == NULL || !pr_command_parse_target (to, &aet, &host, &port))
    {
      g_printerr ("preread send: --to AET@HOST:PORT is required (for example PREREAD@127.0.0.1:11112)\n");
      return 2;
    }
  if (paths == NULL || paths[0] == NULL)
    {
      g_printerr ("preread send: nothing to send; give files or folders\n");
      return 2;
    }
  PrDecompression mode = PR_DECOMPRESS_LOSSLESS;
  if (decompress != NULL)
    {
      if (strcmp (decompress, "never") == 0)
        mode = PR_DECOMPRESS_NEVER;
      else if (strcmp (decompress, "always") == 0)
        mode = PR_DECOMPRESS_ALWAYS;
      else if (strcmp (decompress, "lossless") != 0)
        {
          g_printerr ("preread send: --decompress must be never, lossless or always\n");
          return 2;
        }
    }
  if (calling != NULL && !pr_dicom_ae_title_is_valid (calling))
    {
      g_printerr ("preread send: \"%s\" is not a valid AE title\n", calling);
      return 2;
    }
  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread send: %s\n", error->message);
      return 1;
    }

  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) explicit_files = g_ptr_array_new_with_free_func (g_free);
  for (char **path = paths; *path != NULL; path++)
    {
      if (!g_file_test (*path, G_FILE_TEST_EXISTS))
        {
          g_printerr ("preread send: %s: no such file or folder\n", *path);
          return 2;
        }
      collect (files, *path, TRUE, explicit_files);
    }

  if ((tls_cert != NULL || tls_key != NULL) && tls_ca == NULL)
    {
      g_printerr ("preread send: --tls-cert and --tls-key need --tls-ca\n");
      return 2;
    }
  PrStoreClientOptions options = { calling ? calling : "PREREAD-SEND", aet, host, port, 15,
                                   (guint) timeout, (guint) timeout, 0, mode, tls_ca != NULL, tls_ca, tls_cert,
                                   tls_key };
  g_autoptr (PrStoreClient) client = pr_store_client_new (&options);
  guint skipped = 0, unreadable = 0;
  for (guint i = 0; i < files->len; i++)
    {
      const char *file = files->pdata[i];
      g_autoptr (GError) add_error = NULL;
      if (pr_store_client_add_file (client, file, &add_error))
        continue;
      gboolean named = g_ptr_array_find_with_equal_func (explicit_files, file, g_str_equal, NULL);
      if (named)
        {
          g_printerr ("%s: %s\n", file, add_error->message);
          unreadable++;
        }
      else
        skipped++;
    }

  Progress progress = { !quiet && isatty (STDERR_FILENO), g_get_monotonic_time (), 0, 0, 0, 0 };
  guint total = pr_store_client_get_n_items (client);
  gboolean ok = pr_store_client_send (client, on_progress, &progress, &error);
  draw (&progress, total, total, TRUE);

  guint not_sent = 0;
  for (guint i = 0; i < total; i++)
    if (pr_store_client_get_item (client, i)->outcome == PR_SEND_PENDING)
      not_sent++;

  double seconds = (double) (g_get_monotonic_time () - progress.started_us) / G_USEC_PER_SEC;
  g_autofree char *size = g_format_size (progress.bytes);
  if (!ok)
    g_printerr ("preread send: %s\n", error->message);
  printf ("sent to %s: %u stored (%s) in %.2f s, %u failed, %u not sent", to, progress.stored, size, seconds,
          progress.failed + unreadable, not_sent);
  if (skipped > 0)
    printf (", %u skipped (not DICOM)", skipped);
  printf ("\n");
  return (ok && progress.failed == 0 && unreadable == 0 && not_sent == 0) ? 0 : 1;
}
