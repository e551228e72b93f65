#include "config.h"
#include "log.h"
#include "task.h"

#include <unistd.h>

/*
 * GIT_TOKEN is taken out of the environment as soon as it is read: a task
 * run by the process executor has the worker's uid and could read
 * /proc/<worker>/environ, and no child should inherit it. unsetenv alone
 * leaves the bytes where the kernel shows them in /proc/PID/environ (the
 * initial environment block), so they are overwritten too. The copy lives
 * as long as the process; a second call keeps returning it.
 */
static char *token_copy;

static const char *take_token(void)
{
	static const char name[] = "GIT_TOKEN=";
	char *v = getenv("GIT_TOKEN");
	char *entry = v ? v - (sizeof(name) - 1) : NULL;
	size_t len = v ? strlen(v) : 0;

	if (v && *v) {
		free(token_copy);
		token_copy = dg_xstrdup(v);
	}
	unsetenv("GIT_TOKEN");
	/* getenv points just past "NAME=", and the entry outlives unsetenv */
	if (entry && !memcmp(entry, name, sizeof(name) - 1))
		explicit_bzero(entry, sizeof(name) - 1 + len);
	return token_copy;
}

int dg_parse_uint(unsigned *out, const char *name, const char *value,
		  unsigned min, unsigned max, struct dg_strbuf *err)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	if (!value || !*value || *value == '-' || *value == '+')
		goto bad;
	v = strtoul(value, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = (unsigned)v;
	return 0;
bad:
	dg_strbuf_addf(err, "%s '%s' is not a whole number from %u to %u",
		       name, value ? value : "", min, max);
	return DG_EINVALID;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

bool dg_node_id_valid(const char *id)
{
	return dg_node_id_check(id) == 0;
}

int dg_config_from_env(struct dg_config *cfg, struct dg_strbuf *err)
{
	const char *v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->repo_url = env("DGRID_REPO_URL");
	if (!cfg->repo_url)
		cfg->repo_url = env("DGRID_REPO_PATH");
	cfg->token = take_token();
	dg_log_add_secret(cfg->token);
	cfg->username = env("GIT_USERNAME");
	cfg->ssh_key = env("DGRID_SSH_KEY");
	cfg->branch = env("DGRID_BRANCH");
	cfg->cache = env("DGRID_CACHE");
	cfg->executor = env("DGRID_EXECUTOR");
	cfg->http = env("DGRID_HTTP");
	if (!cfg->http)
		cfg->http = "127.0.0.1:8000";
	cfg->node_id = env("NODE_ID");
	if (!cfg->node_id) {
		if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) < 0)
			snprintf(cfg->hostname, sizeof(cfg->hostname), "worker");
		cfg->node_id = cfg->hostname;
	}
	cfg->pull_interval = 10;
	cfg->heartbeat_interval = 0;   /* 0: the grid policy's heartbeat_interval */
	cfg->slots = 1;
	if ((v = env("PULL_INTERVAL")) &&
	    dg_parse_uint(&cfg->pull_interval, "PULL_INTERVAL", v, 1, 3600, err) < 0)
		return DG_EINVALID;
	cfg->upkeep_interval = 300;
	if ((v = env("DGRID_UPKEEP_INTERVAL")) &&
	    dg_parse_uint(&cfg->upkeep_interval, "DGRID_UPKEEP_INTERVAL", v, 1, 86400, err) < 0)
		return DG_EINVALID;
	if ((v = env("HEARTBEAT_INTERVAL")) &&
	    dg_parse_uint(&cfg->heartbeat_interval, "HEARTBEAT_INTERVAL", v, 1, 3600, err) < 0)
		return DG_EINVALID;
	if ((v = env("MAX_PARALLEL_TASKS")) &&
	    dg_parse_uint(&cfg->slots, "MAX_PARALLEL_TASKS", v, 1, 256, err) < 0)
		return DG_EINVALID;
	return 0;
}

void dg_config_store_opts(const struct dg_config *cfg, struct dg_store_opts *opts,
			  const char *tag)
{
	memset(opts, 0, sizeof(*opts));
	opts->url = cfg->repo_url;
	opts->branch = cfg->branch;
	opts->token = cfg->token;
	opts->username = cfg->username;
	opts->ssh_key = cfg->ssh_key;
	opts->cache_tag = tag;
	if (cfg->cache) {
		/* DGRID_CACHE is a base: the store adds the URL hash and tag */
		setenv("DGRID_CACHE", cfg->cache, 1);
	}
}
