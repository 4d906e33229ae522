# SPDX-License-Identifier: GPL-2.0
# make bench-scale: blackout and next-kernel boot against the pool size.
# gnuplot -e "dir='out/bench-scale/plot'; out='out/bench-scale/scale.png'" scale.gp
# dir holds METRIC-KERNEL-PAGE.dat files: pool GiB, seconds.

f(metric, k, p) = dir . "/" . metric . "-" . k . "-" . p . ".dat"

set terminal pngcairo size 1500,1000 font ",10" noenhanced
set output out
set multiplot layout 2,2 title "make bench-scale: live update of a hugetlb pool, against the pool size\nQEMU TCG: not real-hardware times; the ratios and log-log slopes are the result (prod: no debug options; debug: make check's kernel)" font ",11"
set logscale x
set grid
set key top left
set xlabel "pool (GiB)"
set style data linespoints
set linetype 1 lc rgb "#d62728" lw 2 pt 7
set linetype 2 lc rgb "#1f77b4" lw 2 pt 5
set linetype 3 lc rgb "#2ca02c" lw 2 pt 9
set linetype 4 lc rgb "#7f7f7f" lw 2 pt 13

label(m) = m eq "blackout" ? "pool handed over" : \
	   m eq "blackout_none" ? "nothing preserved" : \
	   m eq "boot" ? "boot to /init, pool handed over" : \
	   m eq "boot_none" ? "boot to /init, nothing preserved" : \
	   m eq "restore" ? "restoring the pool (hugetlb_luo)" : \
	   "allocating hugepages= again"
style(m) = m eq "blackout" || m eq "boot" ? 1 : m eq "restore" ? 2 : m eq "alloc" ? 3 : 4
dash(k) = k eq "prod" ? 1 : 2

do for [p in "2M 1G"] {
	set title "blackout in the outgoing kernel, " . p . " pages"
	set ylabel "reboot() to Starting new kernel (s)"
	plot for [k in "prod debug"] for [m in "blackout blackout_none"] \
		f(m, k, p) using 1:2 title k . ": " . label(m) lt style(m) dt dash(k)
	set title "next kernel, " . p . " pages"
	set ylabel "seconds"
	plot for [k in "prod debug"] for [m in "boot boot_none restore alloc"] \
		f(m, k, p) using 1:2 title k . ": " . label(m) lt style(m) dt dash(k)
}
unset multiplot
