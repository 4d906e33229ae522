/* SPDX-License-Identifier: GPL-2.0-only */

/*
 * What the hugetlb live update tests share: making and filling hugetlb
 * memfds, reading their PFNs from /proc/self/pagemap and their NUMA nodes,
 * handing a record from stage 1 to stage 2 in a memfd of a session, the
 * pool counters of every page size and node and what they must be, pool
 * files (hugetlbfs mount roots), and checking the files that come back:
 * ht_set_*() for the files a test hands over together, and ht_mixed_*(),
 * the test that hugetlb_abort and hugetlb_numa share.
 *
 * Static functions only, so that vmtest.sh, which builds one test file and
 * lib/lu_utils.c against nolibc, builds the tests as they are.
 */

#ifndef HUGETLB_UTIL_H
#define HUGETLB_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/falloc.h>

#include <libliveupdate.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING	0x0002U
#endif
#define HT_MFD_HUGE_2MB		(21U << 26)
#define HT_MFD_HUGE_1GB		(30U << 26)
#define HT_HPAGE		(2UL << 20)
#define HT_GPAGE		(1024UL << 20)
#define HT_PFN_MASK		((1ULL << 55) - 1)
/*
 * One word in every HT_STEP bytes, one per cache line, is written and
 * checked: a page that lost its contents, or another page in its place,
 * cannot pass, and 1 GiB pages stay quick to check under QEMU TCG.
 */
#define HT_STEP			64UL
#define HT_MAX_PAGES		256	/* pages of a file of struct ht_file */
#define HT_MAX_FILES		2	/* files of a struct ht_set */
#define HT_MAX_NODES		8
#define HT_POS_STEP		4099	/* file i is at (i + 1) * this */
#define HT_POLL_MS		5000	/* how long pools may take to settle */
#define HT_NEW_MEMFDS		8	/* of each page size, see ht_new_memfds() */
#define HT_SYSFS		"/sys/kernel/mm/hugepages"
#define HT_NODE_SYSFS		"/sys/devices/system/node"

#ifndef F_GET_SEALS
#define F_ADD_SEALS		1033
#define F_GET_SEALS		1034
#endif

/* The huge page sizes the tests know, and what tells them apart. */
enum { HT_2M, HT_1G, HT_NR_SIZES };

static const struct ht_size {
	const char *label;	/* pagesize= of hugetlbfs, and in messages */
	const char *dir;	/* hugepages-<dir> in sysfs */
	unsigned long size;
	unsigned int order;	/* log2 of its base pages */
	unsigned int mfd_flag;
} ht_sizes[HT_NR_SIZES] = {
	[HT_2M] = { "2M", "2048kB", HT_HPAGE, 9, HT_MFD_HUGE_2MB },
	[HT_1G] = { "1G", "1048576kB", HT_GPAGE, 18, HT_MFD_HUGE_1GB },
};

/* The counters of one pool; resv_hugepages exists for the whole system only. */
struct ht_counters {
	int64_t nr;
	int64_t free;
	int64_t resv;
	int64_t surp;
};

/* The pools of every page size, overall and per NUMA node, from sysfs. */
struct ht_pools {
	int32_t present[HT_NR_SIZES];
	int32_t node_present[HT_NR_SIZES][HT_MAX_NODES];
	struct ht_counters all[HT_NR_SIZES];
	struct ht_counters node[HT_NR_SIZES][HT_MAX_NODES];
};

/*
 * A hugetlb file of a test and what must come back of it: its page size,
 * its pages (present page p is page p * stride of the file, which has no
 * other), their PFNs and NUMA nodes, its position and seals, and the seed
 * ht_fill() wrote its pages with, if it did.
 */
struct ht_file {
	uint32_t size;		/* HT_2M or HT_1G */
	uint32_t nr_pages;	/* present */
	uint32_t stride;
	uint32_t seals;
	int64_t pos;
	uint64_t seed;
	uint64_t pfn[HT_MAX_PAGES];
	int32_t nid[HT_MAX_PAGES];
};

