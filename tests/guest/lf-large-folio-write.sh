#!/bin/bash
# run-inside: timeout 1500
# Large folios on f2fs's write side (issue 16, step 3): with the largefolio
# mount option, a regular file that is not inline, compressed, encrypted,
# verity, pinned, atomic or a quota file gets large folios for writes
# (f2fs_set_inode_mapping_order()).  The same workload runs with the switch
# off and on:
#  - a sequential 8 MiB buffered write, and random operations mirrored in
#    memory (lf_large_folio_write.py: buffered writes of partial blocks,
#    overwrites and appends, truncate, punch hole, zero range, shared-mmap
#    stores, fsync, O_DIRECT after buffered writes, move range within the
#    file, defragment), compared at once;
#  - foreground GC (F2FS_IOC_GARBAGE_COLLECT_RANGE) of the files' segments
#    while they are cached with some blocks dirty, then sync, drop_caches,
#    umount + mount, compare again; fsck.f2fs must be clean;
#  - fsx (buffered and mmap I/O, truncate, punch, zero, collapse and insert
#    range, with and without flushing and dropping the cache after each
#    operation), and fio with verify;
#  - with the switch on, journalled user quota: quotaon of a quota file that
#    was written with large folios, and a user's writes charged to it;
#  - with the switch on, a store through mmap into a clean large folio that
#    holds EOF: page_mkwrite keeps the folio (mkwrite_eof_check);
#  - with the switch on, readahead racing with the return of a file to
#    order-0 folios (radrop_check), and MADV_COLLAPSE racing with it
#    (collapsedrop_check);
#  - with the switch on, a read error in one block of a large folio read with
#    several bios (readerr_check, through a device-mapper error target).
# With the switch on, filemap:mm_filemap_add_to_page_cache must show folios of
# order > 0 for the test files, and f2fs:f2fs_do_write_data_page blocks of
# folios with nr_pages > 1 (written back); with it off, neither may appear.
#
# The switch-on half needs an f2fs module with the option (the series adds it
# in its last patch).  LF_EXPECT_LARGEFOLIO=1, the default on the patched variant,
# makes a refused `mount -o largefolio` a failure; with 0, the default on stock
# and canary (no such option), a refusal is logged and the half is not run,
# and an accepted option fails on stock and canary (their f2fs cannot have it:
# another module is loaded) unless LF_MODULE loaded one on purpose.
# fsx comes from the lab's fstests build: LF_FSX=PATH (or FSX=PATH), else the
# first */tree/ltp/fsx in /root/.cache/wbtrace (the host's cache, which the
# guest sees).  The guest does not inherit the host's environment: put it in
# the guest command (env LF_FSX=... tests/guest/run-inside.sh ...).  No fsx is
# a failure: a check that silently does not run looks like one that passes.
# LF_FSX_OPS=N: operations of the first fsx run (default 2000: both runs take
# 55-65 s a pass under TCG on the lab kernel, 15-25 ms an fsx operation);
# the second, flushing and dropping the cache after each, runs N/7.
# LF_NOPS=N: random operations on each of the two files (default 300).
# The debug kernel (KASAN, lockdep) runs all of it 10-15 times slower under
# TCG (2000 fsx operations: 580 s): there the defaults are LF_FSX_OPS=300 and
# LF_NOPS=100 (every kind of operation is still drawn, with the default
# seeds).  The test's limit in run-inside is the 1500 s declared above: it
# took about 270 s on the lab kernel and 700 s on the debug kernel.
# LF_SEED=N shifts the seeds of the random operations (default 0).
# LF_HALVES=both|on: run the switch-off half too (default) or only the
# switch-on one (the suite's debug-kernel boot: the off half is order-0 code
# that the wb-* tests cover there, and the normal kernel runs it).
# LF_MODULE=path loads that module first (rmmod f2fs; insmod), and the boot's
# module again at the end.  Needs CONFIG_TRANSPARENT_HUGEPAGE.
here=$(dirname "$0")
# shellcheck source=tests/guest/lib.sh
. "$here/lib.sh"

