/* pr-test-analyzer.c: a deterministic analyzer for testing the queue. */
#include "config.h"

#include "pr-test-analyzer.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

static const char *
parameter (JsonObject *job, const char *name, const char *fallback)
{
  JsonObject *parameters = json_object_get_object_member (job, "parameters");
  if (parameters == NULL || !json_object_has_member (parameters, name))
    return fallback;
  return json_object_get_string_member (parameters, name);
}

static gboolean
write_atomically (const char *path, const char *text)
{
  /* g_file_set_contents writes a temporary file and renames it: a reader
   * never sees half a document. */
  return g_file_set_contents (path, text, -1, NULL);
}

static char *
findings_document (JsonObject *job, const char *status, const char *message, const char *priority)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_string_value (b, "preread-findings/1");
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, status);
  if (message != NULL)
    {
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, message);
    }
  json_builder_set_member_name (b, "priority");
  json_builder_add_string_value (b, priority);
  JsonArray *series = json_object_get_array_member (job, "series");
  guint n = series ? json_array_get_length (series) : 0;
  json_builder_set_member_name (b, "summary");
  g_autofree char *summary = g_strdup_printf ("test analyzer: %u series seen", n);
  json_builder_add_string_value (b, summary);
  json_builder_set_member_name (b, "findings");
  json_builder_begin_array (b);
  for (guint i = 0; g_strcmp0 (status, "done") == 0 && i < n; i++)
    {
      JsonObject *s = json_array_get_object_element (series, i);
      JsonArray *instances = json_object_get_array_member (s, "instances");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "scheme");
      json_builder_add_string_value (b, "99PREREAD");
      json_builder_set_member_name (b, "value");
      json_builder_add_string_value (b, "series-inventory");
      json_builder_set_member_name (b, "meaning");
      json_builder_add_string_value (b, "Series inventory");
      json_builder_end_object (b);
      json_builder_set_member_name (b, "confidence");
      json_builder_add_double_value (b, 1.0);
      json_builder_set_member_name (b, "text");
      g_autofree char *text = g_strdup_printf ("series %s: %u instances",
                                               json_object_get_string_member (s, "series_instance_uid"),
                                               instances ? json_array_get_length (instances) : 0);
      json_builder_add_string_value (b, text);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

int
pr_test_analyzer_main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: preread %s JOB-FOLDER\n", PR_TEST_ANALYZER_SUBCOMMAND);
      return 2;
    }
  g_autofree char *job_path = g_build_filename (argv[1], "job.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_file (parser, job_path, &error))
    {
      fprintf (stderr, "test analyzer: cannot read %s: %s\n", job_path, error->message);
      return 1;
    }
  JsonObject *job = json_node_get_object (json_parser_get_root (parser));
  const char *outcome = parameter (job, "outcome", "done");
  const char *priority = parameter (job, "priority", "routine");
  double seconds = g_ascii_strtod (parameter (job, "seconds", "0"), NULL);
  const char *findings_path = json_object_get_string_member (job, "findings_file");

  /* Work, reporting progress: the heartbeat the supervisor watches. */
  int steps = (int) (seconds * 10);
  for (int i = 1; i <= steps; i++)
    {
      g_usleep (100000);
      printf ("progress %.2f working\n", (double) i / steps);
      fflush (stdout);
    }

  if (strcmp (outcome, "crash") == 0)
    raise (SIGSEGV);
  if (strcmp (outcome, "hang") == 0)
    for (;;)
      pause ();
  if (strcmp (outcome, "garbage") == 0)
    return write_atomically (findings_path, "{ this is not json") ? 0 : 1;

  const char *status = "done", *message = NULL;
  if (strcmp (outcome, "decline") == 0)
    {
      status = "declined";
      message = "the test analyzer was told to decline";
    }
  else if (strcmp (outcome, "fail") == 0)
    {
      status = "failed";
      message = "the test analyzer was told to fail";
    }
  g_autofree char *document = findings_document (job, status, message, priority);
  if (!write_atomically (findings_path, document))
    {
      fprintf (stderr, "test analyzer: cannot write %s\n", findings_path);
      return 1;
    }
  printf ("progress 1.00 done\n");
  return 0;
}
