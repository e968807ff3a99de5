/* pr-result-sr.cc: the TID 1500 measurement report.
 *
 * Built content item by content item with dcmsr's document tree (DCMTK
 * 3.6.7's TID 1500 classes lack TID 1410, the planar ROI groups that carry
 * image regions), in the shape the IHE AI Results profile and highdicom
 * use:
 *
 *   Imaging Measurement Report (TID 1500)
 *     language, observer = the algorithm as a device, procedure reported
 *     Image Library > Image Library Group > every source image
 *     Imaging Measurements
 *       Measurement Group per finding (TID 1410 with a 2D region, 1411 with a
 *       3D region or a segment, 1501 otherwise): tracking identifier and
 *       UID, finding, finding site, region, measurements, certainty,
 *       evaluations, comment
 *     Qualitative Evaluations: impression (the summary), AI priority, the
 *       disclaimer
 */
#include "config.h"

#include "pr-result-common.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmsr/codes/dcm.h"
#include "dcmtk/dcmsr/codes/sct.h"
#include "dcmtk/dcmsr/codes/ucum.h"
#include "dcmtk/dcmsr/codes/umls.h"
#include "dcmtk/dcmsr/dsrdoc.h"

#include <map>
#include <set>
#include <string>

namespace {

/* Adds content items as children, in order, remembering each parent's last child. */
class Builder
{
public:
  explicit Builder (DSRDocumentTree &tree) : tree_ (tree) {}

  size_t
  add (size_t parent, DSRTypes::E_RelationshipType relation, DSRTypes::E_ValueType type,
       const DSRCodedEntryValue &concept)
  {
    size_t last = last_child_[parent];
    tree_.gotoNode (last ? last : parent);
    size_t id = tree_.addContentItem (relation, type, last ? DSRTypes::AM_afterCurrent : DSRTypes::AM_belowCurrent);
    if (id == 0)
      {
        ok_ = false;
        return 0;
      }
    if (concept.isValid ())
      check (tree_.getCurrentContentItem ().setConceptName (concept, OFFalse));
    last_child_[parent] = id;
    return id;
  }

