# Helpers for tests that run INSIDE the lab guest (sourced).  Each test makes
# its own file system on the scratch disk, so tests do not depend on each other.
# shellcheck shell=bash
set -euo pipefail
trap 'echo "  FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: \"$BASH_COMMAND\" exited $?"' ERR

DEV=${WBTRACE_SCRATCH:?not in the lab guest: run through ./wbtrace vm run}
MNT=${MNT:-/tmp/wbtest-mnt}
FAILS=0

log() { echo "  $*"; }
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); }
# keep_evidence NAME PATH...: copy PATHs where the host sees them, under
# results/guest-failures/NAME-VARIANT-STAMP (results/ is shared read-write).
keep_evidence() {
	local name=$1 keep
	shift
	keep=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/results/guest-failures/$name-${WBTRACE_VARIANT:-}-$(date +%Y%m%dT%H%M%S)
	mkdir -p "$keep" && cp -r "$@" "$keep/" && log "kept the evidence in $keep"
}
finish() { # exit status of the test
	mountpoint -q "$MNT" && umount "$MNT"
	[ "$FAILS" = 0 ] || { echo "  $FAILS check(s) failed"; exit 1; }
	exit 0
}

# mkfs_mount "<mkfs.f2fs features>" "<mount options>"
mkfs_mount() {
	mountpoint -q "$MNT" && umount "$MNT"
	mkdir -p "$MNT"
	mkfs.f2fs -q -f ${1:+-O "$1"} "$DEV" >/dev/null
	mount -t f2fs ${2:+-o "$2"} "$DEV" "$MNT"
	MOUNT_OPTS=$2
}
remount() { umount "$MNT"; mount -t f2fs ${MOUNT_OPTS:+-o "$MOUNT_OPTS"} "$DEV" "$MNT"; }
# need_tracer: TRACE is the built tracer (the test fails at once without it);
# the tests' Python checks can import tests/guest/tracecheck.py.
need_tracer() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	TRACE=${WBTRACE_TRACE:-$top/loader/build/wbtrace-trace}
	[ -x "$TRACE" ] || { echo "  FAIL: $TRACE not built (make -C loader)"; exit 1; }
	export PYTHONPATH=$top/tests/guest
}

# save_vm / restore_vm: the writeback knobs of /proc/sys/vm a test changes.
vm_saved=()
save_vm() {
	local k
	vm_saved=()
	for k in dirty_bytes dirty_background_bytes dirty_ratio dirty_background_ratio \
		dirty_expire_centisecs dirty_writeback_centisecs; do
		vm_saved+=("$k=$(cat /proc/sys/vm/$k)")
	done
}
restore_vm() {
	# The *_bytes and *_ratio knobs exclude each other: writing one zeroes the
	# other, so restore whichever of each pair was set (the non-zero one).
	local kv k v
	for kv in "${vm_saved[@]}"; do
		k=${kv%%=*} v=${kv#*=}
		case "$k" in dirty_bytes | dirty_background_bytes | dirty_ratio | dirty_background_ratio)
			[ "$v" = 0 ] && continue ;;
		esac
		echo "$v" >"/proc/sys/vm/$k" || echo "  cannot restore vm.$k=$v"
	done
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# flusher asleep|eager: the writeback knobs of /proc/sys/vm as workloads/sysio.py
# defines them (FLUSHER_ASLEEP: no periodic wake-up, no expiry for an hour;
# FLUSHER_EAGER: both every 10 ms).  save_vm/restore_vm put them back.
WORKLOADS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../workloads" && pwd)
SYSIO=$WORKLOADS/sysio.py
flusher() { /usr/bin/python3 "$SYSIO" vm "flusher-$1"; }
# tracer_exit NAME: the tracer's exit status WB_EXIT_NAME, read from its one
# table, WB_EXIT_CODES in loader/util.h (as workloads/runner/errors.py reads it).
UTIL_H=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../loader" && pwd)/util.h
tracer_exit() {
	local v
	v=$(sed -n "s/^[[:space:]]*X($1,[[:space:]]*\([0-9]*\),.*/\1/p" "$UTIL_H")
	[ -n "$v" ] || { echo "  FAIL: $UTIL_H has no tracer exit status $1" >&2; return 1; }
	echo "$v"
}

# probes_off: disable and remove a test's tracefs instance $INST (every event
# enabled in it) and its kprobe events $GRP/${PROBES[@]} in $TR, also those an
# earlier run of the test left in this boot.  For EXIT traps: it never fails.
probes_off() {
	local p e
	if [ -d "$INST" ]; then
		echo 0 >"$INST/tracing_on" 2>/dev/null || true
		for e in "$INST"/events/*/*/enable; do
			[ -e "$e" ] && { echo 0 >"$e"; } 2>/dev/null
		done
		rmdir "$INST" 2>/dev/null || echo "  cannot remove the tracefs instance $INST"
	fi
	[ -w "$TR/kprobe_events" ] || return 0
	for p in "${PROBES[@]}"; do
		if grep -q "^[pr][0-9]*:$GRP/$p " "$TR/kprobe_events"; then
			echo "-:$GRP/$p" >>"$TR/kprobe_events" 2>/dev/null || echo "  cannot remove the kprobe event $GRP/$p"
		fi
	done
	return 0
}
# kprobe_add DEFINITION: define a kprobe event in $TR/kprobe_events; when the
# kernel refuses it, print why (its error_log) and return 1: what a missing
# probe costs is the caller's to say.
kprobe_add() {
	if ! echo "$1" >>"$TR/kprobe_events" 2>/dev/null; then
		log "cannot define the kprobe event: $1"
		tail -3 "$TR/error_log" 2>/dev/null | sed 's/^/    /'
		return 1
	fi
}
sysfs_stat() { cat "/sys/fs/f2fs/$(basename "$DEV")/$1"; }

# fsck.f2fs on the unmounted device; it must find nothing to fix.
fsck_clean() {
	umount "$MNT"
	local out
	# the runner's verdict (workloads/fsckverdict.py): fsck.f2fs -f --dry-run
	if ! out=$(/usr/bin/python3 "$WORKLOADS/fsckverdict.py" "$DEV" 2>&1); then
		fail "fsck.f2fs reported problems"; echo "$out" | tail -26
	fi
	mount -t f2fs ${MOUNT_OPTS:+-o "$MOUNT_OPTS"} "$DEV" "$MNT"
}

# Write a file of $2 bytes: random data, or compressible text with $3 = text.
make_file() {
	local path=$1 size=$2 kind=${3:-random}
	if [ "$kind" = text ]; then
		# yes dies of SIGPIPE when head has enough: not an error here.
		(set +o pipefail; yes "f2fs writeback line $RANDOM of compressible text for the lab" | head -c "$size") >"$path"
	else
		head -c "$size" /dev/urandom >"$path"
	fi
}
sums() { (cd "$MNT" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
