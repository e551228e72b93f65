/*
 * main.c - the command table and its dispatch (git's git.c commands[]).
 */
#include "common.h"
#include "cmd/cmd.h"
#include "log.h"

#include <git2.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "version", cmd_version, "print the version" },
	{ "init", cmd_init, "create the layout in a state repository" },
	{ "submit", cmd_submit, "validate and push tasks" },
	{ "status", cmd_status, "show nodes, queue, running and results" },
	{ "validate", cmd_validate, "check task files" },
	{ "run", cmd_run, "run one task file here and print its result" },
	{ "worker", cmd_worker, "run a worker node" },
	{ "cancel", cmd_cancel, "cancel queued or running tasks" },
	{ "sign", cmd_sign, "sign task files, or check their signatures" },
	{ "verify", cmd_verify, "find records not signed by their node's key" },
	{ "node", cmd_node, "node identities: revoke a node id's key" },
	{ "reap", cmd_reap, "return orphaned tasks to the queue" },
	{ "upgrade", cmd_upgrade, "move the grid to the protocol this dgrid speaks" },
	{ "compact", cmd_compact, "restart the branch's history from its current state" },
	{ "archive", cmd_archive, "move old results from main to the archive ref" },
	{ "result", cmd_result, "print the results of one task, on main or archived" },
	{ "dashboard", cmd_dashboard, "write the static dashboard" },
	{ "exec", cmd_exec, "run one script in a sandbox, print the result as JSON" },
	{ "doctor", cmd_doctor, "show which isolation features this host supports" },
	{ "demo", cmd_demo, "run a complete local grid on the example tasks" },
};

static void usage(FILE *to)
{
	fprintf(to, "usage: dgrid <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < DG_ARRAY_SIZE(commands); i++)
		fprintf(to, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(to, "\n'dgrid <command> --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	const char *level = getenv("LOG_LEVEL");
	enum dg_log_level lv;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		argv[1] = (char *)"version";
	if (level && *level) {
		if (dg_log_parse_level(&lv, level) < 0) {
			fprintf(stderr, "error: LOG_LEVEL '%s' is not one of debug, info, warning, error\n", level);
			return 2;
		}
		dg_log_set_level(lv);
	}
	for (size_t i = 0; i < DG_ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		git_libgit2_init();
		/*
		 * libgit2 caches no tree above 4 KiB by default, so every read
		 * in a large tasks/ directory re-parsed it: quadratic. Trees
		 * are what we read most; let them stay cached.
		 */
		git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)256 << 20);
		ret = commands[i].fn(argc - 1, argv + 1);
		git_libgit2_shutdown();
		return ret;
	}
	fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
