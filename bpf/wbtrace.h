/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wbtrace: the one layout shared by the BPF programs (bpf/wbtrace.bpf.c) and
 * the loader (loader/).  Everything both sides must agree on lives here: the
 * ring-buffer record, the histogram and counter indexes, the constants.
 *
 * The BPF side includes this after vmlinux.h; user space after <linux/types.h>.
 */
#ifndef WBTRACE_H
#define WBTRACE_H

#define WB_F2FS_SUPER_MAGIC	0xF2F52010u
#define WB_BLKSIZE		4096u	/* F2FS_BLKSIZE == PAGE_SIZE (x86-64) */
#define WB_BLKSIZE_BITS		12
#define WB_F2FS_COMPR_FL	0x00000004u	/* F2FS_COMPR_FL in f2fs_inode_info.i_flags */
#define WB_COMPRESS_HDR		24u	/* sizeof(struct compress_data), checked by CO-RE */
#define WB_EAGAIN		11

#define WB_MAX_SLOTS		64	/* log2 slots: slot i holds [2^i, 2^(i+1)), slot 0 also 0 */

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* floor(log2(v)) for v > 0; 0 for v == 0 (same slot as v == 1).  Branch-light, no loop. */
static __always_inline __u32 wb_log2_32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 wb_log2_64(__u64 v)
{
	__u32 r = (v > 0xFFFFFFFFULL) << 5;	/* no branch: fewer verifier states */

	return wb_log2_32((__u32)(v >> r)) + r;
}

/*
 * Log-linear histogram buckets (HdrHistogram's layout with 2^WB_LL_SUB_BITS
 * sub-buckets per power of two), the one definition for the BPF side and the
 * loader; analysis/stats.py has the Python twin, and both are tested against
 * one table (tests/loader/loglin_buckets.tsv).  Values below WB_LL_SUB have a
 * bucket each (bucket = value); a value v >= WB_LL_SUB with e = floor(log2 v)
 * goes to group g = e - WB_LL_SUB_BITS + 1, sub-bucket s = the WB_LL_SUB_BITS
 * bits below the top one: bucket = g * WB_LL_SUB + s, which holds the values
 * [(WB_LL_SUB + s) << (g - 1), ((WB_LL_SUB + s + 1) << (g - 1)) - 1].  A
 * bucket's width is at most 1/WB_LL_SUB of its lower bound, so its upper bound
 * is within +3.125 % of any value in it (5 bits).  Every u64 has a bucket:
 * WB_LL_NB = (64 - WB_LL_SUB_BITS + 1) * WB_LL_SUB.  The index has no loop
 * and no branch (HdrHistogram's form): b = floor(log2(v | (2 * WB_LL_SUB - 1)))
 * - WB_LL_SUB_BITS, index = b * WB_LL_SUB + (v >> b), which is v itself below
 * 2 * WB_LL_SUB and the formula above from there on.
 */
#define WB_LL_SUB_BITS		5
#define WB_LL_SUB		(1u << WB_LL_SUB_BITS)
#define WB_LL_NB		((64 - WB_LL_SUB_BITS + 1) * WB_LL_SUB)	/* 1920 */

static __always_inline __u32 wb_ll_bucket(__u64 v)
{
	__u32 b = wb_log2_64(v | (2 * WB_LL_SUB - 1)) - WB_LL_SUB_BITS;

	return (b << WB_LL_SUB_BITS) + (__u32)(v >> b);
}
#define WB_DEPTH		4	/* nesting of writepages frames / folio frames per thread */

/* The BPF side's start/stop switch (wb_phase in .bss), set by the loader. */
enum wb_phase {
	WB_PHASE_ATTACHING = 0,	/* no frame opens yet */
	WB_PHASE_TRACING,	/* everything attached */
	WB_PHASE_STOPPING,	/* links going: exits without entries are expected */
};

/* Ring-buffer record kinds. */
enum wb_ev_type {
	WB_EV_NONE = 0,
	WB_EV_WP,		/* one writepages pass (f2fs_write_data_pages or the loop) */
	WB_EV_FOLIO,		/* one folio through the per-folio write function */
	WB_EV_BIO,		/* one write bio at submission */
	WB_EV_CLUSTER,		/* one compressed cluster (f2fs_write_multi_pages / compress tps) */
	WB_EV_TYPES,
};

