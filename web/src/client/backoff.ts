// Reconnect delays: 1, 2, 4, 8, 16, 30, 30 ... seconds, each shortened by up
// to `jitter` (a fraction) so that clients dropped together by a gateway
// restart do not come back in lock step. Jitter only ever shortens a delay,
// so the cap is a real cap.

export interface BackoffOptions {
  /** First delay, ms. */
  baseMs: number;
  /** Largest delay, ms. */
  maxMs: number;
  /** 0..1: a delay is drawn from [nominal * (1 - jitter), nominal]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 30000, jitter: 0.2 };

/** The nominal delay before retry number `n` (0-based), without jitter. */
export function nominalDelay(n: number, o: BackoffOptions = DEFAULT_BACKOFF): number {
  // 2^n overflows nothing we care about: clamp the exponent first.
  const exp = Math.min(Math.max(0, n), 30);
  return Math.min(o.maxMs, o.baseMs * 2 ** exp);
}

/** The delay before retry number `n`, with jitter from `random()` in [0, 1). */
export function backoffDelay(
  n: number,
  random: () => number = Math.random,
  o: BackoffOptions = DEFAULT_BACKOFF,
): number {
  const nominal = nominalDelay(n, o);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(nominal * (1 - o.jitter * r));
}
