#!/usr/bin/python3
"""A coderef-live client that talks only to the watcher's ZeroMQ feed.

No gateway involved: it subscribes to the PUB socket, takes a snapshot from
the ROUTER (the ZeroMQ guide's Clone pattern, docs/PROTOCOL.md section 1)
and prints every change event as one JSON line on stdout. Status messages
(snapshots, gaps, a silent watcher) go to stderr, so stdout stays JSON.

    /usr/bin/python3 examples/feed_subscriber.py
    /usr/bin/python3 examples/feed_subscriber.py --topic plan/noted --count 3
    /usr/bin/python3 examples/feed_subscriber.py --json | jq .
    /usr/bin/python3 examples/feed_subscriber.py --state-file ~/.coderef-sub.json

It needs Debian's python3-zmq and python3-protobuf (hence /usr/bin/python3:
another python3 first on PATH may lack them) and protoc (protobuf-compiler):
the Python module for proto/coderef/v1/feed.proto is generated at start into
a temporary folder, so it always matches the schema of this checkout.

How it stays exact:
  1. SUB connects and subscribes first, so events published while the
     snapshot is taken wait in the socket's queue;
  2. a DEALER sends a SnapshotRequest; the chunks carry the epoch and seq the
     state is consistent with;
  3. queued and later events of that epoch with seq > snapshot seq are
     applied, older ones dropped;
  4. seq counts every event of the watcher without gaps, so a jump
     (seq > last + 1), a heartbeat announcing a seq we never saw (the PUB
     drops at its high-water mark) means events were lost: ask the watcher's
     history for the events after our last seq (docs/PROTOCOL.md, "History
     requests"), and take a new snapshot only when it answers "gone"; a new
     epoch means: take a new snapshot.
With --state-file, the epoch and last seq are saved after every event, and
a restart of this script resumes from there through a history request:
it prints exactly the events it missed while it was not running (also
across a restart of a watcher with --state-dir), with no snapshot.
The SUB socket subscribes to everything so that step 4 can see every seq;
--topic filters what is printed and what the snapshot holds.
"""

import argparse
import atexit
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

try:
    import zmq
    from google.protobuf import json_format
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"feed_subscriber: {e}. Run it with Debian's /usr/bin/python3 "
             "(apt-get install python3-zmq python3-protobuf).")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PROTO = os.path.join(REPO, "proto", "coderef", "v1", "feed.proto")


def log(msg):
    print(f"feed_subscriber: {msg}", file=sys.stderr, flush=True)


