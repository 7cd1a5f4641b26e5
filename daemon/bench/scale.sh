#!/bin/bash
# Issue 18: at a million keys, the first status after a start and the first
# pages, filters, reports a TUI or script asks for, through the socket
# (curl, JSON encoding included). Run on a data dir made by
#   keyward dev seed --keys 1000000 --events 10000000 --data-dir $WORK/data
# after a first start has migrated it:
#   flock /tmp/keyward-bench.lock daemon/bench/scale.sh $WORK $BIN
# Each request is asked twice; both times are printed, and whether the
# answer's total is an estimate (total_as_of).
set -u
WORK=$1; BIN=$2
cd "$WORK"
printf 'data_dir = "%s/data"\nsocket = "%s/k.sock"\n' "$WORK" "$WORK" > k.toml
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
$BIN daemon --config k.toml > daemon.log 2>&1 & pid=$!
until curl -s -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/sources 2>/dev/null; do sleep 0.005; done
t1=$(date +%s.%N)
echo "start to socket answering: $(echo "$t1 - $t0" | bc) s"
echo "first GET /v1/status: $(curl -s -o status.json -w '%{time_total}' --unix-socket k.sock http://keyward/v1/status) s; second: $(curl -s -o /dev/null -w '%{time_total}' --unix-socket k.sock http://keyward/v1/status) s"
for q in 'keys?limit=50' 'keys?limit=50&state=active' 'keys?limit=50&source=kms-prod' 'keys?limit=50&source=kms-dr&state=active' \
  'keys?limit=50&state=destroyed' 'keys?limit=50&aging=expired' 'keys?limit=50&aging=expiring-7d' 'keys?limit=50&aging=expiring-30d' \
  'keys?limit=50&aging=expiring-90d' 'keys?limit=50&aging=rotation-overdue' 'keys?limit=50&aging=healthy' 'keys?limit=50&aging=retired' \
  'keys?limit=50&aging=expired&source=kms-prod' \
  'keys?limit=50&q=app0042' 'keys?limit=50&sort=-created' 'reports/aging/summary' 'reports/aging?limit=50' 'reports/activity?limit=50' \
  'reports/usage' 'reports/usage?from=-365d'; do
  a=$(curl -s -o ans.json -w '%{time_total}' --unix-socket k.sock "http://keyward/v1/$q")
  b=$(curl -s -o ans.json -w '%{time_total}' --unix-socket k.sock "http://keyward/v1/$q")
  est=$(grep -q total_as_of ans.json && echo ", total is an estimate (total_as_of)")
  tot=$(python3 -c "import json; d=json.load(open('ans.json')); print(d.get('total', d.get('unused_total', '')))" 2>/dev/null)
  echo "GET /v1/$q: $a s, then $b s (total $tot$est)"
done
echo "daemon $(grep VmHWM /proc/$pid/status)"
kill $pid; wait $pid 2>/dev/null
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
