#!/usr/bin/python3
"""A fake EduVPN portal for tests: the endpoints vantage6's VPN flow calls, checked strictly
(session cookie, PKCE S256, client credentials, bearer token), plus failure modes.

Usage: fake_eduvpn.py   (prints "PORT <n>" once it listens)
Credentials: portal user "vpnuser"/"vpnpass", client "vantage6"/"secret".
The failure mode is set with POST /_test/mode (body: ok | slow | bad_login | bad_token |
bad_profiles | bad_keypair | error_status) and applies to all later requests.
"""
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROFILE_CONFIG = "client\ndev tun\nremote vpn.example.org 1194 udp\n<ca>\nCA-TEXT\n</ca>\n<tls-crypt>\nTLS-CRYPT\n</tls-crypt>\n"
state = {"mode": "ok", "sessions": set(), "codes": {}, "tokens": set(), "keypairs": 0}
lock = threading.Lock()


class Portal(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body="", content_type="application/json", headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        length = int(self.headers.get("Content-Length", "0"))
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}

    def cookie(self):
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "SID":
                return value
        return None

    def bearer_ok(self):
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in state["tokens"]

    def route(self, method):
        url = urllib.parse.urlparse(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        mode = state["mode"]
        if url.path == "/_test/mode" and method == "POST":
            length = int(self.headers.get("Content-Length", "0"))
            state["mode"] = self.rfile.read(length).decode().strip()
            return self.send(200, "{}")
        if mode == "slow":
            time.sleep(30)
        if mode == "error_status":
            return self.send(500, "<html>Internal Server Error</html>", "text/html")
        if url.path == "/_form/auth/verify" and method == "POST":
            form = self.form()
            if form.get("userName") == "vpnuser" and form.get("userPass") == "vpnpass" and mode != "bad_login":
                sid = secrets.token_hex(8)
                with lock:
                    state["sessions"].add(sid)
                return self.send(302, "", "text/html", {"Set-Cookie": "SID=%s; Path=/; HttpOnly" % sid,
                                                       "Location": form.get("_form_auth_redirect_to", "/")})
            return self.send(200, "<html>login form</html>", "text/html")
        if url.path == "/_oauth/authorize" and method == "GET":
            if self.cookie() not in state["sessions"]:
                return self.send(302, "", "text/html", {"Location": "/_form/auth/login"})
            if query.get("client_id") != "vantage6" or query.get("code_challenge_method") != "S256":
                return self.send(400, '{"error":"invalid_request"}')
            code = secrets.token_hex(8)
            with lock:
                state["codes"][code] = (query.get("code_challenge"), query.get("redirect_uri"))
            target = "%s?code=%s&state=%s" % (query.get("redirect_uri"), code, query.get("state"))
            return self.send(302, "", "text/html", {"Location": target})
        if url.path == "/oauth.php/token" and method == "POST":
            form = self.form()
            basic = "Basic " + base64.b64encode(b"vantage6:secret").decode()
            with lock:
                challenge, redirect = state["codes"].pop(form.get("code"), (None, None))
            verifier = form.get("code_verifier", "")
            expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if (self.headers.get("Authorization") != basic or challenge is None or challenge != expected
                    or redirect != form.get("redirect_uri") or mode == "bad_token"):
                return self.send(400, '{"error":"invalid_grant"}')
            token = secrets.token_hex(16)
            with lock:
                state["tokens"].add(token)
            return self.send(200, json.dumps({"access_token": token, "token_type": "bearer", "expires_in": 3600}))
        if url.path.startswith("/api.php/"):
            if not self.bearer_ok():
                return self.send(401, '{"error":"invalid_token"}')
            call = url.path[len("/api.php/"):]
            if call == "profile_list" and method == "GET":
                if mode == "bad_profiles":
                    return self.send(200, "this is not json", "text/plain")
                return self.send(200, json.dumps({"profile_list": {"ok": True, "data": [
                    {"profile_id": "internet", "display_name": "Internet"}]}}))
            if call == "profile_config" and method == "GET":
                if query.get("profile_id") != "internet":
                    return self.send(404, '{"error":"no such profile"}')
                return self.send(200, PROFILE_CONFIG, "application/x-openvpn-profile")
            if call == "create_keypair" and method == "POST":
                self.form()
                if mode == "bad_keypair":
                    return self.send(200, json.dumps({"create_keypair": {"ok": False}}))
                with lock:
                    state["keypairs"] += 1
                    n = state["keypairs"]
                return self.send(200, json.dumps({"create_keypair": {"ok": True, "data": {
                    "certificate": "CERT-%d" % n, "private_key": "KEY-%d" % n}}}))
        return self.send(404, '{"error":"not found"}')

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")


class Server(ThreadingHTTPServer):
    daemon_threads = True


def watch_parent():
    """Exit when the test that started us is gone (even if it crashed), so no peer outlives it."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    watch_parent()
    server = Server(("127.0.0.1", 0), Portal)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
