// Cells shared by the tabs.

import type { BaseItem } from '../client/protocol';
import type { DashboardData } from '../state/dashboardState';
import { projectName } from '../state/selectors';

export function FeatureCell({ item }: { item: BaseItem }) {
  return (
    <span className="feature">
      <span className="feature-name">{item.feature_name || '—'}</span>
      {item.valid === false && (
        <span className="badge badge-red" title={item.parse_error ?? 'not valid JSON'}>
          invalid
        </span>
      )}
    </span>
  );
}

export function ProjectCell({ data, id }: { data: DashboardData; id: string }) {
  const name = projectName(data, id);
  return (
    <span className="project" title={name !== id ? `id: ${id}` : undefined}>
      {name}
    </span>
  );
}

export function PathCell({ path }: { path: string }) {
  return (
    <span className="path" title={path}>
      {path}
    </span>
  );
}

export function Count({ n, label }: { n: number; label?: string }) {
  return (
    <span className={n ? 'num' : 'num muted'} title={label}>
      {n}
    </span>
  );
}
