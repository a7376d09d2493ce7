#!/usr/bin/env bash
# Event channel of a real server (build tree, SQLite, all plugins): POST /api/task -> `new_task` at
# 100 connected nodes (delay after the POST returned), then 10,000 idle node WebSockets and the
# server's RSS. Prints one `RESULT<TAB>name<TAB>value<TAB>unit<TAB>target<TAB>ok|MISS` line per figure
# (and `#` lines with details); asserts nothing.
#   bench/events/run.sh [BUILD_DIR]     (default: build)
# Environment: DQ_BENCH_IDLE (default 10000) idle sockets, DQ_BENCH_NODES (100), DQ_BENCH_TASKS (50);
# DQ_BENCH_DEBUG=1 prints one line per task.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
vserver=$build/cli/vserver
idle=${DQ_BENCH_IDLE:-10000}
nodes=${DQ_BENCH_NODES:-100}
tasks=${DQ_BENCH_TASKS:-50}
# One file descriptor per connection, on both sides: the server and this client inherit the limit.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle + 200)) ]; then
    echo "bench/events: the file limit ($(ulimit -n)) is below $((idle + 200)); raise it (ulimit -Hn)" >&2
    exit 1
fi
work=$(mktemp -d /tmp/dq-bench-events.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/bench.yaml" <<YAML
application:
  description: events benchmark
  type: test
  port: $port
  uri: sqlite:///bench.sqlite
  jwt_secret_key: bench
  bcrypt_rounds: 4
  password_hashing: {threads: 2}
  logging: {level: ${DQ_BENCH_LOG_LEVEL:-WARNING}, use_console: false, file: ${DQ_BENCH_LOG:-bench.log}}
YAML
ctx=(--config "$work/bench.yaml" --data-dir "$work")
trap '"$vserver" stop "${ctx[@]}" >/dev/null 2>&1; rm -rf "$work"' EXIT
bench=(/usr/bin/python3 "$root/bench/events/bench_events.py" --nodes "$nodes" --idle "$idle" --tasks "$tasks")
"${bench[@]}" --import-file "$work/import.yaml"
started=$(date +%s)
"$vserver" import "$work/import.yaml" "${ctx[@]}" >/dev/null
echo "# vserver import of $((idle + nodes + 1)) nodes took $(($(date +%s) - started)) s"
"$vserver" start "${ctx[@]}" >/dev/null
"${bench[@]}" --port "$port" --pid "$(cat "$work/bench.pid")"
