/*
 * status.c - dgrid status: nodes, queue, running tasks and results.
 */
#include "../advice.h"
#include "../archive.h"
#include "../census.h"
#include "../common.h"
#include "../error.h"
#include "../grid.h"
#include "../jsonio.h"
#include "../log.h"
#include "../strbuf.h"
#include "../task.h"
#include "../textsafe.h"
#include "../version.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <time.h>

#define LAST_RESULTS 10
#define QUEUE_SHOWN 50

static const char usage_text[] =
	"usage: dgrid status [--repo URL] [--json]\n"
	"\n"
	"Fetches the state repository and prints its nodes (alive, stale,\n"
	"stopped or unknown, with the age of the last heartbeat), the queue, the\n"
	"running tasks and the number of completed and failed tasks with the\n"
	"last ten of each (in file-name order). A node's status page address is\n"
	"shown as 'page http://ADDR:PORT/' when its heartbeat names one.\n"
	"The 'limits:' line says what limits the grid now (idle, ok, workers,\n"
	"queue, push budget or fetch budget), from the pushes on main in the last\n"
	"10 minutes, the policy's budgets, the nodes and their claims; the line\n"
	"under it gives those figures (doc/running.md, \"What limits the grid\").\n"
	"When dgrid.json lists the grid's other repositories (\"repositories\"),\n"
	"a last section counts each of them (this one first) and their total; a\n"
	"repository that cannot be read shows its error and is not counted.\n"
	"Control characters in names and ids are printed as escapes (\\x1b).\n"
	"\n"
	"      --repo URL   state repository (DGRID_REPO_URL, DGRID_REPO_PATH)\n"
	"      --json       one JSON object instead of text\n"
	"  -h, --help       this text\n";

static const char *str_or(const json_t *doc, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(doc, key));

	return v ? v : dflt;
}

/*
 * A JSON string from text that may not be UTF-8 (node ids from refs, file
 * names): json_string() would refuse it and the key would go missing.
 */
static json_t *jstr(const char *s)
{
	char *text = dg_text_from_bytes(s, strlen(s));
	json_t *v = json_string(text);

	free(text);
	return v ? v : json_null();
}

/* Text output goes through dg_textsafe_println: ids, names and states come
 * from a repository anyone may push to. */
#define say(...) dg_textsafe_println(stdout, __VA_ARGS__)

/* The id of a queued/running task: its task_id, else the file name less ".json". */
static char *task_id_of(const struct dg_grid_file *f)
{
	const char *id = str_or(f->doc, "task_id", NULL);
	size_t n = strlen(f->name);

	if (id)
		return dg_xstrdup(id);
	if (n > 5 && !strcmp(f->name + n - 5, ".json"))
		n -= 5;
	return dg_xstrndup(f->name, n);
}

static void utc(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm))
		snprintf(out, 32, "-");
	else
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One result of the last ones listed: read on demand (grids keep many). */
struct shown_result {
	char *file;
	char *task_id;
	char *node_id;
	char *status;
	char *timestamp;
};

static void load_last(struct shown_result **out, size_t *nr, struct dg_store *store,
		      const struct dg_grid_list *l)
{
	size_t start = l->nr > LAST_RESULTS ? l->nr - LAST_RESULTS : 0;

	*nr = l->nr - start;
	*out = dg_xcalloc(*nr ? *nr : 1, sizeof(**out));
	for (size_t i = start; i < l->nr; i++) {
		struct shown_result *r = &(*out)[i - start];
		struct dg_strbuf data = DG_STRBUF_INIT;
		json_t *doc = NULL;
		size_t n = strlen(l->items[i].name);

		if (l->items[i].size <= (1u << 20) && !dg_store_read(store, l->items[i].path, &data))
			doc = json_loadb(data.buf, data.len, 0, NULL);
		r->file = dg_xstrdup(l->items[i].name);
		if (n > 5 && !strcmp(r->file + n - 5, ".json"))
			n -= 5;
		r->task_id = dg_xstrdup(str_or(doc, "task_id", ""));
		if (!*r->task_id) {
			free(r->task_id);
			r->task_id = dg_xstrndup(r->file, n);
		}
		r->node_id = dg_xstrdup(str_or(doc, "node_id", ""));
		r->status = dg_xstrdup(str_or(doc, "status", ""));
		r->timestamp = dg_xstrdup(str_or(doc, "timestamp", ""));
		json_decref(doc);
		dg_strbuf_release(&data);
	}
}

