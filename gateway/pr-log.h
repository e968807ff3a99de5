/* pr-log.h: one log format for the daemon and its child processes.
 *
 * Lines go to stderr as "TIME LEVEL domain: [context] message". The context
 * (for example "assoc 12") tags every line a receiver child writes, so an
 * association's lines can be found in the daemon's log. Patient names and
 * other patient data are never logged; callers log identifiers we made.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Installs the writer. @verbose also shows info and debug lines (as does
 * G_MESSAGES_DEBUG=all); by default g_message() and above are shown. */
void pr_log_init (gboolean verbose);

/* Sets the tag printed on every line of this process; NULL for none. */
void pr_log_set_context (const char *context);

G_END_DECLS
