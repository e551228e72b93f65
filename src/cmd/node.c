/*
 * dgrid node revoke - releases a node id from the key it was registered
 * with (nodekeys.h, doc/trust.md): a new machine, or a lost spool, may then
 * register under the id with a new key. The revocation is
 * trust/revoked/ID.json, signed in namespace dgrid-revoke by the key given;
 * workers honour it when their --allowed-signers hold that key (as many
 * as their --trust-quorum: others add their signatures with
 * `dgrid sign --namespace dgrid-revoke` as trust/revoked/ID.json.sigs/NAME.sig).
 */
#include "../common.h"
#include "../error.h"
#include "../jsonio.h"
#include "../sshsig.h"
#include "../task.h"
#include "../tasksign.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <sodium.h>

static const char usage_text[] =
	"usage: dgrid node revoke [--repo URL] --key KEY [--fingerprint SHA256:...] NODE_ID\n"
	"\n"
	"Revokes the key NODE_ID is registered with (or the one named by\n"
	"--fingerprint), so that the id may register again with another key.\n"
	"Commits trust/revoked/NODE_ID.json and its signature by KEY (an OpenSSH\n"
	"ed25519 private key, namespace dgrid-revoke). Workers honour it when\n"
	"KEY is among their --allowed-signers.\n"
	"\n"
	"      --repo URL            state repository (DGRID_REPO_URL, DGRID_REPO_PATH)\n"
	"      --key KEY             the revoking key (DGRID_SIGNING_KEY)\n"
	"      --fingerprint FP      the key to revoke (default: the registered one)\n"
	"  -h, --help                this text\n";

struct revoke {
	const char *node_id;
	const char *fingerprint;
	const struct dg_sshkey *key;
	char revoked[DG_SSH_FINGERPRINT_LEN + 1];
};

/* The fingerprint of the key in the node's registration. */
static int registered_key(struct dg_txn *txn, const char *node_id, char fp[DG_SSH_FINGERPRINT_LEN + 1])
{
	struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	unsigned char pk[DG_SSH_ED25519_PK];
	json_t *doc = NULL;
	int ret = DG_ENOTFOUND;

	dg_strbuf_addf(&path, "nodes/%s.json", node_id);
	if (dg_txn_read(txn, path.buf, &data) < 0) {
		dg_error_set("no node '%s' is registered (nodes/%s.json): give --fingerprint", node_id, node_id);
		goto out;
	}
	doc = dg_json_load_object(data.buf, data.len);
	if (!json_object_get(doc, "public_key")) {
		dg_error_set("node '%s' is registered without a key: nothing to revoke", node_id);
		ret = DG_EINVALID;
		goto out;
	}
	if ((ret = dg_sshkey_parse_text(pk, json_string_value(json_object_get(doc, "public_key")))) < 0) {
		dg_error_prefix("nodes/%s.json", node_id);
		goto out;
	}
	dg_sshkey_fingerprint(fp, pk);
	ret = 0;
out:
	json_decref(doc);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return ret;
}

static int revoke_fn(struct dg_txn *txn, void *payload)
{
	struct revoke *r = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, doc = DG_STRBUF_INIT, sig = DG_STRBUF_INIT;
	struct dg_strbuf sig_path = DG_STRBUF_INIT;
	json_t *o = NULL;
	char now[32];
	int ret;

	if (r->fingerprint)
		snprintf(r->revoked, sizeof(r->revoked), "%s", r->fingerprint);
	else if ((ret = registered_key(txn, r->node_id, r->revoked)) < 0)
		goto out;
	dg_utc_now(now);
	o = json_pack("{s:s, s:s, s:s}", "node_id", r->node_id, "key", r->revoked, "revoked_at", now);
	dg_json_dump(&doc, o);
	dg_sshsig_sign(&sig, r->key, "dgrid-revoke", doc.buf, doc.len);
	dg_strbuf_addf(&path, "trust/revoked/%s.json", r->node_id);
	dg_tasksign_sidecar(&sig_path, path.buf);
	if ((ret = dg_txn_write(txn, path.buf, doc.buf, doc.len)) == 0 &&
	    (ret = dg_txn_write(txn, sig_path.buf, sig.buf, sig.len)) == 0)
		dg_txn_message(txn, "revoke the key %s of node %s", r->revoked, r->node_id);
out:
	json_decref(o);
	dg_strbuf_release(&path);
	dg_strbuf_release(&doc);
	dg_strbuf_release(&sig);
	dg_strbuf_release(&sig_path);
	return ret;
}

static int node_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo = NULL, *key_path = getenv("DGRID_SIGNING_KEY");
	struct revoke r = { NULL, NULL, NULL, "" };
	struct dg_sshkey key = DG_SSHKEY_INIT;
	struct dg_config cfg;
	struct dg_store *store = NULL;
	int c, ret = 2;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'k': key_path = optarg; break;
		case 'f': r.fingerprint = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return cmd_bad_option(c, argv, "node revoke");
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "error: give exactly one NODE_ID (see 'dgrid node revoke --help')\n");
		return 2;
	}
	r.node_id = argv[optind];
	if (dg_node_id_check(r.node_id) < 0) {
		fprintf(stderr, "error: %s\n", dg_error_last());
		return 2;
	}
	if (r.fingerprint && (strncmp(r.fingerprint, "SHA256:", 7) || strlen(r.fingerprint) != DG_SSH_FINGERPRINT_LEN)) {
		fprintf(stderr, "error: --fingerprint '%s' is no SHA256:... key fingerprint\n", r.fingerprint);
		return 2;
	}
	if (!key_path || !*key_path) {
		fprintf(stderr, "error: no key: give --key KEY or set DGRID_SIGNING_KEY\n");
		return 2;
	}
	if (sodium_init() < 0 || dg_sshkey_load(&key, key_path) < 0) {
		fprintf(stderr, "error: --key: %s\n", dg_error_last());
		goto out;
	}
	r.key = &key;
	if ((ret = cmd_repo_config(&cfg, repo)))
		goto out;
	ret = 1;
	if (cmd_open_store(&store, &cfg, true))
		goto out;
	if (dg_store_transact(store, revoke_fn, &r, NULL) < 0) {
		ret = cmd_fail("nothing revoked");
		goto out;
	}
	printf("revoked key %s of node %s: trust/revoked/%s.json\n", r.revoked, r.node_id, r.node_id);
	ret = 0;
out:
	dg_sshkey_release(&key);
	dg_store_free(store);
	return ret;
}

int cmd_node(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "revoke"))
		return node_revoke(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return 0;
	}
	fprintf(stderr, "error: dgrid node takes a subcommand: revoke (see 'dgrid node revoke --help')\n");
	return 2;
}
