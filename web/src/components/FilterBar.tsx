// The filter controls above each table: labelled selects and a search box.

import type { ReactNode } from 'react';

export function Select({
  label,
  value,
  onChange,
  options,
  allLabel = 'All',
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: ReadonlyArray<string | { value: string; label: string }>;
  allLabel?: string;
}) {
  return (
    <label className="filter">
      <span className="filter-label">{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{allLabel}</option>
        {options.map((o) => {
          const v = typeof o === 'string' ? o : o.value;
          const l = typeof o === 'string' ? o.replace(/_/g, ' ') : o.label;
          return (
            <option key={v} value={v}>
              {l}
            </option>
          );
        })}
      </select>
    </label>
  );
}

export function Search({ value, onChange, placeholder }: { value: string; onChange: (v: string) => void; placeholder: string }) {
  return (
    <label className="filter filter-search">
      <span className="filter-label">Search</span>
      <input type="search" value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

export function FilterBar({ children, shown, total, onClear }: { children: ReactNode; shown: number; total: number; onClear?: () => void }) {
  return (
    <div className="filterbar">
      {children}
      <div className="filterbar-end">
        <span className="muted" aria-live="polite">
          {shown === total ? `${total} shown` : `${shown} of ${total} shown`}
        </span>
        {onClear && shown !== total && (
          <button type="button" className="link-button" onClick={onClear}>
            Clear filters
          </button>
        )}
      </div>
    </div>
  );
}
