#!/bin/bash
# Writeback of compressed clusters while compressing them runs out of memory
# (f2fs fault injection), data verified through the disk.
#
# One f2fs: mkfs -O extra_attr,compression; lz4, compress_log_size=2 (4-page
# clusters), compress_extension=cz, background_gc=off; the flusher asleep, so
# the test's calls do the writeback.  Three phases, each on dirty compressible
# files written before the injection is switched on through
# /sys/fs/f2fs/<dev>/inject_type and inject_rate, and switched off again
# before the checks.  While the injection is on, the files are written back
# by sync_file_range(WRITE) (WB_SYNC_NONE) and, on patched, half of them by
# fsync() (WB_SYNC_ALL), repeated up to 10 times while some call fails.  Not
# fsync() on stock: it leaves a cluster it cannot compress dirty and returns
# -ENOMEM, which do_writepages() retries for WB_SYNC_ALL as long as it fails,
# so fsync() would not return while the injection is on.
#   slab2, slab3  FAULT_SLAB_ALLOC, every 2nd / every 3rd allocation, each
#            on 8 new files of 512 KiB (32 clusters each).  Writing back a
#            cluster makes few slab allocations, in a fixed order: the
#            compress context's array of raw folios (stock: pages); in
#            f2fs_compress_pages() the compressed pages' array and, patched
#            only, the page array of f2fs_vmap_rfolios(); the compress_io_ctx
#            and its array.  So a rate hits the same one in every cluster:
#            2 the compressed pages' array on both variants, 3
#            f2fs_vmap_rfolios()'s on patched (on stock the compress_io_ctx,
#            whose failure already had the cluster written uncompressed).
#   vmalloc  FAULT_VMALLOC, every second call: fails the compressor's
#            workspace (lz4_init_compress_ctx()), the only vmalloc of a write;
#            on 8 new files, and on files partly overwritten (6 KiB inside
#            their first cluster): those of the slab phases, and 8 written
#            and fsync()ed before any injection, whose clusters are
#            compressed on disk.
# Checks:
#   - the injections happened: inject_stats counts them, and the trace shows
#     f2fs_compress_pages_end with ret = -ENOMEM in each phase; in the slab
#     phases, a kretprobe on page_array_alloc() tells which array failed (the
#     first one in f2fs_compress_pages() is the compressed pages', the second,
#     patched only, f2fs_vmap_rfolios()'s): on both variants some must be
#     the first, on patched some the second;
#   - patched: a cluster that cannot be compressed for lack of memory is
#     written uncompressed, so every sync_file_range() and fsync() call
#     succeeds at once, in every phase.  On stock, sync_file_range() fails
#     with ENOMEM when compression does: the test reports how often, without
#     failing;
#   - once the injection is off, fsync() succeeds on every file;
#   - contents equal the source files after each phase, after sync +
#     drop_caches, and after umount + fsck.f2fs (must be clean) + mount;
#   - no WARNING/BUG/Oops in the kernel log during the test.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TR=/sys/kernel/tracing
INST=$TR/instances/wbnomem
GRP=wbnomem
PROBES=(wbnomem_pa)   # for lib.sh's probes_off
VARIANT=${WBTRACE_VARIANT:?not set: run through the lab}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/wb-compress-nomem.XXXXXX)
sysdir=/sys/fs/f2fs/$(basename "$DEV")
procdir=/proc/fs/f2fs/$(basename "$DEV")
dmesg_before=$(dmesg | wc -l)

save_vm

inject_off() {
	[ -w "$sysdir/inject_rate" ] || return 0
	echo 0 >"$sysdir/inject_rate" 2>/dev/null || true
	echo 0 >"$sysdir/inject_type" 2>/dev/null || true
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	inject_off
	probes_off
	restore_vm
	rm -rf "$work"
}
trap cleanup EXIT

[ -d "$TR/events" ] || mount -t tracefs tracefs "$TR"
probes_off

mkfs_mount "extra_attr,compression" "compress_algorithm=lz4,compress_log_size=2,compress_extension=cz,background_gc=off"
if [ ! -w "$sysdir/inject_rate" ] || [ ! -r "$procdir/inject_stats" ]; then
	fail "no $sysdir/inject_rate or $procdir/inject_stats: the lab kernel needs CONFIG_F2FS_FAULT_INJECTION"
	finish
fi
flusher asleep

