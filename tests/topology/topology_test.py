#!/usr/bin/python3
"""Failover test of the container-free topology (tests/topology/run.sh starts it).

What it proves, against a running `scripts/topology.sh` topology (watcher,
gateway-1 and gateway-2 started, a spare third port in nginx's upstream):

 1. 200 WebSocket clients through nginx, events flowing (a writer thread
    creates, edits, archives and deletes plan.json files at --rate per
    second); gateway-1 is killed with SIGKILL while events flow; every client
    that was on it reconnects through nginx with ?epoch=E&since=N and
    resumes on a surviving gateway; at the end every client holds every event
    of its range exactly once, in seq order, with the same (type, project,
    file_path) as the watcher's feed, and none got resync_required.
 2. A third gateway started later (`scripts/topology.sh add-gateway`, before
    the kill) serves new clients (hello, then every live event), and clients
    of the killed gateway that resume straight on it get `hello.replayed = k`
    and exactly the k missed events. A resume from before its start is
    replayed too, from the watcher's history (PROTOCOL §1 (restarts)): that probe
    gets `hello.replayed = hello.seq - since`, every event after its `since`
    exactly once, and no resync_required.
 3. A subscriber of the ZeroMQ feed only (examples/feed_subscriber.py --json)
    receives the same events (seq, type, project, file_path): it is the
    authoritative list, and it must itself be gap-free from its snapshot on.

Finally every surviving gateway's REST (and nginx's) equals the disk.

Run with Debian's /usr/bin/python3 (python3-websockets, python3-zmq,
python3-protobuf). Every wait is a condition with a timeout. Exit 0 when
every check passed, 1 otherwise; a summary is printed either way.
"""

import argparse
import asyncio
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request

try:
    import websockets
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"topology_test: {e}: run it with /usr/bin/python3 (python3-websockets)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EVENT_TYPES = {f"{k}_{a}" for k in ("plan", "stub", "workorder") for a in ("added", "updated", "deleted")} | {
    "project_added", "project_updated", "project_removed"}
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


class TestFailure(Exception):
    pass


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            parts = shlex.split(v)
            env[k] = parts[0] if len(parts) == 1 else " ".join(parts)
    return env


