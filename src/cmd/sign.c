/*
 * dgrid sign - signs task files for grids whose workers run only signed
 * tasks (doc/trust.md), or checks such signatures as a worker would.
 * It writes what `ssh-keygen -Y sign -n dgrid-task` writes.
 */
#include "../common.h"
#include "../error.h"
#include "../signers.h"
#include "../sshsig.h"
#include "../strbuf.h"
#include "../task.h"
#include "../tasksign.h"
#include "../textsafe.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <sodium.h>
#include <time.h>

static const char usage_text[] =
	"usage: dgrid sign [--key KEY] [--namespace NS] FILE...\n"
	"       dgrid sign --check ALLOWED_SIGNERS FILE.json...\n"
	"\n"
	"Signs each task file with the OpenSSH ed25519 private key KEY and writes\n"
	"the signature to FILE.json.sig, as `ssh-keygen -Y sign -f KEY -n\n"
	"dgrid-task FILE.json` does. Commit both files to tasks/queue/ (or use\n"
	"dgrid submit, which commits a .sig found beside a file). The key must\n"
	"be unencrypted; for a key with a passphrase use ssh-keygen itself.\n"
	"\n"
	"--namespace signs for another purpose (doc/trust.md): dgrid-signers for\n"
	"the repository's trust/allowed_signers, dgrid-policy for dgrid.json,\n"
	"dgrid-revoke for a second signature of a revocation (dgrid node revoke).\n"
	"\n"
	"With --check, verifies each FILE.json.sig as a worker started with\n"
	"--allowed-signers ALLOWED_SIGNERS would, and says who signed it or why\n"
	"it would be rejected (exit 1 if any would be).\n"
	"\n"
	"      --key KEY                private key (DGRID_SIGNING_KEY)\n"
	"      --namespace NS           dgrid-task (default), dgrid-signers or dgrid-policy\n"
	"      --check ALLOWED_SIGNERS  verify instead of signing\n"
	"  -h, --help                   this text\n";

static int sign_file(const struct dg_sshkey *key, const char *ns, const char *file)
{
	struct dg_strbuf data = DG_STRBUF_INIT, sig = DG_STRBUF_INIT, path = DG_STRBUF_INIT;
	char fp[DG_SSH_FINGERPRINT_LEN + 1];
	int ret = 1;
	FILE *f;

	if (dg_strbuf_read_file(&data, file, 16u << 20) < 0) {
		printf("%s: %s\n", file, dg_error_last());
		goto out;
	}
	dg_sshsig_sign(&sig, key, ns, data.buf, data.len);
	dg_tasksign_sidecar(&path, file);
	f = fopen(path.buf, "w");
	if (!f || fwrite(sig.buf, 1, sig.len, f) != sig.len || fclose(f)) {
		printf("%s: cannot write: %s\n", path.buf, strerror(errno));
		goto out;
	}
	dg_sshkey_fingerprint(fp, key->pk);
	printf("signed %s with %s (namespace %s): %s\n", file, fp, ns, path.buf);
	ret = 0;
out:
	dg_strbuf_release(&data);
	dg_strbuf_release(&sig);
	dg_strbuf_release(&path);
	return ret;
}

/* What a worker with these signers would say of the file and its .sig. */
static int check_file(const struct dg_signers *signers, const char *file)
{
	struct dg_strbuf data = DG_STRBUF_INIT, sig = DG_STRBUF_INIT, path = DG_STRBUF_INIT;
	struct dg_strbuf say = DG_STRBUF_INIT;
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;
	struct dg_task task = DG_TASK_INIT;
	const char *slash = strrchr(file, '/');
	int ret = 1;

	dg_tasksign_sidecar(&path, file);
	if (dg_strbuf_read_file(&data, file, 16u << 20) < 0 ||
	    dg_task_parse(&task, data.buf, data.len, slash ? slash + 1 : file, &dg_policy_loosest) < 0) {
		dg_strbuf_addf(&say, "%s: %s", file, dg_error_last());
		goto out;
	}
	if (dg_strbuf_read_file(&sig, path.buf, DG_TASKSIGN_MAX) == 0)
		dg_tasksign_embed(&task, data.buf, data.len, sig.buf, sig.len);
	if (dg_tasksign_verify(&v, &task, signers, (int64_t)time(NULL)) < 0) {
		dg_strbuf_addf(&say, "%s: rejected: %s", file, dg_error_last());
		goto out;
	}
	dg_strbuf_addf(&say, "%s: good signature by %s (%s)", file, v.principals, v.key);
	ret = 0;
out:
	/* a task file's id or a key's comment is anybody's text: escape it */
	dg_strbuf_reset(&data);
	dg_textsafe_addstr(&data, say.buf);
	printf("%s\n", data.buf);
	dg_tasksign_verdict_release(&v);
	dg_task_release(&task);
	dg_strbuf_release(&data);
	dg_strbuf_release(&sig);
	dg_strbuf_release(&path);
	dg_strbuf_release(&say);
	return ret;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "check", required_argument, NULL, 'c' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_path = getenv("DGRID_SIGNING_KEY"), *check = NULL;
	const char *ns = DG_SSHSIG_TASK_NAMESPACE;
	struct dg_sshkey key = DG_SSHKEY_INIT;
	struct dg_signers signers = DG_SIGNERS_INIT;
	int c, ret = 2, bad = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': key_path = optarg; break;
		case 'c': check = optarg; break;
		case 'n': ns = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return cmd_bad_option(c, argv, "sign");
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "error: no file given (see 'dgrid sign --help')\n");
		return 2;
	}
	if (strcmp(ns, DG_SSHSIG_TASK_NAMESPACE) && strcmp(ns, "dgrid-signers") && strcmp(ns, "dgrid-policy") &&
	    strcmp(ns, "dgrid-revoke")) {
		fprintf(stderr, "error: --namespace '%s' is none of dgrid-task, dgrid-signers, dgrid-policy, "
			"dgrid-revoke\n", ns);
		return 2;
	}
	if (check && strcmp(ns, DG_SSHSIG_TASK_NAMESPACE)) {
		fprintf(stderr, "error: --check verifies task files (namespace dgrid-task) only\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "error: cannot initialise libsodium\n");
		return 1;
	}
	if (check) {
		if (dg_signers_load(&signers, check) < 0) {
			fprintf(stderr, "error: --check: %s\n", dg_error_last());
			goto out;
		}
		for (int i = optind; i < argc; i++)
			bad += check_file(&signers, argv[i]);
	} else {
		if (!key_path || !*key_path) {
			fprintf(stderr, "error: no key: give --key KEY or set DGRID_SIGNING_KEY\n");
			goto out;
		}
		if (dg_sshkey_load(&key, key_path) < 0) {
			fprintf(stderr, "error: --key: %s\n", dg_error_last());
			goto out;
		}
		for (int i = optind; i < argc; i++)
			bad += sign_file(&key, ns, argv[i]);
	}
	ret = bad ? 1 : 0;
out:
	dg_sshkey_release(&key);
	dg_signers_release(&signers);
	return ret;
}
