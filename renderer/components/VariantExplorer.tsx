import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { GenerationRecord } from '../../common/api/contract';
import { resolveScheduler, RUNNABLE_SCHEDULER_CHOICES, schedulerLabel } from '../../common/schedulers';
import { DEFAULT_LOCK_STRENGTH, MAX_VARIANT_CELLS } from '../lib/variants';
import { loadVariantMemory, saveExplorerSettings, type ExplorerSettings } from '../lib/variant-memory';
import { AXIS_LABELS, LIGHTING_PRESETS, REFLECTION_PRESETS, type VariantAxis } from '../lib/presets';
import { useAtelier } from '../state/store';
import type { VariantGroup } from '../state/types';
import { currentProjectId } from '../state/variants-slice';
import { useModal } from './useModal';
import { StructureLockRow, useStructureChoice } from './StructureLock';

const TEXT_DEFAULTS: Partial<Record<VariantAxis, string>> = {
  seed: '',
  cfg: '3, 5, 7, 9',
  steps: '10, 20, 30',
  prompt: 'wide angle\nclose-up portrait\nfrom above',
};

/** What each choice axis starts with ticked (every reflection, three lights, four samplers). */
const PICKED_DEFAULTS: Partial<Record<VariantAxis, Record<string, boolean>>> = {
  lighting: { 'golden hour': true, 'blue hour': true, 'lit from the left': true },
  reflection: Object.fromEntries(REFLECTION_PRESETS.map((r) => [r, true])),
  scheduler: { EulerDiscreteScheduler: true, EulerAncestralDiscreteScheduler: true, 'DPMSolverMultistepScheduler+karras': true, DDIMScheduler: true },
};

const DEFAULT_SETTINGS: ExplorerSettings = {
  axis: 'lighting',
  axis2: null,
  picked: PICKED_DEFAULTS,
  custom: {},
  text: TEXT_DEFAULTS,
  count: 4,
  lock: false,
  lockStrength: DEFAULT_LOCK_STRENGTH,
};

function choicesFor(axis: VariantAxis): readonly string[] | null {
  if (axis === 'lighting') return LIGHTING_PRESETS;
  if (axis === 'reflection') return REFLECTION_PRESETS;
  if (axis === 'scheduler') return RUNNABLE_SCHEDULER_CHOICES;
  return null;
}

const choiceLabel = (axis: VariantAxis, value: string) => (axis === 'scheduler' ? schedulerLabel(value) : value);

/** The values an axis runs with, from its settings. */
function valuesOf(s: ExplorerSettings, axis: VariantAxis): string[] {
  const choices = choicesFor(axis);
  if (choices) {
    const picked = { ...PICKED_DEFAULTS[axis], ...s.picked[axis] };
    return [...choices, ...(s.custom[axis] ?? [])].filter((c) => picked[c]);
  }
  return (s.text[axis] ?? TEXT_DEFAULTS[axis] ?? '').split(axis === 'prompt' ? /\n/ : /[\n,]/).filter((v) => v.trim());
}

function countOf(s: ExplorerSettings, axis: VariantAxis): number {
  const values = valuesOf(s, axis);
  return axis === 'seed' && values.length === 0 ? s.count : values.length;
}

function cellState(c: VariantGroup['cells'][number], jobState: string | undefined): string {
  if (c.error) return 'failed';
  if (jobState) return jobState;
  return c.generationId ? 'done' : 'pending';
}

