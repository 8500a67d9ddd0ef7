# Shared by the lab scripts: where things live.  Sourced, not run.
# shellcheck shell=bash

WB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WB_LAB=$WB_TOP/kernel-patch/lab
WB_CACHE=${WBTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wbtrace}
WB_KSRC_TARBALL=${WBTRACE_KSRC_TARBALL:-/usr/src/linux-source-7.3.tar.xz}
# shellcheck disable=SC2034 # used by the scripts that source this file
WB_KVER=7.3.4

wb_log() { printf '[%s] %s\n' "${WB_TAG:-wbtrace}" "$*" >&2; }
wb_die() { local rc=$1; shift; printf '%s: error: %s\n' "${WB_TAG:-wbtrace}" "$*" >&2; exit "$rc"; }

# wb_keep_newest KEEP DIR PATTERN: remove all but the KEEP newest entries DIR/PATTERN.
# No match is not an error: `ls GLOB` exits 2 on an unmatched glob, and under
# `set -e -o pipefail` that once ended a successful `vm run` with exit 2.
wb_keep_newest() {
	local keep=$1 dir=$2 pattern=$3 old
	local -a found=()
	mapfile -t found < <(find "$dir" -mindepth 1 -maxdepth 1 -name "$pattern" ! -name '*.lock' -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | cut -d' ' -f2-)
	for old in "${found[@]:keep}"; do rm -rf -- "$old" "$old.lock"; done
}

# wb_splats CONSOLE_LOG: its lines that fail a run, by the one list of them,
# splat.ere (workloads/runner/verification.py reads it too); none is no error.
wb_splats() { grep -E -f "$WB_LAB/splat.ere" "$1" 2>/dev/null | grep -v 'guest-init:' || true; }

# wb_death_cause CONSOLE_LOG: one line that says why a guest died without
# reporting: the panic, the first splat before it (an oops in an interrupt
# panics as "Fatal exception in interrupt") and where the kernel was (its first
# kernel-mode RIP).  Any part may be missing (sysrq-c panics without an oops,
# so without a RIP): a grep that finds nothing must not end the caller under
# `set -e -o pipefail`, which once turned the report into a bare exit 1.
wb_death_cause() {
	local log=$1 splats cause first rip
	splats=$(wb_splats "$log")
	cause=$(grep -m1 -E 'Kernel panic' <<<"$splats" | _wb_unstamp || true)
	first=$(head -n 1 <<<"$splats" | _wb_unstamp)
	rip=$(grep -m1 -E 'RIP: 0010:' "$log" 2>/dev/null | _wb_unstamp || true)
	[ "$first" = "$cause" ] && first=""
	printf '%s%s%s\n' "${cause:-no panic line in the kernel log}" "${first:+; first: $first}" "${rip:+; $rip}"
}
_wb_unstamp() { sed -E 's/^\[ *[0-9.]+\] //' | cut -c1-160; }

wb_elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# The kernel is keyed by what it is built from; modules add their own inputs.
wb_hash() { sha256sum | cut -c1-16; }
wb_kernel_key() { # $1 = "" or "debug"
	{
		echo "linux-source $(dpkg-query -W -f='${Version}' linux-source-7.3 2>/dev/null || stat -c %s "$WB_KSRC_TARBALL")"
		echo "gcc $(gcc -dumpfullversion) pahole $(pahole --version 2>/dev/null)"
		cat "$WB_LAB/lab.config"
		[ "$1" = debug ] && cat "$WB_LAB/debug.config"
		cat "$WB_LAB/build-kernel.inputs"
	} | wb_hash
}
wb_kernel_dir() { echo "$WB_CACHE/kernel-$(wb_kernel_key "$1")${1:+-$1}"; }
# The modules_prepare'd tree of lab.config + alt.config for kernel dir $1: the
# other side of every option f2fs tests (build.sh step 4, check-series.sh).
wb_alt_tree() { echo "$WB_CACHE/kcfg-alt-$({ basename "$1"; cat "$WB_LAB/alt.config"; } | wb_hash)"; }

# The patch series, as listed in kernel-patch/series (comments and blanks ignored).
wb_series() { grep -vE '^\s*(#|$)' "$WB_TOP/kernel-patch/series" 2>/dev/null || true; }
# The series as applied: its list and every patch in order (what --version shows).
wb_series_hash() {
	{
		cat "$WB_TOP/kernel-patch/series"
		local p
		for p in $(wb_series); do cat "$WB_TOP/kernel-patch/$p"; done
	} | sha256sum | cut -c1-12
}
# The test-only canary: stock f2fs plus tests/canary/*.patch (issue 14, item 7),
# never part of the series.
wb_canary_patches() { find "$WB_TOP/tests/canary" -maxdepth 1 -name '*.patch' 2>/dev/null | sort; }
# wb_patch_code FILE: a git format-patch file without its header and commit
# message (from the "---" line on: diffstat and diff), the whole file if it
# has no such line.  A reworded commit message builds the same module.
wb_patch_code() {
	if grep -qx -- '---' "$1"; then sed -n '/^---$/,$p' "$1"; else cat "$1"; fi
}
wb_module_key() { # $1 kernel key dir, $2 variant
	{
		basename "$1"; echo "$2"; cat "$WB_LAB/build-module.inputs"
		local p
		if [ "$2" = patched ]; then
			for p in $(wb_series); do wb_patch_code "$WB_TOP/kernel-patch/$p"; done
		elif [ "$2" = canary ]; then
			for p in $(wb_canary_patches); do basename "$p"; cat "$p"; done
		fi
	} | wb_hash
}
