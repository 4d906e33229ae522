// SPDX-License-Identifier: GPL-2.0-only

/*
 * Holes of a preserved file filled while the kexec freezes it: every fill
 * that worked arrives in the next kernel, and the fills made after the
 * freeze fail instead of being lost.
 *
 * Usage: hugetlb_fill -d|-f|-u [-s STAGE]
 *
 * Stage 1 preserves a 2 MiB-page memfd of HF_NR_PAGES pages of which only
 * page 0, the filler's log, is there, and forks the filler. Once
 * HF_GO_PATH exists (the scenario creates it shortly before "kexec -e"),
 * the filler fills hole after hole, one every HF_PACE_US or so, until the
 * kexec, and retries a refused fill at once:
 * - -d: with udmabuf (UDMABUF_CREATE, which pins the range with
 *   memfd_pin_folios(), which allocates the page), then writes the mark;
 * - -f: with a fault, by read() from a pipe holding the mark into the hole;
 * - -u: with UFFDIO_COPY of a page holding the mark.
 * Its log counts the holes filled, and the fills the kernel refused: after
 * the freeze, -d and -u must fail with EPERM and -f with EFAULT (a SIGBUS
 * in userspace). A fill retries the same hole until it works.
 *
 * Stage 2 retrieves the file: every hole the log says was filled holds its
 * mark, at least one fill was refused (the filler met the freeze), and the
 * pages in use are the file's. Once it is closed and the session is
 * finished, every huge page is free.
 *
 * Without HF_GO_PATH the filler never starts: the file then comes back with
 * page 0 only (vmtest.sh -T hugetlb_fill runs it that way).
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/udmabuf.h>
#include <linux/userfaultfd.h>

#include "hugetlb_util.h"

#define HF_STATE_SESSION	"hugetlb_fill_state"
#define HF_STATE_TOKEN		999
#define HF_SESSION		"hugetlb-fill"
#define HF_FILE_TOKEN		1
#define HF_RECORD_TOKEN	20
#define HF_NR_PAGES		192
#define HF_SIZE			((unsigned long)HF_NR_PAGES * HT_HPAGE)
#define HF_GO_PATH		"/tmp/hlu-fill-go"
#define HF_PACE_US		2000	/* after each fill */
#define HF_MAGIC		0x48464c31	/* "HFL1" */
#define HF_MARK			0x6d61726b00000000ULL	/* + the page */

#define HF_OPT_UDMABUF		0x1	/* -d */
#define HF_OPT_FAULT		0x2	/* -f */
#define HF_OPT_UFFD		0x4	/* -u */

/* The filler's log, in page 0 of the file. */
struct hf_log {
	uint64_t magic;
	uint64_t started;	/* the filler saw HF_GO_PATH */
	uint64_t attempted;	/* the hole it works on */
	uint64_t filled;	/* holes 1 to this one are filled */
	uint64_t refused;	/* fills refused, each the expected way */
	int64_t error;		/* an errno that was not expected */
};

/* What stage 1 hands to stage 2. */
struct hf_record {
	uint64_t magic;
	uint32_t opts;
	struct ht_pools base;		/* before the file */
	struct ht_pools at_kexec;	/* with page 0 in use */
};

static unsigned int hf_opts;

static const char *hf_method(unsigned int opts)
{
	if (!opts)
		return "none";
	if (opts & HF_OPT_UDMABUF)
		return "udmabuf";
	return opts & HF_OPT_FAULT ? "fault" : "UFFDIO_COPY";
}

/* The errno of a fill after the freeze. */
static int hf_refusal(unsigned int opts)
{
	return opts & HF_OPT_FAULT ? EFAULT : EPERM;
}

static void hf_store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Fill hole @k of @map (@fd) with udmabuf, then mark it; 0 or an errno. */
static int hf_fill_udmabuf(int dev, int fd, char *map, uint64_t k)
{
	struct udmabuf_create c = {
		.memfd = fd,
		.offset = k * HT_HPAGE,
		.size = HT_HPAGE,
	};
	int buf = ioctl(dev, UDMABUF_CREATE, &c);

	if (buf < 0)
		return errno;
	close(buf);
	hf_store((uint64_t *)(map + k * HT_HPAGE), HF_MARK + k);
	return 0;
}