static void free_last(struct shown_result *r, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(r[i].file);
		free(r[i].task_id);
		free(r[i].node_id);
		free(r[i].status);
		free(r[i].timestamp);
	}
	free(r);
}

static json_t *running_json(const struct dg_grid *g, const char *node)
{
	json_t *a = json_array();

	for (size_t i = 0; i < g->running.nr; i++) {
		const struct dg_grid_file *f = &g->running.items[i];
		const char *n = str_or(f->doc, "node_id", "");
		char *id;

		if (node && strcmp(node, n))
			continue;
		id = task_id_of(f);
		if (node) {
			json_array_append_new(a, jstr(id));
		} else {
			json_t *o = json_object();
			json_int_t attempt = json_integer_value(json_object_get(f->doc, "attempt"));

			json_object_set_new(o, "task_id", jstr(id));
			json_object_set_new(o, "node_id", *n ? jstr(n) : json_null());
			json_object_set_new(o, "claimed_at",
					    json_is_string(json_object_get(f->doc, "claimed_at"))
						    ? jstr(str_or(f->doc, "claimed_at", ""))
						    : json_null());
			json_object_set_new(o, "attempt", json_integer(attempt));
			json_array_append_new(a, o);
		}
		free(id);
	}
	return a;
}

/*
 * The node's status page as its heartbeat names it ("http": "ADDR:PORT"),
 * or NULL. Only a plausible address is shown: it becomes a link people
 * click, and the heartbeat is anybody's write.
 */
static const char *page_of(const struct dg_grid_node *n)
{
	const char *v = str_or(n->heartbeat, "http", NULL);

	if (!v || !*v || strlen(v) > 64 || strspn(v, "0123456789abcdefABCDEF.:[]") != strlen(v))
		return NULL;
	return v;
}

static int unrunnable_json(const char *task_id, const char *why, void *payload)
{
	json_array_append_new(payload, json_pack("{s:o, s:o}", "task_id", jstr(task_id), "why", jstr(why)));
	return 0;
}

struct unrunnable_text {
	size_t nr;
	struct dg_strbuf lines;
};

static int unrunnable_text(const char *task_id, const char *why, void *payload)
{
	struct unrunnable_text *u = payload;

	if (u->nr++ < QUEUE_SHOWN)
		dg_strbuf_addf(&u->lines, "  %s: %s\n", task_id, why);
	return 0;
}

