// SPDX-License-Identifier: GPL-2.0-only

/*
 * Huge pages of two NUMA nodes across one live update.
 *
 * Usage: hugetlb_numa [-r] [-g] [-s STAGE]
 *
 * Stage 1 interleaves its memory over the NUMA nodes of the hugetlb pools
 * (set_mempolicy(MPOL_INTERLEAVE)) and preserves a memfd of HN_2M_PAGES
 * pages of 2 MiB, whose pages must land on two nodes at least, and one of
 * a 1 GiB page, in one session, with a pool file (the root of a hugetlbfs
 * mount) for each page size, so that the free pages of every node go
 * along too. It records the bytes, PFNs and node of every page, and the
 * pool counters of each page size, overall and per node: before the files
 * exist, with them (before preserve and with only LUO holding them), and
 * at the end. A second preserve of the same mount root must fail with
 * EBUSY. Stage 2 finds every file with its size, page size, seals,
 * position, bytes and PFNs, every page on the node it was on, the pools
 * of every node as they were (a next kernel booted with hugepages=N:X
 * counts the pages handed over on node N), the pages in use until the
 * files are closed and their session finished, and new hugetlb memfds
 * that resize and fallocate freely.
 *
 * It needs two NUMA nodes: with fewer it says so and skips, or fails with
 * -r, which harness/scenarios/hugetlb_numa.scn passes (two nodes,
 * hugepagesz=2M hugepages=0:40,1:56 hugepagesz=1G hugepages=1:2). The
 * 1 GiB part needs a free 1 GiB page: -g makes its absence a failure;
 * without -g it is skipped, and said so. Upstream's runner (vmtest.sh
 * -T hugetlb_numa) boots one node: the test skips there.
 *
 * The files, the pool files and their checks are ht_mixed_*() of
 * hugetlb_util.h, shared with hugetlb_abort, which runs them on any
 * machine.
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HN_STATE_SESSION	"hugetlb_numa_state"
#define HN_SESSION		"hugetlb-numa"
#define HN_MNT			"/dev/hugetlb_numa"
#define HN_2M_PAGES		64
#define HN_MPOL_INTERLEAVE	3
#define HN_MAGIC		0x484e5531	/* "HNU1" */

/* Options of stage 1. */
#define HN_NODES_REQUIRED	0x1	/* -r */
#define HN_GIANT_REQUIRED	0x2	/* -g */

static unsigned int hn_opts;

/* The NUMA nodes that hold pages of the files of @s; printed. */
static unsigned long hn_file_nodes(const struct ht_set *s)
{
	int pages[HT_NR_SIZES][HT_MAX_NODES] = { { 0 } };
	const struct ht_file *f;
	unsigned long mask = 0;
	int i, p, n;

	for (i = 0; i < s->nr_files; i++) {
		f = &s->file[i];
		for (p = 0; p < (int)f->nr_pages; p++) {
			pages[f->size][f->nid[p]]++;
			mask |= 1UL << f->nid[p];
		}
	}
	for (i = 0; i < HT_NR_SIZES; i++) {
		for (n = 0; n < HT_MAX_NODES; n++) {
			if (pages[i][n])
				ksft_print_msg("%d file pages of %s on node%d\n",
					       pages[i][n], ht_sizes[i].label, n);
		}
	}
	return mask;
}

static void run_stage_1(int luo_fd)
{
	static struct ht_mixed rec = { .magic = HN_MAGIC };
	int session_fd, fd[HT_NR_SIZES], nodes;
	char *map[HT_NR_SIZES];
	unsigned long mask;

	ht_pools_read(&rec.set.base);
	mask = ht_pools_nodes(&rec.set.base);
	ht_mixed_ready(&rec, HN_2M_PAGES, hn_opts & HN_GIANT_REQUIRED);

	/* Every huge page the files fault in, node after node. */
	if (syscall(__NR_set_mempolicy, HN_MPOL_INTERLEAVE, &mask,
		    HT_MAX_NODES + 1))
		fail_exit("set_mempolicy(MPOL_INTERLEAVE, %#lx)", mask);
	ksft_print_msg("huge pages interleaved over the nodes of mask %#lx\n",
		       mask);

	session_fd = ht_stage_1(luo_fd, HN_STATE_SESSION, HT_MIXED_STATE_TOKEN,
				HN_SESSION);
	ht_mixed_files(&rec, HN_2M_PAGES, (uint64_t)getpid() << 32 ^ 0x4e0, fd,
		       map);
	nodes = ht_popcount(hn_file_nodes(&rec.set));
	if (nodes < 2)
		fail_exit("the file pages are on %d NUMA node(s), not 2", nodes);
	ksft_print_msg("[STAGE 1] %d files over %d NUMA nodes and their pool files go along\n",
		       rec.set.nr_files, nodes);
	ht_mixed_hand_over(&rec, luo_fd, session_fd, fd, map, HN_MNT);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct ht_mixed rec;

	ht_mixed_stage_2(&rec, luo_fd, state_session_fd, HN_SESSION, HN_MAGIC);
	hn_file_nodes(&rec.set);
	ksft_print_msg("\n--- HUGETLB NUMA TEST PASSED ---\n");
}

/*
 * Whether this test can run here: decided before luo_test(), the same way
 * in both stages, so that a skip in stage 1 is not a failure in stage 2.
 */
static void hn_can_run(void)
{
	struct ht_pools p;
	int nodes;

	ht_pools_read(&p);
	nodes = ht_popcount(ht_pools_nodes(&p));
	if (nodes >= 2)
		return;
	if (hn_opts & HN_NODES_REQUIRED)
		ksft_exit_fail_msg("-r: the hugetlb pools span %d NUMA node(s), 2 required\n",
				   nodes);
	ksft_print_msg("per-node pools and page nodes are not tested (-r fails instead)\n");
	ksft_exit_skip("hugetlb_numa needs 2 NUMA nodes, the hugetlb pools span %d\n",
		       nodes);
}

int main(int argc, char *argv[])
{
	/* -r: 2 NUMA nodes required; -g: the 1 GiB part must run. */
	hn_opts = ht_options(&argc, &argv, "rg");
	hn_can_run();
	return luo_test(argc, argv, HN_STATE_SESSION, run_stage_1, run_stage_2);
}
