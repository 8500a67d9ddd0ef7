// SPDX-License-Identifier: GPL-2.0
/* Per-pass records: the wp JSON line fields and the summary's "passes" object. */
#include <stdlib.h>
#include "wbt_test.h"
#include "json.h"
#include "output.h"
#include "probe.h"

static char *passes_json(const struct wb_passes *p, bool complete)
{
	struct wbt_json_text t;
	struct wb_json j;

	wb_passes_json(wbt_json_open(&t, &j), p, complete);
	return wbt_json_close(&t, &j);
}

static int count(const char *s, const char *sub)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
		n++;
	return n;
}

/* What the BPF side's atomic maxima of WB_S64_KEY / ~WB_S64_KEY do, for a list. */
static void given(struct wb_passes *p, const long long *v, int n)
{
	for (int i = 0; i < n; i++) {
		__u64 key = WB_S64_KEY(v[i]);

		p->none_passes++;
		p->nr_given_sum_hi += WB_SUM_HI(v[i]);
		p->nr_given_sum_lo += WB_SUM_LO(v[i]);
		if (key > p->nr_given_max_key)
			p->nr_given_max_key = key;
		if (~key > p->nr_given_min_inv)
			p->nr_given_min_inv = ~key;
	}
}

static void test_wp_lines(void)
{
	struct wb_event e = {};
	char *s;

	/* a background pass that ran out of budget */
	e.type = WB_EV_WP;
	e.flags = WB_F_OUTER | WB_F_LOOP;
	e.ino = 7;
	e.wp.nr_before = 1024;
	e.wp.nr_after = -3;
	e.wp.folios = 1020;
	e.wp.redirtied = 5;
	e.wp.skipped = 2;
	e.wp.other = 7;
	e.wp.pages_skipped = 5;
	e.wp.sync_mode = 0;
	e.wp.why = WB_WHY_BACKGROUND;
	e.wp.end = WB_END_BUDGET;
	e.wp.cyclic = 1;
	e.wp.reason = 0;		/* WB_REASON_BACKGROUND */
	s = wbt_event_jsonl(&e);
	HAS(s, "\"k\":\"wp\"");
	HAS(s, "\"sync\":\"none\",\"why\":\"background\",\"cyclic\":true,\"nr_given\":1024,");
	HAS(s, "\"reason\":0,");
	HAS(s, "\"nr_used\":1027,\"pages_skipped\":5,\"end\":\"budget\",\"end_inferred\":false");
	HAS(s, "\"written\":1020,\"redirtied\":5,\"skipped\":2");
	HAS(s, "\"no_exit\":false");
	CHECK_EQ_U(count(s, "\"written\":"), 1);	/* no duplicate key */
	CHECK(s[strlen(s) - 1] == '\n' && s[strlen(s) - 2] == '}');
	free(s);

	/* an fsync pass, no flusher work, priority class names, inferred end */
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_WP;
	e.flags = WB_F_OUTER | WB_F_END_INFERRED;
	e.wp.sync_mode = 1;
	e.wp.why = WB_WHY_FSYNC;
	e.wp.end = WB_END_RANGE;
	e.wp.reason = -1;
	e.wp.nr_before = 9223372036854775807LL;
	e.wp.nr_after = 9223372036854775807LL - 16;
	e.wp.folios = 16;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"sync\":\"all\",\"why\":\"fsync\",\"cyclic\":false,");
	HAS(s, "\"nr_given\":9223372036854775807,");
	HAS(s, "\"reason\":null");
	HAS(s, "\"nr_used\":16,");
	HAS(s, "\"end\":\"range_end\",\"end_inferred\":true");
	free(s);

	/* every class name */
	for (unsigned w = 0; w < WB_WHY_NR; w++) {
		e.wp.why = w;
		e.wp.end = w % WB_END_NR;
		s = wbt_event_jsonl(&e);
		HASNT(s, "\"?\"");
		free(s);
	}
	CHECK_STR(wb_why_name(WB_WHY_KUPDATE), "kupdate");
	CHECK_STR(wb_why_name(WB_WHY_SYNC), "sync");
	CHECK_STR(wb_why_name(WB_WHY_OTHER), "other");
	CHECK_STR(wb_end_name(WB_END_PRIORITY), "priority_stop");
	CHECK_STR(wb_end_name(WB_END_ERROR), "error");
	CHECK_STR(wb_end_name(WB_END_UNKNOWN), "?");

	/* folio outcomes unknown (folio tracepoint fallback): counts absent, end kept */
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_WP;
	e.flags = WB_F_OUTER | WB_F_FOLIO_UNKNOWN;
	e.wp.end = WB_END_PRIORITY;
	e.wp.nr_before = 100;
	e.wp.nr_after = 60;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"written\":null,\"redirtied\":null,\"skipped\":null");
	HAS(s, "\"end\":\"priority_stop\"");
	HAS(s, "\"nr_used\":40,");
	free(s);

	/* tracepoint fallback: entry only, what the exit would say is null, never 0 */
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_WP;
	e.flags = WB_F_NO_EXIT;
	e.wp.nr_before = 4096;
	e.wp.why = WB_WHY_KUPDATE;
	e.wp.end = WB_END_UNKNOWN;
	e.wp.cyclic = 1;
	e.wp.reason = 3;		/* WB_REASON_PERIODIC */
	s = wbt_event_jsonl(&e);
	HAS(s, "\"why\":\"kupdate\",\"cyclic\":true,\"nr_given\":4096,\"reason\":3,");
	HAS(s, "\"nr_used\":null,\"pages_skipped\":null,\"end\":null,\"end_inferred\":null");
	HAS(s, "\"written\":null,\"redirtied\":null,\"skipped\":null");
	HAS(s, "\"no_exit\":true");
	free(s);
}

