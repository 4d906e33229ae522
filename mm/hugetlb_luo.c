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
 * could hold them. Each block of a list must be a page that KHO preserved
 * at order 0, hold at least one entry and no more than a block can, and the
 * list must hold the number of entries that the tree says; the runs of a
 * pool must add up to its ``nr-free``. A list that breaks one of these rules
 * is refused as a whole: nothing it lists is taken. Each run must be
 * aligned, inside memory and above the previous one; each page of a run, or
 * of a file, must be the head of a range that KHO preserved at exactly the
 * order of the pool or file (kho_restore_folio_order()): anything else,
 * never preserved, listed twice or preserved by another KHO user at another
 * order, is left alone. A page that KHO did preserve at that order but that
 * cannot join a pool, because the next kernel has no hstate of that size or
 * the page is not on the recorded node, is given back to the page
 * allocator. Each pool and file with refused pages is reported in one line.
 * A file record is checked at boot: known page size and seals, size within
 * limits and a multiple of the page size, folios at aligned, ascending
 * indexes inside the file, ranges sorted and inside it. A file with a bad
 * record fails to retrieve with ``-EINVAL``; its pages go back to the free
 * pool when the session is finished.
 *
 * A tree that is not of the expected version is ignored as a whole: its
 * pages stay reserved, since nothing about them can be trusted.
 *
 * Limits
 * ======
 *
 * The tree holds about 200 bytes per file and per pool. A free pool takes
 * one 16-byte run per physically contiguous stretch of pages, a file one
 * 12-byte extent per stretch contiguous in the file and in memory, in
 * blocks of 255 runs or 340 extents: a pool allocated at boot, or a file
 * faulted in order, takes a block whatever its size. At worst, with no two
 * huge pages adjacent, that is 8225 bytes per GiB of 2 MiB pages for a
 * pool and 6170 for a file. A list may hold 10000 blocks (KHO's limit):
 * 2.5 million runs or 3.4 million extents, 5 TiB and 6.5 TiB of 2 MiB pages
 * in that worst case. Preserving a file that would not fit fails with
 * ``-ENOSPC``, and so does the kexec if the pools do not fit. A file of
 * 2^32 huge pages or more fails with ``-EFBIG``, and a page that an extent
 * cannot address, above 8 PiB of physical address with 2 MiB pages (256 TiB
 * with 64 KiB ones), with ``-ERANGE``, at preserve or at the freeze.
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
 *   from its pool, so ``HugePages_Rsvd`` is the same before and after the
 *   update, and gives them to the file at retrieve: a later fault in a
 *   reserved hole succeeds, and closing the file releases the reservation.
 *   Retrieve fails with ``-ENOMEM`` if the pool cannot back the
 *   reservation. Pages faulted in through ``MAP_NORESERVE`` mappings carry
 *   no reservation, before or after.
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
#include <linux/err.h>
#include <linux/file.h>
#include <linux/folio_batch.h>
#include <linux/hugetlb.h>
#include <linux/hugetlb_cgroup.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/hugetlb.h>
#include <linux/kho_block.h>
#include <linux/ktime.h>
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

#include "hugetlb_internal.h"
#include "internal.h"
#include "page_alloc.h"

/* Upper bounds of the FDT space taken by one node, properties included. */
#define HUGETLB_LUO_FDT_ROOT	SZ_1K
#define HUGETLB_LUO_FDT_HSTATE	64
#define HUGETLB_LUO_FDT_POOL	192
#define HUGETLB_LUO_FDT_FILE	256

/* kho_alloc_preserve() hands out at most one buddy block. */
#define HUGETLB_LUO_FDT_MAX	(PAGE_SIZE << MAX_PAGE_ORDER)

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
 * @ranges:    The reservation map of the file.
 * @nr_ranges: Number of entries in @ranges.
 * @extent_list: @folios as handed over, a list of hugetlb_luo_extent_ser.
 * @nr_extents: Number of entries in @extent_list.
 * @range_list: @ranges as handed over.
 * @stale:     Whether the lists may be older than @folios and @ranges,
 *             after a failed freeze.
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
	struct kho_block_set extent_list;
	unsigned long nr_extents;
	struct kho_block_set range_list;
	bool stale;
};

/**
 * struct hugetlb_luo_pool - Outgoing snapshot of one hstate on one node.
 * @folios:  Free pages taken off the free list at freeze time, each with a
 *           reference, until the kexec or the unfreeze.
 * @nr_free: Number of entries in @folios.
 * @nr_preserved: How many of them are preserved with KHO (all but after a
 *           failure).
 * @nr_surplus: Surplus pages of the hstate on the node at freeze time.
 * @nr_in_use: Pages of preserved files of the hstate on the node.
 * @runs:    @folios as handed over, a list of hugetlb_luo_run_ser.
 * @nr_runs: Number of entries in @runs.
 */
struct hugetlb_luo_pool {
	struct folio **folios;
	unsigned long nr_free;
	unsigned long nr_preserved;
	unsigned long nr_surplus;
	unsigned long nr_in_use;
	struct kho_block_set runs;
	unsigned long nr_runs;
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
 * @tree_stale: Whether a list may have moved since the tree was written.
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
	bool tree_stale;
};

static struct hugetlb_luo_out hugetlb_luo_out = {
	.lock = __MUTEX_INITIALIZER(hugetlb_luo_out.lock),
	.files = LIST_HEAD_INIT(hugetlb_luo_out.files),
	.next_id = 1,
};

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
 * Incoming: file id -> &struct hugetlb_luo_in_file, read at boot. Retrieve
 * and finish take records out; the FLB finish frees leftovers.
 */
static DEFINE_XARRAY(hugetlb_luo_in_files);

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

/*
 * Write the @nr entries at @entries to the KHO block list @bs, which keeps
 * no more blocks than it needs.
 */
static int hugetlb_luo_list_write(struct kho_block_set *bs,
				  const void *entries, unsigned long nr)
{
	struct kho_block_set_it it;
	unsigned long i;
	int err;

	err = kho_block_set_grow(bs, nr);
	if (err) {
		pr_err("no room for a list of %lu entries: %pe\n", nr,
		       ERR_PTR(err));
		return err;
	}

	kho_block_set_it_init(&it, bs);
	for (i = 0; i < nr; i++)
		memcpy(kho_block_set_it_reserve_entry(&it),
		       entries + i * bs->entry_size, bs->entry_size);
	kho_block_set_shrink(bs, nr);
	return 0;
}

/*
 * Hand over the folios of @hf, as extents of pages contiguous in the file
 * and in memory, and its reservation map, as they are.
 */
static int hugetlb_luo_file_write(struct hugetlb_luo_file *hf)
{
	unsigned int order = huge_page_order(hf->h);
	struct hugetlb_luo_extent_ser *ext;
	unsigned long i, n = 0;
	int err;

	ext = kvmalloc_array(max(hf->nr_folios, 1UL), sizeof(*ext),
			     GFP_KERNEL);
	if (!ext)
		return -ENOMEM;

	/* Preserve refused files of more than U32_MAX huge pages. */
	for (i = 0; i < hf->nr_folios; i++) {
		u64 pfn = folio_pfn(hf->folios[i]) >> order;
		u32 index = hf->folios[i]->index >> order;

		if (pfn > U32_MAX) {
			pr_warn("cannot hand over a huge page at PFN %#lx: beyond what the hand-over data can address\n",
				folio_pfn(hf->folios[i]));
			kvfree(ext);
			return -ERANGE;
		}
		if (n && (u64)ext[n - 1].pfn + ext[n - 1].nr == pfn &&
		    ext[n - 1].index + ext[n - 1].nr == index) {
			ext[n - 1].nr++;
		} else {
			ext[n].pfn = pfn;
			ext[n].index = index;
			ext[n++].nr = 1;
		}
	}

	err = hugetlb_luo_list_write(&hf->extent_list, ext, n) ?:
	      hugetlb_luo_list_write(&hf->range_list, hf->ranges,
				     hf->nr_ranges);
	if (!err)
		hf->nr_extents = n;
	kvfree(ext);
	return err;
}

