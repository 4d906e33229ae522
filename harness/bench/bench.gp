# SPDX-License-Identifier: GPL-2.0
# make bench: time and metadata against memfd size, one line per method.
# gnuplot -e "dir='out/bench/plot'; out='out/bench/bench.png'; title='...'" bench.gp
# dir holds METRIC-METHOD.dat files: size_mib median min max.

methods(metric) = system("cd '" . dir . "' && ls " . metric . "-*.dat 2>/dev/null | sed 's/^" . metric . "-//; s/[.]dat$//' | tr '\\n' ' '")
file(metric, m) = dir . "/" . metric . "-" . m . ".dat"
color(m) = m eq "hugetlb-2M" ? 1 : m eq "hugetlb-1G" ? 2 : m eq "shmem" ? 3 : 4

set terminal pngcairo size 1500,950 font ",10"
set output out
set multiplot layout 2,3 title title . "\nx: memfd size. QEMU TCG: not real-hardware times; compare the methods, side by side" font ",11"
set logscale xy
set grid
set key below horizontal
set xtics ("64M" 64, "256M" 256, "1G" 1024, "4G" 4096)
set offsets graph 0.05, graph 0.05, 0, 0
set style data yerrorlines
set linetype 1 lc rgb "#d62728" lw 2 pt 7
set linetype 2 lc rgb "#9467bd" lw 2 pt 9
set linetype 3 lc rgb "#1f77b4" lw 2 pt 5
set linetype 4 lc rgb "#7f7f7f" lw 2 pt 13

set title "preserve ioctl (LIVEUPDATE\\_SESSION\\_PRESERVE\\_FD)"
set ylabel "ms"
plot for [m in methods("preserve_s")] file("preserve_s", m) \
	using 1:($2 * 1000):($3 * 1000):($4 * 1000) lt color(m) title m

set title "outgoing kernel: marker to \"Starting new kernel\"\n(none = nothing preserved)"
set ylabel "ms"
plot for [m in methods("kexec_luo_s")] file("kexec_luo_s", m) \
	using 1:($2 * 1000):($3 * 1000):($4 * 1000) lt color(m) title m

set title "kexec -e to the next kernel's /init"
set ylabel "s"
unset logscale y
plot for [m in methods("kexec_to_init_s")] file("kexec_to_init_s", m) \
	using 1:2:3:4 lt color(m) title m
set logscale y

set title "retrieve ioctl (LIVEUPDATE\\_SESSION\\_RETRIEVE\\_FD)"
set ylabel "ms"
plot for [m in methods("retrieve_s")] file("retrieve_s", m) \
	using 1:($2 * 1000):($3 * 1000):($4 * 1000) lt color(m) title m

set title "first access: read 1 byte per 4 KiB of the retrieved memfd\n(none: allocate and write it)"
set ylabel "ms"
plot for [m in methods("access_s")] file("access_s", m) \
	using 1:($2 * 1000):($3 * 1000):($4 * 1000) lt color(m) \
	title (m eq "none" ? "none: allocate+write" : m . ": touch")

set title "hand-over metadata\n(hugetlb: FDT measured, pool included; shmem: computed)"
set ylabel "bytes"
plot for [m in methods("meta_bytes")] file("meta_bytes", m) \
	using 1:2:3:4 lt color(m) title m

unset multiplot
