#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): the tracer's per-pass
# records ("wp" lines of events.jsonl) and the summary's "passes" object
# (analysis/SCHEMA.md sections 3-4), on a load whose passes are known:
#
#   1. A big file is dirtied with background writeback held off
#      (dirty_background_bytes 768 MiB, no periodic flush), then the background
#      threshold is dropped to one page and 1 MiB more is written: the flusher
#      writes the big file in background passes of at most its chunk
#      (>= 1024 pages), so the first ones run out of budget.  While it does, a
#      second file is written and fsync()ed, then written with O_DSYNC: its
#      WB_SYNC_ALL "fsync" passes raise wb_sync_req[DATA], so background
#      passes that start meanwhile must give way (priority_stop, or return at
#      once when the inode is clean).
#      Then sync(2) (the tracer's --sync).
#   2. The same, smaller, in hist mode (counts from the BPF map only).
#   3. The same with kprobe/kretprobe and raw_tp (hist mode).
#   4. The same in tracepoint-only mode: the exits are not traced, so the
#      summary says "complete": false and the exit fields are null, not 0.
#   5. The same on compressed files (lz4, 4-page clusters), stream mode: the
#      cluster paths (stock's old loop; patched's clusters on writeback_iter,
#      whose budget loan also ends a pass through the sentinel).
#
# Checked from the trace against the load and against itself: background and
# fsync passes seen with their class, sync mode, nr_to_write and reason;
# budget passes used their budget; every total of "passes" equals the sum of
# its classes and the same count from the records; folios written in passes
# == the folios_written counter == the file sizes; every priority_stop pass
# overlaps a WB_SYNC_ALL pass; every NONE pass that starts inside a
# WB_SYNC_ALL pass gives way at entry.  Latency phases (stream and compressed
# rounds): set-up + gaps + writes + clusters + tail == the pass time exactly,
# and each sum equals the folio records of that pass; tracepoint-only: no
# latency at all (null, no samples), never entry-to-entry.
. "$(dirname "$0")/lib.sh"

need_tracer
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
BIG=${TRACE_PASSES_MIB:-96}		# MiB: > 1 chunk even at the largest chunk (52 MiB)
out=$(mktemp -d /tmp/trace-passes.XXXXXX)

save_vm
cleanup() { restore_vm; }
trap cleanup EXIT

mkfs_mount "" ""
sync
EXT=""			# file name suffix (.txt: compressed, round 5)

# load MIB: the workload above, run under the tracer (its command).
cat >"$out/load.sh" <<'EOF'
set -eu
mnt=$1 mib=$2 ext=${3:-}
echo 0 >/proc/sys/vm/dirty_writeback_centisecs          # no periodic (kupdate) flush
echo 360000 >/proc/sys/vm/dirty_expire_centisecs
echo $((1024 << 20)) >/proc/sys/vm/dirty_bytes
echo $((768 << 20)) >/proc/sys/vm/dirty_background_bytes # no background flush yet
dd if=/dev/zero of="$mnt/big$ext" bs=1M count="$mib" status=none
echo 4096 >/proc/sys/vm/dirty_background_bytes
dd if=/dev/zero of="$mnt/kick$ext" bs=4k count=256 status=none   # balance_dirty_pages: start the flusher
sleep 1
dd if=/dev/zero of="$mnt/fsynced$ext" bs=1M count=8 conv=fsync status=none
# O_DSYNC: each 256 KiB write is fsync()ed at once, too soon for the flusher to
# have written it: WB_SYNC_ALL passes for sure (the fsync above may find the
# file already written back)
dd if=/dev/zero of="$mnt/fsynced$ext" bs=256k count=32 seek=32 oflag=dsync conv=notrunc status=none
EOF

