/* pr-association.h: serve one incoming DICOM association (C-ECHO, C-STORE).
 *
 * The caller has already accepted the TCP connection; this runs the upper
 * layer on that socket until the peer releases or aborts, or a timeout hits.
 * Storage decisions (where a temporary file goes, what "stored" means) belong
 * to the caller and are made through PrStoreHandler: this layer knows DICOM,
 * not the spool or the index.
 *
 * Incoming data sets are streamed to disk as they arrive (never held whole in
 * memory) and are kept bit for bit in the transfer syntax the peer chose.
 */
#pragma once

#include <glib.h>

#include "pr-instance-header.h"

G_BEGIN_DECLS

/* DIMSE status codes a store handler may answer (PS3.4 B.2.3, PS3.7 C). */
typedef enum {
  PR_DIMSE_SUCCESS = 0x0000,
  PR_DIMSE_PROCESSING_FAILURE = 0x0110,
  PR_DIMSE_SOP_CLASS_NOT_SUPPORTED = 0x0122,
  PR_DIMSE_OUT_OF_RESOURCES = 0xA700,
  PR_DIMSE_DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900,
  PR_DIMSE_CANNOT_UNDERSTAND = 0xC000,
} PrDimseStatus;

/* A-ASSOCIATE-RJ with result "rejected-permanent", source "service-user" (PS3.8 9.3.4). */
typedef enum {
  PR_ASSOCIATION_ACCEPT = 0,
  PR_ASSOCIATION_REJECT_CALLING_AE = 3,   /* calling AE title not recognized */
  PR_ASSOCIATION_REJECT_CALLED_AE = 7,    /* called AE title not recognized */
} PrAssociationDecision;

typedef struct {
  const char *ae_title;                 /* ours, as answered in the A-ASSOCIATE-AC */
  gboolean check_called_ae;             /* reject a request not addressed to ae_title */
  const char *const *allowed_calling_aes; /* (nullable) NULL-terminated; NULL allows any */
  guint acse_timeout_s;                 /* to receive the A-ASSOCIATE-RQ */
  guint dimse_timeout_s;                /* idle time between and within messages */
  guint32 max_pdu;                      /* largest PDU we accept, 4096..131072 */
} PrAssociationPolicy;

/* What the peer asked to store; strings valid during the callback only. */
typedef struct {
  const char *sop_class_uid;
  const char *sop_instance_uid;
  const char *transfer_syntax_uid;
  const char *calling_ae;
  const char *called_ae;
  const char *peer_address;
} PrStoreRequest;

typedef struct {
  /* Before the data set is read. Return a fresh path for the temporary file
   * (transfer full), or NULL and set *refusal to refuse: the data set is then
   * read and discarded and *refusal is answered. */
  char *(*begin) (gpointer user_data, const PrStoreRequest *request, PrDimseStatus *refusal);

  /* After the data set is on disk at @tmp_path (closed, not yet synced).
   * @header is NULL and @verdict is not success when this layer already found
   * the instance unacceptable; the handler must then delete @tmp_path and
   * return @verdict. Otherwise the handler makes the instance durable and
   * returns the status to answer. Either way @tmp_path is the handler's. */
  PrDimseStatus (*finish) (gpointer user_data, const PrStoreRequest *request,
                           const char *tmp_path, PrInstanceHeader *header,
                           PrDimseStatus verdict);
} PrStoreHandler;

/* Filled in as the association runs; valid even when serving fails. */
typedef struct {
  char peer_address[64];
  char calling_ae[17];                  /* printable: non-printing bytes become '?' */
  char called_ae[17];
  guint stored;                         /* C-STOREs answered with success */
  guint refused;                        /* C-STOREs answered with a failure status */
  guint echoes;
  guint64 bytes;                        /* data set bytes received */
  const char *outcome;                  /* static string: "released", "aborted by peer", ... */
} PrAssociationSummary;

/**
 * pr_association_serve:
 * @fd: a connected TCP socket; ownership passes to this call, which closes it
 * @policy: who may associate and the timeouts
 * @handler: storage callbacks
 * @user_data: passed to @handler
 * @summary: (out caller-allocates): what happened, for the association log line
 * @error: set when the association ended abnormally (timeout, abort, bad PDU)
 *
 * Runs one association to its end. Must be called at most once per process:
 * DCMTK 3.6.7 takes an accepted socket only through a process-wide global.
 *
 * Returns: %TRUE when the association ended with a release (or was rejected
 * by policy, which is a normal outcome), %FALSE with @error otherwise.
 */
gboolean pr_association_serve (int fd,
                               const PrAssociationPolicy *policy,
                               const PrStoreHandler *handler,
                               gpointer user_data,
                               PrAssociationSummary *summary,
                               GError **error);

G_END_DECLS
