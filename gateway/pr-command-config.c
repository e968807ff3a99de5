/* pr-command-config.c: `preread check-config` and `preread route`. */
#include "config.h"

#include "pr-commands.h"

#include <stdio.h>
#include <string.h>

#include "conf/pr-config.h"
#include "dicom/pr-dicom.h"
#include "pr-analyzer-catalog.h"
#include "pr-router.h"

static char *
describe_destinations (GPtrArray *destinations)
{
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < destinations->len; i++)
    {
      const PrRouteDestination *d = destinations->pdata[i];
      g_string_append_printf (out, "%s%s", i ? ", " : "", d->to_sender ? "the sender" : d->peer);
      if (d->result_objects != NULL)
        {
          g_autofree char *objects = g_strjoinv (" ", d->result_objects);
          g_string_append_printf (out, " (%s)", objects);
        }
    }
  return g_string_free (out, FALSE);
}

static void
print_summary (const PrConfig *c)
{
  const PrNodeConfig *n = c->node;
  printf ("%s: valid\n", c->source);
  printf ("node: AE %s on %s:%u, storage %s, quiet period %u s, up to %u associations\n", n->ae_title,
          n->bind_address, n->port, n->storage_dir, n->quiet_period_s, n->max_associations);
  for (guint i = 0; i < c->peers->len; i++)
    {
      const PrPeer *p = c->peers->pdata[i];
      if (p->protocol == PR_PEER_HL7_MLLP)
        printf ("peer %s: HL7 (MLLP) %s:%u, ACK within %u s%s\n", p->name, p->host, p->port, p->ack_timeout_s,
                p->tls ? " (TLS)" : "");
      else
        printf ("peer %s: %s@%s:%u%s\n", p->name, p->ae_title, p->host, p->port, p->tls ? " (TLS)" : "");
    }
  for (guint i = 0; i < c->analyzers->len; i++)
    {
      const PrAnalyzerConfig *a = c->analyzers->pdata[i];
      const char *kinds[] = { "module", "program", "built-in" };
      g_autofree char *problem = NULL;
      g_autofree char *what = pr_analyzer_catalog_check (a, &problem);
      printf ("analyzer %s: %s %s%s%s%s, timeout %u s, %u at a time, %u attempts\n", a->name, kinds[a->kind],
              a->location, what ? " (" : "", what ? what : "", what ? ")" : "", a->timeout_s, a->concurrency,
              a->max_attempts);
      /* Not an error of the file: it may be checked before the module is
       * installed. But every job would fail, so say it loudly. */
      if (problem != NULL)
        g_printerr ("warning: analyzer %s cannot run here: %s\n", a->name, problem);
    }
  for (guint i = 0; i < c->routes->len; i++)
    {
      const PrRoute *r = c->routes->pdata[i];
      g_autofree char *match = pr_condition_describe (r->match);
      printf ("route %s: priority %s, on update %s, complete after %u s quiet", r->name,
              pr_priority_to_string (r->priority), r->on_update == PR_ON_UPDATE_RERUN ? "rerun" : "ignore",
              r->quiet_period_s ? r->quiet_period_s : n->quiet_period_s);
      if (r->expected_series || r->expected_instances)
        printf (" or at %u series / %u instances", r->expected_series, r->expected_instances);
      printf ("\n  match: %s\n", match);
      for (guint j = 0; j < r->analyses->len; j++)
        {
          const PrRouteAnalysis *a = r->analyses->pdata[j];
          g_autofree char *filter = pr_condition_describe (a->series_filter);
          printf ("  analyze: %s <- %s series where %s\n", a->analyzer, pr_series_preference_to_string (a->prefer),
                  filter);
        }
      if (r->results_to->len > 0)
        {
          g_autofree char *to = describe_destinations (r->results_to);
          printf ("  results to: %s\n", to);
        }
      if (r->forward_to->len > 0)
        {
          g_autofree char *to = describe_destinations (r->forward_to);
          printf ("  forward images to: %s\n", to);
        }
      for (guint j = 0; j < r->notify->len; j++)
        {
          const PrRouteNotify *notify = r->notify->pdata[j];
          printf ("  notify: %s (HL7) when results are %s or above\n", notify->peer,
                  pr_result_priority_to_string (notify->min_priority));
        }
    }
}

