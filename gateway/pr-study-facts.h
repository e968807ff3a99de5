/* pr-study-facts.h: what routes are evaluated against.
 *
 * A study as a router sees it: its series, each with the attributes of its
 * first instance (any top-level DICOM attribute, by keyword or tag) and the
 * facts the gateway computes (pr-condition.h: @orientation, @instances,
 * @series, @calling-ae, @called-ae). Built from the index for the daemon, or
 * from files for `preread route`, so that a dry run and the real thing
 * decide alike.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

typedef struct {
  char *series_uid;
  guint instance_count;
  GHashTable *values;           /* tag (GUINT_TO_POINTER) -> value text, multi-values joined by "\" */
  char *orientation;            /* (nullable) AXIAL, CORONAL, SAGITTAL or OBLIQUE */
  char *instances_text;         /* @instances, as text */
  GPtrArray *files;             /* (nullable) instance files, when built from files */
} PrSeriesFacts;

typedef struct {
  gint64 study_id;              /* 0 when built from files */
  char *study_uid;
  char *calling_ae;             /* (nullable) */
  char *called_ae;              /* (nullable) */
  guint instance_count;
  char *series_text;            /* @series, as text */
  GPtrArray *series;            /* PrSeriesFacts*, in arrival order */
} PrStudyFacts;

/* Returns: (transfer full): facts of an indexed study. */
PrStudyFacts *pr_study_facts_from_index (const PrIndexStudy *study);

/**
 * pr_study_facts_from_files:
 * @paths: files and folders (walked recursively); non-DICOM files are skipped
 * @skipped: (out) (optional): how many files were not readable DICOM
 *
 * Returns: (transfer full) (element-type PrStudyFacts): one per study found.
 */
GPtrArray *pr_study_facts_from_files (const char *const *paths, guint *skipped);

/**
 * pr_study_facts_lookup:
 * @attribute: a keyword, a tag ("0018,0050") or a fact ("@orientation")
 *
 * Returns: (transfer none) (nullable): the value for @series of @study.
 */
const char *pr_study_facts_lookup (const PrStudyFacts *study, const PrSeriesFacts *series, const char *attribute);

void pr_study_facts_free (PrStudyFacts *facts);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrStudyFacts, pr_study_facts_free)

G_END_DECLS
