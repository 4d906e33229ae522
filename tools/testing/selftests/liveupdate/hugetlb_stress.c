// SPDX-License-Identifier: GPL-2.0-only

/*
 * Preserved hugetlb files while other processes hammer the kernel: at
 * preserve, at the freeze inside reboot(LINUX_REBOOT_CMD_KEXEC), and at
 * retrieve and finish in the next kernel.
 *
 * Usage: hugetlb_stress [-t SECONDS] [-x HAMMERS] [-g] [-n] [-c] [-s STAGE]
 *
 * The hammers, each a child process (two for the sessions one), all on
 * unless -x names them (-x 25: no 2 and no 5), each running at most -t
 * seconds (15 by default), counting its iterations and its errors:
 *   1 pools:    nr_hugepages and nr_overcommit_hugepages of 2 MiB, grown,
 *               shrunk below the pages in use (they turn surplus), globally
 *               and per NUMA node;
 *   2 demote:   a free 1 GiB page demoted to 2 MiB pages, the 2 MiB pool
 *               shrunk by as many, the 1 GiB pool grown back (at run time:
 *               alloc_contig_pages()); with no free 1 GiB page, the pool
 *               is grown by one first, if memory allows;
 *   3 migrate:  /proc/sys/vm/compact_memory, and with two nodes
 *               move_pages(2) and migrate_pages(2) of the pages of a
 *               mapping of the 2 MiB file to the other node: none may move
 *               while the file is preserved (it is pinned); ENOMEM (no
 *               free huge page on the target node) counts as not moved;
 *   4 fork:     map the 2 MiB file, read a page, fork a child that reads
 *               one, unmap, reap, in a loop;
 *   5 udmabuf:  UDMABUF_CREATE (memfd_pin_folios()) on a page of the
 *               2 MiB file, read the page through the dma-buf, close it;
 *   6 sessions: two processes sharing the 2 MiB file and a one-page memfd
 *               X, each creating two sessions, preserving X into both (the
 *               second must fail with EBUSY, LUO's answer for a file that
 *               another session holds; between the processes one of them
 *               gets EBUSY) and the 2 MiB file (EBUSY while the main
 *               process, or the incoming session, holds it), then closing
 *               them: preserve against unpreserve;
 *   7 cgroup:   the main process moved between two child cgroups of
 *               /sys/fs/cgroup (+hugetlb +memory) while it preserves and
 *               retrieves.
 * Every hammer moves itself to the root cgroup first.
 *
 * Stage 1 makes a memfd of HS_NR_2M pages of 2 MiB (sealed F_SEAL_SHRINK,
 * for udmabuf), one of a 1 GiB page if one is free (-g: one must be), and
 * X, every byte of each written with a pattern of its offset, then starts
 * the hammers. For the first third of the run it preserves the files and
 * the 2 MiB pool file in a session and closes it again, in a loop; then it
 * preserves the final set (the files and the pool files of both sizes),
 * hands over a record of the files (bytes, PFNs, nodes, size, seals,
 * position) and, half way through the run, calls reboot(KEXEC) itself on
 * the kernel the scenario loaded with kexec -l: the freeze runs while the
 * hammers still run on the other CPU. A hammer error before that fails.
 *
 * Stage 2, before anything runs: the pages in use are exactly those of the
 * files that came back (the record's, and X if a session of hammer 6 held
 * it at the kexec: it must then have X and never the 2 MiB file), none
 * reserved, and every pool holds at least the pages of hugepages= (per
 * node for "N:X" lists) that the first kernel got, unless the kernel said
 * it could not allocate them (preserved pages may hold the ranges). Then
 * hammers 1, 2 and 7 run while it retrieves
 * the pool files and files and checks every byte, PFN and node of them;
 * hammers 3 to 6 join on the retrieved file, the sessions are finished
 * under all of them, and once the hammers end every byte is checked again.
 * The hugetlb cgroup charges of the two cgroups add up to the files while
 * they are open and are 0 once they are closed; then the pools are set
 * back to what the kernel had at the start of stage 2 and must be exactly
 * that: each page free, none surplus or reserved, per node too (a 1 GiB
 * page that could not be grown back is said, and counted). Any lockdep
 * report or WARN fails the run in the harness.
 *
 * -n: fewer than two NUMA nodes fail (the NUMA scenario). -c: a kernel
 * without /proc/sys/vm/compact_memory (CONFIG_COMPACTION=n) is accepted;
 * without -c it fails the test.
 * Scenarios: harness hugetlb_stress.scn and hugetlb_stress_numa.scn.
 */

#define _GNU_SOURCE

#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/mempolicy.h>
#include <linux/reboot.h>
#include <linux/udmabuf.h>

#include "hugetlb_util.h"

#define HS_STATE_SESSION	"hugetlb_stress_state"
#define HS_STATE_TOKEN		999
#define HS_SESSION		"hugetlb-stress"
#define HS_LOOP_SESSION		"hugetlb-stress-loop"
#define HS_H6_SESSION		"hugetlb-stress-h6-%d-%c"
#define HS_FILE_TOKEN		1	/* + HT_2M or HT_1G */
#define HS_POOL_TOKEN		10	/* + the page size */
#define HS_RECORD_TOKEN		20
#define HS_X_TOKEN		1	/* in the sessions of hammer 6 */
#define HS_F_TOKEN		2	/* in the sessions of hammer 6 */
#define HS_MNT			"/dev/hugetlb_stress"
#define HS_CG_ROOT		"/sys/fs/cgroup"
#define HS_CG			HS_CG_ROOT "/hugetlb_stress_%c"
#define HS_COMPACT		"/proc/sys/vm/compact_memory"
#define HS_NR_2M		32
#define HS_DEFAULT_SECONDS	15
#define HS_MAX_MSGS		4	/* error messages per hammer process */
#define HS_MAGIC		0x48535431	/* "HST1" */
#define HS_WORD_MUL		0x9e3779b97f4a7c15ULL

enum {
	HS_POOLS, HS_DEMOTE, HS_MIGRATE, HS_FORK, HS_UDMABUF, HS_SESSIONS,
	HS_CGROUP, HS_NR_HAMMERS
};

/* The processes of each hammer (two for the sessions one). */
#define HS_PROCS		2

/* What one hammer process counts; a, b, c are named in hs_hammers[]. */
struct hs_count {
	uint64_t iters;
	uint64_t errors;
	uint64_t a, b, c, d;
};

/* Shared by the main process and the hammers. */
struct hs_shared {
	int32_t stop;
	int32_t f_held;		/* the hold of F by the main process, or 0 */
	int32_t f_pins;		/* a hold of F pins its pages (stage 1) */
	int32_t rebooting;	/* the main process called reboot(KEXEC) */
	struct hs_count count[HS_NR_HAMMERS][HS_PROCS];
};

/* What stage 1 hands to stage 2. */
struct hs_record {
	uint64_t magic;
	uint64_t x_seed;
	int32_t nr_files;	/* F, and G if a 1 GiB page was free */
	uint32_t pool_mask;
	struct ht_pools before;	/* at the start of stage 1 */
	struct ht_file file[HT_NR_SIZES];
};

/* What the hammers work on, set before they are forked. */
static struct {
	struct hs_shared *sh;
	unsigned int disabled;		/* -x: bit i is hammer i + 1 */
	int seconds;			/* -t */
	int giant_required;		/* -g */
	int numa_required;		/* -n */
	int no_compaction_ok;		/* -c */
	int luo_fd;
	int f_fd;			/* the 2 MiB file, F */
	int x_fd;			/* hammer 6's one-page memfd, X */
	const struct ht_file *f;
	uint64_t x_seed;
	int nr_nodes;
	pid_t main_pid;
	unsigned long preserve_nomem;	/* preserves of F that got ENOMEM */
	pid_t pid[HS_NR_HAMMERS][HS_PROCS];
	uint64_t rand;
	struct timespec end;
} hs = { .seconds = HS_DEFAULT_SECONDS, .f_fd = -1, .x_fd = -1 };

