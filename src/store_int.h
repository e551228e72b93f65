/*
 * store_int.h - the inside of a store, shared by store.c (opening,
 * fetching, publishing), store_read.c (reading trees and side refs),
 * store_txn.c (transactions) and store_compact.c (repacking the cache).
 * Nothing outside these includes it.
 */
#ifndef DG_STORE_INT_H
#define DG_STORE_INT_H

#include "nettimer.h"
#include "store.h"

#include <git2.h>

struct dg_store {
	struct dg_store_opts opts;      /* strings below are owned copies */
	char *url, *branch, *token, *username, *ssh_key, *author;
	bool local;
	bool repack_held;               /* dg_store_hold_repack: fetches do not repack */
	git_repository *repo;           /* the cache, or the local repository itself */
	git_remote *remote;             /* NULL for local */
	char *cache_path;
	int lock_fd;
	char tracking_ref[256];         /* where the known tip lives */
	char branch_ref[256];           /* refs/heads/<branch> */
	git_oid tip;
	bool has_tip;
	char tip_hex[41];
	bool stale;                     /* a publication was refused since the last fetch */
	unsigned max_lost_at_host;      /* dg_store_set_max_lost_at_host; 0: no limit */
	/* per network operation */
	unsigned auth_tries;
	bool auth_failed;
	char token_refused[600];        /* why the token was withheld, if it was */
	bool push_rejected;
	bool pushing;                   /* sideband text is the server's word on a push */
	char push_status[256];          /* per-ref status of a refused push, escaped */
	char push_refused_ref[256];     /* the ref it was about */
	char push_remote_msg[256];      /* the server's last sideband line during a push */
	const char *push_side_ref;      /* a rider's ref in this push, NULL if none */
	bool push_side_rejected;        /* ... which the server refused */
	size_t push_bytes;
	struct dg_nettimer timer;       /* inactivity timeout of network calls */
	/* dg_store_use_ref: the branch's state while a side ref is in use */
	bool on_side;
	struct {
		char branch_ref[256], tracking_ref[256], tip_hex[41];
		git_oid tip;
		bool has_tip, stale;
	} saved;
};


/* Our credential, certificate, progress and push-status callbacks. */
void store_init_callbacks(struct dg_store *store, git_remote_callbacks *cb);
/* Reads a blob of at most limit bytes into out; what names it in errors. */
int store_blob_read(struct dg_store *store, const git_oid *id, size_t limit,
		    const char *what, struct dg_strbuf *out);
/* Creates store->remote for store->repo (see store.c for why not anonymous). */
int store_remote_open(struct dg_store *store);
/* Repacks the cache when it holds too many packs or loose objects. */
int store_maybe_repack(struct dg_store *store);

/* Records libgit2's last error (redacted) as ours; returns our code. */
int store_git_fail(struct dg_store *store, int code, const char *what);
/* store_git_fail for network calls: one our timer interrupted timed out. */
int store_net_fail(struct dg_store *store, int code, const char *what);
/* Reads the tracking ref into store->tip. */
int store_load_tip(struct dg_store *store);
/* The known tip's tree, NULL for an empty branch. */
int store_tip_tree(struct dg_store *store, git_tree **out);
int store_tree_read(struct dg_store *store, git_tree *tree, const char *path, struct dg_strbuf *out);
/* The id of directory dir under root (NULL: an empty branch); DG_ENOTFOUND when it is none. */
int store_tree_dir_id(git_tree *root, const char *dir, char id[41]);
int store_tree_list(struct dg_store *store, git_tree *root, const char *dir,
		    dg_list_cb cb, void *payload);
/*
 * A side ref that rides on a transaction's push (dg_txn_side): created or
 * replaced by force, or deleted.
 */
struct store_rider {
	char ref[300];          /* refs/dgrid/NAME */
	char local_ref[300];    /* where this repository keeps it: the tracking ref, or ref itself */
	bool remove;
	git_oid commit;         /* what ref points at, unless remove */
	bool published;         /* out: it landed */
};

/*
 * Publishes commit as ref: with force, unconditionally; else only if the
 * ref still is the known tip. DG_ECONFLICT when it moved. A rider (or
 * NULL) goes with it, whatever the compare-and-swap's outcome.
 */
int store_publish_local(struct dg_store *store, const char *ref, const git_oid *commit, bool force,
			struct store_rider *rider);
/* A local repository's refs lock, which every dgrid writer of its refs takes: the fd, or DG_ERROR. */
int store_lock_refs(struct dg_store *store);
int store_publish_remote(struct dg_store *store, const char *local_ref, const char *remote_ref,
			 const git_oid *commit, bool force, struct store_rider *rider);
/* The parentless commit of a side ref named name, holding one file (path, data). */
int store_side_commit(struct dg_store *store, const char *name, const char *path,
		      const void *data, size_t len, git_oid *out);

#endif
