import { describe, expect, it } from 'vitest';
import type { ChangeEventMessage, PlanItem, ProjectItem, StubItem, WorkorderItem } from '../client/protocol';
import type { Snapshot } from '../client/restApi';
import { dashboardReducer, initialDashboard, reloadReason, rowId, type DashboardData } from './dashboardState';
import {
  computeStats,
  emptyPlanFilter,
  emptyStubFilter,
  emptyWorkorderFilter,
  filterPlans,
  filterStubs,
  filterWorkorders,
  projectRows,
  DAY_MS,
} from './selectors';

const NOW = Date.parse('2026-01-20T12:00:00Z');

function plan(feature: string, over: Partial<PlanItem> = {}): PlanItem {
  const file_path = `coderef/${over.location ?? 'working'}/${feature}/plan.json`;
  return {
    kind: 'plan',
    key: file_path,
    project: 'noted',
    project_name: 'noted',
    file_path,
    feature_name: feature,
    location: 'working',
    status: 'planning',
    workorder_id: '',
    last_modified: '2026-01-20T11:00:00.000Z',
    valid: true,
    parse_error: null,
    ...over,
  };
}

function stub(feature: string, over: Partial<StubItem> = {}): StubItem {
  const file_path = `coderef/stubs/${feature}/stub.json`;
  return {
    kind: 'stub',
    key: file_path,
    project: 'noted',
    file_path,
    feature_name: feature,
    location: 'stubs',
    priority: 'medium',
    category: 'feature',
    status: 'stub',
    ...over,
  };
}

function logLine(id: string, over: Partial<WorkorderItem> = {}): WorkorderItem {
  return {
    kind: 'workorder',
    source: 'log',
    key: `coderef/workorder-log.txt#${id}#0000abcd`,
    project: 'noted',
    file_path: 'coderef/workorder-log.txt',
    feature_name: '',
    location: '',
    workorder_id: id,
    description: 'did a thing',
    timestamp: '2026-01-20T10:00:00Z',
    ...over,
  };
}

function handoff(feature: string, over: Partial<WorkorderItem> = {}): WorkorderItem {
  const file_path = `coderef/working/${feature}/communication.json`;
  return {
    kind: 'workorder',
    source: 'handoff',
    key: file_path,
    project: 'noted',
    file_path,
    feature_name: feature,
    location: 'working',
    workorder_id: `WO-${feature.toUpperCase()}-001`,
    status: 'pending',
    from: 'lead',
    to: 'agent-1',
    ...over,
  };
}

function project(id: string, over: Partial<ProjectItem> = {}): ProjectItem {
  return {
    kind: 'project',
    key: id,
    project: id,
    id,
    name: id,
    path: `/srv/${id}`,
    exists: true,
    has_coderef: true,
    file_path: '',
    feature_name: '',
    location: '',
    ...over,
  };
}

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    epoch: 'E1',
    seq: 10,
    projects: [project('noted'), project('other')],
    plans: [plan('auth'), plan('search', { location: 'archived', status: 'complete' })],
    stubs: [stub('idea')],
    handoffs: [handoff('auth')],
    log: [logLine('WO-B'), logLine('WO-A')],
    logTotal: 2,
    ...over,
  };
}

let seq = 10;
function ev(type: ChangeEventMessage['type'], item: ChangeEventMessage['item'] | undefined, over: Partial<ChangeEventMessage> = {}): ChangeEventMessage {
  seq++;
  return {
    type,
    epoch: 'E1',
    seq,
    project: item?.project ?? 'noted',
    feature_name: item?.feature_name ?? '',
    file_path: item?.file_path ?? '',
    key: item?.key,
    timestamp: '2026-01-20T12:00:00.000Z',
    item,
    ...over,
  };
}

function loaded(): DashboardData {
  seq = 10;
  return dashboardReducer(initialDashboard, { type: 'snapshot', snapshot: snapshot(), now: NOW });
}

function apply(s: DashboardData, ...events: ChangeEventMessage[]): DashboardData {
  return events.reduce((st, e) => dashboardReducer(st, { type: 'event', event: e, now: NOW }), s);
}

