// The connection dot in the header. Colour and words come from the client's
// state (see orchestratorClient.ts for when amber turns red); the label is
// real text (visible, and announced politely to screen readers), the tooltip
// gives the detail: gateway, position, last error, next retry.

import { dotColor, type ClientState } from '../client/orchestratorClient';
import { useNow } from './RelTime';

export const STATUS_TEXT = {
  green: 'Live updates enabled',
  amber: 'Connecting...',
  red: 'Disconnected - manual refresh only',
  watcherDown: 'Watcher not responding',
  grey: 'Not connected',
} as const;

export function statusLabel(s: ClientState): string {
  const c = dotColor(s);
  if (c === 'amber' && s.status === 'connected' && s.watcherDown) return STATUS_TEXT.watcherDown;
  return STATUS_TEXT[c];
}

export function statusTooltip(s: ClientState, url: string, now: number): string {
  const pos = s.position ? `epoch ${s.position.epoch}, seq ${s.position.seq}` : 'no data yet';
  switch (dotColor(s)) {
    case 'green':
      return `Live: changes appear as they are saved.\nGateway ${s.gateway ?? url}\nAt ${pos}`;
    case 'amber':
      if (s.status === 'connected' && s.watcherDown)
        return 'Connected to the gateway, but the watcher has stopped sending heartbeats.\nChanges will appear again when it is back.';
      if (s.status === 'reconnecting')
        return `Connection lost${s.lastError ? ` (${s.lastError})` : ''}; reconnecting and resuming from ${pos}.`;
      return `Connecting to ${url}...`;
    case 'red': {
      const retry =
        s.nextRetryAt !== null ? `next attempt in ${Math.max(0, Math.ceil((s.nextRetryAt - now) / 1000))} s` : 'attempting now';
      return `No live connection${s.lastError ? `: ${s.lastError}` : ''}.\n${s.failures} failed attempt(s); ${retry}.\nThe page shows ${pos}; use Refresh to reload it.`;
    }
    default:
      return 'Not connected.';
  }
}

export function StatusIndicator({ state, url, onRetry }: { state: ClientState; url: string; onRetry: () => void }) {
  const color = dotColor(state);
  const red = color === 'red';
  const now = useNow(1000, red);
  const label = statusLabel(state);
  const secs = red && state.nextRetryAt !== null ? Math.max(0, Math.ceil((state.nextRetryAt - now) / 1000)) : null;
  return (
    <div className="status" data-status={state.status} data-color={color} title={statusTooltip(state, url, now)}>
      <span className={`dot dot-${color}`} aria-hidden="true" />
      <span className="status-label" role="status" aria-live="polite">
        {label}
      </span>
      {red && (
        <>
          <span className="status-retry muted">{secs !== null ? `retry in ${secs}s` : 'retrying…'}</span>
          {secs !== null && (
            <button type="button" className="link-button" onClick={onRetry}>
              Retry now
            </button>
          )}
        </>
      )}
    </div>
  );
}
