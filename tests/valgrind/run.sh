#!/usr/bin/env bash
# run.sh: chat-broker and chat-gateway under valgrind through a short session.
#
#   tests/valgrind/run.sh [--build-dir DIR] [--no-build]
#
# Builds a plain debug build (no sanitizers: valgrind and ASan do not mix)
# into DIR (default: build-valgrind at the top of the tree), then runs
# tests/valgrind/session.py: a broker with SQLite history in a temporary
# directory and one gateway, each under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99
# a WebSocket client through hello, join, msg (and a retry), dm, typing,
# history, who, nick, leave, bad commands, a dropped connection and its
# resume, and clean closes; then SIGTERM to both. Fails on any valgrind error
# (invalid read or write, use of uninitialised memory, bad free...) or any
# definite or indirect leak, in either process, or if the session fails. The
# run takes about a minute, and is stopped after 170 s whatever happens.
#
# docs/security.md ("Valgrind") says how to read the reports.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-valgrind
do_build=1
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir)
        [ $# -ge 2 ] || { echo "run.sh: --build-dir needs a value" >&2; exit 2; }
        build=$2
        shift 2
        ;;
    --no-build)
        do_build=0
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown argument $1 (see --help)" >&2
        exit 2
        ;;
    esac
done
command -v valgrind >/dev/null || { echo "run.sh: valgrind is missing: deploy/deps.sh test" >&2; exit 1; }
build=$(mkdir -p "$build" && cd "$build" && pwd)

if [ $do_build = 1 ]; then
    echo "valgrind: building chat-broker and chat-gateway (debug) in $build"
    if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=OFF \
        -DCHAT_FUZZ=OFF -DCHAT_TESTS=OFF &&
        cmake --build "$build" -j"$(nproc)" --target chat-broker chat-gateway; } \
        >"$build/valgrind-build.log" 2>&1; then
        tail -n 40 "$build/valgrind-build.log" >&2
        echo "run.sh: the build failed (log: $build/valgrind-build.log)" >&2
        exit 1
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/chat-valgrind.XXXXXX")
rc=0
timeout --kill-after=10 170 /usr/bin/python3 "$root/tests/valgrind/session.py" "$build" "$work" || rc=$?
if [ $rc = 0 ]; then
    rm -rf "$work"
else
    [ $rc = 124 ] && echo "valgrind: FAILED: the run took over 170 s" >&2
    echo "valgrind: reports and logs kept in $work" >&2
fi
exit $rc
