// SPDX-License-Identifier: GPL-2.0-only
/*
 * HugeTLB memfds and free hugetlb pools across a kexec live update (LUO).
 *
 * Usage: hugetlb_lu --case NAME --stage N
 *
 * Stage 1 runs before the first kexec, stage N after the (N-1)th one. A stage
 * that hands over to a next stage writes what the next one must compare
 * (pool counters, per-page hashes and PFNs of every file) into a small shmem
 * memfd, preserves it in a LUO "state" session, and leaves a daemonized child
 * holding the session fds. The next stage retrieves the state session first.
 *
 * Unless the case says otherwise, every stage that hands over also preserves
 * a pool file for each page size, in the state session: the root of a
 * hugetlbfs mount of that size, which asks for its free pages to go along.
 * The next stage retrieves them.
 *
 * Every stage that preserves files reads the outgoing KHO "hugetlb" subtree
 * and finds, for each file, the file-<id> node with its order, size, seals,
 * position and page and range counts. Every stage after a kexec reads the
 * incoming subtree: the files, and the free and in-use page counts of each
 * pool and node against the counters and files recorded right before the
 * kexec. The lists the tree points to are in KHO memory, out of userspace's
 * reach: the PFNs are compared through pagemap instead. Built without
 * libfdt, these checks skip.
 *
 * Cases:
 *   memfd_2m                 256 MiB of 2 MiB pages, plus the checks that a
 *                            preserved file cannot change size or layout
 *   memfd_1g                 2 GiB of 1 GiB pages
 *   both_sizes               a 2 MiB-page and a 1 GiB-page memfd, one session
 *   pool_only                no file: the free pools, per size and per node
 *   files_without_pools      a file, no pool file: the free pages stay behind
 *                            and the next kernel allocates hugepages= again
 *   nothing_asked            no file, no pool file: no hand-over data at all
 *   abort_then_update        both sizes and the pools; the scenario fails the
 *                            kexec again and again (hlu-kexec-fail-nth)
 *                            before it lets one through
 *   pool_2m                  no file: the free 2 MiB pool (stage 1 of the
 *                            rollback scenario, whose next kernel lacks the
 *                            feature)
 *   corrupt_file             a sparse file of 8 pages, each its own extent,
 *                            4 of which are rewritten in the outgoing block
 *                            list through /dev/mem: the next kernel refuses
 *                            3 pages, keeps the rest, retrieve fails
 */

#define _GNU_SOURCE

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <linux/falloc.h>
#include <linux/types.h>

#ifdef HLU_HAVE_LIBFDT
#include <libfdt.h>
#endif

#include "libliveupdate.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#define HLU_MFD_HUGE_SHIFT	26
#define HLU_MFD_HUGE_2MB	(21U << HLU_MFD_HUGE_SHIFT)
#define HLU_MFD_HUGE_1GB	(30U << HLU_MFD_HUGE_SHIFT)
#ifndef F_GET_SEALS
#define F_GET_SEALS		1034
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC		0x0020
#endif
#define HLU_MPOL_INTERLEAVE	3

#define HLU_MAGIC		0x484c5553	/* "HLUS" */
#define HLU_VERSION		5
#define HLU_MAX_NODES		8
#define HLU_MAX_FILES		64
#define HLU_MAX_SESSIONS	4
#define HLU_MAX_PAGES		256
#define HLU_STATE_TOKEN		0x5354
#define HLU_FILE_TOKEN		0x4800
#define HLU_BASE_PAGE		4096UL
#define HLU_POLL_MS		5000
#define HLU_POS_STEP		4099	/* f_pos of file N before preserve: (N + 1) * this */

#define HLU_HUGETLB_SYSFS	"/sys/kernel/mm/hugepages"
#define HLU_NODE_SYSFS		"/sys/devices/system/node"
#define HLU_KHO_DEBUGFS		"/sys/kernel/debug/kho"
#define HLU_KMSG		"/dev/kmsg"

/*
 * corrupt_file: the outgoing extents of its file are rewritten through
 * /dev/mem. Extent 1 gets an unaligned PFN, extent 3 the PFN of extent 0,
 * extent 5 a PFN beyond memory: 3 pages the next kernel cannot restore.
 * Extent 6 gets an unaligned index: restored, but the record is invalid.
 */
#define HLU_DEVMEM		"/dev/mem"
#define HLU_CORRUPT_EXTENTS	8	/* one page each: the file is sparse */
#define HLU_CORRUPT_LOST	3
#define HLU_BEYOND_PFN		0x10000000000ULL	/* 4 PiB of 4 KiB pages */

/* Lines of mm/hugetlb_luo.c in the kernel log, pr_fmt() included. */
#define HLU_LOG			"hugetlb_luo: "

/* The KHO subtree, as in include/linux/kho/abi/hugetlb.h */
#define HLU_FDT_NAME		"hugetlb"
#define HLU_FDT_COMPAT		"hugetlb-v2"
#define HLU_FDT_HSTATE		"hstate-"
#define HLU_FDT_NODE		"node-"
#define HLU_FDT_FILE		"file-"
#define HLU_FDT_ORDER		"order"
#define HLU_FDT_NID		"nid"
#define HLU_FDT_SURPLUS		"surplus"
#define HLU_FDT_NR_FREE		"nr-free"
#define HLU_FDT_NR_IN_USE	"nr-in-use"
#define HLU_FDT_NR_RUNS		"nr-runs"
#define HLU_FDT_RUNS		"free-runs"
#define HLU_FDT_SEALS		"seals"
#define HLU_FDT_SIZE		"size"
#define HLU_FDT_POS		"pos"
#define HLU_FDT_NR_FOLIOS	"nr-folios"
#define HLU_FDT_NR_EXTENTS	"nr-extents"
#define HLU_FDT_EXTENTS		"extents"
#define HLU_FDT_NR_RANGES	"nr-ranges"
#define HLU_FDT_RESERVED	"reserved"
#define HLU_FDT_ALL_SEALS	0x3fU	/* F_SEAL_SEAL up to F_SEAL_EXEC */

/* Case flags */
#define HLU_RESTRICT		0x1	/* size/layout changes refused after preserve */
#define HLU_CORRUPT_FILE	0x20	/* extents rewritten in the outgoing list */
#define HLU_WRITER		0x100	/* a child writes to the last page until kexec */
#define HLU_INTERLEAVE		0x200	/* pages interleaved over the NUMA nodes */
#define HLU_SURPLUS		0x400	/* the file needs surplus pages (overcommit) */
#define HLU_OVERCOMMIT		8	/* nr_overcommit_hugepages of the surplus case */
#define HLU_NAMED		0x800	/* files of hugetlbfs mounts, not memfds */
#define HLU_MNT_DIR		"/tmp/hlu-hugetlbfs"	/* + "-<size>" */
#define HLU_NO_POOLS		0x4000	/* no pool file: free pages not handed over */
#define HLU_POOL_DIR		"/tmp/hlu-pool"		/* + "-<size>" */
#define HLU_POOL_TOKEN		1000	/* + page size index */

/* Seals of the seals case: every one memfd has, over two files. */
#define HLU_SEALS_0	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | \
			 F_SEAL_EXEC)
#define HLU_SEALS_1	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

enum { HLU_2M, HLU_1G, HLU_NR_HSIZES };

struct hlu_hsize {
	const char *dir;	/* hugepages-<dir> in sysfs */
	const char *label;
	unsigned long size;
	unsigned int order;	/* in base pages */
	unsigned int mfd_flag;
};

static const struct hlu_hsize hlu_hsizes[HLU_NR_HSIZES] = {
	[HLU_2M] = { "2048kB", "2M", 2UL << 20, 9, HLU_MFD_HUGE_2MB },
	[HLU_1G] = { "1048576kB", "1G", 1UL << 30, 18, HLU_MFD_HUGE_1GB },
};

struct hlu_file_spec {
	int hsize;
	unsigned int nr_pages;
	unsigned int stride;	/* page p at huge page p * stride; 0 means 1 */
	unsigned int seals;	/* added with F_ADD_SEALS; MFD_ALLOW_SEALING if any */
};

struct hlu_case {
	const char *name;
	int hops;
	unsigned int flags;
	unsigned int pool_mask;	/* page sizes whose pool must be non-empty */
	int nr_files;
	struct hlu_file_spec files[HLU_MAX_FILES];
	int nr_sessions;	/* file i goes to session i % nr_sessions; 0 means 1 */
};

static const struct hlu_case hlu_cases[] = {
	{ "memfd_2m", 2, HLU_RESTRICT, 1 << HLU_2M, 1,
	  { { HLU_2M, 128 } } },
	{ "memfd_1g", 2, 0, 1 << HLU_1G, 1, { { HLU_1G, 2 } } },
	{ "both_sizes", 2, 0, (1 << HLU_2M) | (1 << HLU_1G), 2,
	  { { HLU_2M, 64 }, { HLU_1G, 1 } } },
	{ "pool_only", 2, 0, (1 << HLU_2M) | (1 << HLU_1G), 0, { { 0 } } },
	{ "files_without_pools", 2, HLU_NO_POOLS, (1 << HLU_2M) | (1 << HLU_1G), 2,
	  { { HLU_2M, 16 }, { HLU_1G, 1 } } },
	{ "nothing_asked", 2, HLU_NO_POOLS, 1 << HLU_2M, 0, { { 0 } } },
	{ "pool_2m", 2, 0, 1 << HLU_2M, 0, { { 0 } } },
	{ "abort_then_update", 2, 0, (1 << HLU_2M) | (1 << HLU_1G), 2,
	  { { HLU_2M, 16 }, { HLU_1G, 1 } } },
	{ "corrupt_file", 2, HLU_CORRUPT_FILE, 1 << HLU_2M, 1,
	  { { HLU_2M, HLU_CORRUPT_EXTENTS, 2 } } },
	{ "seals", 2, 0, 1 << HLU_2M, 2,
	  { { HLU_2M, 4, 1, HLU_SEALS_0 }, { HLU_2M, 4, 1, HLU_SEALS_1 } } },
	{ "writer", 2, HLU_WRITER, 1 << HLU_2M, 1, { { HLU_2M, 4 } } },
	{ "numa", 2, HLU_INTERLEAVE, (1 << HLU_2M) | (1 << HLU_1G), 2,
	  { { HLU_2M, 64 }, { HLU_1G, 1 } } },
	/* 12 pages from a pool of 8: 4 surplus */
	{ "surplus", 2, HLU_SURPLUS, 1 << HLU_2M, 1, { { HLU_2M, 12 } } },
	/* guest0 on a pagesize=2M mount, guest1 on a pagesize=1G,size=4G one */
	{ "named", 2, HLU_NAMED, (1 << HLU_2M) | (1 << HLU_1G), 2,
	  { { HLU_2M, 16 }, { HLU_1G, 1 } } },
};

/* What file @i of case @c is: its spec, or for many_files one made up. */
static struct hlu_file_spec hlu_spec(const struct hlu_case *c, int i)
{
	return c->files[i];
}

static int hlu_nr_sessions(const struct hlu_case *c)
{
	return c->nr_sessions ? c->nr_sessions : 1;
}

/* Pool counters; resv is only reported for the whole system. */
struct hlu_counters {
	__s64 nr;
	__s64 free;
	__s64 resv;
	__s64 surp;
};

struct hlu_pool {
	__u32 present[HLU_NR_HSIZES];
	__u32 node_present[HLU_NR_HSIZES][HLU_MAX_NODES];
	struct hlu_counters all[HLU_NR_HSIZES];
	struct hlu_counters node[HLU_NR_HSIZES][HLU_MAX_NODES];
};

struct hlu_file_rec {
	__u64 token;
	__u32 hsize;
	__u32 nr_pages;
	__u64 seed;
	__u64 file_hash;
	__u64 pos;			/* f_pos when preserved */
	__u32 seals;			/* F_GET_SEALS when preserved */
	__u32 stride;			/* page p is at huge page index p * stride */
	__u32 file_pages;		/* file size, in huge pages */
	__u32 live_page;		/* 1 + the page a writer owns; 0: none */
	__u64 hash[HLU_MAX_PAGES];
	__u64 pfn[HLU_MAX_PAGES];
	__s32 nid[HLU_MAX_PAGES];	/* NUMA node of each page */
};

/* What a stage hands to the next one, in the preserved state memfd. */
struct hlu_state {
	__u32 magic;
	__u32 version;
	char case_name[32];
	__u32 next_stage;
	__u32 nr_files;
	struct hlu_pool baseline;	/* stage 1, before any file existed */
	struct hlu_pool at_kexec;	/* just before this hand-over */
	__u64 writer_seq;		/* writer: its count when the state was saved */
	struct hlu_file_rec file[HLU_MAX_FILES];
};