/* What became of a folio given to the per-folio write function. */
enum wb_outcome {
	WB_OUT_WRITTEN = 0,	/* returned 0 and a block was submitted */
	WB_OUT_REDIRTIED,	/* returned 1 or -EAGAIN: folio redirtied for a later pass */
	WB_OUT_SKIPPED,		/* returned 0, nothing submitted (beyond EOF, inline data, cp error) */
	WB_OUT_ERROR,		/* returned another negative errno (folio redirtied too) */
	WB_OUT_UNKNOWN,		/* exit not traced (tracepoint fallback) */
	WB_OUT_NR,
};

/* What became of a compressed cluster. */
enum wb_cluster_outcome {
	WB_CL_COMPRESSED = 0,	/* compressed and written compressed */
	WB_CL_NOT_WORTH,	/* compression ran, saved < 1 block (-EAGAIN): written raw */
	WB_CL_RAW,		/* written raw for another reason (no compress, write fell back) */
	WB_CL_ERROR,		/* f2fs_write_multi_pages failed */
	WB_CL_UNKNOWN,		/* exit not traced (tracepoint-only mode) */
	WB_CL_NR,
};

/*
 * Per-pass classes (wp records and the in-kernel `passes` map).
 * Why: from the writeback_control flags, first match wins.
 */
enum wb_why {
	WB_WHY_BACKGROUND = 0,	/* wbc->for_background */
	WB_WHY_KUPDATE,		/* wbc->for_kupdate */
	WB_WHY_SYNC,		/* wbc->for_sync (sync(2), syncfs: WB_SYNC_ALL) */
	WB_WHY_FSYNC,		/* WB_SYNC_ALL without for_sync: fsync, fdatasync, O_SYNC, ... */
	WB_WHY_OTHER,		/* WB_SYNC_NONE otherwise: sync_file_range, filemap_flush, ... */
	WB_WHY_NR,
};

/* Why a pass ended, first match wins (analysis/SCHEMA.md section 4). */
enum wb_end {
	WB_END_RANGE = 0,	/* ran to the end of its range (or had nothing to write) */
	WB_END_BUDGET,		/* WB_SYNC_NONE and wbc->nr_to_write <= 0 at exit */
	WB_END_PRIORITY,	/* WB_SYNC_NONE pass gave way to a waiting WB_SYNC_ALL writer */
	WB_END_ERROR,		/* returned < 0 */
	WB_END_NR,
	WB_END_UNKNOWN = 255,	/* exit not traced (tracepoint fallback) */
};

/*
 * Why a cached write bio ended: f2fs keeps one bio open per (page type,
 * temperature) stream (sbi->write_io[type][temp]) and submits it through
 * __submit_merged_bio() when a page cannot join it or someone flushes it.
 * X(id, json name, meaning): the one definition, read by the BPF side, the
 * loader (summary, events.jsonl) and analysis/schema.py (SCHEMA.md section 3).
 * A bio ended inside f2fs_submit_page_write() by the page that could not join
 * gets full / noncontig / other_type / other, tested in the kernel's own order
 * (io_is_mergeable, then bio_add_folio); a bio flushed from outside gets the
 * first of the other causes whose context holds, in this table's order.  A
 * page of another temperature or page type goes to its own stream: it never
 * ends this stream's bio.
 */
