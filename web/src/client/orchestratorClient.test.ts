import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, nominalDelay } from './backoff';
import { FakeWebSocket } from './fakeWebSocket.test-helper';
import {
  CLIENT_ABANDON_CODE,
  dotColor,
  OrchestratorClient,
  type ClientState,
  type Notice,
  type OrchestratorClientOptions,
  type StreamPosition,
} from './orchestratorClient';
import type { ChangeEventMessage } from './protocol';

const URL_ = 'ws://gw.test:8000/orchestrator/ws';

interface Harness {
  client: OrchestratorClient;
  events: ChangeEventMessage[];
  notices: Notice[];
  statuses: string[];
  resyncCalls: string[];
  /** Resolves the oldest pending resync with this position. */
  resolveResync: (pos: StreamPosition) => Promise<void>;
  rejectResync: (err: Error) => Promise<void>;
  pendingResyncs: number;
}

function makeClient(over: Partial<OrchestratorClientOptions> = {}): Harness {
  const events: ChangeEventMessage[] = [];
  const notices: Notice[] = [];
  const statuses: string[] = [];
  const resyncCalls: string[] = [];
  const pending: Array<{ resolve: (p: StreamPosition) => void; reject: (e: Error) => void }> = [];
  const client = new OrchestratorClient({
    url: URL_,
    WebSocket: FakeWebSocket,
    random: () => 0,
    environment: null,
    resync: (reason) => {
      resyncCalls.push(reason);
      return new Promise<StreamPosition>((resolve, reject) => pending.push({ resolve, reject }));
    },
    onEvent: (ev) => events.push(ev),
    onNotice: (n) => notices.push(n),
    ...over,
  });
  client.subscribe(() => {
    const s = client.getState().status;
    if (statuses[statuses.length - 1] !== s) statuses.push(s);
  });
  const h: Harness = {
    client,
    events,
    notices,
    statuses,
    resyncCalls,
    resolveResync: async (pos) => {
      const p = pending.shift();
      if (!p) throw new Error('no resync pending');
      p.resolve(pos);
      await flushPromises();
    },
    rejectResync: async (err) => {
      const p = pending.shift();
      if (!p) throw new Error('no resync pending');
      p.reject(err);
      await flushPromises();
    },
    get pendingResyncs() {
      return pending.length;
    },
  };
  return h;
}

async function flushPromises(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Starts a client and brings it to live at (epoch, seq) with its base loaded. */
async function live(h: Harness, epoch = 'E1', seq = 0): Promise<FakeWebSocket> {
  h.client.start();
  const ws = FakeWebSocket.last.hello(epoch, seq);
  await flushPromises();
  await h.resolveResync({ epoch, seq });
  return ws;
}

const seqs = (evs: ChangeEventMessage[]) => evs.map((e) => e.seq);

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('backoff', () => {
  it('doubles from 1 s and caps at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 40].map((n) => nominalDelay(n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
  });

  it('jitter only shortens, by at most 20 %', () => {
    for (let n = 0; n < 8; n++) {
      const nominal = nominalDelay(n);
      expect(backoffDelay(n, () => 0)).toBe(nominal);
      const lo = backoffDelay(n, () => 0.999999);
      expect(lo).toBeGreaterThanOrEqual(Math.floor(nominal * 0.8));
      expect(lo).toBeLessThan(nominal);
    }
  });
});

