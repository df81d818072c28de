#!/usr/bin/env bash
# bench/swarm/run.sh: rtpget against aria2c over shaped links.
#
# Builds one client network namespace and N server namespaces joined by veth
# pairs, shapes each server's egress with tc tbf (this kernel has no netem),
# serves one random file from every server with rtpd (RTP/1 over TCP) and
# nginx (HTTP), and times rtpget and aria2c fetching it from all servers at
# once. Scenarios (see the acceptance line in README.md):
#
#   A  4 servers x 200 Mbit/s                      ideal = size / 800 Mbit/s
#      target: rtpget reaches >= 90% of 800 Mbit/s
#   B  400, 200, 50 Mbit/s and a 4th server whose link drops every packet
#      after 10% of the file has crossed it (iptables -m quota, then DROP:
#      a server that stalls forever)       ideal = size / 650 Mbit/s
#      target: rtpget completes within 1.2 x ideal
#   N1..N4  the first k servers only, each at 200 Mbit/s, no staller: the
#      URL and aria2c's mirrors name k servers     ideal = size / k x 200 Mbit/s
#      (no target; bench/plot draws throughput against k)
#
# Everything (namespaces, processes, temp files) is removed on exit; the
# results folder is kept. Run as root from anywhere:
#
#   bench/swarm/run.sh --size 1G --runs 3
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/swarm/run.sh [options]      (as root)
  --size SIZE        file size, IEC suffixes allowed (default 1G)
  --runs N           runs per scenario and tool (default 3)
  --scenarios LIST   comma-separated, of A, B and N1..N4 (the first 1..4
                     servers at 200 Mbit/s; default A,B)
  --stall-rate MBIT  link rate of scenario B's stalling server (default 200)
  --stall-frac PCT   percent of the file that crosses the staller's link
                     before it drops everything (default 10)
  --url-hash KIND    urns in the rtp: URL: both, blake3 or sha256 (rtpd url
                     --hash; default both, so rtpget verifies sha256 too)
  --rtpget LIST      rtpget variants, 'label=extra flags' separated by ';'
                     (default 'rtpget=')
  --aria2 LIST       aria2c variants, 'label=flags' separated by ';'
                     (default: three -s/-x settings, see below)
  --results DIR      where tables, JSON and logs go (default: a new mktemp
                     folder, kept and printed at the end)
  --keep             keep the temp folder (file, indexes, server logs)
  -h, --help         this text
EOF
}

# ---------------------------------------------------------------- options
SIZE=1G
RUNS=3
SCENARIOS=A,B
STALL_RATE=200
STALL_FRAC=10
RTPGET_VARIANTS='rtpget='
# aria2c treats several URIs as mirrors of one file. -s is the number of
# connections for the file, -x the most per server; -k 1M lets it split down
# to 1 MiB ranges (the block size rtpget uses). Three settings:
#  s4x1       one connection per server (as rtpget: one session per server),
#             --timeout 10 to match rtpget's 10 s stall timeout, retrying a
#             failed mirror forever (--max-tries=0) with 1 s between tries;
#  s4x1-t3m1  the same, but a silent connection is given up after 3 s and a
#             mirror after one failed try (--max-tries=1), so the segment
#             held by the staller moves to another mirror at once; with
#             --max-tries=0 aria2c keeps the segment on the dead mirror,
#             retrying it, until the other connections run out of work;
#  s16x4-t3m1 four connections per server, as above (-s 8..16 with -x 2..4
#             did no better than -s 4 -x 1 on these links).
ARIA2_COMMON='-k 1M --file-allocation=none'
ARIA2_VARIANTS="aria2c-s4x1=-s 4 -x 1 --timeout=10 --connect-timeout=10 --max-tries=0 --retry-wait=1 $ARIA2_COMMON"
ARIA2_VARIANTS+=";aria2c-s4x1-t3m1=-s 4 -x 1 --timeout=3 --connect-timeout=3 --max-tries=1 $ARIA2_COMMON"
ARIA2_VARIANTS+=";aria2c-s16x4-t3m1=-s 16 -x 4 --timeout=3 --connect-timeout=3 --max-tries=1 $ARIA2_COMMON"
URL_HASH=both
RESULTS=
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--size) SIZE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--scenarios) SCENARIOS=$2; shift 2 ;;
	--stall-rate) STALL_RATE=$2; shift 2 ;;
	--stall-frac) STALL_FRAC=$2; shift 2 ;;
	--url-hash) URL_HASH=$2; shift 2 ;;
	--rtpget) RTPGET_VARIANTS=$2; shift 2 ;;
	--aria2) ARIA2_VARIANTS=$2; shift 2 ;;
	--results) RESULTS=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
