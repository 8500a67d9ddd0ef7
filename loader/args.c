// SPDX-License-Identifier: GPL-2.0
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include <linux/types.h>
#include "util.h"
#include "wbtrace.h"

/* probes.def: what --skip-probe may name (only probes a run can do without) */
static const struct { const char *name; int required; } probe_names[WB_P_NR] = {
#define WB_PROBE(id, name, req, what) [WB_P_##id] = { name, req },
#include "probes.def"
};

const char wb_version[] = "0.1";
const char *argp_program_version = "wbtrace-trace 0.1";
const char *argp_program_bug_address = "the wbtrace issue tracker";

#define WB_X(name, val, what) "  " #val "  " what "\n"
static const char doc[] =
"Trace f2fs data writeback: writepages passes, folios, bios, compressed clusters.\n"
"\n"
"USAGE: wbtrace-trace [OPTIONS] [-- COMMAND [ARGS...]]\n"
"\n"
"Attaches one BPF probe per site of loader/probes.def (fentry/fexit, else\n"
"kprobe/kretprobe, else tracepoint; the mode used is reported), then traces\n"
"until Ctrl-C, -d expires, or COMMAND exits.  Only f2fs inodes are traced.\n"
"\n"
"EXAMPLES:\n"
"    wbtrace-trace -- dd if=/dev/zero of=/mnt/f2fs/x bs=1M count=32 conv=fsync\n"
"    wbtrace-trace -m hist -d 10          # 10 s, in-kernel histograms only\n"
"    wbtrace-trace -O results/run/trace -- fio job.fio\n"
"    wbtrace-trace --check               # load + attach every probe, report, exit\n"
"\v"
"Output: a text summary on stdout (--json: the summary JSON instead).  Stream\n"
"mode (default) gives exact percentiles and, with -o/-O, one JSON line per\n"
"event; hist mode keeps only in-kernel log2 histograms (cheaper).  Ring-buffer\n"
"drops are always reported; above --max-drop-pct the run is marked invalid.\n"
"\n"
"EXIT STATUS:\n"
WB_EXIT_CODES(WB_X);
#undef WB_X

enum {
	OPT_JSON = 256, OPT_CHECK, OPT_LIST, OPT_ALLOW_MISSING, OPT_NO_FENTRY, OPT_NO_KPROBE,
	OPT_NO_TP_BTF, OPT_NO_RAW_TP, OPT_MAX_DROP, OPT_SYNC, OPT_SKIP_PROBE,
};

