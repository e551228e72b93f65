/*
 * store.c - see store.h. The transaction loop and reading; the two ways of
 * publishing a commit (push, local compare-and-swap) are at the bottom.
 */
#include "store.h"
#include "error.h"
#include "log.h"
#include "nettimer.h"

#include <fcntl.h>
#include <git2.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUTH_TRIES 2

struct dg_store {
	struct dg_store_opts opts;      /* strings below are owned copies */
	char *url, *branch, *token, *username, *ssh_key, *author;
	bool local;
	git_repository *repo;           /* the cache, or the local repository itself */
	git_remote *remote;             /* NULL for local */
	char *cache_path;
	int lock_fd;
	char tracking_ref[256];         /* where the known tip lives */
	char branch_ref[256];           /* refs/heads/<branch> */
	git_oid tip;
	bool has_tip;
	char tip_hex[41];
	/* per network operation */
	unsigned auth_tries;
	bool auth_failed;
	bool push_rejected;
	char push_status[256];
	size_t push_bytes;
	struct dg_nettimer timer;       /* inactivity timeout of network calls */
};

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
	struct dg_strbuf message;
	char base_hex[41];
};

/* ---------------------------------------------------------------- errors */

/* Records libgit2's last error, redacted, as ours; returns our code. */
static int git_fail(struct dg_store *store, int code, const char *what)
{
	const git_error *e = git_error_last();
	struct dg_strbuf msg = DG_STRBUF_INIT;
	int ret = DG_ERROR;

	dg_redact(&msg, e && e->message ? e->message : "unknown error");
	if (store && store->auth_failed) {
		dg_error_set("%s: authentication failed (the server refused the credentials%s)",
			     what, store->token ? " from GIT_TOKEN" : "; set GIT_TOKEN");
		ret = DG_EAUTH;
	} else if (code == GIT_EAUTH) {
		dg_error_set("%s: authentication required: %s", what, msg.buf);
		ret = DG_EAUTH;
	} else if (code == GIT_ENOTFOUND) {
		dg_error_set("%s: %s", what, msg.buf);
		ret = DG_ENOTFOUND;
	} else if (e && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_HTTP ||
			 e->klass == GIT_ERROR_SSH || e->klass == GIT_ERROR_OS ||
			 e->klass == GIT_ERROR_SSL)) {
		dg_error_set("%s: remote unreachable: %s", what, msg.buf);
		ret = DG_ENET;
	} else {
		dg_error_set("%s: %s", what, msg.buf);
	}
	dg_strbuf_release(&msg);
	return ret;
}

/* git_fail for network calls: a call our timer interrupted timed out. */
static int net_fail(struct dg_store *store, int code, const char *what)
{
	if (dg_nettimer_fired()) {
		dg_error_set("%s: remote unreachable: no answer for %u s", what, store->timer.ms / 1000);
		return DG_ENET;
	}
	return git_fail(store, code, what);
}

/* ------------------------------------------------------------ callbacks */

static int credentials_cb(git_credential **out, const char *url DG_UNUSED,
			  const char *username_from_url, unsigned int allowed, void *payload)
{
	struct dg_store *store = payload;

	if (++store->auth_tries > AUTH_TRIES) {
		store->auth_failed = true;
		git_error_set_str(GIT_ERROR_NET, "credentials refused");
		return GIT_EAUTH;
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && store->token)
		return git_credential_userpass_plaintext_new(out, store->username, store->token);
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *user = username_from_url ? username_from_url : "git";
		if (store->ssh_key)
			return git_credential_ssh_key_new(out, user, NULL, store->ssh_key, NULL);
		return git_credential_ssh_key_from_agent(out, user);
	}
	if ((allowed & GIT_CREDENTIAL_USERNAME) && username_from_url)
		return git_credential_username_new(out, username_from_url);
	store->auth_failed = true;
	git_error_set_str(GIT_ERROR_NET, "the server asks for credentials and none are configured");
	return GIT_EAUTH;
}

static int push_update_cb(const char *refname DG_UNUSED, const char *status, void *payload)
{
	struct dg_store *store = payload;

	if (status) {
		/* the only word on a refused ref: git_remote_push still returns 0 */
		store->push_rejected = true;
		snprintf(store->push_status, sizeof(store->push_status), "%s", status);
	}
	return 0;
}

