// SPDX-License-Identifier: GPL-2.0-only

/*
 * Many hugetlb memfds in several sessions across one live update.
 *
 * Stage 1 preserves HM_FILES memfds, file i in session i % HM_SESSIONS:
 * memfds of HM_PAGES pages of 2 MiB, except files HM_GIANT_A and
 * HM_GIANT_B, which have one page of 1 GiB when the 1 GiB pool has two
 * free pages. Each file gets its own file position and every other one
 * the F_SEAL_SHRINK and F_SEAL_GROW seals. Stage 2 retrieves every file
 * from its session and compares size, position, seals, bytes and PFNs;
 * the pages go back to the pools when the files are closed and the
 * sessions finished.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugetlb_util.h"

#define HM_STATE_SESSION	"hugetlb_many_files_state"
#define HM_STATE_TOKEN		999
#define HM_SESSION		"hugetlb-many-%d"
#define HM_RECORD_TOKEN		1000
#define HM_FILES		64
#define HM_SESSIONS		4
#define HM_PAGES		2
#define HM_GIANT_A		31
#define HM_GIANT_B		63
#define HM_POS_STEP		4099
#define HM_SEALS		(F_SEAL_SHRINK | F_SEAL_GROW)
#define HM_GIANT_FREE \
	"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
#define HM_MAGIC		0x484d4631	/* "HMF1" */

struct hm_file {
	uint64_t page_size;
	uint64_t nr_pages;
	uint64_t pos;
	uint64_t seals;
	uint64_t pfn[HM_PAGES];
};

/* What stage 1 hands to stage 2. */
struct hm_record {
	uint64_t magic;
	uint64_t seed;
	struct hm_file file[HM_FILES];
};

static void hm_sessions(int luo_fd, int *sfd, int create)
{
	char name[64];
	int s;

	for (s = 0; s < HM_SESSIONS; s++) {
		snprintf(name, sizeof(name), HM_SESSION, s);
		sfd[s] = create ? luo_create_session(luo_fd, name) :
				  luo_retrieve_session(luo_fd, name);
		if (sfd[s] < 0)
			fail_exit("%s session %s",
				  create ? "create" : "retrieve", name);
	}
}

static void run_stage_1(int luo_fd)
{
	struct hm_record rec = { .magic = HM_MAGIC };
	int sfd[HM_SESSIONS], fd, i, giant;
	struct luo_hugepages m;
	struct hm_file *f;
	unsigned int p;
	char *map;

	giant = ht_read_long(HM_GIANT_FREE) >= 2;
	luo_hugepages_ensure_free(HM_FILES * HM_PAGES, &m);
	create_state_file(luo_fd, HM_STATE_SESSION, HM_STATE_TOKEN, 2);
	hm_sessions(luo_fd, sfd, 1);

	rec.seed = (uint64_t)getpid() << 32;
	for (i = 0; i < HM_FILES; i++) {
		f = &rec.file[i];
		if (giant && (i == HM_GIANT_A || i == HM_GIANT_B)) {
			f->page_size = HT_GPAGE;
			f->nr_pages = 1;
		} else {
			f->page_size = HT_HPAGE;
			f->nr_pages = HM_PAGES;
		}
		fd = ht_memfd("many", f->page_size * f->nr_pages,
			      MFD_ALLOW_SEALING |
			      (f->page_size == HT_GPAGE ? HT_MFD_HUGE_1GB :
							  HT_MFD_HUGE_2MB));
		map = ht_map(fd, f->page_size * f->nr_pages,
			     PROT_READ | PROT_WRITE, 0);
		for (p = 0; p < f->nr_pages; p++) {
			ht_fill(map + p * f->page_size, f->page_size,
				rec.seed + i, p);
			f->pfn[p] = ht_pfn(map + p * f->page_size);
		}
		munmap(map, f->page_size * f->nr_pages);

		f->pos = (i + 1) * HM_POS_STEP;
		if (lseek(fd, f->pos, SEEK_SET) != (off_t)f->pos)
			fail_exit("lseek file %d", i);
		f->seals = i % 2 ? HM_SEALS : 0;
		if (f->seals && ht_fcntl(fd, F_ADD_SEALS, f->seals))
			fail_exit("seal file %d", i);
		if (luo_session_preserve_fd(sfd[i % HM_SESSIONS], fd, i + 1))
			fail_exit("preserve file %d", i);
		close(fd);
	}
	ht_save_record(sfd[0], HM_RECORD_TOKEN, &rec, sizeof(rec));

	ksft_print_msg("[STAGE 1] %d files in %d sessions preserved%s\n",
		       HM_FILES, HM_SESSIONS,
		       giant ? ", 2 of them of 1 GiB pages" :
			       "; no free 1 GiB pages, all of 2 MiB pages");
	close(luo_fd);
	daemonize_and_wait();
}

static void hm_check_file(int session_fd, int i, const struct hm_record *rec)
{
	const struct hm_file *f = &rec->file[i];
	unsigned long size = f->page_size * f->nr_pages;
	unsigned int p;
	char *map;
	int fd;

	fd = luo_session_retrieve_fd(session_fd, i + 1);
	if (fd < 0)
		fail_exit("retrieve file %d", i);
	if (lseek(fd, 0, SEEK_CUR) != (off_t)f->pos)
		fail_exit("file %d has another position", i);
	if (lseek(fd, 0, SEEK_END) != (off_t)size)
		fail_exit("file %d has another size", i);
	if (ht_fcntl(fd, F_GET_SEALS, 0) != (long)f->seals)
		fail_exit("file %d has other seals", i);
	map = ht_map(fd, size, PROT_READ, 0);
	for (p = 0; p < f->nr_pages; p++) {
		if (!ht_same(map + p * f->page_size, f->page_size,
			     rec->seed + i, p))
			fail_exit("file %d page %u differs", i, p);
		if (ht_pfn(map + p * f->page_size) != f->pfn[p])
			fail_exit("file %d page %u moved", i, p);
	}
	munmap(map, size);
	close(fd);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	int sfd[HM_SESSIONS], i, s, stage;
	struct hm_record rec;
	struct luo_hugepages m;

	restore_and_read_stage(state_session_fd, HM_STATE_TOKEN, &stage);
	if (stage != 2)
		fail_exit("expected stage 2, the state file says %d", stage);
	hm_sessions(luo_fd, sfd, 0);
	ht_read_record(sfd[0], HM_RECORD_TOKEN, &rec, sizeof(rec), HM_MAGIC);

	for (i = 0; i < HM_FILES; i++)
		hm_check_file(sfd[i % HM_SESSIONS], i, &rec);
	ksft_print_msg("[STAGE 2] %d files: same size, position, seals, bytes and PFNs\n",
		       HM_FILES);

	for (s = 0; s < HM_SESSIONS; s++)
		ht_finish(sfd[s], "data");
	luo_hugepages(&m);
	if (m.free != m.total)
		fail_exit("%ld pages still in use", m.total - m.free);
	if (ht_read_long(HM_GIANT_FREE) !=
	    ht_read_long("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"))
		fail_exit("1 GiB pages still in use");

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB MANY FILES TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HM_STATE_SESSION, run_stage_1, run_stage_2);
}
