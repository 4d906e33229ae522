// SPDX-License-Identifier: GPL-2.0

/**
 * DOC: HugeTLB Preservation via LUO
 *
 * Overview
 * ========
 *
 * hugetlbfs files created with ``memfd_create(MFD_HUGETLB)`` can be preserved
 * over a kexec with the Live Update Orchestrator (LUO), and so can the huge
 * page pools themselves: the free huge pages of every hstate and NUMA node
 * are handed over to the next kernel instead of being freed and allocated
 * again, which for 1 GiB pages is often impossible once memory is
 * fragmented.
 *
 * Pools
 * =====
 *
 * The free huge pages of a page size are handed over only when userspace
 * asks for it, by preserving a *pool file* in a LUO session: the root
 * directory of a hugetlbfs mount of that page size, opened with
 * ``open("/dev/hugepages", O_RDONLY | O_DIRECTORY)`` for instance. A next
 * kernel that cannot take them back (one without this feature, after a
 * rollback) would keep every handed-over page reserved for good, so a live
 * update that nobody asked to carry the pools leaves them alone: the next
 * kernel allocates its ``hugepages=`` again. Closing the session, or
 * unpreserving the pool file, withdraws the request. Retrieving a pool file
 * in the next kernel gives an empty anonymous file, whose only use is to
 * say that the pool came along; finishing the session without retrieving it
 * is fine too.
 *
 * When the last preserved hugetlb file (pool files included) is frozen,
 * right before the kexec, the free pages of the requested page sizes are
 * taken off their free lists, as an allocation would take them, and
 * preserved with KHO, once. From then on they count as in use: no
 * allocation, shrink of ``nr_hugepages``, demote or dissolve can touch a
 * page that the next kernel will find on its free list. An aborted update
 * (unfreeze) gives them back to the pool and drops the record: a second
 * attempt starts from a clean state. HugeTLB CMA pages and poisoned pages
 * stay behind.
 *
 * Pages that back a preserved file are counted as in use (``nr_hugepages``
 * but not ``free_hugepages``) from boot until the file is retrieved, and go
 * to the free list when the session is finished without retrieving them.
 *
 * Surplus pages (``nr_overcommit_hugepages``) that back a preserved file stay
 * surplus pages in the next kernel, up to the number the old kernel had on
 * their node: ``surplus_hugepages`` is the same after the update, they do
 * not count towards ``hugepages=``, and they leave the pool when they are
 * freed. Free surplus pages (held for reservations) join the pool as
 * persistent pages.
 *
 * Early Boot
 * ==========
 *
 * KHO marks every preserved range reserved in memblock before
 * memblock_free_all(), so the buddy allocator never sees a preserved huge
 * page. HugeTLB reads its subtree twice during boot:
 *
 * - where the boot-time huge pages are sized (hugetlb_hstate_alloc_pages(),
 *   before the page allocator for gigantic pages), the page counts of each
 *   hstate and node are subtracted from what ``hugepages=`` asks for, so
 *   ``hugepages=N`` keeps meaning "N pages in the pool", preserved pages
 *   included;
 * - in hugetlb_init(), every listed page is checked and restored: free pages
 *   join the free list of their hstate and node, file pages are held as in
 *   use until their file is retrieved or finished.
 *
 * Validation
 * ==========
 *
 * Everything read from the previous kernel is untrusted input. The subtree
 * must be a valid FDT of the expected version, no larger than what KHO
 * handed over. Per pool, the number of pages is bounded by the memory that
 * could hold them. Each PFN must be the head of a range that KHO preserved
 * at exactly the order of the node (kho_restore_folio_order()): anything else,
 * unaligned, beyond memory, never preserved, listed twice or preserved by
 * another KHO user at another order, is left alone. A page that KHO did
 * preserve at that order but that cannot join a pool, because the next
 * kernel has no hstate of that size or the page is not on the recorded node,
 * is given back to the page allocator. Each pool with refused pages is
 * reported in one line. A file record is checked when it is retrieved:
 * known page size and seals, size within limits and a multiple of the page
 * size, and each folio must be a page restored as in use, of the file's
 * size, at an aligned index inside the file. On a bad record retrieve fails
 * with ``-EINVAL``; the file's pages go back to the free pool when the
 * session is finished.
 *
 * A tree that is not of the expected version is ignored as a whole: its
 * pages stay reserved, since nothing about them can be trusted.
 *
 * Limits
 * ======
 *
 * The subtree is one physically contiguous KHO allocation, at most
 * ``PAGE_SIZE << MAX_PAGE_ORDER`` bytes (4 MiB with 4 KiB pages): 8 bytes
 * per pool page and 24 bytes per file page. That is about 500000 huge pages
 * in total, 1 TiB of 2 MiB pages. Preserving a file that would not fit fails
 * with ``-E2BIG``, and so does the kexec if the pools do not fit.
 *
 * Preserved File Properties
 * =========================
 *
 * File Contents
 *   Every huge page present in the file is preserved, at its index. Holes
 *   stay holes: no page is allocated for them, neither at preservation nor
 *   in the next kernel, and reading one returns zeros. Faults may still
 *   fill holes after preservation: the pages they add are picked up when
 *   the file is frozen. From then on, until the kexec or an aborted update
 *   unfreezes the files, a shared-mapping fault that would fill a hole gets
 *   ``SIGBUS`` and ``UFFDIO_COPY`` into one fails with ``-EPERM``, since
 *   the page would not reach the next kernel.
 *
 * Reservations
 *   The file's reservation map (the ranges that shared mappings and
 *   fallocate() reserved) is preserved as it is at freeze time. The next
 *   kernel reserves the pages of those ranges that hold no page at boot,
 *   from the free pages handed over, so ``HugePages_Rsvd`` is the same
 *   before and after the update, and gives them to the file at retrieve: a
 *   later fault in a reserved hole succeeds, and closing the file releases
 *   the reservation. Retrieve fails with ``-ENOMEM`` if the pool cannot
 *   back the reservation. Pages faulted in through ``MAP_NORESERVE``
 *   mappings carry no reservation, before or after.
 *
 * File Size, Position and Seals
 *   Preserved. Only the seals in ``HUGETLB_LUO_ALL_SEALS`` are supported.
 *
 * Huge Page Size
 *   Preserved. The next kernel must have an hstate of the same size.
 *
 * File Layout
 *   Frozen while the file is preserved: ftruncate(), fallocate() and
 *   ``FALLOC_FL_PUNCH_HOLE`` fail with ``-EPERM``, as for a preserved memfd.
 *
 * Not Preserved
 * =============
 *
 * ``FD_CLOEXEC``, the reservations of private mappings (they belong to the
 * mappings, which do not survive the kexec), and the file's place in a
 * hugetlbfs mount.
 *
 * Cgroups
 * =======
 *
 * Charges belong to cgroups of the previous kernel, which are gone. From
 * boot until retrieve, the pages of preserved files and their reserved holes
 * are charged to no cgroup. Retrieve charges the cgroups of the retrieving
 * task, as its own faults and mappings would have: each page to its hugetlb
 * cgroup (``hugetlb.<size>.current``) and, with the cgroup v2 mount option
 * ``memory_hugetlb_accounting``, to its memory cgroup; the whole reservation
 * map, present pages included as for a shared mapping, to
 * ``hugetlb.<size>.rsvd.current``. Retrieve fails with ``-ENOMEM`` if that
 * goes over a limit. Closing the file (and finishing the session) uncharges
 * it all. A session finished without retrieving a file charges nothing.
 *
 * Files of a hugetlbfs mount
 * ==========================
 *
 * A file opened on a hugetlbfs mount (``/dev/hugepages/guest0``, a
 * ``pagesize=1G`` mount, a mount with ``size=`` or ``min_size=``) is
 * preserved like a memfd, linked or not. While it is preserved its layout is
 * frozen for every opener, and unlinking it does not end the preservation.
 * It comes back as what retrieve always creates: an unlinked hugetlb memfd
 * on the kernel's internal mount of its page size, with no name, owned by
 * the retrieving task, with the mode of a new memfd and the seals the file
 * had. The mount of the previous kernel does not exist any more, so its
 * ``size=`` and ``min_size=`` accounting does not follow the file: its pages
 * count in the global pool only.
 */

#define pr_fmt(fmt) "hugetlb_luo: " fmt

#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/folio_batch.h>
#include <linux/hugetlb.h>
#include <linux/hugetlb_cgroup.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/hugetlb.h>
#include <linux/libfdt.h>
#include <linux/liveupdate.h>
#include <linux/memblock.h>
#include <linux/memcontrol.h>
#include <linux/memfd.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/xarray.h>
#include <uapi/linux/magic.h>
#include <uapi/linux/memfd.h>

#include <asm/sections.h>

#include "hugetlb_internal.h"
#include "internal.h"
#include "page_alloc.h"

/* Upper bounds of the FDT space taken by one node, properties included. */
#define HUGETLB_LUO_FDT_ROOT	SZ_1K
#define HUGETLB_LUO_FDT_HSTATE	64
#define HUGETLB_LUO_FDT_POOL	128
#define HUGETLB_LUO_FDT_FILE	192

/* kho_alloc_preserve() hands out at most one buddy block. */
#define HUGETLB_LUO_FDT_MAX	(PAGE_SIZE << MAX_PAGE_ORDER)

/*
 * Test-only corruption of the outgoing tree (CONFIG_LIVEUPDATE_HUGETLB_INJECT),
 * selected by the bits written to /sys/kernel/debug/hugetlb_luo/inject. The
 * bogus entries come on top of the real ones, so a next kernel that checks
 * what it reads still keeps every real page. The pool bits add PFNs to the
 * free list of the first pool that has free pages.
 */
#define HUGETLB_LUO_INJECT_UNALIGNED	BIT(0)	/* its first PFN + 1 */
#define HUGETLB_LUO_INJECT_BEYOND	BIT(1)	/* a PFN that no memory has */
#define HUGETLB_LUO_INJECT_UNPRESERVED	BIT(2)	/* a page KHO did not keep */
#define HUGETLB_LUO_INJECT_DUPLICATE	BIT(3)	/* its first PFN again */
#define HUGETLB_LUO_INJECT_ORDER	BIT(4)	/* it, in an hstate of order 1 */
#define HUGETLB_LUO_INJECT_INDEX	BIT(5)	/* misalign each file's 1st index */
#define HUGETLB_LUO_INJECT_POOL_MAX	4	/* extra PFNs in one pool */
#define HUGETLB_LUO_INJECT_ORDER_BOGUS	1