  DSRContentItem &item () { return tree_.getCurrentContentItem (); }
  void check (const OFCondition &cond)
  {
    if (cond.bad () && ok_)
      {
        ok_ = false;
        problem_ = cond.text ();
      }
  }
  bool ok () const { return ok_; }
  const std::string &problem () const { return problem_; }

private:
  DSRDocumentTree &tree_;
  std::map<size_t, size_t> last_child_;
  bool ok_ = true;
  std::string problem_;
};

DSRCodedEntryValue
code_of (const PrCode &code)
{
  return DSRCodedEntryValue (code.value, code.scheme, code.meaning);
}

/* The procedure, from the source modality: CID 100 codes. */
DSRCodedEntryValue
procedure_reported (DcmItem *source)
{
  OFString modality;
  source->findAndGetOFString (DCM_Modality, modality);
  if (modality == "CT")
    return DSRCodedEntryValue ("25045-6", "LN", "CT unspecified body region");
  if (modality == "MR")
    return DSRCodedEntryValue ("25056-3", "LN", "MRI unspecified body region");
  if (modality == "NM")
    return DSRCodedEntryValue ("49118-3", "LN", "NM unspecified body region");
  if (modality == "PT")
    return DSRCodedEntryValue ("44136-0", "LN", "PET unspecified body region");
  return DSRCodedEntryValue ("363679005", "SCT", "Imaging procedure");
}

void
add_text (Builder &b, size_t parent, DSRTypes::E_RelationshipType relation, const DSRCodedEntryValue &concept,
          const char *text)
{
  if (text == NULL || *text == '\0')
    return;
  if (b.add (parent, relation, DSRTypes::VT_Text, concept))
    b.check (b.item ().setStringValue (text, OFFalse));
}

DSRTypes::E_GraphicType
graphic_type (PrRegionShape shape)
{
  switch (shape)
    {
    case PR_REGION_POINT: return DSRTypes::GT_Point;
    case PR_REGION_CIRCLE: return DSRTypes::GT_Circle;
    case PR_REGION_ELLIPSE: return DSRTypes::GT_Ellipse;
    default: return DSRTypes::GT_Polyline;
    }
}

/* SCOORD Image Region, selected from its image (TID 1410). */
void
add_region_2d (Builder &b, size_t group, const PrReport *report, const PrReportRegion *r)
{
  const PrReportImage *image = pr_report_find_image (report, r->sop_instance_uid);
  DSRSpatialCoordinatesValue coordinates (graphic_type (r->shape));
  for (guint i = 0; i < r->n_points; i++)
    coordinates.getGraphicDataList ().addItem (r->points[2 * i], r->points[2 * i + 1]);
  if (r->shape == PR_REGION_POLYGON) /* closed: SCOORD repeats the first point */
    coordinates.getGraphicDataList ().addItem (r->points[0], r->points[1]);
  size_t scoord = b.add (group, DSRTypes::RT_contains, DSRTypes::VT_SCoord, CODE_DCM_ImageRegion);
  if (!scoord)
    return;
  b.check (b.item ().setSpatialCoordinates (coordinates, OFFalse));
  if (b.add (scoord, DSRTypes::RT_selectedFrom, DSRTypes::VT_Image, DSRCodedEntryValue ()))
    {
      DSRImageReferenceValue reference (image->sop_class_uid, image->sop_instance_uid, OFFalse);
      if (r->frame > 0)
        reference.getFrameList ().addItem ((Sint32) r->frame);
      b.check (b.item ().setImageReference (reference, OFFalse));
    }
}

/* SCOORD3D: a volume surface (TID 1411), with the series it is in. */
void
add_region_3d (Builder &b, size_t group, const PrReport *report, const PrReportRegion *r)
{
  DSRSpatialCoordinates3DValue coordinates (r->shape == PR_REGION_POINT_3D ? DSRTypes::GT3_Point
                                                                          : DSRTypes::GT3_Polyline);
  for (guint i = 0; i < r->n_points; i++)
    coordinates.getGraphicDataList ().addItem (r->points[3 * i], r->points[3 * i + 1], r->points[3 * i + 2]);
  if (r->frame_of_reference_uid != NULL)
    coordinates.setFrameOfReferenceUID (r->frame_of_reference_uid, OFFalse);
  if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_SCoord3D, CODE_DCM_VolumeSurface))
    b.check (b.item ().setSpatialCoordinates3D (coordinates, OFFalse));
  const PrReportImage *first = (const PrReportImage *) report->images->pdata[0];
  if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_UIDRef, CODE_DCM_SourceSeriesForSegmentation))
    b.check (b.item ().setStringValue (first->series_instance_uid, OFFalse));
}

/* The segment of the SEG this report's masks are in (TID 1411). */
void
add_segment_reference (Builder &b, size_t group, const PrReport *report, const PrReportRegion *r, guint segment)
{
  std::string seg_uid = pr_result::derive_uid (report, "seg-instance");
  DSRImageReferenceValue reference (UID_SegmentationStorage, seg_uid.c_str (), OFFalse);
  reference.getSegmentList ().addItem ((Uint16) segment);
  if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_Image, CODE_DCM_ReferencedSegment))
    b.check (b.item ().setImageReference (reference, OFFalse));
  const char *series = r->series_instance_uid;
  const PrReportImage *image = r->slice_sop_instance_uids ? pr_report_find_image (report, r->slice_sop_instance_uids[0])
                                                          : NULL;
  if (series == NULL && image != NULL)
    series = image->series_instance_uid;
  if (series != NULL && b.add (group, DSRTypes::RT_contains, DSRTypes::VT_UIDRef,
                               CODE_DCM_SourceSeriesForSegmentation))
    b.check (b.item ().setStringValue (series, OFFalse));
}

