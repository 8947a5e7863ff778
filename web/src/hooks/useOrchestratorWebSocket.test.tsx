// @vitest-environment happy-dom
import { act, StrictMode, useState } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeWebSocket } from '../client/fakeWebSocket.test-helper';
import type { ChangeEventMessage } from '../client/protocol';
import { useOrchestratorWebSocket, type UseOrchestratorWebSocket } from './useOrchestratorWebSocket';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let container: HTMLElement;
let latest: UseOrchestratorWebSocket;
const seen: string[] = [];
let setLabel: (s: string) => void;

function Probe({ url = 'ws://gw.test/orchestrator/ws' }: { url?: string }) {
  const [label, set] = useState('first');
  setLabel = set;
  latest = useOrchestratorWebSocket({
    url,
    WebSocket: FakeWebSocket,
    environment: null,
    random: () => 0,
    resync: async () => ({ epoch: 'E1', seq: 0 }),
    // A new closure every render, closing over `label`.
    onEvent: (ev: ChangeEventMessage) => seen.push(`${label}:${ev.seq}`),
  });
  return <span data-status={latest.status}>{latest.status}</span>;
}

async function flush() {
  await act(async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  });
}

beforeEach(() => {
  FakeWebSocket.reset();
  seen.length = 0;
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.useRealTimers();
});

describe('useOrchestratorWebSocket', () => {
  it('connects on mount, renders the status, and closes on unmount', async () => {
    act(() => root.render(<Probe />));
    expect(container.textContent).toBe('connecting');
    expect(FakeWebSocket.instances).toHaveLength(1);
    act(() => {
      FakeWebSocket.last.hello('E1', 0);
    });
    await flush();
    expect(container.textContent).toBe('connected');
    const ws = FakeWebSocket.last;
    act(() => root.unmount());
    expect(ws.closedByClient?.code).toBe(1000);
    root = createRoot(container); // for afterEach
  });

  it('calls the latest callback: a handler closing over state never goes stale', async () => {
    act(() => root.render(<Probe />));
    act(() => {
      FakeWebSocket.last.hello('E1', 0);
    });
    await flush(); // initial resync resolves
    act(() => {
      FakeWebSocket.last.event('E1', 1);
    });
    act(() => setLabel('second'));
    act(() => {
      FakeWebSocket.last.event('E1', 2);
    });
    expect(seen).toEqual(['first:1', 'second:2']);
    // New callbacks on every render did not open new sockets.
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('a new URL replaces the client (old socket closed, new one opened)', () => {
    act(() => root.render(<Probe url="ws://a.test/orchestrator/ws" />));
    const a = FakeWebSocket.last;
    act(() => root.render(<Probe url="ws://b.test/orchestrator/ws" />));
    expect(a.closedByClient?.code).toBe(1000);
    expect(FakeWebSocket.last.url).toContain('ws://b.test/orchestrator/ws');
  });

  it('StrictMode mount/unmount/mount leaves exactly one open socket', async () => {
    act(() =>
      root.render(
        <StrictMode>
          <Probe />
        </StrictMode>,
      ),
    );
    const open = FakeWebSocket.instances.filter((s) => !s.closedByClient);
    expect(open).toHaveLength(1);
    act(() => {
      open[0].hello('E1', 0);
    });
    await flush();
    expect(latest.status).toBe('connected');
  });
});
