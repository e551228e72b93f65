/*
 * dgrid upgrade - moves a grid to the protocol this dgrid speaks.
 *
 * The protocol is the "protocol" key of dgrid.json (doc/policy.md). Raising
 * it is what makes every up-to-date dgrid of an older protocol stop writing
 * to the grid, so it is never done behind the operator's back: no worker
 * upgrades a grid on its own. Before writing, the command looks for nodes
 * that speak an older protocol and still look active, because those would
 * be cut off mid-work (and builds before 0.2.0 would not even notice),
 * and looks again at the claims inside the transaction that raises it: a
 * node may claim between the first look and the commit.
 * Reaching protocol 3 also moves the flat files of older layouts into
 * their shards (migrate.h); run again, the command finishes a migration
 * that was interrupted.
 */
#include "../common.h"
#include "../error.h"
#include "../grid.h"
#include "../jsonio.h"
#include "../layout.h"
#include "../migrate.h"
#include "../strbuf.h"
#include "../task.h"
#include "../textsafe.h"
#include "../version.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>

static const char usage_text[] =
	"usage: dgrid upgrade --repo URL [--force]\n"
	"\n"
	"Sets \"protocol\" in the grid's dgrid.json to the one this dgrid speaks\n"
	"(3: tasks and results in shards, so a push costs the same whatever the\n"
	"grid's age; since 2, claims are leases and idle workers push nothing),\n"
	"keeping every other key, in one compare-and-swap commit. Then it moves\n"
	"the flat files of older layouts into their shards, 5000 per commit,\n"
	"while workers go on (run it again to finish an interrupted migration).\n"
	"From then on, dgrid 0.2.0 and\n"
	"later builds of an older protocol write nothing to the grid; builds\n"
	"before 0.2.0 do not know the key: stop them first. The command refuses\n"
	"while a node of an older protocol looks active (a heartbeat younger than\n"
	"node_timeout, or a claim in tasks/in_progress/), unless --force.\n"
	"\n"
	"  --repo URL   state repository (default: $DGRID_REPO_URL)\n"
	"  --force      upgrade even with such nodes active\n"
	"  -h, --help   this text\n";

/* Nodes of an older protocol that are alive or hold a claim: none may be cut off. */
static size_t active_old_nodes(const struct dg_grid *g, struct dg_strbuf *list)
{
	size_t n = 0;

	for (size_t i = 0; i < g->nodes_nr; i++) {
		const struct dg_grid_node *node = &g->nodes[i];
		bool holds = node->holds_claim;

		if (dg_grid_node_protocol(node) >= DG_PROTOCOL)
			continue;
		if (node->liveness != DG_NODE_ALIVE && !holds)
			continue;
		dg_textsafe_addf(list, "  node %s (dgrid %s, protocol %u)%s", node->node_id,
				 dg_grid_node_version(node), dg_grid_node_protocol(node),
				 holds ? " holds a claim" : " is alive");
		dg_strbuf_addch(list, '\n');
		n++;
	}
	return n;
}

struct upgrade {
	unsigned from;
	const struct dg_grid *grid;   /* the nodes as read before the transaction */
	bool force;
	struct dg_strbuf holder;      /* a claim's node that is not known to speak our protocol */
};

/* Does the grid as read know node id to speak this protocol? */
static bool speaks_ours(const struct dg_grid *g, const char *id)
{
	for (size_t i = 0; i < g->nodes_nr; i++) {
		if (!strcmp(g->nodes[i].node_id, id))
			return dg_grid_node_protocol(&g->nodes[i]) >= DG_PROTOCOL;
	}
	return false;
}

struct claims_walk {
	struct dg_txn *txn;
	struct upgrade *u;
};

/*
 * Does the registration at the transaction's base say node id speaks this
 * protocol? A worker that registered after the grid was read (its
 * registration rides on its first claim) is known from there.
 */
static bool registered_ours(struct dg_txn *txn, const char *id)
{
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	json_t *doc = NULL;
	bool ours = false;

	dg_strbuf_addf(&path, "nodes/%s.json", id);
	if (dg_txn_read(txn, path.buf, &data) == 0 && (doc = json_loadb(data.buf, data.len, 0, NULL)))
		ours = json_integer_value(json_object_get(doc, "protocol")) >= DG_PROTOCOL;
	json_decref(doc);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return ours;
}

