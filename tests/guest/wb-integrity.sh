#!/bin/bash
# Data written every way writeback sees it, verified through the disk.
#
# On a fresh f2fs (inline_data and inline_dentry on, the defaults), one Python
# pass writes, and keeps an in-memory model of, files written with:
#   buffered writes (sizes around 0/inline/page/EOF boundaries, random
#   overwrites and extensions), write+fsync and fdatasync, O_SYNC, O_DIRECT
#   mixed with buffered writes on the same file, mmap stores (msync'd and
#   not), a mmap store beyond EOF inside the last page (writeback must zero
#   it: checked by reading the block back from the device), inline files
#   grown out of inline, sparse files, and a directory tree with renames and
#   unlinks (dentry pages go through the same data writeback).
# The model is compared with the files: before sync (page cache), after
# sync + drop_caches, and after umount + fsck.f2fs (must be clean) + mount.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
WBI=$(dirname "$0")/wb_integrity.py   # the Python of this test
work=$(mktemp -d /tmp/wb-integrity.XXXXXX)

mkfs_mount "" ""
log "writing"
$PY "$WBI" write "$MNT" "$work/manifest.json" || { fail "writing the data set failed"; finish; }
log "verify in the page cache"
$PY "$WBI" verify "$MNT" "$work/manifest.json" || fail "data differs before sync"
log "verify after sync + drop_caches"
drop_caches
$PY "$WBI" verify "$MNT" "$work/manifest.json" || fail "data differs after sync + drop_caches"
log "fsck.f2fs, remount, verify"
fsck_clean
$PY "$WBI" verify "$MNT" "$work/manifest.json" || fail "data differs after umount + fsck + mount"

# The page straddling EOF: extend the file now that its page was read back
# from disk; the bytes stored beyond the old EOF must not come back.
# The page straddling EOF: writeback must have zeroed what mmap stored beyond
# EOF before writing the block.  Read the block itself from the disk (f2fs
# zeroes the tail again when a file is extended, so reading through the file
# cannot tell).
log "check on the disk that the block straddling EOF was written with a zeroed tail"
$PY "$WBI" eof-probe "$MNT" "$work/manifest.json" "$DEV" || fail "bytes stored beyond EOF through mmap reached the disk"
fsck_clean
rm -rf "$work"
finish
