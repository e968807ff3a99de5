/* pr-instance-header.cc: read the attributes of a stored instance with dcmdata. */
#include "config.h"

#include "pr-dcmtk-glue.h"
#include "../pr-instance-header.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcjson.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmdata/dcostrmb.h"

#include <sstream>
#include <string>
#include <cstdio>

/* Longest value we read into memory while parsing; longer ones (bulk data
 * before the pixel data, such as icons or private blobs) stay on disk. */
#define HEADER_MAX_READ_LENGTH 4096

struct PrInstanceHeaderPrivate
{
  DcmFileFormat file;
};

static char *
get_string (DcmItem *item, const DcmTagKey &key)
{
  const char *value = NULL;
  if (item->findAndGetString (key, value).bad ())
    return NULL;
  return pr_dup_value (value);
}

static int
get_int (DcmItem *item, const DcmTagKey &key)
{
  Sint32 value = -1;
  if (item->findAndGetSint32 (key, value).bad ())
    return -1;
  return (int) value;
}

extern "C" PrInstanceHeader *
pr_instance_header_read (const char *path, GError **error)
{
  PR_DCMTK_GUARD (error, NULL, {
    PrInstanceHeaderPrivate *priv = new PrInstanceHeaderPrivate ();
    OFCondition cond = priv->file.loadFileUntilTag (path, EXS_Unknown, EGL_noChange,
                                                    HEADER_MAX_READ_LENGTH, ERM_autoDetect,
                                                    DCM_PixelData);
    if (cond.bad ())
      {
        delete priv;
        pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, "cannot read DICOM file");
        return NULL;
      }

    /* Values go to the index and the web UI as UTF-8. Where the conversion
     * is impossible (unknown or wrong character set) we keep the raw bytes,
     * made valid UTF-8 by pr_dup_value(): a garbled name beats a lost study. */
    DcmDataset *ds = priv->file.getDataset ();
    if (ds->tagExistsWithValue (DCM_SpecificCharacterSet))
      {
        OFCondition conv = priv->file.convertToUTF8 ();
        if (conv.bad ())
          g_debug ("character set conversion failed, keeping raw values: %s", conv.text ());
      }

    PrInstanceHeader *h = g_new0 (PrInstanceHeader, 1);
    h->priv = priv;
    DcmMetaInfo *meta = priv->file.getMetaInfo ();

    h->sop_class_uid = get_string (ds, DCM_SOPClassUID);
    h->sop_instance_uid = get_string (ds, DCM_SOPInstanceUID);
    h->transfer_syntax_uid = get_string (meta, DCM_TransferSyntaxUID);
    if (h->transfer_syntax_uid == NULL)
      {
        DcmXfer xfer (ds->getOriginalXfer ());
        h->transfer_syntax_uid = pr_dup_value (xfer.getXferID ());
      }
    h->study_instance_uid = get_string (ds, DCM_StudyInstanceUID);
    h->series_instance_uid = get_string (ds, DCM_SeriesInstanceUID);
    h->source_ae_title = get_string (meta, DCM_SourceApplicationEntityTitle);

    h->patient_id = get_string (ds, DCM_PatientID);
    h->patient_name = get_string (ds, DCM_PatientName);
    h->patient_birth_date = get_string (ds, DCM_PatientBirthDate);
    h->patient_sex = get_string (ds, DCM_PatientSex);
    h->accession_number = get_string (ds, DCM_AccessionNumber);
    h->study_date = get_string (ds, DCM_StudyDate);
    h->study_time = get_string (ds, DCM_StudyTime);
    h->study_description = get_string (ds, DCM_StudyDescription);
    h->study_id = get_string (ds, DCM_StudyID);
    h->referring_physician_name = get_string (ds, DCM_ReferringPhysicianName);

    h->modality = get_string (ds, DCM_Modality);
    h->body_part_examined = get_string (ds, DCM_BodyPartExamined);
    h->series_description = get_string (ds, DCM_SeriesDescription);
    h->series_date = get_string (ds, DCM_SeriesDate);
    h->series_time = get_string (ds, DCM_SeriesTime);
    h->protocol_name = get_string (ds, DCM_ProtocolName);
    h->series_number = get_int (ds, DCM_SeriesNumber);
    h->instance_number = get_int (ds, DCM_InstanceNumber);

    GStatBuf st;
    if (g_stat (path, &st) == 0)
      h->file_size = (guint64) st.st_size;
    return h;
  })
}

static gboolean
parse_tag (const char *keyword, DcmTagKey *key)
{
  unsigned int group = 0, element = 0;
  char tail = 0;
  if (sscanf (keyword, "%4x,%4x%c", &group, &element, &tail) == 2 ||
      sscanf (keyword, "(%4x,%4x)%c", &group, &element, &tail) == 2)
    {
      *key = DcmTagKey ((Uint16) group, (Uint16) element);
      return TRUE;
    }
  DcmTag tag;
  if (DcmTag::findTagFromName (keyword, tag).bad ())
    return FALSE;
  *key = tag.getXTag ();
  return TRUE;
}