/* An upper bound of the size of the subtree that describes @out. */
static size_t hugetlb_luo_fdt_size(struct hugetlb_luo_out *out)
{
	size_t size = HUGETLB_LUO_FDT_ROOT;
	struct hugetlb_luo_file *hf;

	list_for_each_entry(hf, &out->files, list)
		size += HUGETLB_LUO_FDT_FILE;

	if (out->pools)
		size += hugetlb_max_hstate *
			(HUGETLB_LUO_FDT_HSTATE +
			 num_node_state(N_MEMORY) * HUGETLB_LUO_FDT_POOL);

	return PAGE_ALIGN(size);
}

static int hugetlb_luo_fdt_write_pool(void *fdt, int nid,
				      struct hugetlb_luo_pool *pool)
{
	char name[32];
	int err;

	snprintf(name, sizeof(name), HUGETLB_LUO_POOL_NODE, nid);
	err = fdt_begin_node(fdt, name);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_NID_PROP, nid);
	/* Only pages handed over can stay surplus in the next kernel. */
	err |= fdt_property_u32(fdt, HUGETLB_LUO_SURPLUS_PROP,
				min(pool->nr_surplus, pool->nr_in_use));
	err |= fdt_property_u64(fdt, HUGETLB_LUO_NR_FREE_PROP, pool->nr_free);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_NR_IN_USE_PROP,
				pool->nr_in_use);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_NR_RUNS_PROP, pool->nr_runs);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_RUNS_PROP,
				kho_block_set_head_pa(&pool->runs));
	return err ?: fdt_end_node(fdt);
}

/* Write the "hstate-<order>" node of @h, if it has any preserved page. */
static int hugetlb_luo_fdt_write_hstate(void *fdt, struct hugetlb_luo_out *out,
					struct hstate *h)
{
	unsigned int order = huge_page_order(h);
	bool open = false;
	char name[32];
	int err = 0, nid;

	for_each_node_state(nid, N_MEMORY) {
		struct hugetlb_luo_pool *pool;

		pool = hugetlb_luo_pool_of(out->pools, h, nid);
		if (!pool->nr_free && !pool->nr_in_use)
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

		err = hugetlb_luo_fdt_write_pool(fdt, nid, pool);
		if (err)
			return err;
	}

	return open ? fdt_end_node(fdt) : 0;
}

static int hugetlb_luo_fdt_write_file(void *fdt, struct hugetlb_luo_file *hf)
{
	char name[32];
	int err;

	snprintf(name, sizeof(name), HUGETLB_LUO_FILE_NODE, hf->id);
	err = fdt_begin_node(fdt, name);
	err |= fdt_property_u32(fdt, HUGETLB_LUO_ORDER_PROP,
				huge_page_order(hf->h));
	err |= fdt_property_u32(fdt, HUGETLB_LUO_SEALS_PROP, hf->seals);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_SIZE_PROP, hf->size);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_POS_PROP, hf->pos);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_NR_FOLIOS_PROP, hf->nr_folios);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_NR_EXTENTS_PROP, hf->nr_extents);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_EXTENTS_PROP,
				kho_block_set_head_pa(&hf->extent_list));
	err |= fdt_property_u64(fdt, HUGETLB_LUO_NR_RANGES_PROP, hf->nr_ranges);
	err |= fdt_property_u64(fdt, HUGETLB_LUO_RESERVED_PROP,
				kho_block_set_head_pa(&hf->range_list));
	return err ?: fdt_end_node(fdt);
}

/* Returns 0 or a negative libfdt error. */
static int hugetlb_luo_fdt_build(struct hugetlb_luo_out *out, void *fdt,
				 size_t size)
{
	struct hugetlb_luo_file *hf;
	struct hstate *h;
	int err;

	err = fdt_create(fdt, size);
	err |= fdt_finish_reservemap(fdt);
	err |= fdt_begin_node(fdt, "");
	err |= fdt_property_string(fdt, "compatible", HUGETLB_LUO_COMPATIBLE);
	if (err)
		return err;

	if (out->pools) {
		for_each_hstate(h) {
			err = hugetlb_luo_fdt_write_hstate(fdt, out, h);
			if (err)
				return err;
		}
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
 * KHO in place of the old one. The lists it points to are written already.
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
		return -ENOSPC;
	}

	if (fdt && size <= out->fdt_size) {
		err = hugetlb_luo_fdt_write(out, fdt, out->fdt_size);
		if (!err)
			out->tree_stale = false;
		return err;
	}

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
	out->tree_stale = false;
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

	kho_block_set_destroy(&pool->runs);
	pool->nr_runs = 0;
	for (i = 0; i < pool->nr_preserved; i++)
		kho_unpreserve_folio(pool->folios[i]);
	for (i = 0; i < pool->nr_free; i++)
		folio_put(pool->folios[i]);
	kvfree(pool->folios);
	pool->folios = NULL;
	pool->nr_free = 0;
	pool->nr_preserved = 0;
}

static int hugetlb_luo_cmp_pfn(const void *a, const void *b)
{
	unsigned long x = folio_pfn(*(struct folio * const *)a);
	unsigned long y = folio_pfn(*(struct folio * const *)b);

	return x < y ? -1 : x > y;
}

/* Hand over the free pages of @pool as runs of contiguous huge pages. */
static int hugetlb_luo_pool_runs(struct hstate *h,
				 struct hugetlb_luo_pool *pool)
{
	unsigned long step = pages_per_huge_page(h);
	struct hugetlb_luo_run_ser *runs;
	unsigned long i, n = 0;
	int err;

	if (!pool->nr_free)
		return 0;

	sort(pool->folios, pool->nr_free, sizeof(*pool->folios),
	     hugetlb_luo_cmp_pfn, NULL);
	runs = kvmalloc_array(pool->nr_free, sizeof(*runs), GFP_KERNEL);
	if (!runs)
		return -ENOMEM;

	for (i = 0; i < pool->nr_free; i++) {
		unsigned long pfn = folio_pfn(pool->folios[i]);

		if (n && runs[n - 1].pfn + runs[n - 1].nr * step == pfn) {
			runs[n - 1].nr++;
		} else {
			runs[n].pfn = pfn;
			runs[n++].nr = 1;
		}
	}

