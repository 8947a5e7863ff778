#!/usr/bin/python3
"""Black-box test of a running `docker compose up` (tests/compose/run.sh starts it).

Everything goes through nginx on --url, as a user's browser would:

 1. nginx's /nginx-health, the dashboard at /, REST /orchestrator/projects
    and /orchestrator/plans (the demo workspace's projects and plans); the
    watcher (uid 10001, the workspace owned by another user) logged
    read_leases "all": CAP_LEASE reached it, so no torn reads.
 2. WebSocket clients at /orchestrator/ws get hello; nginx spreads them over
    gateway-1 and gateway-2 (hello.gateway).
 3. A plan.json edited in the mounted workspace (a host folder, bind-mounted
    read-only into the watcher) arrives at every client as plan_updated.
 4. `docker kill` of gateway-1: its clients see the connection close; while
    they are away, plans change; each resumes through nginx with
    ?epoch=E&since=N, lands on gateway-2, gets hello.replayed = k and exactly
    the k missed events (seq, type, file_path as the client that stayed on
    gateway-2 saw them), then live events.
 5. `docker restart` of the watcher: with durable state (--durable 1, the
    watcher's --state-dir on the compose file's volume) the epoch is kept, no
    client gets resync_required and the next edit continues the seq; without
    it (--durable 0) every client gets resync_required(epoch_changed) and the
    next edit arrives in the new epoch.
 Throughout, each client's events are in seq order with no duplicate and no
 gap that a resync_required did not announce.

Run with Debian's /usr/bin/python3 (python3-websockets). Every wait is a
condition with a timeout. Exit 0 when every check passed, 1 otherwise.
"""

import argparse
import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request

try:
    import websockets
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"compose_test: {e}: run it with /usr/bin/python3 (python3-websockets)")

T0 = time.monotonic()
EVENT_TYPES = {f"{k}_{a}" for k in ("plan", "stub", "workorder") for a in ("added", "updated", "deleted")} | {
    "project_added", "project_updated", "project_removed"}


