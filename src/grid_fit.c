/*
 * grid_fit.c - what queued tasks need, for `dgrid status` and the
 * dashboard: which no active node of the grid can run, judged from what
 * each node registered (tasksched.h), and what the others wait for.
 */
#include "grid.h"
#include "tasksched.h"

/* Nodes that may still claim: not stopped, not presumed dead. */
static bool is_active(const struct dg_grid_node *n)
{
	return n->registration && (n->liveness == DG_NODE_ALIVE || n->liveness == DG_NODE_UNKNOWN);
}

/* Has task id a result in tasks/completed (names are "ID.NODE.ATTEMPT.json")? */
static bool completed(const struct dg_grid *g, const char *id)
{
	size_t n = strlen(id);

	for (size_t i = 0; i < g->completed.nr; i++) {
		const char *name = g->completed.items[i].name;

		if (!strncmp(name, id, n) && name[n] == '.')
			return true;
	}
	return false;
}

bool dg_grid_waits_for(const struct dg_grid *g, const json_t *doc, char *why, size_t whysz)
{
	struct dg_sched s = DG_SCHED_INIT;
	bool waits = false;

	if (!doc || dg_sched_parse(&s, doc, "", 0) < 0)
		return false;
	if (s.not_before > g->now) {
		char at[32];

		dg_utc_at(at, s.not_before);
		snprintf(why, whysz, "not before %s", at);
		waits = true;
	}
	for (size_t i = 0; i < s.deps_nr && !waits; i++) {
		if (!completed(g, s.deps[i])) {
			snprintf(why, whysz, "waits for '%s'", s.deps[i]);
			waits = true;
		}
	}
	dg_sched_release(&s);
	return waits;
}

int dg_grid_unrunnable(const struct dg_grid *g, dg_grid_unrunnable_cb cb, void *payload)
{
	struct dg_node_facts *facts = dg_xcalloc(g->nodes_nr + 1, sizeof(*facts));
	size_t active = 0;
	int ret = 0;

	for (size_t i = 0; i < g->nodes_nr; i++) {
		if (is_active(&g->nodes[i]))
			dg_node_facts_from_json(&facts[active++], g->nodes[i].registration);
	}
	for (size_t i = 0; i < g->queue.nr && !ret; i++) {
		const struct dg_grid_file *f = &g->queue.items[i];
		const char *id = json_string_value(json_object_get(f->doc, "task_id"));
		struct dg_sched s = DG_SCHED_INIT;
		char why[160] = "no active node";
		bool fits = false;

		/* an invalid file is the first worker's to reject, not "unrunnable" */
		if (!id || !json_object_get(f->doc, "requires") || dg_sched_parse(&s, f->doc, "", 0) < 0)
			continue;
		for (size_t k = 0; k < active && !fits; k++)
			fits = dg_sched_fits(&s.req, &facts[k], k ? NULL : why, sizeof(why));
		if (!fits)
			ret = cb(id, why, payload);
		dg_sched_release(&s);
	}
	for (size_t i = 0; i < active; i++)
		dg_node_facts_release(&facts[i]);
	free(facts);
	return ret;
}
