/*
 * advice.c - dg_advice_judge (advice.h): figures in, verdict out. Pure, so
 * that every verdict and edge is a unit test; the measuring is in
 * advice_measure.c.
 */
#include "advice.h"
#include "pushslot.h"

const char *dg_advice_verdict_name(enum dg_advice_verdict v)
{
	switch (v) {
	case DG_ADVICE_OK: return "ok";
	case DG_ADVICE_IDLE: return "idle";
	case DG_ADVICE_WORKERS: return "workers";
	case DG_ADVICE_QUEUE: return "queue";
	case DG_ADVICE_PUSH_BUDGET: return "push_budget";
	case DG_ADVICE_FETCH_BUDGET: return "fetch_budget";
	}
	return "ok";
}

/* Appends to buf[size] at *len; what does not fit is cut, buf stays a string. */
static void DG_PRINTF(4, 5) addf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * Pushes a minute the schedule lets n members make: they own n of every
 * C slots of 60 s / (budget x 0.85) (pushslot.h; no fleet arriving); with
 * no member only the join slots are used.
 */
static double schedule_ceiling(unsigned budget, size_t members)
{
	double full = (double)budget * DG_PUSHSLOT_USE;
	struct dg_pushslot ps = { .budget = budget, .members = members };

	if (!members)
		return full;
	return full * (double)members / (double)dg_pushslot_cycle(&ps);
}

static int64_t rate_span(const struct dg_advice_figures *f)
{
	int64_t span = f->span_seconds;

	if (f->window_seconds > 0 && span > f->window_seconds)
		span = f->window_seconds;
	return span < DG_ADVICE_MIN_SPAN ? DG_ADVICE_MIN_SPAN : span;
}

static void measure_rates(struct dg_advice *a)
{
	const struct dg_advice_figures *f = &a->fig;
	double share;

	a->rate_seconds = rate_span(f);
	a->push_rate = (double)f->pushes * 60.0 / (double)a->rate_seconds;
	a->push_ceiling = f->push_budget ? schedule_ceiling(f->push_budget, f->members) : 0;
	a->poll_seconds = DG_ADVICE_PULL_DEFAULT;
	a->fetch_governs = false;
	/* workers share it among the registrations that do not say they stopped, the dormant weighed (worker.c) */
	a->sharers = f->poll_shares > (double)f->members ? f->poll_shares : (double)f->members;
	if (f->fetch_budget) {
		share = (double)DG_ADVICE_POLL_SHARE * (a->sharers >= 1.0 ? a->sharers : 1.0) / (double)f->fetch_budget;
		if (share > DG_ADVICE_PULL_DEFAULT) {
			a->poll_seconds = share;
			a->fetch_governs = true;
		}
	}
	a->fetch_rate = a->sharers * 60.0 / a->poll_seconds;
}

static void say_push_room(struct dg_advice *a, size_t *len)
{
	const struct dg_advice_figures *f = &a->fig;

	if (f->push_budget)
		addf(a->text, sizeof(a->text), len, " (the push budget has room: %s%.1f of %u pushes/min used)",
		     f->pushes_at_least ? "at least " : "", a->push_rate, f->push_budget);
	else
		addf(a->text, sizeof(a->text), len, " (no push budget)");
}

static enum dg_advice_verdict choose(const struct dg_advice *a)
{
	const struct dg_advice_figures *f = &a->fig;

	if (f->push_budget && a->push_rate >= DG_ADVICE_SATURATED * a->push_ceiling)
		return DG_ADVICE_PUSH_BUDGET;
	if (!f->queued)
		return !f->active || f->idle ? DG_ADVICE_IDLE : DG_ADVICE_OK;
	if (!f->active || !f->free_slots)
		return DG_ADVICE_WORKERS;
	if (f->idle && a->fetch_governs)
		return DG_ADVICE_FETCH_BUDGET;
	return DG_ADVICE_QUEUE;
}

void dg_advice_judge(struct dg_advice *a, const struct dg_advice_figures *fig)
{
	const struct dg_advice_figures *f = &a->fig;
	size_t len = 0, size = sizeof(a->text);

	memset(a, 0, sizeof(*a));
	a->fig = *fig;
	measure_rates(a);
	a->verdict = choose(a);
	switch (a->verdict) {
	case DG_ADVICE_PUSH_BUDGET:
		addf(a->text, size, &len, "push budget: %s%.1f pushes/min of %u used (the schedule allows "
		     "%.1f for %zu %s) - more workers will not help: raise claim_batch_max (now %u), "
		     "or add a repository", f->pushes_at_least ? "at least " : "", a->push_rate,
		     f->push_budget, a->push_ceiling, f->members, plural(f->members, "worker", "workers"),
		     f->claim_batch_max);
		break;
	case DG_ADVICE_IDLE:
		if (!f->active) {
			addf(a->text, size, &len, "idle: nothing is queued and no worker is active");
			break;
		}
		addf(a->text, size, &len, "idle: the queue is empty; %zu %s", f->idle,
		     plural(f->idle, "worker waits", "workers wait"));
		if (a->fetch_governs)
			addf(a->text, size, &len, " (an idle worker polls every %.0f s: fetch budget)",
			     a->poll_seconds);
		break;
	case DG_ADVICE_OK:
		addf(a->text, size, &len, "ok: nothing limits the grid now: the queue is empty and every "
		     "worker holds a claim (%zu running)", f->running);
		break;
	case DG_ADVICE_WORKERS:
		if (!f->active) {
			addf(a->text, size, &len, "workers: %zu %s and no worker is active - start a worker",
			     f->queued, plural(f->queued, "task waits", "tasks wait"));
			break;
		}
		addf(a->text, size, &len, "workers: %zu %s and every worker is busy - more workers would help",
		     f->queued, plural(f->queued, "task waits", "tasks wait"));
		say_push_room(a, &len);
		break;
	case DG_ADVICE_FETCH_BUDGET:
		addf(a->text, size, &len, "fetch budget: idle workers poll every %.0f s (%.1f fetches/min for "
		     "%zu %s, budget %u) - queued tasks wait that long to be seen: raise fetch_budget if "
		     "the host allows it, or run fewer workers with more --slots", a->poll_seconds,
		     a->fetch_rate, f->members, plural(f->members, "node", "nodes"), f->fetch_budget);
		break;
	case DG_ADVICE_QUEUE:
		addf(a->text, size, &len, "queue: %zu %s and %zu worker %s free - the next poll or push slot "
		     "claims them; if this lasts, check that those workers still run and can take these tasks",
		     f->queued, plural(f->queued, "task waits", "tasks wait"), f->free_slots,
		     plural(f->free_slots, "slot is", "slots are"));
		break;
	}
}

