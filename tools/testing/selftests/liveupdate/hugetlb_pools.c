// SPDX-License-Identifier: GPL-2.0-only

/*
 * The free huge pages go along with a live update when userspace asks:
 * a preserved "pool file", the root directory of a hugetlbfs mount, hands
 * the free pages of its page size to the next kernel. Nobody asking means
 * nothing is handed over.
 *
 * Usage: hugetlb_pools [-g] [-F] [-N] [-S] [-s STAGE]
 *
 *   (none)  the 2 MiB pool: stage 1 makes sure it has 16 free pages or
 *           more, mounts hugetlbfs, preserves the mount root (a second
 *           preserve of the same root must fail with EBUSY) and records
 *           the pools. The next kernel, booted with the same hugepages= or
 *           with none (as under vmtest.sh), must have every counter as at
 *           the kexec, per page size and, on a machine of several NUMA
 *           nodes, per node, and gets a file back for each pool file.
 *   -g      the 1 GiB pool too (a pool file, and with -F a file of one
 *           1 GiB page); fails if that pool has no page (hugepages=).
 *   -F      preserve files too: a memfd of 16 pages of 2 MiB (and with -g
 *           one of a 1 GiB page). Their bytes, size, position, seals, PFNs
 *           and nodes must come back; their pages count as in use until
 *           the session is finished, then are free; new hugetlb memfds must
 *           work after that.
 *   -N      no pool file: the free pages stay behind, and the next kernel
 *           must be booted with the same hugepages= to have the same pools
 *           again. Without -F nothing at all is asked for: there must be no
 *           KHO subtree "hugetlb", neither before the kexec nor after it
 *           (read in /sys/kernel/debug/kho, debugfs mounted if needed: the
 *           test fails without it).
 *   -S      surplus pages (implies -F): the file has 12 pages, from a pool
 *           of exactly 8 with nr_overcommit_hugepages=8: 4 are surplus
 *           pages, and stay surplus in the next kernel, which allocates no
 *           more for them; they leave the pool with the file.
 *
 * Otherwise the subtree must be there, outgoing and incoming; without
 * KHO's debugfs the test fails. The options go to
 * stage 1, before -s; stage 2 finds them in the record of stage 1. Stage 1
 * alone serves a rollback, whose next kernel lacks the feature: the
 * harness measures its MemTotal.
 *
 * Needs only /proc and a writable /dev (it mounts sysfs and debugfs), so
 * upstream's runner can run it: vmtest.sh -T hugetlb_pools, in a 1 GiB
 * guest without hugepages= (-F and -S would pass there too).
 */

#define _GNU_SOURCE

#include <stdint.h>

#include "hugetlb_util.h"

#define HLP_STATE_SESSION	"hugetlb_pools_state"
#define HLP_STATE_TOKEN		999
#define HLP_SESSION		"hugetlb-pools"
#define HLP_POOL_TOKEN		1	/* + the page size */
#define HLP_FILE_TOKEN		10	/* + the file */
#define HLP_RECORD_TOKEN	20
#define HLP_AGAIN_TOKEN		30
#define HLP_NR_PAGES		16	/* free 2 MiB pages, at least */
#define HLP_FILE_PAGES		16
#define HLP_MNT			"/dev/hugetlb_pools"	/* + "-<size>" */
#define HLP_DEBUGFS		"/sys/kernel/debug"
#define HLP_KHO			HLP_DEBUGFS "/kho/"
#define HLP_SUBTREE		"hugetlb"
#define HLP_COMPAT		"hugetlb-v3"
#define HLP_MAGIC		0x484c5032	/* "HLP2" */

/* Options of stage 1, handed to stage 2 in the record. */
#define HLP_GIANT		0x1	/* -g */
#define HLP_FILES		0x2	/* -F */
#define HLP_NO_POOLS		0x4	/* -N */
#define HLP_SURPLUS		0x8	/* -S */
#define HLP_SURPLUS_POOL	8
#define HLP_SURPLUS_FILE	12

/* What stage 1 hands to stage 2. */
struct hlp_record {
	uint64_t magic;
	uint32_t opts;
	struct ht_set set;
};

static struct hlp_record hlp_rec;
static unsigned int hlp_opts;

/* ---- pool counters ----------------------------------------------------- */

