#!/usr/bin/env bash
# Run a command in the lab guest: the lab kernel under QEMU, the host's / shared
# read-only over 9p (so the project's binaries, fio, f2fs-tools and python run
# unchanged), a sparse scratch disk as /dev/vda, the chosen f2fs.ko loaded.
#
# Why not virtme-ng: it is a trixie package whose init needs udev and has path
# quirks (--rwdir relative to cwd); we need only a few things it does, plus
# control it does not give: exit status, a hard timeout, the kernel log kept for
# splat scanning, and nothing left behind on Ctrl-C.
set -euo pipefail
# shellcheck disable=SC2034 # read by common.sh
WB_TAG=vm
. "$(dirname "$0")/common.sh"

# shellcheck source=kernel-patch/lab/exit-status.sh
. "$WB_LAB/exit-status.sh" # EX_*: the exit statuses besides the command's own

usage() {
	cat <<EOF
Usage: ./wbtrace vm run   [OPTIONS] -- CMD [ARGS...]
       ./wbtrace vm shell [OPTIONS]
       ./wbtrace vm accel    (prints the accelerator a run would use: kvm,
                             tcg,thread=single or tcg,thread=multi)

Boot the lab kernel (Linux $WB_KVER) in QEMU and run CMD inside as root, in the
current directory.  The host's / is visible read-only at the same paths; /tmp is
a tmpfs (a clone, working directory or cache under it is bound back in); the
repo's results/ and every --rw DIR are shared read-write.  The f2fs
variant's module is loaded before CMD runs.  Inside, WBTRACE_GUEST=1,
WBTRACE_VARIANT, WBTRACE_SCRATCH (/dev/vda, a blank disk; /dev/ram0 with --scratch ram) and
WBTRACE_MODULE_STOCK / WBTRACE_MODULE_PATCHED (to swap variants with
rmmod + insmod in one boot) are set, and WBTRACE_MODULE_CANARY when the
test-only canary module is built (empty otherwise).

Options:
  --variant stock|patched|canary  f2fs module to load (default: stock; canary:
                           stock + tests/canary/*.patch, built when first booted)
  --debug                  use the verification kernel (lockdep, atomic-sleep, KASAN)
  --disk-size SIZE         scratch disk size, sparse (default: 2G)
  --disk FILE              use FILE as the scratch disk (kept; created if missing)
  --scratch disk|ram       what WBTRACE_SCRATCH is: disk = /dev/vda, a file on the
                           host (default); ram = /dev/ram0, a RAM disk of
                           --disk-size in guest memory (added to --mem), so a
                           rep does no host I/O and, with --icount, the guest
                           clock counts guest instructions only
  --extra-disk SIZE        one more blank sparse disk, /dev/vdb, /dev/vdc, ... in
                           the order given (repeatable; removed at the end)
  --rw DIR                 share DIR read-write at the same path (repeatable)
  --mem SIZE               guest memory (default: 2G)
  --cpus N                 guest CPUs (default: 2)
  --accel auto|kvm|tcg     accelerator (default: auto = KVM if a real boot works,
                           else TCG; or WBTRACE_ACCEL)
  --icount SPEC            TCG only: QEMU -icount SPEC, guest time counted in
                           executed instructions (e.g. shift=3,align=off, the
                           steady one in README; 'off' = none; default
                           WBTRACE_ICOUNT).  Refused with KVM.  sleep=off
                           races the guest clock ahead while the guest waits
                           for I/O: guest-side timeouts fire
  --timeout SEC            kill the guest after SEC seconds (default: 3600)
  --log-dir DIR            copy the guest kernel log (console.log, dmesg.txt) there
  --no-build               fail instead of building a missing kernel/module
  --no-splat-check         do not fail on WARN/BUG/lockdep/KASAN lines
  -q, --quiet              no progress lines

Under TCG the vCPUs take turns on one host thread (-accel tcg,thread=single):
QEMU 7.2's multi-threaded TCG can run a stale translation of kernel text the
guest has just patched, and the guest panics.  WBTRACE_TCG_THREAD=multi brings
it back (to check a newer QEMU: tests/lab/text-poke-stress.sh provokes it).
Under TCG without --icount the guest kernel is given the host's TSC rate
(tsc_early_khz=, measured once per host boot) instead of timing it against the
emulated PIT; WBTRACE_TSC_KHZ=N gives the rate in kHz, WBTRACE_TSC_KHZ=off omits it.

Exit status: CMD's own, or one of kernel-patch/lab/exit-status.sh:
$(awk '/^EX_[A-Z]+=[0-9]+ # / { split($1, kv, "="); sub(/^[^#]*# /, ""); printf "  %-4s %s\n", kv[2], $0 }' "$WB_LAB/exit-status.sh")
EOF
}

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
run|shell|accel) ;;
-h|--help|help) usage; exit 0 ;;
*) usage >&2; wb_die $EX_USAGE "unknown vm command '${mode}' (run, shell, accel)" ;;
esac

variant=stock flavor="" disk_size=2G disk="" scratch=disk mem=2G cpus=2 timeout=3600
accel=${WBTRACE_ACCEL:-auto} icount=${WBTRACE_ICOUNT:-} log_dir="" build=1 splat_check=1 quiet=0
rw_dirs=() extra_disks=()
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant=${2:?}; shift ;;
	--debug) flavor=debug ;;
	--disk-size) disk_size=${2:?}; shift ;;
	--disk) disk=${2:?}; shift ;;
	--scratch) scratch=${2:?}; shift ;;
	--extra-disk) extra_disks+=("${2:?}"); shift ;;
	--rw) rw_dirs+=("$(realpath -e "${2:?}" 2>/dev/null || wb_die $EX_USAGE "--rw $2: no such directory")"); shift ;;
	--mem) mem=${2:?}; shift ;;
	--cpus) cpus=${2:?}; shift ;;
	--accel) accel=${2:?}; shift ;;
	--icount) icount=${2:?}; shift ;;
	--timeout) timeout=${2:?}; shift ;;
	--log-dir) log_dir=${2:?}; shift ;;
	--no-build) build=0 ;;
	--no-splat-check) splat_check=0 ;;
	-q|--quiet) quiet=1 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; wb_die $EX_USAGE "unknown option '$1'" ;;
	esac
	shift
done
case "$variant" in stock|patched|canary) ;; *) wb_die $EX_USAGE "unknown variant '$variant' (stock, patched or canary)" ;; esac
case "$accel" in auto|kvm|tcg) ;; *) wb_die $EX_USAGE "unknown accelerator '$accel' (auto, kvm, tcg)" ;; esac
case "$scratch" in disk|ram) ;; *) wb_die $EX_USAGE "unknown scratch '$scratch' (disk or ram)" ;; esac
[ "$scratch" = ram ] && [ -n "$disk" ] && wb_die $EX_USAGE "--disk FILE is the disk scratch; --scratch ram keeps its data in guest memory"
disk_bytes=$(numfmt --from=iec "$(tr a-z A-Z <<<"${disk_size%[bB]}")" 2>/dev/null) || wb_die $EX_USAGE "--disk-size '$disk_size': not a size (e.g. 2G, 2048M)"
mem_bytes=$(numfmt --from=iec "$(tr a-z A-Z <<<"${mem%[bB]}")" 2>/dev/null) || wb_die $EX_USAGE "--mem '$mem': not a size (e.g. 2G, 4096M)"
# -icount SPEC: QEMU 7.2's keys shift=N|auto (N 0..10; a bare first value is the
# shift), align=on|off, sleep=on|off.  Checked here so that a typo is exit 2, not
# a QEMU failure after the lab checks.
[ "$icount" = off ] && icount=""
tsc_khz=${WBTRACE_TSC_KHZ:-}
[[ $tsc_khz =~ ^(|off|[1-9][0-9]{4,7})$ ]] || wb_die $EX_USAGE "WBTRACE_TSC_KHZ='$tsc_khz': the host TSC rate in kHz (e.g. 2600000) or off"
tcg_thread=${WBTRACE_TCG_THREAD:-single}
[[ $tcg_thread =~ ^(single|multi)$ ]] || wb_die $EX_USAGE "WBTRACE_TCG_THREAD='$tcg_thread': single or multi"
[ -z "$icount" ] || [ "$tcg_thread" = single ] || wb_die $EX_USAGE "WBTRACE_TCG_THREAD=multi: QEMU refuses it with --icount"
if [ -n "$icount" ]; then
	icount_bad() { wb_die $EX_USAGE "--icount '$icount': $1 (e.g. shift=3,align=off, or shift=auto)"; }
	ic_shift="" ic_align="" ic_sleep="" first=1
	IFS=, read -r -a ic_parts <<<"$icount"
	[ ${#ic_parts[@]} -gt 0 ] || icount_bad "empty"
	for part in "${ic_parts[@]}"; do
		if [ "$first" = 1 ] && [[ "$part" != *=* ]]; then part=shift=$part; fi
		first=0
		case "$part" in
		shift=auto|shift=[0-9]|shift=10) ic_shift=${part#shift=} ;;
		shift=*) icount_bad "shift takes 0..10 or auto" ;;
		align=on|align=off) ic_align=${part#align=} ;;
		sleep=on|sleep=off) ic_sleep=${part#sleep=} ;;
		align=*|sleep=*) icount_bad "${part%%=*} takes on or off" ;;
		*) icount_bad "unknown part '$part' (shift, align, sleep)" ;;
		esac
	done
	[ -n "$ic_shift" ] || icount_bad "needs a shift"
	[ "$ic_align" = on ] && [ "$ic_sleep" = off ] && icount_bad "align=on and sleep=off are incompatible"
	[ "$accel" = kvm ] && wb_die $EX_USAGE "--icount works only with TCG, not with --accel kvm"
fi
[[ "$timeout" =~ ^[0-9]+$ ]] || wb_die $EX_USAGE "--timeout takes seconds"
if [ "$mode" = run ] && [ $# -eq 0 ]; then wb_die $EX_USAGE "vm run needs a command after --"; fi
[ "$mode" = shell ] && [ ! -t 0 ] && wb_die $EX_USAGE "vm shell needs a terminal"

progress() { [ "$quiet" = 1 ] || wb_log "$@"; }
command -v qemu-system-x86_64 >/dev/null || wb_die $EX_SETUP "qemu-system-x86_64 not found: run 'sudo ./wbtrace setup'"

# `vm accel` needs the lab kernel only for the KVM probe boot (auto without
# --icount): a given accelerator is answered before any build.
if [ "$mode" = accel ] && { [ "$accel" != auto ] || [ -n "$icount" ]; }; then
	[ "$accel" = auto ] && accel=tcg
	if [ "$accel" = tcg ]; then echo "tcg,thread=$tcg_thread"; else echo "$accel"; fi
	exit 0
fi

# The lab products; build what is missing (cached builds return at once).
eval "$("$WB_LAB/build.sh" ${flavor:+--debug} --print-paths)"
module_var=MODULE_${variant^^}
module=${!module_var}
# Both modules are offered to the guest (an A/B run swaps them in one boot).
if [ ! -e "$KERNEL_DIR/.done" ] || [ ! -e "$(dirname "$MODULE_STOCK")/.done" ] ||
	[ ! -e "$(dirname "$MODULE_PATCHED")/.done" ]; then
	[ "$build" = 1 ] || wb_die $EX_SETUP "lab kernel or f2fs modules not built: run './wbtrace lab build${flavor:+ --debug}'"
	"$WB_LAB/build.sh" ${flavor:+--debug} >&2 || wb_die $EX_SETUP "lab build failed"
fi
# The test-only canary module is offered when built (booting it builds it).
if [ "$variant" = canary ] && [ ! -e "$(dirname "$MODULE_CANARY")/.done" ]; then
	[ "$build" = 1 ] || wb_die $EX_SETUP "the canary f2fs module is not built: run './wbtrace lab build --variant canary'"
	"$WB_LAB/build.sh" ${flavor:+--debug} --variant canary >&2 || wb_die $EX_SETUP "canary build failed"
fi
[ -e "$(dirname "$MODULE_CANARY")/.done" ] || MODULE_CANARY=""

# Per-run control directory, shared with the guest; removed on exit.
mkdir -p "$WB_CACHE/vm-runs"
run=$(mktemp -d "$WB_CACHE/vm-runs/run.XXXXXX")
qemu_pid=""
logs_copied=0
copy_logs() {
	mkdir -p "$log_dir"
	cp "$run/console.log" "$log_dir/console.log" 2>/dev/null || true
	cp "$run/dmesg.txt" "$log_dir/dmesg.txt" 2>/dev/null || true
	logs_copied=1
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill -TERM "$qemu_pid" 2>/dev/null; sleep 1; kill -KILL "$qemu_pid" 2>/dev/null || true
	fi
	[ -t 0 ] && stty sane 2>/dev/null
	# Interrupted or failed before the copy below: the caller still gets the
	# kernel log of what ran (fstests attributes splats to tests with it).
	[ -z "$log_dir" ] || [ "$logs_copied" = 1 ] || copy_logs
	rm -f "$run/scratch.img" "$run"/extra*.img
	if [ "$rc" = 0 ]; then rm -rf "$run"; else [ -d "$run" ] && wb_log "guest logs kept in $run"; fi
	# Keep only the newest 10 failed runs.
	wb_keep_newest 10 "$WB_CACHE/vm-runs" 'run.*'
	exit "$rc"
}
trap cleanup EXIT
trap 'wb_log "interrupted: stopping the guest"; exit 130' INT TERM
# set -e ends the script on any failed command: say which, never exit silently.
trap 'wb_log "internal error: \"$BASH_COMMAND\" failed (exit $?) at vm.sh line $LINENO"' ERR

# A short real boot decides whether KVM works; the answer is cached per host boot.
kvm_works() {
	[ -w /dev/kvm ] || { echo "no writable /dev/kvm"; return 1; }
	local cache_file
	cache_file=$WB_CACHE/accel.$(cat /proc/sys/kernel/random/boot_id).$(qemu-system-x86_64 --version | head -1 | tr -dc 0-9.)
	if [ -e "$cache_file" ]; then
		read -r verdict reason <"$cache_file"
		echo "$reason"; [ "$verdict" = kvm ]; return
	fi
	local probe log
	progress "deciding the accelerator: a short real KVM boot (result cached per host boot)"
	probe=$(mktemp -d "$WB_CACHE/vm-runs/kvmprobe.XXXXXX")
	log=$probe/console.log
	# shellcheck disable=SC2054 # commas belong to QEMU options
	timeout 40 qemu-system-x86_64 -accel kvm -cpu host -m 256M -smp 1 -nodefaults -no-user-config \
		-display none -no-reboot -kernel "$BZIMAGE" -serial "file:$log" \
		-append "console=ttyS0 panic=-1 rdinit=/wbtrace-no-such-init init=/wbtrace-no-such-init" \
		>"$probe/qemu.out" 2>&1 || true
	local reason verdict=tcg
	if grep -q "Run /wbtrace-no-such-init\|No working init found\|Kernel panic" "$log" 2>/dev/null; then
		verdict=kvm reason="a real KVM boot reached init"
	elif grep -q "MSR\|kvm" "$probe/qemu.out" 2>/dev/null; then
		reason="KVM boot failed: $(grep -m1 -i "msr\|kvm" "$probe/qemu.out" | cut -c1-120)"
	else
		reason="KVM boot did not reach the kernel within 40 s"
	fi
	rm -rf "$probe"
	echo "$verdict $reason" >"$cache_file"
	echo "$reason"; [ "$verdict" = kvm ]
}

# The host's TSC rate in kHz, or a reason on stdout and status 1.  Without -icount,
# TCG's rdtsc returns the host's TSC (QEMU 7.2 cpu_get_ticks(): cpu_get_host_ticks()
# plus an offset), yet the guest kernel times that rate against the emulated PIT in
# a busy loop, which a loaded host disturbs: it once took 680 MHz for this host's
# 2600 MHz, and no later check fixes that (the refinement against the HPET keeps the
# first value when they differ by more than 1 %; tsc=reliable turns off the
# watchdog), so the guest clock ran fast (878 s for 267 s) and in-guest timeouts fired early.
# tsc_early_khz= replaces that calibration; the refinement may still move it by
# less than 1 %.  Measured against CLOCK_MONOTONIC (what QEMU's virtual clock, and
# so the guest's HPET, follows) by host_tsc_khz.py; not
# /proc/cpuinfo's "cpu MHz", which is the current core clock wherever cpufreq or
# APERF/MPERF is there.  Else the host kernel's own value from its log.
host_tsc_khz() {
	[ "$(uname -m)" = x86_64 ] || { echo "the host is not x86_64"; return 1; }
	grep -qw constant_tsc /proc/cpuinfo || { echo "the host's TSC rate is not constant"; return 1; }
	local cache_file khz
	cache_file=$WB_CACHE/host-tsc-khz.$(cat /proc/sys/kernel/random/boot_id)
	if [ -r "$cache_file" ] && read -r khz <"$cache_file" && [[ $khz =~ ^[1-9][0-9]{4,7}$ ]]; then
		echo "$khz"; return 0
	fi
	khz=$(timeout 20 python3 "$WB_LAB/host_tsc_khz.py" 2>/dev/null) || khz=""
	if ! [[ $khz =~ ^[1-9][0-9]{4,7}$ ]]; then
		# tsc: Refined TSC clocksource calibration: / Detected ... MHz TSC / processor
		khz=$( { dmesg 2>/dev/null || journalctl -k -b -q 2>/dev/null; } | sed -nE \
			-e 's/.*tsc: Refined TSC clocksource calibration: ([0-9]+)\.([0-9]{3}) MHz.*/1 \1\2/p' \
			-e 's/.*tsc: Detected ([0-9]+)\.([0-9]{3}) MHz TSC.*/2 \1\2/p' \
			-e 's/.*tsc: Detected ([0-9]+)\.([0-9]{3}) MHz processor.*/3 \1\2/p' |
			sort -s -n -k1,1 | awk 'NR == 1 { print $2 }')
	fi
	[[ $khz =~ ^[1-9][0-9]{4,7}$ ]] || { echo "neither measured nor in the host's kernel log"; return 1; }
	echo "$khz" >"$cache_file.$$" && mv -f "$cache_file.$$" "$cache_file" || rm -f "$cache_file.$$"
	echo "$khz"
}

