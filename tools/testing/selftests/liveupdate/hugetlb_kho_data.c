// SPDX-License-Identifier: GPL-2.0-only

/*
 * The hand-over data of hugetlb live update, the KHO FDT subtree "hugetlb"
 * of include/linux/kho/abi/hugetlb.h, before and after one live update.
 *
 * Usage: hugetlb_kho_data [-g] [-p] [-c] [-s STAGE]
 *
 * Stage 1 preserves a memfd of HK_NR_2M pages of 2 MiB, sealed and at a
 * file position of its own; with -g a memfd of a 1 GiB page too, and with
 * -p a pool file (a hugetlbfs mount root) for every huge page size. There
 * is no outgoing subtree before the first hugetlb file is preserved, an
 * empty one after a pool file, and after the memfds one file-<id> node per
 * memfd with its order, size, seals, position, page count, extent count
 * (as the PFNs in pagemap make it) and range count, and no pool node (those
 * are written at the freeze). The pools count the files' pages in use, per
 * node, before preserve and once only LUO holds the files; the counters of
 * every size and node are recorded right before the kexec.
 *
 * Stage 2 reads the incoming subtree first: the same file nodes, and for
 * each page size the nodes hstate-<order>/node-<nid>: free pages as at
 * kexec (none without a pool file), in-use pages as at kexec and as the
 * files have on that node, surplus as at kexec, an address exactly where a
 * list has entries, no more runs than free pages. The lists are in KHO
 * memory, out of reach: their PFNs are checked through pagemap once the
 * files are retrieved. With the pool files the pools are as at kexec; once
 * the files are closed and the session finished, every page is free.
 *
 * -c: a sparse 2 MiB memfd of HK_CORRUPT pages, each its own extent, and
 * the pool files, instead. After preserve its extent list is read through
 * /dev/mem (CONFIG_DEVMEM=y, CONFIG_STRICT_DEVMEM=n), must match pagemap,
 * and 4 extents are rewritten: 3 with a bad PFN (one KHO did not preserve,
 * a duplicate, beyond memory), 1 with an index past the end of the file.
 * The next kernel must refuse
 * the 3 pages in one log line, keep the other 5, fail the retrieve with
 * EINVAL and say so, and put the 5 in the free pool at finish.
 *
 * That nothing preserved means no subtree at all, before the kexec and
 * after it, is checked by hugetlb_pools -N.
 *
 * The options are for stage 1 and go first; stage 2 reads them from the
 * record. Stage 1 also makes sure the 2 MiB pool has the pages it needs;
 * -g fails without a free 1 GiB page. The subtree is parsed with libfdt:
 * the kselftest Makefile builds this with -DHK_HAVE_LIBFDT -lfdt when
 * /usr/include/libfdt.h exists. Built without it (vmtest.sh builds against
 * nolibc) the test skips. It reads /sys/kernel/debug/kho (debugfs, mounted
 * here if needed; CONFIG_KEXEC_HANDOVER_DEBUGFS=y) and sysfs.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugetlb_util.h"

#define HK_STATE_SESSION	"hugetlb_kho_data_state"
#define HK_STATE_TOKEN		999
#define HK_SESSION		"hugetlb-kho-data"
#define HK_RECORD_TOKEN		100
#define HK_FILE_TOKEN		1	/* + file index */
#define HK_POOL_TOKEN		10	/* + page size index */
#define HK_MAGIC		0x484b4431	/* "HKD1" */

/* Options of stage 1, kept in the record. */
#define HK_GIANT		0x1	/* -g: a 1 GiB-page memfd too */
#define HK_POOLS		0x2	/* -p: a pool file for every page size */
#define HK_CORRUPT_FILE		0x4	/* -c: the corrupted extents case */

static unsigned int hk_opts;

#ifdef HK_HAVE_LIBFDT

#include <ctype.h>
#include <endian.h>
#include <libfdt.h>

#define HK_NR_2M		16
#define HK_SEALS_2M		(F_SEAL_SHRINK | F_SEAL_GROW)
#define HK_BASE_PAGE		4096UL
#define HK_MNT			"/dev/hugetlb_kho_data"	/* + "-<size>" */

#define HK_DEBUGFS		"/sys/kernel/debug"
#define HK_KHO			HK_DEBUGFS "/kho"
#define HK_DEVMEM		"/dev/mem"

/*
 * -c: a file of HK_CORRUPT pages, one every other huge page, so that each
 * is an extent of its own. Extent 1 gets the PFN of a huge page KHO did
 * not preserve (HK_NOT_KHO_PFN), extent 3 the PFN of extent 0, extent 5 a
 * PFN beyond memory: the next kernel cannot restore these HK_LOST pages.
 * Extent 6 gets an index past the end of the file: restored, but the
 * record is invalid. (Extents count in huge pages: no PFN or index they
 * can express is unaligned.)
 */
#define HK_CORRUPT		8
#define HK_CORRUPT_STRIDE	2
#define HK_LOST			3
#define HK_BEYOND_PFN		0x10000000000ULL	/* 4 PiB of 4 KiB pages */
#define HK_NOT_KHO_PFN		0x200ULL	/* 2 MiB: below the kernel */

/* Lines of mm/hugetlb_luo.c in the kernel log, pr_fmt() included. */
#define HK_LOG			"hugetlb_luo: "

