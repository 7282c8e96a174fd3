/**
 * The variant explorer's "Lock structure" choice, beside "Lock composition (img2img)": the source
 * image becomes a ControlNet unit — its edges (Canny) or its depth — so lighting and reflection
 * variants keep the geometry exactly. An option whose ControlNet is not installed is disabled and
 * says what to install; on a model without a ControlNet-capable UNet every lock is disabled and the
 * row says why (the variants would fail otherwise).
 */
import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { STRUCTURE_LOCKS, structureControlNets, structureUnavailable, type StructureLock } from '../lib/control-units';
import { controlNetUnsupported } from '../lib/controlnet-support';
import type { ExplorerSettings } from '../lib/variant-memory';
import { useAtelier } from '../state/store';

const LOCK_LABELS: Readonly<Record<StructureLock, string>> = { edges: 'edges', depth: 'depth' };

/** Why no structure lock can run on the source's model (no ControlNet-capable UNet); null when it can or that is unknown. */
function useModelUnsupported(modelId: string): string | null {
  return controlNetUnsupported(useAtelier((s) => s.models.find((m) => m.id === modelId)));
}

/**
 * The ControlNet a structure lock runs with: the user's choice while it still fits, else the first that fits;
 * null when off, none is installed or the model cannot run ControlNet.
 */
export function useStructureChoice(settings: ExplorerSettings, modelFamily: string | undefined, modelId: string): { lock: StructureLock; controlNet: string } | null {
  const installed = useAtelier((s) => s.controlNets);
  const unsupported = useModelUnsupported(modelId);
  const lock = settings.structure ?? null;
  if (!lock || !installed || unsupported) return null;
  const nets = structureControlNets(lock, installed, modelFamily);
  const chosen = nets.find((c) => c.name === settings.structureNet) ?? nets[0];
  return chosen ? { lock, controlNet: chosen.name } : null;
}

export function StructureLockRow({ settings, update, modelFamily, modelId }: { settings: ExplorerSettings; update(patch: Partial<ExplorerSettings>): void; modelFamily: string | undefined; modelId: string }) {
  const { installed, refresh, modelsDir } = useAtelier(useShallow((s) => ({ installed: s.controlNets, refresh: s.refreshControlNets, modelsDir: s.settings?.modelsDir ?? null })));
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const choice = useStructureChoice(settings, modelFamily, modelId);
  const unsupported = useModelUnsupported(modelId);
  const current = settings.structure ?? null;
  const nets = current && installed ? structureControlNets(current, installed, modelFamily) : [];
  const option = (lock: StructureLock | null) => {
    const why = lock ? (unsupported ?? structureUnavailable(lock, installed, modelFamily, modelsDir)) : null;
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
      {unsupported ? (
        <span className="hint warn" data-testid="variant-structure-unsupported">
          {unsupported}
        </span>
      ) : (
        current &&
        !choice &&
        installed && (
          <span className="hint warn" data-testid="variant-structure-unavailable">
            {structureUnavailable(current, installed, modelFamily, modelsDir)}
          </span>
        )
      )}
    </div>
  );
}
