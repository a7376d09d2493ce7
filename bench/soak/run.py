#!/usr/bin/python3
"""Stability under mixed load: a real server (build tree, SQLite or PostgreSQL, all plugins, the
example import) gets, all at once for DURATION seconds: wrk on the lists of every resource and on
/version, user logins, node logins, researchers creating tasks, and nodes fetching and posting
their results. Prints request counts, the 5xx answers and whether the server survived (with its
crash report when it did not). Asserts nothing; exit code 1 when the server died or answered 5xx.

    bench/soak/run.py [--build BUILD_DIR] [--duration SECONDS] [--uri DATABASE_URI]
"""
import argparse, json, os, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--build", default=os.path.join(root, "build"))
parser.add_argument("--duration", type=int, default=60)
parser.add_argument("--uri", default="sqlite:///soak.sqlite")
args = parser.parse_args()

vserver = os.path.join(args.build, "cli", "vserver")
work = tempfile.mkdtemp(prefix="dq-soak.")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
config = os.path.join(work, "soak.yaml")
with open(config, "w") as f:
    f.write(f"""application:
  description: soak
  port: {port}
  uri: {args.uri}
  jwt_secret_key: soak
  bcrypt_rounds: 4
  logging: {{level: WARNING, use_console: false}}
""")
ctx = ["--config", config, "--data-dir", work]
url = f"http://127.0.0.1:{port}/api"
NODE_KEYS = [f"0d2b5f2e-1c1a-4c7e-9d1a-aa000000000{i}" for i in range(1, 6)]


def call(method, path, body=None, token=None):
    """(status, parsed body); network errors count as status 0."""
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return 0, None


class Counts:
    def __init__(self):
        self.lock = threading.Lock(); self.by_kind = {}

    def add(self, kind, status):
        with self.lock:
            entry = self.by_kind.setdefault(kind, {"ok": 0, "4xx": 0, "5xx": 0, "failed": 0})
            entry["ok" if 200 <= status < 300 else "4xx" if 400 <= status < 500 else
                  "5xx" if status >= 500 else "failed"] += 1


counts = Counts()
deadline = 0.0


def logins():
    while time.time() < deadline:
        status, _ = call("POST", "/token/user", {"username": "sam", "password": "change-me-3"})
        counts.add("POST /token/user", status)


def researcher(token, collaboration, organizations):
    body = {"collaboration_id": collaboration, "name": "soak", "image": "hello-world", "description": "",
            "organizations": [{"id": o, "input": ""} for o in organizations]}
    while time.time() < deadline:
        status, _ = call("POST", "/task", body, token)
        counts.add("POST /task", status)


def node(api_key):
    while time.time() < deadline:
        status, answer = call("POST", "/token/node", {"api_key": api_key})
        counts.add("POST /token/node", status)
        if status != 200:
            continue
        token = answer["access_token"]
        node_id = answer["node_url"].rsplit("/", 1)[1]
        for _ in range(20):
            status, results = call("GET", f"/result?state=open&node_id={node_id}&page=1&per_page=5", None, token)
            counts.add("GET /result (node)", status)
            for result in (results or []):
                status, _ = call("PATCH", f"/result/{result['id']}",
                                 {"started_at": "2026-01-01T00:00:00", "result": "done",
                                  "finished_at": "2026-01-01T00:00:01", "status": "completed"}, token)
                counts.add("PATCH /result", status)
            if time.time() >= deadline:
                break


def wrk(path, token, connections):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{args.duration}s", "-H",
                          "Authorization: Bearer " + token, url + path], capture_output=True, text=True).stdout
    requests = non2xx = 0
    for line in out.splitlines():
        parts = line.split()
        if "requests in" in line:
            requests = int(parts[0])
        if line.strip().startswith("Non-2xx"):
            non2xx = int(parts[-1])
    with counts.lock:
        counts.by_kind[f"wrk GET {path}"] = {"ok": requests - non2xx, "non-2xx": non2xx}


subprocess.run([vserver, "import", os.path.join(root, "config", "import-example.yaml"), *ctx], check=True,
               stdout=subprocess.DEVNULL)
subprocess.run([vserver, "start", *ctx], check=True, stdout=subprocess.DEVNULL)
pid = int(open(os.path.join(work, "soak.pid")).read())
alive = True
try:
    status, answer = call("POST", "/token/user", {"username": "root", "password": "root"})
    token = answer["access_token"]
    _, collaborations = call("GET", "/collaboration?name=OUTCOMES", None, token)
    collaboration = collaborations[0]
    organizations = [o["id"] for o in call("GET", f"/collaboration/{collaboration['id']}/organization",
                                           None, token)[1]]
    _, roots = call("GET", "/organization?name=root", None, token)
    call("PATCH", f"/collaboration/{collaboration['id']}",
         {"organization_ids": organizations + [roots[0]["id"]]}, token)

    deadline = time.time() + args.duration
    threads = [threading.Thread(target=logins), threading.Thread(target=researcher,
                                                                  args=(token, collaboration["id"], organizations))]
    threads += [threading.Thread(target=node, args=(key,)) for key in NODE_KEYS[:3]]
    threads += [threading.Thread(target=wrk, args=(path, token, 3)) for path in
                ["/version", "/organization", "/user", "/collaboration", "/node", "/task?page=1&per_page=10",
                 "/result?page=1&per_page=10", "/role", "/rule"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        os.kill(pid, 0)
        status = open(f"/proc/{pid}/status").read()
        rss = [l.split(":")[1].strip() for l in status.splitlines() if l.startswith("VmRSS")][0]
    except OSError:
        alive = False
    print(f"== {args.duration} s of mixed load on {args.uri}")
    for kind, entry in sorted(counts.by_kind.items()):
        print(f"   {kind:36} " + ", ".join(f"{k} {v}" for k, v in entry.items()))
    errors = sum(e.get("5xx", 0) for e in counts.by_kind.values())
    print(f"== server {'alive, RSS ' + rss if alive else 'DIED'}; 5xx answers: {errors}")
    if not alive:
        print(open(os.path.join(work, "soak.out")).read()[-4000:])
finally:
    if alive:
        subprocess.run([vserver, "stop", *ctx], stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", work])
sys.exit(0 if alive and errors == 0 else 1)
