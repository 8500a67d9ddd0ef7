#!/usr/bin/env bash
# Check that the kernel-patch series bisects: for every prefix of
# kernel-patch/series (patch 1, patches 1-2, ...), build fs/f2fs as an
# external module against the lab kernel with W=1, once with the lab config
# and once with alt.config on top (the other side of every option f2fs
# tests: compression, xattr, fscrypt, verity, quota, swap, unicode and
# zoned devices off), compare the warnings with those of the stock f2fs,
# and run
# scripts/checkpatch.pl --strict on the patch that the prefix adds.
#
# One line per patch on stdout.  Exit status: 0 all patches pass, 1 at least
# one fails, 2 usage error, 3 cannot judge (lab kernel not built yet).
#
# Results (pass or fail) are cached in $WB_CACHE/series-check, keyed by the
# kernel builds, the compiler, the patches of the prefix and this script, so a
# rerun is instant; --no-cache redoes the work.
set -euo pipefail
# shellcheck disable=SC2034 # read by common.sh
WB_TAG=check-series
. "$(dirname "$0")/common.sh"

usage() {
	cat <<EOF
Usage: kernel-patch/lab/check-series.sh [-j N] [--no-cache] [--keep-going]

For each prefix of kernel-patch/series: W=1 build of fs/f2fs with the lab config
and with kernel-patch/lab/alt.config on top (the other side of every option f2fs
tests), new warnings against stock, checkpatch --strict
(checkpatch-verdict.sh: clean, but for CamelCase on f2fs's Opt_* option names).
  -j N          parallel make jobs (default: 2; builds run under nice -n 10)
  --no-cache    ignore cached results (they are rewritten)
  --keep-going  check later patches after a failure (default: stop)
Needs the lab kernel: ./wbtrace lab build
Cache: $WB_CACHE/series-check
EOF
}

jobs=2 use_cache=1 keep_going=0
while [ $# -gt 0 ]; do
	case "$1" in
	-j) jobs=${2:?-j needs a number}; shift ;;
	--no-cache) use_cache=0 ;;
	--keep-going) keep_going=1 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; wb_die 2 "unknown option '$1'" ;;
	esac
	shift
done

src=$WB_CACHE/src-$WB_KVER
kdir=$(wb_kernel_dir "")
lab_o=$kdir/build
alt_o=$(wb_alt_tree "$kdir")
[ -e "$src/.extracted" ] || wb_die 3 "no kernel source at $src: run ./wbtrace lab build first"
[ -e "$kdir/.done" ] || wb_die 3 "lab kernel $kdir is not built (yet): run ./wbtrace lab build first"
[ -e "$alt_o/.done" ] || wb_die 3 "no alt.config build tree $alt_o: run ./wbtrace lab build first"
grep -q '^CONFIG_F2FS_FS_COMPRESSION=y' "$lab_o/.config" || wb_die 3 "$lab_o/.config: compression is not enabled"
if grep -q '^CONFIG_F2FS_FS_COMPRESSION=y' "$alt_o/.config"; then
	wb_die 3 "$alt_o/.config: compression is enabled"
fi

mapfile -t patches < <(wb_series)
if [ "${#patches[@]}" = 0 ]; then
	echo "check-series: kernel-patch/series lists no patches"
	exit 0
fi
for p in "${patches[@]}"; do
	[ -r "$WB_TOP/kernel-patch/$p" ] || wb_die 1 "kernel-patch/series names $p, which does not exist"
done

cdir=$WB_CACHE/series-check
mkdir -p "$cdir"
exec 8>"$cdir/.lock"
flock -n 8 || { wb_log "another check holds $cdir/.lock; waiting"; flock 8; }

verdict=$WB_TOP/kernel-patch/lab/checkpatch-verdict.sh
self_hash=$(cat "$0" "$verdict" | wb_hash)
kernel_id="$(basename "$kdir") $(basename "$alt_o") $(gcc -dumpfullversion)"

# Build fs/f2fs of tree $1 for config $2 (lab|alt); log to $3.
# Prints the normalised warnings (path inside fs/f2fs, no line/column
# numbers), one per line, sorted but not deduplicated.
build_f2fs() {
	local tree=$1 cfg=$2 log=$3 o extra=()
	if [ "$cfg" = lab ]; then o=$lab_o; else o=$alt_o; extra=(KBUILD_MODPOST_WARN=1); fi
	if ! nice -n 10 make -C "$src" O="$o" M="$tree/fs/f2fs" W=1 -j"$jobs" "${extra[@]}" modules \
		>"$log" 2>&1 || [ ! -e "$tree/fs/f2fs/f2fs.ko" ]; then
		return 1
	fi
	{ grep -E 'warning:' "$log" || true; } |
		sed -E 's|^.*/fs/f2fs/|fs/f2fs/|; s|^([^ :]+):[0-9]+(:[0-9]+)?:|\1:|' | LC_ALL=C sort
}

