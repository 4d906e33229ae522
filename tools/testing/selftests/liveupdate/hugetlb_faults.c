// SPDX-License-Identifier: GPL-2.0-only

/*
 * The failure paths of the hugetlb live update ioctls: every kernel
 * allocation they make may fail, and a failed call leaves nothing behind.
 *
 * Usage: hugetlb_faults [-s STAGE]
 *
 * For each operation, and n = 1, 2, ...: arm /proc/thread-self/fail-nth
 * with n, so that the n-th kernel allocation of the call fails (failslab
 * and fail_page_alloc, GFP_KERNEL included), and make the call. A call that
 * failed must return -1 with the errno of the injected failure, leave the
 * pool counters of both page sizes (overall and per node), the hugetlb
 * cgroup counters of the test's cgroup and the outgoing "hugetlb" KHO
 * subtree (its bytes, or its absence) as they were, and go through when it
 * is made again without a failure. A failure that the call absorbs (the
 * kernel fell back) is legal, and counted. The loop ends at the first n
 * past the allocations of the call.
 *
 * Stage 1, each round on fresh sessions, after which the state must be as
 * before the session existed: CREATE_SESSION; PRESERVE_FD of a memfd of
 * 2 MiB pages (HF_2M_PAGES written pages with a reserved hole after each),
 * of the memfd of one 1 GiB page while another session holds the 2 MiB one
 * (the subtree exists and keeps its bytes), of a pool file (the root of a
 * hugetlbfs mount); closing a session that holds all three, which
 * unpreserves them. Then it preserves the three for real in one session,
 * with spares for stage 2: HF_SPARE_SESSIONS empty sessions, and sessions
 * of HF_SPARE_2M memfds of a written 2 MiB page and a reserved hole, of
 * HF_SPARE_1G memfds of 1 GiB without pages, and of HF_SPARE_POOL pool
 * files of their own hugetlbfs mounts.
 *
 * Stage 2: RETRIEVE_SESSION on the spare sessions, which stay retrievable
 * when it fails. SESSION_RETRIEVE_FD on the spare files of each kind: LUO
 * keeps the error of a failed retrieve for good, so a failure must be
 * ENOMEM, a second try must fail alike, nothing may stay charged to the
 * cgroup, and the pools must be as before but for the file's own
 * reservation (its holes), released at once; its pages come back when its
 * session is finished. The real files come back without a failure, with
 * their bytes, PFNs and nodes. Then SESSION_FINISH on the sessions; in the
 * end every huge page is free and nothing charged.
 *
 * One line per injected failure, one TAP line per operation, and a table of
 * both stages at the end. The scenario harness/scenarios/hugetlb_faults.scn
 * boots with one 1 GiB page, which this test needs, and 64 of 2 MiB.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>

#include "hugetlb_util.h"

#define HF_STATE_SESSION	"hugetlb_faults_state"
#define HF_STATE_TOKEN		999
#define HF_RECORD_TOKEN		100
#define HF_REAL_SESSION		"hf-real"
#define HF_HOLDER_SESSION	"hf-holder"
#define HF_ROUND_SESSION	"hf-round"
#define HF_SPARE_SESSION	"hf-spare-%02d"
#define HF_SPARE_2M_SESSION	"hf-spare-2m"
#define HF_SPARE_1G_SESSION	"hf-spare-1g"
#define HF_SPARE_POOL_SESSION	"hf-spare-pool"
#define HF_MNT			"/dev/hf_pool"
#define HF_SPARE_MNT		"/dev/hf_spare_%02d"
#define HF_MAGIC		0x48464c31	/* "HFL1" */

/* The files of the real session, and their tokens (file i is token i + 1). */
enum { HF_FILE_2M, HF_FILE_1G, HF_NR_FILES };
#define HF_POOL_TOKEN		3
#define HF_2M_PAGES		4
#define HF_SPARE_SESSIONS	32
#define HF_SPARE_2M		26
#define HF_SPARE_1G		16
#define HF_SPARE_POOL		16
/* 2 MiB pages: the real memfd with its holes, each spare with its hole. */
#define HF_NEED_2M		(2 * HF_2M_PAGES + 2 * HF_SPARE_2M)

#define HF_MAX_N		1000	/* a call with more allocations fails */
#define HF_OP_MS		200000	/* the time an operation may take */
#define HF_POLL_MS		5000	/* for counters to settle after a call */
#define HF_FD_HIGH		1000	/* the fd table grows to here at once */
#define HF_KHO_MAX		(1024 * 1024)
#define HF_MAX_OPS		8

#define HF_DBG			"/sys/kernel/debug"
#define HF_KHO_OUT		HF_DBG "/kho/out/sub_fdts/hugetlb"
#define HF_NTH			"/proc/thread-self/fail-nth"
#define HF_CG_ROOT		"/sys/fs/cgroup"
#define HF_CG			HF_CG_ROOT "/hugetlb_faults"

/* The hugetlb cgroup counters of HF_CG: hugetlb.<size>.<counter>. */
enum { HF_CG_2M, HF_CG_2M_RSVD, HF_CG_1G, HF_CG_1G_RSVD, HF_NR_CG };

static const char * const hf_cg_file[HF_NR_CG] = {
	"hugetlb.2MB.current", "hugetlb.2MB.rsvd.current",
	"hugetlb.1GB.current", "hugetlb.1GB.rsvd.current",
};

