#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: what a hugetlb live update costs, against a shmem memfd
# preserved by LUO and against no preservation, for several sizes, in QEMU.
#
# Methods: hugetlb-2M and hugetlb-1G (memfds of huge pages, this series),
# shmem (upstream's memfd handler), none (nothing preserved: after the kexec
# the application allocates and writes the memory again). Each measured live
# update is one kexec of a scenario with many hops, run by harness/run.sh;
# harness/bench/hlu_bench does the work in the guest and prints HLUB: lines.
# Then a KVM guest whose RAM is hugetlb memfds (the selftest hugetlb_vm)
# goes through BENCH_REPS live updates in a row for each guest RAM size,
# and prints the downtime it saw, split into its parts.
#
#   BENCH_SMOKE=1  one small size, one repetition, every method, in a couple
#                  of minutes; the last line is PASS or FAIL bench-smoke
#   BENCH_REPS=N   repetitions (default 3)
#   BENCH_FULL=1   shmem at 4 GiB too (about 8 more minutes under TCG)
#   BENCH_REPORT=1 no QEMU: make the report again from the last run's logs
#   BENCH_KERNELS="prod debug"  the kernels measured, one after the other:
#                  prod, the test config without any debug option (the
#                  headline, $OUT/bench/), and debug, make check's test kernel
#                  ($OUT/bench-debug/); then bench-kernels.txt sets their
#                  medians side by side. The smoke run: debug only.
#
# Results: $OUT/bench/ (bench.csv, bench-summary.csv, bench.png, bench.txt,
# README-snippet.md, logs/); $OUT/bench-smoke/ for the smoke run.
. "$(dirname "$0")/lib.sh"

if [ -z "${BENCH_KERNEL:-}" ]; then
	kernels=${BENCH_KERNELS:-prod debug}
	[ "${BENCH_SMOKE:-0}" = 1 ] && kernels=${BENCH_KERNELS:-debug}
	rc=0
	for k in $kernels; do
		BENCH_KERNEL=$k "$0" || rc=1
	done
	if [ "${BENCH_SMOKE:-0}" != 1 ] && [ -f "$OUT/bench/bench-summary.csv" ] &&
	   [ -f "$OUT/bench-debug/bench-summary.csv" ]; then
		python3 "$HARNESS/bench/kernels.py" "$OUT/bench" "$OUT/bench-debug" |
			tee "$OUT/bench/bench-kernels.txt"
	fi
	exit $rc
fi
case $BENCH_KERNEL in
prod) KOBJ=$OBJ-prod ;;
debug) KOBJ=$OBJ ;;
*) die "BENCH_KERNELS: unknown kernel $BENCH_KERNEL (prod, debug)" ;;
esac

SMOKE=${BENCH_SMOKE:-0}
REPS=${BENCH_REPS:-3}
FULL=${BENCH_FULL:-0}
REPORT_ONLY=${BENCH_REPORT:-0}
BDIR=$BUILD/bench-$BENCH_KERNEL
if [ "$SMOKE" = 1 ]; then RES=$OUT/bench-smoke
elif [ "$BENCH_KERNEL" = prod ]; then RES=$OUT/bench
else RES=$OUT/bench-$BENCH_KERNEL; fi
t_start=$(date +%s)

# A smoke run ends with one PASS or FAIL line, whatever stops it.
smoke_result=
# shellcheck disable=SC2317  # run by the EXIT trap
smoke_exit() {
	local rc=$?
	if [ "$SMOKE" = 1 ] && [ -z "$smoke_result" ]; then
		echo "FAIL bench-smoke (stopped early, exit status $rc; see above)"
	fi
}
trap smoke_exit EXIT

# ---- what to run --------------------------------------------------------

# "boot NAME MEM CMDLINE" starts a QEMU boot, "run METHOD SIZE_MIB REP" is
# one live update in it. All boots of a run get the same memory, so that
# kexec and boot times compare. A hugetlb boot's pool is exactly the file's
# pages: the pool is handed over too and counts towards the method's cost.
plan() {
	local r
	if [ "$SMOKE" = 1 ]; then
		echo "boot smoke 4G hugepagesz=2M hugepages=32 hugepagesz=1G hugepages=1"
		echo "run hugetlb-2M 64 1"
		echo "run hugetlb-1G 1024 1"
		echo "run shmem 64 1"
		echo "run none 64 1"
		return
	fi
	# The host is shared, so its load drifts: the boots without pools (shmem
	# and none, one repetition each) go before, between and after the
	# hugetlb boots, and every median mixes early and late runs.
	plain 1
	hugetlb 2M 64 256 1024
	hugetlb 1G 1024
	[ "$REPS" -lt 2 ] || plain 2
	hugetlb 2M 4096
	hugetlb 1G 4096
	for ((r = 3; r <= REPS; r++)); do plain $r; done
}

# A boot with a pool of exactly the file's pages per size, all repetitions.
hugetlb() { # hugetlb 2M|1G SIZE_MIB...
	local p=$1 mib=2 s r
	shift
	[ "$p" = 1G ] && mib=1024
	for s in "$@"; do
		echo "boot ${p,,}-$s 10G hugepagesz=$p hugepages=$((s / mib))"
		for ((r = 1; r <= REPS; r++)); do echo "run hugetlb-$p $s $r"; done
	done
}

