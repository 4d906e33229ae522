/* SPDX-License-Identifier: GPL-2.0 */

#ifndef _LINUX_KHO_ABI_HUGETLB_H
#define _LINUX_KHO_ABI_HUGETLB_H

#include <linux/types.h>
#include <linux/kho/abi/kexec_handover.h>

/**
 * DOC: HugeTLB Live Update ABI
 *
 * HugeTLB hands two kinds of state to the next kernel: the huge page pools
 * and the hugetlbfs files preserved through LUO. This interface is a
 * contract. Any change to the FDT layout, the property names or the packed
 * structures below is a breaking change and requires a new version in
 * HUGETLB_LUO_COMPATIBLE and HUGETLB_LUO_FH_COMPATIBLE.
 *
 * Pools
 * =====
 *
 * The pools live in a KHO FDT subtree named HUGETLB_LUO_FDT_NAME, so that
 * the next kernel can read the page counts before the buddy allocator is up,
 * when it decides how many boot-time huge pages to allocate::
 *
 *   / {
 *       compatible = "hugetlb-v1";
 *
 *       hstate-<order> {
 *           order = <u32>;                 huge page order (PAGE_SHIFT units)
 *
 *           node-<nid> {
 *               nid = <u32>;
 *               pool = struct hugetlb_luo_pool_ser;
 *           };
 *       };
 *   };
 *
 * Every huge page listed in a pool is preserved with kho_preserve_folio() at
 * its full order. Pages that back a preserved file are listed as in use in
 * the pool of their hstate and node as well as in the file they belong to:
 * the pool tells the next kernel how many pages exist, the file tells where
 * each one goes.
 *
 * Files
 * =====
 *
 * Each preserved file is described by a &struct hugetlb_luo_file_ser whose
 * physical address is the LUO serialized data of the file. Its folios are
 * listed in a preserved array of &struct hugetlb_luo_folio_ser.
 */

/* Name of the KHO subtree holding the pools. */
#define HUGETLB_LUO_FDT_NAME		"hugetlb"

/* Compatible string of the pool subtree root. */
#define HUGETLB_LUO_COMPATIBLE		"hugetlb-v1"

/* Compatible string of the LUO file handler. */
#define HUGETLB_LUO_FH_COMPATIBLE	"hugetlb-file-v1"

/* Compatible string of the LUO FLB that owns the pool subtree. */
#define HUGETLB_LUO_FLB_COMPATIBLE	"hugetlb-pool-v1"

/* Property names used in the pool subtree. */
#define HUGETLB_LUO_ORDER_PROP		"order"
#define HUGETLB_LUO_NID_PROP		"nid"
#define HUGETLB_LUO_POOL_PROP		"pool"

/*
 * The seals this version preserves. hugetlbfs shares the memfd seal set; a
 * file with any other seal is refused. Adding one requires a version bump.
 */
#define HUGETLB_LUO_ALL_SEALS	(F_SEAL_SEAL | \
				 F_SEAL_SHRINK | \
				 F_SEAL_GROW | \
				 F_SEAL_WRITE | \
				 F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)

/**
 * struct hugetlb_luo_pool_ser - Preserved pages of one hstate on one node.
 * @nr_free:   Number of pages that were on the free list.
 * @nr_in_use: Number of pages that back preserved files.
 * @pfns:      KHO vmalloc descriptor of an array of @nr_free + @nr_in_use
 *             u64 page frame numbers: the free pages first, then the pages
 *             in use. Each PFN is the head of a huge page of the hstate's
 *             order and lies on the node of this pool.
 */
struct hugetlb_luo_pool_ser {
	u64 nr_free;
	u64 nr_in_use;
	struct kho_vmalloc pfns;
} __packed;

/**
 * struct hugetlb_luo_folio_ser - Serialized state of one folio of a file.
 * @pfn:   Page frame number of the head page of the folio.
 * @index: Page cache index of the folio, in PAGE_SIZE units.
 */
struct hugetlb_luo_folio_ser {
	u64 pfn;
	u64 index;
} __packed;

/**
 * struct hugetlb_luo_file_ser - Serialized state of a preserved file.
 * @pos:       The file position (f_pos).
 * @size:      The file size in bytes (i_size), a multiple of the huge page
 *             size.
 * @seals:     The memfd seals of the file (F_SEAL_*, uABI values).
 * @order:     Order of the file's huge pages, in PAGE_SHIFT units.
 * @nr_folios: Number of entries in @folios.
 * @folios:    KHO vmalloc descriptor of an array of
 *             &struct hugetlb_luo_folio_ser.
 */
struct hugetlb_luo_file_ser {
	u64 pos;
	u64 size;
	u32 seals;
	u32 order;
	u64 nr_folios;
	struct kho_vmalloc folios;
} __packed;

#endif /* _LINUX_KHO_ABI_HUGETLB_H */
