/* pr-mllp.c: one message out, one answer in, each within its time. */
#include "config.h"

#include "pr-mllp.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

struct _PrMllpClient {
  char *host;
  guint16 port;
  guint connect_timeout_s;
  guint ack_timeout_s;
  GSocketClient *client;
  GSocketConnection *connection; /* (nullable) */
  gboolean failed_to_connect;
};

PrMllpClient *
pr_mllp_client_new (const char *host, guint16 port, guint connect_timeout_s, guint ack_timeout_s)
{
  PrMllpClient *self = g_new0 (PrMllpClient, 1);
  self->host = g_strdup (host);
  self->port = port;
  self->connect_timeout_s = MAX (connect_timeout_s, 1);
  self->ack_timeout_s = MAX (ack_timeout_s, 1);
  self->client = g_socket_client_new ();
  g_socket_client_set_timeout (self->client, self->connect_timeout_s);
  /* An http_proxy in the environment is for web traffic: MLLP goes straight to the peer. */
  g_socket_client_set_enable_proxy (self->client, FALSE);
  return self;
}

static void
disconnect (PrMllpClient *self)
{
  if (self->connection == NULL)
    return;
  g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_clear_object (&self->connection);
}

void
pr_mllp_client_free (PrMllpClient *self)
{
  if (self == NULL)
    return;
  disconnect (self);
  g_clear_object (&self->client);
  g_free (self->host);
  g_free (self);
}

gboolean
pr_mllp_client_failed_to_connect (PrMllpClient *self)
{
  return self->failed_to_connect;
}

static gboolean
connect_now (PrMllpClient *self, GError **error)
{
  g_autoptr (GSocketConnectable) address = g_network_address_new (self->host, self->port);
  g_autoptr (GError) local = NULL;
  self->connection = g_socket_client_connect (self->client, address, NULL, &local);
  if (self->connection == NULL)
    {
      self->failed_to_connect = TRUE;
      g_set_error (error, local->domain, local->code, "cannot connect to %s:%u: %s", self->host, self->port,
                   local->message);
      return FALSE;
    }
  GSocket *socket = g_socket_connection_get_socket (self->connection);
  /* Blocking sends give up after the answer's time too; reads wait on
   * their own deadline (read_frame). */
  g_socket_set_timeout (socket, self->ack_timeout_s);
  g_autoptr (GError) option_error = NULL;
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &option_error))
    g_printerr ("preread deliver: cannot set TCP_NODELAY: %s\n", option_error->message);
  return TRUE;
}

/* A kept connection the peer has closed (or written to unasked) since the
 * last answer is no use: readable now means EOF or stray bytes. */
static gboolean
is_stale (PrMllpClient *self)
{
  GSocket *socket = g_socket_connection_get_socket (self->connection);
  return g_socket_condition_check (socket, G_IO_IN | G_IO_HUP | G_IO_ERR) != 0;
}

static gboolean
send_all (PrMllpClient *self, GBytes *bytes, GError **error)
{
  GSocket *socket = g_socket_connection_get_socket (self->connection);
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  while (length > 0)
    {
      gssize n = g_socket_send (socket, data, length, NULL, error);
      if (n < 0)
        return FALSE;
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

GBytes *
pr_mllp_frame (const char *message, gsize length)
{
  GByteArray *frame = g_byte_array_sized_new ((guint) length + 3);
  const guint8 start = PR_MLLP_START, end[] = { PR_MLLP_END, PR_MLLP_END2 };
  g_byte_array_append (frame, &start, 1);
  g_byte_array_append (frame, (const guint8 *) message, (guint) length);
  g_byte_array_append (frame, end, sizeof end);
  return g_byte_array_free_to_bytes (frame);
}

GBytes *
pr_mllp_unframe (const guint8 *data, gsize length, gboolean *complete, GError **error)
{
  *complete = FALSE;
  gsize start = 0;
  while (start < length && (data[start] == '\r' || data[start] == '\n'))
    start++;
  if (start == length)
    return NULL;
  if (data[start] != PR_MLLP_START)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the answer is not an MLLP frame (it starts with byte 0x%02x, not 0x0b)", data[start]);
      return NULL;
    }
  const guint8 *end = memchr (data + start + 1, PR_MLLP_END, length - start - 1);
  if (end == NULL || end + 1 == data + length)
    return NULL;
  if (end[1] != PR_MLLP_END2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the answer's MLLP frame ends with 0x1c 0x%02x, not 0x1c 0x0d", end[1]);
      return NULL;
    }
  *complete = TRUE;
  return g_bytes_new (data + start + 1, (gsize) (end - data - start - 1));
}

/* Reads one framed answer within ack-timeout; @received counts its bytes. */
static GBytes *
read_frame (PrMllpClient *self, gsize *received, GError **error)
{
  GSocket *socket = g_socket_connection_get_socket (self->connection);
  gint64 deadline = g_get_monotonic_time () + (gint64) self->ack_timeout_s * G_USEC_PER_SEC;
  g_autoptr (GByteArray) buffer = g_byte_array_new ();
  *received = 0;
  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      g_autoptr (GError) local = NULL;
      if (left <= 0 || !g_socket_condition_timed_wait (socket, G_IO_IN, MAX (left, 1), NULL, &local))
        {
          if (local == NULL || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s:%u sent no %sanswer within %u s", self->host,
                         self->port, buffer->len ? "whole " : "", self->ack_timeout_s);
          else
            g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      guint8 chunk[4096];
      gssize n = g_socket_receive (socket, (char *) chunk, sizeof chunk, NULL, &local);
      if (n < 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        continue;
      if (n < 0)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "%s:%u closed the connection %s", self->host, self->port,
                       buffer->len ? "in the middle of its answer" : "without answering");
          return NULL;
        }
      g_byte_array_append (buffer, chunk, (guint) n);
      *received = buffer->len;
      if (buffer->len > PR_MLLP_MAX_REPLY)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the answer is over %d bytes without ending its frame",
                       PR_MLLP_MAX_REPLY);
          return NULL;
        }
      gboolean complete = FALSE;
      g_autoptr (GError) frame_error = NULL;
      GBytes *message = pr_mllp_unframe (buffer->data, buffer->len, &complete, &frame_error);
      if (frame_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&frame_error));
          return NULL;
        }
      if (complete)
        return message;
    }
}

GBytes *
pr_mllp_client_exchange (PrMllpClient *self, const char *message, gsize length, GError **error)
{
  self->failed_to_connect = FALSE;
  g_autoptr (GBytes) frame = pr_mllp_frame (message, length);
  for (int attempt = 0;; attempt++)
    {
      if (self->connection != NULL && is_stale (self))
        disconnect (self);
      gboolean reused = self->connection != NULL;
      if (!reused && !connect_now (self, error))
        return NULL;
      g_autoptr (GError) local = NULL;
      gsize received = 0;
      if (send_all (self, frame, &local))
        {
          GBytes *reply = read_frame (self, &received, &local);
          if (reply != NULL)
            return reply;
        }
      /* Whatever happened, the stream's state is unknown now. */
      disconnect (self);
      /* A kept connection closed under us before any answer: once more,
       * on a new one. (If the peer had read the message, it gets it twice,
       * with the same control ID, which is what HL7 receivers deduplicate
       * on.) */
      gboolean closed = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
                        g_error_matches (local, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
      if (reused && attempt == 0 && received == 0 && closed)
        continue;
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
}