static const struct argp_option opts[] = {
	{ "duration", 'd', "SEC", 0, "Trace for SEC seconds (suffix ms/s/m/h allowed)", 0 },
	{ "pid", 'p', "PID", 0, "Only events of this process (the task doing the writeback)", 0 },
	{ "inode", 'i', "INO", 0, "Only this inode number", 0 },
	{ "dev", 'D', "DEV", 0, "Only this f2fs: MAJ:MIN, /dev/NODE or a mount point", 0 },
	{ "cgroup", 'c', "PATH", 0, "Only tasks in this cgroup v2 directory", 0 },
	{ "mode", 'm', "MODE", 0, "stream (default: one record per event) or hist (in-kernel)", 0 },
	{ "output", 'o', "FILE", 0, "Write events as JSON Lines to FILE (stream mode)", 0 },
	{ "summary", 's', "FILE", 0, "Write the summary JSON to FILE", 0 },
	{ "outdir", 'O', "DIR", 0, "Write DIR/events.jsonl (stream) and DIR/summary.json", 0 },
	{ "json", OPT_JSON, NULL, 0, "Print the summary as JSON on stdout", 0 },
	{ "ringbuf-size", 'b', "MIB", 0, "Ring buffer size, power of two (default 8)", 0 },
	{ "max-drop-pct", OPT_MAX_DROP, "PCT", 0, "Invalid run above PCT % dropped events (default 0.1)", 0 },
	{ "sync", OPT_SYNC, NULL, 0, "After COMMAND exits, sync(2) while still tracing", 0 },
	{ "check", OPT_CHECK, NULL, 0, "Load and attach every probe, print the modes, exit", 0 },
	{ "list-probes", OPT_LIST, NULL, 0, "Print the probe/site table and exit (no kernel access)", 0 },
	{ "allow-missing", OPT_ALLOW_MISSING, NULL, 0, "Go on when a required probe cannot attach", 0 },
	{ "no-fentry", OPT_NO_FENTRY, NULL, 0, "Do not use fentry/fexit (test the kprobe fallback)", 0 },
	{ "no-kprobe", OPT_NO_KPROBE, NULL, 0, "Do not use kprobe/kretprobe", 0 },
	{ "no-tp-btf", OPT_NO_TP_BTF, NULL, 0, "Do not use tp_btf (test the raw_tp fallback)", 0 },
	{ "no-raw-tp", OPT_NO_RAW_TP, NULL, 0, "Do not use raw_tp", 0 },
	{ "skip-probe", OPT_SKIP_PROBE, "NAME[,NAME]", 0,
	  "Do not attach these optional probes (names: --list-probes); reported \"off\". "
	  "compare uses it so both variants run the same probes per folio", 0 },
	{ "quiet", 'q', NULL, 0, "No text summary (files only)", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf debug output and probe selection details", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

void wb_env_defaults(struct wb_env *env)
{
	memset(env, 0, sizeof(*env));
	env->mode = WB_MODE_STREAM;
	env->ringbuf_bytes = 8ULL << 20;
	env->max_drop_pct = 0.1;
}

/* argp_error() exits unless ARGP_NO_EXIT (tests): then fail the parse too. */
#define BAD(...) do { argp_error(state, __VA_ARGS__); return EINVAL; } while (0)

/* --skip-probe NAME[,NAME]: names of optional probes, OR'ed into *mask. */
static error_t parse_skip_probes(const char *arg, uint64_t *mask, struct argp_state *state)
{
	char buf[256], *tok, *save = NULL;
	int p;

	if (!*arg || strlen(arg) >= sizeof(buf))
		BAD("--skip-probe needs probe names (see --list-probes)");
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (p = 0; p < WB_P_NR; p++)
			if (!strcmp(tok, probe_names[p].name))
				break;
		if (p == WB_P_NR)
			BAD("--skip-probe: no probe '%s' (see --list-probes)", tok);
		if (probe_names[p].required)
			BAD("--skip-probe: '%s' is required: a run cannot do without it", tok);
		*mask |= 1ULL << p;
	}
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct wb_env *env = state->input;
	uint64_t u;

	switch (key) {
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case 'd':
		if (wb_parse_duration_ns(arg, &env->duration_ns))
			BAD("invalid duration '%s'", arg);
		break;
	case 'p':
		if (wb_parse_u64(arg, &u) || u == 0 || u > 0x7fffffff)
			BAD("invalid PID '%s'", arg);
		env->pid = (uint32_t)u;
		break;
	case 'i':
		if (wb_parse_u64(arg, &u) || u == 0)
			BAD("invalid inode number '%s'", arg);
		env->ino = u;
		break;
	case 'D':
		if (!*arg)
			BAD("empty --dev");
		env->dev = arg;
		break;
	case 'c':
		if (!*arg)
			BAD("empty --cgroup");
		env->cgroup = arg;
		break;
	case 'm':
		if (!strcmp(arg, "stream"))
			env->mode = WB_MODE_STREAM;
		else if (!strcmp(arg, "hist"))
			env->mode = WB_MODE_HIST;
		else
			BAD("invalid mode '%s' (stream or hist)", arg);
		break;
	case 'o':
		env->events_path = arg;
		break;
	case 's':
		env->summary_path = arg;
		break;
	case 'O':
		env->outdir = arg;
		break;
	case OPT_JSON:
		env->json = true;
		break;
	case 'b':
		if (wb_parse_size_mib(arg, &u) || !wb_is_pow2(u) || u < 4096)
			BAD("invalid ring buffer size '%s' (power of two, e.g. 8 or 512K)", arg);
		env->ringbuf_bytes = u;
		break;
	case OPT_MAX_DROP:
		if (wb_parse_double(arg, &env->max_drop_pct) || env->max_drop_pct < 0 ||
		    env->max_drop_pct > 100)
			BAD("invalid --max-drop-pct '%s' (0..100)", arg);
		break;
	case OPT_SYNC:
		env->sync_after = true;
		break;
	case OPT_CHECK:
		env->check = true;
		break;
	case OPT_LIST:
		env->list_probes = true;
		break;
	case OPT_ALLOW_MISSING:
		env->allow_missing = true;
		break;
	case OPT_NO_FENTRY:
		env->no_fentry = true;
		break;
	case OPT_NO_KPROBE:
		env->no_kprobe = true;
		break;
	case OPT_NO_TP_BTF:
		env->no_tp_btf = true;
		break;
	case OPT_NO_RAW_TP:
		env->no_raw_tp = true;
		break;
	case OPT_SKIP_PROBE:
		if (parse_skip_probes(arg, &env->skip_probes, state))
			return EINVAL;
		break;
	case 'q':
		env->quiet = true;
		break;
	case 'v':
		env->verbose = true;
		break;
	case ARGP_KEY_ARG:
		/* first non-option: the command; everything after it is its argv */
		env->cmd = &state->argv[state->next - 1];
		env->cmd_argc = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (env->check && env->cmd)
			BAD("--check takes no command");
		if (env->mode == WB_MODE_HIST && (env->events_path))
			BAD("-o needs stream mode (events are not streamed in hist mode)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int wb_parse_args(int argc, char **argv, struct wb_env *env, unsigned flags)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc };
	int err;

	wb_env_defaults(env);
	argp_err_exit_status = WB_EXIT_USAGE;
	err = argp_parse(&argp, argc, argv, ARGP_IN_ORDER | flags, NULL, env);
	return err ? WB_EXIT_USAGE : 0;
}
