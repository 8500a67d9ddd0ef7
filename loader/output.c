// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "output.h"
#include "json.h"
#include "probe.h"
#include "sysinfo.h"

_Static_assert(WB_C_FOLIO_UNKNOWN - WB_C_FOLIO_WRITTEN == WB_OUT_UNKNOWN, "outcome counters");
_Static_assert(WB_C_CLUSTER_UNKNOWN - WB_C_CLUSTER_COMPRESSED == WB_CL_UNKNOWN, "cluster counters");
_Static_assert(WB_C_BIO_OTHER - WB_C_BIO_DATA == WB_PT_OTHER, "bio counters");
_Static_assert(WB_C_BIO_OTHER_BYTES - WB_C_BIO_DATA_BYTES == WB_PT_OTHER, "bio byte counters");
_Static_assert(WB_C_BIO_DATA_UNKNOWN_TEMP - WB_C_BIO_DATA_HOT == WB_TEMP_UNKNOWN, "temp counters");
_Static_assert(WB_MAX_SLOTS == WB_LOG2_SLOTS, "slot count");

static const char *const hist_names[WB_H_NR] = {
#define WB_X(id, name, unit, keyed) name,
	WB_HISTS(WB_X)
#undef WB_X
};
static const char *const hist_units[WB_H_NR] = {
#define WB_X(id, name, unit, keyed) unit,
	WB_HISTS(WB_X)
#undef WB_X
};
static const unsigned char hist_keyed[WB_H_NR] = {
#define WB_X(id, name, unit, keyed) keyed,
	WB_HISTS(WB_X)
#undef WB_X
};
static const unsigned hist_entry[WB_H_NR] = {
#define WB_X(id, name, unit, keyed) WB_HE_##id,
	WB_HISTS(WB_X)
#undef WB_X
};
static const char *const ksync_names[WB_KS_NR] = {
#define WB_X(id, name) name,
	WB_KSYNCS(WB_X)
#undef WB_X
};
static const char *const kio_names[WB_KI_NR] = {
#define WB_X(id, name) name,
	WB_KIOS(WB_X)
#undef WB_X
};
static const char *const kcompr_names[WB_KC_NR] = {
#define WB_X(id, name) name,
	WB_KCOMPRS(WB_X)
#undef WB_X
};

bool wb_hist_keyed(unsigned id)
{
	return id < WB_H_NR && hist_keyed[id];
}

unsigned wb_hist_entry(unsigned id)
{
	return id < WB_H_NR ? hist_entry[id] : WB_HE_NR;
}

const char *wb_key_name(unsigned k, char *buf, size_t n)
{
	unsigned c = k % WB_KC_NR, i = k / WB_KC_NR % WB_KI_NR, s = k / WB_KC_NR / WB_KI_NR;

	if (k >= WB_KEYS)
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%s/%s/%s", ksync_names[s], kio_names[i], kcompr_names[c]);
	return buf;
}

/*
 * The key of a record's sample, the same rule as the BPF side's hist_add
 * calls: sync from the pass (wp: its own; folio, cluster: WB_F_NO_PASS /
 * WB_F_PASS_ALL), io from the folio's IPU/OPU flags for a folio's own write,
 * gap and cycle (na for passes, set-ups and clusters), compr from WB_F_COMPR.
 */
unsigned wb_event_key(const struct wb_event *e, unsigned id)
{
	unsigned s, i = WB_KI_NA, c = e->flags & WB_F_COMPR ? WB_KC_COMPR : WB_KC_PLAIN;

	if (e->type == WB_EV_WP)
		s = e->wp.sync_mode == 1 ? WB_KS_ALL : WB_KS_NONE;	/* WB_SYNC_ALL */
	else if (e->flags & WB_F_NO_PASS)
		s = WB_KS_NA;
	else
		s = e->flags & WB_F_PASS_ALL ? WB_KS_ALL : WB_KS_NONE;
	if (e->type == WB_EV_FOLIO && id != WB_H_PASS_SETUP_NS)
		i = e->flags & WB_F_IPU ? WB_KI_IPU : e->flags & WB_F_OPU ? WB_KI_OPU : WB_KI_NA;
	if (e->type == WB_EV_CLUSTER)
		c = WB_KC_COMPR;
	return WB_KEY(s, i, c);
}
static const char *const counter_names[WB_C_NR] = {
#define WB_X(id, name) name,
	WB_COUNTERS(WB_X)
#undef WB_X
};

const char *wb_outcome_name(unsigned o)
{
	static const char *const n[] = { "written", "redirtied", "skipped", "error", "unknown" };
	return o < WB_OUT_NR ? n[o] : "?";
}

const char *wb_why_name(unsigned w)
{
	static const char *const n[] = { "background", "kupdate", "sync", "fsync", "other" };
	return w < WB_WHY_NR ? n[w] : "?";
}

const char *wb_end_name(unsigned e)
{
	static const char *const n[] = { "range_end", "budget", "priority_stop", "error" };
	return e < WB_END_NR ? n[e] : "?";
}

const char *wb_bio_end_name(unsigned e)
{
	static const char *const n[] = {
#define WB_X(id, name, what) name,
		WB_BIO_ENDS(WB_X)
#undef WB_X
	};
	return e < WB_BE_NR ? n[e] : e == WB_BE_UNKNOWN ? "unknown" : "?";
}

const char *wb_cl_outcome_name(unsigned o)
{
	static const char *const n[] = { "compressed", "not_worth", "raw", "error", "unknown" };
	return o < WB_CL_NR ? n[o] : "?";
}

const char *wb_temp_name(unsigned t)
{
	static const char *const n[] = { "hot", "warm", "cold", "unknown" };
	return t < WB_TEMP_NR ? n[t] : "?";
}

const char *wb_ptype_name(unsigned t)
{
	static const char *const n[] = { "data", "node", "meta", "other" };
	return t < WB_PT_NR ? n[t] : "?";
}

const char *wb_algo_name(unsigned a)
{
	static const char *const n[] = { "lzo", "lz4", "zstd", "lzo-rle" };
	return a < 4 ? n[a] : "unknown";
}

void wb_run_init(struct wb_run *run)
{
	memset(run, 0, sizeof(*run));
	run->cmd_status = -1;
}

