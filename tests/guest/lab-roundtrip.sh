#!/bin/bash
# Lab smoke round: plain and compressed f2fs, files of several sizes written,
# verified after sync + drop_caches, fsck.f2fs, and after remount.
. "$(dirname "$0")/lib.sh"

sizes=(0 1 4095 4096 4097 65539 1048576 8388731)

round() { # $1 label, $2 mkfs features, $3 mount options, $4 file kind, $5 suffix
	log "$1: mkfs.f2fs ${2:-(defaults)}, mount ${3:-(defaults)}"
	mkfs_mount "$2" "$3"
	local i=0 s before after
	mkdir -p "$MNT/d1/d2"
	for s in "${sizes[@]}"; do
		make_file "$MNT/d1/f$i.$5" "$s" "$4"
		i=$((i + 1))
	done
	cp "$MNT/d1/f7.$5" "$MNT/d1/d2/copy.$5"
	before=$(sums)
	sync
	drop_caches
	after=$(sums)
	[ "$before" = "$after" ] || fail "$1: data differs after sync + drop_caches"
	if [ "$5" = txt ]; then
		# Counters live in the mounted instance: read them before remounting.
		local written saved
		written=$(sysfs_stat compr_written_block) saved=$(sysfs_stat compr_saved_block)
		log "$1: compr_written_block=$written compr_saved_block=$saved"
		[ "$written" -gt 0 ] && [ "$saved" -gt 0 ] || fail "$1: compression was not exercised"
	fi
	fsck_clean
	after=$(sums)
	[ "$before" = "$after" ] || fail "$1: data differs after umount + fsck + mount"
	log "$1: $(wc -l <<<"$before") files verified"
}

round plain "" "" random dat
round compressed "extra_attr,compression" "compress_algorithm=lz4,compress_extension=txt" text txt
finish