#ifdef CONFIG_LIVEUPDATE_HUGETLB_INJECT
static u32 hugetlb_luo_inject;
#else
#define hugetlb_luo_inject 0U
#endif

/**
 * struct hugetlb_luo_file - Outgoing state of a preserved file.
 * @list:      Link in &hugetlb_luo_out.files.
 * @id:        The LUO serialized data of the file, and its FDT node name.
 * @pos:       The file position, refreshed at freeze.
 * @size:      The file size.
 * @seals:     The memfd seals.
 * @h:         The hstate of the file.
 * @folios:    The pinned and preserved folios, in page cache order.
 * @nr_folios: Number of entries in @folios.
 * @max_folios: Number of entries @folios has room for.
 * @ranges:    The reservation map of the file, as written to the tree.
 * @nr_ranges: Number of entries in @ranges.
 */
struct hugetlb_luo_file {
	struct list_head list;
	u64 id;
	loff_t pos;
	loff_t size;
	u32 seals;
	struct hstate *h;
	struct folio **folios;
	unsigned long nr_folios;
	unsigned long max_folios;
	struct hugetlb_luo_range_ser *ranges;
	unsigned long nr_ranges;
};

/**
 * struct hugetlb_luo_pool - Outgoing snapshot of one hstate on one node.
 * @folios:  Free pages taken off the free list at freeze time, each with a
 *           reference, until the kexec or the unfreeze.
 * @nr_free: Number of entries in @folios.
 * @nr_preserved: How many of them are preserved with KHO (all but after a
 *           failure).
 * @nr_surplus: Surplus pages of the hstate on the node at freeze time.
 */
struct hugetlb_luo_pool {
	struct folio **folios;
	unsigned long nr_free;
	unsigned long nr_preserved;
	unsigned long nr_surplus;
};

/**
 * struct hugetlb_luo_out - Outgoing state, live while anything is preserved.
 * @lock:      Protects all fields.
 * @files:     Preserved files (&struct hugetlb_luo_file).
 * @fdt:       The preserved "hugetlb" subtree, or NULL.
 * @fdt_size:  Size of the buffer at @fdt.
 * @pools:     Snapshot, hugetlb_max_hstate * nr_node_ids entries, or NULL.
 * @nr_preserved: Number of preserved files of this handler, pool files
 *             included.
 * @nr_frozen: Number of them that are frozen. The snapshot is taken when the
 *             last one is frozen, and dropped at the first unfreeze.
 * @nr_pool_files: Per hstate, the preserved pool files that ask for its free
 *             pages to be handed over.
 * @next_id:   Id of the next preserved file.
 */
struct hugetlb_luo_out {
	struct mutex lock;	/* protects the fields below */
	struct list_head files;
	void *fdt;
	size_t fdt_size;
	struct hugetlb_luo_pool *pools;
	unsigned int nr_preserved;
	unsigned int nr_frozen;
	unsigned int nr_pool_files[HUGE_MAX_HSTATE];
	u64 next_id;
};

static struct hugetlb_luo_out hugetlb_luo_out = {
	.lock = __MUTEX_INITIALIZER(hugetlb_luo_out.lock),
	.files = LIST_HEAD_INIT(hugetlb_luo_out.files),
	.next_id = 1,
};

/*
 * Incoming: the subtree of the previous kernel, kept for retrieve. KHO's
 * debugfs shows it, so it is never freed.
 */
static const void *hugetlb_luo_in_tree __ro_after_init;

/*
 * Set from the first freeze until the last unfreeze: holes of preserved files
 * can no longer be filled, since their page lists are final.
 */
static bool hugetlb_luo_sealed;

/*
 * Incoming: PFN -> folio of every restored page that a preserved file still
 * owns. Retrieve and finish take folios out; the FLB finish frees leftovers.
 */
static DEFINE_XARRAY(hugetlb_luo_in_use);

/*
 * Incoming: file id -> pages reserved at boot for the holes of that file, as
 * an xa_mk_value() of hugetlb_luo_resv_value(). Retrieve hands them to the
 * file; finish, or the FLB finish, releases them.
 */
static DEFINE_XARRAY(hugetlb_luo_in_resv);

static struct hstate *hugetlb_luo_order_hstate(unsigned int order)
{
	struct hstate *h;

	for_each_hstate(h) {
		if (huge_page_order(h) == order)
			return h;
	}
	return NULL;
}

static struct hugetlb_luo_pool *
hugetlb_luo_pool_of(struct hugetlb_luo_pool *pools, struct hstate *h, int nid)
{
	return &pools[hstate_index(h) * nr_node_ids + nid];
}

static unsigned long hugetlb_luo_nr_in_use(struct hugetlb_luo_out *out,
					   struct hstate *h, int nid)
{
	struct hugetlb_luo_file *hf;
	unsigned long i, nr = 0;

	list_for_each_entry(hf, &out->files, list) {
		if (hf->h != h)
			continue;
		for (i = 0; i < hf->nr_folios; i++)
			nr += folio_nid(hf->folios[i]) == nid;
	}
	return nr;
}

/* An upper bound of the size of the subtree that describes @out. */
static size_t hugetlb_luo_fdt_size(struct hugetlb_luo_out *out)
{
	size_t size = HUGETLB_LUO_FDT_ROOT;
	struct hugetlb_luo_file *hf;
	struct hstate *h;
	int nid;

	list_for_each_entry(hf, &out->files, list)
		size += HUGETLB_LUO_FDT_FILE +
			hf->nr_folios * (sizeof(struct hugetlb_luo_folio_ser) +
					 sizeof(u64)) +
			hf->nr_ranges * sizeof(*hf->ranges);

	if (out->pools) {
		for_each_hstate(h) {
			size += HUGETLB_LUO_FDT_HSTATE;
			for_each_node_state(nid, N_MEMORY) {
				struct hugetlb_luo_pool *pool;

				pool = hugetlb_luo_pool_of(out->pools, h, nid);
				size += HUGETLB_LUO_FDT_POOL +
					pool->nr_free * sizeof(u64);
			}
		}
	}

	if (hugetlb_luo_inject)
		size += HUGETLB_LUO_FDT_HSTATE + HUGETLB_LUO_FDT_POOL +
			HUGETLB_LUO_INJECT_POOL_MAX * sizeof(u64);

	return PAGE_ALIGN(size);
}

/* Bogus PFNs to list after the real free pages starting with @first. */
static unsigned int hugetlb_luo_inject_pfns(unsigned int order, u64 first,
					    u64 *extra)
{
	unsigned int n = 0;

	if (hugetlb_luo_inject & HUGETLB_LUO_INJECT_UNALIGNED)
		extra[n++] = first + 1;
	if (hugetlb_luo_inject & HUGETLB_LUO_INJECT_BEYOND)
		extra[n++] = GENMASK_ULL(63, order);
	if (hugetlb_luo_inject & HUGETLB_LUO_INJECT_UNPRESERVED)
		extra[n++] = ALIGN_DOWN(PHYS_PFN(__pa_symbol(_text)),
					1UL << order);
	if (hugetlb_luo_inject & HUGETLB_LUO_INJECT_DUPLICATE)
		extra[n++] = first;
	return n;
}

/* An hstate node of an order no kernel registers, listing @pfn. */
static int hugetlb_luo_inject_hstate(void *fdt, u64 pfn)
{
	char name[32];
	int err;

	snprintf(name, sizeof(name), HUGETLB_LUO_HSTATE_NODE,
		 HUGETLB_LUO_INJECT_ORDER_BOGUS);
	err = fdt_begin_node(fdt, name);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_ORDER_PROP,
				HUGETLB_LUO_INJECT_ORDER_BOGUS);
	snprintf(name, sizeof(name), HUGETLB_LUO_POOL_NODE, 0);
	err |= fdt_begin_node(fdt, name);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_NID_PROP, 0);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_SURPLUS_PROP, 0);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_FREE_PROP, pfn);
	err |= fdt_property(fdt, HUGETLB_LUO_IN_USE_PROP, NULL, 0);
	err |= fdt_end_node(fdt);
	return err ?: fdt_end_node(fdt);
}

static int hugetlb_luo_fdt_write_pool(void *fdt, struct hugetlb_luo_out *out,
				      struct hstate *h, int nid,
				      struct hugetlb_luo_pool *pool,
				      unsigned long nr_in_use, u64 *first)
{
	u64 extra[HUGETLB_LUO_INJECT_POOL_MAX];
	unsigned int nr_extra = 0;
	struct hugetlb_luo_file *hf;
	unsigned long i, n = 0;
	char name[32];
	void *prop;
	int err;

	if (hugetlb_luo_inject && pool->nr_free && !*first) {
		*first = folio_pfn(pool->folios[0]);
		nr_extra = hugetlb_luo_inject_pfns(huge_page_order(h), *first,
						   extra);
	}

	snprintf(name, sizeof(name), HUGETLB_LUO_POOL_NODE, nid);
	err = fdt_begin_node(fdt, name);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_NID_PROP, nid);
	/* Only pages handed over can stay surplus in the next kernel. */
	err |= fdt_property_u32(fdt, HUGETLB_LUO_SURPLUS_PROP,
				min(pool->nr_surplus, nr_in_use));

	err |= fdt_property_placeholder(fdt, HUGETLB_LUO_FREE_PROP,
					(pool->nr_free + nr_extra) * sizeof(u64),
					&prop);
	if (err)
		return err;
	for (i = 0; i < pool->nr_free; i++)
		fdt64_st(prop + i * sizeof(u64), folio_pfn(pool->folios[i]));
	for (i = 0; i < nr_extra; i++)
		fdt64_st(prop + (pool->nr_free + i) * sizeof(u64), extra[i]);

	err = fdt_property_placeholder(fdt, HUGETLB_LUO_IN_USE_PROP,
				       nr_in_use * sizeof(u64), &prop);
	if (err)
		return err;
	list_for_each_entry(hf, &out->files, list) {
		if (hf->h != h)
			continue;
		for (i = 0; i < hf->nr_folios; i++) {
			struct folio *folio = hf->folios[i];

			if (folio_nid(folio) == nid)
				fdt64_st(prop + n++ * sizeof(u64),
					 folio_pfn(folio));
		}
	}

	return fdt_end_node(fdt);
}

