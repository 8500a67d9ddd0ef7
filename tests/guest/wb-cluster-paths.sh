#!/bin/bash
# The cluster paths of the writeback loop for compressed files are taken, as
# kprobe events show, and write the right data (traps T8 and T6 of the series).
#
# One f2fs: mkfs -O extra_attr,compression; lz4, compress_log_size=4 (16-page
# clusters), compress_extension=cz.  Kprobe events (group wbcp, enabled only
# in the tracefs instance wbcp, all removed on exit), arguments through BTF:
#   wbcp_wmp       f2fs_write_multi_pages(): one cluster written: cc->nr_rpages,
#                  cc->cluster_idx, cc->cluster_size, wbc->sync_mode,
#                  wbc->nr_to_write, cc->inode->i_ino;
#   wbcp_wdp       f2fs_write_data_pages(): one writeback pass: inode, budget
#                  (wbc->nr_to_write), sync mode;
#   wbcp_prep(_ret) patched only: f2fs_prepare_compress_overwrite_wb(), entry
#                  (inode, folio index) and return value.
#
# overwrite (T8): a 4 MiB text file written and synced (it must be a
#   compressed inode with blocks saved), caches dropped; then (a) mmap stores
#   into one page of each of clusters 3, 7, 8, 20 + msync; (b) full-page
#   pwrite()s into clusters 40 and 41 (write_begin prepares nothing for a full
#   page) + sync_file_range(WRITE).  Checked in each sub-case:
#     patched  writeback prepared exactly these clusters, each once, with
#              f2fs_prepare_compress_overwrite_wb() returning the cluster size
#              (16) for each;
#     stock    the function is not in /proc/kallsyms: that check is skipped;
#     both     f2fs_write_multi_pages() wrote each of these clusters whole
#              (nr_rpages 16) and none of them in part.
#   Then the file must equal its model (a tmpfs copy given the same writes)
#   after sync + drop_caches.
# budget (T6): a 64 MiB text file dirtied at once from the middle of cluster 0
#   (pages 8..16399), then written by background writeback only
#   (dirty_background_bytes 4096, flushers woken every second), until Dirty
#   drains (bounded wait).  The flusher's budget per pass (1024 to 12288
#   pages in the lab's 2 GiB guest) is smaller than the file, and as the dirty
#   range starts in the middle of a cluster, the first pass runs out of it in
#   the middle of one.  While the file is dirtied no flusher may wake:
#   periodic wake-ups and kupdate expiry are pushed to 1 h, and the global
#   background threshold is raised to 128 MiB (the kernel caps it at half the
#   dirty threshold).  A periodic wake-up alone was enough to break this: it
#   starts background writeback once the wb's share of the background
#   threshold, which follows its recent share of all write-out, is exceeded,
#   and that share can be tiny (seen on the debug kernel, 1 run in 4).
#   Checked, for the file's inode:
#     both     no writeback of it while it was being dirtied (a pass then could
#              rightly write the cluster being filled in part); cluster writes
#              were traced; the first WB_SYNC_NONE pass's budget
#              was smaller than the file; no WB_SYNC_NONE cluster write was
#              partial except for cluster 0 (half dirty) and the last cluster;
#     patched  a pass ended inside the file (its budget ran out there: the
#              cluster it ran out in was finished, as the check above shows);
#     stock    reported only: the old loop charges the budget per block
#              written, so a pass may cover the whole file;
#   then the file's sha256 must equal the model's after sync + drop_caches.
# End: fsck.f2fs clean, and both files checked again after umount + fsck +
# mount.  The /proc/sys/vm knobs changed are restored on exit.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TR=/sys/kernel/tracing
INST=$TR/instances/wbcp
GRP=wbcp
PROBES=(wbcp_prep wbcp_prep_ret wbcp_wmp wbcp_wdp)
PY=/usr/bin/python3
VARIANT=${WBTRACE_VARIANT:?not set: run through the lab}
DRAIN_SECS=${WB_CLUSTER_DRAIN_SECS:-240}   # bounded wait for background writeback
work=$(mktemp -d /tmp/wb-cluster-paths.XXXXXX)

save_vm

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	probes_off
	restore_vm
	rm -rf "$work"
}
trap cleanup EXIT

[ -d "$TR/events" ] || mount -t tracefs tracefs "$TR"
probes_off

# add_probe DEFINITION: define a kprobe event; on failure say why (error_log).
add_probe() {
	if ! echo "$1" >>"$TR/kprobe_events" 2>/dev/null; then
		log "cannot define the kprobe event: $1"
		tail -3 "$TR/error_log" 2>/dev/null | sed 's/^/    /'
		return 1
	fi
}

