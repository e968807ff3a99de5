/* pr-study-facts.c: series attributes from DICOM JSON, plus computed facts. */
#include "config.h"

#include "pr-study-facts.h"

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"

/* Values longer than this are not routing criteria (same limit as the index). */
#define FACTS_MAX_VALUE 1024

static void
series_facts_free (PrSeriesFacts *s)
{
  g_free (s->series_uid);
  g_clear_pointer (&s->values, g_hash_table_unref);
  g_free (s->orientation);
  g_free (s->instances_text);
  g_clear_pointer (&s->files, g_ptr_array_unref);
  g_free (s);
}

void
pr_study_facts_free (PrStudyFacts *f)
{
  if (f == NULL)
    return;
  g_free (f->study_uid);
  g_free (f->calling_ae);
  g_free (f->called_ae);
  g_free (f->series_text);
  g_clear_pointer (&f->series, g_ptr_array_unref);
  g_free (f);
}

/* One DICOM JSON value (PS3.18 F.2) as text. */
static char *
value_text (JsonNode *value, const char *vr)
{
  if (JSON_NODE_HOLDS_OBJECT (value))
    {
      /* PN: {"Alphabetic": "...", "Ideographic": ...} */
      JsonObject *pn = json_node_get_object (value);
      return g_strdup (json_object_has_member (pn, "Alphabetic") ? json_object_get_string_member (pn, "Alphabetic")
                                                                 : "");
    }
  if (!JSON_NODE_HOLDS_VALUE (value))
    return g_strdup ("");
  switch (json_node_get_value_type (value))
    {
    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (value));
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (value));
    case G_TYPE_DOUBLE:
      {
        char buffer[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (value)));
      }
    default:
      return g_strdup ("");
    }
}

static void
add_json_attributes (GHashTable *values, const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return;
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return;
  JsonObjectIter iter;
  const char *key;
  JsonNode *member;
  json_object_iter_init (&iter, json_node_get_object (root));
  while (json_object_iter_next (&iter, &key, &member))
    {
      if (strlen (key) != 8 || !JSON_NODE_HOLDS_OBJECT (member))
        continue;
      guint32 tag = (guint32) g_ascii_strtoull (key, NULL, 16);
      JsonObject *element = json_node_get_object (member);
      const char *vr = json_object_has_member (element, "vr") ? json_object_get_string_member (element, "vr") : "";
      if (strcmp (vr, "SQ") == 0 || !json_object_has_member (element, "Value"))
        continue;
      JsonArray *array = json_object_get_array_member (element, "Value");
      if (array == NULL)
        continue;
      GString *text = g_string_new (NULL);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          g_autofree char *one = value_text (json_array_get_element (array, i), vr);
          if (i > 0)
            g_string_append_c (text, '\\');
          g_string_append (text, one);
        }
      if (text->len <= FACTS_MAX_VALUE)
        g_hash_table_replace (values, GUINT_TO_POINTER (tag), g_string_free (text, FALSE));
      else
        g_string_free (text, TRUE);
    }
}

