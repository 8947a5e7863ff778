import { describe, expect, it } from 'vitest';
import { buildWsUrl, deriveEndpoints, type LocationLike } from './endpoints';

function loc(href: string): LocationLike {
  const u = new URL(href);
  return { href, origin: u.origin, protocol: u.protocol, host: u.host, search: u.search };
}

describe('endpoints', () => {
  it('derive from the page origin by default', () => {
    expect(deriveEndpoints(loc('http://127.0.0.1:8123/#/plans'))).toEqual({
      httpBase: 'http://127.0.0.1:8123',
      wsUrl: 'ws://127.0.0.1:8123/orchestrator/ws',
      token: undefined,
    });
  });

  it('https pages use wss', () => {
    expect(deriveEndpoints(loc('https://dash.example.com/')).wsUrl).toBe('wss://dash.example.com/orchestrator/ws');
  });

  it('?gateway= overrides, then the injected value; ?token= is passed on', () => {
    const e = deriveEndpoints(loc('http://localhost:5173/?gateway=http://10.0.0.5:9000&token=abc'), 'http://ignored:1');
    expect(e).toEqual({ httpBase: 'http://10.0.0.5:9000', wsUrl: 'ws://10.0.0.5:9000/orchestrator/ws', token: 'abc' });
    expect(deriveEndpoints(loc('http://localhost:5173/'), 'https://gw.example/base/').wsUrl).toBe(
      'wss://gw.example/base/orchestrator/ws',
    );
  });

  it('an empty or broken override falls back to the origin, never to "undefined"', () => {
    expect(deriveEndpoints(loc('http://h:1/'), '').httpBase).toBe('http://h:1');
    expect(deriveEndpoints(loc('http://h:1/?gateway='), null).httpBase).toBe('http://h:1');
    expect(deriveEndpoints(loc('http://h:1/?gateway=http://'), null).httpBase).toBe('http://h:1');
  });

  it('a page without an http origin uses the gateway default address', () => {
    const l = { href: 'about:blank', origin: 'null', protocol: 'about:', host: '', search: '' };
    expect(deriveEndpoints(l).wsUrl).toBe('ws://127.0.0.1:8000/orchestrator/ws');
  });

  it('buildWsUrl adds topics, token and the resume point', () => {
    const u = new URL(buildWsUrl('ws://h:1/orchestrator/ws', { topics: ['plan', 'stub'], token: 't', epoch: 'E', since: 0 }));
    expect(u.searchParams.get('topics')).toBe('plan,stub');
    expect(u.searchParams.get('token')).toBe('t');
    expect(u.searchParams.get('epoch')).toBe('E');
    expect(u.searchParams.get('since')).toBe('0');
    expect(buildWsUrl('ws://h:1/orchestrator/ws', { epoch: null, since: null })).toBe('ws://h:1/orchestrator/ws');
  });
});
