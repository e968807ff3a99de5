/* pr-config-loader.c: XML configuration file -> PrConfig.
 *
 * Three passes: libxml2 parses (no network, no entity expansion), the schema
 * validates, and the walk below builds the structures and checks what the
 * schema cannot. Every pass collects all its errors as "FILE:LINE: message"
 * so that an administrator fixes a file in one go, not one error per run.
 */
#include "config.h"

#include "pr-config.h"
#include "pr-config-private.h"
#include "pr-conf-error.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "dicom/pr-dicom.h"

typedef struct {
  const char *source;           /* file name for messages */
  char *base_dir;               /* relative paths in the file are relative to it */
  GString *errors;
  guint n_errors;
} Loader;

static void G_GNUC_PRINTF (3, 4)
report (Loader *l, int line, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_string_append_printf (l->errors, "%s%s:%d: %s", l->n_errors ? "\n" : "", l->source, line, message);
  l->n_errors++;
}

static void
on_xml_error (void *user_data, const xmlError *error)
{
  Loader *l = user_data;
  g_autofree char *message = g_strdup (error->message ? error->message : "XML error");
  g_strchomp (message);
  /* libxml2 says "Element 'x': ..." for schema errors; keep that as is. */
  report (l, error->line, "%s", message);
}

static const char *
xml_attr (xmlNode *node, const char *name)
{
  /* libxml2 keeps attribute values as children text nodes; read in place. */
  for (xmlAttr *a = node->properties; a != NULL; a = a->next)
    if (strcmp ((const char *) a->name, name) == 0 && a->children != NULL)
      return (const char *) a->children->content;
  return NULL;
}

static char *
xml_text (xmlNode *node)
{
  xmlChar *content = xmlNodeGetContent (node);
  char *text = g_strdup ((const char *) content);
  xmlFree (content);
  return text;
}

static gboolean
is_element (xmlNode *node, const char *name)
{
  return node->type == XML_ELEMENT_NODE && (name == NULL || strcmp ((const char *) node->name, name) == 0);
}

static guint64
attr_u64 (xmlNode *node, const char *name, guint64 fallback)
{
  const char *value = xml_attr (node, name);
  return value ? g_ascii_strtoull (value, NULL, 10) : fallback;
}

static gboolean
attr_bool (xmlNode *node, const char *name, gboolean fallback)
{
  const char *value = xml_attr (node, name);
  if (value == NULL)
    return fallback;
  /* xs:boolean collapses whitespace: " true " is true. */
  g_autofree char *trimmed = g_strstrip (g_strdup (value));
  return strcmp (trimmed, "true") == 0 || strcmp (trimmed, "1") == 0;
}

static char *
resolve_path (Loader *l, const char *path)
{
  if (path == NULL)
    return NULL;
  if (g_path_is_absolute (path) || l->base_dir == NULL)
    return g_strdup (path);
  return g_build_filename (l->base_dir, path, NULL);
}

/* ---- node ---------------------------------------------------------------- */