void wb_run_free(struct wb_run *run)
{
	for (int i = 0; i < WB_H_NR; i++) {
		wb_vec_free(&run->m[i].v);
		for (int k = 0; k < WB_KEYS; k++)
			wb_vec_free(&run->m[i].kv[k]);
	}
	free(run->kh);
	run->kh = NULL;
}

static void metric_add_ev(struct wb_run *run, int id, uint64_t v, const struct wb_event *e)
{
	wb_log2_add(&run->m[id].h, v);
	wb_vec_push(&run->m[id].v, v);
	if (hist_keyed[id])
		wb_vec_push(&run->m[id].kv[wb_event_key(e, id)], v);
}
#define metric_add(run, id, v) metric_add_ev(run, id, v, e)

static const char *site_target(unsigned site)
{
	return site < WB_S_NR ? wb_site_defs[site].target : "?";
}

static void json_u64_or_null(FILE *f, const char *key, uint64_t v, bool known)
{
	if (known)
		fprintf(f, ",\"%s\":%llu", key, (unsigned long long)v);
	else
		fprintf(f, ",\"%s\":null", key);
}

void wb_event_jsonl(FILE *f, const struct wb_event *e)
{
	fprintf(f, "{\"t\":%llu,\"cpu\":%u,\"pid\":%u,\"tid\":%u,\"dev\":\"%u:%u\"",
		(unsigned long long)e->ts, e->cpu, e->pid, e->tid, e->dev >> 20,
		e->dev & 0xfffff);
	switch (e->type) {
	case WB_EV_WP: {
		bool exit = !(e->flags & WB_F_NO_EXIT);
		bool folios = exit && !(e->flags & WB_F_FOLIO_UNKNOWN);

		fprintf(f, ",\"k\":\"wp\",\"ino\":%llu,\"site\":\"%s\",\"dur_ns\":%llu,"
			"\"loop_ns\":%llu,\"other\":%u,\"bytes\":%llu,"
			"\"handouts\":%u,\"clusters\":%u,\"nr_before\":%lld,\"nr_after\":%lld,"
			"\"sync_mode\":%u,\"ret\":%d,\"no_exit\":%s,\"loop\":%s",
			(unsigned long long)e->ino, site_target(e->site),
			(unsigned long long)e->wp.dur_ns, (unsigned long long)e->wp.loop_ns,
			e->wp.other, (unsigned long long)e->wp.bytes, e->wp.handouts,
			e->wp.clusters, (long long)e->wp.nr_before, (long long)e->wp.nr_after,
			e->wp.sync_mode, e->wp.ret, exit ? "false" : "true",
			e->flags & WB_F_LOOP ? "true" : "false");
		fprintf(f, ",\"sync\":\"%s\",\"why\":\"%s\",\"cyclic\":%s,\"nr_given\":%lld",
			e->wp.sync_mode ? "all" : "none", wb_why_name(e->wp.why),
			e->wp.cyclic ? "true" : "false", (long long)e->wp.nr_before);
		if (e->wp.reason >= 0)
			fprintf(f, ",\"reason\":%d", e->wp.reason);
		else
			fputs(",\"reason\":null", f);
		if (exit && e->wp.sync_waiters >= 0)
			fprintf(f, ",\"sync_waiters\":%d", e->wp.sync_waiters);
		else
			fputs(",\"sync_waiters\":null", f);
		if (exit)
			fprintf(f, ",\"nr_used\":%lld,\"pages_skipped\":%lld,\"end\":\"%s\","
				"\"end_inferred\":%s",
				(long long)(e->wp.nr_before - e->wp.nr_after),
				(long long)e->wp.pages_skipped, wb_end_name(e->wp.end),
				e->flags & WB_F_END_INFERRED ? "true" : "false");
		else
			fputs(",\"nr_used\":null,\"pages_skipped\":null,\"end\":null,"
			      "\"end_inferred\":null", f);
		if (folios)
			fprintf(f, ",\"written\":%u,\"redirtied\":%u,\"skipped\":%u",
				e->wp.folios, e->wp.redirtied, e->wp.skipped);
		else
			fputs(",\"written\":null,\"redirtied\":null,\"skipped\":null", f);
		if (folios && (e->flags & WB_F_GAP))
			fprintf(f, ",\"setup_ns\":%llu,\"gap_ns\":%llu,\"write_ns\":%llu,"
				"\"cluster_ns\":%llu,\"tail_ns\":%llu",
				(unsigned long long)e->wp.setup_ns, (unsigned long long)e->wp.gap_ns,
				(unsigned long long)e->wp.write_ns,
				(unsigned long long)e->wp.cluster_ns,
				(unsigned long long)e->wp.tail_ns);
		else
			fputs(",\"setup_ns\":null,\"gap_ns\":null,\"write_ns\":null,"
			      "\"cluster_ns\":null,\"tail_ns\":null", f);
		fprintf(f, ",\"compr\":%s", e->flags & WB_F_COMPR ? "true" : "false");
		break;
	}
	case WB_EV_FOLIO: {
		bool exit = !(e->flags & WB_F_NO_EXIT), gap = e->flags & WB_F_GAP;

		fprintf(f, ",\"k\":\"folio\",\"ino\":%llu,\"idx\":%llu,\"size\":%u",
			(unsigned long long)e->ino, (unsigned long long)e->folio.index,
			e->folio.size);
		/* a phase the probes could not measure is absent (null), never 0 */
		json_u64_or_null(f, "lat_ns", e->folio.iter_ns,
				 exit && gap && !(e->flags & WB_F_FIRST));
		json_u64_or_null(f, "gap_ns", e->folio.gap_ns, gap);
		json_u64_or_null(f, "write_ns", e->folio.write_ns, exit);
		json_u64_or_null(f, "handout_ns", e->folio.handout_ns, e->flags & WB_F_HANDOUT);
		fprintf(f, ",\"outcome\":\"%s\","
			"\"ret\":%d,\"compr\":%s,\"io\":%s,\"first\":%s,\"in_pass\":%s,"
			"\"in_cluster\":%s,\"no_exit\":%s",
			wb_outcome_name(e->folio.outcome),
			e->folio.ret, e->flags & WB_F_COMPR ? "true" : "false",
			e->flags & WB_F_IPU ? "\"ipu\"" : e->flags & WB_F_OPU ? "\"opu\"" : "null",
			e->flags & WB_F_FIRST ? "true" : "false",
			e->flags & WB_F_NO_PASS ? "false" : "true",
			e->flags & WB_F_IN_CLUSTER ? "true" : "false",
			e->flags & WB_F_NO_EXIT ? "true" : "false");
		fprintf(f, ",\"sync\":%s", e->flags & WB_F_NO_PASS ? "null" :
			e->flags & WB_F_PASS_ALL ? "\"all\"" : "\"none\"");
		break;
	}
	case WB_EV_BIO:
		fprintf(f, ",\"k\":\"bio\",\"bytes\":%u,\"pages\":%u,\"vcnt\":%u,\"type\":\"%s\","
			"\"temp\":\"%s\",\"io\":%s,\"sector\":%llu,\"hint\":%u,\"sync\":%s",
			e->bio.bytes, e->bio.bytes >> WB_BLKSIZE_BITS, e->bio.vcnt,
			wb_ptype_name(e->bio.ptype), wb_temp_name(e->bio.temp),
			e->flags & WB_F_IPU ? "\"ipu\"" : e->flags & WB_F_OPU ? "\"opu\"" : "null",
			(unsigned long long)e->bio.sector, e->bio.hint,
			e->flags & WB_F_SYNC ? "true" : "false");
		/* a cached-stream bio's end cause; null when not one, or not told */
		if (e->bio.end < WB_BE_NR)
			fprintf(f, ",\"end\":\"%s\",\"end_inferred\":%s", wb_bio_end_name(e->bio.end),
				e->flags & WB_F_END_INFERRED ? "true" : "false");
		else
			fputs(",\"end\":null,\"end_inferred\":null", f);
		fprintf(f, ",\"stream\":%s", e->bio.end == WB_BE_NONE ? "false" :
			e->flags & WB_F_STREAM ? "true" : "null");
		if ((e->flags & WB_F_STREAM) && !(e->flags & WB_F_PAGES_UNSEEN))
			fprintf(f, ",\"pages_traced\":%u,\"all_traced\":%s", e->bio.pages_traced,
				e->flags & WB_F_BIO_ALL_SEEN ? "true" : "false");
		else
			fputs(",\"pages_traced\":null,\"all_traced\":null", f);
		break;
	case WB_EV_CLUSTER:
		fprintf(f, ",\"k\":\"cmp\",\"ino\":%llu,\"cluster\":%llu,\"cluster_pages\":%u,"
			"\"nr_rpages\":%u,\"raw\":%llu,\"clen\":%u,\"cblocks\":%u,\"saved\":%u,"
			"\"submitted\":%u,\"algo\":\"%s\",\"ret\":%d,\"write_ret\":%d,"
			"\"outcome\":\"%s\",\"dur_ns\":%llu,\"compress_ns\":%llu,\"no_exit\":%s",
			(unsigned long long)e->ino, (unsigned long long)e->cl.cluster_idx,
			e->cl.cluster_size, e->cl.nr_rpages,
			(unsigned long long)e->cl.cluster_size * WB_BLKSIZE, e->cl.clen,
			e->cl.cblocks, e->cl.saved, e->cl.submitted, wb_algo_name(e->cl.algo),
			e->cl.compress_ret, e->cl.ret, wb_cl_outcome_name(e->cl.outcome),
			(unsigned long long)e->cl.dur_ns, (unsigned long long)e->cl.compress_ns,
			e->flags & WB_F_NO_EXIT ? "true" : "false");
		fprintf(f, ",\"sync\":%s", e->flags & WB_F_NO_PASS ? "null" :
			e->flags & WB_F_PASS_ALL ? "\"all\"" : "\"none\"");
		break;
	default:
		fprintf(f, ",\"k\":\"unknown\",\"type\":%u", e->type);
	}
	fputs("}\n", f);
}

