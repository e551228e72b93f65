/*
 * worker_branch.c - how busy the branch is, and who stands aside (issue
 * 11, "no collapse"). Every push to the grid is a compare-and-swap on one
 * ref: while one is under way, any other built on the same tip loses. A
 * branch is a shared medium, and like Ethernet's it carries the most when
 * those with nothing urgent to send listen before they talk.
 *
 * Each fetch walks the commits the branch gained since the last one (the
 * branch's own record, timed by our clock: no clock of theirs matters):
 * how many other nodes made, and which nodes. Their rate times our own
 * turn (fetch, step, push) is the part of the time the branch is taken.
 * A worker that holds nothing - no task, no result, nothing to hand back -
 * would push only to claim; on a crowded grid (dg_worker_crowd_nodes) it
 * does so only while the branch is taken less than STAND_ASIDE_BUSY of the
 * time, and otherwise looks again about when the queue should have
 * drained at the pace it saw (at most 30 s later). A queue that did not
 * shrink between its looks is one the busy ones do not take, and it
 * claims at once; after four looks in a row it tries anyway, so that a
 * worker that can run what the busy ones cannot does not wait for as long
 * as they keep the branch busy. Workers that hold work push as before,
 * and lose fewer races for it: with 32 workers on trivial tasks, 31 that
 * all tried to claim at every turn made 95 of 156 packs lose and left
 * finished results unreported for a minute (bench-collapse.sh). Tasks
 * that take longer than a turn keep the branch quiet between their
 * reports, so every worker still gets work.
 */
#include "layout.h"
#include "log.h"
#include "worker_int.h"

/* the share of time the branch may be taken before an idle worker stands aside */
#define STAND_ASIDE_BUSY 0.5
/* the rate is measured over about this long (ms) */
#define BUSY_WINDOW_MS 15000
/* and not from fewer than this (ms): one commit in a short look says little */
#define BUSY_MIN_SPAN_MS 1000
/* a node whose newest commit claimed counts as holding work for at most this long (ms) */
#define HOLDS_MEMORY_MS (60 * 60 * 1000)
/* the most commits one look walks (a long absence, compacted history) */
#define BUSY_COUNT_MAX 64
/* a worker that stood aside looks again after at most this long (ms), when the queue drains slowly */
#define STAND_ASIDE_MAX_MS 30000
/* and tries to claim, busy or not, after standing aside this many looks in a row */
#define STAND_ASIDE_STREAK_MAX 4
/* an idle worker that peeks still fetches when its last fetch is this old (ms) */
#define PEEK_FETCH_EVERY_MS 60000
/* the queue's first length while standing aside is kept this long (ms): two fetched looks apart */
#define QUEUE_SPAN_MS (PEEK_FETCH_EVERY_MS * 3 / 2)
/* a peek that saw the branch move looks again within at most this long (ms) */
#define RECHECK_MAX_MS 10000
/* before it knows the queue's pace, a worker that stood aside looks again within this long, however many push */
#define STAND_ASIDE_FLOOR_MAX_MS 30000
/* a worker that stood aside fetches again after this long (ms) to learn the queue's pace */
#define PACE_LOOK_MS 10000
/* and one that never claimed here, which nobody counts, about this long at least */
#define UNSEEN_ASIDE_MS RECHECK_MAX_MS

_Static_assert(DG_BRANCH_AUTHORS <= 32, "struct walk keeps the authors it met in 32 bits");

struct walk {
	struct worker *w;
	int64_t now;
	size_t others;
	size_t claims;
	uint32_t authors_met;    /* the authors[] entries this walk met: it goes newest first */
};

/* The authors[] entry of a node, taking the oldest when it has none; DG_BRANCH_AUTHORS for no id. */
static size_t saw_author(struct dg_branch_watch *b, const char *id, size_t len, int64_t now)
{
	size_t oldest = 0;

	if (!len || len >= sizeof(b->authors[0].id))
		return DG_BRANCH_AUTHORS;
	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++) {
		if (!strncmp(b->authors[i].id, id, len) && !b->authors[i].id[len]) {
			b->authors[i].ms = now;
			b->authors[i].commits++;
			return i;
		}
		if (b->authors[i].ms < b->authors[oldest].ms)
			oldest = i;
	}
	memcpy(b->authors[oldest].id, id, len);
	b->authors[oldest].id[len] = '\0';
	b->authors[oldest].ms = now;
	b->authors[oldest].commits = 1;
	b->authors[oldest].holds = false;
	return oldest;
}