if [ "$accel" = auto ] && [ -n "$icount" ]; then
	accel=tcg
	progress "accelerator: tcg (-icount $icount needs TCG)"
elif [ "$accel" = auto ]; then
	if why=$(kvm_works); then accel=kvm; else accel=tcg; fi
	progress "accelerator: $accel ($why)"
else
	progress "accelerator: $accel (forced)"
fi
# `vm accel`: what the runner records as meta.json host.accel (kvm, or tcg with
# its thread mode: runs made in unlike modes are not compared).
if [ "$mode" = accel ]; then
	if [ "$accel" = tcg ]; then echo "tcg,thread=$tcg_thread"; else echo "$accel"; fi
	exit 0
fi
# shellcheck disable=SC2054 # commas belong to QEMU options
if [ "$accel" = kvm ]; then accel_opts=(-accel kvm -cpu host)
else
	# The vCPUs take turns on one host thread.  -icount needs it ("No MTTCG when
	# icount is enabled"), and without -icount QEMU 7.2's multi-threaded TCG can
	# translate kernel text while another vCPU patches it (text_poke_bp(): a BPF
	# attach, a static key) and keep that stale translation: the guest then runs
	# an INT3 the kernel already took out and panics ("Oops: int3" in
	# release_pages, in CI; tests/lab/vm-guest.sh provokes it).
	accel_opts=(-accel "tcg,thread=$tcg_thread" -cpu max)
	[ -z "$icount" ] || accel_opts+=(-icount "$icount")
