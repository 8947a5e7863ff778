// Where the gateway is. By default: the origin that served the page (the
// gateway serves the dashboard at `/`), so nothing has to be configured and
// no variable can be left unset. Overrides, first match wins:
//   1. `?gateway=http://host:port` in the page URL (handy with `vite dev`);
//   2. `window.CODEREF_GATEWAY` set by a script before the bundle;
//   3. the page's own origin (or http://127.0.0.1:8000, gateway-svc's
//      default, when the page has no http origin, e.g. file://).
// A `?token=T` in the page URL is passed on to REST and WebSocket.

export interface Endpoints {
  /** http(s)://host:port, no trailing slash. */
  httpBase: string;
  /** ws(s)://host:port/orchestrator/ws, without query. */
  wsUrl: string;
  token?: string;
}

export interface LocationLike {
  href: string;
  origin: string;
  protocol: string;
  host: string;
  search: string;
}

/** gateway-svc's default --listen, for pages without an http origin. */
export const FALLBACK_GATEWAY = 'http://127.0.0.1:8000';

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function httpUrl(s: string, relativeTo: string): URL | null {
  if (!s) return null;
  try {
    const u = new URL(s, relativeTo);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host ? u : null;
  } catch {
    return null;
  }
}

/** Derives the endpoints from a page location and an optional override. */
export function deriveEndpoints(loc: LocationLike, override?: string | null): Endpoints {
  const params = new URLSearchParams(loc.search);
  const fromQuery = params.get('gateway');
  const chosen = (fromQuery && fromQuery.trim()) || (override && override.trim()) || '';
  // A broken override falls back to the origin; a page not served over
  // http(s) (file://, about:blank) has no usable origin: assume the
  // gateway's default address.
  const base =
    httpUrl(chosen, loc.href) ?? httpUrl(loc.origin, loc.href) ?? new URL(FALLBACK_GATEWAY);
  const httpBase = trimSlash(`${base.protocol}//${base.host}${base.pathname}`);
  const wsProto = base.protocol === 'https:' ? 'wss:' : 'ws:';
  const wsUrl = `${wsProto}//${base.host}${trimSlash(base.pathname)}/orchestrator/ws`;
  const token = params.get('token') || undefined;
  return { httpBase, wsUrl, token };
}

/** The endpoints for this page (browser only). */
export function pageEndpoints(): Endpoints {
  const w = window as unknown as { CODEREF_GATEWAY?: string };
  return deriveEndpoints(window.location, w.CODEREF_GATEWAY ?? null);
}

/**
 * Builds the WebSocket URL for one connection attempt: topics, token, and the
 * resume point (`epoch` + `since`) when the client has one.
 */
export function buildWsUrl(
  wsUrl: string,
  opts: { topics?: readonly string[]; token?: string; epoch?: string | null; since?: number | null },
): string {
  const u = new URL(wsUrl);
  if (opts.topics && opts.topics.length) u.searchParams.set('topics', opts.topics.join(','));
  if (opts.token) u.searchParams.set('token', opts.token);
  if (opts.epoch && opts.since != null) {
    u.searchParams.set('epoch', opts.epoch);
    u.searchParams.set('since', String(opts.since));
  }
  return u.toString();
}