# A boot without any pool: shmem and none side by side, one repetition.
plain() { # plain REP
	local s
	echo "boot plain-$1 10G"
	for s in 64 256 1024 4096; do
		[ "$s" -lt 4096 ] || [ "$FULL" = 1 ] && echo "run shmem $s $1"
		echo "run none $s $1"
	done
}

# The VM runs: "NAME PAGES_2M WITH_1G" per line, each its own QEMU boot with
# BENCH_REPS live updates in a row (one in the smoke run).
vm_plan() {
	if [ "$SMOKE" = 1 ]; then
		echo "vm-64M 32 0"
		return
	fi
	echo "vm-64M 32 0"
	echo "vm-1G+1G 512 1"
	echo "vm-4G+1G 2048 1"
}

# One scenario per VM run: the VMM kexecs itself (-k) on the kernel its
# hop loaded, and the next kernel's VMM resumes the guest.
vm_scenarios() {
	local name pages g updates h n f hops
	updates=$REPS
	[ "$SMOKE" = 1 ] && updates=1
	hops=$((updates + 1))
	n=0
	while read -r name pages g; do
		n=$((n + 1))
		f=$BDIR/scn/bench-vm-$n-$name.scn
		{
			echo "# make bench, generated by harness/bench.sh: a KVM guest, $updates live update(s)."
			echo "MEM=8G"
			echo "CPUS=2"
			echo "CPU=qemu64,+svm,+npt,+pdpe1gb"
			printf 'CMDLINE="hugepagesz=2M hugepages=%d%s"\n' $((pages + 8)) \
				"$([ "$g" = 1 ] && echo " hugepagesz=1G hugepages=1")"
			echo "HOPS=$hops"
			echo "TIMEOUT=$((120 + hops * (60 + pages / 16)))"
			echo "QUIET=150"
			for ((h = 1; h <= hops; h++)); do
				printf 'HOP%d="' $h
				[ $h -lt $hops ] &&
					printf 'kexec -l -s --reuse-cmdline --append=\\"hlu.hop=%d\\" --initrd=/sys/firmware/initrd /boot/bzImage\n' $((h + 1))
				if [ $h = 1 ]; then
					printf 'hugetlb_vm%s -k -n %d -u %d"\n' "$([ "$g" = 1 ] && echo " -g")" "$pages" "$updates"
				else
					printf 'hugetlb_vm -s 2"\n'
				fi
			done
		} > "$f"
	done < <(vm_plan)
}

# ---- build: guest program, scenarios, initramfs ---------------------------

build() {
	local kobj=$KOBJ opt

	if [ ! -f "$OBJ/arch/x86/boot/bzImage" ] || [ ! -f "$BUILD/usr/include/linux/liveupdate.h" ]; then
		note "no kernel or uapi headers yet: building them"
		NO_ROLLBACK=1 "$HARNESS/build.sh"
	fi
	[ "$BENCH_KERNEL" != prod ] ||
		OBJ=$kobj DEBUG=0 EXTRA_CONFIG=$HARNESS/config/prod.config "$HARNESS/kernel.sh"
	for opt in LIVEUPDATE_HUGETLB LIVEUPDATE_MEMFD KEXEC_HANDOVER_DEBUGFS; do
		grep -q "^CONFIG_$opt=y" "$kobj/.config" || die "the kernel in $kobj lacks CONFIG_$opt"
	done

	rm -rf "$BDIR/scn" "$BDIR/obj"
	mkdir -p "$BDIR/scn" "$BDIR/obj/arch/x86/boot"
	# A copy of the kernel, so that a rebuild meanwhile does not change it.
	cp "$kobj/arch/x86/boot/bzImage" "$BDIR/obj/arch/x86/boot/bzImage"
	cp "$kobj/.config" "$BDIR/obj/.config"
	gcc -O2 -Wall -Wextra -Werror -static -I"$BUILD/usr/include" \
		-o "$BDIR/scn/hlu_bench" "$HARNESS/bench/hlu_bench.c"

	plan > "$BDIR/plan"
	# One scenario per boot: hop 1 preserves the first run's memfd and
	# kexecs, hop k retrieves run k-1 and preserves run k, the last hop
	# only retrieves.
	awk -v dir="$BDIR/scn" '
		function flush(   f, i, h) {
			if (name == "")
				return
			f = dir "/bench-" sprintf("%02d", ++nboot) "-" name ".scn"
			printf "# make bench, generated by harness/bench.sh: %d live updates.\n", n > f
			# Allocating and writing 4 GiB under TCG prints nothing for
			# a minute (53 s in a run of 2026-12-06); a silent guest is
			# stopped, and the boot run once more, after QUIET s, which
			# must stay below the boot'"'"'s TIMEOUT (TCG has hung after a
			# kexec, silent, in KHO'"'"'s initcall).
			printf "MEM=%s\nCPUS=2\nCMDLINE=\"%s\"\nHOPS=%d\nTIMEOUT=%d\nQUIET=150\n", mem,
			       cmdline, n + 1, timeout > f
			for (h = 1; h <= n + 1; h++) {
				printf "HOP%d=\"", h > f
				if (h > 1)
					printf "hlu_bench after %s%s", run[h - 1], h <= n ? "\n" : "" > f
				if (h <= n)
					printf "hlu_bench before %s", run[h] > f
				printf "\"\n" > f
			}
			close(f)
		}
		$1 == "boot" {
			flush()
			name = $2; mem = $3; cmdline = ""; n = 0; timeout = 120
			for (i = 4; i <= NF; i++)
				cmdline = cmdline (i > 4 ? " " : "") $i
		}
		# Seconds a live update may take under TCG, generously: a kexec
		# and a boot, plus the work per GiB (write, preserve, retrieve,
		# touch).
		$1 == "run" {
			run[++n] = $2 " " $3 " " $4
			per = $2 == "shmem" ? 180 : $2 == "none" ? 60 : 40
			timeout += 40 + int(per * $3 / 1024)
		}
		END { flush() }
	' "$BDIR/plan"
	vm_scenarios

	note "bench initramfs"
	OBJ=$BDIR/obj SCENARIOS=$BDIR/scn INITRAMFS=$BDIR/initramfs.cpio.gz "$HARNESS/initramfs.sh"
}

