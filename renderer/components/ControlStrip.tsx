/**
 * Beside the canvas: the control image of each enabled ControlNet unit, with its ControlNet, weight
 * and the steps it runs on, so what shapes the next image is in sight while looking at the last one.
 * A click (or Enter) moves the focus to that unit in the left panel.
 */
import { useShallow } from 'zustand/react/shallow';
import { stepsLabel } from '../lib/control-units';
import { useAtelier } from '../state/store';
import { controlImageSrc } from './ControlPanel';

export function ControlStrip() {
  const { units, steps } = useAtelier(useShallow((s) => ({ units: s.controlUnits, steps: s.params.steps })));
  const shown = units.map((u, i) => ({ u, n: i + 1 })).filter(({ u }) => u.enabled);
  if (shown.length === 0) return null;
  return (
    <ul className="control-strip" data-testid="control-strip" aria-label="ControlNet units of the next image">
      {shown.map(({ u, n }) => {
        const range = stepsLabel(u.start, u.end, steps);
        return (
          <li key={u.key}>
            <button
              type="button"
              className="control-strip-item"
              data-testid="control-strip-unit"
              data-model={u.model}
              data-weight={u.weight}
              title={`ControlNet ${n}: ${u.model || 'no ControlNet chosen'} · weight ${u.weight.toFixed(2)} · ${range}${u.annotator !== 'none' ? ` · ${u.annotator}` : ''} — edit in the left panel`}
              onClick={() => document.getElementById(`control-${u.key}-model`)?.focus()}
            >
              {u.image ? <img src={controlImageSrc(u.image)} alt={`Control image ${n}`} /> : <span className="control-strip-empty">no image</span>}
              <span className="control-strip-caption">
                <strong>{u.model || '—'}</strong>
                <span data-testid="control-strip-weight">weight {u.weight.toFixed(2)}</span>
                <span data-testid="control-strip-steps">{range}</span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