/* The subtree, as in include/linux/kho/abi/hugetlb.h */
#define HK_FDT_NAME		"hugetlb"
#define HK_FDT_COMPAT		"hugetlb-v3"
#define HK_FDT_HSTATE		"hstate-"
#define HK_FDT_NODE		"node-"
#define HK_FDT_FILE		"file-"
#define HK_FDT_ORDER		"order"
#define HK_FDT_NID		"nid"
#define HK_FDT_SURPLUS		"surplus"
#define HK_FDT_NR_FREE		"nr-free"
#define HK_FDT_NR_IN_USE	"nr-in-use"
#define HK_FDT_NR_RUNS		"nr-runs"
#define HK_FDT_RUNS		"free-runs"
#define HK_FDT_SEALS		"seals"
#define HK_FDT_SIZE		"size"
#define HK_FDT_POS		"pos"
#define HK_FDT_NR_FOLIOS	"nr-folios"
#define HK_FDT_NR_EXTENTS	"nr-extents"
#define HK_FDT_EXTENTS		"extents"
#define HK_FDT_NR_RANGES	"nr-ranges"
#define HK_FDT_RESERVED		"reserved"
#define HK_FDT_ALL_SEALS	0x3fU	/* F_SEAL_SEAL up to F_SEAL_EXEC */

/*
 * struct hugetlb_luo_extent_ser, after a struct kho_block_header_ser: PFN
 * and index in huge pages.
 */
struct hk_extent {
	uint32_t pfn;
	uint32_t index;
	uint32_t nr;
};

/* What stage 1 hands to stage 2; file i is preserved as HK_FILE_TOKEN + i. */
struct hk_record {
	uint64_t magic;
	uint32_t opts;
	struct ht_set set;
};

/* @p with every page free and nothing reserved or surplus. */
static void hk_pool_all_free(struct ht_pools *p)
{
	int h, n;

	for (h = 0; h < HT_NR_SIZES; h++) {
		p->all[h].free = p->all[h].nr;
		p->all[h].resv = 0;
		p->all[h].surp = 0;
		for (n = 0; n < HT_MAX_NODES; n++) {
			p->node[h][n].free = p->node[h][n].nr;
			p->node[h][n].surp = 0;
		}
	}
}

/*
 * What @p (the pools at the kexec) leaves in a next kernel booted without
 * hugepages= when no pool file went along: the file pages, in use.
 */
static void hk_pool_files_only(struct ht_pools *p)
{
	int h, n;

	for (h = 0; h < HT_NR_SIZES; h++) {
		p->all[h].nr -= p->all[h].free;
		p->all[h].free = 0;
		for (n = 0; n < HT_MAX_NODES; n++) {
			p->node[h][n].nr -= p->node[h][n].free;
			p->node[h][n].free = 0;
		}
	}
}

/* ---- the files -------------------------------------------------------- */

/* The word that stage 1 writes first in present page @p of file @i. */
static uint64_t hk_word(unsigned int i, unsigned int p)
{
	return (uint64_t)(HK_FILE_TOKEN + i) << 32 | p;
}

/*
 * Memfd @i of @nr pages of size @h, page p at huge page p * @stride,
 * mapped shared at *@map (which reserves the whole file), its pages
 * written, @seals added and its position set; recorded in @f.
 */
static int hk_file_make(struct ht_file *f, int i, int h, unsigned int nr,
			unsigned int stride, unsigned int seals, char **map)
{
	unsigned int p;
	int fd;

	f->size = h;
	f->nr_pages = nr;
	f->stride = stride;
	fd = ht_memfd("hugetlb_kho_data", ht_file_len(f),
		      ht_sizes[h].mfd_flag | (seals ? MFD_ALLOW_SEALING : 0));
	*map = ht_map(fd, ht_file_len(f), PROT_READ | PROT_WRITE, 0);
	for (p = 0; p < nr; p++)
		*(uint64_t *)ht_file_page(f, *map, p) = hk_word(i, p);
	if (seals && ht_fcntl(fd, F_ADD_SEALS, seals))
		fail_exit("add seals %#x to file %d", seals, i);
	f->seals = ht_fcntl(fd, F_GET_SEALS, 0);
	f->pos = (int64_t)(i + 1) * HT_POS_STEP;
	if (lseek(fd, f->pos, SEEK_SET) != f->pos)
		fail_exit("lseek file %d", i);
	return fd;
}

/* The extents the PFNs of @f make, as the kernel counts them. */
static unsigned int hk_nr_extents(const struct ht_file *f)
{
	uint64_t step = ht_sizes[f->size].size / HK_BASE_PAGE;
	unsigned int p, nr = 0;

	/* Contiguous in memory and in the file: one extent. */
	for (p = 0; p < f->nr_pages; p++) {
		if (!p || f->stride != 1 || f->pfn[p] != f->pfn[p - 1] + step)
			nr++;
	}
	return nr;
}

/* Pages of size @h of the files of @rec on node @nid (any if < 0). */
static uint64_t hk_files_pages(const struct hk_record *rec, int h, int nid)
{
	const struct ht_file *f;
	unsigned int p;
	uint64_t n = 0;
	int i;

	for (i = 0; i < rec->set.nr_files; i++) {
		f = &rec->set.file[i];
		if (f->size != (uint32_t)h)
			continue;
		for (p = 0; p < f->nr_pages; p++)
			n += nid < 0 || f->nid[p] == nid;
	}
	return n;
}

/* ---- the subtree in debugfs -------------------------------------------- */

/* Mount debugfs where nobody did; false if the kernel shows no KHO there. */
static bool hk_debugfs(void)
{
	ht_mount_sysfs();
	if (access(HK_KHO, F_OK) &&
	    mount("debugfs", HK_DEBUGFS, "debugfs", 0, NULL) && errno != EBUSY)
		fail_exit("mount debugfs on " HK_DEBUGFS);
	return !access(HK_KHO "/out/sub_fdts", F_OK);
}

/* The whole file at @path, *@len bytes; NULL if it cannot be opened. */
static void *hk_read_blob(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf, *nb;
	ssize_t r;
	int fd;

	*len = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf)
		fail_exit("malloc");
	for (;;) {
		if (n == cap) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				fail_exit("realloc");
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0)
			fail_exit("read %s", path);
		if (!r)
			break;
		n += r;
	}
	close(fd);
	*len = n;
	return buf;
}

static void *hk_fdt_read(bool in, size_t *len)
{
	return hk_read_blob(in ? HK_KHO "/in/sub_fdts/" HK_FDT_NAME :
				 HK_KHO "/out/sub_fdts/" HK_FDT_NAME, len);
}