function VariantGrid({ group }: { group: VariantGroup }) {
  const { jobs, records, idsOf, setSelection, toggleCompare, close, view, ensureRecords } = useAtelier(
    useShallow((s) => ({
      jobs: s.jobs,
      records: s.records,
      idsOf: s.variantGenerationIds,
      setSelection: s.setSelection,
      toggleCompare: s.toggleCompare,
      close: s.setVariantExplorerOpen,
      view: s.view,
      ensureRecords: s.ensureRecords,
    })),
  );
  const source = records[group.sourceId];
  // A grid kept from an earlier session names generations the history may not have loaded yet.
  const keptIds = group.cells.flatMap((c) => (c.generationId ? [c.generationId] : []));
  const keptKey = keptIds.join(',');
  useEffect(() => {
    if (keptIds.length > 0) void ensureRecords(keptIds);
  }, [keptKey, ensureRecords]);
  // Variants chosen for Compare (click or Enter on a cell); none chosen → all of them.
  const [chosen, setChosen] = useState<string[]>([]);
  const toggle = (id: string) => setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id]));
  const states = group.cells.map((c) => cellState(c, c.jobId ? jobs[c.jobId]?.state : undefined));
  const done = states.filter((st) => st === 'done').length;
  const xLabels = group.xLabels ?? group.cells.map((c) => c.label);
  const yLabels = group.yLabels ?? [];
  const xy = yLabels.length > 0;
  const axisTitle = `${AXIS_LABELS[group.axis]}${group.axis2 ? ` × ${AXIS_LABELS[group.axis2]}` : ''}`;

  const cell = (c: VariantGroup['cells'][number], i: number) => {
    const job = c.jobId ? jobs[c.jobId] : undefined;
    const genId = c.generationId ?? job?.generationIds[0];
    const gen = genId ? records[genId] : undefined;
    const src = gen?.thumbUrl ?? c.thumbUrl ?? job?.previewUrl ?? null;
    const ready = states[i] === 'done' && !!genId;
    return (
      <figure
        key={i}
        className="variant-cell"
        data-testid="variant-cell"
        data-state={states[i]}
        data-generation-id={ready ? genId : ''}
        data-label={c.label}
        role="button"
        tabIndex={ready ? 0 : -1}
        aria-pressed={ready && chosen.includes(genId)}
        aria-disabled={!ready}
        title={ready ? `${c.label}\nClick or Enter: choose for Compare · Double-click: show in the viewer` : (c.error ?? c.label)}
        onClick={() => ready && toggle(genId)}
        onKeyDown={(e) => {
          if (ready && (e.key === 'Enter' || e.key === ' ')) {
            e.preventDefault();
            toggle(genId);
          }
        }}
        onDoubleClick={() => ready && view(genId)}
      >
        {src ? <img src={src} alt={c.label} /> : <div className="variant-placeholder">{job?.state === 'running' ? `${job.step}/${job.total}` : '…'}</div>}
        <figcaption title={c.label}>{xy ? c.label.split(' · ')[0] : c.label}</figcaption>
      </figure>
    );
  };

  const sourceFigure = source && (
    <figure className="variant-cell source" data-testid="variant-source">
      <img src={source.thumbUrl} alt="source" />
      <figcaption>source</figcaption>
    </figure>
  );

  return (
    <div
      className="variant-group"
      data-testid="variant-group"
      data-done={done}
      data-total={group.cells.length}
      data-locked={group.lockStrength !== null}
      data-structure={group.structure?.lock ?? ''}
      data-axis={group.axis}
      data-axis2={group.axis2 ?? ''}
      data-columns={xLabels.length}
      data-rows={Math.max(1, yLabels.length)}
    >
      <div className="section-head">
        <span>
          {axisTitle}
          {xy ? ` (${xLabels.length} × ${yLabels.length})` : ''}
          {group.lockStrength !== null ? ` · composition locked (strength ${group.lockStrength.toFixed(2)})` : ''}
          {group.structure ? ` · ${group.structure.lock} locked (${group.structure.controlNet})` : ''} · {done}/{group.cells.length} done
        </span>
        <button
          type="button"
          className="primary"
          data-testid="variant-open-compare"
          disabled={done < 1}
          title={chosen.length > 0 ? `Compare the source with the ${chosen.length} chosen variant${chosen.length === 1 ? '' : 's'}` : 'Compare the source with every variant (click cells to choose some)'}
          onClick={() => {
            const ids = idsOf(group.id);
            const picked = [group.sourceId, ...(chosen.length > 0 ? ids.filter((id) => chosen.includes(id)) : ids)];
            void ensureRecords(picked).then(() => {
              setSelection(picked);
              toggleCompare(true);
              close(false);
            });
          }}
        >
          Open in Compare{chosen.length > 0 ? ` (${chosen.length + 1})` : ''}
        </button>
      </div>
      {xy ? (
        <div
          className="variant-grid xy"
          data-testid="variant-xy"
          style={{ gridTemplateColumns: `minmax(80px, 120px) repeat(${xLabels.length}, minmax(80px, 140px))` }}
        >
          {sourceFigure ?? <div />}
          {xLabels.map((l) => (
            <div key={`x-${l}`} className="variant-axis-label muted small" data-testid="variant-x-label" style={{ alignSelf: 'end' }}>
              {l}
            </div>
          ))}
          {yLabels.map((yl, y) => (
            <RowCells key={`y-${yl}`} label={yl}>
              {xLabels.map((_, x) => {
                const i = y * xLabels.length + x;
                const c = group.cells[i];
                return c ? cell(c, i) : <div key={i} />;
              })}
            </RowCells>
          ))}
        </div>
      ) : (
        <div className="variant-grid">
          {sourceFigure}
          {group.cells.map(cell)}
        </div>
      )}
    </div>
  );
}

function RowCells({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <div className="variant-axis-label muted small" data-testid="variant-y-label" style={{ alignSelf: 'center' }}>
        {label}
      </div>
      {children}
    </>
  );
}