# run LABEL MIB TRACER_OPTS...: a fresh set of files, traced; ino_* of the files.
# A trace the tracer itself declares incomplete (exit 12: the kernel skipped
# one of our programs, e.g. preempted inside it while another thread hit the
# same probe on that CPU) cannot be checked pass by pass: the load is run
# again, at most 3 times in all, and each such run is logged.
run() {
	local label=$1 mib=$2 rc try; shift 2
	for try in 1 2 3; do
		rc=0
		rm -f "$MNT/big$EXT" "$MNT/kick$EXT" "$MNT/fsynced$EXT"
		sync
		restore_vm
		"$TRACE" -D "$MNT" --sync -q "$@" -- bash "$out/load.sh" "$MNT" "$mib" "$EXT" \
			2>"$out/$label.err" || rc=$?
		restore_vm
		[ "$rc" = 12 ] || break
		log "$label: try $try: the tracer lost events, run again: $(cat "$out/$label.err")"
	done
	[ "$rc" = 0 ] || fail "$label: tracer exited $rc: $(cat "$out/$label.err")"
	ino_big=$(stat -c %i "$MNT/big$EXT") ino_fs=$(stat -c %i "$MNT/fsynced$EXT")
}

# 1. Stream mode.
run stream "$BIG" -O "$out/stream"
"$PY" - "$out/stream" "$TOP" "${WBTRACE_VARIANT:-}" "$BIG" "$ino_big" "$ino_fs" <<'EOF' || fail "stream mode: per-pass checks (see above)"
import sys
from tracecheck import Checks, load, lonely_priority_stops, phase_checks
d, top, variant = sys.argv[1:4]
mib, ino_big, ino_fs = map(int, sys.argv[4:])
sys.path.insert(0, top)
from analysis import schema
s, ev = load(d)
schema.validate_summary(s)
check = Checks("stream")
P, c = s["passes"], s["counts"]
WHY = ("background", "kupdate", "sync", "fsync", "other")
END = ("range_end", "budget", "priority_stop", "error")

check(s["valid"] and s["drops"] == 0, "run valid, no drops", s["drops"], 0)
check(P["complete"] is True and s["probes"]["writepages"] == "fentry",
      "passes complete (f2fs_write_data_pages fentry/fexit)", (P["complete"], s["probes"]["writepages"]),
      (True, "fentry"))
check(sorted(P["by_why"]) == sorted(WHY) and sorted(P["by_end"]) == sorted(END)
      and sorted(P["by_sync"]) == ["all", "none"], "every class key present",
      (sorted(P["by_why"]), sorted(P["by_end"])), "all")
tot = P["total"]
check(sum(P["by_sync"].values()) == tot, "sum(by_sync) == total", sum(P["by_sync"].values()), tot)
check(sum(P["by_why"].values()) == tot, "sum(by_why) == total", sum(P["by_why"].values()), tot)
check(sum(P["by_end"].values()) == tot, "sum(by_end) == total", sum(P["by_end"].values()), tot)

# The pass records: f2fs_write_data_pages (the loop's own records are merged into them).
wp = [e for e in ev if e["k"] == "wp" and e["site"] == "f2fs_write_data_pages"]
check(len(wp) == tot, "pass records == passes.total", len(wp), tot)
for k, key in (("by_sync", "sync"), ("by_why", "why"), ("by_end", "end")):
    got = {v: sum(1 for e in wp if e[key] == v) for v in P[k]}
    check(got == P[k], f"records per {key} == passes.{k}", got, P[k])
none = [e for e in wp if e["sync"] == "none"]
g = [e["nr_given"] for e in none]
want = {"min": min(g) if g else None, "max": max(g) if g else None, "sum": sum(g)}
check(P["none_nr_given"] == want, "none_nr_given from records", want, P["none_nr_given"])
check(P["none_nr_used_sum"] == sum(e["nr_used"] for e in none), "none_nr_used_sum from records",
      sum(e["nr_used"] for e in none), P["none_nr_used_sum"])
check(all(e["sync"] == ("all" if e["sync_mode"] else "none") and e["nr_used"] == e["nr_before"] - e["nr_after"]
          for e in wp), "sync / nr_used agree with sync_mode / nr_before - nr_after", "-", "-")
for k in ("written", "redirtied", "skipped"):
    n = sum(e[k] for e in wp)
    check(n == c["folios_" + k], f"sum of pass {k} == folios_{k} counter", n, c["folios_" + k])
big_w = sum(e["written"] for e in wp if e["ino"] == ino_big)
check(big_w == mib * 256, "folios written in passes of the big file == its pages", big_w, mib * 256)

