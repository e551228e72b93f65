/*
 * store_txn.c - transactions: edits queued in memory, one commit, published
 * with compare-and-swap, re-run on a moved tip with jittered backoff.
 */
#include "error.h"
#include "log.h"
#include "store_int.h"

#include <time.h>

struct txn_edit {
	char *path;
	bool remove;
	git_oid blob;
};

struct dg_txn {
	struct dg_store *store;
	git_tree *base;                 /* NULL for an empty branch */
	struct txn_edit *edits;
	size_t edits_nr, edits_alloc;
	/* path -> edit index + 1 (0: free), open addressing: a migration edits thousands */
	size_t *slots;
	size_t slots_nr;                /* a power of two, at least twice edits_nr */
	struct dg_strbuf message;
	char base_hex[41];
	/* dg_txn_side: a side ref that rides on the push */
	char *side_name, *side_path;
	struct dg_strbuf side_data;
	bool side_remove;
};

/* ---------------------------------------------------------------- txn API */

static size_t path_hash(const char *path)
{
	size_t h = 14695981039346656037u;   /* FNV-1a */

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 1099511628211u;
	return h;
}

/* The slot of path: where it is, or the free one where it would go. */
static size_t *slot_of(const struct dg_txn *txn, const char *path)
{
	size_t mask = txn->slots_nr - 1, i = path_hash(path) & mask;

	while (txn->slots[i] && strcmp(txn->edits[txn->slots[i] - 1].path, path))
		i = (i + 1) & mask;
	return &txn->slots[i];
}

static void rehash(struct dg_txn *txn)
{
	free(txn->slots);
	txn->slots_nr = txn->slots_nr ? txn->slots_nr * 2 : 64;
	txn->slots = dg_xcalloc(txn->slots_nr, sizeof(*txn->slots));
	for (size_t i = 0; i < txn->edits_nr; i++)
		*slot_of(txn, txn->edits[i].path) = i + 1;
}

static struct txn_edit *find_edit(struct dg_txn *txn, const char *path)
{
	size_t *slot;

	if (!txn->slots_nr)
		return NULL;
	slot = slot_of(txn, path);
	return *slot ? &txn->edits[*slot - 1] : NULL;
}

static struct txn_edit *add_edit(struct dg_txn *txn, const char *path)
{
	struct txn_edit *e = find_edit(txn, path);

	if (e)
		return e;
	if (2 * (txn->edits_nr + 1) > txn->slots_nr)
		rehash(txn);
	DG_ALLOC_GROW(txn->edits, txn->edits_nr + 1, txn->edits_alloc);
	e = &txn->edits[txn->edits_nr++];
	memset(e, 0, sizeof(*e));
	e->path = dg_xstrdup(path);
	*slot_of(txn, path) = txn->edits_nr;
	return e;
}

int dg_txn_read(struct dg_txn *txn, const char *path, struct dg_strbuf *out)
{
	struct txn_edit *e = find_edit(txn, path);
	git_blob *blob = NULL;

	if (!e)
		return store_tree_read(txn->store, txn->base, path, out);
	if (e->remove) {
		dg_error_set("'%s' does not exist", path);
		return DG_ENOTFOUND;
	}
	if (git_blob_lookup(&blob, txn->store->repo, &e->blob) < 0)
		return store_git_fail(txn->store, -1, "cannot read blob");
	dg_strbuf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 0;
}

static bool base_has(struct dg_txn *txn, const char *path)
{
	git_tree_entry *entry = NULL;
	bool found = txn->base && git_tree_entry_bypath(&entry, txn->base, path) == 0;

	git_tree_entry_free(entry);
	return found;
}

bool dg_txn_exists(struct dg_txn *txn, const char *path)
{
	struct txn_edit *e = find_edit(txn, path);

	return e ? !e->remove : base_has(txn, path);
}

int dg_txn_list(struct dg_txn *txn, const char *dir, dg_list_cb cb, void *payload)
{
	return store_tree_list(txn->store, txn->base, dir, cb, payload);
}

int dg_txn_tree_id(struct dg_txn *txn, const char *dir, char id[41])
{
	return store_tree_dir_id(txn->base, dir, id);
}

bool dg_txn_touched(struct dg_txn *txn, const char *path)
{
	return find_edit(txn, path) != NULL;
}

int dg_txn_write(struct dg_txn *txn, const char *path, const void *data, size_t len)
{
	git_oid oid;
	struct txn_edit *e;

	if (git_blob_create_from_buffer(&oid, txn->store->repo, data, len) < 0)
		return store_git_fail(txn->store, -1, "cannot write blob");
	e = add_edit(txn, path);
	e->remove = false;
	e->blob = oid;
	return 0;
}

