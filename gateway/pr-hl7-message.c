/* pr-hl7-message.c: rendering ORU^R01, escaping everything that came from outside. */
#include "config.h"

#include "pr-hl7-message.h"

#include <math.h>
#include <string.h>

/* The longest a finding's free text or the analyzer's summary gets in one
 * OBX: a worklist shows a line, the report is in the SR. */
#define MAX_TEXT_CHARS 1000
#define MAX_PARTS_PER_FINDING 20

void
pr_hl7_oru_free (PrHl7Oru *oru)
{
  if (oru == NULL)
    return;
  g_free (oru->control_id);
  g_free (oru->sending_application);
  g_free (oru->sending_facility);
  g_free (oru->receiving_application);
  g_free (oru->receiving_facility);
  g_free (oru->patient_id);
  g_free (oru->patient_name);
  g_free (oru->patient_birth_date);
  g_free (oru->patient_sex);
  g_free (oru->accession_number);
  g_free (oru->study_instance_uid);
  g_free (oru->study_description);
  g_free (oru->analyzer);
  g_free (oru->analyzer_version);
  g_free (oru->summary);
  g_clear_pointer (&oru->findings, json_array_unref);
  g_free (oru);
}

char *
pr_hl7_escape (const char *text, guint max_chars)
{
  if (text == NULL)
    return g_strdup ("");
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  if (max_chars > 0 && g_utf8_strlen (valid, -1) > max_chars)
    {
      char *end = g_utf8_offset_to_pointer (valid, max_chars);
      *end = '\0';
    }
  GString *out = g_string_sized_new (strlen (valid) + 8);
  for (const unsigned char *c = (const unsigned char *) valid; *c; c++)
    switch (*c)
      {
      case '|': g_string_append (out, "\\F\\"); break;
      case '^': g_string_append (out, "\\S\\"); break;
      case '&': g_string_append (out, "\\T\\"); break;
      case '~': g_string_append (out, "\\R\\"); break;
      case '\\': g_string_append (out, "\\E\\"); break;
      default:
        /* CR ends a segment, 0x0B and 0x1C frame MLLP: none may pass. */
        g_string_append_c (out, *c < 0x20 || *c == 0x7f ? ' ' : (char) *c);
        break;
      }
  return g_string_free (out, FALSE);
}

const char *
pr_hl7_priority_code (PrResultPriority priority)
{
  switch (priority)
    {
    case PR_RESULT_CRITICAL: return "S";
    case PR_RESULT_URGENT: return "A";
    case PR_RESULT_ROUTINE:
    default: return "R";
    }
}

char *
pr_hl7_message_control_id (const char *message)
{
  if (message == NULL || strncmp (message, "MSH", 3) != 0 || message[3] == '\0')
    return NULL;
  char separator[2] = { message[3], '\0' };
  g_autofree char *first = g_strndup (message, strcspn (message, "\r\n"));
  g_auto (GStrv) fields = g_strsplit (first, separator, 11);
  /* fields[0] is "MSH" and fields[1] MSH-2: MSH-N is fields[N - 1]. */
  if (g_strv_length (fields) < 10)
    return NULL;
  return g_strdup (fields[9]);
}

/* ---- values ---------------------------------------------------------------- */

static char *
timestamp (gint64 us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  if (t == NULL)
    return g_strdup ("");
  return g_date_time_format (t, "%Y%m%d%H%M%S%z");
}

/* DICOM PN "Family^Given^Middle^Prefix^Suffix" (first, alphabetic group)
 * as HL7 XPN "Family^Given^Middle^Suffix^Prefix": HL7 swaps the last two. */
static char *
person_name (const char *dicom)
{
  if (dicom == NULL)
    return g_strdup ("");
  g_autofree char *alphabetic = g_strndup (dicom, strcspn (dicom, "="));
  g_auto (GStrv) parts = g_strsplit (alphabetic, "^", 5);
  guint n = g_strv_length (parts);
  const guint order[] = { 0, 1, 2, 4, 3 };
  GString *out = g_string_new (NULL);
  guint last = 0;
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (order[i] < n && *g_strstrip (parts[order[i]]))
      last = i + 1;
  for (guint i = 0; i < last; i++)
    {
      g_autofree char *component = pr_hl7_escape (order[i] < n ? parts[order[i]] : NULL, 64);
      g_string_append_printf (out, "%s%s", i ? "^" : "", component);
    }
  return g_string_free (out, FALSE);
}

