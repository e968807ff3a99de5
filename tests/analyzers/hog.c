/* hog.c: a test module that wants memory without bound.
 *   mode=grow (default): 64 MB at a time, each touched, never checked, until
 *     an allocation fails under the address-space limit and the NULL write kills it;
 *   mode=huge: one 4 GB allocation, checked: fails the job cleanly. */
#include <stdlib.h>
#include <string.h>

#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  const char *mode = host->parameter (job, "mode");
  if (mode != NULL && strcmp (mode, "huge") == 0)
    {
      size_t four_gb = (size_t) 4 << 30;
      char *block = malloc (four_gb);
      if (block == NULL)
        return host->fail (job, PREREAD_ERROR_NO_MEMORY, "hog: the 4 GB allocation failed");
      memset (block, 1, four_gb);
      free (block);
      return PREREAD_OK;
    }
  for (;;)
    {
      size_t chunk = (size_t) 64 << 20;
      char *block = malloc (chunk);
      memset (block, 1, chunk); /* unchecked on purpose, like the code this stands for */
      host->progress (job, 0.5, "growing");
    }
  return PREREAD_OK;
}

PREREAD_ANALYZER_DEFINE ("hog", "0.0.1", "preread tests", "MIT", "Allocates without bound", 0, NULL, analyze, NULL)
