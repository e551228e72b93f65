#include "grid.h"
#include "archive.h"
#include "clock.h"
#include "error.h"
#include "layout.h"
#include "pushslot.h"

#include <time.h>

const char *dg_node_liveness_name(enum dg_node_liveness l)
{
	switch (l) {
	case DG_NODE_ALIVE: return "alive";
	case DG_NODE_STALE: return "stale";
	case DG_NODE_STOPPED: return "stopped";
	case DG_NODE_UNKNOWN: return "unknown";
	}
	return "unknown";
}

int64_t dg_parse_utc(const char *s)
{
	struct tm tm;
	const char *end;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.') {
		end++;
		while (*end >= '0' && *end <= '9')
			end++;
	}
	if (strcmp(end, "Z"))
		return -1;
	return (int64_t)timegm(&tm);
}

enum dg_node_liveness dg_grid_liveness(const json_t *heartbeat, int64_t when,
					int64_t now, unsigned node_timeout)
{
	const char *state = json_string_value(json_object_get(heartbeat, "state"));

	if (!heartbeat || !when)
		return DG_NODE_UNKNOWN;
	if (state && !strcmp(state, "stopped"))
		return DG_NODE_STOPPED;
	return now - when <= (int64_t)node_timeout ? DG_NODE_ALIVE : DG_NODE_STALE;
}

/* A field of the heartbeat, else of the registration. */
static json_t *node_fact(const struct dg_grid_node *n, const char *key)
{
	json_t *v = json_object_get(n->heartbeat, key);

	return v ? v : json_object_get(n->registration, key);
}

unsigned dg_grid_node_protocol(const struct dg_grid_node *n)
{
	json_int_t p = json_integer_value(node_fact(n, "protocol"));

	return p >= 1 && p <= 1000000 ? (unsigned)p : 1;
}

const char *dg_grid_node_version(const struct dg_grid_node *n)
{
	const char *v = json_string_value(node_fact(n, "version"));

	return v && *v ? v : "?";
}

struct list_ctx {
	struct dg_store *store;
	struct dg_grid_list *list;
	const char *dir;
	bool parse;
};

