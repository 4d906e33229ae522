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
 * Cases:
 *   memfd_2m                 256 MiB of 2 MiB pages, plus the checks that a
 *                            preserved file cannot change size or layout and
 *                            the check of the outgoing KHO "hugetlb" subtree
 *   memfd_1g                 2 GiB of 1 GiB pages
 *   both_sizes               a 2 MiB-page and a 1 GiB-page memfd, one session
 *   pool_only                no file: the free pools, per size and per node
 *   two_updates              one file across two live updates (3 stages)
 *   finish_without_retrieve  session finished, file never retrieved
 *   unpreserve_before_kexec  session closed before kexec
 */

#define _GNU_SOURCE

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <linux/falloc.h>
#include <linux/types.h>

#ifdef HLU_HAVE_LIBFDT
#include <libfdt.h>
#endif

#include "luo_test_utils.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#define HLU_MFD_HUGE_SHIFT	26
#define HLU_MFD_HUGE_2MB	(21U << HLU_MFD_HUGE_SHIFT)
#define HLU_MFD_HUGE_1GB	(30U << HLU_MFD_HUGE_SHIFT)

#define HLU_MAGIC		0x484c5553	/* "HLUS" */
#define HLU_VERSION		1
#define HLU_MAX_NODES		8
#define HLU_MAX_FILES		2
#define HLU_MAX_PAGES		256
#define HLU_STATE_TOKEN		0x5354
#define HLU_FILE_TOKEN		0x4800
#define HLU_BASE_PAGE		4096UL
#define HLU_POLL_MS		5000

#define HLU_HUGETLB_SYSFS	"/sys/kernel/mm/hugepages"
#define HLU_NODE_SYSFS		"/sys/devices/system/node"
#define HLU_KHO_DEBUGFS		"/sys/kernel/debug/kho"
#define HLU_FDT_NAME		"hugetlb"
#define HLU_FDT_COMPAT		"hugetlb-v1"

/* Case flags */
#define HLU_RESTRICT		0x1	/* size/layout changes refused after preserve */
#define HLU_FDT			0x2	/* check the KHO "hugetlb" subtree */
#define HLU_NO_RETRIEVE		0x4	/* finish the session without retrieving */
#define HLU_UNPRESERVE		0x8	/* close the session before kexec */

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
};

struct hlu_case {
	const char *name;
	int hops;
	unsigned int flags;
	unsigned int pool_mask;	/* page sizes whose pool must be non-empty */
	int nr_files;
	struct hlu_file_spec files[HLU_MAX_FILES];
};

static const struct hlu_case hlu_cases[] = {
	{ "memfd_2m", 2, HLU_RESTRICT | HLU_FDT, 1 << HLU_2M, 1,
	  { { HLU_2M, 128 } } },
	{ "memfd_1g", 2, 0, 1 << HLU_1G, 1, { { HLU_1G, 2 } } },
	{ "both_sizes", 2, 0, (1 << HLU_2M) | (1 << HLU_1G), 2,
	  { { HLU_2M, 64 }, { HLU_1G, 1 } } },
	{ "pool_only", 2, 0, (1 << HLU_2M) | (1 << HLU_1G), 0 },
	{ "two_updates", 3, 0, 1 << HLU_2M, 1, { { HLU_2M, 64 } } },
	{ "finish_without_retrieve", 2, HLU_NO_RETRIEVE, 1 << HLU_2M, 1,
	  { { HLU_2M, 64 } } },
	{ "unpreserve_before_kexec", 2, HLU_UNPRESERVE, 1 << HLU_2M, 1,
	  { { HLU_2M, 64 } } },
};

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
	__u64 hash[HLU_MAX_PAGES];
	__u64 pfn[HLU_MAX_PAGES];
};

/* What a stage hands to the next one, in the preserved state memfd. */
struct hlu_state {
	__u32 magic;
	__u32 version;
	char case_name[32];
	__u32 next_stage;
	__u32 nr_files;
	__u32 fdt_seen;
	__u32 pad;
	struct hlu_pool baseline;	/* stage 1, before any file existed */
	struct hlu_pool at_kexec;	/* just before this hand-over */
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

/* @base with the pages of the recorded files in use (system-wide counters). */
static void pool_in_use(const struct hlu_pool *base, const struct hlu_state *st,
			struct hlu_pool *out)
{
	unsigned int i;