static int push_progress_cb(unsigned int current DG_UNUSED, unsigned int total DG_UNUSED,
			    size_t bytes, void *payload)
{
	struct dg_store *store = payload;

	store->push_bytes = bytes;
	dg_nettimer_arm(&store->timer);
	return 0;
}

/* Any sign of life from the remote restarts the inactivity timeout. */
static int fetch_progress_cb(const git_indexer_progress *stats DG_UNUSED, void *payload)
{
	dg_nettimer_arm(&((struct dg_store *)payload)->timer);
	return 0;
}

static int sideband_cb(const char *str DG_UNUSED, int len DG_UNUSED, void *payload)
{
	dg_nettimer_arm(&((struct dg_store *)payload)->timer);
	return 0;
}

static void init_callbacks(struct dg_store *store, git_remote_callbacks *cb)
{
	cb->credentials = credentials_cb;
	cb->push_update_reference = push_update_cb;
	cb->push_transfer_progress = push_progress_cb;
	cb->transfer_progress = fetch_progress_cb;
	cb->sideband_progress = sideband_cb;
	cb->payload = store;
	store->auth_tries = 0;
	store->auth_failed = false;
}

/* ---------------------------------------------------------------- open */

bool dg_store_url_is_local(const char *url)
{
	if (!strncmp(url, "file://", 7))
		return true;
	if (strstr(url, "://"))
		return false;
	/* scp-like user@host:path is remote; a path with ':' before any '/' too */
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');
	return !(colon && (!slash || colon < slash));
}