static int claim_holder(const struct dg_entry *e, void *payload)
{
	struct claims_walk *cw = payload;
	struct dg_strbuf data = DG_STRBUF_INIT;
	json_t *doc;
	const char *node;
	int ret = 0;

	if (!e->is_file || dg_txn_read(cw->txn, e->path, &data) < 0)
		goto out;
	doc = json_loadb(data.buf, data.len, 0, NULL);
	node = json_string_value(json_object_get(doc, "node_id"));
	if (node && !speaks_ours(cw->u->grid, node) && !registered_ours(cw->txn, node)) {
		dg_strbuf_reset(&cw->u->holder);
		dg_strbuf_addstr(&cw->u->holder, node);
		ret = 1;
	}
	json_decref(doc);
out:
	dg_strbuf_release(&data);
	return ret;
}

static int upgrade_fn(struct dg_txn *txn, void *payload)
{
	struct upgrade *u = payload;
	struct dg_strbuf old = DG_STRBUF_INIT, text = DG_STRBUF_INIT;
	struct dg_policy pol = dg_policy_default;
	json_t *doc;
	int ret = DG_EINVALID;

	if (dg_txn_read(txn, "dgrid.json", &old) < 0)
		dg_strbuf_addstr(&old, "{}");
	if (dg_policy_parse(&pol, old.buf, old.len) < 0) {
		dg_error_prefix("dgrid.json");
		goto out;
	}
	u->from = pol.protocol;
	if (pol.protocol >= DG_PROTOCOL) {
		ret = 1;
		goto out;
	}
	/*
	 * The claims as this very commit would cut them off: a node of an older
	 * protocol may have claimed since the grid was read (this attempt may
	 * be a retry on a newer tip). Its task would run again after its lease.
	 */
	if (!u->force) {
		struct claims_walk cw = { txn, u };

		if ((ret = dg_layout_walk_txn(txn, DG_DIR_RUNNING, claim_holder, &cw)) < 0)
			goto out;
		if (ret > 0) {
			dg_error_set("node %s, not known to speak protocol %u, holds a claim now; "
				     "nothing was changed (try again when it holds none, or pass --force)",
				     u->holder.buf, DG_PROTOCOL);
			ret = DG_ECONFLICT;
			goto out;
		}
	}
	doc = dg_json_load_object(old.buf, old.len);
	json_object_set_new(doc, "protocol", json_integer(DG_PROTOCOL));
	dg_json_dump(&text, doc);
	json_decref(doc);
	if ((ret = dg_txn_write(txn, "dgrid.json", text.buf, text.len)) == 0)
		dg_txn_message(txn, "upgrade the grid to protocol %u (dgrid %s)", DG_PROTOCOL, DG_VERSION);
out:
	dg_strbuf_release(&old);
	dg_strbuf_release(&text);
	return ret;
}

int cmd_upgrade(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store *store = NULL;
	struct dg_grid grid;
	struct dg_strbuf list = DG_STRBUF_INIT;
	struct dg_txn_stats st;
	struct dg_migrate_stats ms = { 0 };
	struct upgrade u = { 0, NULL, false, DG_STRBUF_INIT };
	const char *repo = NULL;
	bool force = false, loaded = false;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'f': force = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return cmd_bad_option(c, argv, "upgrade");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument (see 'dgrid upgrade --help')\n");
		return 2;
	}
	if ((ret = cmd_repo_config(&cfg, repo)) != 0)
		return ret;
	if ((ret = cmd_open_store(&store, &cfg, true)) != 0)
		return ret;
	if (dg_grid_load(&grid, store, DG_GRID_LOAD_TASKS) < 0) {
		ret = cmd_fail("cannot read the grid");
		goto out;
	}
	loaded = true;
	if (active_old_nodes(&grid, &list) && !force) {
		fprintf(stderr, "error: nodes of an older protocol are active; stop or upgrade them "
			"first (or pass --force: they stop writing at once):\n%s", list.buf);
		ret = 1;
		goto out;
	}
	u.grid = &grid;
	u.force = force;
	if (dg_store_transact(store, upgrade_fn, &u, &st) < 0) {
		ret = cmd_fail("cannot upgrade");
		goto out;
	}
	if (!st.committed)
		printf("the grid is at protocol %u already (this dgrid speaks %u)\n", u.from, DG_PROTOCOL);
	else
		printf("upgraded the grid from protocol %u to %u\n", u.from, DG_PROTOCOL);
	fflush(stdout);
	if (dg_migrate_flat(store, 0, &ms) < 0) {
		ret = cmd_fail("cannot move the flat files into shards (run 'dgrid upgrade' again to go on)");
		goto out;
	}
	if (ms.moved)
		printf("moved %zu flat files into shards in %u commits (%zu bytes pushed)\n",
		       ms.moved, ms.commits, ms.bytes_pushed);
	ret = 0;
out:
	if (loaded)
		dg_grid_release(&grid);
	dg_store_free(store);
	dg_strbuf_release(&u.holder);
	dg_strbuf_release(&list);
	return ret;
}
