/* pr-command-outbox.c: `preread outbox`, the administrator's view of deliveries. */
#include "config.h"

#include "pr-commands.h"

#include <stdio.h>
#include <string.h>

#include "pr-command-util.h"
#include "pr-index.h"
#include "pr-outbox-item.h"

static void
print_items (GPtrArray *items)
{
  printf ("%-6s %-9s %-12s %-14s %-6s %-7s %-19s %s\n", "ID", "STATE", "WHAT", "PEER", "STUDY", "ATTEMPT",
          "NEXT / SENT", "LAST ERROR");
  for (guint i = 0; i < items->len; i++)
    {
      const PrOutboxItem *item = items->pdata[i];
      g_autofree char *what = g_strdup_printf ("%s%s%s", item->kind, item->result_kind ? " " : "",
                                               item->result_kind ? item->result_kind : "");
      g_autofree char *when = pr_command_format_time (strcmp (item->state, "sent") == 0 ? item->sent_at_us
                                           : strcmp (item->state, "pending") == 0 ? MAX (item->next_attempt_at_us, 1)
                                                                                  : 0);
      printf ("%-6" G_GINT64_FORMAT " %-9s %-12s %-14s %-6" G_GINT64_FORMAT " %-7d %-19s %s\n", item->id, item->state,
              what, item->peer ? item->peer : "(none)", item->study_id, item->attempts, when,
              item->last_error ? item->last_error : "");
    }
  if (items->len == 0)
    printf ("nothing in the outbox\n");
}

int
pr_command_outbox (int argc, char **argv)
{
  g_autofree char *storage = NULL, *config_path = NULL, *state = NULL, *peer = NULL;
  gboolean all = FALSE;
  int limit = 50;
  g_auto (GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "storage", 0, 0, G_OPTION_ARG_FILENAME, &storage, "Storage folder of the gateway", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Take the storage folder from this configuration", "FILE" },
    { "state", 0, 0, G_OPTION_ARG_STRING, &state,
      "Only items in this state (pending, sending, sent, dead, cancelled; default: all but sent)", "STATE" },
    { "peer", 0, 0, G_OPTION_ARG_STRING, &peer, "Only items for this peer", "NAME" },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most this many, newest first (default: 50; 0: all)", "N" },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "With retry: every dead letter", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, "[retry ID | retry --all | drop ID]" },
    { NULL },
  };
  g_autoptr (GOptionContext) context =
    g_option_context_new ("[list | retry ID | retry --all | drop ID] - deliveries to peers");
  g_option_context_set_summary (
    context, "Lists what waits to be delivered (forwarded originals, result objects, and HL7 notices shown\n"
             "as \"hl7 oru\"), newest first, with the last error of each. \"retry ID\" (or \"retry --all\"\n"
             "for every dead letter) makes items due now with a fresh give-up horizon; \"drop ID\" gives up\n"
             "on a pending or dead item for good.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("preread outbox: %s\n", error->message);
      return 2;
    }
  const char *action = rest && rest[0] ? rest[0] : "list";
  gint64 id = 0;
  if (strcmp (action, "list") == 0)
    ;
  else if (strcmp (action, "retry") == 0 && all && rest[1] == NULL)
    ;
  else if ((strcmp (action, "retry") == 0 || strcmp (action, "drop") == 0) && rest[1] != NULL &&
           pr_command_parse_id (rest[1], &id) && rest[2] == NULL)
    ;
  else
    {
      g_printerr ("preread outbox: say list, retry ID, retry --all or drop ID\n");
      return 2;
    }

  g_autoptr (PrIndex) index = pr_command_open_index (storage, config_path, &error);
  if (index == NULL)
    {
      g_printerr ("preread outbox: %s\n", error->message);
      return 1;
    }
  if (strcmp (action, "list") == 0)
    {
      g_autoptr (GPtrArray) items = NULL;
      if (state != NULL)
        items = pr_index_list_outbox (index, state, peer, limit > 0 ? (guint) limit : 0, &error);
      else
        {
          /* The interesting part by default: what is not delivered yet. */
          items = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_outbox_item_free);
          const char *states[] = { "dead", "sending", "pending" };
          for (gsize i = 0; i < G_N_ELEMENTS (states) && error == NULL; i++)
            {
              g_autoptr (GPtrArray) some = pr_index_list_outbox (index, states[i], peer, limit > 0 ? (guint) limit : 0,
                                                                 &error);
              if (some != NULL)
                g_ptr_array_extend_and_steal (items, g_steal_pointer (&some));
            }
        }
      if (error != NULL)
        {
          g_printerr ("preread outbox: %s\n", error->message);
          return 1;
        }
      print_items (items);
      gint64 sent = pr_index_outbox_count (index, "sent", NULL);
      printf ("\n%" G_GINT64_FORMAT " delivered in all\n", MAX (sent, 0));
      return 0;
    }
  if (strcmp (action, "retry") == 0)
    {
      guint n = pr_index_outbox_retry (index, id, &error);
      if (error != NULL)
        {
          g_printerr ("preread outbox: %s\n", error->message);
          return 1;
        }
      if (n == 0 && id != 0)
        {
          g_printerr ("preread outbox: item %" G_GINT64_FORMAT " is not dead or pending\n", id);
          return 1;
        }
      printf ("%u item(s) are due again; the gateway delivers them within seconds\n", n);
      return 0;
    }
  if (!pr_index_outbox_drop (index, id, &error))
    {
      g_printerr ("preread outbox: %s\n", error->message);
      return 1;
    }
  printf ("item %" G_GINT64_FORMAT " is dropped\n", id);
  return 0;
}
