// SPDX-License-Identifier: GPL-2.0
/* The site table (loader/probes.def) and the BPF object must agree. */
#include <bpf/libbpf.h>
#include "wbt_test.h"
#include "probe.h"

static int quiet(enum libbpf_print_level l, const char *f, va_list a) { return 0; }

void test_probes_table(void)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int nprogs = 0, expected = 0;

	for (int p = 0; p < WB_P_NR; p++) {
		bool has_site = false;

		for (int i = 0; i < WB_S_NR; i++)
			if (wb_site_defs[i].probe == p)
				has_site = true;
		CHECK(has_site);
		CHECK(wb_probe_defs[p].name && wb_probe_defs[p].name[0]);
	}
	for (int i = 0; i < WB_S_NR; i++) {
		const struct wb_site_def *d = &wb_site_defs[i];

		CHECK(d->id == i);
		CHECK(d->probe >= 0 && d->probe < WB_P_NR);
		CHECK(d->target && d->target[0]);
		CHECK(!strcmp(d->btf_module, "f2fs") || !strcmp(d->btf_module, "vmlinux"));
		CHECK(strcmp(d->entry, "none") || strcmp(d->exit, "none"));
		if (d->kind == WB_KIND_TP)
			CHECK(!strcmp(d->exit, "none"));	/* tracepoints have no exit */
	}

	libbpf_set_print(quiet);
	obj = bpf_object__open_file(WBT_BPF_OBJ, NULL);
	CHECK(obj != NULL);
	if (!obj)
		return;
	/* every program of every mode of every site exists ... */
	for (int i = 0; i < WB_S_NR; i++)
		for (int m = WB_M_FENTRY; m < WB_M_NR; m++) {
			const struct wb_site_def *d = &wb_site_defs[i];
			static const char *const sfx[WB_M_NR][2] = {
				[WB_M_FENTRY] = { "fentry", "fexit" },
				[WB_M_KPROBE] = { "kprobe", "kretprobe" },
				[WB_M_TP_BTF] = { "tp_btf", NULL },
				[WB_M_RAW_TP] = { "raw_tp", NULL },
			};
			bool func = m == WB_M_FENTRY || m == WB_M_KPROBE;

			if (func != (d->kind == WB_KIND_FUNC))
				continue;
			for (int w = 0; w < 2; w++) {
				const char *base = w ? d->exit : d->entry;
				char name[128];

				if (!strcmp(base, "none") || !sfx[m][w])
					continue;
				snprintf(name, sizeof(name), "%s_%s", base, sfx[m][w]);
				expected++;
				if (!bpf_object__find_program_by_name(obj, name)) {
					fprintf(stderr, "missing BPF program %s\n", name);
					CHECK(0);
				} else {
					CHECK(wb_site_of_prog(name, NULL) == i);
				}
			}
		}
	/* ... and the object has no program the table does not name */
	bpf_object__for_each_program(prog, obj)
		nprogs++;
	CHECK_EQ_U(nprogs, expected);
	bpf_object__close(obj);
	CHECK(wb_site_of_prog("no_such_prog", NULL) == -1);
}
