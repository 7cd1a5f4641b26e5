#!/bin/bash
# Issue 18: a full keys export through the CLI and the socket, the first
# status after a start and first keys pages, for two keyward binaries on
# copies of one generated inventory, beside sqlite3 on the same table.
#   keyward dev seed --keys 100000 --events 1000 --data-dir $WORK/data   (with the BEFORE binary)
#   flock /tmp/keyward-bench.lock daemon/bench/keysexport.sh $WORK $BEFORE $AFTER
# The after binary migrates its copy (data-after), so the before one never sees a newer schema.
set -u
WORK=$1; BEFORE=$2; AFTER=$3
cd "$WORK"
printf 'data_dir = "%s/data"\nsocket = "%s/k.sock"\n' "$WORK" "$WORK" > k.toml
T='%e s elapsed, %M KiB max RSS, %U s user, %S s sys'
status_first() { # $1 binary, $2 config: start, then time the first status
  $1 daemon --config $2 > daemon-$3.log 2>&1 & echo $! > d.pid
  until curl -s -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/sources 2>/dev/null; do sleep 0.005; done
  echo "$3 first status: $(curl -s -o /dev/null -w '%{time_total}' --unix-socket k.sock http://keyward/v1/status) s; second: $(curl -s -o /dev/null -w '%{time_total}' --unix-socket k.sock http://keyward/v1/status) s"
}
pages() {
  for q in 'limit=50' 'limit=50&state=active' 'limit=50&source=kms-prod' 'limit=50&source=kms-dr&state=active' 'limit=50&aging=expired'; do
    curl -s -o /dev/null --unix-socket k.sock "http://keyward/v1/keys?$q"
    echo "$1 GET /v1/keys?$q: $(curl -s -o /dev/null -w '%{time_total}' --unix-socket k.sock "http://keyward/v1/keys?$q") s"
  done
}
stop() { kill $(cat d.pid); while kill -0 $(cat d.pid) 2>/dev/null; do sleep 0.05; done; }
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf data-after; cp -a data data-after
printf 'data_dir = "%s/data-after"\nsocket = "%s/k.sock"\n' "$WORK" "$WORK" > k-after.toml
status_first $BEFORE k.toml before
pages before
for i in 1 2; do /usr/bin/time -f "before keys list --json: $T" $BEFORE --socket k.sock keys list --json > before.json; done
stop
echo "mid $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2; do /usr/bin/time -f "sqlite3 -json: $T" sqlite3 -json data/keyward.db 'SELECT * FROM keys' > sqlite.json; done
for i in 1 2; do /usr/bin/time -f "sqlite3 -csv: $T" sqlite3 -csv -header data/keyward.db 'SELECT * FROM keys' > sqlite.csv; done
$AFTER daemon --config k-after.toml > daemon-migrate.log 2>&1 & echo $! > d.pid
until curl -s -o /dev/null --max-time 0.2 --unix-socket k.sock http://keyward/v1/sources 2>/dev/null; do sleep 0.05; done
grep -o 'startup=[^ ]*' daemon-migrate.log | sed 's/^/after migration 0011 start: /'
stop
status_first $AFTER k-after.toml after
pages after
for i in 1 2; do /usr/bin/time -f "after keys list --json: $T" $AFTER --socket k.sock keys list --json > after.json; done
for i in 1 2; do /usr/bin/time -f "after keys list --format ndjson: $T" $AFTER --socket k.sock keys list --format ndjson > after.ndjson; done
for i in 1 2; do /usr/bin/time -f "after keys list --format csv: $T" $AFTER --socket k.sock keys list --format csv > after.csv; done
for i in 1 2; do echo "after curl export ndjson: $(curl -s -o /dev/null -w '%{time_total} s %{size_download} B' --unix-socket k.sock 'http://keyward/v1/export/keys')"; done
/usr/bin/time -f "after keys list (table): $T" $AFTER --socket k.sock keys list > after.txt
grep VmHWM /proc/$(cat d.pid)/status | sed 's/^/after daemon /'
stop
wc -l after.ndjson after.csv sqlite.csv; ls -l before.json after.json sqlite.json
python3 -c "
import json; a=json.load(open('before.json')); b=json.load(open('after.json'))
print('json same keys:', [k['id'] for k in a['keys']]==[k['id'] for k in b['keys']], 'totals', a['total'], b['total'], len(b['keys']))"
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
