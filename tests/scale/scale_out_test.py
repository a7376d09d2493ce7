#!/usr/bin/python3
"""Several servers on one PostgreSQL, end to end: starts its own PostgreSQL, three `vserver`
processes (at once, on the empty database) and haproxy with config/haproxy.cfg, all on free loopback
ports, and python-socketio nodes connected through haproxy (WebSocket, long-polling, and polling
upgraded to WebSocket). Checks:

  - the three simultaneous start-ups made one schema (one root, no duplicate rules);
  - a task posted through haproxy reaches every node once, whatever process it is connected to
    (several tasks, so the POSTs land on different processes);
  - a task made in `vserver shell` (db.Task(...).save()) or by `vserver import` reaches every node
    once;
  - a failed request emits nothing;
  - kill -9 of the process holding some nodes: those reconnect through haproxy, the others stay
    connected and keep hearing every task, the killed nodes go offline (node-offline, status) and
    come back online; the restarted process resumes its outbox position (nothing lost).

    scale_out_test.py --vserver build/cli/vserver [--source .] [--haproxy /usr/sbin/haproxy] [--keep]

Exits non-zero naming the first check that failed; prints each step.
"""
import argparse
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests
import socketio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# free_port() is the event benchmark's; one copy.
_spec = importlib.util.spec_from_file_location("bench_events", os.path.join(ROOT, "bench", "events", "bench_events.py"))
_bench_events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_events)
free_port = _bench_events.free_port

NS = "/tasks"
PRESENCE_SECONDS = 3
# Longer than the presence timeout plus a heartbeat, so that the killed nodes are seen offline before
# they come back.
RECONNECT_DELAY = PRESENCE_SECONDS * 5


