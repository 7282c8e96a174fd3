import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { GENERATE_BOUNDS, type NumberBounds } from '../../common/params/bounds';
import { DEMO_PLACEHOLDER, GENERIC_PLACEHOLDER, isDemoModel } from '../lib/demo-prompts';
import { parseFieldText, stepValue } from '../lib/number-field';
import { providerStatuses } from '../lib/providers';
import { SCHEDULERS } from '../lib/presets';
import { aspectLabel, sizePresets } from '../lib/sizes';
import { useAtelier } from '../state/store';
import { formatBytes } from './hooks';
import { DiceIcon, LockIcon } from './icons';
import { PromptEditor } from './PromptEditor';
import { LoraPicker } from './LoraPicker';
import { ControlPanel } from './ControlPanel';
import { QueueList } from './QueueList';
import { FarmPanel } from './FarmPanel';
import { DEFAULT_ONLY_MASKED_PADDING } from '../lib/init-image';
import { frameLimits, setMargin, type Edge } from '../lib/outpaint';
import { useSizeStep } from './OutpaintFrame';

const isMac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform);
export const MOD = isMac ? '⌘' : 'Ctrl';

function ModelPicker() {
  const { models, modelId, loaded, loading, selectModel } = useAtelier(
    useShallow((s) => ({
      models: s.models,
      modelId: s.params.modelId,
      loaded: s.loadedModel,
      loading: s.modelLoading,
      selectModel: s.selectModel,
    })),
  );
  const model = models.find((m) => m.id === modelId);
  const provider = loaded && loaded.modelId === modelId ? loaded.provider : null;
  // The same status (and reason text) as the header's provider chips.
  const skipped = loaded && loaded.modelId === modelId ? providerStatuses(uniqueProviders(loaded.fallbacks), loaded).filter((p) => p.state === 'unavailable') : [];
  return (
    <div className="field">
      <div className="field-head">
        <label htmlFor="model">Model</label>
      </div>
      <select id="model" data-testid="model-select" value={modelId} onChange={(e) => void selectModel(e.target.value)}>
        {models.length === 0 && <option value="">Default model</option>}
        {models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
      </select>
      {models.length === 0 && (
        <div className="hint warn" data-testid="no-models">
          No models are installed yet. Generate will use the configured default model; install models with <code>atelier models</code>.
        </div>
      )}
      {model && (
        <div className="model-info" data-testid="model-info">
          <span className="chip">{model.family}</span>
          <span className="chip">{formatBytes(model.sizeBytes)}</span>
          <span className={provider ? 'chip ep' : 'chip muted'} data-testid="model-provider" title="Execution provider in use">
            {loading ? 'loading…' : provider ? `EP ${provider}` : 'EP: on first run'}
          </span>
        </div>
      )}
      {skipped.length > 0 && (
        <details className="fallbacks" data-testid="model-fallbacks">
          <summary>
            {skipped.length} faster provider{skipped.length === 1 ? '' : 's'} not used — why?
          </summary>
          {skipped.map((p) => (
            <div key={p.name} data-testid="model-fallback" data-provider={p.name} data-reason={p.reason}>
              <strong>{p.name}</strong>: {p.reason}
            </div>
          ))}
        </details>
      )}
    </div>
  );
}

function uniqueProviders(fallbacks: { provider: string }[]): { name: string }[] {
  return [...new Set(fallbacks.map((f) => f.provider))].map((name) => ({ name }));
}

/**
 * A number input that lets the user clear it and type a new value: the text is the user's until
 * it is valid. Valid text updates the form at once; invalid text (empty, "-", out of range, off the
 * step) keeps the form's last valid value, registers a field error that Generate refuses on, and
 * is shown next to the field on blur or Enter. Nothing is clamped into another value.
 */
function NumberField(props: {
  id: string;
  label: string;
  /** The field's name in messages ("Width"). */
  name: string;
  value: number;
  bounds: NumberBounds;
  /** A stricter step than the schema's (the model's size multiple). */
  multipleOf?: number;
  step?: number;
  title?: string;
  /** What an empty field means (seed: −1); without it, empty is an error. */
  emptyValue?: number;
  placeholder?: string;
  /** The text for a value from the form (seed: "" for −1). */
  format?(v: number): string;
  className?: string;
  compact?: boolean;
  onChange(v: number): void;
}) {
  const { id, value, bounds, onChange } = props;
  const { error, setFieldError } = useAtelier(useShallow((s) => ({ error: s.fieldErrors[id], setFieldError: s.setFieldError })));
  const [draft, setDraft] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const rules = { name: props.name, bounds, multipleOf: props.multipleOf, emptyValue: props.emptyValue };
  const rulesRef = useRef(rules);
  rulesRef.current = rules;
  const text = props.format ? props.format(value) : String(value);

  const draftRef = useRef(draft);
  draftRef.current = draft;
  // A value set from elsewhere (model defaults, reused parameters, outpaint size) replaces the
  // draft, unless the draft is what set it, or the user is still typing an incomplete value.
  useEffect(() => {
    const d = draftRef.current;
    if (d === null) return;
    const parsed = parseFieldText(d, rulesRef.current);
    if (parsed.ok && parsed.value === value) return;
    if (!parsed.ok && document.activeElement === input.current) return;
    setDraft(null);
    setFieldError(id, null);
  }, [value, id, setFieldError]);
  useEffect(() => () => setFieldError(id, null), [id, setFieldError]);

  /** Apply `raw`; `reveal` (blur/Enter) shows an error next to the field and tidies valid text. */
  const apply = (raw: string, reveal: boolean) => {
    const r = parseFieldText(raw, rules);
    if (r.ok) {
      setFieldError(id, null);
      if (r.value !== value) onChange(r.value);
      if (reveal) setDraft(null);
    } else {
      setFieldError(id, { message: r.error, shown: reveal || !!error?.shown });
    }
  };

  const shown = error?.shown ? error.message : null;
  return (
    <div className={props.compact === false ? `field ${props.className ?? ''}` : `field compact ${props.className ?? ''}`} title={props.title}>
      {props.label && <label htmlFor={id}>{props.label}</label>}
      <input
        ref={input}
        id={id}
        data-testid={id}
        type="text"
        inputMode={bounds.integer && bounds.min >= 0 ? 'numeric' : 'text'}
        autoComplete="off"
        spellCheck={false}
        placeholder={props.placeholder}
        value={draft ?? text}
        aria-invalid={shown ? true : undefined}
        aria-describedby={shown ? `${id}-error` : undefined}
        data-invalid={error ? 'true' : 'false'}
        className={shown ? 'invalid' : undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          apply(e.target.value, false);
        }}
        onBlur={(e) => apply(e.target.value, true)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) {
            e.preventDefault();
            apply(e.currentTarget.value, true);
          } else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !e.ctrlKey && !e.metaKey && !e.altKey) {
            e.preventDefault();
            const current = parseFieldText(e.currentTarget.value, rules);
            const base = current.ok ? current.value : value;
            const next = stepValue(base, e.key === 'ArrowUp' ? 1 : -1, props.step ?? 1, bounds);
            if (next === null) return;
            setDraft(null);
            setFieldError(id, null);
            onChange(next);
          }
        }}
      />
      {shown && (
        <div className="field-error" id={`${id}-error`} data-testid={`${id}-error`} role="alert">
          {shown}
        </div>
      )}
    </div>
  );
}

