/* pr-photo.h: a clinical photograph as DICOM VL Photographic Image.
 *
 * Dermatology photos come from phones and cameras as JPEG or PNG. A JPEG is
 * kept as it is: its compressed stream becomes the pixel data (JPEG Baseline
 * or Extended transfer syntax), so no second lossy step touches the image
 * the analyzer and the dermatologist look at. Its APPn and COM markers are
 * left out, which drops EXIF with the phone's GPS position and owner name.
 * A PNG is decoded and stored uncompressed (RGB). The format is told by the
 * file's first bytes, never by its name.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *patient_id;        /* required */
  const char *patient_name;      /* (nullable) DICOM person name, "Family^Given" */
  const char *patient_birth_date;/* (nullable) YYYYMMDD */
  const char *patient_sex;       /* (nullable) M, F or O */
  const char *body_site;         /* (nullable) free text: "left forearm" */
  const char *accession_number;  /* (nullable) */
  const char *study_description; /* (nullable) "Dermatology photo" when NULL */
  const char *study_uid;         /* (nullable) a new study when NULL */
  const char *series_uid;        /* (nullable) a new series when NULL */
  const char *operator_name;     /* (nullable) who took or uploaded it */
  guint instance_number;         /* 1 for the first photo of the series */
} PrPhotoFacts;

typedef enum {
  PR_PHOTO_FORMAT_UNKNOWN,
  PR_PHOTO_FORMAT_JPEG,
  PR_PHOTO_FORMAT_PNG,
} PrPhotoFormat;

/* Whether every fact fits its DICOM value representation (PR_DICOM_ERROR_INVALID says which does not). */
gboolean pr_photo_check_facts (const PrPhotoFacts *facts, GError **error);

/* The format from the first bytes of a file (at least 8 of them). */
PrPhotoFormat pr_photo_sniff (const guint8 *head, gsize length);

/**
 * pr_photo_wrap:
 * @image_path: a JPEG or PNG file
 * @facts: who and where; every string is checked against its DICOM value
 *   representation, and a bad one is an error, not a silent truncation
 * @output_path: the DICOM Part 10 file to write
 * @sop_instance_uid: (out) (optional) (transfer full): the new instance's UID
 *
 * Returns: FALSE with @error for an unreadable, unsupported (progressive
 * or 12-bit JPEG, animated or 16-bit PNG is read as 8-bit) or over-large
 * image (more than 65535 pixels a side), or a bad fact.
 */
gboolean pr_photo_wrap (const char *image_path, const PrPhotoFacts *facts, const char *output_path,
                        char **sop_instance_uid, GError **error);

/* A body site's coded anatomic region, when the text names one we know
 * ("left forearm" -> SCT 14975008 Forearm). NULLs when none matches. */
typedef struct {
  const char *keyword;           /* what the text must contain */
  const char *code;              /* SNOMED CT */
  const char *meaning;
  const char *body_part;         /* (nullable) Body Part Examined (CS): the nearest defined term */
} PrBodySite;

const PrBodySite *pr_photo_body_site (const char *text);

/* "L", "R" or NULL from a body site text ("left forearm" -> "L"). */
const char *pr_photo_laterality (const char *text);

G_END_DECLS
