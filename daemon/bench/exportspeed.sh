#!/bin/bash
# Issue 18: the speed of a full keys export through the socket and the CLI,
# for keyward binaries on copies of one inventory, beside sqlite3 -json on
# the same table, in one run: every measurement twice, with elapsed time
# and CPU time (user + sys, which a loaded machine disturbs less): the
# daemon's for curl, the CLI's and the daemon's for the CLI. sqlite3 runs
# before each binary and at the end, so each binary has a baseline beside
# it. Each binary gets its own copy (it migrates it) and its own daemon.
#   keyward dev seed --keys 100000 --events 1000 --data-dir $WORK/data
#   flock /tmp/keyward-bench.lock daemon/bench/exportspeed.sh $WORK $BIN1 [$BIN2 ...]
set -u
WORK=$1; shift
cd "$WORK"
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
secs() { echo "scale=2; $1 / $HZ" | bc; }
baseline() {
  for i in 1 2; do
    /usr/bin/time -f "sqlite3 -json: %e s elapsed, %U + %S s CPU, %M KiB max RSS" sqlite3 -json data/keyward.db 'SELECT * FROM keys' 2>&1 > sqlite.json | tr '\n' ' '
    echo "($(wc -c < sqlite.json) B)"
  done
}
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
n=0
for bin in "$@"; do
  n=$((n + 1))
  baseline
  rm -rf data-$n; cp -a data data-$n
  printf 'data_dir = "%s/data-%s"\nsocket = "%s/k.sock"\n' "$WORK" $n "$WORK" > k-$n.toml
  $bin daemon --config k-$n.toml > daemon-$n.log 2>&1 & pid=$!
  until curl -s -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/status 2>/dev/null; do sleep 0.05; done
  curl -s -o /dev/null --unix-socket k.sock 'http://keyward/v1/export/keys' # a first export fills the caches
  for format in ndjson csv; do
    for i in 1 2; do
      c0=$(cpu $pid)
      r=$(curl -s -o export-$n.$format -w '%{time_total} %{size_download}' --unix-socket k.sock "http://keyward/v1/export/keys?format=$format")
      c1=$(cpu $pid)
      keys=$(grep -c '' export-$n.$format)
      echo "$bin: curl /v1/export/keys?format=$format: ${r% *} s elapsed, ${r#* } B, $keys lines, $(echo "$keys / ${r% *}" | bc) lines/s; daemon CPU $(secs $((c1 - c0))) s"
    done
  done
  for format in ndjson json csv; do
    for i in 1 2; do
      c0=$(cpu $pid)
      t=$(/usr/bin/time -f "%e s elapsed, CLI %U + %S s CPU, %M KiB max RSS" $bin --socket k.sock keys list --format $format 2>&1 > list-$n.$format)
      c1=$(cpu $pid)
      echo "$bin: keys list --format $format: $t; daemon CPU $(secs $((c1 - c0))) s"
    done
  done
  echo "$bin: daemon $(grep VmHWM /proc/$pid/status)"
  kill $pid; wait $pid 2>/dev/null
done
baseline
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