void wb_run_event(struct wb_run *run, const struct wb_event *e)
{
	run->events++;
	if (e->type < WB_EV_TYPES)
		run->ev_by_type[e->type]++;
	switch (e->type) {
	case WB_EV_WP:
		if (!(e->flags & WB_F_NO_EXIT)) {
			metric_add(run, WB_H_WP_NS, e->wp.dur_ns);
			metric_add(run, WB_H_WP_FOLIOS, e->wp.folios);
		}
		if (e->flags & WB_F_LOOP)
			metric_add(run, WB_H_LOOP_NS, e->wp.loop_ns);
		break;
	case WB_EV_FOLIO:
		if (!(e->flags & WB_F_NO_EXIT)) {
			metric_add(run, WB_H_FOLIO_WRITE_NS, e->folio.write_ns);
			if ((e->flags & WB_F_GAP) && (e->flags & WB_F_FIRST)) {
				metric_add(run, WB_H_PASS_SETUP_NS, e->folio.gap_ns);
			} else if (e->flags & WB_F_GAP) {
				metric_add(run, WB_H_FOLIO_GAP_NS, e->folio.gap_ns);
				metric_add(run, WB_H_FOLIO_ITER_NS, e->folio.iter_ns);
			}
		}
		if (e->flags & WB_F_HANDOUT)
			metric_add(run, WB_H_FOLIO_HANDOUT_NS, e->folio.handout_ns);
		break;
	case WB_EV_BIO:
		if (e->bio.ptype == WB_PT_DATA)
			metric_add(run, WB_H_BIO_BYTES, e->bio.bytes);
		break;
	case WB_EV_CLUSTER:
		if (!(e->flags & WB_F_NO_EXIT))
			metric_add(run, WB_H_CLUSTER_NS, e->cl.dur_ns);
		if (e->cl.has_compress) {
			metric_add(run, WB_H_COMPRESS_NS, e->cl.compress_ns);
			run->algo_clusters[e->cl.algo & 7]++;
			run->cluster_pages = e->cl.cluster_size;
		}
		break;
	}
	if (run->ev && !run->ev_error) {
		wb_event_jsonl(run->ev, e);
		if (ferror(run->ev))
			run->ev_error = errno ? errno : EIO;
	}
}

double wb_drop_pct(uint64_t delivered, uint64_t dropped)
{
	uint64_t total = delivered + dropped;

	return total ? 100.0 * (double)dropped / (double)total : 0.0;
}

