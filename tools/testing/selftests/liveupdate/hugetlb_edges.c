// SPDX-License-Identifier: GPL-2.0-only

/*
 * Files in states userspace can reach before a live update: what preserve
 * refuses, with which errno, and what a preserved file must not become.
 *
 * Usage: hugetlb_edges [-z] [-p] [-e] [-f] [-v] [-s STAGE]
 *
 * Stage 1 runs the parts asked for, -z, -p and -e when none is:
 * - -z: a 2 MiB-page memfd whose size fallocate() left between two huge
 *   pages must be refused by preserve with EINVAL: a file made in the next
 *   kernel cannot have that size.
 * - -p: a 2 MiB-page memfd with a hardware-poisoned page (MADV_HWPOISON,
 *   CONFIG_MEMORY_FAILURE) must be refused with EHWPOISON: the next kernel
 *   would read that page as good data.
 * - -f: a 2 MiB-page memfd, preserved in a session of its own, gets a
 *   poisoned page after preserve. A kexec must then fail at the freeze
 *   with EHWPOISON, and this handler must say why in the log; closing the
 *   session unpreserves the file. It needs a kernel loaded with kexec -l
 *   (its scenario loads one): the test calls reboot() itself.
 * - -e: file 0, of HE_NR_PAGES pages, is mapped shared, read-only and
 *   longer than the file before it is preserved, which reserves huge pages
 *   past its end. Once it is preserved, mappings past its end, writable
 *   (which would grow the file), read-only or private, fail with EPERM, and
 *   its size stays.
 * - -v: the file of a SysV SHM_HUGETLB segment, opened through
 *   /proc/self/map_files (which gives it hugetlbfs' file operations), must
 *   be refused with EOPNOTSUPP: the next kernel could not give the segment
 *   back. It needs CONFIG_SYSVIPC.
 *
 * Stage 2 retrieves file 0 whole (size, bytes, PFNs, nodes): the pages
 * reserved past its end stay behind, so the pools are the ones at the
 * kexec without those reservations, and without the poisoned page, which
 * memory failure keeps in use; the free pages are the ones this kernel's
 * hugepages= made (no pool file goes along). Once the file is closed and
 * the session finished, the pools are as before the file. It runs on one
 * NUMA node.
 *
 * Needs only /proc and /dev (it mounts sysfs if needed), so upstream's
 * runner can run it too: vmtest.sh -T hugetlb_edges.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <sys/wait.h>
#include <linux/reboot.h>
#include <linux/shm.h>

#include "hugetlb_util.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON		100
#endif
#ifndef EHWPOISON
#define EHWPOISON		133
#endif

#define HE_STATE_SESSION	"hugetlb_edges_state"
#define HE_STATE_TOKEN		999
#define HE_SESSION		"hugetlb-edges"
#define HE_POISON_SESSION	"hugetlb-edges-poison"
#define HE_FILE_TOKEN		1
#define HE_REFUSED_TOKEN	2
#define HE_RECORD_TOKEN	20
#define HE_NR_PAGES		2
#define HE_PAST_EOF		2	/* pages mapped past the end of file 0 */
#define HE_SIZE			(HE_NR_PAGES * HT_HPAGE)
#define HE_MAGIC		0x48454431	/* "HED1" */

#define HE_OPT_SIZE		0x1	/* -z */
#define HE_OPT_POISON		0x2	/* -p */
#define HE_OPT_EOF		0x4	/* -e */
#define HE_OPT_FREEZE		0x8	/* -f */
#define HE_OPT_SYSV		0x10	/* -v */

/* What stage 1 hands to stage 2. */
struct he_record {
	uint64_t magic;
	uint32_t opts;
	int32_t stuck;		/* pages memory failure keeps in use */
	struct ht_set set;
};

static unsigned int he_opts;

/*
 * Preserving @fd, @what, as @token of @session_fd fails with @err and one
 * line of this handler in the kernel log.
 */
