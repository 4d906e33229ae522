/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the parsing and validation of the HugeTLB live update
 * data, fed with crafted trees, lists and entries. Included at the end of
 * mm/hugetlb_luo.c, whose static functions they call.
 */

#include <kunit/test.h>

/* 2 MiB pages, and a memory size that allows 10^6 of them. */
#define HLU_T_ORDER	9
#define HLU_T_STEP	BIT_ULL(HLU_T_ORDER)
#define HLU_T_MAX_PFN	BIT_ULL(40)
#define HLU_T_MILLION	1000000UL

/* A property of a crafted node: a u32 or a u64. */
struct hlu_t_prop {
	const char *name;
	u64 val;
	bool is_u32;
};

/*
 * Write into @buf a tree of version @compat with one node @name holding
 * @props (none if @name is NULL). Returns the offset of that node.
 */
static int hlu_t_tree(struct kunit *test, void *buf, const char *compat,
		      const char *name, const struct hlu_t_prop *props,
		      int nr)
{
	int err, off, i;

	err = fdt_create(buf, PAGE_SIZE);
	err |= fdt_finish_reservemap(buf);
	err |= fdt_begin_node(buf, "");
	err |= fdt_property_string(buf, "compatible", compat);
	if (name) {
		err |= fdt_begin_node(buf, name);
		for (i = 0; i < nr; i++) {
			if (props[i].is_u32)
				err |= fdt_property_u32(buf, props[i].name,
							props[i].val);
			else
				err |= fdt_property_u64(buf, props[i].name,
							props[i].val);
		}
		err |= fdt_end_node(buf);
	}
	err |= fdt_end_node(buf);
	err |= fdt_finish(buf);
	KUNIT_ASSERT_EQ(test, err, 0);

	off = name ? fdt_subnode_offset(buf, 0, name) : 0;
	KUNIT_ASSERT_GE(test, off, 0);
	return off;
}

static void *hlu_t_buf(struct kunit *test)
{
	void *buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	return buf;
}

/* The tree: this version only, and no longer than what was handed over. */
static void __init hlu_t_tree_version(struct kunit *test)
{
	void *buf = hlu_t_buf(test);

	hlu_t_tree(test, buf, HUGETLB_LUO_COMPATIBLE, NULL, NULL, 0);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_tree(buf, PAGE_SIZE), 0);
	/* Truncated: the buffer handed over is shorter than the tree. */
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_tree(buf, fdt_totalsize(buf) - 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_tree(buf, 8), -EINVAL);

	/* A tree of another version, older or newer. */
	hlu_t_tree(test, buf, "hugetlb-v2", NULL, NULL, 0);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_tree(buf, PAGE_SIZE),
			-EPROTONOSUPPORT);
	hlu_t_tree(test, buf, "hugetlb-v4", NULL, NULL, 0);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_tree(buf, PAGE_SIZE),
			-EPROTONOSUPPORT);

	memset(buf, 0, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_tree(buf, PAGE_SIZE), -EINVAL);
}

/* An hstate node of an order no huge page can have is refused. */
static void __init hlu_t_hstate_order(struct kunit *test)
{
	struct hlu_t_prop prop = { HUGETLB_LUO_ORDER_PROP, HLU_T_ORDER, true };
	void *buf = hlu_t_buf(test);
	unsigned int order;
	int off;

	off = hlu_t_tree(test, buf, HUGETLB_LUO_COMPATIBLE, "hstate-9", &prop, 1);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_node_order(buf, off, &order), 0);
	KUNIT_EXPECT_EQ(test, order, HLU_T_ORDER);

	prop.val = MAX_FOLIO_ORDER + 1;
	off = hlu_t_tree(test, buf, HUGETLB_LUO_COMPATIBLE, "hstate-9", &prop, 1);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_node_order(buf, off, &order), -EINVAL);

	off = hlu_t_tree(test, buf, HUGETLB_LUO_COMPATIBLE, "hstate-9", NULL, 0);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_node_order(buf, off, &order), -EINVAL);
}

/* The properties of a crafted pool node. */
enum {
	HLU_T_NID,
	HLU_T_SURPLUS,
	HLU_T_FREE,
	HLU_T_IN_USE,
	HLU_T_NR_RUNS,
	HLU_T_RUNS,
	HLU_T_NR_POOL
};

