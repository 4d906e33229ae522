#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: build everything, lint, run every scenario (or those whose
# name matches T=glob), and end with "N passed, N failed, N skipped".
# SCENARIOS=dir adds the scenario files and static programs found there.
. "$(dirname "$0")/lib.sh"

T=${T:-*}
pass=0 failn=0 skipn=0
results=()
record() { # record "PASS|FAIL|SKIP name (detail)"
	results+=("$1")
	case $1 in
	PASS*) pass=$((pass + 1)) ;;
	SKIP*) skipn=$((skipn + 1)) ;;
	*) failn=$((failn + 1)) ;;
	esac
	echo "$1"
}
summary() {
	echo
	printf '%s\n' "${results[@]}"
	echo "$pass passed, $failn failed, $skipn skipped"
	# For the cover letter of make series.
	{ printf '%s\n' "${results[@]}"
	  echo "$pass passed, $failn failed, $skipn skipped"; } > "$OUT/check/results.new" 2>/dev/null &&
		mv "$OUT/check/results.new" "$OUT/check/results" || true
	[ "$failn" = 0 ]
}
step() { # step NAME command...: a build step; a failure ends the run
	local name=$1
	shift
	if ! "$@"; then
		record "FAIL $name (see the errors above)"
		summary
		exit 1
	fi
}

t0=$(date +%s)
step build "$HARNESS/build.sh"
note "build done in $(( $(date +%s) - t0 )) s"

last=$(cat "$OUT/check/results" 2>/dev/null || true)
rm -rf "$OUT/check"
mkdir -p "$OUT/check"
[ -z "$last" ] || echo "$last" > "$OUT/check/results"

# The mailable series: written to $OUT/series and applied with git am to a
# fresh unpack of the base.
if [[ series-am == $T ]]; then
	note "series: format-patch and git am on a fresh base"
	r=$(AM_CHECK=1 "$HARNESS/series.sh" | tail -n 1 || true)
	record "${r:-FAIL series-am (make series failed, see above)}"
fi
while read -r line; do
	name=${line#* }; name=${name%% *}
	# shellcheck disable=SC2053
	[[ $name == $T ]] && record "$line"
done < <("$HARNESS/lint.sh" || true)

# The benchmark, tiny, so that it cannot rot (not a timed test).
if [[ bench-smoke == $T ]]; then
	note "bench: smoke run"
	r=$(BENCH_SMOKE=1 "$HARNESS/bench.sh" | tail -n 1 || true)
	record "${r:-FAIL bench-smoke (bench.sh failed, see above)}"
fi

scns=("$HARNESS"/scenarios/*.scn)
for d in ${SCENARIOS:-}; do
	scns+=("$d"/*.scn)
done
for s in "${scns[@]}"; do
	name=$(basename "$s" .scn)
	# shellcheck disable=SC2053
	[[ $name == $T ]] || continue
	note "scenario $name"
	expect=$(sed -n 's/^EXPECT=//p' "$s")
	if [ -n "$expect" ]; then
		r=$("$HARNESS/run.sh" "$s" "$OUT/check" 2>/dev/null | tail -n 1 || true)
	else
		r=$("$HARNESS/run.sh" "$s" "$OUT/check" | tail -n 1 || true)
	fi
	if [ -n "$expect" ]; then
		# A scenario that tests the runner: it must end as EXPECT says.
		# EXPECT_TEXT, if set, must be in what it said too.
		text=$(EXPECT_TEXT=; . "$s"; echo "$EXPECT_TEXT")
		case $r in
		"$expect "*"$text"*) r="PASS $name (runner said ${r%% *} as expected: ${r#* })" ;;
		*) r="FAIL $name (expected $expect, runner said: $r)" ;;
		esac
	fi
	record "$r"
done
# The memory-safety set: scenarios again, every hop on the kasan kernel
# (generic KASAN, KFENCE and UBSAN; harness/config/kasan.config), whose
# reports fail them like any splat. Named kasan-<scenario>; with three
# times the time, 2 GiB of memory more for the shadow, and KHO's scratch
# at the size of the early allocations (harness/run.sh says why).
for n in $KASAN_SCENARIOS; do
	# shellcheck disable=SC2053
	[[ kasan-$n == $T ]] || continue
	note "scenario $n on the kasan kernel"
	r=$(HLU_KERNEL=kasan HLU_SLOWDOWN=3 HLU_MEM_EXTRA=2G HLU_CMDLINE_EXTRA=kho_scratch=100% "$HARNESS/run.sh" "$HARNESS/scenarios/$n.scn" "$OUT/check" | tail -n 1 || true)
	record "$r"
done
# Upstream's own runner, on the tests written for it.
vts=()
for t in $VMTESTS_DEFAULT; do
	# shellcheck disable=SC2053
	[[ vmtest-$t == $T ]] && vts+=("$t")
done
if [ ${#vts[@]} -gt 0 ]; then
	note "vmtest.sh: ${vts[*]}"
	while read -r line; do
		case $line in PASS*|FAIL*) record "$line" ;; esac
	done < <("$HARNESS/vmtest.sh" "${vts[@]}" || true)
fi
# Bisectability, last: every prefix of the series in four configs. Its
# build folders live in the cache; with none there yet (a cold first run
# takes over an hour on two cores) it is skipped, never passed.
if [[ check-series-test == $T ]]; then
	sdir=${CHECK_SERIES_DIR:-$CACHE/series}
	if [ ! -f "$sdir/complete" ]; then
		record "SKIP check-series (no finished build folders in $sdir: run 'make check-series' once)"
	else
		note "check-series: every prefix, four configs"
		rc=0
		out=$(timeout "${CHECK_SERIES_TIMEOUT:-2700}" "$HARNESS/check-series.sh") || rc=$?
		while read -r line; do
			case $line in PASS*|FAIL*) record "$line" ;; esac
		done <<< "$out"
		[ $rc != 124 ] || record "FAIL check-series (not done in ${CHECK_SERIES_TIMEOUT:-2700} s)"
	fi
fi
note "make check took $(( $(date +%s) - t0 )) s"
summary
