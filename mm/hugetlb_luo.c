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
 * Right before the kexec, the free lists of all hstates are recorded and
 * their pages preserved with KHO: when the first preserved hugetlbfs file is
 * frozen, or from liveupdate_reboot() when no hugetlb file is preserved,
 * since the pools are worth keeping on their own. The next kernel reads the
 * page counts very early, where the boot-time allocation of huge pages is
 * sized, and subtracts them: ``hugepages=N`` keeps meaning "N pages in the
 * pool", preserved pages included. Once the page allocator is up,
 * hugetlb_init() restores the preserved pages, checks each one (alignment,
 * order of a registered hstate, node) and puts it on the free list of its
 * hstate. A page that does not pass the checks is given
 * back to the page allocator with one warning per pool.
 *
 * Pages that back a preserved file are counted as in use (``nr_hugepages``
 * but not ``free_hugepages``) from boot until the file is retrieved, and go
 * to the free list when the session is finished without retrieving them.
 *
 * Preserved File Properties
 * =========================
 *
 * File Contents
 *   All data stored in the file is preserved. Holes are filled with zeroed
 *   huge pages at preservation, like memfd does.
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
 * ``FD_CLOEXEC``, reservations of existing mappings (the new file has none;
 * its pages are already instantiated so mapping them needs no reservation),
 * hugetlb cgroup and memcg charges (the folios come back uncharged), and the
 * hugetlbfs mount: the file is re-created on the internal mount, so files of
 * a mounted hugetlbfs with a size limit are refused.
 */

#define pr_fmt(fmt) "hugetlb_luo: " fmt

#include <linux/err.h>
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/hugetlb.h>
#include <linux/libfdt.h>
#include <linux/liveupdate.h>
#include <linux/memblock.h>
#include <linux/memfd.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <uapi/linux/memfd.h>

#include "hugetlb_internal.h"
#include "internal.h"

/* Room for one node per hstate and NUMA node with preserved pages. */
#define HUGETLB_LUO_FDT_SIZE	SZ_16K

/**
 * struct hugetlb_luo_file - Outgoing runtime state of a preserved file.
 * @list:       Link in &hugetlb_luo_out.files.
 * @ser:        The preserved file description.
 * @folios_ser: The preserved folio array of @ser.
 * @folios:     The pinned folios of the file.
 * @nr_folios:  Number of entries in @folios and @folios_ser.
 */
struct hugetlb_luo_file {
	struct list_head list;
	struct hugetlb_luo_file_ser *ser;
	struct hugetlb_luo_folio_ser *folios_ser;
	struct folio **folios;
	unsigned long nr_folios;
};

/**
 * struct hugetlb_luo_pool - Outgoing snapshot of one hstate on one node.
 * @ser:  Counts and PFN array descriptor, copied into the FDT.
 * @pfns: The PFN array (vmalloc, preserved).
 */
struct hugetlb_luo_pool {
	struct hugetlb_luo_pool_ser ser;
	u64 *pfns;
};

/**
 * struct hugetlb_luo_out - Outgoing state, live while files are preserved.
 * @lock:      Protects all fields.
 * @files:     Preserved files (&struct hugetlb_luo_file).
 * @fdt:       The preserved "hugetlb" subtree.
 * @pools:     Snapshot, hugetlb_max_hstate * nr_node_ids entries, or NULL.
 * @nr_frozen: Number of frozen files; the snapshot exists while non-zero.
 */
struct hugetlb_luo_out {
	struct mutex lock;	/* protects the fields below */
	struct list_head files;
	void *fdt;
	struct hugetlb_luo_pool *pools;
	unsigned int nr_frozen;
};

static struct hugetlb_luo_out hugetlb_luo_out = {
	.lock = __MUTEX_INITIALIZER(hugetlb_luo_out.lock),
	.files = LIST_HEAD_INIT(hugetlb_luo_out.files),
};

