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
WBCP=$(dirname "$0")/wb_cluster_paths.py   # the Python of this test
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

# --- probes
have_wmp=0 have_wdp=0 have_prep=0
if [ ! -w "$TR/kprobe_events" ]; then
	fail "no writable $TR/kprobe_events: the cluster paths cannot be traced"
else
	if kprobe_add "p:$GRP/wbcp_wmp f2fs_write_multi_pages nr=cc->nr_rpages:u32 cidx=cc->cluster_idx:u64 csz=cc->cluster_size:u32 sync=wbc->sync_mode:u32 ntw=wbc->nr_to_write:s64 ino=cc->inode->i_ino:u64"; then
		have_wmp=1
	else
		fail "f2fs_write_multi_pages: the BTF-typed kprobe (cc->..., wbc->...) cannot be created: the cluster writes cannot be checked"
	fi
	if kprobe_add "p:$GRP/wbcp_wdp f2fs_write_data_pages ino=mapping->host->i_ino:u64 ntw=wbc->nr_to_write:s64 sync=wbc->sync_mode:u32"; then
		have_wdp=1
	else
		fail "f2fs_write_data_pages: the BTF-typed kprobe (mapping->host->i_ino, wbc->...) cannot be created: the writeback passes cannot be checked"
	fi
	if awk '$3 == "f2fs_prepare_compress_overwrite_wb" { found = 1 } END { exit !found }' /proc/kallsyms; then
		[ "$VARIANT" = patched ] || fail "the $VARIANT module has f2fs_prepare_compress_overwrite_wb(): is the patched module loaded?"
		if kprobe_add "p:$GRP/wbcp_prep f2fs_prepare_compress_overwrite_wb ino=cc->inode->i_ino:u64 idx=index:u64" &&
			kprobe_add "r:$GRP/wbcp_prep_ret f2fs_prepare_compress_overwrite_wb ret=\$retval:s32"; then
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

indent() { sed "s/^/$1/"; }
have_trace() { [ "$have_wmp" = 1 ] && [ "$have_wdp" = 1 ]; }

mkfs_mount "extra_attr,compression" "compress_algorithm=lz4,compress_log_size=4,compress_extension=cz"

# --- overwrite (T8)
f=$MNT/a.cz model=$work/a.model
make_file "$f" $((64 * 16 * 4096)) text
sync
cp "$f" "$model"
read -r comprfl saved < <($PY "$WBCP" compressed "$f")
log "overwrite: a.cz, 64 clusters: FS_COMPR_FL $comprfl, $saved blocks saved"
if [ "$comprfl" != 1 ] || [ "${saved:-0}" -le 0 ]; then
	fail "overwrite: a.cz is not a compressed file with compressed clusters"
fi
ino_a=$(stat -c %i "$f")
drop_caches
for sub in mmap pwrite; do
	read -ra cl < <($PY "$WBCP" clusters "$sub")
	trace_start
	$PY "$WBCP" "$sub" "$f" "$model" || fail "overwrite ($sub): the writes failed"
	trace_stop "$work/$sub.trace"
	have_trace || continue
	if [ "$have_prep" = 1 ]; then
		if out=$($PY "$WBCP" preps "$work/$sub.trace" "$ino_a" "${cl[@]}"); then
			log "ok overwrite ($sub): f2fs_prepare_compress_overwrite_wb() prepared clusters $(sed -n 's/^prepared clusters: //p' <<<"$out")"
		else
			indent '    ' <<<"$out"
			fail "overwrite ($sub): writeback did not prepare clusters ${cl[*]} as expected"
		fi
	elif [ "$VARIANT" = stock ]; then
		log "overwrite ($sub): stock: no f2fs_prepare_compress_overwrite_wb() to count (skipped)"
	fi
	if out=$($PY "$WBCP" whole "$work/$sub.trace" "$ino_a" "${cl[@]}"); then
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
flusher asleep
echo $((128 << 20)) >/proc/sys/vm/dirty_background_bytes
sync
trace_start
sum_b=$($PY "$WBCP" budget-write "$g" "$FIRST" $((LASTPAGE - FIRST + 1)))
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
	if out=$($PY "$WBCP" budget "$work/budget.trace" "$ino_b" "$FIRST" "$LASTPAGE" "$VARIANT"); then
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
