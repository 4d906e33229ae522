/* SPDX-License-Identifier: GPL-2.0-only */

/*
 * What the hugetlb live update tests share: making and filling hugetlb
 * memfds, reading their PFNs from /proc/self/pagemap, and handing a record
 * from stage 1 to stage 2 in a memfd of a session.
 *
 * Static functions only, so that vmtest.sh, which builds one test file and
 * lib/lu_utils.c against nolibc, builds the tests as they are.
 */

#ifndef HUGETLB_UTIL_H
#define HUGETLB_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <libliveupdate.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING	0x0002U
#endif
#define HT_MFD_HUGE_2MB		(21U << 26)
#define HT_MFD_HUGE_1GB		(30U << 26)
#define HT_HPAGE		(2UL << 20)
#define HT_GPAGE		(1024UL << 20)
#define HT_PFN_MASK		((1ULL << 55) - 1)
/* One word in every HT_STEP bytes is written and checked. */
#define HT_STEP			512UL

/* The word at byte @off of page @page of a file filled with @seed. */
static inline uint64_t ht_word(uint64_t seed, uint64_t page, uint64_t off)
{
	uint64_t x = seed ^ (page << 40) ^ off;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Fill huge page @page (of @size bytes, mapped at @addr) for @seed. */
static inline void ht_fill(void *addr, unsigned long size, uint64_t seed,
			   uint64_t page)
{
	unsigned long off;

	for (off = 0; off < size; off += HT_STEP)
		*(uint64_t *)((char *)addr + off) = ht_word(seed, page, off);
}

/* Whether huge page @page at @addr holds what ht_fill() wrote. */
static inline int ht_same(const void *addr, unsigned long size,
			  uint64_t seed, uint64_t page)
{
	unsigned long off;

	for (off = 0; off < size; off += HT_STEP) {
		if (*(const uint64_t *)((const char *)addr + off) !=
		    ht_word(seed, page, off))
			return 0;
	}
	return 1;
}

/* The PFN of the page mapped at @addr, from /proc/self/pagemap. */
static inline uint64_t ht_pfn(const void *addr)
{
	off_t off = (uintptr_t)addr / getpagesize() * sizeof(uint64_t);
	uint64_t entry;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		fail_exit("open /proc/self/pagemap");
	if (lseek(fd, off, SEEK_SET) != off ||
	    read(fd, &entry, sizeof(entry)) != sizeof(entry))
		fail_exit("read /proc/self/pagemap");
	close(fd);

	if (!(entry >> 63) || !(entry & HT_PFN_MASK))
		fail_exit("page at %p: not present or no PFN (root?)", addr);
	return entry & HT_PFN_MASK;
}

/* A hugetlb memfd of @size bytes; @flags add to MFD_HUGETLB. */
static inline int ht_memfd(const char *name, unsigned long size,
			   unsigned int flags)
{
	int fd = memfd_create(name, MFD_HUGETLB | flags);

	if (fd < 0)
		fail_exit("memfd_create(%s, MFD_HUGETLB)", name);
	if (ftruncate(fd, size))
		fail_exit("ftruncate %s to %lu bytes", name, size);
	return fd;
}

/* Map @len bytes of @fd shared with @flags added; fail the test if not. */
static inline void *ht_map(int fd, unsigned long len, int prot, int flags)
{
	void *addr = mmap(NULL, len, prot, MAP_SHARED | flags, fd, 0);

	if (addr == MAP_FAILED)
		fail_exit("mmap %lu bytes", len);
	return addr;
}

/*
 * Preserve @size bytes at @buf as memfd @token of @session_fd, for
 * luo_retrieve_record() in the next kernel.
 */
static inline void ht_save_record(int session_fd, int token, const void *buf,
				  size_t size)
{
	int fd = memfd_create("hugetlb_record", 0);

	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		fail_exit("write the record");
	if (luo_session_preserve_fd(session_fd, fd, token))
		fail_exit("preserve the record");
}

/* fcntl(), which nolibc does not have. */
static inline long ht_fcntl(int fd, int cmd, long arg)
{
	return syscall(__NR_fcntl, fd, cmd, arg);
}

/* Mount sysfs on /sys where nobody did (vmtest.sh's init does not). */
static inline void ht_mount_sysfs(void)
{
	if (!access("/sys/kernel", F_OK))
		return;
	if (mkdir("/sys", 0755) && errno != EEXIST)
		fail_exit("mkdir /sys");
	if (mount("sysfs", "/sys", "sysfs", 0, NULL))
		fail_exit("mount sysfs");
}

/* The number in file @path (sysfs, cgroupfs), or -1 if there is none. */
static inline long ht_read_long(const char *path)
{
	char buf[32] = { 0 };
	int fd;

	ht_mount_sysfs();
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		fail_exit("read %s", path);
	close(fd);
	return atol(buf);
}

/*
 * In stage 2: check that the state session says so, and retrieve the
 * session @name.
 */
static inline int ht_stage_2(int luo_fd, int state_session_fd,
			     int state_token, const char *name)
{
	int fd, stage;

	restore_and_read_stage(state_session_fd, state_token, &stage);
	if (stage != 2)
		fail_exit("expected stage 2, the state file says %d", stage);
	fd = luo_retrieve_session(luo_fd, name);
	if (fd < 0)
		fail_exit("luo_retrieve_session %s", name);
	return fd;
}

/* Finish the session @fd and close it. */
static inline void ht_finish(int fd, const char *what)
{
	if (luo_session_finish(fd) < 0)
		fail_exit("finish the %s session", what);
	close(fd);
}

#endif /* HUGETLB_UTIL_H */
