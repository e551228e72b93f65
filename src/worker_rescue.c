/*
 * worker_rescue.c - keeping our leases when our pushes to the branch do
 * not land.
 *
 * A claim's lease runs, for every observer, from the last time the claim
 * changed on the branch: when we claimed it, or when a push of ours renewed
 * it (worker_step.c). A worker whose pushes to the branch keep failing
 * while the others' land - the host throttles its token, a hook declines
 * it, its turns lose every race on a saturated host - looks dead to the
 * repository, and a reaper would run its tasks again although it is alive
 * and holds their results (issue 11: no task runs twice unless a worker
 * died). worker_drought.c covers the observer that could not reach the
 * host either; this covers the owner that alone could not.
 *
 * So a worker remembers, for each claim it holds, when its lease ends by
 * its own clock: from a moment before the push that wrote it began, so
 * never later than any observer's end. Shortly before the first end
 * (RESCUE_LEAD_MAX_S, or half a short lease), it pushes a rescue:
 * its signed heartbeat, listing what it holds, to refs/dgrid/nodes/ME. The
 * push is forced, to a ref nobody else writes, so it cannot lose a race
 * with the branch; observers fetch it with the branch, and a reaper counts
 * a lease from the newer of the claim and an owner's heartbeat that lists
 * it (reaper.c). Once a push of ours that renews every lease we hold (or
 * reports it) has landed on the branch, the rescue is spare, and the next
 * push we make anyway deletes the ref (worker_step.c). Not the renewing
 * push itself: the deletion is forced, so it lands even when that push's
 * commit loses its race at the host, and reapers then saw neither the
 * rescue nor a renewal - under make asan's load one reaped a task t0704's
 * starved owner had run, 4 s after it was fed again.
 *
 * A worker whose pushes land, and an idle one, never push a rescue. On a
 * budget grid a rescue waits for a turn of ours that failed before the
 * host counted a push (libgit2 saw main move and sent nothing, or the
 * fetch failed): the slot was ours and stays within the budget. When the
 * lease is nearly out (half the lead) it goes anyway. Grids
 * whose policy asks for heartbeats need no rescue: the heartbeats list
 * what their node holds and renew its leases the same way.
 */
#include "error.h"
#include "grid.h"
#include "log.h"
#include "worker_int.h"

/*
 * How long before a lease's end a rescue is pushed (half a short lease):
 * enough for a slow push and retries, and less than the default
 * lease_margin (60 s), so that a task that runs to its timeout is
 * reported before its rescue would be due. A lease shorter than a minute
 * comes of a smaller margin, where the rescue's time matters more than a
 * needless rescue: t0704's 15 s leases left a quarter, 3.75 s, for the
 * rescue's push and the reaper's fetch, and once, on a machine loaded by
 * make asan, the reaper got there first and the task ran twice.
 */
#define RESCUE_LEAD_MAX_S 30
/* a rescue that failed is tried again after this long */
#define RESCUE_RETRY_MS 5000

bool dg_worker_holds(const struct worker *w, const char *id, unsigned attempt)
{
	for (size_t i = 0; i < w->jobs_nr; i++) {
		if (w->jobs[i].task.attempt == attempt && !strcmp(w->jobs[i].task.task_id, id))
			return true;
	}
	for (size_t i = 0; i < w->backlog_nr; i++) {
		if (w->backlog[i].attempt == attempt && !strcmp(w->backlog[i].task_id, id))
			return true;
	}
	for (size_t i = 0; i < w->pending_nr; i++) {
		if (w->pending[i].attempt == attempt && !strcmp(w->pending[i].task_id, id))
			return true;
	}
	return false;
}

/* Forgets the leases of what we no longer hold (reported, handed back, given up). */
static void forget_released(struct worker *w)
{
	for (size_t i = w->leases_nr; i-- > 0;) {
		if (dg_worker_holds(w, w->leases[i].task_id, w->leases[i].attempt))
			continue;
		free(w->leases[i].task_id);
		w->leases[i] = w->leases[--w->leases_nr];
	}
}

static struct held_lease *find_lease(struct worker *w, const char *task_id, unsigned attempt)
{
	for (size_t i = 0; i < w->leases_nr; i++) {
		if (w->leases[i].attempt == attempt && !strcmp(w->leases[i].task_id, task_id))
			return &w->leases[i];
	}
	return NULL;
}

/*
 * Does the lease of a claim we hold run past the end a renewal stating
 * lease_seconds at now_ms would give it? Then the renewal is needed by
 * nobody: every observer counts the lease from no earlier than the push
 * that landed it (since_ms), so the one that stands ends later. Never
 * with a rescue out: the push that renews every lease we hold deletes
 * it (worker_step.c, covers_rescue).
 */
bool dg_worker_lease_outlasts(struct worker *w, const char *task_id, unsigned attempt, unsigned lease_seconds,
			      int64_t now_ms)
{
	const struct held_lease *l = find_lease(w, task_id, attempt);

	if (!l || w->rescue_ref)
		return false;
	return l->since_ms + (int64_t)l->lease_seconds * 1000 >= now_ms + (int64_t)lease_seconds * 1000;
}

