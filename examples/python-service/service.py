"""A Portico-registered service in plain Python (standard library only).

Registers with the registry's HTTP API, heartbeats every ttl/3 (registering again when a heartbeat answers
404), and on SIGTERM or Ctrl-C drains: marks itself draining, lets in-flight requests finish, deregisters.
"""
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGISTRY = os.environ.get("PORTICO_REGISTRY_URL", "http://127.0.0.1:8081").rstrip("/")
TOKEN = os.environ.get("PORTICO_ADMIN_TOKEN", "")
NAME = "inventory"
VERSION = "1.0.0"
TTL_SECONDS = 15


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"service": NAME, "version": VERSION, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def registry(method, path, body=None):
    """Calls the registry; returns the HTTP status (0 when the registry cannot be reached)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(REGISTRY + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if TOKEN:
        request.add_header("authorization", "Bearer " + TOKEN)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
port = server.server_address[1]
instance = f"/v1/services/{NAME}/instances/{NAME}-{socket.gethostname()}-{port}"
registration = {"url": f"http://127.0.0.1:{port}", "version": VERSION, "ttl": f"{TTL_SECONDS}s"}
stopping = threading.Event()


def keep_registered():
    registered = False
    while not stopping.is_set():
        if registered:
            status = registry("PUT", instance + "/heartbeat")
            registered = status != 404  # 404: the registry forgot us, register again now
            if status == 404:
                continue
        else:
            registered = registry("PUT", instance, registration) in (200, 201)
        stopping.wait(TTL_SECONDS / 3)


def drain(*_):
    def shut_down():
        stopping.set()
        registry("POST", instance + "/drain")
        time.sleep(1)  # let the gateway see the drain before the server stops
        server.shutdown()  # returns once serve_forever stopped; in-flight requests finish in their threads
        registry("DELETE", instance)

    threading.Thread(target=shut_down).start()


signal.signal(signal.SIGTERM, drain)
signal.signal(signal.SIGINT, drain)
threading.Thread(target=keep_registered, daemon=True).start()
print(f"{NAME} {VERSION} listening on http://127.0.0.1:{port}", flush=True)
server.daemon_threads = False
server.serve_forever()
server.server_close()