#define WB_BIO_ENDS(X)							\
	X(FULL,		"full",		"the next page could not join: bio_add_folio() failed (bi_max_vecs reached) or max_io_bytes reached")	\
	X(NONCONTIG,	"noncontig",	"the next page of the stream is not at last_block_in_bio + 1")	\
	X(OTHER_TYPE,	"other_type",	"the next page of the stream has another op or op_flags (REQ_SYNC, REQ_META, ...)")	\
	X(CLUSTER_END,	"cluster_end",	"flushed inside a compressed cluster write, or right after one while the pass's loop still runs")	\
	X(INTEGRITY,	"integrity",	"flushed inside a WB_SYNC_ALL pass or inside f2fs_sync_file (fsync, fdatasync)")	\
	X(PRIORITY,	"priority_stop", "flushed at the end of a WB_SYNC_NONE pass that gave way to a WB_SYNC_ALL writer")	\
	X(PASS_END,	"pass_end",	"flushed at the end of a WB_SYNC_NONE pass (range end or budget)")	\
	X(OTHER,	"other",	"anything else: checkpoint, sync_fs, a wait on writeback, node/meta writeback, a flush in the middle of a pass, a crypto, device or zone boundary")

enum wb_bio_end {
#define WB_X_ENUM(id, name, what) WB_BE_##id,
	WB_BIO_ENDS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_BE_NR,
	WB_BE_UNKNOWN = WB_BE_NR,	/* the attached probes cannot tell (index in bio_ends) */
	WB_BE_NONE = 255,		/* not a cached-stream bio (IPU, single-page bio) */
};

/*
 * Stream mode batches the reader's wake-ups: a record is submitted with
 * BPF_RB_NO_WAKEUP while less than 1/2^WB_RB_WAKE_SHIFT of the ring is unread,
 * with BPF_RB_FORCE_WAKEUP from there on (the kernel selftests' ringbuf_bench
 * pattern); the reader also drains the ring every WB_POLL_MS without a wake-up,
 * and once more after detaching, so no record waits longer than that.
 */
#define WB_RB_WAKE_SHIFT 3
#define WB_POLL_MS	100

/* targ_sig: which exact end-of-pass signals the attached sites give (set by the loader). */
#define WB_SIG_MARK	(1u << 0)	/* pass_mark: f2fs_writepages tracepoint inside a frame */
#define WB_SIG_ITER	(1u << 1)	/* handout in fexit mode: writeback_iter's arguments */
#define WB_SIG_LOOPEND	(1u << 2)	/* loop_end: filemap_get_folios_tag exit + release_pages */
#define WB_SIG_PAGE	(1u << 3)	/* page_write: f2fs_submit_page_write entry + exit */
#define WB_SIG_PREP	(1u << 4)	/* bio_path: f2fs_prepare_write_bio (__submit_merged_bio) */
#define WB_SIG_PASS	(1u << 5)	/* pass frames: f2fs_write_data_pages entry + exit */
#define WB_SIG_FSYNC	(1u << 6)	/* fsync: f2fs_sync_file_enter + _exit */
#define WB_SIG_HANDOUT	(1u << 7)	/* handout: writeback_iter returns (NULL: the loop ended) */

/* Flags in wb_event.flags. */
#define WB_F_NO_EXIT	(1u << 0)	/* entry seen, exit not traced: durations are 0 */
#define WB_F_COMPR	(1u << 1)	/* inode is a compressed file (F2FS_COMPR_FL); folio, wp, cmp */
#define WB_F_HANDOUT	(1u << 2)	/* folio came from writeback_iter (handout_ns valid) */
#define WB_F_FIRST	(1u << 3)	/* first folio of its pass: iter_ns counts from pass entry */
#define WB_F_NO_PASS	(1u << 4)	/* no traced pass around it: iter_ns is 0 */
#define WB_F_IPU	(1u << 5)	/* in-place update (folio: do_write type; bio: not merged path) */
#define WB_F_OPU	(1u << 6)	/* out-of-place (folio: do_write type; bio: merged path) */
#define WB_F_IN_CLUSTER	(1u << 7)	/* folio written raw from f2fs_write_multi_pages */
#define WB_F_LOOP	(1u << 8)	/* wp: the f2fs loop itself was traced (loop_ns valid) */
#define WB_F_OUTER	(1u << 9)	/* wp: record comes from f2fs_write_data_pages */
#define WB_F_SYNC	(1u << 10)	/* bio: REQ_SYNC */
#define WB_F_END_INFERRED (1u << 11)	/* wp: `end` inferred, not proven (SCHEMA.md section 4);
					   bio: its end cause inferred */
