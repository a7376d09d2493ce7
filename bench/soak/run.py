#!/usr/bin/python3
"""Stability under mixed load: a real server (build tree, SQLite or PostgreSQL, all plugins, the
example import) gets, all at once for DURATION seconds and on CONNECTIONS concurrent connections:
wrk on the lists of every resource and on /version, wrong-password and right-password logins,
researchers creating tasks, nodes fetching and posting their results, and a health probe. Prints
per kind the answers by class and the slowest answer, the 503s apart from other 5xx, the slowest
/health, the logins checked per second and turned away, and the server's memory (RSS and anonymous)
before the load, at most during it, at its end and every 5 s after it until it is back.

Login clients behave well: after a 503 they wait as long as its Retry-After says. Exit code 1 when
the server died, answered a 5xx other than 503, left a request unanswered for more than 5 s, took
more than 1 s for /health, turned away half of the right-password logins or more, or its anonymous
memory (heap and stacks: RSS without the program's and libraries' pages, which the load pages in from
their files) did not return to within 10 % of its size before the load within 150 s after it.

    bench/soak/run.py [--build BUILD_DIR] [--duration SECONDS] [--connections N] [--uri DATABASE_URI]
                      [--bcrypt-rounds N]
"""
import argparse, json, os, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--build", default=os.path.join(root, "build"))
parser.add_argument("--duration", type=int, default=60)
parser.add_argument("--connections", type=int, default=200)
parser.add_argument("--uri", default="sqlite:///soak.sqlite")
parser.add_argument("--bcrypt-rounds", type=int, default=12, help="the server's bcrypt cost (12 as in production)")
parser.add_argument("--threads", type=int, default=0, help="the server's HTTP worker threads (default: its default)")
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
  bcrypt_rounds: {args.bcrypt_rounds}
{f"  threads: {args.threads}" if args.threads else ""}
  password_policy: {{max_failed_attempts: 1000000}}
  logging: {{level: WARNING, use_console: false}}
""")
ctx = ["--config", config, "--data-dir", work]
url = f"http://127.0.0.1:{port}/api"
NODE_KEYS = [f"0d2b5f2e-1c1a-4c7e-9d1a-aa000000000{i}" for i in range(1, 6)]
ANSWER_WITHIN, HEALTH_WITHIN = 5.0, 1.0
# Right-password logins that must succeed (the rest may be 503, with Retry-After honoured).
MOSTLY = 0.5
# The server's memory after the load, relative to before it, and how long it may take to get there.
RSS_MARGIN, SETTLE_SECONDS = 0.10, 150


def call(method, path, body=None, token=None, timeout=30, headers=None):
    """(status, parsed body, seconds); network errors count as status 0. `headers`, a dict, gets the
    answer's headers."""
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    started = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), time.time() - started
    except urllib.error.HTTPError as e:
        if headers is not None:
            headers.update(e.headers.items())
        return e.code, None, time.time() - started
    except OSError:
        return 0, None, time.time() - started


class Counts:
    def __init__(self):
        self.lock = threading.Lock(); self.by_kind = {}

    def add(self, kind, status, seconds=0.0, n=1):
        with self.lock:
            entry = self.by_kind.setdefault(kind, {"2xx": 0, "4xx": 0, "503": 0, "other 5xx": 0,
                                                   "unanswered": 0, "slowest": 0.0})
            entry["2xx" if 200 <= status < 300 else "4xx" if 400 <= status < 500 else "503" if status == 503
                  else "other 5xx" if status >= 500 else "unanswered"] += n
            entry["slowest"] = max(entry["slowest"], seconds)


counts = Counts()
deadline = 0.0


def logins(username, password):
    # As a well-behaved client: after a 503 it waits as long as Retry-After says.
    while time.time() < deadline:
        headers = {}
        status, _, seconds = call("POST", "/token/user", {"username": username, "password": password},
                                  headers=headers)
        counts.add("POST /token/user " + ("right" if password == "change-me-3" else "wrong"), status, seconds)
        if status == 503:
            time.sleep(min(float(headers.get("Retry-After", "1")), max(0.0, deadline - time.time())))


def researcher(token, collaboration, organizations):
    body = {"collaboration_id": collaboration, "name": "soak", "image": "hello-world", "description": "",
            "organizations": [{"id": o, "input": ""} for o in organizations]}
    while time.time() < deadline:
        status, _, seconds = call("POST", "/task", body, token)
        counts.add("POST /task", status, seconds)