	err = hugetlb_luo_list_write(&pool->runs, runs, n);
	if (!err)
		pool->nr_runs = n;
	kvfree(runs);
	return err;
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
	if (nr < max_free)
		pr_info("node %d: %lu free huge pages of order %u stay behind (in CMA, isolated or poisoned)\n",
			nid, max_free - nr, huge_page_order(h));
	for (i = 0; i < nr; i++) {
		err = kho_preserve_folio(pool->folios[i]);
		if (err)
			return err;
		pool->nr_preserved++;
	}
	return hugetlb_luo_pool_runs(h, pool);
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

/* The bytes of KHO memory that the hand-over data takes. */
static unsigned long hugetlb_luo_data_bytes(struct hugetlb_luo_out *out)
{
	struct hugetlb_luo_file *hf;
	unsigned long blocks = 0;
	unsigned int i;

	list_for_each_entry(hf, &out->files, list)
		blocks += hf->extent_list.nblocks + hf->range_list.nblocks;
	for (i = 0; out->pools && i < hugetlb_max_hstate * nr_node_ids; i++)
		blocks += out->pools[i].runs.nblocks;
	return out->fdt_size + blocks * KHO_BLOCK_SIZE;
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
	unsigned long free_mb = 0, file_mb = 0, j;
	struct hugetlb_luo_file *hf;
	struct hstate *h;
	unsigned int i;
	int err, nid;

	lockdep_assert_held(&out->lock);

	out->pools = kvcalloc(hugetlb_max_hstate * nr_node_ids,
			      sizeof(*out->pools), GFP_KERNEL);
	if (!out->pools)
		return -ENOMEM;
	for (i = 0; i < hugetlb_max_hstate * nr_node_ids; i++)
		kho_block_set_init(&out->pools[i].runs,
				   sizeof(struct hugetlb_luo_run_ser));

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

	/* The preserved files cannot change any more: count their pages once. */
	list_for_each_entry(hf, &out->files, list) {
		for (j = 0; j < hf->nr_folios; j++)
			hugetlb_luo_pool_of(out->pools, hf->h,
					    folio_nid(hf->folios[j]))->nr_in_use++;
		file_mb += (hf->nr_folios << huge_page_shift(hf->h)) >> 20;
	}

	err = hugetlb_luo_fdt_update(out);
	if (err)
		goto err_drop;
	/* What a next kernel without this feature would never get back. */
	pr_info("handing over %lu MiB of free huge pages and %lu MiB of preserved files; a kernel without CONFIG_LIVEUPDATE_HUGETLB keeps them reserved\n",
		free_mb, file_mb);
	pr_info("hand-over data: %lu bytes\n", hugetlb_luo_data_bytes(out));
	return 0;

err_drop:
	pr_err("failed to preserve the huge page pools: %pe\n", ERR_PTR(err));
	hugetlb_luo_snapshot_drop(out);
	return err;
}

/**
 * struct hugetlb_luo_in_folio - A page of a file record read back at boot.
 * @pfn:   Its PFN.
 * @index: Its page cache index, in PAGE_SIZE units.
 */
struct hugetlb_luo_in_folio {
	u64 pfn;
	u64 index;
};

/**
 * struct hugetlb_luo_in_file - A file record read back at boot.
 * @h:         Its hstate, NULL if this kernel has none of its page size.
 * @seals:     The memfd seals.
 * @size:      The file size.
 * @pos:       The file position.
 * @folios:    Its folios, from the extents of its list.
 * @nr_folios: Number of entries in @folios.
 * @ranges:    Its reservation map, copied out of its list.
 * @nr_ranges: Number of entries in @ranges.
 * @resv:      Pages of the map that no folio fills.
 * @nr_resv:   How many of them are reserved for the file.
 * @err:       Why the file cannot be retrieved, or 0.
 */
struct hugetlb_luo_in_file {
	struct hstate *h;
	u32 seals;
	loff_t size;
	loff_t pos;
	struct hugetlb_luo_in_folio *folios;
	unsigned long nr_folios;
	struct hugetlb_luo_range_ser *ranges;
	unsigned long nr_ranges;
	long resv;
	long nr_resv;
	int err;
};

/* Free a record read at boot, and the reservation held for its file. */
static void hugetlb_luo_in_file_free(struct hugetlb_luo_in_file *f)
{
	if (f->nr_resv)
		hugetlb_reserve_restored(f->h, -f->nr_resv);
	kvfree(f->folios);
	kvfree(f->ranges);
	kfree(f);
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
	struct hugetlb_luo_in_file *f;
	struct xarray *xa = argp->obj;
	unsigned long pfn, id, nr = 0;
	struct folio *folio;

	/* Pages of files that no session knew about go back to the pool. */
	xa_for_each(xa, pfn, folio) {
		xa_erase(xa, pfn);
		folio_put(folio);
		nr++;
	}

	/* And so do the reservations held for them. */
	xa_for_each(&hugetlb_luo_in_files, id, f) {
		xa_erase(&hugetlb_luo_in_files, id);
		hugetlb_luo_in_file_free(f);
	}

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
	.compatible = HUGETLB_LUO_COMPATIBLE,
};

static void hugetlb_luo_unpreserve_folios(struct hugetlb_luo_file *hf)
{
	unsigned long i;

	kho_block_set_destroy(&hf->extent_list);
	kho_block_set_destroy(&hf->range_list);
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
 * A folio with a poisoned page must not go: the next kernel would take that
 * page for good data. Refusing it lets userspace save what it can first.
 */
static int hugetlb_luo_check_poison(struct folio *folio)
{
	if (!folio_test_hwpoison(folio))
		return 0;
	pr_warn("cannot hand over the huge page at offset %#llx: it has a memory failure\n",
		(u64)folio->index << PAGE_SHIFT);
	return -EHWPOISON;
}

/*
 * Pin and preserve the @n folios from huge page index @idx of @file, which
 * has all of them: the layout is frozen, so they stay. @hf has room for
 * them. One call pins the whole run, which costs far less per folio than a
 * call per folio.
 */
static int hugetlb_luo_preserve_run(struct file *file,
				    struct hugetlb_luo_file *hf, pgoff_t idx,
				    unsigned int n)
{
	struct folio **folios = hf->folios + hf->nr_folios;
	unsigned int shift = huge_page_shift(hf->h);
	pgoff_t offset;
	long nr, i;
	int err = 0;

	/*
	 * Pinning keeps the folios where they are, and first migrates them out
	 * of CMA, which covers KHO scratch.
	 */
	nr = memfd_pin_folios(file, (loff_t)idx << shift,
			      ((loff_t)(idx + n) << shift) - 1, folios, n,
			      &offset);
	if (nr < 0)
		return nr;

	for (i = 0; i < nr; i++) {
		err = hugetlb_luo_check_poison(folios[i]);
		if (!err)
			err = kho_preserve_folio(folios[i]);
		if (err)
			break;
	}
	/* Those preserved are @hf's now; its unpreserve undoes them. */
	hf->nr_folios += i;
	if (i < nr)
		unpin_folios(folios + i, nr - i);
	if (!err && nr != n)
		err = -EFAULT;
	return err;
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
	bool unsorted = false;
	unsigned int i, n, run;
	int err = 0;

	if (!hf->size)
		return 0;

	/* Room for every folio the file holds now, in one allocation. */
	err = hugetlb_luo_grow(hf, READ_ONCE(file->f_mapping->nrpages) >> order);
	if (err)
		return err;

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
		/* Each run of consecutive indexes is pinned in one go. */
		for (i = 0; !err && i < n; i += run) {
			for (run = 1; i + run < n && idx[i + run] == idx[i] + run;
			     run++)
				;
			/* Appended after a folio of a higher index? */
			if (hf->nr_folios &&
			    hf->folios[hf->nr_folios - 1]->index > idx[i] << order)
				unsorted = true;
			err = hugetlb_luo_preserve_run(file, hf, idx[i], run);
		}
		cond_resched();
	}

	/* Only the folios of holes filled since preserve land out of order. */
	if (unsorted)
		sort(hf->folios, hf->nr_folios, sizeof(*hf->folios),
		     hugetlb_luo_cmp_index, NULL);
	return err;
}

/*
 * Whether @file holds a folio that @hf does not (1 or 0), or -EHWPOISON if a
 * folio of @hf had a memory failure since preserve. As long as every folio
 * of @hf is still in the file, the file holds others exactly when its page
 * cache counts more pages than theirs. Far cheaper than the scan: a freeze
 * scans only the files that faults filled since preserve.
 */
static int hugetlb_luo_grew(struct file *file, struct hugetlb_luo_file *hf)
{
	struct address_space *mapping = file->f_mapping;
	bool grew = READ_ONCE(mapping->nrpages) !=
		    hf->nr_folios * pages_per_huge_page(hf->h);
	unsigned long i;
	int err;

	for (i = 0; i < hf->nr_folios; i++) {
		err = hugetlb_luo_check_poison(hf->folios[i]);
		if (err)
			return err;
		if (READ_ONCE(hf->folios[i]->mapping) != mapping)
			grew = true;
	}
	return grew;
}

/*
 * Copy the reservation map of @inode into @hf, up to the end of the file.
 * Sets @changed when it differs from the copy @hf had.
 *
 * A shared mapping that reaches past the end of the file reserves pages
 * there too, which no page of the file can ever use: the next kernel gets
 * no such mapping, and would refuse a record that reserves beyond the file.
 */
static int hugetlb_luo_read_ranges(struct inode *inode,
				   struct hugetlb_luo_file *hf, bool *changed)
{
	struct resv_map *resv = HUGETLBFS_I(inode)->resv_map;
	unsigned int order = huge_page_order(hf->h);
	u64 end = hf->size >> PAGE_SHIFT;
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
		/* The regions ascend and do not overlap. */
		if ((u64)rg->from << order >= end)
			break;
		ranges[i].start = (u64)rg->from << order;
		ranges[i].end = min((u64)rg->to << order, end);
		i++;
	}
	spin_unlock(&resv->lock);
	nr = i;

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