/* The word at byte @off of page @page of a file filled with @seed. */
static inline uint64_t ht_word(uint64_t seed, uint64_t page, uint64_t off)
{
	uint64_t x = seed ^ (page << 40) ^ off;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Fill huge page @page (of @size bytes, mapped at @addr) for @seed. */
static inline void ht_fill(void *addr, unsigned long size, uint64_t seed,
			   uint64_t page)
{
	unsigned long off;

	for (off = 0; off < size; off += HT_STEP)
		*(uint64_t *)((char *)addr + off) = ht_word(seed, page, off);
}

/* Whether huge page @page at @addr holds what ht_fill() wrote. */
static inline int ht_same(const void *addr, unsigned long size,
			  uint64_t seed, uint64_t page)
{
	unsigned long off;

	for (off = 0; off < size; off += HT_STEP) {
		if (*(const uint64_t *)((const char *)addr + off) !=
		    ht_word(seed, page, off))
			return 0;
	}
	return 1;
}

/* The PFN of the page mapped at @addr, from /proc/self/pagemap. */
static inline uint64_t ht_pfn_entry(const void *addr)
{
	off_t off = (uintptr_t)addr / getpagesize() * sizeof(uint64_t);
	uint64_t entry;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		fail_exit("open /proc/self/pagemap");
	if (lseek(fd, off, SEEK_SET) != off ||
	    read(fd, &entry, sizeof(entry)) != sizeof(entry))
		fail_exit("read /proc/self/pagemap");
	close(fd);
	return entry;
}

static inline uint64_t ht_pfn(const void *addr)
{
	uint64_t entry = ht_pfn_entry(addr);

	if (!(entry >> 63) || !(entry & HT_PFN_MASK))
		fail_exit("page at %p: not present or no PFN (root?)", addr);
	return entry & HT_PFN_MASK;
}

/*
 * Tries of a lookup that finds a page unmapped: a migration that another
 * process started (hugetlb_stress) unmaps even a page it cannot move,
 * pinned by a preserve, until it gives up.
 */
#define HT_LOOKUP_TRIES	1000

/* ht_pfn() of a page that may be unmapped for a moment: read it again. */
static inline uint64_t ht_pfn_settled(const void *addr)
{
	uint64_t entry;
	int i;

	for (i = 0; i < HT_LOOKUP_TRIES; i++) {
		(void)__atomic_load_n((const char *)addr, __ATOMIC_RELAXED);
		entry = ht_pfn_entry(addr);
		if ((entry >> 63) && (entry & HT_PFN_MASK))
			return entry & HT_PFN_MASK;
		usleep(1000);
	}
	return ht_pfn(addr);
}

/* A hugetlb memfd of @size bytes; @flags add to MFD_HUGETLB. */
static inline int ht_memfd(const char *name, unsigned long size,
			   unsigned int flags)
{
	int fd = memfd_create(name, MFD_HUGETLB | flags);

	if (fd < 0)
		fail_exit("memfd_create(%s, MFD_HUGETLB)", name);
	if (ftruncate(fd, size))
		fail_exit("ftruncate %s to %lu bytes", name, size);
	return fd;
}

/* Map @len bytes of @fd shared with @flags added; fail the test if not. */
static inline void *ht_map(int fd, unsigned long len, int prot, int flags)
{
	void *addr = mmap(NULL, len, prot, MAP_SHARED | flags, fd, 0);

	if (addr == MAP_FAILED)
		fail_exit("mmap %lu bytes", len);
	return addr;
}

/*
 * Preserve @size bytes at @buf as memfd @token of @session_fd, for
 * luo_retrieve_record() in the next kernel.
 */
static inline void ht_save_record(int session_fd, int token, const void *buf,
				  size_t size)
{
	int fd = memfd_create("hugetlb_record", 0);

	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		fail_exit("write the record");
	if (luo_session_preserve_fd(session_fd, fd, token))
		fail_exit("preserve the record");
}

/* fcntl(), which nolibc does not have. */
static inline long ht_fcntl(int fd, int cmd, long arg)
{
	return syscall(__NR_fcntl, fd, cmd, arg);
}

/* Mount sysfs on /sys where nobody did (vmtest.sh's init does not). */
static inline void ht_mount_sysfs(void)
{
	if (!access("/sys/kernel", F_OK))
		return;
	if (mkdir("/sys", 0755) && errno != EEXIST)
		fail_exit("mkdir /sys");
	if (mount("sysfs", "/sys", "sysfs", 0, NULL))
		fail_exit("mount sysfs");
}

/* The number in file @path (sysfs, cgroupfs), or -1 if there is none. */
static inline long ht_read_long(const char *path)
{
	char buf[32] = { 0 };
	int fd;

	ht_mount_sysfs();
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		fail_exit("read %s", path);
	close(fd);
	return atol(buf);
}

/*
 * In stage 2: check that the state session says so, and retrieve the
 * session @name.
 */
static inline int ht_stage_2(int luo_fd, int state_session_fd,
			     int state_token, const char *name)
{
	int fd, stage;

	restore_and_read_stage(state_session_fd, state_token, &stage);
	if (stage != 2)
		fail_exit("expected stage 2, the state file says %d", stage);
	fd = luo_retrieve_session(luo_fd, name);
	if (fd < 0)
		fail_exit("luo_retrieve_session %s", name);
	return fd;
}

/*
 * Read into @rec the @size bytes of the record that stage 1 handed over in
 * the session @session_fd as @token; its first 64 bits must be @magic.
 */
static inline void ht_read_record(int session_fd, int token, void *rec,
				  size_t size, uint64_t magic)
{
	uint64_t m;

	luo_retrieve_record(session_fd, token, rec, size);
	memcpy(&m, rec, sizeof(m));
	if (m != magic)
		fail_exit("the record is not ours: magic %#llx, expected %#llx",
			  (unsigned long long)m, (unsigned long long)magic);
}

/* Finish the session @fd and close it. */
static inline void ht_finish(int fd, const char *what)
{
	if (luo_session_finish(fd) < 0)
		fail_exit("finish the %s session", what);
	close(fd);
}

/*
 * Before update @update of several in a row: record in the state session
 * @state_session that stage @update + 1 comes next, and create the session
 * named by @fmt with @update in it.
 */
static inline int ht_update_session(int luo_fd, const char *state_session,
				    int state_token, const char *fmt,
				    int update)
{
	char name[64];
	int fd;

	create_state_file(luo_fd, state_session, state_token, update + 1);
	snprintf(name, sizeof(name), fmt, update);
	fd = luo_create_session(luo_fd, name);
	if (fd < 0)
		fail_exit("luo_create_session %s", name);
	return fd;
}

/*
 * After update @stage - 1 of several in a row, @stage read from the state
 * session: retrieve the session of that update, named by @fmt, and read
 * its record (see ht_read_record()) into @rec.
 */
static inline int ht_update_retrieve(int luo_fd, int state_session_fd,
				     int state_token, const char *fmt,
				     int *stage, int token, void *rec,
				     size_t size, uint64_t magic)
{
	char name[64];
	int fd;

	restore_and_read_stage(state_session_fd, state_token, stage);
	snprintf(name, sizeof(name), fmt, *stage - 1);
	fd = luo_retrieve_session(luo_fd, name);
	if (fd < 0)
		fail_exit("luo_retrieve_session %s", name);
	ht_read_record(fd, token, rec, size, magic);
	return fd;
}

/*
 * In stage 1: record in the state session @state_session that stage 2
 * comes next, and create the session @name.
 */
static inline int ht_stage_1(int luo_fd, const char *state_session,
			     int state_token, const char *name)
{
	int fd;

	create_state_file(luo_fd, state_session, state_token, 2);
	fd = luo_create_session(luo_fd, name);
	if (fd < 0)
		fail_exit("luo_create_session %s", name);
	return fd;
}

/*
 * Take the options "-<letter>" of @letters that come first out of the
 * arguments, for luo_test() to read the rest; bit i of the result is
 * letters[i].
 */
static inline unsigned int ht_options(int *argc, char ***argv,
				      const char *letters)
{
	unsigned int opts = 0;
	const char *arg, *l;

	while (*argc > 1) {
		arg = (*argv)[1];
		if (arg[0] != '-' || !arg[1] || arg[2])
			break;
		l = strchr(letters, arg[1]);
		if (!l)
			break;
		opts |= 1U << (l - letters);
		(*argv)[1] = (*argv)[0];
		(*argv)++;
		(*argc)--;
	}
	return opts;
}

/* Write @val to @path (a sysctl, a sysfs file); fail the test if not. */
static inline void ht_write_long(const char *path, long val)
{
	char buf[32];
	int fd, len;

	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, buf, len) != len)
		fail_exit("write %ld to %s", val, path);
	close(fd);
	ksft_print_msg("%s: %ld\n", path, val);
}