/*
 * Incoming: PFN -> folio of every restored page that a preserved file still
 * owns. Retrieve and finish take folios out; the FLB finish frees leftovers.
 */
static DEFINE_XARRAY(hugetlb_luo_in_use);

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

/* Write the "hstate-<order>" node of @h, if it has any preserved page. */
static int hugetlb_luo_fdt_write_hstate(void *fdt, struct hstate *h,
					struct hugetlb_luo_pool *pools)
{
	unsigned int order = huge_page_order(h);
	bool open = false;
	char name[32];
	int err = 0, nid;

	for_each_node_state(nid, N_MEMORY) {
		struct hugetlb_luo_pool *pool = hugetlb_luo_pool_of(pools, h, nid);

		if (!pool->ser.nr_free && !pool->ser.nr_in_use)
			continue;

		if (!open) {
			snprintf(name, sizeof(name), "hstate-%u", order);
			err |= fdt_begin_node(fdt, name);
			err |= fdt_property_u32(fdt, HUGETLB_LUO_ORDER_PROP, order);
			open = true;
		}

		snprintf(name, sizeof(name), "node-%d", nid);
		err |= fdt_begin_node(fdt, name);
		err |= fdt_property_u32(fdt, HUGETLB_LUO_NID_PROP, nid);
		err |= fdt_property(fdt, HUGETLB_LUO_POOL_PROP, &pool->ser,
				    sizeof(pool->ser));
		err |= fdt_end_node(fdt);
		if (err)
			return err;
	}

	if (open)
		err = fdt_end_node(fdt);
	return err;
}

/* (Re)write the pool subtree in place; an empty one without @pools. */
static int hugetlb_luo_fdt_write(void *fdt, struct hugetlb_luo_pool *pools)
{
	struct hstate *h;
	int err;

	err = fdt_create(fdt, HUGETLB_LUO_FDT_SIZE);
	err |= fdt_finish_reservemap(fdt);
	err |= fdt_begin_node(fdt, "");
	err |= fdt_property_string(fdt, "compatible", HUGETLB_LUO_COMPATIBLE);

	if (pools) {
		for_each_hstate(h) {
			if (err)
				break;
			err = hugetlb_luo_fdt_write_hstate(fdt, h, pools);
		}
	}

	err |= fdt_end_node(fdt);
	err |= fdt_finish(fdt);

	return err ? -ENOSPC : 0;
}

/* Collect up to @max free pages of @h on @nid that KHO can preserve. */
static unsigned long hugetlb_luo_collect_free(struct hstate *h, int nid,
					      u64 *pfns, unsigned long max)
{
	unsigned long nr = 0;
	struct folio *folio;

	guard(spinlock_irq)(&hugetlb_lock);
	list_for_each_entry(folio, &h->hugepage_freelists[nid], lru) {
		if (nr == max)
			break;
		/*
		 * CMA pages stay behind: KHO scratch is CMA, and a hugetlb_cma
		 * area is re-created by the next kernel anyway.
		 */
		if (folio_test_hwpoison(folio) || folio_test_hugetlb_cma(folio) ||
		    is_migrate_cma_folio(folio, folio_pfn(folio)))
			continue;
		pfns[nr++] = folio_pfn(folio);
	}

	return nr;
}

static void hugetlb_luo_pool_drop(struct hugetlb_luo_pool *pool)
{
	u64 i;

	if (!pool->pfns)
		return;

	kho_unpreserve_vmalloc(&pool->ser.pfns);
	/* In-use pages belong to their file's preservation. */
	for (i = 0; i < pool->ser.nr_free; i++)
		kho_unpreserve_folio(pfn_folio(pool->pfns[i]));
	vfree(pool->pfns);
	memset(pool, 0, sizeof(*pool));
}

