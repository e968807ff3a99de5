/* pr-hl7-notify.c: from a done job and its route's <notify> to message files and outbox notices. */
#include "config.h"

#include "pr-hl7-notify.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "plugin/host/pr-findings.h"
#include "pr-hl7-message.h"
#include "pr-job-folder.h"
#include "pr-result-object.h"

char *
pr_hl7_notify_control_id (const char *installation_id, const PrJob *job, const char *peer)
{
  g_autofree char *seed = g_strdup_printf ("%s/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%s", installation_id, job->id,
                                           job->finished_at_us, peer);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, seed, -1);
  return g_strdup_printf ("PR%" G_GINT64_FORMAT ".%.8s", job->id, hash);
}

/* The findings array of the job's findings document. */
static JsonArray *
read_findings (const char *storage_root, gint64 job_id, GError **error)
{
  g_autoptr (PrJobFolder) folder = pr_job_folder_locate (storage_root, job_id);
  g_autoptr (PrFindings) findings = pr_findings_read (folder->findings_file, NULL, error);
  if (findings == NULL)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, findings->json, -1, error))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  JsonNode *list = root && JSON_NODE_HOLDS_OBJECT (root) ? json_object_get_member (json_node_get_object (root), "findings")
                                                          : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    return json_array_new ();
  return json_array_ref (json_node_get_array (list));
}

static PrResultNotice *
make_notice (const char *storage_root, const PrHl7Oru *facts, JsonArray *findings, const PrPeer *peer,
             const char *peer_name, const char *installation_id, const PrJob *job, guint place, const char *failure)
{
  PrResultNotice *notice = g_new0 (PrResultNotice, 1);
  notice->peer = g_strdup (peer_name);
  notice->control_id = pr_hl7_notify_control_id (installation_id, job, peer_name);
  notice->path = g_strdup_printf ("results/%" G_GINT64_FORMAT "/oru-%u.hl7", job->id, place);
  if (failure != NULL)
    {
      notice->error = g_strdup_printf ("the HL7 message could not be made: %s", failure);
      return notice;
    }
  if (peer == NULL || peer->protocol != PR_PEER_HL7_MLLP)
    {
      notice->error = g_strdup_printf ("the HL7 message could not be made: peer %s is not an HL7 peer any more",
                                       peer_name);
      return notice;
    }

  PrHl7Oru oru = *facts;
  oru.control_id = notice->control_id;
  oru.created_at_us = g_get_real_time ();
  /* A borrowing copy, never freed: the strings stay with their owners. */
  oru.sending_application = peer->hl7_sending_application;
  oru.sending_facility = peer->hl7_sending_facility;
  oru.receiving_application = peer->hl7_receiving_application;
  oru.receiving_facility = peer->hl7_receiving_facility;
  oru.findings = findings;
  g_autofree char *message = pr_hl7_oru_render (&oru);

  g_autofree char *path = g_build_filename (storage_root, notice->path, NULL);
  g_autofree char *folder = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;
  g_mkdir_with_parents (folder, 0700);
  /* On disk before the index says it is there: the outbox item is
   * recorded right after, and a crash must not leave it without its file. */
  if (!g_file_set_contents_full (path, message, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &error))
    notice->error = g_strdup_printf ("the HL7 message could not be written: %s", error->message);
  return notice;
}

GPtrArray *
pr_hl7_notify_prepare (PrIndex *index, const char *storage_root, const PrConfig *config, const PrJob *job,
                       const char *installation_id)
{
  GPtrArray *notices = g_ptr_array_new_with_free_func ((GDestroyNotify) pr_result_notice_free);
  const PrRoute *route = job->route ? pr_config_find_route (config, job->route) : NULL;
  if (route == NULL || route->notify->len == 0)
    return notices;
  PrResultPriority priority = pr_result_priority_from_string (job->result_priority);
  gboolean wanted = FALSE;
  for (guint i = 0; i < route->notify->len; i++)
    wanted |= priority >= ((PrRouteNotify *) route->notify->pdata[i])->min_priority;
  if (!wanted)
    return notices;

  g_autoptr (GError) error = NULL;
  g_autoptr (PrHl7Oru) facts = pr_index_get_hl7_oru (index, job->id, &error);
  g_autoptr (JsonArray) findings = facts ? read_findings (storage_root, job->id, &error) : NULL;
  const char *failure = facts == NULL || findings == NULL ? error->message : NULL;
  for (guint i = 0; i < route->notify->len; i++)
    {
      const PrRouteNotify *n = route->notify->pdata[i];
      if (priority < n->min_priority)
        continue;
      PrResultNotice *notice = make_notice (storage_root, facts, findings, pr_config_find_peer (config, n->peer),
                                            n->peer, installation_id, job, i + 1, failure);
      if (notice->error != NULL)
        g_warning ("job %" G_GINT64_FORMAT ": HL7 notice %s to %s: %s", job->id, notice->control_id, n->peer,
                   notice->error);
      else
        g_message ("job %" G_GINT64_FORMAT ": HL7 notice %s (%s results) to %s", job->id, notice->control_id,
                   pr_result_priority_to_string (priority), n->peer);
      g_ptr_array_add (notices, notice);
    }
  return notices;
}