# A fresh copy of the pristine fs/f2fs in $1 with the first $2 patches applied.
prepare_tree() {
	local dst=$1 n=$2 i p outside
	rm -rf "$dst"; mkdir -p "$dst/fs"
	cp -a "$src/fs/f2fs" "$dst/fs/f2fs"
	for ((i = 0; i < n; i++)); do
		p=${patches[$i]}
		outside=$(grep -E '^\+\+\+ b/' "$WB_TOP/kernel-patch/$p" | sed 's|^+++ b/||' | grep -v '^fs/f2fs/' || true)
		[ -z "$outside" ] || { echo "touches files outside fs/f2fs: $outside"; return 1; }
		patch -d "$dst" -p1 --quiet --no-backup-if-mismatch <"$WB_TOP/kernel-patch/$p" ||
			{ echo "does not apply on top of the previous patches"; return 1; }
	done
}

# Stock warnings, once per kernel build.
base_key=$(printf '%s\n' "$kernel_id" "$self_hash" stock | wb_hash)
base=$cdir/stock-$base_key
if [ ! -e "$base/.done" ]; then
	wb_log "building stock f2fs (W=1, lab and alt.config) for the baseline"
	rm -rf "$base"; mkdir -p "$base"
	for cfg in lab alt; do
		prepare_tree "$base/tree" 0
		build_f2fs "$base/tree" "$cfg" "$base/build-$cfg.log" >"$base/warnings-$cfg.txt" ||
			wb_die 1 "stock f2fs does not build ($cfg); log: $base/build-$cfg.log"
	done
	rm -rf "$base/tree"
	touch "$base/.done"
fi

fail=0 acc=""
for ((k = 1; k <= ${#patches[@]}; k++)); do
	p=${patches[$((k - 1))]}
	acc+="$(basename "$p") $(wb_hash <"$WB_TOP/kernel-patch/$p")"$'\n'
	key=$(printf '%s\n' "$kernel_id" "$self_hash" "$acc" | wb_hash)
	res=$cdir/prefix-$key
	if [ "$use_cache" = 1 ] && [ -e "$res/.done" ]; then
		line=$(cat "$res/result")
		echo "$line [cached]"
	else
		rm -rf "$res"; mkdir -p "$res"
		wb_log "checking $p (patches 1-$k): two W=1 builds and checkpatch"
		status=PASS notes=()
		for cfg in lab alt; do
			if ! why=$(prepare_tree "$res/tree" "$k"); then
				status=FAIL notes+=("$why"); break
			fi
			if ! build_f2fs "$res/tree" "$cfg" "$res/build-$cfg.log" >"$res/warnings-$cfg.txt"; then
				status=FAIL notes+=("$cfg build failed (log: $res/build-$cfg.log)")
				continue
			fi
			LC_ALL=C comm -13 "$base/warnings-$cfg.txt" "$res/warnings-$cfg.txt" >"$res/new-warnings-$cfg.txt"
			n=$(wc -l <"$res/new-warnings-$cfg.txt")
			if [ "$n" != 0 ]; then
				status=FAIL notes+=("$cfg: $n new W=1 warning(s): $res/new-warnings-$cfg.txt")
			else
				notes+=("$cfg ok")
			fi
		done
		rm -rf "$res/tree"
		(cd "$src" && perl scripts/checkpatch.pl --strict "$WB_TOP/kernel-patch/$p") >"$res/checkpatch.txt" 2>&1 || true
		if why=$("$verdict" "$res/checkpatch.txt"); then
			notes+=("$why")
		else
			status=FAIL notes+=("$why")
		fi
		line="check-series: $status $p: $(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g')"
		echo "$line" >"$res/result"
		echo "$line"
		# Failures are cached too: the key covers everything the result
		# depends on.  --no-cache redoes them.
		touch "$res/.done"
	fi
	case "$line" in
	*" FAIL "*)
		fail=1
		if [ "$keep_going" = 0 ] && [ "$k" -lt "${#patches[@]}" ]; then
			echo "check-series: stopped after the first failure (--keep-going checks the rest)"
			break
		fi ;;
	esac
done
exit "$fail"
