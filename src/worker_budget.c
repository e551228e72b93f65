/*
 * worker_budget.c - the worker's side of the push budget (pushslot.h,
 * doc/protocol.md "Push budget"): when it may push, and how many tasks one
 * push claims; and the part of the fetch budget that no count covers (the
 * idle that never claimed). Without a budget every function here says
 * "now" and "your free slots", so the worker behaves as before.
 */
#include "config.h"
#include "grid.h"
#include "layout.h"
#include "log.h"
#include "pushslot.h"
#include "worker_int.h"

/*
 * Without a budget, a crowded grid's batch holds at most this much
 * measured work a slot. 20 s since 0.16.8: with 10 s, 32 workers on
 * 2-second tasks claimed and reported 3-5 at a time, and 81-89 of their
 * 197-211 pushes lost at the host (doc/scaling.md, "0.16.8").
 */
#define CROWD_WORK_MS 20000
/*
 * Until a task has run here, a claim takes at most this many a slot: its
 * fair share counts only the workers that have joined so far, and a first
 * batch of long tasks would keep them from those that join later (8
 * workers, budget 60: the first claimer took 64 two-second tasks when
 * claim_batch_max became 64 - 134 s where 87 s had been enough). 16, not
 * 8: 32 workers' fair share of 320 is 10, and a first claim of 8 left
 * tasks for a second cycle (286 s against 232 s).
 */
#define FIRST_CLAIM_MAX 16
/* a crowded grid's lease allows this many turns per registered node, at most CROWD_LEASE_MAX s */
#define CROWD_LEASE_TURNS 10
#define CROWD_LEASE_MAX 600
/* how long a lost race counts as contention for leases (ms) */
#define CROWD_MEMORY_MS (10 * 60 * 1000)
/* an idle worker nobody counts polls a fetch budget's grid every this part of the time the queue was empty */
#define UNSEEN_POLL_QUIET_PARTS 4
/* and at least this often (ms) */
#define UNSEEN_POLL_MAX_MS (5 * 60 * 1000)
/* without a budget, a crowded grid's finished result waits at most this long for others to share its push (ms) */
#define CROWD_REPORT_WAIT_MAX_MS 20000

/* every registration is read again at least this often (ms): keys learnt meanwhile judge "stopped" anew */
#define MEMBERS_KEEP_MS 60000
/* late join turns in a row after which a newcomer pushes late anyway (dg_worker_join_late) */
#define JOIN_LATES_MAX 3

struct members {
	struct dg_store *store;
	const char *me;
	int64_t now;                      /* Unix s: dormant judged at (dg_pushslot_dormant) */
	unsigned keep;                    /* slot_keep_seconds */
	bool me_join_ref;
	char me_joined_at[32];
	size_t n;
	struct dg_pushslot_member *m;   /* ids allocated */
};

static void add_member(struct members *m, const char *id, size_t id_len, int64_t registered)
{
	m->m = dg_xrealloc(m->m, (m->n + 1) * sizeof(*m->m));
	m->m[m->n].registered = registered > 0 ? registered : 0;
	m->m[m->n].id = dg_xstrndup(id, id_len);
	m->n++;
}

/*
 * Since 0.14.9 a registration says when its node last wrote it
 * (active_at), and a member refreshes it in a push it makes anyway
 * (dg_worker_slot_keep_due). A node that died without stopping - killed,
 * its machine off, its container gone - used to keep its push slot for
 * good, and a grid's cycle grew with every such death: at github.com's
 * budget of 6, each dead member adds ~12 s to every live member's wait.
 * One silent for slot_keep_seconds is no member now; a live one that
 * was merely idle joins again with its next claim, like a newcomer.
 * A registration written before 0.14.9 has no active_at and stays one
 * (dg_pushslot_dormant).
 */
static int64_t utc_or_zero(const char *at)
{
	int64_t t = at ? dg_parse_utc(at) : 0;

	return t > 0 ? t : 0;
}

/* What the schedule reads of one registration's bytes. */
static void parse_registration(struct worker *w, const char *path, struct seen_registration *r)
{
	struct dg_strbuf data = DG_STRBUF_INIT;

	if (dg_store_read(w->store, path, &data) == 0) {
		json_t *doc = json_loadb(data.buf, data.len, 0, NULL);

		w->registrations_read++;
		r->stopped = json_is_string(json_object_get(doc, DG_NODE_STOPPED_KEY));
		/* a forged "stopped" frees no slot */
		if (r->stopped && w->nodekeys) {
			struct dg_strbuf why = DG_STRBUF_INIT;

			r->stopped = dg_nodekeys_judge(w->nodekeys, doc, r->id, &why) != DG_VERDICT_FORGED;
			dg_strbuf_release(&why);
		}
		r->stopped_at = r->stopped ? utc_or_zero(json_string_value(json_object_get(doc, DG_NODE_STOPPED_KEY))) : 0;
		r->registered = utc_or_zero(json_string_value(json_object_get(doc, "registered_at")));
		r->active = utc_or_zero(json_string_value(json_object_get(doc, DG_NODE_ACTIVE_KEY)));
		json_decref(doc);
	}
	dg_strbuf_release(&data);
}

struct reading {
	struct worker *w;
	struct seen_registration *old;   /* the last reading, in the tree's order; NULL: read every file */
	size_t old_nr, at;
	struct seen_registration *v;
	size_t nr, alloc;
};

static void release_registrations(struct seen_registration *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].id);
	free(v);
}

/* Node ids in the tree's order of their files: "a-b.json" before "a.json". */
static int file_order(const char *a, const char *b)
{
	char x[320], y[320];

	snprintf(x, sizeof(x), "%s.json", a);
	snprintf(y, sizeof(y), "%s.json", b);
	return strcmp(x, y);
}

/* One registration: as the last reading had it if its bytes are the same, else read. */
static int read_registration(const struct dg_entry *e, void *payload)
{
	struct reading *rd = payload;
	size_t len = strlen(e->name);
	struct seen_registration *r;
	char blob[41];

	if (!e->is_file || len <= 5 || strcmp(e->name + len - 5, ".json"))
		return 0;
	dg_entry_id(e, blob);
	DG_ALLOC_GROW(rd->v, rd->nr + 1, rd->alloc);
	r = &rd->v[rd->nr++];
	memset(r, 0, sizeof(*r));
	r->id = dg_xstrndup(e->name, len - 5);
	snprintf(r->blob, sizeof(r->blob), "%s", blob);
	/* both readings list the tree in its order: one pass */
	while (rd->at < rd->old_nr && file_order(rd->old[rd->at].id, r->id) < 0)
		rd->at++;
	if (blob[0] && rd->at < rd->old_nr && !strcmp(rd->old[rd->at].id, r->id) &&
	    !strcmp(rd->old[rd->at].blob, blob)) {
		r->stopped = rd->old[rd->at].stopped;
		r->stopped_at = rd->old[rd->at].stopped_at;
		r->registered = rd->old[rd->at].registered;
		r->active = rd->old[rd->at].active;
		return 0;
	}
	parse_registration(rd->w, e->path, r);
	return 0;
}

