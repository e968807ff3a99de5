/* pr-test-util.c: starting daemons, running tools, making data. */
#include "config.h"

#include "pr-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#define DAEMON_START_TIMEOUT_MS 20000

static const char *
env_or (const char *name, const char *fallback)
{
  const char *value = g_getenv (name);
  return value != NULL && *value != '\0' ? value : fallback;
}

const char *
pr_test_preread (void)
{
  return env_or ("PREREAD_BINARY", "./preread");
}

const char *
pr_test_srcdir (void)
{
  return env_or ("PREREAD_SRCDIR", ".");
}

const char *
pr_test_shared_data (void)
{
  static char *path;
  static gsize done;
  if (g_once_init_enter (&done))
    {
      const char *from_env = g_getenv ("PREREAD_SHARED_DATA");
      g_autofree char *candidate = from_env ? g_strdup (from_env)
                                            : g_build_filename (pr_test_srcdir (), "..", "shared", "data", NULL);
      if (g_file_test (candidate, G_FILE_TEST_IS_DIR))
        path = g_canonicalize_filename (candidate, NULL);
      g_once_init_leave (&done, 1);
    }
  return path;
}

gboolean
pr_test_have_program (const char *program)
{
  g_autofree char *found = g_find_program_in_path (program);
  return found != NULL;
}

static const char *
python (void)
{
  /* Debian's interpreter, where python3-pydicom is installed; a pyenv or
   * virtualenv python3 earlier on PATH usually lacks it. */
  if (g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    return env_or ("PYTHON3", "/usr/bin/python3");
  return env_or ("PYTHON3", "python3");
}

gboolean
pr_test_can_make_studies (void)
{
  static gsize done;
  static gboolean can;
  if (g_once_init_enter (&done))
    {
      can = pr_test_run (NULL, NULL, python (), "-c", "import pydicom, numpy", NULL) == 0;
      g_once_init_leave (&done, 1);
    }
  return can;
}

char *
pr_test_make_photo (const char *dir, const char *seed, char **png)
{
  g_autofree char *script = g_build_filename (pr_test_srcdir (), "plugin", "analyzers", "skin-lesion", "eval",
                                              "sl-make-photo.py", NULL);
  g_autofree char *base = g_strdup_printf ("photo-%s", seed);
  g_autofree char *dcm = g_strdup_printf ("%s/%s.dcm", dir, base);
  char *jpeg = g_strdup_printf ("%s/%s.jpg", dir, base);
  g_autofree char *err = NULL;
  int status = pr_test_run (NULL, &err, python (), script, "--out", dcm, "--kind", "atypical", "--seed", seed, NULL);
  if (status != 0)
    g_error ("sl-make-photo.py failed (%d): %s", status, err ? err : "");
  g_assert_cmpint (pr_test_run (NULL, NULL, "dcmj2pnm", "+oj", dcm, jpeg, NULL), ==, 0);
  if (png != NULL)
    {
      *png = g_strdup_printf ("%s/%s.png", dir, base);
      g_assert_cmpint (pr_test_run (NULL, NULL, "dcmj2pnm", "+on", dcm, *png, NULL), ==, 0);
    }
  return jpeg;
}

static void
openssl (const char *dir, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) "openssl");
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_autofree char *err = NULL;
  g_autofree char *here = g_get_current_dir ();
  g_assert_cmpint (g_chdir (dir), ==, 0);
  int status = pr_test_runv (NULL, &err, (const char *const *) argv->pdata);
  g_assert_cmpint (g_chdir (here), ==, 0);
  if (status != 0)
    g_error ("openssl %s failed: %s", args[0], err);
}

