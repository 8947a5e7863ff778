// OrchestratorClient: the framework-free core of the live feed. It owns one
// WebSocket to the gateway (/orchestrator/ws) at a time and turns it into a
// gap-free, duplicate-free stream of change events for its consumer:
//
// - connect, with a status the UI shows as a dot (see `dotColor`);
// - reconnect with exponential backoff 1, 2, 4, 8, 16, 30 s (jittered, reset
//   by a successful `hello`); an immediate retry when the browser comes back
//   online or the tab becomes visible;
// - resume: every connection after the first carries `epoch` and `since`,
//   the position of the last event handed to the consumer, so the gateway
//   replays exactly what was missed;
// - resync: when the gateway says `resync_required`, or when the client has
//   no base yet (first `hello`), the consumer's
//   `resync` callback reloads over REST and returns the (epoch, seq) its data
//   is consistent with; events that arrive meanwhile are held back and only
//   those after that seq are delivered. A seq gap that the gateway did not
//   announce: reconnect from the position (the gateway replays or asks for a
//   resync); an unannounced event of the connection's new epoch: resync;
// - heartbeat watchdog: no message (the gateway pings every `ping_ms`) for
//   two intervals means the connection is dead, whatever the socket says;
// - notices for toasts: one `disconnected` when the client turns red, one
//   `reconnected` when it is live again, none while a retry loop keeps failing;
//   `watcher_restarted` (with the number of changes) when the watcher
//   restarted keeping its epoch (`watcher_up` with `restarted`) and the client
//   has applied every change made meanwhile (its seq reached `caught_up_seq`:
//   no reload); `watcher_restarted_reloaded` when an `epoch_changed` reload
//   is done (the watcher restarted without its saved state).
//
// Status, and when amber turns red:
//   connecting    amber  first attempt since start(), nothing has failed yet
//   connected     green  `hello` received on the current socket
//   reconnecting  amber  a live connection dropped; the one fast retry
//                        (0-250 ms) is pending or in flight
//   disconnected  red    an attempt failed (closed or timed out before
//                        `hello`); the next backoff retry is scheduled or in
//                        flight. Stays red through further attempts until a
//                        `hello` arrives: "manual refresh only".
//   idle                 not started, or stopped
//
// Threading: single-threaded (browser event loop); every callback runs on it.
// Timers are the global setTimeout/clearTimeout, so fake timers drive tests.

import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { buildWsUrl } from './endpoints';
import {
  isChangeEvent,
  type ChangeEventMessage,
  type HelloMessage,
  type ResyncRequiredMessage,
  type WatcherUpMessage,
} from './protocol';

export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** A point in the watcher's event stream: the last seq applied, in an epoch. */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

export interface ClientState {
  status: ConnectionStatus;
  /** The gateway says the watcher's heartbeat is silent (shown amber). */
  watcherDown: boolean;
  /** Position of the last event delivered (or of the last resync). */
  position: StreamPosition | null;
  /** A resync (REST reload) is running; events are being held back. */
  resyncing: boolean;
  /** Consecutive failed connection attempts since the last `hello`. */
  failures: number;
  /** When the next retry fires (`now()` clock), while one is scheduled. */
  nextRetryAt: number | null;
  lastError: string | null;
  /** Gateway name from `hello`. */
  gateway: string | null;
  pingMs: number;
  /** Events dropped because they were already applied (resume overlap). */
  duplicates: number;
}

export type Notice = 'disconnected' | 'reconnected' | 'watcher_restarted' | 'watcher_restarted_reloaded';

/** What a notice is about, when it needs more than its name. */
export interface NoticeDetail {
  /** `watcher_restarted`: changes made while the watcher was down, now applied. */
  changes?: number;
}

/** A watcher restart (same epoch) whose changes are not all applied yet. */
interface PendingRestart {
  epoch: string;
  changes: number;
  caughtUpSeq: number;
}

export type DotColor = 'green' | 'amber' | 'red' | 'grey';

/** The status dot's colour for a state. */
export function dotColor(s: Pick<ClientState, 'status' | 'watcherDown'>): DotColor {
  switch (s.status) {
    case 'connected':
      return s.watcherDown ? 'amber' : 'green';
    case 'connecting':
    case 'reconnecting':
      return 'amber';
    case 'disconnected':
      return 'red';
    default:
      return 'grey';
  }
}

