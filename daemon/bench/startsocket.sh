#!/bin/bash
# Issue 18: exec `keyward daemon` to the socket's first answer (any status:
# 503 "starting" while the store opens) and to its first 200, on a data dir
# (a copy: a first start of a newer binary migrates it):
#   flock /tmp/keyward-bench.lock daemon/bench/startsocket.sh $WORK $BIN [ROUNDS]
set -u
WORK=$1; BIN=$2; ROUNDS=${3:-3}
cd "$WORK"
printf 'data_dir = "%s/data"\nsocket = "%s/k.sock"\n' "$WORK" "$WORK" > k.toml
for r in $(seq "$ROUNDS"); do
  echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
  t0=$(date +%s.%N)
  $BIN daemon --config k.toml > daemon.$r.log 2>&1 & pid=$!
  until curl -s -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/sources 2>/dev/null; do sleep 0.005; done
  t1=$(date +%s.%N)
  until curl -sf -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/sources 2>/dev/null; do sleep 0.005; done
  t2=$(date +%s.%N)
  echo "first answer: $(echo "$t1 - $t0" | bc) s; serving (200): $(echo "$t2 - $t0" | bc) s"
  kill $pid; wait $pid 2>/dev/null
done