fi
# Under TCG without -icount the guest's TSC is the host's: give the guest its rate
# (see host_tsc_khz).  Under -icount the TSC, PIT and HPET all count guest
# instructions and the guest's own calibration agrees with them; KVM has kvmclock.
tsc_opt=""
if [ "$accel" = tcg ] && [ -z "$icount" ] && [ "$tsc_khz" != off ]; then
	if [ -z "$tsc_khz" ] && ! tsc_khz=$(host_tsc_khz); then
		wb_log "host TSC rate unknown ($tsc_khz): the guest calibrates it itself, and its clock may run fast or slow"
	else
		tsc_opt=" tsc_early_khz=$tsc_khz"
	fi
fi

# The results dir of the repo is always shared read-write.
mkdir -p "$WB_TOP/results"
rw_dirs=("$WB_TOP/results" "${rw_dirs[@]}")

# Scratch disk.  With --scratch ram the blank /dev/vda is still attached, so
# that extra disks keep their names (vdb, vdc, ...).
scratch_dev=/dev/vda
[ "$scratch" = ram ] && scratch_dev=/dev/ram0
if [ -n "$disk" ]; then
	[ -e "$disk" ] || truncate -s "$disk_size" "$disk"
	disk_file=$(realpath "$disk")
else
	disk_file=$run/scratch.img
	truncate -s "$disk_size" "$disk_file" || wb_die $EX_SETUP "cannot create a $disk_size scratch image in $run"
