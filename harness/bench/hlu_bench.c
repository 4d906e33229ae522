// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a live update of a memfd costs: hugetlb (2 MiB or 1 GiB pages) and
 * shmem preserved through LUO, against no preservation at all.
 *
 * Usage: hlu_bench before|after METHOD SIZE_MIB REP [pool] [sparse]
 *
 * SIZE_MIB may end in "k" for a size in KiB instead: "4k", one 4 KiB page
 * of shmem (the fixed part of a preserve and a retrieve).
 *
 * METHOD is hugetlb-2M, hugetlb-1G, shmem or none.
 * pool:   the pool file of the page size goes along: the free pages of that
 *         size are handed over too (with shmem: of 2 MiB pages, so that the
 *         next kernel keeps the pool it had). SIZE_MIB may then be 0, a
 *         live update of the pool alone.
 * sparse: write and check only the first and last 8 bytes of every 4 KiB
 *         page (make bench-scale: the kernel zeroes a huge page anyway).
 * warm:   first preserve (before) or retrieve (after) a memfd of one page of
 *         the method in a session of its own, so that the timed call finds
 *         the code it runs translated (QEMU TCG translates code the first
 *         time it runs) and the hand-over data of the update created.
 * trace:  trace the preserve (before) or retrieve (after) of the memfd with
 *         ftrace's function_graph, four calls deep, and print the trace as
 *         "HLUT:" lines (the time per function of make bench-scale).
 *
 * before: create a memfd of SIZE_MIB, write every byte of it, preserve it
 *         in a LUO session of its own (timed), load the next kernel with
 *         kexec -l like the harness /init does, write a marker to the kernel
 *         log and call reboot(LINUX_REBOOT_CMD_KEXEC) itself, as kexec -e
 *         would, still holding the session. "none" preserves nothing.
 * after:  read the sizes of the incoming KHO trees, retrieve the session
 *         and the memfd (timed), read one byte of every 4 KiB page of it
 *         (timed), check the content, finish the session. "none" instead
 *         allocates SIZE_MIB of anonymous memory and writes it (timed): the
 *         work a preserved memfd saves.
 *
 * Results are "HLUB:" lines on stdout for the host to parse. The content of
 * each 4 KiB page is derived from (METHOD, SIZE_MIB, REP, page index), so a
 * page from another run, a lost page or a moved page is caught. Exit status
 * 0 on success, 1 on any error or wrong content.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/liveupdate.h>
#include <linux/reboot.h>
#include <linux/types.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#define HLUB_MFD_HUGE_2MB	(21U << 26)
#define HLUB_MFD_HUGE_1GB	(30U << 26)

#define HLUB_PAGE		4096UL
#define HLUB_MIB		(1024UL * 1024)
#define HLUB_CHUNK		HLUB_MIB	/* shmem is filled with write() */
#define HLUB_FILL		0xa5
#define HLUB_TOKEN		0x4255		/* "BU" */
#define HLUB_LUO_DEV		"/dev/liveupdate"
#define HLUB_KHO_IN		"/sys/kernel/debug/kho/in"
#define HLUB_HUGEPAGES		"/sys/kernel/mm/hugepages"
#define HLUB_FDT_MAGIC		0xd00dfeedU
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

struct hlub_method {
	const char *name;
	unsigned int mfd_flags;
	unsigned long page;	/* page size of the memfd, 0: no memfd */
	const char *pool;	/* hugepages-<pool> in sysfs */
};

static const struct hlub_method hlub_methods[] = {
	{ "hugetlb-2M", MFD_HUGETLB | HLUB_MFD_HUGE_2MB, 2UL << 20, "2048kB" },
	{ "hugetlb-1G", MFD_HUGETLB | HLUB_MFD_HUGE_1GB, 1UL << 30, "1048576kB" },
	{ "shmem", 0, HLUB_PAGE, NULL },
	{ "none", 0, 0, NULL },
};