static void
read_node (Loader *l, xmlNode *node, PrNodeConfig *c)
{
  const char *value;
  if ((value = xml_attr (node, "ae-title")))
    pr_conf_replace_string (&c->ae_title, value);
  if ((value = xml_attr (node, "bind")))
    {
      g_autoptr (GInetAddress) address = g_inet_address_new_from_string (value);
      if (address == NULL)
        report (l, node->line, "bind=\"%s\" is not an IP address (use 0.0.0.0 for all interfaces)", value);
      pr_conf_replace_string (&c->bind_address, value);
    }
  if ((value = xml_attr (node, "storage")))
    {
      g_free (c->storage_dir);
      c->storage_dir = resolve_path (l, value);
    }
  if ((value = xml_attr (node, "http")))
    {
      const char *colon = strrchr (value, ':');
      guint64 port = 0;
      if (strcmp (value, "off") != 0 &&
          (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL)))
        report (l, node->line, "http=\"%s\" must be ADDRESS:PORT, for example 127.0.0.1:8112, or off", value);
      pr_conf_replace_string (&c->http_address, value);
    }
  c->port = (guint16) attr_u64 (node, "port", c->port);
  c->max_associations = (guint) attr_u64 (node, "max-associations", c->max_associations);
  c->quiet_period_s = (guint) attr_u64 (node, "quiet-period", c->quiet_period_s);
  c->free_space_reserve_mb = attr_u64 (node, "free-space-reserve-mb", c->free_space_reserve_mb);
  c->acse_timeout_s = (guint) attr_u64 (node, "acse-timeout", c->acse_timeout_s);
  c->dimse_timeout_s = (guint) attr_u64 (node, "idle-timeout", c->dimse_timeout_s);
  c->check_called_ae = attr_bool (node, "check-called-ae", c->check_called_ae);

  g_autoptr (GPtrArray) allowed = g_ptr_array_new ();
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (is_element (child, "allow-calling-ae"))
      {
        char *ae = xml_text (child);
        if (!pr_dicom_ae_title_is_valid (ae))
          report (l, child->line, "\"%s\" is not a valid AE title", ae);
        g_ptr_array_add (allowed, ae);
      }
  if (allowed->len > 0)
    {
      g_ptr_array_add (allowed, NULL);
      g_strfreev (c->allowed_calling_aes);
      c->allowed_calling_aes = (char **) g_ptr_array_steal (allowed, NULL);
    }
  if (!pr_dicom_ae_title_is_valid (c->ae_title))
    report (l, node->line, "ae-title \"%s\" is not a valid AE title", c->ae_title);
}

/* ---- peers --------------------------------------------------------------- */

static char **
read_objects (xmlNode *node)
{
  const char *value = xml_attr (node, "objects");
  if (value == NULL)
    return NULL;
  char **objects = g_strsplit_set (value, " \t\n", -1);
  /* g_strsplit_set leaves empty strings between repeated separators */
  char **kept = g_new0 (char *, g_strv_length (objects) + 1);
  guint n = 0;
  for (char **o = objects; *o; o++)
    if (**o)
      kept[n++] = g_strdup (*o);
  g_strfreev (objects);
  return kept;
}

/* An HL7 namespace attribute: the schema kept the delimiters out; control
 * characters and non-ASCII would still break or garble MSH. */
static char *
read_hl7_name (Loader *l, xmlNode *node, const PrPeer *p, const char *attribute)
{
  const char *value = xml_attr (node, attribute);
  if (value == NULL)
    return NULL;
  for (const char *c = value; *c; c++)
    if (*c < 0x20 || *c > 0x7e)
      {
        report (l, node->line, "peer \"%s\": %s=\"%s\" must be printable ASCII", p->name, attribute, value);
        break;
      }
  return g_strdup (value);
}

/* What a DICOM peer has and an HL7 peer has not, and the other way round:
 * said at once, rather than silently ignored. */
static void
check_peer_protocol (Loader *l, xmlNode *node, const PrPeer *p)
{
  static const char *const hl7_only[] = { "sending-application", "sending-facility", "receiving-application",
                                          "receiving-facility", "ack-timeout" };
  static const char *const dicom_only[] = { "ae-title", "objects" };
  if (p->protocol == PR_PEER_DICOM)
    {
      if (xml_attr (node, "ae-title") == NULL)
        report (l, node->line, "peer \"%s\": a DICOM peer needs ae-title= (or say protocol=\"hl7-mllp\")", p->name);
      for (gsize i = 0; i < G_N_ELEMENTS (hl7_only); i++)
        if (xml_attr (node, hl7_only[i]) != NULL)
          report (l, node->line, "peer \"%s\": %s= is for protocol=\"hl7-mllp\" peers", p->name, hl7_only[i]);
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (dicom_only); i++)
    if (xml_attr (node, dicom_only[i]) != NULL)
      report (l, node->line, "peer \"%s\": %s= is for DICOM peers; an HL7 peer takes result notices only", p->name,
              dicom_only[i]);
}