# ---- run ----------------------------------------------------------------

# Boot every scenario; failed: the boots run.sh did not pass.
failed=()
run_all() {
	local scn name t0 result

	rm -rf "$RES"
	mkdir -p "$RES/logs"
	cp "$BDIR/plan" "$RES/plan"
	cp "$BDIR/obj/.config" "$RES/kernel.config"
	note "$(grep -c '^run ' "$RES/plan") live updates in $(grep -c '^boot ' "$RES/plan") QEMU boots (TCG)"
	for scn in "$BDIR"/scn/bench-*.scn; do
		name=$(basename "$scn" .scn)
		t0=$(date +%s)
		set +e
		result=$(OBJ=$BDIR/obj INITRD=$BDIR/initramfs.cpio.gz "$HARNESS/run.sh" "$scn" "$RES/logs" 2>/dev/null | tail -n 1)
		set -e
		note "${result:-FAIL $name (run.sh said nothing)} [$(( $(date +%s) - t0 )) s]"
		echo "${result:-FAIL $name (run.sh said nothing)}" >> "$RES/boots"
		case $result in PASS*) ;; *) failed+=("$name") ;; esac
	done
	echo $(( $(date +%s) - t_start )) > "$RES/seconds"
}

if [ "$REPORT_ONLY" = 1 ]; then
	[ -f "$RES/plan" ] || die "no earlier run in $RES"
	while read -r line; do
		case $line in PASS*) ;; *) name=${line#* }; failed+=("${name%% *}") ;; esac
	done < "$RES/boots"
else
	build
	run_all
fi
elapsed=$(cat "$RES/seconds")
nruns=$(grep -c '^run ' "$RES/plan")
debug="no (prod)"
grep -q '^CONFIG_PROVE_LOCKING=y' "$RES/kernel.config" && debug=yes

# ---- parse the serial logs ---------------------------------------------------

# One row per live update. Host times are the runner's timestamp of each
# serial line; guest times the kernel's printk time (it restarts at 0 in the
# next kernel, so it is only compared within one kernel).
csv=$RES/bench.csv
{
	echo "method,size_mib,rep,boot,fill_s,preserve_s,kexec_load_s,kexec_luo_s,kexec_to_init_s,retrieve_session_s,retrieve_s,touch_s,verify_s,finish_s,alloc_write_s,hugetlb_fdt_bytes,luo_blob_bytes,bad_pages,content"
	for log in "$RES"/logs/bench-*.log; do
		[ -f "$log" ] || continue
		awk -v boot="$(basename "$log" .log)" '
		function host() { return substr($0, 2, 8) + 0 }
		function guest(   s) {
			s = $0
			sub(/^\[[ 0-9.]*\] \[ */, "", s)
			sub(/\].*/, "", s)
			return s + 0
		}
		function kv(key,   i) {
			for (i = 1; i <= NF; i++)
				if (index($i, key "=") == 1)
					return substr($i, length(key) + 2)
			return ""
		}
		function sec(key,   v) { v = kv(key); return v == "" ? "" : sprintf("%.6f", v / 1e9) }
		function id() {
			if (!((kv("method") " " kv("size_mib") " " kv("rep")) in seen)) {
				seen[kv("method") " " kv("size_mib") " " kv("rep")] = 1
				order[++n] = kv("method") " " kv("size_mib") " " kv("rep")
			}
			return kv("method") " " kv("size_mib") " " kv("rep")
		}
		/HLUB: before / {
			k = id(); fill[k] = sec("fill_ns"); pres[k] = sec("preserve_ns")
			load[k] = sec("kexec_load_ns")
		}
		/\] HLUB: kexec-e / { k = id(); mh[k] = host(); mg[k] = guest(); cur = k; stage = 1 }
		# The outgoing kernel: its tree and block lists, pools included.
		/hugetlb_luo: hand-over data: [0-9]+ bytes/ && stage == 1 {
			hd[cur] = $0
			sub(/.*hand-over data: /, "", hd[cur])
			sub(/ bytes.*/, "", hd[cur])
		}
		/kexec_core: Starting new kernel/ && stage == 1 {
			luo[cur] = sprintf("%.6f", guest() - mg[cur]); stage = 2
		}
		/Run \/init as init process/ && stage == 2 {
			init[cur] = sprintf("%.3f", host() - mh[cur]); stage = 0
		}
		/HLUB: kho-in / && kv("name") == "LUO" { k = id(); blob[k] = kv("blob_bytes") }
		/HLUB: after / {
			k = id(); rs[k] = sec("retrieve_session_ns"); rf[k] = sec("retrieve_ns")
			tt[k] = sec("touch_ns"); vf[k] = sec("verify_ns"); fi[k] = sec("finish_ns")
			aw[k] = sec("alloc_write_ns"); bad[k] = kv("bad_pages")
			fdt[k] = hd[k] != "" ? hd[k] : kv("hugetlb_fdt") == "-1" ? "" : kv("hugetlb_fdt")
			ok[k] = bad[k] == "0" && kv("sum") == kv("want") ? "ok" : "WRONG"
		}
		/HLUB: error / { k = id(); ok[k] = "error" }
		END {
			for (i = 1; i <= n; i++) {
				k = order[i]
				split(k, f, " ")
				printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
				       f[1], f[2], f[3], boot, fill[k], pres[k], load[k], luo[k],
				       init[k], rs[k], rf[k], tt[k], vf[k], fi[k], aw[k], fdt[k],
				       blob[k], bad[k], ok[k] == "" ? "missing" : ok[k]
			}
		}' "$log"
	done
} > "$csv"

