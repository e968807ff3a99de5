/* pr-listener.h: the DICOM port: accepts connections and starts receivers.
 *
 * Runs on the daemon's main loop. Each accepted connection gets its own
 * receiver process (pr-receiver.h) up to the association limit; one more gets
 * a transient A-ASSOCIATE-RJ (local limit exceeded) straight away, without
 * its request being read.
 */
#pragma once

#include <gio/gio.h>

#include "conf/pr-node-config.h"
#include "pr-index.h"

G_BEGIN_DECLS

typedef struct _PrListener PrListener;

typedef struct {
  /* A receiver stored a new instance in this study. */
  void (*instance_stored) (gint64 study_id, gpointer user_data);
  /* A receiver process ended; @abnormal when it was killed or crashed. */
  void (*receiver_exited) (gint64 association_id, gboolean abnormal, gpointer user_data);
} PrListenerEvents;

/**
 * pr_listener_new:
 * @config: copied; later changes go through pr_listener_set_config()
 * @index: (transfer none): must outlive the listener
 *
 * Binds the port and starts accepting on the thread-default main context.
 *
 * Returns: (transfer full): the listener, or NULL when the port cannot be bound.
 */
PrListener *pr_listener_new (const PrNodeConfig *config, PrIndex *index, const PrListenerEvents *events,
                             gpointer user_data, GError **error);

/* The port actually bound (useful with port 0). */
guint16 pr_listener_get_port (PrListener *listener);

/* Receivers running now. */
guint pr_listener_get_n_active (PrListener *listener);

/* Start time (monotonic) of the oldest running receiver, or G_MAXINT64. */
gint64 pr_listener_get_oldest_active_start (PrListener *listener);

/* Applies new limits, timeouts and AE settings to associations accepted from
 * now on; the bound address and port do not change. */
void pr_listener_set_config (PrListener *listener, const PrNodeConfig *config);

/* Stops accepting. Running receivers go on until they finish. */
void pr_listener_stop (PrListener *listener);

/* Sends SIGTERM to every running receiver. */
void pr_listener_terminate_receivers (PrListener *listener);

void pr_listener_free (PrListener *listener);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrListener, pr_listener_free)

G_END_DECLS
