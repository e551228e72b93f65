#include "pick.h"
#include "replica.h"
#include "cancel.h"
#include "deps.h"
#include "deps_stamp.h"
#include "error.h"
#include "layout.h"

#include <stdlib.h>

/* submitter groups a step samples in one lane, at most (a random choice of them) */
#define GROUPS_PER_LANE 32

struct sampler {
	struct dg_pick *p;
	struct dg_txn *txn;
	size_t at_least[DG_PRIORITY_MAX + 2];   /* candidates of priority >= i */
	size_t target;                           /* sample until at_least[prio] reaches it */
	unsigned round;                          /* candidates taken from the current group */
	char **dirs;                             /* shards listed, not yet visited */
	size_t dirs_nr, dirs_alloc;
	char **groups;                           /* submitter groups of a lane's top, not yet visited */
	size_t groups_nr, groups_alloc;
	bool flat;                               /* listing the queue's top: remember flat files */
	bool lane_top;                           /* listing a lane's top: groups count */
	/* for the memo (pick_memo.h): what a shard held that it cannot remember */
	unsigned unstable;                       /* verdicts that depend on more than the file */
	unsigned incomplete;                     /* shards or files left unread */
	int64_t shard_ready;                     /* the earliest not_before in the shard being read */
	int64_t shard_judged;                    /* the earliest judged_by of its waiting tasks (pick_memo.h) */
	uint64_t world;                          /* what dependencies are judged by (pick_memo.h) */
	/* the results leaves waiting tasks depend on, from the shards being read (deps_stamp.h) */
	uint16_t *leaves;
	size_t leaves_nr, leaves_alloc;
	unsigned leaves_lost;                    /* shards waiting on more than an entry keeps */
	struct dg_deps_stamper stamper;
};

/* Moves *at to t if t comes first; 0 is none. */
static void earliest(int64_t *at, int64_t t)
{
	if (t && (!*at || t < *at))
		*at = t;
}

static struct dg_pick_refusal *refuse(struct dg_pick *p, const char *path, const char *reason)
{
	struct dg_pick_refusal *r;

	DG_ALLOC_GROW(p->refusals, p->refusals_nr + 1, p->refusals_alloc);
	r = &p->refusals[p->refusals_nr++];
	memset(r, 0, sizeof(*r));
	r->path = dg_xstrdup(path);
	r->reason = dg_xstrdup(reason);
	return r;
}

/* 1: a candidate; 0: not now or never (counted, or refused); < 0: a store error */
static int judge_deps(struct sampler *sa, const struct dg_entry *e, const struct dg_task *t)
{
	enum dg_deps_verdict v;
	char why[512];
	int ret;

	if (!t->sched.deps_nr)
		return 1;
	if ((ret = dg_deps_judge(sa->txn, sa->p->keys, t, &v, NULL, why, sizeof(why))) < 0)
		return ret;
	if (v == DG_DEPS_READY)
		return 1;
	if (v == DG_DEPS_BLOCKED) {
		sa->p->blocked++;
		/* its dependencies' results decide when it may run (for the memo) */
		if (!sa->p->memo)
			return 0;
		earliest(&sa->shard_judged, sa->p->now + DG_PICK_MEMO_WAIT_S);
		DG_ALLOC_GROW(sa->leaves, sa->leaves_nr + t->sched.deps_nr, sa->leaves_alloc);
		for (size_t i = 0; i < t->sched.deps_nr; i++)
			sa->leaves[sa->leaves_nr++] = dg_results_leaf(t->sched.deps[i]);
	} else if (v == DG_DEPS_DOOMED) {
		struct dg_pick_refusal *r = refuse(sa->p, e->path, why);

		r->doomed_id = dg_xstrdup(t->task_id);
		r->attempt = t->attempt;
	} else {
		refuse(sa->p, e->path, why);
	}
	return 0;
}