#define WB_F_GAP	(1u << 13)	/* folio: gap_ns valid (a traced pass frame around it);
					   wp: the phases are valid (every folio entry and exit seen) */
#define WB_F_BIO_ALL_SEEN (1u << 14)	/* bio: its first page was traced: pages_traced is all */
#define WB_F_PAGES_UNSEEN (1u << 15)	/* bio: page_write probe off: pages_traced unknown */
#define WB_F_STREAM	(1u << 16)	/* bio: a stream's cached bio (__submit_merged_bio) */
#define WB_F_PASS_ALL	(1u << 17)	/* folio, cluster: the pass around it is WB_SYNC_ALL */
#define WB_F_FOLIO_UNKNOWN (1u << 12)	/* wp: some folio outcomes unknown (folio tracepoint
					   fallback): written/redirtied/skipped not reported */

/* Data temperature, decoded from bio->bi_write_hint (f2fs_io_type_to_rw_hint, 7.3). */
enum wb_temp { WB_TEMP_HOT = 0, WB_TEMP_WARM, WB_TEMP_COLD, WB_TEMP_UNKNOWN, WB_TEMP_NR };
/* f2fs enum page_type of the bio. */
enum wb_ptype { WB_PT_DATA = 0, WB_PT_NODE, WB_PT_META, WB_PT_OTHER, WB_PT_NR };

struct wb_event {
	__u64 ts;		/* bpf_ktime_get_ns() at the end of the event (CLOCK_MONOTONIC) */
	__u64 ino;
	__u32 type;		/* enum wb_ev_type */
	__u32 dev;		/* super_block.s_dev, kernel encoding (major << 20 | minor) */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 cpu;
	__u32 flags;		/* WB_F_* */
	__u32 site;		/* index into the loader's site table (loader/probes.def) */
	__u32 pad;
	union {
		struct {
			__u64 dur_ns;		/* f2fs_write_data_pages (or loop) entry -> exit */
			__u64 loop_ns;		/* the loop alone (WB_F_LOOP) */
			__s64 nr_before;	/* wbc->nr_to_write at entry */
			__s64 nr_after;		/* ... at exit */
			__u64 bytes;		/* bytes written by the pass's folios (blocks written) */
			__u32 folios;		/* folios written (WB_OUT_WRITTEN) in the pass */
			__u32 other;		/* folios redirtied / skipped / failed in the pass */
			__u32 handouts;		/* writeback_iter hand-outs in the pass */
			__u32 clusters;		/* compressed clusters written in the pass */
			__u32 sync_mode;	/* enum writeback_sync_modes */
			__s32 ret;
			__s64 pages_skipped;	/* wbc->pages_skipped at exit - at entry */
			__u32 redirtied;	/* folios redirtied in the pass (WB_OUT_REDIRTIED) */
			__u32 skipped;		/* folios skipped in the pass (WB_OUT_SKIPPED) */
			__s32 reason;		/* enum wb_reason of the flusher work; < 0: none */
			__u8 why;		/* enum wb_why */
			__u8 end;		/* enum wb_end */
			__u8 cyclic;		/* wbc->range_cyclic */
			__u8 pad;
			__s32 sync_waiters;	/* wb_sync_req[DATA] at exit: integrity writers in
						   their passes on this file system; < 0 unknown */
			__u32 pad2;
			/*
			 * Phases (WB_F_GAP): setup + gap + write + cluster + tail
			 * == dur_ns exactly (loader/README.md "Latency phases").
			 */
			__u64 setup_ns;		/* entry -> first folio (or cluster) write entry */
			__u64 gap_ns;		/* sum: previous write's return -> next write entry */
			__u64 write_ns;		/* sum: folio write function entry -> return */
			__u64 cluster_ns;	/* sum: f2fs_write_multi_pages entry -> return */
			__u64 tail_ns;		/* last write's return -> exit */
		} wp;
		struct {
			__u64 index;
			__u64 write_ns;		/* per-folio write function entry -> exit */
			__u64 iter_ns;		/* loop cycle: gap_ns + write_ns, not for the first folio */
			__u64 handout_ns;	/* writeback_iter return -> write function entry */
			__u64 gap_ns;		/* previous write's return (first: pass entry) -> entry */
			__u32 size;		/* bytes */
			__u32 outcome;		/* enum wb_outcome */
			__s32 ret;
			__u32 pad;
		} folio;
		struct {
			__u64 sector;
			__u32 bytes;		/* bio->bi_iter.bi_size at submission */
			__u32 vcnt;
			__u32 ptype;		/* enum wb_ptype */
			__u32 temp;		/* enum wb_temp */
			__u32 hint;		/* raw bi_write_hint */
			__u32 opf;
			__u32 pages_traced;	/* pages f2fs_submit_page_write put in it (seen) */
			__u8 end;		/* enum wb_bio_end */
			__u8 pad[3];
		} bio;
		struct {
			__u64 cluster_idx;
			__u64 dur_ns;		/* f2fs_write_multi_pages entry -> exit */
			__u64 compress_ns;	/* f2fs_compress_pages_start -> _end */
			__u32 cluster_size;	/* pages */
			__u32 nr_rpages;	/* dirty pages gathered (0 if unknown) */
			__u32 clen;		/* compressed bytes (valid when compress_ret == 0) */
			__u32 cblocks;		/* blocks written for the cluster */
			__u32 saved;		/* blocks saved */
			__u32 submitted;	/* *submitted at exit */
			__u32 algo;		/* f2fs COMPRESS_* */
			__s32 compress_ret;
			__s32 ret;
			__u32 outcome;		/* enum wb_cluster_outcome */
			__u32 has_compress;	/* compress tracepoints seen for it */
			__u32 pad;
		} cl;
	};
};

