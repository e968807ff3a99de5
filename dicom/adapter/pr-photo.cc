/* pr-photo.cc: a photo as VL Photographic Image Storage, through DCMTK's
 * image-to-DICOM library (libi2d, the engine of img2dcm).
 *
 * libi2d copies a JPEG's compressed stream into encapsulated pixel data
 * without decoding it, and its VL Photographic output plugin writes the
 * attributes of that IOD; we add who, where and when. Decoded pixels (from
 * PNG) come in through a small source plugin of ours.
 */
#include "config.h"

#include "../pr-photo-private.h"
#include "pr-dcmtk-glue.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/libi2d/i2d.h"
#include "dcmtk/dcmdata/libi2d/i2djpgs.h"
#include "dcmtk/dcmdata/libi2d/i2dplvlp.h"
#include "dcmtk/ofstd/ofdatime.h"

#include <cstring>

namespace {

/* Hands libi2d pixels we decoded ourselves: 8-bit RGB, uncompressed. */
class RgbSource : public I2DImgSource
{
public:
  RgbSource (const guint8 *rgb, guint width, guint height) : rgb_ (rgb), width_ (width), height_ (height) {}

  OFString inputFormat () const override { return "PNG"; }

  OFCondition readPixelData (Uint16 &rows, Uint16 &cols, Uint16 &samplesPerPixel, OFString &photoMetrInt,
                             Uint16 &bitsAlloc, Uint16 &bitsStored, Uint16 &highBit, Uint16 &pixelRepr,
                             Uint16 &planConf, Uint16 &pixAspectH, Uint16 &pixAspectV, char *&pixData,
                             Uint32 &length, E_TransferSyntax &ts) override
  {
    rows = (Uint16) height_;
    cols = (Uint16) width_;
    samplesPerPixel = 3;
    photoMetrInt = "RGB";
    bitsAlloc = bitsStored = 8;
    highBit = 7;
    pixelRepr = 0;
    planConf = 0;
    pixAspectH = pixAspectV = 1;
    length = (Uint32) width_ * height_ * 3;
    /* libi2d frees it with delete[]; an odd length gets its pad byte there. */
    pixData = new char[length + 1];
    memcpy (pixData, rgb_, length);
    pixData[length] = 0;
    ts = EXS_LittleEndianExplicit;
    return EC_Normal;
  }

  OFCondition getLossyComprInfo (OFBool &srcEncodingLossy, OFString &srcLossyComprMethod) const override
  {
    srcEncodingLossy = OFFalse;
    srcLossyComprMethod.clear ();
    return EC_Normal;
  }

private:
  const guint8 *rgb_;
  guint width_, height_;
};

void
put_if (DcmDataset *ds, const DcmTagKey &tag, const char *value)
{
  if (value != NULL && *value != '\0')
    ds->putAndInsertString (tag, value);
  else
    ds->insertEmptyElement (tag);
}

void
put_site (DcmDataset *ds, const PrPhotoFacts *facts, const PrBodySite *site, const char *laterality)
{
  /* General Anatomy: the region coded when we recognise it; the doctor's
   * own words are kept in Image Comments either way. */
  ds->insertEmptyElement (DCM_AnatomicRegionSequence);
  if (site != NULL)
    {
      DcmItem *region = NULL;
      if (ds->findOrCreateSequenceItem (DCM_AnatomicRegionSequence, region, 0).good ())
        {
          region->putAndInsertString (DCM_CodeValue, site->code);
          region->putAndInsertString (DCM_CodingSchemeDesignator, "SCT");
          region->putAndInsertString (DCM_CodeMeaning, site->meaning);
        }
      if (site->body_part != NULL)
        ds->putAndInsertString (DCM_BodyPartExamined, site->body_part);
    }
  if (laterality != NULL)
    ds->putAndInsertString (DCM_ImageLaterality, laterality);
  if (facts->body_site != NULL && *facts->body_site != '\0')
    {
      std::string comment = std::string ("body site: ") + facts->body_site;
      ds->putAndInsertString (DCM_ImageComments, comment.c_str ());
    }
}

} // namespace

