// SPDX-License-Identifier: GPL-2.0-only

/*
 * A hugetlb memfd across one live update: the next kernel must give back
 * the same physical pages with the same bytes, and count them as in use
 * until the file goes.
 *
 * Stage 1 makes sure the default (2 MiB) pool has the pages it needs,
 * fills a memfd of HLF_NR_PAGES huge pages, records their PFNs from
 * /proc/self/pagemap, preserves the memfd and checks that its size is
 * frozen. The record goes along in a shmem memfd of the same session.
 * Stage 2 retrieves both and compares size, bytes, PFNs and
 * /proc/meminfo; closing the file must return its pages to the pool.
 *
 * Needs only /proc, so upstream's runner can run it:
 * vmtest.sh -T hugetlb_files.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hugetlb_util.h"

#define HLF_STATE_SESSION	"hugetlb_files_state"
#define HLF_STATE_TOKEN		999
#define HLF_SESSION		"hugetlb-files"
#define HLF_FILE_TOKEN		1
#define HLF_RECORD_TOKEN	2
#define HLF_NR_PAGES		8
#define HLF_HPAGE		(2UL << 20)
#define HLF_SIZE		(HLF_NR_PAGES * HLF_HPAGE)
#define HLF_MAGIC		0x484c4631	/* "HLF1" */

/* What stage 1 hands to stage 2. */
struct hlf_record {
	uint64_t magic;
	uint64_t seed;
	uint64_t pfn[HLF_NR_PAGES];
};

static uint64_t hlf_word(uint64_t seed, uint64_t page, uint64_t word)
{
	uint64_t x = seed ^ (page << 32) ^ word;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void run_stage_1(int luo_fd)
{
	struct hlf_record rec = { .magic = HLF_MAGIC };
	struct luo_hugepages before, after;
	uint64_t *words;
	int session_fd, mfd, rfd;
	unsigned long p, w;

	luo_hugepages_ensure_free(HLF_NR_PAGES, &before);

	create_state_file(luo_fd, HLF_STATE_SESSION, HLF_STATE_TOKEN, 2);
	session_fd = luo_create_session(luo_fd, HLF_SESSION);
	if (session_fd < 0)
		fail_exit("luo_create_session");

	mfd = memfd_create("hugetlb_files", MFD_HUGETLB | HT_MFD_HUGE_2MB);
	if (mfd < 0)
		fail_exit("memfd_create(MFD_HUGETLB)");
	if (ftruncate(mfd, HLF_SIZE))
		fail_exit("ftruncate");
	words = mmap(NULL, HLF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     mfd, 0);
	if (words == MAP_FAILED)
		fail_exit("mmap");

	rec.seed = (uint64_t)getpid() << 20 ^ (uintptr_t)words;
	for (p = 0; p < HLF_NR_PAGES; p++) {
		uint64_t *page = words + p * (HLF_HPAGE / sizeof(*words));

		for (w = 0; w < HLF_HPAGE / sizeof(*words); w++)
			page[w] = hlf_word(rec.seed, p, w);
		rec.pfn[p] = ht_pfn(page);
	}

	luo_hugepages(&before);
	if (luo_session_preserve_fd(session_fd, mfd, HLF_FILE_TOKEN))
		fail_exit("preserve the hugetlb memfd");
	luo_hugepages(&after);
	if (after.total != before.total || after.free != before.free)
		fail_exit("preserve changed the pool");

	/* The layout of a preserved file is frozen. */
	if (ftruncate(mfd, HLF_SIZE + HLF_HPAGE) == 0 || errno != EPERM)
		fail_exit("ftruncate of a preserved file did not fail with EPERM");

	rfd = memfd_create("hugetlb_files_record", 0);
	if (rfd < 0 || write(rfd, &rec, sizeof(rec)) != sizeof(rec))
		fail_exit("write the record");
	if (luo_session_preserve_fd(session_fd, rfd, HLF_RECORD_TOKEN))
		fail_exit("preserve the record");

	ksft_print_msg("[STAGE 1] %d pages of 2 MiB preserved, first PFN %#llx\n",
		       HLF_NR_PAGES, (unsigned long long)rec.pfn[0]);
	close(luo_fd);
	daemonize_and_wait();
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct luo_hugepages m;
	struct hlf_record rec;
	int session_fd, mfd;
	uint64_t *words;
	unsigned long p, w;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HLF_STATE_TOKEN,
				HLF_SESSION);
	luo_retrieve_record(session_fd, HLF_RECORD_TOKEN, &rec, sizeof(rec));
	if (rec.magic != HLF_MAGIC)
		fail_exit("the record is not ours");

	/* Before retrieve, the file's pages are in use, not free. */
	luo_hugepages(&m);
	if (m.total - m.free != HLF_NR_PAGES || m.rsvd)
		fail_exit("expected %d huge pages in use and none reserved",
			  HLF_NR_PAGES);

	mfd = luo_session_retrieve_fd(session_fd, HLF_FILE_TOKEN);
	if (mfd < 0)
		fail_exit("retrieve the hugetlb memfd");
	if (lseek(mfd, 0, SEEK_END) != (off_t)HLF_SIZE)
		fail_exit("the retrieved file has another size");

	words = mmap(NULL, HLF_SIZE, PROT_READ, MAP_SHARED, mfd, 0);
	if (words == MAP_FAILED)
		fail_exit("mmap the retrieved file");
	for (p = 0; p < HLF_NR_PAGES; p++) {
		uint64_t *page = words + p * (HLF_HPAGE / sizeof(*words));

		for (w = 0; w < HLF_HPAGE / sizeof(*words); w++) {
			if (page[w] != hlf_word(rec.seed, p, w))
				fail_exit("page %lu word %lu differs", p, w);
		}
		if (ht_pfn(page) != rec.pfn[p])
			fail_exit("page %lu moved: PFN %#llx, was %#llx", p,
				  (unsigned long long)ht_pfn(page),
				  (unsigned long long)rec.pfn[p]);
	}
	ksft_print_msg("[STAGE 2] same bytes and PFNs in all %d pages\n",
		       HLF_NR_PAGES);

	luo_hugepages(&m);
	if (m.total - m.free != HLF_NR_PAGES || m.rsvd)
		fail_exit("retrieve changed the pool counts");

	/*
	 * Its pages go back to the pool with the file, which the session
	 * holds until it is finished.
	 */
	munmap(words, HLF_SIZE);
	close(mfd);
	if (luo_session_finish(session_fd) < 0)
		fail_exit("finish the session");
	close(session_fd);
	luo_hugepages(&m);
	if (m.free != m.total)
		fail_exit("%ld huge pages still in use after close",
			  m.total - m.free);

	if (luo_session_finish(state_session_fd) < 0)
		fail_exit("finish the state session");
	ksft_print_msg("\n--- HUGETLB FILES TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HLF_STATE_SESSION, run_stage_1, run_stage_2);
}
