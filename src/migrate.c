#include "migrate.h"
#include "error.h"
#include "layout.h"
#include "log.h"
#include "tasksign.h"

#include <jansson.h>

/* the smallest batch a lost race shrinks to */
#define MIGRATE_BATCH_MIN 200
/* transactions given up on (each after max_attempts lost races) before failing */
#define MIGRATE_GIVE_UPS 5

struct migrate {
	size_t batch;
	unsigned runs;                  /* attempts of the current transaction */
	json_t *ids;                    /* path -> task id, read once across attempts */
	size_t moved;                   /* in this attempt */
	char **names;
	size_t names_nr, names_alloc;
	struct dg_txn *txn;
};

static void names_clear(struct migrate *m)
{
	for (size_t i = 0; i < m->names_nr; i++)
		free(m->names[i]);
	m->names_nr = 0;
}

static int collect(const struct dg_entry *e, void *payload)
{
	struct migrate *m = payload;
	size_t n = strlen(e->name);

	/* only flat files named like tasks or results; dot files stay */
	if (!e->is_file || e->name[0] == '.' || n <= 5 || strcmp(e->name + n - 5, ".json"))
		return 0;
	if (m->names_nr >= m->batch)
		return 1;
	DG_ALLOC_GROW(m->names, m->names_nr + 1, m->names_alloc);
	m->names[m->names_nr++] = dg_xstrdup(e->path);
	return 0;
}

/* The task id a flat result belongs to (see migrate.h). */
static void result_task(struct migrate *m, struct dg_txn *txn, const char *path, const char *name,
			struct dg_strbuf *id)
{
	struct dg_strbuf data = DG_STRBUF_INIT;
	json_t *doc;
	const char *t;

	if (dg_layout_result_task(name, id) == 0)
		return;
	if (json_object_get(m->ids, path)) {
		dg_strbuf_addstr(id, json_string_value(json_object_get(m->ids, path)));
		return;
	}
	if (dg_txn_read(txn, path, &data) == 0 &&
	    (doc = json_loadb(data.buf, data.len, 0, NULL)) != NULL) {
		t = json_string_value(json_object_get(doc, "task_id"));
		if (t && *t)
			dg_strbuf_addstr(id, t);
		json_decref(doc);
	}
	if (!id->len)
		dg_strbuf_add(id, name, strlen(name) - 5);
	json_object_set_new(m->ids, path, json_string(id->buf));
	dg_strbuf_release(&data);
}

/* Moves the flat file at path into the shard of task id, under a free name. */
static int move_one(struct migrate *m, const char *dir, const char *path, const char *id,
		    unsigned depth)
{
	const char *name = strrchr(path, '/') + 1;
	size_t stem = strlen(name) - 5;
	struct dg_strbuf to = DG_STRBUF_INIT;
	int ret = DG_ECONFLICT;

	for (unsigned k = 1; k < 1000 && ret == DG_ECONFLICT; k++) {
		dg_strbuf_reset(&to);
		dg_strbuf_addf(&to, "%s/", dir);
		dg_layout_shard(&to, id, depth);
		if (k == 1)
			dg_strbuf_addf(&to, "/%s", name);
		else
			dg_strbuf_addf(&to, "/%.*s~%u.json", (int)stem, name, k);
		ret = dg_txn_move(m->txn, path, to.buf);
	}
	/* a queued task's signature goes along (tasksign.h) */
	if (ret == 0)
		ret = dg_tasksign_move(m->txn, path, to.buf);
	dg_strbuf_release(&to);
	return ret;
}

static int move_dir(struct migrate *m, const char *dir, bool results)
{
	struct dg_strbuf id = DG_STRBUF_INIT;
	size_t first = m->names_nr;
	int ret = dg_txn_list(m->txn, dir, collect, m);

	if (ret < 0)
		return ret;
	for (size_t i = first; i < m->names_nr && ret >= 0; i++) {
		const char *path = m->names[i], *name = strrchr(path, '/') + 1;

		dg_strbuf_reset(&id);
		if (results)
			result_task(m, m->txn, path, name, &id);
		else
			dg_strbuf_add(&id, name, strlen(name) - 5);
		ret = move_one(m, dir, path, id.buf, results ? DG_RESULT_SHARD_DEPTH : DG_TASK_SHARD_DEPTH);
		if (ret == 0)
			m->moved++;
	}
	dg_strbuf_release(&id);
	return ret < 0 ? ret : 0;
}

static int migrate_fn(struct dg_txn *txn, void *payload)
{
	struct migrate *m = payload;
	int ret;

	m->txn = txn;
	m->moved = 0;
	names_clear(m);
	/*
	 * A re-run lost a race to a worker's push: a smaller commit is quicker
	 * to build and to send, so it has a better chance against busy workers.
	 */
	if (m->runs++ && m->batch / 2 >= MIGRATE_BATCH_MIN)
		m->batch /= 2;
	if ((ret = move_dir(m, DG_DIR_COMPLETED, true)) < 0 ||
	    (ret = move_dir(m, DG_DIR_FAILED, true)) < 0 ||
	    (ret = move_dir(m, DG_DIR_QUEUE, false)) < 0)
		return ret;
	if (!m->moved)
		return 1;
	dg_txn_message(txn, "migrate %zu flat files into shards (protocol %u)", m->moved,
		       DG_SHARDED_PROTOCOL);
	return 0;
}

int dg_migrate_flat(struct dg_store *store, size_t batch, struct dg_migrate_stats *st)
{
	struct migrate m = { .batch = batch ? batch : DG_MIGRATE_BATCH };
	struct dg_txn_stats ts;
	unsigned give_ups = 0;
	int ret;

	m.ids = json_object();
	do {
		m.runs = 0;
		ret = dg_store_transact(store, migrate_fn, &m, &ts);
		if (ret == DG_ECONFLICT && ++give_ups < MIGRATE_GIVE_UPS) {
			dg_log(DG_LOG_INFO, "event=migrate-contention batch=%zu", m.batch);
			m.moved = 1;   /* go on */
			continue;
		}
		if (ret < 0 || !ts.committed)
			break;
		if (m.runs == 1 && m.batch * 2 <= (batch ? batch : DG_MIGRATE_BATCH))
			m.batch *= 2;   /* won at once: the host is quiet again */
		if (st) {
			st->moved += m.moved;
			st->commits++;
			st->bytes_pushed += ts.bytes_pushed;
		}
		dg_log(DG_LOG_INFO, "event=migrated files=%zu commit=%.12s bytes=%zu", m.moved,
		       ts.commit, ts.bytes_pushed);
	} while (m.moved);
	names_clear(&m);
	free(m.names);
	json_decref(m.ids);
	return ret;
}