static int hugetlb_luo_pool_snap(struct hugetlb_luo_out *out, struct hstate *h,
				 int nid, struct hugetlb_luo_pool *pool)
{
	unsigned long max_free, nr_free, nr_in_use = 0, i;
	struct hugetlb_luo_file *hf;
	int err;

	list_for_each_entry(hf, &out->files, list) {
		for (i = 0; i < hf->nr_folios; i++) {
			struct folio *folio = hf->folios[i];

			if (folio_hstate(folio) == h && folio_nid(folio) == nid)
				nr_in_use++;
		}
	}

	max_free = READ_ONCE(h->free_huge_pages_node[nid]);
	if (!max_free && !nr_in_use)
		return 0;

	pool->pfns = vcalloc(max_free + nr_in_use, sizeof(*pool->pfns));
	if (!pool->pfns)
		return -ENOMEM;

	nr_free = hugetlb_luo_collect_free(h, nid, pool->pfns, max_free);
	for (i = 0; i < nr_free; i++) {
		err = kho_preserve_folio(pfn_folio(pool->pfns[i]));
		if (err)
			goto err_unpreserve;
	}

	list_for_each_entry(hf, &out->files, list) {
		unsigned long j;

		for (j = 0; j < hf->nr_folios; j++) {
			struct folio *folio = hf->folios[j];

			if (folio_hstate(folio) == h && folio_nid(folio) == nid)
				pool->pfns[i++] = folio_pfn(folio);
		}
	}

	err = kho_preserve_vmalloc(pool->pfns, &pool->ser.pfns);
	if (err) {
		i = nr_free;
		goto err_unpreserve;
	}

	pool->ser.nr_free = nr_free;
	pool->ser.nr_in_use = nr_in_use;
	return 0;

err_unpreserve:
	/* @i counts the free pages preserved so far. */
	while (i--)
		kho_unpreserve_folio(pfn_folio(pool->pfns[i]));
	vfree(pool->pfns);
	pool->pfns = NULL;
	return err;
}

static void hugetlb_luo_snapshot_drop(struct hugetlb_luo_out *out)
{
	unsigned int i;

	if (!out->pools)
		return;

	/* Leave a valid, empty tree behind for an aborted update. */
	WARN_ON(hugetlb_luo_fdt_write(out->fdt, NULL));

	for (i = 0; i < hugetlb_max_hstate * nr_node_ids; i++)
		hugetlb_luo_pool_drop(&out->pools[i]);
	kvfree(out->pools);
	out->pools = NULL;
}

/*
 * Record and preserve the free lists of all hstates. Runs when the first file
 * is frozen, right before the kexec, so that the snapshot is as fresh as it
 * can be. Pages that leave the free list after this point are still handed
 * over as free pages: the next kernel does not care about their contents.
 */
static int hugetlb_luo_snapshot(struct hugetlb_luo_out *out)
{
	struct hstate *h;
	int err, nid;

	lockdep_assert_held(&out->lock);

	out->pools = kvcalloc(hugetlb_max_hstate * nr_node_ids,
			      sizeof(*out->pools), GFP_KERNEL);
	if (!out->pools)
		return -ENOMEM;

	for_each_hstate(h) {
		for_each_node_state(nid, N_MEMORY) {
			struct hugetlb_luo_pool *pool;

			pool = hugetlb_luo_pool_of(out->pools, h, nid);
			err = hugetlb_luo_pool_snap(out, h, nid, pool);
			if (err)
				goto err_drop;
		}
	}

	err = hugetlb_luo_fdt_write(out->fdt, out->pools);
	if (err)
		goto err_drop;

	return 0;

err_drop:
	pr_err("failed to preserve the huge page pools: %pe\n", ERR_PTR(err));
	hugetlb_luo_snapshot_drop(out);
	return err;
}

