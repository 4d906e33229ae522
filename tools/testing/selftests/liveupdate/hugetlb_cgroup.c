// SPDX-License-Identifier: GPL-2.0-only

/*
 * Cgroup charges of preserved hugetlb memfds across one live update.
 *
 * Stage 1 runs in the cgroup v2 group HC_CG (hugetlb and memory
 * controllers, mounted with memory_hugetlb_accounting), fills a memfd of
 * HC_NR pages of 2 MiB, and one of a 1 GiB page when that pool has a free
 * page, through shared mappings, and records hugetlb.<size>.current,
 * hugetlb.<size>.rsvd.current and the "hugetlb" line of memory.stat. The
 * next kernel must charge nothing until a task of HC_CG retrieves the
 * files, charge them then as before, and uncharge them when they are
 * closed and their session finished.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugetlb_util.h"

#define HC_STATE_SESSION	"hugetlb_cgroup_state"
#define HC_STATE_TOKEN		999
#define HC_SESSION		"hugetlb-cgroup"
#define HC_RECORD_TOKEN		3
#define HC_NR			8
#define HC_ROOT			"/sys/fs/cgroup"
#define HC_CG			HC_ROOT "/hugetlb_cgroup"
#define HC_GIANT_FREE \
	"/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
#define HC_POLL_MS		5000
#define HC_MAGIC		0x48434731	/* "HCG1" */

enum { HC_2M, HC_1G, HC_NR_SIZES };

static const char * const hc_size_name[HC_NR_SIZES] = { "2MB", "1GB" };

/* Charges of HC_CG, in bytes. */
struct hc_charges {
	int64_t current[HC_NR_SIZES];	/* hugetlb.<size>.current */
	int64_t rsvd[HC_NR_SIZES];	/* hugetlb.<size>.rsvd.current */
	int64_t memcg;			/* "hugetlb" in memory.stat */
};

/* What stage 1 hands to stage 2. */
struct hc_record {
	uint64_t magic;
	int32_t giant;
	struct hc_charges at_kexec;
};

static void hc_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		fail_exit("write '%s' to %s", val, path);
	close(fd);
}

/* Mount cgroup v2 where needed, make HC_CG and move this task into it. */
static void hc_enter(void)
{
	char pid[16];

	ht_mount_sysfs();
	if (access(HC_ROOT, F_OK))
		ksft_exit_skip("no %s: a kernel without CONFIG_CGROUPS\n", HC_ROOT);
	if (mount("none", HC_ROOT, "cgroup2", 0, "memory_hugetlb_accounting") &&
	    errno != EBUSY)
		fail_exit("mount cgroup2 on " HC_ROOT);
	hc_write(HC_ROOT "/cgroup.subtree_control", "+hugetlb +memory");
	if (mkdir(HC_CG, 0755) && errno != EEXIST)
		fail_exit("mkdir " HC_CG);
	snprintf(pid, sizeof(pid), "%d", getpid());
	hc_write(HC_CG "/cgroup.procs", pid);
}

/* A charge of HC_CG; 0 for a page size the kernel does not have. */
static int64_t hc_charge(const char *file, int h)
{
	char path[128];
	long val;

	snprintf(path, sizeof(path), HC_CG "/hugetlb.%s.%s", hc_size_name[h],
		 file);
	val = ht_read_long(path);
	return val < 0 ? 0 : val;
}

static void hc_read(struct hc_charges *c)
{
	static char buf[8192];
	const char *p;
	ssize_t n;
	int fd, h;

	for (h = 0; h < HC_NR_SIZES; h++) {
		c->current[h] = hc_charge("current", h);
		c->rsvd[h] = hc_charge("rsvd.current", h);
	}
	fd = open(HC_CG "/memory.stat", O_RDONLY);
	if (fd < 0)
		fail_exit("open " HC_CG "/memory.stat");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fail_exit("read " HC_CG "/memory.stat");
	buf[n] = '\0';
	p = strstr(buf, "\nhugetlb ");
	if (!p)
		fail_exit("no hugetlb in memory.stat (memory_hugetlb_accounting?)");
	c->memcg = atol(p + strlen("\nhugetlb "));
}

