/*
 * cmdutil.c - configuration, store and error helpers of the repository commands.
 */
#include "cmdutil.h"
#include "../error.h"
#include "../layout.h"
#include "../log.h"
#include "../strbuf.h"
#include "../textsafe.h"

#include <dirent.h>
#include <getopt.h>
#include <sys/stat.h>

int cmd_repo_config(struct dg_config *cfg, const char *repo_flag)
{
	struct dg_strbuf err = DG_STRBUF_INIT;
	int ret = 2;

	if (dg_config_from_env(cfg, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.buf);
		goto out;
	}
	if (repo_flag && *repo_flag)
		cfg->repo_url = repo_flag;
	if (!cfg->repo_url) {
		fprintf(stderr, "error: no repository: give --repo URL or set DGRID_REPO_URL\n");
		goto out;
	}
	ret = 0;
out:
	dg_strbuf_release(&err);
	return ret;
}

int cmd_fail(const char *what)
{
	struct dg_strbuf red = DG_STRBUF_INIT, msg = DG_STRBUF_INIT;

	dg_redact(&red, dg_error_last());
	/* messages quote names from the repository: no raw control bytes */
	dg_textsafe_add(&msg, red.buf, red.len);
	if (what)
		fprintf(stderr, "error: %s: %s\n", what, msg.buf);
	else
		fprintf(stderr, "error: %s\n", msg.buf);
	dg_strbuf_release(&red);
	dg_strbuf_release(&msg);
	return 1;
}

int cmd_open_store(struct dg_store **out, const struct dg_config *cfg, bool fetch)
{
	struct dg_store_opts opts;

	*out = NULL;
	dg_config_store_opts(cfg, &opts, "cli");
	if (dg_store_open(out, &opts) < 0)
		return cmd_fail(NULL);
	if (fetch && dg_store_fetch(*out) < 0) {
		dg_store_free(*out);
		*out = NULL;
		return cmd_fail(NULL);
	}
	return 0;
}

int cmd_bad_option(int c, char **argv, const char *cmd)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "error: option '%s' needs a value (see 'dgrid %s --help')\n", opt, cmd);
	else
		fprintf(stderr, "error: unknown option '%s' (see 'dgrid %s --help')\n", opt, cmd);
	return 2;
}

bool cmd_path_is_empty(const char *path)
{
	struct stat st;
	struct dirent *de;
	bool empty = true;
	DIR *d;

	if (stat(path, &st) < 0)
		return errno == ENOENT;
	if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
		return false;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

int cmd_sharded_policy(struct dg_store *store, struct dg_policy *pol, const char *what)
{
	struct dg_strbuf doc = DG_STRBUF_INIT;
	int ret = dg_store_read(store, "dgrid.json", &doc);

	*pol = dg_policy_default;
	if ((ret < 0 && ret != DG_ENOTFOUND) || (ret == 0 && dg_policy_parse(pol, doc.buf, doc.len) < 0)) {
		dg_strbuf_release(&doc);
		return cmd_fail("cannot read the policy (dgrid.json)");
	}
	dg_strbuf_release(&doc);
	if (pol->protocol >= DG_SHARDED_PROTOCOL && pol->protocol <= DG_PROTOCOL)
		return 0;
	fprintf(stderr, "error: %s needs a grid of protocol %u (this one is at %u; %s)\n", what,
		DG_SHARDED_PROTOCOL, pol->protocol,
		pol->protocol < DG_SHARDED_PROTOCOL ? "run 'dgrid upgrade' first" : "upgrade this dgrid");
	return 1;
}
