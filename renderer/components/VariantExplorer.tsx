import { useCallback, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { DEFAULT_LOCK_STRENGTH } from '../lib/variants';
import { AXIS_LABELS, LIGHTING_PRESETS, REFLECTION_PRESETS, SCHEDULERS, type VariantAxis } from '../lib/presets';
import { useAtelier } from '../state/store';
import type { VariantGroup } from '../state/types';
import { useModal } from './useModal';

const TEXT_DEFAULTS: Partial<Record<VariantAxis, string>> = {
  seed: '',
  cfg: '3, 5, 7, 9',
  steps: '10, 20, 30',
  prompt: 'wide angle\nclose-up portrait\nfrom above',
};

function choicesFor(axis: VariantAxis): readonly string[] | null {
  if (axis === 'lighting') return LIGHTING_PRESETS;
  if (axis === 'reflection') return REFLECTION_PRESETS;
  if (axis === 'scheduler') return SCHEDULERS;
  return null;
}

function VariantGrid({ group }: { group: VariantGroup }) {
  const { jobs, records, idsOf, setSelection, toggleCompare, close, view } = useAtelier(
    useShallow((s) => ({
      jobs: s.jobs,
      records: s.records,
      idsOf: s.variantGenerationIds,
      setSelection: s.setSelection,
      toggleCompare: s.toggleCompare,
      close: s.setVariantExplorerOpen,
      view: s.view,
    })),
  );
  const source = records[group.sourceId];
  // Variants chosen for Compare (click or Enter on a cell); none chosen → all of them.
  const [chosen, setChosen] = useState<string[]>([]);
  const toggle = (id: string) => setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id]));
  const done = group.cells.filter((c) => c.jobId && jobs[c.jobId]?.state === 'done').length;
  return (
    <div className="variant-group" data-testid="variant-group" data-done={done} data-total={group.cells.length} data-locked={group.lockStrength !== null}>
      <div className="section-head">
        <span>
          {AXIS_LABELS[group.axis]}
          {group.lockStrength !== null ? ` · composition locked (strength ${group.lockStrength.toFixed(2)})` : ''} · {done}/{group.cells.length} done
        </span>
        <button
          type="button"
          className="primary"
          data-testid="variant-open-compare"
          disabled={done < 1}
          title={chosen.length > 0 ? `Compare the source with the ${chosen.length} chosen variant${chosen.length === 1 ? '' : 's'}` : 'Compare the source with every variant (click cells to choose some)'}
          onClick={() => {
            const ids = idsOf(group.id);
            setSelection([group.sourceId, ...(chosen.length > 0 ? ids.filter((id) => chosen.includes(id)) : ids)]);
            toggleCompare(true);
            close(false);
          }}
        >
          Open in Compare{chosen.length > 0 ? ` (${chosen.length + 1})` : ''}
        </button>
      </div>
      <div className="variant-grid">
        {source && (
          <figure className="variant-cell source" data-testid="variant-source">
            <img src={source.thumbUrl} alt="source" />
            <figcaption>source</figcaption>
          </figure>
        )}
        {group.cells.map((c, i) => {
          const job = c.jobId ? jobs[c.jobId] : undefined;
          const gen = job?.generationIds[0] ? records[job.generationIds[0]] : undefined;
          const src = gen?.thumbUrl ?? job?.previewUrl ?? null;
          return (
            <figure
              key={i}
              className="variant-cell"
              data-testid="variant-cell"
              data-state={c.error ? 'failed' : (job?.state ?? 'pending')}
              data-generation-id={gen?.id ?? ''}
              role="button"
              tabIndex={gen ? 0 : -1}
              aria-pressed={!!gen && chosen.includes(gen.id)}
              aria-disabled={!gen}
              title={gen ? `${c.label}\nClick or Enter: choose for Compare · Double-click: show in the viewer` : c.label}
              onClick={() => gen && toggle(gen.id)}
              onKeyDown={(e) => {
                if (gen && (e.key === 'Enter' || e.key === ' ')) {
                  e.preventDefault();
                  toggle(gen.id);
                }
              }}
              onDoubleClick={() => gen && view(gen.id)}
            >
              {src ? <img src={src} alt={c.label} /> : <div className="variant-placeholder">{job?.state === 'running' ? `${job.step}/${job.total}` : '…'}</div>}
              <figcaption title={c.label}>{c.label}</figcaption>
            </figure>
          );
        })}
      </div>
    </div>
  );
}