PY=/usr/bin/python3
SEED=${LF_SEED:-0}
WL=$here/lf_large_folio_write.py
TR=/sys/kernel/tracing
INST=$TR/instances/lf-large-folio-write
work=$(mktemp -d /tmp/lf-large-folio-write.XXXXXX)
EVENTS=(filemap/mm_filemap_add_to_page_cache f2fs/f2fs_do_write_data_page)
# fsx: LF_FSX, or FSX, when set (even empty: a host that meant to pass one and
# could not), else the first one the host's fstests builds have
fsx_env=1
if [ -n "${LF_FSX+set}" ]; then
	FSX=$LF_FSX fsx_from="LF_FSX"
elif [ -n "${FSX+set}" ]; then
	fsx_from="FSX"
else
	FSX=$(find /root/.cache/wbtrace -maxdepth 4 -path '*/tree/ltp/fsx' -type f -print -quit 2>/dev/null || true)
	fsx_from="the fstests builds in /root/.cache/wbtrace (*/tree/ltp/fsx)" fsx_env=0
fi
DEBUG_KERNEL=0
if [ -r /proc/config.gz ] && zcat /proc/config.gz | grep -E '^CONFIG_(KASAN|PROVE_LOCKING)=y' >/dev/null; then
	DEBUG_KERNEL=1
fi
if [ "$DEBUG_KERNEL" = 1 ]; then
	FSX_OPS=${LF_FSX_OPS:-300} NOPS=${LF_NOPS:-100}
else
	FSX_OPS=${LF_FSX_OPS:-2000} NOPS=${LF_NOPS:-300}
fi
VARIANT=${WBTRACE_VARIANT:-}
# the variant's f2fs has the largefolio option: patched (the series' last patch); stock and
# canary (stock + a test-only loop) have none
case "$VARIANT" in
patched) EXPECT=${LF_EXPECT_LARGEFOLIO:-1} ;;
*) EXPECT=${LF_EXPECT_LARGEFOLIO:-0} ;;
esac
# counted when the module has it: foreground GC moving a block of a large folio
# shellcheck disable=SC2034 # read by probes_off (lib.sh)
GRP=lfwrite PROBES=(gcblk dropret)

# the device-mapper table of readerr_check
DMNAME=lf-readerr-$$
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	probes_off
	if [ -e "/dev/mapper/$DMNAME" ]; then
		mountpoint -q "$MNT" && umount "$MNT"
		DM_DISABLE_UDEV=1 dmsetup remove "$DMNAME" || echo "  cannot remove /dev/mapper/$DMNAME"
	fi
	if [ -n "${LF_MODULE:-}" ] && [ -n "${WBTRACE_MODULE:-}" ]; then
		mountpoint -q "$MNT" && umount "$MNT"
		if rmmod f2fs; then insmod "$WBTRACE_MODULE" || echo "  cannot reload $WBTRACE_MODULE"; fi
	fi
}
trap cleanup EXIT

[ -d /sys/kernel/mm/transparent_hugepage ] ||
	{ fail "this kernel has no CONFIG_TRANSPARENT_HUGEPAGE: no large folio can exist"; finish; }
case "$EXPECT" in
0 | 1) ;;
*) fail "LF_EXPECT_LARGEFOLIO=$EXPECT: 0 or 1"; finish ;;
esac
HALVES=${LF_HALVES:-both}
case "$HALVES" in
both | on) ;;
*) fail "LF_HALVES=$HALVES: both or on"; finish ;;
esac
[ "$HALVES" = both ] || [ "$EXPECT" = 1 ] ||
	{ fail "LF_HALVES=on where the switch is not expected (LF_EXPECT_LARGEFOLIO=0): nothing would run"; finish; }
[[ "$FSX_OPS" =~ ^[1-9][0-9]*$ ]] || { fail "LF_FSX_OPS=$FSX_OPS: a number of operations, at least 1"; finish; }
[[ "$NOPS" =~ ^[1-9][0-9]*$ ]] || { fail "LF_NOPS=$NOPS: a number of operations, at least 1"; finish; }
[ "$DEBUG_KERNEL" = 0 ] || log "debug kernel: $NOPS random operations a file, $FSX_OPS fsx operations (LF_NOPS, LF_FSX_OPS)"

