/*
 * cmd.h - the subcommands. Each lives in src/cmd/<verb>.c, parses its own
 * options and may exit; nothing below src/cmd may. Return values are exit
 * codes: 0 ok, 1 failure, 2 usage or configuration error.
 */
#ifndef DG_CMD_H
#define DG_CMD_H

int cmd_version(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_reap(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_result(int argc, char **argv);
int cmd_dashboard(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_exec(int argc, char **argv);

#endif
