/*
 * demo.c - dgrid demo: a complete grid on this machine, with no account
 * anywhere. A bare repository in DIR/repo plays the Git host; the example
 * tasks are submitted; three workers run them and exit when the grid is
 * drained; the final status and a dashboard are written; every example's
 * outcome is checked against the "expect" field its file carries.
 *
 * Everything real is done by the dgrid binary itself (init, submit, worker,
 * status, dashboard), spawned from /proc/self/exe with argv arrays
 * (demo_workers.c), so the demo exercises the same commands a user would
 * type. The only write done in-process is the deliberately invalid
 * example, which `dgrid submit` refuses by design: it is committed as a
 * user would commit a file without validating it, and a worker turns it
 * into a `rejected` result.
 */
#include "../common.h"
#include "../clock.h"
#include "../error.h"
#include "../fs.h"
#include "../grid.h"
#include "../store.h"
#include "../strbuf.h"
#include "cmd.h"
#include "cmdutil.h"
#include "demo.h"

#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: dgrid demo [--dir DIR] [--examples DIR] [--workers N] [--timeout SECONDS]\n"
	"\n"
	"Runs a complete grid on this machine: a bare repository in DIR/repo as\n"
	"the Git host (with a policy of short limits, DIR/dgrid.json), the\n"
	"example tasks submitted, N workers (best sandbox available) that exit\n"
	"once the grid is drained, then the final status and the dashboard in\n"
	"DIR/site. Worker logs go to DIR/logs. Each run starts a fresh grid: it\n"
	"replaces DIR/repo, DIR/cache, DIR/logs and DIR/site (and refuses a\n"
	"non-empty DIR it did not create). Exit 0 only when every example ended\n"
	"as its \"expect\" field says.\n"
	"\n"
	"      --dir DIR          where the grid lives (default ./demo-grid)\n"
	"      --examples DIR     task files (default: the examples/ directory\n"
	"                         next to the binary, or share/dgrid/examples)\n"
	"      --workers N        worker processes, 1-16 (default 3)\n"
	"      --timeout SECONDS  give up after this long, 10-3600 (default 120)\n"
	"  -h, --help             this text\n";

/* The demo grid's dgrid.json: short limits so that it finishes quickly. */
static const char demo_policy[] =
	"{\n"
	"  \"$comment\": \"dgrid demo: short timeouts and heartbeats so the demo is quick\",\n"
	"  \"timeout_min\": 1,\n"
	"  \"heartbeat_interval\": 2,\n"
	"  \"node_timeout\": 20\n"
	"}\n";
#define DEMO_HEARTBEAT "2"

#define MARKER ".dgrid-demo"
#define MARKER_TEXT "made by dgrid demo; each run replaces repo/ cache/ logs/ site/\n"

struct example {
	char *path;          /* the file */
	char *name;          /* its base name */
	char *task_id;       /* the base name without .json */
	char *expect;        /* success, failed, timeout, rejected */
	const char *got;     /* status of its result, while check_results reads them */
};

/* Makes DIR a fresh demo directory with the policy; prints and returns 1 on failure. */
static int prepare_dir(struct demo *d)
{
	static const struct { const char *name; bool make; } fresh[] = {
		{ "repo", false }, { "site", false }, { "cache", true }, { "logs", true },
	};
	char *marker = dg_xasprintf("%s/" MARKER, d->dir);
	int ret = 1;

	if (dg_fs_mkdir(d->dir) < 0)
		goto fail;
	if (access(marker, F_OK) < 0 && !cmd_path_is_empty(d->dir)) {
		fprintf(stderr, "error: '%s' is not empty and was not made by dgrid demo; "
			"give another --dir\n", d->dir);
		goto out;
	}
	if (dg_fs_write(d->dir, MARKER, MARKER_TEXT, strlen(MARKER_TEXT)) < 0)
		goto fail;
	for (size_t i = 0; i < DG_ARRAY_SIZE(fresh); i++) {
		char *p = dg_xasprintf("%s/%s", d->dir, fresh[i].name);
		int r = dg_fs_rmtree(p);

		if (r < 0)
			fprintf(stderr, "error: cannot remove '%s': %s\n", p, strerror(errno));
		else if (fresh[i].make && (r = dg_fs_mkdir(p)) < 0)
			fprintf(stderr, "error: %s\n", dg_error_last());
		free(p);
		if (r < 0)
			goto out;
	}
	d->abs_dir = realpath(d->dir, NULL);
	if (!d->abs_dir) {
		fprintf(stderr, "error: cannot resolve '%s': %s\n", d->dir, strerror(errno));
		goto out;
	}
	if (dg_fs_write(d->abs_dir, "dgrid.json", demo_policy, strlen(demo_policy)) < 0)
		goto fail;
	d->repo = dg_xasprintf("%s/repo", d->abs_dir);
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", dg_error_last());
out:
	free(marker);
	return ret;
}