# ---- statistics, table, ratios, plot data ---------------------------------------

report=$RES/bench.txt
problems=$RES/problems

mkdir -p "$RES/plot"
rm -f "$RES"/plot/*.dat "$RES/table.md" "$problems"
awk -F, -v planfile="$RES/plan" -v summary="$RES/bench-summary.csv" \
    -v plotdir="$RES/plot" -v problems="$problems" -v smoke="$SMOKE" -v md="$RES/table.md" '
function sortn(a, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
}
# Add value v of metric m to group g.
function add(g, m, v) {
	if (v == "")
		return
	cnt[g, m]++
	val[g, m, cnt[g, m]] = v
}
# min, median, max of group g, metric m into st[1..3]; 0 if no value.
function stats(g, m,   a, n, i) {
	n = cnt[g, m] + 0
	if (!n)
		return 0
	for (i = 1; i <= n; i++)
		a[i] = val[g, m, i]
	sortn(a, n)
	st[1] = a[1]; st[3] = a[n]
	st[2] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	return n
}
function med(g, m) { return stats(g, m) ? st[2] : "" }
function problem(s) { print s > problems; nprob++ }
# Medians of the kexec with nothing preserved, over every "none" run.
function baseline(m,   i, n, a) {
	n = 0
	for (i = 1; i <= nrows; i++)
		if (rmethod[i] == "none" && rv[i, m] != "")
			a[++n] = rv[i, m]
	if (!n)
		return ""
	sortn(a, n)
	base_lo = a[1]; base_hi = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# Three significant digits or so, no exponent.
function num(x,   a) {
	a = x < 0 ? -x : x
	return sprintf(a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", x)
}
# "median [min..max]" of a metric, scaled.
function cell(g, m, scale,   n) {
	n = stats(g, m)
	if (!n)
		return "-"
	if (n == 1)
		return num(st[2] * scale)
	return num(st[2] * scale) " [" num(st[1] * scale) ".." num(st[3] * scale) "]"
}
# Median of metric m for method, size; "" when not measured.
function M(method, size, m) { return med(method SUBSEP size, m) }
function per_gib(method, size,   v) { v = M(method, size, "meta_bytes"); return v == "" ? "" : v * 1024 / size }
function plus(a, b) { return a == "" || b == "" ? "" : a + b }
function ms_or_na(v) { return v == "" ? "n/a" : num(v * 1000) }
function ratio(label, a, b) {
	if (a == "" || b == "" || b == 0)
		printf "%s: n/a\n", label
	else if (a > 0 && a < b)
		printf "%s: %.3g (1/%s)\n", label, a / b, num(b / a)
	else
		printf "%s: %.3g\n", label, a / b
}
# Metadata handed over for a method and size: measured for hugetlb (the FDT),
# computed from the memfd ABI for shmem (16 bytes per 4 KiB folio, a page of
# 511 addresses per 511 pages of that array, 48 bytes of memfd_luo_ser).
function shmem_meta(size_mib,   folios, pages) {
	folios = size_mib * 256
	pages = int((folios * 16 + 4095) / 4096)
	return folios * 16 + int((pages + 510) / 511) * 4096 + 48
}
BEGIN {
	while ((getline line < planfile) > 0) {
		split(line, f, " ")
		if (f[1] != "run")
			continue
		planned[f[2] " " f[3] " " f[4]] = 1
		sizes[f[3]] = 1
		gseen[f[2], f[3]] = 1
	}
	# Groups (method, size) in the order of the table.
	for (z in sizes)
		sz[++nsz] = z + 0
	sortn(sz, nsz)
	nmeth = split("hugetlb-2M hugetlb-1G shmem none", meths, " ")
	for (i = 1; i <= nmeth; i++)
		for (j = 1; j <= nsz; j++)
			if ((meths[i] SUBSEP sz[j]) in gseen)
				groups[++ngroups] = meths[i] SUBSEP sz[j]
	nm = split("fill_s preserve_s kexec_load_s kexec_luo_s kexec_to_init_s retrieve_session_s retrieve_s touch_s verify_s finish_s alloc_write_s hugetlb_fdt_bytes luo_blob_bytes", mname, " ")
}
NR == 1 { next }
{
	nrows++
	rmethod[nrows] = $1; rsize[nrows] = $2
	for (i = 1; i <= nm; i++)
		rv[nrows, mname[i]] = $(i + 4)
	k = $1 " " $2 " " $3
	if (!(k in planned)) {
		problem("unexpected run " k)
		next
	}
	got[k] = 1
	# Only a hugetlb memfd makes hugetlb hand anything over: no pool file is
	# preserved, so with shmem or nothing there is no "hugetlb" subtree.
	need = $1 == "none" ? "kexec_luo_s kexec_to_init_s alloc_write_s" : "fill_s preserve_s kexec_luo_s kexec_to_init_s retrieve_s touch_s"
	if ($1 ~ /^hugetlb/)
		need = need " hugetlb_fdt_bytes"
	nn = split(need, nf, " ")
	missing = ""
	for (i = 1; i <= nn; i++)
		for (j = 1; j <= nm; j++)
			if (mname[j] == nf[i] && $(j + 4) == "")
				missing = missing " " nf[i]
	if ($19 != "ok" || missing != "")
		problem(k ": content " $19 (missing == "" ? "" : "; missing:" missing))
}
END {
	for (k in planned)
		if (!(k in got))
			problem(k ": no measurement at all")
	base_luo = baseline("kexec_luo_s")
	none_lo = base_lo; none_hi = base_hi
	base_init = baseline("kexec_to_init_s")
	for (i = 1; i <= nrows; i++) {
		g = rmethod[i] SUBSEP rsize[i]
		for (j = 1; j <= nm; j++)
			add(g, mname[j], rv[i, mname[j]])
		if (base_luo != "" && rv[i, "kexec_luo_s"] != "")
			add(g, "luo_kho_cost_s", rv[i, "kexec_luo_s"] - base_luo)
		if (base_init != "" && rv[i, "kexec_to_init_s"] != "")
			add(g, "init_extra_s", rv[i, "kexec_to_init_s"] - base_init)
		# First access to the memory after the update.
		add(g, "access_s", rmethod[i] == "none" ? rv[i, "alloc_write_s"] : rv[i, "touch_s"])
		if (rmethod[i] ~ /^hugetlb/)
			add(g, "meta_bytes", rv[i, "hugetlb_fdt_bytes"])
		else if (rmethod[i] == "shmem")
			add(g, "meta_bytes", shmem_meta(rsize[i]))
	}

	print "method,size_mib,metric,n,min,median,max" > summary
	nall = split("preserve_s kexec_luo_s luo_kho_cost_s kexec_to_init_s init_extra_s retrieve_session_s retrieve_s touch_s alloc_write_s access_s finish_s fill_s meta_bytes", all, " ")
	for (i = 1; i <= ngroups; i++) {
		split(groups[i], gk, SUBSEP)
		for (j = 1; j <= nall; j++) {
			n = stats(groups[i], all[j])
			if (!n)
				continue
			printf "%s,%s,%s,%d,%.6g,%.6g,%.6g\n", gk[1], gk[2], all[j], n, st[1], st[2], st[3] > summary
			# Plot data: size in MiB, median, min, max.
			printf "%s %.6g %.6g %.6g\n", gk[2], st[2], st[1], st[3] > (plotdir "/" all[j] "-" gk[1] ".dat")
		}
	}

	printf "Median [min..max] of the repetitions; times in ms unless noted.\n"
	printf "LUO/KHO at kexec: kernel log time from the marker right before reboot(KEXEC)\n"
	printf "to \"kexec_core: Starting new kernel\", minus the same with nothing preserved\n"
	printf "(median of all \"none\" runs: %s ms). kexec -e -> /init: host time from that\n", num(base_luo * 1000)
	printf "marker to the next kernel'"'"'s \"Run /init\" (nothing preserved: %s s).\n", num(base_init)
	printf "First access: read 1 byte per 4 KiB of the retrieved memfd; none: allocate\n"
	printf "and write S bytes. Metadata: hugetlb measured (the outgoing kernel'"'"'s\n"
	printf "\"hand-over data\" line: tree and block lists, pool included); shmem\n"
	printf "computed from the memfd ABI.\n\n"
	hdr = sprintf("%-10s %6s %-22s %-22s %-20s %-22s %-30s %s", "method", "size", "preserve ioctl", "LUO/KHO at kexec", "kexec -e -> /init s", "retrieve ioctl", "first access", "metadata B/GiB")
	print hdr
	gsub(/./, "-", hdr)
	print hdr
	for (i = 1; i <= ngroups; i++) {
		split(groups[i], gk, SUBSEP)
		g = groups[i]
		szl = gk[2] >= 1024 ? (gk[2] / 1024) " GiB" : gk[2] " MiB"
		meta = stats(g, "meta_bytes") ? sprintf("%.0f", st[2] * 1024 / gk[2]) (gk[1] == "shmem" ? " (computed)" : "") : "-"
		c[1] = cell(g, "preserve_s", 1000)
		c[2] = cell(g, "luo_kho_cost_s", 1000)
		c[3] = cell(g, "kexec_to_init_s", 1)
		c[4] = cell(g, "retrieve_s", 1000)
		c[5] = cell(g, "access_s", 1000) (gk[1] == "none" ? " alloc+write" : "")
		printf "%-10s %6s %-22s %-22s %-20s %-22s %-30s %s\n", gk[1], szl, c[1], c[2], c[3],
		       c[4], c[5], meta
		printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", gk[1], szl, c[1], c[2], c[3],
		       c[4], c[5], meta > md
	}

	# Headline ratios, of medians measured side by side in this run.
	s = smoke == 1 ? 64 : 1024
	lab = s == 1024 ? "1 GiB" : s " MiB"
	printf "\nRatios (medians of this run; the ratios, not the TCG times, are the result):\n"
	ratio("hugetlb-2M retrieve / shmem retrieve at " lab, M("hugetlb-2M", s, "retrieve_s"), M("shmem", s, "retrieve_s"))
	ratio("hugetlb-1G retrieve / shmem retrieve at 1 GiB", M("hugetlb-1G", 1024, "retrieve_s"), M("shmem", 1024, "retrieve_s"))
	ratio("hugetlb-2M preserve / shmem preserve at " lab, M("hugetlb-2M", s, "preserve_s"), M("shmem", s, "preserve_s"))
	ratio("hugetlb-2M finish / shmem finish at " lab, M("hugetlb-2M", s, "finish_s"), M("shmem", s, "finish_s"))
	ratio("metadata bytes per GiB hugetlb-2M (measured) / shmem (computed)", per_gib("hugetlb-2M", s), per_gib("shmem", s))
	ratio("metadata bytes per GiB hugetlb-1G (measured) / shmem (computed) at 1 GiB", per_gib("hugetlb-1G", 1024), per_gib("shmem", 1024))
	ratio("touch after retrieve vs allocate+write (none) at " lab ", hugetlb-2M", M("hugetlb-2M", s, "touch_s"), M("none", s, "alloc_write_s"))
	ratio("touch after retrieve vs allocate+write (none) at " lab ", shmem", M("shmem", s, "touch_s"), M("none", s, "alloc_write_s"))
	ratio("retrieve+touch vs allocate+write (none) at " lab ", hugetlb-2M", plus(M("hugetlb-2M", s, "retrieve_s"), M("hugetlb-2M", s, "touch_s")), M("none", s, "alloc_write_s"))
	ratio("retrieve+touch vs allocate+write (none) at " lab ", hugetlb-1G", plus(M("hugetlb-1G", s, "retrieve_s"), M("hugetlb-1G", s, "touch_s")), M("none", s, "alloc_write_s"))
	ratio("retrieve+touch vs allocate+write (none) at " lab ", shmem", plus(M("shmem", s, "retrieve_s"), M("shmem", s, "touch_s")), M("none", s, "alloc_write_s"))
	ratio("retrieve+touch vs allocate+write (none) at 4 GiB, hugetlb-2M", plus(M("hugetlb-2M", 4096, "retrieve_s"), M("hugetlb-2M", 4096, "touch_s")), M("none", 4096, "alloc_write_s"))
	ratio("kexec -e to next /init, hugetlb-2M / nothing preserved at " lab, M("hugetlb-2M", s, "kexec_to_init_s"), base_init)
	ratio("kexec -e to next /init, shmem / nothing preserved at " lab, M("shmem", s, "kexec_to_init_s"), base_init)
	printf "LUO/KHO in the outgoing kernel at %s, minus nothing preserved (%s ms, spread %s..%s ms): hugetlb-2M %s ms, hugetlb-1G %s ms, shmem %s ms\n",
	       lab, num(base_luo * 1000), num(none_lo * 1000), num(none_hi * 1000),
	       ms_or_na(M("hugetlb-2M", s, "luo_kho_cost_s")), ms_or_na(M("hugetlb-1G", 1024, "luo_kho_cost_s")),
	       ms_or_na(M("shmem", s, "luo_kho_cost_s"))

	# Growth with the size: the log-log slope from the smallest to the
	# largest size of each method; 1 is linear, O(number of folios).
	printf "\nGrowth with the size (log-log slope, smallest to largest size; 1 = linear):\n"
	split("hugetlb-2M hugetlb-1G shmem none", ms, " ")
	for (i = 1; i <= 4; i++) {
		lo = hi = ""
		for (j = 1; j <= ngroups; j++) {
			split(groups[j], gk, SUBSEP)
			if (gk[1] != ms[i])
				continue
			if (lo == "" || gk[2] + 0 < lo + 0)
				lo = gk[2]
			if (hi == "" || gk[2] + 0 > hi + 0)
				hi = gk[2]
		}
		if (lo == "" || lo == hi)
			continue
		line = sprintf("  %-10s %s MiB -> %s MiB:", ms[i], lo, hi)
		nmx = split(ms[i] == "none" ? "alloc_write_s" : "preserve_s retrieve_s touch_s finish_s meta_bytes", mx, " ")
		for (j = 1; j <= nmx; j++) {
			a = M(ms[i], lo, mx[j]); b = M(ms[i], hi, mx[j])
			if (a > 0 && b > 0)
				line = line sprintf(" %s %.2f", mx[j], log(b / a) / log(hi / lo))
		}
		print line
	}
}' "$csv" > "$report" || die "statistics failed"

# ---- the VM runs ------------------------------------------------------------

# One row per live update of a VM run: the downtime hugetlb_vm printed.
vmcsv=$RES/vm.csv
{
	echo "guest_ram,update,downtime_ms,save_ms,kexec_boot_ms,retrieve_ms,restore_ms"
	for log in "$RES"/logs/bench-vm-*.log; do
		[ -f "$log" ] || continue
		name=$(basename "$log" .log)
		name=${name#bench-vm-*-vm-}
		awk -v name="$name" '
		/\] # downtime seen by the guest: / {
			t = $0; sub(/.*guest: /, "", t); sub(/ ms.*/, "", t)
		}
		# "= save A + kexec and boot B + retrieve C + restore D"
		/\] # = save / {
			l = $0; sub(/.*# = /, "", l); split(l, w, " ")
			printf "%s,%d,%s,%s,%s,%s,%s\n", name, ++u, t, w[2], w[7], w[10], w[13]
		}' "$log"
	done
} > "$vmcsv"
vm_updates=$REPS
[ "$SMOKE" = 1 ] && vm_updates=1
vm_plan | awk -F, -v csv="$vmcsv" -v want="$vm_updates" -v problems="$problems" '
function sortn(a, n,   i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
}
function num(x) { return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }
# "median [min..max]" of column c of the rows of guest RAM r.
function cell(r, c,   a, i, n) {
	n = 0
	for (i = 1; i <= nrows; i++)
		if (ram[i] == r)
			a[++n] = v[i, c]
	if (!n)
		return "-"
	sortn(a, n)
	if (n == 1)
		return num(a[1])
	return num(n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) " [" num(a[1]) ".." num(a[n]) "]"
}
BEGIN {
	FS = " "
	while ((getline line < csv) > 0) {
		split(line, f, ",")
		if (f[1] == "guest_ram")
			continue
		ram[++nrows] = f[1]
		for (c = 3; c <= 7; c++)
			v[nrows, c] = f[c]
		got[f[1]]++
	}
	printf "\nA KVM guest on hugetlb memfds (hugetlb_vm -k): the downtime it sees, from\n"
	printf "its last exit before the kexec to its first entry after it (TSC), ms,\n"
	printf "median [min..max] of %d live update(s) in a row; the guest checks its\n", want
	printf "whole memory after each.\n\n"
	hdr = sprintf("%-14s %-24s %-18s %-24s %-18s %s", "guest RAM", "downtime", "VMM save", "kexec and boot", "retrieve", "restore")
	print hdr
	gsub(/./, "-", hdr)
	print hdr
}
{
	r = $1
	sub(/^vm-/, "", r)
	label = $2 * 2 >= 1024 ? ($2 * 2 / 1024) " GiB" : ($2 * 2) " MiB"
	label = label " 2M" ($3 == 1 ? " + 1G" : "")
	printf "%-14s %-24s %-18s %-24s %-18s %s\n", label, cell(r, 3), cell(r, 4), cell(r, 5), cell(r, 6), cell(r, 7)
	printf "| %s | %s | %s | %s | %s | %s |\n", label, cell(r, 3), cell(r, 4), cell(r, 5), cell(r, 6), cell(r, 7) > (csv ".md")
	if (got[r] + 0 != want)
		print "VM " label ": " (got[r] + 0) " of " want " downtimes measured" >> problems
}
END { print "" }' >> "$report" || die "VM statistics failed"

