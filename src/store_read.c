/*
 * store_read.c - reading the known tip (files, directories, history), and
 * the side refs that keep heartbeats out of the branch (writing and reading).
 */
#include "error.h"
#include "log.h"
#include "store_int.h"

/* ---------------------------------------------------------------- reading */

int store_tip_tree(struct dg_store *store, git_tree **out)
{
	git_commit *commit = NULL;
	int err;

	*out = NULL;
	if (!store->has_tip)
		return 0;
	err = git_commit_lookup(&commit, store->repo, &store->tip);
	if (!err)
		err = git_commit_tree(out, commit);
	git_commit_free(commit);
	return err < 0 ? store_git_fail(store, err, "cannot read tip") : 0;
}

/* 1234567 -> "1,234,567": sizes in messages are read by people */
static const char *group_digits(char buf[32], size_t n)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%zu", n);
	size_t o = 0;

	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* Is oid an object of this type and at most limit bytes (header only)? */
static bool object_fits(struct dg_store *store, const git_oid *id, git_object_t want, size_t limit)
{
	git_odb *odb = NULL;
	git_object_t type;
	size_t size = 0;
	bool fits = !git_repository_odb(&odb, store->repo) &&
		    !git_odb_read_header(&size, &type, odb, id) && type == want && size <= limit;

	git_odb_free(odb);
	return fits;
}

/*
 * The object header holds the size: checking it first means a hostile
 * 150 MB blob costs a few bytes of inflation, not 150 MB of memory.
 */
int store_blob_read(struct dg_store *store, const git_oid *id, size_t limit,
		    const char *what, struct dg_strbuf *out)
{
	git_odb *odb = NULL;
	git_blob *blob = NULL;
	git_object_t type;
	size_t size = 0;
	char a[32], b[32];
	int err, ret = DG_ERROR;

	err = git_repository_odb(&odb, store->repo);
	if (!err)
		err = git_odb_read_header(&size, &type, odb, id);
	if (err < 0) {
		ret = store_git_fail(store, err, "cannot read object header");
		goto out;
	}
	if (type != GIT_OBJECT_BLOB) {
		dg_error_set("'%s' is not a file", what);
		ret = DG_EINVALID;
		goto out;
	}
	if (size > limit) {
		dg_error_set("'%s' is %s bytes, limit %s", what, group_digits(a, size),
			     group_digits(b, limit));
		ret = DG_EINVALID;
		goto out;
	}
	err = git_blob_lookup(&blob, store->repo, id);
	if (err < 0) {
		ret = store_git_fail(store, err, "cannot read blob");
		goto out;
	}
	dg_strbuf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	ret = 0;
out:
	git_blob_free(blob);
	git_odb_free(odb);
	return ret;
}

int store_tree_read(struct dg_store *store, git_tree *tree, const char *path, struct dg_strbuf *out)
{
	git_tree_entry *entry = NULL;
	int ret = DG_ERROR;

	if (!tree || git_tree_entry_bypath(&entry, tree, path) < 0) {
		dg_error_set("'%s' does not exist", path);
		return DG_ENOTFOUND;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		dg_error_set("'%s' is not a file", path);
		ret = DG_EINVALID;
		goto out;
	}
	ret = store_blob_read(store, git_tree_entry_id(entry), store->opts.max_blob, path, out);
out:
	git_tree_entry_free(entry);
	return ret;
}

int store_tree_list(struct dg_store *store, git_tree *root, const char *dir,
		     dg_list_cb cb, void *payload)
{
	git_tree_entry *entry = NULL;
	git_tree *tree = NULL;
	int ret = 0;

	if (!root)
		return 0;
	if (dir && *dir) {
		if (git_tree_entry_bypath(&entry, root, dir) < 0 ||
		    git_tree_entry_type(entry) != GIT_OBJECT_TREE)
			goto out;
		if (git_tree_lookup(&tree, store->repo, git_tree_entry_id(entry)) < 0) {
			ret = store_git_fail(store, -1, "cannot read directory");
			goto out;
		}
	}
	git_tree *walk = tree ? tree : root;
	size_t n = git_tree_entrycount(walk);
	struct dg_strbuf path = DG_STRBUF_INIT;
	for (size_t i = 0; i < n && !ret; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(walk, i);
		git_filemode_t mode = git_tree_entry_filemode(e);
		dg_strbuf_reset(&path);
		if (dir && *dir)
			dg_strbuf_addf(&path, "%s/", dir);
		dg_strbuf_addstr(&path, git_tree_entry_name(e));
		struct dg_entry de = {
			.name = git_tree_entry_name(e),
			.path = path.buf,
			.is_file = mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE,
			.is_dir = mode == GIT_FILEMODE_TREE,
			.store_ = store,
			.id_ = git_tree_entry_id(e),
		};
		ret = cb(&de, payload);
	}
	dg_strbuf_release(&path);
out:
	git_tree_free(tree);
	git_tree_entry_free(entry);
	return ret;
}

