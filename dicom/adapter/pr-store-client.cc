/* pr-store-client.cc: C-STORE SCU over DCMTK's ASC/DIMSE API.
 *
 * Not DcmStorageSCU: that class hides why an association was rejected
 * (transient or permanent) and the delivery queue needs exactly that to
 * decide between "retry later" and "dead letter".
 */
#include "config.h"

#include "pr-dcmtk-glue.h"
#include "../pr-store-client.h"

#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmtls/tlslayer.h"

#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#define MAX_CONTEXTS_PER_ASSOCIATION 128

struct Item
{
  PrSendItem pub;
  std::string path, sop_class, sop_instance, xfer;
  gboolean lossy;
  gboolean has_meta;   /* Part 10 file: can be sent straight from disk */
};

struct _PrStoreClient
{
  std::string calling_ae, called_ae, host, tls_ca, tls_certificate, tls_key;
  PrStoreClientOptions options;
  std::vector<Item *> items;
};

namespace {


gboolean
is_uncompressed (const std::string &xfer)
{
  return xfer == UID_LittleEndianExplicitTransferSyntax ||
         xfer == UID_LittleEndianImplicitTransferSyntax ||
         xfer == UID_BigEndianExplicitTransferSyntax;
}

/* DCMTK 3.6.7 cannot parse data sets in transfer syntaxes it has no name
 * for (HTJ2K, for example): such files can only go out bit for bit. */
gboolean
is_known (const std::string &xfer)
{
  return DcmXfer (xfer.c_str ()).getXfer () != EXS_Unknown;
}

gboolean
wants_fallback (const PrStoreClient *client, const Item *item)
{
  if (!is_known (item->xfer))
    return FALSE;
  switch (client->options.decompression)
    {
    case PR_DECOMPRESS_NEVER:
      return FALSE;
    case PR_DECOMPRESS_LOSSLESS:
      return !item->lossy;
    case PR_DECOMPRESS_ALWAYS:
    default:
      return TRUE;
    }
}

/* One association's worth of work: the contexts to propose, the files to send. */
struct Batch
{
  /* (abstract syntax, transfer syntax or "" for the uncompressed fallback) → context ID */
  std::map<std::pair<std::string, std::string>, T_ASC_PresentationContextID> contexts;
  std::vector<Item *> items;
};

std::vector<Batch>
plan_batches (PrStoreClient *client)
{
  std::vector<Batch> batches;
  Batch current;
  for (Item *item : client->items)
    {
      if (item->pub.outcome != PR_SEND_PENDING)
        continue;
      std::vector<std::pair<std::string, std::string>> needed;
      needed.push_back (std::make_pair (item->sop_class, item->xfer));
      if (wants_fallback (client, item) && !is_uncompressed (item->xfer))
        needed.push_back (std::make_pair (item->sop_class, std::string ()));

      size_t missing = 0;
      for (auto &key : needed)
        if (current.contexts.find (key) == current.contexts.end ())
          missing++;
      if (current.contexts.size () + missing > MAX_CONTEXTS_PER_ASSOCIATION)
        {
          batches.push_back (current);
          current = Batch ();
        }
      for (auto &key : needed)
        if (current.contexts.find (key) == current.contexts.end ())
          {
            T_ASC_PresentationContextID id = (T_ASC_PresentationContextID) (2 * current.contexts.size () + 1);
            current.contexts[key] = id;
          }
      current.items.push_back (item);
    }
  if (!current.items.empty ())
    batches.push_back (current);
  return batches;
}

OFCondition
propose_contexts (T_ASC_Parameters *params, const Batch &batch)
{
  for (auto &entry : batch.contexts)
    {
      const std::string &abstract = entry.first.first;
      const std::string &xfer = entry.first.second;
      OFCondition cond;
      if (xfer.empty ())
        {
          const char *uncompressed[] = { UID_LittleEndianExplicitTransferSyntax,
                                         UID_LittleEndianImplicitTransferSyntax };
          cond = ASC_addPresentationContext (params, entry.second, abstract.c_str (), uncompressed, 2);
        }
      else if (xfer == UID_LittleEndianExplicitTransferSyntax)
        {
          /* Implicit VR is the one transfer syntax every SCP must accept. */
          const char *both[] = { UID_LittleEndianExplicitTransferSyntax,
                                 UID_LittleEndianImplicitTransferSyntax };
          cond = ASC_addPresentationContext (params, entry.second, abstract.c_str (), both, 2);
        }
      else
        {
          const char *own[] = { xfer.c_str () };
          cond = ASC_addPresentationContext (params, entry.second, abstract.c_str (), own, 1);
        }
      if (cond.bad ())
        return cond;
    }
  return EC_Normal;
}

gboolean
request_association (PrStoreClient *client, T_ASC_Network *net, const Batch &batch,
                     T_ASC_Association **assoc, GError **error)
{
  T_ASC_Parameters *params = NULL;
  guint32 max_pdu = client->options.max_pdu ? client->options.max_pdu : 116794;
  OFCondition cond = ASC_createAssociationParameters (&params, (long) max_pdu);
  if (cond.bad ())
    return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "cannot create association parameters");

