import { useShallow } from 'zustand/react/shallow';
import { SCHEDULERS } from '../lib/presets';
import { aspectLabel, sizePresets } from '../lib/sizes';
import { useAtelier } from '../state/store';
import { formatBytes } from './hooks';
import { DiceIcon, LockIcon } from './icons';
import { PromptEditor } from './PromptEditor';
import { QueueList } from './QueueList';
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
      {loaded && loaded.modelId === modelId && loaded.fallbacks.length > 0 && (
        <details className="fallbacks" data-testid="model-fallbacks">
          <summary>
            {new Set(loaded.fallbacks.map((f) => f.provider)).size} faster provider(s) not used — why?
          </summary>
          {[...new Map(loaded.fallbacks.map((f) => [f.provider, f.reason])).entries()].map(([provider, reason]) => (
            <div key={provider}>
              <strong>{provider}</strong>: {reason}
            </div>
          ))}
        </details>
      )}
    </div>
  );
}

function NumberField(props: {
  id: string;
  label: string;
  value: number;
  min: number;
  max: number;
  step?: number;
  title?: string;
  onChange(v: number): void;
}) {
  return (
    <div className="field compact" title={props.title}>
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        data-testid={props.id}
        type="number"
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={Number.isFinite(props.value) ? props.value : ''}
        onChange={(e) => {
          const v = e.target.valueAsNumber;
          if (Number.isFinite(v)) props.onChange(v);
        }}
      />
    </div>
  );
}

function Params() {
  const { params, setParams, rollSeed, models } = useAtelier(
    useShallow((s) => ({ params: s.params, setParams: s.setParams, rollSeed: s.rollSeed, models: s.models })),
  );
  const model = models.find((m) => m.id === params.modelId);
  const base = model?.defaults?.width ?? 512;
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
        <div className="row">
          <NumberField id="width" label="W" value={params.width} min={8} max={4096} step={8} onChange={(width) => setParams({ width })} />
          <NumberField id="height" label="H" value={params.height} min={8} max={4096} step={8} onChange={(height) => setParams({ height })} />
        </div>
      </div>
      <div className="row">
        <NumberField id="steps" label="Steps" value={params.steps} min={1} max={500} onChange={(steps) => setParams({ steps })} />
        <NumberField id="cfg" label="CFG" value={params.guidanceScale} min={0} max={50} step={0.5} onChange={(guidanceScale) => setParams({ guidanceScale })} />
        <NumberField
          id="clip-skip"
          label="Clip skip"
          value={params.clipSkip}
          min={1}
          max={12}
          title="Which CLIP text-encoder layer conditions the image, counted from the end: 1 = the last (default), 2 = the penultimate (what many anime/SDXL checkpoints were trained with). Needs a text encoder that exposes its hidden states."
          onChange={(clipSkip) => setParams({ clipSkip: Math.max(1, Math.min(12, Math.round(clipSkip))) })}
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
          <input
            id="seed"
            data-testid="seed"
            type="number"
            min={0}
            max={2 ** 32 - 1}
            value={params.seed >= 0 ? params.seed : ''}
            placeholder="random"
            className={params.seedLocked ? '' : 'unlocked'}
            title={params.seedLocked ? 'Locked: every run uses this seed' : 'Unlocked: each run draws a new seed (shown here afterwards)'}
            onChange={(e) => {
              const v = e.target.valueAsNumber;
              if (Number.isInteger(v) && v >= 0) setParams({ seed: v, seedLocked: true });
            }}
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
      <div className="row">
        <div className="field compact">
          <label htmlFor="rng">RNG</label>
          <select id="rng" data-testid="rng" value={params.rng} onChange={(e) => setParams({ rng: e.target.value as 'cpu' | 'cuda' })} title="Starting noise: CPU = torch.randn on CPU (Mersenne Twister, diffusers scripts, A1111 'CPU'); GPU = torch.randn on CUDA (Philox, A1111 'GPU'/'NV')">
            <option value="cpu">CPU (torch)</option>
            <option value="cuda">GPU (Philox)</option>
          </select>
        </div>
        <NumberField id="batch" label="Batch" value={params.batchSize} min={1} max={16} onChange={(batchSize) => setParams({ batchSize: Math.max(1, Math.min(16, Math.round(batchSize))) })} />
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

export function LeftPanel() {
  const { prompt, negativePrompt, setParams, generate } = useAtelier(
    useShallow((s) => ({
      prompt: s.params.prompt,
      negativePrompt: s.params.negativePrompt,
      setParams: s.setParams,
      generate: s.generate,
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
          placeholder="a lighthouse on a cliff at dusk, 35mm photo"
          onChange={(v) => setParams({ prompt: v })}
        />
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
        <ModelPicker />
        <Params />
      </div>
      <div className="generate-bar">
        <button
          type="button"
          className="primary generate"
          data-testid="generate"
          title={`Generate (${MOD}+Enter)`}
          onClick={() => void generate()}
        >
          Generate <kbd>{MOD}+↵</kbd>
        </button>
      </div>
      <QueueList />
    </aside>
  );
}