describe('status transitions', () => {
  it('idle -> connecting -> connected on hello, and the dot follows', async () => {
    const h = makeClient();
    expect(h.client.getState().status).toBe('idle');
    h.client.start();
    expect(h.client.getState().status).toBe('connecting');
    expect(dotColor(h.client.getState())).toBe('amber');
    const ws = FakeWebSocket.last.open();
    // An open socket is not live until the gateway said hello.
    expect(h.client.getState().status).toBe('connecting');
    ws.hello('E1', 3, { gateway: 'gw-1' });
    expect(h.client.getState().status).toBe('connected');
    expect(h.client.getState().gateway).toBe('gw-1');
    expect(dotColor(h.client.getState())).toBe('green');
    expect(h.statuses).toEqual(['connecting', 'connected']);
  });

  it('a failed first attempt is red at once, with one disconnect notice', () => {
    const h = makeClient();
    h.client.start();
    FakeWebSocket.last.refuse();
    expect(h.client.getState().status).toBe('disconnected');
    expect(dotColor(h.client.getState())).toBe('red');
    expect(h.notices).toEqual(['disconnected']);
    expect(h.client.getState().failures).toBe(1);
  });

  it('a dropped live connection is amber (one fast retry), then red when that retry fails', async () => {
    const h = makeClient({ random: () => 0.5 });
    const ws = await live(h);
    ws.serverClose(1001, 'gateway shutting down');
    expect(h.client.getState().status).toBe('reconnecting');
    expect(dotColor(h.client.getState())).toBe('amber');
    expect(h.notices).toEqual([]);
    // fast retry: random 0.5 * 250 ms
    vi.advanceTimersByTime(124);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(h.client.getState().status).toBe('reconnecting');
    FakeWebSocket.last.refuse();
    expect(h.client.getState().status).toBe('disconnected');
    expect(h.notices).toEqual(['disconnected']);
    expect(h.statuses).toEqual(['connecting', 'connected', 'reconnecting', 'disconnected']);
  });

  it('stays red during every retry attempt until hello, then green', () => {
    const h = makeClient();
    h.client.start();
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    // The attempt is in flight: still red, no flicker to amber.
    expect(h.client.getState().status).toBe('disconnected');
    FakeWebSocket.last.open();
    expect(h.client.getState().status).toBe('disconnected');
    FakeWebSocket.last.hello('E1', 0);
    expect(h.client.getState().status).toBe('connected');
    expect(h.statuses).toEqual(['connecting', 'disconnected', 'connected']);
  });

  it('watcher_down turns the dot amber while connected; watcher_up back to green', async () => {
    const h = makeClient();
    const ws = await live(h);
    ws.message({ type: 'watcher_down' });
    expect(h.client.getState().watcherDown).toBe(true);
    expect(h.client.getState().status).toBe('connected');
    expect(dotColor(h.client.getState())).toBe('amber');
    ws.message({ type: 'watcher_up', epoch: 'E1' });
    expect(dotColor(h.client.getState())).toBe('green');
    expect(h.notices).toEqual([]);
  });

  it('stop closes the socket with 1000, cancels every timer and goes idle', async () => {
    const h = makeClient();
    const ws = await live(h);
    h.client.stop();
    expect(ws.closedByClient).toEqual({ code: 1000, reason: 'client stopped' });
    expect(h.client.getState().status).toBe('idle');
    expect(vi.getTimerCount()).toBe(0);
    // A late close event from the dead socket changes nothing.
    ws.serverClose(1000);
    expect(h.client.getState().status).toBe('idle');
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('stop while a retry is scheduled cancels it', () => {
    const h = makeClient();
    h.client.start();
    FakeWebSocket.last.refuse();
    h.client.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('an attempt with no hello within the connect timeout fails', () => {
    const h = makeClient({ connectTimeoutMs: 5000 });
    h.client.start();
    const ws = FakeWebSocket.last.open(); // TCP up, gateway silent
    vi.advanceTimersByTime(4999);
    expect(h.client.getState().status).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(h.client.getState().status).toBe('disconnected');
    expect(ws.closedByClient?.code).toBe(CLIENT_ABANDON_CODE);
    expect(h.notices).toEqual(['disconnected']);
  });
});

describe('backoff schedule', () => {
  /** Fails attempts one by one and records the delay before each retry. */
  function measureDelays(_h: Harness, count: number): number[] {
    const delays: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = FakeWebSocket.instances.length;
      FakeWebSocket.last.refuse();
      let waited = 0;
      while (FakeWebSocket.instances.length === before) {
        vi.advanceTimersByTime(100);
        waited += 100;
        if (waited > 120_000) throw new Error('no retry');
      }
      delays.push(waited);
    }
    return delays;
  }

  it('retries after 1, 2, 4, 8, 16, 30, 30 s', () => {
    const h = makeClient();
    h.client.start();
    expect(measureDelays(h, 8)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('exact boundaries: nothing one ms early', () => {
    const h = makeClient();
    h.client.start();
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(999);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(1999);
    expect(FakeWebSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it('with jitter every delay is within [0.8, 1] of the schedule', () => {
    let i = 0;
    const rs = [0.9, 0.1, 0.5, 0.99, 0.3, 0.7, 0.2];
    const h = makeClient({ random: () => rs[i++ % rs.length] });
    h.client.start();
    const delays = measureDelays(h, 7);
    const nominal = [1000, 2000, 4000, 8000, 16000, 30000, 30000];
    delays.forEach((d, k) => {
      expect(d).toBeLessThanOrEqual(nominal[k]);
      expect(d).toBeGreaterThanOrEqual(nominal[k] * 0.8 - 100);
    });
    // and it really varies
    expect(new Set(delays.map((d, k) => d / nominal[k])).size).toBeGreaterThan(1);
  });

  it('resets after a successful hello', async () => {
    const h = makeClient();
    h.client.start();
    measureDelays(h, 5); // 1, 2, 4, 8, 16: the next would be 30
    expect(h.client.getState().failures).toBe(5);
    FakeWebSocket.last.hello('E1', 0);
    await h.resolveResync({ epoch: 'E1', seq: 0 });
    expect(h.client.getState().failures).toBe(0);
    FakeWebSocket.last.serverClose(1006);
    // fast retry (random 0 -> immediately), which fails: back to 1 s
    vi.advanceTimersByTime(0);
    expect(h.client.getState().status).toBe('reconnecting');
    expect(measureDelays(h, 3)).toEqual([1000, 2000, 4000]);
  });

  it('nextRetryAt tells the UI when the next attempt fires', () => {
    const h = makeClient();
    const t0 = Date.now();
    h.client.start();
    FakeWebSocket.last.refuse();
    expect(h.client.getState().nextRetryAt).toBe(t0 + 1000);
    vi.advanceTimersByTime(1000);
    expect(h.client.getState().nextRetryAt).toBeNull();
  });
});

describe('toasts: no storm', () => {
  it('one disconnect notice for a whole retry loop, one reconnect notice when back', async () => {
    const h = makeClient();
    const ws = await live(h);
    ws.serverClose(1001);
    vi.advanceTimersByTime(0);
    for (let i = 0; i < 12; i++) {
      FakeWebSocket.last.refuse();
      vi.advanceTimersByTime(30_000);
    }
    expect(FakeWebSocket.instances.length).toBeGreaterThanOrEqual(13);
    expect(h.notices).toEqual(['disconnected']);
    FakeWebSocket.last.hello('E1', 0);
    expect(h.notices).toEqual(['disconnected', 'reconnected']);
  });

  it('a drop healed by the fast retry makes no toast at all', async () => {
    const h = makeClient();
    const ws = await live(h);
    ws.serverClose(1006);
    vi.advanceTimersByTime(0);
    FakeWebSocket.last.hello('E1', 0);
    expect(h.notices).toEqual([]);
    expect(h.statuses).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('a new outage after recovery gets its own pair', async () => {
    const h = makeClient();
    h.client.start();
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(1000);
    FakeWebSocket.last.hello('E1', 0);
    await h.resolveResync({ epoch: 'E1', seq: 0 });
    FakeWebSocket.last.serverClose(1006);
    vi.advanceTimersByTime(0);
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(1000);
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(2000);
    FakeWebSocket.last.hello('E1', 0);
    expect(h.notices).toEqual(['disconnected', 'reconnected', 'disconnected', 'reconnected']);
  });
});

describe('resume', () => {
  it('the first connection has no resume point; later ones carry epoch and since', async () => {
    const h = makeClient({ topics: ['plan', 'stub'], token: 's3cret' });
    h.client.start();
    const first = FakeWebSocket.last;
    expect(first.params.get('epoch')).toBeNull();
    expect(first.params.get('since')).toBeNull();
    expect(first.params.get('topics')).toBe('plan,stub');
    expect(first.params.get('token')).toBe('s3cret');
    first.hello('E1', 4);
    await flushPromises();
    await h.resolveResync({ epoch: 'E1', seq: 4 });
    first.event('E1', 5).event('E1', 6);
    first.serverClose(1006);
    vi.advanceTimersByTime(0);
    const second = FakeWebSocket.last;
    expect(second).not.toBe(first);
    expect(second.params.get('epoch')).toBe('E1');
    expect(second.params.get('since')).toBe('6');
    expect(second.params.get('topics')).toBe('plan,stub');
  });

  it('replayed events are delivered once: overlap is dropped, order kept', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 0);
    ws.event('E1', 1).event('E1', 2);
    ws.serverClose(1006);
    vi.advanceTimersByTime(0);
    const ws2 = FakeWebSocket.last.hello('E1', 4, { replayed: 2 });
    // A gateway behind by one replays 2 again, then 3, 4, then live 5.
    ws2.event('E1', 2).event('E1', 3).event('E1', 4).event('E1', 5);
    expect(seqs(h.events)).toEqual([1, 2, 3, 4, 5]);
    expect(h.client.getState().duplicates).toBe(1);
    expect(h.client.getState().position).toEqual({ epoch: 'E1', seq: 5 });
    expect(h.resyncCalls).toEqual(['initial']);
  });

  it('a gap that the gateway did not announce reconnects from the last seq', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 0);
    ws.event('E1', 1).event('E1', 3);
    expect(seqs(h.events)).toEqual([1]);
    expect(ws.closedByClient?.code).toBe(CLIENT_ABANDON_CODE);
    expect(h.client.getState().status).toBe('reconnecting');
    vi.advanceTimersByTime(0);
    expect(FakeWebSocket.last.params.get('since')).toBe('1');
    FakeWebSocket.last.hello('E1', 3, { replayed: 2 }).event('E1', 2).event('E1', 3);
    expect(seqs(h.events)).toEqual([1, 2, 3]);
  });

  it('with a topic filter, skipped seqs are other kinds, not a gap', async () => {
    const h = makeClient({ topics: ['plan'] });
    const ws = await live(h, 'E1', 0);
    expect(ws.params.get('topics')).toBe('plan');
    ws.event('E1', 1).event('E1', 4).event('E1', 9).event('E1', 4);
    expect(seqs(h.events)).toEqual([1, 4, 9]);
    expect(ws.closedByClient).toBeNull();
    expect(h.client.getState().duplicates).toBe(1);
  });

  it('an event of another epoch than hello, unannounced, reconnects to let the gateway decide', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 5);
    ws.event('E2', 1);
    expect(h.events).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(FakeWebSocket.last).not.toBe(ws);
    expect(FakeWebSocket.last.params.get('epoch')).toBe('E1');
    expect(FakeWebSocket.last.params.get('since')).toBe('5');
  });

  it('a new epoch announced by hello but without resync_required: reload, then go on', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 5);
    ws.serverClose(1006);
    vi.advanceTimersByTime(0);
    const ws2 = FakeWebSocket.last.hello('E2', 2); // watcher restarted; no resync_required
    ws2.event('E2', 3).event('E2', 4);
    await flushPromises();
    expect(h.resyncCalls).toEqual(['initial', 'epoch_changed']);
    await h.resolveResync({ epoch: 'E2', seq: 3 });
    expect(h.events.map((e) => `${e.epoch}:${e.seq}`)).toEqual(['E2:4']);
    expect(FakeWebSocket.last).toBe(ws2);
  });

  it('repeated forced reconnects fall back to backoff (no spin)', async () => {
    const h = makeClient();
    await live(h, 'E1', 0);
    for (let i = 0; i < 4; i++) {
      FakeWebSocket.last.event('E1', 10); // gap every time
      vi.advanceTimersByTime(0);
      if (i < 3) FakeWebSocket.last.hello('E1', 0);
    }
    expect(h.client.getState().status).toBe('disconnected');
    expect(h.client.getState().nextRetryAt).not.toBeNull();
  });
});

describe('resync', () => {
  it('first hello with no base asks for an initial load; events meanwhile are held back', async () => {
    const h = makeClient();
    h.client.start();
    const ws = FakeWebSocket.last.hello('E1', 10);
    await flushPromises();
    expect(h.resyncCalls).toEqual(['initial']);
    expect(h.client.getState().resyncing).toBe(true);
    ws.event('E1', 11).event('E1', 12).event('E1', 13);
    expect(h.events).toEqual([]);
    // REST answered at seq 12: 11 and 12 are in it, 13 is not.
    await h.resolveResync({ epoch: 'E1', seq: 12 });
    expect(seqs(h.events)).toEqual([13]);
    expect(h.client.getState().resyncing).toBe(false);
    ws.event('E1', 14);
    expect(seqs(h.events)).toEqual([13, 14]);
  });

  it('resync_required: reload, then only events after the reloaded seq', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 0);
    ws.event('E1', 1);
    ws.message({ type: 'resync_required', reason: 'history_gap', epoch: 'E1', seq: 40 });
    await flushPromises();
    expect(h.resyncCalls).toEqual(['initial', 'history_gap']);
    ws.event('E1', 41).event('E1', 42);
    expect(seqs(h.events)).toEqual([1]);
    await h.resolveResync({ epoch: 'E1', seq: 41 });
    expect(seqs(h.events)).toEqual([1, 42]);
    expect(h.client.getState().position).toEqual({ epoch: 'E1', seq: 42 });
  });

  it('epoch_changed after resume: the new epoch is adopted from the reload', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 7);
    ws.serverClose(1006);
    vi.advanceTimersByTime(0);
    const ws2 = FakeWebSocket.last;
    expect(ws2.params.get('epoch')).toBe('E1');
    ws2.hello('E2', 3).message({ type: 'resync_required', reason: 'epoch_changed', epoch: 'E2', seq: 3 });
    await flushPromises();
    ws2.event('E2', 4);
    await h.resolveResync({ epoch: 'E2', seq: 3 });
    expect(h.events.map((e) => `${e.epoch}:${e.seq}`)).toEqual(['E2:4']);
    ws2.serverClose(1006);
    vi.advanceTimersByTime(0);
    expect(FakeWebSocket.last.params.get('epoch')).toBe('E2');
    expect(FakeWebSocket.last.params.get('since')).toBe('4');
  });

  it('a second resync_required during a reload runs another reload after it', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 0);
    ws.message({ type: 'resync_required', reason: 'overflow', epoch: 'E1', seq: 10 });
    await flushPromises();
    ws.message({ type: 'resync_required', reason: 'overflow', epoch: 'E1', seq: 20 });
    ws.event('E1', 21);
    await h.resolveResync({ epoch: 'E1', seq: 10 });
    expect(h.resyncCalls).toEqual(['initial', 'overflow', 'overflow']);
    expect(h.events).toEqual([]);
    await h.resolveResync({ epoch: 'E1', seq: 20 });
    expect(seqs(h.events)).toEqual([21]);
  });

  it('too many events held back during a reload: dropped, and the reload is redone', async () => {
    const h = makeClient({ maxBuffered: 3 });
    h.client.start();
    const ws = FakeWebSocket.last.hello('E1', 0);
    await flushPromises();
    for (let i = 1; i <= 5; i++) ws.event('E1', i);
    await h.resolveResync({ epoch: 'E1', seq: 0 });
    expect(h.events).toEqual([]);
    expect(h.resyncCalls).toEqual(['initial', 'overflow']);
    ws.event('E1', 6);
    await h.resolveResync({ epoch: 'E1', seq: 6 });
    ws.event('E1', 7);
    expect(seqs(h.events)).toEqual([7]);
  });

  it('a failed reload drops the connection and retries on the backoff schedule', async () => {
    const h = makeClient();
    h.client.start();
    const ws = FakeWebSocket.last.hello('E1', 0);
    await flushPromises();
    await h.rejectResync(new Error('HTTP 503'));
    expect(ws.closedByClient?.code).toBe(CLIENT_ABANDON_CODE);
    expect(h.client.getState().status).toBe('disconnected');
    expect(h.client.getState().lastError).toMatch(/HTTP 503/);
    expect(h.notices).toEqual(['disconnected']);
    vi.advanceTimersByTime(1000);
    FakeWebSocket.last.hello('E1', 0);
    await flushPromises();
    expect(h.resyncCalls).toEqual(['initial', 'initial']);
  });

  it('manual resync while disconnected sets the resume point of the next connection', async () => {
    const h = makeClient();
    h.client.start();
    FakeWebSocket.last.refuse();
    const done = h.client.resync('manual');
    await flushPromises();
    await h.resolveResync({ epoch: 'E9', seq: 99 });
    await expect(done).resolves.toBe(true);
    vi.advanceTimersByTime(1000);
    expect(FakeWebSocket.last.params.get('epoch')).toBe('E9');
    expect(FakeWebSocket.last.params.get('since')).toBe('99');
    expect(h.client.getState().status).toBe('disconnected');
  });

  it('a reload behind events already delivered resumes from the reload to get them again', async () => {
    const h = makeClient();
    const ws = await live(h, 'E1', 0);
    ws.event('E1', 1).event('E1', 2).event('E1', 3);
    const done = h.client.resync('manual');
    await flushPromises();
    ws.event('E1', 4);
    await h.resolveResync({ epoch: 'E1', seq: 1 }); // lagging replica
    await expect(done).resolves.toBe(true);
    vi.advanceTimersByTime(0);
    expect(FakeWebSocket.last.params.get('since')).toBe('1');
  });
});

