#!/usr/bin/env bash
# Build the lab: one Linux 7.3.4 kernel (bzImage + BTF) and two f2fs.ko built
# against it from the same source tree: "stock" (pristine fs/f2fs) and
# "patched" (kernel-patch/series applied).  The patched f2fs is also compiled
# against a CONFIG_F2FS_FS_COMPRESSION=n configuration.  On request only
# (--variant canary), a third: "canary", stock plus the test-only patches in
# tests/canary/ (a known extra cost the regression gate must catch).
#
# Products are cached outside the clone ($WBTRACE_CACHE, default
# $XDG_CACHE_HOME/wbtrace), keyed by a hash of their inputs: the kernel by
# source version + fragment, each module by kernel + variant + patches, so
# changing only a patch rebuilds only fs/f2fs.
set -euo pipefail
# shellcheck disable=SC2034 # read by common.sh
WB_TAG=lab-build
. "$(dirname "$0")/common.sh"

usage() {
	cat <<EOF
Usage: ./wbtrace lab build [--debug] [--variant stock|patched|canary|all] [--print-paths]

Builds (or finds in the cache) the lab kernel and the f2fs modules.
  --debug          the opt-in verification kernel (lockdep, atomic-sleep, KASAN)
  --variant V      build only this f2fs variant (default: all = stock and patched;
                   canary = stock + tests/canary/*.patch, test-only, built only when named)
  --print-paths    print KEY=path lines for the products and exit (builds nothing)
  -j N             parallel jobs (default: nproc)
Cache: $WB_CACHE  (override with WBTRACE_CACHE)
EOF
}

flavor="" variants="stock patched" print_paths=0 jobs=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) flavor=debug ;;
	--variant) variants=${2:?--variant needs a value}; shift
		[ "$variants" = all ] && variants="stock patched"
		case "$variants" in stock|patched|canary|"stock patched") ;; *) wb_die 2 "unknown variant '$variants' (stock, patched, canary, all)";; esac ;;
	--print-paths) print_paths=1 ;;
	-j) jobs=${2:?-j needs a number}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; wb_die 2 "unknown option '$1'" ;;
	esac
	shift
done

kdir=$(wb_kernel_dir "$flavor")
mod_dir() { echo "$WB_CACHE/f2fs-$(wb_module_key "$kdir" "$1")-$1"; }

if [ "$print_paths" = 1 ]; then
	echo "KERNEL_DIR=$kdir"
	echo "KERNEL_MODULES=$kdir/modroot/lib/modules"
	echo "BZIMAGE=$kdir/bzImage"
	for v in stock patched canary; do echo "MODULE_${v^^}=$(mod_dir "$v")/f2fs.ko"; done
	exit 0
fi

for tool in make gcc bc flex bison pahole xz perl; do
	command -v "$tool" >/dev/null || wb_die 3 "'$tool' not found: run 'sudo ./wbtrace setup' first"
done
[ -r "$WB_KSRC_TARBALL" ] || wb_die 3 "kernel source $WB_KSRC_TARBALL missing: run 'sudo ./wbtrace setup' first"

mkdir -p "$WB_CACHE"

# One lock per product, so a module build does not wait for another kernel.
# lock_product DIR: hold DIR.lock on fd 9 until unlock_product.
lock_product() {
	exec 9>"$1.lock"
	flock -n 9 || { wb_log "waiting for another build of $(basename "$1")"; flock 9; }
}
unlock_product() { exec 9>&-; }

t_all=$(date +%s)

# Run a make, logging to $1, printing a progress line every 30 s.
run_make() {
	local log=$1 what=$2; shift 2
	local t0 rc=0 pid
	t0=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	local next=$((t0 + 30))
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if (( $(date +%s) >= next )); then
			wb_log "$what: $(grep -cE '^\s+(CC|LD|AS|BTF)' "$log" || true) steps, $(wb_elapsed "$t0") elapsed"
			next=$((next + 30))
		fi
	done
	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		grep -E 'error|Error' "$log" | head -20 >&2 || true
		wb_die 4 "$what failed (exit $rc); full log: $log"
	fi
	wb_log "$what: done in $(wb_elapsed "$t0")"
}

# 1. Pristine source tree, extracted once.
src=$WB_CACHE/src-$WB_KVER
lock_product "$src"
if [ ! -e "$src/.extracted" ]; then
	wb_log "extracting $WB_KSRC_TARBALL (once)"
	rm -rf "$src" "$src.tmp"; mkdir -p "$src.tmp"
	tar -xf "$WB_KSRC_TARBALL" -C "$src.tmp" --strip-components=1
	grep -q "^SUBLEVEL = ${WB_KVER##*.}$" "$src.tmp/Makefile" || wb_die 4 "$WB_KSRC_TARBALL is not Linux $WB_KVER"
	touch "$src.tmp/.extracted"; mv "$src.tmp" "$src"
fi
unlock_product

# Configure O=$1 from allnoconfig + fragments, and fail on any option that did
# not stick.  With CONFIG_CHECK=last only the last fragment is checked (it may
# switch off what the earlier ones depend on).
configure() {
	local out=$1; shift
	mkdir -p "$out"
	make -s -C "$src" O="$out" allnoconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$@" >/dev/null
	make -s -C "$src" O="$out" olddefconfig >/dev/null
	local frag line key want got bad=0 checked=("$@")
	[ "${CONFIG_CHECK:-all}" = last ] && checked=("${@: -1}")
	for frag in "${checked[@]}"; do
		while IFS= read -r line; do
			case "$line" in ''|'#'*) continue;; esac
			key=${line%%=*} want=${line#*=}
			got=$(grep -E "^$key=" "$out/.config" | cut -d= -f2- || true)
			if [ "$want" = n ]; then [ -z "$got" ] && continue; fi
			[ "$got" = "$want" ] || { wb_log "config: $key=$want requested, got ${got:-unset} ($(basename "$frag"))"; bad=1; }
		done <"$frag"
	done
	[ "$bad" = 0 ] || wb_die 4 "kernel config fragment did not apply cleanly (see above)"
}

# 2. The kernel.
frags=("$WB_LAB/lab.config")
[ "$flavor" = debug ] && frags+=("$WB_LAB/debug.config")
lock_product "$kdir"
if [ ! -e "$kdir/.done" ]; then
	wb_log "building kernel ${flavor:-lab} -> $kdir (cold: ~16 min on 2 cores)"
	rm -rf "$kdir"; mkdir -p "$kdir"
	configure "$kdir/build" "${frags[@]}"
	run_make "$kdir/build.log" "kernel" make -C "$src" O="$kdir/build" -j"$jobs" bzImage modules
	cp "$kdir/build/arch/x86/boot/bzImage" "$kdir/bzImage"
	# The kernel's own modules (scsi_debug), for modprobe in the guest (guest-init.sh)
	run_make "$kdir/modules-install.log" "kernel modules install" make -C "$src" O="$kdir/build" \
		INSTALL_MOD_PATH="$kdir/modroot" INSTALL_MOD_STRIP=1 DEPMOD=/sbin/depmod modules_install
	# --no-print-directory: under a parent make (`make test`) MAKEFLAGS carries -w,
	# and "Entering directory" lines would end up in the release string
	make -s --no-print-directory -C "$src" O="$kdir/build" kernelrelease >"$kdir/release"
	touch "$kdir/.done"
else
	wb_log "kernel ${flavor:-lab}: cached ($kdir)"
fi
unlock_product

# Copy fs/f2fs into $1/fs/f2fs and apply the series when $2 = patched.
prepare_f2fs_tree() {
	local dst=$1 variant=$2 p n=0
	rm -rf "$dst"; mkdir -p "$dst/fs"
	cp -a "$src/fs/f2fs" "$dst/fs/f2fs"
	if [ "$variant" = canary ]; then
		for p in $(wb_canary_patches); do
			patch -d "$dst" -p1 --quiet --no-backup-if-mismatch <"$p" ||
				wb_die 4 "${p#"$WB_TOP"/} does not apply to Linux $WB_KVER fs/f2fs"
			n=$((n + 1))
		done
		[ "$n" -gt 0 ] || wb_die 4 "the canary variant needs tests/canary/*.patch, found none"
		wb_log "canary: applied $n test-only patch(es) from tests/canary/"
		return 0
	fi
	[ "$variant" = patched ] || return 0
	for p in $(wb_series); do
		[ -r "$WB_TOP/kernel-patch/$p" ] || wb_die 4 "kernel-patch/series names $p, which does not exist"
		local outside
		outside=$(grep -E '^\+\+\+ b/' "$WB_TOP/kernel-patch/$p" | sed 's|^+++ b/||' | grep -v '^fs/f2fs/' || true)
		[ -z "$outside" ] || wb_die 4 "$p touches files outside fs/f2fs ($outside): the lab rebuilds only the f2fs module"
		patch -d "$dst" -p1 --quiet --no-backup-if-mismatch <"$WB_TOP/kernel-patch/$p" ||
			wb_die 4 "kernel-patch/$p does not apply to Linux $WB_KVER fs/f2fs"
		n=$((n + 1))
	done
	wb_log "patched: applied $n patch(es) from kernel-patch/series"
}

# 3. The f2fs modules, W=1, warnings kept for comparison.
for variant in $variants; do
	mdir=$(mod_dir "$variant")
	lock_product "$mdir"
	if [ -e "$mdir/.done" ]; then
		wb_log "f2fs $variant: cached ($mdir)"
		unlock_product
		continue
	fi
	wb_log "building f2fs $variant -> $mdir"
	rm -rf "$mdir"; mkdir -p "$mdir"
	prepare_f2fs_tree "$mdir/tree" "$variant"
	run_make "$mdir/build.log" "f2fs $variant" \
		make -C "$src" O="$kdir/build" M="$mdir/tree/fs/f2fs" W=1 -j"$jobs" modules
	grep -E 'warning:' "$mdir/build.log" | sed -E 's|^.*/fs/f2fs/||; s|:[0-9]+:[0-9]+:|:|' | sort -u >"$mdir/warnings.txt" || true
	cp "$mdir/tree/fs/f2fs/f2fs.ko" "$mdir/f2fs.ko"
	deps=$(/sbin/modinfo -F depends "$mdir/f2fs.ko")
	[ -z "$deps" ] || wb_die 4 "f2fs.ko depends on modules ($deps): build them into the kernel in lab.config"
	readelf -S "$mdir/f2fs.ko" | grep -c '\.BTF' >/dev/null || wb_die 4 "f2fs.ko has no .BTF section (CONFIG_DEBUG_INFO_BTF_MODULES, pahole)"
	wb_series >"$mdir/series"
	touch "$mdir/.done"
	unlock_product
done

# 4. The patched f2fs must also build with alt.config: the other side of every
# option f2fs tests, compression off among them (only for the default flavor).
if [ -z "$flavor" ] && [[ " $variants " == *" patched "* ]]; then
	altdir=$WB_CACHE/alt-$({ wb_module_key "$kdir" patched; cat "$WB_LAB/alt.config"; } | wb_hash)
	alttree=$(wb_alt_tree "$kdir")
	lock_product "$altdir"
	# The tree outlives this module build (check-series.sh uses it) and is pruned
	# on its own, so it is remade whenever it is missing.
	if [ ! -e "$alttree/.done" ]; then
		wb_log "preparing the alt.config build tree (compression, xattr, fscrypt, verity, quota, swap, unicode, zoned devices off)"
		rm -rf "$alttree"
		CONFIG_CHECK=last configure "$alttree" "${frags[@]}" "$WB_LAB/alt.config"
		run_make "$alttree/prepare.log" "alt.config tree" make -C "$src" O="$alttree" -j"$jobs" modules_prepare
		touch "$alttree/.done"
	fi
	if [ ! -e "$altdir/.done" ]; then
		rm -rf "$altdir"; mkdir -p "$altdir"
		prepare_f2fs_tree "$altdir/tree" patched
		run_make "$altdir/build.log" "f2fs patched, alt.config" \
			make -C "$src" O="$alttree" M="$altdir/tree/fs/f2fs" W=1 KBUILD_MODPOST_WARN=1 -j"$jobs" modules
		touch "$altdir/.done"
	fi
	unlock_product
	# Every time, not only when the tree is made: both trees are cached, and a
	# build that compiles the same side twice would pass without saying so.
	"$WB_LAB/config-sides.sh" "$kdir/build/.config" "$alttree/.config" "$WB_LAB/alt.config" ||
		wb_die 4 "lab.config and alt.config do not take opposite sides of every option alt.config names (see above)"
fi

# Each patch change leaves a module build behind: keep the newest few.
for pattern in 'f2fs-*-stock' 'f2fs-*-patched' 'f2fs-*-canary' 'alt-*'; do
	wb_keep_newest 4 "$WB_CACHE" "$pattern"
done
wb_keep_newest 2 "$WB_CACHE" 'kcfg-alt-*'

wb_log "lab ready in $(wb_elapsed "$t_all"): $kdir/bzImage ($(tail -n 1 "$kdir/release"))"
