/* pr-analyzer-launch.h: how an analyzer of each kind is started on a job folder.
 *
 * The one place that turns a configured analyzer into a command line, for
 * the daemon's scheduler and for `preread analyze` alike, so that a vendor
 * testing with `preread analyze` runs exactly what the daemon will run:
 *   module    preread __run-module MODULE.so JOB-FOLDER   (the runner loads it)
 *   program   PROGRAM --job JOB-FOLDER
 *             preread __run-program JOB-FOLDER PROGRAM     (inputs="volumes")
 *   builtin   preread __test-analyzer JOB-FOLDER
 * "preread" is this very binary (/proc/self/exe), so a runner always
 * matches the daemon that started it.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"
#include "plugin/host/pr-supervisor.h"

G_BEGIN_DECLS

/**
 * pr_analyzer_file:
 * @analyzer: a configured analyzer
 *
 * Returns: (transfer full) (nullable): the file that is the analyzer (the
 * module found on the search path, the program, or this binary for
 * built-ins); NULL when a module cannot be found.
 */
char *pr_analyzer_file (const PrAnalyzerConfig *analyzer);

/**
 * pr_analyzer_argv:
 * @job_folder: the prepared job folder
 * @error: G_FILE_ERROR_NOENT when a module cannot be found
 *
 * Returns: (transfer full): the command line to run.
 */
GStrv pr_analyzer_argv (const PrAnalyzerConfig *analyzer, const char *job_folder, GError **error);

/* The limits an analyzer runs under, for pr_run_start(); @argv and the
 * folder strings are borrowed. */
PrRunSpec pr_analyzer_run_spec (const PrAnalyzerConfig *analyzer, const char *const *argv, const char *job_folder,
                                const char *log_file);

G_END_DECLS
