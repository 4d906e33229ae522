// SPDX-License-Identifier: GPL-2.0-only

/*
 * Hostile userspace against /dev/liveupdate with hugetlb files: a seeded,
 * time-bounded fuzzer of the LUO ioctls, whose every result must be the one
 * that a model of the kernel (read from kernel/liveupdate/luo_*.c and
 * mm/hugetlb_luo.c) predicts, and after which the huge page pools must be
 * exactly what the files left preserved explain.
 *
 * Usage: hugetlb_ioctl_fuzz [-S SEED] [-t SECONDS] [-n MAX_OPS] [-v 1] [-s 2]
 *
 * Stage 1 runs random operations for -t seconds (20 by default) on a
 * bounded pool of sessions and objects: sessions created with random,
 * colliding, empty, overlong and unterminated names, and closed again,
 * which unpreserves their files; fds preserved with random and colliding
 * tokens: hugetlb memfds of 2 MiB and 1 GiB pages (empty, with holes,
 * sealed, of an odd size), files of /dev/hugepages, hugetlbfs mount roots
 * (pool files), a hugetlbfs subfolder, a shmem memfd, a pipe, /dev/null,
 * the LUO fds themselves, closed fds and -1, the same file again through
 * another fd; garbage arguments (size 0, too small, too large with a
 * non-zero tail or a tail in unmapped memory, NULL, unmapped and
 * read-only buffers, unknown ioctl numbers and reserved fields); the
 * incoming-only ioctls on outgoing sessions; and ftruncate, fallocate,
 * hole punching, write(), seals and mappings past the end of the files
 * before and after their preservation. Each result is checked against the
 * model: an errno that is not the one expected, or a success where a
 * failure is due, fails the test ("not ok"); so does a file whose size,
 * seals or bytes (written words; zeros in holes and in pages fallocate()
 * added) are not the model's. Then a random part of the sessions stays (at
 * least one hugetlb memfd with known bytes), seals are added to some kept
 * files after their preservation, and a memfd with a page fallocate()d
 * past its end (FALLOC_FL_KEEP_SIZE) is preserved and then sealed; the
 * rest is closed, and the pool counters must be what the kept files
 * explain.
 *
 * Stage 2 (-s 2, after the kexec) first checks the pools against the kept
 * files: the freeze reads a file up to its size only, so pages past the
 * end stayed in the old kernel and count neither as used nor reserved
 * here. Then it fuzzes the incoming sessions as well: retrieve sessions by
 * right, wrong and repeated names, files by right, wrong and repeated
 * tokens (the bytes, size and seals of every kept hugetlb file checked
 * when it comes back: the seals it had at the kexec, which the freeze
 * read again, not those of its preservation), finish in any order and
 * twice, close sessions midway, retrieve a session into a read-only
 * buffer, next to everything of stage 1 on new outgoing sessions. At the
 * end everything is closed and every huge page must be free: free ==
 * total, nothing reserved, no surplus, the totals as at the first boot.
 *
 * It prints its seed, how many operations of each kind ran and how each
 * ended (a table of errnos). The operations depend on the seed alone; -n
 * bounds their number for a replay, -v 1 prints each. The SysV
 * SHM_HUGETLB case runs only if the kernel has SysV IPC.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/shm.h>

#include "hugetlb_util.h"

#define HIF_STATE_SESSION	"hugetlb_ioctl_fuzz_state"
#define HIF_STATE_TOKEN		999
#define HIF_RECORD_TOKEN	100
#define HIF_MAGIC		0x4849463146555a5aULL	/* "HIF1FUZZ" */
#define HIF_MNT			"/dev/hugetlb_ioctl_fuzz"
#define HIF_HFS			"/dev/hugepages"
#define HIF_NOBJ		16	/* objects at once */
#define HIF_NSESS		6	/* outgoing sessions at once */
#define HIF_NTOK		24	/* preserved fds of a session */
#define HIF_NKEPT		(HIF_NSESS * HIF_NTOK)
#define HIF_MAXP		16	/* pages a model file knows of */
#define HIF_MAX2M		10	/* largest 2 MiB file, in pages */
#define HIF_MAX1G		2	/* largest 1 GiB file, in pages */
#define HIF_GIANT_FAULTS	4	/* 1 GiB pages zeroed, per stage */
#define HIF_WORDS		16	/* words checked per huge page, + 1 */
#define HIF_SHMEM_SIZE		65536
#define HIF_NCLOSED		8

/* The objects of the pool. */
enum {
	K_NONE, K_HM2, K_HM1G, K_HFS, K_POOL2, K_POOL1, K_SUBDIR, K_SHMEM,
	K_PIPE, K_NULL, K_SHM, K_ANON, K_NR
};

static const char * const hif_kind[K_NR] = {
	"none", "memfd-2M", "memfd-1G", "hugetlbfs-file", "pool-2M",
	"pool-1G", "hugetlbfs-dir", "shmem-memfd", "pipe", "/dev/null",
	"sysv-shm", "pool-token",
};

/* The operations, counted per kind and errno. */
enum {
	OP_CREATE, OP_CLOSE_SESS, OP_NEW, OP_CLOSE_OBJ, OP_PRESERVE,
	OP_PRESERVE_ALIAS, OP_PRESERVE_ODD_FD, OP_GARBAGE, OP_UNKNOWN,
	OP_OUT_RETRIEVE_FD, OP_OUT_FINISH, OP_RETRIEVE_SESS, OP_GET_NAME,
	OP_FTRUNCATE, OP_FALLOCATE, OP_PUNCH, OP_ZERO_RANGE, OP_WRITE_SYS,
	OP_MMAP_PAST, OP_WRITE_PAGE, OP_SEAL, OP_CHECK, OP_LUO_REOPEN,
	OP_IN_RETRIEVE_FD, OP_IN_FINISH, OP_IN_CLOSE, OP_IN_GARBAGE, OP_NR
};

static const char * const hif_op[OP_NR] = {
	"create-session", "close-session", "new-object", "close-object",
	"preserve", "preserve-alias", "preserve-bad-fd", "garbage-arg",
	"unknown-ioctl", "retrieve-fd-out", "finish-out", "retrieve-session",
	"get-name", "ftruncate", "fallocate", "punch-hole", "zero-range",
	"write(2)", "mmap-past-eof", "write-page", "add-seals", "check-file",
	"reopen-luo", "retrieve-fd-in", "finish-in", "close-in",
	"garbage-in",
};

/* How the argument of an ioctl is laid out. */
enum {
	V_OK, V_BIGZERO, V_E2BIG, V_SMALL, V_NULL, V_UNMAPPED, V_TAILFAULT,
	V_RO, V_NR
};

/* One object: a file the fuzzer holds, or LUO holds for it. */
struct hif_obj {
	int kind;
	int fd;
	int wfd;		/* the write end of a pipe */
	int h;			/* page size of a hugetlb file or pool */
	int sess;		/* outgoing session preserving it, or -1 */
	int insess;		/* incoming session that gave it back, or -1 */
	int linked;		/* a file of /dev/hugepages not unlinked yet */
	uint64_t token;
	int64_t size;
	uint32_t present;	/* huge pages there */
	uint32_t regions;	/* huge pages in the reservation map */
	uint32_t seals;
	uint32_t pseals;	/* seals when it was preserved */
	uint32_t serial;
	uint32_t gen[HIF_MAXP];
	char path[64];
};

/* A kept file, as stage 2 must find it. */
struct hif_kfile {
	int32_t kind;
	int32_t h;
	uint64_t token;
	int64_t size;
	uint32_t present;
	uint32_t regions;
	uint32_t seals;		/* at the kexec: what comes back */
	uint32_t pseals;	/* when it was preserved */
	uint32_t serial;
	uint32_t gen[HIF_MAXP];
};

/* A kept session and its files, file[first] to file[first + nr - 1]. */
struct hif_ksess {
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int32_t first;
	int32_t nr;
	int32_t anchor;		/* holds the memfd with known bytes */
};

struct hif_record {
	uint64_t magic;
	uint64_t seed;
	struct ht_pools base;	/* at the start of stage 1 */
	int32_t nr_sess;
	int32_t nr_files;
	struct hif_ksess sess[HIF_NSESS + 1];
	struct hif_kfile file[HIF_NKEPT + 1];
};

/* An outgoing session of the pool. */
struct hif_sess {
	int fd;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int ntok;
	uint64_t tok[HIF_NTOK];
	int obj[HIF_NTOK];	/* the object, -1 for none */
};

/* An incoming session, in stage 2. */
struct hif_in {
	int state;		/* 0 not retrieved, 1 open, 2 gone */
	int fd;
	int finished;
	int fobj[HIF_NKEPT];	/* object of each file once retrieved */
	ino_t ino[HIF_NKEPT];	/* inode of each file once retrieved */
	int got[HIF_NKEPT];
};

static struct hif_obj obj[HIF_NOBJ];
static struct hif_sess sess[HIF_NSESS];
static struct hif_in in[HIF_NSESS + 1];
static struct hif_record rec;
static uint64_t hif_rng;
static unsigned long nr_ops, max_ops = ~0UL;
static unsigned long counts[OP_NR][136];
static int luo, state_fd, stage, giant_left, next_serial = 1;
static int closed_fds[HIF_NCLOSED], nr_closed;
static char *arena;		/* RW page, guard page, read-only page */
static long psz;
static int shm_reachable = -1;
static int verbose, nr_verified, nr_late_sealed;

