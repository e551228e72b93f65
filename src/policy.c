/*
 * policy.c - the grid's limits and the dgrid.json file that overrides them.
 */
#include "task.h"
#include "error.h"
#include "jsonio.h"
#include "members.h"
#include "version.h"

#include <strings.h>

const struct dg_policy dg_policy_default = {
	.id_max = 64,
	.script_max = 5000,
	.timeout_min = 10,
	.timeout_max = 300,
	.file_max = 65536,
	.output_cap = 10240,
	.max_attempts = 3,
	.heartbeat_interval = 30,
	.node_timeout = 90,
	.memory_bytes = UINT64_C(512) << 20,
	.pids = 64,
	.tmp_bytes = UINT64_C(64) << 20,
	.lease_margin = 60,
	.keep_results = 10000,
	.claim_batch_max = 64,
	.slot_keep_seconds = 3600,
	.node_ref_keep_seconds = 86400,
	.retry_delay_max = 3600,
	.replicas = 1,
	.protocol = 1,
};

const struct dg_policy dg_policy_loosest = {
	.id_max = 200,
	.script_max = 1 << 20,
	.timeout_min = 1,
	.timeout_max = 86400,
	.file_max = 16 << 20,
	.output_cap = 16 << 20,
	.max_attempts = 100,
	.heartbeat_interval = 30,
	.node_timeout = 90,
	.memory_bytes = UINT64_C(512) << 20,
	.pids = 64,
	.tmp_bytes = UINT64_C(64) << 20,
	.lease_margin = 60,
	.keep_results = 10000,
	.claim_batch_max = 64,
	.slot_keep_seconds = 3600,
	.node_ref_keep_seconds = 86400,
	.retry_delay_max = 3600,
	.replicas = 1,
	.protocol = 1,
};

enum field_type { F_SIZE, F_UNSIGNED, F_U64 };

/* The accepted range of each key; documented in doc/policy.md. */
static const struct policy_field {
	const char *name;
	size_t offset;
	enum field_type type;
	uint64_t min, max;
} fields[] = {
#define F(name, type, min, max) { #name, offsetof(struct dg_policy, name), type, min, max }
	F(id_max, F_SIZE, 1, 200),
	F(script_max, F_SIZE, 1, 1 << 20),
	F(timeout_min, F_UNSIGNED, 1, 86400),
	F(timeout_max, F_UNSIGNED, 1, 86400),
	F(file_max, F_SIZE, 1024, 16 << 20),
	F(output_cap, F_SIZE, 1, 16 << 20),
	F(max_attempts, F_UNSIGNED, 1, 100),
	F(heartbeat_interval, F_UNSIGNED, 1, 3600),
	F(node_timeout, F_UNSIGNED, 2, 86400),
	F(memory_bytes, F_U64, UINT64_C(16) << 20, UINT64_C(1) << 40),
	F(pids, F_UNSIGNED, 1, 65536),
	F(tmp_bytes, F_U64, UINT64_C(1) << 20, UINT64_C(1) << 40),
	F(lease_margin, F_UNSIGNED, 1, 86400),
	F(fetch_budget, F_UNSIGNED, 0, 1000000),
	F(push_budget, F_UNSIGNED, 0, 1000000),
	F(claim_batch_max, F_UNSIGNED, 1, 1000),
	F(slot_keep_seconds, F_UNSIGNED, 10, 604800),
	F(node_ref_keep_seconds, F_UNSIGNED, 10, 31536000),
	F(keep_results, F_UNSIGNED, 0, 100000000),
	F(compact_after, F_UNSIGNED, 0, 100000000),
	F(retry_delay_max, F_UNSIGNED, 0, 604800),
	F(replicas, F_UNSIGNED, 1, 9),
	F(quorum, F_UNSIGNED, 0, 9),
	F(adaptive_replication, F_UNSIGNED, 0, 1000),
	/* any future number parses: an old dgrid must read it to refuse */
	F(protocol, F_UNSIGNED, 1, 1000000),
#undef F
};

static void store(struct dg_policy *pol, const struct policy_field *f, uint64_t v)
{
	char *p = (char *)pol + f->offset;

	switch (f->type) {
	case F_SIZE: *(size_t *)p = (size_t)v; break;
	case F_UNSIGNED: *(unsigned *)p = (unsigned)v; break;
	case F_U64: *(uint64_t *)p = v; break;
	}
}

