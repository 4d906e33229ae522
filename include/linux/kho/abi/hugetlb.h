/* SPDX-License-Identifier: GPL-2.0 */

#ifndef _LINUX_KHO_ABI_HUGETLB_H
#define _LINUX_KHO_ABI_HUGETLB_H

#include <linux/bits.h>
#include <linux/types.h>

/**
 * DOC: HugeTLB Live Update ABI
 *
 * HugeTLB hands two kinds of state to the next kernel: the huge page pools
 * and the hugetlbfs files preserved through LUO. A KHO FDT subtree named
 * HUGETLB_LUO_FDT_NAME holds what the next kernel must find and can read
 * before the buddy allocator is up: the page counts of each pool, used to
 * size the boot-time huge pages, and the small fixed-size records of the
 * files. The lists, which grow with the memory handed over, live in KHO
 * serialization blocks (``include/linux/kho/abi/block.h``) that the tree
 * points to: a singly linked list of pages, each a struct
 * kho_block_header_ser followed by ``count`` entries of one of the structs
 * below.
 *
 * This interface is a contract between two kernels. Any change to the node
 * names, the property names, their encoding or the entry structs is a
 * breaking change and requires a new version in HUGETLB_LUO_COMPATIBLE,
 * which is the version of the whole ABI: the subtree, the LUO file handler
 * and the LUO FLB all carry it.
 *
 * FDT integers are big-endian and only 4-byte aligned: 64-bit properties
 * must be read with fdt64_ld(). The entries of the blocks are in the CPU's
 * byte order, like the block headers: KHO only hands over between kernels
 * of one architecture. Block list addresses are physical, 0 for an empty
 * list::
 *
 *   / {
 *       compatible = "hugetlb-v3";
 *
 *       hstate-<order> {
 *           order = <u32>;           huge page order, in PAGE_SHIFT units
 *
 *           node-<nid> {
 *               nid = <u32>;
 *               surplus = <u32>;     in-use pages that are surplus pages
 *               nr-free = <u64>;     free pages, the sum of the run lengths
 *               nr-in-use = <u64>;   pages of preserved files on this node
 *               nr-runs = <u64>;     entries in free-runs
 *               free-runs = <u64>;   block list of hugetlb_luo_run_ser
 *           };
 *       };
 *
 *       file-<id> {
 *           order = <u32>;
 *           seals = <u32>;           F_SEAL_* bits, uABI values
 *           size = <u64>;            i_size in bytes
 *           pos = <u64>;             f_pos
 *           nr-folios = <u64>;       huge pages present in the file
 *           nr-extents = <u64>;      entries in the list below
 *           extents = <u64>;         block list of hugetlb_luo_extent_ser
 *           nr-ranges = <u64>;       entries in the list below
 *           reserved = <u64>;        block list of hugetlb_luo_range_ser
 *       };
 *   };
 *
 * Every block is a page preserved with KHO at order 0 and holds at least
 * one entry; a list holds exactly the number of entries that the tree says.
 *
 * Pools
 * =====
 *
 * An ``hstate-<order>`` node exists for every huge page size with at least
 * one page handed over, and a ``node-<nid>`` node below it for every NUMA
 * node with at least one such page. ``free-runs`` lists the pages that were
 * on the free list as runs of physically contiguous huge pages, in
 * ascending order, not overlapping. ``nr-in-use`` counts the pages of node
 * ``nid`` that back a preserved file; the files list them. ``surplus`` says
 * how many of the in-use pages were surplus pages
 * (``nr_overcommit_hugepages``), at most ``nr-in-use``. Every page, free or
 * in use, is preserved with kho_preserve_folio() at the order of its hstate.
 * The pool nodes are written when the last preserved file is frozen: before
 * that the tree holds only the ``file-<id>`` nodes. ``nr-free`` is 0 unless
 * a pool file of that page size was preserved.
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
 * serialized data of the file, in decimal in the node name. ``extents``
 * lists the file's huge pages in ascending page cache order, as extents of
 * pages that are contiguous both in the file and in memory, ``nr-folios``
 * pages in all: holes of a sparse file have none.
 *
 * ``reserved`` is the file's reservation map: the ranges of the file in
 * which every huge page is either present or reserved, as shared mappings
 * and fallocate() leave them, sorted and not overlapping. The pages of those
 * ranges that ``extents`` does not fill are the file's reserved pages: the
 * next kernel takes them from its free pool at boot (they count in
 * ``HugePages_Rsvd``) and gives the reservation to the file when it is
 * retrieved. The list may be empty.
 *
 * ``extents``, ``reserved`` and ``pos`` are refreshed when the file is
 * frozen, right before the kexec.
 */