struct hs_hammer {
	const char *name;
	const char *a, *b, *c;	/* what counts a, b and c count */
	int procs;
	void (*run)(int proc, struct hs_count *cnt);
	const char *d;		/* and d, if it is used */
};

static const struct hs_hammer hs_hammers[HS_NR_HAMMERS];

/* ---- small helpers ---------------------------------------------------- */

static double hs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t hs_random(void)
{
	hs.rand ^= hs.rand >> 12;
	hs.rand ^= hs.rand << 25;
	hs.rand ^= hs.rand >> 27;
	return hs.rand * 0x2545f4914f6cdd1dULL;
}

static unsigned int hs_below(unsigned int n)
{
	return (hs_random() >> 33) % n;
}

/* The 64-bit word at byte @off of a file written for @seed. */
static inline uint64_t hs_word(uint64_t seed, uint64_t off)
{
	return (seed + off) * HS_WORD_MUL;
}

/* Write every word of @len bytes at @map, the file's bytes from @start. */
static void hs_fill(char *map, unsigned long len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)map;
	unsigned long i;

	for (i = 0; i < len / 8; i++)
		w[i] = hs_word(seed, i * 8);
}

/* The offset of the first byte of @len at @map that differs, or -1. */
static long hs_first_bad(const char *map, unsigned long len, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)map;
	unsigned long i;

	for (i = 0; i < len / 8; i++) {
		if (w[i] != hs_word(seed, i * 8))
			return i * 8;
	}
	return -1;
}

/* Every byte of file @what (@len bytes at @map) as written for @seed. */
static void hs_check_bytes(const char *what, const char *map,
			   unsigned long len, uint64_t seed)
{
	long bad = hs_first_bad(map, len, seed);

	if (bad >= 0)
		fail_exit("%s: byte %ld (page of 2 MiB %ld) holds %#llx, expected %#llx",
			  what, bad, bad / (long)HT_HPAGE,
			  (unsigned long long)*(const uint64_t *)(map + bad),
			  (unsigned long long)hs_word(seed, bad));
	ksft_print_msg("%s: all %lu bytes as written\n", what, len);
}

/* Write @val to @path: 0 or -errno, quietly. */
static int hs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), err = 0;
	ssize_t len = strlen(val);

	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		err = -errno;
	close(fd);
	return err;
}

static int hs_write_long(const char *path, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	return hs_write(path, buf);
}

/* The sysfs file @name of the pool of size @h, of node @nid or all (-1). */
static void hs_pool_path(char *buf, size_t len, int h, int nid,
			 const char *name)
{
	if (nid < 0)
		snprintf(buf, len, HT_SYSFS "/hugepages-%s/%s", ht_sizes[h].dir,
			 name);
	else
		snprintf(buf, len, HT_NODE_SYSFS "/node%d/hugepages/hugepages-%s/%s",
			 nid, ht_sizes[h].dir, name);
}

static long hs_pool_read(int h, int nid, const char *name)
{
	char path[160];

	hs_pool_path(path, sizeof(path), h, nid, name);
	return ht_read_long(path);
}

static int hs_pool_write(int h, int nid, const char *name, long val)
{
	char path[160];

	hs_pool_path(path, sizeof(path), h, nid, name);
	return hs_write_long(path, val);
}

/* Count an error of a hammer, and say the first few. */
static void hs_error(struct hs_count *cnt, const char *name, const char *what,
		     long val, int err)
{
	__atomic_add_fetch(&cnt->errors, 1, __ATOMIC_RELAXED);
	if (cnt->errors <= HS_MAX_MSGS)
		ksft_print_msg("hammer %s (pid %d): %s: %ld (%s)\n", name,
			       getpid(), what, val, strerror(err));
}

