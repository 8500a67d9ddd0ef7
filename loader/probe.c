// SPDX-License-Identifier: GPL-2.0
/*
 * Probe selection.  Each mode of each site is tested for real before the
 * object is loaded:
 *   fentry/fexit  load a 2-insn BPF_PROG_TYPE_TRACING program against the
 *                 target's BTF id (vmlinux or module BTF) and attach it;
 *   kprobe        perf_event_open() a kprobe (or kretprobe) on the symbol;
 *   tp_btf        same as fentry, against the btf_trace_<tp> typedef;
 *   raw_tp        load a 2-insn raw tracepoint program and attach it.
 * Load failures of the real programs (verifier) come back through
 * wb_reselect_site(), so a bad mode falls back per site, not globally.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "probe.h"
#include "util.h"

const struct wb_probe_def wb_probe_defs[WB_P_NR] = {
#define WB_PROBE(id, name, req, what) [WB_P_##id] = { WB_P_##id, name, req, what },
#include "probes.def"
};

#define WB_STR(x) #x
const struct wb_site_def wb_site_defs[WB_S_NR] = {
#define WB_SITE(id, probe, rank, kind, target, mod, entry, exit)			\
	[WB_S_##id] = { WB_S_##id, WB_P_##probe, rank, WB_KIND_##kind, target, mod,	\
			WB_STR(entry), WB_STR(exit), #id },
#include "probes.def"
};

static const char *const pmode_names[WB_M_NR] = {
	[WB_M_NONE] = "none", [WB_M_FENTRY] = "fentry", [WB_M_KPROBE] = "kprobe",
	[WB_M_TP_BTF] = "tp_btf", [WB_M_RAW_TP] = "raw_tp",
};

const char *wb_pmode_name(enum wb_pmode m)
{
	return m < WB_M_NR ? pmode_names[m] : "?";
}

const char *wb_pmode_schema(enum wb_pmode m, bool exit_only)
{
	switch (m) {
	case WB_M_FENTRY: return exit_only ? "fexit" : "fentry";
	case WB_M_KPROBE: return exit_only ? "kretprobe" : "kprobe";
	case WB_M_TP_BTF: return "tracepoint";
	case WB_M_RAW_TP: return "raw_tracepoint";
	default: return "off";
	}
}

const char *wb_sstat_name(enum wb_sstat s)
{
	static const char *const n[] = { "untried", "selected", "attached", "absent", "failed",
					 "skipped" };
	return s <= WB_SS_SKIPPED ? n[s] : "?";
}

static bool used(const char *prog)
{
	return prog && strcmp(prog, "none");
}

/* ------------------------------------------------------------------ BTF */

static struct btf *vmlinux_btf;
static struct btf *mod_btf;
static int mod_btf_fd = -1;
static bool mod_btf_tried;

static struct btf *get_vmlinux_btf(void)
{
	if (!vmlinux_btf)
		vmlinux_btf = btf__load_vmlinux_btf();
	return libbpf_get_error(vmlinux_btf) ? NULL : vmlinux_btf;
}

/* fd of the kernel BTF object named `name` (a module), or -1. */
static int kernel_btf_fd(const char *name)
{
	__u32 id = 0;

	while (!bpf_btf_get_next_id(id, &id)) {
		struct bpf_btf_info info = {};
		__u32 len = sizeof(info);
		char buf[64] = "";
		int fd = bpf_btf_get_fd_by_id(id);

		if (fd < 0)
			continue;
		info.name = (__u64)(unsigned long)buf;
		info.name_len = sizeof(buf);
		if (!bpf_btf_get_info_by_fd(fd, &info, &len) && info.kernel_btf &&
		    !strcmp(buf, name))
			return fd;
		close(fd);
	}
	return -1;
}