static void hc_print(const char *what, const struct hc_charges *c)
{
	ksft_print_msg("%s: 2MB %lld rsvd %lld, 1GB %lld rsvd %lld, memcg %lld\n",
		       what, (long long)c->current[HC_2M],
		       (long long)c->rsvd[HC_2M], (long long)c->current[HC_1G],
		       (long long)c->rsvd[HC_1G], (long long)c->memcg);
}

/* Wait until the charges are @exp (an uncharge may be deferred). */
static void hc_expect(const struct hc_charges *exp, const char *what)
{
	struct hc_charges got;
	int waited;

	for (waited = 0; ; waited += 100) {
		hc_read(&got);
		if (!memcmp(&got, exp, sizeof(got)) || waited >= HC_POLL_MS)
			break;
		usleep(100 * 1000);
	}
	hc_print(what, &got);
	if (memcmp(&got, exp, sizeof(got))) {
		hc_print("expected", exp);
		fail_exit("%s: other charges", what);
	}
}

static void run_stage_1(int luo_fd)
{
	struct hc_record rec = { .magic = HC_MAGIC };
	struct hc_charges exp = { 0 };
	struct luo_hugepages m;
	int session_fd, fd;
	char *map;

	hc_enter();
	luo_hugepages_ensure_free(HC_NR, &m);
	rec.giant = ht_read_long(HC_GIANT_FREE) >= 1;

	session_fd = ht_stage_1(luo_fd, HC_STATE_SESSION, HC_STATE_TOKEN,
				HC_SESSION);

	fd = ht_memfd("cgroup_2m", HC_NR * HT_HPAGE, HT_MFD_HUGE_2MB);
	map = ht_map(fd, HC_NR * HT_HPAGE, PROT_READ | PROT_WRITE, 0);
	memset(map, 1, HC_NR * HT_HPAGE);
	if (luo_session_preserve_fd(session_fd, fd, HC_2M + 1))
		fail_exit("preserve the 2 MiB memfd");
	exp.current[HC_2M] = HC_NR * HT_HPAGE;
	exp.rsvd[HC_2M] = HC_NR * HT_HPAGE;
	exp.memcg = HC_NR * HT_HPAGE;

	if (rec.giant) {
		fd = ht_memfd("cgroup_1g", HT_GPAGE, HT_MFD_HUGE_1GB);
		map = ht_map(fd, HT_GPAGE, PROT_READ | PROT_WRITE, 0);
		*map = 1;
		if (luo_session_preserve_fd(session_fd, fd, HC_1G + 1))
			fail_exit("preserve the 1 GiB memfd");
		exp.current[HC_1G] = HT_GPAGE;
		exp.rsvd[HC_1G] = HT_GPAGE;
		exp.memcg += HT_GPAGE;
	}
	hc_expect(&exp, "[STAGE 1] at kexec");
	rec.at_kexec = exp;
	ht_save_record(session_fd, HC_RECORD_TOKEN, &rec, sizeof(rec));

	close(luo_fd);
	daemonize_and_wait();
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct hc_charges none = { 0 };
	int session_fd, fd[HC_NR_SIZES], h;
	struct hc_record rec;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HC_STATE_TOKEN,
				HC_SESSION);
	hc_enter();
	hc_expect(&none, "[STAGE 2] before retrieve");
	ht_read_record(session_fd, HC_RECORD_TOKEN, &rec, sizeof(rec), HC_MAGIC);

	for (h = 0; h < HC_NR_SIZES; h++) {
		fd[h] = -1;
		if (h == HC_1G && !rec.giant)
			continue;
		fd[h] = luo_session_retrieve_fd(session_fd, h + 1);
		if (fd[h] < 0)
			fail_exit("retrieve the %s memfd", hc_size_name[h]);
	}
	hc_expect(&rec.at_kexec, "[STAGE 2] retrieved");

	for (h = 0; h < HC_NR_SIZES; h++) {
		if (fd[h] >= 0)
			close(fd[h]);
	}
	ht_finish(session_fd, "data");
	hc_expect(&none, "[STAGE 2] closed and finished");

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB CGROUP TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HC_STATE_SESSION, run_stage_1, run_stage_2);
}
