#!/bin/bash
# Guest test (inside the lab VM, each f2fs variant): trace a known write load
# and check the traced totals against ground truth that does not come from
# the tracer:
#   - folios written x folio size  == bytes of the plain file (per inode)
#   - sum of all f2fs write bios   == /proc/diskstats sectors written x 512
#   - data bios                    == written folios + compressed blocks (x 4 KiB)
#   - compressed clusters          == /sys/fs/f2fs/<dev>/compr_{written,saved}_block deltas
#   - pages gathered in clusters   == pages of the compressed file
#   - writeback_iter() hand-outs   == written plain folios (patched), none (stock)
# and the same in hist mode, with an inode filter, and with the kprobe/raw_tp
# and tracepoint-only fallbacks.
. "$(dirname "$0")/lib.sh"

need_tracer
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
MIB=${TRACE_E2E_MIB:-16}
out=$(mktemp -d /tmp/trace-e2e.XXXXXX)
dev=$(basename "$DEV")

mkfs_mount "extra_attr,compression" \
	"compress_algorithm=lz4,compress_log_size=2,compress_extension=txt"
make_file "$out/plain.src" $((MIB << 20)) random
make_file "$out/text.src" $((MIB << 20)) text
sync

diskstat() { awk -v d="$dev" '$3 == d { print $10 }' /proc/diskstats; }
s0=$(diskstat) cw0=$(sysfs_stat compr_written_block) cs0=$(sysfs_stat compr_saved_block)

# 1. Stream mode, filtered on this file system (mount point -> s_dev), sync inside the trace.
rc=0
"$TRACE" -D "$MNT" -O "$out/stream" --sync -q -- \
	sh -c "cp '$out/plain.src' '$MNT/plain.dat' && cp '$out/text.src' '$MNT/text.txt'" \
	2>"$out/stream.err" || rc=$?
s1=$(diskstat) cw1=$(sysfs_stat compr_written_block) cs1=$(sysfs_stat compr_saved_block)
[ "$rc" = 0 ] || fail "stream run exited $rc: $(cat "$out/stream.err")"
ino_plain=$(stat -c %i "$MNT/plain.dat") ino_text=$(stat -c %i "$MNT/text.txt")
log "diskstats: $(( (s1 - s0) * 512 )) bytes written; compr_written_block +$((cw1 - cw0)), compr_saved_block +$((cs1 - cs0))"

"$PY" - "$out/stream" "$TOP" "${WBTRACE_VARIANT:-}" "$((MIB << 20))" "$ino_plain" "$ino_text" \
	"$(( (s1 - s0) * 512 ))" "$((cw1 - cw0))" "$((cs1 - cs0))" <<'EOF' || fail "stream mode: ground truth mismatch (see above)"
import sys
from tracecheck import Checks, load
d, top, variant, size, ino_p, ino_t, disk_bytes, cw, cs = *sys.argv[1:4], *map(int, sys.argv[4:])
sys.path.insert(0, top)
from analysis import schema
s, ev = load(d)
schema.validate_summary(s)            # raises on a malformed summary
c = s["counts"]
check = Checks()

check(s["valid"] and s["drops"] == 0, "run valid, no drops", s["drops"], 0)
check(s["events"] == len(ev), "events in summary == lines in events.jsonl", s["events"], len(ev))
fo = [e for e in ev if e["k"] == "folio"]
plain = [e for e in fo if e["ino"] == ino_p]
wr = [e for e in plain if e["outcome"] == "written"]
check(sum(e["size"] for e in wr) == size, "plain file: written folios x size == file size",
      sum(e["size"] for e in wr), size)
