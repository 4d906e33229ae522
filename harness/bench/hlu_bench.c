// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a live update of a memfd costs: hugetlb (2 MiB or 1 GiB pages) and
 * shmem preserved through LUO, against no preservation at all.
 *
 * Usage: hlu_bench before|after METHOD SIZE_MIB REP
 *
 * METHOD is hugetlb-2M, hugetlb-1G, shmem or none.
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
static int rep;

/* The start of every "HLUB:" line that bench.sh reads: what and which run. */
static void report(const char *what)
{
	printf("HLUB: %s method=%s size_mib=%lu rep=%d", what,
	       method ? method->name : "?", size_mib, rep);
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
	__u64 h = mix(size_mib) ^ mix(rep + 0x100ULL);
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
	size_t off, i, n = HLUB_CHUNK / HLUB_PAGE;
	char *buf;

	buf = malloc(HLUB_CHUNK);
	if (!buf)
		die("malloc");
	memset(buf, HLUB_FILL, HLUB_CHUNK);
	for (off = 0; off < size; off += HLUB_CHUNK) {
		for (i = 0; i < n; i++)
			fill_page(buf + i * HLUB_PAGE, seed, off / HLUB_PAGE + i);
		if (pwrite(fd, buf, HLUB_CHUNK, off) != (ssize_t)HLUB_CHUNK)
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
		    (unsigned char)pg[HLUB_PAGE / 2] != HLUB_FILL)
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
	snprintf(buf, len, "hlub-%s-%lu-%d", method->name, size_mib, rep);
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

static void stage_before(void)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	long long t0, t_fill, t_preserve, t_load;
	__u64 seed = run_seed();
	int luo, mfd;
	char path[128];
	char *p;

	if (!method->page) {
		t0 = now_ns();
		kexec_load();
		t_load = now_ns() - t0;
		report("before");
		printf(" kexec_load_ns=%lld\n", t_load);
		kexec_exec();
	}

	if (method->pool) {
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
	t0 = now_ns();
	if (ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
		die("LIVEUPDATE_SESSION_PRESERVE_FD: %s", strerror(errno));
	t_preserve = now_ns() - t0;
	/* The session holds the file now; only the session fd stays open. */
	close(mfd);

	t0 = now_ns();
	kexec_load();
	t_load = now_ns() - t0;
	report("before");
	printf(" fill_ns=%lld preserve_ns=%lld kexec_load_ns=%lld sum=%016llx\n",
	       t_fill, t_preserve, t_load, (unsigned long long)expected_sum(seed));
	kexec_exec();
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
		char buf[4096];
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), HLUB_KHO_IN "/sub_fdts/%s", de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		if (pread(fd, hdr, sizeof(hdr), 0) == sizeof(hdr) && be32(hdr) == HLUB_FDT_MAGIC)
			total = be32(hdr + 4);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			blob += n;
		close(fd);
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
	long long t0, t_session, t_retrieve, t_touch, t_verify, t_finish;
	__u64 seed = run_seed(), sum, want;
	unsigned int acc;
	long hugetlb_fdt;
	struct stat st;
	size_t bad;
	int luo;
	char *p;

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
		printf(" alloc_write_ns=%lld bad_pages=0\n", t0);
		munmap(p, size);
		return;
	}

	hugetlb_fdt = kho_in_sizes();

	luo = open(HLUB_LUO_DEV, O_RDWR | O_CLOEXEC);
	if (luo < 0)
		die("open %s: %s", HLUB_LUO_DEV, strerror(errno));
	session_name((char *)rs.name, sizeof(rs.name));
	t0 = now_ns();
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
		die("retrieve session %s: %s", rs.name, strerror(errno));
	t_session = now_ns() - t0;

	rf.token = HLUB_TOKEN;
	t0 = now_ns();
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
		die("LIVEUPDATE_SESSION_RETRIEVE_FD: %s", strerror(errno));
	t_retrieve = now_ns() - t0;

	if (fstat(rf.fd, &st) < 0 || (size_t)st.st_size != size)
		die("retrieved memfd: size %lld, expected %zu", (long long)st.st_size, size);

	t0 = now_ns();
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, rf.fd, 0);
	if (p == MAP_FAILED)
		die("mmap retrieved memfd: %s", strerror(errno));
	acc = touch(p, size);
	t_touch = now_ns() - t0;

	t0 = now_ns();
	bad = verify(p, size, seed, &sum);
	t_verify = now_ns() - t0;
	want = expected_sum(seed);
	munmap(p, size);
	close(rf.fd);

	t0 = now_ns();
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		die("LIVEUPDATE_SESSION_FINISH: %s", strerror(errno));
	t_finish = now_ns() - t0;
	close(rs.fd);
	close(luo);

	report("after");
	printf(" retrieve_session_ns=%lld retrieve_ns=%lld touch_ns=%lld verify_ns=%lld",
	       t_session, t_retrieve, t_touch, t_verify);
	printf(" finish_ns=%lld hugetlb_fdt=%ld bad_pages=%zu", t_finish, hugetlb_fdt, bad);
	printf(" sum=%016llx want=%016llx touched=%u\n", (unsigned long long)sum,
	       (unsigned long long)want, acc);
	if (bad || sum != want)
		die("content: %zu of %zu pages wrong, sum %016llx, expected %016llx", bad,
		    size / HLUB_PAGE, (unsigned long long)sum, (unsigned long long)want);
}

int main(int argc, char *argv[])
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 5 || (strcmp(argv[1], "before") && strcmp(argv[1], "after"))) {
		fprintf(stderr, "usage: %s before|after METHOD SIZE_MIB REP\n", argv[0]);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(hlub_methods); i++)
		if (!strcmp(argv[2], hlub_methods[i].name))
			method = &hlub_methods[i];
	size_mib = strtoul(argv[3], NULL, 10);
	size = size_mib * HLUB_MIB;
	rep = atoi(argv[4]);
	if (!method)
		die("unknown method %s", argv[2]);
	if (!size || (method->page && size % method->page))
		die("size %lu MiB is not a multiple of the page size %lu", size_mib,
		    method->page);

	if (!strcmp(argv[1], "before"))
		stage_before();
	else
		stage_after();
	return 0;
}
