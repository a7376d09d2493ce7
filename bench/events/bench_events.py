#!/usr/bin/python3
"""Event channel benchmark: starts `vserver start --foreground` on a temporary SQLite database, then
  1. holds N idle node WebSocket connections on /tasks and reports the server's RSS and thread count;
  2. with M nodes connected, measures POST /api/task -> `new_task` received (p50/p99 over all nodes).

    /usr/bin/python3 bench/events/bench_events.py [--vserver build/cli/vserver] [--connections 1000]
                                                  [--nodes 100] [--tasks 50]

Clients are hand-written WebSockets in one thread (selectors), so the client side costs little.
"""
import argparse
import base64
import http.client
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Api:
    def __init__(self, port):
        self.port = port
        self.token = None

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        c.request(method, "/api" + path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data else None)


class WsClient:
    """One raw WebSocket speaking just enough Engine.IO / Socket.IO to sit on /tasks."""

    def __init__(self, port, token):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n" % (port, key, token)).encode())
        self.buffer = b""
        self.handshaken = False
        self.joined = False
        self.sock.setblocking(False)

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.setblocking(True)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        self.sock.setblocking(False)

    def read(self):
        """Messages that arrived (text), answering pings. None when the server closed."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return []
        if not chunk:
            return None
        self.buffer += chunk
        if not self.handshaken:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return []
            if b" 101 " not in self.buffer[:end]:
                raise RuntimeError("handshake refused: %r" % self.buffer[:end])
            self.buffer = self.buffer[end + 4:]
            self.handshaken = True
        messages = []
        while len(self.buffer) >= 2:
            opcode, n, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if n == 126:
                if len(self.buffer) < 4:
                    break
                n, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif n == 127:
                if len(self.buffer) < 10:
                    break
                n, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + n:
                break
            payload, self.buffer = self.buffer[start:start + n], self.buffer[start + n:]
            if opcode == 0x8:
                return None
            text = payload.decode()
            if text == "2":
                self.send("3")
            elif text.startswith("0{"):
                self.send("40/tasks,")
            elif text.startswith("40/tasks,"):
                self.joined = True
            messages.append(text)
        return messages


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = value.strip()
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(vserver, folder):
    port = free_port()
    config = os.path.join(folder, "bench.yaml")
    with open(config, "w") as f:
        f.write("application:\n  type: test\n  ip: 127.0.0.1\n  port: %d\n  api_path: /api\n"
                "  uri: sqlite:///bench.sqlite\n  jwt_secret_key: bench-only\n"
                "  logging:\n    level: WARNING\n    use_console: false\n    file: bench.log\n" % port)
    log = open(os.path.join(folder, "stdout.log"), "w")
    proc = subprocess.Popen([vserver, "start", "--foreground", "--config", config, "--data-dir", folder],
                            stdout=log, stderr=subprocess.STDOUT)
    api = Api(port)
    for _ in range(300):
        try:
            if api.call("GET", "/version")[0] == 200:
                return proc, api
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit("vserver exited with %d; see %s" % (proc.returncode, log.name))
        time.sleep(0.1)
    sys.exit("vserver did not answer within 30 s")


def make_nodes(api, count):
    """One collaboration of `count` organizations with one node each; returns (cid, [(org, token)])."""
    status, body = api.call("POST", "/token/user", {"username": "root", "password": "root"})
    assert status == 200, body
    api.token = body["access_token"]
    orgs = []
    for i in range(count):
        status, body = api.call("POST", "/organization", {"name": "bench-org-%d" % i, "country": "NL"})
        assert status == 201, body
        orgs.append(body["id"])
    status, me = api.call("GET", "/user/1")
    assert status == 200, me
    # Root's organization takes part so that root may create the tasks.
    status, body = api.call("POST", "/collaboration", {"name": "bench",
                                                       "organization_ids": [me["organization"]["id"]] + orgs})
    assert status in (200, 201), body
    cid = body["id"]
    nodes = []
    saved = api.token
    for org in orgs:
        api.token = saved
        status, body = api.call("POST", "/node", {"collaboration_id": cid, "organization_id": org})
        assert status == 201, body
        api.token = None
        status, token = api.call("POST", "/token/node", {"api_key": body["api_key"]})
        assert status == 200, token
        nodes.append((org, token["access_token"]))
    api.token = saved
    return cid, nodes


def connect_all(port, tokens, timeout=120):
    selector = selectors.DefaultSelector()
    clients = []
    for token in tokens:
        c = WsClient(port, token)
        selector.register(c.sock, selectors.EVENT_READ, c)
        clients.append(c)
    deadline = time.monotonic() + timeout
    while sum(c.joined for c in clients) < len(clients):
        if time.monotonic() > deadline:
            sys.exit("only %d of %d connections joined /tasks" % (sum(c.joined for c in clients), len(clients)))
        for key, _ in selector.select(timeout=1):
            if key.data.read() is None:
                sys.exit("the server closed a connection while connecting")
    return selector, clients


def pump(selector, until, on_message=None):
    while time.monotonic() < until:
        for key, _ in selector.select(timeout=0.05):
            messages = key.data.read()
            if messages is None:
                selector.unregister(key.fileobj)
                continue
            if on_message:
                now = time.perf_counter()
                for m in messages:
                    on_message(key.data, m, now)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vserver", default=os.path.join(ROOT, "build", "cli", "vserver"))
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it

    folder = tempfile.mkdtemp(prefix="dq-bench-events-")
    proc, api = start_server(args.vserver, folder)
    try:
        cid, nodes = make_nodes(api, args.nodes)
        org_of = {}
        before = proc_status(proc.pid)
        print("server idle: RSS %s, threads %s" % (before["VmRSS"], before["Threads"]))

        # 1. Idle connections (node tokens reused round-robin).
        tokens = [nodes[i % len(nodes)][1] for i in range(args.connections)]
        started = time.monotonic()
        selector, clients = connect_all(api.port, tokens)
        took = time.monotonic() - started
        pump(selector, time.monotonic() + 3)
        held = proc_status(proc.pid)
        print("%d idle node WebSockets joined /tasks in %.1f s: server RSS %s, threads %s" % (
            len(clients), took, held["VmRSS"], held["Threads"]))
        for c in clients:
            c.sock.close()
        selector.close()
        time.sleep(2)

        # 2. POST /task -> new_task, with one connection per node.
        selector, clients = connect_all(api.port, [token for _, token in nodes])
        received = []
        lock = threading.Lock()

        def on_message(client, text, now):
            if text.startswith('42/tasks,["new_task",'):
                with lock:
                    received.append((int(text[len('42/tasks,["new_task",'):-1]), now))

        stop = [False]

        def reader():
            while not stop[0]:
                pump(selector, time.monotonic() + 0.2, on_message)

        thread = threading.Thread(target=reader)
        thread.start()
        sent = {}
        post_times = []
        for i in range(args.tasks):
            t0 = time.perf_counter()
            status, body = api.call("POST", "/task", {
                "collaboration_id": cid, "organizations": [{"id": nodes[i % len(nodes)][0], "input": ""}],
                "name": "bench-%d" % i, "image": "bench/image", "description": ""})
            post_times.append(time.perf_counter() - t0)
            assert status in (200, 201), body
            sent[body["id"]] = t0
            time.sleep(0.05)
        time.sleep(2)
        stop[0] = True
        thread.join()
        delays = [(now - sent[tid]) * 1000 for tid, now in received if tid in sent]
        expected = args.tasks * len(nodes)
        print("POST /task -> new_task at %d connected nodes: %d/%d deliveries, p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms (POST round trip p50 %.1f ms)" % (
                  len(nodes), len(delays), expected, percentile(delays, 50), percentile(delays, 99), max(delays),
                  statistics.median(post_times) * 1000))
        after = proc_status(proc.pid)
        print("server after: RSS %s, threads %s" % (after["VmRSS"], after["Threads"]))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
