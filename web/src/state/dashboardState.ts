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
  | { type: 'event'; event: ChangeEventMessage; now: number }
  | { type: 'events'; events: readonly ChangeEventMessage[]; now: number };

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

/**
 * The collections of one state, copied on first write, so a batch of events
 * costs one copy of each collection it touches, not one per event; the state
 * it came from is never modified.
 */
class Draft {
  private copied = new Set<string>();
  projects: Map<string, ProjectItem>;
  plans: Map<string, PlanItem>;
  stubs: Map<string, StubItem>;
  handoffs: Map<string, WorkorderItem>;
  log: WorkorderItem[];
  changed: Record<string, number>;
  logTotal: number;

  constructor(readonly base: DashboardData) {
    this.logTotal = base.logTotal;
    this.projects = base.projects as Map<string, ProjectItem>;
    this.plans = base.plans as Map<string, PlanItem>;
    this.stubs = base.stubs as Map<string, StubItem>;
    this.handoffs = base.handoffs as Map<string, WorkorderItem>;
    this.log = base.log as WorkorderItem[];
    this.changed = base.changed as Record<string, number>;
  }

  /** A writable version of collection `k` (copied the first time). */
  w<K extends 'projects' | 'plans' | 'stubs' | 'handoffs' | 'log' | 'changed'>(k: K): this[K] {
    if (!this.copied.has(k)) {
      this.copied.add(k);
      const v = this[k] as unknown;
      (this as Record<string, unknown>)[k] = v instanceof Map ? new Map(v) : Array.isArray(v) ? v.slice() : { ...(v as object) };
    }
    return this[k];
  }
}

function removeProjectRows(d: Draft, k: 'plans' | 'stubs' | 'handoffs', project: string) {
  const m: ReadonlyMap<string, { project: string }> = d[k];
  const ids = [...m].filter(([, it]) => it.project === project).map(([id]) => id);
  if (ids.length) {
    const w: Map<string, unknown> = d.w(k);
    for (const id of ids) w.delete(id);
  }
}

function applyTo(d: Draft, ev: ChangeEventMessage, now: number): RecentChange {
  const kind = kindOf(ev.type);
  const action = actionOf(ev.type);
  const key = ev.key ?? ev.item?.key ?? ev.file_path ?? '';
  const id = kind === 'project' ? rowId(ev.project, '') : rowId(ev.project, key);
  const item = ev.item;
  const gone = action === 'deleted' || !item;

  switch (kind) {
    case 'plan':
      if (!gone) d.w('plans').set(id, item as PlanItem);
      else if (d.plans.has(id)) d.w('plans').delete(id);
      break;
    case 'stub':
      if (!gone) d.w('stubs').set(id, item as StubItem);
      else if (d.stubs.has(id)) d.w('stubs').delete(id);
      break;
    case 'workorder': {
      const wo = item as WorkorderItem | undefined;
      const at = d.log.findIndex((l) => itemRowId(l) === id);
      const isLog = wo ? wo.source === 'log' : at >= 0;
      if (!isLog) {
        if (!gone) d.w('handoffs').set(id, wo!);
        else if (d.handoffs.has(id)) d.w('handoffs').delete(id);
      } else if (gone) {
        if (at >= 0) {
          d.w('log').splice(at, 1);
          d.logTotal = Math.max(0, d.logTotal - 1);
        }
      } else if (at >= 0) {
        d.w('log')[at] = wo!;
      } else {
        const log = d.w('log');
        log.unshift(wo!);
        if (log.length > LOG_MAX) log.length = LOG_MAX;
        d.logTotal += 1;
      }
      break;
    }
    case 'project': {
      const pid = (item as ProjectItem | undefined)?.id ?? ev.project;
      if (gone) {
        if (d.projects.has(pid)) d.w('projects').delete(pid);
        // The project is gone: so are its rows, whatever events follow.
        removeProjectRows(d, 'plans', pid);
        removeProjectRows(d, 'stubs', pid);
        removeProjectRows(d, 'handoffs', pid);
        const kept = d.log.filter((l) => l.project !== pid);
        if (kept.length !== d.log.length) {
          d.logTotal = Math.max(0, d.logTotal - (d.log.length - kept.length));
          d.w('log');
          d.log = kept;
        }
      } else {
        d.w('projects').set(pid, item as ProjectItem);
      }
      break;
    }
  }
  if (action !== 'deleted') d.w('changed')[id] = now;
  return {
    seq: ev.seq,
    type: ev.type,
    project: ev.project,
    feature: ev.feature_name ?? item?.feature_name ?? '',
    filePath: ev.file_path ?? item?.file_path ?? '',
    rowId: id,
    timestamp: ev.timestamp ?? null,
    receivedAt: now,
  };
}

/** Applies events in order; one copy per touched collection for the batch. */
function applyEvents(state: DashboardData, events: readonly ChangeEventMessage[], now: number): DashboardData {
  const d = new Draft(state);
  let { epoch, seq } = state;
  const recent: RecentChange[] = [];
  for (const ev of events) {
    // The client core delivers each event once, in order; this guard keeps
    // the reducer idempotent anyway (e.g. a late duplicate after a reload).
    if (epoch === ev.epoch && ev.seq <= seq) continue;
    recent.push(applyTo(d, ev, now));
    epoch = ev.epoch;
    seq = ev.seq;
  }
  if (!recent.length) return state;
  return {
    ...state,
    epoch,
    seq,
    lastEventAt: now,
    projects: d.projects,
    plans: d.plans,
    stubs: d.stubs,
    handoffs: d.handoffs,
    log: d.log,
    logTotal: d.logTotal,
    changed: pruneChanged(d.changed),
    recent: [...recent.reverse(), ...state.recent].slice(0, RECENT_MAX),
  };
}

export function dashboardReducer(state: DashboardData, action: DashboardAction): DashboardData {
  switch (action.type) {
    case 'snapshot':
      return applySnapshot(state, action.snapshot, action.now);
    case 'event':
      return applyEvents(state, [action.event], action.now);
    case 'events':
      return applyEvents(state, action.events, action.now);
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