fi

extra_drives=()
i=1
for size in "${extra_disks[@]}"; do
	truncate -s "$size" "$run/extra$i.img" || wb_die $EX_SETUP "cannot create a $size extra disk image in $run"
	extra_drives+=(-drive "if=none,id=extra$i,file=$run/extra$i.img,format=raw,cache=writeback,discard=unmap"
		-device "virtio-blk-pci,drive=extra$i")
	i=$((i + 1))
done

# What the guest init reads.
{
	printf 'WB_CWD=%q\n' "$PWD"
	printf 'WB_MODULE=%q\n' "$module"
	printf 'WB_MODULE_STOCK=%q\n' "$MODULE_STOCK"
	printf 'WB_MODULE_PATCHED=%q\n' "$MODULE_PATCHED"
	printf 'WB_MODULE_CANARY=%q\n' "$MODULE_CANARY"
	printf 'WB_KERNEL_MODULES=%q\n' "$KERNEL_MODULES"
	printf 'WB_VARIANT=%q\n' "$variant"
	printf 'WB_SCRATCH=%q\n' "$scratch_dev"
	printf 'WB_MODE=%q\n' "$mode"
	printf 'WB_TERM=%q\n' "${TERM:-linux}"
	printf 'WB_TIMEOUT=%q\n' "$timeout"
	printf 'WB_RW_PATHS=('; printf '%q ' "${rw_dirs[@]}"; printf ')\n'
	printf 'WB_CMD=('; [ $# -gt 0 ] && printf '%q ' "$@"; printf ')\n'
} >"$run/env"

shares=(-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
	-device "virtio-9p-pci,fsdev=root,mount_tag=/dev/root"
	-fsdev "local,id=wbctl,path=$run,security_model=none"
	-device "virtio-9p-pci,fsdev=wbctl,mount_tag=wbctl")
i=0
for d in "${rw_dirs[@]}"; do
	shares+=(-fsdev "local,id=wbrw$i,path=$d,security_model=none"
		-device "virtio-9p-pci,fsdev=wbrw$i,mount_tag=wbrw$i")
	i=$((i + 1))
done

cmdline="console=ttyS0 loglevel=6 panic=-1 \
root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro \
init=$WB_LAB/guest-init.sh tsc=reliable no_timer_check$tsc_opt"
# KASAN's shadow bounds follow the LA57 feature bit (__VIRTUAL_MASK_SHIFT), which
# identify_cpu() clears and sets again at boot: an interrupt in between reports
# a "wild-memory-access" on a direct-map address.  TCG's -cpu max has LA57, so
# the debug kernel runs with 4-level paging.
[ "$flavor" = debug ] && cmdline+=" no5lvl"
if [ "$scratch" = ram ]; then
	# brd allocates a page on first write and frees it on discard (mkfs.f2fs
	# discards the whole device), so the memory in use follows the data.
	cmdline+=" brd.rd_nr=1 brd.rd_size=$(((disk_bytes + 1023) / 1024))"
	mem="$(((mem_bytes + disk_bytes + 1048575) / 1048576))M"
fi

progress "booting $(tail -n 1 "$KERNEL_DIR/release") with f2fs $variant ($accel${icount:+ -icount $icount}, $cpus vCPU$([ "$cpus" = 1 ] || echo s), $mem, scratch $scratch_dev${flavor:+, debug kernel})"
t0=$(date +%s)
# shellcheck disable=SC2054 # commas belong to QEMU options
qemu=(qemu-system-x86_64 "${accel_opts[@]}" -machine q35 -m "$mem" -smp "$cpus" \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$BZIMAGE" -append "$cmdline" \
	-serial "file:$run/console.log" \
	-chardev stdio,id=con,signal=off -device virtio-serial-pci -device virtconsole,chardev=con \
	"${shares[@]}" \
	-drive "if=none,id=scratch,file=$disk_file,format=raw,cache=writeback,discard=unmap" \
	-device virtio-blk-pci,drive=scratch \
	"${extra_drives[@]}" \
	-device virtio-rng-pci)
if [ "$mode" = shell ]; then
	# Interactive: QEMU owns the terminal; leave with 'exit' in the guest shell.
	"${qemu[@]}" || true
	status=$(cat "$run/exit_status" 2>/dev/null || echo $EX_NOREPORT)
	exit "$status"
fi
# Non-interactive: the guest command reads nothing from our stdin, so Ctrl-C
# reaches this script (and QEMU), and the trap tears everything down.
"${qemu[@]}" </dev/null &
qemu_pid=$!

# Wait for QEMU, killing it at the timeout.
timed_out=0 up=0
while kill -0 "$qemu_pid" 2>/dev/null; do
	if [ "$up" = 0 ] && [ -e "$run/started" ]; then
		up=1
		progress "guest up after $(wb_elapsed "$t0"); running the command"
	fi
	if (( $(date +%s) - t0 >= timeout )); then
		timed_out=1
		kill -TERM "$qemu_pid" 2>/dev/null; sleep 2; kill -KILL "$qemu_pid" 2>/dev/null || true
		break
	fi
	sleep 1
done
qemu_rc=0
wait "$qemu_pid" 2>/dev/null || qemu_rc=$?
qemu_pid=""
[ -t 0 ] && stty sane 2>/dev/null
progress "guest finished after $(wb_elapsed "$t0")"

[ -z "$log_dir" ] || copy_logs

# A kernel splat fails the run, whatever the command said.
splats=$(wb_splats "$run/console.log")

if [ "$timed_out" = 1 ]; then
	tail -20 "$run/console.log" >&2 || true
	wb_die $EX_TIMEOUT "guest timed out after ${timeout}s and was killed (kernel log: $run/console.log)"
fi
if [ ! -e "$run/exit_status" ]; then
	# The cause first: a panic's stack can push its headline out of a tail,
	# and a CI log often keeps only the last lines of this output.
	[ -z "$splats" ] || { echo "$splats" | head -20; echo "..."; } >&2
	tail -30 "$run/console.log" >&2 || true
	[ "$qemu_rc" = 0 ] || wb_die $EX_NOREPORT "QEMU failed (exit $qemu_rc, $accel) before the guest reported (kernel log: $run/console.log)"
	wb_die $EX_NOREPORT "guest stopped without reporting an exit status: $(wb_death_cause "$run/console.log") (kernel log: $run/console.log)"
fi
status=$(cat "$run/exit_status")
[ -z "$log_dir" ] || cp "$run/output.log" "$log_dir/output.log" 2>/dev/null || true
if [ "$status" != 0 ]; then
	# One line that says why, with the command's last words (also in output.log).
	wb_log "the guest command exited $status; its last line: $(tail -n 1 "$run/output.log" 2>/dev/null | cut -c1-200)"
fi
if [ "$splat_check" = 1 ] && [ -n "$splats" ]; then
	echo "$splats" | head -20 >&2
	[ "$status" = 0 ] && status=$EX_SPLAT
	wb_log "kernel splat in the guest log (kernel log: $run/console.log)"
	exit "$status"
fi
exit "$status"
