/*
 * worker_jobs.c - the worker's running tasks: collecting what ended into a
 * result for the spool (rejected before it started, failed to start, run,
 * cancelled, to be retried; who signed it), and killing them at shutdown
 * (worker_int.h).
 */
#include "error.h"
#include "log.h"
#include "worker_int.h"

static void remember_result(struct worker *w, const struct dg_result *res)
{
	struct dg_status_result *sr;
	const char *text = res->reason ? res->reason : res->stdout_text ? res->stdout_text : "";
	size_t n = strcspn(text, "\n");

	memmove(&w->snap.results[1], &w->snap.results[0],
		sizeof(w->snap.results[0]) * (DG_STATUS_MAX_RESULTS - 1));
	if (w->snap.results_nr < DG_STATUS_MAX_RESULTS)
		w->snap.results_nr++;
	sr = &w->snap.results[0];
	memset(sr, 0, sizeof(*sr));
	snprintf(sr->task_id, sizeof(sr->task_id), "%s", res->task_id);
	snprintf(sr->status, sizeof(sr->status), "%s", dg_result_status_name(res->status));
	sr->exit_code = res->exit_code;
	sr->finished_at = dg_wall_ms();
	sr->duration_ms = res->duration_ms;
	snprintf(sr->first_line, sizeof(sr->first_line), "%.*s", (int)(n < 127 ? n : 127), text);
}

/* A task ended (er NULL: its executor never started it). */
static void job_done(struct worker *w, size_t i, struct dg_exec_result *er, const char *start_error)
{
	struct running *r = &w->jobs[i];
	struct dg_result res = DG_RESULT_INIT;
	char reason[512] = "";

	if (r->requeue) {
		DG_ALLOC_GROW(w->requeue, w->requeue_nr + 1, w->requeue_alloc);
		w->requeue[w->requeue_nr].task_id = dg_xstrdup(r->task.task_id);
		w->requeue[w->requeue_nr].attempt = r->task.attempt;
		w->requeue[w->requeue_nr++].unstarted = false;
		dg_log(DG_LOG_INFO, "node=%s task=%s event=handed-back", w->me, r->task.task_id);
		goto out;
	}
	res.task_id = dg_xstrdup(r->task.task_id);
	res.node_id = dg_xstrdup(w->me);
	res.attempt = r->task.attempt;
	res.started_at = dg_xstrdup(r->started_at);
	res.executor = dg_xstrdup(w->opts->executor->name);
	dg_utc_now(res.timestamp);
	if (!er && r->reject_reason) {
		free(res.started_at);   /* it never started */
		res.started_at = NULL;
		res.status = DG_RESULT_REJECTED;
		res.exit_code = -1;
		dg_result_set_output(&res, "", 0, r->reject_reason, strlen(r->reject_reason));
		res.reason = dg_xstrdup(r->reject_reason);
	} else if (!er) {
		res.status = DG_RESULT_FAILED;
		res.exit_code = -1;
		snprintf(reason, sizeof(reason), "the executor could not start the task: %s", start_error);
		dg_result_set_output(&res, "", 0, reason, strlen(reason));
		res.reason = dg_xstrdup(reason);
	} else {
		dg_result_from_exec(&res, er, r->task.timeout_seconds);
	}
	if (r->cancel_reason) {
		res.status = DG_RESULT_CANCELLED;
		free(res.reason);
		res.reason = dg_xasprintf("cancelled while running: %s", r->cancel_reason);
	}
	/* a task with retries: which run this was, and whether another follows (worker_step.c) */
	if (r->task.sched.retries) {
		bool failed = res.status == DG_RESULT_FAILED || res.status == DG_RESULT_TIMEOUT;

		res.doc = json_pack("{s:I, s:b}", "run", (json_int_t)r->task.sched.retried + 1,
				    "will_retry", dg_sched_will_retry(&r->task.sched, failed));
	}
	dg_tasksign_note(&res.doc, &r->trust);
	switch (res.status) {
	case DG_RESULT_SUCCESS: w->snap.tasks_completed++; break;
	case DG_RESULT_TIMEOUT: w->snap.tasks_timed_out++; break;
	case DG_RESULT_REJECTED: w->snap.tasks_rejected++; break;
	default: w->snap.tasks_failed++; break;
	}
	if (dg_spool_put(&w->spool, &res) < 0)
		dg_log(DG_LOG_ERROR, "node=%s task=%s event=spool-failed error=\"%s\"", w->me,
		       res.task_id, dg_error_last());
	dg_log(DG_LOG_INFO, "node=%s task=%s event=finished status=%s exit=%d ms=%llu", w->me,
	       res.task_id, dg_result_status_name(res.status), res.exit_code,
	       (unsigned long long)res.duration_ms);
	remember_result(w, &res);
	/* what a batch on a budget grid is sized by: a moving mean */
	w->task_ms_avg = w->task_ms_avg ? (3 * w->task_ms_avg + (int64_t)res.duration_ms) / 4
				       : (int64_t)res.duration_ms + 1;
	DG_ALLOC_GROW(w->pending, w->pending_nr + 1, w->pending_alloc);
	w->pending[w->pending_nr++] = res;
	if (!w->batch_deadline) {
		/* what the task left unused of its timeout: the lease covers it (dg_worker_report_wait_ms) */
		int64_t slack = (int64_t)r->task.timeout_seconds * 1000 - (int64_t)res.duration_ms;

		w->batch_deadline = dg_now_ms() + dg_worker_report_wait_ms(w, slack);
	}
out:
	dg_task_release(&r->task);
	free(r->cancel_reason);
	free(r->reject_reason);
	dg_tasksign_verdict_release(&r->trust);
	w->jobs[i] = w->jobs[--w->jobs_nr];
}

void dg_worker_service_jobs(struct worker *w)
{
	for (size_t i = w->jobs_nr; i-- > 0;) {
		struct running *r = &w->jobs[i];
		struct dg_exec_result er = DG_EXEC_RESULT_INIT;

		if (!r->job) {
			job_done(w, i, NULL, "see the worker's log");
			continue;
		}
		if (dg_job_service(r->job) != 1)
			continue;
		dg_job_finish(r->job, &er);
		r->job = NULL;
		job_done(w, i, &er, NULL);
		dg_exec_result_release(&er);
	}
}

void dg_worker_kill_jobs(struct worker *w, bool requeue)
{
	for (size_t i = 0; i < w->jobs_nr; i++) {
		w->jobs[i].requeue = requeue;
		if (w->jobs[i].job)
			dg_job_kill(w->jobs[i].job);
	}
}

