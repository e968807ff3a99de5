/* pr-runner-job.c: the host functions a module calls, and its findings document. */
#include "config.h"

#include "pr-runner-job.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "dicom/pr-dicom.h"
#include "dicom/pr-instance-header.h"
#include "dicom/pr-volume.h"
#include "pr-finding-encoder.h"

/* Headers kept at once: attribute lookups tend to walk one instance at a time. */
#define HEADER_CACHE 4
/* A module reporting progress in a tight loop must not flood the daemon. */
#define PROGRESS_INTERVAL_US (100 * 1000)
#define MAX_FINDINGS 10000
/* 2^31 voxels are 8 GB of floats: beyond any series a module should get whole. */
#define MAX_VOLUME_VOXELS (G_GUINT64_CONSTANT (1) << 31)

typedef struct {
  guint series;
  guint instance;
} Where;

struct PrereadJob {
  PrJobDescription *description;
  char *scratch_dir;
  int progress_fd;
  volatile sig_atomic_t *cancelled;
  GMutex lock;

  GHashTable *answers;          /* "scope\037keyword" -> value (or NULL): what attribute calls returned */
  GHashTable *images;           /* SOP Instance UID -> Where* */
  PrInstanceHeader *headers[HEADER_CACHE];
  const char *header_paths[HEADER_CACHE];
  guint next_header;

  PrVolume **volumes;           /* per series, decoded on first request */
  GHashTable *frames;           /* voxels -> PrVolume*: what instance_frames() handed out */
  char **volume_errors;         /* per series, why it does not decode */
  PrereadStatus *volume_status;

  GPtrArray *findings;          /* JsonNode* */
  guint refused_findings;
  PrereadPriority priority;
  char *summary;
  char *declined;               /* decline()'s reason */
  char *failure;                /* fail()'s message */
  PrereadStatus failure_status;
  gint64 last_progress_us;
};

/* ---- helpers --------------------------------------------------------------- */

static void
job_log (PrereadLogLevel level, const char *message)
{
  static const char *const names[] = { "debug", "info", "warning", "error" };
  g_autofree char *clean = pr_finding_clean_text (message, 4000);
  const char *name = (guint) level < G_N_ELEMENTS (names) ? names[level] : "info";
  /* stderr is the job's analyzer.log. One write per line, so that threads
   * do not interleave within a line. */
  g_autofree char *line = g_strdup_printf ("analyzer %s: %s\n", name, clean ? clean : "(null)");
  if (write (STDERR_FILENO, line, strlen (line)) < 0)
    return;
}

G_GNUC_PRINTF (2, 3)
static void
job_logf (PrereadLogLevel level, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  job_log (level, message);
}

static const PrJobSeries *
series_at (PrereadJob *job, size_t series)
{
  if (job == NULL || series >= job->description->series->len)
    return NULL;
  return job->description->series->pdata[series];
}

static const PrJobInstance *
instance_at (PrereadJob *job, size_t series, size_t instance)
{
  const PrJobSeries *s = series_at (job, series);
  if (s == NULL || instance >= s->instances->len)
    return NULL;
  return s->instances->pdata[instance];
}

/* The header of @inst, from the small cache or its file. Lock held. */
static PrInstanceHeader *
header_of (PrereadJob *job, const PrJobInstance *inst)
{
  for (guint i = 0; i < HEADER_CACHE; i++)
    if (job->header_paths[i] == inst->path)
      return job->headers[i];
  g_autoptr (GError) error = NULL;
  PrInstanceHeader *header = pr_instance_header_read (inst->path, &error);
  if (header == NULL)
    {
      job_logf (PREREAD_LOG_WARNING, "cannot read %s: %s", inst->path, error->message);
      return NULL;
    }
  guint slot = job->next_header++ % HEADER_CACHE;
  g_clear_pointer (&job->headers[slot], pr_instance_header_free);
  job->headers[slot] = header;
  job->header_paths[slot] = inst->path;
  return header;
}

