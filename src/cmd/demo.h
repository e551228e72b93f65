/*
 * demo.h - what the two halves of `dgrid demo` share: demo.c is the
 * command (its directory, the example tasks, the steps and their check),
 * demo_workers.c starts the dgrid processes that do the work and watches
 * them end. Internal to the demo; everything here prints its own errors,
 * as a cmd_* may.
 */
#ifndef DG_CMD_DEMO_H
#define DG_CMD_DEMO_H

#include "../common.h"

#define DEMO_MAX_WORKERS 16

struct example;

struct demo {
	const char *dir;         /* --dir, as given */
	char *abs_dir;           /* the same, resolved */
	char *repo;              /* abs_dir/repo: the Git host */
	char *exe;               /* this binary, which every step runs */
	struct example *ex;      /* the example tasks, by file name */
	size_t ex_nr, ex_alloc;
	pid_t workers[DEMO_MAX_WORKERS]; /* 0 once reaped */
	unsigned workers_nr;
	unsigned http_port;      /* worker 1's status page, 0 when none */
};

/*
 * Runs `dgrid argv[1] ...` to its end (argv[0] is set to d->exe) with
 * stdin from /dev/null. Returns 0, or 1 after printing why it failed.
 */
int demo_run(const struct demo *d, const char **argv);

/*
 * The --executor the workers get: NULL (they choose the best sandbox
 * themselves), or "process" with a loud warning when no sandbox works on
 * this host. Prints which it is.
 */
const char *demo_pick_executor(void);

/*
 * Starts n workers demo-worker-1..n that exit once the grid is drained,
 * logging to abs_dir/logs/; worker 1 serves its status page on a free
 * loopback port (d->http_port). Returns 0, or 1 after printing why; the
 * workers started so far are in d->workers either way.
 */
int demo_start_workers(struct demo *d, unsigned n, const char *executor);

/*
 * Collects the workers that have exited and returns how many still run.
 * When failed is not NULL, a worker that exited non-zero is reported and
 * sets *failed.
 */
unsigned demo_reap_workers(struct demo *d, bool *failed);

/* SIGTERM to every worker, SIGKILL to those still running 5 s later. */
void demo_stop_workers(struct demo *d);

/* Does something accept connections on 127.0.0.1:port? */
bool demo_port_answers(unsigned port);

#endif
