// cxx.cc: a test module written in C++: the header must compile as C++ and
// PREREAD_ANALYZER_DEFINE must export the entry point with C linkage.
// It reports the mean and maximum of the first series, computed with the
// standard library; with throw=yes it lets an exception escape analyze()
// (undefined across the C boundary: the runner dies of SIGABRT).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <preread-analyzer.h>

namespace
{

struct Statistics
{
  std::vector<double> means;
};

PrereadStatus
init (const PrereadHost *, void **state)
{
  *state = new Statistics ();
  return PREREAD_OK;
}

PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  Statistics *stats = static_cast<Statistics *> (state);
  const char *throw_it = host->parameter (job, "throw");
  if (throw_it != nullptr && std::string (throw_it) == "yes")
    throw std::runtime_error ("cxx: thrown on purpose");
  PrereadVolume volume = preread_volume_init ();
  PrereadStatus status = host->series_volume (job, 0, &volume);
  if (status != PREREAD_OK)
    return host->decline (job, "cxx: no volume");
  size_t count = static_cast<size_t> (volume.columns) * volume.rows * volume.slices * volume.samples_per_pixel;
  std::vector<float> values (volume.voxels, volume.voxels + count);
  double mean = std::accumulate (values.begin (), values.end (), 0.0) / static_cast<double> (count);
  float maximum = *std::max_element (values.begin (), values.end ());
  stats->means.push_back (mean);

  std::ostringstream text;
  text << "mean " << static_cast<long> (mean) << ", maximum " << maximum;
  std::string summary = text.str ();
  PrereadFinding finding = preread_finding_init ();
  finding.type = PrereadCode { "99TEST", "cxx-statistics", "Statistics" };
  finding.text = summary.c_str ();
  PrereadMeasurement measurement = { { "99TEST", "mean", "Mean" }, mean, "[hnsf'U]" };
  finding.measurements = &measurement;
  finding.n_measurements = 1;
  status = host->add_finding (job, &finding);
  host->set_priority (job, PREREAD_PRIORITY_ROUTINE, summary.c_str ());
  return status;
}

void
finish (void *state)
{
  delete static_cast<Statistics *> (state);
}

} // namespace

PREREAD_ANALYZER_DEFINE ("cxx", "0.0.1", "preread tests", "MIT", "Written in C++", 0, init, analyze, finish)
