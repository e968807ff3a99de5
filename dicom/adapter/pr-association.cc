/* pr-association.cc: one incoming association, served with DCMTK's ASC/DIMSE API.
 *
 * This is the receiving end of the data path: A-ASSOCIATE negotiation,
 * C-ECHO, and C-STORE streamed straight to a file (bit-preserving, as
 * storescp +B does), then handed to the caller's PrStoreHandler.
 *
 * Why the low-level API rather than DcmSCP/DcmStorageSCP: we need the socket
 * accepted by our own listener (so the daemon can count and refuse
 * connections without reading them), the data set written to a file name of
 * our choosing, and the response status decided after our own durability
 * work. DcmStorageSCP decides all three itself.
 */
#include "config.h"

#include "pr-dcmtk-glue.h"
#include "../pr-association.h"

#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmdata/dcostrmf.h"

#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace {

struct AssociationContext
{
  const PrAssociationPolicy *policy;
  const PrStoreHandler *handler;
  gpointer user_data;
  PrAssociationSummary *summary;
  T_ASC_Association *assoc;
};

gboolean
is_verification (const char *uid)
{
  return strcmp (uid, UID_VerificationSOPClass) == 0;
}

gboolean
is_known_transfer_syntax (const char *uid)
{
  DcmXfer xfer (uid);
  return xfer.getXfer () != EXS_Unknown;
}

/* Accept Verification and every storage SOP class DCMTK knows, each with the
 * first transfer syntax the peer proposed that DCMTK can name: the peer's own
 * order of preference, and whatever it sends is stored as sent. */