/* Write the "hstate-<order>" node of @h, if it has any preserved page. */
static int hugetlb_luo_fdt_write_hstate(void *fdt, struct hugetlb_luo_out *out,
					struct hstate *h, u64 *first)
{
	unsigned int order = huge_page_order(h);
	bool open = false;
	char name[32];
	int err = 0, nid;

	for_each_node_state(nid, N_MEMORY) {
		struct hugetlb_luo_pool *pool;
		unsigned long nr_in_use;

		pool = hugetlb_luo_pool_of(out->pools, h, nid);
		nr_in_use = hugetlb_luo_nr_in_use(out, h, nid);
		if (!pool->nr_free && !nr_in_use)
			continue;

		if (!open) {
			snprintf(name, sizeof(name), HUGETLB_LUO_HSTATE_NODE,
				 order);
			err = fdt_begin_node(fdt, name);
			err |= fdt_property_u32(fdt, HUGETLB_LUO_ORDER_PROP,
						order);
			if (err)
				return err;
			open = true;
		}

		err = hugetlb_luo_fdt_write_pool(fdt, out, h, nid, pool,
						 nr_in_use, first);
		if (err)
			return err;
	}

	return open ? fdt_end_node(fdt) : 0;
}

static int hugetlb_luo_fdt_write_file(void *fdt, struct hugetlb_luo_file *hf)
{
	struct hugetlb_luo_folio_ser *ser;
	char name[32];
	unsigned long i;
	int err;

	snprintf(name, sizeof(name), HUGETLB_LUO_FILE_NODE, hf->id);
	err = fdt_begin_node(fdt, name);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_ORDER_PROP,
				huge_page_order(hf->h));
	err |= fdt_property_u32(fdt, HUGETLB_LUO_SEALS_PROP, hf->seals);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_SIZE_PROP, hf->size);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_POS_PROP, hf->pos);
	err |= fdt_property_placeholder(fdt, HUGETLB_LUO_FOLIOS_PROP,
					hf->nr_folios * sizeof(*ser),
					(void **)&ser);
	if (err)
		return err;

	for (i = 0; i < hf->nr_folios; i++) {
		pgoff_t index = hf->folios[i]->index;
		struct hugetlb_luo_folio_ser entry;

		if (!i && hugetlb_luo_inject & HUGETLB_LUO_INJECT_INDEX)
			index++;
		entry.pfn = cpu_to_be64(folio_pfn(hf->folios[i]));
		entry.index = cpu_to_be64(index);

		memcpy(&ser[i], &entry, sizeof(entry));
	}

	err = fdt_property(fdt, HUGETLB_LUO_RESERVED_PROP, hf->ranges,
			   hf->nr_ranges * sizeof(*hf->ranges));
	return err ?: fdt_end_node(fdt);
}

/* Returns 0 or a negative libfdt error. */
static int hugetlb_luo_fdt_build(struct hugetlb_luo_out *out, void *fdt,
				 size_t size)
{
	struct hugetlb_luo_file *hf;
	struct hstate *h;
	u64 first = 0;
	int err;

	err = fdt_create(fdt, size);
	err |= fdt_finish_reservemap(fdt);
	err |= fdt_begin_node(fdt, "");
	err |= fdt_property_string(fdt, "compatible", HUGETLB_LUO_COMPATIBLE);
	if (err)
		return err;

	if (out->pools) {
		for_each_hstate(h) {
			err = hugetlb_luo_fdt_write_hstate(fdt, out, h, &first);
			if (err)
				return err;
		}
	}

	if (first && hugetlb_luo_inject & HUGETLB_LUO_INJECT_ORDER) {
		err = hugetlb_luo_inject_hstate(fdt, first);
		if (err)
			return err;
	}

	list_for_each_entry(hf, &out->files, list) {
		err = hugetlb_luo_fdt_write_file(fdt, hf);
		if (err)
			return err;
	}

	err = fdt_end_node(fdt);
	return err ?: fdt_finish(fdt);
}

static int hugetlb_luo_fdt_write(struct hugetlb_luo_out *out, void *fdt,
				 size_t size)
{
	int err = hugetlb_luo_fdt_build(out, fdt, size);

	if (err)
		pr_err("hand-over data does not fit in %zu bytes: %s\n", size,
		       fdt_strerror(err));
	return err ? -ENOSPC : 0;
}

/*
 * Bring the subtree in line with @out. It is rewritten in place when it
 * fits, else moved to a larger preserved buffer, which is registered with
 * KHO in place of the old one.
 */
static int hugetlb_luo_fdt_update(struct hugetlb_luo_out *out)
{
	size_t size = hugetlb_luo_fdt_size(out);
	void *fdt = out->fdt;
	int err;

	lockdep_assert_held(&out->lock);

	if (size > HUGETLB_LUO_FDT_MAX) {
		pr_err("hand-over data needs %zu bytes, more than the %lu KHO can take in one block\n",
		       size, HUGETLB_LUO_FDT_MAX);
		return -E2BIG;
	}

	if (fdt && size <= out->fdt_size)
		return hugetlb_luo_fdt_write(out, fdt, out->fdt_size);

	fdt = kho_alloc_preserve(size);
	if (IS_ERR(fdt))
		return PTR_ERR(fdt);

	err = hugetlb_luo_fdt_write(out, fdt, size);
	if (err)
		goto err_free;

	if (out->fdt)
		kho_remove_subtree(out->fdt);
	err = kho_add_subtree(HUGETLB_LUO_FDT_NAME, fdt, size);
	if (err) {
		if (out->fdt && kho_add_subtree(HUGETLB_LUO_FDT_NAME, out->fdt,
						out->fdt_size))
			pr_err("lost the previous hand-over data\n");
		goto err_free;
	}

	if (out->fdt)
		kho_unpreserve_free(out->fdt);
	out->fdt = fdt;
	out->fdt_size = size;
	return 0;

err_free:
	kho_unpreserve_free(fdt);
	return err;
}

/*
 * Give the pages of @pool back: to KHO, then to the pool, as freeing an
 * allocated page would (a page that became surplus meanwhile leaves it).
 */
static void hugetlb_luo_pool_drop(struct hugetlb_luo_pool *pool)
{
	unsigned long i;

	for (i = 0; i < pool->nr_preserved; i++)
		kho_unpreserve_folio(pool->folios[i]);
	for (i = 0; i < pool->nr_free; i++)
		folio_put(pool->folios[i]);
	kvfree(pool->folios);
	pool->folios = NULL;
	pool->nr_free = 0;
	pool->nr_preserved = 0;
}

static int hugetlb_luo_pool_snap(struct hstate *h, int nid, bool free_pages,
				 struct hugetlb_luo_pool *pool)
{
	unsigned long max_free, nr, i;
	int err;

	pool->nr_surplus = READ_ONCE(h->surplus_huge_pages_node[nid]);
	max_free = READ_ONCE(h->free_huge_pages_node[nid]);
	if (!max_free || !free_pages)
		return 0;

	pool->folios = kvmalloc_array(max_free, sizeof(*pool->folios),
				      GFP_KERNEL);
	if (!pool->folios)
		return -ENOMEM;

	/*
	 * Take the pages off the free list: from here to the kexec, or to the
	 * unfreeze of an aborted update, no allocation, shrink, demote or
	 * dissolve can touch a page that is listed as handed over.
	 */
	nr = hugetlb_take_free_folios(h, nid, pool->folios, max_free);
	pool->nr_free = nr;
	for (i = 0; i < nr; i++) {
		err = kho_preserve_folio(pool->folios[i]);
		if (err)
			return err;
		pool->nr_preserved++;
	}
	return 0;
}

static void hugetlb_luo_snapshot_drop(struct hugetlb_luo_out *out)
{
	unsigned int i;

	if (!out->pools)
		return;

	for (i = 0; i < hugetlb_max_hstate * nr_node_ids; i++)
		hugetlb_luo_pool_drop(&out->pools[i]);
	kvfree(out->pools);
	out->pools = NULL;

	/* Leave the files only, for an aborted update. It can only shrink. */
	if (out->fdt && hugetlb_luo_fdt_update(out))
		pr_err("could not drop the pools from the hand-over data\n");
}

/*
 * Record the pages of the preserved files per hstate and node, and preserve
 * the free lists of the hstates that a pool file asked for. Runs when the
 * last preserved file is frozen, right before the kexec, so that the
 * snapshot is as fresh as it can be and is taken once. Pages that leave the
 * free list after this point are still handed over as free pages: the next
 * kernel does not care about their contents.
 */
static int hugetlb_luo_snapshot(struct hugetlb_luo_out *out)
{
	unsigned long free_mb = 0, file_mb = 0;
	struct hugetlb_luo_file *hf;
	struct hstate *h;
	int err, nid;

	lockdep_assert_held(&out->lock);

	out->pools = kvcalloc(hugetlb_max_hstate * nr_node_ids,
			      sizeof(*out->pools), GFP_KERNEL);
	if (!out->pools)
		return -ENOMEM;

	for_each_hstate(h) {
		bool free_pages = out->nr_pool_files[hstate_index(h)];

		for_each_node_state(nid, N_MEMORY) {
			struct hugetlb_luo_pool *pool;

			pool = hugetlb_luo_pool_of(out->pools, h, nid);
			err = hugetlb_luo_pool_snap(h, nid, free_pages, pool);
			if (err)
				goto err_drop;
			free_mb += (pool->nr_free << huge_page_shift(h)) >> 20;
		}
	}

	err = hugetlb_luo_fdt_update(out);
	if (err)
		goto err_drop;

	list_for_each_entry(hf, &out->files, list)
		file_mb += (hf->nr_folios << huge_page_shift(hf->h)) >> 20;
	/* What a next kernel without this feature would never get back. */
	pr_info("handing over %lu MiB of free huge pages and %lu MiB of preserved files; a kernel without CONFIG_LIVEUPDATE_HUGETLB keeps them reserved\n",
		free_mb, file_mb);
	return 0;

err_drop:
	pr_err("failed to preserve the huge page pools: %pe\n", ERR_PTR(err));
	hugetlb_luo_snapshot_drop(out);
	return err;
}