/*
 * A step's summary claims a task: " claim NAME.json" (worker_step.c). Task
 * ids hold no '.', so a task named "claim" reported or handed back is no
 * claim ("report claim (success)").
 */
static bool summary_claims(const char *summary)
{
	for (const char *p = strstr(summary, " claim "); p; p = strstr(p + 1, " claim ")) {
		const char *arg = p + strlen(" claim ");
		size_t len = strcspn(arg, " ");

		if (len > 5 && !strncmp(arg + len - 5, ".json", 5))
			return true;
	}
	return false;
}

/* A commit's summary starts "NODE: ..." (worker_step.c, worker_node.c); others (plain git) count as nobody's. */
static int one_commit(int64_t when, const char *summary, void *payload)
{
	struct walk *k = payload;
	const char *colon = strchr(summary, ':');
	size_t len = colon ? (size_t)(colon - summary) : 0;

	(void)when;
	/* node ids hold no space: "reap by w1:", "submit 3 tasks:" are commits of nobody in particular */
	if (memchr(summary, ' ', len))
		len = 0;
	if (len && len == strlen(k->w->me) && !strncmp(summary, k->w->me, len)) {
		k->w->branch.own++;
		return 0;
	}
	bool claims = len && summary_claims(summary);
	size_t i;

	k->others++;
	k->claims += claims;
	i = saw_author(&k->w->branch, summary, len, k->now);
	/* its newest commit says whether it may hold work; its older ones in this walk do not */
	if (i < DG_BRANCH_AUTHORS && !(k->authors_met & (UINT32_C(1) << i))) {
		k->authors_met |= UINT32_C(1) << i;
		k->w->branch.authors[i].holds = claims;
	}
	return 0;
}

static int count_entry(const struct dg_entry *e, void *payload)
{
	if (e->is_file && e->name[0] != '.')
		(*(size_t *)payload)++;
	return 0;
}

/*
 * Half the weight to the newest: the pace changes fast when a fleet has
 * started. A mean last fed more than BUSY_WINDOW_MS ago is no pace of now:
 * the sample replaces it. An idle worker peeks, and its fetch and step
 * times were those of the start-up, when 32 workers cloned and registered
 * at once (fetches of 1-2 s); smoothed with them, the first claim after a
 * quiet spell made a turn of 1-2 s, and the claimer sat out that long
 * after its push (worker.c, "a winner sits out a turn") while others
 * took the queue.
 */
static int64_t smooth(int64_t avg, int64_t *at, int64_t sample)
{
	int64_t now = dg_now_ms();
	bool stale = now - *at > BUSY_WINDOW_MS;

	*at = now;
	return avg && !stale ? (avg + sample) / 2 : sample;
}

void dg_worker_branch_pushed(struct worker *w, int64_t step_ms)
{
	w->branch.push_ms = smooth(w->branch.push_ms, &w->branch.push_at, step_ms > 0 ? step_ms : 1);
}

/*
 * How long a push of ours holds the branch at risk: from the tip our fetch
 * saw to the ref update, about a fetch and a step. Both are measured
 * apart, so that a worker that stands aside - and only fetches - follows
 * the host's pace as it changes (a turn of 8 s while 32 workers start, a
 * few hundred ms later).
 */
int64_t dg_worker_branch_turn_ms(const struct worker *w)
{
	const struct dg_branch_watch *b = &w->branch;

	if (b->fetch_ms && b->push_ms)
		return b->fetch_ms + b->push_ms;
	return w->turn_ms_avg;
}

void dg_worker_branch_observe(struct worker *w, int64_t fetch_ms)
{
	struct dg_branch_watch *b = &w->branch;
	const char *tip = dg_store_tip(w->store);
	struct walk k = { w, dg_now_ms(), 0, 0, 0 };
	size_t walked = 0;

	if (!tip || !*tip)
		return;
	if (fetch_ms >= 0)
		b->fetch_ms = smooth(b->fetch_ms, &b->fetch_at, fetch_ms > 0 ? fetch_ms : 1);
	if (b->tip[0] && strcmp(b->tip, tip))
		walked = dg_store_walk_since(w->store, b->tip, BUSY_COUNT_MAX, one_commit, &k);
	/* a history we could not follow back counts as the most a look counts */
	b->commits += walked >= BUSY_COUNT_MAX ? BUSY_COUNT_MAX : k.others;
	b->claims_seen = k.claims;
	snprintf(b->tip, sizeof(b->tip), "%s", tip);
	b->peek_tip[0] = '\0';
	b->peek_skips = 0;
	b->recheck = false;
	b->head = (b->head + 1) % DG_BRANCH_LOOKS;
	b->looks[b->head].ms = k.now;
	b->looks[b->head].commits = b->commits;
	if (b->nr < DG_BRANCH_LOOKS)
		b->nr++;
}

