/* pr-findings.h: what an analyzer reports, read back and checked.
 *
 * Every analyzer, module or program, ends a job by leaving a findings
 * document (JSON, schema "preread-findings/1", see plugin/FINDINGS.md) in
 * the job's output folder. The host reads it only after a clean exit and
 * trusts nothing in it: size, types and ranges are checked here.
 */
#pragma once

#include <glib.h>

#include "pr-job-description.h"

G_BEGIN_DECLS

#define PR_FINDINGS_ERROR (pr_findings_error_quark ())
typedef enum {
  PR_FINDINGS_ERROR_MISSING,   /* no findings file */
  PR_FINDINGS_ERROR_INVALID,   /* not valid JSON, or not the schema */
} PrFindingsError;
GQuark pr_findings_error_quark (void);

typedef enum {
  PR_FINDINGS_DONE,
  PR_FINDINGS_DECLINED,        /* the study is not for this analyzer: not an error */
  PR_FINDINGS_FAILED,
} PrFindingsStatus;

typedef struct {
  PrFindingsStatus status;
  char *message;               /* (nullable) why declined or failed */
  char *summary;               /* (nullable) one line for the worklist */
  char *priority;              /* routine, urgent or critical */
  guint n_findings;
  char *analyzer_version;      /* (nullable) "analyzer": {"version"} as the document says */
  char *json;                  /* the document as read, for the result builders */
} PrFindings;

/* The largest findings document accepted; an analyzer writing more is broken. */
#define PR_FINDINGS_MAX_BYTES (64 * 1024 * 1024)

/**
 * pr_findings_read:
 * @path: the findings file
 * @job: (nullable): the job it answers, to check the findings' references
 *   (images, series) against; see pr-findings-check.h
 *
 * Returns: (transfer full): the findings, or NULL with @error.
 */
PrFindings *pr_findings_read (const char *path, const PrJobDescription *job, GError **error);

void pr_findings_free (PrFindings *findings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrFindings, pr_findings_free)

G_END_DECLS