static PrPeer *
read_peer (Loader *l, xmlNode *node)
{
  PrPeer *p = g_new0 (PrPeer, 1);
  p->line = node->line;
  p->name = g_strdup (xml_attr (node, "name"));
  p->protocol = g_strcmp0 (xml_attr (node, "protocol"), "hl7-mllp") == 0 ? PR_PEER_HL7_MLLP : PR_PEER_DICOM;
  check_peer_protocol (l, node, p);
  /* Never NULL: code matching calling AE titles against peers compares it. */
  p->ae_title = g_strdup (p->protocol == PR_PEER_DICOM ? xml_attr (node, "ae-title") : "");
  if (p->ae_title == NULL)
    p->ae_title = g_strdup ("");
  p->host = g_strdup (xml_attr (node, "host"));
  p->port = (guint16) attr_u64 (node, "port", 104);
  p->result_objects = read_objects (node);
  /* A PACS down for a day (an upgrade, a weekend) must not lose results:
   * retries every 30 min at most, for two days. */
  p->retry_base_s = (guint) attr_u64 (node, "retry-base", 30);
  p->retry_max_s = (guint) attr_u64 (node, "retry-max", 1800);
  p->give_up_after_s = (guint) attr_u64 (node, "give-up-after", 2 * 24 * 3600);
  if (p->retry_base_s > p->retry_max_s)
    report (l, node->line, "peer \"%s\": retry-base (%u s) is longer than retry-max (%u s)", p->name,
            p->retry_base_s, p->retry_max_s);
  if (p->protocol == PR_PEER_DICOM && *p->ae_title && !pr_dicom_ae_title_is_valid (p->ae_title))
    report (l, node->line, "peer \"%s\": ae-title \"%s\" is not a valid AE title", p->name, p->ae_title);
  if (p->protocol == PR_PEER_HL7_MLLP)
    {
      p->hl7_sending_application = read_hl7_name (l, node, p, "sending-application");
      if (p->hl7_sending_application == NULL)
        p->hl7_sending_application = g_strdup ("PREREAD");
      p->hl7_sending_facility = read_hl7_name (l, node, p, "sending-facility");
      p->hl7_receiving_application = read_hl7_name (l, node, p, "receiving-application");
      p->hl7_receiving_facility = read_hl7_name (l, node, p, "receiving-facility");
      p->ack_timeout_s = (guint) attr_u64 (node, "ack-timeout", 30);
    }
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (is_element (child, "tls"))
      {
        p->tls = TRUE;
        p->tls_certificate = resolve_path (l, xml_attr (child, "certificate"));
        p->tls_key = resolve_path (l, xml_attr (child, "key"));
        p->tls_ca = resolve_path (l, xml_attr (child, "ca"));
        if ((p->tls_certificate == NULL) != (p->tls_key == NULL))
          report (l, child->line, "peer \"%s\": tls needs both certificate and key, or neither", p->name);
        /* Without trusted CAs anyone could pose as the PACS. */
        if (p->tls_ca == NULL)
          report (l, child->line, "peer \"%s\": tls needs ca=\"FILE\", the certificate authorities to trust",
                  p->name);
      }
  return p;
}

/* ---- analyzers ----------------------------------------------------------- */

static GHashTable *
read_parameters (Loader *l, xmlNode *node, const char *owner)
{
  GHashTable *parameters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (is_element (child, "parameter"))
      {
        const char *name = xml_attr (child, "name");
        if (g_hash_table_contains (parameters, name))
          report (l, child->line, "%s: parameter \"%s\" given twice", owner, name);
        g_hash_table_replace (parameters, g_strdup (name), xml_text (child));
      }
  return parameters;
}

