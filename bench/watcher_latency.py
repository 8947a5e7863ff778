#!/usr/bin/python3
"""Lone-save latency of watcher-svc: the time from a save to its event on
the ZeroMQ feed, p50/p99 over N saves of each kind, and the watcher's CPU
time while idle.

  bench/watcher_latency.py --build build/release [--saves 100] [--idle-s 60]
                           [--modes atomic,inplace,newfolder]
  bench/watcher_latency.py --state-dir    # the same with --state-dir (write-ahead
                                          # commits; prints their p50/p99 too)

Kinds of save: `atomic` (write a temp file, rename it over plan.json: the
clock starts at the rename), `inplace` (open(O_TRUNC), write, close: the
clock starts at the open) and `newfolder` (mkdir of a new feature folder,
then its plan.json written and closed: the clock starts at the mkdir; not
in the default --modes). Starts the real watcher on a temp workspace
(loopback, free ports), a real SUB socket, saves plan.json N times per kind
(one at a time, waiting for each event), then measures idle CPU from /proc.
--build may be any build folder (e.g. a baseline's). Prints a table and one
JSON line.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time

import zmq

def gen_proto(root):
    out = tempfile.mkdtemp(prefix="coderef-pb-")
    subprocess.check_call(["protoc", "-I", os.path.join(root, "proto"), "--python_out", out,
                           os.path.join(root, "proto/coderef/v1/feed.proto")])
    sys.path.insert(0, out)
    from coderef.v1 import feed_pb2  # noqa
    return feed_pb2, out

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--saves", type=int, default=100)
    ap.add_argument("--idle-s", type=float, default=60)
    ap.add_argument("--modes", default="atomic,inplace")
    ap.add_argument("--state-dir", action="store_true", help="run the watcher with --state-dir (in the temp workspace)")
    ap.add_argument("--state-sync", default="normal", help="with --state-dir: normal or full")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    feed_pb2, pbdir = gen_proto(root)
    ws = tempfile.mkdtemp(prefix="coderef-lat-")
    os.makedirs(f"{ws}/p/coderef/working/f")
    plan = f"{ws}/p/coderef/working/f/plan.json"
    with open(plan, "w") as fh:
        fh.write('{"META_DOCUMENTATION":{"status":"s0"}}')
    with open(f"{ws}/projects.json", "w") as fh:
        json.dump({"projects": [{"name": "p", "path": "p"}]}, fh)
    log = open(f"{ws}/watcher.log", "w+")
    proc = subprocess.Popen([os.path.join(root, a.build, "watcher-svc/watcher-svc"), "--projects", f"{ws}/projects.json",
                             "--pub", "tcp://127.0.0.1:*", "--snapshot", "tcp://127.0.0.1:*", "--http", ""]
                            + (["--state-dir", f"{ws}/state", "--state-sync", a.state_sync] if a.state_dir else []),
                            stderr=log)
    try:
        pub = None
        for _ in range(400):
            log.seek(0)
            m = re.search(r"pub=(tcp://\S+)", log.read())
            if m:
                pub = m.group(1)
                break
            time.sleep(0.025)
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(pub)
        # Wait for the subscription to be live (a heartbeat).
        while True:
            t, body = sub.recv_multipart()
            if t == b"hb":
                break
        def save(i, mode):
            text = '{"META_DOCUMENTATION":{"status":"s%d"}}' % i
            if mode == "newfolder":
                # A new feature folder and its first plan.json, saved at once
                # (its close may come before the folder's watch exists).
                d = os.path.join(os.path.dirname(os.path.dirname(plan)), "new-%d" % i)
                t0 = time.time()
                os.mkdir(d)
                with open(os.path.join(d, "plan.json"), "w") as fh:
                    fh.write(text)
                return t0
            if mode == "atomic":
                tmp = plan + ".tmp"
                with open(tmp, "w") as fh:
                    fh.write(text)
                t0 = time.time()
                os.rename(tmp, plan)
            else:
                t0 = time.time()
                fd = os.open(plan, os.O_WRONLY | os.O_TRUNC)
                os.write(fd, text.encode())
                os.close(fd)
            return t0

        res = {}
        n = 0
        for mode in a.modes.split(","):
            lat = []
            for _ in range(a.saves):
                n += 1
                t0 = save(n, mode)
                while True:
                    t, body = sub.recv_multipart()
                    if t == b"hb":
                        continue
                    recv = time.time()
                    msg = feed_pb2.FeedMessage()
                    msg.ParseFromString(body)
                    lat.append((recv - t0) * 1000)
                    break
            lat.sort()
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
            res[mode] = {"saves": len(lat), "p50_ms": round(p(0.5), 1), "p99_ms": round(p(0.99), 1),
                         "max_ms": round(lat[-1], 1)}
            r = res[mode]
            print(f"lone {mode} save -> feed over {len(lat)} saves: p50 {r['p50_ms']} ms, "
                  f"p99 {r['p99_ms']} ms, max {r['max_ms']} ms")
        c0 = cpu_seconds(proc.pid)
        time.sleep(a.idle_s)  # the measurement window
        idle_cpu = cpu_seconds(proc.pid) - c0
        res.update(idle_window_s=a.idle_s, idle_cpu_s=round(idle_cpu, 3))
        print(f"watcher CPU while idle for {a.idle_s:.0f} s: {idle_cpu:.3f} s ({100*idle_cpu/a.idle_s:.3f}% of a core)")
        print(json.dumps(res))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        log.seek(0)
        for line in log.read().splitlines():
            if "state.commit_stats" in line:
                print("store commits (write-ahead, per batch):", line.split("state.commit_stats", 1)[1].strip())
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(pbdir, ignore_errors=True)

if __name__ == "__main__":
    main()
