/* test-hl7.c: urgent results as HL7 v2 ORU^R01 over MLLP.
 *
 *   - the message builder: segments and fields where a RIS looks for them,
 *     priority mapping, and hostile text (| ^ ~ \ & CR LF and MLLP's frame
 *     bytes in a patient name, a description, a finding) that never breaks
 *     a field, a segment or a frame;
 *   - ACK parsing and MLLP framing on their own;
 *   - the configuration: HL7 peers, <notify>, and the mistakes check-config
 *     explains; the outbox table migration keeps an existing index;
 *   - the real daemon against a loopback MLLP listener in this program: an
 *     urgent study gives exactly one ORU^R01 and an AA makes it sent; a
 *     routine one gives none; AE then AA is retried then sent; AR is a dead
 *     letter with the receiver's reason; a listener that is down leaves the
 *     notice pending, then dead after the give-up horizon, and an
 *     administrator's retry once it is up gets it sent. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include "conf/pr-conf-error.h"
#include "conf/pr-config.h"
#include "gateway/pr-hl7-ack.h"
#include "gateway/pr-hl7-message.h"
#include "gateway/pr-index-schema.h"
#include "gateway/pr-index.h"
#include "gateway/pr-mllp.h"
#include "pr-test-util.h"

/* ---- helpers --------------------------------------------------------------- */

/* The segments of @message (CR-terminated), as strings. */
static GStrv
segments_of (const char *message)
{
  g_assert_true (g_str_has_suffix (message, "\r"));
  g_autofree char *body = g_strndup (message, strlen (message) - 1);
  return g_strsplit (body, "\r", -1);
}

/* The first segment named @name, split into fields: fields[N] is field N
 * (for MSH, fields[N] is MSH-(N+1), as MSH-1 is the separator). */
static GStrv
segment (GStrv segments, const char *name, guint nth)
{
  for (char **s = segments; *s; s++)
    if (g_str_has_prefix (*s, name) && (*s)[3] == '|' && nth-- == 0)
      return g_strsplit (*s, "|", -1);
  return NULL;
}

static const char *
field (GStrv fields, guint n)
{
  return fields && n < g_strv_length (fields) ? fields[n] : "";
}

/* ---- the message ----------------------------------------------------------- */

static const char *findings_json =
  "[{\"type\": {\"scheme\": \"SCT\", \"value\": \"27925004\", \"meaning\": \"Nodule\"},"
  "  \"confidence\": 0.93, \"text\": \"solid|nodule^RUL\\r\\nMSH|^~\\\\&|EVIL\\u000b\\u001c\","
  "  \"site\": {\"scheme\": \"SCT\", \"value\": \"45653009\", \"meaning\": \"Upper lobe of right lung\"},"
  "  \"measurements\": [{\"concept\": {\"scheme\": \"SCT\", \"value\": \"81827009\", \"meaning\": \"Diameter\"},"
  "                      \"value\": 9.1, \"unit\": \"mm\"}],"
  "  \"evaluations\": [{\"concept\": {\"scheme\": \"99X\", \"value\": \"lr\", \"meaning\": \"Lung-RADS\"},"
  "                     \"value\": {\"scheme\": \"99X\", \"value\": \"4A\", \"meaning\": \"Category 4A\"}}]},"
  " {\"type\": {\"scheme\": \"SCT\", \"value\": \"27925004\", \"meaning\": \"Nodule\"}, \"confidence\": 0.5},"
  " {\"type\": {\"scheme\": \"SCT\", \"value\": \"36118008\", \"meaning\": \"Pneumothorax\"}}]";

static PrHl7Oru *
hostile_oru (PrResultPriority priority)
{
  PrHl7Oru *oru = g_new0 (PrHl7Oru, 1);
  oru->control_id = g_strdup ("PR42.0123abcd");
  oru->created_at_us = G_GINT64_CONSTANT (1767225600) * G_USEC_PER_SEC;
  oru->sending_application = g_strdup ("PREREAD");
  oru->sending_facility = g_strdup ("RAD");
  oru->receiving_application = g_strdup ("RIS");
  oru->receiving_facility = g_strdup ("HOSP");
  oru->patient_id = g_strdup ("ID|1^~\\&");
  /* Family, given, middle, prefix, suffix; then an ideographic group. */
  oru->patient_name = g_strdup ("O|Brien\r\nPID|1||HACK^Mal&ory~X^M\\^Dr^Jr=ideographic");
  oru->patient_birth_date = g_strdup ("19600101");
  oru->patient_sex = g_strdup ("F");
  oru->accession_number = g_strdup ("ACC|9");
  oru->study_instance_uid = g_strdup ("1.2.826.0.1.3680043.2.1125.1");
  oru->study_description = g_strdup ("CT CHEST\nOBX|99|ST|x||injected\x1c\r");
  oru->job_id = 42;
  oru->analyzer = g_strdup ("lung-nodule");
  oru->analyzer_version = g_strdup ("2.1.0");
  oru->observed_at_us = oru->created_at_us;
  oru->priority = priority;
  oru->summary = g_strdup ("2 nodules | largest 9 mm");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, findings_json, -1, NULL));
  oru->findings = json_array_ref (json_node_get_array (json_parser_get_root (parser)));
  return oru;
}

static void
test_escape (void)
{
  g_autofree char *e = pr_hl7_escape ("a|b^c&d~e\\f\rg\nh\x0bi\x1cj\x7f", 0);
  g_assert_cmpstr (e, ==, "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f g h i j ");
  g_autofree char *none = pr_hl7_escape (NULL, 0);
  g_assert_cmpstr (none, ==, "");
  /* Cut at characters, not bytes: no half a UTF-8 sequence. */
  g_autofree char *cut = pr_hl7_escape ("M\xc3\xbcller", 2);
  g_assert_cmpstr (cut, ==, "M\xc3\xbc");
  g_autofree char *invalid = pr_hl7_escape ("a\xff|", 0);
  g_assert_true (g_utf8_validate (invalid, -1, NULL));
  g_assert_nonnull (strstr (invalid, "\\F\\"));
}

static void
test_priority_codes (void)
{
  g_assert_cmpstr (pr_hl7_priority_code (PR_RESULT_CRITICAL), ==, "S");
  g_assert_cmpstr (pr_hl7_priority_code (PR_RESULT_URGENT), ==, "A");
  g_assert_cmpstr (pr_hl7_priority_code (PR_RESULT_ROUTINE), ==, "R");
  g_assert_cmpint (pr_result_priority_from_string ("critical"), ==, PR_RESULT_CRITICAL);
  g_assert_cmpint (pr_result_priority_from_string ("urgent"), ==, PR_RESULT_URGENT);
  g_assert_cmpint (pr_result_priority_from_string (NULL), ==, PR_RESULT_ROUTINE);
  g_assert_cmpint (pr_result_priority_from_string ("whatever"), ==, PR_RESULT_ROUTINE);
}