/* DA as DT: eight digits or nothing. */
static char *
birth_date (const char *dicom)
{
  if (dicom == NULL || strlen (dicom) != 8)
    return g_strdup ("");
  for (const char *c = dicom; *c; c++)
    if (!g_ascii_isdigit (*c))
      return g_strdup ("");
  return g_strdup (dicom);
}

/* CS M, F, O as HL7 table 0001 (the same letters); anything else unknown. */
static const char *
sex (const char *dicom)
{
  if (dicom == NULL || *dicom == '\0')
    return "";
  if (strcmp (dicom, "M") == 0 || strcmp (dicom, "F") == 0 || strcmp (dicom, "O") == 0)
    return dicom;
  return "U";
}

static char *
number (double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%.6g", value));
}

/* ---- findings ---------------------------------------------------------------- */

/* The document passed pr_findings_read(); still, every member is read as
 * if it could be anything. */
static JsonObject *
member_object (JsonObject *o, const char *name)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
member_array (JsonObject *o, const char *name)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  return node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static const char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
           ? json_node_get_string (node)
           : NULL;
}

static gboolean
member_number (JsonObject *o, const char *name, double *value)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType type = json_node_get_value_type (node);
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_double (node);
  return isfinite (*value);
}

static JsonObject *
finding_at (JsonArray *findings, guint i)
{
  JsonNode *node = json_array_get_element (findings, i);
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static const char *
finding_category (JsonObject *finding)
{
  const char *meaning = member_string (member_object (finding, "type"), "meaning");
  return meaning && *meaning ? meaning : "Finding";
}

/* The category most findings have (the first such on a tie), with its count. */
static const char *
top_category (JsonArray *findings, guint *count)
{
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  const char *top = NULL;
  *count = 0;
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    {
      const char *category = finding_category (finding_at (findings, i));
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, category)) + 1;
      g_hash_table_insert (counts, (gpointer) category, GUINT_TO_POINTER (n));
      if (n > *count)
        {
          top = category;
          *count = n;
        }
    }
  return top;
}

/* One finding in words, unescaped: "Nodule: solid, right upper lobe; site:
 * Upper lobe of right lung; Diameter 9.1 mm; Lung-RADS: 4A; confidence 93 %". */
static char *
describe_finding (JsonObject *finding)
{
  GString *out = g_string_new (finding_category (finding));
  const char *text = member_string (finding, "text");
  if (text && *text)
    {
      g_autofree char *valid = g_utf8_make_valid (text, -1);
      if (g_utf8_strlen (valid, -1) > MAX_TEXT_CHARS)
        *g_utf8_offset_to_pointer (valid, MAX_TEXT_CHARS) = '\0';
      g_string_append_printf (out, ": %s", valid);
    }
  const char *site = member_string (member_object (finding, "site"), "meaning");
  if (site && *site)
    g_string_append_printf (out, "; site: %s", site);
  JsonArray *measurements = member_array (finding, "measurements");
  for (guint i = 0; measurements && i < MIN (json_array_get_length (measurements), MAX_PARTS_PER_FINDING); i++)
    {
      JsonNode *node = json_array_get_element (measurements, i);
      JsonObject *m = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      double value;
      if (!member_number (m, "value", &value))
        continue;
      const char *concept = member_string (member_object (m, "concept"), "meaning");
      const char *unit = member_string (m, "unit");
      g_autofree char *shown = number (value);
      /* UCUM "1" is a pure number: no unit to show. */
      gboolean unitless = unit == NULL || *unit == '\0' || strcmp (unit, "1") == 0;
      g_string_append_printf (out, "; %s %s%s%s", concept ? concept : "measurement", shown, unitless ? "" : " ",
                              unitless ? "" : unit);
    }
  JsonArray *evaluations = member_array (finding, "evaluations");
  for (guint i = 0; evaluations && i < MIN (json_array_get_length (evaluations), MAX_PARTS_PER_FINDING); i++)
    {
      JsonNode *node = json_array_get_element (evaluations, i);
      JsonObject *e = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      const char *concept = member_string (member_object (e, "concept"), "meaning");
      const char *value = member_string (member_object (e, "value"), "meaning");
      if (concept && value)
        g_string_append_printf (out, "; %s: %s", concept, value);
    }
  double confidence;
  if (member_number (finding, "confidence", &confidence) && confidence >= 0 && confidence <= 1)
    g_string_append_printf (out, "; confidence %d %%", (int) lround (confidence * 100));
  return g_string_free (out, FALSE);
}