bool wb_run_lost(const struct wb_run *run, char *why, size_t whysz)
{
	const struct {
		uint64_t n;
		const char *what;
	} lost[] = {
		{ run->misses.prog, "BPF program runs missed (another was running on that CPU)" },
		{ run->misses.kprobe, "kprobe hits missed" },
		{ run->counters[WB_C_ORPHAN_EXIT], "exits whose entry was not seen" },
		{ run->counters[WB_C_EXIT_MISMATCH], "exits that met another call's frame" },
		{ run->counters[WB_C_DEPTH_OVERFLOW], "frames nested deeper than the tracer keeps" },
		{ run->counters[WB_C_STATE_UNAVAILABLE], "entries with no per-thread state" },
	};
	bool any = false;
	size_t n = 0;

	if (why && whysz)
		why[0] = 0;
	for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++) {
		if (!lost[i].n)
			continue;
		any = true;
		if (why && n < whysz)
			n += snprintf(why + n, whysz - n, "%s%llu %s", n ? "; " : "",
				      (unsigned long long)lost[i].n, lost[i].what);
	}
	if (any && why && n < whysz && run->misses.where[0])
		snprintf(why + n, whysz - n, " (%s)", run->misses.where);
	return any;
}

bool wb_run_valid(const struct wb_run *run, char *why, size_t whysz)
{
	double pct = wb_drop_pct(run->events, run->drops_total);
	bool ok = true;
	size_t n = 0;

	if (why && whysz)
		why[0] = 0;
	if (run->env && run->env->mode == WB_MODE_STREAM && pct > run->env->max_drop_pct) {
		ok = false;
		if (why)
			n += snprintf(why + n, whysz - n, "%s%.3f%% events dropped (> %.3f%%)",
				      n ? "; " : "", pct, run->env->max_drop_pct);
	}
	if (wb_run_lost(run, why ? why + n : NULL, why ? whysz - n : 0)) {
		ok = false;
		if (why)
			n = strlen(why);
	}
	if (run->sel) {
		for (int p = 0; p < WB_P_NR && n < whysz; p++)
			if (wb_probe_defs[p].required && !wb_probe_ok(run->sel, p)) {
				ok = false;
				if (why)
					n += snprintf(why + n, whysz - n, "%sprobe %s missing",
						      n ? "; " : "", wb_probe_defs[p].name);
			}
	}
	return ok;
}

/* ------------------------------------------------------------- summary */

/*
 * One {DIST} (SCHEMA.md section 3): histogram `id`, all keys (key < 0) or one.
 * Stream mode: exact percentiles from every value, the histograms built from
 * them; hist mode: the kernel's log-linear histograms, percentiles their
 * bucket upper bounds.
 */
struct dist {
	struct wb_ll *ll;		/* heap */
	struct wb_log2 h;		/* the log2 slots ll refines */
	uint64_t pct[WB_NPCT];
	bool exact;
};

static int make_dist(const struct wb_run *run, int id, int key, struct dist *d)
{
	bool stream = run->env && run->env->mode == WB_MODE_STREAM;
	unsigned he = hist_entry[id];

	memset(d, 0, sizeof(*d));
	d->ll = calloc(1, sizeof(*d->ll));
	if (!d->ll)
		return -1;
	if (stream) {
		struct wb_vec *v = (struct wb_vec *)(key < 0 ? &run->m[id].v : &run->m[id].kv[key]);

		d->exact = true;
		wb_sort_u64(v->v, v->n);
		for (size_t i = 0; i < v->n; i++)
			wb_ll_add(d->ll, v->v[i]);
		for (int i = 0; i < WB_NPCT; i++)
			d->pct[i] = wb_pct_exact_sorted(v->v, v->n, wb_pct_permille[i]);
	} else if (run->kh) {
		if (key >= 0)
			wb_ll_merge(d->ll, &run->kh[he + key]);
		else
			for (int k = 0; k < (hist_keyed[id] ? WB_KEYS : 1); k++)
				wb_ll_merge(d->ll, &run->kh[he + k]);
		for (int i = 0; i < WB_NPCT; i++)
			d->pct[i] = wb_ll_pct_upper(d->ll, wb_pct_permille[i]);
	}
	wb_ll_to_log2(d->ll, &d->h);
	return 0;
}

/*
 * Open the {DIST} object `name` (SCHEMA.md section 3) and write what every
 * kind of it holds: unit, count, sum, min, max, mean, the percentiles pct[]
 * (null when empty), pct_method and h's log2 view.  The caller ends it.
 */
static void json_dist_open(struct wb_json *j, const char *name, const char *unit,
			   const struct wb_log2 *h, const uint64_t pct[WB_NPCT],
			   const char *pct_method)
{
	unsigned len = wb_log2_len(h);

	wb_json_obj(j, name);
	wb_json_str(j, "unit", unit);
	wb_json_u64(j, "count", h->count);
	wb_json_u64(j, "sum", h->sum);
	if (h->count) {
		wb_json_u64(j, "min", h->min);
		wb_json_u64(j, "max", h->max);
		wb_json_dbl(j, "mean", (double)h->sum / (double)h->count);
		for (int i = 0; i < WB_NPCT; i++)
			wb_json_u64(j, wb_pct_name[i], pct[i]);
	} else {
		wb_json_null(j, "mean");
		for (int i = 0; i < WB_NPCT; i++)
			wb_json_null(j, wb_pct_name[i]);
	}
	wb_json_str(j, "pct_method", pct_method);
	wb_json_arr(j, "hist_log2");
	for (unsigned i = 0; i < len; i++)
		wb_json_u64(j, NULL, h->slots[i]);
	wb_json_arr_end(j);
}

static void json_dist_body(struct wb_json *j, const char *name, const char *unit,
			   const struct dist *d)
{
	json_dist_open(j, name, unit, &d->h, d->pct, d->exact ? "exact" : "hist_loglin_upper");
	wb_json_obj(j, "hist_loglin");
	wb_json_u64(j, "sub_bits", WB_LL_SUB_BITS);
	wb_json_arr(j, "buckets");
	for (unsigned i = 0; i < WB_LL_NB; i++) {
		if (!d->ll->b[i])
			continue;
		wb_json_arr(j, NULL);
		wb_json_u64(j, NULL, i);
		wb_json_u64(j, NULL, d->ll->b[i]);
		wb_json_arr_end(j);
	}
	wb_json_arr_end(j);
	wb_json_obj_end(j);
	wb_json_obj_end(j);
}