/* xorshift64*: every draw comes from the seed. */
static uint64_t hif_rand(void)
{
	hif_rng ^= hif_rng >> 12;
	hif_rng ^= hif_rng << 25;
	hif_rng ^= hif_rng >> 27;
	return hif_rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int hif_below(unsigned int n)
{
	return (hif_rand() >> 33) % n;
}

static const char *hif_errname(int err)
{
	static char buf[16];

	switch (err) {
	case 0: return "ok";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case E2BIG: return "E2BIG";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EIO: return "EIO";
	}
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

/*
 * The result @got (0 or -errno) of operation @op must be @exp; else the
 * test fails, naming the operation, both results and @what.
 */
static void hif_expect(int op, int exp, int got, const char *what)
{
	int e = got < 0 ? -got : 0;

	counts[op][e < 136 ? e : 135]++;
	if (verbose)
		ksft_print_msg("%lu %s (%s): %s\n", nr_ops, hif_op[op], what,
			       hif_errname(e));
	if (got == exp)
		return;
	ksft_test_result_fail("%s #%lu (%s): expected %s, got %s\n",
			      hif_op[op], nr_ops, what, hif_errname(-exp),
			      hif_errname(e));
	ksft_exit_fail_msg("seed %llu: op %lu failed; replay with -S %llu -n %lu\n",
			   (unsigned long long)rec.seed, nr_ops,
			   (unsigned long long)rec.seed, nr_ops);
}

/* A syscall result as 0 or -errno. */
static int hif_ret(long ret)
{
	return ret < 0 ? -errno : 0;
}

static unsigned long hif_hsize(int h)
{
	return ht_sizes[h].size;
}

static int hif_is_huge(int k)
{
	return k == K_HM2 || k == K_HM1G || k == K_HFS;
}

/*
 * The LUO handler that takes a kind: 1 hugetlb, 2 memfd, 0 none. A SysV
 * segment's file, opened through map_files, is hugetlb's to refuse.
 */
static int hif_handler(int k)
{
	if (hif_is_huge(k) || k == K_POOL2 || k == K_POOL1 || k == K_SHM)
		return 1;
	return k == K_SHMEM ? 2 : 0;
}

static int hif_maxp(int h)
{
	return h == HT_2M ? HIF_MAX2M : HIF_MAX1G;
}

static uint32_t hif_range(int a, int b)
{
	uint32_t m = 0;

	for (; a < b && a < HIF_MAXP; a++)
		m |= 1U << a;
	return m;
}

/* The free pages of size @h that no reservation holds, from sysfs. */
static long hif_avail(int h)
{
	struct ht_counters c;
	char dir[96];

	snprintf(dir, sizeof(dir), HT_SYSFS "/hugepages-%s", ht_sizes[h].dir);
	if (access(dir, F_OK))
		return 0;
	ht_counters_read(dir, &c, 1);
	return c.free - c.resv;
}

/* Whether @n new huge pages of size @h may be taken now. */
static int hif_budget(int h, int n, int faults)
{
	if (n > hif_avail(h))
		return 0;
	return h != HT_1G || faults <= giant_left;
}

/* The word at byte @off of page @p of the file of @serial, @gen. */
static uint64_t hif_word(uint32_t serial, int p, uint32_t gen, uint64_t off)
{
	return ht_word(rec.seed ^ ((uint64_t)serial << 32) ^ gen, p, off);
}

/* The byte offsets of the words checked in a page of @size. */
static uint64_t hif_off(unsigned long size, int k)
{
	return k < HIF_WORDS ? (size / HIF_WORDS) * k + 64 * k : size - 8;
}

/* ---- ioctls with garbage ------------------------------------------------- */

/*
 * Run ioctl @cmd on @fd with the structure @st of @size bytes laid out as
 * @v says; what the kernel wrote back lands in @st. Returns 0 or -errno.
 */
static int hif_ioctl(int fd, unsigned long cmd, void *st, size_t size, int v)
{
	char *rw = arena, *guard = arena + psz, *ro = arena + 2 * psz;
	uint32_t usize = size;
	char *arg = rw;
	int ret;

	memset(rw, 0, psz);
	if (mprotect(ro, psz, PROT_READ | PROT_WRITE))
		fail_exit("mprotect");
	memset(ro, 0, psz);
	switch (v) {
	case V_BIGZERO:
		usize = size + 8 * (1 + hif_below(64));
		break;
	case V_E2BIG:
		usize = size + 8 * (1 + hif_below(8));
		rw[usize - 1 - hif_below(usize - size)] = 1 + hif_below(255);
		break;
	case V_SMALL:
		usize = hif_below(size);
		break;
	case V_TAILFAULT:
		arg = guard - size;
		usize = size + 8 + hif_below(psz);
		break;
	case V_RO:
		arg = ro;
		break;
	}
	if (v != V_NULL && v != V_UNMAPPED) {
		memcpy(arg, st, size);
		memcpy(arg, &usize, sizeof(usize));
	}
	if (mprotect(ro, psz, PROT_READ))
		fail_exit("mprotect");
	if (v == V_NULL)
		arg = NULL;
	else if (v == V_UNMAPPED)
		arg = guard;
	ret = ioctl(fd, cmd, arg);
	ret = ret < 0 ? -errno : ret;
	if (arg && v != V_UNMAPPED)
		memcpy(st, arg, size);
	return ret;
}

/* A layout: mostly right, else any garbage. */
static int hif_variant(void)
{
	return hif_below(3) ? V_OK : (int)hif_below(V_NR);
}

/*
 * What the checks in front of an ioctl make of layout @v (luo_ioctl(),
 * luo_session_ioctl()): the errno, or 1 to run the ioctl. @type_ok is
 * false for an ioctl of the other kind of session.
 */
static int hif_pre(int v, int type_ok)
{
	if (v == V_NULL || v == V_UNMAPPED)
		return -EFAULT;
	if (!type_ok || v == V_SMALL)
		return -EINVAL;
	if (v == V_E2BIG)
		return -E2BIG;
	if (v == V_TAILFAULT)
		return -EFAULT;
	return 1;
}

/* ---- the model ------------------------------------------------------------ */

/* A free object slot; the last one only if @all (kept for stage ends). */
static int hif_free_obj(int all)
{
	int i;

	for (i = 0; i < HIF_NOBJ - !all; i++) {
		if (obj[i].kind == K_NONE)
			return i;
	}
	return -1;
}

static int hif_pick_obj(int (*ok)(const struct hif_obj *o))
{
	int i, n = 0, pick[HIF_NOBJ];

	for (i = 0; i < HIF_NOBJ; i++) {
		if (obj[i].kind != K_NONE && (!ok || ok(&obj[i])))
			pick[n++] = i;
	}
	return n ? pick[hif_below(n)] : -1;
}

static int hif_has_fd(const struct hif_obj *o)
{
	return o->fd >= 0;
}

static int hif_huge_fd(const struct hif_obj *o)
{
	return o->fd >= 0 && hif_is_huge(o->kind);
}

static int hif_pick_sess(void)
{
	int i, n = 0, pick[HIF_NSESS];

	for (i = 0; i < HIF_NSESS; i++) {
		if (sess[i].fd >= 0)
			pick[n++] = i;
	}
	return n ? pick[hif_below(n)] : -1;
}

/* Remember a closed fd number for "preserve a closed fd". */
static void hif_closed(int fd)
{
	closed_fds[nr_closed++ % HIF_NCLOSED] = fd;
}

/* An object nothing holds any more is gone. */
static void hif_maybe_gone(int i)
{
	struct hif_obj *o = &obj[i];

	if (o->fd >= 0 || o->sess >= 0 || o->insess >= 0 || o->linked)
		return;
	if (o->wfd >= 0)
		close(o->wfd);
	memset(o, 0, sizeof(*o));
	o->kind = K_NONE;
}

/*
 * Unlink and close what object @i holds, outside the model: for the clean-up
 * at the end of a stage.
 */
static void hif_obj_drop(int i)
{
	if (obj[i].linked)
		unlink(obj[i].path);
	if (obj[i].fd >= 0)
		close(obj[i].fd);
	if (obj[i].wfd >= 0)
		close(obj[i].wfd);
}

/* Whether the file is held by LUO: preserved, or retrieved, unfinished. */
static int hif_busy(const struct hif_obj *o)
{
	return o->sess >= 0 || o->insess >= 0;
}

/* Add token @tok of object @i (-1: none) to session @s. */
static void hif_add_token(int s, uint64_t tok, int i)
{
	struct hif_sess *se = &sess[s];

	se->tok[se->ntok] = tok;
	se->obj[se->ntok++] = i;
	if (i >= 0) {
		obj[i].sess = s;
		obj[i].token = tok;
		obj[i].pseals = obj[i].seals;
	}
}

static int hif_token_used(int s, uint64_t tok)
{
	int t;

	for (t = 0; t < sess[s].ntok; t++) {
		if (sess[s].tok[t] == tok)
			return 1;
	}
	return 0;
}

/* A token: small ones collide, some are taken from any session. */
static uint64_t hif_token(void)
{
	int s, r = hif_below(10);

	if (r < 6)
		return hif_below(12);
	if (r < 8) {
		s = hif_pick_sess();
		if (s >= 0 && sess[s].ntok)
			return sess[s].tok[hif_below(sess[s].ntok)];
	}
	return r == 8 ? ~0ULL - hif_below(2) : hif_rand();
}

/* ---- sessions ------------------------------------------------------------- */

/* Close outgoing session @s: its files are unpreserved. */
static void hif_close_sess(int s)
{
	int t, i;

	close(sess[s].fd);
	hif_closed(sess[s].fd);
	for (t = 0; t < sess[s].ntok; t++) {
		i = sess[s].obj[t];
		if (i < 0)
			continue;
		obj[i].sess = -1;
		/* A file of /dev/hugepages nobody holds: unlinked now. */
		if (obj[i].fd < 0 && obj[i].linked) {
			unlink(obj[i].path);
			obj[i].linked = 0;
		}
		hif_maybe_gone(i);
	}
	memset(&sess[s], 0, sizeof(sess[s]));
	sess[s].fd = -1;
}

/* Whether @name (64 bytes) is the name of a live outgoing session. */
static int hif_name_taken(const char *name)
{
	int s;

	if (!strncmp(name, HIF_STATE_SESSION, LIVEUPDATE_SESSION_NAME_LENGTH) &&
	    stage == 1)
		return 1;
	for (s = 0; s < HIF_NSESS; s++) {
		if (sess[s].fd >= 0 &&
		    !strncmp(sess[s].name, name, LIVEUPDATE_SESSION_NAME_LENGTH))
			return 1;
	}
	return 0;
}

/*
 * A session name: fresh, taken, the state session's, empty, 63 or 64
 * bytes without a NUL, or a taken one with garbage after its NUL.
 */
static void hif_name(char *name, int fresh_only)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-_ .:/";
	int s, len, i, r = fresh_only ? 0 : hif_below(10);

	memset(name, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
	if (r < 4) {
		len = 1 + hif_below(r ? 63 : 12);
		for (i = 0; i < len; i++)
			name[i] = chars[hif_below(sizeof(chars) - 1)];
		return;
	}
	s = hif_pick_sess();
	if (r < 6 && s >= 0) {
		memcpy(name, sess[s].name, LIVEUPDATE_SESSION_NAME_LENGTH);
		len = strlen(name);
		if (r == 5 && len < 62)
			name[len + 1 + hif_below(62 - len)] = 'x';
		return;
	}
	/* An incoming name is free for an outgoing session. */
	if (r == 6) {
		if (stage == 2 && rec.nr_sess)
			memcpy(name, rec.sess[hif_below(rec.nr_sess)].name,
			       LIVEUPDATE_SESSION_NAME_LENGTH);
		else
			snprintf(name, LIVEUPDATE_SESSION_NAME_LENGTH, "%s",
				 HIF_STATE_SESSION);
		return;
	}
	if (r == 7)
		return;
	memset(name, 'A' + hif_below(26), LIVEUPDATE_SESSION_NAME_LENGTH);
	if (r == 8)
		name[63] = '\0';
}

/* Create a session: the name and the layout from the seed. */
static void op_create(void)
{
	struct liveupdate_ioctl_create_session arg = { 0 };
	int s, v = hif_variant(), exp, ret, len;
	char what[96];

	for (s = 0; s < HIF_NSESS && sess[s].fd >= 0; s++)
		;
	hif_name((char *)arg.name, 0);
	len = strnlen((char *)arg.name, LIVEUPDATE_SESSION_NAME_LENGTH);
	exp = hif_pre(v, 1);
	if (exp == 1) {
		if (!len || len > LIVEUPDATE_SESSION_NAME_LENGTH - 1)
			exp = -EINVAL;
		else if (hif_name_taken((char *)arg.name))
			exp = -EEXIST;
		else
			exp = v == V_RO ? -EFAULT : 0;
	}
	/* The pool is full: only what must fail, or close it at once. */
	if (s == HIF_NSESS && !exp && hif_below(2))
		return;
	arg.fd = -1;
	ret = hif_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &arg, sizeof(arg),
			v);
	snprintf(what, sizeof(what), "name \"%.24s\" len %d layout %d", arg.name,
		 len, v);
	hif_expect(OP_CREATE, exp, ret, what);
	if (ret)
		return;
	if (arg.fd < 0)
		hif_expect(OP_CREATE, 0, -EBADF, "no session fd returned");
	if (s == HIF_NSESS) {
		close(arg.fd);
		return;
	}
	sess[s].fd = arg.fd;
	memcpy(sess[s].name, arg.name, LIVEUPDATE_SESSION_NAME_LENGTH);
	sess[s].ntok = 0;
}

static void op_close_sess(void)
{
	int s = hif_pick_sess();

	if (s < 0)
		return;
	hif_expect(OP_CLOSE_SESS, 0, 0, "close");
	hif_close_sess(s);
}

static void op_get_name(void)
{
	struct liveupdate_session_get_name arg = { 0 };
	int s = hif_pick_sess(), v = hif_variant(), exp, ret;
	const char *want;

	if (s < 0)
		return;
	want = sess[s].name;
	if (!hif_below(4))
		arg.reserved = 1 + hif_below(0xffff);
	exp = hif_pre(v, 1);
	if (exp == 1)
		exp = arg.reserved ? -EINVAL : v == V_RO ? -EFAULT : 0;
	ret = hif_ioctl(sess[s].fd, LIVEUPDATE_SESSION_GET_NAME, &arg,
			sizeof(arg), v);
	hif_expect(OP_GET_NAME, exp, ret, "get the name");
	if (!ret && strncmp((char *)arg.name, want, sizeof(arg.name)))
		hif_expect(OP_GET_NAME, 0, -EINVAL, "the name differs");
}

/* ---- objects ------------------------------------------------------------ */

static void hif_write_page(struct hif_obj *o, int p);

/* A hugetlb file of @h with @pages pages, some of them written. */
static void hif_new_huge(struct hif_obj *o, int h)
{
	int pages = hif_below(h == HT_2M ? 5 : 2), p;

	o->h = h;
	o->seals = F_SEAL_SEAL;
	if (o->kind == K_HFS) {
		snprintf(o->path, sizeof(o->path), HIF_HFS "/hif-%u", o->serial);
		o->fd = open(o->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (o->fd < 0)
			fail_exit("create %s", o->path);
		o->linked = 1;
		if (!hif_below(3)) {
			unlink(o->path);
			o->linked = 0;
		}
	} else {
		unsigned int flags = ht_sizes[h].mfd_flag;

		if (hif_below(2)) {
			flags |= MFD_ALLOW_SEALING;
			o->seals = 0;
		}
		o->fd = memfd_create("hif", MFD_HUGETLB | flags);
		if (o->fd < 0)
			fail_exit("memfd_create of %s pages", ht_sizes[h].label);
	}
	if (ftruncate(o->fd, pages * hif_hsize(h)))
		fail_exit("ftruncate a new file");
	o->size = pages * hif_hsize(h);
	for (p = 0; p < pages; p++) {
		if (hif_below(2) && hif_budget(h, 1, 1))
			hif_write_page(o, p);
	}
}

/* A new object of a random kind in a free slot. */
static void op_new(void)
{
	int i = hif_free_obj(0), k, p[2], ret;
	struct hif_obj *o;
	char buf[64];

	if (i < 0)
		return;
	o = &obj[i];
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->wfd = -1;
	o->sess = -1;
	o->insess = -1;
	o->serial = next_serial++;
	k = K_HM2 + hif_below(K_SHM - K_HM2 + 1);
	if (k == K_HM1G && !rec.base.present[HT_1G])
		k = K_HM2;
	if (k == K_POOL1 && !rec.base.present[HT_1G])
		k = K_POOL2;
	/* One mount root each: open it again through preserve-alias. */
	if ((k == K_POOL2 || k == K_POOL1) &&
	    hif_pick_obj(NULL) >= 0) {
		int j;

		for (j = 0; j < HIF_NOBJ; j++) {
			if (obj[j].kind == k)
				k = K_NULL;
		}
	}
	if (k == K_SHM && !shm_reachable)
		k = K_PIPE;
	o->kind = k;
	switch (k) {
	case K_HM2:
	case K_HFS:
		hif_new_huge(o, HT_2M);
		break;
	case K_HM1G:
		hif_new_huge(o, HT_1G);
		break;
	case K_POOL2:
		o->h = HT_2M;
		o->fd = open(HIF_HFS, O_RDONLY | O_DIRECTORY);
		break;
	case K_POOL1:
		o->h = HT_1G;
		o->fd = ht_pool_root(HIF_MNT, HT_1G, NULL);
		break;
	case K_SUBDIR:
		if (mkdir(HIF_HFS "/hif-dir", 0755) && errno != EEXIST)
			fail_exit("mkdir in " HIF_HFS);
		o->fd = open(HIF_HFS "/hif-dir", O_RDONLY | O_DIRECTORY);
		break;
	case K_SHMEM:
		o->fd = memfd_create("hif-shmem", 0);
		snprintf(buf, sizeof(buf), "hif-shmem-%u", o->serial);
		if (o->fd < 0 || ftruncate(o->fd, HIF_SHMEM_SIZE) ||
		    pwrite(o->fd, buf, sizeof(buf), 0) != sizeof(buf))
			fail_exit("shmem memfd");
		o->size = HIF_SHMEM_SIZE;
		break;
	case K_PIPE:
		if (pipe(p))
			fail_exit("pipe");
		o->fd = p[0];
		o->wfd = p[1];
		break;
	case K_NULL:
		o->fd = open("/dev/null", O_RDWR);
		break;
	case K_SHM: {
		void *addr;

		ret = shmget(IPC_PRIVATE, HT_HPAGE, IPC_CREAT | SHM_HUGETLB | 0600);
		addr = ret < 0 ? NULL : shmat(ret, NULL, 0);
		if (ret >= 0)
			shmctl(ret, IPC_RMID, NULL);
		if (!addr || addr == (void *)-1) {
			o->kind = K_NONE;
			return;
		}
		snprintf(buf, sizeof(buf), "/proc/self/map_files/%lx-%lx",
			 (unsigned long)addr, (unsigned long)addr + HT_HPAGE);
		o->fd = open(buf, O_RDWR);
		shmdt(addr);
		break;
	}
	}
	if (o->fd < 0)
		fail_exit("new %s", hif_kind[k]);
	hif_expect(OP_NEW, 0, 0, hif_kind[k]);
}

static void op_close_obj(void)
{
	int i = hif_pick_obj(hif_has_fd);
	struct hif_obj *o;

	if (i < 0)
		return;
	o = &obj[i];
	close(o->fd);
	hif_closed(o->fd);
	o->fd = -1;
	if (o->linked && (!hif_busy(o) || hif_below(2))) {
		unlink(o->path);
		o->linked = 0;
	}
	hif_expect(OP_CLOSE_OBJ, 0, 0, hif_kind[o->kind]);
	hif_maybe_gone(i);
}

/* ---- preserve ----------------------------------------------------------- */

/*
 * Preserve @fd, object @i (-1: no object; @kind says what it is), into
 * outgoing session @s as @tok with layout @v, and check the result
 * against luo_preserve_file() and the handlers.
 */
static void hif_preserve(int op, int s, int fd, int i, int kind, uint64_t tok,
			 int v)
{
	struct liveupdate_session_preserve_fd arg = { 0 };
	struct hif_obj *o = i >= 0 ? &obj[i] : NULL;
	int exp, ret;
	char what[96];

	arg.fd = fd;
	arg.token = tok;
	exp = hif_pre(v, 1);
	if (exp == 1) {
		if (hif_token_used(s, tok))
			exp = -EEXIST;
		else if (!o && kind == K_NONE)
			exp = -EBADF;
		else if (!hif_handler(kind))
			exp = -ENOENT;
		else if (o && hif_busy(o))
			exp = -EBUSY;
		else if (kind == K_SHM)
			exp = -EOPNOTSUPP;
		else if (hif_is_huge(kind) && o->size % hif_hsize(o->h))
			exp = -EINVAL;
		else
			exp = 0;
	}
	if (!exp && sess[s].ntok == HIF_NTOK)
		return;
	ret = hif_ioctl(sess[s].fd, LIVEUPDATE_SESSION_PRESERVE_FD, &arg,
			sizeof(arg), v);
	/* Preserved, but the answer could not be written back. */
	if (!exp && v == V_RO)
		exp = -EFAULT;
	snprintf(what, sizeof(what), "%s fd %d token %#llx session %d layout %d",
		 hif_kind[kind], fd, (unsigned long long)tok, s, v);
	hif_expect(op, exp, ret, what);
	if (!exp || (exp == -EFAULT && v == V_RO))
		hif_add_token(s, tok, i);
}

static void op_preserve(void)
{
	int s = hif_pick_sess(), i = hif_pick_obj(hif_has_fd);

	if (s < 0 || i < 0)
		return;
	hif_preserve(OP_PRESERVE, s, obj[i].fd, i, obj[i].kind, hif_token(),
		     hif_variant());
}

/* The same file through another fd: dup(), or opened again. */
static void op_preserve_alias(void)
{
	int s = hif_pick_sess(), i = hif_pick_obj(hif_has_fd), fd;
	char path[64];

	if (s < 0 || i < 0 || obj[i].kind == K_PIPE || obj[i].kind == K_SHM)
		return;
	if (hif_below(2)) {
		fd = dup(obj[i].fd);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", obj[i].fd);
		fd = open(path, obj[i].kind == K_POOL2 || obj[i].kind == K_POOL1 ||
			  obj[i].kind == K_SUBDIR ? O_RDONLY | O_DIRECTORY : O_RDWR);
		/* An anonymous inode cannot be opened again. */
		if (fd < 0)
			fd = dup(obj[i].fd);
	}
	if (fd < 0)
		fail_exit("open %s again", hif_kind[obj[i].kind]);
	hif_preserve(OP_PRESERVE_ALIAS, s, fd, i, obj[i].kind, hif_token(),
		     V_OK);
	close(fd);
}

/* Preserve what is no file to preserve: -1, a closed fd, the LUO fds. */
static void op_preserve_odd_fd(void)
{
	int s = hif_pick_sess(), fd = -1, r = hif_below(5), kind = K_NONE;

	if (s < 0)
		return;
	if (r == 1 && nr_closed) {
		fd = closed_fds[hif_below(nr_closed < HIF_NCLOSED ? nr_closed :
					  HIF_NCLOSED)];
		if (fcntl(fd, F_GETFD) >= 0)
			return;
	} else if (r == 2) {
		fd = luo;
		kind = K_NULL;
	} else if (r == 3) {
		fd = sess[hif_pick_sess()].fd;
		kind = K_NULL;
	} else if (r == 4) {
		fd = 1 << 20;
	}
	hif_preserve(OP_PRESERVE_ODD_FD, s, fd, -1, kind, hif_token(),
		     hif_variant());
}

/* ---- garbage and the ioctls of the other side ------------------------- */

/* Reserved fields and sizes on a session that is ours. */
static void op_garbage(void)
{
	struct liveupdate_session_finish fin = { 0 };
	int s = hif_pick_sess(), v = 1 + hif_below(V_NR - 1), exp, ret;

	if (s < 0)
		return;
	/* V_OK is the normal op; here: every other layout. */
	if (v == V_RO || v == V_BIGZERO)
		v = V_E2BIG;
	fin.reserved = hif_rand();
	exp = hif_pre(v, 0);
	ret = hif_ioctl(sess[s].fd, LIVEUPDATE_SESSION_FINISH, &fin,
			sizeof(fin), v);
	hif_expect(OP_GARBAGE, exp, ret, "finish with garbage on an outgoing session");
}

/*
 * An ioctl number that is none of LUO's, on /dev/liveupdate or a session:
 * EINVAL for a number out of the table's range, ENOTTY (-ENOIOCTLCMD)
 * for one in range with other bits, after the size is read (EFAULT).
 */
static void op_unknown(void)
{
	int s = hif_pick_sess(), on_luo = s < 0 || hif_below(2);
	unsigned int type = hif_below(4) ? LIVEUPDATE_IOCTL_TYPE : 0xbb;
	unsigned int nr, dir = hif_below(4), size = hif_below(64);
	unsigned int base = on_luo ? 0 : LIVEUPDATE_CMD_SESSION_BASE;
	unsigned int count = on_luo ? 2 : 4;
	uint64_t buf[16] = { 72 };
	int v = hif_below(4) ? V_OK : V_NULL, exp, ret;
	unsigned long cmd;

	nr = hif_below(3) ? base + hif_below(count) : hif_below(256);
	cmd = _IOC(dir, type, nr, size);
	if (type == LIVEUPDATE_IOCTL_TYPE && !dir && !size &&
	    nr - base < count)
		return;		/* that is a real one */
	if (nr - base >= count)
		exp = -EINVAL;
	else
		exp = v == V_NULL ? -EFAULT : -ENOTTY;
	ret = hif_ioctl(on_luo ? luo : sess[s].fd, cmd, buf, sizeof(buf), v);
	hif_expect(OP_UNKNOWN, exp, ret, on_luo ? "on /dev/liveupdate" :
		   "on a session");
}

/* What only an incoming session may do, on an outgoing one: EINVAL. */
static void op_out_incoming_only(void)
{
	struct liveupdate_session_retrieve_fd arg = { .token = hif_token() };
	struct liveupdate_session_finish fin = { 0 };
	int s = hif_pick_sess(), v = hif_variant(), ret;

	if (s < 0)
		return;
	if (hif_below(2)) {
		ret = hif_ioctl(sess[s].fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg,
				sizeof(arg), v);
		hif_expect(OP_OUT_RETRIEVE_FD, hif_pre(v, 0), ret,
			   "retrieve from an outgoing session");
	} else {
		ret = hif_ioctl(sess[s].fd, LIVEUPDATE_SESSION_FINISH, &fin,
				sizeof(fin), v);
		hif_expect(OP_OUT_FINISH, hif_pre(v, 0), ret,
			   "finish an outgoing session");
	}
}

/* The incoming session named @name, or -1. */
static int hif_in_named(const char *name)
{
	int s;

	if (stage != 2)
		return -1;
	for (s = 0; s < rec.nr_sess; s++) {
		if (!strncmp(rec.sess[s].name, name,
			     LIVEUPDATE_SESSION_NAME_LENGTH))
			return s;
	}
	return -1;
}

static void hif_in_gone(int s);

/*
 * RETRIEVE_SESSION: ENOENT for a name no incoming session has (every name
 * in stage 1), EINVAL for one retrieved already, a session fd else. With
 * a read-only argument the session is retrieved, then released when the
 * answer cannot be written back: EFAULT, and the session is finished and
 * gone. The session with the known bytes is spared that.
 */
static void op_retrieve_sess(void)
{
	struct liveupdate_ioctl_retrieve_session arg = { 0 };
	int v = hif_variant(), s = -1, exp, ret;
	char what[96];

	if (stage == 2 && hif_below(2)) {
		s = hif_below(rec.nr_sess);
		memcpy(arg.name, rec.sess[s].name, sizeof(arg.name));
		if (!hif_below(8))
			snprintf((char *)arg.name, sizeof(arg.name), "%s",
				 HIF_STATE_SESSION);
	} else {
		hif_name((char *)arg.name, 0);
	}
	s = hif_in_named((char *)arg.name);
	if (s >= 0 && v == V_RO && rec.sess[s].anchor && !in[s].state)
		v = V_OK;
	exp = hif_pre(v, 1);
	if (exp == 1) {
		if (!strncmp((char *)arg.name, HIF_STATE_SESSION,
			     sizeof(arg.name)) && stage == 2)
			exp = -EINVAL;
		else if (s < 0 || in[s].state == 2)
			exp = -ENOENT;
		else if (in[s].state == 1)
			exp = -EINVAL;
		else
			exp = v == V_RO ? -EFAULT : 0;
	}
	arg.fd = -1;
	ret = hif_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &arg,
			sizeof(arg), v);
	snprintf(what, sizeof(what), "name \"%.24s\" layout %d", arg.name, v);
	hif_expect(OP_RETRIEVE_SESS, exp, ret, what);
	if (s < 0 || exp == -EINVAL || exp == -ENOENT || exp == -E2BIG ||
	    exp == -EFAULT) {
		if (exp == -EFAULT && v == V_RO)
			hif_in_gone(s);
		return;
	}
	in[s].state = 1;
	in[s].fd = arg.fd;
}

/* ---- mutations of files ------------------------------------------------- */

/* The pages of @o in @mask and their reservations are gone. */
static void hif_drop(struct hif_obj *o, uint32_t mask)
{
	int p;

	o->present &= ~mask;
	o->regions &= ~mask;
	for (p = 0; p < HIF_MAXP; p++) {
		if (mask & (1U << p))
			o->gen[p] = 0;
	}
}

/* Map page @p of @o and write a new generation of it. */
static void hif_write_page(struct hif_obj *o, int p)
{
	unsigned long size = hif_hsize(o->h);
	uint32_t bit = 1U << p;
	char *map;
	int k;

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd,
		   (off_t)p * size);
	if (map == MAP_FAILED)
		fail_exit("map page %d of a %s file", p, ht_sizes[o->h].label);
	o->gen[p]++;
	for (k = 0; k <= HIF_WORDS; k++)
		*(uint64_t *)(map + hif_off(size, k)) =
			hif_word(o->serial, p, o->gen[p], hif_off(size, k));
	munmap(map, size);
	if (!(o->present & bit) && o->h == HT_1G)
		giant_left--;
	o->present |= bit;
	o->regions |= bit;
}