static void print_json(const struct dg_grid *g, const struct dg_advice *advice,
		       const struct dg_census *census,
		       const struct shown_result *done, size_t done_nr,
		       const struct shown_result *bad, size_t bad_nr)
{
	json_t *o = json_object(), *nodes = json_array(), *queue = json_array(), *unrun = json_array();
	json_t *waiting = json_array();
	json_t *cids = json_array(), *fids = json_array();
	struct dg_strbuf text = DG_STRBUF_INIT, safe = DG_STRBUF_INIT;
	char now[32], hb[32];

	dg_utc_now(now);
	json_object_set_new(o, "tip", *g->tip ? json_string(g->tip) : json_null());
	json_object_set_new(o, "generated_at", json_string(now));
	json_object_set_new(o, "protocol", json_integer(g->policy.protocol));
	for (size_t i = 0; i < g->nodes_nr; i++) {
		const struct dg_grid_node *n = &g->nodes[i];
		json_t *jn = json_object();
		const char *state = str_or(n->heartbeat, "state", NULL);
		const char *page = page_of(n);

		utc(hb, n->heartbeat_time);
		json_object_set_new(jn, "node_id", jstr(n->node_id));
		json_object_set_new(jn, "liveness", json_string(dg_node_liveness_name(n->liveness)));
		json_object_set_new(jn, "last_heartbeat",
				    n->heartbeat_time > 0 ? json_string(hb) : json_null());
		json_object_set_new(jn, "heartbeat_age_seconds",
				    n->heartbeat_time > 0 ? json_integer(g->now - n->heartbeat_time)
							  : json_null());
		json_object_set_new(jn, "state", state ? jstr(state) : json_null());
		utc(hb, n->last_activity);
		json_object_set_new(jn, "last_activity", n->last_activity > 0 ? json_string(hb) : json_null());
		json_object_set_new(jn, "http", page ? jstr(page) : json_null());
		json_object_set_new(jn, "version", jstr(dg_grid_node_version(n)));
		json_object_set_new(jn, "protocol", json_integer(dg_grid_node_protocol(n)));
		json_object_set_new(jn, "needs_upgrade",
				    json_boolean(dg_grid_node_protocol(n) < g->policy.protocol));
		json_object_set_new(jn, "running", running_json(g, n->node_id));
		json_object_set_new(jn, "forged", n->forged ? jstr(n->forged) : json_null());
		json_object_set_new(jn, "reputation", json_pack("{s:i, s:i, s:i}", "agreed", n->agreed,
				    "disagreed", n->disagreed, "forged_records", n->forged_records));
		json_array_append_new(nodes, jn);
	}
	json_object_set_new(o, "nodes", nodes);
	for (size_t i = 0; i < g->queue.nr; i++) {
		char *id = task_id_of(&g->queue.items[i]);
		char why[160];

		json_array_append_new(queue, jstr(id));
		if (dg_grid_waits_for(g, g->queue.items[i].doc, why, sizeof(why)))
			json_array_append_new(waiting, json_pack("{s:o, s:s}", "task_id", jstr(id), "why", why));
		free(id);
	}
	json_object_set_new(o, "waiting", waiting);
	json_object_set_new(o, "queue", queue);
	dg_grid_unrunnable(g, unrunnable_json, unrun);
	json_object_set_new(o, "unrunnable", unrun);
	json_object_set_new(o, "running", running_json(g, NULL));
	json_object_set_new(o, "completed", json_integer((json_int_t)dg_census_on_main(&g->completed)));
	json_object_set_new(o, "failed", json_integer((json_int_t)dg_census_on_main(&g->failed)));
	json_object_set_new(o, "archived", g->archive ? json_pack("{s:I, s:O}", "results",
		json_integer_value(json_object_get(g->archive, "results")),
		"status", json_object_get(g->archive, "status") ?: json_object()) : json_null());
	for (size_t i = 0; i < done_nr; i++)
		json_array_append_new(cids, jstr(done[i].task_id));
	for (size_t i = 0; i < bad_nr; i++)
		json_array_append_new(fids, jstr(bad[i].task_id));
	json_object_set_new(o, "completed_ids", cids);
	json_object_set_new(o, "failed_ids", fids);
	json_object_set_new(o, "advice", dg_advice_json(advice));
	/* registrations, heartbeats and claims not signed by their node's key (grid_trust.c) */
	json_object_set_new(o, "forged_records", json_integer(g->forged_nr));
	/* absent for a grid of one repository: its output stays as it was */
	if (census->nr > 1) {
		json_object_set_new(o, "repositories", dg_census_members_json(census));
		json_object_set_new(o, "totals", dg_census_totals_json(census));
	}
	dg_json_dump(&text, o);
	/* jansson leaves DEL and the C1 controls raw; a terminal may act on them */
	dg_textsafe_json(&safe, text.buf, text.len);
	fwrite(safe.buf, 1, safe.len, stdout);
	dg_strbuf_release(&text);
	dg_strbuf_release(&safe);
	json_decref(o);
}

