/* SPDX-License-Identifier: GPL-2.0 */
/* Command line of wbtrace-trace (argp).  Pure: unit-tested in tests/loader/. */
#ifndef WB_ARGS_H
#define WB_ARGS_H

#include <stdbool.h>
#include <stdint.h>

enum wb_out_mode { WB_MODE_STREAM = 0, WB_MODE_HIST };

struct wb_env {
	enum wb_out_mode mode;
	uint64_t duration_ns;		/* 0: until Ctrl-C or the command exits */
	uint32_t pid;			/* tgid filter, 0 = any */
	uint64_t ino;			/* inode filter, 0 = any */
	const char *dev;		/* "MAJ:MIN", /dev/node or a mount point; NULL = any f2fs */
	const char *cgroup;		/* cgroup v2 directory, NULL = any */
	const char *events_path;	/* -o: JSON Lines events */
	const char *summary_path;	/* -s: summary JSON */
	const char *outdir;		/* -O: DIR/events.jsonl + DIR/summary.json */
	bool json;			/* summary JSON on stdout instead of text */
	bool quiet;
	bool verbose;
	bool check;			/* load + attach, report, exit */
	bool list_probes;		/* print the site table, touch nothing */
	bool allow_missing;		/* required probe missing: warn, go on */
	bool no_fentry, no_kprobe, no_tp_btf, no_raw_tp;	/* force fallbacks (tests) */
	uint64_t skip_probes;		/* --skip-probe: bit per probe id (probes.def) */
	bool sync_after;		/* sync() after the command, still tracing */
	uint64_t ringbuf_bytes;
	double max_drop_pct;
	char **cmd;			/* argv after "--", NULL-terminated; NULL = none */
	int cmd_argc;
};

void wb_env_defaults(struct wb_env *env);

/*
 * Parse argv into env.  Returns 0, or an exit code (WB_EXIT_USAGE) after
 * printing one error line.  `flags` is passed to argp_parse (the loader
 * passes 0; tests pass ARGP_NO_EXIT | ARGP_NO_ERRS to stay in-process).
 * --help / --usage / --version print and exit (unless ARGP_NO_EXIT).
 */
int wb_parse_args(int argc, char **argv, struct wb_env *env, unsigned flags);

extern const char wb_version[];

#endif /* WB_ARGS_H */