/* A member store changed (worker_members.c): what we saw of the old branch says nothing of the new. */
void dg_worker_branch_forget(struct worker *w)
{
	memset(&w->branch, 0, sizeof(w->branch));
}

/*
 * The oldest look within the window, and at least the one before the
 * newest (the newest when there is no other): a worker back from standing
 * aside for longer than the window judges the branch by what it gained
 * since - judged by the window alone, it saw no rate at all, and claimed
 * into the middle of a busy branch (bench-collapse.sh, 32 workers).
 */
static size_t oldest_look(const struct dg_branch_watch *b, int64_t now)
{
	size_t oldest = b->head;

	for (size_t k = 1; k < b->nr; k++) {
		size_t i = (b->head + DG_BRANCH_LOOKS - k) % DG_BRANCH_LOOKS;
		if (k > 1 && now - b->looks[i].ms > BUSY_WINDOW_MS)
			break;
		oldest = i;
	}
	return oldest;
}

double dg_worker_branch_busy(const struct worker *w)
{
	const struct dg_branch_watch *b = &w->branch;
	size_t oldest;
	int64_t span;

	if (b->nr < 2 || dg_worker_branch_turn_ms(w) <= 0)
		return 0;
	oldest = oldest_look(b, dg_now_ms());
	span = b->looks[b->head].ms - b->looks[oldest].ms;
	if (span < BUSY_MIN_SPAN_MS)
		return 0;
	return (double)(b->commits - b->looks[oldest].commits) * (double)dg_worker_branch_turn_ms(w) / (double)span;
}

size_t dg_worker_branch_pushers(const struct worker *w)
{
	int64_t now = dg_now_ms();
	size_t n = 0;

	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++)
		n += w->branch.authors[i].id[0] && now - w->branch.authors[i].ms <= BUSY_WINDOW_MS;
	return n;
}

/*
 * Another node may hold work to report: the newest of its commits that our
 * looks saw claimed tasks, at most HOLDS_MEMORY_MS ago (an hour: longer
 * than most tasks run; a node that died holding claims costs only a sit-out
 * that protects nobody, worker.c). One whose newest commit claimed nothing
 * - a report after it yielded quick tasks, a registration, a stop - holds
 * nothing we know of. A node whose claims predate our first look is
 * unknown until its next commit: its report then wins the race as any
 * other push does, and its leases grow with the crowd all the same
 * (dg_worker_crowd_seconds).
 */
bool dg_worker_branch_others_hold(const struct worker *w)
{
	int64_t now = dg_now_ms();

	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++) {
		if (w->branch.authors[i].id[0] && w->branch.authors[i].holds &&
		    now - w->branch.authors[i].ms <= HOLDS_MEMORY_MS)
			return true;
	}
	return false;
}

/*
 * How many push to this grid as far as we can tell: the registered nodes,
 * or the others whose commits we saw lately and ourselves, and at least
 * two after a race we lost lately. Registrations ride on first claims, so
 * a fleet that arrives together is registered only as it wins: counting
 * the registered alone, 31 of 32 newcomers raced their first claims twice
 * before any stood aside (bench-collapse.sh).
 */
size_t dg_worker_crowd_nodes(const struct worker *w)
{
	size_t n = w->nodes_seen, pushing = dg_worker_branch_pushers(w) + 1;

	n = pushing > n ? pushing : n;
	if (n < 2 && dg_now_ms() < w->contended_until)
		n = 2;
	return n;
}