static PrAnalyzerConfig *
read_analyzer (Loader *l, xmlNode *node)
{
  PrAnalyzerConfig *a = g_new0 (PrAnalyzerConfig, 1);
  a->line = node->line;
  a->name = g_strdup (xml_attr (node, "name"));
  const char *module = xml_attr (node, "module");
  const char *program = xml_attr (node, "program");
  const char *builtin = xml_attr (node, "builtin");
  int given = (module != NULL) + (program != NULL) + (builtin != NULL);
  if (given != 1)
    report (l, node->line, "analyzer \"%s\": give exactly one of module=, program= or builtin=", a->name);
  if (module != NULL)
    {
      a->kind = PR_ANALYZER_MODULE;
      /* A bare name is looked up among installed modules; a path is a path. */
      a->location = strchr (module, '/') ? resolve_path (l, module) : g_strdup (module);
    }
  else if (program != NULL)
    {
      a->kind = PR_ANALYZER_PROGRAM;
      a->location = resolve_path (l, program);
    }
  else if (builtin != NULL)
    {
      a->kind = PR_ANALYZER_BUILTIN;
      a->location = g_strdup (builtin);
      if (!g_strv_contains (pr_config_builtin_analyzers, builtin))
        report (l, node->line, "analyzer \"%s\": there is no built-in analyzer \"%s\"", a->name, builtin);
    }
  a->timeout_s = (guint) attr_u64 (node, "timeout", 300);
  a->no_progress_timeout_s = (guint) attr_u64 (node, "no-progress-timeout", 0);
  a->memory_limit_mb = attr_u64 (node, "memory-limit-mb", 4096);
  a->concurrency = (guint) attr_u64 (node, "concurrency", 1);
  a->max_attempts = (guint) attr_u64 (node, "max-attempts", 3);
  a->retry_delay_s = (guint) attr_u64 (node, "retry-delay", 30);
  a->quarantine_after = (guint) attr_u64 (node, "quarantine-after", 5);
  const char *inputs = xml_attr (node, "inputs");
  a->decode_volumes = g_strcmp0 (inputs, "volumes") == 0;
  if (inputs != NULL && a->kind != PR_ANALYZER_PROGRAM)
    report (l, node->line, "analyzer \"%s\": inputs= is for programs (modules ask for volumes themselves)", a->name);
  g_autofree char *owner = g_strdup_printf ("analyzer \"%s\"", a->name);
  a->parameters = read_parameters (l, node, owner);
  if (a->no_progress_timeout_s > a->timeout_s)
    report (l, node->line, "analyzer \"%s\": no-progress-timeout (%u s) is longer than timeout (%u s)", a->name,
            a->no_progress_timeout_s, a->timeout_s);
  return a;
}

/* ---- conditions ---------------------------------------------------------- */

static PrCondition *read_condition (Loader *l, xmlNode *node);

static void
read_condition_children (Loader *l, xmlNode *node, PrCondition *parent)
{
  for (xmlNode *child = node->children; child != NULL; child = child->next)
    if (is_element (child, NULL))
      g_ptr_array_add (parent->children, read_condition (l, child));
}

/* A list of conditions (<match>, <series>, <all>) as one condition. */
static PrCondition *
read_condition_list (Loader *l, xmlNode *node)
{
  PrCondition *all = pr_condition_new (PR_CONDITION_ALL, node->line);
  read_condition_children (l, node, all);
  if (all->children->len == 1)
    {
      PrCondition *only = g_ptr_array_steal_index (all->children, 0);
      pr_condition_free (all);
      return only;
    }
  return all;
}

static void
check_attribute (Loader *l, PrCondition *c)
{
  if (c->attribute[0] == '@' && !g_strv_contains (pr_condition_facts, c->attribute))
    {
      g_autofree char *known = g_strjoinv (", ", (char **) pr_condition_facts);
      report (l, c->line, "unknown fact \"%s\" (known: %s)", c->attribute, known);
    }
}

