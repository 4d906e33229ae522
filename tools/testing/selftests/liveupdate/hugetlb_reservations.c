// SPDX-License-Identifier: GPL-2.0-only

/*
 * Holes and reservations of hugetlb memfds across one live update.
 *
 * Two sparse memfds of HR_SPAN pages of 2 MiB, a page in every HR_STRIDE
 * written: "resv" mapped MAP_SHARED, which reserves the whole file, and
 * "noresv" mapped MAP_SHARED | MAP_NORESERVE, which reserves nothing. The
 * last page of resv is written after preserve (a hole may still be filled
 * until the freeze). In the next kernel the holes must still be holes (read
 * as zeros, allocate nothing), HugePages_Rsvd must be what resv still had
 * reserved, a fault in each hole of resv must be served from that
 * reservation and one in each hole of noresv from the free pool.
 *
 * The next kernel reserves at boot when its pool has the pages, and at
 * retrieve otherwise (booted without hugepages=, as under vmtest.sh; the
 * test grows the pool before it retrieves).
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hugetlb_util.h"

#define HR_STATE_SESSION	"hugetlb_reservations_state"
#define HR_STATE_TOKEN		999
#define HR_SESSION		"hugetlb-reservations"
#define HR_RESV_TOKEN		1
#define HR_NORESV_TOKEN		2
#define HR_RECORD_TOKEN		3
#define HR_SPAN			16
#define HR_STRIDE		4
#define HR_PRESENT		(HR_SPAN / HR_STRIDE)
#define HR_HOLES		(HR_SPAN - HR_PRESENT)
#define HR_SIZE			(HR_SPAN * HT_HPAGE)
#define HR_MAGIC		0x48525331	/* "HRS1" */

enum { HR_RESV, HR_NORESV, HR_NR_FILES };

/* What stage 1 hands to stage 2. */
struct hr_record {
	uint64_t magic;
	uint64_t seed;
	uint64_t pfn[HR_NR_FILES][HR_PRESENT];
};

static char *hr_page(char *map, int idx)
{
	return map + (unsigned long)idx * HT_HPAGE;
}

/* The counters must be @in_use pages in use and @rsvd reserved over @base. */
static void hr_expect(const struct luo_hugepages *base, long in_use,
		      long rsvd, const char *when)
{
	struct luo_hugepages m;

	luo_hugepages(&m);
	if (m.total - m.free != base->total - base->free + in_use ||
	    m.rsvd != base->rsvd + rsvd)
		fail_exit("%s: expected %ld more pages in use and %ld more reserved",
			  when, in_use, rsvd);
	ksft_print_msg("%s: %ld in use, %ld reserved, as expected\n", when,
		       in_use, rsvd);
}

static void run_stage_1(int luo_fd)
{
	struct hr_record rec = { .magic = HR_MAGIC };
	struct luo_hugepages base;
	int session_fd, fd[HR_NR_FILES], f, p;
	char *map[HR_NR_FILES];

	luo_hugepages_ensure_free(2 * HR_SPAN, &base);

	session_fd = ht_stage_1(luo_fd, HR_STATE_SESSION, HR_STATE_TOKEN,
				HR_SESSION);

	fd[HR_RESV] = ht_memfd("resv", HR_SIZE, HT_MFD_HUGE_2MB);
	fd[HR_NORESV] = ht_memfd("noresv", HR_SIZE, HT_MFD_HUGE_2MB);
	map[HR_RESV] = ht_map(fd[HR_RESV], HR_SIZE, PROT_READ | PROT_WRITE, 0);
	map[HR_NORESV] = ht_map(fd[HR_NORESV], HR_SIZE,
				PROT_READ | PROT_WRITE, MAP_NORESERVE);
	hr_expect(&base, 0, HR_SPAN, "mapped");

	/* Every page of noresv, all but the last of resv. */
	rec.seed = (uint64_t)getpid() << 24 ^ (uintptr_t)map[HR_RESV];
	for (f = 0; f < HR_NR_FILES; f++) {
		for (p = 0; p < HR_PRESENT; p++) {
			if (f == HR_RESV && p == HR_PRESENT - 1)
				continue;
			ht_fill(hr_page(map[f], p * HR_STRIDE), HT_HPAGE,
				rec.seed + f, p);
		}
	}
	hr_expect(&base, 2 * HR_PRESENT - 1, HR_SPAN - HR_PRESENT + 1,
		  "written");

	if (luo_session_preserve_fd(session_fd, fd[HR_RESV], HR_RESV_TOKEN) ||
	    luo_session_preserve_fd(session_fd, fd[HR_NORESV], HR_NORESV_TOKEN))
		fail_exit("preserve the memfds");
	hr_expect(&base, 2 * HR_PRESENT - 1, HR_SPAN - HR_PRESENT + 1,
		  "preserved");

	/* Until the freeze, a fault may still fill a hole. */
	p = HR_PRESENT - 1;
	ht_fill(hr_page(map[HR_RESV], p * HR_STRIDE), HT_HPAGE,
		rec.seed + HR_RESV, p);
	hr_expect(&base, 2 * HR_PRESENT, HR_HOLES, "hole filled after preserve");

	for (f = 0; f < HR_NR_FILES; f++) {
		for (p = 0; p < HR_PRESENT; p++)
			rec.pfn[f][p] = ht_pfn(hr_page(map[f], p * HR_STRIDE));
	}
	ht_save_record(session_fd, HR_RECORD_TOKEN, &rec, sizeof(rec));

	ksft_print_msg("[STAGE 1] 2 files of %d pages, %d present each, %d reserved\n",
		       HR_SPAN, HR_PRESENT, HR_HOLES);
	close(luo_fd);
	daemonize_and_wait();
}

