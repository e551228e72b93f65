/*
 * store.c - see store.h: opening a store, fetching, credentials, and the
 * two ways of publishing a commit (push, local compare-and-swap).
 * Reading is in store_read.c, transactions in store_txn.c, keeping the
 * cache compact in store_compact.c.
 */
#include "error.h"
#include "log.h"
#include "store_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTH_TRIES 2

/* libgit2 keeps a descriptor per pack it read from: bound them (store_compact.c) */
#define MWINDOW_FILE_LIMIT 64

/* ---------------------------------------------------------------- errors */

/* Records libgit2's last error, redacted, as ours; returns our code. */
int store_git_fail(struct dg_store *store, int code, const char *what)
{
	const git_error *e = git_error_last();
	struct dg_strbuf msg = DG_STRBUF_INIT;
	int ret = DG_ERROR;

	dg_redact(&msg, e && e->message ? e->message : "unknown error");
	if (store && store->token_refused[0]) {
		dg_error_set("%s: %s", what, store->token_refused);
		ret = DG_EAUTH;
	} else if (store && store->auth_failed) {
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
int store_net_fail(struct dg_store *store, int code, const char *what)
{
	if (dg_nettimer_fired()) {
		dg_error_set("%s: remote unreachable: no answer for %u s", what, store->timer.ms / 1000);
		return DG_ENET;
	}
	return store_git_fail(store, code, what);
}

/* ------------------------------------------------------------ token safety */

/* Where a URL leads: scheme, host and port, the unit a token is sent to. */
struct origin {
	char scheme[16];
	char host[256];
	unsigned port;
};

/* Parses scheme://[user[:pass]@]host[:port][/...]; -1 for anything else. */
static int parse_origin(struct origin *o, const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *host, *end, *colon = NULL;
	size_t n;

	memset(o, 0, sizeof(*o));
	if (!sep || (size_t)(sep - url) >= sizeof(o->scheme))
		return -1;
	for (size_t i = 0; url + i < sep; i++)
		o->scheme[i] = (char)(url[i] >= 'A' && url[i] <= 'Z' ? url[i] + 32 : url[i]);
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	host = memrchr(auth, '@', (size_t)(end - auth));
	host = host ? host + 1 : auth;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (!close)
			return -1;
		n = (size_t)(close - host - 1);
		if (n >= sizeof(o->host))
			return -1;
		memcpy(o->host, host + 1, n);
		if (close + 1 < end && close[1] == ':')
			colon = close + 1;
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		n = (size_t)((colon ? colon : end) - host);
		if (n >= sizeof(o->host))
			return -1;
		memcpy(o->host, host, n);
	}
	if (colon && colon + 1 < end)
		o->port = (unsigned)strtoul(colon + 1, NULL, 10);
	else if (!strcmp(o->scheme, "https"))
		o->port = 443;
	else if (!strcmp(o->scheme, "http"))
		o->port = 80;
	return o->host[0] ? 0 : -1;
}

static bool same_origin(const struct origin *a, const struct origin *b)
{
	return !strcmp(a->scheme, b->scheme) && !strcasecmp(a->host, b->host) && a->port == b->port;
}

static bool host_is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

/*
 * A token only travels encrypted: over plain http it is refused before any
 * connection, except to loopback (the tests' servers).
 */
static int check_token_transport(struct dg_store *store)
{
	struct origin o;

	if (!store->token || parse_origin(&o, store->url) < 0 || strcmp(o.scheme, "http"))
		return 0;
	if (host_is_loopback(o.host))
		return 0;
	dg_error_set("refusing to send GIT_TOKEN over plain http to '%s' (use https://)", o.host);
	return DG_EINVALID;
}

/* ------------------------------------------------------------ callbacks */

static int credentials_cb(git_credential **out, const char *url,
			  const char *username_from_url, unsigned int allowed, void *payload)
{
	struct dg_store *store = payload;
	struct origin want, got;

	memset(&got, 0, sizeof(got));
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && store->token &&
	    (parse_origin(&want, store->url) < 0 || !url || parse_origin(&got, url) < 0 ||
	     !same_origin(&want, &got))) {
		/* a redirect or a confused transport: the token is for one origin only */
		snprintf(store->token_refused, sizeof(store->token_refused),
			 "refusing to send GIT_TOKEN to '%s://%s:%u', the repository is at '%s://%s:%u'",
			 got.scheme, got.host, got.port, want.scheme, want.host, want.port);
		git_error_set_str(GIT_ERROR_NET, store->token_refused);
		return GIT_EAUTH;
	}
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

/* Server text goes into one-line messages: escape what a terminal would obey. */
static void escape_server_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && src[i] && o + 5 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static int push_update_cb(const char *refname, const char *status, void *payload)
{
	struct dg_store *store = payload;

	if (status && store->push_side_ref && !strcmp(refname, store->push_side_ref)) {
		store->push_side_rejected = true;   /* a rider's refusal is the rider's alone */
	} else if (status) {
		/* the only word on a refused ref: git_remote_push still returns 0 */
		store->push_rejected = true;
		snprintf(store->push_refused_ref, sizeof(store->push_refused_ref), "%s", refname);
		escape_server_text(store->push_status, sizeof(store->push_status), status, strlen(status));
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

static int sideband_cb(const char *str, int len, void *payload)
{
	struct dg_store *store = payload;

	dg_nettimer_arm(&store->timer);
	/* during a push, this is where a declining hook says why */
	while (store->pushing && len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
		len--;
	if (store->pushing && len > 0) {
		const char *nl = memrchr(str, '\n', (size_t)len);
		const char *line = nl ? nl + 1 : str;
		escape_server_text(store->push_remote_msg, sizeof(store->push_remote_msg), line,
				   (size_t)(str + len - line));
	}
	return 0;
}

void store_init_callbacks(struct dg_store *store, git_remote_callbacks *cb)
{
	cb->credentials = credentials_cb;
	cb->push_update_reference = push_update_cb;
	cb->push_transfer_progress = push_progress_cb;
	cb->transfer_progress = fetch_progress_cb;
	cb->sideband_progress = sideband_cb;
	cb->payload = store;
	store->auth_tries = 0;
	store->auth_failed = false;
	store->token_refused[0] = '\0';
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

/*
 * An in-memory remote for the grid's URL. Not git_remote_create_anonymous:
 * libgit2 1.5 applies url.*.insteadOf through a regular-expression search
 * that never frees its PCRE2 match data when nothing matches (libgit2
 * PR #6382, fixed after 1.5.1), about 20 KiB per config entry per call.
 * The cache is reopened after every repack, so a busy worker lost ~1 MB a
 * minute. The URL given is used as written; rewriting it through the
 * user's git config was never part of dgrid's contract.
 */
int store_remote_open(struct dg_store *store)
{
	git_remote_create_options opts;
	int err;

	git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = store->repo;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	err = git_remote_create_with_opts(&store->remote, store->url, &opts);
	if (err < 0)
		return store_git_fail(store, err, "invalid repository URL");
	return 0;
}

/*
 * A git lock file in a cache whose dgrid.lock we hold is stale: its writer
 * was killed (SIGKILL, OOM, a power cut) between taking it and renaming
 * it, and libgit2 refuses that ref while the file exists. A worker killed
 * in a fetch then failed every later fetch ("failed to lock file ...
 * main.lock") and never recovered (t0124). Only git's own *.lock files
 * under refs/ and beside them are removed; dgrid's flock files stay.
 */
static int remove_stale_lock(const char *path, const struct stat *st DG_UNUSED, int type,
			     struct FTW *ftw DG_UNUSED)
{
	size_t len = strlen(path);

	if (type == FTW_F && len > 5 && !strcmp(path + len - 5, ".lock") && unlink(path) == 0)
		dg_log(DG_LOG_WARNING, "event=stale-lock-removed file=\"%s\" reason=\"left by a process killed "
		       "while it updated this cache\"", path);
	return 0;
}

static void remove_stale_locks(const char *cache)
{
	static const char *const beside_refs[] = {
		"HEAD.lock", "config.lock", "packed-refs.lock", "index.lock", "shallow.lock",
	};
	char *path = dg_xasprintf("%s/refs", cache);

	nftw(path, remove_stale_lock, 16, FTW_PHYS);
	free(path);
	for (size_t i = 0; i < sizeof(beside_refs) / sizeof(beside_refs[0]); i++) {
		path = dg_xasprintf("%s/%s", cache, beside_refs[i]);
		remove_stale_lock(path, NULL, access(path, F_OK) == 0 ? FTW_F : FTW_NS, NULL);
		free(path);
	}
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
	remove_stale_locks(store->cache_path);
	err = git_repository_open_bare(&store->repo, store->cache_path);
	if (err == GIT_ENOTFOUND)
		err = git_repository_init(&store->repo, store->cache_path, 1);
	if (err < 0) {
		ret = store_git_fail(store, err, "cannot open cache repository");
		goto out;
	}
	if (store_remote_open(store) < 0)
		goto out;
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
		return store_git_fail(store, err, "cannot open repository");
	snprintf(store->tracking_ref, sizeof(store->tracking_ref), "%s", store->branch_ref);
	return 0;
}

/* Reads the tracking ref into store->tip. */
int store_load_tip(struct dg_store *store)
{
	int err = git_reference_name_to_id(&store->tip, store->repo, store->tracking_ref);

	store->has_tip = err == 0;
	store->tip_hex[0] = '\0';
	if (err == GIT_ENOTFOUND)
		return 0;
	if (err < 0)
		return store_git_fail(store, err, "cannot read branch");
	git_oid_tostr(store->tip_hex, sizeof(store->tip_hex), &store->tip);
	return 0;
}

int dg_store_open(struct dg_store **out, const struct dg_store_opts *opts)
{
	static bool limits_set;
	struct dg_store *store = dg_xcalloc(1, sizeof(*store));
	int ret;

	if (!limits_set) {
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT, (size_t)MWINDOW_FILE_LIMIT);
		limits_set = true;
	}

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
	if (!store->opts.max_blob)
		store->opts.max_blob = DG_STORE_MAX_BLOB;
	if (!store->opts.max_side_blob)
		store->opts.max_side_blob = DG_STORE_MAX_SIDE_BLOB;
	if (!store->opts.max_refusals)
		store->opts.max_refusals = 4;
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
	if (!store->local && (ret = check_token_transport(store)) < 0)
		goto fail;
	ret = store->local ? open_local(store) : open_cache(store);
	if (ret < 0)
		goto fail;
	if ((ret = store_load_tip(store)) < 0)
		goto fail;
	*out = store;
	return 0;
fail:
	dg_store_free(store);
	return ret;
}

int dg_store_open_sibling(const struct dg_store *store, const char *tag, struct dg_store **out)
{
	struct dg_store_opts o = store->opts;
	char *dir = store->local ? NULL : dg_xasprintf("%s-%s", store->cache_path, tag);
	int ret;

	o.url = store->url;
	o.branch = store->branch;
	o.token = store->token;
	o.username = store->username;
	o.ssh_key = store->ssh_key;
	o.author = store->author;
	o.cache_dir = dir;
	o.cache_tag = NULL;
	ret = dg_store_open(out, &o);
	free(dir);
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
	/* heartbeats and joins only: the archive and old epochs are fetched when asked for */
	char *specs[3] = { spec_branch, (char *)"+refs/dgrid/nodes/*:refs/remotes/dgrid/nodes/*",
			   (char *)"+refs/dgrid/join/*:refs/remotes/dgrid/join/*" };
	git_strarray refspecs = { specs, 3 };
	int err;

	if (store->local)
		return store_load_tip(store);
	snprintf(spec_branch, sizeof(spec_branch), "+%s:%s", store->branch_ref, store->tracking_ref);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	store_init_callbacks(store, &fo.callbacks);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	/* a join ref deleted there (its node is on the branch now) goes here too */
	fo.prune = GIT_FETCH_PRUNE;
	/* a redirect elsewhere would carry the token to another host */
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	dg_nettimer_arm(&store->timer);
	err = git_remote_fetch(store->remote, &refspecs, &fo, NULL);
	dg_nettimer_disarm(&store->timer);
	if (err < 0)
		return store_net_fail(store, err, "cannot fetch");
	store->stale = false;
	if ((err = store_load_tip(store)) < 0)
		return err;
	return store->repack_held ? 0 : store_maybe_repack(store);
}

void dg_store_hold_repack(struct dg_store *store, bool hold)
{
	store->repack_held = hold;
}

int dg_store_tidy(struct dg_store *store)
{
	return store->repack_held ? 0 : store_maybe_repack(store);
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
int store_lock_refs(struct dg_store *store)
{
	char *lock_path = dg_xasprintf("%s/dgrid-refs.lock", git_repository_path(store->repo));
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		dg_error_set("cannot lock '%s': %s", lock_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = DG_ERROR;
	}
	free(lock_path);
	return fd;
}

int store_publish_local(struct dg_store *store, const char *ref, const git_oid *commit,
			 bool force, struct store_rider *rider)
{
	git_reference *r = NULL;
	git_oid current;
	int fd, err, ret = 0;

	if ((fd = store_lock_refs(store)) < 0) {
		ret = fd;
		goto out;
	}
	if (force) {
		err = git_reference_create(&r, store->repo, ref, commit, 1, "dgrid");
	} else {
		err = git_reference_name_to_id(&current, store->repo, ref);
		if (err == 0 ? !store->has_tip || !git_oid_equal(&current, &store->tip)
			     : err != GIT_ENOTFOUND || store->has_tip) {
			ret = err < 0 && err != GIT_ENOTFOUND ? store_git_fail(store, err, "cannot read branch")
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
		ret = store_git_fail(store, err, "cannot update branch");
	if (rider && (ret == 0 || ret == DG_ECONFLICT)) {
		/* the rider lands whatever the swap's outcome, as a push would land it */
		git_reference_free(r);
		r = NULL;
		err = rider->remove ? git_reference_remove(store->repo, rider->ref)
				    : git_reference_create(&r, store->repo, rider->ref, &rider->commit, 1, "dgrid");
		rider->published = err == 0 || (rider->remove && err == GIT_ENOTFOUND);
	}
out:
	git_reference_free(r);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Remote: a non-forced push of a child of the known tip is the CAS. */
int store_publish_remote(struct dg_store *store, const char *local_ref, const char *remote_ref,
			  const git_oid *commit, bool force, struct store_rider *rider)
{
	git_push_options po;
	git_reference *r = NULL;
	git_oid had;
	bool rider_had = false;
	char spec[600], rider_spec[620];
	char *specs[2] = { spec, rider_spec };
	git_strarray refspecs = { specs, rider ? 2 : 1 };
	int err;

	err = git_reference_create(&r, store->repo, local_ref, commit, 1, NULL);
	git_reference_free(r);
	r = NULL;
	if (err < 0)
		return store_git_fail(store, err, "cannot record commit");
	snprintf(spec, sizeof(spec), "%s%s:%s", force ? "+" : "", local_ref, remote_ref);
	if (rider && rider->remove) {
		snprintf(rider_spec, sizeof(rider_spec), ":%s", rider->ref);
	} else if (rider) {
		/* pushed from its tracking ref, which then holds what we believe is there */
		rider_had = git_reference_name_to_id(&had, store->repo, rider->local_ref) == 0;
		err = git_reference_create(&r, store->repo, rider->local_ref, &rider->commit, 1, NULL);
		git_reference_free(r);
		r = NULL;
		if (err < 0)
			return store_git_fail(store, err, "cannot record side commit");
		snprintf(rider_spec, sizeof(rider_spec), "+%s:%s", rider->local_ref, rider->ref);
	}
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	store_init_callbacks(store, &po.callbacks);
	po.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	store->push_rejected = false;
	store->push_side_rejected = false;
	store->push_side_ref = rider ? rider->ref : NULL;
	store->push_refused_ref[0] = '\0';
	store->push_status[0] = '\0';
	store->push_remote_msg[0] = '\0';
	store->push_bytes = 0;
	store->pushing = true;
	dg_nettimer_arm(&store->timer);
	err = git_remote_push(store->remote, &refspecs, &po);
	dg_nettimer_disarm(&store->timer);
	store->pushing = false;
	store->push_side_ref = NULL;
	if (rider) {
		/*
		 * The host updates each ref on its own. When libgit2 refused the
		 * branch before sending anything (it saw it move), nothing went,
		 * the rider neither. The tracking ref then says what is there.
		 */
		rider->published = err >= 0 && !store->push_side_rejected;
		if (!rider->published && rider_had)
			/* best effort: the next fetch says what the host holds */
			(void)git_reference_create(&r, store->repo, rider->local_ref, &had, 1, NULL);
		else if (rider->published == rider->remove)
			(void)git_reference_remove(store->repo, rider->local_ref);
		git_reference_free(r);
		r = NULL;
	}
	if (err == GIT_ENONFASTFORWARD)
		return DG_ECONFLICT;       /* libgit2 saw the remote moved */
	if (err < 0)
		return store_net_fail(store, err, "cannot push");
	if (store->push_rejected) {
		/*
		 * A moved branch and a declining hook look the same here; the
		 * transaction tells them apart by fetching (store_txn.c).
		 */
		if (store->push_remote_msg[0])
			dg_error_set("push to %s refused by the server: %s (remote: %s)", remote_ref,
				     store->push_status, store->push_remote_msg);
		else
			dg_error_set("push to %s refused by the server: %s", remote_ref, store->push_status);
		return DG_EREFUSED;
	}
	return 0;
}

