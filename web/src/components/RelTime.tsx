// Relative time ("3m ago") that keeps itself current with one shared ticker,
// so a table of timestamps does not make its rows re-render.

import { useEffect, useState, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
let tick = Date.now();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  if (!timer) {
    timer = setInterval(() => {
      tick = Date.now();
      for (const l of listeners) l();
    }, 15_000);
  }
  return () => {
    listeners.delete(fn);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** The shared clock, advancing every 15 s. */
export function useTick(): number {
  return useSyncExternalStore(subscribe, () => tick, () => tick);
}

/** A clock advancing every `ms` while `active` (for countdowns). */
export function useNow(ms: number, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms, active]);
  return now;
}

export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 36) return `${h}h ago`;
  const d = Math.round(h / 24);
  if (d < 60) return `${d}d ago`;
  return `${Math.round(d / 30)}mo ago`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toLocaleString();
}

export function RelTime({ iso }: { iso: string | null | undefined }) {
  const now = useTick();
  if (!iso) return <span className="muted">—</span>;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return <span>{iso}</span>;
  return (
    <time dateTime={iso} title={new Date(t).toLocaleString()}>
      {formatAgo(Math.max(now, Date.now()) - t)}
    </time>
  );
}
