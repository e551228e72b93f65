/*
 * demo.c - dgrid demo: a complete grid on this machine, with no account
 * anywhere. A bare repository in DIR/repo plays the Git host; the example
 * tasks are submitted; three workers run them and exit when the grid is
 * drained; the final status and a dashboard are written; every example's
 * outcome is checked against the "expect" field its file carries.
 *
 * Everything real is done by the dgrid binary itself (init, submit, worker,
 * status, dashboard), spawned from /proc/self/exe with argv arrays, so the
 * demo exercises the same commands a user would type. The only write done
 * in-process is the deliberately invalid example, which `dgrid submit`
 * refuses by design: it is committed as a user would commit a file without
 * validating it, and a worker turns it into a `rejected` result.
 */
#include "../common.h"
#include "../error.h"
#include "../exec.h"
#include "../strbuf.h"
#include "../store.h"
#include "cmd.h"
#include "cmdutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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
#define MAX_WORKERS 16

struct example {
	char *path;      /* the file */
	char *name;      /* its base name */
	char *task_id;   /* from the file, else the base name without .json */
	char *expect;    /* success, failed, timeout, rejected */
	char *got;       /* status of its result, once read */
};

struct demo {
	const char *dir;
	char *abs_dir;
	char *repo;
	char *exe;
	struct example *ex;
	size_t ex_nr, ex_alloc;
	pid_t workers[MAX_WORKERS];
	unsigned workers_nr;
	unsigned http_port;      /* worker 1's status page, 0 when none */
	bool http_announced;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rm_entry(const char *path, const struct stat *st DG_UNUSED, int flag, struct FTW *ftw DG_UNUSED)
{
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes path and everything below it; a missing path is fine. */
static int rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -1;
	if (fputs(data, f) == EOF)
		ret = -1;
	if (fclose(f) == EOF)
		ret = -1;
	return ret;
}

/* Makes DIR a fresh demo directory; prints and returns 1 on failure. */
static int prepare_dir(struct demo *d)
{
	static const char *const fresh[] = { "repo", "cache", "logs", "site" };
	char *marker = dg_xasprintf("%s/" MARKER, d->dir);
	int ret = 1;

	if (mkdir(d->dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "error: cannot create '%s': %s\n", d->dir, strerror(errno));
		goto out;
	}
	if (access(marker, F_OK) < 0 && !cmd_path_is_empty(d->dir)) {
		fprintf(stderr, "error: '%s' is not empty and was not made by dgrid demo; "
			"give another --dir\n", d->dir);
		goto out;
	}
	if (write_file(marker, "made by dgrid demo; each run replaces repo/ cache/ logs/ site/\n") < 0) {
		fprintf(stderr, "error: cannot write '%s': %s\n", marker, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < DG_ARRAY_SIZE(fresh); i++) {
		char *p = dg_xasprintf("%s/%s", d->dir, fresh[i]);
		int r = rm_tree(p);
		int e = errno;

		free(p);
		if (r < 0) {
			fprintf(stderr, "error: cannot remove '%s/%s': %s\n", d->dir, fresh[i], strerror(e));
			goto out;
		}
	}
	d->abs_dir = realpath(d->dir, NULL);
	if (!d->abs_dir) {
		fprintf(stderr, "error: cannot resolve '%s': %s\n", d->dir, strerror(errno));
		goto out;
	}
	d->repo = dg_xasprintf("%s/repo", d->abs_dir);
	ret = 0;
out:
	free(marker);
	return ret;
}

/*
 * Starts the dgrid binary with argv (argv[0] is replaced by the binary's
 * path); stdout and stderr go to log when it is not NULL. Returns the pid,
 * or -1 after printing why.
 */
static pid_t spawn_dgrid(const struct demo *d, const char **argv, const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int err;

	argv[0] = d->exe;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (log) {
		posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	err = posix_spawn(&pid, d->exe, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		fprintf(stderr, "error: cannot start '%s %s': %s\n", d->exe, argv[1], strerror(err));
		return -1;
	}
	return pid;
}

/* Exit status of pid (128+signal when killed), -1 when waitpid failed. */
static int wait_exit(pid_t pid, int flags)
{
	int st;
	pid_t r;

	do
		r = waitpid(pid, &st, flags);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -2; /* WNOHANG: still running */
	if (r < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs a dgrid subcommand to its end; prints and returns 1 when it fails. */
static int run_dgrid(const struct demo *d, const char **argv)
{
	pid_t pid = spawn_dgrid(d, argv, NULL);
	int st;

	if (pid < 0)
		return 1;
	st = wait_exit(pid, 0);
	if (st) {
		fprintf(stderr, "error: 'dgrid %s' failed (exit %d)\n", argv[1], st);
		return 1;
	}
	return 0;
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
		json_error_t jerr;
		json_t *doc, *v;

		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") || de->d_name[0] == '.')
			continue;
		DG_ALLOC_GROW(d->ex, d->ex_nr + 1, d->ex_alloc);
		e = &d->ex[d->ex_nr++];
		memset(e, 0, sizeof(*e));
		e->name = dg_xstrdup(de->d_name);
		e->path = dg_xasprintf("%s/%s", dir, de->d_name);
		e->task_id = dg_xstrndup(de->d_name, n - 5);
		doc = json_load_file(e->path, 0, &jerr);
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
	struct dg_store_opts so = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL;
	struct raw_put rp = { NULL, DG_STRBUF_INIT };
	char *path = dg_xasprintf("tasks/queue/%s", e->name);
	int ret = 1;

	rp.path = path;
	so.url = d->repo;
	so.author = "dgrid demo";
	if (dg_strbuf_read_file(&rp.data, e->path, 1 << 20) < 0) {
		fprintf(stderr, "error: cannot read '%s': %s\n", e->path, dg_error_last());
		goto out;
	}
	if (dg_store_open(&store, &so) < 0 || dg_store_transact(store, put_raw, &rp, NULL) < 0) {
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
	if (n > 4 && run_dgrid(d, argv))
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

/* A TCP port on 127.0.0.1 that was free a moment ago, or 0. */
static unsigned free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	unsigned port = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int count_json(const struct dg_entry *e, void *payload)
{
	size_t n = strlen(e->name);

	if (e->is_file && n > 5 && !strcmp(e->name + n - 5, ".json"))
		(*(unsigned *)payload)++;
	return 0;
}

struct counts {
	unsigned queued, running, completed, failed;
};

static int read_counts(const struct demo *d, struct counts *c)
{
	struct dg_store_opts so = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	so.url = d->repo;
	if (dg_store_open(&store, &so) < 0 || dg_store_fetch(store) < 0)
		goto out;
	if (dg_store_list(store, "tasks/queue", count_json, &c->queued) < 0 ||
	    dg_store_list(store, "tasks/in_progress", count_json, &c->running) < 0 ||
	    dg_store_list(store, "tasks/completed", count_json, &c->completed) < 0 ||
	    dg_store_list(store, "tasks/failed", count_json, &c->failed) < 0)
		goto out;
	ret = 0;
out:
	dg_store_free(store);
	return ret;
}

struct result_walk {
	struct dg_store *store;
	const char *dir;
	struct demo *d;
};

static int note_result(const struct dg_entry *e, void *payload)
{
	struct result_walk *rw = payload;
	struct dg_strbuf buf = DG_STRBUF_INIT;
	char *path;
	json_t *doc = NULL;
	const char *id, *status;

	if (!e->is_file || strcmp(e->name + (strlen(e->name) > 5 ? strlen(e->name) - 5 : 0), ".json"))
		return 0;
	path = dg_xasprintf("%s/%s", rw->dir, e->name);
	if (dg_store_read(rw->store, path, &buf) == 0)
		doc = json_loadb(buf.buf, buf.len, 0, NULL);
	id = json_string_value(json_object_get(doc, "task_id"));
	status = json_string_value(json_object_get(doc, "status"));
	for (size_t i = 0; id && status && i < rw->d->ex_nr; i++) {
		struct example *ex = &rw->d->ex[i];
		if (strcmp(ex->task_id, id))
			continue;
		free(ex->got);
		ex->got = dg_xstrdup(status);
	}
	json_decref(doc);
	dg_strbuf_release(&buf);
	free(path);
	return 0;
}

static int read_results(struct demo *d)
{
	static const char *const dirs[] = { "tasks/completed", "tasks/failed" };
	struct dg_store_opts so = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL;
	int ret = -1;

	so.url = d->repo;
	if (dg_store_open(&store, &so) < 0 || dg_store_fetch(store) < 0)
		goto out;
	for (size_t i = 0; i < DG_ARRAY_SIZE(dirs); i++) {
		struct result_walk rw = { store, dirs[i], d };
		if (dg_store_list(store, dirs[i], note_result, &rw) < 0)
			goto out;
	}
	ret = 0;
out:
	dg_store_free(store);
	return ret;
}

static void stop_workers(struct demo *d)
{
	int64_t deadline = now_ms() + 5000;
	bool any;

	for (unsigned i = 0; i < d->workers_nr; i++)
		if (d->workers[i] > 0)
			kill(d->workers[i], SIGTERM);
	do {
		any = false;
		for (unsigned i = 0; i < d->workers_nr; i++) {
			if (d->workers[i] <= 0)
				continue;
			if (wait_exit(d->workers[i], WNOHANG) == -2)
				any = true;
			else
				d->workers[i] = 0;
		}
		if (any)
			poll(NULL, 0, 100);
	} while (any && now_ms() < deadline);
	for (unsigned i = 0; i < d->workers_nr; i++) {
		if (d->workers[i] <= 0)
			continue;
		kill(d->workers[i], SIGKILL);
		wait_exit(d->workers[i], 0);
		d->workers[i] = 0;
	}
}

/*
 * Chooses the executor the workers get: NULL lets them choose (the best
 * sandbox), "process" is the loud fallback when no sandbox works here.
 */
static const char *pick_executor(void)
{
	struct dg_strbuf why = DG_STRBUF_INIT;
	const struct dg_executor *ex;
	const char *env = getenv("DGRID_EXECUTOR");
	const char *ret = NULL;

	if (env && *env) {
		printf("executor: %s (from DGRID_EXECUTOR)\n", env);
		return NULL;
	}
	ex = dg_executor_choose(&why);
	if (ex) {
		printf("executor: %s (the workers' own choice%s%s)\n", ex->name,
		       why.len ? ": " : "", why.buf);
	} else {
		fprintf(stderr,
			"\n"
			"*** WARNING: no sandbox works on this host (%s).\n"
			"*** The demo falls back to --executor process: its example tasks run\n"
			"*** UNSANDBOXED as ordinary processes of this user. They are harmless,\n"
			"*** but never point such a worker at a grid whose tasks you do not trust.\n"
			"*** 'dgrid doctor' shows what is missing.\n\n", why.buf);
		ret = "process";
	}
	dg_strbuf_release(&why);
	return ret;
}

static int start_workers(struct demo *d, unsigned n, const char *executor)
{
	unsigned port = free_port();

	for (unsigned i = 0; i < n; i++) {
		char node[32], http[64];
		char *log = dg_xasprintf("%s/logs/demo-worker-%u.log", d->abs_dir, i + 1);
		const char *argv[16];
		size_t k = 0;

		snprintf(node, sizeof(node), "demo-worker-%u", i + 1);
		if (i == 0 && port)
			snprintf(http, sizeof(http), "127.0.0.1:%u", port);
		else
			snprintf(http, sizeof(http), "off");
		argv[k++] = NULL;
		argv[k++] = "worker";
		argv[k++] = "--repo";
		argv[k++] = d->repo;
		argv[k++] = "--node-id";
		argv[k++] = node;
		argv[k++] = "--http";
		argv[k++] = http;
		argv[k++] = "--exit-when-idle";
		argv[k++] = "--batch-ms";
		argv[k++] = "100";
		if (executor) {
			argv[k++] = "--executor";
			argv[k++] = executor;
		}
		argv[k] = NULL;
		d->workers[i] = spawn_dgrid(d, argv, log);
		free(log);
		if (d->workers[i] < 0) {
			d->workers[i] = 0;
			return 1;
		}
		d->workers_nr = i + 1;
		printf("started %s (pid %d)\n", node, (int)d->workers[i]);
	}
	d->http_port = port;
	printf("worker logs: %s/logs/\n", d->abs_dir);
	return 0;
}

/* Does something listen on 127.0.0.1:port? */
static bool port_answers(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Waits for the workers to drain the grid; 0 ok, 1 on timeout or failure. */
static int watch(struct demo *d, int64_t deadline, int64_t start)
{
	struct counts last = { UINT_MAX, 0, 0, 0 }, c;
	int64_t last_print = 0;
	int bad = 0;

	for (;;) {
		unsigned alive = 0;
		int64_t now = now_ms();

		for (unsigned i = 0; i < d->workers_nr; i++) {
			int st;

			if (d->workers[i] <= 0)
				continue;
			st = wait_exit(d->workers[i], WNOHANG);
			if (st == -2) {
				alive++;
				continue;
			}
			d->workers[i] = 0;
			if (st) {
				fprintf(stderr, "error: demo-worker-%u exited with status %d (see its log)\n", i + 1, st);
				bad = 1;
			}
		}
		if (!read_counts(d, &c) &&
		    (memcmp(&c, &last, sizeof(c)) || now - last_print >= 5000 || !alive)) {
			printf("[%3llds] queued %u  running %u  completed %u  failed %u  (workers alive %u)\n",
			       (long long)((now - start) / 1000), c.queued, c.running, c.completed,
			       c.failed, alive);
			fflush(stdout);
			last = c;
			last_print = now;
		}
		if (!alive)
			return bad;
		/* announced only once it answers: the page lives as long as worker 1 */
		if (d->http_port && !d->http_announced && d->workers[0] > 0 &&
		    port_answers(d->http_port)) {
			printf("demo-worker-1's status page: http://127.0.0.1:%u/\n", d->http_port);
			d->http_announced = true;
		}
		if (now >= deadline) {
			fprintf(stderr, "error: the demo did not finish within its time limit "
				"(--timeout); stopping the workers. Their logs are in %s/logs/\n",
				d->abs_dir);
			stop_workers(d);
			return 1;
		}
		poll(NULL, 0, 1000);
	}
}

static int check_results(struct demo *d)
{
	int ret = 0;

	if (read_results(d) < 0) {
		fprintf(stderr, "error: cannot read the results: %s\n", dg_error_last());
		return 1;
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
	return ret;
}

static void demo_release(struct demo *d)
{
	for (size_t i = 0; i < d->ex_nr; i++) {
		free(d->ex[i].path);
		free(d->ex[i].name);
		free(d->ex[i].task_id);
		free(d->ex[i].expect);
		free(d->ex[i].got);
	}
	free(d->ex);
	free(d->abs_dir);
	free(d->repo);
	free(d->exe);
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
	const char *examples_flag = NULL, *executor;
	char *examples = NULL, *policy = NULL, *site = NULL, *cache = NULL;
	unsigned nworkers = 3, limit = 120;
	int64_t start = now_ms();
	int c, ret = 2;

	memset(&d, 0, sizeof(d));
	d.dir = "demo-grid";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': d.dir = optarg; break;
		case 'e': examples_flag = optarg; break;
		case 'w':
			if (dg_parse_uint(&nworkers, "--workers", optarg, 1, MAX_WORKERS, &err) < 0)
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

	/* The workers' environment: a private cache, quick polling and
	 * heartbeats matching the policy, nothing inherited that points
	 * elsewhere. */
	cache = dg_xasprintf("%s/cache", d.abs_dir);
	setenv("DGRID_CACHE", cache, 1);
	setenv("PULL_INTERVAL", "1", 1);
	setenv("HEARTBEAT_INTERVAL", DEMO_HEARTBEAT, 1);
	unsetenv("DGRID_SPOOL");
	unsetenv("DGRID_REPO_URL");
	unsetenv("DGRID_REPO_PATH");
	unsetenv("DGRID_BRANCH");
	unsetenv("NODE_ID");
	unsetenv("GIT_TOKEN");
	unsetenv("MAX_PARALLEL_TASKS");

	policy = dg_xasprintf("%s/dgrid.json", d.abs_dir);
	site = dg_xasprintf("%s/site", d.abs_dir);
	if (mkdir(cache, 0755) < 0 || write_file(policy, demo_policy) < 0) {
		fprintf(stderr, "error: cannot prepare '%s': %s\n", d.abs_dir, strerror(errno));
		goto out;
	}
	{
		char *logs = dg_xasprintf("%s/logs", d.abs_dir);
		int r = mkdir(logs, 0755);
		free(logs);
		if (r < 0) {
			fprintf(stderr, "error: cannot create '%s/logs': %s\n", d.abs_dir, strerror(errno));
			goto out;
		}
	}

	printf("\n== the Git host: a bare repository with a short-limits policy\n");
	{
		const char *av[] = { NULL, "init", "--policy", policy, d.repo, NULL };
		if (run_dgrid(&d, av))
			goto out;
	}
	printf("\n== submitting %zu example tasks\n", d.ex_nr);
	if (submit_examples(&d))
		goto out;

	printf("\n== starting %u workers (they exit when the grid is drained)\n", nworkers);
	executor = pick_executor();
	if (start_workers(&d, nworkers, executor)) {
		stop_workers(&d);
		goto out;
	}
	if (watch(&d, start + (int64_t)limit * 1000, start))
		goto out;

	printf("\n== dgrid status\n");
	{
		const char *av[] = { NULL, "status", "--repo", d.repo, NULL };
		if (run_dgrid(&d, av))
			goto out;
	}
	printf("\n== dashboard\n");
	{
		const char *av[] = { NULL, "dashboard", "--repo", d.repo, "--out", site,
				     "--title", "dgrid demo", NULL };
		if (run_dgrid(&d, av))
			goto out;
	}
	printf("open file://%s/index.html in a browser\n", site);
	if (check_results(&d))
		goto out;
	printf("\ndemo finished in %llds: every example ended as expected.\n"
	       "Run it again any time: each run starts a fresh grid in %s.\n",
	       (long long)((now_ms() - start) / 1000), d.abs_dir);
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
	free(cache);
	demo_release(&d);
	return ret;
}
