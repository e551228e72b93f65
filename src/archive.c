#include "archive.h"
#include "error.h"
#include "grid.h"
#include "jsonio.h"
#include "layout.h"
#include "log.h"

/* rounds of one run: each adds or completes a batch, or loses a race */
#define ARCHIVE_ROUNDS_MAX 64

struct item {
	char *path;              /* on main */
	const char *sub;         /* "completed" or "failed" */
	int64_t when;            /* its timestamp; 0 when it has none (oldest) */
};

struct items {
	struct item *v;
	size_t nr, alloc;
};

static void items_clear(struct items *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->v[i].path);
	l->nr = 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

struct collect {
	struct items *l;
	const char *sub;
};

static int collect_result(const struct dg_entry *e, void *payload)
{
	struct collect *c = payload;
	struct item *it;

	if (!e->is_file || e->name[0] == '.')
		return 0;
	DG_ALLOC_GROW(c->l->v, c->l->nr + 1, c->l->alloc);
	it = &c->l->v[c->l->nr++];
	it->path = dg_xstrdup(e->path);
	it->sub = c->sub;
	it->when = 0;
	return 0;
}

/* Every result file on main, flat or sharded: a walk of trees, no file read. */
static int list_main(struct dg_store *store, struct items *l)
{
	struct collect c = { l, "completed" };
	int ret;

	items_clear(l);
	if ((ret = dg_layout_walk_store(store, DG_DIR_COMPLETED, collect_result, &c)) < 0)
		return ret;
	c.sub = "failed";
	return dg_layout_walk_store(store, DG_DIR_FAILED, collect_result, &c);
}

/* ---- the archive's batches ---- */

static int max_number(const struct dg_entry *e, void *payload)
{
	int *max = payload;
	char *end;
	long n;

	if (!e->is_dir || strlen(e->name) != 3)
		return 0;
	n = strtol(e->name, &end, 10);
	if (!*end && n > *max)
		*max = (int)n;
	return 0;
}

typedef int (*list_fn)(void *src, const char *dir, dg_list_cb cb, void *payload);

static int list_store(void *src, const char *dir, dg_list_cb cb, void *payload)
{
	return dg_store_list(src, dir, cb, payload);
}

static int list_txn(void *src, const char *dir, dg_list_cb cb, void *payload)
{
	return dg_txn_list(src, dir, cb, payload);
}

/* The number of the newest batch (0: none), through the store or a transaction. */
static int newest_batch(list_fn list, void *src, unsigned *k)
{
	char dir[64];
	int hi = -1, lo = -1, ret;

	*k = 0;
	if ((ret = list(src, "batches", max_number, &hi)) < 0 || hi < 0)
		return ret;
	snprintf(dir, sizeof(dir), "batches/%03d", hi);
	if ((ret = list(src, dir, max_number, &lo)) < 0 || lo < 0)
		return ret;
	*k = (unsigned)hi * 1000 + (unsigned)lo;
	return 0;
}

static void batch_dir(char *buf, size_t size, unsigned k)
{
	snprintf(buf, size, "batches/%03u/%03u", k / 1000, k % 1000);
}

struct names {
	struct dg_strbuf *out;
	const char *sub;
};

static int add_name(const struct dg_entry *e, void *payload)
{
	struct names *n = payload;

	if (e->is_file)
		dg_strbuf_addf(n->out, "%s/%s\n", n->sub, e->name);
	return 0;
}

/* "completed/NAME\n" lines of batch k, read through the store. */
static int batch_names(struct dg_store *store, unsigned k, struct dg_strbuf *out)
{
	static const char *const subs[] = { "completed", "failed" };
	char base[64], dir[96];
	int ret = 0;

	batch_dir(base, sizeof(base), k);
	for (size_t i = 0; i < 2 && !ret; i++) {
		struct names n = { out, subs[i] };
		snprintf(dir, sizeof(dir), "%s/%s", base, subs[i]);
		ret = dg_store_list(store, dir, add_name, &n);
	}
	return ret;
}

