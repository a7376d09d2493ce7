#!/usr/bin/python3
"""Event channel benchmark, driven by bench/events/run.sh against a running server.

    bench_events.py --import-file FILE [--nodes 100] [--idle 10000]
        writes the `vserver import` file: organization `root` and org-0..org-<nodes-1>; collaboration
        `latency` (root and every org, one node each) and idle-0.. (every org) for <idle> more nodes.
    bench_events.py --port PORT --pid PID [--nodes 100] [--idle 10000] [--tasks 50]
        1. <nodes> nodes on WebSockets; <tasks> times POST /api/task for all their organizations and
           the delay from the moment the POST's answer arrived to each node's `new_task` (p50, p99);
        2. <idle> idle node WebSockets (one per node, all joined to /tasks) and the server's RSS.

Every client lives in one thread on epoll (selectors), the POSTs too (a non-blocking keep-alive
connection in the same loop), so a timestamp is taken right when the bytes arrive and no thread waits
for the GIL. Lines `RESULT<TAB>name<TAB>value<TAB>unit<TAB>target<TAB>ok|MISS`; details as `#` lines.
"""
import argparse
import http.client
import json
import math
import os
import selectors
import socket
import sys
import threading
import time

NEW_TASK = b'42/tasks,["new_task",'
DELAY_TARGET_MS = 5.0
RSS_TARGET_MB = 100.0


def api_key(collaboration, org):
    return "%08x-0000-4000-8000-%012x" % (collaboration, org)


def idle_collaborations(nodes, idle):
    return math.ceil(idle / nodes)


def write_import(path, nodes, idle):
    orgs = ["org-%d" % i for i in range(nodes)]
    with open(path, "w") as f:
        f.write("organizations:\n  - name: root\n")
        for name in orgs:
            f.write("  - name: %s\n" % name)
        f.write("collaborations:\n  - name: latency\n    participants:\n")
        f.write("      - {name: root, api_key: %s}\n" % api_key(0, nodes))
        for i, name in enumerate(orgs):
            f.write("      - {name: %s, api_key: %s}\n" % (name, api_key(0, i)))
        for c in range(idle_collaborations(nodes, idle)):
            f.write("  - name: idle-%d\n    participants:\n" % c)
            for i, name in enumerate(orgs):
                f.write("      - {name: %s, api_key: %s}\n" % (name, api_key(c + 1, i)))


# ---- setup over plain HTTP ----

class Api:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.connection.request(method, "/api" + path, body=json.dumps(body) if body is not None else None,
                                headers=headers)
        r = self.connection.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return r.status, (json.loads(data) if data else None)


def node_tokens(port, keys, threads=4):
    """Logs every node in (a few keep-alive connections; bcrypt at the bench's low cost)."""
    tokens = [None] * len(keys)

    def work(start):
        api = Api(port)
        for i in range(start, len(keys), threads):
            status, body = api.call("POST", "/token/node", {"api_key": keys[i]})
            if status != 200:
                sys.exit("node login answered %d: %s" % (status, body))
            tokens[i] = body["access_token"]

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if None in tokens:
        sys.exit("some node logins failed")
    return tokens


# ---- raw WebSocket clients on one epoll loop ----