# Background passes: the flusher wrote the big file, chunk by chunk.
bg = [e for e in wp if e["why"] == "background"]
check(P["by_why"]["background"] > 0, "background passes", P["by_why"]["background"], "> 0")
check(all(e["sync"] == "none" and e["cyclic"] and e["nr_given"] >= 1024 for e in bg),
      "background passes: WB_SYNC_NONE, range_cyclic, nr_given >= 1024 (MIN_WRITEBACK_PAGES)",
      sorted({e["nr_given"] for e in bg})[:5], ">= 1024")
bud = [e for e in bg if e["end"] == "budget"]
check(len(bud) > 0, "background passes that ran out of budget", len(bud), "> 0")
check(all(e["nr_after"] <= 0 and e["nr_used"] >= e["nr_given"] for e in wp if e["end"] == "budget"),
      "budget passes used their whole budget", "-", "nr_after <= 0")
check(all(e["nr_after"] > 0 for e in wp if e["end"] == "priority_stop"),
      "priority_stop passes had budget left", "-", "nr_after > 0")
if s["probes"]["wb_work"] != "off":
    check(all(e["reason"] == 0 for e in bg), "background passes run under a WB_REASON_BACKGROUND work",
          sorted({e["reason"] for e in bg}, key=str), [0])
# The fsync.
fs = [e for e in wp if e["ino"] == ino_fs and e["sync"] == "all"]
check(P["by_sync"]["all"] > 0 and P["by_why"]["fsync"] > 0, "WB_SYNC_ALL fsync passes",
      (P["by_sync"]["all"], P["by_why"]["fsync"]), "> 0")
check(any(e["why"] == "fsync" and e["end"] == "range_end" and e["reason"] is None for e in fs),
      "the fsync of the second file: why fsync, range_end, no flusher reason",
      [(e["why"], e["end"], e["reason"]) for e in fs], "fsync, range_end, None")
check(all(e["end"] in ("range_end", "error") for e in wp if e["sync"] == "all"),
      "WB_SYNC_ALL passes end at range_end (or error)", "-", "-")
# Every end decided by an exact signal: pass_mark, writeback_iter's sentinel
# (patched), the stock loop's last lookup (range_cyclic passes), budget, error.
check(P["end_inferred"] == 0 and not any(e["end_inferred"] for e in wp),
      "no inferred end (all exact signals attached)", P["end_inferred"], 0)
# Priority: a WB_SYNC_NONE pass can only give way while a WB_SYNC_ALL pass of
# the file system has wb_sync_req[DATA] raised, i.e. inside its fentry..fexit.
span = lambda e: (e["t"] - e["dur_ns"], e["t"])
alls = [span(e) for e in wp if e["sync"] == "all"]
prio = [e for e in wp if e["end"] == "priority_stop"]
lonely = lonely_priority_stops(wp)
check(not lonely, "every priority_stop pass overlaps a WB_SYNC_ALL pass", lonely, [])
M = 100_000_000   # 100 ms around the wb_sync_req inc/dec: a vCPU of a loaded TCG host may stall
inside = [e for e in none if any(a0 + M < span(e)[0] < a1 - M for a0, a1 in alls)]
bad = [e for e in inside if not (e["end"] == "priority_stop" or
                                 (e["end"] == "range_end" and e["written"] == 0 and e["pages_skipped"] == 0))]
check(not bad, "NONE passes starting inside a WB_SYNC_ALL pass give way at entry",
      [(e["why"], e["end"], e["written"]) for e in bad][:5], "priority_stop")
phase_checks(check, s, ev)
print(f"  stream: variant {variant}: {tot} passes, by_why {P['by_why']}, by_end {P['by_end']}, "
      f"none_nr_given {P['none_nr_given']}, {len(prio)} priority_stop "
      f"({sum(1 for e in prio if e['written'] == 0)} at entry), {len(inside)} NONE passes inside ALL passes")
print(f"  probes: {s['probes']}")
check.exit()
EOF