/* Encoding of the boot reservation of a file in hugetlb_luo_in_resv. */
static unsigned long hugetlb_luo_resv_value(struct hstate *h, long nr)
{
	return nr * HUGE_MAX_HSTATE + hstate_index(h);
}

/* Take the pages reserved at boot for file @id, and their hstate. */
static long hugetlb_luo_take_resv(u64 id, struct hstate **h)
{
	void *entry = xa_erase(&hugetlb_luo_in_resv, id);
	unsigned long val;

	if (!entry)
		return 0;
	val = xa_to_value(entry);
	*h = &hstates[val % HUGE_MAX_HSTATE];
	return val / HUGE_MAX_HSTATE;
}

/* Release the pages reserved at boot for file @id, if any. */
static void hugetlb_luo_release_resv(u64 id)
{
	struct hstate *h;
	long nr;

	nr = hugetlb_luo_take_resv(id, &h);
	if (nr)
		hugetlb_reserve_restored(h, -nr);
}

static int hugetlb_luo_flb_preserve(struct liveupdate_flb_op_args *argp)
{
	struct hugetlb_luo_out *out = &hugetlb_luo_out;
	int err;

	guard(mutex)(&out->lock);

	/* An empty tree until files are added. */
	err = hugetlb_luo_fdt_update(out);
	if (err) {
		pr_err("failed to create the hand-over data: %pe\n",
		       ERR_PTR(err));
		return err;
	}

	/* The next kernel finds the subtree by name: it moves as it grows. */
	argp->obj = out;
	argp->data = 0;
	return 0;
}

static void hugetlb_luo_flb_unpreserve(struct liveupdate_flb_op_args *argp)
{
	struct hugetlb_luo_out *out = argp->obj;

	guard(mutex)(&out->lock);
	hugetlb_luo_snapshot_drop(out);
	kho_remove_subtree(out->fdt);
	kho_unpreserve_free(out->fdt);
	out->fdt = NULL;
	out->fdt_size = 0;
}

static int hugetlb_luo_flb_retrieve(struct liveupdate_flb_op_args *argp)
{
	/* The pools were restored by hugetlb_init(); only leftovers remain. */
	argp->obj = &hugetlb_luo_in_use;
	return 0;
}

static void hugetlb_luo_flb_finish(struct liveupdate_flb_op_args *argp)
{
	struct xarray *xa = argp->obj;
	unsigned long pfn, id, nr = 0;
	struct folio *folio;
	void *entry;

	/* Pages of files that no session knew about go back to the pool. */
	xa_for_each(xa, pfn, folio) {
		xa_erase(xa, pfn);
		folio_put(folio);
		nr++;
	}

	/* And so do the reservations held for them. */
	xa_for_each(&hugetlb_luo_in_resv, id, entry)
		hugetlb_luo_release_resv(id);

	if (nr)
		pr_info("returned %lu unclaimed preserved huge pages to the pool\n",
			nr);
}

static const struct liveupdate_flb_ops hugetlb_luo_flb_ops = {
	.preserve = hugetlb_luo_flb_preserve,
	.unpreserve = hugetlb_luo_flb_unpreserve,
	.retrieve = hugetlb_luo_flb_retrieve,
	.finish = hugetlb_luo_flb_finish,
	.owner = THIS_MODULE,
};

static struct liveupdate_flb hugetlb_luo_flb = {
	.ops = &hugetlb_luo_flb_ops,
	.compatible = HUGETLB_LUO_FLB_COMPATIBLE,
};

static void hugetlb_luo_unpreserve_folios(struct hugetlb_luo_file *hf)
{
	unsigned long i;

	for (i = 0; i < hf->nr_folios; i++)
		kho_unpreserve_folio(hf->folios[i]);
	unpin_folios(hf->folios, hf->nr_folios);
	kvfree(hf->folios);
	hf->folios = NULL;
	hf->nr_folios = 0;
	hf->max_folios = 0;
	kvfree(hf->ranges);
	hf->ranges = NULL;
	hf->nr_ranges = 0;
}

/*
 * Pin and preserve the folio at huge page index @idx of @file, which has one:
 * the layout is frozen, so it stays. @hf has room for it.
 */
static int hugetlb_luo_preserve_at(struct file *file,
				   struct hugetlb_luo_file *hf, pgoff_t idx)
{
	unsigned int shift = huge_page_shift(hf->h);
	struct folio *folio;
	pgoff_t offset;
	long nr;
	int err;

	/*
	 * Pinning keeps the folio where it is, and first migrates it out of
	 * CMA, which covers KHO scratch.
	 */
	nr = memfd_pin_folios(file, (loff_t)idx << shift,
			      ((loff_t)(idx + 1) << shift) - 1, &folio, 1,
			      &offset);
	if (nr != 1)
		return nr < 0 ? nr : -EFAULT;

	err = kho_preserve_folio(folio);
	if (err) {
		unpin_folio(folio);
		return err;
	}

	hf->folios[hf->nr_folios++] = folio;
	return 0;
}

/* Make room in @hf->folios for @n more folios. */
static int hugetlb_luo_grow(struct hugetlb_luo_file *hf, unsigned long n)
{
	unsigned long max = hf->size >> huge_page_shift(hf->h);
	struct folio **folios;
	unsigned long cap;

	if (hf->nr_folios + n <= hf->max_folios)
		return 0;

	cap = clamp(2 * hf->max_folios, hf->nr_folios + n, max);
	folios = kvrealloc(hf->folios, array_size(cap, sizeof(*folios)),
			   GFP_KERNEL);
	if (!folios)
		return -ENOMEM;
	hf->folios = folios;
	hf->max_folios = cap;
	return 0;
}

static int hugetlb_luo_cmp_index(const void *a, const void *b)
{
	const struct folio *x = *(struct folio * const *)a;
	const struct folio *y = *(struct folio * const *)b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Preserve the folios of @file that @hf does not hold yet; holes stay holes.
 * The walk visits the folios present only, and @hf->folios ascends by index
 * before and after.
 */
static int hugetlb_luo_scan(struct file *file, struct hugetlb_luo_file *hf)
{
	unsigned int order = huge_page_order(hf->h);
	unsigned long known = hf->nr_folios, k = 0;
	pgoff_t idx[FOLIO_BATCH_SIZE], start = 0;
	struct folio_batch fbatch;
	unsigned int i, n;
	int err = 0;

	if (!hf->size)
		return 0;

	folio_batch_init(&fbatch);
	while (!err && filemap_get_folios(file->f_mapping, &start,
					  (hf->size >> PAGE_SHIFT) - 1,
					  &fbatch)) {
		n = 0;
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			pgoff_t index = fbatch.folios[i]->index;

			/* Both lists ascend: skip the folios held already. */
			while (k < known && hf->folios[k]->index < index)
				k++;
			if (k == known || hf->folios[k]->index != index)
				idx[n++] = index >> order;
		}
		/* A reference would make the migration in pinning fail. */
		folio_batch_release(&fbatch);

		err = hugetlb_luo_grow(hf, n);
		for (i = 0; !err && i < n; i++)
			err = hugetlb_luo_preserve_at(file, hf, idx[i]);
		cond_resched();
	}

	if (hf->nr_folios != known)
		sort(hf->folios, hf->nr_folios, sizeof(*hf->folios),
		     hugetlb_luo_cmp_index, NULL);
	return err;
}

/*
 * Whether @file holds a folio that @hf does not. As long as every folio of
 * @hf is still in the file (only memory failure takes one out of a preserved
 * file), the file holds others exactly when its page cache counts more pages
 * than theirs. Far cheaper than the scan: a freeze scans only the files that
 * faults filled since preserve.
 */
static bool hugetlb_luo_grew(struct file *file, struct hugetlb_luo_file *hf)
{
	struct address_space *mapping = file->f_mapping;
	unsigned long i;

	if (READ_ONCE(mapping->nrpages) !=
	    hf->nr_folios * pages_per_huge_page(hf->h))
		return true;
	for (i = 0; i < hf->nr_folios; i++)
		if (READ_ONCE(hf->folios[i]->mapping) != mapping)
			return true;
	return false;
}

/*
 * Copy the reservation map of @inode into @hf. Sets @changed when it differs
 * from the copy @hf had.
 */
static int hugetlb_luo_read_ranges(struct inode *inode,
				   struct hugetlb_luo_file *hf, bool *changed)
{
	struct resv_map *resv = HUGETLBFS_I(inode)->resv_map;
	unsigned int order = huge_page_order(hf->h);
	struct hugetlb_luo_range_ser *ranges;
	struct file_region *rg;
	size_t nr, i;

	*changed = false;
	for (;;) {
		spin_lock(&resv->lock);
		nr = list_count_nodes(&resv->regions);
		spin_unlock(&resv->lock);

		ranges = kvmalloc_array(max_t(size_t, nr, 1), sizeof(*ranges),
					GFP_KERNEL);
		if (!ranges)
			return -ENOMEM;

		spin_lock(&resv->lock);
		if (list_count_nodes(&resv->regions) == nr)
			break;
		/* A mapping came or went in between: count again. */
		spin_unlock(&resv->lock);
		kvfree(ranges);
	}
	i = 0;
	list_for_each_entry(rg, &resv->regions, link) {
		ranges[i].start = cpu_to_be64((u64)rg->from << order);
		ranges[i].end = cpu_to_be64((u64)rg->to << order);
		i++;
	}
	spin_unlock(&resv->lock);

	if (nr == hf->nr_ranges &&
	    !memcmp(ranges, hf->ranges, nr * sizeof(*ranges))) {
		kvfree(ranges);
		return 0;
	}

