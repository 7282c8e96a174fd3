import { useRef, type FormHTMLAttributes, type ReactNode } from 'react';
import { useModal } from './useModal';

type FormAttributes = Omit<FormHTMLAttributes<HTMLFormElement>, 'ref' | 'role' | 'tabIndex' | 'aria-modal' | 'aria-label'>;

/**
 * A modal dialog whose body is a form (Move, Export): the backdrop closes it on a click outside,
 * useModal traps focus and Escape, and the form carries the dialog role and label. data-* and the
 * submit handler pass through to the form.
 */
export function ModalForm({ label, close, children, className = 'modal export-dialog', ...form }: FormAttributes & { label: string; close(): void; children: ReactNode; [data: `data-${string}`]: unknown }) {
  const ref = useRef<HTMLFormElement>(null);
  useModal(ref, close);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close()}>
      <form ref={ref} tabIndex={-1} className={className} role="dialog" aria-modal="true" aria-label={label} {...form}>
        {children}
      </form>
    </div>
  );
}