# ---- plot -----------------------------------------------------------------

png=$RES/bench.png
if command -v gnuplot >/dev/null; then
	gnuplot -e "dir='$RES/plot'; out='$png'; title='make bench: $nruns live updates, QEMU TCG, debug config: $debug'" \
		"$HARNESS/bench/bench.gp" || echo "plot failed" >> "$problems"
else
	echo "no gnuplot (make bench installs gnuplot-nox): no plot" >&2
fi

# ---- report -----------------------------------------------------------------

kver=$(strings "$BDIR/obj/arch/x86/boot/bzImage" | grep -m1 -oE '^[0-9]+\.[0-9]+\.[0-9]+[^ ]* \(' | tr -d ' (' || true)
{
	echo "make bench: $nruns live updates, QEMU TCG -smp 2, kernel ${kver:-?} (debug config: $debug), $(date -u +%Y-%m-%d)"
	echo "Times under TCG emulation are not real-hardware times: the ratios of"
	echo "methods measured side by side in this one run are the result."
	[ "$SMOKE" = 1 ] || [ "$FULL" = 1 ] || echo "shmem is not measured at 4 GiB (it alone would take ~8 more minutes; BENCH_FULL=1 adds it)."
	echo
	cat "$report"
} > "$report.new"
mv "$report.new" "$report"

