#!/usr/bin/env bash
# Load test: keyward's proxy against a plain httputil.ReverseProxy (with a
# BufferPool) in front of the same upstream, same payloads (1 KiB JSON with 3
# protected fields; 64 KiB JSON with 50), the upstream answering with a
# Content-Length (cl) and chunked, same concurrency, in one run, with wrk (Debian:
# apt-get install -y wrk). Upstream, plain proxy and keyward proxy are
# separate processes, so besides requests/s and p99 the script reports each
# proxy's own CPU time per request (read from /proc), which a busy shared
# machine disturbs far less than throughput. Each configuration runs ROUNDS
# times, alternating plain and keyward; medians are reported with
# keyward/plain ratios, and the latency keyward adds (p50, p99, ms).
#
#   daemon/proxy/bench/loadtest.sh
#   DURATION=10s CONNS=32 ROUNDS=5 PROFILE=1 daemon/proxy/bench/loadtest.sh
#
# PROFILE=1 saves CPU profiles of both proxies under each payload and
# framing to $PROFILE_DIR (default /tmp): go tool pprof -top <binary> <profile>,
# or -diff_base plain-….pprof keyward-….pprof.
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-6s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
PROFILE=${PROFILE:-0}
PROFILE_DIR=${PROFILE_DIR:-/tmp}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/rig" .
"$work/rig" -role payloads -dir "$work"
start() { # role [args] → waits for role.addr
	"$work/rig" -role "$1" -dir "$work" "${@:2}" >"$work/$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$work/$1.addr" ] && return; sleep 0.05; done
	echo "rig $1 did not start: $(cat "$work/$1.log")" >&2; exit 1
}
start upstream; UP=$(cat "$work/upstream.addr")
start plain -upstream "$UP" -pprof 127.0.0.1:0; PLAIN_PID=${pids[-1]}; PLAIN=$(cat "$work/plain.addr")
start keyward -upstream "$UP" -pprof 127.0.0.1:0; KW_PID=${pids[-1]}; KEYWARD=$(cat "$work/keyward.addr")
PPROF=$(cat "$work/keyward.pprof.addr"); PLAIN_PPROF=$(cat "$work/plain.pprof.addr")
TCK=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run URL BODY PID → prints "rps p99_ms cpu_us_per_request p50_ms"
run() {
	local before after
	before=$(cputicks "$3")
	BODY_FILE=$2 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s post.lua "$1" >"$work/out" 2>&1
	after=$(cputicks "$3")
	if grep -q Non-2xx "$work/out"; then echo "non-2xx answers from $1" >&2; cat "$work/out" >&2; exit 1; fi
	awk -v cpu=$((after - before)) -v tck="$TCK" '
		/requests in/ {n=$1}
		/Requests\/sec/ {rps=$2}
		function ms(v) {if (v ~ /us$/) {sub(/us$/,"",v); return v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); return v} else if (v ~ /s$/) {sub(/s$/,"",v); return v*1000}; return v}
		$1=="50%" {p50=ms($2)}
		$1=="99%" {p99=ms($2)}
		END {printf "%s %s %.1f %s\n", rps, p99, cpu*1e6/tck/n, p50}' "$work/out"
}
# profiled YES PPROF_ADDR NAME URL BODY PID → run, with a CPU profile of the
# proxy saved to $PROFILE_DIR/NAME.pprof when YES is non-empty
profiled() {
	local p=
	if [ -n "$1" ]; then
		curl -s -o "$PROFILE_DIR/$3.pprof" "http://$2/debug/pprof/profile?seconds=$((${DURATION%s} - 1))" &
		p=$!
	fi
	run "$4" "$5" "$6"
	if [ -n "$p" ]; then wait "$p"; fi
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$1" '{print $c}' "$2" | median; }

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
printf '%-15s %9s %9s %6s | %8s %8s %6s %6s | %9s %9s %6s\n' payload/framing plain_rps kw_rps ratio plain_p99 kw_p99 +p50 +p99 plain_cpu kw_cpu ratio
for payload in small large; do
for framing in cl chunked; do
	body="$work/$payload.json"
	: >"$work/p"; : >"$work/k"
	run "http://$KEYWARD/$framing/records" "$body" "$KW_PID" >/dev/null # warm-up
	run "http://$PLAIN/$framing/records" "$body" "$PLAIN_PID" >/dev/null
	for r in $(seq "$ROUNDS"); do
		prof=
		[ "$PROFILE" = 1 ] && [ "$r" = 1 ] && prof=1
		profiled "$prof" "$PLAIN_PPROF" "plain-proxy-cpu-$payload-$framing" "http://$PLAIN/$framing/records" "$body" "$PLAIN_PID" >>"$work/p"
		profiled "$prof" "$PPROF" "keyward-proxy-cpu-$payload-$framing" "http://$KEYWARD/$framing/records" "$body" "$KW_PID" >>"$work/k"
	done
	pr=$(col 1 "$work/p"); kr=$(col 1 "$work/k"); pp=$(col 2 "$work/p"); kp=$(col 2 "$work/k"); pc=$(col 3 "$work/p"); kc=$(col 3 "$work/k")
	p5=$(col 4 "$work/p"); k5=$(col 4 "$work/k")
	printf '%-15s %9.0f %9.0f %6.2f | %8.2f %8.2f %6.2f %6.2f | %9.1f %9.1f %6.2f\n' "$payload/$framing" "$pr" "$kr" "$(echo "$kr / $pr" | bc -l)" \
		"$pp" "$kp" "$(echo "$k5 - $p5" | bc -l)" "$(echo "$kp - $pp" | bc -l)" "$pc" "$kc" "$(echo "$kc / $pc" | bc -l)"
done
done
echo "(rps: requests/s; p99 in ms; +p50/+p99: keyward's minus plain's, ms; cpu: the proxy process's CPU microseconds per request)"
