/*
 * config.h - settings shared by the commands, from the environment of the
 * original design and from flags (flags win). A bad value is an error that
 * names the variable or flag; the commands turn it into exit status 2.
 *
 *   DGRID_REPO_URL / DGRID_REPO_PATH  --repo     the state repository
 *   GIT_TOKEN                                    HTTPS token (never logged; removed from
 *                                                the environment once read, so children
 *                                                and /proc/PID/environ do not show it)
 *   GIT_USERNAME                                 user for the token (x-access-token)
 *   DGRID_SSH_KEY                                ssh private key (else the agent)
 *   DGRID_BRANCH                                 branch, default main
 *   DGRID_CACHE                                  cache directory base
 *   NODE_ID                           --node-id  default: the host name
 *   PULL_INTERVAL                                seconds between fetches when idle (10)
 *   DGRID_UPKEEP_INTERVAL                        seconds between a worker's archive and
 *                                                compaction checks (300)
 *   HEARTBEAT_INTERVAL                           seconds between heartbeats (the policy's, 30)
 *   MAX_PARALLEL_TASKS                --slots    tasks at once (1)
 *   DGRID_EXECUTOR                    --executor native|docker|process (best available)
 *   DGRID_HTTP                        --http     status page address (127.0.0.1:8000)
 *   LOG_LEVEL                                    debug|info|warning|error (info)
 */
#ifndef DG_CONFIG_H
#define DG_CONFIG_H

#include "common.h"
#include "store.h"
#include "strbuf.h"

struct dg_config {
	const char *repo_url;
	const char *token;
	const char *username;
	const char *ssh_key;
	const char *branch;
	const char *cache;
	const char *node_id;
	unsigned pull_interval;
	unsigned heartbeat_interval;
	unsigned upkeep_interval;   /* seconds between archive/compaction checks */
	unsigned slots;
	const char *executor;
	const char *http;
	char hostname[256];
};

/* Reads the environment into cfg (with defaults). */
int dg_config_from_env(struct dg_config *cfg, struct dg_strbuf *err);

/* Parses an unsigned integer in [min, max]; name is used in the message. */
int dg_parse_uint(unsigned *out, const char *name, const char *value,
		  unsigned min, unsigned max, struct dg_strbuf *err);

/* Fills store options from cfg; tag distinguishes caches (e.g. node id). */
void dg_config_store_opts(const struct dg_config *cfg, struct dg_store_opts *opts,
			  const char *tag);

/* Is id a valid node id ([A-Za-z0-9_.-], 1-64)? */
bool dg_node_id_valid(const char *id);

#endif