/* OBX-3 of a finding: its type code (CWE: identifier^text^coding system). */
static char *
finding_code (JsonObject *finding)
{
  JsonObject *type = member_object (finding, "type");
  g_autofree char *value = pr_hl7_escape (member_string (type, "value"), 64);
  g_autofree char *meaning = pr_hl7_escape (finding_category (finding), 64);
  g_autofree char *scheme = pr_hl7_escape (member_string (type, "scheme"), 16);
  return g_strdup_printf ("%s^%s^%s", *value ? value : "FINDING", meaning, *scheme ? scheme : "99PREREAD");
}

/* ---- segments ---------------------------------------------------------------- */

/* Appends a segment: @fields[0] is its name, @fields[N] field N (already
 * escaped, or "" for empty); empty fields at the end are left out. */
static void
add_segment (GString *out, const char *const *fields, guint n_fields)
{
  while (n_fields > 1 && (fields[n_fields - 1] == NULL || *fields[n_fields - 1] == '\0'))
    n_fields--;
  for (guint i = 0; i < n_fields; i++)
    g_string_append_printf (out, "%s%s", i ? "|" : "", fields[i] ? fields[i] : "");
  g_string_append_c (out, '\r');
}

static void
add_obx (GString *out, guint set_id, const char *type, const char *code, const char *sub_id, const char *value,
         const char *observed)
{
  g_autofree char *set = g_strdup_printf ("%u", set_id);
  /* OBX-11 "P": preliminary, as the whole result is. */
  const char *fields[] = { "OBX", set, type, code, sub_id, value, "", "", "", "", "", "P", "", "", observed };
  add_segment (out, fields, G_N_ELEMENTS (fields));
}