/*
 * Histograms: X(id, name, unit, keyed).  In aggregation mode the kernel keeps
 * log-linear histograms (struct wb_llhist, one shared array entry each,
 * atomic updates); the loader builds the same from the stream.  A keyed
 * metric has one histogram per key (WB_KEYS below) and no unkeyed one: its
 * totals are the sum over the keys (loader/README.md "Histograms").
 */
#define WB_HISTS(X)							\
	X(WP_NS,	"writepages_ns",	"ns",		1)	\
	X(LOOP_NS,	"loop_ns",		"ns",		0)	\
	X(FOLIO_ITER_NS, "folio_latency_ns",	"ns",		1)	\
	X(PASS_SETUP_NS, "pass_setup_ns",	"ns",		1)	\
	X(FOLIO_GAP_NS,	"folio_gap_ns",		"ns",		1)	\
	X(FOLIO_WRITE_NS, "folio_write_ns",	"ns",		1)	\
	X(FOLIO_HANDOUT_NS, "folio_handout_ns",	"ns",		0)	\
	X(BIO_BYTES,	"bio_bytes",		"bytes",	0)	\
	X(CLUSTER_NS,	"cluster_ns",		"ns",		1)	\
	X(COMPRESS_NS,	"compress_ns",		"ns",		0)	\
	X(WP_FOLIOS,	"writepages_folios",	"folios",	0)

enum wb_hist_id {
#define WB_X_ENUM(id, name, unit, keyed) WB_H_##id,
	WB_HISTS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_H_NR,
};

/*
 * Histogram keys: (sync mode, IPU/OPU, compressed), one definition
 * (X(id, json name)); analysis/SCHEMA.md section 3 `metrics_by_key`.
 *   sync:  the pass's wbc->sync_mode; na = no traced pass around the sample
 *   io:    the folio's write path (f2fs_do_write_data_page IPU/OPU); na = not
 *          one folio's write (a pass, its set-up, a cluster), or not seen
 *   compr: the inode is a compressed file (F2FS_COMPR_FL)
 */
#define WB_KSYNCS(X)	X(NONE, "none") X(ALL, "all") X(NA, "na")
#define WB_KIOS(X)	X(IPU, "ipu") X(OPU, "opu") X(NA, "na")
#define WB_KCOMPRS(X)	X(PLAIN, "plain") X(COMPR, "compr")

