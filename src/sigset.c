/*
 * sigset.c - a file's signatures in the repository (sigset.h).
 */
#include "sigset.h"
#include "tasksign.h"

static void add(struct dg_sigset *set, const char *path)
{
	struct dg_strbuf *t = &set->text[set->nr];

	if (set->nr >= DG_SIGSET_MAX)
		return;
	dg_strbuf_init(t, 0);
	if (dg_txn_read(set->txn, path, t) < 0 || t->len > DG_TASKSIGN_MAX) {
		dg_strbuf_release(t);
		return;
	}
	set->names[set->nr] = dg_xstrdup(path);
	set->files[set->nr] = (struct dg_signature_file){ set->names[set->nr], t->buf, t->len };
	set->nr++;
}

static int entry(const struct dg_entry *e, void *payload)
{
	size_t n = strlen(e->name);

	if (e->is_file && n > 4 && !strcmp(e->name + n - 4, ".sig") && dg_entry_size(e) <= DG_TASKSIGN_MAX)
		add(payload, e->path);
	return 0;
}

int dg_sigset_read(struct dg_sigset *set, struct dg_txn *txn, const char *file)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	int ret;

	dg_sigset_release(set);
	set->txn = txn;
	dg_strbuf_addf(&path, "%s.sig", file);
	if (dg_txn_exists(txn, path.buf))
		add(set, path.buf);
	dg_strbuf_addch(&path, 's');
	ret = dg_txn_list(txn, path.buf, entry, set);
	dg_strbuf_release(&path);
	return ret;
}

void dg_sigset_release(struct dg_sigset *set)
{
	for (size_t i = 0; i < set->nr; i++) {
		dg_strbuf_release(&set->text[i]);
		free(set->names[i]);
	}
	set->nr = 0;
}