/* Write a page of a hugetlb file through a mapping, if a page is free. */
static void op_write_page(void)
{
	int i = hif_pick_obj(hif_huge_fd), p, need;
	struct hif_obj *o;

	if (i < 0)
		return;
	o = &obj[i];
	if (o->size < (int64_t)hif_hsize(o->h))
		return;
	p = hif_below(o->size / hif_hsize(o->h));
	need = !(o->regions & (1U << p));
	if (!hif_budget(o->h, need, !(o->present & (1U << p))))
		return;
	hif_write_page(o, p);
	hif_expect(OP_WRITE_PAGE, 0, 0, "write a page");
}

/* ftruncate: hugetlbfs_setattr(), and a preserved file's size is frozen. */
static void op_ftruncate(void)
{
	int i = hif_pick_obj(hif_huge_fd), n, exp, ret;
	struct hif_obj *o;
	int64_t size;

	if (i < 0)
		return;
	o = &obj[i];
	n = hif_below(hif_maxp(o->h) + 1);
	size = (int64_t)n * hif_hsize(o->h);
	if (!hif_below(4))
		size = hif_below(3) ? size + hif_hsize(o->h) / 2 : o->size;
	if (size % hif_hsize(o->h))
		exp = -EINVAL;
	else if ((size > o->size && (o->seals & F_SEAL_GROW)) ||
		 (size < o->size && (o->seals & F_SEAL_SHRINK)))
		exp = -EPERM;
	else if (size != o->size && o->sess >= 0)
		exp = -EPERM;
	else
		exp = 0;
	ret = hif_ret(ftruncate(o->fd, size));
	hif_expect(OP_FTRUNCATE, exp, ret, o->sess >= 0 ? "preserved" : "not preserved");
	if (ret)
		return;
	o->size = size;
	/* hugetlb_vmtruncate() drops pages and reservations past the end. */
	hif_drop(o, ~hif_range(0, size / hif_hsize(o->h)));
}