/*
 * The pools stage 1 needs: @need free 2 MiB pages (the pool grows if it
 * must), with -g a 1 GiB pool of @giant free pages or more; each pool all
 * free, nothing reserved or surplus.
 */
static void hlp_pools_ready(long need, long giant)
{
	struct ht_pools *base = &hlp_rec.set.base;
	struct luo_hugepages m;
	int nodes;

	luo_hugepages_ensure_free(need, &m);
	/* -S: exactly that many pages, for the file to need surplus ones. */
	if ((hlp_opts & HLP_SURPLUS) && m.total != need)
		ht_write_long("/proc/sys/vm/nr_hugepages", need);
	ht_pools_read(base);
	ht_pools_print("stage 1", base);
	ht_pool_ready(base, HT_2M, need);
	if ((hlp_opts & HLP_SURPLUS) && base->all[HT_2M].nr != need)
		fail_exit("-S: the 2M pool must have exactly %ld pages", need);
	if (hlp_opts & HLP_GIANT)
		ht_pool_ready(base, HT_1G, giant);
	nodes = ht_popcount(ht_pools_nodes(base));
	if (nodes > 1)
		ksft_print_msg("%d NUMA nodes: the pools are checked per node too\n",
			       nodes);
}

/* ---- KHO subtree -------------------------------------------------------- */

/*
 * Whether the KHO subtree "hugetlb" is there, outgoing or (@in) incoming:
 * 1 if it is (and says hugetlb-v3), 0 if not, -1 if KHO's debugfs is not.
 */
static int hlp_kho_subtree(int in)
{
	static char buf[1 << 16];
	const char *dir = in ? HLP_KHO "in/sub_fdts" : HLP_KHO "out/sub_fdts";
	size_t len = strlen(HLP_COMPAT) + 1, i;
	ssize_t n, total = 0;
	char path[96];
	int fd;

	if (access(HLP_KHO, F_OK)) {
		ht_mount_sysfs();
		if (mount("debugfs", HLP_DEBUGFS, "debugfs", 0, NULL) &&
		    errno != EBUSY)
			ksft_print_msg("mount debugfs on %s: %s\n", HLP_DEBUGFS,
				       strerror(errno));
	}
	if (access(dir, F_OK))
		return -1;

	snprintf(path, sizeof(path), "%s/" HLP_SUBTREE, dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf + total, sizeof(buf) - total)) > 0)
		total += n;
	close(fd);
	if (total < 8 || (unsigned char)buf[0] != 0xd0 ||
	    (unsigned char)buf[1] != 0x0d || (unsigned char)buf[2] != 0xfe ||
	    (unsigned char)buf[3] != 0xed)
		fail_exit("%s: not an FDT (%zd bytes)", path, total);
	for (i = 0; i + len <= (size_t)total; i++) {
		if (!memcmp(buf + i, HLP_COMPAT, len))
			return 1;
	}
	fail_exit("%s: no \"%s\" in it", path, HLP_COMPAT);
}

/*
 * Check the outgoing or (@in) incoming subtree: there exactly when a file
 * or a pool file asked for it. Without KHO's debugfs (the selftests'
 * config has it) the test fails: it cannot tell.
 */
static void hlp_kho_expect(int in, int seen)
{
	const char *which = in ? "incoming" : "outgoing";
	int want = hlp_rec.set.nr_files || !(hlp_rec.opts & HLP_NO_POOLS);

	if (seen < 0)
		fail_exit("no %s: the %s subtree cannot be looked for (KHO debugfs?)",
			  HLP_KHO, which);
	if (seen != want)
		fail_exit("%s KHO subtree \"%s\": %s, expected %s", which,
			  HLP_SUBTREE, seen ? "there" : "absent",
			  want ? "there" : "none when nothing asked for it");
	ksft_print_msg("%s KHO subtree \"%s\": %s, as expected\n", which,
		       HLP_SUBTREE, seen ? "there, " HLP_COMPAT : "absent");
}

/* ---- the stages --------------------------------------------------------- */

static unsigned int hlp_pools_asked(unsigned int opts)
{
	if (opts & HLP_NO_POOLS)
		return 0;
	return opts & HLP_GIANT ? 1U << HT_2M | 1U << HT_1G : 1U << HT_2M;
}