/*
 * A join ref counts while main holds no registration of its node as new
 * as itself: once the node's registration reached main, main says it (and
 * says when it stopped); a join ref left from an older life counts no more.
 * A dormant node that joins again does so by a newer join, too; a join
 * whose own active_at is old (its node died before its claim landed) is
 * dormant like a registration.
 */
static int count_join(const char *name, int64_t when DG_UNUSED, const char *data, size_t len, void *payload)
{
	struct members *m = payload;
	const char *id = name + strlen(DG_JOIN_REF_PREFIX);
	json_t *doc = json_loadb(data, len, 0, NULL), *main_doc = NULL;
	struct dg_strbuf path = DG_STRBUF_INIT, on_main = DG_STRBUF_INIT;
	const char *at = json_string_value(json_object_get(doc, "registered_at"));
	int64_t registered = at ? dg_parse_utc(at) : 0;

	if (!strcmp(id, m->me)) {
		m->me_join_ref = true;
		if (at)
			snprintf(m->me_joined_at, sizeof(m->me_joined_at), "%s", at);
	}
	dg_strbuf_addf(&path, "nodes/%s.json", id);
	if (!dg_store_read(m->store, path.buf, &on_main))
		main_doc = json_loadb(on_main.buf, on_main.len, 0, NULL);
	if (json_is_object(doc) && !json_is_string(json_object_get(doc, DG_NODE_STOPPED_KEY)) && dg_node_id_valid(id) &&
	    !dg_pushslot_dormant(utc_or_zero(json_string_value(json_object_get(doc, DG_NODE_ACTIVE_KEY))), m->now, m->keep)) {
		const char *main_at = json_string_value(json_object_get(main_doc, "registered_at"));
		int64_t main_active = utc_or_zero(json_string_value(json_object_get(main_doc, DG_NODE_ACTIVE_KEY)));
		bool main_gone = json_is_string(json_object_get(main_doc, DG_NODE_STOPPED_KEY)) ||
				 dg_pushslot_dormant(main_active, m->now, m->keep);
		if (!main_doc || (main_gone && main_at && dg_parse_utc(main_at) < registered))
			add_member(m, id, strlen(id), registered);
	}
	json_decref(main_doc);
	json_decref(doc);
	dg_strbuf_release(&path);
	dg_strbuf_release(&on_main);
	return 0;
}

/* The last DG_PUSHSLOT_JOIN_SPREAD slots, or the time since we started if shorter (one slot at least). */
static int64_t joins_window_ms(const struct worker *w, unsigned budget)
{
	int64_t ms = dg_wall_ms() - w->snap.started_at;

	if (ms > dg_pushslot_join_spread_ms(budget))
		ms = dg_pushslot_join_spread_ms(budget);
	return ms > dg_pushslot_len_ms(budget) ? ms : dg_pushslot_len_ms(budget);
}

void dg_worker_budget_forget(struct worker *w)
{
	release_registrations(w->regs, w->regs_nr);
	w->regs = NULL;
	w->regs_nr = w->regs_live = 0;
	w->members_tree[0] = '\0';
	free(w->slot_joined);
	w->slot_joined = NULL;
	w->slot_joined_alloc = 0;
	w->slot.joined = NULL;
	dg_worker_slot_ids_release(w);
	free(w->slot_ids);
	w->slot_ids = NULL;
	w->slot_ids_alloc = 0;
	free(w->slot_claims);
	w->slot_claims = NULL;
	w->slot_claims_alloc = 0;
	w->slot.claims = NULL;
}

/*
 * Main's registrations (read_registration), kept in w->regs. The tree is
 * listed again only when the nodes/ tree changed (a registration, a stop,
 * a member's refreshed active_at), and then only the files whose bytes
 * changed are read; every file again once MEMBERS_KEEP_MS passed. A grid
 * keeps the registration of every node that ever joined, and reading them
 * all twice a turn made a turn's cost grow with the grid's history.
 */
static void read_main_members(struct worker *w)
{
	char tree[41] = "";
	int64_t now = dg_now_ms();
	bool have = dg_store_tree_id(w->store, "nodes", tree) == 0;
	bool all = now - w->members_read_ms >= MEMBERS_KEEP_MS;
	struct reading rd = { w, NULL, 0, 0, NULL, 0, 0 };

	if (have && !strcmp(tree, w->members_tree) && !all)
		return;
	if (!all) {
		rd.old = w->regs;
		rd.old_nr = w->regs_nr;
	}
	if (have)
		dg_store_list(w->store, "nodes", read_registration, &rd);
	release_registrations(w->regs, w->regs_nr);
	w->regs = rd.v;
	w->regs_nr = rd.nr;
	w->regs_live = 0;
	w->members_me_on_main = false;
	w->me_active = 0;
	for (size_t i = 0; i < rd.nr; i++) {
		w->regs_live += !rd.v[i].stopped;
		if (!strcmp(rd.v[i].id, w->me)) {
			w->members_me_on_main = true;
			w->me_active = rd.v[i].stopped ? 0 : rd.v[i].active;
		}
	}
	snprintf(w->members_tree, sizeof(w->members_tree), "%s", have ? tree : "");
	if (all)
		w->members_read_ms = now;
}

/*
 * A stop frees its node's slot DG_PUSHSLOT_STOP_KEEP_SLOTS after its
 * stopped_at, not at once. Leaving the schedule moves every slot once
 * (the chain is computed again without the registration), and at the end
 * of a run the members stop one after another while the others still
 * wait for their slots to report: bench-budget at 32 workers, a member
 * whose last results waited through those stops reported 61 s after its
 * push before, where the others took one cycle (~33 s), and set the run's
 * end. Our own old registration keeps nothing: a node started again
 * joins as a newcomer, as before.
 */
static bool stop_keeps_slot(const struct worker *w, const struct seen_registration *r, int64_t now)
{
	int64_t keep_ms = DG_PUSHSLOT_STOP_KEEP_SLOTS * dg_pushslot_len_ms(w->budget);
	int64_t ago_ms = (now - r->stopped_at) * 1000;

	/* a stamp ahead of our clock by more than the keep (a clock far off) keeps nothing, not a slot for as long */
	return r->stopped_at > 0 && ago_ms < keep_ms && -ago_ms < keep_ms && strcmp(r->id, w->me);
}

/*
 * The members main's registrations give, into m: not stopped (or stopped
 * lately, stop_keeps_slot), nor dormant (counted); and the idle polls'
 * sharers, into w (dg_pushslot_fetch_weight).
 */
