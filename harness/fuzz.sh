#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make fuzz SEED=s N=n: n seeded random live updates (hugetlb_fuzz, seeds
# s, s+1, ..., s+n-1; SEED defaults to the time, N to 10), chained in one
# QEMU run of n+1 kernels: each kernel checks the case of the one before
# (stage 2) and draws the next (stage 1). Every draw comes from the seed,
# so a failing case reproduces alone: make fuzz SEED=<its seed> N=1.
# Prints one "PASS|FAIL fuzz (...)" line; the log is in out/fuzz.
. "$(dirname "$0")/lib.sh"

seed=${SEED:-$(date +%s)}
n=${N:-10}
[[ $seed =~ ^[0-9]+$ && $n =~ ^[1-9][0-9]*$ ]] || die "SEED and N must be numbers, N at least 1"
dir=$OUT/fuzz
rm -rf "$dir/scn"
mkdir -p "$dir/scn"
scn=$dir/scn/hugetlb_fuzz_run.scn
{
	echo "MEM=2G"
	echo 'CMDLINE="hugepagesz=2M hugepages=64"'
	echo "HOPS=$((n + 1))"
	echo "TIMEOUT=$((120 + 30 * n))"
	for ((i = 1; i <= n + 1; i++)); do
		steps=
		[ "$i" -gt 1 ] && steps="hugetlb_fuzz -s 2"
		[ "$i" -le "$n" ] && steps="${steps:+$steps
}HLU_FUZZ_SEED=$((seed + i - 1)) hugetlb_fuzz"
		printf 'HOP%d="%s"\n' "$i" "$steps"
	done
} > "$scn"

"$HARNESS/kernel.sh"
"$HARNESS/tests.sh"
INITRAMFS=$dir/initramfs.cpio.gz SCENARIOS=$dir/scn "$HARNESS/initramfs.sh"
note "fuzz: $n cases, seeds $seed to $((seed + n - 1)), $((n + 1)) kernels"
INITRD=$dir/initramfs.cpio.gz "$HARNESS/run.sh" "$scn" "$dir" > "$dir/result" 2>&1
rc=$?
log=$dir/hugetlb_fuzz_run.log
passed=$(grep -c -- '--- HUGETLB FUZZ TEST PASSED (seed [0-9]*) ---' "$log")
if [ $rc = 0 ] && [ "$passed" = "$n" ]; then
	echo "PASS fuzz ($n cases, seeds $seed to $((seed + n - 1)), $((n + 1)) kernels)"
	exit 0
fi
first=$(grep -o 'seed [0-9]*:' "$log" | while read -r _ s; do
	s=${s%:}
	grep -q -- "--- HUGETLB FUZZ TEST PASSED (seed $s) ---" "$log" || { echo "$s"; break; }
done)
echo "FAIL fuzz ($passed of $n cases passed; first failing seed ${first:-unknown}: make fuzz SEED=${first:-$seed} N=1; $(tail -n1 "$dir/result"); log $log)"
exit 1
