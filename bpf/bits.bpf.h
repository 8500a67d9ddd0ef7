/* SPDX-License-Identifier: GPL-2.0 */
/* Bit helpers for the BPF side (branch-light floor(log2)). */
#ifndef WB_BITS_BPF_H
#define WB_BITS_BPF_H

/* floor(log2(v)) for v > 0; 0 for v == 0 (same slot as v == 1). */
static __always_inline __u32 wb_log2_32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 wb_log2_64(__u64 v)
{
	__u32 hi = v >> 32;

	if (hi)
		return wb_log2_32(hi) + 32;
	return wb_log2_32((__u32)v);
}

#endif /* WB_BITS_BPF_H */
