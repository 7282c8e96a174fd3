import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { clientToImage, coverageToRgba, rasterStamps, strokeStamps, stripDataUrl, type Point } from '../lib/init-image';
import { useAtelier } from '../state/store';

interface Place {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Encodes coverage as the API mask: an opaque PNG, white = repaint, at the image's pixel size. */
function encodeMask(cov: Uint8Array, w: number, h: number): string | null {
  if (!cov.some((v) => v !== 0)) return null;
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d');
  if (!ctx) return null;
  const img = ctx.createImageData(w, h);
  coverageToRgba(cov, img.data, 'mask');
  ctx.putImageData(img, 0, 0);
  return stripDataUrl(c.toDataURL('image/png'));
}

/** Inpainting mask overlay: paint with the pointer over the init image; shown translucent red. */
export function MaskCanvas({ place }: { place: Place }) {
  const { init, brush, erase, updateInit } = useAtelier(
    useShallow((s) => ({ init: s.initImage, brush: s.maskBrush, erase: s.maskErase, updateInit: s.updateInit })),
  );
  const ref = useRef<HTMLCanvasElement>(null);
  const cov = useRef<Uint8Array | null>(null);
  const last = useRef<Point | null>(null);
  const w = init?.width ?? 0;
  const h = init?.height ?? 0;
  // Keyboard painting: a brush cursor moved with the arrows; Enter puts the pen down / lifts it.
  const [cursor, setCursor] = useState<Point | null>(null);
  const [penDown, setPenDown] = useState(false);

  const redraw = () => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx || !cov.current) return;
    const img = ctx.createImageData(w, h);
    coverageToRgba(cov.current, img.data, 'overlay');
    ctx.putImageData(img, 0, 0);
  };

  // Follow the store (new init image, cleared mask); painting writes the same buffer back.
  const stored = init?.maskCoverage ?? null;
  useEffect(() => {
    if (cov.current !== stored || !stored) {
      cov.current = stored && stored.length === w * h ? stored.slice() : new Uint8Array(w * h);
      redraw();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stored, w, h]);

  if (!init) return null;
  const toImage = (e: PointerEvent) => clientToImage({ x: e.clientX, y: e.clientY }, ref.current!.getBoundingClientRect(), w, h);
  // Brush size is in image pixels (diameter).
  const paint = (a: Point, b: Point) => {
    if (!cov.current) return;
    const r = Math.max(0.5, brush / 2);
    rasterStamps(cov.current, w, h, strokeStamps(a, b, r), r, erase);
    redraw();
  };
  const commit = () => {
    if (!cov.current) return;
    const snapshot = cov.current.slice();
    cov.current = snapshot;
    updateInit({ maskCoverage: snapshot, maskBase64: encodeMask(snapshot, w, h) });
  };
  const onKeyDown = (e: KeyboardEvent<HTMLCanvasElement>) => {
    const at = cursor ?? { x: w / 2, y: h / 2 };
    const step = Math.max(1, brush / 2) * (e.shiftKey ? 4 : 1);
    const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
    if (move) {
      const next = { x: Math.max(0, Math.min(w - 1, at.x + move[0]!)), y: Math.max(0, Math.min(h - 1, at.y + move[1]!)) };
      if (penDown) paint(at, next);
      setCursor(next);
    } else if (e.key === 'Enter') {
      if (penDown) commit();
      else paint(at, at);
      setCursor(at);
      setPenDown(!penDown);
    } else if (e.key === 'Escape' && penDown) {
      commit();
      setPenDown(false);
    } else return;
    // Brush keys are the canvas's own: the history's arrows and the dialogs' Escape must not see them.
    e.preventDefault();
    e.stopPropagation();
  };
  const scale = place.width / Math.max(1, w);
  return (
    <>
    <canvas
      ref={ref}
      className="mask-canvas"
      tabIndex={0}
      aria-label="Inpainting mask: arrows move the brush, Enter puts the pen down or lifts it (Shift+arrows: bigger steps)"
      title="Paint with the mouse, or focus and use arrows + Enter · hold Space to pan"
      data-pen={penDown ? 'down' : 'up'}
      onKeyDown={onKeyDown}
      onBlur={() => {
        if (penDown) commit();
        setPenDown(false);
        setCursor(null);
      }}
      data-testid="mask-canvas"
      data-no-pan
      data-painted={init.maskBase64 ? 'true' : 'false'}
      width={w}
      height={h}
      style={{ left: place.left, top: place.top, width: place.width, height: place.height }}
      onPointerDown={(e) => {
        if (e.button !== 0) return;
        e.currentTarget.setPointerCapture(e.pointerId);
        const p = toImage(e);
        last.current = p;
        paint(p, p);
      }}
      onPointerMove={(e) => {
        if (!last.current) return;
        const p = toImage(e);
        paint(last.current, p);
        last.current = p;
      }}
      onPointerUp={() => {
        if (!last.current) return;
        last.current = null;
        commit();
      }}
      onPointerCancel={() => {
        if (!last.current) return;
        last.current = null;
        commit();
      }}
    />
    {cursor && (
      <div
        className={`mask-cursor${penDown ? ' down' : ''}`}
        data-testid="mask-cursor"
        style={{
          left: place.left + (cursor.x - brush / 2) * scale,
          top: place.top + (cursor.y - brush / 2) * scale,
          width: brush * scale,
          height: brush * scale,
        }}
      />
    )}
    </>
  );
}