int dg_policy_parse(struct dg_policy *pol, const char *json, size_t len)
{
	struct dg_policy tmp = *pol;
	char a[32], b[32], pos[64];
	const char *key;
	json_t *root, *value;
	int ret = DG_EINVALID;

	root = dg_json_load_object(json, len);
	if (!root)
		goto out;
	tmp.heartbeat_set = false;
	tmp.fetch_budget_set = false;
	tmp.push_budget_set = false;
	tmp.ignored_nr = 0;
	tmp.ignored[0] = '\0';
	json_object_foreach(root, key, value) {
		const struct policy_field *f = NULL;
		json_int_t v;

		if (!strcmp(key, "$comment"))
			continue;
		/*
		 * Booleans: queued tasks grouped by submitter (doc/tasks.md, "Fair
		 * share"); only signed tasks run (doc/trust.md)
		 */
		if (!strcmp(key, "fair_share") || !strcmp(key, "require_signed")) {
			if (!json_is_boolean(value)) {
				dg_json_key_pos(pos, sizeof(pos), json, len, key);
				dg_error_set("%sexpected true or false for %s, got %s", pos, key,
					     dg_json_type_name(value));
				goto out;
			}
			*(key[0] == 'f' ? &tmp.fair_share : &tmp.require_signed) = json_is_true(value);
			continue;
		}
		/* the grid's other repositories (members.h): a list, not a number */
		if (!strcmp(key, "repositories")) {
			struct dg_strbuf err = DG_STRBUF_INIT;
			int bad = dg_members_check(value, &err);
			if (bad)
				dg_error_set("policy %s", err.buf);
			dg_strbuf_release(&err);
			if (bad)
				goto out;
			continue;
		}
		for (size_t i = 0; i < DG_ARRAY_SIZE(fields); i++)
			if (!strcmp(key, fields[i].name))
				f = &fields[i];
		if (!f) {
			if (!tmp.ignored_nr++)
				dg_fmt_quoted(tmp.ignored, sizeof(tmp.ignored), key, strlen(key), 24);
			continue;
		}
		if (!json_is_integer(value)) {
			dg_json_key_pos(pos, sizeof(pos), json, len, key);
			dg_error_set("%sexpected integer for %s, got %s", pos, key,
				     dg_json_type_name(value));
			goto out;
		}
		v = json_integer_value(value);
		if (v < 0 || (uint64_t)v < f->min || (uint64_t)v > f->max) {
			dg_error_set("policy %s %" JSON_INTEGER_FORMAT " is outside %s..%s",
				     key, v, dg_fmt_thousands(a, f->min),
				     dg_fmt_thousands(b, f->max));
			goto out;
		}
		store(&tmp, f, (uint64_t)v);
		if (!strcmp(key, "heartbeat_interval") || !strcmp(key, "node_timeout"))
			tmp.heartbeat_set = true;
		if (!strcmp(key, "fetch_budget"))
			tmp.fetch_budget_set = true;
		if (!strcmp(key, "push_budget"))
			tmp.push_budget_set = true;
	}
	if (tmp.quorum > tmp.replicas) {
		dg_error_set("policy quorum %u is more than replicas %u", tmp.quorum, tmp.replicas);
		goto out;
	}
	if (tmp.timeout_min > tmp.timeout_max) {
		dg_error_set("policy timeout_min %u is above timeout_max %u",
			     tmp.timeout_min, tmp.timeout_max);
		goto out;
	}
	/* one late or lost heartbeat must not make a live node look dead */
	if (tmp.node_timeout < 2 * tmp.heartbeat_interval) {
		dg_error_set("policy node_timeout %u must be at least twice heartbeat_interval %u",
			     tmp.node_timeout, tmp.heartbeat_interval);
		goto out;
	}
	*pol = tmp;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

bool dg_policy_heartbeats(const struct dg_policy *pol)
{
	return pol->protocol < 2 || pol->heartbeat_set;
}

unsigned dg_policy_lease_seconds(const struct dg_policy *pol, unsigned timeout_seconds)
{
	return timeout_seconds + pol->lease_margin;
}

/* Is the repository's host github.com? (scheme://[user[:pw]@]host[:port]/... or user@host:path) */
static bool on_github(const char *url)
{
	const char *scheme = strstr(url, "://"), *host = scheme ? scheme + 3 : url;
	size_t auth = strcspn(host, scheme ? "/" : ":");
	const char *at = memrchr(host, '@', auth);

	if (at)
		host = at + 1;
	return strcspn(host, ":/") == 10 && !strncasecmp(host, "github.com", 10);
}

unsigned dg_policy_fetch_budget(const struct dg_policy *pol, const char *repo_url)
{
	if (pol->fetch_budget_set)
		return pol->fetch_budget;
	return repo_url && on_github(repo_url) ? 900 : 0;
}

unsigned dg_policy_push_budget(const struct dg_policy *pol, const char *repo_url)
{
	if (pol->push_budget_set)
		return pol->push_budget;
	return repo_url && on_github(repo_url) ? 6 : 0;
}

int dg_policy_check_protocol(const struct dg_policy *pol)
{
	if (pol->protocol <= DG_PROTOCOL)
		return 0;
	dg_error_set("the grid requires protocol %u (dgrid.json \"protocol\") but dgrid %s speaks "
		     "protocol %u: upgrade dgrid on this node; it writes nothing to this grid until then",
		     pol->protocol, DG_VERSION, DG_PROTOCOL);
	return DG_EPROTOCOL;
}