if [ "$SMOKE" != 1 ]; then
	snippet=$RES/README-snippet.md
	{
		echo "## What a live update costs: \`make bench\`"
		echo
		echo "    make bench    # ~$((elapsed / 60 + 1)) min: QEMU boots, $nruns live updates; out/bench/"
		echo
		echo "For 64 MiB, 256 MiB, 1 GiB and 4 GiB memfds, \`make bench\` measures a"
		echo "live update of a hugetlb memfd of 2 MiB pages (\`hugetlb-2M\`) and of"
		echo "1 GiB pages (\`hugetlb-1G\`, 1 GiB and up), of a shmem memfd preserved by"
		echo "upstream's memfd handler (\`shmem\`), and of nothing preserved, where the"
		echo "application allocates and writes the memory again (\`none\`); $REPS"
		echo "repetitions of each, every one its own kexec. Every retrieved memfd is"
		echo "checked page by page. A hugetlb boot's pool is the file's pages, and"
		echo "is handed over with it."
		echo
		echo "Times under QEMU TCG are not real-hardware times: what counts are the"
		echo "ratios of methods measured side by side in one run. Measured"
		echo "$(date -u +%Y-%m-%d), $((elapsed / 60)) min $((elapsed % 60)) s, debug config: $debug."
		echo
		echo "| method | size | preserve ioctl ms | LUO/KHO at kexec ms | \`kexec -e\` to \`/init\` s | retrieve ioctl ms | first access ms | metadata B/GiB |"
		echo "|---|---|---|---|---|---|---|---|"
		cat "$RES/table.md"
		echo
		echo "Median [min..max] of $REPS. LUO/KHO at kexec: kernel log time from a"
		echo "marker right before \`reboot(LINUX_REBOOT_CMD_KEXEC)\` to \`Starting new"
		echo "kernel\`, minus the same with nothing preserved. \`kexec -e\` to \`/init\`:"
		echo "host time of the serial lines. First access: one byte read per 4 KiB of"
		echo "the retrieved memfd; for \`none\`, allocating and writing it. Metadata:"
		echo "measured for hugetlb (size of the KHO FDT \`hugetlb\`, pool included),"
		echo "computed for shmem from its ABI (16 bytes per 4 KiB folio)."
		echo
		sed -n '/^Ratios/,/^$/p' "$report" | sed '1d;/^$/d;s/^/    /'
		echo
		echo "The LUO/KHO time at kexec is within the noise of this measurement: the"
		echo "kexec with nothing preserved varies by ±10 ms or more under TCG on a"
		echo "shared host (see the \`none\` rows)."
		echo
		echo "Growth with the size, log-log slope from the smallest to the largest size"
		echo "(1 = linear in the size, i.e. in the number of folios):"
		echo
		sed -n '/^Growth/,/^$/p' "$report" | sed '1d;/^$/d;s/^  /    /'
		echo
		echo "A KVM guest whose RAM is hugetlb memfds (\`hugetlb_vm -k\`, $REPS live"
		echo "updates in a row per RAM size): the downtime it sees, from its last"
		echo "exit before the kexec to its first entry after it, ms, median"
		echo "[min..max]; its whole memory is checked after each update."
		echo
		echo "| guest RAM | downtime | VMM save | kexec and boot | retrieve | restore |"
		echo "|---|---|---|---|---|---|"
		cat "$vmcsv.md"
		if grep -q '^Kernel problem seen' "$report"; then
			echo
			grep '^Kernel problem seen' "$report"
		fi
		echo
		[ "$FULL" = 1 ] || echo "shmem is left out at 4 GiB to keep \`make bench\` short (\`BENCH_FULL=1\` adds it)."
		echo "Raw data: \`out/bench/bench.csv\`, statistics: \`out/bench/bench-summary.csv\`,"
		echo "plot: \`out/bench/bench.png\`, serial logs: \`out/bench/logs/\`."
	} > "$snippet"