static size_t main_members(struct worker *w, struct members *m)
{
	size_t silent = 0;

	read_main_members(w);
	w->poll_shares = 0;
	for (size_t i = 0; i < w->regs_nr; i++) {
		const struct seen_registration *r = &w->regs[i];

		if (r->stopped) {
			if (stop_keeps_slot(w, r, m->now))
				add_member(m, r->id, strlen(r->id), r->registered);
			continue;
		}
		w->poll_shares += dg_pushslot_fetch_weight(r->active, m->now, m->keep);
		if (dg_pushslot_dormant(r->active, m->now, m->keep))
			silent++;
		else
			add_member(m, r->id, strlen(r->id), r->registered);
	}
	return silent;
}

/*
 * Without a push budget there is no schedule, but the idle polls are
 * shared all the same (worker.c, idle_poll_ms): each registration that
 * does not say it stopped weighs dg_pushslot_fetch_weight, as on a budget
 * grid, and so does our own. Up to 0.14.10 nobody refreshed active_at
 * here and every such registration weighed 1 for good: beside 300 nodes
 * that were killed, a live idle worker polled once a minute (the idle
 * share's cap) however long ago they died. Members now refresh it in the
 * pushes they make anyway (dg_worker_slot_keep_due); an idle one writes
 * nothing, goes silent, and polls the less often itself.
 */
static void weigh_unscheduled(struct worker *w, int64_t now, unsigned keep)
{
	w->poll_shares = 0;
	for (size_t i = 0; i < w->regs_nr; i++) {
		if (!w->regs[i].stopped)
			w->poll_shares += dg_pushslot_fetch_weight(w->regs[i].active, now, keep);
	}
	if (w->members_me_on_main && w->me_active)
		w->poll_share_me = dg_pushslot_fetch_weight(w->me_active, now, keep);
}

void dg_worker_budget_update(struct worker *w)
{
	unsigned budget = dg_policy_push_budget(&w->policy, w->repo_url);
	struct members m = { w->store, w->me, dg_wall_seconds(), w->policy.slot_keep_seconds, false, "", 0, NULL };
	size_t rank, silent, main_n;
	int64_t since;

	/*
	 * The nodes that may push, for the crowd without a budget (claims,
	 * the pace after a lost race, leases) and the fetch budget's share
	 * (worker.c): main's registrations that do not say they stopped.
	 * Up to 0.14.7 every registration counted, and a grid keeps one of
	 * every node that ever joined (a container with a fresh id leaves
	 * one each): beside 300 stopped ones a lone worker took one task in
	 * its first claim and polled once a minute (every 24 s under a fetch
	 * budget of 900).
	 */
	read_main_members(w);
	w->nodes_seen = w->regs_live;
	w->poll_shares = (double)w->regs_live;
	w->poll_share_me = 1.0;

	if (budget != w->budget)
		dg_log(DG_LOG_INFO, "node=%s event=push-budget budget=%u slot_ms=%lld", w->me, budget,
		       (long long)(budget ? dg_pushslot_len_ms(budget) : 0));
	w->budget = budget;
	if (!budget) {
		w->dormant_seen = 0;
		weigh_unscheduled(w, m.now, m.keep);
		return;
	}
	/* until a task has run here, the grid's run time sizes our claims (run_time.h) */
	if (w->task_ms_avg <= 0) {
		bool knew = w->grid_run.nr;

		dg_run_time_update(&w->grid_run, w->store, w->policy.protocol);
		if (!knew && w->grid_run.nr)
			dg_log(DG_LOG_DEBUG, "node=%s event=grid-run-time ms=%lld results=%zu", w->me,
			       (long long)dg_run_time_ms(&w->grid_run), w->grid_run.nr);
	}
	silent = main_members(w, &m);
	/* joins are members: each a whole share */
	main_n = m.n;
	dg_store_list_side(w->store, DG_JOIN_REF_PREFIX, DG_JOIN_PATH, count_join, &m);
	w->poll_shares += (double)(m.n - main_n);
	w->on_main = w->members_me_on_main;
	w->join_ref = m.me_join_ref;
	if (m.me_join_ref && m.me_joined_at[0])
		snprintf(w->joined_at, sizeof(w->joined_at), "%s", m.me_joined_at);
	rank = dg_pushslot_order(m.m, m.n, w->me);
	w->slot.budget = budget;
	w->slot.members = m.n;
	w->slot.joining = 0;
	/* the chain of cycles: each member's registration slot, in rank order (pushslot.h) */
	DG_ALLOC_GROW(w->slot_joined, m.n + 1, w->slot_joined_alloc);
	for (size_t i = 0; i < m.n; i++)
		w->slot_joined[i] = m.m[i].registered ? dg_pushslot_slot_of(budget, m.m[i].registered * 1000)
						      : DG_PUSHSLOT_UNKNOWN;
	w->slot.joined = w->slot_joined;
	w->slot.now_ms = dg_wall_ms();
	w->newest_join = 0;
	w->joins_lately = 0;
	w->joins_window_ms = joins_window_ms(w, budget);
	since = dg_wall_ms() - w->joins_window_ms;
	dg_worker_slot_ids_release(w);
	DG_ALLOC_GROW(w->slot_ids, m.n + 1, w->slot_ids_alloc);
	for (size_t i = 0; i < m.n; i++) {
		w->joins_lately += m.m[i].registered * 1000 >= since;
		w->newest_join = m.m[i].registered > w->newest_join ? m.m[i].registered : w->newest_join;
		w->slot_ids[i] = (char *)m.m[i].id;
	}
	w->slot_ids_nr = m.n;
	free(m.m);
	w->slot.rank = rank;
	/* a member polls for a whole share; a dormant one for its weight; one nobody counts, its own way */
	if (rank >= m.n && w->members_me_on_main && w->me_active)
		w->poll_share_me = dg_pushslot_fetch_weight(w->me_active, m.now, m.keep);
	/* registrations that keep no slot: dead nodes, or idle ones that join again with work */
	if (silent != w->dormant_seen)
		dg_log(DG_LOG_INFO, "node=%s event=members members=%zu rank=%zu dormant=%zu cycle=%zu", w->me,
		       m.n, rank, silent, dg_pushslot_cycle(&w->slot));
	w->dormant_seen = silent;
	if (!w->join_after_ms && w->slot.rank == m.n)
		dg_worker_budget_rejoin(w);
	dg_worker_lent_look(w);
}

/* Stops a walk at the first file. */
static int any_entry(const struct dg_entry *e, void *payload DG_UNUSED)
{
	return e->is_file && e->name[0] != '.';
}

bool dg_worker_queue_empty(struct worker *w)
{
	return dg_layout_walk_store(w->store, DG_DIR_QUEUE, any_entry, NULL) == 0;
}

/*
 * Whether our registration's active_at is to be written again: a
 * member's, a quarter of slot_keep_seconds old, in a push made anyway; or
 * (urgent) half of it while we hold work, in a push of its own in our
 * slot, so that the slot stays ours for the results to come - a task
 * that runs longer than slot_keep_seconds would otherwise report through
 * a join slot. An idle member writes nothing: it is no member after
 * slot_keep_seconds, and joins again with its next claim. A registration
 * of an older version, without active_at, gets one with our next push.
 */