	kvfree(hf->ranges);
	hf->ranges = ranges;
	hf->nr_ranges = nr;
	*changed = true;
	return 0;
}

static bool hugetlb_luo_is_pool_file(u64 serialized_data)
{
	return serialized_data & HUGETLB_LUO_POOL_FILE;
}

/*
 * A pool file, the root directory of a hugetlbfs mount, asks for the free
 * pages of the mount's page size to go along with the live update. It holds
 * no state of its own: the snapshot at the last freeze does the work.
 */
static int hugetlb_luo_preserve_pool(struct liveupdate_file_op_args *args)
{
	struct hstate *h = hstate_inode(file_inode(args->file));
	struct hugetlb_luo_out *out;
	int err;

	err = liveupdate_flb_get_outgoing(&hugetlb_luo_flb, (void **)&out);
	if (err)
		return err;

	scoped_guard(mutex, &out->lock) {
		out->nr_pool_files[hstate_index(h)]++;
		out->nr_preserved++;
	}
	liveupdate_flb_put_outgoing(&hugetlb_luo_flb);

	args->serialized_data = HUGETLB_LUO_POOL_FILE | huge_page_order(h);
	return 0;
}

static void hugetlb_luo_unpreserve_pool(struct liveupdate_file_op_args *args)
{
	struct hstate *h = hstate_inode(file_inode(args->file));
	struct hugetlb_luo_out *out = &hugetlb_luo_out;

	guard(mutex)(&out->lock);
	out->nr_pool_files[hstate_index(h)]--;
	out->nr_preserved--;
}

static int hugetlb_luo_preserve(struct liveupdate_file_op_args *args)
{
	struct inode *inode = file_inode(args->file);
	struct hugetlb_luo_out *out;
	struct hugetlb_luo_file *hf;
	bool changed;
	int err, seals;

	if (S_ISDIR(inode->i_mode))
		return hugetlb_luo_preserve_pool(args);

	err = liveupdate_flb_get_outgoing(&hugetlb_luo_flb, (void **)&out);
	if (err)
		return err;

	hf = kzalloc_obj(*hf);
	if (!hf) {
		err = -ENOMEM;
		goto err_put_flb;
	}

	inode_lock(inode);

	seals = memfd_get_seals(args->file);
	if (seals < 0) {
		err = seals;
		goto err_unlock;
	}
	if (seals & ~HUGETLB_LUO_ALL_SEALS) {
		pr_warn("cannot preserve seals %#x\n",
			seals & ~HUGETLB_LUO_ALL_SEALS);
		err = -EOPNOTSUPP;
		goto err_unlock;
	}

	hf->pos = args->file->f_pos;
	hf->size = i_size_read(inode);
	hf->seals = seals;
	hf->h = hstate_inode(inode);

	err = hugetlb_luo_scan(args->file, hf);
	if (!err)
		err = hugetlb_luo_read_ranges(inode, hf, &changed);
	if (err)
		goto err_unpreserve;

	scoped_guard(mutex, &out->lock) {
		hf->id = out->next_id++;
		list_add_tail(&hf->list, &out->files);
		err = hugetlb_luo_fdt_update(out);
		if (err)
			list_del(&hf->list);
		else
			out->nr_preserved++;
	}
	if (err) {
		pr_err("failed to record the file: %pe\n", ERR_PTR(err));
		goto err_unpreserve;
	}

	hugetlbfs_luo_freeze(inode, true);
	inode_unlock(inode);
	liveupdate_flb_put_outgoing(&hugetlb_luo_flb);

	args->private_data = hf;
	args->serialized_data = hf->id;
	return 0;

err_unpreserve:
	hugetlb_luo_unpreserve_folios(hf);
err_unlock:
	inode_unlock(inode);
	kfree(hf);
err_put_flb:
	liveupdate_flb_put_outgoing(&hugetlb_luo_flb);
	return err;
}

/* Refresh the position of @hf in the tree, in place: no size changes. */
static int hugetlb_luo_fdt_set_pos(struct hugetlb_luo_out *out,
				   struct hugetlb_luo_file *hf)
{
	char name[32];
	int off;

	snprintf(name, sizeof(name), HUGETLB_LUO_FILE_NODE, hf->id);
	off = fdt_subnode_offset(out->fdt, 0, name);
	if (off < 0 || fdt_setprop_inplace_u64(out->fdt, off,
					       HUGETLB_LUO_POS_PROP, hf->pos)) {
		pr_err("file %llu: no record to update\n", hf->id);
		return -EINVAL;
	}
	return 0;
}

/* Refresh what may have changed since preserve. */
static int hugetlb_luo_refresh(struct file *file, struct hugetlb_luo_file *hf,
			       bool *changed)
{
	unsigned long nr = hf->nr_folios;
	int err;

	hf->pos = file->f_pos;

	/* Holes filled by faults since preserve; from now on none can be. */
	err = hugetlb_luo_grew(file, hf) ? hugetlb_luo_scan(file, hf) : 0;
	if (err)
		return err;

	err = hugetlb_luo_read_ranges(file_inode(file), hf, changed);
	*changed |= nr != hf->nr_folios;
	return err;
}

/*
 * Count one more frozen file. When every preserved file is frozen, nothing
 * can change any more before the kexec: take the snapshot of the pools.
 */
static int hugetlb_luo_frozen_one(struct hugetlb_luo_out *out)
{
	int err;

	lockdep_assert_held(&out->lock);

	if (++out->nr_frozen < out->nr_preserved)
		return 0;

	err = hugetlb_luo_snapshot(out);
	if (err)
		out->nr_frozen--;
	return err;
}

static int hugetlb_luo_freeze(struct liveupdate_file_op_args *args)
{
	struct inode *inode = file_inode(args->file);
	struct hugetlb_luo_file *hf = args->private_data;
	struct hugetlb_luo_out *out = &hugetlb_luo_out;
	bool changed = false;
	int err;

	if (hugetlb_luo_is_pool_file(args->serialized_data)) {
		guard(mutex)(&out->lock);
		return hugetlb_luo_frozen_one(out);
	}

	inode_lock(inode);
	mutex_lock(&out->lock);

	if (!READ_ONCE(hugetlb_luo_sealed)) {
		WRITE_ONCE(hugetlb_luo_sealed, true);
		/*
		 * Every fault that may fill a hole of a preserved file now
		 * either has added its folio, for the scans to find, or will
		 * see the flag and fail.
		 */
		hugetlb_fault_mutex_sync();
	}
	err = hugetlb_luo_refresh(args->file, hf, &changed);

	/*
	 * This runs in the kexec blackout window: a file only patches its own
	 * position, unless faults or mappings changed its record since
	 * preserve, and the last freeze writes the pools.
	 */
	if (err)
		pr_err("file %llu: cannot refresh its record: %pe\n", hf->id,
		       ERR_PTR(err));
	else if (out->nr_frozen + 1 < out->nr_preserved)
		err = changed ? hugetlb_luo_fdt_update(out) :
				hugetlb_luo_fdt_set_pos(out, hf);
	if (!err)
		err = hugetlb_luo_frozen_one(out);

	if (err && !out->nr_frozen)
		WRITE_ONCE(hugetlb_luo_sealed, false);

	mutex_unlock(&out->lock);
	inode_unlock(inode);
	return err;
}

static void hugetlb_luo_unfreeze(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_out *out = &hugetlb_luo_out;

	guard(mutex)(&out->lock);
	/* The update is aborted: the pools stay here. */
	hugetlb_luo_snapshot_drop(out);
	if (out->nr_frozen && !--out->nr_frozen)
		WRITE_ONCE(hugetlb_luo_sealed, false);
}

/**
 * hugetlb_luo_fill_refused() - Whether a hole of @inode may not be filled.
 * @inode: A hugetlbfs inode.
 *
 * Once the files are frozen for the kexec, their page lists are final: a
 * page added to a preserved file after that would silently be lost, so the
 * fault (SIGBUS) or the userfaultfd copy (-EPERM) that would add it fails
 * instead. Called with the hugetlb fault mutex of the index held.
 *
 * Return: true if @inode is preserved and the sessions are frozen.
 */
bool hugetlb_luo_fill_refused(struct inode *inode)
{
	if (!READ_ONCE(hugetlb_luo_sealed))
		return false;
	/* Set at preserve under the inode lock, which faults do not take. */
	return data_race(hugetlbfs_luo_frozen(inode));
}

static void hugetlb_luo_unpreserve(struct liveupdate_file_op_args *args)
{
	struct inode *inode = file_inode(args->file);
	struct hugetlb_luo_file *hf = args->private_data;
	struct hugetlb_luo_out *out = &hugetlb_luo_out;

	if (hugetlb_luo_is_pool_file(args->serialized_data)) {
		hugetlb_luo_unpreserve_pool(args);
		return;
	}

	scoped_guard(mutex, &out->lock) {
		out->nr_preserved--;
		list_del(&hf->list);
		/* Shrinking rewrites in place, which cannot run out of room. */
		if (hugetlb_luo_fdt_update(out))
			pr_err("could not drop file %llu from the hand-over data\n",
			       hf->id);
	}

	inode_lock(inode);
	hugetlbfs_luo_freeze(inode, false);
	hugetlb_luo_unpreserve_folios(hf);
	inode_unlock(inode);
	kfree(hf);
}

/**
 * struct hugetlb_luo_in_file - A file record read back from the subtree.
 * @h:         Its hstate.
 * @seals:     The memfd seals.
 * @size:      The file size.
 * @pos:       The file position.
 * @folios:    Its folios, in the FDT (big-endian, 4-byte aligned).
 * @nr_folios: Number of entries in @folios.
 * @ranges:    Its reservation map, in the FDT.
 * @nr_ranges: Number of entries in @ranges.
 */
struct hugetlb_luo_in_file {
	struct hstate *h;
	u32 seals;
	loff_t size;
	loff_t pos;
	const struct hugetlb_luo_folio_ser *folios;
	unsigned long nr_folios;
	const struct hugetlb_luo_range_ser *ranges;
	unsigned long nr_ranges;
};