static void add_age(struct dg_strbuf *sb, int64_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		dg_strbuf_addf(sb, "%" PRId64 "s ago", secs);
	else if (secs < 7200)
		dg_strbuf_addf(sb, "%" PRId64 "m ago", secs / 60);
	else if (secs < 172800)
		dg_strbuf_addf(sb, "%" PRId64 "h ago", secs / 3600);
	else
		dg_strbuf_addf(sb, "%" PRId64 "d ago", secs / 86400);
}

static void print_results(const char *what, size_t total, const struct shown_result *r, size_t nr)
{
	say("%-10s %zu", what, total);
	for (size_t i = 0; i < nr; i++)
		say("  %-24s node %-16s %-9s %s", r[i].task_id, *r[i].node_id ? r[i].node_id : "-",
		    *r[i].status ? r[i].status : "-", *r[i].timestamp ? r[i].timestamp : "-");
	if (total > nr)
		say("  (the last %zu in file-name order)", nr);
}

static void print_node(const struct dg_grid *g, const struct dg_grid_node *n)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	const char *page = page_of(n);
	json_t *run = running_json(g, n->node_id);
	size_t j;
	json_t *v;

	dg_strbuf_addf(&sb, "  %-24s %-8s ", n->node_id, dg_node_liveness_name(n->liveness));
	if (n->heartbeat_time > 0) {
		dg_strbuf_addstr(&sb, "heartbeat ");
		add_age(&sb, g->now - n->heartbeat_time);
	} else {
		dg_strbuf_addstr(&sb, "no heartbeat");
	}
	if (n->last_activity > n->heartbeat_time) {
		dg_strbuf_addstr(&sb, ", active ");
		add_age(&sb, g->now - n->last_activity);
	}
	dg_strbuf_addf(&sb, "  %s", str_or(n->heartbeat, "state", "-"));
	dg_strbuf_addf(&sb, "  dgrid %s", dg_grid_node_version(n));
	if (dg_grid_node_protocol(n) < g->policy.protocol)
		dg_strbuf_addf(&sb, " (NEEDS UPGRADE: speaks protocol %u, the grid needs %u)",
			       dg_grid_node_protocol(n), g->policy.protocol);
	if (page)
		dg_strbuf_addf(&sb, "  page http://%s/", page);
	if (json_array_size(run)) {
		dg_strbuf_addstr(&sb, "  running:");
		json_array_foreach(run, j, v)
			dg_strbuf_addf(&sb, " %s", json_string_value(v));
	}
	if (n->agreed || n->disagreed || n->forged_records)
		dg_strbuf_addf(&sb, "  reputation: %u agreed, %u disagreed, %u forged", n->agreed, n->disagreed,
			       n->forged_records);
	if (n->forged)
		dg_strbuf_addf(&sb, "  FORGED: %s (ignored by the workers)", n->forged);
	say("%s", sb.buf);
	json_decref(run);
	dg_strbuf_release(&sb);
}

static void add_counts(struct dg_strbuf *sb, const struct dg_census_counts *c)
{
	dg_strbuf_addf(sb, "queued %" PRIu64 "  running %" PRIu64 "  completed %" PRIu64
		       "  failed %" PRIu64 "  nodes %" PRIu64,
		       c->queued, c->running, c->completed, c->failed, c->nodes);
}

/*
 * Every repository of the grid (census.h), the home first, and their sum;
 * nothing for a grid of one. A member that could not be read shows why on
 * its line and is left out of the total, which says so.
 */
static void print_members(const struct dg_census *c)
{
	struct dg_strbuf line = DG_STRBUF_INIT;
	int width = 5;   /* "total" */

	if (c->nr < 2)
		return;
	for (size_t i = 0; i < c->nr; i++) {
		size_t n = strlen(c->members[i].shown);
		if (n > (size_t)width && n <= 72)
			width = (int)n;
	}
	say("repositories %zu (this one first; completed and failed include archived results)", c->nr);
	for (size_t i = 0; i < c->nr; i++) {
		const struct dg_census_member *m = &c->members[i];

		dg_strbuf_reset(&line);
		dg_strbuf_addf(&line, "  %-*s  ", width, m->shown);
		if (m->error)
			dg_strbuf_addf(&line, "error: %s", m->error);
		else
			add_counts(&line, &m->counts);
		say("%s", line.buf);
	}
	dg_strbuf_reset(&line);
	dg_strbuf_addf(&line, "  %-*s  ", width, "total");
	add_counts(&line, &c->total);
	if (c->missing)
		dg_strbuf_addf(&line, "  (%zu of %zu repositories missing: not counted)", c->missing, c->nr);
	say("%s", line.buf);
	dg_strbuf_release(&line);
}

