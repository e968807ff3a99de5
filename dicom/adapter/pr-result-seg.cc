/* pr-result-seg.cc: the findings' masks as a binary DICOM Segmentation.
 *
 * One segment per mask finding, in report order (the SR's Referenced
 * Segment numbers count the same way). Each slice of a mask's box becomes a
 * full-size frame placed on its source image: plane position from that
 * image, orientation and pixel spacing shared, the source image named in
 * the derivation image functional group. Dimensions: segment, then
 * position. Masks on images of another size than the first mask's, or on
 * multi-frame images, are left out with a warning (a SEG has one frame
 * size, and per-frame geometry of multi-frame sources is not read here).
 */
#include "config.h"

#include "pr-result-common.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmiod/iodmacro.h"
#include "dcmtk/dcmiod/iodreferences.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct SourceGeometry
{
  Uint16 rows = 0, columns = 0;
  OFString position;            /* ImagePositionPatient, as written */
  OFString orientation;
  OFString spacing;
  OFString thickness;
  OFString frame_of_reference;
  Sint32 frames = 1;
};

gboolean
read_geometry (const PrReportImage *image, SourceGeometry &g, GError **error)
{
  DcmFileFormat file;
  OFCondition cond = file.loadFileUntilTag (image->path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect,
                                            DCM_PixelData);
  if (cond.bad ())
    return pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, image->path);
  DcmDataset *ds = file.getDataset ();
  ds->findAndGetUint16 (DCM_Rows, g.rows);
  ds->findAndGetUint16 (DCM_Columns, g.columns);
  ds->findAndGetOFStringArray (DCM_ImagePositionPatient, g.position);
  ds->findAndGetOFStringArray (DCM_ImageOrientationPatient, g.orientation);
  ds->findAndGetOFStringArray (DCM_PixelSpacing, g.spacing);
  ds->findAndGetOFString (DCM_SliceThickness, g.thickness);
  ds->findAndGetOFString (DCM_FrameOfReferenceUID, g.frame_of_reference);
  ds->findAndGetSint32 (DCM_NumberOfFrames, g.frames);
  return TRUE;
}

/* Splits "a\b\c" into its values. */
std::vector<OFString>
values_of (const OFString &text)
{
  std::vector<OFString> out;
  size_t start = 0;
  while (true)
    {
      size_t end = text.find ('\\', start);
      out.push_back (text.substr (start, end == OFString_npos ? OFString_npos : end - start));
      if (end == OFString_npos)
        break;
      start = end + 1;
    }
  return out;
}

/* One frame: the box's slice @z unpacked into a full image of 0/1 bytes. */
std::vector<Uint8>
frame_of (const PrReportRegion *r, guint z, Uint16 columns, Uint16 rows)
{
  std::vector<Uint8> frame ((size_t) columns * rows, 0);
  guint width = r->box[3], height = r->box[4];
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        guint64 bit = ((guint64) z * height + y) * width + x;
        if (r->bits[bit / 8] & (1u << (bit % 8)))
          frame[(size_t) (r->box[1] + y) * columns + (r->box[0] + x)] = 1;
      }
  return frame;
}

} /* namespace */

