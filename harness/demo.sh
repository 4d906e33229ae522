#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make: build what is needed, run one live update in QEMU, and report.
. "$(dirname "$0")/lib.sh"

"$HARNESS/deps.sh"
KEEP_UNSAVED=1 "$HARNESS/tree.sh"
"$HARNESS/kernel.sh"
"$HARNESS/tests.sh"
"$HARNESS/initramfs.sh"
note "running the demo live update in QEMU (TCG)"
set +e
result=$("$HARNESS/run.sh" "$HARNESS/demo/demo.scn" "$OUT/demo" 2>/dev/null | tail -n 1)
set -e
log=$OUT/demo/demo.log

echo
echo "=== HugeTLB live update demo ==="
echo "kernel:   $(make -s -C "$TREE" kernelversion) + $(git -C "$TREE" rev-list --count base..HEAD) commit(s) of this series"
echo "log:      $log"
echo
echo "What the first kernel preserved:"
grep -E 'STAGE 1\]' "$log" | sed 's/^\[[ 0-9.]*\] /  /' | head -n 6
echo
echo "What the second kernel verified:"
grep -E 'STAGE 2\]|^\[[ 0-9.]*\] (not )?ok ' "$log" | sed 's/^\[[ 0-9.]*\] /  /' | head -n 10
echo
echo "Hugetlb pool counters (total/free), hop 1 -> hop 2:"
grep 'HLU-POOL .*node=all' "$log" | sed 's/^\[[ 0-9.]*\] /  /'
echo
echo "Timings (host clock, QEMU TCG):"
awk '/HLU: begin hop=1/ { printf "  first boot to /init:   %.2f s\n", substr($0, 2, 8) }
     /HLU: kexec-exec/ { t = substr($0, 2, 8) }
     /HLU: begin hop=2/ { printf "  kexec -e to next /init: %.2f s\n", substr($0, 2, 8) - t }' "$log"
echo
echo "Result: $result"
case $result in PASS*) ;; *) exit 1 ;; esac