/* Reads and judges one queued file: a candidate, a refusal, or one for others or later. */
static int screen(struct sampler *sa, const struct dg_entry *e)
{
	struct dg_pick *p = sa->p;
	struct dg_strbuf data = DG_STRBUF_INIT;
	struct dg_task t = DG_TASK_INIT;
	int ret = 0;

	if (p->refusals_nr >= p->refusals_max) {
		p->skipped++;
		sa->incomplete++;
		return 0;
	}
	if (!e->is_file) {   /* a symlink or submodule named like a task */
		refuse(p, e->path, "not a regular file");
		return 0;
	}
	if (dg_task_check_stored_size(dg_entry_size(e), p->policy) < 0) {
		refuse(p, e->path, dg_error_last());
		return 0;
	}
	/* read as this step changed it (or gone: cancelled), not as the shard's id says */
	if (dg_txn_touched(sa->txn, e->path))
		sa->unstable++;
	if ((ret = dg_txn_read(sa->txn, e->path, &data)) < 0) {
		if (ret == DG_ENOTFOUND)   /* gone in this transaction (cancelled) */
			ret = 0;
		goto out;
	}
	p->read++;
	if (dg_task_parse(&t, data.buf, data.len, e->name, p->policy) < 0) {
		refuse(p, e->path, dg_error_last());
	} else if (dg_cancel_requested(sa->txn, t.task_id, NULL)) {
		/* to be cancelled (cancel.h), not run */
		sa->unstable++;
	} else if ((ret = judge_deps(sa, e, &t)) <= 0) {
		/* waits for its dependencies, or refused: any node may end a doomed one */
	} else if (!dg_sched_fits(&t.sched.req, p->facts, NULL, 0) ||
		   (t.sched.replica_of && p->me && dg_replica_held_elsewhere(sa->txn, &t, p->me, p->mine, p->mine_nr))) {
		ret = 0;
		p->unfit++;
		/* where the other replicas run changes outside this file */
		sa->unstable += t.sched.replica_of != NULL;
	} else if (t.sched.not_before > p->now) {
		ret = 0;
		p->waiting++;
		earliest(&p->ready_at, t.sched.not_before);
		earliest(&sa->shard_ready, t.sched.not_before);
	} else {
		ret = 0;
		DG_ALLOC_GROW(p->cands, p->cands_nr + 1, p->cands_alloc);
		p->cands[p->cands_nr].path = dg_xstrdup(e->path);
		p->cands[p->cands_nr].shuffle_key = arc4random();
		p->cands[p->cands_nr].round = sa->round++;
		for (unsigned i = 0; i <= t.sched.priority; i++)
			sa->at_least[i]++;
		p->cands[p->cands_nr++].task = t;
		memset(&t, 0, sizeof(t));
	}
out:
	dg_task_release(&t);
	dg_strbuf_release(&data);
	return ret;
}

static bool is_shard_name(const char *name)
{
	return name[0] && !name[1] && strchr("0123456789abcdef", name[0]);
}

static int list_entry(const struct dg_entry *e, void *payload)
{
	struct sampler *sa = payload;

	if (e->is_dir) {
		if (is_shard_name(e->name)) {
			DG_ALLOC_GROW(sa->dirs, sa->dirs_nr + 1, sa->dirs_alloc);
			sa->dirs[sa->dirs_nr++] = dg_xstrdup(e->path);
		} else if (sa->lane_top && dg_layout_is_group(e->name)) {
			DG_ALLOC_GROW(sa->groups, sa->groups_nr + 1, sa->groups_alloc);
			sa->groups[sa->groups_nr++] = dg_xstrdup(e->path);
		}
		return 0;
	}
	/* dot files, READMEs, signatures: not tasks, never claimed */
	if (!dg_layout_is_task_name(e->name))
		return 0;
	if (sa->flat) {
		struct dg_pick *p = sa->p;

		DG_ALLOC_GROW(p->flat, p->flat_nr + 1, p->flat_alloc);
		p->flat[p->flat_nr++] = dg_xstrdup(e->path);
	}
	return screen(sa, e);
}

