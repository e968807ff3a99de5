/* pr-test-orthanc.h: a real PACS for the tests: Orthanc on loopback.
 *
 * Started with its own temporary storage, DICOM and HTTP ports picked free,
 * remote access off; inspected through its REST API (with curl). Tests that
 * need it skip when Orthanc (Debian package orthanc) or curl is missing.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GPid pid;
  char *folder;                 /* its storage, config and log */
  char *ae_title;
  guint16 dicom_port;
  guint16 http_port;
} PrTestOrthanc;

/* Whether Orthanc and curl are here. */
gboolean pr_test_have_orthanc (void);

#define PR_TEST_REQUIRE_ORTHANC()                                                   \
  G_STMT_START                                                                      \
  {                                                                                 \
    if (!pr_test_have_orthanc ())                                                   \
      {                                                                             \
        g_test_skip ("needs Orthanc and curl (Debian packages orthanc, curl)");     \
        return;                                                                     \
      }                                                                             \
  }                                                                                 \
  G_STMT_END

/* Starts Orthanc with AE title @ae_title, checking the called AE title, and
 * waits until its REST API answers. Fails the test when it does not. */
PrTestOrthanc *pr_test_orthanc_start (const char *ae_title);

/* SIGTERM and wait; its storage stays for a restart. */
void pr_test_orthanc_stop (PrTestOrthanc *orthanc);

/* Again on the same ports and storage. */
void pr_test_orthanc_restart (PrTestOrthanc *orthanc);

/* Returns: (transfer full): the body of GET @path, or NULL when it fails. */
char *pr_test_orthanc_get (PrTestOrthanc *orthanc, const char *path);

/* Instances stored, from /statistics; -1 when Orthanc does not answer. */
gint64 pr_test_orthanc_count_instances (PrTestOrthanc *orthanc);

/* Waits until Orthanc holds @count instances; FALSE on timeout. */
gboolean pr_test_orthanc_wait_instances (PrTestOrthanc *orthanc, gint64 count, guint timeout_ms);

/* Returns: (transfer full): the SOP Instance UIDs Orthanc holds, sorted. */
GPtrArray *pr_test_orthanc_sop_instance_uids (PrTestOrthanc *orthanc);

void pr_test_orthanc_free (PrTestOrthanc *orthanc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrTestOrthanc, pr_test_orthanc_free)

G_END_DECLS
