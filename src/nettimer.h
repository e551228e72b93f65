/*
 * nettimer.h - an inactivity timeout for blocking libgit2 network calls.
 *
 * libgit2 1.5 has no network timeouts: a remote that accepts a connection
 * and then says nothing blocks a fetch or push, and with it the worker's
 * loop, forever. A nettimer is a POSIX timer that sends SIGALRM to the
 * thread that armed it; the handler does nothing and is installed without
 * SA_RESTART, so the blocked connect/recv/send returns EINTR and libgit2
 * fails the operation. The progress callbacks re-arm it, so only silence
 * (not a long transfer) trips it.
 *
 * Lifecycle: dg_nettimer_init once per store (on the thread that uses it),
 * dg_nettimer_arm before each network call and from its progress
 * callbacks, dg_nettimer_disarm after, dg_nettimer_release at the end.
 */
#ifndef DG_NETTIMER_H
#define DG_NETTIMER_H

#include "common.h"

#include <time.h>

struct dg_nettimer {
	timer_t id;
	bool ok;                /* the timer exists */
	unsigned ms;            /* 0: no timeout */
};

int dg_nettimer_init(struct dg_nettimer *t, unsigned ms);
void dg_nettimer_arm(struct dg_nettimer *t);
void dg_nettimer_disarm(struct dg_nettimer *t);
/* Did the timer fire since the last arm? */
bool dg_nettimer_fired(void);
void dg_nettimer_release(struct dg_nettimer *t);

#endif