check(len({e["idx"] for e in wr}) == size // 4096, "plain file: distinct folio indexes",
      len({e["idx"] for e in wr}), size // 4096)
check(c["folio_bytes_written"] == sum(e["size"] for e in fo if e["outcome"] == "written"),
      "kernel counter == stream sum (folio bytes)", c["folio_bytes_written"],
      sum(e["size"] for e in fo if e["outcome"] == "written"))
allbio = sum(s["bio"][t]["bytes"] for t in s["bio"])
check(allbio == disk_bytes, "all f2fs write bios == /proc/diskstats sectors x 512", allbio, disk_bytes)
cm = [e for e in ev if e["k"] == "cmp"]
cblocks = sum(e["cblocks"] for e in cm if e["outcome"] == "compressed")
check(s["bio"]["data"]["bytes"] == c["folio_bytes_written"] + 4096 * cblocks,
      "data bios == written folios + compressed blocks", s["bio"]["data"]["bytes"],
      c["folio_bytes_written"] + 4096 * cblocks)
check(c["compr_written_block"] == cw, "compr_written_block", c["compr_written_block"], cw)
check(c["compr_saved_block"] == cs, "compr_saved_block", c["compr_saved_block"], cs)
tcm = [e for e in cm if e["ino"] == ino_t]
check(sum(e["nr_rpages"] for e in tcm) == size // 4096, "compressed file: pages gathered in clusters",
      sum(e["nr_rpages"] for e in tcm), size // 4096)
r = s["metrics"]["compress"]["ratio"]
check(r is not None and r > 1.5, "compression ratio of text > 1.5", r, "> 1.5")
wp = [e for e in ev if e["k"] == "wp" and e["ino"] == ino_p]
check(sum(e["written"] for e in wp) == size // 4096, "writepages passes: folios written (plain)",
      sum(e["written"] for e in wp), size // 4096)
lat = s["metrics"]["folio_latency_ns"]
check(lat["count"] > 0 and lat["pct_method"] == "exact" and lat["p50"] <= lat["p99"] <= lat["max"],
      "folio latency percentiles exact and ordered", (lat["p50"], lat["p99"], lat["max"]), "ordered")
# writeback_iter() hand-outs: the patched loop gets every folio from it, the
# old loop never calls it (and nothing else on this f2fs does).  The probe is
# on writeback_iter() in vmlinux, so it attaches on both variants.
ho = [e for e in plain if e["handout_ns"]]   # null (or 0) without a hand-out
check(s["probes"]["handout"] != "off", "handout probe attached", s["probes"]["handout"], "not off")
if variant == "patched":
    check(c["handouts"] > 0, "writeback_iter hand-outs counted (patched loop)", c["handouts"], "> 0")
    check(len(ho) == len(wr) > 0, "writeback_iter hand-outs seen for every written plain folio",
          len(ho), len(wr))
elif variant == "stock":
    check(c["handouts"] == 0 and not ho, "no writeback_iter hand-outs on f2fs (old loop)",
          (c["handouts"], len(ho)), (0, 0))
else:
    check(False, "WBTRACE_VARIANT is stock or patched", variant, "stock|patched")
print("  probes:", s["probes"])
print("  folio_latency_ns p50/p90/p99/p99.9:", lat["p50"], lat["p90"], lat["p99"], lat["p999"])
print("  bio_bytes mean:", s["metrics"]["bio_bytes"]["mean"], " bios:", s["bio"]["data"])
check.exit()
EOF

# 2. Hist mode + inode filter: only that inode's folios are counted, in the kernel.
run_filtered() { # LABEL FILE_NAME MIB EXTRA_OPTS...
	local label=$1 name=$2 mib=$3 ino rc=0; shift 3
	: >"$MNT/$name"
	sync
	ino=$(stat -c %i "$MNT/$name")
	"$TRACE" -i "$ino" -s "$out/$label.json" --sync -q "$@" -- \
		dd if="$out/plain.src" of="$MNT/$name" bs=1M count="$mib" conv=notrunc status=none \
		2>"$out/$label.err" || rc=$?
	[ "$rc" = 0 ] || fail "$label: exit $rc: $(cat "$out/$label.err")"
	"$PY" - "$out/$label.json" "$((mib << 20))" "$label" <<'EOF' || fail "$label: counts do not match the file"
import json, sys
from tracecheck import Checks
s = json.load(open(sys.argv[1])); size = int(sys.argv[2]); label = sys.argv[3]
c = s["counts"]
check = Checks(label)
if c["folios_unknown"]:   # tracepoint-only folio probe: no outcome, count entries
    check(c["folios_unknown"] == size // 4096, "folios seen (tracepoint)", c["folios_unknown"], size // 4096)
else:
    check(c["folio_bytes_written"] == size, "folio bytes written", c["folio_bytes_written"], size)
    check(s["metrics"]["folio_write_ns"]["count"] == size // 4096, "write-time samples",
          s["metrics"]["folio_write_ns"]["count"], size // 4096)
check(s["valid"], "valid", s["valid"], True)
print(f"  {label}: probes {s['probes']}, pct_method {s['metrics']['folio_latency_ns']['pct_method']}")
check.exit()
EOF
}
run_filtered hist f_hist.dat 4 -m hist
run_filtered kprobe f_kprobe.dat 4 --no-fentry --no-tp-btf
run_filtered tponly f_tponly.dat 4 --no-fentry --no-kprobe

# 3. Drops: a 4 KiB ring buffer whose reader is stopped while 4 MiB are written.
#    The run must say so (exit 9, valid false, drops > 0) and the in-kernel
#    counters must still be exact.
: >"$MNT/f_drops.dat"
sync
ino=$(stat -c %i "$MNT/f_drops.dat")
"$TRACE" -i "$ino" -b 4K -s "$out/drops.json" >"$out/drops.out" 2>"$out/drops.err" &
tpid=$!
for _ in $(seq 300); do grep -q "Tracing f2fs writeback" "$out/drops.err" && break; sleep 0.1; done
kill -STOP "$tpid"
dd if="$out/plain.src" of="$MNT/f_drops.dat" bs=1M count=4 conv=notrunc,fsync status=none
kill -CONT "$tpid"
kill -INT "$tpid"
rc=0; wait "$tpid" || rc=$?
[ "$rc" = 9 ] || fail "drops: exit $rc, want 9 ($(tail -1 "$out/drops.err"))"
"$PY" - "$out/drops.json" <<'EOF2' || fail "drops: summary wrong"
import json, sys
s = json.load(open(sys.argv[1])); c = s["counts"]
ok = s["drops"] > 0 and not s["valid"] and "dropped" in (s["invalid_reason"] or "") \
     and c["folio_bytes_written"] == 4 << 20
print(f"  {'ok  ' if ok else 'FAIL'} drops: {s['drops']} dropped, {s['events']} delivered, "
      f"valid={s['valid']}, kernel folio bytes {c['folio_bytes_written']} (truth {4 << 20})")
sys.exit(0 if ok else 1)
EOF2

rm -rf "$out"
finish
