/*
 * store_refs.c - refs other than the branch: switching a store to a side
 * ref that has a history of its own (the archive), restarting the
 * branch's history from its current tree (compaction), and deleting old
 * side refs (heartbeats of nodes long gone). doc/protocol.md gives the
 * protocol; this is the Git side of it.
 */
#include "error.h"
#include "store_int.h"

#include <unistd.h>

int dg_store_use_ref(struct dg_store *store, const char *ref)
{
	if (!ref) {
		if (!store->on_side)
			return 0;
		memcpy(store->branch_ref, store->saved.branch_ref, sizeof(store->branch_ref));
		memcpy(store->tracking_ref, store->saved.tracking_ref, sizeof(store->tracking_ref));
		memcpy(store->tip_hex, store->saved.tip_hex, sizeof(store->tip_hex));
		store->tip = store->saved.tip;
		store->has_tip = store->saved.has_tip;
		store->stale = store->saved.stale;
		store->on_side = false;
		return 0;
	}
	if (strncmp(ref, "refs/dgrid/", 11) || git_reference_is_valid_name(ref) != 1) {
		dg_error_set("'%s' is not a ref under refs/dgrid/", ref);
		return DG_EINVALID;
	}
	if (!store->on_side) {
		memcpy(store->saved.branch_ref, store->branch_ref, sizeof(store->branch_ref));
		memcpy(store->saved.tracking_ref, store->tracking_ref, sizeof(store->tracking_ref));
		memcpy(store->saved.tip_hex, store->tip_hex, sizeof(store->tip_hex));
		store->saved.tip = store->tip;
		store->saved.has_tip = store->has_tip;
		store->saved.stale = store->stale;
		store->on_side = true;
	}
	snprintf(store->branch_ref, sizeof(store->branch_ref), "%s", ref);
	/* a remote's side ref is tracked where the heartbeats are: refs/remotes/dgrid/... */
	if (store->local)
		snprintf(store->tracking_ref, sizeof(store->tracking_ref), "%s", ref);
	else
		snprintf(store->tracking_ref, sizeof(store->tracking_ref), "refs/remotes/%s", ref + 5);
	store->stale = false;
	return store_load_tip(store);
}

/*
 * Pushes refspecs over the connection made with cb: the host's word on
 * each ref lands in store->push_* (push_update_cb), a refusal included,
 * since git_remote_upload returns 0 for it.
 */
static int upload(struct dg_store *store, const git_remote_callbacks *cb, const git_strarray *refspecs)
{
	git_push_options po;
	int err;

	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks = *cb;
	po.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	store->push_rejected = false;
	store->push_refused_ref[0] = '\0';
	store->push_status[0] = '\0';
	store->push_remote_msg[0] = '\0';
	store->pushing = true;
	err = git_remote_upload(store->remote, refspecs, &po);
	store->pushing = false;
	return err;
}

/* The parentless commit holding the known tip's tree. */
static int root_commit(struct dg_store *store, const char *message, git_oid *out)
{
	git_commit *tip = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	int ret = 0;

	if (git_commit_lookup(&tip, store->repo, &store->tip) < 0 ||
	    git_commit_tree(&tree, tip) < 0 ||
	    git_signature_now(&sig, store->author, "dgrid@localhost") < 0 ||
	    git_commit_create(out, store->repo, NULL, sig, sig, NULL, message, tree, 0, NULL) < 0)
		ret = store_git_fail(store, -1, "cannot create the new root commit");
	git_signature_free(sig);
	git_tree_free(tree);
	git_commit_free(tip);
	return ret;
}

static unsigned epoch_number(const char *name)
{
	const char *p = name + strlen("refs/dgrid/epochs/");
	char *end;
	unsigned long n = strtoul(p, &end, 10);

	return *p && !*end && n < 1000000 ? (unsigned)n : 0;
}