/* BTF holding `module`'s symbols, and the fd to pass as attach_btf_obj_fd. */
static struct btf *site_btf(const struct wb_sel *sel, const char *module, int *obj_fd)
{
	*obj_fd = 0;
	if (!strcmp(module, "vmlinux") || sel->f2fs_builtin)
		return get_vmlinux_btf();
	if (!mod_btf_tried) {
		mod_btf_tried = true;
		if (get_vmlinux_btf()) {
			mod_btf = btf__load_module_btf(module, vmlinux_btf);
			if (libbpf_get_error(mod_btf))
				mod_btf = NULL;
		}
		mod_btf_fd = kernel_btf_fd(module);
	}
	*obj_fd = mod_btf_fd;
	return (mod_btf && mod_btf_fd >= 0) ? mod_btf : NULL;
}

void wb_release_btf(void)
{
	btf__free(mod_btf);
	btf__free(vmlinux_btf);
	mod_btf = vmlinux_btf = NULL;
	if (mod_btf_fd >= 0)
		close(mod_btf_fd);
	mod_btf_fd = -1;
	mod_btf_tried = false;
}

/* ---------------------------------------------------------------- tests */

static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/*
 * Load the 2-instruction test program as `type` and open it as a raw
 * tracepoint: on `tp`, or (NULL) where its BTF attach target says.  0 or -errno.
 */
static int try_load_attach(enum bpf_prog_type type, struct bpf_prog_load_opts *o,
			   const char *tp)
{
	int pfd, lfd, err;

	pfd = bpf_prog_load(type, "wb_test", "GPL", ret0, 2, o);
	if (pfd < 0)
		return -errno;
	lfd = bpf_raw_tracepoint_open(tp, pfd);
	err = lfd < 0 ? -errno : 0;
	if (lfd >= 0)
		close(lfd);
	close(pfd);
	return err;
}

/* fentry/fexit/tp_btf: load against BTF id and attach. 0 or -errno. */
static int try_tracing(const struct wb_sel *sel, const char *module, const char *name,
		       __u32 kind, enum bpf_attach_type type)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	struct btf *btf;
	int obj_fd, id;

	btf = site_btf(sel, module, &obj_fd);
	if (!btf)
		return -ENODATA;
	id = btf__find_by_name_kind(btf, name, kind);
	if (id <= 0)
		return -ENOENT;
	o.expected_attach_type = type;
	o.attach_btf_id = id;
	o.attach_btf_obj_fd = obj_fd > 0 ? obj_fd : 0;
	return try_load_attach(BPF_PROG_TYPE_TRACING, &o, NULL);
}

static int try_raw_tp(const char *tp)
{
	return try_load_attach(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL, tp);
}

/* Create (and drop) a kprobe/kretprobe perf event on `func`. 0 or -errno. */
static int try_kprobe(const char *func, bool ret)
{
	static int type = -2, retbit = -1;
	struct perf_event_attr attr = {};
	char buf[64];
	int fd;

	if (type == -2) {
		type = wb_read_file("/sys/bus/event_source/devices/kprobe/type", buf,
				    sizeof(buf)) > 0 ? atoi(buf) : -1;
		if (wb_read_file("/sys/bus/event_source/devices/kprobe/format/retprobe", buf,
				 sizeof(buf)) > 0 && !strncmp(buf, "config:", 7))
			retbit = atoi(buf + 7);
	}
	if (type < 0 || (ret && retbit < 0))
		return -EOPNOTSUPP;
	attr.size = sizeof(attr);
	attr.type = type;
	attr.config = ret ? (1ULL << retbit) : 0;
	attr.config1 = (__u64)(unsigned long)func;	/* kprobe_func */
	attr.config2 = 0;				/* probe_offset */
	fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Is `sym` in /proc/kallsyms (any module)?  For notes only. */
static bool in_kallsyms(const char *sym)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], name[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %255s", name) == 1 && !strcmp(name, sym))
			found = true;
	fclose(f);
	return found;
}

