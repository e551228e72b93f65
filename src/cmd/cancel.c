/*
 * dgrid cancel - ends queued tasks as "cancelled" and asks the workers of
 * running ones to stop them (cancel.h), all in one commit.
 */
#include "../cancel.h"
#include "../common.h"
#include "../error.h"
#include "../layout.h"
#include "../strbuf.h"
#include "../task.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>

#define CANCEL_NODE "dgrid-cancel"   /* the "node" of a result written here */

static const char usage_text[] =
	"usage: dgrid cancel [--repo URL] [--reason TEXT] TASK_ID...\n"
	"\n"
	"Cancels tasks, in one commit. A queued task (waiting for its time or a\n"
	"dependency too) ends \"cancelled\" at once. A running one gets a cancel\n"
	"request, tasks/cancel/ID.json: its worker kills it within one poll\n"
	"interval and reports it \"cancelled\". Tasks that depend on a cancelled\n"
	"one end \"dependency_failed\". Nothing is written when an id is neither\n"
	"queued nor running (exit 1, with what became of it). The same request\n"
	"can be made with plain git: commit tasks/cancel/ID.json (its content,\n"
	"optionally {\"reason\": \"...\"}).\n"
	"\n"
	"      --repo URL     state repository (DGRID_REPO_URL, DGRID_REPO_PATH)\n"
	"      --reason TEXT  recorded in the result (at most 200 bytes)\n"
	"  -h, --help         this text\n";

struct cancel {
	char **ids;
	size_t nr;
	const char *reason;
	struct dg_strbuf report;     /* what happened to each id, printed on success */
};

static int found_one(const char *path, bool success, void *payload)
{
	(void)path;
	(void)success;
	(void)payload;
	return 1;
}

/* Has the task a result on main (it ended), or is it unknown here? */
static bool has_result(struct dg_txn *txn, const char *id)
{
	return dg_layout_task_results(txn, id, found_one, NULL) > 0;
}

static int cancel_fn(struct dg_txn *txn, void *payload)
{
	struct cancel *c = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	struct dg_policy pol = dg_policy_default;
	int ret = 0;

	dg_strbuf_reset(&c->report);
	if (dg_txn_read(txn, "dgrid.json", &data) == 0 && dg_policy_parse(&pol, data.buf, data.len) < 0)
		pol = dg_policy_default;
	for (size_t i = 0; i < c->nr && !ret; i++) {
		const char *id = c->ids[i];

		if (dg_layout_find_task(txn, DG_DIR_QUEUE, id, &path) == 0) {
			ret = dg_cancel_queued(txn, id, path.buf, CANCEL_NODE, c->reason ? c->reason : "dgrid cancel",
					       pol.protocol);
			dg_strbuf_addf(&c->report, "cancelled %s (it was queued)\n", id);
		} else if (dg_layout_find_task(txn, DG_DIR_RUNNING, id, &path) == 0) {
			ret = dg_cancel_request(txn, id, c->reason ? c->reason : "dgrid cancel");
			dg_strbuf_addf(&c->report, "cancel requested for %s (running): its worker stops it "
				       "within its poll interval\n", id);
		} else {
			if (has_result(txn, id))
				dg_error_set("task '%s' has ended already (see 'dgrid result %s'); nothing was cancelled",
					     id, id);
			else
				dg_error_set("no task '%s' is queued or running; nothing was cancelled", id);
			ret = DG_ENOTFOUND;
		}
	}
	if (ret == 0)
		dg_txn_message(txn, "cancel %zu task%s: %s%s", c->nr, c->nr == 1 ? "" : "s", c->ids[0],
			       c->nr > 1 ? " ..." : "");
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return ret;
}

int cmd_cancel(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "reason", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cancel c = { NULL, 0, NULL, DG_STRBUF_INIT };
	struct dg_config cfg;
	struct dg_store *store = NULL;
	const char *repo = NULL;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': repo = optarg; break;
		case 'R': c.reason = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return cmd_bad_option(opt, argv, "cancel");
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "error: no task id given (see 'dgrid cancel --help')\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (dg_task_id_check(argv[i], &dg_policy_loosest) < 0) {
			fprintf(stderr, "error: %s\n", dg_error_last());
			return 2;
		}
	}
	if (c.reason && strlen(c.reason) > DG_CANCEL_REASON_MAX) {
		fprintf(stderr, "error: --reason is %zu bytes, limit %d\n", strlen(c.reason), DG_CANCEL_REASON_MAX);
		return 2;
	}
	c.ids = argv + optind;
	c.nr = (size_t)(argc - optind);
	if ((ret = cmd_repo_config(&cfg, repo)) != 0)
		return ret;
	if ((ret = cmd_open_store(&store, &cfg, true)) != 0)
		return ret;
	if (dg_store_transact(store, cancel_fn, &c, NULL) < 0) {
		ret = cmd_fail(NULL);
		goto out;
	}
	fputs(c.report.buf, stdout);
	ret = 0;
out:
	dg_strbuf_release(&c.report);
	dg_store_free(store);
	return ret;
}
