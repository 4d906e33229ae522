#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make: build what is needed, run a KVM guest on hugetlb memory across one
# live update in QEMU, and report.
. "$(dirname "$0")/lib.sh"

NO_ROLLBACK=1 "$HARNESS/build.sh"
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
strip() { sed 's/^\[[ 0-9.]*\] //'; }
say() { grep -a -E "\] # $1" "$log" | strip | sed "s/^# /  ${2:-}/"; }
echo "The guest (KVM, long mode) and its RAM, in the first kernel:"
say 'guest RAM: '
say 'boot: '
say 'guest running: '
say 'update 1 of 1: '
echo
echo "The next kernel (hugetlb_vm fails on any word, PFN or counter that differs):"
case $result in
PASS*)
	say 'resumed: ' 'ok: '
	say 'data page ' 'ok: '
	say 'PFNs unchanged' 'ok: '
	say 'stopped: ' 'ok: '
	echo
	echo "The guest's sequence:"
	say 'guest sequence: '
	echo
	echo "Downtime, from the guest's last exit to its first entry after the kexec (TSC):"
	say 'downtime seen by the guest: '
	say '= save ' '  '
	;;
*)
	echo "  FAILED: $(grep -a -m1 -E 'Bail out|not ok|HLU: error' "$log" | strip)"
	;;
esac
echo
echo "Pool counters per page size (sysfs):"
awk '/HLU-POOL hop=[0-9]+ .* node=all/ {
	sub(/.*HLU-POOL /, "")
	n = ++seen[$1 " " $2]
	if ($1 == "hop=1") label = "before the VM"
	else label = n == 1 ? "after the kexec" : "after the VM"
	printf "  %-16s %-16s %s %s %s %s\n", label, $2, $4, $5, $6, $7
}' "$log"
echo
echo "Timings (host clock, QEMU TCG):"
awk '/HLU: begin hop=1/ { printf "  first boot to /init:   %.2f s\n", substr($0, 2, 8) }
     /\] # update 1 of 1: / { t = substr($0, 2, 8) }
     /HLU: begin hop=2/ { printf "  the VMM'"'"'s kexec to the next /init: %.2f s\n", substr($0, 2, 8) - t }' "$log"
echo
echo "Result: $result"
case $result in PASS*) ;; *) exit 1 ;; esac
