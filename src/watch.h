/*
 * watch.h - how long has this stayed the same, by my own clock?
 *
 * Liveness in a grid of volunteers cannot compare timestamps written by
 * other machines: a node whose clock is a minute slow would look dead for
 * ever, one whose clock is fast would never look dead. So an observer (a
 * reaper) judges only what it saw itself: it remembers, for each thing it
 * watches (a node's heartbeat, a claim), a digest of its content and the
 * moment - on its own monotonic clock - it first saw that content. "The
 * heartbeat has not changed for 95 s" is then a fact about the observer's
 * own observations, whatever the writer's clock says.
 *
 * Observations come in rounds, one per fresh look at the repository (right
 * after a fetch): dg_watch_begin(now), dg_watch_see() for everything
 * present, dg_watch_end() forgets what was not seen in the round. A fresh
 * observer knows nothing, so everything starts at age 0: it takes a full
 * timeout of watching before anything can look dead, which errs on the
 * safe side (a task is never taken from a worker too early).
 *
 * Ownership: the watch owns copies of the keys. Not thread-safe.
 */
#ifndef DG_WATCH_H
#define DG_WATCH_H

#include "common.h"

struct dg_watch;

struct dg_watch *dg_watch_new(void);
void dg_watch_free(struct dg_watch *watch);

/* Starts a round of observations made at now_ms (dg_now_ms()). */
void dg_watch_begin(struct dg_watch *watch, int64_t now_ms);

/*
 * Records that key holds content (data, len) in this round. Returns for
 * how many milliseconds it has held exactly this content as far as this
 * observer saw: 0 when it is new or changed since the last round.
 */
int64_t dg_watch_see(struct dg_watch *watch, const char *key, const void *data, size_t len);

/* Forgets every key not seen in the current round. */
void dg_watch_end(struct dg_watch *watch);

#endif
