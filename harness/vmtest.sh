#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run selftests through upstream's runner, as a maintainer would:
# tools/testing/selftests/liveupdate/vmtest.sh -T TEST builds its own
# kernel from the assembled tree with the selftests' config (kept in
# build/vmtest-obj, so later runs rebuild only what changed; ccache, keyed
# on paths relative to the clone, serves another clone's first build), boots it
# in QEMU, kexecs into it once, and passes when stage 2 says TEST PASSED.
# Its kernel has no debug options; a warning, oops or lockdep report in
# its serial log fails the test here all the same.
#
#   harness/vmtest.sh [TEST...]    (default: VMTESTS_DEFAULT of harness/lib.sh)
#
# Prints one "PASS|FAIL vmtest-TEST (...)" line per test.
. "$(dirname "$0")/lib.sh"

tests=("$@")
# shellcheck disable=SC2206
[ ${#tests[@]} -gt 0 ] || tests=($VMTESTS_DEFAULT)
runner=$TREE/tools/testing/selftests/liveupdate/vmtest.sh
[ -x "$runner" ] || die "no $runner: run 'make tree' first"
bdir=$BUILD/vmtest-obj
mkdir -p "$bdir" "$OUT/vmtest"
# The runner calls plain gcc; ccache's wrappers keep its rebuilds short.
path=$PATH
[ -d /usr/lib/ccache ] && path=/usr/lib/ccache:$PATH

rc=0
for t in "${tests[@]}"; do
	ws=$OUT/vmtest/$t
	log=$OUT/vmtest/$t.log
	rm -rf "$ws"
	s=$(date +%s)
	if PATH=$path "$runner" -d "$bdir" -j "$(($(nproc) + 1))" -T "$t" -w "$ws" -k \
		> "$log" 2>&1; then
		bad=$(grep -aE 'WARNING:|BUG:|Oops|possible circular locking|Kernel panic|Call Trace' \
			"$ws/qemu.serial" 2>/dev/null | head -n 3 || true)
		if [ -n "$bad" ]; then
			echo "FAIL vmtest-$t (the serial log has: $(echo "$bad" | head -n 1))"
			rc=1
		else
			echo "PASS vmtest-$t (vmtest.sh -T $t: TEST PASSED across a kexec, $(( $(date +%s) - s )) s with its build)"
		fi
	else
		echo "FAIL vmtest-$t (vmtest.sh -T $t failed: $(grep -aE '^not ok|error' "$log" | tail -n 1); see $log and $ws/qemu.serial)"
		rc=1
	fi
done
exit $rc