  ASC_setAPTitles (params, client->calling_ae.c_str (), client->called_ae.c_str (), NULL);
  if (client->options.tls)
    ASC_setTransportLayerType (params, OFTrue);
  g_autofree char *peer = g_strdup_printf ("%s:%u", client->host.c_str (), client->options.port);
  ASC_setPresentationAddresses (params, OFStandard::getHostName ().c_str (), peer);

  cond = propose_contexts (params, batch);
  if (cond.bad ())
    {
      ASC_destroyAssociationParameters (&params);
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "cannot propose presentation contexts");
    }

  cond = ASC_requestAssociation (net, params, assoc);
  if (cond.good ())
    return TRUE;

  if (cond == DUL_ASSOCIATIONREJECTED)
    {
      T_ASC_RejectParameters rej;
      ASC_getRejectParameters (params, &rej);
      OFString text;
      ASC_printRejectParameters (text, &rej);
      g_set_error (error, PR_DICOM_ERROR,
                   rej.result == ASC_RESULT_REJECTEDTRANSIENT ? PR_DICOM_ERROR_BUSY : PR_DICOM_ERROR_REJECTED,
                   "association rejected by %s: %s", peer, g_strdelimit (g_strdup (text.c_str ()), "\n", ' '));
    }
  else
    g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_NETWORK,
                 "cannot associate with %s: %s", peer, cond.text ());

  /* ASC_requestAssociation stores params in *assoc when it allocated one. */
  if (*assoc != NULL)
    ASC_destroyAssociation (assoc);
  else
    ASC_destroyAssociationParameters (&params);
  return FALSE;
}

/* Sends one file on an open association. Returns a bad condition only when
 * the association is no longer usable. */
