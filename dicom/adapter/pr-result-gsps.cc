/* pr-result-gsps.cc: the findings as a toggleable presentation state.
 *
 * dcmpstat makes the presentation state's skeleton from the first image
 * (references, displayed area, the image's own VOI window, presentation
 * LUT); the graphic layer "AI" and its annotations, one item per image (and
 * frame), are written here: outlines as graphic objects in image pixels,
 * each finding's label as a text object beside it. A viewer shows or hides
 * the layer; the image itself is untouched.
 */
#include "config.h"

#include "pr-result-common.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcvrfl.h"
#include "dcmtk/dcmpstat/dcmpstat.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#define LAYER "AI"

namespace {

typedef std::pair<std::string, guint> ImageFrame; /* SOP Instance UID, frame */

bool
is_2d (const PrReportFinding *f)
{
  return f->region.shape >= PR_REGION_POINT && f->region.shape <= PR_REGION_ELLIPSE;
}

/* "1 Nodule 8 mm (87%)": what the label says. */
std::string
label_of (const PrReportFinding *f)
{
  std::string label = std::to_string (f->number) + " " + (f->type.meaning ? f->type.meaning : "finding");
  if (f->measurements->len > 0)
    {
      const PrReportMeasurement *m = &g_array_index (f->measurements, PrReportMeasurement, 0);
      char value[64];
      g_snprintf (value, sizeof value, std::fabs (m->value) >= 1000 ? " %.0f %s" : " %.4g %s", m->value,
                  strcmp (m->unit, "1") == 0 ? "" : m->unit);
      label += value;
    }
  if (f->confidence >= 0)
    label += " (" + std::to_string ((int) std::lround (f->confidence * 100)) + "%)";
  return label;
}

void
add_graphic (DcmItem *annotation, const PrReportRegion *r)
{
  DcmItem *graphic = new DcmItem ();
  graphic->putAndInsertString (DCM_GraphicAnnotationUnits, "PIXEL");
  graphic->putAndInsertUint16 (DCM_GraphicDimensions, 2);
  std::vector<Float32> data (r->points, r->points + 2 * r->n_points);
  const char *type = "POLYLINE";
  switch (r->shape)
    {
    case PR_REGION_POINT: type = "POINT"; break;
    case PR_REGION_CIRCLE: type = "CIRCLE"; break;
    case PR_REGION_ELLIPSE: type = "ELLIPSE"; break;
    case PR_REGION_POLYGON: /* closed: the first point again */
      data.push_back (r->points[0]);
      data.push_back (r->points[1]);
      break;
    default: break;
    }
  graphic->putAndInsertUint16 (DCM_NumberOfGraphicPoints, (Uint16) (data.size () / 2));
  graphic->putAndInsertFloat32Array (DCM_GraphicData, data.data (), (unsigned long) data.size ());
  graphic->putAndInsertString (DCM_GraphicType, type);
  graphic->putAndInsertString (DCM_GraphicFilled, "N");
  annotation->insertSequenceItem (DCM_GraphicObjectSequence, graphic);
}

/* The label in a box just below the region's bounds, kept inside the image. */
void
add_label (DcmItem *annotation, const PrReportFinding *f, Uint16 columns, Uint16 rows)
{
  const PrReportRegion *r = &f->region;
  float left = r->points[0], right = r->points[0], bottom = r->points[1];
  for (guint i = 0; i < r->n_points; i++)
    {
      left = std::min (left, r->points[2 * i]);
      right = std::max (right, r->points[2 * i]);
      bottom = std::max (bottom, r->points[2 * i + 1]);
    }
  if (r->shape == PR_REGION_CIRCLE) /* the points are the centre and one on the rim */
    {
      float radius = std::hypot (r->points[2] - r->points[0], r->points[3] - r->points[1]);
      left = r->points[0] - radius;
      bottom = r->points[1] + radius;
    }
  float height = std::max (8.0f, rows / 24.0f);
  float width = std::max (40.0f, columns / 4.0f);
  float top = std::min (bottom + 2, (float) rows - height);
  left = std::max (0.0f, std::min (left, (float) columns - width));
  DcmItem *text = new DcmItem ();
  text->putAndInsertString (DCM_BoundingBoxAnnotationUnits, "PIXEL");
  text->putAndInsertString (DCM_UnformattedTextValue, label_of (f).c_str ());
  Float32 tl[2] = { left, std::max (0.0f, top) }, br[2] = { left + width, std::max (0.0f, top) + height };
  text->putAndInsertFloat32Array (DCM_BoundingBoxTopLeftHandCorner, tl, 2);
  text->putAndInsertFloat32Array (DCM_BoundingBoxBottomRightHandCorner, br, 2);
  text->putAndInsertString (DCM_BoundingBoxTextHorizontalJustification, "LEFT");
  annotation->insertSequenceItem (DCM_TextObjectSequence, text);
}

void
add_layer (DcmItem *ds)
{
  DcmItem *layer = new DcmItem ();
  layer->putAndInsertString (DCM_GraphicLayer, LAYER);
  layer->putAndInsertString (DCM_GraphicLayerOrder, "1");
  /* Yellow, as on the key images (CIELab L* 84, a* 2, b* 86, scaled as
   * PS3.3 C.10.7.1.1 says); grey displays get a light grey. */
  Uint16 lab[3] = { 55049, 33410, 54998 };
  layer->putAndInsertUint16Array (DCM_GraphicLayerRecommendedDisplayCIELabValue, lab, 3);
  layer->putAndInsertUint16 (DCM_GraphicLayerRecommendedDisplayGrayscaleValue, 0xdddd);
  layer->putAndInsertString (DCM_GraphicLayerDescription, "AI findings (not for primary diagnosis)");
  ds->findAndDeleteElement (DCM_GraphicLayerSequence);
  ds->insertSequenceItem (DCM_GraphicLayerSequence, layer);
}

} /* namespace */

