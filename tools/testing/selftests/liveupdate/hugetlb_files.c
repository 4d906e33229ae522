// SPDX-License-Identifier: GPL-2.0-only

/*
 * Hugetlb memfds across one live update: the next kernel must give back
 * the same physical pages with the same bytes, size, position and seals,
 * and count them as in use until the files go.
 *
 * Usage: hugetlb_files [-n PAGES] [-g PAGES] [-s STAGE]
 *
 * -n is the number of 2 MiB pages of the 2 MiB-page memfd (8 by default,
 * 0 for none), -g that of a 1 GiB-page memfd in the same session (none by
 * default; the 1 GiB pool must have the pages free, or the test fails).
 * -n and -g go first and only stage 1 reads them: stage 2 finds the sizes
 * in the record.
 *
 * Stage 1 grows the default (2 MiB) pool to the pages it needs, fills the
 * memfds, records their PFNs from /proc/self/pagemap and preserves them.
 * A preserved file's layout is frozen: ftruncate (grow and shrink),
 * fallocate and hole punching must fail with EPERM and leave its size and
 * the pools alone, while writes through its mapping still work. It then
 * preserves a pool file per page size, the root of a hugetlbfs mount,
 * which hands the free pages over too (a second preserve of the same
 * root fails with EBUSY). The record goes along in a shmem memfd of the
 * same session.
 *
 * Stage 2 finds the pools as they were at the kexec (every page size, per
 * node too), the file pages in use, retrieves the files and compares size,
 * page size, position, seals, bytes, PFNs and nodes; closing the files and
 * finishing the session must give every page back to the pools, and new
 * hugetlb memfds must resize freely.
 *
 * Needs only /proc and a writable /dev, and mounts sysfs if needed, so
 * upstream's runner can run it: vmtest.sh -T hugetlb_files.
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HLF_STATE_SESSION	"hugetlb_files_state"
#define HLF_STATE_TOKEN		999
#define HLF_SESSION		"hugetlb-files"
#define HLF_FILE_TOKEN		1	/* + page size index */
#define HLF_POOL_TOKEN		10	/* + page size index */
#define HLF_RECORD_TOKEN	20
#define HLF_NR_PAGES		8	/* 2 MiB pages by default */
#define HLF_MAX_GIANT		8	/* 1 GiB pages */
#define HLF_LATE		0x1a7e	/* seed change of the pages written late */
#define HLF_MNT			"/dev/hugetlb_files"	/* + "-<size>" */
#define HLF_MAGIC		0x484c4632	/* "HLF2" */

/* What stage 1 hands to stage 2; file h is of page size h, if any. */
struct hlf_record {
	__u64 magic;
	struct ht_set set;
};

static unsigned int hlf_pages[HT_NR_SIZES] = { HLF_NR_PAGES, 0 };

/* The seed page @p of file @f was written with. */
static __u64 hlf_seed(const struct ht_file *f, unsigned int p)
{
	return p == 0 || p == f->nr_pages - 1 ? f->seed ^ HLF_LATE : f->seed;
}

static void hlf_refused(const char *what, long ret)
{
	if (ret != -1 || errno != EPERM)
		fail_exit("%s of a preserved file: %s, expected EPERM", what,
			  ret ? "other error" : "it worked");
}

/*
 * After preserve: size and layout are frozen, the data stays writable.
 * The first and the last page get new bytes, which must reach read() too.
 */
static void hlf_check_frozen(int fd, char *map, int h,
			     const struct ht_set *set)
{
	const struct ht_file *f = &set->file[h];
	unsigned long hp = ht_sizes[h].size;
	off_t size = (off_t)f->nr_pages * hp;
	static char buf[4096];
	unsigned int p;
	struct stat sb;

	hlf_refused("ftruncate (grow)", ftruncate(fd, size + hp));
	hlf_refused("fallocate beyond EOF", ht_fallocate(fd, 0, size, hp));
	hlf_refused("fallocate(PUNCH_HOLE)",
		    ht_fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				 FALLOC_FL_KEEP_SIZE, 0, hp));
	hlf_refused("ftruncate (shrink)", ftruncate(fd, size - hp));
	if (fstat(fd, &sb) || sb.st_size != size)
		fail_exit("the preserved %s file changed size",
			  ht_sizes[h].label);
	ht_set_in_use(set, "refused layout changes");

	for (p = 0; p < f->nr_pages; p += f->nr_pages - 1) {
		ht_fill(map + p * hp, hp, hlf_seed(f, p), p);
		if (syscall(__NR_pread64, fd, buf, sizeof(buf),
			    (off_t)p * hp) != sizeof(buf) ||
		    memcmp(buf, map + p * hp, sizeof(buf)))
			fail_exit("%s page %u: write through the mapping not seen by read()",
				  ht_sizes[h].label, p);
		if (f->nr_pages == 1)
			break;
	}
	ksft_print_msg("preserved %s file: layout frozen (EPERM), still writable\n",
		       ht_sizes[h].label);
}