/* Name of the KHO subtree. */
#define HUGETLB_LUO_FDT_NAME		"hugetlb"

/*
 * Version of the whole ABI: compatible string of the subtree root, of the
 * LUO file handler and of the LUO FLB that owns the subtree.
 */
#define HUGETLB_LUO_COMPATIBLE		"hugetlb-v3"

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
#define HUGETLB_LUO_NR_FREE_PROP	"nr-free"
#define HUGETLB_LUO_NR_IN_USE_PROP	"nr-in-use"
#define HUGETLB_LUO_NR_RUNS_PROP	"nr-runs"
#define HUGETLB_LUO_RUNS_PROP		"free-runs"
#define HUGETLB_LUO_SEALS_PROP		"seals"
#define HUGETLB_LUO_SIZE_PROP		"size"
#define HUGETLB_LUO_POS_PROP		"pos"
#define HUGETLB_LUO_NR_FOLIOS_PROP	"nr-folios"
#define HUGETLB_LUO_NR_EXTENTS_PROP	"nr-extents"
#define HUGETLB_LUO_EXTENTS_PROP	"extents"
#define HUGETLB_LUO_NR_RANGES_PROP	"nr-ranges"
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
 * struct hugetlb_luo_run_ser - A run of free huge pages of one pool.
 * @pfn: Page frame number of the head page of the first huge page, a
 *       multiple of the number of base pages in a huge page.
 * @nr:  Number of huge pages in the run, at least 1. The run covers
 *       ``nr << order`` base pages from @pfn on.
 */
struct hugetlb_luo_run_ser {
	u64 pfn;
	u64 nr;
} __packed;

/**
 * struct hugetlb_luo_extent_ser - Huge pages of a preserved file that are
 *                                 contiguous in the file and in memory.
 * @pfn:   Where the first huge page is, in huge pages: its head page is at
 *         page frame number ``pfn << order``.
 * @index: Where it is in the file, in huge pages: its page cache index, in
 *         PAGE_SIZE units, is ``index << order``.
 * @nr:    Number of huge pages, at least 1. Huge page k (from 0) is at PFN
 *         ``(pfn + k) << order`` and index ``(index + k) << order``, below
 *         the file size.
 *
 * Counting in huge pages keeps an extent at 12 bytes, and every PFN and
 * index it can express aligned. 32 bits reach 8 PiB of physical address
 * and of file with 2 MiB pages, 256 TiB with 64 KiB pages; preserve
 * refuses a file or a page beyond them.
 */
struct hugetlb_luo_extent_ser {
	u32 pfn;
	u32 index;
	u32 nr;
} __packed;

/**
 * struct hugetlb_luo_range_ser - One range of a file's reservation map.
 * @start: First page cache index of the range, in PAGE_SIZE units. A
 *         multiple of the number of base pages in a huge page.
 * @end:   Page cache index right after the range, in the same units, also
 *         a multiple of the huge page size, greater than @start and at most
 *         the file size.
 */
struct hugetlb_luo_range_ser {
	u64 start;
	u64 end;
} __packed;

#endif /* _LINUX_KHO_ABI_HUGETLB_H */
