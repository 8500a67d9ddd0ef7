#!/bin/bash
# PID 1 of the lab guest.  The root file system is the host's / over 9p,
# read-only; this script makes the few writable places a command needs, loads
# the chosen f2fs.ko, runs the command on the virtio console and reports its
# exit status through the control share before powering off.
# It is the small equivalent of virtme-ng's init: see kernel-patch/lab/vm.sh.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ctl=/run/wbctl
# shellcheck source=kernel-patch/lab/exit-status.sh
. "$(dirname "$0")/exit-status.sh" # EX_NOMODULE

say() { echo "guest-init: $*" >/dev/kmsg; }
# wait_for PID SECS: until PID is gone, SECS at most.
wait_for() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.5
	done
	return 1
}
halt_now() {
	# Flush, but not for ever: after a kernel hang (a test's writeback that
	# never completes) sync never returns.
	sync &
	wait_for $! 30
	echo o >/proc/sysrq-trigger # ACPI power-off
	sleep 10
	echo b >/proc/sysrq-trigger # QEMU runs with -no-reboot: a reboot ends it too
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# The host's / stays reachable at /mnt: a clone or a cache under a directory
# that becomes a guest tmpfs below (/tmp, /run, ...) is bound back in place
# once the control share says which paths the command needs.
repo=$(cd "$(dirname "$0")/../.." && pwd)
mount --bind / /mnt || say "cannot bind the host's / at /mnt"
for d in /tmp /run /var/tmp /var/log /var/lib/f2fs; do
	[ -d "$d" ] && mount -t tmpfs -o mode=1777 tmpfs "$d"
done
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

mkdir -p "$ctl"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 wbctl "$ctl"; then
	say "cannot mount the control share"
	halt_now
fi
# shellcheck source=/dev/null
. "$ctl/env" # WB_CWD WB_MODULE WB_VARIANT WB_RW_PATHS WB_MODE WB_CMD (array) WB_HOSTNAME WB_KERNEL_MODULES
hostname "${WB_HOSTNAME:-wbtrace-lab}"
# fstests' lock tests (generic/131, 478, 571) talk TCP to localhost.
ip link set lo up || say "cannot bring up the loopback interface"

for p in "$repo" "$WB_CWD" "${WB_MODULE%/*}" "${WB_MODULE_STOCK%/*}" "${WB_MODULE_PATCHED%/*}" \
	"${WB_MODULE_CANARY%/*}" "$WB_KERNEL_MODULES"; do
	if [ -n "$p" ] && [ ! -e "$p" ] && [ -d "/mnt$p" ]; then
		if ! { mkdir -p "$p" && mount --bind "/mnt$p" "$p"; }; then
			say "cannot make the host's $p visible"
		fi
	fi
done

# The lab kernel's own modules (scsi_debug, which fstests loads with modprobe);
# the host's /lib/modules holds the host kernel's.
if [ -d "$WB_KERNEL_MODULES" ]; then
	if [ ! -d /lib/modules ]; then
		say "no /lib/modules on the host's root to mount the kernel's modules on: run ./wbtrace setup"
	elif ! mount --bind "$WB_KERNEL_MODULES" /lib/modules; then
		say "cannot mount $WB_KERNEL_MODULES on /lib/modules"
	fi
fi

i=0
for p in "${WB_RW_PATHS[@]}"; do
	mkdir -p "$p" 2>/dev/null # a path under a guest tmpfs (/tmp, /run) does not exist yet
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "wbrw$i" "$p" ||
		say "cannot mount read-write share $p"
	i=$((i + 1))
done

status=0
if [ -n "$WB_MODULE" ]; then
	if ! insmod "$WB_MODULE"; then
		say "insmod $WB_MODULE failed"
		echo "$EX_NOMODULE" >"$ctl/exit_status.tmp" && mv "$ctl/exit_status.tmp" "$ctl/exit_status"
		dmesg >"$ctl/dmesg.txt"
		halt_now
	fi
fi

export HOME=/tmp/home TERM=${WB_TERM:-linux}
mkdir -p "$HOME"
export WBTRACE_GUEST=1 WBTRACE_VARIANT=$WB_VARIANT WBTRACE_SCRATCH=${WB_SCRATCH:-/dev/vda} WBTRACE_MODULE=$WB_MODULE
export WBTRACE_MODULE_STOCK=$WB_MODULE_STOCK WBTRACE_MODULE_PATCHED=$WB_MODULE_PATCHED
export WBTRACE_MODULE_CANARY=${WB_MODULE_CANARY:-}
cd "$WB_CWD" 2>/dev/null || cd /

con=/dev/hvc0
say "running: ${WB_CMD[*]}"
: >"$ctl/started"
if [ "$WB_MODE" = shell ]; then
	setsid -c bash -i <"$con" >"$con" 2>&1
	status=$?
else
	# A pipe, not a tty: no \r\n translation, no progress bars meant for terminals.
	stty -F "$con" raw -echo 2>/dev/null
	# Shortly before the host kills a guest that ran out of time, record what
	# its tasks are blocked on (sysrq w), on the console and in dmesg.txt.
	watchdog=""
	if [ "${WB_TIMEOUT:-0}" -gt 120 ]; then
		(
			sleep $((WB_TIMEOUT - 60))
			say "still running after $((WB_TIMEOUT - 60))s, 60s before the host's timeout: blocked tasks follow"
			dmesg -n 7
			echo w >/proc/sysrq-trigger
			sleep 5
			dmesg >"$ctl/dmesg.txt"
		) &
		watchdog=$!
	fi
	# The output goes to the console and, for the host's error report, to the
	# control share: whatever the console loses at power-off is kept there.
	"${WB_CMD[@]}" </dev/null > >(exec tee "$ctl/output.log" >"$con") 2>&1
	status=$?
	# The relay ends when every writer of the pipe is gone, but a task stuck
	# in the kernel (what a hung test leaves) holds it open for ever.
	wait_for $! 10 || say "output relay still open 10s after the command: a task that cannot exit holds it"
	# stty sets the mode with TCSADRAIN: it returns once the console has
	# handed every byte to QEMU, so the command's last words are not lost.
	timeout 10 stty -F "$con" raw -echo 2>/dev/null
	[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
fi
say "command exited with status $status"

dmesg >"$ctl/dmesg.txt"
echo "$status" >"$ctl/exit_status.tmp" && mv "$ctl/exit_status.tmp" "$ctl/exit_status"
for p in "${WB_RW_PATHS[@]}"; do umount "$p" 2>/dev/null; done
umount "$ctl"
halt_now
