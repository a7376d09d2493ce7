#!/usr/bin/python3
"""A vantage6-like node on the event channel, driven by test_e2e_events: python-socketio 5.x (the
client vantage6 nodes use) against a running server. Prints one JSON object with what it saw;
exits non-zero with a message on stderr when a step fails.

    socketio_client.py <scenario> <base_url> <node_token> <user_token> <collaboration_id> <organization_id>
"""
import json
import os
import socket
import sys
import threading
import time

import requests
import socketio
import websocket

NS = "/tasks"


def fail(message):
    print(message, file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)  # the socket.io client's threads would keep sys.exit() waiting


class Node:
    """A socket.io client on /tasks that records what it receives."""

    def __init__(self):
        self.sio = socketio.Client(reconnection=False)
        self.events = {}
        self.cond = threading.Condition()
        for name in ("new_task", "task_created", "expired_token", "message", "node-online", "node-offline",
                     "algorithm_status_change"):
            self.sio.on(name, self._recorder(name), namespace=NS)
        self.sio.on("disconnect", self._recorder("disconnect"), namespace=NS)

    def _recorder(self, name):
        def record(*args):
            with self.cond:
                self.events.setdefault(name, []).append(args[0] if args else None)
                self.cond.notify_all()
        return record

    def connect(self, url, token=None, transports=None, auth=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        self.sio.connect(url, headers=headers, auth=auth, transports=transports, namespaces=[NS],
                         wait_timeout=5)

    def wait_for(self, name, predicate=lambda payload: True, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for payload in self.events.get(name, []):
                    if predicate(payload):
                        return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def create_task(base, user_token, collaboration_id, organization_id):
    r = requests.post(base + "/api/task", headers={"Authorization": "Bearer " + user_token}, json={
        "collaboration_id": collaboration_id,
        "organizations": [{"id": organization_id, "input": ""}],
        "name": "events-e2e", "image": "harbor2.vantage6.ai/demo/average", "description": "e2e",
    })
    if r.status_code not in (200, 201):
        fail("POST /api/task answered %d: %s" % (r.status_code, r.text))
    return r.json()["id"]


def node_view(base, user_token, node_id):
    r = requests.get(base + "/api/node/%d" % node_id, headers={"Authorization": "Bearer " + user_token})
    return r.json()


def node_flow(args, transports):
    """Connect, hear about a new task, ping, report node info, disconnect."""
    base, node_token, user_token, cid, oid = args
    node = Node()
    node.connect(base, node_token, transports=transports)
    out = {"transport": node.sio.transport(), "sid": bool(node.sio.get_sid(NS))}
    started = time.monotonic()
    task_id = create_task(base, user_token, int(cid), int(oid))
    got = node.wait_for("new_task", lambda p: p == task_id)
    out["created_task"] = task_id
    out["new_task"] = got
    out["new_task_seconds"] = round(time.monotonic() - started, 3)
    created = node.wait_for("task_created", lambda p: isinstance(p, dict))
    out["task_created_has_task_id"] = bool(created) and "task_id" in created
    # call() waits for the server's ack, which comes after the database work is done.
    node.sio.call("ping", namespace=NS, timeout=5)
    node.sio.call("node_info_update", {"encryption": False, "allowed_algorithms": ["algo/a", "algo/b"]},
                  namespace=NS, timeout=5)
    out["joined_messages"] = node.events.get("message", [])
    # The node's own id: its token's subject.
    import base64
    claims = json.loads(base64.urlsafe_b64decode(node_token.split(".")[1] + "==="))
    node_id = int(claims["sub"])
    out["node_id"] = node_id
    view = node_view(base, user_token, node_id)
    out["status_while_connected"] = view.get("status")
    out["last_seen_set"] = bool(view.get("last_seen"))
    out["config"] = view.get("config")
    node.sio.call("algorithm_status_change", {"result_id": 42, "task_id": task_id, "collaboration_id": int(cid),
                                              "status": "active", "node_id": node_id,
                                              "organization_id": int(oid), "parent_id": None},
                  namespace=NS, timeout=5)
    change = node.wait_for("algorithm_status_change")
    out["status_change_run_id"] = change.get("run_id") if change else None
    # python-engineio 4.3's polling write loop leaves as soon as disconnect() marks the client
    # `disconnecting`: when it is still waiting for the answer to an earlier POST (the server may send
    # the ack through the long poll before it answers that POST, as it does under load), the goodbye
    # packets are never sent and the server only notices after pingInterval + pingTimeout (45 s).
    # Wait until the write loop has sent everything; it then sends the goodbye as soon as it is queued.
    node.sio.eio.queue.join()
    node.sio.disconnect()
    # Over polling, the goodbye packets leave with the client's write loop; let it finish.
    writer = getattr(node.sio.eio, "write_loop_task", None)
    if writer:
        writer.join(5)
    print(json.dumps(out))


def expired(args):
    base = args[0]
    node = Node()
    try:
        node.connect(base, "not.a.jwt")
    except socketio.exceptions.ConnectionError:
        pass  # the DISCONNECT may beat connect()'s own check; what was heard is what counts
    got = node.wait_for("expired_token", timeout=5) is not None or "expired_token" in node.events
    gone = node.wait_for("disconnect", timeout=5) is not None or "disconnect" in node.events
    node.sio.disconnect()
    print(json.dumps({"expired_token": got, "disconnected": gone}))


def no_token(args):
    base = args[0]
    node = Node()
    try:
        node.connect(base, None, transports=["websocket"])
        refused = False
    except socketio.exceptions.ConnectionError:
        refused = True
    node.sio.disconnect()
    print(json.dumps({"refused": refused}))


def raw_ws(base, path_query, send_bytes=None, handshake=None):
    """A hand-written WebSocket connection: returns what the server answered (bytes)."""
    host, port = base.replace("http://", "").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    request = handshake or (
        "GET /socket.io/?%s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path_query, host, port))
    s.sendall(request.encode())
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if send_bytes is not None:
            s.sendall(send_bytes)
            s.settimeout(5)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return data


def abuse(args):
    """Bad handshakes, garbage and oversized frames, unauthenticated clients; a good node keeps working."""
    base, node_token, user_token, cid, oid = args
    good = Node()
    good.connect(base, node_token, transports=["websocket"])
    out = {}
    # No Sec-WebSocket-Key.
    host_port = base.replace("http://", "")
    bad = raw_ws(base, "", handshake="GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n" % host_port)
    out["missing_key_status"] = bad.split(b" ")[1].decode() if bad else ""
    out["old_protocol_status"] = requests.get(base + "/socket.io/?EIO=3&transport=polling").status_code
    out["unknown_sid_status"] = requests.get(base + "/socket.io/?EIO=4&transport=polling&sid=nope").status_code
    out["unknown_transport_status"] = requests.get(base + "/socket.io/?EIO=4&transport=carrier-pigeon").status_code
    # An unmasked frame: a protocol violation (close code 1002).
    answer = raw_ws(base, "EIO=4&transport=websocket", send_bytes=b"\x81\x05hello")
    out["garbage_closed_with"] = close_code(answer)
    # A frame announcing 100 MB: refused on its header (close code 1009).
    answer = raw_ws(base, "EIO=4&transport=websocket",
                    send_bytes=b"\x82\xff" + (100 * 1024 * 1024).to_bytes(8, "big") + b"\x00\x00\x00\x00")
    out["oversized_closed_with"] = close_code(answer)
    # Masked text that is not Engine.IO.
    mask = b"\x01\x02\x03\x04"
    payload = b"\xffnot engine.io"
    framed = b"\x81" + bytes([0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    out["nonsense_closed_with"] = close_code(raw_ws(base, "EIO=4&transport=websocket", send_bytes=framed))
    # Oversized polling POST.
    r = requests.get(base + "/socket.io/?EIO=4&transport=polling")
    sid = json.loads(r.text[1:])["sid"]
    r = requests.post(base + "/socket.io/?EIO=4&transport=polling&sid=" + sid, data="4" + "x" * 1_200_000)
    out["oversized_post_status"] = r.status_code
    # Unauthenticated socket.io connect.
    anon = Node()
    try:
        anon.connect(base, None)
        out["anonymous_refused"] = False
    except socketio.exceptions.ConnectionError:
        out["anonymous_refused"] = True
    anon.sio.disconnect()
    # The good node is still connected and still hears about tasks.
    task_id = create_task(base, user_token, int(cid), int(oid))
    out["good_node_new_task"] = good.wait_for("new_task", lambda p: p == task_id) == task_id
    good.sio.disconnect()
    print(json.dumps(out))


def close_code(answer):
    """The status code of the close frame in a server's raw answer, or None."""
    body = answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""
    i = 0
    while i + 2 <= len(body):
        opcode, length = body[i] & 0x0F, body[i + 1] & 0x7F
        start = i + 2
        if length == 126:
            length, start = int.from_bytes(body[i + 2:i + 4], "big"), i + 4
        if opcode == 0x8:
            return int.from_bytes(body[start:start + 2], "big") if length >= 2 else 1005
        i = start + length
    return None


def main():
    # A hang must fail the test, not stall it.
    threading.Timer(60, lambda: fail("scenario did not finish within 60 s")).start()
    if len(sys.argv) < 3:
        fail(__doc__)
    scenario, args = sys.argv[1], sys.argv[2:]
    if scenario == "polling-upgrade":
        node_flow(args, None)
    elif scenario == "websocket":
        node_flow(args, ["websocket"])
    elif scenario == "polling-only":
        node_flow(args, ["polling"])
    elif scenario == "expired":
        expired(args)
    elif scenario == "no-token":
        no_token(args)
    elif scenario == "abuse":
        abuse(args)
    else:
        fail("unknown scenario " + scenario)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