def node(api_key):
    while time.time() < deadline:
        status, answer, seconds = call("POST", "/token/node", {"api_key": api_key})
        counts.add("POST /token/node", status, seconds)
        if status != 200:
            continue
        token = answer["access_token"]
        node_id = answer["node_url"].rsplit("/", 1)[1]
        for _ in range(20):
            status, results, seconds = call("GET", f"/result?state=open&node_id={node_id}&page=1&per_page=5",
                                            None, token)
            counts.add("GET /result (node)", status, seconds)
            for result in (results or []):
                status, _, seconds = call("PATCH", f"/result/{result['id']}",
                                          {"started_at": "2026-01-01T00:00:00", "result": "done",
                                           "finished_at": "2026-01-01T00:00:01", "status": "completed"}, token)
                counts.add("PATCH /result", status, seconds)
            if time.time() >= deadline:
                break


rss_peak = anon_peak = 0


def health():
    global rss_peak, anon_peak
    while time.time() < deadline:
        status, _, seconds = call("GET", "/health", timeout=10)
        counts.add("GET /health", status, seconds)
        try:
            rss_peak, anon_peak = max(rss_peak, rss_kb(pid)), max(anon_peak, anon_kb(pid))
        except OSError:
            pass
        time.sleep(0.2)


WRK_SCRIPT = os.path.join(work, "statuses.lua")
with open(WRK_SCRIPT, "w") as f:
    f.write("""local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do io.write(string.format("status %d %d\\n", status, n)) end
  end
  io.write(string.format("timeouts %d\\nmax_us %d\\n", summary.errors.timeout, latency.max))
end
""")


def wrk(path, token, connections):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{args.duration}s", "--timeout", "5s",
                          "-s", WRK_SCRIPT, "-H", "Authorization: Bearer " + token, url + path],
                         capture_output=True, text=True).stdout
    kind = f"wrk GET {path}"
    slowest = 0.0
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("status "):
            counts.add(kind, int(parts[1]), 0.0, int(parts[2]))
        elif line.startswith("timeouts "):
            counts.add(kind, 0, 0.0, int(parts[1])) if int(parts[1]) else None
        elif line.startswith("max_us "):
            slowest = int(parts[1]) / 1e6
    counts.add(kind, 200, slowest, 0)


def rss_kb(pid, field="VmRSS"):
    status = open(f"/proc/{pid}/status").read()
    return int([l.split()[1] for l in status.splitlines() if l.startswith(field + ":")][0])


def anon_kb(pid):
    """The memory the server holds itself (heap, stacks): its RSS without the pages of its program and
    libraries, which the load pages in from the files and the kernel may drop again."""
    return rss_kb(pid, "RssAnon")


subprocess.run([vserver, "import", os.path.join(root, "config", "import-example.yaml"), *ctx], check=True,
               stdout=subprocess.DEVNULL)
