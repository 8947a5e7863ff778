"""Python clients that reuse connections against a gateway: http.client's
HTTPConnection (several requests, one connection) and requests.Session (its
pool). Prints one line per request ("<client> <path> <status> <local port>")
and exits 0 only if every request got 200 and each client used one
connection. Usage: /usr/bin/python3 keepalive_python.py PORT"""
import http.client
import sys

import requests

port = int(sys.argv[1])
paths = ["/readyz", "/", "/orchestrator/stats", "/index.html", "/healthz", "/"]
ok = True

conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
local = set()
for path in paths:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    local.add(conn.sock.getsockname()[1])
    print("http.client", path, resp.status, conn.sock.getsockname()[1])
    ok = ok and resp.status == 200
conn.close()
ok = ok and len(local) == 1

session = requests.Session()
local = set()
for path in paths:
    resp = session.get("http://127.0.0.1:%d%s" % (port, path), timeout=5, stream=True)
    sock_port = resp.raw._connection.sock.getsockname()[1]
    resp.content  # read to the end: the connection goes back to the pool
    local.add(sock_port)
    print("requests", path, resp.status_code, sock_port)
    ok = ok and resp.status_code == 200
session.close()
ok = ok and len(local) == 1
sys.exit(0 if ok else 1)