/*
 * The archive's own store (dg_store_open_sibling: its objects never enter
 * the branch's cache), on DG_ARCHIVE_REF and fetched.
 */
static int open_archive(struct dg_store *store, struct dg_store **out)
{
	int ret;

	*out = NULL;
	if ((ret = dg_store_open_sibling(store, "archive", out)) < 0)
		return ret;
	if ((ret = dg_store_use_ref(*out, DG_ARCHIVE_REF)) < 0 || (ret = dg_store_fetch(*out)) < 0) {
		dg_store_free(*out);
		*out = NULL;
	}
	return ret;
}

/*
 * Where an archived file ("completed/NAME", read from the archive) lived on
 * main: its shard, from the task id its name or its content tells.
 */
static void main_path(struct dg_store *arch, unsigned k, const char *entry, struct dg_strbuf *out)
{
	const char *name = base_name(entry);
	size_t sublen = (size_t)(name - 1 - entry);
	struct dg_strbuf id = DG_STRBUF_INIT, data = DG_STRBUF_INIT;
	char path[512];

	if (dg_layout_result_task(name, &id) < 0) {
		json_t *doc;
		batch_dir(path, sizeof(path), k);
		dg_strbuf_addf(&data, "%s/%s", path, entry);
		snprintf(path, sizeof(path), "%s", data.buf);
		dg_strbuf_reset(&data);
		if (dg_store_read(arch, path, &data) == 0 &&
		    (doc = json_loadb(data.buf, data.len, 0, NULL)) != NULL) {
			dg_strbuf_addstr(&id, json_string_value(json_object_get(doc, "task_id")) ?: "");
			json_decref(doc);
		}
		if (!id.len)
			dg_strbuf_add(&id, name, strlen(name) - 5);
	}
	dg_strbuf_addf(out, "tasks/%.*s/", (int)sublen, entry);
	dg_layout_shard(out, id.buf, DG_RESULT_SHARD_DEPTH);
	dg_strbuf_addf(out, "/%s", name);
	dg_strbuf_release(&id);
	dg_strbuf_release(&data);
}

/* ---- the two commits ---- */

struct removal {
	char **paths;
	size_t nr;
	size_t removed;
	const char *why;
};

static int remove_fn(struct dg_txn *txn, void *payload)
{
	struct removal *r = payload;
	int ret;

	r->removed = 0;
	for (size_t i = 0; i < r->nr; i++) {
		if (!dg_txn_exists(txn, r->paths[i]))
			continue;
		if ((ret = dg_txn_remove(txn, r->paths[i])) < 0)
			return ret;
		r->removed++;
	}
	if (!r->removed)
		return 1;
	dg_txn_message(txn, "archive: %s %zu results (now in " DG_ARCHIVE_REF ")", r->why, r->removed);
	return 0;
}

struct addition {
	unsigned k;               /* the newest batch when the batch was chosen */
	const char *who;          /* the archiving node, NULL for dgrid archive */
	struct item *items;
	size_t nr;
	struct dg_strbuf *data;   /* per item */
	json_t **docs;            /* per item, may be NULL */
};

static void count_into(json_t *summary, json_t *doc, int64_t when)
{
	const char *status = json_string_value(json_object_get(doc, "status")) ?: "unknown";
	const char *node = json_string_value(json_object_get(doc, "node_id")) ?: "?";
	bool ok = !strcmp(status, "success");
	json_t *st = json_object_get(summary, "status"), *nodes = json_object_get(summary, "nodes");
	json_t *hours = json_object_get(summary, "hours"), *pair;
	char hour[24];

	json_object_set_new(summary, "results",
			    json_integer(json_integer_value(json_object_get(summary, "results")) + 1));
	json_object_set_new(st, status, json_integer(json_integer_value(json_object_get(st, status)) + 1));
	if (!(pair = json_object_get(nodes, node))) {
		pair = json_pack("[ii]", 0, 0);
		json_object_set_new(nodes, node, pair);
	}
	json_array_set_new(pair, ok ? 0 : 1, json_integer(json_integer_value(json_array_get(pair, ok ? 0 : 1)) + 1));
	if (when > 0) {
		snprintf(hour, sizeof(hour), "%lld", (long long)(when - when % 3600));
		if (!(pair = json_object_get(hours, hour))) {
			pair = json_pack("[ii]", 0, 0);
			json_object_set_new(hours, hour, pair);
		}
		json_array_set_new(pair, ok ? 0 : 1, json_integer(json_integer_value(json_array_get(pair, ok ? 0 : 1)) + 1));
		if (when > json_integer_value(json_object_get(summary, "newest")))
			json_object_set_new(summary, "newest", json_integer(when));
	}
}