static void
test_message_layout (void)
{
  g_autoptr (PrHl7Oru) oru = hostile_oru (PR_RESULT_CRITICAL);
  g_autofree char *message = pr_hl7_oru_render (oru);
  g_test_message ("%s", message);

  /* Structure first: the only control character is the segment end, and
   * every segment is one this builder writes, in this order. */
  for (const char *c = message; *c; c++)
    g_assert_true (*c == '\r' || (guchar) *c >= 0x20);
  g_auto (GStrv) segs = segments_of (message);
  const char *order[] = { "MSH", "PID", "ORC", "OBR", "NTE", "OBX", "OBX", "OBX", "OBX", "OBX", "OBX" };
  g_assert_cmpuint (g_strv_length (segs), ==, G_N_ELEMENTS (order));
  for (gsize i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_assert_true (g_str_has_prefix (segs[i], order[i]));
      g_assert_cmpint (segs[i][3], ==, '|');
    }

  g_auto (GStrv) msh = segment (segs, "MSH", 0);
  g_assert_cmpstr (field (msh, 1), ==, "^~\\&");
  g_assert_cmpstr (field (msh, 2), ==, "PREREAD");
  g_assert_cmpstr (field (msh, 3), ==, "RAD");
  g_assert_cmpstr (field (msh, 4), ==, "RIS");
  g_assert_cmpstr (field (msh, 5), ==, "HOSP");
  g_assert_cmpuint (strlen (field (msh, 6)), ==, 19); /* YYYYMMDDHHMMSS+ZZZZ */
  g_assert_cmpstr (field (msh, 8), ==, "ORU^R01^ORU_R01");
  g_assert_cmpstr (field (msh, 9), ==, "PR42.0123abcd");
  g_assert_cmpstr (field (msh, 10), ==, "P");
  g_assert_cmpstr (field (msh, 11), ==, "2.5.1");
  g_assert_cmpstr (field (msh, 17), ==, "UNICODE UTF-8");
  g_autofree char *control_id = pr_hl7_message_control_id (message);
  g_assert_cmpstr (control_id, ==, "PR42.0123abcd");

  /* PID: escaped, DICOM name order turned into HL7's (suffix before prefix). */
  g_auto (GStrv) pid = segment (segs, "PID", 0);
  g_assert_cmpstr (field (pid, 3), ==, "ID\\F\\1\\S\\\\R\\\\E\\\\T\\");
  g_assert_cmpstr (field (pid, 5), ==, "O\\F\\Brien  PID\\F\\1\\F\\\\F\\HACK^Mal\\T\\ory\\R\\X^M\\E\\^Jr^Dr");
  g_assert_cmpstr (field (pid, 7), ==, "19600101");
  g_assert_cmpstr (field (pid, 8), ==, "F");

  g_auto (GStrv) orc = segment (segs, "ORC", 0);
  g_assert_cmpstr (field (orc, 1), ==, "RE");
  g_assert_cmpstr (field (orc, 2), ==, "ACC\\F\\9");
  g_assert_cmpstr (field (orc, 3), ==, "ACC\\F\\9");
  g_assert_cmpstr (field (orc, 7), ==, "^^^^^S");

  g_auto (GStrv) obr = segment (segs, "OBR", 0);
  g_assert_cmpstr (field (obr, 2), ==, "ACC\\F\\9");
  g_assert_cmpstr (field (obr, 3), ==, "ACC\\F\\9");
  g_assert_cmpstr (field (obr, 4), ==, "AI-lung-nodule^AI analysis lung-nodule 2.1.0^99PREREAD");
  g_assert_cmpstr (field (obr, 5), ==, "S");
  g_assert_cmpstr (field (obr, 25), ==, "P");

  g_auto (GStrv) nte = segment (segs, "NTE", 0);
  g_assert_nonnull (strstr (field (nte, 3), "AI preliminary result - not a diagnosis"));

  g_auto (GStrv) summary = segment (segs, "OBX", 0);
  g_assert_cmpstr (field (summary, 1), ==, "1");
  g_assert_cmpstr (field (summary, 2), ==, "TX");
  g_assert_cmpstr (field (summary, 3), ==, "AI-SUMMARY^AI result summary^99PREREAD");
  g_assert_cmpstr (field (summary, 5), ==,
                   "3 findings; top category: Nodule (2); priority critical; 2 nodules \\F\\ largest 9 mm");
  g_assert_cmpstr (field (summary, 11), ==, "P");
  g_auto (GStrv) uid = segment (segs, "OBX", 1);
  g_assert_cmpstr (field (uid, 3), ==, "110180^Study Instance UID^DCM");
  g_assert_cmpstr (field (uid, 5), ==, "1.2.826.0.1.3680043.2.1125.1");
  g_auto (GStrv) description = segment (segs, "OBX", 2);
  g_assert_cmpstr (field (description, 5), ==, "CT CHEST OBX\\F\\99\\F\\ST\\F\\x\\F\\\\F\\injected  ");

  g_auto (GStrv) first = segment (segs, "OBX", 3);
  g_assert_cmpstr (field (first, 2), ==, "TX");
  g_assert_cmpstr (field (first, 3), ==, "27925004^Nodule^SCT");
  g_assert_cmpstr (field (first, 4), ==, "1");
  g_assert_cmpstr (field (first, 5), ==,
                   "Nodule: solid\\F\\nodule\\S\\RUL  MSH\\F\\\\S\\\\R\\\\E\\\\T\\\\F\\EVIL  ; site: Upper lobe of "
                   "right lung; Diameter 9.1 mm; Lung-RADS: Category 4A; confidence 93 %");
  g_auto (GStrv) second = segment (segs, "OBX", 4);
  g_assert_cmpstr (field (second, 5), ==, "Nodule; confidence 50 %");
  g_auto (GStrv) third = segment (segs, "OBX", 5);
  g_assert_cmpstr (field (third, 3), ==, "36118008^Pneumothorax^SCT");
  g_assert_cmpstr (field (third, 4), ==, "3");
  g_assert_cmpstr (field (third, 5), ==, "Pneumothorax");
  g_assert_cmpstr (field (third, 1), ==, "6");

  /* Urgent is ASAP; routine says R; no findings says so. */
  oru->priority = PR_RESULT_URGENT;
  g_clear_pointer (&oru->findings, json_array_unref);
  g_clear_pointer (&oru->study_description, g_free);
  g_autofree char *urgent = pr_hl7_oru_render (oru);
  g_auto (GStrv) urgent_segs = segments_of (urgent);
  g_assert_cmpuint (g_strv_length (urgent_segs), ==, 7);
  g_auto (GStrv) urgent_obr = segment (urgent_segs, "OBR", 0);
  g_assert_cmpstr (field (urgent_obr, 5), ==, "A");
  g_auto (GStrv) urgent_summary = segment (urgent_segs, "OBX", 0);
  g_assert_true (g_str_has_prefix (field (urgent_summary, 5), "no findings; priority urgent"));
  oru->priority = PR_RESULT_ROUTINE;
  g_autofree char *routine = pr_hl7_oru_render (oru);
  g_auto (GStrv) routine_segs = segments_of (routine);
  g_auto (GStrv) routine_orc = segment (routine_segs, "ORC", 0);
  g_assert_cmpstr (field (routine_orc, 7), ==, "^^^^^R");
}

static void
test_many_findings_capped (void)
{
  g_autoptr (PrHl7Oru) oru = hostile_oru (PR_RESULT_URGENT);
  json_array_unref (oru->findings);
  oru->findings = json_array_new ();
  for (int i = 0; i < PR_HL7_MAX_FINDING_OBX + 5; i++)
    {
      JsonObject *f = json_object_new ();
      JsonObject *type = json_object_new ();
      json_object_set_string_member (type, "scheme", "99T");
      json_object_set_string_member (type, "value", "t");
      json_object_set_string_member (type, "meaning", "Thing");
      json_object_set_object_member (f, "type", type);
      json_array_add_object_element (oru->findings, f);
    }
  g_autofree char *message = pr_hl7_oru_render (oru);
  g_auto (GStrv) segs = segments_of (message);
  /* MSH PID ORC OBR NTE, summary, UID, description, the findings, "more". */
  g_assert_cmpuint (g_strv_length (segs), ==, 5 + 3 + PR_HL7_MAX_FINDING_OBX + 1);
  g_assert_nonnull (strstr (message, "5 more finding(s)"));
  g_assert_nonnull (strstr (message, "105 findings; top category: Thing (105)"));
}