bool dg_worker_slot_keep_due(const struct worker *w, bool urgent)
{
	int64_t keep = w->policy.slot_keep_seconds;

	/* without a budget no slot is kept, but the idle polls weigh active_at too (weigh_unscheduled) */
	if (!w->budget && !urgent && keep && w->members_me_on_main)
		return !w->me_active || dg_wall_seconds() - w->me_active >= keep / 4;
	if (!w->budget || !keep || w->slot.rank >= w->slot.members || !w->members_me_on_main)
		return false;
	if (urgent && !w->jobs_nr && !w->backlog_nr && !w->pending_nr)
		return false;
	if (!w->me_active)
		return !urgent;
	return dg_wall_seconds() - w->me_active >= keep / (urgent ? 2 : 4);
}

/* A member of old that the schedule no longer counts (dormant): it joins again, with its registration. */
bool dg_worker_rejoins(const struct worker *w)
{
	return w->budget && w->slot.rank >= w->slot.members && w->members_me_on_main;
}

/*
 * A member whose join landed without its claim: another newcomer's push
 * won main in that join slot, but ours to refs/dgrid/join/NODE landed
 * (doc/protocol.md, "Joining"). Its first slot comes after the rest of the
 * cycle that holds its join and its rank in the next; until 0.16.4 it
 * waited for that slot with nothing to run (bench-budget, 32 workers at a
 * budget of 60: 3 of 14 joins so, idle 14, 20 and 40 s while 100 and more
 * tasks were queued). Holding nothing, it now claims in a join slot as it
 * did as a newcomer (a random one, standing back when another node
 * registered in it, never late), or in its own slot if that comes first:
 * a push in a join slot, as a newcomer's would be, so the budget holds as
 * before. Joins that come thick do not hold it back, nor does a lost slot
 * double its wait: such members are a few, and with the newcomers' rules
 * they still waited 12-32 s (dg_worker_budget_rejoin).
 */
bool dg_worker_unclaimed_join(const struct worker *w)
{
	return w->budget && w->slot.joined && w->slot.rank < w->slot.members && w->join_ref && !w->on_main &&
	       dg_worker_holds_nothing(w);
}

/* The start of the join slot an unclaimed join takes at or after not_before; -1: its own slot comes first. */
static int64_t unclaimed_join_slot(const struct worker *w, int64_t not_before)
{
	struct dg_pushslot as_newcomer = w->slot;
	int64_t own = dg_pushslot_next(&w->slot, not_before), join;

	as_newcomer.rank = w->slot.members;
	join = dg_pushslot_next(&as_newcomer, w->join_after_ms > not_before ? w->join_after_ms : not_before);
	return join < own ? join : -1;
}

/* A newcomer's join slot: after a random part of spread, at a random point of the slot's first half. */
static void pick_join_slot(struct worker *w, int64_t spread)
{
	w->join_after_ms = dg_wall_ms() + arc4random_uniform((uint32_t)(spread < INT32_MAX ? spread : INT32_MAX) + 1);
	/*
	 * Newcomers whose waits end between two join slots all take the next
	 * one, and at its start they fetched the same tip: all but one lost
	 * the race after sending their pack, which the host counts as a push
	 * (bench-budget: 74 of 170 pushes at 32 workers). Each pushes at a
	 * random point of the slot's first half instead; one that finds
	 * another newcomer registered in this slot stands back
	 * (dg_worker_join_taken) and pushes nothing.
	 */
	w->join_jitter_ms = arc4random_uniform((uint32_t)(dg_pushslot_len_ms(w->budget ? w->budget : 1) / 2));
	w->slot.join_pick = arc4random();
}

/*
 * A newcomer waits a random part of the join spread; each join slot lost to
 * another newcomer doubles the spread (up to 8 times), so that many that
 * start together collide less instead of retrying together. An unclaimed
 * join does not double it: such members are a few, it has a slot of its own
 * to fall back on, and a doubled wait outlasted the one for that slot (21
 * and 32 s in a 32-worker run, against 14-40 s with no join slot at all).
 */
void dg_worker_budget_rejoin(struct worker *w)
{
	int64_t spread = dg_pushslot_join_spread_ms(w->budget ? w->budget : 1);

	if (dg_worker_unclaimed_join(w)) {
		pick_join_slot(w, spread);
		return;
	}
	if (w->join_after_ms)
		w->join_losses++;
	pick_join_slot(w, spread << (w->join_losses < 3 ? w->join_losses : 3));
}

/*
 * A newcomer stands back from its join slot (and waits twice as long) when
 * another node registered in it, or when joins came thick lately: as many
 * as half the join slots of the last DG_PUSHSLOT_JOIN_SPREAD slots (or of
 * those since we started, if fewer). A fleet started at once cannot know
 * its own size, and a push that loses still counts against the budget:
 * 64 workers spread over the first 10 slots made ~6 pushes a slot, one of
 * which won: 86-90 pushes in the busiest minute at a budget of 60, 79-83
 * with this rule (bench-budget; on 2 loaded cores a push takes 2-3 s,
 * longer than two slots, so the first-come check above misses most of
 * them). Joins that fill the join slots mean more are waiting. A newcomer
 * on a quiet grid sees no recent join and pushes in its slot.
 */
bool dg_worker_join_taken(const struct worker *w)
{
	int64_t len, slot_start;
	double join_slots;

	if (!w->budget || !w->newest_join)
		return false;
	len = dg_pushslot_len_ms(w->budget);
	slot_start = dg_wall_ms() / len * len;
	if (w->slot.rank < w->slot.members &&
	    !(dg_worker_unclaimed_join(w) && dg_pushslot_is_join(&w->slot, slot_start)))
		return false;
	/*
	 * registered_at has whole seconds: one stamped in the second this
	 * slot started may be ours to lose. Standing back costs a wait; a
	 * push that loses costs the budget.
	 */
	if (w->newest_join * 1000 + 999 >= slot_start) {
		dg_log(DG_LOG_DEBUG, "node=%s event=join-stood-back why=slot-taken", w->me);
		return true;
	}
	join_slots = (double)w->joins_window_ms / (double)len * (double)dg_pushslot_join_slots(&w->slot) /
		     (double)dg_pushslot_cycle(&w->slot);
	/* an unclaimed join is no newcomer: it does not add to the crowd that joins */
	if (!w->joins_lately || (double)w->joins_lately < join_slots / 2 || w->slot.rank < w->slot.members)
		return false;
	dg_log(DG_LOG_DEBUG, "node=%s event=join-stood-back why=joins-thick joins_lately=%zu join_slots=%.1f", w->me,
	       w->joins_lately, join_slots);
	return true;
}