extern "C" gboolean
pr_result_write_gsps (const PrReport *report, const PrResultTarget *target, GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    /* The images with 2D regions, in the report's order. */
    std::vector<const PrReportImage *> images;
    std::map<ImageFrame, std::vector<const PrReportFinding *>> on_image;
    for (guint i = 0; i < report->findings->len; i++)
      {
        const PrReportFinding *f = (const PrReportFinding *) report->findings->pdata[i];
        const PrReportImage *image = is_2d (f) ? pr_report_find_image (report, f->region.sop_instance_uid) : NULL;
        if (image == NULL)
          continue;
        if (std::find (images.begin (), images.end (), image) == images.end ())
          images.push_back (image);
        on_image[ImageFrame (image->sop_instance_uid, f->region.frame)].push_back (f);
      }
    if (images.empty ())
      {
        g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "no finding has a region on an image");
        return FALSE;
      }

    DcmPresentationState state;
    std::map<std::string, std::pair<Uint16, Uint16>> sizes;
    for (size_t i = 0; i < images.size (); i++)
      {
        DcmFileFormat file;
        OFCondition cond = file.loadFileUntilTag (images[i]->path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect,
                                                  DCM_PixelData);
        if (cond.bad ())
          return pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, images[i]->path);
        DcmDataset *ds = file.getDataset ();
        OFString photometric;
        ds->findAndGetOFString (DCM_PhotometricInterpretation, photometric);
        if (photometric != "MONOCHROME1" && photometric != "MONOCHROME2")
          {
            g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_NOT_APPLICABLE,
                         "%s is a %s image: a grayscale presentation state does not apply", images[i]->path,
                         photometric.c_str ());
            return FALSE;
          }
        Uint16 rows = 0, columns = 0;
        ds->findAndGetUint16 (DCM_Rows, rows);
        ds->findAndGetUint16 (DCM_Columns, columns);
        sizes[images[i]->sop_instance_uid] = std::make_pair (columns, rows);
        cond = i == 0 ? state.createFromImage (*ds, DVPSO_ignoreOverlays, DVPSV_preferVOIWindow, OFFalse, OFFalse,
                                               OFTrue, DVPSG_oneLayer)
                      : state.addImageReference (*ds);
        if (cond.bad ())
          return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "making the presentation state");
      }
    state.setPresentationLabel ("AI_FINDINGS");
    std::string description = pr_result::disclaimer (report);
    state.setPresentationDescription (description.c_str ());
    state.setPresentationCreatorsName ("preread^gateway");

    DcmFileFormat out;
    DcmDataset *ds = out.getDataset ();
    OFCondition cond = state.write (*ds, OFFalse);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "writing the presentation state");
    add_layer (ds);
    ds->findAndDeleteElement (DCM_GraphicAnnotationSequence);
    for (const auto &entry : on_image)
      {
        const PrReportImage *image = pr_report_find_image (report, entry.first.first.c_str ());
        DcmItem *annotation = new DcmItem ();
        DcmItem *reference = new DcmItem ();
        reference->putAndInsertString (DCM_ReferencedSOPClassUID, image->sop_class_uid);
        reference->putAndInsertString (DCM_ReferencedSOPInstanceUID, image->sop_instance_uid);
        if (entry.first.second > 0)
          reference->putAndInsertString (DCM_ReferencedFrameNumber, std::to_string (entry.first.second).c_str ());
        annotation->insertSequenceItem (DCM_ReferencedImageSequence, reference);
        annotation->putAndInsertString (DCM_GraphicLayer, LAYER);
        const std::pair<Uint16, Uint16> &size = sizes[image->sop_instance_uid];
        for (const PrReportFinding *f : entry.second)
          {
            add_graphic (annotation, &f->region);
            add_label (annotation, f, size.first, size.second);
          }
        ds->insertSequenceItem (DCM_GraphicAnnotationSequence, annotation, -2 /* append */);
      }

    DcmFileFormat source;
    if (!pr_result::load_source (report, source, error))
      return FALSE;
    pr_result::copy_patient_and_study (source.getDataset (), ds);
    pr_result::set_identity (ds, report, target, UID_GrayscaleSoftcopyPresentationStateStorage, "PR");
    pr_result::copy_laterality (source.getDataset (), ds);
    /* A presentation state has its creation date and time, no content date. */
    ds->findAndDeleteElement (DCM_ContentDate);
    ds->findAndDeleteElement (DCM_ContentTime);
    return pr_result::save (out, target->path, error);
  })
}
