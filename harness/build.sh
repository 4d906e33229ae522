#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Everything `make` and `make check` need before booting: packages, the
# assembled tree (left as it is when it holds unsaved work), the kernel,
# the test programs and the initramfs.
. "$(dirname "$0")/lib.sh"

"$HARNESS/deps.sh"
KEEP_UNSAVED=1 "$HARNESS/tree.sh"
"$HARNESS/kernel.sh"
# The rollback kernel: the same tree and config without the series'
# features, for scenarios that live-update into it (KERNEL<hop>=rollback).
# NO_ROLLBACK=1 (the demo) skips it.
[ "${NO_ROLLBACK:-0}" = 1 ] || OBJ=$OBJ-rollback NO_FEATURES=1 "$HARNESS/kernel.sh"
# The kernels of make check only (NO_VARIANTS=1, the demo, skips them): the
# abi kernel, the test kernel writing and reading the next version of the
# hand-over data (KERNEL<hop>=abi); and the kasan kernel, the test kernel
# with KASAN, KFENCE and UBSAN (KERNEL<hop>=kasan, HLU_KERNEL=kasan).
if [ "${NO_VARIANTS:-${NO_ROLLBACK:-0}}" != 1 ]; then
	"$HARNESS/kernel-abi.sh"
	OBJ=$OBJ-kasan EXTRA_CONFIG=$HARNESS/config/kasan.config NO_STRESS=1 "$HARNESS/kernel.sh"
fi
"$HARNESS/tests.sh"
"$HARNESS/initramfs.sh"
