/*
 * dgrid compact - restarts the branch's history from its current state
 * (doc/protocol.md, "Compaction"), so that a new worker's first fetch does
 * not grow with the grid's age. The old history stays in the repository
 * as refs/dgrid/epochs/N. Safe while workers run: the forced update is a
 * compare-and-swap, and a lost race is simply tried again.
 */
#include "../common.h"
#include "../error.h"
#include "../strbuf.h"
#include "../task.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <time.h>

#define COMPACT_TRIES 20

static const char usage_text[] =
	"usage: dgrid compact --repo URL\n"
	"\n"
	"Replaces the grid's branch by one parentless commit holding its current\n"
	"files, keeping the old history under refs/dgrid/epochs/N (next free N):\n"
	"a new worker then downloads the current state only. Claims and results\n"
	"pushed meanwhile are never lost: the update only happens if the branch\n"
	"is still where it was read, else it is tried again (up to 20 times).\n"
	"Needs protocol 3 (dgrid upgrade) and a host that allows forced updates\n"
	"of the branch (not a protected branch).\n"
	"\n"
	"  --repo URL   state repository (default: $DGRID_REPO_URL)\n"
	"  -h, --help   this text\n";

int cmd_compact(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store *store = NULL;
	const char *repo = NULL;
	struct dg_policy pol;
	unsigned epoch = 0, tries = 0;
	char message[128], old_tip[41];
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return cmd_bad_option(c, argv, "compact");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument (see 'dgrid compact --help')\n");
		return 2;
	}
	if ((ret = cmd_repo_config(&cfg, repo)) != 0)
		return ret;
	if ((ret = cmd_open_store(&store, &cfg, true)) != 0)
		return ret;
	if ((ret = cmd_sharded_policy(store, &pol, "compaction")) != 0)
		goto out;
	do {
		snprintf(old_tip, sizeof(old_tip), "%s", dg_store_tip(store));
		snprintf(message, sizeof(message), "compact: history restarts here; what came before is under refs/dgrid/epochs/");
		ret = dg_store_compact_history(store, message, &epoch);
		if (ret == DG_ECONFLICT) {
			struct timespec ts = { 0, 200000000L + (long)arc4random_uniform(300) * 1000000L };
			nanosleep(&ts, NULL);
		}
	} while (ret == DG_ECONFLICT && ++tries < COMPACT_TRIES);
	if (ret < 0) {
		ret = cmd_fail(ret == DG_EREFUSED ? "the host refused to compact (is the branch protected?)"
						  : "cannot compact");
		goto out;
	}
	printf("compacted: %s now starts at %.12s; its history up to %.12s is refs/dgrid/epochs/%u\n",
	       cfg.branch ? cfg.branch : "main", dg_store_tip(store), old_tip, epoch);
	ret = 0;
out:
	dg_store_free(store);
	return ret;
}