/* The queue's length now, for the pace it drains at while we stand aside. */
static void note_queue(struct worker *w)
{
	struct dg_branch_watch *b = &w->branch;
	int64_t now = dg_now_ms();
	size_t queued = 0;

	if (dg_layout_walk_store(w->store, DG_DIR_QUEUE, count_entry, &queued) < 0)
		return;
	if (!b->queue_first_ms || now - b->queue_first_ms > QUEUE_SPAN_MS || queued > b->queue_first) {
		b->queue_first_ms = now;
		b->queue_first = queued;
	}
	b->queue_last_ms = now;
	b->queue_last = queued;
}

/* How long (ms) the queue lasts at the pace it shrank between our first and last look; -1: it did not shrink. */
static double drain_ms(const struct dg_branch_watch *b)
{
	if (b->queue_first <= b->queue_last)
		return -1;
	return (double)b->queue_last * (double)(b->queue_last_ms - b->queue_first_ms) /
	       (double)(b->queue_first - b->queue_last);
}

/* The queue would not be empty within a wait (STAND_ASIDE_MAX_MS) at that pace, or did not shrink at all. */
static bool slow_drain(const struct dg_branch_watch *b)
{
	double drain = drain_ms(b);

	return drain < 0 || drain > (double)STAND_ASIDE_MAX_MS;
}

/* Our registration is on the branch we hold (it rides on our first claim). */
bool dg_worker_branch_registered(struct worker *w)
{
	char path[300];
	struct dg_strbuf data = DG_STRBUF_INIT;
	int ret;

	snprintf(path, sizeof(path), "nodes/%s.json", w->me);
	ret = dg_store_read(w->store, path, &data);
	dg_strbuf_release(&data);
	return ret != DG_ENOTFOUND;
}

/*
 * Claims of ours we do not run can exist only once we are registered:
 * one that never landed a step has none to adopt, however many races it
 * lost. Nor does a step that lost its race leave any: the host refused
 * its push (adopt_race_only). A registered worker that lost the race for
 * a queue's first claim otherwise never stood aside, and carried a part
 * of the queue beside the winner.
 */
static bool may_hold_claims(struct worker *w)
{
	return w->need_adopt && !w->adopt_race_only && dg_worker_branch_registered(w);
}

/* Holding nothing, a push of ours would only claim: we may leave the branch to others. */
static bool would_only_claim(struct worker *w)
{
	return !w->budget && !w->jobs_nr && !w->backlog_nr && !w->pending_nr && !w->requeue_nr && !w->stopping &&
	       dg_worker_crowd_nodes(w) >= 2 && !may_hold_claims(w);
}

bool dg_worker_stand_aside(struct worker *w)
{
	bool quiet = w->branch.peek_quiet, fresh = w->branch.fresh_move;
	double busy;

	/* both say what this turn's peek saw, and no later turn's */
	w->branch.peek_quiet = false;
	w->branch.fresh_move = false;
	if (!would_only_claim(w)) {
		/* a worker that held work starts its count of looks afresh */
		w->branch.aside_streak = 0;
		return false;
	}
	busy = dg_worker_branch_busy(w);
	/*
	 * The rate over the window lags when a queue has just arrived: a
	 * worker that looked every second while the grid was still saw a
	 * claim or two in 15 s, not a busy branch. Two signs say it is
	 * taken all the same, for a worker that fetched a first move after
	 * a still branch (dg_worker_peek): that fetch brought another node's
	 * claim - somebody carries the queue already - or the claim it made
	 * of what it found lost its race. Claiming then made a second and a
	 * third carrier that raced the first for the rest of the drain.
	 * Only then: a worker that lost a race for tasks the winner cannot
	 * run (requires) stood aside for 10 s and more while they waited
	 * (t0395).
	 */
	if (fresh && !w->branch.claims_seen)
		w->branch.fresh_claim = true;
	if (((fresh && w->branch.claims_seen) || (w->branch.fresh_claim && w->conflicts)) && busy < STAND_ASIDE_BUSY)
		busy = STAND_ASIDE_BUSY;
	/*
	 * Never for long: a worker that can run what the busy ones cannot
	 * (requires, replicas) would otherwise wait for as long as they
	 * keep the branch busy. A peek that saw the branch unchanged for a
	 * whole wait is the surest sign that it is free now, whatever it
	 * gained before that (busy counts since the previous fetch).
	 */
	if (quiet || busy < STAND_ASIDE_BUSY || w->branch.aside_streak >= STAND_ASIDE_STREAK_MAX) {
		w->branch.queue_first_ms = 0;
		w->branch.aside_streak = 0;
		return false;
	}
	note_queue(w);
	/*
	 * Standing aside pays only while the busy ones take the queue: one
	 * that did not shrink since our first look holds what they do not
	 * claim (replicas they ran, requires they lack) or grows faster than
	 * they drain it; one that shrinks but would last longer than a wait
	 * (STAND_ASIDE_MAX_MS) at the pace seen needs more hands. Without
	 * that rule, 3 carriers of 2-second tasks kept the branch busy while
	 * 29 of 32 workers stood aside for 4 minutes (bench-collapse.sh with
	 * `sleep 2` tasks: 320 tasks in 295 s, where 32 workers need 20).
	 */
	if (w->branch.aside_streak && w->branch.queue_last && w->branch.queue_last_ms > w->branch.queue_first_ms &&
	    slow_drain(&w->branch)) {
		w->branch.queue_first_ms = 0;
		w->branch.aside_streak = 0;
		return false;
	}
	w->branch.aside_streak++;
	dg_log(DG_LOG_DEBUG, "node=%s event=stand-aside busy=%.2f pushers=%zu turn_ms=%lld", w->me, busy,
	       dg_worker_branch_pushers(w), (long long)dg_worker_branch_turn_ms(w));
	return true;
}