done

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root (namespaces, tc, iptables)" >&2; exit 2; }
BYTES=$(numfmt --from=iec "$SIZE")
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs: want a positive integer" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NSRV=4                   # server namespaces, made for every scenario
ACTIVE=$NSRV             # servers the clients are given (N1..N4: fewer)
PFX=rtpb                 # namespace names: rtpb-cli, rtpb-srv1..4
CLI=$PFX-cli
RTP_PORT=7777
HTTP_PORT=8080
TBF_LATENCY=50ms

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
srvns() { echo "$PFX-srv$1"; }
srvip() { echo "10.77.$1.1"; }
cliip() { echo "10.77.$1.2"; }
# T SECS CMD...: every step is time-bounded.
T() { local s=$1; shift; timeout --kill-after=5 "$s" "$@"; }
# awk arithmetic on the command line: calc '1/3'
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }

# ---------------------------------------------------------------- packages
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v aria2c >/dev/null || need+=(aria2)
command -v tc >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	T 300 apt-get update -qq
	DEBIAN_FRONTEND=noninteractive T 600 apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The distribution's nginx may start a system instance on install; ours use
# their own config and ports in the server namespaces, so they don't clash.
HAVE_JQ=0; command -v jq >/dev/null && HAVE_JQ=1

for ns in "$CLI" $(for i in $(seq 1 $NSRV); do srvns "$i"; done); do
	if ip netns list | awk '{ print $1 }' | grep -qx -- "$ns"; then
		die "namespace $ns exists (an earlier run still going, or killed hard); remove it with: ip netns del $ns"
	fi
done

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rtp-swarm.XXXXXX")
[ -n "$RESULTS" ] || RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/rtp-swarm-results.XXXXXX")
mkdir -p "$RESULTS"
PIDS=()    # servers we started, killed by id on exit
NS_MADE=() # namespaces we made

