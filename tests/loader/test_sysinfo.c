// SPDX-License-Identifier: GPL-2.0
#include "wbt_test.h"
#include "sysinfo.h"

void test_sysinfo(void)
{
	int a = 0, b = 0;
	char hex[64];
	/* namesz 4, descsz 4, type 3, "GNU\0", de ad be ef */
	const unsigned char note[] = { 4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 'G', 'N', 'U', 0,
				       0xde, 0xad, 0xbe, 0xef };
	/* another note first (type 1, name "Linux", desc 4 bytes), then the build id */
	const unsigned char two[] = { 6, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 'L', 'i', 'n', 'u', 'x', 0,
				      0, 0, 1, 2, 3, 4,
				      4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 'G', 'N', 'U', 0, 0xab,
				      0xcd, 0, 0 };

	CHECK(!wb_parse_release("7.3.4", &a, &b) && a == 7 && b == 3);
	CHECK(!wb_parse_release("5.15.0-91-generic", &a, &b) && a == 5 && b == 15);
	CHECK(wb_parse_release("linux", &a, &b));
	CHECK(wb_parse_release(NULL, &a, &b));

	CHECK(!wb_parse_build_id_note(note, sizeof(note), hex, sizeof(hex)));
	CHECK_STR(hex, "deadbeef");
	CHECK(!wb_parse_build_id_note(two, sizeof(two), hex, sizeof(hex)));
	CHECK_STR(hex, "abcd");
	CHECK(wb_parse_build_id_note(note, 10, hex, sizeof(hex)));	/* truncated */
	CHECK(wb_parse_build_id_note(note, sizeof(note), hex, 4));	/* no room */
}

/* Environment diagnosis against a fake /sys tree: one exit code per case. */
#include <stdlib.h>
#include <unistd.h>
#include "util.h"

static void touch(const char *root, const char *path)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s%s')\" && : > '%s%s'", root, path, root, path);
	if (system(cmd))
		fprintf(stderr, "cannot create %s%s\n", root, path);
}

void test_preflight(void)
{
	char root[] = "/tmp/wbt-sys.XXXXXX", cmd[256];
	struct wb_sysinfo si;
	int saved = dup(2);
	FILE *devnull = fopen("/dev/null", "w");

	if (!mkdtemp(root)) {
		CHECK(0);
		return;
	}
	fflush(stderr);
	dup2(fileno(devnull), 2);	/* the one-line diagnoses go to stderr */
	CHECK_EQ_U(wb_preflight_at(&si, root, "7.3.4", false), WB_EXIT_PRIV);
	CHECK_EQ_U(wb_preflight_at(&si, root, "5.4.0-200-generic", true), WB_EXIT_OLD_KERNEL);
	CHECK_EQ_U(wb_preflight_at(&si, root, "7.3.4", true), WB_EXIT_NO_BTF);
	touch(root, "/sys/kernel/btf/vmlinux");
	CHECK_EQ_U(wb_preflight_at(&si, root, "7.3.4", true), WB_EXIT_NO_F2FS);	/* not loaded */
	touch(root, "/sys/module/f2fs/initstate");
	CHECK_EQ_U(wb_preflight_at(&si, root, "7.3.4", true), WB_EXIT_NO_F2FS);	/* no module BTF */
	touch(root, "/sys/kernel/btf/f2fs");
	CHECK_EQ_U(wb_preflight_at(&si, root, "7.3.4", true), 0);
	CHECK(!si.f2fs_builtin);
	CHECK_STR(si.release, "7.3.4");
	snprintf(cmd, sizeof(cmd), "rm -f %s/sys/module/f2fs/initstate %s/sys/kernel/btf/f2fs", root, root);
	CHECK(system(cmd) == 0);
	CHECK_EQ_U(wb_preflight_at(&si, root, "7.3.4", true), 0);	/* built-in f2fs: vmlinux BTF */
	CHECK(si.f2fs_builtin);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(devnull);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}
