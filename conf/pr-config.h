/* pr-config.h: the administrator's configuration, as loaded from one XML file.
 *
 * A configuration describes the node (pr-node-config.h), the peers results
 * and images go to, the analyzers, and the routes that decide which study
 * goes to which analyzer and where the results go. It is validated against
 * conf/preread.xsd (shipped inside the binary) and then checked for meaning:
 * names unique, references resolved, numbers in range, regular expressions
 * compilable. Every error names the file and the line.
 *
 * This module only parses and checks; it performs no action. The gateway's
 * router evaluates the conditions (pr-condition.h) against studies.
 */
#pragma once

#include <glib.h>

#include "pr-condition.h"
#include "pr-node-config.h"

G_BEGIN_DECLS

typedef enum {
  PR_PEER_DICOM,                /* C-STORE: result objects and forwarded images */
  PR_PEER_HL7_MLLP,             /* HL7 v2 over MLLP: result notices (<notify>) only */
} PrPeerProtocol;

typedef struct {
  char *name;
  PrPeerProtocol protocol;
  char *ae_title;               /* "" for HL7 peers, never NULL: no calling AE matches it */
  char *host;
  guint16 port;
  gboolean tls;
  char *tls_certificate;        /* (nullable) PEM file, our certificate for mutual TLS */
  char *tls_key;                /* (nullable) PEM file */
  char *tls_ca;                 /* (nullable) PEM file of the CA that signs the peer */
  char **result_objects;        /* (nullable) what this peer accepts: "sr", "sc", "gsps", "seg", "kos" */
  guint retry_base_s;           /* first retry after a transient failure */
  guint retry_max_s;            /* retries double up to this */
  guint give_up_after_s;        /* then the item is a dead letter */
  /* HL7 peers only (NULL or 0 otherwise): MSH-3 to MSH-6 of every message,
   * checked to hold no HL7 delimiter, and how long to wait for the ACK. */
  char *hl7_sending_application;    /* default "PREREAD" */
  char *hl7_sending_facility;       /* (nullable) */
  char *hl7_receiving_application;  /* (nullable) */
  char *hl7_receiving_facility;     /* (nullable) */
  guint ack_timeout_s;              /* default 30 */
  int line;
} PrPeer;

typedef enum {
  PR_ANALYZER_MODULE,           /* a shared library implementing plugin/preread-analyzer.h */
  PR_ANALYZER_PROGRAM,          /* an executable following the job-folder contract */
  PR_ANALYZER_BUILTIN,          /* compiled into preread (test analyzer) */
} PrAnalyzerKind;

typedef struct {
  char *name;
  PrAnalyzerKind kind;
  char *location;               /* module name or path, program path, or built-in name */
  GHashTable *parameters;       /* char* -> char*, passed to every job */
  guint timeout_s;              /* wall clock per job */
  guint no_progress_timeout_s;  /* without a progress report; 0: same as timeout */
  guint64 memory_limit_mb;      /* address space of the analyzer process */
  guint concurrency;            /* jobs of this analyzer at once */
  guint max_attempts;           /* a job is retried after a crash or timeout up to this */
  guint retry_delay_s;          /* before the second attempt; doubles each time, at most 10 min */
  guint quarantine_after;       /* consecutive crashes/timeouts before quarantine; 0: never */
  gboolean decode_volumes;      /* programs: preread decodes the series into volume files first */
  int line;
} PrAnalyzerConfig;

typedef enum {
  PR_PREFER_ALL,                /* every series that passes the filter */
  PR_PREFER_THINNEST,           /* the one with the smallest SliceThickness */
  PR_PREFER_MOST_INSTANCES,
  PR_PREFER_FIRST,              /* the first received */
} PrSeriesPreference;

typedef struct {
  char *analyzer;               /* name of a PrAnalyzerConfig */
  PrCondition *series_filter;   /* (nullable) which series qualify */
  PrSeriesPreference prefer;
  GHashTable *parameters;       /* route-specific parameters, override the analyzer's */
  int line;
} PrRouteAnalysis;

typedef struct {
  char *peer;                   /* (nullable) name of a PrPeer; NULL with @to_sender */
  gboolean to_sender;           /* back to the AE that sent the study (the calling AE as a peer) */
  char **result_objects;        /* (nullable) restricts what goes there; NULL: the peer's or all */
  int line;
} PrRouteDestination;

/* The priority an analyzer gives a study's results (findings "priority"),
 * in increasing order: not the route's PrPriority, which orders work. */
