#!/usr/bin/env bash
# rtpget (verified) against curl (unverified) on loopback: one rtpd and one
# nginx serve the same file; the downloads alternate, each writing a file in
# the same folder, and the medians are compared.
#
#   bench/loopback/run.sh [-s SIZE_MB] [-n RUNS] [-H] [-G GODEBUG] [-t TAGS]
#
# (from the module root). -H keeps one core busy with a shell loop during
# every run, as a crude stand-in for a contended host. -G runs rtpd and
# rtpget with GODEBUG set, to switch CPU features off: -G
# cpu.avx512f=off,cpu.sha=off,cpu.avx2=off leaves crypto/sha256 and
# outboard's group hashing without SHA-NI, AVX-512 and AVX2 (x/sys/cpu then
# warns that it does not know "sha"; lukechampine.com/blake3 reads the CPU
# through klauspost/cpuid, which ignores GODEBUG). -t builds both binaries
# with those build tags, e.g. -t purego (no assembly in crypto/sha256 nor in
# outboard).
#
# Each round runs, back to back: curl; rtpget with the URL rtpd url prints
# by default (the blake3 urn alone, checked as the bytes arrive against
# rtpd's tree); rtpget with the URL of rtpd url --hash both (blake3 and
# sha256: rtpget's default, --verify all, checks the sha256 too, in one more
# pass, in order); and rtpget --verify one with that URL, which checks the
# blake3 urn only. Right after curl, each round runs curl once more
# followed by an fsync of its file (coreutils sync FILE): rtpget makes its
# file durable before it names it done (it syncs behind the download and
# once more before the rename), curl leaves it in the page cache, so each
# row is given against both curl figures. The client's CPU seconds (user +
# sys) and rtpd's or nginx's (from /proc) are printed beside the wall
# times. Every run starts after a sync, so none flushes another's dirty
# pages.
set -euo pipefail
size_mb=512
runs=5
hog=
godebug=
tags=
while getopts "s:n:HG:t:" o; do
	case $o in
	s) size_mb=$OPTARG ;;
	n) runs=$OPTARG ;;
	H) hog=1 ;;
	G) godebug=$OPTARG ;;
	t) tags=$OPTARG ;;
	*) echo "usage: $0 [-s SIZE_MB] [-n RUNS] [-H] [-G GODEBUG] [-t TAGS]" >&2; exit 2 ;;
	esac
done
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as another user
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -tags "$tags" -o "$work/bin/" ./cmd/rtpd ./cmd/rtpget
rtpd=$work/bin/rtpd
rtpget=$work/bin/rtpget
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
GODEBUG=$godebug "$rtpd" serve --listen 'tcp!127.0.0.1!18877' "$work/blobs" 2>"$work/rtpd.log" &
rtpd_pid=$!
pids+=($rtpd_pid)
for _ in $(seq 600); do grep -q 'listening on' "$work/rtpd.log" && break; sleep 0.1; done
grep -q 'listening on' "$work/rtpd.log" || { cat "$work/rtpd.log"; exit 1; }
nginx_pid=
for _ in $(seq 100); do
	nginx_pid=$(pgrep -P "$(cat "$work/nginx/nginx.pid" 2>/dev/null || echo 1)" nginx | head -1)
	[ -n "$nginx_pid" ] && break
	sleep 0.1
done
[ -n "$nginx_pid" ] || { echo "no nginx worker"; cat "$work/nginx/error.log"; exit 1; }
def=$("$rtpd" url --server 'tcp!127.0.0.1!18877' "$work/blobs/file.bin")
both=$("$rtpd" url --hash both --server 'tcp!127.0.0.1!18877' "$work/blobs/file.bin")
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

# run NAME SERVER_PID CMD...: time one run (after a sync), check its output,
# and append "wall client-cpu server-cpu" to $work/NAME.
run() {
	local name=$1 spid=$2 t0 t1 s0 s1
	shift 2
	rm -f "$work/out/$name.bin"
	sync
	s0=$(cpu_of "$spid")
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$work/cpu" "$@" >/dev/null 2>>"$work/client.log"
	t1=$(date +%s.%N)
	s1=$(cpu_of "$spid")
	cmp -s "$work/out/$name.bin" "$work/blobs/file.bin" || { echo "$name: output differs"; tail "$work/client.log"; exit 1; }
	echo "$(echo "$t1 - $t0" | bc) $(awk '{print $1 + $2}' "$work/cpu") $(echo "$s1 - $s0" | bc)" >>"$work/$name"
	rm -f "$work/out/$name.bin"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

names=(curl curlsync def both one)
declare -A what=(
	[curl]="curl from nginx, unverified"
	[curlsync]="curl, then fsync of its file"
	[def]="rtpget, rtpd url's URL (blake3)"
	[both]="rtpget, --hash both URL (+sha256)"
	[one]="rtpget --verify one, --hash both URL"
)
if [ -n "$hog" ]; then
	sh -c 'while :; do :; done' &
	pids+=($!)
	echo "one core kept busy by a shell loop (pid $!)"
fi
echo "file: $size_mb MB; $runs rounds, alternating: ${names[*]}; GODEBUG=${godebug:-(none)} tags=${tags:-(none)}"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, flags:$(grep -m1 -o -w -e sha_ni -e avx512f -e avx2 /proc/cpuinfo | sort -u | tr '\n' ' ')"
for n in "${names[@]}"; do : >"$work/$n"; done
for r in $(seq "$runs"); do
	run curl "$nginx_pid" curl -s -o "$work/out/curl.bin" http://127.0.0.1:18880/file.bin
	run curlsync "$nginx_pid" sh -c 'curl -s -o "$1" "$2" && sync "$1"' sh "$work/out/curlsync.bin" http://127.0.0.1:18880/file.bin
	run def "$rtpd_pid" env GODEBUG="$godebug" "$rtpget" -q -o "$work/out/def.bin" "$def"
	run both "$rtpd_pid" env GODEBUG="$godebug" "$rtpget" -q -o "$work/out/both.bin" "$both"
	run one "$rtpd_pid" env GODEBUG="$godebug" "$rtpget" -q --verify one -o "$work/out/one.bin" "$both"
	line="round $r:"
	for n in "${names[@]}"; do line+=" $n $(tail -1 "$work/$n" | cut -d' ' -f1)s"; done
	echo "$line"
done
mc=$(cut -d' ' -f1 "$work/curl" | median)
ms=$(cut -d' ' -f1 "$work/curlsync" | median)
printf '%-42s %9s %8s %8s %10s %10s\n' "median of $runs" "wall" "x curl" "x +fsync" "client s" "server s"
for n in "${names[@]}"; do
	w=$(cut -d' ' -f1 "$work/$n" | median)
	c=$(cut -d' ' -f2 "$work/$n" | median)
	s=$(cut -d' ' -f3 "$work/$n" | median)
	printf '%-42s %8.3fs %8.2f %8.2f %10.2f %10.2f\n' "${what[$n]}" "$w" "$(echo "$w / $mc" | bc -l)" "$(echo "$w / $ms" | bc -l)" "$c" "$s"
done
