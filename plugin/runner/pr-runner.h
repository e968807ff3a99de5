/* pr-runner.h: the child processes that stand between the daemon and vendor code.
 *
 * The daemon never loads an analyzer module. The supervisor starts
 * `preread __run-module MODULE JOB-FOLDER` under the analyzer's limits; that
 * process loads the module, answers its host calls, writes its findings and
 * exits. Whatever the module does (crash, hang, allocate, fork) happens in
 * that process and its group, which the supervisor reaps or kills.
 *
 * Two more entry points share the same isolation:
 *   __probe-module MODULE  loads a module and prints its descriptor as JSON
 *                          (preread analyze --list, check-config);
 *   __run-program JOB-FOLDER PROGRAM
 *                          decodes the job's series into volume files for an
 *                          external program that asked for them (inputs=
 *                          "volumes"), then becomes the program (execv).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PR_RUNNER_SUBCOMMAND "__run-module"
#define PR_RUNNER_PROBE_SUBCOMMAND "__probe-module"
#define PR_RUNNER_PROGRAM_SUBCOMMAND "__run-program"

/* The runner's exit status when the module cannot be loaded at all (missing,
 * not a module, wrong ABI, invalid descriptor): retrying will not help. The
 * reason is the last line of its stderr. */
#define PR_RUNNER_EXIT_UNLOADABLE 3

/* How the runner's own lines in analyzer.log begin. */
#define PR_RUNNER_LOG_PREFIX "preread runner: "

int pr_runner_main (int argc, char **argv);
int pr_runner_probe_main (int argc, char **argv);
int pr_runner_program_main (int argc, char **argv);

G_END_DECLS
