/* pr-dicom.h: the DICOM layer's error domain and process-wide setup.
 *
 * Everything under dicom/ is reached through plain C headers like this one.
 * DCMTK is C++; its types, exceptions and OFCondition values stop at the
 * adapter (dicom/adapter/) and come out as GError in PR_DICOM_ERROR.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_DICOM_ERROR (pr_dicom_error_quark ())

typedef enum {
  PR_DICOM_ERROR_FAILED,      /* DCMTK failed in a way we have no better code for */
  PR_DICOM_ERROR_PARSE,       /* the bytes are not readable DICOM */
  PR_DICOM_ERROR_INVALID,     /* readable, but a required attribute is missing or malformed */
  PR_DICOM_ERROR_NETWORK,     /* connection, PDU or DIMSE failure */
  PR_DICOM_ERROR_REJECTED,    /* the peer rejected our association for good */
  PR_DICOM_ERROR_BUSY,        /* the peer rejected our association for now (transient) */
  PR_DICOM_ERROR_TIMEOUT,     /* the peer stopped answering */
  PR_DICOM_ERROR_IO,          /* reading or writing a local file failed */
  PR_DICOM_ERROR_NOT_APPLICABLE, /* this kind of object does not fit these images (a grayscale state on colour) */
} PrDicomError;

GQuark pr_dicom_error_quark (void);

/**
 * pr_dicom_init:
 *
 * Prepares DCMTK for this process. Call once, from the main thread, before
 * any other pr_dicom_* / pr_association_* / pr_store_client_* call:
 * - routes DCMTK's own log output into g_log (domain "preread-dcmtk"),
 *   at warning level unless PREREAD_DCMTK_LOG=debug|info|trace is set;
 * - disables Nagle's algorithm on every association DCMTK opens or accepts
 *   (Debian's DCMTK 3.6.7 leaves it on, which costs ~40 ms per C-STORE);
 * - turns off reverse DNS lookups of peers (slow, and a name is not proof);
 * - bounds the size of an incoming A-ASSOCIATE PDU.
 *
 * Returns: %FALSE with @error set when the DICOM data dictionary is missing.
 */
gboolean pr_dicom_init (GError **error);

/**
 * pr_dicom_uid_is_valid:
 * @uid: (nullable): a UID as found on the wire, without padding
 *
 * Returns: %TRUE when @uid is a syntactically valid DICOM UID (PS3.5 9.1):
 * 1 to 64 characters, components of digits separated by single dots. Leading
 * zeros are tolerated because real equipment emits them.
 */
gboolean pr_dicom_uid_is_valid (const char *uid);

/**
 * pr_dicom_uid_is_acceptable:
 * @uid: (nullable): a UID as found on the wire, without padding
 *
 * What the receiver accepts as an identifier: every valid UID, and the
 * non-conformant ones old equipment still sends ("REMSAMPLES1", components
 * with letters) as long as they are harmless: 1 to 64 characters from
 * [0-9A-Za-z._-], not only dots. Identifiers never become file names
 * anyway; this keeps control characters, path separators and "..", which
 * no real device sends, out of the index and the logs.
 */
gboolean pr_dicom_uid_is_acceptable (const char *uid);

/**
 * pr_dicom_uid_derive:
 * @seed: what identifies the thing made (e.g. an installation, a job and an attempt)
 * @part: which of its UIDs ("sr-series", "sr-instance", "finding 3")
 *
 * A UID under the 2.25 arc (PS3.5 B.2) derived from @seed and @part: the
 * same arguments give the same UID, different ones practically never do.
 *
 * Returns: (transfer full): the UID, at most 44 characters.
 */
char *pr_dicom_uid_derive (const char *seed, const char *part);

/**
 * pr_dicom_is_storage_sop_class:
 * Returns: %TRUE when @uid is a storage SOP class this DCMTK knows.
 */
gboolean pr_dicom_is_storage_sop_class (const char *uid);

/**
 * pr_dicom_is_known_transfer_syntax:
 * Returns: %TRUE when this DCMTK can name (and so parse) @uid.
 */
gboolean pr_dicom_is_known_transfer_syntax (const char *uid);

/**
 * pr_dicom_attribute_to_tag:
 * @name: a DICOM keyword ("SliceThickness") or a tag ("0018,0050")
 * @tag: (out) (optional): group << 16 | element
 *
 * Returns: %TRUE when @name is a keyword in the data dictionary or a
 * well-formed tag.
 */
gboolean pr_dicom_attribute_to_tag (const char *name, guint32 *tag);

/**
 * pr_dicom_ae_title_is_valid:
 * @ae: (nullable): an AE title
 *
 * Returns: %TRUE when @ae is a valid AE title (PS3.5 VR AE): 1 to 16
 * printable ASCII characters, not all spaces, no backslash.
 */
gboolean pr_dicom_ae_title_is_valid (const char *ae);

/**
 * pr_dicom_uid_name:
 * @uid: a SOP class or transfer syntax UID
 *
 * Returns: (transfer none): DCMTK's name for @uid, or @uid itself.
 */
const char *pr_dicom_uid_name (const char *uid);

G_END_DECLS