# 2. Hist mode: no records, the same "passes" from the map.
run hist 24 -m hist -s "$out/hist.json"
"$PY" - "$out/hist.json" "$TOP" <<'EOF' || fail "hist mode: passes (see above)"
import json, sys
from tracecheck import Checks
sys.path.insert(0, sys.argv[2])
from analysis import schema
s = json.load(open(sys.argv[1]))
schema.validate_summary(s)
check = Checks("hist")
P = s["passes"]
check(s["mode"] == "hist" and P["complete"] is True, "hist mode, passes complete", (s["mode"], P["complete"]), ("hist", True))
tot = P["total"]
for k in ("by_sync", "by_why", "by_end"):
    check(sum(P[k].values()) == tot, f"sum({k}) == total", sum(P[k].values()), tot)
check(P["by_why"]["background"] > 0 and P["by_sync"]["all"] > 0 and P["by_why"]["fsync"] > 0,
      "background and fsync passes", (P["by_why"]["background"], P["by_sync"]["all"]), "> 0")
check(P["none_nr_given"]["min"] is not None and P["none_nr_given"]["min"] >= 1024
      and P["none_nr_given"]["max"] >= P["none_nr_given"]["min"], "none_nr_given min/max",
      P["none_nr_given"], "min >= 1024")
check(P["end_inferred"] == 0, "no inferred end", P["end_inferred"], 0)
print(f"  hist: {P}")
check.exit()
EOF

# 3. kprobe/kretprobe + raw_tp: every exit seen; kretprobe does not see
#    writeback_iter's arguments, so on patched the ends of WB_SYNC_NONE passes
#    that pass_mark does not decide are inferred (stock: none, loop_end works).
run kprobe 24 --no-fentry --no-tp-btf -m hist -s "$out/kprobe.json"
"$PY" - "$out/kprobe.json" "$TOP" "${WBTRACE_VARIANT:-}" <<'EOF' || fail "kprobe mode: passes (see above)"
import json, sys
from tracecheck import Checks
sys.path.insert(0, sys.argv[2])
from analysis import schema
s = json.load(open(sys.argv[1]))
schema.validate_summary(s)
check = Checks("kprobe")
P = s["passes"]
check(s["probes"]["writepages"] == "kprobe" and s["probes"]["loop_end"] == "kretprobe"
      and s["probes"]["pass_mark"] == "raw_tracepoint", "kprobe/raw_tp modes",
      (s["probes"]["writepages"], s["probes"]["loop_end"], s["probes"]["pass_mark"]),
      ("kprobe", "kretprobe", "raw_tracepoint"))
# The kprobe links' "missed" (7.3 has it): read, so an int, not null; and
# nothing lost (else the run would be invalid and the tracer exit 12).
km = s.get("kernel_misses") or {}
check(isinstance(km.get("kprobe"), int) and km.get("bpf_recursion") == 0 and s["valid"],
      "kernel misses read from the kprobe links and the programs, none", km,
      {"bpf_recursion": 0, "kprobe": 0})
check(P["complete"] is True, "passes complete", P["complete"], True)
for k in ("by_sync", "by_why", "by_end"):
    check(sum(P[k].values()) == P["total"], f"sum({k}) == total", sum(P[k].values()), P["total"])
check(P["by_why"]["background"] > 0 and P["by_why"]["fsync"] > 0, "background and fsync passes",
      (P["by_why"]["background"], P["by_why"]["fsync"]), "> 0")
if sys.argv[3] == "stock":
    check(P["end_inferred"] == 0, "no inferred end on stock (loop_end in kprobe mode)", P["end_inferred"], 0)
print(f"  kprobe: {P}")
check.exit()
EOF

# 4. Tracepoint-only: entries only; what only the exit shows is absent, not 0.
run tponly 24 --no-fentry --no-kprobe -O "$out/tponly"
"$PY" - "$out/tponly" "$TOP" <<'EOF' || fail "tracepoint-only mode: passes (see above)"
import sys
from tracecheck import Checks, load
sys.path.insert(0, sys.argv[2])
from analysis import schema
s, ev = load(sys.argv[1])
schema.validate_summary(s)
check = Checks("tponly")
P = s["passes"]
check(s["probes"]["writepages"] == "tracepoint", "writepages from the tracepoint", s["probes"]["writepages"], "tracepoint")
check(P["complete"] is False and P["by_end"] is None and P["none_nr_used_sum"] is None,
      "complete false, by_end and none_nr_used_sum null", (P["complete"], P["by_end"], P["none_nr_used_sum"]),
      (False, None, None))
