/*
 * store.h - Git as a transactional database.
 *
 * A store is one branch (default "main") of a state repository, plus side
 * refs under refs/dgrid/ that hold data kept out of the branch's history
 * (heartbeats). Every change of the branch is an optimistic transaction:
 *
 *   dg_store_transact(store, fn, payload, &stats)
 *
 * reads the tip the store knows, lets fn inspect it and queue edits through
 * the dg_txn_* calls (in memory: no working tree, no git subprocess), makes
 * one commit whose parent is that tip and publishes it only if the branch
 * still points at the tip (compare-and-swap). When another writer got there
 * first, the store fetches the new tip, backs off with jitter and runs fn
 * again; fn re-checks its preconditions and returns DG_ECONFLICT to give
 * up, 1 for "nothing to do", or 0 to commit its edits.
 *
 * Two ways to reach the repository:
 *  - a remote URL (https://, http://, git://, ssh://, user@host:path): a
 *    bare cache repository on local disk is fetched into, and a commit is
 *    published by a non-forced push. The server refuses a non-fast-forward
 *    update, which is the compare-and-swap. libgit2 1.5 returns 0 from
 *    git_remote_push even for a refused ref, so the per-ref status from the
 *    push_update_reference callback decides.
 *  - a local path or file:// URL: libgit2's local transport performs no
 *    compare-and-swap, so the store opens that bare repository directly,
 *    writes objects into it and moves the branch with a locked
 *    git_reference_create_matching().
 *
 * Credentials: the token (GIT_TOKEN) goes to libgit2 only through the
 * credential callback, never into a URL, a config file or a log line; a
 * refused credential fails after a bounded number of tries with DG_EAUTH.
 * The callback hands the token only to the configured scheme, host and
 * port; redirects to another host are not followed; and a token with a
 * plain http:// URL is refused at open (DG_EINVALID) unless the host is
 * loopback (127.0.0.0/8, ::1, localhost), which the tests use.
 *
 * Server refusals: a push the server declines although the branch did not
 * move (a pre-receive hook, branch protection, a throttling host) is not a
 * race. The transaction tells the two apart by fetching: when the remote
 * tip still is the base, it retries with exponential backoff a few times
 * (host hiccups) and then fails with DG_EREFUSED and the server's reason.
 *
 * The cache: every fetch that brings objects adds a pack, every
 * transaction loose objects. When the cache holds more than 16 packs or
 * about 2,000 loose objects, a fetch repacks it into one pack (everything
 * reachable from its refs); and libgit2 keeps at most 64 pack files open.
 *
 * Threading: a store and everything read from it belong to the thread that
 * opened it.
 */
#ifndef DG_STORE_H
#define DG_STORE_H

#include "common.h"
#include "strbuf.h"

struct dg_store_opts {
	const char *url;        /* remote URL or local path (required) */
	const char *branch;     /* default "main" */
	const char *cache_dir;  /* bare cache for remote URLs; default under
				   $DGRID_CACHE or $XDG_CACHE_HOME/dgrid or ~/.cache/dgrid */
	const char *cache_tag;  /* distinguishes caches of several users of one
				   URL on one host, e.g. the node id; default "cli" */
	const char *token;      /* HTTPS password/token, or NULL */
	const char *username;   /* for the token; default "x-access-token" */
	const char *ssh_key;    /* private key path for ssh, else the agent */
	const char *author;     /* commit author name; default "dgrid" */
	unsigned max_attempts;  /* transaction attempts; default 30 */
	unsigned backoff_max_ms;/* cap of the jittered backoff; default 2000 */
	unsigned net_timeout_ms;/* a network call silent this long fails with DG_ENET;
				   default $DGRID_NET_TIMEOUT seconds, else 60 s */
	size_t max_blob;        /* largest file dg_store_read/dg_txn_read load;
				   default DG_STORE_MAX_BLOB */
	size_t max_side_blob;   /* largest side ref file; default DG_STORE_MAX_SIDE_BLOB */
	unsigned max_refusals;  /* publications the server refused (not a race)
				   before giving up with DG_EREFUSED; default 4 */
};