/* ---- ACKs and frames --------------------------------------------------------- */

static PrHl7Ack *
ack_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  PrHl7Ack *ack = pr_hl7_ack_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (ack);
  return ack;
}

static void
ack_fails (const char *text, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrHl7Ack) ack = pr_hl7_ack_parse (text, strlen (text), &error);
  g_assert_null (ack);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
}

static void
test_ack_parse (void)
{
  g_autoptr (PrHl7Ack) aa = ack_ok ("MSH|^~\\&|RIS|H|PREREAD|R|20260101||ACK^R01^ACK|A1|P|2.5.1\rMSA|AA|PR1.x\r");
  g_assert_cmpint (aa->outcome, ==, PR_HL7_ACK_ACCEPTED);
  g_assert_cmpstr (aa->control_id, ==, "PR1.x");
  g_assert_null (aa->text);
  g_autoptr (PrHl7Ack) ca = ack_ok ("MSH|^~\\&|RIS\nMSA|CA|PR1.x\n");
  g_assert_cmpint (ca->outcome, ==, PR_HL7_ACK_ACCEPTED);
  g_autoptr (PrHl7Ack) ae = ack_ok ("MSH|^~\\&|RIS\rMSA|AE|PR1.x|database\rbusy\r");
  g_assert_cmpint (ae->outcome, ==, PR_HL7_ACK_ERROR);
  g_assert_cmpstr (ae->text, ==, "database");
  g_autoptr (PrHl7Ack) ce = ack_ok ("MSH|^~\\&|RIS\rMSA|CE|PR1.x\r");
  g_assert_cmpint (ce->outcome, ==, PR_HL7_ACK_ERROR);
  g_autoptr (PrHl7Ack) ar = ack_ok ("MSH|^~\\&|RIS\rMSA|AR|PR1.x\rERR||PID^1^3|204^Unknown key identifier^HL70357|E\r");
  g_assert_cmpint (ar->outcome, ==, PR_HL7_ACK_REJECTED);
  g_assert_nonnull (strstr (ar->text, "Unknown key identifier"));
  g_autoptr (PrHl7Ack) cr = ack_ok ("MSH|^~\\&|RIS\rMSA|CR|PR1.x|\x01no\x02\r");
  g_assert_cmpint (cr->outcome, ==, PR_HL7_ACK_REJECTED);
  g_assert_cmpstr (cr->text, ==, "no");

  ack_fails ("HTTP/1.1 400 Bad Request\r\n\r\n", "no MSH");
  ack_fails ("MSH|^~\\&|RIS\rPID|1\r", "no MSA");
  ack_fails ("MSH|^~\\&|RIS\rMSA|XX|PR1.x\r", "\"XX\"");
  ack_fails ("MSH|^~\\&|RIS\rMSA|AA\r", "no MSA");
}