/*
 * fallocate: EPERM on a preserved file or past a grow seal; else the pages
 * of the range are there, and the size may end between two pages.
 */
static void op_fallocate(void)
{
	int i = hif_pick_obj(hif_huge_fd), a, b, keep, exp, ret, need, faults;
	unsigned long hs;
	struct hif_obj *o;
	off_t off, len;
	uint32_t range;

	if (i < 0)
		return;
	o = &obj[i];
	hs = hif_hsize(o->h);
	a = hif_below(hif_maxp(o->h));
	b = a + 1 + hif_below(hif_maxp(o->h) - a);
	keep = hif_below(2);
	off = (off_t)a * hs;
	len = (off_t)(b - a) * hs - (hif_below(4) ? 0 : hs / 2);
	range = hif_range(a, b);
	need = ht_popcount(range & ~o->regions);
	faults = ht_popcount(range & ~o->present);
	if (o->sess >= 0)
		exp = -EPERM;
	else if ((o->seals & F_SEAL_GROW) && off + len > o->size)
		exp = -EPERM;
	else
		exp = 0;
	if (!exp && !hif_budget(o->h, need, faults))
		return;
	ret = hif_ret(ht_fallocate(o->fd, keep ? FALLOC_FL_KEEP_SIZE : 0, off,
				   len));
	hif_expect(OP_FALLOCATE, exp, ret, o->sess >= 0 ? "preserved" : "not preserved");
	if (ret)
		return;
	if (o->h == HT_1G)
		giant_left -= faults;
	o->present |= range;
	o->regions |= range;
	if (!keep && off + len > o->size)
		o->size = off + len;
}

