#!/usr/bin/env bash
# Guest runner behaviour, with real boots of the lab kernel (~10 s each under TCG):
# exit status, shares, timeout, splat detection, Ctrl-C teardown, kernel text
# patching under TCG.  TAP output.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/kernel-patch/lab/vm.sh
# shellcheck source=kernel-patch/lab/exit-status.sh
. "$top/kernel-patch/lab/exit-status.sh" # EX_*: vm.sh's statuses
n=0 bad=0
tmp=$(mktemp -d "$top/results/.vmtest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

check() {
	local name=$1; shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then echo "ok $n $name"; else echo "not ok $n $name"; sed 's/^/#   /' "$tmp/out" | tail -8; bad=$((bad + 1)); fi
}
# qemu_count DISK: QEMU processes whose command line holds DISK, the --disk image
# of one run (-drive file=DISK): the one token of QEMU's command line that is
# unique to a run.  A "none left" count means something only if the same count
# saw the run's QEMU while it ran (qemu_seen).
qemu_count() { pgrep -f -- "qemu-system-x86_64 .*file=$(realpath -m -- "$1")," | wc -l; }
qemu_seen() { # qemu_seen DISK PID: wait until QEMU with DISK runs (while PID lives)
	local _
	for _ in $(seq 240); do
		[ "$(qemu_count "$1")" = 1 ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.5
	done
	echo "no QEMU with $1 on its command line was ever seen: the no-QEMU-left check could not fail"
	return 1
}

status_passes_through() {
	local rc=0
	"$vm" run -q -- sh -c 'test "$WBTRACE_GUEST" = 1 && exit 7' || rc=$?
	[ "$rc" = 7 ] || { echo "exit $rc, wanted 7"; return 1; }
}
shares_and_module() {
	# results/ is writable at the same path; / is not; the variant's f2fs is loaded.
	"$vm" run -q --variant patched -- sh -c "
		echo \$WBTRACE_VARIANT > '$tmp/from-guest' &&
		! touch '$top/.ro-probe' 2>/dev/null &&
		grep -q '^f2fs ' /proc/modules && grep -qw f2fs /proc/filesystems &&
		test -b \$WBTRACE_SCRATCH" || return 1
	[ "$(cat "$tmp/from-guest")" = patched ] || { echo "results share not written"; return 1; }
	[ ! -e "$top/.ro-probe" ] || { echo "host root was writable"; return 1; }
}
# fstests' lock tests (generic/131, 478, 571) connect over TCP to localhost:
# with lo down they fail with "Network is unreachable" on every variant.
loopback_up() {
	"$vm" run -q -- sh -c "ip -o link show lo | grep -q '[<,]UP[,>]' &&
		ip -o addr show lo | grep -q 'inet 127\.0\.0\.1/'" ||
		{ echo "lo is not up in the guest, or has no 127.0.0.1"; return 1; }
}
# What fstests needs from the lab kernel beyond its devices: swap files
# (/proc/swaps exists only with CONFIG_SWAP), and scsi_debug, which the tests
# load with modprobe and their own parameters: the kernel's modules are mounted
# on /lib/modules.
fstests_kernel_features() {
	"$vm" run -q -- sh -c "test -e /proc/swaps || { echo 'no swap support'; exit 1; }
		modprobe scsi_debug dev_size_mb=8 sector_size=4096 || exit 1
		grep -qw scsi_debug /sys/block/sd*/device/model || { echo 'no scsi_debug disk'; exit 1; }
		rmmod scsi_debug"
}
timeout_kills() {
	local rc=0 t0=$SECONDS pid disk=$tmp/timeout.img
	"$vm" run -q --timeout 25 --disk "$disk" --disk-size 64M -- sleep 600 &
	pid=$!
	qemu_seen "$disk" "$pid" || { kill "$pid"; wait "$pid"; return 1; }
	wait "$pid" || rc=$?
	[ "$rc" = "$EX_TIMEOUT" ] || { echo "exit $rc, wanted $EX_TIMEOUT"; return 1; }
	(( SECONDS - t0 < 60 )) || { echo "took $((SECONDS - t0)) s"; return 1; }
	[ "$(qemu_count "$disk")" = 0 ] || { echo "QEMU still running after the timeout"; return 1; }
}
splat_fails_run() {
	local rc=0
	"$vm" run -q -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at wbtrace/selftest" >/dev/kmsg' || rc=$?
	[ "$rc" = "$EX_SPLAT" ] || { echo "exit $rc, wanted $EX_SPLAT"; return 1; }
	rc=0
	"$vm" run -q --no-splat-check -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at wbtrace/selftest" >/dev/kmsg' || rc=$?
	[ "$rc" = 0 ] || { echo "--no-splat-check: exit $rc"; return 1; }
}
panic_is_reported() {
	local rc=0
	"$vm" run -q --no-splat-check -- sh -c 'echo c >/proc/sysrq-trigger; sleep 60' 2>"$tmp/panic.err" || rc=$?
	[ "$rc" = "$EX_NOREPORT" ] || { echo "exit $rc, wanted $EX_NOREPORT"; return 1; }
	# Its error line names the panic, however long the stack after it.
	grep -E '^vm: error: guest stopped without reporting an exit status: Kernel panic - not syncing: sysrq triggered crash' \
		"$tmp/panic.err" >/dev/null || { echo "no panic cause in the error line:"; tail -3 "$tmp/panic.err"; return 1; }
}
hung_test_reported() {
	# tests/guest/run-inside.sh: a test past WB_TEST_TIMEOUT is reported hung
	# with its processes' stacks and the blocked-task list; later tests are
	# reported not run; the suite fails, and the guest still powers off in
	# time (before the 300 s --timeout, EX_TIMEOUT).  A test starts with SIGINT not
	# ignored (t-first passes only then), as tests that send it need.
	local rc=0
	# shellcheck disable=SC2016 # expanded by the test, not here
	echo 'ign=$(awk "/^SigIgn/ { print \$2 }" /proc/$$/status); exit $(( (16#$ign & 2) != 0 ))' >"$tmp/t-first.sh"
	# An orphan that keeps the output open and that run-inside cannot find, as
	# a task stuck in the kernel would: the guest must still power off.
	printf '%s\n' '( setsid sleep 900 & )' 'sleep 600' >"$tmp/t-hang.sh"
	echo 'exit 0' >"$tmp/t-after.sh"
	"$vm" run -q --timeout 300 -- env WB_TEST_TIMEOUT=5 "$top/tests/guest/run-inside.sh" \
		"$tmp/t-first.sh" "$tmp/t-hang.sh" "$tmp/t-after.sh" >"$tmp/hang.out" 2>&1 || rc=$?
	cat "$tmp/hang.out"
	[ "$rc" = 1 ] || { echo "exit $rc, wanted 1"; return 1; }
	grep -E '^ok 1 t-first ' "$tmp/hang.out" >/dev/null &&
		grep -E '^not ok 2 t-hang .*\(hung: no result after 5s\)' "$tmp/hang.out" >/dev/null &&
		grep -E '^not ok 3 t-after .*\(not run: t-hang hung\)' "$tmp/hang.out" >/dev/null &&
		grep -E '^#   pid [0-9]+ \(sleep\) state S' "$tmp/hang.out" >/dev/null &&
		grep -E 'sysrq: Show Blocked State' "$tmp/hang.out" >/dev/null
}
ctrl_c_tears_down() {
	local pid rc=0 marker disk=$tmp/ctrlc.img
	marker=$tmp/ctrlc
	mkdir -p "$marker"
	# Job control gives the runner its own process group with SIGINT not
	# ignored, as for a command a user started in a terminal.
	# A shell started with SIGINT ignored (nohup, CI) cannot trap it, so the
	# runner is started with SIGINT reset to its default.
	set -m
	/usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
		"$vm" run -q --rw "$marker" --disk "$disk" --disk-size 64M --log-dir "$marker/logs" -- sh -c "touch '$marker/up'; sleep 600" &
	pid=$!
	set +m
	for _ in $(seq 120); do [ -e "$marker/up" ] && break; sleep 1; done
	[ -e "$marker/up" ] || { echo "guest never came up"; kill -INT -- -"$pid"; return 1; }
	qemu_seen "$disk" "$pid" || { kill -INT -- -"$pid"; return 1; }
	kill -INT -- -"$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || { echo "exit $rc, wanted 130"; return 1; }
	sleep 1
	[ "$(qemu_count "$disk")" = 0 ] || { echo "QEMU still running"; return 1; }
	# The kernel log of what ran still reaches --log-dir (fstests reads it for splats).
	grep -q 'Linux version' "$marker/logs/console.log" 2>/dev/null ||
		{ echo "no kernel log in --log-dir after Ctrl-C"; return 1; }
}

# A successful run in a cache that holds no kept runs exits 0.  vm.sh's clean-up
# once pruned old runs with an unmatched `ls run.*`, and set -e turned the
# guest's 0 into a silent 2 on every new machine.  The lab products are linked
# into an empty cache, so vm-runs/ starts empty.
clean_cache_exit_0() {
	local cache=$tmp/cache rc=0 d
	mkdir -p "$cache"
	eval "$("$top/kernel-patch/lab/build.sh" --print-paths)"
	for d in "$KERNEL_DIR" "$(dirname "$MODULE_STOCK")" "$(dirname "$MODULE_PATCHED")"; do
		ln -s "$d" "$cache/$(basename "$d")"
	done
	WBTRACE_CACHE=$cache "$vm" run -q -- true || rc=$?
	[ "$rc" = 0 ] || { echo "exit $rc, wanted 0"; return 1; }
	[ -z "$(ls -A "$cache/vm-runs")" ] || { echo "a successful run left $(ls "$cache/vm-runs")"; return 1; }
}
# A failing command's last line reaches the host, and vm.sh says why it failed.
last_words() {
	local rc=0
	"$vm" run -q -- sh -c 'echo "last words $$"; exit 3' >"$tmp/lw.out" 2>"$tmp/lw.err" || rc=$?
	[ "$rc" = 3 ] || { echo "exit $rc, wanted 3"; cat "$tmp/lw.err"; return 1; }
	grep -q '^last words [0-9]' "$tmp/lw.out" || { echo "the last line did not come through"; cat "$tmp/lw.out"; return 1; }
	grep -q 'guest command exited 3; its last line: last words [0-9]' "$tmp/lw.err" ||
		{ echo "no line saying why"; cat "$tmp/lw.err"; return 1; }
}
# A clone (and its working directory) under /tmp, which the guest replaces by
# a tmpfs: guest-init binds the host's path back, so the command finds its
# files; results/ of that clone is still shared read-write.
clone_under_tmp() {
	local d rc=0
	d=$(mktemp -d /tmp/wbtrace-clone.XXXXXX)
	cp -a "$top/kernel-patch" "$d/" || { rm -rf "$d"; return 1; }
	(cd "$d" && "$d/kernel-patch/lab/vm.sh" run -q -- sh -c \
		"test -x '$d/kernel-patch/lab/guest-init.sh' && test \"\$PWD\" = '$d' &&
		 echo seen > '$d/results/from-guest'") || rc=$?
	[ "$rc" = 0 ] || echo "exit $rc, wanted 0"
	[ "$rc" = 0 ] && [ "$(cat "$d/results/from-guest" 2>/dev/null)" = seen ] ||
		{ echo "the guest did not see the clone under /tmp, or could not write its results/"; rc=1; }
	rm -rf "$d"
	return "$rc"
}

text_patching_survived() {
	# Kernel text patched while every vCPU runs it: under QEMU 7.2's
	# multi-threaded TCG this panicked guests ("Oops: int3", vm.sh); 60 s of
	# tests/lab/text-poke-stress.sh, which panicked such a guest in about 3 min.
	local rc=0
	"$vm" run -q -- "$top/tests/lab/text-poke-stress.sh" 60 >"$tmp/poke.out" 2>&1 || rc=$?
	[ "$rc" = 0 ] || { echo "exit $rc"; tail -3 "$tmp/poke.out"; return 1; }
	grep -q "the guest survived" "$tmp/poke.out" || { echo "no survival line:"; tail -3 "$tmp/poke.out"; return 1; }
}

check "vm: command exit status comes back" status_passes_through
check "vm: a clone under /tmp (a tmpfs in the guest) works" clone_under_tmp
check "vm: results share rw, root ro, variant module loaded" shares_and_module
check "vm: the loopback interface is up (127.0.0.1)" loopback_up
check "vm: swap and scsi_debug (modprobe) for fstests" fstests_kernel_features
check "vm: a hung guest is killed at --timeout ($EX_TIMEOUT)" timeout_kills
check "vm: a WARNING in the kernel log fails a passing command ($EX_SPLAT)" splat_fails_run
check "vm: a kernel panic is reported ($EX_NOREPORT)" panic_is_reported
check "vm: a hung guest test is reported, the rest not run" hung_test_reported
check "vm: Ctrl-C stops the guest and leaves no QEMU (130)" ctrl_c_tears_down
check "vm: a successful run exits 0 when the cache holds no kept runs" clean_cache_exit_0
check "vm: a failing command's last line and exit status reach the host" last_words
check "vm: kernel text patched under load does not panic the guest" text_patching_survived

echo "$((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
