// REST calls to the gateway (PROTOCOL.md section 4). Framework-free.
//
// `loadSnapshot` fetches every list the dashboard shows, unfiltered (filters
// are applied in the page so that events can be applied in place), and
// returns the (epoch, seq) the whole set is consistent with: the smallest seq
// of the responses. Events after that seq are re-applied on top; since every
// event carries the item's full new state, re-applying one that a faster
// response already reflected converges to the same state.

import type { Endpoints } from './endpoints';
import type { PlanItem, ProjectItem, StubItem, WorkorderItem } from './protocol';

export interface Snapshot {
  epoch: string;
  seq: number;
  projects: ProjectItem[];
  plans: PlanItem[];
  stubs: StubItem[];
  handoffs: WorkorderItem[];
  log: WorkorderItem[];
  logTotal: number;
}

export type FetchLike = (input: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export interface RestOptions {
  fetch?: FetchLike;
  timeoutMs?: number;
  /** Newest workorder-log entries to load. */
  logLimit?: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

interface Positioned {
  epoch: string;
  seq: number;
}

/** GET a JSON object carrying epoch/seq from the gateway. */
export async function getJson<T>(ep: Endpoints, path: string, o: RestOptions = {}): Promise<T & Positioned> {
  const f: FetchLike = o.fetch ?? ((input, init) => fetch(input, init));
  const url = new URL(ep.httpBase + path);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (ep.token) {
    url.searchParams.set('token', ep.token);
    headers.Authorization = `Bearer ${ep.token}`;
  }
  const ctl = typeof AbortController !== 'undefined' ? new AbortController() : null;
  const timer = ctl ? setTimeout(() => ctl.abort(), o.timeoutMs ?? 10_000) : null;
  try {
    const res = await f(url.toString(), { signal: ctl?.signal, headers });
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err = (body as { error?: string } | null)?.error;
      throw new HttpError(res.status, path, `${path}: HTTP ${res.status}${err ? ` (${err})` : ''}`);
    }
    if (!body || typeof body !== 'object') throw new HttpError(res.status, path, `${path}: not a JSON object`);
    return body as T & Positioned;
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw new Error(`${path}: timed out`);
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function asArray<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/**
 * Loads everything. If the responses come from two epochs (the watcher
 * restarted in between) it tries again, a few times.
 */
export async function loadSnapshot(ep: Endpoints, o: RestOptions = {}): Promise<Snapshot> {
  const limit = o.logLimit ?? 500;
  for (let attempt = 0; ; attempt++) {
    const [projects, plans, stubs, workorders, log] = await Promise.all([
      getJson<{ projects: unknown }>(ep, '/orchestrator/projects', o),
      getJson<{ plans: unknown }>(ep, '/orchestrator/plans', o),
      getJson<{ stubs: unknown }>(ep, '/orchestrator/stubs', o),
      getJson<{ workorders: unknown }>(ep, '/orchestrator/workorders?source=handoff', o),
      getJson<{ entries: unknown; total?: number }>(ep, `/orchestrator/workorder-log?limit=${limit}`, o),
    ]);
    const all = [projects, plans, stubs, workorders, log];
    const epochs = new Set(all.map((r) => String(r.epoch)));
    if (epochs.size > 1 && attempt < 3) continue;
    if (epochs.size > 1) throw new Error('the watcher restarted during every reload attempt');
    const entries = asArray<WorkorderItem>(log.entries);
    return {
      epoch: String(projects.epoch),
      seq: Math.min(...all.map((r) => Number(r.seq) || 0)),
      projects: asArray<ProjectItem>(projects.projects),
      plans: asArray<PlanItem>(plans.plans),
      stubs: asArray<StubItem>(stubs.stubs),
      handoffs: asArray<WorkorderItem>(workorders.workorders),
      log: entries,
      logTotal: typeof log.total === 'number' ? log.total : entries.length,
    };
  }
}
