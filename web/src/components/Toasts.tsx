// Toasts: a polite live region, newest at the bottom, each dismissed after
// a few seconds or by its close button. `push` with a `kind` replaces a
// visible toast of the same kind (and `replaces` kinds), so the same message
// never stacks up.

import { useCallback, useEffect, useRef, useState } from 'react';

export interface Toast {
  id: number;
  kind: string;
  tone: 'success' | 'error' | 'info';
  title: string;
  detail?: string;
}

export interface ToastInput {
  kind: string;
  tone: Toast['tone'];
  title: string;
  detail?: string;
  /** Other kinds this toast makes obsolete (reconnected replaces disconnected). */
  replaces?: string[];
  ttlMs?: number;
}

export function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());

  const dismiss = useCallback((id: number) => {
    setToasts((ts) => ts.filter((t) => t.id !== id));
    const t = timers.current.get(id);
    if (t) clearTimeout(t);
    timers.current.delete(id);
  }, []);

  const push = useCallback(
    (input: ToastInput) => {
      const id = nextId.current++;
      const gone = new Set([input.kind, ...(input.replaces ?? [])]);
      setToasts((ts) => [
        ...ts.filter((t) => !gone.has(t.kind)).slice(-3),
        { id, kind: input.kind, tone: input.tone, title: input.title, detail: input.detail },
      ]);
      timers.current.set(
        id,
        setTimeout(() => dismiss(id), input.ttlMs ?? 6000),
      );
    },
    [dismiss],
  );

  useEffect(() => {
    const t = timers.current;
    return () => {
      for (const x of t.values()) clearTimeout(x);
    };
  }, []);

  return { toasts, push, dismiss };
}

export function Toasts({ toasts, dismiss }: { toasts: Toast[]; dismiss: (id: number) => void }) {
  return (
    <div className="toasts" role="status" aria-live="polite" aria-relevant="additions">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.tone}`} data-kind={t.kind}>
          <span className="toast-icon" aria-hidden="true">
            {t.tone === 'success' ? '✓' : t.tone === 'error' ? '!' : 'i'}
          </span>
          <div className="toast-body">
            <div className="toast-title">{t.title}</div>
            {t.detail && <div className="toast-detail">{t.detail}</div>}
          </div>
          <button type="button" className="toast-close" aria-label="Dismiss notification" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
