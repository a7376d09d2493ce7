#!/usr/bin/python3
"""A TCP proxy for tests that must lose a connection: forwards 127.0.0.1:<port> to TARGET.
While the file CUT exists, every forwarded connection is closed and new ones are closed at once,
as if the target went down; once it is removed, connections go through again.

Usage: tcp_proxy.py TARGET_HOST TARGET_PORT CUT
Prints "PORT <n>" once it listens.
"""
import os
import socket
import sys
import threading
import time

target = (sys.argv[1], int(sys.argv[2]))
cut_file = sys.argv[3]
open_sockets = set()
lock = threading.Lock()


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    for s in (source, sink):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client):
    try:
        upstream = socket.create_connection(target, timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    with lock:
        open_sockets.update((client, upstream))
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


def cut_when_told():
    while True:
        if os.path.exists(cut_file):
            with lock:
                for s in list(open_sockets):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()
                open_sockets.clear()
        time.sleep(0.05)


def watch_parent():
    """Exit when the test that started us is gone, so no peer outlives it."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    threading.Thread(target=cut_when_told, daemon=True).start()
    threading.Thread(target=watch_parent, daemon=True).start()
    print("PORT %d" % listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        if os.path.exists(cut_file):
            client.close()
        else:
            serve(client)


if __name__ == "__main__":
    main()
