#!/usr/bin/env bash
# compare.sh: the chat cluster against its peers, on this machine, in one go.
#
#   bench/compare.sh [--quick] [--only LIST] [--max-minutes N]
#
# Installs what it needs (apt: redis-server gnuplot-nox and the build
# packages; npm ci in bench/peers), builds into build-bench/ (BUILD_DIR to
# change), then runs each target through the same scenarios with chat-bench:
#
#   targets   ours            broker (--history on a temporary SQLite file) + two gateways
#             socketio        the socket.io 4 chat tutorial, one node process
#             socketio-redis  the same, two node processes + @socket.io/redis-adapter + redis-server
#             expressws       an express-ws broadcast server
#   idle      10,000 identified, joined, idle connections: VmRSS per connection
#   storm     10,000 connections connect + identify + join: completed per second
#   fan-out   1,000 connections in one room, rising send rates: the highest
#             delivered rate with delivery ratio 1.0 and p99 <= 50 ms
#   rooms     (ours only: the peers have no rooms) 10,000 connections in 1,000
#             rooms of 10, rising rates, the same figure
#   broker    commands/s one broker handles over ZeroMQ without gateways
#             (history-bench, history off; --durability full for comparison)
#
# and writes bench/results/DATE.md (tables, PASS/MISS against the targets),
# DATE.json (every chat-bench result) and DATE.png (p99 latency against
# delivered messages/s); DATE-quick.* for --quick: fewer connections,
# shorter steps (a few minutes). --only: comma-separated targets. Every
# process it starts is stopped at the end, on Ctrl-C and on failure. Only
# 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
only="ours,socketio,socketio-redis,expressws"
max_minutes=20
while [ $# -gt 0 ]; do
  case "$1" in
  --quick) quick=1 ;;
  --only) only=$2; shift ;;
  --only=*) only=${1#--only=} ;;
  --max-minutes) max_minutes=$2; shift ;;
  -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "compare: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# ---------------------------------------------------------------- settings
if [ $quick = 1 ]; then
  FAN_CONNS=300; FAN_TOTALS="20 50 100 200 400"
  ROOMS_CONNS=2000; ROOMS_ROOMS=200; ROOMS_RATES="5 10 20 40"
  IDLE_CONNS=2000; STORM_CONNS=2000; DURATION=2; WARMUP=0.5; BROKER_S=2
else
  FAN_CONNS=1000; FAN_TOTALS="25 50 100 200 300 450 600 800 1000"
  ROOMS_CONNS=10000; ROOMS_ROOMS=1000; ROOMS_RATES="2 5 10 20 30 45 60"
  IDLE_CONNS=10000; STORM_CONNS=10000; DURATION=4; WARMUP=1; BROKER_S=5
fi
FAN_SENDERS=10
P99_LIMIT_MS=50
IDLE_HOLD=6

build=${BUILD_DIR:-$root/build-bench}
bench="$build/chat-bench"
date=$(date -u +%Y-%m-%d)
[ $quick = 1 ] && date="$date-quick" # a quick run does not replace the day's full one
results="$root/bench/results"
t_start=$(date +%s)
log() { echo "compare: $*" >&2; }