size_t dg_entry_size(const struct dg_entry *e)
{
	git_odb *odb = NULL;
	git_object_t type;
	size_t len = 0;

	if (!e->is_file || !e->store_ || !e->id_)
		return 0;
	/* the object header holds the size without inflating the blob */
	if (git_repository_odb(&odb, e->store_->repo) || git_odb_read_header(&len, &type, odb, e->id_))
		len = 0;
	git_odb_free(odb);
	return len;
}

void dg_entry_id(const struct dg_entry *e, char out[41])
{
	out[0] = '\0';
	if (e->id_)
		git_oid_tostr(out, 41, e->id_);
}

int dg_store_read(struct dg_store *store, const char *path, struct dg_strbuf *out)
{
	git_tree *tree = NULL;
	int ret = store_tip_tree(store, &tree);

	if (!ret)
		ret = store_tree_read(store, tree, path, out);
	git_tree_free(tree);
	return ret;
}

int store_tree_dir_id(git_tree *root, const char *dir, char id[41])
{
	git_tree_entry *entry = NULL;
	int ret = DG_ENOTFOUND;

	if (root && git_tree_entry_bypath(&entry, root, dir) == 0 && git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
		git_oid_tostr(id, 41, git_tree_entry_id(entry));
		ret = 0;
	}
	git_tree_entry_free(entry);
	return ret;
}

int dg_store_tree_id(struct dg_store *store, const char *dir, char id[41])
{
	git_tree *tree = NULL;
	int ret = store_tip_tree(store, &tree);

	if (!ret)
		ret = store_tree_dir_id(tree, dir, id);
	git_tree_free(tree);
	return ret;
}

int dg_store_list(struct dg_store *store, const char *dir, dg_list_cb cb, void *payload)
{
	git_tree *tree = NULL;
	int ret = store_tip_tree(store, &tree);

	if (!ret)
		ret = store_tree_list(store, tree, dir, cb, payload);
	git_tree_free(tree);
	return ret;
}

int dg_store_history(struct dg_store *store, size_t max, dg_log_cb cb, void *payload)
{
	git_revwalk *walk = NULL;
	git_oid oid;
	int ret = 0;

	if (!store->has_tip)
		return 0;
	if (git_revwalk_new(&walk, store->repo) < 0 || git_revwalk_push(walk, &store->tip) < 0) {
		ret = store_git_fail(store, -1, "cannot walk history");
		goto out;
	}
	git_revwalk_sorting(walk, GIT_SORT_TIME);
	for (size_t n = 0; n < max && !ret && !git_revwalk_next(&oid, walk); n++) {
		git_commit *c = NULL;
		/* a commit is loaded whole: a hostile message must not be */
		if (!object_fits(store, &oid, GIT_OBJECT_COMMIT, store->opts.max_blob))
			continue;
		if (git_commit_lookup(&c, store->repo, &oid) < 0)
			break;
		const char *summary = git_commit_summary(c);
		ret = cb(git_commit_time(c), summary ? summary : "", payload);
		git_commit_free(c);
	}
out:
	git_revwalk_free(walk);
	return ret;
}

size_t dg_store_walk_since(struct dg_store *store, const char *since, size_t max, dg_log_cb cb, void *payload)
{
	git_revwalk *walk = NULL;
	git_oid old, oid;
	size_t n = 0;
	bool reached = false;

	if (!store->has_tip || !max)
		return 0;
	if (git_oid_fromstr(&old, since) < 0)
		return max;
	if (git_oid_equal(&old, &store->tip))
		return 0;
	if (git_revwalk_new(&walk, store->repo) < 0 || git_revwalk_push(walk, &store->tip) < 0) {
		git_revwalk_free(walk);
		return max;
	}
	while (n < max && !git_revwalk_next(&oid, walk)) {
		git_commit *c = NULL;

		if (git_oid_equal(&oid, &old)) {
			reached = true;
			break;
		}
		n++;
		/* a commit is loaded whole: a hostile message must not be */
		if (!object_fits(store, &oid, GIT_OBJECT_COMMIT, store->opts.max_blob) ||
		    git_commit_lookup(&c, store->repo, &oid) < 0)
			continue;
		const char *summary = git_commit_summary(c);
		cb(git_commit_time(c), summary ? summary : "", payload);
		git_commit_free(c);
	}
	git_revwalk_free(walk);
	return reached ? n : max;
}