static void json_dist(struct wb_json *j, const struct wb_run *run, int id)
{
	struct dist d;

	if (make_dist(run, id, -1, &d))
		return;
	json_dist_body(j, hist_names[id], hist_units[id], &d);
	free(d.ll);
}

/* "metrics_by_key": per keyed metric, a {DIST} per key that has samples. */
static void json_metrics_by_key(struct wb_json *j, const struct wb_run *run)
{
	char kn[32];

	wb_json_obj(j, "metrics_by_key");
	for (int id = 0; id < WB_H_NR; id++) {
		if (!hist_keyed[id])
			continue;
		wb_json_obj(j, hist_names[id]);
		for (int k = 0; k < WB_KEYS; k++) {
			struct dist d;

			if (make_dist(run, id, k, &d))
				continue;
			if (d.h.count)
				json_dist_body(j, wb_key_name(k, kn, sizeof(kn)), hist_units[id], &d);
			free(d.ll);
		}
		wb_json_obj_end(j);
	}
	wb_json_obj_end(j);
}

static const char *top_algo(const struct wb_run *run)
{
	unsigned best = 0;
	uint64_t n = 0;

	for (unsigned a = 0; a < 8; a++)
		if (run->algo_clusters[a] > n) {
			n = run->algo_clusters[a];
			best = a;
		}
	return n ? wb_algo_name(best) : NULL;
}

static void json_site_list(struct wb_json *j, const struct wb_sel *sel)
{
	wb_json_arr(j, "probe_sites");
	for (int i = 0; i < WB_S_NR; i++) {
		const struct wb_site_def *d = &wb_site_defs[i];
		const struct wb_site *s = &sel->site[i];

		wb_json_obj(j, NULL);
		wb_json_str(j, "probe", wb_probe_defs[d->probe].name);
		wb_json_str(j, "target", d->target);
		wb_json_str(j, "kind", d->kind == WB_KIND_FUNC ? "function" : "tracepoint");
		wb_json_u64(j, "rank", d->rank);
		wb_json_str(j, "status", wb_sstat_name(s->status));
		wb_json_str(j, "mode", s->status == WB_SS_ATTACHED ? wb_pmode_name(s->mode) : NULL);
		wb_json_str(j, "note", s->note[0] ? s->note : NULL);
		wb_json_obj_end(j);
	}
	wb_json_arr_end(j);
}

static void json_probes(struct wb_json *j, const struct wb_sel *sel)
{
	wb_json_obj(j, "probes");
	for (int p = 0; p < WB_P_NR; p++) {
		int site;
		enum wb_pmode m = wb_probe_mode(sel, p, &site);
		bool exit_only = site >= 0 && !strcmp(wb_site_defs[site].entry, "none");

		wb_json_str(j, wb_probe_defs[p].name,
			    m != WB_M_NONE ? wb_pmode_schema(m, exit_only)
			    : wb_probe_defs[p].required ? "failed" : "off");
	}
	wb_json_obj_end(j);
}

bool wb_passes_complete(const struct wb_run *run)
{
	int site;

	return run->sel && wb_probe_mode(run->sel, WB_P_WRITEPAGES, &site) != WB_M_NONE &&
	       site == WB_S_WP_OUTER;
}

/*
 * "passes": every key always present; a count the attached sites cannot see
 * (no exit traced: tracepoint fallback) is null and "complete" is false.
 */
void wb_passes_json(struct wb_json *j, const struct wb_passes *p, bool complete)
{
	wb_json_obj(j, "passes");
	wb_json_u64(j, "total", p->total);
	wb_json_obj(j, "by_sync");
	wb_json_u64(j, "none", p->by_sync[0]);
	wb_json_u64(j, "all", p->by_sync[1]);
	wb_json_obj_end(j);
	wb_json_obj(j, "by_why");
	for (int w = 0; w < WB_WHY_NR; w++)
		wb_json_u64(j, wb_why_name(w), p->by_why[w]);
	wb_json_obj_end(j);
	if (complete) {
		wb_json_obj(j, "by_end");
		for (int e = 0; e < WB_END_NR; e++)
			wb_json_u64(j, wb_end_name(e), p->by_end[e]);
		wb_json_obj_end(j);
	} else {
		wb_json_null(j, "by_end");
	}
	wb_json_obj(j, "none_nr_given");
	if (p->none_passes) {
		wb_json_i64(j, "min", WB_KEY_S64(~p->nr_given_min_inv));
		wb_json_i64(j, "max", WB_KEY_S64(p->nr_given_max_key));
	} else {
		wb_json_null(j, "min");
		wb_json_null(j, "max");
	}
	wb_json_i128(j, "sum", (__int128)p->nr_given_sum_hi * 4294967296 + p->nr_given_sum_lo);
	wb_json_obj_end(j);
	if (complete)
		wb_json_i64(j, "none_nr_used_sum", p->none_nr_used_sum);
	else
		wb_json_null(j, "none_nr_used_sum");
	wb_json_bool(j, "complete", complete);
	if (complete)
		wb_json_u64(j, "end_inferred", p->end_inferred);
	else
		wb_json_null(j, "end_inferred");
	wb_json_obj_end(j);
}

/* A {DIST} (SCHEMA.md section 3) from a log2 histogram alone. */
static void json_log2_dist(struct wb_json *j, const char *name, const struct wb_log2 *h,
			   const char *unit)
{
	uint64_t pct[WB_NPCT];

	for (int i = 0; i < WB_NPCT; i++)
		pct[i] = wb_log2_pct_upper(h, wb_pct_permille[i]);
	json_dist_open(j, name, unit, h, pct, "hist_log2_upper");
	wb_json_obj_end(j);
}

static void bio_end_log2(const struct wb_bio_end_stat *b, struct wb_log2 *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->slots, b->pages.slots, sizeof(h->slots));
	h->count = b->pages.count;
	h->sum = b->pages.sum;
	h->min = b->pages.count ? ~b->pages.min_inv : 0;
	h->max = b->pages.max;
}

