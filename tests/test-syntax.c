/* test-syntax.c: wire identifiers and the reject PDU. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-pdu.h"

static void
test_uid_valid (void)
{
  g_assert_true (pr_dicom_uid_is_valid ("1.2.840.10008.5.1.4.1.1.2"));
  g_assert_true (pr_dicom_uid_is_valid ("2.25.329800735698586629295641978511506172918"));
  /* 64 characters is the limit */
  g_assert_true (pr_dicom_uid_is_valid ("1.2345678901234567890123456789012345678901234567890123456789012"));
  g_assert_true (pr_dicom_uid_is_valid ("1.2.03")); /* leading zero: tolerated */
}

static void
test_uid_hostile (void)
{
  const char *bad[] = { NULL, "", "..", ".", "../../x", "1.2/3", "1.2\\3", "/etc/passwd", "1..2", ".1.2",
                        "1.2.", "1.2 ", " 1.2", "1.2\n3", "1.2.a", "12345678901234567890123456789012345678901234567890123456789012345" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (pr_dicom_uid_is_valid (bad[i]));
}

static void
test_uid_acceptable (void)
{
  g_assert_true (pr_dicom_uid_is_acceptable ("1.2.840.10008.5.1.4.1.1.2"));
  /* non-conformant, seen in real files, harmless */
  g_assert_true (pr_dicom_uid_is_acceptable ("REMSAMPLES1"));
  g_assert_true (pr_dicom_uid_is_acceptable ("072495.0449"));
  const char *bad[] = { NULL, "", "..", ".", "../../x", "1.2/3", "1.2\\3", "a b", "1.2\n3", "x;rm" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (pr_dicom_uid_is_acceptable (bad[i]));
}

static void
test_ae_title (void)
{
  g_assert_true (pr_dicom_ae_title_is_valid ("PREREAD"));
  g_assert_true (pr_dicom_ae_title_is_valid ("A/B")); /* legal in an AE; we never use it as a path */
  g_assert_true (pr_dicom_ae_title_is_valid ("SIXTEEN_CHARS_OK"));
  g_assert_false (pr_dicom_ae_title_is_valid (""));
  g_assert_false (pr_dicom_ae_title_is_valid ("                "));
  g_assert_false (pr_dicom_ae_title_is_valid ("SEVENTEEN_CHARS_X"));
  g_assert_false (pr_dicom_ae_title_is_valid ("BACK\\SLASH"));
  g_assert_false (pr_dicom_ae_title_is_valid ("TAB\tHERE"));
  g_assert_false (pr_dicom_ae_title_is_valid ("\xc3\xa9"));
}

static void
test_reject_pdu (void)
{
  guint8 pdu[PR_PDU_ASSOCIATE_RJ_SIZE];
  pr_pdu_build_associate_rj (pdu, PR_REJECT_TRANSIENT, PR_REJECT_SOURCE_PRESENTATION,
                             PR_REJECT_REASON_LOCAL_LIMIT_EXCEEDED);
  /* PS3.8 9.3.4: type 03H, reserved, length 4 (big endian), reserved, result, source, reason */
  const guint8 expected[] = { 0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x02, 0x03, 0x02 };
  g_assert_cmpmem (pdu, sizeof pdu, expected, sizeof expected);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/syntax/uid/valid", test_uid_valid);
  g_test_add_func ("/syntax/uid/hostile-values-are-invalid", test_uid_hostile);
  g_test_add_func ("/syntax/uid/acceptable", test_uid_acceptable);
  g_test_add_func ("/syntax/ae-title", test_ae_title);
  g_test_add_func ("/syntax/associate-rj-pdu", test_reject_pdu);
  return g_test_run ();
}
