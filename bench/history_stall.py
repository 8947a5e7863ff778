#!/usr/bin/python3
"""How long a large history answer holds up the watcher's loop: the latency
of a lone save made while the snapshot socket answers "the events after seq
N" for almost all of --history-events.

    /usr/bin/python3 bench/history_stall.py [--build build/release] [--events 100000]

Starts the real watcher (loopback, free ports, --state-dir in a temp
workspace, --heartbeat-ms 100), writes --events new plan.json (one feature
folder each) and waits for all their events on a SUB socket, times five
lone saves (atomic rename) on a quiet watcher, then sends one history
request for everything the store still holds (--snapshot: a full snapshot
request instead) and, 5 ms later, makes a lone save. Prints the quiet latencies, when the answer's first and last chunks
arrived, how many events it held, and the lone save's latency during it.
Exit 1 when the answer is not "ok" or holds fewer than --events - 10 events.
Everything started is stopped by PID.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import ROOT, free_port, stop_process  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--snapshot", action="store_true",
                    help="send a full snapshot request (every item) instead of a history request")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="history-stall-")
    w = None
    try:
        subprocess.check_call(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", tmp,
                               os.path.join(ROOT, "proto/coderef/v1/feed.proto")])
        sys.path.insert(0, tmp)
        from coderef.v1 import feed_pb2 as pb2
        ws = os.path.join(tmp, "ws")
        base = os.path.join(ws, "p/coderef/working")
        os.makedirs(os.path.join(base, "lone"))
        lone_plan = os.path.join(base, "lone/plan.json")
        with open(lone_plan, "w") as f:
            f.write('{"META_DOCUMENTATION":{"status":"s0"}}')
        with open(os.path.join(ws, "projects.json"), "w") as f:
            json.dump({"projects": [{"name": "p", "path": "p"}]}, f)
        pub, snap = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        log = open(os.path.join(tmp, "watcher.log"), "w")
        w = subprocess.Popen([os.path.join(a.build, "watcher-svc", "watcher-svc"), "--projects",
                              os.path.join(ws, "projects.json"), "--pub", pub, "--snapshot", snap, "--http",
                              "127.0.0.1:0", "--state-dir", os.path.join(tmp, "state"), "--heartbeat-ms", "100"],
                             stdout=log, stderr=subprocess.STDOUT)
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.connect(pub)
        if not sub.poll(10000):
            sys.exit("history_stall: no heartbeat from the watcher in 10 s")
        while sub.recv_multipart()[0] != b"hb":
            pass
        t = time.time()
        for i in range(a.events):
            d = os.path.join(base, f"f{i}")
            os.mkdir(d)
            with open(os.path.join(d, "plan.json"), "w") as f:
                f.write('{"META_DOCUMENTATION":{"feature_name":"f%d","status":"x"},"pad":"%s"}' % (i, "p" * 200))
        seq, epoch = 0, None
        while seq < a.events:
            if not sub.poll(30000):
                sys.exit(f"history_stall: the feed stopped at seq {seq} of {a.events}")
            _, body = sub.recv_multipart()
            m = pb2.FeedMessage()
            m.ParseFromString(body)
            if m.HasField("event"):
                seq, epoch = m.event.seq, m.event.epoch
        print(f"{a.events} events on the feed {time.time() - t:.1f} s after the first write", flush=True)

        def lone(i):
            t0 = time.time()
            with open(lone_plan + ".tmp", "w") as f:
                f.write('{"META_DOCUMENTATION":{"status":"s%d"}}' % i)
            os.rename(lone_plan + ".tmp", lone_plan)
            while True:
                if not sub.poll(10000):
                    sys.exit("history_stall: a lone save never reached the feed")
                topic, _ = sub.recv_multipart()
                if topic != b"hb":
                    return (time.time() - t0) * 1000

        quiet = [round(lone(i + 1), 1) for i in range(5)]
        print(f"lone saves on a quiet watcher (ms): {quiet}")
        seq += 5
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.RCVHWM, 0)
        dealer.connect(snap)
        req = pb2.SnapshotRequest(request_id="stall")
        if not a.snapshot:
            req.history.epoch = epoch
            req.history.after_seq = max(0, seq - a.events + 10)  # what the store still holds
        time.sleep(0.2)  # the DEALER's connect (not a settle wait: no condition to watch)
        t0 = time.time()
        dealer.send(req.SerializeToString())
        time.sleep(0.005)
        during = lone(100)
        n, first, status = 0, None, None
        while True:
            if not dealer.poll(30000):
                sys.exit("history_stall: the history answer stopped")
            c = pb2.SnapshotChunk()
            c.ParseFromString(dealer.recv_multipart()[-1])
            first = first or time.time() - t0
            status = c.history
            n += len(c.items) if a.snapshot else len(c.events)
            if c.last:
                break
        total = time.time() - t0
        what = "snapshot answer: items" if a.snapshot else f"history answer after seq {req.history.after_seq}: events"
        print(f"{what} {n}, first chunk after "
              f"{first * 1000:.0f} ms, last after {total * 1000:.0f} ms; a lone save made 5 ms into it "
              f"reached the feed after {during:.0f} ms")
        if a.snapshot:
            return 0 if n >= a.events else 1
        return 0 if status == pb2.HISTORY_STATUS_OK and n >= a.events - 10 else 1
    finally:
        stop_process(w)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