/** The values editor of one axis: ticks (+ custom values) for presets, text otherwise. */
function AxisValuesEditor({ axis, settings, update, role }: { axis: VariantAxis; settings: ExplorerSettings; update(patch: Partial<ExplorerSettings>): void; role: 'x' | 'y' }) {
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const choices = choicesFor(axis);
  if (!choices) {
    return (
      <div className="field">
        <label htmlFor={`variant-values-${role}`}>
          {AXIS_LABELS[axis]}: {axis === 'prompt' ? 'one phrase per line (appended to the prompt)' : axis === 'seed' ? 'seeds (empty: random)' : 'values, comma-separated'}
        </label>
        <textarea
          id={`variant-values-${role}`}
          data-testid="variant-values"
          data-axis={axis}
          rows={3}
          value={settings.text[axis] ?? TEXT_DEFAULTS[axis] ?? ''}
          onChange={(e) => update({ text: { ...settings.text, [axis]: e.target.value } })}
        />
      </div>
    );
  }
  const picked = { ...PICKED_DEFAULTS[axis], ...settings.picked[axis] };
  const custom = settings.custom[axis] ?? [];
  const setPicked = (value: string, on: boolean) => update({ picked: { ...settings.picked, [axis]: { ...picked, [value]: on } } });
  const addCustom = () => {
    let value = draft.trim();
    if (!value) return;
    if (axis === 'scheduler') {
      // Typed as people say it ("Heun Karras", "DPM++ 2M") → the engine's name, or a reason why not.
      const r = resolveScheduler(value);
      if (!r.runnable) {
        setProblem(`${value} — ${r.entry ? "Atelier's engine cannot run this sampler" : 'not a sampler Atelier knows'}`);
        return;
      }
      value = r.name;
    }
    setProblem(null);
    if (![...choices, ...custom].includes(value)) update({ custom: { ...settings.custom, [axis]: [...custom, value] }, picked: { ...settings.picked, [axis]: { ...picked, [value]: true } } });
    else setPicked(value, true);
    setDraft('');
  };
  return (
    <div className="field">
      <label>{AXIS_LABELS[axis]}</label>
      <div className="choice-list" data-testid="variant-choices" data-axis={axis}>
        {[...choices, ...custom].map((c) => (
          <label key={c} className="choice">
            <input type="checkbox" data-testid="variant-choice" data-axis={axis} data-value={c} checked={!!picked[c]} onChange={(e) => setPicked(c, e.target.checked)} />
            {choiceLabel(axis, c)}
          </label>
        ))}
      </div>
      <div className="row">
        <input
          type="text"
          data-testid="variant-custom"
          data-axis={axis}
          placeholder={axis === 'scheduler' ? 'Add a sampler, e.g. Heun Karras' : axis === 'lighting' ? 'Add lighting, e.g. lit from below' : 'Add a reflection, e.g. reflected in a puddle'}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              addCustom();
            }
          }}
        />
        <button type="button" data-testid="variant-custom-add" data-axis={axis} disabled={!draft.trim()} onClick={addCustom}>
          Add
        </button>
      </div>
      {problem && (
        <div className="hint warn" data-testid="variant-custom-problem">
          {problem}
        </div>
      )}
    </div>
  );
}

