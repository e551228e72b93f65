/*
 * clock.h - the two clocks dgrid reads.
 *
 * Wall time (dg_wall_*) is what gets written into the repository: claim
 * times, result timestamps, heartbeats. Other machines' wall clocks are
 * never trusted for a decision: liveness is judged from how long an
 * observer has itself seen something unchanged, on its own monotonic
 * clock (watch.h). So a node whose clock is minutes off neither looks
 * dead nor immortal to the others.
 *
 * For tests, DGRID_TEST_CLOCK_SKEW (signed seconds, read once) shifts
 * every wall-clock reading of this process, as a badly set clock would.
 * It does not touch the monotonic clock.
 */
#ifndef DG_CLOCK_H
#define DG_CLOCK_H

#include "common.h"

/* Unix seconds and milliseconds, skewed for tests as described above. */
int64_t dg_wall_seconds(void);
int64_t dg_wall_ms(void);

/* Milliseconds of CLOCK_MONOTONIC: for intervals and observations. */
int64_t dg_now_ms(void);

#endif
