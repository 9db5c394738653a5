#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets of tests/fuzz and runs each for a while.
#
#   tests/fuzz/run.sh [--seconds N] [--build-dir DIR] [--no-build] [target...]
#
# Targets: fuzz_codec fuzz_envelope fuzz_envelope_history fuzz_render
# (default: all, one after the other). Each runs N seconds (default 30) with
# leak detection on a scratch corpus: new inputs go to a temporary directory,
# the committed seeds in tests/fuzz/corpus/<target>/ are only read
# (fuzz_envelope_history reads fuzz_envelope's). A crash, a leak, a sanitizer
# report, an input slower than 10 s or a process over 2 GB fails the run; the
# input that did it is kept in DIR/fuzz-artifacts/<target>/ and the command
# that replays it is printed. Full logs: DIR/fuzz-logs/<target>.log.
#
#   --seconds N      how long each target runs (default 30)
#   --build-dir DIR  the build directory (default: build-fuzz at the top of the tree)
#   --no-build       use the targets already built in DIR (the ctest "fuzz" does)
#
# docs/security.md ("Fuzzing") says how to run longer and replay a crash.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/fuzz
all_targets=(fuzz_codec fuzz_envelope fuzz_envelope_history fuzz_render)
seconds=30
build=$root/build-fuzz
do_build=1
targets=()

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case $1 in
    --seconds)
        [ $# -ge 2 ] || { echo "run.sh: --seconds needs a value" >&2; exit 2; }
        seconds=$2
        shift 2
        ;;
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
        usage
        exit 0
        ;;
    -*)
        echo "run.sh: unknown option $1 (see --help)" >&2
        exit 2
        ;;
    *)
        targets+=("$1")
        shift
        ;;
    esac
done
case $seconds in
'' | *[!0-9]* | 0)
    echo "run.sh: --seconds must be a whole number of seconds, at least 1 (got '$seconds')" >&2
    exit 2
    ;;
esac
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    case " ${all_targets[*]} " in
    *" $t "*) ;;
    *)
        echo "run.sh: unknown target '$t' (known: ${all_targets[*]})" >&2
        exit 2
        ;;
    esac
done
build=$(mkdir -p "$build" && cd "$build" && pwd)

if [ $do_build = 1 ]; then
    command -v clang >/dev/null || { echo "run.sh: clang is missing: deploy/deps.sh fuzz" >&2; exit 1; }
    echo "fuzz: building the targets in $build"
    if ! { cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCHAT_FUZZ=ON -DCHAT_TESTS=OFF &&
        cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"; } >"$build/fuzz-build.log" 2>&1; then
        tail -n 40 "$build/fuzz-build.log" >&2
        echo "run.sh: the build failed (log: $build/fuzz-build.log)" >&2
        exit 1
    fi
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/chat-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/fuzz-logs"

# Per-target options: the seeds, the longest input, a dictionary if any.
corpus_of() {
    case $1 in
    fuzz_envelope_history) echo "$here/corpus/fuzz_envelope" ;; # the same input format
    *) echo "$here/corpus/$1" ;;
    esac
}
max_len() {
    case $1 in
    fuzz_render) echo 4096 ;;
    *) echo 8192 ;; # a frame past the 4,000-character text limit; a few dozen envelopes
    esac
}

# The last value of "stat::NAME: V" in a log.
stat() {
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1 || true
}

failed=0
summary=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    [ -x "$bin" ] || { echo "run.sh: $bin is not built (run without --no-build)" >&2; exit 1; }
    log=$build/fuzz-logs/$t.log
    art=$build/fuzz-artifacts/$t
    mkdir -p "$scratch/$t" "$art"
    touch "$scratch/$t.start"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1
        -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$art/")
    [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
    echo "fuzz: $t for ${seconds} s"
    rc=0
    # A hard stop well past the fuzzer's own limit, in case it hangs.
    timeout --kill-after=10 $((seconds * 2 + 60)) "$bin" "${args[@]}" "$scratch/$t" "$(corpus_of "$t")" \
        >"$log" 2>&1 || rc=$?
    runs=$(stat number_of_executed_units "$log")
    speed=$(stat average_exec_per_sec "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
    corp=$(ls "$scratch/$t" | wc -l)
    if [ $rc = 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
        result=ok
    else
        result="FAILED (exit $rc)"
        failed=1
        echo "---- $t: the end of $log" >&2
        tail -n 60 "$log" >&2
        find "$art" -type f -newer "$scratch/$t.start" | while read -r a; do
            echo "---- $t: replay with: $bin $a" >&2
        done
    fi
    summary+=("$(printf '%-22s %-18s runs=%-9s exec/s=%-7s cov=%-5s new_inputs=%s' "$t" "$result" \
        "${runs:-?}" "${speed:-?}" "${cov:-?}" "$corp")")
done

echo "fuzz: summary (${seconds} s per target; logs in $build/fuzz-logs)"
printf '  %s\n' "${summary[@]}"
exit $failed