static void note_add(struct wb_site *s, const char *fmt, const char *what, int err)
{
	size_t n = strlen(s->note);

	snprintf(s->note + n, sizeof(s->note) - n, "%s%s: ", n ? "; " : "", what);
	n = strlen(s->note);
	snprintf(s->note + n, sizeof(s->note) - n, fmt, err == -ENOENT ? "not found"
		 : err == -ENODATA ? "no BTF" : strerror(-err), err);
}

static void test_site(struct wb_sel *sel, int i)
{
	const struct wb_site_def *d = &wb_site_defs[i];
	struct wb_site *s = &sel->site[i];
	bool seen = false;
	int err;

	s->mode = WB_M_NONE;
	memcpy(s->note, s->rejected, sizeof(s->rejected));
	seen = s->failed_modes != 0;
	if (d->kind == WB_KIND_FUNC) {
		if (!sel->disabled[WB_M_FENTRY] && !(s->failed_modes & (1u << WB_M_FENTRY))) {
			err = 0;
			if (used(d->entry))
				err = try_tracing(sel, d->btf_module, d->target, BTF_KIND_FUNC,
						  BPF_TRACE_FENTRY);
			if (!err && used(d->exit))
				err = try_tracing(sel, d->btf_module, d->target, BTF_KIND_FUNC,
						  BPF_TRACE_FEXIT);
			if (!err) {
				s->mode = WB_M_FENTRY;
				goto ok;
			}
			seen |= err != -ENOENT;
			note_add(s, err == -ENOENT ? "%s in BTF (inlined?)" : "%s (%d)", "fentry", err);
		}
		if (!sel->disabled[WB_M_KPROBE] && !(s->failed_modes & (1u << WB_M_KPROBE))) {
			err = 0;
			if (used(d->entry))
				err = try_kprobe(d->target, false);
			if (!err && used(d->exit))
				err = try_kprobe(d->target, true);
			if (!err) {
				s->mode = WB_M_KPROBE;
				goto ok;
			}
			seen |= err != -ENOENT && err != -EINVAL;
			note_add(s, "%s (%d)", "kprobe", err);
		}
		if (!seen)
			seen = in_kallsyms(d->target);
	} else {
		char tp[160];

		snprintf(tp, sizeof(tp), "btf_trace_%s", d->target);
		if (!sel->disabled[WB_M_TP_BTF] && !(s->failed_modes & (1u << WB_M_TP_BTF))) {
			err = try_tracing(sel, d->btf_module, tp, BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP);
			if (!err) {
				s->mode = WB_M_TP_BTF;
				goto ok;
			}
			seen |= err != -ENOENT;
			note_add(s, "%s (%d)", "tp_btf", err);
		}
		if (!sel->disabled[WB_M_RAW_TP] && !(s->failed_modes & (1u << WB_M_RAW_TP))) {
			err = try_raw_tp(d->target);
			if (!err) {
				s->mode = WB_M_RAW_TP;
				goto ok;
			}
			seen |= err != -ENOENT;
			note_add(s, "%s (%d)", "raw_tp", err);
		}
	}
	if (!s->note[0]) {
		snprintf(s->note, sizeof(s->note), "every mode disabled by options");
		seen = true;
	}
	s->status = seen ? WB_SS_FAILED : WB_SS_ABSENT;
	return;
ok:
	s->status = WB_SS_SELECTED;
}