void wb_bio_ends_json(struct wb_json *j, const struct wb_run *run, bool pages_seen,
		      bool causes_seen)
{
	const uint64_t *c = run->counters;

	wb_json_obj(j, "bio_ends");
	wb_json_bool(j, "complete", pages_seen && causes_seen);
	wb_json_u64(j, "stream_bios", c[WB_C_BIO_STREAM]);
	wb_json_u64(j, "stream_pages", c[WB_C_BIO_STREAM_PAGES]);
	if (pages_seen) {
		wb_json_obj(j, "pages");
		wb_json_u64(j, "new", c[WB_C_PAGE_NEW]);
		wb_json_u64(j, "merged", c[WB_C_PAGE_MERGED]);
		wb_json_u64(j, "unknown", c[WB_C_PAGE_UNKNOWN]);
		wb_json_u64(j, "data_new", c[WB_C_PAGE_DATA_NEW]);
		wb_json_u64(j, "data_merged", c[WB_C_PAGE_DATA_MERGED]);
		wb_json_obj_end(j);
	} else {
		wb_json_null(j, "pages");
	}
	if (causes_seen) {
		wb_json_obj(j, "by_end");
		for (unsigned e = 0; e <= WB_BE_UNKNOWN; e++) {
			struct wb_log2 h;

			bio_end_log2(&run->bio_ends[e], &h);
			wb_json_obj(j, wb_bio_end_name(e));
			wb_json_u64(j, "bios", h.count);
			wb_json_u64(j, "inferred", run->bio_ends[e].inferred);
			json_log2_dist(j, "pages", &h, "pages");
			wb_json_obj_end(j);
		}
		wb_json_obj_end(j);
	} else {
		wb_json_null(j, "by_end");
	}
	wb_json_obj_end(j);
}

void wb_summary_json(const struct wb_run *run, FILE *f, bool pretty)
{
	const uint64_t *c = run->counters;
	struct wb_json j;
	char why[512];
	bool valid = wb_run_valid(run, why, sizeof(why));
	const char *variant = getenv("WBTRACE_VARIANT");

	wb_json_init(&j, f, pretty);
	wb_json_obj(&j, NULL);
	wb_json_str(&j, "schema", "wbtrace.trace/1");
	wb_json_str(&j, "tool", "wbtrace-trace");
	wb_json_str(&j, "version", wb_version);
	wb_json_str(&j, "kernel", run->si ? run->si->release : NULL);
	wb_json_str(&j, "module_build_id", run->si && run->si->build_id[0] ? run->si->build_id : NULL);
	wb_json_str(&j, "module_srcversion",
		    run->si && run->si->srcversion[0] ? run->si->srcversion : NULL);
	wb_json_str(&j, "variant", variant && *variant ? variant : NULL);
	wb_json_str(&j, "mode", run->env && run->env->mode == WB_MODE_HIST ? "hist" : "stream");
	if (run->sel) {
		json_probes(&j, run->sel);
		json_site_list(&j, run->sel);
	} else {
		wb_json_obj(&j, "probes");
		wb_json_obj_end(&j);
	}
	wb_json_u64(&j, "drops", run->drops_total);
	wb_json_obj(&j, "drops_by_kind");
	wb_json_u64(&j, "wp", run->drops[WB_EV_WP]);
	wb_json_u64(&j, "folio", run->drops[WB_EV_FOLIO]);
	wb_json_u64(&j, "bio", run->drops[WB_EV_BIO]);
	wb_json_u64(&j, "cmp", run->drops[WB_EV_CLUSTER]);
	wb_json_obj_end(&j);
	wb_json_u64(&j, "events", run->events);
	wb_json_dbl(&j, "drop_pct", wb_drop_pct(run->events, run->drops_total));
	wb_json_dbl(&j, "max_drop_pct", run->env ? run->env->max_drop_pct : 0);
	wb_json_bool(&j, "valid", valid);
	wb_json_str(&j, "invalid_reason", valid ? NULL : why);
	wb_json_obj(&j, "kernel_misses");
	wb_json_u64(&j, "bpf_recursion", run->misses.prog);
	if (run->misses.kprobe_unread)
		wb_json_null(&j, "kprobe");
	else
		wb_json_u64(&j, "kprobe", run->misses.kprobe);
	wb_json_obj_end(&j);
	wb_json_u64(&j, "duration_ns", run->t_end > run->t_start ? run->t_end - run->t_start : 0);
	wb_json_bool(&j, "interrupted", run->interrupted);
	if (run->env && run->env->cmd) {
		wb_json_arr(&j, "command");
		for (int i = 0; i < run->env->cmd_argc; i++)
			wb_json_str(&j, NULL, run->env->cmd[i]);
		wb_json_arr_end(&j);
		if (run->cmd_status >= 0 && WIFEXITED(run->cmd_status))
			wb_json_i64(&j, "command_exit", WEXITSTATUS(run->cmd_status));
		else if (run->cmd_status >= 0 && WIFSIGNALED(run->cmd_status))
			wb_json_i64(&j, "command_exit", 128 + WTERMSIG(run->cmd_status));
		else
			wb_json_null(&j, "command_exit");
	}
	wb_json_obj(&j, "filters");
	if (run->dev_filter)
		wb_json_str(&j, "dev", run->env->dev);
	if (run->env && run->env->pid)
		wb_json_u64(&j, "pid", run->env->pid);
	if (run->env && run->env->ino)
		wb_json_u64(&j, "ino", run->env->ino);
	if (run->env && run->env->cgroup)
		wb_json_str(&j, "cgroup", run->env->cgroup);
	wb_json_obj_end(&j);

	wb_passes_json(&j, &run->passes, wb_passes_complete(run));
	{
		unsigned sig = run->sel ? wb_sel_signals(run->sel) : 0;

		wb_bio_ends_json(&j, run, sig & WB_SIG_PAGE,
				 (sig & (WB_SIG_PAGE | WB_SIG_PREP)) == (WB_SIG_PAGE | WB_SIG_PREP));
	}

	wb_json_obj(&j, "counts");
	for (int i = 0; i < WB_C_NR; i++)
		wb_json_u64(&j, counter_names[i], c[i]);
	wb_json_obj_end(&j);

	wb_json_obj(&j, "bio");
	for (int t = 0; t < WB_PT_NR; t++) {
		wb_json_obj(&j, wb_ptype_name(t));
		wb_json_u64(&j, "count", c[WB_C_BIO_DATA + t]);
		wb_json_u64(&j, "bytes", c[WB_C_BIO_DATA_BYTES + t]);
		if (t == WB_PT_DATA) {
			for (int k = 0; k < WB_TEMP_NR; k++)
				wb_json_u64(&j, wb_temp_name(k), c[WB_C_BIO_DATA_HOT + k]);
			wb_json_u64(&j, "ipu", c[WB_C_BIO_DATA_IPU]);
			wb_json_u64(&j, "opu", c[WB_C_BIO_DATA_OPU]);
		}
		wb_json_obj_end(&j);
	}
	wb_json_obj_end(&j);

	wb_json_obj(&j, "metrics");
	for (int i = 0; i < WB_H_NR; i++)
		json_dist(&j, run, i);
	wb_json_obj(&j, "compress");
	wb_json_u64(&j, "clusters", c[WB_C_CLUSTER_TRIED]);
	wb_json_u64(&j, "raw_bytes", c[WB_C_CLUSTER_RAW_BYTES]);
	wb_json_u64(&j, "compressed_bytes", c[WB_C_CLUSTER_CLEN]);
	if (c[WB_C_CLUSTER_TRIED] && c[WB_C_CLUSTER_CLEN])
		wb_json_dbl(&j, "ratio", (double)c[WB_C_CLUSTER_RAW_BYTES] /
					 (double)c[WB_C_CLUSTER_CLEN]);
	else
		wb_json_null(&j, "ratio");
	wb_json_u64(&j, "not_compressed", c[WB_C_CLUSTER_NOT_WORTH]);
	wb_json_u64(&j, "written_blocks", c[WB_C_COMPR_WRITTEN_BLK]);
	wb_json_u64(&j, "saved_blocks", c[WB_C_COMPR_SAVED_BLK]);
	wb_json_str(&j, "algorithm", top_algo(run));
	if (run->cluster_pages)
		wb_json_u64(&j, "cluster_pages", run->cluster_pages);
	else
		wb_json_null(&j, "cluster_pages");
	wb_json_obj_end(&j);
	wb_json_obj_end(&j);	/* metrics */
	json_metrics_by_key(&j, run);
	wb_json_obj_end(&j);
	fputc('\n', f);
}