/*
 * Punch whole pages: EPERM on a preserved file; else the pages go, and
 * the reservations of those pages only: remove_inode_hugepages() leaves
 * the reservation map of a hole as it is (a truncation clears it).
 */
static void op_punch(void)
{
	const int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int i = hif_pick_obj(hif_huge_fd), a, b, exp, ret;
	struct hif_obj *o;
	unsigned long hs;

	if (i < 0)
		return;
	o = &obj[i];
	hs = hif_hsize(o->h);
	a = hif_below(hif_maxp(o->h));
	b = a + 1 + hif_below(hif_maxp(o->h) - a);
	exp = o->sess >= 0 ? -EPERM : 0;
	ret = hif_ret(ht_fallocate(o->fd, mode, (off_t)a * hs,
				   (off_t)(b - a) * hs));
	hif_expect(OP_PUNCH, exp, ret, o->sess >= 0 ? "preserved" : "not preserved");
	if (ret)
		return;
	hif_drop(o, hif_range(a, b) & o->present);
	o->present &= ~hif_range(a, b);
}

/* What hugetlbfs never does: FALLOC_FL_ZERO_RANGE, write(2). */
static void op_unsupported(void)
{
	int i = hif_pick_obj(hif_huge_fd), ret;
	uint64_t word = hif_rand();

	if (i < 0)
		return;
	if (hif_below(2)) {
		ret = hif_ret(ht_fallocate(obj[i].fd, FALLOC_FL_ZERO_RANGE, 0,
					   hif_hsize(obj[i].h)));
		hif_expect(OP_ZERO_RANGE, -EOPNOTSUPP, ret, hif_kind[obj[i].kind]);
	} else {
		ret = hif_ret(write(obj[i].fd, &word, sizeof(word)));
		hif_expect(OP_WRITE_SYS, -EINVAL, ret, hif_kind[obj[i].kind]);
	}
}

/*
 * A shared read-only mapping one page past the end: EPERM once preserved
 * (it would reserve pages past the end), else it reserves the range.
 */
static void op_mmap_past(void)
{
	int i = hif_pick_obj(hif_huge_fd), n, exp, ret;
	struct hif_obj *o;
	unsigned long len;
	uint32_t range;
	void *map;

	if (i < 0)
		return;
	o = &obj[i];
	if (o->size % hif_hsize(o->h))
		return;
	n = o->size / hif_hsize(o->h) + 1;
	if (n > hif_maxp(o->h))
		return;
	len = n * hif_hsize(o->h);
	range = hif_range(0, n);
	exp = o->sess >= 0 ? -EPERM : 0;
	if (!exp && !hif_budget(o->h, ht_popcount(range & ~o->regions), 0))
		return;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, o->fd, 0);
	ret = map == MAP_FAILED ? -errno : 0;
	hif_expect(OP_MMAP_PAST, exp, ret, o->sess >= 0 ? "preserved" : "not preserved");
	if (ret)
		return;
	munmap(map, len);
	o->regions |= range;
}

static int hif_preserved_fd(const struct hif_obj *o)
{
	return hif_huge_fd(o) && o->sess >= 0;
}

/*
 * Add seals to object @i: EPERM once F_SEAL_SEAL is there. A preserved
 * file may get seals too; the freeze reads them again, so they are the
 * ones the next kernel gives the file back with.
 */
static void hif_seal(int i)
{
	static const uint32_t seals[] = {
		F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_GROW | F_SEAL_SHRINK,
		F_SEAL_SEAL,
	};
	uint32_t s = seals[hif_below(4)];
	struct hif_obj *o = &obj[i];
	int exp, ret;

	exp = o->seals & F_SEAL_SEAL ? -EPERM : 0;
	ret = hif_ret(ht_fcntl(o->fd, F_ADD_SEALS, s));
	hif_expect(OP_SEAL, exp, ret, o->sess >= 0 ? "preserved" : "not preserved");
	if (!ret)
		o->seals |= s;
}

/* Seals, half the time on a preserved file (if there is one). */
static void op_seal(void)
{
	int i = -1;

	if (hif_below(2))
		i = hif_pick_obj(hif_preserved_fd);
	if (i < 0)
		i = hif_pick_obj(hif_huge_fd);
	if (i >= 0)
		hif_seal(i);
}

/*
 * The file is as the model says: size, seals, the words of each page
 * there, zeros in each hole (read(2) fills no hole).
 */
static int hif_check(const struct hif_obj *o, uint32_t seals)
{
	unsigned long hs = hif_hsize(o->h);
	struct stat st;
	uint64_t word, exp;
	int p, k, n;
	long got;

	if (fstat(o->fd, &st) || st.st_size != o->size) {
		ksft_print_msg("%s %u: size %lld, expected %lld\n",
			       hif_kind[o->kind], o->serial,
			       (long long)st.st_size, (long long)o->size);
		return -EINVAL;
	}
	got = ht_fcntl(o->fd, F_GET_SEALS, 0);
	if (got != (long)seals) {
		ksft_print_msg("%s %u: seals %#lx, expected %#x\n",
			       hif_kind[o->kind], o->serial, got, seals);
		return -EINVAL;
	}
	n = (o->size + hs - 1) / hs;
	for (p = 0; p < n && p < HIF_MAXP; p++) {
		for (k = 0; k <= HIF_WORDS; k++) {
			off_t off = (off_t)p * hs + hif_off(hs, k);

			if (off + 8 > o->size)
				continue;
			/* fallocate() and reads of holes fill with zeros */
			exp = o->present & (1U << p) && o->gen[p] ?
			      hif_word(o->serial, p, o->gen[p], hif_off(hs, k)) : 0;
			if (pread(o->fd, &word, 8, off) != 8 || word != exp) {
				ksft_print_msg("%s %u: page %d word %d is %#llx, expected %#llx\n",
					       hif_kind[o->kind], o->serial, p, k,
					       (unsigned long long)word,
					       (unsigned long long)exp);
				return -EIO;
			}
		}
	}
	return 0;
}

static void op_check(void)
{
	int i = hif_pick_obj(hif_huge_fd);

	if (i < 0)
		return;
	hif_expect(OP_CHECK, 0, hif_check(&obj[i], obj[i].seals),
		   hif_kind[obj[i].kind]);
}