/* fallocate(), which nolibc does not have. */
static inline long ht_fallocate(int fd, int mode, off_t off, off_t len)
{
	return syscall(__NR_fallocate, fd, mode, off, len);
}

/* The number of bits set in @mask. */
static inline int ht_popcount(unsigned long mask)
{
	int n = 0;

	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

/* ---- pool counters, per page size and per NUMA node -------------------- */

/* The counters of the pool in sysfs folder @dir; resv only if @with_resv. */
static inline void ht_counters_read(const char *dir, struct ht_counters *c,
				    int with_resv)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	c->nr = ht_read_long(path);
	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	c->free = ht_read_long(path);
	snprintf(path, sizeof(path), "%s/surplus_hugepages", dir);
	c->surp = ht_read_long(path);
	c->resv = -1;
	if (with_resv) {
		snprintf(path, sizeof(path), "%s/resv_hugepages", dir);
		c->resv = ht_read_long(path);
	}
}

/* Every pool the kernel has, of each page size, overall and per node. */
static inline void ht_pools_read(struct ht_pools *p)
{
	char dir[128];
	int h, n;

	memset(p, 0, sizeof(*p));
	ht_mount_sysfs();
	for (h = 0; h < HT_NR_SIZES; h++) {
		snprintf(dir, sizeof(dir), HT_SYSFS "/hugepages-%s",
			 ht_sizes[h].dir);
		if (access(dir, F_OK))
			continue;
		p->present[h] = 1;
		ht_counters_read(dir, &p->all[h], 1);
		for (n = 0; n < HT_MAX_NODES; n++) {
			snprintf(dir, sizeof(dir),
				 HT_NODE_SYSFS "/node%d/hugepages/hugepages-%s",
				 n, ht_sizes[h].dir);
			if (access(dir, F_OK))
				continue;
			p->node_present[h][n] = 1;
			ht_counters_read(dir, &p->node[h][n], 0);
		}
	}
}

/* The NUMA nodes that have a pool of some page size in @p, as a mask. */
static inline unsigned long ht_pools_nodes(const struct ht_pools *p)
{
	unsigned long mask = 0;
	int h, n;

	for (h = 0; h < HT_NR_SIZES; h++) {
		for (n = 0; n < HT_MAX_NODES; n++) {
			if (p->node_present[h][n])
				mask |= 1UL << n;
		}
	}
	return mask;
}

/* Print the pools of @p, per node too on a machine of several nodes. */
static inline void ht_pools_print(const char *what, const struct ht_pools *p)
{
	int h, n, numa = ht_popcount(ht_pools_nodes(p)) > 1;
	const struct ht_counters *c;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!p->present[h])
			continue;
		c = &p->all[h];
		ksft_print_msg("%s: %s total %lld free %lld resv %lld surplus %lld\n",
			       what, ht_sizes[h].label, (long long)c->nr,
			       (long long)c->free, (long long)c->resv,
			       (long long)c->surp);
		for (n = 0; numa && n < HT_MAX_NODES; n++) {
			if (!p->node_present[h][n])
				continue;
			c = &p->node[h][n];
			ksft_print_msg("%s: %s node%d total %lld free %lld surplus %lld\n",
				       what, ht_sizes[h].label, n, (long long)c->nr,
				       (long long)c->free, (long long)c->surp);
		}
	}
}

/* Whether counter @what of @where differs from @exp; said if @print. */
static inline int ht_counter_differs(const char *where, const char *what,
				     int64_t exp, int64_t got, int print)
{
	if (exp == got)
		return 0;
	if (print)
		ksft_print_msg("  %s %s: expected %lld, seen %lld\n", where, what,
			       (long long)exp, (long long)got);
	return 1;
}

/*
 * The number of counters that differ between @exp and @got, overall and
 * per node; each is said if @print.
 */