# --- probes
have_wmp=0 have_wdp=0 have_prep=0
if [ ! -w "$TR/kprobe_events" ]; then
	fail "no writable $TR/kprobe_events: the cluster paths cannot be traced"
else
	if add_probe "p:$GRP/wbcp_wmp f2fs_write_multi_pages nr=cc->nr_rpages:u32 cidx=cc->cluster_idx:u64 csz=cc->cluster_size:u32 sync=wbc->sync_mode:u32 ntw=wbc->nr_to_write:s64 ino=cc->inode->i_ino:u64"; then
		have_wmp=1
	else
		fail "f2fs_write_multi_pages: the BTF-typed kprobe (cc->..., wbc->...) cannot be created: the cluster writes cannot be checked"
	fi
	if add_probe "p:$GRP/wbcp_wdp f2fs_write_data_pages ino=mapping->host->i_ino:u64 ntw=wbc->nr_to_write:s64 sync=wbc->sync_mode:u32"; then
		have_wdp=1
	else
		fail "f2fs_write_data_pages: the BTF-typed kprobe (mapping->host->i_ino, wbc->...) cannot be created: the writeback passes cannot be checked"
	fi
	if awk '$3 == "f2fs_prepare_compress_overwrite_wb" { found = 1 } END { exit !found }' /proc/kallsyms; then
		[ "$VARIANT" = patched ] || fail "the $VARIANT module has f2fs_prepare_compress_overwrite_wb(): is the patched module loaded?"
		if add_probe "p:$GRP/wbcp_prep f2fs_prepare_compress_overwrite_wb ino=cc->inode->i_ino:u64 idx=index:u64" &&
			add_probe "r:$GRP/wbcp_prep_ret f2fs_prepare_compress_overwrite_wb ret=\$retval:s32"; then
			have_prep=1
		else
			fail "f2fs_prepare_compress_overwrite_wb: the kprobes cannot be created"
		fi
	elif [ "$VARIANT" = patched ]; then
		fail "the patched module has no f2fs_prepare_compress_overwrite_wb() in /proc/kallsyms"
	else
		log "stock: f2fs_prepare_compress_overwrite_wb() does not exist (not in /proc/kallsyms): its checks are skipped"
	fi
	mkdir "$INST"
	echo 4096 >"$INST/buffer_size_kb"
	echo 0 >"$INST/tracing_on"
	for p in "${PROBES[@]}"; do
		if [ -e "$INST/events/$GRP/$p/enable" ]; then
			echo 1 >"$INST/events/$GRP/$p/enable"
		fi
	done
fi

# trace_start: empty the instance's buffer and record.
trace_start() {
	[ -d "$INST" ] || return 0
	echo >"$INST/trace"
	echo 1 >"$INST/tracing_on"
}
# trace_stop FILE: stop recording, keep the buffer in FILE; lost events fail.
trace_stop() {
	: >"$1"
	[ -d "$INST" ] || return 0
	echo 0 >"$INST/tracing_on"
	cat "$INST/trace" >"$1"
	local lost
	lost=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$INST"/per_cpu/cpu*/stats)
	[ "$lost" = 0 ] || fail "the trace lost $lost events (buffer overrun): $(basename "$1") is incomplete"
}

cat >"$work/wbcp.py" <<'EOF'
import fcntl, hashlib, mmap, os, re, struct, sys

PAGE = 4096
CLUSTER = 16                                    # pages: compress_log_size=4
F2FS_IOC_GET_COMPRESS_BLOCKS = 0x8008f511       # _IOR(0xf5, 17, __u64)
FS_IOC_GETFLAGS = 0x80086601                    # _IOR('f', 1, long)
FS_COMPR_FL = 0x4
SYNC_FILE_RANGE_WRITE = 2
MMAP_AT = ((3, 1), (7, 9), (8, 15), (20, 0))    # (cluster, page in it): mmap stores
PWRITE_AT = ((40, 5), (41, 0))                  # full-page pwrite()s

def ioctl_u64(fd, req):
    return struct.unpack("Q", fcntl.ioctl(fd, req, bytes(8)))[0]

def sfr_write(fd):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    if libc.sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"sync_file_range: {os.strerror(e)}")

# --- trace parsing: "comm-pid [cpu] flags ts: wbcp_x: (where) k=v ..."
EV = re.compile(r"^\s*.+?-(\d+)\s+\[\d+\].*?\s(wbcp_\w+):\s+\([^)]*\)(.*)$")
KV = re.compile(r"(\w+)=(-?(?:0x[0-9a-fA-F]+|\d+))")