	/*
	 * The file of a SysV shm segment, which /proc/PID/map_files opens with
	 * hugetlbfs' file operations: the next kernel could give its pages
	 * back as a file, but not the segment.
	 */
	if (IS_PRIVATE(inode)) {
		pr_warn("cannot preserve the file of a SysV shm segment\n");
		return -EOPNOTSUPP;
	}

	err = liveupdate_flb_get_outgoing(&hugetlb_luo_flb, (void **)&out);
	if (err)
		return err;

	hf = kzalloc_obj(*hf);
	if (!hf) {
		err = -ENOMEM;
		goto err_put_flb;
	}
	kho_block_set_init(&hf->extent_list,
			   sizeof(struct hugetlb_luo_extent_ser));
	kho_block_set_init(&hf->range_list, sizeof(struct hugetlb_luo_range_ser));

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

	/*
	 * fallocate() can leave the size of a hugetlbfs file between two huge
	 * pages, which a file made in the next kernel cannot have.
	 */
	if (!IS_ALIGNED(hf->size, huge_page_size(hf->h))) {
		pr_warn("cannot preserve a file of %lld bytes: not a multiple of its page size\n",
			hf->size);
		err = -EINVAL;
		goto err_unlock;
	}
	/* The hand-over data counts a file's pages in 32 bits. */
	if (hf->size >> huge_page_shift(hf->h) > U32_MAX) {
		pr_warn("cannot preserve a file of %lld bytes: 2^32 huge pages or more\n",
			hf->size);
		err = -EFBIG;
		goto err_unlock;
	}

	err = hugetlb_luo_scan(args->file, hf);
	if (!err)
		err = hugetlb_luo_read_ranges(inode, hf, &changed);
	if (!err)
		err = hugetlb_luo_file_write(hf);
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

/*
 * Refresh the position and the seals of @hf in the tree, in place: no size
 * changes.
 */
static int hugetlb_luo_fdt_set_pos(struct hugetlb_luo_out *out,
				   struct hugetlb_luo_file *hf)
{
	char name[32];
	int off;