/* For one probe: first rank with a selectable site wins; later ranks are skipped. */
static void select_probe(struct wb_sel *sel, int p)
{
	int rank, maxrank = 0, i;
	bool any = false;

	if (sel->skipped & (1ULL << p)) {
		for (i = 0; i < WB_S_NR; i++)
			if (wb_site_defs[i].probe == p) {
				sel->site[i].status = WB_SS_SKIPPED;
				sel->site[i].mode = WB_M_NONE;
				snprintf(sel->site[i].note, sizeof(sel->site[i].note), "--skip-probe");
			}
		return;
	}
	for (i = 0; i < WB_S_NR; i++)
		if (wb_site_defs[i].probe == p && wb_site_defs[i].rank > maxrank)
			maxrank = wb_site_defs[i].rank;
	for (rank = 0; rank <= maxrank; rank++) {
		for (i = 0; i < WB_S_NR; i++) {
			const struct wb_site_def *d = &wb_site_defs[i];

			if (d->probe != p || d->rank != rank)
				continue;
			if (any) {
				if (sel->site[i].status != WB_SS_ATTACHED) {
					sel->site[i].status = WB_SS_SKIPPED;
					sel->site[i].mode = WB_M_NONE;
				}
				continue;
			}
			if (sel->site[i].status != WB_SS_ATTACHED)
				test_site(sel, i);
		}
		for (i = 0; i < WB_S_NR; i++)
			if (wb_site_defs[i].probe == p && wb_site_defs[i].rank == rank &&
			    (sel->site[i].status == WB_SS_SELECTED ||
			     sel->site[i].status == WB_SS_ATTACHED))
				any = true;
	}
	if (sel->verbose)
		for (i = 0; i < WB_S_NR; i++)
			if (wb_site_defs[i].probe == p)
				fprintf(stderr, "probe %-10s site %-28s %-8s %s %s\n",
					wb_probe_defs[p].name, wb_site_defs[i].target,
					wb_sstat_name(sel->site[i].status),
					wb_pmode_name(sel->site[i].mode), sel->site[i].note);
}

void wb_select(struct wb_sel *sel)
{
	for (int p = 0; p < WB_P_NR; p++)
		select_probe(sel, p);
}

void wb_reselect_site(struct wb_sel *sel, int site, const char *why)
{
	struct wb_site *s = &sel->site[site];
	size_t n = strlen(s->rejected);

	if (why)
		snprintf(s->rejected + n, sizeof(s->rejected) - n, "%s%s: %s", n ? "; " : "",
			 wb_pmode_name(s->mode), why);
	s->failed_modes |= 1u << s->mode;
	s->status = WB_SS_UNTRIED;
	s->mode = WB_M_NONE;
	/* re-run the whole probe so a lower rank can take over if needed */
	for (int i = 0; i < WB_S_NR; i++)
		if (wb_site_defs[i].probe == wb_site_defs[site].probe && i != site &&
		    sel->site[i].status == WB_SS_SKIPPED)
			sel->site[i].status = WB_SS_UNTRIED;
	select_probe(sel, wb_site_defs[site].probe);
}

/* ------------------------------------------------------- object set-up */

static const char *const suffix[WB_M_NR][2] = {
	[WB_M_FENTRY] = { "fentry", "fexit" },
	[WB_M_KPROBE] = { "kprobe", "kretprobe" },
	[WB_M_TP_BTF] = { "tp_btf", NULL },
	[WB_M_RAW_TP] = { "raw_tp", NULL },
};

/* The program of site d's entry (end 0) or exit (end 1) in mode m, or NULL if it has none. */
static struct bpf_program *prog_for(struct bpf_object *obj, const struct wb_site_def *d,
				    enum wb_pmode m, int end)
{
	const char *base = end ? d->exit : d->entry;
	char name[128];

	if (!used(base) || !suffix[m][end])
		return NULL;
	snprintf(name, sizeof(name), "%s_%s", base, suffix[m][end]);
	return bpf_object__find_program_by_name(obj, name);
}

/* Each site the selection kept (status WB_SS_SELECTED), with its definition d. */
#define for_each_selected_site(sel, i, s, d)					\
	for ((i) = 0; (i) < WB_S_NR; (i)++)					\
		if ((s) = &(sel)->site[i], (d) = &wb_site_defs[i],		\
		    (s)->status != WB_SS_SELECTED) {				\
		} else

