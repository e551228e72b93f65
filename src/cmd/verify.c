/*
 * dgrid verify - judges every record of the grid by its node's key
 * (nodekeys.h, doc/trust.md): registrations, claims, results on main and
 * heartbeats. Prints each forged one with the reason, then a summary;
 * exit 1 when any is forged.
 */
#include "../common.h"
#include "../error.h"
#include "../grid.h"
#include "../jsonio.h"
#include "../layout.h"
#include "../nodekeys.h"
#include "../signers.h"
#include "../textsafe.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <sodium.h>

static const char usage_text[] =
	"usage: dgrid verify [--repo URL] [--pins FILE] [--allowed-signers FILE [--trust-quorum M]]\n"
	"\n"
	"Judges every record of the grid by its node's key: registrations\n"
	"(nodes/ID.json), claims, results on main and heartbeats. A record in\n"
	"the name of a node with a key must be signed by that key; one that is\n"
	"not is forged, and is printed with the reason. Nodes of a dgrid before\n"
	"0.11.0 have no key: their records are counted as unverified.\n"
	"\n"
	"A node id's key is the first one seen for it. Without --pins that is the\n"
	"one registered now; with --pins FILE, the one in FILE (kept like\n"
	"ssh's known_hosts: new ids are added), so a registration rewritten\n"
	"later with another key shows as forged. Revocations (dgrid node revoke)\n"
	"count when signed by --allowed-signers keys.\n"
	"Exit 0: nothing forged; 1: something forged, or an error; 2: usage.\n"
	"\n"
	"      --repo URL               state repository (DGRID_REPO_URL, DGRID_REPO_PATH)\n"
	"      --pins FILE              node key pins, read and updated\n"
	"      --allowed-signers FILE   keys whose revocations count\n"
	"      --trust-quorum M         how many of them must sign one (1)\n"
	"  -h, --help                   this text\n";

struct verify {
	struct dg_nodekeys *keys;
	struct dg_txn *txn;
	unsigned counts[3];      /* by enum dg_verdict */
	unsigned forged_registrations;
	struct dg_strbuf out;    /* the forged records, one per line */
};

static void say_forged(struct verify *v, const char *what, const char *why)
{
	dg_strbuf_addstr(&v->out, "forged: ");
	dg_textsafe_addstr(&v->out, what);
	dg_strbuf_addstr(&v->out, ": ");
	dg_textsafe_addstr(&v->out, why);
	dg_strbuf_addch(&v->out, '\n');
}

static void forged_registration(const char *node_id, const char *why, void *payload)
{
	struct verify *v = payload;
	struct dg_strbuf what = DG_STRBUF_INIT;

	dg_strbuf_addf(&what, "nodes/%s.json", node_id);
	say_forged(v, what.buf, why);
	v->forged_registrations++;
	dg_strbuf_release(&what);
}

/* A claim (owner: its node_id) or a result (its node_id, or the reaper that abandoned it). */
static int judge_file(const struct dg_entry *e, void *payload, bool result)
{
	struct verify *v = payload;
	struct dg_strbuf data = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	json_t *doc = NULL;
	enum dg_verdict verdict;

	if (!e->is_file || e->name[0] == '.' || strlen(e->name) <= 5 ||
	    strcmp(e->name + strlen(e->name) - 5, ".json"))
		return 0;
	if (dg_txn_read(v->txn, e->path, &data) < 0 || !(doc = dg_json_load_object(data.buf, data.len))) {
		v->counts[DG_VERDICT_FORGED]++;
		say_forged(v, e->path, "not a JSON object");
		goto out;
	}
	verdict = result ? dg_nodekeys_judge_result(v->keys, doc, &why)
			 : dg_nodekeys_judge(v->keys, doc, json_string_value(json_object_get(doc, "node_id")), &why);
	v->counts[verdict]++;
	if (verdict == DG_VERDICT_FORGED)
		say_forged(v, e->path, why.buf);
out:
	json_decref(doc);
	dg_strbuf_release(&data);
	dg_strbuf_release(&why);
	return 0;
}

static int judge_claim(const struct dg_entry *e, void *payload)
{
	return judge_file(e, payload, false);
}

static int judge_result(const struct dg_entry *e, void *payload)
{
	return judge_file(e, payload, true);
}

