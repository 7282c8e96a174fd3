/**
 * The left panel's ControlNet section: up to four units, each an installed ControlNet (listControlNets),
 * a control image (opened or dropped file, or the image in the viewer), the annotator that turns a
 * photo into the control map, its weight and the part of the steps it runs on. A control image can
 * also be drawn (ControlSketch: white lines on black, over the current image when there is one).
 * Units go into the generate request (renderer/lib/control-units.ts) and the workspace memory; the canvas shows them
 * beside the image (ControlStrip). A model that cannot run ControlNet (no ControlNet-capable UNet)
 * is named here, before Generate refuses it (renderer/lib/controlnet-support.ts).
 */
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { ControlNetSummary } from '../../common/api/contract';
import { LORA_BASE_LABELS } from '../../common/lora-base';
import {
  activeSteps,
  CANNY_MAX,
  CONTROL_UNITS_MAX,
  CONTROL_WEIGHT_MAX,
  CONTROL_WEIGHT_STEP,
  controlNetMismatch,
  setWindow,
  stepsLabel,
  unitProblems,
  type AnnotatorChoice,
  type ControlFit,
  type ControlImage,
  type ControlUnitState,
} from '../lib/control-units';
import { controlNetUnsupported } from '../lib/controlnet-support';
import { useAtelier, useAtelierStore } from '../state/store';
import { ControlSketch } from './ControlSketch';
import { formatBytes } from './hooks';
import { SliderRow } from './SliderRow';

const ANNOTATORS: ReadonlyArray<[AnnotatorChoice, string]> = [
  ['none', 'None (the image is the control map)'],
  ['canny', 'Canny edges'],
  ['depth', 'Depth'],
  ['pose', 'Pose'],
];

/** The API accepts up to 90 M base64 characters per image. */
const MAX_FILE_BYTES = 60 * 1024 * 1024;

