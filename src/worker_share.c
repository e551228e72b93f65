/*
 * worker_share.c - a budget grid member's part of a queue that its cycle
 * drains (doc/protocol.md, "Batches").
 *
 * Members claim in rank order through a cycle, and each takes its part of
 * what is queued at its turn: shared with the members after it in the
 * cycle, so that every member gets an equal part of the queue as the cycle
 * began. Until 0.16.13 every member ranked after us counted, and two kinds
 * of them take nothing: one that joined in this cycle (its first turn
 * comes in the next), and one that holds what keeps it busy until its next
 * turn (a first batch, sized before any task had run). Their parts stayed
 * queued for a whole cycle, and the first members of the next one took
 * them a task each: bench-budget's 8-worker runs ended so, 5 tasks left at
 * 31 s for the next cycle, claimed at 41-46 s, while the members that had
 * split the rest ran dry at 33-38 s. Now the part is water-filled: the
 * members after us whose turn comes before our next one are counted, each
 * with room for what our own batch would be less the claims it holds on
 * main, and we take the level at which the queue fills that room.
 */
#include "pushslot.h"
#include "worker_int.h"

static int by_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The level s at which s + the sum of min(room[i], s) reaches queued, rounded up. */
static size_t water_level(size_t queued, size_t *room, size_t n)
{
	size_t left = queued, open = n + 1;

	qsort(room, n, sizeof(*room), by_size);
	for (size_t i = 0; i < n; i++) {
		/* a member with less room than the level takes all of its room */
		if (room[i] * open >= left)
			break;
		left -= room[i];
		open--;
	}
	return (left + open - 1) / open;
}

/* The members after us whose turn comes before our next one: their ranks into after, how many. */
static size_t members_after_us(const struct worker *w, size_t *after)
{
	int64_t turn = dg_pushslot_last(&w->slot, dg_wall_ms()), ours;
	size_t later = 0;

	/* from the slot of this turn (or our last one) to our next */
	turn = turn >= 0 ? turn : dg_wall_ms();
	ours = dg_pushslot_next(&w->slot, turn + 1);
	for (size_t r = w->slot.rank + 1; r < w->slot.members; r++) {
		struct dg_pushslot them = w->slot;

		them.rank = r;
		if (dg_pushslot_next(&them, turn + 1) < ours)
			after[later++] = r;
	}
	return later;
}

size_t dg_worker_cycle_share(const struct worker *w, size_t queued, size_t batch)
{
	size_t n = w->slot.members, later, share, *after, *held;

	if (!queued)
		return 0;
	if (w->slot.rank >= n)   /* a newcomer pushes after the members: it counts itself with all of them */
		return (queued + n) / (n + 1);
	/*
	 * A queue that outlasts the cycle even shared with every member
	 * ranked after us: the batch bounds the claim, and counting fewer
	 * members only raises the part. No walk of the schedule then, at
	 * every claim of a long queue.
	 */
	share = (queued + n - w->slot.rank - 1) / (n - w->slot.rank);
	if (share >= batch)
		return share;
	after = dg_xcalloc(n, sizeof(*after));
	later = members_after_us(w, after);
	share = (queued + later) / (later + 1);
	/* a queue that outlasts the cycle among those: the plain part (the batch bounds the claim anyway) */
	if (share < batch && w->slot_ids_nr == n) {
		held = dg_xcalloc(n, sizeof(*held));
		if (dg_worker_claims_by_rank(w, held) == 0) {
			/* each one's room: a batch like ours, less what it holds */
			for (size_t i = 0; i < later; i++)
				after[i] = held[after[i]] < batch ? batch - held[after[i]] : 0;
			share = water_level(queued, after, later);
		}
		free(held);
	}
	free(after);
	return share;
}
