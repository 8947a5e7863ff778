#!/usr/bin/python3
"""Soak test of coderef-live: one watcher, two gateways, many WebSocket
clients that reconnect at random (resuming from where they were, on either
gateway), a steady stream of changes on disk. Run by scripts/soak.sh, which
builds the binaries first; see that file for the options.

Every client checks its own stream: events in seq order within the epoch,
each exactly once; a gap is only allowed when announced by resync_required.
Counted per client: missed (a silent hole), duplicated, out-of-epoch,
resyncs (by reason), reconnects, close codes. At the end the writer stops,
every client must reach the final seq, and both gateways' REST state must
equal the disk. RSS of the three processes is sampled all along.

Needs /usr/bin/python3 with python3-websockets (Debian).
"""
import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

RE_TYPE = re.compile(r'^\{"type":"([a-z_]+)"')
RE_EPOCH = re.compile(r'"epoch":"([0-9a-zA-Z]*)"')
RE_SEQ = re.compile(r'"seq":(\d+)')
RE_REASON = re.compile(r'"reason":"([a-z_]+)"')
CONTROL = {"ping", "pong", "error", "watcher_down", "watcher_up"}


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def http_json(port, path, timeout=5):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------- clients

class ClientState:
    __slots__ = ("epoch", "pos", "missed", "dups", "wrong_epoch", "events", "resyncs",
                 "reconnects", "closes", "errors", "started")

    def __init__(self):
        self.epoch = None
        self.pos = 0
        self.missed = 0
        self.dups = 0
        self.wrong_epoch = 0
        self.events = 0
        self.resyncs = {}
        self.reconnects = 0
        self.closes = {}
        self.errors = 0
        self.started = False


def handle(st, text, seen):
    m = RE_TYPE.match(text)
    if not m:
        st.errors += 1
        return
    t = m.group(1)
    if t in CONTROL:
        return
    if t == "hello":
        if not st.started:  # a fresh client learns its position
            st.epoch = RE_EPOCH.search(text).group(1)
            st.pos = int(RE_SEQ.search(text).group(1))
            st.started = True
        return
    if t == "resync_required":
        reason = RE_REASON.search(text).group(1)
        st.resyncs[reason] = st.resyncs.get(reason, 0) + 1
        st.epoch = RE_EPOCH.search(text).group(1)
        st.pos = int(RE_SEQ.search(text).group(1))
        return
    epoch = RE_EPOCH.search(text).group(1)
    seq = int(RE_SEQ.search(text).group(1))
    st.events += 1
    if epoch != st.epoch:
        st.wrong_epoch += 1
        return
    if seq <= st.pos:
        st.dups += 1
        return
    if seq > st.pos + 1:
        st.missed += seq - st.pos - 1
    st.pos = seq
    # Same seq, same event for every client of this worker.
    key = text[:160]
    prev = seen.get(seq)
    if prev is None:
        seen[seq] = key
    elif prev != key:
        st.errors += 1


async def run_client(cid, ports, args, stop_reconnecting, final_seq, seen):
    import websockets  # Debian's python3-websockets
    rnd = random.Random(cid)
    st = ClientState()
    port = ports[cid % len(ports)]
    while True:
        url = f"ws://127.0.0.1:{port}/orchestrator/ws"
        if st.started:
            url += f"?epoch={st.epoch}&since={st.pos}"
        try:
            async with websockets.connect(url, compression=None, max_size=1 << 22, ping_interval=None,
                                          open_timeout=30, close_timeout=2) as ws:
                lifetime = rnd.expovariate(1.0 / args.reconnect_mean) if args.reconnect_mean > 0 else 1e9
                until = time.monotonic() + lifetime
                while True:
                    if not stop_reconnecting.is_set() and time.monotonic() >= until:
                        break
                    fs = final_seq.value
                    if fs and st.started and st.pos >= fs and st.epoch:
                        return st
                    # Read for up to a second at a time (cancelling recv is
                    # safe), without a timer per message.
                    closed_by_server = False
                    try:
                        async with asyncio.timeout(1.0):
                            async for text in ws:
                                handle(st, text, seen)
                        closed_by_server = True  # the iteration ends when the connection does
                    except TimeoutError:
                        pass
                    if closed_by_server:
                        code = str(ws.close_code)
                        st.closes[code] = st.closes.get(code, 0) + 1
                        break
                # A random way to go: polite close or a dropped connection.
                if ws.open:
                    if rnd.random() < 0.5:
                        await ws.close()
                    else:
                        ws.transport.abort()
        except websockets.exceptions.ConnectionClosed as e:
            code = e.code if hasattr(e, "code") else 0
            st.closes[str(code)] = st.closes.get(str(code), 0) + 1
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            st.errors += 1
            await asyncio.sleep(0.5)
        st.reconnects += 1
        port = ports[rnd.randrange(len(ports))]
        await asyncio.sleep(rnd.random() * 0.2)


