/* pr-module.c: dlopen, version gate and descriptor checks. */
#include "config.h"

#include "pr-module.h"

#include <string.h>

#include <gmodule.h>

G_DEFINE_QUARK (preread-module-error-quark, pr_module_error)

static gboolean
name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-'))
      return FALSE;
  return TRUE;
}

const PrereadAnalyzerDescriptor *
pr_module_open (const char *path, GError **error)
{
  /* Local binding: two vendors' modules may export the same symbols. */
  GModule *module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, PR_MODULE_ERROR, PR_MODULE_ERROR_OPEN, "cannot load %s: %s", path, g_module_error ());
      return NULL;
    }
  /* Never unloaded: threads it started and C++ static destructors make
   * unloading unsafe, and the runner exits after one job anyway. */
  g_module_make_resident (module);

  PrereadAnalyzerEntry entry = NULL;
  if (!g_module_symbol (module, PREREAD_ANALYZER_ENTRY_SYMBOL, (gpointer *) &entry) || entry == NULL)
    {
      g_set_error (error, PR_MODULE_ERROR, PR_MODULE_ERROR_NO_ENTRY,
                   "%s is not a preread analyzer: it exports no %s() (built with PREREAD_ANALYZER_DEFINE?)", path,
                   PREREAD_ANALYZER_ENTRY_SYMBOL);
      return NULL;
    }
  const PrereadAnalyzerDescriptor *d = entry ();
  if (d == NULL)
    {
      g_set_error (error, PR_MODULE_ERROR, PR_MODULE_ERROR_INVALID, "%s: its entry point returned no descriptor", path);
      return NULL;
    }
  if (d->abi_major != PREREAD_ANALYZER_ABI_MAJOR || d->abi_minor > PREREAD_ANALYZER_ABI_MINOR)
    {
      g_set_error (error, PR_MODULE_ERROR, PR_MODULE_ERROR_ABI,
                   "%s was built for analyzer ABI %u.%u; this preread speaks %d.%d (same major, minor up to %d)", path,
                   d->abi_major, d->abi_minor, PREREAD_ANALYZER_ABI_MAJOR, PREREAD_ANALYZER_ABI_MINOR,
                   PREREAD_ANALYZER_ABI_MINOR);
      return NULL;
    }
  /* Every 1.0 field must be there; a longer struct (a newer minor) is fine. */
  if (d->struct_size < offsetof (PrereadAnalyzerDescriptor, reserved) + sizeof d->reserved)
    {
      g_set_error (error, PR_MODULE_ERROR, PR_MODULE_ERROR_INVALID, "%s: its descriptor is %u bytes, too short", path,
                   d->struct_size);
      return NULL;
    }
  const char *problem = NULL;
  if (!name_is_valid (d->name))
    problem = "name must be 1-64 characters of [a-z0-9-]";
  else if (d->version == NULL || *d->version == '\0')
    problem = "version is missing";
  else if (d->vendor == NULL || d->license == NULL || d->description == NULL)
    problem = "vendor, license and description are required";
  else if (d->analyze == NULL)
    problem = "analyze() is missing";
  for (gsize i = 0; problem == NULL && i < G_N_ELEMENTS (d->reserved); i++)
    if (d->reserved[i] != NULL)
      problem = "reserved slots must be NULL";
  if (problem != NULL)
    {
      g_set_error (error, PR_MODULE_ERROR, PR_MODULE_ERROR_INVALID, "%s: invalid descriptor: %s", path, problem);
      return NULL;
    }
  return d;
}

static char *
try_folder (const char *folder, const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s.so", name);
  char *path = g_build_filename (folder, file, NULL);
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return path;
  g_free (path);
  return NULL;
}

GStrv
pr_module_search_folders (void)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const char *env = g_getenv ("PREREAD_ANALYZER_PATH");
  g_auto (GStrv) folders = g_strsplit (env ? env : "", ":", -1);
  for (char **f = folders; *f; f++)
    if (**f)
      g_strv_builder_add (builder, *f);
  g_strv_builder_add (builder, PREREAD_ANALYZERDIR);
  GStrv result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return result;
}

char *
pr_module_resolve (const char *name_or_path)
{
  if (strchr (name_or_path, '/') != NULL)
    return g_file_test (name_or_path, G_FILE_TEST_IS_REGULAR) ? g_canonicalize_filename (name_or_path, NULL) : NULL;
  g_auto (GStrv) folders = pr_module_search_folders ();
  for (char **f = folders; *f; f++)
    {
      char *found = try_folder (*f, name_or_path);
      if (found)
        return found;
    }
  return NULL;
}

const char *
pr_module_installed_folder (void)
{
  return PREREAD_ANALYZERDIR;
}
