// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include "sysinfo.h"
#include "util.h"

#define ERR(...) fprintf(stderr, "wbtrace-trace: " __VA_ARGS__)

int wb_parse_release(const char *rel, int *major, int *minor)
{
	int a, b;

	if (!rel || sscanf(rel, "%d.%d", &a, &b) != 2 || a < 0 || b < 0)
		return -1;
	*major = a;
	*minor = b;
	return 0;
}

int wb_parse_build_id_note(const unsigned char *buf, size_t len, char *hex, size_t hexsz)
{
	size_t off = 0;

	/* a sequence of notes: namesz, descsz, type, name (4-aligned), desc (4-aligned) */
	while (off + 12 <= len) {
		uint32_t namesz, descsz, type;

		memcpy(&namesz, buf + off, 4);
		memcpy(&descsz, buf + off + 4, 4);
		memcpy(&type, buf + off + 8, 4);
		off += 12;
		size_t nalign = (namesz + 3) & ~3u, dalign = (descsz + 3) & ~3u;

		if (off + nalign + dalign > len)
			return -1;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 && !memcmp(buf + off, "GNU", 4)) {
			const unsigned char *d = buf + off + nalign;

			if (descsz == 0 || hexsz < descsz * 2 + 1)
				return -1;
			for (uint32_t i = 0; i < descsz; i++)
				sprintf(hex + 2 * i, "%02x", d[i]);
			return 0;
		}
		off += nalign + dalign;
	}
	return -1;
}

static bool has_caps(void)
{
	char line[256];
	FILE *f;
	unsigned long long eff = 0;

	if (geteuid() == 0)
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	/*
	 * CAP_SYS_ADMIN (21): CAP_BPF + CAP_PERFMON load and attach programs,
	 * but listing BTF objects (to find f2fs's module BTF) needs
	 * CAP_SYS_ADMIN; without it every f2fs site would drop to kprobes.
	 */
	return eff & (1ULL << 21);
}

static bool exists_at(const char *root, const char *path, int mode)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, path);
	return access(p, mode) == 0;
}

int wb_preflight_at(struct wb_sysinfo *si, const char *root, const char *release, bool privileged)
{
	char p[512];
	unsigned char note[512];
	int fd;
	ssize_t n;

	memset(si, 0, sizeof(*si));
	snprintf(si->release, sizeof(si->release), "%s", release ? release : "");
	if (!privileged) {
		ERR("needs root (CAP_SYS_ADMIN: finding f2fs's module BTF needs it; "
		    "CAP_BPF + CAP_PERFMON are not enough): run it with sudo\n");
		return WB_EXIT_PRIV;
	}
	if (wb_parse_release(si->release, &si->kmajor, &si->kminor) == 0 &&
	    (si->kmajor < 5 || (si->kmajor == 5 && si->kminor < 8))) {
		ERR("kernel %s is too old: the BPF ring buffer needs Linux 5.8 or later\n",
		    si->release);
		return WB_EXIT_OLD_KERNEL;
	}
	if (!exists_at(root, "/sys/kernel/btf/vmlinux", R_OK)) {
		ERR("kernel BTF missing (/sys/kernel/btf/vmlinux): needs CONFIG_DEBUG_INFO_BTF=y\n");
		return WB_EXIT_NO_BTF;
	}
	if (!exists_at(root, "/sys/module/f2fs", F_OK) && !exists_at(root, "/sys/fs/f2fs", F_OK)) {
		ERR("f2fs is not loaded: 'modprobe f2fs' (or mount an f2fs) first\n");
		return WB_EXIT_NO_F2FS;
	}
	/* A module has /sys/module/f2fs/initstate (built-in code has none). */
	si->f2fs_builtin = !exists_at(root, "/sys/module/f2fs/initstate", F_OK);
	if (!si->f2fs_builtin && !exists_at(root, "/sys/kernel/btf/f2fs", R_OK)) {
		ERR("f2fs module BTF missing (/sys/kernel/btf/f2fs): needs CONFIG_DEBUG_INFO_BTF_MODULES=y and pahole\n");
		return WB_EXIT_NO_F2FS;
	}
	snprintf(p, sizeof(p), "%s/sys/module/f2fs/notes/.note.gnu.build-id", root);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, note, sizeof(note));
		close(fd);
		if (n > 0)
			wb_parse_build_id_note(note, (size_t)n, si->build_id, sizeof(si->build_id));
	}
	snprintf(p, sizeof(p), "%s/sys/module/f2fs/srcversion", root);
	wb_read_file(p, si->srcversion, sizeof(si->srcversion));
	return 0;
}

int wb_preflight(struct wb_sysinfo *si)
{
	struct utsname u;

	if (uname(&u))
		u.release[0] = 0;
	return wb_preflight_at(si, "", u.release, has_caps());
}

int wb_resolve_dev(const char *arg, uint32_t *dev)
{
	struct stat st;

	if (!wb_parse_majmin(arg, dev))
		return 0;
	if (stat(arg, &st)) {
		ERR("--dev %s: %s (want MAJ:MIN, a block device or a mount point)\n", arg,
		    strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode))
		*dev = (major(st.st_rdev) << 20) | minor(st.st_rdev);
	else
		*dev = (major(st.st_dev) << 20) | minor(st.st_dev);
	return 0;
}

int wb_cgroup_id(const char *path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t cgid;
	} h;
	int mount_id;

	h.fh.handle_bytes = sizeof(h.cgid);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0)) {
		ERR("--cgroup %s: %s (want a cgroup v2 directory)\n", path, strerror(errno));
		return -1;
	}
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}
