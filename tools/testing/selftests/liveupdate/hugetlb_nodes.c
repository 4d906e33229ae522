// SPDX-License-Identifier: GPL-2.0-only

/*
 * A next kernel whose NUMA nodes or per-node hugepages= differ from the
 * kernel that handed the pages over: the recorded nodes are only hints.
 *
 * Usage: hugetlb_nodes -o|-p [-s STAGE]
 *
 * -o (other nodes): stage 1, on two nodes, interleaves a memfd of HNO_PAGES
 * pages of 2 MiB over both and preserves it with the 2 MiB pool file, so
 * that the free pages of both nodes go along. The next kernel boots with
 * numa=off (one node). Stage 2 finds the file whole (size, bytes, PFNs),
 * its pages and every free page on the one node there is, and the pools
 * as at the kexec overall: no page given away for being off its node.
 *
 * -p (per-node hugepages=): stage 1, on two nodes, makes the 2 MiB pool
 * HNP_PAGES pages on node 0 and none on node 1, and preserves a memfd of
 * those pages, without the pool file. The next kernel boots with
 * hugepages=0:HNP_ASK,1:HNP_ASK. Stage 2 finds the file whole (size, bytes,
 * PFNs, nodes), node 0 with its HNP_PAGES pages (more than it asks for),
 * node 1 with HNP_ASK, and the global count their sum.
 *
 * Both need two nodes in stage 1 and the next kernel's command line set by
 * the scenario (harness/scenarios/hugetlb_nodes_*.scn), and the option in
 * both stages. Without one, as under vmtest.sh, the test skips.
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HNS_STATE_SESSION	"hugetlb_nodes_state"
#define HNS_STATE_TOKEN		999
#define HNS_SESSION		"hugetlb-nodes"
#define HNS_FILE_TOKEN		1
#define HNS_POOL_TOKEN		10
#define HNS_RECORD_TOKEN	20
#define HNS_MNT			"/dev/hugetlb_nodes"
#define HNS_MAGIC		0x484e4431	/* "HND1" */
#define HNO_PAGES		8
#define HNP_PAGES		4
#define HNP_ASK			2
#define HNS_MPOL_BIND		2
#define HNS_MPOL_INTERLEAVE	3
#define HNS_NODE_NR(n)		HT_NODE_SYSFS "/node" #n \
				"/hugepages/hugepages-2048kB/nr_hugepages"

#define HNS_OTHER_NODES		0x1	/* -o */
#define HNS_PER_NODE		0x2	/* -p */

/* What stage 1 hands to stage 2. */
struct hns_record {
	uint64_t magic;
	uint32_t opts;
	struct ht_set set;
};

static unsigned int hns_opts;

static void hns_mempolicy(int mode, unsigned long mask)
{
	if (syscall(__NR_set_mempolicy, mode, &mask, 8 * sizeof(mask)))
		fail_exit("set_mempolicy(%d, %#lx)", mode, mask);
}

static void run_stage_1(int luo_fd)
{
	static struct hns_record rec = { .magic = HNS_MAGIC };
	struct ht_set *set = &rec.set;
	struct ht_file *f = &set->file[0];
	int session_fd, fd, p, n;
	unsigned int nr;
	char *map;

	rec.opts = hns_opts;
	ht_pools_read(&set->base);
	if (ht_popcount(ht_pools_nodes(&set->base)) < 2)
		fail_exit("needs two NUMA nodes, has %d",
			  ht_popcount(ht_pools_nodes(&set->base)));

	if (hns_opts & HNS_PER_NODE) {
		ht_write_long(HNS_NODE_NR(1), 0);
		ht_write_long(HNS_NODE_NR(0), HNP_PAGES);
		ht_pools_read(&set->base);
		if (set->base.node[HT_2M][0].free != HNP_PAGES ||
		    set->base.all[HT_2M].nr != HNP_PAGES)
			fail_exit("no pool of %d pages on node 0 only", HNP_PAGES);
		hns_mempolicy(HNS_MPOL_BIND, 1UL);
		nr = HNP_PAGES;
	} else {
		ht_pool_ready(&set->base, HT_2M, 2 * HNO_PAGES);
		hns_mempolicy(HNS_MPOL_INTERLEAVE, 3UL);
		nr = HNO_PAGES;
	}

	session_fd = ht_stage_1(luo_fd, HNS_STATE_SESSION, HNS_STATE_TOKEN,
				HNS_SESSION);
	set->nr_files = 1;
	fd = ht_file_make(f, 0, HT_2M, nr, (uint64_t)getpid() << 24, 0, &map);
	for (p = 0, n = 0; p < (int)nr; p++)
		n += f->nid[p] == 1;
	if ((hns_opts & HNS_PER_NODE) ? n : !n || n == (int)nr)
		fail_exit("%d of %u file pages on node 1", n, nr);
	ksft_print_msg("%d of %u file pages on node 1\n", n, nr);
	ht_set_in_use(set, "filled");
	ht_set_preserve(set, session_fd, HNS_FILE_TOKEN, &fd, &map);
	if (hns_opts & HNS_OTHER_NODES)
		ht_set_pool_files(set, session_fd, HNS_MNT, 1U << HT_2M,
				  HNS_POOL_TOKEN, -1);
	ksft_print_msg("[STAGE 1] the file preserved%s\n",
		       set->pool_mask ? ", and the 2 MiB pool file" : "");
	ht_set_hand_over(set, luo_fd, session_fd, HNS_RECORD_TOKEN, &rec,
			 sizeof(rec));
}