struct hlu_file {
	int fd;
	char *map;
	size_t len;
	const struct hlu_hsize *hs;
	struct hlu_file_rec *rec;
};

static const struct hlu_case *hlu_case;

/* ---- small helpers ---------------------------------------------------- */

static __u64 hlu_mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void hlu_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int hlu_read_s64(const char *path, __s64 *val)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*val = strtoll(buf, NULL, 10);
	return 0;
}

static void hlu_session_name(char *buf, size_t len, const char *what, int stage)
{
	snprintf(buf, len, "hlu-%s-%s-%d", hlu_case->name, what, stage);
}

static __printf(1, 2) void hlu_bail(const char *fmt, ...);

/* Report a fatal failure as its own TAP line, then stop with a failure. */
static void hlu_bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ksft_inc_fail_cnt();
	printf("not ok %u ", ksft_test_num());
	vprintf(fmt, ap);
	va_end(ap);
	ksft_set_plan(ksft_test_num());
	ksft_exit_fail();
}

static void hlu_exit(void)
{
	ksft_set_plan(ksft_test_num());
	if (ksft_get_fail_cnt())
		ksft_exit_fail();
	ksft_exit_pass();
}

/* ---- pool counters ---------------------------------------------------- */

static void pool_read(struct hlu_pool *p)
{
	static const char * const names[] = {
		"nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages"
	};
	char path[256];
	int h, n, i;

	memset(p, 0, sizeof(*p));
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		__s64 v[4] = { -1, -1, -1, -1 };

		snprintf(path, sizeof(path), HLU_HUGETLB_SYSFS "/hugepages-%s",
			 hlu_hsizes[h].dir);
		if (access(path, F_OK))
			continue;
		p->present[h] = 1;
		for (i = 0; i < 4; i++) {
			snprintf(path, sizeof(path), HLU_HUGETLB_SYSFS "/hugepages-%s/%s",
				 hlu_hsizes[h].dir, names[i]);
			hlu_read_s64(path, &v[i]);
		}
		p->all[h] = (struct hlu_counters){ v[0], v[1], v[2], v[3] };

		for (n = 0; n < HLU_MAX_NODES; n++) {
			__s64 nv[4] = { -1, -1, -1, -1 };

			snprintf(path, sizeof(path),
				 HLU_NODE_SYSFS "/node%d/hugepages/hugepages-%s",
				 n, hlu_hsizes[h].dir);
			if (access(path, F_OK))
				continue;
			p->node_present[h][n] = 1;
			for (i = 0; i < 4; i++) {
				if (i == 2)	/* no per-node resv_hugepages */
					continue;
				snprintf(path, sizeof(path),
					 HLU_NODE_SYSFS "/node%d/hugepages/hugepages-%s/%s",
					 n, hlu_hsizes[h].dir, names[i]);
				hlu_read_s64(path, &nv[i]);
			}
			p->node[h][n] = (struct hlu_counters){ nv[0], nv[1], -1, nv[3] };
		}
	}
}

static void pool_print(const char *ctx, const struct hlu_pool *p)
{
	int h, n;

	for (h = 0; h < HLU_NR_HSIZES; h++) {
		const struct hlu_counters *c = &p->all[h];

		if (!p->present[h])
			continue;
		ksft_print_msg("pool %s %s: total=%lld free=%lld resv=%lld surplus=%lld\n",
			       ctx, hlu_hsizes[h].label, (long long)c->nr, (long long)c->free,
			       (long long)c->resv, (long long)c->surp);
		for (n = 0; n < HLU_MAX_NODES; n++) {
			c = &p->node[h][n];
			if (!p->node_present[h][n])
				continue;
			ksft_print_msg("pool %s %s node%d: total=%lld free=%lld surplus=%lld\n",
				       ctx, hlu_hsizes[h].label, n, (long long)c->nr,
				       (long long)c->free, (long long)c->surp);
		}
	}
}

static int cnt_cmp(const char *where, const char *field, __s64 exp, __s64 got, bool print)
{
	if (exp == got)
		return 0;
	if (print)
		ksft_print_msg("  %s %s: expected %lld, seen %lld\n", where, field,
			       (long long)exp, (long long)got);
	return 1;
}

/*
 * Compare the counters of the page sizes in @hmask; per node too when @nodes.
 * Returns the number of differences, printed when @print.
 */
static int pool_diff(const struct hlu_pool *exp, const struct hlu_pool *got,
		     unsigned int hmask, bool nodes, bool print)
{
	char where[64];
	int h, n, bad = 0;

	for (h = 0; h < HLU_NR_HSIZES; h++) {
		const struct hlu_counters *e = &exp->all[h], *g = &got->all[h];

		if (!(hmask & (1 << h)))
			continue;
		snprintf(where, sizeof(where), "%s", hlu_hsizes[h].label);
		bad += cnt_cmp(where, "pool present", exp->present[h], got->present[h], print);
		bad += cnt_cmp(where, "HugePages_Total", e->nr, g->nr, print);
		bad += cnt_cmp(where, "HugePages_Free", e->free, g->free, print);
		bad += cnt_cmp(where, "HugePages_Rsvd", e->resv, g->resv, print);
		bad += cnt_cmp(where, "HugePages_Surp", e->surp, g->surp, print);
		if (!nodes)
			continue;
		for (n = 0; n < HLU_MAX_NODES; n++) {
			e = &exp->node[h][n];
			g = &got->node[h][n];
			snprintf(where, sizeof(where), "%s node%d", hlu_hsizes[h].label, n);
			bad += cnt_cmp(where, "present", exp->node_present[h][n],
				       got->node_present[h][n], print);
			if (!exp->node_present[h][n] || !got->node_present[h][n])
				continue;
			bad += cnt_cmp(where, "nr_hugepages", e->nr, g->nr, print);
			bad += cnt_cmp(where, "free_hugepages", e->free, g->free, print);
			bad += cnt_cmp(where, "surplus_hugepages", e->surp, g->surp, print);
		}
	}
	return bad;
}

static unsigned int pool_mask(const struct hlu_pool *p)
{
	unsigned int m = 0;
	int h;

	for (h = 0; h < HLU_NR_HSIZES; h++)
		if (p->present[h])
			m |= 1 << h;
	return m;
}

/*
 * Wait (deferred frees: task work, workqueues) until the pool matches @exp,
 * then report one TAP line.
 */
static bool pool_check(const struct hlu_pool *exp, unsigned int hmask, bool nodes,
		       const char *what)
{
	struct hlu_pool got;
	int waited = 0;

	for (;;) {
		pool_read(&got);
		if (!pool_diff(exp, &got, hmask, nodes, false) || waited >= HLU_POLL_MS)
			break;
		hlu_sleep_ms(100);
		waited += 100;
	}
	if (!pool_diff(exp, &got, hmask, nodes, false)) {
		ksft_test_result_pass("%s\n", what);
		return true;
	}
	ksft_print_msg("pool differs from expectation (%s):\n", what);
	pool_diff(exp, &got, hmask, nodes, true);
	pool_print("seen", &got);
	ksft_test_result_fail("%s\n", what);
	return false;
}

/*
 * Pages reserved for @rec: its shared mapping reserved the whole file, pages
 * present use their reservation.
 */
static __s64 rec_reserved(const struct hlu_file_rec *rec)
{
	return (__s64)rec->file_pages - rec->nr_pages;
}

/* Read a byte at @addr, so that a fault maps its page; never optimized out. */
static void page_touch(const char *addr)
{
	(void)__atomic_load_n(addr, __ATOMIC_RELAXED);
}

/* Byte offset of the recorded page @p of @rec in its file. */
static size_t page_off(const struct hlu_file_rec *rec, unsigned int p)
{
	return (size_t)p * rec->stride * hlu_hsizes[rec->hsize].size;
}

/* Turn a negative free count into that many surplus pages in use. */
static void surplus_of(struct hlu_counters *c)
{
	if (c->free >= 0)
		return;
	c->nr -= c->free;
	c->surp -= c->free;
	c->free = 0;
}

/* @base with the pages of the recorded files in use, per size and per node. */
static void pool_in_use(const struct hlu_pool *base, const struct hlu_state *st,
			struct hlu_pool *out)
{
	const struct hlu_file_rec *rec;
	unsigned int i, p;
	int h, n;

	*out = *base;
	for (i = 0; i < st->nr_files; i++) {
		rec = &st->file[i];
		out->all[rec->hsize].free -= rec->nr_pages;
		out->all[rec->hsize].resv += rec_reserved(rec);
		for (p = 0; p < rec->nr_pages; p++) {
			if (rec->nid[p] >= 0 && rec->nid[p] < HLU_MAX_NODES)
				out->node[rec->hsize][rec->nid[p]].free--;
		}
	}
	/* Pages beyond the free ones are surplus pages, added to the pool. */
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		surplus_of(&out->all[h]);
		for (n = 0; n < HLU_MAX_NODES; n++)
			surplus_of(&out->node[h][n]);
	}
}

/*
 * Every counter of every page size, per node too, is the one before any file
 * existed minus the pages of the files in @st.
 */
static bool pool_check_in_use(const struct hlu_state *st, const char *what)
{
	struct hlu_pool in_use;

	pool_in_use(&st->baseline, st, &in_use);
	return pool_check(&in_use, pool_mask(&st->baseline), true, what);
}

/* ---- file content and PFNs -------------------------------------------- */

static __u64 page_hash(const char *page, unsigned long len, __u64 idx)
{
	const __u64 *w = (const __u64 *)page;
	__u64 h = 0xcbf29ce484222325ULL ^ idx;
	unsigned long i;

	for (i = 0; i < len / sizeof(*w); i++) {
		h = (h ^ w[i]) * 0x100000001b3ULL;
		h = (h << 29) | (h >> 35);
	}
	return hlu_mix(h);
}

static __u64 file_hash(const struct hlu_file_rec *rec)
{
	__u64 h = rec->nr_pages;
	unsigned int i;

	for (i = 0; i < rec->nr_pages; i++)
		h = hlu_mix(h ^ rec->hash[i]);
	return h;
}

/* Write recorded page @p of @f, which becomes present if it was a hole. */
static void file_fill_page(struct hlu_file *f, unsigned int p)
{
	unsigned long words = f->hs->size / sizeof(__u64);
	__u64 *w = (__u64 *)(f->map + page_off(f->rec, p));
	__u64 base = f->rec->seed + (__u64)p * words;
	unsigned long i;

	for (i = 0; i < words; i++)
		w[i] = hlu_mix(base + i);
	f->rec->hash[p] = page_hash((char *)w, f->hs->size, p);
}

static void file_fill(struct hlu_file *f)
{
	unsigned int p;

	for (p = 0; p < f->rec->nr_pages; p++)
		file_fill_page(f, p);
	f->rec->file_hash = file_hash(f->rec);
}

/* PFN of each huge page of the mapping; 0 when absent or hidden. */
static int file_pfns(const struct hlu_file *f, __u64 *pfn)
{
	unsigned int p;
	int fd, ret = 0;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -errno;
	for (p = 0; p < f->rec->nr_pages; p++) {
		unsigned long va = (unsigned long)f->map + page_off(f->rec, p);
		__u64 e = 0;

		if (pread(fd, &e, sizeof(e), (va / HLU_BASE_PAGE) * sizeof(e)) != sizeof(e)) {
			ret = -EIO;
			break;
		}
		pfn[p] = (e >> 63) ? e & ((1ULL << 55) - 1) : 0;
	}
	close(fd);
	return ret;
}

static bool pfns_valid(const struct hlu_file *f, const __u64 *pfn, const char *ctx)
{
	__u64 align = f->hs->size / HLU_BASE_PAGE;
	unsigned int p;

	for (p = 0; p < f->rec->nr_pages; p++) {
		if (!pfn[p]) {
			ksft_print_msg("%s: page %u: no PFN in pagemap (absent, or not root)\n",
				       ctx, p);
			return false;
		}
		if (pfn[p] % align) {
			ksft_print_msg("%s: page %u: PFN %#llx not aligned to %s\n",
				       ctx, p, (unsigned long long)pfn[p], f->hs->label);
			return false;
		}
	}
	return true;
}

/*
 * NUMA node of each huge page of the mapping, from a move_pages() query; all
 * on node 0 without NUMA (no node directory in sysfs, no move_pages()).
 */