	snprintf(name, sizeof(name), HUGETLB_LUO_FILE_NODE, hf->id);
	off = fdt_subnode_offset(out->fdt, 0, name);
	if (off < 0 || fdt_setprop_inplace_u64(out->fdt, off,
					       HUGETLB_LUO_POS_PROP, hf->pos) ||
	    fdt_setprop_inplace_u32(out->fdt, off, HUGETLB_LUO_SEALS_PROP,
				    hf->seals)) {
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
	int err, seals;

	hf->pos = file->f_pos;

	/* Seals may be added to a preserved file, up to the freeze. */
	seals = memfd_get_seals(file);
	if (seals < 0)
		return seals;
	if (seals & ~HUGETLB_LUO_ALL_SEALS)
		return -EOPNOTSUPP;
	hf->seals = seals;

	/* Nothing may resize a preserved file: the record holds its size. */
	if (i_size_read(file_inode(file)) != hf->size)
		return -EBUSY;

	/* Holes filled by faults since preserve; from now on none can be. */
	err = hugetlb_luo_grew(file, hf);
	if (err > 0)
		err = hugetlb_luo_scan(file, hf);
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
	bool changed = false, last;
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
	 * position in the tree, unless faults or mappings changed its lists
	 * since preserve (or a failed attempt left them or the tree stale),
	 * and the last freeze writes the pools and the whole tree.
	 */
	last = out->nr_frozen + 1 == out->nr_preserved;
	if (!err && (changed || hf->stale)) {
		/* Rewriting a list may move it: the tree must follow. */
		out->tree_stale = true;
		hf->stale = true;
		err = hugetlb_luo_file_write(hf);
		if (!err)
			hf->stale = false;
	}
	if (!err && !last)
		err = out->tree_stale ? hugetlb_luo_fdt_update(out) :
					hugetlb_luo_fdt_set_pos(out, hf);
	/* A memory failure was logged with the offset of its page. */
	if (err && err != -EHWPOISON)
		pr_err("file %llu: cannot refresh its record: %pe\n", hf->id,
		       ERR_PTR(err));
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
 * fault (SIGBUS), the userfaultfd copy (-EPERM) or the memfd_pin_folios()
 * (-EPERM) that would add it fails instead. Called with the hugetlb fault
 * mutex of the index held.
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

/*
 * The number of pages that the reservation map of @f reserves: the pages of
 * its ranges that no folio fills. Ranges and folios must be sorted, aligned
 * and inside the file, or the record is malformed (-EINVAL).
 */
static long hugetlb_luo_count_reserved(const struct hugetlb_luo_in_file *f,
				       unsigned int order)
{
	unsigned long nr_pages = 1UL << order, i, r = 0;
	u64 prev = 0, end = f->size >> PAGE_SHIFT, index;
	unsigned long total = 0, filled = 0;

	for (i = 0; i < f->nr_ranges; i++) {
		u64 start = f->ranges[i].start, stop = f->ranges[i].end;

		if (start < prev || stop <= start || stop > end ||
		    !IS_ALIGNED(start | stop, nr_pages))
			return -EINVAL;
		total += (stop - start) / nr_pages;
		prev = stop;
	}

	/* Both lists are sorted: walk them side by side. */
	for (i = 0; i < f->nr_folios; i++) {
		index = f->folios[i].index;
		if ((i && index <= f->folios[i - 1].index) || index >= end ||
		    !IS_ALIGNED(index, nr_pages))
			return -EINVAL;

		while (r < f->nr_ranges && index >= f->ranges[r].end)
			r++;
		if (r < f->nr_ranges && index >= f->ranges[r].start)
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
	struct hugetlb_luo_in_file *f;
	struct folio *folio;
	unsigned long i;

	/* Retrieve owns the folios (or already released them on failure). */
	if (args->retrieve_status ||
	    hugetlb_luo_is_pool_file(args->serialized_data))
		return;

	/* Without a record, the FLB finish returns the pages. */
	f = xa_erase(&hugetlb_luo_in_files, args->serialized_data);
	if (!f)
		return;

	for (i = 0; i < f->nr_folios; i++) {
		folio = hugetlb_luo_claim(f->folios[i].pfn);
		if (folio)
			folio_put(folio);
	}
	hugetlb_luo_in_file_free(f);
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

/*
 * Charge @folio, a page of @h, to the cgroups of the retrieving task, as a
 * fault would.
 */
static int hugetlb_luo_commit(struct folio *folio, struct hstate *h,
			      struct hugetlb_luo_charge *c)
{
	long pages = pages_per_huge_page(h);
	int err;

	spin_lock_irq(&hugetlb_lock);
	hugetlb_cgroup_commit_charge(hstate_index(h), pages, c->h_cg, folio);
	spin_unlock_irq(&hugetlb_lock);
	c->committed++;

	err = mem_cgroup_charge_hugetlb(folio, current->mm, GFP_KERNEL);
	if (err) {
		pr_err("memory cgroup: huge page over the limit\n");
		return err;
	}
	/*
	 * Counted at boot on its node alone: a memcg that took the folio
	 * (memory_hugetlb_accounting) counts it from now on.
	 */
	if (folio_memcg_charged(folio)) {
		mod_node_page_state(folio_pgdat(folio), NR_HUGETLB, -pages);
		lruvec_stat_mod_folio(folio, NR_HUGETLB, pages);
	}
	return 0;
}

/* Folios added to the page cache of a retrieved file in one go. */
#define HUGETLB_LUO_BATCH	32

/* A claimed folio that no file took: back to the pool. */
static void hugetlb_luo_put_claimed(struct folio *folio)
{
	hugetlb_set_folio_subpool(folio, NULL);
	folio_put(folio);
}

/*
 * Add the @nr claimed and charged folios of @batch, for consecutive huge
 * page indexes from @idx, to the page cache of @inode. A folio that is not
 * added goes back to the pool.
 */
static int hugetlb_luo_add_batch(struct inode *inode, struct folio **batch,
				 unsigned long nr, pgoff_t idx,
				 struct hugetlb_luo_charge *c)
{
	unsigned long i, added = nr;
	int err;

	err = hugetlb_add_restored_to_page_cache(batch, &added, inode->i_mapping,
						 idx, c->rsvd_cg);
	if (err)
		pr_err("folio at index %#lx not added: %pe\n",
		       (idx + added) << huge_page_order(hstate_inode(inode)),
		       ERR_PTR(err));
	c->added += added;
	for (i = 0; i < nr; i++) {
		if (i >= added) {
			hugetlb_luo_put_claimed(batch[i]);
			continue;
		}
		folio_set_hugetlb_migratable(batch[i]);
		folio_unlock(batch[i]);
		/* The page cache holds the folio now. */
		folio_put(batch[i]);
	}
	return err;
}

static int hugetlb_luo_retrieve_folios(struct file *file,
				       const struct hugetlb_luo_in_file *f,
				       struct hugetlb_luo_charge *c)
{
	struct folio *batch[HUGETLB_LUO_BATCH], *folio;
	struct inode *inode = file_inode(file);
	unsigned int order = huge_page_order(f->h);
	pgoff_t end = f->size >> PAGE_SHIFT, first = 0;
	unsigned long i, n = 0;
	int err = 0;

	for (i = 0; i < f->nr_folios; i++) {
		pgoff_t index = f->folios[i].index;
		u64 pfn = f->folios[i].pfn;

		folio = hugetlb_luo_claim(pfn);
		if (!folio || folio_hstate(folio) != f->h ||
		    !IS_ALIGNED(index, 1UL << order) || index >= end) {
			pr_err("invalid folio %lu (pfn %#llx index %#lx)\n",
			       i, pfn, index);
			err = -EINVAL;
			goto err_put;
		}

		err = hugetlb_luo_commit(folio, f->h, c);
		if (err)
			goto err_put;
		hugetlb_set_folio_subpool(folio, subpool_inode(inode));
		folio_mark_uptodate(folio);

		/* A batch holds folios of consecutive indexes. */
		if (n && (n == HUGETLB_LUO_BATCH || index >> order != first + n)) {
			err = hugetlb_luo_add_batch(inode, batch, n, first, c);
			n = 0;
			if (err)
				goto err_put;
		}
		if (!n)
			first = index >> order;
		batch[n++] = folio;
	}

	return n ? hugetlb_luo_add_batch(inode, batch, n, first, c) : 0;

err_put:
	if (folio)
		hugetlb_luo_put_claimed(folio);
	/* The batch goes back too; the folios after @i stay claimable. */
	while (n--)
		hugetlb_luo_put_claimed(batch[n]);
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
		ret = hugetlb_restore_reservation(inode,
						  f->ranges[i].start >> order,
						  f->ranges[i].end >> order,
						  c->rsvd_cg);
		if (ret < 0)
			break;
		added += ret;
	}
	c->added += added;

	/* What the file did not take goes back to the pool. */
	if (added != nr)
		hugetlb_reserve_restored(f->h, added - nr);
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
	struct hugetlb_luo_in_file *f;
	unsigned int flags;
	struct inode *inode;
	struct file *file;
	long resv;
	int err;

	if (hugetlb_luo_is_pool_file(args->serialized_data))
		return hugetlb_luo_retrieve_pool(args);

	f = xa_erase(&hugetlb_luo_in_files, args->serialized_data);
	if (!f) {
		pr_err("file %llu: no record in the hand-over data\n",
		       args->serialized_data);
		return -ENOENT;
	}
	err = f->err;
	if (err)
		goto err_out;
	resv = f->resv;

	/* Boot reserved what it could; the file gets what it had. */
	if (resv != f->nr_resv) {
		err = hugetlb_reserve_restored(f->h, resv - f->nr_resv);
		if (err) {
			pr_err("file %llu: cannot reserve %ld pages\n",
			       args->serialized_data, resv - f->nr_resv);
			goto err_out;
		}
		f->nr_resv = resv;
	}

	flags = MFD_HUGETLB | MFD_ALLOW_SEALING |
		(huge_page_shift(f->h) << MFD_HUGE_SHIFT);
	file = memfd_alloc_file("", flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		/* hugetlbfs says -ENOSPC when it has no memory for an inode. */
		if (err == -ENOSPC)
			err = -ENOMEM;
		goto err_out;
	}
	inode = file_inode(file);

	vfs_setpos(file, f->pos, MAX_LFS_FILESIZE);

	/* The reservation map covers the folios and the reserved holes. */
	err = hugetlb_luo_charge(f->h, f->nr_folios, f->nr_folios + resv,
				 &charge);
	if (err) {
		hugetlb_luo_uncharge_rest(f->h, &charge);
		goto err_put_file;
	}

	inode_lock(inode);
	i_size_write(inode, f->size);
	err = hugetlb_luo_retrieve_folios(file, f, &charge);
	if (err) {
		inode_unlock(inode);
		hugetlb_luo_uncharge_rest(f->h, &charge);
		goto err_put_file;
	}
	/* From here on, the file releases its reservation when it goes. */
	f->nr_resv = 0;
	err = hugetlb_luo_retrieve_ranges(inode, f, resv, &charge);
	inode_unlock(inode);
	hugetlb_luo_uncharge_rest(f->h, &charge);
	if (err)
		goto err_put_file;

	/* Last, so that no seal gets in the way of the restore. */
	err = memfd_add_seals(file, f->seals);
	if (err)
		goto err_put_file;

	hugetlb_luo_in_file_free(f);
	args->file = file;
	return 0;

err_put_file:
	fput(file);
err_out:
	pr_err("failed to retrieve file %llu: %pe\n", args->serialized_data,
	       ERR_PTR(err));
	hugetlb_luo_in_file_free(f);
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
	 * hugepage-backed too: its file has its own file operations, and
	 * preserve refuses its inode, which is private.
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
	.compatible = HUGETLB_LUO_COMPATIBLE,
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

/* Whether the incoming subtree was found wrong, and said so. */
static bool hugetlb_luo_in_warned __initdata;

/* Handed-over pages counted towards hugepages= at boot. */
static unsigned long hugetlb_luo_boot_counted __initdata;

/*
 * In-use pages restored per hstate and node, and a row of them to count
 * surplus pages from: static, so that restoring needs no allocation that
 * could fail for all files and pools at once.
 */
static unsigned long hugetlb_luo_in_use_nr[HUGE_MAX_HSTATE * MAX_NUMNODES] __initdata;
static unsigned long hugetlb_luo_avail[MAX_NUMNODES] __initdata;

/*
 * Whether @fdt, in a buffer of @size bytes, is a tree of this version:
 * -EINVAL if it is no tree, -EPROTONOSUPPORT if it is one of another version.
 */
static int __init hugetlb_luo_check_tree(const void *fdt, size_t size)
{
	if (size < sizeof(struct fdt_header) || fdt_check_header(fdt) ||
	    fdt_totalsize(fdt) > size)
		return -EINVAL;
	if (fdt_node_check_compatible(fdt, 0, HUGETLB_LUO_COMPATIBLE))
		return -EPROTONOSUPPORT;
	return 0;
}

/*
 * Say once why the incoming subtree @fdt is ignored (@err from
 * hugetlb_luo_check_tree()). Its pages are never restored: KHO keeps them
 * reserved, a file's data as well as the free pages of a pool.
 */
static void __init hugetlb_luo_refuse_tree(const void *fdt, int err)
{
	const char *compat;
	int len = 0;

	if (hugetlb_luo_in_warned)
		return;
	hugetlb_luo_in_warned = true;
	compat = err == -EPROTONOSUPPORT ?
		 fdt_getprop(fdt, 0, "compatible", &len) : NULL;
	if (compat && len > 0)
		pr_warn("hand-over data is of version %.*s, this kernel reads %s only: its huge pages stay reserved\n",
			(int)strnlen(compat, len), compat,
			HUGETLB_LUO_COMPATIBLE);
	else
		pr_warn("hand-over data is not a valid %s tree: its huge pages stay reserved\n",
			HUGETLB_LUO_COMPATIBLE);
}

/*
 * The incoming subtree, or NULL. Usable before the buddy allocator. Asked of
 * KHO at each use, not kept: gigantic pages are sized before KHO has walked
 * its memory map, and should that walk fail, KHO drops the whole hand-over
 * and the subtree's memory goes to the page allocator.
 */
static const void *__init hugetlb_luo_in_fdt(void)
{
	phys_addr_t phys;
	const void *fdt;
	size_t size;
	int err;

	err = kho_retrieve_subtree(HUGETLB_LUO_FDT_NAME, &phys, &size);
	if (err) {
		if (err != -ENOENT && err != -EOPNOTSUPP &&
		    !hugetlb_luo_in_warned)
			pr_warn("cannot retrieve the hand-over data: %d\n", err);
		hugetlb_luo_in_warned = true;
		return NULL;
	}

	fdt = phys_to_virt(phys);
	err = hugetlb_luo_check_tree(fdt, size);
	if (err) {
		hugetlb_luo_refuse_tree(fdt, err);
		return NULL;
	}
	return fdt;
}

/* Takes the block of a list at @pa, or returns NULL if there is none. */
typedef struct folio *(*hugetlb_luo_block_fn)(u64 pa);

/* A block of a list handed over: a page that KHO preserved at order 0. */
static struct folio *__init hugetlb_luo_kho_block(u64 pa)
{
	return PAGE_ALIGNED(pa) ? kho_restore_folio_order(pa, 0) : NULL;
}

/*
 * Copy the KHO block list at @head, which must hold @nr entries of @size
 * bytes, into a new array, and put its blocks, each taken with @get_block.
 * Each block must hold from one entry to what a block can take. Returns the
 * array, NULL for an empty list, or an ERR_PTR: then nothing the list holds
 * may be used. A block taken twice (a loop) is refused by @get_block.
 */
static void *__init hugetlb_luo_list_read(u64 head, size_t size, u64 nr,
					  hugetlb_luo_block_fn get_block)
{
	u64 per_block = (KHO_BLOCK_SIZE - sizeof(struct kho_block_header_ser)) /
			size;
	struct kho_block_header_ser *hdr;
	struct folio *folio, *tmp;
	u64 pa = head, seen = 0;
	void *array = NULL;
	LIST_HEAD(blocks);
	int err = 0;

	while (pa) {
		folio = get_block(pa);
		if (!folio) {
			err = -EINVAL;
			break;
		}
		list_add_tail(&folio->lru, &blocks);
		hdr = folio_address(folio);
		if (!hdr->count || hdr->count > per_block ||
		    hdr->count > nr - seen) {
			err = -EINVAL;
			break;
		}
		seen += hdr->count;
		pa = hdr->next;
	}
	if (!err && seen != nr)
		err = -EINVAL;
	if (!err && nr) {
		array = kvmalloc_array(nr, size, GFP_KERNEL);
		if (!array)
			err = -ENOMEM;
	}

	seen = 0;
	list_for_each_entry_safe(folio, tmp, &blocks, lru) {
		hdr = folio_address(folio);
		if (!err) {
			memcpy(array + seen * size, hdr + 1, hdr->count * size);
			seen += hdr->count;
		}
		list_del(&folio->lru);
		folio_put(folio);
	}
	return err ? ERR_PTR(err) : array;
}

/**
 * struct hugetlb_luo_in_pool - A pool node read back from the subtree.
 * @nid:       The node of the pool's pages.
 * @nr_free:   Number of free pages.
 * @nr_in_use: Number of pages of preserved files on @nid.
 * @nr_surplus: How many of the in-use pages were surplus pages.
 * @nr_runs:   Number of runs of free pages.
 * @runs:      Physical address of the list of runs.
 */
struct hugetlb_luo_in_pool {
	int nid;
	u64 nr_free;
	u64 nr_in_use;
	u64 nr_surplus;
	u64 nr_runs;
	u64 runs;
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
	u32 nid, surplus;

	if (hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_NID_PROP, &nid) ||
	    nid >= MAX_NUMNODES ||
	    hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_SURPLUS_PROP, &surplus) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_NR_FREE_PROP,
				&pool->nr_free) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_NR_IN_USE_PROP,
				&pool->nr_in_use) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_NR_RUNS_PROP,
				&pool->nr_runs) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_RUNS_PROP, &pool->runs))
		return -EINVAL;

	pool->nid = nid;
	pool->nr_surplus = surplus;
	if (pool->nr_free > max || pool->nr_in_use > max - pool->nr_free ||
	    pool->nr_surplus > pool->nr_in_use ||
	    pool->nr_runs > pool->nr_free)
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
 * number of pages to allocate at boot, so that ``hugepages=`` sizes the pool
 * including them. Where ``hugepages=`` asks per node, each node gets what
 * it asks for: handed-over pages count on the node they were on when this
 * kernel has it, and the global count is the sum over the nodes. Called for
 * gigantic hstates before the page allocator is up, so it only reads the
 * KHO FDT.
 */
