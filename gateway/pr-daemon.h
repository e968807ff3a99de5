/* pr-daemon.h: `preread serve`, the long-running gateway.
 *
 * Owns the spool, the index, the DICOM listener and the study tracker, in
 * that order of creation, and ties them together on one GLib main loop:
 * a receiver stores an instance, the tracker hears of it, and once the
 * study's quiet period has passed the study completes.
 */
#pragma once

#include <glib.h>

#include "conf/pr-node-config.h"

G_BEGIN_DECLS

typedef struct _PrDaemon PrDaemon;

/**
 * pr_daemon_new:
 * @config: copied
 *
 * Opens storage and index, recovers from any earlier crash (temporary files
 * removed, spool and index reconciled, quiet timers re-armed) and binds the
 * DICOM port. Nothing is served until pr_daemon_run().
 */
PrDaemon *pr_daemon_new (const PrNodeConfig *config, GError **error);

/* Serves until SIGTERM or SIGINT; returns the process exit status. */
int pr_daemon_run (PrDaemon *daemon);

void pr_daemon_free (PrDaemon *daemon);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrDaemon, pr_daemon_free)

G_END_DECLS
