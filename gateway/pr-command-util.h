/* pr-command-util.h: what the administrator's commands share.
 *
 * `preread jobs` and `preread outbox` open the gateway's index (read and
 * write, next to a running daemon: SQLite's WAL makes that safe), parse
 * ids and print times the same way.
 */
#pragma once

#include <glib.h>

#include "pr-index.h"

G_BEGIN_DECLS

/**
 * pr_command_open_index:
 * @storage: (nullable): --storage
 * @config_path: (nullable): --config, used when @storage is NULL
 * @error: G_FILE_ERROR_NOENT when that storage holds no index
 *
 * The index of the storage folder given, else the configuration's, else
 * the embedded default's.
 */
PrIndex *pr_command_open_index (const char *storage, const char *config_path, GError **error);

/* A positive decimal id, the whole of @text. */
gboolean pr_command_parse_id (const char *text, gint64 *id);

/* "2026-11-23 14:05:00" in local time, or "-" for 0. */
char *pr_command_format_time (gint64 us);

/* Parses AET@HOST:PORT (a DICOM peer on the command line); the AE title
 * must be valid. The outputs are the caller's to free, set or not. */
gboolean pr_command_parse_target (const char *target, char **aet, char **host, guint16 *port);

G_END_DECLS
