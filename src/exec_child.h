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

/* Writes {step, errno} to fd and exits 127. */
_Noreturn void dg_child_fail(int fd, const char *step, int err);

/*
 * Puts each of the n fds in from[] at 0, 1, ... n-1 (in that order) without
 * clobbering one another, then closes every other descriptor.
 */
int dg_child_arrange_fds(const int *from, int n);

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

/* Removes a directory tree without following symlinks. */
void dg_rmtree(const char *path);

#endif
