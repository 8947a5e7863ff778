// The dashboard's data and the reducer that keeps it current: a REST
// snapshot replaces it, and each change event is applied in place from the
// event's `item` (upsert) or key (delete). Pure: no I/O, no clock except the
// `now` passed in, so tests drive it directly.
//
// Every row has a stable id, `rowId(project, key)`, used as the React key, so
// an update re-renders one row in place: no remount, no scroll jump.
// `changed[rowId]` is the time (page clock, ms) the row last changed; a row
// flashes when it changes while shown, or when it mounts within the flash
// window (a row that just appeared).

import type { Snapshot } from '../client/restApi';
import {
  actionOf,
  kindOf,
  type ChangeEventMessage,
  type PlanItem,
  type ProjectItem,
  type StubItem,
  type WorkorderItem,
} from '../client/protocol';

export interface RecentChange {
  seq: number;
  type: ChangeEventMessage['type'];
  project: string;
  feature: string;
  filePath: string;
  rowId: string;
  /** The first raw change on disk (event `timestamp`), ISO. */
  timestamp: string | null;
  /** When this page received it, ms since epoch. */
  receivedAt: number;
}

export interface DashboardData {
  loaded: boolean;
  epoch: string | null;
  seq: number;
  projects: ReadonlyMap<string, ProjectItem>;
  plans: ReadonlyMap<string, PlanItem>;
  stubs: ReadonlyMap<string, StubItem>;
  handoffs: ReadonlyMap<string, WorkorderItem>;
  /** Workorder-log lines, newest first (as the REST API returns them). */
  log: readonly WorkorderItem[];
  logTotal: number;
  /** Newest first, at most RECENT_MAX. */
  recent: readonly RecentChange[];
  /** rowId -> when it last changed (ms); rows flash on a new value. */
  changed: Readonly<Record<string, number>>;
  lastSnapshotAt: number | null;
  lastEventAt: number | null;
}

export type DashboardAction =
  | { type: 'snapshot'; snapshot: Snapshot; now: number }
  | { type: 'event'; event: ChangeEventMessage; now: number };

export const RECENT_MAX = 50;
export const LOG_MAX = 1000;
const CHANGED_MAX = 400;

export const initialDashboard: DashboardData = {
  loaded: false,
  epoch: null,
  seq: 0,
  projects: new Map(),
  plans: new Map(),
  stubs: new Map(),
  handoffs: new Map(),
  log: [],
  logTotal: 0,
  recent: [],
  changed: {},
  lastSnapshotAt: null,
  lastEventAt: null,
};

/** The identity of a row: project id + item key. */
export function rowId(project: string, key: string): string {
  return `${project}\u241f${key}`;
}

function itemRowId(i: { project: string; key?: string; file_path?: string; kind?: string; id?: string }): string {
  if (i.kind === 'project') return rowId(i.id ?? i.project, '');
  return rowId(i.project, i.key ?? i.file_path ?? '');
}

function byRow<T extends { project: string; key?: string; file_path?: string }>(items: readonly T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const it of items) m.set(itemRowId(it), it);
  return m;
}

/** Marks rows whose content differs between two maps (for a flash after a reload). */
function diffRows<T>(before: ReadonlyMap<string, T>, after: ReadonlyMap<string, T>, token: number, out: Record<string, number>) {
  for (const [id, it] of after) {
    const old = before.get(id);
    if (!old || JSON.stringify(old) !== JSON.stringify(it)) out[id] = token;
  }
}

function pruneChanged(c: Record<string, number>): Record<string, number> {
  const entries = Object.entries(c);
  if (entries.length <= CHANGED_MAX) return c;
  entries.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(entries.slice(0, CHANGED_MAX / 2));
}

function applySnapshot(state: DashboardData, s: Snapshot, now: number): DashboardData {
  const projects = new Map<string, ProjectItem>();
  for (const p of s.projects) projects.set(p.id ?? p.project, p);
  const plans = byRow(s.plans);
  const stubs = byRow(s.stubs);
  const handoffs = byRow(s.handoffs);
  let changed: Record<string, number> = state.changed;
  if (state.loaded) {
    // What changed while we were not listening (a resync after an outage)
    // flashes like a live change would have.
    const token = now;
    const out: Record<string, number> = { ...state.changed };
    diffRows(state.plans, plans, token, out);
    diffRows(state.stubs, stubs, token, out);
    diffRows(state.handoffs, handoffs, token, out);
    diffRows(
      new Map(state.log.map((l) => [itemRowId(l), l])),
      new Map(s.log.map((l) => [itemRowId(l), l])),
      token,
      out,
    );
    changed = pruneChanged(out);
  }
  return {
    ...state,
    loaded: true,
    epoch: s.epoch,
    seq: s.seq,
    projects,
    plans,
    stubs,
    handoffs,
    log: s.log.slice(0, LOG_MAX),
    logTotal: s.logTotal,
    changed,
    lastSnapshotAt: now,
  };
}