OFCondition
send_item (PrStoreClient *client, T_ASC_Association *assoc, Batch &batch, Item *item, DIC_US message_id)
{
  T_ASC_PresentationContextID own = batch.contexts.count (std::make_pair (item->sop_class, item->xfer))
                                        ? ASC_findAcceptedPresentationContextID (assoc, item->sop_class.c_str (),
                                                                                item->xfer.c_str ())
                                        : 0;
  T_ASC_PresentationContextID pres_id = own;
  DcmFileFormat decoded;
  gboolean from_file = TRUE;

  if (!is_known (item->xfer))
    {
      item->pub.outcome = PR_SEND_UNSENDABLE;
      item->pub.detail = "its transfer syntax is unknown to this DCMTK, which can neither send nor convert it";
      return EC_Normal;
    }
  /* Re-encoding between the uncompressed syntaxes loses nothing, so it is
   * always allowed; decompression only when the caller said so. A file
   * without meta header cannot be streamed from disk either. */
  if (!item->has_meta)
    pres_id = 0;
  if (pres_id == 0 && (wants_fallback (client, item) || is_uncompressed (item->xfer) || !item->has_meta))
    {
      const char *targets[] = { item->xfer.c_str (), UID_LittleEndianExplicitTransferSyntax,
                                UID_LittleEndianImplicitTransferSyntax };
      for (const char *ts : targets)
        if (pres_id == 0)
          {
            pres_id = ASC_findAcceptedPresentationContextID (assoc, item->sop_class.c_str (), ts);
            if (pres_id != 0)
              {
                pr_register_decoders_once ();
                E_TransferSyntax target = DcmXfer (ts).getXfer ();
                OFCondition cond = decoded.loadFile (item->path.c_str ());
                if (cond.good ())
                  cond = decoded.getDataset ()->chooseRepresentation (target, NULL);
                if (cond.bad () || !decoded.getDataset ()->canWriteXfer (target))
                  {
                    item->pub.outcome = PR_SEND_UNSENDABLE;
                    item->pub.detail = "the peer does not accept its transfer syntax, and it cannot be decompressed";
                    return EC_Normal;
                  }
                from_file = FALSE;
              }
          }
    }
  if (pres_id == 0)
    {
      item->pub.outcome = PR_SEND_UNSENDABLE;
      item->pub.detail = "the peer accepted no presentation context for its SOP class and transfer syntax";
      return EC_Normal;
    }

  T_DIMSE_C_StoreRQ req;
  memset (&req, 0, sizeof req);
  req.MessageID = message_id;
  OFStandard::strlcpy (req.AffectedSOPClassUID, item->sop_class.c_str (), sizeof req.AffectedSOPClassUID);
  OFStandard::strlcpy (req.AffectedSOPInstanceUID, item->sop_instance.c_str (), sizeof req.AffectedSOPInstanceUID);
  req.DataSetType = DIMSE_DATASET_PRESENT;
  req.Priority = DIMSE_PRIORITY_MEDIUM;

  T_DIMSE_C_StoreRSP rsp;
  memset (&rsp, 0, sizeof rsp);
  DcmDataset *status_detail = NULL;
  OFCondition cond = DIMSE_storeUser (assoc, pres_id, &req,
                                      from_file ? item->path.c_str () : NULL,
                                      from_file ? NULL : decoded.getDataset (),
                                      NULL, NULL, DIMSE_NONBLOCKING, (int) client->options.dimse_timeout_s,
                                      &rsp, &status_detail);
  delete status_detail;
  if (cond.bad ())
    {
      item->pub.outcome = PR_SEND_INTERRUPTED;
      item->pub.detail = "the association broke before the answer";
      return cond;
    }
  item->pub.status = rsp.DimseStatus;
  /* Success (0000) and warnings (0001, Bxxx) both mean the peer keeps it. */
  if (rsp.DimseStatus == STATUS_Success || rsp.DimseStatus == 0x0001 || (rsp.DimseStatus & 0xF000) == 0xB000)
    item->pub.outcome = PR_SEND_STORED;
  else
    {
      item->pub.outcome = PR_SEND_REFUSED;
      item->pub.detail = "the peer answered a failure status";
    }
  return EC_Normal;
}

gboolean
run_batch (PrStoreClient *client, T_ASC_Network *net, Batch &batch, PrSendProgressFunc progress,
           gpointer user_data, guint *done, guint total, GError **error)
{
  T_ASC_Association *assoc = NULL;
  if (!request_association (client, net, batch, &assoc, error))
    return FALSE;

  DIC_US message_id = 1;
  OFCondition cond = EC_Normal;
  for (Item *item : batch.items)
    {
      cond = send_item (client, assoc, batch, item, message_id++);
      (*done)++;
      if (progress != NULL)
        progress (&item->pub, *done, total, user_data);
      if (cond.bad ())
        break;
    }

  gboolean ok = TRUE;
  if (cond.bad ())
    {
      ok = pr_set_error_from_condition (error, cond == DIMSE_NODATAAVAILABLE ? PR_DICOM_ERROR_TIMEOUT
                                                                            : PR_DICOM_ERROR_NETWORK,
                                        cond, "sending failed");
      ASC_abortAssociation (assoc);
    }
  else
    {
      cond = ASC_releaseAssociation (assoc);
      if (cond.bad ())
        ASC_abortAssociation (assoc);
    }
  ASC_dropAssociation (assoc);
  ASC_destroyAssociation (&assoc);
  return ok;
}

} /* namespace */

