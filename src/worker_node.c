/*
 * worker_node.c - the node's registration file, its heartbeat side ref and
 * the snapshot its web page shows.
 */
#include "jsonio.h"
#include "error.h"
#include "grid.h"
#include "http.h"
#include "log.h"
#include "record.h"
#include "version.h"
#include "worker_int.h"

#include <jansson.h>
#include <signal.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* how long a stopping worker tries to say so in its registration (dg_worker_stop_mark_due; ms) */
#define STOP_MARK_WAIT_MS 15000

/* DGRID_LABELS as split once for matching "requires" (tasksched.h): both must agree */
static json_t *labels_json(const struct dg_node_facts *f)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < f->labels_nr; i++)
		json_array_append_new(arr, json_string(f->labels[i]));
	return arr;
}

/* The static facts of this node, without the registration time. */
static json_t *node_facts(struct worker *w)
{
	struct utsname u;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	uname(&u);
	return json_pack("{s:s, s:s, s:i, s:I, s:s, s:o, s:s, s:i, s:s, s:s, s:i}",
			 "node_id", w->me,
			 "name", w->opts->cfg.hostname[0] ? w->opts->cfg.hostname : w->me,
			 "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
			 "memory_bytes", (json_int_t)pages * page,
			 "arch", u.machine,
			 "labels", labels_json(&w->facts),
			 "version", DG_VERSION,
			 "protocol", DG_PROTOCOL,
			 "executor", w->opts->executor->name,
			 "isolation", w->opts->isolation ? w->opts->isolation : "",
			 "slots", (int)w->opts->cfg.slots);
}

/* The facts and the node's public key (record.h), which observers pin. */
static json_t *node_record(struct worker *w)
{
	json_t *doc = node_facts(w);
	struct dg_strbuf pub = DG_STRBUF_INIT;

	if (w->key.sk) {
		dg_sshkey_format_public(&pub, w->key.pk);
		json_object_set_new(doc, "public_key", json_string(pub.buf));
	}
	dg_strbuf_release(&pub);
	return doc;
}

struct reg {
	struct worker *w;
	json_t *facts;
	bool stopped;             /* mark the node stopped: it gives its push slot up (pushslot.h) */
	bool join;                /* a newcomer on a budget grid: also to refs/dgrid/join/ME */
	bool refresh;             /* write it even with the same facts: a new active_at (pushslot.h) */
	bool member;              /* a schedule's member, or no schedule: a refresh keeps registered_at */
};

/* The join ref's name: refs/dgrid/join/ME. */
static void join_ref_name(char *out, size_t size, const struct worker *w)
{
	snprintf(out, size, "%s%s", DG_JOIN_REF_PREFIX, w->me);
}

