/* pr-config-private.h: shared by the conf/ sources only. */
#pragma once

#include "pr-config.h"

/* Names accepted in <analyzer builtin="...">, NULL-terminated. */
extern const char *const pr_config_builtin_analyzers[];

/* A configuration with the node's defaults and empty lists. */
PrConfig *pr_config_new (const char *source);

PrRoute *pr_config_route_new (void);

/* g_free (*field); *field = g_strdup (value) */
void pr_conf_replace_string (char **field, const char *value);
