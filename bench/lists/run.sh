#!/usr/bin/env bash
# Lists of a real server (build tree, SQLite, all plugins): GET /api/task with 100 tasks (req/s, next
# to GET /api/organization measured in the same run), then with 1,000 tasks and 6,000 results:
# GET /api/result?per_page=10 (p50), the whole /api/result and /api/task lists (p50 of one client).
# Prints one line per figure: RESULT<TAB>name<TAB>value<TAB>unit<TAB>target<TAB>ok|MISS. Asserts nothing.
#   bench/lists/run.sh [BUILD_DIR]     (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
vserver=$build/cli/vserver
work=$(mktemp -d /tmp/dq-bench-lists.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/bench.yaml" <<YAML
application:
  description: list benchmark
  port: $port
  uri: sqlite:///bench.sqlite
  jwt_secret_key: bench
  bcrypt_rounds: 4
  logging: {level: WARNING, use_console: false}
YAML
ctx=(--config "$work/bench.yaml" --data-dir "$work")
trap '"$vserver" stop "${ctx[@]}" >/dev/null 2>&1; rm -rf "$work"' EXIT
"$vserver" start "${ctx[@]}" >/dev/null
url=http://127.0.0.1:$port/api

# Six organizations with a node each in one collaboration (with root's organization, which must take
# part to create tasks); every task has one result per organization. `seed N` adds N tasks.
seed() {
    python3 - "$url" "$1" "$work" <<'PY'
import http.client, json, os, sys, urllib.parse
url, count, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, u.path + path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse(); data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data or b"null")
token = call("POST", "/token/user", {"username": "root", "password": "root"})["access_token"]
state = os.path.join(work, "seed.json")
if os.path.exists(state):
    collab, orgs = json.load(open(state))
else:
    orgs = [call("POST", "/organization", {"name": f"bench org {i}"}, token)["id"] for i in range(5)]
    orgs.append(call("GET", "/organization?name=root", None, token)[0]["id"])
    collab = call("POST", "/collaboration", {"name": "bench", "organization_ids": orgs}, token)["id"]
    for org in orgs:
        call("POST", "/node", {"collaboration_id": collab, "organization_id": org}, token)
    json.dump([collab, orgs], open(state, "w"))
body = {"collaboration_id": collab, "name": "bench", "image": "bench-image", "description": "a task",
        "organizations": [{"id": o, "input": "aW5wdXQ="} for o in orgs]}
for _ in range(count):
    call("POST", "/task", body, token)
with open(os.path.join(work, "token"), "w") as f:
    f.write(token)
PY
}

latency_ms() { # wrk output -> p50 in ms ("nan" when no request completed)
    awk '/^ +50%/ { v=$2; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) }
                    else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 }; p=v }
         /requests in/ { n=$1 }
         END { if (n > 0 && p != "") printf "%.2f", p; else printf "nan" }'
}
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
result() { # name value unit target-text ok(0/1)
    printf 'RESULT\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$([[ $5 == 1 ]] && echo ok || echo MISS)"
}
below() { python3 -c "import sys; v = float(sys.argv[1]); print(int(v == v and v < float(sys.argv[2])))" "$1" "$2"; }

seed 100
token=$(cat "$work/token")
auth=(-H "Authorization: Bearer $token")
org_rps=$(wrk -t2 -c16 -d8s "${auth[@]}" "$url/organization" | rps)
task_rps=$(wrk -t2 -c16 -d8s "${auth[@]}" "$url/task" | rps)
half=$(python3 -c "print(int($org_rps / 2))")
result get_organization_rps "$org_rps" req/s "(reference)" 1
result get_task_100_rps "$task_rps" req/s ">= $half (half of GET /api/organization)" \
    "$(python3 -c "print(int($task_rps >= $half))")"

seed 900
page=$(wrk -t1 -c1 -d8s --timeout 30s --latency "${auth[@]}" "$url/result?per_page=10" | latency_ms)
result get_result_per_page_10_p50 "$page" ms "< 5" "$(below "$page" 5)"
all=$(wrk -t1 -c1 -d10s --timeout 30s --latency "${auth[@]}" "$url/result" | latency_ms)
result get_result_all_6000_p50 "$all" ms "< 60" "$(below "$all" 60)"
tasks=$(wrk -t1 -c1 -d10s --timeout 30s --latency "${auth[@]}" "$url/task" | latency_ms)
result get_task_all_1000_p50 "$tasks" ms "(no target)" 1
pid=$(cat "$work/bench.pid")
result server_rss "$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status)" MB "(no target)" 1