void
add_measurement_group (Builder &b, size_t measurements, const PrReport *report, const PrReportFinding *f,
                       guint *segment)
{
  size_t group = b.add (measurements, DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_MeasurementGroup);
  if (!group)
    return;
  const PrReportRegion *r = &f->region;
  const char *template_id = r->shape >= PR_REGION_POINT && r->shape <= PR_REGION_ELLIPSE      ? "1410"
                            : r->shape == PR_REGION_MASK || r->shape >= PR_REGION_POINT_3D ? "1411"
                                                                                           : "1501";
  b.check (b.item ().setTemplateIdentification (template_id, "DCMR", "", OFFalse));
  add_text (b, group, DSRTypes::RT_hasObsContext, CODE_DCM_TrackingIdentifier, f->tracking_id);
  if (b.add (group, DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, CODE_DCM_TrackingUniqueIdentifier))
    b.check (b.item ().setStringValue (f->tracking_uid, OFFalse));
  if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_Code, CODE_DCM_Finding))
    b.check (b.item ().setCodeValue (code_of (f->type), OFFalse));
  if (f->site.scheme != NULL && b.add (group, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_SCT_FindingSite))
    b.check (b.item ().setCodeValue (code_of (f->site), OFFalse));

  if (r->shape >= PR_REGION_POINT && r->shape <= PR_REGION_ELLIPSE && pr_report_find_image (report, r->sop_instance_uid))
    add_region_2d (b, group, report, r);
  else if (r->shape == PR_REGION_POINT_3D || r->shape == PR_REGION_POLYLINE_3D)
    add_region_3d (b, group, report, r);
  else if (r->shape == PR_REGION_MASK)
    add_segment_reference (b, group, report, r, ++*segment);

  for (guint i = 0; i < f->measurements->len; i++)
    {
      const PrReportMeasurement *m = &g_array_index (f->measurements, PrReportMeasurement, i);
      char value[32];
      g_ascii_formatd (value, sizeof value, "%.6g", m->value);
      DSRNumericMeasurementValue number (value, DSRCodedEntryValue (m->unit, "UCUM", pr_result::ucum_meaning (m->unit)),
                                         OFFalse);
      if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_Num, code_of (m->concept)))
        b.check (b.item ().setNumericValue (number, OFFalse));
    }
  if (f->confidence >= 0)
    {
      char value[32];
      g_ascii_formatd (value, sizeof value, "%.4g", f->confidence * 100);
      DSRNumericMeasurementValue certainty (value, DSRCodedEntryValue ("%", "UCUM", "Percent"), OFFalse);
      if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_Num, CODE_DCM_CertaintyOfFinding))
        b.check (b.item ().setNumericValue (certainty, OFFalse));
    }
  for (guint i = 0; i < f->evaluations->len; i++)
    {
      const PrReportEvaluation *e = &g_array_index (f->evaluations, PrReportEvaluation, i);
      if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_Code, code_of (e->concept)))
        b.check (b.item ().setCodeValue (code_of (e->value), OFFalse));
    }
  add_text (b, group, DSRTypes::RT_contains, CODE_DCM_Comment, f->text);
}

void
add_observer (Builder &b, size_t root, const PrReport *report)
{
  if (b.add (root, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_DCM_LanguageOfContentItemAndDescendants))
    b.check (b.item ().setCodeValue (DSRCodedEntryValue ("en-US", "RFC5646", "English (United States)"), OFFalse));
  /* TID 1001/1004: the algorithm is the observer, as a device. */
  if (b.add (root, DSRTypes::RT_hasObsContext, DSRTypes::VT_Code, CODE_DCM_ObserverType))
    b.check (b.item ().setCodeValue (CODE_DCM_Device, OFFalse));
  if (b.add (root, DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, CODE_DCM_DeviceObserverUID))
    b.check (b.item ().setStringValue (report->device_uid, OFFalse));
  add_text (b, root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverName, report->algorithm_name);
  add_text (b, root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverManufacturer, report->algorithm_vendor);
  std::string model = std::string (report->algorithm_name ? report->algorithm_name : "analyzer") + " " +
                      (report->algorithm_version ? report->algorithm_version : "");
  add_text (b, root, DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverModelName, model.c_str ());
}

void
add_image_library (Builder &b, size_t root, const PrReport *report)
{
  size_t library = b.add (root, DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibrary);
  size_t group = library ? b.add (library, DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibraryGroup)
                         : 0;
  for (guint i = 0; group && i < report->images->len; i++)
    {
      const PrReportImage *image = (const PrReportImage *) report->images->pdata[i];
      if (b.add (group, DSRTypes::RT_contains, DSRTypes::VT_Image, DSRCodedEntryValue ()))
        b.check (b.item ().setImageReference (
          DSRImageReferenceValue (image->sop_class_uid, image->sop_instance_uid, OFFalse), OFFalse));
    }
}