static const char *hk_which(bool in)
{
	return in ? "incoming" : "outgoing";
}

/* Nothing hugetlb preserved yet: no outgoing subtree at all. */
static void hk_check_no_fdt(void *blob)
{
	if (access(HK_KHO "/out/sub_fdts", F_OK))
		fail_exit("no %s/out/sub_fdts: debugfs not mounted or no KHO",
			  HK_KHO);
	if (blob)
		fail_exit("outgoing KHO subtree '%s' exists, nothing asked for one",
			  HK_FDT_NAME);
	ksft_print_msg("no outgoing KHO subtree '%s' when nothing asked for one\n",
		       HK_FDT_NAME);
}

/* @name is @prefix followed by a decimal number, nothing else. */
static bool hk_name_num(const char *name, const char *prefix,
			unsigned long long *num)
{
	size_t n = strlen(prefix);
	char *end;

	if (!name || strncmp(name, prefix, n) ||
	    !isdigit((unsigned char)name[n]))
		return false;
	errno = 0;
	*num = strtoull(name + n, &end, 10);
	return !errno && !*end;
}

static bool hk_fdt_is_file(const void *fdt, int off)
{
	unsigned long long id;

	return hk_name_num(fdt_get_name(fdt, off, NULL), HK_FDT_FILE, &id);
}

/* Properties are big-endian and only 4-byte aligned: fdt32_ld()/fdt64_ld(). */
static bool hk_fdt_u32(const void *fdt, int off, const char *name,
		       uint32_t *val)
{
	const fdt32_t *p;
	int len;

	p = fdt_getprop(fdt, off, name, &len);
	if (!p || len != sizeof(*p))
		return false;
	*val = fdt32_ld(p);
	return true;
}

static bool hk_fdt_u64(const void *fdt, int off, const char *name,
		       uint64_t *val)
{
	const fdt64_t *p;
	int len;

	p = fdt_getprop(fdt, off, name, &len);
	if (!p || len != sizeof(*p))
		return false;
	*val = fdt64_ld(p);
	return true;
}

static int hk_bad_prop(const char *node, const char *prop)
{
	ksft_print_msg("FDT: %s: property '%s' missing or malformed\n", node,
		       prop);
	return 1;
}

/* A count and the address of its list: both there, an address iff entries. */
static int hk_verify_list(const void *fdt, int off, const char *node,
			  const char *count, const char *list)
{
	uint64_t nr, pa;

	if (!hk_fdt_u64(fdt, off, count, &nr))
		return hk_bad_prop(node, count);
	if (!hk_fdt_u64(fdt, off, list, &pa))
		return hk_bad_prop(node, list);
	if (!nr != !pa) {
		ksft_print_msg("FDT: %s: %s %llu but %s at %#llx\n", node, count,
			       (unsigned long long)nr, list,
			       (unsigned long long)pa);
		return 1;
	}
	return 0;
}

static int hk_verify_hstate(const void *fdt, int hs, const char *name,
			    unsigned long long order)
{
	unsigned long long nid;
	const char *nname;
	int nd, bad = 0;
	uint32_t val;
	uint64_t v64;

	if (!hk_fdt_u32(fdt, hs, HK_FDT_ORDER, &val) || val != order)
		bad += hk_bad_prop(name, HK_FDT_ORDER);
	fdt_for_each_subnode(nd, fdt, hs) {
		nname = fdt_get_name(fdt, nd, NULL);
		if (!hk_name_num(nname, HK_FDT_NODE, &nid)) {
			ksft_print_msg("FDT: %s: unexpected node '%s'\n", name,
				       nname ? nname : "?");
			bad++;
			continue;
		}
		if (!hk_fdt_u32(fdt, nd, HK_FDT_NID, &val) || val != nid)
			bad += hk_bad_prop(nname, HK_FDT_NID);
		if (!hk_fdt_u32(fdt, nd, HK_FDT_SURPLUS, &val))
			bad += hk_bad_prop(nname, HK_FDT_SURPLUS);
		if (!hk_fdt_u64(fdt, nd, HK_FDT_NR_FREE, &v64))
			bad += hk_bad_prop(nname, HK_FDT_NR_FREE);
		if (!hk_fdt_u64(fdt, nd, HK_FDT_NR_IN_USE, &v64))
			bad += hk_bad_prop(nname, HK_FDT_NR_IN_USE);
		bad += hk_verify_list(fdt, nd, nname, HK_FDT_NR_RUNS,
				      HK_FDT_RUNS);
	}
	return bad;
}

static int hk_verify_file(const void *fdt, int off, const char *name)
{
	uint64_t v64, ext;
	int bad = 0;
	uint32_t v32;

	if (!hk_fdt_u32(fdt, off, HK_FDT_ORDER, &v32))
		bad += hk_bad_prop(name, HK_FDT_ORDER);
	if (!hk_fdt_u32(fdt, off, HK_FDT_SEALS, &v32) ||
	    v32 & ~HK_FDT_ALL_SEALS)
		bad += hk_bad_prop(name, HK_FDT_SEALS);
	if (!hk_fdt_u64(fdt, off, HK_FDT_SIZE, &v64))
		bad += hk_bad_prop(name, HK_FDT_SIZE);
	if (!hk_fdt_u64(fdt, off, HK_FDT_POS, &v64))
		bad += hk_bad_prop(name, HK_FDT_POS);
	if (!hk_fdt_u64(fdt, off, HK_FDT_NR_FOLIOS, &v64)) {
		bad += hk_bad_prop(name, HK_FDT_NR_FOLIOS);
	} else if (hk_fdt_u64(fdt, off, HK_FDT_NR_EXTENTS, &ext) && ext > v64) {
		ksft_print_msg("FDT: %s: %llu extents for %llu pages\n", name,
			       (unsigned long long)ext, (unsigned long long)v64);
		bad++;
	}
	bad += hk_verify_list(fdt, off, name, HK_FDT_NR_EXTENTS,
			      HK_FDT_EXTENTS);
	bad += hk_verify_list(fdt, off, name, HK_FDT_NR_RANGES,
			      HK_FDT_RESERVED);
	return bad;
}

