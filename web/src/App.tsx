// The dashboard: header (status dot, Refresh), tabs, toasts. Data lives in
// one reducer (state/dashboardState.ts): REST snapshots replace it, live
// events patch it in place. The live feed is useOrchestratorWebSocket; every
// REST reload goes through the client's resync so that events arriving
// meanwhile are applied on top of it, never lost, never applied twice.

import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { pageEndpoints } from './client/endpoints';
import type { ChangeEventMessage } from './client/protocol';
import { loadSnapshot } from './client/restApi';
import type { SortState } from './components/DataTable';
import { formatAgo, useTick } from './components/RelTime';
import { StatusIndicator } from './components/StatusIndicator';
import { TabPanel, Tabs, type TabDef } from './components/Tabs';
import { Toasts, useToasts } from './components/Toasts';
import { useOrchestratorWebSocket } from './hooks/useOrchestratorWebSocket';
import { dashboardReducer, initialDashboard, reloadReason } from './state/dashboardState';
import {
  emptyPlanFilter,
  emptyStubFilter,
  emptyWorkorderFilter,
  type PlanFilter,
  type StubFilter,
  type WorkorderFilter,
} from './state/selectors';
import { OverviewTab } from './tabs/OverviewTab';
import { PlansTab } from './tabs/PlansTab';
import { ProjectsTab } from './tabs/ProjectsTab';
import { StubsTab } from './tabs/StubsTab';
import { WorkordersTab } from './tabs/WorkordersTab';

export type TabId = 'overview' | 'plans' | 'stubs' | 'workorders' | 'projects';
const TAB_IDS: TabId[] = ['overview', 'plans', 'stubs', 'workorders', 'projects'];

