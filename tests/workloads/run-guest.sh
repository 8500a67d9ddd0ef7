#!/bin/bash
# Whole-run tests of `./wbtrace run` from the host, each with its own lab guest boot(s):
#   1. stock, 2 reps of fio-randwrite in ONE boot: both run dirs validate and pass
#   2. patched, fio-compress at 16-page clusters: passes, compression traced
#   3. Ctrl-C while the guest runs: exit 130, no QEMU left, nothing kept
#   4. ./wbtrace compare --reps 2 --until-decided 3 in ONE boot: two reps a side cannot be
#      judged, so the loop adds a third: reps run A B B A A B, each rep's label matches the
#      module it traced, cmp dir validates and records the loop, the A/B table and the gate
#      are printed, the exit status is the gate's
#   5. -icount: a RAM-disk scratch and one vCPU by default, recorded; compare refuses to
#      mix them with a disk-scratch run
# About 6-7 minutes under TCG.  Prints "ok/not ok" lines and "N passed, M failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
PY=/usr/bin/python3
mkdir -p "$top/tests/out"
out=$(mktemp -d "$top/tests/out/wl-run-guest.XXXXXX")   # not /tmp: the guest has its own
pass=0 failn=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $*"; }
notok() { n=$((n + 1)); failn=$((failn + 1)); echo "not ok $n $*"; }
meta() { $PY -c 'import json,sys; m=json.load(open(sys.argv[1]+"/meta.json")); print(eval(sys.argv[2]))' "$@"; }

# 1. two reps, one boot
t0=$SECONDS
./wbtrace run fio-randwrite --variant stock --reps 2 --size 4M -o "$out/reps" >"$out/reps.log" 2>&1
rc=$?
boots=$(grep -c '^\[vm\] booting' "$out/reps.log")
if [ "$rc" = 0 ] && [ "$boots" = 1 ] && $PY -m analysis validate "$out/reps" >/dev/null &&
	[ "$(meta "$out/reps/rep-02" 'm["rep"], m["variant"], m["target"], m["verify"]["after_remount"]')" = "(2, 'stock', 'vm', 'pass')" ] &&
	[ "$(meta "$out/reps/rep-01" 'bool(m["kernel"].get("f2fs_module_sha256")) and bool(m["host"].get("accel")) and "revision" in m["git"] and bool(m["tracer"].get("version"))')" = True ] &&
	[ "$($PY -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["schema"] == "wbtrace.cpu/1" and 0 < c["busy_ms"] <= c["cpus"] * c["elapsed_ms"])' "$out/reps/rep-01/guest_cpu.json")" = True ]; then
	ok "2 reps of fio-randwrite on stock in one boot ($((SECONDS - t0)) s)"
else
	notok "2 reps on stock: exit $rc, $boots boot(s)"; tail -15 "$out/reps.log" | sed 's/^/# /'
fi

# 2. patched, another cluster size, results under /tmp (a tmpfs in the guest:
#    -o DIR is shared at its own path over it)
t0=$SECONDS
c16=$(mktemp -d /tmp/wbtrace-c16.XXXXXX)
./wbtrace run fio-compress --variant patched --size 4M --fs-opts compress_log_size=4 -o "$c16" --quiet >"$out/c16.log" 2>&1
rc=$?
if [ "$rc" = 0 ] && $PY -m analysis validate "$c16" >/dev/null &&
	[ "$(meta "$c16" 'm["variant"], "compress_log_size=4" in m["f2fs"]["mount_options"]')" = "('patched', True)" ] &&
	[ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["clusters_compressed"] > 0)' "$c16/trace/summary.json")" = True ]; then
	ok "fio-compress, 16-page clusters, on patched, -o under /tmp ($((SECONDS - t0)) s)"
else
	notok "fio-compress on patched: exit $rc"; tail -15 "$out/c16.log" | sed 's/^/# /'
fi
rm -rf "$c16"

# 3. Ctrl-C: SIGINT to the process group, as a terminal sends it
t0=$SECONDS
# A process started with SIGINT ignored (nohup, some CI runners) keeps it
# ignored, so start the run with SIGINT reset to its default, as a terminal would.
set -m
$PY -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	./wbtrace run fio-seqwrite --size 64M -o "$out/intr" >"$out/intr.log" 2>&1 &
pid=$!
set +m
for _ in $(seq 1 300); do grep -q 'guest up' "$out/intr.log" && break; sleep 0.5; done
sleep 5
kill -INT -- -"$pid"
rc=0; wait "$pid" || rc=$?
sleep 2
left=$(pgrep -fa "qemu-system.*$out/intr|vm.sh run .*$out/intr" || true)
if [ "$rc" = 130 ] && [ -z "$left" ] && [ ! -e "$out/intr" ]; then
	ok "Ctrl-C with the guest running: exit 130, guest gone, nothing kept ($((SECONDS - t0)) s)"