cleanup() {
	local rc=$? pid ns
	set +e
	trap "" INT TERM # finish cleaning up even if signalled again
	trap - EXIT
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null
	done
	# Anything still inside our namespaces (nginx workers) was started by us.
	for ns in "${NS_MADE[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	done
	for ns in "${NS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	log "results in $RESULTS"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
log "building rtpd and rtpget"
T 600 make -C "$REPO" build >/dev/null
RTPD=$REPO/bin/rtpd
RTPGET=$REPO/bin/rtpget

# ---------------------------------------------------------------- the file
DATA=$TMP/data
OUT=$TMP/out
LOGS=$RESULTS/logs
mkdir -p "$DATA" "$OUT" "$LOGS" "$TMP/idx"
chmod 755 "$TMP" "$DATA" # nginx workers run as nobody
NAME=blob.bin
FILE=$DATA/$NAME
log "writing $BYTES random bytes"
T 600 head -c "$BYTES" /dev/urandom >"$FILE"

# One index pass here, copied to every server: each rtpd needs its own index
# (bbolt locks it), and four passes at once over 2 cores take a while. The
# index keys on path, size, mtime, ctime and inode, all the same in a copy.
log "indexing"
T 600 "$RTPD" ls --index "$TMP/idx/base/index.db" "$DATA" >"$LOGS/rtpd-ls.txt" 2>"$LOGS/rtpd-ls.err"
for i in $(seq 1 $NSRV); do
	mkdir -p "$TMP/idx/srv$i"
	cp "$TMP/idx/base/index.db" "$TMP/idx/srv$i/index.db"
done

SERVERS=()
for i in $(seq 1 $NSRV); do SERVERS+=(--server "tcp!$(srvip "$i")!$RTP_PORT"); done
URL=$(T 600 "$RTPD" url --hash "$URL_HASH" "${SERVERS[@]}" "$FILE")
# aria2c and the check after each run use the sha256 from rtpd ls (the URL
# may name blake3 only).
SHA=$(awk -v n="$NAME" '$2 == n { print tolower($4) }' "$LOGS/rtpd-ls.txt")
[ ${#SHA} = 64 ] || die "no sha256 for $NAME in rtpd ls output"
case $URL in *urn:*) ;; *) die "rtpd url printed no urn: $URL" ;; esac
grep -qi "$SHA" <<<"$URL" || [ "$URL_HASH" = blake3 ] || die "rtpd ls and rtpd url disagree on the sha256"
echo "$URL" >"$RESULTS/url.txt"
URL_ALL=$URL
log "url: $URL"

# ---------------------------------------------------------------- network
# cli <-> srvI over veth vcI (10.77.I.2, client side) / vsI (10.77.I.1,
# server side). Only the server's egress (the data direction) is shaped.
setup_net() {
	local i ns
	ip netns add "$CLI"; NS_MADE+=("$CLI")
	ip -n "$CLI" link set lo up
	for i in $(seq 1 $NSRV); do
		ns=$(srvns "$i")
		ip netns add "$ns"; NS_MADE+=("$ns")
		ip -n "$ns" link set lo up
		ip link add "vs$i" netns "$ns" type veth peer name "vc$i" netns "$CLI"
		ip -n "$ns" addr add "$(srvip "$i")/24" dev "vs$i"
		ip -n "$CLI" addr add "$(cliip "$i")/24" dev "vc$i"
		ip -n "$ns" link set "vs$i" up
		ip -n "$CLI" link set "vc$i" up
	done
}

# shape I MBIT: tbf on server I's egress. burst: 4 ms at the rate (rate/HZ
# for HZ=250), at least 64 KiB so a full TSO segment fits; latency 50 ms
# bounds the queue.
shape() {
	local i=$1 mbit=$2 burst
	burst=$(awk -v m="$mbit" 'BEGIN { b = m * 1e6 / 8 / 250; if (b < 65536) b = 65536; printf "%d", b }')
	ip netns exec "$(srvns "$i")" tc qdisc replace dev "vs$i" root tbf rate "${mbit}mbit" burst "$burst" latency "$TBF_LATENCY"
}

# staller I|0: with I, the client drops every packet from server I after
# STALL_FRAC% of the file has arrived from it (both ports); 0 removes that.
# The quota is per run: the rules are made afresh each time.
staller() {
	local i=$1 quota
	ip netns exec "$CLI" iptables -F INPUT
	[ "$i" = 0 ] && return 0
	quota=$(awk -v b="$BYTES" -v p="$STALL_FRAC" 'BEGIN { printf "%d", b * p / 100 }')
	ip netns exec "$CLI" iptables -A INPUT -i "vc$i" -p tcp -m multiport --sports "$RTP_PORT,$HTTP_PORT" -m quota --quota "$quota" -j ACCEPT
	ip netns exec "$CLI" iptables -A INPUT -i "vc$i" -p tcp -m multiport --sports "$RTP_PORT,$HTTP_PORT" -j DROP
}

# reset_sockets: kill connections a run left behind (a stalled server keeps
# retransmitting into the void; those bytes must not eat the next quota).
reset_sockets() {
	local i
	for i in $(seq 1 $NSRV); do ip netns exec "$(srvns "$i")" ss -K -t state connected >/dev/null 2>&1 || true; done
	ip netns exec "$CLI" ss -K -t state connected >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- servers
start_servers() {
	local i ns conf
	for i in $(seq 1 $NSRV); do
		ns=$(srvns "$i")
		ip netns exec "$ns" "$RTPD" serve --listen "tcp!$(srvip "$i")!$RTP_PORT" \
			--index "$TMP/idx/srv$i/index.db" "$DATA" >"$LOGS/rtpd$i.log" 2>&1 &
		PIDS+=($!)
		mkdir -p "$TMP/nginx$i"
		conf=$TMP/nginx$i/nginx.conf
		cat >"$conf" <<EOF
daemon off;
worker_processes 1;
pid $TMP/nginx$i/nginx.pid;
error_log $TMP/nginx$i/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path $TMP/nginx$i/body;
    proxy_temp_path $TMP/nginx$i/proxy;
    fastcgi_temp_path $TMP/nginx$i/fastcgi;
    uwsgi_temp_path $TMP/nginx$i/uwsgi;
    scgi_temp_path $TMP/nginx$i/scgi;
    server {
        listen $(srvip "$i"):$HTTP_PORT;
        root $DATA;
    }
}
EOF
		ip netns exec "$ns" nginx -p "$TMP/nginx$i" -c "$conf" -e "$TMP/nginx$i/error.log" \
			>"$LOGS/nginx$i.log" 2>&1 &
		PIDS+=($!)
	done
	# Wait for every rtpd's "listening on" line and every nginx port.
	local deadline=$((SECONDS + 120))
	for i in $(seq 1 $NSRV); do
		until grep -q "listening on" "$LOGS/rtpd$i.log"; do
			[ $SECONDS -lt $deadline ] || die "rtpd $i did not start: $(tail -3 "$LOGS/rtpd$i.log")"
			sleep 0.2
		done
		until T 2 ip netns exec "$CLI" curl -sfI -o /dev/null "http://$(srvip "$i"):$HTTP_PORT/$NAME"; do
			[ $SECONDS -lt $deadline ] || die "nginx $i did not start: $(cat "$LOGS/nginx$i.log" "$TMP/nginx$i/error.log" 2>/dev/null | tail -3)"
			sleep 0.2
		done
	done
}

# ---------------------------------------------------------------- link check
# probe_links RATES...: a bare curl from nginx over each link in turn (3 s
# worth at the nominal rate), then all links at once; prints Mbit/s.
probe_links() {
	local scen=$1; shift
	local rates=("$@") i bytes speed line agg_bytes=0 t0 t1 pids=()
	line="$scen bare curl, one link at a time:"
	for i in $(seq 1 $NSRV); do
		bytes=$(awk -v m="${rates[$((i - 1))]}" 'BEGIN { printf "%d", m * 1e6 / 8 * 3 }')
		speed=$(T 30 ip netns exec "$CLI" curl -s -o /dev/null -r "0-$((bytes - 1))" -w '%{speed_download}' \
			"http://$(srvip "$i"):$HTTP_PORT/$NAME")
		line+=" srv$i $(calc "$speed * 8 / 1e6") (tbf ${rates[$((i - 1))]})"
	done
	echo "$line" | tee -a "$RESULTS/links.txt"
	t0=$(date +%s.%N)
	for i in $(seq 1 $NSRV); do
		bytes=$(awk -v m="${rates[$((i - 1))]}" 'BEGIN { printf "%d", m * 1e6 / 8 * 3 }')
		agg_bytes=$((agg_bytes + bytes))
		T 30 ip netns exec "$CLI" curl -s -o /dev/null -r "0-$((bytes - 1))" "http://$(srvip "$i"):$HTTP_PORT/$NAME" &
		pids+=($!)
	done
	wait "${pids[@]}"
	t1=$(date +%s.%N)
	echo "$scen bare curl, all links at once ($agg_bytes bytes): $(calc "$agg_bytes * 8 / ($t1 - $t0) / 1e6") Mbit/s" | tee -a "$RESULTS/links.txt"
}

# ---------------------------------------------------------------- runs
printf 'scenario\ttool\trun\twall_s\tMbit/s\tpct_ideal\tnet_s\tafter_net_s\tfetched_s\tverified\ttarget\n' >"$RESULTS/results.tsv"
: >"$RESULTS/commands.txt"
mkdir -p "$RESULTS/timeline"

# A process parked in the client namespace: /proc/PID/net/dev shows that
# namespace's interface counters without an ip netns exec per sample.
park_in_client() {
	ip netns exec "$CLI" sleep infinity &
	PIDS+=($!)
	NSPID=$!
}

# sampler OUT: every 0.1 s a line "epoch rx_bytes(vc1..vcN) cpu_busy cpu_idle"
# (client-side received bytes per link, machine-wide CPU jiffies).
sampler() {
	local line name rx u n sy id io irq sirq st
	local -a rxs
	while :; do
		while IFS= read -r line; do
			line=${line/:/ }
			read -r name rx _ <<<"$line"
			case $name in vc[0-9]*) rxs[${name#vc}]=$rx ;; esac
		done <"/proc/$NSPID/net/dev"
		read -r _ u n sy id io irq sirq st _ </proc/stat
		echo "$EPOCHREALTIME ${rxs[*]} $((u + n + sy + irq + sirq + st)) $((id + io))"
		sleep 0.1
	done >"$1"
}

# timeline RAW T0 IDEAL_MBIT STALLER > TSV: per 0.1 s interval, Mbit/s on
# each link, in all, and CPU busy %; then a last line "net_done SECONDS": the
# end of the last interval in which the links other than the staller's
# carried more than 2% of the ideal rate (the staller's link only carries
# retransmits into the void by then).
timeline() {
	awk -v t0="$2" -v ideal="$3" -v n="$NSRV" -v st="$4" '
		NR == 1 { for (i = 1; i <= n + 3; i++) p[i] = $i; next }
		{
			dt = $1 - p[1]; if (dt <= 0) next
			line = sprintf("%.1f", $1 - t0); tot = 0
			live = 0
			for (i = 2; i <= n + 1; i++) {
				r = ($i - p[i]) * 8 / dt / 1e6; tot += r; if (i - 1 != st) live += r
				line = line sprintf("\t%.0f", r)
			}
			busy = $(n + 2) - p[n + 2]; idle = $(n + 3) - p[n + 3]
			cpu = (busy + idle > 0) ? 100 * busy / (busy + idle) : 0
			print line sprintf("\t%.0f\t%.0f", tot, cpu)
			if (live > 0.02 * ideal) done = $1 - t0
			for (i = 1; i <= n + 3; i++) p[i] = $i
		}
		END { printf "net_done\t%.2f\n", done }' "$1"
}

# bins TSV: the timeline in 1 s bins (mean Mbit/s per link and in all, CPU %).
bins() {
	awk -v n="$NSRV" -F'\t' '
		$1 == "net_done" { next }
		{ b = int($1); if (!(b in c)) order[++k] = b; c[b]++; for (i = 2; i <= n + 3; i++) s[b, i] += $i }
		END {
			h = "t_s"; for (i = 1; i <= n; i++) h = h "\tsrv" i; print h "\tall\tcpu%"
			for (j = 1; j <= k; j++) { b = order[j]; line = b "-" b + 1
				for (i = 2; i <= n + 3; i++) line = line sprintf("\t%.0f", s[b, i] / c[b]); print line }
		}' "$1"
}

# record SCEN TOOL RUN WALL NET FETCHED VERIFIED: one table row.
record() {
	local scen=$1 tool=$2 run=$3 secs=$4 net=$5 fetched=$6 ok=$7 mbit pct target=-
	mbit=$(calc "$BYTES * 8 / $secs / 1e6")
	pct=$(calc "100 * $IDEAL / $secs")
	if [ "$ok" = yes ]; then
		case $scen in
		A) target=$(awk -v p="$pct" 'BEGIN { print (p >= 90 ? "met" : "missed") }') ;;
		B) target=$(awk -v s="$secs" -v i="$IDEAL" 'BEGIN { print (s <= 1.2 * i ? "met" : "missed") }') ;;
		esac
	fi
	printf '%s\t%s\t%s\t%.2f\t%.0f\t%.1f\t%.2f\t%.2f\t%s\t%s\t%s\n' "$scen" "$tool" "$run" "$secs" "$mbit" "$pct" \
		"$net" "$(calc "$secs - $net")" "$fetched" "$ok" "$target" >>"$RESULTS/results.tsv"
	log "$(printf '%s %s run %s: %.2f s, %.0f Mbit/s, %.1f%% of ideal, links idle at %.2f s, verified=%s, target %s' \
		"$scen" "$tool" "$run" "$secs" "$mbit" "$pct" "$net" "$ok" "$target")"
}

