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
 *  - The members are the nodes registered on main, not stopped (or
 *    lately: DG_PUSHSLOT_STOP_KEEP_SLOTS) and not
 *    silent for slot_keep_seconds (their active_at, DG_NODE_ACTIVE_KEY), in
 *    the order they registered (registered_at, then id); n of them. Slots go
 *    round in cycles of C slots: the member of rank r owns the slots at
 *    position r, and the C - n positions after the members are join slots,
 *    where a node that is not a member yet registers (and claims, in the
 *    same push). C is n + J rounded up to three significant bits (1 ... 8,
 *    10, 12, 14, 16, 20, 24, 28, 32, 40 ...), J = 1 + n / 4 + j, where j (at most
 *    n) counts the members registered within DG_PUSHSLOT_RECENT_SLOTS slots
 *    of the newest registration, while that one is so recent
 *    (worker_budget.c): while a fleet arrives, more of it is on its way.
 *  - Why that order and that rounding: workers see a join at different
 *    moments. A view without the newest member must place every other
 *    member where a view with it does, or two members push in one slot and
 *    one of them loses a push the host still counts. In registration order
 *    a newcomer takes the rank after the others, never one of theirs; and
 *    a cycle that changed length with every join moved every slot (64
 *    workers at a budget of 60: 200 of 386 pushes lost, 97 in the busiest
 *    minute, with ranks by id and C = n + J). Rounded, C changes four
 *    times per doubling of the grid, and rounding lengthens it by less
 *    than a quarter (two bits, 1, 2, 3, 4, 6, 8, 12 ..., cost up to half:
 *    32 workers took 328 s where 0.8.0 took 232 s, bench-budget).
 *  - A worker pushes only at the start of one of its slots: one push per
 *    cycle, so n members and C - n joiners make at most C pushes in C
 *    slots. A lost race is not retried before its next slot. While the
 *    queue is empty nobody joins, and the join slots are lent to the
 *    members (dg_pushslot_next_lent): still one node's each.
 *  - Cycles chain (since 0.15.0): a join changes nothing in the cycle
 *    that holds it; the next cycle starts where this one ends and has
 *    the new member and the new length. The schedule is the chain of
 *    cycles that the members' registration times give (chain_cycle).
 *    Until 0.14.12 slot k was at position k mod C of the present C, so
 *    every change of C moved every slot at once: while 32 workers
 *    joined, members found their slot moved 34 times in one run and
 *    waited 365 s in all for the new one (bench-budget).
 *
 * Slot k starts at k × slot length on the Unix clock: workers whose clocks
 * agree to within a slot never push in one slot together.
 */
#ifndef DG_PUSHSLOT_H
#define DG_PUSHSLOT_H

#include "common.h"

/* nodes/ID.json: set when its node stopped (it owns no slot DG_PUSHSLOT_STOP_KEEP_SLOTS later) */
#define DG_NODE_STOPPED_KEY "stopped_at"
/* nodes/ID.json: when its node last wrote it; silent for slot_keep_seconds, it owns no slots (0.14.9) */
#define DG_NODE_ACTIVE_KEY "active_at"

/* the share of the budget the schedule fills */
#define DG_PUSHSLOT_USE 0.85

struct dg_pushslot {
	unsigned budget;      /* pushes a minute for the whole grid, > 0 */
	size_t members;       /* n */
	size_t rank;          /* ours among the members; members when we are none */
	size_t joining;       /* j: recent joins (above); without joined only */
	uint32_t join_pick;   /* a newcomer's random pick among a cycle's join slots */
	/*
	 * The members' registration slots (registered_at in Unix ms over the
	 * slot length), in rank order, DG_PUSHSLOT_UNKNOWN for one without a
	 * time: the chain of cycles. NULL: the schedule of 0.14.12 and older,
	 * one cycle length (from members and joining) and slot k at k mod C;
	 * the scaling advice's estimates and the tests of the cycle's
	 * formula use it.
	 */
	const int64_t *joined;
	int64_t now_ms;       /* with joined: when "the cycle" is (dg_pushslot_cycle) */
	/*
	 * Lending on a drained grid (since 0.16.4; dg_pushslot_next_lent):
	 * which members hold claims on main, by rank (members entries). NULL:
	 * 0.16.2's lending, of the join slots alone, to every member in turn.
	 */
	const bool *claims;
};

#define DG_PUSHSLOT_UNKNOWN INT64_MIN

/* The slot that holds a Unix time in ms (a registration's, times 1000). */
int64_t dg_pushslot_slot_of(unsigned budget, int64_t unix_ms);

/* A registered node, as the schedule orders them. */
struct dg_pushslot_member {
	int64_t registered;   /* registered_at, Unix seconds; 0 when unknown (first) */
	const char *id;
};

/*
 * Whether a registration (or join) whose active_at is active (Unix s; 0
 * or less: it says none, as before 0.14.9) is dormant at now: silent for
 * longer than keep seconds (slot_keep_seconds; 0: never). A dormant node
 * owns no slot: the workers and the scaling advice judge it alike.
 */
bool dg_pushslot_dormant(int64_t active, int64_t now, unsigned keep);

