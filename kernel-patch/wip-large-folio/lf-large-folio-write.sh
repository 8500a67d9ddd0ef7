#!/bin/bash
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
#  - fsx (from the lab's fstests build, if there is one: buffered and mmap
#    I/O, truncate, punch, zero, collapse and insert range, with and without
#    flushing and dropping the cache after each operation), and fio with verify.
# With the switch on, filemap:mm_filemap_add_to_page_cache must show folios of
# order > 0 for the test files, and f2fs:f2fs_do_write_data_page blocks of
# folios with nr_pages > 1 (written back); with it off, neither may appear.
#
# The switch-on half needs an f2fs module with the option; on one without it
# (stock, or the series before step 3) it is reported and skipped, unless
# LF_EXPECT_LARGEFOLIO=1 makes that a failure.  LF_SEED=N shifts the seeds of
# the random operations (default 0).  LF_MODULE=path loads that
# module first (rmmod f2fs; insmod), and the boot's module again at the end.
# Needs CONFIG_TRANSPARENT_HUGEPAGE.
here=$(dirname "$0")
# Kept beside the unmerged patches (kernel-patch/wip-large-folio/) until they join the
# series; lib.sh is the guest tests' own.
lib=$here/lib.sh
[ -f "$lib" ] || lib=$(cd "$here/../.." && pwd)/tests/guest/lib.sh
# shellcheck source=tests/guest/lib.sh
. "$lib"

PY=/usr/bin/python3
SEED=${LF_SEED:-0}
WL=$here/lf_large_folio_write.py
TR=/sys/kernel/tracing
INST=$TR/instances/lf-large-folio-write
work=$(mktemp -d /tmp/lf-large-folio-write.XXXXXX)
EVENTS=(filemap/mm_filemap_add_to_page_cache f2fs/f2fs_do_write_data_page)
FSX=${FSX:-$(find /root/.cache/wbtrace -maxdepth 4 -path '*/tree/ltp/fsx' -type f 2>/dev/null | head -1)}
# counted when the module has it: foreground GC moving a block of a large folio
# shellcheck disable=SC2034 # read by probes_off (lib.sh)
GRP=lfwrite PROBES=(gcblk)

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	probes_off
	if [ -n "${LF_MODULE:-}" ] && [ -n "${WBTRACE_MODULE:-}" ]; then
		mountpoint -q "$MNT" && umount "$MNT"
		if rmmod f2fs; then insmod "$WBTRACE_MODULE" || echo "  cannot reload $WBTRACE_MODULE"; fi
	fi
}
trap cleanup EXIT

[ -d /sys/kernel/mm/transparent_hugepage ] ||
	{ fail "this kernel has no CONFIG_TRANSPARENT_HUGEPAGE: no large folio can exist"; finish; }

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
	local sw=$1 name=$2
	shift 2
	if "$FSX" -q -P "$work" "$@" "$MNT/$name" >"$work/$name-$sw.out" 2>&1; then
		log "[$sw] fsx $*: ok"
	else
		fail "[$sw] fsx $* failed"; tail -30 "$work/$name-$sw.out" | sed 's/^/    /'
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

# one_pass on|off OPTS
one_pass() {
	local sw=$1 opts=$2 f ino added written tadded=0 twritten=0
	log "== largefolio $sw (mount -o $opts)"
	mkfs_mount "" "$opts"
	grep " $MNT " /proc/mounts | sed 's/^/  /'
	trace_on
	head -c $((8 << 20)) /dev/urandom >"$work/seq"
	dd if="$work/seq" of="$MNT/seq" bs=1M status=none
	cmp "$work/seq" "$MNT/seq" || fail "[$sw] seq: data read back from the cache differs"
	$PY "$WL" ops "$MNT/rand1" $((SEED + 1)) 300 "$work/rand1" || fail "[$sw] rand1: the workload failed"
	$PY "$WL" ops "$MNT/rand2" $((SEED + 2)) 300 "$work/rand2" || fail "[$sw] rand2: the workload failed"
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
		run_fsx "$sw" fsx1 -N 20000 -S 7 -l $((8 << 20)) -o $((1 << 20)) -c 500
		run_fsx "$sw" fsx2 -N 3000 -S 8 -l $((8 << 20)) -o $((1 << 20)) -f
	else
		log "[$sw] no fsx binary (no fstests build in /root/.cache/wbtrace): fsx not run"
	fi
	for f in seq rand1 rand2; do
		ino=$(stat -c %i "$MNT/$f")
		read -r added written < <(count_large "$work/trace-$sw" "$ino")
		log "[$sw] $f (ino $ino): $added folio(s) of order > 0 added, $written block write(s) of large folios"
		tadded=$((tadded + added)) twritten=$((twritten + written))
	done
	if [ "$sw" = on ]; then
		[ "$tadded" -gt 0 ] || fail "[on] no large folio was created for the written files"
		[ "$twritten" -gt 0 ] || fail "[on] no block of a large folio was written back"
		[ "$gcprobe" = 1 ] && log "[on] foreground GC moved $(grep -c 'gcblk:' "$work/trace-$sw" || true) block(s) of large folios (f2fs_write_large_folio_block)"
		# a file with large folios refuses to become pinned (and atomic, compressed, verity)
		if f2fs_io pinfile set "$MNT/seq" >/dev/null 2>&1; then
			fail "[on] F2FS_IOC_SET_PIN_FILE succeeded on a file with large folios"
		else
			log "[on] pinfile set refused, as expected"
		fi
	else
		[ "$tadded" = 0 ] || fail "[off] $tadded large folio(s) created with the switch off"
		[ "$twritten" = 0 ] || fail "[off] $twritten block write(s) of large folios with the switch off"
	fi
	if fio --name=lfv --directory="$MNT" --rw=randwrite --bsrange=512-256k --size=16m \
		--ioengine=psync --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--fsync=64 --output="$work/fio-$sw.txt" >/dev/null 2>&1; then
		log "[$sw] fio randwrite with verify: ok"
	else
		fail "[$sw] fio verify failed"; tail -20 "$work/fio-$sw.txt" | sed 's/^/    /'
	fi
	fsck_clean
	umount "$MNT"
}

one_pass off "noinline_data"

# The switch-on half, if the module knows the option.
mkdir -p "$MNT"
mkfs.f2fs -q -f "$DEV" >/dev/null
if mount -t f2fs -o largefolio "$DEV" "$MNT" 2>"$work/mount.err"; then
	umount "$MNT"
	if grep -q ' f2fs_write_large_folio_block' /proc/kallsyms &&
		kprobe_add "p:$GRP/gcblk f2fs:f2fs_write_large_folio_block"; then
		gcprobe=1
	fi
	one_pass on "largefolio,noinline_data"
elif [ "${LF_EXPECT_LARGEFOLIO:-0}" = 1 ]; then
	fail "mount -o largefolio failed: $(cat "$work/mount.err")"
else
	log "this f2fs module has no largefolio option (stock, or the series before step 3): switch-on half not run"
fi
[ "$FAILS" = 0 ] || keep_evidence lf-large-folio-write "$work"
finish
