#!/bin/sh
# bench/history.sh: builds chat-broker and history-bench, then runs the
# benchmark with its defaults (history off, --durability normal, --durability
# full; 5 s at full speed and 5 s at 5,000 msg/s each). Extra arguments go to
# history-bench (for example --json, --dir /some/disk, --duration 10).
# BUILD_DIR picks another build tree (default: build/ at the top).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" >&2
cmake --build "$build" --target history-bench chat-broker -j "$(nproc 2>/dev/null || echo 2)" >&2
exec "$build/bench/history-bench" --broker "$build/chat-broker" "$@"