static const struct hlu_t_prop hlu_t_pool_props[HLU_T_NR_POOL] = {
	[HLU_T_NID]	= { HUGETLB_LUO_NID_PROP, 0, true },
	[HLU_T_SURPLUS]	= { HUGETLB_LUO_SURPLUS_PROP, 1, true },
	[HLU_T_FREE]	= { HUGETLB_LUO_NR_FREE_PROP, 8 },
	[HLU_T_IN_USE]	= { HUGETLB_LUO_NR_IN_USE_PROP, 2 },
	[HLU_T_NR_RUNS]	= { HUGETLB_LUO_NR_RUNS_PROP, 3 },
	[HLU_T_RUNS]	= { HUGETLB_LUO_RUNS_PROP, 0x1000 },
};

/* Read a pool node whose property @which is @val (or left out: @drop). */
static int __init hlu_t_pool(struct kunit *test, int which, u64 val,
			     bool drop, struct hugetlb_luo_in_pool *pool)
{
	struct hlu_t_prop props[HLU_T_NR_POOL];
	void *buf = hlu_t_buf(test);
	int off, nr = HLU_T_NR_POOL;

	memcpy(props, hlu_t_pool_props, sizeof(props));
	if (which >= 0)
		props[which].val = val;
	if (drop)
		props[which] = props[--nr];
	off = hlu_t_tree(test, buf, HUGETLB_LUO_COMPATIBLE, "node-0", props, nr);
	return hugetlb_luo_read_pool(buf, off, HLU_T_ORDER, pool);
}

/* Pool counts: bounded by memory, consistent, without overflow. */
static void __init hlu_t_pool_node(struct kunit *test)
{
	u64 max = memblock_phys_mem_size() >> (HLU_T_ORDER + PAGE_SHIFT);
	struct hugetlb_luo_in_pool pool;

	KUNIT_ASSERT_EQ(test, hlu_t_pool(test, -1, 0, false, &pool), 0);
	KUNIT_EXPECT_EQ(test, pool.nid, 0);
	KUNIT_EXPECT_EQ(test, pool.nr_free, 8);
	KUNIT_EXPECT_EQ(test, pool.nr_in_use, 2);
	KUNIT_EXPECT_EQ(test, pool.nr_surplus, 1);
	KUNIT_EXPECT_EQ(test, pool.nr_runs, 3);
	KUNIT_EXPECT_EQ(test, pool.runs, 0x1000);

	/* Beyond memory, and counts that overflow when added. */
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_FREE, max + 1, false, &pool),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_IN_USE, U64_MAX, false, &pool),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_IN_USE, max, false, &pool),
			-EINVAL);
	/* More surplus than in use, more runs than pages, no such node. */
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_SURPLUS, 3, false, &pool),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_NR_RUNS, 9, false, &pool),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_NID, MAX_NUMNODES, false,
					 &pool), -EINVAL);
	/* A property missing. */
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_RUNS, 0, true, &pool),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_pool(test, HLU_T_FREE, 0, true, &pool),
			-EINVAL);
}

/* The properties of a crafted file node. */
enum {
	HLU_T_ORD,
	HLU_T_SEALS,
	HLU_T_SIZE,
	HLU_T_POS,
	HLU_T_FOLIOS,
	HLU_T_NR_EXT,
	HLU_T_EXT,
	HLU_T_NR_RANGES,
	HLU_T_RANGES,
	HLU_T_NR_FILE
};

static const struct hlu_t_prop hlu_t_file_props[HLU_T_NR_FILE] = {
	[HLU_T_ORD]	= { HUGETLB_LUO_ORDER_PROP, HLU_T_ORDER, true },
	[HLU_T_SEALS]	= { HUGETLB_LUO_SEALS_PROP, F_SEAL_SHRINK, true },
	[HLU_T_SIZE]	= { HUGETLB_LUO_SIZE_PROP, 8 * SZ_2M },
	[HLU_T_POS]	= { HUGETLB_LUO_POS_PROP, 4099 },
	[HLU_T_FOLIOS]	= { HUGETLB_LUO_NR_FOLIOS_PROP, 3 },
	[HLU_T_NR_EXT]	= { HUGETLB_LUO_NR_EXTENTS_PROP, 2 },
	[HLU_T_EXT]	= { HUGETLB_LUO_EXTENTS_PROP, 0x2000 },
	[HLU_T_NR_RANGES] = { HUGETLB_LUO_NR_RANGES_PROP, 1 },
	[HLU_T_RANGES]	= { HUGETLB_LUO_RESERVED_PROP, 0x3000 },
};

