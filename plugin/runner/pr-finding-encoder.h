/* pr-finding-encoder.h: a module's PrereadFinding, checked and turned into JSON.
 *
 * A module hands the runner C structs full of pointers it owns; the runner
 * copies them at once into the findings document's JSON (plugin/FINDINGS.md),
 * checking everything a result builder will rely on: codes complete, numbers
 * finite, confidence in 0..1, the right number of points for the shape,
 * points inside the referenced image, referenced images part of the job,
 * masks inside their image or volume. A finding that fails a check is
 * refused whole, with a message saying which rule it broke.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "dicom/pr-volume.h"
#include "plugin/preread-analyzer.h"

G_BEGIN_DECLS

/* What the encoder needs to know about the job, answered by the runner. */
typedef struct {
  /* FALSE when @sop_instance_uid is not one of the job's images; else its
   * size and frame count (1 for single-frame images). */
  gboolean (*image_size) (gpointer data, const char *sop_instance_uid, guint *columns, guint *rows, guint *frames);
  /* NULL when @series is out of range. */
  const char *(*series_uid) (gpointer data, int series);
  /* NULL with a reason in @error when the series does not decode. */
  const PrVolume *(*series_volume) (gpointer data, int series, GError **error);
  /* (nullable) FrameOfReferenceUID of the series, for 3D coordinates. */
  const char *(*frame_of_reference) (gpointer data, int series);
  gpointer data;
} PrFindingContext;

/**
 * pr_finding_encode:
 * @finding: as the module filled it; nothing is kept
 *
 * Returns: (transfer full): the finding as a JSON object, or NULL with
 * @error (G_IO_ERROR_INVALID_ARGUMENT) saying what is wrong with it.
 */
JsonNode *pr_finding_encode (const PrereadFinding *finding, const PrFindingContext *context, GError **error);

/* Finite, printable, at most @max_chars characters, one line: what the host
 * keeps of a string from a module. Returns: (transfer full) (nullable). */
char *pr_finding_clean_text (const char *text, gsize max_chars);

G_END_DECLS
