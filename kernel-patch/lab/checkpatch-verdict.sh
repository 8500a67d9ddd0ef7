#!/usr/bin/env bash
# Judge the output of scripts/checkpatch.pl --strict on one patch (file $1).
#
# Clean means 0 errors, 0 warnings and 0 checks, with one exception: the
# "Avoid CamelCase" CHECK on an identifier of the form Opt_lower_case.  Every
# f2fs mount option is an enum value Opt_* in fs/f2fs/super.c (Opt_gc_background,
# Opt_compress_chksum, ...); a patch that adds an option cannot follow both that
# convention and checkpatch's CamelCase rule, and f2fs keeps the convention.
#
# Prints one note for check-series' line.  Exit status: 0 clean, 1 not clean.
set -euo pipefail
out=${1:?usage: checkpatch-verdict.sh CHECKPATCH_OUTPUT}

total=$(grep -E '^total: ' "$out" | tail -1 || true)
if [[ ! "$total" =~ ^total:\ 0\ errors,\ 0\ warnings,\ (([0-9]+)\ checks,\ )?[0-9]+\ lines ]]; then
	echo "checkpatch --strict: ${total:-no summary} ($out)"
	exit 1
fi
checks=${BASH_REMATCH[2]:-0}
if [ "$checks" = 0 ]; then
	echo "checkpatch --strict clean"
	exit 0
fi
mapfile -t lines < <(grep -E '^CHECK: ' "$out" || true)
allowed=()
for l in "${lines[@]}"; do
	if [[ "$l" =~ ^CHECK:\ Avoid\ CamelCase:\ \<(Opt_[a-z0-9_]+)\>$ ]]; then
		allowed+=("${BASH_REMATCH[1]}")
	else
		echo "checkpatch --strict: $total ($out)"
		exit 1
	fi
done
if [ "${#allowed[@]}" != "$checks" ]; then
	echo "checkpatch --strict: $total, but ${#allowed[@]} CHECK line(s) found ($out)"
	exit 1
fi
echo "checkpatch --strict clean but for CamelCase on f2fs's mount option name(s) ${allowed[*]}"
