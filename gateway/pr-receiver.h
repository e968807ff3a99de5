/* pr-receiver.h: the process that serves one incoming association.
 *
 * The daemon accepts a connection and starts `preread` again as a receiver
 * (a hidden subcommand) with the socket on descriptor 3. The receiver runs
 * the association with dicom/pr-association.h, makes each instance durable in
 * the spool, records it in the index, and tells the daemon on its stdout:
 *
 *   stored <study-id> <series-id> <instance-id>\n     one line per new instance
 *
 * Serving each association in its own process keeps a crash in the DICOM
 * parser (DCMTK has had several) to one association, and gives DCMTK the
 * accepted socket the only way 3.6.7 takes one: a process-wide global.
 */
#pragma once

#include <glib.h>

#include "conf/pr-node-config.h"

G_BEGIN_DECLS

#define PR_RECEIVER_SUBCOMMAND "__receive"
#define PR_RECEIVER_SOCKET_FD 3

/**
 * pr_receiver_build_argv:
 * @config: the node settings the receiver must apply
 * @association_id: the id the daemon recorded for this connection
 *
 * Returns: (transfer full): argv (argv[0] is a display name) for the receiver.
 */
GStrv pr_receiver_build_argv (const PrNodeConfig *config, gint64 association_id);

/* The receiver's main(); @argv starts with PR_RECEIVER_SUBCOMMAND. */
int pr_receiver_main (int argc, char **argv);

G_END_DECLS