def worker_main(wid, client_ids, ports, args, stop_reconnecting, final_seq, queue):
    async def main():
        seen = {}
        tasks = []
        for cid in client_ids:
            tasks.append(asyncio.ensure_future(run_client(cid, ports, args, stop_reconnecting, final_seq, seen)))
            await asyncio.sleep(args.connect_spread / max(1, len(client_ids)))
        done, pending = await asyncio.wait(tasks, timeout=args.duration + args.catch_up + 120)
        for t in pending:
            t.cancel()
        results = []
        stuck = 0
        for t in tasks:
            if t in done and not t.cancelled() and t.exception() is None:
                results.append(t.result())
            else:
                stuck += 1
        return results, stuck

    results, stuck = asyncio.run(main())
    agg = {"clients": len(results), "stuck": stuck, "missed": 0, "dups": 0, "wrong_epoch": 0, "events": 0,
           "reconnects": 0, "errors": 0, "resyncs": {}, "closes": {}, "max_missed_client": 0,
           "positions": []}
    for st in results:
        agg["missed"] += st.missed
        agg["dups"] += st.dups
        agg["wrong_epoch"] += st.wrong_epoch
        agg["events"] += st.events
        agg["reconnects"] += st.reconnects
        agg["errors"] += st.errors
        agg["max_missed_client"] = max(agg["max_missed_client"], st.missed)
        agg["positions"].append(st.pos)
        for k, v in st.resyncs.items():
            agg["resyncs"][k] = agg["resyncs"].get(k, 0) + v
        for k, v in st.closes.items():
            agg["closes"][k] = agg["closes"].get(k, 0) + v
    queue.put(agg)


# ---------------------------------------------------------------- writer

