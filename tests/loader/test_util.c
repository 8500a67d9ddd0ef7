// SPDX-License-Identifier: GPL-2.0
#include "wbt_test.h"
#include "util.h"

void test_util(void)
{
	uint64_t u = 99;
	uint32_t d = 0;
	double x;
	struct wb_vec v = {};

	CHECK(!wb_parse_u64("42", &u) && u == 42);
	CHECK(!wb_parse_u64("0x10", &u) && u == 16);
	CHECK(wb_parse_u64("-1", &u) && u == 16);
	CHECK(wb_parse_u64("", &u));
	CHECK(wb_parse_u64(" 1", &u));
	CHECK(wb_parse_u64("1 ", &u));
	CHECK(wb_parse_u64("99999999999999999999999", &u));

	CHECK(!wb_parse_double("0.5", &x) && x == 0.5);
	CHECK(wb_parse_double("nan", &x));
	CHECK(wb_parse_double("1e999", &x));

	CHECK(!wb_parse_duration_ns("1", &u) && u == 1000000000ULL);
	CHECK(!wb_parse_duration_ns("1.5", &u) && u == 1500000000ULL);
	CHECK(!wb_parse_duration_ns("20s", &u) && u == 20000000000ULL);
	CHECK(!wb_parse_duration_ns("10ms", &u) && u == 10000000ULL);
	CHECK(!wb_parse_duration_ns("7us", &u) && u == 7000ULL);
	CHECK(!wb_parse_duration_ns("2m", &u) && u == 120000000000ULL);
	CHECK(!wb_parse_duration_ns("1h", &u) && u == 3600000000000ULL);
	CHECK(wb_parse_duration_ns("0", &u));
	CHECK(wb_parse_duration_ns("-1", &u));
	CHECK(wb_parse_duration_ns("s", &u));
	CHECK(wb_parse_duration_ns("5x", &u));
	CHECK(wb_parse_duration_ns("", &u));
	CHECK(wb_parse_duration_ns("1e30", &u));

	CHECK(!wb_parse_size_mib("8", &u) && u == 8ULL << 20);
	CHECK(!wb_parse_size_mib("512K", &u) && u == 512ULL << 10);
	CHECK(!wb_parse_size_mib("64KiB", &u) && u == 64ULL << 10);
	CHECK(!wb_parse_size_mib("2MiB", &u) && u == 2ULL << 20);
	CHECK(!wb_parse_size_mib("1m", &u) && u == 1ULL << 20);
	CHECK(wb_parse_size_mib("0", &u));
	CHECK(wb_parse_size_mib("-8", &u));
	CHECK(wb_parse_size_mib("8G", &u));
	CHECK(wb_parse_size_mib("M", &u));

	CHECK(wb_is_pow2(4096) && !wb_is_pow2(0) && !wb_is_pow2(12288));

	CHECK(!wb_parse_majmin("254:0", &d) && d == (254u << 20));
	CHECK(!wb_parse_majmin("8:17", &d) && d == ((8u << 20) | 17));
	CHECK(wb_parse_majmin("8", &d));
	CHECK(wb_parse_majmin("8:1x", &d));
	CHECK(wb_parse_majmin("4096:0", &d));	/* major is 12 bits in s_dev */

	{
		int bad = 0;

		for (int i = 0; i < 5000; i++)
			bad += wb_vec_push(&v, i) != 0;
		CHECK(bad == 0);
	}
	CHECK_EQ_U(v.n, 5000);
	CHECK_EQ_U(v.v[4999], 4999);
	wb_vec_free(&v);
	CHECK(v.n == 0 && v.v == NULL);

	CHECK_STR(wb_exit_name(WB_EXIT_DROPS), "DROPS");
	CHECK_STR(wb_exit_name(WB_EXIT_LOST), "LOST");
	CHECK_STR(wb_exit_name(WB_EXIT_NO_F2FS), "NO_F2FS");
	CHECK_STR(wb_exit_name(77), "?");
}