/*
 * The layout of the tree: a valid FDT of this version whose nodes are
 * hstate-<order> (only @in: the outgoing tree gets them at the freeze) and
 * @nr_files file-<id>. Fails unless it is all well formed.
 */
static void hk_fdt_verify(const void *fdt, size_t len, unsigned int nr_files,
			  bool in)
{
	unsigned int files = 0, pools = 0;
	unsigned long long id;
	const char *name;
	const void *prop;
	int off, plen, bad = 0;

	if (len < sizeof(struct fdt_header) || fdt_check_header(fdt) ||
	    fdt_totalsize(fdt) > len)
		fail_exit("%s FDT: invalid header (magic %#x, %zu bytes read)",
			  hk_which(in),
			  len >= 4 ? be32toh(*(const uint32_t *)fdt) : 0, len);
	prop = fdt_getprop(fdt, 0, "compatible", &plen);
	if (fdt_node_check_compatible(fdt, 0, HK_FDT_COMPAT))
		fail_exit("%s FDT: root compatible is '%.*s', expected '%s'",
			  hk_which(in), prop ? plen : 6,
			  prop ? (const char *)prop : "(none)", HK_FDT_COMPAT);
	fdt_for_each_subnode(off, fdt, 0) {
		name = fdt_get_name(fdt, off, NULL);
		if (hk_name_num(name, HK_FDT_HSTATE, &id)) {
			bad += hk_verify_hstate(fdt, off, name, id);
			pools++;
		} else if (hk_name_num(name, HK_FDT_FILE, &id)) {
			bad += hk_verify_file(fdt, off, name);
			files++;
		} else {
			ksft_print_msg("FDT: unexpected node '%s'\n",
				       name ? name : "?");
			bad++;
		}
	}
	if (files != nr_files) {
		ksft_print_msg("FDT: %u file nodes, expected %u (one per preserved file)\n",
			       files, nr_files);
		bad++;
	}
	if (!in && pools) {
		ksft_print_msg("FDT: %u hstate nodes before the freeze\n", pools);
		bad++;
	}
	if (bad)
		fail_exit("%s KHO FDT subtree '%s': %d problems", hk_which(in),
			  HK_FDT_NAME, bad);
	ksft_print_msg("%s KHO FDT subtree '%s' is '%s': %u file nodes, %u hstate nodes\n",
		       hk_which(in), HK_FDT_NAME, HK_FDT_COMPAT, files, pools);
}

static bool hk_same(bool print, const char *node, const char *what,
		    uint64_t exp, uint64_t got)
{
	if (exp == got)
		return true;
	if (print)
		ksft_print_msg("  %s: %s is %#llx, expected %#llx\n", node, what,
			       (unsigned long long)got, (unsigned long long)exp);
	return false;
}

/*
 * The file node at @off describes @f: order, size, seals, pos, one folio
 * per page present, the extents its PFNs make, and one reserved range over
 * the whole file, which its shared mapping reserved. @print: say where not.
 */
static bool hk_file_is(const void *fdt, int off, const struct ht_file *f,
		       bool print)
{
	const struct ht_size *hs = &ht_sizes[f->size];
	const char *name = fdt_get_name(fdt, off, NULL);
	uint64_t size = ~0ULL, pos = ~0ULL, nr_folios = ~0ULL;
	uint64_t nr_extents = ~0ULL, nr_ranges = ~0ULL;
	uint32_t order = ~0U, seals = ~0U;

	hk_fdt_u32(fdt, off, HK_FDT_ORDER, &order);
	hk_fdt_u32(fdt, off, HK_FDT_SEALS, &seals);
	hk_fdt_u64(fdt, off, HK_FDT_SIZE, &size);
	hk_fdt_u64(fdt, off, HK_FDT_POS, &pos);
	hk_fdt_u64(fdt, off, HK_FDT_NR_FOLIOS, &nr_folios);
	hk_fdt_u64(fdt, off, HK_FDT_NR_EXTENTS, &nr_extents);
	hk_fdt_u64(fdt, off, HK_FDT_NR_RANGES, &nr_ranges);
	return hk_same(print, name, HK_FDT_ORDER, hs->order, order) &&
	       hk_same(print, name, HK_FDT_SIZE,
		       ht_file_len(f), size) &&
	       hk_same(print, name, HK_FDT_SEALS, f->seals, seals) &&
	       hk_same(print, name, HK_FDT_POS, f->pos, pos) &&
	       hk_same(print, name, HK_FDT_NR_FOLIOS, f->nr_pages, nr_folios) &&
	       hk_same(print, name, HK_FDT_NR_EXTENTS, hk_nr_extents(f),
		       nr_extents) &&
	       hk_same(print, name, HK_FDT_NR_RANGES, 1, nr_ranges);
}

static bool hk_taken(const int *taken, unsigned int nr, int off)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (taken[i] == off)
			return true;
	}
	return false;
}

/* Each file of @rec has a file node of its own that describes it. */
static void hk_fdt_check_files(const void *fdt, const struct hk_record *rec,
			       bool in)
{
	int taken[HT_MAX_FILES], off, found;
	const struct ht_file *f;
	int i;

	for (i = 0; i < rec->set.nr_files; i++) {
		f = &rec->set.file[i];
		found = -1;
		fdt_for_each_subnode(off, fdt, 0) {
			if (!hk_fdt_is_file(fdt, off) || hk_taken(taken, i, off))
				continue;
			if (hk_file_is(fdt, off, f, false)) {
				found = off;
				break;
			}
		}
		taken[i] = found;
		if (found >= 0) {
			ksft_print_msg("%s FDT: %s is file %d: order, size, seals, pos, %s\n",
				       hk_which(in), fdt_get_name(fdt, found, NULL), i,
				       "page, extent and range counts");
			continue;
		}
		ksft_print_msg("%s FDT: no file node left for file %d\n",
			       hk_which(in), i);
		ksft_print_msg("  file %d: %u %s pages in %u extents, seals %#x, pos %llu\n",
			       i, f->nr_pages, ht_sizes[f->size].label,
			       hk_nr_extents(f), f->seals, (unsigned long long)f->pos);
		fdt_for_each_subnode(off, fdt, 0) {
			if (hk_fdt_is_file(fdt, off) && !hk_taken(taken, i, off))
				hk_file_is(fdt, off, f, true);
		}
		fail_exit("%s FDT: file %d not described", hk_which(in), i);
	}
}

