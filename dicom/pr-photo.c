/* pr-photo.c: checking a photo's facts, telling its format, decoding PNG. */
#include "config.h"

#include "pr-photo-private.h"

#include <cairo.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pr-dicom.h"

/* Anatomic regions of PS3.16 CID 4 a dermatology request names most, most
 * specific first so that "forearm" is not taken for "arm". */
static const PrBodySite sites[] = {
  { "scalp", "41695006", "Scalp", "SCALP" },
  { "face", "89545001", "Face", "FACE" },
  { "head", "69536005", "Head", "HEAD" },
  { "neck", "45048000", "Neck", "NECK" },
  { "shoulder", "16982005", "Shoulder", "SHOULDER" },
  { "forearm", "14975008", "Forearm", "ARM" },
  { "hand", "85562004", "Hand", "HAND" },
  { "finger", "7569003", "Finger", "FINGER" },
  { "arm", "53120007", "Upper limb", "ARM" },
  { "chest", "51185008", "Chest", "CHEST" },
  { "breast", "76752008", "Breast", "BREAST" },
  { "abdomen", "818983003", "Abdomen", "ABDOMEN" },
  { "back", "77568009", "Back", "BACK" },
  { "trunk", "22943007", "Trunk", NULL },
  { "thigh", "68367000", "Thigh", "THIGH" },
  { "knee", "72696002", "Knee", "KNEE" },
  { "foot", "56459004", "Foot", "FOOT" },
  { "toe", "29707007", "Toe", "TOE" },
  { "leg", "61685007", "Lower limb", "LEG" },
};

const PrBodySite *
pr_photo_body_site (const char *text)
{
  if (text == NULL)
    return NULL;
  g_autofree char *lower = g_ascii_strdown (text, -1);
  for (gsize i = 0; i < G_N_ELEMENTS (sites); i++)
    if (strstr (lower, sites[i].keyword) != NULL)
      return &sites[i];
  return NULL;
}

const char *
pr_photo_laterality (const char *text)
{
  if (text == NULL)
    return NULL;
  g_autofree char *lower = g_ascii_strdown (text, -1);
  gboolean left = strstr (lower, "left") != NULL, right = strstr (lower, "right") != NULL;
  return left == right ? NULL : left ? "L" : "R";
}

PrPhotoFormat
pr_photo_sniff (const guint8 *head, gsize length)
{
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  if (length >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return PR_PHOTO_FORMAT_JPEG;
  if (length >= sizeof png && memcmp (head, png, sizeof png) == 0)
    return PR_PHOTO_FORMAT_PNG;
  return PR_PHOTO_FORMAT_UNKNOWN;
}

/* ---- facts ------------------------------------------------------------------------------ */

/* A string value fits its VR: at most @max characters, printable, and no
 * backslash (the value separator), so one fact is one value. */
static gboolean
check_text (const char *what, const char *value, gsize max, gboolean required, GError **error)
{
  if (value == NULL || *value == '\0')
    {
      if (required)
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "%s is required", what);
      return !required;
    }
  if (!g_utf8_validate (value, -1, NULL) || g_utf8_strlen (value, -1) > (glong) max)
    {
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "%s must be valid UTF-8 of at most %zu characters",
                   what, max);
      return FALSE;
    }
  for (const char *p = value; *p; p++)
    if ((guchar) *p < 0x20 || *p == '\\' || *p == 0x7f)
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                     "%s must not hold control characters or backslashes", what);
        return FALSE;
      }
  return TRUE;
}

gboolean
pr_photo_check_facts (const PrPhotoFacts *f, GError **error)
{
  if (!check_text ("the patient ID", f->patient_id, 64, TRUE, error) ||
      !check_text ("the patient name", f->patient_name, 64, FALSE, error) ||
      !check_text ("the body site", f->body_site, 64, FALSE, error) ||
      !check_text ("the accession number", f->accession_number, 16, FALSE, error) ||
      !check_text ("the study description", f->study_description, 64, FALSE, error) ||
      !check_text ("the operator", f->operator_name, 64, FALSE, error))
    return FALSE;
  if (f->patient_name != NULL && strchr (f->patient_name, '=') != NULL)
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                           "the patient name takes one representation (no '=')");
      return FALSE;
    }
  if (f->patient_birth_date != NULL &&
      (strlen (f->patient_birth_date) != 8 || strspn (f->patient_birth_date, "0123456789") != 8))
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "the birth date must be YYYYMMDD");
      return FALSE;
    }
  if (f->patient_sex != NULL && g_strcmp0 (f->patient_sex, "M") != 0 && g_strcmp0 (f->patient_sex, "F") != 0 &&
      g_strcmp0 (f->patient_sex, "O") != 0)
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "the sex must be M, F or O");
      return FALSE;
    }
  const char *uids[] = { f->study_uid, f->series_uid };
  for (gsize i = 0; i < G_N_ELEMENTS (uids); i++)
    if (uids[i] != NULL && !pr_dicom_uid_is_valid (uids[i]))
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "\"%s\" is not a valid UID", uids[i]);
        return FALSE;
      }
  return TRUE;
}