static int cmp_example(const void *a, const void *b)
{
	return strcmp(((const struct example *)a)->name, ((const struct example *)b)->name);
}

/* Reads every *.json file of dir and its "expect" field. */
static int load_examples(struct demo *d, const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (!dh) {
		fprintf(stderr, "error: cannot read examples '%s': %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(dh))) {
		size_t n = strlen(de->d_name);
		struct example *e;
		json_t *doc, *v;

		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") || de->d_name[0] == '.')
			continue;
		DG_ALLOC_GROW(d->ex, d->ex_nr + 1, d->ex_alloc);
		e = &d->ex[d->ex_nr++];
		memset(e, 0, sizeof(*e));
		e->name = dg_xstrdup(de->d_name);
		e->path = dg_xasprintf("%s/%s", dir, de->d_name);
		e->task_id = dg_xstrndup(de->d_name, n - 5);
		doc = json_load_file(e->path, 0, NULL);
		if (doc && (v = json_object_get(doc, "expect")) && json_is_string(v))
			e->expect = dg_xstrdup(json_string_value(v));
		else
			e->expect = dg_xstrdup(doc ? "success" : "rejected");
		json_decref(doc);
	}
	closedir(dh);
	if (!d->ex_nr) {
		fprintf(stderr, "error: no *.json task files in '%s'\n", dir);
		return 1;
	}
	qsort(d->ex, d->ex_nr, sizeof(*d->ex), cmp_example);
	return 0;
}

/* Candidate example directories, relative to the binary, then to the cwd. */
static char *find_examples(const char *exe)
{
	static const char *const rel[] = {
		"../examples", "../share/dgrid/examples", "../../examples",
	};
	char *dir = dg_xstrdup(exe), *slash = strrchr(dir, '/');
	char *found = NULL;
	struct stat st;

	if (slash)
		*slash = '\0';
	for (size_t i = 0; i < DG_ARRAY_SIZE(rel) && !found; i++) {
		char *p = dg_xasprintf("%s/%s/hello.json", dir, rel[i]);
		if (!stat(p, &st))
			found = dg_xasprintf("%s/%s", dir, rel[i]);
		free(p);
	}
	if (!found && !stat("examples/hello.json", &st))
		found = dg_xstrdup("examples");
	free(dir);
	return found;
}

static int open_store(const struct demo *d, struct dg_store **store)
{
	struct dg_store_opts so = DG_STORE_OPTS_INIT;

	so.url = d->repo;
	so.author = "dgrid demo";
	return dg_store_open(store, &so);
}

/* The grid's current state; 0, or -1 with dg_error_last() and g empty. */
static int load_grid(const struct demo *d, struct dg_grid *g, unsigned flags)
{
	struct dg_store *store = NULL;
	int ret;

	memset(g, 0, sizeof(*g));
	ret = open_store(d, &store);
	if (!ret)
		ret = dg_store_fetch(store);
	if (!ret)
		ret = dg_grid_load(g, store, flags);
	if (ret)
		dg_grid_release(g);
	dg_store_free(store);
	return ret ? -1 : 0;
}

struct raw_put {
	const char *path;
	struct dg_strbuf data;
};

static int put_raw(struct dg_txn *txn, void *payload)
{
	struct raw_put *rp = payload;

	if (dg_txn_exists(txn, rp->path))
		return 1;
	dg_txn_message(txn, "demo: add %s without validation (a worker will reject it)", rp->path);
	return dg_txn_write(txn, rp->path, rp->data.buf, rp->data.len);
}

/* Commits an invalid task file as it is, as a careless user would. */
static int commit_raw(const struct demo *d, const struct example *e)
{
	struct dg_store *store = NULL;
	struct raw_put rp = { NULL, DG_STRBUF_INIT };
	char *path = dg_xasprintf("tasks/queue/%s", e->name);
	int ret = 1;

	rp.path = path;
	if (dg_strbuf_read_file(&rp.data, e->path, 1 << 20) < 0) {
		fprintf(stderr, "error: cannot read '%s': %s\n", e->path, dg_error_last());
		goto out;
	}
	if (open_store(d, &store) < 0 || dg_store_transact(store, put_raw, &rp, NULL) < 0) {
		fprintf(stderr, "error: cannot commit '%s': %s\n", path, dg_error_last());
		goto out;
	}
	ret = 0;
out:
	dg_store_free(store);
	dg_strbuf_release(&rp.data);
	free(path);
	return ret;
}

static int submit_examples(const struct demo *d)
{
	const char **argv = dg_xcalloc(d->ex_nr + 5, sizeof(*argv));
	size_t n = 0;
	int ret = 1;

	argv[n++] = NULL;
	argv[n++] = "submit";
	argv[n++] = "--repo";
	argv[n++] = d->repo;
	for (size_t i = 0; i < d->ex_nr; i++)
		if (strcmp(d->ex[i].expect, "rejected"))
			argv[n++] = d->ex[i].path;
	argv[n] = NULL;
	if (n > 4 && demo_run(d, argv))
		goto out;
	for (size_t i = 0; i < d->ex_nr; i++) {
		if (strcmp(d->ex[i].expect, "rejected"))
			continue;
		if (commit_raw(d, &d->ex[i]))
			goto out;
		printf("committed %s unvalidated (it is meant to be rejected)\n", d->ex[i].name);
	}
	ret = 0;
out:
	free(argv);
	return ret;
}

struct counts {
	size_t queued, running, completed, failed;
};

/* Waits for the workers to drain the grid; 0 ok, 1 on timeout or failure. */
static int watch(struct demo *d, int64_t deadline, int64_t start)
{
	struct counts last = { SIZE_MAX, 0, 0, 0 };
	int64_t last_print = 0;
	bool failed = false, announced = false;
	struct dg_grid g;

	for (;;) {
		unsigned alive = demo_reap_workers(d, &failed);
		int64_t now = dg_now_ms();

		if (!load_grid(d, &g, 0)) {
			struct counts c = { g.queue.nr, g.running.nr, g.completed.nr, g.failed.nr };

			dg_grid_release(&g);
			if (memcmp(&c, &last, sizeof(c)) || now - last_print >= 5000 || !alive) {
				printf("[%3llds] queued %zu  running %zu  completed %zu  failed %zu  "
				       "(workers alive %u)\n", (long long)((now - start) / 1000),
				       c.queued, c.running, c.completed, c.failed, alive);
				last = c;
				last_print = now;
			}
		}
		if (!alive)
			return failed;
		/* announced only once it answers: the page lives as long as worker 1 */
		if (d->http_port && !announced && d->workers[0] > 0 && demo_port_answers(d->http_port)) {
			printf("demo-worker-1's status page: http://127.0.0.1:%u/\n", d->http_port);
			announced = true;
		}
		if (now >= deadline) {
			fprintf(stderr, "error: the demo did not finish within its time limit "
				"(--timeout); stopping the workers. Their logs are in %s/logs/\n",
				d->abs_dir);
			demo_stop_workers(d);
			return 1;
		}
		poll(NULL, 0, 1000);
	}
}

static int check_results(struct demo *d)
{
	struct dg_grid g;
	const struct dg_grid_list *lists[] = { &g.completed, &g.failed };
	int ret = 0;

	if (load_grid(d, &g, DG_GRID_LOAD_RESULTS) < 0) {
		fprintf(stderr, "error: cannot read the results: %s\n", dg_error_last());
		return 1;
	}
	for (size_t l = 0; l < DG_ARRAY_SIZE(lists); l++) {
		for (size_t k = 0; k < lists[l]->nr; k++) {
			const json_t *doc = lists[l]->items[k].doc;
			const char *id = json_string_value(json_object_get(doc, "task_id"));
			const char *status = json_string_value(json_object_get(doc, "status"));

			for (size_t i = 0; id && status && i < d->ex_nr; i++)
				if (!strcmp(d->ex[i].task_id, id))
					d->ex[i].got = status;
		}
	}
	printf("\nexpected outcomes:\n");
	for (size_t i = 0; i < d->ex_nr; i++) {
		const struct example *e = &d->ex[i];
		bool ok = e->got && !strcmp(e->got, e->expect);

		printf("  %-24s expected %-9s got %-9s %s\n", e->task_id, e->expect,
		       e->got ? e->got : "(none)", ok ? "ok" : "MISMATCH");
		if (!ok)
			ret = 1;
	}
	dg_grid_release(&g);
	return ret;
}

static void demo_release(struct demo *d)
{
	for (size_t i = 0; i < d->ex_nr; i++) {
		free(d->ex[i].path);
		free(d->ex[i].name);
		free(d->ex[i].task_id);
		free(d->ex[i].expect);
	}
	free(d->ex);
	free(d->abs_dir);
	free(d->repo);
	free(d->exe);
}

/* The workers' environment: a private cache, quick polling and heartbeats
 * matching the policy, nothing inherited that points elsewhere. */
static void worker_env(const struct demo *d)
{
	static const char *const unset[] = {
		"DGRID_SPOOL", "DGRID_REPO_URL", "DGRID_REPO_PATH", "DGRID_BRANCH",
		"NODE_ID", "GIT_TOKEN", "MAX_PARALLEL_TASKS",
	};
	char *cache = dg_xasprintf("%s/cache", d->abs_dir);

	setenv("DGRID_CACHE", cache, 1);
	setenv("PULL_INTERVAL", "1", 1);
	setenv("HEARTBEAT_INTERVAL", DEMO_HEARTBEAT, 1);
	for (size_t i = 0; i < DG_ARRAY_SIZE(unset); i++)
		unsetenv(unset[i]);
	free(cache);
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "examples", required_argument, NULL, 'e' },
		{ "workers", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo d;
	struct dg_strbuf err = DG_STRBUF_INIT;
	const char *examples_flag = NULL;
	char *examples = NULL, *policy = NULL, *site = NULL;
	unsigned nworkers = 3, limit = 120;
	int64_t start = dg_now_ms();
	int c, ret = 2;

	memset(&d, 0, sizeof(d));
	d.dir = "demo-grid";
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': d.dir = optarg; break;
		case 'e': examples_flag = optarg; break;
		case 'w':
			if (dg_parse_uint(&nworkers, "--workers", optarg, 1, DEMO_MAX_WORKERS, &err) < 0)
				goto usage_error;
			break;
		case 't':
			if (dg_parse_uint(&limit, "--timeout", optarg, 10, 3600, &err) < 0)
				goto usage_error;
			break;
		case 'h':
			fputs(usage_text, stdout);
			ret = 0;
			goto out;
		default:
			ret = cmd_bad_option(c, argv, "demo");
			goto out;
		}
	}
	if (optind < argc) {
		dg_strbuf_addf(&err, "unexpected argument '%s'", argv[optind]);
		goto usage_error;
	}
	if (!*d.dir) {
		dg_strbuf_addstr(&err, "--dir must not be empty");
		goto usage_error;
	}
	ret = 1;
	d.exe = realpath("/proc/self/exe", NULL);
	if (!d.exe) {
		fprintf(stderr, "error: cannot find the dgrid binary (/proc/self/exe): %s\n", strerror(errno));
		goto out;
	}
	examples = examples_flag ? dg_xstrdup(examples_flag) : find_examples(d.exe);
	if (!examples) {
		fprintf(stderr, "error: no examples directory found next to '%s'; give --examples DIR\n", d.exe);
		goto out;
	}
	if (load_examples(&d, examples) || prepare_dir(&d))
		goto out;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("dgrid demo in %s (examples from %s)\n", d.abs_dir, examples);
	worker_env(&d);
	policy = dg_xasprintf("%s/dgrid.json", d.abs_dir);
	site = dg_xasprintf("%s/site", d.abs_dir);

	printf("\n== the Git host: a bare repository with a short-limits policy\n");
	if (demo_run(&d, (const char *[]){ NULL, "init", "--policy", policy, d.repo, NULL }))
		goto out;
	printf("\n== submitting %zu example tasks\n", d.ex_nr);
	if (submit_examples(&d))
		goto out;

	printf("\n== starting %u workers (they exit when the grid is drained)\n", nworkers);
	if (demo_start_workers(&d, nworkers, demo_pick_executor())) {
		demo_stop_workers(&d);
		goto out;
	}
	if (watch(&d, start + (int64_t)limit * 1000, start))
		goto out;

	printf("\n== dgrid status\n");
	if (demo_run(&d, (const char *[]){ NULL, "status", "--repo", d.repo, NULL }))
		goto out;
	printf("\n== dashboard\n");
	if (demo_run(&d, (const char *[]){ NULL, "dashboard", "--repo", d.repo, "--out", site,
					   "--title", "dgrid demo", NULL }))
		goto out;
	printf("open file://%s/index.html in a browser\n", site);
	if (check_results(&d))
		goto out;
	printf("\ndemo finished in %llds: every example ended as expected.\n"
	       "Run it again any time: each run starts a fresh grid in %s.\n",
	       (long long)((dg_now_ms() - start) / 1000), d.abs_dir);
	ret = 0;
	goto out;
usage_error:
	fprintf(stderr, "error: %s\n", err.buf);
	ret = 2;
out:
	if (ret == 1 && d.abs_dir)
		fprintf(stderr, "demo failed; the grid and its logs are in %s\n", d.abs_dir);
	dg_strbuf_release(&err);
	free(examples);
	free(policy);
	free(site);
	demo_release(&d);
	return ret;
}