static void
test_mllp_frames (void)
{
  g_autoptr (GBytes) frame = pr_mllp_frame ("MSH|x\r", 6);
  gsize n = 0;
  const guint8 *data = g_bytes_get_data (frame, &n);
  g_assert_cmpuint (n, ==, 9);
  g_assert_cmpint (data[0], ==, 0x0b);
  g_assert_cmpint (data[7], ==, 0x1c);
  g_assert_cmpint (data[8], ==, 0x0d);

  gboolean complete = FALSE;
  g_autoptr (GError) error = NULL;
  /* Cut anywhere: incomplete, not an error. */
  for (gsize cut = 0; cut < n; cut++)
    {
      g_autoptr (GBytes) part = pr_mllp_unframe (data, cut, &complete, &error);
      g_assert_no_error (error);
      g_assert_null (part);
      g_assert_false (complete);
    }
  g_autoptr (GBytes) whole = pr_mllp_unframe (data, n, &complete, &error);
  g_assert_no_error (error);
  g_assert_true (complete);
  g_assert_cmpmem (g_bytes_get_data (whole, NULL), g_bytes_get_size (whole), "MSH|x\r", 6);
  const guint8 leading[] = { '\r', '\n', 0x0b, 'A', 0x1c, 0x0d };
  g_autoptr (GBytes) tolerated = pr_mllp_unframe (leading, sizeof leading, &complete, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (tolerated), ==, 1);

  const guint8 garbage[] = { 'H', 'T', 'T', 'P' };
  g_assert_null (pr_mllp_unframe (garbage, sizeof garbage, &complete, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  const guint8 bad_end[] = { 0x0b, 'A', 0x1c, 'x' };
  g_assert_null (pr_mllp_unframe (bad_end, sizeof bad_end, &complete, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

/* A peer that accepts and never answers costs one ack-timeout, and says so. */
static void
test_mllp_silent_peer (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) effective = NULL;
  g_assert_true (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                &effective, NULL));
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_autoptr (PrMllpClient) client = pr_mllp_client_new ("127.0.0.1", port, 2, 1);
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  /* The kernel completes the handshake from the backlog: nobody accepts, nobody answers. */
  g_autoptr (GBytes) answer = pr_mllp_client_exchange (client, "MSH|^~\\&|x\r", 11, &error);
  g_assert_null (answer);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_false (pr_mllp_client_failed_to_connect (client));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_socket_listener_close (listener);

  g_clear_error (&error);
  g_autoptr (GBytes) refused = pr_mllp_client_exchange (client, "MSH|^~\\&|x\r", 11, &error);
  g_assert_null (refused);
  g_assert_true (pr_mllp_client_failed_to_connect (client));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot connect to 127.0.0.1:"));
}

/* ---- configuration -------------------------------------------------------------- */

#define CONFIG_HEAD                                                                                   \
  "<?xml version=\"1.0\"?>\n"                                                                         \
  "<preread version=\"1\">\n"                                                                         \
  "  <peers>\n"                                                                                       \
  "    <peer name=\"pacs\" ae-title=\"PACS\" host=\"h\" port=\"104\"/>\n"                          \
  "    <peer name=\"ris\" protocol=\"hl7-mllp\" host=\"ris\" port=\"2575\" sending-facility=\"RAD\"" \
  " receiving-application=\"RIS\" receiving-facility=\"HOSP\" ack-timeout=\"7\"/>\n"                \
  "  </peers>\n"                                                                                      \
  "  <analyzers><analyzer name=\"a\" builtin=\"test\"/></analyzers>\n"                               \
  "  <routes>\n"                                                                                      \
  "    <route name=\"r\">\n"                                                                          \
  "      <analyze analyzer=\"a\"/>\n"

static void
test_config_values (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_string (CONFIG_HEAD "      <results-to peer=\"pacs\"/>\n"
                                                                   "      <notify peer=\"ris\"/>\n"
                                                                   "    </route>\n  </routes>\n</preread>\n",
                                                       "test.xml", &error);
  g_assert_no_error (error);
  const PrPeer *ris = pr_config_find_peer (config, "ris");
  g_assert_cmpint (ris->protocol, ==, PR_PEER_HL7_MLLP);
  g_assert_cmpstr (ris->ae_title, ==, "");
  g_assert_cmpstr (ris->hl7_sending_application, ==, "PREREAD");
  g_assert_cmpstr (ris->hl7_sending_facility, ==, "RAD");
  g_assert_cmpstr (ris->hl7_receiving_application, ==, "RIS");
  g_assert_cmpstr (ris->hl7_receiving_facility, ==, "HOSP");
  g_assert_cmpuint (ris->ack_timeout_s, ==, 7);
  g_assert_cmpuint (ris->retry_base_s, ==, 30);
  g_assert_cmpint (pr_config_find_peer (config, "pacs")->protocol, ==, PR_PEER_DICOM);
  const PrRoute *r = pr_config_find_route (config, "r");
  g_assert_cmpuint (r->notify->len, ==, 1);
  const PrRouteNotify *n = r->notify->pdata[0];
  g_assert_cmpstr (n->peer, ==, "ris");
  g_assert_cmpint (n->min_priority, ==, PR_RESULT_URGENT);

  g_autoptr (PrConfig) critical = pr_config_load_string (
    CONFIG_HEAD "      <notify peer=\"ris\" min-priority=\"critical\"/>\n    </route>\n  </routes>\n</preread>\n",
    "test.xml", &error);
  g_assert_no_error (error);
  const PrRoute *cr = pr_config_find_route (critical, "r");
  g_assert_cmpint (((PrRouteNotify *) cr->notify->pdata[0])->min_priority, ==, PR_RESULT_CRITICAL);

  /* The shipped example loads (test-config loads every example too). */
  g_autofree char *example =
    g_build_filename (pr_test_srcdir (), "conf", "examples", "urgent-results-to-ris.xml", NULL);
  g_autoptr (PrConfig) shipped = pr_config_load_file (example, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pr_config_find_peer (shipped, "ris")->protocol, ==, PR_PEER_HL7_MLLP);
  g_assert_cmpuint (pr_config_find_route (shipped, "chest-ct")->notify->len, ==, 1);
}

/* Expects the load to fail with @code, one message of which, on @line, says @needle. */
static void
assert_config_error (const char *xml, PrConfError code, int line, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrConfig) config = pr_config_load_string (xml, "test.xml", &error);
  g_assert_null (config);
  g_assert_error (error, PR_CONF_ERROR, (gint) code);
  g_test_message ("%s", error->message);
  g_autofree char *expected = g_strdup_printf ("test.xml:%d: ", line);
  g_auto (GStrv) lines = g_strsplit (error->message, "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, expected) && strstr (*l, needle) != NULL)
      return;
  g_error ("expected \"%s...%s\" in:\n%s", expected, needle, error->message);
}

static void
test_config_mistakes (void)
{
  const char *tail = "    </route>\n  </routes>\n</preread>\n";
  g_autofree char *dicom_notify = g_strconcat (CONFIG_HEAD "      <notify peer=\"pacs\"/>\n", tail, NULL);
  assert_config_error (dicom_notify, PR_CONF_ERROR_INVALID, 11, "peer \"pacs\" is a DICOM peer");
  g_autofree char *ghost = g_strconcat (CONFIG_HEAD "      <notify peer=\"ghost\"/>\n", tail, NULL);
  assert_config_error (ghost, PR_CONF_ERROR_INVALID, 11, "no peer named \"ghost\"");
  g_autofree char *twice =
    g_strconcat (CONFIG_HEAD "      <notify peer=\"ris\"/>\n      <notify peer=\"ris\"/>\n", tail, NULL);
  assert_config_error (twice, PR_CONF_ERROR_INVALID, 12, "notified twice");
  g_autofree char *results_to_hl7 = g_strconcat (CONFIG_HEAD "      <results-to peer=\"ris\"/>\n", tail, NULL);
  assert_config_error (results_to_hl7, PR_CONF_ERROR_INVALID, 11, "speaks HL7: use <notify peer=\"ris\"/>");
  g_autofree char *bad_level =
    g_strconcat (CONFIG_HEAD "      <notify peer=\"ris\" min-priority=\"high\"/>\n", tail, NULL);
  assert_config_error (bad_level, PR_CONF_ERROR_SCHEMA, 11, "min-priority");

  const char *peers_head = "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n  <peers>\n";
  const char *peers_tail = "  </peers>\n</preread>\n";
  g_autofree char *no_ae = g_strconcat (peers_head, "    <peer name=\"p\" host=\"h\" port=\"104\"/>\n", peers_tail, NULL);
  assert_config_error (no_ae, PR_CONF_ERROR_INVALID, 4, "a DICOM peer needs ae-title=");
  g_autofree char *ae_on_hl7 = g_strconcat (
    peers_head, "    <peer name=\"p\" protocol=\"hl7-mllp\" ae-title=\"X\" host=\"h\" port=\"2575\"/>\n", peers_tail, NULL);
  assert_config_error (ae_on_hl7, PR_CONF_ERROR_INVALID, 4, "ae-title= is for DICOM peers");
  g_autofree char *hl7_on_dicom = g_strconcat (
    peers_head, "    <peer name=\"p\" ae-title=\"X\" host=\"h\" port=\"104\" ack-timeout=\"5\"/>\n", peers_tail, NULL);
  assert_config_error (hl7_on_dicom, PR_CONF_ERROR_INVALID, 4, "ack-timeout= is for protocol=\"hl7-mllp\" peers");
  g_autofree char *delimiter = g_strconcat (
    peers_head, "    <peer name=\"p\" protocol=\"hl7-mllp\" host=\"h\" port=\"1\" sending-facility=\"A|B\"/>\n",
    peers_tail, NULL);
  assert_config_error (delimiter, PR_CONF_ERROR_SCHEMA, 4, "sending-facility");
  g_autofree char *non_ascii = g_strconcat (
    peers_head, "    <peer name=\"p\" protocol=\"hl7-mllp\" host=\"h\" port=\"1\" receiving-facility=\"K\xc3\xb6ln\"/>\n",
    peers_tail, NULL);
  assert_config_error (non_ascii, PR_CONF_ERROR_INVALID, 4, "printable ASCII");
}

/* check-config tells the administrator, by file and line. */
static void
test_check_config_explains (void)
{
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *path = pr_test_write_file (
    work, "bad.xml", CONFIG_HEAD "      <notify peer=\"pacs\"/>\n    </route>\n  </routes>\n</preread>\n");
  g_autofree char *out = NULL, *err = NULL;
  int status = pr_test_run (&out, &err, pr_test_preread (), "check-config", path, NULL);
  g_test_message ("%s", err);
  g_assert_cmpint (status, !=, 0);
  g_assert_nonnull (strstr (err, "bad.xml:11:"));
  g_assert_nonnull (strstr (err, "<notify> sends HL7 messages, and peer \"pacs\" is a DICOM peer"));
  pr_test_remove_tree (work);
}

/* ---- the index ------------------------------------------------------------------- */

/* An index made by the previous release (schema 5) with an item in its
 * outbox opens, keeps the item and its id, and takes HL7 items. */
static void
test_outbox_migration (void)
{
  g_autofree char *work = pr_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (work, "index.sqlite", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  for (int v = 0; v < 5; v++)
    g_assert_cmpint (sqlite3_exec (db, pr_index_migrations[v], NULL, NULL, NULL), ==, SQLITE_OK);
  const char *rows =
    "INSERT INTO studies (study_uid, first_received_at, last_received_at) VALUES ('1.2.3', 1, 1);"
    "INSERT INTO outbox (id, kind, study_id, peer, sop_instance_uid, path, state, created_at, priority, retry_from,"
    " result_kind) VALUES (41, 'result', 1, 'pacs', '1.2.3.4', 'results/1/sr.dcm', 'dead', 5, 27, 5, 'sr');"
    "PRAGMA user_version = 5;";
  g_assert_cmpint (sqlite3_exec (db, rows, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (GError) error = NULL;
  g_autoptr (PrIndex) index = pr_index_open (path, &error);
  g_assert_no_error (error);
  g_clear_pointer (&index, pr_index_free);

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_stmt *stmt = NULL;
  sqlite3_prepare_v2 (db,
                      "SELECT (SELECT user_version FROM pragma_user_version), id, kind, priority, result_kind, state"
                      " FROM outbox",
                      -1, &stmt, NULL);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, (int) G_N_ELEMENTS (pr_index_migrations));
  g_assert_cmpint (sqlite3_column_int (stmt, 1), ==, 41);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 2), ==, "result");
  g_assert_cmpint (sqlite3_column_int (stmt, 3), ==, 27);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 4), ==, "sr");
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 5), ==, "dead");
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_exec (db,
                                 "INSERT INTO outbox (kind, study_id, peer, sop_instance_uid, path, state, created_at,"
                                 " result_kind) VALUES ('hl7', 1, 'ris', 'PR1.x', 'results/1/oru-1.hl7', 'pending', 6,"
                                 " 'oru')",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_last_insert_rowid (db), ==, 42);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO outbox (kind, study_id, sop_instance_uid, path, state, created_at)"
                                     " VALUES ('fax', 1, 'x', 'y', 'pending', 7)", NULL, NULL, NULL),
                   ==, SQLITE_CONSTRAINT);
  sqlite3_close (db);
  pr_test_remove_tree (work);
}