static char *default_cache_base(void)
{
	const char *env = getenv("DGRID_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		return dg_xstrdup(env);
	if (xdg && *xdg)
		return dg_xasprintf("%s/dgrid", xdg);
	return dg_xasprintf("%s/.cache/dgrid", home && *home ? home : "/tmp");
}

static int mkdir_p(const char *path)
{
	char *tmp = dg_xstrdup(path);
	int ret = 0;

	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			ret = -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		ret = -1;
	if (ret < 0)
		dg_error_set("cannot create directory '%s': %s", path, strerror(errno));
	free(tmp);
	return ret;
}

static int open_cache(struct dg_store *store)
{
	unsigned char hash[8];
	char hex[17];
	char *base = NULL, *lock = NULL;
	int ret = DG_ERROR, err;

	if (store->opts.cache_dir) {
		store->cache_path = dg_xstrdup(store->opts.cache_dir);
	} else {
		base = default_cache_base();
		crypto_generichash(hash, sizeof(hash), (const unsigned char *)store->url,
				   strlen(store->url), NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
		store->cache_path = dg_xasprintf("%s/%s-%s", base, hex,
						 store->opts.cache_tag ? store->opts.cache_tag : "cli");
	}
	if (mkdir_p(store->cache_path) < 0)
		goto out;
	/* one user of a cache at a time: concurrent fetches would fight over refs */
	lock = dg_xasprintf("%s/dgrid.lock", store->cache_path);
	store->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (store->lock_fd < 0 || flock(store->lock_fd, LOCK_EX) < 0) {
		dg_error_set("cannot lock cache '%s': %s", lock, strerror(errno));
		goto out;
	}
	err = git_repository_open_bare(&store->repo, store->cache_path);
	if (err == GIT_ENOTFOUND)
		err = git_repository_init(&store->repo, store->cache_path, 1);
	if (err < 0) {
		ret = git_fail(store, err, "cannot open cache repository");
		goto out;
	}
	err = git_remote_create_anonymous(&store->remote, store->repo, store->url);
	if (err < 0) {
		ret = git_fail(store, err, "invalid repository URL");
		goto out;
	}
	snprintf(store->tracking_ref, sizeof(store->tracking_ref), "refs/remotes/origin/%s", store->branch);
	if (dg_nettimer_init(&store->timer, store->opts.net_timeout_ms) < 0)
		goto out;
	ret = 0;
out:
	free(base);
	free(lock);
	return ret;
}

static int open_local(struct dg_store *store)
{
	const char *path = store->url;
	int err;

	if (!strncmp(path, "file://", 7))
		path += 7;
	err = git_repository_open_ext(&store->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (err < 0)
		return git_fail(store, err, "cannot open repository");
	snprintf(store->tracking_ref, sizeof(store->tracking_ref), "%s", store->branch_ref);
	return 0;
}

/* Reads the tracking ref into store->tip. */
static int load_tip(struct dg_store *store)
{
	int err = git_reference_name_to_id(&store->tip, store->repo, store->tracking_ref);

	store->has_tip = err == 0;
	store->tip_hex[0] = '\0';
	if (err == GIT_ENOTFOUND)
		return 0;
	if (err < 0)
		return git_fail(store, err, "cannot read branch");
	git_oid_tostr(store->tip_hex, sizeof(store->tip_hex), &store->tip);
	return 0;
}

int dg_store_open(struct dg_store **out, const struct dg_store_opts *opts)
{
	struct dg_store *store = dg_xcalloc(1, sizeof(*store));
	int ret;

	if (!opts->url || !*opts->url) {
		dg_error_set("no repository given (use --repo or DGRID_REPO_URL)");
		free(store);
		return DG_EINVALID;
	}
	if (sodium_init() < 0) {
		dg_error_set("cannot initialise libsodium");
		free(store);
		return DG_ERROR;
	}
	store->opts = *opts;
	store->lock_fd = -1;
	store->url = dg_xstrdup(opts->url);
	store->branch = dg_xstrdup(opts->branch ? opts->branch : "main");
	store->token = opts->token && *opts->token ? dg_xstrdup(opts->token) : NULL;
	store->username = dg_xstrdup(opts->username ? opts->username : "x-access-token");
	store->ssh_key = opts->ssh_key ? dg_xstrdup(opts->ssh_key) : NULL;
	store->author = dg_xstrdup(opts->author ? opts->author : "dgrid");
	if (!store->opts.max_attempts)
		store->opts.max_attempts = 30;
	if (!store->opts.backoff_max_ms)
		store->opts.backoff_max_ms = 2000;
	if (!store->opts.net_timeout_ms) {
		const char *t = getenv("DGRID_NET_TIMEOUT");
		long secs = t && *t ? strtol(t, NULL, 10) : 60;
		store->opts.net_timeout_ms = (unsigned)(secs > 0 && secs < 3600 ? secs : 60) * 1000u;
	}
	dg_log_add_secret(store->token);
	snprintf(store->branch_ref, sizeof(store->branch_ref), "refs/heads/%s", store->branch);
	if (git_reference_is_valid_name(store->branch_ref) != 1) {
		dg_error_set("invalid branch name '%s'", store->branch);
		ret = DG_EINVALID;
		goto fail;
	}
	store->local = dg_store_url_is_local(store->url);
	ret = store->local ? open_local(store) : open_cache(store);
	if (ret < 0)
		goto fail;
	if ((ret = load_tip(store)) < 0)
		goto fail;
	*out = store;
	return 0;
fail:
	dg_store_free(store);
	return ret;
}

void dg_store_free(struct dg_store *store)
{
	if (!store)
		return;
	git_remote_free(store->remote);
	git_repository_free(store->repo);
	dg_nettimer_release(&store->timer);
	if (store->lock_fd >= 0)
		close(store->lock_fd);
	if (store->token)
		sodium_memzero(store->token, strlen(store->token));
	free(store->url);
	free(store->branch);
	free(store->token);
	free(store->username);
	free(store->ssh_key);
	free(store->author);
	free(store->cache_path);
	free(store);
}

const char *dg_store_tip(const struct dg_store *store)
{
	return store->tip_hex;
}

/* ---------------------------------------------------------------- fetch */

int dg_store_fetch(struct dg_store *store)
{
	git_fetch_options fo;
	char spec_branch[300];
	char *specs[2] = { spec_branch, (char *)"+refs/dgrid/*:refs/remotes/dgrid/*" };
	git_strarray refspecs = { specs, 2 };
	int err;

	if (store->local)
		return load_tip(store);
	snprintf(spec_branch, sizeof(spec_branch), "+%s:%s", store->branch_ref, store->tracking_ref);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	init_callbacks(store, &fo.callbacks);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	dg_nettimer_arm(&store->timer);
	err = git_remote_fetch(store->remote, &refspecs, &fo, NULL);
	dg_nettimer_disarm(&store->timer);
	if (err < 0)
		return net_fail(store, err, "cannot fetch");
	return load_tip(store);
}

/* ---------------------------------------------------------------- reading */

static int tip_tree(struct dg_store *store, git_tree **out)
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
	return err < 0 ? git_fail(store, err, "cannot read tip") : 0;
}

static int tree_read(struct dg_store *store, git_tree *tree, const char *path, struct dg_strbuf *out)
{
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	int err, ret = DG_ERROR;

	if (!tree || git_tree_entry_bypath(&entry, tree, path) < 0) {
		dg_error_set("'%s' does not exist", path);
		return DG_ENOTFOUND;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		dg_error_set("'%s' is not a file", path);
		ret = DG_EINVALID;
		goto out;
	}
	err = git_blob_lookup(&blob, store->repo, git_tree_entry_id(entry));
	if (err < 0) {
		ret = git_fail(store, err, "cannot read blob");
		goto out;
	}
	dg_strbuf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	ret = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	return ret;
}

static int tree_list(struct dg_store *store, git_tree *root, const char *dir,
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
			ret = git_fail(store, -1, "cannot read directory");
			goto out;
		}
	}
	git_tree *walk = tree ? tree : root;
	size_t n = git_tree_entrycount(walk);
	for (size_t i = 0; i < n && !ret; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(walk, i);
		git_filemode_t mode = git_tree_entry_filemode(e);
		struct dg_entry de = {
			.name = git_tree_entry_name(e),
			.is_file = mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE,
			.is_dir = mode == GIT_FILEMODE_TREE,
			.size = 0,
		};
		if (de.is_file) {
			/* the object header holds the size without inflating the blob */
			git_odb *odb = NULL;
			size_t len = 0;
			git_object_t type;
			if (!git_repository_odb(&odb, store->repo) &&
			    !git_odb_read_header(&len, &type, odb, git_tree_entry_id(e)))
				de.size = len;
			git_odb_free(odb);
		}
		ret = cb(&de, payload);
	}
out:
	git_tree_free(tree);
	git_tree_entry_free(entry);
	return ret;
}