/* Read a file node whose property @which is @val. */
static int __init hlu_t_file(struct kunit *test, int which, u64 val,
			     struct hugetlb_luo_in_node *n)
{
	struct hlu_t_prop props[HLU_T_NR_FILE];
	struct hugetlb_luo_in_file f = { };
	void *buf = hlu_t_buf(test);
	int off;

	memcpy(props, hlu_t_file_props, sizeof(props));
	if (which >= 0)
		props[which].val = val;
	off = hlu_t_tree(test, buf, HUGETLB_LUO_COMPATIBLE, "file-1", props,
			 HLU_T_NR_FILE);
	return hugetlb_luo_read_file_node(buf, off, &f, n);
}

/* File records: known order and seals, sizes and counts within limits. */
static void __init hlu_t_file_node(struct kunit *test)
{
	struct hugetlb_luo_in_node n;

	KUNIT_ASSERT_EQ(test, hlu_t_file(test, -1, 0, &n), 0);
	KUNIT_EXPECT_EQ(test, n.order, HLU_T_ORDER);
	KUNIT_EXPECT_EQ(test, n.nr_folios, 3);
	KUNIT_EXPECT_EQ(test, n.nr_extents, 2);
	KUNIT_EXPECT_EQ(test, n.extents, 0x2000);
	KUNIT_EXPECT_EQ(test, n.ranges, 0x3000);

	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_ORD, MAX_FOLIO_ORDER + 1, &n),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_SEALS, 0x1000, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_SIZE, 8 * SZ_2M + SZ_4K, &n),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_SIZE, U64_MAX & ~(SZ_2M - 1),
					 &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_POS, U64_MAX, &n), -EINVAL);
	/* More pages than the file holds, more extents than pages. */
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_FOLIOS, 9, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_NR_EXT, 4, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, hlu_t_file(test, HLU_T_NR_RANGES, 9, &n), -EINVAL);
}

/* Crafted blocks, taken at most once each, as KHO restores a page once. */
#define HLU_T_NR_BLOCKS	3
static struct folio *hlu_t_blocks[HLU_T_NR_BLOCKS] __initdata;
static bool hlu_t_taken[HLU_T_NR_BLOCKS] __initdata;

static struct folio *__init hlu_t_get_block(u64 pa)
{
	int i;

	for (i = 0; i < HLU_T_NR_BLOCKS; i++) {
		if (pa != PFN_PHYS(folio_pfn(hlu_t_blocks[i])) || hlu_t_taken[i])
			continue;
		hlu_t_taken[i] = true;
		folio_get(hlu_t_blocks[i]);
		return hlu_t_blocks[i];
	}
	return NULL;
}

static struct kho_block_header_ser *__init hlu_t_hdr(int i)
{
	return folio_address(hlu_t_blocks[i]);
}

static u64 __init hlu_t_pa(int i)
{
	return PFN_PHYS(folio_pfn(hlu_t_blocks[i]));
}

/* Chain block 0 -> 1 with @c0 and @c1 entries of runs numbered 0, 1, ... */
static void __init hlu_t_chain(u64 c0, u64 c1)
{
	struct hugetlb_luo_run_ser *run;
	u64 i, k = 0;
	int b;

	for (b = 0; b < 2; b++) {
		hlu_t_hdr(b)->count = b ? c1 : c0;
		hlu_t_hdr(b)->next = b ? 0 : hlu_t_pa(1);
		run = (void *)(hlu_t_hdr(b) + 1);
		for (i = 0; i < min(hlu_t_hdr(b)->count, 255ULL); i++, k++) {
			run[i].pfn = k;
			run[i].nr = k + 1;
		}
	}
	memset(hlu_t_taken, 0, sizeof(hlu_t_taken));
}