	*out = *base;
	for (i = 0; i < st->nr_files; i++)
		out->all[st->file[i].hsize].free -= st->file[i].nr_pages;
}

static unsigned int files_mask(const struct hlu_state *st)
{
	unsigned int i, m = 0;

	for (i = 0; i < st->nr_files; i++)
		m |= 1 << st->file[i].hsize;
	return m;
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

static void file_fill(struct hlu_file *f)
{
	unsigned long words = f->hs->size / sizeof(__u64);
	unsigned int p;
	unsigned long i;

	for (p = 0; p < f->rec->nr_pages; p++) {
		__u64 *w = (__u64 *)(f->map + p * f->hs->size);
		__u64 base = f->rec->seed + (__u64)p * words;

		for (i = 0; i < words; i++)
			w[i] = hlu_mix(base + i);
		f->rec->hash[p] = page_hash((char *)w, f->hs->size, p);
	}
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
		unsigned long va = (unsigned long)f->map + p * f->hs->size;
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

static int file_map(struct hlu_file *f)
{
	f->map = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
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

static int file_create(struct hlu_file *f, const struct hlu_file_spec *spec,
		       struct hlu_file_rec *rec, unsigned int idx)
{
	int ret;

	f->hs = &hlu_hsizes[spec->hsize];
	f->rec = rec;
	f->len = (size_t)spec->nr_pages * f->hs->size;
	rec->token = HLU_FILE_TOKEN + idx;
	rec->hsize = spec->hsize;
	rec->nr_pages = spec->nr_pages;
	rec->seed = 0x5eed0000ULL + idx * 0x1000193ULL;

	f->fd = memfd_create("hugetlb_lu", MFD_HUGETLB | f->hs->mfd_flag);
	if (f->fd < 0)
		return -errno;
	if (ftruncate(f->fd, f->len)) {
		ret = -errno;
		goto err;
	}
	ret = file_map(f);
	if (ret)
		goto err;
	file_fill(f);
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

#ifdef HLU_HAVE_LIBFDT
static bool prop_is(const void *v, int len, unsigned long long want)
{
	__u32 v32;
	__u64 v64;

	if (len == 4) {
		memcpy(&v32, v, 4);
		return v32 == want || be32toh(v32) == want;
	}
	if (len == 8) {
		memcpy(&v64, v, 8);
		return v64 == want || be64toh(v64) == want;
	}
	return false;
}

/* Returns the number of problems found, details printed. */
static int fdt_verify(const void *fdt, size_t len)
{
	int hs, nd, plen, bad = 0, nr_hs = 0;
	const void *prop;

	if (fdt_check_header(fdt) || fdt_totalsize(fdt) > len) {
		ksft_print_msg("FDT: invalid header (magic %#x, %zu bytes read)\n",
			       be32toh(*(const __u32 *)fdt), len);
		return 1;
	}
	prop = fdt_getprop(fdt, 0, "compatible", &plen);
	if (fdt_node_check_compatible(fdt, 0, HLU_FDT_COMPAT)) {
		ksft_print_msg("FDT: root compatible is '%.*s', expected '%s'\n",
			       prop ? plen : 6, prop ? (const char *)prop : "(none)",
			       HLU_FDT_COMPAT);
		return 1;
	}
	fdt_for_each_subnode(hs, fdt, 0) {
		const char *name = fdt_get_name(fdt, hs, NULL);
		unsigned int order;

		if (!name || sscanf(name, "hstate-%u", &order) != 1)
			continue;
		nr_hs++;
		prop = fdt_getprop(fdt, hs, "order", &plen);
		if (!prop || !prop_is(prop, plen, order)) {
			ksft_print_msg("FDT: %s: property 'order' missing or not %u\n",
				       name, order);
			bad++;
		}
		fdt_for_each_subnode(nd, fdt, hs) {
			const char *nname = fdt_get_name(fdt, nd, NULL);
			unsigned int nid;
			int pl;

			if (!nname || sscanf(nname, "node-%u", &nid) != 1)
				continue;
			prop = fdt_getprop(fdt, nd, "nid", &plen);
			if (!prop || !prop_is(prop, plen, nid)) {
				ksft_print_msg("FDT: %s/%s: property 'nid' missing or not %u\n",
					       name, nname, nid);
				bad++;
			}
			if (!fdt_getprop(fdt, nd, "pool", &pl)) {
				ksft_print_msg("FDT: %s/%s: property 'pool' missing\n",
					       name, nname);
				bad++;
			}
			ksft_print_msg("FDT: %s/%s present\n", name, nname);
		}
	}
	if (!nr_hs)
		ksft_print_msg("FDT: no hstate-<order> node yet (may be written at kexec)\n");
	return bad;
}
#else
static int fdt_verify(const void *fdt, size_t len)
{
	if (len < 40 || be32toh(*(const __u32 *)fdt) != 0xd00dfeed) {
		ksft_print_msg("FDT: bad magic or too short (%zu bytes)\n", len);
		return 1;
	}
	/* Built without libfdt: look for the compatible string only. */
	if (!memmem(fdt, len, HLU_FDT_COMPAT, sizeof(HLU_FDT_COMPAT))) {
		ksft_print_msg("FDT: string '%s' not found (raw scan, no libfdt)\n",
			       HLU_FDT_COMPAT);
		return 1;
	}
	ksft_print_msg("FDT: '%s' found by raw scan (built without libfdt)\n", HLU_FDT_COMPAT);
	return 0;
}
#endif

/*
 * The outgoing KHO subtree. @handler: the kernel accepted a hugetlb memfd,
 * so it claims the feature and the subtree must be there.
 */
static bool check_out_fdt(bool handler)
{
	const char *path = HLU_KHO_DEBUGFS "/out/sub_fdts/" HLU_FDT_NAME;
	size_t len = 0;
	void *blob;
	int bad;

	if (access(path, F_OK)) {
		if (access(HLU_KHO_DEBUGFS "/out/sub_fdts", F_OK)) {
			ksft_test_result_skip("outgoing KHO FDT: no %s/out/sub_fdts (debugfs)\n",
					      HLU_KHO_DEBUGFS);
			return false;
		}
		if (!handler) {
			ksft_test_result_skip("outgoing KHO FDT: no '%s' subtree, no LUO handler\n",
					      HLU_FDT_NAME);
			return false;
		}
		ksft_print_msg("expected %s after a hugetlb memfd was preserved, it is absent\n",
			       path);
		ksft_test_result_fail("outgoing KHO FDT subtree '%s' exists\n", HLU_FDT_NAME);
		return false;
	}
	blob = read_blob(path, &len);
	if (!blob || !len) {
		free(blob);
		ksft_test_result_fail("outgoing KHO FDT subtree '%s' readable\n", HLU_FDT_NAME);
		return false;
	}
	bad = fdt_verify(blob, len);
	free(blob);
	ksft_test_result(!bad, "outgoing KHO FDT subtree '%s' is '%s'\n", HLU_FDT_NAME,
			 HLU_FDT_COMPAT);
	return !bad;
}

static void info_in_fdt(void)
{
	const char *path = HLU_KHO_DEBUGFS "/in/sub_fdts/" HLU_FDT_NAME;
	size_t len = 0;
	void *blob;

	blob = read_blob(path, &len);
	if (!blob) {
		ksft_print_msg("incoming KHO subtree %s: absent\n", path);
		return;
	}
	ksft_print_msg("incoming KHO subtree %s: %zu bytes, %s\n", path, len,
		       memmem(blob, len, HLU_FDT_COMPAT, sizeof(HLU_FDT_COMPAT)) ?
		       "names " HLU_FDT_COMPAT : "no " HLU_FDT_COMPAT " string");
	free(blob);
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
static bool check_restrictions(struct hlu_file *f, const struct hlu_pool *in_use)
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
	pool_check(in_use, 1 << HLU_2M | 1 << HLU_1G, false,
		   "refused changes leave the pool untouched");
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

static void stage1_unpreserve(int luo_fd, struct hlu_state *st)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlu_pool in_use;
	unsigned int p, bad;
	struct hlu_file f;
	__u64 h;
	int sfd, ret;

	ret = file_create(&f, &hlu_case->files[0], &st->file[0], 0);
	if (ret)
		hlu_bail("create 2M hugetlb memfd: %s\n", strerror(-ret));
	st->nr_files = 1;
	pool_in_use(&st->baseline, st, &in_use);
	st->nr_files = 0;	/* nothing of it goes to the next kernel */
	pool_check(&in_use, 1 << f.rec->hsize, false, "populated file pages in use");

	hlu_session_name(name, sizeof(name), "dropped", 2);
	sfd = luo_create_session(luo_fd, name);
	if (sfd < 0)
		hlu_bail("create session %s: %s\n", name, strerror(-sfd));
	ret = hlu_preserve(sfd, f.fd, f.rec->token);
	if (ret) {
		ksft_print_msg("PRESERVE_FD of a MFD_HUGETLB memfd: expected success, got %s\n",
			       strerror(-ret));
		hlu_bail("preserve 2M hugetlb memfd\n");
	}
	ksft_test_result_pass("preserve 2M hugetlb memfd in session %s\n", name);

	close(sfd);	/* unpreserves the file */
	ksft_test_result_pass("close session %s before kexec\n", name);

	for (p = 0, bad = 0; p < f.rec->nr_pages; p++) {
		h = page_hash(f.map + (size_t)p * f.hs->size, f.hs->size, p);
		bad += h != f.rec->hash[p];
	}
	ksft_test_result(!bad, "file content intact after unpreserve (%u pages differ)\n", bad);
	pool_check(&in_use, 1 << f.rec->hsize, false,
		   "pages still in use while the unpreserved file is open");

	ret = ftruncate(f.fd, 0);
	if (ret)
		ksft_print_msg("ftruncate(0) after unpreserve: expected success, got %s\n",
			       strerror(errno));
	ksft_test_result(!ret, "unpreserved memfd can be truncated again\n");
	file_unmap_close(&f);
	pool_check(&st->baseline, pool_mask(&st->baseline), true,
		   "pool back to its state before the file (all sizes, per node)");
}

static void stage1(int luo_fd)
{
	const struct hlu_case *c = hlu_case;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlu_file files[HLU_MAX_FILES];
	__u64 pfn[HLU_MAX_PAGES];
	struct hlu_pool in_use;
	struct hlu_state *st;
	bool preserved = true, intact = true;
	unsigned int need[HLU_NR_HSIZES] = { 0 };
	int h, i, ret, sfd = -1;

	st = calloc(1, sizeof(*st));
	if (!st)
		hlu_bail("calloc state\n");
	pool_read(&st->baseline);
	pool_print("stage 1 before", &st->baseline);

	for (i = 0; i < c->nr_files; i++)
		need[c->files[i].hsize] += c->files[i].nr_pages;
	if (c->flags & HLU_RESTRICT)
		need[HLU_2M] += 1;	/* an unrefused grow would need a free page */
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		const struct hlu_counters *a = &st->baseline.all[h];

		if (!(c->pool_mask & (1 << h)))
			continue;
		if (!st->baseline.present[h])
			ksft_exit_skip("no %s hugetlb page size on this machine/kernel\n",
				       hlu_hsizes[h].label);
		if (a->nr < need[h] || a->nr == 0 || a->free != a->nr || a->resv || a->surp)
			hlu_bail("%s pool: need %u+ free pages, saw %lld/%lld/%lld/%lld %s\n",
				 hlu_hsizes[h].label, need[h] ? need[h] : 1, (long long)a->nr,
				 (long long)a->free, (long long)a->resv, (long long)a->surp,
				 "total/free/resv/surplus");
	}
	ksft_test_result_pass("hugetlb pools configured for case %s\n", c->name);

	if (c->flags & HLU_UNPRESERVE) {
		stage1_unpreserve(luo_fd, st);
		pool_read(&st->at_kexec);
		state_save(luo_fd, st, 2);
		hlu_daemonize(luo_fd);
	}

	for (i = 0; i < c->nr_files; i++) {
		const struct hlu_hsize *hs = &hlu_hsizes[c->files[i].hsize];

		ret = file_create(&files[i], &c->files[i], &st->file[i], i);
		if (ret)
			hlu_bail("create %s hugetlb memfd of %u pages: %s\n", hs->label,
				 c->files[i].nr_pages, strerror(-ret));
		st->nr_files++;
		ret = file_pfns(&files[i], st->file[i].pfn);
		ksft_test_result(!ret && pfns_valid(&files[i], st->file[i].pfn, "stage 1"),
				 "file %d: %u %s pages filled (hash %#llx), PFNs read\n", i,
				 c->files[i].nr_pages, hs->label,
				 (unsigned long long)st->file[i].file_hash);
	}
	if (c->nr_files) {
		pool_in_use(&st->baseline, st, &in_use);
		pool_check(&in_use, files_mask(st), false,
			   "file pages counted in use (HugePages_Free = before - file pages)");

		hlu_session_name(name, sizeof(name), "data", 2);
		sfd = luo_create_session(luo_fd, name);
		if (sfd < 0)
			hlu_bail("create session %s: %s\n", name, strerror(-sfd));
	}
	for (i = 0; i < c->nr_files; i++) {
		ret = hlu_preserve(sfd, files[i].fd, st->file[i].token);
		if (ret) {
			ksft_print_msg("PRESERVE_FD of a %s hugetlb memfd: expected 0, got %s\n",
				       files[i].hs->label, strerror(-ret));
			preserved = false;
		}
		ksft_test_result(!ret, "preserve %s hugetlb memfd (%zu MiB) in session %s\n",
				 files[i].hs->label, files[i].len >> 20, name);
	}
	if (c->flags & HLU_FDT) {
		if (check_out_fdt(preserved && c->nr_files))
			st->fdt_seen = 1;
	}
	if (!preserved)
		hlu_bail("preserving hugetlb memfds failed: no live update to test\n");

	if (c->flags & HLU_RESTRICT)
		intact = check_restrictions(&files[0], &in_use);
	if (!intact)
		hlu_bail("preserved file changed size: stopping\n");

	/* The PFNs compared after kexec are the ones right before it. */
	for (i = 0; i < c->nr_files; i++) {
		ret = file_pfns(&files[i], pfn);
		ksft_test_result(!ret && pfns_valid(&files[i], pfn, "after preserve"),
				 "file %d: PFNs read after preserve\n", i);
		if (memcmp(pfn, st->file[i].pfn, st->file[i].nr_pages * sizeof(*pfn)))
			ksft_print_msg("file %d: note: PFNs changed by preserve\n", i);
		memcpy(st->file[i].pfn, pfn, st->file[i].nr_pages * sizeof(*pfn));
		file_unmap_close(&files[i]);
	}
	if (c->nr_files)
		pool_check(&in_use, files_mask(st), false,
			   "pages stay in use when only LUO holds the files");

	pool_read(&st->at_kexec);
	pool_print("stage 1 at kexec", &st->at_kexec);
	state_save(luo_fd, st, 2);
	hlu_daemonize(luo_fd);
}

/* ---- stage 2+ --------------------------------------------------------- */

/* Retrieve, map and compare every file; @files keep fds and mappings. */
static void verify_files(int sfd, struct hlu_state *st, struct hlu_file *files)
{
	struct hlu_pool in_use;
	__u64 pfn[HLU_MAX_PAGES];
	unsigned int i, p;
	struct stat sb;
	int fd, ret;

	for (i = 0; i < st->nr_files; i++) {
		struct hlu_file *f = &files[i];
		struct hlu_file_rec *rec = &st->file[i];
		unsigned int bad_hash = 0, bad_pfn = 0;

		f->hs = &hlu_hsizes[rec->hsize];
		f->rec = rec;
		f->len = (size_t)rec->nr_pages * f->hs->size;
		f->map = NULL;
		fd = hlu_retrieve(sfd, rec->token);
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

		ret = file_map(f);
		if (ret) {
			ksft_print_msg("mmap of the retrieved file: %s (ENOMEM: reserved again?)\n",
				       strerror(-ret));
			hlu_bail("file %u: mmap retrieved hugetlb memfd\n", i);
		}
		for (p = 0; p < rec->nr_pages; p++) {
			__u64 h = page_hash(f->map + (size_t)p * f->hs->size, f->hs->size, p);

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
	}
	pool_in_use(&st->baseline, st, &in_use);
	pool_check(&in_use, files_mask(st), false,
		   "retrieved and mapped: pages in use, nothing reserved again");
	pool_check(&st->at_kexec, pool_mask(&st->at_kexec), true,
		   "retrieved and mapped: pool as before kexec (per node)");
}

static void stage_next(int luo_fd, int stage)
{
	const struct hlu_case *c = hlu_case;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlu_file files[HLU_MAX_FILES];
	struct hlu_pool now, in_use;
	struct hlu_state *st;
	unsigned int i;
	int h, sfd, ret;

	st = calloc(1, sizeof(*st));
	if (!st)
		hlu_bail("calloc state\n");
	state_load(luo_fd, st, stage);

	pool_read(&now);
	pool_print("after kexec", &now);
	for (h = 0; h < HLU_NR_HSIZES; h++) {
		if (!st->at_kexec.present[h])
			continue;
		pool_check(&st->at_kexec, 1 << h, true, hlu_hsizes[h].label[0] == '2' ?
			   "2M pool after kexec as before (total/free/resv/surplus, per node)" :
			   "1G pool after kexec as before (total/free/resv/surplus, per node)");
	}

	if (c->flags & HLU_UNPRESERVE) {
		hlu_session_name(name, sizeof(name), "dropped", stage);
		sfd = luo_retrieve_session(luo_fd, name);
		if (sfd != -ENOENT)
			ksft_print_msg("retrieve session %s: expected ENOENT, got %s\n", name,
				       sfd >= 0 ? "a session fd" : strerror(-sfd));
		ksft_test_result(sfd == -ENOENT, "unpreserved session %s is gone (ENOENT)\n",
				 name);
		pool_check(&st->baseline, pool_mask(&st->baseline), true,
			   "pool as in stage 1 before any file (per node)");
		hlu_exit();
	}
	if (!st->nr_files)
		hlu_exit();

	hlu_session_name(name, sizeof(name), "data", stage);
	sfd = luo_retrieve_session(luo_fd, name);
	if (sfd < 0)
		hlu_bail("retrieve session %s: %s (expected: preserved by stage %d)\n", name,
			 strerror(-sfd), stage - 1);
	ksft_test_result_pass("session %s retrieved\n", name);

	if (c->flags & HLU_NO_RETRIEVE) {
		ret = luo_session_finish(sfd);
		if (ret)
			ksft_print_msg("FINISH with an unretrieved file: expected 0, got %s\n",
				       strerror(-ret));
		ksft_test_result(!ret, "finish session without retrieving its file\n");
		close(sfd);
		pool_check(&st->baseline, pool_mask(&st->baseline), true,
			   "unretrieved file's pages back in the free pool (free == total)");
		hlu_exit();
	}

	verify_files(sfd, st, files);
	if (c->flags & HLU_FDT && st->fdt_seen)
		info_in_fdt();
	pool_in_use(&st->baseline, st, &in_use);

	if (stage < c->hops) {
		/* Finish the incoming session, keep the files, hand them on. */
		ret = luo_session_finish(sfd);
		ksft_test_result(!ret, "finish session %s, files kept open\n", name);
		close(sfd);
		pool_check(&in_use, files_mask(st), false,
			   "pages in use after finish while the files are open");

		hlu_session_name(name, sizeof(name), "data", stage + 1);
		sfd = luo_create_session(luo_fd, name);
		if (sfd < 0)
			hlu_bail("create session %s: %s\n", name, strerror(-sfd));
		for (i = 0; i < st->nr_files; i++) {
			ret = hlu_preserve(sfd, files[i].fd, st->file[i].token);
			if (ret)
				ksft_print_msg("preserve of retrieved memfd: expected 0, got %s\n",
					       strerror(-ret));
			ksft_test_result(!ret, "file %u: preserved again for stage %d\n", i,
					 stage + 1);
			if (ret)
				hlu_bail("re-preserve failed\n");
			file_unmap_close(&files[i]);
		}
		pool_read(&st->at_kexec);
		pool_print("at kexec", &st->at_kexec);
		state_save(luo_fd, st, stage + 1);
		hlu_daemonize(luo_fd);
	}

	for (i = 0; i < st->nr_files; i++)
		file_unmap_close(&files[i]);
	pool_check(&in_use, files_mask(st), false,
		   "pages stay in use after close until the session is finished");
	ret = luo_session_finish(sfd);
	if (ret)
		ksft_print_msg("LIVEUPDATE_SESSION_FINISH: expected success, got %s\n",
			       strerror(-ret));
	ksft_test_result(!ret, "finish session %s\n", name);
	close(sfd);
	pool_check(&st->baseline, pool_mask(&st->baseline), true,
		   "closed and finished: pages back in the free pool (free == total, per node)");
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
