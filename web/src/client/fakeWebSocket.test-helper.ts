// A scriptable stand-in for the browser WebSocket: the test plays the
// gateway (open, send a message, close) and inspects what the client sent.
// Test-only; not part of the bundle.

import type { WebSocketLike } from './orchestratorClient';

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** The most recent socket the client created. */
  static get last(): FakeWebSocket {
    const s = FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    if (!s) throw new Error('no socket was created');
    return s;
  }

  readyState = 0;
  readonly sent: unknown[] = [];
  /** Set when the client closed the socket. */
  closedByClient: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  get params(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data));
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  // ---- the server's side ----

  open(): this {
    this.readyState = 1;
    this.onopen?.({});
    return this;
  }

  message(obj: unknown): this {
    this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) });
    return this;
  }

  hello(epoch: string, seq: number, extra: Record<string, unknown> = {}): this {
    if (this.readyState !== 1) this.open();
    return this.message({ type: 'hello', epoch, seq, ping_ms: 30000, replayed: 0, ...extra });
  }

  event(epoch: string, seq: number, type = 'plan_updated', extra: Record<string, unknown> = {}): this {
    return this.message({
      type,
      epoch,
      seq,
      project: 'p',
      feature_name: `f${seq}`,
      file_path: `coderef/working/f${seq}/plan.json`,
      key: `coderef/working/f${seq}/plan.json`,
      ...extra,
    });
  }

  /** The server (or the network) closes the connection. */
  serverClose(code = 1006, reason = ''): this {
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code !== 1006 });
    return this;
  }

  /** A connection that never opens: error then close, as browsers do. */
  refuse(): this {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: '', wasClean: false });
    return this;
  }
}
