// SPDX-License-Identifier: GPL-2.0-only

/*
 * A page that fills a hole of a preserved file may come from KHO scratch,
 * which is CMA: a pool grown at run time takes pages there once the rest
 * of memory is used. The pin at freeze moves such a page out of scratch,
 * onto another huge page; the pool snapshot, taken once every file is
 * frozen, must not list that page as free too, or it is handed over twice
 * and the file cannot come back.
 *
 * Usage: hugetlb_migrate [-s STAGE]
 *
 * Stage 1 grows the 2 MiB pool until HM_LEAVE_KB of memory is left free
 * (movable allocations then have taken pages of CMA), preserves an empty
 * memfd and the pool file, then fills every page of the memfd, which is
 * as large as the free pool but for HM_SPARE pages: at least one of its
 * pages must be in KHO scratch (debugfs: kho/out/scratch_phys and
 * scratch_len). It closes the file.
 *
 * Stage 2: the file comes back whole (size and bytes), each page that was
 * in scratch at another PFN, every other one at its own. The pages in use
 * are the file's. The free pages are those at the kexec but for the ones
 * in CMA then, which stay behind (the old kernel logs how many): after the
 * moves, the pages the file left in scratch. Once the file is closed and
 * the session finished, every page of the pool is free.
 *
 * It can run in any kernel with KHO, and in a kernel booted by KHO too;
 * run it in a row, as its scenario does, to cover both. It runs on one
 * NUMA node, and needs debugfs (it mounts it if needed).
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HM_STATE_SESSION	"hugetlb_migrate_state"
#define HM_STATE_TOKEN		999
#define HM_SESSION		"hugetlb-migrate"
#define HM_FILE_TOKEN		1
#define HM_POOL_TOKEN		10	/* + the page size */
#define HM_RECORD_TOKEN		20
#define HM_MIN_PAGES		64
#define HM_MAX_PAGES		1024
#define HM_SPARE		8
#define HM_LEAVE_KB		(384 << 10)	/* memory the pool leaves free */
#define HM_MAX_SCRATCH		16
#define HM_MNT			"/tmp/hugetlb_migrate"
#define HM_NR_HUGEPAGES		"/proc/sys/vm/nr_hugepages"
#define HM_DEBUGFS		"/sys/kernel/debug"
#define HM_SCRATCH		HM_DEBUGFS "/kho/out/scratch_"
#define HM_MAGIC		0x484d4731	/* "HMG1" */

/* What stage 1 hands to stage 2: the file, its pages, the pools. */
struct hm_record {
	uint64_t magic;
	uint64_t seed;
	uint32_t nr_pages;
	uint32_t in_scratch;		/* pages that were in scratch */
	uint64_t pfn[HM_MAX_PAGES];
	uint8_t moved[HM_MAX_PAGES];	/* page p was in scratch */
	struct ht_pools at_kexec;
};

/* KHO scratch areas, in bytes. */
static uint64_t hm_start[HM_MAX_SCRATCH], hm_len[HM_MAX_SCRATCH];
static int hm_nr_scratch;

/* The numbers, one per line, of debugfs file HM_SCRATCH@what, into @v. */
static int hm_read_list(const char *what, uint64_t *v)
{
	char path[128], buf[1024], *p, *end;
	int fd, n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "%s%s", HM_SCRATCH, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_exit("open %s (CONFIG_KEXEC_HANDOVER_DEBUGFS)", path);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		fail_exit("read %s", path);
	buf[len] = '\0';
	for (p = buf; *p && n < HM_MAX_SCRATCH; p = end) {
		v[n] = strtoull(p, &end, 0);
		if (end == p)
			break;
		n++;
		while (*end == '\n' || *end == ' ')
			end++;
	}
	return n;
}

