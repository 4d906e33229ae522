// SPDX-License-Identifier: GPL-2.0-only

/*
 * A KVM virtual machine whose RAM is in hugetlb memfds keeps running across
 * live updates of its host: what a VMM does with the series.
 *
 * Usage: hugetlb_vm [-g] [-b] [-k] [-u UPDATES] [-n PAGES] [-s STAGE]
 *
 * The guest runs in 64-bit long mode, on page tables, a GDT and code that
 * the VMM put in its first 2 MiB page. RAM is a memfd of 2 MiB pages at
 * guest physical address 0 (HV_NR_2M pages, -b: 512, 1 GiB, -n: PAGES up
 * to HV_MAX_2M), and
 * with -g a memfd of one 1 GiB page at 4 GiB. The guest program, hv_guest(),
 * runs until told to stop. Step n writes the pair (n, h(n)) into the first
 * 16 bytes of 4 KiB page (n - 1) % P of its data pages (all of RAM above
 * 2 MiB), where h(n) = hv_mix(h(n - 1), n): the next value follows from its
 * registers alone, and the memory image from the last value (hv_check()
 * walks the chain through every page). Every HV_TICK steps it leaves the
 * VM through port HV_PORT_TICK, which is where the VMM may pause it.
 *
 * Stage 1, the VMM: builds the VM, lets the guest run HV_RUN_MS, pauses it
 * (KVM_RUN with immediate_exit completes the port write), saves its
 * registers, segment and control registers and FPU state into a record
 * memfd, preserves the RAM memfds, and with -k kexecs itself, on the kernel
 * the caller loaded with kexec -l (without -k it leaves the kexec to the
 * caller, as vmtest.sh does). The guest uses no MSR beyond EFER, no LAPIC
 * and no interrupt, so those are not saved.
 *
 * Stage 2, a new VMM process in the next kernel: retrieves the memfds and
 * the record, builds a new VM on the same memory at the same guest
 * physical addresses, restores the vCPU and resumes the guest, which first
 * checks its whole memory image and then goes on from where it was; the
 * PFNs of every huge page are those of stage 1, and the pages in use are
 * the VM's. To show that the checks can fail, the VMM then changes a word
 * of one data page for a moment: the guest and the VMM must both name that
 * page. After HV_RUN_MS the VMM stops the guest: the guest checks its
 * memory again, and so does the VMM, with the same function, on its own
 * mapping.
 * While updates remain (-u, 1 by default), it hands the VM over again as
 * stage 1 did; the last kernel closes it and checks that every page is free.
 *
 * Downtime, as the guest sees it: from its last exit before the kexec to
 * its first entry after it, split into the VMM's save, the kexec and boot
 * (up to the new VMM's start), the retrieve and the restore. Measured with
 * the TSC, which runs on through a kexec.
 *
 * Needs /dev/kvm with nested paging (QEMU: -cpu qemu64,+svm,+npt) and free
 * huge pages: 2 MiB ones, and with -g a 1 GiB one.
 */

#define _GNU_SOURCE

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <linux/reboot.h>

#include "hugetlb_util.h"

#define HV_STATE_SESSION	"hugetlb_vm_state"
#define HV_STATE_TOKEN		999
#define HV_SESSION		"hugetlb-vm-%d"
#define HV_RAM_TOKEN		1	/* + HT_2M or HT_1G */
#define HV_RECORD_TOKEN		20
#define HV_MAGIC		0x48564d31	/* "HVM1" */
#define HV_MAX_UPDATES		8

#define HV_NR_2M		32		/* 64 MiB */
#define HV_NR_2M_BIG		512		/* 1 GiB */
#define HV_MAX_2M		2048		/* 4 GiB, up to the 1 GiB page */
#define HV_1G_GPA		(4UL << 30)
#define HV_RUN_MS		300
#define HV_TICK			4096		/* steps between two exits */

