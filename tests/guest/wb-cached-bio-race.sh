#!/bin/bash
# Data integrity writeback meeting folios that another writer has just put in
# a merged bio (trap T3 of the series).
#
# writeback_iter() waits for a dirty folio under writeback with plain
# folio_wait_writeback(); the old loop used f2fs_folio_wait_writeback(), which
# first submits a cached merged bio (OPU: sbi->write_io, IPU: the writer's own
# bio on the sbi list) that may still hold the folio.  The series flushes the
# inode's cached bios before a WB_SYNC_ALL pass; this test races everything
# that can put a folio of the same inode into a cached bio *during* such a pass:
#  - "bg" threads start WB_SYNC_NONE writeback of random sub-ranges
#    (sync_file_range WRITE), so folios enter cached bios mid-pass;
#  - writers redirty folios with pwrite() and mmap stores, which can make a
#    folio dirty while it is still under writeback (no stable pages here);
#  - a second file keeps the shared per-temperature bio busy;
#  - "fs" threads run fsync/fdatasync and ranged WB_SYNC_ALL
#    (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER) on the same file.
# Once with out-of-place updates (default) and once with ipu_policy=FORCE.
#
# Checks: every data integrity call returns (a watchdog fails the test and
# dumps blocked tasks if one takes longer than WB_T3_STALL seconds: waiting
# on a bio nobody submits is a hang, not slowness); the file holds exactly
# what was written, after drop_caches and after remount; fsck.f2fs clean; and
# the race really reached the state T3 is about: a WB_SYNC_ALL pass found a
# dirty folio of the file under writeback and waited on it (tracefs event
# writeback:folio_wait_writeback with a stack trigger, counted when the
# stack is the writeback loop: writeback_iter on patched,
# f2fs_write_cache_pages on stock).
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TR=/sys/kernel/tracing
INST=$TR/instances/wbt3
RACE_SECS=${WB_RACE_SECS:-15}
STALL=${WB_T3_STALL:-120}
PY=/usr/bin/python3
WBR=$(dirname "$0")/wb_cached_bio_race.py   # the Python of this test
work=$(mktemp -d /tmp/wb-t3.XXXXXX)