/* /dev/liveupdate is exclusive: EBUSY while open; closed and opened again. */
static void op_luo_reopen(void)
{
	int fd = open(LUO_DEVICE, O_RDWR), ret;

	hif_expect(OP_LUO_REOPEN, -EBUSY, fd < 0 ? -errno : 0, "a second open");
	if (fd >= 0)
		close(fd);
	close(luo);
	luo = open(LUO_DEVICE, O_RDWR);
	ret = luo < 0 ? -errno : 0;
	hif_expect(OP_LUO_REOPEN, 0, ret, "open again after close");
}

/* ---- incoming sessions (stage 2) ----------------------------------------- */

/* Whether session @s gave back all its files. */
static int hif_in_all_got(int s)
{
	int f;

	for (f = 0; f < rec.sess[s].nr; f++) {
		if (!in[s].got[f])
			return 0;
	}
	return 1;
}

/*
 * An open incoming session; with @ending, one that may be finished or
 * closed: not the one with the known bytes until it gave them back.
 */
static int hif_pick_in(int ending)
{
	int s, n = 0, pick[HIF_NSESS + 1];

	for (s = 0; s < rec.nr_sess; s++) {
		if (in[s].state != 1)
			continue;
		if (ending && rec.sess[s].anchor && !hif_in_all_got(s))
			continue;
		pick[n++] = s;
	}
	return n ? pick[hif_below(n)] : -1;
}

/* Session @s finished: what it gave back is no longer held by LUO. */
static void hif_in_finished(int s)
{
	int f, i;

	in[s].finished = 1;
	for (f = 0; f < rec.sess[s].nr; f++) {
		i = in[s].fobj[f];
		if (i < 0 || !in[s].got[f])
			continue;
		in[s].fobj[f] = -1;
		if (obj[i].kind != K_NONE && obj[i].insess == s) {
			obj[i].insess = -1;
			hif_maybe_gone(i);
		}
	}
}

static void hif_in_gone(int s)
{
	if (s < 0)
		return;
	hif_in_finished(s);
	in[s].state = 2;
	in[s].fd = -1;
}

/*
 * An object for a file retrieved from session @s as its file @f (@fd),
 * the model taken from the record: its pages and reservations past the
 * end stayed behind. The file must be what stage 1 left at the kexec.
 */
static void hif_retrieved(int s, int f, int fd)
{
	const struct hif_kfile *kf = &rec.file[rec.sess[s].first + f];
	struct hif_obj tmp = { 0 }, *o = &tmp;
	char buf[64], want[64];
	int i = hif_free_obj(1), n;

	o->kind = kf->kind;
	o->fd = fd;
	o->wfd = -1;
	o->sess = -1;
	o->insess = s;
	o->h = kf->h;
	o->size = kf->size;
	o->present = kf->present;
	o->serial = kf->serial;
	memcpy(o->gen, kf->gen, sizeof(o->gen));
	o->seals = kf->seals;
	if (hif_is_huge(kf->kind)) {
		/*
		 * The scan of the freeze stops at the end of the file: pages
		 * and reservations past it stayed behind in the old kernel.
		 */
		n = kf->size / hif_hsize(kf->h);
		o->present &= hif_range(0, n);
		o->regions = (kf->regions | kf->present) & hif_range(0, n);
		/* It comes back as a memfd that allows sealing. */
		o->kind = kf->h == HT_2M ? K_HM2 : K_HM1G;
		hif_expect(OP_CHECK, 0, hif_check(o, kf->seals),
			   "the retrieved file is what was at the kexec");
		nr_verified++;
		nr_late_sealed += kf->seals != kf->pseals;
	} else if (kf->kind == K_SHMEM) {
		snprintf(want, sizeof(want), "hif-shmem-%u", kf->serial);
		memset(buf, 0, sizeof(buf));
		if (pread(fd, buf, sizeof(buf), 0) != sizeof(buf) ||
		    strcmp(buf, want))
			hif_expect(OP_IN_RETRIEVE_FD, 0, -EIO, "shmem memfd bytes");
	} else {
		o->kind = K_ANON;
	}
	if (i < 0) {
		close(fd);
		in[s].fobj[f] = -1;
		return;
	}
	obj[i] = *o;
	in[s].fobj[f] = i;
}

/*
 * RETRIEVE_FD: a right token gives the file, the same file again the next
 * time; a wrong one ENOENT; nothing after finish (ENOENT).
 */
static void op_in_retrieve_fd(void)
{
	struct liveupdate_session_retrieve_fd arg = { 0 };
	int s = hif_pick_in(0), v = hif_variant(), f = -1, t, exp, ret;
	const struct hif_ksess *ks;
	struct stat st;
	char what[96];

	if (s < 0)
		return;
	ks = &rec.sess[s];
	if (ks->nr && hif_below(4)) {
		f = hif_below(ks->nr);
		arg.token = rec.file[ks->first + f].token;
	} else {
		arg.token = hif_token();
		for (t = 0; t < ks->nr; t++) {
			if (rec.file[ks->first + t].token == arg.token)
				f = t;
		}
	}
	exp = hif_pre(v, 1);
	if (exp == 1) {
		if (in[s].finished || f < 0)
			exp = -ENOENT;
		else
			exp = v == V_RO ? -EFAULT : 0;
	}
	arg.fd = -1;
	ret = hif_ioctl(in[s].fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg,
			sizeof(arg), v);
	snprintf(what, sizeof(what), "session %d token %#llx layout %d", s,
		 (unsigned long long)arg.token, v);
	hif_expect(OP_IN_RETRIEVE_FD, exp, ret, what);
	if (ret || exp)
		return;
	if (fstat(arg.fd, &st))
		fail_exit("fstat a retrieved file");
	if (in[s].got[f]) {
		/* The same file: a reference more to it. */
		if (st.st_ino != in[s].ino[f])
			hif_expect(OP_IN_RETRIEVE_FD, 0, -EINVAL,
				   "retrieved again: another file");
		close(arg.fd);
		return;
	}
	in[s].got[f] = 1;
	in[s].ino[f] = st.st_ino;
	hif_retrieved(s, f, arg.fd);
}

/* FINISH on an incoming session: any time, twice too; EINVAL if reserved. */
static void op_in_finish(void)
{
	struct liveupdate_session_finish fin = { 0 };
	int s = hif_pick_in(1), v = hif_variant(), exp, ret;

	if (s < 0)
		return;
	if (!hif_below(4))
		fin.reserved = 1 + hif_below(1000);
	exp = hif_pre(v, 1);
	if (exp == 1)
		exp = fin.reserved ? -EINVAL : v == V_RO ? -EFAULT : 0;
	ret = hif_ioctl(in[s].fd, LIVEUPDATE_SESSION_FINISH, &fin, sizeof(fin),
			v);
	hif_expect(OP_IN_FINISH, exp, ret, in[s].finished ? "again" : "first");
	/* The answer is written after the files are finished. */
	if (!exp || (v == V_RO && !fin.reserved))
		hif_in_finished(s);
}

/* Close an incoming session: finished, and RETRIEVE_SESSION finds none. */
static void op_in_close(void)
{
	int s = hif_pick_in(1);

	if (s < 0)
		return;
	close(in[s].fd);
	hif_closed(in[s].fd);
	hif_expect(OP_IN_CLOSE, 0, 0, "close");
	hif_in_gone(s);
}

/* Incoming sessions cannot preserve; get the name of one. */
static void op_in_garbage(void)
{
	struct liveupdate_session_preserve_fd arg = { .fd = 0 };
	struct liveupdate_session_get_name gn = { 0 };
	int s = hif_pick_in(0), v = hif_variant(), ret, exp;

	if (s < 0)
		return;
	if (hif_below(2)) {
		arg.token = hif_token();
		ret = hif_ioctl(in[s].fd, LIVEUPDATE_SESSION_PRESERVE_FD, &arg,
				sizeof(arg), v);
		hif_expect(OP_IN_GARBAGE, hif_pre(v, 0), ret,
			   "preserve into an incoming session");
		return;
	}
	exp = hif_pre(v, 1);
	if (exp == 1)
		exp = v == V_RO ? -EFAULT : 0;
	ret = hif_ioctl(in[s].fd, LIVEUPDATE_SESSION_GET_NAME, &gn, sizeof(gn),
			v);
	hif_expect(OP_IN_GARBAGE, exp, ret, "get the name of an incoming session");
	if (!ret && strncmp((char *)gn.name, rec.sess[s].name, sizeof(gn.name)))
		hif_expect(OP_IN_GARBAGE, 0, -EINVAL, "incoming name differs");
}

/* ---- the loop ------------------------------------------------------------ */

struct hif_weight {
	void (*fn)(void);
	int weight;
	int stage2_only;
};

static const struct hif_weight hif_ops[] = {
	{ op_create, 8 }, { op_close_sess, 1 }, { op_new, 8 },
	{ op_close_obj, 4 }, { op_preserve, 20 }, { op_preserve_alias, 4 },
	{ op_preserve_odd_fd, 4 }, { op_garbage, 5 }, { op_unknown, 5 },
	{ op_out_incoming_only, 5 }, { op_retrieve_sess, 5 },
	{ op_get_name, 4 }, { op_ftruncate, 5 }, { op_fallocate, 5 },
	{ op_punch, 4 }, { op_unsupported, 2 }, { op_mmap_past, 4 },
	{ op_write_page, 6 }, { op_seal, 3 }, { op_check, 3 },
	{ op_luo_reopen, 1 },
	{ op_in_retrieve_fd, 10, 1 }, { op_in_finish, 2, 1 },
	{ op_in_close, 1, 1 }, { op_in_garbage, 4, 1 },
};

/* In stage 2, half the draws while incoming sessions are left. */
static const struct hif_weight hif_in_ops[] = {
	{ op_retrieve_sess, 4 }, { op_in_retrieve_fd, 12 },
	{ op_in_finish, 1 }, { op_in_close, 1 }, { op_in_garbage, 3 },
};

/* Whether an incoming session is still there. */
static int hif_in_left(void)
{
	int s;

	for (s = 0; s < rec.nr_sess && stage == 2; s++) {
		if (in[s].state != 2)
			return 1;
	}
	return 0;
}

