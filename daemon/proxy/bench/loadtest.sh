#!/usr/bin/env bash
# Load test: keyward's proxy against a plain httputil.ReverseProxy in front of
# the same upstream, same payloads, same concurrency, in one run, with wrk
# (Debian: apt-get install -y wrk). Each configuration is measured ROUNDS
# times, alternating plain and keyward so both see the same machine; the
# median requests/s and p99 are reported, with keyward/plain ratios.
#
#   daemon/proxy/bench/loadtest.sh            # defaults below
#   DURATION=10s CONNS=32 ROUNDS=3 PROFILE=1 daemon/proxy/bench/loadtest.sh
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-8s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-0}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$rig" 2>/dev/null || true; wait "$rig" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/rig" .
"$work/rig" -dir "$work" >"$work/rig.log" 2>&1 &
rig=$!
for _ in $(seq 50); do [ -s "$work/addrs.json" ] && break; sleep 0.1; done
addr() { python3 -c "import json,sys; print(json.load(open('$work/addrs.json'))['$1'])"; }
PLAIN=$(addr plain); KEYWARD=$(addr keyward); PPROF=$(addr pprof)

# run NAME URL BODY → prints "rps p99_ms"
run() {
	BODY_FILE=$3 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s post.lua "$2" >"$work/out" 2>&1
	local rps p99 non2xx
	rps=$(awk '/Requests\/sec/ {print $2}' "$work/out")
	p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' "$work/out")
	non2xx=$(awk '/Non-2xx/ {print $5}' "$work/out")
	if [ -n "$non2xx" ]; then echo "$1: $non2xx non-2xx answers" >&2; cat "$work/out" >&2; exit 1; fi
	echo "$rps $p99"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, $(nproc) CPUs, $(date -u +%FT%TZ)"
printf '%-8s %12s %12s %10s %10s %10s %10s\n' payload plain_rps keyward_rps rps_ratio plain_p99 kw_p99 p99_ratio
for payload in small large; do
	body="$work/$payload.json"
	: >"$work/p_rps"; : >"$work/k_rps"; : >"$work/p_p99"; : >"$work/k_p99"
	run warmup "http://$KEYWARD/records" "$body" >/dev/null
	run warmup "http://$PLAIN/records" "$body" >/dev/null
	for r in $(seq "$ROUNDS"); do
		read -r rps p99 < <(run plain "http://$PLAIN/records" "$body"); echo "$rps" >>"$work/p_rps"; echo "$p99" >>"$work/p_p99"
		prof=
		if [ "$PROFILE" = 1 ] && [ "$r" = 1 ]; then
			secs=${DURATION%s}; curl -s -o "$work/cpu-$payload.pprof" "http://$PPROF/debug/pprof/profile?seconds=$((secs - 1))" &
			prof=$!
		fi
		read -r rps p99 < <(run keyward "http://$KEYWARD/records" "$body"); echo "$rps" >>"$work/k_rps"; echo "$p99" >>"$work/k_p99"
		if [ -n "$prof" ]; then
			wait "$prof"
			cp "$work/cpu-$payload.pprof" "${PROFILE_DIR:-/tmp}/keyward-proxy-cpu-$payload.pprof"
		fi
	done
	pr=$(median <"$work/p_rps"); kr=$(median <"$work/k_rps"); pp=$(median <"$work/p_p99"); kp=$(median <"$work/k_p99")
	printf '%-8s %12.0f %12.0f %10.2f %10.2f %10.2f %10.2f\n' "$payload" "$pr" "$kr" "$(echo "$kr / $pr" | bc -l)" "$pp" "$kp" "$(echo "$kp / $pp" | bc -l)"
done