trace_off() {
	[ -d "$INST" ] || return 0
	echo 0 >"$INST/tracing_on"
	echo '!stacktrace' >"$INST/events/writeback/folio_wait_writeback/trigger" 2>/dev/null || true
	echo 0 >"$INST/events/writeback/folio_wait_writeback/enable" 2>/dev/null || true
	rmdir "$INST" 2>/dev/null || true
}
cleanup() {
	trace_off
	if mountpoint -q "$MNT"; then umount "$MNT" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# waits_in_loop TRACE_FILE: folio_wait_writeback events whose stack is the
# writeback loop of a data integrity pass (not f2fs's own redirty waits).
waits_in_loop() {
	local loop_re='^(f2fs_write_cache_pages|__f2fs_write_data_pages)$'
	[ "${WBTRACE_VARIANT:-stock}" = patched ] && loop_re='^(writeback_iter|writeback_get_folio)$'
	awk -v re="$loop_re" '
		function done() { if (ev && hit) n++; ev = hit = 0 }
		/folio_wait_writeback:/ { done(); ev = 1; next }
		/<stack trace>/ { next }
		ev && /^ *=>/ { if ($2 ~ re) hit = 1; next }
		{ done() }
		END { done(); print n + 0 }' "$1"
}

# callers TRACE_FILE: how often each function called folio_wait_writeback()
callers() {
	awk '/folio_wait_writeback:/ { ev = 1; next } /<stack trace>/ { next }
		ev && /^ *=>/ && $2 !~ /^(folio_wait_writeback|trace_|perf_trace|__traceiter|event_trigger|__trace)/ { c[$2]++; ev = 0; next }
		ev && /^ *=>/ { next } { ev = 0 }
		END { for (f in c) printf "    %6d %s\n", c[f], f }' "$1" | sort -rn | head -8
}

# race_case LABEL: one race on a fresh file system with the current sysfs setup
race_case() {
	local label=$1 out=$work/$1 ino rc=0 sum fails0=$FAILS
	mkdir -p "$out"
	rm -f "$work/ready" "$work/ready.go"
	$PY "$WBR" "$MNT" "$RACE_SECS" "$STALL" "$work/ready" >"$out/race.log" 2>&1 &
	local pid=$!
	for _ in $(seq 600); do [ -s "$work/ready" ] && break; sleep 0.1; done
	ino=$(cat "$work/ready" 2>/dev/null || echo 0)
	# The trace is what shows the race reached T3's state: without tracefs,
	# the event or its stack trigger, the test fails (the race still runs for
	# its hang and data checks).
	local have_trace=0
	if [ ! -w "$TR/instances" ] || [ ! -d "$TR/events/writeback/folio_wait_writeback" ]; then
		fail "$label: no tracefs instance or writeback:folio_wait_writeback event: T3's state cannot be observed"
	else
		mkdir -p "$INST"
		echo 8192 >"$INST/buffer_size_kb"
		echo "ino == $ino" >"$INST/events/writeback/folio_wait_writeback/filter"
		if echo stacktrace >"$INST/events/writeback/folio_wait_writeback/trigger" 2>/dev/null; then
			echo 1 >"$INST/events/writeback/folio_wait_writeback/enable"
			echo 1 >"$INST/tracing_on"
			have_trace=1
		else
			fail "$label: cannot add a stacktrace trigger to folio_wait_writeback: T3's state cannot be observed"
		fi
	fi
	touch "$work/ready.go"
	wait "$pid" || rc=$?
	[ "$have_trace" = 1 ] && TRACED=1 && { echo 0 >"$INST/tracing_on"; cat "$INST/trace" >"$out/trace"; trace_off; }
	sed 's/^/    /' "$out/race.log"
	if [ "$rc" = 3 ]; then
		fail "$label: a data integrity call hung (T3): blocked tasks:"
		dmesg | grep -A25 -E 'task:.*state:D' | head -80 | sed 's/^/    /'
		return
	fi
	[ "$rc" = 0 ] || fail "$label: race driver exited $rc"
	sum=$(cat "$MNT/../expected.sha256" 2>/dev/null || echo none)
	[ "$(sha256sum <"$MNT/shared" | cut -d' ' -f1)" = "$sum" ] || fail "$label: content differs right after the race"
	drop_caches
	[ "$(sha256sum <"$MNT/shared" | cut -d' ' -f1)" = "$sum" ] || fail "$label: content differs after drop_caches"
	remount
	[ "$(sha256sum <"$MNT/shared" | cut -d' ' -f1)" = "$sum" ] || fail "$label: content differs after remount"
	fsck_clean
	if [ "$have_trace" = 1 ]; then
		local n
		n=$(waits_in_loop "$out/trace")
		TOTAL_WAITS=$((TOTAL_WAITS + n))
		log "$([ "$FAILS" = "$fails0" ] && echo "ok ")$label: the writeback loop waited $n time(s) on a dirty folio under writeback$([ "$FAILS" = "$fails0" ] && echo "; every call returned, data verified")"
		if [ "$n" = 0 ]; then
			log "  ($label: $(grep -c folio_wait_writeback: "$out/trace") waits traced in all; their callers:)"
			callers "$out/trace"
		fi
	fi
}

TOTAL_WAITS=0 TRACED=0
# On the debug kernel (KASAN, lockdep: 3-5x slower) the race runs far fewer
# iterations and its stack traces did not show the loop frame in the lab, so
# there the count is reported, not required: this test's job on that kernel
# is the splat check, and the regular kernels of the same suite prove the
# state is reached.
DEBUG_KERNEL=0
if [ -r /proc/config.gz ] && zcat /proc/config.gz | grep -E '^CONFIG_(KASAN|PROVE_LOCKING)=y' >/dev/null; then
	DEBUG_KERNEL=1
fi
# expected.sha256 lives next to the mount point: keep it on tmpfs, not on f2fs
MNT=$work/mnt
mkfs_mount "" ""
race_case opu
mkfs_mount "" ""
echo 1 >"/sys/fs/f2fs/$(basename "$DEV")/ipu_policy"       # F2FS_IPU_FORCE
race_case ipu-force
# The state T3 is about is timing-dependent (0 to a few dozen times per case
# in the lab): required at least once; up to two more forced-IPU rounds,
# which reach it most often, before calling it not reached.
for round in 2 3; do
	[ "$TRACED" = 1 ] && [ "$TOTAL_WAITS" = 0 ] && [ "$FAILS" = 0 ] && [ "$DEBUG_KERNEL" = 0 ] || break
	log "T3's state not reached yet: one more round"
	mkfs_mount "" ""
	echo 1 >"/sys/fs/f2fs/$(basename "$DEV")/ipu_policy"
	race_case "ipu-force-$round"
done
if [ "$TRACED" = 1 ] && [ "$TOTAL_WAITS" = 0 ] && [ "$DEBUG_KERNEL" = 1 ]; then
	log "note: debug kernel: T3's state was not seen in the loop's stacks (reported, not required here)"
elif [ "$TOTAL_WAITS" = 0 ]; then
	fail "the race never made the writeback loop wait on a folio under writeback: T3's state was not reached$([ "$TRACED" = 1 ] || echo " (nor observed: no case was traced)")"
fi
finish