/* Run one of the @n operations of @ops, drawn by their weights. */
static void hif_draw(const struct hif_weight *ops, int n)
{
	int i, total = 0, r;

	for (i = 0; i < n; i++) {
		if (!ops[i].stage2_only || stage == 2)
			total += ops[i].weight;
	}
	r = hif_below(total);
	for (i = 0; i < n; i++) {
		if (ops[i].stage2_only && stage != 2)
			continue;
		if (r < ops[i].weight)
			break;
		r -= ops[i].weight;
	}
	ops[i].fn();
}

static double hif_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Random operations for @secs seconds (or max_ops); returns how long. */
static double hif_fuzz(double secs)
{
	double start = hif_now();

	while (nr_ops < max_ops && hif_now() - start < secs) {
		nr_ops++;
		if (hif_in_left() && hif_below(2))
			hif_draw(hif_in_ops, ARRAY_SIZE(hif_in_ops));
		else
			hif_draw(hif_ops, ARRAY_SIZE(hif_ops));
	}
	return hif_now() - start;
}

/* The table: each kind of operation, how often, and how each ended. */
static void hif_table(const char *when, double secs)
{
	char line[512];
	int op, e, len;
	unsigned long n;

	ksft_print_msg("%s: seed %llu, %lu operations in %.1f s\n", when,
		       (unsigned long long)rec.seed, nr_ops, secs);
	for (op = 0; op < OP_NR; op++) {
		for (n = 0, e = 0; e < 136; e++)
			n += counts[op][e];
		if (!n)
			continue;
		len = snprintf(line, sizeof(line), "%-18s %6lu", hif_op[op], n);
		for (e = 0; e < 136 && len < (int)sizeof(line) - 24; e++) {
			if (counts[op][e])
				len += snprintf(line + len, sizeof(line) - len,
						" %s:%lu", hif_errname(e),
						counts[op][e]);
		}
		ksft_print_msg("  %s\n", line);
	}
}

/* Counters @c as text, in buffer @b of two. */
static const char *hif_counters(const struct ht_counters *c, int b)
{
	static char buf[2][80];

	snprintf(buf[b], sizeof(buf[b]), "%lld %lld %lld %lld",
		 (long long)c->nr, (long long)c->free, (long long)c->resv,
		 (long long)c->surp);
	return buf[b];
}

/*
 * The pools must be @base with the kept files of the record: their pages
 * in use, their holes reserved, nothing surplus. With @past_end (before
 * the kexec) that holds past the end of a file too; after the kexec only
 * inside it: the freeze scans a file up to its size, so what fallocate()
 * with FALLOC_FL_KEEP_SIZE put past the end stayed in the old kernel.
 * Checked overall per page size, with time to settle.
 */
static void hif_expect_pools(const char *what, int past_end)
{
	struct ht_counters exp[HT_NR_SIZES];
	struct ht_pools got;
	int h, f, bad = 0, waited, n;

	for (h = 0; h < HT_NR_SIZES; h++) {
		exp[h] = rec.base.all[h];
		exp[h].surp = 0;
		exp[h].resv = 0;
	}
	for (f = 0; f < rec.nr_files; f++) {
		const struct hif_kfile *kf = &rec.file[f];
		uint32_t regions = kf->regions;

		if (!hif_is_huge(kf->kind))
			continue;
		uint32_t present = kf->present;

		n = kf->size / hif_hsize(kf->h);
		if (!past_end) {
			regions &= hif_range(0, n);
			present &= hif_range(0, n);
		}
		exp[kf->h].free -= ht_popcount(present);
		exp[kf->h].resv += ht_popcount(regions & ~present);
	}
	for (waited = 0; ; waited += 100) {
		ht_pools_read(&got);
		for (bad = 0, h = 0; h < HT_NR_SIZES; h++) {
			if (!rec.base.present[h])
				continue;
			bad += got.all[h].nr != exp[h].nr ||
			       got.all[h].free != exp[h].free ||
			       got.all[h].resv != exp[h].resv ||
			       got.all[h].surp != exp[h].surp;
		}
		if (!bad || waited >= HT_POLL_MS)
			break;
		usleep(100 * 1000);
	}
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!rec.base.present[h])
			continue;
		ksft_print_msg("%s: %s total/free/resv/surplus %s (expected %s)\n",
			       what, ht_sizes[h].label,
			       hif_counters(&got.all[h], 0),
			       hif_counters(&exp[h], 1));
	}
	ksft_test_result(!bad, "%s: pool counters as the kept files explain\n",
			 what);
	if (bad)
		ksft_exit_fail_msg("%s: pool counters differ\n", what);
}

/* -S, -t and -n out of the arguments; luo_test() reads -s. */
static double hif_args(int *argc, char **argv)
{
	double secs = 20;
	int i, j;

	rec.seed = 1;
	for (i = 1; i < *argc - 1; ) {
		if (!strcmp(argv[i], "-S")) {
			rec.seed = strtoull(argv[i + 1], NULL, 0);
		} else if (!strcmp(argv[i], "-t")) {
			secs = atof(argv[i + 1]);
		} else if (!strcmp(argv[i], "-n")) {
			max_ops = strtoul(argv[i + 1], NULL, 0);
		} else if (!strcmp(argv[i], "-v")) {
			verbose = atoi(argv[i + 1]);
		} else {
			i++;
			continue;
		}
		for (j = i; j + 2 <= *argc; j++)
			argv[j] = argv[j + 2];
		*argc -= 2;
	}
	if (secs <= 0 || secs > 3600)
		ksft_exit_fail_msg("-t %g: from 0 to 3600 seconds\n", secs);
	return secs;
}

static double hif_secs;

static void hif_setup(uint64_t salt)
{
	int i;

	psz = getpagesize();
	arena = mmap(NULL, 3 * psz, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED || mprotect(arena + psz, psz, PROT_NONE))
		fail_exit("the argument arena");
	hif_rng = (rec.seed + salt) * 0x9e3779b97f4a7c15ULL | 1;
	giant_left = HIF_GIANT_FAULTS;
	for (i = 0; i < HIF_NSESS; i++)
		sess[i].fd = -1;
	for (i = 0; i < HIF_NOBJ; i++)
		obj[i].kind = K_NONE;
}

/* SysV SHM_HUGETLB: reachable only with SysV IPC in the kernel. */
static void hif_probe_shm(void)
{
	int id = shmget(IPC_PRIVATE, HT_HPAGE, IPC_CREAT | SHM_HUGETLB | 0600);

	shm_reachable = id >= 0;
	if (id >= 0) {
		shmctl(id, IPC_RMID, NULL);
		ksft_print_msg("SysV SHM_HUGETLB segments are fuzzed (%s)\n",
			       "opened through /proc/self/map_files");
	} else {
		ksft_print_msg("SysV SHM_HUGETLB not reachable: shmget: %s (CONFIG_SYSVIPC off?)\n",
			       strerror(errno));
	}
}

/* Close every object and outgoing session the fuzzer holds. */
static void hif_close_all(void)
{
	int i;

	for (i = 0; i < HIF_NSESS; i++) {
		if (sess[i].fd >= 0)
			hif_close_sess(i);
	}
	for (i = 0; i < HIF_NOBJ; i++) {
		if (obj[i].kind != K_NONE)
			hif_obj_drop(i);
	}
}

/*
 * A slot for one more object at the end of stage 1: a free one, or one
 * that no session holds, closed now. -1 if every object is preserved.
 */
static int hif_spare_obj(void)
{
	int i = hif_free_obj(1);

	if (i >= 0)
		return i;
	for (i = 0; i < HIF_NOBJ; i++) {
		if (obj[i].sess >= 0)
			continue;
		hif_obj_drop(i);
		obj[i].kind = K_NONE;
		return i;
	}
	return -1;
}

/*
 * Stage 1, last, into kept session @s: a 2 MiB memfd of one page that
 * allows sealing, with its page written and a page fallocate()d past its
 * end (FALLOC_FL_KEEP_SIZE) where the pool has them, preserved, then
 * sealed: the next kernel must give it back with the seals it has now,
 * and without the page past its end, which stays behind.
 */
static void hif_keep_tail(const int *keep, int s)
{
	static const uint32_t late[] = {
		F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_SEAL | F_SEAL_GROW,
		F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW,
	};
	uint32_t seals = late[hif_below(4)];
	int i = hif_spare_obj(), ret, k;
	struct hif_obj *o;
	uint64_t tok;

	for (k = 0; k < HIF_NSESS && sess[s].ntok == HIF_NTOK; k++) {
		if (keep[k])
			s = k;
	}
	if (i < 0 || sess[s].ntok == HIF_NTOK) {
		ksft_print_msg("no room for the file sealed after preserve\n");
		return;
	}
	o = &obj[i];
	memset(o, 0, sizeof(*o));
	o->kind = K_HM2;
	o->fd = ht_memfd("hif-tail", HT_HPAGE,
			 HT_MFD_HUGE_2MB | MFD_ALLOW_SEALING);
	o->wfd = -1;
	o->sess = -1;
	o->insess = -1;
	o->h = HT_2M;
	o->size = HT_HPAGE;
	o->serial = next_serial++;
	if (hif_budget(HT_2M, 1, 1))
		hif_write_page(o, 0);
	if (hif_budget(HT_2M, 1, 1)) {
		ret = hif_ret(ht_fallocate(o->fd, FALLOC_FL_KEEP_SIZE, HT_HPAGE,
					   HT_HPAGE));
		hif_expect(OP_FALLOCATE, 0, ret, "a page past the end");
		o->present |= 2;
		o->regions |= 2;
	}
	for (tok = 2000; hif_token_used(s, tok); tok++)
		;
	hif_preserve(OP_PRESERVE, s, o->fd, i, o->kind, tok, V_OK);
	ret = hif_ret(ht_fcntl(o->fd, F_ADD_SEALS, seals));
	hif_expect(OP_SEAL, 0, ret, "seals after preserve");
	o->seals |= seals;
}