/*
 * What a failed call must leave as it was: the pools, the cgroup counters
 * (bytes) and the outgoing subtree (kho_len < 0: there is none).
 */
struct hf_snap {
	struct ht_pools pools;
	int64_t cg[HF_NR_CG];
	int64_t kho_len;
	uint8_t kho[HF_KHO_MAX];
};

/* How two snapshots must compare. */
enum {
	HF_EXACT,	/* the subtree's buffer, byte for byte */
	HF_TREE,	/* the tree in it only: free room may hold leftovers */
};

/* How an operation went, for the table. */
struct hf_result {
	char name[32];
	int32_t injected;	/* failures injected, the call failed */
	int32_t absorbed;	/* failures injected, the call went through */
	int32_t through;	/* the first n past its allocations */
	int32_t ok;
	int64_t ms;
};

/* What stage 1 hands to stage 2. */
struct hf_record {
	uint64_t magic;
	int32_t nr_results;
	struct hf_result result[HF_MAX_OPS];
	struct ht_pools at_kexec;
	struct ht_file file[HF_NR_FILES];
};

/*
 * One operation of the loop. setup() readies attempt n (-1: nothing left
 * to try it on), call() makes the call (>= 0, or -errno), done() takes the
 * result of a call that went through and checks what it must (0, or -1 if
 * a check failed). A "final" failure is LUO's for a retrieve: kept for
 * good, so that a second try fails alike.
 */
struct hf_op {
	const char *name;
	int final;
	int (*setup)(struct hf_op *op);
	long (*call)(struct hf_op *op);
	int (*done)(struct hf_op *op, long ret);
	int luo_fd;
	int session_fd;		/* the session of the call */
	int fd;			/* the file to preserve */
	uint64_t token;
	int next;		/* the next spare to use */
	int nr_spares;
	int size;		/* the page size of the spare files */
	int pages;		/* their present pages, and reserved holes */
	int holes;
	const char *session;	/* a session name, or a format of them */
};

/*
 * Snapshots: before the setup of a round, right before its call, the one
 * read last, and what it must be (too large for the stack).
 */
static struct hf_snap *hf_base, *hf_before, *hf_got, *hf_exp;
static struct hf_record hf_rec;
static struct hf_result hf_results[HF_MAX_OPS];
static int hf_nr_results, hf_nth_fd = -1;

/* The real files of stage 1, their mappings, and the pool file. */
static int hf_file_fd[HF_NR_FILES];
static char *hf_file_map[HF_NR_FILES];
static int hf_pool_fd;

/*
 * The empty sessions that stage 2 retrieved, and all the sessions it
 * retrieved, in the order it finishes them.
 */
static int hf_empty[HF_SPARE_SESSIONS], hf_nr_empty;
static int hf_finish_fd[HF_SPARE_SESSIONS + 4];
static int hf_nr_finish, hf_next_finish;

static int64_t hf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hf_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		fail_exit("write '%s' to %s", val, path);
	close(fd);
}

/* ---- fault injection ---------------------------------------------------- */

/*
 * Let fail-nth fail every slab and page allocation, GFP_KERNEL ones too,
 * quietly (a stack dump per failure would be a "Call Trace" in the log).
 */