static void fmt_ns(char *buf, size_t n, uint64_t v)
{
	if (v >= 10000000000ULL)
		snprintf(buf, n, "%.1f s", v / 1e9);
	else if (v >= 10000000ULL)
		snprintf(buf, n, "%.1f ms", v / 1e6);
	else if (v >= 10000ULL)
		snprintf(buf, n, "%.1f us", v / 1e3);
	else
		snprintf(buf, n, "%llu ns", (unsigned long long)v);
}

static void text_dist(const struct wb_run *run, FILE *f, int id, const char *title)
{
	struct dist d;
	char p[WB_NPCT][32], mean[32];

	if (make_dist(run, id, -1, &d))
		return;
	if (!d.h.count) {
		free(d.ll);
		return;
	}
	fprintf(f, "\n%s (%s): count %llu", title, hist_names[id], (unsigned long long)d.h.count);
	for (int i = 0; i < WB_NPCT; i++) {
		if (!strcmp(hist_units[id], "ns"))
			fmt_ns(p[i], sizeof(p[i]), d.pct[i]);
		else
			snprintf(p[i], sizeof(p[i]), "%llu", (unsigned long long)d.pct[i]);
	}
	if (!strcmp(hist_units[id], "ns"))
		fmt_ns(mean, sizeof(mean), d.h.sum / d.h.count);
	else
		snprintf(mean, sizeof(mean), "%llu", (unsigned long long)(d.h.sum / d.h.count));
	fprintf(f, ", mean %s, p50 %s, p90 %s, p99 %s, p99.9 %s%s\n", mean, p[0], p[1], p[2],
		p[3], d.exact ? "" : " (log-linear bucket upper bounds, at most +3.125 %)");
	wb_log2_print(f, &d.h, hist_units[id]);
	free(d.ll);
}

/* One line per keyed metric and key with samples: count and p99. */
static void text_keys(const struct wb_run *run, FILE *f)
{
	char kn[32], p99[32];
	bool head = false;

	for (int id = 0; id < WB_H_NR; id++) {
		if (!hist_keyed[id])
			continue;
		for (int k = 0; k < WB_KEYS; k++) {
			struct dist d;

			if (make_dist(run, id, k, &d))
				continue;
			if (d.h.count) {
				if (!head)
					fprintf(f, "\nby key (sync/io/compr): count, p99\n");
				head = true;
				fmt_ns(p99, sizeof(p99), d.pct[2]);
				fprintf(f, "  %-18s %-16s %10llu  %s\n", hist_names[id],
					wb_key_name(k, kn, sizeof(kn)), (unsigned long long)d.h.count, p99);
			}
			free(d.ll);
		}
	}
}

