/* pr-result-common.h: what every result object shares (internal to the adapter).
 *
 * Each result object is a new instance in the source study: the same
 * patient and study attributes, a new series from a derived UID, the
 * gateway and the algorithm named as equipment, text in UTF-8.
 */
#pragma once

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcfilefo.h"

#include <string>

#include "pr-dcmtk-glue.h"
#include "../pr-report.h"
#include "../pr-result-objects.h"

namespace pr_result {

/* The first image's header (no pixel data), converted to UTF-8. */
gboolean load_source (const PrReport *report, DcmFileFormat &source, GError **error);

/* Patient, study and patient-study attributes, copied from @source; the
 * character set becomes ISO_IR 192 (the values were converted). */
void copy_patient_and_study (DcmItem *source, DcmItem *target);

/* SOP common, general series (modality), equipment, content date and time,
 * and the contributing equipment (this gateway, and the algorithm). */
void set_identity (DcmItem *target, const PrReport *report, const PrResultTarget *where, const char *sop_class_uid,
                   const char *modality);

/* General Series' Laterality (Type 2C): the source's, or empty. */
void copy_laterality (DcmItem *source, DcmItem *target);

/* A UID derived from the report's seed. */
std::string derive_uid (const PrReport *report, const std::string &part);

/* Writes @file to @path (explicit VR little endian) through a temporary
 * name, synced, then renamed: a half-written object never exists. */
gboolean save (DcmFileFormat &file, const char *path, GError **error);

/* "AI result, not for primary diagnosis (NAME VERSION)": said on every object. */
std::string disclaimer (const PrReport *report);

/* The meaning of common UCUM units, for coded units in SR. */
const char *ucum_meaning (const char *unit);

} /* namespace pr_result */