static inline int ht_pools_diff(const struct ht_pools *exp,
				const struct ht_pools *got, int print)
{
	const struct ht_counters *e, *g;
	int h, n, bad = 0;
	char where[32];

	for (h = 0; h < HT_NR_SIZES; h++) {
		const char *label = ht_sizes[h].label;

		e = &exp->all[h];
		g = &got->all[h];
		bad += ht_counter_differs(label, "pool present", exp->present[h],
					  got->present[h], print);
		bad += ht_counter_differs(label, "HugePages_Total", e->nr, g->nr,
					  print);
		bad += ht_counter_differs(label, "HugePages_Free", e->free,
					  g->free, print);
		bad += ht_counter_differs(label, "HugePages_Rsvd", e->resv,
					  g->resv, print);
		bad += ht_counter_differs(label, "HugePages_Surp", e->surp,
					  g->surp, print);
		for (n = 0; n < HT_MAX_NODES; n++) {
			e = &exp->node[h][n];
			g = &got->node[h][n];
			snprintf(where, sizeof(where), "%s node%d", label, n);
			bad += ht_counter_differs(where, "present",
						  exp->node_present[h][n],
						  got->node_present[h][n], print);
			if (!exp->node_present[h][n] || !got->node_present[h][n])
				continue;
			bad += ht_counter_differs(where, "nr_hugepages", e->nr,
						  g->nr, print);
			bad += ht_counter_differs(where, "free_hugepages",
						  e->free, g->free, print);
			bad += ht_counter_differs(where, "surplus_hugepages",
						  e->surp, g->surp, print);
		}
	}
	return bad;
}

/*
 * Every counter of every page size, per node too, must be the one in @exp;
 * freed pages may take a moment to be back (task work, workqueues), so it
 * waits up to HT_POLL_MS. Fails the test if they differ.
 */
static inline void ht_pools_expect(const struct ht_pools *exp,
				   const char *what)
{
	struct ht_pools got;
	int waited;

	for (waited = 0; ; waited += 100) {
		ht_pools_read(&got);
		if (!ht_pools_diff(exp, &got, 0) || waited >= HT_POLL_MS)
			break;
		usleep(100 * 1000);
	}
	if (ht_pools_diff(exp, &got, 0)) {
		ksft_print_msg("%s: the pools differ from what was expected:\n",
			       what);
		ht_pools_diff(exp, &got, 1);
		ht_pools_print("seen", &got);
		fail_exit("%s: pool counters", what);
	}
	ksft_print_msg("%s: pools as expected%s\n", what,
		       ht_popcount(ht_pools_nodes(exp)) > 1 ?
		       ", per node too" : "");
}

/*
 * Before anything is preserved: the pool of page size @h has @need free
 * pages at least, and nothing else uses it.
 */
static inline void ht_pool_ready(const struct ht_pools *p, int h, long need)
{
	const struct ht_counters *c = &p->all[h];

	if (!p->present[h])
		fail_exit("no %s huge pages in this kernel", ht_sizes[h].label);
	if (c->nr < need || c->free != c->nr || c->resv || c->surp)
		fail_exit("%s pool: need %ld free pages, no other use: %s %lld %lld %lld %lld",
			  ht_sizes[h].label, need, "total/free/resv/surplus",
			  (long long)c->nr, (long long)c->free,
			  (long long)c->resv, (long long)c->surp);
}

/* A free count below zero is that many surplus pages in use. */
static inline void ht_surplus_of(struct ht_counters *c)
{
	if (c->free >= 0)
		return;
	c->nr -= c->free;
	c->surp -= c->free;
	c->free = 0;
}

/*
 * Count in @exp the pages of @f in use, on their nodes, and the holes of
 * the file reserved (a shared mapping reserved the whole file).
 */
static inline void ht_pools_use(struct ht_pools *exp, const struct ht_file *f)
{
	struct ht_counters *c = &exp->all[f->size];
	unsigned int p;
	int n;

	c->free -= f->nr_pages;
	c->resv += (int64_t)f->nr_pages * f->stride - f->nr_pages;
	ht_surplus_of(c);
	for (p = 0; p < f->nr_pages; p++) {
		n = f->nid[p];
		if (n < 0 || n >= HT_MAX_NODES)
			continue;
		exp->node[f->size][n].free--;
		ht_surplus_of(&exp->node[f->size][n]);
	}
}

/* @base with the pages of the @nr files of @files in use (ht_pools_use()). */
static inline void ht_pools_in_use(const struct ht_pools *base,
				   const struct ht_file *files, int nr,
				   struct ht_pools *out)
{
	int i;

	*out = *base;
	for (i = 0; i < nr; i++)
		ht_pools_use(out, &files[i]);
}

/* ---- files: their pages, PFNs and nodes --------------------------------- */

/* The length of @f in bytes, holes included. */
static inline unsigned long ht_file_len(const struct ht_file *f)
{
	return (unsigned long)f->nr_pages * f->stride * ht_sizes[f->size].size;
}

/* The address of present page @p of @f mapped at @map. */
static inline char *ht_file_page(const struct ht_file *f, char *map,
				 unsigned int p)
{
	return map + (unsigned long)p * f->stride * ht_sizes[f->size].size;
}

/*
 * The NUMA node of each present page of @f mapped at @map, from a
 * move_pages() query; node 0 without NUMA (no node folder in sysfs).
 */
