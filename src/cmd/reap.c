/*
 * dgrid reap - return orphaned tasks to the queue once (for cron or CI).
 */
#include "../common.h"
#include "../config.h"
#include "../error.h"
#include "../reaper.h"
#include "../store.h"
#include "cmd.h"

#include <getopt.h>

static const char usage_text[] =
	"usage: dgrid reap --repo URL\n"
	"\n"
	"Returns tasks in tasks/in_progress/ whose worker is dead (stale or no\n"
	"heartbeat, stopped, or long past the task's timeout) to the queue, or\n"
	"records them as abandoned after max_attempts claims. Safe to run from\n"
	"several places at once: it is one compare-and-swap transaction.\n";

int cmd_reap(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_config cfg;
	struct dg_store_opts so;
	struct dg_store *store = NULL;
	struct dg_reap_stats st;
	struct dg_strbuf err = DG_STRBUF_INIT;
	int c, ret = 2;

	if (dg_config_from_env(&cfg, &err) < 0)
		goto usage_error;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': cfg.repo_url = optarg; break;
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
	if (dg_store_open(&store, &so) < 0 || dg_store_fetch(store) < 0 ||
	    dg_reap(store, "dgrid-reap", &st) < 0) {
		fprintf(stderr, "error: %s\n", dg_error_last());
		ret = 1;
		goto out;
	}
	printf("examined %u, returned to the queue %u, abandoned %u\n", st.examined, st.requeued, st.abandoned);
	ret = 0;
	goto out;
usage_error:
	fprintf(stderr, "error: %s\n", err.buf);
out:
	dg_store_free(store);
	dg_strbuf_release(&err);
	return ret;
}
