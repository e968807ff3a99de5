/* pr-web-photo.h: a photo uploaded from the web page, into the gateway.
 *
 * The upload takes the path a photo from `preread import-photo` takes: the
 * daemon writes the bytes to a private file and runs `preread import-photo`
 * on it as a child process, which wraps it as DICOM (parsing the JPEG or
 * PNG outside the daemon, like every other decoder) and sends it to the
 * daemon's own DICOM port with the calling AE title PREREAD-WEB. So the
 * photo is received, made durable, indexed and routed like any instance,
 * and nothing about uploads needs a second path through the gateway.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "pr-index.h"
#include "ui-glue/pr-web-backend.h"

G_BEGIN_DECLS

/* The calling AE title of uploads. A route's <results-to sender="true"/>
 * skips it: the uploader reads the results on the web page. */
#define PR_WEB_UPLOAD_CALLING_AE "PREREAD-WEB"

/* The largest photo accepted (a 48-megapixel phone JPEG is ~15 MB). */
#define PR_WEB_MAX_PHOTO_BYTES (32 * 1024 * 1024)

/* @dicom_port: the daemon's DICOM port as bound (the configuration may say 0: any free one). */
void pr_web_photo_import (PrIndex *index, const char *storage_root, const PrConfig *config, guint16 dicom_port,
                          GBytes *image,
                          const PrWebPhotoForm *form, const char *user, PrWebPhotoImported done, gpointer user_data);

G_END_DECLS