/* Only the last DG_ARCHIVE_HOURS hours before the newest archived result. */
static void prune_hours(json_t *summary)
{
	json_t *hours = json_object_get(summary, "hours");
	int64_t limit = json_integer_value(json_object_get(summary, "newest")) - DG_ARCHIVE_HOURS * 3600;
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(hours, tmp, key, v) {
		if (strtoll(key, NULL, 10) < limit)
			json_object_del(hours, key);
	}
}

static json_t *summary_load(struct dg_txn *txn)
{
	struct dg_strbuf data = DG_STRBUF_INIT;
	json_t *s = NULL;

	if (dg_txn_read(txn, "summary.json", &data) == 0)
		s = json_loadb(data.buf, data.len, 0, NULL);
	dg_strbuf_release(&data);
	if (!json_is_object(s)) {
		json_decref(s);
		s = json_object();
	}
	static const char *const objects[] = { "status", "nodes", "hours" };
	for (size_t i = 0; i < DG_ARRAY_SIZE(objects); i++) {
		if (!json_is_object(json_object_get(s, objects[i])))
			json_object_set_new(s, objects[i], json_object());
	}
	return s;
}

static int add_fn(struct dg_txn *txn, void *payload)
{
	struct addition *a = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, text = DG_STRBUF_INIT;
	unsigned k;
	char dir[64];
	json_t *summary;
	int ret;

	if ((ret = newest_batch(list_txn, txn, &k)) < 0)
		return ret;
	if (k != a->k) {
		dg_error_set("another archiver added batch %u first", k);
		return DG_ECONFLICT;
	}
	batch_dir(dir, sizeof(dir), k + 1);
	summary = summary_load(txn);
	for (size_t i = 0; i < a->nr; i++) {
		dg_strbuf_reset(&path);
		dg_strbuf_addf(&path, "%s/%s/%s", dir, a->items[i].sub, base_name(a->items[i].path));
		if ((ret = dg_txn_write(txn, path.buf, a->data[i].buf, a->data[i].len)) < 0)
			goto out;
		count_into(summary, a->docs[i], a->items[i].when);
	}
	json_object_set_new(summary, "batches", json_integer(k + 1));
	if (a->who)
		json_object_set_new(summary, "archiver", json_string(a->who));
	else
		json_object_del(summary, "archiver");
	prune_hours(summary);
	dg_json_dump(&text, summary);
	if ((ret = dg_txn_write(txn, "summary.json", text.buf, text.len)) < 0)
		goto out;
	dg_txn_message(txn, "archive batch %u: %zu results", k + 1, a->nr);
out:
	json_decref(summary);
	dg_strbuf_release(&path);
	dg_strbuf_release(&text);
	return ret;
}

