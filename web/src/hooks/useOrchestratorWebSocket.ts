// React binding of OrchestratorClient (src/client/orchestratorClient.ts).
//
// One client per (url, token, topics); it starts on mount and stops on
// unmount (React 18 StrictMode's mount-unmount-mount is fine: a stopped
// client starts again and resumes from its position). The callbacks are read
// through a ref updated on every render, so the client always calls the
// latest ones: a handler that closes over state never goes stale, and
// passing a new function each render does not reconnect.

import { useEffect, useLayoutEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import {
  dotColor,
  OrchestratorClient,
  type ClientState,
  type DotColor,
  type Notice,
  type NoticeDetail,
  type OrchestratorClientOptions,
  type StreamPosition,
} from '../client/orchestratorClient';
import type { ChangeEventMessage } from '../client/protocol';

export interface UseOrchestratorWebSocketOptions
  extends Omit<OrchestratorClientOptions, 'resync' | 'onEvent' | 'onNotice'> {
  resync: (reason: string) => Promise<StreamPosition>;
  onEvent?: (ev: ChangeEventMessage) => void;
  onNotice?: (n: Notice, state: ClientState, detail?: NoticeDetail) => void;
  /** false: do not connect (the client is stopped). Default true. */
  enabled?: boolean;
}

export interface UseOrchestratorWebSocket {
  state: ClientState;
  status: ClientState['status'];
  color: DotColor;
  /** Retry now instead of waiting for the backoff timer. */
  retryNow: () => void;
  /** Reload over REST, consistent with the live stream (the Refresh button). */
  resync: (reason?: string) => Promise<boolean>;
  client: OrchestratorClient;
}

export function useOrchestratorWebSocket(options: UseOrchestratorWebSocketOptions): UseOrchestratorWebSocket {
  const latest = useRef(options);
  // Layout effect: updated before any event handler of this commit can run.
  useLayoutEffect(() => {
    latest.current = options;
  });

  const { url, token, enabled = true } = options;
  const topicsKey = (options.topics ?? []).join(',');

  const client = useMemo(
    () => {
      const o = latest.current;
      return new OrchestratorClient({
        ...o,
        url,
        token,
        topics: topicsKey ? topicsKey.split(',') : undefined,
        resync: (reason) => latest.current.resync(reason),
        onEvent: (ev) => latest.current.onEvent?.(ev),
        onNotice: (n, s, d) => latest.current.onNotice?.(n, s, d),
      });
    },
    // Options other than these are read once, when the client is created.
    [url, token, topicsKey],
  );

  useEffect(() => {
    if (!enabled) return;
    client.start();
    return () => client.stop();
  }, [client, enabled]);

  const subscribe = useMemo(() => (fn: () => void) => client.subscribe(fn), [client]);
  const getSnapshot = useMemo(() => () => client.getState(), [client]);
  const state = useSyncExternalStore(subscribe, getSnapshot, getSnapshot);

  return useMemo(
    () => ({
      state,
      status: state.status,
      color: dotColor(state),
      retryNow: () => client.retryNow(),
      resync: (reason?: string) => client.resync(reason),
      client,
    }),
    [state, client],
  );
}