def frame(text):
    """A client text frame, masked with the zero key (payload unchanged; the mask bit is what counts)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = bytes([0x81, 0x80 | n])
    else:
        header = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return header + b"\0\0\0\0" + payload


PONG = frame("3")
JOIN = frame("40/tasks,")


class Node:
    """A vantage6 node's WebSocket (EIO=4, websocket only), speaking just enough to sit on /tasks."""
    __slots__ = ("sock", "buffer", "state", "heard", "request")

    def __init__(self, port, token):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))
        self.buffer = b""
        self.state = "connecting"  # -> upgrading -> opening -> joining -> joined
        self.heard = None  # task ids of new_task, when someone listens
        self.request = (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n" % (port, token)).encode()

    def send(self, data):
        n = self.sock.send(data)
        if n != len(data):  # not on loopback with these few bytes, but never silently
            self.sock.setblocking(True)
            self.sock.sendall(data[n:])
            self.sock.setblocking(False)

    def writable(self):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect failed")
        self.send(self.request)
        del self.request
        self.state = "upgrading"

    def readable(self, now):
        """Reads what arrived; False when the server closed the connection."""
        try:
            chunk = self.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return True
        except ConnectionError:
            return False
        if not chunk:
            return False
        buffer = self.buffer + chunk if self.buffer else chunk
        if self.state == "upgrading":
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return True
            if b" 101 " not in buffer[:end]:
                raise RuntimeError("handshake refused: %r" % buffer[:end])
            buffer = buffer[end + 4:]
            self.state = "opening"
        i, size = 0, len(buffer)
        while size - i >= 2:
            opcode, n, start = buffer[i] & 0x0F, buffer[i + 1] & 0x7F, i + 2
            if n == 126:
                if size - i < 4:
                    break
                n, start = int.from_bytes(buffer[i + 2:i + 4], "big"), i + 4
            elif n == 127:
                if size - i < 10:
                    break
                n, start = int.from_bytes(buffer[i + 2:i + 10], "big"), i + 10
            if size < start + n:
                break
            payload = buffer[start:start + n]
            i = start + n
            if opcode == 0x8:
                return False
            if payload == b"2":
                self.send(PONG)
            elif payload.startswith(NEW_TASK):
                if self.heard is not None:
                    self.heard.append((int(payload[len(NEW_TASK):-1]), now))
            elif payload.startswith(b"0{"):
                self.send(JOIN)
                self.state = "joining"
            elif payload.startswith(b"40/tasks,"):
                self.state = "joined"
            elif payload.startswith(b"44/tasks") or payload.startswith(b"41/tasks"):
                raise RuntimeError("the server refused a node: %r" % payload)
        self.buffer = buffer[i:]
        return True


class Post:
    """One keep-alive HTTP connection in the loop: POSTs and the moment each answer is complete."""

    def __init__(self, port, token):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.port, self.token = port, token
        self.buffer = b""
        self.answer = None  # (status, body, time) once complete

    def send(self, path, body):
        data = json.dumps(body).encode()
        self.buffer, self.answer = b"", None
        self.sock.setblocking(True)
        self.sock.sendall((
            "POST /api%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
                path, self.port, self.token, len(data))).encode() + data)
        self.sock.setblocking(False)

    def readable(self, now):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise RuntimeError("the server closed the API connection")
        self.buffer += chunk
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return True
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) >= end + 4 + length:
            self.answer = (int(head[0].split()[1]), self.buffer[end + 4:end + 4 + length], now)
        return True


class Loop:
    def __init__(self):
        self.selector = selectors.DefaultSelector()

    def add(self, client, events=selectors.EVENT_READ):
        self.selector.register(client.sock, events, client)

    def run(self, until, done=lambda: False):
        """Serves every client until `done()` or the deadline (monotonic)."""
        perf = time.perf_counter
        while not done():
            left = until - time.monotonic()
            if left <= 0:
                return False
            for key, mask in self.selector.select(min(left, 0.05)):
                client = key.data
                if mask & selectors.EVENT_WRITE:
                    client.writable()
                    self.selector.modify(client.sock, selectors.EVENT_READ, client)
                    continue
                if not client.readable(perf()):
                    raise RuntimeError("the server closed a node's connection")
        return True


def connect(loop, port, tokens, in_flight=200, timeout=600):
    """Opens one node WebSocket per token, at most `in_flight` handshakes at a time, until all joined."""
    nodes, waiting = [], list(reversed(tokens))
    deadline = time.monotonic() + timeout
    pending = []
    while waiting or pending:
        pending = [n for n in pending if n.state != "joined"]
        while waiting and len(pending) < in_flight:
            n = Node(port, waiting.pop())
            loop.add(n, selectors.EVENT_WRITE)
            nodes.append(n)
            pending.append(n)
        if not loop.run(min(deadline, time.monotonic() + 0.05)) and time.monotonic() > deadline:
            sys.exit("only %d of %d node connections joined /tasks" % (
                sum(n.state == "joined" for n in nodes), len(tokens)))
    return nodes