/*
 * A newcomer whose turn outlasted the join slot it woke for (slot_ms, its
 * start) does not push: it takes another join slot, a random part of the
 * join spread on, and its lateness counts as no loss (since 0.16.3). The
 * join slots of a cycle are contiguous, so until then one whose fetch
 * took seconds on a busy host still found itself in a join slot - and so
 * did the others delayed alike: four newcomers that woke for four join
 * slots pushed in one, 1.6-5.3 s late, the claims of three lost, and
 * those three waited 30 s as members with nothing to run (bench-budget,
 * 32 workers; 5-8 such joins of 13-14 a run). A host slower than a slot
 * in every turn would keep a newcomer out for good: the fourth late turn
 * in a row pushes, as before.
 */
bool dg_worker_join_late(struct worker *w, int64_t slot_ms)
{
	int64_t len, now = dg_wall_ms();

	if (!w->budget || !slot_ms)
		return false;
	if (w->slot.rank < w->slot.members && !(dg_worker_unclaimed_join(w) && dg_pushslot_is_join(&w->slot, slot_ms)))
		return false;
	len = dg_pushslot_len_ms(w->budget);
	if (now < slot_ms + len || w->join_lates >= JOIN_LATES_MAX) {
		w->join_lates = 0;
		return false;
	}
	w->join_lates++;
	dg_log(DG_LOG_DEBUG, "node=%s event=join-late late_ms=%lld", w->me, (long long)(now - slot_ms));
	pick_join_slot(w, dg_pushslot_join_spread_ms(w->budget));
	return true;
}

int64_t dg_worker_next_push(const struct worker *w)
{
	int64_t len, not_before;

	if (!w->budget)
		return 0;
	/* the slot we are in, if it is ours, else the next one of ours */
	len = dg_pushslot_len_ms(w->budget);
	not_before = dg_wall_ms() - len + 1;
	if (w->next_push_ms > not_before)
		not_before = w->next_push_ms;
	if (w->slot.rank >= w->slot.members && w->join_after_ms > not_before)
		not_before = w->join_after_ms;
	if (w->slot.rank >= w->slot.members && w->crumbs_next_ms > not_before)
		not_before = w->crumbs_next_ms;
	if (w->slot.rank >= w->slot.members)
		return dg_pushslot_next(&w->slot, not_before) + w->join_jitter_ms;
	if (dg_worker_unclaimed_join(w)) {
		int64_t join = unclaimed_join_slot(w, not_before);

		if (join >= 0)
			return join + w->join_jitter_ms;
	}
	if (dg_worker_borrows(w))
		return dg_pushslot_next_lent(&w->slot, not_before);
	return dg_pushslot_next(&w->slot, not_before);
}

/* The last slot lent to us that started at or before now, after our last push, a few slots back at most; -1: none. */
static int64_t last_lent(const struct worker *w)
{
	int64_t len = dg_pushslot_len_ms(w->budget), k = dg_wall_ms() / len * len;

	for (int back = 0; back < 4 && k >= w->next_push_ms; back++, k -= len)
		if (dg_pushslot_lent_to_us(&w->slot, k))
			return k;
	return -1;
}

int64_t dg_worker_turn_slot(const struct worker *w)
{
	int64_t at = dg_worker_next_push(w);

	if (w->slot.rank >= w->slot.members)
		return at - w->join_jitter_ms;
	if (dg_worker_unclaimed_join(w) && unclaimed_join_slot(w, at - w->join_jitter_ms) == at - w->join_jitter_ms)
		return at - w->join_jitter_ms;
	/* a slot ended since the loop looked: the one it woke for is the last before now */
	if (at > dg_wall_ms()) {
		int64_t last = dg_pushslot_last(&w->slot, dg_wall_ms()), lent = dg_worker_borrows(w) ? last_lent(w) : -1;
		last = lent > last ? lent : last;
		at = last >= 0 ? last : at;
	}
	return at;
}

bool dg_worker_slot_ours(const struct worker *w, int64_t slot_ms)
{
	if (dg_worker_unclaimed_join(w) && dg_pushslot_is_join(&w->slot, slot_ms))
		return true;
	return dg_worker_slot_lent(w, slot_ms) || dg_pushslot_next(&w->slot, slot_ms) == slot_ms;
}

bool dg_worker_may_push(const struct worker *w)
{
	return !w->budget || dg_wall_ms() >= dg_worker_next_push(w);
}

void dg_worker_budget_used(struct worker *w)
{
	if (w->budget)
		w->next_push_ms = dg_wall_ms() + 1;
}

/*
 * A task's run time as we know it: the mean of those that ran here (until
 * one did, the grid's: run_time.h), or longer if a running one has run
 * longer already (a lower bound on its own). 0: nothing known yet.
 */
static int64_t run_ms_known(const struct worker *w)
{
	int64_t known = w->task_ms_avg > 0 ? w->task_ms_avg : dg_run_time_ms(&w->grid_run), now = dg_wall_ms();

	for (size_t i = 0; i < w->jobs_nr; i++) {
		if (w->jobs[i].started_ms > 0 && now - w->jobs[i].started_ms > known)
			known = now - w->jobs[i].started_ms;
	}
	return known;
}

/*
 * A newcomer's wait for its first turn as a member, if it joins now: the
 * schedule with our registration added (stamped now, ranked after
 * everybody) says where our first slot falls - a join counts from
 * DG_PUSHSLOT_JOIN_LAG_MS after its stamp, in the cycle after the one
 * that holds that moment. Until 0.16.1 a newcomer took a cycle for it:
 * joined while a fleet arrived, it waited 33-56 s where a cycle was 24 s.
 * Without the chain (0.14.12's schedule), a cycle.
 */
static int64_t until_first_turn_ms(const struct worker *w)
{
	struct dg_pushslot as_member = w->slot;
	int64_t cycle = dg_pushslot_cycle_ms(&w->slot), now = dg_wall_ms(), next, *joined;

	if (!w->slot.joined)
		return cycle;
	joined = dg_xcalloc(w->slot.members + 1, sizeof(*joined));
	memcpy(joined, w->slot.joined, w->slot.members * sizeof(*joined));
	joined[w->slot.members] = dg_pushslot_slot_of(w->slot.budget, dg_wall_seconds() * 1000);
	as_member.joined = joined;
	as_member.members = w->slot.members + 1;
	as_member.rank = w->slot.members;
	as_member.now_ms = now;
	next = dg_pushslot_next(&as_member, now + 1) - now;
	free(joined);
	return next < cycle ? cycle : next < 3 * cycle ? next : 3 * cycle;
}

/*
 * Until our next turn, as the schedule says now: a member's next slot
 * after the one it is in, which lies further than a cycle when a longer
 * one follows (joins) - up to two cycles; a newcomer's first as a member.
 */
static int64_t until_next_turn_ms(const struct worker *w)
{
	int64_t cycle = dg_pushslot_cycle_ms(&w->slot), now = dg_wall_ms(), next;

	if (w->slot.rank >= w->slot.members)
		return until_first_turn_ms(w);
	next = dg_pushslot_next(&w->slot, now + 1) - now;
	return next < cycle ? cycle : next < 2 * cycle ? next : 2 * cycle;
}