/* What the walk of the incoming pool of one page size finds. */
struct hk_pool_walk {
	const struct hk_record *rec;
	int h;
	bool numa;			/* per-node counters exist */
	bool seen[HT_MAX_NODES];
	int64_t nr_free;
	int64_t nr_used;
	int bad_cnt;
	int bad_use;
	int bad_list;
};

/* Free pages of @c the incoming tree lists: none without a pool file. */
static int64_t hk_exp_free(const struct hk_pool_walk *w,
			   const struct ht_counters *c)
{
	return w->rec->set.pool_mask & (1U << w->h) ? c->free : 0;
}

/* One node-<nid> of the pool walked by @w. */
static void hk_pool_node(const void *fdt, int off, struct hk_pool_walk *w)
{
	const char *name = fdt_get_name(fdt, off, NULL);
	const char *label = ht_sizes[w->h].label;
	const struct ht_pools *k = &w->rec->set.at_kexec;
	uint64_t nr_fr = 0, nr_use = 0, nr_runs = 0, nr_exp;
	const struct ht_counters *c;
	unsigned long long nid;
	uint32_t surplus = ~0U;

	if (!hk_name_num(name, HK_FDT_NODE, &nid))
		return;		/* failed hk_fdt_verify() already */
	if (!hk_fdt_u64(fdt, off, HK_FDT_NR_FREE, &nr_fr) ||
	    !hk_fdt_u64(fdt, off, HK_FDT_NR_IN_USE, &nr_use) ||
	    !hk_fdt_u64(fdt, off, HK_FDT_NR_RUNS, &nr_runs)) {
		ksft_print_msg("FDT: %s %s: counts missing or malformed\n",
			       label, name);
		w->bad_cnt++;
		return;
	}
	if (nr_runs > nr_fr) {
		ksft_print_msg("FDT: %s %s: %llu runs for %llu free pages\n",
			       label, name, (unsigned long long)nr_runs,
			       (unsigned long long)nr_fr);
		w->bad_list++;
	}
	w->nr_free += nr_fr;
	w->nr_used += nr_use;
	/* The surplus pages of the test are all file pages. */
	c = w->numa && nid < HT_MAX_NODES ? &k->node[w->h][nid] : &k->all[w->h];
	if (!hk_fdt_u32(fdt, off, HK_FDT_SURPLUS, &surplus) ||
	    surplus != c->surp) {
		ksft_print_msg("FDT: %s %s: surplus %u, %lld at kexec\n", label,
			       name, surplus, (long long)c->surp);
		w->bad_cnt++;
	}
	if (!w->numa)
		return;
	if (nid >= HT_MAX_NODES || !k->node_present[w->h][nid]) {
		ksft_print_msg("FDT: %s %s: no such node before kexec\n", label,
			       name);
		w->bad_cnt++;
		return;
	}
	if (w->seen[nid]) {
		ksft_print_msg("FDT: %s %s: listed twice\n", label, name);
		w->bad_cnt++;
	}
	w->seen[nid] = true;
	c = &k->node[w->h][nid];
	if ((int64_t)nr_fr != hk_exp_free(w, c) ||
	    (int64_t)nr_use != c->nr - c->free) {
		ksft_print_msg("FDT: %s %s: %llu free and %llu in-use pages\n",
			       label, name, (unsigned long long)nr_fr,
			       (unsigned long long)nr_use);
		ksft_print_msg("  at kexec node%llu had %lld free of %lld%s\n",
			       nid, (long long)c->free, (long long)c->nr,
			       w->rec->set.pool_mask & (1U << w->h) ? "" : ", no pool file");
		w->bad_cnt++;
	}
	nr_exp = hk_files_pages(w->rec, w->h, nid);
	if (nr_use != nr_exp) {
		ksft_print_msg("FDT: %s %s: nr-in-use %llu, files have %llu pages on node%llu\n",
			       label, name, (unsigned long long)nr_use,
			       (unsigned long long)nr_exp, nid);
		w->bad_use++;
	}
}

/*
 * The incoming pool of page size @h against the counters and the files
 * recorded right before the kexec.
 */