static int compact_local(struct dg_store *store, const git_oid *root, unsigned *epoch)
{
	git_reference_iterator *it = NULL;
	git_reference *r = NULL;
	unsigned next = 1;
	char name[64];
	int err, ret;

	if (git_reference_iterator_glob_new(&it, store->repo, "refs/dgrid/epochs/*") == 0) {
		while (git_reference_next(&r, it) == 0) {
			unsigned n = epoch_number(git_reference_name(r));
			if (n >= next)
				next = n + 1;
			git_reference_free(r);
		}
		git_reference_iterator_free(it);
	}
	for (;; next++) {
		snprintf(name, sizeof(name), "refs/dgrid/epochs/%u", next);
		err = git_reference_create(&r, store->repo, name, &store->tip, 0, "dgrid compact");
		git_reference_free(r);
		if (err != GIT_EEXISTS)
			break;
	}
	if (err < 0)
		return store_git_fail(store, err, "cannot create the epoch ref");
	/* compare-and-swap against the tip the new root was made from */
	if ((ret = store_publish_local(store, store->branch_ref, root, false, NULL)) < 0)
		return ret;
	*epoch = next;
	return 0;
}

/*
 * Remote: one connection. Its advertisement must show the branch at the
 * known tip; the push then names that value as the branch's old one, and
 * the server updates the ref only if it still holds it (receive-pack's ref
 * transaction compares old values), which makes the forced update a
 * compare-and-swap ("force with lease").
 */
static int compact_remote(struct dg_store *store, const git_oid *root, unsigned *epoch)
{
	git_remote_callbacks cb;
	const git_remote_head **heads;
	git_reference *r = NULL;
	size_t heads_nr;
	unsigned next = 1;
	bool at_tip = false;
	char spec_epoch[128], spec_main[600];
	char *specs[2] = { spec_epoch, spec_main };
	git_strarray refspecs = { specs, 2 };
	int err, ret = 0;

	if (git_reference_create(&r, store->repo, "refs/dgrid-txn/epoch", &store->tip, 1, NULL) < 0 ||
	    (git_reference_free(r), git_reference_create(&r, store->repo, "refs/dgrid-txn/root", root, 1, NULL)) < 0) {
		git_reference_free(r);
		return store_git_fail(store, -1, "cannot record commit");
	}
	git_reference_free(r);
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	store_init_callbacks(store, &cb);
	dg_nettimer_arm(&store->timer);
	err = git_remote_connect(store->remote, GIT_DIRECTION_PUSH, &cb, NULL, NULL);
	if (err < 0) {
		dg_nettimer_disarm(&store->timer);
		return store_net_fail(store, err, "cannot connect");
	}
	if ((err = git_remote_ls(&heads, &heads_nr, store->remote)) < 0) {
		ret = store_net_fail(store, err, "cannot list the remote's refs");
		goto out;
	}
	for (size_t i = 0; i < heads_nr; i++) {
		if (!strcmp(heads[i]->name, store->branch_ref))
			at_tip = git_oid_equal(&heads[i]->oid, &store->tip);
		else if (!strncmp(heads[i]->name, "refs/dgrid/epochs/", 18) &&
			 epoch_number(heads[i]->name) >= next)
			next = epoch_number(heads[i]->name) + 1;
	}
	if (!at_tip) {
		dg_error_set("%s moved since the last fetch", store->branch_ref);
		ret = DG_ECONFLICT;
		goto out;
	}
	snprintf(spec_epoch, sizeof(spec_epoch), "refs/dgrid-txn/epoch:refs/dgrid/epochs/%u", next);
	snprintf(spec_main, sizeof(spec_main), "+refs/dgrid-txn/root:%s", store->branch_ref);
	if ((err = upload(store, &cb, &refspecs)) < 0) {
		ret = store_net_fail(store, err, "cannot push");
		goto out;
	}
	if (store->push_rejected && !strcmp(store->push_refused_ref, store->branch_ref)) {
		if (store->push_remote_msg[0])
			dg_error_set("the forced update of %s was refused by the server: %s (remote: %s)",
				     store->branch_ref, store->push_status, store->push_remote_msg);
		else
			dg_error_set("the forced update of %s was refused by the server: %s",
				     store->branch_ref, store->push_status);
		ret = DG_EREFUSED;   /* dg_store_compact_history tells a race from a refusal */
		goto out;
	}
	*epoch = next;
out:
	git_remote_disconnect(store->remote);
	dg_nettimer_disarm(&store->timer);
	return ret;
}