/** The minimal WebSocket surface the client uses (the DOM one fits). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketCtor = new (url: string) => WebSocketLike;

interface EventTargetLike {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
}

export interface EnvironmentLike {
  /** Fires `online`. */
  window?: EventTargetLike | null;
  /** Fires `visibilitychange`; has `visibilityState`. */
  document?: (EventTargetLike & { visibilityState?: string }) | null;
}

export interface OrchestratorClientOptions {
  /** ws(s)://host:port/orchestrator/ws */
  url: string;
  topics?: readonly string[];
  token?: string;
  /**
   * Reload the consumer's state over REST and return the position that state
   * is consistent with (the `epoch`/`seq` of the REST responses). Called on
   * the first `hello`, on `resync_required`, on an epoch change, and by
   * `resync()`. A rejection drops the connection and retries with backoff.
   */
  resync: (reason: string) => Promise<StreamPosition>;
  /** Each change event, once, in seq order, after the state it applies to. */
  onEvent?: (ev: ChangeEventMessage) => void;
  /** Toast triggers. */
  onNotice?: (n: Notice, state: ClientState, detail?: NoticeDetail) => void;
  WebSocket?: WebSocketCtor;
  backoff?: BackoffOptions;
  /** Upper bound of the random delay before the fast retry after a drop. */
  fastRetryMaxMs?: number;
  /** An attempt that has not seen `hello` after this long has failed. */
  connectTimeoutMs?: number;
  /** Ping interval assumed until `hello` says otherwise. */
  defaultPingMs?: number;
  /** Events held back during a resync beyond this are dropped and the resync redone. */
  maxBuffered?: number;
  random?: () => number;
  now?: () => number;
  /** Where `online` / `visibilitychange` come from; null for none. */
  environment?: EnvironmentLike | null;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

const WS_OPEN = 1;
/** Close code the client sends when it gives up on a socket (4000-4999: private use). */
export const CLIENT_ABANDON_CODE = 4100;
/** Forced reconnects (to replay a gap) allowed in `FORCED_WINDOW_MS` before backoff applies. */
const MAX_FORCED_RECONNECTS = 3;
const FORCED_WINDOW_MS = 60_000;

type Listener = () => void;

export class OrchestratorClient {
  private readonly opts: Required<
    Pick<
      OrchestratorClientOptions,
      'fastRetryMaxMs' | 'connectTimeoutMs' | 'defaultPingMs' | 'maxBuffered' | 'random' | 'now'
    >
  > &
    OrchestratorClientOptions;
  private readonly backoff: BackoffOptions;
  private state: ClientState;
  private readonly listeners = new Set<Listener>();

  private started = false;
  private ws: WebSocketLike | null = null;
  /** Incremented whenever the current socket is given up; stale handlers check it. */
  private socketGen = 0;
  private helloSeen = false;
  /** The epoch the gateway announced in this connection's `hello`. */
  private helloEpoch: string | null = null;
  private lastMessageAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  /** A `disconnected` notice was sent and no `reconnected` yet. */
  private disconnectNoticed = false;
  private forcedAt: number[] = [];

  private buffer: ChangeEventMessage[] = [];
  private resyncRunning = false;
  private resyncQueued: string | null = null;
  /** A reload because the epoch changed is running or queued. */
  private epochReload = false;
  private pendingRestart: PendingRestart | null = null;
  private resyncWaiters: Array<(ok: boolean) => void> = [];
  private envCleanup: (() => void) | null = null;

  constructor(options: OrchestratorClientOptions) {
    this.opts = {
      fastRetryMaxMs: 250,
      connectTimeoutMs: 10_000,
      defaultPingMs: 30_000,
      maxBuffered: 50_000,
      random: Math.random,
      now: () => Date.now(),
      ...options,
    };
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.state = {
      status: 'idle',
      watcherDown: false,
      position: null,
      resyncing: false,
      failures: 0,
      nextRetryAt: null,
      lastError: null,
      gateway: null,
      pingMs: this.opts.defaultPingMs,
      duplicates: 0,
    };
  }

  // ---- public API -------------------------------------------------------

  getState(): ClientState {
    return this.state;
  }