int dg_store_read(struct dg_store *store, const char *path, struct dg_strbuf *out)
{
	git_tree *tree = NULL;
	int ret = tip_tree(store, &tree);

	if (!ret)
		ret = tree_read(store, tree, path, out);
	git_tree_free(tree);
	return ret;
}

int dg_store_list(struct dg_store *store, const char *dir, dg_list_cb cb, void *payload)
{
	git_tree *tree = NULL;
	int ret = tip_tree(store, &tree);

	if (!ret)
		ret = tree_list(store, tree, dir, cb, payload);
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
		ret = git_fail(store, -1, "cannot walk history");
		goto out;
	}
	git_revwalk_sorting(walk, GIT_SORT_TIME);
	for (size_t n = 0; n < max && !ret && !git_revwalk_next(&oid, walk); n++) {
		git_commit *c = NULL;
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

/* ---------------------------------------------------------------- txn API */

static struct txn_edit *find_edit(struct dg_txn *txn, const char *path)
{
	for (size_t i = txn->edits_nr; i-- > 0;) {
		if (!strcmp(txn->edits[i].path, path))
			return &txn->edits[i];
	}
	return NULL;
}

static struct txn_edit *add_edit(struct dg_txn *txn, const char *path)
{
	struct txn_edit *e = find_edit(txn, path);

	if (e)
		return e;
	DG_ALLOC_GROW(txn->edits, txn->edits_nr + 1, txn->edits_alloc);
	e = &txn->edits[txn->edits_nr++];
	memset(e, 0, sizeof(*e));
	e->path = dg_xstrdup(path);
	return e;
}

int dg_txn_read(struct dg_txn *txn, const char *path, struct dg_strbuf *out)
{
	struct txn_edit *e = find_edit(txn, path);
	git_blob *blob = NULL;

	if (!e)
		return tree_read(txn->store, txn->base, path, out);
	if (e->remove) {
		dg_error_set("'%s' does not exist", path);
		return DG_ENOTFOUND;
	}
	if (git_blob_lookup(&blob, txn->store->repo, &e->blob) < 0)
		return git_fail(txn->store, -1, "cannot read blob");
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
	return tree_list(txn->store, txn->base, dir, cb, payload);
}

int dg_txn_write(struct dg_txn *txn, const char *path, const void *data, size_t len)
{
	git_oid oid;
	struct txn_edit *e;

	if (git_blob_create_from_buffer(&oid, txn->store->repo, data, len) < 0)
		return git_fail(txn->store, -1, "cannot write blob");
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
	git_tree_free(txn->base);
	dg_strbuf_release(&txn->message);
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
			ret = git_fail(store, -1, "cannot build empty tree");
			goto out;
		}
		git_treebuilder_free(tb);
	}
	if (git_tree_create_updated(&tree_oid, store->repo, txn->base ? txn->base : empty,
				    txn->edits_nr, updates) < 0 ||
	    git_tree_lookup(&tree, store->repo, &tree_oid) < 0) {
		ret = git_fail(store, -1, "cannot build tree");
		goto out;
	}
	if (store->has_tip && git_commit_lookup(&parent, store->repo, &store->tip) < 0) {
		ret = git_fail(store, -1, "cannot read tip commit");
		goto out;
	}
	if (git_signature_now(&sig, store->author, "dgrid@localhost") < 0) {
		ret = git_fail(store, -1, "cannot make signature");
		goto out;
	}
	parents[0] = parent;
	if (git_commit_create(out, store->repo, NULL, sig, sig, NULL,
			      txn->message.len ? txn->message.buf : "dgrid: update",
			      tree, parent ? 1 : 0, parents) < 0) {
		ret = git_fail(store, -1, "cannot create commit");
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

/* ------------------------------------------------------------ publishing */

/*
 * Local repository: move the branch from the known tip to commit, failing
 * if it moved meanwhile. git_reference_create_matching() compares under the
 * ref's own lock file, which also guards against git's own writers; dgrid
 * writers additionally serialise the read-compare-write on an flock of
 * their own, so the swap holds among them whatever libgit2 does inside
 * (a concurrency run under ASan once lost a commit without it).
 */
static int publish_local(struct dg_store *store, const char *ref, const git_oid *commit,
			 bool force)
{
	git_reference *r = NULL;
	git_oid current;
	char *lock_path = dg_xasprintf("%s/dgrid-refs.lock", git_repository_path(store->repo));
	int fd, err, ret = 0;

	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		dg_error_set("cannot lock '%s': %s", lock_path, strerror(errno));
		ret = DG_ERROR;
		goto out;
	}
	if (force) {
		err = git_reference_create(&r, store->repo, ref, commit, 1, "dgrid");
	} else {
		err = git_reference_name_to_id(&current, store->repo, ref);
		if (err == 0 ? !store->has_tip || !git_oid_equal(&current, &store->tip)
			     : err != GIT_ENOTFOUND || store->has_tip) {
			ret = err < 0 && err != GIT_ENOTFOUND ? git_fail(store, err, "cannot read branch")
							      : DG_ECONFLICT;
			goto out;
		}
		if (store->has_tip)
			/* force=1 means "may overwrite"; current_id makes it compare-and-swap */
			err = git_reference_create_matching(&r, store->repo, ref, commit, 1, &store->tip, "dgrid");
		else
			err = git_reference_create(&r, store->repo, ref, commit, 0, "dgrid");
	}
	if (err == GIT_EMODIFIED || err == GIT_EEXISTS || err == GIT_ELOCKED)
		ret = DG_ECONFLICT;
	else if (err < 0)
		ret = git_fail(store, err, "cannot update branch");
out:
	git_reference_free(r);
	if (fd >= 0)
		close(fd);
	free(lock_path);
	return ret;
}