/*
 * The part of an idle member's fetch share that a registration takes (1:
 * a member's, as before 0.14.10): keep / silence once it is dormant. A
 * dormant node may be dead or merely idle, and nothing in the repository
 * tells which (an idle worker pushes nothing); so it keeps a share, the
 * smaller the longer it has been silent, and a dormant worker polls that
 * much less often itself (dg_worker_fetch_share_ms), which keeps the
 * grid's sum within the budget while the long dead cost the live little.
 */
double dg_pushslot_fetch_weight(int64_t active, int64_t now, unsigned keep);

/* Sorts the members into the schedule's order; returns me's rank, or n when me is none of them. */
size_t dg_pushslot_order(struct dg_pushslot_member *m, size_t n, const char *me);

/*
 * A registration counts in the chain from this long after its stamp
 * (registered_at, whole seconds, written before its push lands): a view
 * that read main before the push landed agrees with one that read it
 * after. Counted from the stamp itself, joins that landed in the next
 * cycle changed the cycle that held them, and members found their slot
 * moved 18 times in a 32-worker run (bench-budget).
 */
#define DG_PUSHSLOT_JOIN_LAG_MS 10000

/*
 * A registration that says its node stopped keeps its slot (unused) for
 * this many slots after its stopped_at (since 0.15.1; worker_budget.c):
 * leaving the chain moves every slot once, and members stop one after
 * another at the end of a run, while the others wait to report.
 */
#define DG_PUSHSLOT_STOP_KEEP_SLOTS 64

/* how long a registration counts as a sign that more newcomers come, in slots */
#define DG_PUSHSLOT_RECENT_SLOTS 20

/* Milliseconds of one slot. */
int64_t dg_pushslot_len_ms(unsigned budget);

/* Join slots per cycle for n members of which none joined recently. */
size_t dg_pushslot_joins(size_t members);

/* Slots per cycle: C above (with joined: of the cycle that holds now_ms). */
size_t dg_pushslot_cycle(const struct dg_pushslot *ps);

/* Join slots of that cycle (recent joins counted): C - the members it has. */
size_t dg_pushslot_join_slots(const struct dg_pushslot *ps);

/* Milliseconds of one cycle: the longest a member waits for its slot. */
int64_t dg_pushslot_cycle_ms(const struct dg_pushslot *ps);

/*
 * The start (Unix ms) of our first slot that starts at or after not_before:
 * a member's own slot; for a node that is not a member, the join slot
 * not_before falls in, or, when it falls among the members' slots, the
 * join_pick-th (modulo their number) of the join slots that follow. Waits
 * that end among the members' slots then spread over the join slots
 * instead of all taking the first one (64 newcomers: clusters of ~10
 * pushes in one join slot, one of which won).
 */
int64_t dg_pushslot_next(const struct dg_pushslot *ps, int64_t not_before);

/* Whether the slot that starts at slot_ms is a join slot (no member's) in the cycle that holds it. */
bool dg_pushslot_is_join(const struct dg_pushslot *ps, int64_t slot_ms);

/* The start (Unix ms) of our last member's slot that starts at or before at; -1: none lately. */
int64_t dg_pushslot_last(const struct dg_pushslot *ps, int64_t at);

/*
 * Join slots lent to the members (since 0.16.2): nobody joins a grid
 * whose queue is empty (a newcomer joins only with a claim), so while it
 * is, join position i of the cycle that starts at slot s is lent to the
 * member of rank (s + i) mod n of that cycle. Each slot is still one
 * node's: the budget holds. Who may borrow is the worker's to judge
 * (worker_budget.c); these say which slots are whose.
 *
 * With claims (since 0.16.4): a member that holds no claim on a drained
 * grid has nothing to push either, so its slots are lent too, and every
 * lent slot goes to one of the members that hold claims - the one whose
 * hash with the slot is highest (rendezvous hashing), each with an even
 * chance. A view that still counts a member that reported since differs
 * only in that member's slots, which it takes for that member's (who
 * knows it holds nothing and pushes not) where a fresher one gives them
 * to the runner-up: two members that both hold claims, and so see each
 * other, never both take one slot. 0.16.2's turn lent the join slots
 * alone, to members that mostly held nothing: a member's last report
 * waited 20-26 s for a slot at 32 workers, most of a cycle.
 *
 * dg_pushslot_next_lent: the start (Unix ms) of our first slot at or after
 * not_before, our own or one lent to us (a member's; dg_pushslot_next
 * otherwise). dg_pushslot_lent_to_us: whether the slot that starts at
 * slot_ms is a join slot lent to us.
 */
int64_t dg_pushslot_next_lent(const struct dg_pushslot *ps, int64_t not_before);
bool dg_pushslot_lent_to_us(const struct dg_pushslot *ps, int64_t slot_ms);

/*
 * How long a newcomer waits before it looks for a join slot, at most:
 * newcomers that start together spread over DG_PUSHSLOT_JOIN_SPREAD slots
 * (12 s at 60 pushes a minute, 2 minutes at GitHub's 6), and one that lost
 * a join slot to another waits as long again.
 */
#define DG_PUSHSLOT_JOIN_SPREAD 10
int64_t dg_pushslot_join_spread_ms(unsigned budget);

#endif
