import { useMemo } from 'react';
import { Badge, toneOf } from '../components/Badge';
import { DataTable, type Column } from '../components/DataTable';
import { RelTime, useTick } from '../components/RelTime';
import type { DashboardData, RecentChange } from '../state/dashboardState';
import { computeStats, STALE_DAYS } from '../state/selectors';
import type { TabId } from '../App';
import { PathCell, ProjectCell } from './common';

function Card({
  title,
  value,
  sub,
  onOpen,
  tone,
}: {
  title: string;
  value: number;
  sub?: React.ReactNode;
  onOpen?: () => void;
  tone?: string;
}) {
  return (
    <div className={`card${tone ? ` card-${tone}` : ''}`}>
      <div className="card-title">{title}</div>
      <div className="card-value" data-count={title}>
        {onOpen ? (
          <button type="button" className="card-link" onClick={onOpen} aria-label={`${title}: ${value}, open tab`}>
            {value}
          </button>
        ) : (
          value
        )}
      </div>
      {sub && <div className="card-sub">{sub}</div>}
    </div>
  );
}

function Breakdown({ title, counts }: { title: string; counts: Record<string, number> }) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((n, [, v]) => n + v, 0);
  return (
    <div className="breakdown">
      <div className="breakdown-title">{title}</div>
      {entries.length === 0 && <div className="muted">none</div>}
      {entries.map(([k, v]) => (
        <div key={k} className="breakdown-row">
          <span className="breakdown-key">
            <Badge value={k} />
          </span>
          <span className="bar" aria-hidden="true">
            <span className={`bar-fill bar-${toneOf(k)}`} style={{ width: `${total ? (100 * v) / total : 0}%` }} />
          </span>
          <span className="num">{v}</span>
        </div>
      ))}
    </div>
  );
}

const recentKey = (r: RecentChange) => `${r.receivedAt}:${r.seq}`;
const EVENT_TONE: Record<string, string> = { added: 'green', updated: 'blue', deleted: 'red', removed: 'red' };

export function OverviewTab({ data, open }: { data: DashboardData; open: (t: TabId) => void }) {
  const tick = useTick();
  const s = useMemo(() => computeStats(data, Date.now()), [data, tick]);
  const columns = useMemo<Column<RecentChange>[]>(
    () => [
      { id: 'time', header: 'Received', render: (r) => <RelTime iso={new Date(r.receivedAt).toISOString()} /> },
      {
        id: 'type',
        header: 'Change',
        render: (r) => {
          const [kind, action] = r.type.split('_');
          return (
            <span className="nowrap">
              <span className="kind">{kind}</span> <Badge value={action} tone={EVENT_TONE[action]} />
            </span>
          );
        },
      },
      { id: 'project', header: 'Project', render: (r) => <ProjectCell data={data} id={r.project} /> },
      { id: 'feature', header: 'Feature', render: (r) => r.feature || <span className="muted">—</span> },
      { id: 'path', header: 'File', render: (r) => <PathCell path={r.filePath} />, className: 'col-path' },
      { id: 'seq', header: 'Seq', render: (r) => <span className="num muted">{r.seq}</span>, className: 'col-num' },
    ],
    [data.projects],
  );
  return (
    <>
      <div className="cards">
        <Card title="Projects" value={s.projects} onOpen={() => open('projects')}
          sub={s.projectsMissing ? <span className="warn">{s.projectsMissing} missing</span> : 'all present'} />
        <Card title="Plans" value={s.plans} onOpen={() => open('plans')}
          sub={`${s.plansByLocation.working ?? 0} working · ${s.plansByLocation.archived ?? 0} archived`} />
        <Card title="Stale plans" value={s.stalePlans} tone={s.stalePlans ? 'amber' : undefined}
          sub={`working, untouched ${STALE_DAYS}+ days`} onOpen={() => open('plans')} />
        <Card title="Stubs" value={s.stubs} onOpen={() => open('stubs')}
          sub={`${s.stubsByPriority.high ?? 0} high priority`} />
        <Card title="Hand-offs" value={s.workorders} onOpen={() => open('workorders')}
          sub={`${s.workordersByStatus.pending ?? 0} pending`} />
        <Card title="Log entries" value={s.logEntries} onOpen={() => open('workorders')} sub="workorder-log.txt" />
        <Card title="Invalid files" value={s.invalidFiles} tone={s.invalidFiles ? 'red' : undefined}
          sub={s.invalidFiles ? 'not valid JSON' : 'all parse'} />
      </div>
      <div className="breakdowns">
        <Breakdown title="Plans by status" counts={s.plansByStatus} />
        <Breakdown title="Stubs by priority" counts={s.stubsByPriority} />
        <Breakdown title="Hand-offs by status" counts={s.workordersByStatus} />
      </div>
      <h2 className="section-title">
        Recent changes <span className="muted">live, newest first</span>
      </h2>
      <DataTable
        label="Recent changes"
        rows={data.recent}
        columns={columns}
        rowKey={recentKey}
        changed={Object.fromEntries(data.recent.slice(0, 5).map((r) => [recentKey(r), r.receivedAt]))}
        empty={data.lastEventAt ? '' : 'No change since this page was opened. Save a plan.json and it shows up here.'}
      />
    </>
  );
}