static bool file_nodes(const struct hlu_file *f, __s32 *nid, const char *ctx)
{
	bool numa = !access(HLU_NODE_SYSFS, F_OK);
	unsigned int p, nr = f->rec->nr_pages;
	int status[HLU_MAX_PAGES];
	void *pages[HLU_MAX_PAGES];

	for (p = 0; p < nr; p++) {
		pages[p] = f->map + page_off(f->rec, p);
		status[p] = numa ? -ENOENT : 0;
	}
	if (numa && syscall(SYS_move_pages, 0, (unsigned long)nr, pages, NULL, status, 0)) {
		ksft_print_msg("%s: move_pages() query: %s\n", ctx, strerror(errno));
		return false;
	}
	for (p = 0; p < nr; p++) {
		nid[p] = status[p];
		if (status[p] < 0 || status[p] >= HLU_MAX_NODES) {
			ksft_print_msg("%s: page %u: node %d (%s), expected 0 to %d\n", ctx, p,
				       status[p], status[p] < 0 ? strerror(-status[p]) : "too high",
				       HLU_MAX_NODES - 1);
			return false;
		}
	}
	return true;
}

/* PFN and node of every page into @f's record; false (details printed) if unusable. */
static bool file_locate(const struct hlu_file *f, const char *ctx)
{
	int ret = file_pfns(f, f->rec->pfn);

	if (ret) {
		ksft_print_msg("%s: read /proc/self/pagemap: %s\n", ctx, strerror(-ret));
		return false;
	}
	return pfns_valid(f, f->rec->pfn, ctx) && file_nodes(f, f->rec->nid, ctx);
}