def http_json(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def pctl(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


# --- the workspace writer -----------------------------------------------------
STATUSES = ["planning", "in_progress", "review", "blocked", "done"]


def plan_json(project, feature, status, rev):
    return json.dumps({
        "META_DOCUMENTATION": {"feature_name": feature, "status": status, "project": project,
                               "workorder_id": f"WO-{feature.upper()}-{rev:04d}", "version": f"1.{rev}"},
        "UNIVERSAL_PLANNING_STRUCTURE": {"notes": "written by tests/topology/topology_test.py",
                                         "revision": rev},
    }, indent=2) + "\n"


class Writer(threading.Thread):
    """Creates / edits / archives / deletes plan.json files at a steady rate."""

    def __init__(self, workspace, projects, rate, seed):
        super().__init__(name="writer", daemon=True)
        self.ws = workspace
        self.projects = projects
        self.interval = 1.0 / rate
        self.rng = random.Random(seed)
        self.stop_evt = threading.Event()
        self.ops = {"create": 0, "update": 0, "archive": 0, "delete": 0}
        self.live = []  # (project, location, feature)
        self.next_id = 0
        self.rev = 0
        self.error = None
        for p in projects:  # features present at start-up (in the snapshot at seq 0)
            for loc in ("working", "archived"):
                base = os.path.join(self.ws, p, "coderef", loc)
                for feat in sorted(os.listdir(base)) if os.path.isdir(base) else []:
                    if os.path.isfile(os.path.join(base, feat, "plan.json")):
                        self.live.append((p, loc, feat))

    def path(self, p, loc, feat, name="plan.json"):
        return os.path.join(self.ws, p, "coderef", loc, feat, name)

    def write_plan(self, p, loc, feat):
        self.rev += 1
        tmp = self.path(p, loc, feat, ".plan.json.tmp")
        with open(tmp, "w") as f:
            f.write(plan_json(p, feat, self.rng.choice(STATUSES), self.rev))
        os.replace(tmp, self.path(p, loc, feat))  # an editor's atomic save

    def step(self):
        r = self.rng.random()
        working = [x for x in self.live if x[1] == "working"]
        if len(self.live) < 6 or r < 0.45:
            p = self.rng.choice(self.projects)
            feat = f"feat-{self.next_id:04d}"
            self.next_id += 1
            os.makedirs(os.path.dirname(self.path(p, "working", feat)), exist_ok=True)
            self.write_plan(p, "working", feat)
            self.live.append((p, "working", feat))
            self.ops["create"] += 1
        elif r < 0.85 or not working:
            p, loc, feat = self.rng.choice(self.live)
            self.write_plan(p, loc, feat)
            self.ops["update"] += 1
        elif r < 0.92:
            p, loc, feat = self.rng.choice(working)
            dst = os.path.join(self.ws, p, "coderef", "archived", feat)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(os.path.dirname(self.path(p, loc, feat)), dst)
            self.live.remove((p, loc, feat))
            self.live.append((p, "archived", feat))
            self.ops["archive"] += 1
        else:
            x = self.rng.choice(self.live)
            p, loc, feat = x
            os.unlink(self.path(p, loc, feat))
            os.rmdir(os.path.dirname(self.path(p, loc, feat)))
            self.live.remove(x)
            self.ops["delete"] += 1

    def run(self):
        nxt = time.monotonic()
        try:
            while not self.stop_evt.is_set():
                self.step()
                nxt += self.interval
                self.stop_evt.wait(max(0.0, nxt - time.monotonic()))
        except Exception as e:  # noqa: BLE001 - reported as a failure
            self.error = repr(e)

    def total(self):
        return sum(self.ops.values())


def disk_plans(workspace, projects):
    """{(project, file_path): status} of every plan.json on disk."""
    out = {}
    for p in projects:
        for loc in ("working", "archived"):
            base = os.path.join(workspace, p, "coderef", loc)
            if not os.path.isdir(base):
                continue
            for feat in os.listdir(base):
                f = os.path.join(base, feat, "plan.json")
                if os.path.isfile(f):
                    with open(f) as fh:
                        doc = json.load(fh)
                    out[(p, f"coderef/{loc}/{feat}/plan.json")] = doc["META_DOCUMENTATION"]["status"]
    return out


def rest_plans(base_url):
    d = http_json(f"{base_url}/orchestrator/plans")
    return {(x["project"], x["file_path"]): x.get("status") for x in d["plans"]}, d["epoch"], int(d["seq"])


# --- the feed subscriber (authoritative list) -----------------------------------
class FeedSubscriber:
    def __init__(self, env, tmp, pidfile):
        self.stderr_path = os.path.join(tmp, "feed_subscriber.stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "examples", "feed_subscriber.py"), "--json",
             "--feed", env["CODEREF_FEED"], "--snapshot", env["CODEREF_SNAPSHOT"]],
            stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL, text=True)
        with open(pidfile, "a") as f:
            f.write(f"{self.proc.pid} feed_subscriber.py\n")
        self.events = {}  # seq -> (type, project, file_path)
        self.order = []
        self.epochs = set()
        self.bad_lines = 0
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self.read, name="feed-reader", daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stdout:
            try:
                d = json.loads(line)
                seq = int(d["seq"])
                ev = (d["type"], d.get("project", ""), d.get("file_path", ""))
            except (ValueError, KeyError):
                self.bad_lines += 1
                continue
            with self.lock:
                self.epochs.add(d.get("epoch"))
                self.order.append(seq)
                self.events.setdefault(seq, ev)

    def stderr_text(self):
        with open(self.stderr_path) as f:
            return f.read()

    def last_seq(self):
        with self.lock:
            return self.order[-1] if self.order else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stderr.close()


# --- WebSocket clients ------------------------------------------------------------
class Client:
    def __init__(self, cid, group, url, origin, reconnect_url=None, backoff=(0.0, 0.25),
                 resume_from=None, track_state=False, rest_url=None):
        self.cid = cid
        self.group = group
        self.url = url  # first connection
        self.reconnect_url = reconnect_url or url
        self.origin = origin
        self.backoff = backoff
        self.epoch, self.last = resume_from if resume_from else (None, None)
        self.first_hello = None
        self.seqs = []  # every event seq, in receipt order
        self.events = {}  # seq -> (type, project, file_path), first seen
        self.resyncs = []
        self.conns = []  # one dict per hello
        self.gateway = None  # gateway of the open connection
        self.drops = []  # (t_drop, gateway)
        self.reconnect_s = []  # drop -> hello
        self.connect_errors = []
        self.errors = []  # protocol violations seen on the fly
        self.replay_left = 0
        self.replay_next = 0
        self.stop = False
        self.ws = None
        self.connected = asyncio.Event()
        self.t_drop = None
        self.inject = None  # self-test of the checker: "drop" / "dup" one event
        # state tracking (the stale-resume probe): {(project, file_path): status}
        self.track_state = track_state
        self.rest_url = rest_url
        self.state = None
        self.loading = False
        self.buffer = []
        self.rest_seq = None

    def current_url(self):
        base = self.url if not self.conns else self.reconnect_url
        if self.epoch is not None:
            return f"{base}?epoch={self.epoch}&since={self.last}"
        return base

    async def run(self):
        while not self.stop:
            url = self.current_url()
            t_dial = time.monotonic()
            try:
                ws = await websockets.connect(url, origin=self.origin, ping_interval=None,
                                              open_timeout=10, close_timeout=1, max_queue=None,
                                              compression=None)
            except Exception as e:  # noqa: BLE001 - counted, retried
                self.connect_errors.append(f"{type(e).__name__}: {e}")
                await asyncio.sleep(0.2 + random.random() * 0.3)  # retry backoff
                continue
            self.ws = ws
            resume_since = self.last if self.epoch is not None else None
            try:
                async for raw in ws:
                    self.on_message(raw, t_dial, resume_since)
            except websockets.ConnectionClosed:
                pass
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"receive: {type(e).__name__}: {e}")
            finally:
                self.ws = None
            if self.stop:
                break
            self.t_drop = time.monotonic()
            self.drops.append((self.t_drop, self.gateway))
            self.gateway = None
            self.connected.clear()
            await asyncio.sleep(random.uniform(*self.backoff))  # reconnect jitter

    def on_message(self, raw, t_dial, resume_since):
        now = time.monotonic()
        m = json.loads(raw)
        t = m.get("type")
        if t == "hello":
            seq = int(m["seq"])
            conn = {"gateway": m.get("gateway"), "epoch": m.get("epoch"), "seq": seq,
                    "replayed": int(m.get("replayed", 0)), "since": resume_since,
                    "t_dial": t_dial, "t_hello": now, "watcher": m.get("watcher")}
            self.conns.append(conn)
            self.gateway = conn["gateway"]
            if resume_since is None:
                self.epoch, self.last = m["epoch"], seq
                if self.first_hello is None:
                    self.first_hello = conn
            else:
                # (hello.seq - since == replayed is checked in verify(), for
                # the resumes that were not answered by resync_required)
                if m["epoch"] != self.epoch:
                    self.errors.append(f"resume hello epoch {m['epoch']} != {self.epoch}")
                self.replay_left = conn["replayed"]
                self.replay_next = resume_since + 1
            if self.t_drop is not None:
                self.reconnect_s.append(now - self.t_drop)
                self.t_drop = None
            self.connected.set()
        elif t in EVENT_TYPES:
            seq = int(m["seq"])
            if self.inject == "drop" and seq == 5:
                self.inject = None
                return
            if self.inject == "dup" and seq == 5:
                self.inject = None
                self.seqs.append(seq)
            if m.get("epoch") != self.epoch:
                self.errors.append(f"event seq {seq} of epoch {m.get('epoch')} != {self.epoch}")
            if self.replay_left > 0:
                if seq != self.replay_next:
                    self.errors.append(f"replay: expected seq {self.replay_next}, got {seq}")
                self.replay_left -= 1
                self.replay_next += 1
            self.seqs.append(seq)
            ev = (t, m.get("project", ""), m.get("file_path", ""))
            self.events.setdefault(seq, ev)
            if self.last is None or seq > self.last:
                self.last = seq
            if self.track_state:
                if self.loading:
                    self.buffer.append((seq, t, m))
                else:
                    self.apply(seq, t, m)
        elif t == "resync_required":
            self.resyncs.append({"reason": m.get("reason"), "seq": int(m["seq"]),
                                 "gateway": self.gateway, "since": resume_since})
            if self.conns:
                self.conns[-1]["resync"] = m.get("reason")
            self.epoch, self.last = m["epoch"], int(m["seq"])
            if self.track_state:
                self.loading = True
                self.buffer = []
                asyncio.get_running_loop().create_task(self.reload())
        elif t in ("ping", "pong", "watcher_up"):
            pass
        else:  # watcher_down, error, unknown
            self.errors.append(f"unexpected message: {raw[:200]}")

    def apply(self, seq, t, m):
        if self.rest_seq is not None and seq <= self.rest_seq:
            return  # already in the REST state
        key = (m.get("project", ""), m.get("file_path", ""))
        if not t.startswith("plan_"):
            return
        if t == "plan_deleted":
            self.state.pop(key, None)
        else:
            self.state[key] = (m.get("item") or {}).get("status")

    async def reload(self):
        try:
            state, epoch, seq = await asyncio.to_thread(rest_plans, self.rest_url)
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"REST reload: {e}")
            return
        if epoch != self.epoch:
            self.errors.append(f"REST reload epoch {epoch} != {self.epoch}")
        self.state, self.rest_seq = state, seq
        for seq_, t, m in self.buffer:
            self.apply(seq_, t, m)
        self.buffer = []
        self.loading = False

    async def close(self):
        self.stop = True
        ws = self.ws
        if ws is not None:
            try:
                await ws.close()
            except Exception:  # noqa: BLE001
                pass


