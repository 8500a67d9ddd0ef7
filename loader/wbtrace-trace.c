// SPDX-License-Identifier: GPL-2.0
/*
 * wbtrace-trace: f2fs data writeback tracer (user side).
 *
 * Lifecycle (libbpf-tools style): parse args -> preflight -> select a mode per
 * probe site (real attach tests) -> open skeleton, set rodata, load (a site
 * whose program the verifier rejects falls back to its next mode and the
 * object is reloaded) -> attach -> spawn the command -> poll the ring buffer
 * -> detach, drain, read maps -> summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "wbtrace.skel.h"
#include "args.h"
#include "output.h"
#include "probe.h"
#include "sysinfo.h"
#include "util.h"

#define ERR(...) fprintf(stderr, "wbtrace-trace: " __VA_ARGS__)
#define MAX_RELOADS 32

/* the smallest ring (--ringbuf-size, 4 KiB) must still wake before it is full */
_Static_assert((4096 >> WB_RB_WAKE_SHIFT) >= 2 * (sizeof(struct wb_event) + 8), "wake-up threshold");

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t got_signal;
static struct wb_env env;
static char failed_prog[128];	/* last program libbpf failed to load */

static void sig_handler(int sig)
{
	exiting = 1;
	got_signal = sig;
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char buf[512];
	const char *p;
	va_list copy;

	va_copy(copy, args);
	vsnprintf(buf, sizeof(buf), fmt, copy);
	va_end(copy);
	/* "libbpf: prog 'NAME': failed to load: -22" */
	if (level == LIBBPF_WARN && (p = strstr(buf, "prog '")) && strstr(buf, "failed to load")) {
		const char *q = strchr(p + 6, '\'');

		if (q && (size_t)(q - p - 6) < sizeof(failed_prog)) {
			memcpy(failed_prog, p + 6, q - p - 6);
			failed_prog[q - p - 6] = 0;
		}
	}
	/* failures are summarised per site; -v shows libbpf and the verifier */
	if (!env.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void list_probes(void)
{
	printf("%-10s %-4s %-15s %-4s %-10s %-30s %s\n", "probe", "req", "site", "rank", "kind",
	       "target", "btf");
	for (int i = 0; i < WB_S_NR; i++) {
		const struct wb_site_def *d = &wb_site_defs[i];

		printf("%-10s %-4s %-15s %-4d %-10s %-30s %s\n", wb_probe_defs[d->probe].name,
		       wb_probe_defs[d->probe].required ? "yes" : "no", d->name, d->rank,
		       d->kind == WB_KIND_FUNC ? "function" : "tracepoint", d->target,
		       d->btf_module);
	}
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct wb_run *run = ctx;

	if (size < sizeof(struct wb_event))
		return 0;
	wb_run_event(run, data);
	return 0;
}

/* Sum a per-CPU u64 array map into out[n]. */
static int read_percpu_u64(int fd, uint64_t *out, int n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return -1;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -1;
	for (int k = 0; k < n; k++) {
		__u32 key = k;

		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

/* The shared `hists` map (hist mode): WB_HE_NR log-linear histograms. */
static struct wb_ll *read_hists(int fd)
{
	struct wb_ll *out = calloc(WB_HE_NR, sizeof(*out));
	struct wb_llhist *val = malloc(sizeof(*val));

	if (!out || !val) {
		free(out);
		free(val);
		return NULL;
	}
	for (__u32 k = 0; k < WB_HE_NR; k++)
		if (!bpf_map_lookup_elem(fd, &k, val))
			wb_ll_from_kernel(&out[k], val);
	free(val);
	return out;
}

/* Open, configure and load the object; sites whose program fails to load fall back. */
static int load_object(struct wb_sel *sel, struct wbtrace_bpf **out, uint32_t dev, uint64_t cgid)
{
	for (int attempt = 0; attempt < MAX_RELOADS; attempt++) {
		struct wbtrace_bpf *skel = wbtrace_bpf__open();
		int err, site;
		enum wb_pmode m;

		if (!skel) {
			ERR("cannot open the BPF object: %s\n", strerror(errno));
			return WB_EXIT_INTERNAL;
		}
		skel->rodata->targ_dev = dev;
		skel->rodata->targ_ino = env.ino;
		skel->rodata->targ_tgid = env.pid;
		skel->rodata->targ_cgid = cgid;
		skel->rodata->targ_stream = env.mode == WB_MODE_STREAM;
		skel->rodata->targ_hist = env.mode == WB_MODE_HIST;
		skel->rodata->targ_sig = wb_sel_signals(sel);
		bpf_map__set_max_entries(skel->maps.events,
					 env.mode == WB_MODE_STREAM ? env.ringbuf_bytes : 4096);
		skel->rodata->targ_wake_bytes = env.ringbuf_bytes >> WB_RB_WAKE_SHIFT;
		if (wb_configure(sel, skel->obj)) {
			wbtrace_bpf__destroy(skel);
			return WB_EXIT_INTERNAL;
		}
		failed_prog[0] = 0;
		err = wbtrace_bpf__load(skel);
		if (!err) {
			*out = skel;
			return 0;
		}
		wbtrace_bpf__destroy(skel);
		site = failed_prog[0] ? wb_site_of_prog(failed_prog, &m) : -1;
		if (site < 0) {
			ERR("BPF object failed to load: %s (run with -v for the verifier log)\n",
			    strerror(-err));
			return WB_EXIT_LOAD;
		}
		if (env.verbose)
			ERR("program %s (site %s, %s) rejected: falling back\n", failed_prog,
			    wb_site_defs[site].target, wb_pmode_name(m));
		wb_reselect_site(sel, site, "program rejected by the verifier");
	}
	ERR("BPF object failed to load after %d fallbacks\n", MAX_RELOADS);
	return WB_EXIT_LOAD;
}

static void report_missing(const struct wb_sel *sel, bool *required_missing)
{
	*required_missing = false;
	for (int p = 0; p < WB_P_NR; p++) {
		char buf[768] = "";
		size_t n = 0;

		if (wb_probe_ok(sel, p))
			continue;
		for (int i = 0; i < WB_S_NR; i++)
			if (wb_site_defs[i].probe == p)
				n += snprintf(buf + n, sizeof(buf) - n, "%s%s %s%s%s%s",
					      n ? "; " : "", wb_site_defs[i].target,
					      wb_sstat_name(sel->site[i].status),
					      sel->site[i].note[0] ? " (" : "", sel->site[i].note,
					      sel->site[i].note[0] ? ")" : "");
		if (wb_probe_defs[p].required) {
			*required_missing = true;
			ERR("probe %s: no traceable site: %s\n", wb_probe_defs[p].name, buf);
		} else if (env.verbose) {
			ERR("probe %s (optional) off: %s\n", wb_probe_defs[p].name, buf);
		}
	}
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		ERR("cannot write %s: %s\n", path, strerror(errno));
	return f;
}

static pid_t spawn(char **argv, int *errpipe)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int e;

		close(p[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[0], argv);
		e = errno;
		if (write(p[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	*errpipe = p[0];
	return pid;
}

int main(int argc, char **argv)
{
	struct wbtrace_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	struct wb_sysinfo si;
	struct wb_sel sel;
	struct wb_run run;
	char path[4096];
	FILE *sumf = NULL;
	uint32_t dev = 0;
	uint64_t cgid = 0, deadline = 0;
	pid_t child = -1;
	bool required_missing;
	int err, rc = WB_EXIT_OK, reload;

	err = wb_parse_args(argc, argv, &env, 0);
	if (err)
		return err;
	if (env.list_probes) {
		list_probes();
		return 0;
	}
	libbpf_set_print(libbpf_print_fn);
	wb_run_init(&run);
	run.env = &env;

	err = wb_preflight(&si);
	if (err)
		return err;
	run.si = &si;
	if (env.dev && wb_resolve_dev(env.dev, &dev))
		return WB_EXIT_USAGE;
	if (env.cgroup && wb_cgroup_id(env.cgroup, &cgid))
		return WB_EXIT_USAGE;
	run.dev_filter = dev;
	run.cgid_filter = cgid;

	memset(&sel, 0, sizeof(sel));
	sel.verbose = env.verbose;
	sel.f2fs_builtin = si.f2fs_builtin;
	sel.disabled[WB_M_FENTRY] = env.no_fentry;
	sel.disabled[WB_M_KPROBE] = env.no_kprobe;
	sel.disabled[WB_M_TP_BTF] = env.no_tp_btf;
	sel.disabled[WB_M_RAW_TP] = env.no_raw_tp;
	sel.skipped = env.skip_probes;
	wb_select(&sel);
	run.sel = &sel;

	for (reload = 0;; reload++) {
		bool again = false;

		err = load_object(&sel, &skel, dev, cgid);
		if (err) {
			rc = err;
			goto cleanup;
		}
		if (!wb_attach(&sel, skel->obj))
			break;
		/* an attach failed after its test passed: fall back for those sites */
		for (int i = 0; i < WB_S_NR; i++)
			if (sel.site[i].status == WB_SS_FAILED && sel.site[i].mode != WB_M_NONE) {
				wb_reselect_site(&sel, i, NULL);
				again = true;
			}
		if (!again || reload >= MAX_RELOADS)
			break;
		wb_detach(&sel);
		for (int i = 0; i < WB_S_NR; i++)
			if (sel.site[i].status == WB_SS_ATTACHED)
				sel.site[i].status = WB_SS_SELECTED;
		wbtrace_bpf__destroy(skel);
		skel = NULL;
	}
	report_missing(&sel, &required_missing);
	if (required_missing && !env.allow_missing) {
		rc = WB_EXIT_PROBE;
		goto cleanup;
	}
	wb_release_btf();

	if (env.check) {
		run.t_start = run.t_end = now_ns();
		if (env.json)
			wb_summary_json(&run, stdout, true);
		else
			for (int i = 0; i < WB_S_NR; i++)
				printf("%-10s %-30s %-8s %-7s %s\n",
				       wb_probe_defs[wb_site_defs[i].probe].name, wb_site_defs[i].target,
				       wb_sstat_name(sel.site[i].status),
				       sel.site[i].status == WB_SS_ATTACHED ?
				       wb_pmode_name(sel.site[i].mode) : "-", sel.site[i].note);
		goto cleanup;
	}

	/* outputs */
	if (env.outdir) {
		if (mkdir(env.outdir, 0755) && errno != EEXIST) {
			ERR("cannot create %s: %s\n", env.outdir, strerror(errno));
			rc = WB_EXIT_OUTPUT;
			goto cleanup;
		}
		if (env.mode == WB_MODE_STREAM && !env.events_path) {
			snprintf(path, sizeof(path), "%s/events.jsonl", env.outdir);
			if (!(run.ev = open_out(path))) {
				rc = WB_EXIT_OUTPUT;
				goto cleanup;
			}
		}
		if (!env.summary_path) {
			snprintf(path, sizeof(path), "%s/summary.json", env.outdir);
			if (!(sumf = open_out(path))) {
				rc = WB_EXIT_OUTPUT;
				goto cleanup;
			}
		}
	}
	if (env.events_path && !(run.ev = open_out(env.events_path))) {
		rc = WB_EXIT_OUTPUT;
		goto cleanup;
	}
	if (env.summary_path && !(sumf = open_out(env.summary_path))) {
		rc = WB_EXIT_OUTPUT;
		goto cleanup;
	}
	if (run.ev)
		setvbuf(run.ev, NULL, _IOFBF, 1 << 20);

	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event, &run, NULL);
	if (!rb) {
		ERR("cannot create the ring buffer reader: %s\n", strerror(errno));
		rc = errno == EINVAL || errno == ENOTSUP ? WB_EXIT_OLD_KERNEL : WB_EXIT_INTERNAL;
		goto cleanup;
	}

	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);
	signal(SIGPIPE, SIG_IGN);
	skel->bss->wb_phase = WB_PHASE_TRACING;	/* everything attached: frames may open */
	run.t_start = now_ns();
	if (env.duration_ns)
		deadline = run.t_start + env.duration_ns;
	if (env.cmd) {
		int errpipe = -1, cerr = 0;

		child = spawn(env.cmd, &errpipe);
		if (child < 0) {
			ERR("cannot start %s: %s\n", env.cmd[0], strerror(errno));
			rc = WB_EXIT_CMD;
			goto cleanup;
		}
		if (read(errpipe, &cerr, sizeof(cerr)) == sizeof(cerr)) {
			ERR("cannot run %s: %s\n", env.cmd[0], strerror(cerr));
			waitpid(child, NULL, 0);
			child = -1;
			close(errpipe);
			rc = WB_EXIT_CMD;
			goto cleanup;
		}
		close(errpipe);
		run.cmd_started = true;
	} else if (!env.quiet && !env.json) {
		fprintf(stderr, "Tracing f2fs writeback%s... Hit Ctrl-C to end.\n",
			env.duration_ns ? " for the given duration" : "");
	}

	while (!exiting) {
		/* woken only once the ring is 1/2^WB_RB_WAKE_SHIFT full: drain on the timeout too */
		err = ring_buffer__poll(rb, WB_POLL_MS);
		if (err == 0)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			ERR("ring buffer poll: %s\n", strerror(-err));
			rc = WB_EXIT_INTERNAL;
			break;
		}
		if (child > 0) {
			int st;

			if (waitpid(child, &st, WNOHANG) == child) {
				run.cmd_status = st;
				child = -1;
				if (env.sync_after)
					sync();
				break;
			}
		}
		if (deadline && now_ns() >= deadline)
			break;
	}
	if (exiting)
		run.interrupted = true;
	if (child > 0) {
		/* Ctrl-C: the terminal signalled the child too; SIGTERM: pass it on */
		if (got_signal == SIGTERM)
			kill(child, SIGTERM);
		if (waitpid(child, &run.cmd_status, 0) != child)
			run.cmd_status = -1;
		child = -1;
	}

	/* detach first, then drain what is already in the buffer */
	skel->bss->wb_phase = WB_PHASE_STOPPING;
	wb_kprobe_misses(&sel, si.kmajor > 6 || (si.kmajor == 6 && si.kminor >= 7), &run.misses);
	wb_detach(&sel);
	wb_prog_misses(skel->obj, &run.misses);
	ring_buffer__consume(rb);
	run.t_end = now_ns();
	read_percpu_u64(bpf_map__fd(skel->maps.counters), run.counters, WB_C_NR);
	read_percpu_u64(bpf_map__fd(skel->maps.drops), run.drops, WB_EV_TYPES);
	for (int t = 0; t < WB_EV_TYPES; t++)
		run.drops_total += run.drops[t];
	if (env.mode == WB_MODE_HIST)
		run.kh = read_hists(bpf_map__fd(skel->maps.hists));
	{
		__u32 key = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.passes), &key, &run.passes))
			memset(&run.passes, 0, sizeof(run.passes));
		for (key = 0; key <= WB_BE_UNKNOWN; key++)
			if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.bio_ends), &key,
						&run.bio_ends[key]))
				memset(&run.bio_ends[key], 0, sizeof(run.bio_ends[key]));
	}

	if (run.ev) {
		if (fflush(run.ev) || run.ev_error) {
			ERR("writing events failed: %s\n", strerror(run.ev_error ? run.ev_error : errno));
			rc = WB_EXIT_OUTPUT;
		}
	}
	if (sumf) {
		wb_summary_json(&run, sumf, true);
		if (fflush(sumf)) {
			ERR("writing the summary failed: %s\n", strerror(errno));
			rc = WB_EXIT_OUTPUT;
		}
	}
	if (env.json)
		wb_summary_json(&run, stdout, true);
	else if (!env.quiet)
		wb_summary_text(&run, stdout);

	if (rc == WB_EXIT_OK) {
		char why[512];

		if (!wb_run_valid(&run, why, sizeof(why))) {
			ERR("run invalid: %s\n", why);
			if (env.mode == WB_MODE_STREAM &&
			    wb_drop_pct(run.events, run.drops_total) > env.max_drop_pct)
				rc = WB_EXIT_DROPS;
			else if (wb_run_lost(&run, NULL, 0))
				rc = WB_EXIT_LOST;
			else
				rc = WB_EXIT_PROBE;
		} else if (run.cmd_status >= 0 &&
			   (!WIFEXITED(run.cmd_status) || WEXITSTATUS(run.cmd_status))) {
			ERR("%s exited with status %d\n", env.cmd[0],
			    WIFEXITED(run.cmd_status) ? WEXITSTATUS(run.cmd_status)
						      : 128 + WTERMSIG(run.cmd_status));
			rc = WB_EXIT_CMD;
		}
	}

cleanup:
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	wb_detach(&sel);
	ring_buffer__free(rb);
	wbtrace_bpf__destroy(skel);
	wb_release_btf();
	if (run.ev)
		fclose(run.ev);
	if (sumf)
		fclose(sumf);
	wb_run_free(&run);
	return rc;
}