static PrCondition *
read_condition (Loader *l, xmlNode *node)
{
  const char *name = (const char *) node->name;
  static const struct {
    const char *element;
    PrConditionKind kind;
  } kinds[] = {
    { "all", PR_CONDITION_ALL },       { "any", PR_CONDITION_ANY },       { "not", PR_CONDITION_NOT },
    { "equals", PR_CONDITION_EQUALS }, { "one-of", PR_CONDITION_ONE_OF }, { "regex", PR_CONDITION_REGEX },
    { "range", PR_CONDITION_RANGE },   { "exists", PR_CONDITION_EXISTS }, { "missing", PR_CONDITION_MISSING },
  };
  PrConditionKind kind = PR_CONDITION_ALL;
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (strcmp (kinds[i].element, name) == 0)
      kind = kinds[i].kind;

  PrCondition *c = pr_condition_new (kind, node->line);
  if (c->children != NULL)
    {
      read_condition_children (l, node, c);
      return c;
    }

  c->attribute = g_strdup (xml_attr (node, "attribute"));
  c->ignore_case = attr_bool (node, "ignore-case", FALSE);
  check_attribute (l, c);
  switch (kind)
    {
    case PR_CONDITION_EQUALS:
      c->values = g_new0 (char *, 2);
      c->values[0] = g_strstrip (xml_text (node));
      break;
    case PR_CONDITION_ONE_OF:
      {
        g_autoptr (GPtrArray) values = g_ptr_array_new ();
        for (xmlNode *child = node->children; child != NULL; child = child->next)
          if (is_element (child, "value"))
            g_ptr_array_add (values, g_strstrip (xml_text (child)));
        g_ptr_array_add (values, NULL);
        c->values = (char **) g_ptr_array_steal (values, NULL);
      }
      break;
    case PR_CONDITION_REGEX:
      {
        c->pattern = g_strstrip (xml_text (node));
        g_autoptr (GError) error = NULL;
        GRegexCompileFlags flags = G_REGEX_OPTIMIZE | (c->ignore_case ? G_REGEX_CASELESS : 0);
        c->regex = g_regex_new (c->pattern, flags, 0, &error);
        if (c->regex == NULL)
          report (l, node->line, "regular expression /%s/ does not compile: %s", c->pattern, error->message);
      }
      break;
    case PR_CONDITION_RANGE:
      {
        const char *min = xml_attr (node, "min"), *max = xml_attr (node, "max");
        c->has_min = min != NULL;
        c->has_max = max != NULL;
        c->min = min ? g_ascii_strtod (min, NULL) : 0;
        c->max = max ? g_ascii_strtod (max, NULL) : 0;
        if (!c->has_min && !c->has_max)
          report (l, node->line, "range on %s needs min=, max= or both", c->attribute);
        else if (c->has_min && c->has_max && c->min > c->max)
          report (l, node->line, "range on %s: min (%s) is above max (%s)", c->attribute, min, max);
      }
      break;
    default:
      break;
    }
  return c;
}

/* ---- routes -------------------------------------------------------------- */

static PrRouteDestination *
read_destination (Loader *l, xmlNode *node, const char *route, const PrConfig *config)
{
  PrRouteDestination *d = g_new0 (PrRouteDestination, 1);
  d->line = node->line;
  d->peer = g_strdup (xml_attr (node, "peer"));
  d->to_sender = attr_bool (node, "sender", FALSE);
  d->result_objects = read_objects (node);
  const PrPeer *peer = d->peer ? pr_config_find_peer (config, d->peer) : NULL;
  if ((d->peer != NULL) == d->to_sender)
    report (l, node->line, "route \"%s\": <%s> needs either peer=\"NAME\" or sender=\"true\"", route,
            (const char *) node->name);
  else if (d->peer != NULL && peer == NULL)
    report (l, node->line, "route \"%s\": no peer named \"%s\"", route, d->peer);
  else if (peer != NULL && peer->protocol != PR_PEER_DICOM)
    report (l, node->line, "route \"%s\": <%s> sends DICOM, and peer \"%s\" speaks HL7: use <notify peer=\"%s\"/>",
            route, (const char *) node->name, d->peer, d->peer);
  return d;
}