static int hugetlb_luo_fdt_u32(const void *fdt, int off, const char *name,
			       u32 *val)
{
	const void *prop;
	int len;

	prop = fdt_getprop(fdt, off, name, &len);
	if (!prop || len != sizeof(u32))
		return -EINVAL;
	*val = fdt32_ld(prop);
	return 0;
}

static int hugetlb_luo_fdt_u64(const void *fdt, int off, const char *name,
			       u64 *val)
{
	const void *prop;
	int len;

	prop = fdt_getprop(fdt, off, name, &len);
	if (!prop || len != sizeof(u64))
		return -EINVAL;
	*val = fdt64_ld(prop);
	return 0;
}

/* Find and check the record of file @id. */
static int hugetlb_luo_read_file(u64 id, struct hugetlb_luo_in_file *f)
{
	const void *fdt = hugetlb_luo_in_tree;
	u32 order, seals;
	u64 size, pos;
	char name[32];
	int off, len;

	if (!fdt) {
		pr_err("file %llu: no hand-over data from the previous kernel\n",
		       id);
		return -ENOENT;
	}

	snprintf(name, sizeof(name), HUGETLB_LUO_FILE_NODE, id);
	off = fdt_subnode_offset(fdt, 0, name);
	if (off < 0) {
		pr_err("file %llu: no record in the hand-over data\n", id);
		return -ENOENT;
	}

	if (hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_ORDER_PROP, &order) ||
	    hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_SEALS_PROP, &seals) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_SIZE_PROP, &size) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_POS_PROP, &pos))
		goto malformed;

	f->folios = fdt_getprop(fdt, off, HUGETLB_LUO_FOLIOS_PROP, &len);
	if (!f->folios || len % sizeof(*f->folios))
		goto malformed;
	f->nr_folios = len / sizeof(*f->folios);

	f->ranges = fdt_getprop(fdt, off, HUGETLB_LUO_RESERVED_PROP, &len);
	if (!f->ranges || len % sizeof(*f->ranges))
		goto malformed;
	f->nr_ranges = len / sizeof(*f->ranges);

	f->h = hugetlb_luo_order_hstate(order);
	if (!f->h) {
		pr_err("file %llu: no hstate of order %u\n", id, order);
		return -EOPNOTSUPP;
	}

	if (seals & ~HUGETLB_LUO_ALL_SEALS || size > MAX_LFS_FILESIZE ||
	    size & ~huge_page_mask(f->h) || pos > MAX_LFS_FILESIZE ||
	    f->nr_folios > size >> huge_page_shift(f->h))
		goto malformed;

	f->seals = seals;
	f->size = size;
	f->pos = pos;
	return 0;

malformed:
	pr_err("file %llu: malformed record\n", id);
	return -EINVAL;
}

/*
 * The number of pages that the reservation map of @f reserves: the pages of
 * its ranges that no folio fills. Ranges and folios must be sorted, ranges
 * aligned and inside the file, or the record is malformed (-EINVAL).
 */
static long hugetlb_luo_count_reserved(const struct hugetlb_luo_in_file *f)
{
	unsigned long nr_pages = pages_per_huge_page(f->h);
	u64 prev = 0, end = f->size >> PAGE_SHIFT, index;
	unsigned long i, r = 0, total = 0, filled = 0;
	struct hugetlb_luo_range_ser rg = { };
	bool first = true;

	for (i = 0; i < f->nr_ranges; i++) {
		u64 start, stop;

		memcpy(&rg, &f->ranges[i], sizeof(rg));
		start = be64_to_cpu(rg.start);
		stop = be64_to_cpu(rg.end);
		if (start < prev || stop <= start || stop > end ||
		    !IS_ALIGNED(start | stop, nr_pages))
			return -EINVAL;
		total += (stop - start) / nr_pages;
		prev = stop;
	}

	/* Both lists are sorted: walk them side by side. */
	for (i = 0; i < f->nr_folios; i++) {
		struct hugetlb_luo_folio_ser ser;

		memcpy(&ser, &f->folios[i], sizeof(ser));
		index = be64_to_cpu(ser.index);
		if (!first && index <= prev)
			return -EINVAL;
		first = false;
		prev = index;

		while (r < f->nr_ranges) {
			memcpy(&rg, &f->ranges[r], sizeof(rg));
			if (index < be64_to_cpu(rg.end))
				break;
			r++;
		}
		if (r < f->nr_ranges && index >= be64_to_cpu(rg.start))
			filled++;
	}

	return total - filled;
}

/* Take ownership of a restored in-use folio, if it is one. */
static struct folio *hugetlb_luo_claim(u64 pfn)
{
	return xa_erase(&hugetlb_luo_in_use, pfn);
}

static void hugetlb_luo_finish(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_in_file f;
	struct folio *folio;
	unsigned long i;

	/* Retrieve owns the folios (or already released them on failure). */
	if (args->retrieve_status ||
	    hugetlb_luo_is_pool_file(args->serialized_data))
		return;

	hugetlb_luo_release_resv(args->serialized_data);

	/* Without a record, the FLB finish returns the pages. */
	if (hugetlb_luo_read_file(args->serialized_data, &f))
		return;

	for (i = 0; i < f.nr_folios; i++) {
		folio = hugetlb_luo_claim(be64_to_cpu(f.folios[i].pfn));
		if (folio)
			folio_put(folio);
	}
}

/**
 * struct hugetlb_luo_charge - Cgroup charges of a file being retrieved.
 * @h_cg:      hugetlb cgroup charged for the folios (``current``).
 * @rsvd_cg:   hugetlb cgroup charged for the reservation map (``rsvd``).
 * @nr:        Folios charged to @h_cg.
 * @committed: Folios that carry their charge (committed to them).
 * @nr_rsvd:   Pages of the reservation map charged to @rsvd_cg.
 * @added:     Pages of the map recorded with @rsvd_cg, which carry theirs.
 */
struct hugetlb_luo_charge {
	struct hugetlb_cgroup *h_cg;
	struct hugetlb_cgroup *rsvd_cg;
	unsigned long nr;
	unsigned long committed;
	unsigned long nr_rsvd;
	unsigned long added;
};

/*
 * Charge the retrieving task's hugetlb cgroup as the faults and mappings of
 * the previous kernel charged theirs: each folio to ``current``, the whole
 * reservation map, present pages included, to ``rsvd``.
 */
static int hugetlb_luo_charge(struct hstate *h, unsigned long nr_folios,
			      unsigned long nr_rsvd,
			      struct hugetlb_luo_charge *c)
{
	unsigned long pages = pages_per_huge_page(h);
	int idx = hstate_index(h);

	memset(c, 0, sizeof(*c));
	if (nr_rsvd && hugetlb_cgroup_charge_cgroup_rsvd(idx, nr_rsvd * pages,
							 &c->rsvd_cg)) {
		pr_err("hugetlb cgroup: %lu reserved pages over the limit\n",
		       nr_rsvd);
		return -ENOMEM;
	}
	c->nr_rsvd = nr_rsvd;

	if (nr_folios && hugetlb_cgroup_charge_cgroup(idx, nr_folios * pages,
						      &c->h_cg)) {
		pr_err("hugetlb cgroup: %lu pages over the limit\n", nr_folios);
		return -ENOMEM;
	}
	c->nr = nr_folios;
	return 0;
}

/* Give back what no folio or map range took over, and the css reference. */
static void hugetlb_luo_uncharge_rest(struct hstate *h,
				      struct hugetlb_luo_charge *c)
{
	unsigned long pages = pages_per_huge_page(h);
	int idx = hstate_index(h);

	if (c->nr > c->committed)
		hugetlb_cgroup_uncharge_cgroup(idx, (c->nr - c->committed) * pages,
					       c->h_cg);
	if (c->nr_rsvd > c->added)
		hugetlb_cgroup_uncharge_cgroup_rsvd(idx,
						    (c->nr_rsvd - c->added) * pages,
						    c->rsvd_cg);
	else if (c->nr_rsvd)
		hugetlb_cgroup_put_rsvd_cgroup(c->rsvd_cg);
}

/* Charge @folio to the cgroups of the retrieving task, as a fault would. */
static int hugetlb_luo_commit(struct folio *folio, struct hugetlb_luo_charge *c)
{
	struct hstate *h = folio_hstate(folio);
	long pages = pages_per_huge_page(h);
	int err;

	spin_lock_irq(&hugetlb_lock);
	hugetlb_cgroup_commit_charge(hstate_index(h), pages, c->h_cg, folio);
	spin_unlock_irq(&hugetlb_lock);
	c->committed++;

	/* Counted at boot without a memcg: count it again in the new one. */
	lruvec_stat_mod_folio(folio, NR_HUGETLB, -pages);
	err = mem_cgroup_charge_hugetlb(folio, current->mm, GFP_KERNEL);
	lruvec_stat_mod_folio(folio, NR_HUGETLB, pages);
	if (err)
		pr_err("memory cgroup: huge page over the limit\n");
	return err;
}

static int hugetlb_luo_retrieve_folios(struct file *file,
				       const struct hugetlb_luo_in_file *f,
				       struct hugetlb_luo_charge *c)
{
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	unsigned int order = huge_page_order(f->h);
	pgoff_t end = f->size >> PAGE_SHIFT;
	struct folio *folio;
	unsigned long i;
	int err = 0;

	for (i = 0; i < f->nr_folios; i++) {
		struct hugetlb_luo_folio_ser ser;
		pgoff_t index;
		u64 pfn;

		memcpy(&ser, &f->folios[i], sizeof(ser));
		pfn = be64_to_cpu(ser.pfn);
		index = be64_to_cpu(ser.index);

		folio = hugetlb_luo_claim(pfn);
		if (!folio || folio_hstate(folio) != f->h ||
		    !IS_ALIGNED(index, 1UL << order) || index >= end) {
			pr_err("invalid folio %lu (pfn %#llx index %#lx)\n",
			       i, pfn, index);
			err = -EINVAL;
			goto err_put;
		}

		err = hugetlb_luo_commit(folio, c);
		if (err)
			goto err_put;

		hugetlb_set_folio_subpool(folio, subpool_inode(inode));
		folio_mark_uptodate(folio);
		err = hugetlb_add_restored_to_page_cache(folio, mapping,
							 index >> order,
							 c->rsvd_cg);
		if (err) {
			pr_err("folio %lu (index %#lx) not added: %pe\n", i,
			       index, ERR_PTR(err));
			goto err_put;
		}
		c->added++;

		folio_set_hugetlb_migratable(folio);
		folio_unlock(folio);
		/* The page cache holds the folio now. */
		folio_put(folio);
	}

