/*
 * worker.c - the worker's life: start-up, the event loop and shutdown
 * (what ended jobs become is worker_jobs.c). One thread owns the store
 * (libgit2) and the jobs; signals arrive stamped, through a pipe from a
 * thread of their own (stopsignal.h); the loop sleeps in poll() until a
 * task's output or exit, a signal, or the next deadline (fetch,
 * heartbeat, reap, batch, task timeout).
 */
#include "error.h"
#include "grid.h"
#include "http.h"
#include "layout.h"
#include "log.h"
#include "reaper.h"
#include "stopsignal.h"
#include "version.h"
#include "worker_int.h"

#include <git2.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define MAX_POLLFDS (1 + 3 * 256)
#define WORKER_GIT_CACHE_BYTES (1 << 20)
/* the longest wait after a lost race without a budget (lease_margin is 60 s by default) */
#define CONTENTION_WAIT_MAX_MS 20000
/* the longest wait after a lost race of a worker that only wanted to claim (ms) */
#define CLAIM_WAIT_MAX_MS 15000
/* a crowded grid's idle poll, without a fetch budget, at most (ms) */
#define IDLE_CROWD_MAX_MS 10000
/* without a fetch budget, the idle of a grid together look about this many times a PULL_INTERVAL */
#define IDLE_LOOKS_PER_INTERVAL 4
/* and each at least once in this long (ms), however many they are */
#define IDLE_SHARE_MAX_MS 60000
/* an unseen idle worker's quiet looks double its poll up to this (ms), or PULL_INTERVAL if longer */
#define UNSEEN_IDLE_MAX_MS 16000

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Full-jitter backoff for a remote that keeps failing: up to 60 s. */
static int64_t net_backoff_ms(unsigned failures)
{
	unsigned cap = 500u << (failures < 7 ? failures : 7);

	if (cap > 60000)
		cap = 60000;
	return 250 + arc4random_uniform(cap);
}

