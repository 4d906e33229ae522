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
"$HARNESS/tests.sh"
"$HARNESS/initramfs.sh"