/*
 * With a budget: what keeps our slots busy until our next turn at the run
 * time we know. Until a task has run here or on the grid (run_time.h),
 * FIRST_CLAIM_MAX a slot, or less once a running task outlasts that (one
 * task a slot left a first-time worker idle for a whole cycle: 2 s of
 * work, then 48 s waiting at 32 workers and a budget of 60).
 */
static size_t cycle_want(const struct worker *w)
{
	size_t slots = w->opts->cfg.slots, first = (size_t)FIRST_CLAIM_MAX * slots, want;
	int64_t until = until_next_turn_ms(w), known = run_ms_known(w);

	if (known <= 0)
		return first;
	want = (size_t)((until + known - 1) / known) * slots;
	return w->task_ms_avg > 0 || w->grid_run.nr || want < first ? want : first;
}

/*
 * Without a budget: the free slots when we work alone. On a crowded grid
 * (other registered workers, or races lost: dg_worker_contention) up to
 * one task a slot per worker, never more than CROWD_WORK_MS of measured
 * work a slot (until a task has run here: a fair share of the queue among
 * the crowd) nor claim_batch_max, so that more workers mean more tasks per
 * push and not more pushes. With a budget: what keeps our slots busy
 * until our next push (the cycle over the tasks' mean run time, measured
 * on this node; until a task has run here, FIRST_CLAIM_MAX a slot), never
 * more than a fair share of the queue nor claim_batch_max.
 */
size_t dg_worker_claim_want(const struct worker *w, size_t queued)
{
	size_t slots = w->opts->cfg.slots, held = w->jobs_nr + w->backlog_nr, want = slots;

	/* quick tasks on a busy branch that an earlier node carries: report, and stand aside */
	if (dg_worker_yields_quick_tasks(w, queued))
		return 0;
	if (!w->budget) {
		size_t cap = w->policy.claim_batch_max > slots ? w->policy.claim_batch_max : slots;
		size_t per_slot = w->crowd > w->nodes_seen ? w->crowd : w->nodes_seen;
		/* at most CROWD_WORK_MS of measured work a slot: a batch never hoards long tasks */
		size_t work = w->task_ms_avg > 0 ? (size_t)(CROWD_WORK_MS / w->task_ms_avg) : 1;
		/*
		 * Tasks quicker than one of our turns (fetch, step, push): a
		 * turn's worth a slot. Another worker could not start them
		 * sooner than we run them, and each push it saves is a race
		 * nobody has to lose (bench-collapse.sh, trivial tasks).
		 */
		size_t per_turn = w->task_ms_avg > 0 && w->turn_ms_avg > 0 ? (size_t)(w->turn_ms_avg / w->task_ms_avg) : 0;
		per_slot = per_turn > per_slot ? per_turn : per_slot;
		/*
		 * Until a task has run here, a fair share of the queue among
		 * the crowd: the registered nodes and ourselves, or as many as
		 * our lost races suggest (registrations ride on first claims,
		 * so early on they undercount). One task a claim made every
		 * newcomer of a crowded grid win a race per task (32 workers:
		 * 40 s of one-task claims before the first batch).
		 */
		if (w->task_ms_avg <= 0 && queued) {
			size_t crowd = w->nodes_seen + !w->registered;
			crowd = crowd > w->crowd ? crowd : w->crowd;
			work = queued / (crowd ? crowd : 1);
			work = work < FIRST_CLAIM_MAX ? work : FIRST_CLAIM_MAX;
		}
		per_slot = per_slot < work ? per_slot : work;
		want = slots * (per_slot ? per_slot : 1);
		want = want < cap ? want : cap;
		return held < want ? want - held : 0;
	}
	want = cycle_want(w);
	if (want > w->policy.claim_batch_max)
		want = w->policy.claim_batch_max;
	if (want < slots)
		want = slots;
	/*
	 * The share bounds what we take from the queue, not what we hold
	 * (since 0.16.2): until then a member still running a task took
	 * nothing from a queue of one or two (its share, 1, was no more than
	 * it held), and the queue's last tasks waited for a member that held
	 * nothing - the last of the cycle, or a cycle later (bench-budget, 8
	 * workers: one task queued from 37 s to 50 s of a 57 s run).
	 */
	{
		size_t top_up = held < want ? want - held : 0, free = held < slots ? slots - held : 0;
		size_t share;

		/*
		 * With a budget, members push in rank order through a cycle: we share
		 * what is queued now with ourselves and the members after us in this
		 * cycle (those before us took theirs already), so that every member
		 * gets an equal part of the queue as the cycle began. Sharing with all
		 * members at every push shrank the queue by only e a cycle: at
		 * GitHub's budget of 6, the last 100 of 1,000 tasks took 12 minutes,
		 * claims of 6, 5, 4 ... 1 a cycle of 280 s (bench-budget, 10 workers).
		 * A newcomer, which pushes after the members, counts itself with all
		 * of them. Since 0.16.13 the members after us count with the room
		 * they have (worker_share.c).
		 */
		share = dg_worker_cycle_share(w, queued, want);

		/* a free slot may always take a task (and adopt one of ours: an adoption is no claim from the queue) */
		share = share > free ? share : free;
		return top_up < share ? top_up : share;
	}
}

/*
 * With a budget: how many of our backlog's tasks (claimed, not started)
 * go back to the queue: what we hold beyond what our claim would take
 * now holding nothing, and a task a slot to spare (so that a claim and
 * the next give-back never undo each other). A claim is sized before we
 * know what it holds: a first one at FIRST_CLAIM_MAX a slot, before any
 * task ran here (a task that has run longer than our next turn is away
 * tells enough: long tasks go back before the first one ends), and any
 * one for a turn that then comes sooner. Kept, the surplus ran here in a
 * row while other workers found the queue empty (bench-budget, 8 workers
 * and 40 tasks of 20 s: the first joiner ran 16 of them for 320 s, and
 * the run took 335 s where the work was 100 s a worker; given back,
 * 169 s). It goes to the members after us in the cycle, and to newcomers.
 */
size_t dg_worker_backlog_surplus(const struct worker *w)
{
	size_t held = w->jobs_nr + w->backlog_nr, keep;

	if (!w->budget || w->stopping || !w->backlog_nr)
		return 0;
	keep = cycle_want(w) + w->opts->cfg.slots;
	if (held <= keep)
		return 0;
	return held - keep < w->backlog_nr ? held - keep : w->backlog_nr;
}

