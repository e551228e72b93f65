/*
 * dgrid result - prints the results of one task wherever they are: in its
 * shard on main (one tree read), in the flat directories of older layouts,
 * or in the archive (doc/protocol.md).
 */
#include "../archive.h"
#include "../common.h"
#include "../error.h"
#include "../jsonio.h"
#include "../layout.h"
#include "../strbuf.h"
#include "../task.h"
#include "../textsafe.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <jansson.h>

static const char usage_text[] =
	"usage: dgrid result --repo URL [--json] TASK_ID\n"
	"\n"
	"Prints every result recorded for the task (each attempt, each replica):\n"
	"first those on main, then those in the archive, newest batch first.\n"
	"Exit status 1 when there is none.\n"
	"\n"
	"  --repo URL   state repository (default: $DGRID_REPO_URL)\n"
	"  --json       one JSON array of {\"where\", \"path\", \"result\"}\n"
	"  -h, --help   this text\n";

struct found {
	const char *task_id;
	struct dg_store *store;
	const char *where;
	bool json;
	json_t *all;
	size_t nr;
};

static int print_one(const char *path, const struct dg_strbuf *data, void *payload)
{
	struct found *f = payload;
	json_t *doc = json_loadb(data->buf, data->len, 0, NULL);

	f->nr++;
	if (f->json) {
		json_array_append_new(f->all, json_pack("{s:s, s:s, s:o}", "where", f->where, "path", path,
							"result", doc ? doc : json_string("(not JSON)")));
		return 0;
	}
	/* names and content are untrusted: escaped (jansson escapes control characters) */
	dg_textsafe_println(stdout, "== %s (%s)", path, f->where);
	if (doc) {
		char *pretty = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputs(pretty ? pretty : "", stdout);
		fputc('\n', stdout);
		free(pretty);
	} else {
		dg_textsafe_println(stdout, "(not JSON)");
	}
	json_decref(doc);
	return 0;
}

static int match_main(const struct dg_entry *e, void *payload)
{
	struct found *f = payload;
	struct dg_strbuf data = DG_STRBUF_INIT;
	int ret = 0;

	/* only names that contain the id are read (a flat directory may be large) */
	if (e->is_file && strstr(e->name, f->task_id) && dg_store_read(f->store, e->path, &data) == 0 &&
	    dg_layout_result_of(e->name, data.buf, data.len, f->task_id))
		ret = print_one(e->path, &data, f);
	dg_strbuf_release(&data);
	return ret;
}

int cmd_result(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const dirs[] = { DG_DIR_COMPLETED, DG_DIR_FAILED };
	struct dg_config cfg;
	struct dg_store *store = NULL;
	struct found f = { 0 };
	struct dg_strbuf dir = DG_STRBUF_INIT;
	const char *repo = NULL;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'j': f.json = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return cmd_bad_option(c, argv, "result");
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "error: give one task id (see 'dgrid result --help')\n");
		return 2;
	}
	f.task_id = argv[optind];
	if (dg_task_id_check(f.task_id, &dg_policy_loosest) < 0) {
		fprintf(stderr, "error: '%s' is not a task id: %s\n", f.task_id, dg_error_last());
		return 2;
	}
	if ((ret = cmd_repo_config(&cfg, repo)) != 0)
		return ret;
	if ((ret = cmd_open_store(&store, &cfg, true)) != 0)
		return ret;
	f.store = store;
	f.all = json_array();
	f.where = "main";
	for (size_t i = 0; i < DG_ARRAY_SIZE(dirs) && ret >= 0; i++) {
		/* the task's shard, then the flat directory of older layouts */
		dg_strbuf_reset(&dir);
		dg_strbuf_addf(&dir, "%s/", dirs[i]);
		dg_layout_shard(&dir, f.task_id, DG_RESULT_SHARD_DEPTH);
		ret = dg_store_list(store, dir.buf, match_main, &f);
		if (ret >= 0)
			ret = dg_store_list(store, dirs[i], match_main, &f);
	}
	f.where = "archive";
	if (ret >= 0)
		ret = dg_archive_find(store, f.task_id, print_one, &f);
	if (ret < 0) {
		ret = cmd_fail("cannot read the results");
		goto out;
	}
	if (f.json) {
		struct dg_strbuf out = DG_STRBUF_INIT;
		dg_json_dump(&out, f.all);
		fputs(out.buf, stdout);
		fputc('\n', stdout);
		dg_strbuf_release(&out);
	}
	if (!f.nr && !f.json)
		fprintf(stderr, "error: no result of task '%s' on main or in the archive\n", f.task_id);
	ret = f.nr ? 0 : 1;
out:
	json_decref(f.all);
	dg_strbuf_release(&dir);
	dg_store_free(store);
	return ret;
}
