/* pr-command-jobs.c: `preread jobs`, the administrator's view of the queue. */
#include "config.h"

#include "pr-commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/pr-config.h"
#include "pr-analyzer-health.h"
#include "pr-command-util.h"
#include "pr-index.h"

static const char *const priority_names[] = { "low", "normal", "high", "urgent" };

static void
print_jobs (GPtrArray *jobs)
{
  printf ("%-6s %-10s %-8s %-16s %-24s %-6s %-7s %-19s %s\n", "ID", "STATE", "ATTEMPT", "ANALYZER", "ROUTE", "STUDY",
          "PRIO", "CREATED", "REASON / SUMMARY");
  for (guint i = 0; i < jobs->len; i++)
    {
      const PrJob *j = jobs->pdata[i];
      g_autofree char *created = pr_command_format_time (j->created_at_us);
      g_autofree char *attempts = g_strdup_printf ("%d/%d", j->attempts, j->max_attempts);
      const char *note = j->summary ? j->summary : (j->reason ? j->reason : "");
      printf ("%-6" G_GINT64_FORMAT " %-10s %-8s %-16s %-24s %-6" G_GINT64_FORMAT " %-7s %-19s %s%s\n", j->id,
              pr_job_state_to_string (j->state), attempts, j->analyzer, j->route, j->study_id,
              j->priority >= 0 && j->priority <= 3 ? priority_names[j->priority] : "?", created, note,
              j->cancel_requested ? " (cancel requested)" : "");
    }
  if (jobs->len == 0)
    printf ("no jobs\n");
}

/* Quarantined analyzers, below the jobs: their queued jobs wait for them. */
static void
print_quarantines (PrIndex *index)
{
  g_autoptr (GPtrArray) health = pr_index_list_analyzer_health (index, NULL);
  for (guint i = 0; health != NULL && i < health->len; i++)
    {
      const PrAnalyzerHealth *h = health->pdata[i];
      if (h->quarantined_at_us == 0)
        continue;
      g_autofree char *since = pr_command_format_time (h->quarantined_at_us);
      printf ("\nanalyzer %s is QUARANTINED since %s: %s\n  its jobs wait until its file changes or "
              "`preread jobs enable %s`\n",
              h->analyzer, since, h->quarantine_reason ? h->quarantine_reason : "", h->analyzer);
    }
}

int
pr_command_jobs (int argc, char **argv)
{
  g_autofree char *storage = NULL, *config_path = NULL, *state = NULL, *analyzer = NULL;
  gint64 study = 0;
  int limit = 50;
  g_auto (GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "storage", 0, 0, G_OPTION_ARG_FILENAME, &storage, "Storage folder of the gateway", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Take the storage folder from this configuration", "FILE" },
    { "state", 0, 0, G_OPTION_ARG_STRING, &state, "Only jobs in this state (queued, running, done, declined, failed, timed-out, cancelled)", "STATE" },
    { "study", 0, 0, G_OPTION_ARG_INT64, &study, "Only jobs of this study (index id)", "ID" },
    { "analyzer", 0, 0, G_OPTION_ARG_STRING, &analyzer, "Only jobs of this analyzer", "NAME" },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most this many, newest first (default: 50; 0: all)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, "[retry ID | cancel ID | enable ANALYZER]" },
    { NULL },
  };
  g_autoptr (GOptionContext) context =
    g_option_context_new ("[list | retry ID | cancel ID | enable ANALYZER] - the analysis queue");
  g_option_context_set_summary (context, "Lists jobs (one per study, route and analyzer), newest first, and the\n"
                                         "analyzers in quarantine. \"retry ID\" puts a finished job back in the queue\n"
                                         "with fresh attempts; \"cancel ID\" cancels a queued job, or asks the daemon\n"
                                         "to stop a running one; \"enable ANALYZER\" lifts a quarantine.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread jobs: %s\n", error->message);
      return 2;
    }
  const char *action = rest && rest[0] ? rest[0] : "list";
  PrJobFilter filter = { -1, study, analyzer, limit > 0 ? (guint) limit : 0 };
  if (state != NULL)
    {
      PrJobState s;
      if (!pr_job_state_from_string (state, &s))
        {
          g_printerr ("preread jobs: unknown state \"%s\"\n", state);
          return 2;
        }
      filter.state = (int) s;
    }
  gint64 id = 0;
  gboolean by_id = strcmp (action, "retry") == 0 || strcmp (action, "cancel") == 0;
  gboolean by_name = strcmp (action, "enable") == 0;
  if (!by_id && !by_name && strcmp (action, "list") != 0)
    {
      g_printerr ("preread jobs: unknown action \"%s\" (list, retry ID, cancel ID or enable ANALYZER)\n", action);
      return 2;
    }
  if (by_id && (rest[1] == NULL || !pr_command_parse_id (rest[1], &id) || rest[2] != NULL))
    {
      g_printerr ("preread jobs: %s needs one job ID\n", action);
      return 2;
    }
  if (by_name && (rest[1] == NULL || rest[2] != NULL))
    {
      g_printerr ("preread jobs: enable needs one analyzer name\n");
      return 2;
    }

  g_autoptr (PrIndex) index = pr_command_open_index (storage, config_path, &error);
  if (index == NULL)
    {
      g_printerr ("preread jobs: %s\n", error->message);
      return 1;
    }

  if (strcmp (action, "list") == 0)
    {
      g_autoptr (GPtrArray) jobs = pr_index_list_jobs (index, &filter, &error);
      if (jobs == NULL)
        {
          g_printerr ("preread jobs: %s\n", error->message);
          return 1;
        }
      print_jobs (jobs);
      print_quarantines (index);
      return 0;
    }
  if (by_name)
    {
      gboolean released = FALSE;
      if (!pr_index_release_analyzer (index, rest[1], &released, &error))
        {
          g_printerr ("preread jobs: %s\n", error->message);
          return 1;
        }
      printf (released ? "analyzer %s is enabled again; its queued jobs will run\n"
                       : "analyzer %s was not quarantined (its failure count is reset)\n",
              rest[1]);
      return 0;
    }
  if (strcmp (action, "retry") == 0)
    {
      if (!pr_index_retry_job (index, id, &error))
        {
          g_printerr ("preread jobs: %s\n", error->message);
          return 1;
        }
      printf ("job %" G_GINT64_FORMAT " is queued again\n", id);
      return 0;
    }
  gboolean was_running = FALSE;
  if (!pr_index_cancel_job (index, id, &was_running, &error))
    {
      g_printerr ("preread jobs: %s\n", error->message);
      return 1;
    }
  printf (was_running ? "job %" G_GINT64_FORMAT " will be stopped by the gateway\n"
                      : "job %" G_GINT64_FORMAT " is cancelled\n",
          id);
  return 0;
}