void __init hugetlb_luo_boot_adjust(struct hstate *h)
{
	unsigned int order = huge_page_order(h), prop_order;
	unsigned long total = 0, asked = 0;
	bool per_node = false;
	const void *fdt;
	char name[32];
	int hoff, noff, nid;

	fdt = hugetlb_luo_in_fdt();
	if (!fdt)
		return;

	snprintf(name, sizeof(name), HUGETLB_LUO_HSTATE_NODE, order);
	hoff = fdt_subnode_offset(fdt, 0, name);
	if (hoff < 0 || hugetlb_luo_node_order(fdt, hoff, &prop_order) ||
	    prop_order != order)
		return;

	for_each_online_node(nid)
		per_node |= h->max_huge_pages_node[nid] > 0;

	fdt_for_each_subnode(noff, fdt, hoff) {
		struct hugetlb_luo_in_pool pool;
		unsigned long nr;

		if (hugetlb_luo_read_pool(fdt, noff, order, &pool))
			continue;

		/* Surplus pages are no part of what hugepages= asks for. */
		nr = pool.nr_free + pool.nr_in_use - pool.nr_surplus;
		if (node_online(pool.nid))
			h->max_huge_pages_node[pool.nid] -=
				min(nr, h->max_huge_pages_node[pool.nid]);
		total += nr;
	}

	if (!total)
		return;

	if (per_node) {
		for_each_online_node(nid)
			asked += h->max_huge_pages_node[nid];
		h->max_huge_pages = asked;
	} else {
		h->max_huge_pages -= min(total, h->max_huge_pages);
	}
	hugetlb_luo_boot_counted += total;
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
 * of @order that KHO preserved. Without an hstate @h for it, a page that KHO
 * preserved goes back to the page allocator. The node the tree recorded for
 * it is only a hint: the next kernel may see other nodes, and the page counts
 * on the node it is on.
 */
static struct folio *__init hugetlb_luo_restore_page(struct hstate *h,
						      unsigned int order,
						      u64 pfn)
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

	if (!h) {
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

/*
 * Whether @run of pages of @order is aligned, inside memory below @max_pfn
 * and above @prev_end, the first PFN after the run before it.
 */
static bool __init hugetlb_luo_run_ok(const struct hugetlb_luo_run_ser *run,
				      unsigned int order, u64 prev_end,
				      u64 max_pfn)
{
	return run->nr && IS_ALIGNED(run->pfn, 1UL << order) &&
	       run->pfn >= prev_end && run->pfn < max_pfn &&
	       run->nr <= (max_pfn - run->pfn) >> order;
}

/*
 * Check the @nr_runs runs of a pool of pages of @order that must add up to
 * @nr_free pages: -EINVAL if they do not, and nothing may be used. Else each
 * run that is unaligned, runs past @max_pfn or is not above the run before
 * it is dropped (its count set to 0). Returns the number of pages dropped.
 */
static long __init hugetlb_luo_check_runs(struct hugetlb_luo_run_ser *runs,
					  u64 nr_runs, u64 nr_free,
					  unsigned int order, u64 max_pfn)
{
	u64 i, sum = 0, prev_end = 0, dropped = 0;

	for (i = 0; i < nr_runs; i++) {
		if (check_add_overflow(sum, runs[i].nr, &sum))
			return -EINVAL;
	}
	if (sum != nr_free)
		return -EINVAL;

	for (i = 0; i < nr_runs; i++) {
		if (hugetlb_luo_run_ok(&runs[i], order, prev_end, max_pfn)) {
			prev_end = runs[i].pfn + (runs[i].nr << order);
			continue;
		}
		dropped += runs[i].nr;
		runs[i].nr = 0;
	}
	return dropped;
}

/*
 * Restore the free pages of @pool: a run that is not as it should be is
 * left alone, and so is each page in a run that KHO did not preserve.
 * Returns how many were restored.
 */
static unsigned long __init
hugetlb_luo_restore_runs(struct hstate *h, unsigned int order,
			 const struct hugetlb_luo_in_pool *pool)
{
	struct hugetlb_luo_run_ser *runs;
	unsigned long restored = 0;
	u64 i, k;

	runs = hugetlb_luo_list_read(pool->runs, sizeof(*runs), pool->nr_runs,
				     hugetlb_luo_kho_block);
	if (IS_ERR(runs))
		return 0;

	if (hugetlb_luo_check_runs(runs, pool->nr_runs, pool->nr_free, order,
				   max_pfn) < 0)
		goto out;

	for (i = 0; i < pool->nr_runs; i++) {
		for (k = 0; k < runs[i].nr; k++) {
			struct folio *folio;

			folio = hugetlb_luo_restore_page(h, order,
							 runs[i].pfn + (k << order));
			if (!folio)
				continue;
			hugetlb_add_restored_folio(h, folio, false);
			restored++;
		}
		cond_resched();
	}
out:
	kvfree(runs);
	return restored;
}

/*
 * Count @nr of the in-use pages restored on node @nid, of which @avail are
 * not surplus yet, as surplus pages. Returns how many it could.
 */
static unsigned long __init hugetlb_luo_surplus_on(struct hstate *h, int nid,
						   unsigned long *avail,
						   unsigned long nr)
{
	nr = min(nr, avail[nid]);
	avail[nid] -= nr;
	hugetlb_luo_restore_surplus(h, nid, nr);
	return nr;
}

/*
 * Restore the free pages of the pools of the hstate node at @hoff, and
 * count the in-use pages the files restored (@in_use, per hstate and node)
 * against the pools' records. Pages count on the node they are on: where
 * the next kernel has other nodes, surplus pages are counted on the nodes
 * that got in-use pages.
 */
static void __init hugetlb_luo_restore_hstate(const void *fdt, int hoff,
					      unsigned long *in_use)
{
	unsigned long restored = 0, expected = 0, left = 0, used = 0;
	unsigned long *avail = NULL;
	struct hugetlb_luo_in_pool pool;
	unsigned int order;
	struct hstate *h;
	int noff, nid;

	if (hugetlb_luo_node_order(fdt, hoff, &order)) {
		pr_warn("malformed hstate node %s, its pages are lost\n",
			fdt_get_name(fdt, hoff, NULL));
		return;
	}

	/* With no hstate of this order every page goes back. */
	h = hugetlb_luo_order_hstate(order);
	if (h) {
		/* In-use pages not counted as surplus yet, per node. */
		avail = hugetlb_luo_avail;
		memcpy(avail, &in_use[hstate_index(h) * nr_node_ids],
		       nr_node_ids * sizeof(*avail));
		for (nid = 0; nid < nr_node_ids; nid++)
			used += avail[nid];
	}

	fdt_for_each_subnode(noff, fdt, hoff) {
		if (hugetlb_luo_read_pool(fdt, noff, order, &pool)) {
			pr_warn("order %u: malformed pool node, its pages are lost\n",
				order);
			continue;
		}
		expected += pool.nr_free + pool.nr_in_use;
		restored += hugetlb_luo_restore_runs(h, order, &pool);
		if (!h)
			continue;
		/* Surplus pages on their recorded node, if they are there. */
		left += pool.nr_surplus;
		if (pool.nid < nr_node_ids)
			left -= hugetlb_luo_surplus_on(h, pool.nid, avail,
						       pool.nr_surplus);
	}

	for (nid = 0; h && left && nid < nr_node_ids; nid++)
		left -= hugetlb_luo_surplus_on(h, nid, avail, left);

	/* The files restored their pages already. */
	restored += min(used, expected - restored);
	if (restored != expected)
		pr_warn("order %u: %lu of %lu preserved pages unusable, not added to the pool\n",
			order, expected - restored, expected);
	if (h)
		pr_info("order %u: restored %lu preserved pages\n", order,
			restored);
}

/**
 * struct hugetlb_luo_in_node - The lists of a file node.
 * @order:      Huge page order of the file.
 * @nr_folios:  Pages the extents add up to.
 * @nr_extents: Entries in the list at @extents.
 * @extents:    Physical address of the list of extents.
 * @ranges:     Physical address of the list of reserved ranges.
 */
struct hugetlb_luo_in_node {
	unsigned int order;
	u64 nr_folios;
	u64 nr_extents;
	u64 extents;
	u64 ranges;
};

/* Read the properties of file node @off into @f and @n. */
static int __init hugetlb_luo_read_file_node(const void *fdt, int off,
					     struct hugetlb_luo_in_file *f,
					     struct hugetlb_luo_in_node *n)
{
	u64 size, pos, nr_ranges, max;
	u32 seals;

	if (hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_ORDER_PROP, &n->order) ||
	    hugetlb_luo_fdt_u32(fdt, off, HUGETLB_LUO_SEALS_PROP, &seals) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_SIZE_PROP, &size) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_POS_PROP, &pos) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_NR_FOLIOS_PROP,
				&n->nr_folios) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_NR_EXTENTS_PROP,
				&n->nr_extents) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_EXTENTS_PROP,
				&n->extents) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_NR_RANGES_PROP,
				&nr_ranges) ||
	    hugetlb_luo_fdt_u64(fdt, off, HUGETLB_LUO_RESERVED_PROP, &n->ranges))
		return -EINVAL;

	if (n->order > MAX_FOLIO_ORDER)
		return -EINVAL;
	/* No more pages than the file and the memory can hold. */
	max = min(size >> (n->order + PAGE_SHIFT), (u64)max_pfn >> n->order);
	if (seals & ~HUGETLB_LUO_ALL_SEALS || size > MAX_LFS_FILESIZE ||
	    !IS_ALIGNED(size, PAGE_SIZE << n->order) ||
	    pos > MAX_LFS_FILESIZE || n->nr_folios > max ||
	    n->nr_extents > n->nr_folios ||
	    nr_ranges > size >> (n->order + PAGE_SHIFT))
		return -EINVAL;

	f->seals = seals;
	f->size = size;
	f->pos = pos;
	f->nr_ranges = nr_ranges;
	return 0;
}

