/*
 * ln_series.h: choosing the series to read and turning it into an LnScan.
 * The one place besides ln_module.c that calls the host.
 */
#ifndef LN_SERIES_H
#define LN_SERIES_H

#include <preread-analyzer.h>

#include "ln_nodule.h"

/* Thicker slices than this are declined: nodules of a few millimetres
 * vanish in them. A route may lower it (parameter max-slice-thickness). */
#define LN_DEFAULT_MAX_THICKNESS_MM 6.0

/* Ranks the job's series for nodule detection: CT, axial, not a localizer,
 * chest by its description or at least not another body part, slices no
 * thicker than @max_thickness; thinnest first, then a lung (sharp) kernel,
 * then the most images. Fills @order (room for n_series entries) and
 * returns how many series qualify; when none does, @why says why for each. */
int ln_series_rank (const PrereadHost *host, PrereadJob *job, double max_thickness, int *order, char *why,
                    size_t why_len);

/* One line about series @index for the log and the report ("series 2 '5mm',
 * kernel L, 5.0 mm slices, 64 images"). */
void ln_series_describe (const PrereadHost *host, PrereadJob *job, int index, char *out, size_t out_len);

/* Loads series @index into @scan: the host's volume (sorted along the
 * normal), resampled to a regular grid when the slices are unevenly spaced
 * or stacked off their normal (gantry tilt). @volume stays the host's and
 * must outlive @scan. Returns 0; 1 when the series cannot be used (@why);
 * -1 on failure (@why). */
int ln_series_load (const PrereadHost *host, PrereadJob *job, int index, PrereadVolume *volume, LnScan *scan,
                    char *why, size_t why_len);

/* Lung-kernel preference: 2 lung, 1 sharp, 0 soft or unknown. */
int ln_kernel_score (const char *kernel);

#endif /* LN_SERIES_H */