/* An attribute of @inst, kept so the pointer stays valid for the job. Lock held. */
static const char *
attribute_of (PrereadJob *job, const char *scope, const PrJobInstance *inst, const char *keyword)
{
  if (inst == NULL || keyword == NULL)
    return NULL;
  g_autofree char *key = g_strdup_printf ("%s\037%s", scope, keyword);
  gpointer value = NULL;
  if (g_hash_table_lookup_extended (job->answers, key, NULL, &value))
    return value;
  PrInstanceHeader *header = header_of (job, inst);
  char *found = header ? pr_instance_header_lookup (header, keyword) : NULL;
  g_hash_table_insert (job->answers, g_steal_pointer (&key), found);
  return found;
}

static PrereadStatus
status_of_decode_error (const GError *error)
{
  if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM))
    return PREREAD_ERROR_NO_MEMORY;
  if (g_error_matches (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED))
    return PREREAD_ERROR_UNSUPPORTED;
  return PREREAD_ERROR_BAD_INPUT;
}

/* Decodes series @series once. Lock held. */
static const PrVolume *
volume_of (PrereadJob *job, guint series, PrereadStatus *status, const char **reason)
{
  if (job->volumes[series] == NULL && job->volume_errors[series] == NULL)
    {
      const PrJobSeries *s = job->description->series->pdata[series];
      g_autoptr (GPtrArray) paths = g_ptr_array_new ();
      for (guint i = 0; i < s->instances->len; i++)
        g_ptr_array_add (paths, ((PrJobInstance *) s->instances->pdata[i])->path);
      g_autoptr (GError) error = NULL;
      job->volumes[series] = pr_volume_load ((const char *const *) paths->pdata, paths->len, MAX_VOLUME_VOXELS, &error);
      if (job->volumes[series] == NULL)
        {
          job->volume_errors[series] = g_strdup (error->message);
          job->volume_status[series] = status_of_decode_error (error);
          job_logf (PREREAD_LOG_WARNING, "series %u does not decode into a volume: %s", series, error->message);
        }
    }
  *status = job->volumes[series] ? PREREAD_OK : job->volume_status[series];
  if (reason != NULL)
    *reason = job->volume_errors[series];
  return job->volumes[series];
}

/* ---- the host functions ------------------------------------------------------ */

static void
host_log (PrereadJob *job, PrereadLogLevel level, const char *message)
{
  job_log (level, message);
}

static const char *
host_study_attribute (PrereadJob *job, const char *keyword)
{
  if (job == NULL)
    return NULL;
  g_mutex_lock (&job->lock);
  const char *value = attribute_of (job, "study", instance_at (job, 0, 0), keyword);
  g_mutex_unlock (&job->lock);
  return value;
}

static size_t
host_n_series (PrereadJob *job)
{
  return job ? job->description->series->len : 0;
}

static const char *
host_series_attribute (PrereadJob *job, size_t series, const char *keyword)
{
  if (job == NULL)
    return NULL;
  g_mutex_lock (&job->lock);
  g_autofree char *scope = g_strdup_printf ("s%zu", series);
  const char *value = attribute_of (job, scope, instance_at (job, series, 0), keyword);
  g_mutex_unlock (&job->lock);
  return value;
}

static size_t
host_n_instances (PrereadJob *job, size_t series)
{
  const PrJobSeries *s = series_at (job, series);
  return s ? s->instances->len : 0;
}

static const char *
host_instance_attribute (PrereadJob *job, size_t series, size_t instance, const char *keyword)
{
  if (job == NULL)
    return NULL;
  g_mutex_lock (&job->lock);
  g_autofree char *scope = g_strdup_printf ("s%zui%zu", series, instance);
  const char *value = attribute_of (job, scope, instance_at (job, series, instance), keyword);
  g_mutex_unlock (&job->lock);
  return value;
}

static const char *
host_instance_path (PrereadJob *job, size_t series, size_t instance)
{
  const PrJobInstance *inst = instance_at (job, series, instance);
  return inst ? inst->path : NULL;
}

static const char *
host_parameter (PrereadJob *job, const char *name)
{
  if (job == NULL || name == NULL)
    return NULL;
  return g_hash_table_lookup (job->description->parameters, name);
}

