/**
 * Draw a control image: a modal with a black canvas at the output's aspect on which the pointer (or
 * the keyboard brush, as in MaskCanvas) draws white lines — what scribble and edge ControlNets take.
 * Eraser draws black; Clear, Undo (Ctrl/Cmd+Z). "Use drawing" hands back the PNG as a file-kind
 * control image, exactly what opening a file gives. Given a starting image, it is drawn underneath
 * first ("Draw over"), cropped to the aspect as the engine's default fit would.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { createPortal } from 'react-dom';
import {
  clampBrush,
  coverRect,
  pushUndo,
  SKETCH_BRUSH_DEFAULT,
  SKETCH_BRUSH_MAX,
  SKETCH_BRUSH_MIN,
  sketchSize,
} from '../lib/control-sketch';
import type { ControlImage } from '../lib/control-units';
import { stripDataUrl, type Point } from '../lib/init-image';
import { useAtelierStore } from '../state/store';
import { useBrushStrokes } from './useBrushStrokes';
import { useModal } from './useModal';

// Space works the pen too: unlike the mask in the viewer, where holding Space pans, nothing here takes it.
const SKETCH_PEN_KEYS: readonly string[] = ['Enter', ' '];

interface Props {
  /** Names the dialog ("ControlNet 1"). */
  label: string;
  /** The image to draw over (data: or thumbnail URL), or null for a blank sketch. */
  startSrc: string | null;
  outputWidth: number;
  outputHeight: number;
  onUse(image: ControlImage): void;
  onCancel(): void;
}

/**
 * The sketch's canvas and its history: black (or the starting image, cover-fitted) at the output's
 * aspect; every change is preceded by `remember()`, the undo step that takes it back.
 */