int dg_store_compact_history(struct dg_store *store, const char *message, unsigned *epoch)
{
	git_reference *r = NULL;
	git_oid root;
	char base[41];
	int ret;

	if (store->on_side) {
		dg_error_set("compaction works on the branch, not on %s", store->branch_ref);
		return DG_EINVALID;
	}
	if ((ret = dg_store_fetch(store)) < 0)
		return ret;
	if (!store->has_tip) {
		dg_error_set("%s does not exist", store->branch_ref);
		return DG_ENOTFOUND;
	}
	snprintf(base, sizeof(base), "%s", store->tip_hex);
	if ((ret = root_commit(store, message, &root)) < 0)
		return ret;
	ret = store->local ? compact_local(store, &root, epoch) : compact_remote(store, &root, epoch);
	if (ret == DG_EREFUSED) {
		/* refused although nobody moved the branch: the host forbids it */
		char *why = dg_xstrdup(dg_error_last());
		if (dg_store_fetch(store) == 0 && strcmp(store->tip_hex, base))
			ret = DG_ECONFLICT;
		dg_error_set("%s", why);
		free(why);
	}
	if (ret < 0)
		return ret;
	if (!store->local && git_reference_create(&r, store->repo, store->tracking_ref, &root, 1, NULL) < 0)
		return store_git_fail(store, -1, "cannot record the new root");
	git_reference_free(r);
	return store_load_tip(store);
}

int dg_store_peek(struct dg_store *store, char tip[41])
{
	git_remote_connect_options co;
	const git_remote_head **heads;
	size_t heads_nr;
	git_oid oid;
	int err, ret = 0;

	tip[0] = '\0';
	if (store->local) {
		err = git_reference_name_to_id(&oid, store->repo, store->tracking_ref);
		if (err == GIT_ENOTFOUND)
			return 0;
		if (err < 0)
			return store_git_fail(store, err, "cannot read branch");
		git_oid_tostr(tip, 41, &oid);
		return 0;
	}
	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	store_init_callbacks(store, &co.callbacks);
	/* a redirect elsewhere would carry the token to another host */
	co.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	dg_nettimer_arm(&store->timer);
	err = git_remote_connect_ext(store->remote, GIT_DIRECTION_FETCH, &co);
	if (err < 0) {
		dg_nettimer_disarm(&store->timer);
		return store_net_fail(store, err, "cannot connect");
	}
	if ((err = git_remote_ls(&heads, &heads_nr, store->remote)) < 0)
		ret = store_net_fail(store, err, "cannot list the remote's refs");
	for (size_t i = 0; !ret && i < heads_nr; i++)
		if (!strcmp(heads[i]->name, store->branch_ref))
			git_oid_tostr(tip, 41, &heads[i]->oid);
	git_remote_disconnect(store->remote);
	dg_nettimer_disarm(&store->timer);
	return ret;
}

/* ---------------------------------------------------------- pruning */

/* Where this store keeps side ref name: the ref itself (local), or its tracking ref. */
static void side_local_name(const struct dg_store *store, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s%s", store->local ? "refs/dgrid/" : "refs/remotes/dgrid/", name);
}

int dg_store_side_id(struct dg_store *store, const char *name, char id[41])
{
	char ref[320];
	git_oid oid;
	int err;

	id[0] = '\0';
	side_local_name(store, name, ref, sizeof(ref));
	if ((err = git_reference_name_to_id(&oid, store->repo, ref)) == GIT_ENOTFOUND)
		return DG_ENOTFOUND;
	if (err < 0)
		return store_git_fail(store, err, "cannot read side ref");
	git_oid_tostr(id, 41, &oid);
	return 0;
}

