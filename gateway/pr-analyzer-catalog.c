/* pr-analyzer-catalog.c: probing modules and printing what was found. */
#include "config.h"

#include "pr-analyzer-catalog.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "plugin/host/pr-module.h"
#include "plugin/host/pr-supervisor.h"
#include "plugin/runner/pr-runner.h"
#include "pr-analyzer-health.h"
#include "pr-analyzer-launch.h"

#define PROBE_TIMEOUT_S 10
#define PROBE_MEMORY_MB 2048

typedef struct {
  char *name;
  char *kind;
  char *version;
  char *abi;
  char *state;
  char *file;
} Entry;

static void
entry_free (Entry *e)
{
  g_free (e->name);
  g_free (e->kind);
  g_free (e->version);
  g_free (e->abi);
  g_free (e->state);
  g_free (e->file);
  g_free (e);
}

/* Loads @path in a child under limits. Returns: (transfer full) the
 * descriptor as JSON, or NULL with @problem. */
static JsonObject *
probe (const char *path, char **problem)
{
  g_autofree char *log = NULL;
  int fd = g_file_open_tmp ("preread-probe-XXXXXX.log", &log, NULL);
  if (fd >= 0)
    close (fd);
  const char *argv[] = { "/proc/self/exe", PR_RUNNER_PROBE_SUBCOMMAND, path, NULL };
  PrRunSpec spec = { 0 };
  spec.argv = argv;
  spec.log_path = log;
  spec.timeout_s = PROBE_TIMEOUT_S;
  spec.memory_limit_mb = PROBE_MEMORY_MB;
  spec.capture_output_max = 64 * 1024;
  PrRunOutcome outcome;
  g_autofree char *output = NULL;
  g_autoptr (GError) error = NULL;
  gboolean ran = pr_run_sync (&spec, NULL, NULL, &outcome, &output, &error);
  g_autofree char *tail = ran ? pr_run_log_tail (log) : NULL;
  if (log != NULL)
    g_unlink (log);
  if (!ran)
    {
      *problem = g_strdup (error->message);
      return NULL;
    }
  if (outcome.end != PR_RUN_EXITED || outcome.exit_status != 0)
    {
      g_autofree char *how = pr_run_outcome_describe (&outcome, &spec);
      /* The runner's own words are the better reason. */
      *problem = tail ? g_strdup (g_str_has_prefix (tail, "preread runner: ") ? tail + 16 : tail) : g_steal_pointer (&how);
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (output == NULL || !json_parser_load_from_data (parser, output, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      *problem = g_strdup ("the probe printed no descriptor");
      return NULL;
    }
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static const char *
kind_name (PrAnalyzerKind kind)
{
  return kind == PR_ANALYZER_MODULE ? "module" : kind == PR_ANALYZER_PROGRAM ? "program" : "builtin";
}

static char *
health_state (PrIndex *index, const char *name)
{
  if (index == NULL)
    return g_strdup ("ok");
  g_autoptr (PrAnalyzerHealth) h = pr_index_get_analyzer_health (index, name, NULL);
  if (h != NULL && h->quarantined_at_us != 0)
    return g_strdup_printf ("QUARANTINED: %s", h->quarantine_reason ? h->quarantine_reason : "");
  if (h != NULL && h->consecutive_failures > 0)
    return g_strdup_printf ("ok (%u failure(s) in a row; the last: %s)", h->consecutive_failures,
                            h->last_failure ? h->last_failure : "?");
  return g_strdup ("ok");
}

/* Fills version and ABI from a probe; FALSE when the module does not load. */
static gboolean
fill_from_probe (Entry *e, const char *file)
{
  g_autofree char *problem = NULL;
  g_autoptr (JsonObject) d = file ? probe (file, &problem) : NULL;
  if (d == NULL)
    {
      g_free (e->state);
      e->state = g_strdup_printf ("CANNOT LOAD: %s", problem ? problem : "module not found");
      return FALSE;
    }
  e->version = g_strdup (json_object_get_string_member_with_default (d, "version", "?"));
  e->abi = g_strdup (json_object_get_string_member_with_default (d, "abi", "?"));
  if (e->name == NULL)
    e->name = g_strdup (json_object_get_string_member_with_default (d, "name", "?"));
  return TRUE;
}

char *
pr_analyzer_catalog_check (const PrAnalyzerConfig *a, char **problem)
{
  if (a->kind == PR_ANALYZER_BUILTIN)
    return g_strdup ("built in");
  if (a->kind == PR_ANALYZER_PROGRAM)
    {
      if (g_file_test (a->location, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test (a->location, G_FILE_TEST_IS_DIR))
        return g_strdup ("program");
      *problem = g_strdup_printf ("%s is not an executable file", a->location);
      return NULL;
    }
  g_autofree char *file = pr_analyzer_file (a);
  if (file == NULL)
    {
      *problem = g_strdup_printf ("no module %s.so in $PREREAD_ANALYZER_PATH or %s", a->location,
                                  pr_module_installed_folder ());
      return NULL;
    }
  g_autoptr (JsonObject) d = probe (file, problem);
  if (d == NULL)
    return NULL;
  return g_strdup_printf ("%s %s, ABI %s", json_object_get_string_member_with_default (d, "name", "?"),
                          json_object_get_string_member_with_default (d, "version", "?"),
                          json_object_get_string_member_with_default (d, "abi", "?"));
}

static PrIndex *
open_index (const PrConfig *config)
{
  g_autofree char *db = g_build_filename (config->node->storage_dir, "index.sqlite", NULL);
  if (!g_file_test (db, G_FILE_TEST_EXISTS))
    return NULL;
  return pr_index_open (db, NULL);
}

gboolean
pr_analyzer_catalog_print (const PrConfig *config)
{
  g_autoptr (PrIndex) index = open_index (config);
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean all_load = TRUE;

  for (guint i = 0; i < config->analyzers->len; i++)
    {
      const PrAnalyzerConfig *a = config->analyzers->pdata[i];
      Entry *e = g_new0 (Entry, 1);
      e->name = g_strdup (a->name);
      e->kind = g_strdup (kind_name (a->kind));
      e->file = pr_analyzer_file (a);
      e->state = health_state (index, a->name);
      if (a->kind == PR_ANALYZER_MODULE)
        all_load &= fill_from_probe (e, e->file);
      else
        {
          e->version = g_strdup (a->kind == PR_ANALYZER_BUILTIN ? PACKAGE_VERSION : "-");
          e->abi = g_strdup (a->kind == PR_ANALYZER_PROGRAM ? "job/1" : "-");
          if (a->kind == PR_ANALYZER_PROGRAM && !g_file_test (a->location, G_FILE_TEST_IS_EXECUTABLE))
            {
              g_free (e->state);
              e->state = g_strdup ("CANNOT RUN: not an executable file");
              all_load = FALSE;
            }
        }
      if (e->file == NULL)
        e->file = g_strdup (a->location);
      g_hash_table_add (seen, g_strdup (e->file));
      g_ptr_array_add (entries, e);
    }

  /* Modules installed but not configured: a vendor's module is listed as
   * soon as it is on the search path. */
  g_auto (GStrv) folders = pr_module_search_folders ();
  for (char **f = folders; *f; f++)
    {
      g_autoptr (GDir) dir = g_dir_open (*f, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          if (!g_str_has_suffix (name, ".so"))
            continue;
          g_autofree char *path = g_build_filename (*f, name, NULL);
          g_autofree char *file = g_canonicalize_filename (path, NULL);
          if (g_hash_table_contains (seen, file))
            continue;
          g_hash_table_add (seen, g_strdup (file));
          Entry *e = g_new0 (Entry, 1);
          e->kind = g_strdup ("module");
          e->file = g_steal_pointer (&file);
          e->state = g_strdup ("not configured");
          if (!fill_from_probe (e, e->file))
            e->name = g_strndup (name, strlen (name) - 3);
          g_ptr_array_add (entries, e);
        }
    }

  printf ("%-20s %-8s %-10s %-6s %-40s %s\n", "NAME", "KIND", "VERSION", "ABI", "STATE", "FILE");
  for (guint i = 0; i < entries->len; i++)
    {
      const Entry *e = entries->pdata[i];
      printf ("%-20s %-8s %-10s %-6s %-40s %s\n", e->name, e->kind, e->version ? e->version : "-",
              e->abi ? e->abi : "-", e->state, e->file ? e->file : "-");
    }
  return all_load;
}
