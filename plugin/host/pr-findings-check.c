/* pr-findings-check.c: the rules of a findings document, one finding at a time. */
#include "config.h"

#include "pr-findings-check.h"

#include <math.h>
#include <string.h>

#include <gio/gio.h>

#define MAX_POINTS 100000
#define MAX_ITEMS 1000
#define MAX_MASK_VOXELS (G_GUINT64_CONSTANT (1) << 31)

typedef struct {
  gint64 columns, rows, frames, slices;
} Size;

typedef struct {
  const PrJobDescription *job;
  GHashTable *images;           /* SOP Instance UID -> Size* of its series */
  GHashTable *series;           /* Series Instance UID -> Size* */
  GPtrArray *sizes;             /* Size*, owned */
  char *problem;                /* the first rule broken */
} Checker;

G_GNUC_PRINTF (2, 3)
static gboolean
broken (Checker *c, const char *format, ...)
{
  if (c->problem == NULL)
    {
      va_list args;
      va_start (args, format);
      c->problem = g_strdup_vprintf (format, args);
      va_end (args);
    }
  return FALSE;
}

static JsonNode *
member (JsonObject *o, const char *name)
{
  JsonNode *node = json_object_get_member (o, name);
  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

static gboolean
is_number (JsonNode *node, double *value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType type = json_node_get_value_type (node);
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_double (node);
  return isfinite (*value);
}

static gboolean
is_string (JsonNode *node, gsize min_chars, gsize max_chars)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  glong n = g_utf8_strlen (json_node_get_string (node), -1);
  return (gsize) n >= min_chars && (gsize) n <= max_chars;
}

static gboolean
check_optional_string (Checker *c, JsonObject *o, const char *name, gsize max_chars)
{
  JsonNode *node = member (o, name);
  if (node != NULL && !is_string (node, 0, max_chars))
    return broken (c, "\"%s\" must be a string of at most %zu characters", name, max_chars);
  return TRUE;
}

static gboolean
check_code (Checker *c, JsonNode *node, const char *what)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return broken (c, "%s must be a code object", what);
  JsonObject *o = json_node_get_object (node);
  if (!is_string (member (o, "scheme"), 1, 16) || !is_string (member (o, "value"), 1, 64) ||
      !is_string (member (o, "meaning"), 1, 64))
    return broken (c, "%s needs a scheme (1-16 characters), a value (1-64) and a meaning (1-64)", what);
  return TRUE;
}

static JsonArray *
array_member (Checker *c, JsonObject *o, const char *name, guint max_length)
{
  JsonNode *node = member (o, name);
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) > max_length)
    {
      broken (c, "\"%s\" must be an array of at most %u entries", name, max_length);
      return NULL;
    }
  return json_node_get_array (node);
}

/* An integer attribute from DICOM JSON ("00280010": {"vr": "US", "Value": [512]}). */
static gint64
dicom_json_int (JsonObject *attributes, const char *tag, gint64 fallback)
{
  JsonNode *element = json_object_get_member (attributes, tag);
  if (element == NULL || !JSON_NODE_HOLDS_OBJECT (element))
    return fallback;
  JsonNode *values = json_object_get_member (json_node_get_object (element), "Value");
  if (values == NULL || !JSON_NODE_HOLDS_ARRAY (values) || json_array_get_length (json_node_get_array (values)) == 0)
    return fallback;
  JsonNode *first = json_array_get_element (json_node_get_array (values), 0);
  if (!JSON_NODE_HOLDS_VALUE (first))
    return fallback;
  if (json_node_get_value_type (first) == G_TYPE_STRING)
    return g_ascii_strtoll (json_node_get_string (first), NULL, 10); /* IS values are strings */
  return json_node_get_int (first);
}

