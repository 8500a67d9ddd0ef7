// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "wbt_test.h"
#include "hist.h"

void test_hist(void)
{
	struct wb_log2 h = {}, h2 = {};
	uint64_t v[1000];

	/* slot convention: [2^i, 2^(i+1)), 0 and 1 in slot 0 */
	CHECK_EQ_U(wb_log2_slot(0), 0);
	CHECK_EQ_U(wb_log2_slot(1), 0);
	CHECK_EQ_U(wb_log2_slot(2), 1);
	CHECK_EQ_U(wb_log2_slot(3), 1);
	CHECK_EQ_U(wb_log2_slot(4), 2);
	CHECK_EQ_U(wb_log2_slot(4095), 11);
	CHECK_EQ_U(wb_log2_slot(4096), 12);
	CHECK_EQ_U(wb_log2_slot(UINT64_MAX), 63);

	/* nearest rank */
	CHECK_EQ_U(wb_pct_rank(0, 500), 0);
	CHECK_EQ_U(wb_pct_rank(1, 500), 1);
	CHECK_EQ_U(wb_pct_rank(1, 999), 1);
	CHECK_EQ_U(wb_pct_rank(10, 500), 5);
	CHECK_EQ_U(wb_pct_rank(10, 900), 9);
	CHECK_EQ_U(wb_pct_rank(10, 999), 10);
	CHECK_EQ_U(wb_pct_rank(1000, 999), 999);
	CHECK_EQ_U(wb_pct_rank(1001, 999), 1000);	/* ceil(999.999) */
	CHECK_EQ_U(wb_pct_rank(3, 500), 2);		/* ceil(1.5) */

	/* exact percentiles on 1..1000 shuffled */
	for (int i = 0; i < 1000; i++)
		v[i] = 1000 - i;
	wb_sort_u64(v, 1000);
	CHECK_EQ_U(v[0], 1);
	CHECK_EQ_U(v[999], 1000);
	CHECK_EQ_U(wb_pct_exact_sorted(v, 1000, 500), 500);
	CHECK_EQ_U(wb_pct_exact_sorted(v, 1000, 900), 900);
	CHECK_EQ_U(wb_pct_exact_sorted(v, 1000, 990), 990);
	CHECK_EQ_U(wb_pct_exact_sorted(v, 1000, 999), 999);
	CHECK_EQ_U(wb_pct_exact_sorted(v, 0, 500), 0);
	{
		uint64_t one = 42;

		CHECK_EQ_U(wb_pct_exact_sorted(&one, 1, 999), 42);
	}

	/* histogram accumulation and upper-bound percentiles */
	for (int i = 0; i < 90; i++)
		wb_log2_add(&h, 100);		/* slot 6: 64..127 */
	for (int i = 0; i < 9; i++)
		wb_log2_add(&h, 5000);		/* slot 12: 4096..8191 */
	wb_log2_add(&h, 1000000);		/* slot 19 */
	CHECK_EQ_U(h.count, 100);
	CHECK_EQ_U(h.sum, 90 * 100 + 9 * 5000 + 1000000);
	CHECK_EQ_U(h.min, 100);
	CHECK_EQ_U(h.max, 1000000);
	CHECK_EQ_U(h.slots[6], 90);
	CHECK_EQ_U(h.slots[12], 9);
	CHECK_EQ_U(h.slots[19], 1);
	CHECK_EQ_U(wb_log2_len(&h), 20);
	CHECK_EQ_U(wb_log2_pct_upper(&h, 500), 127);
	CHECK_EQ_U(wb_log2_pct_upper(&h, 900), 127);
	CHECK_EQ_U(wb_log2_pct_upper(&h, 990), 8191);
	CHECK_EQ_U(wb_log2_pct_upper(&h, 999), 1048575);

	/* merge keeps min/max/count/sum */
	wb_log2_add(&h2, 7);
	wb_log2_merge(&h2, &h);
	CHECK_EQ_U(h2.count, 101);
	CHECK_EQ_U(h2.min, 7);
	CHECK_EQ_U(h2.max, 1000000);
	CHECK_EQ_U(h2.slots[2], 1);
	{
		struct wb_log2 empty = {}, e2 = {};

		wb_log2_merge(&empty, &e2);
		CHECK_EQ_U(empty.count, 0);
		CHECK_EQ_U(wb_log2_len(&empty), 0);
		CHECK_EQ_U(wb_log2_pct_upper(&empty, 500), 0);
		wb_log2_add(&empty, 0);
		CHECK_EQ_U(empty.slots[0], 1);
		CHECK_EQ_U(empty.min, 0);
		CHECK_EQ_U(wb_log2_pct_upper(&empty, 999), 1);
	}
}