static inline void ht_file_nodes(const struct ht_file *f, char *map,
				 int32_t *nid)
{
	void *pages[HT_MAX_PAGES];
	int status[HT_MAX_PAGES], i;
	unsigned int p;

	for (p = 0; p < f->nr_pages; p++) {
		pages[p] = ht_file_page(f, map, p);
		status[p] = 0;
	}
	ht_mount_sysfs();
	for (i = 0; !access(HT_NODE_SYSFS, F_OK) && i < HT_LOOKUP_TRIES; i++) {
		if (syscall(__NR_move_pages, 0, (long)f->nr_pages, pages, NULL,
			    status, 0))
			fail_exit("move_pages() query of the nodes");
		/* -ENOENT: unmapped for a moment (see HT_LOOKUP_TRIES). */
		for (p = 0; p < f->nr_pages && status[p] != -ENOENT; p++)
			;
		if (p == f->nr_pages)
			break;
		(void)__atomic_load_n((char *)pages[p], __ATOMIC_RELAXED);
		usleep(1000);
	}
	for (p = 0; p < f->nr_pages; p++) {
		if (status[p] < 0 || status[p] >= HT_MAX_NODES)
			fail_exit("page %u: node %d, expected 0 to %d", p,
				  status[p], HT_MAX_NODES - 1);
		nid[p] = status[p];
	}
}

/*
 * Record the PFN of every present page of @f mapped at @map, each faulted
 * in (read) and aligned to its page size, and its node.
 */
static inline void ht_file_locate(struct ht_file *f, char *map)
{
	unsigned long size = ht_sizes[f->size].size;
	unsigned int p;
	char *page;

	for (p = 0; p < f->nr_pages; p++) {
		page = ht_file_page(f, map, p);
		f->pfn[p] = ht_pfn_settled(page);
		if (f->pfn[p] % (size / getpagesize()))
			fail_exit("page %u: PFN %#llx not aligned to %s", p,
				  (unsigned long long)f->pfn[p],
				  ht_sizes[f->size].label);
	}
	ht_file_nodes(f, map, f->nid);
}

/*
 * Make file @i of @f out of the hugetlb file @fd, already of its size:
 * @nr pages of page size @h, each filled for @seed, at position
 * (@i + 1) * HT_POS_STEP, with its seals recorded. Returns its shared
 * writable mapping.
 */
static inline char *ht_file_fill(struct ht_file *f, int fd, int i, int h,
				 unsigned int nr, uint64_t seed)
{
	unsigned long size = ht_sizes[h].size;
	unsigned int p;
	long seals;
	char *map;

	if (nr > HT_MAX_PAGES)
		fail_exit("file %d: %u pages, at most %d", i, nr, HT_MAX_PAGES);
	f->size = h;
	f->nr_pages = nr;
	f->stride = 1;
	f->seed = seed;
	map = ht_map(fd, ht_file_len(f), PROT_READ | PROT_WRITE, 0);
	for (p = 0; p < nr; p++)
		ht_fill(map + p * size, size, seed, p);
	ht_file_locate(f, map);
	f->pos = (int64_t)(i + 1) * HT_POS_STEP;
	if (lseek(fd, f->pos, SEEK_SET) != f->pos)
		fail_exit("file %d: lseek", i);
	seals = ht_fcntl(fd, F_GET_SEALS, 0);
	if (seals < 0)
		fail_exit("file %d: F_GET_SEALS", i);
	f->seals = seals;
	ksft_print_msg("file %d: %u %s pages filled, first PFN %#llx on node %d\n",
		       i, nr, ht_sizes[h].label, (unsigned long long)f->pfn[0],
		       f->nid[0]);
	return map;
}

/*
 * A hugetlb memfd (@flags add to MFD_HUGETLB and the page size) made file
 * @i of @f by ht_file_fill(); its mapping goes to @map.
 */
static inline int ht_file_make(struct ht_file *f, int i, int h,
			       unsigned int nr, uint64_t seed,
			       unsigned int flags, char **map)
{
	int fd = ht_memfd("hugetlb_file", nr * ht_sizes[h].size,
			  ht_sizes[h].mfd_flag | flags);

	*map = ht_file_fill(f, fd, i, h, nr, seed);
	return fd;
}

/*
 * Preserve file @i (@fd, described by @f and mapped at @map) as @token of
 * @session_fd. Preserve pins the pages, which moves any in CMA (KHO
 * scratch) elsewhere: the PFNs and nodes the next kernel must show are the
 * ones right after preserve, and a move is reported.
 */
static inline void ht_file_preserve(int session_fd, int token, int fd,
				    struct ht_file *f, char *map, int i)
{
	uint64_t pfn[HT_MAX_PAGES];

	if (luo_session_preserve_fd(session_fd, fd, token))
		fail_exit("preserve file %d", i);
	memcpy(pfn, f->pfn, sizeof(pfn));
	ht_file_locate(f, map);
	if (memcmp(pfn, f->pfn, f->nr_pages * sizeof(*pfn)))
		ksft_print_msg("file %d: note: preserve moved pages\n", i);
}

/*
 * Retrieved file @i (@fd): its size and page size, seals and position must
 * be the ones of @f.
 */
static inline void ht_file_check_meta(int fd, const struct ht_file *f, int i)
{
	unsigned long size = ht_sizes[f->size].size;
	struct stat st;
	long seals;

	if (fstat(fd, &st))
		fail_exit("file %d: fstat", i);
	if (st.st_size != (off_t)ht_file_len(f) ||
	    st.st_blksize != (long)size)
		fail_exit("file %d: size %lld, page size %ld; expected %lu, %lu",
			  i, (long long)st.st_size, (long)st.st_blksize,
			  ht_file_len(f), size);
	seals = ht_fcntl(fd, F_GET_SEALS, 0);
	if (seals != (long)f->seals)
		fail_exit("file %d: seals %#lx, expected %#x", i, seals,
			  f->seals);
	if (lseek(fd, 0, SEEK_CUR) != f->pos)
		fail_exit("file %d: position is not %lld", i,
			  (long long)f->pos);
}

