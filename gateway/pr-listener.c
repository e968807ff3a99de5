/* pr-listener.c: accepting DICOM connections and supervising receivers. */
#include "config.h"

#include "pr-listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include <gio/gunixinputstream.h>

#include "dicom/pr-pdu.h"
#include "pr-receiver.h"

/* How long a refused peer may keep talking before we close on it, and how
 * many such peers we keep around at once. */
#define REFUSAL_LINGER_MS 2000
#define MAX_LINGERING_REFUSALS 64

typedef struct _Receiver Receiver;

struct _PrListener {
  PrNodeConfig *config;
  PrIndex *index;
  PrListenerEvents events;
  gpointer user_data;
  GSocketService *service;
  guint16 port;
  GHashTable *receivers;        /* Receiver* set */
  guint lingering_refusals;
};

struct _Receiver {
  PrListener *listener;
  gint64 association_id;
  GPid pid;
  gint64 started_us;
  GDataInputStream *events;
  GCancellable *cancellable;
  gboolean exited;
  gboolean events_done;
  gboolean abnormal;
};

static void
receiver_finish_if_done (Receiver *r)
{
  if (!r->exited || !r->events_done)
    return;
  PrListener *self = r->listener;
  g_hash_table_remove (self->receivers, r);
  if (self->events.receiver_exited != NULL)
    self->events.receiver_exited (r->association_id, r->abnormal, self->user_data);
  g_clear_object (&r->events);
  g_clear_object (&r->cancellable);
  g_free (r);
}

static void
on_event_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Receiver *r = user_data;
  g_autoptr (GError) error = NULL;
  gsize length = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, &length, &error);
  if (line == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("reading from receiver %" G_GINT64_FORMAT ": %s", r->association_id, error->message);
      r->events_done = TRUE;
      receiver_finish_if_done (r);
      return;
    }

  gint64 study_id = 0, series_id = 0, instance_id = 0;
  if (sscanf (line, "stored %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &study_id,
              &series_id, &instance_id) == 3)
    {
      if (r->listener->events.instance_stored != NULL)
        r->listener->events.instance_stored (study_id, r->listener->user_data);
    }
  else
    g_warning ("receiver %" G_GINT64_FORMAT " said something unexpected", r->association_id);

  g_data_input_stream_read_line_async (r->events, G_PRIORITY_DEFAULT, r->cancellable, on_event_line, r);
}

static void
on_receiver_exit (GPid pid, gint wait_status, gpointer user_data)
{
  Receiver *r = user_data;
  g_spawn_close_pid (pid);
  r->exited = TRUE;
  if (WIFSIGNALED (wait_status))
    {
      r->abnormal = TRUE;
      g_warning ("receiver for association %" G_GINT64_FORMAT " was killed by signal %d (%s)",
                 r->association_id, WTERMSIG (wait_status), g_strsignal (WTERMSIG (wait_status)));
    }
  else if (WEXITSTATUS (wait_status) != 0)
    {
      r->abnormal = TRUE;
      g_warning ("receiver for association %" G_GINT64_FORMAT " failed with exit status %d",
                 r->association_id, WEXITSTATUS (wait_status));
    }
  receiver_finish_if_done (r);
}