async def wait_for(cond, timeout, what, interval=0.05):
    """Waits until cond() is true; TestFailure after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if asyncio.iscoroutine(v):
            v = await v
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure(f"timeout after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


# --- the test -------------------------------------------------------------------
class TopologyTest:
    def __init__(self, args):
        self.args = args
        self.env = read_env(args.env)
        self.run_dir = self.env["CODEREF_RUN_DIR"]
        self.workspace = self.env["CODEREF_WORKSPACE"]
        self.nginx_url = self.env["CODEREF_TOPOLOGY_URL"]
        self.nginx_ws = self.env["CODEREF_TOPOLOGY_WS"]
        self.gw_urls = self.env["CODEREF_GATEWAY_URLS"].split()
        spare = self.env.get("CODEREF_SPARE_GATEWAY_URLS", "").split()
        if len(self.gw_urls) < 2 or not spare:
            raise TestFailure("the topology needs 2 gateways and a spare port "
                              "(CODEREF_GATEWAY_PORTS, CODEREF_SPARE_GATEWAY_PORTS)")
        self.gw3_url = spare[0]
        self.origin = self.nginx_url  # an allowed Origin: nginx's (and a loopback host)
        self.watcher_http = self.env["CODEREF_WATCHER_HTTP"]
        with open(self.env["CODEREF_PROJECTS_FILE"]) as f:
            self.projects = [p.get("id") or p["name"] for p in json.load(f)["projects"]]
        self.failures = []
        self.notes = {}
        self.tasks = []
        self.clients = []
        self.feed = None
        self.writer = None

    def ws_url(self, http_url):
        return http_url.replace("http://", "ws://", 1) + "/orchestrator/ws"

    def check(self, ok, msg):
        if not ok:
            self.failures.append(msg)
            log(f"FAIL: {msg}")
        return ok

    async def watcher_health(self):
        return await asyncio.to_thread(http_json, f"{self.watcher_http}/healthz")

    async def watcher_seq(self):
        return int((await self.watcher_health())["seq"])

    async def start_clients(self, clients, what, timeout=30, quiet=False):
        sem = asyncio.Semaphore(40)

        async def one(c):
            async with sem:
                self.tasks.append(asyncio.get_running_loop().create_task(c.run()))
                await asyncio.wait_for(c.connected.wait(), timeout)

        self.clients.extend(clients)
        try:
            await asyncio.wait_for(asyncio.gather(*(one(c) for c in clients)), timeout)
        except asyncio.TimeoutError:
            n = sum(1 for c in clients if c.first_hello or c.resyncs)
            errs = [e for c in clients for e in c.connect_errors][:3]
            raise TestFailure(f"{what}: only {n} of {len(clients)} got hello within {timeout}s; "
                              f"connect errors: {errs}") from None
        if not quiet:
            log(f"{what}: {len(clients)} connected ({self.by_gateway(clients)})")

    @staticmethod
    def by_gateway(clients):
        d = {}
        for c in clients:
            d[c.gateway] = d.get(c.gateway, 0) + 1
        return ", ".join(f"{k}: {v}" for k, v in sorted(d.items(), key=lambda kv: str(kv[0])))

    async def run(self):
        a = self.args
        health = await self.watcher_health()
        epoch0 = health["epoch"]
        log(f"watcher epoch {epoch0} seq {health['seq']}; workspace {self.workspace}")

        # 0. REST through nginx: its upstream keepalive reuses the gateways'
        #    connections (each answer leaves the connection open), so 40
        #    requests open only a few gateway connections
        await self.rest_through_nginx_reuses_connections()

        # 3. the ZeroMQ-only subscriber, before any change
        self.feed = FeedSubscriber(self.env, a.tmp, a.pidfile)
        await wait_for(lambda: "snapshot (start)" in self.feed.stderr_text()
                       or self.feed.proc.poll() is not None, 20, "the feed subscriber's snapshot")
        if self.feed.proc.poll() is not None:
            raise TestFailure(f"feed_subscriber exited: {self.feed.stderr_text()[-500:]}")
        line = [x for x in self.feed.stderr_text().splitlines() if "snapshot (start)" in x][0]
        feed_snap_seq = int(line.split(" seq ")[1].split(",")[0])
        log(f"feed subscriber up: {line.split(': ', 1)[1]}")

        # 1. 200 clients through nginx, plus 10 straight to gateway-1 that will
        #    resume straight on gateway-3 after the kill
        # after the kill, even clients reconnect at once (reconnect time), odd
        # ones after 0.8-1.4 s so they miss a batch or two (replay through nginx)
        nginx_clients = [Client(f"n{i:03d}", "nginx", self.nginx_ws, self.origin,
                                backoff=(0.0, 0.0) if i % 2 == 0 else (0.8, 1.4))
                         for i in range(a.clients)]
        if a.inject != "none":
            nginx_clients[0].inject = a.inject
        await self.start_clients(nginx_clients, f"{a.clients} clients via nginx")
        direct = [Client(f"d{i:02d}", "gw1->gw3", self.ws_url(self.gw_urls[0]), self.origin,
                         reconnect_url=self.ws_url(self.gw3_url), backoff=(1.5, 1.5))
                  for i in range(a.direct)]
        await self.start_clients(direct, f"{a.direct} clients straight to gw-1")
        seq0 = await self.watcher_seq()
        for c in nginx_clients + direct:
            self.check(c.first_hello["epoch"] == epoch0 and c.first_hello["seq"] == seq0,
                       f"{c.cid}: hello {c.first_hello['epoch']}/{c.first_hello['seq']} "
                       f"!= watcher {epoch0}/{seq0}")
        self.check(any(c.gateway == "gw-1" for c in nginx_clients)
                   and any(c.gateway == "gw-2" for c in nginx_clients),
                   f"nginx did not spread the clients over gw-1 and gw-2: {self.by_gateway(nginx_clients)}")

        # events flow
        self.writer = Writer(self.workspace, self.projects, a.rate, a.seed)
        self.writer.start()
        log(f"writer: {a.rate:g} changes/s")
        await wait_for(self.seq_at_least(seq0 + a.warmup_events), 20,
                       f"{a.warmup_events} events from the watcher")

        # 2. a third gateway, started now
        t = time.monotonic()
        r = await asyncio.to_thread(
            subprocess.run, [os.path.join(ROOT, "scripts", "topology.sh"), "add-gateway"],
            capture_output=True, text=True, timeout=45)
        if r.returncode != 0:
            raise TestFailure(f"topology.sh add-gateway failed: {r.stdout}{r.stderr}")
        gw3_ready_s = time.monotonic() - t
        gw3_seq = await self.watcher_seq()
        log(f"gw-3 up on {self.gw3_url} in {gw3_ready_s:.2f}s (watcher seq {gw3_seq})")
        fresh = [Client(f"g{i:02d}", "new@gw3", self.ws_url(self.gw3_url), self.origin)
                 for i in range(a.new_clients)]
        await self.start_clients(fresh, f"{a.new_clients} new clients straight to gw-3")
        for c in fresh:
            self.check(c.first_hello["gateway"] == "gw-3" and c.first_hello["epoch"] == epoch0,
                       f"{c.cid}: hello from {c.first_hello['gateway']} epoch {c.first_hello['epoch']}")
        # a resume from before gw-3 existed: replayed from the watcher's history
        probe = Client("stale", "probe@gw3", self.ws_url(self.gw3_url), self.origin,
                       resume_from=(epoch0, seq0))
        self.clients.append(probe)
        self.tasks.append(asyncio.get_running_loop().create_task(probe.run()))
        await wait_for(lambda: probe.conns and probe.replay_left == 0, 15,
                       "the stale probe's hello and replay")
        ph = probe.conns[0]
        self.check(not probe.resyncs and ph["seq"] - seq0 == ph["replayed"],
                   f"stale probe: resyncs {probe.resyncs[:1]}, hello seq {ph['seq']} "
                   f"replayed {ph['replayed']} since {seq0}")
        log(f"stale probe (since {seq0} on gw-3): hello seq {ph['seq']}, replayed {ph['replayed']} "
            f"from the watcher's history")

        # nginx lists gw-3's port from the start but skips it for fail_timeout
        # (5 s) after a refused connect: new clients through nginx reach gw-3
        # once it is back in rotation (least_conn then prefers it).
        t_ready = time.monotonic()
        late = []
        deadline = t_ready + 15
        while not any(c.gateway == "gw-3" for c in late):
            if time.monotonic() >= deadline:
                raise TestFailure(f"nginx routed none of {len(late)} new clients to gw-3 within 15s "
                                  f"({self.by_gateway(late)})")
            c = Client(f"l{len(late):02d}", "late-nginx", self.nginx_ws, self.origin)
            late.append(c)
            await self.start_clients([c], f"late client {c.cid} via nginx", quiet=True)
            if c.gateway != "gw-3":
                await asyncio.sleep(0.25)  # the pace of new clients, not a wait for a state
        self.notes["late"] = (len(late), time.monotonic() - t_ready, self.by_gateway(late))
        log(f"nginx routed a new client to gw-3 after {time.monotonic() - t_ready:.1f}s "
            f"({len(late)} late clients: {self.by_gateway(late)})")

        await wait_for(self.seq_at_least(gw3_seq + a.warmup_events), 20, "more events")

        # kill gateway-1 while events flow
        pid = int(open(os.path.join(self.run_dir, "pids", "gateway-1.pid")).read())
        exe = os.readlink(f"/proc/{pid}/exe")
        if not exe.endswith("gateway-svc"):
            raise TestFailure(f"gateway-1.pid {pid} runs {exe}, not gateway-svc")
        on_gw1 = [c for c in self.clients if c.gateway == "gw-1"]
        not_gw1 = [c for c in self.clients if c.gateway != "gw-1"]
        kill_seq = await self.watcher_seq()
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        log(f"SIGKILL gw-1 (PID {pid}) at watcher seq {kill_seq}: {len(on_gw1)} clients on it")
        await wait_for(lambda: all(len(c.drops) >= 1 and c.gateway is not None for c in on_gw1), 30,
                       "every client of gw-1 to reconnect")
        reconnected_at = await self.watcher_seq()
        log(f"all {len(on_gw1)} reconnected {time.monotonic() - t_kill:.2f}s after the kill "
            f"(watcher seq {reconnected_at}); now on: {self.by_gateway(on_gw1)}")
        # live events after the resumes, then stop writing
        await wait_for(self.seq_at_least(reconnected_at + a.warmup_events), 20, "events after the resumes")
        self.writer.stop_evt.set()
        self.writer.join(5)
        self.check(self.writer.error is None, f"writer failed: {self.writer.error}")

        # the final seq: the watcher's, once it has been still for a while
        final = await self.settled_seq()
        log(f"writer stopped after {self.writer.total()} changes {self.writer.ops}; final seq {final}")
        await wait_for(lambda: all(c.last == final for c in self.clients)
                       and self.feed.last_seq() == final, 30,
                       f"every client and the feed subscriber to reach seq {final}")
        await self.settled_seq(final)  # nothing more came meanwhile
        log("every client and the feed subscriber reached the final seq")
        for c in self.clients:
            await c.close()

        self.verify(epoch0, final, feed_snap_seq, nginx_clients, direct, fresh, probe,
                    on_gw1, not_gw1, kill_seq, gw3_seq, t_kill)
        await self.verify_rest(probe)

    async def rest_through_nginx_reuses_connections(self, n=40):
        def accepted():
            total = 0
            for url in self.gw_urls:
                with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
                    for line in r.read().decode().splitlines():
                        if line.startswith("coderef_gateway_tcp_connections_total "):
                            total += int(float(line.split()[1]))
            return total

        def requests():
            ok = 0
            for _ in range(n):
                with urllib.request.urlopen(self.nginx_url + "/orchestrator/stats", timeout=5) as r:
                    r.read()
                    ok += r.status == 200
            return ok

        before = await asyncio.to_thread(accepted)
        ok = await asyncio.to_thread(requests)
        opened = await asyncio.to_thread(accepted) - before - len(self.gw_urls)  # the reads' own
        self.check(ok == n, f"REST through nginx: {ok} of {n} answered 200")
        # nginx keeps up to 16 idle upstream connections; without keep-alive
        # every request would have opened one
        self.check(opened <= 8, f"REST through nginx: {n} requests opened {opened} gateway connections")
        log(f"REST through nginx: {n} requests, {opened} new gateway connections (upstream keepalive)")

    def seq_at_least(self, n):
        async def cond():
            return await self.watcher_seq() >= n
        return cond

    async def settled_seq(self, expect=None, still_s=1.5, timeout=20):
        """The watcher's seq once it has not moved for still_s (> --debounce-ms)."""
        deadline = time.monotonic() + timeout
        last, since = await self.watcher_seq(), time.monotonic()
        while time.monotonic() - since < still_s:
            if time.monotonic() >= deadline:
                raise TestFailure(f"the watcher's seq did not settle within {timeout}s")
            await asyncio.sleep(0.1)
            s = await self.watcher_seq()
            if s != last:
                last, since = s, time.monotonic()
        if expect is not None:
            self.check(last == expect, f"watcher seq moved to {last} after the final seq {expect}")
        return last

    def verify(self, epoch0, final, feed_snap_seq, nginx_clients, direct, fresh, probe,
               on_gw1, not_gw1, kill_seq, gw3_seq, t_kill):
        feed = self.feed
        # the authoritative list: the ZeroMQ feed, gap-free from its snapshot on
        fseqs = feed.order
        self.check(feed.epochs == {epoch0}, f"feed epochs {feed.epochs} != {{{epoch0}}}")
        self.check(fseqs == list(range(feed_snap_seq + 1, final + 1)),
                   f"feed subscriber: seqs not exactly {feed_snap_seq + 1}..{final} "
                   f"({len(fseqs)} events, {len(set(fseqs))} distinct)")
        self.check("re-snapshot" not in feed.stderr_text(),
                   "feed subscriber had to re-snapshot (lost events on the feed)")
        self.check(feed.bad_lines == 0, f"feed subscriber: {feed.bad_lines} unparsable lines")
        auth = feed.events

        totals = {"missing": 0, "dup": 0, "order": 0, "extra": 0, "mismatch": 0, "resync": 0,
                  "errors": 0}
        worst = []
        for c in self.clients:
            if c is probe:
                continue
            lo = c.first_hello["seq"] + 1
            expected = set(range(lo, final + 1))
            got = set(c.seqs)
            missing = len(expected - got)
            dup = len(c.seqs) - len(got)
            order = sum(1 for i in range(1, len(c.seqs)) if c.seqs[i] <= c.seqs[i - 1])
            extra = len(got - expected)
            mismatch = sum(1 for s, ev in c.events.items() if auth.get(s) != ev)
            resync = len(c.resyncs)
            for k, v in (("missing", missing), ("dup", dup), ("order", order), ("extra", extra),
                         ("mismatch", mismatch), ("resync", resync), ("errors", len(c.errors))):
                totals[k] += v
            if missing or dup or order or extra or mismatch or resync or c.errors:
                worst.append(f"{c.cid}({c.group}): missing {missing} dup {dup} order {order} "
                             f"extra {extra} mismatch {mismatch} resync {c.resyncs[:1]} "
                             f"errors {c.errors[:2]}")
        for k, v in totals.items():
            self.check(v == 0, f"{k}: {v} in total over the clients")
        for w in worst[:5]:
            log(f"  {w}")

        # who dropped: exactly the clients of gw-1, once each, none back on gw-1
        dropped = [c for c in self.clients if c.drops]
        self.check(set(map(id, dropped)) == set(map(id, on_gw1)),
                   f"{len(dropped)} clients dropped, {len(on_gw1)} were on gw-1 "
                   f"(others dropped: {[c.cid for c in not_gw1 if c.drops][:5]})")
        self.check(all(len(c.drops) == 1 for c in on_gw1),
                   f"clients of gw-1 dropped more than once: {[c.cid for c in on_gw1 if len(c.drops) > 1][:5]}")
        back_on = [c.conns[-1]["gateway"] for c in on_gw1]
        self.check("gw-1" not in back_on, "a client reconnected to gw-1 after its death")
        nginx_dropped = [c for c in on_gw1 if c.group == "nginx"]
        self.check(all(c.conns[-1]["since"] is not None for c in on_gw1),
                   "a reconnect did not resume with epoch/since")
        # the direct clients of gw-1 resumed on gw-3 with a real replay
        for c in direct:
            last = c.conns[-1]
            self.check(last["gateway"] == "gw-3" and last["replayed"] >= 1
                       and last["seq"] - last["since"] == last["replayed"],
                       f"{c.cid}: resume on {last['gateway']} since {last['since']} "
                       f"replayed {last['replayed']} hello seq {last['seq']}")
        # the new clients of gw-3 got live events
        for c in fresh:
            self.check(len(c.seqs) >= 1,
                       f"{c.cid}: {len(c.seqs)} events after hello seq {c.first_hello['seq']}")
        # every resume not answered by resync_required: hello.seq - since == replayed
        bad = [(c.cid, x["since"], x["seq"], x["replayed"]) for c in self.clients for x in c.conns
               if x["since"] is not None and not x.get("resync")
               and x["seq"] - x["since"] != x["replayed"]]
        self.check(not bad, f"resumes with hello.seq - since != replayed: {bad[:5]}")
        self.check(not probe.errors, f"stale probe errors: {probe.errors[:3]}")
        self.check(not probe.resyncs, f"stale probe: {len(probe.resyncs)} resyncs")
        psince = probe.conns[0]["since"] if probe.conns else None
        self.check(psince is not None and probe.seqs == list(range(psince + 1, final + 1)),
                   f"stale probe: {len(probe.seqs)} events, expected every one after {psince} "
                   f"up to {final} once, in order")

        immediate = [c for c in nginx_dropped if c.backoff == (0.0, 0.0)]
        delayed = [c for c in nginx_dropped if c.backoff != (0.0, 0.0)]
        rec = [x for c in immediate for x in c.reconnect_s]
        dial = [c.conns[-1]["t_hello"] - c.conns[-1]["t_dial"] for c in nginx_dropped]
        delayed_replays = [c.conns[-1]["replayed"] for c in delayed]
        self.check(sum(delayed_replays) > 0,
                   "no delayed resume through nginx replayed anything (were events flowing?)")
        errs = sum(len(c.connect_errors) for c in on_gw1)
        self.notes.update(
            final=final, kill_seq=kill_seq, gw3_seq=gw3_seq, totals=totals,
            dropped=len(dropped), nginx_dropped=len(nginx_dropped),
            back_on=self.by_gateway(nginx_dropped), rec=rec, dial=dial, connect_errors=errs,
            replayed=[c.conns[-1]["replayed"] for c in immediate], delayed_replays=delayed_replays,
            direct_replayed=[c.conns[-1]["replayed"] for c in direct],
            fresh_hello=sorted({c.first_hello["seq"] for c in fresh}),
            fresh_events=[len(c.seqs) for c in fresh],
            feed_events=len(fseqs), probe=probe,
            delivered=sum(len(c.seqs) for c in self.clients))

    async def verify_rest(self, probe):
        disk = disk_plans(self.workspace, self.projects)
        urls = {"gw-2": self.gw_urls[1], "gw-3": self.gw3_url, "nginx": self.nginx_url}
        results = {}
        for name, url in urls.items():
            state, _, seq = await asyncio.to_thread(rest_plans, url)
            diff = set(state.items()) ^ set(disk.items())
            results[name] = len(diff)
            self.check(not diff, f"REST {name} (seq {seq}) != disk: {sorted(diff)[:4]}")
        self.notes.update(disk_plans=len(disk), rest=results)

    def summary(self, elapsed):
        n = self.notes
        a = self.args
        ok = not self.failures
        print()
        print(f"topology test: {'PASS' if ok else 'FAIL'} in {elapsed:.1f}s")
        if "totals" in n:
            t = n["totals"]
            rec, dial = n["rec"], n["dial"]
            late = n.get("late", (0, 0, ""))
            print(f"  clients      {a.clients} via nginx + {a.direct} direct to gw-1 + "
                  f"{a.new_clients} new on gw-3 + {late[0]} late via nginx ({late[2]}) "
                  f"+ 1 stale-resume probe = {len(self.clients)}")
            print(f"  events       {n['final']} (seq 1..{n['final']}) from {self.writer.total()} "
                  f"changes at {a.rate:g}/s; {n['delivered']} delivered over WebSocket")
            print(f"  per client   missing {t['missing']}  duplicates {t['dup']}  "
                  f"out-of-order {t['order']}  extra {t['extra']}  content mismatches "
                  f"{t['mismatch']}  resync_required {t['resync']}  protocol errors {t['errors']}")
            print(f"  feed (ZMQ)   {n['feed_events']} events, same (seq, type, project, file_path) "
                  f"as every WebSocket client")
            print(f"  failover     gw-1 SIGKILLed at seq {n['kill_seq']}: {n['dropped']} clients "
                  f"dropped, all resumed ({n['nginx_dropped']} via nginx -> {n['back_on']}; "
                  f"{a.direct} direct -> gw-3); {n['connect_errors']} failed reconnect attempts")
            print(f"  reconnect    {len(rec)} immediate via nginx: drop->hello p50 "
                  f"{pctl(rec, .5) * 1000:.0f} ms, max {max(rec, default=float('nan')) * 1000:.0f} ms; "
                  f"dial->hello (all {len(dial)}) p50 {pctl(dial, .5) * 1000:.0f} ms, "
                  f"max {max(dial, default=float('nan')) * 1000:.0f} ms")
            rp, dp = n["replayed"], n["delayed_replays"]
            print(f"  replays      via nginx: immediate {sum(1 for r in rp if r)}/{len(rp)} resumes "
                  f"replayed (total {sum(rp)}), delayed 0.8-1.4 s {sum(1 for r in dp if r)}/{len(dp)} "
                  f"(total {sum(dp)}, max {max(dp, default=0)}); gw-1 -> gw-3 direct (1.5 s): "
                  f"{n['direct_replayed']}")
            print(f"  gw-3         started at seq {n['gw3_seq']}; nginx routed new clients to it "
                  f"{late[1]:.1f}s after it was ready; {a.new_clients} new clients "
                  f"(hello seq {n['fresh_hello']}) got {min(n['fresh_events'], default=0)}-"
                  f"{max(n['fresh_events'], default=0)} live events each, complete; stale resume -> "
                  f"replayed {n['probe'].conns[0]['replayed'] if n['probe'].conns else '-'} from the "
                  f"watcher's history, resyncs: {len(n['probe'].resyncs)}")
            if "rest" in n:
                print(f"  REST = disk  {n['disk_plans']} plans; differences: "
                      + ", ".join(f"{k} {v}" for k, v in n["rest"].items()))
        if self.failures:
            print(f"  {len(self.failures)} failure(s):")
            for f in self.failures[:20]:
                print(f"    - {f}")
        return ok

    async def shutdown(self):
        if self.writer:
            self.writer.stop_evt.set()
        for c in self.clients:
            await c.close()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def amain(test):
    try:
        await asyncio.wait_for(test.run(), test.args.deadline)
    except asyncio.TimeoutError:
        test.failures.append(f"the test did not finish within {test.args.deadline}s")
    except TestFailure as e:
        test.failures.append(str(e))
        log(f"FAIL: {e}")
    finally:
        await test.shutdown()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True, help="topology.env written by scripts/topology.sh start")
    p.add_argument("--tmp", required=True, help="a scratch folder")
    p.add_argument("--pidfile", required=True, help="PIDs of started helpers are appended here")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--direct", type=int, default=10, help="clients on gw-1's port resuming on gw-3")
    p.add_argument("--new-clients", type=int, default=20, help="fresh clients on gw-3")
    p.add_argument("--rate", type=float, default=20.0, help="file changes per second")
    p.add_argument("--warmup-events", type=int, default=30,
                   help="events to wait for between the phases")
    p.add_argument("--seed", type=int, default=int(os.environ.get("CODEREF_TOPOLOGY_SEED", "1")))
    p.add_argument("--deadline", type=float, default=90.0, help="seconds for the whole test")
    p.add_argument("--inject", choices=("none", "drop", "dup"), default="none",
                   help="self-test of the checker: one client drops / duplicates seq 5 "
                        "(the run must then FAIL)")
    args = p.parse_args()
    random.seed(args.seed)

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    test = TopologyTest(args)
    t0 = time.monotonic()
    try:
        asyncio.run(amain(test))
    finally:
        if test.feed:
            test.feed.stop()
    ok = test.summary(time.monotonic() - t0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