static void hk_fdt_check_pool(const void *fdt, const struct hk_record *rec,
			      int h)
{
	const struct ht_counters *c = &rec->set.at_kexec.all[h], *cn;
	const struct ht_size *hs = &ht_sizes[h];
	struct hk_pool_walk w = { .rec = rec, .h = h };
	int hoff, off, n;
	uint64_t nr_exp;
	char name[32];

	for (n = 0; n < HT_MAX_NODES; n++)
		w.numa |= rec->set.at_kexec.node_present[h][n];

	snprintf(name, sizeof(name), HK_FDT_HSTATE "%u", hs->order);
	hoff = fdt_subnode_offset(fdt, 0, name);
	if (hoff >= 0) {
		fdt_for_each_subnode(off, fdt, hoff)
			hk_pool_node(fdt, off, &w);
	}

	for (n = 0; w.numa && n < HT_MAX_NODES; n++) {
		cn = &rec->set.at_kexec.node[h][n];
		if (rec->set.at_kexec.node_present[h][n] &&
		    hk_exp_free(&w, cn) + cn->nr - cn->free > 0 && !w.seen[n]) {
			ksft_print_msg("FDT: %s: node%d had %lld pages at kexec, no %s/%s%d\n",
				       hs->label, n, (long long)cn->nr, name,
				       HK_FDT_NODE, n);
			w.bad_cnt++;
		}
	}
	if (w.nr_free != hk_exp_free(&w, c) || w.nr_used != c->nr - c->free) {
		ksft_print_msg("FDT: %s: %lld free and %lld in-use pages in all nodes\n",
			       hs->label, (long long)w.nr_free,
			       (long long)w.nr_used);
		ksft_print_msg("  at kexec there were %lld free of %lld%s\n",
			       (long long)c->free, (long long)c->nr,
			       rec->set.pool_mask & (1U << h) ? "" : ", no pool file");
		w.bad_cnt++;
	}
	nr_exp = hk_files_pages(rec, h, -1);
	if ((uint64_t)w.nr_used != nr_exp) {
		ksft_print_msg("FDT: %s: %lld in-use pages in all, the files have %llu\n",
			       hs->label, (long long)w.nr_used,
			       (unsigned long long)nr_exp);
		w.bad_use++;
	}

	if (w.bad_cnt)
		fail_exit("incoming FDT: %s pool: free pages or surplus not as at kexec",
			  hs->label);
	if (w.bad_use)
		fail_exit("incoming FDT: %s nr-in-use is not the files' pages per node",
			  hs->label);
	if (w.bad_list)
		fail_exit("incoming FDT: %s lists: more runs than pages",
			  hs->label);
	ksft_print_msg("incoming FDT: %s pool: %lld free, %lld in use, %s\n",
		       hs->label, (long long)w.nr_free, (long long)w.nr_used,
		       "per node as at kexec and as the files have");
}

/*
 * The subtree, outgoing right after the files of @rec were preserved, or
 * (@in) the one the kexec handed over, against the counters at kexec.
 * Frees @blob.
 */
static void hk_check_fdt(const struct hk_record *rec, bool in, void *blob,
			 size_t len)
{
	int h;

	if (!blob || !len)
		fail_exit("%s KHO subtree '%s' %s", hk_which(in), HK_FDT_NAME,
			  blob ? "is empty" : "is absent");
	hk_fdt_verify(blob, len, rec->set.nr_files, in);
	hk_fdt_check_files(blob, rec, in);
	for (h = 0; in && h < HT_NR_SIZES; h++) {
		if (rec->set.at_kexec.present[h])
			hk_fdt_check_pool(blob, rec, h);
	}
	free(blob);
}

/* ---- the corrupted extents (-c) ----------------------------------------- */

/* Address and length of the extent list of the only file node. */
static void hk_out_extents(uint64_t *pa, uint64_t *nr)
{
	size_t len;
	void *fdt;
	int off;

	*pa = 0;
	*nr = 0;
	fdt = hk_fdt_read(false, &len);
	if (!fdt)
		fail_exit("read the outgoing FDT");
	hk_fdt_verify(fdt, len, 1, false);
	fdt_for_each_subnode(off, fdt, 0) {
		if (hk_fdt_is_file(fdt, off) &&
		    hk_fdt_u64(fdt, off, HK_FDT_EXTENTS, pa))
			hk_fdt_u64(fdt, off, HK_FDT_NR_EXTENTS, nr);
	}
	free(fdt);
	if (!*pa || *nr != HK_CORRUPT)
		fail_exit("outgoing FDT: no list of %d extents for file 0 (%llu at %#llx)",
			  HK_CORRUPT, (unsigned long long)*nr,
			  (unsigned long long)*pa);
}

/*
 * Right after preserve: the one-page extents of file 0 in the kernel's
 * outgoing block list match pagemap; then 4 of them are rewritten through
 * /dev/mem (see HK_LOST). The freeze rewrites a list only when the file
 * changed, so the corruption goes along.
 */
static void hk_corrupt_extents(const struct hk_record *rec)
{
	const struct ht_file *f = &rec->set.file[0];
	uint64_t step = ht_sizes[f->size].size / HK_BASE_PAGE;
	struct hk_extent e[HK_CORRUPT], back[HK_CORRUPT];
	uint64_t hdr[2], pa, nr;
	unsigned int i, bad = 0;
	int fd;

	hk_out_extents(&pa, &nr);
	fd = open(HK_DEVMEM, O_RDWR | O_SYNC);
	if (fd < 0)
		fail_exit("open %s (CONFIG_DEVMEM=y, CONFIG_STRICT_DEVMEM=n?)",
			  HK_DEVMEM);
	if (pread(fd, hdr, sizeof(hdr), pa) != sizeof(hdr) ||
	    pread(fd, e, sizeof(e), pa + sizeof(hdr)) != sizeof(e))
		fail_exit("read the extent list at %#llx", (unsigned long long)pa);
	if (hdr[0] || hdr[1] != HK_CORRUPT) {
		ksft_print_msg("extent list: next %#llx, count %llu\n",
			       (unsigned long long)hdr[0],
			       (unsigned long long)hdr[1]);
		bad++;
	}
	for (i = 0; i < HK_CORRUPT; i++) {
		if (e[i].pfn == f->pfn[i] / step &&
		    e[i].index == i * f->stride && e[i].nr == 1)
			continue;
		ksft_print_msg("extent %u: pfn %#x index %#x nr %u (huge pages), pagemap %#llx\n",
			       i, e[i].pfn, e[i].index, e[i].nr,
			       (unsigned long long)f->pfn[i]);
		bad++;
	}
	if (bad)
		fail_exit("outgoing extent list of file 0 (read through %s) does not match pagemap",
			  HK_DEVMEM);
	ksft_print_msg("outgoing extent list of file 0 (read through %s) matches pagemap\n",
		       HK_DEVMEM);

	e[1].pfn = HK_NOT_KHO_PFN / step;
	e[3].pfn = e[0].pfn;
	e[5].pfn = HK_BEYOND_PFN / step;
	e[6].index = HK_CORRUPT * f->stride;
	if (pwrite(fd, e, sizeof(e), pa + sizeof(hdr)) != sizeof(e) ||
	    pread(fd, back, sizeof(back), pa + sizeof(hdr)) != sizeof(back))
		fail_exit("rewrite the extent list at %#llx",
			  (unsigned long long)pa);
	close(fd);
	if (memcmp(back, e, sizeof(e)))
		fail_exit("the rewritten extents do not read back");
	ksft_print_msg("extents 1, 3, 5 (PFN) and 6 (index) of file 0 rewritten\n");
	ksft_print_msg("%s\n",
		       "extent 1: a PFN KHO did not preserve, 3: a duplicate, 5: beyond memory, 6: past the end");
}

