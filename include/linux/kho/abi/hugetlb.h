/* SPDX-License-Identifier: GPL-2.0 */

#ifndef _LINUX_KHO_ABI_HUGETLB_H
#define _LINUX_KHO_ABI_HUGETLB_H

#include <linux/bits.h>
#include <linux/types.h>

/**
 * DOC: HugeTLB Live Update ABI
 *
 * HugeTLB hands two kinds of state to the next kernel: the huge page pools
 * and the hugetlbfs files preserved through LUO. Both live in one KHO FDT
 * subtree named HUGETLB_LUO_FDT_NAME, so that the next kernel can read the
 * page counts before the buddy allocator is up, when it decides how many
 * boot-time huge pages to allocate, and so that every physical address
 * handed over can be inspected in ``/sys/kernel/debug/kho/out/sub_fdts/``.
 *
 * This interface is a contract between two kernels. Any change to the node
 * names, the property names or their encoding is a breaking change and
 * requires a new version in HUGETLB_LUO_COMPATIBLE,
 * HUGETLB_LUO_FH_COMPATIBLE and HUGETLB_LUO_FLB_COMPATIBLE.
 *
 * All integers are big-endian, as usual in an FDT. Properties are only
 * 4-byte aligned: 64-bit values must be read with fdt64_ld()::
 *
 *   / {
 *       compatible = "hugetlb-v1";
 *
 *       hstate-<order> {
 *           order = <u32>;           huge page order, in PAGE_SHIFT units
 *
 *           node-<nid> {
 *               nid = <u32>;
 *               surplus = <u32>;     in-use pages that are surplus pages
 *               free-pfns = <u64 ...>;
 *               in-use-pfns = <u64 ...>;
 *           };
 *       };
 *
 *       file-<id> {
 *           order = <u32>;
 *           seals = <u32>;           F_SEAL_* bits, uABI values
 *           size = <u64>;            i_size in bytes
 *           pos = <u64>;             f_pos
 *           folios = <struct hugetlb_luo_folio_ser ...>;
 *           reserved = <struct hugetlb_luo_range_ser ...>;
 *       };
 *   };
 *
 * Pools
 * =====
 *
 * An ``hstate-<order>`` node exists for every huge page size with at least
 * one page handed over, and a ``node-<nid>`` node below it for every NUMA
 * node with at least one such page. ``free-pfns`` lists the head PFNs of the
 * pages that were on the free list, ``in-use-pfns`` those of the pages that
 * back a preserved file. Either property may be empty. ``surplus`` says how
 * many of the in-use pages were surplus pages (``nr_overcommit_hugepages``):
 * the node's surplus count, at most ``in-use-pfns``. Every listed page is
 * preserved with kho_preserve_folio() at the order of its hstate and lies on
 * node ``nid``. The pool nodes are written when the last preserved file is
 * frozen: before that the tree holds only the ``file-<id>`` nodes.
 * ``free-pfns`` is empty unless a pool file of that page size was preserved.
 *
 * Pool files
 * ==========
 *
 * The free pages of a page size go along only when userspace preserves a
 * pool file: the root directory of a hugetlbfs mount of that page size. Its
 * LUO serialized data is HUGETLB_LUO_POOL_FILE ORed with the huge page
 * order; it has no node in the tree. Retrieving it gives an empty anonymous
 * file.
 *
 * Files
 * =====
 *
 * Each preserved hugetlbfs file has a ``file-<id>`` node. The id is the LUO
 * serialized data of the file, in decimal in the node name. ``folios`` lists
 * the file's huge pages in page cache order, one entry per page present:
 * holes of a sparse file have none. Each of them is also listed in
 * ``in-use-pfns`` of its pool: the pool tells the next kernel how many pages
 * exist, the file tells where each one goes.
 *
 * ``reserved`` is the file's reservation map: the ranges of the file in
 * which every huge page is either present or reserved, as shared mappings
 * and fallocate() leave them, sorted and not overlapping. The pages of those
 * ranges that ``folios`` does not fill are the file's reserved pages: the
 * next kernel takes them from its free pool at boot (they count in
 * ``HugePages_Rsvd``) and gives the reservation to the file when it is
 * retrieved. The property may be empty.
 *
 * ``folios``, ``reserved`` and ``pos`` are refreshed when the file is
 * frozen, right before the kexec.
 */

/* Name of the KHO subtree. */
#define HUGETLB_LUO_FDT_NAME		"hugetlb"

/* Compatible string of the subtree root. */
#define HUGETLB_LUO_COMPATIBLE		"hugetlb-v1"

/* Compatible string of the LUO file handler. */
#define HUGETLB_LUO_FH_COMPATIBLE	"hugetlb-file-v1"

/* Compatible string of the LUO FLB that owns the subtree. */
#define HUGETLB_LUO_FLB_COMPATIBLE	"hugetlb-pool-v1"

/* Serialized data of a pool file: this bit, ORed with the page order. */
#define HUGETLB_LUO_POOL_FILE		BIT_ULL(63)

/* Node name formats. */
#define HUGETLB_LUO_HSTATE_NODE		"hstate-%u"
#define HUGETLB_LUO_POOL_NODE		"node-%d"
#define HUGETLB_LUO_FILE_NODE		"file-%llu"

/* Property names. */
#define HUGETLB_LUO_ORDER_PROP		"order"
#define HUGETLB_LUO_NID_PROP		"nid"
#define HUGETLB_LUO_SURPLUS_PROP	"surplus"
#define HUGETLB_LUO_FREE_PROP		"free-pfns"
#define HUGETLB_LUO_IN_USE_PROP		"in-use-pfns"
#define HUGETLB_LUO_SEALS_PROP		"seals"
#define HUGETLB_LUO_SIZE_PROP		"size"
#define HUGETLB_LUO_POS_PROP		"pos"
#define HUGETLB_LUO_FOLIOS_PROP		"folios"
#define HUGETLB_LUO_RESERVED_PROP	"reserved"

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
 * struct hugetlb_luo_folio_ser - One huge page of a preserved file.
 * @pfn:   Page frame number of the head page, big-endian.
 * @index: Page cache index of the folio, in PAGE_SIZE units, big-endian.
 *         A multiple of the number of base pages in a huge page.
 */
struct hugetlb_luo_folio_ser {
	__be64 pfn;
	__be64 index;
} __packed;

/**
 * struct hugetlb_luo_range_ser - One range of a file's reservation map.
 * @start: First page cache index of the range, in PAGE_SIZE units,
 *         big-endian. A multiple of the number of base pages in a huge page.
 * @end:   Page cache index right after the range, in the same units, also
 *         a multiple of the huge page size, greater than @start and at most
 *         the file size.
 */
struct hugetlb_luo_range_ser {
	__be64 start;
	__be64 end;
} __packed;

#endif /* _LINUX_KHO_ABI_HUGETLB_H */
