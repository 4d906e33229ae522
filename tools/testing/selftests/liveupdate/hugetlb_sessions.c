// SPDX-License-Identifier: GPL-2.0-only

/*
 * What becomes of a preserved hugetlb memfd whose session is closed before
 * the kexec, or finished after it without a retrieve.
 *
 * Stage 1 preserves two memfds of HS_NR pages of 2 MiB, each in its own
 * session. It closes the "kept" one: its session holds it. Closing the
 * "dropped" session unpreserves the other: it keeps its bytes, can be
 * truncated again, and its pages go back to the pool when it is closed.
 * Stage 2 finds no "dropped" session and the pages of the kept file in
 * use; finishing its session without retrieving the memfd gives them back
 * to the pool.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>

#include "hugetlb_util.h"

#define HS_STATE_SESSION	"hugetlb_sessions_state"
#define HS_STATE_TOKEN		999
#define HS_KEPT			"hugetlb-sessions-kept"
#define HS_DROPPED		"hugetlb-sessions-dropped"
#define HS_FILE_TOKEN		1
#define HS_NR			16
#define HS_SIZE			(HS_NR * HT_HPAGE)
#define HS_SEED			0x5345535349304e53ULL

static long hs_in_use(void)
{
	struct luo_hugepages m;

	luo_hugepages(&m);
	return m.total - m.free;
}

/* A memfd of HS_NR written pages, preserved in @session_fd. */
static int hs_preserve(int session_fd, const char *name, char **map)
{
	int fd, p;

	fd = ht_memfd(name, HS_SIZE, HT_MFD_HUGE_2MB);
	*map = ht_map(fd, HS_SIZE, PROT_READ | PROT_WRITE, 0);
	for (p = 0; p < HS_NR; p++)
		ht_fill(*map + p * HT_HPAGE, HT_HPAGE, HS_SEED, p);
	if (luo_session_preserve_fd(session_fd, fd, HS_FILE_TOKEN))
		fail_exit("preserve %s", name);
	return fd;
}

static void run_stage_1(int luo_fd)
{
	int kept_fd, dropped_fd, fd, p;
	struct luo_hugepages base;
	long in_use;
	char *map;

	luo_hugepages_ensure_free(2 * HS_NR, &base);
	in_use = base.total - base.free;
	create_state_file(luo_fd, HS_STATE_SESSION, HS_STATE_TOKEN, 2);
	kept_fd = luo_create_session(luo_fd, HS_KEPT);
	dropped_fd = luo_create_session(luo_fd, HS_DROPPED);
	if (kept_fd < 0 || dropped_fd < 0)
		fail_exit("luo_create_session");

	/* Once preserved, the session holds the file. */
	fd = hs_preserve(kept_fd, "kept", &map);
	munmap(map, HS_SIZE);
	close(fd);
	fd = hs_preserve(dropped_fd, "dropped", &map);
	if (hs_in_use() != in_use + 2 * HS_NR)
		fail_exit("the sessions do not hold both files");

	/*
	 * Closing a session unpreserves its files: the file keeps its bytes,
	 * its layout may change again, and it goes with its last user.
	 */
	close(dropped_fd);
	for (p = 0; p < HS_NR; p++) {
		if (!ht_same(map + p * HT_HPAGE, HT_HPAGE, HS_SEED, p))
			fail_exit("page %d of the unpreserved file changed", p);
	}
	if (hs_in_use() != in_use + 2 * HS_NR)
		fail_exit("the open unpreserved file lost pages");
	if (ftruncate(fd, 0))
		fail_exit("ftruncate of the unpreserved file");
	munmap(map, HS_SIZE);
	close(fd);
	if (hs_in_use() != in_use + HS_NR)
		fail_exit("the pages of the dropped file are still in use");
	ksft_print_msg("[STAGE 1] dropped: the file could shrink, %d pages freed\n",
		       HS_NR);

	close(luo_fd);
	daemonize_and_wait();
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct luo_hugepages m;
	int kept_fd;

	kept_fd = ht_stage_2(luo_fd, state_session_fd, HS_STATE_TOKEN, HS_KEPT);
	if (luo_retrieve_session(luo_fd, HS_DROPPED) != -ENOENT)
		fail_exit("the closed session came back");
	if (hs_in_use() != HS_NR)
		fail_exit("expected the %d pages of the kept file in use", HS_NR);

	/* Finished without a retrieve, the file's pages go to the pool. */
	ht_finish(kept_fd, HS_KEPT);
	luo_hugepages(&m);
	if (m.free != m.total)
		fail_exit("%ld pages still in use after finish",
			  m.total - m.free);
	ksft_print_msg("[STAGE 2] finish without retrieve freed the %d pages\n",
		       HS_NR);

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB SESSIONS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HS_STATE_SESSION, run_stage_1, run_stage_2);
}