export function VariantExplorer() {
  const { source, run, close, groups } = useAtelier(
    useShallow((s) => ({
      source: s.viewingId ? s.records[s.viewingId] : s.selection[0] ? s.records[s.selection[0]] : undefined,
      run: s.runVariants,
      close: s.setVariantExplorerOpen,
      groups: s.variantGroups,
    })),
  );
  const ref = useRef<HTMLDivElement>(null);
  useModal(ref, useCallback(() => close(false), [close]));
  const [axis, setAxis] = useState<VariantAxis>('lighting');
  const [picked, setPicked] = useState<Record<string, boolean>>({ 'golden hour': true, 'blue hour': true, 'lit from the left': true });
  const [text, setText] = useState(TEXT_DEFAULTS);
  const [count, setCount] = useState(4);
  const [lock, setLock] = useState(false);
  const [lockStrength, setLockStrength] = useState(DEFAULT_LOCK_STRENGTH);
  const choices = choicesFor(axis);
  const latest = groups.find((g) => g.sourceId === source?.id) ?? groups[0];

  const values = choices ? choices.filter((c) => picked[c]) : (text[axis] ?? '').split(axis === 'prompt' ? /\n/ : /[\n,]/);

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
          <div className="empty">Pick an image in the history first: variants keep its parameters and change one axis.</div>
        ) : (
          <>
            <div className="variant-source-line muted">
              From <strong>{source.prompt || '(no prompt)'}</strong> · seed {source.seed} · CFG {source.guidanceScale}
            </div>
            <div className="row">
              <div className="field">
                <label htmlFor="variant-axis">Axis</label>
                <select id="variant-axis" data-testid="variant-axis" value={axis} onChange={(e) => setAxis(e.target.value as VariantAxis)}>
                  {(Object.keys(AXIS_LABELS) as VariantAxis[]).map((a) => (
                    <option key={a} value={a}>
                      {AXIS_LABELS[a]}
                    </option>
                  ))}
                </select>
              </div>
              {axis === 'seed' && (
                <div className="field compact">
                  <label htmlFor="variant-count">Random seeds</label>
                  <input id="variant-count" data-testid="variant-count" type="number" min={1} max={16} value={count} onChange={(e) => setCount(Math.max(1, Math.min(16, e.target.valueAsNumber || 1)))} />
                </div>
              )}
            </div>
            {choices ? (
              <div className="choice-list" data-testid="variant-choices">
                {choices.map((c) => (
                  <label key={c} className="choice">
                    <input type="checkbox" data-testid="variant-choice" data-value={c} checked={!!picked[c]} onChange={(e) => setPicked({ ...picked, [c]: e.target.checked })} />
                    {c.replace(/Scheduler$/, '')}
                  </label>
                ))}
              </div>
            ) : (
              <div className="field">
                <label htmlFor="variant-values">
                  {axis === 'prompt' ? 'One phrase per line (appended to the prompt)' : axis === 'seed' ? 'Seeds (empty: random)' : 'Values, comma-separated'}
                </label>
                <textarea id="variant-values" data-testid="variant-values" rows={3} value={text[axis] ?? ''} onChange={(e) => setText({ ...text, [axis]: e.target.value })} />
              </div>
            )}
            <div className="row lock-composition">
              <label title="Run every variant as img2img from this image, so the framing stays and only the light (or the chosen axis) changes">
                <input type="checkbox" data-testid="variant-lock" checked={lock} onChange={(e) => setLock(e.target.checked)} />
                Lock composition
              </label>
              <label className={lock ? '' : 'muted'} title="How much of the source to repaint: lower keeps the shot closer, higher lets the light change more">
                Strength <span className="muted">{lockStrength.toFixed(2)}</span>
                <input type="range" data-testid="variant-lock-strength" min={0.05} max={1} step={0.05} value={lockStrength} disabled={!lock} onChange={(e) => setLockStrength(e.target.valueAsNumber)} />
              </label>
            </div>
            <div className="row end">
              <span className="muted">
                {axis === 'seed' && values.every((v) => !v.trim()) ? count : values.filter((v) => v.trim()).length} variants · parent link kept
              </span>
              <button type="button" className="primary" data-testid="variant-run" onClick={() => void run(source.id, axis, values, count, lock ? { lockStrength } : {})}>
                Generate grid
              </button>
            </div>
          </>
        )}
        {latest && <VariantGrid group={latest} />}
      </div>
    </div>
  );
}
