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

size_t dg_pushslot_join_slots(const struct dg_pushslot *ps)
{
	return dg_pushslot_joins(ps->members) + (ps->joining < ps->members ? ps->joining : ps->members);
}

int64_t dg_pushslot_cycle_ms(const struct dg_pushslot *ps)
{
	return (int64_t)(ps->members + dg_pushslot_join_slots(ps)) * dg_pushslot_len_ms(ps->budget);
}

int64_t dg_pushslot_next(const struct dg_pushslot *ps, int64_t not_before)
{
	int64_t len = dg_pushslot_len_ms(ps->budget);
	int64_t cycle = (int64_t)(ps->members + dg_pushslot_join_slots(ps));
	int64_t k = not_before <= 0 ? 0 : (not_before + len - 1) / len;   /* first slot starting >= not_before */
	int64_t pos = k % cycle;

	if (ps->rank < ps->members) {
		int64_t want = (int64_t)ps->rank;
		k += (want - pos + cycle) % cycle;
	} else if (pos < (int64_t)ps->members) {
		k += (int64_t)ps->members - pos;            /* the cycle's first join slot */
	}
	return k * len;
}

int64_t dg_pushslot_join_spread_ms(unsigned budget)
{
	return DG_PUSHSLOT_JOIN_SPREAD * dg_pushslot_len_ms(budget);
}
