// SPDX-License-Identifier: GPL-2.0-only

/*
 * A seeded random live update: what preserve accepted comes back bit-exact,
 * and what it refused was refused before the kexec.
 *
 * Usage: HLU_FUZZ_SEED=<seed> hugetlb_fuzz [-s STAGE]   (seed 1 without it)
 *
 * Stage 1 draws, from the seed alone, up to HZ_MAX_FILES 2 MiB-page memfds
 * in up to HZ_MAX_SESSIONS sessions: their size, which pages are there and
 * which are holes, whether the mapping that writes them reserves
 * (MAP_NORESERVE or not), a read-only shared mapping past the end, seals,
 * a size fallocate() left between two huge pages, and the pool file. It
 * writes the pages, preserves the files, then writes again: into pages
 * already there, and into holes (a hole filled before the freeze goes
 * along). Against a preserved file it tries what must fail with EPERM
 * (ftruncate, fallocate, punching a hole, a mapping past its end) and
 * checks that nothing changed. One session of files may be closed again,
 * which unpreserves them. It keeps what the next kernel must show: for
 * every page of every file, whether it is there and the generation of
 * what was written to it last.
 *
 * Stage 2 retrieves every file that stayed preserved: its size and seals,
 * every page that was there with the bytes of its last generation, every
 * hole still a hole (read as zeros, nothing allocated). The pages in use
 * are exactly the files' pages, and once the files are closed and their
 * sessions finished every huge page is free again.
 *
 * It prints its seed and what it drew: a failure reproduces from the seed
 * alone (harness/scenarios/hugetlb_fuzz_*.scn, make fuzz SEED=... N=...).
 * Runs on one NUMA node.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>

#include "hugetlb_util.h"

#define HZ_STATE_SESSION	"hugetlb_fuzz_state"
#define HZ_STATE_TOKEN		999
#define HZ_SESSION		"hugetlb-fuzz-%d"
#define HZ_RECORD_TOKEN		100
#define HZ_POOL_TOKEN		200
#define HZ_MNT			"/dev/hugetlb_fuzz"
#define HZ_MAX_FILES		6
#define HZ_MAX_SESSIONS		3
#define HZ_MAX_PAGES		8
#define HZ_NEED_PAGES		(HZ_MAX_FILES * (HZ_MAX_PAGES + 2) + 2)
#define HZ_MAGIC		0x485a5a31	/* "HZZ1" */

/* What the next kernel must show of one file. */
struct hz_file {
	int32_t session;	/* -1: not preserved */
	uint32_t nr_pages;	/* its size in pages */
	uint32_t seals;
	uint32_t present;	/* bit p: page p is there */
	uint32_t gen[HZ_MAX_PAGES];	/* of the last write to page p */
};

/* What stage 1 hands to stage 2. */
struct hz_record {
	uint64_t magic;
	uint64_t seed;
	int32_t nr_files;
	int32_t nr_sessions;
	int32_t closed;		/* the session closed again, or -1 */
	int32_t pool_file;
	struct hz_file file[HZ_MAX_FILES];
};

static uint64_t hz_state;

/* xorshift64*: the one source of every draw. */
static uint64_t hz_rand(void)
{
	hz_state ^= hz_state >> 12;
	hz_state ^= hz_state << 25;
	hz_state ^= hz_state >> 27;
	return hz_state * 0x2545f4914f6cdd1dULL;
}

/* A draw in [0, @n). */
static unsigned int hz_below(unsigned int n)
{
	return (hz_rand() >> 33) % n;
}

/* The seed of the bytes of page @p of file @i, generation @gen. */
static uint64_t hz_seed(const struct hz_record *r, int i, int p, uint32_t gen)
{
	return r->seed * 0x9e3779b97f4a7c15ULL + ((uint64_t)i << 48) +
	       ((uint64_t)p << 32) + gen;
}

/* Write page @p of file @i through @map: a new generation of it. */
static void hz_write(struct hz_record *r, int i, char *map, int p)
{
	struct hz_file *f = &r->file[i];

	f->gen[p]++;
	ht_fill(map + (unsigned long)p * HT_HPAGE, HT_HPAGE,
		hz_seed(r, i, p, f->gen[p]), p);
	f->present |= 1U << p;
}

