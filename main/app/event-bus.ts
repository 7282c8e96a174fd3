/** The backend's event fan-out: every transport subscribes; one failing listener never stops the others. */
import type { AtelierEvent } from '../../common/api/contract';

export interface EventBus {
  emit(event: AtelierEvent): void;
  subscribe(listener: (event: AtelierEvent) => void): () => void;
}

export function createEventBus(): EventBus {
  const listeners = new Set<(e: AtelierEvent) => void>();
  return {
    emit(event) {
      for (const l of listeners) {
        try {
          l(event);
        } catch {
          /* a failing listener must not break the others */
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
