/* pr-commands.h: the subcommands of the preread binary.
 *
 * Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns the process exit status: 0 success, 1 failure, 2 usage error.
 */
#pragma once

int pr_command_serve (int argc, char **argv);
int pr_command_send (int argc, char **argv);
int pr_command_check_config (int argc, char **argv);
int pr_command_route (int argc, char **argv);
int pr_command_jobs (int argc, char **argv);
int pr_command_analyze (int argc, char **argv);
int pr_command_outbox (int argc, char **argv);

int pr_command_passwd (int argc, char **argv);
int pr_command_import_photo (int argc, char **argv);