/* Local: each ref that still is the commit judged goes, under the lock every writer takes. */
static int prune_local(struct dg_store *store, const struct dg_side_ref *refs, size_t n, size_t *pruned)
{
	int fd = store_lock_refs(store);

	if (fd < 0)
		return fd;
	for (size_t i = 0; i < n; i++) {
		char ref[320], now[41];

		side_local_name(store, refs[i].name, ref, sizeof(ref));
		if (dg_store_side_id(store, refs[i].name, now) == 0 && !strcmp(now, refs[i].id) &&
		    git_reference_remove(store->repo, ref) == 0)
			(*pruned)++;
	}
	close(fd);
	return 0;
}

/* Remote: one push deleting each ref the host still advertises as the commit judged. */
static int prune_remote(struct dg_store *store, const struct dg_side_ref *refs, size_t n, size_t *pruned)
{
	git_remote_callbacks cb;
	const git_remote_head **heads;
	size_t heads_nr, nr = 0;
	char **specs = dg_xcalloc(n + 1, sizeof(*specs));
	size_t *sent = dg_xcalloc(n + 1, sizeof(*sent));   /* refs' index of each spec */
	git_strarray refspecs;
	int err, ret = 0;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	store_init_callbacks(store, &cb);
	dg_nettimer_arm(&store->timer);
	if ((err = git_remote_connect(store->remote, GIT_DIRECTION_PUSH, &cb, NULL, NULL)) < 0) {
		ret = store_net_fail(store, err, "cannot connect");
		goto done;
	}
	if ((err = git_remote_ls(&heads, &heads_nr, store->remote)) < 0) {
		ret = store_net_fail(store, err, "cannot list the remote's refs");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char ref[320], hex[41];

		snprintf(ref, sizeof(ref), "refs/dgrid/%s", refs[i].name);
		for (size_t k = 0; k < heads_nr; k++) {
			if (strcmp(heads[k]->name, ref))
				continue;
			if (!strcmp(git_oid_tostr(hex, sizeof(hex), &heads[k]->oid), refs[i].id)) {
				sent[nr] = i;
				specs[nr++] = dg_xasprintf(":%s", ref);
			}
			break;
		}
	}
	if (!nr)
		goto out;
	refspecs.strings = specs;
	refspecs.count = nr;
	if ((err = upload(store, &cb, &refspecs)) < 0) {
		ret = store_net_fail(store, err, "cannot push");
		goto out;
	}
	/* the host updates each ref on its own: after a refusal the next fetch says which went */
	if (store->push_rejected)
		goto out;
	*pruned = nr;
	for (size_t i = 0; i < nr; i++) {
		char ref[320];
		git_reference *r = NULL;

		side_local_name(store, refs[sent[i]].name, ref, sizeof(ref));
		if (git_reference_lookup(&r, store->repo, ref) == 0)
			git_reference_delete(r);
		git_reference_free(r);
	}
out:
	git_remote_disconnect(store->remote);
done:
	dg_nettimer_disarm(&store->timer);
	for (size_t i = 0; i < nr; i++)
		free(specs[i]);
	free(specs);
	free(sent);
	return ret;
}

int dg_store_prune_side(struct dg_store *store, const struct dg_side_ref *refs, size_t n, size_t *pruned)
{
	*pruned = 0;
	for (size_t i = 0; i < n; i++) {
		char ref[320];

		snprintf(ref, sizeof(ref), "refs/dgrid/%s", refs[i].name);
		if (git_reference_is_valid_name(ref) != 1) {
			dg_error_set("invalid side ref name '%s'", refs[i].name);
			return DG_EINVALID;
		}
	}
	if (!n)
		return 0;
	return store->local ? prune_local(store, refs, n, pruned) : prune_remote(store, refs, n, pruned);
}
