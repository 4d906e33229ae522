// SPDX-License-Identifier: GPL-2.0-only

/*
 * Files of hugetlbfs mounts, rather than memfds, across a live update.
 *
 * Usage: hugetlb_named [-g] [-s STAGE]
 *
 * Stage 1 mounts hugetlbfs itself and makes guest0, HN_NR_2M pages of
 * 2 MiB on a pagesize=2M mount, and with -g guest1, a 1 GiB page on a
 * pagesize=1G,size=4G mount. It fills them, gives each its own file
 * position, preserves them and the mount roots as pool files, so that the
 * free pages go along too (a second preserve of the 2 MiB root must fail
 * with EBUSY). While preserved, the layout of a file is frozen for every
 * opener: truncate() by path fails with EPERM. Unlinking guest0 does not
 * end its preservation.
 *
 * Stage 2 must get both back as unlinked hugetlb memfds with their size,
 * page size, seals, position, bytes, PFNs and nodes. The pools must be as
 * they were at the kexec (every page size, per node too), and whole again
 * once the files are closed and the session finished; new hugetlb memfds
 * of the page sizes of the files then resize freely.
 *
 * -g needs a free 1 GiB page (it grows that pool if it can) and fails
 * without one. Without -g, as under vmtest.sh -T hugetlb_named (1 GiB of
 * memory), only the 2 MiB part runs, and the test says so.
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HN_STATE_SESSION	"hugetlb_named_state"
#define HN_STATE_TOKEN		999
#define HN_SESSION		"hugetlb-named"
#define HN_FILE_TOKEN		1	/* + the file's index */
#define HN_POOL_TOKEN		10	/* + the page size's index */
#define HN_EBUSY_TOKEN		19
#define HN_RECORD_TOKEN		20
#define HN_NR_2M		16
#define HN_MNT			"/dev/hugetlb_named"	/* + "-<size>" */
#define HN_MAGIC		0x484e4d31	/* "HNM1" */

/* File i is of page size i, on a mount of its own. */
static const struct hn_size {
	const char *opts;
	unsigned int nr_pages;
} hn_sizes[HT_NR_SIZES] = {
	[HT_2M] = { "pagesize=2M", HN_NR_2M },
	[HT_1G] = { "pagesize=1G,size=4G", 1 },
};

/* What stage 1 hands to stage 2; 2 files with -g, else 1. */
struct hn_record {
	uint64_t magic;
	struct ht_set set;
};

static int hn_giant;

static void hn_path(char *buf, size_t len, int i)
{
	snprintf(buf, len, HN_MNT "-%s/guest%d", ht_sizes[i].label, i);
}

/*
 * The 1 GiB pool must have a free page for guest1: grow it if it has none
 * (only works while 1 GiB of memory is free and aligned).
 */
static void hn_ensure_giant(void)
{
	char path[128];
	struct ht_pools p;
	const struct ht_counters *c = &p.all[HT_1G];

	ht_pools_read(&p);
	if (!p.present[HT_1G])
		fail_exit("-g: no 1 GiB page size in this kernel");
	if (c->free >= 1)
		return;
	snprintf(path, sizeof(path), HT_SYSFS "/hugepages-%s/nr_hugepages",
		 ht_sizes[HT_1G].dir);
	ht_write_long(path, c->nr + 1 - c->free);
	ht_pools_read(&p);
	if (c->free < 1)
		fail_exit("-g: no free 1 GiB page (boot with hugepagesz=1G hugepages=2)");
}

/* Mount hugetlbfs for file @i of @s, create and fill it; it stays at @map. */
static int hn_create(int i, struct ht_set *s, uint64_t seed, char **map)
{
	const struct hn_size *hs = &hn_sizes[i];
	char path[80];
	int fd;

	close(ht_pool_root(HN_MNT, i, hs->opts));
	hn_path(path, sizeof(path), i);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0)
		fail_exit("create %s", path);
	if (ftruncate(fd, hs->nr_pages * ht_sizes[i].size))
		fail_exit("ftruncate %s", path);
	*map = ht_file_fill(&s->file[i], fd, i, i, hs->nr_pages, seed + i);
	ksft_print_msg("file %d: %s, %lu MiB of %s pages (%s), seals %#x\n",
		       i, path, ht_file_len(&s->file[i]) >> 20,
		       ht_sizes[i].label, hs->opts, s->file[i].seals);
	return fd;
}