/* Every present page of @f, mapped at @map, has its PFN and node of @f. */
static inline void ht_file_check_place(const struct ht_file *f, char *map,
				       int i)
{
	int32_t nid[HT_MAX_PAGES];
	unsigned int p;
	uint64_t pfn;

	for (p = 0; p < f->nr_pages; p++) {
		pfn = ht_pfn(ht_file_page(f, map, p));
		if (pfn != f->pfn[p])
			fail_exit("file %d page %u moved: PFN %#llx, was %#llx",
				  i, p, (unsigned long long)pfn,
				  (unsigned long long)f->pfn[p]);
	}
	ht_file_nodes(f, map, nid);
	for (p = 0; p < f->nr_pages; p++) {
		if (nid[p] != f->nid[p])
			fail_exit("file %d page %u on node %d, was on node %d",
				  i, p, nid[p], f->nid[p]);
	}
}

/*
 * Retrieved file @i (@fd): size, page size, seals, position, and the bytes
 * ht_file_fill() wrote, PFN and node of every page, as in @f. Returns its
 * read-only mapping.
 */
static inline char *ht_file_check(int fd, const struct ht_file *f, int i)
{
	unsigned long size = ht_sizes[f->size].size;
	unsigned int p;
	char *map;

	ht_file_check_meta(fd, f, i);
	map = ht_map(fd, ht_file_len(f), PROT_READ, 0);
	for (p = 0; p < f->nr_pages; p++) {
		if (!ht_same(ht_file_page(f, map, p), size, f->seed, p))
			fail_exit("file %d page %u differs", i, p);
	}
	ht_file_check_place(f, map, i);
	ksft_print_msg("file %d: %u %s pages, seals %#x, position %lld: %s\n",
		       i, f->nr_pages, ht_sizes[f->size].label, f->seals,
		       (long long)f->pos, "bytes, PFNs and nodes as preserved");
	return map;
}

/* ---- pool files ---------------------------------------------------------- */

/*
 * The root of the hugetlbfs mount of page size @h at "@mnt-<size>", which
 * the first call mounts with the options @opts (NULL: pagesize=<size>).
 */
static inline int ht_pool_root(const char *mnt, int h, const char *opts)
{
	static int mounted[HT_NR_SIZES];
	char dir[64], def[32];
	int fd;

	snprintf(dir, sizeof(dir), "%s-%s", mnt, ht_sizes[h].label);
	if (!mounted[h]) {
		snprintf(def, sizeof(def), "pagesize=%s", ht_sizes[h].label);
		if (!opts)
			opts = def;
		if (mkdir(dir, 0755) && errno != EEXIST)
			fail_exit("mkdir %s", dir);
		if (mount("none", dir, "hugetlbfs", 0, opts))
			fail_exit("mount hugetlbfs (%s) on %s", opts, dir);
		mounted[h] = 1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		fail_exit("open %s", dir);
	return fd;
}

/*
 * Preserve the root of the hugetlbfs mount of page size @h (ht_pool_root())
 * as pool file @token of @session_fd: the free pages of that size go
 * along. With @again >= 0, the root opened again is preserved as @again
 * too, which must fail with EBUSY: it is the same file to LUO.
 */
static inline void ht_pool_file_preserve(int session_fd, const char *mnt,
					 int h, int token, int again)
{
	int fd, fd2, ret;

	fd = ht_pool_root(mnt, h, NULL);
	if (luo_session_preserve_fd(session_fd, fd, token))
		fail_exit("preserve the %s pool file", ht_sizes[h].label);
	if (again >= 0) {
		fd2 = ht_pool_root(mnt, h, NULL);
		ret = luo_session_preserve_fd(session_fd, fd2, again);
		if (ret != -EBUSY)
			fail_exit("the same mount root again: %d, not -EBUSY",
				  ret);
		close(fd2);
	}
	close(fd);
	ksft_print_msg("pool file of %s preserved: its free pages go along\n",
		       ht_sizes[h].label);
}

/* The pool files of the page sizes in @mask, tokens @token + size, come back. */
static inline void ht_pool_files_retrieve(int session_fd, unsigned int mask,
					  int token)
{
	int h, fd;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!(mask & (1U << h)))
			continue;
		fd = luo_session_retrieve_fd(session_fd, token + h);
		if (fd < 0)
			fail_exit("retrieve the %s pool file", ht_sizes[h].label);
		close(fd);
	}
	ksft_print_msg("pool files retrieved\n");
}

/* ---- new memfds ---------------------------------------------------------- */

/* The page sizes @p has a pool of, as a mask. */
static inline unsigned int ht_present_sizes(const struct ht_pools *p)
{
	unsigned int mask = 0;
	int h;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (p->present[h])
			mask |= 1U << h;
	}
	return mask;
}

/* The page sizes of which @p has a free page, as a mask. */
static inline unsigned int ht_free_sizes(const struct ht_pools *p)
{
	unsigned int mask = 0;
	int h;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (p->present[h] && p->all[h].free >= 1)
			mask |= 1U << h;
	}
	return mask;
}

/*
 * New hugetlb memfds of each page size in @mask inherit nothing from the
 * files handed over: ftruncate, fallocate and hole punching work. Once
 * they are closed, the pools must be @base again.
 */