/* The guest's first 2 MiB page. */
#define HV_PML4			0x1000UL
#define HV_PDPT			0x2000UL
#define HV_PD			0x3000UL	/* 8 of them: 8 GiB */
#define HV_NR_PD		8
#define HV_GDT			0xb000UL
#define HV_MBOX			0xc000UL
#define HV_CODE			0x10000UL
#define HV_CODE_MAX		0x10000UL
#define HV_STACK		0x1ff000UL
#define HV_DATA			HT_HPAGE	/* data pages start above */
#define HV_CELL			4096UL

#define HV_PORT_TICK		0xe0
#define HV_PORT_CHECK		0xe1
#define HV_PORT_STOP		0xe2

#define HV_CMD_CHECK		1
#define HV_CMD_STOP		2

#define HV_BAD			0x8000000000000000ULL	/* hv_check(): cell | this */

/* Guest and VMM both read and write this, at HV_MBOX. */
struct hv_mbox {
	uint64_t cmd;		/* HV_CMD_*, from the VMM; the guest clears it */
	uint64_t n;		/* next step, as of the last exit */
	uint64_t h;		/* h(n - 1) */
	uint64_t seed;		/* h(0) */
	uint64_t a_cells;	/* data pages of the 2 MiB memfd */
	uint64_t b_cells;	/* data pages of the 1 GiB memfd */
	uint64_t checked;	/* by the last command: pages, or HV_BAD | page */
	uint64_t checks;	/* commands done */
};

/* What each kernel hands to the next. */
struct hv_record {
	uint64_t magic;
	int32_t updates;	/* how many in all */
	int32_t done;		/* how many so far, this one included */
	uint32_t nr_2m;
	uint32_t has_1g;
	uint32_t self_kexec;
	uint32_t pad;
	uint64_t n;		/* the guest's next step at the pause */
	uint64_t tsc_exit;	/* the guest's last exit */
	uint64_t tsc_saved;	/* state saved, memory preserved */
	uint64_t tsc_khz;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint64_t pfn_2m[HV_MAX_2M];
	uint64_t pfn_1g;
};

/* The VM of one VMM process. */
struct hv_vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	int fd[HT_NR_SIZES];
	char *ram[HT_NR_SIZES];
	unsigned long len[HT_NR_SIZES];
	struct hv_mbox *mbox;
};

/*
 * Code that runs in the guest, copied there whole: no call or reference out
 * of its section, no stack protector (no %fs there), and no copy of it
 * inlined or cloned elsewhere, where the guest would not find it. The VMM
 * calls these functions too.
 */
#define HV_GUEST __attribute__((section("hv_guest_code"), noipa, used, \
				no_stack_protector))

/* Start and end of that section, which the linker marks. */
static char *hv_code_start(void)
{
	char *p;

	asm("lea __start_hv_guest_code(%%rip), %0" : "=r"(p));
	return p;
}

static char *hv_code_end(void)
{
	char *p;

	asm("lea __stop_hv_guest_code(%%rip), %0" : "=r"(p));
	return p;
}

static HV_GUEST uint64_t hv_mix(uint64_t h, uint64_t n)
{
	h ^= n * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 33);
}

/* The data page of step @n, as seen from @a (RAM at 2 MiB) and @b (1 GiB). */
static HV_GUEST uint64_t *hv_cell(const struct hv_mbox *mb, char *a, char *b,
				  uint64_t n)
{
	uint64_t c = (n - 1) % (mb->a_cells + mb->b_cells);

	if (c < mb->a_cells)
		return (uint64_t *)(a + c * HV_CELL);
	return (uint64_t *)(b + (c - mb->a_cells) * HV_CELL);
}

/*
 * Check the memory image of a guest whose next step is @n and whose last
 * value is @h: the data pages of steps n - P to n - 1 hold their pairs,
 * chained from the oldest to @h, and pages not written yet hold zeroes.
 * @a and @b are where the guest's data pages are in the caller's address
 * space. Runs in the guest and in the VMM. Returns the number of pages
 * checked, or HV_BAD | the first page that is wrong.
 */