/*
 * Named files after preserve: their layout is frozen for every opener,
 * not only the preserver, and unlinking one does not matter to LUO.
 */
static void hn_after_preserve(const struct ht_set *s)
{
	char path[80];
	int i;

	for (i = 0; i < s->nr_files; i++) {
		hn_path(path, sizeof(path), i);
		errno = 0;
		if (syscall(__NR_truncate, path, 0L) != -1 || errno != EPERM)
			fail_exit("truncate(%s, 0) of a preserved file: not EPERM",
				  path);
	}
	ksft_print_msg("truncate by path of the preserved files refused (EPERM)\n");
	hn_path(path, sizeof(path), HT_2M);
	if (unlink(path))
		fail_exit("unlink %s after preserve", path);
	ksft_print_msg("%s unlinked after preserve\n", path);
}

static void run_stage_1(int luo_fd)
{
	static struct hn_record rec = { .magic = HN_MAGIC };
	int session_fd, fd[HT_NR_SIZES], i;
	struct ht_set *set = &rec.set;
	char *map[HT_NR_SIZES];
	struct luo_hugepages m;

	set->nr_files = hn_giant ? 2 : 1;
	/* As many free pages again for the pool file to hand over. */
	luo_hugepages_ensure_free(2 * HN_NR_2M, &m);
	if (hn_giant)
		hn_ensure_giant();
	else
		ksft_print_msg("no -g: skipping guest1, the 1 GiB part of the test\n");
	ht_pools_read(&set->base);
	for (i = 0; i < set->nr_files; i++)
		ht_pool_ready(&set->base, i, hn_sizes[i].nr_pages);

	session_fd = ht_stage_1(luo_fd, HN_STATE_SESSION, HN_STATE_TOKEN,
				HN_SESSION);
	for (i = 0; i < set->nr_files; i++)
		fd[i] = hn_create(i, set, (uint64_t)getpid() << 24, &map[i]);
	ht_set_in_use(set, "filled");

	for (i = 0; i < set->nr_files; i++)
		ht_file_preserve(session_fd, HN_FILE_TOKEN + i, fd[i],
				 &set->file[i], map[i], i);
	hn_after_preserve(set);
	for (i = 0; i < set->nr_files; i++) {
		munmap(map[i], ht_file_len(&set->file[i]));
		close(fd[i]);
	}
	ht_set_in_use(set, "only LUO holds the files");

	/* The mount roots; the 2 MiB one opened again is the same file to LUO. */
	ht_set_pool_files(set, session_fd, HN_MNT, (1U << set->nr_files) - 1,
			  HN_POOL_TOKEN, HN_EBUSY_TOKEN);
	ksft_print_msg("[STAGE 1] %s and the pool files preserved\n",
		       hn_giant ? "guest0 and guest1" : "guest0");
	ht_set_hand_over(set, luo_fd, session_fd, HN_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	int session_fd, fd[HT_NR_SIZES], i;
	static struct hn_record rec;
	char *map[HT_NR_SIZES];
	struct stat st;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HN_STATE_TOKEN,
				HN_SESSION);
	ht_read_record(session_fd, HN_RECORD_TOKEN, &rec, sizeof(rec), HN_MAGIC);
	if (hn_giant && rec.set.nr_files < 2)
		fail_exit("-g, but stage 1 ran without it");
	if (rec.set.nr_files < 2)
		ksft_print_msg("stage 1 ran without -g: the 1 GiB part is skipped\n");
	ht_set_arrived(&rec.set, session_fd, HN_POOL_TOKEN);

	ht_set_retrieve(&rec.set, session_fd, HN_FILE_TOKEN, fd, map);
	for (i = 0; i < rec.set.nr_files; i++) {
		if (fstat(fd[i], &st) || st.st_nlink)
			fail_exit("file %d: %ld links, not a memfd", i,
				  (long)st.st_nlink);
		ksft_print_msg("file %d: an unlinked memfd of %s pages, as preserved\n",
			       i, ht_sizes[i].label);
	}
	ht_set_release(&rec.set, session_fd, fd, map, rec.set.pool_mask);

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB NAMED TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	/* -g goes first; luo_test() takes the rest. */
	hn_giant = ht_options(&argc, &argv, "g");
	return luo_test(argc, argv, HN_STATE_SESSION, run_stage_1, run_stage_2);
}
