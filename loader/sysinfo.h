/* SPDX-License-Identifier: GPL-2.0 */
/* Environment checks (root, BTF, f2fs) and facts for the summary. */
#ifndef WB_SYSINFO_H
#define WB_SYSINFO_H

#include <stdbool.h>
#include <stdint.h>

struct wb_sysinfo {
	char release[128];
	char build_id[128];		/* f2fs.ko GNU build-id, hex, "" if unknown */
	char srcversion[64];
	bool f2fs_builtin;
	int kmajor, kminor;
};

/*
 * One-line diagnosis of the environment.  Returns 0, or an exit code after
 * printing exactly one line to stderr.
 */
int wb_preflight(struct wb_sysinfo *si);
/* The same against a fake root (tests): `root` prefixes every /sys path. */
int wb_preflight_at(struct wb_sysinfo *si, const char *root, const char *release, bool privileged);
/* Kernel release "5.15.0-foo" -> major/minor; -1 on parse error. */
int wb_parse_release(const char *rel, int *major, int *minor);
/* Parse a GNU build-id ELF note blob into hex; 0 on success. */
int wb_parse_build_id_note(const unsigned char *buf, size_t len, char *hex, size_t hexsz);
/* --dev argument -> kernel s_dev encoding.  0 on success, else one line printed. */
int wb_resolve_dev(const char *arg, uint32_t *dev);
/* cgroup v2 directory -> cgroup id.  0 on success. */
int wb_cgroup_id(const char *path, uint64_t *id);

#endif /* WB_SYSINFO_H */
