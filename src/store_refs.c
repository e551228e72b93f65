/*
 * store_refs.c - refs other than the branch: switching a store to a side
 * ref that has a history of its own (the archive), and restarting the
 * branch's history from its current tree (compaction). doc/protocol.md
 * gives the protocol; this is the Git side of it.
 */
#include "error.h"
#include "store_int.h"

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
	git_push_options po;
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
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks = cb;
	po.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	store->push_rejected = false;
	store->push_refused_ref[0] = '\0';
	store->push_status[0] = '\0';
	store->push_remote_msg[0] = '\0';
	store->pushing = true;
	err = git_remote_upload(store->remote, &refspecs, &po);
	store->pushing = false;
	if (err < 0) {
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
