#!/usr/bin/env bash
# A long fuzz run of every libFuzzer target (JSON body reader, list query parameters, router,
# token verifier), by hand; ./scripts/test runs the same targets for 11 s each.
#   bench/fuzz/run.sh [SECONDS_PER_TARGET] [BUILD_DIR]     (default: 1800 s, build)
# Needs clang (Debian: clang, libclang-rt-14-dev); the main build builds the targets into
# BUILD_DIR/fuzz when clang is installed. New inputs are kept in bench/fuzz/work/<target>; a
# crash leaves bench/fuzz/work/<target>-crash-* and the run fails. To keep what it found: copy the
# crash input into tests/fuzz/corpus/<target>/, fix the bug, and add a test of it beside the code.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-1800}
build=${2:-$root/build}
if [[ ! -x $build/fuzz/fuzz_token ]]; then
    cmake -S "$root/tests/fuzz" -B "$build/fuzz" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
    cmake --build "$build/fuzz" -j2 >/dev/null
fi
mkdir -p "$root/bench/fuzz/work"
exec bash "$root/tests/fuzz/run.sh" "$build/fuzz" "$seconds" "$root/bench/fuzz/work"