/*
 * Repository content is untrusted: anybody who can push may put a huge
 * blob where dgrid expects a small JSON file. Every read checks the size
 * recorded in the object header before loading the object, and refuses a
 * larger one with DG_EINVALID naming the path and its size.
 */
/* the largest task file a policy may allow (16 MiB), with room for its claim */
#define DG_STORE_MAX_BLOB ((size_t)17 << 20)
#define DG_STORE_MAX_SIDE_BLOB ((size_t)64 << 10)

#define DG_STORE_OPTS_INIT { 0 }

struct dg_store;

int dg_store_open(struct dg_store **out, const struct dg_store_opts *opts);
void dg_store_free(struct dg_store *store);

/*
 * A second store on the same grid and credentials whose cache holds only
 * what it is used for (a remote store's cache path plus "-" tag; a local
 * repository is simply opened again). Side refs whose objects grow with the
 * grid's age (the archive) belong there, not in the branch's cache: a
 * libgit2 1.5 push walks the whole tree of every advertised ref whose
 * commit the cache holds (pack-objects.c, mark_edges_uninteresting), so
 * every claim would cost what the archive holds.
 */
int dg_store_open_sibling(const struct dg_store *store, const char *tag, struct dg_store **out);

/* Is this URL handled as a local path (no network, own compare-and-swap)? */
bool dg_store_url_is_local(const char *url);

/*
 * Brings the known tip and the side refs under refs/dgrid/nodes/ and
 * refs/dgrid/join/ up to date with the remote (side refs deleted there go
 * here too).
 * DG_ENET when unreachable, DG_EAUTH when credentials were refused.
 */
int dg_store_fetch(struct dg_store *store);

/*
 * The branch's tip on the remote as 40 hex digits ("" when it does not
 * exist), from the ref advertisement alone: no pack is asked for, so the
 * host spends a process start and a few lines on it where a fetch after a
 * busy minute makes it pack every commit since (pack-objects). The known
 * tip does not change. A local store answers with the branch as it is.
 */
int dg_store_peek(struct dg_store *store, char tip[41]);

/* The known tip as 40 hex digits, or "" when the branch does not exist yet. */
const char *dg_store_tip(const struct dg_store *store);

/*
 * While held, fetches leave the cache's repacking (above) to
 * dg_store_tidy. A worker holds it through a turn, which must push within
 * its slot: a full repack of ~2,700 objects took a second or two on a
 * loaded host, the turn's push went out in the next members' slots, and
 * one of them lost its race and waited a whole cycle with its results
 * (bench-budget, 32 workers: 28 workers repacked within 40 s, mid-turn).
 * After the turn, before its next slot, the worker tidies.
 */
void dg_store_hold_repack(struct dg_store *store, bool hold);
/* Repacks the cache when it is due, as a fetch does; nothing while held. 0, or a negative code. */
int dg_store_tidy(struct dg_store *store);

/* Reads a file of the known tip. DG_ENOTFOUND when it does not exist. */
int dg_store_read(struct dg_store *store, const char *path, struct dg_strbuf *out);

/* One entry of a directory listing. */
struct dg_entry {
	const char *name;       /* base name, borrowed for the callback's duration */
	const char *path;       /* the full path in the repository, likewise */
	bool is_file;           /* a regular blob (not a tree, link or submodule) */
	bool is_dir;
	/* the store's, for dg_entry_size */
	struct dg_store *store_;
	const void *id_;
};

/*
 * A file's size in bytes, from its object's header (nothing is inflated
 * past it); 0 for anything else. Asked for only where it is needed: a
 * walk that counts files read the header of each, and a queue of 10,000
 * cost every step of a worker that sized its claims 10,000 of them.
 */
size_t dg_entry_size(const struct dg_entry *e);

/*
 * The object id of the entry (40 hex digits and a NUL into out): Git
 * names a file by its bytes, so a reader that keeps what it parsed of a
 * file can tell it is unchanged without reading it. "" when unknown.
 */
void dg_entry_id(const struct dg_entry *e, char out[41]);

typedef int (*dg_list_cb)(const struct dg_entry *entry, void *payload);

/*
 * Calls cb for each entry of directory dir at the known tip, in name order;
 * a missing directory lists nothing. A non-zero return from cb stops the
 * walk and is returned.
 */