static PrRouteNotify *
read_notify (Loader *l, xmlNode *node, const PrRoute *route, const PrConfig *config)
{
  PrRouteNotify *n = g_new0 (PrRouteNotify, 1);
  n->line = node->line;
  n->peer = g_strdup (xml_attr (node, "peer"));
  const char *min = xml_attr (node, "min-priority");
  n->min_priority = min ? pr_result_priority_from_string (min) : PR_RESULT_URGENT;
  const PrPeer *peer = pr_config_find_peer (config, n->peer);
  if (peer == NULL)
    report (l, node->line, "route \"%s\": <notify>: no peer named \"%s\"", route->name, n->peer);
  else if (peer->protocol != PR_PEER_HL7_MLLP)
    report (l, node->line,
            "route \"%s\": <notify> sends HL7 messages, and peer \"%s\" is a DICOM peer: give <notify> a peer "
            "with protocol=\"hl7-mllp\" (results-to is for DICOM peers)",
            route->name, n->peer);
  for (guint i = 0; i < route->notify->len; i++)
    if (strcmp (((PrRouteNotify *) route->notify->pdata[i])->peer, n->peer) == 0)
      report (l, node->line, "route \"%s\": peer \"%s\" is notified twice", route->name, n->peer);
  return n;
}

static PrSeriesPreference
parse_preference (const char *value)
{
  if (value == NULL || strcmp (value, "all") == 0)
    return PR_PREFER_ALL;
  if (strcmp (value, "thinnest") == 0)
    return PR_PREFER_THINNEST;
  if (strcmp (value, "most-instances") == 0)
    return PR_PREFER_MOST_INSTANCES;
  return PR_PREFER_FIRST;
}

static PrPriority
parse_priority (const char *value)
{
  if (value == NULL || strcmp (value, "normal") == 0)
    return PR_PRIORITY_NORMAL;
  if (strcmp (value, "low") == 0)
    return PR_PRIORITY_LOW;
  if (strcmp (value, "high") == 0)
    return PR_PRIORITY_HIGH;
  return PR_PRIORITY_URGENT;
}

static PrRoute *
read_route (Loader *l, xmlNode *node, const PrConfig *config)
{
  PrRoute *r = pr_config_route_new ();
  r->line = node->line;
  r->name = g_strdup (xml_attr (node, "name"));
  r->priority = parse_priority (xml_attr (node, "priority"));
  const char *on_update = xml_attr (node, "on-update");
  r->on_update = on_update && strcmp (on_update, "ignore") == 0 ? PR_ON_UPDATE_IGNORE : PR_ON_UPDATE_RERUN;

  for (xmlNode *child = node->children; child != NULL; child = child->next)
    {
      if (is_element (child, "match"))
        r->match = read_condition_list (l, child);
      else if (is_element (child, "completion"))
        {
          r->quiet_period_s = (guint) attr_u64 (child, "quiet-period", 0);
          r->expected_series = (guint) attr_u64 (child, "expected-series", 0);
          r->expected_instances = (guint) attr_u64 (child, "expected-instances", 0);
        }
      else if (is_element (child, "analyze"))
        {
          PrRouteAnalysis *a = g_new0 (PrRouteAnalysis, 1);
          a->line = child->line;
          a->analyzer = g_strdup (xml_attr (child, "analyzer"));
          a->prefer = parse_preference (xml_attr (child, "prefer"));
          g_autofree char *owner = g_strdup_printf ("route \"%s\", analyzer \"%s\"", r->name, a->analyzer);
          a->parameters = read_parameters (l, child, owner);
          for (xmlNode *sub = child->children; sub != NULL; sub = sub->next)
            if (is_element (sub, "series"))
              a->series_filter = read_condition_list (l, sub);
          if (pr_config_find_analyzer (config, a->analyzer) == NULL)
            report (l, child->line, "route \"%s\": no analyzer named \"%s\"", r->name, a->analyzer);
          for (guint i = 0; i < r->analyses->len; i++)
            if (strcmp (((PrRouteAnalysis *) r->analyses->pdata[i])->analyzer, a->analyzer) == 0)
              report (l, child->line, "route \"%s\": analyzer \"%s\" is listed twice", r->name, a->analyzer);
          g_ptr_array_add (r->analyses, a);
        }
      else if (is_element (child, "results-to"))
        g_ptr_array_add (r->results_to, read_destination (l, child, r->name, config));
      else if (is_element (child, "forward-to"))
        g_ptr_array_add (r->forward_to, read_destination (l, child, r->name, config));
      else if (is_element (child, "notify"))
        g_ptr_array_add (r->notify, read_notify (l, child, r, config));
    }
  if (r->analyses->len == 0 && r->forward_to->len == 0)
    report (l, node->line, "route \"%s\" does nothing: give it an <analyze> or a <forward-to>", r->name);
  if (r->analyses->len == 0 && r->results_to->len > 0)
    report (l, node->line, "route \"%s\" sends results but has no <analyze> to make them", r->name);
  if (r->analyses->len == 0 && r->notify->len > 0)
    report (l, node->line, "route \"%s\" notifies of results but has no <analyze> to make them", r->name);
  return r;
}

