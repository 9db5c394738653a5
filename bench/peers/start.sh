#!/usr/bin/env bash
# start.sh: runs one of chat-bench's peer servers on 127.0.0.1 until stopped.
#
#   bench/peers/start.sh socketio PORT               the socket.io 4 chat tutorial
#   bench/peers/start.sh socketio-redis PORT PORT2   two of them behind the Redis adapter,
#                                                    with a redis-server of their own
#   bench/peers/start.sh expressws PORT              an express-ws broadcast server
#
# It installs the npm packages if they are missing (npm ci from the committed
# package-lock.json), starts the processes, waits until every port accepts
# connections, then prints "READY" on stderr and waits. SIGINT, SIGTERM or
# the end of any of its processes stops them all.
#
# Environment: REDIS_PORT (default 6390) for socketio-redis; PEERS_PIDFILE: a
# file that gets one "ROLE PID" line per process once they are up (for a
# script that reads their memory from /proc).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:-}
shift || true

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ -n "$name" ] || usage

if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules" ]; then
  echo "peers: npm ci" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$here/node_modules"
fi

pids=()
roles=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

spawn() { # role, command...
  local role=$1
  shift
  "$@" &
  pids+=($!)
  roles+=("$role")
}

wait_port() { # port
  for _ in $(seq 1 100); do
    for p in "${pids[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "peers: a process exited during start" >&2; exit 1; }
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "peers: nothing listens on port $1 after 10 s" >&2
  exit 1
}

ports=()
case "$name" in
socketio)
  [ $# -eq 1 ] || usage
  spawn node node "$here/socketio.js" "$1"
  ports=("$1")
  ;;
socketio-redis)
  [ $# -eq 2 ] || usage
  command -v redis-server >/dev/null || {
    echo "peers: redis-server is missing (apt-get install redis-server)" >&2
    exit 1
  }
  rport=${REDIS_PORT:-6390}
  spawn redis redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --loglevel warning
  wait_port "$rport"
  spawn node env REDIS_URL="redis://127.0.0.1:$rport" node "$here/socketio.js" "$1"
  spawn node env REDIS_URL="redis://127.0.0.1:$rport" node "$here/socketio.js" "$2"
  ports=("$1" "$2")
  ;;
expressws)
  [ $# -eq 1 ] || usage
  spawn node node "$here/expressws.js" "$1"
  ports=("$1")
  ;;
*)
  usage
  ;;
esac

for p in "${ports[@]}"; do wait_port "$p"; done
if [ -n "${PEERS_PIDFILE:-}" ]; then
  : >"$PEERS_PIDFILE.tmp"
  for i in "${!pids[@]}"; do echo "${roles[$i]} ${pids[$i]}" >>"$PEERS_PIDFILE.tmp"; done
  mv "$PEERS_PIDFILE.tmp" "$PEERS_PIDFILE"
fi
echo "READY" >&2
# Any process ending ends them all.
wait -n "${pids[@]}" || true
echo "peers: a $name process exited" >&2
exit 1