static void run_stage_1(int luo_fd)
{
	struct ht_set *set = &hlp_rec.set;
	char *map[HT_MAX_FILES];
	int session_fd, fd[HT_MAX_FILES], i, giant;
	unsigned int nr;
	uint64_t seed;

	hlp_rec.magic = HLP_MAGIC;
	hlp_rec.opts = hlp_opts;
	giant = hlp_opts & HLP_GIANT;
	if (hlp_opts & HLP_SURPLUS) {
		hlp_pools_ready(HLP_SURPLUS_POOL, 1);
		ht_write_long("/proc/sys/vm/nr_overcommit_hugepages",
			      HLP_SURPLUS_POOL);
	} else {
		hlp_pools_ready(HLP_NR_PAGES +
				(hlp_opts & HLP_FILES ? HLP_FILE_PAGES : 0), 1);
	}

	session_fd = ht_stage_1(luo_fd, HLP_STATE_SESSION, HLP_STATE_TOKEN,
				HLP_SESSION);

	if (hlp_opts & HLP_FILES) {
		nr = hlp_opts & HLP_SURPLUS ? HLP_SURPLUS_FILE : HLP_FILE_PAGES;
		set->nr_files = giant ? 2 : 1;
		for (i = 0; i < set->nr_files; i++) {
			seed = (uint64_t)getpid() << 32 ^
			       (i + 1) * 0x9e3779b97f4a7c15ULL;
			fd[i] = ht_file_make(&set->file[i], i, i ? HT_1G : HT_2M,
					     i ? 1 : nr, seed, 0, &map[i]);
		}
		ht_set_in_use(set, "files filled");
	}
	/* A pool file per page size asked for; the same root twice is refused. */
	ht_set_pool_files(set, session_fd, HLP_MNT, hlp_pools_asked(hlp_opts),
			  HLP_POOL_TOKEN, HLP_AGAIN_TOKEN);
	if (set->nr_files)
		ht_set_preserve(set, session_fd, HLP_FILE_TOKEN, fd, map);

	hlp_kho_expect(0, hlp_kho_subtree(0));

	ksft_print_msg("[STAGE 1] %d files, pool files: %s\n", set->nr_files,
		       hlp_opts & HLP_NO_POOLS ? "none" : giant ? "2M and 1G" : "2M");
	ht_set_hand_over(set, luo_fd, session_fd, HLP_RECORD_TOKEN, &hlp_rec,
			 sizeof(hlp_rec));
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct ht_set *set = &hlp_rec.set;
	int session_fd, fd[HT_MAX_FILES], kho_in;
	char *map[HT_MAX_FILES];

	session_fd = ht_stage_2(luo_fd, state_session_fd, HLP_STATE_TOKEN,
				HLP_SESSION);
	/* Before anything is finished. */
	kho_in = hlp_kho_subtree(1);
	ht_read_record(session_fd, HLP_RECORD_TOKEN, &hlp_rec, sizeof(hlp_rec),
		       HLP_MAGIC);
	ksft_print_msg("[STAGE 2] options of stage 1:%s%s%s%s\n",
		       hlp_rec.opts & HLP_GIANT ? " -g" : "",
		       hlp_rec.opts & HLP_FILES ? " -F" : "",
		       hlp_rec.opts & HLP_NO_POOLS ? " -N" : "",
		       hlp_rec.opts & HLP_SURPLUS ? " -S" : "");
	hlp_kho_expect(1, kho_in);

	/*
	 * Handed over, or (-N) allocated again for the same hugepages=: the
	 * pools are as at the kexec.
	 */
	ht_set_arrived(set, session_fd, HLP_POOL_TOKEN);

	if (!set->nr_files) {
		ht_finish(session_fd, "data");
		ht_pools_expect(&set->at_kexec, "session finished");
	} else {
		ht_set_retrieve(set, session_fd, HLP_FILE_TOKEN, fd, map);
		ht_set_release(set, session_fd, fd, map,
			       ht_free_sizes(&set->base));
	}

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB POOLS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	/* The options go first; luo_test() takes the rest. -S implies -F. */
	hlp_opts = ht_options(&argc, &argv, "gFNS");
	if (hlp_opts & HLP_SURPLUS)
		hlp_opts |= HLP_FILES;
	return luo_test(argc, argv, HLP_STATE_SESSION, run_stage_1, run_stage_2);
}
