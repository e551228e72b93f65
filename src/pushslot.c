#include "pushslot.h"

int64_t dg_pushslot_len_ms(unsigned budget)
{
	double ms = 60000.0 / ((double)(budget ? budget : 1) * DG_PUSHSLOT_USE);

	return (int64_t)ms + 1;
}

size_t dg_pushslot_joins(size_t members)
{
	return 1 + members / 4;
}

/*
 * The least number at least want whose binary form has at most three
 * significant bits: 1 ... 8, 10, 12, 14, 16, 20, 24, 28, 32, 40 ... (each
 * at most 1.25 times the one before).
 */
static size_t round_cycle(size_t want)
{
	size_t c = want ? want : 1, shift = 0;

	while (c >= 8) {
		/* round up, keeping three bits */
		c = (c + 1) / 2;
		shift++;
	}
	return c << shift;
}

bool dg_pushslot_dormant(int64_t active, int64_t now, unsigned keep)
{
	return keep && active > 0 && now - active > (int64_t)keep;
}

double dg_pushslot_fetch_weight(int64_t active, int64_t now, unsigned keep)
{
	if (!dg_pushslot_dormant(active, now, keep))
		return 1.0;
	return (double)keep / (double)(now - active);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t dg_pushslot_slot_of(unsigned budget, int64_t unix_ms)
{
	return floor_div(unix_ms, dg_pushslot_len_ms(budget));
}

/* C for n members of which j joined recently. */
static size_t cycle_len(size_t n, size_t j)
{
	return round_cycle(n + dg_pushslot_joins(n) + (j < n ? j : n));
}

/* One cycle of the schedule: its first slot, its length, the members that own a slot in it. */
struct cycle {
	int64_t start;
	size_t len, members;
};

/* Slots start at k x length; the first one that starts at or after ms. */
static int64_t slot_at_or_after(const struct dg_pushslot *ps, int64_t ms)
{
	int64_t len = dg_pushslot_len_ms(ps->budget);

	return ms <= 0 ? 0 : (ms + len - 1) / len;
}

static int64_t join_lag(const struct dg_pushslot *ps)
{
	int64_t len = dg_pushslot_len_ms(ps->budget);

	return (DG_PUSHSLOT_JOIN_LAG_MS + len - 1) / len;
}

/* The slot from which member i counts: lag slots after its stamp, when every view has it. */
static int64_t counts_from(const struct dg_pushslot *ps, size_t i, int64_t lag)
{
	return ps->joined[i] + lag;
}

/*
 * The cycle that holds slot k, in the chain that the registrations give
 * (pushslot.h). Registrations without a time own slots from the start, in
 * cycles at k mod C of their own. The first registration with a time takes
 * effect at the next such cycle's start; from there each cycle starts where
 * the one before ended, and has the members that count before its start
 * (DG_PUSHSLOT_JOIN_LAG_MS after their stamp) and the j of its start:
 * those registered within DG_PUSHSLOT_RECENT_SLOTS slots of the newest of
 * them, while that one is so recent. A view that lacks a join agrees with
 * one that has it up to the end of the cycle that holds the join.
 *
 * Between two changes (a registration, or the newest one growing old) the
 * cycles have one length: the walk steps over them at once, so that its
 * cost grows with the registrations, not with the grid's age.
 */
static void chain_cycle(const struct dg_pushslot *ps, int64_t k, struct cycle *c)
{
	const int64_t recent = DG_PUSHSLOT_RECENT_SLOTS, lag = join_lag(ps);
	size_t n = ps->members, first = 0, i;
	int64_t x, len0;

	while (first < n && ps->joined[first] == DG_PUSHSLOT_UNKNOWN)
		first++;
	len0 = (int64_t)cycle_len(first, 0);
	x = first < n ? (floor_div(counts_from(ps, first, lag), len0) + 1) * len0 : INT64_MAX;
	if (k < x) {
		c->len = (size_t)len0;
		c->start = floor_div(k, len0) * len0;
		c->members = first;
		return;
	}
	for (i = first;;) {
		int64_t newest, limit = INT64_MAX, target;
		size_t j = 0;

		while (i < n && counts_from(ps, i, lag) < x)
			i++;
		newest = counts_from(ps, i - 1, lag);
		if (x - newest <= recent) {
			for (size_t t = i; t > first && counts_from(ps, t - 1, lag) >= newest - recent; t--)
				j++;
			limit = newest + recent;
		}
		if (i < n && counts_from(ps, i, lag) < limit)
			limit = counts_from(ps, i, lag);
		c->len = cycle_len(i, j);
		c->members = i;
		/* the cycles that start at or before limit are alike */
		target = k < limit ? k : limit;
		x += (target - x) / (int64_t)c->len * (int64_t)c->len;
		if (k < x + (int64_t)c->len) {
			c->start = x;
			return;
		}
		x += (int64_t)c->len;
	}
}

/* The cycle in force: ps's one length, or the chain's cycle that holds slot k. */
static void cycle_of(const struct dg_pushslot *ps, int64_t k, struct cycle *c)
{
	if (ps->joined) {
		chain_cycle(ps, k, c);
		return;
	}
	c->len = cycle_len(ps->members, ps->joining);
	c->start = floor_div(k, (int64_t)c->len) * (int64_t)c->len;
	c->members = ps->members;
}

static void cycle_now(const struct dg_pushslot *ps, struct cycle *c)
{
	cycle_of(ps, ps->joined ? dg_pushslot_slot_of(ps->budget, ps->now_ms) : 0, c);
}

size_t dg_pushslot_cycle(const struct dg_pushslot *ps)
{
	struct cycle c;

	cycle_now(ps, &c);
	return c.len;
}

size_t dg_pushslot_join_slots(const struct dg_pushslot *ps)
{
	struct cycle c;

	cycle_now(ps, &c);
	return c.len - c.members;
}

int64_t dg_pushslot_cycle_ms(const struct dg_pushslot *ps)
{
	return (int64_t)dg_pushslot_cycle(ps) * dg_pushslot_len_ms(ps->budget);
}

static int by_registration(const void *a, const void *b)
{
	const struct dg_pushslot_member *x = a, *y = b;

	if (x->registered != y->registered)
		return x->registered < y->registered ? -1 : 1;
	return strcmp(x->id, y->id);
}

size_t dg_pushslot_order(struct dg_pushslot_member *m, size_t n, const char *me)
{
	if (n)
		qsort(m, n, sizeof(*m), by_registration);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].id, me))
			return i;
	return n;
}