describe('watcher restart (watcher_up restarted)', () => {
  /** A harness that also records each notice's detail, as `name:changes`. */
  function restartClient(over: Partial<OrchestratorClientOptions> = {}) {
    const said: string[] = [];
    const h = makeClient({
      onNotice: (n, _s, d) => said.push(d?.changes !== undefined ? `${n}:${d.changes}` : n),
      ...over,
    });
    return { h, said };
  }
  const restarted = (epoch: string, changes: number, caught: number) => ({
    type: 'watcher_up',
    epoch,
    restarted: true,
    changes,
    caught_up_seq: caught,
  });

  it('same epoch: the notice waits until the changes made meanwhile are applied; no reload', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 4);
    ws.message({ type: 'watcher_down' });
    expect(dotColor(h.client.getState())).toBe('amber');
    ws.message(restarted('E1', 3, 7));
    expect(dotColor(h.client.getState())).toBe('green');
    expect(said).toEqual([]);
    ws.event('E1', 5).event('E1', 6);
    expect(said).toEqual([]);
    ws.event('E1', 7);
    expect(said).toEqual(['watcher_restarted:3']);
    expect(seqs(h.events)).toEqual([5, 6, 7]);
    expect(h.resyncCalls).toEqual(['initial']);
    ws.event('E1', 8);
    expect(said, 'announced once').toEqual(['watcher_restarted:3']);
  });

  it('changes already applied (events came first): the notice is immediate', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 0);
    ws.event('E1', 1);
    ws.message(restarted('E1', 1, 1));
    expect(said).toEqual(['watcher_restarted:1']);
  });

  it('nothing changed meanwhile: announced with 0', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 9);
    ws.message(restarted('E1', 0, 9));
    expect(said).toEqual(['watcher_restarted:0']);
    expect(h.resyncCalls).toEqual(['initial']);
  });

  it('the changes arrive over a resumed connection: announced once they are replayed', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 2);
    ws.message(restarted('E1', 2, 4));
    ws.serverClose(1006);
    vi.advanceTimersByTime(0);
    const ws2 = FakeWebSocket.last;
    expect(ws2.params.get('since')).toBe('2');
    ws2.hello('E1', 4, { replayed: 2 }).event('E1', 3).event('E1', 4);
    expect(said).toEqual(['watcher_restarted:2']);
    expect(h.resyncCalls).toEqual(['initial']);
  });

  it('a plain watcher_up says nothing and only clears watcher_down', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 0);
    ws.message({ type: 'watcher_down' });
    ws.message({ type: 'watcher_up', epoch: 'E1' });
    expect(h.client.getState().watcherDown).toBe(false);
    expect(said).toEqual([]);
  });

  it('restarted in another epoch than the client: no notice of its own', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 3);
    ws.message(restarted('E9', 1, 1));
    ws.event('E1', 4);
    expect(said).toEqual([]);
  });

  it('resync_required(epoch_changed): reloads, then says the watcher lost its state', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 3);
    ws.message({ type: 'resync_required', reason: 'epoch_changed', epoch: 'E2', seq: 5 });
    await flushPromises();
    expect(h.resyncCalls).toEqual(['initial', 'epoch_changed']);
    expect(said).toEqual([]);
    await h.resolveResync({ epoch: 'E2', seq: 5 });
    expect(said).toEqual(['watcher_restarted_reloaded']);
  });

  it('a failed epoch_changed reload says nothing about it', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 3);
    ws.message({ type: 'resync_required', reason: 'epoch_changed', epoch: 'E2', seq: 5 });
    await flushPromises();
    await h.rejectResync(new Error('503'));
    expect(said).not.toContain('watcher_restarted_reloaded');
  });

  it('other reloads (history_gap) say nothing about the watcher', async () => {
    const { h, said } = restartClient();
    const ws = await live(h, 'E1', 3);
    ws.message({ type: 'resync_required', reason: 'history_gap', epoch: 'E1', seq: 50 });
    await flushPromises();
    await h.resolveResync({ epoch: 'E1', seq: 50 });
    expect(said).toEqual([]);
  });
});

