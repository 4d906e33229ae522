// SPDX-License-Identifier: GPL-2.0-only

/*
 * Writes to a preserved hugetlb memfd until the kexec reach the next kernel.
 *
 * Usage: hugetlb_writer [-s STAGE]
 *
 * Stage 1 fills a memfd of HW_NR_PAGES pages of 2 MiB, preserves it, and
 * the root of a 2 MiB hugetlbfs mount so that the free pages go along too
 * (a second preserve of that root must fail with EBUSY). Then it forks a
 * writer that keeps writing to the last page through a MAP_SHARED mapping
 * until the kexec: word 0 of the page is a count n, stored after n itself
 * is written to word 1 + n % (words - 1). The count is recorded as late
 * as it can be, right before the record is handed over; the writer goes
 * on between that and the kexec.
 *
 * Stage 2 retrieves the memfd and compares size, page size, seals
 * (F_SEAL_SEAL only), position, bytes (but of the last page), PFNs and
 * nodes. The last page must hold the writer's last writes: a count past
 * the one recorded (writes made after the record, up to the kexec),
 * written where it belongs, and every word that holds a
 * value of the writer (a nonzero one up to the count + 1, the one it may
 * have written before it was stopped) in its place. The pools must be as
 * they were at the kexec (every page size, per node too), and whole again
 * once the file is closed and the session finished; new 2 MiB hugetlb
 * memfds then resize freely.
 *
 * Needs only /proc and /dev (it mounts sysfs if needed), so upstream's
 * runner can run it too: vmtest.sh -T hugetlb_writer.
 */

#define _GNU_SOURCE

#include <sched.h>
#include <stdint.h>

#include "hugetlb_util.h"

#define HW_STATE_SESSION	"hugetlb_writer_state"
#define HW_STATE_TOKEN		999
#define HW_SESSION		"hugetlb-writer"
#define HW_FILE_TOKEN		1
#define HW_POOL_TOKEN		10
#define HW_RECORD_TOKEN		20
#define HW_NR_PAGES		4
#define HW_LIVE			(HW_NR_PAGES - 1)	/* the writer's page */
#define HW_SIZE			(HW_NR_PAGES * HT_HPAGE)
#define HW_WORDS		(HT_HPAGE / sizeof(uint64_t))
#define HW_START_US		200000	/* the writer runs that long first */
#define HW_MNT			"/dev/hugetlb_writer"
#define HW_MAGIC		0x48575231	/* "HWR1" */

/* What stage 1 hands to stage 2. */
struct hw_record {
	uint64_t magic;
	uint64_t count;			/* the writer's, once it ran */
	struct ht_set set;
};

/* The writer: count n up, n to word 1 + n % (words - 1), then to word 0. */
static void hw_write(uint64_t *w)
{
	uint64_t n = 0;

	for (;;) {
		n++;
		w[1 + n % (HW_WORDS - 1)] = n;
		__atomic_store_n(&w[0], n, __ATOMIC_RELEASE);
		if (!(n & 0xffff))
			sched_yield();
	}
}

/*
 * Fork the writer of the page at @page; it runs until the kexec, and must
 * have counted writes after HW_START_US.
 */
static void hw_start_writer(int luo_fd, int fd, uint64_t *page)
{
	uint64_t count;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail_exit("fork the writer");
	if (!pid) {
		setsid();
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		close(STDERR_FILENO);
		close(fd);
		close(luo_fd);
		hw_write(page);
	}
	usleep(HW_START_US);
	count = __atomic_load_n(&page[0], __ATOMIC_ACQUIRE);
	if (!count)
		fail_exit("the writer (pid %d) wrote nothing", pid);
	ksft_print_msg("writer pid %d writes page %d until the kexec (count %llu)\n",
		       pid, HW_LIVE, (unsigned long long)count);
}