	return 0;

err_put:
	if (folio) {
		hugetlb_set_folio_subpool(folio, NULL);
		folio_put(folio);
	}
	/* The folios after @i stay claimable and go back at FLB finish. */
	return err;
}

/*
 * Give the file the reservation map it had: the pages of @f's ranges that no
 * folio fills were reserved at boot (@nr of them), the file owns them now.
 */
static int hugetlb_luo_retrieve_ranges(struct inode *inode,
				       const struct hugetlb_luo_in_file *f,
				       long nr, struct hugetlb_luo_charge *c)
{
	unsigned int order = huge_page_order(f->h);
	long added = 0, ret = 0;
	unsigned long i;

	for (i = 0; i < f->nr_ranges; i++) {
		struct hugetlb_luo_range_ser rg;

		memcpy(&rg, &f->ranges[i], sizeof(rg));
		ret = hugetlb_restore_reservation(inode,
						  be64_to_cpu(rg.start) >> order,
						  be64_to_cpu(rg.end) >> order,
						  c->rsvd_cg);
		if (ret < 0)
			break;
		added += ret;
	}
	c->added += added;

	/* What the file did not take goes back to the pool. */
	if (added != nr)
		hugetlb_reserve_restored(f->h, nr - added);
	if (ret < 0) {
		pr_err("reservation map not restored: %pe\n", ERR_PTR(ret));
		return ret;
	}
	if (added != nr) {
		pr_err("reservation map holds %ld pages, %ld expected\n",
		       added, nr);
		return -EINVAL;
	}
	return 0;
}

static const struct file_operations hugetlb_luo_pool_fops = {
	.owner = THIS_MODULE,
};

/*
 * The pool was restored at boot. What comes back is a token that says so:
 * an empty anonymous file. There is no pool to give back if this kernel has
 * no hstate of the page size; its pages went to the page allocator.
 */
static int hugetlb_luo_retrieve_pool(struct liveupdate_file_op_args *args)
{
	u64 order = args->serialized_data & ~HUGETLB_LUO_POOL_FILE;
	struct file *file;

	if (order > MAX_FOLIO_ORDER || !hugetlb_luo_order_hstate(order)) {
		pr_err("pool file: no huge page size of order %llu here\n",
		       order);
		return -EOPNOTSUPP;
	}

	file = anon_inode_getfile("[hugetlb_pool]", &hugetlb_luo_pool_fops,
				  NULL, O_RDONLY);
	if (IS_ERR(file))
		return PTR_ERR(file);

	args->file = file;
	return 0;
}

static int hugetlb_luo_retrieve(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_charge charge;
	struct hugetlb_luo_in_file f;
	struct hstate *h = NULL;
	long resv, boot;
	unsigned int flags;
	struct inode *inode;
	struct file *file;
	int err;

	if (hugetlb_luo_is_pool_file(args->serialized_data))
		return hugetlb_luo_retrieve_pool(args);

	boot = hugetlb_luo_take_resv(args->serialized_data, &h);

	err = hugetlb_luo_read_file(args->serialized_data, &f);
	if (!err) {
		resv = hugetlb_luo_count_reserved(&f);
		if (resv < 0) {
			pr_err("file %llu: malformed reservation map\n",
			       args->serialized_data);
			err = resv;
		}
	}
	if (!err && boot && h != f.h)
		err = -EINVAL;
	if (err) {
		if (boot)
			hugetlb_reserve_restored(h, -boot);
		goto err_out;
	}

	/* Boot reserved what it could; the file gets what it had. */
	if (resv != boot) {
		err = hugetlb_reserve_restored(f.h, resv - boot);
		if (err) {
			hugetlb_reserve_restored(f.h, -boot);
			pr_err("file %llu: cannot reserve %ld pages\n",
			       args->serialized_data, resv - boot);
			goto err_out;
		}
	}

	flags = MFD_HUGETLB | MFD_ALLOW_SEALING |
		(huge_page_shift(f.h) << MFD_HUGE_SHIFT);
	file = memfd_alloc_file("", flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto err_unreserve;
	}
	inode = file_inode(file);

	vfs_setpos(file, f.pos, MAX_LFS_FILESIZE);

	/* The reservation map covers the folios and the reserved holes. */
	err = hugetlb_luo_charge(f.h, f.nr_folios, f.nr_folios + resv, &charge);
	if (err) {
		hugetlb_luo_uncharge_rest(f.h, &charge);
		fput(file);
		goto err_unreserve;
	}

	inode_lock(inode);
	i_size_write(inode, f.size);
	err = hugetlb_luo_retrieve_folios(file, &f, &charge);
	if (err) {
		inode_unlock(inode);
		hugetlb_luo_uncharge_rest(f.h, &charge);
		fput(file);
		goto err_unreserve;
	}
	/* From here on, the file releases its reservation when it goes. */
	err = hugetlb_luo_retrieve_ranges(inode, &f, resv, &charge);
	inode_unlock(inode);
	hugetlb_luo_uncharge_rest(f.h, &charge);
	if (err)
		goto err_put_file;

	/* Last, so that no seal gets in the way of the restore. */
	err = memfd_add_seals(file, f.seals);
	if (err)
		goto err_put_file;

	args->file = file;
	return 0;

err_put_file:
	fput(file);
	goto err_out;
err_unreserve:
	hugetlb_reserve_restored(f.h, -resv);
err_out:
	pr_err("failed to retrieve file %llu: %pe\n", args->serialized_data,
	       ERR_PTR(err));
	return err;
}

static bool hugetlb_luo_can_preserve(struct liveupdate_file_handler *handler,
				     struct file *file)
{
	struct inode *inode = file_inode(file);

	/*
	 * The root directory of a hugetlbfs mount is a pool file: it asks for
	 * the pool of the mount's page size to be handed over.
	 */
	if (S_ISDIR(inode->i_mode))
		return inode->i_sb->s_magic == HUGETLBFS_MAGIC &&
		       inode == d_inode(inode->i_sb->s_root);

	/*
	 * Any hugetlbfs file: a memfd, or a file of a hugetlbfs mount, linked
	 * or not, with or without size limits. A SysV shm segment is
	 * hugepage-backed too, but its file has its own file operations.
	 */
	return is_file_hugepages(file) && file->f_op == inode->i_fop;
}

static unsigned long hugetlb_luo_get_id(struct file *file)
{
	/* Retrieved pool files share the one anonymous inode. */
	if (file->f_op == &hugetlb_luo_pool_fops)
		return (unsigned long)file;
	return (unsigned long)file_inode(file);
}

static const struct liveupdate_file_ops hugetlb_luo_file_ops = {
	.can_preserve = hugetlb_luo_can_preserve,
	.preserve = hugetlb_luo_preserve,
	.unpreserve = hugetlb_luo_unpreserve,
	.freeze = hugetlb_luo_freeze,
	.unfreeze = hugetlb_luo_unfreeze,
	.retrieve = hugetlb_luo_retrieve,
	.finish = hugetlb_luo_finish,
	.get_id = hugetlb_luo_get_id,
	.owner = THIS_MODULE,
};

static struct liveupdate_file_handler hugetlb_luo_handler = {
	.ops = &hugetlb_luo_file_ops,
	.compatible = HUGETLB_LUO_FH_COMPATIBLE,
};

static int __init hugetlb_luo_init(void)
{
	int err;

	err = liveupdate_register_file_handler(&hugetlb_luo_handler);
	if (err)
		goto out;

	err = liveupdate_register_flb(&hugetlb_luo_handler, &hugetlb_luo_flb);
	if (err)
		liveupdate_unregister_file_handler(&hugetlb_luo_handler);

	if (IS_ENABLED(CONFIG_LIVEUPDATE_HUGETLB_INJECT) && !err) {
		pr_warn("hand-over data corruption for testing is available\n");
		debugfs_create_u32("inject", 0600,
				   debugfs_create_dir("hugetlb_luo", NULL),
				   &hugetlb_luo_inject);
	}
out:
	if (err && err != -EOPNOTSUPP) {
		pr_err("could not register the file handler: %pe\n",
		       ERR_PTR(err));
		return err;
	}
	return 0;
}
late_initcall(hugetlb_luo_init);

/* Boot-time restore of the pools. */

static bool hugetlb_luo_in_checked __initdata;

/* The incoming subtree, or NULL. Usable before the buddy allocator. */
static const void *__init hugetlb_luo_in_fdt(void)
{
	phys_addr_t phys;
	const void *fdt;
	size_t size;
	int err;

	if (hugetlb_luo_in_checked)
		return hugetlb_luo_in_tree;
	hugetlb_luo_in_checked = true;

	err = kho_retrieve_subtree(HUGETLB_LUO_FDT_NAME, &phys, &size);
	if (err) {
		if (err != -ENOENT && err != -EOPNOTSUPP)
			pr_warn("cannot retrieve the hand-over data: %d\n", err);
		return NULL;
	}

	fdt = phys_to_virt(phys);
	if (fdt_check_header(fdt) || fdt_totalsize(fdt) > size ||
	    fdt_node_check_compatible(fdt, 0, HUGETLB_LUO_COMPATIBLE)) {
		pr_warn("hand-over data is not a valid %s tree, ignoring it\n",
			HUGETLB_LUO_COMPATIBLE);
		return NULL;
	}

	hugetlb_luo_in_tree = fdt;
	return fdt;
}

/**
 * struct hugetlb_luo_in_pool - A pool node read back from the subtree.
 * @nid:       The node of the pool's pages.
 * @free:      PFNs of the free pages (big-endian, 4-byte aligned).
 * @nr_free:   Number of entries in @free.
 * @in_use:    PFNs of the pages of preserved files.
 * @nr_in_use: Number of entries in @in_use.
 * @nr_surplus: How many of the in-use pages were surplus pages.
 */