static HV_GUEST uint64_t hv_check(const struct hv_mbox *mb, char *a, char *b,
				  uint64_t n, uint64_t h)
{
	uint64_t total = mb->a_cells + mb->b_cells, k, first = 1;
	uint64_t prev = mb->seed, *c;

	if (n > total) {
		/*
		 * The oldest step still in memory is the anchor: the one
		 * before it was overwritten. The chain from it must end at @h.
		 */
		first = n - total;
		c = hv_cell(mb, a, b, first);
		if (c[0] != first)
			return HV_BAD | ((first - 1) % total);
		prev = c[1];
		first++;
	}
	for (k = first; k < n; k++) {
		c = hv_cell(mb, a, b, k);
		if (c[0] != k || c[1] != hv_mix(prev, k))
			return HV_BAD | ((k - 1) % total);
		prev = c[1];
	}
	if (n > 1 && prev != h)
		return HV_BAD | ((n - 2) % total);
	for (k = n; k <= total; k++) {
		c = hv_cell(mb, a, b, k);
		if (c[0] || c[1])
			return HV_BAD | (k - 1);
	}
	return total;
}

static HV_GUEST void hv_out(uint16_t port)
{
	asm volatile("outb %%al, %%dx" : : "a"(0), "d"(port) : "memory");
}

/*
 * The guest: RAM is mapped one to one, @mb is the mailbox. Steps on from
 * @mb->n and @mb->h, which the VMM sets once; from then on they live in
 * registers and the VMM saves those.
 */
static HV_GUEST void hv_guest(struct hv_mbox *mb)
{
	char *a = (char *)HV_DATA, *b = (char *)HV_1G_GPA;
	uint64_t n = mb->n, h = mb->h, cmd, *c;

	for (;;) {
		cmd = __atomic_load_n(&mb->cmd, __ATOMIC_RELAXED);
		if (cmd) {
			mb->checked = hv_check(mb, a, b, n, h);
			mb->checks++;
			mb->n = n;
			mb->h = h;
			mb->cmd = 0;
			hv_out(cmd == HV_CMD_STOP ? HV_PORT_STOP : HV_PORT_CHECK);
			if (cmd == HV_CMD_STOP)
				for (;;)
					asm volatile("hlt");
		}
		h = hv_mix(h, n);
		c = hv_cell(mb, a, b, n);
		c[0] = n;
		c[1] = h;
		n++;
		if (!(n % HV_TICK)) {
			mb->n = n;
			mb->h = h;
			hv_out(HV_PORT_TICK);
		}
	}
}

static uint64_t hv_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t hv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The TSC's rate, against CLOCK_MONOTONIC over 50 ms. */
static uint64_t hv_tsc_khz(void)
{
	uint64_t t0 = hv_now_ns(), c0 = hv_rdtsc(), t1, c1;

	usleep(50000);
	t1 = hv_now_ns();
	c1 = hv_rdtsc();
	return (c1 - c0) * 1000000ULL / (t1 - t0);
}

/* "@to - @from" of the TSC in ms, with two decimals (nolibc has no %f). */
static const char *hv_ms(uint64_t from, uint64_t to, uint64_t khz)
{
	static char buf[8][24];
	static int i;
	int64_t us = (int64_t)(to - from) * 1000 / (int64_t)khz;
	char *b = buf[i++ % 8];

	snprintf(b, sizeof(buf[0]), "%s%lld.%02lld", us < 0 ? "-" : "",
		 (long long)(us < 0 ? -us : us) / 1000,
		 (long long)(us < 0 ? -us : us) % 1000 / 10);
	return b;
}

/* When this process started. */
static uint64_t hv_t_main;

static void hv_ioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0)
		fail_exit("%s", what);
}

/* Page tables for 8 GiB in 2 MiB pages, a GDT, the code and the mailbox. */
static void hv_lay_out(char *low)
{
	uint64_t *pml4 = (uint64_t *)(low + HV_PML4);
	uint64_t *pdpt = (uint64_t *)(low + HV_PDPT);
	uint64_t *pd = (uint64_t *)(low + HV_PD);
	uint64_t *gdt = (uint64_t *)(low + HV_GDT);
	size_t code = hv_code_end() - hv_code_start();
	int i;

	if (code > HV_CODE_MAX)
		fail_exit("guest code of %zu bytes", code);
	pml4[0] = HV_PDPT | 0x3;		/* present, writable */
	for (i = 0; i < HV_NR_PD; i++)
		pdpt[i] = (HV_PD + i * 0x1000UL) | 0x3;
	for (i = 0; i < HV_NR_PD * 512; i++)
		pd[i] = (uint64_t)i * HT_HPAGE | 0x83;	/* + large page */
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;	/* 64-bit code, selector 8 */
	gdt[2] = 0x00cf93000000ffffULL;	/* data, selector 16 */
	memcpy(low + HV_CODE, hv_code_start(), code);
}