static void run_stage_1(int luo_fd)
{
	static struct hw_record rec = { .magic = HW_MAGIC };
	struct ht_set *set = &rec.set;
	struct luo_hugepages m;
	int session_fd, fd;
	uint64_t *live;
	char *map;

	/* As many free pages again for the pool file to hand over. */
	luo_hugepages_ensure_free(2 * HW_NR_PAGES, &m);
	ht_pools_read(&set->base);
	ht_pool_ready(&set->base, HT_2M, 2 * HW_NR_PAGES);

	session_fd = ht_stage_1(luo_fd, HW_STATE_SESSION, HW_STATE_TOKEN,
				HW_SESSION);
	set->nr_files = 1;
	fd = ht_file_make(&set->file[0], 0, HT_2M, HW_NR_PAGES,
			  (uint64_t)getpid() << 24, 0, &map);
	if (set->file[0].seals != F_SEAL_SEAL)
		fail_exit("a memfd without MFD_ALLOW_SEALING is not F_SEAL_SEAL");
	ht_set_in_use(set, "filled");

	ht_file_preserve(session_fd, HW_FILE_TOKEN, fd, &set->file[0], map, 0);
	live = (uint64_t *)(map + HW_LIVE * HT_HPAGE);
	hw_start_writer(luo_fd, fd, live);
	close(fd);
	ht_set_in_use(set, "only LUO and the writer hold the file");

	ht_set_pool_files(set, session_fd, HW_MNT, 1U << HT_2M, HW_POOL_TOKEN,
			  HW_POOL_TOKEN + 1);
	/* As late as the record allows: the writer goes on until the kexec. */
	rec.count = __atomic_load_n(&live[0], __ATOMIC_ACQUIRE);
	munmap(map, HW_SIZE);
	ksft_print_msg("[STAGE 1] memfd and pool file preserved, count %llu at the record\n",
		       (unsigned long long)rec.count);
	ht_set_hand_over(set, luo_fd, session_fd, HW_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

/*
 * The writer's page holds its last writes: a count past @count, stored
 * where it belongs, and every word it wrote in its place. A word holds a
 * value of the writer when it is nonzero and at most the count + 1 (the
 * writer may have written n + 1 but not yet counted it); the other words
 * are still what the fill wrote, or zero.
 */
static void hw_check_writer(const uint64_t *w, uint64_t count)
{
	uint64_t n = w[0];
	unsigned long i, bad = 0;

	for (i = 1; i < HW_WORDS; i++) {
		if (w[i] && w[i] <= n + 1 && 1 + w[i] % (HW_WORDS - 1) != i)
			bad++;
	}
	if (n && w[1 + n % (HW_WORDS - 1)] != n)
		bad++;
	ksft_print_msg("writer: count %llu when recorded, %llu after the kexec (+%llu)\n",
		       (unsigned long long)count, (unsigned long long)n,
		       (unsigned long long)(n - count));
	if (n <= count)
		fail_exit("the writes made after the record are not there");
	if (bad)
		fail_exit("%lu words of the writer's page out of place", bad);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hw_record rec;
	const struct ht_file *f = &rec.set.file[0];
	int session_fd, fd, p;
	char *map, *page;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HW_STATE_TOKEN,
				HW_SESSION);
	ht_read_record(session_fd, HW_RECORD_TOKEN, &rec, sizeof(rec), HW_MAGIC);
	ht_set_arrived(&rec.set, session_fd, HW_POOL_TOKEN);

	fd = luo_session_retrieve_fd(session_fd, HW_FILE_TOKEN);
	if (fd < 0)
		fail_exit("retrieve the memfd");
	ht_file_check_meta(fd, f, 0);
	map = ht_map(fd, HW_SIZE, PROT_READ, 0);
	for (p = 0; p < HW_NR_PAGES; p++) {
		page = ht_file_page(f, map, p);
		if (p == HW_LIVE)
			hw_check_writer((uint64_t *)page, rec.count);
		else if (!ht_same(page, HT_HPAGE, f->seed, p))
			fail_exit("page %d differs", p);
	}
	ht_file_check_place(f, map, 0);
	ksft_print_msg("same size, seals, position, bytes, PFNs and nodes; %s\n",
		       "the last writes are there");
	ht_set_release(&rec.set, session_fd, &fd, &map, 1U << HT_2M);

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB WRITER TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HW_STATE_SESSION, run_stage_1, run_stage_2);
}