/* Queued tasks whose "requires" no active node meets (doc/tasks.md). */
static void print_unrunnable(const struct dg_grid *g)
{
	struct unrunnable_text u = { 0, DG_STRBUF_INIT };

	dg_grid_unrunnable(g, unrunnable_text, &u);
	if (u.nr)
		say("unrunnable %zu queued task%s no active node can run", u.nr, u.nr == 1 ? "" : "s");
	if (u.lines.len)
		fputs(u.lines.buf, stdout);
	if (u.nr > QUEUE_SHOWN)
		say("  ... and %zu more", u.nr - QUEUE_SHOWN);
	dg_strbuf_release(&u.lines);
}

static void print_text(const struct dg_grid *g, const struct dg_advice *advice,
		       const struct dg_census *census,
		       const struct shown_result *done, size_t done_nr,
		       const struct shown_result *bad, size_t bad_nr)
{
	char figures[2 * DG_ADVICE_TEXT_MAX];
	size_t alive = 0, stopped = 0, silent = 0;
	struct dg_grid_folded folded;
	bool *shown = dg_grid_nodes_shown(g, &folded);

	for (size_t i = 0; i < g->nodes_nr; i++) {
		alive += g->nodes[i].liveness == DG_NODE_ALIVE;
		stopped += g->nodes[i].liveness == DG_NODE_STOPPED;
		silent += dg_grid_node_silent(g, &g->nodes[i]);
	}
	say("tip        %s", *g->tip ? g->tip : "(empty repository)");
	if (g->policy.protocol > DG_PROTOCOL)
		say("protocol   %u: NEWER than this dgrid %s (protocol %u); upgrade it, what follows may be incomplete",
		    g->policy.protocol, DG_VERSION, DG_PROTOCOL);
	else
		say("protocol   %u", g->policy.protocol);
	if (stopped && silent)
		say("nodes      %zu (%zu alive, %zu stopped, %zu silent)", g->nodes_nr, alive, stopped, silent);
	else if (stopped || silent)
		say("nodes      %zu (%zu alive, %zu %s)", g->nodes_nr, alive, stopped + silent,
		    stopped ? "stopped" : "silent");
	else
		say("nodes      %zu (%zu alive)", g->nodes_nr, alive);
	for (size_t i = 0; i < g->nodes_nr; i++) {
		if (shown[i])
			print_node(g, &g->nodes[i]);
	}
	if (folded.stopped)
		say("  ... and %zu more that stopped earlier (--json lists every node)", folded.stopped);
	if (folded.silent)
		say("  ... and %zu more silent for longer (over slot_keep_seconds, %u s: dead, or idle; "
		    "--json lists every node)", folded.silent, g->policy.slot_keep_seconds);
	free(shown);
	say("queue      %zu", g->queue.nr);
	for (size_t i = 0; i < g->queue.nr && i < QUEUE_SHOWN; i++) {
		char *id = task_id_of(&g->queue.items[i]);
		char why[160];

		if (dg_grid_waits_for(g, g->queue.items[i].doc, why, sizeof(why)))
			say("  %s (%s)", id, why);
		else
			say("  %s", id);
		free(id);
	}
	if (g->queue.nr > QUEUE_SHOWN)
		say("  ... and %zu more", g->queue.nr - QUEUE_SHOWN);
	print_unrunnable(g);
	say("running    %zu", g->running.nr);
	for (size_t i = 0; i < g->running.nr; i++) {
		const struct dg_grid_file *f = &g->running.items[i];
		char *id = task_id_of(f);

		say("  %-24s node %-16s claimed %s  attempt %" JSON_INTEGER_FORMAT "%s%s%s", id,
		    str_or(f->doc, "node_id", "-"), str_or(f->doc, "claimed_at", "-"),
		    json_integer_value(json_object_get(f->doc, "attempt")),
		    f->forged ? "  FORGED: " : "", f->forged ? f->forged : "",
		    f->forged ? " (workers release it)" : "");
		free(id);
	}
	if (g->forged_nr)
		say("forged     %u record%s not signed by their node's key (dgrid verify also judges results)",
		    g->forged_nr, g->forged_nr == 1 ? "" : "s");
	print_results("completed", dg_census_on_main(&g->completed), done, done_nr);
	print_results("failed", dg_census_on_main(&g->failed), bad, bad_nr);
	if (g->archive) {
		struct dg_strbuf line = DG_STRBUF_INIT;
		const char *key;
		json_t *v;
		dg_strbuf_addf(&line, "archived   %" JSON_INTEGER_FORMAT " (" DG_ARCHIVE_REF,
			       json_integer_value(json_object_get(g->archive, "results")));
		json_object_foreach(json_object_get(g->archive, "status"), key, v)
			dg_strbuf_addf(&line, ", %s %" JSON_INTEGER_FORMAT, key, json_integer_value(v));
		dg_strbuf_addch(&line, ')');
		say("%s", line.buf);
		dg_strbuf_release(&line);
	}
	dg_advice_describe(figures, sizeof(figures), advice);
	say("limits:    %s", advice->text);
	say("           %s", figures);
	print_members(census);
}