static void he_refused(int session_fd, int fd, int token, int err,
		       const char *what)
{
	int logged = ht_kmsg_ours(), ret;

	ret = luo_session_preserve_fd(session_fd, fd, token);
	if (ret != -err)
		fail_exit("preserve %s: %d, expected %d", what, ret, -err);
	/* A refusal says why, in one line. */
	logged = ht_kmsg_ours() - logged;
	if (logged != 1)
		fail_exit("preserve %s: %d lines of hugetlb_luo in the kernel log, expected 1",
			  what, logged);
	ksft_print_msg("preserve %s: refused with %s and one log line, as it must\n",
		       what, err == EINVAL ? "EINVAL" :
		       err == EOPNOTSUPP ? "EOPNOTSUPP" : "EHWPOISON");
}

/* A file of 3 MiB: fallocate() beyond the end sizes it to the byte. */
static void he_unaligned(int session_fd)
{
	int fd = ht_memfd("hugetlb_unaligned", 0, HT_MFD_HUGE_2MB);

	if (ht_fallocate(fd, 0, 0, HT_HPAGE + HT_HPAGE / 2))
		fail_exit("fallocate 3 MiB");
	he_refused(session_fd, fd, HE_REFUSED_TOKEN, EINVAL,
		   "a file of 3 MiB of 2 MiB pages");
	close(fd);
}

/*
 * -v: a SysV segment of one 2 MiB page, whose file is opened through
 * /proc/self/map_files while it is attached. Once the refusal is checked,
 * the segment goes and its page is free again. Raw system calls: the
 * nolibc build of vmtest.sh has no <sys/shm.h>.
 */
static void he_sysv(int session_fd)
{
	long id = syscall(__NR_shmget, IPC_PRIVATE, HT_HPAGE,
			  IPC_CREAT | SHM_HUGETLB | 0600);
	char path[64];
	char *addr;
	int fd;

	if (id < 0)
		fail_exit("shmget SHM_HUGETLB (CONFIG_SYSVIPC?)");
	addr = (char *)syscall(__NR_shmat, id, NULL, 0);
	if (addr == (char *)-1)
		fail_exit("shmat");
	if (syscall(__NR_shmctl, id, IPC_RMID, NULL))
		fail_exit("shmctl IPC_RMID");
	memset(addr, 0x5a, HT_HPAGE);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)addr, (unsigned long)addr + HT_HPAGE);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fail_exit("open %s", path);
	he_refused(session_fd, fd, HE_REFUSED_TOKEN, EOPNOTSUPP,
		   "the file of a SysV SHM_HUGETLB segment");
	close(fd);
	if (syscall(__NR_shmdt, addr))
		fail_exit("shmdt");
}

/*
 * Poison a 4 KiB page of the second huge page of @fd, whose first two
 * huge pages are mapped at @map, which this unmaps.
 */
