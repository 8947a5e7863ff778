import { useMemo } from 'react';
import type { PlanItem } from '../client/protocol';
import { Badge } from '../components/Badge';
import { DataTable, type Column, type SortState } from '../components/DataTable';
import { FilterBar, Search, Select } from '../components/FilterBar';
import { RelTime, useTick } from '../components/RelTime';
import { rowId, type DashboardData } from '../state/dashboardState';
import { ageDays, distinct, emptyPlanFilter, filterPlans, STALE_DAYS, type PlanFilter } from '../state/selectors';
import { FeatureCell, PathCell, ProjectCell } from './common';

const STALE_OPTIONS = [
  { value: '7', label: '7+ days' },
  { value: '14', label: '14+ days' },
  { value: '30', label: '30+ days' },
  { value: '90', label: '90+ days' },
];

const key = (p: PlanItem) => rowId(p.project, p.key ?? p.file_path);
const attrs = (p: PlanItem) => ({ 'data-feature': p.feature_name, 'data-status': p.status, 'data-project': p.project });
const invalidClass = (p: PlanItem) => (p.valid === false ? 'row-invalid' : undefined);

export function PlansTab({
  data,
  filter,
  setFilter,
  sort,
  setSort,
}: {
  data: DashboardData;
  filter: PlanFilter;
  setFilter: (f: PlanFilter) => void;
  sort: SortState;
  setSort: (s: SortState) => void;
}) {
  const now = useTick();
  const all = useMemo(() => [...data.plans.values()], [data.plans]);
  const rows = useMemo(() => filterPlans(all, filter, Date.now()), [all, filter, now]);
  const columns = useMemo<Column<PlanItem>[]>(
    () => [
      { id: 'feature', header: 'Feature', render: (p) => <FeatureCell item={p} />, sortValue: (p) => p.feature_name },
      { id: 'project', header: 'Project', render: (p) => <ProjectCell data={data} id={p.project} />, sortValue: (p) => p.project },
      { id: 'location', header: 'Location', render: (p) => <Badge value={p.location} />, sortValue: (p) => p.location },
      { id: 'status', header: 'Status', render: (p) => <Badge value={p.status || 'unknown'} />, sortValue: (p) => p.status },
      {
        id: 'workorder',
        header: 'Workorder',
        render: (p) => (p.workorder_id ? <code>{p.workorder_id}</code> : <span className="muted">—</span>),
        sortValue: (p) => p.workorder_id,
      },
      {
        id: 'modified',
        header: 'Modified',
        render: (p) => {
          const age = ageDays(p.last_modified, Date.now());
          return (
            <span className="nowrap">
              <RelTime iso={p.last_modified} />
              {age !== null && age >= STALE_DAYS && p.location !== 'archived' && (
                <span className="badge badge-amber" title={`untouched for ${Math.floor(age)} days`}>
                  stale
                </span>
              )}
            </span>
          );
        },
        sortValue: (p) => (p.last_modified ? Date.parse(p.last_modified) : null),
      },
      { id: 'path', header: 'File', render: (p) => <PathCell path={p.file_path} />, className: 'col-path' },
    ],
    [data.projects],
  );

  return (
    <>
      <FilterBar shown={rows.length} total={all.length} onClear={() => setFilter(emptyPlanFilter)}>
        <Select label="Project" value={filter.project} onChange={(project) => setFilter({ ...filter, project })}
          options={[...data.projects.values()].map((p) => ({ value: p.id, label: p.name }))} />
        <Select label="Location" value={filter.location} onChange={(location) => setFilter({ ...filter, location })}
          options={['working', 'archived']} />
        <Select label="Status" value={filter.status} onChange={(status) => setFilter({ ...filter, status })}
          options={distinct(all, (p) => p.status || 'unknown')} />
        <Select label="Stale" value={filter.staleDays ? String(filter.staleDays) : ''} allLabel="Any age"
          onChange={(v) => setFilter({ ...filter, staleDays: Number(v) || 0 })} options={STALE_OPTIONS} />
        <Search value={filter.text} onChange={(text) => setFilter({ ...filter, text })} placeholder="feature, workorder, path" />
      </FilterBar>
      <DataTable
        label="Plans"
        rows={rows}
        columns={columns}
        rowKey={key}
        changed={data.changed}
        sort={sort}
        onSort={setSort}
        rowAttrs={attrs}
        rowClass={invalidClass}
        empty={all.length ? 'No plan matches these filters.' : 'No plans yet. A plan.json under coderef/working/<feature>/ appears here as soon as it is saved.'}
      />
    </>
  );
}