void
pr_test_make_tls (const char *dir)
{
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  const char *ca[] = { "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                       "-days", "2", "-subj", "/CN=preread test CA", NULL };
  const char *stranger[] = { "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out",
                             "stranger.crt", "-days", "2", "-subj", "/CN=stranger", NULL };
  openssl (dir, ca);
  openssl (dir, stranger);
  /* TLS clients check an IP address against the subject alternative name. */
  g_autofree char *extensions = pr_test_write_file (dir, "peer.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  const char *names[] = { "peer", "client" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *key = g_strdup_printf ("%s.key", names[i]);
      g_autofree char *csr = g_strdup_printf ("%s.csr", names[i]);
      g_autofree char *crt = g_strdup_printf ("%s.crt", names[i]);
      g_autofree char *subject = g_strdup_printf ("/CN=%s", i == 0 ? "127.0.0.1" : "preread");
      const char *request[] = { "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject,
                                NULL };
      const char *sign[] = { "x509", "-req", "-in", csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                             "-out", crt, "-days", "2", i == 0 ? "-extfile" : NULL, "peer.ext", NULL };
      openssl (dir, request);
      openssl (dir, sign);
    }
}

gboolean
pr_test_bundled_module_available (const char *name)
{
  const char *path = g_getenv ("PREREAD_ANALYZER_PATH");
  if (path == NULL || *path == '\0')
    {
      const char *builddir = g_getenv ("PREREAD_BUILDDIR");
      g_autofree char *libs = g_build_filename (builddir ? builddir : ".", "plugin", "analyzers", name, ".libs", NULL);
      g_setenv ("PREREAD_ANALYZER_PATH", libs, TRUE);
    }
  g_autofree char *out = NULL;
  if (pr_test_run (&out, NULL, pr_test_preread (), "analyze", "--list", NULL) < 0 || out == NULL)
    return FALSE;
  return strstr (out, name) != NULL;
}

const char *
pr_test_python (void)
{
  return python ();
}

char *
pr_test_make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("preread-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

void
pr_test_remove_tree (const char *path)
{
  if (path == NULL)
    return;
  pr_test_run (NULL, NULL, "rm", "-rf", "--", path, NULL);
}

int
pr_test_runv (char **out, char **err, const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  int status = 0;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | (out ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL) |
                                                   (err ? 0 : G_SPAWN_STDERR_TO_DEV_NULL),
                     NULL, NULL, out, err, &status, &error))
    {
      g_test_message ("cannot run %s: %s", argv[0], error->message);
      return -1;
    }
  if (WIFSIGNALED (status))
    return -1;
  return WEXITSTATUS (status);
}

int
pr_test_run (char **out, char **err, const char *program, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list args;
  va_start (args, program);
  for (const char *arg = program; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return pr_test_runv (out, err, (const char *const *) argv->pdata);
}

char *
pr_test_make_study (const char *dir, ...)
{
  g_autofree char *script = g_build_filename (pr_test_srcdir (), "tests", "tools", "pr-make-study.py", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) python ());
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, (gpointer) "--out");
  g_ptr_array_add (argv, (gpointer) dir);
  va_list args;
  va_start (args, dir);
  for (const char *arg = va_arg (args, const char *); arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_runv (&out, &err, (const char *const *) argv->pdata);
  if (status != 0)
    g_error ("pr-make-study.py failed (%d): %s", status, err ? err : "");
  return g_strstrip (g_steal_pointer (&out));
}

static void
spawn_daemon (PrTestDaemon *d)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (pr_test_preread ()));
  g_ptr_array_add (argv, g_strdup ("serve"));
  g_ptr_array_add (argv, g_strdup_printf ("--storage=%s", d->storage));
  g_ptr_array_add (argv, g_strdup ("--port=0"));
  g_ptr_array_add (argv, g_strdup ("--quiet-period=1"));
  g_ptr_array_add (argv, g_strdup ("--reserve-mb=0"));
  gboolean chose_http = FALSE;
  for (char **a = d->args; a && *a; a++)
    {
      chose_http |= g_str_has_prefix (*a, "--http");
      g_ptr_array_add (argv, g_strdup (*a));
    }
  /* Tests run side by side: the web server takes a free port unless asked. */
  if (!chose_http)
    g_ptr_array_add (argv, g_strdup ("--http=127.0.0.1:0"));
  g_ptr_array_add (argv, NULL);

  int log_fd = open (d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint (log_fd, >=, 0);
  g_autoptr (GError) error = NULL;
  gboolean ok = g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv->pdata, NULL,
                                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
                                                    G_SPAWN_STDOUT_TO_DEV_NULL,
                                                  pr_test_die_with_parent, NULL, -1, -1, log_fd, NULL, NULL, 0,
                                                  &d->pid, NULL, NULL, NULL, &error);
  close (log_fd);
  g_assert_no_error (error);
  g_assert_true (ok);

  /* Wait for this run's "ready" line and take the port from it. */
  gint64 deadline = g_get_monotonic_time () + DAEMON_START_TIMEOUT_MS * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *log = pr_test_daemon_log (d);
      const char *ready = log ? g_strrstr (log, "ready: AE ") : NULL;
      const char *listening = ready ? strstr (ready, "listening on ") : NULL;
      if (listening != NULL)
        {
          const char *colon = strchr (listening + strlen ("listening on "), ':');
          guint64 port = colon ? g_ascii_strtoull (colon + 1, NULL, 10) : 0;
          if (port > 0)
            {
              d->port = (guint16) port;
              g_clear_pointer (&d->web_url, g_free);
              const char *web = g_strrstr (log, "web: worklist and REST API at ");
              if (web != NULL && web < ready)
                {
                  web += strlen ("web: worklist and REST API at ");
                  d->web_url = g_strndup (web, strcspn (web, " \n"));
                }
              return;
            }
        }
      if (!pr_test_daemon_is_alive (d))
        g_error ("preread serve exited during startup; log:\n%s", log ? log : "");
      g_usleep (20000);
    }
  g_autofree char *log = pr_test_daemon_log (d);
  g_error ("preread serve did not become ready in time; log:\n%s", log ? log : "");
}