static int file_map(struct hlu_file *f)
{
	int flags = MAP_SHARED;
	int prot = PROT_READ;

	if (!(f->rec->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		prot |= PROT_WRITE;
	f->map = mmap(NULL, f->len, prot, flags, f->fd, 0);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return -errno;
	}
	return 0;
}

static void file_unmap_close(struct hlu_file *f)
{
	if (f->map)
		munmap(f->map, f->len);
	f->map = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Path of the named file @idx of page size @hs. */
static void named_path(char *buf, size_t len, const struct hlu_hsize *hs, unsigned int idx)
{
	snprintf(buf, len, "%s-%s/guest%u", HLU_MNT_DIR, hs->label, idx);
}

/*
 * Create file @idx on a hugetlbfs mount of page size @hs, mounted here:
 * file 0 on a mount without limits, file 1 on one with a size limit.
 */
static int named_create(const struct hlu_hsize *hs, unsigned int idx)
{
	char dir[64], path[96], opts[64];
	int fd;

	snprintf(dir, sizeof(dir), "%s-%s", HLU_MNT_DIR, hs->label);
	snprintf(opts, sizeof(opts), "pagesize=%s%s", hs->label, idx ? ",size=4G" : "");
	if ((mkdir("/tmp", 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST))
		return -errno;
	if (mount("none", dir, "hugetlbfs", 0, opts))
		return -errno;
	named_path(path, sizeof(path), hs, idx);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0)
		return -errno;
	ksft_print_msg("file %u: %s on a hugetlbfs mount (%s)\n", idx, path, opts);
	return fd;
}

/*
 * Named files after preserve: unlinking one does not matter to LUO, and
 * the other keeps its layout for every opener, not only the preserver.
 */
static void named_after_preserve(const struct hlu_file *files)
{
	char path[96];
	int ret;

	named_path(path, sizeof(path), files[0].hs, 0);
	ret = unlink(path);
	ksft_test_result(!ret, "unlink %s after preserve: %s\n", path,
			 ret ? strerror(errno) : "done");
	named_path(path, sizeof(path), files[1].hs, 1);
	ret = truncate(path, 0);
	if (ret != -1 || errno != EPERM)
		ksft_print_msg("truncate(%s, 0): expected EPERM, got %s\n", path,
			       ret ? strerror(errno) : "success");
	ksft_test_result(ret == -1 && errno == EPERM,
			 "truncate by path of preserved %s refused (EPERM)\n", path);
}

static int file_create(struct hlu_file *f, const struct hlu_file_spec *spec,
		       struct hlu_file_rec *rec, unsigned int idx)
{
	unsigned int p;
	int ret;

	f->hs = &hlu_hsizes[spec->hsize];
	f->rec = rec;
	rec->token = HLU_FILE_TOKEN + idx;
	rec->hsize = spec->hsize;
	rec->stride = spec->stride ? spec->stride : 1;
	rec->file_pages = spec->nr_pages * rec->stride;
	f->len = (size_t)rec->file_pages * f->hs->size;
	/* A sparse file gets its last page after preserve. */
	rec->nr_pages = spec->nr_pages;
	rec->seed = 0x5eed0000ULL + idx * 0x1000193ULL;

	if (hlu_case->flags & HLU_NAMED) {
		f->fd = named_create(f->hs, idx);
		if (f->fd < 0)
			return f->fd;
	} else {
		f->fd = memfd_create("hugetlb_lu", MFD_HUGETLB | f->hs->mfd_flag |
				     (spec->seals ? MFD_ALLOW_SEALING : 0));
		if (f->fd < 0)
			return -errno;
	}
	if (ftruncate(f->fd, f->len)) {
		ret = -errno;
		goto err;
	}
	ret = file_map(f);
	if (ret)
		goto err;
	file_fill(f);
	if (spec->seals) {
		/* F_SEAL_WRITE needs the writable mapping gone. */
		munmap(f->map, f->len);
		f->map = NULL;
		if (fcntl(f->fd, F_ADD_SEALS, spec->seals)) {
			ret = -errno;
			goto err;
		}
		rec->seals = spec->seals;
		ret = file_map(f);
		if (ret)
			goto err;
		/* Map the pages again (read-only now), for pagemap. */
		for (p = 0; p < rec->nr_pages; p++)
			page_touch(f->map + page_off(rec, p));
	}

	/* A position and the seals the kernel must record and restore. */
	rec->pos = (__u64)(idx + 1) * HLU_POS_STEP;
	if (lseek(f->fd, rec->pos, SEEK_SET) < 0) {
		ret = -errno;
		goto err;
	}
	ret = fcntl(f->fd, F_GET_SEALS);
	if (ret < 0) {
		ret = -errno;
		goto err;
	}
	rec->seals = ret;
	return 0;
err:
	file_unmap_close(f);
	return ret;
}

/* ---- LUO helpers ------------------------------------------------------ */

static int hlu_preserve(int session_fd, int fd, __u64 token)
{
	struct liveupdate_session_preserve_fd arg = { .size = sizeof(arg) };

	arg.fd = fd;
	arg.token = token;
	if (ioctl(session_fd, LIVEUPDATE_SESSION_PRESERVE_FD, &arg) < 0)
		return -errno;
	return 0;
}

static int hlu_retrieve(int session_fd, __u64 token)
{
	struct liveupdate_session_retrieve_fd arg = { .size = sizeof(arg) };

	arg.token = token;
	if (ioctl(session_fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg) < 0)
		return -errno;
	return arg.fd;
}

/* Hand @st to stage @next: a preserved shmem memfd in its own session. */
/* The root of a hugetlbfs mount of page size @hs, mounted here once. */
static int pool_dir_open(const struct hlu_hsize *hs)
{
	static bool mounted[HLU_NR_HSIZES];
	char dir[64], opts[32];
	int fd;

	snprintf(dir, sizeof(dir), "%s-%s", HLU_POOL_DIR, hs->label);
	snprintf(opts, sizeof(opts), "pagesize=%s", hs->label);
	if ((mkdir("/tmp", 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST))
		return -errno;
	if (!mounted[hs - hlu_hsizes]) {
		if (mount("none", dir, "hugetlbfs", 0, opts))
			return -errno;
		mounted[hs - hlu_hsizes] = true;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	return fd < 0 ? -errno : fd;
}

/*
 * Ask for the free pages of every page size to go along: one pool file per
 * size, in the state session @sfd. The pool files of the same mount root
 * are one file to LUO: a second one is refused.
 */
static void pools_preserve(int sfd, const struct hlu_state *st)
{
	int h, fd, ret;

	for (h = 0; h < HLU_NR_HSIZES; h++) {
		if (!st->at_kexec.present[h] && !st->baseline.present[h])
			continue;
		fd = pool_dir_open(&hlu_hsizes[h]);
		if (fd < 0)
			hlu_bail("open a %s hugetlbfs mount root: %s\n", hlu_hsizes[h].label,
				 strerror(-fd));
		ret = hlu_preserve(sfd, fd, HLU_POOL_TOKEN + h);
		if (ret)
			ksft_print_msg("PRESERVE_FD of a %s hugetlbfs mount root: %s\n",
				       hlu_hsizes[h].label, strerror(-ret));
		ksft_test_result(!ret, "pool file of %s preserved: its free pages go along\n",
				 hlu_hsizes[h].label);
		if (!ret && h == HLU_2M) {
			int fd2 = pool_dir_open(&hlu_hsizes[h]);

			ret = hlu_preserve(sfd, fd2, HLU_POOL_TOKEN + HLU_NR_HSIZES);
			ksft_test_result(ret == -EBUSY,
					 "the same mount root again is refused with EBUSY (%s)\n",
					 strerror(-ret));
			close(fd2);
		}
		close(fd);
	}
}

/* The pool files of the last stage come back as files. */
static void pools_retrieve(int sfd, const struct hlu_state *st)
{
	int h, fd;

	for (h = 0; h < HLU_NR_HSIZES; h++) {
		if (!st->at_kexec.present[h] && !st->baseline.present[h])
			continue;
		fd = hlu_retrieve(sfd, HLU_POOL_TOKEN + h);
		if (fd < 0)
			ksft_print_msg("RETRIEVE_FD of the %s pool file: %s\n",
				       hlu_hsizes[h].label, strerror(-fd));
		ksft_test_result(fd >= 0, "pool file of %s retrieved\n", hlu_hsizes[h].label);
		if (fd >= 0)
			close(fd);
	}
}

static void state_save(int luo_fd, struct hlu_state *st, int next)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int sfd, mfd, ret;

	st->magic = HLU_MAGIC;
	st->version = HLU_VERSION;
	snprintf(st->case_name, sizeof(st->case_name), "%s", hlu_case->name);
	st->next_stage = next;

	hlu_session_name(name, sizeof(name), "state", next);
	sfd = luo_create_session(luo_fd, name);
	if (sfd < 0)
		hlu_bail("create state session %s: %s\n", name, strerror(-sfd));
	mfd = memfd_create("hugetlb_lu_state", 0);
	if (mfd < 0)
		hlu_bail("memfd_create for state: %s\n", strerror(errno));
	if (write(mfd, st, sizeof(*st)) != sizeof(*st))
		hlu_bail("write state memfd: %s\n", strerror(errno));
	ret = hlu_preserve(sfd, mfd, HLU_STATE_TOKEN);
	if (ret)
		hlu_bail("preserve state memfd (shmem) in %s: %s\n", name, strerror(-ret));
	close(mfd);
	ksft_test_result_pass("state for stage %d preserved in session %s\n", next, name);
	if (!(hlu_case->flags & HLU_NO_POOLS))
		pools_preserve(sfd, st);
	/* sfd stays open: closing it would unpreserve the state */
}

static void state_load(int luo_fd, struct hlu_state *st, int stage)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int sfd, mfd, ret;

	hlu_session_name(name, sizeof(name), "state", stage);
	sfd = luo_retrieve_session(luo_fd, name);
	if (sfd < 0)
		hlu_bail("retrieve state session %s: %s (expected: preserved by stage %d)\n",
			 name, strerror(-sfd), stage - 1);
	mfd = hlu_retrieve(sfd, HLU_STATE_TOKEN);
	if (mfd < 0)
		hlu_bail("retrieve state memfd from %s: %s\n", name, strerror(-mfd));
	if (pread(mfd, st, sizeof(*st), 0) != sizeof(*st))
		hlu_bail("read state memfd: short read\n");
	close(mfd);
	if (st->magic != HLU_MAGIC || st->version != HLU_VERSION ||
	    strcmp(st->case_name, hlu_case->name) || st->next_stage != (__u32)stage)
		hlu_bail("state memfd: saw %#x v%u '%.31s' stage %u, expected %#x v%u '%s' %d\n",
			 st->magic, st->version, st->case_name, st->next_stage,
			 HLU_MAGIC, HLU_VERSION, hlu_case->name, stage);
	if (!(hlu_case->flags & HLU_NO_POOLS))
		pools_retrieve(sfd, st);
	ret = luo_session_finish(sfd);
	if (ret)
		hlu_bail("finish state session %s: %s\n", name, strerror(-ret));
	close(sfd);
	ksft_test_result_pass("state session %s retrieved and finished\n", name);
}

/*
 * Park a child holding the session fds, report, and exit. /dev/liveupdate
 * itself is closed first: it can only be open once at a time.
 */
static void hlu_daemonize(int luo_fd)
{
	pid_t pid;

	close(luo_fd);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		hlu_bail("fork of the session holder: %s\n", strerror(errno));
	if (pid > 0) {
		ksft_print_msg("sessions held by pid %d until kexec\n", pid);
		hlu_exit();
	}
	setsid();
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	if (chdir("/"))
		_exit(1);
	for (;;)
		pause();
}

/* ---- KHO "hugetlb" subtree -------------------------------------------- */

static void *read_blob(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	*len = n;
	return buf;
}

/*
 * The TAP lines about the records in the tree. They are the same whether
 * the tree is checked, missing, or cannot be parsed (no libfdt). The lists
 * the tree points to live in KHO memory that userspace cannot read: their
 * PFNs are checked through pagemap after the kexec instead.
 */
#define HLU_T_OUT_FILE	"outgoing FDT records file %u: order, size, seals, pos, page and range counts\n"
#define HLU_T_IN_FILE	"incoming FDT records file %u: order, size, seals, pos, page and range counts as preserved\n"
#define HLU_T_IN_COUNT	"incoming FDT: %s pool per node: free pages and surplus as counted at kexec\n"
#define HLU_T_IN_USE	"incoming FDT: %s nr-in-use per node is the preserved files' pages there\n"
#define HLU_T_IN_PFNS	"incoming FDT: %s lists: an address where there are entries, no more runs than pages\n"

/* Report the record lines of @st's files (and pools, @in) with @code. */
static void fdt_report(const struct hlu_state *st, bool in, int code)
{
	unsigned int i;
	int h;

	for (i = 0; i < st->nr_files; i++) {
		if (in)
			ksft_test_result_report(code, HLU_T_IN_FILE, i);
		else
			ksft_test_result_report(code, HLU_T_OUT_FILE, i);
	}
	for (h = 0; in && h < HLU_NR_HSIZES; h++) {
		if (!st->at_kexec.present[h])
			continue;
		ksft_test_result_report(code, HLU_T_IN_COUNT, hlu_hsizes[h].label);
		ksft_test_result_report(code, HLU_T_IN_USE, hlu_hsizes[h].label);
		ksft_test_result_report(code, HLU_T_IN_PFNS, hlu_hsizes[h].label);
	}
}

#ifdef HLU_HAVE_LIBFDT
/* What the walk of one pool collects and finds wrong. */
struct hlu_pool_walk {
	const struct hlu_state *st;
	int h;
	bool numa;			/* per-node counters exist */
	bool seen[HLU_MAX_NODES];
	__s64 nr_free;
	__s64 nr_used;
	int bad_cnt;
	int bad_use;
	int bad_list;
};

/* @name is @prefix followed by a decimal number, nothing else. */
static bool name_num(const char *name, const char *prefix, unsigned long long *num)
{
	size_t n = strlen(prefix);
	char *end;

	if (!name || strncmp(name, prefix, n) || !isdigit((unsigned char)name[n]))
		return false;
	errno = 0;
	*num = strtoull(name + n, &end, 10);
	return !errno && !*end;
}

static bool fdt_is_file(const void *fdt, int off)
{
	unsigned long long id;

	return name_num(fdt_get_name(fdt, off, NULL), HLU_FDT_FILE, &id);
}

/* Properties are big-endian and only 4-byte aligned: fdt32_ld()/fdt64_ld(). */
static bool fdt_u32(const void *fdt, int off, const char *name, __u32 *val)
{
	const fdt32_t *p;
	int len;

	p = fdt_getprop(fdt, off, name, &len);
	if (!p || len != sizeof(*p))
		return false;
	*val = fdt32_ld(p);
	return true;
}

static bool fdt_u64(const void *fdt, int off, const char *name, __u64 *val)
{
	const fdt64_t *p;
	int len;

	p = fdt_getprop(fdt, off, name, &len);
	if (!p || len != sizeof(*p))
		return false;
	*val = fdt64_ld(p);
	return true;
}

static int fdt_bad_prop(const char *node, const char *prop)
{
	ksft_print_msg("FDT: %s: property '%s' missing or malformed\n", node, prop);
	return 1;
}

/*
 * A count and the address of its list: both there, and an address exactly
 * when there are entries.
 */
static int fdt_verify_list(const void *fdt, int off, const char *node,
			   const char *count, const char *list)
{
	__u64 nr, pa;

	if (!fdt_u64(fdt, off, count, &nr))
		return fdt_bad_prop(node, count);
	if (!fdt_u64(fdt, off, list, &pa))
		return fdt_bad_prop(node, list);
	if (!nr != !pa) {
		ksft_print_msg("FDT: %s: %s %llu but %s at %#llx\n", node, count,
			       (unsigned long long)nr, list, (unsigned long long)pa);
		return 1;
	}
	return 0;
}

static int fdt_verify_hstate(const void *fdt, int hs, const char *name,
			     unsigned long long order)
{
	unsigned long long nid;
	const char *nname;
	int nd, bad = 0;
	__u32 val;
	__u64 v64;

	if (!fdt_u32(fdt, hs, HLU_FDT_ORDER, &val) || val != order)
		bad += fdt_bad_prop(name, HLU_FDT_ORDER);
	fdt_for_each_subnode(nd, fdt, hs) {
		nname = fdt_get_name(fdt, nd, NULL);
		if (!name_num(nname, HLU_FDT_NODE, &nid)) {
			ksft_print_msg("FDT: %s: unexpected node '%s'\n", name,
				       nname ? nname : "?");
			bad++;
			continue;
		}
		if (!fdt_u32(fdt, nd, HLU_FDT_NID, &val) || val != nid)
			bad += fdt_bad_prop(nname, HLU_FDT_NID);
		if (!fdt_u32(fdt, nd, HLU_FDT_SURPLUS, &val))
			bad += fdt_bad_prop(nname, HLU_FDT_SURPLUS);
		if (!fdt_u64(fdt, nd, HLU_FDT_NR_FREE, &v64))
			bad += fdt_bad_prop(nname, HLU_FDT_NR_FREE);
		if (!fdt_u64(fdt, nd, HLU_FDT_NR_IN_USE, &v64))
			bad += fdt_bad_prop(nname, HLU_FDT_NR_IN_USE);
		bad += fdt_verify_list(fdt, nd, nname, HLU_FDT_NR_RUNS, HLU_FDT_RUNS);
	}
	return bad;
}

static int fdt_verify_file(const void *fdt, int off, const char *name)
{
	__u64 v64, ext;
	int bad = 0;
	__u32 v32;

	if (!fdt_u32(fdt, off, HLU_FDT_ORDER, &v32))
		bad += fdt_bad_prop(name, HLU_FDT_ORDER);
	if (!fdt_u32(fdt, off, HLU_FDT_SEALS, &v32) || v32 & ~HLU_FDT_ALL_SEALS)
		bad += fdt_bad_prop(name, HLU_FDT_SEALS);
	if (!fdt_u64(fdt, off, HLU_FDT_SIZE, &v64))
		bad += fdt_bad_prop(name, HLU_FDT_SIZE);
	if (!fdt_u64(fdt, off, HLU_FDT_POS, &v64))
		bad += fdt_bad_prop(name, HLU_FDT_POS);
	if (!fdt_u64(fdt, off, HLU_FDT_NR_FOLIOS, &v64)) {
		bad += fdt_bad_prop(name, HLU_FDT_NR_FOLIOS);
	} else if (fdt_u64(fdt, off, HLU_FDT_NR_EXTENTS, &ext) && ext > v64) {
		ksft_print_msg("FDT: %s: %llu extents for %llu pages\n", name,
			       (unsigned long long)ext, (unsigned long long)v64);
		bad++;
	}
	bad += fdt_verify_list(fdt, off, name, HLU_FDT_NR_EXTENTS, HLU_FDT_EXTENTS);
	bad += fdt_verify_list(fdt, off, name, HLU_FDT_NR_RANGES, HLU_FDT_RESERVED);
	return bad;
}

/*
 * The layout of the tree, with @nr_files file nodes. Returns the number of
 * problems found (details printed), or -1 if the tree cannot be used at all.
 */
static int fdt_verify(const void *fdt, size_t len, unsigned int nr_files)
{
	unsigned int files = 0;
	unsigned long long id;
	const char *name;
	const void *prop;
	int off, plen, bad = 0;

	if (len < sizeof(struct fdt_header) || fdt_check_header(fdt) ||
	    fdt_totalsize(fdt) > len) {
		ksft_print_msg("FDT: invalid header (magic %#x, %zu bytes read)\n",
			       len >= 4 ? be32toh(*(const __u32 *)fdt) : 0, len);
		return -1;
	}
	prop = fdt_getprop(fdt, 0, "compatible", &plen);
	if (fdt_node_check_compatible(fdt, 0, HLU_FDT_COMPAT)) {
		ksft_print_msg("FDT: root compatible is '%.*s', expected '%s'\n",
			       prop ? plen : 6, prop ? (const char *)prop : "(none)",
			       HLU_FDT_COMPAT);
		return -1;
	}
	fdt_for_each_subnode(off, fdt, 0) {
		name = fdt_get_name(fdt, off, NULL);
		if (name_num(name, HLU_FDT_HSTATE, &id)) {
			bad += fdt_verify_hstate(fdt, off, name, id);
		} else if (name_num(name, HLU_FDT_FILE, &id)) {
			bad += fdt_verify_file(fdt, off, name);
			files++;
		} else {
			ksft_print_msg("FDT: unexpected node '%s'\n", name ? name : "?");
			bad++;
		}
	}
	if (files != nr_files) {
		ksft_print_msg("FDT: %u file nodes, expected %u (one per preserved file)\n",
			       files, nr_files);
		bad++;
	}
	return bad;
}

static bool fdt_same(bool print, const char *node, const char *what, __u64 exp, __u64 got)
{
	if (exp == got)
		return true;
	if (print)
		ksft_print_msg("  %s: %s is %#llx, file has %#llx\n", node, what,
			       (unsigned long long)got, (unsigned long long)exp);
	return false;
}

/*
 * The file node at @off describes @rec: order, size, seals, pos, one folio
 * per page present, and one reserved range over the whole file when its
 * shared mapping reserved it, else one per page present, as each fault
 * records it. @print: say where it differs.
 */
static bool fdt_file_is(const void *fdt, int off, const struct hlu_file_rec *rec, bool print)
{
	const struct hlu_hsize *hs = &hlu_hsizes[rec->hsize];
	const char *name = fdt_get_name(fdt, off, NULL);
	__u64 size = ~0ULL, pos = ~0ULL, nr_folios = ~0ULL, nr_ranges = ~0ULL;
	__u32 order = ~0U, seals = ~0U;

	fdt_u32(fdt, off, HLU_FDT_ORDER, &order);
	fdt_u32(fdt, off, HLU_FDT_SEALS, &seals);
	fdt_u64(fdt, off, HLU_FDT_SIZE, &size);
	fdt_u64(fdt, off, HLU_FDT_POS, &pos);
	fdt_u64(fdt, off, HLU_FDT_NR_FOLIOS, &nr_folios);
	fdt_u64(fdt, off, HLU_FDT_NR_RANGES, &nr_ranges);
	return fdt_same(print, name, HLU_FDT_ORDER, hs->order, order) &&
	       fdt_same(print, name, HLU_FDT_SIZE, (__u64)rec->file_pages * hs->size, size) &&
	       fdt_same(print, name, HLU_FDT_SEALS, rec->seals, seals) &&
	       fdt_same(print, name, HLU_FDT_POS, rec->pos, pos) &&
	       fdt_same(print, name, HLU_FDT_NR_FOLIOS, rec->nr_pages, nr_folios) &&
	       fdt_same(print, name, HLU_FDT_NR_RANGES, 1,
			nr_ranges);
}

static bool fdt_taken(const int *taken, unsigned int nr, int off)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (taken[i] == off)
			return true;
	}
	return false;
}