def events(path):
    for line in open(path):
        m = EV.match(line)
        if m:
            yield int(m.group(1)), m.group(2), {k: int(v, 0) for k, v in KV.findall(m.group(3))}

def clusters_of(spec):
    return sorted({c for c, _ in spec})

def main():
    mode = sys.argv[1]
    if mode == "compressed":            # FILE: "FS_COMPR_FL blocks-saved"
        fd = os.open(sys.argv[2], os.O_RDONLY)
        flags = struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, bytes(8)))[0]
        print(1 if flags & FS_COMPR_FL else 0, ioctl_u64(fd, F2FS_IOC_GET_COMPRESS_BLOCKS))
    elif mode == "clusters":            # mmap|pwrite: the clusters the sub-case writes into
        print(*clusters_of(MMAP_AT if sys.argv[2] == "mmap" else PWRITE_AT))
    elif mode == "mmap":                # FILE MODEL: stores through mmap into FILE, msync
        fd = os.open(sys.argv[2], os.O_RDWR)
        m = mmap.mmap(fd, 0)
        with open(sys.argv[3], "r+b") as model:
            for c, pg in MMAP_AT:
                off = (c * CLUSTER + pg) * PAGE + 100
                data = b"MMAP store %02d.%02d" % (c, pg)
                m[off:off + len(data)] = data
                model.seek(off)
                model.write(data)
        m.flush()                       # msync(MS_SYNC): a WB_SYNC_ALL pass
        m.close()
        os.close(fd)
    elif mode == "pwrite":              # FILE MODEL: full-page pwrite()s, sync_file_range(WRITE)
        fd = os.open(sys.argv[2], os.O_RDWR)
        with open(sys.argv[3], "r+b") as model:
            for c, pg in PWRITE_AT:
                off = (c * CLUSTER + pg) * PAGE
                data = (b"pwrite page %02d.%02d " % (c, pg) * 256)[:PAGE]
                assert os.pwrite(fd, data, off) == PAGE
                model.seek(off)
                model.write(data)
        sfr_write(fd)                   # a WB_SYNC_NONE pass over the whole file
        os.close(fd)
    elif mode == "budget-write":        # FILE FIRST NPAGES: pages FIRST.. of text, one pwrite; prints the sha256
        path, first, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        data = b"".join((b"page %08d of the cluster budget case, compressible text\n" % i * 74)[:PAGE]
                        for i in range(first, first + n))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        assert os.pwrite(fd, data, first * PAGE) == len(data)
        os.close(fd)
        print(hashlib.sha256(bytes(first * PAGE) + data).hexdigest())
    elif mode == "preps":               # TRACE INO CLUSTER...: exactly these prepared, each returning CLUSTER
        ino, want = int(sys.argv[3]), sorted(int(c) for c in sys.argv[4:])
        pending, got, bad = {}, [], []
        for pid, ev, v in events(sys.argv[2]):
            if ev == "wbcp_prep":
                pending[pid] = v["idx"] // CLUSTER if v.get("ino") == ino else None
            elif ev == "wbcp_prep_ret":
                if pid not in pending:
                    bad.append(f"a return ({v.get('ret')}) without its call")
                    continue
                c = pending.pop(pid)
                if c is not None:
                    got.append((c, v["ret"]))
        print("prepared clusters:", " ".join(f"{c}(ret {r})" for c, r in got) or "none")
        if sorted(c for c, _ in got) != want:
            bad.append(f"prepared clusters {sorted(c for c, _ in got)}, expected {want}, each once")
        bad += [f"cluster {c}: returned {r}, expected the cluster size {CLUSTER}" for c, r in got if r != CLUSTER]
        for b in bad:
            print("ERROR", b)
        sys.exit(1 if bad else 0)
    elif mode == "whole":               # TRACE INO CLUSTER...: each written whole, none in part
        ino, want = int(sys.argv[3]), [int(c) for c in sys.argv[4:]]
        w = [v for _, ev, v in events(sys.argv[2]) if ev == "wbcp_wmp" and v.get("ino") == ino]
        print(f"{len(w)} cluster writes of the file:",
              " ".join(f"{v['cidx']}(nr {v['nr']}/{v['csz']}, sync {v['sync']})" for v in w))
        bad = []
        for c in want:
            mine = [v for v in w if v["cidx"] == c]
            if not any(v["nr"] == v["csz"] == CLUSTER for v in mine):
                bad.append(f"cluster {c} was not written whole by f2fs_write_multi_pages")
            bad += [f"cluster {c} written in part: nr_rpages {v['nr']} of {v['csz']}" for v in mine if v["nr"] != v["csz"]]
        for b in bad:
            print("ERROR", b)
        sys.exit(1 if bad else 0)
    elif mode == "budget":              # TRACE INO FIRST LASTPAGE VARIANT
        ino, first, lastpage, variant = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
        first_c, last_c = first // CLUSTER, lastpage // CLUSTER
        dirty = lastpage - first + 1
        passes, cur, orphans = [], {}, 0
        for pid, ev, v in events(sys.argv[2]):
            if v.get("ino") != ino:
                continue
            if ev == "wbcp_wdp":
                cur[pid] = {"ntw": v["ntw"], "sync": v["sync"], "writes": []}
                passes.append(cur[pid])
            elif ev == "wbcp_wmp":
                if pid in cur:
                    cur[pid]["writes"].append(v)
                else:
                    orphans += 1
        bad = []
        none = [p for p in passes if p["sync"] == 0]
        writes = [w for p in passes for w in p["writes"] if w["sync"] == 0]
        print(f"{len(writes)} WB_SYNC_NONE cluster writes ({sum(w['nr'] for w in writes)} pages) in "
              f"{len(none)} WB_SYNC_NONE passes of {len(passes)}; {dirty} pages were dirty"
              + (f"; {orphans} cluster writes outside a traced pass" if orphans else ""))
        if not writes:
            bad.append("no WB_SYNC_NONE cluster write of the file was traced: the check proves nothing")
        elif none[0]["ntw"] >= dirty:
            bad.append(f"the first pass's budget ({none[0]['ntw']} pages) is not smaller than the file "
                       f"({dirty} dirty pages): no budget can have run out in it, the check proves nothing")
        ended_inside = 0
        for k, p in enumerate(none):
            if not p["writes"]:
                print(f"  pass {k}: budget {p['ntw']}, no cluster written")
                continue
            a, z = p["writes"][0], p["writes"][-1]
            inside = z["cidx"] < last_c
            ended_inside += inside
            print(f"  pass {k}: budget {p['ntw']}, {len(p['writes'])} clusters {a['cidx']}..{z['cidx']}; last one "
                  f"nr {z['nr']}/{z['csz']}, nr_to_write {z['ntw']} when written"
                  + ("  (ended inside the file)" if inside else ""))
        partial = [w for w in writes if w["nr"] < w["csz"] and w["cidx"] not in (first_c, last_c)]
        for w in partial[:10]:
            print(f"  PARTIAL: cluster {w['cidx']}: nr_rpages {w['nr']} of {w['csz']}, nr_to_write {w['ntw']}")
        if partial:
            bad.append(f"{len(partial)} WB_SYNC_NONE cluster writes inside the file were partial: a budget split a cluster")
        if writes and variant == "patched" and not ended_inside:
            bad.append("no WB_SYNC_NONE pass ended inside the file: the budget never ran out in a cluster")
        elif writes and not ended_inside:
            print("  (no pass ended inside the file)")
        for b in bad:
            print("ERROR", b)
        sys.exit(1 if bad else 0)
    else:
        sys.exit(f"unknown mode {mode}")

