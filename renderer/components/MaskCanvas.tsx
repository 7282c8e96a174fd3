import { useEffect, useRef, type KeyboardEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { coverageToRgba, rasterStamps, strokeStamps, stripDataUrl, type Point } from '../lib/init-image';
import { useAtelier } from '../state/store';
import { useBrushStrokes } from './useBrushStrokes';

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
  const w = init?.width ?? 0;
  const h = init?.height ?? 0;

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
  // Pointer strokes, and keyboard painting (arrows move a brush cursor, Enter puts the pen down or lifts it); a finished stroke is committed.
  const { cursor, penDown, canvasProps, handleBrushKey, liftPen } = useBrushStrokes({ width: w, height: h, brush, paint, onStrokeEnd: commit });

  if (!init) return null;
  const onKeyDown = (e: KeyboardEvent<HTMLCanvasElement>) => {
    if (!handleBrushKey(e) && !(e.key === 'Escape' && liftPen())) return;
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
      {...canvasProps}
      onKeyDown={onKeyDown}
      data-testid="mask-canvas"
      data-no-pan
      data-painted={init.maskBase64 ? 'true' : 'false'}
      width={w}
      height={h}
      style={{ left: place.left, top: place.top, width: place.width, height: place.height }}
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
