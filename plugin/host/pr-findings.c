/* pr-findings.c: reading an analyzer's findings document defensively. */
#include "config.h"

#include "pr-findings.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <json-glib/json-glib.h>

#include "pr-findings-check.h"

G_DEFINE_QUARK (preread-findings-error-quark, pr_findings_error)

void
pr_findings_free (PrFindings *f)
{
  if (f == NULL)
    return;
  g_free (f->message);
  g_free (f->summary);
  g_free (f->priority);
  g_free (f->analyzer_version);
  g_free (f->json);
  g_free (f);
}

static const char *
optional_string (JsonObject *o, const char *member, GError **error)
{
  if (!json_object_has_member (o, member))
    return NULL;
  JsonNode *node = json_object_get_member (o, member);
  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID, "\"%s\" must be a string", member);
      return NULL;
    }
  return json_node_get_string (node);
}

PrFindings *
pr_findings_read (const char *path, const PrJobDescription *job, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_MISSING, "the analyzer left no findings file");
      return NULL;
    }
  if (!S_ISREG (st.st_mode) || st.st_size > PR_FINDINGS_MAX_BYTES)
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID,
                   "the findings file is not a regular file of at most %d MB", PR_FINDINGS_MAX_BYTES >> 20);
      return NULL;
    }
  g_autofree char *text = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;
  if (!json_parser_load_from_data (parser, text, (gssize) length, &parse_error))
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID, "the findings are not valid JSON: %s",
                   parse_error->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID, "the findings are not a JSON object");
      return NULL;
    }
  JsonObject *o = json_node_get_object (root);
  g_autoptr (GError) field_error = NULL;
  const char *schema = optional_string (o, "schema", &field_error);
  const char *status = optional_string (o, "status", &field_error);
  const char *message = optional_string (o, "message", &field_error);
  const char *summary = optional_string (o, "summary", &field_error);
  const char *priority = optional_string (o, "priority", &field_error);
  if (field_error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&field_error), "invalid findings: ");
      return NULL;
    }
  if (g_strcmp0 (schema, "preread-findings/1") != 0)
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID,
                   "the findings declare schema \"%s\", expected \"preread-findings/1\"", schema ? schema : "(none)");
      return NULL;
    }
  g_autoptr (PrFindings) f = g_new0 (PrFindings, 1);
  if (g_strcmp0 (status, "done") == 0)
    f->status = PR_FINDINGS_DONE;
  else if (g_strcmp0 (status, "declined") == 0)
    f->status = PR_FINDINGS_DECLINED;
  else if (g_strcmp0 (status, "failed") == 0)
    f->status = PR_FINDINGS_FAILED;
  else
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID,
                   "status must be done, declined or failed, not \"%s\"", status ? status : "(none)");
      return NULL;
    }
  if (priority != NULL && g_strcmp0 (priority, "routine") != 0 && g_strcmp0 (priority, "urgent") != 0 &&
      g_strcmp0 (priority, "critical") != 0)
    {
      g_set_error (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID,
                   "priority must be routine, urgent or critical, not \"%s\"", priority);
      return NULL;
    }
  if (json_object_has_member (o, "findings"))
    {
      JsonNode *list = json_object_get_member (o, "findings");
      if (!JSON_NODE_HOLDS_ARRAY (list))
        {
          g_set_error_literal (error, PR_FINDINGS_ERROR, PR_FINDINGS_ERROR_INVALID, "\"findings\" must be an array");
          return NULL;
        }
      f->n_findings = json_array_get_length (json_node_get_array (list));
      /* Only what a result is built from must be right: a declined or
       * failed document's findings are dropped anyway. */
      if (f->status == PR_FINDINGS_DONE && !pr_findings_check (json_node_get_array (list), job, error))
        {
          g_prefix_error (error, "invalid findings: ");
          return NULL;
        }
    }
  /* Summaries end up in a worklist line: keep them to one bounded line. */
  f->message = message ? g_utf8_substring (message, 0, MIN (g_utf8_strlen (message, -1), 1000)) : NULL;
  f->summary = summary ? g_utf8_substring (summary, 0, MIN (g_utf8_strlen (summary, -1), 200)) : NULL;
  if (f->summary)
    g_strdelimit (f->summary, "\r\n", ' ');
  f->priority = g_strdup (priority ? priority : "routine");
  JsonNode *analyzer = json_object_get_member (o, "analyzer");
  if (analyzer != NULL && JSON_NODE_HOLDS_OBJECT (analyzer))
    {
      const char *version = json_object_get_string_member_with_default (json_node_get_object (analyzer), "version",
                                                                        NULL);
      if (version != NULL)
        f->analyzer_version = g_utf8_substring (version, 0, MIN (g_utf8_strlen (version, -1), 64));
    }
  f->json = g_steal_pointer (&text);
  return g_steal_pointer (&f);
}