/* ---- PNG --------------------------------------------------------------------------------- */

/* cairo reads PNG (8 or 16 bits, palette, grey, alpha) into premultiplied
 * ARGB; a transparent background becomes white, as on a printed page. */
static guint8 *
decode_png (const char *path, guint *width, guint *height, GError **error)
{
  cairo_surface_t *surface = cairo_image_surface_create_from_png (path);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_PARSE, "%s: not a readable PNG (%s)", path,
                   cairo_status_to_string (cairo_surface_status (surface)));
      cairo_surface_destroy (surface);
      return NULL;
    }
  int w = cairo_image_surface_get_width (surface), h = cairo_image_surface_get_height (surface);
  if (w <= 0 || h <= 0 || w > 65535 || h > 65535)
    {
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "%s: a %dx%d image cannot be stored", path, w, h);
      cairo_surface_destroy (surface);
      return NULL;
    }
  cairo_surface_flush (surface);
  const guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  cairo_format_t format = cairo_image_surface_get_format (surface);
  guint8 *rgb = g_malloc ((gsize) w * h * 3);
  for (int y = 0; y < h; y++)
    {
      const guint32 *row = (const guint32 *) (data + (gsize) y * stride);
      for (int x = 0; x < w; x++)
        {
          guint32 p = row[x];
          guint a = format == CAIRO_FORMAT_ARGB32 ? p >> 24 : 255;
          guint8 *out = rgb + ((gsize) y * w + x) * 3;
          /* premultiplied over white: c + (255 - a) */
          out[0] = (guint8) MIN (255u, ((p >> 16) & 0xff) + (255 - a));
          out[1] = (guint8) MIN (255u, ((p >> 8) & 0xff) + (255 - a));
          out[2] = (guint8) MIN (255u, (p & 0xff) + (255 - a));
        }
    }
  cairo_surface_destroy (surface);
  *width = (guint) w;
  *height = (guint) h;
  return rgb;
}

/* ---- wrapping ---------------------------------------------------------------------------- */

gboolean
pr_photo_wrap (const char *image_path, const PrPhotoFacts *facts, const char *output_path, char **sop_instance_uid,
               GError **error)
{
  if (!pr_photo_check_facts (facts, error))
    return FALSE;
  guint8 head[8] = { 0 };
  gsize got = 0;
  {
    FILE *in = fopen (image_path, "rb");
    if (in == NULL)
      {
        int saved = errno;
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", image_path, g_strerror (saved));
        return FALSE;
      }
    got = fread (head, 1, sizeof head, in);
    fclose (in);
  }
  PrPhotoFormat format = pr_photo_sniff (head, got);
  if (format == PR_PHOTO_FORMAT_UNKNOWN)
    {
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_PARSE, "%s: neither JPEG nor PNG", image_path);
      return FALSE;
    }

  /* New UIDs under 2.25, from a random seed: a photo has no scanner to name them. */
  g_autofree char *seed = g_uuid_string_random ();
  g_autofree char *study_uid = facts->study_uid ? g_strdup (facts->study_uid) : pr_dicom_uid_derive (seed, "study");
  g_autofree char *series_uid =
    facts->series_uid ? g_strdup (facts->series_uid) : pr_dicom_uid_derive (seed, "series");
  g_autofree char *sop_uid = pr_dicom_uid_derive (seed, "instance");
  PrPhotoFacts filled = *facts;
  filled.study_uid = study_uid;
  filled.series_uid = series_uid;
  if (filled.instance_number == 0)
    filled.instance_number = 1;

  PrPhotoPixels pixels = { 0 };
  g_autofree guint8 *rgb = NULL;
  if (format == PR_PHOTO_FORMAT_JPEG)
    pixels.jpeg_path = image_path;
  else
    {
      rgb = decode_png (image_path, &pixels.width, &pixels.height, error);
      if (rgb == NULL)
        return FALSE;
      pixels.rgb = rgb;
    }
  if (!pr_photo_write_dataset (&filled, &pixels, pr_photo_body_site (facts->body_site),
                               pr_photo_laterality (facts->body_site), sop_uid, output_path, error))
    return FALSE;
  if (sop_instance_uid != NULL)
    *sop_instance_uid = g_steal_pointer (&sop_uid);
  return TRUE;
}
