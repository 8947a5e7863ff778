import { useMemo } from 'react';
import { Badge } from '../components/Badge';
import { DataTable, type Column, type SortState } from '../components/DataTable';
import { rowId, type DashboardData } from '../state/dashboardState';
import { projectRows, type ProjectRow } from '../state/selectors';
import { Count, PathCell } from './common';

const key = (r: ProjectRow) => rowId(r.project.id ?? r.project.project, '');

const columns: Column<ProjectRow>[] = [
  { id: 'name', header: 'Project', render: (r) => <strong>{r.project.name}</strong>, sortValue: (r) => r.project.name },
  { id: 'id', header: 'ID', render: (r) => <code>{r.project.id}</code>, sortValue: (r) => r.project.id },
  {
    id: 'state',
    header: 'Folder',
    render: (r) =>
      r.project.exists === false ? (
        <Badge value="missing" tone="red" title="The path does not exist (yet); it is picked up when it appears." />
      ) : r.project.has_coderef === false ? (
        <Badge value="no coderef/" tone="amber" />
      ) : (
        <Badge value="ok" tone="green" />
      ),
    sortValue: (r) => (r.project.exists === false ? 0 : r.project.has_coderef === false ? 1 : 2),
  },
  { id: 'plans', header: 'Plans', render: (r) => <Count n={r.plans} />, sortValue: (r) => r.plans, className: 'col-num' },
  { id: 'stubs', header: 'Stubs', render: (r) => <Count n={r.stubs} />, sortValue: (r) => r.stubs, className: 'col-num' },
  { id: 'workorders', header: 'Hand-offs', render: (r) => <Count n={r.workorders} />, sortValue: (r) => r.workorders, className: 'col-num' },
  { id: 'path', header: 'Path', render: (r) => <PathCell path={r.project.path} />, className: 'col-path' },
];
const attrs = (r: ProjectRow) => ({ 'data-project': r.project.id });

export function ProjectsTab({ data, sort, setSort }: { data: DashboardData; sort: SortState; setSort: (s: SortState) => void }) {
  const rows = useMemo(() => projectRows(data), [data.projects, data.plans, data.stubs, data.handoffs]);
  return (
    <>
      <div className="filterbar">
        <span className="muted">Tracked in projects.json; edits to it show here live.</span>
        <div className="filterbar-end">
          <span className="muted">{rows.length} projects</span>
        </div>
      </div>
      <DataTable
        label="Projects"
        rows={rows}
        columns={columns}
        rowKey={key}
        changed={data.changed}
        sort={sort}
        onSort={setSort}
        rowAttrs={attrs}
        empty="No projects. Add one to projects.json."
      />
    </>
  );
}
