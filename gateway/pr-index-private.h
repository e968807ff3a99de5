/* pr-index-private.h: shared by the pr-index*.c files only. */
#pragma once

#include <json-glib/json-glib.h>
#include <sqlite3.h>

#include "pr-index.h"

struct _PrIndex {
  sqlite3 *db;
  char *path;
  GHashTable *statements;       /* SQL text (static) -> sqlite3_stmt*, prepared once */
};

/* Sets @error from the connection's last error; always returns FALSE. */
gboolean pr_index_fail (PrIndex *index, GError **error, const char *what);

/* A cached statement, reset on scope exit when held in g_autoptr (PrStmt).
 * A statement left mid-step keeps its read snapshot open, and a connection
 * holding an old snapshot cannot write (SQLITE_BUSY_SNAPSHOT, which the busy
 * timeout does not retry); resetting at scope exit rules that out. */
typedef sqlite3_stmt PrStmt;
void pr_index_statement_release (PrStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrStmt, pr_index_statement_release)

/* A cached, reset statement for @sql (a string literal: the cache keys on
 * its address); the cache owns it. Returns NULL with @error set when
 * preparing fails. */
PrStmt *pr_index_statement (PrIndex *index, const char *sql, GError **error);

/* Runs @sql (no results) outside the cache. */
gboolean pr_index_exec (PrIndex *index, const char *sql, GError **error);

/* Binds a string, or NULL when @value is NULL. */
void pr_index_bind_text (sqlite3_stmt *stmt, int column, const char *value);

/* A text column as a new string, or NULL for SQL NULL. */
char *pr_index_column_text (sqlite3_stmt *stmt, int column);

/* Steps a statement that returns no rows. */
gboolean pr_index_step_done (PrIndex *index, sqlite3_stmt *stmt, GError **error, const char *what);

/* Steps @stmt and collects its first column as gint64 ids. */
GArray *pr_index_collect_ids (PrIndex *index, sqlite3_stmt *stmt, const char *what, GError **error);

/* For the web UI's read models (pr-index-ui.c): one row as a JSON object,
 * members named by the columns, "*_at" columns as ISO 8601 times. */
void pr_index_row_to_json (JsonBuilder *builder, sqlite3_stmt *stmt);

/* Every row of @stmt as a JSON array. */
gboolean pr_index_rows_to_json (PrIndex *index, JsonBuilder *builder, sqlite3_stmt *stmt, GError **error);
