/*
 * store_window.c - dg_store_count_since (store_window.h): a walk back from
 * the tip that stops at the window's edge on every path.
 */
#include "store_int.h"
#include "store_window.h"

/* The commits seen: an open-addressed set of oids, grown at half full. */
struct seen {
	git_oid *slot;
	bool *used;
	size_t cap, nr;
};

static size_t oid_hash(const git_oid *id, size_t cap)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	return h & (cap - 1);
}

static void seen_put(struct seen *s, const git_oid *id);

static void seen_grow(struct seen *s)
{
	struct seen bigger = { NULL, NULL, s->cap ? s->cap * 2 : 256, 0 };

	bigger.slot = dg_xcalloc(bigger.cap, sizeof(*bigger.slot));
	bigger.used = dg_xcalloc(bigger.cap, sizeof(*bigger.used));
	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i])
			seen_put(&bigger, &s->slot[i]);
	free(s->slot);
	free(s->used);
	*s = bigger;
}

static void seen_put(struct seen *s, const git_oid *id)
{
	size_t i;

	if (2 * (s->nr + 1) > s->cap)
		seen_grow(s);
	for (i = oid_hash(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		;
	git_oid_cpy(&s->slot[i], id);
	s->used[i] = true;
	s->nr++;
}

/* Was id seen? If not, it is now. */
static bool seen_check(struct seen *s, const git_oid *id)
{
	for (size_t i = s->cap ? oid_hash(id, s->cap) : 0; s->cap && s->used[i]; i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->slot[i], id))
			return true;
	seen_put(s, id);
	return false;
}

/* Is id a commit small enough to load (header only)? */
static bool commit_fits(git_odb *odb, const git_oid *id, size_t limit)
{
	git_object_t type;
	size_t size = 0;

	return !git_odb_read_header(&size, &type, odb, id) && type == GIT_OBJECT_COMMIT && size <= limit;
}

int dg_store_count_since(struct dg_store_window *out, struct dg_store *store, int64_t since,
			 size_t max)
{
	struct seen seen = { NULL, NULL, 0, 0 };
	git_oid *todo = NULL;
	size_t todo_nr = 0, todo_alloc = 0;
	git_odb *odb = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!store->has_tip)
		return 0;
	if (git_repository_odb(&odb, store->repo) < 0) {
		ret = store_git_fail(store, DG_ERROR, "cannot walk history");
		goto out;
	}
	DG_ALLOC_GROW(todo, todo_nr + 1, todo_alloc);
	git_oid_cpy(&todo[todo_nr++], &store->tip);
	while (todo_nr) {
		git_oid id = todo[--todo_nr];
		git_commit *c = NULL;
		int64_t when;

		if (seen_check(&seen, &id))
			continue;
		if (out->commits >= max) {
			out->capped = true;
			break;
		}
		if (!commit_fits(odb, &id, store->opts.max_blob)) {
			out->reached = true;
			continue;
		}
		if (git_commit_lookup(&c, store->repo, &id) < 0) {
			ret = store_git_fail(store, DG_ERROR, "cannot walk history");
			goto out;
		}
		when = (int64_t)git_commit_time(c);
		if (when < since) {
			out->reached = true;
		} else {
			out->commits++;
			if (!out->oldest || when < out->oldest)
				out->oldest = when;
			for (unsigned i = 0; i < git_commit_parentcount(c); i++) {
				DG_ALLOC_GROW(todo, todo_nr + 1, todo_alloc);
				git_oid_cpy(&todo[todo_nr++], git_commit_parent_id(c, i));
			}
		}
		git_commit_free(c);
	}
out:
	free(todo);
	free(seen.slot);
	free(seen.used);
	git_odb_free(odb);
	return ret;
}