/* Remote: a non-forced push of a child of the known tip is the CAS. */
static int publish_remote(struct dg_store *store, const char *local_ref, const char *remote_ref,
			  const git_oid *commit, bool force)
{
	git_push_options po;
	git_reference *r = NULL;
	char spec[600];
	char *specs[1] = { spec };
	git_strarray refspecs = { specs, 1 };
	int err;

	err = git_reference_create(&r, store->repo, local_ref, commit, 1, NULL);
	git_reference_free(r);
	if (err < 0)
		return git_fail(store, err, "cannot record commit");
	snprintf(spec, sizeof(spec), "%s%s:%s", force ? "+" : "", local_ref, remote_ref);
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	init_callbacks(store, &po.callbacks);
	store->push_rejected = false;
	store->push_status[0] = '\0';
	store->push_bytes = 0;
	dg_nettimer_arm(&store->timer);
	err = git_remote_push(store->remote, &refspecs, &po);
	dg_nettimer_disarm(&store->timer);
	if (err == GIT_ENONFASTFORWARD)
		return DG_ECONFLICT;       /* libgit2 saw the remote moved */
	if (err < 0)
		return net_fail(store, err, "cannot push");
	if (store->push_rejected) {
		dg_error_set("push refused by the server: %s", store->push_status);
		return DG_ECONFLICT;
	}
	return 0;
}

