// Views of DashboardData: the original dashboard's filters (location, stale,
// project, priority, category, status) and the Overview's counts. Pure.

import type { PlanItem, ProjectItem, StubItem, WorkorderItem } from '../client/protocol';
import type { DashboardData } from './dashboardState';

export const DAY_MS = 86_400_000;

export interface PlanFilter {
  project: string; // '' = all
  location: string; // '' | working | archived
  status: string;
  /** Only plans untouched for at least this many days; 0 = any. */
  staleDays: number;
  text: string;
}

export interface StubFilter {
  project: string;
  priority: string;
  category: string;
  status: string;
  location: string;
  text: string;
}

export interface WorkorderFilter {
  project: string;
  status: string;
  text: string;
}

export const emptyPlanFilter: PlanFilter = { project: '', location: '', status: '', staleDays: 0, text: '' };
export const emptyStubFilter: StubFilter = { project: '', priority: '', category: '', status: '', location: '', text: '' };
export const emptyWorkorderFilter: WorkorderFilter = { project: '', status: '', text: '' };

/** Age in days of an ISO timestamp, or null when unknown/unparseable. */
export function ageDays(iso: string | null | undefined, now: number): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  return Math.max(0, (now - t) / DAY_MS);
}

function matchesText(text: string, ...fields: Array<string | null | undefined>): boolean {
  if (!text) return true;
  const q = text.toLowerCase();
  return fields.some((f) => f != null && f.toLowerCase().includes(q));
}

export function filterPlans(plans: Iterable<PlanItem>, f: PlanFilter, now: number): PlanItem[] {
  const out: PlanItem[] = [];
  for (const p of plans) {
    if (f.project && p.project !== f.project) continue;
    if (f.location && p.location !== f.location) continue;
    if (f.status && (p.status || 'unknown') !== f.status) continue;
    if (f.staleDays > 0) {
      const age = ageDays(p.last_modified, now);
      if (age === null || age < f.staleDays) continue;
    }
    if (!matchesText(f.text, p.feature_name, p.workorder_id, p.file_path, p.project)) continue;
    out.push(p);
  }
  return out;
}

export function filterStubs(stubs: Iterable<StubItem>, f: StubFilter): StubItem[] {
  const out: StubItem[] = [];
  for (const s of stubs) {
    if (f.project && s.project !== f.project) continue;
    if (f.priority && (s.priority ?? '') !== f.priority) continue;
    if (f.category && (s.category ?? '') !== f.category) continue;
    if (f.status && (s.status ?? '') !== f.status) continue;
    if (f.location && s.location !== f.location) continue;
    if (!matchesText(f.text, s.feature_name, s.description, s.stub_id, s.project)) continue;
    out.push(s);
  }
  return out;
}

export function filterWorkorders(items: Iterable<WorkorderItem>, f: WorkorderFilter): WorkorderItem[] {
  const out: WorkorderItem[] = [];
  for (const w of items) {
    if (f.project && w.project !== f.project) continue;
    if (f.status && (w.status ?? '') !== f.status) continue;
    if (!matchesText(f.text, w.workorder_id, w.feature_name, w.description, w.from, w.to, w.project)) continue;
    out.push(w);
  }
  return out;
}

/** Distinct non-empty values of a field, sorted, for a filter's options. */
export function distinct<T>(items: Iterable<T>, get: (t: T) => string | null | undefined): string[] {
  const s = new Set<string>();
  for (const it of items) {
    const v = get(it);
    if (v) s.add(v);
  }
  return [...s].sort((a, b) => a.localeCompare(b));
}

function countBy<T>(items: Iterable<T>, get: (t: T) => string | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) {
    const k = get(it) || 'unknown';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

export interface Stats {
  projects: number;
  projectsMissing: number;
  plans: number;
  plansByLocation: Record<string, number>;
  plansByStatus: Record<string, number>;
  stalePlans: number;
  stubs: number;
  stubsByPriority: Record<string, number>;
  workorders: number;
  workordersByStatus: Record<string, number>;
  logEntries: number;
  invalidFiles: number;
}

export const STALE_DAYS = 14;

/** The Overview's counts, from the live data (so they move with events). */
export function computeStats(d: DashboardData, now: number): Stats {
  const plans = [...d.plans.values()];
  const stubs = [...d.stubs.values()];
  const handoffs = [...d.handoffs.values()];
  const projects = [...d.projects.values()];
  const invalid = [...plans, ...stubs, ...handoffs].filter((i) => i.valid === false).length;
  return {
    projects: projects.length,
    projectsMissing: projects.filter((p) => p.exists === false).length,
    plans: plans.length,
    plansByLocation: countBy(plans, (p) => p.location),
    plansByStatus: countBy(plans, (p) => p.status),
    stalePlans: plans.filter((p) => p.location !== 'archived' && (ageDays(p.last_modified, now) ?? 0) >= STALE_DAYS).length,
    stubs: stubs.length,
    stubsByPriority: countBy(stubs, (s) => s.priority),
    workorders: handoffs.length,
    workordersByStatus: countBy(handoffs, (w) => w.status),
    logEntries: d.logTotal,
    invalidFiles: invalid,
  };
}

export interface ProjectRow {
  project: ProjectItem;
  plans: number;
  stubs: number;
  workorders: number;
}

/** Projects with live per-project counts (derived, so events move them). */
export function projectRows(d: DashboardData): ProjectRow[] {
  const counts = new Map<string, { plans: number; stubs: number; workorders: number }>();
  const bump = (p: string, k: 'plans' | 'stubs' | 'workorders') => {
    const c = counts.get(p) ?? { plans: 0, stubs: 0, workorders: 0 };
    c[k]++;
    counts.set(p, c);
  };
  for (const p of d.plans.values()) bump(p.project, 'plans');
  for (const s of d.stubs.values()) bump(s.project, 'stubs');
  for (const w of d.handoffs.values()) bump(w.project, 'workorders');
  return [...d.projects.values()].map((project) => {
    const c = counts.get(project.id ?? project.project) ?? { plans: 0, stubs: 0, workorders: 0 };
    return { project, ...c };
  });
}

/** Display name of a project id (its projects.json `name`). */
export function projectName(d: DashboardData, id: string): string {
  return d.projects.get(id)?.name ?? id;
}
