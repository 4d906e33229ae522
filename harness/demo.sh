#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make: build what is needed, run one live update in QEMU, and report.
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
echo "What the first kernel preserved (one LUO session, then kexec -s --reuse-cmdline):"
grep -E '\] # \[STAGE 1\] [0-9]+ pages of' "$log" | strip | sed 's/^# \[STAGE 1\] /  /'
echo
echo "What the second kernel verified (hugetlb_files fails on any difference):"
case $result in
PASS*)
	grep -E '\] # \[STAGE 2\] ' "$log" | strip | sed 's/^# \[STAGE 2\] /  ok: /'
	awk '/\[STAGE 2\] .* file of [0-9]+ pages: .*PFNs/ { n = $0; sub(/.* file of /, "", n); sub(/ pages.*/, "", n); pages += n }
	     END { if (pages) printf "  PFNs unchanged: all %d huge pages (pagemap before and after)\n", pages }' "$log"
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
	if ($1 == "hop=1") label = n == 1 ? "before stage 1" : "after stage 1"
	else label = n == 1 ? "after the kexec" : "after stage 2"
	printf "  %-16s %-16s %s %s %s %s\n", label, $2, $4, $5, $6, $7
}' "$log"
echo
echo "Timings (host clock, QEMU TCG):"
awk '/HLU: begin hop=1/ { printf "  first boot to /init:   %.2f s\n", substr($0, 2, 8) }
     /HLU: kexec-exec/ { t = substr($0, 2, 8) }
     /HLU: begin hop=2/ { printf "  kexec -e to next /init: %.2f s\n", substr($0, 2, 8) - t }' "$log"
echo
echo "Result: $result"
case $result in PASS*) ;; *) exit 1 ;; esac