fsx_how="build it on the host with ./wbtrace fstests, or PYTHONPATH=workloads python3 -m fstests.build (prints the tree: \$WBTRACE_CACHE/fstests-KEY/tree), and pass LF_FSX=TREE/ltp/fsx in the guest command"
if [ -z "$FSX" ] && [ "$fsx_env" = 0 ]; then
	fail "no fsx: LF_FSX not set and none in $fsx_from; $fsx_how"
elif [ -z "$FSX" ]; then
	fail "no fsx: $fsx_from is set but empty (the host could not build fstests?); $fsx_how"
elif [ ! -f "$FSX" ] || [ ! -x "$FSX" ]; then
	fail "no fsx: $FSX (from $fsx_from) is not an executable file; $fsx_how"
	FSX=
else
	log "fsx: $FSX (from $fsx_from)"
fi

if [ -n "${LF_MODULE:-}" ]; then
	rmmod f2fs || { fail "rmmod f2fs"; finish; }
	insmod "$LF_MODULE" || { fail "insmod $LF_MODULE"; finish; }
	log "loaded $LF_MODULE"
fi

gcprobe=0
trace_on() {
	[ -d "$INST" ] || mkdir "$INST"
	echo 0 >"$INST/tracing_on"
	echo 16384 >"$INST/buffer_size_kb"
	: >"$INST/trace"
	for e in "${EVENTS[@]}"; do echo 1 >"$INST/events/$e/enable"; done
	if [ "$gcprobe" = 1 ] && [ -d "$INST/events/$GRP/gcblk" ]; then
		echo 1 >"$INST/events/$GRP/gcblk/enable"
	fi
	echo 1 >"$INST/tracing_on"
}
trace_off() { # $1: file to save the trace in
	echo 0 >"$INST/tracing_on"
	for e in "$INST"/events/*/*/enable; do echo 0 >"$e" 2>/dev/null || true; done
	cat "$INST/trace" >"$1"
}
run_fsx() { # $1 switch, $2 name, then fsx options
	local sw=$1 name=$2 t0=$SECONDS
	shift 2
	if "$FSX" -q -P "$work" "$@" "$MNT/$name" >"$work/$name-$sw.out" 2>&1; then
		log "[$sw] fsx $*: ok ($((SECONDS - t0)) s)"
	else
		fail "[$sw] fsx $* failed ($((SECONDS - t0)) s)"; tail -30 "$work/$name-$sw.out" | sed 's/^/    /'
	fi
}
# count_large TRACE INO_DEC: "added written" = folios of order > 0 added to
# the page cache of the inode, blocks of large folios written
count_large() {
	local hex added written
	hex=$(printf '%x' "$2")
	added=$(grep -cE "mm_filemap_add_to_page_cache:.* ino $hex pfn=.* order=[1-9]" "$1" || true)
	written=$(grep -cE "f2fs_do_write_data_page:.* ino = $2, .* nr_pages = ([2-9]|[1-9][0-9]+)," "$1" || true)
	echo "$added $written"
}

# folio_order_at TRACE INO_DEC BYTE: the order of the last folio of the inode
# that filemap:mm_filemap_add_to_page_cache shows added over BYTE, or "none"
folio_order_at() {
	awk -v ino="$(printf '%x' "$2")" -v byte="$3" '
		/mm_filemap_add_to_page_cache:/ && $0 ~ (" ino " ino " ") {
			ofs = $0; sub(/.* ofs=/, "", ofs); sub(/ .*/, "", ofs)
			order = $0; sub(/.* order=/, "", order)
			if (ofs + 0 <= byte && byte < ofs + 4096 * 2 ^ order) found = order
		}
		END { print (found == "" ? "none" : found) }' "$1"
}

