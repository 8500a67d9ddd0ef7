// SPDX-License-Identifier: GPL-2.0
/*
 * Cached-bio end causes: the one table (WB_BIO_ENDS in bpf/wbtrace.h), the
 * signals that let the BPF side tell them, the bio JSON line and the
 * summary's "bio_ends" object -- absent (null), never 0, when not seen.
 */
#include <stdlib.h>
#include "wbt_test.h"
#include "json.h"
#include "output.h"
#include "probe.h"

static char *bio_ends_json(const struct wb_run *run, bool pages, bool causes)
{
	struct wbt_json_text t;
	struct wb_json j;

	wb_bio_ends_json(wbt_json_open(&t, &j), run, pages, causes);
	return wbt_json_close(&t, &j);
}

static void test_names(void)
{
	const char *want[] = { "full", "noncontig", "other_type", "cluster_end", "integrity",
			       "priority_stop", "pass_end", "other" };

	CHECK_EQ_U(WB_BE_NR, sizeof(want) / sizeof(want[0]));
	for (unsigned e = 0; e < WB_BE_NR; e++)
		CHECK_STR(wb_bio_end_name(e), want[e]);
	CHECK_STR(wb_bio_end_name(WB_BE_UNKNOWN), "unknown");
	CHECK_STR(wb_bio_end_name(WB_BE_NONE), "?");
}

static void test_signals(void)
{
	struct wb_sel sel;
	const unsigned all = WB_SIG_PAGE | WB_SIG_PREP | WB_SIG_PASS | WB_SIG_FSYNC |
			     WB_SIG_HANDOUT;

	memset(&sel, 0, sizeof(sel));
	CHECK_EQ_U(wb_sel_signals(&sel) & all, 0);
	sel.site[WB_S_PAGE_WRITE_FN].status = WB_SS_ATTACHED;
	sel.site[WB_S_PAGE_WRITE_FN].mode = WB_M_KPROBE;	/* kretprobe: both ends still */
	CHECK_EQ_U(wb_sel_signals(&sel) & all, 0);	/* the pages: the tracepoint site */
	sel.site[WB_S_PAGE_JOIN_TP].status = WB_SS_SELECTED;
	CHECK_EQ_U(wb_sel_signals(&sel) & all, WB_SIG_PAGE);
	sel.site[WB_S_BIO_PREPARE].status = WB_SS_SELECTED;
	sel.site[WB_S_WP_OUTER].status = WB_SS_SELECTED;
	CHECK_EQ_U(wb_sel_signals(&sel) & all, WB_SIG_PAGE | WB_SIG_PREP | WB_SIG_PASS);
	sel.site[WB_S_FSYNC_ENTER].status = WB_SS_ATTACHED;
	CHECK_EQ_U(wb_sel_signals(&sel) & WB_SIG_FSYNC, 0);	/* needs both tracepoints */
	sel.site[WB_S_FSYNC_EXIT].status = WB_SS_ATTACHED;
	sel.site[WB_S_HANDOUT_ITER].status = WB_SS_ATTACHED;
	CHECK_EQ_U(wb_sel_signals(&sel) & all, all);
	sel.site[WB_S_PAGE_WRITE_FN].status = WB_SS_FAILED;
	CHECK_EQ_U(wb_sel_signals(&sel) & WB_SIG_PAGE, 0);
}

/* One bio line per case: the flags and end cause it carries, what its JSON must hold. */
static const struct bio_line_case {
	const char *what;
	unsigned flags;
	unsigned end;
	unsigned pages_traced;
	const char *want;
} bio_line_cases[] = {
	{ "a full stream bio, every page traced",
	  WB_F_OPU | WB_F_STREAM | WB_F_BIO_ALL_SEEN, WB_BE_FULL, 256,
	  "\"end\":\"full\",\"end_inferred\":false,\"stream\":true,"
	  "\"pages_traced\":256,\"all_traced\":true" },
	{ "inferred, and a bio opened before the probes were armed",
	  WB_F_STREAM | WB_F_END_INFERRED, WB_BE_PRIORITY, 3,
	  "\"end\":\"priority_stop\",\"end_inferred\":true,\"stream\":true,"
	  "\"pages_traced\":3,\"all_traced\":false" },
	{ "a stream bio whose cause the probes cannot tell: null, not a cause",
	  WB_F_STREAM, WB_BE_UNKNOWN, 3,
	  "\"end\":null,\"end_inferred\":null,\"stream\":true,\"pages_traced\":3" },
	{ "page_write probe off: pages not seen, null rather than 0",
	  WB_F_STREAM | WB_F_PAGES_UNSEEN, WB_BE_INTEGRITY, 0,
	  "\"end\":\"integrity\",\"end_inferred\":false,\"stream\":true,"
	  "\"pages_traced\":null,\"all_traced\":null" },
	{ "an IPU bio: not a cached stream's, no end cause",
	  WB_F_IPU, WB_BE_NONE, 0,
	  "\"end\":null,\"end_inferred\":null,\"stream\":false,\"pages_traced\":null" },
	{ "submit marker off: stream or not unknown",
	  WB_F_IPU, WB_BE_UNKNOWN, 0,
	  "\"end\":null,\"end_inferred\":null,\"stream\":null,\"pages_traced\":null" },
};

