/* pr-analyzer-catalog.h: which analyzers exist, and in what state (`preread analyze --list`).
 *
 * The configured analyzers and every module on the search path, each probed
 * in a child process (`preread __probe-module`: loading a module runs its
 * code) for its name, version and ABI, with its quarantine state from the
 * gateway's index when there is one.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"

G_BEGIN_DECLS

/* Prints the catalog on stdout. Returns: FALSE when an analyzer the
 * configuration names cannot be loaded. */
gboolean pr_analyzer_catalog_print (const PrConfig *config);

/**
 * pr_analyzer_catalog_check:
 * @analyzer: a configured analyzer
 * @problem: (out) (transfer full): why it cannot run, when it cannot
 *
 * Whether the analyzer can be started: a module is found and loads (probed
 * in a child), a program is an executable file.
 *
 * Returns: (transfer full) (nullable): what it is ("version 2.1.0, ABI 1.0"),
 * or NULL with @problem set.
 */
char *pr_analyzer_catalog_check (const PrAnalyzerConfig *analyzer, char **problem);

G_END_DECLS