int
pr_command_check_config (int argc, char **argv)
{
  gboolean print_default = FALSE;
  g_auto (GStrv) files = NULL;
  GOptionEntry entries[] = {
    { "print-default", 0, 0, G_OPTION_ARG_NONE, &print_default, "Print the embedded default configuration", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE - check a configuration file");
  g_option_context_set_summary (context, "Checks FILE against the schema and for meaning, and prints a summary of\n"
                                         "what it configures; or prints every problem as FILE:LINE: message.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread check-config: %s\n", error->message);
      return 2;
    }
  if (print_default)
    {
      fputs (pr_config_default_xml (), stdout);
      return 0;
    }
  if (files == NULL || files[0] == NULL || files[1] != NULL)
    {
      g_printerr ("preread check-config: give one configuration file (or --print-default)\n");
      return 2;
    }
  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread check-config: %s\n", error->message);
      return 1;
    }
  g_autoptr (PrConfig) config = pr_router_load_config (files[0], &error);
  if (config == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  print_summary (config);
  return 0;
}

static void
print_series (const PrStudyFacts *study, const PrSeriesFacts *s)
{
  const char *modality = pr_study_facts_lookup (study, s, "Modality");
  const char *description = pr_study_facts_lookup (study, s, "SeriesDescription");
  const char *thickness = pr_study_facts_lookup (study, s, "SliceThickness");
  printf ("%s (%s%s%s%s%s%s, %u instances)", s->series_uid, modality ? modality : "?",
          s->orientation ? " " : "", s->orientation ? s->orientation : "", thickness ? " " : "",
          thickness ? thickness : "", thickness ? " mm" : "", s->instance_count);
  if (description != NULL)
    printf (" \"%s\"", description);
}

static void
print_decision (const PrStudyFacts *study, const PrRouteDecision *d)
{
  if (!d->matched)
    {
      printf ("  route %s: no match\n", d->route->name);
      for (guint i = 0; i < d->failures->len; i++)
        printf ("    %s\n", (const char *) d->failures->pdata[i]);
      return;
    }
  printf ("  route %s: matches (%u of %u series)\n", d->route->name, d->matching_series->len, study->series->len);
  for (guint i = 0; i < d->plans->len; i++)
    {
      const PrAnalysisPlan *plan = d->plans->pdata[i];
      printf ("    analyze with %s (%s):", plan->analysis->analyzer, pr_series_preference_to_string (plan->analysis->prefer));
      if (plan->series->len == 0)
        printf (" no series qualifies: %s\n", plan->why_none);
      else
        {
          printf ("\n");
          for (guint j = 0; j < plan->series->len; j++)
            {
              printf ("      ");
              print_series (study, plan->series->pdata[j]);
              printf ("\n");
            }
        }
    }
  if (d->route->results_to->len > 0)
    {
      g_autofree char *to = describe_destinations (d->route->results_to);
      printf ("    results to: %s\n", to);
    }
  if (d->route->forward_to->len > 0)
    {
      g_autofree char *to = describe_destinations (d->route->forward_to);
      printf ("    forward %u instances to: %s\n", study->instance_count, to);
    }
}

int
pr_command_route (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_auto (GStrv) paths = NULL;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default: the embedded one)", "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &paths, NULL, "PATH..." },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PATH... - which routes would take these studies");
  g_option_context_set_summary (context, "A dry run: reads the DICOM files in PATH (folders recursively), groups them\n"
                                         "into studies and prints, for each study, which routes match, which series\n"
                                         "each analyzer would get, and for the routes that do not match, the first\n"
                                         "condition that failed on each series. Nothing is sent or stored.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread route: %s\n", error->message);
      return 2;
    }
  if (paths == NULL || paths[0] == NULL)
    {
      g_printerr ("preread route: give DICOM files or folders\n");
      return 2;
    }
  for (char **p = paths; *p; p++)
    if (!g_file_test (*p, G_FILE_TEST_EXISTS))
      {
        g_printerr ("preread route: %s: no such file or folder\n", *p);
        return 2;
      }
  if (!pr_dicom_init (&error))
    {
      g_printerr ("preread route: %s\n", error->message);
      return 1;
    }
  g_autoptr (PrConfig) config = pr_router_load_config (config_path, &error);
  if (config == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  guint skipped = 0;
  g_autoptr (GPtrArray) studies = pr_study_facts_from_files ((const char *const *) paths, &skipped);
  for (guint i = 0; i < studies->len; i++)
    {
      const PrStudyFacts *study = studies->pdata[i];
      printf ("study %s: %u series, %u instances\n", study->study_uid, study->series->len, study->instance_count);
      g_autoptr (GPtrArray) decisions = pr_router_decide (config, study);
      for (guint j = 0; j < decisions->len; j++)
        print_decision (study, decisions->pdata[j]);
    }
  if (studies->len == 0)
    printf ("no DICOM studies found\n");
  if (skipped > 0)
    printf ("%u file(s) skipped: not readable DICOM with Study and Series Instance UIDs\n", skipped);
  return 0;
}
