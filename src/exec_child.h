/*
 * exec_child.h - helpers for the code that runs in a freshly forked child
 * before execve. Everything here is async-signal-safe (no allocation, no
 * locks, no stdio): the worker may have threads, and fork copies only one.
 *
 * A child reports a failed step to its parent through a close-on-exec pipe
 * as one struct dg_child_error; the parent reads until EOF: nothing read
 * means execve succeeded.
 */
#ifndef DG_EXEC_CHILD_H
#define DG_EXEC_CHILD_H

#include "common.h"
#include "exec.h"

#include <signal.h>

struct dg_child_error {
	char step[96];
	int err;
};

/* The environment of every task: nothing of the worker's. */
#define DG_TASK_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
#define DG_TASK_LANG "LANG=C.UTF-8"

/*
 * The script as the task's shell gets it (see exec.h): a sealed memfd that
 * the child puts at DG_TASK_SCRIPT_FD, sourced by DG_TASK_SH_ARGV.
 */
#define DG_TASK_SCRIPT_FD 3
#define DG_TASK_SH_ARGV { (char *)"sh", (char *)"-c", (char *)". /dev/fd/3", (char *)"sh", NULL }

/*
 * Parent side: a close-on-exec memfd holding "exec 3<&-; " and the script,
 * sealed against any change. 0 and the fd in *out, or DG_ERROR.
 */
int dg_child_script_open(int *out, const char *script);

/* Writes {step, errno} to fd and exits 127. */
_Noreturn void dg_child_fail(int fd, const char *step, int err);

/*
 * Puts each of the n fds in from[] at 0, 1, ... n-1 (in that order) without
 * clobbering one another, then closes every other descriptor.
 */
int dg_child_arrange_fds(const int *from, int n);

/*
 * The descriptors between a forked task and the worker: stdin /dev/null,
 * stdout and stderr pipes, the script (when io.script was set, e.g. from
 * dg_child_script_open; dg_child_io_close closes it) and the close-on-exec
 * report pipe.
 *
 *   parent: dg_child_io_open(&io); block signals; pid = fork();
 *   child:  rep = dg_child_io_enter(&io); ... execve(...); dg_child_fail(rep, ...)
 *   parent: dg_child_io_start(&io, job, pid, "what")   (waits for exec)
 *   always: dg_child_io_close(&io)
 */
struct dg_child_io {
	int devnull;
	int out[2], err[2], rep[2];
	int script;
};

#define DG_CHILD_IO_INIT { -1, { -1, -1 }, { -1, -1 }, { -1, -1 }, -1 }

int dg_child_io_open(struct dg_child_io *io);
/*
 * In the child: stdin, stdout, stderr at 0-2, the script (if any) at
 * DG_TASK_SCRIPT_FD, then the report pipe, nothing else open; exits on
 * failure. Returns the report pipe's descriptor: 3 without a script, 4 with.
 */
int dg_child_io_enter(struct dg_child_io *io);
/*
 * In the parent after fork: waits for the child's exec report; on success
 * hands the read ends (non-blocking) to job->out_fd/err_fd and sets
 * job->pid; on failure reaps the child and returns DG_ERROR.
 */
int dg_child_io_start(struct dg_child_io *io, struct dg_job *job, pid_t pid, const char *what);
void dg_child_io_close(struct dg_child_io *io);

/* Default dispositions and an empty mask (fork happens with all blocked). */
void dg_child_reset_signals(void);

/* RLIMIT_CORE 0, FSIZE, NOFILE 256, CPU; returns the failed step or NULL. */
const char *dg_child_rlimits(const struct dg_exec_limits *lim);

/* Blocks every signal around fork; restore with the saved mask. */
void dg_block_signals(sigset_t *saved);
void dg_restore_signals(const sigset_t *saved);

/*
 * Parent side: reads the child's report (blocking until EOF). 0 if the child
 * reached execve, else DG_ERROR with "what: step: strerror" set.
 */
int dg_child_read_error(int fd, const char *what);

#endif