void
add_qualitative (Builder &b, size_t root, const PrReport *report)
{
  size_t evaluations = b.add (root, DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_UMLS_QualitativeEvaluations);
  if (!evaluations)
    return;
  add_text (b, evaluations, DSRTypes::RT_contains, CODE_DCM_Impression, report->summary);
  static const char *const names[] = { "routine", "urgent", "critical" };
  static const char *const meanings[] = { "Routine", "Urgent", "Critical" };
  if (b.add (evaluations, DSRTypes::RT_contains, DSRTypes::VT_Code,
             DSRCodedEntryValue ("ai-priority", "99PREREAD", "AI priority")))
    b.check (b.item ().setCodeValue (
      DSRCodedEntryValue (names[report->priority], "99PREREAD", meanings[report->priority]), OFFalse));
  add_text (b, evaluations, DSRTypes::RT_contains, CODE_DCM_Comment, pr_result::disclaimer (report).c_str ());
}

/* Every instance the report references, for the evidence sequence. */
void
add_evidence (DSRDocument &doc, DcmItem *source, const PrReport *report)
{
  OFString study;
  source->findAndGetOFString (DCM_StudyInstanceUID, study);
  for (guint i = 0; i < report->images->len; i++)
    {
      const PrReportImage *image = (const PrReportImage *) report->images->pdata[i];
      doc.getCurrentRequestedProcedureEvidence ().addItem (study, image->series_instance_uid, image->sop_class_uid,
                                                           image->sop_instance_uid);
    }
  if (pr_report_has_masks (report))
    doc.getCurrentRequestedProcedureEvidence ().addItem (study, pr_result::derive_uid (report, "seg-series").c_str (),
                                                         UID_SegmentationStorage,
                                                         pr_result::derive_uid (report, "seg-instance").c_str ());
}

} /* namespace */

extern "C" gboolean
pr_result_write_sr (const PrReport *report, const PrResultTarget *target, GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    DcmFileFormat source;
    if (!pr_result::load_source (report, source, error))
      return FALSE;
    DcmItem *src = source.getDataset ();
    gboolean three_d = pr_report_has_3d_regions (report);
    DSRDocument doc (three_d ? DSRTypes::DT_Comprehensive3DSR : DSRTypes::DT_ComprehensiveSR);
    DSRDocumentTree &tree = doc.getTree ();
    Builder b (tree);
    size_t root = tree.addContentItem (DSRTypes::RT_isRoot, DSRTypes::VT_Container);
    b.check (tree.getCurrentContentItem ().setConceptName (CODE_DCM_ImagingMeasurementReport));
    b.check (tree.getCurrentContentItem ().setTemplateIdentification ("1500", "DCMR"));
    b.check (tree.getCurrentContentItem ().setContinuityOfContent (DSRTypes::COC_Separate));

    add_observer (b, root, report);
    if (b.add (root, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_DCM_ProcedureReported))
      b.check (b.item ().setCodeValue (procedure_reported (src), OFFalse));
    add_image_library (b, root, report);
    if (report->findings->len > 0)
      {
        size_t measurements = b.add (root, DSRTypes::RT_contains, DSRTypes::VT_Container,
                                     CODE_DCM_ImagingMeasurements);
        guint segment = 0;
        for (guint i = 0; measurements && i < report->findings->len; i++)
          add_measurement_group (b, measurements, report, (const PrReportFinding *) report->findings->pdata[i],
                                 &segment);
      }
    add_qualitative (b, root, report);
    if (!b.ok ())
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "the SR content does not validate: %s",
                     b.problem ().c_str ());
        return FALSE;
      }

    doc.setPreliminaryFlag (DSRTypes::PF_Preliminary);
    doc.completeDocument ();
    add_evidence (doc, src, report);

    DcmFileFormat file;
    DcmDataset *ds = file.getDataset ();
    OFCondition cond = doc.write (*ds);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "writing the SR");
    /* The document's own identity and (empty) patient give way to ours. */
    pr_result::copy_patient_and_study (src, ds);
    pr_result::set_identity (ds, report, target,
                             three_d ? UID_Comprehensive3DSRStorage : UID_ComprehensiveSRStorage, "SR");
    return pr_result::save (file, target->path, error);
  })
}