int dg_txn_remove(struct dg_txn *txn, const char *path)
{
	struct txn_edit *e = find_edit(txn, path);

	if (e ? e->remove : !base_has(txn, path)) {
		dg_error_set("'%s' does not exist", path);
		return DG_ENOTFOUND;
	}
	e = add_edit(txn, path);
	e->remove = true;
	return 0;
}

int dg_txn_move(struct dg_txn *txn, const char *from, const char *to)
{
	struct txn_edit *e = find_edit(txn, from);
	git_tree_entry *entry = NULL;
	git_oid blob;

	if (e && !e->remove) {
		blob = e->blob;
	} else if (!e && txn->base && git_tree_entry_bypath(&entry, txn->base, from) == 0 &&
		   git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
		blob = *git_tree_entry_id(entry);
	} else {
		git_tree_entry_free(entry);
		dg_error_set("'%s' does not exist", from);
		return DG_ENOTFOUND;
	}
	git_tree_entry_free(entry);
	if (dg_txn_exists(txn, to)) {
		dg_error_set("cannot move '%s': '%s' exists", from, to);
		return DG_ECONFLICT;
	}
	e = add_edit(txn, to);
	e->remove = false;
	e->blob = blob;
	e = add_edit(txn, from);
	e->remove = true;
	return 0;
}

int dg_txn_side(struct dg_txn *txn, const char *name, const char *path, const void *data, size_t len)
{
	char ref[300];

	snprintf(ref, sizeof(ref), "refs/dgrid/%s", name);
	if (git_reference_is_valid_name(ref) != 1 || (data && (!path || !*path || strchr(path, '/')))) {
		dg_error_set("invalid side ref '%s' or file '%s'", name, path ? path : "");
		return DG_EINVALID;
	}
	free(txn->side_name);
	free(txn->side_path);
	dg_strbuf_release(&txn->side_data);
	txn->side_name = dg_xstrdup(name);
	txn->side_path = data ? dg_xstrdup(path) : NULL;
	txn->side_remove = !data;
	if (data)
		dg_strbuf_add(&txn->side_data, data, len);
	return 0;
}

bool dg_txn_has_side(const struct dg_txn *txn)
{
	return txn->side_name != NULL;
}

void dg_txn_message(struct dg_txn *txn, const char *fmt, ...)
{
	va_list ap;

	dg_strbuf_reset(&txn->message);
	va_start(ap, fmt);
	dg_strbuf_vaddf(&txn->message, fmt, ap);
	va_end(ap);
}

const char *dg_txn_base(const struct dg_txn *txn)
{
	return txn->base_hex;
}

static void txn_release(struct dg_txn *txn)
{
	for (size_t i = 0; i < txn->edits_nr; i++)
		free(txn->edits[i].path);
	free(txn->edits);
	free(txn->slots);
	git_tree_free(txn->base);
	dg_strbuf_release(&txn->message);
	free(txn->side_name);
	free(txn->side_path);
	dg_strbuf_release(&txn->side_data);
	memset(txn, 0, sizeof(*txn));
}

/* ---------------------------------------------------------------- commit */

static int make_commit(struct dg_store *store, struct dg_txn *txn, git_oid *out)
{
	git_tree_update *updates = NULL;
	git_oid tree_oid;
	git_tree *tree = NULL, *empty = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	const git_commit *parents[1];
	int ret = DG_ERROR;

	updates = dg_xcalloc(txn->edits_nr, sizeof(*updates));
	for (size_t i = 0; i < txn->edits_nr; i++) {
		updates[i].action = txn->edits[i].remove ? GIT_TREE_UPDATE_REMOVE : GIT_TREE_UPDATE_UPSERT;
		updates[i].id = txn->edits[i].blob;
		updates[i].filemode = GIT_FILEMODE_BLOB;
		updates[i].path = txn->edits[i].path;
	}
	if (!txn->base) {
		git_treebuilder *tb = NULL;
		git_oid empty_oid;
		if (git_treebuilder_new(&tb, store->repo, NULL) < 0 ||
		    git_treebuilder_write(&empty_oid, tb) < 0 ||
		    git_tree_lookup(&empty, store->repo, &empty_oid) < 0) {
			git_treebuilder_free(tb);
			ret = store_git_fail(store, -1, "cannot build empty tree");
			goto out;
		}
		git_treebuilder_free(tb);
	}
	if (git_tree_create_updated(&tree_oid, store->repo, txn->base ? txn->base : empty,
				    txn->edits_nr, updates) < 0 ||
	    git_tree_lookup(&tree, store->repo, &tree_oid) < 0) {
		ret = store_git_fail(store, -1, "cannot build tree");
		goto out;
	}
	if (store->has_tip && git_commit_lookup(&parent, store->repo, &store->tip) < 0) {
		ret = store_git_fail(store, -1, "cannot read tip commit");
		goto out;
	}
	if (git_signature_now(&sig, store->author, "dgrid@localhost") < 0) {
		ret = store_git_fail(store, -1, "cannot make signature");
		goto out;
	}
	parents[0] = parent;
	if (git_commit_create(out, store->repo, NULL, sig, sig, NULL,
			      txn->message.len ? txn->message.buf : "dgrid: update",
			      tree, parent ? 1 : 0, parents) < 0) {
		ret = store_git_fail(store, -1, "cannot create commit");
		goto out;
	}
	ret = 0;
out:
	free(updates);
	git_tree_free(tree);
	git_tree_free(empty);
	git_commit_free(parent);
	git_signature_free(sig);
	return ret;
}

