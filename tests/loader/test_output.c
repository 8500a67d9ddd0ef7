// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include "wbt_test.h"
#include "json.h"
#include "output.h"

struct wb_json *wbt_json_open(struct wbt_json_text *t, struct wb_json *j)
{
	t->text = NULL;
	t->f = open_memstream(&t->text, &t->len);
	wb_json_init(j, t->f, false);
	wb_json_obj(j, NULL);
	return j;
}

char *wbt_json_close(struct wbt_json_text *t, struct wb_json *j)
{
	wb_json_obj_end(j);
	fclose(t->f);
	return t->text;
}

char *wbt_event_jsonl(const struct wb_event *e)
{
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);

	wb_event_jsonl(f, e);
	fclose(f);
	return mem;
}


void test_output(void)
{
	struct wb_event e = {};
	struct wb_env env;
	struct wb_run run;
	char *s, why[256];
	size_t len = 0;
	FILE *f;

	e.ts = 123;
	e.dev = (254u << 20) | 3;
	e.ino = 12;
	e.type = WB_EV_FOLIO;
	e.flags = WB_F_OPU | WB_F_GAP | WB_F_COMPR;
	e.folio.index = 4096;
	e.folio.size = 4096;
	e.folio.iter_ns = 5321;
	e.folio.gap_ns = 1321;
	e.folio.write_ns = 4000;
	e.folio.outcome = WB_OUT_REDIRTIED;
	e.folio.ret = -11;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"k\":\"folio\"");
	HAS(s, "\"t\":123,");
	HAS(s, "\"dev\":\"254:3\"");
	HAS(s, "\"ino\":12,\"idx\":4096,");
	HAS(s, "\"lat_ns\":5321,\"gap_ns\":1321,\"write_ns\":4000,\"handout_ns\":null,");
	HAS(s, "\"outcome\":\"redirtied\"");
	HAS(s, "\"ret\":-11,");
	HAS(s, "\"io\":\"opu\"");
	HAS(s, "\"first\":false");
	HAS(s, "\"compr\":true");
	CHECK(s[strlen(s) - 1] == '\n' && s[strlen(s) - 2] == '}');
	free(s);
	/* the first folio of a pass: no loop cycle (its gap is the pass set-up) */
	e.flags |= WB_F_FIRST | WB_F_HANDOUT;
	e.folio.handout_ns = 700;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"lat_ns\":null,\"gap_ns\":1321,\"write_ns\":4000,\"handout_ns\":700,");
	HAS(s, "\"first\":true");
	free(s);
	/* tracepoint fallback (entry only, no pass frame): every latency absent, not 0 */
	e.flags = WB_F_NO_EXIT;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"lat_ns\":null,\"gap_ns\":null,\"write_ns\":null,\"handout_ns\":null,");
	free(s);

	/* a pass's phases: present only when every write was seen at both ends */
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_WP;
	e.flags = WB_F_GAP | WB_F_OUTER;
	e.wp.dur_ns = 100;
	e.wp.setup_ns = 10;
	e.wp.gap_ns = 20;
	e.wp.write_ns = 30;
	e.wp.cluster_ns = 15;
	e.wp.tail_ns = 25;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"setup_ns\":10,\"gap_ns\":20,\"write_ns\":30,\"cluster_ns\":15,\"tail_ns\":25");
	HAS(s, "\"sync_waiters\":0");
	free(s);
	e.wp.sync_waiters = 2;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"sync_waiters\":2");
	free(s);
	e.wp.sync_waiters = -1;		/* the kernel's struct lacks the field: unknown */
	s = wbt_event_jsonl(&e);
	HAS(s, "\"sync_waiters\":null");
	free(s);
	e.flags = WB_F_OUTER | WB_F_FOLIO_UNKNOWN;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"setup_ns\":null,\"gap_ns\":null,\"write_ns\":null,\"cluster_ns\":null,\"tail_ns\":null");
	free(s);

	memset(&e, 0, sizeof(e));
	e.type = WB_EV_BIO;
	e.flags = WB_F_IPU;
	e.bio.bytes = 524288;
	e.bio.ptype = WB_PT_DATA;
	e.bio.temp = WB_TEMP_COLD;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"k\":\"bio\",\"bytes\":524288,\"pages\":128,");
	HAS(s, "\"type\":\"data\",\"temp\":\"cold\",\"io\":\"ipu\"");
	free(s);

	memset(&e, 0, sizeof(e));
	e.type = WB_EV_CLUSTER;
	e.cl.cluster_idx = 17;
	e.cl.cluster_size = 4;
	e.cl.clen = 4012;
	e.cl.algo = 1;
	e.cl.outcome = WB_CL_COMPRESSED;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"k\":\"cmp\"");
	HAS(s, "\"cluster\":17,");
	HAS(s, "\"raw\":16384,\"clen\":4012,");
	HAS(s, "\"algo\":\"lz4\"");
	HAS(s, "\"outcome\":\"compressed\"");
	free(s);

	memset(&e, 0, sizeof(e));
	e.type = WB_EV_WP;
	e.flags = WB_F_NO_EXIT;
	e.wp.nr_before = -1;
	s = wbt_event_jsonl(&e);
	HAS(s, "\"k\":\"wp\"");
	HAS(s, "\"nr_before\":-1,");
	HAS(s, "\"no_exit\":true");
	free(s);

	CHECK(wb_drop_pct(0, 0) == 0.0);
	CHECK(wb_drop_pct(999, 1) > 0.0999 && wb_drop_pct(999, 1) < 0.1001);
	CHECK(wb_drop_pct(0, 5) == 100.0);

	/* accounting: stream metrics + validity by drop threshold */
	wb_env_defaults(&env);
	wb_run_init(&run);
	run.env = &env;
	for (int i = 1; i <= 100; i++) {
		memset(&e, 0, sizeof(e));
		e.type = WB_EV_FOLIO;
		e.flags = WB_F_GAP;
		e.folio.iter_ns = i * 1000;
		e.folio.gap_ns = i * 1000 - i;
		e.folio.write_ns = i;
		wb_run_event(&run, &e);
	}
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_FOLIO;
	e.flags = WB_F_GAP | WB_F_FIRST;	/* a first folio: set-up, not a loop cycle */
	e.folio.gap_ns = 777;
	e.folio.write_ns = 5;
	wb_run_event(&run, &e);
	CHECK_EQ_U(run.m[WB_H_PASS_SETUP_NS].h.count, 1);
	CHECK_EQ_U(run.m[WB_H_FOLIO_GAP_NS].h.count, 100);
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_FOLIO;
	e.flags = WB_F_NO_EXIT;		/* tracepoint fallback: no write_ns, no iter_ns */
	wb_run_event(&run, &e);
	CHECK_EQ_U(run.events, 102);
	CHECK_EQ_U(run.m[WB_H_FOLIO_ITER_NS].h.count, 100);	/* not the first, not the fallback */
	CHECK_EQ_U(run.m[WB_H_FOLIO_WRITE_NS].h.count, 101);
	CHECK_EQ_U(run.m[WB_H_FOLIO_ITER_NS].v.n, 100);
	CHECK(wb_run_valid(&run, why, sizeof(why)));
	run.drops_total = 1;		/* 1 / 103 ~ 0.97 % > 0.1 % */
	CHECK(!wb_run_valid(&run, why, sizeof(why)));
	HAS(why, "dropped");
	env.max_drop_pct = 5;
	CHECK(wb_run_valid(&run, why, sizeof(why)));
	env.mode = WB_MODE_HIST;	/* hist mode streams nothing: drops do not apply */
	env.max_drop_pct = 0;
	CHECK(wb_run_valid(&run, why, sizeof(why)));
	env.mode = WB_MODE_STREAM;
	env.max_drop_pct = 5;

	/*
	 * Lost events make the run invalid, each named: kernel misses (with the
	 * program that missed), orphan exits, overflows, no thread state.  Exits
	 * of calls in flight at attach do not.
	 */
	{
		static const struct { int counter; const char *says; } lost[] = {
			{ WB_C_ORPHAN_EXIT, "1 exits whose entry was not seen" },
			{ WB_C_EXIT_MISMATCH, "1 exits that met another call's frame" },
			{ WB_C_DEPTH_OVERFLOW, "1 frames nested deeper" },
			{ WB_C_STATE_UNAVAILABLE, "1 entries with no per-thread state" },
		};

		run.counters[WB_C_EXIT_IN_FLIGHT] = 3;
		CHECK(wb_run_valid(&run, why, sizeof(why)));
		CHECK(!wb_run_lost(&run, why, sizeof(why)));
		for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++) {
			run.counters[lost[i].counter] = 1;
			CHECK(!wb_run_valid(&run, why, sizeof(why)));
			CHECK(wb_run_lost(&run, NULL, 0));
			HAS(why, lost[i].says);
			run.counters[lost[i].counter] = 0;
		}
		run.misses.prog = 2;
		snprintf(run.misses.where, sizeof(run.misses.where), "wp_fentry 2");
		CHECK(!wb_run_valid(&run, why, sizeof(why)));
		HAS(why, "2 BPF program runs missed");
		HAS(why, "(wp_fentry 2)");
		run.misses.prog = 0;
		run.misses.kprobe = 4;
		CHECK(!wb_run_valid(&run, why, sizeof(why)));
		HAS(why, "4 kprobe hits missed");
		memset(&run.misses, 0, sizeof(run.misses));
		run.counters[WB_C_EXIT_IN_FLIGHT] = 0;
		CHECK(wb_run_valid(&run, why, sizeof(why)));
	}

	/* summary JSON: schema id, exact percentiles, hist sums to count */
	f = open_memstream(&s, &len);
	wb_summary_json(&run, f, false);
	fclose(f);
	HAS(s, "\"schema\":\"wbtrace.trace/1\"");
	HAS(s, "\"folio_latency_ns\":{\"unit\":\"ns\",\"count\":100,\"sum\":5050000,\"min\":1000,"
	       "\"max\":100000,\"mean\":50500.0,\"p50\":50000,\"p90\":90000,\"p99\":99000,"
	       "\"p999\":100000,\"pct_method\":\"exact\"");
	HAS(s, "\"drops\":1,");
	HAS(s, "\"events\":102,");
	HAS(s, "\"valid\":true");
	HAS(s, "\"kernel_misses\":{\"bpf_recursion\":0,\"kprobe\":0}");
	free(s);
	run.misses.kprobe_unread = 1;	/* a kernel before 6.7 does not say: null, not 0 */
	f = open_memstream(&s, &len);
	wb_summary_json(&run, f, false);
	fclose(f);
	HAS(s, "\"kernel_misses\":{\"bpf_recursion\":0,\"kprobe\":null}");
	run.misses.kprobe_unread = 0;
	HAS(s, "\"bio_bytes\":{\"unit\":\"bytes\",\"count\":0,\"sum\":0,\"mean\":null,\"p50\":null");
	HAS(s, "\"compress\":{\"clusters\":0,\"raw_bytes\":0,\"compressed_bytes\":0,\"ratio\":null");
	free(s);
	wb_run_free(&run);

	CHECK_STR(wb_outcome_name(WB_OUT_SKIPPED), "skipped");
	CHECK_STR(wb_cl_outcome_name(WB_CL_NOT_WORTH), "not_worth");
	CHECK_STR(wb_temp_name(WB_TEMP_HOT), "hot");
	CHECK_STR(wb_algo_name(2), "zstd");
	CHECK_STR(wb_algo_name(9), "unknown");
}