int64_t dg_pushslot_next(const struct dg_pushslot *ps, int64_t not_before)
{
	int64_t len = dg_pushslot_len_ms(ps->budget), k = slot_at_or_after(ps, not_before);
	struct cycle c;

	/* a member counts from the cycle after its registration (a clock ahead may have stamped it late) */
	if (ps->joined && ps->rank < ps->members && ps->joined[ps->rank] != DG_PUSHSLOT_UNKNOWN &&
	    k <= ps->joined[ps->rank] + join_lag(ps))
		k = ps->joined[ps->rank] + join_lag(ps) + 1;
	for (;;) {
		cycle_of(ps, k, &c);
		if (ps->rank >= ps->members) {
			/* a newcomer: this join slot, or one of those after the members' */
			if (k - c.start >= (int64_t)c.members)
				return k * len;
			return (c.start + (int64_t)c.members +
				(int64_t)(ps->join_pick % (uint32_t)(c.len - c.members))) * len;
		}
		/* a member: its position, in the first cycle that counts it and has not passed it */
		if (ps->rank < c.members && c.start + (int64_t)ps->rank >= k)
			return (c.start + (int64_t)ps->rank) * len;
		k = c.start + (int64_t)c.len;
	}
}

bool dg_pushslot_is_join(const struct dg_pushslot *ps, int64_t slot_ms)
{
	int64_t k = floor_div(slot_ms, dg_pushslot_len_ms(ps->budget));
	struct cycle c;

	cycle_of(ps, k, &c);
	return k - c.start >= (int64_t)c.members;
}

int64_t dg_pushslot_last(const struct dg_pushslot *ps, int64_t at)
{
	int64_t len = dg_pushslot_len_ms(ps->budget), k = floor_div(at, len);
	struct cycle c;

	if (ps->rank >= ps->members)
		return -1;
	/* this cycle's slot if it started already, else the cycle before's */
	for (int tries = 0; tries < 2; tries++) {
		cycle_of(ps, k, &c);
		if (ps->rank < c.members && c.start + (int64_t)ps->rank <= k)
			return (c.start + (int64_t)ps->rank) * len;
		k = c.start - 1;
	}
	return -1;
}

/* splitmix64's finaliser: every worker mixes alike */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* With claims: the member that holds claims whose hash with slot k is highest; n: none holds any. */
static size_t claimer_of(const struct dg_pushslot *ps, size_t n, int64_t k)
{
	uint64_t best = 0, h, slot = mix((uint64_t)k + UINT64_C(0x9e3779b97f4a7c15));
	size_t who = n;

	for (size_t r = 0; r < n; r++) {
		if (!ps->claims[r])
			continue;
		h = mix(slot ^ (uint64_t)(r + 1));
		if (who == n || h > best)
			best = h, who = r;
	}
	return who;
}

/* Whether slot k, of cycle c, is lent to our rank: a join slot, or (with claims) a member's that holds none. */
static bool lent_in(const struct dg_pushslot *ps, const struct cycle *c, int64_t k)
{
	int64_t pos = k - c->start, i = pos - (int64_t)c->members;

	if (!c->members || ps->rank >= c->members)
		return false;
	if (ps->claims) {
		/* a member that holds claims keeps its own slot */
		if (pos < (int64_t)c->members && ps->claims[pos])
			return false;
		return claimer_of(ps, c->members, k) == ps->rank;
	}
	if (i < 0)
		return false;
	return (size_t)((c->start + i) % (int64_t)c->members) == ps->rank;
}

int64_t dg_pushslot_next_lent(const struct dg_pushslot *ps, int64_t not_before)
{
	int64_t len = dg_pushslot_len_ms(ps->budget), own = dg_pushslot_next(ps, not_before);
	int64_t k = slot_at_or_after(ps, not_before);
	struct cycle c;

	if (ps->rank >= ps->members)
		return own;
	/* our own slot is at most a cycle or two away: walk the slots before it, a cycle at a time */
	while (k < own / len) {
		cycle_of(ps, k, &c);
		for (; k < c.start + (int64_t)c.len && k < own / len; k++)
			if (lent_in(ps, &c, k))
				return k * len;
	}
	return own;
}

bool dg_pushslot_lent_to_us(const struct dg_pushslot *ps, int64_t slot_ms)
{
	int64_t k = floor_div(slot_ms, dg_pushslot_len_ms(ps->budget));
	struct cycle c;

	if (ps->rank >= ps->members)
		return false;
	cycle_of(ps, k, &c);
	return lent_in(ps, &c, k);
}

int64_t dg_pushslot_join_spread_ms(unsigned budget)
{
	return DG_PUSHSLOT_JOIN_SPREAD * dg_pushslot_len_ms(budget);
}