static int publish(struct dg_store *store, const git_oid *commit, const struct dg_txn *txn,
		   struct dg_txn_stats *stats)
{
	struct store_rider rider, *with = NULL;
	git_reference *r = NULL;
	int ret;

	if (txn->side_name) {
		memset(&rider, 0, sizeof(rider));
		snprintf(rider.ref, sizeof(rider.ref), "refs/dgrid/%s", txn->side_name);
		snprintf(rider.local_ref, sizeof(rider.local_ref), "refs/remotes/dgrid/%s", txn->side_name);
		rider.remove = txn->side_remove;
		if (!rider.remove && (ret = store_side_commit(store, txn->side_name, txn->side_path, txn->side_data.buf,
							      txn->side_data.len, &rider.commit)) < 0)
			return ret;
		with = &rider;
	}
	if (store->local)
		ret = store_publish_local(store, store->branch_ref, commit, false, with);
	else
		ret = store_publish_remote(store, "refs/dgrid-txn/branch", store->branch_ref, commit, false, with);
	if (with) {
		stats->side_published = stats->side_published || rider.published;
	}
	if (ret < 0 || store->local)
		return ret;
	/* the remote now has our commit: make it the known tip */
	if (git_reference_create(&r, store->repo, store->tracking_ref, commit, 1, NULL) < 0)
		return store_git_fail(store, -1, "cannot record pushed tip");
	git_reference_free(r);
	return 0;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void backoff(struct dg_store *store, unsigned attempt)
{
	/* full jitter: uniform in [0, min(cap, 10 ms * 2^attempt)] */
	unsigned cap = 10u << (attempt < 10 ? attempt : 10);

	if (cap > store->opts.backoff_max_ms)
		cap = store->opts.backoff_max_ms;
	sleep_ms(arc4random_uniform(cap + 1));
}

/*
 * The server declined a push. If the branch still is where this attempt
 * started, nobody won a race: it is a refusal (a hook, protection, a host
 * throttling us), counted apart and retried only a few times, with
 * exponential backoff, in case the host was having a bad moment.
 * Returns DG_ECONFLICT for a race (retry now), 0 to retry a refusal,
 * DG_EREFUSED to give up, or the fetch's error.
 */
static int classify_refusal(struct dg_store *store, const char *base_hex,
			    struct dg_txn_stats *stats)
{
	char *why = dg_xstrdup(dg_error_last());
	int ret;

	if ((ret = dg_store_fetch(store)) < 0)
		goto out;
	if (strcmp(store->tip_hex, base_hex)) {
		ret = DG_ECONFLICT;
		goto out;
	}
	stats->refused++;
	if (stats->refused >= store->opts.max_refusals) {
		dg_error_set("%s", why);
		ret = DG_EREFUSED;
		goto out;
	}
	/* 100 ms, 200 ms, 400 ms ... with jitter, capped at 5 s */
	uint32_t cap = 100u << (stats->refused < 6 ? stats->refused - 1 : 5);
	sleep_ms(cap / 2 + arc4random_uniform(cap / 2 + 1));
	ret = 0;
out:
	free(why);
	return ret;
}

void dg_store_set_max_attempts(struct dg_store *store, unsigned attempts)
{
	if (attempts)
		store->opts.max_attempts = attempts;
}

void dg_store_set_max_lost_at_host(struct dg_store *store, unsigned lost)
{
	store->max_lost_at_host = lost;
}

int dg_store_transact(struct dg_store *store, dg_txn_fn fn, void *payload,
		      struct dg_txn_stats *stats)
{
	struct dg_txn_stats local_stats;
	struct dg_txn txn;
	int ret = DG_ECONFLICT;
	bool fresh = false;           /* classify_refusal fetched just now */