def load_feed_pb2(proto_file):
    """Generates feed_pb2 with protoc into a temp dir and imports it."""
    protoc = shutil.which("protoc")
    if not protoc:
        sys.exit("feed_subscriber: protoc not found (apt-get install protobuf-compiler)")
    # proto/coderef/v1/feed.proto -> import root proto/, module coderef.v1.feed_pb2
    proto_file = os.path.abspath(proto_file)
    root = os.path.dirname(os.path.dirname(os.path.dirname(proto_file)))
    out = tempfile.mkdtemp(prefix="coderef-pb2-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run([protoc, f"-I{root}", f"--python_out={out}", proto_file], check=True)
    sys.path.insert(0, out)
    from coderef.v1 import feed_pb2  # noqa: E402 (generated just above)
    return feed_pb2


def pb2_topic(pb2, ev):
    return pb2.Kind.Name(ev.kind).removeprefix("KIND_").lower() + "/" + ev.project


def iso_ms(us):
    if not us:
        return None
    t = datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Subscriber:
    def __init__(self, pb2, args):
        self.pb2 = pb2
        self.args = args
        self.ctx = zmq.Context.instance()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 100000)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")  # everything: see the module doc
        self.sub.connect(args.feed)
        self.epoch = None
        self.seq = 0
        self.state = {}  # (kind, project, key) -> Item
        self.printed = 0
        self.last_hb = time.monotonic()
        self.hb_interval = 1.0
        self.silent = False
        self.deadline = time.monotonic() + args.timeout if args.timeout else None

    # -- snapshot --------------------------------------------------------------
    def snapshot(self, reason):
        """Blocks until a full snapshot arrived (retrying), then replaces the state."""
        pb2 = self.pb2
        attempt = 0
        while True:
            attempt += 1
            dealer = self.ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(self.args.snapshot)
            req = pb2.SnapshotRequest(prefix=self.args.topic, request_id=uuid.uuid4().hex)
            dealer.send(req.SerializeToString())
            items, chunk = [], None
            deadline = time.monotonic() + self.args.snapshot_timeout
            try:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0 or not dealer.poll(int(left * 1000)):
                        chunk = None
                        break
                    frames = dealer.recv_multipart()
                    msg = pb2.SnapshotChunk()
                    msg.ParseFromString(frames[-1])  # [delimiter,] chunk
                    if msg.request_id and msg.request_id != req.request_id:
                        continue
                    items.extend(msg.items)
                    chunk = msg
                    if msg.last:
                        break
            finally:
                dealer.close()
            if chunk is not None and chunk.last:
                break
            log(f"snapshot: no complete answer from {self.args.snapshot} within "
                f"{self.args.snapshot_timeout:g}s (attempt {attempt}); retrying")
            if self.deadline and time.monotonic() >= self.deadline:
                log(f"timeout: no snapshot after {self.args.timeout:g}s")
                raise SystemExit(1)
            time.sleep(min(0.5 * attempt, 5))

        self.epoch, self.seq = chunk.epoch, chunk.seq
        self.state = {(i.kind, i.project, i.key): i for i in items}
        kinds = {}
        for i in items:
            name = pb2.Kind.Name(i.kind).removeprefix("KIND_").lower()
            kinds[name] = kinds.get(name, 0) + 1
        log(f"snapshot ({reason}): epoch {self.epoch} seq {self.seq}, {len(items)} items "
            + json.dumps(kinds, sort_keys=True))
        if self.args.print_snapshot:
            for i in items:
                self.emit({"type": "snapshot_item", "epoch": self.epoch, "seq": self.seq,
                           **self.item_summary(i)}, count=False)

    # -- history (resume and gaps) ---------------------------------------------
    def history(self, after):
        """The events after seq `after` of self.epoch, or None ("gone", no answer,
        or a watcher without history: it answers with a snapshot)."""
        pb2 = self.pb2
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(self.args.snapshot)
        req = pb2.SnapshotRequest(request_id=uuid.uuid4().hex)
        req.history.epoch = self.epoch or ""
        req.history.after_seq = after
        dealer.send(req.SerializeToString())
        events = []
        deadline = time.monotonic() + self.args.snapshot_timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not dealer.poll(int(left * 1000)):
                    log(f"history: no answer within {self.args.snapshot_timeout:g}s")
                    return None
                msg = pb2.SnapshotChunk()
                msg.ParseFromString(dealer.recv_multipart()[-1])
                if msg.request_id != req.request_id:
                    continue
                if msg.history != pb2.HISTORY_STATUS_OK:
                    why = "gone" if msg.history == pb2.HISTORY_STATUS_GONE else "not supported"
                    log(f"history after seq {after} of epoch {self.epoch}: {why} "
                        f"(watcher at epoch {msg.epoch} seq {msg.seq}, holds from {msg.first_seq})")
                    return None
                events.extend(msg.events)
                if msg.last:
                    return events
        finally:
            dealer.close()

    def catch_up(self, reason):
        """Fills the gap after self.seq from the watcher's history; False if gone."""
        events = self.history(self.seq)
        if events is None:
            return False
        for ev in events:
            if ev.seq == self.seq + 1:
                self.apply(pb2_topic(self.pb2, ev), ev)
        log(f"history ({reason}): {len(events)} events, now at epoch {self.epoch} seq {self.seq}")
        return True

    def save_state(self):
        if not self.args.state_file or self.epoch is None:
            return
        tmp = self.args.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"epoch": self.epoch, "seq": self.seq}, f)
        os.replace(tmp, self.args.state_file)

    def load_state(self):
        try:
            with open(self.args.state_file) as f:
                st = json.load(f)
            return str(st["epoch"]), int(st["seq"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log(f"ignoring state file {self.args.state_file}: {e}")
            return None

    # -- events ----------------------------------------------------------------
    def item_summary(self, item):
        pb2 = self.pb2
        d = {"kind": pb2.Kind.Name(item.kind).removeprefix("KIND_").lower(),
             "project": item.project, "key": item.key, "file_path": item.file_path,
             "feature_name": item.feature_name, "location": item.location,
             "valid": item.valid}
        if item.parse_error:
            d["parse_error"] = item.parse_error
        detail = item.WhichOneof("detail")
        if detail == "plan":
            d.update(status=item.plan.status, workorder_id=item.plan.workorder_id)
        elif detail == "stub":
            d.update(status=item.stub.status, priority=item.stub.priority,
                     category=item.stub.category, stub_id=item.stub.stub_id)
        elif detail == "workorder":
            w = item.workorder
            d.update(source=w.source, workorder_id=w.workorder_id, status=w.status)
            if w.source == "log":
                d.update(description=w.description,
                         timestamp=w.timestamp if w.HasField("timestamp") else None)
        elif detail == "project_info":
            d.update(name=item.project_info.name, path=item.project_info.path,
                     exists=item.project_info.exists)
        return d

    def event_line(self, ev):
        pb2 = self.pb2
        if self.args.json:
            d = json_format.MessageToDict(ev, preserving_proto_field_name=True)
            if not self.args.with_text:
                d.get("item", {}).pop("text", None)
            d["type"] = pb2.EventType.Name(ev.type).removeprefix("EVENT_TYPE_").lower()
            return d
        d = {"type": pb2.EventType.Name(ev.type).removeprefix("EVENT_TYPE_").lower(),
             "epoch": ev.epoch, "seq": ev.seq, "project": ev.project,
             "file_path": ev.file_path, "feature_name": ev.feature_name,
             "location": ev.location, "key": ev.key,
             "timestamp": iso_ms(ev.first_change_us), "published": iso_ms(ev.published_us),
             "lag_ms": round(time.time() * 1000 - ev.published_us / 1000, 1)}
        if ev.HasField("item"):
            s = self.item_summary(ev.item)
            d["item"] = {k: v for k, v in s.items()
                         if k not in ("kind", "project", "key", "file_path",
                                      "feature_name", "location")}
        return d

    def emit(self, obj, count=True):
        print(json.dumps(obj, ensure_ascii=False), flush=True)
        if count:
            self.printed += 1

    def topic_wanted(self, topic):
        return topic.startswith(self.args.topic)

    def apply(self, topic, ev):
        key = (ev.kind, ev.project, ev.key)
        if ev.HasField("item"):
            self.state[key] = ev.item
        else:
            self.state.pop(key, None)
        self.seq = ev.seq
        if self.topic_wanted(topic):
            self.emit(self.event_line(ev))
        self.save_state()

    def on_message(self, frames):
        """Returns a reason string when a new snapshot is needed."""
        if len(frames) != 2:
            log(f"ignoring a message of {len(frames)} frames")
            return None
        topic = frames[0].decode("utf-8", "replace")
        msg = self.pb2.FeedMessage()
        try:
            msg.ParseFromString(frames[1])
        except Exception as e:  # noqa: BLE001 - a bad frame must not stop us
            log(f"ignoring an unparsable message on {topic!r}: {e}")
            return None
        body = msg.WhichOneof("body")
        if body == "heartbeat":
            hb = msg.heartbeat
            self.last_hb = time.monotonic()
            if hb.interval_ms:
                self.hb_interval = hb.interval_ms / 1000
            if self.silent:
                self.silent = False
                log(f"watcher heartbeat back (epoch {hb.epoch})")
            if hb.epoch != self.epoch:
                return f"epoch changed {self.epoch} -> {hb.epoch}"
            if hb.seq > self.seq:
                return f"gap: heartbeat seq {hb.seq} > last seq {self.seq}"
            return None
        if body != "event":
            return None
        ev = msg.event
        if ev.epoch != self.epoch:
            return f"epoch changed {self.epoch} -> {ev.epoch}"
        if ev.seq <= self.seq:
            return None  # already in the snapshot
        if ev.seq > self.seq + 1:
            return f"gap: expected seq {self.seq + 1}, got {ev.seq}"
        self.apply(topic, ev)
        return None

    # -- main loop ---------------------------------------------------------------
    def run(self):
        saved = self.load_state() if self.args.state_file else None
        if saved:
            self.epoch, self.seq = saved
            if not self.catch_up(f"resume after epoch {self.epoch} seq {self.seq}"):
                self.snapshot("start: the saved position is gone")
        else:
            self.snapshot("start")
        self.save_state()
        deadline = self.deadline
        while self.args.count is None or self.printed < self.args.count:
            if deadline and time.monotonic() >= deadline:
                log(f"timeout: {self.printed} of {self.args.count} events after "
                    f"{self.args.timeout:g}s")
                return 1
            if not self.sub.poll(200):
                if not self.silent and time.monotonic() - self.last_hb > 3 * self.hb_interval:
                    self.silent = True
                    log(f"no heartbeat for {3 * self.hb_interval:g}s: watcher down? "
                        "(waiting; ZeroMQ reconnects by itself)")
                continue
            frames = self.sub.recv_multipart()
            reason = self.on_message(frames)
            if reason:
                if not (reason.startswith("gap") and self.catch_up(reason)):
                    log(f"re-snapshot: {reason}")
                    self.snapshot(reason)
                # Judge the message again against the new state: the snapshot
                # is newer, so it is applied or dropped; one that still does
                # not fit (an old epoch's) is stale and dropped.
                self.on_message(frames)
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feed", default=os.environ.get("CODEREF_FEED", "tcp://127.0.0.1:5556"),
                   help="the watcher's PUB endpoint (default %(default)s)")
    p.add_argument("--snapshot",
                   default=os.environ.get("CODEREF_SNAPSHOT", "tcp://127.0.0.1:5557"),
                   help="the watcher's snapshot ROUTER endpoint (default %(default)s)")
    p.add_argument("--topic", default="",
                   help='topic prefix: "plan/", "plan/noted", "workorder/" ... (default: all)')
    p.add_argument("--count", type=int, default=None,
                   help="exit 0 after printing N events (default: run until Ctrl-C)")
    p.add_argument("--timeout", type=float, default=None,
                   help="exit 1 if --count events (or a first snapshot) have not come "
                        "within T seconds")
    p.add_argument("--json", action="store_true",
                   help="print the whole ChangeEvent (protobuf JSON mapping, item included) "
                        "instead of the one-line summary")
    p.add_argument("--with-text", action="store_true",
                   help="with --json: keep the item's raw file text")
    p.add_argument("--print-snapshot", action="store_true",
                   help='also print each snapshot item as {"type":"snapshot_item",...}')
    p.add_argument("--snapshot-timeout", type=float, default=5.0,
                   help="seconds to wait for a snapshot before asking again (default 5)")
    p.add_argument("--state-file", default=None,
                   help="save epoch+seq here after every event; at start, resume from it "
                        "through the watcher's history (no snapshot unless it is gone)")
    p.add_argument("--proto", default=DEFAULT_PROTO, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.count is not None and args.count < 0:
        p.error("--count must be >= 0")

    pb2 = load_feed_pb2(args.proto)
    sub = Subscriber(pb2, args)
    try:
        return sub.run()
    except KeyboardInterrupt:
        return 130
    finally:
        sub.sub.close()


if __name__ == "__main__":
    sys.exit(main())