static void test_passes_object(void)
{
	struct wb_passes p = {};
	static const long long g[] = { 1024, 512, 4096, 2048 };
	char *s;

	/* nothing seen: every key present, counts 0, min/max null (not 0) */
	s = passes_json(&p, true);
	CHECK_STR(s, "{\"passes\":{\"total\":0,\"by_sync\":{\"none\":0,\"all\":0},"
		  "\"by_why\":{\"background\":0,\"kupdate\":0,\"sync\":0,\"fsync\":0,\"other\":0},"
		  "\"by_end\":{\"range_end\":0,\"budget\":0,\"priority_stop\":0,\"error\":0},"
		  "\"none_nr_given\":{\"min\":null,\"max\":null,\"sum\":0},"
		  "\"none_nr_used_sum\":0,\"complete\":true,\"end_inferred\":0}}");
	free(s);

	p.total = 6;
	p.by_sync[0] = 4;
	p.by_sync[1] = 2;
	p.by_why[WB_WHY_BACKGROUND] = 3;
	p.by_why[WB_WHY_KUPDATE] = 1;
	p.by_why[WB_WHY_FSYNC] = 2;
	p.exits = 6;
	p.by_end[WB_END_RANGE] = 3;
	p.by_end[WB_END_BUDGET] = 2;
	p.by_end[WB_END_PRIORITY] = 1;
	p.end_inferred = 1;
	given(&p, g, 4);
	p.none_exits = 4;
	p.none_nr_used_sum = 5000;
	s = passes_json(&p, true);
	CHECK_STR(s, "{\"passes\":{\"total\":6,\"by_sync\":{\"none\":4,\"all\":2},"
		  "\"by_why\":{\"background\":3,\"kupdate\":1,\"sync\":0,\"fsync\":2,\"other\":0},"
		  "\"by_end\":{\"range_end\":3,\"budget\":2,\"priority_stop\":1,\"error\":0},"
		  "\"none_nr_given\":{\"min\":512,\"max\":4096,\"sum\":7680},"
		  "\"none_nr_used_sum\":5000,\"complete\":true,\"end_inferred\":1}}");
	free(s);

	/* tracepoint fallback: the same entry counts, exit fields null, complete false */
	s = passes_json(&p, false);
	HAS(s, "\"total\":6,\"by_sync\":{\"none\":4,\"all\":2},");
	HAS(s, "\"by_why\":{\"background\":3,");
	HAS(s, "\"by_end\":null,");
	HAS(s, "\"none_nr_given\":{\"min\":512,\"max\":4096,\"sum\":7680},");
	HAS(s, "\"none_nr_used_sum\":null,\"complete\":false,\"end_inferred\":null}}");
	HASNT(s, "\"range_end\"");
	free(s);

	/* the order-preserving keys: negative and extreme nr_to_write values */
	{
		struct wb_passes q = {};
		static const long long v[] = { 5, -7, 9223372036854775807LL, 0 };
		static const long long one[] = { -9223372036854775807LL - 1 };

		given(&q, v, 4);
		s = passes_json(&q, true);
		HAS(s, "\"min\":-7,\"max\":9223372036854775807,\"sum\":9223372036854775805}");
		free(s);
		/* three LONG_MAX budgets (sync_file_range) and a negative one: the sum is exact */
		memset(&q, 0, sizeof(q));
		{
			static const long long big[] = { 9223372036854775807LL, 9223372036854775807LL,
							  9223372036854775807LL, -5 };
			given(&q, big, 4);
		}
		s = passes_json(&q, true);
		HAS(s, "\"min\":-5,\"max\":9223372036854775807,\"sum\":27670116110564327416}");
		free(s);
		memset(&q, 0, sizeof(q));
		given(&q, one, 1);	/* key 0 and ~key ~0: still decoded */
		s = passes_json(&q, true);
		HAS(s, "\"min\":-9223372036854775808,\"max\":-9223372036854775808,");
		free(s);
	}
}