static void test_bio_line(void)
{
	for (size_t i = 0; i < sizeof(bio_line_cases) / sizeof(bio_line_cases[0]); i++) {
		const struct bio_line_case *c = &bio_line_cases[i];
		int failed_before = wbt_failed;
		struct wb_event e = {};
		char *s;

		e.type = WB_EV_BIO;
		e.bio.bytes = 256 * 4096;
		e.bio.vcnt = 256;
		e.flags = c->flags;
		e.bio.end = c->end;
		e.bio.pages_traced = c->pages_traced;
		s = wbt_event_jsonl(&e);
		HAS(s, "\"pages\":256,");
		HAS(s, c->want);
		if (c->flags & WB_F_IPU)
			HAS(s, "\"io\":\"ipu\"");
		if (wbt_failed != failed_before)
			fprintf(stderr, "  in bio line case: %s\n  line: %s\n", c->what, s);
		free(s);
	}
}

static void test_summary(void)
{
	struct wb_run run;
	struct wb_sel sel;
	struct wb_env env;
	char *s;
	size_t len = 0;
	FILE *f;

	wb_run_init(&run);
	run.counters[WB_C_PAGE_NEW] = 3;
	run.counters[WB_C_PAGE_MERGED] = 300;
	run.counters[WB_C_BIO_STREAM] = 3;
	run.counters[WB_C_BIO_STREAM_PAGES] = 303;
	/* two full bios of 128 pages, one integrity flush of 47 pages (inferred) */
	run.bio_ends[WB_BE_FULL].pages.count = 2;
	run.bio_ends[WB_BE_FULL].pages.sum = 256;
	run.bio_ends[WB_BE_FULL].pages.slots[7] = 2;
	run.bio_ends[WB_BE_FULL].pages.min_inv = ~128ULL;
	run.bio_ends[WB_BE_FULL].pages.max = 128;
	run.bio_ends[WB_BE_INTEGRITY].pages.count = 1;
	run.bio_ends[WB_BE_INTEGRITY].pages.sum = 47;
	run.bio_ends[WB_BE_INTEGRITY].pages.slots[5] = 1;
	run.bio_ends[WB_BE_INTEGRITY].pages.min_inv = ~47ULL;
	run.bio_ends[WB_BE_INTEGRITY].pages.max = 47;
	run.bio_ends[WB_BE_INTEGRITY].inferred = 1;

	s = bio_ends_json(&run, true, true);
	HAS(s, "\"bio_ends\":{\"complete\":true,\"stream_bios\":3,\"stream_pages\":303,"
	       "\"pages\":{\"new\":3,\"merged\":300,\"unknown\":0,");
	HAS(s, "\"full\":{\"bios\":2,\"inferred\":0,\"pages\":{\"unit\":\"pages\",\"count\":2,"
	       "\"sum\":256,\"min\":128,\"max\":128,\"mean\":128.0,\"p50\":255,");
	HAS(s, "\"hist_log2\":[0,0,0,0,0,0,0,2]}}");
	HAS(s, "\"integrity\":{\"bios\":1,\"inferred\":1,");
	HAS(s, "\"unknown\":{\"bios\":0,\"inferred\":0,\"pages\":{\"unit\":\"pages\",\"count\":0,"
	       "\"sum\":0,\"mean\":null,");
	for (unsigned e = 0; e < WB_BE_NR; e++) {
		char key[64];

		snprintf(key, sizeof(key), "\"%s\":{\"bios\":", wb_bio_end_name(e));
		HAS(s, key);
	}
	free(s);
	/* page_write probe off: pages and causes absent, not 0 */
	s = bio_ends_json(&run, false, false);
	HAS(s, "\"complete\":false,\"stream_bios\":3,\"stream_pages\":303,\"pages\":null,"
	       "\"by_end\":null}");
	free(s);
	/* pages seen, causes not (submit marker off) */
	s = bio_ends_json(&run, true, false);
	HAS(s, "\"complete\":false,");
	HAS(s, "\"merged\":300,");
	HAS(s, "\"by_end\":null}");
	free(s);

	/* in the whole summary: from the selection's signals */
	memset(&sel, 0, sizeof(sel));
	wb_env_defaults(&env);
	run.env = &env;
	run.sel = &sel;
	f = open_memstream(&s, &len);
	wb_summary_json(&run, f, false);
	fclose(f);
	HAS(s, "\"bio_ends\":{\"complete\":false,");
	HAS(s, "\"pages\":null,\"by_end\":null}");
	free(s);
	sel.site[WB_S_PAGE_WRITE_FN].status = WB_SS_ATTACHED;
	sel.site[WB_S_PAGE_JOIN_TP].status = WB_SS_ATTACHED;
	sel.site[WB_S_BIO_PREPARE].status = WB_SS_ATTACHED;
	f = open_memstream(&s, &len);
	wb_summary_json(&run, f, false);
	fclose(f);
	HAS(s, "\"bio_ends\":{\"complete\":true,");
	free(s);
	f = open_memstream(&s, &len);
	wb_summary_text(&run, f);
	fclose(f);
	HAS(s, "pages into cached bios: 3 new bio, 300 merged, 0 unknown; 3 stream bios ended: "
	       "full 2 (mean 128.0 pages) integrity 1 (mean 47.0 pages)");
	free(s);
	wb_run_free(&run);
}

void test_bio_ends(void)
{
	test_names();
	test_signals();
	test_bio_line();
	test_summary();
}