typedef enum {
  PR_RESULT_ROUTINE = 0,
  PR_RESULT_URGENT = 1,
  PR_RESULT_CRITICAL = 2,
} PrResultPriority;

/* <notify>: an HL7 result notice to @peer when a job's results are at
 * least @min_priority. */
typedef struct {
  char *peer;                   /* name of a PrPeer with protocol PR_PEER_HL7_MLLP */
  PrResultPriority min_priority;/* default PR_RESULT_URGENT */
  int line;
} PrRouteNotify;

typedef enum {
  PR_PRIORITY_LOW = 0,
  PR_PRIORITY_NORMAL = 1,
  PR_PRIORITY_HIGH = 2,
  PR_PRIORITY_URGENT = 3,
} PrPriority;

typedef enum {
  PR_ON_UPDATE_RERUN,           /* late instances: route the study again */
  PR_ON_UPDATE_IGNORE,          /* late instances: the first routing stands */
} PrUpdatePolicy;

typedef struct {
  char *name;
  PrCondition *match;           /* (nullable) NULL matches every study */
  GPtrArray *analyses;          /* PrRouteAnalysis* */
  GPtrArray *results_to;        /* PrRouteDestination*: where result objects go */
  GPtrArray *forward_to;        /* PrRouteDestination*: where the original images go */
  GPtrArray *notify;            /* PrRouteNotify*: who gets an HL7 notice of urgent results */
  PrPriority priority;
  PrUpdatePolicy on_update;
  guint quiet_period_s;         /* 0: the node's */
  guint expected_series;        /* 0: not used; else complete once this many series arrived */
  guint expected_instances;     /* 0: not used; else complete once this many instances arrived */
  int line;
} PrRoute;

/* A web UI account: a person (password hash) or a program (token hash). */
typedef struct {
  char *name;
  char *role;                   /* radiologist or admin */
  char *secret_hash;            /* pbkdf2-sha256$... for users, sha256$HEX for tokens */
  int line;
} PrWebAccountConfig;

typedef struct {
  char *source;                 /* the file, or "(embedded default)" */
  PrNodeConfig *node;
  GPtrArray *peers;             /* PrPeer* */
  GPtrArray *analyzers;         /* PrAnalyzerConfig* */
  GPtrArray *routes;            /* PrRoute* */
  GPtrArray *web_users;         /* PrWebAccountConfig* */
  GPtrArray *web_tokens;        /* PrWebAccountConfig* */
  char *web_tls_certificate;    /* (nullable) PEM */
  char *web_tls_key;            /* (nullable) PEM */
} PrConfig;

/**
 * pr_config_load_file:
 * @path: an XML configuration file
 * @error: PR_CONF_ERROR_IO when unreadable; PR_CONF_ERROR_SCHEMA or
 *   PR_CONF_ERROR_INVALID otherwise, with one "FILE:LINE: message" line per
 *   problem found (all of them, not only the first)
 *
 * Returns: (transfer full): the configuration; free with pr_config_free().
 */
PrConfig *pr_config_load_file (const char *path, GError **error);

/* The same from a string; @source names it in messages. */
PrConfig *pr_config_load_string (const char *xml, const char *source, GError **error);

/* Returns: (transfer full): the embedded default configuration. */
PrConfig *pr_config_load_default (void);

/* Returns: (transfer none): the embedded default as XML text. */
const char *pr_config_default_xml (void);

/* Returns: (transfer none): the schema, as XML text. */
const char *pr_config_schema_xsd (void);

const PrPeer *pr_config_find_peer (const PrConfig *config, const char *name);
const PrAnalyzerConfig *pr_config_find_analyzer (const PrConfig *config, const char *name);
const PrRoute *pr_config_find_route (const PrConfig *config, const char *name);

/* Returns: (transfer full): a deep copy, e.g. to override limits for one run. */
PrAnalyzerConfig *pr_analyzer_config_copy (const PrAnalyzerConfig *analyzer);
void pr_analyzer_config_free (PrAnalyzerConfig *analyzer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrAnalyzerConfig, pr_analyzer_config_free)

const char *pr_priority_to_string (PrPriority priority);

/* "routine", "urgent", "critical". */
const char *pr_result_priority_to_string (PrResultPriority priority);

/* Reads findings' "priority"; anything else (or NULL) is routine, as the
 * worklist ranks it. */
PrResultPriority pr_result_priority_from_string (const char *text);

const char *pr_peer_protocol_to_string (PrPeerProtocol protocol);
const char *pr_series_preference_to_string (PrSeriesPreference prefer);

void pr_config_free (PrConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrConfig, pr_config_free)

G_END_DECLS
