import { useMemo } from 'react';
import type { WorkorderItem } from '../client/protocol';
import { Badge } from '../components/Badge';
import { DataTable, type Column, type SortState } from '../components/DataTable';
import { FilterBar, Search, Select } from '../components/FilterBar';
import { formatTime, RelTime } from '../components/RelTime';
import { rowId, type DashboardData } from '../state/dashboardState';
import { distinct, emptyWorkorderFilter, filterWorkorders, type WorkorderFilter } from '../state/selectors';
import { FeatureCell, PathCell, ProjectCell } from './common';

const key = (w: WorkorderItem) => rowId(w.project, w.key ?? w.file_path);
const handoffAttrs = (w: WorkorderItem) => ({ 'data-workorder': w.workorder_id, 'data-status': w.status ?? '', 'data-project': w.project });
const logAttrs = (w: WorkorderItem) => ({ 'data-workorder': w.workorder_id, 'data-project': w.project });
const invalidClass = (w: WorkorderItem) => (w.valid === false ? 'row-invalid' : undefined);

export function WorkordersTab({
  data,
  filter,
  setFilter,
  sort,
  setSort,
}: {
  data: DashboardData;
  filter: WorkorderFilter;
  setFilter: (f: WorkorderFilter) => void;
  sort: SortState;
  setSort: (s: SortState) => void;
}) {
  const handoffs = useMemo(() => [...data.handoffs.values()], [data.handoffs]);
  const rows = useMemo(() => filterWorkorders(handoffs, filter), [handoffs, filter]);
  const logRows = useMemo(
    () => filterWorkorders(data.log, { ...filter, status: '' }),
    [data.log, filter],
  );
  const handoffColumns = useMemo<Column<WorkorderItem>[]>(
    () => [
      { id: 'wo', header: 'Workorder', render: (w) => <code>{w.workorder_id || '—'}</code>, sortValue: (w) => w.workorder_id },
      { id: 'feature', header: 'Feature', render: (w) => <FeatureCell item={w} />, sortValue: (w) => w.feature_name },
      { id: 'project', header: 'Project', render: (w) => <ProjectCell data={data} id={w.project} />, sortValue: (w) => w.project },
      { id: 'type', header: 'Type', render: (w) => w.type || <span className="muted">—</span>, sortValue: (w) => w.type },
      {
        id: 'route',
        header: 'From → To',
        render: (w) => (
          <span className="nowrap">
            {w.from || '?'} <span className="muted">→</span> {w.to || '?'}
          </span>
        ),
        sortValue: (w) => `${w.from ?? ''}>${w.to ?? ''}`,
      },
      { id: 'status', header: 'Status', render: (w) => <Badge value={w.status} />, sortValue: (w) => w.status },
      {
        id: 'initiated',
        header: 'Initiated',
        render: (w) => <span className="nowrap" title={w.initiated_at}>{formatTime(w.initiated_at) || '—'}</span>,
        sortValue: (w) => w.initiated_at,
      },
      { id: 'modified', header: 'Modified', render: (w) => <RelTime iso={w.last_modified} />, sortValue: (w) => (w.last_modified ? Date.parse(w.last_modified) : null) },
      { id: 'path', header: 'File', render: (w) => <PathCell path={w.file_path} />, className: 'col-path' },
    ],
    [data.projects],
  );
  const logColumns = useMemo<Column<WorkorderItem>[]>(
    () => [
      { id: 'wo', header: 'Workorder', render: (w) => <code>{w.workorder_id}</code> },
      { id: 'project', header: 'Project', render: (w) => <ProjectCell data={data} id={w.project} /> },
      { id: 'description', header: 'Description', render: (w) => <span className="desc" title={w.line}>{w.description}</span>, className: 'col-desc' },
      { id: 'timestamp', header: 'Timestamp', render: (w) => <span className="nowrap">{w.timestamp ?? <span className="muted">—</span>}</span> },
      { id: 'file', header: 'Log', render: (w) => <PathCell path={`${w.file_path}${w.line_number ? `:${w.line_number}` : ''}`} />, className: 'col-path' },
    ],
    [data.projects],
  );
  return (
    <>
      <FilterBar shown={rows.length} total={handoffs.length} onClear={() => setFilter(emptyWorkorderFilter)}>
        <Select label="Project" value={filter.project} onChange={(project) => setFilter({ ...filter, project })}
          options={[...data.projects.values()].map((p) => ({ value: p.id, label: p.name }))} />
        <Select label="Status" value={filter.status} onChange={(status) => setFilter({ ...filter, status })}
          options={distinct(handoffs, (w) => w.status)} />
        <Search value={filter.text} onChange={(text) => setFilter({ ...filter, text })} placeholder="workorder, feature, agent" />
      </FilterBar>
      <h2 className="section-title">
        Hand-offs <span className="muted">communication.json</span>
      </h2>
      <DataTable
        label="Hand-offs"
        rows={rows}
        columns={handoffColumns}
        rowKey={key}
        changed={data.changed}
        sort={sort}
        onSort={setSort}
        rowAttrs={handoffAttrs}
        rowClass={invalidClass}
        empty={handoffs.length ? 'No hand-off matches these filters.' : 'No hand-offs yet.'}
      />
      <h2 className="section-title">
        Workorder log{' '}
        <span className="muted">
          newest first · {logRows.length === data.log.length ? `${data.logTotal} lines` : `${logRows.length} of ${data.log.length} loaded`}
        </span>
      </h2>
      <DataTable
        label="Workorder log"
        rows={logRows}
        columns={logColumns}
        rowKey={key}
        changed={data.changed}
        rowAttrs={logAttrs}
        empty={data.log.length ? 'No log line matches these filters.' : 'The workorder log is empty.'}
      />
    </>
  );
}
