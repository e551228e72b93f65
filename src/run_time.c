/*
 * run_time.c - dg_run_time_update and dg_run_time_ms (run_time.h).
 */
#include "run_time.h"
#include "jsonio.h"
#include "layout.h"
#include "store.h"

#define NAME_MAX_LEN 128

/* A successful report a summary names: its node and task. */
struct report {
	char node[NAME_MAX_LEN + 1];
	char task[NAME_MAX_LEN + 1];
};

struct reports {
	struct report r[DG_RUN_TIME_SAMPLES];
	size_t nr;
};

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* Copies the name at s (up to a character no name has) into out: its length, 0 when none fits. */
static size_t take_name(char out[NAME_MAX_LEN + 1], const char *s)
{
	size_t n = 0;

	while (is_name_char(s[n]) && n < NAME_MAX_LEN)
		n++;
	if (is_name_char(s[n]))
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

/* "NODE: ... report TASK (success) ...": each successful report, newest commits first. */
static int collect(int64_t when DG_UNUSED, const char *summary, void *payload)
{
	static const char word[] = " report ", ok[] = " (success)";
	struct reports *rs = payload;
	char node[NAME_MAX_LEN + 1];
	size_t n = take_name(node, summary);

	if (!n || summary[n] != ':')
		return 0;
	for (const char *p = strstr(summary, word); p && rs->nr < DG_RUN_TIME_SAMPLES; p = strstr(p, word)) {
		struct report *r = &rs->r[rs->nr];

		p += sizeof(word) - 1;
		n = take_name(r->task, p);
		if (n && !strncmp(p + n, ok, sizeof(ok) - 1)) {
			memcpy(r->node, node, sizeof(node));
			rs->nr++;
		}
	}
	return 0;
}

struct find {
	const char *prefix;    /* "TASK.NODE." */
	struct dg_strbuf *path;
};

static int find_result(const struct dg_entry *e, void *payload)
{
	struct find *f = payload;
	size_t n = strlen(f->prefix);

	if (!e->is_file || strncmp(e->name, f->prefix, n))
		return 0;
	dg_strbuf_reset(f->path);
	dg_strbuf_addstr(f->path, e->path);
	return 1;
}

/* The duration_ms of the report's result in its shard of tasks/completed, or -1. */
static int64_t result_ms(struct dg_store *store, const struct report *r)
{
	struct dg_strbuf dir = DG_STRBUF_INIT, path = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	char *prefix = dg_xasprintf("%s.%s.", r->task, r->node);
	struct find f = { prefix, &path };
	int64_t ms = -1;
	json_t *doc = NULL, *v;

	dg_strbuf_addf(&dir, "%s/", DG_DIR_COMPLETED);
	dg_layout_shard(&dir, r->task, DG_RESULT_SHARD_DEPTH);
	if (dg_store_list(store, dir.buf, find_result, &f) == 1 && dg_store_read(store, path.buf, &data) == 0 &&
	    (doc = dg_json_load_object(data.buf, data.len)) &&
	    json_is_integer(v = json_object_get(doc, "duration_ms")) && json_integer_value(v) >= 0)
		ms = json_integer_value(v);
	json_decref(doc);
	free(prefix);
	dg_strbuf_release(&dir);
	dg_strbuf_release(&path);
	dg_strbuf_release(&data);
	return ms;
}

void dg_run_time_update(struct dg_run_time *rt, struct dg_store *store, unsigned protocol)
{
	/* no commit has this id: the first update walks the newest commits */
	static const char none[] = "0000000000000000000000000000000000000000";
	struct reports rs = { .nr = 0 };
	const char *tip = dg_store_tip(store);

	if (protocol < DG_SHARDED_PROTOCOL || !tip[0] || !strcmp(tip, rt->tip))
		return;
	dg_store_walk_since(store, rt->tip[0] ? rt->tip : none, DG_RUN_TIME_COMMITS, collect, &rs);
	snprintf(rt->tip, sizeof(rt->tip), "%s", tip);
	/* oldest first, so that the ring ends with the newest */
	for (size_t i = rs.nr; i-- > 0;) {
		int64_t ms = result_ms(store, &rs.r[i]);

		if (ms < 0)
			continue;
		rt->ms[rt->next] = ms;
		rt->next = (rt->next + 1) % DG_RUN_TIME_SAMPLES;
		if (rt->nr < DG_RUN_TIME_SAMPLES)
			rt->nr++;
	}
}

static int cmp_ms(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int64_t dg_run_time_ms(const struct dg_run_time *rt)
{
	int64_t v[DG_RUN_TIME_SAMPLES];

	if (!rt->nr)
		return 0;
	memcpy(v, rt->ms, rt->nr * sizeof(v[0]));
	qsort(v, rt->nr, sizeof(v[0]), cmp_ms);
	/* a 0 ms task still took time: at least 1, so that 0 keeps meaning "unknown" */
	return v[rt->nr / 2] > 0 ? v[rt->nr / 2] : 1;
}