static inline void ht_new_memfds(const struct ht_pools *base,
				 unsigned int mask)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int h, i, fd, tried = 0;
	unsigned long size;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!(mask & (1U << h)))
			continue;
		size = ht_sizes[h].size;
		for (i = 0; i < HT_NEW_MEMFDS; i++, tried++) {
			fd = ht_memfd("hugetlb_new", size, ht_sizes[h].mfd_flag);
			if (ht_fallocate(fd, 0, 0, size) ||
			    ht_fallocate(fd, punch, 0, size) || ftruncate(fd, 0))
				fail_exit("new %s memfd %d: fallocate, punch hole or ftruncate",
					  ht_sizes[h].label, i);
			close(fd);
		}
	}
	if (!tried)
		fail_exit("no free huge page for a new memfd");
	ksft_print_msg("%d new hugetlb memfds: ftruncate, fallocate and punch-hole work\n",
		       tried);
	ht_pools_expect(base, "new memfds closed: pools as before");
}

/* ---- a set of files handed over together, and the pools around them ---- */

/*
 * The hugetlb files a test hands over in one session, the page sizes whose
 * pool file goes along, and the pools before the files and at the kexec:
 * what the records of stage 1 share. A file without pages is no file.
 */
struct ht_set {
	int32_t nr_files;
	uint32_t pool_mask;		/* page sizes whose pool file went along */
	struct ht_pools base;		/* before any file existed */
	struct ht_pools at_kexec;	/* right before the kexec */
	struct ht_file file[HT_MAX_FILES];
};

/* The pools must be the base of @s with the pages of its files in use. */
static inline void ht_set_in_use(const struct ht_set *s, const char *when)
{
	struct ht_pools exp;

	ht_pools_in_use(&s->base, s->file, s->nr_files, &exp);
	ht_pools_expect(&exp, when);
}

/*
 * Stage 1: preserve file i of @s (@fd[i], mapped at @map[i]) as @token + i
 * of @session_fd, then unmap and close it; with only LUO holding them,
 * their pages must stay in use.
 */
static inline void ht_set_preserve(struct ht_set *s, int session_fd,
				   int token, int *fd, char **map)
{
	int i;

	for (i = 0; i < s->nr_files; i++) {
		if (!s->file[i].nr_pages)
			continue;
		ht_file_preserve(session_fd, token + i, fd[i], &s->file[i],
				 map[i], i);
		munmap(map[i], ht_file_len(&s->file[i]));
		close(fd[i]);
	}
	ht_set_in_use(s, "preserved, only LUO holds the files: pages in use");
}

/*
 * Stage 1: preserve the pool file of each page size in @mask (tokens
 * @token + size, mounts at @mnt-<size>, see ht_pool_file_preserve()); the
 * 2 MiB root preserved again as @again must fail with EBUSY (none if
 * @again < 0).
 */
static inline void ht_set_pool_files(struct ht_set *s, int session_fd,
				     const char *mnt, unsigned int mask,
				     int token, int again)
{
	int h;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!(mask & (1U << h)))
			continue;
		ht_pool_file_preserve(session_fd, mnt, h, token + h,
				      h == HT_2M ? again : -1);
		s->pool_mask |= 1U << h;
	}
}

/*
 * Stage 1, last: record the pools at the kexec in @s, hand the record @rec
 * of @size bytes, which holds @s, over as @token of @session_fd, and wait
 * for the kexec.
 */
static inline void ht_set_hand_over(struct ht_set *s, int luo_fd,
				    int session_fd, int token, const void *rec,
				    size_t size)
{
	ht_pools_read(&s->at_kexec);
	ht_pools_print("at the kexec", &s->at_kexec);
	ht_save_record(session_fd, token, rec, size);
	close(luo_fd);
	daemonize_and_wait();
}

/*
 * Stage 2, first: the pools are as at the kexec, per node too, and the
 * pool files (tokens @token + size) come back.
 */
static inline void ht_set_arrived(const struct ht_set *s, int session_fd,
				  int token)
{
	ht_pools_expect(&s->at_kexec, "after the kexec: pools as at the kexec");
	if (s->pool_mask)
		ht_pool_files_retrieve(session_fd, s->pool_mask, token);
}

/*
 * Stage 2: retrieve file i of @s (@token + i) into @fd[i] and check it
 * (ht_file_check()); its mapping goes to @map[i].
 */
static inline void ht_set_retrieve(const struct ht_set *s, int session_fd,
				   int token, int *fd, char **map)
{
	int i;

	for (i = 0; i < s->nr_files; i++) {
		if (!s->file[i].nr_pages)
			continue;
		fd[i] = luo_session_retrieve_fd(session_fd, token + i);
		if (fd[i] < 0)
			fail_exit("retrieve file %d", i);
		map[i] = ht_file_check(fd[i], &s->file[i], i);
	}
}

/*
 * Stage 2, last: with the files of @s retrieved (@fd) and mapped (@map),
 * their pages are in use and the pools as at the kexec. Once the files
 * are closed, their pages stay in use until the session @session_fd is
 * finished, which this does; then the pools are as before the files, and
 * new hugetlb memfds of the page sizes in @new_sizes work.
 */
static inline void ht_set_release(const struct ht_set *s, int session_fd,
				  const int *fd, char *const *map,
				  unsigned int new_sizes)
{
	int i;

	ht_set_in_use(s, "retrieved and mapped: the file pages in use");
	ht_pools_expect(&s->at_kexec, "retrieved and mapped: pools as at the kexec");
	for (i = 0; i < s->nr_files; i++) {
		if (!s->file[i].nr_pages)
			continue;
		munmap(map[i], ht_file_len(&s->file[i]));
		close(fd[i]);
	}
	ht_set_in_use(s, "closed: pages in use until the session is finished");
	ht_finish(session_fd, "data");
	ht_pools_expect(&s->base, "closed and finished: pages back in the free pools");
	ht_new_memfds(&s->base, new_sizes);
}

/* ---- a memfd of each page size and their pool files (abort, numa) ------ */