tot = P["total"]
wp = [e for e in ev if e["k"] == "wp"]
check(len(wp) == tot > 0, "one record per pass (2nd f2fs_writepages of a yielding pass not counted)", len(wp), tot)
check(sum(P["by_sync"].values()) == tot and sum(P["by_why"].values()) == tot, "sum(by_sync) == sum(by_why) == total",
      (sum(P["by_sync"].values()), sum(P["by_why"].values())), tot)
check(P["by_why"]["background"] > 0 and P["by_why"]["fsync"] > 0, "background and fsync passes seen at entry",
      (P["by_why"]["background"], P["by_why"]["fsync"]), "> 0")
check(all(e["no_exit"] and e["end"] is None and e["nr_used"] is None and e["written"] is None
          and e["pages_skipped"] is None for e in wp), "records: exit fields null", "-", "null")
g = [e["nr_given"] for e in wp if e["sync"] == "none"]
check(P["none_nr_given"]["sum"] == sum(g), "none_nr_given.sum from records", sum(g), P["none_nr_given"]["sum"])
# With entries only no latency phase can be measured: absent, never entry -> entry.
fo = [e for e in ev if e["k"] == "folio"]
check(fo and all(e["lat_ns"] is None and e["gap_ns"] is None and e["write_ns"] is None for e in fo)
      and all(e["setup_ns"] is None for e in wp)
      and s["metrics"]["folio_latency_ns"]["count"] == 0 and s["metrics"]["pass_setup_ns"]["count"] == 0,
      "latencies absent (null, no samples), not entry-to-entry", (len(fo), s["metrics"]["folio_latency_ns"]["count"]),
      "null, 0 samples")
print(f"  tponly: {P}")
check.exit()
EOF

# 5. Compressed files: every end still exact, the classes consistent, clusters
#    counted in their passes.
mkfs_mount "extra_attr,compression" "compress_algorithm=lz4,compress_log_size=2,compress_extension=txt"
EXT=.txt
run compr 48 -O "$out/compr"
"$PY" - "$out/compr" "$TOP" <<'EOF' || fail "compressed files: per-pass checks (see above)"
import sys
from tracecheck import Checks, load, lonely_priority_stops, phase_checks
sys.path.insert(0, sys.argv[2])
from analysis import schema
s, ev = load(sys.argv[1])
schema.validate_summary(s)
check = Checks("compr")
P, c = s["passes"], s["counts"]
wp = [e for e in ev if e["k"] == "wp" and e["site"] == "f2fs_write_data_pages"]
check(s["valid"] and s["drops"] == 0 and P["complete"], "valid, no drops, complete", (s["drops"], P["complete"]), (0, True))
check(len(wp) == P["total"], "pass records == passes.total", len(wp), P["total"])
for k, key in (("by_sync", "sync"), ("by_why", "why"), ("by_end", "end")):
    got = {v: sum(1 for e in wp if e[key] == v) for v in P[k]}
    check(got == P[k], f"records per {key} == passes.{k}", got, P[k])
check(c["clusters"] > 0 and sum(e["clusters"] for e in wp) == c["clusters"], "clusters written in passes == counter",
      sum(e["clusters"] for e in wp), c["clusters"])
check(sum(e["written"] for e in wp) == c["folios_written"], "folios written in passes == counter",
      sum(e["written"] for e in wp), c["folios_written"])
check(P["by_why"]["background"] > 0 and P["by_why"]["fsync"] > 0, "background and fsync passes",
      (P["by_why"]["background"], P["by_why"]["fsync"]), "> 0")
check(P["end_inferred"] == 0, "no inferred end", P["end_inferred"], 0)
check(all(e["nr_after"] <= 0 for e in wp if e["end"] == "budget") and
      all(e["nr_after"] > 0 for e in wp if e["end"] == "priority_stop"),
      "budget ends have no budget left, priority stops some", "-", "-")
lonely = lonely_priority_stops(wp)
check(not lonely, "every priority_stop pass overlaps a WB_SYNC_ALL pass", lonely, [])
phase_checks(check, s, ev)
print(f"  compr: {P}")
check.exit()
EOF

rm -rf "$out"
finish