/* @what on preserved file @i must fail with EPERM. */
static void hz_eperm(int i, const char *what, long ret)
{
	if (ret != -1 || errno != EPERM)
		fail_exit("file %d: %s on a preserved file: %ld, errno %d, not EPERM",
			  i, what, ret, errno);
}

/* Everything that must not change a preserved file fails with EPERM. */
static void hz_refused(int i, int fd, unsigned long len)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	struct stat st;
	void *m;

	switch (hz_below(4)) {
	case 0:
		hz_eperm(i, "ftruncate", ftruncate(fd, len + HT_HPAGE));
		break;
	case 1:
		hz_eperm(i, "fallocate", ht_fallocate(fd, 0, 0, len + HT_HPAGE));
		break;
	case 2:
		hz_eperm(i, "punch hole", ht_fallocate(fd, punch, 0, HT_HPAGE));
		break;
	default:
		m = mmap(NULL, len + HT_HPAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		hz_eperm(i, "mmap past the end", m == MAP_FAILED ? -1 : 0);
	}
	if (fstat(fd, &st) || st.st_size != (off_t)len)
		fail_exit("file %d: its size changed", i);
}

static void run_stage_1(int luo_fd)
{
	static struct hz_record rec = { .magic = HZ_MAGIC };
	int session[HZ_MAX_SESSIONS], fd[HZ_MAX_FILES], i, p, s, sealable;
	char *map[HZ_MAX_FILES], *past;
	struct luo_hugepages m;
	unsigned long len;
	struct ht_pools base;
	const char *seed = getenv("HLU_FUZZ_SEED");

	rec.seed = seed ? strtoull(seed, NULL, 0) : 1;
	hz_state = rec.seed * 0x9e3779b97f4a7c15ULL | 1;
	luo_hugepages_ensure_free(HZ_NEED_PAGES, &m);
	ht_pools_read(&base);
	ht_pool_ready(&base, HT_2M, HZ_NEED_PAGES);
	if (ht_popcount(ht_pools_nodes(&base)) > 1)
		fail_exit("runs on one NUMA node only");

	rec.nr_files = 1 + hz_below(HZ_MAX_FILES);
	rec.nr_sessions = 1 + hz_below(HZ_MAX_SESSIONS);
	rec.pool_file = hz_below(2);
	rec.closed = rec.nr_sessions > 1 && !hz_below(3) ?
		     (int)hz_below(rec.nr_sessions) : -1;
	ksft_print_msg("seed %llu: %d files in %d sessions, pool file %s, session closed %d\n",
		       (unsigned long long)rec.seed, rec.nr_files,
		       rec.nr_sessions, rec.pool_file ? "yes" : "no",
		       rec.closed);

	create_state_file(luo_fd, HZ_STATE_SESSION, HZ_STATE_TOKEN, 2);
	for (s = 0; s < rec.nr_sessions; s++) {
		char name[32];

		snprintf(name, sizeof(name), HZ_SESSION, s);
		session[s] = luo_create_session(luo_fd, name);
		if (session[s] < 0)
			fail_exit("create session %s", name);
	}

	/* A file fallocate() left between two huge pages is refused. */
	if (!hz_below(4)) {
		int odd = ht_memfd("hugetlb_fuzz_odd", 0, HT_MFD_HUGE_2MB);
		int logged = ht_kmsg_ours();

		if (ht_fallocate(odd, 0, 0, HT_HPAGE * (1 + hz_below(3)) +
				 HT_HPAGE / 2))
			fail_exit("fallocate to an odd size");
		if (luo_session_preserve_fd(session[0], odd, 90) != -EINVAL)
			fail_exit("a file of an odd size was not refused");
		if (ht_kmsg_ours() != logged + 1)
			fail_exit("a file of an odd size: not one log line");
		ksft_print_msg("a file of an odd size: refused with EINVAL and one log line\n");
		close(odd);
	}

	for (i = 0; i < rec.nr_files; i++) {
		struct hz_file *f = &rec.file[i];
		int noresv = hz_below(2);

		f->session = hz_below(rec.nr_sessions);
		f->nr_pages = 1 + hz_below(HZ_MAX_PAGES);
		len = f->nr_pages * HT_HPAGE;
		sealable = hz_below(2);
		fd[i] = ht_memfd("hugetlb_fuzz", len, HT_MFD_HUGE_2MB |
				 (sealable ? MFD_ALLOW_SEALING : 0));
		map[i] = ht_map(fd[i], len, PROT_READ | PROT_WRITE,
				noresv ? MAP_NORESERVE : 0);
		for (p = 0; p < (int)f->nr_pages; p++) {
			if (hz_below(3))
				hz_write(&rec, i, map[i], p);
		}
		/* A read-only mapping past the end reserves pages there. */
		past = hz_below(3) ? NULL :
		       ht_map(fd[i], len + 2 * HT_HPAGE, PROT_READ, 0);
		if (past)
			munmap(past, len + 2 * HT_HPAGE);
		if (sealable && hz_below(2)) {
			f->seals = F_SEAL_SHRINK | F_SEAL_GROW;
			if (ht_fcntl(fd[i], F_ADD_SEALS, f->seals))
				fail_exit("file %d: F_ADD_SEALS", i);
		}
		f->seals = ht_fcntl(fd[i], F_GET_SEALS, 0);
		ksft_print_msg("file %d: %u pages, there %#x, %s, %s, seals %#x, session %d\n",
			       i, f->nr_pages, f->present,
			       noresv ? "MAP_NORESERVE" : "reserved",
			       past ? "mapped past its end" : "mapped inside",
			       f->seals, f->session);
		if (luo_session_preserve_fd(session[f->session], fd[i], i + 1))
			fail_exit("preserve file %d", i);
	}
	if (rec.pool_file)
		ht_pool_file_preserve(session[0], HZ_MNT, HT_2M, HZ_POOL_TOKEN,
				      -1);

	/* After preserve: new generations, holes filled, refusals. */
	for (i = 0; i < rec.nr_files; i++) {
		struct hz_file *f = &rec.file[i];

		len = f->nr_pages * HT_HPAGE;
		for (p = 0; p < (int)f->nr_pages; p++) {
			if (!hz_below(3))
				hz_write(&rec, i, map[i], p);
		}
		hz_refused(i, fd[i], len);
		munmap(map[i], len);
		close(fd[i]);
	}

	if (rec.closed >= 0) {
		close(session[rec.closed]);
		/* Session 0 holds the pool file. */
		if (!rec.closed)
			rec.pool_file = 0;
		for (i = 0; i < rec.nr_files; i++) {
			if (rec.file[i].session == rec.closed)
				rec.file[i].session = -1;
		}
		ksft_print_msg("session %d closed: its files unpreserved\n",
			       rec.closed);
	}
	for (i = 0; i < rec.nr_files; i++)
		ksft_print_msg("file %d: pages there %#x, session %d\n", i,
			       rec.file[i].present, rec.file[i].session);

	/* In the first session that stays: stage 2 looks there. */
	ht_save_record(session[rec.closed ? 0 : 1], HZ_RECORD_TOKEN, &rec,
		       sizeof(rec));
	close(luo_fd);
	daemonize_and_wait();
}

