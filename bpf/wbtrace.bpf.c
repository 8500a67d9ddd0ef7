// SPDX-License-Identifier: GPL-2.0
/*
 * wbtrace: f2fs data writeback tracer (kernel side).
 *
 * One handler per probe site of loader/probes.def, each compiled in every
 * mode the site can run in (fentry/fexit, kprobe/kretprobe, tp_btf, raw_tp).
 * The loader picks one mode per site at run time and turns the others off;
 * attach targets come from the table, never from SEC() strings here.
 *
 * Output: in-kernel counters (always), log-linear histograms keyed by sync
 * mode, IPU/OPU and compressed (aggregation mode),
 * one ring-buffer record per event (stream mode; failed reserves are counted
 * per CPU in `drops`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "wbtrace.h"
#include "f2fs_core.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Tunables, set by the loader before load. */
const volatile __u32 targ_dev = 0;	/* 0: every f2fs super block */
const volatile __u64 targ_ino = 0;
const volatile __u32 targ_tgid = 0;
const volatile __u64 targ_cgid = 0;
const volatile bool targ_stream = true;	/* emit ring-buffer records */
const volatile bool targ_hist = false;	/* update in-kernel histograms */
const volatile __u32 targ_sig = 0;	/* WB_SIG_*: exact end-of-pass signals attached */
const volatile __u64 targ_wake_bytes = 0;	/* stream: wake the reader from this much unread (0: every record) */

#define F2FS_PT_IPU	5	/* enum page_type IPU/OPU (tracepoint-only values) */
#define F2FS_PT_OPU	6
#define WB_EV_TAG0	1	/* loop_end events: filemap_get_folios_tag returned 0 */
#define WB_EV_TAGN	2	/* ... returned folios */
#define WB_EV_REL	3	/* release_pages (the stock loop's end of a batch) */
#define WB_V_RANGE	1	/* stock loop verdict: left through an empty lookup */
#define WB_V_STOPPED	2	/* ... left after a batch (done: budget/priority/error) */
#define WB_V_NOLOOP	3	/* ... no lookup at all: the loop did not run */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);	/* resized by the loader (--ringbuf-size) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WB_EV_TYPES);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WB_C_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Per-pass totals: shared, atomic updates only (struct wb_passes). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wb_passes);
} passes SEC(".maps");

/* Log-linear histograms (aggregation mode): shared, atomic updates only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WB_HE_NR);
	__type(key, __u32);
	__type(value, struct wb_llhist);
} hists SEC(".maps");

/* Per-thread state: stacks of open writepages and folio frames, the open cluster. */
enum { WPK_OUTER = 1, WPK_LOOP = 2 };

struct wp_frame {
	__u64 ts, base, wbc, ino, last_end, loop_ns, bytes, mapping;
	__u64 setup_ns, gap_sum, write_sum, cluster_sum;	/* latency phases */
	__s64 nr_before, ps_before;
	__u32 dev, sync_mode, folios, other, handouts, clusters, flags, site, kind, ignore;
	__u32 redirtied, skipped, unknown, iter_calls, tag_calls, marks;
	__s32 reason;
	__u8 why, cyclic, sentinel, last_ev, verdict;
	__u8 after_cluster;	/* last write was a cluster: nothing asked for a folio since */
	__u8 iter_end;		/* writeback_iter returned NULL: the loop is over */
	__u8 pad;
};

struct folio_frame {
	__u64 ts, folio, submitted, ino, index, gap_ns, handout_ns;
	__u32 dev, size, flags, site, ignore;
	__u32 blocks;	/* f2fs_do_write_data_page calls for it: blocks written */
};

struct cl_frame {
	__u64 cc;		/* the compress_ctx of the call (matched at its exit) */
	__u64 ts, ino, idx, submitted, cstart, cns, gap_ns;
	__u32 dev, csize, nr_rpages, algo, clen;
	__s32 cret;
	__u32 site, has_comp, raw_writes, ignore, flags, pad;
};

/*
 * The loader's start/stop switch (wb_phase, enum wb_phase), so that the order
 * in which the programs attach and detach does not matter: no frame opens
 * until everything is attached, and exits of calls entered outside the
 * window (before arming, or while the links go) are not taken for losses.
 */
volatile __u32 wb_phase = WB_PHASE_ATTACHING;

/* tstate.seen: kinds of frame whose entry this thread has shown since arming */
#define WB_SEEN_WP	1u
#define WB_SEEN_FOLIO	2u
#define WB_SEEN_CLUSTER	4u
#define WB_SEEN_PAGE	8u

/*
 * One f2fs_submit_page_write() call.  It holds its stream's io_rwsem for
 * writing and writes every fio queued on the stream (fio->in_list, set by
 * f2fs_allocate_data_block), not only its caller's: pages are seen one by one
 * at f2fs_submit_folio_write.  A bio the call submits was ended by the next
 * page of the stream, which has not joined yet: its record waits in `ev`
 * (pend) with the bio's state at submission until that page tells why.
 */
struct spw_frame {
	__u64 fio, io;
	__u64 last;		/* pending bio: io->last_block_in_bio */
	__u32 op, op_flags;	/* pending bio: io->fio.op, op_flags */
	__u32 size, vcnt, max_vecs;	/* pending bio: bi_size, bi_vcnt, bi_max_vecs */
	__u32 max_io;		/* sbi->max_io_bytes (0: no limit) */
	__u32 ignore, prep, pend, pad;
	struct wb_event ev;	/* pending bio's record */
};

struct tstate {
	struct wp_frame wp[WB_DEPTH];
	struct folio_frame fo[WB_DEPTH];
	struct cl_frame cl;
	__u64 prep_bio;
	__u32 wpd, fod, cld, seen;
	__u32 wb_reason;	/* enum wb_reason + 1 of the flusher work running; 0: none */
	__u32 fseq;		/* folios started by this thread (tracepoint-fallback dedup) */
	__u64 tp_wbc, tp_ino;	/* last f2fs_writepages of the tracepoint fallback */
	__s64 tp_nr, tp_ps;
	__u32 tp_fseq, pad2;
	struct spw_frame spw;
	__u32 spwd;		/* open f2fs_submit_page_write calls (1; nesting ignored) */
	__u32 fsyncd;		/* open f2fs_sync_file calls (fsync tracepoints) */
	__u32 prep_pages;	/* of prep_bio: pages traced into it */
	struct wb_event bev;	/* a stream bio's record, built at its submission */
	__u8 prep_end;		/* of prep_bio: enum wb_bio_end, WB_BE_UNKNOWN if not told */
	__u8 prep_all;		/* of prep_bio: its first page was traced */
	__u8 prep_inferred;	/* of prep_bio: end cause inferred */
	__u8 prep_defer;	/* of prep_bio: submitted inside f2fs_submit_page_write */
};

/*
 * Task-local storage: a thread's frames live as long as the thread and are
 * never evicted (an LRU map could drop a kworker's open frames under load and
 * leave its stack out of step for the rest of the run).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tstate);
} tstates SEC(".maps");

/*
 * folio -> when writeback_iter() returned it, and in which pass (the pass
 * frame's entry time): an entry left by a folio that never reached the write
 * function (written as part of a compressed cluster) must not be taken for
 * the hand-out of a later write of the same folio.
 */
struct handout_val {
	__u64 ts, pass;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct handout_val);
} handouts SEC(".maps");

/* cached bio -> pages f2fs_submit_page_write put in it (removed at submission) */
struct bio_pages_val {
	__u32 pages, all_seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct bio_pages_val);
} bio_pages SEC(".maps");

/* Per bio end cause (+ WB_BE_UNKNOWN): sizes in pages; shared, atomic updates only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WB_BE_NR + 1);
	__type(key, __u32);
	__type(value, struct wb_bio_end_stat);
} bio_ends SEC(".maps");

/* ------------------------------------------------------------------ helpers */

/*
 * Per-CPU, yet atomic: the programs run preemptible, so another thread's
 * program may update the same CPU's slot in the middle of ours.
 */
static __always_inline void cnt_add(__u32 id, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &id);

	if (c)
		__sync_fetch_and_add(c, v);
}

/* *p = max(*p, v), atomically (compare-and-swap; gives up after 8 lost races). */
static __always_inline void atomic_max_u64(__u64 *p, __u64 v)
{
#pragma unroll
	for (int i = 0; i < 8; i++) {
		__u64 old = *(volatile __u64 *)p;

		if (v <= old)
			return;
		if (__sync_val_compare_and_swap(p, old, v) == old)
			return;
	}
}

/* One sample into histogram entry `he` (enum wb_hist_entry: WB_HE_<id> [+ WB_KEY()]). */
static __always_inline void hist_add(__u32 he, __u64 v)
{
	struct wb_llhist *h;
	__u32 b;

	if (!targ_hist)
		return;
	h = bpf_map_lookup_elem(&hists, &he);
	if (!h)
		return;
	b = wb_ll_bucket(v);
	if (b >= WB_LL_NB)
		b = WB_LL_NB - 1;	/* never: every u64 has a bucket (for the verifier) */
	__sync_fetch_and_add(&h->b[b], 1);
	__sync_fetch_and_add(&h->sum, v);
	atomic_max_u64(&h->min_inv, ~v);
	atomic_max_u64(&h->max, v);
}

/* The sync-mode key of a sample inside pass frame w (NULL or ignored: none traced). */
static __always_inline __u32 ksync_of(struct wp_frame *w)
{
	if (!w || w->ignore)
		return WB_KS_NA;
	return w->sync_mode == WB_SYNC_ALL ? WB_KS_ALL : WB_KS_NONE;
}