/* Read the list at @head, expecting @err; every block is put back after. */
static void __init hlu_t_read(struct kunit *test, u64 head, u64 nr, int err)
{
	struct hugetlb_luo_run_ser *runs;
	u64 i;
	int b;

	runs = hugetlb_luo_list_read(head, sizeof(*runs), nr, hlu_t_get_block);
	if (err) {
		KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(runs), err);
	} else {
		KUNIT_EXPECT_FALSE(test, IS_ERR(runs));
		for (i = 0; !IS_ERR_OR_NULL(runs) && i < nr; i++) {
			KUNIT_EXPECT_EQ(test, runs[i].pfn, i);
			KUNIT_EXPECT_EQ(test, runs[i].nr, i + 1);
		}
		if (!IS_ERR(runs))
			kvfree(runs);
	}
	for (b = 0; b < HLU_T_NR_BLOCKS; b++)
		KUNIT_EXPECT_EQ(test, folio_ref_count(hlu_t_blocks[b]), 1);
}

/* Block lists: the counts must add up, and no block may be bogus. */
static void __init hlu_t_list(struct kunit *test)
{
	int b;

	for (b = 0; b < HLU_T_NR_BLOCKS; b++) {
		hlu_t_blocks[b] = folio_alloc(GFP_KERNEL | __GFP_ZERO, 0);
		KUNIT_ASSERT_NOT_NULL(test, hlu_t_blocks[b]);
	}

	hlu_t_chain(255, 10);
	hlu_t_read(test, hlu_t_pa(0), 265, 0);
	/* Truncated: fewer entries than the tree says, or more. */
	hlu_t_chain(255, 10);
	hlu_t_read(test, hlu_t_pa(0), 266, -EINVAL);
	hlu_t_chain(255, 10);
	hlu_t_read(test, hlu_t_pa(0), 264, -EINVAL);
	/* A block with no entry, or more than a block holds. */
	hlu_t_chain(255, 0);
	hlu_t_read(test, hlu_t_pa(0), 255, -EINVAL);
	hlu_t_chain(256, 10);
	hlu_t_read(test, hlu_t_pa(0), 266, -EINVAL);
	/* A count that overflows the running total. */
	hlu_t_chain(255, U64_MAX);
	hlu_t_read(test, hlu_t_pa(0), 265, -EINVAL);
	/* A loop: block 1 leads back to block 0. */
	hlu_t_chain(255, 10);
	hlu_t_hdr(1)->next = hlu_t_pa(0);
	hlu_t_read(test, hlu_t_pa(0), 275, -EINVAL);
	/* A block that is not one (not preserved, unaligned, beyond memory). */
	hlu_t_chain(255, 10);
	hlu_t_hdr(0)->next = hlu_t_pa(2) + 8;
	hlu_t_read(test, hlu_t_pa(0), 265, -EINVAL);
	hlu_t_chain(255, 10);
	hlu_t_read(test, PFN_PHYS(HLU_T_MAX_PFN), 265, -EINVAL);
	/* An empty list, which must be empty. */
	hlu_t_read(test, 0, 0, 0);
	hlu_t_read(test, 0, 1, -EINVAL);

	for (b = 0; b < HLU_T_NR_BLOCKS; b++)
		folio_put(hlu_t_blocks[b]);
}

/* Check @runs against @nr_free, expecting @ret and which runs stay. */
static void __init hlu_t_runs(struct kunit *test,
			      struct hugetlb_luo_run_ser *runs, u64 nr,
			      u64 nr_free, unsigned int order, long ret,
			      unsigned long kept)
{
	u64 i;

	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_runs(runs, nr, nr_free, order,
						     HLU_T_MAX_PFN), ret);
	if (ret < 0)
		return;
	for (i = 0; i < nr; i++)
		KUNIT_EXPECT_EQ_MSG(test, !!runs[i].nr, !!(kept & BIT(i)),
				    "run %llu", i);
}

