#!/bin/bash
# Issue 18: the speed of a full keys export through the socket and the CLI,
# for keyward binaries on copies of one inventory, beside sqlite3 -json on
# the same table, in one run, with the daemon's CPU time for the export
# (user + sys, which a loaded machine disturbs less than the elapsed time). Each binary gets its own copy (it migrates
# it) and its own daemon; each figure is the second of two runs.
#   keyward dev seed --keys 100000 --events 1000 --data-dir $WORK/data
#   flock /tmp/keyward-bench.lock daemon/bench/exportspeed.sh $WORK $BIN1 [$BIN2 ...]
set -u
WORK=$1; shift
cd "$WORK"
T='%e s elapsed, %M KiB max RSS, %U s user, %S s sys'
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2; do /usr/bin/time -f "sqlite3 -json: $T" sqlite3 -json data/keyward.db 'SELECT * FROM keys' > sqlite.json; done 2>&1 | tail -1
n=0
for bin in "$@"; do
  n=$((n + 1))
  rm -rf data-$n; cp -a data data-$n
  printf 'data_dir = "%s/data-%s"\nsocket = "%s/k.sock"\n' "$WORK" $n "$WORK" > k-$n.toml
  $bin daemon --config k-$n.toml > daemon-$n.log 2>&1 & pid=$!
  until curl -s -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/status 2>/dev/null; do sleep 0.05; done
  for i in 1 2; do
    c0=$(awk '{print $14 + $15}' /proc/$pid/stat)
    r=$(curl -s -o export-$n.ndjson -w '%{time_total} %{size_download}' --unix-socket k.sock 'http://keyward/v1/export/keys')
    c1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  done
  keys=$(wc -l < export-$n.ndjson)
  echo "$bin: curl /v1/export/keys: ${r% *} s, ${r#* } B, $keys keys, $(echo "$keys / ${r% *}" | bc) keys/s; daemon CPU $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l | cut -c1-5) s"
  for i in 1 2; do /usr/bin/time -f "$bin: keys list --format ndjson: $T" $bin --socket k.sock keys list --format ndjson > list-$n.ndjson; done 2>&1 | tail -1
  for i in 1 2; do /usr/bin/time -f "$bin: keys list --json: $T" $bin --socket k.sock keys list --json > list-$n.json; done 2>&1 | tail -1
  echo "$bin: daemon $(grep VmHWM /proc/$pid/status)"
  kill $pid; wait $pid 2>/dev/null
done
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
