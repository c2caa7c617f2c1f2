# bench/throughput.gp: the throughput chart of a bench/run.sh run.
# gnuplot -c throughput.gp PREFIX OUT.svg reads PREFIX-rps.dat and
# PREFIX-mibs.dat (written by dockmux-bench-report: one row per scenario, one
# column per target, "-" where a target was not measured).
prefix = ARG1 eq "" ? "throughput" : ARG1
out = ARG2 eq "" ? "throughput.svg" : ARG2
rps = prefix."-rps.dat"
mibs = prefix."-mibs.dat"
ncols(f) = int(system("head -1 '".f."' | wc -w"))
# How many figures a data file holds (a subset run may leave a panel empty).
figures(f) = int(system("awk 'FNR > 1 { for (i = 2; i <= NF; i++) if ($i != \"-\") n++ } END { print n + 0 }' '".f."' 2>/dev/null"))
has_rps = figures(rps) > 0
has_mibs = figures(mibs) > 0

set terminal svg size 1100,480 dynamic enhanced font "sans,11" background rgb "white"
set output out
set datafile missing "-"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right font ",9"
set yrange [0:*]
set multiplot layout 1,(has_rps + has_mibs) title "dockmux benchmark: throughput per target (same run, same machine)"

if (has_rps) {
	set title "small requests (req/s)"
	set format y "%.0s%c"
	n = ncols(rps)
	plot for [i=2:n] rps using i:xtic(1) title columnheader(i)
}
if (has_mibs) {
	set title "bulk transfers (MiB/s)"
	set format y "%g"
	n = ncols(mibs)
	plot for [i=2:n] mibs using i:xtic(1) title columnheader(i)
}

unset multiplot
