#include "jsonio.h"
#include "error.h"
#include "strbuf.h"

json_t *dg_json_load_object(const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!root) {
		dg_error_set("line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		dg_error_set("expected a JSON object, got %s", dg_json_type_name(root));
		json_decref(root);
		return NULL;
	}
	return root;
}

const char *dg_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

static size_t skip_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i;
}

/* i is at the opening quote; returns the index just past the closing one. */
static size_t skip_string(const char *buf, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (buf[i] == '\\')
			i++;
		else if (buf[i] == '"')
			return i + 1;
	}
	return len;
}

static size_t skip_value(const char *buf, size_t len, size_t i)
{
	int depth = 0;

	if (i < len && buf[i] == '"')
		return skip_string(buf, len, i);
	while (i < len) {
		char c = buf[i];

		if (c == '"') {
			i = skip_string(buf, len, i);
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' ||
					  c == '\n' || c == '\r')) {
			return i;
		}
		i++;
	}
	return len;
}

static bool key_equals(const char *raw, size_t rawlen, const char *key)
{
	json_t *decoded;
	bool eq;

	if (!memchr(raw + 1, '\\', rawlen - 2))
		return rawlen - 2 == strlen(key) && !memcmp(raw + 1, key, rawlen - 2);
	decoded = json_loadb(raw, rawlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	eq = decoded && json_is_string(decoded) &&
	     json_string_length(decoded) == strlen(key) &&
	     !memcmp(json_string_value(decoded), key, strlen(key));
	json_decref(decoded);
	return eq;
}

void dg_json_key_pos(char *out, size_t outsz, const char *buf, size_t len,
		     const char *key)
{
	size_t i = skip_ws(buf, len, 0), start, line = 1, col = 1;

	out[0] = '\0';
	if (i >= len || buf[i] != '{')
		return;
	i++;
	for (;;) {
		i = skip_ws(buf, len, i);
		if (i >= len || buf[i] != '"')
			return;
		start = i;
		i = skip_string(buf, len, i);
		if (i >= len)
			return;
		bool match = key_equals(buf + start, i - start, key);
		i = skip_ws(buf, len, i);
		if (i >= len || buf[i] != ':')
			return;
		i = skip_ws(buf, len, i + 1);
		if (match)
			break;
		i = skip_ws(buf, len, skip_value(buf, len, i));
		if (i >= len || buf[i] != ',')
			return;
		i++;
	}
	for (size_t j = 0; j < i; j++) {
		if (buf[j] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)buf[j] & 0xC0) != 0x80) {
			col++;
		}
	}
	snprintf(out, outsz, "line %zu column %zu: ", line, col);
}

const char *dg_fmt_thousands(char out[32], uint64_t n)
{
	char digits[24];
	int nd = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t o = 0;

	for (int i = 0; i < nd; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}

const char *dg_fmt_quoted(char *out, size_t outsz, const char *s, size_t len,
			  size_t max)
{
	size_t o = 0, i;

	for (i = 0; i < len && i < max && o + 8 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(out + o, outsz - o, "\\x%02x", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < len && o + 4 <= outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static int dump_cb(const char *buf, size_t size, void *payload)
{
	dg_strbuf_add(payload, buf, size);
	return 0;
}

void dg_json_dump(struct dg_strbuf *out, const json_t *doc)
{
	json_dump_callback(doc, dump_cb, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	dg_strbuf_addch(out, '\n');
}
