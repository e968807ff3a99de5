/* pr-store-client.h: send DICOM files to a peer with C-STORE.
 *
 * Used by `preread send` and by delivery to peers. Each file is sent bit for
 * bit in its own transfer syntax when the peer accepts it; otherwise, if the
 * caller allows, it is decompressed and sent uncompressed. The outcome of
 * every file is kept so that callers can retry exactly what did not arrive.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PR_DECOMPRESS_NEVER,     /* propose only each file's own transfer syntax */
  PR_DECOMPRESS_LOSSLESS,  /* also offer uncompressed, unless the file is lossy-compressed */
  PR_DECOMPRESS_ALWAYS,    /* also offer uncompressed for every file */
} PrDecompression;

typedef struct {
  const char *calling_ae;
  const char *called_ae;
  const char *host;
  guint16 port;
  guint connect_timeout_s;
  guint acse_timeout_s;
  guint dimse_timeout_s;
  guint32 max_pdu;              /* 0 for the default (116 KiB) */
  PrDecompression decompression;
  /* DICOM over TLS (PS3.15 B.9, BCP 195 profile) when @tls is set: the
   * peer's certificate must chain to @tls_ca; @tls_certificate and @tls_key
   * (PEM, both or neither) authenticate us to peers that ask. */
  gboolean tls;
  const char *tls_ca;           /* (nullable) PEM file of trusted CAs; required with @tls */
  const char *tls_certificate;  /* (nullable) */
  const char *tls_key;          /* (nullable) */
} PrStoreClientOptions;

typedef enum {
  PR_SEND_PENDING,              /* not attempted yet */
  PR_SEND_STORED,               /* answered success (or a warning, see status) */
  PR_SEND_REFUSED,              /* answered a failure status */
  PR_SEND_UNSENDABLE,           /* the peer accepted no presentation context for it,
                                   or it could not be decompressed */
  PR_SEND_INTERRUPTED,          /* the association broke before the answer */
} PrSendOutcome;

typedef struct {
  const char *path;
  const char *sop_class_uid;
  const char *sop_instance_uid;
  const char *transfer_syntax_uid;
  guint64 file_size;
  PrSendOutcome outcome;
  guint16 status;               /* DIMSE status of the C-STORE-RSP, when answered */
  const char *detail;           /* (nullable) static text on why it was not stored */
} PrSendItem;

typedef struct _PrStoreClient PrStoreClient;

/**
 * pr_store_client_new:
 * @options: the peer and how to talk to it; copied
 *
 * Returns: (transfer full): a client with no files; free with pr_store_client_free().
 */
PrStoreClient *pr_store_client_new (const PrStoreClientOptions *options);

/**
 * pr_store_client_add_file:
 * @path: a DICOM Part 10 file
 * @error: PR_DICOM_ERROR_PARSE when @path is not a DICOM file with a SOP
 *   Class and Instance UID (e.g. a DICOMDIR, a text file)
 *
 * Reads the file's meta information and queues it.
 */
gboolean pr_store_client_add_file (PrStoreClient *client, const char *path, GError **error);

guint pr_store_client_get_n_items (PrStoreClient *client);

/**
 * pr_store_client_get_item:
 * Returns: (transfer none): item @index, valid until the client is freed.
 */
const PrSendItem *pr_store_client_get_item (PrStoreClient *client, guint index);

typedef void (*PrSendProgressFunc) (const PrSendItem *item, guint done, guint total,
                                    gpointer user_data);

/**
 * pr_store_client_send:
 * @progress: (nullable): called after each file is answered or given up
 * @error: association-level failure: PR_DICOM_ERROR_NETWORK (cannot
 *   connect, aborted), PR_DICOM_ERROR_BUSY (transient rejection),
 *   PR_DICOM_ERROR_REJECTED (permanent rejection), PR_DICOM_ERROR_TIMEOUT
 *
 * Sends every pending file, in as many associations as the presentation
 * contexts need (at most 128 per association). Per-file outcomes are in the
 * items; a refused file is not an association failure.
 *
 * Returns: %TRUE when every association ran to its release.
 */
gboolean pr_store_client_send (PrStoreClient *client, PrSendProgressFunc progress,
                               gpointer user_data, GError **error);

void pr_store_client_free (PrStoreClient *client);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrStoreClient, pr_store_client_free)

G_END_DECLS
