#!/usr/bin/env bash
# bench/plot/plot.sh: swarm throughput against the number of servers, rtpget
# beside aria2c, from a bench/swarm/run.sh results folder with the
# scenarios N1..N4. Writes a PNG (gnuplot, installed from apt if missing)
# and prints the table it plots (medians of the runs; also in
# RESULTS/servers.tsv).
#
#   sudo bench/swarm/run.sh --size 256M --runs 3 --scenarios N1,N2,N3,N4 \
#       --aria2 'aria2c=-s 4 -x 1 -k 1M --file-allocation=none' --results /tmp/swarm-n
#   bench/plot/plot.sh /tmp/swarm-n bench/plot/swarm-servers.png
set -euo pipefail
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: bench/plot/plot.sh RESULTS_DIR [OUT.png]" >&2; exit 2; }
res=$1
out=${2:-$res/swarm-servers.png}
[ -f "$res/results.tsv" ] || { echo "plot.sh: no $res/results.tsv" >&2; exit 2; }
size=$(sed -n 's/.*size \([0-9]*\) bytes.*/\1/p' "$res/env.txt")
[ -n "$size" ] || { echo "plot.sh: no size in $res/env.txt" >&2; exit 2; }
if ! command -v gnuplot >/dev/null; then
	echo "installing gnuplot-nox" >&2
	sudo=$(test "$(id -u)" = 0 || echo sudo)
	$sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
fi

# One row per server count: Mbit/s from the median wall time of rtpget and
# of aria2c (start to exit: both verify the file), and from aria2c's median
# time to its last byte (before its --checksum pass).
awk -F'\t' -v size="$size" '
	function median(key,   n, i, j, t, a) {
		n = cnt[key]; for (i = 1; i <= n; i++) a[i] = v[key, i]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function add(key, x) { v[key, ++cnt[key]] = x }
	NR > 1 && $1 ~ /^N[1-4]$/ && $10 == "yes" {
		k = substr($1, 2); ks[k] = 1
		tool = ($2 ~ /^aria2c/) ? "aria2c" : "rtpget"
		add(k SUBSEP tool, $4)
		if (tool == "aria2c" && $9 != "-") add(k SUBSEP "fetched", $9)
	}
	function mbit(key) { return (key in cnt) ? sprintf("%.0f", size * 8 / median(key) / 1e6) : "NaN" }
	END {
		print "servers\tlinks_mbit\trtpget_mbit\taria2c_mbit\taria2c_transfer_mbit\truns"
		for (k = 1; k <= 4; k++) if (k in ks)
			printf "%d\t%d\t%s\t%s\t%s\t%d\n", k, 200 * k, mbit(k SUBSEP "rtpget"), mbit(k SUBSEP "aria2c"),
				mbit(k SUBSEP "fetched"), cnt[k SUBSEP "rtpget"]
	}' "$res/results.tsv" >"$res/servers.tsv"
column -t -s $'\t' "$res/servers.tsv"

mib=$((size / 1048576))
gnuplot <<GP
set terminal pngcairo size 900,560 font "sans,11"
set output "$out"
set title "rtpget and aria2c over 1-4 servers, each on a 200 Mbit/s tbf link (${mib} MiB, median of runs)"
set xlabel "servers"
set ylabel "Mbit/s (file size / time)"
set xrange [0.7:4.3]
set xtics 1
set yrange [0:900]
set grid ytics
set key top left Left reverse
set datafile separator "\t"
plot "$res/servers.tsv" using 1:2 with lines dashtype 2 lc rgb "#888888" title "link capacity, 200 Mbit/s each", \
     "" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "rtpget, verified (start to exit)", \
     "" using 1:4 with linespoints lw 2 pt 5 lc rgb "#d62728" title "aria2c -s 4 -x 1 --checksum (start to exit)", \
     "" using 1:5 with linespoints lw 1 pt 4 dashtype 3 lc rgb "#d62728" title "aria2c, to its last byte (before the checksum pass)"
GP
echo "wrote $out" >&2