int wb_site_of_prog(const char *prog_name, enum wb_pmode *mode)
{
	for (int i = 0; i < WB_S_NR; i++)
		for (int m = WB_M_FENTRY; m < WB_M_NR; m++)
			for (int w = 0; w < 2; w++) {
				const char *base = w ? wb_site_defs[i].exit : wb_site_defs[i].entry;
				char name[128];

				if (!used(base) || !suffix[m][w])
					continue;
				snprintf(name, sizeof(name), "%s_%s", base, suffix[m][w]);
				if (!strcmp(name, prog_name)) {
					if (mode)
						*mode = m;
					return i;
				}
			}
	return -1;
}

int wb_configure(struct wb_sel *sel, struct bpf_object *obj)
{
	const struct wb_site_def *d;
	struct bpf_program *prog;
	struct wb_site *s;
	int i, w, err;

	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, false);
	for_each_selected_site(sel, i, s, d) {
		for (w = 0; w < 2; w++) {
			prog = prog_for(obj, d, s->mode, w);
			if (!prog)
				continue;
			bpf_program__set_autoload(prog, true);
			if (s->mode == WB_M_FENTRY || s->mode == WB_M_TP_BTF) {
				err = bpf_program__set_attach_target(prog, 0, d->target);
				if (err) {
					fprintf(stderr, "wbtrace-trace: cannot target %s at %s: %s\n",
						bpf_program__name(prog), d->target, strerror(-err));
					return err;
				}
			}
		}
	}
	return 0;
}

int wb_attach(struct wb_sel *sel, struct bpf_object *obj)
{
	const struct wb_site_def *d;
	struct wb_site *s;
	int i, w, failed = 0;

	for_each_selected_site(sel, i, s, d) {
		for (w = 0; w < 2; w++) {
			struct bpf_program *prog = prog_for(obj, d, s->mode, w);
			struct bpf_link *l;

			if (!prog)
				continue;
			if (s->mode == WB_M_KPROBE)
				l = bpf_program__attach_kprobe(prog, w == 1, d->target);
			else if (s->mode == WB_M_RAW_TP)
				l = bpf_program__attach_raw_tracepoint(prog, d->target);
			else
				l = bpf_program__attach(prog);
			if (!l) {
				size_t n = strlen(s->rejected);

				snprintf(s->rejected + n, sizeof(s->rejected) - n, "%s%s: attach %s",
					 n ? "; " : "", wb_pmode_name(s->mode), strerror(errno));
				failed++;
				break;
			}
			s->links[w] = l;
		}
		if (s->links[0] || s->links[1]) {
			bool complete = (!prog_for(obj, d, s->mode, 0) || s->links[0]) &&
					(!prog_for(obj, d, s->mode, 1) || s->links[1]);
			if (!complete) {
				bpf_link__destroy(s->links[0]);
				bpf_link__destroy(s->links[1]);
				s->links[0] = s->links[1] = NULL;
				s->status = WB_SS_FAILED;
				continue;
			}
			s->status = WB_SS_ATTACHED;
		} else {
			s->status = WB_SS_FAILED;
		}
	}
	return failed;
}

void wb_detach(struct wb_sel *sel)
{
	for (int i = 0; i < WB_S_NR; i++)
		for (int w = 0; w < 2; w++) {
			bpf_link__destroy(sel->site[i].links[w]);
			sel->site[i].links[w] = NULL;
		}
}

static void miss_note(struct wb_misses *m, const char *what, uint64_t n)
{
	size_t len = strlen(m->where);

	if (len < sizeof(m->where) - 1)
		snprintf(m->where + len, sizeof(m->where) - len, "%s%s %llu",
			 len ? ", " : "", what, (unsigned long long)n);
}

/*
 * struct bpf_link_info for a perf-event kprobe link as of Linux 6.7, which
 * added .missed; the uapi header we build against predates it.  Only the
 * part read here; the kernel fills what it has and leaves the rest zero.
 */