static void hv_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

/* 64-bit mode with paging, at the entry of hv_guest() with @mbox in rdi. */
static void hv_boot_state(struct hv_record *rec)
{
	struct kvm_sregs *s = &rec->sregs;
	struct kvm_regs *r = &rec->regs;

	hv_seg(&s->cs, 8, 11, 1);
	hv_seg(&s->ds, 16, 3, 0);
	s->es = s->ds;
	s->fs = s->ds;
	s->gs = s->ds;
	s->ss = s->ds;
	memset(&s->tr, 0, sizeof(s->tr));
	s->tr.type = 11;		/* busy 64-bit TSS */
	s->tr.present = 1;
	s->tr.limit = 0x67;
	s->ldt.unusable = 1;
	s->gdt.base = HV_GDT;
	s->gdt.limit = 3 * 8 - 1;
	s->cr0 = 0x80050033;		/* PG, AM, WP, NE, ET, MP, PE */
	s->cr3 = HV_PML4;
	s->cr4 = 0x620;			/* OSXMMEXCPT, OSFXSR, PAE */
	s->efer = 0x500;		/* LMA, LME */

	memset(r, 0, sizeof(*r));
	r->rip = HV_CODE + ((char *)hv_guest - hv_code_start());
	r->rsp = HV_STACK;
	r->rdi = HV_MBOX;
	r->rflags = 0x2;

	memset(&rec->fpu, 0, sizeof(rec->fpu));
	rec->fpu.fcw = 0x37f;
	rec->fpu.mxcsr = 0x1f80;
}