static void hf_faults_setup(void)
{
	static const char * const knob[][2] = {
		{ HF_DBG "/failslab/ignore-gfp-wait", "N" },
		{ HF_DBG "/failslab/verbose", "0" },
		{ HF_DBG "/fail_page_alloc/ignore-gfp-wait", "N" },
		{ HF_DBG "/fail_page_alloc/min-order", "0" },
		{ HF_DBG "/fail_page_alloc/verbose", "0" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(knob); i++)
		hf_write(knob[i][0], knob[i][1]);
	hf_nth_fd = open(HF_NTH, O_RDWR);
	if (hf_nth_fd < 0)
		fail_exit("open " HF_NTH " (CONFIG_FAULT_INJECTION?)");

	/*
	 * Grow the fd table now: an allocation for it would fail a call
	 * before it reaches LUO, and differently from one call to the next.
	 */
	if (dup2(STDERR_FILENO, HF_FD_HIGH) != HF_FD_HIGH)
		fail_exit("dup2 to fd %d", HF_FD_HIGH);
	close(HF_FD_HIGH);
}

/*
 * Call @op with its n-th kernel allocation failing: arm fail-nth with @n,
 * make the call, and read fail-nth back, which says 0 once the failure
 * was injected (*@injected); then disarm it. Returns what the call did.
 */
static long hf_fail_nth(struct hf_op *op, int n, int *injected)
{
	char buf[16];
	long ret;
	int len;

	len = snprintf(buf, sizeof(buf), "%d", n);
	if (pwrite(hf_nth_fd, buf, len, 0) != len)
		fail_exit("arm fail-nth with %d", n);
	ret = op->call(op);
	memset(buf, 0, sizeof(buf));
	if (pread(hf_nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		fail_exit("read fail-nth");
	*injected = !atoi(buf);
	if (pwrite(hf_nth_fd, "0", 1, 0) != 1)
		fail_exit("disarm fail-nth");
	return ret;
}

/* ---- the cgroup ----------------------------------------------------------- */

/* Run in HF_CG, made where it is missing, with the hugetlb controller. */
static void hf_cgroup_enter(void)
{
	char pid[16];

	hf_write(HF_CG_ROOT "/cgroup.subtree_control", "+hugetlb");
	if (mkdir(HF_CG, 0755) && errno != EEXIST)
		fail_exit("mkdir " HF_CG);
	snprintf(pid, sizeof(pid), "%d", getpid());
	hf_write(HF_CG "/cgroup.procs", pid);
}

/* ---- snapshots ------------------------------------------------------------ */

/* The outgoing subtree into @s, or its absence. */
static void hf_kho_read(struct hf_snap *s)
{
	ssize_t n;
	int fd;

	s->kho_len = -1;
	fd = open(HF_KHO_OUT, O_RDONLY);
	if (fd < 0) {
		if (errno != ENOENT)
			fail_exit("open " HF_KHO_OUT);
		return;
	}
	s->kho_len = 0;
	while ((n = read(fd, s->kho + s->kho_len,
			 HF_KHO_MAX - s->kho_len)) > 0)
		s->kho_len += n;
	if (n < 0)
		fail_exit("read " HF_KHO_OUT);
	if (s->kho_len == HF_KHO_MAX)
		fail_exit(HF_KHO_OUT ": more than %d bytes", HF_KHO_MAX);
	close(fd);
}

static void hf_snap_read(struct hf_snap *s)
{
	char path[128];
	int i;

	ht_pools_read(&s->pools);
	for (i = 0; i < HF_NR_CG; i++) {
		snprintf(path, sizeof(path), HF_CG "/%s", hf_cg_file[i]);
		s->cg[i] = ht_read_long(path);
		if (s->cg[i] < 0)
			fail_exit("no %s (hugetlb cgroup controller?)", path);
	}
	hf_kho_read(s);
}

/* The size of the FDT in @s, from its header (big endian totalsize). */
static int64_t hf_fdt_size(const struct hf_snap *s)
{
	const uint8_t *p = s->kho + 4;

	if (s->kho_len < 8)
		return s->kho_len;
	return (int64_t)p[0] << 24 | (int64_t)p[1] << 16 | p[2] << 8 | p[3];
}

/*
 * The number of differences between @exp and @got, compared as @how says;
 * each is said if @print.
 */
static int hf_snap_diff(const struct hf_snap *exp, const struct hf_snap *got,
			int how, int print)
{
	int64_t len = exp->kho_len, i;
	int bad, c;

	bad = ht_pools_diff(&exp->pools, &got->pools, print);
	for (c = 0; c < HF_NR_CG; c++)
		bad += ht_counter_differs("cgroup", hf_cg_file[c], exp->cg[c],
					  got->cg[c], print);
	if (exp->kho_len < 0 || got->kho_len < 0) {
		if (exp->kho_len == got->kho_len)
			return bad;
		if (print)
			ksft_print_msg("  subtree: %s before, %s now\n",
				       exp->kho_len < 0 ? "none" : "one",
				       got->kho_len < 0 ? "none" : "one");
		return bad + 1;
	}
	if (how == HF_TREE) {
		len = hf_fdt_size(exp);
		if (len > exp->kho_len)
			len = exp->kho_len;
		if (hf_fdt_size(got) != len) {
			if (print)
				ksft_print_msg("  subtree: a tree of %lld bytes, was %lld\n",
					       (long long)hf_fdt_size(got),
					       (long long)len);
			return bad + 1;
		}
		if (got->kho_len < len) {
			if (print)
				ksft_print_msg("  subtree: %lld bytes, a tree of %lld\n",
					       (long long)got->kho_len,
					       (long long)len);
			return bad + 1;
		}
	} else if (got->kho_len != len) {
		if (print)
			ksft_print_msg("  subtree: %lld bytes, was %lld\n",
				       (long long)got->kho_len, (long long)len);
		return bad + 1;
	}
	for (i = 0; i < len && exp->kho[i] == got->kho[i]; i++)
		;
	if (i < len) {
		if (print)
			ksft_print_msg("  subtree: byte %lld is %#x, was %#x\n",
				       (long long)i, got->kho[i], exp->kho[i]);
		bad++;
	}
	return bad;
}

/*
 * A failed retrieve may give the pages of its file back at once (those it
 * had put in the file's page cache go with the file), or at the finish of
 * the session: let @exp, a copy, have the free pages of @got if no more
 * than @pages came back, on no node fewer. Returns how many came back.
 */
static int hf_freed(struct hf_snap *exp, const struct hf_snap *got, int h,
		    int pages)
{
	int64_t k = got->pools.all[h].free - exp->pools.all[h].free, sum = 0;
	int64_t d;
	int n;

	if (k <= 0 || k > pages)
		return 0;
	for (n = 0; n < HT_MAX_NODES; n++) {
		d = got->pools.node[h][n].free - exp->pools.node[h][n].free;
		if (d < 0)
			return 0;
		sum += d;
	}
	if (sum != k && ht_pools_nodes(&exp->pools))
		return 0;
	exp->pools.all[h].free += k;
	for (n = 0; n < HT_MAX_NODES; n++)
		exp->pools.node[h][n].free = got->pools.node[h][n].free;
	return k;
}

/*
 * The state must be @exp, compared as @how says; after a final failure of
 * @op (NULL: none), less the reserved holes of its file and with at most
 * its pages back in the free pool (hf_freed()). What a call freed may take
 * a moment to show (deferred work), so wait up to HF_POLL_MS. Says every
 * difference and returns -1 if they persist, else the pages that came back.
 */
static int hf_expect_op(const struct hf_snap *exp, int how,
			const struct hf_op *op, const char *what)
{
	int waited, freed = 0, bad;

	for (waited = 0; ; waited += 100) {
		hf_snap_read(hf_got);
		*hf_exp = *exp;
		if (op) {
			hf_exp->pools.all[op->size].resv -= op->holes;
			freed = hf_freed(hf_exp, hf_got, op->size, op->pages);
		}
		bad = hf_snap_diff(hf_exp, hf_got, how, 0);
		if (!bad || waited >= HF_POLL_MS)
			break;
		usleep(100 * 1000);
	}
	if (!bad)
		return freed;
	ksft_print_msg("%s: not as expected:\n", what);
	hf_snap_diff(hf_exp, hf_got, how, 1);
	return -1;
}

/* The state must be @exp, compared as @how says (hf_expect_op()). */
static int hf_expect(const struct hf_snap *exp, int how, const char *what)
{
	return hf_expect_op(exp, how, NULL, what) < 0 ? -1 : 0;
}

/* ---- the loop --------------------------------------------------------------- */

/* After a final failure @err: a second try fails alike, state as @op says. */
static int hf_after_final(struct hf_op *op, int n, long err)
{
	char what[96];
	long again;
	int freed;

	if (err != -ENOMEM) {
		ksft_print_msg("%s: n=%d: failed with %s, not ENOMEM\n",
			       op->name, n, strerror(-err));
		return -1;
	}
	again = op->call(op);
	if (again != err) {
		ksft_print_msg("%s: n=%d: a second try returned %ld, not %ld as LUO keeps it\n",
			       op->name, n, again, err);
		if (again >= 0)
			close(again);
		return -1;
	}

	/*
	 * Nothing charged; the file's holes are no longer reserved; its pages
	 * are back now or at the finish of the session.
	 */
	snprintf(what, sizeof(what), "%s: n=%d: after the failure", op->name,
		 n);
	freed = hf_expect_op(hf_before, HF_EXACT, op, what);
	if (freed > 0)
		ksft_print_msg("%s: n=%d: %d page(s) of the file already free\n",
			       op->name, n, freed);
	return freed < 0 ? -1 : 0;
}

/*
 * Run @op for n = 1, 2, ... until a call makes fewer than n allocations;
 * record how it went in the table and say it in a TAP line.
 */
static void hf_loop(struct hf_op *op)
{
	struct hf_result *r = &hf_results[hf_nr_results++];
	int64_t start = hf_now_ms();
	int n, injected, bad = 0;
	char what[96];
	long ret;

	snprintf(r->name, sizeof(r->name), "%s", op->name);
	for (n = 1; !bad; n++) {
		if (n > HF_MAX_N || hf_now_ms() - start > HF_OP_MS) {
			ksft_print_msg("%s: not through within %d calls or %d s\n",
				       op->name, HF_MAX_N, HF_OP_MS / 1000);
			bad = 1;
			break;
		}
		hf_snap_read(hf_base);
		if (op->setup && op->setup(op)) {
			ksft_print_msg("%s: no spare left for n=%d\n", op->name,
				       n);
			bad = 1;
			break;
		}
		hf_snap_read(hf_before);
		ret = hf_fail_nth(op, n, &injected);
		if (ret < 0 && !injected) {
			ksft_print_msg("%s: n=%d: failed with %s, but no failure was injected\n",
				       op->name, n, strerror(-ret));
			bad = 1;
			break;
		}
		if (ret < 0) {
			r->injected++;
			ksft_print_msg("%s: n=%d: allocation %d failed: %s\n",
				       op->name, n, n, strerror(-ret));
			if (op->final) {
				bad = hf_after_final(op, n, ret);
				continue;
			}
			snprintf(what, sizeof(what), "%s: n=%d: after the failure",
				 op->name, n);
			if (hf_expect(hf_before, HF_EXACT, what)) {
				bad = 1;
				break;
			}
			ret = op->call(op);
			if (ret < 0) {
				ksft_print_msg("%s: n=%d: tried again, it failed: %s\n",
					       op->name, n, strerror(-ret));
				bad = 1;
				break;
			}
		} else if (injected) {
			r->absorbed++;
			ksft_print_msg("%s: n=%d: allocation %d failed, %s\n",
				       op->name, n, n,
				       "absorbed: the call went through");
		}
		if (op->done && op->done(op, ret))
			bad = 1;
		if (!injected) {
			r->through = n;
			break;
		}
	}
	r->ms = hf_now_ms() - start;
	r->ok = !bad;
	ksft_test_result(r->ok, "%s: %d failed, %d absorbed, through at n=%d, %lld ms\n",
			 op->name, r->injected, r->absorbed, r->through,
			 (long long)r->ms);
}

/* The table of @nr results @r of stage @stage. */
static void hf_table(int stage, const struct hf_result *r, int nr)
{
	int i;

	ksft_print_msg("stage %d  %-24s %8s %8s %8s %8s  %s\n", stage,
		       "operation", "failed", "absorbed", "through", "ms",
		       "result");
	for (i = 0; i < nr; i++)
		ksft_print_msg("stage %d  %-24s %8d %8d %8d %8lld  %s\n", stage,
			       r[i].name, r[i].injected, r[i].absorbed,
			       r[i].through, (long long)r[i].ms,
			       r[i].ok ? "ok" : "FAIL");
}

/* Whether every operation of @r went well. */
static int hf_all_ok(const struct hf_result *r, int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (!r[i].ok)
			return 0;
	}
	return 1;
}

/* ---- the calls -------------------------------------------------------------- */

static long hf_call_create(struct hf_op *op)
{
	struct liveupdate_ioctl_create_session arg = { .size = sizeof(arg) };

	snprintf((char *)arg.name, sizeof(arg.name), "%s", op->session);
	if (ioctl(op->luo_fd, LIVEUPDATE_IOCTL_CREATE_SESSION, &arg))
		return -errno;
	return arg.fd;
}

static long hf_call_retrieve_session(struct hf_op *op)
{
	struct liveupdate_ioctl_retrieve_session arg = { .size = sizeof(arg) };

	snprintf((char *)arg.name, sizeof(arg.name), op->session, op->next);
	if (ioctl(op->luo_fd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &arg))
		return -errno;
	return arg.fd;
}

static long hf_call_preserve(struct hf_op *op)
{
	struct liveupdate_session_preserve_fd arg = {
		.size = sizeof(arg),
		.fd = op->fd,
		.token = op->token,
	};

	if (ioctl(op->session_fd, LIVEUPDATE_SESSION_PRESERVE_FD, &arg))
		return -errno;
	return 0;
}

static long hf_call_retrieve_fd(struct hf_op *op)
{
	struct liveupdate_session_retrieve_fd arg = {
		.size = sizeof(arg),
		.token = op->token,
	};

	if (ioctl(op->session_fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg))
		return -errno;
	return arg.fd;
}

static long hf_call_finish(struct hf_op *op)
{
	struct liveupdate_session_finish arg = { .size = sizeof(arg) };

	if (ioctl(op->session_fd, LIVEUPDATE_SESSION_FINISH, &arg))
		return -errno;
	return 0;
}

/* close() of a session unpreserves its files, and cannot fail. */
static long hf_call_close(struct hf_op *op)
{
	return close(op->session_fd) ? -errno : 0;
}

/* ---- stage 1 ------------------------------------------------------------------- */

/*
 * Real file @i of @nr written pages of size @h, each followed by a hole
 * that its shared mapping reserves when @holes; filled for @seed, its
 * PFNs and nodes recorded.
 */
static void hf_file_make(int i, int h, unsigned int nr, int holes,
			 uint64_t seed)
{
	struct ht_file *f = &hf_rec.file[i];
	unsigned int p;
	char *map;
	int fd;

	f->size = h;
	f->nr_pages = nr;
	f->stride = holes ? 2 : 1;
	f->seed = seed;
	fd = ht_memfd("hugetlb_faults", ht_file_len(f), ht_sizes[h].mfd_flag);
	map = ht_map(fd, ht_file_len(f), PROT_READ | PROT_WRITE, 0);
	for (p = 0; p < nr; p++)
		ht_fill(ht_file_page(f, map, p), ht_sizes[h].size, seed, p);
	ht_file_locate(f, map);
	f->seals = ht_fcntl(fd, F_GET_SEALS, 0);
	f->pos = (int64_t)(i + 1) * HT_POS_STEP;
	if (lseek(fd, f->pos, SEEK_SET) != f->pos)
		fail_exit("lseek file %d", i);
	hf_file_fd[i] = fd;
	hf_file_map[i] = map;
	ksft_print_msg("file %d: %u %s pages%s, first PFN %#llx on node %d\n",
		       i, nr, ht_sizes[h].label,
		       holes ? ", a reserved hole after each" : "",
		       (unsigned long long)f->pfn[0], f->nid[0]);
}

static int hf_new_session(int luo_fd, const char *name)
{
	int fd = luo_create_session(luo_fd, name);

	if (fd < 0) {
		errno = -fd;
		fail_exit("create the session %s", name);
	}
	return fd;
}

static void hf_preserve(int session_fd, int fd, int token, const char *what)
{
	int ret = luo_session_preserve_fd(session_fd, fd, token);

	if (ret) {
		errno = -ret;
		fail_exit("preserve %s", what);
	}
}

/* After a round: its session closed, the state as before it existed. */
static int hf_round_over(struct hf_op *op)
{
	char what[96];

	snprintf(what, sizeof(what), "%s: the round over", op->name);
	return hf_expect(hf_base, HF_TREE, what);
}

static int hf_create_done(struct hf_op *op, long ret)
{
	close(ret);
	return hf_round_over(op);
}

/* A fresh session for the preserve of the round. */
static int hf_round_setup(struct hf_op *op)
{
	op->session_fd = hf_new_session(op->luo_fd, HF_ROUND_SESSION);
	return 0;
}

static int hf_preserve_done(struct hf_op *op, long ret)
{
	close(op->session_fd);
	return hf_round_over(op);
}

/* A session that holds the three files, for close() to unpreserve. */
static int hf_close_setup(struct hf_op *op)
{
	op->session_fd = hf_new_session(op->luo_fd, HF_ROUND_SESSION);
	hf_preserve(op->session_fd, hf_file_fd[HF_FILE_2M], 1, "the 2 MiB memfd");
	hf_preserve(op->session_fd, hf_file_fd[HF_FILE_1G], 2, "the 1 GiB memfd");
	hf_preserve(op->session_fd, hf_pool_fd, 3, "the pool file");
	return 0;
}

static int hf_close_done(struct hf_op *op, long ret)
{
	return hf_round_over(op);
}

static void hf_stage_1_ops(int luo_fd)
{
	struct hf_op op = { .luo_fd = luo_fd };
	int holder;

	op.name = "CREATE_SESSION";
	op.session = HF_ROUND_SESSION;
	op.call = hf_call_create;
	op.done = hf_create_done;
	hf_loop(&op);

	op.call = hf_call_preserve;
	op.setup = hf_round_setup;
	op.done = hf_preserve_done;
	op.name = "PRESERVE_FD 2M memfd";
	op.fd = hf_file_fd[HF_FILE_2M];
	op.token = 1;
	hf_loop(&op);

	/* Another session holds a file: the subtree exists, keeps its bytes. */
	holder = hf_new_session(luo_fd, HF_HOLDER_SESSION);
	hf_preserve(holder, hf_file_fd[HF_FILE_2M], 1, "the 2 MiB memfd");
	op.name = "PRESERVE_FD 1G memfd";
	op.fd = hf_file_fd[HF_FILE_1G];
	op.token = 2;
	hf_loop(&op);
	close(holder);

	op.name = "PRESERVE_FD pool file";
	op.fd = hf_pool_fd;
	op.token = 3;
	hf_loop(&op);

	op.name = "close (unpreserve)";
	op.setup = hf_close_setup;
	op.call = hf_call_close;
	op.done = hf_close_done;
	hf_loop(&op);
}

/* The spares that stage 2 retrieves and finishes with failures. */
static void hf_spares(int luo_fd)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH], dir[64], opts[32];
	int i, fd, s2m, s1g, spool, h;
	char *map;

	for (i = 0; i < HF_SPARE_SESSIONS; i++) {
		snprintf(name, sizeof(name), HF_SPARE_SESSION, i);
		hf_new_session(luo_fd, name);
	}

	/* A written 2 MiB page, then a hole that the mapping reserved. */
	s2m = hf_new_session(luo_fd, HF_SPARE_2M_SESSION);
	for (i = 0; i < HF_SPARE_2M; i++) {
		fd = ht_memfd("hf_spare_2m", 2 * HT_HPAGE, HT_MFD_HUGE_2MB);
		map = ht_map(fd, 2 * HT_HPAGE, PROT_READ | PROT_WRITE, 0);
		*(uint64_t *)map = i;
		munmap(map, 2 * HT_HPAGE);
		hf_preserve(s2m, fd, i + 1, "a 2 MiB spare");
		close(fd);
	}

	/* 1 GiB long, without a page or a reservation. */
	s1g = hf_new_session(luo_fd, HF_SPARE_1G_SESSION);
	for (i = 0; i < HF_SPARE_1G; i++) {
		fd = ht_memfd("hf_spare_1g", HT_GPAGE, HT_MFD_HUGE_1GB);
		hf_preserve(s1g, fd, i + 1, "a 1 GiB spare");
		close(fd);
	}

	/* Pool files of their own mounts, of both page sizes in turn. */
	spool = hf_new_session(luo_fd, HF_SPARE_POOL_SESSION);
	for (i = 0; i < HF_SPARE_POOL; i++) {
		h = i % HT_NR_SIZES;
		snprintf(dir, sizeof(dir), HF_SPARE_MNT, i);
		snprintf(opts, sizeof(opts), "pagesize=%s", ht_sizes[h].label);
		if (mkdir(dir, 0755) && errno != EEXIST)
			fail_exit("mkdir %s", dir);
		if (mount("none", dir, "hugetlbfs", 0, opts))
			fail_exit("mount hugetlbfs (%s) on %s", opts, dir);
		fd = open(dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			fail_exit("open %s", dir);
		hf_preserve(spool, fd, i + 1, "a spare pool file");
		close(fd);
	}
	ksft_print_msg("spares: %d sessions, %d 2 MiB memfds, %d 1 GiB memfds, %d pool files\n",
		       HF_SPARE_SESSIONS, HF_SPARE_2M, HF_SPARE_1G,
		       HF_SPARE_POOL);
}

static void run_stage_1(int luo_fd)
{
	int real, state, ret, i;
	struct ht_pools base;

	hf_rec.magic = HF_MAGIC;
	hf_faults_setup();
	hf_cgroup_enter();
	ht_pools_read(&base);
	ht_pools_print("stage 1 before", &base);
	ht_pool_ready(&base, HT_2M, HF_NEED_2M);
	ht_pool_ready(&base, HT_1G, 1);

	hf_file_make(HF_FILE_2M, HT_2M, HF_2M_PAGES, 1,
		     (uint64_t)getpid() << 32 ^ 0x2f);
	hf_file_make(HF_FILE_1G, HT_1G, 1, 0, (uint64_t)getpid() << 32 ^ 0x1f);
	hf_pool_fd = ht_pool_root(HF_MNT, HT_2M, NULL);

	hf_stage_1_ops(luo_fd);
	hf_table(1, hf_results, hf_nr_results);
	if (!hf_all_ok(hf_results, hf_nr_results))
		ksft_exit_fail_msg("[STAGE 1] an operation failed, no live update\n");

	/* For real: the files and the pool file in one session. */
	real = hf_new_session(luo_fd, HF_REAL_SESSION);
	for (i = 0; i < HF_NR_FILES; i++)
		ht_file_preserve(real, i + 1, hf_file_fd[i], &hf_rec.file[i],
				 hf_file_map[i], i);
	hf_preserve(real, hf_pool_fd, HF_POOL_TOKEN, "the pool file");
	for (i = 0; i < HF_NR_FILES; i++) {
		munmap(hf_file_map[i], ht_file_len(&hf_rec.file[i]));
		close(hf_file_fd[i]);
	}
	close(hf_pool_fd);
	hf_spares(luo_fd);

	/* The state session says stage 2 is next, and holds the record. */
	state = hf_new_session(luo_fd, HF_STATE_SESSION);
	ret = create_and_preserve_memfd(state, HF_STATE_TOKEN, "2");
	if (ret < 0) {
		errno = -ret;
		fail_exit("preserve the state memfd");
	}
	hf_rec.nr_results = hf_nr_results;
	memcpy(hf_rec.result, hf_results, sizeof(hf_results));
	ht_pools_read(&hf_rec.at_kexec);
	ht_pools_print("at the kexec", &hf_rec.at_kexec);
	ht_save_record(state, HF_RECORD_TOKEN, &hf_rec, sizeof(hf_rec));
	close(luo_fd);
	daemonize_and_wait();
}

/* ---- stage 2 ------------------------------------------------------------------- */

static int hf_retrieve(int luo_fd, const char *name)
{
	int fd = luo_retrieve_session(luo_fd, name);

	if (fd < 0) {
		errno = -fd;
		fail_exit("retrieve the session %s", name);
	}
	return fd;
}

/* The next spare session to retrieve. */
static int hf_spare_session_setup(struct hf_op *op)
{
	return ++op->next < op->nr_spares ? 0 : -1;
}

static int hf_spare_session_done(struct hf_op *op, long ret)
{
	hf_empty[hf_nr_empty++] = ret;
	return hf_round_over(op);
}

/* The next spare file to retrieve. */
static int hf_spare_file_setup(struct hf_op *op)
{
	op->token = ++op->next + 1;
	return op->next < op->nr_spares ? 0 : -1;
}

/*
 * A spare file came back: its size, and its pages and holes charged to
 * the cgroup; the pools stay as they were.
 */
static int hf_spare_file_done(struct hf_op *op, long ret)
{
	unsigned long page = ht_sizes[op->size].size;
	int cg = op->size == HT_1G ? HF_CG_1G : HF_CG_2M;
	struct stat st;
	char what[96];

	if (fstat(ret, &st))
		fail_exit("fstat a retrieved spare");
	close(ret);
	if (op->pages && st.st_size != (off_t)(op->pages + op->holes) * page) {
		ksft_print_msg("%s: spare %d: %lld bytes, expected %lu\n",
			       op->name, op->next, (long long)st.st_size,
			       (op->pages + op->holes) * page);
		return -1;
	}
	/* The base of the round serves no more: what the state must be. */
	*hf_base = *hf_before;
	hf_base->cg[cg] += op->pages * page;
	hf_base->cg[cg + 1] += (op->pages + op->holes) * page;
	snprintf(what, sizeof(what), "%s: spare %d retrieved", op->name,
		 op->next);
	return hf_expect(hf_base, HF_EXACT, what);
}

/* The next retrieved session to finish. */
static int hf_finish_setup(struct hf_op *op)
{
	if (hf_next_finish >= hf_nr_finish)
		return -1;
	op->session_fd = hf_finish_fd[hf_next_finish++];
	return 0;
}

static int hf_finish_done(struct hf_op *op, long ret)
{
	close(op->session_fd);
	return 0;
}

/* The real files come back, without failures, as they were. */
static int hf_real(int luo_fd)
{
	int session_fd, fd, i;
	char *map;

	session_fd = hf_retrieve(luo_fd, HF_REAL_SESSION);
	for (i = 0; i < HF_NR_FILES; i++) {
		fd = luo_session_retrieve_fd(session_fd, i + 1);
		if (fd < 0) {
			errno = -fd;
			fail_exit("retrieve real file %d", i);
		}
		map = ht_file_check(fd, &hf_rec.file[i], i);
		munmap(map, ht_file_len(&hf_rec.file[i]));
		close(fd);
	}
	fd = luo_session_retrieve_fd(session_fd, HF_POOL_TOKEN);
	if (fd < 0) {
		errno = -fd;
		fail_exit("retrieve the pool file");
	}
	close(fd);
	ksft_print_msg("the real files and the pool file are back\n");
	return session_fd;
}

static void hf_stage_2_ops(int luo_fd)
{
	static const struct {
		const char *name;
		const char *session;
		int nr, size, pages, holes;
	} kind[] = {
		{ "RETRIEVE_FD 2M memfd", HF_SPARE_2M_SESSION, HF_SPARE_2M,
		  HT_2M, 1, 1 },
		{ "RETRIEVE_FD 1G memfd", HF_SPARE_1G_SESSION, HF_SPARE_1G,
		  HT_1G, 0, 0 },
		{ "RETRIEVE_FD pool file", HF_SPARE_POOL_SESSION, HF_SPARE_POOL,
		  HT_2M, 0, 0 },
	};
	struct hf_op op = { .luo_fd = luo_fd };
	int files[ARRAY_SIZE(kind)];
	unsigned int k;

	op.name = "RETRIEVE_SESSION";
	op.session = HF_SPARE_SESSION;
	op.next = -1;
	op.nr_spares = HF_SPARE_SESSIONS;
	op.setup = hf_spare_session_setup;
	op.call = hf_call_retrieve_session;
	op.done = hf_spare_session_done;
	hf_loop(&op);

	for (k = 0; k < ARRAY_SIZE(kind); k++) {
		memset(&op, 0, sizeof(op));
		op.luo_fd = luo_fd;
		op.name = kind[k].name;
		op.final = 1;
		op.session_fd = hf_retrieve(luo_fd, kind[k].session);
		op.next = -1;
		op.nr_spares = kind[k].nr;
		op.size = kind[k].size;
		op.pages = kind[k].pages;
		op.holes = kind[k].holes;
		op.setup = hf_spare_file_setup;
		op.call = hf_call_retrieve_fd;
		op.done = hf_spare_file_done;
		hf_loop(&op);
		files[k] = op.session_fd;
	}

	/* The sessions of files first, then the empty ones. */
	hf_finish_fd[hf_nr_finish++] = hf_real(luo_fd);
	for (k = 0; k < ARRAY_SIZE(kind); k++)
		hf_finish_fd[hf_nr_finish++] = files[k];
	for (k = 0; k < (unsigned int)hf_nr_empty; k++)
		hf_finish_fd[hf_nr_finish++] = hf_empty[k];

	memset(&op, 0, sizeof(op));
	op.luo_fd = luo_fd;
	op.name = "SESSION_FINISH";
	op.setup = hf_finish_setup;
	op.call = hf_call_finish;
	op.done = hf_finish_done;
	hf_loop(&op);
	while (hf_next_finish < hf_nr_finish)
		ht_finish(hf_finish_fd[hf_next_finish++], "retrieved");
}

/* In the end: every huge page free, nothing reserved, nothing charged. */
static void hf_all_back(void)
{
	int h, waited;

	for (waited = 0; ; waited += 100) {
		hf_snap_read(hf_got);
		for (h = 0; h < HT_NR_SIZES; h++) {
			const struct ht_counters *c = &hf_got->pools.all[h];

			if (c->free != c->nr || c->resv || c->surp)
				break;
		}
		if (h == HT_NR_SIZES) {
			for (h = 0; h < HF_NR_CG && !hf_got->cg[h]; h++)
				;
			if (h == HF_NR_CG)
				break;
		}
		if (waited >= HF_POLL_MS) {
			ht_pools_print("in the end", &hf_got->pools);
			for (h = 0; h < HF_NR_CG; h++)
				ksft_print_msg("in the end: %s %lld\n",
					       hf_cg_file[h],
					       (long long)hf_got->cg[h]);
			ksft_test_result_fail("in the end: %s\n",
					      "huge pages in use, reserved or charged");
			return;
		}
		usleep(100 * 1000);
	}
	ht_pools_print("in the end", &hf_got->pools);
	ksft_test_result_pass("in the end: every huge page free, nothing reserved or charged\n");
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	int stage, h;

	restore_and_read_stage(state_session_fd, HF_STATE_TOKEN, &stage);
	if (stage != 2)
		fail_exit("expected stage 2, the state file says %d", stage);
	ht_read_record(state_session_fd, HF_RECORD_TOKEN, &hf_rec,
		       sizeof(hf_rec), HF_MAGIC);
	hf_table(1, hf_rec.result, hf_rec.nr_results);
	hf_faults_setup();
	hf_cgroup_enter();
	ht_pools_expect(&hf_rec.at_kexec, "after the kexec: pools as at the kexec");
	hf_snap_read(hf_got);
	for (h = 0; h < HF_NR_CG; h++) {
		if (hf_got->cg[h])
			fail_exit("%s is %lld before any retrieve", hf_cg_file[h],
				  (long long)hf_got->cg[h]);
	}

	hf_stage_2_ops(luo_fd);
	ht_finish(state_session_fd, "state");
	hf_all_back();
	hf_table(1, hf_rec.result, hf_rec.nr_results);
	hf_table(2, hf_results, hf_nr_results);
	if (!hf_all_ok(hf_results, hf_nr_results) || ksft_get_fail_cnt())
		ksft_exit_fail_msg("[STAGE 2] an operation failed\n");
	ksft_print_msg("\n--- HUGETLB FAULTS TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	hf_base = malloc(sizeof(*hf_base));
	hf_before = malloc(sizeof(*hf_before));
	hf_got = malloc(sizeof(*hf_got));
	hf_exp = malloc(sizeof(*hf_exp));
	if (!hf_base || !hf_before || !hf_got || !hf_exp)
		ksft_exit_fail_msg("out of memory\n");
	return luo_test(argc, argv, HF_STATE_SESSION, run_stage_1, run_stage_2);
}