void dg_worker_lease_landed(struct worker *w, const char *task_id, unsigned attempt,
			    unsigned lease_seconds, int64_t since_ms)
{
	struct held_lease *l = find_lease(w, task_id, attempt);

	if (!l) {
		DG_ALLOC_GROW(w->leases, w->leases_nr + 1, w->leases_alloc);
		l = &w->leases[w->leases_nr++];
		l->task_id = dg_xstrdup(task_id);
		l->attempt = attempt;
	}
	l->lease_seconds = lease_seconds;
	l->since_ms = since_ms;
}

/*
 * A claim of ours that we hold without having seen a push of ours write
 * it: a result spooled in a previous life of this node. Its lease runs,
 * for every observer, from no earlier than the time the claim says it was
 * written (lease_renewed_at, else claimed_at, by our own clock then), so
 * counting from there is never later than theirs. Without it a restarted
 * worker whose pushes do not land would never rescue what it ran before.
 */
void dg_worker_lease_seen(struct worker *w, const struct dg_task *t)
{
	const char *at;
	unsigned lease;
	int64_t stamp, age_ms;

	if (find_lease(w, t->task_id, t->attempt))
		return;
	at = json_string_value(json_object_get(t->doc, "lease_renewed_at"));
	lease = dg_task_lease(t, &w->policy);
	stamp = dg_parse_utc(at ? at : t->claimed_at);
	/* a claim that does not say when: its lease may be out already */
	age_ms = stamp > 0 ? dg_wall_ms() - stamp * 1000 : (int64_t)lease * 1000;
	dg_worker_lease_landed(w, t->task_id, t->attempt, lease, dg_now_ms() - (age_ms > 0 ? age_ms : 0));
}

/* Does this grid need rescues from us? Heartbeats renew leases by themselves. */
static bool rescues_wanted(const struct worker *w)
{
	return w->policy.protocol >= 2 && !dg_policy_heartbeats(&w->policy);
}

static int64_t lead_ms(const struct held_lease *l)
{
	int64_t lead = (int64_t)l->lease_seconds * 1000 / 2;

	return lead < RESCUE_LEAD_MAX_S * 1000 ? lead : RESCUE_LEAD_MAX_S * 1000;
}

/*
 * When the first of our leases needs a rescue (monotonic ms): lead before
 * its end, or half of it when we wait for a failed slot (last_resort).
 */
static int64_t first_rescue(struct worker *w, bool last_resort)
{
	int64_t first = INT64_MAX;

	forget_released(w);
	for (size_t i = 0; i < w->leases_nr; i++) {
		const struct held_lease *l = &w->leases[i];
		int64_t at = l->since_ms + (int64_t)l->lease_seconds * 1000 - lead_ms(l) / (last_resort ? 2 : 1);

		if (at < first)
			first = at;
	}
	return first;
}

int64_t dg_worker_rescue_at(struct worker *w)
{
	int64_t at;

	if (!rescues_wanted(w))
		return INT64_MAX;
	at = first_rescue(w, w->budget != 0);
	return at == INT64_MAX ? at : (at > w->rescue_retry_at ? at : w->rescue_retry_at);
}

/*
 * The loop calls this after every turn, and before a turn with ahead_ms
 * its expected length: a rescue due before the turn would end goes
 * first. A starved worker's turn is a fetch and a push the host declines,
 * tried twice, and on a loaded host that takes seconds: rescues that
 * waited for it came 8-11.5 s apart where t0704's 15 s leases want one
 * every 7.5 s, and once under make asan the reaper got there first again.
 */
void dg_worker_rescue(struct worker *w, const char *state, bool slot_failed, int64_t ahead_ms)
{
	int64_t now = dg_now_ms();
	int ret;

	if (!rescues_wanted(w) || now < w->rescue_retry_at)
		return;
	/* with a budget, a slot of ours that the host counted nothing in; else only at the last */
	if (now + ahead_ms < first_rescue(w, w->budget && !slot_failed))
		return;
	ret = dg_worker_heartbeat(w, state);
	if (ret < 0) {
		w->rescue_retry_at = dg_now_ms() + RESCUE_RETRY_MS;
		dg_worker_drought_failed(w);
		dg_log(DG_LOG_WARNING, "node=%s event=rescue-failed held=%zu error=\"%s\"",
		       w->me, w->leases_nr, dg_error_last());
		return;
	}
	/* every observer that fetches from now on sees our leases renewed */
	for (size_t i = 0; i < w->leases_nr; i++)
		w->leases[i].since_ms = now;
	w->rescue_ref = true;
	/* newer than any renewal on main: the next push that renews or reports all makes it spare again */
	w->rescue_spare = false;
	w->rescue_retry_at = 0;
	dg_log(DG_LOG_INFO, "node=%s event=leases-rescued held=%zu", w->me, w->leases_nr);
}

void dg_worker_rescue_free(struct worker *w)
{
	for (size_t i = 0; i < w->leases_nr; i++)
		free(w->leases[i].task_id);
	free(w->leases);
	w->leases = NULL;
	w->leases_nr = w->leases_alloc = 0;
}