static const char *
host_scratch_dir (PrereadJob *job)
{
  return job ? job->scratch_dir : NULL;
}

/* The 1.0 members must all fit: a shorter struct is not one we know. */
static gboolean
volume_struct_ok (const PrereadVolume *out)
{
  return out != NULL && out->struct_size >= offsetof (PrereadVolume, slice_positions) + sizeof (void *);
}

static void
fill_volume (const PrVolume *v, PrereadVolume *out)
{
  PrereadVolume filled = preread_volume_init ();
  filled.columns = v->columns;
  filled.rows = v->rows;
  filled.slices = v->slices;
  filled.samples_per_pixel = v->samples_per_pixel;
  filled.flags = v->flags; /* PR_VOLUME_* and PREREAD_VOLUME_* are the same bits */
  memcpy (filled.spacing, v->spacing, sizeof filled.spacing);
  memcpy (filled.origin, v->origin, sizeof filled.origin);
  memcpy (filled.row_direction, v->row_direction, sizeof filled.row_direction);
  memcpy (filled.column_direction, v->column_direction, sizeof filled.column_direction);
  memcpy (filled.normal, v->normal, sizeof filled.normal);
  filled.voxels = v->voxels;
  filled.slice_positions = v->slice_positions;
  /* A module built against a newer minor has a longer struct: fill what we know. */
  uint32_t size = MIN (out->struct_size, (uint32_t) sizeof filled);
  memcpy ((char *) out + sizeof out->struct_size, (char *) &filled + sizeof filled.struct_size,
          size - sizeof out->struct_size);
}


static PrereadStatus
host_series_volume (PrereadJob *job, size_t series, PrereadVolume *out)
{
  if (job == NULL || !volume_struct_ok (out))
    return PREREAD_ERROR_INVALID;
  if (series >= job->description->series->len)
    return PREREAD_ERROR_OUT_OF_RANGE;
  g_mutex_lock (&job->lock);
  PrereadStatus status = PREREAD_OK;
  const PrVolume *v = volume_of (job, (guint) series, &status, NULL);
  if (v != NULL)
    fill_volume (v, out);
  g_mutex_unlock (&job->lock);
  return status;
}

static PrereadStatus
host_instance_frames (PrereadJob *job, size_t series, size_t instance, PrereadVolume *out)
{
  if (job == NULL || !volume_struct_ok (out))
    return PREREAD_ERROR_INVALID;
  const PrJobInstance *inst = instance_at (job, series, instance);
  if (inst == NULL)
    return PREREAD_ERROR_OUT_OF_RANGE;
  g_autoptr (GError) error = NULL;
  PrVolume *v = pr_volume_load_frames (inst->path, MAX_VOLUME_VOXELS, &error);
  if (v == NULL)
    {
      job_logf (PREREAD_LOG_WARNING, "instance %zu of series %zu does not decode: %s", instance, series,
                error->message);
      return status_of_decode_error (error);
    }
  g_mutex_lock (&job->lock);
  g_hash_table_insert (job->frames, v->voxels, v);
  fill_volume (v, out);
  g_mutex_unlock (&job->lock);
  return PREREAD_OK;
}

static void
host_release_volume (PrereadJob *job, PrereadVolume *volume)
{
  if (job == NULL || volume == NULL || volume->voxels == NULL)
    return;
  g_mutex_lock (&job->lock);
  if (!g_hash_table_remove (job->frames, volume->voxels))
    for (guint i = 0; i < job->description->series->len; i++)
      if (job->volumes[i] != NULL && job->volumes[i]->voxels == volume->voxels)
        g_clear_pointer (&job->volumes[i], pr_volume_free); /* decoded again if asked again */
  g_mutex_unlock (&job->lock);
  volume->voxels = NULL;
  volume->slice_positions = NULL;
}

static const char *
host_volume_slice_instance (PrereadJob *job, size_t series, uint32_t slice, uint32_t *frame)
{
  if (job == NULL || series >= job->description->series->len)
    return NULL;
  g_mutex_lock (&job->lock);
  const PrVolume *v = job->volumes[series];
  const char *uid = NULL;
  if (v != NULL && slice < v->slices)
    {
      uid = v->slice_instances[slice];
      if (frame != NULL)
        *frame = v->slice_frames[slice];
    }
  g_mutex_unlock (&job->lock);
  return uid;
}