/* Runs: aligned, inside memory, ascending, not overlapping, adding up. */
static void __init hlu_t_run_checks(struct kunit *test)
{
	struct hugetlb_luo_run_ser good[] = { { 0x200, 2 }, { 0x800, 1 } };
	struct hugetlb_luo_run_ser unaligned[] = { { 0x200, 1 }, { 0x401, 1 } };
	struct hugetlb_luo_run_ser beyond[] = {
		{ HLU_T_MAX_PFN, 1 }, { HLU_T_MAX_PFN - HLU_T_STEP, 2 },
		{ 0x200, 1ULL << 40 },
	};
	struct hugetlb_luo_run_ser dup[] = { { 0x200, 1 }, { 0x200, 1 } };
	struct hugetlb_luo_run_ser overlap[] = {
		{ 0x200, 4 }, { 0x400, 1 }, { 0xa00, 1 },
	};
	struct hugetlb_luo_run_ser backwards[] = { { 0x800, 1 }, { 0x200, 1 } };
	struct hugetlb_luo_run_ser sum[] = { { 0x200, U64_MAX }, { 0x800, 2 } };
	struct hugetlb_luo_run_ser order[] = { { 0x40000, 1 }, { 0x40200, 1 } };

	hlu_t_runs(test, good, 2, 3, HLU_T_ORDER, 0, 0x3);
	hlu_t_runs(test, unaligned, 2, 2, HLU_T_ORDER, 1, 0x1);
	hlu_t_runs(test, beyond, 3, 3 + (1ULL << 40), HLU_T_ORDER,
		   3 + (1ULL << 40), 0);
	hlu_t_runs(test, dup, 2, 2, HLU_T_ORDER, 1, 0x1);
	hlu_t_runs(test, overlap, 3, 6, HLU_T_ORDER, 1, 0x5);
	hlu_t_runs(test, backwards, 2, 2, HLU_T_ORDER, 1, 0x1);
	/* Counts that overflow, or do not add up: nothing is kept. */
	hlu_t_runs(test, sum, 2, 1, HLU_T_ORDER, -EINVAL, 0);
	hlu_t_runs(test, good, 2, 4, HLU_T_ORDER, -EINVAL, 0);
	KUNIT_EXPECT_EQ(test, good[0].nr, 2);
	/* The wrong order: 2 MiB-aligned runs checked as 1 GiB pages. */
	hlu_t_runs(test, order, 2, 2, 18, 1, 0x1);
}

/* Extents: they must add up; one beyond memory loses its pages only. */
static void __init hlu_t_extents(struct kunit *test)
{
	/* In huge pages: PFNs 0x200, 0x400; 0x1000; the end of memory. */
	struct hugetlb_luo_extent_ser ext[] = {
		{ 0x1, 0, 2 }, { 0x8, 0x4, 1 },
		{ HLU_T_MAX_PFN >> HLU_T_ORDER, 0x5, 1 },
	};
	struct hugetlb_luo_in_node n = {
		.order = HLU_T_ORDER, .nr_folios = 3, .nr_extents = 2,
	};
	struct hugetlb_luo_in_file f = { };
	unsigned long lost = 0;

	KUNIT_ASSERT_EQ(test, hugetlb_luo_extents_to_folios(ext, &n, HLU_T_MAX_PFN,
							    &f, &lost), 0);
	KUNIT_EXPECT_EQ(test, f.nr_folios, 3);
	KUNIT_EXPECT_EQ(test, lost, 0);
	KUNIT_EXPECT_EQ(test, f.folios[1].pfn, 0x400);
	KUNIT_EXPECT_EQ(test, f.folios[1].index, 0x200);
	KUNIT_EXPECT_EQ(test, f.folios[2].pfn, 0x1000);
	KUNIT_EXPECT_EQ(test, f.folios[2].index, 0x800);
	kvfree(f.folios);

	memset(&f, 0, sizeof(f));
	n.nr_extents = 3;
	n.nr_folios = 4;
	KUNIT_ASSERT_EQ(test, hugetlb_luo_extents_to_folios(ext, &n, HLU_T_MAX_PFN,
							    &f, &lost), 0);
	KUNIT_EXPECT_EQ(test, f.nr_folios, 3);
	KUNIT_EXPECT_EQ(test, lost, 1);
	kvfree(f.folios);

	/* Not adding up, or an empty extent: nothing is listed. */
	memset(&f, 0, sizeof(f));
	n.nr_folios = 5;
	KUNIT_EXPECT_EQ(test, hugetlb_luo_extents_to_folios(ext, &n, HLU_T_MAX_PFN,
							    &f, &lost), -EINVAL);
	KUNIT_EXPECT_NULL(test, f.folios);
	ext[1].nr = 0;
	n.nr_folios = 3;
	KUNIT_EXPECT_EQ(test, hugetlb_luo_extents_to_folios(ext, &n, HLU_T_MAX_PFN,
							    &f, &lost), -EINVAL);
	KUNIT_EXPECT_NULL(test, f.folios);
}