struct wb_kprobe_link_info {
	__u32 type, id, prog_id, pad;
	__u32 pe_type, pe_pad;
	__u64 func_name;
	__u32 name_len, offset;
	__u64 addr, missed, cookie;
};

void wb_kprobe_misses(const struct wb_sel *sel, bool readable, struct wb_misses *m)
{
	for (int i = 0; i < WB_S_NR; i++) {
		if (sel->site[i].status != WB_SS_ATTACHED || sel->site[i].mode != WB_M_KPROBE)
			continue;
		for (int w = 0; w < 2; w++) {
			struct wb_kprobe_link_info info = {};
			__u32 len = sizeof(info);
			struct bpf_link *l = sel->site[i].links[w];

			if (!l)
				continue;
			m->kprobe_links++;
			if (!readable || bpf_link_get_info_by_fd(bpf_link__fd(l), (void *)&info, &len) ||
			    info.type != BPF_LINK_TYPE_PERF_EVENT) {
				m->kprobe_unread++;
				continue;
			}
			m->kprobe += info.missed;
			if (info.missed)
				miss_note(m, wb_site_defs[i].target, info.missed);
		}
	}
}

void wb_prog_misses(struct bpf_object *obj, struct wb_misses *m)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_prog_get_info_by_fd(fd, &info, &len))
			continue;
		m->prog += info.recursion_misses;
		if (info.recursion_misses)
			miss_note(m, bpf_program__name(prog), info.recursion_misses);
	}
}

enum wb_pmode wb_probe_mode(const struct wb_sel *sel, int probe, int *site_out)
{
	for (int i = 0; i < WB_S_NR; i++)
		if (wb_site_defs[i].probe == probe && sel->site[i].status == WB_SS_ATTACHED) {
			if (site_out)
				*site_out = i;
			return sel->site[i].mode;
		}
	if (site_out)
		*site_out = -1;
	return WB_M_NONE;
}

static bool site_on(const struct wb_sel *sel, int i)
{
	return sel->site[i].status == WB_SS_SELECTED || sel->site[i].status == WB_SS_ATTACHED;
}

unsigned wb_sel_signals(const struct wb_sel *sel)
{
	unsigned sig = 0;

	/* the marks are counted in f2fs_write_data_pages frames */
	if (site_on(sel, WB_S_PASS_MARK_TP) && site_on(sel, WB_S_WP_OUTER))
		sig |= WB_SIG_MARK;
	/* writeback_iter's arguments are only seen by fexit */
	if (site_on(sel, WB_S_HANDOUT_ITER) && sel->site[WB_S_HANDOUT_ITER].mode == WB_M_FENTRY)
		sig |= WB_SIG_ITER;
	if (site_on(sel, WB_S_LOOP_END_TAG) && site_on(sel, WB_S_LOOP_END_REL))
		sig |= WB_SIG_LOOPEND;
	/* bio end causes: a page's submit told from a flush needs both ends of the call */
	if (site_on(sel, WB_S_PAGE_WRITE_FN) && site_on(sel, WB_S_PAGE_JOIN_TP))
		sig |= WB_SIG_PAGE;
	if (site_on(sel, WB_S_BIO_PREPARE))
		sig |= WB_SIG_PREP;
	if (site_on(sel, WB_S_WP_OUTER))
		sig |= WB_SIG_PASS;
	if (site_on(sel, WB_S_FSYNC_ENTER) && site_on(sel, WB_S_FSYNC_EXIT))
		sig |= WB_SIG_FSYNC;
	if (site_on(sel, WB_S_HANDOUT_ITER))
		sig |= WB_SIG_HANDOUT;
	return sig;
}

bool wb_probe_ok(const struct wb_sel *sel, int probe)
{
	return wb_probe_mode(sel, probe, NULL) != WB_M_NONE;
}
