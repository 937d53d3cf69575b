#!/usr/bin/env bash
# Ferry side by side with SockJS and Socket.IO, measured in one run.
#
#   bash bench/run.sh            # from the repository root (about 15 minutes)
#   QUICK=1 bash bench/run.sh    # smoke run
#
# Installs the peers (npm ci in bench/peers), builds ferry, ferry-bench and
# the helpers into a temporary directory, starts the Ferry gateway (echo,
# bench and broadcast services) and bench/peers' SockJS and Socket.IO
# servers, every SERVER pinned to CPU $SERVER_CPU and every LOAD process
# (ferry-bench, Chromium) to CPU $LOAD_CPU, then runs the same workloads
# against each target and transport:
#
#   echo       1 session, then $SESSIONS sessions: closed-loop round trips of 64 B
#   broadcast  $SUBSCRIBERS subscribers, $RATE msg/s published over HTTP POST,
#              64 B text messages carrying their send time
#
# on Ferry native / websocket / sse / longpoll, SockJS websocket /
# eventsource / xhr-polling and Socket.IO websocket / polling. It prints
# one table per workload with ratios against the Ferry counterpart, and
# writes every result (ferry-bench JSON, summary.json, logs) to $OUT.
# Last, the browser comparison (bench/browser) runs in headless Chromium,
# unless BROWSER=0 or Chromium is missing.
#
# Settings (environment):
#   DURATION=10s WARMUP=2s   measured period and warm-up of each run
#   PAUSE=1                  seconds between runs
#   SESSIONS=100             sessions of the second echo workload
#   SUBSCRIBERS=1000 RATE=20 broadcast subscribers and published messages/s
#   SIZE=64                  message bytes
#   QUICK=1                  smoke run (about a minute): 0.5 s periods, 10 sessions,
#                            50 subscribers, a short browser run; its figures are noise
#   BROWSER=0                skip the browser comparison
#   ECHOES=10000 BURST=50000 ECHO_MAX=30s   browser: echoes (as many as fit in ECHO_MAX), burst messages
#   ONLY="ferry sockjs"      targets to run (ferry, sockjs, socketio)
#   SERVER_CPU=0 LOAD_CPU=1  CPUs for taskset
#   OUT=bench/out/<time>     result directory
#
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${QUICK:-0}" = 1 ]; then
  DURATION=${DURATION:-500ms} WARMUP=${WARMUP:-200ms} SESSIONS=${SESSIONS:-10}
  SUBSCRIBERS=${SUBSCRIBERS:-50} RATE=${RATE:-20} PAUSE=${PAUSE:-0.2}
  ECHOES=${ECHOES:-100} BURST=${BURST:-1000} ECHO_MAX=${ECHO_MAX:-1s}
fi
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PAUSE=${PAUSE:-1}
SESSIONS=${SESSIONS:-100}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-20}
SIZE=${SIZE:-64}
ECHOES=${ECHOES:-10000}
BURST=${BURST:-50000}
ECHO_MAX=${ECHO_MAX:-30s}
BROWSER=${BROWSER:-1}
ONLY=${ONLY:-ferry sockjs socketio}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-bench/out/$(date +%Y%m%d-%H%M%S)}
SECRET=bench-secret

step() { printf '\n== %s\n' "$*" >&2; }
die() { echo "run.sh: $*" >&2; exit 1; }

for cmd in go node npm taskset timeout; do
  command -v "$cmd" >/dev/null || die "$cmd is required"
done
if [ "$(nproc)" -lt 2 ]; then
  echo "run.sh: fewer than 2 CPUs: servers and load share CPU 0; the figures are not comparable with a 2-CPU run" >&2
  SERVER_CPU=0 LOAD_CPU=0
fi

mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()

# stop ends a process: TERM, then KILL after 5 s.
stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    stop "$pid"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "peers: npm ci in bench/peers"
(cd bench/peers && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

step "build"
go build -o "$tmp/ferry" ./cmd/ferry
go build -o "$tmp/ferry-bench" ./cmd/ferry-bench
go build -o "$tmp/report" ./bench/report
go build -o "$tmp/browser" ./bench/browser

# wait_line FILE PATTERN: prints the first line of FILE matching PATTERN,
# waiting up to 15 s for it.
wait_line() {
  local i line
  for i in $(seq 150); do
    if line=$(grep -m1 -E "$2" "$1" 2>/dev/null); then
      echo "$line"
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: no \"$2\" in $1 after 15 s:" >&2
  cat "$1" >&2
  return 1
}

step "servers on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
cat >"$tmp/ferry.yaml" <<EOF
listen: 127.0.0.1:0
origins: ["*"]
log:
  level: warn
services:
  - path: /echo
    type: echo
  - path: /bench
    type: bench
  - path: /feed
    type: broadcast
    publish_secret: $SECRET
EOF
taskset -c "$SERVER_CPU" "$tmp/ferry" --config "$tmp/ferry.yaml" --log-level info 2>"$OUT/ferry.log" &
FERRY_PID=$!
pids+=("$FERRY_PID")
FERRY=$(wait_line "$OUT/ferry.log" 'ferry serving' | sed -E 's/.*addr=(http:\/\/[0-9.:]+).*/\1/')

# start_peer SCRIPT LOG: starts a peer server; sets PEER_URL and PEER_PID.
start_peer() {
  (cd bench/peers && PUBLISH_SECRET=$SECRET exec taskset -c "$SERVER_CPU" node "$1" 0) >"$2" 2>&1 &
  PEER_PID=$!
  pids+=("$PEER_PID")
  PEER_URL=http://$(wait_line "$2" '^listening ' | awk '{print $2}')
}
start_peer sockjs-server.js "$OUT/sockjs.log"
SOCKJS=$PEER_URL SOCKJS_PID=$PEER_PID
start_peer socketio-server.js "$OUT/socketio.log"
SOCKETIO=$PEER_URL SOCKETIO_PID=$PEER_PID

versions="go $(go env GOVERSION), node $(node --version), ferry $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for p in sockjs socket.io sockjs-client socket.io-client engine.io; do
  versions+=", $p $(node -p "require('./bench/peers/node_modules/$p/package.json').version")"
done
echo "$versions" | tee "$OUT/versions.txt" >&2
echo "ferry $FERRY (pid $FERRY_PID), sockjs $SOCKJS (pid $SOCKJS_PID), socket.io $SOCKETIO (pid $SOCKETIO_PID)" >&2

# target lines: name transport base-url server-pid
targets=()
case " $ONLY " in *" ferry "*)
  for t in native websocket sse longpoll; do targets+=("ferry $t $FERRY $FERRY_PID"); done ;;
