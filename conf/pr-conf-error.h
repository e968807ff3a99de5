/* pr-conf-error.h: the configuration module's error domain. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_CONF_ERROR (pr_conf_error_quark ())

typedef enum {
  PR_CONF_ERROR_INVALID,   /* a value is out of range or malformed */
  PR_CONF_ERROR_SCHEMA,    /* the file does not follow conf/preread.xsd */
  PR_CONF_ERROR_IO,        /* the file cannot be read */
} PrConfError;

GQuark pr_conf_error_quark (void);

/* Sets PR_CONF_ERROR_INVALID with a formatted message; always returns FALSE. */
gboolean pr_conf_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
