/*
 * worker_replicas.c - the tasks whose replicas this node ran and what
 * their quorum said of it, kept beside the spool (worker_int.h, replica.h).
 */
#include "error.h"
#include "fs.h"
#include "jsonio.h"
#include "log.h"
#include "replica.h"
#include "worker_int.h"

#define REPLICA_MEMORY 1024   /* tasks remembered, newest last */
#define VERDICTS_PER_DRAW 64  /* undecided verdicts looked up before one draw */

void dg_worker_replicas_load(struct worker *w, const char *spool_dir)
{
	struct dg_strbuf text = DG_STRBUF_INIT;
	char *path = dg_xasprintf("%s.replicas", spool_dir);
	json_t *doc, *e;
	size_t i;

	if (dg_strbuf_read_file(&text, path, 1 << 20) < 0)
		goto out;   /* none yet */
	doc = json_loadb(text.buf, text.len, 0, NULL);
	json_array_foreach(json_object_get(doc, "replicas"), i, e) {
		const char *task = json_string_value(json_array_get(e, 0));

		if (task)
			dg_worker_replicas_remember(w, task, (signed char)json_integer_value(json_array_get(e, 1)));
	}
	json_decref(doc);
out:
	w->replica_file = path;   /* from now on, each change is saved */
	dg_strbuf_release(&text);
}

static void save(struct worker *w)
{
	json_t *list = json_array(), *doc;
	struct dg_strbuf out = DG_STRBUF_INIT;
	char *dir = dg_xstrdup(w->replica_file), *slash = strrchr(dir, '/');

	for (size_t i = 0; i < w->replica_tasks_nr; i++)
		json_array_append_new(list, json_pack("[s, i]", w->replica_tasks[i], (int)w->replica_verdicts[i]));
	doc = json_pack("{s:o}", "replicas", list);
	dg_json_dump(&out, doc);
	if (slash) {
		*slash = '\0';
		if (dg_fs_write(dir, slash + 1, out.buf, out.len) < 0)
			dg_log(DG_LOG_WARNING, "node=%s event=replica-record-unsaved error=\"%s\"", w->me, dg_error_last());
	}
	json_decref(doc);
	dg_strbuf_release(&out);
	free(dir);
}

void dg_worker_replicas_remember(struct worker *w, const char *task, signed char verdict)
{
	if (w->replica_tasks_nr >= REPLICA_MEMORY) {
		free(w->replica_tasks[0]);
		w->replica_tasks_nr--;
		memmove(w->replica_tasks, w->replica_tasks + 1, w->replica_tasks_nr * sizeof(*w->replica_tasks));
		memmove(w->replica_verdicts, w->replica_verdicts + 1, w->replica_tasks_nr);
	}
	if (w->replica_tasks_nr + 1 > w->replica_tasks_alloc) {
		DG_ALLOC_GROW(w->replica_tasks, w->replica_tasks_nr + 1, w->replica_tasks_alloc);
		w->replica_verdicts = dg_xrealloc(w->replica_verdicts, w->replica_tasks_alloc);
	}
	w->replica_tasks[w->replica_tasks_nr] = dg_xstrdup(task);
	w->replica_verdicts[w->replica_tasks_nr++] = verdict;
	if (w->replica_file)
		save(w);
}

bool dg_worker_replicas_alone(struct worker *w, struct dg_txn *txn)
{
	unsigned looked = 0, streak;
	bool changed = false, alone;

	/* newest first: they decide the streak */
	for (size_t i = w->replica_tasks_nr; i-- > 0 && looked < VERDICTS_PER_DRAW;) {
		signed char v;

		if (w->replica_verdicts[i] != DG_REPLICA_UNDECIDED)
			continue;
		looked++;
		if (dg_replica_verdict(txn, w->replica_tasks[i], w->me, &v) == 0 && v != DG_REPLICA_UNDECIDED) {
			w->replica_verdicts[i] = v;
			changed = true;
		}
	}
	if (changed)
		save(w);
	streak = dg_replica_streak(w->replica_verdicts, w->replica_tasks_nr);
	alone = dg_replica_alone(streak, w->policy.adaptive_replication);
	dg_log(DG_LOG_INFO, "node=%s event=adaptive-replication streak=%u k=%u alone=%d", w->me, streak,
	       w->policy.adaptive_replication, alone);
	return alone;
}

void dg_worker_replicas_release(struct worker *w)
{
	for (size_t i = 0; i < w->replica_tasks_nr; i++)
		free(w->replica_tasks[i]);
	free(w->replica_tasks);
	free(w->replica_verdicts);
	free(w->replica_file);
}
