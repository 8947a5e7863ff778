#!/usr/bin/python3
"""Watcher start-up, side by side: two builds (or more) on one workspace, in
alternating rounds of one run, so the machine's load hits both alike.

    /usr/bin/python3 bench/startup_ab.py --build base=/path/to/old/build/release \
        --build now=build/release [--state now] [--rounds 5] \
        [--projects 1000 --folders 10 --files 10]

Each round starts every variant once, in turn: `watcher-svc` on the same
generated workspace (bench/gen_workspace.py), fresh ports. Measured per run:
  ready   from exec until the snapshot ROUTER answers a request (the probe
          is sent right after the exec: `feed_tool probe`), ms
  cpu     the watcher's user+system CPU at that moment, s
  rss     its RSS one second later, MiB
`--state NAME` adds the variants NAME+cold (an empty --state-dir: every item
stored) and NAME+warm (the store the cold run left, nothing changed). The
summary prints, per variant, the median and the range over the rounds. The
answer is checked: the snapshot must hold every project (`items` from
/healthz equals the first variant's), so a build that skips work cannot win.
Exit 0 when every run answered, 1 otherwise. Everything started is stopped
by PID.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import ROOT, cpu_seconds, free_port, rss_bytes, stop_process  # noqa: E402  (same measures as the full bench)


def rss_mib(pid):
    return rss_bytes(pid) / 2**20


def healthz(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        return json.loads(r.read().decode())


def one_run(binary, feed_tool, projects_json, state_dir, logdir, tag):
    pub, snap, http = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}", free_port()
    argv = [binary, "--projects", projects_json, "--pub", pub, "--snapshot", snap, "--http", f"127.0.0.1:{http}"]
    if state_dir:
        argv += ["--state-dir", state_dir]
    probe_out = os.path.join(logdir, f"{tag}.probe.json")
    log = open(os.path.join(logdir, f"{tag}.log"), "wb")
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        pr = subprocess.run([feed_tool, "probe", "--snapshot", snap, "--prefix", "project/", "--timeout-s", "180",
                             "--out", probe_out], capture_output=True, text=True)
        if pr.returncode != 0:
            raise RuntimeError(f"{tag}: no snapshot answer: {pr.stderr.strip()[-500:]}")
        with open(probe_out) as f:
            answer_us = json.load(f)["answer_unix_us"]
        ready_ms = (answer_us / 1e6 - t0) * 1000
        cpu = cpu_seconds(p.pid)
        # RSS once the start-up's transient buffers are gone: 1 s later, as
        # run_bench.py's scale scenario measures it.
        deadline = time.time() + 1.0
        while time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        if p.poll() is not None:
            raise RuntimeError(f"{tag}: the watcher exited ({p.returncode}) right after start-up")
        rss = rss_mib(p.pid)
        items = healthz(http).get("items")
        return {"ready_ms": ready_ms, "cpu_s": cpu, "rss_mib": rss, "items": items}
    finally:
        stop_process(p)
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, metavar="NAME=DIR",
                    help="a build directory holding watcher-svc/watcher-svc (repeat; order = order in a round)")
    ap.add_argument("--state", action="append", default=[], metavar="NAME",
                    help="also run build NAME with --state-dir: cold (empty) and warm (what cold left)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--projects", type=int, default=1000)
    ap.add_argument("--folders", type=int, default=10)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--feed-tool", default=os.path.join(ROOT, "build", "release", "bench", "feed_tool"))
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (workspace, logs)")
    ap.add_argument("--workspace", help="use this workspace (a folder with projects.json) instead of generating one")
    args = ap.parse_args()

    builds = []
    for b in args.build:
        name, _, d = b.partition("=")
        binary = os.path.join(d, "watcher-svc", "watcher-svc")
        if not name or not os.access(binary, os.X_OK):
            sys.exit(f"startup_ab: --build {b!r}: want NAME=DIR with DIR/watcher-svc/watcher-svc executable")
        builds.append((name, binary))
    names = {n for n, _ in builds}
    for s in args.state:
        if s not in names:
            sys.exit(f"startup_ab: --state {s!r} names no --build")
    if not os.access(args.feed_tool, os.X_OK):
        sys.exit(f"startup_ab: no feed_tool at {args.feed_tool} (build the bench targets or pass --feed-tool)")

    tmp = tempfile.mkdtemp(prefix="startup-ab-")
    try:
        if args.workspace:
            pj = os.path.join(os.path.abspath(args.workspace), "projects.json")
            if not os.path.isfile(pj):
                sys.exit(f"startup_ab: --workspace {args.workspace}: no projects.json there")
            print(f"workspace: {args.workspace}; {args.rounds} rounds; load {os.getloadavg()[0]:.2f}", flush=True)
        else:
            ws = os.path.join(tmp, "ws")
            t = time.time()
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_workspace.py"), ws, "--projects",
                            str(args.projects), "--folders-per-project", str(args.folders), "--files-per-folder",
                            str(args.files)], check=True, stdout=subprocess.DEVNULL)
            pj = os.path.join(ws, "projects.json")
            print(f"workspace: {args.projects} projects x {args.folders} folders x {args.files} files "
                  f"({time.time() - t:.1f} s to generate); {args.rounds} rounds; load {os.getloadavg()[0]:.2f}",
                  flush=True)
        variants = []  # (label, binary, state mode)
        for name, binary in builds:
            variants.append((name, binary, None))
            if name in args.state:
                variants += [(f"{name}+cold", binary, "cold"), (f"{name}+warm", binary, "warm")]
        results = {v[0]: [] for v in variants}
        for r in range(args.rounds):
            for label, binary, mode in variants:
                sd = None
                if mode:
                    sd = os.path.join(tmp, f"state-{label.split('+')[0]}")
                    if mode == "cold":
                        shutil.rmtree(sd, ignore_errors=True)
                res = one_run(binary, args.feed_tool, pj, sd, tmp, f"r{r}-{label}")
                results[label].append(res)
                print(f"round {r + 1} {label:12s} ready {res['ready_ms']:8.0f} ms  cpu {res['cpu_s']:6.2f} s  "
                      f"rss {res['rss_mib']:6.1f} MiB  items {res['items']}", flush=True)
        ref_items = results[variants[0][0]][0]["items"]
        bad = [(l, x["items"]) for l, xs in results.items() for x in xs if x["items"] != ref_items]
        print(f"\nsummary (median [min-max] over {args.rounds} rounds; load now {os.getloadavg()[0]:.2f}):")
        for label, xs in results.items():
            def fmt(key, unit, prec):
                v = [x[key] for x in xs]
                return (f"{statistics.median(v):.{prec}f} [{min(v):.{prec}f}-{max(v):.{prec}f}] {unit}")
            print(f"  {label:12s} ready {fmt('ready_ms', 'ms', 0)}   cpu {fmt('cpu_s', 's', 2)}   "
                  f"rss {fmt('rss_mib', 'MiB', 1)}")
        if bad:
            print(f"FAIL: item counts differ from {variants[0][0]}'s {ref_items}: {bad[:5]}")
            return 1
        print(f"every run answered; {ref_items} items in every one")
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
