/*
 * grid_trust.c - what dgrid status and the dashboard say of forged records
 * (grid.h, nodekeys.h). They keep no pins: the keys registered now are
 * the ones records are judged by, so a registration not signed by the key
 * it names is forged, and so is any claim, result or heartbeat in the name
 * of a node with a key that this key did not sign. `dgrid verify --pins`
 * also remembers keys from one run to the next.
 */
#include "grid.h"
#include "nodekeys.h"

static void mark_files(struct dg_grid *g, const struct dg_nodekeys *keys, struct dg_grid_list *l, bool results)
{
	struct dg_strbuf why = DG_STRBUF_INIT;

	for (size_t i = 0; i < l->nr; i++) {
		struct dg_grid_file *f = &l->items[i];
		enum dg_verdict v;

		if (!f->doc)
			continue;
		dg_strbuf_reset(&why);
		v = results ? dg_nodekeys_judge_result(keys, f->doc, &why)
			    : dg_nodekeys_judge(keys, f->doc, json_string_value(json_object_get(f->doc, "node_id")), &why);
		if (v == DG_VERDICT_FORGED) {
			f->forged = dg_strbuf_detach(&why, NULL);
			g->forged_nr++;
		}
	}
	dg_strbuf_release(&why);
}

void dg_grid_judge_records(struct dg_grid *g)
{
	struct dg_nodekeys *keys = NULL;
	struct dg_strbuf why = DG_STRBUF_INIT;

	if (dg_nodekeys_open(&keys, NULL) < 0)
		return;
	for (size_t i = 0; i < g->nodes_nr; i++) {
		struct dg_grid_node *n = &g->nodes[i];

		dg_strbuf_reset(&why);
		if (n->registration &&
		    dg_nodekeys_learn(keys, n->node_id, n->registration, NULL, &why) == DG_VERDICT_FORGED) {
			n->forged = dg_strbuf_detach(&why, NULL);
			g->forged_nr++;
		}
	}
	for (size_t i = 0; i < g->nodes_nr; i++) {
		struct dg_grid_node *n = &g->nodes[i];

		dg_strbuf_reset(&why);
		if (!n->heartbeat || dg_nodekeys_judge(keys, n->heartbeat, n->node_id, &why) != DG_VERDICT_FORGED)
			continue;
		if (!n->forged) {
			dg_strbuf_addstr(&why, " (heartbeat)");
			n->forged = dg_strbuf_detach(&why, NULL);
		}
		g->forged_nr++;
		json_decref(n->heartbeat);
		n->heartbeat = NULL;
		n->heartbeat_time = 0;
	}
	mark_files(g, keys, &g->running, false);
	mark_files(g, keys, &g->completed, true);
	mark_files(g, keys, &g->failed, true);
	dg_strbuf_release(&why);
	dg_nodekeys_free(keys);
}
