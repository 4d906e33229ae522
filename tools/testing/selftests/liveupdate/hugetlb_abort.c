// SPDX-License-Identifier: GPL-2.0-only

/*
 * Hugetlb memfds and pools across live updates that fail before one goes
 * through.
 *
 * Usage: hugetlb_abort [-g] [-s STAGE]
 *
 * Stage 1 preserves a memfd of HA_2M_PAGES pages of 2 MiB and one of a
 * 1 GiB page in one session, with a pool file (the root of a hugetlbfs
 * mount) for each page size, so that the free pages go along too. It
 * records the bytes, PFNs and NUMA nodes of the pages, and the pool
 * counters of each page size, overall and per node: before the files
 * exist, with them (before preserve and with only LUO holding them), and
 * at the end. A second preserve of the same mount root must fail with
 * EBUSY.
 *
 * Then the live update may fail as often as it likes: the harness
 * (harness/scenarios/hugetlb_abort.scn) loads the next kernel and runs
 * hlu-kexec-fail-nth, which makes the n-th kernel allocation of the kexec
 * path fail for n = 1, 2, ..., checks after each refused kexec that the
 * pool counters and the outgoing KHO subtree are as before, and lets the
 * first attempt that gets through kexec. Stage 2 then finds every file
 * with its size, page size, seals, position, bytes, PFNs and nodes, the
 * pools as they were at the end of stage 1 (per node), the pages in use
 * until the files are closed and their session finished, and new hugetlb
 * memfds that resize and fallocate freely. The scenario also checks that
 * MemTotal lost no more than 16 MiB (harness/tools/hlu-memtotal).
 *
 * The 1 GiB part needs a free 1 GiB page: -g (which the scenario passes)
 * makes its absence a failure; without -g it is skipped, and said so.
 * Run by upstream's runner (vmtest.sh -T hugetlb_abort, booted without
 * hugepages=), the update goes through at once and the 1 GiB part skips.
 *
 * The files, the pool files and their checks are ht_mixed_*() of
 * hugetlb_util.h, shared with hugetlb_numa, which adds a NUMA part.
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HA_STATE_SESSION	"hugetlb_abort_state"
#define HA_SESSION		"hugetlb-abort"
#define HA_MNT			"/dev/hugetlb_abort"
#define HA_2M_PAGES		16
#define HA_MAGIC		0x48414231	/* "HAB1" */

static unsigned int ha_giant_required;

static void run_stage_1(int luo_fd)
{
	static struct ht_mixed rec = { .magic = HA_MAGIC };
	int session_fd, fd[HT_NR_SIZES];
	char *map[HT_NR_SIZES];

	ht_mixed_ready(&rec, HA_2M_PAGES, ha_giant_required);
	session_fd = ht_stage_1(luo_fd, HA_STATE_SESSION, HT_MIXED_STATE_TOKEN,
				HA_SESSION);
	ht_mixed_files(&rec, HA_2M_PAGES, (uint64_t)getpid() << 32 ^ 0xab0, fd,
		       map);
	ksft_print_msg("[STAGE 1] %d files and their pool files go along\n",
		       rec.set.nr_files);
	ksft_print_msg("[STAGE 1] a kexec may now fail any number of times first\n");
	ht_mixed_hand_over(&rec, luo_fd, session_fd, fd, map, HA_MNT);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct ht_mixed rec;

	ht_mixed_stage_2(&rec, luo_fd, state_session_fd, HA_SESSION, HA_MAGIC);
	ksft_print_msg("\n--- HUGETLB ABORT TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	/* -g: the 1 GiB part must run; luo_test() takes the rest. */
	ha_giant_required = ht_options(&argc, &argv, "g");
	return luo_test(argc, argv, HA_STATE_SESSION, run_stage_1, run_stage_2);
}
