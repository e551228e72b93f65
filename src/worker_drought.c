/*
 * worker_drought.c - a reaper's own drought at the host.
 *
 * A lease lapses by the observer's clock: an owner that did not renew it
 * in time is taken for dead, and its tasks run again. But when the host
 * is down, or so loaded that pushes keep failing, every worker goes
 * silent together - the owners too, holding results they cannot land.
 * When the host came back, the first worker to reach it reaped the
 * others' lapsed leases and ran their tasks a second time, though no
 * worker had died (t0703; bench-budget with 256 workers on a saturated
 * host: 8 tasks twice). What a worker could not do itself is no sign that
 * another is dead. So each worker keeps its drought - from its first
 * failed attempt (a fetch or push that did not reach the host, a race
 * lost) to the first step the host took again (it landed our push, or
 * answered and we had nothing to push) - and while it lasts, and for as
 * long again after it ended (at least DROUGHT_MEMORY_MIN_MS), every lease
 * it judges is longer by the drought plus the longest wait of a worker
 * retrying an unreachable host (NET_RETRY_MAX_S): the owners need that to
 * come back. A dead worker's tasks wait that much longer; a worker whose
 * own pushes land does not wait at all. Droughts shorter than
 * DROUGHT_MIN_MS are the ordinary races of a busy branch, not counted.
 *
 * A single worker that cannot push while the others can is the owner's
 * to cover: it pushes a rescue of its leases (worker_rescue.c).
 */
#include "clock.h"
#include "worker_int.h"

#define DROUGHT_MIN_MS 10000
#define DROUGHT_MEMORY_MIN_MS (10 * 60 * 1000)
/* worker.c's network backoff tops out at 60 s (plus jitter of its start) */
#define NET_RETRY_MAX_S 61
/* a grace that would keep a dead worker's tasks for a day helps nobody */
#define DROUGHT_GRACE_MAX_S 86400

void dg_worker_drought_failed(struct worker *w)
{
	if (!w->drought_since)
		w->drought_since = dg_now_ms();
}

void dg_worker_drought_ended(struct worker *w)
{
	int64_t now = dg_now_ms();

	if (!w->drought_since)
		return;
	if (now - w->drought_since >= DROUGHT_MIN_MS) {
		w->drought_ms = now - w->drought_since;
		w->drought_ended = now;
	}
	w->drought_since = 0;
}

unsigned dg_worker_drought_seconds(const struct worker *w)
{
	int64_t now = dg_now_ms(), ms = 0;

	if (w->drought_since && now - w->drought_since >= DROUGHT_MIN_MS)
		ms = now - w->drought_since;
	else if (w->drought_ended &&
		 now - w->drought_ended < (w->drought_ms > DROUGHT_MEMORY_MIN_MS ? w->drought_ms : DROUGHT_MEMORY_MIN_MS))
		ms = w->drought_ms;
	if (!ms)
		return 0;
	ms = ms / 1000 + NET_RETRY_MAX_S;
	return ms < DROUGHT_GRACE_MAX_S ? (unsigned)ms : DROUGHT_GRACE_MAX_S;
}