# one_pass on|off OPTS
one_pass() {
	local sw=$1 opts=$2 f ino added written tadded=0 twritten=0 t0=$SECONDS t
	log "== largefolio $sw (mount -o $opts)"
	mkfs_mount "" "$opts"
	grep " $MNT " /proc/mounts | sed 's/^/  /'
	trace_on
	head -c $((8 << 20)) /dev/urandom >"$work/seq"
	dd if="$work/seq" of="$MNT/seq" bs=1M status=none
	cmp "$work/seq" "$MNT/seq" || fail "[$sw] seq: data read back from the cache differs"
	$PY "$WL" ops "$MNT/rand1" $((SEED + 1)) "$NOPS" "$work/rand1" || fail "[$sw] rand1: the workload failed"
	$PY "$WL" ops "$MNT/rand2" $((SEED + 2)) "$NOPS" "$work/rand2" || fail "[$sw] rand2: the workload failed"
	for f in rand1 rand2; do
		$PY "$WL" check "$MNT/$f" "$work/$f" || fail "[$sw] $f differs (page cache)"
	done
	$PY "$WL" selfmove "$MNT/selfmove" || fail "[$sw] selfmove: the data differs"
	# foreground GC (F2FS_IOC_GARBAGE_COLLECT_RANGE, sync) of the segments of
	# the files while they are cached and some of their blocks are dirty
	# (move_data_page on large folios), then compare
	$PY "$WL" gc "$MNT/rand1" "$work/rand1" $((SEED + 11)) || fail "[$sw] gc rand1 failed"
	$PY "$WL" gc "$MNT/rand2" "$work/rand2" $((SEED + 12)) || fail "[$sw] gc rand2 failed"
	for f in rand1 rand2; do
		$PY "$WL" check "$MNT/$f" "$work/$f" || fail "[$sw] $f differs after GC (page cache)"
	done
	log "[$sw] sequential write, random operations, selfmove, GC: $((SECONDS - t0)) s"
	sync
	trace_off "$work/trace-$sw"
	drop_caches
	cmp "$work/seq" "$MNT/seq" || fail "[$sw] seq differs after sync + drop_caches"
	for f in rand1 rand2; do
		$PY "$WL" check "$MNT/$f" "$work/$f" || fail "[$sw] $f differs after sync + drop_caches"
	done
	remount
	cmp "$work/seq" "$MNT/seq" || fail "[$sw] seq differs after remount"
	for f in rand1 rand2; do
		$PY "$WL" check "$MNT/$f" "$work/$f" || fail "[$sw] $f differs after remount"
	done
	if [ -n "$FSX" ]; then
		run_fsx "$sw" fsx1 -N "$FSX_OPS" -S 7 -l $((8 << 20)) -o $((1 << 20)) -c 500
		run_fsx "$sw" fsx2 -N $(((FSX_OPS + 6) / 7)) -S 8 -l $((8 << 20)) -o $((1 << 20)) -f
	else
		log "[$sw] fsx not run: no fsx (failed above)"
	fi
	for f in seq rand1 rand2; do
		ino=$(stat -c %i "$MNT/$f")
		read -r added written < <(count_large "$work/trace-$sw" "$ino")
		log "[$sw] $f (ino $ino): $added folio(s) of order > 0 added, $written block write(s) of large folios"
		tadded=$((tadded + added)) twritten=$((twritten + written))
	done
	# an atomic write to a cached file (with large folios when the switch is
	# on: f2fs drops them first), compared at once and after drop_caches
	cat "$MNT/seq" >/dev/null
	$PY "$WL" atomic "$MNT/seq" "$work/seq" $((SEED + 21)) || fail "[$sw] atomic write to seq failed"
	cmp "$work/seq" "$MNT/seq" || fail "[$sw] seq differs after the atomic write"
	drop_caches
	cmp "$work/seq" "$MNT/seq" || fail "[$sw] seq differs after the atomic write and drop_caches"
	if [ "$sw" = on ]; then
		[ "$tadded" -gt 0 ] || fail "[on] no large folio was created for the written files"
		[ "$twritten" -gt 0 ] || fail "[on] no block of a large folio was written back"
		[ "$gcprobe" = 1 ] && log "[on] foreground GC moved $(grep -c 'gcblk:' "$work/trace-$sw" || true) block(s) of large folios (f2fs_write_large_folio_block)"
		# a new (empty) file with large folios can still be pinned: f2fs
		# takes it back to order-0 folios (f2fs_drop_large_folios())
		: >"$MNT/pin"
		if f2fs_io pinfile set "$MNT/pin" >"$work/pin.out" 2>&1; then
			log "[on] pinfile set on a file with large folios: ok"
		else
			fail "[on] F2FS_IOC_SET_PIN_FILE failed on an empty file with large folios: $(cat "$work/pin.out")"
		fi
	else
		[ "$tadded" = 0 ] || fail "[off] $tadded large folio(s) created with the switch off"
		[ "$twritten" = 0 ] || fail "[off] $twritten block write(s) of large folios with the switch off"
	fi
	t=$SECONDS
	if fio --name=lfv --directory="$MNT" --rw=randwrite --bsrange=512-256k --size=16m \
		--ioengine=psync --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--fsync=64 --output="$work/fio-$sw.txt" >/dev/null 2>&1; then
		log "[$sw] fio randwrite with verify: ok ($((SECONDS - t)) s)"
	else
		fail "[$sw] fio verify failed"; tail -20 "$work/fio-$sw.txt" | sed 's/^/    /'
	fi
	fsck_clean
	umount "$MNT"
	log "== largefolio $sw: $((SECONDS - t0)) s"
}

