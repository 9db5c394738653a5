#!/usr/bin/env bash
# tests/compose/run.sh: the Docker path end to end. Builds the images,
# starts deploy/docker-compose.yml as a project of its own on a free port of
# 127.0.0.1, runs tests/compose/check.py against it through HAProxy (ready,
# spread over gateways, chat, a gateway killed, the broker restarted, a
# fourth gateway), then `down -v` and checks that nothing of the project is
# left: no container, network or volume.
#
#   tests/compose/run.sh            (root, or a user allowed to use Docker)
#
# Installs what is missing (deploy/deps.sh docker), starts dockerd if no
# engine answers (and stops it at the end), builds the base image from
# Debian's packages if needed (deploy/base-image.sh; skipped when
# CHAT_BASE_IMAGE names one, e.g. debian:bookworm-slim where a registry is
# reachable). The images are tagged $CHAT_TEST_IMAGE (chat-compose-test:latest)
# and $CHAT_TEST_IMAGE-haproxy and kept, so that the next run builds from
# cache. Logs of the build and of the containers: $CHAT_COMPOSE_LOGS (a new
# folder under /tmp unless given).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
compose_file=$root/deploy/docker-compose.yml
py=/usr/bin/python3
logs=${CHAT_COMPOSE_LOGS:-$(mktemp -d /tmp/chat-compose.XXXXXX)}
mkdir -p "$logs"

say() { echo "compose-test: $*" >&2; }
# The whole run stays within CHAT_COMPOSE_BUDGET seconds (ctest's TIMEOUT is
# 1200 and kills without cleanup): each long step gets at most its own limit
# and at most what is left after keeping 200 s for the cleanup.
budget_end=$((SECONDS + ${CHAT_COMPOSE_BUDGET:-1100}))
limit() { # seconds: the step's own limit, or less
  local left=$((budget_end - 200 - SECONDS))
  [ "$left" -lt 10 ] && left=10
  [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}
passed=0
failed=0
pass() {
  passed=$((passed + 1))
  echo "ok   $*"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
  exit 1
}

"$root/deploy/deps.sh" docker

project=chattest$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
label=com.docker.compose.project=$project
dockerd_pid=""
up=""

leftovers() {
  {
    docker ps -aq --filter "label=$label"
    docker network ls -q --filter "label=$label"
    docker volume ls -q --filter "label=$label"
  } 2>/dev/null | tr '\n' ' '
}

save_logs() {
  timeout 60 "${dc[@]}" logs --no-color --timestamps >"$logs/containers.log" 2>&1 || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$up" ]; then
    save_logs
    if [ "$rc" -ne 0 ]; then
      say "container logs: $logs/containers.log; its last lines:"
      tail -40 "$logs/containers.log" >&2
    fi
    timeout 120 "${dc[@]}" down -v --remove-orphans --timeout 5 >>"$logs/down.log" 2>&1 ||
      say "down -v failed (see $logs/down.log)"
  fi
  # Whatever of this project is still there (a failed down) goes too.
  if [ -n "$(leftovers)" ]; then
    docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null 2>&1 || true
    docker volume ls -q --filter "label=$label" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    say "stopping the dockerd this run started"
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 30); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 1
    done
  fi
  echo "compose: $passed passed, $failed failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the engine
if ! timeout 20 docker info >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || fail "engine: no Docker engine answers, and only root can start one"
  say "starting dockerd (log: $logs/dockerd.log)"
  dockerd >"$logs/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || fail "engine: dockerd exited: $(tail -5 "$logs/dockerd.log")"
    sleep 1
  done
  timeout 5 docker info >/dev/null 2>&1 || fail "engine: dockerd not answering after 60 s"
fi
if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  fail "engine: neither docker-compose nor the docker compose plugin"
fi
dc=("${compose[@]}" -p "$project" -f "$compose_file")
port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CHAT_PUBLISH=127.0.0.1:$port
export CHAT_IMAGE=${CHAT_TEST_IMAGE:-chat-compose-test:latest}

# --- images
if [ -z "${CHAT_BASE_IMAGE:-}" ]; then
  CHAT_BASE_IMAGE=$(timeout "$(limit 900)" "$root/deploy/base-image.sh" 2>"$logs/base-image.log") ||
    fail "base image: deploy/base-image.sh failed: $(tail -5 "$logs/base-image.log")"
fi
export CHAT_BASE_IMAGE
say "project $project, HAProxy on $CHAT_PUBLISH, base $CHAT_BASE_IMAGE, image $CHAT_IMAGE, logs $logs"
timeout "$(limit 900)" "${dc[@]}" build >"$logs/build.log" 2>&1 ||
  fail "build: $(tail -20 "$logs/build.log")"
pass "build: $CHAT_IMAGE and $CHAT_IMAGE-haproxy from $CHAT_BASE_IMAGE"

# --- the cluster
up=1
timeout "$(limit 180)" "${dc[@]}" up -d >"$logs/up.log" 2>&1 || fail "up: $(tail -20 "$logs/up.log")"
pass "up -d: $(docker ps -q --filter "label=$label" | wc -l) containers"

set +e
timeout "$(limit 600)" "$py" "$here/check.py" --url "$CHAT_PUBLISH" --project "$project" \
  --compose "$(printf '%q ' "${dc[@]}")" | tee "$logs/check.log"
rc=${PIPESTATUS[0]}
set -e
passed=$((passed + $(grep -c '^ok ' "$logs/check.log" || true)))
[ "$rc" -eq 0 ] || {
  failed=$((failed + 1))
  exit 1
}

# --- down -v leaves nothing
save_logs
timeout 120 "${dc[@]}" down -v --timeout 10 >"$logs/down.log" 2>&1 || fail "down: $(tail -20 "$logs/down.log")"
up=""
left=$(leftovers)
[ -z "$left" ] || fail "down -v: still there: $left"
pass "down -v: no container, network or volume of $project left"
