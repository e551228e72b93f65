/*
 * dgrid archive - moves the oldest results beyond the policy's
 * keep_results from main to refs/dgrid/archive now, rather than waiting
 * for a worker to do it (doc/protocol.md, "Archive").
 */
#include "../archive.h"
#include "../common.h"
#include "../error.h"
#include "../strbuf.h"
#include "../task.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>

static const char usage_text[] =
	"usage: dgrid archive --repo URL [--keep N]\n"
	"\n"
	"Moves results, oldest first and 500 per batch, from main to the ref\n"
	"refs/dgrid/archive until main holds at most N + 500 of them (N: the\n"
	"policy's keep_results, default 10000). Each batch is two compare-and-swap\n"
	"commits, safe while workers run. Needs protocol 3 (dgrid upgrade).\n"
	"\n"
	"  --repo URL   state repository (default: $DGRID_REPO_URL)\n"
	"  --keep N     keep N results on main instead of the policy's number (1 or more)\n"
	"  -h, --help   this text\n";

int cmd_archive(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "keep", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store *store = NULL;
	struct dg_strbuf err = DG_STRBUF_INIT;
	struct dg_policy pol = dg_policy_default;
	struct dg_archive_stats st;
	const char *repo = NULL, *keep_arg = NULL;
	unsigned keep = 0;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'k': keep_arg = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return cmd_bad_option(c, argv, "archive");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument (see 'dgrid archive --help')\n");
		return 2;
	}
	if (keep_arg && dg_parse_uint(&keep, "--keep", keep_arg, 1, 100000000, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.buf);
		dg_strbuf_release(&err);
		return 2;
	}
	if ((ret = cmd_repo_config(&cfg, repo)) != 0)
		return ret;
	if ((ret = cmd_open_store(&store, &cfg, true)) != 0)
		return ret;
	if ((ret = cmd_sharded_policy(store, &pol, "archiving")) != 0)
		goto out;
	if (!keep)
		keep = pol.keep_results;
	if (!keep) {
		printf("the policy keeps every result on main (keep_results 0): nothing to archive\n");
		ret = 0;
		goto out;
	}
	if (dg_archive_run(store, keep, 0, NULL, &st) < 0) {
		ret = cmd_fail("cannot archive");
		goto out;
	}
	printf("archived %zu results in %u batches (completed %u interrupted); main holds %zu results\n",
	       st.archived, st.batches, st.completed, st.on_main);
	ret = 0;
out:
	dg_store_free(store);
	return ret;
}
