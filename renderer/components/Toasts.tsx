import { useAtelier } from '../state/store';

export function Toasts() {
  const toasts = useAtelier((s) => s.toasts);
  const dismiss = useAtelier((s) => s.dismissToast);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} data-testid="toast" data-kind={t.kind} role={t.kind === 'error' ? 'alert' : 'status'}>
          <div className="toast-body">
            <strong>{t.title}</strong>
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
          <button type="button" className="icon" data-testid="toast-dismiss" title="Dismiss" onClick={() => dismiss(t.id)}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}