/* ---------------------------------------------------------------- side refs */

int store_side_commit(struct dg_store *store, const char *name, const char *path,
		      const void *data, size_t len, git_oid *out)
{
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_oid blob, tree_oid;
	int ret = 0;

	if (git_blob_create_from_buffer(&blob, store->repo, data, len) < 0 ||
	    git_treebuilder_new(&tb, store->repo, NULL) < 0 ||
	    git_treebuilder_insert(NULL, tb, path, &blob, GIT_FILEMODE_BLOB) < 0 ||
	    git_treebuilder_write(&tree_oid, tb) < 0 ||
	    git_tree_lookup(&tree, store->repo, &tree_oid) < 0 ||
	    git_signature_now(&sig, store->author, "dgrid@localhost") < 0 ||
	    git_commit_create(out, store->repo, NULL, sig, sig, NULL, name, tree, 0, NULL) < 0)
		ret = store_git_fail(store, -1, "cannot build side commit");
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	return ret;
}

int dg_store_put_side(struct dg_store *store, const char *name, const char *path,
		      const void *data, size_t len)
{
	git_oid commit;
	char ref[300], local_ref[300];
	int ret;

	snprintf(ref, sizeof(ref), "refs/dgrid/%s", name);
	snprintf(local_ref, sizeof(local_ref), "refs/remotes/dgrid/%s", name);
	if (git_reference_is_valid_name(ref) != 1) {
		dg_error_set("invalid side ref name '%s'", name);
		return DG_EINVALID;
	}
	if ((ret = store_side_commit(store, name, path, data, len, &commit)) < 0)
		return ret;
	if (store->local)
		return store_publish_local(store, ref, &commit, true, NULL);
	return store_publish_remote(store, local_ref, ref, &commit, true, NULL);
}

struct side_walk {
	struct dg_store *store;
	const char *path;
	size_t skip;               /* length of the ref prefix to strip */
	dg_side_cb cb;
	void *payload;
};

static int side_one(git_reference *ref, void *payload)
{
	struct side_walk *w = payload;
	const char *name = git_reference_name(ref);
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	struct dg_strbuf data = DG_STRBUF_INIT;
	char *what = NULL;
	int ret = 0;

	/* a missing or malformed side ref is somebody else's problem: skip it */
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT ||
	    !object_fits(w->store, git_reference_target(ref), GIT_OBJECT_COMMIT, w->store->opts.max_side_blob) ||
	    git_commit_lookup(&commit, w->store->repo, git_reference_target(ref)) < 0 ||
	    git_commit_tree(&tree, commit) < 0 ||
	    git_tree_entry_bypath(&entry, tree, w->path) < 0 ||
	    git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		goto out;
	what = dg_xasprintf("refs/dgrid/%s:%s", name + w->skip, w->path);
	if (store_blob_read(w->store, git_tree_entry_id(entry), w->store->opts.max_side_blob,
			    what, &data) < 0) {
		/* one hostile heartbeat must not hide every other node */
		dg_log(DG_LOG_WARNING, "event=side-ref-skipped ref=%s error=\"%s\"", name + w->skip,
		       dg_error_last());
		goto out;
	}
	ret = w->cb(name + w->skip, git_commit_time(commit), data.buf, data.len, w->payload);
out:
	free(what);
	dg_strbuf_release(&data);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	git_reference_free(ref);
	return ret;
}

int dg_store_list_side(struct dg_store *store, const char *prefix, const char *path,
		       dg_side_cb cb, void *payload)
{
	const char *root = store->local ? "refs/dgrid/" : "refs/remotes/dgrid/";
	char *pattern = dg_xasprintf("%s%s*", root, prefix);
	struct side_walk w = { store, path, strlen(root), cb, payload };
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	int ret = 0;

	if (git_reference_iterator_glob_new(&it, store->repo, pattern) < 0) {
		free(pattern);
		return store_git_fail(store, -1, "cannot list side refs");
	}
	while (!ret && !git_reference_next(&ref, it))
		ret = side_one(ref, &w);
	git_reference_iterator_free(it);
	free(pattern);
	return ret;
}