/* ---- document ------------------------------------------------------------ */

static void
check_unique (Loader *l, GPtrArray *items, gsize name_offset, gsize line_offset, const char *what)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < items->len; i++)
    {
      const char *name = G_STRUCT_MEMBER (const char *, items->pdata[i], name_offset);
      int line = G_STRUCT_MEMBER (int, items->pdata[i], line_offset);
      if (!g_hash_table_add (seen, (gpointer) name))
        report (l, line, "there is already %s named \"%s\"", what, name);
    }
}

static PrWebAccountConfig *
read_web_account (Loader *l, xmlNode *node, gboolean token)
{
  PrWebAccountConfig *a = g_new0 (PrWebAccountConfig, 1);
  a->line = node->line;
  a->name = g_strdup (xml_attr (node, "name"));
  a->role = g_strdup (xml_attr (node, "role"));
  a->secret_hash = g_strstrip (g_strdup (xml_attr (node, token ? "hash" : "password-hash")));
  /* The shapes preread passwd prints; anything else would never match. */
  gboolean ok;
  if (token)
    {
      ok = g_str_has_prefix (a->secret_hash, "sha256$") && strlen (a->secret_hash) == 7 + 64;
      for (const char *p = a->secret_hash + 7; ok && *p; p++)
        ok = g_ascii_isxdigit (*p);
    }
  else
    {
      g_auto (GStrv) parts = g_strsplit (a->secret_hash, "$", -1);
      ok = g_strv_length (parts) == 4 && strcmp (parts[0], "pbkdf2-sha256") == 0 &&
           g_ascii_strtoull (parts[1], NULL, 10) >= 100000;
    }
  if (!ok)
    report (l, node->line, "%s \"%s\": %s is not what `preread passwd%s` prints", token ? "token" : "user", a->name,
            token ? "hash" : "password-hash", token ? " --token" : "");
  return a;
}

static void
read_web (Loader *l, xmlNode *section, PrConfig *config)
{
  for (xmlNode *item = section->children; item != NULL; item = item->next)
    if (is_element (item, "user"))
      g_ptr_array_add (config->web_users, read_web_account (l, item, FALSE));
    else if (is_element (item, "token"))
      g_ptr_array_add (config->web_tokens, read_web_account (l, item, TRUE));
    else if (is_element (item, "tls"))
      {
        config->web_tls_certificate = resolve_path (l, xml_attr (item, "certificate"));
        config->web_tls_key = resolve_path (l, xml_attr (item, "key"));
      }
  check_unique (l, config->web_users, G_STRUCT_OFFSET (PrWebAccountConfig, name),
                G_STRUCT_OFFSET (PrWebAccountConfig, line), "a user");
  check_unique (l, config->web_tokens, G_STRUCT_OFFSET (PrWebAccountConfig, name),
                G_STRUCT_OFFSET (PrWebAccountConfig, line), "a token");
}