# note_cmd LABEL CMD...: keep a command line, once per label.
note_cmd() {
	local label=$1; shift
	grep -q "^# $label\$" "$RESULTS/commands.txt" && return 0
	{ echo "# $label"; printf '%q ' "$@"; echo; } >>"$RESULTS/commands.txt"
}

verify() { # FILE: yes if its sha256 is the file's
	[ -f "$1" ] && [ "$(T 120 sha256sum "$1" | cut -d' ' -f1)" = "$SHA" ] && echo yes || echo no
}

# timed SCEN RUN LABEL STALLER STDOUT STDERR CMD...: one timed, sampled,
# verified run.
timed() {
	local scen=$1 run=$2 label=$3 st=$4 so=$5 se=$6; shift 6
	local tag="$scen-$label-$run" t0 t1 rc=0 spid net ok
	reset_sockets
	staller "$st"
	rm -f "$OUT"/*
	sync
	sleep 1
	note_cmd "$label" "$@"
	cat /proc/loadavg >"$LOGS/$tag.loadavg" # anything else busy on the machine?
	t0=$EPOCHREALTIME
	sampler "$LOGS/$tag.samples" &
	spid=$!
	T "$LIMIT" /usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KiB max RSS' -o "$LOGS/$tag.time" \
		"$@" >"$so" 2>"$se" || rc=$?
	t1=$EPOCHREALTIME
	sleep 0.2
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	[ $rc = 0 ] || log "$tag: exit $rc: $(tail -2 "$se")"
	timeline "$LOGS/$tag.samples" "$t0" "$IDEAL_MBIT" "$st" >"$RESULTS/timeline/$tag.tsv"
	net=$(awk '$1 == "net_done" { print $2 }' "$RESULTS/timeline/$tag.tsv")
	ok=$(verify "$OUT/$NAME"); [ $rc = 0 ] || ok=no
	record "$scen" "$label" "$run" "$(calc "$t1 - $t0")" "$net" "$(fetched_at "$tag" "$t0")" "$ok"
}

# fetched_at TAG T0: for aria2c, seconds from T0 to its log's "The download
# was complete." (the last byte is in; its checksum pass starts); else "-".
fetched_at() {
	local f="$LOGS/$1.aria2.log" ts
	ts=$(awk '/The download was complete\./ { print $1 " " $2; exit }' "$f" 2>/dev/null || true)
	if [ -n "$ts" ]; then awk -v a="$(date -d "$ts" +%s.%N)" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; else echo -; fi
}

run_rtpget() { # SCEN RUN LABEL STALLER EXTRA_FLAGS...
	local scen=$1 run=$2 label=$3 st=$4; shift 4
	local tag="$scen-$label-$run"
	timed "$scen" "$run" "$label" "$st" "$RESULTS/$tag.json" "$LOGS/$tag.err" \
		ip netns exec "$CLI" "$RTPGET" -q --json "$@" -o "$OUT/$NAME" "$URL"
	if [ $HAVE_JQ = 1 ] && [ -s "$RESULTS/$tag.json" ]; then
		jq -r '"    elapsed_seconds \(.elapsed_seconds)", (.servers[] | "    \(.server) \(.bytes) B (\(.duplicate_bytes) dup) retries=\(.retries) \(.state) \(.why // "")")' \
			"$RESULTS/$tag.json" >&2 || true
	fi
}

run_aria2() { # SCEN RUN LABEL STALLER FLAGS...
	local scen=$1 run=$2 label=$3 st=$4; shift 4
	local tag="$scen-$label-$run" uris=() i
	for i in $(seq 1 "$ACTIVE"); do uris+=("http://$(srvip "$i"):$HTTP_PORT/$NAME"); done
	# The info log says when the last byte landed ("The download was
	# complete.") and when the checksum pass ended.
	timed "$scen" "$run" "$label" "$st" "$LOGS/$tag.out" "$LOGS/$tag.out" \
		ip netns exec "$CLI" aria2c --checksum="sha-256=$SHA" "$@" \
		--allow-overwrite=true --auto-file-renaming=false --summary-interval=0 \
		--console-log-level=warn --download-result=hide --log="$LOGS/$tag.aria2.log" --log-level=info \
		-d "$OUT" -o "$NAME" "${uris[@]}"
}

# scenario NAME IDEAL_MBIT STALLER RATES...
scenario() {
	local scen=$1 ideal_mbit=$2 st=$3; shift 3
	local rates=("$@") i r v label flags
	IDEAL=$(calc "$BYTES * 8 / ($ideal_mbit * 1e6)")
	IDEAL_MBIT=$ideal_mbit
	LIMIT=$(awk -v i="$IDEAL" 'BEGIN { l = 10 * i + 60; printf "%d", l }')
	local what="no staller"
	[ "$st" = 0 ] || what="srv$st stalls after $STALL_FRAC% of the file"
	log "scenario $scen: rates ${rates[*]} Mbit/s, $what, ideal ${IDEAL}s"
	echo "$scen: rates ${rates[*]} Mbit/s; $what; ideal = size / $ideal_mbit Mbit/s = ${IDEAL}s" >>"$RESULTS/links.txt"
	for i in $(seq 1 $NSRV); do shape "$i" "${rates[$((i - 1))]}"; done
	for i in $(seq 1 $NSRV); do ip netns exec "$(srvns "$i")" tc qdisc show dev "vs$i"; done >>"$RESULTS/links.txt"
	reset_sockets; staller 0
	probe_links "$scen" "${rates[@]}"
	for r in $(seq 1 "$RUNS"); do
		# rtpget and aria2c alternate: each run does every variant once.
		IFS=';' read -ra vs <<<"$RTPGET_VARIANTS"
		for v in "${vs[@]}"; do
			label=${v%%=*}; flags=${v#*=}
			# shellcheck disable=SC2086 # flags are words
			run_rtpget "$scen" "$r" "$label" "$st" $flags
		done
		IFS=';' read -ra vs <<<"$ARIA2_VARIANTS"
		for v in "${vs[@]}"; do
			label=${v%%=*}; flags=${v#*=}
			# shellcheck disable=SC2086
			run_aria2 "$scen" "$r" "$label" "$st" $flags
		done
	done
}

setup_net
park_in_client
start_servers
{
	echo "kernel $(uname -r), $(nproc) cores; size $BYTES bytes; runs $RUNS"
	echo "client netns: $(ip netns exec "$CLI" sysctl -n net.ipv4.tcp_congestion_control) congestion control," \
		"tcp_rmem $(ip netns exec "$CLI" sysctl -n net.ipv4.tcp_rmem | tr '\t' ' ')," \
		"tcp_wmem $(ip netns exec "$CLI" sysctl -n net.ipv4.tcp_wmem | tr '\t' ' ')"
	echo "server netns: $(ip netns exec "$(srvns 1)" sysctl -n net.ipv4.tcp_congestion_control) congestion control"
	echo "$(nginx -v 2>&1); $(aria2c --version | head -1); rtpget $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
} | tee "$RESULTS/env.txt"

IFS=',' read -ra SCENS <<<"$SCENARIOS"
for s in "${SCENS[@]}"; do
	case $s in
	A) scenario A 800 0 200 200 200 200 ;;
	B) scenario B 650 4 400 200 50 "$STALL_RATE" ;;
	N[1-4])
		# Every link at 200 Mbit/s; the clients know the first k servers.
		ACTIVE=${s#N}
		SERVERS=()
		for i in $(seq 1 "$ACTIVE"); do SERVERS+=(--server "tcp!$(srvip "$i")!$RTP_PORT"); done
		URL=$(T 600 "$RTPD" url --hash "$URL_HASH" "${SERVERS[@]}" "$FILE")
		echo "$s: $URL" >>"$RESULTS/url.txt"
		scenario "$s" $((200 * ACTIVE)) 0 200 200 200 200
		ACTIVE=$NSRV URL=$URL_ALL
		;;
	*) die "unknown scenario $s" ;;
	esac
done

# ---------------------------------------------------------------- report
{
	echo
	echo "== links"
	cat "$RESULTS/links.txt"
	echo
	echo "== results"
	echo "wall_s: start to exit, verified; Mbit/s = size*8/wall_s/1e6; pct_ideal = ideal/wall_s;"
	echo "net_s: when the links went idle (the staller's aside); after_net_s = wall_s - net_s (hashing, checksum pass, fsync);"
	echo "fetched_s: aria2c only, when its log says the download was complete (before its checksum pass)"
	column -t -s $'\t' "$RESULTS/results.tsv"
	echo
	echo "== medians"
	awk -F'\t' 'NR > 1 { k = $1 "\t" $2; n[k]++; v[k, n[k]] = $4 } END {
		for (k in n) {
			m = n[k]; for (i = 1; i <= m; i++) a[i] = v[k, i]
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
			printf "%s\t%.2f s median of %d\n", k, med, m
		}
	}' "$RESULTS/results.tsv" | sort | column -t -s $'\t'
	for t in "$RESULTS"/timeline/*-1.tsv; do
		[ -f "$t" ] || continue
		echo
		echo "== timeline $(basename "$t" .tsv) (Mbit/s received per link, 1 s bins; full 0.1 s data in timeline/)"
		bins "$t" | column -t -s $'\t'
	done
	for j in "$RESULTS"/*-1.json; do
		[ -f "$j" ] || continue
		echo
		echo "== $(basename "$j")"
		cat "$j"
	done
	echo
	echo "== commands"
	cat "$RESULTS/commands.txt"
} | tee "$RESULTS/report.txt"
