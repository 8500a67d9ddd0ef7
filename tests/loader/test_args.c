// SPDX-License-Identifier: GPL-2.0
#include <argp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/types.h>
#include "wbt_test.h"
#include "args.h"
#include "wbtrace.h"
#include "util.h"

static int parse(struct wb_env *env, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	char *a;
	int rc, saved;
	FILE *devnull = fopen("/dev/null", "w");

	argv[argc++] = "wbtrace-trace";
	va_start(ap, env);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	/* argp reports errors on stderr: keep the test log clean */
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(devnull), 2);
	rc = wb_parse_args(argc, argv, env, ARGP_NO_EXIT);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(devnull);
	return rc;
}

void test_args(void)
{
	struct wb_env e;

	CHECK_EQ_U(parse(&e, NULL), 0);
	CHECK(e.mode == WB_MODE_STREAM);
	CHECK_EQ_U(e.ringbuf_bytes, 8ULL << 20);
	CHECK(e.max_drop_pct > 0.09 && e.max_drop_pct < 0.11);
	CHECK(e.cmd == NULL);

	CHECK_EQ_U(parse(&e, "-d", "10", "-p", "123", "-i", "77", "-m", "hist", NULL), 0);
	CHECK_EQ_U(e.duration_ns, 10000000000ULL);
	CHECK_EQ_U(e.pid, 123);
	CHECK_EQ_U(e.ino, 77);
	CHECK(e.mode == WB_MODE_HIST);

	CHECK_EQ_U(parse(&e, "--duration=250ms", "-b", "16", "--json", "-q", NULL), 0);
	CHECK_EQ_U(e.duration_ns, 250000000ULL);
	CHECK_EQ_U(e.ringbuf_bytes, 16ULL << 20);
	CHECK(e.json && e.quiet);

	/* the command: after "--", and also at the first non-option (options after it are its own) */
	CHECK_EQ_U(parse(&e, "-d", "5", "--", "dd", "if=/dev/zero", "-x", NULL), 0);
	CHECK(e.cmd != NULL && e.cmd_argc == 3);
	if (e.cmd) {
		CHECK_STR(e.cmd[0], "dd");
		CHECK_STR(e.cmd[2], "-x");
		CHECK(e.cmd[3] == NULL);
	}
	CHECK_EQ_U(parse(&e, "-O", "/tmp/x", "fio", "--rw=write", "job.fio", NULL), 0);
	CHECK(e.cmd != NULL && e.cmd_argc == 3);
	if (e.cmd)
		CHECK_STR(e.cmd[1], "--rw=write");
	CHECK_STR(e.outdir, "/tmp/x");

	/* bad input -> WB_EXIT_USAGE */
	CHECK_EQ_U(parse(&e, "-d", "0", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-d", "-3", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-d", "abc", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-p", "0", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-p", "12x", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-m", "fast", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-b", "3", NULL), WB_EXIT_USAGE);		/* not a power of two */
	CHECK_EQ_U(parse(&e, "--max-drop-pct", "101", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "--no-such-option", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "--check", "--", "true", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "-m", "hist", "-o", "ev.jsonl", NULL), WB_EXIT_USAGE);
	/* all function modes off is allowed: probes fall back to their tracepoint sites */
	CHECK_EQ_U(parse(&e, "--no-fentry", "--no-kprobe", NULL), 0);
	CHECK(e.no_fentry && e.no_kprobe);
	CHECK_EQ_U(parse(&e, "-p", NULL), WB_EXIT_USAGE);			/* missing value */

	/* flags */
	CHECK_EQ_U(parse(&e, "--check", "--no-fentry", "--no-tp-btf", "--allow-missing",
			 "--sync", NULL), 0);
	CHECK(e.check && e.no_fentry && e.no_tp_btf && e.allow_missing && e.sync_after);
	CHECK(!e.no_kprobe && !e.no_raw_tp);

	/* --skip-probe: optional probes by name, repeatable; required or unknown ones refused */
	CHECK_EQ_U(parse(&e, NULL), 0);
	CHECK(e.skip_probes == 0);
	CHECK_EQ_U(parse(&e, "--skip-probe", "handout", "--skip-probe", "loop_end,wb_work", NULL), 0);
	CHECK(e.skip_probes == ((1ULL << WB_P_HANDOUT) | (1ULL << WB_P_LOOP_END) |
				(1ULL << WB_P_WB_WORK)));
	CHECK_EQ_U(parse(&e, "--skip-probe", "folio", NULL), WB_EXIT_USAGE);	/* required */
	CHECK_EQ_U(parse(&e, "--skip-probe", "handouts", NULL), WB_EXIT_USAGE);	/* no such */
	CHECK_EQ_U(parse(&e, "--skip-probe", "", NULL), WB_EXIT_USAGE);
	CHECK_EQ_U(parse(&e, "--skip-probe", NULL), WB_EXIT_USAGE);		/* no value */
}