/* A newcomer keeps a look at the queue an eighth of a cycle after the one before at the least. */
static void keep_queue_look(struct worker *w, size_t queued, int64_t now)
{
	const struct queue_look *newest = NULL;

	if (w->queue_looks_nr)
		newest = &w->queue_looks[(w->queue_looks_next + DG_QUEUE_LOOKS - 1) % DG_QUEUE_LOOKS];
	if (!newest || now - newest->ms >= dg_pushslot_cycle_ms(&w->slot) / 8) {
		w->queue_looks[w->queue_looks_next] = (struct queue_look){ .ms = now, .queued = queued };
		w->queue_looks_next = (w->queue_looks_next + 1) % DG_QUEUE_LOOKS;
		w->queue_looks_nr += w->queue_looks_nr < DG_QUEUE_LOOKS;
	}
}

/*
 * How many tasks the members claim in a cycle, as a newcomer saw it: how
 * much the queue shrank since its newest look at least a cycle old, scaled
 * to one cycle (0: no look that old, or the queue did not shrink). Records
 * this look too, an eighth of a cycle after the one before at the least,
 * so that the looks kept span two cycles.
 */
static size_t members_take_a_cycle(struct worker *w, size_t queued, int64_t now)
{
	int64_t cycle = dg_pushslot_cycle_ms(&w->slot);
	const struct queue_look *then = NULL;
	size_t taken = 0;

	for (size_t k = 1; k <= w->queue_looks_nr; k++) {
		const struct queue_look *l = &w->queue_looks[(w->queue_looks_next + DG_QUEUE_LOOKS - k) % DG_QUEUE_LOOKS];

		if (now - l->ms >= cycle) {
			then = l;
			break;
		}
	}
	if (then && then->queued > queued)
		taken = (size_t)((double)(then->queued - queued) * (double)cycle / (double)(now - then->ms));
	keep_queue_look(w, queued, now);
	return taken;
}

static int count_queued(const struct dg_entry *e, void *payload)
{
	*(size_t *)payload += e->is_file && dg_layout_is_task_name(e->name);
	return 0;
}

/*
 * A newcomer that stands back from its join slot (dg_worker_join_taken)
 * takes no step; until 0.15.2 it kept no look at the queue then, so that
 * early in a run, while joins came thick, some had no look a cycle old
 * when the queue grew short, and joined for crumbs after all (two and
 * five such joins in two of three bench-budget runs at 32 workers,
 * doc/scaling.md, 0.15.1). It counts the queue at the tip it fetched, as
 * its step would have.
 */
void dg_worker_join_stood_back(struct worker *w)
{
	size_t queued = 0;

	if (!w->budget || w->slot.rank < w->slot.members)
		return;
	if (dg_layout_walk_store(w->store, DG_DIR_QUEUE, count_queued, &queued) == 0)
		keep_queue_look(w, queued, dg_wall_ms());
}

/*
 * A newcomer does not join for crumbs: tasks the members take within their
 * next cycle anyway. A join costs two pushes (the claim and its report),
 * makes every member's cycle a slot longer for the rest of the run, and
 * counts towards the join slots of the cycles to come (j); and under the
 * chained cycles its own first turn as a member comes a cycle and more
 * after its join, so it reports no sooner than the members would. So it
 * stands aside while the queue holds no more than there are members, or
 * no more than the members took in the last cycle (since 0.15.1):
 * bench-budget at 32 workers and a budget of 60 ended with 7 to 11 such
 * late joins of one to six tasks each (0.15.0; the members' cycle grew
 * from 24 to 32 slots, and the last of those joiners reported 67 s after
 * its claim, after every member). Before 0.14.12 one such join in three
 * moved every member's slot as well.
 *
 * The newcomer stands aside until a whole cycle passed in which the
 * queue did not shrink: members that died keep their slots, and what they
 * would have claimed must not wait for the reaper; but a queue that
 * shrank since the last look has live members taking it. Up to 0.14.11
 * the newcomer joined after one cycle whatever it saw (32 workers: a join
 * for one task 109 s into the run, reported a cycle later, 27 s).
 */
bool dg_worker_leaves_crumbs(struct worker *w, size_t queued)
{
	int64_t now = dg_wall_ms();
	size_t taken;

	w->crumbs_next_ms = 0;
	if (!w->budget || !w->slot.members || w->slot.rank < w->slot.members || !queued) {
		w->crumbs_since_ms = 0;
		w->queue_looks_nr = w->queue_looks_next = 0;
		return false;
	}
	taken = members_take_a_cycle(w, queued, now);
	if (queued > w->slot.members && queued > taken) {
		w->crumbs_since_ms = 0;
		return false;
	}
	if (!w->crumbs_since_ms) {
		w->crumbs_since_ms = now;
		dg_log(DG_LOG_DEBUG, "node=%s event=crumbs-left queued=%zu members=%zu taken_a_cycle=%zu", w->me,
		       queued, w->slot.members, taken);
	} else if (queued < w->crumbs_queued) {
		/* the members are alive and claiming: a cycle from now again */
		w->crumbs_since_ms = now;
		dg_log(DG_LOG_DEBUG, "node=%s event=crumbs-taken queued=%zu members=%zu", w->me, queued, w->slot.members);
	}
	w->crumbs_queued = queued;
	if (now - w->crumbs_since_ms >= dg_pushslot_cycle_ms(&w->slot))
		return false;
	/*
	 * Its next look at the queue an eighth of a cycle on, no sooner: the
	 * looks it keeps are that far apart anyway (keep_queue_look). Until
	 * 0.16.3 it took a turn - a fetch - at every join slot: 18 newcomers
	 * left crumbs to 14 members and the git daemon served 10 fetches a
	 * second, 68 % of them the newcomers' (bench-budget, 32 workers).
	 */
	w->crumbs_next_ms = now + dg_pushslot_cycle_ms(&w->slot) / 8;
	return true;
}

unsigned dg_worker_cycle_seconds(const struct worker *w)
{
	/* a newcomer's cycle once it is a member: this one, or one with a member more */
	struct dg_pushslot more = { .budget = w->slot.budget, .members = w->slot.members + 1 };
	int64_t ms;

	if (!w->budget)
		return 0;
	ms = dg_pushslot_cycle_ms(&w->slot);
	if (w->slot.rank >= w->slot.members && dg_pushslot_cycle_ms(&more) > ms)
		ms = dg_pushslot_cycle_ms(&more);
	return (unsigned)((ms + 999) / 1000);
}

/*
 * Without a budget, contention sizes the claims: each race lost doubles
 * the tasks a claim takes per slot, up to claim_batch_max, and each push
 * won at the first try takes one off. More workers then mean more tasks
 * per push rather than more pushes per task, so a grid does not get slower
 * as workers are added (issue 11, "no collapse"). The extra tasks wait in
 * the backlog, under leases that cover the wait (worker_step.c).
 */