#define HT_MIXED_STATE_TOKEN	999
#define HT_MIXED_FILE_TOKEN	1	/* + the page size */
#define HT_MIXED_RECORD_TOKEN	100
#define HT_MIXED_POOL_TOKEN	200	/* + the page size */

/*
 * What hugetlb_abort and hugetlb_numa hand from stage 1 to stage 2: file
 * h is a memfd of page size h, and goes along with the pool file of that
 * size; the 1 GiB ones only where a 1 GiB page was free.
 */
struct ht_mixed {
	uint64_t magic;
	struct ht_set set;
};

/*
 * Stage 1, before the files: the 2 MiB pool has @nr_2m free pages (it
 * grows if it must), and nothing else uses the pools. The 1 GiB part runs
 * if a 1 GiB page is free; with @giant_required it must.
 */
static inline void ht_mixed_ready(struct ht_mixed *rec, long nr_2m,
				  int giant_required)
{
	struct ht_pools *base = &rec->set.base;
	struct luo_hugepages m;

	luo_hugepages_ensure_free(nr_2m, &m);
	ht_pools_read(base);
	ht_pools_print("stage 1 before", base);
	ht_pool_ready(base, HT_2M, nr_2m);
	rec->set.nr_files = 1;
	if (base->present[HT_1G] && base->all[HT_1G].free >= 1) {
		ht_pool_ready(base, HT_1G, 1);
		rec->set.nr_files = 2;
	} else if (giant_required) {
		fail_exit("-g: the 1 GiB part must run, but no 1 GiB page is free");
	} else {
		ksft_print_msg("SKIP the 1 GiB part: no free 1 GiB page (-g requires one)\n");
	}
}

/*
 * Stage 1: make the files, @nr_2m pages of 2 MiB and, if it runs, one of
 * 1 GiB, filled for @seed + the page size; their pages must be in use, on
 * their nodes. Their descriptors go to @fd, their mappings to @map.
 */
static inline void ht_mixed_files(struct ht_mixed *rec, unsigned int nr_2m,
				  uint64_t seed, int *fd, char **map)
{
	int h;

	for (h = 0; h < rec->set.nr_files; h++)
		fd[h] = ht_file_make(&rec->set.file[h], h, h,
				     h == HT_2M ? nr_2m : 1, seed + h, 0,
				     &map[h]);
	ht_set_in_use(&rec->set, "before preserve: the file pages in use");
}

/*
 * Stage 1, last: preserve the files (@fd, mapped at @map) in @session_fd,
 * then the pool files (mounts at @mnt-<size>; the 2 MiB root preserved
 * again must fail with EBUSY), hand @rec over and wait for the kexec.
 */
static inline void ht_mixed_hand_over(struct ht_mixed *rec, int luo_fd,
				      int session_fd, int *fd, char **map,
				      const char *mnt)
{
	struct ht_set *s = &rec->set;

	ht_set_preserve(s, session_fd, HT_MIXED_FILE_TOKEN, fd, map);
	ht_set_pool_files(s, session_fd, mnt, (1U << s->nr_files) - 1,
			  HT_MIXED_POOL_TOKEN, HT_MIXED_POOL_TOKEN + HT_NR_SIZES);
	ht_set_hand_over(s, luo_fd, session_fd, HT_MIXED_RECORD_TOKEN, rec,
			 sizeof(*rec));
}

/*
 * Stage 2: read @rec, which must have @magic, from the session @name and
 * check it all: the pools as at the end of stage 1, per node too; the pool
 * files and the files back, each with its size, page size, seals,
 * position, bytes, PFNs and nodes; the file pages in use until the files
 * are closed and the session finished, which this does; then new hugetlb
 * memfds work. The state session is finished last.
 */
static inline void ht_mixed_stage_2(struct ht_mixed *rec, int luo_fd,
				    int state_session_fd, const char *name,
				    uint64_t magic)
{
	int session_fd, fd[HT_NR_SIZES];
	char *map[HT_NR_SIZES];

	session_fd = ht_stage_2(luo_fd, state_session_fd, HT_MIXED_STATE_TOKEN,
				name);
	ht_read_record(session_fd, HT_MIXED_RECORD_TOKEN, rec, sizeof(*rec),
		       magic);
	if (rec->set.nr_files < 2)
		ksft_print_msg("SKIP the 1 GiB part: stage 1 had no free 1 GiB page\n");
	ht_set_arrived(&rec->set, session_fd, HT_MIXED_POOL_TOKEN);
	ht_set_retrieve(&rec->set, session_fd, HT_MIXED_FILE_TOKEN, fd, map);
	ht_set_release(&rec->set, session_fd, fd, map,
		       ht_free_sizes(&rec->set.base));
	ht_finish(state_session_fd, "state");
}

#define HT_KMSG "/dev/kmsg"

/*
 * Records of this boot's kernel log that contain @needle, read from
 * /dev/kmsg; -errno if it cannot be read.
 */
static inline int ht_kmsg_count(const char *needle)
{
	char rec[8192], *msg, *end;
	int fd, err = 0, nr = 0;
	ssize_t n;

	fd = open(HT_KMSG, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) {
			ksft_print_msg("%s: records overwritten before they were read\n",
				       HT_KMSG);
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

/*
 * Records of the kernel log from this handler ("hugetlb_luo: ..."); the
 * test fails if /dev/kmsg cannot be read.
 */
static inline int ht_kmsg_ours(void)
{
	int nr = ht_kmsg_count("hugetlb_luo: ");

	if (nr < 0) {
		errno = -nr;
		fail_exit("read %s", HT_KMSG);
	}
	return nr;
}

#endif /* HUGETLB_UTIL_H */
