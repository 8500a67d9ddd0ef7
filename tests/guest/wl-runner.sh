#!/bin/bash
# Runs INSIDE the lab guest: the workload runner's failure paths.
#  - a deliberately corrupted file is caught (through the block device, and through
#    the file for the race driver's own check): run marked failed, evidence kept;
#  - Ctrl-C in the middle of a workload: exit 130, nothing left mounted or running,
#    device settings restored, staging removed, no meta.json for the broken rep;
#  - --target host on a named device (the host code path) and refusals.
# The runner logic does not depend on the f2fs variant: on "patched" this only
# repeats the cheapest check.
# shellcheck source-path=SCRIPTDIR source=wl-lib.sh
. "$(dirname "$0")/wl-lib.sh"
meta() { wl_json get "$1/meta.json" "${@:2}"; } # meta RUNDIR KEY...: values of its meta.json

corrupt() { # corrupt NAME WORKLOAD SPEC EXPECT_IN_VERIFY_TXT
	local d=$out/$1 rc=0
	"$run" run "$2" --size 4M -o "$d" --quiet --inject-corruption="$3" >"$d.log" 2>&1 || rc=$?
	if [ "$rc" != 1 ]; then fail "$1: exit $rc, expected 1 (run failed)"; tail -5 "$d.log"; return; fi
	local v
	v=$(meta "$d" verify.fio_verify verify.after_drop_caches verify.after_remount verify.fsck)
	[ "$v" = "pass fail fail pass" ] || fail "$1: verify steps $v"
	grep -q "INJECTED CORRUPTION" "$d/verify.txt" || fail "$1: verify.txt does not record the injection"
	grep -q "$4" "$d/verify.txt" || fail "$1: verify.txt lacks '$4'"
	(cd "$top" && $PY -m analysis validate "$d" >/dev/null) || fail "$1: evidence dir does not validate"
	for f in fio.json verify/manifest.txt verify/fsck.txt dmesg.txt run.log; do
		[ -s "$d/$f" ] || fail "$1: evidence $f missing"
	done
	echo "  ok $1: corruption caught ($(grep -m1 FAIL "$d/verify.txt" | cut -c1-110))"
}

nothing_left() { # what: no f2fs mount, no helper process, bdi restored, no staging dir
	grep -q ' f2fs ' /proc/mounts && fail "$1: f2fs still mounted: $(grep ' f2fs ' /proc/mounts)"
	for p in wbtrace-trace blktrace fio; do
		pgrep -x "$p" >/dev/null && fail "$1: $p still running"
	done
	local b
	b=/sys/class/block/$(basename "$WBTRACE_SCRATCH")/bdi
	[ "$(cat "$b/strict_limit")" = "$bdi_strict" ] || fail "$1: bdi strict_limit not restored"
	[ "$(cat "$b/max_ratio")" = "$bdi_max" ] || fail "$1: bdi max_ratio not restored"
	ls -d /tmp/wbtrace-* >/dev/null 2>&1 && fail "$1: staging dir left: $(ls -d /tmp/wbtrace-*)"
}
bdi_strict=$(cat "/sys/class/block/$(basename "$WBTRACE_SCRATCH")/bdi/strict_limit")
bdi_max=$(cat "/sys/class/block/$(basename "$WBTRACE_SCRATCH")/bdi/max_ratio")