extern "C" gboolean
pr_photo_write_dataset (const PrPhotoFacts *facts, const PrPhotoPixels *pixels, const PrBodySite *site,
                        const char *laterality, const char *sop_instance_uid, const char *output_path,
                        GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    I2DJpegSource jpeg;
    RgbSource rgb (pixels->rgb, pixels->width, pixels->height);
    I2DImgSource *source = &rgb;
    if (pixels->jpeg_path != NULL)
      {
        jpeg.setImageFile (pixels->jpeg_path);
        /* APPn (EXIF: GPS position, camera owner) and comments stay out. */
        jpeg.setKeepAPPn (OFFalse);
        jpeg.setKeepCOM (OFFalse);
        source = &jpeg;
      }
    I2DOutputPlugVLP plugin;
    Image2Dcm engine;
    /* Missing type 2 attributes are inserted empty; a missing type 1 one is
     * our bug and must fail, not be invented. */
    engine.setValidityChecking (OFTrue, OFTrue, OFFalse);
    DcmDataset *made = NULL;
    E_TransferSyntax syntax = EXS_Unknown;
    OFCondition cond = engine.convertFirstFrame (source, &plugin, 1, made, syntax);
    if (cond.good ())
      cond = engine.updateOffsetTable ();
    if (cond.good ())
      cond = engine.updateLossyCompressionInfo (source, 1, made);
    if (cond.bad ())
      {
        delete made;
        g_autofree char *what = g_strdup_printf ("%s: cannot be wrapped",
                                                 pixels->jpeg_path ? pixels->jpeg_path : "the image");
        return pr_set_error_from_condition (error, PR_DICOM_ERROR_INVALID, cond, what);
      }
    DcmFileFormat file (made, OFFalse);
    DcmDataset *ds = file.getDataset ();

    ds->putAndInsertString (DCM_SpecificCharacterSet, "ISO_IR 192");
    ds->putAndInsertString (DCM_SOPInstanceUID, sop_instance_uid);
    ds->putAndInsertString (DCM_StudyInstanceUID, facts->study_uid);
    ds->putAndInsertString (DCM_SeriesInstanceUID, facts->series_uid);
    ds->putAndInsertString (DCM_Modality, "XC");
    put_if (ds, DCM_PatientID, facts->patient_id);
    put_if (ds, DCM_PatientName, facts->patient_name);
    put_if (ds, DCM_PatientBirthDate, facts->patient_birth_date);
    put_if (ds, DCM_PatientSex, facts->patient_sex);
    put_if (ds, DCM_AccessionNumber, facts->accession_number);
    ds->putAndInsertString (DCM_StudyDescription,
                            facts->study_description ? facts->study_description : "Dermatology photo");
    ds->putAndInsertString (DCM_SeriesDescription, "Clinical photo");
    put_if (ds, DCM_OperatorsName, facts->operator_name);
    ds->insertEmptyElement (DCM_StudyID);
    ds->insertEmptyElement (DCM_ReferringPhysicianName);
    ds->putAndInsertString (DCM_SeriesNumber, "1");
    g_autofree char *number = g_strdup_printf ("%u", facts->instance_number);
    ds->putAndInsertString (DCM_InstanceNumber, number);
    ds->putAndInsertString (DCM_Manufacturer, "preread");
    ds->putAndInsertString (DCM_ImageType, "ORIGINAL\\PRIMARY");
    ds->insertEmptyElement (DCM_PatientOrientation);
    ds->insertEmptyElement (DCM_AcquisitionContextSequence);
    put_site (ds, facts, site, laterality);
    /* libi2d leaves it empty for pixels that were never lossy-compressed. */
    if (pixels->jpeg_path == NULL)
      ds->putAndInsertString (DCM_LossyImageCompression, "00");

    OFString date, time;
    OFDateTime now = OFDateTime::getCurrentDateTime ();
    now.getDate ().getISOFormattedDate (date, OFFalse);
    now.getTime ().getISOFormattedTime (time, OFTrue, OFFalse, OFFalse, OFFalse);
    const DcmTagKey dates[] = { DCM_StudyDate, DCM_SeriesDate, DCM_ContentDate, DCM_AcquisitionDateTime };
    for (const DcmTagKey &tag : dates)
      ds->putAndInsertString (tag, tag == DCM_AcquisitionDateTime ? (date + time).c_str () : date.c_str ());
    const DcmTagKey times[] = { DCM_StudyTime, DCM_SeriesTime, DCM_ContentTime };
    for (const DcmTagKey &tag : times)
      ds->putAndInsertString (tag, time.c_str ());

    /* Written in the syntax the pixels came in: a JPEG stays the JPEG it was. */
    cond = file.saveFile (output_path, syntax, EET_ExplicitLength, EGL_recalcGL, EPD_withoutPadding);
    if (cond.bad ())
      {
        g_autofree char *what = g_strdup_printf ("%s: cannot be written", output_path);
        return pr_set_error_from_condition (error, PR_DICOM_ERROR_IO, cond, what);
      }
    return TRUE;
  })
}