static void hs_add(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

/* Whether the hammers must stop: told so, or -t seconds are over. */
static int hs_done(void)
{
	struct timespec ts;

	if (__atomic_load_n(&hs.sh->stop, __ATOMIC_RELAXED))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec > hs.end.tv_sec ||
	       (ts.tv_sec == hs.end.tv_sec && ts.tv_nsec >= hs.end.tv_nsec);
}

/* The cgroup file @file of child cgroup @c ('a' or 'b'). */
static void hs_cg_path(char *buf, size_t len, char c, const char *file)
{
	char dir[64];

	snprintf(dir, sizeof(dir), HS_CG, c);
	snprintf(buf, len, "%s/%s", dir, file);
}

/* Move task @pid into cgroup @c ('a', 'b', or 0 for the root). */
static int hs_cg_move(char c, pid_t pid)
{
	char path[96];

	if (c)
		hs_cg_path(path, sizeof(path), c, "cgroup.procs");
	else
		snprintf(path, sizeof(path), HS_CG_ROOT "/cgroup.procs");
	return hs_write_long(path, pid);
}

static int hs_enabled(int hammer)
{
	return !(hs.disabled & (1U << hammer));
}

/* ---- the hammers ------------------------------------------------------ */

/*
 * 1: grow and shrink the 2 MiB pool, persistent pages and overcommit,
 * globally and (with two nodes) per node; below the pages in use, they
 * turn surplus. hs_pools_restore() sets it all back.
 */
static void hs_hammer_pools(int proc, struct hs_count *cnt)
{
	long orig = hs_pool_read(HT_2M, -1, "nr_hugepages") -
		    hs_pool_read(HT_2M, -1, "surplus_hugepages");
	long val;
	int err, nid;

	while (!hs_done()) {
		nid = hs.nr_nodes > 1 ? (int)hs_below(hs.nr_nodes + 1) - 1 : -1;
		switch (hs_below(4)) {
		case 0:
			val = (nid < 0 ? orig : orig / hs.nr_nodes) + 48;
			break;
		case 1:
			val = 8;	/* below the pages of the files */
			break;
		case 2:
			val = nid < 0 ? orig : orig / hs.nr_nodes;
			break;
		default:
			val = 32 * hs_below(3);
			err = hs_pool_write(HT_2M, -1, "nr_overcommit_hugepages",
					    val);
			if (err)
				hs_error(cnt, "pools", "nr_overcommit_hugepages",
					 val, -err);
			hs_add(&cnt->b);
			hs_add(&cnt->iters);
			continue;
		}
		err = hs_pool_write(HT_2M, nid, "nr_hugepages", val);
		if (err)
			hs_error(cnt, "pools", "nr_hugepages", val, -err);
		if (nid >= 0)
			hs_add(&cnt->c);
		else
			hs_add(&cnt->a);
		hs_add(&cnt->iters);
		usleep(hs_below(2000));
	}
}

/*
 * 2: demote a free 1 GiB page (none is free once the pools are frozen),
 * shrink the 2 MiB pool by what it gained, and grow the 1 GiB pool back.
 */
static void hs_hammer_demote(int proc, struct hs_count *cnt)
{
	const long per = HT_GPAGE / HT_HPAGE;
	long giant, free, n2m;
	char path[160];
	int err;

	hs_pool_path(path, sizeof(path), HT_1G, -1, "demote_size");
	err = hs_write(path, "2048kB");
	if (err) {
		hs_error(cnt, "demote", "demote_size 2048kB", 0, -err);
		return;
	}
	while (!hs_done()) {
		hs_add(&cnt->iters);
		free = hs_pool_read(HT_1G, -1, "free_hugepages") -
		       hs_pool_read(HT_1G, -1, "resv_hugepages");
		giant = hs_pool_read(HT_1G, -1, "nr_hugepages");
		if (free < 1) {
			/* Nothing to demote: make a free page, if memory allows. */
			hs_add(&cnt->c);
			err = hs_pool_write(HT_1G, -1, "nr_hugepages", giant + 1);
			if (err)
				hs_error(cnt, "demote", "grow 1G to", giant + 1, -err);
			else if (hs_pool_read(HT_1G, -1, "nr_hugepages") > giant)
				hs_add(&cnt->b);
			usleep(200000);
			continue;
		}
		err = hs_pool_write(HT_1G, -1, "demote", 1);
		if (err) {
			hs_error(cnt, "demote", "demote 1", 1, -err);
			continue;
		}
		if (hs_pool_read(HT_1G, -1, "nr_hugepages") != giant - 1) {
			hs_add(&cnt->c);	/* taken meanwhile */
			continue;
		}
		hs_add(&cnt->a);
		n2m = hs_pool_read(HT_2M, -1, "nr_hugepages");
		err = hs_pool_write(HT_2M, -1, "nr_hugepages",
				    n2m > per ? n2m - per : 0);
		if (err)
			hs_error(cnt, "demote", "2M nr_hugepages", n2m - per, -err);
		err = hs_pool_write(HT_1G, -1, "nr_hugepages", giant);
		if (err)
			hs_error(cnt, "demote", "1G nr_hugepages", giant, -err);
		if (hs_pool_read(HT_1G, -1, "nr_hugepages") >= giant)
			hs_add(&cnt->b);
	}
}

/*
 * While the hold @held of F pins it (still the same hold after the moves),
 * its pages at @map must be at @pfn.
 */
static void hs_check_pinned(struct hs_count *cnt, char *map, int held,
			    const uint64_t *pfn)
{
	unsigned int p;

	if (!held || __atomic_load_n(&hs.sh->f_held, __ATOMIC_ACQUIRE) != held)
		return;
	for (p = 0; p < hs.f->nr_pages; p++) {
		if (ht_pfn_settled(map + p * HT_HPAGE) == pfn[p])
			continue;
		/* Moved before the hold ended? */
		if (__atomic_load_n(&hs.sh->f_held, __ATOMIC_ACQUIRE) != held)
			return;
		hs_error(cnt, "migrate", "a page of the pinned file moved, page",
			 p, 0);
	}
}

/*
 * 3: compaction, and with two nodes the pages of a mapping of F moved to
 * the other node (move_pages(), migrate_pages()). While F is preserved its
 * pages are pinned: none may move.
 */
static void hs_hammer_migrate(int proc, struct hs_count *cnt)
{
	unsigned long len = ht_file_len(hs.f), from, to;
	int compact = !access(HS_COMPACT, W_OK), nodes[HT_MAX_PAGES];
	int status[HT_MAX_PAGES], err, held, seen = 0, target, refused = 0;
	uint64_t pfn[HT_MAX_PAGES];
	void *pages[HT_MAX_PAGES];
	unsigned int p, nr = hs.f->nr_pages;
	char *map = NULL;
	long ret;

	if (hs.nr_nodes > 1)
		map = ht_map(hs.f_fd, len, PROT_READ, 0);
	while (!hs_done()) {
		hs_add(&cnt->iters);
		if (compact) {
			err = hs_write(HS_COMPACT, "1");
			if (err)
				hs_error(cnt, "migrate", HS_COMPACT, 1, -err);
			hs_add(&cnt->a);
		}
		if (!map) {
			if (!compact)
				break;
			continue;
		}
		held = __atomic_load_n(&hs.sh->f_held, __ATOMIC_ACQUIRE);
		held = __atomic_load_n(&hs.sh->f_pins, __ATOMIC_RELAXED) ?
		       held : 0;
		target = hs_below(hs.nr_nodes);
		for (p = 0; p < nr; p++) {
			pages[p] = map + p * HT_HPAGE;
			(void)__atomic_load_n((char *)pages[p], __ATOMIC_RELAXED);
			nodes[p] = (target + p) % hs.nr_nodes;
			status[p] = HT_MAX_NODES;	/* not written */
			/* Where a hold seen for the first time pinned them. */
			if (held && held != seen)
				pfn[p] = ht_pfn_settled(pages[p]);
		}
		seen = held;
		if (hs_below(2)) {
			ret = syscall(__NR_move_pages, 0, (long)nr, pages, nodes,
				      status, MPOL_MF_MOVE_ALL);
			if (ret < 0 && errno == ENOMEM) {
				/* No huge page free on the target (hammer 1). */
				cnt->c += nr;
			} else if (ret < 0) {
				hs_error(cnt, "migrate", "move_pages", ret, errno);
				continue;
			}
			for (p = 0; ret >= 0 && p < nr; p++) {
				/* After a failed move, the rest is not written. */
				if (status[p] < 0 || status[p] >= HT_MAX_NODES) {
					refused = status[p] < 0 ? status[p] : refused;
					hs_add(&cnt->c);
					continue;
				}
				hs_add(&cnt->b);
			}
			hs_check_pinned(cnt, map, held, pfn);
			continue;
		}
		to = 1UL << target;
		from = ((1UL << hs.nr_nodes) - 1) & ~to;
		ret = syscall(__NR_migrate_pages, 0, 8 * sizeof(long), &from, &to);
		if (ret < 0 && errno == ENOMEM)
			cnt->c += nr;	/* as for move_pages() */
		else if (ret < 0)
			hs_error(cnt, "migrate", "migrate_pages", ret, errno);
		else if (ret > 0)
			cnt->c += ret;	/* pages that did not move */
		hs_check_pinned(cnt, map, held, pfn);
	}
	if (map)
		munmap(map, len);
	if (refused)
		ksft_print_msg("hammer migrate: pages not moved: status %d (%s)\n",
			       refused, strerror(-refused));
}

/* 4: map F, read a page, fork a child that reads one too, unmap, reap. */
static void hs_hammer_fork(int proc, struct hs_count *cnt)
{
	unsigned long len = ht_file_len(hs.f), off;
	int status;
	char *map;
	pid_t pid;

	while (!hs_done()) {
		hs_add(&cnt->iters);
		map = mmap(NULL, len, PROT_READ, MAP_SHARED, hs.f_fd, 0);
		if (map == MAP_FAILED) {
			hs_error(cnt, "fork", "mmap", -1, errno);
			continue;
		}
		off = (uint64_t)hs_below(len / 8) * 8;
		if (*(uint64_t *)(map + off) != hs_word(hs.f->seed, off))
			hs_error(cnt, "fork", "wrong word at byte", off, 0);
		pid = fork();
		if (!pid) {
			off = (uint64_t)hs_below(len / 8) * 8;
			_exit(*(uint64_t *)(map + off) !=
			      hs_word(hs.f->seed, off));
		}
		munmap(map, len);
		if (pid < 0) {
			hs_error(cnt, "fork", "fork", pid, errno);
			continue;
		}
		hs_add(&cnt->a);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			hs_error(cnt, "fork", "child read a wrong word, status",
				 status, 0);
	}
}

/*
 * 5: a dma-buf of a page of F (memfd_pin_folios()), read through its
 * mapping, closed. Hammer 3 may have moved the page where a long-term pin
 * must move it away from, and with no free huge page left (hammer 1) the
 * pin fails with ENOMEM; so does the dma-buf's own allocation when
 * hammer 1 has grown the pools over most of memory: counted.
 */
static void hs_hammer_udmabuf(int proc, struct hs_count *cnt)
{
	struct udmabuf_create c = { .memfd = hs.f_fd, .size = HT_HPAGE };
	int dev = open("/dev/udmabuf", O_RDWR), buf;
	unsigned long off;
	char *map;

	if (dev < 0) {
		hs_error(cnt, "udmabuf", "open /dev/udmabuf", dev, errno);
		return;
	}
	while (!hs_done()) {
		hs_add(&cnt->iters);
		c.offset = hs_below(hs.f->nr_pages) * HT_HPAGE;
		buf = ioctl(dev, UDMABUF_CREATE, &c);
		if (buf < 0 && errno == ENOMEM) {
			hs_add(&cnt->c);
			continue;
		}
		if (buf < 0) {
			hs_error(cnt, "udmabuf", "UDMABUF_CREATE at", c.offset,
				 errno);
			continue;
		}
		hs_add(&cnt->a);
		map = mmap(NULL, HT_HPAGE, PROT_READ, MAP_SHARED, buf, 0);
		if (map == MAP_FAILED) {
			hs_error(cnt, "udmabuf", "mmap of the dma-buf", -1, errno);
		} else {
			off = hs_below(HT_HPAGE / 8) * 8;
			if (*(uint64_t *)(map + off) !=
			    hs_word(hs.f->seed, c.offset + off))
				hs_error(cnt, "udmabuf", "wrong word at byte",
					 c.offset + off, 0);
			hs_add(&cnt->b);
			munmap(map, HT_HPAGE);
		}
		close(buf);
	}
	close(dev);
}

/*
 * 6: X into two sessions of this process (the second must get EBUSY),
 * against the other process doing the same; F into the first (EBUSY while
 * the main process or the incoming session holds F); close both. Once
 * retrieved, F's pages may have been moved (hammer 3) into KHO scratch,
 * which is CMA: the pin of preserve must move them out again, and fails
 * with ENOMEM when the pools (hammer 1) leave no page for that.
 */
static void hs_hammer_sessions(int proc, struct hs_count *cnt)
{
	char name[2][40];
	int fd[2], i, ret, held;

	for (i = 0; i < 2; i++)
		snprintf(name[i], sizeof(name[i]), HS_H6_SESSION, proc, 'a' + i);
	while (!hs_done()) {
		hs_add(&cnt->iters);
		fd[0] = luo_create_session(hs.luo_fd, name[0]);
		fd[1] = luo_create_session(hs.luo_fd, name[1]);
		if (fd[0] < 0 || fd[1] < 0) {
			hs_error(cnt, "sessions", "create a session",
				 fd[0] < 0 ? fd[0] : fd[1],
				 fd[0] < 0 ? -fd[0] : -fd[1]);
			goto close;
		}
		ret = luo_session_preserve_fd(fd[0], hs.x_fd, HS_X_TOKEN);
		if (!ret) {
			hs_add(&cnt->a);
			ret = luo_session_preserve_fd(fd[1], hs.x_fd, HS_X_TOKEN);
			if (ret != -EBUSY)
				hs_error(cnt, "sessions",
					 "X held by our other session: not -EBUSY",
					 ret, -ret);
		} else if (ret == -EBUSY) {
			hs_add(&cnt->b);
		} else {
			hs_error(cnt, "sessions", "preserve X", ret, -ret);
		}
		held = __atomic_load_n(&hs.sh->f_held, __ATOMIC_ACQUIRE);
		ret = luo_session_preserve_fd(fd[0], hs.f_fd, HS_F_TOKEN);
		/* Held all along: from before the preserve to after it. */
		if (held != __atomic_load_n(&hs.sh->f_held, __ATOMIC_ACQUIRE))
			held = 0;
		if (!ret && held)
			hs_error(cnt, "sessions",
				 "F preserved while another session holds it",
				 ret, 0);
		else if (!ret)
			hs_add(&cnt->c);
		else if (ret == -ENOMEM && !held)
			hs_add(&cnt->d);	/* see the comment above */
		else if (ret != -EBUSY)
			hs_error(cnt, "sessions", "preserve F", ret, -ret);
		usleep(hs_below(1000));
close:
		for (i = 0; i < 2; i++) {
			if (fd[i] >= 0)
				close(fd[i]);
		}
	}
}

/*
 * 7: move the main process between the two cgroups. Once in the kexec
 * path, past migrate_to_reboot_cpu() (PF_NO_SETAFFINITY), it cannot move:
 * EINVAL.
 */
static void hs_hammer_cgroup(int proc, struct hs_count *cnt)
{
	int err;

	while (!hs_done()) {
		hs_add(&cnt->iters);
		err = hs_cg_move(cnt->iters & 1 ? 'a' : 'b', hs.main_pid);
		if (err == -EINVAL &&
		    __atomic_load_n(&hs.sh->rebooting, __ATOMIC_ACQUIRE)) {
			hs_add(&cnt->b);
			break;
		}
		if (err)
			hs_error(cnt, "cgroup", "move the main process", err, -err);
		else
			hs_add(&cnt->a);
		usleep(hs_below(1000));
	}
}

static const struct hs_hammer hs_hammers[HS_NR_HAMMERS] = {
	[HS_POOLS] = { "pools", "global writes", "overcommit writes",
		       "node writes", 1, hs_hammer_pools },
	[HS_DEMOTE] = { "demote", "demoted", "1G grown", "no free 1G", 1,
			hs_hammer_demote },
	[HS_MIGRATE] = { "migrate", "compactions", "pages on target node",
			 "pages not moved", 1, hs_hammer_migrate },
	[HS_FORK] = { "fork", "forks", "-", "-", 1, hs_hammer_fork },
	[HS_UDMABUF] = { "udmabuf", "dma-bufs", "read through",
			 "ENOMEM", 1, hs_hammer_udmabuf },
	[HS_SESSIONS] = { "sessions", "X preserved", "X EBUSY",
			  "F preserved", HS_PROCS, hs_hammer_sessions,
			  "F ENOMEM" },
	[HS_CGROUP] = { "cgroup", "moves", "in reboot", "-", 1,
			hs_hammer_cgroup },
};

/* ---- running them ----------------------------------------------------- */

/* Fork the hammers in @mask that are enabled; they run -t seconds. */
static void hs_start(unsigned int mask)
{
	int i, p;
	pid_t pid;

	fflush(stdout);
	for (i = 0; i < HS_NR_HAMMERS; i++) {
		if (!(mask & (1U << i)) || !hs_enabled(i))
			continue;
		for (p = 0; p < hs_hammers[i].procs; p++) {
			pid = fork();
			if (pid < 0)
				fail_exit("fork hammer %s", hs_hammers[i].name);
			if (pid) {
				hs.pid[i][p] = pid;
				continue;
			}
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			hs.rand = ((uint64_t)getpid() << 20) ^ (i * 131 + p) ^
				  0x5eed;
			clock_gettime(CLOCK_MONOTONIC, &hs.end);
			hs.end.tv_sec += hs.seconds;
			if (hs_enabled(HS_CGROUP) && hs_cg_move(0, getpid()))
				hs_error(&hs.sh->count[i][p], hs_hammers[i].name,
					 "move to the root cgroup", 0, errno);
			hs_hammers[i].run(p, &hs.sh->count[i][p]);
			fflush(stdout);
			_exit(0);
		}
	}
}

/* The errors of all hammers so far. */
static uint64_t hs_errors(void)
{
	uint64_t n = 0;
	int i, p;

	for (i = 0; i < HS_NR_HAMMERS; i++)
		for (p = 0; p < HS_PROCS; p++)
			n += __atomic_load_n(&hs.sh->count[i][p].errors,
					     __ATOMIC_RELAXED);
	return n;
}

/* Print what each hammer counted, @when. */
static void hs_print(const char *when)
{
	const struct hs_hammer *hm;
	struct hs_count s;
	int i, p;

	for (i = 0; i < HS_NR_HAMMERS; i++) {
		hm = &hs_hammers[i];
		if (!hs_enabled(i))
			continue;
		memset(&s, 0, sizeof(s));
		for (p = 0; p < HS_PROCS; p++) {
			s.iters += hs.sh->count[i][p].iters;
			s.errors += hs.sh->count[i][p].errors;
			s.a += hs.sh->count[i][p].a;
			s.b += hs.sh->count[i][p].b;
			s.c += hs.sh->count[i][p].c;
			s.d += hs.sh->count[i][p].d;
		}
		ksft_print_msg("%s: hammer %d %s %llu iters %llu errs; %s %llu, %s %llu, %s %llu\n",
			       when, i + 1, hm->name,
			       (unsigned long long)s.iters,
			       (unsigned long long)s.errors, hm->a,
			       (unsigned long long)s.a, hm->b,
			       (unsigned long long)s.b, hm->c,
			       (unsigned long long)s.c);
		if (hm->d)
			ksft_print_msg("%s: hammer %d %s: %s %llu\n", when, i + 1,
				       hm->name, hm->d, (unsigned long long)s.d);
	}
}

/* Stop the hammers and reap them; one that died of a signal is an error. */
static void hs_stop(void)
{
	int i, p, status;

	__atomic_store_n(&hs.sh->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < HS_NR_HAMMERS; i++) {
		for (p = 0; p < HS_PROCS; p++) {
			if (!hs.pid[i][p])
				continue;
			if (waitpid(hs.pid[i][p], &status, 0) != hs.pid[i][p])
				fail_exit("reap hammer %s", hs_hammers[i].name);
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				hs_error(&hs.sh->count[i][p], hs_hammers[i].name,
					 "exit status", status, 0);
			hs.pid[i][p] = 0;
		}
	}
	__atomic_store_n(&hs.sh->stop, 0, __ATOMIC_RELEASE);
}

/* ---- setting up ------------------------------------------------------- */

/* Parse -t, -x, -g, -n, -c off the front of the arguments. */
static void hs_options(int *argc, char ***argv)
{
	const char *arg, *d;

	while (*argc > 1) {
		arg = (*argv)[1];
		if (!strcmp(arg, "-t") && *argc > 2) {
			hs.seconds = atoi((*argv)[2]);
		} else if (!strcmp(arg, "-x") && *argc > 2) {
			for (d = (*argv)[2]; *d; d++) {
				if (*d < '1' || *d > '0' + HS_NR_HAMMERS)
					fail_exit("-x %s: hammers are 1 to %d",
						  (*argv)[2], HS_NR_HAMMERS);
				hs.disabled |= 1U << (*d - '1');
			}
		} else if (!strcmp(arg, "-g") || !strcmp(arg, "-n") ||
			   !strcmp(arg, "-c")) {
			hs.giant_required |= arg[1] == 'g';
			hs.numa_required |= arg[1] == 'n';
			hs.no_compaction_ok |= arg[1] == 'c';
			(*argv)[1] = (*argv)[0];
			(*argv)++;
			(*argc)--;
			continue;
		} else {
			break;
		}
		(*argv)[2] = (*argv)[0];
		*argv += 2;
		*argc -= 2;
	}
	if (hs.seconds < 2 || hs.seconds > 600)
		fail_exit("-t %d: from 2 to 600 seconds", hs.seconds);
}

/* What every stage needs: shared counters, the nodes, the cgroups. */
static void hs_setup(int luo_fd)
{
	char path[96];
	struct ht_pools p;
	int c;

	hs.sh = mmap(NULL, sizeof(*hs.sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (hs.sh == MAP_FAILED)
		fail_exit("mmap the counters");
	hs.luo_fd = luo_fd;
	hs.main_pid = getpid();
	hs.rand = ((uint64_t)getpid() << 32) ^ 0x2545f491;
	ht_pools_read(&p);
	if (!p.present[HT_2M])
		fail_exit("no 2 MiB huge pages in this kernel");
	hs.nr_nodes = ht_popcount(ht_pools_nodes(&p));
	if (hs.nr_nodes < 2 && hs.numa_required)
		fail_exit("-n: %d NUMA node(s), 2 needed", hs.nr_nodes);
	if (hs_enabled(HS_MIGRATE) && access(HS_COMPACT, W_OK)) {
		if (!hs.no_compaction_ok)
			fail_exit("no %s (CONFIG_COMPACTION=n?); -c accepts that",
				  HS_COMPACT);
		ksft_print_msg("-c: no %s in this kernel: hammer 3 migrates only%s\n",
			       HS_COMPACT, hs.nr_nodes > 1 ? "" :
			       ", and with one node it has nothing to do");
	}
	if (!hs_enabled(HS_CGROUP))
		return;
	if (hs_write(HS_CG_ROOT "/cgroup.subtree_control", "+hugetlb +memory"))
		fail_exit("enable +hugetlb +memory in " HS_CG_ROOT);
	for (c = 'a'; c <= 'b'; c++) {
		snprintf(path, sizeof(path), HS_CG, c);
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_exit("mkdir %s", path);
	}
	ksft_print_msg("%d NUMA node(s), hammers run %d s, cgroups %s and %s\n",
		       hs.nr_nodes, hs.seconds, "hugetlb_stress_a",
		       "hugetlb_stress_b");
}

/*
 * A hugetlb memfd made file @i of @f: @nr pages of size @h, every byte
 * written for @seed, sealed with @seals, at a position of its own; its
 * PFNs and nodes recorded. Its mapping goes to @map.
 */
static int hs_file_make(struct ht_file *f, int i, int h, unsigned int nr,
			uint64_t seed, unsigned int seals, char **map)
{
	unsigned long size = ht_sizes[h].size;
	int fd;

	fd = ht_memfd("hugetlb_stress", nr * size,
		      ht_sizes[h].mfd_flag | MFD_ALLOW_SEALING);
	memset(f, 0, sizeof(*f));
	f->size = h;
	f->nr_pages = nr;
	f->stride = 1;
	f->seed = seed;
	*map = ht_map(fd, nr * size, PROT_READ | PROT_WRITE, 0);
	hs_fill(*map, nr * size, seed);
	ht_file_locate(f, *map);
	if (seals && ht_fcntl(fd, F_ADD_SEALS, seals))
		fail_exit("file %d: F_ADD_SEALS %#x", i, seals);
	f->seals = ht_fcntl(fd, F_GET_SEALS, 0);
	f->pos = (int64_t)(i + 1) * HT_POS_STEP;
	if (lseek(fd, f->pos, SEEK_SET) != f->pos)
		fail_exit("file %d: lseek", i);
	ksft_print_msg("file %d: %u %s pages written, first PFN %#llx on node %d\n",
		       i, nr, ht_sizes[h].label, (unsigned long long)f->pfn[0],
		       f->nid[0]);
	return fd;
}

/* Preserve the root of the hugetlbfs mount of size @h: 0 or -errno. */
static int hs_preserve_pool(int session_fd, int h, int token)
{
	int fd = ht_pool_root(HS_MNT, h, NULL), ret;

	ret = luo_session_preserve_fd(session_fd, fd, token);
	close(fd);
	return ret;
}

/*
 * Preserve F (@fd) as @token of @session_fd, which hammer 6 may hold for a
 * moment: EBUSY is tried again until @until; so is ENOMEM, the pin failing
 * to move a page of F out of KHO scratch (CMA), where hammer 3 may have
 * moved it, while hammer 1 leaves no free page (counted). Then
 * F is held (and pinned).
 */
static void hs_preserve_f(int session_fd, int fd, int token, double until,
			  unsigned long *busy)
{
	static int32_t hold;
	int ret;

	for (;;) {
		ret = luo_session_preserve_fd(session_fd, fd, token);
		if ((ret != -EBUSY && ret != -ENOMEM) || hs_now() >= until)
			break;
		if (ret == -ENOMEM)
			hs.preserve_nomem++;
		else
			(*busy)++;
		usleep(ret == -ENOMEM ? 20000 : 200);
	}
	if (ret)
		fail_exit("preserve the 2 MiB file: %d", ret);
	__atomic_store_n(&hs.sh->f_held, ++hold, __ATOMIC_RELEASE);
}

/* ---- the pools -------------------------------------------------------- */

/*
 * Set the pools back to the persistent pages of @p, per node with two
 * nodes (2 MiB first, so that the 1 GiB pages may grow back), with no
 * overcommit as at boot.
 */
static void hs_pools_restore(const struct ht_pools *p)
{
	const struct ht_counters *c;
	int h, n, err, short_by, tries;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!p->present[h])
			continue;
		err = hs_pool_write(h, -1, "nr_overcommit_hugepages", 0);
		/*
		 * Growing a pool takes what memory is free right now: pages
		 * that the hammers left pinned, isolated or scattered may come
		 * free or together a moment later (compaction helps). A page
		 * lost for good leaves the pool short after every try, and the
		 * counters checked next tell.
		 */
		for (tries = 0; !err && tries < 20; tries++) {
			short_by = 0;
			for (n = 0; !err && n < HT_MAX_NODES; n++) {
				if (hs.nr_nodes < 2 || !p->node_present[h][n])
					continue;
				c = &p->node[h][n];
				err = hs_pool_write(h, n, "nr_hugepages",
						    c->nr - c->surp);
				short_by += hs_pool_read(h, n, "nr_hugepages") <
					    c->nr - c->surp;
			}
			if (!err && hs.nr_nodes < 2) {
				err = hs_pool_write(h, -1, "nr_hugepages",
						    p->all[h].nr - p->all[h].surp);
				short_by += hs_pool_read(h, -1, "nr_hugepages") <
					    p->all[h].nr - p->all[h].surp;
			}
			if (err || !short_by)
				break;
			if (!access(HS_COMPACT, W_OK))
				hs_write(HS_COMPACT, "1");
			usleep(200000);
		}
		if (err)
			fail_exit("set the %s pool back: %d", ht_sizes[h].label,
				  err);
		if (tries)
			ksft_print_msg("the %s pool %s after %d tries\n",
				       ht_sizes[h].label,
				       short_by ? "is still short" : "grew back",
				       short_by ? tries : tries + 1);
	}
}

/*
 * The huge pages of size @h that the kernel command line asks for, of
 * node @nid (-1: all nodes); -1 if it says nothing of them.
 */
static long hs_cmdline_pages(int h, int nid)
{
	static char buf[4096];
	char *tok, *save, *v;
	long total = -1, pages;
	int cur = HT_2M, fd, n, node;

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		fail_exit("open /proc/cmdline");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fail_exit("read /proc/cmdline");
	buf[n] = '\0';
	for (tok = strtok_r(buf, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save)) {
		if (!strncmp(tok, "hugepagesz=", 11)) {
			cur = strcmp(tok + 11, "1G") ? HT_2M : HT_1G;
			continue;
		}
		if (strncmp(tok, "hugepages=", 10) || cur != h)
			continue;
		v = tok + 10;
		if (!strchr(v, ':')) {
			total = nid < 0 ? atol(v) : -1;
			continue;
		}
		total = 0;
		while (v && *v) {
			node = atoi(v);
			pages = atol(strchr(v, ':') + 1);
			if (nid < 0 || nid == node)
				total += pages;
			v = strchr(v, ',');
			if (v)
				v++;
		}
	}
	return total;
}

/*
 * The persistent pages of size @h (of node @nid, -1: all) that a boot
 * must give at least: what hugepages= asks for, but no more than the
 * first kernel had, @first (its boot may have failed to allocate some).
 */
static long hs_boot_pages(int h, int nid, const struct ht_counters *first)
{
	long want = hs_cmdline_pages(h, nid);

	return want < first->nr - first->surp ? want : first->nr - first->surp;
}

/*
 * Whether this boot said it could not allocate all the huge pages of
 * size @h that hugepages= asked for ("HugeTLB: allocating N of page size
 * 1.00 GiB failed"): preserved pages may hold the ranges it needed.
 */
static int hs_boot_short(int h)
{
	char needle[64];
	int nr;

	snprintf(needle, sizeof(needle), "of page size %s failed",
		 h == HT_1G ? "1.00 GiB" : "2.00 MiB");
	nr = ht_kmsg_count(needle);
	if (nr < 0)
		fail_exit("read " HT_KMSG);
	return nr > 0;
}

/*
 * Right after boot: the pages in use of each size are exactly @in_use[h]
 * (those of the preserved files), none is reserved, each pool has at least
 * what hugepages= asks for (see hs_boot_pages()) unless the kernel said it
 * could not allocate them, and the nodes add up to the totals.
 */
static void hs_pools_at_boot(const struct ht_pools *p, const long *in_use,
			     const struct ht_pools *before)
{
	const struct ht_counters *c;
	long want, sum[3];
	int h, n;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!p->present[h])
			continue;
		c = &p->all[h];
		if (c->nr - c->free != in_use[h] || c->resv ||
		    c->surp > in_use[h])
			fail_exit("%s at boot: %s %lld/%lld/%lld/%lld, %ld used by files",
				  ht_sizes[h].label, "total/free/resv/surplus",
				  (long long)c->nr,
				  (long long)c->free, (long long)c->resv,
				  (long long)c->surp, in_use[h]);
		want = hs_boot_pages(h, -1, &before->all[h]);
		if (c->nr - c->surp < want && hs_boot_short(h))
			ksft_print_msg("%s at boot: %lld pages, not %ld: the kernel said why\n",
				       ht_sizes[h].label,
				       (long long)(c->nr - c->surp), want);
		else if (c->nr - c->surp < want)
			fail_exit("%s after boot: %lld persistent pages, hugepages= asks for %ld",
				  ht_sizes[h].label, (long long)(c->nr - c->surp),
				  want);
		memset(sum, 0, sizeof(sum));
		for (n = 0; n < HT_MAX_NODES; n++) {
			if (!p->node_present[h][n])
				continue;
			c = &p->node[h][n];
			sum[0] += c->nr;
			sum[1] += c->free;
			sum[2] += c->surp;
			want = hs_boot_pages(h, n, &before->node[h][n]);
			if (hs.nr_nodes > 1 && c->nr - c->surp < want &&
			    !hs_boot_short(h))
				fail_exit("%s node%d at boot: %lld pages, %ld expected",
					  ht_sizes[h].label, n,
					  (long long)(c->nr - c->surp), want);
		}
		c = &p->all[h];
		if (sum[0] != c->nr || sum[1] != c->free || sum[2] != c->surp)
			fail_exit("%s at boot: nodes add up to %ld/%ld/%ld, not %lld/%lld/%lld",
				  ht_sizes[h].label, sum[0], sum[1], sum[2],
				  (long long)c->nr, (long long)c->free,
				  (long long)c->surp);
		ksft_print_msg("%s at boot: %ld pages of files (%lld surplus), %lld free\n",
			       ht_sizes[h].label, in_use[h], (long long)c->surp,
			       (long long)c->free);
	}
}

