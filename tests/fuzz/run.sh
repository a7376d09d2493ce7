#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, starting from the seed corpora in the tree.
#   tests/fuzz/run.sh FUZZ_BUILD_DIR [SECONDS] [WORK_DIR]
# New interesting inputs go to WORK_DIR (a temporary folder by default), never into the tree; a
# crash leaves its input as WORK_DIR/crash-* and fails the run. Add such an input to the seed
# corpus and a test of the bug it shows (see bench/fuzz/README.md).
set -euo pipefail
build=$1
seconds=${2:-12}
here=$(cd "$(dirname "$0")" && pwd)
work=${3:-$(mktemp -d /tmp/dq-fuzz.XXXXXX)}
status=0
for target in json_body query_params router token; do
    mkdir -p "$work/$target"
    echo "==> fuzz_$target for ${seconds}s"
    if ! "$build/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$work/$target-" "$work/$target" "$here/corpus/$target" \
        >"$work/$target.log" 2>&1; then
        status=1
        echo "fuzz_$target found a crash: $(ls "$work/$target-"* 2>/dev/null | head -1)"
        grep -E "ERROR|runtime error|SUMMARY|terminate|exception" "$work/$target.log" | head -20
    else
        grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$target.log" | tr '\n' ' '
        echo
    fi
done
[[ -n ${3:-} ]] || [[ $status -ne 0 ]] || rm -rf "$work"
exit $status