# jquota_check: journalled quota with the switch on.  quotacheck writes the
# quota file as a new file, with large folios; quotaon must take it back to
# order-0 folios (quota files are written back under f2fs_lock_op()) rather
# than refuse it.  Then another user's writes are charged to that user, and
# the file system stays consistent.
jquota_check() {
	local opts=largefolio,noinline_data,usrjquota=aquota.user,jqfmt=vfsv1 used
	log "== largefolio on, journalled user quota (mount -o $opts)"
	mkfs_mount "" "$opts"
	if ! quotacheck -cu -F vfsv1 -m "$MNT" >"$work/quota.out" 2>&1; then
		fail "[jquota] quotacheck -cu failed: $(tail -1 "$work/quota.out")"; umount "$MNT"; return
	fi
	if ! quotaon -u "$MNT" >"$work/quota.out" 2>&1; then
		fail "[jquota] quotaon of a quota file written with large folios failed: $(tail -1 "$work/quota.out")"
		umount "$MNT"; return
	fi
	mkdir -m 1777 "$MNT/shared"
	setpriv --reuid=4242 --regid=4242 --clear-groups \
		dd if=/dev/urandom of="$MNT/shared/f" bs=1M count=4 status=none ||
		fail "[jquota] a 4 MiB write as uid 4242 failed"
	sync
	used=$(repquota -u -n "$MNT" 2>/dev/null | awk '$1 == "#4242" { print $3 }')
	if [ -n "$used" ] && [ "$used" -ge 4096 ]; then
		log "[jquota] quotaon ok; uid 4242 charged $used KiB for a 4 MiB file"
	else
		fail "[jquota] uid 4242 charged '${used:-nothing}' KiB for a 4 MiB file"
	fi
	quotaoff -u "$MNT" || fail "[jquota] quotaoff failed"
	fsck_clean
	umount "$MNT"
}

