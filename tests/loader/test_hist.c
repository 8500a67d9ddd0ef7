// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "wbt_test.h"
#include "hist.h"

/*
 * The log-linear layout (bpf/wbtrace.h wb_ll_bucket, the code the BPF
 * programs run) against the table tests/analysis checks analysis/stats.py
 * with: value -> bucket, and the bucket's bounds.
 */
static void test_loglin_table(void)
{
	FILE *f = fopen(WBT_TESTDIR "/loglin_buckets.tsv", "r");
	char line[256];
	int rows = 0;

	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v, lo, hi;
		unsigned b;

		if (line[0] == '#')
			continue;
		CHECK(sscanf(line, "%llu %u %llu %llu", &v, &b, &lo, &hi) == 4);
		CHECK_EQ_U(wb_ll_bucket(v), b);
		CHECK_EQ_U(wb_ll_lo(b), lo);
		CHECK_EQ_U(wb_ll_hi(b), hi);
		/* the BPF side's floor(log2) is the loader's log2 slot */
		CHECK_EQ_U(wb_log2_64(v), wb_log2_slot(v));
		rows++;
	}
	fclose(f);
	CHECK(rows >= 40);
	CHECK_EQ_U(WB_LL_NB, 1920);
}

static void test_loglin(void)
{
	struct wb_ll *h = calloc(1, sizeof(*h)), *h2 = calloc(1, sizeof(*h2));
	struct wb_llhist *k = calloc(1, sizeof(*k));
	struct wb_log2 l2;
	uint64_t prev_hi = 0;
	unsigned bad = WB_LL_NB;

	test_loglin_table();
	/* buckets tile the u64 range, each at most 1/32 of its lower bound wide */
	for (unsigned i = 0; i < WB_LL_NB && bad == WB_LL_NB; i++) {
		uint64_t lo = wb_ll_lo(i), hi = wb_ll_hi(i);

		if ((i && lo != prev_hi + 1) || hi < lo || (hi - lo) * WB_LL_SUB > (lo ? lo : 1) ||
		    wb_ll_bucket(lo) != i || wb_ll_bucket(hi) != i)
			bad = i;
		prev_hi = hi;
	}
	CHECK_EQ_U(bad, WB_LL_NB);
	CHECK_EQ_U(prev_hi, UINT64_MAX);

	/* known answer: 1..10000, p99 = 9900 exactly; its bucket is [9728, 9983] */
	for (uint64_t v = 1; v <= 10000; v++)
		wb_ll_add(h, v);
	CHECK_EQ_U(h->count, 10000);
	CHECK_EQ_U(h->sum, 50005000);
	CHECK_EQ_U(wb_ll_pct_upper(h, 990), 9983);
	CHECK_EQ_U(wb_ll_pct_upper(h, 500), 5119);	/* 5000 in [4992, 5119] (width 128) */
	CHECK_EQ_U(wb_ll_pct_upper(h, 999), 10239);	/* 9990 in [9984, 10239] (width 256) */

	/* refines log2: the derived slots are the log2 histogram of the same values */
	wb_ll_to_log2(h, &l2);
	{
		struct wb_log2 ref = {};

		for (uint64_t v = 1; v <= 10000; v++)
			wb_log2_add(&ref, v);
		CHECK(memcmp(ref.slots, l2.slots, sizeof(ref.slots)) == 0);
		CHECK_EQ_U(l2.count, ref.count);
	}

	/* from the kernel's layout: count = sum of buckets, min from ~min_inv */
	k->b[wb_ll_bucket(7)] = 2;
	k->b[wb_ll_bucket(1000)] = 1;
	k->sum = 1014;
	k->min_inv = ~7ULL;
	k->max = 1000;
	wb_ll_from_kernel(h2, k);
	CHECK_EQ_U(h2->count, 3);
	CHECK_EQ_U(h2->min, 7);
	CHECK_EQ_U(h2->max, 1000);
	CHECK_EQ_U(wb_ll_pct_upper(h2, 500), 7);
	CHECK_EQ_U(wb_ll_pct_upper(h2, 990), 1007);	/* 1000 in [992, 1007] */
	wb_ll_merge(h2, h);
	CHECK_EQ_U(h2->count, 10003);
	CHECK_EQ_U(h2->min, 1);
	CHECK_EQ_U(h2->max, 10000);
	free(h);
	free(h2);
	free(k);
}

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
	test_loglin();
}
