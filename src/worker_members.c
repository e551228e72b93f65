/*
 * worker_members.c - a worker on a grid of several repositories (members.h,
 * doc/protocol.md "Several repositories").
 *
 * The worker works on one member at a time: its store, spool, reaper,
 * policy and push slots are that member's. It starts on the member its
 * node id hashes to (or on one whose spool holds undelivered results), and
 * moves only while it holds nothing there - no task running or waiting, no
 * result or hand-back unreported - so every claim and result stays in the
 * repository it belongs to. While idle it looks at one other member each
 * idle poll interval (one fetch, which costs the host an unchanged ref
 * advertisement when nothing moved there) and moves to the first that has
 * queued tasks it could claim.
 */
#include "error.h"
#include "layout.h"
#include "log.h"
#include "worker_int.h"

#include <unistd.h>

static void redacted(char *out, size_t size, const char *url)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_redact(&sb, url);
	snprintf(out, size, "%s", sb.buf);
	dg_strbuf_release(&sb);
}

int dg_worker_fetch_policy(struct worker *w)
{
	struct dg_strbuf pol = DG_STRBUF_INIT;
	int ret = dg_store_fetch(w->store);

	if (ret == 0)
		ret = dg_worker_policy(w, dg_store_read(w->store, "dgrid.json", &pol) ? NULL : &pol);
	dg_strbuf_release(&pol);
	return ret;
}

static int open_member_store(struct worker *w, size_t k)
{
	struct dg_config cfg = w->opts->cfg;
	struct dg_store_opts so;

	if (w->stores[k])
		return 0;
	cfg.repo_url = w->members.urls[k];
	dg_config_store_opts(&cfg, &so, w->me);
	so.author = w->me;
	/* one attempt per transaction: the loop paces retries (worker.c) */
	so.max_attempts = 1;
	so.backoff_max_ms = 40;
	return dg_store_open(&w->stores[k], &so);
}

/* The spool of member k: the home's is the one every version used. */
static char *member_spool_dir(const struct worker *w, size_t k)
{
	if (!k)
		return dg_xstrdup(w->spool_base);
	return dg_xasprintf("%s-member-%08x", w->spool_base, dg_members_hash(w->members.urls[k]));
}

/* Makes member k the one the worker works on: its store, spool and reaper. */
static int bind_member(struct worker *w, size_t k)
{
	char *dir = member_spool_dir(w, k);
	int ret;

	w->current = k;
	w->repo_url = w->members.urls[k];
	w->store = w->stores[k];
	dg_worker_branch_forget(w);
	redacted(w->snap.repo, sizeof(w->snap.repo), w->repo_url);
	ret = dg_spool_open(&w->spool, dir);
	if (ret == 0)
		ret = dg_spool_load(&w->spool, &w->pending, &w->pending_nr);
	w->pending_alloc = w->pending_nr;
	w->reaper = dg_reaper_new(w->store, w->me);
	dg_reaper_spare_own(w->reaper);
	if (ret == 0)
		ret = dg_worker_identity_bind(w, dir);
	free(dir);
	return ret;
}

/*
 * Forgets what the worker knew of the member it leaves: the next one has
 * its own tip, policy, registration, push slots and crowd.
 */
static void unbind_member(struct worker *w)
{
	dg_worker_budget_forget(w);
	dg_reaper_free(w->reaper);
	w->reaper = NULL;
	dg_worker_identity_unbind(w);
	dg_spool_release(&w->spool);
	free(w->pending);
	w->pending = NULL;
	w->pending_nr = w->pending_alloc = 0;
	w->policy = dg_policy_default;
	w->policy_noted[0] = '\0';
	w->need_adopt = true;
	w->adopt_race_only = false;
	dg_worker_queue_seen(w, false);
	w->last_step_tip[0] = '\0';
	w->tip_is_ours = false;
	w->next_step = w->next_reap = 0;
	w->next_heartbeat = 0;
	w->compact_refused = false;
	w->poll_ms_logged = 0;
	w->batch_deadline = 0;
	w->conflicts = w->crowd = 0;
	w->nodes_seen = 0;
	w->poll_shares = 0;
	w->poll_share_me = 1.0;
	w->contended_until = 0;
	w->hb_capped = false;
	w->budget = 0;
	memset(&w->slot, 0, sizeof(w->slot));
	w->next_push_ms = w->join_after_ms = w->slot_moved_at = 0;
	w->join_losses = 0;
	w->registered = false;
	w->join_ref = w->on_main = false;
	w->joined_at[0] = '\0';
	/* a rescue ref is the member's we leave (we hold nothing there); the next one's is learnt at register */
	w->rescue_ref = w->rescue_spare = false;
	w->rescue_retry_at = 0;
}