static void
setup_receiver_child (gpointer user_data)
{
  /* Runs in the child between fork and exec: a receiver must not outlive
   * the daemon that counts it (PR_SET_PDEATHSIG fires when the spawning
   * thread exits, and we always spawn from the main thread). */
#if defined(HAVE_PRCTL) && defined(PR_SET_PDEATHSIG)
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

static gboolean
start_receiver (PrListener *self, int socket_fd, const char *peer, GError **error)
{
  gint64 association_id = pr_index_begin_association (self->index, peer, error);
  if (association_id == 0)
    return FALSE;

  g_auto (GStrv) receiver_argv = pr_receiver_build_argv (self->config, association_id);
  /* FILE_AND_ARGV_ZERO: run /proc/self/exe, so the receiver is this very
   * binary even if the file on disk has been replaced since the daemon
   * started; receiver_argv[0] is only the name ps shows. */
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_strv_builder_add (builder, "/proc/self/exe");
  g_strv_builder_addv (builder, (const char **) receiver_argv);
  g_auto (GStrv) argv = g_strv_builder_end (builder);
  int source_fds[] = { socket_fd };
  int target_fds[] = { PR_RECEIVER_SOCKET_FD };
  GPid pid = 0;
  int stdout_fd = -1;
  if (!g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_FILE_AND_ARGV_ZERO |
                                           G_SPAWN_STDIN_FROM_DEV_NULL | G_SPAWN_CLOEXEC_PIPES,
                                         setup_receiver_child, NULL, -1, -1, -1, source_fds, target_fds, 1,
                                         &pid, NULL, &stdout_fd, NULL, error))
    return FALSE;

  Receiver *r = g_new0 (Receiver, 1);
  r->listener = self;
  r->association_id = association_id;
  r->pid = pid;
  r->started_us = g_get_monotonic_time ();
  r->cancellable = g_cancellable_new ();
  g_autoptr (GInputStream) pipe = g_unix_input_stream_new (stdout_fd, TRUE);
  r->events = g_data_input_stream_new (pipe);
  g_hash_table_add (self->receivers, r);
  g_child_watch_add (pid, on_receiver_exit, r);
  g_data_input_stream_read_line_async (r->events, G_PRIORITY_DEFAULT, r->cancellable, on_event_line, r);
  return TRUE;
}

typedef struct {
  PrListener *listener;
  GSocketConnection *connection;
  GSource *readable;
  GSource *timeout;
} Refusal;

static void
refusal_close (Refusal *refusal)
{
  g_source_destroy (refusal->readable);
  g_source_unref (refusal->readable);
  g_source_destroy (refusal->timeout);
  g_source_unref (refusal->timeout);
  g_io_stream_close (G_IO_STREAM (refusal->connection), NULL, NULL);
  g_object_unref (refusal->connection);
  refusal->listener->lingering_refusals--;
  g_free (refusal);
}

static gboolean
on_refusal_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  char sink[4096];
  gssize n = g_socket_receive (socket, sink, sizeof sink, NULL, NULL);
  if (n > 0)
    return G_SOURCE_CONTINUE;
  refusal_close (user_data); /* EOF or error: the peer got the message */
  return G_SOURCE_REMOVE;
}

static gboolean
on_refusal_timeout (gpointer user_data)
{
  refusal_close (user_data);
  return G_SOURCE_REMOVE;
}

/* Answers A-ASSOCIATE-RJ (transient, local limit exceeded) without reading
 * the request, then drains what the peer still sends for a moment: closing a
 * socket with unread data makes the kernel send RST, and an RST can overtake
 * our reject in the peer's buffer. */
static void
refuse_busy (PrListener *self, GSocketConnection *connection, const char *peer)
{
  guint8 pdu[PR_PDU_ASSOCIATE_RJ_SIZE];
  pr_pdu_build_associate_rj (pdu, PR_REJECT_TRANSIENT, PR_REJECT_SOURCE_PRESENTATION,
                             PR_REJECT_REASON_LOCAL_LIMIT_EXCEEDED);
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_socket_set_blocking (socket, FALSE);
  g_socket_send (socket, (const char *) pdu, sizeof pdu, NULL, NULL);
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  g_message ("association from %s refused: all %u association slots are busy", peer,
             self->config->max_associations);

  if (self->lingering_refusals >= MAX_LINGERING_REFUSALS)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return;
    }
  Refusal *refusal = g_new0 (Refusal, 1);
  refusal->listener = self;
  refusal->connection = g_object_ref (connection);
  refusal->readable = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (refusal->readable, G_SOURCE_FUNC (on_refusal_readable), refusal, NULL);
  g_source_attach (refusal->readable, NULL);
  refusal->timeout = g_timeout_source_new (REFUSAL_LINGER_MS);
  g_source_set_callback (refusal->timeout, on_refusal_timeout, refusal, NULL);
  g_source_attach (refusal->timeout, NULL);
  self->lingering_refusals++;
}

