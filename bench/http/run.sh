#!/usr/bin/env bash
# HTTP throughput of a real server (build tree, SQLite, all plugins, the example import):
# GET /api/version, authenticated GET /api/organization and /api/user, logins per second, and the
# latency of /api/version while logins saturate bcrypt. Prints wrk's numbers; asserts nothing.
#   bench/http/run.sh [BUILD_DIR]     (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
vserver=$build/cli/vserver
work=$(mktemp -d /tmp/dq-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/bench.yaml" <<YAML
application:
  description: benchmark
  port: $port
  uri: sqlite:///bench.sqlite
  jwt_secret_key: bench
  logging: {level: WARNING, use_console: false}
YAML
ctx=(--config "$work/bench.yaml" --data-dir "$work")
trap '"$vserver" stop "${ctx[@]}" >/dev/null 2>&1; rm -rf "$work"' EXIT
"$vserver" import "$root/config/import-example.yaml" "${ctx[@]}" >/dev/null
"$vserver" start "${ctx[@]}" >/dev/null
url=http://127.0.0.1:$port/api
token=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"username":"root","password":"root"}' \
    "$url/token/user" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
pid=$(cat "$work/bench.pid")

run() { echo "== $1"; shift; wrk "$@" | grep -E "Latency|Requests/sec|requests in|Non-2xx"; }
run "GET /api/version" -t2 -c16 -d10s "$url/version"
run "GET /api/organization (authenticated)" -t2 -c16 -d10s -H "Authorization: Bearer $token" "$url/organization"
run "GET /api/user (authenticated)" -t2 -c16 -d10s -H "Authorization: Bearer $token" "$url/user"
run "POST /api/token/user (bcrypt cost 12)" -t2 -c4 -d10s -s "$root/bench/http/login.lua" "$url/token/user" &
sleep 2
run "GET /api/version while logins run" -t1 -c4 -d6s "$url/version"
wait
echo "== server: RSS $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status), threads $(awk '/Threads/ {print $2}' /proc/$pid/status)"