/*
 * Says goodbye to the member it leaves where that matters: a heartbeat
 * grid would otherwise see a stale node, and a budget grid would keep a
 * push slot for it. A failure only costs the others a while (the node's
 * timeout; a slot nobody uses) and is logged.
 */
static void leave_member(struct worker *w)
{
	int ret = 0;

	if (dg_policy_heartbeats(&w->policy))
		ret = dg_worker_heartbeat(w, "stopped");
	if (ret == 0 && w->budget && (w->registered || w->join_ref))
		ret = dg_worker_unregister(w);
	if (ret < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=leave-failed error=\"%s\"", w->me, dg_error_last());
}

static int spool_holds_results(const struct worker *w, size_t k)
{
	char *dir = member_spool_dir(w, k);
	struct dg_spool sp;
	struct dg_result *res = NULL;
	size_t nr = 0;
	int found = 0;

	if (access(dir, F_OK) == 0 && dg_spool_open(&sp, dir) == 0) {
		if (dg_spool_load(&sp, &res, &nr) == 0)
			found = nr > 0;
		for (size_t i = 0; i < nr; i++)
			dg_result_release(&res[i]);
		free(res);
		dg_spool_release(&sp);
	}
	free(dir);
	return found;
}

int dg_worker_members_init(struct worker *w, const char *spool_dir)
{
	struct dg_strbuf pol = DG_STRBUF_INIT;
	size_t start;

	w->spool_base = dg_xstrdup(spool_dir);
	bool has_policy = dg_store_read(w->store, "dgrid.json", &pol) == 0;

	/* an invalid list leaves the home alone, said once */
	if (dg_members_read(&w->members, w->opts->cfg.repo_url, has_policy ? pol.buf : NULL, pol.len) < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=members-invalid error=\"%s\"", w->me, dg_error_last());
	dg_strbuf_release(&pol);
	w->stores = dg_xcalloc(w->members.nr, sizeof(*w->stores));
	w->drained = dg_xcalloc(w->members.nr, sizeof(*w->drained));
	w->refused = dg_xcalloc(w->members.nr, sizeof(*w->refused));
	w->stores[0] = w->store;
	/* results a previous run left undelivered go first to where they belong */
	start = dg_members_start(&w->members, w->me);
	for (size_t k = 0; k < w->members.nr; k++) {
		if (spool_holds_results(w, k)) {
			start = k;
			break;
		}
	}
	w->peek_next = (start + 1) % w->members.nr;
	if (w->members.nr > 1)
		dg_log(DG_LOG_INFO, "node=%s event=members count=%zu start=%zu", w->me, w->members.nr, start);
	if (start && open_member_store(w, start) < 0) {
		dg_log(DG_LOG_WARNING, "node=%s event=member-unreachable member=%zu error=\"%s\"",
		       w->me, start, dg_error_last());
		start = 0;
	}
	if (bind_member(w, start) < 0)
		return DG_ERROR;
	if (start && dg_worker_fetch_policy(w) == DG_EPROTOCOL) {
		/* a member that needs a newer dgrid: work at home instead */
		dg_log(DG_LOG_WARNING, "node=%s event=member-refused member=%zu error=\"%s\"", w->me, start, dg_error_last());
		unbind_member(w);
		if (bind_member(w, 0) < 0)
			return DG_ERROR;
		return dg_worker_fetch_policy(w);
	}
	return 0;
}

void dg_worker_members_release(struct worker *w)
{
	for (size_t k = 0; k < w->members.nr; k++)
		dg_store_free(w->stores[k]);
	w->store = NULL;
	free(w->stores);
	free(w->drained);
	free(w->refused);
	free(w->spool_base);
	dg_members_release(&w->members);
}