static void add_span(char *buf, size_t size, size_t *len, int64_t s)
{
	if (s > 0 && s % 60 == 0)
		addf(buf, size, len, "%" PRId64 " min", s / 60);
	else
		addf(buf, size, len, "%" PRId64 " s", s > 0 ? s : 0);
}

void dg_advice_describe(char *buf, size_t size, const struct dg_advice *a)
{
	const struct dg_advice_figures *f = &a->fig;
	size_t len = 0;

	if (!size)
		return;
	buf[0] = '\0';
	addf(buf, size, &len, "%s%" PRIu64 " %s on main ", f->pushes_at_least ? "at least " : "",
	     f->pushes, plural(f->pushes, "push", "pushes"));
	if (f->history_begins && !f->pushes) {
		addf(buf, size, &len, "(no history yet); ");
	} else if (f->history_begins) {
		addf(buf, size, &len, "since its history begins, ");
		add_span(buf, size, &len, f->span_seconds);
		addf(buf, size, &len, " ago (a new or compacted grid: counted what exists; %.1f/min over ",
		     a->push_rate);
		add_span(buf, size, &len, a->rate_seconds);
		addf(buf, size, &len, "); ");
	} else {
		addf(buf, size, &len, "in the last ");
		add_span(buf, size, &len, f->window_seconds);
		addf(buf, size, &len, " (%.1f/min); ", a->push_rate);
	}
	if (f->push_budget)
		addf(buf, size, &len, "push budget %u/min (schedule: %.1f for %zu %s); ", f->push_budget,
		     a->push_ceiling, f->members, plural(f->members, "member", "members"));
	else
		addf(buf, size, &len, "push budget none; ");
	if (f->fetch_budget)
		addf(buf, size, &len, "fetch budget %u/min (idle poll %.0f s); ", f->fetch_budget,
		     a->poll_seconds);
	else
		addf(buf, size, &len, "fetch budget none; ");
	addf(buf, size, &len, "nodes %zu registered, %zu active, %zu idle; slots %zu, %zu free; "
	     "%zu queued, %zu running", f->registered, f->active, f->idle, f->slots, f->free_slots,
	     f->queued, f->running);
}

json_t *dg_advice_json(const struct dg_advice *a)
{
	const struct dg_advice_figures *f = &a->fig;
	char line[DG_ADVICE_TEXT_MAX * 2];
	json_t *fig;

	dg_advice_describe(line, sizeof(line), a);
	fig = json_pack("{s:I, s:I, s:I, s:b, s:b, s:f, s:I, s:I, s:f, s:I, s:f, s:b, s:f, s:f, s:I, s:I, s:I, "
			"s:I, s:I, s:I, s:I, s:I, s:I}",
			"window_seconds", (json_int_t)f->window_seconds,
			"span_seconds", (json_int_t)f->span_seconds,
			"pushes", (json_int_t)f->pushes,
			"pushes_at_least", (int)f->pushes_at_least,
			"history_begins_in_window", (int)f->history_begins,
			"push_rate_per_minute", a->push_rate,
			"push_rate_over_seconds", (json_int_t)a->rate_seconds,
			"push_budget", (json_int_t)f->push_budget,
			"push_schedule_per_minute", a->push_ceiling,
			"fetch_budget", (json_int_t)f->fetch_budget,
			"idle_poll_seconds", a->poll_seconds,
			"fetch_budget_sets_poll", (int)a->fetch_governs,
			"idle_fetches_per_minute", a->fetch_rate,
			"fetch_sharers", a->sharers,
			"claim_batch_max", (json_int_t)f->claim_batch_max,
			"registered_nodes", (json_int_t)f->registered,
			"member_nodes", (json_int_t)f->members,
			"active_nodes", (json_int_t)f->active,
			"idle_nodes", (json_int_t)f->idle,
			"slots", (json_int_t)f->slots,
			"free_slots", (json_int_t)f->free_slots,
			"queued", (json_int_t)f->queued,
			"running", (json_int_t)f->running);
	return json_pack("{s:s, s:s, s:s, s:o}", "verdict", dg_advice_verdict_name(a->verdict),
			 "text", a->text, "figures_text", line, "figures", fig);
}