static int judge_beat(const char *name, int64_t when, const char *data, size_t len, void *payload)
{
	struct verify *v = payload;
	struct dg_strbuf why = DG_STRBUF_INIT;
	json_t *doc = dg_json_load_object(data, len);
	enum dg_verdict verdict = DG_VERDICT_FORGED;

	(void)when;
	if (doc)
		verdict = dg_nodekeys_judge(v->keys, doc, name + strlen(DG_NODE_REF_PREFIX), &why);
	else
		dg_strbuf_addstr(&why, "not a JSON object");
	v->counts[verdict]++;
	if (verdict == DG_VERDICT_FORGED) {
		struct dg_strbuf what = DG_STRBUF_INIT;

		dg_strbuf_addf(&what, "refs/dgrid/%s (heartbeat)", name);
		say_forged(v, what.buf, why.buf);
		dg_strbuf_release(&what);
	}
	json_decref(doc);
	dg_strbuf_release(&why);
	return 0;
}

static int verify_fn(struct dg_txn *txn, void *payload)
{
	struct verify *v = payload;
	static const char *const dirs[] = { DG_DIR_COMPLETED, DG_DIR_FAILED };
	int ret;

	v->txn = txn;
	if ((ret = dg_nodekeys_learn_grid(v->keys, txn, forged_registration, v)) < 0 ||
	    (ret = dg_layout_walk_txn(txn, DG_DIR_RUNNING, judge_claim, v)) < 0)
		return ret;
	for (size_t i = 0; i < DG_ARRAY_SIZE(dirs) && !ret; i++)
		ret = dg_layout_walk_txn(txn, dirs[i], judge_result, v);
	return ret < 0 ? ret : 1;   /* read only */
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "pins", required_argument, NULL, 'p' },
		{ "allowed-signers", required_argument, NULL, 'A' },
		{ "trust-quorum", required_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify v = { .out = DG_STRBUF_INIT };
	struct dg_signers signers = DG_SIGNERS_INIT;
	struct dg_strbuf err = DG_STRBUF_INIT;
	struct dg_config cfg;
	struct dg_store *store = NULL;
	const char *repo = NULL, *pins = NULL, *allowed = NULL;
	unsigned quorum = 1;
	int c, ret = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'p': pins = optarg; break;
		case 'A': allowed = optarg; break;
		case 'Q':
			if (dg_parse_uint(&quorum, "--trust-quorum", optarg, 1, 32, &err) < 0) {
				fprintf(stderr, "error: %s\n", err.buf);
				goto out;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			ret = 0;
			goto out;
		default:
			ret = cmd_bad_option(c, argv, "verify");
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if ((ret = cmd_repo_config(&cfg, repo)))
		goto out;
	ret = 1;
	if (sodium_init() < 0) {
		fprintf(stderr, "error: cannot initialise libsodium\n");
		goto out;
	}
	if (allowed && dg_signers_load(&signers, allowed) < 0) {
		fprintf(stderr, "error: --allowed-signers: %s\n", dg_error_last());
		ret = 2;
		goto out;
	}
	if (dg_nodekeys_open(&v.keys, pins) < 0) {
		fprintf(stderr, "error: --pins: %s\n", dg_error_last());
		ret = 2;
		goto out;
	}
	dg_nodekeys_set_trust(v.keys, allowed ? &signers : NULL, quorum);
	if (cmd_open_store(&store, &cfg, true))
		goto out;
	if (dg_store_transact(store, verify_fn, &v, NULL) < 0 ||
	    dg_store_list_side(store, DG_NODE_REF_PREFIX, DG_HEARTBEAT_PATH, judge_beat, &v) < 0) {
		ret = cmd_fail("cannot read the grid");
		goto out;
	}
	fwrite(v.out.buf, 1, v.out.len, stdout);
	printf("records: %u valid, %u unverified (nodes without a key), %u forged; %u forged registration%s\n",
	       v.counts[DG_VERDICT_VALID], v.counts[DG_VERDICT_UNVERIFIED], v.counts[DG_VERDICT_FORGED],
	       v.forged_registrations, v.forged_registrations == 1 ? "" : "s");
	ret = v.counts[DG_VERDICT_FORGED] || v.forged_registrations ? 1 : 0;
out:
	dg_nodekeys_free(v.keys);
	dg_signers_release(&signers);
	dg_store_free(store);
	dg_strbuf_release(&v.out);
	dg_strbuf_release(&err);
	return ret;
}