/* Read the KHO scratch areas of this kernel: CMA, for movable pages only. */
static void hm_scratch_read(void)
{
	int i;

	if (access(HM_DEBUGFS "/kho", F_OK) &&
	    mount("debugfs", HM_DEBUGFS, "debugfs", 0, NULL) && errno != EBUSY)
		fail_exit("mount debugfs on %s", HM_DEBUGFS);
	hm_nr_scratch = hm_read_list("phys", hm_start);
	if (hm_read_list("len", hm_len) != hm_nr_scratch || !hm_nr_scratch)
		fail_exit("no KHO scratch areas in %sphys and %slen",
			  HM_SCRATCH, HM_SCRATCH);
	for (i = 0; i < hm_nr_scratch; i++)
		ksft_print_msg("KHO scratch %d: %#llx, %llu MiB\n", i,
			       (unsigned long long)hm_start[i],
			       (unsigned long long)(hm_len[i] >> 20));
}

static int hm_in_scratch(uint64_t pfn)
{
	uint64_t pa = pfn * getpagesize();
	int i;

	for (i = 0; i < hm_nr_scratch; i++) {
		if (pa >= hm_start[i] && pa < hm_start[i] + hm_len[i])
			return 1;
	}
	return 0;
}

static void run_stage_1(int luo_fd)
{
	static struct hm_record rec = { .magic = HM_MAGIC };
	int session_fd, fd;
	struct ht_pools p;
	unsigned int i;
	long nr, nfile;
	char *map;

	ht_mount_sysfs();
	hm_scratch_read();
	nr = ht_read_long(HM_NR_HUGEPAGES);
	nr += (luo_meminfo("MemFree:") - HM_LEAVE_KB) / (HT_HPAGE >> 10);
	ht_write_long(HM_NR_HUGEPAGES, nr);
	ht_pools_read(&p);
	if (ht_popcount(ht_pools_nodes(&p)) > 1)
		fail_exit("runs on one NUMA node only");
	nfile = p.all[HT_2M].free - HM_SPARE;
	if (nfile > HM_MAX_PAGES)
		nfile = HM_MAX_PAGES;
	if (nfile < HM_MIN_PAGES)
		fail_exit("the pool grew to %lld pages, %lld free; %d needed",
			  (long long)p.all[HT_2M].nr,
			  (long long)p.all[HT_2M].free,
			  HM_MIN_PAGES + HM_SPARE);
	ksft_print_msg("the 2 MiB pool grew to %lld pages\n",
		       (long long)p.all[HT_2M].nr);

	session_fd = ht_stage_1(luo_fd, HM_STATE_SESSION, HM_STATE_TOKEN,
				HM_SESSION);
	fd = ht_memfd("hugetlb_migrate", nfile * HT_HPAGE, HT_MFD_HUGE_2MB);
	if (luo_session_preserve_fd(session_fd, fd, HM_FILE_TOKEN))
		fail_exit("preserve the empty file");
	ht_pool_file_preserve(session_fd, HM_MNT, HT_2M, HM_POOL_TOKEN + HT_2M,
			      -1);

	/* Every hole filled after preserve: the freeze pins the pages. */
	rec.seed = (uint64_t)getpid() << 24;
	rec.nr_pages = nfile;
	map = ht_map(fd, nfile * HT_HPAGE, PROT_READ | PROT_WRITE, 0);
	for (i = 0; i < rec.nr_pages; i++) {
		ht_fill(map + i * HT_HPAGE, HT_HPAGE, rec.seed, i);
		rec.pfn[i] = ht_pfn(map + i * HT_HPAGE);
		rec.moved[i] = hm_in_scratch(rec.pfn[i]);
		rec.in_scratch += rec.moved[i];
	}
	if (!rec.in_scratch)
		fail_exit("no page of the file is in KHO scratch: the freeze has nothing to move");
	ksft_print_msg("%u of the %u file pages are in KHO scratch (CMA)\n",
		       rec.in_scratch, rec.nr_pages);
	munmap(map, nfile * HT_HPAGE);
	close(fd);

	ht_pools_read(&rec.at_kexec);
	ht_pools_print("at the kexec", &rec.at_kexec);
	if (rec.at_kexec.all[HT_2M].nr - rec.at_kexec.all[HT_2M].free != nfile)
		fail_exit("%ld pages of the file, but %lld pages in use", nfile,
			  (long long)(rec.at_kexec.all[HT_2M].nr -
				      rec.at_kexec.all[HT_2M].free));

	ksft_print_msg("[STAGE 1] file preserved, its holes filled after preserve\n");
	ht_save_record(session_fd, HM_RECORD_TOKEN, &rec, sizeof(rec));
	close(luo_fd);
	daemonize_and_wait();
}

