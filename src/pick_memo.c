/*
 * pick_memo.c - dg_pick_memo (pick_memo.h): an open-addressed table of
 * tree ids, emptied when it holds DG_PICK_MEMO_MAX of them.
 */
#include "pick_memo.h"

/* a power of two, a third larger than DG_PICK_MEMO_MAX: probes stay short */
#define SLOTS 8192

struct slot {
	bool used;
	unsigned char id[20];
	struct dg_pick_memo_entry e;
};

struct dg_pick_memo {
	struct slot *slots;
	size_t used;
	uint64_t policy;   /* FNV-1a of the policy's bytes */
	bool policy_seen;
	uint64_t world;    /* dg_pick_memo_world */
};

static void forget(struct dg_pick_memo *m)
{
	for (size_t i = 0; i < SLOTS; i++)
		free((void *)m->slots[i].e.leaves);
	memset(m->slots, 0, SLOTS * sizeof(*m->slots));
	m->used = 0;
}

struct dg_pick_memo *dg_pick_memo_new(void)
{
	struct dg_pick_memo *m = dg_xcalloc(1, sizeof(*m));

	m->slots = dg_xcalloc(SLOTS, sizeof(*m->slots));
	return m;
}

void dg_pick_memo_free(struct dg_pick_memo *m)
{
	if (!m)
		return;
	forget(m);
	free(m->slots);
	free(m);
}

void dg_pick_memo_policy(struct dg_pick_memo *m, const void *policy, size_t len)
{
	const unsigned char *p = policy;
	uint64_t h = 14695981039346656037u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211u;
	if (m->policy_seen && h != m->policy)
		forget(m);
	m->policy = h;
	m->policy_seen = true;
}

void dg_pick_memo_world(struct dg_pick_memo *m, uint64_t stamp)
{
	if (m)
		m->world = stamp;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 40 lower-case hex digits into 20 bytes; false for anything else */
static bool parse_id(const char *hex, unsigned char id[20])
{
	for (size_t i = 0; i < 20; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : hex_digit(hex[2 * i + 1]);

		if (lo < 0)
			return false;
		id[i] = (unsigned char)(hi << 4 | lo);
	}
	return !hex[40];
}

/* The slot of id: where it is, or the free one where it would go. Ids are hashes already. */
static struct slot *slot_of(const struct dg_pick_memo *m, const unsigned char id[20])
{
	size_t i = ((size_t)id[0] | (size_t)id[1] << 8 | (size_t)id[2] << 16) & (SLOTS - 1);

	while (m->slots[i].used && memcmp(m->slots[i].id, id, 20))
		i = (i + 1) & (SLOTS - 1);
	return &m->slots[i];
}

enum dg_pick_memo_hit dg_pick_memo_get(const struct dg_pick_memo *m, const char *id, int64_t now,
				       struct dg_pick_memo_entry *out)
{
	unsigned char raw[20];
	const struct slot *s;

	if (!m || !parse_id(id, raw))
		return DG_PICK_MEMO_MISS;
	s = slot_of(m, raw);
	/* a task that was not due is due now: the shard holds one for us */
	if (!s->used || (s->e.ready_at && now >= s->e.ready_at))
		return DG_PICK_MEMO_MISS;
	/* waiting tasks judged long ago: a dependency may have gone without a result */
	if (s->e.blocked && now >= s->e.judged_by)
		return DG_PICK_MEMO_MISS;
	*out = s->e;
	/* a result landed or went since (or a key changed): was it one of theirs? */
	if (s->e.blocked && s->e.world != m->world)
		return s->e.leaves_known ? DG_PICK_MEMO_CHECK : DG_PICK_MEMO_MISS;
	return DG_PICK_MEMO_HIT;
}

void dg_pick_memo_renew(struct dg_pick_memo *m, const char *id)
{
	unsigned char raw[20];
	struct slot *s;

	if (m && parse_id(id, raw) && (s = slot_of(m, raw))->used)
		s->e.world = m->world;
}

void dg_pick_memo_put(struct dg_pick_memo *m, const char *id, const struct dg_pick_memo_entry *e)
{
	unsigned char raw[20];
	struct slot *s;

	if (!m || !parse_id(id, raw))
		return;
	s = slot_of(m, raw);
	if (!s->used) {
		if (m->used >= DG_PICK_MEMO_MAX) {
			forget(m);
			s = slot_of(m, raw);
		}
		m->used++;
	}
	free((void *)s->e.leaves);
	s->used = true;
	memcpy(s->id, raw, 20);
	s->e = *e;
	s->e.leaves = NULL;
	s->e.leaves_nr = 0;
	if (e->leaves_known && e->leaves_nr) {
		uint16_t *copy = dg_xcalloc(e->leaves_nr, sizeof(*copy));

		memcpy(copy, e->leaves, e->leaves_nr * sizeof(*copy));
		s->e.leaves = copy;
		s->e.leaves_nr = e->leaves_nr;
	}
}