int dg_store_list(struct dg_store *store, const char *dir, dg_list_cb cb, void *payload);

/*
 * The object id (40 hex digits) of directory dir at the known tip: equal
 * ids, equal contents. DG_ENOTFOUND when dir is no directory there.
 */
int dg_store_tree_id(struct dg_store *store, const char *dir, char id[41]);

/* Commits on the branch, newest first: cb(time, summary) up to max. */
typedef int (*dg_log_cb)(int64_t when, const char *summary, void *payload);
int dg_store_history(struct dg_store *store, size_t max, dg_log_cb cb, void *payload);

/*
 * The commits the branch gained since `since` (the hex id of an earlier
 * tip), newest first: cb(time, summary) for each, up to max. Returns how
 * many were walked, or max when the tip no longer reaches since (history
 * compacted, a foreign id): then cb saw the newest max.
 */
size_t dg_store_walk_since(struct dg_store *store, const char *since, size_t max, dg_log_cb cb, void *payload);

/* ---- transactions ---- */

struct dg_txn;

typedef int (*dg_txn_fn)(struct dg_txn *txn, void *payload);

struct dg_txn_stats {
	unsigned attempts;       /* times fn ran */
	unsigned rejected;       /* publications refused because the tip moved */
	unsigned lost_at_host;   /* of those, sent and then refused by the host (a push it counts) */
	unsigned refused;        /* publications the server declined (not a race) */
	bool committed;          /* a commit was published */
	bool side_published;     /* the dg_txn_side ref landed */
	size_t bytes_pushed;     /* pack bytes sent (remote URLs) */
	char commit[41];         /* the published commit */
};

/*
 * Runs the transaction described above. Returns 0 when a commit was
 * published or fn said there was nothing to do (stats->committed tells),
 * fn's own negative code when it gave up, DG_ECONFLICT after max_attempts
 * lost races, DG_EREFUSED when the server kept declining the push (message:
 * "push to refs/heads/main refused by the server: REASON"),
 * DG_ENET/DG_EAUTH/DG_ERROR on failures to reach the remote.
 * stats may be NULL.
 */
int dg_store_transact(struct dg_store *store, dg_txn_fn fn, void *payload,
		      struct dg_txn_stats *stats);
/* The attempts the next transactions make (opts.max_attempts until changed; 0 keeps it). */
void dg_store_set_max_attempts(struct dg_store *store, unsigned attempts);
/*
 * The races lost at the host after which the next transactions give up
 * (DG_ECONFLICT) even with attempts left; 0: no such limit (the default).
 * With 1, a transaction retries only races lost before its pack was sent,
 * which the host never saw: a push budget counts one push at most.
 */
void dg_store_set_max_lost_at_host(struct dg_store *store, unsigned lost);

/*
 * A side ref that rides on this transaction's push: refs/dgrid/<name>
 * pointed at a parentless commit holding one file (path, data), or
 * deleted when data is NULL. It goes in the same push as the branch's
 * commit (one push for the host to count) and is forced, so it lands even
 * when the branch's compare-and-swap loses at the host. When libgit2
 * refuses the branch before sending anything (it saw the branch move), the
 * host sees no push and no side ref either: pushing that ref alone would
 * cost a push for a join without a claim (bench-budget, 64 workers: 23 such
 * pushes in the first minute, and slower runs). stats->side_published says
 * whether it landed.
 * What it is for: a newcomer's join on a budget grid (doc/protocol.md,
 * "Joining"). The last call of an attempt counts.
 */
int dg_txn_side(struct dg_txn *txn, const char *name, const char *path, const void *data, size_t len);
/* Whether a side ref rides on this attempt's push already: one can. */
bool dg_txn_has_side(const struct dg_txn *txn);

/* Reads path as the transaction sees it (its own edits included). */
int dg_txn_read(struct dg_txn *txn, const char *path, struct dg_strbuf *out);
bool dg_txn_exists(struct dg_txn *txn, const char *path);
/* Lists dir as the transaction's base tip has it (edits not reflected). */
int dg_txn_list(struct dg_txn *txn, const char *dir, dg_list_cb cb, void *payload);
/*
 * The object id (40 hex digits) of directory dir in the transaction's base:
 * equal ids, equal contents. DG_ENOTFOUND when dir is no directory there.
 */