/* File @i, retrieved as @fd: size, seals, pages, holes, bytes. */
static void hz_check(const struct hz_record *r, int i, int fd)
{
	const struct hz_file *f = &r->file[i];
	unsigned long len = f->nr_pages * HT_HPAGE;
	uint64_t word;
	struct stat st;
	char *map;
	int p;

	if (fstat(fd, &st) || st.st_size != (off_t)len)
		fail_exit("file %d: size %lld, not %lu", i,
			  (long long)st.st_size, len);
	if (ht_fcntl(fd, F_GET_SEALS, 0) != (long)f->seals)
		fail_exit("file %d: seals differ", i);
	/* A hole reads as zeros without being filled: read(), no mapping. */
	for (p = 0; p < (int)f->nr_pages; p++) {
		if (f->present & (1U << p))
			continue;
		if (syscall(__NR_pread64, fd, &word, sizeof(word),
			    (off_t)p * HT_HPAGE) != sizeof(word) || word)
			fail_exit("file %d: hole %d is not a hole", i, p);
	}
	map = ht_map(fd, len, PROT_READ, 0);
	for (p = 0; p < (int)f->nr_pages; p++) {
		if (!(f->present & (1U << p)))
			continue;
		if (!ht_same(map + (unsigned long)p * HT_HPAGE, HT_HPAGE,
			     hz_seed(r, i, p, f->gen[p]), p))
			fail_exit("file %d: page %d is not generation %u", i, p,
				  f->gen[p]);
	}
	munmap(map, len);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	static struct hz_record rec;
	int session[HZ_MAX_SESSIONS], fd[HZ_MAX_FILES], i, s, stage;
	struct ht_pools got;
	long used = 0;

	restore_and_read_stage(state_session_fd, HZ_STATE_TOKEN, &stage);
	if (stage != 2)
		fail_exit("expected stage 2, the state file says %d", stage);
	for (s = 0; s < HZ_MAX_SESSIONS; s++) {
		char name[32];

		snprintf(name, sizeof(name), HZ_SESSION, s);
		session[s] = luo_retrieve_session(luo_fd, name);
	}
	for (s = 0; s < HZ_MAX_SESSIONS; s++) {
		if (session[s] < 0)
			continue;
		luo_retrieve_record(session[s], HZ_RECORD_TOKEN, &rec,
				    sizeof(rec));
		break;
	}
	if (rec.magic != HZ_MAGIC)
		fail_exit("no record of stage 1");
	ksft_print_msg("seed %llu: %d files, %d sessions, session %d closed\n",
		       (unsigned long long)rec.seed, rec.nr_files,
		       rec.nr_sessions, rec.closed);
	for (s = 0; s < HZ_MAX_SESSIONS; s++) {
		int want = s < rec.nr_sessions && s != rec.closed;
		int have = session[s] >= 0;

		if (want != have)
			fail_exit("session %d: %s", s, session[s] >= 0 ?
				  "arrived, but was closed or never made" :
				  "did not arrive");
	}
	if (rec.pool_file)
		ht_pool_files_retrieve(session[0], 1U << HT_2M, HZ_POOL_TOKEN);

	for (i = 0; i < rec.nr_files; i++) {
		const struct hz_file *f = &rec.file[i];

		fd[i] = -1;
		if (f->session < 0)
			continue;
		fd[i] = luo_session_retrieve_fd(session[f->session], i + 1);
		if (fd[i] < 0)
			fail_exit("retrieve file %d", i);
		hz_check(&rec, i, fd[i]);
		used += ht_popcount(f->present);
		ksft_print_msg("file %d: %d pages and %d holes as they were\n",
			       i, ht_popcount(f->present),
			       f->nr_pages - ht_popcount(f->present));
	}

	ht_pools_read(&got);
	if (got.all[HT_2M].nr - got.all[HT_2M].free != used ||
	    got.all[HT_2M].surp)
		fail_exit("%lld pages in use, %lld surplus: the files have %ld",
			  (long long)(got.all[HT_2M].nr - got.all[HT_2M].free),
			  (long long)got.all[HT_2M].surp, used);
	ksft_print_msg("the pages in use are the files' pages: %ld\n", used);

	for (i = 0; i < rec.nr_files; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
	}
	for (s = 0; s < HZ_MAX_SESSIONS; s++) {
		if (session[s] >= 0)
			ht_finish(session[s], "data");
	}
	got.all[HT_2M].free = got.all[HT_2M].nr;
	got.all[HT_2M].resv = 0;
	got.node[HT_2M][0].free = got.node[HT_2M][0].nr;
	ht_pools_expect(&got, "closed and finished: every huge page free");
	ht_finish(state_session_fd, "state");
	ksft_print_msg("\n--- HUGETLB FUZZ TEST PASSED (seed %llu) ---\n",
		       (unsigned long long)rec.seed);
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, HZ_STATE_SESSION, run_stage_1, run_stage_2);
}