# inject_stats lists the fault types in the order of their bits, after a header.
fault_field() { # NAME bit|count
	awk -v n="$1" -v f="$2" 'NR > 1 {
		name = substr($0, 1, 24); sub(/ +$/, "", name)
		if (name == n) { print (f == "bit" ? NR - 2 : $NF); exit }
	}' "$procdir/inject_stats"
}
SLAB_BIT=$(fault_field "slab alloc" bit)
VMALLOC_BIT=$(fault_field vmalloc bit)
if [ -z "$SLAB_BIT" ] || [ -z "$VMALLOC_BIT" ]; then
	fail "inject_stats names no \"slab alloc\" or \"vmalloc\" fault"
	cat "$procdir/inject_stats"
	finish
fi

# --- trace: compression start/end, and page_array_alloc()'s return value.
have_pa=0
pa_sym=$(awk '$4 == "[f2fs]" && $3 ~ /^page_array_alloc(\.|$)/ { print $3; exit }' /proc/kallsyms)
if [ -z "$pa_sym" ]; then
	[ "$VARIANT" = patched ] && fail "page_array_alloc() is not in the f2fs module's kallsyms (inlined?): the failures of f2fs_vmap_rfolios() cannot be told apart"
	[ "$VARIANT" = patched ] || log "stock: page_array_alloc() is not in kallsyms: which array failed is not reported"
elif kprobe_add "r:$GRP/wbnomem_pa f2fs:$pa_sym ret=\$retval:x64"; then
	have_pa=1
else
	fail "cannot define a kretprobe on $pa_sym"
fi
mkdir "$INST"
echo 4096 >"$INST/buffer_size_kb"
echo 0 >"$INST/tracing_on"
for e in f2fs/f2fs_compress_pages_start f2fs/f2fs_compress_pages_end; do
	echo 1 >"$INST/events/$e/enable" || fail "cannot enable the trace event $e"
done
[ "$have_pa" = 1 ] && echo 1 >"$INST/events/$GRP/wbnomem_pa/enable"

trace_start() { echo >"$INST/trace"; echo 1 >"$INST/tracing_on"; }
trace_stop() { # FILE
	local lost
	echo 0 >"$INST/tracing_on"
	cat "$INST/trace" >"$1"
	lost=$(awk '/^overrun:/ { n += $2 } END { print n + 0 }' "$INST"/per_cpu/cpu*/stats)
	[ "$lost" = 0 ] || fail "the trace lost $lost events (buffer overrun): $(basename "$1") is incomplete"
}
# compress_failures FILE: "ENOMEM FIRST SECOND OTHER": compressions that
# returned -ENOMEM, and of those, how many after the first / the second
# page_array_alloc() of f2fs_compress_pages() returned NULL, and how many
# after neither (the workspace, or vm_map_ram()).  Per task: the calls between
# a task's f2fs_compress_pages_start and its f2fs_compress_pages_end.
compress_failures() {
	awk '
		{ pid = $1; sub(/.*-/, "", pid) }
		/ f2fs_compress_pages_start: / { open[pid] = 1; calls[pid] = 0; null_at[pid] = 0; next }
		/ wbnomem_pa: / {
			if (open[pid]) { calls[pid]++; if ($NF == "ret=0x0") null_at[pid] = calls[pid] }
			next
		}
		/ f2fs_compress_pages_end: / {
			if (open[pid] && / ret = -12$/) {
				enomem++
				if (null_at[pid] == 1) first++
				else if (null_at[pid] == 2) second++
				else other++
			}
			open[pid] = 0
		}
		END { printf "%d %d %d %d\n", enomem, first, second, other }' "$1"
}

# writeback fsync|sfr FILE...: fsync() or sync_file_range(WRITE) each file;
# prints "FAILED ENOMEM", exits 0 if no call failed.
writeback() {
	$PY "$(dirname "$0")/wb_compress_nomem.py" "$@"
}
fsync_all() { writeback fsync "$@"; }

# verify LABEL: every file equals its source.
verify() {
	local f bad=0
	for f in "$work"/src/*.cz; do
		if ! cmp -s "$f" "$MNT/${f##*/}"; then
			bad=$((bad + 1))
			if [ "$bad" -le 3 ]; then log "$1: ${f##*/} differs"; fi
		fi
	done
	[ "$bad" = 0 ] || fail "$1: $bad file(s) differ from their source"
}

mkdir -p "$work/src"
# new_files PREFIX: 8 compressible files of 512 KiB, in $work/src and copied
# (dirty, not written back) into the file system.
new_files() {
	local i
	for i in 0 1 2 3 4 5 6 7; do
		make_file "$work/src/$1$i.cz" 524288 text
		cp "$work/src/$1$i.cz" "$MNT/$1$i.cz"
	done
}