char *
pr_test_daemon_command (PrTestDaemon *d, const char *command, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *storage = g_strdup_printf ("--storage=%s", d->storage);
  g_ptr_array_add (argv, (gpointer) pr_test_preread ());
  g_ptr_array_add (argv, (gpointer) command);
  g_ptr_array_add (argv, storage);
  va_list args;
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_runv (&out, &err, (const char *const *) argv->pdata);
  return g_strdup_printf ("%d\n%s%s", status, out ? out : "", err ? err : "");
}

void
pr_test_die_with_parent (gpointer user_data)
{
  /* A test that aborts must not leave its daemons running. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

PrTestDaemon *
pr_test_daemon_start (const char *storage, const char *const *extra_args)
{
  PrTestDaemon *d = g_new0 (PrTestDaemon, 1);
  if (storage == NULL)
    {
      d->storage = pr_test_make_tmpdir ();
      d->owns_storage = TRUE;
    }
  else
    d->storage = g_strdup (storage);
  g_autofree char *logdir = pr_test_make_tmpdir ();
  d->log_path = g_build_filename (logdir, "preread.log", NULL);
  d->args = g_strdupv ((char **) extra_args);
  spawn_daemon (d);
  g_test_message ("preread serve pid %d on port %u, storage %s, log %s", (int) d->pid, d->port, d->storage,
                  d->log_path);
  return d;
}

static int
wait_for (GPid pid)
{
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return status;
}

void
pr_test_daemon_restart (PrTestDaemon *d)
{
  g_assert_false (pr_test_daemon_is_alive (d));
  /* The log holds only the current run, so that its "ready" line is the
   * new one; earlier runs are kept in LOG.old for diagnosis. */
  g_autofree char *old = g_strconcat (d->log_path, ".old", NULL);
  g_autofree char *previous = pr_test_daemon_log (d);
  if (previous != NULL)
    {
      g_autofree char *all_old = NULL;
      g_file_get_contents (old, &all_old, NULL, NULL);
      g_autofree char *joined = g_strconcat (all_old ? all_old : "", previous, NULL);
      g_file_set_contents (old, joined, -1, NULL);
    }
  g_unlink (d->log_path);
  d->port = 0;
  spawn_daemon (d);
}

