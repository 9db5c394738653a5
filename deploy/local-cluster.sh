#!/usr/bin/env bash
# local-cluster.sh: one broker and two gateways on this machine.
# Installs what is missing, builds, starts everything, prints the URL and
# stops it all on Ctrl-C. Ports: gateways on 8080 and 8081 (CHAT_PORT_A,
# CHAT_PORT_B), broker on tcp://127.0.0.1:5555 (CHAT_BROKER_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

deploy/deps.sh build
deploy/build.sh build

port_a=${CHAT_PORT_A:-8080}
port_b=${CHAT_PORT_B:-8081}
broker_port=${CHAT_BROKER_PORT:-5555}
endpoint="tcp://127.0.0.1:$broker_port"
mkdir -p data

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "stopped."
}
trap stop INT TERM EXIT

build/chat-broker --listen "$endpoint" &
pids+=($!)
for spec in "a:$port_a" "b:$port_b"; do
  build/chat-gateway --port "${spec#*:}" --broker "$endpoint" --id "gw-${spec%%:*}" \
    --web "$root/gateway/web" &
  pids+=($!)
done

# Wait until both gateways reach the broker.
for port in "$port_a" "$port_b"; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

cat <<MSG

  Chat is running:
    http://localhost:$port_a/   (gateway gw-a)
    http://localhost:$port_b/   (gateway gw-b)
  Open one in each browser tab to chat across gateways. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
