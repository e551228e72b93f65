/*
 * stopsignal.h - the signals that stop a worker, stamped as they arrive.
 *
 * A worker asked to stop keeps a grace period for its running tasks; a
 * second request ends it. Two signals within a second are one request
 * delivered twice (timeout(1) signals its child and then its whole
 * process group). "Within a second" has to be measured where the signals
 * arrive: on a loaded machine the worker's thread can be held up for a
 * second between its reads, and a signalfd read that late made one
 * request two (t0345 failed so in CI). So a thread of
 * its own waits for the signals, stamps each on its arrival and passes it
 * on through a pipe that the worker's loop polls as it polled the
 * signalfd.
 *
 * The thread never allocates, locks or logs: a fork in another thread (a
 * task's child) finds no lock of its held.
 */
#ifndef DG_STOPSIGNAL_H
#define DG_STOPSIGNAL_H

#include "common.h"

#include <signal.h>

struct dg_stopsignal {
	int signo;
	int64_t at_ms;   /* dg_now_ms() when the signal was taken */
};

/*
 * Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (so in every
 * thread it starts later; call it before any other starts), ignores
 * SIGPIPE, and starts the thread that takes them. Returns the read end of
 * the pipe (non-blocking, close-on-exec) to poll for POLLIN, or -1 with
 * errno set. Once per process.
 */
int dg_stopsignal_open(void);

/* The next signal taken, if any: 1 with *s filled, 0 when none waits. */
int dg_stopsignal_next(int fd, struct dg_stopsignal *s);

#endif