# ---------------------------------------------------------------- cleanup
tmp=$(mktemp -d /tmp/chat-compare.XXXXXX)
groups=() # process groups we started (each service runs under setsid)
stop_group() {
  local g=$1
  kill -TERM -- "-$g" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 -- "-$g" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$g" 2>/dev/null || true
}
stop_all() {
  local g
  for g in "${groups[@]}"; do stop_group "$g"; done
  groups=()
}
bench_pid="" # the chat-bench running now, if any
cleanup() {
  trap - INT TERM EXIT
  [ -n "$bench_pid" ] && kill -TERM "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null
  stop_all
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

# Starts a command in a process group of its own (setsid: not a group leader
# here, so it does not fork and $! is the command, and the group); the pid
# goes to $last_pid. Not to be called in $(...): groups must be ours.
last_pid=""
start_group() { # logfile, command...
  local logf=$1
  shift
  setsid "$@" >"$logf" 2>&1 </dev/null &
  last_pid=$!
  groups+=("$last_pid")
}
rooms_for() { # connections -> rooms of 10 (chat), one broadcast (peers)
  if [ "$proto" = chat ]; then echo $(($1 / 10)); else echo 1; fi
}

over_time() { [ $(($(date +%s) - t_start)) -ge $((max_minutes * 60)) ]; }

# ---------------------------------------------------------------- install and build
need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v gnuplot >/dev/null || need_apt+=(gnuplot-nox)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi
deploy/deps.sh build
if [ ! -d bench/peers/node_modules ] || [ bench/peers/package-lock.json -nt bench/peers/node_modules ]; then
  log "npm ci in bench/peers"
  (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error >&2 && touch node_modules)
fi
log "building into $build"
deploy/build.sh "$build"

# Ten thousand connections on each side, and more: chat-bench raises its own
# limit; the servers inherit this one.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_tcp() { # port
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
rss_kb() { # pid -> VmRSS in kB (0 when gone)
  awk '/^VmRSS:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

mkdir -p "$tmp/res" "$results"

# ---------------------------------------------------------------- the targets
# Each start_* sets: urls (for chat-bench), proto, and pidfile lines "role pid".
proto=chat
urls=""
start_ours() {
  local bport gport_a gport_b
  bport=$(free_port); gport_a=$(free_port); gport_b=$(free_port)
  local ep="tcp://127.0.0.1:$bport"
  rm -f "$tmp/chat.db"*
  local b a c
  start_group "$tmp/broker.log" "$build/chat-broker" --listen "$ep" --history "$tmp/chat.db" \
    --log-level warn --nick-rate 0
  b=$last_pid
  start_group "$tmp/gw-a.log" "$build/chat-gateway" --bind 127.0.0.1 --port "$gport_a" \
    --broker "$ep" --id bench-a --web "$root/gateway/web" --log-level warn --rate 0
  a=$last_pid
  start_group "$tmp/gw-b.log" "$build/chat-gateway" --bind 127.0.0.1 --port "$gport_b" \
    --broker "$ep" --id bench-b --web "$root/gateway/web" --log-level warn --rate 0
  c=$last_pid
  for p in $gport_a $gport_b; do
    for _ in $(seq 1 150); do
      curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 || { log "gateway on $p not ready"; return 1; }
  done
  printf 'broker %s\ngateway %s\ngateway %s\n' "$b" "$a" "$c" >"$tmp/pids"
  proto=chat
  urls="ws://127.0.0.1:$gport_a/ws,ws://127.0.0.1:$gport_b/ws"
}
start_peer() { # name
  local p1 p2
  p1=$(free_port); p2=$(free_port)
  rm -f "$tmp/pids"
  case "$1" in
  socketio) start_group "$tmp/$1.log" env PEERS_PIDFILE="$tmp/pids" bench/peers/start.sh socketio "$p1"
    urls="ws://127.0.0.1:$p1" proto=socketio ;;
  socketio-redis) start_group "$tmp/$1.log" env PEERS_PIDFILE="$tmp/pids" REDIS_PORT="$(free_port)" \
    bench/peers/start.sh socketio-redis "$p1" "$p2"
    urls="ws://127.0.0.1:$p1,ws://127.0.0.1:$p2" proto=socketio ;;
  expressws) start_group "$tmp/$1.log" env PEERS_PIDFILE="$tmp/pids" bench/peers/start.sh expressws "$p1"
    urls="ws://127.0.0.1:$p1/" proto=plain ;;
  esac
  for _ in $(seq 1 200); do [ -s "$tmp/pids" ] && return 0; sleep 0.1; done
  log "$1 did not start:"; tail -5 "$tmp/$1.log" >&2
  return 1
}

# ---------------------------------------------------------------- scenarios
# chat-bench runs in the background and is waited for: a signal to this
# script then runs its trap at once (bash puts off traps while a foreground
# command runs). chat-bench bounds its own run time.
cb() { # result-name, chat-bench args...
  local name=$1
  shift
  local out="$tmp/res/$name.json"
  "$bench" --proto "$proto" --url "$urls" --json "$@" >"$out" 2>"$tmp/res/$name.err" &
  bench_pid=$!
  wait "$bench_pid" || true
  bench_pid=""
  [ -s "$out" ] || echo '{"error":"no output"}' >"$out"
}
# "pass deliveries/s p99" of a result: pass when every connection was ready,
# none was lost, the ratio is exactly 1 and the p99 is within the limit.
verdict() {
  python3 - "$1" "$P99_LIMIT_MS" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    m, lat = r["messages"], r["latency_ms"]["delivery"]
    ok = (r["complete"] and m["delivery_ratio"] == 1.0 and lat["p99"] <= float(sys.argv[2]))
    print("pass" if ok else "fail", round(m["deliveries_per_s"]), round(lat["p99"], 2))
except Exception as e:
    print("fail 0 0")
PY
}

