/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-site probe selection: fentry/fexit -> kprobe/kretprobe -> tracepoint,
 * each mode proven by a real load + attach of a trivial program before the
 * real object is loaded.  The sites come from probes.def.
 */
#ifndef WB_PROBE_H
#define WB_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include "wbtrace.h"

struct bpf_object;
struct bpf_link;
struct btf;

enum wb_kind { WB_KIND_FUNC, WB_KIND_TP };
enum wb_pmode { WB_M_NONE = 0, WB_M_FENTRY, WB_M_KPROBE, WB_M_TP_BTF, WB_M_RAW_TP, WB_M_NR };
enum wb_sstat {
	WB_SS_UNTRIED = 0,
	WB_SS_SELECTED,		/* a mode passed its test; not yet attached */
	WB_SS_ATTACHED,
	WB_SS_ABSENT,		/* the symbol / tracepoint does not exist */
	WB_SS_FAILED,		/* exists, but no mode could attach */
	WB_SS_SKIPPED,		/* a better-ranked site of the same probe is used */
};

struct wb_site_def {
	int id, probe, rank;
	enum wb_kind kind;
	const char *target, *btf_module, *entry, *exit;
	const char *name;	/* site id as text, e.g. "LOOP_PAGES" */
};

struct wb_probe_def {
	int id;
	const char *name;
	bool required;
	const char *what;
};

extern const struct wb_site_def wb_site_defs[WB_S_NR];
extern const struct wb_probe_def wb_probe_defs[WB_P_NR];

struct wb_site {
	enum wb_pmode mode;
	enum wb_sstat status;
	unsigned failed_modes;		/* bit per wb_pmode that failed (test, load or attach) */
	char note[384];
	char rejected[128];		/* modes whose real program failed (kept across re-tests) */
	struct bpf_link *links[2];
};

struct wb_sel {
	struct wb_site site[WB_S_NR];
	bool disabled[WB_M_NR];		/* --no-fentry etc. */
	uint64_t skipped;		/* --skip-probe: bit per probe id, never attached */
	bool f2fs_builtin;		/* f2fs types live in vmlinux BTF */
	bool verbose;
};

const char *wb_pmode_name(enum wb_pmode m);		/* "fentry", "kprobe", "tp_btf", "raw_tp" */
const char *wb_pmode_schema(enum wb_pmode m, bool exit_only);	/* analysis/schema.py PROBE_MODES */
const char *wb_sstat_name(enum wb_sstat s);

/* Test every site (in rank order per probe) and pick a mode for each. */
void wb_select(struct wb_sel *sel);
/* Re-test one site after its current mode failed later (load or attach). */
void wb_reselect_site(struct wb_sel *sel, int site, const char *why);
/* Enable/target the programs of the selected modes in an opened object. */
int wb_configure(struct wb_sel *sel, struct bpf_object *obj);
/* Site id whose program `prog_name` belongs to (-1 if none). */
int wb_site_of_prog(const char *prog_name, enum wb_pmode *mode);
/* Attach the selected programs; failures mark the site (and are re-selectable). */
int wb_attach(struct wb_sel *sel, struct bpf_object *obj);
void wb_detach(struct wb_sel *sel);

/* Probe status: the mode of its (first) attached site, or WB_M_NONE. */
enum wb_pmode wb_probe_mode(const struct wb_sel *sel, int probe, int *site_out);
bool wb_probe_ok(const struct wb_sel *sel, int probe);

/*
 * WB_SIG_* (bpf/wbtrace.h) for the selected or attached sites: which exact
 * end-of-pass signals the BPF side can rely on (rodata targ_sig).
 */
unsigned wb_sel_signals(const struct wb_sel *sel);

/*
 * Events the kernel lost before our programs saw them: BPF programs not run
 * because one was already running on that CPU (bpf_prog_info
 * .recursion_misses, every program of the object), and kprobes/kretprobes
 * not fired (perf link info .missed, Linux 6.7+; kretprobe maxactive).
 */
struct wb_misses {
	uint64_t prog;			/* recursion misses, all programs */
	uint64_t kprobe;		/* kprobe/kretprobe misses, readable links */
	int kprobe_links, kprobe_unread;	/* links in kprobe mode / not readable */
	char where[192];		/* "prog_name N, ..." of the first that missed */
};

/* Read the kprobe links' misses: before wb_detach() (the links go with it). */
void wb_kprobe_misses(const struct wb_sel *sel, bool readable, struct wb_misses *m);
/* Read every loaded program's recursion misses (after detaching, before destroy). */
void wb_prog_misses(struct bpf_object *obj, struct wb_misses *m);

void wb_release_btf(void);

#endif /* WB_PROBE_H */