describe('heartbeat watchdog', () => {
  it('answers ping with pong', async () => {
    const h = makeClient();
    const ws = await live(h);
    ws.message({ type: 'ping', ts: 1 });
    expect(ws.sent).toEqual([{ type: 'pong' }]);
  });

  it('no ping within two intervals: the socket is dropped although it says open', async () => {
    const h = makeClient();
    h.client.start();
    const ws = FakeWebSocket.last.hello('E1', 0, { ping_ms: 1000 });
    await flushPromises();
    await h.resolveResync({ epoch: 'E1', seq: 0 });
    vi.advanceTimersByTime(1500);
    ws.message({ type: 'ping', ts: 2 });
    vi.advanceTimersByTime(1999);
    expect(h.client.getState().status).toBe('connected');
    expect(ws.closedByClient).toBeNull();
    vi.advanceTimersByTime(1);
    expect(ws.readyState).toBe(3);
    expect(ws.closedByClient?.code).toBe(CLIENT_ABANDON_CODE);
    expect(h.client.getState().status).toBe('reconnecting');
    expect(h.client.getState().lastError).toMatch(/no ping for 2000 ms/);
    // (a 0 ms timer set inside a fake-timer tick runs 1 ms later)
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.last.params.get('since')).toBe('0');
  });

  it('uses the default 30 s interval when hello has no ping_ms', async () => {
    const h = makeClient();
    h.client.start();
    const ws = FakeWebSocket.last.hello('E1', 0, { ping_ms: undefined });
    vi.advanceTimersByTime(59_999);
    expect(ws.closedByClient).toBeNull();
    vi.advanceTimersByTime(1);
    expect(ws.closedByClient).not.toBeNull();
  });
});