else
	notok "Ctrl-C: exit $rc, left running: ${left:-none}, dir: $(ls -A "$out/intr" 2>&1 | head -3)"
	tail -8 "$out/intr.log" | sed 's/^/# /'
fi

# 4. ./wbtrace compare: stock and patched interleaved in one boot, into a comparison dir;
#    --until-decided 3 after 2 reps always adds one round (2 reps are too few to judge)
t0=$SECONDS
cmpd=$top/results/wl-run-guest-cmp-$(date -u +%Y%m%dT%H%M%SZ)-$$
./wbtrace compare fio-randwrite --reps 2 --until-decided 3 --size 2M -o "$cmpd" >"$out/cmp.log" 2>&1
rc=$?
# the loop's record, and the gate's exit status (what compare must exit with)
loop=$($PY -c 'import json,sys; u=json.load(open(sys.argv[1]+"/cmp.json"))["until_decided"]; print(u["requested_reps"], u["reps"], u["added_reps"], u["looks"][0]["status"], u["looks"][0]["added_to"])' "$cmpd" 2>&1)
gate_rc=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]+"/gate.json"))["exit_code"])' "$cmpd" 2>&1)
boots=$(grep -c '^\[vm\] booting' "$out/cmp.log")
# every rep by start time: its variant, each held to the module it traced (build-id)
order=$($PY tests/workloads/cmp_reps.py "$cmpd" 2>&1)
if [ "$rc" = "$gate_rc" ] && [ "$boots" = 1 ] && $PY -m analysis validate "$cmpd" >/dev/null &&
	[ "$order" = "stock patched patched stock stock patched" ] &&
	[ "$loop" = "2 3 1 cannot judge 3" ] &&
	grep -q 'until decided, look 1 at 2 reps a side: cannot judge (too few reps' "$out/cmp.log" &&
	grep -q 'fio.bw_MiBps' "$out/cmp.log" && grep -q 'A/B table' "$out/cmp.log" &&
	grep -q "^gate: .*(exit $rc)" "$out/cmp.log"; then
	ok "compare fio-randwrite --reps 2 --until-decided 3: 3 reps a side interleaved in one boot, labels = loaded module, exit = the gate's $rc ($((SECONDS - t0)) s)"
	rm -rf "$cmpd"
else
	notok "compare: exit $rc (gate.json: $gate_rc), $boots boot(s), order/labels: $order, loop: $loop; kept $cmpd"
	tail -15 "$out/cmp.log" | sed 's/^/# /'
fi

# 5. -icount: by default the scratch is a RAM disk in the guest and the guest has one
#    vCPU, both recorded; a comparison refuses to mix them with a disk-scratch run
t0=$SECONDS
./wbtrace run fio-randwrite --variant stock --size 4M --icount shift=3,sleep=off,align=off \
	-o "$out/ram" >"$out/ram.log" 2>&1
rc=$?
if [ "$rc" = 0 ] && $PY -m analysis validate "$out/ram" >/dev/null &&
	[ "$(meta "$out/ram" 'm["f2fs"]["device"], m["f2fs"]["device_kind"], m["host"]["cpus"], m["host"]["icount"]')" = "('/dev/ram0', 'ram', 1, 'shift=3,sleep=off,align=off')" ] &&
	grep -q 'scratch /dev/ram0' "$out/ram.log"; then
	crc=0
	$PY -m analysis compare "$out/reps" "$out/ram" >"$out/ram-cmp.log" 2>&1 || crc=$?
	if [ "$crc" = 2 ] && grep -q 'f2fs.device_kind' "$out/ram-cmp.log"; then
		ok "-icount run on a RAM disk with 1 vCPU, recorded; compare refuses it against a disk run ($((SECONDS - t0)) s)"
	else
		notok "RAM-disk run against a disk run: compare exit $crc"; tail -5 "$out/ram-cmp.log" | sed 's/^/# /'
	fi
else
	notok "-icount run on a RAM disk: exit $rc"; tail -15 "$out/ram.log" | sed 's/^/# /'
fi

[ "$failn" = 0 ] && rm -rf "$out" || echo "# logs kept in $out"
echo "$pass passed, $failn failed"
[ "$failn" = 0 ]
