# bench/throughput.gp: the throughput chart of a bench/run.sh run.
# gnuplot -c throughput.gp PREFIX OUT.svg reads PREFIX.dat and
# PREFIX-panels.dat, written by dockmux-bench-report: one block of rows per
# scenario (row, target, value, ratio to direct, kind, label) and one line per
# block (block|scenario|unit|title). Draws one panel per scenario, one
# horizontal bar per target with its label (figure, ratio to direct; dockmux's
# also its ratios to the relay and to the best peer); a skipped target is a
# row with its reason and no bar.
prefix = ARG1 eq "" ? "throughput" : ARG1
out = ARG2 eq "" ? "throughput.svg" : ARG2
dat = prefix.".dat"
panels = prefix."-panels.dat"

field(n, k) = system(sprintf("awk -F'|' '$1 == \"%s\" { print $%d }' '%s'", n, k, panels))
npanels = int(system("grep -c '^[0-9]' '".panels."'"))
if (npanels < 1) { print "throughput.gp: no scenario in ".panels; exit status 1 }

# Geometry, in pixels: a two-line header, then per panel a title, the bar
# rows (8 with every target, about 20 px each), the x axis with its label and
# a gap; a three-line footer.
width = 960
head = 78
foot = 70
slot = 256
height = head + npanels * slot + foot

# "sans-serif" is the CSS generic family (a browser does not know "sans").
# The svg terminal writes a font's ":Bold"/":Italic" into its family name;
# the sed at the end turns those into font-weight/font-style attributes.
set terminal svg size width,height fixed noenhanced font "sans-serif,13" background rgb "white"
set output out
set encoding utf8
set datafile missing "-"

# Colours: direct grey, the relay magenta, dockmux blue, each peer family a
# hue of its own.
color(t) = t eq "direct" ? 0x8c8c8c : t eq "relay" ? 0xc2528b : t eq "dockmux" ? 0x1f5fa8 : \
	t eq "haproxy-tcp" ? 0xfdb863 : t eq "haproxy-http" ? 0xe08214 : \
	t eq "nginx-stream" ? 0x8fd1b9 : t eq "nginx-http" ? 0x1b9e77 : \
	t eq "socat" ? 0xb3a8d6 : 0x999999
# A round tick step for an axis up to x: 1, 2 or 5 times a power of ten,
# about four steps.
tickstep(x) = (s0 = 10 ** floor(log10(x / 4.0)), m0 = x / 4.0 / s0, \
	(m0 < 1.5 ? 1 : m0 < 3.5 ? 2 : m0 < 7.5 ? 5 : 10) * s0)

set label 1 field("title", 2) at screen 0.5, screen 1 - 26.0 / height center font "sans-serif:Bold,16"
set label 2 field("title", 3) at screen 0.5, screen 1 - 50.0 / height center font "sans-serif,13" tc rgb "#444444"
set label 3 "Each bar: the figure and, in brackets, its ratio to direct (the client talking to the upstream stub itself, no proxy) in this run." \
	at screen 0.02, screen 48.0 / height left font "sans-serif,12" tc rgb "#444444"
set label 4 "relay: a proxy that parses nothing (accept, connect, recv/send both ways on io_uring), the bound for any proxy here." \
	at screen 0.02, screen 30.0 / height left font "sans-serif,12" tc rgb "#444444"
set label 5 "dockmux's bar also: its ratios to the relay and to the best peer (the fastest of HAProxy, nginx, socat). A red row: a target skipped, and why." \
	at screen 0.02, screen 12.0 / height left font "sans-serif,12" tc rgb "#444444"

# Labels on a white box, so the grid lines do not run through them.
set style textbox opaque noborder margins 1,1
set multiplot
left = 0.15
right = 0.98
do for [i = 0:npanels - 1] {
	unit = field(sprintf("%d", i), 3)
	title = field(sprintf("%d", i), 4)
	# stats obeys the ranges set for the previous panel: reset them first.
	set autoscale xy
	stats dat index i using 3 nooutput
	rows = STATS_records
	xmax = STATS_max > 0 ? STATS_max : 1
	# Room right of every bar for its label: the axis ends where the widest
	# one still fits (about 7.6 px a character in bold 13, 7 in 12, 16 px
	# of offset and box), and at 1.3 x the longest bar at least.
	plotw = (right - left) * width
	stats dat index i using ($3 * plotw / (plotw - 16 - strlen(strcol(6)) * ($5 == 1 ? 7.6 : 7.0))) nooutput
	xend = STATS_max > xmax * 1.3 ? STATS_max : xmax * 1.3
	# Panel i occupies [top - slot, top] in pixels from the bottom.
	top = height - head - i * slot
	set lmargin at screen left
	set rmargin at screen right
	set tmargin at screen (top - 30.0) / height
	set bmargin at screen (top - slot + 62.0) / height
	set title sprintf("%d. %s", i + 1, title) font "sans-serif:Bold,14" offset 0,-0.4
	# Ticks only under the bars.
	set xrange [0:xend]
	step = tickstep(xmax)
	set xtics 0, step, xmax * 1.05 nomirror font "sans-serif,12"
	set yrange [rows - 0.5:-0.5]
	set ytics scale 0 font "sans-serif,13"
	set grid xtics lc rgb "#dddddd" lw 1
	unset key
	set border 3 lc rgb "#555555"
	set xlabel (unit eq "req/s" ? "requests per second (req/s), more is better" : \
		"MiB per second (MiB/s), more is better") font "sans-serif,12" offset 0,0.4
	set format x (unit eq "req/s" && xmax >= 10000 ? "%.0s%c" : "%.0f")
	plot dat index i using ($3 / 2):1:($3 / 2):(0.36):(color(strcol(2))):ytic(2) \
		with boxxyerror fs solid 0.95 noborder lc rgb variable, \
	     '' index i using ($5 == 1 ? $3 : 1/0):1:6 with labels boxed left offset char 0.6,0 \
		font "sans-serif:Bold,13" tc rgb "#1f5fa8", \
	     '' index i using ($5 == 0 || $5 == 2 || $5 == 4 ? $3 : 1/0):1:6 with labels boxed left \
		offset char 0.6,0 font "sans-serif,12" tc rgb "#222222", \
	     '' index i using ($5 == 3 ? 0 : 1/0):1:6 with labels boxed left offset char 0.6,0 \
		font "sans-serif:Italic,12" tc rgb "#b03030"
	unset label
}
unset multiplot
set output
system "sed -i -e 's/:Bold\"/\" font-weight=\"bold\"/g' -e 's/:Italic\"/\" font-style=\"italic\"/g' '".out."'"