/* A hole reads as zeros through read(), which allocates nothing. */
static void hr_check_holes(int fd, const char *name)
{
	static uint64_t buf[HT_HPAGE / sizeof(uint64_t)];
	unsigned long w;
	int idx;

	for (idx = 0; idx < HR_SPAN; idx++) {
		if (!(idx % HR_STRIDE))
			continue;
		memset(buf, 0xa5, sizeof(buf));
		if (lseek(fd, (off_t)idx * HT_HPAGE, SEEK_SET) < 0 ||
		    read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			fail_exit("%s: read hole %d", name, idx);
		for (w = 0; w < HT_HPAGE / sizeof(uint64_t); w++) {
			if (buf[w])
				fail_exit("%s: hole %d does not read as zeros",
					  name, idx);
		}
	}
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct luo_hugepages zero = { 0 }, m;
	int session_fd, fd[HR_NR_FILES], f, p;
	char *map[HR_NR_FILES];
	struct hr_record rec;

	session_fd = ht_stage_2(luo_fd, state_session_fd, HR_STATE_TOKEN,
				HR_SESSION);
	ht_read_record(session_fd, HR_RECORD_TOKEN, &rec, sizeof(rec), HR_MAGIC);

	/* Boot reserved the holes of resv if its pool had the pages. */
	luo_hugepages(&m);
	if (m.total - m.free != 2 * HR_PRESENT)
		fail_exit("expected the %d present pages in use",
			  2 * HR_PRESENT);
	if (m.free >= HR_HOLES) {
		hr_expect(&zero, 2 * HR_PRESENT, HR_HOLES, "at boot");
	} else {
		if (m.rsvd)
			fail_exit("a pool of %ld free pages reserved %ld",
				  m.free, m.rsvd);
		ksft_print_msg("the pool had no room for the reservation at boot\n");
	}

	/* Room for the reservation and for faults in the holes of noresv. */
	luo_hugepages_ensure_free(2 * HR_HOLES, &m);
	fd[HR_RESV] = luo_session_retrieve_fd(session_fd, HR_RESV_TOKEN);
	fd[HR_NORESV] = luo_session_retrieve_fd(session_fd, HR_NORESV_TOKEN);
	if (fd[HR_RESV] < 0 || fd[HR_NORESV] < 0)
		fail_exit("retrieve the memfds");
	hr_expect(&zero, 2 * HR_PRESENT, HR_HOLES, "retrieved");

	/* A shared mapping of resv finds its holes reserved already. */
	map[HR_RESV] = ht_map(fd[HR_RESV], HR_SIZE, PROT_READ | PROT_WRITE, 0);
	map[HR_NORESV] = ht_map(fd[HR_NORESV], HR_SIZE,
				PROT_READ | PROT_WRITE, MAP_NORESERVE);
	for (f = 0; f < HR_NR_FILES; f++) {
		for (p = 0; p < HR_PRESENT; p++) {
			char *page = hr_page(map[f], p * HR_STRIDE);

			if (!ht_same(page, HT_HPAGE, rec.seed + f, p))
				fail_exit("file %d page %d differs", f, p);
			if (ht_pfn(page) != rec.pfn[f][p])
				fail_exit("file %d page %d moved", f, p);
		}
		hr_check_holes(fd[f], f == HR_RESV ? "resv" : "noresv");
	}
	hr_expect(&zero, 2 * HR_PRESENT, HR_HOLES, "same pages, holes are holes");

	/* Every hole of resv from its reservation, of noresv from the pool. */
	for (f = 0; f < HR_NR_FILES; f++) {
		for (p = 0; p < HR_SPAN; p++) {
			if (p % HR_STRIDE)
				*hr_page(map[f], p) = 1;
		}
		hr_expect(&zero, 2 * HR_PRESENT + (f + 1) * HR_HOLES, 0,
			  f == HR_RESV ? "holes of resv filled" :
					 "holes of noresv filled");
	}

	for (f = 0; f < HR_NR_FILES; f++) {
		munmap(map[f], HR_SIZE);
		close(fd[f]);
	}
	ht_finish(session_fd, "data");
	luo_hugepages(&m);
	if (m.free != m.total || m.rsvd)
		fail_exit("%ld pages in use, %ld reserved after finish",
			  m.total - m.free, m.rsvd);

	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB RESERVATIONS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HR_STATE_SESSION, run_stage_1, run_stage_2);
}
