import { useMemo } from 'react';
import type { StubItem } from '../client/protocol';
import { Badge } from '../components/Badge';
import { DataTable, type Column, type SortState } from '../components/DataTable';
import { FilterBar, Search, Select } from '../components/FilterBar';
import { RelTime } from '../components/RelTime';
import { rowId, type DashboardData } from '../state/dashboardState';
import { distinct, emptyStubFilter, filterStubs, type StubFilter } from '../state/selectors';
import { FeatureCell, PathCell, ProjectCell } from './common';

const PRIORITY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3 };
const key = (s: StubItem) => rowId(s.project, s.key ?? s.file_path);
const attrs = (s: StubItem) => ({ 'data-feature': s.feature_name, 'data-status': s.status ?? '', 'data-project': s.project });
const invalidClass = (s: StubItem) => (s.valid === false ? 'row-invalid' : undefined);

export function StubsTab({
  data,
  filter,
  setFilter,
  sort,
  setSort,
}: {
  data: DashboardData;
  filter: StubFilter;
  setFilter: (f: StubFilter) => void;
  sort: SortState;
  setSort: (s: SortState) => void;
}) {
  const all = useMemo(() => [...data.stubs.values()], [data.stubs]);
  const rows = useMemo(() => filterStubs(all, filter), [all, filter]);
  const columns = useMemo<Column<StubItem>[]>(
    () => [
      { id: 'feature', header: 'Feature', render: (s) => <FeatureCell item={s} />, sortValue: (s) => s.feature_name },
      { id: 'project', header: 'Project', render: (s) => <ProjectCell data={data} id={s.project} />, sortValue: (s) => s.project },
      {
        id: 'priority',
        header: 'Priority',
        render: (s) => <Badge value={s.priority} />,
        sortValue: (s) => PRIORITY_RANK[(s.priority ?? '').toLowerCase()] ?? 9,
      },
      { id: 'category', header: 'Category', render: (s) => s.category || <span className="muted">—</span>, sortValue: (s) => s.category },
      { id: 'status', header: 'Status', render: (s) => <Badge value={s.status} />, sortValue: (s) => s.status },
      {
        id: 'description',
        header: 'Description',
        render: (s) => <span className="desc" title={s.description}>{s.description}</span>,
        className: 'col-desc',
      },
      { id: 'location', header: 'Location', render: (s) => <Badge value={s.location} />, sortValue: (s) => s.location },
      { id: 'created', header: 'Created', render: (s) => <span className="nowrap">{s.created || '—'}</span>, sortValue: (s) => s.created },
      { id: 'modified', header: 'Modified', render: (s) => <RelTime iso={s.last_modified} />, sortValue: (s) => (s.last_modified ? Date.parse(s.last_modified) : null) },
      { id: 'path', header: 'File', render: (s) => <PathCell path={s.file_path} />, className: 'col-path' },
    ],
    [data.projects],
  );
  return (
    <>
      <FilterBar shown={rows.length} total={all.length} onClear={() => setFilter(emptyStubFilter)}>
        <Select label="Project" value={filter.project} onChange={(project) => setFilter({ ...filter, project })}
          options={[...data.projects.values()].map((p) => ({ value: p.id, label: p.name }))} />
        <Select label="Priority" value={filter.priority} onChange={(priority) => setFilter({ ...filter, priority })}
          options={distinct(all, (s) => s.priority)} />
        <Select label="Category" value={filter.category} onChange={(category) => setFilter({ ...filter, category })}
          options={distinct(all, (s) => s.category)} />
        <Select label="Status" value={filter.status} onChange={(status) => setFilter({ ...filter, status })}
          options={distinct(all, (s) => s.status)} />
        <Select label="Location" value={filter.location} onChange={(location) => setFilter({ ...filter, location })}
          options={['working', 'archived', 'stubs']} />
        <Search value={filter.text} onChange={(text) => setFilter({ ...filter, text })} placeholder="feature, description" />
      </FilterBar>
      <DataTable
        label="Stubs"
        rows={rows}
        columns={columns}
        rowKey={key}
        changed={data.changed}
        sort={sort}
        onSort={setSort}
        rowAttrs={attrs}
        rowClass={invalidClass}
        empty={all.length ? 'No stub matches these filters.' : 'No stubs yet.'}
      />
    </>
  );
}