static void shuffle(char **v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = arc4random_uniform((uint32_t)i);
		char *tmp = v[i - 1];

		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

static int sample(struct sampler *sa, const char *dir, unsigned depth, unsigned prio);

/*
 * Visits the shards dirs[0..n) (taking them over) in a random order, each
 * depth - 1 levels deep, until there are want candidates of priority >= prio.
 */
static int sample_dirs(struct sampler *sa, char **dirs, size_t n, unsigned depth, unsigned prio)
{
	int ret = 0;

	shuffle(dirs, n);
	for (size_t i = 0; i < n; i++) {
		if (ret == 0 && sa->at_least[prio] >= sa->target) {
			sa->p->more_queued = sa->p->want > 0;
			sa->incomplete++;
		} else if (ret == 0)
			ret = sample(sa, dirs[i], depth - 1, prio);
		free(dirs[i]);
	}
	return ret;
}

/* What a shard's reading added, to tell whether the memo may keep it. */
struct shard_mark {
	size_t cands, refusals;
	unsigned unfit, waiting, blocked, unstable, incomplete;
	int64_t outer_ready, outer_judged;
	size_t leaves;
	unsigned leaves_lost;
};

/* Passes over the shard with tree id if the memo says it holds nothing for us. */
static bool pass_over(struct sampler *sa, const char *id)
{
	struct dg_pick *p = sa->p;
	struct dg_pick_memo_entry e;

	switch (dg_pick_memo_get(p->memo, id, p->now, &e)) {
	case DG_PICK_MEMO_MISS:
		return false;
	case DG_PICK_MEMO_CHECK:
		/* results landed, but none where these tasks' dependencies would */
		if (dg_deps_leaves_stamp(&sa->stamper, e.leaves, e.leaves_nr) != e.leaves_stamp)
			return false;
		dg_pick_memo_renew(p->memo, id);
		break;
	case DG_PICK_MEMO_HIT:
		break;
	}
	/* what its parent waits on too */
	if (e.blocked && !e.leaves_known) {
		sa->leaves_lost++;
	} else if (e.leaves_nr) {
		DG_ALLOC_GROW(sa->leaves, sa->leaves_nr + e.leaves_nr, sa->leaves_alloc);
		memcpy(sa->leaves + sa->leaves_nr, e.leaves, e.leaves_nr * sizeof(*e.leaves));
		sa->leaves_nr += e.leaves_nr;
	}
	p->unfit += e.unfit;
	p->waiting += e.waiting;
	p->blocked += e.blocked;
	p->passed_over++;
	earliest(&p->ready_at, e.ready_at);
	earliest(&sa->shard_ready, e.ready_at);
	if (e.blocked)
		earliest(&sa->shard_judged, e.judged_by);
	return true;
}

static void shard_begin(struct sampler *sa, struct shard_mark *m)
{
	const struct dg_pick *p = sa->p;

	*m = (struct shard_mark){ p->cands_nr, p->refusals_nr, p->unfit, p->waiting, p->blocked,
				  sa->unstable, sa->incomplete, sa->shard_ready, sa->shard_judged,
				  sa->leaves_nr, sa->leaves_lost };
	sa->shard_ready = sa->shard_judged = 0;
}

static int by_leaf(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/*
 * The leaves the shard's waiting tasks depend on, each once (they stay
 * for the parent's entry). False when there are more than an entry keeps.
 */
static bool shard_leaves(struct sampler *sa, const struct shard_mark *m)
{
	uint16_t *v = sa->leaves + m->leaves;
	size_t n = sa->leaves_nr - m->leaves, k = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), by_leaf);
	for (size_t i = 0; i < n; i++) {
		if (!k || v[i] != v[k - 1])
			v[k++] = v[i];
	}
	sa->leaves_nr = m->leaves + k;
	if (sa->leaves_lost != m->leaves_lost)
		return false;
	if (k > DG_PICK_MEMO_LEAVES_MAX) {
		sa->leaves_lost++;
		return false;
	}
	return true;
}

/* Remembers the shard just read if nothing in it was for us, nor can change without its id. */
static void shard_end(struct sampler *sa, const struct shard_mark *m, const char *id)
{
	const struct dg_pick *p = sa->p;
	int64_t ready = sa->shard_ready;
	bool leaves = shard_leaves(sa, m);

	if (p->cands_nr == m->cands && p->refusals_nr == m->refusals && sa->unstable == m->unstable &&
	    sa->incomplete == m->incomplete) {
		struct dg_pick_memo_entry e = { .unfit = p->unfit - m->unfit, .waiting = p->waiting - m->waiting,
						.ready_at = ready, .blocked = p->blocked - m->blocked,
						.judged_by = sa->shard_judged, .world = sa->world };

		if (e.blocked && leaves) {
			e.leaves_known = true;
			e.leaves = sa->leaves + m->leaves;
			e.leaves_nr = (unsigned)(sa->leaves_nr - m->leaves);
			e.leaves_stamp = dg_deps_leaves_stamp(&sa->stamper, e.leaves, e.leaves_nr);
		}
		dg_pick_memo_put(p->memo, id, &e);
	}
	earliest(&ready, m->outer_ready);
	sa->shard_ready = ready;
	earliest(&sa->shard_judged, m->outer_judged);
}