/* "warning: <dg_error_last()>", redacted and escaped like cmd_fail's errors. */
static void warn_members(void)
{
	struct dg_strbuf red = DG_STRBUF_INIT, msg = DG_STRBUF_INIT;

	dg_redact(&red, dg_error_last());
	dg_textsafe_add(&msg, red.buf, red.len);
	fprintf(stderr, "warning: the grid's other repositories are not shown: %s\n", msg.buf);
	dg_strbuf_release(&red);
	dg_strbuf_release(&msg);
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store *store = NULL;
	struct dg_grid grid;
	struct shown_result *done = NULL, *bad = NULL;
	struct dg_advice_figures fig;
	struct dg_advice advice;
	struct dg_census census = DG_CENSUS_INIT;
	size_t done_nr = 0, bad_nr = 0;
	const char *repo = NULL;
	bool json = false, loaded = false;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'j': json = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return cmd_bad_option(c, argv, "status");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument '%s' (see 'dgrid status --help')\n",
			argv[optind]);
		return 2;
	}
	if ((ret = cmd_repo_config(&cfg, repo)))
		return ret;
	ret = 1;
	if (cmd_open_store(&store, &cfg, true))
		goto out;
	if (dg_grid_load(&grid, store, DG_GRID_LOAD_TASKS | DG_GRID_LOAD_ARCHIVE) < 0) {
		cmd_fail(NULL);
		goto out;
	}
	loaded = true;
	if (dg_advice_measure(&fig, store, &grid, cfg.repo_url) < 0) {
		cmd_fail(NULL);
		goto out;
	}
	dg_advice_judge(&advice, &fig);
	load_last(&done, &done_nr, store, &grid.completed);
	load_last(&bad, &bad_nr, store, &grid.failed);
	/* the home's own figures stand without the others: warn, go on */
	if (dg_census_take(&census, &cfg, store, &grid, "cli") < 0)
		warn_members();
	if (json)
		print_json(&grid, &advice, &census, done, done_nr, bad, bad_nr);
	else
		print_text(&grid, &advice, &census, done, done_nr, bad, bad_nr);
	ret = 0;
out:
	fflush(stdout);
	dg_census_release(&census);
	free_last(done, done_nr);
	free_last(bad, bad_nr);
	if (loaded)
		dg_grid_release(&grid);
	dg_store_free(store);
	return ret;
}