/*
 * Another node that pushed lately leads: more of its commits than of ours
 * went by our looks, or as many and its id sorts first.
 */
static bool leading_pusher(const struct worker *w)
{
	int64_t now = dg_now_ms();

	for (size_t i = 0; i < DG_BRANCH_AUTHORS; i++) {
		const char *id = w->branch.authors[i].id;
		uint64_t theirs = w->branch.authors[i].commits;

		if (id[0] && now - w->branch.authors[i].ms <= BUSY_WINDOW_MS &&
		    (theirs > w->branch.own || (theirs == w->branch.own && strcmp(id, w->me) < 0)))
			return true;
	}
	return false;
}

/*
 * Tasks quicker than a turn need one carrier, not several: a worker runs
 * them as fast as another could start them, and each carrier more adds a
 * push per batch to a branch that is already taken most of the time. So
 * a worker about to report quick tasks on a busy branch (the share of
 * STAND_ASIDE_BUSY, as for the idle) claims no more when another node
 * that pushed lately leads: the carriers agree without talking on who goes
 * on - the one with the most commits, then the first by id - and the
 * others report and stand aside. With 8 workers on trivial tasks, 4
 * carriers took turns and each push lost two races on average: the grid
 * ran half as fast as one worker (bench-collapse.sh WARM=1). Until 0.13.3
 * the first by id went on, so each idle worker that came back to claim
 * (standing aside has a limit) and sorted first took the queue over: 8
 * workers, all registered, changed carriers six times in one drain.
 * Tasks longer than a turn leave the branch free between reports, and
 * every worker keeps claiming.
 */
bool dg_worker_yields_quick_tasks(const struct worker *w, size_t queued)
{
	int64_t turn = dg_worker_branch_turn_ms(w);

	/*
	 * Only while the queue holds more than a batch: the last tasks may
	 * be ones the carrier cannot run (requires), and a worker that
	 * yielded looks again only after standing aside (t0395).
	 */
	return !w->budget && w->pending_nr && queued > w->policy.claim_batch_max && w->task_ms_avg > 0 &&
	       w->task_ms_avg < turn && dg_worker_branch_busy(w) >= STAND_ASIDE_BUSY && leading_pusher(w);
}

bool dg_worker_branch_unfetched(const struct worker *w)
{
	return w->branch.peek_tip[0] && strcmp(w->branch.peek_tip, w->branch.tip);
}

