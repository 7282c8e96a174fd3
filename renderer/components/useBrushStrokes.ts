/**
 * Painting on a canvas with the pointer or the keyboard: the part the ControlNet sketch and the
 * inpainting mask share. With the pointer, a press captures it and dabs, each move draws the segment
 * from the last point, and release (or cancel) ends the stroke. With the keyboard, a brush cursor
 * moves with the arrows (half a brush per press, four times that with Shift) and a pen key puts the
 * pen down (a dab) or lifts it; moving with the pen down draws.
 *
 * What a stroke does is the caller's: `paint` draws a segment in canvas pixels, `onStrokeStart` runs
 * before its first dab (the sketch's undo snapshot), `onStrokeEnd` once it is over (the mask saves).
 */
import { useRef, useState, type PointerEvent } from 'react';
import { keyboardBrushMove } from '../lib/control-sketch';
import { clientToImage, type Point } from '../lib/init-image';

export interface BrushStrokeOptions {
  /** The canvas's pixel size: strokes land in these pixels and the keyboard cursor stays inside. */
  width: number;
  height: number;
  /** Brush diameter in canvas pixels; the keyboard step follows it. */
  brush: number;
  /** Draws the segment a→b; a dot when `a` and `b` are the same point. */
  paint(a: Point, b: Point): void;
  onStrokeStart?(): void;
  onStrokeEnd?(): void;
  /** False while the canvas must not take pointer strokes yet (its starting image is still loading). */
  pointerReady?: boolean;
  /** Keys that put the keyboard pen down or lift it. */
  penKeys?: readonly string[];
}

const ENTER_ONLY: readonly string[] = ['Enter'];

export function useBrushStrokes({ width: w, height: h, brush, paint, onStrokeStart, onStrokeEnd, pointerReady = true, penKeys = ENTER_ONLY }: BrushStrokeOptions) {
  // The pointer stroke's last point; null between strokes. A ref: pointer moves outpace renders.
  const last = useRef<Point | null>(null);
  const [cursor, setCursor] = useState<Point | null>(null);
  const [penDown, setPenDown] = useState(false);

  const toCanvas = (e: PointerEvent<HTMLCanvasElement>) => clientToImage({ x: e.clientX, y: e.clientY }, e.currentTarget.getBoundingClientRect(), w, h);
  const endPointerStroke = () => {
    if (!last.current) return;
    last.current = null;
    onStrokeEnd?.();
  };

  /** Handles an arrow or a pen key; false for any other key, which the caller may handle. */
  const handleBrushKey = (e: { key: string; shiftKey: boolean }): boolean => {
    const at = cursor ?? { x: w / 2, y: h / 2 };
    const next = keyboardBrushMove(e.key, at, brush, e.shiftKey, w, h);
    if (next) {
      if (penDown) paint(at, next);
      setCursor(next);
    } else if (penKeys.includes(e.key)) {
      if (penDown) onStrokeEnd?.();
      else (onStrokeStart?.(), paint(at, at));
      setCursor(at);
      setPenDown(!penDown);
    } else return false;
    return true;
  };

  /** Lifts the keyboard pen, ending its stroke; false when it was not down. */
  const liftPen = (): boolean => {
    if (!penDown) return false;
    onStrokeEnd?.();
    setPenDown(false);
    return true;
  };

  /** Spread on the canvas: pointer strokes, the pen state for tests, and focus loss lifting the pen. */
  const canvasProps = {
    'data-pen': penDown ? 'down' : 'up',
    onBlur: () => {
      if (penDown) onStrokeEnd?.();
      setPenDown(false);
      setCursor(null);
    },
    onPointerDown: (e: PointerEvent<HTMLCanvasElement>) => {
      if (e.button !== 0 || !pointerReady) return;
      e.currentTarget.setPointerCapture(e.pointerId);
      onStrokeStart?.();
      const p = toCanvas(e);
      last.current = p;
      paint(p, p);
    },
    onPointerMove: (e: PointerEvent<HTMLCanvasElement>) => {
      if (!last.current) return;
      const p = toCanvas(e);
      paint(last.current, p);
      last.current = p;
    },
    onPointerUp: endPointerStroke,
    onPointerCancel: endPointerStroke,
  };

  return { cursor, penDown, canvasProps, handleBrushKey, liftPen };
}
