#!/bin/bash
# Writeback of compressed files (f2fs compression), data verified through the disk.
#
# Rounds, each on a fresh f2fs (mkfs -O extra_attr,compression):
#   lz4-log2       compress_algorithm=lz4, compress_log_size=2 (16 KiB clusters),
#                  files chosen by compress_extension=cz, compress_mode=fs;
#                  then writers under tiny dirty limits (dirty_background_bytes
#                  64 KiB, dirty_bytes 512 KiB): the flusher and the throttle
#                  write clusters back while they are being filled (checked:
#                  most of the data must be written back before any sync);
#                  then an 8 MiB file dirtied at once with the flusher started
#                  at 64 KiB: background passes whose page budget is smaller
#                  than the file (most of it must be written back by them);
#   zstd-log4      compress_algorithm=zstd, compress_log_size=4 (64 KiB clusters),
#                  compress_chksum, files compressed by chattr +c on their directory;
#   user-mode      compress_mode=user: F2FS_IOC_COMPRESS_FILE / _DECOMPRESS_FILE
#                  (and F2FS_IOC_SET_COMPRESS_OPTION: zstd, 64 KiB on one file);
#   counters       a deterministic, fsync'd workload (lz4 16 KiB clusters from the
#                  mount; zstd 64 KiB and lz4 32 KiB clusters set per file with
#                  F2FS_IOC_SET_COMPRESS_OPTION) whose compr_written_block /
#                  compr_saved_block deltas have exact expected values
#                  (written + saved = blocks of the clusters written; saved = 0
#                  and written > 0 for incompressible data; both > 0 for text).
#                  It runs with the module loaded at boot and with the other
#                  variant's module (rmmod + insmod in this boot; the boot
#                  module is reloaded after), which must give identical
#                  counters; each run prints "COUNTERS {json}".
# The data cases of the lz4 and zstd rounds (each file is checked to really be
# a compressed inode, FS_COMPR_FL, with the mount's algorithm and cluster size):
#   eof        sizes around cluster and page bounds, odd sizes, partial last
#              clusters, append that fills a partial cluster;
#   overwrite  compressed clusters overwritten in place (1 byte .. 3 clusters,
#              text and incompressible data), fsync'd in between;
#   truncate   truncate inside a cluster (clean and dirty), extend, write again;
#   mmap       stores into compressed clusters through mmap, msync of part,
#              stores left for writeback, a sparse file filled through mmap;
#   split      sync_file_range(WRITE) of sub-ranges that split clusters, on new
#              clusters and on overwritten compressed clusters;
#   race       per-file writers (and truncates) racing sync_file_range
#              (WB_SYNC_NONE), the flusher (10 ms expiry) and fsync/fdatasync
#              (WB_SYNC_ALL) for WB_RACE_SECS (6) seconds;
#   ahead      clusters compressed on disk, two pages of one dirtied, written
#              back by sync_file_range while ftruncate cuts the file inside
#              the second one (half of WB_RACE_SECS): writeback overwrites the
#              cluster ahead of writeback_iter(), truncation waits for the
#              writeback of a folio the pass has yet to lock (a hang watchdog
#              dumps blocked tasks);
#   also: text files must end with blocks saved (F2FS_IOC_GET_COMPRESS_BLOCKS),
#   incompressible ones with none; the user-mode ioctls are refused in
#   compress_mode=fs.
# Each round compares the files with an in-memory model: in the page cache,
# after fsync + POSIX_FADV_DONTNEED inside the cases, after sync + drop_caches,
# and after umount + fsck.f2fs (must be clean) + mount.  Each round also checks
# that /proc/mounts shows its compression options.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
WBC=$(dirname "$0")/wb_compress.py   # the Python of this test
RACE_SECS=${WB_RACE_SECS:-6}
work=$(mktemp -d /tmp/wb-compress.XXXXXX)
sysdir=/sys/fs/f2fs/$(basename "$DEV")

save_vm
trap restore_vm EXIT

