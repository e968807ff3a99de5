/* pr-instance-header.h: what the gateway needs to know about one stored instance.
 *
 * Reads a DICOM Part 10 file up to (not including) its pixel data and keeps
 * the attributes that the index, the router and the worklist use. Strings are
 * UTF-8 (converted from the file's Specific Character Set), trimmed of DICOM
 * padding, and NULL when the attribute is absent or empty.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PrInstanceHeader PrInstanceHeader;

struct _PrInstanceHeader {
  /* identity */
  char *sop_class_uid;
  char *sop_instance_uid;
  char *transfer_syntax_uid;
  char *study_instance_uid;
  char *series_instance_uid;
  char *source_ae_title;           /* file meta (0002,0016): who sent it to us */

  /* patient and study */
  char *patient_id;
  char *patient_name;
  char *patient_birth_date;
  char *patient_sex;
  char *accession_number;
  char *study_date;
  char *study_time;
  char *study_description;
  char *study_id;
  char *referring_physician_name;

  /* series and instance */
  char *modality;
  char *body_part_examined;
  char *series_description;
  char *series_date;
  char *series_time;
  char *protocol_name;
  int series_number;               /* -1 when absent */
  int instance_number;             /* -1 when absent */

  guint64 file_size;               /* bytes on disk, meta header included */

  /*< private >*/
  gpointer priv;
};

/**
 * pr_instance_header_read:
 * @path: a DICOM Part 10 file (a file without meta header is accepted too)
 * @error: set with PR_DICOM_ERROR_PARSE when the file is not readable DICOM
 *
 * Returns: (transfer full): the header; free with pr_instance_header_free().
 */
PrInstanceHeader *pr_instance_header_read (const char *path, GError **error);

/**
 * pr_instance_header_lookup:
 * @header: a header
 * @keyword: a DICOM keyword ("SliceThickness") or a tag ("0018,0050")
 *
 * Any top-level attribute of the data set, as text: numbers as written,
 * multiple values joined by a backslash, UTF-8.
 *
 * Returns: (transfer full) (nullable): the value, or NULL when absent or
 * when @keyword is not a known keyword or tag.
 */
char *pr_instance_header_lookup (const PrInstanceHeader *header, const char *keyword);

/**
 * pr_instance_header_to_json:
 * @header: a header
 * @max_value_bytes: attributes with a longer value are left out
 *
 * The top-level attributes (and small sequences) as DICOM JSON (PS3.18
 * Annex F), without bulk data: binary VRs and values over @max_value_bytes
 * are left out. This is what the index keeps per series so that routes can
 * match on any attribute without reopening files.
 *
 * Returns: (transfer full): a JSON object, UTF-8.
 */
char *pr_instance_header_to_json (const PrInstanceHeader *header, gsize max_value_bytes);

void pr_instance_header_free (PrInstanceHeader *header);

/**
 * pr_instance_content_equal:
 * @path_a: a DICOM file
 * @path_b: another
 * @equal: (out): whether their data sets hold the same elements and values
 *
 * Compares the data sets (not the meta headers) after decoding, so that two
 * encodings of the same content (a sequence of undefined length against one
 * of explicit length, group lengths present or not) count as equal. Reads
 * both files whole: for checks, not for the receive path.
 *
 * Returns: %FALSE with @error when a file cannot be read.
 */
gboolean pr_instance_content_equal (const char *path_a, const char *path_b, gboolean *equal, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrInstanceHeader, pr_instance_header_free)

G_END_DECLS
