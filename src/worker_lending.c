/*
 * worker_lending.c - a drained grid's slots, lent to the members that hold
 * claims (pushslot.h, dg_pushslot_next_lent; doc/protocol.md, "Lent join
 * slots" and "Slots lent to the members that hold claims").
 *
 * Nobody joins a grid whose queue is empty (a newcomer joins only with a
 * claim), and a member that holds no claim there has nothing to push: the
 * join slots and such members' slots are lent to the members that still
 * hold claims - which on a drained grid means results to report. Who holds
 * claims is read from the claims on main (tasks/in_progress), so every
 * member with a fresh view lends alike; a view that still counts a member
 * that reported since lends that member's slots to it, which pushes not.
 *
 * Here: whether we may borrow (we hold our last report and our view's
 * queue is empty), the claims our view holds, by the members' ranks (also
 * what a short queue's part is sized by: worker_share.c), and whether a
 * lent slot was used already.
 */
#include "common.h"
#include "layout.h"
#include "store.h"
#include "worker_int.h"

#include <jansson.h>

/*
 * A drained grid's claims are its members' last batches: a few per member.
 * Past this many they are not counted (dg_worker_claims_by_rank): our view
 * lends as 0.16.2 did (join slots, every member in turn), and a claim
 * takes the plain part of the queue (worker_share.c), rather than read
 * them all at every look.
 */
#define CLAIMS_READ_MAX 4096

/* A member with results (or hand-backs) to push and nothing left to run: its batch's last report. */
static bool holds_last_report(const struct worker *w)
{
	return w->budget && w->slot.joined && w->slot.rank < w->slot.members && (w->pending_nr || w->requeue_nr) &&
	       !w->jobs_nr && !w->backlog_nr;
}

/*
 * Whether we may push in the slots lent to the members (pushslot.h, since
 * 0.16.2): our view's queue is empty, so no newcomer joins (a join comes
 * with a claim), and we hold results to report and nothing left to run -
 * the last report of our batch, which waited a whole cycle for our slot
 * before: bench-budget's runs ended 10-20 s after their last task finished
 * (8 and 32 workers at a budget of 60), the members' cycle of 12-28 slots,
 * of which the join slots nobody used were the larger part. A submission
 * that lands meanwhile may bring a newcomer into a slot lent to us, or a
 * claim of a member into its own: one of the two pushes loses, and the
 * budget's headroom takes it.
 */
bool dg_worker_borrows(const struct worker *w)
{
	return holds_last_report(w) && w->queue_drained;
}

/*
 * Our view is as old as our last turn or look: a member that holds its
 * last report looks at the branch between its turns, as a busy one does
 * for cancellations - to see the queue run dry (others claim its last
 * tasks after our turn: a batch's surplus that went back, say), and,
 * since 0.16.4, the others report: each that does lends us more slots.
 */
bool dg_worker_looks_for_lent(const struct worker *w)
{
	return holds_last_report(w);
}

bool dg_worker_slot_lent(const struct worker *w, int64_t slot_ms)
{
	return dg_worker_borrows(w) && dg_pushslot_lent_to_us(&w->slot, slot_ms);
}

static int tip_when(int64_t when, const char *summary DG_UNUSED, void *payload)
{
	*(int64_t *)payload = when;
	return 1;
}

/*
 * A lent slot is used once. Its borrower's report takes it out of the
 * claimers, and a view read after that push lands gives the slot to the
 * runner-up, which then pushed in it too (bench-budget, 32 workers: two
 * slots used twice in one run). So a slot in which main's tip was made
 * (commit time, whole seconds, as a registration's stamp is judged) is
 * taken: we wait for our next.
 */
bool dg_worker_lent_slot_used(struct worker *w, int64_t slot_ms)
{
	int64_t when = -1;

	dg_store_history(w->store, 1, tip_when, &when);
	return when >= 0 && when * 1000 + 999 >= slot_ms;
}

void dg_worker_slot_ids_release(struct worker *w)
{
	for (size_t i = 0; i < w->slot_ids_nr; i++)
		free(w->slot_ids[i]);
	w->slot_ids_nr = 0;
}

struct claim_count {
	const struct worker *w;
	size_t *held;   /* by rank */
	size_t seen;
};

/* Counts a claim for its node's rank; a claim we cannot read, or of no member, counts for nobody. */
static int count_claim(const struct dg_entry *e, void *payload)
{
	struct claim_count *c = payload;
	struct dg_strbuf data = DG_STRBUF_INIT;
	const char *node;
	json_t *doc;

	if (!e->is_file || !dg_layout_is_task_name(e->name))
		return 0;
	if (++c->seen > CLAIMS_READ_MAX)
		return 1;
	if (dg_store_read(c->w->store, e->path, &data) < 0)
		return 0;
	doc = json_loadb(data.buf, data.len, 0, NULL);
	node = json_string_value(json_object_get(doc, "node_id"));
	for (size_t r = 0; node && r < c->w->slot_ids_nr; r++) {
		if (!strcmp(c->w->slot_ids[r], node)) {
			c->held[r]++;
			break;
		}
	}
	json_decref(doc);
	dg_strbuf_release(&data);
	return 0;
}

int dg_worker_claims_by_rank(const struct worker *w, size_t *held)
{
	struct claim_count c = { w, held, 0 };

	memset(held, 0, w->slot_ids_nr * sizeof(*held));
	return dg_layout_walk_store(w->store, DG_DIR_RUNNING, count_claim, &c) == 0 ? 0 : -1;
}

void dg_worker_lent_look(struct worker *w)
{
	size_t *held;

	w->queue_drained = w->budget && dg_worker_queue_empty(w);
	w->slot.claims = NULL;
	if (!dg_worker_borrows(w) || w->slot_ids_nr != w->slot.members)
		return;
	DG_ALLOC_GROW(w->slot_claims, w->slot_ids_nr + 1, w->slot_claims_alloc);
	memset(w->slot_claims, 0, w->slot_ids_nr * sizeof(*w->slot_claims));
	/*
	 * Our report is for claims of ours, on main as the others see it -
	 * unless they were reaped meanwhile (a lease lapsed): then the others
	 * lend our slot away, and we take no lent slot either, as they do not
	 * count us; our own slot we may then share with its borrower, one
	 * push lost in a rare case, as with a submission (pushslot.h).
	 */
	held = dg_xcalloc(w->slot_ids_nr + 1, sizeof(*held));
	if (dg_worker_claims_by_rank(w, held) == 0) {
		for (size_t r = 0; r < w->slot_ids_nr; r++)
			w->slot_claims[r] = held[r] > 0;
		w->slot.claims = w->slot_claims;
	}
	free(held);
}