# mkwrite_eof_check: a store through mmap into a clean large folio that holds
# EOF.  page_mkwrite must keep the folio: truncating the page cache beyond EOF
# first, as it does for a page, cannot split a folio the fault holds, drops it
# whole, and the fault is retried to read it again.  The file (2 MiB - 100
# bytes) is read back through a mapping with MADV_HUGEPAGE after drop_caches,
# so that the folio holding EOF is large (checked); during the store of a byte
# in its last page, filemap:mm_filemap_delete_from_page_cache must show
# nothing of the file, and f2fs:f2fs_vm_page_mkwrite one call.
mkwrite_eof_check() {
	local size=$(((2 << 20) - 100)) ino hex eoforder deleted mkw
	local EVENTS=(filemap/mm_filemap_add_to_page_cache filemap/mm_filemap_delete_from_page_cache
		f2fs/f2fs_vm_page_mkwrite)
	log "== largefolio on, a store through mmap into a clean large folio across EOF"
	mkfs_mount "" "largefolio,noinline_data"
	head -c "$size" /dev/urandom >"$work/eof"
	cp "$work/eof" "$MNT/eof"
	sync
	drop_caches
	ino=$(stat -c %i "$MNT/eof")
	hex=$(printf '%x' "$ino")
	trace_on
	$PY "$WL" mmapread "$MNT/eof" || fail "[mkwrite-eof] mmapread failed"
	trace_off "$work/trace-eof-read"
	# the order of the folio added for the file that holds its last byte
	eoforder=$(folio_order_at "$work/trace-eof-read" "$ino" $((size - 1)))
	if [ "$eoforder" = none ] || [ "$eoforder" = 0 ]; then
		fail "[mkwrite-eof] the folio holding EOF is not large (order: $eoforder): the check cannot run"
		umount "$MNT"; return
	fi
	trace_on
	$PY "$WL" mmapstore "$MNT/eof" "$work/eof" $((size - 1)) || fail "[mkwrite-eof] mmapstore failed"
	trace_off "$work/trace-eof-store"
	deleted=$(grep -cE "mm_filemap_delete_from_page_cache:.* ino $hex pfn=" "$work/trace-eof-store" || true)
	mkw=$(grep -cE "f2fs_vm_page_mkwrite:.* ino = $ino, " "$work/trace-eof-store" || true)
	if [ "$deleted" = 0 ] && [ "$mkw" = 1 ]; then
		log "[mkwrite-eof] a store into the folio of order $eoforder holding EOF: one page_mkwrite, the folio kept"
	else
		fail "[mkwrite-eof] a store into the folio of order $eoforder holding EOF: $mkw page_mkwrite call(s), $deleted folio(s) of the file dropped from the page cache (want 1 and 0)"
	fi
	$PY "$WL" check "$MNT/eof" "$work/eof" || fail "[mkwrite-eof] the file differs after the store"
	drop_caches
	$PY "$WL" check "$MNT/eof" "$work/eof" || fail "[mkwrite-eof] the file differs after drop_caches"
	fsck_clean
	umount "$MNT"
}