extern "C" PrStoreClient *
pr_store_client_new (const PrStoreClientOptions *options)
{
  PrStoreClient *client = new PrStoreClient ();
  client->options = *options;
  client->calling_ae = options->calling_ae ? options->calling_ae : "PREREAD";
  client->called_ae = options->called_ae ? options->called_ae : "ANY-SCP";
  client->host = options->host ? options->host : "127.0.0.1";
  client->options.calling_ae = client->calling_ae.c_str ();
  client->options.called_ae = client->called_ae.c_str ();
  client->options.host = client->host.c_str ();
  /* Copies: the caller's strings need not outlive this call. */
  const char **tls_files[] = { &client->options.tls_ca, &client->options.tls_certificate, &client->options.tls_key };
  std::string *copies[] = { &client->tls_ca, &client->tls_certificate, &client->tls_key };
  for (size_t i = 0; i < 3; i++)
    if (*tls_files[i] != NULL)
      {
        *copies[i] = *tls_files[i];
        *tls_files[i] = copies[i]->c_str ();
      }
  if (client->options.acse_timeout_s == 0)
    client->options.acse_timeout_s = 30;
  if (client->options.dimse_timeout_s == 0)
    client->options.dimse_timeout_s = 60;
  if (client->options.connect_timeout_s == 0)
    client->options.connect_timeout_s = 15;
  return client;
}

extern "C" gboolean
pr_store_client_add_file (PrStoreClient *client, const char *path, GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    DcmFileFormat file;
    /* Read up to the SOP Instance UID (parsing stops before (0008,0019)),
     * not the pixel data: the rest is read when sending. */
    OFCondition cond = file.loadFileUntilTag (path, EXS_Unknown, EGL_noChange, 1024, ERM_autoDetect,
                                              DcmTagKey (0x0008, 0x0019));
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, "not a readable DICOM file");

    /* The data set is what the peer stores, so its UIDs name the instance;
     * the meta header's copies are only a fallback (they disagree in some
     * real files, and storescu also trusts the data set). */
    OFString sop_class, sop_instance, xfer;
    file.getDataset ()->findAndGetOFString (DCM_SOPClassUID, sop_class);
    file.getDataset ()->findAndGetOFString (DCM_SOPInstanceUID, sop_instance);
    file.getMetaInfo ()->findAndGetOFString (DCM_TransferSyntaxUID, xfer);
    if (sop_class.empty ())
      file.getMetaInfo ()->findAndGetOFString (DCM_MediaStorageSOPClassUID, sop_class);
    if (sop_instance.empty ())
      file.getMetaInfo ()->findAndGetOFString (DCM_MediaStorageSOPInstanceUID, sop_instance);
    if (xfer.empty ())
      xfer = DcmXfer (file.getDataset ()->getOriginalXfer ()).getXferID ();

    if (sop_class.empty () || sop_instance.empty ())
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_PARSE,
                     "no SOP Class or SOP Instance UID (not a storable instance)");
        return FALSE;
      }
    if (sop_class == UID_MediaStorageDirectoryStorage)
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_PARSE, "a DICOMDIR is not sent, only what it indexes");
        return FALSE;
      }

    Item *item = new Item ();
    item->path = path;
    item->sop_class = sop_class.c_str ();
    item->sop_instance = sop_instance.c_str ();
    item->xfer = xfer.c_str ();
    item->lossy = DcmXfer (xfer.c_str ()).isLossy ();
    item->has_meta = file.getMetaInfo ()->tagExistsWithValue (DCM_TransferSyntaxUID);
    GStatBuf st;
    memset (&item->pub, 0, sizeof item->pub);
    if (g_stat (path, &st) == 0)
      item->pub.file_size = (guint64) st.st_size;
    item->pub.path = item->path.c_str ();
    item->pub.sop_class_uid = item->sop_class.c_str ();
    item->pub.sop_instance_uid = item->sop_instance.c_str ();
    item->pub.transfer_syntax_uid = item->xfer.c_str ();
    item->pub.outcome = PR_SEND_PENDING;
    client->items.push_back (item);
    return TRUE;
  })
}