subprocess.run([vserver, "start", *ctx], check=True, stdout=subprocess.DEVNULL)
pid = int(open(os.path.join(work, "soak.pid")).read())
alive = True
failed = []
try:
    status, answer, _ = call("POST", "/token/user", {"username": "root", "password": "root"})
    token = answer["access_token"]
    _, collaborations, _ = call("GET", "/collaboration?name=OUTCOMES", None, token)
    collaboration = collaborations[0]
    organizations = [o["id"] for o in call("GET", f"/collaboration/{collaboration['id']}/organization",
                                           None, token)[1]]
    _, roots, _ = call("GET", "/organization?name=root", None, token)
    call("PATCH", f"/collaboration/{collaboration['id']}",
         {"organization_ids": organizations + [roots[0]["id"]]}, token)
    for path in ["/organization", "/user", "/task"]:  # warm up before measuring memory
        call("GET", path, None, token)
    rss_before, anon_before = rss_kb(pid), anon_kb(pid)

    # The connections: 24 logins (16 wrong, 8 right), 8 researchers, 3 nodes, 1 health probe, the
    # rest on wrk over the lists.
    paths = ["/version", "/organization", "/user", "/collaboration", "/node", "/task?page=1&per_page=10",
             "/result?page=1&per_page=10", "/role", "/rule"]
    python_connections = 16 + 8 + 8 + 3 + 1
    per_path = max(1, (args.connections - python_connections) // len(paths))
    deadline = time.time() + args.duration
    threads = [threading.Thread(target=logins, args=("eve@east-registry.example", "Wrong-guess1!"))
               for _ in range(16)]
    threads += [threading.Thread(target=logins, args=("sam", "change-me-3")) for _ in range(8)]
    threads += [threading.Thread(target=researcher, args=(token, collaboration["id"], organizations))
                for _ in range(8)]
    threads += [threading.Thread(target=node, args=(key,)) for key in NODE_KEYS[:3]]
    threads += [threading.Thread(target=health)]
    threads += [threading.Thread(target=wrk, args=(path, token, per_path)) for path in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    anon_target = int(anon_before * (1 + RSS_MARGIN))
    rss_samples = {}  # seconds after the load: (RSS kB, anonymous kB)
    returned_after = None
    try:
        rss_end, anon_end = rss_kb(pid), anon_kb(pid)
        started = time.time()
        # Idle threads end after 10 s and idle pooled connections (their page caches) after a minute
        # or two; the server trims its heap every quiet 10 s.
        while time.time() - started < SETTLE_SECONDS:
            time.sleep(5)
            rss_samples[round(time.time() - started)] = (rss_kb(pid), anon_kb(pid))
            if rss_samples[max(rss_samples)][1] <= anon_target:
                returned_after = max(rss_samples)
                break
    except OSError:
        alive = False
    # Once the load is over, logins work again at once.
    status, _, seconds = call("POST", "/token/user", {"username": "sam", "password": "change-me-3"})
    if status != 200:
        failed.append(f"login after the load answered {status}")
    else:
        print(f"== login after the load: 200 in {seconds:.2f} s")
    total = python_connections + per_path * len(paths)
    print(f"== {args.duration} s of mixed load on {args.uri}, {total} concurrent connections, "
          f"bcrypt cost {args.bcrypt_rounds}")
    for kind, entry in sorted(counts.by_kind.items()):
        print(f"   {kind:36} " + ", ".join(f"{k} {v:.2f} s" if k == "slowest" else f"{k} {v}"
                                            for k, v in entry.items()))
        if entry["other 5xx"]:
            failed.append(f"{kind}: {entry['other 5xx']} 5xx other than 503")
        if entry["unanswered"]:
            failed.append(f"{kind}: {entry['unanswered']} unanswered within 5 s (or connection errors)")
        limit = HEALTH_WITHIN if kind == "GET /health" else ANSWER_WITHIN
        if entry["slowest"] > limit:
            failed.append(f"{kind}: slowest answer {entry['slowest']:.2f} s > {limit} s")
    logins = [entry for kind, entry in counts.by_kind.items() if kind.startswith("POST /token/user")]
    answered = sum(e["2xx"] + e["4xx"] for e in logins)
    turned_away = sum(e["503"] for e in logins)
    right = counts.by_kind.get("POST /token/user right", {"2xx": 0, "503": 0})
    print(f"== logins: {answered} checked ({answered / args.duration:.1f}/s), {turned_away} turned away with 503 "
          f"({100 * turned_away / max(1, answered + turned_away):.0f} %); right password: {right['2xx']} "
          f"logged in, {right['503']} turned away")
    if right["2xx"] < MOSTLY * (right["2xx"] + right["503"]):
        failed.append(f"fewer than {MOSTLY:.0%} of the right-password logins succeeded")
    if alive:
        after = ", ".join(f"{rss}/{anon} kB after {t} s" for t, (rss, anon) in sorted(rss_samples.items()))
        print(f"== server alive; memory as RSS/anonymous: {rss_before}/{anon_before} kB before the load, "
              f"{rss_peak}/{anon_peak} kB at most during it, {rss_end}/{anon_end} kB at its end; {after}")
        settled_rss, settled_anon = rss_samples[max(rss_samples)] if rss_samples else (rss_end, anon_end)
        print(f"== memory (kB)        {'before':>8} {'end':>8} {'settled':>8} {'target':>8}")
        print(f"   RSS                {rss_before:>8} {rss_end:>8} {settled_rss:>8} {int(rss_before * (1 + RSS_MARGIN)):>8}")
        print(f"   anonymous          {anon_before:>8} {anon_end:>8} {settled_anon:>8} {anon_target:>8}  "
              f"(settled: {max(rss_samples) if rss_samples else 0} s after the load)")
        print(f"== memory target: anonymous memory back to {anon_target} kB (before + {RSS_MARGIN:.0%}) within "
              f"{SETTLE_SECONDS} s: " + (f"reached after {returned_after} s" if returned_after is not None
                                         else "NOT reached"))
        if returned_after is None:
            failed.append(f"anonymous memory {rss_samples[max(rss_samples)][1]} kB {SETTLE_SECONDS} s after the "
                          f"load, target {anon_target} kB")
    else:
        print("== server DIED")
        print(open(os.path.join(work, "soak.out")).read()[-4000:])
    for f in failed:
        print("!! " + f)
finally:
    if alive:
        subprocess.run([vserver, "stop", *ctx], stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", work])
sys.exit(0 if alive and not failed else 1)