/* The patient axis closest to the slice normal (row x column direction). */
static char *
orientation_of (GHashTable *values)
{
  const char *iop = g_hash_table_lookup (values, GUINT_TO_POINTER (0x00200037));
  if (iop == NULL)
    return NULL;
  g_auto (GStrv) parts = g_strsplit (iop, "\\", -1);
  if (g_strv_length (parts) != 6)
    return NULL;
  double v[6];
  for (int i = 0; i < 6; i++)
    v[i] = g_ascii_strtod (parts[i], NULL);
  double n[3] = { v[1] * v[5] - v[2] * v[4], v[2] * v[3] - v[0] * v[5], v[0] * v[4] - v[1] * v[3] };
  double length = sqrt (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
  if (length < 1e-6)
    return NULL;
  /* cos(35 deg) ~ 0.82: a tilted gantry still gives an axial series. */
  const double threshold = 0.8;
  if (fabs (n[2]) / length >= threshold)
    return g_strdup ("AXIAL");
  if (fabs (n[1]) / length >= threshold)
    return g_strdup ("CORONAL");
  if (fabs (n[0]) / length >= threshold)
    return g_strdup ("SAGITTAL");
  return g_strdup ("OBLIQUE");
}

static PrSeriesFacts *
series_facts_new (const char *series_uid, const char *json, guint instance_count)
{
  PrSeriesFacts *s = g_new0 (PrSeriesFacts, 1);
  s->series_uid = g_strdup (series_uid);
  s->instance_count = instance_count;
  s->values = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  add_json_attributes (s->values, json);
  s->orientation = orientation_of (s->values);
  s->instances_text = g_strdup_printf ("%u", instance_count);
  return s;
}

static PrStudyFacts *
study_facts_new (void)
{
  PrStudyFacts *f = g_new0 (PrStudyFacts, 1);
  f->series = g_ptr_array_new_with_free_func ((GDestroyNotify) series_facts_free);
  return f;
}

PrStudyFacts *
pr_study_facts_from_index (const PrIndexStudy *study)
{
  PrStudyFacts *f = study_facts_new ();
  f->study_id = study->id;
  f->study_uid = g_strdup (study->study_uid);
  f->calling_ae = g_strdup (study->calling_ae);
  f->called_ae = g_strdup (study->called_ae);
  f->instance_count = study->instance_count;
  for (guint i = 0; i < study->series->len; i++)
    {
      PrIndexSeries *s = study->series->pdata[i];
      g_ptr_array_add (f->series, series_facts_new (s->series_uid, s->attributes_json, s->instance_count));
    }
  f->series_text = g_strdup_printf ("%u", f->series->len);
  return f;
}

static void
collect_files (GPtrArray *files, const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (files, g_strdup (path));
      return;
    }
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (!(g_file_test (child, G_FILE_TEST_IS_SYMLINK) && g_file_test (child, G_FILE_TEST_IS_DIR)))
        collect_files (files, child);
    }
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
pr_study_facts_from_files (const char *const *paths, guint *skipped)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  for (const char *const *p = paths; *p != NULL; p++)
    collect_files (files, *p);
  g_ptr_array_sort (files, compare_paths);

  GPtrArray *studies = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_study_facts_free);
  g_autoptr (GHashTable) by_study = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) by_series = g_hash_table_new (g_str_hash, g_str_equal);
  guint bad = 0;
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = files->pdata[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PrInstanceHeader) h = pr_instance_header_read (path, &error);
      if (h == NULL || h->study_instance_uid == NULL || h->series_instance_uid == NULL)
        {
          bad++;
          continue;
        }
      PrStudyFacts *study = g_hash_table_lookup (by_study, h->study_instance_uid);
      if (study == NULL)
        {
          study = study_facts_new ();
          study->study_uid = g_strdup (h->study_instance_uid);
          study->calling_ae = g_strdup (h->source_ae_title);
          g_ptr_array_add (studies, study);
          g_hash_table_insert (by_study, study->study_uid, study);
        }
      PrSeriesFacts *series = g_hash_table_lookup (by_series, h->series_instance_uid);
      if (series == NULL)
        {
          g_autofree char *json = pr_instance_header_to_json (h, FACTS_MAX_VALUE);
          series = series_facts_new (h->series_instance_uid, json, 0);
          series->files = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (study->series, series);
          g_hash_table_insert (by_series, series->series_uid, series);
        }
      g_ptr_array_add (series->files, g_strdup (path));
      series->instance_count++;
      study->instance_count++;
    }
  for (guint i = 0; i < studies->len; i++)
    {
      PrStudyFacts *study = studies->pdata[i];
      study->series_text = g_strdup_printf ("%u", study->series->len);
      for (guint j = 0; j < study->series->len; j++)
        {
          PrSeriesFacts *s = study->series->pdata[j];
          g_free (s->instances_text);
          s->instances_text = g_strdup_printf ("%u", s->instance_count);
        }
    }
  if (skipped != NULL)
    *skipped = bad;
  return studies;
}

/* Keyword -> tag, remembered: the dictionary lookup by name scans it. */
static gboolean
attribute_tag (const char *attribute, guint32 *tag)
{
  static GMutex lock;
  static GHashTable *cache;
  g_mutex_lock (&lock);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gpointer found;
  gboolean known = g_hash_table_lookup_extended (cache, attribute, NULL, &found);
  if (!known)
    {
      guint32 value = 0;
      /* Unknown names are remembered too, as tag 0 (which no attribute has). */
      if (!pr_dicom_attribute_to_tag (attribute, &value))
        value = 0;
      found = GUINT_TO_POINTER (value);
      g_hash_table_insert (cache, g_strdup (attribute), found);
    }
  g_mutex_unlock (&lock);
  *tag = GPOINTER_TO_UINT (found);
  return *tag != 0;
}

const char *
pr_study_facts_lookup (const PrStudyFacts *study, const PrSeriesFacts *series, const char *attribute)
{
  if (attribute[0] == '@')
    {
      if (strcmp (attribute, "@calling-ae") == 0)
        return study->calling_ae;
      if (strcmp (attribute, "@called-ae") == 0)
        return study->called_ae;
      if (strcmp (attribute, "@series") == 0)
        return study->series_text;
      if (strcmp (attribute, "@orientation") == 0)
        return series->orientation;
      if (strcmp (attribute, "@instances") == 0)
        return series->instances_text;
      return NULL;
    }
  guint32 tag;
  if (!attribute_tag (attribute, &tag))
    return NULL;
  return g_hash_table_lookup (series->values, GUINT_TO_POINTER (tag));
}