main()
EOF

indent() { sed "s/^/$1/"; }
have_trace() { [ "$have_wmp" = 1 ] && [ "$have_wdp" = 1 ]; }

mkfs_mount "extra_attr,compression" "compress_algorithm=lz4,compress_log_size=4,compress_extension=cz"

# --- overwrite (T8)
f=$MNT/a.cz model=$work/a.model
make_file "$f" $((64 * 16 * 4096)) text
sync
cp "$f" "$model"
read -r comprfl saved < <($PY "$work/wbcp.py" compressed "$f")
log "overwrite: a.cz, 64 clusters: FS_COMPR_FL $comprfl, $saved blocks saved"
if [ "$comprfl" != 1 ] || [ "${saved:-0}" -le 0 ]; then
	fail "overwrite: a.cz is not a compressed file with compressed clusters"
fi
ino_a=$(stat -c %i "$f")
drop_caches
for sub in mmap pwrite; do
	read -ra cl < <($PY "$work/wbcp.py" clusters "$sub")
	trace_start
	$PY "$work/wbcp.py" "$sub" "$f" "$model" || fail "overwrite ($sub): the writes failed"
	trace_stop "$work/$sub.trace"
	have_trace || continue
	if [ "$have_prep" = 1 ]; then
		if out=$($PY "$work/wbcp.py" preps "$work/$sub.trace" "$ino_a" "${cl[@]}"); then
			log "ok overwrite ($sub): f2fs_prepare_compress_overwrite_wb() prepared clusters $(sed -n 's/^prepared clusters: //p' <<<"$out")"
		else
			indent '    ' <<<"$out"
			fail "overwrite ($sub): writeback did not prepare clusters ${cl[*]} as expected"
		fi
	elif [ "$VARIANT" = stock ]; then
		log "overwrite ($sub): stock: no f2fs_prepare_compress_overwrite_wb() to count (skipped)"
	fi
	if out=$($PY "$work/wbcp.py" whole "$work/$sub.trace" "$ino_a" "${cl[@]}"); then
		log "ok overwrite ($sub): clusters ${cl[*]} written whole; $out"
	else
		indent '    ' <<<"$out"
		fail "overwrite ($sub): clusters ${cl[*]} were not written whole"
	fi
