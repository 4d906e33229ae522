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
grep -E '\] ok [0-9]+ (preserve|file [0-9]+: [0-9]+ [0-9A-Z]+ pages filled)' "$log" | strip |
	sed 's/^ok [0-9]* /  /'
echo
echo "What the second kernel verified:"
grep -E '\] (not )?ok [0-9]+ file [0-9]+: (content|every PFN|size)' "$log" | strip |
	sed 's/^ok [0-9]* /  ok: /; s/^not ok [0-9]* /  FAILED: /'
awk '/content of all [0-9]+ pages/ { n = $0; sub(/.*content of all /, "", n); sub(/ pages.*/, "", n); pages += n }
     /every PFN equal \(/ { d = $0; sub(/.*\(/, "", d); sub(/ differ.*/, "", d); differ += d }
     END { if (pages) printf "  PFNs unchanged: %d of %d huge pages (%.0f%%)\n", pages - differ, pages, 100 * (pages - differ) / pages }' "$log"
echo
echo "Pool counters (HugePages_Total/Free per size):"
grep -E '# pool (stage 1 before|stage 1 at kexec|after kexec|after finish|after close)[^n]*: total' "$log" | strip |
	grep -v node | sed 's/^# pool /  /'
grep -E '\] (not )?ok [0-9]+ .*(pages back in the free pool|free == total)' "$log" | strip |
	sed 's/^ok [0-9]* /  ok: /; s/^not ok [0-9]* /  FAILED: /'
echo
echo "Timings (host clock, QEMU TCG):"
awk '/HLU: begin hop=1/ { printf "  first boot to /init:   %.2f s\n", substr($0, 2, 8) }
     /HLU: kexec-exec/ { t = substr($0, 2, 8) }
     /HLU: begin hop=2/ { printf "  kexec -e to next /init: %.2f s\n", substr($0, 2, 8) - t }' "$log"
echo
echo "Result: $result"
case $result in PASS*) ;; *) exit 1 ;; esac