static char *spool_dir_for(const struct dg_worker_opts *o, const char *me)
{
	const char *env = getenv("DGRID_SPOOL");
	const char *cache = getenv("DGRID_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (o->spool_dir)
		return dg_xstrdup(o->spool_dir);
	if (env && *env)
		return dg_xstrdup(env);
	if (cache && *cache)
		return dg_xasprintf("%s/spool-%s", cache, me);
	if (xdg && *xdg)
		return dg_xasprintf("%s/dgrid/spool-%s", xdg, me);
	return dg_xasprintf("%s/.cache/dgrid/spool-%s", home && *home ? home : "/tmp", me);
}

static void on_signal(struct worker *w, int sigfd)
{
	struct dg_stopsignal si;

	while (dg_stopsignal_next(sigfd, &si) > 0) {
		if (si.signo == SIGHUP)
			continue;
		if (!w->stopping) {
			w->stopping = true;
			w->stop_signal_at = si.at_ms;
			w->stop_deadline = si.at_ms + (int64_t)w->opts->grace_seconds * 1000;
			/* an idle worker's next look may be a minute away: its stop mark goes now */
			w->next_step = 0;
			dg_log(DG_LOG_INFO, "node=%s event=stopping signal=%d running=%zu grace=%us",
			       w->me, si.signo, w->jobs_nr, w->opts->grace_seconds);
		} else if (si.at_ms - w->stop_signal_at >= 1000) {
			/*
			 * A second signal: no more grace. One that arrived
			 * within a second of the first is the same request
			 * delivered twice (stopsignal.h), not a second request.
			 */
			w->stop_deadline = dg_now_ms();
		}
	}
}

static const char *state_of(const struct worker *w)
{
	if (w->stopping)
		return "stopping";
	return w->jobs_nr ? "busy" : "idle";
}

static int count_entry(const struct dg_entry *e, void *payload)
{
	if (e->is_file && e->name[0] != '.')
		(*(size_t *)payload)++;
	return 0;
}

/*
 * Without any budget, the idle share PULL_INTERVAL only among the
 * registered (below), and a worker registers with its first claim: the
 * rest of a fleet that started together, which lost the race to
 * register, is counted by nobody and polled every PULL_INTERVAL each: 32
 * idle workers, 27 or 28 of them unregistered, made 29 upload-pack
 * connections a second, three quarters of a core of the host's 2
 * (doc/scaling.md, "0.16.6"). Such a worker cannot count the others like
 * it, so each look that finds the branch where it left it doubles its
 * wait, up to UNSEEN_IDLE_MAX_MS; anything that moves starts it over
 * (t0366). Only while
 * a live registered node polls for the grid at its own share (nodes_seen;
 * the registered go first, worker_branch.c), and not on a push budget's
 * grid, whose newcomers look for their join slots (idle_look_ms).
 */
static bool unseen_idle(struct worker *w)
{
	return !w->budget && w->nodes_seen && dg_worker_holds_nothing(w) && !dg_worker_branch_registered(w);
}

/* the wait before jitter (logged as event=unseen-idle poll_ms) */
static int64_t unseen_idle_mean_ms(struct worker *w, int64_t ms)
{
	unsigned doublings = w->quiet_looks < 8 ? w->quiet_looks : 8;

	return unseen_idle(w) ? min64(ms << doublings, max64(ms, UNSEEN_IDLE_MAX_MS)) : ms;
}

/*
 * Jittered over half to one and a half times the wait: the same looks on
 * average, out of step. A fleet that starts together loses the race to
 * register together and looked together after it; with a jitter of a
 * tenth the 7 unregistered of 8 warm workers still looked within 1.6 s
 * of each other every 16 s, so for the rest of each wait only the one
 * registered worker looked, and the crowd noticed a submission no sooner
 * than a worker alone: 8.3 s after it in one run, claims at a median of
 * 5.8 s for 8 workers and 5.95 s for 32 against 5.4 s alone
 * (bench-collapse.sh WARM=1, PULL_INTERVAL=10; doc/scaling.md "0.16.14").
 */
static int64_t unseen_idle_ms(struct worker *w, int64_t ms)
{
	if (!unseen_idle(w))
		return ms;
	ms = unseen_idle_mean_ms(w, ms);
	return ms / 2 + arc4random_uniform((uint32_t)ms + 1);
}

/*
 * How long an idle worker waits before it polls again: PULL_INTERVAL, or
 * longer on a grid of several workers, or when the grid has a fetch
 * budget (dgrid.json "fetch_budget", 900 a minute on github.com). The
 * registered nodes share the budget, so each polls every 72 s x nodes /
 * budget (dg_worker_fetch_share_ms): a sixth of it stays free for
 * workers that have work and fetch between tasks. Without one they share
 * PULL_INTERVAL: each looks every nodes / IDLE_LOOKS_PER_INTERVAL
 * intervals (at most once a minute), so that the grid as a whole notices
 * a submission sooner than one worker alone would, and its idle cost the
 * host the same however many they are (32 registered idle workers with
 * PULL_INTERVAL=1: 4 looks a second, not 32). Only the registered count:
 * a worker registers with its first claim (doc/protocol.md), and not
 * those that say their node stopped (dg_worker_budget_update; a grid
 * keeps them all). On a push budget's grid, whose members keep active_at
 * fresh, a registration silent for longer than slot_keep_seconds counts
 * the less the longer it has been (dg_pushslot_fetch_weight), and so
 * many fewer are our own looks if it is ours ("nodes" below: how many
 * nodes' looks ours stands for). A jitter of up to 10 % keeps idle
 * workers from polling in step.
 */
static int64_t idle_poll_ms(struct worker *w)
{
	unsigned budget = dg_policy_fetch_budget(&w->policy, w->repo_url);
	int64_t ms = (int64_t)w->opts->cfg.pull_interval * 1000, share, unseen;
	double nodes = dg_worker_idle_crowd(w);

	if (!budget) {
		/*
		 * A crowded grid (a race lost lately, or a push budget, whose
		 * idle can push only at their slots anyway): the idle wait a
		 * quarter of our turn time each, so that together they fetch
		 * about four times a turn. Polling every PULL_INTERVAL, 30
		 * idle workers waiting for 2 to report made 17 fetches a
		 * second and every push took 2 s on 2 cores
		 * (bench-collapse.sh, 32 workers); under a push budget of 60,
		 * pushes longer than a slot lost their slots (bench-budget.sh).
		 */
		int64_t crowd = (int64_t)(nodes * (double)dg_worker_branch_turn_ms(w) / 4);
		bool crowded = nodes >= 2 && (w->budget || dg_now_ms() < w->contended_until);

		share = nodes >= 2 ? (int64_t)(nodes * (double)ms / IDLE_LOOKS_PER_INTERVAL) : 0;
		share = share < IDLE_SHARE_MAX_MS ? share : IDLE_SHARE_MAX_MS;
		crowd = crowded ? (crowd < IDLE_CROWD_MAX_MS ? crowd : IDLE_CROWD_MAX_MS) : 0;
		share = share > crowd ? share : crowd;
		ms = unseen_idle_ms(w, ms);
		if (share <= ms)
			return ms;
		return share + arc4random_uniform((uint32_t)(share / 10) + 1);
	}
	share = dg_worker_fetch_share_ms(w, budget);
	/* the idle that never claimed are in no count: the longer the quiet, the rarer their looks */
	unseen = dg_worker_unseen_poll_ms(w);
	if (unseen > share && unseen > ms)
		return unseen + arc4random_uniform((uint32_t)(unseen / 10) + 1);
	if (share <= ms)
		return ms;
	/* said again when it moved by a tenth: the silent's weights drift with every second */
	if (llabs(share - w->poll_ms_logged) * 10 > w->poll_ms_logged) {
		dg_log(DG_LOG_INFO, "node=%s event=poll-interval ms=%lld nodes=%zu fetch_budget=%u shares=%.2f mine=%.3f",
		       w->me, (long long)share, w->nodes_seen, budget, w->poll_shares, w->poll_share_me);
		w->poll_ms_logged = share;
	}
	return share + arc4random_uniform((uint32_t)(share / 10) + 1);
}

static void prune_node_refs(struct worker *w)
{
	size_t pruned;

	if (dg_reaper_prune(w->reaper, &pruned) < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=node-refs-prune-failed error=\"%s\"", w->me, dg_error_last());
	else if (pruned)
		dg_log(DG_LOG_INFO, "node=%s event=node-refs-pruned count=%zu", w->me, pruned);
}

/*
 * For --exit-when-idle: nothing queued and nothing running anywhere (the
 * queue was seen empty by the last step; the other members by the last
 * look at each).
 */
static bool grid_drained(struct worker *w)
{
	size_t n = 0;

	/* protocol 3 keeps claims in shards: walk them, a flat list sees none */
	/* a peek saw the branch move since our last fetch: a submission or a claim we have not read */
	if (dg_worker_branch_unfetched(w))
		return false;
	dg_layout_walk_store(w->store, DG_DIR_RUNNING, count_entry, &n);
	return n == 0 && dg_worker_members_drained(w);
}

/*
 * An --exit-when-idle worker that registered writes "stopped_at" before it
 * leaves, as one stopped by a signal does (dg_worker_stop_mark_due): a
 * batch of workers with fresh ids - CI runners, containers - otherwise
 * left a registration each that counted as a live node on a grid without
 * a push budget: whole for good until 0.14.10, a silent part of one since
 * (the idle's fetch share, the crowd that sizes claims, `dgrid status`).
 * On a budget grid the mark would wait for the worker's slot, up to a
 * cycle, while a registration left unmarked there goes dormant in
 * slot_keep_seconds anyway: it leaves at once.
 */
static bool idle_exit_marks(const struct worker *w)
{
	return !w->budget && w->registered && !w->stop_marked;
}

/*
 * Seconds between heartbeats: HEARTBEAT_INTERVAL or the policy's, but
 * never so long that the grid's node_timeout - which may change while we
 * run - could pass between two of them.
 */
static unsigned heartbeat_seconds(struct worker *w)
{
	unsigned hb = w->opts->cfg.heartbeat_interval ? w->opts->cfg.heartbeat_interval
						     : w->policy.heartbeat_interval;
	unsigned cap = w->policy.node_timeout / 3 ? w->policy.node_timeout / 3 : 1;

	if (hb > cap) {
		if (!w->hb_capped)
			dg_log(DG_LOG_WARNING, "node=%s event=heartbeat-capped interval=%u node_timeout=%u using=%u",
			       w->me, hb, w->policy.node_timeout, cap);
		w->hb_capped = true;
		return cap;
	}
	w->hb_capped = false;
	return hb;
}

/* A budget grid's node that is no member yet: it pushes only in join slots. */
static bool newcomer(const struct worker *w)
{
	return w->budget && w->slot.rank >= w->slot.members;
}

/*
 * With nothing to run or report, waiting to see the grid drained: it looks
 * between its slots. So does a newcomer, which may wait long for a join
 * slot only to find nothing left to claim - but less often, since a
 * fleet's newcomers looking every poll interval load the host while they
 * wait to join.
 */
static bool idle_looker(const struct worker *w)
{
	return w->opts->exit_when_idle && dg_worker_holds_nothing(w) && (w->queue_seen_empty || newcomer(w));
}

static int64_t idle_look_ms(struct worker *w)
{
	int64_t ms = idle_poll_ms(w), spread = dg_pushslot_join_spread_ms(w->budget ? w->budget : 1);

	return newcomer(w) && !w->queue_seen_empty && spread > ms ? spread : ms;
}

/*
 * A newcomer whose turn comes before its next idle look would: the turn
 * fetches, so the look is not needed (since 0.16.3). Looking anyway, 18
 * newcomers made as many idle looks as turns, 378 fetches in a 140 s run
 * of 32 workers (bench-budget).
 */
static bool turn_looks_first(struct worker *w)
{
	return newcomer(w) && !w->queue_seen_empty && dg_worker_next_push(w) - dg_wall_ms() < idle_look_ms(w);
}

/* network_turn fetched, and left the branch to others (worker_branch.c) */
#define TURN_STOOD_ASIDE 1
/* network_turn fetched and found nothing new: no step */
#define TURN_NOTHING_NEW 2
/* network_turn peeked, saw the branch move, and peeks again after w->peek_again_ms */
#define TURN_PEEK_AGAIN 3
/* network_turn's fresh view of the members moved the slot it woke for: it waits for the new one */
#define TURN_SLOT_MOVED 4
/* network_turn woke for a lent slot that somebody used already: it waits for its next (worker_lending.c) */
#define TURN_LENT_TAKEN 5

/*
 * Nothing to report, hand back or adopt, and the queue looked empty: a
 * turn would only look - unless a task that waited for its not_before may
 * start now although nothing changed.
 */
static bool only_looks(const struct worker *w)
{
	return !w->pending_nr && !w->requeue_nr && !w->need_adopt && w->queue_seen_empty &&
	       !(w->ready_at && dg_wall_ms() / 1000 >= w->ready_at) && !dg_worker_slot_keep_due(w, true) &&
	       !dg_worker_stop_mark_due(w);
}

/*
 * With a push budget and a fetch budget, a turn at a slot that would only
 * look, holding nothing, waits for the idle poll too (next_step). A
 * newcomer's slots are the join slots, every slot of a grid with no
 * members: 6 idle newcomers fetched at each, 300 times a minute where the
 * fetch budget was 30 (t0376). Only with a fetch budget: on t0383's grid
 * (push budget 20, none for fetches) the rule made 21 pushes in a minute
 * in two runs of four, 0.14.2 at most 18 in three.
 */
static bool slot_waits_for_poll(const struct worker *w, int64_t now)
{
	return dg_policy_fetch_budget(&w->policy, w->repo_url) && only_looks(w) && dg_worker_holds_nothing(w) &&
	       now < w->next_step;
}

/* Fetches and, unless nothing can have changed, runs the step. */
static int network_turn(struct worker *w, bool local)
{
	bool quiet = only_looks(w);
	bool reporting = w->pending_nr || w->requeue_nr;
	/* the slot this turn is for, before a fetch that may outlast it */
	int64_t slot_ms = w->budget && !local ? dg_worker_turn_slot(w) : 0;
	bool member = w->slot.rank < w->slot.members;
	int ret;

	/* at debug: which slot a member's turn is for, and the length of the cycle that holds it (t0367 reads them) */
	if (slot_ms && member && dg_log_get_level() == DG_LOG_DEBUG) {
		struct dg_pushslot then = w->slot;

		then.now_ms = slot_ms;
		dg_log(DG_LOG_DEBUG, "node=%s event=turn slot=%lld cycle=%zu", w->me,
		       (long long)(slot_ms / dg_pushslot_len_ms(w->budget)), dg_pushslot_cycle(&then));
	}

	/*
	 * With results to report right after our own push, skip the fetch and
	 * push optimistically on the tip we made: if somebody else pushed in
	 * between, libgit2 sees it in the push's ref advertisement, refuses
	 * before sending anything, and the transaction fetches and retries.
	 * Looking for work needs a fresh tip.
	 */
	if (!local && !(reporting && w->tip_is_ours)) {
		int64_t t0 = dg_now_ms();
		bool current = false;

		/* holding nothing, aside or waiting for the drain: a branch others keep busy needs no fetch */
		w->branch.peek_quiet = false;
		if ((w->branch.aside_streak || w->queue_seen_empty) && !dg_worker_stop_mark_due(w)) {
			switch (dg_worker_peek(w, &w->peek_again_ms)) {
			case DG_PEEK_BUSY:
				/* no hurry for the idle either: the busy take what comes */
				return TURN_STOOD_ASIDE;
			case DG_PEEK_AGAIN:
				return TURN_PEEK_AGAIN;
			case DG_PEEK_CURRENT:
				/* our view is the branch's: as fresh as a fetch, at half the host's cost */
				current = true;
				break;
			case DG_PEEK_FETCH:
				break;
			}
		}
		if (!current && (ret = dg_store_fetch(w->store)) < 0)
			return ret;
		w->snap.last_fetch_ok = dg_wall_ms();
		w->fetched_ms = dg_now_ms();
		dg_worker_branch_observe(w, current ? -1 : w->fetched_ms - t0);
	} else if (local) {
		/* a local "fetch" only reads the branch's tip: nothing to save */
		if ((ret = dg_store_fetch(w->store)) < 0)
			return ret;
		w->fetched_ms = dg_now_ms();
	}
	dg_worker_cancel_check(w);
	w->next_cancel_look = dg_now_ms() + idle_poll_ms(w);
	/*
	 * The members may have changed since the view that gave us this slot:
	 * a join that changed the cycle's length moved every slot
	 * (pushslot.h). The fresh view is the one the others push by, so we
	 * wait for our slot in it rather than push in another's. Pushing
	 * anyway made a 10-worker grid at GitHub's budget of 6 push 8 times in
	 * one minute while it joined (bench-budget): every join moved the
	 * members' slots, and each member pushed once more in a slot that was
	 * no longer its own. While a fleet joins, views keep changing, and a
	 * worker that waited for every view to agree could starve for minutes
	 * (seen with 32 workers: leases lapsed), so after a cycle of such
	 * waits it pushes in the slot it has.
	 *
	 * The question is whose the slot we woke for is, not whether we are
	 * still in it: on a busy host a fetch can outlast a slot (1.2 s at a
	 * budget of 60), and until 0.13.2 a member whose fetch did waited a
	 * whole cycle, again and again - 32 workers held finished results for
	 * minutes after the last task ran (bench-budget). Pushing late, in
	 * a slot that follows ours, adds no push to the cycle. Not so a
	 * newcomer's: a join push outside its join slot is one more in a
	 * member's (64 workers: 65 pushes in a minute at a budget of 60),
	 * so a newcomer whose fetch outlasted the slot waits for another -
	 * since 0.16.3 whenever the join slot it woke for ended, not only
	 * when the slot it is in is no join slot (dg_worker_join_late).
	 */
	dg_worker_budget_update(w);
	if (slot_ms && dg_wall_ms() - slot_ms > dg_pushslot_len_ms(w->budget))
		dg_log(DG_LOG_DEBUG, "node=%s event=turn-late late_ms=%lld", w->me, (long long)(dg_wall_ms() - slot_ms));
	if (w->budget && !local && !(member ? dg_worker_slot_ours(w, slot_ms) : dg_worker_may_push(w))) {
		int64_t now = dg_wall_ms();

		if (!w->slot_moved_at)
			w->slot_moved_at = now;
		if (now - w->slot_moved_at < dg_pushslot_cycle_ms(&w->slot))
			return TURN_SLOT_MOVED;
	}
	w->slot_moved_at = 0;
	if (!local && dg_worker_join_late(w, slot_ms))
		return TURN_SLOT_MOVED;
	if (member && slot_ms && dg_worker_slot_lent(w, slot_ms) && dg_pushslot_next(&w->slot, slot_ms) != slot_ms) {
		if (dg_worker_lent_slot_used(w, slot_ms)) {
			dg_log(DG_LOG_DEBUG, "node=%s event=lent-slot-used slot=%lld", w->me,
			       (long long)(slot_ms / dg_pushslot_len_ms(w->budget)));
			/* our next turn is in a later slot, not this one again */
			w->next_push_ms = slot_ms + dg_pushslot_len_ms(w->budget);
			return TURN_LENT_TAKEN;
		}
		dg_log(DG_LOG_INFO, "node=%s event=lent-slot slot=%lld", w->me,
		       (long long)(slot_ms / dg_pushslot_len_ms(w->budget)));
	} else if (member && slot_ms && dg_worker_unclaimed_join(w) && dg_pushslot_is_join(&w->slot, slot_ms))
		dg_log(DG_LOG_INFO, "node=%s event=unclaimed-join slot=%lld", w->me,
		       (long long)(slot_ms / dg_pushslot_len_ms(w->budget)));
	/* a newcomer that sees another one registered in this join slot lost it */
	if (dg_worker_join_taken(w)) {
		dg_worker_join_stood_back(w);
		return DG_ECONFLICT;
	}
	/* an unchanged tip holds nothing new to claim: no transaction needed */
	if (quiet && !local && !strcmp(dg_store_tip(w->store), w->last_step_tip))
		return TURN_NOTHING_NEW;
	/* holding nothing, on a crowded branch that others keep busy: listen, do not talk */
	if (!local && !dg_worker_queue_empty(w) && dg_worker_stand_aside(w))
		return TURN_STOOD_ASIDE;
	{
		int64_t t0 = dg_now_ms();
		ret = dg_worker_step(w);
		if (ret == 0 || ret == DG_ECONFLICT) {
			dg_worker_branch_pushed(w, dg_now_ms() - t0);
			/*
			 * A race lost inside the step fetched the winner's commit:
			 * a worker that pushes its reports without a fetch of its
			 * own (tip_is_ours) sees the others only so.
			 */
			dg_worker_branch_observe(w, -1);
		}
	}
	if (ret == 0)
		snprintf(w->last_step_tip, sizeof(w->last_step_tip), "%s", dg_store_tip(w->store));
	/*
	 * Our own push may have made us a member: the next turn's slot is a
	 * member's, not a join slot. So may a lost one: its join ref landed.
	 */
	if ((ret == 0 || ret == DG_ECONFLICT) && w->budget)
		dg_worker_budget_update(w);
	return ret;
}

/*
 * When the loop next has something to do. Nothing that waits for a step
 * (a free slot, results to report) may wake it before net_retry_at: during
 * a backoff the loop sleeps, it does not spin.
 */
static int64_t next_wake(struct worker *w, int64_t now, int64_t net_retry_at)
{
	int64_t wake = min64(min64(w->next_heartbeat, now + 60000), max64(dg_worker_rescue_at(w), now));

	if ((w->jobs_nr || dg_worker_looks_for_lent(w)) && !w->stopping)
		wake = min64(wake, w->next_cancel_look);

	/* with a push budget, a turn at each of our slots; nothing between them */
	if (w->budget && (!w->stopping || w->pending_nr || w->requeue_nr || dg_worker_stop_mark_due(w))) {
		int64_t slot = now + (dg_worker_next_push(w) - dg_wall_ms());
		if (idle_looker(w))
			wake = min64(wake, w->next_step);
		return min64(min64(wake, w->stopping && w->jobs_nr ? w->stop_deadline : wake),
			     max64(max64(slot, now), net_retry_at));
	}
	/* no wake-up of its own for reaping: it rides on a step's fetch */
	if (!w->stopping && w->jobs_nr < w->opts->cfg.slots)
		wake = min64(wake, max64(w->next_step, net_retry_at));
	if (w->pending_nr || w->requeue_nr)
		wake = min64(wake, max64(w->jobs_nr && !w->stopping ? w->batch_deadline : now, net_retry_at));
	/* stopping: the end of the grace for running tasks, then the time to give up pushing */
	/* and the stop mark's tries, looking at least every second whether its time is over */
	if (dg_worker_stop_mark_due(w))
		wake = min64(wake, min64(max64(w->next_step, net_retry_at), now + 1000));
	if (w->stopping && w->jobs_nr)
		wake = min64(wake, w->stop_deadline);
	else if (w->stopping && w->net_failures)
		wake = min64(wake, max64(w->stop_deadline + 15000, now + 100));
	return wake;
}

/*
 * How long to wait after losing a race, without a budget: a random part of
 * (crowd x turn), the turn being ours as the host's pace is now (fetch,
 * step, push: worker_branch.c). The old exponential backoff (50 ms <<
 * streak) did not grow with the grid: 32 workers each retrying within
 * seconds kept the branch so busy that every attempt took ~6 s and lost
 * again (bench-collapse.sh).
 *
 * A worker that holds work races those that push - the other nodes whose
 * commits it saw lately, and itself: idle workers stand aside while the
 * branch is busy (worker_branch.c) - at most 20 s, so that it lands its
 * results long before its leases lapse (which allow for the crowd,
 * worker_step.c). Results to report go first: half a turn, doubling with
 * each race lost in a row, if that is less. Counting every registered
 * node instead left a one-task result unreported for 68 s among 32
 * workers, most of them idle.
 *
 * A worker that would only claim counts every node that pushes here
 * (dg_worker_crowd_nodes), at most 15 s: its next look decides whether it
 * tries again. With reporting,
 * the wait of one that has results to report, for results that arrive
 * while it waits to claim.
 */
static int64_t contention_wait_ms(const struct worker *w, unsigned streak, bool reporting)
{
	bool holds = reporting || w->jobs_nr || w->backlog_nr || w->pending_nr || w->requeue_nr;
	int64_t turn = dg_worker_branch_turn_ms(w);
	int64_t span = (int64_t)50 << streak, crowd, max = holds ? CONTENTION_WAIT_MAX_MS : CLAIM_WAIT_MAX_MS;

	if (turn < 50)
		turn = 50;
	if (!holds) {
		crowd = (int64_t)dg_worker_crowd_nodes(w) * turn;
	} else {
		size_t pushers = dg_worker_branch_pushers(w) + 1;
		crowd = (int64_t)(pushers < w->nodes_seen ? pushers : w->nodes_seen) * turn;
	}
	if (reporting || w->pending_nr || w->requeue_nr) {
		int64_t doubling = turn << (streak < 4 ? streak : 4) >> 1;
		crowd = crowd < doubling ? crowd : doubling;
	}
	if (crowd > span)
		span = crowd;
	if (span > max)
		span = max;
	return arc4random_uniform((uint32_t)span + 1);
}

/* Others push here too, and some lost to us lately or keep the branch busy. */
static bool crowded_branch(const struct worker *w)
{
	return !w->budget && dg_worker_crowd_nodes(w) >= 2 &&
	       (dg_now_ms() < w->contended_until || dg_worker_branch_busy(w) >= 0.25);
}

/*
 * How long a worker that stood aside waits before it looks again
 * (worker_branch.c): about when the queue should have drained, never less
 * than PULL_INTERVAL; before it knows the queue's pace, as long as
 * dg_worker_aside_no_pace_ms says.
 */
static int64_t stand_aside_ms(struct worker *w)
{
	return dg_worker_stand_aside_ms(w, idle_poll_ms(w), dg_worker_aside_no_pace_ms(w));
}

static int loop(struct worker *w, int sigfd)
{
	const struct dg_config *cfg = &w->opts->cfg;
	int64_t net_retry_at = 0;
	/* after a lost race, when results that arrive meanwhile may try (they go first) */
	int64_t report_retry_at = INT64_MAX;

	for (;;) {
		bool local = dg_store_url_is_local(w->repo_url);
		int64_t now = dg_now_ms(), wake;
		struct pollfd fds[MAX_POLLFDS];
		size_t nfds = 0;
		bool want_step = false;

		dg_worker_service_jobs(w);
		dg_worker_start_backlog(w);
		/*
		 * Busy, it fetches no step: it looks for cancel requests every
		 * idle poll interval; so does a member holding its last report,
		 * for a queue that ran dry (dg_worker_looks_for_lent).
		 *
		 * With a budget, not when our slot comes within that interval:
		 * the turn fetches then, and a look's fetch that outlasted the
		 * start of our slot lost it (bench-budget, 64 workers, fetches
		 * of 4-9 s on a loaded host: a member holding its last report
		 * missed its own slot and waited a cycle of 38 s, twice in a
		 * row).
		 */
		if ((w->jobs_nr || dg_worker_looks_for_lent(w)) && !w->stopping && now >= w->next_cancel_look &&
		    now >= net_retry_at) {
			int64_t due = w->budget ? dg_worker_next_push(w) : 0;

			if (!w->budget || due - dg_wall_ms() > idle_poll_ms(w)) {
				int64_t t0 = dg_now_ms();

				if (dg_store_fetch(w->store) == 0) {
					w->fetched_ms = now;
					dg_worker_cancel_check(w);
					dg_worker_lent_look(w);
				}
				dg_log(DG_LOG_DEBUG, "node=%s event=look fetch_ms=%lld", w->me, (long long)(dg_now_ms() - t0));
			}
			w->next_cancel_look = now + idle_poll_ms(w);
		}
		if (w->stopping && now >= w->stop_deadline && w->jobs_nr) {
			dg_log(DG_LOG_WARNING, "node=%s event=grace-over killing=%zu", w->me, w->jobs_nr);
			dg_worker_kill_jobs(w, true);
			w->stop_deadline = INT64_MAX / 2;
		}
		if (w->pending_nr || w->requeue_nr)
			want_step = !w->jobs_nr || w->stopping || now >= w->batch_deadline;
		if (!w->stopping && w->jobs_nr < cfg->slots && now >= w->next_step)
			want_step = true;
		if (dg_worker_stop_mark_due(w) && now >= w->next_step)
			want_step = true;
		/* with a push budget: a turn at each of our slots */
		if (w->budget)
			want_step = (!w->stopping || w->pending_nr || w->requeue_nr || dg_worker_stop_mark_due(w)) &&
				    dg_worker_may_push(w);
		/* unless it would only look before its poll: then at our first slot after the poll, from its start */
		if (w->budget && want_step && slot_waits_for_poll(w, now)) {
			w->next_push_ms = dg_wall_ms() + (w->next_step - now);
			want_step = false;
		}
		/*
		 * Between slots, an --exit-when-idle worker that holds nothing
		 * still looks (idle_looker): a fetch is no push. A queue seen
		 * empty needs no step to say so - a newcomer waiting for a join
		 * slot that has nothing left to claim would otherwise wait
		 * minutes to exit.
		 */
		if (w->budget && !want_step && idle_looker(w) && now >= w->next_step) {
			if (!turn_looks_first(w) && dg_store_fetch(w->store) == 0) {
				w->fetched_ms = now;
				if (!w->queue_seen_empty && dg_worker_queue_empty(w))
					dg_worker_queue_seen(w, true);
			}
			w->next_step = now + idle_look_ms(w);
		}
		if ((w->pending_nr || w->requeue_nr) && net_retry_at > report_retry_at)
			net_retry_at = report_retry_at;
		bool turn_failed = false;
		if (want_step && now >= net_retry_at) {
			int64_t turn_before = w->turn_ms_avg;
			struct dg_store *turn_store = w->store;
			int ret;

			w->step_reached_host = false;
			/* a rescue due before this turn would end does not wait for it */
			dg_worker_rescue(w, state_of(w), false, w->turn_ms_avg);
			/* the turn pushes in its slot: the cache's repacking waits until it is done (store.h) */
			dg_store_hold_repack(turn_store, true);
			ret = network_turn(w, local);
			dg_store_hold_repack(turn_store, false);
			int64_t took = dg_now_ms() - now;
			if (dg_store_tidy(turn_store) < 0)
				dg_log(DG_LOG_WARNING, "node=%s event=cache-tidy-failed error=\"%s\"", w->me, dg_error_last());
			/* a turn's fetch, step and push, smoothed: the grid's pace under contention */
			w->turn_ms_avg = w->turn_ms_avg ? (3 * w->turn_ms_avg + took) / 4 : took;
			/* quiet looks in a row slow the unseen idle (unseen_idle_ms); a look at anything else starts over */
			if (ret >= 0)
				w->quiet_looks = ret == TURN_NOTHING_NEW ? w->quiet_looks + 1 : 0;
			if (ret == TURN_NOTHING_NEW && w->quiet_looks <= 8 && dg_log_get_level() == DG_LOG_DEBUG) {
				int64_t pull = (int64_t)cfg->pull_interval * 1000, wait = unseen_idle_mean_ms(w, pull);

				if (wait > pull)
					dg_log(DG_LOG_DEBUG, "node=%s event=unseen-idle quiet_looks=%u poll_ms=%lld", w->me,
					       w->quiet_looks, (long long)wait);
			}
			/*
			 * An idle poll that found nothing new is no turn: counted,
			 * it made a worker idle for a minute take its turn for a
			 * fetch's 20 ms, and claim a tenth of a turn's worth of
			 * quick tasks when work came (dg_worker_claim_want).
			 */
			if (ret == TURN_NOTHING_NEW) {
				w->turn_ms_avg = turn_before;
				ret = 0;
			}
			dg_worker_budget_used(w);
			if (ret == DG_EPROTOCOL)
				return ret;
			/* a turn the host answered with our step ends our drought; a failed one starts it */
			if (ret < 0)
				dg_worker_drought_failed(w);
			else if (ret == 0)
				dg_worker_drought_ended(w);
			/* a rescue in this slot costs the budget nothing if the host counted no push of ours */
			turn_failed = ret < 0 && !w->step_reached_host;
			if (ret == DG_ECONFLICT) {
				/*
				 * Lost a few races in a row: not a fault. Back off
				 * exponentially with jitter while it lasts - the
				 * loop keeps serving its tasks meanwhile - so that
				 * losers do not flood a busy server with pushes.
				 */
				unsigned k = w->conflicts < 7 ? w->conflicts : 7;
				w->conflicts++;
				dg_worker_contention(w, true);
				/* with a budget, our next slot is the retry; a lost join waits again */
				net_retry_at = w->budget ? 0 : now + contention_wait_ms(w, k, false);
				report_retry_at = w->budget ? INT64_MAX : now + contention_wait_ms(w, k, true);
				if (w->budget && (w->slot.rank >= w->slot.members || dg_worker_unclaimed_join(w)))
					dg_worker_budget_rejoin(w);
				dg_log(DG_LOG_DEBUG, "node=%s event=contention streak=%u", w->me, w->conflicts);
			} else if (ret == TURN_LENT_TAKEN) {
				/* a look, not a turn, as below; network_turn logged it (event=lent-slot-used) */
				w->turn_ms_avg = turn_before;
			} else if (ret == TURN_SLOT_MOVED) {
				/* a look, not a turn: our next slot in the fresh view is the turn */
				w->turn_ms_avg = turn_before;
				dg_log(DG_LOG_DEBUG, "node=%s event=slot-moved next_in_ms=%lld rank=%zu members=%zu cycle=%zu",
				       w->me, (long long)(dg_worker_next_push(w) - dg_wall_ms()), w->slot.rank,
				       w->slot.members, dg_pushslot_cycle(&w->slot));
			} else if (ret == TURN_PEEK_AGAIN) {
				w->turn_ms_avg = turn_before;
				w->net_failures = 0;
				w->next_step = now + w->peek_again_ms;
			} else if (ret == TURN_STOOD_ASIDE) {
				/* a look, not a turn: the branch's pace is what the others' turns take */
				w->turn_ms_avg = turn_before;
				w->net_failures = 0;
				w->next_step = now + stand_aside_ms(w);
			} else if (ret < 0) {
				report_retry_at = INT64_MAX;
				w->net_failures++;
				net_retry_at = now + net_backoff_ms(w->net_failures);
				dg_log(DG_LOG_WARNING, "node=%s event=remote-error failures=%u retry_in_ms=%lld error=\"%s\"",
				       w->me, w->net_failures, (long long)(net_retry_at - now), dg_error_last());
			} else {
				if (w->net_failures)
					dg_log(DG_LOG_INFO, "node=%s event=remote-back", w->me);
				w->net_failures = 0;
				if (!w->conflicts)
					dg_worker_contention(w, false);
				w->conflicts = 0;
				w->branch.fresh_claim = false;
				w->batch_deadline = 0;
				report_retry_at = INT64_MAX;
				/*
				 * A winner on a crowded branch sits out one turn:
				 * it pushes again without a fetch (tip_is_ours), so
				 * it would win every race against workers that must
				 * fetch first, and their results would wait for
				 * minutes (bench-collapse.sh: 88 s at 32 workers).
				 * Only while another node may hold work to report
				 * (dg_worker_branch_others_hold): the first claimer
				 * of a crowd's submission sat out a turn made of the
				 * fetch that brought it - 0.5-2.2 s in a third of the
				 * runs, its few tasks done in 30 ms - for nobody, and
				 * others claimed meanwhile and raced it as second
				 * carriers (bench-collapse.sh WARM=1, 32 workers).
				 */
				if (crowded_branch(w) && dg_worker_branch_others_hold(w))
					net_retry_at = dg_now_ms() + dg_worker_branch_turn_ms(w);
				w->next_step = now + (w->queue_seen_empty ? idle_poll_ms(w) : 0);
				/* a task that waits for its not_before: look again when it may start */
				if (w->ready_at)
					w->next_step = min64(w->next_step, now + max64(w->ready_at * 1000 - dg_wall_ms(), 0));
			}
		}
		now = dg_now_ms();
		/*
		 * A worker with a free slot looks for orphans it could take over,
		 * right after a fetch of its own step: its view is fresh, and
		 * reaping costs the host no extra fetch (the fetch budget).
		 */
		if (!w->stopping && w->jobs_nr < cfg->slots && now >= w->next_reap && !w->net_failures &&
		    now - w->fetched_ms < 1000) {
			struct dg_reap_stats rs;
			int ret;

			/* leases get what a crowd adds to them, and the time we could not reach the host ourselves */
			dg_reaper_set_lease_grace(w->reaper, dg_worker_crowd_seconds(w) + dg_worker_drought_seconds(w));
			ret = dg_reaper_judge(w->reaper, &rs);
			if (ret == DG_EPROTOCOL)
				return ret;
			if (ret < 0) {
				dg_worker_drought_failed(w);
				dg_log(DG_LOG_WARNING, "node=%s event=reap-failed error=\"%s\"", w->me, dg_error_last());
			} else if (rs.requeued || rs.abandoned) {
				dg_worker_queue_seen(w, false), w->next_step = 0;
			}
			/* node refs long unchanged go, outside the schedule: not on a budget grid */
			if (ret >= 0 && !w->budget)
				prune_node_refs(w);
			w->next_reap = now + (int64_t)(w->policy.node_timeout * 1000u) / 3;
		}
		/* archive and compaction: rare, after a fresh fetch, never while stopping */
		/* archiving pushes several times: not on a budget grid (doc/protocol.md) */
		if (!w->stopping && !w->budget && now >= w->next_upkeep && !w->net_failures &&
		    now - w->fetched_ms < 1000) {
			int64_t every = (int64_t)cfg->upkeep_interval * 1000;
			dg_worker_upkeep(w);
			w->next_upkeep = dg_now_ms() + every - every / 5 + arc4random_uniform((uint32_t)(every / 5 * 2) + 1);
		}
		if (now >= w->next_heartbeat) {
			int64_t hb_ms = (int64_t)heartbeat_seconds(w) * 1000;
			/* leases (protocol 2) need no heartbeat: an idle worker pushes nothing */
			int ret = dg_policy_heartbeats(&w->policy) ? dg_worker_heartbeat(w, state_of(w)) : 0;
			w->next_heartbeat = now + (ret < 0 ? min64(hb_ms, 5000) : hb_ms);
			if (ret < 0)
				dg_log(DG_LOG_WARNING, "node=%s event=heartbeat-failed error=\"%s\"", w->me, dg_error_last());
		}
		/* leases our pushes did not renew in time: a rescue keeps them (worker_rescue.c) */
		dg_worker_rescue(w, state_of(w), turn_failed, 0);
		dg_worker_snapshot(w, state_of(w));
		if (w->http)
			dg_http_publish(w->http, &w->snap);

		if (w->stopping && !w->jobs_nr && !w->pending_nr && !w->requeue_nr && !dg_worker_stop_mark_due(w))
			return 0;
		if (w->stopping && !w->jobs_nr && now > w->stop_deadline + 15000 && w->net_failures) {
			dg_log(DG_LOG_WARNING, "node=%s event=stop-unpushed spooled=%zu", w->me, w->pending_nr);
			return 0;
		}
		/*
		 * On a grid of several repositories, a worker with nothing to do
		 * here looks at another member once an idle poll interval, and
		 * moves there when it has work (worker_members.c).
		 */
		if (w->members.nr > 1 && dg_worker_holds_nothing(w) && w->queue_seen_empty &&
		    now >= w->next_look) {
			int moved = dg_worker_look_around(w);
			w->next_look = dg_now_ms() + idle_poll_ms(w);
			if (moved > 0) {
				net_retry_at = 0;
				continue;   /* a step on the new member right away */
			}
		}
		/* a task we could run that waits for its time keeps us, too */
		if (w->opts->exit_when_idle && !w->stopping && !w->jobs_nr && !w->backlog_nr && !w->pending_nr &&
		    w->queue_seen_empty && !w->ready_at && !w->net_failures && grid_drained(w)) {
			dg_log(DG_LOG_INFO, "node=%s event=idle-exit", w->me);
			if (!idle_exit_marks(w))
				return 0;
			/* says it stopped, as a signal's stop does, then leaves above */
			w->stopping = true;
			w->stop_signal_at = now;
			w->stop_deadline = now + (int64_t)w->opts->grace_seconds * 1000;
			w->next_step = 0;
			continue;
		}

		wake = next_wake(w, now, net_retry_at);
		fds[nfds].fd = sigfd;
		fds[nfds++].events = POLLIN;
		for (size_t i = 0; i < w->jobs_nr; i++) {
			if (!w->jobs[i].job) {
				wake = now;
				continue;
			}
			wake = min64(wake, dg_job_deadline(w->jobs[i].job));
			nfds += dg_job_pollfds(w->jobs[i].job, fds + nfds, MAX_POLLFDS - nfds);
		}
		int timeout = wake <= now ? 0 : (int)min64(wake - now, 60000);
		if (poll(fds, nfds, timeout) < 0 && errno != EINTR)
			dg_log(DG_LOG_ERROR, "node=%s event=poll-failed error=\"%s\"", w->me, strerror(errno));
		if (fds[0].revents & POLLIN)
			on_signal(w, sigfd);
	}
}

/* Start-up steps that need the remote are retried until it answers. */
static int until_reachable(struct worker *w, int sigfd, int (*fn)(struct worker *), const char *what)
{
	for (unsigned failures = 0;; failures++) {
		int ret = fn(w);
		int64_t wait;

		/* a busy branch is no reason to give up starting either */
		if (ret == DG_ECONFLICT) {
			wait = arc4random_uniform(50u << (failures < 7 ? failures : 7));
			dg_log(DG_LOG_DEBUG, "node=%s event=contention step=%s retry_in_ms=%lld",
			       w->me, what, (long long)wait);
		} else if (ret == DG_ENET || ret == DG_EREFUSED) {
			wait = net_backoff_ms(failures);
			dg_log(DG_LOG_WARNING, "node=%s event=remote-error step=%s retry_in_ms=%lld error=\"%s\"",
			       w->me, what, (long long)wait, dg_error_last());
		} else {
			return ret;
		}
		struct pollfd p = { sigfd, POLLIN, 0 };
		if (poll(&p, 1, (int)wait) > 0) {
			dg_error_set("interrupted by a signal while waiting for the remote");
			return DG_ETIMEOUT;
		}
	}
}

/*
 * The grid moved to a newer protocol: this worker writes nothing more to
 * it (not even a "stopped" heartbeat). What it ran stays in its spool for
 * an upgraded dgrid on this node; its claims lapse and are reaped.
 */
static void refuse(struct worker *w, char *why, size_t size)
{
	snprintf(why, size, "%s", dg_error_last());
	dg_log(DG_LOG_ERROR, "node=%s event=protocol-refused protocol=%u grid_protocol=%u spooled=%zu error=\"%s\"",
	       w->me, DG_PROTOCOL, w->policy.protocol, w->pending_nr, why);
}

int dg_worker_run(const struct dg_worker_opts *opts)
{
	char refusal[512] = "";
	struct worker w;
	struct dg_store_opts so;
	char *spool_dir = NULL;
	int sigfd = -1, ret;

	memset(&w, 0, sizeof(w));
	w.opts = opts;
	w.pick_memo = dg_pick_memo_new();
	w.me = opts->cfg.node_id;
	w.policy = dg_policy_default;
	w.need_adopt = true;
	dg_node_facts_local(&w.facts, opts->labels);
	snprintf(w.snap.node_id, sizeof(w.snap.node_id), "%s", w.me);
	snprintf(w.snap.executor, sizeof(w.snap.executor), "%s", opts->executor->name);
	snprintf(w.snap.isolation, sizeof(w.snap.isolation), "%s", opts->isolation ? opts->isolation : "");
	snprintf(w.snap.version, sizeof(w.snap.version), "%s", DG_VERSION);
	w.snap.slots = opts->cfg.slots;
	w.snap.started_at = dg_wall_ms();
	{
		struct dg_strbuf red = DG_STRBUF_INIT;
		dg_redact(&red, opts->cfg.repo_url);
		snprintf(w.snap.repo, sizeof(w.snap.repo), "%s", red.buf);
		dg_strbuf_release(&red);
	}

	sigfd = dg_stopsignal_open();
	if (sigfd < 0) {
		dg_error_set("cannot set up signal handling: %s", strerror(errno));
		return DG_ERROR;
	}
	/*
	 * libgit2 keeps every object it parsed in a cache of up to 256 MiB by
	 * default. A worker reads new versions of the same trees at every step,
	 * so its memory crept up by about 1 MB a minute (make soak); a small
	 * cache holds what one step reads twice and keeps the worker flat.
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)WORKER_GIT_CACHE_BYTES);
	/*
	 * glibc raises its mmap threshold to the largest block ever freed, so
	 * libgit2's big, short-lived buffers (pack indexes, the repack's
	 * tables) end up on the heap, whose pages are rarely returned: a long
	 * running worker's memory then follows its largest step. A fixed
	 * threshold keeps such blocks in their own mappings, unmapped on free.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	dg_config_store_opts(&opts->cfg, &so, w.me);
	so.author = w.me;
	/*
	 * One attempt per transaction: a step that lost the race goes back
	 * to the loop, which serves its tasks and retries after a jittered,
	 * growing wait (see the contention branch in loop()).
	 */
	so.max_attempts = 1;
	so.backoff_max_ms = 40;
	if ((ret = dg_store_open(&w.store, &so)) < 0 || (ret = dg_worker_trust_init(&w)) < 0)
		goto out;
	w.repo_url = opts->cfg.repo_url;
	spool_dir = spool_dir_for(opts, w.me);
	/* the first archive/compaction check comes after a random part of the
	   interval: a fleet started at once does not check at once */
	w.next_upkeep = dg_now_ms() + 1000 * (int64_t)arc4random_uniform(w.opts->cfg.upkeep_interval + 1);
	if (opts->http && *opts->http) {
		unsigned hb = opts->cfg.heartbeat_interval ? opts->cfg.heartbeat_interval : w.policy.heartbeat_interval;
		ret = dg_http_start(&w.http, opts->http, "dgrid worker");
		if (ret < 0 && dg_http_is_auto(opts->http)) {
			/* the page must never stop a worker from working */
			dg_log(DG_LOG_WARNING, "node=%s event=http-unavailable error=\"%s\"", w.me, dg_error_last());
			ret = 0;
		} else if (ret < 0) {
			dg_error_prefix("cannot serve the status page on '%s' (--http, DGRID_HTTP)", opts->http);
			goto out;
		}
		/* a busy worker may not fetch for long; its heartbeats reach the remote too */
		if (w.http) {
			dg_http_set_health(w.http, DG_HTTP_LOOP_INTERVAL_MS,
					   hb * 3000u > DG_HTTP_FETCH_MAX_AGE_MS ? hb * 3000u : DG_HTTP_FETCH_MAX_AGE_MS);
			dg_log(DG_LOG_INFO, "node=%s event=http-listening port=%u addr=%s", w.me,
			       dg_http_port(w.http), dg_http_address(w.http));
		}
	}
	if ((ret = until_reachable(&w, sigfd, dg_worker_fetch_policy, "fetch")) < 0) {
		if (ret == DG_EPROTOCOL)
			refuse(&w, refusal, sizeof(refusal));
		goto out;
	}
	/* the node key, beside the home's spool: created on first start */
	if ((ret = dg_worker_identity_init(&w, spool_dir)) < 0)
		goto out;
	dg_worker_replicas_load(&w, spool_dir);
	/* binds the member to start on: its store, spool and reaper */
	if ((ret = dg_worker_members_init(&w, spool_dir)) < 0) {
		if (ret == DG_EPROTOCOL)
			refuse(&w, refusal, sizeof(refusal));
		goto out;
	}
	dg_worker_budget_update(&w);
	if (opts->cfg.heartbeat_interval >= w.policy.node_timeout) {
		dg_error_set("HEARTBEAT_INTERVAL %u is not below the grid's node_timeout %u (dgrid.json): "
			     "other workers would take this worker's tasks between two heartbeats",
			     opts->cfg.heartbeat_interval, w.policy.node_timeout);
		ret = DG_EINVALID;
		goto out;
	}
	/* a live twin is refused by the registration; a new key under a registered id next */
	if ((ret = until_reachable(&w, sigfd, dg_worker_register, "register")) < 0 ||
	    (ret = dg_worker_identity_check(&w)) < 0)
		goto out;
	dg_log(DG_LOG_INFO, "node=%s event=started executor=%s slots=%u spooled=%zu repo=%s",
	       w.me, opts->executor->name, opts->cfg.slots, w.pending_nr, w.snap.repo);
	ret = loop(&w, sigfd);
	if (ret == DG_EPROTOCOL)
		refuse(&w, refusal, sizeof(refusal));
	dg_worker_kill_jobs(&w, true);
	if (ret == DG_EPROTOCOL)
		goto out;
	if (dg_policy_heartbeats(&w.policy) && dg_worker_heartbeat(&w, "stopped") < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=heartbeat-failed error=\"%s\"", w.me, dg_error_last());
	dg_log(DG_LOG_INFO, "node=%s event=stopped completed=%llu failed=%llu spooled=%zu", w.me,
	       (unsigned long long)w.snap.tasks_completed,
	       (unsigned long long)(w.snap.tasks_failed + w.snap.tasks_timed_out), w.pending_nr);
out:
	for (size_t i = 0; i < w.jobs_nr; i++) {
		if (w.jobs[i].job) {
			struct dg_exec_result er = DG_EXEC_RESULT_INIT;
			dg_job_kill(w.jobs[i].job);
			while (dg_job_service(w.jobs[i].job) != 1)
				usleep(10000);
			dg_job_finish(w.jobs[i].job, &er);
			dg_exec_result_release(&er);
		}
		dg_task_release(&w.jobs[i].task);
		free(w.jobs[i].cancel_reason);
		free(w.jobs[i].reject_reason);
		dg_tasksign_verdict_release(&w.jobs[i].trust);
	}
	free(w.jobs);
	for (size_t i = 0; i < w.backlog_nr; i++)
		dg_task_release(&w.backlog[i]);
	free(w.backlog);
	dg_worker_rescue_free(&w);
	for (size_t i = 0; i < w.pending_nr; i++)
		dg_result_release(&w.pending[i]);
	free(w.pending);
	for (size_t i = 0; i < w.requeue_nr; i++)
		free(w.requeue[i].task_id);
	free(w.requeue);
	if (w.http) {
		dg_worker_snapshot(&w, "stopped");
		dg_http_publish(w.http, &w.snap);
		dg_http_stop(w.http);
	}
	dg_spool_release(&w.spool);
	dg_node_facts_release(&w.facts);
	dg_worker_identity_release(&w);
	dg_worker_replicas_release(&w);
	dg_worker_trust_release(&w);
	free(spool_dir);
	dg_reaper_free(w.reaper);
	dg_pick_memo_free(w.pick_memo);
	dg_worker_budget_forget(&w);
	if (w.stores)
		dg_worker_members_release(&w);
	else
		dg_store_free(w.store);
	if (sigfd >= 0)
		close(sigfd);
	if (ret == DG_EPROTOCOL)
		dg_error_set("%s", refusal);
	return ret;
}