describe('snapshot', () => {
  it('replaces the data and records the position', () => {
    const s = loaded();
    expect(s.loaded).toBe(true);
    expect(s.epoch).toBe('E1');
    expect(s.seq).toBe(10);
    expect(s.plans.size).toBe(2);
    expect(s.projects.size).toBe(2);
    expect(s.log.map((l) => l.workorder_id)).toEqual(['WO-B', 'WO-A']);
    expect(s.changed).toEqual({}); // first load: nothing flashes
  });

  it('a reload flashes only the rows that differ', () => {
    const s = loaded();
    const s2 = dashboardReducer(s, {
      type: 'snapshot',
      snapshot: snapshot({ seq: 20, plans: [plan('auth', { status: 'complete' }), plan('search', { location: 'archived', status: 'complete' }), plan('new')] }),
      now: NOW + 1,
    });
    const flashed = Object.keys(s2.changed).sort();
    expect(flashed).toEqual(
      [rowId('noted', 'coderef/working/auth/plan.json'), rowId('noted', 'coderef/working/new/plan.json')].sort(),
    );
  });
});

describe('plan events', () => {
  it('plan_added inserts the row from the event item', () => {
    const s = apply(loaded(), ev('plan_added', plan('billing')));
    expect([...s.plans.values()].map((p) => p.feature_name)).toContain('billing');
    expect(s.seq).toBe(11);
    const id = rowId('noted', 'coderef/working/billing/plan.json');
    expect(s.changed[id]).toBe(NOW);
    expect(s.recent[0]).toMatchObject({ type: 'plan_added', feature: 'billing', rowId: id });
  });

  it('plan_updated replaces the row in place (same id, new status)', () => {
    const s0 = loaded();
    const s = apply(s0, ev('plan_updated', plan('auth', { status: 'in_progress' })));
    const id = rowId('noted', 'coderef/working/auth/plan.json');
    expect(s.plans.get(id)?.status).toBe('in_progress');
    expect([...s.plans.keys()]).toEqual([...s0.plans.keys()]); // order of ids kept
    expect(s0.plans.get(id)?.status).toBe('planning'); // old state untouched
  });

  it('plan_deleted removes the row by key; a move to archived/ is delete + add', () => {
    const s = apply(
      loaded(),
      ev('plan_deleted', undefined, { key: 'coderef/working/auth/plan.json', file_path: 'coderef/working/auth/plan.json' }),
      ev('plan_added', plan('auth', { location: 'archived', status: 'complete' })),
    );
    const locs = [...s.plans.values()].filter((p) => p.feature_name === 'auth').map((p) => p.location);
    expect(locs).toEqual(['archived']);
  });

  it('an invalid file is still a row, marked invalid', () => {
    const s = apply(loaded(), ev('plan_updated', plan('auth', { valid: false, parse_error: 'Unexpected end of JSON', status: 'unknown' })));
    const p = s.plans.get(rowId('noted', 'coderef/working/auth/plan.json'))!;
    expect(p.valid).toBe(false);
    expect(computeStats(s, NOW).invalidFiles).toBe(1);
  });

  it('ignores events at or below the loaded seq of the same epoch', () => {
    const s0 = loaded();
    const stale = ev('plan_updated', plan('auth', { status: 'old' }), { seq: 10 });
    expect(apply(s0, stale)).toBe(s0);
    const other = ev('plan_updated', plan('auth', { status: 'new-epoch' }), { epoch: 'E2', seq: 1 });
    const s = apply(s0, other);
    expect(s.epoch).toBe('E2');
    expect(s.plans.get(rowId('noted', 'coderef/working/auth/plan.json'))?.status).toBe('new-epoch');
  });
});

