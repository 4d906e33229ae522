// SPDX-License-Identifier: GPL-2.0-only

/*
 * One hugetlb memfd across several live updates in a row.
 *
 * Usage: hugetlb_updates [-u UPDATES] [-s STAGE]
 *
 * Stage 1 fills a memfd of HU_NR pages of 2 MiB and preserves it. Each
 * later kernel retrieves it, checks its bytes and PFNs, and, while updates
 * remain, writes new bytes, finishes the session it came in and preserves
 * the same file in a new one for the next kernel. The last one checks it
 * and gives its pages back. -u tells stage 1 how many updates to do (1 by
 * default, as vmtest.sh runs it); every later kernel runs stage 2.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugetlb_util.h"

#define HU_STATE_SESSION	"hugetlb_updates_state"
#define HU_STATE_TOKEN		999
#define HU_SESSION		"hugetlb-updates-%d"
#define HU_FILE_TOKEN		1
#define HU_RECORD_TOKEN		2
#define HU_NR			8
#define HU_SIZE			(HU_NR * HT_HPAGE)
#define HU_MAX_UPDATES		16
#define HU_MAGIC		0x48555031	/* "HUP1" */

/* What each kernel hands to the next. */
struct hu_record {
	uint64_t magic;
	uint64_t seed;		/* of the bytes written last */
	int32_t updates;	/* how many in all */
	int32_t done;		/* how many so far, this one included */
	uint64_t pfn[HU_NR];
};

static int hu_updates = 1;

static void hu_name(char *buf, size_t len, int update)
{
	snprintf(buf, len, HU_SESSION, update);
}

/*
 * Write new bytes to @fd, record its PFNs, and preserve it in a new session
 * for update @rec->done + 1; the state session says which stage is next.
 */
static void hu_hand_over(int luo_fd, int fd, struct hu_record *rec)
{
	int session_fd, p;
	char *map;

	map = ht_map(fd, HU_SIZE, PROT_READ | PROT_WRITE, 0);
	rec->seed = rec->seed * 31 + getpid();
	for (p = 0; p < HU_NR; p++) {
		ht_fill(map + p * HT_HPAGE, HT_HPAGE, rec->seed, p);
		rec->pfn[p] = ht_pfn(map + p * HT_HPAGE);
	}
	munmap(map, HU_SIZE);
	rec->done++;

	session_fd = ht_update_session(luo_fd, HU_STATE_SESSION, HU_STATE_TOKEN,
				       HU_SESSION, rec->done);
	if (luo_session_preserve_fd(session_fd, fd, HU_FILE_TOKEN))
		fail_exit("preserve the memfd");
	ht_save_record(session_fd, HU_RECORD_TOKEN, rec, sizeof(*rec));
	close(fd);

	ksft_print_msg("update %d of %d: %d pages preserved, first PFN %#llx\n",
		       rec->done, rec->updates, HU_NR,
		       (unsigned long long)rec->pfn[0]);
	close(luo_fd);
	daemonize_and_wait();
}

static void run_stage_1(int luo_fd)
{
	struct hu_record rec = { .magic = HU_MAGIC, .updates = hu_updates };
	struct luo_hugepages m;

	luo_hugepages_ensure_free(HU_NR, &m);
	hu_hand_over(luo_fd, ht_memfd("updates", HU_SIZE, HT_MFD_HUGE_2MB),
		     &rec);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct luo_hugepages m;
	struct hu_record rec;
	int session_fd, fd, p, stage;
	char name[64];
	char *map;

	session_fd = ht_update_retrieve(luo_fd, state_session_fd, HU_STATE_TOKEN,
					HU_SESSION, &stage, HU_RECORD_TOKEN,
					&rec, sizeof(rec), HU_MAGIC);
	if (rec.done != stage - 1)
		fail_exit("the record is not the one of update %d", stage - 1);
	if (stage > 2) {
		hu_name(name, sizeof(name), stage - 2);
		if (luo_retrieve_session(luo_fd, name) != -ENOENT)
			fail_exit("session %s of the update before is back", name);
	}

	fd = luo_session_retrieve_fd(session_fd, HU_FILE_TOKEN);
	if (fd < 0)
		fail_exit("retrieve the memfd");
	if (lseek(fd, 0, SEEK_END) != (off_t)HU_SIZE)
		fail_exit("the memfd has another size");
	map = ht_map(fd, HU_SIZE, PROT_READ, 0);
	for (p = 0; p < HU_NR; p++) {
		if (!ht_same(map + p * HT_HPAGE, HT_HPAGE, rec.seed, p))
			fail_exit("page %d differs after update %d", p, rec.done);
		if (ht_pfn(map + p * HT_HPAGE) != rec.pfn[p])
			fail_exit("page %d moved in update %d", p, rec.done);
	}
	munmap(map, HU_SIZE);
	luo_hugepages(&m);
	if (m.total - m.free != HU_NR)
		fail_exit("expected the %d pages of the file in use", HU_NR);
	ksft_print_msg("update %d of %d: same bytes and PFNs\n", rec.done,
		       rec.updates);

	/* The file outlives the session it came in. */
	ht_finish(session_fd, "data");
	ht_finish(state_session_fd, "state");
	if (rec.done < rec.updates)
		hu_hand_over(luo_fd, fd, &rec);

	close(fd);
	luo_hugepages(&m);
	if (m.free != m.total)
		fail_exit("%ld pages still in use after close", m.total - m.free);
	ksft_print_msg("\n--- HUGETLB UPDATES TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	/* -u goes first; luo_test() takes the rest. */
	if (argc > 2 && !strcmp(argv[1], "-u")) {
		hu_updates = atoi(argv[2]);
		if (hu_updates < 1 || hu_updates > HU_MAX_UPDATES)
			ksft_exit_fail_msg("-u takes 1 to %d\n", HU_MAX_UPDATES);
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	return luo_test(argc, argv, HU_STATE_SESSION, run_stage_1, run_stage_2);
}