/* Fill hole @k of @map by a fault in read() from @pfd; 0 or an errno. */
static int hf_fill_fault(const int *pfd, char *map, uint64_t k)
{
	uint64_t mark = HF_MARK + k;
	int err;

	if (write(pfd[1], &mark, sizeof(mark)) != sizeof(mark))
		return errno;
	if (read(pfd[0], map + k * HT_HPAGE, sizeof(mark)) == sizeof(mark))
		return 0;
	/* The mark is still in the pipe. */
	err = errno;
	if (read(pfd[0], &mark, sizeof(mark)) != sizeof(mark))
		err = errno;
	return err;
}

/* Fill hole @k of @map with UFFDIO_COPY of @src; 0 or an errno. */
static int hf_fill_uffd(int uffd, char *src, char *map, uint64_t k)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)(map + k * HT_HPAGE),
		.src = (uintptr_t)src,
		.len = HT_HPAGE,
	};

	*(uint64_t *)src = HF_MARK + k;
	if (!ioctl(uffd, UFFDIO_COPY, &c))
		return 0;
	return errno;
}

/* The filler: waits for HF_GO_PATH, then fills holes until the kexec. */
static void hf_filler(int fd, char *map, unsigned int opts)
{
	struct hf_log *log = (struct hf_log *)map;
	int dev = -1, uffd = -1, pfd[2], err;
	char *src = NULL;
	uint64_t k;

	if (opts & HF_OPT_UDMABUF) {
		dev = open("/dev/udmabuf", O_RDWR);
		if (dev < 0)
			goto fail;
	} else if (opts & HF_OPT_FAULT) {
		if (pipe(pfd))
			goto fail;
	} else {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)map, .len = HF_SIZE },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
		    ioctl(uffd, UFFDIO_REGISTER, &reg))
			goto fail;
		src = mmap(NULL, HT_HPAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (src == MAP_FAILED)
			goto fail;
	}

	while (access(HF_GO_PATH, F_OK))
		usleep(1000);
	hf_store(&log->started, 1);

	for (k = 1; k < HF_NR_PAGES; ) {
		hf_store(&log->attempted, k);
		if (opts & HF_OPT_UDMABUF)
			err = hf_fill_udmabuf(dev, fd, map, k);
		else if (opts & HF_OPT_FAULT)
			err = hf_fill_fault(pfd, map, k);
		else
			err = hf_fill_uffd(uffd, src, map, k);
		if (!err) {
			hf_store(&log->filled, k++);
			/* Holes must last until the kexec: not too fast. */
			usleep(HF_PACE_US);
			continue;
		}
		if (err != hf_refusal(opts)) {
			hf_store((uint64_t *)&log->error, err);
			break;
		}
		hf_store(&log->refused, log->refused + 1);
	}
	if (k == HF_NR_PAGES)
		hf_store((uint64_t *)&log->error, ENOSPC);
	for (;;)
		sleep(3600);
fail:
	hf_store((uint64_t *)&log->error, errno);
	for (;;)
		sleep(3600);
}