function tabFromHash(): TabId {
  const h = window.location.hash.replace(/^#\/?/, '') as TabId;
  return TAB_IDS.includes(h) ? h : 'overview';
}

export const TOAST_TEXT = {
  disconnected: 'Real-time updates disconnected',
  reconnected: 'Real-time updates connected',
  watcherReloaded: 'Watcher restarted without its saved state — reloaded',
} as const;

/** The plain-words notice of a watcher restart that kept its state. */
export function watcherRestartedText(changes: number): string {
  if (changes <= 0) return 'Watcher restarted — nothing changed meanwhile';
  return `Watcher restarted — ${changes} ${changes === 1 ? 'change' : 'changes'} made meanwhile applied`;
}

export function App() {
  const endpoints = useMemo(pageEndpoints, []);
  const [data, dispatch] = useReducer(dashboardReducer, initialDashboard);
  const { toasts, push, dismiss } = useToasts();
  const [tab, setTab] = useState<TabId>(tabFromHash);
  const [planFilter, setPlanFilter] = useState<PlanFilter>(emptyPlanFilter);
  const [stubFilter, setStubFilter] = useState<StubFilter>(emptyStubFilter);
  const [woFilter, setWoFilter] = useState<WorkorderFilter>(emptyWorkorderFilter);
  const [sorts, setSorts] = useState<Record<string, SortState>>({
    plans: { column: 'modified', dir: 'desc' },
    stubs: { column: 'priority', dir: 'asc' },
    workorders: { column: 'initiated', dir: 'desc' },
    projects: { column: 'name', dir: 'asc' },
  });
  const [refreshing, setRefreshing] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);

  // A lone event is applied at once; events that follow within a frame are
  // applied together at the next animation frame, so a burst (a git
  // checkout) costs a render per frame, not one per event. A hidden tab (no
  // frames) still catches up every 250 ms.
  const pending = useRef<ChangeEventMessage[]>([]);
  const scheduled = useRef<{ raf: number; timer: ReturnType<typeof setTimeout> } | null>(null);
  const lastFlush = useRef(0);
  const flushEvents = useCallback(() => {
    if (scheduled.current) {
      cancelAnimationFrame(scheduled.current.raf);
      clearTimeout(scheduled.current.timer);
      scheduled.current = null;
    }
    const events = pending.current;
    if (!events.length) return;
    pending.current = [];
    lastFlush.current = performance.now();
    dispatch({ type: 'events', events, now: Date.now() });
  }, []);
  const enqueueEvent = useCallback(
    (ev: ChangeEventMessage) => {
      pending.current.push(ev);
      if (scheduled.current) {
        if (pending.current.length >= 5000) flushEvents();
      } else if (performance.now() - lastFlush.current > 50) {
        flushEvents(); // leading edge: nothing applied lately
      } else {
        scheduled.current = { raf: requestAnimationFrame(flushEvents), timer: setTimeout(flushEvents, 250) };
      }
    },
    [flushEvents],
  );
  useEffect(() => flushEvents, [flushEvents]);

  // Every REST reload, whoever asks (first connection, resync_required,
  // project change, the Refresh button), lands here.
  const resync = useCallback(
    async (reason: string) => {
      try {
        const snapshot = await loadSnapshot(endpoints);
        flushEvents(); // events delivered before this reload go first
        dispatch({ type: 'snapshot', snapshot, now: Date.now() });
        setLoadError(null);
        return { epoch: snapshot.epoch, seq: snapshot.seq };
      } catch (e) {
        setLoadError(`${(e as Error).message} (${reason})`);
        throw e;
      }
    },
    [endpoints, flushEvents],
  );

  const live = useOrchestratorWebSocket({
    url: endpoints.wsUrl,
    token: endpoints.token,
    resync,
    onEvent: (ev: ChangeEventMessage) => {
      enqueueEvent(ev);
      const why = reloadReason(ev);
      if (why) void live.client.resync(why);
    },
    onNotice: (n, _state, detail) => {
      if (n === 'watcher_restarted') {
        push({
          kind: 'watcher',
          tone: 'success',
          title: watcherRestartedText(detail?.changes ?? 0),
          detail: 'No reload was needed.',
        });
      } else if (n === 'watcher_restarted_reloaded') {
        push({
          kind: 'watcher',
          tone: 'info',
          title: TOAST_TEXT.watcherReloaded,
          detail: 'Everything shown was loaded again from the gateway.',
        });
      } else if (n === 'disconnected') {
        push({
          kind: 'disconnected',
          tone: 'error',
          title: TOAST_TEXT.disconnected,
          detail: 'Retrying in the background; Refresh reloads the data now.',
          ttlMs: 8000,
        });
      } else {
        push({
          kind: 'reconnected',
          tone: 'success',
          title: TOAST_TEXT.reconnected,
          detail: 'Changes made meanwhile have been applied.',
          replaces: ['disconnected'],
        });
      }
    },
  });

  // No live connection and nothing shown yet (e.g. a proxy that blocks
  // WebSockets): load once over REST so the page is useful in manual mode.
  const fallbackTried = useRef(false);
  useEffect(() => {
    if (live.status === 'disconnected' && !data.loaded && !fallbackTried.current) {
      fallbackTried.current = true;
      void live.resync('fallback');
    }
  }, [live.status, data.loaded, live]);

  const refresh = async () => {
    setRefreshing(true);
    const ok = await live.resync('manual');
    setRefreshing(false);
    if (!ok) push({ kind: 'refresh', tone: 'error', title: 'Refresh failed', detail: 'The gateway did not answer.' });
  };

  const selectTab = useCallback((t: TabId) => {
    setTab(t);
    if (window.location.hash !== `#/${t}`) window.history.replaceState(null, '', `#/${t}`);
  }, []);
  useEffect(() => {
    const onHash = () => setTab(tabFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const setSort = (t: string) => (s: SortState) => setSorts((all) => ({ ...all, [t]: s }));
  const tabs: TabDef<TabId>[] = [
    { id: 'overview', label: 'Overview' },
    { id: 'plans', label: 'Plans', count: data.plans.size },
    { id: 'stubs', label: 'Stubs', count: data.stubs.size },
    { id: 'workorders', label: 'Workorders', count: data.handoffs.size },
    { id: 'projects', label: 'Projects', count: data.projects.size },
  ];

  const tick = useTick();
  const lastChange = data.lastEventAt ? formatAgo(Math.max(tick, Date.now()) - data.lastEventAt) : null;
  const busy = refreshing || live.state.resyncing;

  return (
    <div className="app" data-loaded={data.loaded ? 'true' : 'false'}>
      <header className="header">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">◆</span>
          <h1>coderef-live</h1>
          <span className="muted brand-sub">orchestrator dashboard</span>
        </div>
        <div className="header-end">
          <StatusIndicator state={live.state} url={endpoints.wsUrl} onRetry={live.retryNow} />
          {lastChange && <span className="muted last-change">last change {lastChange}</span>}
          <button
            type="button"
            className={`button${live.color === 'red' ? ' button-primary' : ''}`}
            onClick={refresh}
            disabled={refreshing}
            aria-busy={busy}
            title="Reload everything from the gateway (works while disconnected)"
          >
            <span className={busy ? 'spin' : ''} aria-hidden="true">↻</span> Refresh
          </button>
        </div>
      </header>
      <nav className="nav">
        <Tabs tabs={tabs} selected={tab} onSelect={selectTab} label="Dashboard sections" />
      </nav>
      {loadError && (
        <div className="banner banner-error" role="alert">
          Could not load data: {loadError}
        </div>
      )}
      <main className="main">
        <TabPanel id={tab}>
          {!data.loaded ? (
            <div className="placeholder">{loadError ? 'No data.' : 'Loading…'}</div>
          ) : tab === 'overview' ? (
            <OverviewTab data={data} open={selectTab} />
          ) : tab === 'plans' ? (
            <PlansTab data={data} filter={planFilter} setFilter={setPlanFilter} sort={sorts.plans} setSort={setSort('plans')} />
          ) : tab === 'stubs' ? (
            <StubsTab data={data} filter={stubFilter} setFilter={setStubFilter} sort={sorts.stubs} setSort={setSort('stubs')} />
          ) : tab === 'workorders' ? (
            <WorkordersTab data={data} filter={woFilter} setFilter={setWoFilter} sort={sorts.workorders} setSort={setSort('workorders')} />
          ) : (
            <ProjectsTab data={data} sort={sorts.projects} setSort={setSort('projects')} />
          )}
        </TabPanel>
      </main>
      <footer className="footer muted">
        <span>
          {live.state.position ? `epoch ${live.state.position.epoch} · seq ${live.state.position.seq}` : 'no position yet'}
        </span>
        {live.state.gateway && <span>gateway {live.state.gateway}</span>}
        <span>{endpoints.httpBase}</span>
      </footer>
      <Toasts toasts={toasts} dismiss={dismiss} />
    </div>
  );
}