/* Folio indexes and reservation ranges of a file of 8 huge pages. */
static void __init hlu_t_file_layout(struct kunit *test)
{
	struct hugetlb_luo_in_folio folios[] = {
		{ 0x200, 0 }, { 0x400, 0x200 }, { 0x600, 0xc00 },
	};
	struct hugetlb_luo_range_ser ranges[] = { { 0, 0x800 }, { 0xc00, 0x1000 } };
	struct hugetlb_luo_in_file f = {
		.size = 8 * SZ_2M, .folios = folios, .nr_folios = 3,
		.ranges = ranges, .nr_ranges = 2,
	};

	KUNIT_EXPECT_TRUE(test, hugetlb_luo_folios_ok(1, &f, HLU_T_ORDER));
	/* 6 pages reserved, 3 present: 3 reserved holes. */
	KUNIT_EXPECT_EQ(test, hugetlb_luo_count_reserved(&f, HLU_T_ORDER), 3);

	/* Unaligned, duplicate and beyond-the-file indexes. */
	folios[1].index = 0x201;
	KUNIT_EXPECT_FALSE(test, hugetlb_luo_folios_ok(1, &f, HLU_T_ORDER));
	KUNIT_EXPECT_EQ(test, hugetlb_luo_count_reserved(&f, HLU_T_ORDER), -EINVAL);
	folios[1].index = 0;
	KUNIT_EXPECT_FALSE(test, hugetlb_luo_folios_ok(1, &f, HLU_T_ORDER));
	folios[1].index = 0x200;
	folios[2].index = 0x1000;
	KUNIT_EXPECT_FALSE(test, hugetlb_luo_folios_ok(1, &f, HLU_T_ORDER));
	folios[2].index = 0xc00;

	/* Overlapping, unaligned and beyond-the-file ranges. */
	ranges[1].start = 0x600;
	KUNIT_EXPECT_EQ(test, hugetlb_luo_count_reserved(&f, HLU_T_ORDER), -EINVAL);
	ranges[1].start = 0xc01;
	KUNIT_EXPECT_EQ(test, hugetlb_luo_count_reserved(&f, HLU_T_ORDER), -EINVAL);
	ranges[1].start = 0xc00;
	ranges[1].end = 0x1200;
	KUNIT_EXPECT_EQ(test, hugetlb_luo_count_reserved(&f, HLU_T_ORDER), -EINVAL);
	ranges[1].end = 0xc00;
	KUNIT_EXPECT_EQ(test, hugetlb_luo_count_reserved(&f, HLU_T_ORDER), -EINVAL);
}

/* An outgoing block, read as the next kernel would (it holds a reference). */
static struct folio *__init hlu_t_out_block(u64 pa)
{
	struct folio *folio = virt_to_folio(phys_to_virt(pa));

	folio_get(folio);
	return folio;
}

/* Write @nr entries to a list, read them back and compare; its blocks. */
static long __init hlu_t_round_trip(struct kunit *test, const void *entries,
				    size_t size, u64 nr)
{
	struct kho_block_set bs;
	long blocks;
	void *back;

	kho_block_set_init(&bs, size);
	KUNIT_ASSERT_EQ(test, hugetlb_luo_list_write(&bs, entries, nr), 0);
	blocks = bs.nblocks;
	back = hugetlb_luo_list_read(kho_block_set_head_pa(&bs), size, nr,
				     hlu_t_out_block);
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(back));
	if (!IS_ERR_OR_NULL(back)) {
		KUNIT_EXPECT_EQ(test, memcmp(back, entries, nr * size), 0);
		kvfree(back);
	}
	kho_block_set_destroy(&bs);
	return blocks;
}

/*
 * 10^6 huge pages of 2 MiB (2 TiB): as 10^6 runs of one page, the worst
 * case of a free pool, and as 10^6 extents of a file, they serialize into
 * block lists and parse back, and what it costs is reported.
 */
