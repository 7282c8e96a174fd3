/**
 * The variant explorer's "Lock structure" choice, beside "Lock composition (img2img)": the source
 * image becomes a ControlNet unit — its edges (Canny) or its depth — so lighting and reflection
 * variants keep the geometry exactly. An option whose ControlNet is not installed is disabled and
 * says what to install.
 */
import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { STRUCTURE_LOCKS, structureControlNets, structureUnavailable, type StructureLock } from '../lib/control-units';
import type { ExplorerSettings } from '../lib/variant-memory';
import { useAtelier } from '../state/store';

const LOCK_LABELS: Readonly<Record<StructureLock, string>> = { edges: 'edges', depth: 'depth' };

/** The ControlNet a structure lock runs with: the user's choice while it still fits, else the first that fits; null when off or none is installed. */
export function useStructureChoice(settings: ExplorerSettings, modelFamily: string | undefined): { lock: StructureLock; controlNet: string } | null {
  const installed = useAtelier((s) => s.controlNets);
  const lock = settings.structure ?? null;
  if (!lock || !installed) return null;
  const nets = structureControlNets(lock, installed, modelFamily);
  const chosen = nets.find((c) => c.name === settings.structureNet) ?? nets[0];
  return chosen ? { lock, controlNet: chosen.name } : null;
}

export function StructureLockRow({ settings, update, modelFamily }: { settings: ExplorerSettings; update(patch: Partial<ExplorerSettings>): void; modelFamily: string | undefined }) {
  const { installed, refresh, modelsDir } = useAtelier(useShallow((s) => ({ installed: s.controlNets, refresh: s.refreshControlNets, modelsDir: s.settings?.modelsDir ?? null })));
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const choice = useStructureChoice(settings, modelFamily);
  const current = settings.structure ?? null;
  const nets = current && installed ? structureControlNets(current, installed, modelFamily) : [];
  const option = (lock: StructureLock | null) => {
    const why = lock ? structureUnavailable(lock, installed, modelFamily, modelsDir) : null;
    const id = `structure-${lock ?? 'off'}`;
    return (
      <label key={id} title={why ?? (lock ? `Keep the source's ${LOCK_LABELS[lock]} exactly: the source becomes a ControlNet unit (annotator: ${STRUCTURE_LOCKS[lock].annotator})` : 'No structure lock')} className={why ? 'muted' : ''}>
        <input
          type="radio"
          name="structure-lock"
          data-testid={`variant-structure-${lock ?? 'off'}`}
          checked={lock ? choice?.lock === lock : !choice}
          disabled={!!why}
          aria-describedby={why ? `${id}-why` : undefined}
          onChange={() => update({ structure: lock })}
        />
        {lock ? LOCK_LABELS[lock] : 'off'}
        {why && (
          <span id={`${id}-why`} hidden>
            {why}
          </span>
        )}
      </label>
    );
  };
  return (
    <div className="row lock-structure" role="radiogroup" aria-label="Lock structure" data-testid="variant-structure" data-active={choice ? `${choice.lock}:${choice.controlNet}` : ''}>
      <span>Lock structure:</span>
      {option(null)}
      {option('edges')}
      {option('depth')}
      {nets.length > 1 && (
        <label>
          ControlNet
          <select data-testid="variant-structure-net" value={choice?.controlNet ?? ''} onChange={(e) => update({ structureNet: e.target.value })}>
            {nets.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {current && !choice && installed && (
        <span className="hint warn" data-testid="variant-structure-unavailable">
          {structureUnavailable(current, installed, modelFamily, modelsDir)}
        </span>
      )}
    </div>
  );
}