/** Settings of the explorer for one source image: restored from, and saved to, what is kept with it. */
function ExplorerForm({ source, projectId }: { source: GenerationRecord; projectId: string }) {
  const run = useAtelier((s) => s.runVariants);
  const [settings, setSettings] = useState<ExplorerSettings>(() => {
    const kept = loadVariantMemory(projectId, source.id).settings;
    return kept ? { ...DEFAULT_SETTINGS, ...kept } : DEFAULT_SETTINGS;
  });
  const update = (patch: Partial<ExplorerSettings>) => setSettings((s) => ({ ...s, ...patch }));
  const structure = useStructureChoice(settings, source.modelFamily, source.modelId);
  useEffect(() => {
    saveExplorerSettings(projectId, source.id, settings);
  }, [projectId, source.id, settings]);

  const { axis, axis2 } = settings;
  const axes = axis2 ? [axis, axis2] : [axis];
  const total = axes.reduce((n, a) => n * countOf(settings, a), 1);
  const usesSeedCount = axes.some((a) => a === 'seed' && valuesOf(settings, a).length === 0);

  return (
    <>
      <div className="variant-source-line muted">
        From <strong>{source.prompt || '(no prompt)'}</strong> · seed {source.seed} · CFG {source.guidanceScale}
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="variant-axis">Axis (columns)</label>
          <select
            id="variant-axis"
            data-testid="variant-axis"
            value={axis}
            onChange={(e) => {
              const next = e.target.value as VariantAxis;
              update({ axis: next, axis2: axis2 === next ? null : axis2 });
            }}
          >
            {(Object.keys(AXIS_LABELS) as VariantAxis[]).map((a) => (
              <option key={a} value={a}>
                {AXIS_LABELS[a]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="variant-axis2">Second axis (rows)</label>
          <select id="variant-axis2" data-testid="variant-axis2" value={axis2 ?? ''} onChange={(e) => update({ axis2: (e.target.value || null) as VariantAxis | null })}>
            <option value="">None</option>
            {(Object.keys(AXIS_LABELS) as VariantAxis[])
              .filter((a) => a !== axis)
              .map((a) => (
                <option key={a} value={a}>
                  {AXIS_LABELS[a]}
                </option>
              ))}
          </select>
        </div>
        {usesSeedCount && (
          <div className="field compact">
            <label htmlFor="variant-count">Random seeds</label>
            <input id="variant-count" data-testid="variant-count" type="number" min={1} max={16} value={settings.count} onChange={(e) => update({ count: Math.max(1, Math.min(16, e.target.valueAsNumber || 1)) })} />
          </div>
        )}
      </div>
      <AxisValuesEditor key={`x-${axis}`} axis={axis} settings={settings} update={update} role="x" />
      {axis2 && <AxisValuesEditor key={`y-${axis2}`} axis={axis2} settings={settings} update={update} role="y" />}
      <div className="row lock-composition">
        <label title="Run every variant as img2img from this image, so the framing stays and only the light (or the chosen axis) changes">
          <input type="checkbox" data-testid="variant-lock" checked={settings.lock} onChange={(e) => update({ lock: e.target.checked })} />
          Lock composition (img2img)
        </label>
        <label className={settings.lock ? '' : 'muted'} title="How much of the source to repaint: lower keeps the shot closer, higher lets the light change more">
          Strength <span className="muted">{settings.lockStrength.toFixed(2)}</span>
          <input
            type="range"
            data-testid="variant-lock-strength"
            min={0.05}
            max={1}
            step={0.05}
            value={settings.lockStrength}
            disabled={!settings.lock}
            onChange={(e) => update({ lockStrength: e.target.valueAsNumber })}
          />
        </label>
      </div>
      <StructureLockRow settings={settings} update={update} modelFamily={source.modelFamily} modelId={source.modelId} />
      <div className="row end">
        <span className={total > MAX_VARIANT_CELLS ? 'warn' : 'muted'} data-testid="variant-total">
          {total} variant{total === 1 ? '' : 's'}
          {total > MAX_VARIANT_CELLS ? ` — at most ${MAX_VARIANT_CELLS} per grid` : ''} · parent link kept
        </span>
        <button
          type="button"
          className="primary"
          data-testid="variant-run"
          disabled={total < 1 || total > MAX_VARIANT_CELLS}
          onClick={() =>
            void run(source.id, axis, valuesOf(settings, axis), settings.count, {
              ...(settings.lock ? { lockStrength: settings.lockStrength } : {}),
              ...(structure ? { structure } : {}),
              ...(axis2 ? { second: { axis: axis2, values: valuesOf(settings, axis2) } } : {}),
            })
          }
        >
          Generate grid
        </button>
      </div>
    </>
  );
}

export function VariantExplorer() {
  const { source, close, groups, restore, projectId } = useAtelier(
    useShallow((s) => ({
      source: s.viewingId ? s.records[s.viewingId] : s.selection[0] ? s.records[s.selection[0]] : undefined,
      close: s.setVariantExplorerOpen,
      groups: s.variantGroups,
      restore: s.restoreVariants,
      projectId: currentProjectId(s),
    })),
  );
  const ref = useRef<HTMLDivElement>(null);
  useModal(ref, useCallback(() => close(false), [close]));
  // The grids kept with this image come back with it.
  useEffect(() => {
    if (source) restore(source.id);
  }, [source?.id, projectId, restore]);
  const latest = source ? groups.find((g) => g.sourceId === source.id) : undefined;

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close(false)}>
      <div ref={ref} tabIndex={-1} className="modal variant-explorer" role="dialog" aria-modal="true" aria-label="Variant explorer" data-testid="variant-explorer">
        <div className="section-head">
          <span className="modal-title">Variant explorer</span>
          <button type="button" className="icon" data-testid="variant-close" title="Close (Esc)" onClick={() => close(false)}>
            ✕
          </button>
        </div>
        {!source ? (
          <div className="empty">Pick an image in the history first: variants keep its parameters and change one or two axes.</div>
        ) : (
          <ExplorerForm key={`${projectId}:${source.id}`} source={source} projectId={projectId} />
        )}
        {latest && <VariantGrid key={latest.id} group={latest} />}
      </div>
    </div>
  );
}