/* One TAP line per file of @st: a file node describes it, and no other file. */
static void fdt_check_files(const void *fdt, const struct hlu_state *st, bool in)
{
	int taken[HLU_MAX_FILES], off, found;
	const struct hlu_file_rec *rec;
	unsigned int i;

	for (i = 0; i < st->nr_files; i++) {
		rec = &st->file[i];
		found = -1;
		fdt_for_each_subnode(off, fdt, 0) {
			if (!fdt_is_file(fdt, off) || fdt_taken(taken, i, off))
				continue;
			if (fdt_file_is(fdt, off, rec, false)) {
				found = off;
				break;
			}
		}
		taken[i] = found;
		if (found < 0) {
			ksft_print_msg("%s FDT: no file node left for file %u\n",
				       in ? "incoming" : "outgoing", i);
			ksft_print_msg("  file %u: %u %s pages, seals %#x, pos %llu\n",
				       i, rec->nr_pages, hlu_hsizes[rec->hsize].label,
				       rec->seals, (unsigned long long)rec->pos);
			fdt_for_each_subnode(off, fdt, 0) {
				if (fdt_is_file(fdt, off) && !fdt_taken(taken, i, off))
					fdt_file_is(fdt, off, rec, true);
			}
		}
		if (in)
			ksft_test_result(found >= 0, HLU_T_IN_FILE, i);
		else
			ksft_test_result(found >= 0, HLU_T_OUT_FILE, i);
	}
}

/* Free pages of @c the incoming tree lists: none unless pool files asked. */
static long long exp_free(const struct hlu_counters *c)
{
	return hlu_case->flags & HLU_NO_POOLS ? 0 : c->free;
}

/* Pages of size @h of @st's files on node @nid (any if < 0). */
static __u64 files_pages(const struct hlu_state *st, int h, int nid)
{
	const struct hlu_file_rec *rec;
	unsigned int i, p;
	__u64 n = 0;

	for (i = 0; i < st->nr_files; i++) {
		rec = &st->file[i];
		if (rec->hsize != (__u32)h)
			continue;
		for (p = 0; p < rec->nr_pages; p++)
			n += nid < 0 || rec->nid[p] == nid;
	}
	return n;
}

/* One node-<nid> of the pool walked by @w. */
static void fdt_pool_node(const void *fdt, int off, struct hlu_pool_walk *w)
{
	const char *name = fdt_get_name(fdt, off, NULL), *label = hlu_hsizes[w->h].label;
	__u64 nr_fr = 0, nr_use = 0, nr_runs = 0, nr_exp;
	const struct hlu_counters *c;
	unsigned long long nid;
	__u32 surplus = ~0U;

	if (!name_num(name, HLU_FDT_NODE, &nid))
		return;		/* reported by fdt_verify() */
	if (!fdt_u64(fdt, off, HLU_FDT_NR_FREE, &nr_fr) ||
	    !fdt_u64(fdt, off, HLU_FDT_NR_IN_USE, &nr_use) ||
	    !fdt_u64(fdt, off, HLU_FDT_NR_RUNS, &nr_runs)) {
		ksft_print_msg("FDT: %s %s: counts missing or malformed\n", label, name);
		w->bad_cnt++;
		return;
	}
	if (nr_runs > nr_fr) {
		ksft_print_msg("FDT: %s %s: %llu runs for %llu free pages\n", label, name,
			       (unsigned long long)nr_runs, (unsigned long long)nr_fr);
		w->bad_list++;
	}
	w->nr_free += nr_fr;
	w->nr_used += nr_use;
	/* The tests' surplus pages are all file pages. */
	c = w->numa && nid < HLU_MAX_NODES ? &w->st->at_kexec.node[w->h][nid] :
	    &w->st->at_kexec.all[w->h];
	if (!fdt_u32(fdt, off, HLU_FDT_SURPLUS, &surplus) || surplus != c->surp) {
		ksft_print_msg("FDT: %s %s: surplus %u, %lld at kexec\n", label, name, surplus,
			       (long long)c->surp);
		w->bad_cnt++;
	}
	if (!w->numa)
		return;
	if (nid >= HLU_MAX_NODES || !w->st->at_kexec.node_present[w->h][nid]) {
		ksft_print_msg("FDT: %s %s: no such node before kexec\n", label, name);
		w->bad_cnt++;
		return;
	}
	if (w->seen[nid]) {
		ksft_print_msg("FDT: %s %s: listed twice\n", label, name);
		w->bad_cnt++;
	}
	w->seen[nid] = true;
	c = &w->st->at_kexec.node[w->h][nid];
	if ((long long)nr_fr != exp_free(c) || (long long)nr_use != c->nr - c->free) {
		ksft_print_msg("FDT: %s %s: %llu free and %llu in-use pages\n", label, name,
			       (unsigned long long)nr_fr, (unsigned long long)nr_use);
		ksft_print_msg("  at kexec node%llu had %lld free of %lld%s\n", nid,
			       (long long)c->free, (long long)c->nr,
			       exp_free(c) ? "" : ", no pool file");
		w->bad_cnt++;
	}
	nr_exp = files_pages(w->st, w->h, nid);
	if (nr_use != nr_exp) {
		ksft_print_msg("FDT: %s %s: nr-in-use %llu, files have %llu pages on node%llu\n",
			       label, name, (unsigned long long)nr_use,
			       (unsigned long long)nr_exp, nid);
		w->bad_use++;
	}
}

/*
 * The pool of page size @h in the incoming tree against the counters and
 * the files recorded right before the kexec: three TAP lines.
 */
static void fdt_check_pool(const void *fdt, const struct hlu_state *st, int h)
{
	const struct hlu_counters *c = &st->at_kexec.all[h];
	const struct hlu_hsize *hs = &hlu_hsizes[h];
	struct hlu_pool_walk w = { .st = st, .h = h };
	int hoff, off, n;
	char name[32];
	__u64 nr_exp;

	for (n = 0; n < HLU_MAX_NODES; n++)
		w.numa |= st->at_kexec.node_present[h][n];

	snprintf(name, sizeof(name), HLU_FDT_HSTATE "%u", hs->order);
	hoff = fdt_subnode_offset(fdt, 0, name);
	if (hoff >= 0) {
		fdt_for_each_subnode(off, fdt, hoff)
			fdt_pool_node(fdt, off, &w);
	}

	for (n = 0; w.numa && n < HLU_MAX_NODES; n++) {
		const struct hlu_counters *cn = &st->at_kexec.node[h][n];

		if (st->at_kexec.node_present[h][n] &&
		    exp_free(cn) + cn->nr - cn->free > 0 && !w.seen[n]) {
			ksft_print_msg("FDT: %s: node%d had %lld pages at kexec, no %s/%s%d\n",
				       hs->label, n, (long long)st->at_kexec.node[h][n].nr, name,
				       HLU_FDT_NODE, n);
			w.bad_cnt++;
		}
	}
	if (w.nr_free != exp_free(c) || w.nr_used != c->nr - c->free) {
		ksft_print_msg("FDT: %s: %lld free and %lld in-use pages in all nodes\n",
			       hs->label, (long long)w.nr_free, (long long)w.nr_used);
		ksft_print_msg("  at kexec there were %lld free of %lld\n", (long long)c->free,
			       (long long)c->nr);
		w.bad_cnt++;
	}

	nr_exp = files_pages(st, h, -1);
	if ((__u64)w.nr_used != nr_exp) {
		ksft_print_msg("FDT: %s: %lld in-use pages in all, the files have %llu\n",
			       hs->label, (long long)w.nr_used, (unsigned long long)nr_exp);
		w.bad_use++;
	}

	ksft_test_result(!w.bad_cnt, HLU_T_IN_COUNT, hs->label);
	ksft_test_result(!w.bad_use, HLU_T_IN_USE, hs->label);
	ksft_test_result(!w.bad_list, HLU_T_IN_PFNS, hs->label);
}

static void fdt_check(const void *fdt, const struct hlu_state *st, bool in)
{
	int h;

	fdt_check_files(fdt, st, in);
	for (h = 0; in && h < HLU_NR_HSIZES; h++) {
		if (st->at_kexec.present[h])
			fdt_check_pool(fdt, st, h);
	}
}
#else
static int fdt_verify(const void *fdt, size_t len, unsigned int nr_files)
{
	if (len < 40 || be32toh(*(const __u32 *)fdt) != 0xd00dfeed) {
		ksft_print_msg("FDT: bad magic or too short (%zu bytes)\n", len);
		return -1;
	}
	/* Built without libfdt: look for the compatible string only. */
	if (!memmem(fdt, len, HLU_FDT_COMPAT, sizeof(HLU_FDT_COMPAT))) {
		ksft_print_msg("FDT: string '%s' not found (raw scan, no libfdt)\n",
			       HLU_FDT_COMPAT);
		return -1;
	}
	ksft_print_msg("FDT: '%s' found by raw scan (no libfdt: %u file nodes not counted)\n",
		       HLU_FDT_COMPAT, nr_files);
	return 0;
}

static void fdt_check(const void *fdt, const struct hlu_state *st, bool in)
{
	ksft_print_msg("built without libfdt: the PFNs in the %u-byte FDT are not checked\n",
		       be32toh(((const __u32 *)fdt)[1]));
	fdt_report(st, in, KSFT_SKIP);
}
#endif

/* The subtree in debugfs, outgoing or incoming; @dir: debugfs shows KHO trees. */
static void *fdt_read(bool in, size_t *len, bool *dir)
{
	const char *path = in ? HLU_KHO_DEBUGFS "/in/sub_fdts/" HLU_FDT_NAME :
				HLU_KHO_DEBUGFS "/out/sub_fdts/" HLU_FDT_NAME;

	*len = 0;
	*dir = !access(in ? HLU_KHO_DEBUGFS "/in/sub_fdts" : HLU_KHO_DEBUGFS "/out/sub_fdts",
		       F_OK);
	return read_blob(path, len);
}

/*
 * The KHO "hugetlb" subtree of @blob: the outgoing one right after the files
 * of @st were preserved, or (@in) the one handed over by the last kexec,
 * against the counters of @st at kexec. Frees @blob.
 */
static void check_fdt(const struct hlu_state *st, bool in, void *blob, size_t len, bool dir)
{
	const char *which = in ? "incoming" : "outgoing";
	int bad;

	if (!blob || !len) {
		if (!dir) {
			ksft_print_msg("no %s/%s/sub_fdts: debugfs not mounted or no KHO\n",
				       HLU_KHO_DEBUGFS, in ? "in" : "out");
			ksft_test_result_skip("%s KHO FDT subtree '%s' is '%s'\n", which,
					      HLU_FDT_NAME, HLU_FDT_COMPAT);
			fdt_report(st, in, KSFT_SKIP);
		} else {
			ksft_print_msg("%s KHO subtree '%s' %s\n", which, HLU_FDT_NAME,
				       blob ? "is empty" : "is absent");
			ksft_test_result_fail("%s KHO FDT subtree '%s' is '%s'\n", which,
					      HLU_FDT_NAME, HLU_FDT_COMPAT);
			fdt_report(st, in, KSFT_FAIL);
		}
		free(blob);
		return;
	}
	bad = fdt_verify(blob, len, st->nr_files);
	ksft_test_result(!bad, "%s KHO FDT subtree '%s' is '%s'\n", which, HLU_FDT_NAME,
			 HLU_FDT_COMPAT);
	if (bad < 0)
		fdt_report(st, in, KSFT_FAIL);
	else
		fdt_check(blob, st, in);
	free(blob);
}

/*
 * Nothing was asked to go along: no file, no pool file. Then there is no
 * hugetlb subtree at all, outgoing or (@in) incoming. Frees @blob.
 */
static void check_no_fdt(bool in, void *blob, bool dir)
{
	const char *which = in ? "incoming" : "outgoing";

	if (!dir)
		ksft_print_msg("no %s/%s/sub_fdts: debugfs not mounted or no KHO\n",
			       HLU_KHO_DEBUGFS, in ? "in" : "out");
	else if (blob)
		ksft_print_msg("%s KHO subtree '%s' exists\n", which, HLU_FDT_NAME);
	ksft_test_result(dir && !blob, "no %s KHO subtree '%s' when nothing asked for one\n",
			 which, HLU_FDT_NAME);
	free(blob);
}

/* The outgoing subtree, now that the files of @st are preserved. */
static void check_out_fdt(const struct hlu_state *st)
{
	size_t len;
	void *blob;
	bool dir;

	blob = fdt_read(false, &len, &dir);
	check_fdt(st, false, blob, len, dir);
}

/* An entry of the extent list, as in include/linux/kho/abi/hugetlb.h. */
struct hlu_extent {
	__u64 pfn;
	__u64 index;
	__u64 nr;
};