static int publish(struct dg_store *store, const git_oid *commit)
{
	git_reference *r = NULL;
	int ret;

	if (store->local)
		return publish_local(store, store->branch_ref, commit, false);
	ret = publish_remote(store, "refs/dgrid-txn/branch", store->branch_ref, commit, false);
	if (ret < 0)
		return ret;
	/* the remote now has our commit: make it the known tip */
	if (git_reference_create(&r, store->repo, store->tracking_ref, commit, 1, NULL) < 0)
		return git_fail(store, -1, "cannot record pushed tip");
	git_reference_free(r);
	return 0;
}

static void backoff(struct dg_store *store, unsigned attempt)
{
	/* full jitter: uniform in [0, min(cap, 10 ms * 2^attempt)] */
	unsigned cap = 10u << (attempt < 10 ? attempt : 10);
	struct timespec ts;
	uint32_t ms;

	if (cap > store->opts.backoff_max_ms)
		cap = store->opts.backoff_max_ms;
	ms = arc4random_uniform(cap + 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int dg_store_transact(struct dg_store *store, dg_txn_fn fn, void *payload,
		      struct dg_txn_stats *stats)
{
	struct dg_txn_stats local_stats;
	struct dg_txn txn;
	int ret = DG_ECONFLICT;

	if (!stats)
		stats = &local_stats;
	memset(stats, 0, sizeof(*stats));
	for (unsigned attempt = 1; attempt <= store->opts.max_attempts; attempt++) {
		git_oid commit;

		if (attempt > 1 || store->local) {
			if ((ret = dg_store_fetch(store)) < 0)
				return ret;
		}
		memset(&txn, 0, sizeof(txn));
		txn.store = store;
		dg_strbuf_init(&txn.message, 0);
		snprintf(txn.base_hex, sizeof(txn.base_hex), "%s", store->tip_hex);
		if ((ret = tip_tree(store, &txn.base)) < 0)
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
		ret = publish(store, &commit);
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
		txn_release(&txn);
		backoff(store, attempt);
	}
	dg_error_set("gave up after %u attempts: the branch kept moving", store->opts.max_attempts);
	return DG_ECONFLICT;
out:
	txn_release(&txn);
	return ret;
}

/* ---------------------------------------------------------------- side refs */

int dg_store_put_side(struct dg_store *store, const char *name, const char *path,
		      const void *data, size_t len)
{
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_oid blob, tree_oid, commit;
	char ref[300], local_ref[300];
	int ret = DG_ERROR;

	snprintf(ref, sizeof(ref), "refs/dgrid/%s", name);
	snprintf(local_ref, sizeof(local_ref), "refs/remotes/dgrid/%s", name);
	if (git_reference_is_valid_name(ref) != 1) {
		dg_error_set("invalid side ref name '%s'", name);
		return DG_EINVALID;
	}
	if (git_blob_create_from_buffer(&blob, store->repo, data, len) < 0 ||
	    git_treebuilder_new(&tb, store->repo, NULL) < 0 ||
	    git_treebuilder_insert(NULL, tb, path, &blob, GIT_FILEMODE_BLOB) < 0 ||
	    git_treebuilder_write(&tree_oid, tb) < 0 ||
	    git_tree_lookup(&tree, store->repo, &tree_oid) < 0 ||
	    git_signature_now(&sig, store->author, "dgrid@localhost") < 0 ||
	    git_commit_create(&commit, store->repo, NULL, sig, sig, NULL, name, tree, 0, NULL) < 0) {
		ret = git_fail(store, -1, "cannot build side commit");
		goto out;
	}
	if (store->local) {
		ret = publish_local(store, ref, &commit, true);
	} else {
		ret = publish_remote(store, local_ref, ref, &commit, true);
	}
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	return ret;
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
	struct dg_strbuf data = DG_STRBUF_INIT;
	int ret = 0;

	if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
	    !git_commit_lookup(&commit, w->store->repo, git_reference_target(ref)) &&
	    !git_commit_tree(&tree, commit) &&
	    !tree_read(w->store, tree, w->path, &data))
		ret = w->cb(name + w->skip, git_commit_time(commit), data.buf, data.len, w->payload);
	dg_strbuf_release(&data);
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
		return git_fail(store, -1, "cannot list side refs");
	}
	while (!ret && !git_reference_next(&ref, it))
		ret = side_one(ref, &w);
	git_reference_iterator_free(it);
	free(pattern);
	return ret;
}
