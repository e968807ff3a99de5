/* pr-result-common.cc: patient, study, identity and saving for result objects. */
#include "config.h"

#include "pr-result-common.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/ofstd/ofdatime.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace pr_result {

gboolean
load_source (const PrReport *report, DcmFileFormat &source, GError **error)
{
  if (report->images->len == 0)
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "the report names no source image");
      return FALSE;
    }
  const PrReportImage *first = (const PrReportImage *) report->images->pdata[0];
  OFCondition cond = source.loadFileUntilTag (first->path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect,
                                              DCM_PixelData);
  if (cond.bad ())
    return pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, first->path);
  /* Our own text (algorithm names, findings) is UTF-8: the object is too.
   * Values that cannot be converted stay as they were (a garbled name in a
   * result beats no result). */
  if (source.getDataset ()->tagExistsWithValue (DCM_SpecificCharacterSet))
    {
      OFCondition conv = source.convertToUTF8 ();
      if (conv.bad ())
        g_debug ("results: character set conversion failed, values copied as they are: %s", conv.text ());
    }
  return TRUE;
}

/* Type 2 in the target: present even when the source lacks them. */
static const DcmTagKey copied_type2[] = {
  DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate, DCM_StudyTime,
  DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber,
};

/* Copied when present. */
static const DcmTagKey copied_optional[] = {
  DCM_IssuerOfPatientID, DCM_PatientBirthTime, DCM_OtherPatientIDsSequence, DCM_PatientAge, DCM_PatientSize,
  DCM_PatientWeight, DCM_StudyDescription, DCM_IssuerOfAccessionNumberSequence, DCM_ProcedureCodeSequence,
  DCM_PatientIdentityRemoved, DCM_DeidentificationMethod,
};

void
copy_patient_and_study (DcmItem *source, DcmItem *target)
{
  target->putAndInsertString (DCM_SpecificCharacterSet, "ISO_IR 192");
  for (const DcmTagKey &key : copied_type2)
    {
      DcmElement *element = NULL;
      if (source->findAndGetElement (key, element, OFFalse, OFTrue /* copy */).good () && element != NULL)
        target->insert (element, OFTrue);
      else
        target->insertEmptyElement (key);
    }
  for (const DcmTagKey &key : copied_optional)
    {
      DcmElement *element = NULL;
      if (source->findAndGetElement (key, element, OFFalse, OFTrue).good () && element != NULL)
        target->insert (element, OFTrue);
    }
  DcmElement *study_uid = NULL;
  if (source->findAndGetElement (DCM_StudyInstanceUID, study_uid, OFFalse, OFTrue).good () && study_uid != NULL)
    target->insert (study_uid, OFTrue);
}

void
copy_laterality (DcmItem *source, DcmItem *target)
{
  OFString laterality;
  source->findAndGetOFString (DCM_Laterality, laterality);
  target->putAndInsertString (DCM_Laterality, laterality.c_str ());
}

std::string
derive_uid (const PrReport *report, const std::string &part)
{
  char *uid = pr_dicom_uid_derive (report->uid_seed ? report->uid_seed : "", part.c_str ());
  std::string result (uid);
  g_free (uid);
  return result;
}

static void
add_equipment_item (DcmSequenceOfItems *sequence, const char *manufacturer, const char *model, const char *version,
                    const char *description)
{
  DcmItem *item = new DcmItem ();
  item->putAndInsertString (DCM_Manufacturer, manufacturer ? manufacturer : "");
  item->putAndInsertString (DCM_ManufacturerModelName, model);
  item->putAndInsertString (DCM_SoftwareVersions, version);
  item->putAndInsertString (DCM_ContributionDescription, description);
  DcmItem *purpose = NULL;
  if (item->findOrCreateSequenceItem (DCM_PurposeOfReferenceCodeSequence, purpose, 0).good ())
    {
      purpose->putAndInsertString (DCM_CodeValue, "109102");
      purpose->putAndInsertString (DCM_CodingSchemeDesignator, "DCM");
      purpose->putAndInsertString (DCM_CodeMeaning, "Processing Equipment");
    }
  sequence->append (item);
}

