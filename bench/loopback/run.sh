#!/usr/bin/env bash
# rtpget (verified) against curl (unverified) on loopback: one rtpd and one
# nginx serve the same file; the two downloads alternate, each writing a file
# in the same folder, and the medians are compared.
#
#   bench/loopback/run.sh [-s SIZE_MB] [-n RUNS]      (from the module root)
#
# rtpget runs twice per round: with the URL rtpd url prints by default
# (blake3 and sha256, both verified) and with a blake3-only URL
# (rtpd url --hash blake3). sha256 runs at about 250 MB/s on this project's
# machines (no SHA-NI), which bounds the first.
set -euo pipefail
size_mb=512
runs=5
while getopts "s:n:" o; do
	case $o in
	s) size_mb=$OPTARG ;;
	n) runs=$OPTARG ;;
	*) echo "usage: $0 [-s SIZE_MB] [-n RUNS]" >&2; exit 2 ;;
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

secs() { # run a command, print its wall seconds
	local t0 t1
	# Each run starts with no dirty pages of the one before it to flush.
	sync
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "file: $size_mb MB; $runs rounds of curl, rtpget (blake3+sha256), rtpget (blake3)"
: >"$work/curl" >"$work/both" >"$work/b3"
for r in $(seq "$runs"); do
	rm -f "$work/out/"*
	c=$(secs curl -s -o "$work/out/curl.bin" http://127.0.0.1:18880/file.bin)
	cmp -s "$work/out/curl.bin" "$work/blobs/file.bin" || { echo "curl output differs"; cat "$work/nginx/error.log"; exit 1; }
	x=$(secs bin/rtpget -q -o "$work/out/both.bin" "$both")
	cmp -s "$work/out/both.bin" "$work/blobs/file.bin" || { echo "rtpget output differs"; exit 1; }
	y=$(secs bin/rtpget -q -o "$work/out/b3.bin" "$b3")
	cmp -s "$work/out/b3.bin" "$work/blobs/file.bin" || { echo "rtpget output differs"; exit 1; }
	echo "round $r: curl ${c}s, rtpget(blake3+sha256) ${x}s, rtpget(blake3) ${y}s"
	echo "$c" >>"$work/curl"; echo "$x" >>"$work/both"; echo "$y" >>"$work/b3"
done
mc=$(median <"$work/curl"); mx=$(median <"$work/both"); my=$(median <"$work/b3")
printf 'median: curl %.3fs (%.0f MB/s), rtpget blake3+sha256 %.3fs (%.2f x curl), rtpget blake3 %.3fs (%.2f x curl)\n' \
	"$mc" "$(echo "$size_mb / $mc" | bc -l)" "$mx" "$(echo "$mx / $mc" | bc -l)" "$my" "$(echo "$my / $mc" | bc -l)"