function useSketchCanvas(startSrc: string | null, outputWidth: number, outputHeight: number) {
  const store = useAtelierStore();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [{ width: w, height: h }] = useState(() => sketchSize(outputWidth, outputHeight));
  const history = useRef<ImageData[]>([]);
  const [undoSteps, setUndoSteps] = useState(0);
  const [ready, setReady] = useState(false);
  const ctx = () => canvas.current?.getContext('2d', { willReadFrequently: true }) ?? null;
  const fillBlack = (c: CanvasRenderingContext2D) => {
    c.fillStyle = '#000';
    c.fillRect(0, 0, w, h);
  };

  useEffect(() => {
    const c = ctx();
    if (!c) return;
    fillBlack(c);
    if (!startSrc) return setReady(true);
    const img = new Image();
    img.onload = () => {
      const r = coverRect(img.naturalWidth, img.naturalHeight, w, h);
      c.drawImage(img, r.x, r.y, r.width, r.height);
      setReady(true);
    };
    img.onerror = () => {
      store.getState().pushToast({ kind: 'error', title: 'Drawing on a blank sketch', message: 'The current control image could not be loaded to draw over.' });
      setReady(true);
    };
    img.src = startSrc;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const remember = () => {
    const c = ctx();
    if (!c) return;
    history.current = pushUndo(history.current, c.getImageData(0, 0, w, h));
    setUndoSteps(history.current.length);
  };
  const undo = () => {
    const snapshot = history.current.pop();
    if (snapshot) ctx()?.putImageData(snapshot, 0, 0);
    setUndoSteps(history.current.length);
  };
  const clear = () => {
    const c = ctx();
    if (!c) return;
    remember();
    fillBlack(c);
  };
  // Brush size is in sketch pixels (diameter); a zero-length segment is a dot (canvas strokes prune those).
  const stroke = (a: Point, b: Point, brush: number, erase: boolean) => {
    const c = ctx();
    if (!c) return;
    c.strokeStyle = c.fillStyle = erase ? '#000' : '#fff';
    c.lineWidth = brush;
    c.lineCap = c.lineJoin = 'round';
    c.beginPath();
    if (a.x === b.x && a.y === b.y) {
      c.arc(a.x, a.y, brush / 2, 0, Math.PI * 2);
      c.fill();
    } else {
      c.moveTo(a.x, a.y);
      c.lineTo(b.x, b.y);
      c.stroke();
    }
  };
  return { canvas, w, h, ready, undoSteps, remember, undo, clear, stroke };
}

interface ToolsProps {
  brush: number;
  setBrush(size: number): void;
  erase: boolean;
  setErase(on: boolean): void;
  canUndo: boolean;
  undo(): void;
  clear(): void;
}

function SketchTools({ brush, setBrush, erase, setErase, canUndo, undo, clear }: ToolsProps) {
  return (
    <div className="control-sketch-tools row">
      <label className="row">
        Brush
        <input type="range" data-testid="sketch-brush" aria-label="Brush size" aria-valuetext={`${brush} pixels`} min={SKETCH_BRUSH_MIN} max={SKETCH_BRUSH_MAX} step={1} value={brush} onChange={(e) => setBrush(clampBrush(e.target.valueAsNumber))} />
        <span className="muted small">{brush} px</span>
      </label>
      <button type="button" data-testid="sketch-eraser" aria-pressed={erase} title="The eraser draws black" onClick={() => setErase(!erase)}>
        Eraser
      </button>
      <button type="button" data-testid="sketch-undo" disabled={!canUndo} title="Undo (Ctrl+Z)" onClick={undo}>
        Undo
      </button>
      <button type="button" data-testid="sketch-clear" onClick={clear}>
        Clear
      </button>
    </div>
  );
}

export function ControlSketch({ label, startSrc, outputWidth, outputHeight, onUse, onCancel }: Props) {
  const store = useAtelierStore();
  const dialog = useRef<HTMLDivElement>(null);
  useModal(dialog, onCancel);
  const { canvas, w, h, ready, undoSteps, remember, undo, clear, stroke: strokeWith } = useSketchCanvas(startSrc, outputWidth, outputHeight);
  const [brush, setBrush] = useState(SKETCH_BRUSH_DEFAULT);
  const [erase, setErase] = useState(false);
  const { cursor, penDown, canvasProps, handleBrushKey } = useBrushStrokes({
    width: w,
    height: h,
    brush,
    paint: (a, b) => strokeWith(a, b, brush, erase),
    onStrokeStart: remember,
    pointerReady: ready,
    penKeys: SKETCH_PEN_KEYS,
  });
  const use = () => {
    try {
      const base64 = stripDataUrl(canvas.current!.toDataURL('image/png'));
      onUse({ kind: 'file', name: 'drawing.png', base64, mime: 'image/png', width: w, height: h });
    } catch {
      // A drawn-over image from another origin taints the canvas: its pixels cannot be read back.
      store.getState().pushToast({ kind: 'error', title: 'Drawing not used', message: 'The image drawn over cannot be read back here; clear the sketch, or open the image as a file first.' });
    }
  };

  const onCanvasKey = (e: KeyboardEvent<HTMLCanvasElement>) => {
    if (handleBrushKey(e)) e.preventDefault();
  };
  const onDialogKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 'z') {
      e.preventDefault();
      undo();
    }
  };

  // In a portal: the left panel's scrolling box must not clip or contain the fixed backdrop.
  return createPortal(
    <div className="modal-backdrop">
      <div ref={dialog} tabIndex={-1} className="modal control-sketch" role="dialog" aria-modal="true" aria-label={`Draw the control image of ${label}`} data-testid="control-sketch" data-ready={ready} data-undo={undoSteps} onKeyDown={onDialogKey}>
        <div className="section-head">
          <span className="modal-title">Draw the control image · {label}</span>
          <span className="muted small">
            {w}×{h} · white lines on black
          </span>
        </div>
        <SketchTools brush={brush} setBrush={setBrush} erase={erase} setErase={setErase} canUndo={undoSteps > 0} undo={undo} clear={clear} />
        <div className="control-sketch-surface">
          <canvas
            ref={canvas}
            width={w}
            height={h}
            tabIndex={0}
            data-testid="sketch-canvas"
            {...canvasProps}
            aria-label="Drawing surface: draw with the mouse, or use arrows to move the brush and Enter to put the pen down or lift it (Shift+arrows: bigger steps)"
            onKeyDown={onCanvasKey}
          />
          {cursor && (
            <div
              className={`mask-cursor${penDown ? ' down' : ''}`}
              data-testid="sketch-cursor"
              style={{ left: `${((cursor.x - brush / 2) / w) * 100}%`, top: `${((cursor.y - brush / 2) / h) * 100}%`, width: `${(brush / w) * 100}%`, height: `${(brush / h) * 100}%` }}
            />
          )}
        </div>
        <div className="row control-sketch-actions">
          <button type="button" className="primary" data-testid="sketch-use" disabled={!ready} onClick={use}>
            Use drawing
          </button>
          <button type="button" data-testid="sketch-cancel" title="Close without changing the control image (Esc)" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </div>
    </div>,
    document.body,
  );
}
