/* pr-result-sc.cc: a key image with the findings burned in, as Secondary Capture.
 *
 * For PACS and viewers that show no SR and no presentation state: the
 * pixels (rendered and annotated in pr-key-image.c) say everything, so the
 * object says Burned In Annotation YES and refers to the image it was made
 * from.
 */
#include "config.h"

#include "pr-result-common.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/ofstd/ofdatime.h"

#include <string>

extern "C" gboolean
pr_result_write_sc (const PrReport *report, const PrResultTarget *target, const PrReportImage *source_image,
                    guint source_frame, const guint8 *rgb, guint width, guint height, GError **error)
{
  if (width == 0 || height == 0 || width > 65535 || height > 65535)
    {
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "a %ux%u key image cannot be stored", width,
                   height);
      return FALSE;
    }
  PR_DCMTK_GUARD (error, FALSE, {
    DcmFileFormat source;
    if (!pr_result::load_source (report, source, error))
      return FALSE;
    DcmFileFormat file;
    DcmDataset *ds = file.getDataset ();
    pr_result::copy_patient_and_study (source.getDataset (), ds);
    pr_result::set_identity (ds, report, target, UID_SecondaryCaptureImageStorage, "OT");
    pr_result::copy_laterality (source.getDataset (), ds);

    /* SC Equipment, General Image, SC Image. */
    ds->putAndInsertString (DCM_ConversionType, "WSD");
    ds->putAndInsertString (DCM_ImageType, "DERIVED\\SECONDARY");
    ds->insertEmptyElement (DCM_PatientOrientation);
    ds->putAndInsertString (DCM_BurnedInAnnotation, "YES");
    std::string derivation = pr_result::disclaimer (report) + ": findings drawn on the source image";
    ds->putAndInsertString (DCM_DerivationDescription, derivation.c_str ());
    OFString date, time;
    OFDateTime now = OFDateTime::getCurrentDateTime ();
    now.getDate ().getISOFormattedDate (date, OFFalse);
    now.getTime ().getISOFormattedTime (time, OFTrue, OFFalse, OFFalse, OFFalse);
    ds->putAndInsertString (DCM_DateOfSecondaryCapture, date.c_str ());
    ds->putAndInsertString (DCM_TimeOfSecondaryCapture, time.c_str ());
    OFString lossy;
    source.getDataset ()->findAndGetOFString (DCM_LossyImageCompression, lossy);
    ds->putAndInsertString (DCM_LossyImageCompression, lossy == "01" ? "01" : "00");

    DcmItem *reference = NULL;
    if (ds->findOrCreateSequenceItem (DCM_SourceImageSequence, reference, 0).good ())
      {
        reference->putAndInsertString (DCM_ReferencedSOPClassUID, source_image->sop_class_uid);
        reference->putAndInsertString (DCM_ReferencedSOPInstanceUID, source_image->sop_instance_uid);
        if (source_frame > 0)
          reference->putAndInsertString (DCM_ReferencedFrameNumber, std::to_string (source_frame).c_str ());
        DcmItem *purpose = NULL;
        if (reference->findOrCreateSequenceItem (DCM_PurposeOfReferenceCodeSequence, purpose, 0).good ())
          {
            purpose->putAndInsertString (DCM_CodeValue, "121322");
            purpose->putAndInsertString (DCM_CodingSchemeDesignator, "DCM");
            purpose->putAndInsertString (DCM_CodeMeaning, "Source image for image processing operation");
          }
      }

    /* Image Pixel: 8-bit RGB, interleaved. */
    ds->putAndInsertUint16 (DCM_SamplesPerPixel, 3);
    ds->putAndInsertString (DCM_PhotometricInterpretation, "RGB");
    ds->putAndInsertUint16 (DCM_PlanarConfiguration, 0);
    ds->putAndInsertUint16 (DCM_Rows, (Uint16) height);
    ds->putAndInsertUint16 (DCM_Columns, (Uint16) width);
    ds->putAndInsertUint16 (DCM_BitsAllocated, 8);
    ds->putAndInsertUint16 (DCM_BitsStored, 8);
    ds->putAndInsertUint16 (DCM_HighBit, 7);
    ds->putAndInsertUint16 (DCM_PixelRepresentation, 0);
    unsigned long length = (unsigned long) width * height * 3;
    OFCondition cond = ds->putAndInsertUint8Array (DCM_PixelData, rgb, length);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "storing the key image's pixels");
    return pr_result::save (file, target->path, error);
  })
}