/*
 * Turn the extents @ext of file node @n into the folios of @f. Extents that
 * do not add up to ``nr-folios`` make the list unusable (-EINVAL). The
 * pages of an extent that runs past @max_pfn cannot be listed: they are
 * counted in @lost. Indexes are checked later, on the folios.
 */
static int __init
hugetlb_luo_extents_to_folios(const struct hugetlb_luo_extent_ser *ext,
			      const struct hugetlb_luo_in_node *n, u64 max_pfn,
			      struct hugetlb_luo_in_file *f, unsigned long *lost)
{
	u64 i, k, sum = 0;

	for (i = 0; i < n->nr_extents; i++) {
		if (!ext[i].nr || check_add_overflow(sum, ext[i].nr, &sum))
			return -EINVAL;
	}
	if (sum != n->nr_folios)
		return -EINVAL;

	f->folios = kvmalloc_array(max(sum, 1ULL), sizeof(*f->folios),
				   GFP_KERNEL);
	if (!f->folios)
		return -ENOMEM;

	for (i = 0; i < n->nr_extents; i++) {
		const struct hugetlb_luo_run_ser run = {
			.pfn = (u64)ext[i].pfn << n->order,
			.nr = ext[i].nr,
		};

		if (!hugetlb_luo_run_ok(&run, n->order, 0, max_pfn)) {
			*lost += ext[i].nr;
			continue;
		}
		for (k = 0; k < ext[i].nr; k++) {
			f->folios[f->nr_folios].pfn = run.pfn + (k << n->order);
			f->folios[f->nr_folios++].index =
				((u64)ext[i].index + k) << n->order;
		}
	}
	return 0;
}

