/* pr-job-description.h: job.json, the description of one analysis job.
 *
 * The daemon's scheduler and `preread analyze` write it into a job folder;
 * the module runner, the volume decoder and external programs read it.
 * Schema "preread-job/1", documented for vendors in plugin/JOB-FOLDER.md:
 *
 *   { "schema": "preread-job/1", "job": 12, "attempt": 1,
 *     "analyzer": "lung-nodules", "route": "chest-ct",
 *     "parameters": { "threshold": "0.5" },
 *     "study": { "study_instance_uid": ..., "calling_ae": ..., "instance_count": 120,
 *                "attributes": { DICOM JSON of the patient and study attributes } },
 *     "series": [ { "series_instance_uid": ..., "attributes": { DICOM JSON },
 *                   "instances": [ { "sop_instance_uid": ..., "sop_class_uid": ...,
 *                                    "path": "/abs/file.dcm", "instance_number": 7 } ] } ],
 *     "output_dir": "/abs/.../output", "findings_file": "/abs/.../output/findings.json" }
 *
 * Reading trusts nothing: the file sits on disk where an analyzer (which
 * may have written to it) could reach it, so types are checked.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *sop_instance_uid;
  char *sop_class_uid;
  char *path;                   /* absolute */
  int instance_number;          /* -1 when absent */
} PrJobInstance;

typedef struct {
  char *series_instance_uid;
  char *attributes_json;        /* (nullable) DICOM JSON of the series' first instance */
  GPtrArray *instances;         /* PrJobInstance*, in instance-number order */
} PrJobSeries;

typedef struct {
  gint64 job_id;                /* 0 outside the daemon (preread analyze) */
  int attempt;
  char *analyzer;
  char *route;                  /* (nullable) */
  GHashTable *parameters;       /* char* -> char* */
  char *study_instance_uid;
  char *calling_ae;             /* (nullable) */
  guint instance_count;
  char *study_attributes_json;  /* (nullable) DICOM JSON */
  GPtrArray *series;            /* PrJobSeries* */
  char *output_dir;
  char *findings_file;
} PrJobDescription;

PrJobDescription *pr_job_description_new (void);

/* Appends a series and returns it (transfer none) for filling in. */
PrJobSeries *pr_job_description_add_series (PrJobDescription *job, const char *series_uid,
                                            const char *attributes_json);

void pr_job_series_add_instance (PrJobSeries *series, const char *sop_instance_uid, const char *sop_class_uid,
                                 const char *path, int instance_number);

/**
 * pr_job_description_study_attributes:
 * @series_attributes_json: (nullable): DICOM JSON of an instance
 *
 * Returns: (transfer full) (nullable): the patient and study attributes
 * among them, as DICOM JSON: what job.json's study "attributes" holds.
 */
char *pr_job_description_study_attributes (const char *series_attributes_json);

/* Returns: (transfer full): job.json's text. */
char *pr_job_description_to_json (const PrJobDescription *job);

/**
 * pr_job_description_load:
 * @path: a job.json
 * @error: G_FILE_ERROR when unreadable, G_IO_ERROR_INVALID_DATA when not the schema
 *
 * Returns: (transfer full): the description.
 */
PrJobDescription *pr_job_description_load (const char *path, GError **error);

void pr_job_description_free (PrJobDescription *job);

/**
 * pr_job_folder_remove:
 * @folder: a job folder, or a folder inside one (scratch/)
 *
 * Removes it and everything in it, best effort. Symbolic links an analyzer
 * left there are removed, never followed.
 */
void pr_job_folder_remove (const char *folder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrJobDescription, pr_job_description_free)

G_END_DECLS