extern "C" guint
pr_store_client_get_n_items (PrStoreClient *client)
{
  return (guint) client->items.size ();
}

extern "C" const PrSendItem *
pr_store_client_get_item (PrStoreClient *client, guint index)
{
  g_return_val_if_fail (index < client->items.size (), NULL);
  return &client->items[index]->pub;
}

/* The TLS layer for @net: BCP 195 ciphers, the peer's certificate required
 * and checked against the trusted CAs, ours presented when configured. */
static gboolean
use_tls (PrStoreClient *client, T_ASC_Network *net, GError **error)
{
  const PrStoreClientOptions &o = client->options;
  if (o.tls_ca == NULL)
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                           "TLS needs the certificate authorities to trust (tls ca=)");
      return FALSE;
    }
  DcmTLSTransportLayer *layer = new DcmTLSTransportLayer (NET_REQUESTOR, NULL, OFTrue);
  OFCondition cond = layer->setTLSProfile (TSP_Profile_BCP195_ND);
  if (cond.good ())
    cond = layer->activateCipherSuites ();
  if (cond.good ())
    cond = layer->addTrustedCertificateFile (o.tls_ca, DCF_Filetype_PEM);
  if (cond.good () && o.tls_certificate != NULL)
    {
      cond = layer->setPrivateKeyFile (o.tls_key ? o.tls_key : o.tls_certificate, DCF_Filetype_PEM);
      if (cond.good ())
        cond = layer->setCertificateFile (o.tls_certificate, DCF_Filetype_PEM);
      if (cond.good () && !layer->checkPrivateKeyMatchesCertificate ())
        {
          delete layer;
          g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "TLS: the key %s does not match the certificate %s",
                       o.tls_key ? o.tls_key : o.tls_certificate, o.tls_certificate);
          return FALSE;
        }
    }
  if (cond.bad ())
    {
      delete layer;
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_INVALID, cond, "TLS cannot be set up");
    }
  layer->setCertificateVerification (DCV_requireCertificate);
  /* The network owns the layer from here (ASC_dropNetwork deletes it). */
  cond = ASC_setTransportLayer (net, layer, 1);
  if (cond.bad ())
    {
      delete layer;
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "TLS cannot be set up");
    }
  return TRUE;
}

extern "C" gboolean
pr_store_client_send (PrStoreClient *client, PrSendProgressFunc progress, gpointer user_data, GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    std::vector<Batch> batches = plan_batches (client);
    guint total = 0, done = 0;
    for (auto &b : batches)
      total += (guint) b.items.size ();
    if (total == 0)
      return TRUE;

    dcmConnectionTimeout.set ((Sint32) client->options.connect_timeout_s);
    T_ASC_Network *net = NULL;
    OFCondition cond = ASC_initializeNetwork (NET_REQUESTOR, 0, (int) client->options.acse_timeout_s, &net);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_NETWORK, cond, "cannot initialise the network layer");
    if (client->options.tls && !use_tls (client, net, error))
      {
        ASC_dropNetwork (&net);
        return FALSE;
      }

    /* A file that breaks an association (marked interrupted) must not cost
     * the files after it: plan again and go on, as long as each round
     * settles at least one file. A peer we cannot associate with at all
     * ends the send. */
    gboolean ok = TRUE;
    GError *last_error = NULL;
    while (!batches.empty ())
      {
        guint done_before = done;
        gboolean broke = FALSE;
        for (auto &batch : batches)
          {
            g_clear_error (&last_error);
            if (!run_batch (client, net, batch, progress, user_data, &done, total, &last_error))
              {
                broke = TRUE;
                break;
              }
          }
        if (!broke)
          break;
        ok = FALSE;
        if (done == done_before)
          break;
        g_message ("association broke (%s); continuing with the remaining files", last_error->message);
        batches = plan_batches (client);
      }
    if (last_error != NULL && !ok)
      g_propagate_error (error, last_error);
    else
      g_clear_error (&last_error);
    ASC_dropNetwork (&net);
    return ok;
  })
}

extern "C" void
pr_store_client_free (PrStoreClient *client)
{
  if (client == NULL)
    return;
  for (Item *item : client->items)
    delete item;
  delete client;
}