if [ "${WBTRACE_VARIANT:-stock}" = stock ]; then
	corrupt randwrite-dev fio-randwrite dev "crc32c: verify failed"
	nothing_left "after a failed run"
	corrupt race-file fio-trunc-race file:race.dat "driver check: wbrace: FAIL"

	# Ctrl-C during the workload (SIGINT to the runner's process group, as a terminal does).
	d=$out/interrupted
	# Job control on: the runner gets its own process group and, unlike a plain
	# background job of a script, does not start with SIGINT ignored.
	set -m
	"$run" run fio-seqwrite --size 64M -o "$d" --quiet >"$d.log" 2>&1 &
	pid=$!
	set +m
	for _ in $(seq 1 600); do          # wait until fio runs under the tracer
		ls /tmp/wbtrace-*/fio.log >/dev/null 2>&1 && break
		sleep 0.2
	done
	sleep 2
	kill -INT -- -"$pid" 2>/dev/null
	rc=0; wait "$pid" || rc=$?
	[ "$rc" = 130 ] || { fail "interrupt: exit $rc, expected 130"; tail -5 "$d.log"; }
	[ -e "$d/meta.json" ] && fail "interrupt: meta.json written for an interrupted rep"
	grep -q INTERRUPTED "$d/verify.txt" 2>/dev/null || fail "interrupt: verify.txt does not say INTERRUPTED"
	nothing_left "after Ctrl-C"
	[ "$fails" = 0 ] && echo "  ok Ctrl-C during the workload: exit 130, nothing left behind"

	# The host code path on a named device; then refusals.
	d=$out/host
	if "$run" run fio-fsync --target host --device "$WBTRACE_SCRATCH" --size 2M --no-trace -o "$d" --quiet >"$d.log" 2>&1; then
		t=$(meta "$d" target variant verify.after_remount)
		[ "$t" = "host host-other pass" ] && echo "  ok --target host --device: $t" || fail "host run: $t"
	else
		fail "--target host --device $WBTRACE_SCRATCH failed"; tail -8 "$d.log"
	fi
	mkdir -p /tmp/wl-mnt && mount -t tmpfs none /tmp/wl-mnt && mkfs.f2fs -q -f "$WBTRACE_SCRATCH" >/dev/null &&
		mount -t f2fs "$WBTRACE_SCRATCH" /tmp/wl-mnt 2>/dev/null
	msg=$("$run" run fio-fsync --target host --device "$WBTRACE_SCRATCH" -o "$out/inuse" 2>&1); rc=$?
	[ "$rc" = 4 ] && grep -q "mounted on /tmp/wl-mnt" <<<"$msg" && echo "  ok mounted device refused: $msg" ||
		fail "mounted device: exit $rc: $msg"
	umount /tmp/wl-mnt; umount /tmp/wl-mnt 2>/dev/null
	# --image: the tool makes the image, attaches it to a loop device, runs, verifies
	# and removes both; refusals leave a user's image untouched; a failed run keeps
	# the image as evidence but still detaches it.  The lab kernel has loop built in.
	no_loop() { # what: no loop device attached, no f2fs mount
		[ -z "$(losetup -a)" ] || fail "$1: loop device left: $(losetup -a)"
		grep -q ' f2fs ' /proc/mounts && fail "$1: f2fs still mounted"
		return 0
	}
	if [ ! -e /dev/loop-control ]; then
		fail "the lab kernel has no loop device (CONFIG_BLK_DEV_LOOP missing from lab.config?)"
	else
		img=/tmp/wl-img.img d=$out/img
		if "$run" run fio-fsync --target host --image "$img" --size 2M -o "$d" --quiet >"$d.log" 2>&1; then
			t=$(meta "$d" target verify.after_remount verify.fsck drops tracer.mode)
			dl=$(meta "$d" f2fs.device)
			# The last value, the tracer's mode: anything but off.
			if [ "${t% *}" = "host pass pass 0" ] && [ "${t##* }" != off ] && grep -q "/dev/loop" <<<"$dl" &&
				[ ! -e "$img" ]; then
				echo "  ok --image: traced run on $dl verified, image removed: $t"
			else
				fail "--image run: $t, device $dl, image $(ls "$img" 2>&1)"
			fi
		else
			fail "--image run failed"; tail -8 "$d.log"
		fi
		no_loop "after the --image run"
		# A user's image that is too small: refused, left as it was.
		head -c 1M /dev/zero >"$img"
		msg=$("$run" run fio-fsync --target host --image "$img" -o "$out/small" 2>&1); rc=$?
		[ "$rc" = 4 ] && grep -q "too small" <<<"$msg" && [ "$(stat -c %s "$img")" = 1048576 ] &&
			echo "  ok too-small image refused and kept: $msg" || fail "small image: exit $rc: $msg"
		# An image already attached elsewhere: refused, the other attachment untouched.
		truncate -s 1G "$img"
		ld=$(losetup --find --show "$img")
		msg=$("$run" run fio-fsync --target host --image "$img" -o "$out/busy" 2>&1); rc=$?
		[ "$rc" = 4 ] && grep -q "already attached" <<<"$msg" && [ "$(losetup -j "$img" | cut -d: -f1)" = "$ld" ] &&
			echo "  ok attached image refused: $msg" || fail "attached image: exit $rc: $msg"
		losetup -d "$ld"
		rm -f "$img"
		# A failed verification: the tool-made image is kept as evidence, the loop device is not.
		d=$out/img-corrupt
		rc=0
		"$run" run fio-fsync --target host --image "$img" --size 2M --no-trace -o "$d" --quiet \
			--inject-corruption=dev >"$d.log" 2>&1 || rc=$?
		[ "$rc" = 1 ] && [ -s "$img" ] && grep -q "kept as evidence: $img" "$d.log" &&
			echo "  ok failed --image run: exit 1, image kept as evidence" ||
			{ fail "failed --image run: exit $rc, image $(ls -s "$img" 2>&1)"; tail -5 "$d.log"; }
		no_loop "after the failed --image run"
		rm -f "$img"
	fi
else
	echo "  (runner failure paths are variant-independent: full set on stock only)"
	corrupt randwrite-file fio-randwrite file "crc32c: verify failed"
fi
nothing_left "at the end"

rm -rf "$out"
[ "$fails" = 0 ] || { echo "  $fails check(s) failed"; exit 1; }
exit 0