static void he_poison(int fd, char *map)
{
	uint64_t word;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail_exit("fork");
	if (!pid)
		_exit(syscall(__NR_madvise, map + HT_HPAGE + 4096, 4096,
			      MADV_HWPOISON) ? errno : 0);
	if (waitpid(pid, &status, 0) != pid)
		fail_exit("waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status))
		fail_exit("MADV_HWPOISON: errno %d (CONFIG_MEMORY_FAILURE?)",
			  WEXITSTATUS(status));
	munmap(map, 2 * HT_HPAGE);

	/* hugetlbfs refuses to read a poisoned page. */
	if (syscall(__NR_pread64, fd, &word, sizeof(word),
		    HT_HPAGE + 4096) != -1 || errno != EIO)
		fail_exit("the poisoned page reads: the poison did not take");
}

/*
 * A file of 2 pages whose second page has a poisoned 4 KiB page. The
 * poison is injected by a child, which memory failure may kill. Once the
 * file goes, the poisoned huge page is back on the free list, where no
 * allocation and no pool hand-over takes it.
 */
static void he_poisoned(int session_fd)
{
	int fd = ht_memfd("hugetlb_poisoned", 2 * HT_HPAGE, HT_MFD_HUGE_2MB);
	char *map = ht_map(fd, 2 * HT_HPAGE, PROT_READ | PROT_WRITE, 0);

	memset(map, 0x5a, 2 * HT_HPAGE);
	he_poison(fd, map);
	he_refused(session_fd, fd, HE_REFUSED_TOKEN, EHWPOISON,
		   "a file with a poisoned page");
	close(fd);
}

/*
 * -f: preserve a file of 2 pages in a session of its own, then poison its
 * second page: the kexec loaded by the scenario must fail at the freeze,
 * with EHWPOISON and one line of this handler in the log. Closing the
 * session unpreserves the file, which is closed.
 */
static void he_poisoned_at_freeze(int luo_fd)
{
	int fd = ht_memfd("hugetlb_poisoned_late", 2 * HT_HPAGE,
			  HT_MFD_HUGE_2MB);
	char *map = ht_map(fd, 2 * HT_HPAGE, PROT_READ | PROT_WRITE, 0);
	int session_fd, logged;
	long ret;

	memset(map, 0x5a, 2 * HT_HPAGE);
	session_fd = luo_create_session(luo_fd, HE_POISON_SESSION);
	if (session_fd < 0)
		fail_exit("create session %s", HE_POISON_SESSION);
	if (luo_session_preserve_fd(session_fd, fd, HE_REFUSED_TOKEN))
		fail_exit("preserve the file to poison");
	he_poison(fd, map);

	logged = ht_kmsg_ours();
	fflush(stdout);
	ret = syscall(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		      LINUX_REBOOT_CMD_KEXEC, NULL);
	if (ret != -1 || errno != EHWPOISON)
		fail_exit("kexec, page poisoned late: %ld, errno %d, not EHWPOISON (loaded?)",
			  ret, errno);
	logged = ht_kmsg_ours() - logged;
	if (logged != 1)
		fail_exit("the freeze refused the kexec with %d lines of ours in the log, not 1",
			  logged);
	ksft_print_msg("kexec with a page poisoned after preserve: EHWPOISON at the freeze\n");
	close(session_fd);
	close(fd);
}

/* Mapping @len bytes of preserved @fd with @prot and @flags fails, EPERM. */
static void he_no_map(int fd, unsigned long len, int prot, int flags,
		      const char *what)
{
	void *m = mmap(NULL, len, prot, flags, fd, 0);

	if (m != MAP_FAILED) {
		munmap(m, len);
		fail_exit("preserved file 0: %s past its end works", what);
	}
	if (errno != EPERM)
		fail_exit("preserved file 0: %s past its end: errno %d, not EPERM",
			  what, errno);
}

static void run_stage_1(int luo_fd)
{
	static struct he_record rec = { .magic = HE_MAGIC };
	unsigned long past = HE_SIZE + HE_PAST_EOF * HT_HPAGE;
	struct ht_set *set = &rec.set;
	struct luo_hugepages m;
	struct ht_pools exp;
	int session_fd, fd;
	char *map, *ro;
	struct stat st;

	rec.opts = he_opts;
	luo_hugepages_ensure_free(HE_NR_PAGES + HE_PAST_EOF + 2, &m);
	ht_pools_read(&set->base);
	ht_pool_ready(&set->base, HT_2M, HE_NR_PAGES + HE_PAST_EOF + 2);
	if (ht_popcount(ht_pools_nodes(&set->base)) > 1)
		fail_exit("runs on one NUMA node only");
	session_fd = ht_stage_1(luo_fd, HE_STATE_SESSION, HE_STATE_TOKEN,
				HE_SESSION);
	if (he_opts & HE_OPT_SIZE)
		he_unaligned(session_fd);
	if (he_opts & HE_OPT_SYSV)
		he_sysv(session_fd);
	if (he_opts & HE_OPT_POISON) {
		he_poisoned(session_fd);
		rec.stuck = set->base.all[HT_2M].free;
		ht_pools_read(&set->base);
		rec.stuck -= set->base.all[HT_2M].free;
		ksft_print_msg("%d poisoned huge page(s) stay in use, out of reach\n",
			       rec.stuck);
	}
	if (he_opts & HE_OPT_FREEZE) {
		int free = set->base.all[HT_2M].free;

		he_poisoned_at_freeze(luo_fd);
		ht_pools_read(&set->base);
		rec.stuck += free - set->base.all[HT_2M].free;
		ksft_print_msg("%d poisoned huge page(s) stay in use, out of reach\n",
			       rec.stuck);
	}
	if (!(he_opts & HE_OPT_EOF)) {
		ksft_print_msg("[STAGE 1] no file preserved\n");
		ht_set_hand_over(set, luo_fd, session_fd, HE_RECORD_TOKEN,
				 &rec, sizeof(rec));
		return;
	}

	set->nr_files = 1;
	fd = ht_file_make(&set->file[0], 0, HT_2M, HE_NR_PAGES,
			  (uint64_t)getpid() << 24, 0, &map);
	ro = ht_map(fd, past, PROT_READ, 0);
	ht_pools_in_use(&set->base, set->file, 1, &exp);
	exp.all[HT_2M].resv += HE_PAST_EOF;
	ht_pools_expect(&exp, "mapped past its end: pages reserved there");

	ht_file_preserve(session_fd, HE_FILE_TOKEN, fd, &set->file[0], map, 0);
	he_no_map(fd, past, PROT_READ | PROT_WRITE, MAP_SHARED,
		  "a writable shared mapping");
	he_no_map(fd, past, PROT_READ, MAP_SHARED, "a read-only shared mapping");
	he_no_map(fd, past, PROT_READ, MAP_PRIVATE, "a private mapping");
	if (fstat(fd, &st) || st.st_size != HE_SIZE)
		fail_exit("preserved file 0: its size changed");
	ksft_print_msg("preserved file 0: mappings past its end fail with EPERM, its size stays\n");
	munmap(ro, past);
	munmap(map, HE_SIZE);
	close(fd);
	/* A shared mapping's reservations stay with the file. */
	ht_pools_expect(&exp, "preserved: the pages past its end still reserved");

	ksft_print_msg("[STAGE 1] file 0 preserved, with pages reserved past its end\n");
	ht_set_hand_over(set, luo_fd, session_fd, HE_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

/*
 * @p, a pool of 2 MiB pages of the first kernel, as the next kernel would
 * have it, which has the pool @got: without the pool file, this kernel's
 * free pages are what its hugepages= made them, and @stuck pages in use
 * there stayed behind. The pages in use must be the others.
 */
static void he_as_booted(struct ht_pools *p, const struct ht_pools *got,
			 int stuck)
{
	struct ht_counters *c = &p->all[HT_2M];
	int64_t used = c->nr - c->free - stuck;

	c->nr = got->all[HT_2M].nr;
	c->free = c->nr - used;
	p->node[HT_2M][0].nr = c->nr;
	p->node[HT_2M][0].free = c->free;
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct he_record rec;
	struct ht_set *set = &rec.set;
	struct ht_pools got;
	int session_fd, fd;
	char *map;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HE_STATE_TOKEN,
				HE_SESSION);
	ht_read_record(session_fd, HE_RECORD_TOKEN, &rec, sizeof(rec),
		       HE_MAGIC);

	/* The pages reserved past the end of file 0 stayed behind. */
	if (rec.opts & HE_OPT_EOF)
		set->at_kexec.all[HT_2M].resv -= HE_PAST_EOF;
	ht_pools_read(&got);
	he_as_booted(&set->at_kexec, &got, rec.stuck);
	he_as_booted(&set->base, &got, rec.stuck);
	ht_set_arrived(set, session_fd, 0);
	ht_set_retrieve(set, session_fd, HE_FILE_TOKEN, &fd, &map);
	ht_set_release(set, session_fd, &fd, &map, 1U << HT_2M);

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB EDGES TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	he_opts = ht_options(&argc, &argv, "zpefv");
	if (!he_opts)
		he_opts = HE_OPT_SIZE | HE_OPT_POISON | HE_OPT_EOF;
	return luo_test(argc, argv, HE_STATE_SESSION, run_stage_1, run_stage_2);
}
