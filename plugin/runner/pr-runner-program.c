/* pr-runner-program.c: decoded volumes for external programs, then exec.
 *
 * A program analyzer configured with inputs="volumes" gets what a module
 * gets from series_volume(), as files: for each selected series,
 * volumes/series-N.f32 (float32, little-endian, x fastest, then y, then z)
 * and a "volume" object in its job.json entry with the geometry. Decoding
 * happens here, in the analyzer's own process and under its limits, never
 * in the daemon; then this process becomes the program (execv), so the
 * limits, the process group and the parent-death signal carry over.
 */
#include "config.h"

#include "pr-runner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-volume.h"
#include "plugin/host/pr-job-description.h"

#define MAX_VOLUME_VOXELS (G_GUINT64_CONSTANT (1) << 31)

static void
add_doubles (JsonBuilder *b, const char *member, const double *values, guint n)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_double_value (b, values[i]);
  json_builder_end_array (b);
}

static void
add_uint (JsonBuilder *b, const char *member, guint64 value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, (gint64) value);
}

static gboolean
write_voxels (const char *path, const PrVolume *v, GError **error)
{
  FILE *out = g_fopen (path, "wbe");
  if (out == NULL)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  gsize count = (gsize) v->columns * v->rows * v->slices * v->samples_per_pixel;
  /* float32 little-endian; this host is little-endian (x86-64, arm64). */
  G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);
  gboolean ok = fwrite (v->voxels, sizeof (float), count, out) == count;
  ok = (fclose (out) == 0) && ok;
  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "cannot write %s", path);
  return ok;
}

/* The "volume" member of a series in job.json. */
static JsonNode *
describe_volume (const PrVolume *v, const char *file)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, file);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "float32-le");
  add_uint (b, "columns", v->columns);
  add_uint (b, "rows", v->rows);
  add_uint (b, "slices", v->slices);
  add_uint (b, "samples_per_pixel", v->samples_per_pixel);
  json_builder_set_member_name (b, "flags");
  json_builder_begin_array (b);
  if (v->flags & PR_VOLUME_UNEVEN_SPACING)
    json_builder_add_string_value (b, "uneven-spacing");
  if (v->flags & PR_VOLUME_TILTED)
    json_builder_add_string_value (b, "tilted");
  if (v->flags & PR_VOLUME_SINGLE_IMAGE)
    json_builder_add_string_value (b, "single-image");
  if (v->flags & PR_VOLUME_SPACING_UNKNOWN)
    json_builder_add_string_value (b, "spacing-unknown");
  json_builder_end_array (b);
  add_doubles (b, "spacing", v->spacing, 3);
  add_doubles (b, "origin", v->origin, 3);
  add_doubles (b, "row_direction", v->row_direction, 3);
  add_doubles (b, "column_direction", v->column_direction, 3);
  add_doubles (b, "normal", v->normal, 3);
  add_doubles (b, "slice_positions", v->slice_positions, v->slices);
  json_builder_set_member_name (b, "slice_instances");
  json_builder_begin_array (b);
  for (guint z = 0; z < v->slices; z++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "sop_instance_uid");
      json_builder_add_string_value (b, v->slice_instances[z]);
      add_uint (b, "frame", v->slice_frames[z]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Decodes every series and records the result in job.json. */
static gboolean
decode_volumes (const char *folder, GError **error)
{
  g_autofree char *job_file = g_build_filename (folder, "job.json", NULL);
  g_autoptr (PrJobDescription) description = pr_job_description_load (job_file, error);
  if (description == NULL)
    return FALSE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, job_file, error))
    return FALSE;
  JsonArray *series = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "series");
  g_autofree char *volumes = g_build_filename (folder, "volumes", NULL);
  if (g_mkdir_with_parents (volumes, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s", volumes);
      return FALSE;
    }
  for (guint s = 0; s < description->series->len; s++)
    {
      const PrJobSeries *js = description->series->pdata[s];
      JsonObject *entry = json_array_get_object_element (series, s);
      g_autoptr (GPtrArray) paths = g_ptr_array_new ();
      for (guint i = 0; i < js->instances->len; i++)
        g_ptr_array_add (paths, ((PrJobInstance *) js->instances->pdata[i])->path);
      g_autoptr (GError) decode_error = NULL;
      g_autoptr (PrVolume) v =
        pr_volume_load ((const char *const *) paths->pdata, paths->len, MAX_VOLUME_VOXELS, &decode_error);
      g_autofree char *name = g_strdup_printf ("series-%u.f32", s);
      g_autofree char *file = g_build_filename (volumes, name, NULL);
      if (v != NULL && !write_voxels (file, v, &decode_error))
        g_clear_pointer (&v, pr_volume_free);
      if (v == NULL)
        {
          /* Not fatal: a study may mix images with reports. The program
           * sees why this series has no volume. */
          fprintf (stderr, "preread runner: series %u has no volume: %s\n", s, decode_error->message);
          json_object_set_string_member (entry, "volume_error", decode_error->message);
          continue;
        }
      json_object_set_member (entry, "volume", describe_volume (v, file));
    }
  g_autofree char *text = json_to_string (json_parser_get_root (parser), TRUE);
  return g_file_set_contents (job_file, text, -1, error);
}

int
pr_runner_program_main (int argc, char **argv)
{
  if (argc != 3)
    {
      fprintf (stderr, "usage: preread %s JOB-FOLDER PROGRAM\n", PR_RUNNER_PROGRAM_SUBCOMMAND);
      return 2;
    }
  const char *folder = argv[1];
  const char *program = argv[2];
  g_autoptr (GError) error = NULL;
  if (!pr_dicom_init (&error) || !decode_volumes (folder, &error))
    {
      fprintf (stderr, "preread runner: cannot prepare the volumes: %s\n", error->message);
      return 1;
    }
  /* The same argv the program gets without volumes. */
  char *program_argv[] = { (char *) program, (char *) "--job", (char *) folder, NULL };
  execv (program, program_argv);
  fprintf (stderr, "preread runner: cannot run %s: %s\n", program, g_strerror (errno));
  return 127;
}
