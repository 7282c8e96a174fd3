import { useRef, type KeyboardEvent, type PointerEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { frameLimits, grownSize, moveFrame, resizeEdge, type Edge, type Margins } from '../lib/outpaint';
import { useAtelier } from '../state/store';

interface Place {
  left: number;
  top: number;
  width: number;
  height: number;
  scale: number;
}

const EDGES: Edge[] = ['left', 'right', 'top', 'bottom'];
const KEY_DIR: Record<string, [number, number, Edge]> = {
  ArrowLeft: [-1, 0, 'left'],
  ArrowRight: [1, 0, 'right'],
  ArrowUp: [0, -1, 'top'],
  ArrowDown: [0, 1, 'bottom'],
};

/** The step of the selected model (sizes must be multiples of it). */
export function useSizeStep(): number {
  return useAtelier((s) => s.models.find((m) => m.id === s.params.modelId)?.sizeMultiple ?? 8);
}

/**
 * The outpainting frame over the init image: drag inside to move it, drag an edge handle to
 * resize that side; from the keyboard, arrows move it and Shift/Alt+arrows grow/shrink a side.
 */
export function OutpaintFrame({ place }: { place: Place }) {
  const { init, setOutpaint } = useAtelier(useShallow((s) => ({ init: s.initImage, setOutpaint: s.setOutpaint })));
  const step = useSizeStep();
  const drag = useRef<{ id: number; x: number; y: number; start: Margins; edge: Edge | null } | null>(null);
  if (!init?.outpaint) return null;
  const m = init.outpaint;
  const lim = frameLimits(init.width, init.height, step);
  const size = grownSize(init.width, init.height, m);
  const s = place.scale;
  const style = { left: place.left - m.left * s, top: place.top - m.top * s, width: size.width * s, height: size.height * s };

  const begin = (edge: Edge | null) => (e: PointerEvent<HTMLElement>) => {
    if (e.button !== 0) return;
    e.stopPropagation();
    e.currentTarget.setPointerCapture(e.pointerId);
    drag.current = { id: e.pointerId, x: e.clientX, y: e.clientY, start: m, edge };
  };
  const onMove = (e: PointerEvent<HTMLElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    const dx = (e.clientX - d.x) / s;
    const dy = (e.clientY - d.y) / s;
    const next = d.edge ? resizeEdge(d.start, d.edge, d.edge === 'left' || d.edge === 'right' ? dx : dy, lim) : moveFrame(d.start, dx, dy, lim);
    if (EDGES.some((k) => next[k] !== m[k])) setOutpaint(next);
  };
  const end = (e: PointerEvent<HTMLElement>) => {
    if (drag.current?.id === e.pointerId) drag.current = null;
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const dir = KEY_DIR[e.key];
    if (!dir) return;
    e.preventDefault();
    e.stopPropagation();
    const [x, y, edge] = dir;
    const next = e.shiftKey
      ? resizeEdge(m, edge, (edge === 'left' || edge === 'top' ? -1 : 1) * lim.step, lim)
      : e.altKey
        ? resizeEdge(m, edge, (edge === 'left' || edge === 'top' ? 1 : -1) * lim.step, lim)
        : moveFrame(m, x * lim.step, y * lim.step, lim);
    setOutpaint(next);
  };
  return (
    <div
      className="outpaint-frame"
      data-testid="outpaint-frame"
      data-no-pan
      data-left={m.left}
      data-right={m.right}
      data-top={m.top}
      data-bottom={m.bottom}
      data-width={size.width}
      data-height={size.height}
      tabIndex={0}
      role="group"
      aria-label={`Outpainting frame ${size.width}×${size.height}`}
      title="Outpainting frame: drag to move, drag an edge to resize · Arrows move · Shift+Arrow grows, Alt+Arrow shrinks that side"
      style={style}
      onPointerDown={begin(null)}
      onPointerMove={onMove}
      onPointerUp={end}
      onPointerCancel={end}
      onKeyDown={onKeyDown}
    >
      <span className="outpaint-label">
        {size.width}×{size.height}
      </span>
      {EDGES.map((edge) => (
        <span key={edge} className={`outpaint-handle ${edge}`} data-testid={`outpaint-handle-${edge}`} onPointerDown={begin(edge)} onPointerMove={onMove} onPointerUp={end} onPointerCancel={end} />
      ))}
    </div>
  );
}
