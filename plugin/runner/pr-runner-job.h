/* pr-runner-job.h: the host side of preread-analyzer.h, inside the runner.
 *
 * The runner process (`preread __run-module`) makes one PrereadJob from
 * job.json and hands the module pr_runner_host(): every host function the
 * ABI promises, answered from the job's files (attributes read from the
 * instances' headers, volumes decoded on first request) and collecting what
 * the module reports. What the module receives stays valid until the job is
 * freed; what it passes in is copied at once.
 *
 * Host functions may be called from any of the module's threads: one lock
 * guards the job.
 */
#pragma once

#include <signal.h>

#include <glib.h>

#include "plugin/host/pr-job-description.h"
#include "plugin/preread-analyzer.h"

G_BEGIN_DECLS

/**
 * pr_runner_job_new:
 * @description: (transfer full): the job
 * @scratch_dir: a folder the module may use
 * @progress_fd: where "progress FRACTION MESSAGE" lines go (the supervisor's pipe)
 * @cancelled: set (by a SIGTERM handler) when the job is to stop
 */
PrereadJob *pr_runner_job_new (PrJobDescription *description, const char *scratch_dir, int progress_fd,
                               volatile sig_atomic_t *cancelled);

/* Returns: (transfer none): the host functions, version 1.0 of the ABI. */
const PrereadHost *pr_runner_host (void);

/**
 * pr_runner_job_finish:
 * @status: what analyze() (or init()) returned
 * @analyzer: (nullable): the module's descriptor, recorded in the document
 *
 * Decides the job's outcome (decline() and fail() calls take precedence over
 * @status) and writes the findings document to the job's findings file.
 */
gboolean pr_runner_job_finish (PrereadJob *job, PrereadStatus status, const char *status_source,
                               const PrereadAnalyzerDescriptor *analyzer, GError **error);

/* Returns: (transfer none): the name of a status ("PREREAD_ERROR_BAD_INPUT"), or NULL. */
const char *pr_runner_status_name (PrereadStatus status);

void pr_runner_job_free (PrereadJob *job);

G_END_DECLS