describe('stub, workorder and project events', () => {
  it('stub add/update/delete', () => {
    let s = apply(loaded(), ev('stub_added', stub('dark-mode', { priority: 'high' })));
    expect(s.stubs.size).toBe(2);
    s = apply(s, ev('stub_updated', stub('dark-mode', { priority: 'low' })));
    expect([...s.stubs.values()].find((x) => x.feature_name === 'dark-mode')?.priority).toBe('low');
    s = apply(s, ev('stub_deleted', undefined, { key: 'coderef/stubs/dark-mode/stub.json' }));
    expect(s.stubs.size).toBe(1);
  });

  it('a new log line goes on top of the log and bumps the total; a hand-off goes to hand-offs', () => {
    let s = apply(loaded(), ev('workorder_added', logLine('WO-C')));
    expect(s.log.map((l) => l.workorder_id)).toEqual(['WO-C', 'WO-B', 'WO-A']);
    expect(s.logTotal).toBe(3);
    expect(s.handoffs.size).toBe(1);
    s = apply(s, ev('workorder_added', handoff('billing')));
    expect(s.handoffs.size).toBe(2);
    expect(s.log).toHaveLength(3);
  });

  it('workorder_updated of a hand-off changes its status; workorder_deleted finds log lines by key', () => {
    let s = apply(loaded(), ev('workorder_updated', handoff('auth', { status: 'complete' })));
    expect([...s.handoffs.values()][0].status).toBe('complete');
    s = apply(s, ev('workorder_deleted', undefined, { key: logLine('WO-A').key }));
    expect(s.log.map((l) => l.workorder_id)).toEqual(['WO-B']);
    expect(s.logTotal).toBe(1);
    s = apply(s, ev('workorder_deleted', undefined, { key: 'coderef/working/auth/communication.json' }));
    expect(s.handoffs.size).toBe(0);
  });

  it('a repeated log add (replay after a reload) does not double count', () => {
    const s = apply(loaded(), ev('workorder_added', logLine('WO-B', { description: 'again' })));
    expect(s.log).toHaveLength(2);
    expect(s.logTotal).toBe(2);
    expect(s.log[0].description).toBe('again');
  });

  it('project_added/updated upsert; project_removed drops the project and its rows', () => {
    let s = apply(loaded(), ev('project_added', project('third'), { project: 'third' }));
    expect(s.projects.has('third')).toBe(true);
    s = apply(s, ev('project_updated', project('noted', { exists: false }), { project: 'noted' }));
    expect(s.projects.get('noted')?.exists).toBe(false);
    s = apply(s, ev('project_removed', undefined, { project: 'noted' }));
    expect(s.projects.has('noted')).toBe(false);
    expect(s.plans.size).toBe(0);
    expect(s.stubs.size).toBe(0);
    expect(s.handoffs.size).toBe(0);
    expect(s.log).toHaveLength(0);
    expect(s.logTotal).toBe(0);
  });

  it('reloadReason: project changes and item-less adds need a REST reload; the rest do not', () => {
    expect(reloadReason(ev('project_added', project('x')))).toBe('project_added');
    expect(reloadReason(ev('project_updated', project('x')))).toBe('project_updated');
    expect(reloadReason(ev('project_removed', undefined))).toBeNull();
    expect(reloadReason(ev('plan_added', plan('a')))).toBeNull();
    expect(reloadReason(ev('plan_deleted', undefined))).toBeNull();
    expect(reloadReason(ev('stub_updated', undefined))).toMatch(/without item/);
  });

  it('keeps the recent-changes list bounded', () => {
    let s = loaded();
    for (let i = 0; i < 80; i++) s = apply(s, ev('plan_updated', plan('auth', { status: `s${i}` })));
    expect(s.recent).toHaveLength(50);
    expect(s.recent[0].seq).toBe(90);
  });
});

