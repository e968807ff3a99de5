/* pr-analyzer-health.h: consecutive failures and quarantine, per analyzer.
 *
 * An analyzer that crashes, hangs, cannot be loaded or leaves no usable
 * findings several times in a row is quarantined: its jobs wait (queued,
 * visible) instead of burning attempts, until its file changes (a fixed
 * version was installed) or an administrator re-enables it with
 * `preread jobs enable NAME`. A failure the analyzer reports itself (bad
 * input, "failed" findings) is the analyzer working as designed and does
 * not count; neither does a decline. Kept in the index so it survives
 * restarts and the `jobs` command can show and change it.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct {
  char *analyzer;
  guint consecutive_failures;
  char *last_failure;           /* (nullable) */
  gint64 last_failure_at_us;    /* 0 when none */
  gint64 quarantined_at_us;     /* 0 when not quarantined */
  char *quarantine_reason;      /* (nullable) */
  char *file_signature;         /* (nullable) the analyzer file when quarantined */
} PrAnalyzerHealth;

void pr_analyzer_health_free (PrAnalyzerHealth *health);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrAnalyzerHealth, pr_analyzer_health_free)

/**
 * pr_analyzer_file_signature:
 * @path: (nullable): a module or program file
 *
 * Returns: (transfer full) (nullable): what identifies this version of the
 * file (device, inode, size, modification time): replacing or rewriting
 * the file changes it.
 */
char *pr_analyzer_file_signature (const char *path);

/**
 * pr_index_record_analyzer_run:
 * @misbehaved: the run crashed, timed out, could not load, or left no usable findings
 * @failure: (nullable): why, when @misbehaved
 * @quarantine_after: failures in a row that quarantine; 0: never
 * @file_signature: (nullable): the analyzer's file, recorded at quarantine
 * @quarantined: (out) (optional): set when this run put it in quarantine
 *
 * A good run resets the count.
 */
gboolean pr_index_record_analyzer_run (PrIndex *index, const char *analyzer, gboolean misbehaved,
                                       const char *failure, guint quarantine_after, const char *file_signature,
                                       gboolean *quarantined, GError **error);

/* Returns: (transfer full) (nullable): the analyzer's record; NULL (no
 * error) when it never ran. */
PrAnalyzerHealth *pr_index_get_analyzer_health (PrIndex *index, const char *analyzer, GError **error);

/* Returns: (transfer full) (element-type PrAnalyzerHealth): all records, by name. */
GPtrArray *pr_index_list_analyzer_health (PrIndex *index, GError **error);

/**
 * pr_index_release_analyzer:
 * @released: (out) (optional): whether it was quarantined
 *
 * Lifts a quarantine and resets the failure count.
 */
gboolean pr_index_release_analyzer (PrIndex *index, const char *analyzer, gboolean *released, GError **error);

G_END_DECLS
