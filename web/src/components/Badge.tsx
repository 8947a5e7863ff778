// Small coloured labels for statuses, priorities and locations.

const TONES: Record<string, string> = {
  // plan / workorder statuses
  complete: 'green',
  completed: 'green',
  done: 'green',
  closed: 'green',
  in_progress: 'blue',
  'in-progress': 'blue',
  active: 'blue',
  implementing: 'blue',
  planning: 'violet',
  planned: 'violet',
  pending: 'amber',
  blocked: 'red',
  failed: 'red',
  cancelled: 'grey',
  stub: 'grey',
  unknown: 'grey',
  // priorities
  critical: 'red',
  high: 'red',
  medium: 'amber',
  low: 'grey',
  // locations
  working: 'blue',
  archived: 'grey',
  stubs: 'violet',
};

export function toneOf(value: string | null | undefined): string {
  if (!value) return 'grey';
  return TONES[value.toLowerCase()] ?? 'neutral';
}

export function Badge({ value, tone, title }: { value: string | null | undefined; tone?: string; title?: string }) {
  if (!value) return <span className="muted">—</span>;
  return (
    <span className={`badge badge-${tone ?? toneOf(value)}`} title={title}>
      {value.replace(/_/g, ' ')}
    </span>
  );
}