def log(msg):
    print(f"compose_test: [{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


async def wait_for(cond, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(step)


class Client:
    """One WebSocket client through nginx, recording every message."""

    def __init__(self, name, ws_url, origin):
        self.name, self.ws_url, self.origin = name, ws_url, origin
        self.hellos = []     # every hello (one per connection)
        self.events = []     # (epoch, seq, type, file_path) in arrival order
        self.resyncs = []    # resync_required messages
        self.control = []    # watcher_down / watcher_up
        self.closed = asyncio.Event()
        self.task = None
        self.ws = None

    @property
    def gateway(self):
        return self.hellos[-1].get("gateway") if self.hellos else None

    def position(self):
        if self.events:
            return self.events[-1][0], self.events[-1][1]
        h = self.hellos[-1]
        return h["epoch"], h["seq"]

    async def connect(self, resume=False):
        url = self.ws_url
        if resume:
            epoch, seq = self.position()
            url += f"?epoch={epoch}&since={seq}"
        self.closed = asyncio.Event()
        n = len(self.hellos)
        self.ws = await websockets.connect(url, origin=self.origin, open_timeout=15, max_size=8 << 20)
        self.task = asyncio.create_task(self._read())
        await wait_for(lambda: len(self.hellos) > n or self.closed.is_set(), 15, f"{self.name}: hello")
        check(len(self.hellos) > n, f"{self.name}: closed before hello")

    async def _read(self):
        try:
            async for raw in self.ws:
                m = json.loads(raw)
                t = m.get("type")
                if t == "hello":
                    self.hellos.append(m)
                elif t in EVENT_TYPES:
                    self.events.append((m["epoch"], m["seq"], t, m.get("file_path", "")))
                elif t == "resync_required":
                    self.resyncs.append(m)
                elif t in ("watcher_down", "watcher_up"):
                    self.control.append(m)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def has_event(self, file_path, after_seq=None, epoch=None):
        return any(e[3] == file_path and (after_seq is None or e[1] > after_seq)
                   and (epoch is None or e[0] == epoch) for e in self.events)

    def check_order(self):
        """Seq strictly increasing within an epoch; +1 steps unless a resync came."""
        prev = None
        for e in self.events:
            if prev and prev[0] == e[0]:
                check(e[1] > prev[1], f"{self.name}: seq {e[1]} after {prev[1]} (duplicate or out of order)")
                if e[1] != prev[1] + 1 and not self.resyncs:
                    raise TestFailure(f"{self.name}: gap {prev[1]} -> {e[1]} with no resync_required")
            prev = e

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            await self.task


class Workspace:
    """Edits plan.json files in the mounted workspace (host side)."""

    def __init__(self, root):
        self.root = root
        self.rev = 0

    def edit(self, project_dir, feature, status="in_progress"):
        rel = f"coderef/working/{feature}/plan.json"
        path = os.path.join(self.root, project_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.rev += 1
        body = json.dumps({
            "META_DOCUMENTATION": {"feature_name": feature, "status": status,
                                   "workorder_id": f"WO-E2E-{self.rev:04d}", "version": f"1.{self.rev}"},
            "UNIVERSAL_PLANNING_STRUCTURE": {"notes": "written by tests/compose/compose_test.py",
                                             "revision": self.rev},
        }, indent=2) + "\n"
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # complete at once: the watcher never sees half a file
        return rel


def compose_ps_q(compose, service):
    out = subprocess.run(shlex.split(compose) + ["ps", "-q", service], check=True,
                         capture_output=True, text=True).stdout.strip()
    check(out, f"no container for service {service}")
    return out


async def run(args):
    base = args.url.rstrip("/")
    ws_url = base.replace("http://", "ws://") + "/orchestrator/ws"
    ws = Workspace(args.workspace)

    # 1. HTTP through nginx -----------------------------------------------------
    st, _, body = http_get(base + "/nginx-health")
    check(st == 200 and "ok" in body, f"/nginx-health: {st} {body!r}")
    st, ctype, body = http_get(base + "/")
    check(st == 200 and "text/html" in ctype and "<script" in body,
          f"dashboard at /: {st} {ctype} {body[:200]!r}")
    projects = json.loads(http_get(base + "/orchestrator/projects")[2])
    ids = sorted(p["id"] for p in projects["projects"])
    check({"noted", "atlas-api"} <= set(ids), f"/orchestrator/projects: {ids}")
    plans = json.loads(http_get(base + "/orchestrator/plans?project=noted")[2])["plans"]
    check(any(p["feature_name"] == "auth" for p in plans), f"/orchestrator/plans?project=noted: {plans}")
    log(f"HTTP through nginx: /nginx-health, dashboard, projects {ids}, {len(plans)} plans of noted")

    # 1b. the torn-read guard: the watcher (uid 10001) reads the workspace,
    # owned by another user, under read leases only with CAP_LEASE (cap_add
    # in docker-compose.yml, `cap_lease+p` on the binary).
    logs = subprocess.run(shlex.split(args.compose) + ["logs", "--no-color", "watcher"], check=True,
                          capture_output=True, text=True).stdout
    # (text or JSON log format: `read_leases=all` or `"read_leases":"all"`)
    started = [l for l in logs.splitlines() if "watcher.started" in l]
    check(started, f"no watcher.started line in the watcher's log: {logs[-2000:]!r}")
    m = re.search(r'read_leases"?[=:]"?([a-z]+)', started[-1])
    check(m and m.group(1) == "all",
          f"the watcher reads without CAP_LEASE ({m.group(0) if m else 'no read_leases'} in {started[-1]!r}): "
          f"files rewritten in place could be read mid-write")
    log("watcher: read leases on every file (CAP_LEASE as uid 10001)")

    # 2. WebSocket clients over both gateways -------------------------------------
    clients = []
    for i in range(args.clients):
        c = Client(f"client-{i}", ws_url, base)
        await c.connect()
        clients.append(c)
    h = clients[0].hellos[0]
    check(h.get("epoch") and isinstance(h.get("seq"), int), f"hello: {h}")
    by_gw = {}
    for c in clients:
        by_gw.setdefault(c.gateway, []).append(c)
    log(f"{len(clients)} clients, hello {h}; per gateway: { {g: len(v) for g, v in by_gw.items()} }")
    check(set(by_gw) == {"gw-1", "gw-2"}, f"nginx did not spread clients over both gateways: {sorted(by_gw)}")

    # 3. an edit arrives ----------------------------------------------------------------
    t = time.monotonic()
    rel = ws.edit("noted", "auth", "review")
    await wait_for(lambda: all(c.has_event(rel) for c in clients), 15, f"{rel} at every client")
    log(f"plan.json edit at every client in {1000 * (time.monotonic() - t):.0f} ms (through nginx)")

    # 4. docker kill gateway-1: resume on gateway-2 with exact replay --------------------
    victims, stayers = by_gw["gw-1"], by_gw["gw-2"]
    ref = stayers[0]
    gw1 = compose_ps_q(args.compose, "gateway-1")
    subprocess.run(["docker", "kill", gw1], check=True, capture_output=True)
    await wait_for(lambda: all(c.closed.is_set() for c in victims), 20, "gateway-1's clients to see the close")
    log(f"docker kill gateway-1: its {len(victims)} clients saw their connection close")
    before = ref.position()[1]
    missed = [ws.edit("noted", f"e2e-missed-{i}") for i in range(3)]
    await wait_for(lambda: all(ref.has_event(r, before) for r in missed), 15, "the missed edits at gateway-2's clients")
    expected = [e for e in ref.events if e[1] > victims[0].position()[1]]
    for c in victims:
        since = c.position()[1]
        want = [e for e in ref.events if e[1] > since]
        n_before = len(c.events)
        await c.connect(resume=True)
        hello = c.hellos[-1]
        check(hello.get("gateway") == "gw-2", f"{c.name} resumed on {hello.get('gateway')}, not gw-2")
        check(hello.get("replayed") == len(want), f"{c.name}: replayed {hello.get('replayed')}, want {len(want)}")
        await wait_for(lambda: len(c.events) >= n_before + len(want), 10, f"{c.name}: the replayed events")
        got = c.events[n_before:n_before + len(want)]
        check(got == want, f"{c.name}: replay {got} != {want}")
    log(f"every client of gateway-1 resumed on gw-2 with exactly its {len(expected)} missed events")
    rel = ws.edit("atlas-api", "rate-limiting", "review")
    await wait_for(lambda: all(c.has_event(rel, before) for c in clients), 15, "a live edit after the resume")
    check(not any(c.resyncs for c in clients), "a resync_required before the watcher restart")

    # 5. restart the watcher ------------------------------------------------------------
    epoch, seq = ref.position()
    watcher = compose_ps_q(args.compose, "watcher")
    t = time.monotonic()
    subprocess.run(["docker", "restart", "-t", "10", watcher], check=True, capture_output=True)
    log(f"docker restart watcher in {time.monotonic() - t:.1f} s")
    if args.durable == 1:
        rel = ws.edit("noted", "e2e-after-restart")
        await wait_for(lambda: all(c.has_event(rel, seq, epoch) for c in clients), 30,
                       "the edit after the restart, same epoch, at every client")
        check(not any(c.resyncs for c in clients), f"resync_required after a durable restart: "
              f"{[c.resyncs for c in clients if c.resyncs][:1]}")
        after = [e for e in ref.events if e[3] == rel][0]
        log(f"watcher restart with durable state: epoch {epoch} kept, seq {seq} -> {after[1]}, no resync")
    else:
        await wait_for(lambda: all(any(r.get("reason") == "epoch_changed" for r in c.resyncs) for c in clients), 30,
                       "resync_required(epoch_changed) at every client")
        new_epoch = clients[0].resyncs[-1]["epoch"]
        check(new_epoch != epoch, f"resync_required kept the epoch {epoch}")
        rel = ws.edit("noted", "e2e-after-restart")
        await wait_for(lambda: all(c.has_event(rel, epoch=new_epoch) for c in clients), 30,
                       "the edit after the restart, in the new epoch, at every client")
        log(f"watcher restart without durable state: every client got resync_required(epoch_changed) "
            f"{epoch} -> {new_epoch}, then the next edit (no-resync check: off, the watcher has no --state-dir)")
    stats = json.loads(http_get(base + "/orchestrator/stats")[2])
    check(stats.get("epoch") == ref.position()[0], f"/orchestrator/stats epoch {stats.get('epoch')} != {ref.position()[0]}")

    for c in clients:
        c.check_order()
    for c in clients:
        await c.close()
    log("PASS")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="nginx, e.g. http://127.0.0.1:8080")
    ap.add_argument("--workspace", required=True, help="the host folder mounted as the workspace")
    ap.add_argument("--compose", required=True, help="compose command with -p and -f")
    ap.add_argument("--durable", type=int, choices=(0, 1), required=True,
                    help="1: expect no resync across a watcher restart")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    try:
        asyncio.run(asyncio.wait_for(run(args), 240))
    except (TestFailure, asyncio.TimeoutError, OSError, subprocess.CalledProcessError) as e:
        log(f"FAIL: {e!r}")
        sys.exit(1)


if __name__ == "__main__":
    main()