struct hugetlb_luo_in_pool {
	int nid;
	const void *free;
	unsigned long nr_free;
	const void *in_use;
	unsigned long nr_in_use;
	unsigned long nr_surplus;
};

/*
 * Read one pool node. Counts are bounded by the memory that could hold
 * them, so a corrupt tree cannot make boot subtract (or restore) absurd
 * numbers.
 */
static int __init hugetlb_luo_read_pool(const void *fdt, int off,
					unsigned int order,
					struct hugetlb_luo_in_pool *pool)
{
	u64 max = memblock_phys_mem_size() >> (order + PAGE_SHIFT);
	int free_len, in_use_len;
	u32 nid, surplus;

	if (hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_NID_PROP, &nid) ||
	    nid >= MAX_NUMNODES ||
	    hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_SURPLUS_PROP, &surplus))
		return -EINVAL;

	pool->free = fdt_getprop(fdt, off, HUGETLB_LUO_FREE_PROP, &free_len);
	pool->in_use = fdt_getprop(fdt, off, HUGETLB_LUO_IN_USE_PROP,
				   &in_use_len);
	if (!pool->free || !pool->in_use || free_len % sizeof(u64) ||
	    in_use_len % sizeof(u64))
		return -EINVAL;

	pool->nid = nid;
	pool->nr_free = free_len / sizeof(u64);
	pool->nr_in_use = in_use_len / sizeof(u64);
	pool->nr_surplus = surplus;
	if (pool->nr_free + pool->nr_in_use > max ||
	    pool->nr_surplus > pool->nr_in_use)
		return -EINVAL;

	return 0;
}

static int __init hugetlb_luo_node_order(const void *fdt, int hoff,
					 unsigned int *order)
{
	if (hugetlb_luo_fdt_u32(fdt, hoff, HUGETLB_LUO_ORDER_PROP, order))
		return -EINVAL;
	return *order > MAX_FOLIO_ORDER ? -EINVAL : 0;
}

/**
 * hugetlb_luo_boot_adjust - count preserved pages in the boot allocation
 * @h: hstate whose boot-time pages are about to be allocated
 *
 * Subtract the pages of @h handed over by the previous kernel from the
 * number of pages to allocate at boot, globally and per node, so that
 * ``hugepages=`` sizes the pool including them. Called for gigantic hstates
 * before the page allocator is up, so it only reads the KHO FDT.
 */
void __init hugetlb_luo_boot_adjust(struct hstate *h)
{
	unsigned int order = huge_page_order(h), prop_order;
	unsigned long total = 0;
	const void *fdt;
	char name[32];
	int hoff, noff;

	fdt = hugetlb_luo_in_fdt();
	if (!fdt)
		return;

	snprintf(name, sizeof(name), HUGETLB_LUO_HSTATE_NODE, order);
	hoff = fdt_subnode_offset(fdt, 0, name);
	if (hoff < 0 || hugetlb_luo_node_order(fdt, hoff, &prop_order) ||
	    prop_order != order)
		return;

	fdt_for_each_subnode(noff, fdt, hoff) {
		struct hugetlb_luo_in_pool pool;
		unsigned long nr;

		if (hugetlb_luo_read_pool(fdt, noff, order, &pool))
			continue;

		/* Surplus pages are no part of what hugepages= asks for. */
		nr = pool.nr_free + pool.nr_in_use - pool.nr_surplus;
		h->max_huge_pages_node[pool.nid] -=
			min(nr, h->max_huge_pages_node[pool.nid]);
		total += nr;
	}

	if (!total)
		return;

	h->max_huge_pages -= min(total, h->max_huge_pages);
	pr_info("%lu preserved pages of order %u count towards the boot pool\n",
		total, order);
}

static void __init hugetlb_luo_give_back(struct folio *folio)
{
	/* Never was a hugetlb folio: straight back to the page allocator. */
	if (folio_ref_freeze(folio, 1))
		free_frozen_pages(&folio->page, folio_order(folio));
}

/*
 * Restore the page at @pfn if it is what the tree says: the head of a page
 * of @order that KHO preserved, on node @nid. A page that KHO preserved but
 * that does not fit goes back to the page allocator.
 */
static struct folio *__init hugetlb_luo_restore_page(struct hstate *h,
						      unsigned int order,
						      int nid, u64 pfn)
{
	struct folio *folio;

	/*
	 * Only a page that KHO preserved at this order can be ours. Any other
	 * PFN is left alone: it may well belong to another KHO user.
	 */
	if (pfn > PHYS_PFN(PHYS_ADDR_MAX))
		return NULL;
	folio = kho_restore_folio_order(PFN_PHYS(pfn), order);
	if (!folio)
		return NULL;

	if (!h || folio_nid(folio) != nid) {
		hugetlb_luo_give_back(folio);
		return NULL;
	}

	if (!folio_ref_freeze(folio, 1)) {
		pr_warn("pfn %#llx: restored page is in use\n", pfn);
		return NULL;
	}

	return folio;
}

/*
 * Count @nr of the in-use pages just restored on @nid as surplus pages, as
 * they were: they leave the pool when they are freed, and hugepages= did not
 * count them.
 */
static void __init hugetlb_luo_restore_surplus(struct hstate *h, int nid,
					       unsigned long nr)
{
	if (!nr)
		return;

	spin_lock_irq(&hugetlb_lock);
	h->surplus_huge_pages += nr;
	h->surplus_huge_pages_node[nid] += nr;
	h->max_huge_pages -= min(nr, h->max_huge_pages);
	spin_unlock_irq(&hugetlb_lock);
}

static unsigned long __init
hugetlb_luo_restore_pool(struct hstate *h, unsigned int order,
			 const struct hugetlb_luo_in_pool *pool,
			 bool keep_in_use)
{
	unsigned long nr = pool->nr_free + pool->nr_in_use;
	unsigned long i, restored = 0, in_use_restored = 0;

	for (i = 0; i < nr; i++) {
		bool in_use = i >= pool->nr_free;
		struct folio *folio;
		u64 pfn;

		if (in_use)
			pfn = fdt64_ld(pool->in_use + (i - pool->nr_free) *
				       sizeof(u64));
		else
			pfn = fdt64_ld(pool->free + i * sizeof(u64));

		folio = hugetlb_luo_restore_page(h, order, pool->nid, pfn);
		if (!folio)
			continue;

		in_use &= keep_in_use;
		hugetlb_add_restored_folio(h, folio, in_use);
		restored++;
		in_use_restored += in_use;

		if (in_use && xa_err(xa_store(&hugetlb_luo_in_use, pfn, folio,
					      GFP_KERNEL)))
			folio_put(folio);
	}

	if (restored != nr)
		pr_warn("order %u node %d: %lu of %lu preserved pages unusable, not added to the pool\n",
			order, pool->nid, nr - restored, nr);

	hugetlb_luo_restore_surplus(h, pool->nid,
				    min(pool->nr_surplus, in_use_restored));
	return restored;
}

static void __init hugetlb_luo_restore_hstate(const void *fdt, int hoff,
					      bool keep_in_use)
{
	struct hugetlb_luo_in_pool pool;
	unsigned long restored;
	unsigned int order;
	struct hstate *h;
	int noff;

	if (hugetlb_luo_node_order(fdt, hoff, &order)) {
		pr_warn("malformed hstate node %s, its pages are lost\n",
			fdt_get_name(fdt, hoff, NULL));
		return;
	}

	/* With no hstate of this order every page goes back. */
	h = hugetlb_luo_order_hstate(order);

	fdt_for_each_subnode(noff, fdt, hoff) {
		if (hugetlb_luo_read_pool(fdt, noff, order, &pool)) {
			pr_warn("order %u: malformed pool node, its pages are lost\n",
				order);
			continue;
		}

		restored = hugetlb_luo_restore_pool(h, order, &pool,
						    keep_in_use);
		if (h)
			pr_info("order %u node %d: restored %lu preserved pages\n",
				order, pool.nid, restored);
	}
}

/*
 * Reserve the pages that file @id had reserved, so that they are still there
 * when it is retrieved. Its record is checked again at retrieve, which fails
 * if it cannot get them then.
 */
static void __init hugetlb_luo_reserve_file(u64 id)
{
	struct hugetlb_luo_in_file f;
	long nr;

	if (hugetlb_luo_read_file(id, &f))
		return;

	nr = hugetlb_luo_count_reserved(&f);
	if (nr <= 0)
		return;

	if (hugetlb_reserve_restored(f.h, nr)) {
		pr_warn("file %llu: %ld reserved pages not available at boot\n",
			id, nr);
		return;
	}

	if (xa_err(xa_store(&hugetlb_luo_in_resv, id,
			    xa_mk_value(hugetlb_luo_resv_value(f.h, nr)),
			    GFP_KERNEL)))
		hugetlb_reserve_restored(f.h, -nr);
}

/**
 * hugetlb_luo_restore_pools - add the pages handed over by KHO to the pools
 *
 * Called from hugetlb_init() once the hstates exist and the boot-time pages
 * are allocated. Free pages go to the free lists; pages of preserved files
 * are accounted as in use until the file is retrieved or finished.
 */
void __init hugetlb_luo_restore_pools(void)
{
	/* Without LUO no file can claim its pages: they are all free. */
	bool keep_in_use = liveupdate_enabled();
	const void *fdt;
	int hoff;

	fdt = hugetlb_luo_in_fdt();
	if (!fdt)
		return;

	fdt_for_each_subnode(hoff, fdt, 0) {
		const char *name = fdt_get_name(fdt, hoff, NULL);

		if (name && !strncmp(name, "hstate-", 7))
			hugetlb_luo_restore_hstate(fdt, hoff, keep_in_use);
	}

	if (!keep_in_use)
		return;

	/* Then the reservations of the files, from the pool just restored. */
	fdt_for_each_subnode(hoff, fdt, 0) {
		const char *name = fdt_get_name(fdt, hoff, NULL);
		u64 id;

		if (name && sscanf(name, HUGETLB_LUO_FILE_NODE, &id) == 1)
			hugetlb_luo_reserve_file(id);
	}
}