/*
 * At the end, every file closed and the pools set back to @p0's persistent
 * pages: each page free, none surplus or reserved, per node too. A 1 GiB
 * page that hammer 2 demoted and that could not be grown back is said.
 */
static void hs_pools_final(const struct ht_pools *p0)
{
	struct ht_pools exp = *p0, got;
	struct ht_counters *c;
	int h, n;

	ht_pools_read(&got);
	for (h = 0; h < HT_NR_SIZES; h++) {
		c = &exp.all[h];
		c->nr -= c->surp;
		c->free = c->nr;
		c->surp = 0;
		c->resv = 0;
		for (n = 0; n < HT_MAX_NODES; n++) {
			c = &exp.node[h][n];
			c->nr -= c->surp;
			if (h == HT_1G && got.node[h][n].nr < c->nr) {
				ksft_print_msg("1G node%d: %lld of %lld pages: not grown back\n",
					       n, (long long)got.node[h][n].nr,
					       (long long)c->nr);
				exp.all[h].nr -= c->nr - got.node[h][n].nr;
				exp.all[h].free = exp.all[h].nr;
				c->nr = got.node[h][n].nr;
			}
			c->free = c->nr;
			c->surp = 0;
		}
	}
	ht_pools_expect(&exp, "[STAGE 2] everything closed, pools set back");
}