  /** Calls `fn` after every state change. Returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Opens the first connection and starts listening for online/visibility. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.attachEnvironment();
    this.setState({ status: 'connecting', failures: 0, nextRetryAt: null, lastError: null });
    this.connect();
  }

  /** Closes the socket, cancels every timer; the client can be started again. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.envCleanup?.();
    this.envCleanup = null;
    this.clearTimer('retryTimer');
    this.dropSocket(1000, 'client stopped');
    this.buffer = [];
    this.disconnectNoticed = false;
    this.pendingRestart = null;
    this.setState({ status: 'idle', nextRetryAt: null, watcherDown: false });
  }

  /** Retry now instead of waiting for the backoff timer (no-op when live). */
  retryNow(): void {
    if (!this.started || this.ws) return;
    this.clearTimer('retryTimer');
    this.setState({ nextRetryAt: null });
    this.connect();
  }

  /**
   * Reloads over the consumer's `resync` callback (the manual Refresh). While
   * connected, events arriving meanwhile are held back and the ones the
   * reload already covers are dropped; while disconnected, the next
   * connection resumes from the reloaded position. Resolves with success.
   */
  resync(reason = 'manual'): Promise<boolean> {
    return new Promise((resolve) => {
      this.resyncWaiters.push(resolve);
      this.startResync(reason);
    });
  }

  /** Replaces the topic filter on the live connection and for later ones. */
  setTopics(topics: readonly string[]): void {
    this.opts.topics = topics;
    this.send({ type: 'subscribe', topics });
  }

  // ---- connection lifecycle --------------------------------------------

