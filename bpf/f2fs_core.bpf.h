/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CO-RE helpers for the few f2fs and folio fields wbtrace reads.
 *
 * f2fs is a module: its types are in /sys/kernel/btf/f2fs, not in vmlinux.h.
 * The local "___wb" flavours below carry only the fields we read; libbpf
 * relocates them against the module BTF at load time (the suffix is dropped
 * when matching), so nothing about f2fs is needed at build time.
 */
#ifndef WB_F2FS_CORE_BPF_H
#define WB_F2FS_CORE_BPF_H

#include <bpf/bpf_core_read.h>

struct f2fs_inode_info___wb {
	struct inode vfs_inode;
	unsigned long i_flags;		/* F2FS_COMPR_FL lives here */
} __attribute__((preserve_access_index));

struct compress_ctx___wb {
	struct inode *inode;
	unsigned long cluster_idx;	/* pgoff_t */
	unsigned int cluster_size;
	unsigned int nr_rpages;
} __attribute__((preserve_access_index));

struct compress_data___wb {
	unsigned int clen;
	unsigned int chksum;
	unsigned int reserved[4];
} __attribute__((preserve_access_index));

struct f2fs_bio_info___wb;

struct f2fs_sb_info___wb {
	struct super_block *sb;
	atomic_t wb_sync_req[2];	/* [DATA], [NODE]: WB_SYNC_ALL writers in progress */
	struct f2fs_bio_info___wb *write_io[3];	/* [NR_PAGE_TYPE]: the cached write bios */
	unsigned int max_io_bytes;	/* 0: no limit on a merged bio */
} __attribute__((preserve_access_index));

/*
 * CO-RE matches an enum field only to an enum of the same name (flavour
 * dropped): an int, or another enum's name, fails the relocation.
 */
enum page_type___wb { WB_F2FS_PAGE_TYPE___wb };
enum temp_type___wb { WB_F2FS_TEMP_TYPE___wb };

/* fs/f2fs/f2fs.h: one page's write request */
struct f2fs_io_info___wb {
	struct f2fs_sb_info___wb *sbi;
	enum page_type___wb type;
	enum temp_type___wb temp;
	enum req_op op;
	unsigned int op_flags;		/* blk_opf_t */
	unsigned int new_blkaddr;	/* block_t */
	struct page *encrypted_page;
	struct page *compressed_page;
	struct folio *folio;
	unsigned int folio_blk;		/* the block of a large data folio this fio writes:
					   the large-folio series (patch 13) only */
	unsigned int in_list:1;		/* a list of fios (zoned LFS): not followed */
} __attribute__((preserve_access_index));

/* fs/f2fs/f2fs.h: one (page type, temperature) stream's cached bio */
struct f2fs_bio_info___wb {
	struct bio *bio;
	unsigned long long last_block_in_bio;	/* sector_t, holds a block number */
	struct f2fs_io_info___wb fio;		/* the request the bio was opened for */
} __attribute__((preserve_access_index));

/* fs/fs-writeback.c (vmlinux): the flusher work item of writeback_start/_written */
struct wb_writeback_work___wb {
	enum wb_reason reason;
} __attribute__((preserve_access_index));

/*
 * atomic_read(&F2FS_I_SB(inode)->wb_sync_req[DATA]): how many WB_SYNC_ALL data
 * passes of the file system are in progress.  -1 if the field cannot be read.
 */
static __always_inline int wb_sync_req_data(struct inode *inode)
{
	struct f2fs_sb_info___wb *sbi;

	if (!bpf_core_field_exists(struct f2fs_sb_info___wb, wb_sync_req))
		return -1;
	sbi = BPF_CORE_READ(inode, i_sb, s_fs_info);
	if (!sbi)
		return -1;
	return BPF_CORE_READ(sbi, wb_sync_req[0].counter);
}

/* F2FS_I(inode)->i_flags & F2FS_COMPR_FL */
static __always_inline bool wb_inode_compressed(struct inode *inode)
{
	struct f2fs_inode_info___wb *fi;
	unsigned long off = 0, flags = 0;

	if (!bpf_core_type_exists(struct f2fs_inode_info___wb))
		return false;
	off = bpf_core_field_offset(struct f2fs_inode_info___wb, vfs_inode);
	fi = (void *)inode - off;
	flags = BPF_CORE_READ(fi, i_flags);
	return flags & WB_F2FS_COMPR_FL;
}

/* sizeof(struct compress_data) of the running module (COMPRESS_HEADER_SIZE). */
static __always_inline __u32 wb_compress_hdr(void)
{
	if (bpf_core_type_exists(struct compress_data___wb))
		return bpf_core_type_size(struct compress_data___wb);
	return WB_COMPRESS_HDR;
}

/*
 * folio_size(): PAGE_SIZE << folio_order().  folio->flags became
 * memdesc_flags_t in 6.18; both are one unsigned long at the same place, so
 * read the raw word.  The order of a large folio is the low byte of _flags_1.
 */
static __always_inline __u32 wb_folio_size(struct folio *folio)
{
	unsigned long flags = 0, flags1 = 0;
	unsigned int head = 6;	/* PG_head, if the enum is not in BTF */

	if (bpf_core_enum_value_exists(enum pageflags, PG_head))
		head = bpf_core_enum_value(enum pageflags, PG_head);
	bpf_probe_read_kernel(&flags, sizeof(flags),
			      (void *)folio + bpf_core_field_offset(struct folio, flags));
	if (!(flags & (1UL << (head & 63))))
		return WB_BLKSIZE;
	if (!bpf_core_field_exists(struct folio, _flags_1))
		return WB_BLKSIZE;
	flags1 = BPF_CORE_READ(folio, _flags_1);
	return WB_BLKSIZE << (flags1 & 0x1f);
}

/*
 * Bytes one f2fs_submit_page_write() call adds to its stream's bio for the data
 * folio of @fio (neither encrypted nor compressed): the whole folio before the
 * large-folio series, whose writes only ever see order-0 folios; one block once
 * f2fs_io_info has folio_blk, since there a large folio is written block by
 * block (bio_add_folio(bio, folio, F2FS_BLKSIZE, folio_blk << F2FS_BLKSIZE_BITS),
 * one call and one f2fs_submit_folio_write event per block).
 */
static __always_inline __u32 wb_fio_join_bytes(struct f2fs_io_info___wb *fio)
{
	if (bpf_core_field_exists(struct f2fs_io_info___wb, folio_blk))
		return WB_BLKSIZE;
	return wb_folio_size(BPF_CORE_READ(fio, folio));
}

#endif /* WB_F2FS_CORE_BPF_H */