/* ---- cgroup charges --------------------------------------------------- */

/* hugetlb.<size>.@file of cgroups a and b together, in bytes. */
static long hs_cg_charged(int h, const char *file)
{
	static const char * const size[HT_NR_SIZES] = { "2MB", "1GB" };
	char path[128], name[48];
	long sum = 0, v;
	int c;

	for (c = 'a'; c <= 'b'; c++) {
		snprintf(name, sizeof(name), "hugetlb.%s.%s", size[h], file);
		hs_cg_path(path, sizeof(path), c, name);
		v = ht_read_long(path);
		if (v < 0)
			fail_exit("read %s", path);
		sum += v;
	}
	return sum;
}

/* The charges of the cgroups are @bytes of each size, current and rsvd. */
static void hs_cg_expect(const long *bytes, const char *when)
{
	long cur, rsvd;
	int h, waited;

	if (!hs_enabled(HS_CGROUP))
		return;
	for (h = 0; h < HT_NR_SIZES; h++) {
		for (waited = 0; ; waited += 100) {
			cur = hs_cg_charged(h, "current");
			rsvd = hs_cg_charged(h, "rsvd.current");
			if ((cur == bytes[h] && rsvd == bytes[h]) ||
			    waited >= HT_POLL_MS)
				break;
			usleep(100 * 1000);
		}
		if (cur != bytes[h] || rsvd != bytes[h])
			fail_exit("%s: hugetlb.%s current %ld rsvd %ld, expected %ld",
				  when, ht_sizes[h].label, cur, rsvd, bytes[h]);
	}
	ksft_print_msg("%s: cgroup charges %ld + %ld bytes, as expected\n", when,
		       bytes[HT_2M], bytes[HT_1G]);
}

