/*
 * test_pushslot.c - the push schedule: no two members in one slot, every
 * member once per cycle, newcomers only in join slots, never more pushes
 * in any 60 s than the budget when every node pushes at every slot it may
 * use (the worst case the schedule allows), and a join that moves nobody
 * else's slot unless the cycle changes length, which it seldom does; in
 * the chain of cycles (0.15.0, the workers' schedule), never.
 */
#include "common.h"
#include "pushslot.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_slot_length(void **state DG_UNUSED)
{
	/* 60 a minute at 85 %: 1177 ms; GitHub's 6: 11765 ms */
	assert_int_equal(dg_pushslot_len_ms(60), 1177);
	assert_int_equal(dg_pushslot_len_ms(6), 11765);
	assert_int_equal(dg_pushslot_joins(0), 1);
	assert_int_equal(dg_pushslot_joins(32), 9);
	/*
	 * A fleet arriving: recent joins add join slots, never more than the
	 * members. 32 + 9 + 10 = 51 slots round up to 56; 4 + 2 + 4 = 10 stays.
	 */
	assert_int_equal(dg_pushslot_join_slots(&(struct dg_pushslot){ .budget = 60, .members = 32, .joining = 10 }), 24);
	assert_int_equal(dg_pushslot_join_slots(&(struct dg_pushslot){ .budget = 60, .members = 4, .joining = 10 }), 6);
	assert_int_equal(dg_pushslot_cycle_ms(&(struct dg_pushslot){ .budget = 60, .members = 4, .joining = 10 }),
			 10 * dg_pushslot_len_ms(60));
	/* no fleet: 32 + 9 = 41 rounds up to 48; nobody yet: one join slot */
	assert_int_equal(dg_pushslot_cycle(&(struct dg_pushslot){ .budget = 60, .members = 32 }), 48);
	assert_int_equal(dg_pushslot_cycle(&(struct dg_pushslot){ .budget = 60, .members = 0 }), 1);
	assert_int_equal(dg_pushslot_cycle(&(struct dg_pushslot){ .budget = 60, .members = 2 }), 3);
}

/* The cycle is n + J rounded up to three significant bits: never shorter, less than 1.25 times longer. */
static void test_cycle_rounding(void **state DG_UNUSED)
{
	for (size_t n = 0; n <= 1024; n++) {
		for (size_t j = 0; j <= n; j += n / 4 + 1) {
			struct dg_pushslot ps = { .budget = 60, .members = n, .joining = j };
			size_t want = n + dg_pushslot_joins(n) + j, c = dg_pushslot_cycle(&ps);
			size_t top = c;

			while (top >= 8) {
				assert_int_equal(top % 2, 0);
				top /= 2;
			}
			assert_true(c >= want);
			assert_true(4 * c < 5 * want);
			assert_int_equal(dg_pushslot_join_slots(&ps), c - n);
		}
	}
}

/*
 * Members in registration order, ids breaking ties, unknown times first;
 * a newcomer registered last takes the last rank and moves nobody.
 */