describe('online / visible: immediate retry', () => {
  function fakeEnv() {
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    return { win, doc, env: { window: win, document: doc } };
  }

  it('retries at once when the browser comes back online', () => {
    const { win, env } = fakeEnv();
    const h = makeClient({ environment: env });
    h.client.start();
    FakeWebSocket.last.refuse();
    vi.advanceTimersByTime(1000);
    FakeWebSocket.last.refuse(); // next is in 2 s
    expect(FakeWebSocket.instances).toHaveLength(2);
    win.dispatchEvent(new Event('online'));
    expect(FakeWebSocket.instances).toHaveLength(3);
    // the old timer is gone: no double attempt
    FakeWebSocket.last.hello('E1', 0);
    vi.advanceTimersByTime(5000);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it('retries at once when the tab becomes visible, not when it is hidden', () => {
    const { doc, env } = fakeEnv();
    const h = makeClient({ environment: env });
    h.client.start();
    FakeWebSocket.last.refuse();
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(FakeWebSocket.instances).toHaveLength(1);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('on visible, a live socket silent for two intervals is dropped (throttled timers)', async () => {
    const { doc, env } = fakeEnv();
    let now = 1_000_000;
    const h = makeClient({ environment: env, now: () => now });
    h.client.start();
    const ws = FakeWebSocket.last.hello('E1', 0, { ping_ms: 1000 });
    now += 5000; // the tab slept; its timers did not run
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(ws.closedByClient?.code).toBe(CLIENT_ABANDON_CODE);
    expect(h.client.getState().status).toBe('reconnecting');
  });

  it('stop removes the listeners', () => {
    const { win, env } = fakeEnv();
    const h = makeClient({ environment: env });
    h.client.start();
    FakeWebSocket.last.refuse();
    h.client.stop();
    win.dispatchEvent(new Event('online'));
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe('robustness', () => {
  it('ignores non-JSON frames, unknown types and events before hello', async () => {
    const h = makeClient();
    h.client.start();
    const ws = FakeWebSocket.last.open();
    ws.event('E1', 1); // before hello: ignored
    ws.message('not json').message({ type: 'something_new' });
    ws.hello('E1', 0);
    await flushPromises();
    await h.resolveResync({ epoch: 'E1', seq: 0 });
    ws.event('E1', 1);
    expect(seqs(h.events)).toEqual([1]);
  });

  it('a throwing onEvent does not break the stream', async () => {
    const seen: number[] = [];
    const h = makeClient({
      onEvent: (e) => {
        seen.push(e.seq);
        throw new Error('boom');
      },
    });
    const ws = await live(h);
    ws.event('E1', 1).event('E1', 2);
    expect(seen).toEqual([1, 2]);
  });

  it('state objects are immutable snapshots (safe for useSyncExternalStore)', async () => {
    const h = makeClient();
    const s0: ClientState = h.client.getState();
    h.client.start();
    const s1 = h.client.getState();
    expect(s1).not.toBe(s0);
    expect(s0.status).toBe('idle');
    expect(h.client.getState()).toBe(s1); // unchanged state, same object
  });
});
