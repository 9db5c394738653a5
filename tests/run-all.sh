#!/usr/bin/env bash
# run-all.sh: builds and runs every test suite; exits non-zero on any failure.
#   1. release build: unit tests (cmocka) and end-to-end tests (pytest, real
#      broker and gateways as processes)
#      and browser tests (playwright-core driving Debian's Chromium against a
#      real cluster; screenshots in build/browser-artifacts)
#      plus the chaos test (20 s of killed and restarted processes), the
#      Kubernetes manifest checks and the docker-compose cluster test
#      (installs docker.io, starts dockerd, builds the images)
#   2. ASan+UBSan build: the same suites under the sanitizers (but compose)
#   3. libFuzzer targets for CHAT_FUZZ_SECONDS each (20), and a valgrind session
# Set CHAT_SKIP_SANITIZE=1 to skip step 2 while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/deps.sh test
command -v curl >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }
echo "=== browser test tooling: npm ci (tests/browser)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

status=0
run_suite() { # name, build dir, cmake args...
  local name=$1 dir=$2
  shift 2
  echo "=== $name: build ($dir)"
  deploy/build.sh "$dir" "$@"
  echo "=== $name: test"
  if ! (cd "$dir" && ctest --output-on-failure --timeout 900 ${CTEST_EXTRA:-}); then
    echo "=== $name: FAILED"
    status=1
  fi
}

run_suite release build
if [ "${CHAT_SKIP_SANITIZE:-0}" != 1 ]; then
  # The compose test checks the Docker images, not this build: once is enough.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    CTEST_EXTRA="-LE compose" run_suite sanitizers build-asan -DCHAT_SANITIZE=ON
fi

# Fuzzing (clang, libFuzzer + ASan/UBSan): every target for a bounded time.
echo "=== fuzz: tests/fuzz/run.sh --seconds ${CHAT_FUZZ_SECONDS:-20}"
if ! tests/fuzz/run.sh --seconds "${CHAT_FUZZ_SECONDS:-20}"; then
  echo "=== fuzz: FAILED"
  status=1
fi
# A broker and a gateway under valgrind memcheck through a short session.
echo "=== valgrind: tests/valgrind/run.sh"
if ! tests/valgrind/run.sh; then
  echo "=== valgrind: FAILED"
  status=1
fi

[ $status -eq 0 ] && echo "=== all suites passed" || echo "=== some suites FAILED"
exit $status