static void test_order(void **state DG_UNUSED)
{
	struct dg_pushslot_member m[] = {
		{ 1764000300, "w1" }, { 1764000100, "w9" }, { 0, "old" }, { 1764000100, "w10" },
	};
	struct dg_pushslot_member more[] = {
		{ 1764000300, "w1" }, { 1764000100, "w9" }, { 0, "old" }, { 1764000100, "w10" }, { 1764000400, "a0" },
	};

	assert_int_equal(dg_pushslot_order(m, 4, "w1"), 3);
	assert_string_equal(m[0].id, "old");
	assert_string_equal(m[1].id, "w10");
	assert_string_equal(m[2].id, "w9");
	assert_int_equal(dg_pushslot_order(m, 4, "nobody"), 4);
	assert_int_equal(dg_pushslot_order(more, 5, "a0"), 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(more[i].id, m[i].id);
	assert_int_equal(dg_pushslot_order(NULL, 0, "w1"), 0);
}

/*
 * A worker that has not seen the newest member yet pushes where every
 * up-to-date worker expects it to: every member of the older view has the
 * same slots in both views, unless the join changed the cycle's length -
 * four times per doubling of the grid (with C = n + J, every join moved
 * every slot: 64 workers arriving at a budget of 60 lost 200 of 386
 * pushes). A stale view then differs only at the new member's slot, which
 * it takes for a join slot.
 */
static void test_join_moves_nobody(void **state DG_UNUSED)
{
	int64_t len = dg_pushslot_len_ms(60), t0 = 1764000000000LL;
	size_t changes = 0;

	for (size_t n = 1; n <= 256; n++) {
		struct dg_pushslot before = { .budget = 60, .members = n - 1 };
		struct dg_pushslot after = { .budget = 60, .members = n };

		if (dg_pushslot_cycle(&before) != dg_pushslot_cycle(&after)) {
			changes++;
			continue;
		}
		for (size_t r = 0; r < n - 1; r++) {
			before.rank = after.rank = r;
			for (int64_t at = t0; at < t0 + 3 * (int64_t)dg_pushslot_cycle(&after) * len; at += len)
				assert_int_equal(dg_pushslot_next(&before, at), dg_pushslot_next(&after, at));
		}
	}
	/* 1 ... 8, 10, 12, 14, 16, 20 ... 256, 320: 29 lengths up to 256 members */
	assert_true(changes <= 29);
}

/* Member r pushes at slots r, r + C, r + 2C ...; a newcomer at slots n .. C - 1 (C = 5 + 2). */
static void test_owners(void **state DG_UNUSED)
{
	struct dg_pushslot ps = { .budget = 60, .members = 5 };
	int64_t len = dg_pushslot_len_ms(60), cycle = 7;
	int64_t t0 = 1764000000000LL;

	for (size_t r = 0; r < 5; r++) {
		int64_t at = t0;
		ps.rank = r;
		for (int i = 0; i < 20; i++) {
			int64_t next = dg_pushslot_next(&ps, at);
			assert_true(next >= at);
			assert_int_equal(next % len, 0);
			assert_int_equal((next / len) % cycle, (int64_t)r);
			if (i)
				assert_int_equal(next - at, cycle * len - 1);
			at = next + 1;
		}
	}
	ps.rank = 5;   /* not a member */
	for (int64_t at = t0; at < t0 + 50 * len; at += 397) {
		int64_t next = dg_pushslot_next(&ps, at);
		assert_true(next >= at && next - at <= cycle * len);
		assert_true((next / len) % cycle >= 5);
	}
	/*
	 * A newcomer whose wait ends among the members' slots takes its
	 * pick among the join slots that follow (two here: 5 and 6), not
	 * always the first; one whose wait ends in a join slot takes that.
	 */
	ps.rank = 5;
	for (uint32_t pick = 0; pick < 4; pick++) {
		ps.join_pick = pick;
		assert_int_equal(dg_pushslot_next(&ps, 14 * len + 1) / len, 19 + pick % 2);
		assert_int_equal(dg_pushslot_next(&ps, 19 * len + 1) / len, 20);
	}
	ps.join_pick = 0;
	/* a slot that starts exactly at not_before is taken */
	ps.rank = 0;
	assert_int_equal(dg_pushslot_next(&ps, 2 * cycle * len), 2 * cycle * len);
}

/*
 * The budget holds in every 60 s window for any number of members, each
 * member pushing at every one of its slots and one newcomer at every join
 * slot.
 */
static void test_budget_holds(void **state DG_UNUSED)
{
	static const unsigned budgets[] = { 6, 30, 60, 600 };
	static const size_t sizes[] = { 0, 1, 2, 7, 8, 32, 64, 256 };

	for (size_t b = 0; b < DG_ARRAY_SIZE(budgets); b++) {
		for (size_t s = 0; s < 3 * DG_ARRAY_SIZE(sizes); s++) {
			/* no recent joins, half the members recent, all of them (a fleet arriving) */
			struct dg_pushslot ps = { .budget = budgets[b], .members = sizes[s / 3],
						  .joining = sizes[s / 3] * (s % 3) / 2 };
			int64_t span = 3 * 60000, *times = dg_xcalloc(8192, sizeof(*times));
			size_t nr = 0, maxwin = 0;

			for (size_t r = 0; r <= ps.members; r++) {   /* r == members: a newcomer */
				ps.rank = r;
				for (int64_t at = 0; nr < 8192; ) {
					int64_t next = dg_pushslot_next(&ps, at);
					if (next >= span)
						break;
					times[nr++] = next;
					at = next + 1;
				}
			}
			for (size_t i = 0; i < nr; i++) {
				size_t in = 0;
				for (size_t j = 0; j < nr; j++)
					in += times[j] >= times[i] && times[j] < times[i] + 60000;
				if (in > maxwin)
					maxwin = in;
			}
			assert_true(maxwin <= budgets[b]);
			free(times);
		}
	}
}

/*
 * The chain (since 0.15.0): a fleet of 48 registering at random slots
 * within 150 slots of each other, two registrations without a time
 * first. Every slot of the chain has at most one member, every member
 * counted in a cycle has exactly one slot in it and none before the
 * cycle after its registration, and newcomers push only in join slots.
 */
static int64_t fleet[64];

static size_t make_fleet(size_t n, uint32_t seed)
{
	fleet[0] = fleet[1] = DG_PUSHSLOT_UNKNOWN;
	for (size_t i = 2; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		fleet[i] = 1000000 + (int64_t)((seed >> 8) % 150);
	}
	/* rank order is registration order */
	for (size_t i = 2; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (fleet[j] < fleet[i]) {
				int64_t t = fleet[i];
				fleet[i] = fleet[j];
				fleet[j] = t;
			}
	return n;
}

static void test_chain_owners(void **state DG_UNUSED)
{
	int64_t len = dg_pushslot_len_ms(60), from = 999900, to = 1001000;

	for (uint32_t seed = 1; seed <= 20; seed++) {
		size_t n = make_fleet(48, seed), owners[1100] = { 0 };
		struct dg_pushslot ps = { .budget = 60, .members = n, .joined = fleet };

		for (size_t r = 0; r < n; r++) {
			int64_t at = from * len, prev = -1;

			ps.rank = r;
			for (;;) {
				int64_t next = dg_pushslot_next(&ps, at), k = next / len;

				if (k >= to)
					break;
				assert_int_equal(next % len, 0);
				owners[k - from]++;
				if (fleet[r] != DG_PUSHSLOT_UNKNOWN)
					assert_true(k > fleet[r]);
				/* the slot before is its last one: one per cycle, no cycle skipped */
				assert_int_equal(dg_pushslot_last(&ps, next + len - 1), next);
				if (prev >= 0)
					assert_true(next - prev <= 2 * 128 * len);
				prev = next;
				at = next + 1;
			}
			/* a member of the whole span had a slot in its first 128 slots */
			if (fleet[r] == DG_PUSHSLOT_UNKNOWN)
				assert_true(prev >= 0);
		}
		ps.rank = n;
		for (int64_t k = from; k < to; k++) {
			int64_t next = dg_pushslot_next(&ps, k * len);

			assert_true(owners[k - from] <= 1);
			/* a join slot is nobody's */
			if (next == k * len)
				assert_int_equal(owners[k - from], 0);
		}
	}
}

/*
 * A join moves nobody: a view without the newest member gives every other
 * member the same slots as a view with it, up to the end of the cycle that
 * holds the join, and the new member's first slot is after that end.
 * Until 0.14.12 a join that changed the cycle's length moved every slot
 * at once (34 moves in one 32-worker run, bench-budget).
 */
static void test_chain_join_moves_nobody(void **state DG_UNUSED)
{
	int64_t len = dg_pushslot_len_ms(60);

	for (uint32_t seed = 1; seed <= 20; seed++) {
		size_t n = make_fleet(40, seed);

		for (size_t m = 3; m < n; m++) {
			struct dg_pushslot before = { .budget = 60, .members = m, .joined = fleet };
			struct dg_pushslot after = { .budget = 60, .members = m + 1, .joined = fleet };
			int64_t end;

			/* where the cycle that holds the join ends, in either view */
			before.rank = m;
			after.rank = m + 1;
			before.join_pick = after.join_pick = 0;
			end = dg_pushslot_next(&(struct dg_pushslot){ .budget = 60, .members = m, .rank = 0, .joined = fleet },
					       (fleet[m] + 1) * len);
			for (size_t r = 0; r < m; r++) {
				before.rank = after.rank = r;
				for (int64_t k = fleet[m] - 40; k * len < end; k++)
					assert_int_equal(dg_pushslot_next(&before, k * len), dg_pushslot_next(&after, k * len));
			}
			after.rank = m;
			assert_true(dg_pushslot_next(&after, (fleet[m] + 1) * len) >= end);
		}
	}
}

/*
 * While a fleet arrives the cycle has a join slot per recent join; once it
 * stopped arriving, n + J again, rounded (48 for 32: 32 + 9 = 41).
 */
static void test_chain_settles(void **state DG_UNUSED)
{
	int64_t len = dg_pushslot_len_ms(60), start;
	struct dg_pushslot ps = { .budget = 60, .members = 32, .joined = fleet };

	/* 32 registered within 8 slots */
	for (size_t i = 0; i < 32; i++)
		fleet[i] = 1000000 + (int64_t)i / 4;
	/* the first cycle that counts them all, where the last one has its first slot: 32 + 9 + 32 = 73, rounded to 80 */
	ps.rank = 31;
	start = dg_pushslot_next(&ps, fleet[0] * len) - 31 * len;
	ps.rank = 0;
	ps.now_ms = start;
	assert_int_equal(dg_pushslot_cycle(&ps), 80);
	assert_int_equal(dg_pushslot_join_slots(&ps), 48);
	/* the cycle after starts more than 20 slots after the last join */
	ps.now_ms = start + 80 * len;
	assert_int_equal(dg_pushslot_cycle(&ps), 48);
	assert_int_equal(dg_pushslot_join_slots(&ps), 16);
	ps.rank = 31;
	assert_int_equal(dg_pushslot_next(&ps, start + 80 * len), start + (80 + 31) * len);
	/* a registration long ago costs the walk nothing: 30 million slots later (a year) */
	ps.now_ms = start + 30000000 * len;
	assert_int_equal(dg_pushslot_cycle(&ps), 48);
	ps.rank = 5;
	assert_true(dg_pushslot_next(&ps, ps.now_ms) - ps.now_ms < 48 * len);
}

/*
 * Join slots lent to the members (0.16.2): while the queue is empty each
 * join slot is one member's, never a slot another member owns, and the
 * members get them in turn; dg_pushslot_next_lent finds a member's first
 * slot, its own or lent, and never one of somebody else's.
 */
static void test_chain_lent(void **state DG_UNUSED)
{
	int64_t len = dg_pushslot_len_ms(60), from = 999900, to = 1001000;

	/* 10 members registered long ago: cycles of 10 + 3 rounded to 14, 4 join slots each */
	for (size_t i = 0; i < 10; i++)
		fleet[i] = 100000 + (int64_t)i;
	for (int fleets = 0; fleets < 21; fleets++) {
		size_t n = fleets ? make_fleet(48, (uint32_t)fleets) : 10, used[1100] = { 0 }, lent_to[48] = { 0 };
		struct dg_pushslot ps = { .budget = 60, .members = n, .joined = fleet };

		for (size_t r = 0; r < n; r++) {
			ps.rank = r;
			for (int64_t k = from; k < to; k++) {
				bool lent = dg_pushslot_lent_to_us(&ps, k * len);

				used[k - from] += lent || dg_pushslot_next(&ps, k * len) == k * len;
				lent_to[r] += lent;
				/* a lent slot is a join slot: a newcomer's, were the queue not empty */
				if (lent) {
					ps.rank = n;
					assert_int_equal(dg_pushslot_next(&ps, k * len), k * len);
					ps.rank = r;
				}
			}
			/* the first slot that is ours, own or lent, and nothing of ours before it */
			for (int64_t at = from * len; at < (to - 200) * len; at += 7 * len + 3) {
				int64_t next = dg_pushslot_next_lent(&ps, at), k = next / len;

				assert_int_equal(next % len, 0);
				assert_true(next >= at && next <= dg_pushslot_next(&ps, at));
				assert_true(next == dg_pushslot_next(&ps, next) || dg_pushslot_lent_to_us(&ps, next));
				for (int64_t j = (at + len - 1) / len; j < k; j++)
					assert_false(dg_pushslot_lent_to_us(&ps, j * len));
			}
		}
		/* every slot is one node's at most: the budget holds as before */
		for (int64_t k = from; k < to; k++) {
			ps.rank = n;
			assert_true(used[k - from] <= 1);
			/* with the members all counted, every join slot is lent to one of them */
			if (!fleets && dg_pushslot_next(&ps, k * len) == k * len)
				assert_int_equal(used[k - from], 1);
		}
		/* in turn: 1,100 slots hold ~78 cycles of 4 join slots, ~31 for each of the 10 */
		for (size_t r = 0; !fleets && r < n; r++)
			assert_true(lent_to[r] >= 29 && lent_to[r] <= 34);
	}
	/* a newcomer borrows nothing */
	{
		struct dg_pushslot ps = { .budget = 60, .members = 10, .rank = 10, .joined = fleet };

		for (size_t i = 0; i < 10; i++)
			fleet[i] = 100000 + (int64_t)i;
		for (int64_t k = from; k < from + 100; k++)
			assert_false(dg_pushslot_lent_to_us(&ps, k * len));
		assert_int_equal(dg_pushslot_next_lent(&ps, from * len), dg_pushslot_next(&ps, from * len));
	}
}

/* The claimer that slot k is used by in a view: its own slot, or lent to it; n: nobody's. */
static size_t user_of(struct dg_pushslot *ps, size_t n, int64_t k)
{
	int64_t len = dg_pushslot_len_ms(ps->budget);
	size_t who = n, rank = ps->rank;

	for (size_t r = 0; r < n; r++) {
		if (!ps->claims[r])
			continue;
		ps->rank = r;
		if (dg_pushslot_lent_to_us(ps, k * len) || dg_pushslot_next(ps, k * len) == k * len) {
			assert_int_equal(who, n);   /* one claimer a slot at most */
			who = r;
		}
	}
	ps->rank = rank;
	return who;
}

/*
 * A drained grid's slots lent to the members that hold claims (0.16.4):
 * each slot is one claimer's - its own, or a join slot or a slot of a
 * member that holds none - every claimer gets an even part, nobody else
 * borrows, and a view that no longer counts a claimer (it reported)
 * differs from one that does only in that claimer's slots: the others'
 * slots stay theirs, so two claimers never take one slot.
 */
static void test_chain_lent_to_claimers(void **state DG_UNUSED)
{
	int64_t len = dg_pushslot_len_ms(60), from = 999900, to = 1001000;
	bool claims[10] = { false }, fewer[10];
	struct dg_pushslot ps = { .budget = 60, .members = 10, .joined = fleet, .claims = claims };
	size_t lent_to[10] = { 0 };

	/* 10 members registered long ago: cycles of 14, 4 join slots each; 4 of them hold claims */
	for (size_t i = 0; i < 10; i++)
		fleet[i] = 100000 + (int64_t)i;
	claims[1] = claims[4] = claims[5] = claims[8] = true;
	memcpy(fewer, claims, sizeof(fewer));
	fewer[4] = false;
	for (int64_t k = from; k < to; k++) {
		size_t who = user_of(&ps, 10, k), then;

		/* every slot is a claimer's: nothing goes unused */
		assert_true(who < 10);
		for (size_t r = 0; r < 10; r++) {
			ps.rank = r;
			lent_to[r] += dg_pushslot_lent_to_us(&ps, k * len);
		}
		/* member 4 reported: its slots go to others, nobody else's move */
		ps.claims = fewer;
		then = user_of(&ps, 10, k);
		ps.claims = claims;
		assert_true(then < 10 && then != 4);
		if (who != 4)
			assert_int_equal(then, who);
	}
	/* nobody that holds no claim borrows; the claimers alike: 1,100 slots, 4 x ~79 their own, ~196 lent to each */
	for (size_t r = 0; r < 10; r++) {
		if (!claims[r])
			assert_int_equal(lent_to[r], 0);
		else
			assert_true(lent_to[r] >= 150 && lent_to[r] <= 250);
	}
	/* the first slot that is ours, own or lent, and nothing of ours before it */
	ps.rank = 5;
	for (int64_t at = from * len; at < (to - 200) * len; at += 7 * len + 3) {
		int64_t next = dg_pushslot_next_lent(&ps, at), k = next / len;

		assert_true(next >= at && next <= dg_pushslot_next(&ps, at));
		for (int64_t j = (at + len - 1) / len; j < k; j++)
			assert_false(dg_pushslot_lent_to_us(&ps, j * len));
		assert_true(k - (at + len - 1) / len < 14);
	}
	/* a claimer alone takes every slot */
	memset(claims, 0, sizeof(claims));
	claims[7] = true;
	for (int64_t k = from; k < from + 100; k++)
		assert_int_equal(user_of(&ps, 10, k), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_length),
		cmocka_unit_test(test_cycle_rounding),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_join_moves_nobody),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_budget_holds),
		cmocka_unit_test(test_chain_owners),
		cmocka_unit_test(test_chain_join_moves_nobody),
		cmocka_unit_test(test_chain_settles),
		cmocka_unit_test(test_chain_lent),
		cmocka_unit_test(test_chain_lent_to_claimers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
