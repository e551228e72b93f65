/*
 * test_pushslot.c - the push schedule: no two members in one slot, every
 * member once per cycle, newcomers only in join slots, and never more
 * pushes in any 60 s than the budget when every node pushes at every slot
 * it may use (the worst case the schedule allows).
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
	/* a fleet arriving: recent joins add join slots, never more than the members */
	assert_int_equal(dg_pushslot_join_slots(&(struct dg_pushslot){ .budget = 60, .members = 32, .joining = 10 }), 19);
	assert_int_equal(dg_pushslot_join_slots(&(struct dg_pushslot){ .budget = 60, .members = 4, .joining = 10 }), 6);
	assert_int_equal(dg_pushslot_cycle_ms(&(struct dg_pushslot){ .budget = 60, .members = 4, .joining = 10 }),
			 10 * dg_pushslot_len_ms(60));
}

/* Member r pushes at slots r, r + C, r + 2C ...; a newcomer at slots n .. C - 1 (C = n + J). */
static void test_owners(void **state DG_UNUSED)
{
	struct dg_pushslot ps = { .budget = 60, .members = 5 };
	int64_t len = dg_pushslot_len_ms(60), cycle = 5 + (int64_t)dg_pushslot_joins(5);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_length),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_budget_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