/* Lists dir: its files are screened, its shards (if depth > 0) sampled. */
static int sample(struct sampler *sa, const char *dir, unsigned depth, unsigned prio)
{
	size_t first = sa->dirs_nr, n;
	char **mine, id[41];
	bool memo = sa->p->memo && dg_txn_tree_id(sa->txn, dir, id) == 0;
	struct shard_mark mark;
	int ret;

	if (memo && pass_over(sa, id))
		return 0;
	shard_begin(sa, &mark);

	sa->lane_top = false;
	if ((ret = dg_txn_list(sa->txn, dir, list_entry, sa)) < 0)
		depth = 0;
	n = sa->dirs_nr - first;
	sa->dirs_nr = first;
	mine = dg_xcalloc(n + 1, sizeof(*mine));
	if (n)
		memcpy(mine, sa->dirs + first, n * sizeof(*mine));
	if (depth > 0) {
		ret = sample_dirs(sa, mine, n, depth, prio);
	} else {
		for (size_t i = 0; i < n; i++)
			free(mine[i]);
	}
	free(mine);
	if (ret < 0)
		sa->incomplete++;
	if (memo)
		shard_end(sa, &mark, id);
	return ret;
}

static void free_all(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/*
 * Samples one lane whose top holds the plain shards (taken over) and the
 * submitter groups (fair share): each is a unit; units are visited in a
 * random order, each until it gave its share of what the lane still
 * needs (more when an earlier one had less), so a bulk submitter's group
 * gives no more than anybody else's.
 */
static int sample_lane(struct sampler *sa, char **shards, size_t shards_nr, char **groups,
		       size_t groups_nr, unsigned prio)
{
	size_t units, base = sa->at_least[prio], need, per;
	int ret = 0;

	shuffle(groups, groups_nr);
	if (groups_nr > GROUPS_PER_LANE) {
		free_all(groups + GROUPS_PER_LANE, groups_nr - GROUPS_PER_LANE);
		groups_nr = GROUPS_PER_LANE;
		sa->p->more_queued = sa->p->want > 0;
	}
	units = groups_nr + (shards_nr > 0);
	need = sa->p->want > base ? sa->p->want - base : 0;
	per = units ? (need + units - 1) / units : 0;
	/* the plain shards take their turn at a random place among the groups */
	size_t plain_at = arc4random_uniform((uint32_t)units + 1);
	for (size_t k = 0, g = 0; k < units; k++) {
		sa->target = base + per * (k + 1);
		if (sa->target > sa->p->want)
			sa->target = sa->p->want;
		sa->round = 0;
		if (shards_nr && (k == plain_at || g == groups_nr)) {
			if (ret == 0)
				ret = sample_dirs(sa, shards, shards_nr, DG_TASK_SHARD_DEPTH, prio);
			else
				free_all(shards, shards_nr);
			shards_nr = 0;
			continue;
		}
		if (ret == 0 && sa->at_least[prio] < sa->p->want)
			ret = sample(sa, groups[g], DG_TASK_SHARD_DEPTH, prio);
		else if (ret == 0)
			sa->p->more_queued = sa->p->want > 0;
		free(groups[g++]);
	}
	free_all(shards, shards_nr);
	sa->target = sa->p->want;
	return ret;
}

/* Lists a lane's top and samples it (sample_lane). */
static int sample_lane_dir(struct sampler *sa, const char *dir, unsigned prio)
{
	char **shards, **groups;
	size_t shards_nr, groups_nr;
	int ret;

	sa->lane_top = true;
	ret = dg_txn_list(sa->txn, dir, list_entry, sa);
	sa->lane_top = false;
	shards = sa->dirs, shards_nr = sa->dirs_nr;
	groups = sa->groups, groups_nr = sa->groups_nr;
	sa->dirs = sa->groups = NULL;
	sa->dirs_nr = sa->dirs_alloc = sa->groups_nr = sa->groups_alloc = 0;
	if (ret == 0) {
		ret = sample_lane(sa, shards, shards_nr, groups, groups_nr, prio);
	} else {
		free_all(shards, shards_nr);
		free_all(groups, groups_nr);
	}
	free(shards);
	free(groups);
	return ret;
}

/*
 * Higher priority first; among equals, the earlier take of its group
 * (submitters in turn), then the random key.
 */
static int by_priority(const void *a, const void *b)
{
	const struct dg_pick_candidate *x = a, *y = b;

	if (x->task.sched.priority != y->task.sched.priority)
		return x->task.sched.priority > y->task.sched.priority ? -1 : 1;
	if (x->round != y->round)
		return x->round < y->round ? -1 : 1;
	return x->shuffle_key < y->shuffle_key ? -1 : x->shuffle_key > y->shuffle_key;
}

int dg_pick_collect(struct dg_pick *p, struct dg_txn *txn)
{
	struct sampler sa = { .p = p, .txn = txn, .flat = true, .lane_top = true, .stamper = DG_DEPS_STAMPER_INIT(txn) };
	struct dg_strbuf lane = DG_STRBUF_INIT;
	char **root = NULL, **root_groups = NULL;
	size_t root_nr, root_groups_nr;
	int ret;

	sa.target = p->want;
	if (p->memo) {
		sa.world = dg_deps_world_stamp(txn);
		dg_pick_memo_world(p->memo, sa.world);
	}
	/* the top of the queue: flat submissions, the plain shards' and groups' names */
	ret = dg_txn_list(txn, DG_DIR_QUEUE, list_entry, &sa);
	root = sa.dirs, root_nr = sa.dirs_nr;
	root_groups = sa.groups, root_groups_nr = sa.groups_nr;
	sa.dirs = sa.groups = NULL;
	sa.dirs_nr = sa.dirs_alloc = sa.groups_nr = sa.groups_alloc = 0;
	sa.flat = sa.lane_top = false;
	for (int prio = DG_PRIORITY_MAX; p->protocol >= DG_SHARDED_PROTOCOL && ret == 0 && prio >= 0; prio--) {
		if (sa.at_least[prio] >= p->want) {
			p->more_queued = p->want > 0;   /* enough: lower lanes wait */
			break;
		}
		if (prio == DG_PRIORITY_DEFAULT) {
			/* its files were read with the flat ones: only its shards and groups now */
			ret = sample_lane(&sa, root, root_nr, root_groups, root_groups_nr, (unsigned)prio);
			root_nr = root_groups_nr = 0;
			continue;
		}
		dg_strbuf_reset(&lane);
		dg_layout_lane_dir(&lane, (unsigned)prio);
		ret = sample_lane_dir(&sa, lane.buf, (unsigned)prio);
	}
	free_all(root, root_nr);
	free_all(root_groups, root_groups_nr);
	free(root_groups);
	free(sa.groups);
	if (p->cands_nr > 1)
		qsort(p->cands, p->cands_nr, sizeof(*p->cands), by_priority);
	free(root);
	free(sa.dirs);
	free(sa.leaves);
	dg_deps_stamper_release(&sa.stamper);
	dg_strbuf_release(&lane);
	return ret;
}

void dg_pick_release(struct dg_pick *p)
{
	for (size_t i = 0; i < p->cands_nr; i++) {
		free(p->cands[i].path);
		dg_task_release(&p->cands[i].task);
	}
	free(p->cands);
	for (size_t i = 0; i < p->refusals_nr; i++) {
		free(p->refusals[i].path);
		free(p->refusals[i].reason);
		free(p->refusals[i].doomed_id);
	}
	free(p->refusals);
	for (size_t i = 0; i < p->flat_nr; i++)
		free(p->flat[i]);
	free(p->flat);
	p->cands = NULL;
	p->refusals = NULL;
	p->flat = NULL;
	p->cands_nr = p->cands_alloc = p->refusals_nr = p->refusals_alloc = 0;
	p->flat_nr = p->flat_alloc = 0;
	p->skipped = p->unfit = p->waiting = p->blocked = 0;
	p->ready_at = 0;
	p->more_queued = false;
	p->read = p->passed_over = 0;
}