function Params() {
  const { params, setParams, rollSeed, models } = useAtelier(
    useShallow((s) => ({ params: s.params, setParams: s.setParams, rollSeed: s.rollSeed, models: s.models })),
  );
  const model = models.find((m) => m.id === params.modelId);
  const base = model?.defaults?.width ?? 512;
  const sizeStep = Math.max(GENERATE_BOUNDS.width.multipleOf, model?.sizeMultiple ?? 0);
  const presets = sizePresets(base, model?.sizeMultiple ?? 8);
  return (
    <>
      <div className="field">
        <div className="field-head">
          <label>Size</label>
          <span className="muted" data-testid="size-readout">
            {params.width}×{params.height} · {aspectLabel(params.width, params.height)}
          </span>
        </div>
        <div className="segmented wrap" role="group" aria-label="Size presets">
          {presets.map((p) => (
            <button
              key={p.label}
              type="button"
              data-testid={`size-${p.label.replace(':', 'x')}`}
              className={p.width === params.width && p.height === params.height ? 'active' : ''}
              title={`${p.width}×${p.height}`}
              onClick={() => setParams({ width: p.width, height: p.height })}
            >
              {p.label}
            </button>
          ))}
        </div>
        <div className="row number-row">
          <NumberField id="width" label="W" name="Width" value={params.width} bounds={GENERATE_BOUNDS.width} multipleOf={sizeStep} step={sizeStep} onChange={(width) => setParams({ width })} />
          <NumberField id="height" label="H" name="Height" value={params.height} bounds={GENERATE_BOUNDS.height} multipleOf={sizeStep} step={sizeStep} onChange={(height) => setParams({ height })} />
        </div>
      </div>
      <div className="row number-row">
        <NumberField id="steps" label="Steps" name="Steps" value={params.steps} bounds={GENERATE_BOUNDS.steps} onChange={(steps) => setParams({ steps })} />
        <NumberField id="cfg" label="CFG" name="CFG" value={params.guidanceScale} bounds={GENERATE_BOUNDS.guidanceScale} step={0.5} onChange={(guidanceScale) => setParams({ guidanceScale })} />
        <NumberField
          id="clip-skip"
          label="Clip skip"
          name="Clip skip"
          value={params.clipSkip}
          bounds={GENERATE_BOUNDS.clipSkip}
          title="Which CLIP text-encoder layer conditions the image, counted from the end: 1 = the last (default), 2 = the penultimate (what many anime/SDXL checkpoints were trained with). Needs a text encoder that exposes its hidden states."
          onChange={(clipSkip) => setParams({ clipSkip })}
        />
      </div>
      <div className="field">
        <label htmlFor="scheduler">Scheduler</label>
        <select id="scheduler" data-testid="scheduler" value={params.scheduler} onChange={(e) => setParams({ scheduler: e.target.value })}>
          {[...new Set([...SCHEDULERS, params.scheduler])].map((s) => (
            <option key={s} value={s}>
              {s.replace(/Scheduler$/, '')}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="seed">Seed</label>
        <div className="seed-row">
          <NumberField
            id="seed"
            label=""
            name="Seed"
            compact={false}
            className={params.seedLocked ? 'seed-input' : 'seed-input unlocked'}
            value={params.seed}
            bounds={GENERATE_BOUNDS.seed}
            emptyValue={-1}
            format={(v) => (v >= 0 ? String(v) : '')}
            placeholder="random"
            title={params.seedLocked ? 'Locked: every run uses this seed. -1 or empty: a new random seed each run' : 'Unlocked: each run draws a new seed (shown here afterwards). Type a seed to lock it'}
            // A typed seed locks it; -1 (or an empty field) means a new random seed every run.
            onChange={(seed) => setParams(seed >= 0 ? { seed, seedLocked: true } : { seed: -1, seedLocked: false })}
          />
          <button
            type="button"
            className={params.seedLocked ? 'icon active' : 'icon'}
            data-testid="seed-lock"
            aria-pressed={params.seedLocked}
            title={params.seedLocked ? 'Seed locked (click to draw a new seed each run)' : 'Lock this seed'}
            disabled={params.seed < 0 && !params.seedLocked}
            onClick={() => setParams({ seedLocked: !params.seedLocked })}
          >
            <LockIcon open={!params.seedLocked} />
          </button>
          <button type="button" className="icon" data-testid="seed-dice" title="Roll a random seed (and lock it)" onClick={rollSeed}>
            <DiceIcon />
          </button>
        </div>
      </div>
      <div className="row number-row">
        <div className="field compact">
          <label htmlFor="rng">RNG</label>
          <select id="rng" data-testid="rng" value={params.rng} onChange={(e) => setParams({ rng: e.target.value as 'cpu' | 'cuda' })} title="Starting noise: CPU = torch.randn on CPU (Mersenne Twister, diffusers scripts, A1111 'CPU'); GPU = torch.randn on CUDA (Philox, A1111 'GPU'/'NV')">
            <option value="cpu">CPU (torch)</option>
            <option value="cuda">GPU (Philox)</option>
          </select>
        </div>
        <NumberField id="batch" label="Batch" name="Batch" value={params.batchSize} bounds={GENERATE_BOUNDS.batchSize} title="Images per Generate" onChange={(batchSize) => setParams({ batchSize })} />
      </div>
    </>
  );
}

const MARGIN_LABELS: [Edge, string][] = [
  ['left', 'Left'],
  ['right', 'Right'],
  ['top', 'Top'],
  ['bottom', 'Bottom'],
];

/** Fit and only-masked for img2img/inpainting, or the outpaint margins as numbers. */
function InitOptions() {
  const { init, updateInit, setOutpaint, width, height } = useAtelier(
    useShallow((s) => ({ init: s.initImage, updateInit: s.updateInit, setOutpaint: s.setOutpaint, width: s.params.width, height: s.params.height })),
  );
  const step = useSizeStep();
  if (!init) return null;
  if (init.outpaint) {
    const lim = frameLimits(init.width, init.height, step);
    const m = init.outpaint;
    return (
      <div className="outpaint-margins" data-testid="outpaint-margins" title={`Pixels added per side, in steps of ${step}; the result is ${width}×${height}`}>
        {MARGIN_LABELS.map(([edge, label]) => (
          <label key={edge}>
            {label}
            <input type="number" data-testid={`outpaint-${edge}`} min={0} max={edge === 'left' || edge === 'right' ? lim.maxX : lim.maxY} step={step} value={m[edge]} onChange={(e) => setOutpaint(setMargin(m, edge, e.target.valueAsNumber, lim))} />
          </label>
        ))}
        <label className="outpaint-fill" title="How the new area starts before it is painted: repeated edge pixels, noise, or a blur of the edge">
          Fill
          <select data-testid="outpaint-fill" value={init.outpaintFill ?? 'edge'} onChange={(e) => updateInit({ outpaintFill: e.target.value as 'edge' | 'noise' | 'blur' })}>
            <option value="edge">Edge</option>
            <option value="noise">Noise</option>
            <option value="blur">Blur</option>
          </select>
        </label>
      </div>
    );
  }
  return (
    <div className="init-options">
      <label title="How the init image is brought to the form's size when they differ">
        Fit
        <select data-testid="init-fit" value={init.fit ?? 'crop'} onChange={(e) => updateInit({ fit: e.target.value as 'crop' | 'resize' | 'pad' })}>
          <option value="crop">Crop</option>
          <option value="resize">Resize</option>
          <option value="pad">Pad</option>
        </select>
      </label>
      {init.maskBase64 && (
        <>
          <label title="Repaint only the masked area, at full resolution, with this much surrounding context">
            <input type="checkbox" data-testid="only-masked" checked={!!init.onlyMasked} onChange={(e) => updateInit({ onlyMasked: e.target.checked })} />
            Only masked area
          </label>
          {init.onlyMasked && (
            <label title="Context around the masked area, in pixels">
              Padding
              <input type="number" data-testid="only-masked-padding" min={0} max={1024} step={8} value={init.onlyMaskedPadding ?? DEFAULT_ONLY_MASKED_PADDING} onChange={(e) => Number.isFinite(e.target.valueAsNumber) && updateInit({ onlyMaskedPadding: Math.max(0, Math.min(1024, Math.round(e.target.valueAsNumber))) })} />
            </label>
          )}
        </>
      )}
    </div>
  );
}

function InitImageChip() {
  const { init, updateInit, clearInit, view } = useAtelier(
    useShallow((s) => ({ init: s.initImage, updateInit: s.updateInit, clearInit: s.clearInit, view: s.view })),
  );
  if (!init) return null;
  return (
    <div className="field init-chip" data-testid="init-chip" data-generation-id={init.generationId} data-masked={init.maskBase64 ? 'true' : 'false'} data-outpaint={init.outpaint ? 'true' : 'false'}>
      <div className="field-head">
        <label>Init image</label>
        <span className="muted">
          {init.width}×{init.height}
          {init.outpaint ? ` → ${init.width + init.outpaint.left + init.outpaint.right}×${init.height + init.outpaint.top + init.outpaint.bottom} outpaint` : init.maskBase64 ? ' · masked' : ''}
        </span>
      </div>
      <div className="init-row">
        <img src={init.thumbUrl} alt="init image" title="Show the init image" onClick={() => view(init.generationId)} />
        <div className="init-sliders">
          <label title="How much to repaint: 0 keeps the init image, 1 ignores it">
            Strength <span className="muted">{init.strength.toFixed(2)}</span>
            <input type="range" data-testid="init-strength" min={0} max={1} step={0.01} value={init.strength} onChange={(e) => updateInit({ strength: e.target.valueAsNumber })} />
          </label>
          {!init.outpaint && (
            <label title="Feather the inpainting mask edge (pixels); 0 keeps unmasked pixels exactly">
              Mask blur <span className="muted">{init.maskBlur}</span>
              <input type="range" data-testid="mask-blur" min={0} max={64} step={1} value={init.maskBlur} onChange={(e) => updateInit({ maskBlur: e.target.valueAsNumber })} />
            </label>
          )}
        </div>
        <button type="button" className="icon" data-testid="init-clear" title="Back to text-to-image" onClick={clearInit}>
          ✕
        </button>
      </div>
      <InitOptions />
    </div>
  );
}

/** Generate, or why not: the first invalid field, or the empty-prompt question. */
function GenerateBar() {
  const { requestGenerate, confirmOpen, emptyPrompt, cancelEmptyPrompt, fieldErrors } = useAtelier(
    useShallow((s) => ({
      requestGenerate: s.requestGenerate,
      confirmOpen: s.emptyPromptConfirm,
      emptyPrompt: !s.params.prompt.trim(),
      cancelEmptyPrompt: s.cancelEmptyPrompt,
      fieldErrors: s.fieldErrors,
    })),
  );
  const blocking = Object.values(fieldErrors).filter((e) => e.shown);
  const asking = confirmOpen && emptyPrompt;
  return (
    <div className="generate-bar">
      <button
        type="button"
        className="primary generate"
        data-testid="generate"
        disabled={blocking.length > 0}
        aria-describedby={blocking.length > 0 ? 'generate-blocked' : undefined}
        title={blocking.length > 0 ? `Fix first: ${blocking.map((e) => e.message).join(' ')}` : `Generate (${MOD}+Enter)`}
        onClick={() => void requestGenerate()}
      >
        Generate <kbd>{MOD}+↵</kbd>
      </button>
      {blocking.length > 0 && (
        <div className="hint bad" id="generate-blocked" data-testid="generate-blocked" role="status">
          Can’t generate yet: {blocking.map((e) => e.message).join(' ')}
        </div>
      )}
      {asking && (
        <div className="confirm-inline" role="alertdialog" aria-label="Generate without a prompt?" data-testid="empty-prompt-confirm">
          <div>The prompt is empty, so the model draws whatever it likes. Generate anyway?</div>
          <div className="row end">
            <button
              type="button"
              data-testid="empty-prompt-cancel"
              onClick={() => {
                cancelEmptyPrompt();
                document.getElementById('prompt')?.focus();
              }}
            >
              Write a prompt
            </button>
            <button type="button" className="primary" data-testid="empty-prompt-generate" autoFocus onClick={() => void requestGenerate({ allowEmptyPrompt: true })}>
              Generate anyway
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

export function LeftPanel() {
  const { prompt, negativePrompt, setParams, demo } = useAtelier(
    useShallow((s) => ({
      prompt: s.params.prompt,
      negativePrompt: s.params.negativePrompt,
      setParams: s.setParams,
      demo: isDemoModel(s.models.find((m) => m.id === s.params.modelId)),
    })),
  );
  return (
    <aside className="panel left" data-testid="left-panel">
      <div className="panel-scroll">
        <PromptEditor
          id="prompt"
          testId="prompt"
          label="Prompt"
          value={prompt}
          rows={5}
          placeholder={demo ? DEMO_PLACEHOLDER : GENERIC_PLACEHOLDER}
          onChange={(v) => setParams({ prompt: v })}
        />
        <LoraPicker />
        <PromptEditor
          id="negative"
          testId="negative-prompt"
          label="Negative prompt"
          value={negativePrompt}
          rows={2}
          placeholder="blurry, low quality"
          onChange={(v) => setParams({ negativePrompt: v })}
        />
        <InitImageChip />
        <ControlPanel />
        <ModelPicker />
        <Params />
      </div>
      <GenerateBar />
      <QueueList />
      <FarmPanel />
    </aside>
  );
}