enum wb_ksync {
#define WB_X_ENUM(id, name) WB_KS_##id,
	WB_KSYNCS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_KS_NR,
};
enum wb_kio {
#define WB_X_ENUM(id, name) WB_KI_##id,
	WB_KIOS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_KI_NR,
};
enum wb_kcompr {
#define WB_X_ENUM(id, name) WB_KC_##id,
	WB_KCOMPRS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_KC_NR,
};
#define WB_KEYS			(WB_KS_NR * WB_KI_NR * WB_KC_NR)	/* 18 */
#define WB_KEY(s, i, c)		((((s) * WB_KI_NR) + (i)) * WB_KC_NR + (c))

/*
 * Entries of the `hists` map: WB_HE_<id> is a metric's first entry; a keyed
 * metric has WB_KEYS of them (WB_HE_<id> + WB_KEY(...)), another one.
 */
enum wb_hist_entry {
#define WB_X_ENUM(id, name, unit, keyed) \
	WB_HE_##id, WB_HE_##id##_LAST = WB_HE_##id + ((keyed) ? WB_KEYS : 1) - 1,
	WB_HISTS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_HE_NR,
};

/* One log-linear histogram in the kernel; count = sum of the buckets. */
struct wb_llhist {
	__u64 sum;
	__u64 min_inv;		/* ~min, kept with atomic max; 0 = unset (empty) */
	__u64 max;
	__u64 b[WB_LL_NB];	/* wb_ll_bucket() */
};

/* Log2 histogram (the bio end causes' page counts). */
struct wb_hist {
	__u64 slots[WB_MAX_SLOTS];
	__u64 count;
	__u64 sum;
	__u64 min_inv;		/* ~min, kept with atomic max; 0 = unset (count == 0) */
	__u64 max;
};

/* Per end cause, in the kernel (both modes, shared, atomic): bio sizes in pages. */
struct wb_bio_end_stat {
	struct wb_hist pages;		/* count = bios, sum = pages */
	__u64 inferred;			/* of those, cause inferred (WB_F_END_INFERRED) */
};

/*
 * Per-pass totals, both modes: one shared (not per-CPU) array entry, updated
 * only with atomic instructions.  Counted when f2fs_write_data_pages returns
 * (or, tracepoint fallback, when f2fs_writepages fires).  The nr_given min and
 * max are kept as atomic maxima of order-preserving keys (wb_s64_key):
 * `nr_given_max_key` = max key, `nr_given_min_inv` = max ~key.
 */
struct wb_passes {
	__u64 total;
	__u64 by_sync[2];		/* [WB_SYNC_NONE], [WB_SYNC_ALL] */
	__u64 by_why[WB_WHY_NR];
	__u64 by_end[WB_END_NR];	/* passes whose exit was traced */
	__u64 exits;			/* == sum(by_end) */
	__u64 end_inferred;		/* of those, `end` inferred (WB_F_END_INFERRED) */
	__u64 none_passes;		/* WB_SYNC_NONE passes */
	__u64 none_exits;		/* WB_SYNC_NONE passes whose exit was traced */
	__u64 nr_given_max_key;
	__u64 nr_given_min_inv;
	__s64 nr_given_sum_hi;		/* sum = hi * 2^32 + lo: nr_to_write may be LONG_MAX */
	__u64 nr_given_sum_lo;		/* (sync_file_range, filemap_flush) */
	__s64 none_nr_used_sum;		/* over none_exits */
	__u64 tp_dups;			/* tracepoint fallback: 2nd f2fs_writepages of a pass */
};

/* s64 -> u64 keeping the order (for atomic max of signed values). */
#define WB_SUM_HI(v)		((__s64)(v) >> 32)	/* arithmetic shift */
#define WB_SUM_LO(v)		((__u64)(v) & 0xffffffffULL)
#define WB_S64_KEY(v)		((__u64)(v) ^ (1ULL << 63))
#define WB_KEY_S64(k)		((__s64)((k) ^ (1ULL << 63)))