# verify_all LABEL: every manifest of the round against the files, after
# sync + drop_caches, then after umount + fsck.f2fs + mount.
verify_all() {
	local t0=$SECONDS
	drop_caches
	$PY "$WBC" verify "$work"/*.manifest.json || fail "$1: data differs after sync + drop_caches"
	fsck_clean
	$PY "$WBC" verify "$work"/*.manifest.json || fail "$1: data differs after umount + fsck + mount"
	rm -f "$work"/*.manifest.json
	log "$1: verified in $((SECONDS - t0))s; round done at ${SECONDS}s"
}

FEAT=extra_attr,compression

# mount_has LABEL OPTION...: /proc/mounts must list each OPTION for $MNT
# (compress_algorithm=zstd may be shown with its level, "zstd:N").
mount_has() {
	local opts o
	opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
	for o in "${@:2}"; do
		[[ ",$opts," == *",$o,"* || ",$opts," == *",$o:"* ]] || fail "$1: the mount does not show $o: $opts"
	done
}

# --- lz4, 16 KiB clusters, compress_extension; then tiny dirty limits.
log "lz4-log2: mount compress_algorithm=lz4,compress_log_size=2,compress_extension=cz"
mkfs_mount "$FEAT" "compress_algorithm=lz4,compress_log_size=2,compress_extension=cz"
mount_has lz4-log2 compress_algorithm=lz4 compress_log_size=2 compress_extension=cz compress_mode=fs
$PY "$WBC" cases "$MNT" lz4 .cz lz4 2 "$RACE_SECS" "$work/lz4.manifest.json" ||
	fail "lz4-log2: the cases reported errors"
restore_vm
log "lz4-log2: background writeback with dirty_background_bytes=64 KiB, dirty_bytes=512 KiB"
flusher eager
echo 65536 >/proc/sys/vm/dirty_background_bytes
echo 524288 >/proc/sys/vm/dirty_bytes
$PY "$WBC" lowdirty "$MNT" low .cz 2 "$work/low.manifest.json" ||
	fail "lz4-log2: the low dirty limit writers reported errors"
log "lz4-log2: an 8 MiB file dirtied at once, dirty_background_bytes=64 KiB, dirty_bytes=64 MiB"
echo 67108864 >/proc/sys/vm/dirty_bytes
$PY "$WBC" budget "$MNT" low .cz "$work/budget.manifest.json" ||
	fail "lz4-log2: the flusher budget case reported errors"
restore_vm
verify_all lz4-log2

# --- zstd, 64 KiB clusters, compress_chksum, chattr +c on the directory.
log "zstd-log4: mount compress_algorithm=zstd,compress_log_size=4,compress_chksum; chattr +c on the directory"
mkfs_mount "$FEAT" "compress_algorithm=zstd,compress_log_size=4,compress_chksum"
mount_has zstd-log4 compress_algorithm=zstd compress_log_size=4 compress_chksum compress_mode=fs
mkdir "$MNT/zstd"
chattr +c "$MNT/zstd"
lsattr -d "$MNT/zstd" | grep -q '^[^ ]*c' || fail "zstd-log4: chattr +c did not set the flag on the directory"
$PY "$WBC" cases "$MNT" zstd "" zstd 4 "$RACE_SECS" "$work/zstd.manifest.json" ||
	fail "zstd-log4: the cases reported errors"
restore_vm
verify_all zstd-log4

# --- compress_mode=user.
log "user-mode: mount compress_algorithm=lz4,compress_log_size=2,compress_mode=user,compress_extension=cz"
mkfs_mount "$FEAT" "compress_algorithm=lz4,compress_log_size=2,compress_mode=user,compress_extension=cz"
mount_has user-mode compress_algorithm=lz4 compress_log_size=2 compress_extension=cz compress_mode=user
$PY "$WBC" user "$MNT" "$work/user.manifest.json" || fail "user-mode: the ioctl cases reported errors"
verify_all user-mode

# --- counters: deterministic workload on the boot module and on the other one.
build_id() { od -An -v -tx1 /sys/module/f2fs/notes/.note.gnu.build-id 2>/dev/null | tr -d ' \n'; }
# which_module: stock or patched, the lab module whose file holds the loaded build-id note.
which_module() { $PY "$WBC" which-module; }
CNT_OPTS="compress_algorithm=lz4,compress_log_size=2,compress_extension=cz,background_gc=off"
counter_run() { # $1 module label: runs the workload, prints COUNTERS, leaves $work/counters-$1.json
	mkfs_mount "$FEAT" "$CNT_OPTS"
	mount_has "counters [$1]" compress_algorithm=lz4 compress_log_size=2 compress_extension=cz background_gc=off
	# No flusher during the workload: every cluster is written back by the fsync
	# that follows its write, so what each writeback pass sees is fixed (why
	# asleep and not off: sysio.py FLUSHER_ASLEEP; see also wb-cluster-paths).
	flusher asleep
	$PY "$WBC" counters "$MNT" "$sysdir" "$work/counters-$1.json" ||
		fail "counters [$1]: the workload reported errors"
	restore_vm
	[ -f "$work/counters-$1.json.manifest" ] && mv "$work/counters-$1.json.manifest" "$work/counters.manifest.json"
	verify_all "counters [$1]"
	echo "COUNTERS {\"test\":\"wb-compress\",\"workload\":1,\"boot_variant\":\"$WBTRACE_VARIANT\",\"module\":\"$1\",\"build_id\":\"$(build_id)\",\"phases\":$(cat "$work/counters-$1.json" 2>/dev/null || echo null)}"
	umount "$MNT"
}
swap_to() { # $1 variant: rmmod f2fs; insmod its module; check by build-id
	local ko_var=WBTRACE_MODULE_${1^^}
	local ko=${!ko_var:-}
	if [ -z "$ko" ] || [ ! -f "$ko" ]; then
		fail "$ko_var is not set or missing: cannot load the $1 module"
		return 1
	fi
	mountpoint -q "$MNT" && umount "$MNT"
	rmmod f2fs || { fail "rmmod f2fs failed"; return 1; }
	insmod "$ko" || { fail "insmod $ko failed"; return 1; }
	[ "$(which_module)" = "$1" ] || { fail "after insmod $ko the loaded f2fs is '$(which_module)', not $1"; return 1; }
}

boot=$(which_module)
log "counters: loaded module is '$boot' (boot variant $WBTRACE_VARIANT)"
[ "$boot" = "$WBTRACE_VARIANT" ] || fail "the loaded f2fs module is '$boot', expected $WBTRACE_VARIANT"
other=stock
[ "$boot" = stock ] && other=patched
counter_run "$boot"
if swap_to "$other"; then
	counter_run "$other"
	swap_to "$boot" || fail "could not reload the $boot module: later tests in this boot run on the wrong f2fs"
fi
# Tolerance 0: the workload is single-threaded, each file is written with one
# pwrite (whole clusters dirty) and fsync'd before the next, the flusher is
# off, so each module compresses the same clusters of the same bytes with the
# same compressor (built into the same vmlinux): the counts are exact, not
# statistical.  "split" is reported only: how a pass splits a cluster at a
# range edge is the loop's policy, which the patched series may change.
if [ -s "$work/counters-$boot.json" ] && [ -s "$work/counters-$other.json" ]; then
	$PY "$WBC" compare-counters "$work/counters-$boot.json" "$work/counters-$other.json" "$boot" "$other" ||
		fail "counters differ between the stock and patched modules"
else
	fail "counters: no result for both modules ($boot, $other)"
fi

rm -rf "$work"
finish
