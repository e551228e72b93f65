/*
 * advice_measure.c - dg_advice_measure (advice.h): the figures the advice
 * judges, from a loaded grid and one walk of main's recent history. No
 * fetch of its own: callers measure what they have just loaded.
 */
#include "advice.h"
#include "error.h"
#include "grid.h"
#include "pushslot.h"
#include "store.h"
#include "store_window.h"

#define SLOTS_MAX 4096

/*
 * The walk stops on every path at the first commit older than the window
 * (store_window.h): its cost is what the window holds, whatever main's age.
 */
static int count_pushes(struct dg_advice_figures *fig, struct dg_store *store, int64_t now)
{
	struct dg_store_window w;
	int ret = dg_store_count_since(&w, store, now - DG_ADVICE_WINDOW, DG_ADVICE_WALK_MAX);

	if (ret < 0)
		return ret;
	fig->window_seconds = DG_ADVICE_WINDOW;
	fig->span_seconds = DG_ADVICE_WINDOW;
	fig->pushes = w.commits;
	fig->pushes_at_least = w.capped;
	if (w.reached || w.capped)
		return 0;
	/* every path ended at a root inside the window: a new grid, or compacted */
	fig->history_begins = true;
	fig->span_seconds = w.commits ? now - w.oldest : 0;
	if (fig->span_seconds < 0)
		fig->span_seconds = 0;
	if (fig->span_seconds > DG_ADVICE_WINDOW)
		fig->span_seconds = DG_ADVICE_WINDOW;
	return 0;
}

static size_t claims_of(const struct dg_grid *grid, const char *node)
{
	size_t n = 0;

	for (size_t i = 0; i < grid->running.nr; i++) {
		const char *owner = json_string_value(json_object_get(grid->running.items[i].doc, "node_id"));
		n += owner && !strcmp(owner, node);
	}
	return n;
}

static size_t slots_of(const json_t *registration)
{
	const json_t *v = json_object_get(registration, "slots");
	json_int_t s = json_is_integer(v) ? json_integer_value(v) : 1;

	return s < 1 ? 1 : s > SLOTS_MAX ? SLOTS_MAX : (size_t)s;
}

/*
 * Registered: a nodes/ID.json. Members: those whose registration does not
 * say it stopped, nor, on a push budget's grid, was written longer than
 * slot_keep_seconds ago (active_at: the push schedule's members,
 * pushslot.h; without a budget nobody writes active_at again, and 0.14.9
 * called every registration older than that dormant). The fetch budget's
 * sharers: the members, and the dormant weighed as the workers weigh
 * them. Active: members whose heartbeat says neither stopped nor stale;
 * without heartbeats (leases) a silent member counts as active.
 */
static void count_nodes(struct dg_advice_figures *fig, const struct dg_grid *grid)
{
	unsigned keep = fig->push_budget ? grid->policy.slot_keep_seconds : 0;

	for (size_t i = 0; i < grid->nodes_nr; i++) {
		const struct dg_grid_node *n = &grid->nodes[i];
		int64_t active;
		size_t slots, claims;

		if (!n->registration)
			continue;
		fig->registered++;
		if (json_is_string(json_object_get(n->registration, DG_NODE_STOPPED_KEY)))
			continue;
		active = dg_parse_utc(json_string_value(json_object_get(n->registration, DG_NODE_ACTIVE_KEY)));
		fig->poll_shares += dg_pushslot_fetch_weight(active, grid->now, keep);
		if (dg_pushslot_dormant(active, grid->now, keep))
			continue;
		fig->members++;
		if (n->liveness == DG_NODE_STOPPED || n->liveness == DG_NODE_STALE)
			continue;
		fig->active++;
		slots = slots_of(n->registration);
		claims = claims_of(grid, n->node_id);
		fig->slots += slots;
		fig->free_slots += claims < slots ? slots - claims : 0;
		fig->idle += !claims;
	}
}

int dg_advice_measure(struct dg_advice_figures *fig, struct dg_store *store,
		      const struct dg_grid *grid, const char *repo_url)
{
	int ret;

	memset(fig, 0, sizeof(*fig));
	fig->push_budget = dg_policy_push_budget(&grid->policy, repo_url);
	fig->fetch_budget = dg_policy_fetch_budget(&grid->policy, repo_url);
	fig->claim_batch_max = grid->policy.claim_batch_max;
	fig->queued = grid->queue.nr;
	fig->running = grid->running.nr;
	count_nodes(fig, grid);
	if ((ret = count_pushes(fig, store, grid->now)) < 0) {
		dg_error_prefix("cannot count the pushes on main");
		return ret;
	}
	return 0;
}
