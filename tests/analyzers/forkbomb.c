/* forkbomb.c: a test module that forks, and whose children fork, then all
 * of them hang. Doubling for `generations` rounds (default 7: 128
 * processes), bounded so that a test run as root (which RLIMIT_NPROC does
 * not stop) cannot take the machine down; the point is that the supervisor
 * kills the whole process group, however many there are. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  const char *text = host->parameter (job, "generations");
  int generations = text ? atoi (text) : 7;
  for (int i = 0; i < generations && i < 10; i++)
    if (fork () < 0)
      break;
  for (;;)
    pause ();
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("forkbomb", "0.0.1", "preread tests", "MIT", "Forks and hangs", 0, NULL, analyze, NULL)