/*
 * A worker that holds nothing looks with a peek first (dg_store_peek: the
 * ref advertisement, no pack) when it stood aside or waits with an empty
 * queue for the grid to drain. A fetch after a busy wait makes the host
 * pack every commit since the worker's last one, and with 31 workers idle
 * while one drained trivial tasks those fetches took most of the host's
 * CPU (git's pack-objects, bench-collapse.sh). So:
 *  - a branch whose tip is the one we hold needs no fetch: the look
 *    counts as one (DG_PEEK_CURRENT; the idle of a quiet grid made two
 *    connections a look, the peek's and the fetch's) - except on a grid
 *    of heartbeats, whose refs the peek does not see;
 *  - a branch that did not move since the last look is fetched, and a
 *    worker that stood aside then claims (peek_quiet: the branch stayed
 *    free for a whole wait; so it does on the tip it holds);
 *  - a branch that moved is peeked at again after a random time between
 *    one turn and (the nodes that push x a turn), at most RECHECK_MAX_MS:
 *    moved again, others keep it busy and take what comes - no fetch, and
 *    the wait of a worker that stands aside, queue or not; still, it is
 *    fetched. A submission seen by 32 idle workers at once used to make
 *    all of them fetch its tasks and race for them (11 s before the first
 *    claim); now the first recheck claims and the later ones see it
 *    moving;
 *  - a worker that never claimed here (not registered) rechecks after a
 *    random time between one turn and RECHECK_MAX_MS. The nodes that
 *    push count only those we saw, and a fleet that started idle is not
 *    registered (doc/protocol.md): with 3 registered and 29 unseen, all
 *    32 rechecked within a few turns, found the branch still, and fetched
 *    and built the same intake of 1,000 submissions at once - 11 s to the
 *    first claim on 2 cores, where one worker alone needed 0.4 s. The
 *    registered, who have claimed here before, go first;
 *  - on a grid with a fetch budget nobody peeks: the budget paces the
 *    looks already, and a host counts a peek as a read as it counts a
 *    fetch (t0382: a peek and its recheck before each fetch made 52
 *    connections in a minute under a budget of 30);
 *  - a look a minute (PEEK_FETCH_EVERY_MS) after the last fetch fetches
 *    a branch that moved, even one that keeps moving: for the queue's
 *    pace, what the busy ones leave (dg_worker_stand_aside compares the
 *    queue with its first look), orphans to reap - but only at the
 *    recheck: a fleet idle for a minute sees a submission as a crowd
 *    that just arrived, and spreads its fetches the same way (it fetched
 *    at once until 0.14.1). At every fourth look, as 0.12.1 had
 *    it, 7 idle workers fetched 20 s of a busy branch's history at once,
 *    and the one worker that carried the queue waited 3.6 s for its push.
 *    The streak of looks that stood aside counts fetches only.
 * Peek failures say nothing: the fetch that follows reports them.
 */
enum dg_peek dg_worker_peek(struct worker *w, int64_t *again_ms)
{
	struct dg_branch_watch *b = &w->branch;
	const char *seen = b->peek_tip[0] ? b->peek_tip : b->tip, *have = dg_store_tip(w->store);
	int64_t turn = dg_worker_branch_turn_ms(w), most;
	bool moved, stale, recheck = b->recheck;
	char tip[41];

	b->recheck = false;
	b->fresh_move = false;
	/* a fetch budget paces the looks, and counts a peek as a read like a fetch */
	if (!b->tip[0] || !b->nr || dg_policy_fetch_budget(&w->policy, w->repo_url) || !would_only_claim(w) ||
	    dg_store_peek(w->store, tip) < 0)
		return DG_PEEK_FETCH;
	stale = dg_now_ms() - b->looks[b->head].ms >= PEEK_FETCH_EVERY_MS;
	moved = strcmp(tip, seen) != 0;
	snprintf(b->peek_tip, sizeof(b->peek_tip), "%s", tip);
	b->peek_quiet = !moved;
	/*
	 * The tip we hold: a fetch would bring nothing. Fetching anyway made
	 * every idle look two connections (the ref advertisement twice). Not
	 * on a grid of heartbeats: they move refs of their own, which the
	 * peek does not compare, and a reaper that judged them unchanged
	 * because the branch was reaped a live node's task (t0371).
	 */
	if (tip[0] && have && !strcmp(tip, have) && !dg_policy_heartbeats(&w->policy))
		return DG_PEEK_CURRENT;
	if (!moved)
		return DG_PEEK_FETCH;
	/*
	 * The first move after a look that found the branch still is most
	 * likely a submission: a registered worker fetches it at once
	 * (fresh_move). The registered idle look about four times a
	 * PULL_INTERVAL between them, so the first to see it claims within
	 * a look or two; rechecking first made a fleet of 32 claim 1.2-2.8 s
	 * after the submission, where one worker alone needed 0.3-1.2 s
	 * (bench-collapse.sh WARM=1). Those who fetch after somebody claimed
	 * stand aside (dg_worker_stand_aside), and those who lose the race
	 * for the first claim do so at their next look.
	 */
	if (!recheck && w->quiet_looks >= 1 && dg_worker_branch_registered(w)) {
		b->fresh_move = true;
		return DG_PEEK_FETCH;
	}
	if (!recheck) {
		turn = turn > 0 ? turn : 1;
		most = dg_worker_branch_registered(w) ? (int64_t)dg_worker_crowd_nodes(w) * turn : RECHECK_MAX_MS;
		most = most < RECHECK_MAX_MS ? most : RECHECK_MAX_MS;
		most = most > turn ? most : turn;
		*again_ms = turn + arc4random_uniform((uint32_t)(most - turn) + 1);
		b->recheck = true;
		return DG_PEEK_AGAIN;
	}
	if (stale)
		return DG_PEEK_FETCH;
	/*
	 * One fetched look of the queue gives no pace: a second, PACE_LOOK_MS
	 * later, tells whether the busy ones drain it within a wait. Until
	 * then a busy branch was peeked at and never fetched but once a
	 * minute, and a worker stood aside for four such looks whatever the
	 * pace (above).
	 */
	if (b->queue_first_ms && b->queue_last_ms == b->queue_first_ms && dg_now_ms() - b->queue_first_ms >= PACE_LOOK_MS)
		return DG_PEEK_FETCH;
	b->peek_skips++;
	dg_log(DG_LOG_DEBUG, "node=%s event=peek moved=1 skipped_fetches=%u", w->me, b->peek_skips);
	return DG_PEEK_BUSY;
}