class Writer:
    """About `rate` changes per second: atomic rewrites of plans and stubs,
    new and deleted plans, workorder-log lines (rotated). The set of files is
    bounded, so the services' state is too."""

    def __init__(self, root, rate, seed=7):
        self.root = root
        self.rate = rate
        self.rnd = random.Random(seed)
        self.n = 0
        self.plans = set()
        self.log = os.path.join(root, "coderef", "workorder-log.txt")
        self.log_lines = []

    def atomic(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp~"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)

    def plan_path(self, i):
        return os.path.join(self.root, "coderef", "working", f"f{i}", "plan.json")

    def change(self):
        self.n += 1
        r = self.rnd.random()
        if r < 0.70 or not self.plans:
            i = self.rnd.randrange(300)
            self.atomic(self.plan_path(i), json.dumps(
                {"META_DOCUMENTATION": {"feature_name": f"f{i}", "status": f"s{self.n}"}}))
            self.plans.add(i)
        elif r < 0.80:
            i = self.rnd.choice(sorted(self.plans))
            shutil.rmtree(os.path.dirname(self.plan_path(i)), ignore_errors=True)
            self.plans.discard(i)
        elif r < 0.90:
            i = self.rnd.randrange(100)
            self.atomic(os.path.join(self.root, "coderef", "stubs", f"s{i}", "stub.json"), json.dumps(
                {"feature_name": f"s{i}", "priority": "high", "status": f"v{self.n}"}))
        else:
            # The log is kept between 100 and 200 lines (a rotation: the
            # file replaced by its last 100 lines), so the state stays
            # bounded and RSS can be judged.
            self.log_lines.append(f"WO-SOAK-{self.n} | alpha | change {self.n} | 2026-11-26T10:00:00Z\n")
            if len(self.log_lines) > 200:
                self.log_lines = self.log_lines[-100:]
                self.atomic(self.log, "".join(self.log_lines))
            else:
                with open(self.log, "a") as f:
                    f.write(self.log_lines[-1])

    def disk_plans(self):
        out = {}
        base = os.path.join(self.root, "coderef", "working")
        for name in os.listdir(base):
            p = os.path.join(base, name, "plan.json")
            if os.path.isfile(p):
                with open(p) as f:
                    out[f"coderef/working/{name}/plan.json"] = json.load(f)["META_DOCUMENTATION"]["status"]
        return out


# ---------------------------------------------------------------- main

def start_services(args, ws, logdir):
    projects = os.path.join(ws, "projects.json")
    wlog = open(os.path.join(logdir, "watcher.log"), "w")
    watcher = subprocess.Popen([os.path.join(args.build_dir, "watcher-svc", "watcher-svc"),
                                "--projects", projects, "--pub", "tcp://127.0.0.1:*",
                                "--snapshot", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"],
                               stdout=wlog, stderr=subprocess.STDOUT)
    text = ""
    for _ in range(400):
        text = open(os.path.join(logdir, "watcher.log")).read()
        if "watcher.started" in text:
            break
        time.sleep(0.05)
    pub = re.search(r"pub=(tcp://[0-9.]+:[0-9]+)", text).group(1)
    snap = re.search(r"snapshot=(tcp://[0-9.]+:[0-9]+)", text).group(1)
    gateways = []
    for g in range(args.gateways):
        port_file = os.path.join(logdir, f"gw{g + 1}.port")
        glog = open(os.path.join(logdir, f"gw{g + 1}.log"), "w")
        proc = subprocess.Popen([os.path.join(args.build_dir, "gateway-svc", "gateway-svc"),
                                 "--feed", pub, "--snapshot", snap, "--listen", "127.0.0.1:0",
                                 "--port-file", port_file, "--gateway-id", f"gw{g + 1}",
                                 "--max-clients", str(args.clients + 100), "--log-level", "warn"],
                                stdout=glog, stderr=subprocess.STDOUT)
        for _ in range(400):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = int(open(port_file).read())
        gateways.append((proc, port))
    for _, port in gateways:
        for _ in range(200):
            try:
                if http_json(port, "/readyz").get("ready"):
                    break
            except Exception:
                pass
            time.sleep(0.1)
    return watcher, gateways


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50, help="changes per second on disk")
    ap.add_argument("--gateways", type=int, default=2)
    ap.add_argument("--reconnect-mean", type=float, default=60,
                    help="mean seconds a client stays connected before it reconnects (0: never)")
    ap.add_argument("--workers", type=int, default=2, help="client processes")
    ap.add_argument("--connect-spread", type=float, default=20, help="seconds over which clients connect")
    ap.add_argument("--catch-up", type=float, default=90, help="seconds allowed to converge at the end")
    ap.add_argument("--sample-every", type=float, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the workspace and logs")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="coderef-soak-")
    ws = os.path.join(tmp, "ws")
    logdir = os.path.join(tmp, "logs")
    os.makedirs(os.path.join(ws, "alpha", "coderef", "working"))
    os.makedirs(logdir)
    with open(os.path.join(ws, "projects.json"), "w") as f:
        json.dump({"projects": [{"name": "alpha", "path": "alpha"}]}, f)
    writer = Writer(os.path.join(ws, "alpha"), args.rate)
    for _ in range(100):
        writer.change()

    watcher, gateways = start_services(args, ws, logdir)
    procs = {"watcher": watcher.pid}
    for i, (p, _) in enumerate(gateways):
        procs[f"gw{i + 1}"] = p.pid
    ports = [port for _, port in gateways]
    log(f"watcher pid {watcher.pid}, gateways on {ports}; logs in {logdir}")

    stop_reconnecting = mp.Event()
    final_seq = mp.Value("Q", 0)
    queue = mp.Queue()
    workers = []
    ids = list(range(args.clients))
    for w in range(args.workers):
        part = ids[w::args.workers]
        p = mp.Process(target=worker_main, args=(w, part, ports, args, stop_reconnecting, final_seq, queue))
        p.start()
        workers.append(p)

    samples = {name: [] for name in procs}
    t0 = time.monotonic()
    next_sample = t0
    next_change = t0
    changes = 0
    try:
        while time.monotonic() - t0 < args.duration:
            now = time.monotonic()
            if now >= next_change:
                writer.change()
                changes += 1
                next_change += 1.0 / args.rate
            if now >= next_sample:
                for name, pid in procs.items():
                    samples[name].append((now - t0, rss_kb(pid)))
                next_sample += args.sample_every
                if int(now - t0) % 60 < args.sample_every:
                    seq = http_json(ports[0], "/orchestrator/stats").get("seq")
                    log(f"t={now - t0:5.0f}s changes={changes} seq={seq} " +
                        " ".join(f"{n}={samples[n][-1][1] // 1024}MiB" for n in procs))
            time.sleep(max(0.0, min(next_change, next_sample) - time.monotonic()))
        log(f"load done: {changes} changes in {time.monotonic() - t0:.0f}s; converging")
        stop_reconnecting.set()
        # Quiet: the seq stops moving and the REST state equals the disk.
        last = -1
        for _ in range(120):
            seqs = [http_json(p, "/orchestrator/stats")["seq"] for p in ports]
            if len(set(seqs)) == 1 and seqs[0] == last:
                break
            last = seqs[0]
            time.sleep(1)
        final_seq.value = last
        disk = writer.disk_plans()
        rest_ok = []
        for p in ports:
            plans = {x["file_path"]: x["status"] for x in http_json(p, "/orchestrator/plans?project=alpha")["plans"]}
            rest_ok.append(plans == disk)
        results = [queue.get(timeout=args.catch_up + 180) for _ in workers]
        for p in workers:
            p.join(timeout=10)
        for name, pid in procs.items():
            samples[name].append((time.monotonic() - t0, rss_kb(pid)))
    finally:
        for p in workers:
            if p.is_alive():
                p.terminate()
        for p, _ in gateways:
            p.send_signal(signal.SIGTERM)
        watcher.send_signal(signal.SIGTERM)
        for p, _ in gateways:
            p.wait(timeout=10)
        watcher.wait(timeout=10)

    total = {"clients": 0, "stuck": 0, "missed": 0, "dups": 0, "wrong_epoch": 0, "events": 0, "reconnects": 0,
             "errors": 0, "resyncs": {}, "closes": {}, "max_missed_client": 0}
    behind = 0
    for r in results:
        for k in ("clients", "stuck", "missed", "dups", "wrong_epoch", "events", "reconnects", "errors"):
            total[k] += r[k]
        total["max_missed_client"] = max(total["max_missed_client"], r["max_missed_client"])
        behind += sum(1 for p in r["positions"] if p != final_seq.value)
        for k in ("resyncs", "closes"):
            for a, b in r[k].items():
                total[k][a] = total[k].get(a, 0) + b

    print()
    print("==== soak results ====")
    print(f"duration            {args.duration:.0f} s of load, {changes} changes on disk ({changes / args.duration:.1f}/s)")
    print(f"final seq           {final_seq.value}")
    print(f"clients             {args.clients} requested, {total['clients']} finished, {total['stuck']} stuck, "
          f"{behind} not at the final seq")
    print(f"events delivered    {total['events']}")
    print(f"reconnects          {total['reconnects']} (resume on a random gateway)")
    print(f"missed (silent)     {total['missed']}")
    print(f"duplicated          {total['dups']}")
    print(f"wrong epoch         {total['wrong_epoch']}")
    print(f"protocol errors     {total['errors']}")
    print(f"resync_required     {json.dumps(total['resyncs'])}")
    print(f"close codes         {json.dumps(total['closes'])}")
    print(f"REST == disk        {rest_ok}")
    # Warm-up: the first third (the gateways' --history of 10000 events
    # fills in ~200 s at 50 events/s).
    warm = max(1, len(samples['watcher']) // 3)
    for name, s in samples.items():
        vals = [v for _, v in s if v > 0]
        if len(vals) <= warm:
            continue
        base = vals[warm]
        growth = vals[-1] - base
        half = vals[len(vals) // 2]
        last_third = vals[(2 * len(vals)) // 3]
        print(f"RSS {name:6s}          start {vals[0] / 1024:.1f} MiB, after warm-up (1/3) {base / 1024:.1f} MiB, "
              f"max {max(vals) / 1024:.1f} MiB, end {vals[-1] / 1024:.1f} MiB, growth after warm-up "
              f"{growth / 1024:+.1f} MiB ({100.0 * growth / max(1, base):+.1f}%), over the second half "
              f"{(vals[-1] - half) / 1024:+.1f} MiB, over the last third {(vals[-1] - last_third) / 1024:+.1f} MiB")
    print("(gateway RSS grows until --history (10000 events) is full: ~200 s at 50 events/s)")
    ok = (total["missed"] == 0 and total["dups"] == 0 and total["wrong_epoch"] == 0 and total["stuck"] == 0
          and behind == 0 and all(rest_ok) and total["clients"] == args.clients)
    print("RESULT              " + ("PASS" if ok else "FAIL"))
    if args.keep or not ok:
        print(f"workspace and logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