static void run_stage_1(int luo_fd)
{
	static struct hlf_record rec = { .magic = HLF_MAGIC };
	int session_fd, fd[HT_NR_SIZES], h;
	struct ht_set *set = &rec.set;
	char *map[HT_NR_SIZES];
	struct luo_hugepages m;
	struct ht_file *f;

	/* One more page: a grow that is not refused would find it. */
	if (hlf_pages[HT_2M])
		luo_hugepages_ensure_free(hlf_pages[HT_2M] + 1, &m);
	ht_pools_read(&set->base);
	ht_pools_print("before", &set->base);
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (set->base.present[h] || hlf_pages[h])
			ht_pool_ready(&set->base, h, hlf_pages[h]);
	}

	session_fd = ht_stage_1(luo_fd, HLF_STATE_SESSION, HLF_STATE_TOKEN,
				HLF_SESSION);
	set->nr_files = HT_NR_SIZES;
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (hlf_pages[h])
			fd[h] = ht_file_make(&set->file[h], h, h, hlf_pages[h],
					     (__u64)getpid() << 20 ^ h, 0,
					     &map[h]);
	}
	ht_set_in_use(set, "filled");

	for (h = 0; h < HT_NR_SIZES; h++) {
		f = &set->file[h];
		if (!f->nr_pages)
			continue;
		ht_file_preserve(session_fd, HLF_FILE_TOKEN + h, fd[h], f,
				 map[h], h);
		ht_set_in_use(set, "preserved");
		hlf_check_frozen(fd[h], map[h], h, set);
		munmap(map[h], ht_file_len(f));
		close(fd[h]);
		ksft_print_msg("[STAGE 1] %u pages of %s preserved, first PFN %#llx\n",
			       f->nr_pages, ht_sizes[h].label,
			       (unsigned long long)f->pfn[0]);
	}
	ht_set_in_use(set, "only LUO holds the files");

	/* The free pages of every page size go along. */
	ht_set_pool_files(set, session_fd, HLF_MNT,
			  ht_present_sizes(&set->base), HLF_POOL_TOKEN,
			  HLF_POOL_TOKEN + HT_NR_SIZES);
	ht_set_hand_over(set, luo_fd, session_fd, HLF_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

/* Compare retrieved file @h (@fd) of @set; returns its mapping. */
static char *hlf_check_file(int fd, const struct ht_set *set, int h)
{
	const struct ht_file *f = &set->file[h];
	unsigned long hp = ht_sizes[h].size;
	unsigned int p;
	char *map;

	ht_file_check_meta(fd, f, h);
	map = ht_map(fd, ht_file_len(f), PROT_READ, 0);
	for (p = 0; p < f->nr_pages; p++) {
		if (!ht_same(map + p * hp, hp, hlf_seed(f, p), p))
			fail_exit("%s page %u differs", ht_sizes[h].label, p);
	}
	ht_file_check_place(f, map, h);
	ksft_print_msg("[STAGE 2] %s file of %u pages: %s\n", ht_sizes[h].label,
		       f->nr_pages, "size, position, seals, bytes, PFNs and nodes");
	return map;
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	int session_fd, fd[HT_NR_SIZES], h;
	static struct hlf_record rec;
	struct ht_set *set = &rec.set;
	char *map[HT_NR_SIZES];

	session_fd = ht_stage_2(luo_fd, state_session_fd, HLF_STATE_TOKEN,
				HLF_SESSION);
	ht_read_record(session_fd, HLF_RECORD_TOKEN, &rec, sizeof(rec),
		       HLF_MAGIC);
	ht_set_arrived(set, session_fd, HLF_POOL_TOKEN);

	/* Before retrieve, the files' pages are in use, not free. */
	ht_set_in_use(set, "before retrieve");
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!set->file[h].nr_pages)
			continue;
		fd[h] = luo_session_retrieve_fd(session_fd, HLF_FILE_TOKEN + h);
		if (fd[h] < 0)
			fail_exit("retrieve the %s memfd", ht_sizes[h].label);
		map[h] = hlf_check_file(fd[h], set, h);
	}
	/* The session holds the files, and their pages, until it is finished. */
	ht_set_release(set, session_fd, fd, map, ht_free_sizes(&set->base));

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB FILES TEST PASSED ---\n");
}

/* -n and -g go first; luo_test() takes the rest. */
int main(int argc, char *argv[])
{
	unsigned int max;
	char *end;
	long nr;
	int h;

	while (argc > 2 && (!strcmp(argv[1], "-n") || !strcmp(argv[1], "-g"))) {
		h = argv[1][1] == 'n' ? HT_2M : HT_1G;
		max = h == HT_2M ? HT_MAX_PAGES : HLF_MAX_GIANT;
		nr = strtol(argv[2], &end, 10);
		if (*end || nr < 0 || nr > max)
			ksft_exit_fail_msg("%s takes 0 to %u pages\n", argv[1],
					   max);
		hlf_pages[h] = nr;
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (!hlf_pages[HT_2M] && !hlf_pages[HT_1G])
		ksft_exit_fail_msg("no file to preserve: -n 0 needs -g\n");
	return luo_test(argc, argv, HLF_STATE_SESSION, run_stage_1,
			run_stage_2);
}