void
set_identity (DcmItem *target, const PrReport *report, const PrResultTarget *where, const char *sop_class_uid,
              const char *modality)
{
  OFDateTime now = OFDateTime::getCurrentDateTime ();
  OFString date, time;
  now.getDate ().getISOFormattedDate (date, OFFalse);
  now.getTime ().getISOFormattedTime (time, OFTrue, OFFalse, OFFalse, OFFalse);

  target->putAndInsertString (DCM_SOPClassUID, sop_class_uid);
  target->putAndInsertString (DCM_SOPInstanceUID, where->sop_instance_uid);
  target->putAndInsertString (DCM_InstanceCreationDate, date.c_str ());
  target->putAndInsertString (DCM_InstanceCreationTime, time.c_str ());
  target->putAndInsertString (DCM_Modality, modality);
  target->putAndInsertString (DCM_SeriesInstanceUID, where->series_instance_uid);
  char number[16];
  g_snprintf (number, sizeof number, "%d", where->series_number);
  target->putAndInsertString (DCM_SeriesNumber, number);
  g_snprintf (number, sizeof number, "%d", MAX (1, where->instance_number));
  target->putAndInsertString (DCM_InstanceNumber, number);
  if (where->series_description != NULL)
    target->putAndInsertString (DCM_SeriesDescription, where->series_description);
  target->putAndInsertString (DCM_SeriesDate, date.c_str ());
  target->putAndInsertString (DCM_SeriesTime, time.c_str ());
  target->putAndInsertString (DCM_ContentDate, date.c_str ());
  target->putAndInsertString (DCM_ContentTime, time.c_str ());

  /* General equipment: this gateway made the object... */
  target->putAndInsertString (DCM_Manufacturer, "preread");
  target->putAndInsertString (DCM_ManufacturerModelName, "preread DICOM AI gateway");
  std::string versions = std::string ("preread ") + PACKAGE_VERSION;
  target->putAndInsertString (DCM_SoftwareVersions, versions.c_str ());
  /* ...from what the algorithm found. */
  DcmSequenceOfItems *contributing = new DcmSequenceOfItems (DCM_ContributingEquipmentSequence);
  std::string algorithm = std::string (report->algorithm_name ? report->algorithm_name : "analyzer");
  add_equipment_item (contributing, report->algorithm_vendor, algorithm.c_str (),
                      report->algorithm_version ? report->algorithm_version : "",
                      "AI algorithm that produced the findings");
  add_equipment_item (contributing, "preread", "preread DICOM AI gateway", PACKAGE_VERSION,
                      "Encoded the findings as DICOM");
  target->insert (contributing, OFTrue);
}

gboolean
save (DcmFileFormat &file, const char *path, GError **error)
{
  std::string temporary = std::string (path) + ".partial";
  OFCondition cond = file.saveFile (temporary.c_str (), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL,
                                    EPD_noChange, 0, 0, EWM_createNewMeta);
  if (cond.bad ())
    {
      unlink (temporary.c_str ());
      return pr_set_error_from_condition (error, PR_DICOM_ERROR_FAILED, cond, path);
    }
  int fd = open (temporary.c_str (), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fdatasync (fd) != 0 || rename (temporary.c_str (), path) != 0)
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      unlink (temporary.c_str ());
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot write %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

std::string
disclaimer (const PrReport *report)
{
  std::string text = "AI result, not for primary diagnosis (";
  text += report->algorithm_name ? report->algorithm_name : "analyzer";
  if (report->algorithm_version)
    {
      text += " ";
      text += report->algorithm_version;
    }
  text += ")";
  return text;
}

const char *
ucum_meaning (const char *unit)
{
  static const struct {
    const char *code, *meaning;
  } units[] = {
    { "mm", "millimeter" },      { "cm", "centimeter" },        { "mm2", "square millimeter" },
    { "cm2", "square centimeter" }, { "mm3", "cubic millimeter" }, { "cm3", "cubic centimeter" },
    { "ml", "milliliter" },      { "[hnsf'U]", "Hounsfield unit" }, { "%", "Percent" },
    { "1", "no units" },         { "{ratio}", "ratio" },        { "s", "second" },
    { "ms", "millisecond" },     { "deg", "degree" },           { "{pixels}", "pixels" },
  };
  for (const auto &u : units)
    if (strcmp (u.code, unit) == 0)
      return u.meaning;
  return unit; /* UCUM codes are their own meaning when nothing better is known */
}

} /* namespace pr_result */