/*
 * Before a worker that stood aside knows the queue's pace (a first look,
 * or a peek: it saw the tip, not the queue), it looks again after about
 * the nodes that push x our turn, so that those that stand aside look
 * about once a turn between them. Each look is a connection the host
 * serves: at a quarter of that, 30 workers standing aside while one
 * drained the queue made 3 fetches a second, and git's upload-pack and
 * pack-objects took 60 % of the 2 CPUs the one worker needed
 * (bench-collapse.sh, perf).
 *
 * A worker that never claimed here counts only the nodes it saw push,
 * not the others like it (a fleet that started idle is mostly not
 * registered, doc/protocol.md): 31 of them, each counting a crowd of 2,
 * looked every 0.5-1.5 s while one worker drained 1,000 trivial tasks,
 * 120-230 connections in a drain of 9-19 s. So it waits as long as a
 * recheck may (RECHECK_MAX_MS) at least; the registered go first, and
 * one that is needed still comes back within a few looks.
 */
int64_t dg_worker_aside_no_pace_ms(struct worker *w)
{
	int64_t ms = (int64_t)dg_worker_crowd_nodes(w) * dg_worker_branch_turn_ms(w);

	if (ms < UNSEEN_ASIDE_MS && !dg_worker_branch_registered(w))
		ms = UNSEEN_ASIDE_MS;
	return ms < STAND_ASIDE_FLOOR_MAX_MS ? ms : STAND_ASIDE_FLOOR_MAX_MS;
}

/*
 * About when the queue should be empty at the pace it shrank over the
 * window - then an --exit-when-idle worker sees the grid drained soon
 * after it is, and one that is needed still comes back within
 * STAND_ASIDE_MAX_MS - never sooner than floor_ms (the idle poll).
 * Without a pace yet (a first look, a queue that grew) no_pace_ms: the
 * next look measures one, and a queue the others do not take is claimed
 * from then (above).
 */
int64_t dg_worker_stand_aside_ms(const struct worker *w, int64_t floor_ms, int64_t no_pace_ms)
{
	const struct dg_branch_watch *b = &w->branch;
	int64_t ms = no_pace_ms, span = b->queue_last_ms - b->queue_first_ms;
	double drain = drain_ms(b);

	if (b->queue_first_ms && span > 0 && drain >= 0)
		ms = drain < (double)STAND_ASIDE_MAX_MS ? (int64_t)drain : STAND_ASIDE_MAX_MS;
	if (ms > STAND_ASIDE_MAX_MS)
		ms = STAND_ASIDE_MAX_MS;
	if (ms < floor_ms)
		ms = floor_ms;
	ms = ms / 2 + arc4random_uniform((uint32_t)ms + 1);
	return ms > floor_ms ? ms : floor_ms;
}