static int hugetlb_luo_flb_preserve(struct liveupdate_flb_op_args *argp)
{
	struct hugetlb_luo_out *out = &hugetlb_luo_out;
	void *fdt;
	int err;

	fdt = kho_alloc_preserve(HUGETLB_LUO_FDT_SIZE);
	if (IS_ERR(fdt))
		return PTR_ERR(fdt);

	/* An empty tree until the snapshot at freeze time fills it. */
	err = hugetlb_luo_fdt_write(fdt, NULL);
	if (err)
		goto err_free;

	err = kho_add_subtree(HUGETLB_LUO_FDT_NAME, fdt, HUGETLB_LUO_FDT_SIZE);
	if (err)
		goto err_free;

	scoped_guard(mutex, &out->lock)
		out->fdt = fdt;

	argp->obj = out;
	argp->data = virt_to_phys(fdt);
	return 0;

err_free:
	kho_unpreserve_free(fdt);
	return err;
}

static void hugetlb_luo_flb_unpreserve(struct liveupdate_flb_op_args *argp)
{
	struct hugetlb_luo_out *out = argp->obj;

	guard(mutex)(&out->lock);
	hugetlb_luo_snapshot_drop(out);
	kho_remove_subtree(out->fdt);
	kho_unpreserve_free(out->fdt);
	out->fdt = NULL;
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
	unsigned long pfn, nr = 0;
	struct folio *folio;

	/* Pages of files that no session knew about go back to the pool. */
	xa_for_each(xa, pfn, folio) {
		xa_erase(xa, pfn);
		folio_put(folio);
		nr++;
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
	.compatible = HUGETLB_LUO_FLB_COMPATIBLE,
};

static void hugetlb_luo_unpreserve_folios(struct hugetlb_luo_file *hf)
{
	unsigned long i;

	if (!hf->nr_folios)
		return;

	kho_unpreserve_vmalloc(&hf->ser->folios);
	for (i = 0; i < hf->nr_folios; i++)
		kho_unpreserve_folio(hf->folios[i]);
	unpin_folios(hf->folios, hf->nr_folios);
	vfree(hf->folios_ser);
	kvfree(hf->folios);
}

static int hugetlb_luo_preserve_folios(struct file *file, struct hstate *h,
				       struct hugetlb_luo_file *hf)
{
	loff_t size = i_size_read(file_inode(file));
	unsigned long max_folios = size >> huge_page_shift(h);
	long i, nr_pinned;
	pgoff_t offset;
	int err;

	if (!size)
		return 0;

	hf->folios = kvmalloc_objs(*hf->folios, max_folios);
	if (!hf->folios)
		return -ENOMEM;

	/*
	 * Pinning fills the holes, so the file has no page left to fault in
	 * and its layout cannot change, and migrates folios out of CMA, which
	 * covers the KHO scratch areas.
	 */
	nr_pinned = memfd_pin_folios(file, 0, size - 1, hf->folios, max_folios,
				     &offset);
	if (nr_pinned < 0) {
		err = nr_pinned;
		goto err_free_folios;
	}
	hf->nr_folios = nr_pinned;

	hf->folios_ser = vcalloc(hf->nr_folios, sizeof(*hf->folios_ser));
	if (!hf->folios_ser) {
		err = -ENOMEM;
		goto err_unpin;
	}

	for (i = 0; i < hf->nr_folios; i++) {
		struct folio *folio = hf->folios[i];

		err = kho_preserve_folio(folio);
		if (err)
			goto err_unpreserve;

		hf->folios_ser[i].pfn = folio_pfn(folio);
		hf->folios_ser[i].index = folio->index;
	}

	err = kho_preserve_vmalloc(hf->folios_ser, &hf->ser->folios);
	if (err)
		goto err_unpreserve;

	hf->ser->nr_folios = hf->nr_folios;
	return 0;

err_unpreserve:
	while (i--)
		kho_unpreserve_folio(hf->folios[i]);
	vfree(hf->folios_ser);
err_unpin:
	unpin_folios(hf->folios, hf->nr_folios);
err_free_folios:
	kvfree(hf->folios);
	hf->nr_folios = 0;
	return err;
}

static int hugetlb_luo_preserve(struct liveupdate_file_op_args *args)
{
	struct inode *inode = file_inode(args->file);
	struct hstate *h = hstate_inode(inode);
	struct hugetlb_luo_out *out;
	struct hugetlb_luo_file *hf;
	int err, seals;

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
		err = -EOPNOTSUPP;
		goto err_unlock;
	}

	hf->ser = kho_alloc_preserve(sizeof(*hf->ser));
	if (IS_ERR(hf->ser)) {
		err = PTR_ERR(hf->ser);
		goto err_unlock;
	}

	hf->ser->pos = args->file->f_pos;
	hf->ser->size = i_size_read(inode);
	hf->ser->seals = seals;
	hf->ser->order = huge_page_order(h);

	err = hugetlb_luo_preserve_folios(args->file, h, hf);
	if (err)
		goto err_free_ser;

	hugetlbfs_luo_freeze(inode, true);
	inode_unlock(inode);

	scoped_guard(mutex, &out->lock)
		list_add_tail(&hf->list, &out->files);
	liveupdate_flb_put_outgoing(&hugetlb_luo_flb);

	args->private_data = hf;
	args->serialized_data = virt_to_phys(hf->ser);
	return 0;

err_free_ser:
	kho_unpreserve_free(hf->ser);
err_unlock:
	inode_unlock(inode);
	kfree(hf);
err_put_flb:
	liveupdate_flb_put_outgoing(&hugetlb_luo_flb);
	return err;
}