/* ---- findings ------------------------------------------------------------- */

static gboolean
context_image_size (gpointer data, const char *sop_instance_uid, guint *columns, guint *rows, guint *frames)
{
  PrereadJob *job = data;
  const Where *where = g_hash_table_lookup (job->images, sop_instance_uid);
  if (where == NULL)
    return FALSE;
  const PrJobInstance *inst = instance_at (job, where->series, where->instance);
  g_autofree char *scope = g_strdup_printf ("s%ui%u", where->series, where->instance);
  const char *c = attribute_of (job, scope, inst, "Columns");
  const char *r = attribute_of (job, scope, inst, "Rows");
  const char *f = attribute_of (job, scope, inst, "NumberOfFrames");
  if (c == NULL || r == NULL)
    return FALSE; /* not an image */
  *columns = (guint) g_ascii_strtoull (c, NULL, 10);
  *rows = (guint) g_ascii_strtoull (r, NULL, 10);
  *frames = f ? MAX (1, (guint) g_ascii_strtoull (f, NULL, 10)) : 1;
  return TRUE;
}

static const char *
context_series_uid (gpointer data, int series)
{
  const PrJobSeries *s = series >= 0 ? series_at (data, (size_t) series) : NULL;
  return s ? s->series_instance_uid : NULL;
}

static const PrVolume *
context_series_volume (gpointer data, int series, GError **error)
{
  PrereadStatus status;
  const char *reason = NULL;
  const PrVolume *v = volume_of (data, (guint) series, &status, &reason);
  if (v == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, reason ? reason : "no volume");
  return v;
}

static const char *
context_frame_of_reference (gpointer data, int series)
{
  g_autofree char *scope = g_strdup_printf ("s%d", series);
  return attribute_of (data, scope, instance_at (data, (size_t) series, 0), "FrameOfReferenceUID");
}

static PrereadStatus
host_add_finding (PrereadJob *job, const PrereadFinding *finding)
{
  if (job == NULL)
    return PREREAD_ERROR_INVALID;
  PrFindingContext context = { context_image_size, context_series_uid, context_series_volume,
                               context_frame_of_reference, job };
  g_autoptr (GError) error = NULL;
  g_mutex_lock (&job->lock);
  PrereadStatus status = PREREAD_OK;
  if (job->findings->len >= MAX_FINDINGS)
    {
      job_logf (PREREAD_LOG_ERROR, "finding refused: more than %d findings", MAX_FINDINGS);
      status = PREREAD_ERROR_OUT_OF_RANGE;
    }
  else
    {
      JsonNode *node = pr_finding_encode (finding, &context, &error);
      if (node != NULL)
        g_ptr_array_add (job->findings, node);
      else
        {
          job->refused_findings++;
          job_logf (PREREAD_LOG_ERROR, "finding refused: %s", error->message);
          status = PREREAD_ERROR_INVALID;
        }
    }
  g_mutex_unlock (&job->lock);
  return status;
}

static void
host_set_priority (PrereadJob *job, PrereadPriority priority, const char *summary)
{
  if (job == NULL)
    return;
  g_mutex_lock (&job->lock);
  if (priority >= PREREAD_PRIORITY_ROUTINE && priority <= PREREAD_PRIORITY_CRITICAL)
    job->priority = priority;
  else
    job_logf (PREREAD_LOG_ERROR, "set_priority: unknown priority %d ignored", (int) priority);
  g_free (job->summary);
  job->summary = pr_finding_clean_text (summary, 200);
  g_mutex_unlock (&job->lock);
}

static PrereadStatus
host_decline (PrereadJob *job, const char *reason)
{
  if (job == NULL)
    return PREREAD_DECLINED;
  g_mutex_lock (&job->lock);
  g_free (job->declined);
  job->declined = pr_finding_clean_text (reason ? reason : "not applicable", 1000);
  g_mutex_unlock (&job->lock);
  return PREREAD_DECLINED;
}