static int register_fn(struct dg_txn *txn, void *payload)
{
	struct reg *r = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, old = DG_STRBUF_INIT, out = DG_STRBUF_INIT;
	json_t *doc = NULL, *prev = NULL;
	char now[32];
	bool same, prev_stopped;
	int ret = 1;

	dg_strbuf_addf(&path, "nodes/%s.json", r->w->me);
	if (!dg_txn_read(txn, path.buf, &old))
		prev = json_loadb(old.buf, old.len, 0, NULL);
	if (prev && !dg_worker_identity_may_register(r->w, txn, prev)) {
		ret = 1;   /* never over another key's registration (said at start-up) */
		goto out;
	}
	json_object_del(prev, DG_RECORD_SIG_KEY);   /* compared without its signature */
	json_object_del(prev, DG_NODE_ACTIVE_KEY);  /* and its sign of life, which is no fact */
	prev_stopped = json_is_string(json_object_get(prev, DG_NODE_STOPPED_KEY));
	doc = json_deep_copy(r->facts);
	if (prev && json_is_string(json_object_get(prev, "registered_at")))
		json_object_set(doc, "registered_at", json_object_get(prev, "registered_at"));
	dg_utc_now(now);
	if (r->stopped) {
		json_t *was = prev ? json_object_get(prev, DG_NODE_STOPPED_KEY) : NULL;
		json_object_set_new(doc, DG_NODE_STOPPED_KEY, json_is_string(was) ? json_copy(was) : json_string(now));
	}
	/* the same facts again are no state change: no commit, unless it is our sign of life */
	same = prev && json_equal(prev, doc);
	if (same && !r->refresh)
		goto out;
	/*
	 * A member's refreshed sign of life keeps its rank, and so does a
	 * node that joined by its join ref: everybody's slot stays.
	 */
	if (!(same && r->member && !r->stopped && !prev_stopped))
		json_object_set_new(doc, "registered_at",
				    json_string(!r->stopped && r->w->join_ref && r->w->joined_at[0] ? r->w->joined_at : now));
	json_object_set_new(doc, DG_NODE_ACTIVE_KEY, json_string(now));
	dg_record_sign(doc);
	dg_json_dump(&out, doc);
	dg_txn_message(txn, "%s: register node", r->w->me);
	ret = dg_txn_write(txn, path.buf, out.buf, out.len);
	/*
	 * Once the registration is on main the join ref has served, and a
	 * push on a tip that holds it deletes the ref (a stopped node's last
	 * push too: it leaves the schedule either way). Not the push that
	 * first brings the registration to main: the host updates each ref on
	 * its own, so when main loses that race the deletion still lands, and
	 * we would be a member nowhere. Our slot would leave the chain, every
	 * member ranked after us would find its slot moved and wait a whole
	 * cycle, and we would have to join again (bench-budget, 32 workers:
	 * seven members lost a 28 s cycle each, and the node never rejoined).
	 * dg_worker_join_cleanup_txn deletes it in our next push instead.
	 */
	if (ret == 0 && (r->join || (r->w->join_ref && (r->stopped || (prev && !prev_stopped))))) {
		char name[300];

		join_ref_name(name, sizeof(name), r->w);
		ret = dg_txn_side(txn, name, DG_JOIN_PATH, r->join ? out.buf : NULL, out.len);
		if (r->join)
			snprintf(r->w->join_writing, sizeof(r->w->join_writing), "%s", now);
	}
out:
	json_decref(doc);
	json_decref(prev);
	dg_strbuf_release(&path);
	dg_strbuf_release(&old);
	dg_strbuf_release(&out);
	return ret;
}

/* Refuses to start when a live worker elsewhere already uses our node id. */
struct twin {
	const char *me;
	int64_t now;
	unsigned node_timeout;
	char found[512];
	bool own_ref;             /* refs/dgrid/nodes/ME exists (a former life's rescue or heartbeat) */
};

/*
 * Is pid a running dgrid process? A worker killed a moment ago may still be
 * a zombie (kill(pid, 0) succeeds on it), and an old pid may have been
 * reused by anything: neither is a twin.
 */
static bool pid_is_live_worker(pid_t pid)
{
	char path[64], buf[512];
	const char *state;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')' */
	state = strrchr(buf, ')');
	if (!state || state[1] != ' ' || state[2] == 'Z' || state[2] == 'X')
		return false;
	return !strncmp(buf + strcspn(buf, "(") + 1, "dgrid)", 6);
}

static int twin_check(const char *name, int64_t when, const char *data, size_t len, void *payload)
{
	struct twin *t = payload;
	json_t *doc;
	const char *host, *state;
	char myhost[256] = "";
	json_int_t pid;
	int64_t at;

	if (strcmp(name + strlen(DG_NODE_REF_PREFIX), t->me))
		return 0;
	t->own_ref = true;
	doc = json_loadb(data, len, 0, NULL);
	at = dg_parse_utc(json_string_value(json_object_get(doc, "time")));
	if (at < 0)
		at = when;
	host = json_string_value(json_object_get(doc, "host"));
	state = json_string_value(json_object_get(doc, "state"));
	pid = json_integer_value(json_object_get(doc, "pid"));
	gethostname(myhost, sizeof(myhost) - 1);
	if (doc && t->now - at <= (int64_t)t->node_timeout && !(state && !strcmp(state, "stopped"))) {
		bool same_host = host && !strcmp(host, myhost);
		/* on this host, a dead pid means it was our own earlier life */
		if (!same_host || (pid > 0 && pid != getpid() && pid_is_live_worker((pid_t)pid)))
			snprintf(t->found, sizeof(t->found), "last heartbeat %llds ago from host '%s' pid %lld",
				 (long long)(t->now - at), host ? host : "?", (long long)pid);
	}
	json_decref(doc);
	return 0;
}