int
pr_test_daemon_stop (PrTestDaemon *d)
{
  if (d->pid == 0)
    return -1;
  kill (d->pid, SIGTERM);
  int status = wait_for (d->pid);
  g_spawn_close_pid (d->pid);
  d->pid = 0;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void
pr_test_daemon_kill (PrTestDaemon *d)
{
  if (d->pid == 0)
    return;
  kill (d->pid, SIGKILL);
  wait_for (d->pid);
  g_spawn_close_pid (d->pid);
  d->pid = 0;
}

gboolean
pr_test_daemon_is_alive (PrTestDaemon *d)
{
  if (d->pid == 0)
    return FALSE;
  int status;
  pid_t r = waitpid (d->pid, &status, WNOHANG);
  if (r == d->pid)
    {
      g_spawn_close_pid (d->pid);
      d->pid = 0;
      return FALSE;
    }
  return TRUE;
}

char *
pr_test_daemon_log (PrTestDaemon *d)
{
  char *text = NULL;
  g_file_get_contents (d->log_path, &text, NULL, NULL);
  return text;
}

gboolean
pr_test_daemon_wait_for_log (PrTestDaemon *d, const char *needle, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  do
    {
      g_autofree char *log = pr_test_daemon_log (d);
      if (log != NULL && strstr (log, needle) != NULL)
        return TRUE;
      g_usleep (20000);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

char *
pr_test_daemon_target (PrTestDaemon *d)
{
  return g_strdup_printf ("PREREAD@127.0.0.1:%u", d->port);
}

char *
pr_test_daemon_port_string (PrTestDaemon *d)
{
  return g_strdup_printf ("%u", d->port);
}

void
pr_test_daemon_free (PrTestDaemon *d)
{
  if (d == NULL)
    return;
  if (pr_test_daemon_is_alive (d))
    pr_test_daemon_kill (d);
  /* Keep everything of a failed test for the post-mortem. */
  if (!g_test_failed ())
    {
      if (d->owns_storage)
        pr_test_remove_tree (d->storage);
      g_autofree char *logdir = g_path_get_dirname (d->log_path);
      pr_test_remove_tree (logdir);
    }
  else
    g_test_message ("kept for inspection: storage %s, log %s", d->storage, d->log_path);
  g_free (d->storage);
  g_free (d->log_path);
  g_free (d->web_url);
  g_strfreev (d->args);
  g_free (d);
}

/* Runs @sql on a read-only connection to @d's index and hands its first
 * row to @read (NULL when there is none). */
static void
query_index (PrTestDaemon *d, const char *sql, void (*read) (sqlite3_stmt *row, gpointer out), gpointer out)
{
  g_autofree char *path = g_build_filename (d->storage, "index.sqlite", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  int rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  read (rc == SQLITE_ROW ? stmt : NULL, out);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

static void
read_int (sqlite3_stmt *row, gpointer out)
{
  if (row == NULL)
    g_error ("the query returned no row");
  *(gint64 *) out = sqlite3_column_int64 (row, 0);
}

static void
read_text (sqlite3_stmt *row, gpointer out)
{
  *(char **) out = row ? g_strdup ((const char *) sqlite3_column_text (row, 0)) : NULL;
}

gint64
pr_test_index_int (PrTestDaemon *d, const char *sql)
{
  gint64 value = 0;
  query_index (d, sql, read_int, &value);
  return value;
}

char *
pr_test_index_text (PrTestDaemon *d, const char *sql)
{
  char *value = NULL;
  query_index (d, sql, read_text, &value);
  return value;
}

gboolean
pr_test_wait_index_int (PrTestDaemon *d, const char *sql, gint64 expected, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  do
    {
      if (pr_test_index_int (d, sql) == expected)
        return TRUE;
      g_usleep (50000);
    }
  while (g_get_monotonic_time () < deadline);
  g_test_message ("still %" G_GINT64_FORMAT " after %u ms, not %" G_GINT64_FORMAT ": %s", pr_test_index_int (d, sql),
                  timeout_ms, expected, sql);
  return FALSE;
}

char *
pr_test_write_file (const char *dir, const char *name, const char *content)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, content, -1, &error);
  g_assert_no_error (error);
  return path;
}

GBytes *
pr_test_dataset_bytes (const char *path)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &data, &length, NULL))
    return NULL;
  /* 128-byte preamble, "DICM", then (0002,0000) UL with the group length. */
  if (length < 144 || memcmp (data + 128, "DICM", 4) != 0)
    return g_bytes_new (data, length);
  const guint8 *p = (const guint8 *) data + 132;
  g_assert_true (p[0] == 0x02 && p[1] == 0x00 && p[2] == 0x00 && p[3] == 0x00);
  guint32 group_length = (guint32) p[8] | ((guint32) p[9] << 8) | ((guint32) p[10] << 16) | ((guint32) p[11] << 24);
  gsize start = 132 + 12 + group_length;
  g_assert_cmpuint (start, <=, length);
  return g_bytes_new (data + start, length - start);
}

static void
list_into (GPtrArray *files, const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        {
          list_into (files, path);
          g_free (path);
        }
      else
        g_ptr_array_add (files, path);
    }
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
pr_test_list_files (const char *dir)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  list_into (files, dir);
  g_ptr_array_sort (files, compare_strings);
  return files;
}