/* In-kernel counters, per CPU, both modes.  X(id, json name). */
#define WB_COUNTERS(X)							\
	X(WP,			"writepages")				\
	X(WP_NO_EXIT,		"writepages_no_exit")			\
	X(LOOP,			"loops")				\
	X(FOLIO_WRITTEN,	"folios_written")			\
	X(FOLIO_REDIRTIED,	"folios_redirtied")			\
	X(FOLIO_SKIPPED,	"folios_skipped")			\
	X(FOLIO_ERROR,		"folios_error")				\
	X(FOLIO_UNKNOWN,	"folios_unknown")			\
	X(FOLIO_BYTES,		"folio_bytes_written")			\
	X(FOLIO_COMPR,		"folios_compressed_file")		\
	X(FOLIO_IPU,		"folios_ipu")				\
	X(FOLIO_OPU,		"folios_opu")				\
	X(HANDOUT,		"handouts")				\
	X(BIO_DATA,		"bios_data")				\
	X(BIO_NODE,		"bios_node")				\
	X(BIO_META,		"bios_meta")				\
	X(BIO_OTHER,		"bios_other")				\
	X(BIO_DATA_BYTES,	"bio_bytes_data")			\
	X(BIO_NODE_BYTES,	"bio_bytes_node")			\
	X(BIO_META_BYTES,	"bio_bytes_meta")			\
	X(BIO_OTHER_BYTES,	"bio_bytes_other")			\
	X(BIO_DATA_HOT,		"bios_data_hot")			\
	X(BIO_DATA_WARM,	"bios_data_warm")			\
	X(BIO_DATA_COLD,	"bios_data_cold")			\
	X(BIO_DATA_UNKNOWN_TEMP, "bios_data_temp_unknown")		\
	X(BIO_DATA_IPU,		"bios_data_ipu")			\
	X(BIO_DATA_OPU,		"bios_data_opu")			\
	X(CLUSTER,		"clusters")				\
	X(CLUSTER_TRIED,	"clusters_compress_tried")		\
	X(CLUSTER_COMPRESSED,	"clusters_compressed")			\
	X(CLUSTER_NOT_WORTH,	"clusters_not_worth")			\
	X(CLUSTER_RAW,		"clusters_raw")				\
	X(CLUSTER_ERROR,	"clusters_error")			\
	X(CLUSTER_UNKNOWN,	"clusters_unknown")			\
	X(CLUSTER_RAW_BYTES,	"cluster_raw_bytes")			\
	X(CLUSTER_CLEN,		"cluster_compressed_bytes")		\
	X(COMPR_WRITTEN_BLK,	"compr_written_block")			\
	X(COMPR_SAVED_BLK,	"compr_saved_block")			\
	X(ORPHAN_EXIT,		"orphan_exits")				\
	X(EXIT_MISMATCH,	"exit_mismatches")			\
	X(EXIT_IN_FLIGHT,	"exits_outside_window")			\
	X(DEPTH_OVERFLOW,	"depth_overflows")			\
	X(STATE_UNAVAILABLE,	"task_state_unavailable")		\
	X(HANDOUT_STALE,	"handouts_stale")				\
	X(PAGE_NEW,		"pages_new_bio")			\
	X(PAGE_MERGED,		"pages_merged")				\
	X(PAGE_UNKNOWN,		"pages_merge_unknown")			\
	X(PAGE_DATA_NEW,	"pages_data_new_bio")			\
	X(PAGE_DATA_MERGED,	"pages_data_merged")			\
	X(BIO_STREAM,		"bios_stream")				\
	X(BIO_STREAM_PAGES,	"bio_stream_pages")

enum wb_counter_id {
#define WB_X_ENUM(id, name) WB_C_##id,
	WB_COUNTERS(WB_X_ENUM)
#undef WB_X_ENUM
	WB_C_NR,
};

/* Probe and site ids, generated from the single symbol table loader/probes.def. */
enum wb_probe_id {
#define WB_PROBE(id, name, required, what) WB_P_##id,
#include "probes.def"
	WB_P_NR,
};

enum wb_site_id {
#define WB_SITE(id, probe, rank, kind, target, btf_module, entry, exit) WB_S_##id,
#include "probes.def"
	WB_S_NR,
};

#endif /* WBTRACE_H */