static int add_file(const struct dg_entry *e, void *payload)
{
	struct list_ctx *ctx = payload;
	struct dg_grid_list *l = ctx->list;
	struct dg_grid_file *f;

	if (!e->is_file || e->name[0] == '.')
		return 0;
	DG_ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	f = &l->items[l->nr++];
	memset(f, 0, sizeof(*f));
	f->name = dg_xstrdup(e->name);
	f->path = dg_xstrdup(e->path);
	f->size = dg_entry_size(e);
	f->doc = NULL;
	f->archived = false;
	if (ctx->parse && f->size <= (1u << 20)) {
		struct dg_strbuf data = DG_STRBUF_INIT;
		if (!dg_store_read(ctx->store, e->path, &data))
			f->doc = json_loadb(data.buf, data.len, 0, NULL);
		dg_strbuf_release(&data);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct dg_grid_file *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Flat and sharded files alike (layout.h), in name order. */
static int load_list(struct dg_grid_list *l, struct dg_store *store, const char *dir, bool parse)
{
	struct list_ctx ctx = { store, l, dir, parse };
	int ret = dg_layout_walk_store(store, dir, add_file, &ctx);

	if (l->nr > 1)
		qsort(l->items, l->nr, sizeof(*l->items), by_name);
	return ret;
}

static struct dg_grid_node *node_find(struct dg_grid *grid, const char *id)
{
	for (size_t i = 0; i < grid->nodes_nr; i++) {
		if (!strcmp(grid->nodes[i].node_id, id))
			return &grid->nodes[i];
	}
	return NULL;
}

static struct dg_grid_node *node_get(struct dg_grid *grid, const char *id)
{
	struct dg_grid_node *found = node_find(grid, id);

	if (found)
		return found;
	DG_ALLOC_GROW(grid->nodes, grid->nodes_nr + 1, grid->nodes_alloc);
	struct dg_grid_node *n = &grid->nodes[grid->nodes_nr++];
	memset(n, 0, sizeof(*n));
	n->node_id = dg_xstrdup(id);
	n->liveness = DG_NODE_UNKNOWN;
	return n;
}

static int add_heartbeat(const char *name, int64_t when, const char *data, size_t len, void *payload)
{
	struct dg_grid *grid = payload;
	struct dg_grid_node *n = node_get(grid, name + strlen(DG_NODE_REF_PREFIX));
	json_t *doc = json_loadb(data, len, 0, NULL);
	int64_t t = doc ? dg_parse_utc(json_string_value(json_object_get(doc, "time"))) : -1;

	json_decref(n->heartbeat);
	n->heartbeat = doc;
	n->heartbeat_time = t > 0 ? t : when;
	return 0;
}

struct node_ctx {
	struct dg_store *store;
	struct dg_grid *grid;
};

static int add_node(const struct dg_entry *e, void *payload)
{
	struct dg_store *store = ((struct node_ctx *)payload)->store;
	struct dg_grid *grid = ((struct node_ctx *)payload)->grid;
	size_t n = strlen(e->name);
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	char *id;

	if (!e->is_file || n <= 5 || strcmp(e->name + n - 5, ".json"))
		return 0;
	id = dg_xstrndup(e->name, n - 5);
	struct dg_grid_node *node = node_get(grid, id);
	dg_strbuf_addf(&path, "nodes/%s", e->name);
	if (dg_entry_size(e) <= (1u << 20) && !dg_store_read(store, path.buf, &data))
		node->registration = json_loadb(data.buf, data.len, 0, NULL);
	free(id);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return 0;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/*
 * Credits each node with the newest time (the writer's clock) of its files
 * in l: one pass over the list, whatever the number of nodes.
 */
static void note_activity(struct dg_grid *grid, const struct dg_grid_list *l, const char *key,
			  bool claims)
{
	for (size_t i = 0; i < l->nr; i++) {
		const char *owner = json_string_value(json_object_get(l->items[i].doc, "node_id"));
		struct dg_grid_node *n = owner ? node_find(grid, owner) : NULL;

		if (!n || l->items[i].forged)   /* a forged record is no sign of life */
			continue;
		n->holds_claim |= claims;
		n->last_activity = max64(n->last_activity,
					 dg_parse_utc(json_string_value(json_object_get(l->items[i].doc, key))));
	}
}

/*
 * Last activity: the newest of its heartbeat, registration (registered_at,
 * active_at, stopped_at), claims and (when loaded) results. With leases
 * and no heartbeats (protocol 2) a node holding a claim is alive and an
 * idle one is silent: "unknown".
 */
static void judge_node(struct dg_grid *grid, struct dg_grid_node *n)
{
	int64_t reg = dg_parse_utc(json_string_value(json_object_get(n->registration, "registered_at")));
	const char *stopped = json_string_value(json_object_get(n->registration, DG_NODE_STOPPED_KEY));

	n->last_activity = max64(n->last_activity, max64(n->heartbeat_time, reg));
	/* a budget grid's member writes when it was last active (pushslot.h) */
	n->last_activity = max64(n->last_activity,
				 dg_parse_utc(json_string_value(json_object_get(n->registration, DG_NODE_ACTIVE_KEY))));
	if (stopped)
		n->last_activity = max64(n->last_activity, dg_parse_utc(stopped));
	n->liveness = dg_grid_liveness(n->heartbeat, n->heartbeat_time, grid->now, grid->policy.node_timeout);
	if (!dg_policy_heartbeats(&grid->policy)) {
		if (n->holds_claim)
			n->liveness = DG_NODE_ALIVE;
		else if (n->liveness != DG_NODE_STOPPED)
			n->liveness = DG_NODE_UNKNOWN;
	}
	/* no heartbeat or claim says otherwise, and its registration says it stopped (a clean stop) */
	if (n->liveness == DG_NODE_UNKNOWN && stopped)
		n->liveness = DG_NODE_STOPPED;
}

/* newest activity first, then by name */
static int by_activity(const void *a, const void *b)
{
	const struct dg_grid_node *x = *(const struct dg_grid_node *const *)a, *y = *(const struct dg_grid_node *const *)b;

	if (x->last_activity != y->last_activity)
		return x->last_activity > y->last_activity ? -1 : 1;
	return strcmp(x->node_id, y->node_id);
}

bool dg_grid_node_silent(const struct dg_grid *g, const struct dg_grid_node *n)
{
	unsigned keep = g->policy.slot_keep_seconds;

	return (n->liveness == DG_NODE_UNKNOWN || n->liveness == DG_NODE_STALE) && keep &&
	       g->now - n->last_activity > (int64_t)keep;
}

/* Shows the DG_GRID_FOLD_SHOWN of v heard of last; returns how many it does not. */
static size_t show_newest(const struct dg_grid *g, const struct dg_grid_node **v, size_t n, bool *shown)
{
	qsort(v, n, sizeof(*v), by_activity);
	for (size_t k = 0; k < n && k < DG_GRID_FOLD_SHOWN; k++)
		shown[v[k] - g->nodes] = true;
	return n > DG_GRID_FOLD_SHOWN ? n - DG_GRID_FOLD_SHOWN : 0;
}

bool *dg_grid_nodes_shown(const struct dg_grid *g, struct dg_grid_folded *folded)
{
	bool *shown = dg_xcalloc(g->nodes_nr + 1, sizeof(*shown));
	const struct dg_grid_node **stopped = dg_xcalloc(g->nodes_nr + 1, sizeof(*stopped));
	const struct dg_grid_node **silent = dg_xcalloc(g->nodes_nr + 1, sizeof(*silent));
	size_t n = 0, m = 0;

	for (size_t i = 0; i < g->nodes_nr; i++) {
		if (g->nodes[i].liveness == DG_NODE_STOPPED)
			stopped[n++] = &g->nodes[i];
		else if (dg_grid_node_silent(g, &g->nodes[i]))
			silent[m++] = &g->nodes[i];
		else
			shown[i] = true;
	}
	folded->stopped = show_newest(g, stopped, n, shown);
	folded->silent = show_newest(g, silent, m, shown);
	free(stopped);
	free(silent);
	return shown;
}

/* Is "name" in l (sorted by name)? */
static struct dg_grid_file *find_name(struct dg_grid_list *l, const char *name)
{
	struct dg_grid_file key = { .name = (char *)name };

	return l->nr ? bsearch(&key, l->items, l->nr, sizeof(*l->items), by_name) : NULL;
}

/*
 * The archive's totals, and which results on main are in its newest batch
 * too (archived, not yet removed from main): those count once, there.
 */
static int load_archive(struct dg_grid *grid, struct dg_store *store)
{
	struct dg_strbuf newest = DG_STRBUF_INIT;
	int ret = dg_archive_read_summary(store, &grid->archive, &newest);

	for (char *line = newest.buf, *nl; ret == 0 && *line; line = nl + 1) {
		struct dg_grid_file *f;
		nl = strchr(line, '\n');
		*nl = '\0';
		if (!strncmp(line, "completed/", 10))
			f = find_name(&grid->completed, line + 10);
		else
			f = find_name(&grid->failed, line + 7);
		if (f)
			f->archived = true;
	}
	if (grid->archive && !json_is_object(grid->archive)) {
		json_decref(grid->archive);
		grid->archive = NULL;
	}
	dg_strbuf_release(&newest);
	return ret;
}

int dg_grid_load(struct dg_grid *grid, struct dg_store *store, unsigned flags)
{
	struct dg_strbuf policy = DG_STRBUF_INIT;
	struct node_ctx ctx = { store, grid };
	int ret;

	memset(grid, 0, sizeof(*grid));
	snprintf(grid->tip, sizeof(grid->tip), "%s", dg_store_tip(store));
	grid->now = dg_wall_seconds();
	grid->policy = dg_policy_default;
	if (!dg_store_read(store, "dgrid.json", &policy) &&
	    dg_policy_parse(&grid->policy, policy.buf, policy.len) < 0) {
		dg_error_prefix("dgrid.json");
		ret = DG_EINVALID;
		goto out;
	}
	if ((ret = dg_store_list(store, "nodes", add_node, &ctx)) < 0 ||
	    (ret = dg_store_list_side(store, DG_NODE_REF_PREFIX, DG_HEARTBEAT_PATH, add_heartbeat, grid)) < 0 ||
	    (ret = load_list(&grid->queue, store, "tasks/queue", flags & DG_GRID_LOAD_TASKS)) < 0 ||
	    (ret = load_list(&grid->running, store, "tasks/in_progress", flags & DG_GRID_LOAD_TASKS)) < 0 ||
	    (ret = load_list(&grid->completed, store, "tasks/completed", flags & DG_GRID_LOAD_RESULTS)) < 0 ||
	    (ret = load_list(&grid->failed, store, "tasks/failed", flags & DG_GRID_LOAD_RESULTS)) < 0)
		goto out;
	if ((flags & DG_GRID_LOAD_ARCHIVE) && grid->policy.protocol >= DG_SHARDED_PROTOCOL &&
	    (ret = load_archive(grid, store)) < 0)
		goto out;
	dg_grid_judge_records(grid, store);
	note_activity(grid, &grid->running, "claimed_at", true);
	note_activity(grid, &grid->completed, "timestamp", false);
	note_activity(grid, &grid->failed, "timestamp", false);
	for (size_t i = 0; i < grid->nodes_nr; i++)
		judge_node(grid, &grid->nodes[i]);
	ret = 0;
out:
	dg_strbuf_release(&policy);
	return ret;
}

static void list_release(struct dg_grid_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->items[i].name);
		free(l->items[i].path);
		free(l->items[i].forged);
		json_decref(l->items[i].doc);
	}
	free(l->items);
}

void dg_grid_release(struct dg_grid *grid)
{
	for (size_t i = 0; i < grid->nodes_nr; i++) {
		free(grid->nodes[i].node_id);
		json_decref(grid->nodes[i].registration);
		json_decref(grid->nodes[i].heartbeat);
		free(grid->nodes[i].forged);
	}
	free(grid->nodes);
	list_release(&grid->queue);
	list_release(&grid->running);
	list_release(&grid->completed);
	list_release(&grid->failed);
	json_decref(grid->archive);
	memset(grid, 0, sizeof(*grid));
}
