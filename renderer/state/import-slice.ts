import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import { importedScheduler, planImport } from '../lib/import-plan';
import type { AtelierState, ImportSlice, WorkspaceParams } from './types';

/** Maps recognised metadata (A1111 infotext keys or ours) onto workspace parameters. */
export function paramsFromMetadata(meta: { prompt?: string; negativePrompt?: string; params: Record<string, string | number> }): Partial<WorkspaceParams> {
  const out: Partial<WorkspaceParams> = {};
  const p = Object.fromEntries(Object.entries(meta.params).map(([k, v]) => [k.toLowerCase().replace(/[\s_-]/g, ''), v]));
  const num = (...keys: string[]) => {
    for (const k of keys) {
      const v = Number(p[k]);
      if (p[k] !== undefined && Number.isFinite(v)) return v;
    }
    return undefined;
  };
  if (meta.prompt !== undefined) out.prompt = meta.prompt;
  if (meta.negativePrompt !== undefined) out.negativePrompt = meta.negativePrompt;
  const steps = num('steps');
  if (steps !== undefined) out.steps = steps;
  const cfg = num('cfgscale', 'guidancescale', 'cfg');
  if (cfg !== undefined) out.guidanceScale = cfg;
  const clipSkip = num('clipskip');
  if (clipSkip !== undefined && Number.isInteger(clipSkip) && clipSkip >= 1 && clipSkip <= 12) out.clipSkip = clipSkip;
  const seed = num('seed');
  if (seed !== undefined && seed >= 0) Object.assign(out, { seed, seedLocked: true });
  const size = String(p.size ?? '');
  const m = /^(\d+)\s*x\s*(\d+)$/i.exec(size);
  if (m) Object.assign(out, { width: Number(m[1]), height: Number(m[2]) });
  const w = num('width');
  const h = num('height');
  if (w !== undefined && h !== undefined) Object.assign(out, { width: w, height: h });
  // Through the one scheduler table: every A1111 name (and Schedule type) the engine runs.
  const sched = importedScheduler(p);
  if (sched?.runnable) out.scheduler = sched.scheduler;
  const rng = String(p.rng ?? '').toLowerCase();
  if (rng === 'cpu' || rng === 'cuda') out.rng = rng;
  else if (rng === 'gpu') out.rng = 'cuda';
  return out;
}

export const createImportSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], ImportSlice> =>
  (set, get) => ({
    importOffer: null,

    async importImage(fileName, base64) {
      try {
        const meta = await client.readImageMetadata({ base64 });
        if (!meta.prompt && Object.keys(meta.params).length === 0) {
          get().pushToast({ kind: 'info', title: 'No parameters found', message: `${fileName} carries no generation metadata we recognise.` });
          return;
        }
        set({ importOffer: { ...meta, fileName } });
      } catch (err) {
        get().reportError(`Could not read ${fileName}`, err);
      }
    },

    applyImport() {
      const offer = get().importOffer;
      if (!offer) return;
      // Checked against the model the next Generate uses: nothing it would refuse goes into the form.
      const plan = planImport(offer, { models: get().models, current: get().params });
      get().setParams(plan.patch);
      set({ importOffer: null });
      get().pushToast({
        kind: 'info',
        title: 'Settings loaded',
        message:
          plan.notApplied.length === 0
            ? `Parameters from ${offer.fileName} are in the workspace.`
            : `Parameters from ${offer.fileName} are in the workspace. Not applied: ${plan.notApplied.join(' · ')}`,
      });
    },

    dismissImport() {
      set({ importOffer: null });
    },
  });