OFCondition
negotiate_presentation_contexts (T_ASC_Parameters *params, guint *accepted)
{
  *accepted = 0;
  int n = ASC_countPresentationContexts (params);
  for (int i = 0; i < n; i++)
    {
      T_ASC_PresentationContext pc;
      OFCondition cond = ASC_getPresentationContext (params, i, &pc);
      if (cond.bad ())
        return cond;

      const char *abstract = pc.abstractSyntax;
      if (!is_verification (abstract) && !dcmIsaStorageSOPClassUID (abstract, ESSC_All))
        {
          cond = ASC_refusePresentationContext (params, pc.presentationContextID,
                                                ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
          if (cond.bad ())
            return cond;
          continue;
        }

      const char *chosen = NULL;
      for (int t = 0; t < (int) pc.transferSyntaxCount && chosen == NULL; t++)
        if (is_known_transfer_syntax (pc.proposedTransferSyntaxes[t]))
          chosen = pc.proposedTransferSyntaxes[t];

      if (chosen == NULL)
        cond = ASC_refusePresentationContext (params, pc.presentationContextID,
                                              ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
      else
        {
          cond = ASC_acceptPresentationContext (params, pc.presentationContextID, chosen);
          (*accepted)++;
        }
      if (cond.bad ())
        return cond;
    }
  return EC_Normal;
}

PrAssociationDecision
decide (const PrAssociationPolicy *policy, const char *calling, const char *called)
{
  if (policy->check_called_ae && strcmp (called, policy->ae_title) != 0)
    return PR_ASSOCIATION_REJECT_CALLED_AE;
  if (policy->allowed_calling_aes != NULL)
    {
      for (const char *const *ae = policy->allowed_calling_aes; *ae != NULL; ae++)
        if (strcmp (*ae, calling) == 0)
          return PR_ASSOCIATION_ACCEPT;
      return PR_ASSOCIATION_REJECT_CALLING_AE;
    }
  return PR_ASSOCIATION_ACCEPT;
}

void
reject (T_ASC_Association *assoc, PrAssociationDecision decision)
{
  T_ASC_RejectParameters rej;
  rej.result = ASC_RESULT_REJECTEDPERMANENT;
  rej.source = ASC_SOURCE_SERVICEUSER;
  rej.reason = decision == PR_ASSOCIATION_REJECT_CALLED_AE
                 ? ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED
                 : ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED;
  ASC_rejectAssociation (assoc, &rej);
}

OFCondition
send_store_response (AssociationContext *ctx, T_ASC_PresentationContextID pres_id,
                     T_DIMSE_C_StoreRQ *req, PrDimseStatus status)
{
  T_DIMSE_C_StoreRSP rsp;
  memset (&rsp, 0, sizeof (rsp));
  rsp.MessageIDBeingRespondedTo = req->MessageID;
  rsp.DimseStatus = (Uint16) status;
  rsp.DataSetType = DIMSE_DATASET_NULL;
  OFStandard::strlcpy (rsp.AffectedSOPClassUID, req->AffectedSOPClassUID,
                       sizeof (rsp.AffectedSOPClassUID));
  OFStandard::strlcpy (rsp.AffectedSOPInstanceUID, req->AffectedSOPInstanceUID,
                       sizeof (rsp.AffectedSOPInstanceUID));
  rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;

  if (status == PR_DIMSE_SUCCESS)
    ctx->summary->stored++;
  else
    ctx->summary->refused++;
  return DIMSE_sendStoreResponse (ctx->assoc, pres_id, req, &rsp, NULL);
}

/* Reads and discards the data set that follows a C-STORE-RQ we refuse. */
OFCondition
discard_data_set (AssociationContext *ctx)
{
  DIC_UL bytes = 0, pdvs = 0;
  OFCondition cond = DIMSE_ignoreDataSet (ctx->assoc, DIMSE_NONBLOCKING,
                                          (int) ctx->policy->dimse_timeout_s, &bytes, &pdvs);
  ctx->summary->bytes += bytes;
  return cond;
}

/* What is wrong with a received instance, judged on its own data set:
 * PR_DIMSE_SUCCESS when nothing is. */
PrDimseStatus
check_instance (const T_DIMSE_C_StoreRQ *req, const PrInstanceHeader *h, const char **why)
{
  if (h->sop_class_uid == NULL || strcmp (h->sop_class_uid, req->AffectedSOPClassUID) != 0)
    {
      *why = "SOP Class UID in the data set differs from the C-STORE request";
      return PR_DIMSE_DATASET_DOES_NOT_MATCH_SOP_CLASS;
    }
  if (h->sop_instance_uid == NULL || strcmp (h->sop_instance_uid, req->AffectedSOPInstanceUID) != 0)
    {
      *why = "SOP Instance UID in the data set differs from the C-STORE request";
      return PR_DIMSE_CANNOT_UNDERSTAND;
    }
  if (!pr_dicom_uid_is_acceptable (h->study_instance_uid))
    {
      *why = "Study Instance UID missing or unacceptable";
      return PR_DIMSE_CANNOT_UNDERSTAND;
    }
  if (!pr_dicom_uid_is_acceptable (h->series_instance_uid))
    {
      *why = "Series Instance UID missing or unacceptable";
      return PR_DIMSE_CANNOT_UNDERSTAND;
    }
  if (!pr_dicom_uid_is_valid (h->study_instance_uid) || !pr_dicom_uid_is_valid (h->series_instance_uid) ||
      !pr_dicom_uid_is_valid (h->sop_instance_uid))
    g_message ("accepting an instance whose UIDs do not follow PS3.5 (letters or malformed components)");
  return PR_DIMSE_SUCCESS;
}

/* Data sets are written as they arrive; asking the kernel to start writing
 * them to disk every WRITEBACK_CHUNK bytes lets the disk work while the
 * network delivers the rest, so the caller's final fdatasync() only waits
 * for the tail. Durability itself is still the caller's fsync. */
#define WRITEBACK_CHUNK (256 * 1024)

struct WritebackKick
{
  int fd;
  unsigned long started;     /* bytes already handed to writeback */
};

void
kick_writeback (void *user_data, unsigned long received)
{
  WritebackKick *kick = (WritebackKick *) user_data;
  if (kick->fd < 0 || received < kick->started + WRITEBACK_CHUNK)
    return;
#ifdef HAVE_SYNC_FILE_RANGE
  /* Offsets are in the data set; the file also has the meta header in front,
   * so this trails the real end a little, which is harmless. */
  sync_file_range (kick->fd, (off64_t) kick->started, (off64_t) (received - kick->started),
                   SYNC_FILE_RANGE_WRITE);
#endif
  kick->started = received;
}

/* Returns a bad condition only when the association itself is broken. */
OFCondition
handle_store (AssociationContext *ctx, T_ASC_PresentationContextID pres_id, T_DIMSE_C_StoreRQ *req)
{
  T_ASC_PresentationContext pc;
  OFCondition cond = ASC_findAcceptedPresentationContext (ctx->assoc->params, pres_id, &pc);
  if (cond.bad ())
    return cond;

  char calling[17], called[17];
  pr_copy_printable (calling, sizeof calling, ctx->summary->calling_ae);
  pr_copy_printable (called, sizeof called, ctx->summary->called_ae);
  PrStoreRequest request = {
    req->AffectedSOPClassUID, req->AffectedSOPInstanceUID, pc.acceptedTransferSyntax,
    calling, called, ctx->summary->peer_address,
  };

  /* Refusals that need no data: wrong class for the context, a hostile or
   * malformed instance UID. The data set still has to be read off the wire. */
  PrDimseStatus early = PR_DIMSE_SUCCESS;
  const char *why = "refused by storage";
  if (strcmp (req->AffectedSOPClassUID, pc.abstractSyntax) != 0)
    {
      early = PR_DIMSE_SOP_CLASS_NOT_SUPPORTED;
      why = "SOP class differs from the presentation context's";
    }
  else if (!pr_dicom_uid_is_acceptable (req->AffectedSOPInstanceUID))
    {
      early = PR_DIMSE_CANNOT_UNDERSTAND;
      why = "the SOP Instance UID is not an acceptable identifier";
    }

  char *tmp_path = NULL;
  if (early == PR_DIMSE_SUCCESS)
    tmp_path = ctx->handler->begin (ctx->user_data, &request, &early);

  if (tmp_path == NULL)
    {
      if (early == PR_DIMSE_SUCCESS)
        early = PR_DIMSE_PROCESSING_FAILURE;
      g_message ("C-STORE refused (0x%04X) before reading the data set: %s", early, why);
      cond = discard_data_set (ctx);
      if (cond.bad ())
        return cond;
      return send_store_response (ctx, pres_id, req, early);
    }

  DcmOutputFileStream *stream = NULL;
  cond = DIMSE_createFilestream (tmp_path, req, ctx->assoc, pres_id, OFTrue, &stream);
  if (cond.bad ())
    {
      g_warning ("cannot create temporary file for C-STORE: %s", cond.text ());
      ctx->handler->finish (ctx->user_data, &request, tmp_path, NULL, PR_DIMSE_OUT_OF_RESOURCES);
      g_free (tmp_path);
      cond = discard_data_set (ctx);
      if (cond.bad ())
        return cond;
      return send_store_response (ctx, pres_id, req, PR_DIMSE_OUT_OF_RESOURCES);
    }

  WritebackKick kick = { open (tmp_path, O_RDONLY | O_CLOEXEC), 0 };
  cond = DIMSE_receiveDataSetInFile (ctx->assoc, DIMSE_NONBLOCKING, (int) ctx->policy->dimse_timeout_s,
                                     &pres_id, stream, kick_writeback, &kick);
  if (kick.fd >= 0)
    close (kick.fd);
  OFCondition stream_status = stream->status ();
  delete stream; /* closes the file */

  if (cond.bad () || stream_status.bad ())
    {
      /* A broken transfer or a failed write (disk full): the partial file is
       * discarded and the peer never hears "success". If the wire is still
       * usable we answer; otherwise the association is over. */
      ctx->handler->finish (ctx->user_data, &request, tmp_path, NULL,
                            cond.bad () ? PR_DIMSE_PROCESSING_FAILURE : PR_DIMSE_OUT_OF_RESOURCES);
      g_free (tmp_path);
      if (cond.bad ())
        return cond;
      g_warning ("writing the received data set failed: %s", stream_status.text ());
      return DIMSE_ILLEGALASSOCIATION; /* unread PDVs may remain; abort */
    }

  GStatBuf st;
  if (g_stat (tmp_path, &st) == 0)
    ctx->summary->bytes += (guint64) st.st_size;

  GError *parse_error = NULL;
  PrInstanceHeader *header = pr_instance_header_read (tmp_path, &parse_error);
  PrDimseStatus verdict = PR_DIMSE_SUCCESS;
  if (header == NULL)
    {
      verdict = PR_DIMSE_CANNOT_UNDERSTAND;
      g_message ("C-STORE refused (0xC000): the data set is not readable DICOM: %s",
                 parse_error->message);
      g_clear_error (&parse_error);
    }
  else if ((verdict = check_instance (req, header, &why)) != PR_DIMSE_SUCCESS)
    {
      g_message ("C-STORE refused (0x%04X): %s", verdict, why);
      pr_instance_header_free (header);
      header = NULL;
    }

  PrDimseStatus status = ctx->handler->finish (ctx->user_data, &request, tmp_path, header, verdict);
  g_free (tmp_path);
  return send_store_response (ctx, pres_id, req, status);
}

OFCondition
handle_echo (AssociationContext *ctx, T_ASC_PresentationContextID pres_id, T_DIMSE_C_EchoRQ *req)
{
  ctx->summary->echoes++;
  return DIMSE_sendEchoResponse (ctx->assoc, pres_id, req, STATUS_Success, NULL);
}

/* The DIMSE loop: returns the condition that ended it. */
OFCondition
serve_messages (AssociationContext *ctx)
{
  for (;;)
    {
      T_DIMSE_Message msg;
      T_ASC_PresentationContextID pres_id = 0;
      DcmDataset *status_detail = NULL;
      OFCondition cond = DIMSE_receiveCommand (ctx->assoc, DIMSE_NONBLOCKING,
                                               (int) ctx->policy->dimse_timeout_s,
                                               &pres_id, &msg, &status_detail);
      delete status_detail;
      if (cond.bad ())
        return cond;

      switch (msg.CommandField)
        {
        case DIMSE_C_ECHO_RQ:
          cond = handle_echo (ctx, pres_id, &msg.msg.CEchoRQ);
          break;
        case DIMSE_C_STORE_RQ:
          cond = handle_store (ctx, pres_id, &msg.msg.CStoreRQ);
          break;
        default:
          g_message ("unsupported DIMSE command 0x%04X, aborting", (unsigned) msg.CommandField);
          return DIMSE_BADCOMMANDTYPE;
        }
      if (cond.bad ())
        return cond;
    }
}

/* DCMTK waits with a timeout only for the first bytes of a PDU; once a PDU
 * header has arrived it reads the rest in blocking mode, bounded only by the
 * socket timeouts (DCMTK's default: 60 s, set when it takes the socket). So
 * that a peer sending half a request is cut off after the ACSE timeout, and
 * one stalling mid-message after the idle timeout, both are set here: the
 * globals before DCMTK takes the socket, the socket itself afterwards. */
void
set_socket_timeouts (int fd, guint seconds)
{
  dcmSocketReceiveTimeout.set ((Sint32) seconds);
  dcmSocketSendTimeout.set ((Sint32) seconds);
  struct timeval tv = { (time_t) seconds, 0 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

} /* namespace */

extern "C" gboolean
pr_association_serve (int fd, const PrAssociationPolicy *policy, const PrStoreHandler *handler,
                      gpointer user_data, PrAssociationSummary *summary, GError **error)
{
  memset (summary, 0, sizeof *summary);
  summary->outcome = "failed before negotiation";

  PR_DCMTK_GUARD (error, FALSE, {
    T_ASC_Network *net = NULL;
    T_ASC_Association *assoc = NULL;

    set_socket_timeouts (fd, policy->acse_timeout_s);
    dcmExternalSocketHandle.set (fd);
    OFCondition cond = ASC_initializeNetwork (NET_ACCEPTOR, 0, (int) policy->acse_timeout_s, &net);
    if (cond.bad ())
      {
        close (fd);
        return pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond,
                                            "cannot initialise the network layer");
      }

    cond = ASC_receiveAssociation (net, &assoc, (long) policy->max_pdu, NULL, NULL, OFFalse,
                                   DUL_NOBLOCK, (int) policy->acse_timeout_s);
    if (assoc != NULL && assoc->params != NULL)
      pr_copy_printable (summary->peer_address, sizeof summary->peer_address,
                         assoc->params->DULparams.callingPresentationAddress);
    if (cond.bad ())
      {
        summary->outcome = "no valid association request";
        pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond,
                                     "receiving the association request failed");
        if (assoc != NULL)
          {
            ASC_dropAssociation (assoc);
            ASC_destroyAssociation (&assoc);
          }
        ASC_dropNetwork (&net);
        return FALSE;
      }

    char calling[65] = "", called[65] = "";
    ASC_getAPTitles (assoc->params, calling, sizeof calling, called, sizeof called, NULL, 0);
    pr_copy_printable (summary->calling_ae, sizeof summary->calling_ae, calling);
    pr_copy_printable (summary->called_ae, sizeof summary->called_ae, called);

    AssociationContext ctx = { policy, handler, user_data, summary, assoc };
    gboolean ok = TRUE;

    PrAssociationDecision decision = decide (policy, calling, called);
    guint accepted = 0;
    if (decision != PR_ASSOCIATION_ACCEPT)
      {
        reject (assoc, decision);
        summary->outcome = decision == PR_ASSOCIATION_REJECT_CALLED_AE
                             ? "rejected: called AE title not ours"
                             : "rejected: calling AE title not allowed";
      }
    else if ((cond = negotiate_presentation_contexts (assoc->params, &accepted)).bad ())
      {
        summary->outcome = "negotiation failed";
        ok = pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond,
                                          "presentation context negotiation failed");
        ASC_abortAssociation (assoc);
      }
    else
      {
        ASC_setAPTitles (assoc->params, NULL, NULL, policy->ae_title);
        /* A little longer than the DIMSE timeout, so that an idle peer is
         * reported as idle rather than as a failed read. */
        set_socket_timeouts (fd, policy->dimse_timeout_s + 5);
        cond = ASC_acknowledgeAssociation (assoc);
        if (cond.bad ())
          {
            summary->outcome = "acknowledge failed";
            ok = pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond,
                                              "sending A-ASSOCIATE-AC failed");
          }
        else
          {
            cond = serve_messages (&ctx);
            if (cond == DUL_PEERREQUESTEDRELEASE)
              {
                summary->outcome = "released";
                ASC_acknowledgeRelease (assoc);
              }
            else if (cond == DUL_PEERABORTEDASSOCIATION)
              {
                summary->outcome = "aborted by peer";
                ok = pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond,
                                                  "peer aborted the association");
              }
            else if (cond == DIMSE_NODATAAVAILABLE)
              {
                summary->outcome = "idle timeout";
                ok = pr_set_error_from_condition (error, PR_DICOM_ERROR_TIMEOUT, cond,
                                                  "peer stayed silent");
                ASC_abortAssociation (assoc);
              }
            else
              {
                summary->outcome = "aborted";
                ok = pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond,
                                                  "association failed");
                ASC_abortAssociation (assoc);
              }
          }
      }

    ASC_dropSCPAssociation (assoc);
    ASC_destroyAssociation (&assoc);
    ASC_dropNetwork (&net);
    return ok;
  })
}
