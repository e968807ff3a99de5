/* pr-web-backend.h: the narrow interface through which ui-glue reads and acts on the gateway.
 *
 * ui-glue (HTTP, authentication, the web pages) knows nothing of the index,
 * the configuration's types or DICOM: the gateway core implements this
 * table (gateway/pr-web-backend.c) and hands it over. Reads answer JSON in
 * the shapes ui-glue/API.md documents; actions answer whether they did
 * something, with an error saying why not (G_IO_ERROR_NOT_FOUND when the
 * thing does not exist or is in no state for it).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *text, *modality, *analyzer, *priority, *state, *date_from, *date_to;
  guint limit;
} PrWebWorklistQuery;

/* Called when a key image is ready: @path (transfer none) or @error. */
typedef void (*PrWebImageReady) (const char *path, const GError *error, gpointer user_data);

/* A photo uploaded from the web page (issue: dermatology from a phone). */
typedef struct {
  const char *patient_id;       /* required */
  const char *patient_name;     /* (nullable) */
  const char *body_site;        /* (nullable) */
} PrWebPhotoForm;

/* Called when an uploaded photo is in the index (@study_id, @study_uid), or
 * with @error: G_IO_ERROR_INVALID_DATA when the photo or the form is at fault. */
typedef void (*PrWebPhotoImported) (gint64 study_id, const char *study_uid, const GError *error, gpointer user_data);

typedef struct {
  gpointer data;

  JsonNode *(*worklist) (gpointer data, const PrWebWorklistQuery *query, GError **error);
  JsonNode *(*study) (gpointer data, gint64 study_id, GError **error);
  JsonNode *(*jobs) (gpointer data, const char *state, guint limit, GError **error);
  JsonNode *(*outbox) (gpointer data, const char *state, guint limit, GError **error);
  JsonNode *(*analyzers) (gpointer data, GError **error);
  JsonNode *(*routes) (gpointer data, GError **error);
  JsonNode *(*audit_log) (gpointer data, guint limit, GError **error);
  char *(*metrics) (gpointer data, GError **error);

  /* Renders (or finds cached) a job's key image @number as PNG; calls
   * @ready on the main loop, perhaps before returning. */
  void (*key_image) (gpointer data, gint64 job_id, guint number, gboolean overlay, PrWebImageReady ready,
                     gpointer user_data);

  gboolean (*add_feedback) (gpointer data, gint64 job_id, int finding, const char *verdict, const char *comment,
                            const char *user, GError **error);
  gboolean (*retry_job) (gpointer data, gint64 job_id, GError **error);
  gboolean (*cancel_job) (gpointer data, gint64 job_id, GError **error);
  guint (*retry_outbox) (gpointer data, gint64 item_id /* 0: every dead letter */, GError **error);
  gboolean (*drop_outbox) (gpointer data, gint64 item_id, GError **error);
  gboolean (*enable_analyzer) (gpointer data, const char *name, GError **error);

  void (*audit) (gpointer data, const char *user, const char *role, const char *action, const char *target,
                 const char *detail, const char *remote);

  /* Takes a JPEG or PNG @image into the gateway as a DICOM photo of a new
   * study, as if a modality had sent it; calls @done on the main loop. */
  void (*import_photo) (gpointer data, GBytes *image, const PrWebPhotoForm *form, const char *user,
                        PrWebPhotoImported done, gpointer user_data);
} PrWebBackend;

G_END_DECLS
