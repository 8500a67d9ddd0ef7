#!/bin/bash
# shellcheck disable=SC2016 # $argN/$retval in the kprobe definitions are tracefs syntax
# fsync and sync racing background writeback, with checkpoints in between.
#
# Three threads on one f2fs: "bg" keeps a large file dirty and starts
# WB_SYNC_NONE writeback of it (sync_file_range), "fs" writes small files and
# fsyncs them (WB_SYNC_ALL, which raises wb_sync_req and so asks running
# WB_SYNC_NONE passes to stop), "cp" forces checkpoints, which hold
# f2fs_lock_op() off and make data writes return -EAGAIN.
#
# Checks:
#  - durability: right after an fsync returns, while the other threads still
#    run, the filesystem is shut down without any flush (F2FS_IOC_SHUTDOWN,
#    NOSYNC); after remount (roll-forward recovery) every file whose fsync
#    returned holds exactly what was fsynced;  a clean writeback round then verifies all
#    data across drop_caches and remount, and fsck.f2fs must be clean;
#  - tracing (tracefs kprobe events, BTF arguments):
#      * -EAGAIN retry: f2fs_write_single_data_page() returning -EAGAIN for
#        WB_SYNC_ALL, followed by a new call for the same folio in the same
#        task.  Required on both variants: the race must produce such returns
#        (hundreds per run in the lab) and at least one must be seen retried;
#      * priority stop (patched only): f2fs_write_cache_folios() hands
#        writeback_iter() its -EAGAIN sentinel for a WB_SYNC_NONE pass of an
#        f2fs inode.  The old loop has no probe point for it, so stock
#        reports "not observable".
#    A kprobe event that cannot be defined fails the test: without them
#    nothing shows the race reached the states above.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TR=/sys/kernel/tracing
INST=$TR/instances/wbtest
RACE_SECS=${WB_RACE_SECS:-20}
PY=/usr/bin/python3
WBS=$(dirname "$0")/wb_sync_race.py   # the Python of this test
work=$(mktemp -d /tmp/wb-sync-race.XXXXXX)

GRP=wbt PROBES=(wbt_wsdp wbt_wsdpr wbt_iter wbt_relock)   # for lib.sh's probes_off
trap probes_off EXIT

# Define the kprobe events.  The tracing checks are this test's proof that the
# race reached the -EAGAIN retry and the priority stop: a probe that cannot be
# defined fails the test (the lab kernel has kprobe events and BTF arguments),
# and the race still runs for its durability checks.
have_probes=1
probes_off
add_probe() {
	kprobe_add "$1" && return 0
	fail "cannot define kprobe event: $1"
	have_probes=0
	return 1
}
if [ ! -w "$TR/kprobe_events" ]; then
	fail "no tracefs kprobe_events (CONFIG_KPROBE_EVENTS, tracefs at $TR): the tracing checks cannot run"
	have_probes=0
else
	add_probe 'p:wbt/wbt_wsdp f2fs_write_single_data_page folio=$arg1:x64 sync=wbc->sync_mode:u32' || true
	add_probe 'r:wbt/wbt_wsdpr f2fs_write_single_data_page ret=$retval:s32 folio=$arg1:x64' || true
	add_probe 'p:wbt/wbt_iter writeback_iter magic=mapping->host->i_sb->s_magic:x32 sync=wbc->sync_mode:u32 folio=$arg3:x64 err=+0($arg4):s32' || true
	# Only the patched series has the relock helper: where a -EAGAIN is not
	# followed by a new write, it must be because the relock found nothing to do.
	have_relock=0
	if [ "$WBTRACE_VARIANT" = patched ]; then
		add_probe 'r:wbt/wbt_relock f2fs_wb_relock_folio ok=$retval:u8 folio=$arg2:x64' && have_relock=1
	fi
fi
if [ "$have_probes" = 1 ]; then
	mkdir "$INST"
	echo 16384 >"$INST/buffer_size_kb"
	# Only what the checks need: WB_SYNC_ALL calls, -EAGAIN returns, and
	# writeback_iter() being handed -EAGAIN on an f2fs inode.
	echo 'sync == 1' >"$INST/events/wbt/wbt_wsdp/filter"
	echo 'ret == -11' >"$INST/events/wbt/wbt_wsdpr/filter"
	echo 'err == -11 && magic == 0xf2f52010' >"$INST/events/wbt/wbt_iter/filter"
	for e in wbt_wsdp wbt_wsdpr wbt_iter; do echo 1 >"$INST/events/wbt/$e/enable"; done
	if [ "$have_relock" = 1 ]; then
		echo 'ok == 0' >"$INST/events/wbt/wbt_relock/filter"
		echo 1 >"$INST/events/wbt/wbt_relock/enable"
	fi
	echo 1 >"$INST/events/f2fs/f2fs_writepages/enable"
	echo 1 >"$INST/tracing_on"
fi

mkfs_mount "" ""

log "racing bg writeback, fsync and checkpoints for ${RACE_SECS}s, then shutdown (no flush)"
marker=-
[ "$have_probes" = 1 ] && marker=$INST/trace_marker
$PY "$WBS" race "$MNT" "$RACE_SECS" "$work/race.json" "$marker" | sed 's/^/  /' || fail "the race workload reported errors"
[ "$have_probes" = 1 ] && echo 0 >"$INST/tracing_on"

# Roll-forward recovery, then every fsynced file must hold what was fsynced.
umount "$MNT"
mount -t f2fs "$DEV" "$MNT"
$PY "$WBS" verify "$MNT" "$work/race.json" || fail "fsynced data lost or changed across shutdown + recovery"

# A calm round on the recovered fs: everything written, verified through the disk.
before=$(sums)
drop_caches
[ "$before" = "$(sums)" ] || fail "data differs after sync + drop_caches"
fsck_clean
[ "$before" = "$(sums)" ] || fail "data differs after umount + fsck + mount"

# What the tracing saw.
if [ "$have_probes" = 1 ]; then
	cat "$INST/trace" >"$work/trace.txt"
	# Events overwritten in the ring buffer: the trace file does not show them.
	overrun=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$INST"/per_cpu/cpu*/stats)
	$PY "$WBS" trace "$work/trace.txt" "$WBTRACE_VARIANT" "$overrun" || fail "tracing checks failed (see above)"
else
	fail "tracing checks not run: kprobe events unavailable (see above)"
fi
rm -rf "$work"
finish
