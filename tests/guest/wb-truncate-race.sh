#!/bin/bash
# truncate and punch-hole racing writeback.
#
# One thread mutates files (buffered writes, truncate down and up, punch
# holes, zero ranges, whole-file rewrites) and keeps an exact model of their
# contents.  Meanwhile other threads keep writeback running on the same files:
# WB_SYNC_NONE (sync_file_range WRITE, and the flusher with a 10 ms expiry),
# WB_SYNC_ALL (fdatasync, sync(2)), so folios get truncated, punched or
# redirtied while a writeback pass holds them or is about to lock them.
# Writeback never changes contents, so at the end the files must equal the
# model: in the page cache, after sync + drop_caches, and after umount +
# fsck.f2fs (must be clean) + mount.  A second round does the same on a
# filesystem with inline data off and in LFS mode (out-of-place writes only).
#
# Each round must also show that the race it is named for happened: that a
# truncate ran into writeback of its own file.  tracefs records f2fs_setattr()
# entry and return (kprobe events, BTF arguments: the inode and the new size)
# and writeback:folio_wait_writeback; a wait by the truncating task, between
# those two, on a folio of the same inode at or beyond the new size is a
# truncate that found a folio of the truncated range under writeback.  A round
# without one is raced again, up to WB_TRUNC_TRIES times in all, then fails.
# The probe must also have seen every truncate the race made (unless the
# trace buffer overflowed), so a probe that misses them cannot pass.
# shellcheck disable=SC2016 # $retval in the kprobe definition is tracefs syntax
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
WBT=$(dirname "$0")/wb_truncate_race.py   # the Python of this test
RACE_SECS=${WB_RACE_SECS:-15}
TRIES=${WB_TRUNC_TRIES:-3}
TR=/sys/kernel/tracing
INST=$TR/instances/wbtrunc
GRP=wbtr
PROBES=(wbtr_in wbtr_out)
work=$(mktemp -d /tmp/wb-truncate-race.XXXXXX)

save_vm

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	probes_off
	restore_vm
}
trap cleanup EXIT

# The overlap trace.  Without it the test cannot show that what it races
# happened, so anything missing fails the test (the lab kernel has kprobe
# events with BTF arguments and the writeback tracepoints).
[ -d "$TR/events" ] || mount -t tracefs tracefs "$TR"
probes_off
traced=0
trace_setup() {
	[ -w "$TR/kprobe_events" ] || { fail "no writable $TR/kprobe_events: the overlap cannot be traced"; return; }
	[ -d "$TR/events/writeback/folio_wait_writeback" ] || { fail "no writeback:folio_wait_writeback event: the overlap cannot be traced"; return; }
	local def
	for def in "p:$GRP/wbtr_in f2fs_setattr ino=dentry->d_inode->i_ino:u64 size=attr->ia_size:s64 valid=attr->ia_valid:x32" \
		'r:'"$GRP"'/wbtr_out f2fs_setattr ret=$retval:s32'; do
		kprobe_add "$def" || { fail "a kprobe event is missing: the overlap cannot be traced"; return; }
	done
	mkdir "$INST"
	echo 16384 >"$INST/buffer_size_kb"
	echo global >"$INST/trace_clock"         # one clock: the task may move between CPUs
	echo 'valid & 8' >"$INST/events/$GRP/wbtr_in/filter"   # ATTR_SIZE: truncates only
	# Waits on this disk's files only (bdi name "major:minor").
	echo "name == \"$(cat "/sys/block/$(basename "$DEV")/dev")\"" >"$INST/events/writeback/folio_wait_writeback/filter"
	echo 1 >"$INST/events/$GRP/wbtr_in/enable"
	echo 1 >"$INST/events/$GRP/wbtr_out/enable"
	echo 1 >"$INST/events/writeback/folio_wait_writeback/enable"
	traced=1
}
trace_setup

# overlaps LABEL: from the trace of one race, how many truncates waited on
# writeback of a folio of their own file in the truncated range; checks that
# the probe saw as many truncates as the race made.  The last line printed is
# that count, or -1 if the probe missed truncates.
overlaps() {
	local overrun inos
	overrun=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$INST"/per_cpu/cpu*/stats)
	inos=$(stat -c %i "$MNT"/t/f* | paste -sd,)
	cat "$INST/trace" >"$work/trace.txt"
	$PY "$WBT" overlaps "$work/trace.txt" "$work/model.json.ops" "$inos" "$overrun" "$1"
}

round() { # $1 label, $2 mkfs features, $3 mount options
	local try n
	for try in $(seq "$TRIES"); do
		log "$1: mkfs.f2fs ${2:-(defaults)}, mount ${3:-(defaults)}; racing for ${RACE_SECS}s (try $try of at most $TRIES)"
		mkfs_mount "$2" "$3"
		flusher eager
		rm -f "$work/model.json" "$work/model.json.ops"
		if [ "$traced" = 1 ]; then echo >"$INST/trace"; echo 1 >"$INST/tracing_on"; fi
		$PY "$WBT" race "$MNT" "$RACE_SECS" "$work/model.json" || fail "$1: the race reported errors"
		if [ "$traced" = 1 ]; then echo 0 >"$INST/tracing_on"; fi
		restore_vm
		[ -s "$work/model.json" ] || { fail "$1: no model written"; return; }
		n=0
		if [ "$traced" = 1 ]; then
			overlaps "$1" >"$work/overlaps.out" || fail "$1: the trace could not be read"
			sed '$d' "$work/overlaps.out"
			n=$(tail -1 "$work/overlaps.out")
			[[ "$n" =~ ^[0-9]+$ ]] || { fail "$1: the truncate probe missed truncates (see above)"; n=0; }
		fi
		drop_caches
		$PY "$WBT" verify "$MNT" "$work/model.json" || fail "$1: data differs after sync + drop_caches"
		fsck_clean
		$PY "$WBT" verify "$MNT" "$work/model.json" || fail "$1: data differs after umount + fsck + mount"
		[ "$traced" = 1 ] || return      # failed at the start: the overlap cannot be shown
		if [ "$n" -gt 0 ]; then
			log "ok $1: a truncate ran into writeback of its own file ($n times)"
			return
		fi
		[ "$try" -lt "$TRIES" ] && log "$1: no truncate met writeback of its own file yet: racing again"
	done
	fail "$1: in $TRIES races of ${RACE_SECS}s no truncate ran into writeback of its own file: the race was not reached"
}

round default "" ""
round lfs-noinline "" "mode=lfs,noinline_data"
rm -rf "$work"
finish
