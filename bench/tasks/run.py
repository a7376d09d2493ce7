#!/usr/bin/python3
"""Task throughput of a real server (build tree, SQLite, all plugins):
- creating a task for a collaboration of 100 organizations (results per second);
- GET /result?state=open&node_id= with 100,000 results in the database (wrk p50/p99);
- server memory afterwards.
Prints numbers; asserts nothing.   usage: bench/tasks/run.py [BUILD_DIR]"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build")
vserver = os.path.join(build, "cli", "vserver")
work = tempfile.mkdtemp(prefix="dq-bench-tasks.")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
config = os.path.join(work, "bench.yaml")
with open(config, "w") as f:
    f.write(f"""application:
  description: task benchmark
  port: {port}
  uri: sqlite:///bench.sqlite
  jwt_secret_key: bench
  bcrypt_rounds: 4
  logging: {{level: WARNING, use_console: false}}
""")
ctx = ["--config", config, "--data-dir", work]
url = f"http://127.0.0.1:{port}/api"


def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


subprocess.run([vserver, "start", *ctx], check=True, stdout=subprocess.DEVNULL)
try:
    token = call("POST", "/token/user", {"username": "root", "password": "root"})["access_token"]
    orgs = [call("POST", "/organization", {"name": f"org {i}"}, token)["id"] for i in range(100)]
    # Tasks are created by root, whose organization must take part (vantage6's rule).
    root_org = call("GET", "/organization?name=root", None, token)[0]["id"]
    collab = call("POST", "/collaboration", {"name": "hundred", "organization_ids": orgs + [root_org]},
                  token)["id"]
    keys = {}
    for org in orgs:
        keys[org] = call("POST", "/node", {"collaboration_id": collab, "organization_id": org}, token)["api_key"]
    body = {"collaboration_id": collab, "name": "bench", "image": "bench-image", "description": "",
            "organizations": [{"id": o, "input": ""} for o in orgs]}
    start = time.time(); n = 20
    for _ in range(n):
        call("POST", "/task", body, token)
    took = time.time() - start
    print(f"== POST /task for 100 organizations: {n / took:.1f} tasks/s, {100 * n / took:.0f} results/s")

    # Fill up to 100,000 results: 1,000 tasks of 100 results each (980 more).
    start = time.time()
    for _ in range(980):
        call("POST", "/task", body, token)
    print(f"== seeded 100,000 results in {time.time() - start:.0f} s")

    node_token = call("POST", "/token/node", {"api_key": keys[orgs[0]]})["access_token"]
    node_id = call("GET", "/node?organization_id=%d" % orgs[0], None, token)[0]["id"]
    path = f"/result?state=open&node_id={node_id}&page=1&per_page=10"
    out = subprocess.run(["wrk", "-t2", "-c16", "-d10s", "--latency", "-H", "Authorization: Bearer " + node_token,
                          url + path], capture_output=True, text=True).stdout
    p50 = re.search(r"50%\s+(\S+)", out).group(1); p99 = re.search(r"99%\s+(\S+)", out).group(1)
    rps = re.search(r"Requests/sec:\s+(\S+)", out).group(1)
    print(f"== GET {path} with 100,000 results: p50 {p50}, p99 {p99}, {rps} req/s")
    pid = open(os.path.join(work, "bench.pid")).read().strip()
    status = open(f"/proc/{pid}/status").read()
    print("== server: RSS %s, threads %s" % (re.search(r"VmRSS:\s+(.*)", status).group(1),
                                               re.search(r"Threads:\s+(.*)", status).group(1)))
finally:
    subprocess.run([vserver, "stop", *ctx], stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", work])
