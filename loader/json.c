// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	int n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

size_t wb_json_escape(const char *in, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t need = 0;
	char tmp[8];

	size_t wrote = 0;	/* bytes stored in out (a prefix of whole pieces) */
	bool full = false;

#define EMIT(str, len) do {						\
		size_t _l = (len);					\
		if (!full && wrote + _l < outsz) {			\
			memcpy(out + wrote, (str), _l);			\
			wrote += _l;					\
		} else {						\
			full = true;					\
		}							\
		need += _l;						\
	} while (0)

	while (*s) {
		unsigned char c = *s;
		const char *esc = NULL;
		int n;

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		}
		if (esc) {
			EMIT(esc, 2);
			s++;
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			EMIT(tmp, 6);
			s++;
		} else if ((n = utf8_len(s)) > 0) {
			EMIT((const char *)s, (size_t)n);
			s += n;
		} else {
			EMIT("\\ufffd", 6);
			s++;
		}
	}
#undef EMIT
	if (outsz)
		out[wrote] = 0;
	return need;
}

void wb_json_escape_to(FILE *f, const char *in)
{
	char buf[512];
	size_t need = wb_json_escape(in, buf, sizeof(buf));

	if (need < sizeof(buf)) {
		fputs(buf, f);
	} else {
		char *big = malloc(need + 1);

		if (!big)
			return;
		wb_json_escape(in, big, need + 1);
		fputs(big, f);
		free(big);
	}
}

void wb_json_init(struct wb_json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
	j->first[0] = true;
}

static void indent(struct wb_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void key_prefix(struct wb_json *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		indent(j);
	}
	j->first[j->depth] = false;
	if (key) {
		fputc('"', j->f);
		wb_json_escape_to(j->f, key);
		fputs(j->pretty ? "\": " : "\":", j->f);
	}
}

static void open_(struct wb_json *j, const char *key, char c)
{
	key_prefix(j, key);
	fputc(c, j->f);
	if (j->depth < WB_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct wb_json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty)
		indent(j);
	fputc(c, j->f);
}

void wb_json_obj(struct wb_json *j, const char *key) { open_(j, key, '{'); }
void wb_json_obj_end(struct wb_json *j) { close_(j, '}'); }
void wb_json_arr(struct wb_json *j, const char *key) { open_(j, key, '['); }
void wb_json_arr_end(struct wb_json *j) { close_(j, ']'); }

void wb_json_str(struct wb_json *j, const char *key, const char *s)
{
	key_prefix(j, key);
	if (!s) {
		fputs("null", j->f);
		return;
	}
	fputc('"', j->f);
	wb_json_escape_to(j->f, s);
	fputc('"', j->f);
}

void wb_json_u64(struct wb_json *j, const char *key, uint64_t v)
{
	key_prefix(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void wb_json_i64(struct wb_json *j, const char *key, int64_t v)
{
	key_prefix(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void wb_json_i128(struct wb_json *j, const char *key, __int128 v)
{
	unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	char buf[48], *p = buf + sizeof(buf) - 1;

	*p = 0;
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	key_prefix(j, key);
	fputs(p, j->f);
}

void wb_json_dbl(struct wb_json *j, const char *key, double v)
{
	key_prefix(j, key);
	if (!isfinite(v))
		fputs("null", j->f);
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		fprintf(j->f, "%.1f", v);
	else
		fprintf(j->f, "%.17g", v);
}

void wb_json_bool(struct wb_json *j, const char *key, bool v)
{
	key_prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void wb_json_null(struct wb_json *j, const char *key)
{
	key_prefix(j, key);
	fputs("null", j->f);
}
