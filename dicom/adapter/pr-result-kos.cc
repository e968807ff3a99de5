/* pr-result-kos.cc: key object selection naming the key images (TID 2010). */
#include "config.h"

#include "pr-result-common.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmsr/codes/dcm.h"
#include "dcmtk/dcmsr/dsrdoc.h"

extern "C" gboolean
pr_result_write_kos (const PrReport *report, const PrResultTarget *target, const PrResultReference *keys,
                     guint n_keys, const char *description, GError **error)
{
  if (n_keys == 0)
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "no key images to select");
      return FALSE;
    }
  PR_DCMTK_GUARD (error, FALSE, {
    DcmFileFormat source;
    if (!pr_result::load_source (report, source, error))
      return FALSE;
    DcmItem *src = source.getDataset ();
    OFString study;
    src->findAndGetOFString (DCM_StudyInstanceUID, study);

    DSRDocument doc (DSRTypes::DT_KeyObjectSelectionDocument);
    DSRDocumentTree &tree = doc.getTree ();
    OFCondition cond = EC_Normal;
    tree.addContentItem (DSRTypes::RT_isRoot, DSRTypes::VT_Container);
    cond = tree.getCurrentContentItem ().setConceptName (CODE_DCM_OfInterest);
    /* dcmsr does not write the root template for key object selections: say it. */
    if (cond.good ())
      cond = tree.getCurrentContentItem ().setTemplateIdentification ("2010", "DCMR");
    std::string text = description ? std::string (description) + " - " : std::string ();
    text += pr_result::disclaimer (report);
    if (cond.good () && tree.addChildContentItem (DSRTypes::RT_contains, DSRTypes::VT_Text,
                                                  CODE_DCM_KeyObjectDescription)
                          .good ())
      cond = tree.getCurrentContentItem ().setStringValue (text.c_str (), OFFalse);
    for (guint i = 0; cond.good () && i < n_keys; i++)
      {
        /* After the description, on the same level: under the root. */
        if (tree.addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Image) == 0)
          cond = EC_IllegalCall;
        if (cond.good ())
          cond = tree.getCurrentContentItem ().setImageReference (
            DSRImageReferenceValue (keys[i].sop_class_uid, keys[i].sop_instance_uid, OFFalse), OFFalse);
        if (cond.good ())
          doc.getCurrentRequestedProcedureEvidence ().addItem (study, keys[i].series_instance_uid,
                                                               keys[i].sop_class_uid, keys[i].sop_instance_uid);
      }
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "making the key object selection");

    DcmFileFormat file;
    DcmDataset *ds = file.getDataset ();
    cond = doc.write (*ds);
    if (cond.bad ())
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, "writing the key object selection");
    pr_result::copy_patient_and_study (src, ds);
    pr_result::set_identity (ds, report, target, UID_KeyObjectSelectionDocumentStorage, "KO");
    return pr_result::save (file, target->path, error);
  })
}