/* A VM on the RAM memfds of @vm, with the vCPU in the state of @rec. */
static void hv_create(struct hv_vm *vm, struct hv_record *rec)
{
	struct kvm_userspace_memory_region mr = { 0 };
	struct kvm_cpuid2 *cpuid;
	struct kvm_sregs sregs;
	int h, size;

	vm->kvm = open("/dev/kvm", O_RDWR);
	if (vm->kvm < 0)
		fail_exit("open /dev/kvm");
	vm->vm = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->vm < 0)
		fail_exit("KVM_CREATE_VM");
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (!vm->ram[h])
			continue;
		mr.slot = h;
		mr.guest_phys_addr = h == HT_2M ? 0 : HV_1G_GPA;
		mr.memory_size = vm->len[h];
		mr.userspace_addr = (uintptr_t)vm->ram[h];
		hv_ioctl(vm->vm, KVM_SET_USER_MEMORY_REGION, &mr,
			 "KVM_SET_USER_MEMORY_REGION");
	}
	vm->vcpu = ioctl(vm->vm, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		fail_exit("KVM_CREATE_VCPU");
	size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(*vm->run))
		fail_exit("KVM_GET_VCPU_MMAP_SIZE");
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu, 0);
	if (vm->run == MAP_FAILED)
		fail_exit("mmap the vCPU");

	/* Long mode needs CPUID to say so. */
	cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
	if (!cpuid)
		fail_exit("calloc");
	cpuid->nent = 256;
	hv_ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, cpuid,
		 "KVM_GET_SUPPORTED_CPUID");
	hv_ioctl(vm->vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
	free(cpuid);

	/* The saved state over what KVM set up, apic_base and all. */
	hv_ioctl(vm->vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	rec->sregs.apic_base = sregs.apic_base;
	hv_ioctl(vm->vcpu, KVM_SET_SREGS, &rec->sregs, "KVM_SET_SREGS");
	hv_ioctl(vm->vcpu, KVM_SET_REGS, &rec->regs, "KVM_SET_REGS");
	hv_ioctl(vm->vcpu, KVM_SET_FPU, &rec->fpu, "KVM_SET_FPU");
}

static void hv_destroy(struct hv_vm *vm)
{
	close(vm->vcpu);
	close(vm->vm);
	close(vm->kvm);
}

/*
 * Run the guest until it leaves through @port (0: until @ms have passed,
 * at a tick). Any other exit fails the test.
 */
static void hv_run(struct hv_vm *vm, int port, int ms)
{
	uint64_t end = hv_now_ns() + ms * 1000000ULL;
	struct kvm_regs r;

	for (;;) {
		if (ioctl(vm->vcpu, KVM_RUN, 0) < 0)
			fail_exit("KVM_RUN");
		if (vm->run->exit_reason != KVM_EXIT_IO) {
			ioctl(vm->vcpu, KVM_GET_REGS, &r);
			fail_exit("guest exit %u at rip %#llx",
				  vm->run->exit_reason,
				  (unsigned long long)r.rip);
		}
		if (vm->run->io.port == port)
			return;
		if (vm->run->io.port != HV_PORT_TICK)
			fail_exit("guest wrote port %#x", vm->run->io.port);
		if (!port && hv_now_ns() >= end)
			return;
	}
}

/*
 * Have the guest check its memory, then go on (HV_CMD_CHECK) or stop
 * (HV_CMD_STOP); the result of hv_check().
 */
static uint64_t hv_command(struct hv_vm *vm, uint64_t cmd, const char *when)
{
	struct hv_mbox *mb = vm->mbox;
	uint64_t checks = mb->checks;

	mb->cmd = cmd;
	hv_run(vm, cmd == HV_CMD_STOP ? HV_PORT_STOP : HV_PORT_CHECK, 0);
	if (mb->checks != checks + 1 || mb->cmd)
		fail_exit("%s: the guest did not take the command", when);
	return mb->checked;
}

/* The same check by the VMM, on its own mapping of the guest's RAM. */
static uint64_t hv_vmm_check(struct hv_vm *vm)
{
	struct hv_mbox *mb = vm->mbox;

	return hv_check(mb, vm->ram[HT_2M] + HV_DATA, vm->ram[HT_1G], mb->n,
			mb->h);
}

/* hv_command(), which must find the memory right. */
static void hv_guest_checks(struct hv_vm *vm, uint64_t cmd, const char *when)
{
	uint64_t r = hv_command(vm, cmd, when);

	if (r & HV_BAD)
		fail_exit("%s: the guest finds page %llu of its memory wrong",
			  when, (unsigned long long)(r & ~HV_BAD));
	ksft_print_msg("%s: the guest checked its %llu data pages, at step %llu\n",
		       when, (unsigned long long)r,
		       (unsigned long long)vm->mbox->n);
}

/* hv_vmm_check(), which must find the memory right. */
static void hv_vmm_checks(struct hv_vm *vm, const char *when)
{
	uint64_t r = hv_vmm_check(vm);

	if (r & HV_BAD)
		fail_exit("%s: the VMM finds page %llu of the guest's memory wrong",
			  when, (unsigned long long)(r & ~HV_BAD));
	ksft_print_msg("%s: the VMM checked the guest's %llu data pages\n",
		       when, (unsigned long long)r);
}

/*
 * The checks can fail: with one word of a data page a third into RAM
 * changed, the guest and the VMM must both name that page. The word is
 * the step number, which every check reads, written or not.
 */
static void hv_checks_catch(struct hv_vm *vm)
{
	struct hv_mbox *mb = vm->mbox;
	uint64_t cell = (mb->a_cells + mb->b_cells) / 3, r_guest, r_vmm;
	uint64_t *w;

	w = (uint64_t *)(cell < mb->a_cells ?
		vm->ram[HT_2M] + HV_DATA + cell * HV_CELL :
		vm->ram[HT_1G] + (cell - mb->a_cells) * HV_CELL);
	*w ^= 1ULL << 40;
	r_guest = hv_command(vm, HV_CMD_CHECK, "page changed");
	r_vmm = hv_vmm_check(vm);
	*w ^= 1ULL << 40;
	if (r_guest != (HV_BAD | cell) || r_vmm != (HV_BAD | cell))
		fail_exit("data page %llu changed: the guest says %#llx, the VMM %#llx",
			  (unsigned long long)cell, (unsigned long long)r_guest,
			  (unsigned long long)r_vmm);
	ksft_print_msg("data page %llu changed for a moment: guest and VMM caught it\n",
		       (unsigned long long)cell);
}

/* Pause the vCPU at a tick and save what the guest needs into @rec. */
static void hv_pause(struct hv_vm *vm, struct hv_record *rec)
{
	hv_run(vm, 0, HV_RUN_MS);
	rec->tsc_exit = hv_rdtsc();
	/* Complete the port write, so that the state is the guest's. */
	vm->run->immediate_exit = 1;
	if (ioctl(vm->vcpu, KVM_RUN, 0) == 0 || errno != EINTR)
		fail_exit("KVM_RUN with immediate_exit");
	vm->run->immediate_exit = 0;
	hv_ioctl(vm->vcpu, KVM_GET_REGS, &rec->regs, "KVM_GET_REGS");
	hv_ioctl(vm->vcpu, KVM_GET_SREGS, &rec->sregs, "KVM_GET_SREGS");
	hv_ioctl(vm->vcpu, KVM_GET_FPU, &rec->fpu, "KVM_GET_FPU");
	rec->n = vm->mbox->n;
}

/* Map the RAM memfds of @vm; @populate faults every page in. */
static void hv_map(struct hv_vm *vm, int populate)
{
	int h;

	for (h = 0; h < HT_NR_SIZES; h++) {
		if (vm->fd[h] < 0)
			continue;
		vm->ram[h] = ht_map(vm->fd[h], vm->len[h],
				    PROT_READ | PROT_WRITE,
				    populate ? MAP_POPULATE : 0);
	}
	vm->mbox = (struct hv_mbox *)(vm->ram[HT_2M] + HV_MBOX);
}

/* The PFN of each huge page of the guest's RAM. */
static void hv_pfns(struct hv_vm *vm, uint64_t *pfn_2m, uint64_t *pfn_1g)
{
	unsigned long p;

	for (p = 0; p < vm->len[HT_2M] / HT_HPAGE; p++)
		pfn_2m[p] = ht_pfn(vm->ram[HT_2M] + p * HT_HPAGE);
	if (vm->ram[HT_1G])
		*pfn_1g = ht_pfn(vm->ram[HT_1G]);
}

/*
 * Pause the guest, save its state, preserve its RAM in a new session for
 * update @rec->done + 1, and kexec (-k) or leave that to the caller.
 */
static void hv_hand_over(int luo_fd, struct hv_vm *vm, struct hv_record *rec)
{
	int session_fd, h;

	hv_pause(vm, rec);
	rec->done++;
	session_fd = ht_update_session(luo_fd, HV_STATE_SESSION, HV_STATE_TOKEN,
				       HV_SESSION, rec->done);
	for (h = 0; h < HT_NR_SIZES; h++)
		if (vm->fd[h] >= 0 &&
		    luo_session_preserve_fd(session_fd, vm->fd[h],
					    HV_RAM_TOKEN + h))
			fail_exit("preserve the %s RAM memfd", ht_sizes[h].label);
	rec->tsc_saved = hv_rdtsc();
	ht_save_record(session_fd, HV_RECORD_TOKEN, rec, sizeof(*rec));
	hv_destroy(vm);

	ksft_print_msg("update %d of %d: guest paused at step %llu, saved in %s ms\n",
		       rec->done, rec->updates, (unsigned long long)rec->n,
		       hv_ms(rec->tsc_exit, rec->tsc_saved, rec->tsc_khz));
	if (!rec->self_kexec) {
		close(luo_fd);
		daemonize_and_wait();
	}
	fflush(stdout);
	syscall(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		LINUX_REBOOT_CMD_KEXEC, NULL);
	fail_exit("kexec (was a kernel loaded with kexec -l?)");
}

static struct hv_record hv_opts = { .updates = 1, .nr_2m = HV_NR_2M };

static void hv_expect_in_use(struct hv_vm *vm, const char *when)
{
	struct ht_pools p;

	ht_pools_read(&p);
	ht_pools_print(when, &p);
	if (p.all[HT_2M].nr - p.all[HT_2M].free !=
	    (int64_t)(vm->len[HT_2M] / HT_HPAGE))
		fail_exit("%s: the 2 MiB pages in use are not the guest's", when);
	if (vm->ram[HT_1G] && p.all[HT_1G].nr - p.all[HT_1G].free != 1)
		fail_exit("%s: the 1 GiB page in use is not the guest's", when);
}

static void run_stage_1(int luo_fd)
{
	static struct hv_record rec;
	struct hv_vm vm = { .fd = { -1, -1 } };
	struct ht_pools p;

	rec = hv_opts;
	rec.magic = HV_MAGIC;
	rec.tsc_khz = hv_tsc_khz();
	ht_pools_read(&p);
	ht_pool_ready(&p, HT_2M, rec.nr_2m);
	vm.len[HT_2M] = rec.nr_2m * HT_HPAGE;
	vm.fd[HT_2M] = ht_memfd("hugetlb_vm_2m", vm.len[HT_2M],
				HT_MFD_HUGE_2MB);
	if (rec.has_1g) {
		ht_pool_ready(&p, HT_1G, 1);
		vm.len[HT_1G] = HT_GPAGE;
		vm.fd[HT_1G] = ht_memfd("hugetlb_vm_1g", HT_GPAGE,
					HT_MFD_HUGE_1GB);
	}
	hv_map(&vm, 1);
	hv_lay_out(vm.ram[HT_2M]);
	vm.mbox->seed = (uint64_t)getpid() << 32 | 0x5eed;
	vm.mbox->h = vm.mbox->seed;
	vm.mbox->n = 1;
	vm.mbox->a_cells = (vm.len[HT_2M] - HV_DATA) / HV_CELL;
	vm.mbox->b_cells = vm.len[HT_1G] / HV_CELL;
	hv_pfns(&vm, rec.pfn_2m, &rec.pfn_1g);
	ksft_print_msg("guest RAM: %u pages of 2 MiB at 0%s, %llu data pages; TSC %llu kHz\n",
		       rec.nr_2m, rec.has_1g ? ", 1 page of 1 GiB at 4 GiB" : "",
		       (unsigned long long)(vm.mbox->a_cells + vm.mbox->b_cells),
		       (unsigned long long)rec.tsc_khz);

	hv_boot_state(&rec);
	hv_create(&vm, &rec);
	hv_guest_checks(&vm, HV_CMD_CHECK, "boot");
	hv_expect_in_use(&vm, "guest running");
	hv_hand_over(luo_fd, &vm, &rec);
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	uint64_t t_start = hv_t_main, t_retrieved, t_entry, n_before;
	static uint64_t pfn_2m[HV_MAX_2M];
	struct hv_vm vm = { .fd = { -1, -1 } };
	static struct hv_record rec;
	int session_fd, stage, h;
	uint64_t pfn_1g = 0;
	unsigned long p;

	session_fd = ht_update_retrieve(luo_fd, state_session_fd, HV_STATE_TOKEN,
					HV_SESSION, &stage, HV_RECORD_TOKEN,
					&rec, sizeof(rec), HV_MAGIC);
	if (rec.done != stage - 1 || rec.nr_2m < 2 || rec.nr_2m > HV_MAX_2M)
		fail_exit("the record is not the one of update %d", stage - 1);
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (h == HT_1G && !rec.has_1g)
			continue;
		vm.fd[h] = luo_session_retrieve_fd(session_fd,
						   HV_RAM_TOKEN + h);
		if (vm.fd[h] < 0)
			fail_exit("retrieve the %s RAM memfd",
				  ht_sizes[h].label);
		vm.len[h] = h == HT_2M ? rec.nr_2m * HT_HPAGE : HT_GPAGE;
	}
	hv_map(&vm, 0);
	t_retrieved = hv_rdtsc();
	hv_create(&vm, &rec);
	n_before = rec.n;
	t_entry = hv_rdtsc();
	hv_guest_checks(&vm, HV_CMD_CHECK, "resumed");

	ksft_print_msg("downtime seen by the guest: %s ms\n",
		       hv_ms(rec.tsc_exit, t_entry, rec.tsc_khz));
	ksft_print_msg("= save %s + kexec and boot %s + retrieve %s + restore %s\n",
		       hv_ms(rec.tsc_exit, rec.tsc_saved, rec.tsc_khz),
		       hv_ms(rec.tsc_saved, t_start, rec.tsc_khz),
		       hv_ms(t_start, t_retrieved, rec.tsc_khz),
		       hv_ms(t_retrieved, t_entry, rec.tsc_khz));
	if ((int64_t)(t_start - rec.tsc_saved) <= 0)
		fail_exit("the TSC did not run on through the kexec");
	if (vm.mbox->n != n_before)
		fail_exit("the guest resumed at step %llu, not %llu",
			  (unsigned long long)vm.mbox->n,
			  (unsigned long long)n_before);
	hv_checks_catch(&vm);

	hv_pfns(&vm, pfn_2m, &pfn_1g);
	for (p = 0; p < rec.nr_2m; p++)
		if (pfn_2m[p] != rec.pfn_2m[p])
			fail_exit("2 MiB page %lu of the guest moved", p);
	if (rec.has_1g && pfn_1g != rec.pfn_1g)
		fail_exit("the 1 GiB page of the guest moved");
	ksft_print_msg("PFNs unchanged: all %u huge pages of the guest\n",
		       rec.nr_2m + rec.has_1g);
	hv_expect_in_use(&vm, "guest resumed");

	ht_finish(session_fd, "VM");
	ht_finish(state_session_fd, "state");
	if (rec.done < rec.updates) {
		hv_hand_over(luo_fd, &vm, &rec);
		return;
	}

	hv_run(&vm, 0, HV_RUN_MS);
	hv_guest_checks(&vm, HV_CMD_STOP, "stopped");
	if (vm.mbox->n <= n_before)
		fail_exit("the guest did not go on after the update");
	ksft_print_msg("guest sequence: step %llu at the pause, %llu at the stop\n",
		       (unsigned long long)n_before,
		       (unsigned long long)vm.mbox->n);
	hv_vmm_checks(&vm, "stopped");
	hv_destroy(&vm);
	for (h = 0; h < HT_NR_SIZES; h++) {
		if (vm.fd[h] < 0)
			continue;
		munmap(vm.ram[h], vm.len[h]);
		close(vm.fd[h]);
	}
	ksft_print_msg("\n--- HUGETLB VM TEST PASSED ---\n");
}

