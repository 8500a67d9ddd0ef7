// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "wbt_test.h"
#include "json.h"

static const char *esc(const char *in)
{
	static char buf[256];

	wb_json_escape(in, buf, sizeof(buf));
	return buf;
}

void test_json(void)
{
	char small[8], *mem = NULL;
	size_t len = 0;
	FILE *f;
	struct wb_json j;

	CHECK_STR(esc("plain"), "plain");
	CHECK_STR(esc(""), "");
	CHECK_STR(esc(NULL), "");
	CHECK_STR(esc("a\"b"), "a\\\"b");
	CHECK_STR(esc("back\\slash"), "back\\\\slash");
	CHECK_STR(esc("nl\ntab\tcr\r"), "nl\\ntab\\tcr\\r");
	CHECK_STR(esc("\b\f"), "\\b\\f");
	CHECK_STR(esc("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
	CHECK_STR(esc("caf\xc3\xa9"), "caf\xc3\xa9");			/* valid UTF-8 kept */
	CHECK_STR(esc("\xe2\x82\xac"), "\xe2\x82\xac");			/* euro sign */
	CHECK_STR(esc("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");		/* 4-byte */
	CHECK_STR(esc("bad\xff"), "bad\\ufffd");			/* invalid byte */
	CHECK_STR(esc("\xc3"), "\\ufffd");				/* truncated sequence */
	CHECK_STR(esc("\xc0\xaf"), "\\ufffd\\ufffd");			/* overlong */
	CHECK_STR(esc("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");	/* surrogate */

	/* length is reported like snprintf; output truncated on whole pieces */
	CHECK_EQ_U(wb_json_escape("abc\"", small, sizeof(small)), 5);
	CHECK_STR(small, "abc\\\"");
	CHECK_EQ_U(wb_json_escape("abcdef\n", small, sizeof(small)), 8);
	CHECK_STR(small, "abcdef");
	CHECK_EQ_U(wb_json_escape("x", NULL, 0), 1);

	/* writer: nesting, commas, numbers, null for non-finite */
	f = open_memstream(&mem, &len);
	wb_json_init(&j, f, false);
	wb_json_obj(&j, NULL);
	wb_json_str(&j, "s", "q\"");
	wb_json_u64(&j, "u", 18446744073709551615ULL);
	wb_json_i64(&j, "i", -5);
	wb_json_dbl(&j, "d", 1.5);
	wb_json_dbl(&j, "whole", 2.0);
	wb_json_dbl(&j, "nan", 0.0 / 0.0);
	wb_json_bool(&j, "b", true);
	wb_json_null(&j, "n");
	wb_json_str(&j, "ns", NULL);
	wb_json_arr(&j, "a");
	wb_json_u64(&j, NULL, 1);
	wb_json_u64(&j, NULL, 2);
	wb_json_arr_end(&j);
	wb_json_arr(&j, "empty");
	wb_json_arr_end(&j);
	wb_json_obj(&j, "o");
	wb_json_obj_end(&j);
	wb_json_obj_end(&j);
	fclose(f);
	CHECK_STR(mem, "{\"s\":\"q\\\"\",\"u\":18446744073709551615,\"i\":-5,\"d\":1.5,"
		  "\"whole\":2.0,\"nan\":null,\"b\":true,\"n\":null,\"ns\":null,\"a\":[1,2],"
		  "\"empty\":[],\"o\":{}}");
	free(mem);

	/* pretty output parses the same shape */
	mem = NULL;
	f = open_memstream(&mem, &len);
	wb_json_init(&j, f, true);
	wb_json_obj(&j, NULL);
	wb_json_u64(&j, "k", 1);
	wb_json_obj_end(&j);
	fclose(f);
	CHECK_STR(mem, "{\n  \"k\": 1\n}");
	free(mem);

	/* 128-bit integers (sums of 64-bit values), exact */
	mem = NULL;
	f = open_memstream(&mem, &len);
	wb_json_init(&j, f, false);
	wb_json_arr(&j, NULL);
	wb_json_i128(&j, NULL, 0);
	wb_json_i128(&j, NULL, -1);
	wb_json_i128(&j, NULL, (__int128)9223372036854775807LL * 3);
	wb_json_i128(&j, NULL, -((__int128)1 << 100));
	wb_json_arr_end(&j);
	fclose(f);
	CHECK_STR(mem, "[0,-1,27670116110564327421,-1267650600228229401496703205376]");
	free(mem);
}