static int hugetlb_luo_freeze(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_file *hf = args->private_data;
	struct hugetlb_luo_out *out = &hugetlb_luo_out;
	int err;

	/* The position may have moved since preserve; nothing else can. */
	hf->ser->pos = args->file->f_pos;

	guard(mutex)(&out->lock);
	if (out->nr_frozen++)
		return 0;

	err = hugetlb_luo_snapshot(out);
	if (err)
		out->nr_frozen--;
	return err;
}

static void hugetlb_luo_unfreeze(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_out *out = &hugetlb_luo_out;

	guard(mutex)(&out->lock);
	if (!WARN_ON_ONCE(!out->nr_frozen) && !--out->nr_frozen)
		hugetlb_luo_snapshot_drop(out);
}

static void hugetlb_luo_unpreserve(struct liveupdate_file_op_args *args)
{
	struct inode *inode = file_inode(args->file);
	struct hugetlb_luo_file *hf = args->private_data;
	struct hugetlb_luo_out *out = &hugetlb_luo_out;

	scoped_guard(mutex, &out->lock)
		list_del(&hf->list);

	inode_lock(inode);
	hugetlbfs_luo_freeze(inode, false);
	hugetlb_luo_unpreserve_folios(hf);
	kho_unpreserve_free(hf->ser);
	inode_unlock(inode);
	kfree(hf);
}

/* Take ownership of a restored in-use folio, if it is one. */
static struct folio *hugetlb_luo_claim(u64 pfn)
{
	return xa_erase(&hugetlb_luo_in_use, pfn);
}

static void hugetlb_luo_discard_folios(const struct hugetlb_luo_folio_ser *folios_ser,
				       u64 nr_folios)
{
	struct folio *folio;
	u64 i;

	for (i = 0; i < nr_folios; i++) {
		folio = hugetlb_luo_claim(folios_ser[i].pfn);
		if (folio)
			folio_put(folio);
	}
}

static void hugetlb_luo_finish(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_folio_ser *folios_ser;
	struct hugetlb_luo_file_ser *ser;

	/* Retrieve owns the folios (or already released them on failure). */
	if (args->retrieve_status)
		return;

	ser = phys_to_virt(args->serialized_data);
	if (ser->nr_folios) {
		folios_ser = kho_restore_vmalloc(&ser->folios);
		if (folios_ser) {
			hugetlb_luo_discard_folios(folios_ser, ser->nr_folios);
			vfree(folios_ser);
		}
	}
	kho_restore_free(ser);
}

