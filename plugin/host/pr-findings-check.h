/* pr-findings-check.h: every rule of plugin/FINDINGS.md, checked on a document.
 *
 * The runner checks a module's findings one by one as they come in; this is
 * the same check for a whole document, whoever wrote it (an external
 * program, or the runner itself), before the result builders trust it:
 * codes complete, numbers finite and in range, point counts right for the
 * shape, references to images and series of the job, points inside their
 * image, masks inside their box with exactly the bits the box needs.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "pr-job-description.h"

G_BEGIN_DECLS

/**
 * pr_findings_check:
 * @findings: the document's "findings" array
 * @job: (nullable): the job, to check references against; NULL checks the
 *   structure only
 * @error: G_IO_ERROR_INVALID_DATA naming the finding ("finding 3: ...")
 */
gboolean pr_findings_check (JsonArray *findings, const PrJobDescription *job, GError **error);

G_END_DECLS
