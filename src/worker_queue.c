/*
 * worker_queue.c - what a worker's step does to the queue besides
 * claiming (worker_step.h): it moves flat submissions into their lanes,
 * shards and submitter groups (intake), and answers cancel requests for
 * tasks that are queued or have ended (cancel.h).
 */
#include "cancel.h"
#include "layout.h"
#include "log.h"
#include "tasksign.h"
#include "worker_step.h"

/* cancel requests of queued or ended tasks answered per step */
#define CANCELS_PER_STEP 64
/* flat submissions moved into their shards per step (protocol 3) */
#define INTAKE_PER_STEP 500
/* commits back a step looks for the authors of the submissions it takes in */
#define ADDED_BY_COMMITS 1000

/*
 * Cancel requests (cancel.h): a queued task ends "cancelled" now; a request
 * for a task that is neither queued nor running has been answered by its
 * end and is removed. A running task's request is its worker's to act on.
 */
int step_cancel_one(const char *id, void *payload)
{
	struct step *s = payload;
	struct dg_strbuf path = DG_STRBUF_INIT, reason = DG_STRBUF_INIT;
	int ret = 0;

	if (s->cancelled >= CANCELS_PER_STEP)
		return 0;
	if (dg_layout_find_task(s->txn, DG_DIR_QUEUE, id, &path) == 0) {
		dg_cancel_requested(s->txn, id, &reason);
		ret = dg_cancel_queued(s->txn, id, path.buf, s->w->me, reason.buf, step_protocol(s));
		dg_log(DG_LOG_INFO, "node=%s task=%s event=cancelled started=0 reason=\"%s\"", s->w->me, id, reason.buf);
		dg_strbuf_addf(&s->msg, " cancel %s", id);
		s->cancelled++;
	} else if (dg_layout_find_task(s->txn, DG_DIR_RUNNING, id, &path) < 0) {
		ret = dg_cancel_clear(s->txn, id);
		dg_strbuf_addf(&s->msg, " drop cancel %s (ended)", id);
		s->cancelled++;
	}
	dg_strbuf_release(&path);
	dg_strbuf_release(&reason);
	return ret;
}

/*
 * Intake (protocol 3): moves flat submissions tasks/queue/ID.json into
 * their shards, bytes unchanged, so the flat directory every submission
 * and claim rewrites stays small. A file whose id is queued in its shard
 * already is a duplicate and is rejected rather than overwritten.
 */
static bool is_queued_elsewhere(struct step *s, const char *id, const char *path)
{
	struct dg_strbuf found = DG_STRBUF_INIT;
	bool elsewhere = dg_layout_find_task(s->txn, DG_DIR_QUEUE, id, &found) == 0 && strcmp(found.buf, path);

	dg_strbuf_release(&found);
	return elsewhere;
}

int step_intake(struct step *s)
{
	struct dg_strbuf to = DG_STRBUF_INIT, data = DG_STRBUF_INIT, id = DG_STRBUF_INIT;
	struct dg_strbuf dup = DG_STRBUF_INIT;
	char **authors = NULL;
	int ret = 0;

	/* fair share: each submission goes to the group of the author of the commit that added it */
	if (s->w->policy.fair_share && s->pick.flat_nr) {
		authors = dg_xcalloc(s->pick.flat_nr + 1, sizeof(*authors));
		if ((ret = dg_txn_added_by(s->txn, (const char *const *)s->pick.flat, s->pick.flat_nr,
					   ADDED_BY_COMMITS, authors)) < 0)
			goto out;
	}

	for (size_t i = 0; i < s->pick.flat_nr && s->intaken < INTAKE_PER_STEP && !ret; i++) {
		const char *from = s->pick.flat[i], *name = step_base_name(from);
		struct dg_task t = DG_TASK_INIT;

		if (!dg_txn_exists(s->txn, from))   /* claimed or rejected in this step */
			continue;
		dg_strbuf_reset(&id);
		dg_strbuf_reset(&to);
		dg_strbuf_reset(&data);
		dg_strbuf_add(&id, name, strlen(name) - 5);
		/* the lane of its priority; a file past this step's rejections goes to the plain shards */
		if ((ret = dg_txn_read(s->txn, from, &data)) < 0)
			break;
		if (dg_task_parse(&t, data.buf, data.len, name, &dg_policy_loosest) < 0)
			dg_task_release(&t);
		if (!t.task_id)
			t.task_id = dg_xstrdup(id.buf);
		if (authors) {
			char group[DG_GROUP_NAME_LEN + 1];

			if (!t.doc)
				t.doc = json_object();
			dg_layout_group_of(group, authors[i] ? authors[i] : "unknown");
			json_object_set_new(t.doc, "queue_group", json_string(group));
		}
		dg_layout_queue_path(&to, &t, step_protocol(s));
		dg_task_release(&t);
		/* the same id queued elsewhere (any lane), or claimed (in this step, too) */
		if (is_queued_elsewhere(s, id.buf, from) ||
		    dg_layout_find_task(s->txn, DG_DIR_RUNNING, id.buf, &dup) == 0) {
			if (s->rejected < REJECTS_PER_STEP)
				ret = step_reject(s, from, "a task with this id is queued or running already; "
					     "submit it again with a new id");
			continue;
		}
		if ((ret = dg_txn_remove(s->txn, from)) < 0 ||
		    (ret = dg_txn_write(s->txn, to.buf, data.buf, data.len)) < 0 ||
		    (ret = dg_tasksign_move(s->txn, from, to.buf)) < 0)
			break;
		s->intaken++;
	}
	if (s->intaken)
		dg_strbuf_addf(&s->msg, " intake %u", s->intaken);
out:
	for (size_t i = 0; authors && i < s->pick.flat_nr; i++)
		free(authors[i]);
	free(authors);
	dg_strbuf_release(&to);
	dg_strbuf_release(&data);
	dg_strbuf_release(&id);
	dg_strbuf_release(&dup);
	return ret;
}