/* @p with every node's pages of every size counted on node 0. */
static void hns_one_node(struct ht_pools *p)
{
	int h, n;

	for (h = 0; h < HT_NR_SIZES; h++) {
		for (n = 1; n < HT_MAX_NODES; n++) {
			p->node_present[h][n] = 0;
			memset(&p->node[h][n], 0, sizeof(p->node[h][n]));
		}
		p->node[h][0] = p->all[h];
		p->node[h][0].resv = -1;	/* not per node */
		p->node_present[h][0] = p->present[h];
	}
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hns_record rec;
	struct ht_set *set = &rec.set;
	struct ht_file *f = &set->file[0];
	struct ht_pools exp;
	int session_fd, fd;
	unsigned int p;
	char *map;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HNS_STATE_TOKEN,
				HNS_SESSION);
	ht_read_record(session_fd, HNS_RECORD_TOKEN, &rec, sizeof(rec),
		       HNS_MAGIC);

	if (rec.opts & HNS_OTHER_NODES) {
		/* One node now: every page counts on it. */
		hns_one_node(&set->at_kexec);
		hns_one_node(&set->base);
		for (p = 0; p < f->nr_pages; p++)
			f->nid[p] = 0;
		ht_set_arrived(set, session_fd, HNS_POOL_TOKEN);
		ht_set_retrieve(set, session_fd, HNS_FILE_TOKEN, &fd, &map);
		ht_set_release(set, session_fd, &fd, &map, 1U << HT_2M);
	} else {
		/*
		 * Node 0 keeps the file's pages, more than it asks for; node
		 * 1 gets what it asks for, free; the global count adds up.
		 */
		exp = set->at_kexec;
		exp.node[HT_2M][0].nr = HNP_PAGES;
		exp.node[HT_2M][0].free = 0;
		exp.node[HT_2M][1].nr = HNP_ASK;
		exp.node[HT_2M][1].free = HNP_ASK;
		exp.all[HT_2M].nr = HNP_PAGES + HNP_ASK;
		exp.all[HT_2M].free = HNP_ASK;
		ht_pools_expect(&exp, "hugepages=0:2,1:2: each node has what it asks for at least");
		fd = luo_session_retrieve_fd(session_fd, HNS_FILE_TOKEN);
		if (fd < 0)
			fail_exit("retrieve the file");
		map = ht_file_check(fd, f, 0);
		munmap(map, ht_file_len(f));
		close(fd);
		ht_finish(session_fd, "data");
		exp.node[HT_2M][0].free = HNP_PAGES;
		exp.all[HT_2M].free = HNP_PAGES + HNP_ASK;
		ht_pools_expect(&exp, "closed and finished: the file's pages free on node 0");
	}
	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB NODES TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	/* In both stages, so that a skip in stage 1 is not a failure in 2. */
	hns_opts = ht_options(&argc, &argv, "op");
	if (ht_popcount(hns_opts) != 1)
		ksft_exit_skip("hugetlb_nodes needs -o or -p in both stages, %s\n",
			       "and the next kernel's command line of a scenario");
	return luo_test(argc, argv, HNS_STATE_SESSION, run_stage_1, run_stage_2);
}
