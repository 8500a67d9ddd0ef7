// SPDX-License-Identifier: GPL-2.0
/* Runs every loader unit test; the last line is "N passed, M failed". */
#include "wbt_test.h"

int wbt_passed, wbt_failed;

int main(void)
{
	struct { const char *name; void (*fn)(void); } suites[] = {
		{ "hist", test_hist }, { "json", test_json }, { "args", test_args },
		{ "util", test_util }, { "sysinfo", test_sysinfo }, { "output", test_output },
		{ "probes", test_probes_table }, { "preflight", test_preflight },
		{ "passes", test_passes }, { "bio_ends", test_bio_ends },
	};

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		int f0 = wbt_failed, p0 = wbt_passed;

		suites[i].fn();
		printf("suite %-8s %s (%d checks)\n", suites[i].name, wbt_failed == f0 ? "ok" : "FAILED",
		       wbt_passed - p0 + wbt_failed - f0);
	}
	printf("%d passed, %d failed\n", wbt_passed, wbt_failed);
	return wbt_failed ? 1 : 0;
}
