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

/*
 * Keyed histograms (sync mode, IPU/OPU, compressed): the key of each record
 * (stream mode) and of the kernel's entries (hist mode), the records' new
 * fields, and `metrics_by_key` with its log-linear percentiles.
 */
static void test_keyed(void)
{
	struct wb_event e = {};
	struct wb_env env;
	struct wb_run run;
	char *s, kn[32];
	size_t len = 0;
	FILE *f;

	CHECK_STR(wb_key_name(WB_KEY(WB_KS_NONE, WB_KI_OPU, WB_KC_PLAIN), kn, sizeof(kn)),
		  "none/opu/plain");
	CHECK_STR(wb_key_name(WB_KEY(WB_KS_NA, WB_KI_NA, WB_KC_COMPR), kn, sizeof(kn)), "na/na/compr");
	CHECK_STR(wb_key_name(WB_KEYS - 1, kn, sizeof(kn)), "na/na/compr");
	CHECK(wb_hist_keyed(WB_H_FOLIO_ITER_NS));
	CHECK(!wb_hist_keyed(WB_H_BIO_BYTES));
	CHECK_EQ_U(wb_hist_entry(WB_H_LOOP_NS), WB_KEYS);	/* after writepages_ns's keys */

	/* records: sync from the pass, io from the folio, compr from the inode */
	e.type = WB_EV_FOLIO;
	e.flags = WB_F_GAP | WB_F_IPU | WB_F_PASS_ALL | WB_F_COMPR;
	CHECK_EQ_U(wb_event_key(&e, WB_H_FOLIO_ITER_NS), WB_KEY(WB_KS_ALL, WB_KI_IPU, WB_KC_COMPR));
	CHECK_EQ_U(wb_event_key(&e, WB_H_PASS_SETUP_NS), WB_KEY(WB_KS_ALL, WB_KI_NA, WB_KC_COMPR));
	JSONL_HAS(&e, "\"sync\":\"all\"");
	e.flags = WB_F_NO_PASS;
	CHECK_EQ_U(wb_event_key(&e, WB_H_FOLIO_WRITE_NS), WB_KEY(WB_KS_NA, WB_KI_NA, WB_KC_PLAIN));
	JSONL_HAS(&e, "\"sync\":null");
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_WP;
	e.flags = WB_F_COMPR;
	e.wp.sync_mode = 1;
	CHECK_EQ_U(wb_event_key(&e, WB_H_WP_NS), WB_KEY(WB_KS_ALL, WB_KI_NA, WB_KC_COMPR));
	JSONL_HAS(&e, "\"compr\":true");
	memset(&e, 0, sizeof(e));
	e.type = WB_EV_CLUSTER;		/* in a WB_SYNC_NONE pass; always a compressed file */
	CHECK_EQ_U(wb_event_key(&e, WB_H_CLUSTER_NS), WB_KEY(WB_KS_NONE, WB_KI_NA, WB_KC_COMPR));
	JSONL_HAS(&e, "\"sync\":\"none\"");

	/* stream mode: per-key exact percentiles, summing to the unkeyed metric */
	wb_env_defaults(&env);
	wb_run_init(&run);
	run.env = &env;
	for (int i = 1; i <= 100; i++) {
		memset(&e, 0, sizeof(e));
		e.type = WB_EV_FOLIO;
		e.flags = WB_F_GAP | WB_F_OPU | (i > 90 ? WB_F_PASS_ALL : 0);
		e.folio.iter_ns = i * 1000;
		e.folio.gap_ns = i;
		e.folio.write_ns = i * 1000 - i;
		wb_run_event(&run, &e);
	}
	CHECK_EQ_U(run.m[WB_H_FOLIO_ITER_NS].kv[WB_KEY(WB_KS_NONE, WB_KI_OPU, WB_KC_PLAIN)].n, 90);
	CHECK_EQ_U(run.m[WB_H_FOLIO_ITER_NS].kv[WB_KEY(WB_KS_ALL, WB_KI_OPU, WB_KC_PLAIN)].n, 10);
	f = open_memstream(&s, &len);
	wb_summary_json(&run, f, false);
	fclose(f);
	HAS(s, "\"metrics_by_key\":{\"writepages_ns\":{},\"folio_latency_ns\":{\"none/opu/plain\":"
	       "{\"unit\":\"ns\",\"count\":90,\"sum\":4095000,\"min\":1000,\"max\":90000,"
	       "\"mean\":45500.0,\"p50\":45000,\"p90\":81000,\"p99\":90000,\"p999\":90000,"
	       "\"pct_method\":\"exact\"");
	HAS(s, "\"all/opu/plain\":{\"unit\":\"ns\",\"count\":10,\"sum\":955000,\"min\":91000,");
	/* 1000 = 0b1111101000: e = 9, group 9 - 5 + 1 = 5, sub-bucket (1000 >> 4) & 31 = 30:
	   bucket 5 * 32 + 30 = 190, [992, 1007] */
	HAS(s, "\"p999\":90000,\"pct_method\":\"exact\",\"hist_log2\":[0,0,0,0,0,0,0,0,0,1,1,2,4,8,16,33,25],"
	       "\"hist_loglin\":{\"sub_bits\":5,\"buckets\":[[190,1],");
	free(s);
	wb_run_free(&run);

	/* hist mode: the kernel's entries; unkeyed = sum over the keys */
	wb_run_init(&run);
	env.mode = WB_MODE_HIST;
	run.env = &env;
	run.kh = calloc(WB_HE_NR, sizeof(*run.kh));
	CHECK(run.kh != NULL);
	if (!run.kh)
		return;
	for (uint64_t v = 1; v <= 10000; v++)
		wb_ll_add(&run.kh[wb_hist_entry(WB_H_FOLIO_ITER_NS) +
				  WB_KEY(WB_KS_NONE, WB_KI_OPU, WB_KC_PLAIN)], v);
	wb_ll_add(&run.kh[wb_hist_entry(WB_H_FOLIO_ITER_NS) +
			  WB_KEY(WB_KS_ALL, WB_KI_OPU, WB_KC_PLAIN)], 20000);
	f = open_memstream(&s, &len);
	wb_summary_json(&run, f, false);
	fclose(f);
	/* 10001 values: rank of p99 = 9901, in [9728, 9983] */
	HAS(s, "\"folio_latency_ns\":{\"unit\":\"ns\",\"count\":10001,\"sum\":50025000,\"min\":1,"
	       "\"max\":20000,\"mean\":");
	HAS(s, "\"p99\":9983,\"p999\":10239,\"pct_method\":\"hist_loglin_upper\","
	       "\"hist_log2\":[1,2,4,8,16,32,64,128,256,512,1024,2048,4096,1809,1]");
	HAS(s, "\"none/opu/plain\":{\"unit\":\"ns\",\"count\":10000,");
	HAS(s, "\"all/opu/plain\":{\"unit\":\"ns\",\"count\":1,\"sum\":20000,\"min\":20000,"
	       "\"max\":20000,\"mean\":20000.0,\"p50\":20479,");	/* [19968, 20479] */
	free(s);
	f = open_memstream(&s, &len);
	wb_summary_text(&run, f);
	fclose(f);
	HAS(s, "by key (sync/io/compr): count, p99\n");
	HAS(s, "  folio_latency_ns   none/opu/plain        10000  9983 ns\n");
	HAS(s, "  folio_latency_ns   all/opu/plain             1  20.5 us\n");
	free(s);
	wb_run_free(&run);
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
	JSONL_HAS(&e, "\"lat_ns\":null,\"gap_ns\":null,\"write_ns\":null,\"handout_ns\":null,");

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
	JSONL_HAS(&e, "\"sync_waiters\":2");
	e.wp.sync_waiters = -1;		/* the kernel's struct lacks the field: unknown */
	JSONL_HAS(&e, "\"sync_waiters\":null");
	e.flags = WB_F_OUTER | WB_F_FOLIO_UNKNOWN;
	JSONL_HAS(&e, "\"setup_ns\":null,\"gap_ns\":null,\"write_ns\":null,\"cluster_ns\":null,\"tail_ns\":null");

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
	test_keyed();
}