/* ---- a loopback MLLP listener --------------------------------------------------------- */

/* A RIS in a thread: accepts one connection at a time, answers each framed
 * message with the next code of its script (AA when the script is empty),
 * and keeps what it received. */
typedef struct {
  GMutex lock;
  GThread *thread;
  GCancellable *cancel;
  GSocketListener *listener;
  guint16 port;
  GPtrArray *messages;          /* char*, as received */
  GQueue script;                /* char* ACK codes */
} Listener;

/* MSH-10 of @message, parsed here independently of the gateway's code. */
static char *
control_id_of (const char *message)
{
  g_autofree char *first = g_strndup (message, strcspn (message, "\r"));
  g_auto (GStrv) fields = g_strsplit (first, "|", -1);
  return g_strdup (field (fields, 9));
}

static gboolean
send_ack (GSocket *socket, const char *code, const char *control_id)
{
  const char *text = strcmp (code, "AR") == 0   ? "|unknown patient identifier"
                     : strcmp (code, "AE") == 0 ? "|database is busy"
                                                : "";
  g_autofree char *ack = g_strdup_printf ("\x0bMSH|^~\\&|RIS|HOSP|PREREAD|RAD|20260101120000||ACK^R01^ACK|ACK-%s|P|2.5.1"
                                          "\rMSA|%s|%s%s\r\x1c\x0d",
                                          control_id, code, control_id, text);
  gsize length = strlen (ack);
  for (gsize done = 0; done < length;)
    {
      gssize n = g_socket_send (socket, ack + done, length - done, NULL, NULL);
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static void
serve_connection (Listener *l, GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GByteArray) buffer = g_byte_array_new ();
  while (!g_cancellable_is_cancelled (l->cancel))
    {
      if (!g_socket_condition_timed_wait (socket, G_IO_IN, 200000, NULL, NULL))
        continue;
      guint8 chunk[4096];
      gssize n = g_socket_receive (socket, (char *) chunk, sizeof chunk, NULL, NULL);
      if (n <= 0)
        return;
      g_byte_array_append (buffer, chunk, (guint) n);
      for (;;)
        {
          guint8 *start = memchr (buffer->data, 0x0b, buffer->len);
          guint8 *end = start ? memchr (start, 0x1c, buffer->len - (gsize) (start - buffer->data)) : NULL;
          if (end == NULL || end + 1 >= buffer->data + buffer->len)
            break;
          g_assert_cmpint (end[1], ==, 0x0d);
          char *message = g_strndup ((const char *) start + 1, (gsize) (end - start - 1));
          g_autofree char *control_id = control_id_of (message);
          g_mutex_lock (&l->lock);
          g_ptr_array_add (l->messages, message);
          g_autofree char *code = g_queue_pop_head (&l->script);
          g_mutex_unlock (&l->lock);
          gboolean answered;
          if (g_strcmp0 (code, "GARBAGE") == 0)
            answered = g_socket_send (socket, "HTTP/1.1 400 Bad Request\r\n\r\n", 28, NULL, NULL) == 28;
          else if (g_strcmp0 (code, "WRONG-ID") == 0)
            answered = send_ack (socket, "AA", "PR0.other");
          else
            answered = send_ack (socket, code ? code : "AA", control_id);
          if (!answered)
            return;
          g_byte_array_remove_range (buffer, 0, (guint) (end + 2 - buffer->data));
        }
    }
}

static gpointer
listener_thread (gpointer user_data)
{
  Listener *l = user_data;
  for (;;)
    {
      g_autoptr (GSocketConnection) connection = g_socket_listener_accept (l->listener, NULL, l->cancel, NULL);
      if (connection == NULL)
        return NULL;
      serve_connection (l, connection);
    }
}

/* Listens on 127.0.0.1:@port (0: any free port). */
static void
listener_start (Listener *l, guint16 port)
{
  l->listener = g_socket_listener_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr (GSocketAddress) effective = NULL;
  g_autoptr (GError) error = NULL;
  g_socket_listener_add_address (l->listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &effective,
                                 &error);
  g_assert_no_error (error);
  l->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  l->cancel = g_cancellable_new ();
  l->thread = g_thread_new ("mllp-listener", listener_thread, l);
}

/* Stops listening: connecting is refused from now on. */
static void
listener_stop (Listener *l)
{
  if (l->thread == NULL)
    return;
  g_cancellable_cancel (l->cancel);
  g_thread_join (l->thread);
  l->thread = NULL;
  g_socket_listener_close (l->listener);
  g_clear_object (&l->listener);
  g_clear_object (&l->cancel);
}

static Listener *
listener_new (void)
{
  Listener *l = g_new0 (Listener, 1);
  g_mutex_init (&l->lock);
  l->messages = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&l->script);
  return l;
}

static void
listener_free (Listener *l)
{
  listener_stop (l);
  g_ptr_array_unref (l->messages);
  g_queue_clear_full (&l->script, g_free);
  g_mutex_clear (&l->lock);
  g_free (l);
}

static void
listener_script (Listener *l, const char *code)
{
  g_mutex_lock (&l->lock);
  g_queue_push_tail (&l->script, g_strdup (code));
  g_mutex_unlock (&l->lock);
}

/* (transfer full): the messages received with @control_id. */
static GPtrArray *
listener_received (Listener *l, const char *control_id)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&l->lock);
  for (guint i = 0; i < l->messages->len; i++)
    {
      g_autofree char *id = control_id_of (l->messages->pdata[i]);
      if (strcmp (id, control_id) == 0)
        g_ptr_array_add (found, g_strdup (l->messages->pdata[i]));
    }
  g_mutex_unlock (&l->lock);
  return found;
}

/* ---- the daemon ------------------------------------------------------------------------- */

static struct {
  char *work;
  PrTestDaemon *daemon;
  Listener *ris;                /* answers as scripted */
  Listener *down;               /* stopped until the last test */
  guint16 down_port;
  char *token;
} world;