void wb_summary_text(const struct wb_run *run, FILE *f)
{
	const uint64_t *c = run->counters;
	char why[512];
	bool valid = wb_run_valid(run, why, sizeof(why));
	double secs = (run->t_end > run->t_start ? run->t_end - run->t_start : 0) / 1e9;

	fprintf(f, "wbtrace-trace: %.1f s, %s mode, kernel %s%s%s\n", secs,
		run->env && run->env->mode == WB_MODE_HIST ? "hist" : "stream",
		run->si ? run->si->release : "?", getenv("WBTRACE_VARIANT") ? ", variant " : "",
		getenv("WBTRACE_VARIANT") ? getenv("WBTRACE_VARIANT") : "");
	if (run->sel) {
		fprintf(f, "probes:\n");
		for (int p = 0; p < WB_P_NR; p++) {
			int site;
			enum wb_pmode m = wb_probe_mode(run->sel, p, &site);

			fprintf(f, "  %-10s %-8s", wb_probe_defs[p].name,
				m != WB_M_NONE ? wb_pmode_name(m)
				: wb_probe_defs[p].required ? "FAILED" : "off");
			for (int i = 0, n = 0; i < WB_S_NR; i++)
				if (wb_site_defs[i].probe == p &&
				    run->sel->site[i].status == WB_SS_ATTACHED)
					fprintf(f, "%s%s", n++ ? ", " : " ", wb_site_defs[i].target);
			fputc('\n', f);
		}
	}
	fprintf(f, "writepages: %llu passes (%llu entry-only), %llu loops\n",
		(unsigned long long)(c[WB_C_WP] + c[WB_C_WP_NO_EXIT]),
		(unsigned long long)c[WB_C_WP_NO_EXIT], (unsigned long long)c[WB_C_LOOP]);
	{
		const struct wb_passes *p = &run->passes;
		bool complete = wb_passes_complete(run);

		fprintf(f, "passes: %llu (sync none %llu, all %llu; background %llu, kupdate %llu, "
			"sync %llu, fsync %llu, other %llu)",
			(unsigned long long)p->total, (unsigned long long)p->by_sync[0],
			(unsigned long long)p->by_sync[1], (unsigned long long)p->by_why[0],
			(unsigned long long)p->by_why[1], (unsigned long long)p->by_why[2],
			(unsigned long long)p->by_why[3], (unsigned long long)p->by_why[4]);
		if (complete)
			fprintf(f, "; ended: range_end %llu, budget %llu, priority_stop %llu, "
				"error %llu (%llu of them inferred)\n",
				(unsigned long long)p->by_end[WB_END_RANGE],
				(unsigned long long)p->by_end[WB_END_BUDGET],
				(unsigned long long)p->by_end[WB_END_PRIORITY],
				(unsigned long long)p->by_end[WB_END_ERROR],
				(unsigned long long)p->end_inferred);
		else
			fprintf(f, "; ends not seen (no exit traced)\n");
	}
	fprintf(f, "folios: %llu written (%.1f MiB), %llu redirtied, %llu skipped, %llu error, "
		"%llu unknown; %llu hand-outs; %llu ipu, %llu opu\n",
		(unsigned long long)c[WB_C_FOLIO_WRITTEN], c[WB_C_FOLIO_BYTES] / 1048576.0,
		(unsigned long long)c[WB_C_FOLIO_REDIRTIED], (unsigned long long)c[WB_C_FOLIO_SKIPPED],
		(unsigned long long)c[WB_C_FOLIO_ERROR], (unsigned long long)c[WB_C_FOLIO_UNKNOWN],
		(unsigned long long)c[WB_C_HANDOUT], (unsigned long long)c[WB_C_FOLIO_IPU],
		(unsigned long long)c[WB_C_FOLIO_OPU]);
	for (int t = 0; t < WB_PT_NR; t++) {
		uint64_t n = c[WB_C_BIO_DATA + t], b = c[WB_C_BIO_DATA_BYTES + t];

		if (!n)
			continue;
		fprintf(f, "bios %-5s %llu, %.1f MiB, mean %.1f KiB", wb_ptype_name(t),
			(unsigned long long)n, b / 1048576.0, b / 1024.0 / n);
		if (t == WB_PT_DATA)
			fprintf(f, " (hot %llu, warm %llu, cold %llu, ?temp %llu; ipu %llu, opu %llu)",
				(unsigned long long)c[WB_C_BIO_DATA_HOT],
				(unsigned long long)c[WB_C_BIO_DATA_WARM],
				(unsigned long long)c[WB_C_BIO_DATA_COLD],
				(unsigned long long)c[WB_C_BIO_DATA_UNKNOWN_TEMP],
				(unsigned long long)c[WB_C_BIO_DATA_IPU],
				(unsigned long long)c[WB_C_BIO_DATA_OPU]);
		fputc('\n', f);
	}
	if (run->sel && (wb_sel_signals(run->sel) & WB_SIG_PAGE)) {
		fprintf(f, "pages into cached bios: %llu new bio, %llu merged, %llu unknown; "
			"%llu stream bios ended:", (unsigned long long)c[WB_C_PAGE_NEW],
			(unsigned long long)c[WB_C_PAGE_MERGED],
			(unsigned long long)c[WB_C_PAGE_UNKNOWN],
			(unsigned long long)c[WB_C_BIO_STREAM]);
		for (unsigned e = 0; e <= WB_BE_UNKNOWN; e++)
			if (run->bio_ends[e].pages.count)
				fprintf(f, " %s %llu (mean %.1f pages)", wb_bio_end_name(e),
					(unsigned long long)run->bio_ends[e].pages.count,
					(double)run->bio_ends[e].pages.sum /
						(double)run->bio_ends[e].pages.count);
		fputc('\n', f);
	}
	if (c[WB_C_CLUSTER]) {
		fprintf(f, "clusters: %llu (%llu compressed, %llu not worth it, %llu raw, %llu error, "
			"%llu unknown); %llu blocks written, %llu saved",
			(unsigned long long)c[WB_C_CLUSTER],
			(unsigned long long)c[WB_C_CLUSTER_COMPRESSED],
			(unsigned long long)c[WB_C_CLUSTER_NOT_WORTH],
			(unsigned long long)c[WB_C_CLUSTER_RAW],
			(unsigned long long)c[WB_C_CLUSTER_ERROR],
			(unsigned long long)c[WB_C_CLUSTER_UNKNOWN],
			(unsigned long long)c[WB_C_COMPR_WRITTEN_BLK],
			(unsigned long long)c[WB_C_COMPR_SAVED_BLK]);
		if (c[WB_C_CLUSTER_CLEN])
			fprintf(f, "; ratio %.2f", (double)c[WB_C_CLUSTER_RAW_BYTES] /
						   (double)c[WB_C_CLUSTER_CLEN]);
		fputc('\n', f);
	}
	text_dist(run, f, WB_H_WP_NS, "writepages pass");
	text_dist(run, f, WB_H_LOOP_NS, "writeback loop");
	text_dist(run, f, WB_H_PASS_SETUP_NS, "pass set-up (entry -> first write)");
	text_dist(run, f, WB_H_FOLIO_ITER_NS, "per-folio loop cycle (gap + write)");
	text_dist(run, f, WB_H_FOLIO_GAP_NS, "between writes (return -> next entry)");
	text_dist(run, f, WB_H_FOLIO_WRITE_NS, "per-folio write function");
	text_dist(run, f, WB_H_FOLIO_HANDOUT_NS, "writeback_iter hand-out -> write start");
	text_dist(run, f, WB_H_BIO_BYTES, "data bio size");
	text_dist(run, f, WB_H_CLUSTER_NS, "cluster write");
	text_dist(run, f, WB_H_COMPRESS_NS, "cluster compression");
	text_keys(run, f);
	fprintf(f, "\nevents %llu, drops %llu (%.3f%%): run %s%s%s\n",
		(unsigned long long)run->events, (unsigned long long)run->drops_total,
		wb_drop_pct(run->events, run->drops_total), valid ? "VALID" : "INVALID",
		valid ? "" : ": ", valid ? "" : why);
}
