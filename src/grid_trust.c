/*
 * grid_trust.c - what dgrid status and the dashboard say of forged records
 * (grid.h, nodekeys.h). They keep no pins: the keys registered now are
 * the ones records are judged by, so a registration not signed by the key
 * it names is forged, and so is any claim, result or heartbeat in the name
 * of a node with a key that this key did not sign. `dgrid verify --pins`
 * also remembers keys from one run to the next.
 */
#include "grid.h"
#include "jsonio.h"
#include "nodekeys.h"
#include "replica.h"
#include "store.h"

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

static void reputation(struct dg_grid *g, struct dg_store *store, const struct dg_nodekeys *keys);

void dg_grid_judge_records(struct dg_grid *g, struct dg_store *store)
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
	reputation(g, store, keys);
	dg_strbuf_release(&why);
	dg_nodekeys_free(keys);
}

static struct dg_grid_node *node_named(struct dg_grid *g, const char *id)
{
	for (size_t i = 0; id && i < g->nodes_nr; i++) {
		if (!strcmp(g->nodes[i].node_id, id))
			return &g->nodes[i];
	}
	return NULL;
}

static void count_nodes(struct dg_grid *g, const json_t *list, bool agreed)
{
	size_t i;
	const json_t *v;

	json_array_foreach(list, i, v) {
		struct dg_grid_node *n = node_named(g, json_string_value(v));

		if (n && agreed)
			n->agreed++;
		else if (n)
			n->disagreed++;
	}
}

static void reputation_in(struct dg_grid *g, struct dg_store *store, const struct dg_nodekeys *keys,
			  struct dg_grid_list *l)
{
	struct dg_strbuf data = DG_STRBUF_INIT, why = DG_STRBUF_INIT;

	for (size_t i = 0; i < l->nr; i++) {
		struct dg_grid_file *f = &l->items[i];
		json_t *doc = f->doc ? json_incref(f->doc) : NULL, *q;

		/* canonical results only: "ID.quorum.1.json" */
		if (!strstr(f->name, "." DG_REPLICA_NODE ".") || f->forged)
			goto next;
		if (!doc && store && f->size <= (1u << 20)) {
			dg_strbuf_reset(&data);
			dg_strbuf_reset(&why);
			if (dg_store_read(store, f->path, &data) == 0)
				doc = dg_json_load_object(data.buf, data.len);
			/* not loaded, so not judged yet */
			if (doc && dg_nodekeys_judge_result(keys, doc, &why) == DG_VERDICT_FORGED)
				goto next;
		}
		q = json_object_get(doc, "quorum");
		if (json_is_object(q) && !strcmp(json_string_value(json_object_get(doc, "node_id")) ?: "", DG_REPLICA_NODE)) {
			count_nodes(g, json_object_get(q, "agreeing_nodes"), true);
			count_nodes(g, json_object_get(q, "disagreeing_nodes"), false);
		}
next:
		json_decref(doc);
	}
	dg_strbuf_release(&data);
	dg_strbuf_release(&why);
}

static void forged_by(struct dg_grid *g, const struct dg_grid_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		struct dg_grid_node *n;

		if (l->items[i].forged &&
		    (n = node_named(g, json_string_value(json_object_get(l->items[i].doc, "node_id")))))
			n->forged_records++;
	}
}

static void reputation(struct dg_grid *g, struct dg_store *store, const struct dg_nodekeys *keys)
{
	for (size_t i = 0; i < g->nodes_nr; i++)
		g->nodes[i].forged_records += g->nodes[i].forged != NULL;
	forged_by(g, &g->running);
	forged_by(g, &g->completed);
	forged_by(g, &g->failed);
	reputation_in(g, store, keys, &g->completed);
	reputation_in(g, store, keys, &g->failed);
}
