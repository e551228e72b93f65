/*
 * dashboard.c - dgrid dashboard: writes the static dashboard of a grid.
 */
#include "../advice.h"
#include "../census.h"
#include "../common.h"
#include "../config.h"
#include "../dashboard.h"
#include "../error.h"
#include "../grid.h"
#include "../log.h"
#include "../store.h"
#include "cmd.h"

#include <getopt.h>
#include <git2.h>

static const char usage_text[] =
	"usage: dgrid dashboard [--repo URL|DIR] --out DIR [options]\n"
	"\n"
	"Fetches the state repository and writes a static site into DIR:\n"
	"index.html (one self-contained page), status.json (the same data for\n"
	"machines) and results/ (copies of the results the page links to).\n"
	"\n"
	"  --repo URL|DIR   state repository (default: $DGRID_REPO_URL)\n"
	"  --out DIR        output directory, created if missing\n"
	"  --title TEXT     page title (default: dgrid)\n"
	"  --recent N       results listed (default 50)\n"
	"  --queue N        queue entries listed (default 200)\n"
	"  --public-url URL the repository as people reach it, for submit.html's\n"
	"                   links (default: --repo); on github.com the page opens\n"
	"                   GitHub's \"create new file\" page\n"
	"  -h, --help       this text\n";

/*
 * Counts the grid's other repositories (census.h). What cannot be counted
 * is logged and shown on the page; the page is written all the same.
 */
static void take_census(struct dg_census *census, const struct dg_config *cfg,
			struct dg_store *store, const struct dg_grid *grid)
{
	if (dg_census_take(census, cfg, store, grid, "dashboard") < 0)
		dg_log(DG_LOG_WARNING, "event=members_unread error=\"%s\"", dg_error_last());
	for (size_t i = 1; i < census->nr; i++) {
		if (census->members[i].error)
			dg_log(DG_LOG_WARNING, "event=member_unread repo=%s error=\"%s\"",
			       census->members[i].shown, census->members[i].error);
	}
}

int cmd_dashboard(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "title", required_argument, NULL, 't' },
		{ "recent", required_argument, NULL, 'n' },
		{ "queue", required_argument, NULL, 'q' },
		{ "public-url", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_dashboard_opts dopts = DG_DASHBOARD_OPTS_INIT;
	struct dg_store_opts sopts;
	struct dg_strbuf err = DG_STRBUF_INIT, shown = DG_STRBUF_INIT, public = DG_STRBUF_INIT;
	const char *public_url = NULL;
	struct dg_config cfg;
	struct dg_store *store = NULL;
	struct dg_grid grid;
	struct dg_advice_figures fig;
	struct dg_advice advice;
	struct dg_census census = DG_CENSUS_INIT;
	bool loaded = false;
	unsigned n;
	int c, ret = 2;

	if (dg_config_from_env(&cfg, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.buf);
		goto out;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			cfg.repo_url = optarg;
			break;
		case 'o':
			dopts.out_dir = optarg;
			break;
		case 't':
			dopts.title = optarg;
			break;
		case 'p':
			public_url = optarg;
			break;
		case 'n':
		case 'q':
			if (dg_parse_uint(&n, c == 'n' ? "--recent" : "--queue", optarg,
					  1, 100000, &err) < 0) {
				fprintf(stderr, "error: %s\n", err.buf);
				goto out;
			}
			if (c == 'n')
				dopts.recent_max = n;
			else
				dopts.queue_max = n;
			break;
		case 'h':
			fputs(usage_text, stdout);
			ret = 0;
			goto out;
		case ':':
			fprintf(stderr, "error: option '%s' needs a value\n", argv[optind - 1]);
			fputs(usage_text, stderr);
			goto out;
		default:
			fprintf(stderr, "error: unknown option '%s'\n", argv[optind - 1]);
			fputs(usage_text, stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument '%s'\n", argv[optind]);
		fputs(usage_text, stderr);
		goto out;
	}
	if (!cfg.repo_url) {
		fprintf(stderr, "error: no repository: give --repo or set DGRID_REPO_URL\n");
		goto out;
	}
	if (!dopts.out_dir) {
		fprintf(stderr, "error: no output directory: give --out DIR\n");
		goto out;
	}
	ret = 1;
	dg_redact(&shown, cfg.repo_url);
	dopts.repo = shown.buf;
	dopts.branch = cfg.branch;
	dg_redact(&public, public_url ? public_url : cfg.repo_url);
	dopts.public_url = public.buf;
	dg_config_store_opts(&cfg, &sopts, "dashboard");
	if (dg_store_open(&store, &sopts) < 0 || dg_store_fetch(store) < 0) {
		dg_log(DG_LOG_ERROR, "event=fetch_failed repo=%s error=\"%s\"", shown.buf, dg_error_last());
		goto out;
	}
	if (dg_grid_load(&grid, store, DG_GRID_LOAD_TASKS | DG_GRID_LOAD_RESULTS | DG_GRID_LOAD_ARCHIVE) < 0) {
		dg_log(DG_LOG_ERROR, "event=load_failed repo=%s error=\"%s\"", shown.buf, dg_error_last());
		goto out;
	}
	loaded = true;
	/* without the advice the page is still worth writing */
	if (dg_advice_measure(&fig, store, &grid, cfg.repo_url) < 0) {
		dg_log(DG_LOG_WARNING, "event=advice_unmeasured repo=%s error=\"%s\"", shown.buf,
		       dg_error_last());
	} else {
		dg_advice_judge(&advice, &fig);
		dopts.advice = &advice;
	}
	take_census(&census, &cfg, store, &grid);
	dopts.census = &census;
	if (dg_dashboard_write(&grid, &dopts) < 0) {
		fprintf(stderr, "error: cannot write the dashboard: %s\n", dg_error_last());
		goto out;
	}
	dg_log(DG_LOG_INFO, "event=dashboard_written out=%s nodes=%zu queue=%zu running=%zu "
	       "completed=%zu failed=%zu", dopts.out_dir, grid.nodes_nr, grid.queue.nr,
	       grid.running.nr, grid.completed.nr, grid.failed.nr);
	ret = 0;
out:
	dg_census_release(&census);
	if (loaded)
		dg_grid_release(&grid);
	dg_store_free(store);
	dg_strbuf_release(&err);
	dg_strbuf_release(&public);
	dg_strbuf_release(&shown);
	return ret;
}