int dg_worker_register(struct worker *w)
{
	struct twin t = { w->me, dg_wall_seconds(), w->policy.node_timeout, "", false };
	struct reg r = { w, node_record(w), false, false, false, false };
	int ret;

	ret = dg_store_list_side(w->store, DG_NODE_REF_PREFIX, DG_HEARTBEAT_PATH, twin_check, &t);
	if (ret == 0 && t.found[0]) {
		dg_error_set("node id '%s' is in use by a live worker (%s); choose another --node-id or stop it",
			     w->me, t.found);
		ret = DG_EINVALID;   /* not a race: retrying would hang */
	}
	/*
	 * With a push budget, or leases instead of heartbeats (protocol 2), the
	 * registration rides on the first step's push: a push of its own made
	 * every worker of a crowded grid win one more race before it could
	 * claim anything (bench-collapse.sh: 70 s at 32 workers).
	 */
	bool ride = w->budget || !dg_policy_heartbeats(&w->policy);
	if (ret == 0 && !ride)
		ret = dg_store_transact(w->store, register_fn, &r, NULL);
	w->registered = ret == 0 && !ride;
	/* without heartbeats, a ref of ours there is a rescue: our next landed push deletes it */
	w->rescue_ref = t.own_ref && !dg_policy_heartbeats(&w->policy);
	json_decref(r.facts);
	return ret;
}

int dg_worker_unregister(struct worker *w)
{
	struct reg r = { w, node_record(w), true, false, false, false };
	int ret = dg_store_transact(w->store, register_fn, &r, NULL);

	w->registered = false;
	w->join_ref = false;
	json_decref(r.facts);
	return ret;
}

int dg_worker_register_txn(struct worker *w, struct dg_txn *txn, bool stopped)
{
	/* a newcomer's join cannot be lost: the claim may lose its race, the join ref lands */
	bool member = w->budget && w->slot.rank < w->slot.members;
	/* a refresh keeps registered_at: a member's rank, or on a grid without a budget just the date */
	struct reg r = { w, node_record(w), stopped, w->budget && !member && !stopped,
			 dg_worker_slot_keep_due(w, false) || dg_worker_rejoins(w), member || !w->budget };
	int ret = register_fn(txn, &r);

	json_decref(r.facts);
	return ret == 1 ? 0 : ret;
}

/*
 * A worker stopped by a signal says so in its registration ("stopped_at"),
 * riding on its last report or in a push of its own: up to 0.14.9 only a
 * budget grid's worker did, and only in a push that reported, so a worker
 * stopped while idle - a volunteer's Ctrl-C, a container scaled down -
 * left a registration that counted as a live node for good: in the fetch
 * budget's share, the crowd that sizes claims, `dgrid status`. It tries
 * for STOP_MARK_WAIT_MS at most, never past a second signal (the grace's
 * end), and on a budget grid only in a slot of its own within that time:
 * stopping costs no push the schedule has no room for, and a registration
 * left unmarked there goes dormant in slot_keep_seconds anyway.
 */
bool dg_worker_stop_mark_due(const struct worker *w)
{
	int64_t until = w->stop_signal_at + STOP_MARK_WAIT_MS, now = dg_now_ms();

	/* a host we cannot reach holds up no stop for a courtesy */
	if (!w->stopping || !w->registered || w->stop_marked || w->jobs_nr || w->net_failures)
		return false;
	until = until < w->stop_deadline ? until : w->stop_deadline;
	if (now >= until)
		return false;
	return !w->budget || now + (dg_worker_next_push(w) - dg_wall_ms()) < until;
}

/*
 * A push made anyway deletes our join ref once the tip it builds on holds
 * our registration, live: one that says stopped_at is a former life's, and
 * without the ref we would be a member nowhere (register_fn).
 */