static char *
world_config (void)
{
  g_autofree char *token_out = NULL;
  g_assert_cmpint (pr_test_run (&token_out, NULL, pr_test_preread (), "passwd", "scripts", "--token", NULL), ==, 0);
  g_auto (GStrv) token_lines = g_strsplit (token_out, "\n", -1);
  world.token = g_strdup (token_lines[0]);
  /* Studies say how urgent they are through their patient ID: the test
   * analyzer rates them as its route's parameter says. */
  g_autofree char *xml = g_strdup_printf (
    "<?xml version=\"1.0\"?>\n<preread version=\"1\">\n"
    "  <node ae-title=\"PREREAD\" quiet-period=\"1\"/>\n"
    "  <peers>\n"
    "    <peer name=\"ris\" protocol=\"hl7-mllp\" host=\"127.0.0.1\" port=\"%u\" sending-facility=\"RAD\"\n"
    "          receiving-application=\"RIS\" receiving-facility=\"HOSP\" ack-timeout=\"5\"\n"
    "          retry-base=\"1\" retry-max=\"1\" give-up-after=\"600\"/>\n"
    "    <peer name=\"ris-down\" protocol=\"hl7-mllp\" host=\"127.0.0.1\" port=\"%u\" ack-timeout=\"5\"\n"
    "          retry-base=\"1\" retry-max=\"1\" give-up-after=\"5\"/>\n"
    "  </peers>\n"
    "  <analyzers>\n"
    "    <analyzer name=\"critical\" builtin=\"test\"><parameter name=\"priority\">critical</parameter></analyzer>\n"
    "    <analyzer name=\"urgent\" builtin=\"test\"><parameter name=\"priority\">urgent</parameter></analyzer>\n"
    "    <analyzer name=\"routine\" builtin=\"test\"><parameter name=\"priority\">routine</parameter></analyzer>\n"
    "  </analyzers>\n"
    "  <routes>\n"
    "    <route name=\"critical\"><match><regex attribute=\"PatientID\">^URG</regex></match>\n"
    "      <analyze analyzer=\"critical\"/><notify peer=\"ris\"/></route>\n"
    "    <route name=\"urgent\"><match><regex attribute=\"PatientID\">^ASAP</regex></match>\n"
    "      <analyze analyzer=\"urgent\"/><notify peer=\"ris\" min-priority=\"urgent\"/></route>\n"
    "    <route name=\"routine\"><match><regex attribute=\"PatientID\">^RTN</regex></match>\n"
    "      <analyze analyzer=\"routine\"/><notify peer=\"ris\"/></route>\n"
    "    <route name=\"down\"><match><regex attribute=\"PatientID\">^DOWN</regex></match>\n"
    "      <analyze analyzer=\"critical\"/><notify peer=\"ris-down\"/></route>\n"
    "  </routes>\n"
    "  <web>\n    %s\n  </web>\n"
    "</preread>\n",
    world.ris->port, world.down_port, token_lines[1]);
  return pr_test_write_file (world.work, "preread.xml", xml);
}

static gboolean
world_start (void)
{
  if (world.daemon != NULL)
    return TRUE;
  if (!pr_test_can_make_studies ())
    return FALSE;
  world.work = pr_test_make_tmpdir ();
  world.ris = listener_new ();
  listener_start (world.ris, 0);
  /* A port that was ours a moment ago: refused until the listener comes back. */
  world.down = listener_new ();
  listener_start (world.down, 0);
  world.down_port = world.down->port;
  listener_stop (world.down);
  g_autofree char *config = world_config ();
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *args[] = { config_arg, NULL };
  world.daemon = pr_test_daemon_start (NULL, args);
  return TRUE;
}

#define REQUIRE_WORLD()                                                                                     \
  G_STMT_START                                                                                              \
  {                                                                                                         \
    if (!world_start ())                                                                                    \
      {                                                                                                     \
        g_test_skip ("needs python3-pydicom and python3-numpy to make studies (see README)");               \
        return;                                                                                             \
      }                                                                                                     \
  }                                                                                                         \
  G_STMT_END

/* Sends a two-series study for @patient_id and waits until its job's
 * results are built. Returns the study's id in the index. */
static gint64
send_study (const char *seed, const char *patient_id, const char *patient_name)
{
  g_autofree char *dir = g_build_filename (world.work, seed, NULL);
  g_free (pr_test_make_study (dir, "--slices", "2", "--size", "32", "--series", "2", "--seed", seed, "--patient-id",
                              patient_id, "--patient-name", patient_name, NULL));
  g_autofree char *target = pr_test_daemon_target (world.daemon);
  g_assert_cmpint (pr_test_run (NULL, NULL, pr_test_preread (), "send", "-q", "--to", target, dir, NULL), ==, 0);
  g_autofree char *find = g_strdup_printf ("SELECT coalesce (max (id), 0) FROM studies WHERE patient_id = '%s'",
                                           patient_id);
  gint64 study = 0;
  for (int i = 0; i < 300 && study == 0; i++)
    if ((study = pr_test_index_int (world.daemon, find)) == 0)
      g_usleep (100000);
  g_assert_cmpint (study, >, 0);
  g_autofree char *wait = g_strdup_printf (
    "SELECT count (*) FROM jobs WHERE study_id = %" G_GINT64_FORMAT " AND results_state = 'built'", study);
  g_assert_true (pr_test_wait_index_int (world.daemon, wait, 1, 30000));
  return study;
}

static gint64 G_GNUC_PRINTF (1, 2)
study_int (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *sql = g_strdup_vprintf (format, args);
  va_end (args);
  return pr_test_index_int (world.daemon, sql);
}

static char * G_GNUC_PRINTF (1, 2)
study_text (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *sql = g_strdup_vprintf (format, args);
  va_end (args);
  return pr_test_index_text (world.daemon, sql);
}

/* A plain HTTP GET with the token; returns the body. */
static char *
http_get (const char *path)
{
  g_assert_nonnull (world.daemon->web_url);
  g_autofree char *host_port = g_strndup (world.daemon->web_url + 7, strlen (world.daemon->web_url) - 8);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection = g_socket_client_connect_to_host (client, host_port, 80, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *request =
    g_strdup_printf ("GET %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", path, host_port, world.token);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_assert_true (g_output_stream_write_all (out, request, strlen (request), NULL, NULL, &error));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  g_autoptr (GByteArray) reply = g_byte_array_new ();
  guint8 chunk[8192];
  gssize n;
  while ((n = g_input_stream_read (in, chunk, sizeof chunk, NULL, &error)) > 0)
    g_byte_array_append (reply, chunk, (guint) n);
  g_assert_no_error (error);
  g_byte_array_append (reply, (const guint8 *) "", 1);
  const char *text = (const char *) reply->data;
  g_assert_true (g_str_has_prefix (text, "HTTP/1.1 200") || g_str_has_prefix (text, "HTTP/1.0 200"));
  const char *body = strstr (text, "\r\n\r\n");
  g_assert_nonnull (body);
  return g_strdup (body + 4);
}

/* Wait for a condition on the study's one outbox item. */
static gboolean
item_becomes (gint64 study, const char *condition)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM outbox WHERE study_id = %" G_GINT64_FORMAT " AND %s",
                                          study, condition);
  return pr_test_wait_index_int (world.daemon, sql, 1, 20000);
}