/*
 * Count one pass in the shared `passes` map (both modes).  `end` is
 * WB_END_UNKNOWN when the exit was not traced; `used` is then ignored.
 */
static __always_inline void passes_add(__u32 sync_mode, __u32 why, __s64 given, __u32 end,
				       bool inferred, __s64 used)
{
	__u32 k = 0;
	struct wb_passes *p = bpf_map_lookup_elem(&passes, &k);
	bool all = sync_mode == WB_SYNC_ALL;
	__u64 key = WB_S64_KEY(given);

	if (!p)
		return;
	__sync_fetch_and_add(&p->total, 1);
	if (all)
		__sync_fetch_and_add(&p->by_sync[1], 1);
	else
		__sync_fetch_and_add(&p->by_sync[0], 1);
	if (why < WB_WHY_NR)
		__sync_fetch_and_add(&p->by_why[why], 1);
	if (!all) {
		__sync_fetch_and_add(&p->none_passes, 1);
		__sync_fetch_and_add(&p->nr_given_sum_hi, WB_SUM_HI(given));
		__sync_fetch_and_add(&p->nr_given_sum_lo, WB_SUM_LO(given));
		atomic_max_u64(&p->nr_given_max_key, key);
		atomic_max_u64(&p->nr_given_min_inv, ~key);
	}
	if (end >= WB_END_NR)
		return;
	__sync_fetch_and_add(&p->exits, 1);
	__sync_fetch_and_add(&p->by_end[end], 1);
	if (inferred)
		__sync_fetch_and_add(&p->end_inferred, 1);
	if (!all) {
		__sync_fetch_and_add(&p->none_exits, 1);
		__sync_fetch_and_add(&p->none_nr_used_sum, used);
	}
}

/* Reason class of a pass from its writeback_control (enum wb_why). */
static __always_inline __u32 wbc_why(struct writeback_control *wbc, __u32 sync_mode)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(wbc, for_background))
		return WB_WHY_BACKGROUND;
	if (BPF_CORE_READ_BITFIELD_PROBED(wbc, for_kupdate))
		return WB_WHY_KUPDATE;
	if (BPF_CORE_READ_BITFIELD_PROBED(wbc, for_sync))
		return WB_WHY_SYNC;
	return sync_mode == WB_SYNC_ALL ? WB_WHY_FSYNC : WB_WHY_OTHER;
}

/*
 * The current thread's state; `create` makes it (zeroed) on a thread's first
 * entry.  A failed creation loses that entry: counted, and the run invalid.
 */
static __always_inline struct tstate *tstate_get(bool create)
{
	struct tstate *st;

	st = bpf_task_storage_get(&tstates, bpf_get_current_task_btf(), NULL,
				  create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!st && create)
		cnt_add(WB_C_STATE_UNAVAILABLE, 1);
	return st;
}

/*
 * An exit with no open frame of its kind.  A thread that never showed an
 * entry of this kind was inside the call when the probes were armed, and
 * while detaching entry probes go first: such exits are expected.  Any other
 * thread lost an entry.
 */
static __always_inline void orphan_exit(struct tstate *st, __u32 kind_seen)
{
	if (wb_phase == WB_PHASE_TRACING && st && (st->seen & kind_seen))
		cnt_add(WB_C_ORPHAN_EXIT, 1);
	else
		cnt_add(WB_C_EXIT_IN_FLIGHT, 1);
}

static __always_inline bool task_ok(void)
{
	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return false;
	if (targ_cgid && bpf_get_current_cgroup_id() != targ_cgid)
		return false;
	return true;
}

static __always_inline bool sb_ok(struct super_block *sb)
{
	if (!sb || BPF_CORE_READ(sb, s_magic) != WB_F2FS_SUPER_MAGIC)
		return false;
	if (targ_dev && BPF_CORE_READ(sb, s_dev) != targ_dev)
		return false;
	return task_ok();
}

static __always_inline bool inode_ok(struct inode *inode)
{
	if (!inode || !sb_ok(BPF_CORE_READ(inode, i_sb)))
		return false;
	return !targ_ino || BPF_CORE_READ(inode, i_ino) == targ_ino;
}

