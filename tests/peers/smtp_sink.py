#!/usr/bin/python3
"""An SMTP sink for tests: accepts every mail on 127.0.0.1 and stores it as JSON in a folder.

Usage: smtp_sink.py DIR [--refuse-first N] [--tls PEM]
Prints "PORT <n>" once it listens. Each mail becomes DIR/mail-<seq>.json with
{"from", "to": [...], "data", "auth", "tls", "sni"} (written to a temporary name first, then renamed).
--refuse-first N answers the first N connections with 421, to exercise the sender's retries.
--tls PEM offers STARTTLS with the certificate and key in PEM and, like real relays, offers AUTH
and accepts mail only after it.
"""
import json
import os
import socketserver
import ssl
import sys
import threading
import time

state = {"seq": 0, "connections": 0, "refuse_first": 0, "dir": ".", "tls": None}
lock = threading.Lock()


class Session(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        with lock:
            state["connections"] += 1
            refuse = state["connections"] <= state["refuse_first"]
        if refuse:
            self.reply("421 sink: not now, try again later")
            return
        self.reply("220 sink ESMTP ready")
        sender, recipients, auth = None, [], None
        secured = False
        offers_tls = state["tls"] is not None
        while True:
            try:
                raw = self.rfile.readline()
            except (ssl.SSLError, OSError):
                return
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if offers_tls and not secured:
                    self.wfile.write(b"250-sink\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                else:
                    self.wfile.write(b"250-sink\r\n250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n")
                self.wfile.flush()
            elif verb == "STARTTLS" and offers_tls and not secured:
                self.reply("220 go ahead")
                try:
                    self.connection = state["tls"].wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # the client refused our certificate
                sni = getattr(self.connection, "sni", None)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                secured, sender, recipients, auth = True, None, [], None
                self.sni = sni
            elif offers_tls and not secured and verb in ("AUTH", "MAIL"):
                self.reply("530 must issue a STARTTLS command first")
            elif verb == "AUTH":
                parts = line.split()
                if len(parts) >= 2 and parts[1].upper() == "LOGIN":
                    self.reply("334 VXNlcm5hbWU6")
                    user = self.rfile.readline().decode().strip()
                    self.reply("334 UGFzc3dvcmQ6")
                    password = self.rfile.readline().decode().strip()
                    auth = {"method": "LOGIN", "user": user, "password": password}
                else:
                    auth = {"method": "PLAIN", "data": parts[2] if len(parts) > 2 else ""}
                self.reply("235 authenticated")
            elif verb == "MAIL":
                sender, recipients = line[10:].strip().strip("<>"), []
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(line[8:].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    data = self.rfile.readline()
                    if not data or data in (b".\r\n", b".\n"):
                        break
                    text = data.decode(errors="replace")
                    lines.append(text[1:] if text.startswith("..") else text)
                self.store({"from": sender, "to": recipients, "data": "".join(lines), "auth": auth,
                            "tls": secured, "sni": getattr(self, "sni", None)})
                self.reply("250 stored")
            elif verb == "RSET":
                sender, recipients = None, []
                self.reply("250 ok")
            elif verb == "NOOP":
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def store(self, mail):
        with lock:
            state["seq"] += 1
            name = os.path.join(state["dir"], "mail-%04d.json" % state["seq"])
        with open(name + ".tmp", "w") as out:
            json.dump(mail, out)
        os.rename(name + ".tmp", name)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def watch_parent():
    """Exit when the test that started us is gone (even if it crashed), so no peer outlives it."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    state["dir"] = sys.argv[1]
    if "--refuse-first" in sys.argv:
        state["refuse_first"] = int(sys.argv[sys.argv.index("--refuse-first") + 1])
    if "--tls" in sys.argv:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[sys.argv.index("--tls") + 1])

        def remember_server_name(connection, name, _context):
            connection.sni = name  # the host name the client asked for (TLS SNI)

        context.sni_callback = remember_server_name
        state["tls"] = context
    watch_parent()
    with Server(("127.0.0.1", 0), Session) as server:
        print("PORT %d" % server.server_address[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