static void
test_daemon_urgent_sent (void)
{
  REQUIRE_WORLD ();
  /* Delimiters in the patient ID and name travel escaped, end to end. */
  gint64 study = send_study ("urgent", "URG|7^X", "O|Brien~&Co^Mal");
  g_assert_true (pr_test_wait_index_int (
    world.daemon, "SELECT count (*) FROM outbox WHERE kind = 'hl7' AND state = 'sent'", 1, 20000));
  g_assert_cmpint (study_int ("SELECT count (*) FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==, 1);
  g_autofree char *control_id =
    study_text ("SELECT sop_instance_uid FROM outbox WHERE kind = 'hl7' AND study_id = %" G_GINT64_FORMAT, study);
  g_autofree char *result_kind =
    study_text ("SELECT result_kind FROM outbox WHERE kind = 'hl7' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_cmpstr (result_kind, ==, "oru");
  g_assert_true (g_str_has_prefix (control_id, "PR"));
  g_assert_cmpuint (strlen (control_id), <=, 20);
  g_assert_cmpint (study_int ("SELECT attempts FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==, 1);
  g_assert_cmpint (study_int ("SELECT dimse_status IS NULL FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==,
                   1);

  g_autoptr (GPtrArray) received = listener_received (world.ris, control_id);
  g_assert_cmpuint (received->len, ==, 1);
  const char *message = received->pdata[0];
  g_test_message ("received:\n%s", message);
  g_auto (GStrv) segs = segments_of (message);
  g_auto (GStrv) msh = segment (segs, "MSH", 0);
  g_assert_cmpstr (field (msh, 2), ==, "PREREAD");
  g_assert_cmpstr (field (msh, 3), ==, "RAD");
  g_assert_cmpstr (field (msh, 4), ==, "RIS");
  g_assert_cmpstr (field (msh, 5), ==, "HOSP");
  g_assert_cmpstr (field (msh, 8), ==, "ORU^R01^ORU_R01");
  g_assert_cmpstr (field (msh, 11), ==, "2.5.1");
  g_auto (GStrv) pid = segment (segs, "PID", 0);
  g_assert_cmpstr (field (pid, 3), ==, "URG\\F\\7\\S\\X");
  g_assert_cmpstr (field (pid, 5), ==, "O\\F\\Brien\\R\\\\T\\Co^Mal");
  g_assert_cmpstr (field (pid, 7), ==, "19600101");
  g_assert_cmpstr (field (pid, 8), ==, "O");
  g_autofree char *accession =
    study_text ("SELECT accession_number FROM studies WHERE id = %" G_GINT64_FORMAT, study);
  g_autofree char *study_uid = study_text ("SELECT study_uid FROM studies WHERE id = %" G_GINT64_FORMAT, study);
  g_auto (GStrv) orc = segment (segs, "ORC", 0);
  g_assert_cmpstr (field (orc, 2), ==, accession);
  g_assert_cmpstr (field (orc, 7), ==, "^^^^^S");
  g_auto (GStrv) obr = segment (segs, "OBR", 0);
  g_assert_cmpstr (field (obr, 2), ==, accession);
  g_assert_cmpstr (field (obr, 3), ==, accession);
  g_assert_cmpstr (field (obr, 4), ==, "AI-critical^AI analysis critical (version unknown)^99PREREAD");
  g_assert_cmpstr (field (obr, 5), ==, "S");
  g_assert_cmpstr (field (obr, 25), ==, "P");
  g_auto (GStrv) summary = segment (segs, "OBX", 0);
  g_assert_true (g_str_has_prefix (field (summary, 5), "2 findings; top category: Series inventory (2); priority critical"));
  g_auto (GStrv) uid = segment (segs, "OBX", 1);
  g_assert_cmpstr (field (uid, 5), ==, study_uid);
  g_auto (GStrv) description = segment (segs, "OBX", 2);
  g_assert_cmpstr (field (description, 5), ==, "CT CHEST SYNTHETIC");
  g_assert_nonnull (segment (segs, "OBX", 4));
  g_assert_null (segment (segs, "OBX", 5));

  /* The file stays with the job's results; the logs never name the patient. */
  g_autofree char *job = study_text ("SELECT id FROM jobs WHERE study_id = %" G_GINT64_FORMAT, study);
  g_autofree char *file = g_build_filename (world.daemon->storage, "results", job, "oru-1.hl7", NULL);
  g_autofree char *on_disk = NULL;
  g_assert_true (g_file_get_contents (file, &on_disk, NULL, NULL));
  g_assert_cmpstr (on_disk, ==, message);
  g_autofree char *log = pr_test_daemon_log (world.daemon);
  g_assert_nonnull (strstr (log, control_id));
  g_assert_null (strstr (log, "Brien"));

  /* preread outbox and the web API show it as what it is. */
  g_autofree char *listing = pr_test_daemon_command (world.daemon, "outbox", "--state", "sent", NULL);
  g_test_message ("%s", listing);
  g_assert_nonnull (strstr (listing, "hl7 oru"));
  g_autofree char *api = http_get ("/api/outbox?state=sent");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, api, -1, NULL));
  JsonArray *items = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "items");
  gboolean seen = FALSE;
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      if (strcmp (json_object_get_string_member (item, "kind"), "hl7") != 0)
        continue;
      g_assert_cmpstr (json_object_get_string_member (item, "result_kind"), ==, "oru");
      g_assert_cmpstr (json_object_get_string_member (item, "peer"), ==, "ris");
      g_assert_cmpstr (json_object_get_string_member (item, "state"), ==, "sent");
      seen = TRUE;
    }
  g_assert_true (seen);
  g_autofree char *metrics = http_get ("/metrics");
  g_assert_nonnull (strstr (metrics, "preread_outbox_items{state=\"sent\"} 1"));
}

static void
test_daemon_urgent_is_asap (void)
{
  REQUIRE_WORLD ();
  gint64 study = send_study ("asap", "ASAP-1", "Quick^Quentin");
  g_autofree char *sql = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE kind = 'hl7' AND state = 'sent' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, sql, 1, 20000));
  g_autofree char *control_id =
    study_text ("SELECT sop_instance_uid FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  g_autoptr (GPtrArray) received = listener_received (world.ris, control_id);
  g_assert_cmpuint (received->len, ==, 1);
  g_auto (GStrv) segs = segments_of (received->pdata[0]);
  g_auto (GStrv) obr = segment (segs, "OBR", 0);
  g_assert_cmpstr (field (obr, 5), ==, "A");
}

static void
test_daemon_routine_none (void)
{
  REQUIRE_WORLD ();
  gint64 study = send_study ("routine", "RTN-1", "Routine^Rita");
  /* Built, and nothing to notify: no item, now or a little later. */
  g_usleep (500000);
  g_assert_cmpint (study_int ("SELECT count (*) FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==, 0);
  g_autofree char *job = study_text ("SELECT id FROM jobs WHERE study_id = %" G_GINT64_FORMAT, study);
  g_autofree char *file = g_build_filename (world.daemon->storage, "results", job, "oru-1.hl7", NULL);
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
}

static void
test_daemon_error_then_accept (void)
{
  REQUIRE_WORLD ();
  listener_script (world.ris, "AE");
  listener_script (world.ris, "AA");
  gint64 study = send_study ("flaky", "URG-2", "Second^Sam");
  g_assert_true (item_becomes (study, "attempts = 1 AND state = 'pending' AND next_attempt_at > 0"
                                      " AND last_error LIKE 'HL7 ACK AE (application error) for PR%: database is busy'"));
  g_autofree char *sent = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE state = 'sent' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, sent, 1, 20000));
  g_assert_cmpint (study_int ("SELECT attempts FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==, 2);
  g_autofree char *control_id =
    study_text ("SELECT sop_instance_uid FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  /* The same message twice: same control ID, so the RIS can tell. */
  g_autoptr (GPtrArray) received = listener_received (world.ris, control_id);
  g_assert_cmpuint (received->len, ==, 2);
  g_assert_cmpstr (received->pdata[0], ==, received->pdata[1]);
}

/* Answers that are no ACK, or an ACK for another message, are not taken
 * for one: retried, with what came back in sight. */
static void
test_daemon_garbage_answers_retried (void)
{
  REQUIRE_WORLD ();
  listener_script (world.ris, "GARBAGE");
  listener_script (world.ris, "WRONG-ID");
  listener_script (world.ris, "AA");
  gint64 study = send_study ("garbage", "URG-4", "Fourth^Fay");
  g_assert_true (item_becomes (study, "attempts = 1 AND state = 'pending' AND last_error LIKE '%not an MLLP frame%'"));
  g_assert_true (item_becomes (study, "attempts = 2 AND state = 'pending' AND last_error LIKE '%control ID PR0.other%'"));
  g_assert_true (item_becomes (study, "attempts = 3 AND state = 'sent' AND last_error IS NULL"));
}

static void
test_daemon_reject_is_dead_letter (void)
{
  REQUIRE_WORLD ();
  listener_script (world.ris, "AR");
  gint64 study = send_study ("rejected", "URG-3", "Third^Tom");
  g_autofree char *dead = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE state = 'dead' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, dead, 1, 20000));
  g_assert_cmpint (study_int ("SELECT attempts FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==, 1);
  g_autofree char *why = study_text ("SELECT last_error FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  g_test_message ("%s", why);
  g_assert_nonnull (strstr (why, "HL7 ACK AR (rejected)"));
  g_assert_nonnull (strstr (why, "unknown patient identifier"));
  g_autofree char *listing = pr_test_daemon_command (world.daemon, "outbox", "--state", "dead", NULL);
  g_assert_nonnull (strstr (listing, "unknown patient identifier"));
}

static void
test_daemon_down_then_admin_retry (void)
{
  REQUIRE_WORLD ();
  gint64 study = send_study ("down", "DOWN-1", "Down^Dora");
  g_autofree char *pending = g_strdup_printf ("SELECT count (*) FROM outbox WHERE state = 'pending' AND attempts >= 1"
                                              " AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, pending, 1, 20000));
  g_autofree char *why = study_text ("SELECT last_error FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  g_test_message ("%s", why);
  g_assert_nonnull (strstr (why, "refused"));
  g_assert_cmpint (study_int ("SELECT next_attempt_at > 0 FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), ==,
                   1);
  /* give-up-after 5 s: then a dead letter, still saying why. */
  g_autofree char *dead = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE state = 'dead' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, dead, 1, 20000));
  g_autofree char *final = study_text ("SELECT last_error FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  g_assert_nonnull (strstr (final, "gave up after"));
  g_assert_cmpint (study_int ("SELECT attempts FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study), >=, 2);

  listener_start (world.down, world.down_port);
  g_autofree char *id = study_text ("SELECT id FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  g_autofree char *retried = pr_test_daemon_command (world.daemon, "outbox", "retry", id, NULL);
  g_assert_true (g_str_has_prefix (retried, "0\n"));
  g_autofree char *sent = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE state = 'sent' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, sent, 1, 20000));
  g_autofree char *control_id =
    study_text ("SELECT sop_instance_uid FROM outbox WHERE study_id = %" G_GINT64_FORMAT, study);
  g_autoptr (GPtrArray) received = listener_received (world.down, control_id);
  g_assert_cmpuint (received->len, ==, 1);
}

/* A rerun supersedes the notice that was not sent yet, like the objects. */
static void
test_daemon_rerun_supersedes (void)
{
  REQUIRE_WORLD ();
  listener_stop (world.down);
  gint64 study = send_study ("rerun", "DOWN-2", "Rerun^Rosa");
  g_autofree char *waiting = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE state IN ('pending', 'sending') AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, waiting, 1, 20000));
  g_autofree char *job = study_text ("SELECT id FROM jobs WHERE study_id = %" G_GINT64_FORMAT, study);
  g_autofree char *retried = pr_test_daemon_command (world.daemon, "jobs", "retry", job, NULL);
  g_test_message ("%s", retried);
  g_autofree char *superseded = g_strdup_printf (
    "SELECT count (*) FROM outbox WHERE state = 'cancelled' AND last_error LIKE 'superseded%%'"
    " AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, superseded, 1, 30000));
  /* ... and the new run has its own notice, with a new control ID. */
  g_autofree char *two = g_strdup_printf (
    "SELECT count (DISTINCT sop_instance_uid) FROM outbox WHERE kind = 'hl7' AND study_id = %" G_GINT64_FORMAT, study);
  g_assert_true (pr_test_wait_index_int (world.daemon, two, 2, 30000));
}

/* Last: the daemon stops cleanly with a notice still waiting, and what it
 * leaves is removed (inside a test, so that a pass cleans up). */
static void
test_daemon_stops (void)
{
  if (world.daemon == NULL)
    {
      g_test_skip ("no daemon was started");
      return;
    }
  g_assert_cmpint (pr_test_daemon_stop (world.daemon), ==, 0);
  g_clear_pointer (&world.daemon, pr_test_daemon_free);
  g_clear_pointer (&world.ris, listener_free);
  g_clear_pointer (&world.down, listener_free);
  pr_test_remove_tree (world.work);
  g_clear_pointer (&world.work, g_free);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hl7/message/escape", test_escape);
  g_test_add_func ("/hl7/message/priority-codes", test_priority_codes);
  g_test_add_func ("/hl7/message/layout-and-hostile-text", test_message_layout);
  g_test_add_func ("/hl7/message/many-findings-capped", test_many_findings_capped);
  g_test_add_func ("/hl7/ack/parse", test_ack_parse);
  g_test_add_func ("/hl7/mllp/frames", test_mllp_frames);
  g_test_add_func ("/hl7/mllp/silent-peer-times-out", test_mllp_silent_peer);
  g_test_add_func ("/hl7/config/values", test_config_values);
  g_test_add_func ("/hl7/config/mistakes-are-explained", test_config_mistakes);
  g_test_add_func ("/hl7/config/check-config-explains", test_check_config_explains);
  g_test_add_func ("/hl7/index/outbox-migration-keeps-items", test_outbox_migration);
  g_test_add_func ("/hl7/daemon/urgent-study-one-oru-sent", test_daemon_urgent_sent);
  g_test_add_func ("/hl7/daemon/urgent-is-asap", test_daemon_urgent_is_asap);
  g_test_add_func ("/hl7/daemon/routine-study-none", test_daemon_routine_none);
  g_test_add_func ("/hl7/daemon/ae-retried-then-aa-sent", test_daemon_error_then_accept);
  g_test_add_func ("/hl7/daemon/garbage-and-wrong-ack-retried", test_daemon_garbage_answers_retried);
  g_test_add_func ("/hl7/daemon/ar-is-dead-letter", test_daemon_reject_is_dead_letter);
  g_test_add_func ("/hl7/daemon/down-pending-dead-then-admin-retry", test_daemon_down_then_admin_retry);
  g_test_add_func ("/hl7/daemon/rerun-supersedes-notice", test_daemon_rerun_supersedes);
  g_test_add_func ("/hl7/daemon/stops-cleanly", test_daemon_stops);
  int status = g_test_run ();
  /* After a failure: stopped, and kept for the post-mortem. */
  g_clear_pointer (&world.daemon, pr_test_daemon_free);
  g_clear_pointer (&world.ris, listener_free);
  g_clear_pointer (&world.down, listener_free);
  return status;
}
