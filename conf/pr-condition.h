/* pr-condition.h: match conditions of routes and series filters.
 *
 * A condition tree from the configuration: leaves test one attribute,
 * branches combine them. Attributes are DICOM keywords ("Modality"), tags
 * ("0018,0050"), or facts the gateway computes, written with a leading "@":
 *
 *   @calling-ae   @called-ae    the AE titles of the association that sent the study
 *   @orientation  AXIAL, CORONAL, SAGITTAL or OBLIQUE, from ImageOrientationPatient
 *   @instances    instances received in the series
 *   @series       series received in the study
 *
 * Values are text; a multi-valued attribute is its values joined by "\".
 *   equals / one-of   true when any single value equals (one of) the given
 *                     value(s); ignore-case="true" compares without case
 *   regex             true when the regular expression (PCRE) matches
 *                     anywhere in the whole text; anchor it to match it all
 *   range             true when the first value is a number within [min, max]
 *   exists / missing  present with a non-empty value / absent or empty
 *   all / any / not   every child, at least one child, not the child
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PR_CONDITION_ALL,
  PR_CONDITION_ANY,
  PR_CONDITION_NOT,
  PR_CONDITION_EQUALS,
  PR_CONDITION_ONE_OF,
  PR_CONDITION_REGEX,
  PR_CONDITION_RANGE,
  PR_CONDITION_EXISTS,
  PR_CONDITION_MISSING,
} PrConditionKind;

typedef struct _PrCondition PrCondition;

struct _PrCondition {
  PrConditionKind kind;
  char *attribute;              /* leaves only */
  char **values;                /* EQUALS (one), ONE_OF (several) */
  gboolean ignore_case;         /* EQUALS, ONE_OF */
  GRegex *regex;                /* REGEX */
  char *pattern;                /* REGEX, as written */
  gboolean has_min, has_max;    /* RANGE */
  double min, max;
  GPtrArray *children;          /* ALL, ANY, NOT (exactly one) */
  int line;                     /* where it is written */
};

/* The pseudo-attributes the gateway provides (see above), NULL-terminated. */
extern const char *const pr_condition_facts[];

/* Looks up an attribute's value for evaluation; NULL when absent. The
 * string must stay valid until pr_condition_evaluate() returns. */
typedef const char *(*PrAttributeLookup) (const char *attribute, gpointer user_data);

/**
 * pr_condition_evaluate:
 * @condition: (nullable): NULL is always true
 * @failed: (out) (optional) (transfer none): when FALSE is returned, the
 *   condition that decided it: the first failing leaf of an all, the not
 *   whose child held, the any none of whose children held
 *
 * Returns: whether the condition holds.
 */
gboolean pr_condition_evaluate (const PrCondition *condition, PrAttributeLookup lookup, gpointer user_data,
                                const PrCondition **failed);

/* Returns: (transfer full): one line of text, e.g. `SliceThickness in [0, 2.5]`. */
char *pr_condition_describe (const PrCondition *condition);

/* Calls @func for every leaf's attribute; stops when it returns FALSE. */
gboolean pr_condition_foreach_attribute (const PrCondition *condition,
                                         gboolean (*func) (const PrCondition *leaf, gpointer user_data),
                                         gpointer user_data);

PrCondition *pr_condition_new (PrConditionKind kind, int line);
void pr_condition_free (PrCondition *condition);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrCondition, pr_condition_free)

G_END_DECLS
