/*
 * init.c - dgrid init: creates the repository layout (idempotent).
 */
#include "../common.h"
#include "../error.h"
#include "../strbuf.h"
#include "../task.h"
#include "cmd.h"
#include "cmdutil.h"

#include <dirent.h>
#include <getopt.h>
#include <git2.h>
#include <sys/stat.h>

static const char usage_text[] =
	"usage: dgrid init [--policy FILE] REPO\n"
	"\n"
	"Creates the dgrid layout (nodes/, tasks/queue/, tasks/in_progress/,\n"
	"tasks/completed/, tasks/failed/ and a README.md) in the state repository\n"
	"REPO, a URL or a local path, in one commit. A local path that does not\n"
	"exist or is an empty directory becomes a new bare repository. Running it\n"
	"again changes nothing. REPO defaults to DGRID_REPO_URL/DGRID_REPO_PATH.\n"
	"\n"
	"      --policy FILE  validate FILE and store it as the grid's dgrid.json\n"
	"                     (without it, the built-in limits apply)\n"
	"  -h, --help         this text\n";

static const char *const layout[] = {
	"nodes/.gitkeep",
	"tasks/queue/.gitkeep",
	"tasks/in_progress/.gitkeep",
	"tasks/completed/.gitkeep",
	"tasks/failed/.gitkeep",
};

static const char readme[] =
	"# dgrid state repository\n"
	"\n"
	"This repository holds the whole state of a dgrid grid. Workers claim,\n"
	"run and report tasks by committing here.\n"
	"\n"
	"    dgrid.json                          optional policy (limits of this grid)\n"
	"    nodes/{node_id}.json                registered workers\n"
	"    tasks/queue/{task_id}.json          pending tasks\n"
	"    tasks/in_progress/{task_id}.json    claimed tasks (task + node_id, claimed_at, attempt)\n"
	"    tasks/completed/{task_id}.{node_id}.{attempt}.json  results of successful runs\n"
	"    tasks/failed/{task_id}.{node_id}.{attempt}.json     failed, timed-out, rejected or abandoned runs\n"
	"\n"
	"To submit a task, commit a file tasks/queue/{task_id}.json such as\n"
	"\n"
	"    {\"task_id\": \"task-001\", \"script\": \"echo hello\", \"timeout_seconds\": 30}\n"
	"\n"
	"(the file name must be the task_id plus .json), or run\n"
	"`dgrid submit --repo URL task-001.json`. `dgrid status --repo URL` shows\n"
	"the grid.\n";

struct init_txn {
	const char *policy;      /* dgrid.json content to store, or NULL */
	size_t policy_len;
	unsigned created;        /* files written by the last attempt */
};

static int init_layout(struct dg_txn *txn, void *payload)
{
	struct init_txn *it = payload;
	struct dg_strbuf cur = DG_STRBUF_INIT;
	int ret = -1, err;

	it->created = 0;
	for (size_t i = 0; i < DG_ARRAY_SIZE(layout); i++) {
		if (dg_txn_exists(txn, layout[i]))
			continue;
		if (dg_txn_write(txn, layout[i], "", 0) < 0)
			goto out;
		it->created++;
	}
	if (!dg_txn_exists(txn, "README.md")) {
		if (dg_txn_write(txn, "README.md", readme, strlen(readme)) < 0)
			goto out;
		it->created++;
	}
	if (it->policy) {
		err = dg_txn_read(txn, "dgrid.json", &cur);
		if (err < 0 && err != DG_ENOTFOUND) {
			ret = err;
			goto out;
		}
		if (err == DG_ENOTFOUND || cur.len != it->policy_len ||
		    memcmp(cur.buf, it->policy, cur.len)) {
			if (dg_txn_write(txn, "dgrid.json", it->policy, it->policy_len) < 0)
				goto out;
			it->created++;
		}
	}
	if (!it->created) {
		ret = 1;
		goto out;
	}
	dg_txn_message(txn, "dgrid init: create the layout");
	ret = 0;
out:
	dg_strbuf_release(&cur);
	return ret;
}

static int create_bare(const char *url, const char *branch)
{
	git_repository_init_options io;
	git_repository *repo = NULL;
	const char *path = url;
	char head[256];
	int err;

	if (!strncmp(path, "file://", 7))
		path += 7;
	if (!cmd_path_is_empty(path))
		return 0;
	snprintf(head, sizeof(head), "%s", branch ? branch : "main");
	git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	io.initial_head = head;
	err = git_repository_init_ext(&repo, path, &io);
	if (err < 0) {
		const git_error *e = git_error_last();

		dg_error_set("cannot create repository '%s': %s", path, e ? e->message : "unknown error");
		return -1;
	}
	git_repository_free(repo);
	printf("created bare repository %s\n", path);
	return 0;
}

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store *store = NULL;
	struct dg_strbuf policy = DG_STRBUF_INIT;
	struct init_txn it = { NULL, 0, 0 };
	struct dg_txn_stats st;
	const char *policy_file = NULL, *repo = NULL;
	int c, ret = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_file = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return cmd_bad_option(c, argv, "init");
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "error: init takes one REPO, got %d arguments\n", argc - optind);
		return 2;
	}
	if (optind < argc)
		repo = argv[optind];
	if ((ret = cmd_repo_config(&cfg, repo)))
		return ret;
	if (policy_file) {
		struct dg_policy pol = dg_policy_default;

		if (dg_strbuf_read_file(&policy, policy_file, 1 << 20) < 0 ||
		    dg_policy_parse(&pol, policy.buf, policy.len) < 0) {
			fprintf(stderr, "error: --policy '%s': %s\n", policy_file, dg_error_last());
			ret = 2;
			goto out;
		}
		it.policy = policy.buf;
		it.policy_len = policy.len;
	}
	ret = 1;
	if (dg_store_url_is_local(cfg.repo_url) && create_bare(cfg.repo_url, cfg.branch) < 0) {
		cmd_fail(NULL);
		goto out;
	}
	if (cmd_open_store(&store, &cfg, true))
		goto out;
	if (dg_store_transact(store, init_layout, &it, &st) < 0) {
		cmd_fail("init");
		goto out;
	}
	if (st.committed)
		printf("initialised: %u file%s added, commit %s\n", it.created,
		       it.created == 1 ? "" : "s", st.commit);
	else
		printf("already initialised, nothing to do\n");
	ret = 0;
out:
	dg_store_free(store);
	dg_strbuf_release(&policy);
	return ret;
}