# phase NAME FAULT_BIT RATE TYPE_NAME FILE...: inject while writing FILE...
# back, then check.
phase() {
	local name=$1 bit=$2 rate=$3 type_name=$4 n0 n1 try out rc counts half
	local -a sfr_files fsync_files
	shift 4
	if [ "$VARIANT" = patched ]; then
		half=$(($# / 2))
		sfr_files=("${@:1:half}") fsync_files=("${@:half+1}")
	else
		sfr_files=("$@") fsync_files=()
	fi
	n0=$(fault_field "$type_name" count)
	trace_start
	echo $((1 << bit)) >"$sysdir/inject_type"
	echo "$rate" >"$sysdir/inject_rate"
	wb_failed=0 wb_enomem=0 wb_rounds=0
	for try in 1 2 3 4 5 6 7 8 9 10; do
		rc=0
		out=$(writeback sfr "${sfr_files[@]}") || rc=1
		wb_failed=$((wb_failed + ${out% *})) wb_enomem=$((wb_enomem + ${out#* }))
		if [ "${#fsync_files[@]}" -gt 0 ]; then
			out=$(writeback fsync "${fsync_files[@]}") || rc=1
			wb_failed=$((wb_failed + ${out% *})) wb_enomem=$((wb_enomem + ${out#* }))
		fi
		wb_rounds=$try
		[ "$rc" = 0 ] && break
	done
	inject_off
	trace_stop "$work/trace-$name.txt"
	n1=$(fault_field "$type_name" count)
	counts=$(compress_failures "$work/trace-$name.txt")
	read -r c_enomem c_first c_second c_other <<<"$counts"
	log "$name: $((n1 - n0)) \"$type_name\" injections; $c_enomem compressions returned -ENOMEM" \
		"(page arrays: $c_first compressed pages, $c_second f2fs_vmap_rfolios(); $c_other other);" \
		"${#sfr_files[@]} files by sync_file_range, ${#fsync_files[@]} by fsync:" \
		"$wb_failed calls failed ($wb_enomem ENOMEM) in $wb_rounds round(s)"
	[ $((n1 - n0)) -gt 0 ] || fail "$name: inject_stats counts no \"$type_name\" injection"
	if [ "$VARIANT" = patched ] && [ "$wb_failed" != 0 ]; then
		fail "$name: $wb_failed writeback calls failed: a cluster that could not be compressed was not written uncompressed"
	fi
	out=$(fsync_all "$@") || fail "$name: fsync() still fails with the injection off ($out: failed, ENOMEM)"
	verify "$name"
}

log "8 files written and fsync()ed without injection, to be overwritten later"
new_files c-
fsync_all "$MNT"/c-*.cz >/dev/null || fail "fsync() fails without injection"
slab_enomem=0 slab_first=0 slab_second=0
for rate in 2 3; do
	log "slab$rate: FAULT_SLAB_ALLOC (bit $SLAB_BIT), rate $rate"
	new_files "s$rate-"
	phase "slab$rate" "$SLAB_BIT" "$rate" "slab alloc" "$MNT"/s"$rate"-*.cz
	slab_enomem=$((slab_enomem + c_enomem)) slab_first=$((slab_first + c_first)) slab_second=$((slab_second + c_second))
done
[ "$slab_enomem" -gt 0 ] || fail "slab: no compression returned -ENOMEM: the injections missed compression"
if [ "$have_pa" = 1 ]; then
	[ "$slab_first" -gt 0 ] || fail "slab: no compression failed at the compressed pages' array"
	if [ "$VARIANT" = patched ] && [ "$slab_second" = 0 ]; then
		fail "slab: no compression failed at f2fs_vmap_rfolios()'s page array: its failure was not exercised"
	fi
fi

log "vmalloc: FAULT_VMALLOC (bit $VMALLOC_BIT), rate 2; the slab files overwritten in part, and new files"
for f in "$work"/src/[cs]*.cz; do
	make_file "$work/ow" 6144 text
	dd if="$work/ow" of="$f" bs=6144 seek=10000 oflag=seek_bytes conv=notrunc status=none
	dd if="$work/ow" of="$MNT/${f##*/}" bs=6144 seek=10000 oflag=seek_bytes conv=notrunc status=none
done
new_files v-
phase vmalloc "$VMALLOC_BIT" 2 vmalloc "$MNT"/*.cz
[ "$c_enomem" -gt 0 ] || fail "vmalloc: no compression returned -ENOMEM: the injections missed compression"

restore_vm
drop_caches
verify "after sync + drop_caches"
fsck_clean
verify "after umount + fsck.f2fs + mount"

splat=$(dmesg | tail -n +"$((dmesg_before + 1))" | grep -E 'WARNING:|BUG:|Oops|general protection|kernel BUG' || true)
[ -z "$splat" ] || { fail "the kernel log has a splat"; echo "$splat" | head -20 | sed 's/^/    /'; }
finish