int dg_txn_tree_id(struct dg_txn *txn, const char *dir, char id[41]);
/* Whether this transaction wrote or removed path. */
bool dg_txn_touched(struct dg_txn *txn, const char *path);
int dg_txn_write(struct dg_txn *txn, const char *path, const void *data, size_t len);
/* Removing a path that does not exist is DG_ENOTFOUND. */
int dg_txn_remove(struct dg_txn *txn, const char *path);
/*
 * Moves the file at from to to, bytes unchanged (no blob is read or
 * written). DG_ENOTFOUND when from is missing, DG_ECONFLICT when to exists.
 */
int dg_txn_move(struct dg_txn *txn, const char *from, const char *to);
/*
 * Who added each file: for each paths[i] present at the transaction's
 * base, the author ("Name <email>") of the newest commit that added it
 * (the path is in the commit's tree but not in its first parent's, or the
 * blob changed), looked for at most max commits back from the base;
 * authors[i] is then a new string, else NULL. For fair share between
 * submitters (doc/tasks.md): a submission's author is its submitter.
 */
int dg_txn_added_by(struct dg_txn *txn, const char *const *paths, size_t n, size_t max,
		    char **authors);

/* Sets the commit message (default "dgrid: update"). */
void dg_txn_message(struct dg_txn *txn, const char *fmt, ...) DG_PRINTF(2, 3);
/* The commit the transaction builds on ("" for an empty branch). */
const char *dg_txn_base(const struct dg_txn *txn);

/* ---- side refs: state kept out of the branch's history ---- */

/*
 * Points refs/dgrid/<name> at a new parentless commit holding one file
 * (path, data) and force-publishes it. History stays one commit long.
 */
int dg_store_put_side(struct dg_store *store, const char *name,
		      const char *path, const void *data, size_t len);

/*
 * Calls cb(name, commit time, file content) for each side ref under prefix.
 * A side ref whose file is missing or larger than max_side_blob is skipped
 * (the latter with a warning in the log naming the ref and the size).
 * dg_store_put_side fails with DG_EREFUSED when the server declines.
 */
typedef int (*dg_side_cb)(const char *name, int64_t when, const char *data,
			  size_t len, void *payload);
int dg_store_list_side(struct dg_store *store, const char *prefix, const char *path,
		       dg_side_cb cb, void *payload);

/* A side ref (under refs/dgrid/) as seen at one look: its name there and its commit. */
struct dg_side_ref {
	char name[300];   /* e.g. "nodes/NODE" */
	char id[41];
};

/* The commit side ref name points at now, as 40 hex digits: DG_ENOTFOUND when there is none. */
int dg_store_side_id(struct dg_store *store, const char *name, char id[41]);

/*
 * Deletes the side refs given, in one push, each only if it still is the
 * commit given: under the refs lock for a local repository; for a remote
 * one only if the host still advertises it, and the host compares it
 * again as it deletes. *pruned says how many went. A grid with heartbeats
 * keeps a ref of every node that ever ran, and every fetch lists them all
 * (reaper.h, dg_reaper_prune).
 */
int dg_store_prune_side(struct dg_store *store, const struct dg_side_ref *refs, size_t n, size_t *pruned);

/* ---- other refs ---- */

/*
 * Points the store at ref (under refs/dgrid/, e.g. refs/dgrid/archive)
 * instead of its branch: fetches, reads and transactions then work on
 * that ref and its own history, with the same compare-and-swap. NULL
 * returns to the branch, as it was. The ref is fetched only while in use.
 */
int dg_store_use_ref(struct dg_store *store, const char *ref);

/*
 * History compaction (doc/protocol.md): fetches, then replaces the branch
 * by a parentless commit (message) holding its current tree, keeping the
 * old history as refs/dgrid/epochs/N (*epoch = N). The forced update is a
 * compare-and-swap against the fetched tip: DG_ECONFLICT when the branch
 * moved meanwhile (nothing changed; try again), DG_EREFUSED when the host
 * refuses forced updates of the branch (protected).
 */
int dg_store_compact_history(struct dg_store *store, const char *message, unsigned *epoch);

#endif
