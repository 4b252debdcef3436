# valuetask benchmarks: the figure. gnuplot -e "dir='bench-results'" plot.gp
# Reads the .dat files that plot_data.awk wrote into dir; writes dir/results.png.
if (!exists("dir")) dir = "bench-results"
set terminal pngcairo size 1600,1150 font "DejaVu Sans,10"
set output dir."/results.png"
set multiplot layout 2,2 title "valuetask benchmarks (medians; one run of benchmarks/run.sh)"

# Distinct colours and points for up to 12 implementations; valuetask (the
# first block) is the thick black line.
set linetype 1 lc rgb "#000000" lw 3 pt 7 ps 1.2
set linetype 2 lc rgb "#e69f00" lw 2 pt 5
set linetype 3 lc rgb "#56b4e9" lw 2 pt 9
set linetype 4 lc rgb "#009e73" lw 2 pt 11
set linetype 5 lc rgb "#f0e442" lw 2 pt 13
set linetype 6 lc rgb "#0072b2" lw 2 pt 4
set linetype 7 lc rgb "#d55e00" lw 2 pt 6
set linetype 8 lc rgb "#cc79a7" lw 2 pt 8
set linetype 9 lc rgb "#999999" lw 2 pt 10
set linetype 10 lc rgb "#882255" lw 2 pt 12
set linetype 11 lc rgb "#44aa99" lw 2 pt 14
set linetype 12 lc rgb "#117733" lw 2 pt 3
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -40 left nomirror
unset key
# Bars start at zero, so that their lengths compare as the figures do.
set yrange [0:*]

set title "Completion on one thread: ns/op (lower is better)"
set ylabel "ns per operation"
# Third column: 1 for valuetask's bars (dark), 0 for the comparators.
plot dir."/bars_serial.dat" using 0:2:($3 > 0 ? 0x222222 : 0x88aadd):xtic(1) with boxes lc rgb variable, \
     "" using 0:2:(sprintf("%.1f", $2)) with labels offset 0,0.7 font ",8"

set title "Completer and awaiter on two threads: Mops/s (higher is better)"
set ylabel "million operations per second"
plot dir."/bars_xthread.dat" using 0:2:($3 > 0 ? 0x222222 : 0x88cc99):xtic(1) with boxes lc rgb variable, \
     "" using 0:2:(sprintf("%.2f", $2)) with labels offset 0,0.7 font ",8"

set xtics norotate
set autoscale y
set xtics ("1" 1, "2" 2, "4" 4, "8" 8)
set logscale x 2
set logscale y 10
set xrange [0.8:10]
set key outside right top
set xlabel "threads (2 cores: 4 and 8 are oversubscribed)"
set ylabel "million rent+return per second (log)"
do for [d in "1 32"] {
	f = dir."/pool_d".d.".dat"
	if (system("test -s ".f." && echo y") eq "y") {
		stats f using 1 nooutput
		set title "Pool rent + return, ".d." object(s) held per thread: throughput vs threads"
		plot for [i=0:STATS_blocks-1] f index i using 1:2 with linespoints lt (i+1) title columnheader(1)
	}
}
unset multiplot