extern "C" gboolean
pr_result_write_seg (const PrReport *report, const PrResultTarget *target, GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    /* Geometry of every image a mask is on, read once. */
    std::map<std::string, SourceGeometry> geometry;
    std::vector<const PrReportFinding *> masks;
    for (guint i = 0; i < report->findings->len; i++)
      {
        const PrReportFinding *f = (const PrReportFinding *) report->findings->pdata[i];
        if (f->region.shape != PR_REGION_MASK)
          continue;
        masks.push_back (f);
        for (guint z = 0; z < f->region.box[5]; z++)
          {
            const PrReportImage *image = pr_report_find_image (report, f->region.slice_sop_instance_uids[z]);
            if (image == NULL)
              {
                g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "mask of finding %u: image %s unknown",
                             f->number, f->region.slice_sop_instance_uids[z]);
                return FALSE;
              }
            if (geometry.count (image->sop_instance_uid) == 0 &&
                !read_geometry (image, geometry[image->sop_instance_uid], error))
              return FALSE;
          }
      }
    if (masks.empty ())
      {
        g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "no finding has a mask");
        return FALSE;
      }
    const SourceGeometry &first = geometry[masks[0]->region.slice_sop_instance_uids[0]];
    if (first.orientation.empty () || first.position.empty () || first.spacing.empty ())
      {
        g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                             "the masked images have no patient geometry (position, orientation, spacing)");
        return FALSE;
      }

    IODGeneralEquipmentModule::EquipmentInfo equipment ("preread", "preread DICOM AI gateway", "0", PACKAGE_VERSION);
    ContentIdentificationMacro content ("1", "AI_SEGMENTATION", pr_result::disclaimer (report).c_str (), "preread^gateway");
    DcmSegmentation *raw = NULL;
    OFCondition cond = DcmSegmentation::createBinarySegmentation (raw, first.rows, first.columns, equipment, content);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "creating the segmentation");
    std::unique_ptr<DcmSegmentation> seg (raw);

    DcmFileFormat source;
    if (!pr_result::load_source (report, source, error))
      return FALSE;
    cond = seg->importFromSourceImage (*source.getDataset (), OFTrue);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "taking over the study");
    seg->getFrameOfReference ().setFrameOfReferenceUID (first.frame_of_reference);

    FGPixelMeasures measures;
    measures.setPixelSpacing (first.spacing);
    if (!first.thickness.empty ())
      measures.setSliceThickness (first.thickness);
    std::vector<OFString> iop = values_of (first.orientation);
    FGPlaneOrientationPatient orientation;
    if (iop.size () == 6)
      orientation.setImageOrientationPatient (iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]);
    seg->addForAllFrames (measures);
    seg->addForAllFrames (orientation);

    std::string dimensions = pr_result::derive_uid (report, "seg-dimensions");
    seg->getDimensions ().addDimensionIndex (DCM_ReferencedSegmentNumber, dimensions.c_str (),
                                             DCM_SegmentIdentificationSequence, "Segment");
    seg->getDimensions ().addDimensionIndex (DCM_ImagePositionPatient, dimensions.c_str (),
                                             DCM_PlanePositionSequence, "Position");

    OFString study, patient;
    source.getDataset ()->findAndGetOFString (DCM_StudyInstanceUID, study);
    source.getDataset ()->findAndGetOFString (DCM_PatientID, patient);
    IODReferences references; /* every source image, for the common instance reference */
    std::map<std::string, bool> referenced;
    Uint16 number = 0;
    for (const PrReportFinding *f : masks)
      {
        const PrReportRegion *r = &f->region;
        const SourceGeometry &g0 = geometry[r->slice_sop_instance_uids[0]];
        if (g0.rows != first.rows || g0.columns != first.columns || g0.frames > 1)
          {
            g_warning ("segmentation: the mask of finding %u is left out (its images are %ux%u%s)", f->number,
                       g0.columns, g0.rows, g0.frames > 1 ? ", multi-frame" : "");
            continue;
          }
        DcmSegment *segment = NULL;
        CodeSequenceMacro category ("49755003", "SCT", "Morphologically Abnormal Structure");
        CodeSequenceMacro type (f->type.value, f->type.scheme, f->type.meaning);
        std::string label = std::to_string (f->number) + " " + (f->type.meaning ? f->type.meaning : "finding");
        cond = DcmSegment::create (segment, label.substr (0, 64).c_str (), category, type, DcmSegTypes::SAT_AUTOMATIC,
                                   report->algorithm_name ? report->algorithm_name : "analyzer");
        if (cond.bad ())
          return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "making a segment");
        segment->setTrackingID (f->tracking_id, OFFalse);
        segment->setTrackingUID (f->tracking_uid, OFFalse);
        cond = seg->addSegment (segment, number);
        if (cond.bad ())
          {
            delete segment;
            return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "adding a segment");
          }
        for (guint z = 0; z < r->box[5]; z++)
          {
            const PrReportImage *image = pr_report_find_image (report, r->slice_sop_instance_uids[z]);
            const SourceGeometry &g = geometry[image->sop_instance_uid];
            if (!referenced[image->sop_instance_uid])
              {
                referenced[image->sop_instance_uid] = true;
                references.add (new IODImageReference (patient, study, image->series_instance_uid,
                                                       image->sop_instance_uid, image->sop_class_uid));
              }
            std::vector<OFString> ipp = values_of (g.position);
            FGPlanePosPatient position;
            if (ipp.size () == 3)
              position.setImagePositionPatient (ipp[0], ipp[1], ipp[2]);
            FGFrameContent frame_content;
            frame_content.setDimensionIndexValues (number, 0);
            frame_content.setDimensionIndexValues (z + 1, 1);
            OFVector<ImageSOPInstanceReferenceMacro> derived (1);
            derived[0].setReferencedSOPClassUID (image->sop_class_uid);
            derived[0].setReferencedSOPInstanceUID (image->sop_instance_uid);
            std::unique_ptr<FGDerivationImage> derivation (FGDerivationImage::createMinimal (
              derived, "", CodeSequenceMacro ("113076", "DCM", "Segmentation"),
              CodeSequenceMacro ("121322", "DCM", "Source image for image processing operation")));
            OFVector<FGBase *> per_frame;
            per_frame.push_back (&position);
            per_frame.push_back (&frame_content);
            if (derivation)
              per_frame.push_back (derivation.get ());
            std::vector<Uint8> pixels = frame_of (r, z, first.columns, first.rows);
            cond = seg->addFrame (pixels.data (), number, per_frame);
            if (cond.bad ())
              return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "adding a frame");
          }
      }
    if (number == 0)
      {
        g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "no mask fits one segmentation");
        return FALSE;
      }
    seg->getCommonInstanceReference ().addReferences (references, study);
    seg->getSeries ().setSeriesInstanceUID (target->series_instance_uid);
    seg->getSeries ().setSeriesNumber (std::to_string (target->series_number).c_str ());
    seg->getSOPCommon ().setSOPInstanceUID (target->sop_instance_uid);

    DcmFileFormat file;
    DcmDataset *ds = file.getDataset ();
    cond = seg->writeDataset (*ds);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "writing the segmentation");
    pr_result::copy_patient_and_study (source.getDataset (), ds);
    pr_result::set_identity (ds, report, target, UID_SegmentationStorage, "SEG");
    return pr_result::save (file, target->path, error);
  })
}