#ifdef HLU_HAVE_LIBFDT
/* The address and length of the extent list of the only file node. */
static bool out_extents(__u64 *pa, __u64 *nr)
{
	size_t len;
	bool dir;
	void *fdt;
	int off;

	*pa = 0;
	fdt = fdt_read(false, &len, &dir);
	if (!fdt || fdt_verify(fdt, len, 1) < 0) {
		free(fdt);
		return false;
	}
	fdt_for_each_subnode(off, fdt, 0) {
		if (fdt_is_file(fdt, off) && fdt_u64(fdt, off, HLU_FDT_EXTENTS, pa))
			fdt_u64(fdt, off, HLU_FDT_NR_EXTENTS, nr);
	}
	free(fdt);
	return *pa;
}
#else
static bool out_extents(__u64 *pa, __u64 *nr)
{
	ksft_print_msg("built without libfdt: the extent list cannot be found\n");
	return false;
}
#endif

/*
 * corrupt_file, right after preserve: the one-page extents of file 0 in
 * the kernel's outgoing block list match pagemap; then 4 of them are
 * rewritten through /dev/mem (see HLU_CORRUPT_LOST). Freeze rewrites a
 * list only when the file changed, so the corruption goes along.
 */
static void corrupt_extents(const struct hlu_state *st)
{
	const struct hlu_file_rec *rec = &st->file[0];
	__u64 step = hlu_hsizes[rec->hsize].size / HLU_BASE_PAGE;
	struct hlu_extent e[HLU_CORRUPT_EXTENTS], back[HLU_CORRUPT_EXTENTS];
	__u64 hdr[2], pa, nr = 0;
	unsigned int i, bad = 0;
	int fd;

	if (!out_extents(&pa, &nr) || nr != HLU_CORRUPT_EXTENTS)
		hlu_bail("outgoing FDT: no list of %d extents for file 0 (%llu)\n",
			 HLU_CORRUPT_EXTENTS, (unsigned long long)nr);
	fd = open(HLU_DEVMEM, O_RDWR | O_SYNC);
	if (fd < 0)
		hlu_bail("open %s: %s (CONFIG_DEVMEM=y, CONFIG_STRICT_DEVMEM=n?)\n", HLU_DEVMEM,
			 strerror(errno));
	if (pread(fd, hdr, sizeof(hdr), pa) != sizeof(hdr) ||
	    pread(fd, e, sizeof(e), pa + sizeof(hdr)) != sizeof(e))
		hlu_bail("read the extent list at %#llx: %s\n", (unsigned long long)pa,
			 strerror(errno));
	if (hdr[0] || hdr[1] != HLU_CORRUPT_EXTENTS) {
		ksft_print_msg("extent list: next %#llx, count %llu\n", (unsigned long long)hdr[0],
			       (unsigned long long)hdr[1]);
		bad++;
	}
	for (i = 0; i < HLU_CORRUPT_EXTENTS; i++) {
		if (e[i].pfn == rec->pfn[i] && e[i].index == i * rec->stride * step &&
		    e[i].nr == 1)
			continue;
		ksft_print_msg("extent %u: pfn %#llx index %#llx nr %llu, pagemap %#llx\n", i,
			       (unsigned long long)e[i].pfn, (unsigned long long)e[i].index,
			       (unsigned long long)e[i].nr, (unsigned long long)rec->pfn[i]);
		bad++;
	}
	ksft_test_result(!bad, "outgoing extent list of file 0 (read through %s) matches pagemap\n",
			 HLU_DEVMEM);

	e[1].pfn += 1;
	e[3].pfn = e[0].pfn;
	e[5].pfn = HLU_BEYOND_PFN;
	e[6].index += 1;
	if (pwrite(fd, e, sizeof(e), pa + sizeof(hdr)) != sizeof(e) ||
	    pread(fd, back, sizeof(back), pa + sizeof(hdr)) != sizeof(back))
		hlu_bail("rewrite the extent list at %#llx: %s\n", (unsigned long long)pa,
			 strerror(errno));
	close(fd);
	ksft_test_result(!memcmp(back, e, sizeof(e)),
			 "extents 1, 3, 5 (PFN) and 6 (index) of file 0 rewritten\n");
}

/* ---- the kernel log ---------------------------------------------------- */

/*
 * Number of records of this boot's kernel log that contain @needle, read
 * from /dev/kmsg; -errno if it cannot be read.
 */
static int kmsg_count(const char *needle)
{
	char rec[8192], *msg, *end;
	int fd, err = 0, nr = 0;
	ssize_t n;

	fd = open(HLU_KMSG, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) {
			ksft_print_msg("%s: records overwritten before they were read\n",
				       HLU_KMSG);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				err = -errno;
			break;
		}
		rec[n] = '\0';
		/* "level,seq,time,flags;text\n", then " KEY=value" lines */
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		end = strchr(++msg, '\n');
		if (end)
			*end = '\0';
		nr += !!strstr(msg, needle);
	}
	close(fd);
	return err ? err : nr;
}

/* One TAP line: exactly @nr records of the kernel log contain @needle. */
static void log_expect(const char *needle, int nr, const char *what)
{
	int seen = kmsg_count(needle);

	if (seen < 0)
		ksft_print_msg("read %s: %s\n", HLU_KMSG, strerror(-seen));
	else if (seen != nr)
		ksft_print_msg("kernel log: %d records with \"%s\", expected %d\n", seen, needle,
			       nr);
	ksft_test_result(seen == nr, "kernel log: %s\n", what);
}

/*
 * corrupt_file, after the kexec: the pool as at kexec, but for the 3 pages
 * of broken extents, which the next kernel could not restore, and for the
 * reservation of the file, whose record it refused.
 */
static void corrupt_expect(const struct hlu_state *st, struct hlu_pool *exp)
{
	static const unsigned int lost[HLU_CORRUPT_LOST] = { 1, 3, 5 };
	const struct hlu_file_rec *rec = &st->file[0];
	unsigned int i;
	int nid;

	for (i = 0; i < HLU_CORRUPT_LOST; i++) {
		nid = rec->nid[lost[i]];
		exp->all[rec->hsize].nr--;
		if (nid >= 0 && nid < HLU_MAX_NODES && exp->node_present[rec->hsize][nid])
			exp->node[rec->hsize][nid].nr--;
	}
	exp->all[rec->hsize].resv = 0;
}

/*
 * corrupt_file, after the kexec: the next kernel could not restore the 3
 * pages whose extents were broken, said so, and refuses to retrieve the
 * file; once the session is finished, every page it restored is back in
 * the free pool, and only the 3 refused ones are missing from it.
 */
static void check_bad_file(int sfd, const struct hlu_state *st, const char *name)
{
	const struct hlu_file_rec *rec = &st->file[0];
	struct hlu_pool exp = st->at_kexec;
	char line[160];
	int fd, ret, h, n;

	fd = hlu_retrieve(sfd, rec->token);
	if (fd != -EINVAL)
		ksft_print_msg("RETRIEVE_FD, corrupted extents: expected EINVAL, got %s\n",
			       fd >= 0 ? "an fd" : strerror(-fd));
	if (fd >= 0)
		close(fd);
	ksft_test_result(fd == -EINVAL,
			 "file 0 with 4 corrupted extents: RETRIEVE_FD fails with EINVAL\n");

	snprintf(line, sizeof(line), ": %d of %u pages unusable", HLU_CORRUPT_LOST,
		 rec->nr_pages);
	log_expect(line, 1, "boot counts the 3 pages of broken extents as unusable");
	log_expect(HLU_LOG "failed to retrieve file ", 1, "retrieve reports the failed file");

	ret = luo_session_finish(sfd);
	if (ret)
		ksft_print_msg("FINISH after a failed retrieve: expected 0, got %s\n",
			       strerror(-ret));
	ksft_test_result(!ret, "finish session %s after the failed retrieve\n", name);
	close(sfd);

	/* Total as at kexec but the refused pages, all of it free. */
	corrupt_expect(st, &exp);
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		exp.all[h].free = exp.all[h].nr;
		exp.all[h].resv = 0;
		exp.all[h].surp = 0;
		for (n = 0; n < HLU_MAX_NODES; n++) {
			exp.node[h][n].free = exp.node[h][n].nr;
			exp.node[h][n].surp = 0;
		}
	}
	pool_check(&exp, pool_mask(&st->at_kexec), true,
		   "restored pages back in the free pool, the 3 refused ones not (per node)");
}

/* ---- stage 1 pieces --------------------------------------------------- */

static void expect_refused(const char *what, int ret, int err)
{
	if (ret == 0) {
		ksft_print_msg("%s on a preserved memfd: expected EBUSY or EPERM, it succeeded\n",
			       what);
		ksft_test_result_fail("%s refused on preserved hugetlb memfd\n", what);
	} else if (err != EBUSY && err != EPERM) {
		ksft_print_msg("%s on a preserved memfd: expected EBUSY or EPERM, got %s\n",
			       what, strerror(err));
		ksft_test_result_fail("%s refused on preserved hugetlb memfd\n", what);
	} else {
		ksft_test_result_pass("%s refused on preserved hugetlb memfd (%s)\n", what,
				      strerror(err));
	}
}

/*
 * After preserve: size and layout are frozen, the data stays writable.
 * Returns false when the file was damaged (size changed) and must not be
 * touched through the mapping any more.
 */
static bool check_restrictions(struct hlu_file *f, const struct hlu_state *st)
{
	off_t size = f->len, hp = f->hs->size;
	unsigned int last = f->rec->nr_pages - 1;
	char *buf = malloc(HLU_BASE_PAGE);
	unsigned int p, i;
	struct stat sb;
	int ret;
	bool ok;

	ret = ftruncate(f->fd, size + hp);
	expect_refused("ftruncate (grow)", ret, errno);
	ret = fallocate(f->fd, 0, size, hp);
	expect_refused("fallocate beyond EOF", ret, errno);
	ret = fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, hp);
	expect_refused("fallocate(PUNCH_HOLE)", ret, errno);
	ret = ftruncate(f->fd, size - hp);
	expect_refused("ftruncate (shrink)", ret, errno);

	ok = !fstat(f->fd, &sb) && sb.st_size == size;
	if (!ok)
		ksft_print_msg("size after refused changes: expected %lld, seen %lld\n",
			       (long long)size, (long long)sb.st_size);
	ksft_test_result(ok, "preserved memfd keeps its size\n");
	pool_check_in_use(st, "refused changes leave the pool untouched (per node)");
	if (!ok || !buf) {
		free(buf);
		return false;
	}

	/* Writes through the existing shared mapping, first and last page. */
	ok = true;
	for (p = 0; p <= last; p += last ? last : 1) {
		char *dst = f->map + (size_t)p * hp;

		for (i = 0; i < HLU_BASE_PAGE; i++)
			dst[i] = (char)(0xa5 ^ i ^ p);
		if (pread(f->fd, buf, HLU_BASE_PAGE, (off_t)p * hp) != HLU_BASE_PAGE ||
		    memcmp(buf, dst, HLU_BASE_PAGE)) {
			ksft_print_msg("page %u: write through the mapping not seen by read()\n",
				       p);
			ok = false;
		}
		f->rec->hash[p] = page_hash(dst, hp, p);
		if (!last)
			break;
	}
	f->rec->file_hash = file_hash(f->rec);
	free(buf);
	ksft_test_result(ok, "writes through an existing MAP_SHARED mapping work after preserve\n");
	return true;
}

/*
 * The page a writer owns: slot 0 is its count, slot 1 + n % (slots - 1)
 * holds n once it is written. The count is stored after the slot.
 */
static void writer_run(__u64 *w, size_t slots)
{
	__u64 n = 0;

	for (;;) {
		n++;
		w[1 + n % (slots - 1)] = n;
		__atomic_store_n(&w[0], n, __ATOMIC_RELEASE);
		if (!(n & 0xffff))
			sched_yield();
	}
}

/* Fork the writer of the last page of @f; it runs until the kexec. */
static void writer_start(struct hlu_file *f, struct hlu_state *st)
{
	unsigned int p = f->rec->nr_pages - 1;
	__u64 *w = (__u64 *)(f->map + page_off(f->rec, p));
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		hlu_bail("fork of the writer: %s\n", strerror(errno));
	if (!pid) {
		setsid();
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		close(STDERR_FILENO);
		close(f->fd);
		writer_run(w, f->hs->size / sizeof(*w));
	}
	f->rec->live_page = p + 1;
	hlu_sleep_ms(200);
	st->writer_seq = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
	ksft_test_result(st->writer_seq > 0,
			 "writer pid %d writes page %u until the kexec (count %llu)\n", pid, p,
			 (unsigned long long)st->writer_seq);
}

