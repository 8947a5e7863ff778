// @vitest-environment happy-dom
// @vitest-environment-options {"url": "http://127.0.0.1:8123/#/plans"}
//
// The dashboard as a whole, with a fake WebSocket and a fake REST API: the
// dot, the toasts, rows updating in place, Refresh while disconnected,
// keyboard navigation between tabs.

import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App, watcherRestartedText } from './App';
import { FakeWebSocket } from './client/fakeWebSocket.test-helper';
import type { PlanItem } from './client/protocol';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function plan(feature: string, status = 'planning'): PlanItem {
  const file_path = `coderef/working/${feature}/plan.json`;
  return {
    kind: 'plan', key: file_path, project: 'alpha', project_name: 'alpha', file_path, feature_name: feature,
    location: 'working', status, workorder_id: '', last_modified: new Date().toISOString(), valid: true, parse_error: null,
  };
}

// What the fake gateway's REST API returns.
const server = { epoch: 'E1', seq: 0, plans: [plan('auth')], up: true, requests: [] as string[] };

function fakeFetch(input: string) {
  const u = new URL(input);
  server.requests.push(u.pathname);
  if (!server.up) return Promise.reject(new TypeError('Failed to fetch'));
  const body: Record<string, unknown> = { epoch: server.epoch, seq: server.seq };
  switch (u.pathname) {
    case '/orchestrator/projects':
      body.projects = [{ kind: 'project', key: 'alpha', project: 'alpha', id: 'alpha', name: 'alpha', path: '/srv/alpha', exists: true, file_path: '', feature_name: '', location: '' }];
      break;
    case '/orchestrator/plans':
      body.plans = server.plans;
      break;
    case '/orchestrator/stubs':
      body.stubs = [];
      break;
    case '/orchestrator/workorders':
      body.workorders = [];
      break;
    case '/orchestrator/workorder-log':
      body.entries = [];
      body.total = 0;
      break;
  }
  return Promise.resolve({ ok: true, status: 200, json: async () => body });
}

let root: Root;
let container: HTMLElement;

const $ = (sel: string) => container.querySelector(sel);
const label = () => $('.status-label')?.textContent;
const color = () => $('.status')?.getAttribute('data-color');
const toastKinds = () => [...container.querySelectorAll('.toast')].map((t) => t.getAttribute('data-kind'));
const row = (f: string) => container.querySelector(`tr[data-feature="${f}"]`);

async function settle() {
  await act(async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  });
}

async function advance(ms: number) {
  await act(async () => {
    vi.advanceTimersByTime(ms);
  });
  await settle();
}

/** Events are applied at the next animation frame. */
async function frame() {
  await advance(17);
}