/* ---- stage 1 ---------------------------------------------------------- */

/* Preserve F (and G, and the 2 MiB pool file) and close, until @until. */
static void hs_session_loop(const struct hs_record *rec, const int *fd,
			    double until)
{
	unsigned long loops = 0, busy = 0;
	int session_fd, h;

	while (hs_now() < until) {
		session_fd = luo_create_session(hs.luo_fd, HS_LOOP_SESSION);
		if (session_fd < 0)
			fail_exit("create the loop session: %d", session_fd);
		hs_preserve_f(session_fd, fd[HT_2M], HS_FILE_TOKEN + HT_2M,
			      until + 5, &busy);
		for (h = HT_1G; h < rec->nr_files; h++) {
			if (luo_session_preserve_fd(session_fd, fd[h],
						    HS_FILE_TOKEN + h))
				fail_exit("loop %lu: preserve the %s file", loops,
					  ht_sizes[h].label);
		}
		if (hs_preserve_pool(session_fd, HT_2M, HS_POOL_TOKEN + HT_2M))
			fail_exit("loop %lu: preserve the 2M pool file", loops);
		usleep(hs_below(3000));
		__atomic_store_n(&hs.sh->f_held, 0, __ATOMIC_RELEASE);
		close(session_fd);
		loops++;
	}
	ksft_print_msg("[STAGE 1] %lu sessions preserved and closed again, F busy %lu times\n",
		       loops, busy);
}

