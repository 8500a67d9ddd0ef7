/* SPDX-License-Identifier: GPL-2.0 */
/* wbtrace loader: exit codes, small helpers shared by the loader and its tests. */
#ifndef WB_UTIL_H
#define WB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes: X(name, value, meaning).  Printed by --help, kept stable for scripts. */
#define WB_EXIT_CODES(X)							\
	X(OK,		0,  "success")							\
	X(INTERNAL,	1,  "unexpected internal error")					\
	X(USAGE,	2,  "bad command line")							\
	X(PRIV,		3,  "not root (needs CAP_SYS_ADMIN; CAP_BPF + CAP_PERFMON are not enough)")			\
	X(NO_BTF,	4,  "kernel has no BTF (/sys/kernel/btf/vmlinux)")			\
	X(NO_F2FS,	5,  "f2fs not loaded or its module BTF (/sys/kernel/btf/f2fs) missing")	\
	X(PROBE,	6,  "a required probe has no traceable site (symbol absent/inlined/notrace)") \
	X(OLD_KERNEL,	7,  "kernel too old or missing a BPF feature (ring buffer, BTF tracing)")	\
	X(LOAD,		8,  "BPF object failed to load (verifier) with every fallback")		\
	X(DROPS,	9,  "run invalid: ring-buffer drops above --max-drop-pct")		\
	X(CMD,		10, "the traced command could not start or exited non-zero")		\
	X(OUTPUT,	11, "cannot write an output file")					\
	X(LOST,		12, "run invalid: events lost (BPF recursion or kprobe misses, exits without entries)")

enum wb_exit {
#define WB_X(name, val, what) WB_EXIT_##name = val,
	WB_EXIT_CODES(WB_X)
#undef WB_X
};

const char *wb_exit_name(int code);

/* Growable array of u64 samples (exact percentiles from the stream). */
struct wb_vec {
	uint64_t *v;
	size_t n, cap;
};
int wb_vec_push(struct wb_vec *vec, uint64_t x);
void wb_vec_free(struct wb_vec *vec);

/* Parse helpers: return 0 on success, -1 on error (value untouched). */
int wb_parse_u64(const char *s, uint64_t *out);
int wb_parse_double(const char *s, double *out);
/* "10", "1.5", "10s", "500ms", "2m" -> nanoseconds */
int wb_parse_duration_ns(const char *s, uint64_t *out);
/* "8", "8M", "8MiB", "512K" -> bytes (plain number = MiB) */
int wb_parse_size_mib(const char *s, uint64_t *out);
/* "MAJ:MIN" -> kernel s_dev encoding (MAJ << 20 | MIN) */
int wb_parse_majmin(const char *s, uint32_t *out);
bool wb_is_pow2(uint64_t x);

/* Read a small text file into buf (NUL-terminated, trailing newline cut). */
int wb_read_file(const char *path, char *buf, size_t size);

#endif /* WB_UTIL_H */