function toBase64(buf: ArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A file as a control image, or a sentence saying why it cannot be one. */
async function readControlFile(file: File): Promise<ControlImage | string> {
  if (!file.type.startsWith('image/') && !/\.(png|jpe?g|webp)$/i.test(file.name)) return `${file.name} is not an image: open a PNG, JPEG or WebP file.`;
  if (file.size > MAX_FILE_BYTES) return `${file.name} is ${formatBytes(file.size)}; a control image may be at most ${formatBytes(MAX_FILE_BYTES)}.`;
  try {
    const bitmap = await createImageBitmap(file);
    const { width, height } = bitmap;
    bitmap.close();
    return { kind: 'file', name: file.name, base64: toBase64(await file.arrayBuffer()), mime: file.type || 'image/png', width, height };
  } catch {
    return `${file.name} could not be decoded as an image (damaged, or a format the browser cannot read).`;
  }
}

export function controlImageSrc(image: ControlImage): string {
  return image.kind === 'generation' ? image.thumbUrl : `data:${image.mime};base64,${image.base64}`;
}

function netLabel(c: ControlNetSummary, modelFamily: string | undefined): string {
  const parts = [c.name, c.baseFamily ? LORA_BASE_LABELS[c.baseFamily] : null, c.controlType, formatBytes(c.sizeBytes), controlNetMismatch(c, modelFamily) ? 'not for this model' : null];
  return parts.filter(Boolean).join(' · ');
}

function ControlImageField({ unit, index }: { unit: ControlUnitState; index: number }) {
  const store = useAtelierStore();
  const { viewed, update, takeGeneration, outputWidth, outputHeight } = useAtelier(
    useShallow((s) => ({
      viewed: s.viewingId ? s.records[s.viewingId] : undefined,
      update: s.updateControlUnit,
      takeGeneration: s.useGenerationForControl,
      outputWidth: s.params.width,
      outputHeight: s.params.height,
    })),
  );
  const fileInput = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [drawing, setDrawing] = useState(false);
  const n = index + 1;
  const take = async (file: File | undefined) => {
    if (!file) return;
    const result = await readControlFile(file);
    if (typeof result === 'string') store.getState().pushToast({ kind: 'error', title: 'Not used as control image', message: result });
    else update(unit.key, { image: result });
  };
  // The unit's own drop target: the prevented default tells the window-wide import (ImportDrop) it is taken.
  const onDragOver = (e: DragEvent) => {
    if (![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    setOver(true);
  };
  const onDrop = (e: DragEvent) => {
    if (![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    setOver(false);
    void take(e.dataTransfer.files[0]);
  };
  const image = unit.image;
  return (
    <div className={over ? 'control-image drop-target over' : 'control-image drop-target'} data-testid="control-image" data-kind={image?.kind ?? 'none'} onDragOver={onDragOver} onDragLeave={() => setOver(false)} onDrop={onDrop}>
      {image ? (
        <img src={controlImageSrc(image)} alt={`Control image of ControlNet ${n}`} title={image.kind === 'file' ? image.name : `Generation ${image.generationId}`} />
      ) : (
        <div className="control-image-empty muted">Drop an image here</div>
      )}
      <div className="control-image-actions">
        {image && (
          <span className="muted small" data-testid="control-image-info">
            {image.kind === 'file' ? image.name : 'from the history'}
            {image.width > 0 ? ` · ${image.width}×${image.height}` : ''}
          </span>
        )}
        <input
          ref={fileInput}
          type="file"
          hidden
          accept="image/png,image/jpeg,image/webp"
          data-testid="control-file"
          aria-label={`Control image file for ControlNet ${n}`}
          onChange={(e) => {
            void take(e.currentTarget.files?.[0]);
            e.currentTarget.value = '';
          }}
        />
        <button type="button" data-testid="control-open" onClick={() => fileInput.current?.click()}>
          Open image…
        </button>
        <button
          type="button"
          data-testid="control-use-current"
          disabled={!viewed}
          title={viewed ? 'Use the image in the viewer as the control image' : 'Show an image in the viewer first'}
          onClick={() => viewed && takeGeneration(unit.key, viewed)}
        >
          Use current image
        </button>
        <button
          type="button"
          data-testid="control-draw"
          aria-label={image ? `Draw over the control image of ControlNet ${n}` : `Draw a control image for ControlNet ${n}`}
          title="Draw white lines on black (scribble / edges), over the current control image if there is one"
          onClick={() => setDrawing(true)}
        >
          {image ? 'Draw over…' : 'Draw…'}
        </button>
      </div>
      {drawing && (
        <ControlSketch
          label={`ControlNet ${n}`}
          startSrc={image ? controlImageSrc(image) : null}
          outputWidth={outputWidth}
          outputHeight={outputHeight}
          onCancel={() => setDrawing(false)}
          onUse={(drawn) => {
            update(unit.key, { image: drawn });
            setDrawing(false);
          }}
        />
      )}
    </div>
  );
}

function ControlUnitEditor({ unit, index, installed, modelFamily, steps }: { unit: ControlUnitState; index: number; installed: ControlNetSummary[] | null; modelFamily: string | undefined; steps: number }) {
  const { update, choose, remove, refresh } = useAtelier(
    useShallow((s) => ({ update: s.updateControlUnit, choose: s.chooseControlNet, remove: s.removeControlUnit, refresh: s.refreshControlNets })),
  );
  const n = index + 1;
  const id = (what: string) => `control-${unit.key}-${what}`;
  const nets = installed ?? [];
  const chosen = nets.find((c) => c.name === unit.model);
  const mismatch = controlNetMismatch(chosen, modelFamily);
  const problems = unitProblems(unit, installed, index);
  const setRange = (which: 'start' | 'end', v: number) => Number.isFinite(v) && update(unit.key, setWindow(unit, which, v));
  const setWeight = (v: number) => Number.isFinite(v) && update(unit.key, { weight: Math.min(CONTROL_WEIGHT_MAX, Math.max(0, v)) });
  return (
    <li className={unit.enabled ? 'control-unit' : 'control-unit off'} id={id('unit')} data-testid="control-unit" data-enabled={unit.enabled} data-model={unit.model} role="group" aria-label={`ControlNet ${n}`}>
      <div className="field-head">
        <label className="control-enable">
          <input type="checkbox" data-testid="control-enabled" aria-label={`Use ControlNet ${n}`} checked={unit.enabled} onChange={(e) => update(unit.key, { enabled: e.target.checked })} />
          ControlNet {n}
        </label>
        <button type="button" className="icon" data-testid="control-remove" aria-label={`Remove ControlNet ${n}`} title={`Remove ControlNet ${n}`} onClick={() => remove(unit.key)}>
          ✕
        </button>
      </div>
      <label htmlFor={id('model')}>Model</label>
      <select id={id('model')} data-testid="control-model" aria-label={`ControlNet ${n} model`} value={unit.model} onFocus={() => void refresh()} onChange={(e) => choose(unit.key, e.target.value)}>
        {!chosen && <option value={unit.model}>{unit.model ? `${unit.model} (not installed)` : 'Choose a ControlNet'}</option>}
        {nets.map((c) => (
          <option key={c.name} value={c.name}>
            {netLabel(c, modelFamily)}
          </option>
        ))}
      </select>
      {mismatch && (
        <div className="hint warn" data-testid="control-family-mismatch">
          {unit.model} is {mismatch}: its residuals do not fit this model's UNet. Pick a matching ControlNet or model.
        </div>
      )}
      <ControlImageField unit={unit} index={index} />
      <div className="control-row">
        <label htmlFor={id('annotator')}>Annotator</label>
        <select
          id={id('annotator')}
          data-testid="control-annotator"
          aria-label={`ControlNet ${n} annotator`}
          value={unit.annotator}
          title="Runs on the control image before the ControlNet: a photo becomes edges, a depth map or a pose; None when the image already is one"
          onChange={(e) => update(unit.key, { annotator: e.target.value as AnnotatorChoice })}
        >
          {ANNOTATORS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
              {chosen?.suggestedAnnotator === value ? ' (suggested)' : ''}
            </option>
          ))}
        </select>
      </div>
      {unit.annotator === 'canny' && (
        <div className="control-row" data-testid="control-canny">
          <label htmlFor={id('low')}>Low</label>
          <input id={id('low')} type="number" data-testid="control-canny-low" aria-label={`ControlNet ${n} Canny low threshold`} min={0} max={CANNY_MAX} step={10} value={unit.cannyLow} onChange={(e) => Number.isFinite(e.target.valueAsNumber) && update(unit.key, { cannyLow: e.target.valueAsNumber })} />
          <label htmlFor={id('high')}>High</label>
          <input id={id('high')} type="number" data-testid="control-canny-high" aria-label={`ControlNet ${n} Canny high threshold`} min={0} max={CANNY_MAX} step={10} value={unit.cannyHigh} onChange={(e) => Number.isFinite(e.target.valueAsNumber) && update(unit.key, { cannyHigh: e.target.valueAsNumber })} />
        </div>
      )}
      <div className="control-row">
        <SliderRow
          id={id('weight')}
          label="Weight"
          data-testid="control-weight-slider"
          aria-label={`ControlNet ${n} weight`}
          min={0}
          max={CONTROL_WEIGHT_MAX}
          step={CONTROL_WEIGHT_STEP}
          value={unit.weight}
          onValue={setWeight}
          numberField={{ 'data-testid': 'control-weight', 'aria-label': `ControlNet ${n} weight (number)`, min: 0, max: CONTROL_WEIGHT_MAX }}
        />
      </div>
      <div className="control-row" title="The part of the steps this ControlNet works on (A1111's starting/ending control step)">
        <SliderRow id={id('start')} label="Start" data-testid="control-start" aria-label={`ControlNet ${n} start`} aria-valuetext={`${unit.start.toFixed(2)}, ${stepsLabel(unit.start, unit.end, steps)}`} min={0} max={1} step={0.01} value={unit.start} onValue={(v) => setRange('start', v)} />
        <SliderRow id={id('end')} label="End" data-testid="control-end" aria-label={`ControlNet ${n} end`} aria-valuetext={`${unit.end.toFixed(2)}, ${stepsLabel(unit.start, unit.end, steps)}`} min={0} max={1} step={0.01} value={unit.end} onValue={(v) => setRange('end', v)} />
      </div>
      <div className={activeSteps(unit.start, unit.end, steps) ? 'muted small' : 'hint warn'} data-testid="control-steps">
        {unit.start.toFixed(2)}–{unit.end.toFixed(2)} · {stepsLabel(unit.start, unit.end, steps)}
      </div>
      <div className="control-row">
        <label htmlFor={id('fit')}>Fit</label>
        <select id={id('fit')} data-testid="control-fit" aria-label={`ControlNet ${n} fit`} value={unit.fit ?? ''} title="How the control image is brought to the output size when they differ" onChange={(e) => update(unit.key, { fit: (e.target.value || undefined) as ControlFit | undefined })}>
          <option value="">Default (crop)</option>
          <option value="crop">Crop</option>
          <option value="resize">Resize</option>
          <option value="pad">Pad</option>
        </select>
      </div>
      {problems.length > 0 && (
        <div className="hint warn" role="status" data-testid="control-problems">
          {problems.join(' ')}
        </div>
      )}
    </li>
  );
}

export function ControlPanel() {
  const { installed, error, refresh, units, add, model, steps, modelsDir } = useAtelier(
    useShallow((s) => ({
      installed: s.controlNets,
      error: s.controlNetsError,
      refresh: s.refreshControlNets,
      units: s.controlUnits,
      add: s.addControlUnit,
      model: s.models.find((m) => m.id === s.params.modelId),
      steps: s.params.steps,
      modelsDir: s.settings?.modelsDir ?? null,
    })),
  );
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const modelFamily = model?.family;
  const unsupported = controlNetUnsupported(model);
  const none = installed !== null && installed.length === 0;
  const full = units.length >= CONTROL_UNITS_MAX;
  return (
    <div className="field control-panel" data-testid="control-panel" data-units={units.length}>
      <div className="field-head">
        <label id="control-panel-title">ControlNet</label>
        <button
          type="button"
          data-testid="control-add"
          disabled={full || none}
          title={full ? `At most ${CONTROL_UNITS_MAX} ControlNets per image` : none ? 'Install a ControlNet first' : 'Add a ControlNet unit: keep edges, depth or a pose of a control image'}
          onClick={() => add()}
        >
          + Add
        </button>
      </div>
      {unsupported && (
        <div className="hint warn" role="status" data-testid="control-model-unsupported">
          {unsupported}
        </div>
      )}
      {none && !error && (
        <div className="hint" data-testid="no-controlnets">
          No ControlNets installed: put a ControlNet folder (its model.onnx) into {modelsDir ? <code>{`${modelsDir}/controlnets`}</code> : 'the controlnets folder of your models folder'}.
        </div>
      )}
      {error && (
        <div className="hint warn" role="alert" data-testid="controlnets-error">
          Could not list ControlNets: {error}
        </div>
      )}
      {units.length > 0 && (
        <ul className="control-units" aria-labelledby="control-panel-title">
          {units.map((u, i) => (
            <ControlUnitEditor key={u.key} unit={u} index={i} installed={installed} modelFamily={modelFamily} steps={steps} />
          ))}
        </ul>
      )}
    </div>
  );
}