function upsert<T>(m: ReadonlyMap<string, T>, id: string, v: T): Map<string, T> {
  const n = new Map(m);
  n.set(id, v);
  return n;
}

function remove<T>(m: ReadonlyMap<string, T>, id: string): ReadonlyMap<string, T> {
  if (!m.has(id)) return m;
  const n = new Map(m);
  n.delete(id);
  return n;
}

function removeProjectRows<T extends { project: string }>(m: ReadonlyMap<string, T>, project: string): ReadonlyMap<string, T> {
  let n: Map<string, T> | null = null;
  for (const [id, it] of m) {
    if (it.project === project) {
      n ??= new Map(m);
      n.delete(id);
    }
  }
  return n ?? m;
}

function applyEvent(state: DashboardData, ev: ChangeEventMessage, now: number): DashboardData {
  // The client core delivers each event once, in order; this guard keeps the
  // reducer idempotent anyway (e.g. a late duplicate after a manual reload).
  if (state.epoch === ev.epoch && ev.seq <= state.seq) return state;
  const kind = kindOf(ev.type);
  const action = actionOf(ev.type);
  const key = ev.key ?? ev.item?.key ?? ev.file_path ?? '';
  const id = kind === 'project' ? rowId(ev.project, '') : rowId(ev.project, key);
  let next: DashboardData = { ...state, epoch: ev.epoch, seq: ev.seq, lastEventAt: now };
  const item = ev.item;

  switch (kind) {
    case 'plan':
      next.plans = action === 'deleted' || !item ? remove(state.plans, id) : upsert(state.plans, id, item as PlanItem);
      break;
    case 'stub':
      next.stubs = action === 'deleted' || !item ? remove(state.stubs, id) : upsert(state.stubs, id, item as StubItem);
      break;
    case 'workorder': {
      const wo = item as WorkorderItem | undefined;
      const isLog = wo ? wo.source === 'log' : state.log.some((l) => itemRowId(l) === id);
      if (!isLog) {
        next.handoffs = action === 'deleted' || !wo ? remove(state.handoffs, id) : upsert(state.handoffs, id, wo);
      } else {
        const at = state.log.findIndex((l) => itemRowId(l) === id);
        if (action === 'deleted' || !wo) {
          if (at >= 0) {
            next.log = state.log.filter((_, i) => i !== at);
            next.logTotal = Math.max(0, state.logTotal - 1);
          }
        } else if (at >= 0) {
          const log = state.log.slice();
          log[at] = wo;
          next.log = log;
        } else {
          next.log = [wo, ...state.log].slice(0, LOG_MAX);
          next.logTotal = state.logTotal + 1;
        }
      }
      break;
    }
    case 'project': {
      const pid = (item as ProjectItem | undefined)?.id ?? ev.project;
      if (action === 'deleted' || !item) {
        const projects = new Map(state.projects);
        projects.delete(pid);
        next.projects = projects;
        // The project is gone: so are its rows, whatever events follow.
        next.plans = removeProjectRows(state.plans, pid);
        next.stubs = removeProjectRows(state.stubs, pid);
        next.handoffs = removeProjectRows(state.handoffs, pid);
        next.log = state.log.filter((l) => l.project !== pid);
        next.logTotal = Math.max(0, state.logTotal - (state.log.length - next.log.length));
      } else {
        next.projects = upsert(state.projects, pid, item as ProjectItem);
      }
      break;
    }
  }

  const recent: RecentChange = {
    seq: ev.seq,
    type: ev.type,
    project: ev.project,
    feature: ev.feature_name ?? item?.feature_name ?? '',
    filePath: ev.file_path ?? item?.file_path ?? '',
    rowId: id,
    timestamp: ev.timestamp ?? null,
    receivedAt: now,
  };
  next.recent = [recent, ...state.recent].slice(0, RECENT_MAX);
  if (action !== 'deleted') next.changed = pruneChanged({ ...state.changed, [id]: now });
  return next;
}

export function dashboardReducer(state: DashboardData, action: DashboardAction): DashboardData {
  switch (action.type) {
    case 'snapshot':
      return applySnapshot(state, action.snapshot, action.now);
    case 'event':
      return applyEvent(state, action.event, action.now);
    default:
      return state;
  }
}

/**
 * Events the reducer cannot apply from the event alone, so the page reloads
 * over REST: a project added or changed (its folder's items come with it and
 * the per-project counts change), or an add/update without its item.
 * Returns the reason, or null when the event is enough.
 */
export function reloadReason(ev: ChangeEventMessage): string | null {
  const kind = kindOf(ev.type);
  if (kind === 'project' && ev.type !== 'project_removed') return ev.type;
  if (actionOf(ev.type) !== 'deleted' && !ev.item) return `${ev.type} without item`;
  return null;
}
