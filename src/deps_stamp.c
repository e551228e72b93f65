#include "deps_stamp.h"
#include "layout.h"

#define FNV_OFFSET 14695981039346656037u
#define FNV_PRIME 1099511628211u

static uint64_t fnv_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV_PRIME;
	return (h ^ '/') * FNV_PRIME;
}

/* FNV-1a of dir's tree id; "-" for no such directory */
static uint64_t fnv_tree(uint64_t h, struct dg_txn *txn, const char *dir)
{
	char id[41] = "-";

	dg_txn_tree_id(txn, dir, id);
	return fnv_str(h, id);
}

uint16_t dg_results_leaf(const char *task_id)
{
	struct dg_strbuf d = DG_STRBUF_INIT;
	unsigned leaf = 0;

	dg_layout_shard(&d, task_id, DG_RESULT_SHARD_DEPTH);   /* "a/b/c" */
	for (const char *c = d.buf; *c; c++) {
		if (*c != '/')
			leaf = leaf << 4 | (unsigned)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
	}
	dg_strbuf_release(&d);
	return (uint16_t)leaf;
}

uint64_t dg_deps_world_stamp(struct dg_txn *txn)
{
	static const char *const dirs[] = { DG_DIR_COMPLETED, DG_DIR_FAILED, "nodes", "trust" };
	uint64_t h = FNV_OFFSET;

	for (size_t i = 0; i < DG_ARRAY_SIZE(dirs); i++)
		h = fnv_tree(h, txn, dirs[i]);
	return h;
}

/* the names of flat results (files at the results' top): never rewritten, so names suffice */
static int flat_result(const struct dg_entry *e, void *payload)
{
	uint64_t *h = payload;

	if (e->is_file)
		*h = fnv_str(*h, e->name);
	return 0;
}

static uint64_t side_stamp(struct dg_deps_stamper *s)
{
	if (!s->side_known) {
		uint64_t h = fnv_tree(fnv_tree(FNV_OFFSET, s->txn, "nodes"), s->txn, "trust");

		dg_txn_list(s->txn, DG_DIR_COMPLETED, flat_result, &h);
		h = fnv_str(h, "|");
		dg_txn_list(s->txn, DG_DIR_FAILED, flat_result, &h);
		s->side = h;
		s->side_known = true;
	}
	return s->side;
}

static uint64_t leaf_stamp(struct dg_deps_stamper *s, uint16_t leaf)
{
	if (!s->leaf) {
		s->leaf = dg_xcalloc(DG_RESULTS_LEAVES, sizeof(*s->leaf));
		s->known = dg_xcalloc(DG_RESULTS_LEAVES, 1);
	}
	leaf &= DG_RESULTS_LEAVES - 1;
	if (!s->known[leaf]) {
		static const char hex[] = "0123456789abcdef";
		char sub[8] = { hex[leaf >> 8], '/', hex[leaf >> 4 & 0xf], '/', hex[leaf & 0xf], '\0' };
		struct dg_strbuf dir = DG_STRBUF_INIT;
		uint64_t h = FNV_OFFSET;

		dg_strbuf_addf(&dir, "%s/%s", DG_DIR_COMPLETED, sub);
		h = fnv_tree(h, s->txn, dir.buf);
		dg_strbuf_reset(&dir);
		dg_strbuf_addf(&dir, "%s/%s", DG_DIR_FAILED, sub);
		h = fnv_tree(h, s->txn, dir.buf);
		dg_strbuf_release(&dir);
		s->leaf[leaf] = h;
		s->known[leaf] = 1;
	}
	return s->leaf[leaf];
}

uint64_t dg_deps_leaves_stamp(struct dg_deps_stamper *s, const uint16_t *leaves, size_t n)
{
	uint64_t h = side_stamp(s);

	/* order-free: a sum of the leaves' mixed stamps */
	for (size_t i = 0; i < n; i++) {
		uint64_t x = leaf_stamp(s, leaves[i]) ^ ((uint64_t)leaves[i] * 0x9e3779b97f4a7c15u);

		h += (x * FNV_PRIME) ^ (x >> 29);
	}
	return h;
}

void dg_deps_stamper_release(struct dg_deps_stamper *s)
{
	free(s->leaf);
	free(s->known);
	s->leaf = NULL;
	s->known = NULL;
	s->side_known = false;
}
