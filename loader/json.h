/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal streaming JSON writer (compact output, one document or one line). */
#ifndef WB_JSON_H
#define WB_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define WB_JSON_MAX_DEPTH 32

struct wb_json {
	FILE *f;
	int depth;
	bool first[WB_JSON_MAX_DEPTH];
	bool pretty;
};

void wb_json_init(struct wb_json *j, FILE *f, bool pretty);
/* `key` is NULL for array elements and the top-level value. */
void wb_json_obj(struct wb_json *j, const char *key);
void wb_json_obj_end(struct wb_json *j);
void wb_json_arr(struct wb_json *j, const char *key);
void wb_json_arr_end(struct wb_json *j);
void wb_json_str(struct wb_json *j, const char *key, const char *s);	/* NULL -> null */
void wb_json_u64(struct wb_json *j, const char *key, uint64_t v);
void wb_json_i64(struct wb_json *j, const char *key, int64_t v);
void wb_json_i128(struct wb_json *j, const char *key, __int128 v);	/* exact, any size */
void wb_json_dbl(struct wb_json *j, const char *key, double v);	/* non-finite -> null */
void wb_json_bool(struct wb_json *j, const char *key, bool v);
void wb_json_null(struct wb_json *j, const char *key);

/*
 * Escape `in` as the inside of a JSON string into out[outsz].  Control
 * characters become \n \t ... or \u00XX, invalid UTF-8 bytes become \ufffd.
 * Returns the length the full escape needs (like snprintf); out is always
 * NUL-terminated when outsz > 0.
 */
size_t wb_json_escape(const char *in, char *out, size_t outsz);
void wb_json_escape_to(FILE *f, const char *in);

#endif /* WB_JSON_H */
