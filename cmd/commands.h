/* SPDX-License-Identifier: MIT */
/* The subcommands: each takes argv from its own name on and returns the
 * process exit status. */
#ifndef CPROF_CMD_COMMANDS_H
#define CPROF_CMD_COMMANDS_H

int cmd_threads(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
