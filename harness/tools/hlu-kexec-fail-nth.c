// SPDX-License-Identifier: GPL-2.0
/*
 * Abort the live update again and again, then let it through.
 *
 * Usage: hlu-kexec-fail-nth [MAX]     (after "kexec -l")
 *
 * For n = 1, 2, ...: arm /proc/thread-self/fail-nth with n, so that the
 * n-th allocation this task makes in the kernel fails, and call
 * reboot(LINUX_REBOOT_CMD_KEXEC). While an injected failure stops the live
 * update (a freeze fails, LUO unfreezes what it froze), reboot() returns
 * and the hugetlb pool counters and the outgoing "hugetlb" KHO subtree must
 * be exactly as before the first attempt: nothing left behind. Once n is
 * past every allocation of the kexec path, the kexec goes through, and the
 * next kernel checks what arrived. One TAP line per aborted attempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <linux/reboot.h>
#include <sys/syscall.h>

#define DBG		"/sys/kernel/debug"
#define HUGEPAGES	"/sys/kernel/mm/hugepages"
#define KHO_OUT		DBG "/kho/out/sub_fdts/hugetlb"
#define STATE_MAX	(1024 * 1024)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const counters[] = {
	"nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages",
};

static const char *const sizes[] = { "hugepages-2048kB", "hugepages-1048576kB" };

/* Read @path into @buf; its length, or -1 if it cannot be read. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	return n < 0 ? -1 : len;
}

static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* The pool counters of every page size, then the outgoing subtree. */
static size_t state(char *buf)
{
	char path[128];
	size_t len = 0;
	unsigned int s, c;
	ssize_t n;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (c = 0; c < ARRAY_SIZE(counters); c++) {
			snprintf(path, sizeof(path), HUGEPAGES "/%s/%s", sizes[s], counters[c]);
			n = slurp(path, buf + len, 64);
			len += n > 0 ? n : 0;
		}
	}
	n = slurp(KHO_OUT, buf + len, STATE_MAX - len);
	return len + (n > 0 ? n : 0);
}

int main(int argc, char *argv[])
{
	static const char *const off[][2] = {
		{ DBG "/failslab/ignore-gfp-wait", "N" },
		{ DBG "/failslab/verbose", "0" },
		{ DBG "/fail_page_alloc/ignore-gfp-wait", "N" },
		{ DBG "/fail_page_alloc/min-order", "0" },
		{ DBG "/fail_page_alloc/verbose", "0" },
	};
	int max = argc > 1 ? atoi(argv[1]) : 1000;
	char *before = malloc(STATE_MAX), *after = malloc(STATE_MAX);
	size_t nb, na;
	char left[16];
	unsigned int i;
	int n, fd, err;
	long ret;

	printf("TAP version 13\n");
	if (!before || !after) {
		printf("Bail out! out of memory\n");
		return 1;
	}
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		if (put(off[i][0], off[i][1])) {
			/* A kernel without fault injection (DEBUG=0): cannot test. */
			printf("1..0 # SKIP %s: %s (no fault injection in this kernel)\n",
			       off[i][0], strerror(errno));
			return 4;
		}
	}
	nb = state(before);
	printf("# state before: %zu bytes (pool counters and the outgoing subtree)\n", nb);

	for (n = 1; n <= max; n++) {
		fd = open("/proc/thread-self/fail-nth", O_RDWR);
		if (fd < 0) {
			printf("Bail out! fail-nth: %s\n", strerror(errno));
			return 1;
		}
		snprintf(left, sizeof(left), "%d", n);
		/* Out on the console before a kexec that may go through. */
		fflush(stdout);
		tcdrain(STDOUT_FILENO);
		if (write(fd, left, strlen(left)) < 0) {
			printf("Bail out! arm fail-nth: %s\n", strerror(errno));
			return 1;
		}
		ret = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			      LINUX_REBOOT_CMD_KEXEC, NULL);
		err = errno;
		/* Still armed: the kexec failed, but not by an injected fault. */
		memset(left, 0, sizeof(left));
		if (pread(fd, left, sizeof(left) - 1, 0) < 0 || atoi(left)) {
			printf("not ok %d kexec failed with %s, no fault injected (left: %s)\n",
			       n, strerror(err), left);
			return 1;
		}
		close(fd);
		na = state(after);
		if (na != nb || memcmp(before, after, nb)) {
			printf("not ok %d allocation %d failed, kexec refused (%s), %s\n",
			       n, n, ret ? strerror(err) : "no error",
			       "but the pools or the hand-over data changed");
			return 1;
		}
		printf("ok %d allocation %d failed: kexec refused (%s), nothing left behind\n",
		       n, n, strerror(err));
	}
	printf("not ok %d the kexec did not go through within %d attempts\n", n, max);
	return 1;
}