static const struct hlub_method *method;
static unsigned long size_mib;
static size_t size;
static int rep, with_pool, sparse, trace, warm;

#define HLUB_POOL_TOKEN		(HLUB_TOKEN + 1)
#define HLUB_POOL_MNT		"/tmp/hlub-pool"
#define HLUB_TRACING		"/sys/kernel/tracing"
#define HLUB_TRACE_DEPTH	"4"

/* The start of every "HLUB:" line that bench.sh reads: what and which run. */
static void report(const char *what)
{
	printf("HLUB: %s method=%s size_mib=%lu size=%zu rep=%d pool=%d trace=%d warm=%d",
	       what, method ? method->name : "?", size_mib, size, rep, with_pool,
	       trace, warm);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	report("error");
	printf(" -- ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static __u64 mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Seed of this run's content: another method, size or repetition differs. */
static __u64 run_seed(void)
{
	__u64 h = mix(size) ^ mix(rep + 0x100ULL);
	const char *c;

	for (c = method->name; *c; c++)
		h = mix(h ^ (unsigned char)*c);
	return h;
}

/*
 * The content of 4 KiB page @i: a tag in its first 8 bytes, the inverted tag
 * in its last 8, HLUB_FILL in between.
 */
static void fill_page(char *pg, __u64 seed, size_t i)
{
	__u64 tag = mix(seed ^ i);

	memcpy(pg, &tag, sizeof(tag));
	tag = ~tag;
	memcpy(pg + HLUB_PAGE - sizeof(tag), &tag, sizeof(tag));
}

/* Write every byte of [p, p + len). */
static void fill(char *p, size_t len, __u64 seed)
{
	size_t i, n = len / HLUB_PAGE;

	for (i = 0; i < n; i++) {
		if (!sparse)
			memset(p + i * HLUB_PAGE, HLUB_FILL, HLUB_PAGE);
		fill_page(p + i * HLUB_PAGE, seed, i);
	}
}

/*
 * shmem: write() the content instead of faulting in 4 KiB pages one by one,
 * which under TCG takes several times as long. Not timed either way.
 */
static void fill_write(int fd, __u64 seed)
{
	size_t off, i;
	char *buf;

	buf = malloc(HLUB_CHUNK);
	if (!buf)
		die("malloc");
	memset(buf, HLUB_FILL, HLUB_CHUNK);
	for (off = 0; off < size; off += HLUB_CHUNK) {
		size_t len = size - off < HLUB_CHUNK ? size - off : HLUB_CHUNK;

		for (i = 0; i < len / HLUB_PAGE; i++)
			fill_page(buf + i * HLUB_PAGE, seed, off / HLUB_PAGE + i);
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			die("pwrite at %zu: %s", off, strerror(errno));
	}
	free(buf);
}

/* Pages whose tags or middle byte differ; *sum: the sum of the tags read. */
static size_t verify(const char *p, size_t len, __u64 seed, __u64 *sum)
{
	size_t i, bad = 0, n = len / HLUB_PAGE;
	__u64 s = 0;

	for (i = 0; i < n; i++) {
		const char *pg = p + i * HLUB_PAGE;
		__u64 tag = mix(seed ^ i), head, tail;

		memcpy(&head, pg, sizeof(head));
		memcpy(&tail, pg + HLUB_PAGE - sizeof(tail), sizeof(tail));
		s += head;
		if (head != tag || tail != ~tag ||
		    (!sparse && (unsigned char)pg[HLUB_PAGE / 2] != HLUB_FILL))
			bad++;
	}
	*sum = s;
	return bad;
}

static __u64 expected_sum(__u64 seed)
{
	size_t i, n = size / HLUB_PAGE;
	__u64 s = 0;

	for (i = 0; i < n; i++)
		s += mix(seed ^ i);
	return s;
}

/*
 * One byte of every 4 KiB page, the first access to the mapping. The sum is
 * printed, so the reads cannot be optimised away.
 */
static unsigned int touch(const char *p, size_t len)
{
	unsigned int acc = 0;
	size_t off;

	for (off = 0; off < len; off += HLUB_PAGE)
		acc += (unsigned char)p[off];
	return acc;
}

static void session_name(char *buf, size_t len)
{
	snprintf(buf, len, "hlub-%s-%zu-%d", method->name, size, rep);
}

static __u32 be32(const unsigned char *b)
{
	return (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
}

static long read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Load the next kernel exactly as the harness /init does. */
static void kexec_load(void)
{
	const char *hop = getenv("HLU_HOP");
	char append[64];
	int status;
	pid_t pid;

	if (!hop)
		die("HLU_HOP not set (not run by the harness /init?)");
	snprintf(append, sizeof(append), "--append=hlu.hop=%d", atoi(hop) + 1);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		execlp("kexec", "kexec", "-l", "-s", "--reuse-cmdline", append,
		       "--initrd=/sys/firmware/initrd", "/boot/bzImage", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("kexec -l failed (status %#x)", status);
}

/* The marker in the kernel log, then what kexec -e does: reboot into it. */
static void kexec_exec(void)
{
	char line[160];
	int fd, len;

	fflush(stdout);
	tcdrain(STDOUT_FILENO);
	sync();
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		die("open /dev/kmsg: %s", strerror(errno));
	len = snprintf(line, sizeof(line), "<5>HLUB: kexec-e method=%s size_mib=%lu rep=%d\n",
		       method->name, size_mib, rep);
	if (write(fd, line, len) != len)
		die("write /dev/kmsg: %s", strerror(errno));
	close(fd);
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		LINUX_REBOOT_CMD_KEXEC, NULL);
	die("reboot(LINUX_REBOOT_CMD_KEXEC): %s", strerror(errno));
}

/* A memfd of @size: a failure is a kernel problem, not a measurement. */
static int new_memfd(void)
{
	int fd = memfd_create("hlu_bench", method->mfd_flags);

	if (fd < 0)
		die("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, size))
		die("ftruncate %zu: %s", size, strerror(errno));
	return fd;
}

static void trace_write(const char *file, const char *val)
{
	char path[128];
	int fd;

	size_t off = 0, len = strlen(val);
	ssize_t n;

	snprintf(path, sizeof(path), HLUB_TRACING "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	/* ftrace takes one name of a list per write(). */
	for (; off < len; off += n) {
		n = write(fd, val + off, len - off);
		if (n <= 0)
			die("write %s to %s: %s", val + off, path,
			    n ? strerror(errno) : "nothing taken");
	}
	close(fd);
}

/*
 * Arm function_graph for the file handler's @op ("preserve", "retrieve"):
 * hugetlb's or shmem's, the calls it makes down to HLUB_TRACE_DEPTH.
 */
static void trace_start(const char *op)
{
	char funcs[128];

	if (!trace)
		return;
	if (access(HLUB_TRACING "/current_tracer", F_OK))
		mount("nodev", HLUB_TRACING, "tracefs", 0, NULL);
	if (access(HLUB_TRACING "/set_graph_function", F_OK)) {
		/* No function_graph (the debug kernel): measure only. */
		printf("HLUB: no ftrace in this kernel, not traced\n");
		trace = 0;
		return;
	}
	/*
	 * HLUB_TRACE_FUNC=luo_session_ioctl: the whole ioctl, LUO included;
	 * several functions, separated by spaces, may be given.
	 */
	if (getenv("HLUB_TRACE_FUNC"))
		snprintf(funcs, sizeof(funcs), "%s", getenv("HLUB_TRACE_FUNC"));
	else
		snprintf(funcs, sizeof(funcs), "%s_luo_%s",
			 method->pool ? "hugetlb" : "memfd", op);
	trace_write("tracing_on", "0");
	trace_write("current_tracer", "nop");
	trace_write("buffer_size_kb", "65536");
	trace_write("set_graph_function", funcs);
	/*
	 * HLUB_TRACE_FILTER="luo_* kho_* ...": patch only the functions
	 * that match, so that an idle CPU runs no text being patched.
	 */
	trace_write("set_ftrace_filter", getenv("HLUB_TRACE_FILTER") ?: "");
	trace_write("max_graph_depth", HLUB_TRACE_DEPTH);
	trace_write("current_tracer", "function_graph");
	trace_write("trace", "");
	trace_write("tracing_on", "1");
}

/* Stop tracing, print the trace as HLUT: lines. */
static void trace_stop(void)
{
	char line[512];
	FILE *f;

	if (!trace)
		return;
	trace_write("tracing_on", "0");
	f = fopen(HLUB_TRACING "/trace", "r");
	if (!f)
		die("open the trace: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#')
			printf("HLUT: %s", line);
	fclose(f);
	/*
	 * The tracer stays: switching it patches the text of every function
	 * again, and under TCG that once met a CPU at an int3 it did not
	 * know about (an oops in sched_balance_softirq). The kexec ends it.
	 */
}

/* The time of a preserve or retrieve @op of the memfd, traced if asked. */
static long long traced_ioctl(int fd, unsigned long req, void *arg, const char *op)
{
	long long t0;

	trace_start(op);
	t0 = now_ns();
	if (ioctl(fd, req, arg) < 0)
		die("%s the memfd: %s", op, strerror(errno));
	t0 = now_ns() - t0;
	trace_stop();
	return t0;
}

/* Preserve the root of a hugetlbfs mount of the method's page size. */
static void pool_preserve(int session_fd)
{
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	char opts[32];

	snprintf(opts, sizeof(opts), "pagesize=%luM",
		 method->pool ? method->page >> 20 : 2);
	if (mkdir(HLUB_POOL_MNT, 0755) && errno != EEXIST)
		die("mkdir %s: %s", HLUB_POOL_MNT, strerror(errno));
	if (mount("none", HLUB_POOL_MNT, "hugetlbfs", 0, opts))
		die("mount hugetlbfs %s: %s", opts, strerror(errno));
	pf.fd = open(HLUB_POOL_MNT, O_RDONLY | O_DIRECTORY);
	if (pf.fd < 0)
		die("open %s: %s", HLUB_POOL_MNT, strerror(errno));
	pf.token = HLUB_POOL_TOKEN;
	if (ioctl(session_fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
		die("preserve the pool file: %s", strerror(errno));
	close(pf.fd);
}

/* The pools of both page sizes, as the kernel that prints them sees them. */
static void print_pools(void)
{
	static const char * const sz[] = { "2048kB", "1048576kB" };
	static const char * const key[] = { "2m", "1g" };
	char path[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sz); i++) {
		snprintf(path, sizeof(path), HLUB_HUGEPAGES "/hugepages-%s/nr_hugepages", sz[i]);
		printf(" pool_%s_total=%ld", key[i], read_long(path));
		snprintf(path, sizeof(path), HLUB_HUGEPAGES "/hugepages-%s/free_hugepages", sz[i]);
		printf(" pool_%s_free=%ld", key[i], read_long(path));
	}
}

#define HLUB_WARM_TOKEN		(HLUB_TOKEN + 2)

/*
 * Preserve a memfd of one page in a session of its own, whose fd stays open
 * to the kexec (closing it would unpreserve the file).
 */
static void warm_preserve(int luo)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	char *p;
	int fd;

	snprintf((char *)cs.name, sizeof(cs.name), "hlub-warm-%s", method->name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0)
		die("create session %s: %s", cs.name, strerror(errno));
	fd = memfd_create("hlu_bench_warm", method->mfd_flags);
	if (fd < 0 || ftruncate(fd, method->page))
		die("warm memfd: %s", strerror(errno));
	p = mmap(NULL, method->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap the warm memfd: %s", strerror(errno));
	p[0] = 1;
	munmap(p, method->page);
	pf.fd = fd;
	pf.token = HLUB_WARM_TOKEN;
	if (ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
		die("preserve the warm memfd: %s", strerror(errno));
	close(fd);
}

/* Retrieve the memfd of warm_preserve() and finish its session. */
static void warm_retrieve(int luo)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };

	snprintf((char *)rs.name, sizeof(rs.name), "hlub-warm-%s", method->name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
		die("retrieve session %s: %s", rs.name, strerror(errno));
	rf.token = HLUB_WARM_TOKEN;
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
		die("retrieve the warm memfd: %s", strerror(errno));
	close(rf.fd);
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		die("finish session %s: %s", rs.name, strerror(errno));
	close(rs.fd);
}

static void stage_before(void)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	long long t0, t_fill = 0, t_preserve = 0, t_pool = 0, t_load;
	__u64 seed = run_seed();
	int luo, mfd;
	char path[128];
	char *p;

	if (!method->page) {
		t0 = now_ns();
		kexec_load();
		t_load = now_ns() - t0;
		report("before");
		printf(" kexec_load_ns=%lld", t_load);
		print_pools();
		printf("\n");
		kexec_exec();
	}

	if (method->pool && size) {
		long nr;

		snprintf(path, sizeof(path), HLUB_HUGEPAGES "/hugepages-%s/free_hugepages",
			 method->pool);
		nr = read_long(path);
		if (nr < 0 || (unsigned long)nr < size / method->page)
			die("%ld free %s huge pages, %zu needed (hugepages= on the cmdline?)",
			    nr, method->pool, size / method->page);
	}

	luo = open(HLUB_LUO_DEV, O_RDWR | O_CLOEXEC);
	if (luo < 0)
		die("open %s: %s", HLUB_LUO_DEV, strerror(errno));
	session_name((char *)cs.name, sizeof(cs.name));
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0)
		die("create session %s: %s", cs.name, strerror(errno));
	if (warm)
		warm_preserve(luo);

	if (size) {
		t0 = now_ns();
		mfd = new_memfd();
		if (method->pool) {
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
			if (p == MAP_FAILED)
				die("mmap %zu: %s", size, strerror(errno));
			fill(p, size, seed);
			munmap(p, size);
		} else {
			fill_write(mfd, seed);
		}
		t_fill = now_ns() - t0;

		pf.fd = mfd;
		pf.token = HLUB_TOKEN;
		t_preserve = traced_ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf,
					  "preserve");
		/* The session holds the file now; only the session fd stays open. */
		close(mfd);
	}
	if (with_pool) {
		t0 = now_ns();
		pool_preserve(cs.fd);
		t_pool = now_ns() - t0;
	}

	t0 = now_ns();
	kexec_load();
	t_load = now_ns() - t0;
	report("before");
	printf(" fill_ns=%lld preserve_ns=%lld pool_preserve_ns=%lld kexec_load_ns=%lld",
	       t_fill, t_preserve, t_pool, t_load);
	print_pools();
	printf(" sum=%016llx\n", (unsigned long long)expected_sum(seed));
	kexec_exec();
}

static __u64 be64(const unsigned char *b)
{
	return (__u64)be32(b) << 32 | be32(b + 4);
}

/*
 * Sum the u64 properties "nr-extents", "nr-ranges", "nr-runs" and "nr-folios"
 * of the hugetlb hand-over tree @fdt of @len bytes (its own record of what
 * it serialized), and print them.
 */
static void fdt_counts(const unsigned char *fdt, size_t len)
{
	static const char * const names[] = { "nr-extents", "nr-ranges", "nr-runs", "nr-folios" };
	__u64 sum[ARRAY_SIZE(names)] = { 0 };
	size_t off, strs, end, i;
	__u32 tag, plen, nameoff;

	if (len < 40 || be32(fdt) != HLUB_FDT_MAGIC)
		return;
	off = be32(fdt + 8);
	strs = be32(fdt + 12);
	end = off + be32(fdt + 36);
	if (end > len || strs > len)
		return;
	while (off + 4 <= end) {
		tag = be32(fdt + off);
		off += 4;
		if (tag == 1) {			/* FDT_BEGIN_NODE: a name */
			while (off < end && fdt[off])
				off++;
			off = (off + 4) & ~3UL;
		} else if (tag == 3) {		/* FDT_PROP */
			if (off + 8 > end)
				return;
			plen = be32(fdt + off);
			nameoff = be32(fdt + off + 4);
			off += 8;
			for (i = 0; i < ARRAY_SIZE(names); i++)
				if (plen == 8 && strs + nameoff < len &&
				    !strncmp((const char *)fdt + strs + nameoff, names[i],
					     len - strs - nameoff) && off + 8 <= end)
					sum[i] += be64(fdt + off);
			off = (off + plen + 3) & ~3UL;
		} else if (tag == 9) {		/* FDT_END */
			break;
		}
	}
	report("fdt");
	printf(" nr_extents=%llu nr_ranges=%llu nr_runs=%llu nr_folios=%llu\n",
	       (unsigned long long)sum[0], (unsigned long long)sum[1],
	       (unsigned long long)sum[2], (unsigned long long)sum[3]);
}

/*
 * The incoming KHO tree and its subtrees, before anything is finished:
 * "fdt" of the debugfs blob size and, when the blob is an FDT, its header's
 * totalsize (big-endian bytes 4..7).
 */
static long kho_in_sizes(void)
{
	long hugetlb = -1;
	struct dirent *de;
	char path[300];
	DIR *dir;

	dir = opendir(HLUB_KHO_IN "/sub_fdts");
	if (!dir)
		die("opendir %s/sub_fdts: %s (debugfs mounted, KHO on?)", HLUB_KHO_IN,
		    strerror(errno));
	while ((de = readdir(dir))) {
		unsigned char hdr[8];
		long blob = 0, total = -1;
		ssize_t n;
		static unsigned char buf[1 << 20];
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), HLUB_KHO_IN "/sub_fdts/%s", de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		if (pread(fd, hdr, sizeof(hdr), 0) == sizeof(hdr) && be32(hdr) == HLUB_FDT_MAGIC)
			total = be32(hdr + 4);
		while ((n = pread(fd, buf + blob, sizeof(buf) - blob, blob)) > 0)
			blob += n;
		close(fd);
		if (!strcmp(de->d_name, "hugetlb"))
			fdt_counts(buf, blob);
		report("kho-in");
		printf(" name=%s blob_bytes=%ld fdt_totalsize=%ld\n", de->d_name, blob, total);
		if (!strcmp(de->d_name, "hugetlb"))
			hugetlb = total;
	}
	closedir(dir);
	return hugetlb;
}

static void stage_after(void)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	long long t0, t_session, t_retrieve = 0, t_touch = 0, t_verify = 0;
	long long t_finish, t_pool = 0;
	__u64 seed = run_seed(), sum = 0, want;
	unsigned int acc = 0;
	long hugetlb_fdt;
	struct stat st;
	size_t bad = 0;
	int luo;
	char *p;

	if (!method->page && !size) {
		report("after");
		printf(" alloc_write_ns=0 bad_pages=0");
		print_pools();
		printf("\n");
		return;
	}
	if (!method->page) {
		t0 = now_ns();
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap %zu: %s", size, strerror(errno));
		fill(p, size, seed);
		t0 = now_ns() - t0;
		bad = verify(p, size, seed, &sum);
		if (bad || sum != expected_sum(seed))
			die("%zu of %zu pages wrong right after writing them", bad,
			    size / HLUB_PAGE);
		report("after");
		printf(" alloc_write_ns=%lld bad_pages=0", t0);
		print_pools();
		printf("\n");
		munmap(p, size);
		return;
	}

	hugetlb_fdt = kho_in_sizes();

	luo = open(HLUB_LUO_DEV, O_RDWR | O_CLOEXEC);
	if (luo < 0)
		die("open %s: %s", HLUB_LUO_DEV, strerror(errno));
	if (warm)
		warm_retrieve(luo);
	session_name((char *)rs.name, sizeof(rs.name));
	t0 = now_ns();
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
		die("retrieve session %s: %s", rs.name, strerror(errno));
	t_session = now_ns() - t0;

	if (with_pool) {
		rf.token = HLUB_POOL_TOKEN;
		t0 = now_ns();
		if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
			die("retrieve the pool file: %s", strerror(errno));
		t_pool = now_ns() - t0;
		close(rf.fd);
	}

	want = expected_sum(seed);
	if (size) {
		rf.token = HLUB_TOKEN;
		t_retrieve = traced_ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf,
					  "retrieve");

		if (fstat(rf.fd, &st) < 0 || (size_t)st.st_size != size)
			die("retrieved memfd: size %lld, expected %zu",
			    (long long)st.st_size, size);

		t0 = now_ns();
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, rf.fd, 0);
		if (p == MAP_FAILED)
			die("mmap retrieved memfd: %s", strerror(errno));
		acc = touch(p, size);
		t_touch = now_ns() - t0;

		t0 = now_ns();
		bad = verify(p, size, seed, &sum);
		t_verify = now_ns() - t0;
		munmap(p, size);
		close(rf.fd);
	}

	t0 = now_ns();
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		die("LIVEUPDATE_SESSION_FINISH: %s", strerror(errno));
	t_finish = now_ns() - t0;
	close(rs.fd);
	close(luo);

	report("after");
	printf(" retrieve_session_ns=%lld retrieve_ns=%lld touch_ns=%lld verify_ns=%lld",
	       t_session, t_retrieve, t_touch, t_verify);
	printf(" pool_retrieve_ns=%lld finish_ns=%lld hugetlb_fdt=%ld bad_pages=%zu",
	       t_pool, t_finish, hugetlb_fdt, bad);
	print_pools();
	printf(" sum=%016llx want=%016llx touched=%u\n", (unsigned long long)sum,
	       (unsigned long long)want, acc);
	if (bad || sum != want)
		die("content: %zu of %zu pages wrong, sum %016llx, expected %016llx", bad,
		    size / HLUB_PAGE, (unsigned long long)sum, (unsigned long long)want);
}