describe('batches', () => {
  it('a batch of events equals applying them one by one, and leaves the old state untouched', () => {
    const s0 = loaded();
    const snapshotOfS0 = JSON.stringify([...s0.plans], null, 0) + JSON.stringify(s0.log);
    seq = 10;
    const evs = [
      ev('plan_added', plan('a')),
      ev('plan_updated', plan('a', { status: 'in_progress' })),
      ev('workorder_added', logLine('WO-N')),
      ev('plan_deleted', undefined, { key: 'coderef/working/auth/plan.json' }),
      ev('stub_added', stub('s2')),
    ];
    const one = apply(s0, ...evs);
    const batch = dashboardReducer(s0, { type: 'events', events: evs, now: NOW });
    for (const k of ['plans', 'stubs', 'handoffs', 'projects'] as const) expect([...batch[k]]).toEqual([...one[k]]);
    expect(batch.log).toEqual(one.log);
    expect(batch.logTotal).toBe(one.logTotal);
    expect(batch.seq).toBe(15);
    expect(batch.recent.map((r) => r.seq)).toEqual([15, 14, 13, 12, 11]);
    expect(JSON.stringify([...s0.plans], null, 0) + JSON.stringify(s0.log)).toBe(snapshotOfS0);
    // untouched collections are shared, not copied
    expect(batch.projects).toBe(s0.projects);
    expect(batch.handoffs).toBe(s0.handoffs);
  });

  it('a batch of only stale events returns the same state object', () => {
    const s0 = loaded();
    const stale = ev('plan_updated', plan('auth'), { seq: 3 });
    expect(dashboardReducer(s0, { type: 'events', events: [stale], now: NOW })).toBe(s0);
  });
});

describe('filters and counts', () => {
  it('plans: project, location, status, stale, text', () => {
    const s = apply(
      loaded(),
      ev('plan_added', plan('old', { last_modified: new Date(NOW - 40 * DAY_MS).toISOString() })),
      ev('plan_added', plan('x', { project: 'other', status: 'in_progress' })),
    );
    const all = [...s.plans.values()];
    const names = (ps: PlanItem[]) => ps.map((p) => p.feature_name).sort();
    expect(names(filterPlans(all, emptyPlanFilter, NOW))).toEqual(['auth', 'old', 'search', 'x']);
    expect(names(filterPlans(all, { ...emptyPlanFilter, project: 'other' }, NOW))).toEqual(['x']);
    expect(names(filterPlans(all, { ...emptyPlanFilter, location: 'archived' }, NOW))).toEqual(['search']);
    expect(names(filterPlans(all, { ...emptyPlanFilter, status: 'in_progress' }, NOW))).toEqual(['x']);
    expect(names(filterPlans(all, { ...emptyPlanFilter, staleDays: 30 }, NOW))).toEqual(['old']);
    expect(names(filterPlans(all, { ...emptyPlanFilter, text: 'AU' }, NOW))).toEqual(['auth']);
  });

  it('stubs: priority, category, status; workorders: project, status', () => {
    const s = apply(loaded(), ev('stub_added', stub('b', { priority: 'high', category: 'bug', status: 'planned' })));
    const stubs = [...s.stubs.values()];
    expect(filterStubs(stubs, { ...emptyStubFilter, priority: 'high' }).map((x) => x.feature_name)).toEqual(['b']);
    expect(filterStubs(stubs, { ...emptyStubFilter, category: 'feature' }).map((x) => x.feature_name)).toEqual(['idea']);
    expect(filterStubs(stubs, { ...emptyStubFilter, status: 'planned' })).toHaveLength(1);
    const wos = [...s.handoffs.values()];
    expect(filterWorkorders(wos, { ...emptyWorkorderFilter, status: 'pending' })).toHaveLength(1);
    expect(filterWorkorders(wos, { ...emptyWorkorderFilter, project: 'other' })).toHaveLength(0);
  });

  it('counts follow events', () => {
    let s = loaded();
    let st = computeStats(s, NOW);
    expect(st).toMatchObject({ projects: 2, plans: 2, stubs: 1, workorders: 1, logEntries: 2 });
    expect(st.plansByLocation).toEqual({ working: 1, archived: 1 });
    s = apply(s, ev('plan_added', plan('b')), ev('workorder_added', logLine('WO-Z')));
    st = computeStats(s, NOW);
    expect(st.plans).toBe(3);
    expect(st.plansByLocation.working).toBe(2);
    expect(st.logEntries).toBe(3);
    const rows = projectRows(s);
    expect(rows.find((r) => r.project.id === 'noted')).toMatchObject({ plans: 3, stubs: 1, workorders: 1 });
    expect(rows.find((r) => r.project.id === 'other')).toMatchObject({ plans: 0 });
  });
});
