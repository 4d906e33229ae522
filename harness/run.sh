#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot one scenario in QEMU (TCG) and judge it from its serial log.
# Usage: run.sh SCENARIO_FILE [LOGDIR]
# HLU_KERNEL=NAME boots every hop of the scenario on the kernel variant
# build/obj-NAME (e.g. kasan: harness/config/kasan.config), and names the
# result NAME-scenario; a scenario's own KERNEL1=NAME picks the first
# kernel only (KERNEL<hop> the others, see harness/init).
# Prints "PASS|FAIL|SKIP name (detail)" last; exit 0 pass, 1 fail, 4 skip.
# A guest whose serial console stays silent for QUIET seconds is stopped
# after its CPUs' instruction pointers are written to the log; such a
# silent hang, with no kernel splat, is run again once (TCG has hung that
# way after a kexec, once in hundreds of boots), and the result says so.
. "$(dirname "$0")/lib.sh"

scn=$1
logdir=${2:-$OUT/check}
scenario=$(basename "$scn" .scn)
name=${HLU_KERNEL:+$HLU_KERNEL-}$scenario
log=$logdir/$name.log
mkdir -p "$logdir"

# Scenario defaults; the file overrides them.
MEM=2G CPUS=2 NUMA=0 CMDLINE= HOPS=2 TIMEOUT=300 CPU=qemu64,+pdpe1gb QUIET=90
# RESERVE=off: guest RAM that the host does not reserve, so that a guest
# may have more memory than the host as long as it touches little of it
# (make bench-scale's pools of up to 256 GiB).
RESERVE=on
KERNEL1=
# shellcheck disable=SC1090
. "$scn"
# The first kernel; the guest's /init kexecs into hlu.kernel= by default.
kernel1=${HLU_KERNEL:-$KERNEL1}
bzimage=$OBJ${kernel1:+-$kernel1}/arch/x86/boot/bzImage
[ -f "$bzimage" ] || { echo "FAIL $name (no kernel $bzimage: build it first)"; exit 1; }
# Sanitizers slow TCG down and take memory: a variant may scale the
# timeouts, add memory (HLU_MEM_EXTRA) and kernel parameters
# (HLU_CMDLINE_EXTRA). KASAN's shadow, an eighth of memory, counts towards
# KHO's scratch, sized at twice the kernel's early allocations, for all of
# memory and again per node: with the 1 GiB pages of a scenario it would
# not fit.
if [ -n "${HLU_KERNEL:-}" ]; then
	TIMEOUT=$((TIMEOUT * ${HLU_SLOWDOWN:-1})) QUIET=$((QUIET * ${HLU_SLOWDOWN:-1}))
	[ -z "${HLU_MEM_EXTRA:-}" ] ||
		MEM=$(( ($(numfmt --from=iec "$MEM") + $(numfmt --from=iec "$HLU_MEM_EXTRA")) / 1048576 ))M
	CMDLINE="${HLU_CMDLINE_EXTRA:-} $CMDLINE"
fi

qemu=(qemu-system-x86_64 -accel tcg -cpu "$CPU" -m "$MEM" -smp "$CPUS"
      -nographic -no-reboot -monitor none -serial stdio
      -kernel "$bzimage" -initrd "${INITRD:-$BUILD/initramfs.cpio.gz}"
      -append "console=ttyS0 liveupdate=on retain_initrd printk.time=1 panic=-1 oops=panic hlu.scenario=$scenario${HLU_KERNEL:+ hlu.kernel=$HLU_KERNEL} $CMDLINE")
if [ "$NUMA" -gt 0 ]; then
	mem_mb=$(numfmt --from=iec "${MEM}" | awk '{print int($1/1048576)}')
	per=$((mem_mb / NUMA))
	for ((i = 0; i < NUMA; i++)); do
		cpus=
		for ((c = i; c < CPUS; c += NUMA)); do cpus="$cpus,cpus=$c"; done
		qemu+=(-object "memory-backend-ram,id=m$i,size=${per}M,reserve=$RESERVE"
		       -numa "node,nodeid=$i,memdev=m$i$cpus")
	done
	qemu[6]=$((per * NUMA))M
	# One CPU per socket, so no cache or package spans two nodes.
	qemu[8]="$CPUS,sockets=$CPUS,cores=1,threads=1"
elif [ "$RESERVE" = off ]; then
	qemu+=(-object "memory-backend-ram,id=ram0,size=$MEM,reserve=off"
	       -machine memory-backend=ram0)
fi

# The monitor, on a socket of this run only, answers the hang watcher.
mon=$(mktemp -u "${TMPDIR:-/tmp}/hlu-mon.XXXXXX")
qemu[12]="unix:$mon,server=on,wait=off"

# monitor CMD: the human monitor's answer to CMD.
monitor() {
	perl -MIO::Socket::UNIX -MIO::Select -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1;
		my $sel = IO::Select->new($s);
		print $s "$ARGV[1]\n";
		while ($sel->can_read(2)) { sysread($s, my $b, 65536) or last; print $b }' "$mon" "$1"
}

# rips: the CPUs' instruction pointers, with the kernel symbol of each.
rips() {
	monitor "info registers -a" | tr -d '\r' | grep -oE 'RIP=[0-9a-f]+' | cut -c5- |
		perl -e 'my @s;
			if (open(my $m, "<", shift)) {
				while (<$m>) { my ($a, $t, $n) = split; push @s, [hex($a), $n] if $t =~ /^[tTwW]$/ }
			}
			@s = sort { $a->[0] <=> $b->[0] } @s;
			my $c = 0;
			while (my $r = <STDIN>) {
				chomp $r; my $x = hex($r); my $b = "?";
				for (@s) { last if $_->[0] > $x; $b = sprintf("%s+0x%x", $_->[1], $x - $_->[0]) }
				print "cpu$c=$b "; $c++;
			}' "${bzimage%/arch/*}/System.map"
}

