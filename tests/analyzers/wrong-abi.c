/* wrong-abi.c: a module built for an ABI this host does not speak (99.0).
 * Written out by hand: PREREAD_ANALYZER_DEFINE always uses the header's. */
#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  (void) job;
  (void) host;
  return PREREAD_OK;
}

static const PrereadAnalyzerDescriptor descriptor = {
  sizeof (PrereadAnalyzerDescriptor), 99, 0, "wrong-abi", "0.0.1", "preread tests", "MIT", "Built for ABI 99",
  0, NULL, analyze, NULL, { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};

PREREAD_ANALYZER_EXPORT const PrereadAnalyzerDescriptor *preread_analyzer_entry (void);

PREREAD_ANALYZER_EXPORT const PrereadAnalyzerDescriptor *
preread_analyzer_entry (void)
{
  return &descriptor;
}
