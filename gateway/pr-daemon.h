/* pr-daemon.h: `preread serve`, the long-running gateway.
 *
 * Owns the spool, the index, the DICOM listener, study completion, routing
 * and the job scheduler, and ties them together on one GLib main loop: a
 * receiver stores an instance; the study tracker and the routing hear of it;
 * once a route's quiet period has passed it fires, and its jobs run.
 *
 * SIGHUP reloads the configuration file: a valid one takes effect for what
 * comes next (associations already open keep their settings); an invalid one
 * is refused with its errors logged, and the running configuration stays.
 * The bind address, port and storage folder need a restart to change.
 */
#pragma once

#include <glib.h>

#include "conf/pr-config.h"

G_BEGIN_DECLS

typedef struct _PrDaemon PrDaemon;

/**
 * pr_daemon_new:
 * @config: (transfer full): the configuration to start with
 * @config_path: (nullable): the file it came from, reloaded on SIGHUP;
 *   NULL when running on the embedded default
 * @overrides: (nullable): command-line settings, applied again after every reload
 *
 * Opens storage and index, recovers from any earlier crash (partial files
 * removed, spool and index reconciled, quiet timers re-armed, interrupted
 * jobs queued again) and binds the DICOM port.
 */
PrDaemon *pr_daemon_new (PrConfig *config, const char *config_path, const PrNodeOverrides *overrides,
                         GError **error);

/* Serves until SIGTERM or SIGINT; returns the process exit status. */
int pr_daemon_run (PrDaemon *daemon);

/* What SIGHUP does; TRUE when the new configuration took effect. */
gboolean pr_daemon_reload (PrDaemon *daemon);

void pr_daemon_free (PrDaemon *daemon);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrDaemon, pr_daemon_free)

G_END_DECLS