static int by_age(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	if (a->when != b->when)
		return a->when < b->when ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* Reads every result's timestamp and sorts the list oldest first. */
static void sort_by_age(struct dg_store *store, struct items *l)
{
	struct dg_strbuf data = DG_STRBUF_INIT;

	for (size_t i = 0; i < l->nr; i++) {
		json_t *doc;
		dg_strbuf_reset(&data);
		l->v[i].when = 0;
		if (dg_store_read(store, l->v[i].path, &data) == 0 &&
		    (doc = json_loadb(data.buf, data.len, 0, NULL)) != NULL) {
			int64_t t = dg_parse_utc(json_string_value(json_object_get(doc, "timestamp")));
			l->v[i].when = t > 0 ? t : 0;
			json_decref(doc);
		}
	}
	if (l->nr > 1)
		qsort(l->v, l->nr, sizeof(*l->v), by_age);
	dg_strbuf_release(&data);
}

/*
 * The summary readers fetch (archive.h): the archive's summary.json plus
 * "newest_batch", the names of its newest batch, built from the archive's tip
 * the store is on.
 */
static int summary_doc(struct dg_store *store, struct dg_strbuf *out)
{
	struct dg_strbuf data = DG_STRBUF_INIT, names = DG_STRBUF_INIT;
	json_t *doc = NULL, *list;
	unsigned k = 0;
	int ret;

	if ((ret = dg_store_read(store, "summary.json", &data)) < 0 ||
	    (ret = newest_batch(list_store, store, &k)) < 0 || (k && (ret = batch_names(store, k, &names)) < 0))
		goto out;
	/* json_is_object is a macro that evaluates its argument twice */
	doc = json_loadb(data.buf, data.len, 0, NULL);
	if (!json_is_object(doc)) {
		dg_error_set("the archive's summary.json is not a JSON object");
		ret = DG_EINVALID;
		goto out;
	}
	list = json_array();
	for (char *line = names.buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		json_array_append_new(list, json_string(line));
	}
	json_object_set_new(doc, "newest_batch", list);
	json_object_set_new(doc, "batches", json_integer(k));
	dg_json_dump(out, doc);
out:
	json_decref(doc);
	dg_strbuf_release(&data);
	dg_strbuf_release(&names);
	return ret;
}

/* Publishes text as the summary ref (a derived copy: the archive is the truth). */
static void publish_summary(struct dg_store *store, const struct dg_strbuf *text)
{
	if (dg_store_put_side(store, DG_ARCHIVE_SUMMARY_NAME, "summary.json", text->buf, text->len) < 0)
		dg_log(DG_LOG_WARNING, "event=archive-summary-failed error=\"%s\"", dg_error_last());
}

/* Adds the nr oldest of l as batch k + 1, then removes them from main. */
static int archive_batch(struct dg_store *store, struct dg_store *arch, struct items *l, size_t nr,
			 unsigned k, const char *who, struct dg_archive_stats *st)
{
	struct addition a = { .k = k, .who = who, .items = l->v, .nr = nr };
	struct removal r = { .nr = nr, .why = "move" };
	int ret = 0;

	a.data = dg_xcalloc(nr, sizeof(*a.data));
	a.docs = dg_xcalloc(nr, sizeof(*a.docs));
	r.paths = dg_xcalloc(nr, sizeof(*r.paths));
	for (size_t i = 0; i < nr && !ret; i++) {
		dg_strbuf_init(&a.data[i], 0);
		r.paths[i] = l->v[i].path;
		if ((ret = dg_store_read(store, l->v[i].path, &a.data[i])) == 0)
			a.docs[i] = json_loadb(a.data[i].buf, a.data[i].len, 0, NULL);
	}
	if (ret == 0) {
		struct dg_strbuf text = DG_STRBUF_INIT;
		if ((ret = dg_store_transact(arch, add_fn, &a, NULL)) == 0)
			summary_doc(arch, &text);
		if (text.len)
			publish_summary(arch, &text);
		dg_strbuf_release(&text);
	}
	if (ret == 0)
		ret = dg_store_transact(store, remove_fn, &r, NULL);
	if (ret == 0) {
		st->batches++;
		st->archived += nr;
		dg_log(DG_LOG_INFO, "event=archived batch=%u results=%zu", k + 1, nr);
	}
	for (size_t i = 0; i < nr; i++) {
		dg_strbuf_release(&a.data[i]);
		json_decref(a.docs[i]);
	}
	free(a.data);
	free(a.docs);
	free(r.paths);
	return ret;
}

/*
 * The newest batch's files that are still on main (a crash, or a racing
 * archiver, between its two commits): their paths, one per line.
 */
static int pending_paths(struct dg_store *arch, unsigned k, struct dg_strbuf *out)
{
	struct dg_strbuf names = DG_STRBUF_INIT, path = DG_STRBUF_INIT, scratch = DG_STRBUF_INIT;
	int ret;

	if ((ret = batch_names(arch, k, &names)) < 0)
		goto out;
	for (char *line = names.buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		dg_strbuf_reset(&path);
		main_path(arch, k, line, &path);
		dg_strbuf_addf(out, "%s\n", path.buf);
	}
out:
	dg_strbuf_release(&names);
	dg_strbuf_release(&path);
	dg_strbuf_release(&scratch);
	return ret;
}

static int complete_pending(struct dg_store *store, struct dg_strbuf *paths, struct dg_archive_stats *st)
{
	struct removal r = { .why = "complete batch:" };
	size_t alloc = 0;
	int ret;

	for (char *line = paths->buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		DG_ALLOC_GROW(r.paths, r.nr + 1, alloc);
		r.paths[r.nr++] = line;
	}
	ret = dg_store_transact(store, remove_fn, &r, NULL);
	if (ret == 0 && r.removed) {
		st->completed++;
		dg_log(DG_LOG_INFO, "event=archive-completed results=%zu", r.removed);
	}
	free(r.paths);
	return ret;
}

/* Reads the summary ref (fetching it): *doc, NULL when there is none. */
static int read_summary_ref(struct dg_store *store, json_t **doc)
{
	struct dg_strbuf data = DG_STRBUF_INIT;
	int ret;

	*doc = NULL;
	if ((ret = dg_store_use_ref(store, DG_ARCHIVE_SUMMARY_REF)) < 0)
		return ret;
	if ((ret = dg_store_fetch(store)) == 0 && *dg_store_tip(store) &&
	    dg_store_read(store, "summary.json", &data) == 0)
		*doc = json_loadb(data.buf, data.len, 0, NULL);
	dg_store_use_ref(store, NULL);
	if (*doc && !json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
	}
	dg_strbuf_release(&data);
	return ret;
}

static bool summary_behind(struct dg_store *store, unsigned k)
{
	json_t *doc = NULL;
	bool behind = read_summary_ref(store, &doc) < 0 ||
		      json_integer_value(json_object_get(doc, "batches")) != (json_int_t)k;

	json_decref(doc);
	return behind;
}

int dg_archive_run(struct dg_store *store, unsigned keep, unsigned max_batches, const char *who,
		   struct dg_archive_stats *st)
{
	struct dg_archive_stats local;
	struct items l = { 0 };
	struct dg_strbuf pending = DG_STRBUF_INIT, text = DG_STRBUF_INIT;
	struct dg_store *arch = NULL;
	int ret = 0;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	for (unsigned round = 0; round < ARCHIVE_ROUNDS_MAX; round++) {
		unsigned k = 0;

		/* 1. the archive's newest batch, and whether main still has it */
		dg_strbuf_reset(&pending);
		dg_strbuf_reset(&text);
		if (!arch)
			ret = open_archive(store, &arch);
		else
			ret = dg_store_fetch(arch);
		if (ret == 0 && (ret = newest_batch(list_store, arch, &k)) == 0 && k &&
		    (ret = pending_paths(arch, k, &pending)) == 0 && round == 0)
			summary_doc(arch, &text);
		/* an archiver that died between its commit and the summary: catch up */
		if (ret == 0 && text.len && summary_behind(store, k))
			publish_summary(arch, &text);
		if (ret < 0 || (ret = dg_store_fetch(store)) < 0)
			break;
		if (pending.len) {
			struct dg_strbuf still = DG_STRBUF_INIT, scratch = DG_STRBUF_INIT;
			for (char *line = pending.buf, *nl; *line; line = nl + 1) {
				nl = strchr(line, '\n');
				*nl = '\0';
				dg_strbuf_reset(&scratch);
				if (dg_store_read(store, line, &scratch) == 0)
					dg_strbuf_addf(&still, "%s\n", line);
			}
			if (still.len)
				ret = complete_pending(store, &still, st);
			dg_strbuf_release(&still);
			dg_strbuf_release(&scratch);
			if (ret < 0)
				break;
			if (still.len)
				continue;
		}
		/* 2. enough on main to archive a batch? */
		if ((ret = list_main(store, &l)) < 0)
			break;
		st->on_main = l.nr;
		if (!keep || l.nr < (size_t)keep + DG_ARCHIVE_BATCH ||
		    (max_batches && st->batches >= max_batches))
			break;
		/*
		 * 3. the oldest batches, each added after batch k or not at all.
		 * One sort serves every batch of this round: the list stays
		 * valid while nobody else archives, which add_fn checks.
		 */
		sort_by_age(store, &l);
		size_t done = 0;
		while (l.nr - done >= (size_t)keep + DG_ARCHIVE_BATCH &&
		       !(max_batches && st->batches >= max_batches)) {
			struct items rest = { l.v + done, l.nr - done, 0 };
			if ((ret = archive_batch(store, arch, &rest, DG_ARCHIVE_BATCH, k, who, st)) < 0)
				break;
			done += DG_ARCHIVE_BATCH;
			k++;
		}
		st->on_main = l.nr - done;
		if (ret == DG_ECONFLICT) {
			ret = 0;
			continue;   /* somebody archived first: complete theirs, then go on */
		}
		break;
	}
	items_clear(&l);
	free(l.v);
	dg_store_free(arch);
	dg_strbuf_release(&pending);
	dg_strbuf_release(&text);
	return ret;
}

/* ---- reading ---- */

int dg_archive_read_summary(struct dg_store *store, json_t **summary, struct dg_strbuf *newest)
{
	json_t *v;
	size_t i;
	int ret = read_summary_ref(store, summary);

	if (ret == 0 && *summary && newest) {
		json_array_foreach(json_object_get(*summary, "newest_batch"), i, v) {
			if (json_is_string(v))
				dg_strbuf_addf(newest, "%s\n", json_string_value(v));
		}
	}
	return ret;
}

struct find {
	struct dg_store *store;
	const char *task_id;
	char dir[96];
	dg_archive_found_cb cb;
	void *payload;
	int found;
};

static int find_in(const struct dg_entry *e, void *payload)
{
	struct find *f = payload;
	size_t idlen = strlen(f->task_id);
	struct dg_strbuf data = DG_STRBUF_INIT;
	int ret = 0;

	/* a current name tells by itself; an original-layout one needs its content */
	if (!e->is_file || (strncmp(e->name, f->task_id, idlen) && !strstr(e->name, f->task_id)))
		return 0;
	if (dg_store_read(f->store, e->path, &data) == 0 &&
	    dg_layout_result_of(e->name, data.buf, data.len, f->task_id)) {
		f->found++;
		ret = f->cb(e->path, &data, f->payload);
	}
	dg_strbuf_release(&data);
	return ret;
}

int dg_archive_find(struct dg_store *store, const char *task_id, dg_archive_found_cb cb,
		    void *payload)
{
	struct find f = { .task_id = task_id, .cb = cb, .payload = payload };
	struct dg_store *arch;
	unsigned k = 0;
	int ret;

	if ((ret = open_archive(store, &arch)) < 0)
		return ret;
	f.store = arch;
	if (*dg_store_tip(arch))
		ret = newest_batch(list_store, arch, &k);
	for (; ret >= 0 && k > 0; k--) {
		char base[64];
		batch_dir(base, sizeof(base), k);
		snprintf(f.dir, sizeof(f.dir), "%s/completed", base);
		ret = dg_store_list(arch, f.dir, find_in, &f);
		snprintf(f.dir, sizeof(f.dir), "%s/failed", base);
		if (ret >= 0)
			ret = dg_store_list(arch, f.dir, find_in, &f);
	}
	dg_store_free(arch);
	return ret < 0 ? ret : f.found;
}
