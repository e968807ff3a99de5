/*
 * pr-test-analysis.c: see pr-test-analysis.h.
 */
#include "pr-test-analysis.h"

#include <string.h>

#include "pr-test-util.h"

void
pr_test_analyze (PrTestAnalysis *r, const char *analyzer, const char *work, const char *name, const char *input,
                 const char *param)
{
  g_autofree char *job = g_build_filename (work, name, NULL);
  const char *argv[12] = { pr_test_preread (), "analyze", "-a", analyzer, "-q", "--output", job };
  int n = 7;
  if (param)
    {
      argv[n++] = "--param";
      argv[n++] = param;
    }
  argv[n++] = input;
  argv[n] = NULL;
  g_autofree char *err = NULL;
  memset (r, 0, sizeof *r);
  r->status = pr_test_runv (&r->stdout_text, &err, argv);
  g_test_message ("preread analyze %s exited %d; stderr:\n%s", name, r->status, err);
  g_autofree char *log_path = g_build_filename (job, "analyzer.log", NULL);
  g_file_get_contents (log_path, &r->log, NULL, NULL);
  r->parser = json_parser_new ();
  if (r->stdout_text && json_parser_load_from_data (r->parser, r->stdout_text, -1, NULL) &&
      json_parser_get_root (r->parser))
    r->doc = json_node_get_object (json_parser_get_root (r->parser));
}

void
pr_test_analysis_clear (PrTestAnalysis *r)
{
  g_free (r->log);
  g_free (r->stdout_text);
  g_clear_object (&r->parser);
  memset (r, 0, sizeof *r);
}

void
pr_test_assert_nothing_refused (const PrTestAnalysis *r)
{
  g_assert_nonnull (r->doc);
  g_assert_cmpint (json_object_get_int_member_with_default (r->doc, "refused_findings", 0), ==, 0);
  g_assert_null (r->log ? strstr (r->log, "refused") : NULL);
}
