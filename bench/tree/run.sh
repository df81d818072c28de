#!/usr/bin/env bash
# A folder tree against one file of the same size, and against aria2c:
# three rtpd (tcp, tls, quic) and one nginx serve, on loopback, a tree made
# by maketree from a fixed seed and one file of its size. Each round runs,
# back to back, after a sync:
#   tree  rtpget on the tree's URL (all three servers) into a new folder
#   one   rtpget on the one file's URL (same servers)
#   aria  aria2c -i (dir= and out= per file, -j 16) from nginx
# and prints the medians and the ratios tree/one and tree/aria. The first
# round's outputs are compared with the source (diff -r, cmp).
#
#   bench/tree/run.sh [-f FILES] [-b BYTES] [-k BIG] [-n RUNS] [-w RTT [-r RATE]] [-o DIR] [-W]
#
# (from the module root). Defaults: 10000 files, 2e9 bytes, 10 big files
# holding half of them (the rest log-uniform 1 B..1 MiB), 3 rounds.
#
# -w RTT puts the servers (three rtpd and nginx) in a network namespace of
# their own and the clients in another, joined by a link that bench/wan
# emulates in user space with RTT of delay (half each way), a rate limit of
# RATE (default 200M, bits of IP packets per second, each way) and a
# 100 ms tail-drop queue; needs root.
#
# -o DIR writes the downloads under DIR (default: the work folder, on the
# same file system as the served files), e.g. a tmpfs to leave the disk out.
set -euo pipefail
files=10000
bytes=2000000000
big=10
runs=3
rtt=
rate=200M
outbase=
warm=1
while getopts "f:b:k:n:w:r:o:W" o; do
	case $o in
	f) files=$OPTARG ;;
	b) bytes=$OPTARG ;;
	k) big=$OPTARG ;;
	n) runs=$OPTARG ;;
	w) rtt=$OPTARG ;;
	r) rate=$OPTARG ;;
	o) outbase=$OPTARG ;;
	W) warm= ;;
	*) echo "usage: $0 [-f FILES] [-b BYTES] [-k BIG] [-n RUNS] [-w RTT [-r RATE]] [-o DIR] [-W]" >&2; exit 2 ;;
	esac
done
for c in nginx aria2c; do
	command -v $c >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx aria2 >/dev/null; }
done

work=$(mktemp -d)
chmod 755 "$work"
if [ -n "$outbase" ]; then
	outbase=$(mktemp -d "$outbase/tree-bench-out.XXXXXX")
else
	outbase=$work
fi
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
	[ "$outbase" = "$work" ] || rm -rf "$outbase"
}
trap cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT
go build -o "$work/bin/" ./cmd/rtpd ./cmd/rtpget ./bench/tree/maketree ./bench/wan/cmd/wanlink
bin=$work/bin
port=18890
# srv and cli prefix the commands of the servers and of the clients: empty
# on loopback, ip netns exec over an emulated link.
host=127.0.0.1
srv=()
cli=()
if [ -n "$rtt" ]; then
	ns=tb$$
	"$bin/wanlink" -a "${ns}s" -b "${ns}c" -create -rtt "$rtt" -rate "$rate" \
		-addr-a 10.88.7.1/24 -addr-b 10.88.7.2/24 2>"$work/wanlink.log" &
	pids+=($!)
	for _ in $(seq 100); do
		ip -n "${ns}c" -br addr 2>/dev/null | grep -q 10.88.7.2 && ip -n "${ns}s" -br addr 2>/dev/null | grep -q 10.88.7.1 && break
		sleep 0.2
	done
	ip -n "${ns}c" -br addr | grep -q 10.88.7.2 || { echo "the emulated link did not come up"; cat "$work/wanlink.log"; exit 1; }
	host=10.88.7.1
	srv=(ip netns exec "${ns}s")
	cli=(ip netns exec "${ns}c")
fi
tree_url=$("$bin/maketree" -files "$files" -bytes "$bytes" -big "$big" -out "$work" -aria "http://$host:$port/tree")
head -c "$bytes" /dev/urandom >"$work/serve/one.bin"
chmod -R a+rX "$work/serve"

cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 256; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $work;
	proxy_temp_path $work;
	fastcgi_temp_path $work;
	uwsgi_temp_path $work;
	scgi_temp_path $work;
	server {
		listen $host:$port;
		root $work/serve;
	}
}
CONF
"${srv[@]}" nginx -c "$work/nginx.conf" &
pids+=($!)
servers=()
declare -A rtpd_pid
i=0
for proto in tcp tls quic; do
	i=$((i + 1))
	d="$proto!$host!$((18880 + i))"
	mkdir -p "$work/idx-$proto"
	"${srv[@]}" "$bin/rtpd" serve --index "$work/idx-$proto/index.db" --listen "$d" "$work/serve" 2>"$work/rtpd-$proto.log" &
	pids+=($!)
	rtpd_pid[$proto]=$!
	servers+=("$d")
