/* pr-condition.c: evaluating and describing match conditions. */
#include "config.h"

#include "pr-condition.h"

#include <stdlib.h>
#include <string.h>

const char *const pr_condition_facts[] = {
  "@calling-ae", "@called-ae", "@orientation", "@instances", "@series", NULL,
};

PrCondition *
pr_condition_new (PrConditionKind kind, int line)
{
  PrCondition *c = g_new0 (PrCondition, 1);
  c->kind = kind;
  c->line = line;
  if (kind == PR_CONDITION_ALL || kind == PR_CONDITION_ANY || kind == PR_CONDITION_NOT)
    c->children = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_condition_free);
  return c;
}

void
pr_condition_free (PrCondition *c)
{
  if (c == NULL)
    return;
  g_free (c->attribute);
  g_strfreev (c->values);
  g_clear_pointer (&c->regex, g_regex_unref);
  g_free (c->pattern);
  g_clear_pointer (&c->children, g_ptr_array_unref);
  g_free (c);
}

/* Does one of the backslash-separated values of @text equal @wanted? */
static gboolean
some_value_equals (const char *text, const char *wanted, gboolean ignore_case)
{
  g_auto (GStrv) values = g_strsplit (text, "\\", -1);
  for (char **v = values; *v != NULL; v++)
    {
      g_strstrip (*v);
      if (ignore_case ? g_ascii_strcasecmp (*v, wanted) == 0 : strcmp (*v, wanted) == 0)
        return TRUE;
    }
  return FALSE;
}

/* A decimal number as DICOM writes them (IS, DS): [+-]digits[.digits][e[+-]digits].
 * Hex, "inf" and "nan", which strtod also takes, are not numbers here. */
static gboolean
is_decimal (const char *s)
{
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  gboolean digits = FALSE;
  while (g_ascii_isdigit (*p))
    p++, digits = TRUE;
  if (*p == '.')
    for (p++; g_ascii_isdigit (*p); p++)
      digits = TRUE;
  if (!digits)
    return FALSE;
  if (*p == 'e' || *p == 'E')
    {
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }
  return *p == '\0';
}

static gboolean
parse_first_number (const char *text, double *number)
{
  g_autofree char *first = g_strndup (text, strcspn (text, "\\"));
  g_strstrip (first);
  if (!is_decimal (first))
    return FALSE;
  *number = g_ascii_strtod (first, NULL);
  return TRUE;
}

static gboolean
evaluate_leaf (const PrCondition *c, const char *value)
{
  gboolean present = value != NULL && *value != '\0';
  switch (c->kind)
    {
    case PR_CONDITION_EXISTS:
      return present;
    case PR_CONDITION_MISSING:
      return !present;
    case PR_CONDITION_EQUALS:
    case PR_CONDITION_ONE_OF:
      if (!present)
        return FALSE;
      for (char **wanted = c->values; wanted && *wanted; wanted++)
        if (some_value_equals (value, *wanted, c->ignore_case))
          return TRUE;
      return FALSE;
    case PR_CONDITION_REGEX:
      return present && g_regex_match (c->regex, value, 0, NULL);
    case PR_CONDITION_RANGE:
      {
        double number;
        if (!present || !parse_first_number (value, &number))
          return FALSE;
        return (!c->has_min || number >= c->min) && (!c->has_max || number <= c->max);
      }
    default:
      g_assert_not_reached ();
    }
}

gboolean
pr_condition_evaluate (const PrCondition *c, PrAttributeLookup lookup, gpointer user_data,
                       const PrCondition **failed)
{
  const PrCondition *ignored;
  if (failed == NULL)
    failed = &ignored;
  *failed = NULL;
  if (c == NULL)
    return TRUE;

  switch (c->kind)
    {
    case PR_CONDITION_ALL:
      for (guint i = 0; i < c->children->len; i++)
        if (!pr_condition_evaluate (c->children->pdata[i], lookup, user_data, failed))
          return FALSE;
      return TRUE;
    case PR_CONDITION_ANY:
      for (guint i = 0; i < c->children->len; i++)
        if (pr_condition_evaluate (c->children->pdata[i], lookup, user_data, NULL))
          return TRUE;
      *failed = c;
      return FALSE;
    case PR_CONDITION_NOT:
      if (pr_condition_evaluate (c->children->pdata[0], lookup, user_data, NULL))
        {
          *failed = c;
          return FALSE;
        }
      return TRUE;
    default:
      if (evaluate_leaf (c, lookup (c->attribute, user_data)))
        return TRUE;
      *failed = c;
      return FALSE;
    }
}

static void
describe_into (GString *out, const PrCondition *c)
{
  switch (c->kind)
    {
    case PR_CONDITION_ALL:
    case PR_CONDITION_ANY:
      g_string_append (out, c->kind == PR_CONDITION_ALL ? "all of (" : "any of (");
      for (guint i = 0; i < c->children->len; i++)
        {
          if (i > 0)
            g_string_append (out, "; ");
          describe_into (out, c->children->pdata[i]);
        }
      g_string_append_c (out, ')');
      break;
    case PR_CONDITION_NOT:
      g_string_append (out, "not (");
      describe_into (out, c->children->pdata[0]);
      g_string_append_c (out, ')');
      break;
    case PR_CONDITION_EQUALS:
      g_string_append_printf (out, "%s equals \"%s\"%s", c->attribute, c->values[0],
                              c->ignore_case ? " (ignoring case)" : "");
      break;
    case PR_CONDITION_ONE_OF:
      {
        g_autofree char *joined = g_strjoinv ("\", \"", c->values);
        g_string_append_printf (out, "%s is one of \"%s\"%s", c->attribute, joined,
                                c->ignore_case ? " (ignoring case)" : "");
      }
      break;
    case PR_CONDITION_REGEX:
      g_string_append_printf (out, "%s matches /%s/", c->attribute, c->pattern);
      break;
    case PR_CONDITION_RANGE:
      {
        char lo[G_ASCII_DTOSTR_BUF_SIZE], hi[G_ASCII_DTOSTR_BUF_SIZE];
        /* %.10g: "0.1" as written, not its binary neighbour 0.10000000000000001 */
        g_string_append_printf (out, "%s in [%s, %s]", c->attribute,
                                c->has_min ? g_ascii_formatd (lo, sizeof lo, "%.10g", c->min) : "-inf",
                                c->has_max ? g_ascii_formatd (hi, sizeof hi, "%.10g", c->max) : "+inf");
      }
      break;
    case PR_CONDITION_EXISTS:
      g_string_append_printf (out, "%s exists", c->attribute);
      break;
    case PR_CONDITION_MISSING:
      g_string_append_printf (out, "%s is missing", c->attribute);
      break;
    }
}

char *
pr_condition_describe (const PrCondition *c)
{
  if (c == NULL)
    return g_strdup ("(always)");
  GString *out = g_string_new (NULL);
  describe_into (out, c);
  return g_string_free (out, FALSE);
}

gboolean
pr_condition_foreach_attribute (const PrCondition *c, gboolean (*func) (const PrCondition *leaf, gpointer user_data),
                                gpointer user_data)
{
  if (c == NULL)
    return TRUE;
  if (c->children != NULL)
    {
      for (guint i = 0; i < c->children->len; i++)
        if (!pr_condition_foreach_attribute (c->children->pdata[i], func, user_data))
          return FALSE;
      return TRUE;
    }
  return func (c, user_data);
}