/* Submit a record, waking the reader only once the ring holds targ_wake_bytes unread. */
static __always_inline void ev_submit(struct wb_event *e)
{
	__u64 flags = 0;

	if (targ_wake_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= targ_wake_bytes ?
			BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/*
 * A record stamped `ts`: the time the program read when the event happened
 * (an exit's `now`), never a new clock read -- the vCPU can be descheduled
 * for milliseconds between two reads in one program, and "t" - "dur_ns" must
 * be the entry.
 */
static __always_inline struct wb_event *ev_new(__u32 type, __u32 site, __u32 dev, __u64 ino,
					       __u64 ts)
{
	struct wb_event *e;
	__u64 id;

	if (!targ_stream)
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u64 *d = bpf_map_lookup_elem(&drops, &type);

		if (d)
			*d += 1;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	id = bpf_get_current_pid_tgid();
	e->ts = ts;
	e->type = type;
	e->site = site;
	e->dev = dev;
	e->ino = ino;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cpu = bpf_get_smp_processor_id();
	return e;
}

static __always_inline struct wp_frame *wp_top(struct tstate *st)
{
	__u32 d = st->wpd;

	if (d == 0 || d > WB_DEPTH)
		return NULL;
	return &st->wp[(d - 1) & (WB_DEPTH - 1)];
}

/* ------------------------------------------------------- writepages / loop */

/*
 * Where the next write of pass frame w starts counting from: the return of
 * the previous folio or cluster write, or the pass entry for the first.
 */
static __always_inline __u64 phase_start(struct wp_frame *w)
{
	return w->last_end ? w->last_end : w->base;
}

/*
 * A top-level write (folio or cluster) of pass frame w ended at `now`:
 * account its gap and its own time, and move the pass's clock.
 */
static __always_inline void phase_add(struct wp_frame *w, bool first, __u64 gap, __u64 own,
				      bool cluster, __u64 now)
{
	if (first)
		w->setup_ns = gap;
	else
		w->gap_sum += gap;
	if (cluster)
		w->cluster_sum += own;
	else
		w->write_sum += own;
	w->last_end = now;
}

static __always_inline void wp_enter(__u32 site, __u32 kind, struct address_space *mapping,
				     struct writeback_control *wbc)
{
	struct inode *inode = mapping ? BPF_CORE_READ(mapping, host) : NULL;
	struct tstate *st = tstate_get(true);
	struct wp_frame *f;
	__u32 d;

	if (!st || wb_phase == WB_PHASE_ATTACHING)
		return;
	st->seen |= WB_SEEN_WP;
	d = st->wpd;
	st->wpd = d + 1;
	if (d >= WB_DEPTH) {
		cnt_add(WB_C_DEPTH_OVERFLOW, 1);
		return;
	}
	f = &st->wp[d & (WB_DEPTH - 1)];
	__builtin_memset(f, 0, sizeof(*f));
	f->mapping = (__u64)mapping;	/* the exit's key, ignored frames too */
	f->kind = kind;
	f->ignore = !wbc || !inode_ok(inode);
	if (f->ignore)
		return;
	f->ts = bpf_ktime_get_ns();
	f->wbc = (__u64)wbc;
	f->ino = BPF_CORE_READ(inode, i_ino);
	f->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	f->nr_before = BPF_CORE_READ(wbc, nr_to_write);
	f->ps_before = BPF_CORE_READ(wbc, pages_skipped);
	f->sync_mode = BPF_CORE_READ(wbc, sync_mode);
	f->why = wbc_why(wbc, f->sync_mode);
	f->cyclic = BPF_CORE_READ_BITFIELD_PROBED(wbc, range_cyclic);
	f->reason = (__s32)st->wb_reason - 1;
	f->site = site;
	if (wb_inode_compressed(inode))
		f->flags |= WB_F_COMPR;		/* the histograms' key */
	/*
	 * The first folio's loop cycle counts from the ->writepages entry even
	 * when the loop itself is traced, so it does not depend on whether the
	 * compiler inlined the loop (it differs between builds and variants).
	 */
	f->base = f->ts;
	if (kind == WPK_LOOP && d > 0) {
		struct wp_frame *parent = &st->wp[(d - 1) & (WB_DEPTH - 1)];

		if (parent->kind == WPK_OUTER && !parent->ignore) {
			f->base = parent->ts;
			f->last_end = parent->last_end;	/* a second loop goes on from the first */
		}
	}
}

/*
 * How the stock loop left its batch loop (loop_end events of the frame): an
 * empty filemap_get_folios_tag() is its only way out at the end of a cyclic
 * range; release_pages() after a batch is last when `done` ended it (budget,
 * priority, error).  Not used for writeback_iter() passes.
 */
static __always_inline __u8 loop_verdict(struct wp_frame *f)
{
	if (!(targ_sig & WB_SIG_LOOPEND) || f->iter_calls)
		return 0;
	if (!f->tag_calls)
		return WB_V_NOLOOP;
	if (f->last_ev == WB_EV_TAG0)
		return WB_V_RANGE;
	if (f->last_ev == WB_EV_REL && f->cyclic)
		return WB_V_STOPPED;
	return 0;
}

/*
 * Why the pass of frame `f` ended (enum wb_end), first match wins; *inferred
 * is set when no exact signal decided it (analysis/SCHEMA.md section 4).
 */
static __always_inline __u32 pass_end(struct wp_frame *f, long ret, __s64 nr_after,
				      bool *inferred)
{
	struct address_space *mapping = (struct address_space *)f->mapping;
	__u8 v = f->verdict ? f->verdict : loop_verdict(f);

	*inferred = false;
	if (ret < 0)
		return WB_END_ERROR;
	if (f->sync_mode == WB_SYNC_ALL)
		return WB_END_RANGE;
	if (nr_after <= 0)
		return WB_END_BUDGET;
	/* __f2fs_write_data_pages: wb_sync_req[DATA] at entry -> skip_write, 2nd trace */
	if ((targ_sig & WB_SIG_MARK) && f->kind == WPK_OUTER && f->marks >= 2)
		return WB_END_PRIORITY;
	/* the converted loop ends a yielding pass with writeback_iter(.., -EAGAIN) */
	if (f->iter_calls && (targ_sig & WB_SIG_ITER))
		return f->sentinel ? WB_END_PRIORITY : WB_END_RANGE;
	if (v == WB_V_STOPPED)
		return WB_END_PRIORITY;
	if (v == WB_V_RANGE)
		return WB_END_RANGE;
	/* returned before the first trace (nothing dirty), or a skip path with no loop */
	if ((targ_sig & WB_SIG_MARK) && f->kind == WPK_OUTER &&
	    (f->marks == 0 || v == WB_V_NOLOOP))
		return WB_END_RANGE;
	*inferred = true;
	if (mapping && wb_sync_req_data(BPF_CORE_READ(mapping, host)) > 0)
		return WB_END_PRIORITY;
	return WB_END_RANGE;
}

/*
 * An exit must close the frame its own call opened: fexit sees the call's
 * arguments (`key`: its first, 0 from a kretprobe, which cannot), and a frame
 * of another call or kind means the stack is out of step -- counted, and the
 * run invalid (loader/README.md "Lost events").
 */
static __always_inline bool exit_mismatch(__u64 key, __u64 opened_by, bool kind_ok)
{
	if (kind_ok && (!key || key == opened_by))
		return false;
	cnt_add(WB_C_EXIT_MISMATCH, 1);
	return true;
}

static __always_inline void wp_exit(__u32 kind, long ret, __u64 key)
{
	struct tstate *st = tstate_get(false);
	struct wp_frame *f, *parent;
	struct writeback_control *wbc;
	struct wb_event *e;
	__u64 now, dur;
	__s64 nr_after, ps_after;
	__u32 d, end;
	bool inferred;

	if (!st || st->wpd == 0) {
		orphan_exit(st, WB_SEEN_WP);
		return;
	}
	d = --st->wpd;
	if (d >= WB_DEPTH)
		return;
	f = &st->wp[d & (WB_DEPTH - 1)];
	if (exit_mismatch(key, f->mapping, f->kind == kind) || f->ignore)
		return;
	now = bpf_ktime_get_ns();
	dur = now - f->ts;

	if (kind == WPK_LOOP) {
		cnt_add(WB_C_LOOP, 1);
		hist_add(WB_HE_LOOP_NS, dur);
		if (d > 0) {
			parent = &st->wp[(d - 1) & (WB_DEPTH - 1)];
			if (parent->kind == WPK_OUTER && !parent->ignore) {
				parent->flags |= WB_F_LOOP;
				parent->loop_ns += dur;
				parent->folios += f->folios;
				parent->other += f->other;
				parent->bytes += f->bytes;
				parent->handouts += f->handouts;
				parent->clusters += f->clusters;
				parent->redirtied += f->redirtied;
				parent->skipped += f->skipped;
				parent->unknown += f->unknown;
				parent->iter_calls += f->iter_calls;
				parent->tag_calls += f->tag_calls;
				parent->sentinel |= f->sentinel;
				parent->verdict = loop_verdict(f);
				/* the loop's base is the pass entry: its phases are the pass's */
				parent->setup_ns += f->setup_ns;
				parent->gap_sum += f->gap_sum;
				parent->write_sum += f->write_sum;
				parent->cluster_sum += f->cluster_sum;
				if (f->last_end > parent->last_end)
					parent->last_end = f->last_end;
				return;
			}
		}
		f->flags |= WB_F_LOOP;
		f->loop_ns = dur;
	} else {
		f->flags |= WB_F_OUTER;
	}

	wbc = (struct writeback_control *)f->wbc;
	nr_after = BPF_CORE_READ(wbc, nr_to_write);
	ps_after = BPF_CORE_READ(wbc, pages_skipped);
	end = pass_end(f, ret, nr_after, &inferred);
	if (inferred)
		f->flags |= WB_F_END_INFERRED;
	if (f->unknown)
		f->flags |= WB_F_FOLIO_UNKNOWN;
	else
		f->flags |= WB_F_GAP;	/* every write seen at both ends: phases valid */
	/* a pass is f2fs_write_data_pages; a loop without it is recorded, not counted */
	if (kind == WPK_OUTER)
		passes_add(f->sync_mode, f->why, f->nr_before, end, inferred,
			   f->nr_before - nr_after);

	cnt_add(WB_C_WP, 1);
	hist_add(WB_HE_WP_NS + WB_KEY(f->sync_mode == WB_SYNC_ALL ? WB_KS_ALL : WB_KS_NONE,
				      WB_KI_NA, f->flags & WB_F_COMPR ? WB_KC_COMPR : WB_KC_PLAIN),
		 dur);
	hist_add(WB_HE_WP_FOLIOS, f->folios);
	e = ev_new(WB_EV_WP, f->site, f->dev, f->ino, now);
	if (!e)
		return;
	e->flags = f->flags;
	e->wp.dur_ns = dur;
	e->wp.loop_ns = f->loop_ns;
	e->wp.nr_before = f->nr_before;
	e->wp.nr_after = nr_after;
	e->wp.pages_skipped = ps_after - f->ps_before;
	e->wp.redirtied = f->redirtied;
	e->wp.skipped = f->skipped;
	e->wp.reason = f->reason;
	e->wp.why = f->why;
	e->wp.end = end;
	e->wp.cyclic = f->cyclic;
	e->wp.bytes = f->bytes;
	e->wp.folios = f->folios;
	e->wp.other = f->other;
	e->wp.handouts = f->handouts;
	e->wp.clusters = f->clusters;
	e->wp.sync_mode = f->sync_mode;
	{
		struct address_space *m = (struct address_space *)f->mapping;

		e->wp.sync_waiters = m ? wb_sync_req_data(BPF_CORE_READ(m, host)) : -1;
	}
	e->wp.setup_ns = f->setup_ns;
	e->wp.gap_ns = f->gap_sum;
	e->wp.write_ns = f->write_sum;
	e->wp.cluster_ns = f->cluster_sum;
	e->wp.tail_ns = now - phase_start(f);	/* the whole pass when nothing was written */
	e->wp.ret = ret;
	ev_submit(e);
}

/* ------------------------------------------------------------------- folio */


static __always_inline void folio_enter(__u32 site, struct folio *folio, int *submitted)
{
	struct inode *inode = folio ? BPF_CORE_READ(folio, mapping, host) : NULL;
	struct tstate *st = tstate_get(true);
	struct folio_frame *f;
	struct wp_frame *w;
	__u32 d;

	if (!st || wb_phase == WB_PHASE_ATTACHING)
		return;
	st->seen |= WB_SEEN_FOLIO;
	d = st->fod;
	st->fod = d + 1;
	if (d >= WB_DEPTH) {
		cnt_add(WB_C_DEPTH_OVERFLOW, 1);
		return;
	}
	st->fseq++;
	f = &st->fo[d & (WB_DEPTH - 1)];
	__builtin_memset(f, 0, sizeof(*f));
	f->folio = (__u64)folio;	/* the exit's key, ignored frames too */
	f->ignore = !inode_ok(inode);
	if (f->ignore)
		return;
	f->ts = bpf_ktime_get_ns();
	f->submitted = (__u64)submitted;
	f->ino = BPF_CORE_READ(inode, i_ino);
	f->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	f->index = BPF_CORE_READ(folio, index);
	f->size = wb_folio_size(folio);
	f->site = site;
	if (wb_inode_compressed(inode))
		f->flags |= WB_F_COMPR;
	if (st->cld > 0)
		f->flags |= WB_F_IN_CLUSTER;
	w = wp_top(st);
	if (w && !w->ignore) {
		struct handout_val *h = bpf_map_lookup_elem(&handouts, &f->folio);

		if (!(f->flags & WB_F_IN_CLUSTER))
			w->after_cluster = 0;

		if (!(f->flags & WB_F_IN_CLUSTER)) {
			/* a raw write inside a cluster is part of the cluster's time */
			f->gap_ns = f->ts - phase_start(w);
			f->flags |= WB_F_GAP;
			if (!w->last_end)
				f->flags |= WB_F_FIRST;
		}
		if (h) {
			if (h->pass == w->ts) {
				f->handout_ns = f->ts - h->ts;
				f->flags |= WB_F_HANDOUT;
			} else {
				cnt_add(WB_C_HANDOUT_STALE, 1);
			}
			bpf_map_delete_elem(&handouts, &f->folio);
		}
	}
}

static __always_inline __u32 folio_outcome(long ret, int submitted, __u32 flags)
{
	if (ret == 0)
		return (submitted > 0) ? WB_OUT_WRITTEN : WB_OUT_SKIPPED;
	if (ret == 1 || ret == -WB_EAGAIN)
		return WB_OUT_REDIRTIED;
	return WB_OUT_ERROR;
}

/*
 * Count a folio in its pass and, when its write was traced at both ends
 * (frame f), in the pass's phases.  *iter_ns: the loop cycle (gap + write)
 * of a folio that is not the first of its pass; 0 (absent) otherwise.
 */
static __always_inline void folio_account(struct tstate *st, struct wb_event *e, __u32 outcome,
					  __u32 size, __u64 now, struct folio_frame *f,
					  __u64 *iter_ns)
{
	struct wp_frame *w = st ? wp_top(st) : NULL;

	*iter_ns = 0;
	if (w && !w->ignore) {
		if (f && (f->flags & WB_F_GAP)) {
			bool first = f->flags & WB_F_FIRST;

			phase_add(w, first, f->gap_ns, now - f->ts, false, now);
			if (!first)
				*iter_ns = f->gap_ns + (now - f->ts);
		}
		if (outcome == WB_OUT_WRITTEN) {
			w->folios++;
			w->bytes += size;
		} else {
			w->other++;
			if (outcome == WB_OUT_REDIRTIED)
				w->redirtied++;
			else if (outcome == WB_OUT_SKIPPED)
				w->skipped++;
			else if (outcome == WB_OUT_UNKNOWN)
				w->unknown++;
		}
	} else if (e) {
		e->flags |= WB_F_NO_PASS;
	}
}

static __always_inline void folio_exit(long ret, __u64 key)
{
	struct tstate *st = tstate_get(false);
	struct folio_frame *f;
	struct wb_event *e;
	__u64 now, write_ns, iter_ns = 0;
	__u32 d, outcome, flags, ks, ki, kc, bytes;
	int submitted = 0;

	if (!st || st->fod == 0) {
		orphan_exit(st, WB_SEEN_FOLIO);
		return;
	}
	d = --st->fod;
	if (d >= WB_DEPTH)
		return;
	f = &st->fo[d & (WB_DEPTH - 1)];
	if (exit_mismatch(key, f->folio, true) || f->ignore)
		return;
	now = bpf_ktime_get_ns();
	write_ns = now - f->ts;
	flags = f->flags;
	ks = ksync_of(wp_top(st));
	if (ks == WB_KS_ALL)
		flags |= WB_F_PASS_ALL;
	ki = flags & WB_F_IPU ? WB_KI_IPU : flags & WB_F_OPU ? WB_KI_OPU : WB_KI_NA;
	kc = flags & WB_F_COMPR ? WB_KC_COMPR : WB_KC_PLAIN;
	if (f->submitted)
		bpf_probe_read_kernel(&submitted, sizeof(submitted), (void *)f->submitted);
	else if (ret == 0 && (flags & (WB_F_IPU | WB_F_OPU)))
		submitted = 1;
	outcome = folio_outcome(ret, submitted, flags);
	/*
	 * Bytes written: the blocks f2fs_do_write_data_page() wrote when the
	 * folio_io probe saw them (a large folio writes only its dirty blocks),
	 * else the folio's size (an order-0 folio is one block).
	 */
	bytes = f->blocks ? f->blocks * WB_BLKSIZE : f->size;

	e = ev_new(WB_EV_FOLIO, f->site, f->dev, f->ino, now);
	folio_account(st, e, outcome, bytes, now, f, &iter_ns);
	if (outcome == WB_OUT_WRITTEN && st->cld > 0)
		st->cl.raw_writes++;

	cnt_add(WB_C_FOLIO_WRITTEN + outcome, 1);
	if (outcome == WB_OUT_WRITTEN)
		cnt_add(WB_C_FOLIO_BYTES, bytes);
	if (flags & WB_F_COMPR)
		cnt_add(WB_C_FOLIO_COMPR, 1);
	if (flags & WB_F_IPU)
		cnt_add(WB_C_FOLIO_IPU, 1);
	if (flags & WB_F_OPU)
		cnt_add(WB_C_FOLIO_OPU, 1);
	hist_add(WB_HE_FOLIO_WRITE_NS + WB_KEY(ks, ki, kc), write_ns);
	if (flags & WB_F_GAP) {
		if (flags & WB_F_FIRST) {
			hist_add(WB_HE_PASS_SETUP_NS + WB_KEY(ks, WB_KI_NA, kc), f->gap_ns);
		} else {
			hist_add(WB_HE_FOLIO_GAP_NS + WB_KEY(ks, ki, kc), f->gap_ns);
			hist_add(WB_HE_FOLIO_ITER_NS + WB_KEY(ks, ki, kc), iter_ns);
		}
	}
	if (flags & WB_F_HANDOUT)
		hist_add(WB_HE_FOLIO_HANDOUT_NS, f->handout_ns);

	if (!e)
		return;
	e->flags |= flags;
	e->folio.index = f->index;
	e->folio.write_ns = write_ns;
	e->folio.iter_ns = iter_ns;
	e->folio.handout_ns = f->handout_ns;
	e->folio.gap_ns = f->gap_ns;
	e->folio.size = f->size;
	e->folio.outcome = outcome;
	e->folio.ret = ret;
	ev_submit(e);
}

/* Tracepoint fallback: f2fs_writepage fires at the entry of the write function. */
static __always_inline void folio_tp(__u32 site, struct folio *folio, int type)
{
	struct inode *inode;
	struct tstate *st;
	struct wb_event *e;
	__u64 now, iter_ns = 0;
	__u32 size, flags = WB_F_NO_EXIT;

	if (type != WB_PT_DATA || !folio)
		return;
	now = bpf_ktime_get_ns();
	inode = BPF_CORE_READ(folio, mapping, host);
	if (!inode_ok(inode))
		return;
	size = wb_folio_size(folio);
	if (wb_inode_compressed(inode))
		flags |= WB_F_COMPR;
	st = tstate_get(false);
	if (st)
		st->fseq++;
	e = ev_new(WB_EV_FOLIO, site, BPF_CORE_READ(inode, i_sb, s_dev), BPF_CORE_READ(inode, i_ino),
		   now);
	/*
	 * Outcome unknown; counted as written-unknown for the pass.  With the
	 * entry alone no phase can be measured: the latencies are absent.
	 */
	folio_account(st, e, WB_OUT_UNKNOWN, size, now, NULL, &iter_ns);
	if (st && ksync_of(wp_top(st)) == WB_KS_ALL)
		flags |= WB_F_PASS_ALL;
	cnt_add(WB_C_FOLIO_UNKNOWN, 1);
	if (!e)
		return;
	e->flags |= flags;
	e->folio.index = BPF_CORE_READ(folio, index);
	e->folio.size = size;
	e->folio.outcome = WB_OUT_UNKNOWN;
	ev_submit(e);
}

/* f2fs_do_write_data_page(folio, IPU|OPU): tag the open folio frame. */
static __always_inline void folio_io(struct folio *folio, int type)
{
	struct tstate *st = tstate_get(false);
	struct folio_frame *f;
	__u32 d;

	if (!st || st->fod == 0 || st->fod > WB_DEPTH)
		return;
	d = st->fod - 1;
	f = &st->fo[d & (WB_DEPTH - 1)];
	if (f->ignore || f->folio != (__u64)folio)
		return;
	if (type == F2FS_PT_IPU)
		f->flags |= WB_F_IPU;
	else if (type == F2FS_PT_OPU)
		f->flags |= WB_F_OPU;
	/* once per folio, but once per block of a large folio (the series' patch 13) */
	f->blocks++;
}

/*
 * writeback_iter(mapping, wbc, prev, errp) returned `folio` to its caller.
 * With the arguments (fexit): a WB_SYNC_NONE call handed a folio back with
 * *errp == -EAGAIN and ended the pass: the converted f2fs loop's sentinel for
 * "a WB_SYNC_ALL writer waits" (f2fs's own errors never reach it as -EAGAIN:
 * f2fs_writeback_folio() turns -EAGAIN into 0 or a retry).
 */
static __always_inline void handout(struct folio *folio, bool args, struct address_space *mapping,
				    struct folio *prev, int *errp)
{
	struct inode *inode;
	struct tstate *st = tstate_get(false);
	struct wp_frame *w = st ? wp_top(st) : NULL;
	__u64 now, key = (__u64)folio;
	int err = 0;

	if (w && !w->ignore && (!args || w->mapping == (__u64)mapping)) {
		w->iter_calls++;
		w->after_cluster = 0;
		if (!folio)
			w->iter_end = 1;
		if (args && !folio && prev && errp && w->sync_mode != WB_SYNC_ALL) {
			bpf_probe_read_kernel(&err, sizeof(err), errp);
			if (err == -WB_EAGAIN)
				w->sentinel = 1;
		}
	}
	if (!folio)
		return;
	inode = BPF_CORE_READ(folio, mapping, host);
	if (!inode_ok(inode))
		return;
	now = bpf_ktime_get_ns();
	{
		struct handout_val h = { .ts = now, .pass = w && !w->ignore ? w->ts : 0 };

		bpf_map_update_elem(&handouts, &key, &h, BPF_ANY);
	}
	cnt_add(WB_C_HANDOUT, 1);
	if (w && !w->ignore)
		w->handouts++;
}

/* loop_end: filemap_get_folios_tag() returned / release_pages() called in a pass frame. */
static __always_inline void loop_ev(__u8 ev, struct address_space *mapping)
{
	struct tstate *st = tstate_get(false);
	struct wp_frame *w;

	if (!st || st->fod || st->cld)
		return;		/* only the loop's own calls, not those under a folio write */
	w = wp_top(st);
	if (!w || w->ignore || (mapping && w->mapping != (__u64)mapping))
		return;
	w->last_ev = ev;
	if (ev != WB_EV_REL)
		w->tag_calls++;
}

/* pass_mark: f2fs_writepages(inode, wbc, DATA) inside the open f2fs_write_data_pages frame */
static __always_inline void wp_mark(struct writeback_control *wbc, int type)
{
	struct tstate *st;
	struct wp_frame *w;

	if (type != WB_PT_DATA)
		return;
	st = tstate_get(false);
	w = st ? wp_top(st) : NULL;
	if (w && !w->ignore && w->kind == WPK_OUTER && w->wbc == (__u64)wbc)
		w->marks++;
}

/* wb_work: writeback_start / writeback_written (wb, work) around a flusher work's passes */
static __always_inline void wbwork(struct wb_writeback_work___wb *work, bool start)
{
	struct tstate *st = tstate_get(start);

	if (!st)
		return;
	st->wb_reason = start && work ? (__u32)BPF_CORE_READ(work, reason) + 1 : 0;
}

/* ------------------------------------------------------------------ cluster */

static __always_inline void cluster_enter(__u32 site, struct compress_ctx___wb *cc, int *submitted)
{
	struct inode *inode = cc ? BPF_CORE_READ(cc, inode) : NULL;
	struct tstate *st = tstate_get(true);
	struct cl_frame *c;

	if (!st || wb_phase == WB_PHASE_ATTACHING)
		return;
	st->seen |= WB_SEEN_CLUSTER;
	if (st->cld++ > 0)
		return;		/* not expected to nest: keep the outer one */
	c = &st->cl;
	__builtin_memset(c, 0, sizeof(*c));
	c->cc = (__u64)cc;		/* the exit's key, ignored frames too */
	c->ignore = !inode_ok(inode);
	if (c->ignore)
		return;
	c->ts = bpf_ktime_get_ns();
	c->ino = BPF_CORE_READ(inode, i_ino);
	c->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	c->idx = BPF_CORE_READ(cc, cluster_idx);
	c->csize = BPF_CORE_READ(cc, cluster_size);
	c->nr_rpages = BPF_CORE_READ(cc, nr_rpages);
	c->submitted = (__u64)submitted;
	c->site = site;
	{
		struct wp_frame *w = wp_top(st);

		if (w && !w->ignore) {
			w->after_cluster = 0;
			c->gap_ns = c->ts - phase_start(w);
			c->flags |= WB_F_GAP;
			if (!w->last_end)
				c->flags |= WB_F_FIRST;
		}
	}
}

static __always_inline void cluster_emit(struct tstate *st, struct cl_frame *c, __u64 now,
					 __u64 dur, __s32 ret, __u32 submitted, __u32 flags)
{
	struct wb_event *e;
	struct wp_frame *w;
	__u32 outcome, cblocks = 0, saved = 0, ks = WB_KS_NA;

	if (flags & WB_F_NO_EXIT) {
		/* compress tracepoints only: assume a compressed cluster was written */
		if (c->cret == 0)
			outcome = WB_CL_COMPRESSED;
		else if (c->cret == -WB_EAGAIN)
			outcome = WB_CL_NOT_WORTH;
		else
			outcome = WB_CL_ERROR;
	} else if (ret != 0) {
		outcome = WB_CL_ERROR;
	} else if (c->has_comp && c->cret == 0 && c->raw_writes == 0) {
		outcome = WB_CL_COMPRESSED;
	} else if (c->has_comp && c->cret == -WB_EAGAIN) {
		outcome = WB_CL_NOT_WORTH;
	} else {
		outcome = WB_CL_RAW;
	}
	if (outcome == WB_CL_COMPRESSED) {
		cblocks = (c->clen + wb_compress_hdr() + WB_BLKSIZE - 1) / WB_BLKSIZE;
		saved = c->csize > cblocks ? c->csize - cblocks : 0;
		cnt_add(WB_C_COMPR_WRITTEN_BLK, cblocks);
		cnt_add(WB_C_COMPR_SAVED_BLK, saved);
	} else if (outcome == WB_CL_NOT_WORTH) {
		cblocks = c->csize;
	}
	cnt_add(WB_C_CLUSTER, 1);
	cnt_add(WB_C_CLUSTER_COMPRESSED + outcome, 1);
	if (c->has_comp) {
		cnt_add(WB_C_CLUSTER_TRIED, 1);
		cnt_add(WB_C_CLUSTER_RAW_BYTES, (__u64)c->csize * WB_BLKSIZE);
		cnt_add(WB_C_CLUSTER_CLEN, c->cret == 0 ? (__u64)c->clen
							: (__u64)c->csize * WB_BLKSIZE);
	}
	/*
	 * The pass frame is looked up where it is used: a pointer kept across the
	 * code above may reach the verifier as a scalar (compress_end's inlined
	 * copy was rejected that way).
	 */
	if (st) {
		w = wp_top(st);
		if (w && !w->ignore) {
			w->clusters++;
			ks = w->sync_mode == WB_SYNC_ALL ? WB_KS_ALL : WB_KS_NONE;
		}
	}
	if (!(flags & WB_F_NO_EXIT))
		hist_add(WB_HE_CLUSTER_NS + WB_KEY(ks, WB_KI_NA, WB_KC_COMPR), dur);
	flags |= ks == WB_KS_NA ? WB_F_NO_PASS : ks == WB_KS_ALL ? WB_F_PASS_ALL : 0;

	e = ev_new(WB_EV_CLUSTER, c->site, c->dev, c->ino, now);
	if (!e)
		return;
	e->flags = flags | WB_F_COMPR;
	e->cl.cluster_idx = c->idx;
	e->cl.dur_ns = dur;
	e->cl.compress_ns = c->cns;
	e->cl.cluster_size = c->csize;
	e->cl.nr_rpages = c->nr_rpages;
	e->cl.clen = c->clen;
	e->cl.cblocks = cblocks;
	e->cl.saved = saved;
	e->cl.submitted = submitted;
	e->cl.algo = c->algo;
	e->cl.compress_ret = c->cret;
	e->cl.ret = ret;
	e->cl.outcome = outcome;
	e->cl.has_compress = c->has_comp;
	ev_submit(e);
}

static __always_inline void cluster_exit(long ret, __u64 key)
{
	struct tstate *st = tstate_get(false);
	struct cl_frame *c;
	int submitted = 0;
	__u64 now;

	if (!st || st->cld == 0) {
		orphan_exit(st, WB_SEEN_CLUSTER);
		return;
	}
	if (--st->cld > 0)
		return;
	c = &st->cl;
	if (exit_mismatch(key, c->cc, true) || c->ignore)
		return;
	if (c->submitted)
		bpf_probe_read_kernel(&submitted, sizeof(submitted), (void *)c->submitted);
	now = bpf_ktime_get_ns();
	if (c->flags & WB_F_GAP) {
		struct wp_frame *w = wp_top(st);

		if (w && !w->ignore) {
			phase_add(w, c->flags & WB_F_FIRST, c->gap_ns, now - c->ts, true, now);
			w->after_cluster = 1;
		}
	}
	cluster_emit(st, c, now, now - c->ts, ret, submitted, 0);
}

static __always_inline void compress_start(__u32 site, struct inode *inode, __u64 idx,
					   __u32 csize, __u32 algo)
{
	struct tstate *st = tstate_get(true);
	struct cl_frame *c;

	if (!st)
		return;
	c = &st->cl;
	if (st->cld == 0) {
		/* no cluster frame (probe off): a stand-alone record */
		__builtin_memset(c, 0, sizeof(*c));
		c->ignore = !inode_ok(inode);
		if (c->ignore)
			return;
		c->ino = BPF_CORE_READ(inode, i_ino);
		c->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		c->idx = idx;
		c->csize = csize;
		c->site = site;
	}
	if (c->ignore)
		return;
	c->cstart = bpf_ktime_get_ns();
	c->algo = algo;
	c->has_comp = 1;
	c->csize = csize;
}

static __always_inline void compress_end(struct inode *inode, __u32 clen, int ret)
{
	struct tstate *st = tstate_get(false);
	struct cl_frame *c;

	if (!st)
		return;
	c = &st->cl;
	if (c->ignore || !c->has_comp || !c->cstart)
		return;
	c->cns = bpf_ktime_get_ns() - c->cstart;
	c->clen = clen;
	c->cret = ret;
	hist_add(WB_HE_COMPRESS_NS, c->cns);
	if (ret == -WB_EAGAIN) {
		/* f2fs_write_multi_pages: add_compr_block_stat(inode, cluster_size) */
		cnt_add(WB_C_COMPR_WRITTEN_BLK, c->csize);
	}
	if (st->cld == 0) {
		cluster_emit(st, c, bpf_ktime_get_ns(), 0, 0, 0, WB_F_NO_EXIT);
		c->has_comp = 0;
		c->cstart = 0;
	}
}

/* -------------------------------------------- cached bios: merged or new */

static __always_inline void be_add(__u32 end, __u32 pages, bool inferred)
{
	struct wb_bio_end_stat *b;
	__u32 k = end < WB_BE_NR ? end : WB_BE_UNKNOWN;
	__u32 slot = wb_log2_64(pages);

	b = bpf_map_lookup_elem(&bio_ends, &k);
	if (!b)
		return;
	if (slot >= WB_MAX_SLOTS)
		slot = WB_MAX_SLOTS - 1;
	__sync_fetch_and_add(&b->pages.slots[slot], 1);
	__sync_fetch_and_add(&b->pages.count, 1);
	__sync_fetch_and_add(&b->pages.sum, pages);
	atomic_max_u64(&b->pages.min_inv, ~(__u64)pages);
	atomic_max_u64(&b->pages.max, pages);
	if (inferred)
		__sync_fetch_and_add(&b->inferred, 1);
}

/*
 * A stream's cached bio ended for `end`: count it and emit its record, built
 * in `tmpl` when it was submitted (its "t" is the submission).
 */
static __always_inline void stream_bio_done(struct wb_event *tmpl, __u32 end, bool inferred)
{
	__u32 pages = tmpl->bio.bytes >> WB_BLKSIZE_BITS, type = WB_EV_BIO;
	struct wb_event *e;

	cnt_add(WB_C_BIO_STREAM, 1);
	cnt_add(WB_C_BIO_STREAM_PAGES, pages);
	be_add(end, pages, inferred);
	if (!targ_stream)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u64 *d = bpf_map_lookup_elem(&drops, &type);

		if (d)
			__sync_fetch_and_add(d, 1);
		return;
	}
	__builtin_memcpy(e, tmpl, sizeof(*e));
	e->bio.end = end;
	if (inferred)
		e->flags |= WB_F_END_INFERRED;
	ev_submit(e);
}

/* A block-layer request flag bit of this kernel (enum req_flag_bits). */
#define WB_REQ_BIT(name, dflt)						\
	(bpf_core_enum_value_exists(enum req_flag_bits, name) ?		\
	 1u << (bpf_core_enum_value(enum req_flag_bits, name) & 31) : (dflt))

/* sbi->write_io[PAGE_TYPE_OF_BIO(type)] + temp: the stream of a page type and temperature. */
static __always_inline __u64 stream_io(struct f2fs_sb_info___wb *sbi, __u32 type, __u32 temp,
				       __u32 *btype)
{
	__u64 iobase = 0;

	*btype = type > WB_PT_META ? WB_PT_META : type;
	if (temp > 2)
		temp = 2;
	bpf_probe_read_kernel(&iobase, sizeof(iobase), (void *)sbi +
			      bpf_core_field_offset(struct f2fs_sb_info___wb, write_io) +
			      (*btype & 3) * sizeof(__u64));
	if (!iobase)
		return 0;
	return iobase + temp * bpf_core_type_size(struct f2fs_bio_info___wb);
}

/*
 * The pending bio of frame f (submitted inside the call, record held back)
 * was ended by the next page of its stream, `fio`: why, from the bio's state
 * at its submission, in io_is_mergeable()'s order, then bio_add_folio()'s.
 */
static __always_inline __u32 pending_end(struct spw_frame *f, struct f2fs_io_info___wb *fio)
{
	__u32 mask = ~(WB_REQ_BIT(__REQ_PREFLUSH, 1u << 18) | WB_REQ_BIT(__REQ_FUA, 1u << 17));

	if (f->max_io && f->size >= f->max_io)
		return WB_BE_FULL;
	if (f->last + 1 != BPF_CORE_READ(fio, new_blkaddr))
		return WB_BE_NONCONTIG;
	if (f->op != BPF_CORE_READ(fio, op) || (f->op_flags & mask) != (BPF_CORE_READ(fio, op_flags) & mask))
		return WB_BE_OTHER_TYPE;
	if (f->vcnt >= f->max_vecs)
		return WB_BE_FULL;
	return WB_BE_OTHER;	/* crypto context, device, zone end, shutdown */
}

/* The held-back record of frame f, if any, gets `end` and goes out. */
static __always_inline void pending_flush(struct spw_frame *f, __u32 end)
{
	if (!f->pend)
		return;
	f->pend = 0;
	stream_bio_done(&f->ev, end, false);
}

/* f2fs_submit_page_write(fio) entry: a call writing its stream's queued fios. */
static __always_inline void spw_enter(struct f2fs_io_info___wb *fio)
{
	struct tstate *st = tstate_get(true);
	struct f2fs_sb_info___wb *sbi;
	struct spw_frame *f;
	__u32 btype;

	if (!st || wb_phase == WB_PHASE_ATTACHING)
		return;
	st->seen |= WB_SEEN_PAGE;
	if (st->spwd++ > 0)
		return;		/* does not nest: keep the outer one */
	f = &st->spw;
	f->pend = 0;
	f->prep = 0;
	f->fio = (__u64)fio;
	sbi = fio ? BPF_CORE_READ(fio, sbi) : NULL;
	f->ignore = !sbi || !sb_ok(BPF_CORE_READ(sbi, sb));
	if (f->ignore)
		return;
	f->io = stream_io(sbi, BPF_CORE_READ(fio, type), BPF_CORE_READ(fio, temp), &btype);
	f->max_io = 0;
	if (bpf_core_field_exists(sbi->max_io_bytes))
		f->max_io = BPF_CORE_READ(sbi, max_io_bytes);
}

/* f2fs_submit_page_write exit (fio: fexit's argument, NULL for kretprobe). */
static __always_inline void spw_exit(struct f2fs_io_info___wb *fio)
{
	struct tstate *st = tstate_get(false);
	struct spw_frame *f;

	if (!st || st->spwd == 0) {
		orphan_exit(st, WB_SEEN_PAGE);
		return;
	}
	if (--st->spwd > 0)
		return;
	f = &st->spw;
	if (fio && (__u64)fio != f->fio)
		cnt_add(WB_C_ORPHAN_EXIT, 1);	/* not the entry this frame holds */
	/* submitted after its last page joined, no page after it: zone end, shutdown */
	pending_flush(f, WB_BE_OTHER);
}

/*
 * f2fs_submit_folio_write(folio, fio): fio's folio has just joined its
 * stream's cached bio.  It started that bio iff the bio holds nothing else
 * (exact, whatever was traced before); a bio this call submitted for it
 * gets its end cause now.
 */
static __always_inline void page_joined(struct f2fs_io_info___wb *fio)
{
	struct bio_pages_val *v, one = { .all_seen = 1 };
	struct f2fs_sb_info___wb *sbi = fio ? BPF_CORE_READ(fio, sbi) : NULL;
	struct f2fs_bio_info___wb *io;
	struct tstate *st;
	struct page *pg;
	struct bio *bio;
	__u32 btype, fsize, pages;
	__u64 key;
	bool merged;

	if (!sbi || !sb_ok(BPF_CORE_READ(sbi, sb)))
		return;
	st = tstate_get(false);
	if (st && st->spwd && !st->spw.ignore)
		pending_flush(&st->spw, pending_end(&st->spw, fio));
	io = (struct f2fs_bio_info___wb *)stream_io(sbi, BPF_CORE_READ(fio, type),
						    BPF_CORE_READ(fio, temp), &btype);
	bio = io ? BPF_CORE_READ(io, bio) : NULL;
	/* the folio in the bio: the encrypted or compressed copy if there is one */
	pg = BPF_CORE_READ(fio, encrypted_page);
	if (!pg)
		pg = BPF_CORE_READ(fio, compressed_page);
	fsize = pg ? WB_BLKSIZE : wb_fio_join_bytes(fio);
	pages = fsize >> WB_BLKSIZE_BITS;
	if (!bio) {
		cnt_add(WB_C_PAGE_UNKNOWN, pages);
		return;
	}
	merged = BPF_CORE_READ(bio, bi_iter.bi_size) > fsize;
	cnt_add(merged ? WB_C_PAGE_MERGED : WB_C_PAGE_NEW, pages);
	if (btype == WB_PT_DATA)
		cnt_add(merged ? WB_C_PAGE_DATA_MERGED : WB_C_PAGE_DATA_NEW, pages);
	key = (__u64)bio;
	if (merged) {
		v = bpf_map_lookup_elem(&bio_pages, &key);
		if (v) {
			__sync_fetch_and_add(&v->pages, pages);
			return;
		}
		one.all_seen = 0;	/* opened before the probes were armed */
	}
	one.pages = pages;
	bpf_map_update_elem(&bio_pages, &key, &one, BPF_ANY);
}

enum { WB_LOOP_UNKNOWN = 0, WB_LOOP_RUNNING, WB_LOOP_DONE };

/* Is the writeback loop of pass frame w still handing out folios? */
static __always_inline __u32 loop_state(struct wp_frame *w)
{
	if (w->iter_calls && (targ_sig & WB_SIG_HANDOUT))
		return w->iter_end ? WB_LOOP_DONE : WB_LOOP_RUNNING;
	if ((targ_sig & WB_SIG_LOOPEND) && w->tag_calls) {
		/* the stock loop works on a batch between a non-empty lookup and release */
		if (w->last_ev == WB_EV_TAGN)
			return WB_LOOP_RUNNING;
		return WB_LOOP_DONE;
	}
	return WB_LOOP_UNKNOWN;
}

/* A bio flushed by the pass of frame w (outside any folio or cluster write). */
static __always_inline __u32 pass_flush_cause(struct wp_frame *w, bool *inferred)
{
	struct writeback_control *wbc = (struct writeback_control *)w->wbc;
	__u32 loop = loop_state(w), end;
	bool inf = false;

	*inferred = loop == WB_LOOP_UNKNOWN;
	if (w->after_cluster && loop != WB_LOOP_DONE)
		return WB_BE_CLUSTER_END;
	*inferred = false;
	if (w->sync_mode == WB_SYNC_ALL)
		return WB_BE_INTEGRITY;
	if (loop == WB_LOOP_RUNNING)
		return WB_BE_OTHER;
	end = pass_end(w, 0, BPF_CORE_READ(wbc, nr_to_write), &inf);
	*inferred = inf || loop == WB_LOOP_UNKNOWN;
	return end == WB_END_PRIORITY ? WB_BE_PRIORITY : WB_BE_PASS_END;
}

/*
 * __submit_merged_bio() is about to submit a stream's cached bio, outside
 * f2fs_submit_page_write (a flush): why (enum wb_bio_end), from the call it
 * runs in.
 */
static __always_inline __u32 flush_cause(struct tstate *st, bool *inferred)
{
	struct wp_frame *w;

	*inferred = false;
	if (!(targ_sig & WB_SIG_PAGE))
		return WB_BE_UNKNOWN;	/* in a page's submit or a flush: cannot tell */
	if (st->cld > 0)
		return WB_BE_CLUSTER_END;
	if (st->fod > 0)
		return WB_BE_OTHER;	/* inside a folio's write, not its page's submit */
	if (st->wpd > WB_DEPTH)
		return WB_BE_UNKNOWN;
	w = wp_top(st);
	if (w)
		return w->ignore ? WB_BE_UNKNOWN : pass_flush_cause(w, inferred);
	if (st->fsyncd > 0)
		return WB_BE_INTEGRITY;
	if ((targ_sig & (WB_SIG_PASS | WB_SIG_FSYNC)) == (WB_SIG_PASS | WB_SIG_FSYNC))
		return WB_BE_OTHER;
	return WB_BE_UNKNOWN;
}

/* fsync: f2fs_sync_file_enter / _exit bracket f2fs_do_sync_file */
static __always_inline void fsync_frame(bool enter)
{
	struct tstate *st = tstate_get(enter);

	if (!st)
		return;
	if (enter)
		st->fsyncd++;
	else if (st->fsyncd)
		st->fsyncd--;	/* an exit of a call entered before the attach is skipped */
}

/* --------------------------------------------------------------------- bio */

static __always_inline __u32 decode_temp(__u32 ptype, __u32 hint)
{
	/* f2fs_io_type_to_rw_hint() (fs/f2fs/segment.c, 7.3) inverted */
	if (ptype == WB_PT_DATA) {
		if (hint == 0) return WB_TEMP_WARM;	/* WRITE_LIFE_NOT_SET */
		if (hint == 2) return WB_TEMP_HOT;	/* WRITE_LIFE_SHORT */
		if (hint == 5) return WB_TEMP_COLD;	/* WRITE_LIFE_EXTREME */
	} else if (ptype == WB_PT_NODE) {
		if (hint == 3) return WB_TEMP_WARM;	/* WRITE_LIFE_MEDIUM */
		if (hint == 1) return WB_TEMP_HOT;	/* WRITE_LIFE_NONE */
		if (hint == 4) return WB_TEMP_COLD;	/* WRITE_LIFE_LONG */
	}
	return WB_TEMP_UNKNOWN;
}

/*
 * f2fs_prepare_write_bio: __submit_merged_bio() submits a stream's cached
 * bio.  Inside f2fs_submit_page_write the next page of the stream ended it:
 * keep the bio's state for that page (spw_frame); otherwise it is a flush.
 */
static __always_inline void bio_prep(struct super_block *sb, struct bio *bio)
{
	struct bio_pages_val *v;
	struct tstate *st;
	__u64 key = (__u64)bio;
	bool inferred = false;

	if (!bio || !sb_ok(sb))	/* tp_btf: a NULL check before reading through it */
		return;
	st = tstate_get(true);
	if (!st)
		return;
	st->prep_bio = key;
	st->prep_defer = 0;
	st->prep_inferred = 0;
	if (st->spwd && (targ_sig & WB_SIG_PAGE)) {
		struct spw_frame *f = &st->spw;
		struct f2fs_bio_info___wb *io = (struct f2fs_bio_info___wb *)f->io;

		st->prep_end = WB_BE_UNKNOWN;
		if (!f->ignore && io) {
			pending_flush(f, WB_BE_OTHER);	/* no page came after the previous one */
			f->last = BPF_CORE_READ(io, last_block_in_bio);
			f->op = BPF_CORE_READ(io, fio.op);
			f->op_flags = BPF_CORE_READ(io, fio.op_flags);
			f->size = BPF_CORE_READ(bio, bi_iter.bi_size);
			f->vcnt = BPF_CORE_READ(bio, bi_vcnt);
			f->max_vecs = BPF_CORE_READ(bio, bi_max_vecs);
			st->prep_defer = 1;
		}
	} else {
		st->prep_end = flush_cause(st, &inferred);
		st->prep_inferred = inferred;
	}
	v = bpf_map_lookup_elem(&bio_pages, &key);
	st->prep_pages = v ? v->pages : 0;
	st->prep_all = v ? v->all_seen : 0;
	if (v)
		bpf_map_delete_elem(&bio_pages, &key);
}

/* f2fs_submit_write_bio: every f2fs write bio, cached-stream or not (IPU). */
static __always_inline void bio_submit(__u32 site, struct super_block *sb, int type,
				       struct bio *bio)
{
	struct tstate *st;
	struct wb_event *e;
	__u32 bytes, ptype, temp, flags = 0, opf;
	__u8 hint = 0, end = WB_BE_NONE;
	bool merged = false;
	__u64 now, id;

	if (!bio || !sb_ok(sb))
		return;
	now = bpf_ktime_get_ns();
	bytes = BPF_CORE_READ(bio, bi_iter.bi_size);
	opf = BPF_CORE_READ(bio, bi_opf);
	if (bpf_core_field_exists(bio->bi_write_hint))
		bpf_probe_read_kernel(&hint, 1, (void *)bio +
				      bpf_core_field_offset(struct bio, bi_write_hint));
	ptype = (type >= 0 && type < WB_PT_OTHER) ? type : WB_PT_OTHER;
	temp = decode_temp(ptype, hint);
	st = tstate_get(false);
	if (st) {
		merged = st->prep_bio == (__u64)bio;
		st->prep_bio = 0;
	}
	if (!(targ_sig & WB_SIG_PREP))
		end = WB_BE_UNKNOWN;	/* cached-stream bios cannot be told from the others */
	if (!(targ_sig & WB_SIG_PAGE))
		flags |= WB_F_PAGES_UNSEEN;
	if (bpf_core_enum_value_exists(enum req_flag_bits, __REQ_SYNC) &&
	    (opf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC))))
		flags |= WB_F_SYNC;

	cnt_add(WB_C_BIO_DATA + ptype, 1);
	cnt_add(WB_C_BIO_DATA_BYTES + ptype, bytes);
	if (ptype == WB_PT_DATA) {
		/* IPU data goes through f2fs_merge_page_bio/f2fs_submit_page_bio, never
		 * through __submit_merged_bio (which fires f2fs_prepare_write_bio). */
		flags |= merged ? WB_F_OPU : WB_F_IPU;
		cnt_add(WB_C_BIO_DATA_HOT + temp, 1);
		cnt_add(merged ? WB_C_BIO_DATA_OPU : WB_C_BIO_DATA_IPU, 1);
		hist_add(WB_HE_BIO_BYTES, bytes);
	}

	if (merged && st) {
		/* a stream's cached bio: its record waits for its end cause when deferred */
		e = st->prep_defer ? &st->spw.ev : &st->bev;
		__builtin_memset(e, 0, sizeof(*e));
		id = bpf_get_current_pid_tgid();
		e->ts = now;
		e->type = WB_EV_BIO;
		e->site = site;
		e->dev = BPF_CORE_READ(sb, s_dev);
		e->pid = id >> 32;
		e->tid = (__u32)id;
		e->cpu = bpf_get_smp_processor_id();
		e->flags = flags | WB_F_STREAM;
		if (st->prep_all)
			e->flags |= WB_F_BIO_ALL_SEEN;
		e->bio.pages_traced = st->prep_pages;
	} else {
		e = ev_new(WB_EV_BIO, site, BPF_CORE_READ(sb, s_dev), 0, now);
		if (!e)
			return;
		e->flags = flags;
	}
	e->bio.sector = BPF_CORE_READ(bio, bi_iter.bi_sector);
	e->bio.bytes = bytes;
	e->bio.vcnt = BPF_CORE_READ(bio, bi_vcnt);
	e->bio.ptype = ptype;
	e->bio.temp = temp;
	e->bio.hint = hint;
	e->bio.opf = opf;
	e->bio.end = end;
	if (!(merged && st)) {
		ev_submit(e);
	} else if (st->prep_defer) {
		st->prep_defer = 0;
		st->spw.pend = 1;
	} else {
		stream_bio_done(e, st->prep_end, st->prep_inferred);
	}
}

