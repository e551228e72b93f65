/*
 * worker_cancel.c - stopping the tasks a cancel request names (cancel.h):
 * a running one is killed and reported "cancelled"; one waiting in our
 * batch is reported so without starting. A busy worker looks for requests
 * every idle poll interval, so a cancel takes effect within one.
 */
#include "cancel.h"
#include "error.h"
#include "log.h"
#include "worker_int.h"

#include <jansson.h>

static void request_reason(struct worker *w, const char *id, struct dg_strbuf *out)
{
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;

	dg_strbuf_addf(&path, DG_DIR_CANCEL "/%s.json", id);
	dg_store_read(w->store, path.buf, &data);
	dg_cancel_reason(out, data.buf, data.len);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
}

/* A claimed task we never started: its result says so, and the next push ends it. */
static void cancel_unstarted(struct worker *w, size_t i, const char *reason)
{
	struct dg_task *t = &w->backlog[i];
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf why = DG_STRBUF_INIT;

	dg_strbuf_addf(&why, "cancelled before it started: %s", reason);
	res.task_id = dg_xstrdup(t->task_id);
	res.node_id = dg_xstrdup(w->me);
	res.attempt = t->attempt;
	res.exit_code = -1;
	res.status = DG_RESULT_CANCELLED;
	res.reason = dg_strbuf_detach(&why, NULL);
	res.executor = dg_xstrdup(w->opts->executor->name);
	dg_utc_now(res.timestamp);
	dg_result_set_output(&res, "", 0, "", 0);
	if (dg_spool_put(&w->spool, &res) < 0)
		dg_log(DG_LOG_ERROR, "node=%s task=%s event=spool-failed error=\"%s\"", w->me,
		       res.task_id, dg_error_last());
	dg_log(DG_LOG_INFO, "node=%s task=%s event=cancelled started=0", w->me, t->task_id);
	DG_ALLOC_GROW(w->pending, w->pending_nr + 1, w->pending_alloc);
	w->pending[w->pending_nr++] = res;
	dg_task_release(t);
	memmove(t, t + 1, (w->backlog_nr - i - 1) * sizeof(*t));
	w->backlog_nr--;
}

static int on_request(const char *id, void *payload)
{
	struct worker *w = payload;
	struct dg_strbuf reason = DG_STRBUF_INIT;

	for (size_t i = 0; i < w->jobs_nr; i++) {
		struct running *r = &w->jobs[i];

		if (strcmp(r->task.task_id, id) || r->cancel_reason || r->requeue)
			continue;
		request_reason(w, id, &reason);
		r->cancel_reason = dg_strbuf_detach(&reason, NULL);
		dg_log(DG_LOG_INFO, "node=%s task=%s event=cancel-requested reason=\"%s\"", w->me, id,
		       r->cancel_reason);
		if (r->job)
			dg_job_kill(r->job);
	}
	for (size_t i = w->backlog_nr; i-- > 0;) {
		if (strcmp(w->backlog[i].task_id, id))
			continue;
		request_reason(w, id, &reason);
		cancel_unstarted(w, i, reason.buf);
	}
	dg_strbuf_release(&reason);
	return 0;
}

void dg_worker_cancel_check(struct worker *w)
{
	if (!w->jobs_nr && !w->backlog_nr)
		return;
	if (dg_cancel_list_store(w->store, on_request, w) < 0)
		dg_log(DG_LOG_WARNING, "node=%s event=cancel-check-failed error=\"%s\"", w->me, dg_error_last());
}
