// SPDX-License-Identifier: GPL-2.0-only

/*
 * The free huge pages go along with a live update when userspace asks:
 * a preserved "pool file", the root directory of a hugetlbfs mount, hands
 * the free pages of its page size to the next kernel.
 *
 * Stage 1 makes sure the default (2 MiB) pool has free pages, mounts
 * hugetlbfs, preserves the mount root (a second preserve of the same root
 * must fail with EBUSY) and records the pool. Stage 2, booted without
 * hugepages=, must find every free page in its pool, and get a file back
 * for the pool file.
 *
 * Needs only /proc and a writable /dev, so upstream's runner can run it:
 * vmtest.sh -T hugetlb_pools.
 */

#define _GNU_SOURCE

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <libliveupdate.h>

#define HLP_STATE_SESSION	"hugetlb_pools_state"
#define HLP_STATE_TOKEN		999
#define HLP_SESSION		"hugetlb-pools"
#define HLP_POOL_TOKEN		1
#define HLP_RECORD_TOKEN	2
#define HLP_NR_PAGES		16
#define HLP_MNT			"/dev/hugetlb_pools"
#define HLP_MAGIC		0x484c5031	/* "HLP1" */

/* What stage 1 hands to stage 2. */
struct hlp_record {
	uint64_t magic;
	int64_t free;
};

static int hlp_open_root(void)
{
	int fd;

	fd = open(HLP_MNT, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		fail_exit("open the hugetlbfs mount root");
	return fd;
}

static void run_stage_1(int luo_fd)
{
	struct hlp_record rec = { .magic = HLP_MAGIC };
	struct luo_hugepages m;
	int session_fd, fd, fd2, rfd;

	luo_hugepages_ensure_free(HLP_NR_PAGES, &m);
	rec.free = m.free;

	if (mkdir(HLP_MNT, 0755) && errno != EEXIST)
		fail_exit("mkdir " HLP_MNT);
	if (mount("none", HLP_MNT, "hugetlbfs", 0, "pagesize=2M"))
		fail_exit("mount hugetlbfs");

	create_state_file(luo_fd, HLP_STATE_SESSION, HLP_STATE_TOKEN, 2);
	session_fd = luo_create_session(luo_fd, HLP_SESSION);
	if (session_fd < 0)
		fail_exit("luo_create_session");

	fd = hlp_open_root();
	if (luo_session_preserve_fd(session_fd, fd, HLP_POOL_TOKEN))
		fail_exit("preserve the pool file");

	/* Another open of the same root is the same file to LUO. */
	fd2 = hlp_open_root();
	if (luo_session_preserve_fd(session_fd, fd2, HLP_POOL_TOKEN + 10) !=
	    -EBUSY)
		fail_exit("a second preserve of the root did not fail with EBUSY");
	close(fd2);

	rfd = memfd_create("hugetlb_pools_record", 0);
	if (rfd < 0 || write(rfd, &rec, sizeof(rec)) != sizeof(rec))
		fail_exit("write the record");
	if (luo_session_preserve_fd(session_fd, rfd, HLP_RECORD_TOKEN))
		fail_exit("preserve the record");

	ksft_print_msg("[STAGE 1] pool file preserved: %ld free pages go along\n",
		       m.free);
	close(luo_fd);
	daemonize_and_wait();
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct hlp_record rec;
	struct luo_hugepages m;
	int session_fd, fd, stage;

	restore_and_read_stage(state_session_fd, HLP_STATE_TOKEN, &stage);
	if (stage != 2)
		fail_exit("expected stage 2, the state file says %d", stage);

	session_fd = luo_retrieve_session(luo_fd, HLP_SESSION);
	if (session_fd < 0)
		fail_exit("luo_retrieve_session");

	luo_retrieve_record(session_fd, HLP_RECORD_TOKEN, &rec, sizeof(rec));
	if (rec.magic != HLP_MAGIC)
		fail_exit("the record is not ours");

	/* Booted without hugepages=: the pool is what was handed over. */
	luo_hugepages(&m);
	if (m.total != rec.free || m.free != rec.free)
		fail_exit("expected %lld free pages in a pool of as many",
			  (long long)rec.free);

	fd = luo_session_retrieve_fd(session_fd, HLP_POOL_TOKEN);
	if (fd < 0)
		fail_exit("retrieve the pool file");
	close(fd);

	if (luo_session_finish(session_fd) < 0)
		fail_exit("finish the session");
	close(session_fd);
	luo_hugepages(&m);
	if (m.total != rec.free || m.free != rec.free)
		fail_exit("the pool changed at finish");

	if (luo_session_finish(state_session_fd) < 0)
		fail_exit("finish the state session");
	ksft_print_msg("\n--- HUGETLB POOLS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HLP_STATE_SESSION, run_stage_1, run_stage_2);
}
