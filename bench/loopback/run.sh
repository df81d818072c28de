#!/usr/bin/env bash
# rtpget (verified) against curl (unverified) on loopback: one rtpd and one
# nginx serve the same file; the two downloads alternate, each writing a file
# in the same folder, and the medians are compared.
#
#   bench/loopback/run.sh [-s SIZE_MB] [-n RUNS] [-H]      (from the module root)
#
# -H keeps one core busy with a shell loop during every run, as a crude
# stand-in for a contended host.
#
# rtpget runs three times per round: with the URL rtpd url prints by
# default (blake3 and sha256, both verified), with a blake3-only URL
# (rtpd url --hash blake3), checked on arrival against rtpd's BLAKE3 tree
# (both with rtpget's default sessions and window for a one-server URL: one
# more session than cores, 4 READs each), and the latter with 2 sessions of
# 8 READs, the defaults before this script's figures of 2026-11-22 (4th). sha256 runs at about 220 MB/s on this
# project's machines (no SHA-NI), which bounds the first. The client's CPU
# seconds (user + sys) are printed beside the wall times. Each round runs
# curl and the blake3-URL rtpget back to back, then the other two.
set -euo pipefail
size_mb=512
runs=5
hog=
while getopts "s:n:H" o; do
	case $o in
	s) size_mb=$OPTARG ;;
	n) runs=$OPTARG ;;
	H) hog=1 ;;
	*) echo "usage: $0 [-s SIZE_MB] [-n RUNS] [-H]" >&2; exit 2 ;;
	esac
done
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
make -s build

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as another user
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/blobs" "$work/out" "$work/nginx"
head -c $((size_mb * 1000000)) /dev/urandom >"$work/blobs/file.bin"

cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $work/nginx;
	proxy_temp_path $work/nginx;
	fastcgi_temp_path $work/nginx;
	uwsgi_temp_path $work/nginx;
	scgi_temp_path $work/nginx;
	server {
		listen 127.0.0.1:18880;
		root $work/blobs;
	}
}
CONF
nginx -c "$work/nginx/nginx.conf" &
pids+=($!)
bin/rtpd serve --listen 'tcp!127.0.0.1!18877' "$work/blobs" 2>"$work/rtpd.log" &
pids+=($!)
for _ in $(seq 600); do grep -q 'listening on' "$work/rtpd.log" && break; sleep 0.1; done
grep -q 'listening on' "$work/rtpd.log" || { cat "$work/rtpd.log"; exit 1; }
both=$(bin/rtpd url --server 'tcp!127.0.0.1!18877' "$work/blobs/file.bin")
b3=$(bin/rtpd url --hash blake3 --server 'tcp!127.0.0.1!18877' "$work/blobs/file.bin")

# run NAME CMD...: time one run (after a sync, so no run flushes another's
# dirty pages), check its output, and append "wall user+sys" to $work/NAME.
run() {
	local name=$1 t0 t1
	shift
	rm -f "$work/out/$name.bin"
	sync
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$work/cpu" "$@" >/dev/null
	t1=$(date +%s.%N)
	cmp -s "$work/out/$name.bin" "$work/blobs/file.bin" || { echo "$name: output differs"; exit 1; }
	echo "$(echo "$t1 - $t0" | bc) $(awk '{print $1 + $2}' "$work/cpu")" >>"$work/$name"
	rm -f "$work/out/$name.bin"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

names=(curl b3 both b3s2w8)
declare -A what=(
	[curl]="curl from nginx, unverified"
	[both]="rtpget, blake3+sha256 URL (rtpd url default)"
	[b3]="rtpget, blake3 URL (rtpd url --hash blake3)"
	[b3s2w8]="rtpget --sessions 2 --window 8, blake3 URL"
)
if [ -n "$hog" ]; then
	sh -c 'while :; do :; done' &
	pids+=($!)
	echo "one core kept busy by a shell loop (pid $!)"
fi
echo "file: $size_mb MB; $runs rounds, alternating: ${names[*]}"
for n in "${names[@]}"; do : >"$work/$n"; done
for r in $(seq "$runs"); do
	run curl curl -s -o "$work/out/curl.bin" http://127.0.0.1:18880/file.bin
	run b3 bin/rtpget -q -o "$work/out/b3.bin" "$b3"
	run both bin/rtpget -q -o "$work/out/both.bin" "$both"
	run b3s2w8 bin/rtpget -q --sessions 2 --window 8 -o "$work/out/b3s2w8.bin" "$b3"
	line="round $r:"
	for n in "${names[@]}"; do line+=" $n $(tail -1 "$work/$n" | cut -d' ' -f1)s"; done
	echo "$line"
done
mc=$(cut -d' ' -f1 "$work/curl" | median)
printf '%-50s %9s %8s %14s\n' "median of $runs" "wall" "x curl" "client CPU s"
for n in "${names[@]}"; do
	w=$(cut -d' ' -f1 "$work/$n" | median)
	c=$(cut -d' ' -f2 "$work/$n" | median)
	printf '%-50s %8.3fs %8.2f %14.2f\n' "${what[$n]}" "$w" "$(echo "$w / $mc" | bc -l)" "$c"
done