static PrereadStatus
host_fail (PrereadJob *job, PrereadStatus status, const char *message)
{
  if (status < PREREAD_ERROR_FAILED)
    status = PREREAD_ERROR_FAILED; /* fail() with OK or DECLINED is still a failure */
  if (job == NULL)
    return status;
  g_mutex_lock (&job->lock);
  g_free (job->failure);
  job->failure = pr_finding_clean_text (message ? message : "the analyzer failed", 1000);
  job->failure_status = status;
  g_mutex_unlock (&job->lock);
  return status;
}

static void
host_progress (PrereadJob *job, double fraction, const char *message)
{
  if (job == NULL || !(fraction >= 0 && fraction <= 1))
    return;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&job->lock);
  gboolean due = now - job->last_progress_us >= PROGRESS_INTERVAL_US || fraction >= 1;
  if (due)
    job->last_progress_us = now;
  g_mutex_unlock (&job->lock);
  if (!due)
    return;
  g_autofree char *clean = pr_finding_clean_text (message, 200);
  g_autofree char *line = g_strdup_printf ("progress %.4f%s%s\n", fraction, clean ? " " : "", clean ? clean : "");
  /* The supervisor reads this pipe; if it is gone, so are we soon. */
  if (write (job->progress_fd, line, strlen (line)) < 0)
    return;
}

static int
host_is_cancelled (PrereadJob *job)
{
  return job != NULL && job->cancelled != NULL && *job->cancelled;
}

static const PrereadHost host = {
  sizeof (PrereadHost),
  PREREAD_ANALYZER_ABI_MAJOR,
  PREREAD_ANALYZER_ABI_MINOR,
  host_log,
  host_study_attribute,
  host_n_series,
  host_series_attribute,
  host_n_instances,
  host_instance_attribute,
  host_instance_path,
  host_parameter,
  host_scratch_dir,
  host_series_volume,
  host_volume_slice_instance,
  host_instance_frames,
  host_release_volume,
  host_add_finding,
  host_set_priority,
  host_decline,
  host_fail,
  host_progress,
  host_is_cancelled,
};

const PrereadHost *
pr_runner_host (void)
{
  return &host;
}

/* ---- the job ------------------------------------------------------------- */

PrereadJob *
pr_runner_job_new (PrJobDescription *description, const char *scratch_dir, int progress_fd,
                   volatile sig_atomic_t *cancelled)
{
  PrereadJob *job = g_new0 (PrereadJob, 1);
  job->description = description;
  job->scratch_dir = g_strdup (scratch_dir);
  job->progress_fd = progress_fd;
  job->cancelled = cancelled;
  g_mutex_init (&job->lock);
  job->answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  job->images = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  for (guint s = 0; s < description->series->len; s++)
    {
      const PrJobSeries *series = description->series->pdata[s];
      for (guint i = 0; i < series->instances->len; i++)
        {
          const PrJobInstance *inst = series->instances->pdata[i];
          Where *where = g_new (Where, 1);
          where->series = s;
          where->instance = i;
          g_hash_table_insert (job->images, inst->sop_instance_uid, where);
        }
    }
  guint n = description->series->len;
  job->volumes = g_new0 (PrVolume *, n);
  job->frames = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) pr_volume_free);
  job->volume_errors = g_new0 (char *, n + 1);
  job->volume_status = g_new0 (PrereadStatus, n);
  job->findings = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  job->priority = PREREAD_PRIORITY_ROUTINE;
  return job;
}

void
pr_runner_job_free (PrereadJob *job)
{
  if (job == NULL)
    return;
  for (guint i = 0; i < job->description->series->len; i++)
    pr_volume_free (job->volumes[i]);
  g_free (job->volumes);
  g_hash_table_unref (job->frames);
  g_strfreev (job->volume_errors);
  g_free (job->volume_status);
  for (guint i = 0; i < HEADER_CACHE; i++)
    pr_instance_header_free (job->headers[i]);
  g_hash_table_unref (job->answers);
  g_hash_table_unref (job->images);
  g_ptr_array_unref (job->findings);
  g_free (job->summary);
  g_free (job->declined);
  g_free (job->failure);
  g_free (job->scratch_dir);
  g_mutex_clear (&job->lock);
  pr_job_description_free (job->description);
  g_free (job);
}