fi

cat "$report"
echo
echo "CSV: $csv, $RES/bench-summary.csv"
[ -f "$png" ] && echo "plot: $png"
[ "$SMOKE" = 1 ] || echo "README snippet: $RES/README-snippet.md"
echo "logs: $RES/logs/"
echo "total time: $((elapsed / 60)) min $((elapsed % 60)) s"

status=0
detail="$nruns live updates, and $(($(wc -l < "$vmcsv") - 1)) of a KVM guest; every measurement present, every memfd's content and the guest's memory verified, ${elapsed}s"
if [ ${#failed[@]} -gt 0 ] || [ -s "$problems" ]; then
	status=1
	echo "Problems:"
	[ ${#failed[@]} -gt 0 ] && echo "  scenario failed: ${failed[*]} (logs in $RES/logs/)"
	[ -s "$problems" ] && sed 's/^/  /' "$problems"
	nprob=0
	[ -s "$problems" ] && nprob=$(wc -l < "$problems")
	detail="${failed[*]:+failed boots: ${failed[*]}; }$nprob missing or wrong measurements, see above"
fi
rm -f "$problems" "$RES/table.md" "$vmcsv.md"
if [ "$SMOKE" = 1 ]; then
	if [ $status = 0 ]; then smoke_result="PASS bench-smoke ($detail)"; else smoke_result="FAIL bench-smoke ($detail)"; fi
	echo "$smoke_result"
fi
exit $status