  private connect(): void {
    if (!this.started) return;
    const gen = ++this.socketGen;
    this.helloSeen = false;
    const Ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    const pos = this.state.position;
    const url = buildWsUrl(this.opts.url, {
      topics: this.opts.topics,
      token: this.opts.token,
      epoch: pos?.epoch,
      since: pos?.seq,
    });
    let ws: WebSocketLike;
    try {
      if (!Ctor) throw new Error('no WebSocket implementation');
      ws = new Ctor(url);
    } catch (e) {
      this.ws = null;
      this.attemptFailed(`cannot open WebSocket: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    this.log('debug', `connecting to ${url}`);
    ws.onopen = () => {
      if (gen !== this.socketGen) return;
      this.lastMessageAt = this.opts.now();
    };
    ws.onmessage = (ev) => {
      if (gen !== this.socketGen) return;
      this.onMessage(ev.data);
    };
    ws.onerror = () => {
      if (gen !== this.socketGen) return;
      this.setState({ lastError: 'WebSocket error' });
    };
    ws.onclose = (ev) => {
      if (gen !== this.socketGen) return;
      this.socketGone(`closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`);
    };
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (gen !== this.socketGen || this.helloSeen) return;
      this.dropSocket(CLIENT_ABANDON_CODE, 'no hello');
      this.attemptFailed(`no hello within ${this.opts.connectTimeoutMs} ms`);
    }, this.opts.connectTimeoutMs);
  }

  /** The current socket closed by itself. */
  private socketGone(reason: string): void {
    const wasLive = this.helloSeen;
    this.dropSocket(null, reason);
    if (!this.started) return;
    if (wasLive) this.connectionLost(reason);
    else this.attemptFailed(reason);
  }

  /**
   * Forgets the current socket: its handlers go stale, its timers stop, and
   * it is closed with `code` unless `code` is null (already closed).
   */
  private dropSocket(code: number | null, reason: string): void {
    this.socketGen++;
    this.clearTimer('connectTimer');
    this.clearTimer('watchdogTimer');
    const ws = this.ws;
    this.ws = null;
    this.helloSeen = false;
    this.helloEpoch = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      if (code !== null) {
        try {
          ws.close(code, reason);
        } catch {
          // a socket still CONNECTING may throw in some engines; it is gone anyway
        }
      }
    }
    if (this.state.watcherDown) this.setState({ watcherDown: false });
  }

  /** A live connection dropped: one fast retry, still amber. */
  private connectionLost(reason: string): void {
    this.log('info', `connection lost: ${reason}`);
    const delay = Math.round(this.opts.random() * this.opts.fastRetryMaxMs);
    this.setState({ status: 'reconnecting', failures: 0, lastError: reason });
    this.scheduleRetry(delay);
  }

  /** An attempt ended without `hello`: red, next retry on the backoff schedule. */
  private attemptFailed(reason: string): void {
    const failures = this.state.failures + 1;
    const delay = backoffDelay(failures - 1, this.opts.random, this.backoff);
    this.log('info', `attempt ${failures} failed (${reason}); retry in ${delay} ms`);
    this.setState({ status: 'disconnected', failures, lastError: reason });
    if (!this.disconnectNoticed) {
      this.disconnectNoticed = true;
      this.opts.onNotice?.('disconnected', this.state);
    }
    this.scheduleRetry(delay);
  }

  private scheduleRetry(delayMs: number): void {
    this.clearTimer('retryTimer');
    this.setState({ nextRetryAt: this.opts.now() + delayMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.setState({ nextRetryAt: null });
      this.connect();
    }, delayMs);
  }

  /**
   * Gives up the current socket to resume from the client's position, e.g.
   * after a seq gap: the gateway then replays the missing events or says
   * `resync_required`. More than a few in a minute count as failures, so a
   * misbehaving server cannot make the client spin.
   */
  private forceReconnect(reason: string): void {
    const now = this.opts.now();
    this.forcedAt = this.forcedAt.filter((t) => now - t < FORCED_WINDOW_MS);
    this.forcedAt.push(now);
    this.log('warn', `reconnecting to resume: ${reason}`);
    this.dropSocket(CLIENT_ABANDON_CODE, 'resume');
    if (this.forcedAt.length > MAX_FORCED_RECONNECTS) {
      this.attemptFailed(`${reason} (repeated)`);
    } else {
      this.setState({ status: 'reconnecting', lastError: reason });
      this.scheduleRetry(0);
    }
  }

  // ---- messages ----------------------------------------------------------

  private onMessage(data: unknown): void {
    this.lastMessageAt = this.opts.now();
    if (this.helloSeen) this.armWatchdog();
    if (typeof data !== 'string') return; // the gateway only sends text
    let msg: { type?: unknown } & Record<string, unknown>;
    try {
      msg = JSON.parse(data);
    } catch {
      this.log('warn', 'ignored a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (isChangeEvent(msg)) {
      if (!this.helloSeen) return; // the protocol sends hello first
      this.onChangeEvent(msg);
      return;
    }
    switch (msg.type) {
      case 'hello':
        this.onHello(msg as unknown as HelloMessage);
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'resync_required': {
        const m = msg as unknown as ResyncRequiredMessage;
        this.log('info', `resync required: ${m.reason}`);
        this.startResync(String(m.reason ?? 'resync_required'));
        break;
      }
      case 'watcher_down':
        this.setState({ watcherDown: true });
        break;
      case 'watcher_up':
        this.setState({ watcherDown: false });
        this.onWatcherUp(msg as unknown as WatcherUpMessage);
        break;
      default:
        break; // pong, error, and anything newer than this client
    }
  }

  private onHello(m: HelloMessage): void {
    this.clearTimer('connectTimer');
    this.helloSeen = true;
    this.helloEpoch = typeof m.epoch === 'string' ? m.epoch : null;
    const pingMs = typeof m.ping_ms === 'number' && m.ping_ms > 0 ? m.ping_ms : this.opts.defaultPingMs;
    this.setState({
      status: 'connected',
      failures: 0,
      nextRetryAt: null,
      lastError: null,
      gateway: typeof m.gateway === 'string' ? m.gateway : null,
      pingMs,
    });
    this.armWatchdog();
    if (this.disconnectNoticed) {
      this.disconnectNoticed = false;
      this.opts.onNotice?.('reconnected', this.state);
    }
    // No base yet: load one. A known position of another epoch is answered
    // by the gateway with resync_required right after this hello.
    if (!this.state.position && !this.resyncRunning) this.startResync('initial');
  }

  /**
   * A watcher that restarted in the same epoch: nothing to reload; the
   * notice waits until the changes made meanwhile are applied (they come as
   * ordinary events, maybe after this message).
   */
  private onWatcherUp(m: WatcherUpMessage): void {
    if (m.restarted !== true || typeof m.epoch !== 'string') return;
    const pos = this.state.position;
    // Another epoch than the client's: the gateway resyncs it (and the
    // reload says so); nothing to announce here.
    if (pos && pos.epoch !== m.epoch) return;
    this.pendingRestart = {
      epoch: m.epoch,
      changes: typeof m.changes === 'number' && m.changes >= 0 ? m.changes : 0,
      caughtUpSeq: typeof m.caught_up_seq === 'number' ? m.caught_up_seq : 0,
    };
    this.log('info', `watcher restarted in epoch ${m.epoch}: ${this.pendingRestart.changes} change(s) meanwhile`);
    this.checkRestartApplied();
  }

  /** Announces a pending restart once the client's position has its changes. */
  private checkRestartApplied(): void {
    const r = this.pendingRestart;
    const pos = this.state.position;
    if (!r || !pos || this.resyncRunning) return;
    if (pos.epoch !== r.epoch) {
      this.pendingRestart = null; // a reload into another epoch replaced it
      return;
    }
    // With a topic filter the client may never see the last seq (another
    // kind's): it has what it asked for once nothing more is buffered.
    const filtered = (this.opts.topics?.length ?? 0) > 0;
    if (pos.seq < r.caughtUpSeq && !filtered) return;
    this.pendingRestart = null;
    this.opts.onNotice?.('watcher_restarted', this.state, { changes: r.changes });
  }

  private onChangeEvent(ev: ChangeEventMessage): void {
    if (this.resyncRunning || !this.state.position) {
      this.holdBack(ev);
      return;
    }
    this.apply(ev);
  }

  private holdBack(ev: ChangeEventMessage): void {
    this.buffer.push(ev);
    if (this.buffer.length > this.opts.maxBuffered) {
      this.buffer = [];
      this.resyncQueued = 'overflow';
    }
  }

  /**
   * Delivers `ev` if it is the next one; drops a duplicate; a gap or another
   * epoch means the stream cannot continue as is. Returns false when the
   * caller must stop delivering (a resync started or the socket was dropped).
   */
  private apply(ev: ChangeEventMessage): boolean {
    const pos = this.state.position!;
    if (ev.epoch !== pos.epoch) {
      if (ev.epoch === this.helloEpoch) {
        // The gateway is in a new epoch and did not say resync_required:
        // reload here, and apply this event on top if the reload lacks it.
        this.buffer.unshift(ev);
        this.startResync('epoch_changed');
      } else {
        // Not even the epoch this connection started in: resume, and let
        // the gateway decide.
        this.forceReconnect(`event of epoch ${ev.epoch}, expected ${pos.epoch}`);
      }
      return false;
    }
    if (ev.seq <= pos.seq) {
      this.setState({ duplicates: this.state.duplicates + 1 });
      return true;
    }
    // With a topic filter the gateway skips other kinds' seqs, so only
    // order can be checked; the gateway still announces real gaps with
    // resync_required.
    const filtered = (this.opts.topics?.length ?? 0) > 0;
    if (ev.seq > pos.seq + 1 && !filtered) {
      this.forceReconnect(`gap: expected seq ${pos.seq + 1}, got ${ev.seq}`);
      return false;
    }
    this.setState({ position: { epoch: ev.epoch, seq: ev.seq } });
    try {
      this.opts.onEvent?.(ev);
    } catch (e) {
      this.log('warn', `onEvent threw: ${(e as Error).message}`);
    }
    if (this.pendingRestart) this.checkRestartApplied();
    return true;
  }

  // ---- resync ------------------------------------------------------------

  private startResync(reason: string): void {
    if (reason === 'epoch_changed') this.epochReload = true;
    if (this.resyncRunning) {
      this.resyncQueued = reason;
      return;
    }
    this.resyncRunning = true;
    this.setState({ resyncing: true });
    const gen = this.socketGen;
    const wasConnected = this.helloSeen;
    let p: Promise<StreamPosition>;
    try {
      p = Promise.resolve(this.opts.resync(reason));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (pos) => this.resyncDone(pos),
      (err: unknown) => this.resyncFailed(err, gen, wasConnected),
    );
  }

  private resyncDone(pos: StreamPosition): void {
    this.resyncRunning = false;
    if (!pos || typeof pos.epoch !== 'string' || typeof pos.seq !== 'number') {
      this.resyncFailed(new Error('resync returned no position'), this.socketGen, this.helloSeen);
      return;
    }
    this.setState({ position: { epoch: pos.epoch, seq: pos.seq } });
    if (this.resyncQueued) {
      const r = this.resyncQueued;
      this.resyncQueued = null;
      this.startResync(r);
      return;
    }
    this.setState({ resyncing: false });
    if (this.epochReload) {
      this.epochReload = false;
      this.pendingRestart = null;
      this.opts.onNotice?.('watcher_restarted_reloaded', this.state);
    }
    this.flushBuffer();
    this.checkRestartApplied();
    this.settleWaiters(true);
  }

  private resyncFailed(err: unknown, gen: number, wasConnected: boolean): void {
    this.resyncRunning = false;
    this.resyncQueued = null;
    this.epochReload = false;
    this.buffer = [];
    const msg = `resync failed: ${(err as Error)?.message ?? String(err)}`;
    this.log('warn', msg);
    this.setState({ resyncing: false, lastError: msg });
    this.settleWaiters(false);
    // Events after the failed reload cannot be applied to a base we do not
    // have: give up this socket; the next one resumes from the old position
    // (or loads again when there is none).
    if (this.started && wasConnected && gen === this.socketGen && this.ws) {
      this.dropSocket(CLIENT_ABANDON_CODE, 'resync failed');
      this.attemptFailed(msg);
    }
  }

  private flushBuffer(): void {
    while (this.buffer.length && !this.resyncRunning && this.ws) {
      const ev = this.buffer.shift()!;
      if (!this.apply(ev)) break;
    }
    if (!this.ws && !this.resyncRunning) this.buffer = [];
  }

  private settleWaiters(ok: boolean): void {
    const w = this.resyncWaiters;
    this.resyncWaiters = [];
    for (const fn of w) fn(ok);
  }

  // ---- heartbeat watchdog, environment ----------------------------------

  private armWatchdog(): void {
    this.clearTimer('watchdogTimer');
    const limit = 2 * this.state.pingMs;
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = null;
      this.heartbeatLost();
    }, limit);
  }

  private heartbeatLost(): void {
    if (!this.helloSeen) return;
    const reason = `no ping for ${2 * this.state.pingMs} ms`;
    this.dropSocket(CLIENT_ABANDON_CODE, 'heartbeat timeout');
    this.connectionLost(reason);
  }

  /** Back online / tab visible again: check the live socket, or retry now. */
  private wake(why: string): void {
    if (!this.started) return;
    if (this.helloSeen) {
      // Background tabs throttle timers: the watchdog may be late.
      if (this.opts.now() - this.lastMessageAt > 2 * this.state.pingMs) this.heartbeatLost();
      return;
    }
    if (this.retryTimer) {
      this.log('info', `${why}: retrying now`);
      this.retryNow();
    }
  }

  private attachEnvironment(): void {
    const env: EnvironmentLike | null =
      this.opts.environment === undefined
        ? {
            window: typeof window !== 'undefined' ? window : null,
            document: typeof document !== 'undefined' ? document : null,
          }
        : this.opts.environment;
    if (!env) return;
    const onOnline = () => this.wake('online');
    const onVisible = () => {
      if (env.document?.visibilityState === 'visible') this.wake('visible');
    };
    env.window?.addEventListener('online', onOnline);
    env.document?.addEventListener('visibilitychange', onVisible);
    this.envCleanup = () => {
      env.window?.removeEventListener('online', onOnline);
      env.document?.removeEventListener('visibilitychange', onVisible);
    };
  }

  // ---- plumbing ----------------------------------------------------------

  private send(obj: unknown): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WS_OPEN) return;
    try {
      ws.send(JSON.stringify(obj));
    } catch {
      // the close handler will follow
    }
  }

  private clearTimer(name: 'retryTimer' | 'connectTimer' | 'watchdogTimer'): void {
    const t = this[name];
    if (t !== null) {
      clearTimeout(t);
      this[name] = null;
    }
  }

  private setState(patch: Partial<ClientState>): void {
    let changed = false;
    for (const k of Object.keys(patch) as Array<keyof ClientState>) {
      if (this.state[k] !== patch[k]) {
        changed = true;
        break;
      }
    }
    if (!changed) return;
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn();
  }

  private log(level: 'debug' | 'info' | 'warn', msg: string): void {
    this.opts.log?.(level, msg);
  }
}
