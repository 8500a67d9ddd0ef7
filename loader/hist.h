/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log2 and log-linear histograms and percentiles (pure: no BPF, no I/O except
 * printing).  Log2 slot convention (same as the BPF side and
 * analysis/stats.py): slot i holds values in [2^i, 2^(i+1)); slot 0 also
 * holds 0.  Log-linear buckets: wb_ll_bucket() of bpf/wbtrace.h, the layout
 * the BPF side uses.  Percentiles are nearest-rank: rank = ceil(q * n),
 * value = sorted[rank - 1].
 */
#ifndef WB_HIST_H
#define WB_HIST_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "wbtrace.h"

#define WB_LOG2_SLOTS 64

struct wb_log2 {
	uint64_t slots[WB_LOG2_SLOTS];
	uint64_t count, sum, min, max;
};

/* The four percentiles wbtrace reports, in permille. */
#define WB_NPCT 4
extern const unsigned wb_pct_permille[WB_NPCT];	/* 500, 900, 990, 999 */
extern const char *const wb_pct_name[WB_NPCT];	/* "p50", "p90", "p99", "p999" */

unsigned wb_log2_slot(uint64_t v);
void wb_log2_add(struct wb_log2 *h, uint64_t v);
/* Merge b into a (e.g. per-CPU copies). */
void wb_log2_merge(struct wb_log2 *a, const struct wb_log2 *b);
/* Index of the last non-empty slot + 1 (0 when empty). */
unsigned wb_log2_len(const struct wb_log2 *h);
/* Upper bound 2^(i+1)-1 of the slot holding rank ceil(q*count); 0 if empty. */
uint64_t wb_log2_pct_upper(const struct wb_log2 *h, unsigned permille);

/* Nearest rank for n samples at `permille` (1-based; 0 when n == 0). */
size_t wb_pct_rank(size_t n, unsigned permille);
/* Sort in place, then exact percentile; returns 0 for n == 0. */
void wb_sort_u64(uint64_t *v, size_t n);
uint64_t wb_pct_exact_sorted(const uint64_t *sorted, size_t n, unsigned permille);

/* Log-linear histogram: the layout of bpf/wbtrace.h (wb_ll_bucket). */
struct wb_ll {
	uint64_t b[WB_LL_NB];
	uint64_t count, sum, min, max;
};

/* Inclusive value range of bucket i: [wb_ll_lo(i), wb_ll_hi(i)]. */
uint64_t wb_ll_lo(unsigned i);
uint64_t wb_ll_hi(unsigned i);
void wb_ll_add(struct wb_ll *h, uint64_t v);
void wb_ll_merge(struct wb_ll *a, const struct wb_ll *b);
/* From the kernel's struct wb_llhist (count = sum of the buckets). */
void wb_ll_from_kernel(struct wb_ll *h, const struct wb_llhist *k);
/* Upper bound of the bucket holding rank ceil(q*count); 0 if empty. */
uint64_t wb_ll_pct_upper(const struct wb_ll *h, unsigned permille);
/* The log2 histogram it refines (every bucket lies inside one log2 slot). */
void wb_ll_to_log2(const struct wb_ll *h, struct wb_log2 *out);

/* libbpf-tools style text histogram. */
void wb_log2_print(FILE *f, const struct wb_log2 *h, const char *unit);

#endif /* WB_HIST_H */
