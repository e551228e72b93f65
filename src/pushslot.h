/*
 * pushslot.h - a grid-wide push budget shared without talking
 * (doc/protocol.md, "Push budget").
 *
 * dgrid.json's "push_budget" is the most pushes a minute the whole grid may
 * make, all refs counted. Workers keep to it with a schedule every one of
 * them computes alike from what main says, on its own clock:
 *
 *  - Time is cut into slots of 60 s / (push_budget × DG_PUSHSLOT_USE), so
 *    the schedule fills only DG_PUSHSLOT_USE of the budget; the rest
 *    absorbs clock skew and two newcomers that picked one join slot.
 *  - The members are the nodes registered on main and not stopped, sorted
 *    by id; n of them. Slots go round in cycles of n + J: the member of
 *    rank r owns the slots at position r, and the J positions after the
 *    members are join slots, where a node that is not a member yet
 *    registers (and claims, in the same push). J = 1 + n / 4 + j, where j
 *    (at most n) counts the members registered within
 *    DG_PUSHSLOT_RECENT_SLOTS slots of the newest registration, while that
 *    one is so recent (worker_budget.c): while a fleet arrives, more of it
 *    is on its way, and join slots take up to half the cycle (with a fixed
 *    1 + n / 4, 32 workers started together needed over 200 s to join at
 *    60 pushes a minute: bench-budget).
 *  - A worker pushes only at the start of one of its slots: one push per
 *    cycle, so n members and J joiners make at most n + J pushes in n + J
 *    slots. A lost race is not retried before its next slot.
 *
 * Slot k starts at k × slot length on the Unix clock: workers whose clocks
 * agree to within a slot never push in one slot together.
 */
#ifndef DG_PUSHSLOT_H
#define DG_PUSHSLOT_H

#include "common.h"

/* nodes/ID.json: set when its node stopped (it is no member, owns no slots) */
#define DG_NODE_STOPPED_KEY "stopped_at"

/* the share of the budget the schedule fills */
#define DG_PUSHSLOT_USE 0.85

struct dg_pushslot {
	unsigned budget;      /* pushes a minute for the whole grid, > 0 */
	size_t members;       /* n */
	size_t rank;          /* ours among the members; members when we are none */
	size_t joining;       /* j: recent joins (above) */
};

/* how long a registration counts as a sign that more newcomers come, in slots */
#define DG_PUSHSLOT_RECENT_SLOTS 20

/* Milliseconds of one slot. */
int64_t dg_pushslot_len_ms(unsigned budget);

/* Join slots per cycle for n members of which none joined recently. */
size_t dg_pushslot_joins(size_t members);

/* Join slots per cycle of this schedule (recent joins counted). */
size_t dg_pushslot_join_slots(const struct dg_pushslot *ps);

/* Milliseconds of one cycle: the longest a member waits for its slot. */
int64_t dg_pushslot_cycle_ms(const struct dg_pushslot *ps);

/*
 * The start (Unix ms) of our first slot that starts at or after not_before:
 * a member's own slot, or any join slot for a node that is not a member.
 */
int64_t dg_pushslot_next(const struct dg_pushslot *ps, int64_t not_before);

/*
 * How long a newcomer waits before it looks for a join slot, at most:
 * newcomers that start together spread over DG_PUSHSLOT_JOIN_SPREAD slots
 * (12 s at 60 pushes a minute, 2 minutes at GitHub's 6), and one that lost
 * a join slot to another waits as long again.
 */
#define DG_PUSHSLOT_JOIN_SPREAD 10
int64_t dg_pushslot_join_spread_ms(unsigned budget);

#endif