const char *
pr_runner_status_name (PrereadStatus status)
{
  switch (status)
    {
    case PREREAD_OK: return "PREREAD_OK";
    case PREREAD_DECLINED: return "PREREAD_DECLINED";
    case PREREAD_ERROR_FAILED: return "PREREAD_ERROR_FAILED";
    case PREREAD_ERROR_BAD_INPUT: return "PREREAD_ERROR_BAD_INPUT";
    case PREREAD_ERROR_UNSUPPORTED: return "PREREAD_ERROR_UNSUPPORTED";
    case PREREAD_ERROR_CANCELLED: return "PREREAD_ERROR_CANCELLED";
    case PREREAD_ERROR_NO_MEMORY: return "PREREAD_ERROR_NO_MEMORY";
    case PREREAD_ERROR_OUT_OF_RANGE: return "PREREAD_ERROR_OUT_OF_RANGE";
    case PREREAD_ERROR_INVALID: return "PREREAD_ERROR_INVALID";
    default: return NULL;
    }
}

static const char *
priority_name (PrereadPriority priority)
{
  return priority == PREREAD_PRIORITY_CRITICAL ? "critical"
         : priority == PREREAD_PRIORITY_URGENT ? "urgent"
                                                : "routine";
}

static void
add_string (JsonBuilder *b, const char *member, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, value);
}

gboolean
pr_runner_job_finish (PrereadJob *job, PrereadStatus status, const char *status_source,
                      const PrereadAnalyzerDescriptor *analyzer, GError **error)
{
  g_mutex_lock (&job->lock);
  const char *outcome = "done";
  g_autofree char *message = NULL;
  const char *name = pr_runner_status_name (status);
  /* What the module said through fail() and decline() wins over a status
   * that contradicts it: they carry the reason. */
  if (job->failure != NULL)
    {
      outcome = "failed";
      message = g_strdup (job->failure);
    }
  else if (status >= PREREAD_ERROR_FAILED && name != NULL)
    {
      outcome = "failed";
      message = g_strdup_printf ("%s returned %s", status_source, name);
    }
  else if (job->declined != NULL || status == PREREAD_DECLINED)
    {
      outcome = "declined";
      message = g_strdup (job->declined ? job->declined : "not applicable");
    }
  else if (status != PREREAD_OK)
    {
      outcome = "failed";
      message = g_strdup_printf ("%s returned %d, which is not a PrereadStatus", status_source, (int) status);
    }

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "schema", "preread-findings/1");
  add_string (b, "status", outcome);
  add_string (b, "message", message);
  if (analyzer != NULL)
    {
      json_builder_set_member_name (b, "analyzer");
      json_builder_begin_object (b);
      g_autofree char *version = pr_finding_clean_text (analyzer->version, 64);
      g_autofree char *vendor = pr_finding_clean_text (analyzer->vendor, 64);
      add_string (b, "name", analyzer->name);
      add_string (b, "version", version);
      add_string (b, "vendor", vendor);
      json_builder_end_object (b);
    }
  gboolean done = strcmp (outcome, "done") == 0;
  add_string (b, "priority", done ? priority_name (job->priority) : "routine");
  add_string (b, "summary", done ? job->summary : NULL);
  json_builder_set_member_name (b, "findings");
  json_builder_begin_array (b);
  for (guint i = 0; done && i < job->findings->len; i++)
    json_builder_add_value (b, json_node_ref (job->findings->pdata[i]));
  json_builder_end_array (b);
  if (job->refused_findings > 0)
    {
      json_builder_set_member_name (b, "refused_findings");
      json_builder_add_int_value (b, job->refused_findings);
    }
  json_builder_end_object (b);
  g_mutex_unlock (&job->lock);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, TRUE);
  /* Atomic: the host never reads half a document. */
  return g_file_set_contents (job->description->findings_file, text, -1, error);
}