static void run_stage_1(int luo_fd)
{
	static struct hf_record rec = { .magic = HF_MAGIC };
	struct luo_hugepages m;
	int session_fd, fd;
	struct hf_log *log;
	char *map;
	pid_t pid;

	rec.opts = hf_opts;
	luo_hugepages_ensure_free(HF_NR_PAGES, &m);
	ht_pools_read(&rec.base);
	ht_pool_ready(&rec.base, HT_2M, HF_NR_PAGES);
	/* Stage 2 cannot tell on which node the filler's pages came. */
	if (ht_popcount(ht_pools_nodes(&rec.base)) > 1)
		fail_exit("runs on one NUMA node only");

	session_fd = ht_stage_1(luo_fd, HF_STATE_SESSION, HF_STATE_TOKEN,
				HF_SESSION);
	fd = ht_memfd("hugetlb_fill", HF_SIZE,
		      HT_MFD_HUGE_2MB | MFD_ALLOW_SEALING);
	/* udmabuf takes only memfds that cannot shrink. */
	if (ht_fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		fail_exit("F_ADD_SEALS F_SEAL_SHRINK");
	map = ht_map(fd, HF_SIZE, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	log = (struct hf_log *)map;
	log->magic = HF_MAGIC;

	if (luo_session_preserve_fd(session_fd, fd, HF_FILE_TOKEN))
		fail_exit("preserve the file");

	fflush(stdout);
	pid = hf_opts ? fork() : 0;
	if (pid < 0)
		fail_exit("fork the filler");
	if (hf_opts && !pid) {
		setsid();
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		close(STDERR_FILENO);
		close(luo_fd);
		close(session_fd);
		hf_filler(fd, map, hf_opts);
	}
	if (hf_opts)
		ksft_print_msg("filler pid %d fills holes with %s once %s exists\n",
			       pid, hf_method(hf_opts), HF_GO_PATH);
	else
		ksft_print_msg("no -d, -f or -u: no filler, the file keeps its holes\n");
	munmap(map, HF_SIZE);
	close(fd);

	ht_pools_read(&rec.at_kexec);
	ht_pools_print("at the kexec", &rec.at_kexec);
	if (rec.at_kexec.all[HT_2M].free != rec.base.all[HT_2M].free - 1)
		fail_exit("the file holds more than page 0 before the kexec");
	ksft_print_msg("[STAGE 1] the file with page 0 only preserved\n");
	ht_save_record(session_fd, HF_RECORD_TOKEN, &rec, sizeof(rec));
	close(luo_fd);
	daemonize_and_wait();
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hf_record rec;
	int session_fd, fd, err = 0;
	struct ht_pools got;
	struct hf_log log;
	int64_t used;
	uint64_t k, word;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HF_STATE_TOKEN,
				HF_SESSION);
	ht_read_record(session_fd, HF_RECORD_TOKEN, &rec, sizeof(rec),
		       HF_MAGIC);
	fd = luo_session_retrieve_fd(session_fd, HF_FILE_TOKEN);
	if (fd < 0)
		fail_exit("retrieve the file");
	if (syscall(__NR_pread64, fd, &log, sizeof(log), 0) != sizeof(log) ||
	    log.magic != HF_MAGIC)
		fail_exit("page 0 holds no log of the filler");
	ksft_print_msg("filler (%s): %llu holes filled, %llu fills refused, error %lld\n",
		       hf_method(rec.opts), (unsigned long long)log.filled,
		       (unsigned long long)log.refused, (long long)log.error);

	for (k = 1; k <= log.filled && k < HF_NR_PAGES; k++) {
		if (syscall(__NR_pread64, fd, &word, sizeof(word),
			    k * HT_HPAGE) != sizeof(word))
			fail_exit("read page %llu", (unsigned long long)k);
		if (word != HF_MARK + k) {
			ksft_print_msg("hole %llu: filled before the kexec, a hole after\n",
				       (unsigned long long)k);
			err = 1;
		}
	}
	if (err)
		fail_exit("fills that worked were lost in the kexec");

	/*
	 * The pages in use are the file's: page 0 and the holes filled, and
	 * maybe the one it worked on, which may have arrived unmarked. No
	 * pool file went along: the free pages are what hugepages= made.
	 */
	ht_pools_read(&got);
	used = got.all[HT_2M].nr - got.all[HT_2M].free;
	if (got.all[HT_2M].resv || got.all[HT_2M].surp ||
	    used < 1 + (int64_t)log.filled || used > 2 + (int64_t)log.filled)
		fail_exit("%lld pages in use, %lld reserved, %lld surplus; file: %llu or one more",
			  (long long)used, (long long)got.all[HT_2M].resv,
			  (long long)got.all[HT_2M].surp,
			  (unsigned long long)log.filled + 1);
	ksft_print_msg("pools: the file's pages in use\n");

	if (rec.opts) {
		if (!log.started)
			fail_exit("the filler never started: no %s", HF_GO_PATH);
		if (log.error)
			fail_exit("the filler stopped on errno %lld before the kexec",
				  (long long)log.error);
		if (!log.filled)
			fail_exit("the filler filled no hole before the freeze");
		if (!log.refused)
			fail_exit("no fill was refused: the filler never met the freeze");
		ksft_print_msg("holes filled before the freeze arrived; later fills: %s\n",
			       hf_refusal(rec.opts) == EPERM ? "EPERM" : "EFAULT");
	}

	close(fd);
	ht_finish(session_fd, "data");
	got.all[HT_2M].free = got.all[HT_2M].nr;
	got.node[HT_2M][0].free = got.node[HT_2M][0].nr;
	ht_pools_expect(&got, "closed and finished: every huge page free");
	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB FILL TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	hf_opts = ht_options(&argc, &argv, "dfu");
	if (ht_popcount(hf_opts) > 1)
		fail_exit("at most one of -d, -f and -u");
	return luo_test(argc, argv, HF_STATE_SESSION, run_stage_1, run_stage_2);
}