/* Exactly @nr records of the kernel log contain @needle. */
static void hk_log_expect(const char *needle, int nr, const char *what)
{
	int seen = ht_kmsg_count(needle);

	if (seen < 0) {
		errno = -seen;
		fail_exit("read %s", HT_KMSG);
	}
	errno = 0;
	if (seen != nr)
		fail_exit("kernel log: %d records with \"%s\", expected %d (%s)",
			  seen, needle, nr, what);
	ksft_print_msg("kernel log: %s\n", what);
}

/*
 * After the kexec: the pools as at kexec, but for the 3 pages of broken
 * extents, which the next kernel could not restore, and for the
 * reservation of the file, whose record it refused.
 */
static void hk_corrupt_expect(const struct hk_record *rec, struct ht_pools *exp)
{
	static const unsigned int lost[HK_LOST] = { 1, 3, 5 };
	const struct ht_file *f = &rec->set.file[0];
	unsigned int i;
	int nid;

	for (i = 0; i < HK_LOST; i++) {
		nid = f->nid[lost[i]];
		exp->all[f->size].nr--;
		if (nid >= 0 && nid < HT_MAX_NODES &&
		    exp->node_present[f->size][nid])
			exp->node[f->size][nid].nr--;
	}
	exp->all[f->size].resv = 0;
}

/*
 * The next kernel could not restore the 3 pages whose extents were broken,
 * said so, and refuses to retrieve the file; once the session is finished,
 * every page it restored is back in the free pool, the 3 refused ones not.
 */
static void hk_check_bad_file(int session_fd, const struct hk_record *rec)
{
	const struct ht_file *f = &rec->set.file[0];
	struct ht_pools exp = rec->set.at_kexec;
	char line[64];
	int fd;

	fd = luo_session_retrieve_fd(session_fd, HK_FILE_TOKEN);
	if (fd != -EINVAL) {
		errno = fd < 0 ? -fd : 0;
		fail_exit("RETRIEVE_FD of the file with corrupted extents: expected EINVAL, got %s",
			  fd >= 0 ? "an fd" : "another error");
	}
	ksft_print_msg("file 0 with 4 corrupted extents: RETRIEVE_FD fails with EINVAL\n");

	snprintf(line, sizeof(line), ": %d of %u pages unusable", HK_LOST,
		 f->nr_pages);
	hk_log_expect(line, 1, "boot counts the 3 pages of broken extents as unusable");
	hk_log_expect(HK_LOG "failed to retrieve file ", 1,
		      "retrieve reports the failed file");

	ht_finish(session_fd, "data (after the failed retrieve)");

	/* Total as at kexec but the refused pages, all of it free. */
	hk_corrupt_expect(rec, &exp);
	hk_pool_all_free(&exp);
	ht_pools_expect(&exp,
			"restored pages back in the free pool, the 3 refused not");
}

/* ---- the stages ------------------------------------------------------- */

static void hk_check_out_fdt(const struct hk_record *rec)
{
	size_t len;
	void *blob = hk_fdt_read(false, &len);

	hk_check_fdt(rec, false, blob, len);
}

