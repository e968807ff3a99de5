/* pr-test-util.h: what the test programs share.
 *
 * Tests start the real thing: `preread serve` on a loopback port it picks
 * itself, in a temporary storage folder, driven by DCMTK's command-line
 * tools and by data generated at test time (tests/tools/pr-make-study.py).
 * Anything missing from the machine makes the test skip with a message,
 * never pass silently.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Paths the build passes in through the environment (see Makefile-tests.am). */
const char *pr_test_preread (void);          /* the preread binary */
const char *pr_test_srcdir (void);           /* top source folder */

/* ../shared/data (or $PREREAD_SHARED_DATA), or NULL when absent. */
const char *pr_test_shared_data (void);

/* TRUE when @program is on PATH. */
gboolean pr_test_have_program (const char *program);

/* Skips the current test (with the reason) unless @program is on PATH. */
#define PR_TEST_REQUIRE(program)                                                    \
  G_STMT_START                                                                      \
  {                                                                                 \
    if (!pr_test_have_program (program))                                            \
      {                                                                             \
        g_test_skip ("needs " program " (Debian package: see README)");            \
        return;                                                                     \
      }                                                                             \
  }                                                                                 \
  G_STMT_END

/* Skips unless python3 with pydicom and numpy can generate test data. */
gboolean pr_test_can_make_studies (void);
#define PR_TEST_REQUIRE_STUDY_MAKER()                                               \
  G_STMT_START                                                                      \
  {                                                                                 \
    if (!pr_test_can_make_studies ())                                               \
      {                                                                             \
        g_test_skip ("needs python3 with pydicom and numpy "                       \
                     "(Debian: python3-pydicom python3-numpy)");                    \
        return;                                                                     \
      }                                                                             \
  }                                                                                 \
  G_STMT_END

/**
 * pr_test_make_photo:
 * @dir: where to write
 * @seed: which synthetic lesion (plugin/analyzers/skin-lesion/eval/sl-make-photo.py)
 * @png: (out) (optional): the same photo as PNG
 *
 * A dermatology photo as a baseline JPEG (DCMTK's dcmj2pnm +oj), as a
 * phone would give it. Needs the study maker and dcmj2pnm.
 * Returns: (transfer full): the JPEG's path. Fails the test on error.
 */
char *pr_test_make_photo (const char *dir, const char *seed, char **png);

/* Makes @dir with a test CA (ca.crt), a peer certificate for 127.0.0.1
 * (peer.key, peer.crt) and a client certificate (client.key, client.crt)
 * signed by it, and a self-signed stranger.crt. Needs openssl. */
void pr_test_make_tls (const char *dir);

/* Points $PREREAD_ANALYZER_PATH at the build tree's bundled analyzer
 * @name (plugin/analyzers/NAME/.libs) unless it is set, and says whether
 * `preread analyze --list` then finds the module. */
gboolean pr_test_bundled_module_available (const char *name);

/* The python3 that runs the project's data makers (Debian's, when there). */
const char *pr_test_python (void);

/* A fresh temporary folder, removed by pr_test_remove_tree(). */
char *pr_test_make_tmpdir (void);
void pr_test_remove_tree (const char *path);

/* Runs tests/tools/pr-make-study.py --out @dir with the extra arguments
 * (NULL-terminated). Returns the Study Instance UID. Fails the test on error. */
char *pr_test_make_study (const char *dir, ...) G_GNUC_NULL_TERMINATED;

/* Runs a program (NULL-terminated argv, no shell) and waits. Output is
 * captured when @out / @err are not NULL. Returns the exit status, or -1
 * when it died by a signal. */
int pr_test_run (char **out, char **err, const char *program, ...) G_GNUC_NULL_TERMINATED;
int pr_test_runv (char **out, char **err, const char *const *argv);

/* A g_spawn child setup: the child gets SIGTERM when the test dies. */
void pr_test_die_with_parent (gpointer user_data);

/* A running `preread serve`. */
typedef struct {
  GPid pid;
  char *storage;                /* its storage folder */
  guint16 port;
  char *log_path;               /* its stderr */
  GStrv args;                   /* extra arguments, kept for restarts */
  char *web_url;                /* "http://127.0.0.1:PORT/", NULL when off */
  gboolean owns_storage;
} PrTestDaemon;