def fail(message):
    print("FAIL: " + message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def step(message):
    print("==> " + message, flush=True)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    fail("timed out after %.0f s waiting for %s" % (timeout, what))


class Cluster:
    """PostgreSQL, `count` vserver processes and haproxy on free loopback ports, in `folder`
    (bench/scale uses it too). `args` has vserver, source and haproxy; `extra` is added to every
    server's configuration."""

    def __init__(self, args, folder, count=3, extra="  presence_timeout_seconds: %d\n" % PRESENCE_SECONDS):
        self.args = args
        self.folder = folder
        self.extra = extra
        self.pg_dir = os.path.join(folder, "pg")
        self.pg_port = free_port()
        self.front = free_port()
        self.ports = [free_port() for _ in range(count)]
        self.servers = [None] * count
        self.haproxy = None
        self.uri = "postgresql://postgres@127.0.0.1:%d/dq_test" % self.pg_port

    # -- PostgreSQL --

    def pg(self, command):
        lib = os.path.join(self.args.source, "scripts", "lib", "postgres.sh")
        subprocess.run(["bash", "-c", 'source "$0"; ' + command, lib], check=True)

    def start_postgres(self):
        os.makedirs(self.pg_dir)
        self.pg("dq_pg_start %s %d" % (self.pg_dir, self.pg_port))

    def stop_postgres(self):
        try:
            self.pg("dq_pg_stop %s" % self.pg_dir)
        except subprocess.CalledProcessError:
            pass

    def sql(self, query):
        bindir = subprocess.run(["bash", "-c", 'source "$0"; dq_pg_bindir',
                                 os.path.join(self.args.source, "scripts", "lib", "postgres.sh")],
                                check=True, capture_output=True, text=True).stdout.strip()
        out = subprocess.run([os.path.join(bindir, "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U",
                              "postgres", "-d", "dq_test", "-tAc", query], check=True, capture_output=True,
                             text=True).stdout
        return [line.split("|") for line in out.strip().splitlines() if line]

    # -- servers --

    def config(self, i):
        path = os.path.join(self.folder, "dq%d.yaml" % (i + 1))
        with open(path, "w") as f:
            f.write("application:\n  type: test\n  ip: 127.0.0.1\n  port: %d\n  api_path: /api\n"
                    "  uri: %s\n  jwt_secret_key: scale-out-test-secret\n  bcrypt_rounds: 4\n%s"
                    "  logging:\n    level: INFO\n    use_console: false\n    file: dq%d.log\n"
                    % (self.ports[i], self.uri, self.extra, i + 1))
        return path

    def log(self, i):
        path = os.path.join(self.folder, "dq%d.log" % (i + 1))
        return open(path).read() if os.path.exists(path) else ""

    def start_server(self, i):
        out = open(os.path.join(self.folder, "dq%d.out" % (i + 1)), "a")
        self.servers[i] = subprocess.Popen(
            [self.args.vserver, "start", "--foreground", "--config", self.config(i), "--data-dir", self.folder],
            stdout=out, stderr=subprocess.STDOUT)

    def answers(self, port):
        try:
            return requests.get("http://127.0.0.1:%d/api/health" % port, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_server(self, i):
        def up():
            if self.servers[i].poll() is not None:
                fail("vserver %d exited with %d:\n%s" % (i + 1, self.servers[i].returncode,
                                                          open(os.path.join(self.folder, "dq%d.out" % (i + 1))).read()))
            return self.answers(self.ports[i])
        wait_until(up, 60, "vserver %d on port %d" % (i + 1, self.ports[i]))

    # -- haproxy --

    def start_haproxy(self):
        text = open(os.path.join(self.args.source, "config", "haproxy.cfg")).read()
        text = text.replace("bind 127.0.0.1:5000", "bind 127.0.0.1:%d" % self.front)
        for i in range(len(self.ports), 3):
            text = "".join(line for line in text.splitlines(True) if "127.0.0.1:%d " % (5001 + i) not in line)
        for i, port in enumerate(self.ports):
            text = text.replace("127.0.0.1:%d " % (5001 + i), "127.0.0.1:%d " % port)
        if any(" 127.0.0.1:500%d " % n in text for n in (1, 2, 3)):
            fail("config/haproxy.cfg: could not point every server line at the test's ports")
        path = os.path.join(self.folder, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(text)
        check = subprocess.run([self.args.haproxy, "-c", "-f", path], capture_output=True, text=True)
        if check.returncode != 0:
            fail("haproxy -c refuses config/haproxy.cfg:\n" + check.stdout + check.stderr)
        self.haproxy = subprocess.Popen([self.args.haproxy, "-db", "-f", path],
                                        stdout=open(os.path.join(self.folder, "haproxy.out"), "w"),
                                        stderr=subprocess.STDOUT)

    def url(self):
        return "http://127.0.0.1:%d" % self.front

    def stop(self):
        for p in self.servers + [self.haproxy]:
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.stop_postgres()


class Api:
    def __init__(self, base):
        self.base = base
        self.token = None

    def call(self, method, path, body=None, token=None, expect=None):
        headers = {}
        if token or self.token:
            headers["Authorization"] = "Bearer " + (token or self.token)
        r = requests.request(method, self.base + "/api" + path, json=body, headers=headers, timeout=30)
        if expect and r.status_code not in expect:
            fail("%s %s answered %d: %s" % (method, path, r.status_code, r.text))
        return r


class Node:
    """A vantage6-like node through haproxy, recording what it hears."""

    def __init__(self, name, node_id, token, transports):
        self.name, self.id, self.token, self.transports = name, node_id, token, transports
        self.lock = threading.Condition()
        self.heard = []  # (event, payload, time)
        self.disconnects = 0
        self.sio = socketio.Client(reconnection=True, reconnection_delay=RECONNECT_DELAY,
                                   reconnection_delay_max=RECONNECT_DELAY, randomization_factor=0)
        for event in ("new_task", "task_created", "node-online", "node-offline"):
            self.sio.on(event, self.recorder(event), namespace=NS)
        self.sio.on("disconnect", self.on_disconnect, namespace=NS)

    def recorder(self, event):
        def record(payload=None):
            with self.lock:
                self.heard.append((event, payload, time.time()))
                self.lock.notify_all()
        return record

    def on_disconnect(self):
        with self.lock:
            self.disconnects += 1

    def connect(self, url):
        self.sio.connect(url, headers={"Authorization": "Bearer " + self.token}, transports=self.transports,
                         namespaces=[NS], wait_timeout=10)

    def count(self, event, payload):
        with self.lock:
            return sum(1 for e, p, _ in self.heard if e == event and p == payload)

    def first(self, event, predicate, since=0):
        with self.lock:
            for e, p, t in self.heard:
                if e == event and t >= since and predicate(p):
                    return t
        return None

    def connected(self):
        return self.sio.connected and NS in self.sio.namespaces


def seed(api, count):
    api.token = api.call("POST", "/token/user", {"username": "root", "password": "root"},
                         expect=(200,)).json()["access_token"]
    root_org = api.call("GET", "/user/1", expect=(200,)).json()["organization"]["id"]
    orgs = [api.call("POST", "/organization", {"name": "scale-org-%d" % i, "country": "NL"},
                     expect=(201,)).json()["id"] for i in range(count)]
    cid = api.call("POST", "/collaboration", {"name": "scale", "organization_ids": [root_org] + orgs},
                   expect=(200, 201)).json()["id"]
    nodes = []
    for i, org in enumerate(orgs):
        created = api.call("POST", "/node", {"collaboration_id": cid, "organization_id": org},
                           expect=(201,)).json()
        token = api.call("POST", "/token/node", {"api_key": created["api_key"]}, token="-",
                         expect=(200,)).json()["access_token"]
        nodes.append((created["id"], org, token))
    return root_org, cid, orgs, nodes


def post_task(api, cid, orgs, name):
    return api.call("POST", "/task", {"collaboration_id": cid, "name": name, "image": "hello-world",
                                      "description": "scale-out", "organizations": [{"id": o, "input": ""} for o in orgs]},
                    expect=(201,)).json()["id"]


def expect_each_once(nodes, task_id, what, timeout=10):
    wait_until(lambda: all(n.count("new_task", task_id) >= 1 for n in nodes), timeout,
               "%s: new_task %d at every node (missing at %s)" % (
                   what, task_id, [n.name for n in nodes if n.count("new_task", task_id) == 0]))
    time.sleep(1)  # a duplicate would arrive in this time
    for n in nodes:
        if n.count("new_task", task_id) != 1:
            fail("%s: node %s heard new_task %d %d times" % (what, n.name, task_id, n.count("new_task", task_id)))


def process_of(cluster, nodes):
    """Which server process each node's socket is on, from the servers' logs."""
    where = {}
    for i in range(3):
        for line in cluster.log(i).splitlines():
            m = re.search(r"event channel: Node .* \(id (\d+)\) connected", line)
            if m:
                where[int(m.group(1))] = i
    return {n.id: where.get(n.id) for n in nodes}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vserver", required=True)
    parser.add_argument("--source", default=ROOT)
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="dq-scale-")
    os.chmod(folder, 0o755)
    cluster = Cluster(args, folder)
    nodes = []
    try:
        step("PostgreSQL on 127.0.0.1:%d" % cluster.pg_port)
        cluster.start_postgres()

        step("three vserver processes at once on the empty database (ports %s)" % cluster.ports)
        for i in range(3):
            cluster.start_server(i)
        for i in range(3):
            cluster.wait_server(i)
        for i in range(3):
            if "reader " not in cluster.log(i):
                fail("vserver %d logged no outbox reader start" % (i + 1))
        roots = cluster.sql("SELECT COUNT(*) FROM \"user\" WHERE username = 'root'")[0][0]
        if roots != "1":
            fail("three start-ups made %s root users" % roots)
        dup = cluster.sql("SELECT COUNT(*) FROM (SELECT name, scope, operation FROM rule GROUP BY name, scope, "
                          "operation HAVING COUNT(*) > 1) d")[0][0]
        if dup != "0":
            fail("three start-ups made duplicate rules (%s)" % dup)
        plugins = cluster.sql("SELECT COUNT(*), COUNT(DISTINCT plugin) FROM dq_schema")[0]
        if plugins[0] != plugins[1]:
            fail("dq_schema has duplicate rows: %s" % plugins)

        step("haproxy on 127.0.0.1:%d with config/haproxy.cfg" % cluster.front)
        cluster.start_haproxy()
        api = Api(cluster.url())
        wait_until(lambda: cluster.answers(cluster.front), 20, "haproxy to answer /api/health")
        time.sleep(2.5)  # every server passed its first health check

        step("seeding through haproxy; nine nodes connect through haproxy")
        root_org, cid, orgs, seeded = seed(api, 9)
        transports = [["websocket"], ["polling"], None]  # None: polling, upgraded to WebSocket
        for i, (node_id, org, token) in enumerate(seeded):
            node = Node("node-%d" % i, node_id, token, transports[i % 3])
            node.connect(cluster.url())
            nodes.append(node)
        wait_until(lambda: all(n.connected() for n in nodes), 20, "every node to join /tasks")
        where = wait_until(lambda: (lambda w: w if None not in w.values() else None)(process_of(cluster, nodes)), 10,
                           "the servers' logs to name every node's process")
        spread = sorted(set(where.values()))
        print("    nodes per process: %s" % {i + 1: sum(1 for p in where.values() if p == i) for i in range(3)})
        if len(spread) < 2:
            fail("haproxy put every node on one process (%s); cannot test fan-out" % where)

        step("tasks posted through haproxy reach every node once")
        for k in range(3):
            task_id = post_task(api, cid, orgs, "api-%d" % k)
            expect_each_once(nodes, task_id, "task %d posted through haproxy" % k)

        step("a task made in `vserver shell` reaches every node once")
        script = os.path.join(folder, "shell_task.py")
        with open(script, "w") as f:
            f.write("import time\n"
                    "collab = db.Collaboration.get(%d)\n"
                    "org = db.Organization.get(%d)\n"
                    "task = db.Task(name='from-the-shell', image='hello-world', collaboration=collab, initiator=org,\n"
                    "               run_id=db.Task.next_run_id(), database='default')\n"
                    "task.save()\n"
                    "for member in %r:\n"
                    "    db.Result(task=task, organization=db.Organization.get(member), input='', status='pending').save()\n"
                    "print('TASK', task.id, time.time())\n" % (cid, root_org, orgs))
        shell = subprocess.run([args.vserver, "shell", "--config", cluster.config(0), "--data-dir", folder,
                                "-c", script], capture_output=True, text=True, timeout=120)
        m = re.search(r"TASK (\d+) ([\d.]+)", shell.stdout)
        if shell.returncode != 0 or not m:
            fail("vserver shell failed (%d):\n%s%s" % (shell.returncode, shell.stdout, shell.stderr))
        shell_task, saved_at = int(m.group(1)), float(m.group(2))
        expect_each_once(nodes, shell_task, "the shell's task")
        late = max(n.first("new_task", lambda p: p == shell_task) for n in nodes) - saved_at
        print("    the shell's task reached the last node %.3f s after its last save" % late)
        if late > 5:
            fail("the shell's task took %.1f s to reach every node" % late)

        step("a task made by `vserver import` reaches every node once")
        imported = os.path.join(folder, "import.yaml")
        with open(imported, "w") as f:
            f.write("collaborations:\n  - name: scale\n    participants:\n")
            for i in range(len(orgs)):
                # The nodes exist; import only checks (and here replaces) their api keys.
                f.write("      - {name: scale-org-%d, api_key: 0d2b5f2e-1c1a-4c7e-9d1a-cc%010d}\n" % (i, i))
            f.write("    tasks: [\"imported-image\"]\n")
        run = subprocess.run([args.vserver, "import", imported, "--config", cluster.config(0), "--data-dir", folder],
                             capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            fail("vserver import failed (%d):\n%s%s" % (run.returncode, run.stdout, run.stderr))
        rows = cluster.sql("SELECT id FROM task WHERE image = 'imported-image'")
        if len(rows) != 1:
            fail("vserver import made %d tasks with the image" % len(rows))
        expect_each_once(nodes, int(rows[0][0]), "the imported task")

        step("a failed request emits nothing")
        before = [len(n.heard) for n in nodes]
        outsider = api.call("POST", "/organization", {"name": "scale-outsider"}, expect=(201,)).json()["id"]
        refused = api.call("POST", "/task", {"collaboration_id": cid, "name": "refused", "image": "x",
                                             "organizations": [{"id": orgs[0], "input": ""}, {"id": outsider, "input": ""}]})
        if refused.status_code != 400:
            fail("a task for an organization outside the collaboration answered %d" % refused.status_code)
        time.sleep(2)
        for n, b in zip(nodes, before):
            new = [(e, p) for e, p, _ in n.heard[b:] if e in ("new_task", "task_created")]
            if new:
                fail("the refused task was announced to %s: %s" % (n.name, new))

        victim = max(spread, key=lambda i: sum(1 for p in where.values() if p == i))
        killed = [n for n in nodes if where[n.id] == victim]
        kept = [n for n in nodes if where[n.id] != victim]
        step("kill -9 of process %d, which holds %s" % (victim + 1, [n.name for n in killed]))
        position = cluster.sql("SELECT last_id FROM dq_outbox_reader WHERE reader LIKE '%%/dq%d:%%'" % (victim + 1))
        killed_at = time.time()
        cluster.servers[victim].send_signal(signal.SIGKILL)
        cluster.servers[victim].wait()
        task_id = post_task(api, cid, orgs, "during-outage")
        expect_each_once(kept, task_id, "a task posted while process %d is down" % (victim + 1))
        for n in kept:
            if n.disconnects or not n.connected():
                fail("%s, on a process that kept running, was disconnected" % n.name)

        def offline(n):
            return api.call("GET", "/node/%d" % n.id, expect=(200,)).json()["status"] == "offline"
        wait_until(lambda: all(offline(n) for n in killed), PRESENCE_SECONDS * 4,
                   "the killed process's nodes to turn offline by themselves")
        for n in killed:
            if not any(k.first("node-offline", lambda p, n=n: isinstance(p, dict) and p.get("id") == n.id) for k in kept):
                fail("nobody heard node-offline for %s" % n.name)
        print("    offline %.1f s after the kill" % (time.time() - killed_at))

        wait_until(lambda: all(n.connected() for n in killed), RECONNECT_DELAY + 20,
                   "the killed process's nodes to reconnect through haproxy")
        wait_until(lambda: all(not offline(n) for n in killed), 10, "the reconnected nodes to be online")
        for n in killed:
            if not any(k.first("node-online", lambda p, n=n: isinstance(p, dict) and p.get("id") == n.id,
                               since=killed_at) for k in kept):
                fail("nobody heard node-online for %s after it reconnected" % n.name)
        task_id = post_task(api, cid, orgs, "after-reconnect")
        expect_each_once(nodes, task_id, "a task after the reconnect")

        step("the killed process restarts and resumes from its outbox position")
        cluster.start_server(victim)
        cluster.wait_server(victim)
        newest = cluster.sql("SELECT MAX(id) FROM dq_outbox")[0][0]
        wait_until(lambda: int(cluster.sql("SELECT last_id FROM dq_outbox_reader WHERE reader LIKE '%%/dq%d:%%'"
                                           % (victim + 1))[0][0]) >= int(newest), 10,
                   "the restarted process to catch up with the outbox")
        resumed = re.findall(r"reader \S+ resumes after outbox row (\d+)", cluster.log(victim))
        if not resumed or not position or not int(position[0][0]) <= int(resumed[-1]) < int(newest):
            fail("the restarted process did not resume at its stored position (%s before the kill, %s rows "
                 "since; log: %s)" % (position, newest, resumed))
        task_id = post_task(api, cid, orgs, "after-restart")
        expect_each_once(nodes, task_id, "a task after the restart")
        print("PASS: scale-out through haproxy with three servers on one PostgreSQL")
    finally:
        for n in nodes:
            try:
                n.sio.disconnect()
            except Exception:
                pass
        cluster.stop()
        if args.keep:
            print("kept %s" % folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
    os._exit(0)  # socket.io client threads would keep the interpreter waiting