def settle(loop, quiet=1.0, limit=120):
    """Serves the clients until the server has been silent for `quiet` seconds (joins announced)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        events = loop.selector.select(quiet)
        if not events:
            return
        now = time.perf_counter()
        for key, _ in events:
            if not key.data.readable(now):
                raise RuntimeError("the server closed a node's connection")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(math.ceil(p / 100 * len(values))) - 1)]


def result(name, value, unit, target, ok):
    print("RESULT\t%s\t%.1f\t%s\t%s\t%s" % (name, value, unit, target, "ok" if ok else "MISS"), flush=True)


def status_of(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.split()[0] if value.split() else ""
    return out


def close_all(loop, nodes):
    for n in nodes:
        loop.selector.unregister(n.sock)
        n.sock.close()


def items(body):
    """A list answer, paginated (`data`) or not."""
    return body["data"] if isinstance(body, dict) else body


def delivery(args, loop, api, keys):
    status, body = api.call("GET", "/collaboration?name=latency")
    assert status == 200, body
    cid = items(body)[0]["id"]
    status, body = api.call("GET", "/organization?collaboration_id=%d&per_page=1000" % cid)
    assert status == 200, body
    orgs = [o["id"] for o in items(body) if o["name"].startswith("org-")]
    assert len(orgs) == args.nodes, orgs
    nodes = connect(loop, args.port, node_tokens(args.port, keys))
    settle(loop)
    heard = []
    for n in nodes:
        n.heard = heard
    post = Post(args.port, api.token)
    loop.add(post)
    task = {"collaboration_id": cid, "organizations": [{"id": o, "input": ""} for o in orgs],
            "name": "bench", "image": "bench/image", "description": ""}
    after, since_post, posts, early = [], [], [], 0
    for i in range(args.tasks):
        heard.clear()
        t0 = time.perf_counter()
        post.send("/task", task)
        loop.run(time.monotonic() + 30, lambda: post.answer is not None)
        status, body, t1 = post.answer
        if status != 201:
            sys.exit("POST /api/task answered %d: %s" % (status, body))
        task_id = json.loads(body)["id"]
        if not loop.run(time.monotonic() + 5, lambda: len(heard) >= len(nodes)):
            sys.exit("task %d: %d of %d nodes heard new_task" % (task_id, len(heard), len(nodes)))
        posts.append((t1 - t0) * 1000)
        if os.environ.get("DQ_BENCH_DEBUG"):
            ts = sorted(t for _, t in heard)
            print("# task %d: POST %.1f ms (answer at %.3f); heard from %.2f to %.2f ms after the answer" % (
                task_id, (t1 - t0) * 1000, t1 * 1000, (ts[0] - t1) * 1000, (ts[-1] - t1) * 1000), flush=True)
        for tid, t in heard:
            assert tid == task_id, (tid, task_id)
            after.append(max(0.0, t - t1) * 1000)
            since_post.append((t - t0) * 1000)
            early += t < t1
        loop.run(time.monotonic() + 0.05)  # the next task a little later, as users do
    close_all(loop, nodes)
    loop.selector.unregister(post.sock)
    post.sock.close()
    print("# new_task at %d nodes, %d tasks: after the POST returned p50 %.2f ms, p99 %.2f ms, max %.2f ms "
          "(%d of %d heard it before the POST's answer arrived, 0 counted); since the POST was sent p50 "
          "%.2f ms, p99 %.2f ms; POST /api/task (%d organizations) p50 %.1f ms" % (
              len(nodes), args.tasks, percentile(after, 50), percentile(after, 99), max(after), early,
              len(after), percentile(since_post, 50), percentile(since_post, 99), len(orgs),
              percentile(posts, 50)), flush=True)
    p50, p99 = percentile(after, 50), percentile(after, 99)
    result("events_new_task_100_nodes_p50", p50, "ms", "<%g" % DELAY_TARGET_MS, p50 < DELAY_TARGET_MS)
    result("events_new_task_100_nodes_p99", p99, "ms", "<%g" % DELAY_TARGET_MS, p99 < DELAY_TARGET_MS)


def idle(args, loop, keys):
    before = status_of(args.pid)
    started = time.monotonic()
    tokens = node_tokens(args.port, keys)
    print("# %d node logins took %.1f s" % (len(tokens), time.monotonic() - started), flush=True)
    started = time.monotonic()
    nodes = connect(loop, args.port, tokens)
    took = time.monotonic() - started
    settle(loop)
    quiet = time.monotonic() - started
    held = status_of(args.pid)
    rss = int(held["VmRSS"]) / 1024
    print("# %d idle node WebSockets joined /tasks in %.1f s, the joins' announcements done after %.1f s; "
          "server RSS %.1f MB (%.1f MB before, %.1f kB per connection), threads %s (%s before)" % (
              len(nodes), took, quiet, rss, int(before["VmRSS"]) / 1024,
              (int(held["VmRSS"]) - int(before["VmRSS"])) / len(nodes), held["Threads"], before["Threads"]),
          flush=True)
    result("events_idle_%d_websockets_rss" % len(nodes), rss, "MB", "<%g" % RSS_TARGET_MB, rss < RSS_TARGET_MB)
    close_all(loop, nodes)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-file")
    parser.add_argument("--port", type=int)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    if args.import_file:
        write_import(args.import_file, args.nodes, args.idle)
        return
    api = Api(args.port)
    status, body = api.call("POST", "/token/user", {"username": "root", "password": "root"})
    assert status == 200, body
    api.token = body["access_token"]
    loop = Loop()
    delivery(args, loop, api, [api_key(0, i) for i in range(args.nodes)])
    keys = [api_key(c + 1, i) for c in range(idle_collaborations(args.nodes, args.idle))
            for i in range(args.nodes)][:args.idle]
    idle(args, loop, keys)


if __name__ == "__main__":
    main()
