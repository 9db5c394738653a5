#!/usr/bin/env bash
# local-cluster.sh: one broker (SQLite history in ./data/chat.db) and two
# gateways on this machine. Installs what is missing, builds, starts
# everything, prints the URLs and stops it all on Ctrl-C.
#
# Environment (all optional):
#   CHAT_PORT_A, CHAT_PORT_B   gateway ports (8080, 8081)
#   CHAT_BROKER_PORT           broker port (5555)
#   CHAT_METRICS_PORT          broker's /metrics, /healthz, /readyz (9090)
#   CHAT_BIND                  address the gateways listen on (127.0.0.1;
#                              0.0.0.0 to reach them from other machines)
#   CHAT_DATA                  folder of the history database (./data)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

deploy/deps.sh build
echo "building..."
deploy/build.sh build

port_a=${CHAT_PORT_A:-8080}
port_b=${CHAT_PORT_B:-8081}
broker_port=${CHAT_BROKER_PORT:-5555}
metrics_port=${CHAT_METRICS_PORT:-9090}
bind=${CHAT_BIND:-127.0.0.1}
data=${CHAT_DATA:-$root/data}
endpoint="tcp://127.0.0.1:$broker_port"
mkdir -p "$data"

# Flags and environment of the calling shell must not leak into the children.
unset CHAT_LISTEN CHAT_BROKER CHAT_PORT CHAT_ID CHAT_WEB CHAT_HISTORY CHAT_HTTP_PORT CHAT_HTTP_BIND

declare -A names
pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "stopped."
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() { # name, command...
  local name=$1
  shift
  "$@" &
  pids+=($!)
  names[$!]=$name
}

start broker build/chat-broker --listen "$endpoint" --history "$data/chat.db" \
  --http-port "$metrics_port" --http-bind 127.0.0.1
start gw-a build/chat-gateway --bind "$bind" --port "$port_a" --broker "$endpoint" --id gw-a \
  --web "$root/gateway/web"
start gw-b build/chat-gateway --bind "$bind" --port "$port_b" --broker "$endpoint" --id gw-b \
  --web "$root/gateway/web"

# Every process must be up and both gateways must reach the broker.
for port in "$port_a" "$port_b"; do
  ready=0
  for _ in $(seq 1 100); do
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "error: ${names[$pid]} exited during start (see its log lines above)" >&2
        exit 1
      fi
    done
    if curl -fsS "http://$bind:$port/readyz" >/dev/null 2>&1; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if [ $ready = 0 ]; then
    echo "error: the gateway on port $port did not become ready (see the log lines above)" >&2
    exit 1
  fi
done

host=$bind
[ "$bind" = 127.0.0.1 ] || [ "$bind" = 0.0.0.0 ] && host=localhost
cat <<MSG

  Chat is running:
    http://$host:$port_a/   (gateway gw-a)
    http://$host:$port_b/   (gateway gw-b)
  History: $data/chat.db
  Metrics: http://127.0.0.1:$port_a/metrics, http://127.0.0.1:$port_b/metrics (gateways),
           http://127.0.0.1:$metrics_port/metrics (broker)
  Open one in each browser tab to chat across gateways. Ctrl-C stops everything.

MSG

# Keep running while the broker lives; a gateway that dies is reported and the
# other one keeps serving.
while :; do
  if wait -n "${pids[@]}"; then code=0; else code=$?; fi
  alive=()
  broker_dead=0
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      alive+=("$pid")
    else
      echo "note: ${names[$pid]} exited (status $code)" >&2
      [ "${names[$pid]}" = broker ] && broker_dead=1
    fi
  done
  pids=("${alive[@]}")
  if [ $broker_dead = 1 ] || [ ${#pids[@]} -eq 0 ]; then exit 1; fi
done
