/* crash.c: a test module that dies of a segmentation fault in analyze(). */
#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  host->log (job, PREREAD_LOG_INFO, "crash: about to write through a NULL pointer");
  volatile int *nowhere = NULL;
  *nowhere = 1;
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("crash", "0.0.1", "preread tests", "MIT", "Segfaults", 0, NULL, analyze, NULL)