	if (!stats)
		stats = &local_stats;
	memset(stats, 0, sizeof(*stats));
	for (unsigned attempt = 1; attempt <= store->opts.max_attempts; attempt++) {
		git_oid commit;

		/* a refused publication means the known tip is old: fetch first */
		if (!fresh && (attempt > 1 || store->local || store->stale)) {
			if ((ret = dg_store_fetch(store)) < 0)
				return ret;
		}
		fresh = false;
		memset(&txn, 0, sizeof(txn));
		txn.store = store;
		dg_strbuf_init(&txn.message, 0);
		snprintf(txn.base_hex, sizeof(txn.base_hex), "%s", store->tip_hex);
		if ((ret = store_tip_tree(store, &txn.base)) < 0)
			goto out;
		stats->attempts++;
		ret = fn(&txn, payload);
		if (ret == 1 || (ret == 0 && !txn.edits_nr)) {
			ret = 0;
			goto out;
		}
		if (ret < 0)
			goto out;
		if ((ret = make_commit(store, &txn, &commit)) < 0)
			goto out;
		ret = publish(store, &commit, &txn, stats);
		if (ret == DG_EREFUSED) {
			ret = classify_refusal(store, txn.base_hex, stats);
			fresh = ret == 0 || ret == DG_ECONFLICT;
			if (ret == 0) {
				txn_release(&txn);
				continue;
			}
			if (ret != DG_ECONFLICT)
				goto out;
			/* the tip moved: an ordinary lost race, and already fetched */
			stats->rejected++;
			/* the pack reached the host, which counts the push (a push budget does) */
			stats->lost_at_host++;
			txn_release(&txn);
			if (store->max_lost_at_host && stats->lost_at_host >= store->max_lost_at_host) {
				dg_error_set("gave up after %u push%s that the host refused: the branch moved",
					     stats->lost_at_host, stats->lost_at_host == 1 ? "" : "es");
				return DG_ECONFLICT;
			}
			backoff(store, attempt);
			continue;
		}
		if (ret == 0) {
			stats->committed = true;
			stats->bytes_pushed = store->push_bytes;
			git_oid_tostr(stats->commit, sizeof(stats->commit), &commit);
			store->tip = commit;
			store->has_tip = true;
			git_oid_tostr(store->tip_hex, sizeof(store->tip_hex), &commit);
			goto out;
		}
		if (ret != DG_ECONFLICT)
			goto out;
		stats->rejected++;
		store->stale = true;
		txn_release(&txn);
		backoff(store, attempt);
	}
	dg_error_set("gave up after %u attempts: the branch kept moving", store->opts.max_attempts);
	return DG_ECONFLICT;
out:
	txn_release(&txn);
	return ret;
}


/* ---------------------------------------------------------------- authors */

static bool same_entry(git_tree *a, git_tree *b, const char *path)
{
	git_tree_entry *ea = NULL, *eb = NULL;
	bool same;

	if (!b || git_tree_entry_bypath(&eb, b, path) < 0)
		return false;
	same = git_tree_entry_bypath(&ea, a, path) == 0 && git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb));
	git_tree_entry_free(ea);
	git_tree_entry_free(eb);
	return same;
}

int dg_txn_added_by(struct dg_txn *txn, const char *const *paths, size_t n, size_t max,
		    char **authors)
{
	struct dg_store *store = txn->store;
	git_revwalk *walk = NULL;
	git_oid oid, base;
	size_t left = n;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		authors[i] = NULL;
	if (!txn->base || !n || git_oid_fromstr(&base, txn->base_hex) < 0)
		return 0;
	if (git_revwalk_new(&walk, store->repo) < 0 || git_revwalk_push(walk, &base) < 0) {
		ret = store_git_fail(store, -1, "cannot walk history");
		goto out;
	}
	git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
	for (size_t k = 0; k < max && left && !git_revwalk_next(&oid, walk); k++) {
		git_commit *c = NULL, *parent = NULL;
		git_tree *tree = NULL, *ptree = NULL;

		if (git_commit_lookup(&c, store->repo, &oid) < 0 || git_commit_tree(&tree, c) < 0) {
			git_commit_free(c);
			break;
		}
		if (git_commit_parentcount(c) > 0 && git_commit_parent(&parent, c, 0) == 0)
			git_commit_tree(&ptree, parent);
		for (size_t i = 0; i < n; i++) {
			git_tree_entry *e = NULL;
			const git_signature *sig;

			if (authors[i] || git_tree_entry_bypath(&e, tree, paths[i]) < 0)
				continue;
			git_tree_entry_free(e);
			if (same_entry(tree, ptree, paths[i]))
				continue;   /* there before this commit: an older one added it */
			sig = git_commit_author(c);
			authors[i] = dg_xasprintf("%s <%s>", sig && sig->name ? sig->name : "",
						  sig && sig->email ? sig->email : "");
			left--;
		}
		git_tree_free(ptree);
		git_tree_free(tree);
		git_commit_free(parent);
		git_commit_free(c);
	}
out:
	git_revwalk_free(walk);
	return ret;
}