int main(int argc, char *argv[])
{
	unsigned int opts;

	hv_t_main = hv_rdtsc();
	opts = ht_options(&argc, &argv, "gbk");
	hv_opts.has_1g = !!(opts & 1);
	if (opts & 2)
		hv_opts.nr_2m = HV_NR_2M_BIG;
	hv_opts.self_kexec = !!(opts & 4);
	/* -u and -n, with their numbers, go next; luo_test() takes the rest. */
	while (argc > 2 && (!strcmp(argv[1], "-u") || !strcmp(argv[1], "-n"))) {
		int v = atoi(argv[2]);

		if (argv[1][1] == 'u' && (v < 1 || v > HV_MAX_UPDATES))
			ksft_exit_fail_msg("-u takes 1 to %d\n", HV_MAX_UPDATES);
		if (argv[1][1] == 'n' && (v < 2 || v > HV_MAX_2M))
			ksft_exit_fail_msg("-n takes 2 to %d\n", HV_MAX_2M);
		if (argv[1][1] == 'u')
			hv_opts.updates = v;
		else
			hv_opts.nr_2m = v;
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (access("/dev/kvm", R_OK | W_OK))
		ksft_exit_skip("no /dev/kvm: the guest needs KVM with nested paging\n");
	return luo_test(argc, argv, HV_STATE_SESSION, run_stage_1, run_stage_2);
}