static void run_stage_1(int luo_fd)
{
	static struct hs_record rec = { .magic = HS_MAGIC };
	int session_fd, fd[HT_NR_SIZES], h, x_fd;
	uint64_t seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	char *map[HT_NR_SIZES], *x_map;
	unsigned long busy = 0;
	struct ht_pools p;
	double t0, t;

	hs_setup(luo_fd);
	ht_pools_read(&p);
	ht_pools_print("[STAGE 1] before", &p);
	rec.before = p;
	if (p.all[HT_2M].free < HS_NR_2M + 1)
		fail_exit("%lld free 2 MiB pages, %d needed",
			  (long long)p.all[HT_2M].free, HS_NR_2M + 1);
	rec.nr_files = 1;
	if (p.present[HT_1G] && p.all[HT_1G].free >= 1)
		rec.nr_files = 2;
	else if (hs.giant_required)
		fail_exit("-g: no free 1 GiB page");
	else
		ksft_print_msg("no free 1 GiB page: no 1 GiB file\n");

	create_state_file(luo_fd, HS_STATE_SESSION, HS_STATE_TOKEN, 2);
	for (h = 0; h < rec.nr_files; h++)
		fd[h] = hs_file_make(&rec.file[h], h, h, h ? 1 : HS_NR_2M,
				     seed + h, h ? 0 : F_SEAL_SHRINK, &map[h]);
	rec.x_seed = seed + 2;
	x_fd = ht_memfd("hugetlb_stress_x", HT_HPAGE, HT_MFD_HUGE_2MB);
	x_map = ht_map(x_fd, HT_HPAGE, PROT_READ | PROT_WRITE, 0);
	hs_fill(x_map, HT_HPAGE, rec.x_seed);
	munmap(x_map, HT_HPAGE);
	hs.f_fd = fd[HT_2M];
	hs.f = &rec.file[HT_2M];
	hs.x_fd = x_fd;
	hs.sh->f_pins = 1;

	t0 = hs_now();
	hs_start(~0U);
	hs_session_loop(&rec, fd, t0 + hs.seconds / 3.0);

	/* The final set, handed over. */
	session_fd = luo_create_session(luo_fd, HS_SESSION);
	if (session_fd < 0)
		fail_exit("create the session: %d", session_fd);
	hs_preserve_f(session_fd, fd[HT_2M], HS_FILE_TOKEN + HT_2M,
		      t0 + hs.seconds, &busy);
	ht_file_locate(&rec.file[HT_2M], map[HT_2M]);
	for (h = HT_1G; h < rec.nr_files; h++) {
		ht_file_preserve(session_fd, HS_FILE_TOKEN + h, fd[h],
				 &rec.file[h], map[h], h);
	}
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!p.present[h])
			continue;
		if (hs_preserve_pool(session_fd, h, HS_POOL_TOKEN + h))
			fail_exit("preserve the %s pool file", ht_sizes[h].label);
		rec.pool_mask |= 1U << h;
	}
	ht_save_record(session_fd, HS_RECORD_TOKEN, &rec, sizeof(rec));
	ksft_print_msg("[STAGE 1] final set at %.1f s (F busy %lu times): %d files, pools %#x\n",
		       hs_now() - t0, busy, rec.nr_files, rec.pool_mask);

	while ((t = hs_now()) < t0 + hs.seconds / 2.0 && !hs_errors())
		usleep(10000);
	hs_print("[STAGE 1] at the kexec");
	if (hs_errors()) {
		hs_stop();
		hs_print("[STAGE 1] stopped");
		hs_pools_restore(&p);
		fail_exit("the hammers saw %llu errors",
			  (unsigned long long)hs_errors());
	}
	ksft_print_msg("[STAGE 1] preserve of F got ENOMEM %lu times (tried again)\n",
		       hs.preserve_nomem);
	ksft_print_msg("[STAGE 1] reboot(KEXEC) at %.1f s, the hammers running\n",
		       t - t0);
	fflush(stdout);
	__atomic_store_n(&hs.sh->rebooting, 1, __ATOMIC_RELEASE);
	syscall(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		LINUX_REBOOT_CMD_KEXEC, NULL);
	fail_exit("reboot(KEXEC) returned (was a kernel loaded with kexec -l?)");
}