/* -------------------------------------------------- one program per mode */

/* FUNC site entry: fentry + kprobe with the same argument list. */
#define WB_FUNC_ENTRY(base, call, ...)						\
	SEC("fentry") int BPF_PROG(base##_fentry, ##__VA_ARGS__) { call; return 0; }	\
	SEC("kprobe") int BPF_KPROBE(base##_kprobe, ##__VA_ARGS__) { call; return 0; }

/*
 * FUNC site exit: fexit (bpf_get_func_ret/_arg, 5.17+) + kretprobe.  fn gets
 * the return value and the call's first argument (the frame's key; 0 from a
 * kretprobe, which does not see the arguments).
 */
#define WB_FUNC_EXIT(base, fn)							\
	SEC("fexit") int base##_fexit(unsigned long long *ctx)			\
	{									\
		__u64 r = 0, key = 0;						\
									\
		bpf_get_func_ret(ctx, &r);					\
		bpf_get_func_arg(ctx, 0, &key);					\
		fn((long)r, key);						\
		return 0;							\
	}									\
	SEC("kretprobe") int BPF_KRETPROBE(base##_kretprobe, long r) { fn(r, 0); return 0; }

/* TP site: tp_btf + raw_tp, same arguments. */
#define WB_TP(base, call, ...)							\
	SEC("tp_btf") int BPF_PROG(base##_tp_btf, ##__VA_ARGS__) { call; return 0; }	\
	SEC("raw_tp") int BPF_PROG(base##_raw_tp, ##__VA_ARGS__) { call; return 0; }

static __always_inline void wp_exit_outer(long r, __u64 key) { wp_exit(WPK_OUTER, r, key); }
static __always_inline void wp_exit_loop(long r, __u64 key) { wp_exit(WPK_LOOP, r, key); }

/* f2fs_write_data_pages(mapping, wbc) */
WB_FUNC_ENTRY(wp, wp_enter(WB_S_WP_OUTER, WPK_OUTER, mapping, wbc),
	      struct address_space *mapping, struct writeback_control *wbc)
WB_FUNC_EXIT(wp_exit, wp_exit_outer)

/*
 * f2fs_writepages tracepoint (inode, wbc, type): entry only.  A DATA pass that
 * gives way to a WB_SYNC_ALL writer at entry fires it twice (before the check
 * and at skip_write): the second firing -- same thread, wbc, inode and
 * nr_to_write, no folio in between, pages_skipped grown -- is not a new pass.
 */
static __always_inline void wp_tp(struct inode *inode, struct writeback_control *wbc, int type)
{
	struct tstate *st;
	struct wb_event *e;
	__s64 nr, ps;
	__u32 sync_mode, why, k = 0;
	__u64 ino, now;

	if (type != WB_PT_DATA || !wbc || !inode_ok(inode))
		return;
	now = bpf_ktime_get_ns();	/* the pass's entry */
	ino = BPF_CORE_READ(inode, i_ino);
	nr = BPF_CORE_READ(wbc, nr_to_write);
	ps = BPF_CORE_READ(wbc, pages_skipped);
	sync_mode = BPF_CORE_READ(wbc, sync_mode);
	st = tstate_get(true);
	if (st) {
		if (sync_mode != WB_SYNC_ALL && st->tp_wbc == (__u64)wbc && st->tp_ino == ino &&
		    st->tp_nr == nr && st->tp_fseq == st->fseq && ps > st->tp_ps) {
			struct wb_passes *p = bpf_map_lookup_elem(&passes, &k);

			st->tp_wbc = 0;
			if (p)
				__sync_fetch_and_add(&p->tp_dups, 1);
			return;
		}
		st->tp_wbc = (__u64)wbc;
		st->tp_ino = ino;
		st->tp_nr = nr;
		st->tp_ps = ps;
		st->tp_fseq = st->fseq;
	}
	why = wbc_why(wbc, sync_mode);
	cnt_add(WB_C_WP_NO_EXIT, 1);
	passes_add(sync_mode, why, nr, WB_END_UNKNOWN, false, 0);
	e = ev_new(WB_EV_WP, WB_S_WP_TP, BPF_CORE_READ(inode, i_sb, s_dev), ino, now);
	if (!e)
		return;
	e->flags = WB_F_NO_EXIT;
	e->wp.nr_before = nr;
	e->wp.sync_mode = sync_mode;
	e->wp.why = why;
	e->wp.end = WB_END_UNKNOWN;
	e->wp.cyclic = BPF_CORE_READ_BITFIELD_PROBED(wbc, range_cyclic);
	e->wp.reason = st ? (__s32)st->wb_reason - 1 : -1;
	ev_submit(e);
}
WB_TP(wp_tp, wp_tp(inode, wbc, type),
      struct inode *inode, struct writeback_control *wbc, int type)

/* f2fs_write_cache_folios (patched) / f2fs_write_cache_pages (stock) (mapping, wbc, io_type) */
WB_FUNC_ENTRY(loop0, wp_enter(WB_S_LOOP_FOLIOS, WPK_LOOP, mapping, wbc),
	      struct address_space *mapping, struct writeback_control *wbc)
WB_FUNC_EXIT(loop0_exit, wp_exit_loop)
WB_FUNC_ENTRY(loop1, wp_enter(WB_S_LOOP_PAGES, WPK_LOOP, mapping, wbc),
	      struct address_space *mapping, struct writeback_control *wbc)
WB_FUNC_EXIT(loop1_exit, wp_exit_loop)
/* patched module: the old loop renamed, for compressed inodes only */
WB_FUNC_ENTRY(loop2, wp_enter(WB_S_LOOP_COMPR, WPK_LOOP, mapping, wbc),
	      struct address_space *mapping, struct writeback_control *wbc)
WB_FUNC_EXIT(loop2_exit, wp_exit_loop)

/* f2fs_write_single_data_page(folio, int *submitted, ...) */
WB_FUNC_ENTRY(folio, folio_enter(WB_S_FOLIO_SINGLE, folio, submitted),
	      struct folio *folio, int *submitted)
WB_FUNC_EXIT(folio_exit, folio_exit)

/* f2fs_writepage tracepoint (folio, type) */
WB_TP(folio_tp, folio_tp(WB_S_FOLIO_TP, folio, type), struct folio *folio, int type)

/* writeback_iter(mapping, wbc, folio, error) -> folio: exit only */
SEC("fexit") int BPF_PROG(handout_fexit, struct address_space *mapping,
			  struct writeback_control *wbc, struct folio *prev, int *errp,
			  struct folio *ret)
{
	handout(ret, true, mapping, prev, errp);
	return 0;
}
SEC("kretprobe") int BPF_KRETPROBE(handout_kretprobe, struct folio *folio)
{
	handout(folio, false, NULL, NULL, NULL);
	return 0;
}

/* f2fs_writepages tracepoint inside a frame (pass_mark) */
WB_TP(wp_mark, wp_mark(wbc, type), struct inode *inode, struct writeback_control *wbc, int type)

/* filemap_get_folios_tag(mapping, start, end, tag, fbatch) -> nr: exit only */
SEC("fexit") int BPF_PROG(tag_exit_fexit, struct address_space *mapping, unsigned long *start,
			  unsigned long end, unsigned int tag, void *fbatch, unsigned int ret)
{
	loop_ev(ret ? WB_EV_TAGN : WB_EV_TAG0, mapping);
	return 0;
}
SEC("kretprobe") int BPF_KRETPROBE(tag_exit_kretprobe, unsigned int ret)
{
	loop_ev(ret ? WB_EV_TAGN : WB_EV_TAG0, NULL);
	return 0;
}

/* release_pages(arg, nr): entry only */
SEC("fentry") int BPF_PROG(relpages_fentry)
{
	loop_ev(WB_EV_REL, NULL);
	return 0;
}
SEC("kprobe") int BPF_KPROBE(relpages_kprobe)
{
	loop_ev(WB_EV_REL, NULL);
	return 0;
}

/* writeback_start / writeback_written tracepoints (wb, work) */
WB_TP(wbwork_start, wbwork(work, true), struct bdi_writeback *wb,
      struct wb_writeback_work___wb *work)
WB_TP(wbwork_done, wbwork(work, false), struct bdi_writeback *wb,
      struct wb_writeback_work___wb *work)

/* f2fs_do_write_data_page tracepoint (folio, IPU|OPU) */
WB_TP(folio_io, folio_io(folio, type), struct folio *folio, int type)

/* f2fs_submit_page_write(fio): entry and exit (void; fexit sees the argument) */
WB_FUNC_ENTRY(spw, spw_enter(fio), struct f2fs_io_info___wb *fio)
SEC("fexit") int BPF_PROG(spw_exit_fexit, struct f2fs_io_info___wb *fio)
{
	spw_exit(fio);
	return 0;
}
SEC("kretprobe") int BPF_KRETPROBE(spw_exit_kretprobe)
{
	spw_exit(NULL);
	return 0;
}

/* f2fs_sync_file_enter (inode) / f2fs_sync_file_exit (inode, cp_reason, datasync, ret) */
/* f2fs_submit_folio_write tracepoint (folio, fio): a folio joined its stream's bio */
WB_TP(page_join, page_joined(fio), struct folio *folio, struct f2fs_io_info___wb *fio)

WB_TP(fsync_enter, fsync_frame(true), struct inode *inode)
WB_TP(fsync_exit, fsync_frame(false), struct inode *inode, int cp_reason, int datasync, int ret)

/* f2fs_submit_write_bio / f2fs_prepare_write_bio tracepoints (sb, type, bio) */
WB_TP(bio, bio_submit(WB_S_BIO_SUBMIT, sb, type, bio),
      struct super_block *sb, int type, struct bio *bio)
WB_TP(bio_prep, bio_prep(sb, bio), struct super_block *sb, int type, struct bio *bio)

/* f2fs_write_multi_pages(cc, int *submitted, wbc, io_type) */
WB_FUNC_ENTRY(cluster, cluster_enter(WB_S_CLUSTER_MULTI, cc, submitted),
	      struct compress_ctx___wb *cc, int *submitted)
WB_FUNC_EXIT(cluster_exit, cluster_exit)

/* f2fs_compress_pages_start (inode, cluster_idx, cluster_size, algtype) / _end (inode, idx, clen, ret) */
WB_TP(compress_start, compress_start(WB_S_COMPRESS_START, inode, idx, csize, algo),
      struct inode *inode, unsigned long idx, unsigned int csize, unsigned char algo)
WB_TP(compress_end, compress_end(inode, clen, ret),
      struct inode *inode, unsigned long idx, unsigned int clen, int ret)