done
for proto in tcp tls quic; do
	for _ in $(seq 3000); do
		grep -q 'listening on' "$work/rtpd-$proto.log" && break
		kill -0 "${rtpd_pid[$proto]}" 2>/dev/null || break # exited: a port taken, say
		sleep 0.2
	done
	grep -q 'listening on' "$work/rtpd-$proto.log" || { cat "$work/rtpd-$proto.log"; exit 1; }
done
s=""
for d in "${servers[@]}"; do s="$s&s=$d"; done
tree_url="$tree_url$s"
one_url=$("$bin/rtpd" url $(printf -- '--server %s ' "${servers[@]}") "$work/serve/one.bin")

# run NAME CMD...: time one run after a sync, append the seconds to $work/NAME.
#
# Before each run, a file of the download's size is written in the output
# folder and deleted (-W turns this off). On a virtual machine that hands
# free memory back to its host (Linux's free page reporting, as on the
# machines these figures come from), the first touch of memory that has
# been free for a few seconds costs about 2.5 s per GB; without this, the
# second download of a round paid that for most of its 2 GB and the first
# did not, and round order decided the ratio (tree second 4.8 and 5.0 s,
# first 3.9 and 3.7 s in one run). Each run now starts on memory freed just
# before it, as on a machine that keeps its memory.
run() {
	local name=$1 t0 t1
	shift
	if [ -n "$warm" ]; then
		head -c "$bytes" /dev/zero >"$outbase/warm.bin"
		rm -f "$outbase/warm.bin"
	fi
	sync
	t0=$(date +%s.%N)
	"$@" >"$work/$name.out" 2>>"$work/client.log" || { echo "$name failed"; tail "$work/client.log"; exit 1; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >>"$work/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Outputs are kept until the end, each round in a folder of its own:
# deleting 10,000 files just before creating 10,000 more makes ext4 skip
# the recently freed inodes one by one (find_inode_bit, recently_deleted),
# a cost of the benchmark's clean-up, not of a download. On a tmpfs (-o)
# each is removed after its run instead (settle): three rounds of 6 GB
# would take the memory that caches the served files, and the servers
# would read them from the disk. The tree and the one file alternate which
# goes first.
#
# settle NAME PATH: after a run, compare its output with the source in
# round 1, and on a tmpfs (-o) remove it at once, so that every run starts
# with the same memory free, not the second of a round with the first's
# 2 GB still held.
settle() {
	local name=$1 path=$2
	if [ "$r" = 1 ]; then
		case $name in
		tree) diff -r -x .rtpget "$path" "$work/serve/tree" || { echo "tree differs"; exit 1; } ;;
		aria) diff -r "$path" "$work/serve/tree" || { echo "aria2c tree differs"; exit 1; } ;;
		one) cmp -s "$path" "$work/serve/one.bin" || { echo "one.bin differs"; exit 1; } ;;
		esac
	fi
	[ "$outbase" = "$work" ] || rm -rf "$path"
}
for r in $(seq "$runs"); do
	out=$outbase/out-$r
	mkdir -p "$out/aria"
	for name in $([ $((r % 2)) = 1 ] && echo tree one || echo one tree) aria; do
		case $name in
		tree) run tree "${cli[@]}" "$bin/rtpget" -k -q --json -o "$out/tree" "$tree_url"; settle tree "$out/tree" ;;
		one) run one "${cli[@]}" "$bin/rtpget" -k -q -o "$out/one.bin" "$one_url"; settle one "$out/one.bin" ;;
		aria) run aria "${cli[@]}" bash -c "cd '$out/aria' && aria2c -q -j 16 --allow-overwrite=true --auto-file-renaming=false -i '$work/aria.txt'"; settle aria "$out/aria" ;;
		esac
	done
	if [ "$r" = 1 ]; then
		echo "round 1 outputs identical to the source (diff -r, cmp)"
		python3 -c "import json,sys; d=json.load(open('$work/tree.out')); print('tree summary:', {k: d[k] for k in ('files','bytes','fetched_files','copied_files','fetched_bytes','servers','elapsed_seconds')})"
	fi
	echo "round $r: tree $(tail -1 "$work/tree")s one $(tail -1 "$work/one")s aria2c $(tail -1 "$work/aria")s"
	[ "$outbase" = "$work" ] || rm -rf "$out"
done
t=$(median <"$work/tree")
o=$(median <"$work/one")
a=$(median <"$work/aria")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "tree: $files files, $bytes bytes, $big big; $runs rounds${rtt:+, over an emulated link of $rtt RTT and $rate}, medians:"
echo "  rtpget tree $t s, rtpget one file $o s, aria2c -j 16 from nginx $a s"
target=1.2
[ -n "$rtt" ] && target=1.5
echo "  tree/one $(echo "scale=2; $t / $o" | bc)  (target <= $target)"
echo "  tree/aria2c $(echo "scale=2; $t / $a" | bc)  (target <= 0.5)"
