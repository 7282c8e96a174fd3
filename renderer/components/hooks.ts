import { useEffect, useRef, useState, type RefObject } from 'react';
import { panBy, wheelFactor, zoomAround, type View } from '../lib/view-transform';

/** Tracks an element's content-box size. */
export function useElementSize<T extends HTMLElement>(): [RefObject<T | null>, { width: number; height: number }] {
  const ref = useRef<T>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(([entry]) => {
      if (!entry) return;
      const { width, height } = entry.contentRect;
      setSize((s) => (s.width === width && s.height === height ? s : { width, height }));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, size];
}

/**
 * Wheel zoom (around the cursor) and drag panning on an element (left or middle button). Holding
 * Space over the element turns every drag into a pan, even over layers that take the pointer for
 * themselves (`data-no-pan`: the inpainting mask, the outpaint frame). `getFit` clamps the zoom.
 * Views are read through a ref so a burst of wheel events never uses a stale view.
 */
export function usePanZoom(
  ref: RefObject<HTMLElement | null>,
  view: View,
  onChange: (v: View) => void,
  getFit: () => number = () => 1,
) {
  const latest = useRef({ view, onChange, getFit });
  latest.current = { view, onChange, getFit };

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      const { view: v, onChange: set, getFit: fit } = latest.current;
      const next = zoomAround(v, wheelFactor(e.deltaY, e.deltaMode), e.clientX - r.left - r.width / 2, e.clientY - r.top - r.height / 2, fit());
      latest.current.view = next;
      set(next);
    };
    let drag: { id: number; x: number; y: number } | null = null;
    let hovering = false;
    let space = false;
    const setSpace = (on: boolean) => {
      space = on;
      if (on) el.dataset.space = 'true';
      else delete el.dataset.space;
    };
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.key !== ' ' || !hovering || isTyping(e)) return;
      e.preventDefault(); // no page scroll, no click on a focused button
      if (!space) setSpace(true);
    };
    const onKeyUp = (e: KeyboardEvent) => {
      if (e.key === ' ' && space) setSpace(false);
    };
    const onEnter = () => (hovering = true);
    const onLeave = () => (hovering = false);
    const onBlur = () => setSpace(false);
    const onDown = (e: PointerEvent) => {
      if (e.button !== 0 && e.button !== 1) return;
      if (space) e.stopPropagation(); // the layer underneath (mask brush…) must not see this drag
      else if ((e.target as HTMLElement).closest('[data-no-pan]')) return;
      drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
      el.setPointerCapture(e.pointerId);
      el.dataset.panning = 'true';
    };
    const onMove = (e: PointerEvent) => {
      if (!drag || drag.id !== e.pointerId) return;
      const next = panBy(latest.current.view, e.clientX - drag.x, e.clientY - drag.y);
      drag = { ...drag, x: e.clientX, y: e.clientY };
      latest.current.view = next;
      latest.current.onChange(next);
    };
    const onUp = (e: PointerEvent) => {
      if (drag?.id === e.pointerId) {
        drag = null;
        delete el.dataset.panning;
      }
    };
    // One signal removes every listener on cleanup, so additions and removals cannot drift apart.
    const listeners = new AbortController();
    const signal = listeners.signal;
    el.addEventListener('wheel', onWheel, { passive: false, signal });
    el.addEventListener('pointerdown', onDown, { capture: true, signal });
    el.addEventListener('pointerenter', onEnter, { signal });
    el.addEventListener('pointerleave', onLeave, { signal });
    window.addEventListener('keydown', onKeyDown, { signal });
    window.addEventListener('keyup', onKeyUp, { signal });
    window.addEventListener('blur', onBlur, { signal });
    el.addEventListener('pointermove', onMove, { signal });
    el.addEventListener('pointerup', onUp, { signal });
    el.addEventListener('pointercancel', onUp, { signal });
    return () => listeners.abort();
  }, [ref]);
}

export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** True when the focused control moves with the arrow keys itself (a slider, a radio group): arrow shortcuts must leave it be. */
export function ownsArrowKeys(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && t.tagName === 'INPUT' && ['range', 'radio'].includes((t as HTMLInputElement).type);
}

/** True when a key event comes from a text field (global shortcuts must not fire). */
export function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  return t.isContentEditable || t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && !['checkbox', 'radio', 'range', 'button'].includes((t as HTMLInputElement).type)) || t.tagName === 'SELECT';
}
