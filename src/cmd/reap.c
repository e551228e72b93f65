/*
 * dgrid reap - return orphaned tasks to the queue once (for cron or CI).
 */
#include "../common.h"
#include "../config.h"
#include "../error.h"
#include "../nodekeys.h"
#include "../reaper.h"
#include "../store.h"
#include "cmd.h"

#include <getopt.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: dgrid reap --repo URL [--watch SECONDS]\n"
	"\n"
	"Returns tasks in tasks/in_progress/ whose worker is dead to the queue,\n"
	"or records them as abandoned after max_attempts claims. Dead means: the\n"
	"claim's lease lapsed (protocol 2: the task's timeout + lease_margin), or,\n"
	"on grids with heartbeats, the owner's heartbeat unchanged for\n"
	"node_timeout, never sent, stopped, or no longer holding the task.\n"
	"Liveness is judged only from what this command saw itself, on its own\n"
	"clock (other machines' clocks may be wrong), so it looks at the grid,\n"
	"watches for SECONDS (default: node_timeout + 5 with heartbeats, else\n"
	"timeout_max + lease_margin + 5), and\n"
	"looks again. Safe to run from several places at once: each reap is one\n"
	"compare-and-swap transaction.\n"
	"\n"
	"Records in the name of a node with a key (doc/trust.md) that its key did\n"
	"not sign are forged: a forged heartbeat is ignored, a forged claim is\n"
	"returned to the queue at once. The keys registered now are the pins.\n";

int cmd_reap(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store_opts so;
	struct dg_store *store = NULL;
	struct dg_reaper *reaper = NULL;
	struct dg_nodekeys *keys = NULL;
	struct dg_reap_stats st;
	struct dg_strbuf err = DG_STRBUF_INIT;
	long watch = -1;
	char *end;
	int c, ret = 2;

	if (dg_config_from_env(&cfg, &err) < 0)
		goto usage_error;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': cfg.repo_url = optarg; break;
		case 'w':
			watch = strtol(optarg, &end, 10);
			if (end == optarg || *end || watch < 0 || watch > 86400) {
				dg_strbuf_addf(&err, "--watch '%s' is not a number of seconds in 0..86400", optarg);
				goto usage_error;
			}
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (!cfg.repo_url) {
		dg_strbuf_addstr(&err, "no repository: give --repo URL or set DGRID_REPO_URL");
		goto usage_error;
	}
	dg_config_store_opts(&cfg, &so, "reap");
	so.author = "dgrid-reap";
	if (dg_store_open(&store, &so) < 0)
		goto fail;
	if (dg_nodekeys_open(&keys, NULL) < 0)
		goto fail;
	reaper = dg_reaper_new(store, "dgrid-reap");
	dg_reaper_set_nodekeys(reaper, keys);
	if (dg_reaper_run(reaper, &st) < 0)
		goto fail;
	if (watch < 0)
		watch = dg_reaper_patience(reaper) + 5;
	if (st.examined && watch > 0) {
		fprintf(stderr, "watching %u running task(s) for %lds\n", st.examined, watch);
		sleep((unsigned)watch);
		if (dg_reaper_run(reaper, &st) < 0)
			goto fail;
	}
	printf("examined %u, returned to the queue %u, abandoned %u\n", st.examined, st.requeued, st.abandoned);
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", dg_error_last());
	ret = 1;
	goto out;
usage_error:
	fprintf(stderr, "error: %s\n", err.buf);
out:
	dg_reaper_free(reaper);
	dg_nodekeys_free(keys);
	dg_store_free(store);
	dg_strbuf_release(&err);
	return ret;
}