# drop_race TAG CMD PREFIX SEED0 ERE WHAT: a race with the return of a file
# with large folios to order-0 folios (f2fs_drop_large_folios(), under
# F2FS_IOC_START_ATOMIC_WRITE).  Up to eight rounds, each a new file
# $MNT/PREFIXn written and checked by `lf_large_folio_write.py CMD` under the
# trace of the caller's EVENTS and a kretprobe on the drop's return, until
# the trace shows the race ran: a line that matches `ERE PREFIXn` (the
# function ERE prints the pattern of WHAT for that file) after the drop
# returned; none is a failure, as the check did not run.  Then every file is
# compared again after drop_caches, and fsck.
drop_race() {
	local tag=$1 cmd=$2 prefix=$3 seed0=$4 ere=$5 what=$6 round before after=0
	if [ ! -d "$TR/events/$GRP/dropret" ] && ! kprobe_add "r:$GRP/dropret f2fs:f2fs_drop_large_folios"; then
		fail "[$tag] no kretprobe on f2fs_drop_large_folios: the check cannot run"
		umount "$MNT"; return
	fi
	EVENTS+=("$GRP/dropret")
	for round in 1 2 3 4 5 6 7 8; do
		trace_on
		$PY "$WL" "$cmd" "$MNT/$prefix$round" "$work/$prefix$round" $((SEED + seed0 + round)) ||
			fail "[$tag] round $round: $cmd found a difference, or failed"
		trace_off "$work/trace-$tag$round"
		read -r before after < <(awk -v ere="$("$ere" "$prefix$round")" '
			/ dropret: / { dropped = 1; next }
			$0 ~ ere { if (dropped) after++; else before++ }
			END { print before + 0, after + 0 }' "$work/trace-$tag$round")
		log "[$tag] round $round: $before $what before the drop returned, $after after"
		cmp "$work/$prefix$round" "$MNT/$prefix$round" || fail "[$tag] round $round: the file differs"
		[ "$after" -gt 0 ] && break
	done
	[ "$after" -gt 0 ] ||
		fail "[$tag] no $what after the drop in $round round(s): the race did not run"
	drop_caches
	for round in $(seq 1 "$round"); do
		cmp "$work/$prefix$round" "$MNT/$prefix$round" || fail "[$tag] $prefix$round differs after drop_caches"
	done
	fsck_clean
	umount "$MNT"
}

# radrop_check: readahead racing with the return to order-0 folios.
# Readahead picks its folio order before it takes the invalidate lock:
# readers that fault the file in (MADV_HUGEPAGE) while the drop writes the
# dirty half back add large folios once it is done, and f2fs must read none of
# them (before the fix it read one block of such a folio, marked all of it
# uptodate, and oopsed at the end of the readahead batch).  The race has run
# when filemap:mm_filemap_add_to_page_cache shows folios of order > 0 of the
# file after the drop returned.
# shellcheck disable=SC2317 # called by drop_race
radrop_ere() { printf 'mm_filemap_add_to_page_cache:.* ino %x pfn=.* order=[1-9]' "$(stat -c %i "$MNT/$1")"; }
radrop_check() {
	local EVENTS=(filemap/mm_filemap_add_to_page_cache)
	log "== largefolio on, readahead racing with the return to order-0 folios"
	mkfs_mount "" "largefolio,noinline_data"
	drop_race radrop radrop ra 30 radrop_ere "folio(s) of order > 0 added"
}

# collapsedrop_check: MADV_COLLAPSE racing with the return to order-0 folios.
# collapse_file() checks the mapping's order before it reads the range in and
# takes no lock f2fs holds: a collapse that waited in its readahead for the
# drop's invalidate lock adds a PMD-sized folio to the order-0 mapping once
# the drop is done.  Atomic writes into that range must still reach the disk
# (before the fix the order-0 write_begin took the large folio for one page:
# the data was lost once the page cache was dropped).  The race has run when
# huge_memory:mm_khugepaged_collapse_file shows a collapse of the file done
# after the drop returned.
# shellcheck disable=SC2317 # called by drop_race
collapse_ere() { echo "mm_khugepaged_collapse_file:.* filename=$1, .*result=(succeeded|pte_mapped_hugepage)"; }
collapsedrop_check() {
	local EVENTS=(huge_memory/mm_khugepaged_collapse_file)
	log "== largefolio on, MADV_COLLAPSE racing with the return to order-0 folios"
	mkfs_mount "" "largefolio,noinline_data"
	if [ ! -d "$TR/events/huge_memory/mm_khugepaged_collapse_file" ]; then
		fail "[collapsedrop] no huge_memory:mm_khugepaged_collapse_file event: the check cannot run"
		umount "$MNT"; return
	fi
	drop_race collapsedrop collapsedrop cd 50 collapse_ere "collapse(s) of the file"
}

# readerr_check: a read error in one block of a large folio.  The file's
# block 1 is written again out of place, so it moves, and reading the first 2 MiB as one
# folio takes a bio for block 0, one for block 1 and one for the rest; a
# device-mapper table fails the sectors of block 0 only.  A fault with
# MADV_HUGEPAGE reads that folio: the bio of block 0 fails, the later ones
# succeed.  The read must end with the folio not uptodate, so that read() of
# block 0 fails with EIO (before the fix the last completion marked the folio
# uptodate and read() returned memory that was never read).  The fault must
# have added a folio of order > 0 holding block 0, and the file must read back
# intact from the device without the table.
readerr_check() {
	local EVENTS=(filemap/mm_filemap_add_to_page_cache) opts=largefolio,noinline_data
	local blk0 blk1 ino sectors order
	log "== largefolio on, a read error in one block of a large folio"
	mkfs_mount "" "$opts"
	# a small volume updates in place (f2fs_tuning_parameters()): block 1 must move
	echo 0 >"/sys/fs/f2fs/$(basename "$DEV")/ipu_policy"
	$PY "$WL" scatter "$MNT/re" "$work/re" $((SEED + 70)) || fail "[readerr] scatter failed"
	if ! { blk0=$($PY "$WL" physblock "$MNT/re" 0) && blk1=$($PY "$WL" physblock "$MNT/re" 1); }; then
		fail "[readerr] no device block for block 0 or 1 of the file"; umount "$MNT"; return
	fi
	ino=$(stat -c %i "$MNT/re")
	umount "$MNT"
	if [ "$blk1" = $((blk0 + 1)) ]; then
		fail "[readerr] block 1 still follows block 0 on the device ($blk0, $blk1): one bio would read both, the check cannot run"
		return
	fi
	sectors=$(blockdev --getsz "$DEV")
	# 512-byte sectors: linear, then error over block 0's 8, then linear
	if ! printf '0 %d linear %s 0\n%d 8 error\n%d %d linear %s %d\n' \
		$((blk0 * 8)) "$DEV" $((blk0 * 8)) $((blk0 * 8 + 8)) $((sectors - blk0 * 8 - 8)) "$DEV" $((blk0 * 8 + 8)) |
		DM_DISABLE_UDEV=1 dmsetup create "$DMNAME"; then
		fail "[readerr] dmsetup create failed: the check cannot run"
		return
	fi
	mount -t f2fs -o "$opts" "/dev/mapper/$DMNAME" "$MNT"
	log "[readerr] block 0 of the file at device block $blk0 fails to read, block 1 at $blk1"
	trace_on
	$PY "$WL" readerr "$MNT/re" || fail "[readerr] read() of a block that failed to read did not fail with EIO"
	trace_off "$work/trace-readerr"
	order=$(folio_order_at "$work/trace-readerr" "$ino" 0)
	if [ "$order" != none ] && [ "$order" -gt 0 ]; then
		log "[readerr] the fault added a folio of order $order holding block 0"
	else
		fail "[readerr] no folio of order > 0 holding block 0 was added: the check did not run"
	fi
	umount "$MNT"
	DM_DISABLE_UDEV=1 dmsetup remove "$DMNAME" || fail "[readerr] dmsetup remove failed"
	mount -t f2fs -o "$opts" "$DEV" "$MNT"
	$PY "$WL" check "$MNT/re" "$work/re" || fail "[readerr] the file differs on the device without the error"
	fsck_clean
	umount "$MNT"
}

if [ "$HALVES" = both ]; then
	one_pass off "noinline_data"
else
	log "== largefolio off: not run (LF_HALVES=on)"
fi

# The switch-on half, if the module knows the option.
mkdir -p "$MNT"
mkfs.f2fs -q -f "$DEV" >/dev/null
if [ -n "${LF_MODULE:-}" ]; then module="this f2fs module ($LF_MODULE)"; else module="this variant's f2fs (${VARIANT:-unknown variant})"; fi
if mount -t f2fs -o largefolio "$DEV" "$MNT" 2>"$work/mount.err"; then
	umount "$MNT"
	if [ "$EXPECT" = 0 ] && [ -z "${LF_MODULE:-}" ] && { [ "$VARIANT" = stock ] || [ "$VARIANT" = canary ]; }; then
		# stock f2fs has no such option: the module loaded is not the variant's
		fail "$VARIANT f2fs accepted -o largefolio (stock f2fs has no such option): switch-on half not run"
	else
		if grep -q ' f2fs_write_large_folio_block' /proc/kallsyms &&
			kprobe_add "p:$GRP/gcblk f2fs:f2fs_write_large_folio_block"; then
			gcprobe=1
		fi
		one_pass on "largefolio,noinline_data"
		jquota_check
		mkwrite_eof_check
		radrop_check
		collapsedrop_check
		readerr_check
	fi
elif [ "$EXPECT" = 1 ]; then
	fail "mount -o largefolio failed on $module, which should have the option (LF_EXPECT_LARGEFOLIO=1): $(cat "$work/mount.err")"
else
	log "$module has no largefolio option (LF_EXPECT_LARGEFOLIO=0): switch-on half not run"
fi
[ "$FAILS" = 0 ] || keep_evidence lf-large-folio-write "$work"
finish