static char *
describe_peer (GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) address = g_socket_connection_get_remote_address (connection, NULL);
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("?");
  g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  return g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source_object, gpointer user_data)
{
  PrListener *self = user_data;
  g_autofree char *peer = describe_peer (connection);

  if (g_hash_table_size (self->receivers) >= self->config->max_associations)
    {
      refuse_busy (self, connection, peer);
      return TRUE;
    }

  GSocket *socket = g_socket_connection_get_socket (connection);
  /* Nagle's algorithm delays every small PDU (a C-STORE-RSP) by up to 40 ms. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  /* Keepalive finds peers that vanished without a FIN (half-open). */
  g_socket_set_keepalive (socket, TRUE);

  int fd = fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 10);
  /* GSocket made the socket non-blocking; that flag belongs to the open
   * file, which the receiver shares, and DCMTK expects blocking reads. */
  if (fd >= 0)
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  g_autoptr (GError) error = NULL;
  if (fd < 0)
    g_warning ("cannot hand over the connection from %s: %s", peer, g_strerror (errno));
  else if (!start_receiver (self, fd, peer, &error))
    g_warning ("cannot start a receiver for %s: %s", peer, error->message);
  if (fd >= 0)
    close (fd);
  /* Our copy of the socket closes here; the receiver holds its own. */
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

PrListener *
pr_listener_new (const PrNodeConfig *config, PrIndex *index, const PrListenerEvents *events,
                 gpointer user_data, GError **error)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (config->bind_address);
  if (address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bind address \"%s\" is not an IP address",
                   config->bind_address);
      return NULL;
    }

  PrListener *self = g_new0 (PrListener, 1);
  self->config = pr_node_config_copy (config);
  self->index = index;
  if (events != NULL)
    self->events = *events;
  self->user_data = user_data;
  self->receivers = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (self->service), 128);

  g_autoptr (GSocketAddress) bind_to = g_inet_socket_address_new (address, config->port);
  g_autoptr (GSocketAddress) bound = NULL;
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), bind_to, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, error))
    {
      g_prefix_error (error, "cannot listen on %s:%u: ", config->bind_address, config->port);
      pr_listener_free (self);
      return NULL;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  return self;
}

guint16
pr_listener_get_port (PrListener *self)
{
  return self->port;
}

guint
pr_listener_get_n_active (PrListener *self)
{
  return g_hash_table_size (self->receivers);
}

gint64
pr_listener_get_oldest_active_start (PrListener *self)
{
  gint64 oldest = G_MAXINT64;
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, self->receivers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    oldest = MIN (oldest, ((Receiver *) key)->started_us);
  return oldest;
}

void
pr_listener_set_config (PrListener *self, const PrNodeConfig *config)
{
  pr_node_config_free (self->config);
  self->config = pr_node_config_copy (config);
}

void
pr_listener_stop (PrListener *self)
{
  if (self->service == NULL)
    return;
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
}

void
pr_listener_terminate_receivers (PrListener *self)
{
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, self->receivers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    kill (((Receiver *) key)->pid, SIGTERM);
}

void
pr_listener_free (PrListener *self)
{
  if (self == NULL)
    return;
  pr_listener_stop (self);
  g_clear_object (&self->service);
  /* Receivers still running are orphaned on purpose: they die with us
   * (PR_SET_PDEATHSIG), and their sources hold no reference to us. */
  if (self->receivers != NULL)
    {
      GHashTableIter iter;
      gpointer key;
      g_hash_table_iter_init (&iter, self->receivers);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_cancellable_cancel (((Receiver *) key)->cancellable);
      g_hash_table_unref (self->receivers);
    }
  pr_node_config_free (self->config);
  g_free (self);
}