/* Read the extents of file node @n into the folios of @f. */
static int __init hugetlb_luo_read_extents(const struct hugetlb_luo_in_node *n,
					   struct hugetlb_luo_in_file *f,
					   unsigned long *lost)
{
	struct hugetlb_luo_extent_ser *ext;
	int err;

	ext = hugetlb_luo_list_read(n->extents, sizeof(*ext), n->nr_extents,
				    hugetlb_luo_kho_block);
	if (IS_ERR(ext))
		return PTR_ERR(ext);

	err = hugetlb_luo_extents_to_folios(ext, n, max_pfn, f, lost);
	kvfree(ext);
	return err;
}

/*
 * Restore the pages of file @f, which must be of @order: as in use while a
 * session may retrieve the file (@keep_in_use), else as free pages.
 * Counts the in-use ones per hstate and node in @in_use. Returns how many
 * could not be restored.
 */
static unsigned long __init
hugetlb_luo_restore_file(struct hugetlb_luo_in_file *f, unsigned int order,
			 bool keep_in_use, unsigned long *in_use)
{
	unsigned long i, lost = 0;

	for (i = 0; i < f->nr_folios; i++) {
		u64 pfn = f->folios[i].pfn;
		struct folio *folio;

		folio = hugetlb_luo_restore_page(f->h, order, pfn);
		if (!folio) {
			lost++;
			continue;
		}

		hugetlb_add_restored_folio(f->h, folio, keep_in_use);
		if (!keep_in_use)
			continue;
		/* Out of memory: the page goes to the pool, the file fails. */
		if (xa_err(xa_store(&hugetlb_luo_in_use, pfn, folio,
				    GFP_KERNEL))) {
			folio_put(folio);
			lost++;
			continue;
		}
		in_use[hstate_index(f->h) * nr_node_ids + folio_nid(folio)]++;
		cond_resched();
	}
	return lost;
}

/*
 * Whether the folios of @f, of @order, are at aligned, ascending indexes
 * inside the file. Names the first that is not.
 */
static bool __init hugetlb_luo_folios_ok(u64 id,
					 const struct hugetlb_luo_in_file *f,
					 unsigned int order)
{
	u64 end = f->size >> PAGE_SHIFT;
	unsigned long i;

	for (i = 0; i < f->nr_folios; i++) {
		u64 index = f->folios[i].index;

		if (IS_ALIGNED(index, 1UL << order) && index < end &&
		    (!i || index > f->folios[i - 1].index))
			continue;
		pr_warn("file %llu: invalid folio %lu (pfn %#llx index %#llx)\n",
			id, i, f->folios[i].pfn, index);
		return false;
	}
	return true;
}

/*
 * Read the record of file @id at @off, restore its pages and keep the
 * record for retrieve. A record that cannot be used makes retrieve fail;
 * its pages go back to the pool when the session is finished.
 */
static void __init hugetlb_luo_read_file(const void *fdt, int off, u64 id,
					 bool keep_in_use,
					 unsigned long *in_use)
{
	struct hugetlb_luo_in_file *f;
	struct hugetlb_luo_in_node n;
	unsigned long lost = 0;
	void *list;
	int err;

	f = kzalloc_obj(*f);
	if (!f) {
		pr_warn("file %llu: out of memory, its pages stay reserved\n",
			id);
		return;
	}

	err = hugetlb_luo_read_file_node(fdt, off, f, &n);
	if (!err)
		err = hugetlb_luo_read_extents(&n, f, &lost);
	if (err) {
		pr_warn("file %llu: %s, its pages stay reserved\n", id,
			err == -ENOMEM ? "out of memory" : "malformed record");
		kfree(f);
		return;
	}

	f->h = hugetlb_luo_order_hstate(n.order);
	lost += hugetlb_luo_restore_file(f, n.order, keep_in_use && f->h,
					 in_use);
	if (lost)
		pr_warn("file %llu: %lu of %llu pages unusable\n", id, lost,
			n.nr_folios);
	if (!keep_in_use) {
		kvfree(f->folios);
		kfree(f);
		return;
	}

	list = hugetlb_luo_list_read(n.ranges, sizeof(*f->ranges),
				     f->nr_ranges, hugetlb_luo_kho_block);
	if (IS_ERR(list)) {
		f->nr_ranges = 0;
		f->err = -EINVAL;
	} else {
		f->ranges = list;
	}

	if (!f->h) {
		pr_warn("file %llu: no hstate of order %u\n", id, n.order);
		f->err = -EOPNOTSUPP;
	} else if (!f->err && !lost && hugetlb_luo_folios_ok(id, f, n.order)) {
		f->resv = hugetlb_luo_count_reserved(f, n.order);
		if (f->resv < 0)
			f->err = -EINVAL;
	} else {
		f->err = -EINVAL;
	}
	if (f->err == -EINVAL)
		pr_warn("file %llu: malformed record\n", id);
	f->resv = max(f->resv, 0L);

	if (xa_err(xa_store(&hugetlb_luo_in_files, id, f, GFP_KERNEL))) {
		/* Its pages stay in use until the session is finished. */
		pr_warn("file %llu: out of memory, it cannot be retrieved\n", id);
		f->resv = 0;
		hugetlb_luo_in_file_free(f);
	}
}

/*
 * Reserve the pages that file record @f had reserved, so that they are still
 * there when it is retrieved, which fails if it cannot get them then.
 */
static void __init hugetlb_luo_reserve_file(u64 id,
					    struct hugetlb_luo_in_file *f)
{
	if (f->err || !f->resv)
		return;

	if (hugetlb_reserve_restored(f->h, f->resv)) {
		pr_warn("file %llu: %ld reserved pages not available at boot\n",
			id, f->resv);
		return;
	}
	f->nr_resv = f->resv;
}

/**
 * hugetlb_luo_restore_pools - add the pages handed over by KHO to the pools
 *
 * Called from hugetlb_init() once the hstates exist and the boot-time pages
 * are allocated. Pages of preserved files are accounted as in use until the
 * file is retrieved or finished; free pages go to the free lists.
 */
void __init hugetlb_luo_restore_pools(void)
{
	/* Without LUO no file can claim its pages: they are all free. */
	bool keep_in_use = liveupdate_enabled();
	ktime_t start = ktime_get();
	struct hugetlb_luo_in_file *f;
	unsigned long *in_use;
	const void *fdt;
	unsigned long id;
	int off;

	fdt = hugetlb_luo_in_fdt();
	if (!fdt) {
		if (hugetlb_luo_boot_counted)
			pr_warn("KHO dropped the hand-over after %lu of its huge pages counted towards hugepages=: the pools are smaller by that\n",
				hugetlb_luo_boot_counted);
		return;
	}

	in_use = hugetlb_luo_in_use_nr;
	fdt_for_each_subnode(off, fdt, 0) {
		const char *name = fdt_get_name(fdt, off, NULL);
		u64 fid;

		if (name && sscanf(name, HUGETLB_LUO_FILE_NODE, &fid) == 1)
			hugetlb_luo_read_file(fdt, off, fid, keep_in_use,
					      in_use);
	}

	fdt_for_each_subnode(off, fdt, 0) {
		const char *name = fdt_get_name(fdt, off, NULL);

		if (name && !strncmp(name, "hstate-", 7))
			hugetlb_luo_restore_hstate(fdt, off, in_use);
	}

	/* Then the reservations of the files, from the pool just restored. */
	xa_for_each(&hugetlb_luo_in_files, id, f)
		hugetlb_luo_reserve_file(id, f);

	/* Boot waits for it, as for the allocation of hugepages=. */
	pr_info("restored the hand-over data in %lld ms\n",
		ktime_ms_delta(ktime_get(), start));
}

#ifdef CONFIG_LIVEUPDATE_HUGETLB_KUNIT_TEST
#include "tests/hugetlb_luo_kunit.h"
#endif