/*
 * The 2 MiB pool after the kexec, @when: the pages in use are the file's,
 * and the free ones at most those of the kexec.
 */
static void hm_pool_check(const struct hm_record *rec, const char *when)
{
	const struct ht_counters *was = &rec->at_kexec.all[HT_2M];
	struct ht_pools p;
	struct ht_counters *c = &p.all[HT_2M];

	ht_pools_read(&p);
	ksft_print_msg("%s: 2M pool total %lld free %lld surplus %lld resv %lld\n",
		       when, (long long)c->nr, (long long)c->free,
		       (long long)c->surp, (long long)c->resv);
	if (c->nr - c->free != rec->nr_pages || c->free > was->free ||
	    c->surp || c->resv)
		fail_exit("%s: expected the file's %u pages in use, at most %lld free",
			  when, rec->nr_pages, (long long)was->free);
	ksft_print_msg("%s: %lld of the %lld pages free at the kexec came along\n",
		       when, (long long)c->free, (long long)was->free);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hm_record rec;
	unsigned int i, moved = 0;
	int session_fd, fd;
	struct ht_pools p;
	struct stat st;
	uint64_t pfn;
	char *map;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HM_STATE_TOKEN,
				HM_SESSION);
	ht_read_record(session_fd, HM_RECORD_TOKEN, &rec, sizeof(rec),
		       HM_MAGIC);
	hm_pool_check(&rec, "after the kexec");
	ht_pool_files_retrieve(session_fd, 1U << HT_2M, HM_POOL_TOKEN);

	fd = luo_session_retrieve_fd(session_fd, HM_FILE_TOKEN);
	if (fd < 0)
		fail_exit("retrieve the file");
	if (fstat(fd, &st) || st.st_size != (off_t)rec.nr_pages * HT_HPAGE)
		fail_exit("the file is not of %u pages", rec.nr_pages);
	map = ht_map(fd, rec.nr_pages * HT_HPAGE, PROT_READ, 0);
	for (i = 0; i < rec.nr_pages; i++) {
		if (!ht_same(map + i * HT_HPAGE, HT_HPAGE, rec.seed, i))
			fail_exit("page %u differs", i);
		pfn = ht_pfn(map + i * HT_HPAGE);
		if (rec.moved[i] && pfn == rec.pfn[i])
			fail_exit("page %u, in KHO scratch before the kexec, did not move",
				  i);
		if (!rec.moved[i] && pfn != rec.pfn[i])
			fail_exit("page %u moved: PFN %#llx, was %#llx", i,
				  (unsigned long long)pfn,
				  (unsigned long long)rec.pfn[i]);
		moved += rec.moved[i];
	}
	ksft_print_msg("file: %u pages, bytes as written\n", rec.nr_pages);
	ksft_print_msg("%u pages moved out of KHO scratch at the freeze, %u kept their PFN\n",
		       moved, rec.nr_pages - moved);
	hm_pool_check(&rec, "retrieved");

	munmap(map, rec.nr_pages * HT_HPAGE);
	close(fd);
	ht_finish(session_fd, "data");
	ht_pools_read(&p);
	if (p.all[HT_2M].free != p.all[HT_2M].nr || p.all[HT_2M].resv)
		fail_exit("closed and finished: %lld of %lld pages free, %lld reserved",
			  (long long)p.all[HT_2M].free,
			  (long long)p.all[HT_2M].nr,
			  (long long)p.all[HT_2M].resv);
	ksft_print_msg("closed and finished: every page free\n");
	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB MIGRATE TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HM_STATE_SESSION, run_stage_1, run_stage_2);
}