/* The end-of-pass signals alone (the others: test_bio_ends.c). */
static unsigned pass_signals(const struct wb_sel *sel)
{
	return wb_sel_signals(sel) & (WB_SIG_MARK | WB_SIG_ITER | WB_SIG_LOOPEND);
}

static void test_passes_summary(void)
{
	struct wb_sel sel;
	struct wb_env env;
	struct wb_run run;
	char *s;
	size_t len = 0;
	FILE *f;

	memset(&sel, 0, sizeof(sel));
	wb_env_defaults(&env);
	wb_run_init(&run);
	run.env = &env;

	/* no selection (no probes attached): exits unseen */
	CHECK(!wb_passes_complete(&run));
	run.sel = &sel;
	CHECK(!wb_passes_complete(&run));
	sel.site[WB_S_WP_TP].status = WB_SS_ATTACHED;
	sel.site[WB_S_WP_TP].mode = WB_M_TP_BTF;
	CHECK(!wb_passes_complete(&run));
	sel.site[WB_S_WP_TP].status = WB_SS_SKIPPED;
	sel.site[WB_S_WP_OUTER].status = WB_SS_ATTACHED;
	sel.site[WB_S_WP_OUTER].mode = WB_M_KPROBE;
	CHECK(wb_passes_complete(&run));

	run.passes.total = 2;
	run.passes.by_sync[0] = 2;
	run.passes.by_why[WB_WHY_BACKGROUND] = 2;
	run.passes.exits = 2;
	run.passes.by_end[WB_END_BUDGET] = 2;
	for (int mode = WB_MODE_STREAM; mode <= WB_MODE_HIST; mode++) {
		env.mode = mode;
		f = open_memstream(&s, &len);
		wb_summary_json(&run, f, false);
		fclose(f);
		HAS(s, ",\"passes\":{\"total\":2,\"by_sync\":{\"none\":2,\"all\":0},");
		HAS(s, "\"by_end\":{\"range_end\":0,\"budget\":2,");
		HAS(s, "\"complete\":true");
		CHECK_EQ_U(count(s, "\"passes\":"), 1);
		free(s);
	}
	f = open_memstream(&s, &len);
	wb_summary_text(&run, f);
	fclose(f);
	HAS(s, "passes: 2 (sync none 2, all 0; background 2,");
	HAS(s, "budget 2,");
	free(s);
	wb_run_free(&run);

	/* which exact end-of-pass signals the selected sites give the BPF side */
	memset(&sel, 0, sizeof(sel));
	CHECK_EQ_U(pass_signals(&sel), 0);
	sel.site[WB_S_PASS_MARK_TP].status = WB_SS_SELECTED;
	CHECK_EQ_U(pass_signals(&sel), 0);		/* no f2fs_write_data_pages frames */
	sel.site[WB_S_WP_OUTER].status = WB_SS_SELECTED;
	CHECK_EQ_U(pass_signals(&sel), WB_SIG_MARK);
	sel.site[WB_S_HANDOUT_ITER].status = WB_SS_ATTACHED;
	sel.site[WB_S_HANDOUT_ITER].mode = WB_M_KPROBE;	/* kretprobe: no arguments */
	CHECK_EQ_U(pass_signals(&sel), WB_SIG_MARK);
	sel.site[WB_S_HANDOUT_ITER].mode = WB_M_FENTRY;
	CHECK_EQ_U(pass_signals(&sel), WB_SIG_MARK | WB_SIG_ITER);
	sel.site[WB_S_LOOP_END_TAG].status = WB_SS_SELECTED;
	CHECK_EQ_U(pass_signals(&sel), WB_SIG_MARK | WB_SIG_ITER);	/* needs both sites */
	sel.site[WB_S_LOOP_END_REL].status = WB_SS_ATTACHED;
	CHECK_EQ_U(pass_signals(&sel), WB_SIG_MARK | WB_SIG_ITER | WB_SIG_LOOPEND);
	sel.site[WB_S_PASS_MARK_TP].status = WB_SS_FAILED;
	CHECK_EQ_U(pass_signals(&sel), WB_SIG_ITER | WB_SIG_LOOPEND);
}

void test_passes(void)
{
	test_wp_lines();
	test_passes_object();
	test_passes_summary();
}