/* Let the 2M pool grow by @nr surplus pages. */
static void overcommit(int nr)
{
	char path[128], val[16];
	int fd, len;

	snprintf(path, sizeof(path), "%s/hugepages-%s/nr_overcommit_hugepages",
		 HLU_HUGETLB_SYSFS, hlu_hsizes[HLU_2M].dir);
	len = snprintf(val, sizeof(val), "%d\n", nr);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, val, len) != len)
		hlu_bail("write %s: %s\n", path, strerror(errno));
	close(fd);
	ksft_print_msg("nr_overcommit_hugepages of 2M pages: %d\n", nr);
}

/* Spread the huge pages of the files over every NUMA node of the pool. */
static void interleave(const struct hlu_state *st)
{
	unsigned long mask = 0;
	int h, n;

	for (h = 0; h < HLU_NR_HSIZES; h++)
		for (n = 0; n < HLU_MAX_NODES; n++)
			if (st->baseline.node_present[h][n])
				mask |= 1UL << n;
	if (__builtin_popcountl(mask) < 2)
		hlu_bail("case numa: the pools span %d NUMA node(s), need 2\n",
			 __builtin_popcountl(mask));
	if (syscall(SYS_set_mempolicy, HLU_MPOL_INTERLEAVE, &mask, HLU_MAX_NODES + 1))
		hlu_bail("set_mempolicy(MPOL_INTERLEAVE): %s\n", strerror(errno));
	ksft_print_msg("huge pages interleaved over nodes mask %#lx\n", mask);
}

/* Number of NUMA nodes that hold pages of the files. */
static int files_nodes(const struct hlu_state *st)
{
	unsigned int i, p, mask = 0;

	for (i = 0; i < st->nr_files; i++)
		for (p = 0; p < st->file[i].nr_pages; p++)
			mask |= 1U << st->file[i].nid[p];
	return __builtin_popcount(mask);
}

/* Name of data session @k of the files handed to stage @stage. */
static void data_session_name(char *buf, size_t len, int k, int stage)
{
	char what[16];

	snprintf(what, sizeof(what), k ? "data%d" : "data", k);
	hlu_session_name(buf, len, what, stage);
}

/*
 * Create the data sessions that hand the files to stage @stage, or with
 * @retrieve, retrieve them in that stage (one TAP line each).
 */
static void sessions_open(int luo_fd, int stage, int *sfds, bool retrieve)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int k;

	for (k = 0; k < hlu_nr_sessions(hlu_case); k++) {
		data_session_name(name, sizeof(name), k, stage);
		sfds[k] = retrieve ? luo_retrieve_session(luo_fd, name) :
				     luo_create_session(luo_fd, name);
		if (sfds[k] < 0)
			hlu_bail("%s session %s: %s\n", retrieve ? "retrieve" : "create", name,
				 strerror(-sfds[k]));
		if (retrieve)
			ksft_test_result_pass("session %s retrieved\n", name);
	}
}

/* Finish and close the incoming data sessions: one TAP line each. */
static void sessions_finish(int stage, int *sfds, const char *how)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int k, ret;

	for (k = 0; k < hlu_nr_sessions(hlu_case); k++) {
		data_session_name(name, sizeof(name), k, stage);
		ret = luo_session_finish(sfds[k]);
		if (ret)
			ksft_print_msg("LIVEUPDATE_SESSION_FINISH: expected success, got %s\n",
				       strerror(-ret));
		ksft_test_result(!ret, "finish session %s%s\n", name, how);
		close(sfds[k]);
	}
}

static void stage1(int luo_fd)
{
	const struct hlu_case *c = hlu_case;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlu_file files[HLU_MAX_FILES];
	int sfds[HLU_MAX_SESSIONS], ns = hlu_nr_sessions(c);
	__u64 pfn[HLU_MAX_PAGES];
	struct hlu_state *st;
	bool preserved = true, intact = true;
	unsigned int need[HLU_NR_HSIZES] = { 0 };
	struct hlu_file_spec spec;
	int h, i, ret;

	st = calloc(1, sizeof(*st));
	if (!st)
		hlu_bail("calloc state\n");
	pool_read(&st->baseline);
	pool_print("stage 1 before", &st->baseline);

	/* All of a sparse file: its holes are reserved. */
	for (i = 0; i < c->nr_files; i++) {
		spec = hlu_spec(c, i);
		need[spec.hsize] += spec.nr_pages * (spec.stride ? spec.stride : 1);
	}
	if (c->flags & HLU_RESTRICT)
		need[HLU_2M] += 1;	/* an unrefused grow would need a free page */
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		const struct hlu_counters *a = &st->baseline.all[h];

		if (!(c->pool_mask & (1 << h)))
			continue;
		if (!st->baseline.present[h])
			ksft_exit_skip("no %s hugetlb page size on this machine/kernel\n",
				       hlu_hsizes[h].label);
		if (c->flags & HLU_SURPLUS)
			need[h] -= HLU_OVERCOMMIT;
		if (a->nr < need[h] || a->nr == 0 || a->free != a->nr || a->resv || a->surp)
			hlu_bail("%s pool: need %u+ free pages, saw %lld/%lld/%lld/%lld %s\n",
				 hlu_hsizes[h].label, need[h] ? need[h] : 1, (long long)a->nr,
				 (long long)a->free, (long long)a->resv, (long long)a->surp,
				 "total/free/resv/surplus");
	}
	ksft_test_result_pass("hugetlb pools configured for case %s\n", c->name);

	if (c->flags & HLU_INTERLEAVE)
		interleave(st);
	if (c->flags & HLU_SURPLUS)
		overcommit(HLU_OVERCOMMIT);

	for (i = 0; i < c->nr_files; i++) {
		const struct hlu_hsize *hs;

		spec = hlu_spec(c, i);
		hs = &hlu_hsizes[spec.hsize];
		ret = file_create(&files[i], &spec, &st->file[i], i);
		if (ret)
			hlu_bail("create %s hugetlb memfd of %u pages: %s\n", hs->label,
				 spec.nr_pages, strerror(-ret));
		st->nr_files++;
		ksft_test_result(file_locate(&files[i], "stage 1"),
				 "file %d: %u %s pages filled (hash %#llx), PFNs and nodes read\n",
				 i, spec.nr_pages, hs->label,
				 (unsigned long long)st->file[i].file_hash);
	}
	if (c->flags & HLU_INTERLEAVE)
		ksft_test_result(files_nodes(st) >= 2, "file pages on %d NUMA nodes\n",
				 files_nodes(st));
	/* Before preserve, which writes the file nodes; the pools go at kexec. */
	if (c->nr_files) {
		pool_check_in_use(st, "before preserve: file pages counted in use (per node)");
		sessions_open(luo_fd, 2, sfds, false);
	}
	for (i = 0; i < c->nr_files; i++) {
		ret = hlu_preserve(sfds[i % ns], files[i].fd, st->file[i].token);
		if (ret) {
			ksft_print_msg("PRESERVE_FD of a %s hugetlb memfd: expected 0, got %s\n",
				       files[i].hs->label, strerror(-ret));
			preserved = false;
		}
		data_session_name(name, sizeof(name), i % ns, 2);
		ksft_test_result(!ret, "preserve %s hugetlb memfd (%zu MiB) in session %s\n",
				 files[i].hs->label, files[i].len >> 20, name);
	}
	if (!preserved)
		hlu_bail("preserving hugetlb memfds failed: no live update to test\n");

	if (c->flags & HLU_RESTRICT)
		intact = check_restrictions(&files[0], st);
	if (!intact)
		hlu_bail("preserved file changed size: stopping\n");

	/* The PFNs compared after kexec are the ones right before it. */
	for (i = 0; i < c->nr_files; i++) {
		memcpy(pfn, st->file[i].pfn, st->file[i].nr_pages * sizeof(*pfn));
		ksft_test_result(file_locate(&files[i], "after preserve"),
				 "file %d: PFNs and nodes read after preserve\n", i);
		if (memcmp(pfn, st->file[i].pfn, st->file[i].nr_pages * sizeof(*pfn)))
			ksft_print_msg("file %d: note: PFNs changed by preserve\n", i);
	}
	if (c->nr_files)
		check_out_fdt(st);
	if (c->flags & HLU_CORRUPT_FILE)
		corrupt_extents(st);
	if (c->flags & HLU_WRITER)
		writer_start(&files[0], st);
	if (c->flags & HLU_NAMED)
		named_after_preserve(files);
	for (i = 0; i < c->nr_files; i++)
		file_unmap_close(&files[i]);
	if (c->nr_files)
		pool_check_in_use(st, "pages stay in use when only LUO holds the files (per node)");

	pool_read(&st->at_kexec);
	pool_print("stage 1 at kexec", &st->at_kexec);
	state_save(luo_fd, st, 2);
	if (!c->nr_files && (c->flags & HLU_NO_POOLS)) {
		size_t len;
		bool dir;
		void *blob = fdt_read(false, &len, &dir);

		check_no_fdt(false, blob, dir);
	}
	hlu_daemonize(luo_fd);
}

/* ---- stage 2+ --------------------------------------------------------- */

/* 0 if the call returned -1 with EPERM, else 1, said why. */
static int seal_refused(unsigned int i, const char *what, int ret)
{
	if (ret == -1 && errno == EPERM)
		return 0;
	ksft_print_msg("file %u: %s: expected EPERM from the seals, got %s\n", i, what,
		       ret ? strerror(errno) : "success");
	return 1;
}

/* The seals of retrieved file @i are in force, not only reported. */
static void check_seals(const struct hlu_file *f, unsigned int i)
{
	__u32 seals = f->rec->seals;
	int bad = 0, ret;
	void *m;

	if (seals & F_SEAL_SHRINK)
		bad += seal_refused(i, "shrink", ftruncate(f->fd, f->len - f->hs->size));
	if (seals & F_SEAL_GROW)
		bad += seal_refused(i, "grow", ftruncate(f->fd, f->len + f->hs->size));
	if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
		m = mmap(NULL, f->hs->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
		if (m != MAP_FAILED)
			munmap(m, f->hs->size);
		bad += seal_refused(i, "writable shared mmap", m == MAP_FAILED ? -1 : 0);
	}
	/*
	 * F_SEAL_EXEC reads back (above), but hugetlbfs itself does not check
	 * it on chmod, preserved file or not: nothing to test in force.
	 */
	ret = fcntl(f->fd, F_ADD_SEALS, F_SEAL_SEAL);
	if (seals & F_SEAL_SEAL) {
		bad += seal_refused(i, "F_ADD_SEALS", ret);
	} else if (ret) {
		ksft_print_msg("file %u: F_ADD_SEALS on a sealable file: %s\n", i,
			       strerror(errno));
		bad++;
	}
	ksft_test_result(!bad, "file %u: seals %#x in force after retrieve (%d not)\n", i,
			 seals, bad);
}

/*
 * After the update, the writer's page holds its last writes: a count past
 * the one seen when the state was saved, every slot consistent with it.
 */
static void writer_check(const struct hlu_file *f, const struct hlu_state *st)
{
	const __u64 *w = (const __u64 *)(f->map + page_off(f->rec, f->rec->live_page - 1));
	size_t slots = f->hs->size / sizeof(*w), i;
	__u64 n = w[0];
	unsigned int bad = 0;

	for (i = 1; i < slots; i++) {
		/* Written by the writer (never 0 afterwards), or still the fill. */
		if (w[i] <= n + 1 && w[i] && 1 + w[i] % (slots - 1) != i)
			bad++;
	}
	if (n && w[1 + n % (slots - 1)] != n)
		bad++;
	ksft_print_msg("writer: count %llu at state save, %llu after the update (+%llu)\n",
		       (unsigned long long)st->writer_seq, (unsigned long long)n,
		       (unsigned long long)(n - st->writer_seq));
	ksft_test_result(n > st->writer_seq && !bad,
			 "writes made until the kexec are there (%u slots inconsistent)\n", bad);
}

/* Whether huge page @idx of @f's mapping has a page table entry. */
static int page_mapped(const struct hlu_file *f, int pm, size_t idx)
{
	unsigned long va = (unsigned long)f->map + idx * f->hs->size;
	__u64 e = 0;

	if (pread(pm, &e, sizeof(e), (va / HLU_BASE_PAGE) * sizeof(e)) != sizeof(e))
		return -1;
	return e >> 63;
}