void dg_worker_contention(struct worker *w, bool lost)
{
	unsigned slots = w->opts->cfg.slots ? w->opts->cfg.slots : 1;
	unsigned max = w->policy.claim_batch_max / slots, crowd = w->crowd ? w->crowd : 1;

	if (w->budget)
		return;
	if (lost)
		w->contended_until = dg_now_ms() + CROWD_MEMORY_MS;
	if (lost)
		crowd = crowd * 2 < max ? crowd * 2 : (max ? max : 1);
	else if (crowd > 1)
		crowd--;
	if (crowd != (w->crowd ? w->crowd : 1))
		dg_log(DG_LOG_DEBUG, "node=%s event=crowd claims_per_slot=%u", w->me, crowd);
	w->crowd = crowd;
}

/*
 * How long a finished result waits, while tasks still run here, for
 * others to share its push: --batch-ms (300 ms) on a quiet grid or a
 * budget grid (whose slots batch already); without a budget, while we
 * lose races (CROWD_MEMORY_MS), the nodes that push x our turn. Each push
 * there is a turn of the branch that the others wait for: 32 workers on
 * 2-second tasks that reported each result on its own made 1.1 tasks a
 * push, lost 264 races at the host and ran 4 tasks a second
 * (bench-collapse.sh with `sleep 2` tasks). Claims top up what a worker
 * holds (dg_worker_claim_want), so a report that carries several results
 * also claims several.
 *
 * Or, when that is longer, until our backlog is down to its last task a
 * slot (its measured work, less a turn for the push): the report and the
 * claims it carries land while that task runs. Since 0.16.8; before, the
 * crowd x turn made 5-6 s where 12 nodes pushed, reports of 3.5 results,
 * and 32 workers on 320 such tasks made 197-211 pushes, 81-89 of them
 * lost at the host, in 96-108 s (76-89 s since, 107-143 pushes).
 *
 * At most CROWD_REPORT_WAIT_MAX_MS, and what the lease leaves: a lease
 * outlives its task's timeout by lease_margin, so the wait takes a tenth
 * of lease_margin (the rest is for the races after it) and the part of
 * the timeout the task left unused (slack_ms).
 */
int64_t dg_worker_report_wait_ms(const struct worker *w, int64_t slack_ms)
{
	int64_t ms = (int64_t)w->opts->batch_ms, nodes = (int64_t)dg_worker_crowd_nodes(w), crowd, lease, backlog;
	int64_t turn = dg_worker_branch_turn_ms(w), slots = w->opts->cfg.slots ? w->opts->cfg.slots : 1;

	if (w->budget || dg_now_ms() >= w->contended_until || nodes < 2)
		return ms;
	crowd = nodes * turn;
	backlog = (int64_t)w->backlog_nr * (w->task_ms_avg > 0 ? w->task_ms_avg : 0) / slots - turn;
	crowd = backlog > crowd ? backlog : crowd;
	crowd = crowd < CROWD_REPORT_WAIT_MAX_MS ? crowd : CROWD_REPORT_WAIT_MAX_MS;
	lease = (int64_t)w->policy.lease_margin * 100 + (slack_ms > 0 ? slack_ms : 0);
	crowd = crowd < lease ? crowd : lease;
	return crowd > ms ? crowd : ms;
}

/*
 * Without a budget, how long a live worker may lose races before its
 * report lands: CROWD_LEASE_TURNS of our own turns per registered node, at
 * most CROWD_LEASE_MAX, while we lose races ourselves (a quiet grid keeps
 * its leases short, and its dead workers' tasks come back soon). A claim's
 * lease adds it (what its owner sees when it claims), and so does our
 * reaper before it calls a lease lapsed (what it sees now: the owner may
 * have claimed before the crowd arrived).
 */
unsigned dg_worker_crowd_seconds(const struct worker *w)
{
	uint64_t s;

	if (w->budget || w->nodes_seen < 2 || dg_now_ms() >= w->contended_until)
		return 0;
	s = (uint64_t)w->nodes_seen * (uint64_t)(w->turn_ms_avg > 0 ? w->turn_ms_avg : 0) *
	    CROWD_LEASE_TURNS / 1000;
	return s < CROWD_LEASE_MAX ? (unsigned)s : CROWD_LEASE_MAX;
}

void dg_worker_queue_seen(struct worker *w, bool empty)
{
	w->queue_seen_empty = empty;
	if (!empty)
		w->queue_empty_since = 0;
	else if (!w->queue_empty_since)
		w->queue_empty_since = dg_now_ms();
}

/*
 * The fetch budget is shared by the registered nodes (worker.c,
 * idle_poll_ms), but a worker registers with its first claim - on a grid
 * with a push budget, github.com's default, never before - so a fleet
 * that waits for work is counted by nobody, and each of its workers
 * polled as if alone, every PULL_INTERVAL: on github.com 150 of them
 * would use the whole 900 a minute (t0376 shows 6 under a budget of 30).
 * A worker cannot count those it never sees, so each waits
 * the longer the queue has been empty: a quarter of that time, at most 5
 * minutes. A submission after a long quiet still finds the registered
 * polling at their share, and the unseen within a quarter of the quiet;
 * once the grid has been still for 20 minutes, n of them make n/5
 * fetches a minute - the sixth of github.com's budget that the registered
 * leave free holds 750.
 */
int64_t dg_worker_unseen_poll_ms(struct worker *w)
{
	int64_t ms;

	if (!w->queue_empty_since || !dg_policy_fetch_budget(&w->policy, w->repo_url) ||
	    dg_worker_branch_registered(w))
		return 0;
	ms = (dg_now_ms() - w->queue_empty_since) / UNSEEN_POLL_QUIET_PARTS;
	return ms < UNSEEN_POLL_MAX_MS ? ms : UNSEEN_POLL_MAX_MS;
}

/* Our weight; 1 until a look said otherwise (a member's, or a budget-less grid's). */
static double share_me(const struct worker *w)
{
	return w->poll_share_me > 0 ? w->poll_share_me : 1.0;
}

double dg_worker_idle_crowd(const struct worker *w)
{
	double me = share_me(w);

	return (w->poll_shares > me ? w->poll_shares : me) / me;
}

/*
 * 72 s x the sharers / budget: the sharers' polls together make five
 * sixths of the budget, and a sixth stays free for the busy, which fetch
 * between tasks, and for the unseen (dg_worker_unseen_poll_ms). Each
 * sharer weighs dg_pushslot_fetch_weight and polls in proportion: a
 * registration silent ten times slot_keep_seconds counts a tenth, and its
 * worker, if alive, polls ten times less often than a member - but at
 * least every UNSEEN_POLL_MAX_MS, like the unseen. Up to 0.14.9 every
 * live registration was a whole share, and beside 300 of nodes that died
 * a member polled github.com every 24 s (300 x 80 ms) however long ago
 * they died.
 */
int64_t dg_worker_fetch_share_ms(const struct worker *w, unsigned budget)
{
	double ms = 72000.0 * dg_worker_idle_crowd(w) / (budget ? budget : 1);

	if (share_me(w) < 1.0 && ms > UNSEEN_POLL_MAX_MS)
		ms = UNSEEN_POLL_MAX_MS;
	return (int64_t)ms;
}
