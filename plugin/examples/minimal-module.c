/*
 * minimal-module.c: the smallest useful preread analyzer module.
 *
 * It finds the brightest voxel of the first image series and reports it as
 * a finding: a point on the image it lies in, with the value as a
 * measurement. Read plugin/examples/README.md for the walk-through.
 *
 *   cc -shared -fPIC -o brightest-spot.so minimal-module.c $(pkg-config --cflags preread-analyzer)
 *   preread analyze --analyzer ./brightest-spot.so /path/to/study/
 */
#include <stdio.h>
#include <string.h>

#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  if (host->n_series (job) == 0)
    return host->decline (job, "no series selected");

  /* The host decodes the pixels (any transfer syntax), applies the
   * modality LUT and sorts the slices. */
  PrereadVolume volume = preread_volume_init ();
  PrereadStatus status = host->series_volume (job, 0, &volume);
  if (status == PREREAD_ERROR_BAD_INPUT || status == PREREAD_ERROR_UNSUPPORTED)
    return host->decline (job, "the first series is not an image volume");
  if (status != PREREAD_OK)
    return host->fail (job, status, "cannot decode the first series");

  size_t plane = (size_t) volume.columns * volume.rows * volume.samples_per_pixel;
  size_t best = 0;
  for (uint32_t z = 0; z < volume.slices; z++)
    {
      if (host->is_cancelled (job))
        return PREREAD_ERROR_CANCELLED;
      for (size_t i = z * plane; i < (z + 1) * plane; i++)
        if (volume.voxels[i] > volume.voxels[best])
          best = i;
      /* Progress is also the heartbeat the no-progress timeout watches. */
      host->progress (job, (double) (z + 1) / volume.slices, "searching");
    }

  size_t pixel = (best % plane) / volume.samples_per_pixel;
  uint32_t slice = (uint32_t) (best / plane);
  uint32_t frame = 0;
  /* The centre of the pixel, in image coordinates (0,0 is the top-left corner). */
  float point[2] = { (float) (pixel % volume.columns) + 0.5f, (float) (pixel / volume.columns) + 0.5f };
  /* CT voxels are Hounsfield units; other modalities' values have no unit. */
  const char *modality = host->series_attribute (job, 0, "Modality");
  PrereadMeasurement value = { { "99PREREAD", "max-value", "Maximum pixel value" }, volume.voxels[best], "1" };
  if (modality != NULL && strcmp (modality, "CT") == 0)
    {
      value.concept = (PrereadCode) { "DCM", "112031", "Attenuation Coefficient" };
      value.unit = "[hnsf'U]";
    }

  PrereadFinding finding = preread_finding_init (); /* confidence -1: not a probability */
  finding.type = (PrereadCode) { "99PREREAD", "brightest-spot", "Brightest spot" };
  finding.text = "The brightest voxel of the series.";
  finding.location.shape = PREREAD_SHAPE_POINT;
  finding.location.sop_instance_uid = host->volume_slice_instance (job, 0, slice, &frame);
  finding.location.frame = frame;
  finding.location.points = point;
  finding.location.n_points = 1;
  finding.measurements = &value;
  finding.n_measurements = 1;
  status = host->add_finding (job, &finding);
  if (status != PREREAD_OK)
    return host->fail (job, status, "the host refused the finding (see the log)");

  char summary[128];
  snprintf (summary, sizeof summary, "brightest value %.0f on slice %u of %u", volume.voxels[best], slice + 1,
            volume.slices);
  host->set_priority (job, PREREAD_PRIORITY_ROUTINE, summary);
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("brightest-spot", "1.0.0", "preread examples", "MIT",
                         "Reports the brightest voxel of the first image series", 0, NULL, analyze, NULL)