/* Holes of a retrieved sparse file: not backed by any page, read as zeros. */
static void check_holes(const struct hlu_file *f)
{
	const struct hlu_file_rec *rec = f->rec;
	unsigned int nr_holes = rec->file_pages - rec->nr_pages, present = 0, nonzero = 0;
	size_t idx, off;
	char *buf;
	int pm;

	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		hlu_bail("open pagemap: %s\n", strerror(errno));
	for (idx = 0; idx < rec->file_pages; idx++)
		if (idx % rec->stride && page_mapped(f, pm, idx))
			present++;
	close(pm);
	ksft_test_result(!present, "%u holes of %u are still holes (%u mapped)\n",
			 nr_holes, rec->file_pages, present);

	/* read() of a hole returns zeros and allocates nothing. */
	buf = malloc(f->hs->size);
	if (!buf)
		hlu_bail("malloc\n");
	for (idx = 1; idx < rec->file_pages; idx += rec->stride) {
		memset(buf, 0xa5, f->hs->size);
		if (pread(f->fd, buf, f->hs->size, idx * f->hs->size) != (ssize_t)f->hs->size) {
			nonzero++;
			continue;
		}
		for (off = 0; off < f->hs->size; off += sizeof(__u64))
			if (*(__u64 *)(buf + off)) {
				nonzero++;
				break;
			}
	}
	free(buf);
	ksft_test_result(!nonzero, "read() of %u holes returns zeros (%u do not)\n",
			 rec->nr_pages, nonzero);
}

/* Retrieve, map and compare every file; @files keep fds and mappings. */
static void verify_files(const int *sfds, struct hlu_state *st, struct hlu_file *files)
{
	__s32 nid[HLU_MAX_PAGES];
	__u64 pfn[HLU_MAX_PAGES];
	unsigned int i, p;
	struct stat sb;
	int fd, ret;
	off_t pos;

	for (i = 0; i < st->nr_files; i++) {
		struct hlu_file *f = &files[i];
		struct hlu_file_rec *rec = &st->file[i];
		unsigned int bad_hash = 0, bad_pfn = 0;

		f->hs = &hlu_hsizes[rec->hsize];
		f->rec = rec;
		f->len = (size_t)rec->file_pages * f->hs->size;
		f->map = NULL;
		fd = hlu_retrieve(sfds[i % hlu_nr_sessions(hlu_case)], rec->token);
		f->fd = fd;
		if (fd < 0) {
			ksft_print_msg("RETRIEVE_FD token %#llx: expected an fd, got %s\n",
				       (unsigned long long)rec->token, strerror(-fd));
			hlu_bail("retrieve %s hugetlb memfd\n", f->hs->label);
		}
		ksft_test_result_pass("file %u: retrieved %s hugetlb memfd\n", i, f->hs->label);

		ret = fstat(fd, &sb);
		if (ret || sb.st_size != (off_t)f->len || sb.st_blksize != (long)f->hs->size)
			ksft_print_msg("file %u: expected size %zu blksize %lu, seen %lld %ld\n",
				       i, f->len, f->hs->size, (long long)sb.st_size,
				       (long)sb.st_blksize);
		ksft_test_result(!ret && sb.st_size == (off_t)f->len &&
				 sb.st_blksize == (long)f->hs->size,
				 "file %u: size %zu MiB and %s page size preserved\n", i,
				 f->len >> 20, f->hs->label);
		if (hlu_case->flags & HLU_NAMED)
			ksft_test_result(!ret && sb.st_nlink == 0,
					 "file %u: a named file comes back as a memfd (nlink %lu)\n",
					 i, (unsigned long)sb.st_nlink);

		ret = fcntl(fd, F_GET_SEALS);
		pos = lseek(fd, 0, SEEK_CUR);
		if (ret < 0 || (__u32)ret != rec->seals || pos != (off_t)rec->pos)
			ksft_print_msg("file %u: expected seals %#x pos %llu, seen %#x %lld\n",
				       i, rec->seals, (unsigned long long)rec->pos, ret,
				       (long long)pos);
		ksft_test_result(ret >= 0 && (__u32)ret == rec->seals && pos == (off_t)rec->pos,
				 "file %u: seals %#x and file position %llu preserved\n", i,
				 rec->seals, (unsigned long long)rec->pos);

		ret = file_map(f);
		if (ret) {
			ksft_print_msg("mmap of the retrieved file: %s (ENOMEM: reserved again?)\n",
				       strerror(-ret));
			hlu_bail("file %u: mmap retrieved hugetlb memfd\n", i);
		}
		for (p = 0; p < rec->nr_pages; p++) {
			__u64 h;

			/* The writer's page is checked on its own, mapped all the same. */
			if (p + 1 == rec->live_page) {
				page_touch(f->map + page_off(rec, p));
				continue;
			}
			h = page_hash(f->map + page_off(rec, p), f->hs->size, p);

			if (h != rec->hash[p] && bad_hash++ < 4)
				ksft_print_msg("file %u page %u: hash expected %#llx, seen %#llx\n",
					       i, p, (unsigned long long)rec->hash[p],
					       (unsigned long long)h);
		}
		ksft_test_result(!bad_hash, "file %u: content of all %u pages equal (%u differ)\n",
				 i, rec->nr_pages, bad_hash);

		ret = file_pfns(f, pfn);
		for (p = 0; !ret && p < rec->nr_pages; p++) {
			if (pfn[p] != rec->pfn[p] && bad_pfn++ < 4)
				ksft_print_msg("file %u page %u: PFN expected %#llx, seen %#llx\n",
					       i, p, (unsigned long long)rec->pfn[p],
					       (unsigned long long)pfn[p]);
		}
		ksft_test_result(!ret && !bad_pfn, "file %u: every PFN equal (%u differ)\n",
				 i, bad_pfn);
		ret = file_nodes(f, nid, "after retrieve");
		for (p = 0; ret && p < rec->nr_pages; p++)
			ret = nid[p] == rec->nid[p];
		ksft_test_result(ret, "file %u: every page on the NUMA node it was on\n", i);
		if (rec->stride > 1)
			check_holes(f);
		if (rec->live_page)
			writer_check(f, st);
		if (hlu_spec(hlu_case, i).seals)
			check_seals(f, i);
	}
	pool_check_in_use(st, "retrieved and mapped: pages in use, as reserved before (per node)");
	pool_check(&st->at_kexec, pool_mask(&st->at_kexec), true,
		   "retrieved and mapped: pool as before kexec (per node)");
}

/*
 * New hugetlb memfds made in this kernel, once the preserved files are gone,
 * must not inherit anything: their size and layout change freely.
 */
static void check_new_memfds(const struct hlu_state *st)
{
	unsigned int hmask = pool_mask(&st->baseline);
	int h, i, fd, bad = 0, tried = 0;

	for (h = 0; h < HLU_NR_HSIZES; h++) {
		const struct hlu_hsize *hs = &hlu_hsizes[h];

		/* A page of the size must be free for fallocate. */
		if (!(hmask & (1U << h)) || st->baseline.all[h].free < 1)
			continue;
		for (i = 0; i < 8; i++) {
			tried++;
			fd = memfd_create("hugetlb_lu_new", MFD_HUGETLB | hs->mfd_flag);
			if (fd < 0) {
				ksft_print_msg("new %s memfd: %s\n", hs->label, strerror(errno));
				bad++;
				continue;
			}
			if (ftruncate(fd, hs->size) ||
			    fallocate(fd, 0, 0, hs->size) ||
			    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				      hs->size) ||
			    ftruncate(fd, 0)) {
				ksft_print_msg("new %s memfd %d: resize/fallocate: %s\n",
					       hs->label, i, strerror(errno));
				bad++;
			}
			close(fd);
		}
	}
	ksft_test_result(tried && !bad,
			 "%d new hugetlb memfds: ftruncate, fallocate and punch-hole work\n",
			 tried);
	pool_check(&st->baseline, hmask, true,
		   "new memfds closed: pool as before (free == total, per node)");
}

static void stage_next(int luo_fd, int stage)
{
	const struct hlu_case *c = hlu_case;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlu_file files[HLU_MAX_FILES];
	int sfds[HLU_MAX_SESSIONS];
	struct hlu_state *st;
	struct hlu_pool now, exp;
	unsigned int i;
	int h, sfd, ret;
	size_t fdt_len;
	void *fdt;
	bool dir;

	/* Before anything is finished that could let the kernel free it. */
	fdt = fdt_read(true, &fdt_len, &dir);

	st = calloc(1, sizeof(*st));
	if (!st)
		hlu_bail("calloc state\n");
	state_load(luo_fd, st, stage);

	pool_read(&now);
	pool_print("after kexec", &now);
	exp = st->at_kexec;
	if (hlu_case->flags & HLU_CORRUPT_FILE)
		corrupt_expect(st, &exp);
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		if (!st->at_kexec.present[h])
			continue;
		pool_check(&exp, 1 << h, true, hlu_hsizes[h].label[0] == '2' ?
			   "2M pool after kexec as before (total/free/resv/surplus, per node)" :
			   "1G pool after kexec as before (total/free/resv/surplus, per node)");
	}
	if (!st->nr_files && (c->flags & HLU_NO_POOLS))
		check_no_fdt(true, fdt, dir);
	else
		check_fdt(st, true, fdt, fdt_len, dir);

	if (!st->nr_files)
		hlu_exit();

	sessions_open(luo_fd, stage, sfds, true);
	sfd = sfds[0];
	data_session_name(name, sizeof(name), 0, stage);

	if (c->flags & HLU_CORRUPT_FILE) {
		check_bad_file(sfd, st, name);
		hlu_exit();
	}

	verify_files(sfds, st, files);

	if (stage < c->hops) {
		/* Finish the incoming sessions, keep the files, hand them on. */
		sessions_finish(stage, sfds, ", files kept open");
		pool_check_in_use(st, "pages in use after finish, files open (per node)");

		sessions_open(luo_fd, stage + 1, sfds, false);
		for (i = 0; i < st->nr_files; i++) {
			ret = hlu_preserve(sfds[i % hlu_nr_sessions(c)], files[i].fd,
					   st->file[i].token);
			if (ret)
				ksft_print_msg("preserve of retrieved memfd: expected 0, got %s\n",
					       strerror(-ret));
			ksft_test_result(!ret, "file %u: preserved again for stage %d\n", i,
					 stage + 1);
			if (ret)
				hlu_bail("re-preserve failed\n");
		}
		/* Same file nodes as in stage 1: the PFNs, seals and pos did not move. */
		check_out_fdt(st);
		for (i = 0; i < st->nr_files; i++)
			file_unmap_close(&files[i]);
		pool_check_in_use(st, "pages stay in use when only LUO holds the files (per node)");
		pool_read(&st->at_kexec);
		pool_print("at kexec", &st->at_kexec);
		state_save(luo_fd, st, stage + 1);
		hlu_daemonize(luo_fd);
	}

	for (i = 0; i < st->nr_files; i++)
		file_unmap_close(&files[i]);
	pool_check_in_use(st, "closed: pages in use until the session is finished (per node)");
	sessions_finish(stage, sfds, "");
	pool_check(&st->baseline, pool_mask(&st->baseline), true,
		   "closed and finished: pages back in the free pool (free == total, per node)");
	check_new_memfds(st);
	hlu_exit();
}

static void usage(const char *prog)
{
	size_t i;

	printf("%s --case NAME --stage N\ncases:", prog);
	for (i = 0; i < ARRAY_SIZE(hlu_cases); i++)
		printf(" %s", hlu_cases[i].name);
	printf("\n");
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "stage", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL;
	int opt, stage = 0, luo_fd;
	size_t i;

	while ((opt = getopt_long(argc, argv, "c:s:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			name = optarg;
			break;
		case 's':
			stage = atoi(optarg);
			break;
		default:
			usage(argv[0]);
			return KSFT_FAIL;
		}
	}
	for (i = 0; name && i < ARRAY_SIZE(hlu_cases); i++)
		if (!strcmp(name, hlu_cases[i].name))
			hlu_case = &hlu_cases[i];
	if (!hlu_case || stage < 1 || stage > hlu_case->hops) {
		usage(argv[0]);
		return KSFT_FAIL;
	}

	ksft_print_header();
	ksft_print_msg("hugetlb_lu: case %s, stage %d of %d\n", hlu_case->name, stage,
		       hlu_case->hops);

	luo_fd = luo_open_device();
	if (luo_fd < 0 && errno == ENOENT)
		ksft_exit_skip("no %s (kernel booted without liveupdate=on?)\n", LUO_DEVICE);
	if (luo_fd < 0)
		hlu_bail("open %s: %s\n", LUO_DEVICE, strerror(errno));
	if (stage == 1)
		stage1(luo_fd);
	else
		stage_next(luo_fd, stage);
	return KSFT_FAIL;	/* not reached */
}