static void __init hlu_t_million(struct kunit *test)
{
	struct hugetlb_luo_in_node n = {
		.order = HLU_T_ORDER, .nr_folios = HLU_T_MILLION,
		.nr_extents = HLU_T_MILLION,
	};
	struct hugetlb_luo_extent_ser *ext;
	struct hugetlb_luo_run_ser *runs;
	struct hugetlb_luo_in_file f = { };
	unsigned long lost = 0;
	u64 i, gib = (HLU_T_MILLION << (HLU_T_ORDER + PAGE_SHIFT)) >> 30;
	long blocks;

	if (!kho_is_enabled())
		kunit_skip(test, "KHO is disabled");

	runs = kvmalloc_array(HLU_T_MILLION, sizeof(*runs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, runs);
	/* Every other huge page: no two runs can merge. */
	for (i = 0; i < HLU_T_MILLION; i++) {
		runs[i].pfn = 2 * i * HLU_T_STEP;
		runs[i].nr = 1;
	}
	blocks = hlu_t_round_trip(test, runs, sizeof(*runs), HLU_T_MILLION);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_check_runs(runs, HLU_T_MILLION,
						     HLU_T_MILLION, HLU_T_ORDER,
						     HLU_T_MAX_PFN), 0);
	kunit_info(test, "pool, 10^6 runs of one 2 MiB page (%llu GiB): %ld blocks, %llu bytes per GiB\n",
		   gib, blocks, blocks * KHO_BLOCK_SIZE / gib);
	kvfree(runs);

	ext = kvmalloc_array(HLU_T_MILLION, sizeof(*ext), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ext);
	for (i = 0; i < HLU_T_MILLION; i++) {
		ext[i].pfn = 2 * i;
		ext[i].index = i;
		ext[i].nr = 1;
	}
	blocks = hlu_t_round_trip(test, ext, sizeof(*ext), HLU_T_MILLION);
	KUNIT_EXPECT_EQ(test, hugetlb_luo_extents_to_folios(ext, &n, HLU_T_MAX_PFN,
							    &f, &lost), 0);
	KUNIT_EXPECT_EQ(test, f.nr_folios, HLU_T_MILLION);
	KUNIT_EXPECT_EQ(test, lost, 0);
	f.size = HLU_T_MILLION << (HLU_T_ORDER + PAGE_SHIFT);
	KUNIT_EXPECT_TRUE(test, hugetlb_luo_folios_ok(1, &f, HLU_T_ORDER));
	kunit_info(test, "file, 10^6 extents of one 2 MiB page (%llu GiB): %ld blocks, %llu bytes per GiB\n",
		   gib, blocks, blocks * KHO_BLOCK_SIZE / gib);
	kvfree(f.folios);

	/* The same pages, contiguous: one extent. */
	ext[0].nr = HLU_T_MILLION;
	n.nr_extents = 1;
	memset(&f, 0, sizeof(f));
	KUNIT_EXPECT_EQ(test, hugetlb_luo_extents_to_folios(ext, &n, HLU_T_MAX_PFN,
							    &f, &lost), 0);
	KUNIT_EXPECT_EQ(test, f.nr_folios, HLU_T_MILLION);
	KUNIT_EXPECT_EQ(test, f.folios[HLU_T_MILLION - 1].pfn,
			(HLU_T_MILLION - 1) * HLU_T_STEP);
	blocks = hlu_t_round_trip(test, ext, sizeof(*ext), 1);
	kunit_info(test, "file, 10^6 contiguous 2 MiB pages (%llu GiB): %ld block\n",
		   gib, blocks);
	kvfree(f.folios);
	kvfree(ext);
}

static struct kunit_case hugetlb_luo_test_cases[] __initdata = {
	KUNIT_CASE(hlu_t_tree_version),
	KUNIT_CASE(hlu_t_hstate_order),
	KUNIT_CASE(hlu_t_pool_node),
	KUNIT_CASE(hlu_t_file_node),
	KUNIT_CASE(hlu_t_list),
	KUNIT_CASE(hlu_t_run_checks),
	KUNIT_CASE(hlu_t_extents),
	KUNIT_CASE(hlu_t_file_layout),
	KUNIT_CASE(hlu_t_million),
	{}
};

static struct kunit_suite hugetlb_luo_test_suite __initdata = {
	.name = "hugetlb_luo",
	.test_cases = hugetlb_luo_test_cases,
};

kunit_test_init_section_suites(&hugetlb_luo_test_suite);