/* ---- stage 2 ---------------------------------------------------------- */

/*
 * The sessions that hammer 6 had at the kexec: each must have X or
 * nothing, and never F. X comes back whole; each is finished (@fd, @map:
 * the retrieved X, or -1). Returns how many had X.
 */
static int hs_h6_leftovers(int *sess, int *fd)
{
	char name[40];
	int p, i, k = 0, s;

	for (s = 0; s < 2 * HS_PROCS; s++) {
		p = s / 2;
		i = s % 2;
		fd[s] = -1;
		snprintf(name, sizeof(name), HS_H6_SESSION, p, 'a' + i);
		sess[s] = luo_retrieve_session(hs.luo_fd, name);
		if (sess[s] == -ENOENT)
			continue;
		if (sess[s] < 0)
			fail_exit("retrieve the session %s: %d", name, sess[s]);
		fd[s] = luo_session_retrieve_fd(sess[s], HS_X_TOKEN);
		if (fd[s] >= 0)
			k++;
		else if (fd[s] != -ENOENT)
			fail_exit("%s: retrieve X: %d", name, fd[s]);
		if (luo_session_retrieve_fd(sess[s], HS_F_TOKEN) != -ENOENT)
			fail_exit("%s had the 2 MiB file, which the main session held",
				  name);
		ksft_print_msg("session %s came along, %s X\n", name,
			       fd[s] >= 0 ? "with" : "without");
	}
	if (k > 1)
		fail_exit("X came back %d times", k);
	return k;
}

/* The bytes of X, retrieved as @fd; then closed. */
static void hs_check_x(int fd, uint64_t seed)
{
	char *map = ht_map(fd, HT_HPAGE, PROT_READ, 0);

	hs_check_bytes("X", map, HT_HPAGE, seed);
	munmap(map, HT_HPAGE);
	close(fd);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hs_record rec;
	int session_fd, fd[HT_NR_SIZES], h, s, k, x2_fd;
	int h6_sess[2 * HS_PROCS], h6_fd[2 * HS_PROCS];
	long in_use[HT_NR_SIZES] = { 0 }, bytes[HT_NR_SIZES] = { 0 };
	long none[HT_NR_SIZES] = { 0 };
	char *map[HT_NR_SIZES], *x2_map;
	struct ht_pools p0;
	double t0;

	ht_pools_read(&p0);
	ht_pools_print("[STAGE 2] after boot", &p0);
	hs_setup(luo_fd);
	session_fd = ht_stage_2(luo_fd, state_session_fd, HS_STATE_TOKEN,
				HS_SESSION);
	ht_read_record(session_fd, HS_RECORD_TOKEN, &rec, sizeof(rec),
		       HS_MAGIC);
	k = hs_h6_leftovers(h6_sess, h6_fd);
	for (h = 0; h < rec.nr_files; h++)
		in_use[h] = rec.file[h].nr_pages;
	in_use[HT_2M] += k;
	hs_pools_at_boot(&p0, in_use, &rec.before);

	/* X2 for hammer 6, charged to the root cgroup before the moves. */
	x2_fd = ht_memfd("hugetlb_stress_x2", HT_HPAGE, HT_MFD_HUGE_2MB);
	x2_map = ht_map(x2_fd, HT_HPAGE, PROT_READ | PROT_WRITE, 0);
	hs_fill(x2_map, HT_HPAGE, rec.x_seed + 1);
	munmap(x2_map, HT_HPAGE);

	/* Retrieve charges the cgroup of the task: a or b, never the root. */
	if (hs_enabled(HS_CGROUP) && hs_cg_move('a', getpid()))
		fail_exit("move into cgroup a");
	t0 = hs_now();
	hs_start(1U << HS_POOLS | 1U << HS_DEMOTE | 1U << HS_CGROUP);
	ht_pool_files_retrieve(session_fd, rec.pool_mask, HS_POOL_TOKEN);
	for (h = 0; h < rec.nr_files; h++) {
		fd[h] = luo_session_retrieve_fd(session_fd, HS_FILE_TOKEN + h);
		if (fd[h] < 0)
			fail_exit("retrieve the %s file: %d", ht_sizes[h].label,
				  fd[h]);
		ht_file_check_meta(fd[h], &rec.file[h], h);
		map[h] = ht_map(fd[h], ht_file_len(&rec.file[h]), PROT_READ, 0);
		hs_check_bytes(h ? "the 1 GiB file" : "the 2 MiB file", map[h],
			       ht_file_len(&rec.file[h]), rec.file[h].seed);
		ht_file_check_place(&rec.file[h], map[h], h);
		bytes[h] = ht_file_len(&rec.file[h]);
	}
	hs_cg_expect(bytes, "[STAGE 2] retrieved by the moving process");
	ksft_print_msg("[STAGE 2] retrieved at %.1f s: PFNs, nodes, layout, bytes as preserved\n",
		       hs_now() - t0);

	/* The rest of the hammers, on the retrieved file. */
	hs.f_fd = fd[HT_2M];
	hs.f = &rec.file[HT_2M];
	hs.x_fd = x2_fd;
	/* Until the session is finished, LUO holds the retrieved F. */
	__atomic_store_n(&hs.sh->f_held, 1, __ATOMIC_RELEASE);
	hs_start(1U << HS_MIGRATE | 1U << HS_FORK | 1U << HS_UDMABUF |
		 1U << HS_SESSIONS);
	while (hs_now() < t0 + hs.seconds / 2.0)
		usleep(10000);

	__atomic_store_n(&hs.sh->f_held, 0, __ATOMIC_RELEASE);
	ht_finish(session_fd, "data");
	for (s = 0; s < 2 * HS_PROCS; s++) {
		if (h6_fd[s] >= 0)
			hs_check_x(h6_fd[s], rec.x_seed);
		if (h6_sess[s] >= 0)
			ht_finish(h6_sess[s], "hammer 6");
	}
	ksft_print_msg("[STAGE 2] sessions finished at %.1f s, the hammers running\n",
		       hs_now() - t0);
	while (hs_now() < t0 + hs.seconds * 3 / 4.0)
		usleep(10000);

	hs_stop();
	ksft_print_msg("[STAGE 2] hammers done at %.1f s\n", hs_now() - t0);
	hs_print("[STAGE 2]");
	if (hs_errors())
		fail_exit("the hammers saw %llu errors",
			  (unsigned long long)hs_errors());

	for (h = 0; h < rec.nr_files; h++) {
		hs_check_bytes(h ? "the 1 GiB file, at the end" :
			       "the 2 MiB file, at the end", map[h],
			       ht_file_len(&rec.file[h]), rec.file[h].seed);
		munmap(map[h], ht_file_len(&rec.file[h]));
		close(fd[h]);
	}
	close(x2_fd);
	if (hs_enabled(HS_CGROUP) && hs_cg_move(0, getpid()))
		fail_exit("move back to the root cgroup");
	hs_cg_expect(none, "[STAGE 2] closed and finished");

	hs_pools_restore(&p0);
	hs_pools_final(&p0);
	ht_finish(state_session_fd, "state");
	ksft_print_msg("[STAGE 2] done at %.1f s\n", hs_now() - t0);
	ksft_print_msg("\n--- HUGETLB STRESS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	hs_options(&argc, &argv);
	return luo_test(argc, argv, HS_STATE_SESSION, run_stage_1, run_stage_2);
}