int main(int argc, char *argv[])
{
	char *end;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 5 || (strcmp(argv[1], "before") && strcmp(argv[1], "after"))) {
		fprintf(stderr, "usage: %s before|after METHOD SIZE_MIB REP %s\n",
			argv[0], "[pool] [sparse] [trace]");
		return 2;
	}
	for (i = 5; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "pool"))
			with_pool = 1;
		else if (!strcmp(argv[i], "sparse"))
			sparse = 1;
		else if (!strcmp(argv[i], "trace"))
			trace = 1;
		else if (!strcmp(argv[i], "warm"))
			warm = 1;
		else
			die("unknown option %s", argv[i]);
	}
	for (i = 0; i < ARRAY_SIZE(hlub_methods); i++)
		if (!strcmp(argv[2], hlub_methods[i].name))
			method = &hlub_methods[i];
	size_mib = strtoul(argv[3], &end, 10);
	size = size_mib * HLUB_MIB;
	if (!strcmp(end, "k")) {
		size = size_mib * 1024;
		size_mib = 0;
	} else if (*end) {
		die("size %s: a number of MiB, or of KiB ending in k", argv[3]);
	}
	rep = atoi(argv[4]);
	if (!method)
		die("unknown method %s", argv[2]);
	if (with_pool && !method->page)
		die("pool: not with %s", method->name);
	if ((!size && !with_pool && method->page) ||
	    (method->page && size % method->page))
		die("size %lu MiB is not a multiple of the page size %lu", size_mib,
		    method->page);

	if (!strcmp(argv[1], "before"))
		stage_before();
	else
		stage_after();
	return 0;
}