/* Stage 1, last: keep a random part, with a memfd of known bytes. */
static void hif_keep(void)
{
	int s, t, i, anchor_sess = -1, keep[HIF_NSESS] = { 0 }, k, n, past;
	int nr_huge = 0, nr_sealed = 0, nr_past = 0;
	struct hif_obj *o;

	for (s = 0; s < HIF_NSESS; s++) {
		if (sess[s].fd < 0 || !hif_below(3))
			continue;
		keep[s] = 1;
		for (t = 0; t < sess[s].ntok; t++) {
			i = sess[s].obj[t];
			if (i >= 0 && (obj[i].kind == K_HM2 ||
				       obj[i].kind == K_HM1G) &&
			    obj[i].present && anchor_sess < 0)
				anchor_sess = s;
		}
	}
	/* None: a 2 MiB memfd of two written pages, in a kept session. */
	if (anchor_sess < 0) {
		for (s = 0; s < HIF_NSESS && !(keep[s] && sess[s].ntok < HIF_NTOK); s++)
			;
		if (s == HIF_NSESS) {
			for (s = 0; s < HIF_NSESS && sess[s].fd >= 0; s++)
				;
			for (t = 0; s == HIF_NSESS && t < HIF_NSESS; t++) {
				if (!keep[t]) {
					hif_close_sess(t);
					s = t;
				}
			}
			if (s == HIF_NSESS)
				fail_exit("no session left for the known bytes");
			hif_name(sess[s].name, 1);
			while (hif_name_taken(sess[s].name))
				hif_name(sess[s].name, 1);
			sess[s].fd = luo_create_session(luo, sess[s].name);
			if (sess[s].fd < 0)
				fail_exit("create the session of the known bytes");
			sess[s].ntok = 0;
		}
		i = hif_free_obj(1);
		if (i < 0)
			fail_exit("no object left for the known bytes");
		o = &obj[i];
		memset(o, 0, sizeof(*o));
		o->kind = K_HM2;
		o->fd = ht_memfd("hif-known", 2 * HT_HPAGE, HT_MFD_HUGE_2MB);
		o->wfd = -1;
		o->sess = -1;
		o->insess = -1;
		o->h = HT_2M;
		o->seals = F_SEAL_SEAL;
		o->size = 2 * HT_HPAGE;
		o->serial = next_serial++;
		hif_write_page(o, 0);
		hif_write_page(o, 1);
		for (t = 1000; hif_token_used(s, t); t++)
			;
		if (luo_session_preserve_fd(sess[s].fd, o->fd, t))
			fail_exit("preserve the memfd of known bytes");
		hif_add_token(s, t, i);
		keep[s] = 1;
		anchor_sess = s;
	}

	/*
	 * Seals added after preserve must reach the next kernel: add some to
	 * the kept files that still take them.
	 */
	for (s = 0; s < HIF_NSESS; s++) {
		for (t = 0; keep[s] && t < sess[s].ntok; t++) {
			i = sess[s].obj[t];
			if (i >= 0 && hif_huge_fd(&obj[i]) &&
			    !(obj[i].seals & F_SEAL_SEAL) && hif_below(2))
				hif_seal(i);
		}
	}
	hif_keep_tail(keep, anchor_sess);

	/* The record, then everything else closed. */
	for (s = 0; s < HIF_NSESS; s++) {
		struct hif_ksess *ks;

		if (!keep[s])
			continue;
		ks = &rec.sess[rec.nr_sess++];
		memcpy(ks->name, sess[s].name, sizeof(ks->name));
		ks->first = rec.nr_files;
		ks->anchor = s == anchor_sess;
		for (t = 0; t < sess[s].ntok; t++) {
			struct hif_kfile *kf;

			i = sess[s].obj[t];
			if (i < 0)
				continue;
			o = &obj[i];
			kf = &rec.file[rec.nr_files++];
			kf->kind = o->kind;
			kf->h = o->h;
			kf->token = sess[s].tok[t];
			kf->size = o->size;
			kf->present = o->present;
			kf->regions = o->regions;
			kf->seals = o->seals;
			kf->pseals = o->pseals;
			kf->serial = o->serial;
			memcpy(kf->gen, o->gen, sizeof(kf->gen));
			ks->nr++;
			if (!hif_is_huge(o->kind))
				continue;
			nr_huge++;
			if (o->seals != o->pseals) {
				nr_sealed++;
				ksft_print_msg("%s %u: seals %#x at preserve, %#x now: %s\n",
					       hif_kind[o->kind], o->serial,
					       o->pseals, o->seals,
					       "the next kernel must show those");
			}
			n = o->size / hif_hsize(o->h);
			past = ht_popcount(o->present & ~hif_range(0, n));
			if (past) {
				nr_past += past;
				ksft_print_msg("%s %u: %d pages past its end (%lld bytes) stay\n",
					       hif_kind[o->kind], o->serial, past,
					       (long long)o->size);
			}
		}
		ksft_print_msg("kept session \"%s\": %d files%s\n", ks->name,
			       ks->nr, ks->anchor ? ", with the known bytes" : "");
		for (k = ks->first; k < ks->first + ks->nr; k++)
			ksft_print_msg("  token %#llx: %s, %lld bytes, pages %#x, reserved %#x\n",
				       (unsigned long long)rec.file[k].token,
				       hif_kind[rec.file[k].kind],
				       (long long)rec.file[k].size,
				       rec.file[k].present, rec.file[k].regions);
		/* Not closed: it goes over the kexec. */
		sess[s].fd = -1;
	}
	ksft_print_msg("kept: %d sessions, %d files, %d of them hugetlb\n",
		       rec.nr_sess, rec.nr_files, nr_huge);
	ksft_print_msg("kept: %d hugetlb files with seals added after preserve\n",
		       nr_sealed);
	ksft_print_msg("kept: %d pages past the end of a file, left behind\n",
		       nr_past);
	hif_close_all();
}

static void run_stage_1(int luo_fd)
{
	struct luo_hugepages m;
	double secs;

	luo = luo_fd;
	stage = 1;
	hif_setup(0);
	luo_hugepages_ensure_free(64, &m);
	ht_pools_read(&rec.base);
	ht_pools_print("stage 1 before", &rec.base);
	ht_pool_ready(&rec.base, HT_2M, 16);
	if (rec.base.present[HT_1G])
		ht_pool_ready(&rec.base, HT_1G, 0);
	rec.magic = HIF_MAGIC;
	ksft_print_msg("seed %llu, %.0f s, at most %lu operations\n",
		       (unsigned long long)rec.seed, hif_secs, max_ops);
	hif_probe_shm();

	state_fd = luo_create_session(luo, HIF_STATE_SESSION);
	if (state_fd < 0 || create_and_preserve_memfd(state_fd, HIF_STATE_TOKEN,
						      "2") < 0)
		fail_exit("the state session");

	secs = hif_fuzz(hif_secs);
	hif_table("stage 1", secs);
	ksft_test_result_pass("stage 1: %lu operations, each as the model says\n",
			      nr_ops);
	hif_keep();
	hif_expect_pools("stage 1, the rest closed", 1);

	ht_save_record(state_fd, HIF_RECORD_TOKEN, &rec, sizeof(rec));
	close(luo);
	daemonize_and_wait();
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	int s, f, st;
	double secs;

	luo = luo_fd;
	restore_and_read_stage(state_session_fd, HIF_STATE_TOKEN, &st);
	if (st != 2)
		fail_exit("expected stage 2, the state file says %d", st);
	ht_read_record(state_session_fd, HIF_RECORD_TOKEN, &rec, sizeof(rec),
		       HIF_MAGIC);
	stage = 2;
	hif_setup(0x5354414745320000ULL);
	ksft_print_msg("seed %llu, %d kept sessions, %d kept files, %.0f s\n",
		       (unsigned long long)rec.seed, rec.nr_sess, rec.nr_files,
		       hif_secs);
	hif_probe_shm();
	for (s = 0; s < rec.nr_sess; s++) {
		for (f = 0; f < HIF_NKEPT; f++)
			in[s].fobj[f] = -1;
		in[s].fd = -1;
	}
	hif_expect_pools("stage 2, after the kexec", 0);

	secs = hif_fuzz(hif_secs);

	/* Retrieve what is left of the sessions with the known bytes. */
	for (s = 0; s < rec.nr_sess; s++) {
		if (!rec.sess[s].anchor || in[s].state == 2)
			continue;
		if (!in[s].state) {
			in[s].fd = luo_retrieve_session(luo, rec.sess[s].name);
			if (in[s].fd < 0)
				fail_exit("retrieve the session with the known bytes");
			in[s].state = 1;
		}
		for (f = 0; f < rec.sess[s].nr && !in[s].finished; f++) {
			int fd;

			if (in[s].got[f])
				continue;
			fd = luo_session_retrieve_fd(in[s].fd,
						     rec.file[rec.sess[s].first + f].token);
			if (fd < 0)
				fail_exit("retrieve kept file %d", f);
			in[s].got[f] = 1;
			hif_retrieved(s, f, fd);
		}
	}
	hif_table("stage 2", secs);
	ksft_print_msg("%d kept hugetlb files back as at the kexec (size, seals, bytes)\n",
		       nr_verified);
	ksft_print_msg("%d of them with seals added after preserve\n",
		       nr_late_sealed);
	ksft_test_result_pass("stage 2: %lu operations, each as the model says\n",
			      nr_ops);

	for (s = 0; s < rec.nr_sess; s++) {
		if (in[s].state == 1) {
			close(in[s].fd);
			hif_in_gone(s);
		}
	}
	hif_close_all();
	memset(rec.file, 0, sizeof(rec.file));
	rec.nr_files = 0;
	hif_expect_pools("stage 2, all closed", 0);
	ht_finish(state_session_fd, "state");
}

int main(int argc, char *argv[])
{
	hif_secs = hif_args(&argc, argv);
	return luo_test(argc, argv, HIF_STATE_SESSION, run_stage_1,
			run_stage_2);
}
