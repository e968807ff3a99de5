/* hang.c: a test module that spins forever, ignoring cancellation, so that
 * only the supervisor's timeout and SIGKILL can end it. With the parameter
 * heartbeat=yes it reports progress while spinning (only the wall-clock
 * timeout applies then). */
#include <string.h>
#include <time.h>

#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  const char *heartbeat = host->parameter (job, "heartbeat");
  int beat = heartbeat != NULL && strcmp (heartbeat, "yes") == 0;
  volatile unsigned long spins = 0;
  time_t last = time (NULL);
  for (;;)
    {
      spins++;
      if (beat && time (NULL) != last)
        {
          last = time (NULL);
          host->progress (job, 0.5, "still spinning");
        }
    }
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("hang", "0.0.1", "preread tests", "MIT", "Never returns", 0, NULL, analyze, NULL)