guint64
pr_test_rss_kib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  if (!g_file_get_contents (path, &status, NULL, NULL))
    return 0;
  const char *line = strstr (status, "VmRSS:");
  return line ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

int
pr_test_connect (guint16 port)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = { 0 };
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    {
      close (fd);
      return -1;
    }
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void
put_item (GByteArray *out, guint8 type, const void *value, guint16 length)
{
  guint8 head[4] = { type, 0, (guint8) (length >> 8), (guint8) length };
  g_byte_array_append (out, head, 4);
  g_byte_array_append (out, value, length);
}

static void
put_uid_item (GByteArray *out, guint8 type, const char *uid)
{
  put_item (out, type, uid, (guint16) strlen (uid));
}

static void
put_ae (GByteArray *out, const char *ae)
{
  char field[16];
  memset (field, ' ', sizeof field);
  memcpy (field, ae, MIN (strlen (ae), sizeof field));
  g_byte_array_append (out, (const guint8 *) field, sizeof field);
}

GBytes *
pr_test_associate_rq (const char *calling_ae, const char *called_ae)
{
  g_autoptr (GByteArray) body = g_byte_array_new ();
  const guint8 version[4] = { 0x00, 0x01, 0x00, 0x00 };
  g_byte_array_append (body, version, 4);
  put_ae (body, called_ae);
  put_ae (body, calling_ae);
  guint8 reserved[32] = { 0 };
  g_byte_array_append (body, reserved, sizeof reserved);
  put_uid_item (body, 0x10, "1.2.840.10008.3.1.1.1");

  g_autoptr (GByteArray) pc = g_byte_array_new ();
  const guint8 pc_head[4] = { 0x01, 0, 0, 0 };
  g_byte_array_append (pc, pc_head, 4);
  put_uid_item (pc, 0x30, "1.2.840.10008.1.1");
  put_uid_item (pc, 0x40, "1.2.840.10008.1.2");
  put_item (body, 0x20, pc->data, (guint16) pc->len);

  g_autoptr (GByteArray) user = g_byte_array_new ();
  const guint8 max_length[4] = { 0x00, 0x00, 0x40, 0x00 };
  put_item (user, 0x51, max_length, 4);
  put_uid_item (user, 0x52, "1.2.3.4.5.6.7.8");
  put_item (body, 0x50, user->data, (guint16) user->len);

  GByteArray *pdu = g_byte_array_new ();
  guint32 len = body->len;
  const guint8 head[6] = { 0x01, 0, (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8), (guint8) len };
  g_byte_array_append (pdu, head, 6);
  g_byte_array_append (pdu, body->data, body->len);
  return g_byte_array_free_to_bytes (pdu);
}

gboolean
pr_test_send_all (int fd, const void *bytes, gsize length)
{
  const char *p = bytes;
  while (length > 0)
    {
      ssize_t n = send (fd, p, length, MSG_NOSIGNAL);
      if (n <= 0)
        return FALSE;
      p += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* Reads exactly @length bytes unless EOF (returns 0) or timeout (-1). */
static int
read_exactly (int fd, guint8 *buffer, gsize length, gint64 deadline)
{
  gsize have = 0;
  while (have < length)
    {
      int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      struct pollfd p = { fd, POLLIN, 0 };
      if (left <= 0 || poll (&p, 1, left) <= 0)
        return -1;
      ssize_t n = recv (fd, buffer + have, length - have, 0);
      if (n <= 0)
        return 0;
      have += (gsize) n;
    }
  return 1;
}

int
pr_test_read_pdu (int fd, guint timeout_ms, guint8 head[10])
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  memset (head, 0, 10);
  int rc = read_exactly (fd, head, 6, deadline);
  if (rc <= 0)
    return rc;
  guint32 length = ((guint32) head[2] << 24) | ((guint32) head[3] << 16) | ((guint32) head[4] << 8) | head[5];
  /* Keep the first four bytes of the body (an RJ's result, source, reason)
   * and read the rest of the PDU off the wire. */
  g_autofree guint8 *body = g_malloc (MIN (length, 1u << 20) + 4);
  if (length > (1u << 20) || read_exactly (fd, body, length, deadline) <= 0)
    return -1;
  memcpy (head + 6, body, MIN (length, 4u));
  return head[0];
}

guint16
pr_test_free_port (void)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = { 0 };
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}
