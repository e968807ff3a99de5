/*
 * pr-test-analysis.h: running `preread analyze` on a bundled analyzer from
 * a test and reading what it produced.
 */
#pragma once

#include <json-glib/json-glib.h>

typedef struct {
  int status;                   /* exit status of preread analyze */
  char *stdout_text;            /* its standard output: the findings document */
  char *log;                    /* the job folder's analyzer.log, or NULL */
  JsonParser *parser;
  JsonObject *doc;              /* the parsed document, or NULL; owned by parser */
} PrTestAnalysis;

/* preread analyze -a @analyzer [--param @param] @input, keeping the job
 * folder in @work/@name so that analyzer.log can be read. @param may be
 * NULL. Fills @r; free it with pr_test_analysis_clear(). */
void pr_test_analyze (PrTestAnalysis *r, const char *analyzer, const char *work, const char *name,
                      const char *input, const char *param);
void pr_test_analysis_clear (PrTestAnalysis *r);

/* The run produced a document and no finding was refused by the host:
 * neither counted in the document nor logged. */
void pr_test_assert_nothing_refused (const PrTestAnalysis *r);
