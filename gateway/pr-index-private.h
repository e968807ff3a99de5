/* pr-index-private.h: shared by the pr-index*.c files only. */
#pragma once

#include <sqlite3.h>

#include "pr-index.h"

struct _PrIndex {
  sqlite3 *db;
  char *path;
  GHashTable *statements;       /* SQL text (static) -> sqlite3_stmt*, prepared once */
};

/* Sets @error from the connection's last error; always returns FALSE. */
gboolean pr_index_fail (PrIndex *index, GError **error, const char *what);

/* A cached, reset statement for @sql (a string literal: the cache keys on
 * its address). Returns NULL with @error set when preparing fails. */
sqlite3_stmt *pr_index_statement (PrIndex *index, const char *sql, GError **error);

/* Runs @sql (no results) outside the cache. */
gboolean pr_index_exec (PrIndex *index, const char *sql, GError **error);

/* Binds a string, or NULL when @value is NULL. */
void pr_index_bind_text (sqlite3_stmt *stmt, int column, const char *value);

/* Steps a statement that returns no rows. */
gboolean pr_index_step_done (PrIndex *index, sqlite3_stmt *stmt, GError **error, const char *what);
