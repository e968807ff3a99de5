/* garbage.c: a test module that emits garbage everywhere it can: binary
 * noise and an endless line on stdout and stderr, findings the host must
 * refuse, a huge string without a terminator in reach, and finally a
 * status that is not a PrereadStatus. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <preread-analyzer.h>

static PrereadStatus
analyze (void *state, PrereadJob *job, const PrereadHost *host)
{
  (void) state;
  unsigned char noise[4096];
  for (size_t i = 0; i < sizeof noise; i++)
    noise[i] = (unsigned char) (i * 131 + 7);
  for (int i = 0; i < 512; i++) /* 2 MB without a newline */
    {
      fwrite (noise, 1, sizeof noise, stdout);
      fwrite (noise, 1, sizeof noise, stderr);
    }
  fputs ("\nprogress NaN\nprogress -5 negative\nprogress banana\n", stdout);
  fflush (stdout);

  PrereadFinding f = preread_finding_init ();
  PrereadCode junk = { "", "", "" };
  f.type = junk;
  host->add_finding (job, &f);                  /* empty code */
  PrereadCode type = { "99TEST", "junk", "Junk" };
  f.type = type;
  f.confidence = INFINITY;
  host->add_finding (job, &f);                  /* infinite confidence */
  f.confidence = 0.5;
  f.location.shape = (PrereadShape) 77;
  host->add_finding (job, &f);                  /* no such shape */
  f.location.shape = PREREAD_SHAPE_MASK;
  f.location.mask_box[3] = f.location.mask_box[4] = f.location.mask_box[5] = 100000;
  host->add_finding (job, &f);                  /* an absurd mask without data */
  char *long_text = malloc (1 << 20);
  memset (long_text, 0xff, 1 << 20);            /* invalid UTF-8, no terminator near */
  long_text[(1 << 20) - 1] = '\0';
  host->log (job, PREREAD_LOG_ERROR, long_text);
  host->set_priority (job, (PrereadPriority) 42, long_text);
  free (long_text);
  return (PrereadStatus) 12345;
}

PREREAD_ANALYZER_DEFINE ("garbage", "0.0.1", "preread tests", "MIT", "Emits garbage", 0, NULL, analyze, NULL)
