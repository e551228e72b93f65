#include "watch.h"

#include <jansson.h>
#include <sodium.h>

/* key -> {"digest": hex, "since": first-seen ms, "round": n}; jansson's object is the hash table */
struct dg_watch {
	json_t *seen;
	int64_t now;
	json_int_t round;
};

struct dg_watch *dg_watch_new(void)
{
	struct dg_watch *watch = dg_xcalloc(1, sizeof(*watch));

	watch->seen = json_object();
	return watch;
}

void dg_watch_free(struct dg_watch *watch)
{
	if (!watch)
		return;
	json_decref(watch->seen);
	free(watch);
}

void dg_watch_begin(struct dg_watch *watch, int64_t now_ms)
{
	watch->now = now_ms;
	watch->round++;
}

int64_t dg_watch_see(struct dg_watch *watch, const char *key, const void *data, size_t len)
{
	unsigned char digest[16];
	char hex[33];
	json_t *e = json_object_get(watch->seen, key);
	const char *old;

	crypto_generichash(digest, sizeof(digest), data, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	old = json_string_value(json_object_get(e, "digest"));
	if (!e || !old || strcmp(old, hex)) {
		e = json_pack("{s:s, s:I, s:I}", "digest", hex, "since", (json_int_t)watch->now,
			      "round", watch->round);
		json_object_set_new(watch->seen, key, e);
		return 0;
	}
	json_object_set_new(e, "round", json_integer(watch->round));
	return watch->now - (int64_t)json_integer_value(json_object_get(e, "since"));
}

void dg_watch_end(struct dg_watch *watch)
{
	const char *key;
	json_t *e, *tmp;

	json_object_foreach_safe(watch->seen, tmp, key, e) {
		if (json_integer_value(json_object_get(e, "round")) != watch->round)
			json_object_del(watch->seen, key);
	}
}
