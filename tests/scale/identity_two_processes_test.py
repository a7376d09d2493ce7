#!/usr/bin/python3
"""Two server processes on one database: what process B keeps of a caller's identity and rules
follows changes made through process A within identity_cache_ms (here 1000 ms), and a change
written past both servers (plain SQL) within that bound too. Checks, each on B after a change on A:

  - a rule removed from the caller's role is refused (403), and granted again when restored;
  - the caller's old token is refused after a password change (401);
  - the token of a deleted user is refused (401);
  - a credential version raised by plain SQL (no server hears of it) is refused within the bound.

    identity_two_processes_test.py --vserver build/cli/vserver --database sqlite|postgresql

PostgreSQL needs DQ_TEST_POSTGRES_URI (./scripts/test sets it); without it the test is skipped
(exit 77). Prints how long each change took to reach B.
"""
import argparse
import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import requests

BOUND_MS = 1000
# What the checks allow beyond the bound: the HTTP round trips and polling of this script.
SLACK_S = 0.5
SKIP = 77


def fail(message):
    print("FAIL: " + message, file=sys.stderr, flush=True)
    raise SystemExit(1)


# free_port() is the event benchmark's; one copy.
_spec = importlib.util.spec_from_file_location(
    "bench_events", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "events", "bench_events.py"))
_bench_events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_events)
free_port = _bench_events.free_port


class Server:
    def __init__(self, vserver, work, name, uri):
        self.vserver, self.work = vserver, work
        self.port = free_port()
        self.config = os.path.join(work, name + ".yaml")
        with open(self.config, "w") as f:
            f.write(f"""application:
  port: {self.port}
  uri: {uri}
  jwt_secret_key: two-processes
  bcrypt_rounds: 4
  identity_cache_ms: {BOUND_MS}
  logging: {{level: WARNING, use_console: false}}
""")
        self.url = f"http://127.0.0.1:{self.port}/api"

    def ctx(self):
        return ["--config", self.config, "--data-dir", self.work]

    def start(self):
        subprocess.run([self.vserver, "start", *self.ctx()], check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run([self.vserver, "stop", *self.ctx()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(self, method, path, token=None, body=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return requests.request(method, self.url + path, json=body, headers=headers, timeout=30)

    def login(self, username, password):
        r = self.call("POST", "/token/user", body={"username": username, "password": password})
        if r.status_code != 200:
            fail(f"login of {username}: {r.status_code} {r.text}")
        return r.json()["access_token"]


def items(response):
    """The items of a list answer, paginated ({"data": [...]}) or not."""
    body = response.json()
    return body["data"] if isinstance(body, dict) else body


def until(server, token, status, what):
    """Polls GET /organization on `server` until it answers `status`; returns the seconds it took."""
    started = time.monotonic()
    while True:
        r = server.call("GET", "/organization", token)
        elapsed = time.monotonic() - started
        if r.status_code == status:
            print(f"    {what}: seen by B after {elapsed * 1000:.0f} ms (bound {BOUND_MS} ms)", flush=True)
            if elapsed > BOUND_MS / 1000 + SLACK_S:
                fail(f"{what}: B answered {status} only after {elapsed:.2f} s, beyond the bound")
            return elapsed
        if elapsed > 10:
            fail(f"{what}: B still answers {r.status_code} after 10 s ({r.text})")
        time.sleep(0.01)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vserver", required=True)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="dq-identity.")
    pg_admin = pg_name = None
    if args.database == "postgresql":
        pg_admin = os.environ.get("DQ_TEST_POSTGRES_URI")
        if not pg_admin:
            print("skipped: DQ_TEST_POSTGRES_URI is not set")
            return SKIP
        pg_name = f"dq_identity_{os.getpid()}"
        subprocess.run(["psql", "-q", pg_admin, "-c", f"CREATE DATABASE {pg_name}"], check=True)
        uri = pg_admin.rsplit("/", 1)[0] + "/" + pg_name
    else:
        uri = "sqlite:///identity.sqlite"

    def sql(statement):
        """Writes past both servers, as another program would."""
        if pg_name:
            subprocess.run(["psql", "-q", uri, "-c", statement], check=True)
        else:
            with sqlite3.connect(os.path.join(work, "identity.sqlite"), timeout=30) as db:
                db.execute(statement)

    a = Server(args.vserver, work, "a", uri)
    b = Server(args.vserver, work, "b", uri)
    try:
        a.start()
        b.start()
        root = a.login("root", "root")
        me = [u for u in items(a.call("GET", "/user?per_page=1000", root)) if u["username"] == "root"][0]
        org = me["organization"]["id"] if isinstance(me["organization"], dict) else me["organization"]
        rules = items(a.call("GET", "/rule?per_page=1000", root))
        view = [r["id"] for r in rules
                if r["name"] == "organization" and r["scope"].lower() == "global" and r["operation"].lower() == "view"][0]
        role = a.call("POST", "/role", root, {"name": "Viewers", "description": "see organizations",
                                              "rules": [view], "organization_id": org})
        if role.status_code != 201:
            fail(f"POST /role: {role.status_code} {role.text}")
        role = role.json()["id"]

        def user(name):
            r = a.call("POST", "/user", root, {"username": name, "password": "Welkom01!", "email": name + "@example.org",
                                               "firstname": "Two", "lastname": "Processes", "organization_id": org,
                                               "roles": [role]})
            if r.status_code != 201:
                fail(f"POST /user: {r.status_code} {r.text}")
            return r.json()["id"]

        alice, bob = user("alice"), user("bob")
        token = b.login("alice", "Welkom01!")
        for _ in range(3):
            if b.call("GET", "/organization", token).status_code != 200:
                fail("alice cannot see organizations on B")

        print("==> a rule removed from the role on A", flush=True)
        if a.call("PATCH", f"/role/{role}", root, {"rules": []}).status_code != 200:
            fail("PATCH /role on A failed")
        until(b, token, 403, "rule removed")
        if a.call("PATCH", f"/role/{role}", root, {"rules": [view]}).status_code != 200:
            fail("PATCH /role on A failed")
        until(b, token, 200, "rule restored")

        print("==> alice changes her password on A", flush=True)
        r = a.call("PATCH", "/password/change", token, {"current_password": "Welkom01!", "new_password": "Welkom02!!"})
        if r.status_code != 200:
            fail(f"PATCH /password/change: {r.status_code} {r.text}")
        until(b, token, 401, "old token after the password change")

        print("==> alice is deleted on A", flush=True)
        token = b.login("alice", "Welkom02!!")
        until(b, token, 200, "new token")
        if a.call("DELETE", f"/user/{alice}", root).status_code != 200:
            fail("DELETE /user on A failed")
        until(b, token, 401, "token of the deleted user")

        print("==> bob's credential version raised by plain SQL", flush=True)
        token = b.login("bob", "Welkom01!")
        for _ in range(3):
            b.call("GET", "/organization", token)
        sql(f'UPDATE "user" SET credential_version = credential_version + 1 WHERE id = {bob}')
        until(b, token, 401, "credential version changed past the servers")
        print("OK")
        return 0
    finally:
        a.stop()
        b.stop()
        if pg_name:
            subprocess.run(["psql", "-q", pg_admin, "-c", f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