async function live() {
  act(() => root.render(<App />));
  await act(async () => {
    FakeWebSocket.last.hello(server.epoch, server.seq);
  });
  await settle();
}

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'requestAnimationFrame', 'cancelAnimationFrame'],
  });
  vi.spyOn(Math, 'random').mockReturnValue(0);
  FakeWebSocket.reset();
  Object.assign(server, { epoch: 'E1', seq: 0, plans: [plan('auth')], up: true, requests: [] });
  vi.stubGlobal('WebSocket', FakeWebSocket);
  vi.stubGlobal('fetch', vi.fn(fakeFetch));
  window.location.hash = '#/plans';
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('dashboard', () => {
  it('connects to the page origin and loads the data once live', async () => {
    await live();
    expect(FakeWebSocket.last.url).toBe('ws://127.0.0.1:8123/orchestrator/ws');
    expect(label()).toBe('Live updates enabled');
    expect(color()).toBe('green');
    expect(row('auth')).not.toBeNull();
  });

  it('applies events in place: new row highlighted, status change, no Loading flash, no refetch', async () => {
    await live();
    const fetchesBefore = server.requests.length;
    await act(async () => {
      FakeWebSocket.last.event('E1', 1, 'plan_added', { item: plan('billing'), key: plan('billing').key, project: 'alpha' });
    });
    expect(row('billing')).not.toBeNull(); // a lone event: at once
    expect(row('billing')!.classList.contains('flash')).toBe(true);
    const authRow = row('auth');
    await act(async () => {
      FakeWebSocket.last.event('E1', 2, 'plan_updated', { item: plan('auth', 'complete'), key: plan('auth').key, project: 'alpha' });
    });
    await frame();
    expect(row('auth')).toBe(authRow); // same DOM node: updated in place
    expect(row('auth')!.getAttribute('data-status')).toBe('complete');
    expect($('.placeholder')).toBeNull();
    expect(server.requests.length).toBe(fetchesBefore); // the event's item was enough
  });

  it('a burst of events is applied in one render', async () => {
    await live();
    let commits = 0;
    new MutationObserver(() => commits++).observe($('tbody')!, { childList: true });
    // Freeze the page clock: the burst arrives within one frame however slow
    // this machine renders.
    vi.spyOn(performance, 'now').mockReturnValue(performance.now());
    for (let i = 1; i <= 50; i++) {
      // one frame per WebSocket message, as the browser delivers them
      await act(async () => {
        FakeWebSocket.last.event('E1', i, 'plan_added', { item: plan(`f${i}`), key: plan(`f${i}`).key, project: 'alpha' });
      });
    }
    await frame();
    expect(container.querySelectorAll('tbody tr[data-feature]').length).toBe(51);
    // The first at once (leading edge), the other 49 at the next frame.
    expect(commits).toBe(2);
  });

  it('a project event reloads over REST', async () => {
    await live();
    const before = server.requests.length;
    await act(async () => {
      FakeWebSocket.last.event('E1', 1, 'project_added', {
        project: 'beta', key: 'beta',
        item: { kind: 'project', key: 'beta', project: 'beta', id: 'beta', name: 'beta', path: '/b', exists: true, file_path: '', feature_name: '', location: '' },
      });
    });
    await settle();
    expect(server.requests.length).toBe(before + 5);
  });

  it('outage: amber, then red with one toast through many retries; back: green with one toast', async () => {
    await live();
    // Every toast ever shown (they auto-dismiss, so count insertions).
    const shown: string[] = [];
    new MutationObserver((muts) => {
      for (const m of muts)
        m.addedNodes.forEach((n) => {
          if (n instanceof HTMLElement && n.classList.contains('toast')) shown.push(n.getAttribute('data-kind')!);
        });
    }).observe(container, { childList: true, subtree: true });
    await act(async () => {
      FakeWebSocket.last.serverClose(1001, 'shutting down');
    });
    expect(color()).toBe('amber');
    expect(label()).toBe('Connecting...');
    await advance(0); // the fast retry
    for (let i = 0; i < 6; i++) {
      await act(async () => {
        FakeWebSocket.last.refuse();
      });
      expect(color()).toBe('red');
      expect(label()).toBe('Disconnected - manual refresh only');
      if (i === 0) {
        expect(toastKinds()).toEqual(['disconnected']);
        expect($('.toast-title')?.textContent).toBe('Real-time updates disconnected');
      }
      await advance(30_000);
    }
    expect(shown).toEqual(['disconnected']);
    expect(FakeWebSocket.instances.length).toBeGreaterThanOrEqual(8);
    await act(async () => {
      FakeWebSocket.last.hello('E1', 0);
    });
    await settle();
    expect(color()).toBe('green');
    expect(shown).toEqual(['disconnected', 'reconnected']);
    expect(toastKinds()).toEqual(['reconnected']);
    expect($('.toast-title')?.textContent).toBe('Real-time updates connected');
  });

  it('Refresh works while disconnected', async () => {
    await live();
    await act(async () => {
      FakeWebSocket.last.serverClose(1006);
    });
    await advance(0);
    await act(async () => {
      FakeWebSocket.last.refuse();
    });
    expect(color()).toBe('red');
    server.plans = [plan('auth', 'blocked'), plan('fresh')];
    server.seq = 9;
    const button = [...container.querySelectorAll('button')].find((b) => b.textContent?.includes('Refresh'))!;
    await act(async () => {
      button.click();
    });
    await settle();
    expect(row('fresh')).not.toBeNull();
    expect(row('auth')!.getAttribute('data-status')).toBe('blocked');
    expect(color()).toBe('red');
    // and the next connection resumes from the refreshed position
    await advance(1000);
    expect(new URL(FakeWebSocket.last.url).searchParams.get('since')).toBe('9');
  });

  it('watcher_down shows amber with its own label', async () => {
    await live();
    await act(async () => {
      FakeWebSocket.last.message({ type: 'watcher_down' });
    });
    expect(color()).toBe('amber');
    expect(label()).toBe('Watcher not responding');
    expect(toastKinds()).toEqual([]);
  });

  it('watcher restarted with its state: plain-words notice once the changes are in, no reload', async () => {
    server.seq = 4;
    await live();
    const fetchesBefore = server.requests.length;
    const ws = FakeWebSocket.last;
    await act(async () => {
      ws.message({ type: 'watcher_down' });
    });
    expect(color()).toBe('amber');
    await act(async () => {
      ws.message({ type: 'watcher_up', epoch: 'E1', restarted: true, changes: 3, caught_up_seq: 7 });
    });
    expect(color()).toBe('green');
    expect(toastKinds()).toEqual([]); // not before the changes are applied
    for (const [seq, f] of [[5, 'billing'], [6, 'search'], [7, 'export']] as const) {
      await act(async () => {
        ws.event('E1', seq, 'plan_added', { item: plan(f), key: plan(f).key, project: 'alpha' });
      });
    }
    await frame();
    expect(row('export')).not.toBeNull();
    expect(toastKinds()).toEqual(['watcher']);
    expect($('.toast-title')?.textContent).toBe('Watcher restarted — 3 changes made meanwhile applied');
    expect(server.requests.length).toBe(fetchesBefore);
  });

  it('watcher restart wording: one change, none', () => {
    expect(watcherRestartedText(1)).toBe('Watcher restarted — 1 change made meanwhile applied');
    expect(watcherRestartedText(2)).toBe('Watcher restarted — 2 changes made meanwhile applied');
    expect(watcherRestartedText(0)).toBe('Watcher restarted — nothing changed meanwhile');
  });

  it('epoch_changed still reloads, and says why in plain words', async () => {
    await live();
    const fetchesBefore = server.requests.length;
    server.epoch = 'E2';
    server.seq = 3;
    await act(async () => {
      FakeWebSocket.last.message({ type: 'resync_required', reason: 'epoch_changed', epoch: 'E2', seq: 3 });
    });
    await settle();
    expect(server.requests.length).toBe(fetchesBefore + 5);
    expect(toastKinds()).toEqual(['watcher']);
    expect($('.toast-title')?.textContent).toBe('Watcher restarted without its saved state — reloaded');
  });

  it('the dot has a text label for screen readers and a tooltip', async () => {
    await live();
    const status = $('.status')!;
    expect(status.querySelector('[role="status"]')?.textContent).toBe('Live updates enabled');
    expect(status.querySelector('.dot')?.getAttribute('aria-hidden')).toBe('true');
    expect(status.getAttribute('title')).toMatch(/epoch E1/);
  });

  it('arrow keys, Home and End move between tabs', async () => {
    await live();
    const tab = (id: string) => $(`#tab-${id}`) as HTMLButtonElement;
    expect(tab('plans').getAttribute('aria-selected')).toBe('true');
    expect(tab('plans').tabIndex).toBe(0);
    expect(tab('stubs').tabIndex).toBe(-1);
    const key = async (k: string) =>
      act(async () => {
        (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
      });
    tab('plans').focus();
    await key('ArrowRight');
    expect(tab('stubs').getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(tab('stubs'));
    await key('End');
    expect(tab('projects').getAttribute('aria-selected')).toBe('true');
    await key('ArrowRight');
    expect(tab('overview').getAttribute('aria-selected')).toBe('true');
    await key('ArrowLeft');
    expect(tab('projects').getAttribute('aria-selected')).toBe('true');
    expect($('[role="tabpanel"]')?.getAttribute('aria-labelledby')).toBe('tab-projects');
  });
});
