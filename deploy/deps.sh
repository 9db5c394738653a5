#!/usr/bin/env bash
# deps.sh: installs the Debian packages the project needs, only those missing.
#   deploy/deps.sh build     libraries and tools to build and run
#   deploy/deps.sh test      plus what the test suites need (valgrind: tests/valgrind)
#   deploy/deps.sh fuzz      build's plus clang, its libFuzzer and llvm-symbolizer (tests/fuzz)
#   deploy/deps.sh docker    Docker, docker-compose and mmdebstrap (the images,
#                            deploy/docker-compose.yml and tests/compose/run.sh)
# Sourced or run; needs root (or sudo) only when something is missing.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-ev libev-dev libzmq3-dev libczmq-dev
  libprotobuf-c-dev protobuf-c-compiler libjansson-dev libsqlite3-dev libssl-dev uthash-dev
  libmicrohttpd-dev
  sqlite3 curl)
test_pkgs=(libcmocka-dev python3 python3-pytest python3-websockets openssl python3-yaml yamllint clang chromium
  fonts-dejavu-core fonts-liberation valgrind)
fuzz_pkgs=(clang libclang-rt-14-dev llvm)

# The images build inside Docker: the host needs only the engine, compose v1,
# mmdebstrap for deploy/base-image.sh, and python3-websockets for the test.
docker_pkgs=(docker.io docker-compose mmdebstrap python3 python3-websockets curl)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
fuzz) want=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
test)
  want=("${build_pkgs[@]}" "${test_pkgs[@]}")
  # Node.js for the browser tests: Debian's unless one is installed already.
  command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
  ;;
docker) want=("${docker_pkgs[@]}") ;;
*)
  echo "usage: deploy/deps.sh [build|test|fuzz|docker]" >&2
  exit 2
  ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
