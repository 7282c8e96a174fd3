import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import { SCHEDULERS } from '../lib/presets';
import type { AtelierState, ImportSlice, WorkspaceParams } from './types';

/** A1111 sampler names → diffusers scheduler classes (the ones we ship). */
const SAMPLER_TO_SCHEDULER: Record<string, string> = {
  'euler a': 'EulerAncestralDiscreteScheduler',
  euler: 'EulerDiscreteScheduler',
  ddim: 'DDIMScheduler',
  'dpm++ 2m': 'DPMSolverMultistepScheduler',
  'dpm++ 2m karras': 'DPMSolverMultistepScheduler',
  heun: 'HeunDiscreteScheduler',
  lms: 'LMSDiscreteScheduler',
  plms: 'PNDMScheduler',
  lcm: 'LCMScheduler',
};

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
  const sampler = String(p.sampler ?? p.scheduler ?? '').trim();
  if (sampler) {
    const known = (SCHEDULERS as readonly string[]).find((s) => s.toLowerCase() === sampler.toLowerCase());
    const mapped = known ?? SAMPLER_TO_SCHEDULER[sampler.toLowerCase()];
    if (mapped) out.scheduler = mapped;
  }
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
      get().setParams(paramsFromMetadata(offer));
      set({ importOffer: null });
      get().pushToast({ kind: 'info', title: 'Settings loaded', message: `Parameters from ${offer.fileName} are in the workspace.` });
    },

    dismissImport() {
      set({ importOffer: null });
    },
  });