struct look {
	size_t queued, running;
};

static int count_queued(const struct dg_entry *e, void *payload)
{
	((struct look *)payload)->queued += e->is_file;
	return 0;
}

static int count_running(const struct dg_entry *e, void *payload)
{
	((struct look *)payload)->running += e->is_file;
	return 0;
}

/* Fetches member k: what it has queued and running; < 0 when unreachable or too new for us. */
static int look_at(struct worker *w, size_t k, struct look *l)
{
	struct dg_strbuf pol = DG_STRBUF_INIT;
	struct dg_policy policy = dg_policy_default;
	int ret;

	memset(l, 0, sizeof(*l));
	if ((ret = open_member_store(w, k)) < 0 || (ret = dg_store_fetch(w->stores[k])) < 0)
		return ret;
	if (!dg_store_read(w->stores[k], "dgrid.json", &pol) &&
	    dg_policy_parse(&policy, pol.buf, pol.len) == 0 && dg_policy_check_protocol(&policy) < 0)
		ret = DG_EPROTOCOL;
	dg_strbuf_release(&pol);
	if (ret == 0)
		ret = dg_layout_walk_store(w->stores[k], DG_DIR_QUEUE, count_queued, l);
	if (ret == 0)
		ret = dg_layout_walk_store(w->stores[k], DG_DIR_RUNNING, count_running, l);
	return ret;
}

bool dg_worker_holds_nothing(const struct worker *w)
{
	return !w->stopping && !w->jobs_nr && !w->backlog_nr && !w->pending_nr && !w->requeue_nr;
}

static int switch_to(struct worker *w, size_t k)
{
	int ret;

	unbind_member(w);
	if (bind_member(w, k) < 0)
		dg_log(DG_LOG_ERROR, "node=%s event=spool-failed error=\"%s\"", w->me, dg_error_last());
	if ((ret = dg_worker_fetch_policy(w)) == 0) {
		dg_worker_budget_update(w);
		ret = dg_worker_register(w);
	}
	return ret;
}

static void move_to(struct worker *w, size_t k)
{
	char from[256], to[256];
	size_t back = w->current;
	int ret;

	redacted(from, sizeof(from), w->repo_url);
	redacted(to, sizeof(to), w->members.urls[k]);
	leave_member(w);
	dg_log(DG_LOG_INFO, "node=%s event=moved from=\"%s\" to=\"%s\" member=%zu", w->me, from, to, k);
	ret = switch_to(w, k);
	if (ret == DG_EINVALID) {
		/*
		 * A live worker there uses our node id: two nodes of one id
		 * would adopt each other's claims. Never again this run.
		 */
		dg_log(DG_LOG_ERROR, "node=%s event=member-refused member=%zu error=\"%s\"", w->me, k, dg_error_last());
		w->refused[k] = true;
		ret = switch_to(w, back);
	}
	/* a network failure here is the loop's to retry, like any step's */
	if (ret < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=member-start-failed error=\"%s\"", w->me, dg_error_last());
}

int dg_worker_look_around(struct worker *w)
{
	size_t k = w->peek_next;
	struct look l;
	int ret;

	if (w->members.nr < 2)
		return 0;
	if (k == w->current)
		k = (k + 1) % w->members.nr;
	w->peek_next = (k + 1) % w->members.nr;
	if (w->refused[k]) {
		w->drained[k] = true;   /* nothing there is ours to wait for */
		return 0;
	}
	ret = look_at(w, k, &l);
	w->drained[k] = ret == 0 && !l.queued && !l.running;
	if (ret < 0) {
		dg_log(DG_LOG_DEBUG, "node=%s event=member-look-failed member=%zu error=\"%s\"", w->me, k, dg_error_last());
		return 0;
	}
	if (!l.queued)
		return 0;
	move_to(w, k);
	memset(w->drained, 0, w->members.nr * sizeof(*w->drained));
	return 1;
}

bool dg_worker_members_drained(const struct worker *w)
{
	for (size_t k = 0; k < w->members.nr; k++)
		if (k != w->current && !w->drained[k])
			return false;
	return true;
}