static int hugetlb_luo_retrieve_folios(struct file *file, struct hstate *h,
				       const struct hugetlb_luo_folio_ser *folios_ser,
				       u64 nr_folios)
{
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	pgoff_t end = i_size_read(inode) >> PAGE_SHIFT;
	unsigned int order = huge_page_order(h);
	struct folio *folio;
	int err = 0;
	u64 i;

	for (i = 0; i < nr_folios; i++) {
		pgoff_t index = folios_ser[i].index;

		folio = hugetlb_luo_claim(folios_ser[i].pfn);
		if (!folio || folio_hstate(folio) != h ||
		    !IS_ALIGNED(index, 1UL << order) || index >= end) {
			pr_err("invalid folio %llu (pfn %#llx index %#lx)\n",
			       i, folios_ser[i].pfn, index);
			err = -EINVAL;
			goto err_put;
		}

		hugetlb_set_folio_subpool(folio, subpool_inode(inode));
		folio_mark_uptodate(folio);
		err = hugetlb_add_restored_to_page_cache(folio, mapping,
							 index >> order);
		if (err)
			goto err_put;

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

static int hugetlb_luo_retrieve(struct liveupdate_file_op_args *args)
{
	struct hugetlb_luo_folio_ser *folios_ser;
	struct hugetlb_luo_file_ser *ser;
	unsigned int flags;
	struct inode *inode;
	struct file *file;
	struct hstate *h;
	int err = 0;

	ser = phys_to_virt(args->serialized_data);

	h = hugetlb_luo_order_hstate(ser->order);
	if (!h || ser->seals & ~HUGETLB_LUO_ALL_SEALS ||
	    ser->size & ~huge_page_mask(h)) {
		err = -EOPNOTSUPP;
		goto err_free_ser;
	}

	flags = MFD_HUGETLB | MFD_ALLOW_SEALING |
		(huge_page_shift(h) << MFD_HUGE_SHIFT);
	file = memfd_alloc_file("", flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto err_free_ser;
	}
	inode = file_inode(file);

	vfs_setpos(file, ser->pos, MAX_LFS_FILESIZE);

	inode_lock(inode);
	i_size_write(inode, ser->size);
	if (ser->nr_folios) {
		folios_ser = kho_restore_vmalloc(&ser->folios);
		if (!folios_ser) {
			inode_unlock(inode);
			err = -EINVAL;
			goto err_put_file;
		}
		err = hugetlb_luo_retrieve_folios(file, h, folios_ser,
						  ser->nr_folios);
		vfree(folios_ser);
	}
	inode_unlock(inode);
	if (err)
		goto err_put_file;

	/* Last, so that no seal gets in the way of the restore. */
	err = memfd_add_seals(file, ser->seals);
	if (err)
		goto err_put_file;

	args->file = file;
	kho_restore_free(ser);
	return 0;

err_put_file:
	fput(file);
err_free_ser:
	pr_err("failed to retrieve file: %pe\n", ERR_PTR(err));
	kho_restore_free(ser);
	return err;
}

static bool hugetlb_luo_can_preserve(struct liveupdate_file_handler *handler,
				     struct file *file)
{
	struct inode *inode = file_inode(file);

	/*
	 * Only unlinked hugetlbfs files on a mount without limits (memfd) for
	 * now. A SysV shm segment is hugepage-backed too, but its file has
	 * its own file operations.
	 */
	return is_file_hugepages(file) && file->f_op == inode->i_fop &&
	       !inode->i_nlink && !subpool_inode(inode);
}

static unsigned long hugetlb_luo_get_id(struct file *file)
{
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

/**
 * hugetlb_luo_reboot() - Hand the pools over when no hugetlb file does.
 *
 * Called by liveupdate_reboot() before the sessions are frozen. The pools
 * are global state: a live update hands them over whether or not a hugetlb
 * file is preserved. When one is, its FLB owns the subtree and the freeze
 * of the first file takes the snapshot; otherwise the subtree is made and
 * filled here.
 *
 * Return: 0 on success, or a negative errno, which stops the kexec.
 */
int hugetlb_luo_reboot(void)
{
	struct hugetlb_luo_out *out = &hugetlb_luo_out;
	void *fdt;
	int err;

	guard(mutex)(&out->lock);
	if (out->fdt)
		return 0;

	fdt = kho_alloc_preserve(HUGETLB_LUO_FDT_SIZE);
	if (IS_ERR(fdt)) {
		err = PTR_ERR(fdt);
		goto err_out;
	}
	out->fdt = fdt;

	err = hugetlb_luo_snapshot(out);
	if (err)
		goto err_free;

	err = kho_add_subtree(HUGETLB_LUO_FDT_NAME, fdt, HUGETLB_LUO_FDT_SIZE);
	if (err)
		goto err_drop;
	return 0;

err_drop:
	hugetlb_luo_snapshot_drop(out);
err_free:
	out->fdt = NULL;
	kho_unpreserve_free(fdt);
err_out:
	pr_err("failed to hand over the huge page pools: %pe\n", ERR_PTR(err));
	return err;
}

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

static phys_addr_t hugetlb_luo_in_phys __initdata;
static bool hugetlb_luo_in_checked __initdata;

/* The incoming pool subtree, or NULL. Usable before the buddy allocator. */
static const void *__init hugetlb_luo_in_fdt(void)
{
	phys_addr_t phys;
	int err;

	if (hugetlb_luo_in_checked)
		goto out;
	hugetlb_luo_in_checked = true;

	err = kho_retrieve_subtree(HUGETLB_LUO_FDT_NAME, &phys, NULL);
	if (err) {
		if (err != -ENOENT && err != -EOPNOTSUPP)
			pr_warn("cannot retrieve the pool subtree: %d\n", err);
		return NULL;
	}

	if (fdt_node_check_compatible(phys_to_virt(phys), 0,
				      HUGETLB_LUO_COMPATIBLE)) {
		pr_warn("pool subtree is not %s, ignoring it\n",
			HUGETLB_LUO_COMPATIBLE);
		return NULL;
	}
	hugetlb_luo_in_phys = phys;
out:
	return hugetlb_luo_in_phys ? phys_to_virt(hugetlb_luo_in_phys) : NULL;
}

/*
 * Copy one pool node out of the FDT, where it is only 4-byte aligned. Counts
 * are bounded by the memory that could hold them, so a corrupt tree cannot
 * make boot subtract (or restore) absurd numbers.
 */
static int __init hugetlb_luo_read_pool(const void *fdt, int off,
					unsigned int order, int *nidp,
					struct hugetlb_luo_pool_ser *pool)
{
	const fdt32_t *nidprop;
	const void *prop;
	u64 nr, max;
	int len;

	nidprop = fdt_getprop(fdt, off, HUGETLB_LUO_NID_PROP, &len);
	if (!nidprop || len != sizeof(*nidprop))
		return -EINVAL;
	prop = fdt_getprop(fdt, off, HUGETLB_LUO_POOL_PROP, &len);
	if (!prop || len != sizeof(*pool))
		return -EINVAL;
	memcpy(pool, prop, sizeof(*pool));

	*nidp = fdt32_to_cpu(*nidprop);
	if (*nidp < 0 || *nidp >= MAX_NUMNODES)
		return -EINVAL;

	max = memblock_phys_mem_size() >> (order + PAGE_SHIFT);
	nr = pool->nr_free + pool->nr_in_use;
	if (nr < pool->nr_free || nr > max)
		return -EINVAL;

	return 0;
}

static int __init hugetlb_luo_node_order(const void *fdt, int hoff,
					 unsigned int *order)
{
	const fdt32_t *prop;
	int len;

	prop = fdt_getprop(fdt, hoff, HUGETLB_LUO_ORDER_PROP, &len);
	if (!prop || len != sizeof(*prop))
		return -EINVAL;
	*order = fdt32_to_cpu(*prop);
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

	snprintf(name, sizeof(name), "hstate-%u", order);
	hoff = fdt_subnode_offset(fdt, 0, name);
	if (hoff < 0 || hugetlb_luo_node_order(fdt, hoff, &prop_order) ||
	    prop_order != order)
		return;

	fdt_for_each_subnode(noff, fdt, hoff) {
		struct hugetlb_luo_pool_ser pool;
		unsigned long nr;
		int nid;

		if (hugetlb_luo_read_pool(fdt, noff, order, &nid, &pool))
			continue;

		nr = pool.nr_free + pool.nr_in_use;
		h->max_huge_pages_node[nid] -= min(nr, h->max_huge_pages_node[nid]);
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

static struct folio *__init hugetlb_luo_restore_page(struct hstate *h,
						      unsigned int order,
						      int nid, u64 pfn)
{
	struct folio *folio;

	/* kho_restore_folio() WARNs on unaligned or foreign PFNs. */
	if (!IS_ALIGNED(pfn, 1UL << order) || !pfn_to_online_page(pfn))
		return NULL;

	folio = kho_restore_folio(PFN_PHYS(pfn));
	if (!folio)
		return NULL;

	if (!h || folio_order(folio) != order || folio_nid(folio) != nid) {
		hugetlb_luo_give_back(folio);
		return NULL;
	}

	if (WARN_ON_ONCE(!folio_ref_freeze(folio, 1)))
		return NULL;

	return folio;
}

static unsigned long __init
hugetlb_luo_restore_pool(struct hstate *h, unsigned int order, int nid,
			 const struct hugetlb_luo_pool_ser *pool, bool keep_in_use)
{
	unsigned long nr = pool->nr_free + pool->nr_in_use;
	unsigned long i, restored = 0;
	u64 *pfns;

	if (pool->pfns.total_pages < DIV_ROUND_UP(nr * sizeof(u64), PAGE_SIZE))
		goto out;

	pfns = kho_restore_vmalloc(&pool->pfns);
	if (!pfns)
		goto out;

	for (i = 0; i < nr; i++) {
		bool in_use = keep_in_use && i >= pool->nr_free;
		struct folio *folio;

		folio = hugetlb_luo_restore_page(h, order, nid, pfns[i]);
		if (!folio)
			continue;

		hugetlb_add_restored_folio(h, folio, in_use);
		restored++;

		if (in_use && xa_err(xa_store(&hugetlb_luo_in_use, pfns[i],
					      folio, GFP_KERNEL)))
			folio_put(folio);
	}
	vfree(pfns);

out:
	if (restored != nr)
		pr_warn("order %u node %d: %lu of %lu preserved pages unusable, not added to the pool\n",
			order, nid, nr - restored, nr);
	return restored;
}

static void __init hugetlb_luo_restore_hstate(const void *fdt, int hoff,
					      bool keep_in_use)
{
	struct hugetlb_luo_pool_ser pool;
	unsigned long restored;
	unsigned int order;
	struct hstate *h;
	int noff, nid;

	if (hugetlb_luo_node_order(fdt, hoff, &order)) {
		pr_warn("malformed hstate node, its pages are lost\n");
		return;
	}

	/* With no hstate of this order every page goes back. */
	h = hugetlb_luo_order_hstate(order);

	fdt_for_each_subnode(noff, fdt, hoff) {
		if (hugetlb_luo_read_pool(fdt, noff, order, &nid, &pool)) {
			pr_warn("order %u: malformed pool node, its pages are lost\n",
				order);
			continue;
		}

		restored = hugetlb_luo_restore_pool(h, order, nid, &pool,
						    keep_in_use);
		if (h)
			pr_info("order %u node %d: restored %lu preserved pages\n",
				order, nid, restored);
	}
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

	fdt_for_each_subnode(hoff, fdt, 0)
		hugetlb_luo_restore_hstate(fdt, hoff, keep_in_use);
}
