#!/bin/bash
# Large folios on f2fs's read path (issue 16): f2fs gives a mapping large folios
# only for an immutable regular file that is not compressed (f2fs_iget()), and
# reads them with f2fs_read_data_large_folio(), which keeps a struct
# f2fs_folio_state in folio->private.  Files with random data, holes and a
# partial last block are written, made immutable, read back through a fresh
# inode (the folio order is fixed at iget: umount + mount) and compared with
# their checksums.  The trace event filemap:mm_filemap_add_to_page_cache must
# show a folio of order > 0 for each file, or the test proves nothing and fails.
#
# Needs CONFIG_TRANSPARENT_HUGEPAGE (without it the page cache has no large
# folios at all), which lab.config has on this branch only.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TR=/sys/kernel/tracing
INST=$TR/instances/lf-large-folio-read
work=$(mktemp -d /tmp/lf-large-folio-read.XXXXXX)

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -d "$INST" ] || return 0
	echo 0 >"$INST/events/filemap/mm_filemap_add_to_page_cache/enable"
	rmdir "$INST" || true
}
trap cleanup EXIT

[ -d /sys/kernel/mm/transparent_hugepage ] ||
	{ fail "this kernel has no CONFIG_TRANSPARENT_HUGEPAGE: no large folio can exist"; finish; }

mkfs_mount "" ""
log "writing"
head -c $((4 << 20)) /dev/urandom >"$MNT/f1"                  # 4 MiB
head -c $(((3 << 20) + 1234)) /dev/urandom >"$MNT/f2"         # partial last block
head -c $((1 << 20)) /dev/urandom >"$MNT/f3"                  # data, hole, data
dd if=/dev/urandom of="$MNT/f3" bs=1024 seek=3072 count=1025 conv=notrunc status=none
(cd "$MNT" && sha256sum f1 f2 f3) >"$work/sums"
sync
chattr +i "$MNT/f1" "$MNT/f2" "$MNT/f3"
remount
echo 3 >/proc/sys/vm/drop_caches

mkdir "$INST"
echo 1 >"$INST/events/filemap/mm_filemap_add_to_page_cache/enable"
log "reading back through immutable inodes"
(cd "$MNT" && sha256sum -c --quiet "$work/sums") || fail "data read back differs"
echo 0 >"$INST/events/filemap/mm_filemap_add_to_page_cache/enable"
cat "$INST/trace" >"$work/trace"

for f in f1 f2 f3; do
	ino=$(printf '%x' "$(stat -c %i "$MNT/$f")")
	n=$(grep -cE " ino $ino pfn=.* order=[1-9]" "$work/trace" || true)
	log "$f (ino 0x$ino): $n folio(s) of order > 0 added"
	[ "$n" -gt 0 ] || fail "$f: no large folio was created; the test did not reach the large-folio read path"
done
[ "$FAILS" = 0 ] || keep_evidence lf-large-folio-read "$work"
finish
