import { useLayoutEffect, useRef } from 'react';
import { useAtelier } from '../state/store';

/**
 * Toasts, bottom right. Dialogs never sit under them: the stack's height (plus its margin) is
 * published as --toasts-space, which an open dialog's backdrop keeps free at the bottom, so the
 * dialog (and its buttons) is laid out above the toasts instead of behind them.
 */
export function Toasts() {
  const toasts = useAtelier((s) => s.toasts);
  const dismiss = useAtelier((s) => s.dismissToast);
  const ref = useRef<HTMLDivElement>(null);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const root = document.documentElement;
    const update = () => {
      const h = el.offsetHeight;
      root.style.setProperty('--toasts-space', `${h > 0 ? h + 16 + 8 : 0}px`);
    };
    update();
    const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(update);
    observer?.observe(el);
    return () => {
      observer?.disconnect();
      root.style.removeProperty('--toasts-space');
    };
  }, []);
  // ResizeObserver reports after layout; also update right away when the list changes.
  useLayoutEffect(() => {
    const el = ref.current;
    if (el) document.documentElement.style.setProperty('--toasts-space', `${el.offsetHeight > 0 ? el.offsetHeight + 16 + 8 : 0}px`);
  }, [toasts]);

  return (
    <div ref={ref} className="toasts" aria-live="polite" data-testid="toasts">
      {toasts.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} data-testid="toast" data-kind={t.kind} data-count={t.count ?? 1} role={t.kind === 'error' ? 'alert' : 'status'}>
          <div className="toast-body">
            <strong>
              {t.title}
              {(t.count ?? 1) > 1 && (
                <span className="toast-count" data-testid="toast-count" title={`This happened ${t.count} times`}>
                  ×{t.count}
                </span>
              )}
            </strong>
            <div>{t.message}</div>
          </div>
          {t.action && (
            <button
              type="button"
              data-testid="toast-action"
              onClick={() => {
                t.action!.run();
                dismiss(t.id);
              }}
            >
              {t.action.label}
            </button>
          )}
          <button type="button" className="icon" data-testid="toast-dismiss" title="Dismiss" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}