esac
case " $ONLY " in *" sockjs "*)
  for t in websocket eventsource xhr-polling; do targets+=("sockjs $t $SOCKJS $SOCKJS_PID"); done ;;
esac
case " $ONLY " in *" socketio "*)
  for t in websocket polling; do targets+=("socketio $t $SOCKETIO $SOCKETIO_PID"); done ;;
esac

# seconds of a Go duration such as 10s, 500ms or 1m (rounded up).
secs() {
  case $1 in
    *ms) echo $(((${1%ms} + 999) / 1000)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" | awk '{print int($1 + 0.999)}' ;;
    *) echo 60 ;;
  esac
}
RUN_LIMIT=$(($(secs "$DURATION") + $(secs "$WARMUP") + 150))

read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN{exit !(l > 1.5)}'; then
  echo "run.sh: load average $load1 before starting: other processes compete for the CPUs, the figures will be noisy" >&2
fi

failed=0
# load LABEL ARGS...: one ferry-bench run on the load CPU; the load
# averages before and after go to $OUT/loadavg.txt.
load() {
  local label=$1
  shift
  printf '%-40s ' "$label" >&2
  echo "$label before $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/loadavg.txt"
  if timeout "$RUN_LIMIT" taskset -c "$LOAD_CPU" "$tmp/ferry-bench" "$@" \
    -warmup "$WARMUP" -duration "$DURATION" -max-duration 1h -q -out "$OUT/$label.json" >"$OUT/$label.txt" 2>&1; then
    grep -E '^(round-trip latency|delivery latency|latency)' "$OUT/$label.txt" | head -1 | sed -E 's/ +/ /g' >&2 || echo ok >&2
  else
    failed=$((failed + 1))
    echo "FAILED (see $OUT/$label.txt)" >&2
    tail -3 "$OUT/$label.txt" >&2 || true
  fi
  echo "$label after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/loadavg.txt"
  sleep "$PAUSE" # let the server drop the closed sessions
}

step "echo: 1 session, then $SESSIONS sessions, $SIZE B, $DURATION each"
for n in 1 "$SESSIONS"; do
  for line in "${targets[@]}"; do
    read -r name tr base pid <<<"$line"
    load "echo-n$n-$name-$tr" echo -target "$name" -transport "$tr" -url "$base/echo" \
      -n "$n" -size "$SIZE" -server-pid "$pid"
  done
done

step "broadcast: $SUBSCRIBERS subscribers, $RATE msg/s, $SIZE B, $DURATION each"
for line in "${targets[@]}"; do
  read -r name tr base pid <<<"$line"
  if [ "$name" = ferry ]; then
    path=/feed publish=$base/publish/feed
  else
    path=/broadcast publish=$base/publish/broadcast
  fi
  load "broadcast-$name-$tr" broadcast -target "$name" -transport "$tr" -url "$base$path" \
    -publish "$publish" -secret "$SECRET" -text-timestamps -n "$SUBSCRIBERS" -rate "$RATE" \
    -size "$SIZE" -server-pid "$pid"
done

step "results ($OUT)"
echo "$versions"
echo "servers pinned to CPU $SERVER_CPU, load to CPU $LOAD_CPU; ratios: the row's figure / the compared row's (p50/p99 above 1: slower; rate above 1: more)"
"$tmp/report" -dir "$OUT" -summary "$OUT/summary.json" | tee "$OUT/report.txt"

if [ "$BROWSER" != 0 ]; then
  if command -v "${FERRY_CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1; then
    step "browser: headless Chromium on CPU $LOAD_CPU"
    if ! timeout 1800 taskset -c "$LOAD_CPU" "$tmp/browser" -ferry "$FERRY" -sockjs "$SOCKJS" -socketio "$SOCKETIO" \
      -peers bench/peers -echoes "$ECHOES" -burst "$BURST" -size "$SIZE" -echo-max "$ECHO_MAX" \
      -out "$OUT/browser.json" | tee "$OUT/browser.txt"; then
      failed=$((failed + 1))
      echo "run.sh: the browser comparison failed" >&2
    fi
  else
    echo "run.sh: no Chromium (apt-get install -y chromium): browser comparison skipped" >&2
  fi
fi

echo "results in $OUT" >&2
[ "$failed" = 0 ] || die "$failed run(s) failed"
