import { useEffect, useRef, type RefObject } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Open modal dialogs, innermost last: only the top one handles Tab and Escape. */
const stack: HTMLElement[] = [];

export function isModalOpen(): boolean {
  return stack.length > 0;
}

function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
}

/**
 * Makes `ref` a proper modal dialog: focus moves into it (unless something inside already took it,
 * e.g. autoFocus), Tab and Shift+Tab wrap inside it, Escape closes it, and on close focus goes back
 * to whatever had it before (the button that opened it). The listener runs in the capture phase
 * so the app's global shortcuts never see Tab/Escape meant for the dialog.
 */
export function useModal(ref: RefObject<HTMLElement | null>, onClose: () => void): void {
  const close = useRef(onClose);
  close.current = onClose;
  // Read during the first render: by the time effects run, an autoFocus field inside has focus.
  const opener = useRef(typeof document === 'undefined' ? null : document.activeElement);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const previous = opener.current instanceof HTMLElement ? opener.current : null;
    stack.push(el);
    if (!el.contains(document.activeElement)) (focusables(el)[0] ?? el).focus();
    const onKey = (e: KeyboardEvent) => {
      if (stack[stack.length - 1] !== el) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close.current();
        return;
      }
      if (e.key !== 'Tab') return;
      e.stopPropagation();
      const items = focusables(el);
      const first = items[0];
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (!first || !last) {
        e.preventDefault();
        el.focus();
      } else if (e.shiftKey && (active === first || !el.contains(active) || active === el)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !el.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    };
    // Focus that escapes anyway (a click on the page behind) is pulled back in.
    const onFocusIn = (e: FocusEvent) => {
      if (stack[stack.length - 1] === el && !el.contains(e.target as Node)) (focusables(el)[0] ?? el).focus();
    };
    document.addEventListener('keydown', onKey, true);
    document.addEventListener('focusin', onFocusIn);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      document.removeEventListener('focusin', onFocusIn);
      const at = stack.indexOf(el);
      if (at >= 0) stack.splice(at, 1);
      if (previous?.isConnected) previous.focus();
    };
  }, [ref]);
}