scenario_idle() { # target
  local before="" after="" role pid
  while read -r role pid; do before="$before $role:$(rss_kb "$pid")"; done <"$tmp/pids"
  rm -f "$tmp/ready"
  "$bench" --proto "$proto" --url "$urls" --json --idle "$IDLE_HOLD" --conns "$IDLE_CONNS" \
    --rooms "$(rooms_for "$IDLE_CONNS")" --concurrency 1000 --ready-file "$tmp/ready" \
    >"$tmp/res/idle-$1.json" 2>"$tmp/res/idle-$1.err" &
  bench_pid=$!
  for _ in $(seq 1 600); do [ -s "$tmp/ready" ] && break; kill -0 $bench_pid 2>/dev/null || break; sleep 0.1; done
  sleep 2 # the last online pushes and presence events go out
  while read -r role pid; do after="$after $role:$(rss_kb "$pid")"; done <"$tmp/pids"
  wait $bench_pid || true
  bench_pid=""
  echo "{\"conns\": $IDLE_CONNS, \"before\": \"${before# }\", \"after\": \"${after# }\"}" >"$tmp/res/idle-$1.mem"
  log "$1 idle: rss before [$before] after [$after]"
}

scenario_storm() {
  cb "storm-$1" --storm --conns "$STORM_CONNS" --rooms "$(rooms_for "$STORM_CONNS")" \
    --concurrency 1000 --connect-timeout 60
  log "$1 storm: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(round(r["connect"]["per_s"]), "connects/s,", r["connect"]["ready"], "ready")' "$tmp/res/storm-$1.json" 2>/dev/null || echo failed)"
}

# A ladder stops after two failing steps in a row (one may be a hiccup of
# this shared machine).
scenario_fanout() {
  local total rate v fails=0
  for total in $FAN_TOTALS; do
    over_time && { log "time is up: fan-out ladder cut"; break; }
    rate=$(python3 -c "print($total / $FAN_SENDERS)")
    cb "fanout-$1-$total" --conns "$FAN_CONNS" --rooms 1 --senders "$FAN_SENDERS" --rate "$rate" \
      --duration "$DURATION" --warmup "$WARMUP" --drain-timeout 5
    v=$(verdict "$tmp/res/fanout-$1-$total.json")
    log "$1 fan-out at $total msg/s: $v"
    case "$v" in fail*) fails=$((fails + 1)) ;; *) fails=0 ;; esac
    [ $fails -lt 2 ] || break
  done
}

scenario_rooms() {
  local rate v fails=0
  for rate in $ROOMS_RATES; do
    over_time && { log "time is up: rooms ladder cut"; break; }
    cb "rooms-$1-$rate" --conns "$ROOMS_CONNS" --rooms "$ROOMS_ROOMS" --senders "$ROOMS_ROOMS" \
      --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" --drain-timeout 5 --concurrency 1000
    v=$(verdict "$tmp/res/rooms-$1-$rate.json")
    log "$1 rooms at $rate msg/s per room: $v"
    case "$v" in fail*) fails=$((fails + 1)) ;; *) fails=0 ;; esac
    [ $fails -lt 2 ] || break
  done
}

for target in ${only//,/ }; do
  if over_time; then log "time is up: $target skipped"; continue; fi
  log "=== $target"
  case "$target" in
  ours) start_ours ;;
  socketio | socketio-redis | expressws) start_peer "$target" ;;
  *) log "unknown target $target"; continue ;;
  esac
  scenario_idle "$target"
  scenario_storm "$target"
  scenario_fanout "$target"
  [ "$target" = ours ] && scenario_rooms "$target"
  stop_all
  sleep 1
done

if [[ ",$only," == *",ours,"* ]] && ! over_time; then
  log "=== broker alone (history-bench)"
  "$build/bench/history-bench" --broker "$build/chat-broker" --modes off,full --phases throughput \
    --transport tcp --duration "$BROKER_S" --warmup 1 --json >"$tmp/res/broker.json" 2>"$tmp/res/broker.err" &
  bench_pid=$!
  wait "$bench_pid" || true
  bench_pid=""
fi

# ---------------------------------------------------------------- the report
machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)"
python3 bench/compare_report.py --res "$tmp/res" --out "$results/$date" --quick "$quick" \
  --machine "$machine" --p99-limit "$P99_LIMIT_MS" --fan-conns "$FAN_CONNS" \
  --rooms-conns "$ROOMS_CONNS" --rooms-rooms "$ROOMS_ROOMS" --idle-conns "$IDLE_CONNS" \
  --storm-conns "$STORM_CONNS" --duration "$DURATION" \
  --elapsed "$(($(date +%s) - t_start))"
log "wrote $results/$date.md ($(($(date +%s) - t_start)) s)"
