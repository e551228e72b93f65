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

size_t dg_pushslot_cycle(const struct dg_pushslot *ps)
{
	size_t joins = dg_pushslot_joins(ps->members) + (ps->joining < ps->members ? ps->joining : ps->members);

	return round_cycle(ps->members + joins);
}

size_t dg_pushslot_join_slots(const struct dg_pushslot *ps)
{
	return dg_pushslot_cycle(ps) - ps->members;
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
	int64_t len = dg_pushslot_len_ms(ps->budget);
	int64_t cycle = (int64_t)dg_pushslot_cycle(ps);
	int64_t k = not_before <= 0 ? 0 : (not_before + len - 1) / len;   /* first slot starting >= not_before */
	int64_t pos = k % cycle;

	if (ps->rank < ps->members) {
		int64_t want = (int64_t)ps->rank;
		k += (want - pos + cycle) % cycle;
	} else if (pos < (int64_t)ps->members) {
		/* one of the join slots after the members' */
		k += (int64_t)ps->members - pos + (int64_t)(ps->join_pick % (uint32_t)(cycle - (int64_t)ps->members));
	}
	return k * len;
}

int64_t dg_pushslot_join_spread_ms(unsigned budget)
{
	return DG_PUSHSLOT_JOIN_SPREAD * dg_pushslot_len_ms(budget);
}
