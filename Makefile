# SPDX-License-Identifier: GPL-2.0
# The one entry point of the harness. Never copied into the kernel tree.
#
#   make               the demo: a KVM guest on hugetlb memory across a live
#                      update, a report
#   make check         build, lint and run every scenario (T=glob for some,
#                      SCENARIOS=dir to add your own)
#   make tree          assemble build/linux: base + patches + our files
#   make refresh       write changes made in build/linux back here
#   make kernel        configure and build the kernel (DEBUG=0: no debug options)
#   make selftests     build the test programs
#   make initramfs     pack the test initramfs
#   make lint          checkpatch, kernel-doc, W=1 and sparse on our files
#   make series        out/series: the patches to mail, with a cover letter
#                      (AM_CHECK=1: and git am them onto a fresh base)
#   make check-series  build every prefix of the series in four configs
#   make vmtest        run luo_kexec_simple and our upstream-style hugetlb
#                      selftests through upstream's vmtest.sh
#                      (VMTESTS="name ..." for others)
#   make fuzz          random live updates: N cases (default 10) from
#                      SEED (default: the time), chained over N+1 kernels
#   make bench         what a live update costs: hugetlb vs shmem vs nothing
#                      preserved, in QEMU, into out/bench (BENCH_SMOKE=1: a
#                      two-minute check that the benchmark still works)
#   make bench-scale   live updates at host scale: pools of up to 200 GiB
#                      and files of up to 12 GiB in guests larger than this
#                      machine, on a production config and the debug one,
#                      into out/bench-scale (SCALE_POOLS, SCALE_FILES,
#                      SCALE_KERNELS, SCALE_DEBUG_MAX: see the script)
#   make clean         remove build/ and out/ (the base cache stays)

H := harness
export T SCENARIOS DEBUG LINUX_SRC LINUX_TARBALL FORCE AM_CHECK BENCH_SMOKE BENCH_REPS BENCH_FULL SEED N SCALE_POOLS SCALE_FILES SCALE_KERNELS SCALE_DEBUG_MAX BENCH_REPORT

.PHONY: all demo check tree refresh kernel selftests initramfs lint series check-series vmtest fuzz bench bench-scale deps fetch clean
all: demo

demo:
	@$(H)/demo.sh

check:
	@$(H)/check.sh

deps:
	@$(H)/deps.sh

fetch: deps
	@$(H)/fetch.sh

tree: deps
	@$(H)/tree.sh

refresh:
	@$(H)/refresh.sh

kernel:
	@$(H)/kernel.sh

selftests:
	@$(H)/tests.sh

initramfs:
	@$(H)/initramfs.sh

lint:
	@$(H)/lint.sh

series: deps
	@$(H)/series.sh

check-series: deps
	@$(H)/check-series.sh

vmtest: tree
	@$(H)/vmtest.sh $(VMTESTS)

fuzz: tree
	@$(H)/fuzz.sh

bench: deps
	@$(H)/deps.sh bench
	@$(H)/bench.sh

bench-scale: deps
	@$(H)/bench-scale.sh

clean:
	rm -rf build out
