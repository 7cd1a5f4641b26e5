#!/usr/bin/env bash
# Load test: keyward's proxy against a plain httputil.ReverseProxy in front of
# the same upstream, same payloads (1 KiB JSON with 3 protected fields; 64 KiB
# JSON with 50), same concurrency, in one run, with wrk (Debian:
# apt-get install -y wrk). Upstream, plain proxy and keyward proxy are
# separate processes, so besides requests/s and p99 the script reports each
# proxy's own CPU time per request (read from /proc), which a busy shared
# machine disturbs far less than throughput. Each configuration runs ROUNDS
# times, alternating plain and keyward; medians are reported with
# keyward/plain ratios.
#
#   daemon/proxy/bench/loadtest.sh
#   DURATION=10s CONNS=32 ROUNDS=5 PROFILE=1 daemon/proxy/bench/loadtest.sh
#
# PROFILE=1 saves a CPU profile of the keyward proxy under each payload to
# $PROFILE_DIR (default /tmp): go tool pprof -top <binary> <profile>.
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
start plain -upstream "$UP"; PLAIN_PID=${pids[-1]}; PLAIN=$(cat "$work/plain.addr")
start keyward -upstream "$UP" -pprof 127.0.0.1:0; KW_PID=${pids[-1]}; KEYWARD=$(cat "$work/keyward.addr")
PPROF=$(cat "$work/pprof.addr")
TCK=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run URL BODY PID → prints "rps p99_ms cpu_us_per_request"
run() {
	local before after
	before=$(cputicks "$3")
	BODY_FILE=$2 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s post.lua "$1" >"$work/out" 2>&1
	after=$(cputicks "$3")
	if grep -q Non-2xx "$work/out"; then echo "non-2xx answers from $1" >&2; cat "$work/out" >&2; exit 1; fi
	awk -v cpu=$((after - before)) -v tck="$TCK" '
		/requests in/ {n=$1}
		/Requests\/sec/ {rps=$2}
		$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; p99=v}
		END {printf "%s %s %.1f\n", rps, p99, cpu*1e6/tck/n}' "$work/out"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$1" '{print $c}' "$2" | median; }

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
printf '%-7s %9s %9s %6s | %8s %8s %6s | %9s %9s %6s\n' payload plain_rps kw_rps ratio plain_p99 kw_p99 ratio plain_cpu kw_cpu ratio
for payload in small large; do
	body="$work/$payload.json"
	: >"$work/p"; : >"$work/k"
	run "http://$KEYWARD/records" "$body" "$KW_PID" >/dev/null # warm-up
	run "http://$PLAIN/records" "$body" "$PLAIN_PID" >/dev/null
	for r in $(seq "$ROUNDS"); do
		run "http://$PLAIN/records" "$body" "$PLAIN_PID" >>"$work/p"
		prof=
		if [ "$PROFILE" = 1 ] && [ "$r" = 1 ]; then
			secs=${DURATION%s}
			curl -s -o "$PROFILE_DIR/keyward-proxy-cpu-$payload.pprof" "http://$PPROF/debug/pprof/profile?seconds=$((secs - 1))" &
			prof=$!
		fi
		run "http://$KEYWARD/records" "$body" "$KW_PID" >>"$work/k"
		if [ -n "$prof" ]; then wait "$prof"; fi
	done
	pr=$(col 1 "$work/p"); kr=$(col 1 "$work/k"); pp=$(col 2 "$work/p"); kp=$(col 2 "$work/k"); pc=$(col 3 "$work/p"); kc=$(col 3 "$work/k")
	printf '%-7s %9.0f %9.0f %6.2f | %8.2f %8.2f %6.2f | %9.1f %9.1f %6.2f\n' "$payload" "$pr" "$kr" "$(echo "$kr / $pr" | bc -l)" \
		"$pp" "$kp" "$(echo "$kp / $pp" | bc -l)" "$pc" "$kc" "$(echo "$kc / $pc" | bc -l)"
done
echo "(rps: requests/s; p99 in ms; cpu: the proxy process's CPU microseconds per request)"
