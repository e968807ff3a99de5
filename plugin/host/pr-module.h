/* pr-module.h: opening an analyzer module and checking its descriptor.
 *
 * Only ever called in a child process (the runner, or the probe that
 * `preread analyze --list` and the scheduler start): loading vendor code
 * runs its constructors, which may crash. Checks follow GStreamer's loader:
 * ABI version gate, every required field, reserved slots all NULL, the name
 * well formed. A module is never unloaded (its threads and C++ static
 * destructors make that unsafe).
 */
#pragma once

#include <glib.h>

#include "plugin/preread-analyzer.h"

G_BEGIN_DECLS

#define PR_MODULE_ERROR (pr_module_error_quark ())
typedef enum {
  PR_MODULE_ERROR_OPEN,         /* dlopen failed (missing file, missing library, bad ELF) */
  PR_MODULE_ERROR_NO_ENTRY,     /* no preread_analyzer_entry */
  PR_MODULE_ERROR_ABI,          /* built for an ABI this host does not speak */
  PR_MODULE_ERROR_INVALID,      /* a descriptor field is missing or malformed */
} PrModuleError;
GQuark pr_module_error_quark (void);

/**
 * pr_module_open:
 * @path: a shared object
 *
 * Returns: (transfer none): the module's descriptor, checked; NULL with @error.
 */
const PrereadAnalyzerDescriptor *pr_module_open (const char *path, GError **error);

/**
 * pr_module_resolve:
 * @name_or_path: a module name ("lung-nodule") or a path
 *
 * Looks a bare name up as NAME.so in, in order: the folders of
 * $PREREAD_ANALYZER_PATH (colon-separated), then the installed analyzer
 * folder.
 *
 * Returns: (transfer full) (nullable): the file, or NULL when not found.
 */
char *pr_module_resolve (const char *name_or_path);

/* Returns: (transfer full): the folders pr_module_resolve() searches, in order. */
GStrv pr_module_search_folders (void);

/* Returns: (transfer none): where installed modules go ($(pkglibdir)/analyzers). */
const char *pr_module_installed_folder (void);

G_END_DECLS
