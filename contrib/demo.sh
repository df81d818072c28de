#!/usr/bin/env bash
# Serve a folder with rtpd and fetch a file from it with rtpget, over TCP,
# TLS and QUIC on loopback. Run it as `make demo`.
set -euo pipefail
bin=${BIN:-bin}
work=$(mktemp -d)
rtpd_pid=
cleanup() {
	[ -n "$rtpd_pid" ] && kill "$rtpd_pid" 2>/dev/null && wait "$rtpd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/blobs" "$work/out"
cp README.md "$work/blobs/README.md"
head -c 64000000 /dev/urandom >"$work/blobs/random.bin"

# Flags may follow the folder, as they may follow any argument.
"$bin/rtpd" serve "$work/blobs" --listen 'tcp!127.0.0.1!0' --listen 'tls!127.0.0.1!0' \
	--listen 'quic!127.0.0.1!0' 2>"$work/rtpd.log" &
rtpd_pid=$!
for _ in $(seq 100); do
	[ "$(grep -c 'listening on' "$work/rtpd.log" || true)" = 3 ] && break
	sleep 0.1
done
cat "$work/rtpd.log"
dials=$(sed -n 's/.*listening on \([^"]*\)".*/\1/p' "$work/rtpd.log")
servers=()
for d in $dials; do servers+=(--server "$d"); done

url=$("$bin/rtpd" url "$work/blobs/random.bin" "${servers[@]}")
echo
echo "rtpget '$url'"
# rtpd made itself a certificate; the content is verified by hash either way.
"$bin/rtpget" "$url" -k -o "$work/out/random.bin"
cmp "$work/blobs/random.bin" "$work/out/random.bin"
echo "demo: OK, the fetched file is identical to the served one"