static void
read_document (Loader *l, xmlNode *root, PrConfig *config)
{
  /* Peers and analyzers first: routes refer to them. */
  for (xmlNode *section = root->children; section != NULL; section = section->next)
    {
      if (is_element (section, "node"))
        read_node (l, section, config->node);
      if (is_element (section, "web"))
        read_web (l, section, config);
      for (xmlNode *item = section->children; item != NULL; item = item->next)
        {
          if (is_element (item, "peer"))
            g_ptr_array_add (config->peers, read_peer (l, item));
          else if (is_element (item, "analyzer"))
            g_ptr_array_add (config->analyzers, read_analyzer (l, item));
        }
    }
  check_unique (l, config->peers, G_STRUCT_OFFSET (PrPeer, name), G_STRUCT_OFFSET (PrPeer, line), "a peer");
  check_unique (l, config->analyzers, G_STRUCT_OFFSET (PrAnalyzerConfig, name),
                G_STRUCT_OFFSET (PrAnalyzerConfig, line), "an analyzer");

  for (xmlNode *section = root->children; section != NULL; section = section->next)
    if (is_element (section, "routes"))
      for (xmlNode *item = section->children; item != NULL; item = item->next)
        if (is_element (item, "route"))
          g_ptr_array_add (config->routes, read_route (l, item, config));
  check_unique (l, config->routes, G_STRUCT_OFFSET (PrRoute, name), G_STRUCT_OFFSET (PrRoute, line), "a route");
}

static xmlSchemaPtr
load_schema (void)
{
  static xmlSchemaPtr schema;
  static gsize done;
  if (g_once_init_enter (&done))
    {
      const char *xsd = pr_config_schema_xsd ();
      xmlSchemaParserCtxtPtr parser = xmlSchemaNewMemParserCtxt (xsd, (int) strlen (xsd));
      schema = xmlSchemaParse (parser);
      xmlSchemaFreeParserCtxt (parser);
      g_assert (schema != NULL); /* ours, compiled in: a broken one is a build bug */
      g_once_init_leave (&done, 1);
    }
  return schema;
}

PrConfig *
pr_config_load_string (const char *xml, const char *source, GError **error)
{
  Loader l = { source, NULL, g_string_new (NULL), 0 };
  if (source != NULL && g_file_test (source, G_FILE_TEST_EXISTS))
    {
      g_autofree char *absolute = g_canonicalize_filename (source, NULL);
      l.base_dir = g_path_get_dirname (absolute);
    }

  /* No network access, no DTD loading, no entity expansion beyond XML's five. */
  xmlParserCtxtPtr parser = xmlNewParserCtxt ();
  xmlSetStructuredErrorFunc (&l, (xmlStructuredErrorFunc) on_xml_error);
  xmlDocPtr doc = xmlCtxtReadMemory (parser, xml, (int) strlen (xml), source, NULL,
                                     XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  xmlFreeParserCtxt (parser);

  PrConfig *config = NULL;
  if (doc != NULL && l.n_errors == 0)
    {
      xmlSchemaValidCtxtPtr validator = xmlSchemaNewValidCtxt (load_schema ());
      xmlSchemaSetValidStructuredErrors (validator, (xmlStructuredErrorFunc) on_xml_error, &l);
      xmlSchemaValidateDoc (validator, doc);
      xmlSchemaFreeValidCtxt (validator);
    }
  gboolean schema_ok = doc != NULL && l.n_errors == 0;
  if (schema_ok)
    {
      config = pr_config_new (source);
      read_document (&l, xmlDocGetRootElement (doc), config);
    }
  xmlSetStructuredErrorFunc (NULL, NULL);
  if (doc != NULL)
    xmlFreeDoc (doc);

  if (l.n_errors > 0)
    {
      g_set_error_literal (error, PR_CONF_ERROR, schema_ok ? PR_CONF_ERROR_INVALID : PR_CONF_ERROR_SCHEMA,
                           l.errors->str);
      g_clear_pointer (&config, pr_config_free);
    }
  g_string_free (l.errors, TRUE);
  g_free (l.base_dir);
  return config;
}

PrConfig *
pr_config_load_file (const char *path, GError **error)
{
  g_autofree char *xml = NULL;
  g_autoptr (GError) io_error = NULL;
  if (!g_file_get_contents (path, &xml, NULL, &io_error))
    {
      g_set_error (error, PR_CONF_ERROR, PR_CONF_ERROR_IO, "%s: cannot read: %s", path, io_error->message);
      return NULL;
    }
  return pr_config_load_string (xml, path, error);
}
