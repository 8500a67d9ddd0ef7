/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run state, event accounting, JSON Lines events and the summary (text and
 * JSON, schema wbtrace.trace/1 of analysis/SCHEMA.md).  No BPF calls here:
 * the loader fills `counters`, `drops` and `khist` from the maps.
 */
#ifndef WB_OUTPUT_H
#define WB_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include "wbtrace.h"
#include "args.h"
#include "hist.h"
#include "probe.h"
#include "util.h"

struct wb_sel;
struct wb_sysinfo;
struct wb_json;

struct wb_metric {
	struct wb_log2 h;		/* from the stream */
	struct wb_vec v;		/* every value, for exact percentiles */
	struct wb_vec kv[WB_KEYS];	/* keyed metrics: the values per key (WB_KEY) */
};

struct wb_run {
	const struct wb_env *env;
	const struct wb_sysinfo *si;
	const struct wb_sel *sel;
	FILE *ev;			/* JSON Lines events, or NULL */
	int ev_error;			/* errno of the first failed write */
	uint64_t events, ev_by_type[WB_EV_TYPES];
	struct wb_metric m[WB_H_NR];
	uint64_t algo_clusters[8];
	uint32_t cluster_pages;
	/* filled by the loader after detaching */
	uint64_t counters[WB_C_NR];
	uint64_t drops[WB_EV_TYPES], drops_total;
	struct wb_ll *kh;		/* hist mode: the `hists` map, WB_HE_NR entries (heap) */
	struct wb_passes passes;	/* the shared `passes` map (both modes) */
	struct wb_bio_end_stat bio_ends[WB_BE_NR + 1];	/* the `bio_ends` map (both modes) */
	struct wb_misses misses;	/* events the kernel lost (probe.h) */
	uint64_t t_start, t_end;	/* CLOCK_MONOTONIC ns: attach -> detach */
	int cmd_status;			/* wait status, -1 = no command */
	bool cmd_started;
	bool interrupted;
	uint32_t dev_filter;
	uint64_t cgid_filter;
};

void wb_run_init(struct wb_run *run);
void wb_run_free(struct wb_run *run);

/* Account one ring-buffer record (metrics + JSON line when run->ev). */
void wb_run_event(struct wb_run *run, const struct wb_event *e);
/* One event as one JSON line (with newline). */
void wb_event_jsonl(FILE *f, const struct wb_event *e);

/* Drop percentage over delivered + dropped events. */
double wb_drop_pct(uint64_t delivered, uint64_t dropped);
/* Did the kernel or the tracer lose events (misses, orphan exits, overflows)? */
bool wb_run_lost(const struct wb_run *run, char *why, size_t whysz);
/* Is the run valid?  Fills `why` with the reasons when not. */
bool wb_run_valid(const struct wb_run *run, char *why, size_t whysz);

void wb_summary_json(const struct wb_run *run, FILE *f, bool pretty);
void wb_summary_text(const struct wb_run *run, FILE *f);

/* The summary's "passes" object (analysis/SCHEMA.md section 3). */
void wb_passes_json(struct wb_json *j, const struct wb_passes *p, bool complete);
/* Do the attached sites see every field of "passes" (the pass exits)? */
bool wb_passes_complete(const struct wb_run *run);

/*
 * The summary's "bio_ends" object (analysis/SCHEMA.md section 3): pages
 * merged / new (null unless `pages_seen`), bios and their sizes per end
 * cause (null unless `causes_seen`).
 */
void wb_bio_ends_json(struct wb_json *j, const struct wb_run *run, bool pages_seen,
		      bool causes_seen);

/* Does histogram `id` have keys (WB_HISTS' `keyed`)?  Its first `hists` entry. */
bool wb_hist_keyed(unsigned id);
unsigned wb_hist_entry(unsigned id);
/* "none/opu/plain": the name of key k (WB_KEY), analysis/SCHEMA.md `metrics_by_key`. */
const char *wb_key_name(unsigned k, char *buf, size_t n);
/* The key of a ring-buffer record's sample of histogram `id` (stream mode). */
unsigned wb_event_key(const struct wb_event *e, unsigned id);

const char *wb_outcome_name(unsigned o);
const char *wb_why_name(unsigned w);
const char *wb_end_name(unsigned e);
const char *wb_cl_outcome_name(unsigned o);
const char *wb_bio_end_name(unsigned e);	/* "unknown" for WB_BE_UNKNOWN */
const char *wb_temp_name(unsigned t);
const char *wb_ptype_name(unsigned t);
const char *wb_algo_name(unsigned a);

#endif /* WB_OUTPUT_H */