static void run_stage_1(int luo_fd)
{
	static struct hk_record rec = { .magic = HK_MAGIC };
	int session_fd, fd[HT_MAX_FILES], i;
	struct ht_set *set = &rec.set;
	char *map[HT_MAX_FILES];
	struct luo_hugepages m;
	unsigned int need;
	struct ht_file *f;
	size_t len;

	rec.opts = hk_opts;
	if (hk_opts & HK_CORRUPT_FILE)
		rec.opts |= HK_POOLS;

	/* Nothing hugetlb preserved yet: no subtree. */
	hk_check_no_fdt(hk_fdt_read(false, &len));

	/* A sparse file reserves its holes too. */
	need = rec.opts & HK_CORRUPT_FILE ?
	       HK_CORRUPT * HK_CORRUPT_STRIDE : HK_NR_2M;
	luo_hugepages_ensure_free(need, &m);
	ht_pools_read(&set->base);
	ht_pools_print("stage 1 before", &set->base);
	ht_pool_ready(&set->base, HT_2M, need);
	if (rec.opts & HK_GIANT)
		ht_pool_ready(&set->base, HT_1G, 1);

	session_fd = ht_stage_1(luo_fd, HK_STATE_SESSION, HK_STATE_TOKEN,
				HK_SESSION);

	if (rec.opts & HK_POOLS) {
		/* A pool file for every page size the kernel has. */
		ht_set_pool_files(set, session_fd, HK_MNT,
				  ht_present_sizes(&set->base), HK_POOL_TOKEN, -1);
		/* The pool nodes come at the freeze: a tree without nodes. */
		hk_check_out_fdt(&rec);
	}

	if (rec.opts & HK_CORRUPT_FILE) {
		fd[0] = hk_file_make(&set->file[0], 0, HT_2M, HK_CORRUPT,
				     HK_CORRUPT_STRIDE, 0, &map[0]);
		set->nr_files = 1;
	} else {
		fd[0] = hk_file_make(&set->file[0], 0, HT_2M, HK_NR_2M, 1,
				     HK_SEALS_2M, &map[0]);
		set->nr_files = 1;
		if (rec.opts & HK_GIANT) {
			fd[1] = hk_file_make(&set->file[1], 1, HT_1G, 1, 1, 0,
					     &map[1]);
			set->nr_files = 2;
		}
	}
	for (i = 0; i < set->nr_files; i++)
		ht_file_locate(&set->file[i], map[i]);
	ht_set_in_use(set, "before preserve: the files' pages in use, holes reserved");

	for (i = 0; i < set->nr_files; i++) {
		f = &set->file[i];
		ht_file_preserve(session_fd, HK_FILE_TOKEN + i, fd[i], f,
				 map[i], i);
		ksft_print_msg("file %d: pages %u of %s, extents %u, seals %#x, pos %lld\n",
			       i, f->nr_pages, ht_sizes[f->size].label,
			       hk_nr_extents(f), f->seals, (long long)f->pos);
	}

	hk_check_out_fdt(&rec);
	if (rec.opts & HK_CORRUPT_FILE)
		hk_corrupt_extents(&rec);

	for (i = 0; i < set->nr_files; i++) {
		munmap(map[i], ht_file_len(&set->file[i]));
		close(fd[i]);
	}
	ht_set_in_use(set, "only LUO holds the files: their pages stay in use");

	ksft_print_msg("[STAGE 1] files preserved: %d%s%s\n", set->nr_files,
		       rec.opts & HK_POOLS ? ", and the pools" : "",
		       rec.opts & HK_CORRUPT_FILE ? ", extents corrupted" : "");
	ht_set_hand_over(set, luo_fd, session_fd, HK_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

/* Retrieve the files of @rec: the same pages on the same nodes. */
static void hk_check_files(int session_fd, const struct hk_record *rec)
{
	const struct ht_file *f;
	unsigned int p;
	int i, fd;
	char *map;

	for (i = 0; i < rec->set.nr_files; i++) {
		f = &rec->set.file[i];
		fd = luo_session_retrieve_fd(session_fd, HK_FILE_TOKEN + i);
		if (fd < 0)
			fail_exit("retrieve file %d", i);
		ht_file_check_meta(fd, f, i);
		map = ht_map(fd, ht_file_len(f), PROT_READ, 0);
		for (p = 0; p < f->nr_pages; p++) {
			if (*(uint64_t *)ht_file_page(f, map, p) != hk_word(i, p))
				fail_exit("file %d page %u differs", i, p);
		}
		ht_file_check_place(f, map, i);
		munmap(map, ht_file_len(f));
		close(fd);
		ksft_print_msg("file %d: size, seals, position; %u pages, same PFNs, nodes\n",
			       i, f->nr_pages);
	}
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hk_record rec;
	struct ht_pools exp;
	int session_fd;
	size_t len;
	void *blob;

	/* Before anything is finished that could let the kernel free it. */
	blob = hk_fdt_read(true, &len);

	session_fd = ht_stage_2(luo_fd, state_session_fd, HK_STATE_TOKEN,
				HK_SESSION);
	luo_retrieve_record(session_fd, HK_RECORD_TOKEN, &rec, sizeof(rec));
	if (rec.magic != HK_MAGIC)
		fail_exit("the record is not ours");

	ht_pools_print("at kexec", &rec.set.at_kexec);
	exp = rec.set.at_kexec;
	if (rec.opts & HK_CORRUPT_FILE)
		hk_corrupt_expect(&rec, &exp);
	else if (!(rec.opts & HK_POOLS))
		hk_pool_files_only(&exp);
	ht_pools_expect(&exp, rec.opts & HK_CORRUPT_FILE ?
			"after kexec as at kexec, less 3 pages and the reservation" :
			rec.opts & HK_POOLS ?
			"after kexec as at kexec (total/free/resv/surplus, per node)" :
			"after kexec: the file pages only, no free page came along");
	hk_check_fdt(&rec, true, blob, len);
	if (rec.set.pool_mask)
		ht_pool_files_retrieve(session_fd, rec.set.pool_mask, HK_POOL_TOKEN);

	if (rec.opts & HK_CORRUPT_FILE) {
		hk_check_bad_file(session_fd, &rec);
	} else {
		hk_check_files(session_fd, &rec);
		ht_finish(session_fd, "data");
		/* With the pools, as before the files; without, the file pages. */
		if (rec.opts & HK_POOLS)
			exp = rec.set.base;
		hk_pool_all_free(&exp);
		ht_pools_expect(&exp, "files closed, session finished: every page free");
	}

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB KHO DATA TEST PASSED ---\n");
}

/*
 * Whether this test can run here: decided before luo_test(), the same way
 * in both stages, so that a skip in stage 1 is not a failure in stage 2.
 */
static void hk_can_run(void)
{
	if (!hk_debugfs())
		ksft_exit_skip("no %s/out/sub_fdts (%s): the subtree cannot be read\n",
			       HK_KHO, "CONFIG_KEXEC_HANDOVER_DEBUGFS=n?");
}

#else /* !HK_HAVE_LIBFDT */

static void hk_can_run(void)
{
	ksft_exit_skip("built without libfdt (%s): the KHO FDT cannot be parsed, nothing tested\n",
		       "-DHK_HAVE_LIBFDT -lfdt; nolibc has none");
}

static void run_stage_1(int luo_fd)
{
	(void)luo_fd;
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	(void)luo_fd;
	(void)state_session_fd;
}

#endif /* HK_HAVE_LIBFDT */

int main(int argc, char *argv[])
{
	/* Our options go first; luo_test() takes the rest. */
	hk_opts = ht_options(&argc, &argv, "gpc");
	if ((hk_opts & HK_CORRUPT_FILE) && (hk_opts & ~HK_CORRUPT_FILE))
		ksft_exit_fail_msg("-c goes alone\n");
	hk_can_run();
	return luo_test(argc, argv, HK_STATE_SESSION, run_stage_1, run_stage_2);
}