extern "C" char *
pr_instance_header_lookup (const PrInstanceHeader *header, const char *keyword)
{
  GError *ignored = NULL;
  PR_DCMTK_GUARD (&ignored, NULL, {
    PrInstanceHeaderPrivate *priv = (PrInstanceHeaderPrivate *) header->priv;
    DcmTagKey key;
    if (!parse_tag (keyword, &key))
      return NULL;
    DcmItem *item = key.getGroup () == 0x0002 ? (DcmItem *) priv->file.getMetaInfo ()
                                              : (DcmItem *) priv->file.getDataset ();
    OFString value;
    if (item->findAndGetOFStringArray (key, value).bad ())
      return NULL;
    return pr_dup_value (value.c_str ());
  })
}

static gboolean
is_bulk_vr (DcmEVR vr)
{
  switch (vr)
    {
    case EVR_OB: case EVR_OW: case EVR_OF: case EVR_OD: case EVR_OL: case EVR_OV:
    case EVR_UN: case EVR_ox: case EVR_px: case EVR_lt: case EVR_pixelSQ: case EVR_pixelItem:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Removes bulk data and oversized values from @item, recursively. */
static void
strip_bulk (DcmItem *item, gsize max_value_bytes)
{
  for (long i = (long) item->card () - 1; i >= 0; i--)
    {
      DcmElement *elem = item->getElement ((unsigned long) i);
      DcmEVR vr = elem->ident ();
      if (vr == EVR_SQ)
        {
          DcmSequenceOfItems *seq = OFstatic_cast (DcmSequenceOfItems *, elem);
          if (seq->getLength () > max_value_bytes * 16)
            delete item->remove (elem);
          else
            for (unsigned long j = 0; j < seq->card (); j++)
              strip_bulk (seq->getItem (j), max_value_bytes);
          continue;
        }
      if (is_bulk_vr (vr) || elem->getLengthField () > max_value_bytes)
        delete item->remove (elem);
    }
}

extern "C" char *
pr_instance_header_to_json (const PrInstanceHeader *header, gsize max_value_bytes)
{
  GError *error = NULL;
  char *json = NULL;
  [&] () -> gboolean {
    PR_DCMTK_GUARD (&error, FALSE, {
      PrInstanceHeaderPrivate *priv = (PrInstanceHeaderPrivate *) header->priv;
      DcmDataset copy (*priv->file.getDataset ());
      strip_bulk (&copy, max_value_bytes);
      copy.loadAllDataIntoMemory ();
      std::ostringstream out;
      DcmJsonFormatCompact format (OFFalse);
      /* DcmDataset::writeJson writes the members only; the braces are the
       * caller's (DcmFileFormat adds them). */
      out << "{";
      OFCondition cond = copy.writeJson (out, format);
      out << "}";
      if (cond.bad ())
        return pr_set_error_from_condition (&error, PR_DICOM_ERROR_INVALID, cond, "cannot write JSON");
      json = g_utf8_make_valid (out.str ().c_str (), -1);
      return TRUE;
    })
  }();
  if (json == NULL)
    {
      g_debug ("attributes as JSON failed: %s", error ? error->message : "unknown");
      g_clear_error (&error);
      json = g_strdup ("{}");
    }
  return json;
}

extern "C" void
pr_instance_header_free (PrInstanceHeader *h)
{
  if (h == NULL)
    return;
  delete (PrInstanceHeaderPrivate *) h->priv;
  char **fields[] = {
    &h->sop_class_uid, &h->sop_instance_uid, &h->transfer_syntax_uid, &h->study_instance_uid,
    &h->series_instance_uid, &h->source_ae_title, &h->patient_id, &h->patient_name,
    &h->patient_birth_date, &h->patient_sex, &h->accession_number, &h->study_date,
    &h->study_time, &h->study_description, &h->study_id, &h->referring_physician_name,
    &h->modality, &h->body_part_examined, &h->series_description, &h->series_date,
    &h->series_time, &h->protocol_name,
  };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    g_free (*fields[i]);
  g_free (h);
}

/* The data set re-encoded in a fixed way: its own transfer syntax, explicit
 * lengths, no group lengths, no padding. Equal content gives equal bytes. */
static gboolean
normalized_bytes (const char *path, std::string *out, GError **error)
{
  DcmFileFormat file;
  OFCondition cond = file.loadFile (path);
  if (cond.bad ())
    return pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, "cannot read DICOM file");
  DcmDataset *ds = file.getDataset ();
  E_TransferSyntax xfer = ds->getOriginalXfer ();
  /* Trailing padding carries nothing (PS3.10 7.2) and DCMTK drops it when
   * it sends a data set. */
  delete ds->remove (DCM_DataSetTrailingPadding);
  Uint32 length = ds->calcElementLength (xfer, EET_ExplicitLength);
  std::string buffer (length + 1024, '\0');
  DcmOutputBufferStream stream (&buffer[0], (offile_off_t) buffer.size ());
  ds->transferInit ();
  cond = ds->write (stream, xfer, EET_ExplicitLength, NULL, EGL_withoutGL);
  ds->transferEnd ();
  if (cond.bad ())
    return pr_set_error_from_condition (error, PR_DICOM_ERROR_INVALID, cond, "cannot encode the data set");
  void *data = NULL;
  offile_off_t written = 0;
  stream.flushBuffer (data, written);
  out->assign ((const char *) data, (size_t) written);
  return TRUE;
}

extern "C" gboolean
pr_instance_content_equal (const char *path_a, const char *path_b, gboolean *equal, GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    std::string a, b;
    if (!normalized_bytes (path_a, &a, error) || !normalized_bytes (path_b, &b, error))
      return FALSE;
    *equal = a == b;
    return TRUE;
  })
}
