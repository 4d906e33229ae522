// SPDX-License-Identifier: GPL-2.0-only

/*
 * Every memfd seal across a live update, and still in force after it.
 *
 * Usage: hugetlb_seals [-s STAGE]
 *
 * Stage 1 fills two sealable hugetlb memfds of HSE_NR_PAGES pages of
 * 2 MiB and seals them: file 0 with HSE_SEALS_0 (F_SEAL_EXEC adds
 * F_SEAL_WRITE on a memfd that may be executed), file 1 with HSE_SEALS_1,
 * which leaves it sealable. Each gets its own file position. It preserves
 * both, and the root of a 2 MiB hugetlbfs mount so that the free pages go
 * along too (a second preserve of that root must fail with EBUSY).
 *
 * Stage 2 retrieves the files and compares size, page size, seals,
 * position, bytes, PFNs and nodes, then checks that the seals are in
 * force: a shrink, a grow and a writable shared mapping fail with EPERM,
 * and so does F_ADD_SEALS where F_SEAL_SEAL is set, while file 1 takes a
 * new seal. The pools must be as they were at the kexec (every page size,
 * per node too), and whole again once the files are closed and the
 * session finished; new 2 MiB hugetlb memfds then resize freely.
 *
 * Needs only /proc and /dev (it mounts sysfs if needed), so upstream's
 * runner can run it too: vmtest.sh -T hugetlb_seals.
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC		0x0020
#endif

#define HSE_STATE_SESSION	"hugetlb_seals_state"
#define HSE_STATE_TOKEN		999
#define HSE_SESSION		"hugetlb-seals"
#define HSE_FILE_TOKEN		1	/* + the file's index */
#define HSE_POOL_TOKEN		10
#define HSE_RECORD_TOKEN	20
#define HSE_NR_FILES		2
#define HSE_NR_PAGES		4
#define HSE_SIZE		(HSE_NR_PAGES * HT_HPAGE)
#define HSE_MNT			"/dev/hugetlb_seals"
#define HSE_MAGIC		0x48534531	/* "HSE1" */

/* Every seal a memfd can have, over the two files. */
#define HSE_SEALS_0	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
			 F_SEAL_FUTURE_WRITE | F_SEAL_EXEC)
#define HSE_SEALS_1	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* What stage 1 hands to stage 2. */
struct hse_record {
	uint64_t magic;
	struct ht_set set;
};

/*
 * A sealable hugetlb memfd, filled as file @i of @f for @seed, then sealed
 * with @want. Returns it mapped read-only at @map.
 */
static int hse_create(int i, unsigned int want, struct ht_file *f,
		      uint64_t seed, char **map)
{
	long seals;
	int fd;

	fd = ht_file_make(f, i, HT_2M, HSE_NR_PAGES, seed, MFD_ALLOW_SEALING,
			  map);

	/* F_SEAL_WRITE needs the writable mapping gone. */
	munmap(*map, HSE_SIZE);
	if (ht_fcntl(fd, F_ADD_SEALS, want))
		fail_exit("file %d: F_ADD_SEALS %#x", i, want);
	seals = ht_fcntl(fd, F_GET_SEALS, 0);
	if (seals < 0 || (seals & want) != want)
		fail_exit("file %d: seals %#lx, %#x added", i, seals, want);
	f->seals = seals;

	*map = ht_map(fd, HSE_SIZE, PROT_READ, 0);
	ksft_print_msg("file %d: %d pages, seals %#lx, position %lld\n", i,
		       HSE_NR_PAGES, seals, (long long)f->pos);
	return fd;
}

static void run_stage_1(int luo_fd)
{
	static const unsigned int want[HSE_NR_FILES] = {
		HSE_SEALS_0, HSE_SEALS_1
	};
	static struct hse_record rec = { .magic = HSE_MAGIC };
	int session_fd, fd[HSE_NR_FILES], i;
	struct ht_set *set = &rec.set;
	char *map[HSE_NR_FILES];
	struct luo_hugepages m;

	/* As many free pages again for the pool file to hand over. */
	luo_hugepages_ensure_free(2 * HSE_NR_FILES * HSE_NR_PAGES, &m);
	ht_pools_read(&set->base);
	ht_pool_ready(&set->base, HT_2M, 2 * HSE_NR_FILES * HSE_NR_PAGES);

	session_fd = ht_stage_1(luo_fd, HSE_STATE_SESSION, HSE_STATE_TOKEN,
				HSE_SESSION);
	set->nr_files = HSE_NR_FILES;
	for (i = 0; i < HSE_NR_FILES; i++)
		fd[i] = hse_create(i, want[i], &set->file[i],
				   ((uint64_t)getpid() << 24) + i, &map[i]);
	ht_set_in_use(set, "filled");

	ht_set_preserve(set, session_fd, HSE_FILE_TOKEN, fd, map);
	ht_set_pool_files(set, session_fd, HSE_MNT, 1U << HT_2M,
			  HSE_POOL_TOKEN, HSE_POOL_TOKEN + 1);
	ksft_print_msg("[STAGE 1] 2 sealed files and the pool file preserved\n");
	ht_set_hand_over(set, luo_fd, session_fd, HSE_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

/* @what, which @ret says how it went, failed with EPERM. */
static void hse_refused(int i, const char *what, int ret)
{
	if (ret != -1 || errno != EPERM)
		fail_exit("file %d: %s: expected EPERM from the seals, got %d",
			  i, what, ret);
}

/* The seals of file @i (@fd) are in force, not only reported. */
static void hse_check_seals(int i, int fd, uint64_t seals)
{
	void *m;

	if (seals & F_SEAL_SHRINK)
		hse_refused(i, "shrink", ftruncate(fd, HSE_SIZE - HT_HPAGE));
	if (seals & F_SEAL_GROW)
		hse_refused(i, "grow", ftruncate(fd, HSE_SIZE + HT_HPAGE));
	if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
		m = mmap(NULL, HT_HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (m != MAP_FAILED)
			munmap(m, HT_HPAGE);
		hse_refused(i, "writable shared mmap", m == MAP_FAILED ? -1 : 0);
	}
	/*
	 * F_SEAL_EXEC reads back, but hugetlbfs itself does not check it on
	 * chmod, preserved file or not: nothing to test in force.
	 */
	if (seals & F_SEAL_SEAL)
		hse_refused(i, "F_ADD_SEALS", ht_fcntl(fd, F_ADD_SEALS,
						       F_SEAL_SEAL));
	else if (ht_fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL))
		fail_exit("file %d: F_ADD_SEALS on a sealable file", i);
	ksft_print_msg("file %d: seals %#llx in force\n", i,
		       (unsigned long long)seals);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	int session_fd, fd[HSE_NR_FILES], i;
	static struct hse_record rec;
	char *map[HSE_NR_FILES];

	session_fd = ht_stage_2(luo_fd, state_session_fd, HSE_STATE_TOKEN,
				HSE_SESSION);
	ht_read_record(session_fd, HSE_RECORD_TOKEN, &rec, sizeof(rec),
		       HSE_MAGIC);
	ht_set_arrived(&rec.set, session_fd, HSE_POOL_TOKEN);

	/* Both files are write-sealed: ht_file_check() maps them read-only. */
	ht_set_retrieve(&rec.set, session_fd, HSE_FILE_TOKEN, fd, map);
	for (i = 0; i < HSE_NR_FILES; i++)
		hse_check_seals(i, fd[i], rec.set.file[i].seals);
	ht_set_release(&rec.set, session_fd, fd, map, 1U << HT_2M);

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB SEALS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HSE_STATE_SESSION, run_stage_1, run_stage_2);
}