/* Starts `preread serve --port 0 --quiet-period 1 --reserve-mb 0` plus
 * @extra_args (NULL-terminated, may be NULL) on @storage (NULL: a new
 * temporary folder) and waits until it logs "ready". Fails the test if it
 * does not come up within 20 s. */
PrTestDaemon *pr_test_daemon_start (const char *storage, const char *const *extra_args);

/* Starts it again on the same storage and arguments (after a kill). */
void pr_test_daemon_restart (PrTestDaemon *daemon);

/* SIGTERM, then waits; returns the exit status. */
int pr_test_daemon_stop (PrTestDaemon *daemon);

/* SIGKILL, then waits: a crash. */
void pr_test_daemon_kill (PrTestDaemon *daemon);

gboolean pr_test_daemon_is_alive (PrTestDaemon *daemon);

/* Its log so far. */
char *pr_test_daemon_log (PrTestDaemon *daemon);

/* Waits until the log contains @needle; FALSE on timeout. */
gboolean pr_test_daemon_wait_for_log (PrTestDaemon *daemon, const char *needle, guint timeout_ms);

/* "PREREAD@127.0.0.1:PORT" for preread send. */
char *pr_test_daemon_target (PrTestDaemon *daemon);

/* The port as a string, for DCMTK tools. */
char *pr_test_daemon_port_string (PrTestDaemon *daemon);

/**
 * pr_test_daemon_command:
 * @command: "jobs", "outbox"...
 * @first: NULL-terminated further arguments
 *
 * Runs `preread COMMAND --storage=STORAGE ARGS...` on the daemon's storage.
 *
 * Returns: (transfer full): "STATUS\n" then its stdout and stderr.
 */
char *pr_test_daemon_command (PrTestDaemon *daemon, const char *command, const char *first, ...)
  G_GNUC_NULL_TERMINATED;

/* Kills it if running and removes its storage if it made it. */
void pr_test_daemon_free (PrTestDaemon *daemon);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrTestDaemon, pr_test_daemon_free)

/* One integer from the daemon's index (read-only connection); fails the
 * test when the query fails. */
gint64 pr_test_index_int (PrTestDaemon *daemon, const char *sql);

/* One text value from the daemon's index; NULL when no row or NULL. */
char *pr_test_index_text (PrTestDaemon *daemon, const char *sql);

/* Waits until the integer @sql returns equals @expected; FALSE on timeout. */
gboolean pr_test_wait_index_int (PrTestDaemon *daemon, const char *sql, gint64 expected, guint timeout_ms);

/* Writes @content to @dir/@name; returns the path. */
char *pr_test_write_file (const char *dir, const char *name, const char *content);

/* The data set of a Part 10 file: the bytes after its meta information. */
GBytes *pr_test_dataset_bytes (const char *path);

/* Every regular file under @dir, sorted. */
GPtrArray *pr_test_list_files (const char *dir);

/* Memory the process uses now (VmRSS) in KiB, or 0. */
guint64 pr_test_rss_kib (GPid pid);

G_END_DECLS

G_BEGIN_DECLS

/* Raw upper-layer access, for tests of what DCMTK's tools cannot do:
 * holding associations open, sending malformed or oversized PDUs. */

/* A blocking TCP connection to 127.0.0.1:@port, or -1. */
int pr_test_connect (guint16 port);

/* A well-formed A-ASSOCIATE-RQ proposing Verification (PS3.8 9.3.2). */
GBytes *pr_test_associate_rq (const char *calling_ae, const char *called_ae);

/* Reads one whole PDU: returns its type (0x02 AC, 0x03 RJ, 0x07 abort) with
 * its first 10 bytes in @head; 0 on EOF, -1 on timeout or an absurd length. */
int pr_test_read_pdu (int fd, guint timeout_ms, guint8 head[10]);

/* A loopback port nobody listens on right now (for peers that cannot pick
 * their own, such as DCMTK's storescp). */
guint16 pr_test_free_port (void);

/* Sends all of @bytes; FALSE when the peer closed. */
gboolean pr_test_send_all (int fd, const void *bytes, gsize length);

G_END_DECLS