done
drop_caches
cmp "$f" "$model" || fail "overwrite: a.cz differs from its model after sync + drop_caches"

# --- budget (T6)
g=$MNT/b.cz
FIRST=8 LASTPAGE=16399                  # dirty pages: 8..15 of cluster 0, then clusters 1..1024
# No writeback of b.cz while it is being dirtied (see the header).  Changing
# dirty_writeback_centisecs wakes the flushers once: before the sync, so that
# this wake-up is over before b.cz is dirty.
echo 360000 >/proc/sys/vm/dirty_expire_centisecs
echo 360000 >/proc/sys/vm/dirty_writeback_centisecs
echo $((128 << 20)) >/proc/sys/vm/dirty_background_bytes
sync
trace_start
sum_b=$($PY "$work/wbcp.py" budget-write "$g" "$FIRST" $((LASTPAGE - FIRST + 1)))
trace_stop "$work/dirtying.trace"
ino_b=$(stat -c %i "$g")
log "budget: b.cz dirtied, pages $FIRST..$LASTPAGE; Dirty $(awk '/^Dirty:/ { print $2 }' /proc/meminfo) kB"
early=$(grep -cE "wbcp_w(mp|dp): .* ino=$ino_b( |\$)" "$work/dirtying.trace" || true)
if [ "$early" != 0 ]; then
	fail "budget: $early writeback events of b.cz while it was being dirtied ($(grep -E '^nr_dirty(_background)?_threshold ' /proc/vmstat | tr '\n' ' ')): a partial cluster below may be legitimate"
fi
if [ -d "$INST" ]; then
	for p in wbcp_wmp wbcp_wdp; do
		if [ -e "$INST/events/$GRP/$p/filter" ]; then
			echo "ino == $ino_b" >"$INST/events/$GRP/$p/filter"
		fi
	done
fi
trace_start
echo 4096 >/proc/sys/vm/dirty_background_bytes         # background writeback of everything
echo 100 >/proc/sys/vm/dirty_writeback_centisecs        # wakes the flushers now, then every second
waited=0
while [ "$(awk '/^Dirty:/ { print $2 }' /proc/meminfo)" -ge 2048 ] && [ "$waited" -lt "$DRAIN_SECS" ]; do
	sleep 1
	waited=$((waited + 1))
done
trace_stop "$work/budget.trace"
log "budget: Dirty $(awk '/^Dirty:/ { print $2 }' /proc/meminfo) kB after ${waited}s of background writeback"
restore_vm
if have_trace; then
	if out=$($PY "$work/wbcp.py" budget "$work/budget.trace" "$ino_b" "$FIRST" "$LASTPAGE" "$VARIANT"); then
		indent '  ' <<<"$out"
		log "ok budget: no WB_SYNC_NONE pass split a cluster of the file"
	else
		indent '  ' <<<"$out"
		fail "budget: the cluster writes of background writeback are not as expected"
	fi
fi
drop_caches
[ "$(sha256sum <"$g" | cut -d' ' -f1)" = "$sum_b" ] || fail "budget: b.cz differs from its model after sync + drop_caches"

# --- end
probes_off
if [ -r "$TR/kprobe_events" ] && grep -q "^[pr][0-9]*:$GRP/" "$TR/kprobe_events"; then
	fail "kprobe events of this test are left behind: $(grep "^[pr][0-9]*:$GRP/" "$TR/kprobe_events" | tr '\n' ' ')"
fi
fsck_clean
cmp "$f" "$model" || fail "a.cz differs from its model after umount + fsck + mount"
[ "$(sha256sum <"$g" | cut -d' ' -f1)" = "$sum_b" ] || fail "b.cz differs from its model after umount + fsck + mount"
finish
