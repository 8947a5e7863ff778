// A dense, sortable table whose rows keep their identity across updates
// (keyed by row id), so an event re-renders one row in place: no remount, no
// "Loading…", no scroll jump. A row whose `changed` time moves flashes once.

import { memo, useEffect, useMemo, useRef, type ReactNode } from 'react';

export interface Column<T> {
  id: string;
  header: string;
  render: (row: T) => ReactNode;
  /** Present: the column is sortable by this value. */
  sortValue?: (row: T) => string | number | null | undefined;
  className?: string;
  title?: string;
}

export interface SortState {
  column: string;
  dir: 'asc' | 'desc';
}

export const FLASH_MS = 2000;

interface RowProps<T> {
  row: T;
  rowKey: string;
  columns: readonly Column<T>[];
  changedAt: number | undefined;
  // Module-level functions (stable), so memo() can skip unchanged rows.
  rowAttrs?: (row: T) => Record<string, string>;
  rowClass?: (row: T) => string | undefined;
}

function RowImpl<T>({ row, rowKey, columns, changedAt, rowAttrs, rowClass }: RowProps<T>) {
  const ref = useRef<HTMLTableRowElement>(null);
  const seen = useRef<number | undefined | null>(null); // null: not mounted yet
  useEffect(() => {
    const el = ref.current;
    const before = seen.current;
    seen.current = changedAt;
    if (!el || changedAt === undefined) return;
    // On mount, flash only a row that changed a moment ago (it just
    // appeared); later, flash whenever its change time moves.
    const fresh = before === null ? Date.now() - changedAt < FLASH_MS : changedAt !== before;
    if (!fresh) return;
    el.classList.remove('flash');
    void el.offsetWidth; // restart the animation
    el.classList.add('flash');
    const t = setTimeout(() => el.classList.remove('flash'), FLASH_MS);
    return () => clearTimeout(t);
  }, [changedAt]);
  return (
    <tr ref={ref} data-row-id={rowKey} className={rowClass?.(row)} {...rowAttrs?.(row)}>
      {columns.map((c) => (
        <td key={c.id} className={c.className}>
          {c.render(row)}
        </td>
      ))}
    </tr>
  );
}

const Row = memo(RowImpl) as typeof RowImpl;

function compare(a: string | number | null | undefined, b: string | number | null | undefined): number {
  const an = a === null || a === undefined || a === '';
  const bn = b === null || b === undefined || b === '';
  if (an || bn) return an === bn ? 0 : an ? 1 : -1; // blanks last
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

export function DataTable<T>({
  rows,
  columns,
  rowKey,
  changed,
  sort,
  onSort,
  rowAttrs,
  rowClass,
  empty,
  caption,
  label,
}: {
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  changed: Readonly<Record<string, number>>;
  sort?: SortState;
  onSort?: (s: SortState) => void;
  /** Keep these stable (module level): rows are memoized on them. */
  rowAttrs?: (row: T) => Record<string, string>;
  rowClass?: (row: T) => string | undefined;
  empty: ReactNode;
  caption?: ReactNode;
  label: string;
}) {
  const sorted = useMemo(() => {
    const col = sort && columns.find((c) => c.id === sort.column);
    if (!col?.sortValue) return rows;
    const get = col.sortValue;
    const k = sort!.dir === 'asc' ? 1 : -1;
    // Stable tie-break on the row key so equal rows never swap places.
    return [...rows].sort((a, b) => compare(get(a), get(b)) * k || rowKey(a).localeCompare(rowKey(b)));
  }, [rows, columns, sort, rowKey]);

  return (
    <div className="table-wrap">
      <table className="table" aria-label={label}>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort?.column === c.id;
              const ariaSort = active ? (sort!.dir === 'asc' ? 'ascending' : 'descending') : undefined;
              return (
                <th key={c.id} scope="col" className={c.className} aria-sort={ariaSort} title={c.title}>
                  {c.sortValue && onSort ? (
                    <button
                      type="button"
                      className="th-sort"
                      onClick={() =>
                        onSort({ column: c.id, dir: active && sort!.dir === 'desc' ? 'asc' : active ? 'desc' : 'asc' })
                      }
                    >
                      {c.header}
                      <span className="sort-mark" aria-hidden="true">
                        {active ? (sort!.dir === 'asc' ? '▲' : '▼') : ''}
                      </span>
                    </button>
                  ) : (
                    c.header
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => {
            const k = rowKey(r);
            return (
              <Row
                key={k}
                row={r}
                rowKey={k}
                columns={columns}
                changedAt={changed[k]}
                rowAttrs={rowAttrs}
                rowClass={rowClass}
              />
            );
          })}
          {sorted.length === 0 && (
            <tr className="empty-row">
              <td colSpan={columns.length}>{empty}</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