char *
pr_hl7_oru_render (const PrHl7Oru *oru)
{
  GString *out = g_string_new (NULL);
  g_autofree char *created = timestamp (oru->created_at_us);
  g_autofree char *observed = timestamp (oru->observed_at_us);
  const char *priority = pr_hl7_priority_code (oru->priority);

  /* MSH: MSH-1 is the field separator itself, so the encoding characters
   * are written by hand; original acknowledgment mode (MSH-15/16 empty). */
  g_autofree char *sending_application = pr_hl7_escape (oru->sending_application, 64);
  g_autofree char *sending_facility = pr_hl7_escape (oru->sending_facility, 64);
  g_autofree char *receiving_application = pr_hl7_escape (oru->receiving_application, 64);
  g_autofree char *receiving_facility = pr_hl7_escape (oru->receiving_facility, 64);
  g_autofree char *control_id = pr_hl7_escape (oru->control_id, 199);
  const char *msh[] = { "MSH|^~\\&", sending_application, sending_facility, receiving_application,
                        receiving_facility, created, "", "ORU^R01^ORU_R01", control_id, "P", "2.5.1", "", "", "", "",
                        "", "UNICODE UTF-8" };
  add_segment (out, msh, G_N_ELEMENTS (msh));

  g_autofree char *patient_id = pr_hl7_escape (oru->patient_id, 64);
  g_autofree char *name = person_name (oru->patient_name);
  g_autofree char *dob = birth_date (oru->patient_birth_date);
  const char *pid[] = { "PID", "1", "", patient_id, "", name, "", dob, sex (oru->patient_sex) };
  add_segment (out, pid, G_N_ELEMENTS (pid));

  /* The accession number is the order both sides know the study by. */
  g_autofree char *accession = pr_hl7_escape (oru->accession_number, 64);
  g_autofree char *timing = g_strdup_printf ("^^^^^%s", priority);
  const char *orc[] = { "ORC", "RE", accession, accession, "", "", "", timing, "", created };
  add_segment (out, orc, G_N_ELEMENTS (orc));

  g_autofree char *analyzer = pr_hl7_escape (oru->analyzer, 64);
  g_autofree char *version = pr_hl7_escape (oru->analyzer_version, 64);
  /* The index says "unknown" when the findings named no version. */
  gboolean versioned = *version && strcmp (version, "unknown") != 0;
  g_autofree char *service = g_strdup_printf ("AI-%s^AI analysis %s %s^99PREREAD", analyzer, analyzer,
                                              versioned ? version : "(version unknown)");
  const char *obr[] = { "OBR", "1", accession, accession, service, priority, "", observed, "", "", "", "", "", "",
                        "",    "",  "",        "",        "",      "",       "", "",       created, "", "", "P" };
  add_segment (out, obr, G_N_ELEMENTS (obr));

  const char *nte[] = { "NTE", "1", "L",
                        "AI preliminary result - not a diagnosis. Findings of an automated analysis, to be "
                        "confirmed by a physician.",
                        "RE" };
  add_segment (out, nte, G_N_ELEMENTS (nte));

  guint n_findings = oru->findings ? json_array_get_length (oru->findings) : 0;
  guint top_count = 0;
  const char *top = top_category (oru->findings, &top_count);
  g_autoptr (GString) summary = g_string_new (NULL);
  if (n_findings == 0)
    g_string_append (summary, "no findings");
  else
    g_string_append_printf (summary, "%u finding%s; top category: %s (%u)", n_findings, n_findings == 1 ? "" : "s",
                            top, top_count);
  g_string_append_printf (summary, "; priority %s", pr_result_priority_to_string (oru->priority));
  if (oru->summary && *oru->summary)
    {
      g_autofree char *line = g_utf8_make_valid (oru->summary, -1);
      g_string_append_printf (summary, "; %s", line);
    }
  guint set_id = 0;
  g_autofree char *summary_value = pr_hl7_escape (summary->str, 2 * MAX_TEXT_CHARS);
  add_obx (out, ++set_id, "TX", "AI-SUMMARY^AI result summary^99PREREAD", "", summary_value, observed);
  g_autofree char *study_uid = pr_hl7_escape (oru->study_instance_uid, 64);
  add_obx (out, ++set_id, "ST", "110180^Study Instance UID^DCM", "", study_uid, observed);
  if (oru->study_description && *oru->study_description)
    {
      g_autofree char *description = pr_hl7_escape (oru->study_description, 200);
      add_obx (out, ++set_id, "ST", "121065^Procedure Description^DCM", "", description, observed);
    }
  for (guint i = 0; i < MIN (n_findings, PR_HL7_MAX_FINDING_OBX); i++)
    {
      JsonObject *finding = finding_at (oru->findings, i);
      g_autofree char *code = finding_code (finding);
      g_autofree char *words = describe_finding (finding);
      g_autofree char *value = pr_hl7_escape (words, 4 * MAX_TEXT_CHARS);
      g_autofree char *sub_id = g_strdup_printf ("%u", i + 1);
      add_obx (out, ++set_id, "TX", code, sub_id, value, observed);
    }
  if (n_findings > PR_HL7_MAX_FINDING_OBX)
    {
      g_autofree char *more = g_strdup_printf ("%u more finding(s) in the structured report",
                                               n_findings - PR_HL7_MAX_FINDING_OBX);
      add_obx (out, ++set_id, "TX", "AI-MORE^Findings not listed^99PREREAD", "", more, observed);
    }
  return g_string_free (out, FALSE);
}