/* The size of a series' images, from its first instance (0 when unknown). */
static Size
size_of (const PrJobSeries *s)
{
  Size size = { 0, 0, 1, 0 };
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (s->attributes_json != NULL && json_parser_load_from_data (parser, s->attributes_json, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *attributes = json_node_get_object (json_parser_get_root (parser));
      size.columns = dicom_json_int (attributes, "00280011", 0);
      size.rows = dicom_json_int (attributes, "00280010", 0);
      size.frames = MAX (1, dicom_json_int (attributes, "00280008", 1));
    }
  /* A volume has one slice per frame of each instance. */
  size.slices = size.frames * (gint64) s->instances->len;
  return size;
}

/* The image a 2D location is on: one of the job's, frame in range. Fills
 * its size when known (0 otherwise). */
static gboolean
check_image (Checker *c, JsonObject *location, gint64 *columns, gint64 *rows)
{
  *columns = *rows = 0;
  JsonNode *uid = member (location, "sop_instance_uid");
  if (!is_string (uid, 1, 64))
    return broken (c, "the location needs the sop_instance_uid of its image");
  double frame = 0;
  JsonNode *frame_node = member (location, "frame");
  if (frame_node != NULL && (!is_number (frame_node, &frame) || frame < 0 || frame != floor (frame)))
    return broken (c, "\"frame\" must be a frame number (1-based)");
  if (c->job == NULL)
    return TRUE;
  const Size *size = g_hash_table_lookup (c->images, json_node_get_string (uid));
  if (size == NULL)
    return broken (c, "image %s is not part of the job", json_node_get_string (uid));
  *columns = size->columns;
  *rows = size->rows;
  gint64 frames = size->frames;
  if (frame > (double) MAX (frames, 1) || (frames > 1 && frame < 1))
    return broken (c, "frame %.0f does not exist in an image of %" G_GINT64_FORMAT " frame(s)", frame, frames);
  return TRUE;
}

static gboolean
check_points (Checker *c, JsonObject *location, const char *shape, guint dimensions, gint64 columns, gint64 rows)
{
  JsonArray *points = array_member (c, location, "points", MAX_POINTS);
  if (points == NULL)
    return broken (c, "a %s needs \"points\"", shape);
  guint n = json_array_get_length (points);
  gboolean fits = strcmp (shape, "point") == 0 || strcmp (shape, "point-3d") == 0 ? n == 1
                  : strcmp (shape, "circle") == 0                                 ? n == 2
                  : strcmp (shape, "ellipse") == 0                                ? n == 4
                  : strcmp (shape, "polygon") == 0                                ? n >= 3
                                                                                  : n >= 2;
  if (!fits)
    return broken (c, "a %s cannot have %u point(s)", shape, n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *p = json_array_get_element (points, i);
      if (!JSON_NODE_HOLDS_ARRAY (p) || json_array_get_length (json_node_get_array (p)) != dimensions)
        return broken (c, "point %u must be an array of %u numbers", i + 1, dimensions);
      double xyz[3] = { 0 };
      for (guint d = 0; d < dimensions; d++)
        if (!is_number (json_array_get_element (json_node_get_array (p), d), &xyz[d]))
          return broken (c, "point %u is not finite numbers", i + 1);
      if (dimensions == 2 && columns > 0 && rows > 0 &&
          (xyz[0] < 0 || xyz[1] < 0 || xyz[0] > (double) columns || xyz[1] > (double) rows))
        return broken (c, "point %u (%g, %g) lies outside the %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " image", i + 1,
                       xyz[0], xyz[1], columns, rows);
    }
  return TRUE;
}

static gboolean
check_mask (Checker *c, JsonObject *location)
{
  JsonArray *box = array_member (c, location, "box", 6);
  if (box == NULL || json_array_get_length (box) != 6)
    return broken (c, "a mask needs \"box\": [column, row, slice, width, height, depth]");
  double b[6];
  for (guint i = 0; i < 6; i++)
    if (!is_number (json_array_get_element (box, i), &b[i]) || b[i] < 0 || b[i] != floor (b[i]) || b[i] > G_MAXUINT32)
      return broken (c, "the mask's box must hold 6 non-negative integers");
  guint64 voxels = (guint64) b[3] * (guint64) b[4] * (guint64) b[5];
  if (voxels == 0 || voxels > MAX_MASK_VOXELS)
    return broken (c, "the mask's box must have a width, height and depth of at least 1");
  JsonNode *bits = member (location, "bits");
  if (!is_string (bits, 1, G_MAXSIZE))
    return broken (c, "a mask needs \"bits\" (base64)");
  gsize length = 0;
  g_autofree guchar *decoded = g_base64_decode (json_node_get_string (bits), &length);
  if (length != (voxels + 7) / 8)
    return broken (c, "the mask's bits hold %zu bytes; its box needs %" G_GUINT64_FORMAT, length, (voxels + 7) / 8);

  gint64 columns = 0, rows = 0, depth = 1;
  JsonNode *series_uid = member (location, "series_instance_uid");
  if (series_uid != NULL)
    {
      if (!is_string (series_uid, 1, 64))
        return broken (c, "\"series_instance_uid\" must be a UID");
      const Size *size = c->job ? g_hash_table_lookup (c->series, json_node_get_string (series_uid)) : NULL;
      if (c->job != NULL && size == NULL)
        return broken (c, "series %s is not part of the job", json_node_get_string (series_uid));
      JsonArray *slices = array_member (c, location, "slices", G_MAXUINT);
      if (slices != NULL && json_array_get_length (slices) != (guint) b[5])
        return broken (c, "the mask's \"slices\" must name one image per slice of its box");
      columns = size ? size->columns : 0;
      rows = size ? size->rows : 0;
      depth = size ? size->slices : 0;
    }
  else if (!check_image (c, location, &columns, &rows))
    return FALSE;
  if ((columns > 0 && b[0] + b[3] > (double) columns) || (rows > 0 && b[1] + b[4] > (double) rows) ||
      (depth > 0 && b[2] + b[5] > (double) depth))
    return broken (c, "the mask's box reaches beyond its %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " %s", columns, rows,
                   series_uid ? "volume" : "image");
  return TRUE;
}

static gboolean
check_location (Checker *c, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return broken (c, "\"location\" must be an object");
  JsonObject *location = json_node_get_object (node);
  JsonNode *shape_node = member (location, "shape");
  const char *shape = is_string (shape_node, 1, 32) ? json_node_get_string (shape_node) : "";
  static const char *const two_d[] = { "point", "polyline", "polygon", "circle", "ellipse", NULL };
  gint64 columns = 0, rows = 0;
  if (g_strv_contains (two_d, shape))
    return check_image (c, location, &columns, &rows) && check_points (c, location, shape, 2, columns, rows);
  if (strcmp (shape, "point-3d") == 0 || strcmp (shape, "polyline-3d") == 0)
    return check_optional_string (c, location, "frame_of_reference_uid", 64) &&
           check_points (c, location, shape, 3, 0, 0);
  if (strcmp (shape, "mask") == 0)
    return check_mask (c, location);
  return broken (c, "unknown shape \"%s\"", shape);
}

static gboolean
check_finding (Checker *c, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return broken (c, "a finding must be an object");
  JsonObject *f = json_node_get_object (node);
  if (!check_code (c, member (f, "type"), "\"type\""))
    return FALSE;
  double confidence = 0;
  JsonNode *confidence_node = member (f, "confidence");
  if (confidence_node != NULL && (!is_number (confidence_node, &confidence) || confidence < 0 || confidence > 1))
    return broken (c, "\"confidence\" must be a number within 0..1");
  if (!check_optional_string (c, f, "text", 10000) || !check_optional_string (c, f, "tracking_id", 64))
    return FALSE;
  if (member (f, "site") != NULL && !check_code (c, member (f, "site"), "\"site\""))
    return FALSE;
  if (member (f, "location") != NULL && !check_location (c, member (f, "location")))
    return FALSE;
  JsonArray *measurements = array_member (c, f, "measurements", MAX_ITEMS);
  for (guint i = 0; measurements != NULL && i < json_array_get_length (measurements); i++)
    {
      JsonNode *m = json_array_get_element (measurements, i);
      double value;
      if (!JSON_NODE_HOLDS_OBJECT (m))
        return broken (c, "measurement %u must be an object", i + 1);
      JsonObject *mo = json_node_get_object (m);
      if (!check_code (c, member (mo, "concept"), "a measurement's \"concept\""))
        return FALSE;
      if (!is_number (member (mo, "value"), &value))
        return broken (c, "measurement %u needs a finite \"value\"", i + 1);
      if (!is_string (member (mo, "unit"), 1, 16))
        return broken (c, "measurement %u needs a UCUM \"unit\" (\"1\" for none)", i + 1);
    }
  JsonArray *evaluations = array_member (c, f, "evaluations", MAX_ITEMS);
  for (guint i = 0; evaluations != NULL && i < json_array_get_length (evaluations); i++)
    {
      JsonNode *e = json_array_get_element (evaluations, i);
      if (!JSON_NODE_HOLDS_OBJECT (e) ||
          !check_code (c, member (json_node_get_object (e), "concept"), "an evaluation's \"concept\"") ||
          !check_code (c, member (json_node_get_object (e), "value"), "an evaluation's \"value\""))
        return broken (c, "evaluation %u needs a coded \"concept\" and \"value\"", i + 1);
    }
  return c->problem == NULL;
}

gboolean
pr_findings_check (JsonArray *findings, const PrJobDescription *job, GError **error)
{
  Checker c = { job, g_hash_table_new (g_str_hash, g_str_equal), g_hash_table_new (g_str_hash, g_str_equal),
                g_ptr_array_new_with_free_func (g_free), NULL };
  for (guint s = 0; job != NULL && s < job->series->len; s++)
    {
      PrJobSeries *series = job->series->pdata[s];
      Size *size = g_memdup2 (&(Size) { 0 }, sizeof (Size));
      *size = size_of (series);
      g_ptr_array_add (c.sizes, size);
      g_hash_table_insert (c.series, series->series_instance_uid, size);
      for (guint i = 0; i < series->instances->len; i++)
        g_hash_table_insert (c.images, ((PrJobInstance *) series->instances->pdata[i])->sop_instance_uid, size);
    }
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < json_array_get_length (findings); i++)
    if (!check_finding (&c, json_array_get_element (findings, i)))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "finding %u: %s", i + 1, c.problem);
        ok = FALSE;
      }
  g_hash_table_unref (c.images);
  g_hash_table_unref (c.series);
  g_ptr_array_unref (c.sizes);
  g_free (c.problem);
  return ok;
}