int dg_worker_join_cleanup_txn(struct worker *w, struct dg_txn *txn)
{
	struct dg_strbuf path = DG_STRBUF_INIT, old = DG_STRBUF_INIT;
	json_t *doc = NULL;
	char name[300];
	int ret = 0;

	dg_strbuf_addf(&path, "nodes/%s.json", w->me);
	if (w->join_ref && !dg_txn_read(txn, path.buf, &old))
		doc = json_loadb(old.buf, old.len, 0, NULL);
	if (json_is_object(doc) && !json_is_string(json_object_get(doc, DG_NODE_STOPPED_KEY))) {
		join_ref_name(name, sizeof(name), w);
		ret = dg_txn_side(txn, name, NULL, NULL, 0);
	}
	json_decref(doc);
	dg_strbuf_release(&old);
	dg_strbuf_release(&path);
	return ret;
}

int dg_worker_heartbeat(struct worker *w, const char *state)
{
	json_t *running = json_array(), *held = json_array();
	char now[32], started[32], host[256] = "", ref[128];
	time_t st = (time_t)(w->snap.started_at / 1000);
	struct tm tm;
	char *text;
	int ret;

	/* what we hold - running, or finished and not yet pushed - is never reaped */
	for (size_t i = 0; i < w->jobs_nr; i++) {
		json_array_append_new(running, json_string(w->jobs[i].task.task_id));
		json_array_append_new(held, json_pack("[s, i]", w->jobs[i].task.task_id,
						      (int)w->jobs[i].task.attempt));
	}
	/* claimed in a batch, waiting for a slot: ours as much (worker_rescue.c) */
	for (size_t i = 0; i < w->backlog_nr; i++)
		json_array_append_new(held, json_pack("[s, i]", w->backlog[i].task_id,
						      (int)w->backlog[i].attempt));
	for (size_t i = 0; i < w->pending_nr; i++)
		json_array_append_new(held, json_pack("[s, i]", w->pending[i].task_id,
						      (int)w->pending[i].attempt));
	dg_utc_now(now);
	gmtime_r(&st, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gethostname(host, sizeof(host) - 1);
	json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:s, s:I, s:I, s:s, s:s, s:i, s:s, s:i}",
				"node_id", w->me, "time", now, "state", state,
				"slots", (int)w->opts->cfg.slots, "running", running, "held", held,
				"executor", w->opts->executor->name,
				"completed", (json_int_t)w->snap.tasks_completed,
				"failed", (json_int_t)(w->snap.tasks_failed + w->snap.tasks_timed_out),
				"started_at", started, "version", DG_VERSION, "protocol", DG_PROTOCOL,
				"host", host, "pid", (int)getpid());
	if (w->http)
		json_object_set_new(doc, "http", json_string(dg_http_address(w->http)));
	dg_record_sign(doc);
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	snprintf(ref, sizeof(ref), "%s%s", DG_NODE_REF_PREFIX, w->me);
	ret = dg_store_put_side(w->store, ref, DG_HEARTBEAT_PATH, text, strlen(text));
	free(text);
	json_decref(doc);
	if (ret == 0) {
		w->snap.last_heartbeat = dg_wall_ms();
		w->snap.last_fetch_ok = w->snap.last_heartbeat;   /* the remote answered */
	}
	return ret;
}

void dg_worker_snapshot(struct worker *w, const char *state)
{
	struct dg_node_status *s = &w->snap;

	snprintf(s->state, sizeof(s->state), "%s", state);
	s->loop_tick = dg_wall_ms();
	s->spool_backlog = (unsigned)w->pending_nr;
	s->running_nr = 0;
	for (size_t i = 0; i < w->jobs_nr && i < DG_STATUS_MAX_RUNNING; i++) {
		struct dg_status_task *t = &s->running[s->running_nr++];
		snprintf(t->task_id, sizeof(t->task_id), "%s", w->jobs[i].task.task_id);
		t->started_at = w->jobs[i].started_ms;
		t->timeout_seconds = w->jobs[i].task.timeout_seconds;
		t->attempt = w->jobs[i].task.attempt;
	}
}