# watch_quiet: stop QEMU once the log has not grown for QUIET seconds,
# sampling the CPUs first (three times, a second apart: a loop shows).
watch_quiet() {
	local last=-1 same=0 size i
	while sleep 2; do
		size=$(stat -c %s "$log" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ]; then same=$((same + 2)); else same=0 last=$size; fi
		[ "$same" -ge "$QUIET" ] || continue
		for i in 1 2 3; do rips | sed "s/ $//"; echo; sleep 1; done > "$log.quiet"
		monitor quit > /dev/null || true
		return
	done
}

start=$(date +%s.%N)
rm -f "$log.quiet"
watch_quiet & watcher=$!
set +e
timeout --foreground -k 5 "$TIMEOUT" "${qemu[@]}" < /dev/null 2>&1 |
	perl -MTime::HiRes=time -pe 'BEGIN { $t0 = time; $| = 1 } s/\r//g; printf "[%8.3f] ", time - $t0' > "$log"
rc=${PIPESTATUS[0]}
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
set -e
rm -f "$mon"
quiet=
if [ -f "$log.quiet" ]; then
	quiet="silent for ${QUIET}s at $(head -n 1 "$log.quiet")"
	sed "s/^/[  silent] HLU-HARNESS: $QUIET s without output, CPUs at /" "$log.quiet" >> "$log"
	rm -f "$log.quiet"
fi
wall=$(echo "$(date +%s.%N) - $start" | bc)

fail=() skip=0
[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail+=("timeout after ${TIMEOUT}s")
[ -z "$quiet" ] || fail+=("$quiet")
for ((h = 1; h <= HOPS; h++)); do
	grep -q "HLU: begin hop=$h " "$log" || { fail+=("hop $h never started"); break; }
done
grep -q "HLU: end hop=$HOPS " "$log" || fail+=("last hop did not end")
grep -q "HLU: error" "$log" && fail+=("$(grep -m1 -o 'HLU: error.*' "$log")")
while read -r line; do
	r=${line##*rc=}
	case "$r" in
	0) ;;
	4) skip=1 ;;
	*) fail+=("step failed: ${line#*HLU: rc }") ;;
	esac
done < <(grep -o 'HLU: rc .*' "$log")
grep -qE '^\[[ 0-9.]+\] (not ok [0-9])' "$log" && fail+=("a TAP test failed")
grep -qE '^\[[ 0-9.]+\] ok [0-9].*# SKIP' "$log" && skip=1
SPLAT='WARNING:|BUG:|Oops|Kernel panic|kernel BUG at|general protection fault|UBSAN:|KASAN:|inconsistent lock state|cut here|INFO: task .* blocked|rcu_preempt detected stalls|Call Trace:'
grep -qE "$SPLAT" "$log" && fail+=("kernel splat in the log")

# Hop timings: from "kexec -e" to the next kernel's /init, host clock.
timings=$(awk '
	/HLU: kexec-exec hop=/ { t = substr($0, 2, 8) + 0; h = $0; sub(/.*hop=/, "", h); sub(/ .*/, "", h) }
	/HLU: begin hop=/ && t { printf "kexec %d->%d %.2fs; ", h, h + 1, substr($0, 2, 8) - t; t = 0 }
' "$log")
detail="$(printf '%.1f' "$wall")s wall; ${timings:-no kexec}"

# Pool counters logged by hlu-pool, per size, hop by hop.
awk '
	/HLU-POOL .*node=all/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		k = v["size"]; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		line[k] = line[k] sprintf("%shop%s total=%s free=%s", line[k] == "" ? "" : " -> ", v["hop"], v["total"], v["free"])
	}
	END { for (i = 1; i <= n; i++) printf "  pool %s: %s\n", order[i], line[order[i]] }
' "$log" >&2

# A silent hang without a splat: once more, from the start, the first
# log kept beside the second.
if [ -n "$quiet" ] && [ -z "${HLU_RETRIED:-}" ] && ! grep -qE "$SPLAT" "$log"; then
	where=$(grep -oE 'HLU: (begin|end) hop=[0-9]+' "$log" | tail -n 1 | sed 's/HLU: //')
	case $where in
	begin*) where="in hop ${where#*=}" ;;
	end*) where="booting hop $((${where#*=} + 1))" ;;
	*) where="booting hop 1" ;;
	esac
	mv "$log" "$logdir/$name.hang.log"
	note "$name: hung silently $where; once more (first log in $name.hang.log)"
	HLU_RETRIED="$where, $quiet" exec "$0" "$@"
fi
[ -z "${HLU_RETRIED:-}" ] || detail="$detail; run twice, the first hung: ${HLU_RETRIED}"

if [ ${#fail[@]} -gt 0 ]; then
	echo "--- $name: relevant lines of $log" >&2
	grep -nE "$SPLAT" "$log" | head -n 5 | while IFS=: read -r n _; do
		sed -n "$((n > 3 ? n - 3 : 1)),$((n + 25))p" "$log"
		echo "..."
	done >&2
	grep -E 'not ok|HLU: rc .*rc=[^04]|# FAIL|Failed|failed|error' "$log" | head -n 20 >&2 || true
	grep -qE "$SPLAT" "$log" || tail -n 25 "$log" >&2
	echo "FAIL $name (${fail[*]}; $detail)"
	exit 1
elif [ $skip = 1 ]; then
	echo "SKIP $name ($(grep -m1 -oE '(# SKIP|SKIP).*' "$log" | head -c 120); $detail)"
	exit 4
fi
echo "PASS $name ($detail)"
