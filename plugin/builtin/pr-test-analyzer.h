/* pr-test-analyzer.h: the built-in test analyzer (builtin="test").
 *
 * Exercises the job queue end to end without vendor code: it reads the job
 * folder like any external program, reports progress, and ends the way its
 * "outcome" parameter says:
 *   done (default)  one informational finding per series
 *   decline         the study is not for it
 *   fail            an analyzer-reported failure
 *   crash           SIGSEGV            hang       sleeps forever, silently
 *   garbage         an invalid findings document
 * Parameter "seconds" makes it work (with progress reports) that long first;
 * "priority" sets the study priority it reports (routine, urgent, critical).
 */
#pragma once

#define PR_TEST_ANALYZER_SUBCOMMAND "__test-analyzer"

/* Its main(); argv[0] is the subcommand, argv[1] the job folder. */
int pr_test_analyzer_main (int argc, char **argv);
