// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "hist.h"

const unsigned wb_pct_permille[WB_NPCT] = { 500, 900, 990, 999 };
const char *const wb_pct_name[WB_NPCT] = { "p50", "p90", "p99", "p999" };

unsigned wb_log2_slot(uint64_t v)
{
	unsigned r = 0;

	while (v >>= 1)
		r++;
	return r;
}

/*
 * Both layouts (struct wb_log2, struct wb_ll) keep count, sum, min and max
 * beside their buckets; these fold a value, or another histogram, into them.
 */
#define MOMENTS_ADD(h, v) do {						\
		if ((h)->count == 0 || (v) < (h)->min)			\
			(h)->min = (v);					\
		if ((v) > (h)->max)					\
			(h)->max = (v);					\
		(h)->count++;						\
		(h)->sum += (v);					\
	} while (0)

#define MOMENTS_MERGE(a, b) do {					\
		if ((a)->count == 0 || (b)->min < (a)->min)		\
			(a)->min = (b)->min;				\
		if ((b)->max > (a)->max)				\
			(a)->max = (b)->max;				\
		(a)->count += (b)->count;				\
		(a)->sum += (b)->sum;					\
	} while (0)

void wb_log2_add(struct wb_log2 *h, uint64_t v)
{
	h->slots[wb_log2_slot(v)]++;
	MOMENTS_ADD(h, v);
}

void wb_log2_merge(struct wb_log2 *a, const struct wb_log2 *b)
{
	if (!b->count)
		return;
	for (int i = 0; i < WB_LOG2_SLOTS; i++)
		a->slots[i] += b->slots[i];
	MOMENTS_MERGE(a, b);
}

unsigned wb_log2_len(const struct wb_log2 *h)
{
	unsigned n = WB_LOG2_SLOTS;

	while (n > 0 && !h->slots[n - 1])
		n--;
	return n;
}

size_t wb_pct_rank(size_t n, unsigned permille)
{
	unsigned __int128 x;
	size_t r;

	if (!n)
		return 0;
	x = (unsigned __int128)n * permille;
	r = (size_t)((x + 999) / 1000);
	return r ? (r > n ? n : r) : 1;
}

uint64_t wb_log2_pct_upper(const struct wb_log2 *h, unsigned permille)
{
	uint64_t cum = 0, rank;

	if (!h->count)
		return 0;
	rank = wb_pct_rank(h->count, permille);
	for (unsigned i = 0; i < WB_LOG2_SLOTS; i++) {
		if (h->slots[i] && cum + h->slots[i] >= rank)
			return i >= 63 ? UINT64_MAX : (2ULL << i) - 1;
		cum += h->slots[i];
	}
	return h->max;
}

uint64_t wb_ll_lo(unsigned i)
{
	unsigned g = i >> WB_LL_SUB_BITS, s = i & (WB_LL_SUB - 1);

	if (g == 0)
		return i;
	return (uint64_t)(WB_LL_SUB + s) << (g - 1);
}

uint64_t wb_ll_hi(unsigned i)
{
	unsigned g = i >> WB_LL_SUB_BITS;

	if (g == 0)
		return i;
	if (i == WB_LL_NB - 1)
		return UINT64_MAX;
	return wb_ll_lo(i) + (1ULL << (g - 1)) - 1;
}

void wb_ll_add(struct wb_ll *h, uint64_t v)
{
	h->b[wb_ll_bucket(v)]++;
	MOMENTS_ADD(h, v);
}

void wb_ll_merge(struct wb_ll *a, const struct wb_ll *b)
{
	if (!b->count)
		return;
	for (unsigned i = 0; i < WB_LL_NB; i++)
		a->b[i] += b->b[i];
	MOMENTS_MERGE(a, b);
}

void wb_ll_from_kernel(struct wb_ll *h, const struct wb_llhist *k)
{
	memset(h, 0, sizeof(*h));
	for (unsigned i = 0; i < WB_LL_NB; i++) {
		h->b[i] = k->b[i];
		h->count += k->b[i];
	}
	h->sum = k->sum;
	h->min = h->count ? ~k->min_inv : 0;
	h->max = k->max;
}

uint64_t wb_ll_pct_upper(const struct wb_ll *h, unsigned permille)
{
	uint64_t cum = 0, rank;

	if (!h->count)
		return 0;
	rank = wb_pct_rank(h->count, permille);
	for (unsigned i = 0; i < WB_LL_NB; i++) {
		if (h->b[i] && cum + h->b[i] >= rank)
			return wb_ll_hi(i);
		cum += h->b[i];
	}
	return h->max;
}

void wb_ll_to_log2(const struct wb_ll *h, struct wb_log2 *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < WB_LL_NB; i++)
		out->slots[wb_log2_slot(wb_ll_lo(i))] += h->b[i];
	out->count = h->count;
	out->sum = h->sum;
	out->min = h->min;
	out->max = h->max;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void wb_sort_u64(uint64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t wb_pct_exact_sorted(const uint64_t *sorted, size_t n, unsigned permille)
{
	size_t r = wb_pct_rank(n, permille);

	return r ? sorted[r - 1] : 0;
}

void wb_log2_print(FILE *f, const struct wb_log2 *h, const char *unit)
{
	const int width = 40;
	unsigned len = wb_log2_len(h), first = 0;
	uint64_t maxc = 0;

	if (!h->count) {
		fprintf(f, "     (no data)\n");
		return;
	}
	while (first < len && !h->slots[first])
		first++;
	for (unsigned i = first; i < len; i++)
		if (h->slots[i] > maxc)
			maxc = h->slots[i];
	fprintf(f, "%24s : %-10s |%-*s|\n", unit, "count", width, "distribution");
	for (unsigned i = first; i < len; i++) {
		uint64_t lo = i ? 1ULL << i : 0, hi = i >= 63 ? UINT64_MAX : (2ULL << i) - 1;
		int stars = maxc ? (int)((h->slots[i] * width + maxc - 1) / maxc) : 0;
		char bar[64];

		if (stars > width)
			stars = width;
		memset(bar, '*', stars);
		bar[stars] = 0;
		fprintf(f, "%10llu -> %-11llu : %-10llu |%-*s|\n", (unsigned long long)lo,
			(unsigned long long)hi, (unsigned long long)h->slots[i], width, bar);
	}
}
