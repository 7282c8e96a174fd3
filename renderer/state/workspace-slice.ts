import type { StateCreator } from 'zustand';
import type { AtelierState, WorkspaceParams, WorkspaceSlice } from './types';
import { randomSeed } from '../lib/presets';
import { DEFAULT_MASK_BLUR, DEFAULT_STRENGTH, initRequestFields, type InitImageState } from '../lib/init-image';
import type { GenerateRequest } from '../../common/api/schemas';
import { grownSize } from '../lib/outpaint';

export const DEFAULT_PARAMS: WorkspaceParams = {
  modelId: '',
  prompt: '',
  negativePrompt: '',
  width: 64,
  height: 64,
  steps: 20,
  guidanceScale: 5,
  clipSkip: 1,
  scheduler: 'EulerDiscreteScheduler',
  seed: -1,
  seedLocked: false,
  rng: 'cpu',
  batchSize: 1,
};

export function requestFromParams(p: WorkspaceParams, init: InitImageState | null = null): GenerateRequest {
  return {
    ...(p.modelId ? { modelId: p.modelId } : {}),
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    width: p.width,
    height: p.height,
    steps: p.steps,
    guidanceScale: p.guidanceScale,
    // 1 is the engine's default: leaving it out keeps requests valid for encoders without hidden states.
    ...(p.clipSkip > 1 ? { clipSkip: p.clipSkip } : {}),
    scheduler: p.scheduler,
    seed: p.seedLocked && p.seed >= 0 ? p.seed : -1,
    rng: p.rng,
    batchSize: p.batchSize,
    // Last: an outpaint request's size is the grown canvas, whatever the form says.
    ...initRequestFields(init),
  };
}

export const createWorkspaceSlice: StateCreator<AtelierState, [], [], WorkspaceSlice> = (set, get) => ({
  params: { ...DEFAULT_PARAMS },

  setParams(patch) {
    set((s) => ({ params: { ...s.params, ...patch } }));
  },

  loadParamsFrom(r) {
    set((s) => ({
      params: {
        ...s.params,
        modelId: get().models.some((m) => m.id === r.modelId) ? r.modelId : s.params.modelId,
        prompt: r.prompt,
        negativePrompt: r.negativePrompt,
        width: r.width,
        height: r.height,
        steps: r.steps,
        guidanceScale: r.guidanceScale,
        clipSkip: r.clipSkip ?? 1,
        scheduler: r.scheduler,
        seed: r.seed,
        seedLocked: true,
        rng: r.rng === 'cuda' ? 'cuda' : 'cpu',
      },
    }));
    get().pushToast({ kind: 'info', title: 'Parameters loaded', message: `Seed ${r.seed} locked — Generate reproduces this image.` });
  },

  applyModelDefaults(model) {
    const d = model.defaults ?? {};
    set((s) => ({
      params: {
        ...s.params,
        modelId: model.id,
        width: d.width ?? s.params.width,
        height: d.height ?? s.params.height,
        steps: d.steps ?? s.params.steps,
        guidanceScale: d.guidanceScale ?? s.params.guidanceScale,
        scheduler: d.scheduler ?? s.params.scheduler,
      },
    }));
  },

  rollSeed() {
    set((s) => ({ params: { ...s.params, seed: randomSeed(), seedLocked: true } }));
  },

  initImage: null,
  maskEditing: false,
  maskBrush: 6,
  maskErase: false,

  setInitImage(record) {
    set((s) => ({
      initImage: {
        generationId: record.id,
        width: record.width,
        height: record.height,
        thumbUrl: record.thumbUrl,
        strength: s.initImage?.strength ?? DEFAULT_STRENGTH,
        maskBase64: null,
        maskCoverage: null,
        maskBlur: s.initImage?.maskBlur ?? DEFAULT_MASK_BLUR,
        // Per-session preferences carry over to the next init image; the frame does not.
        fit: s.initImage?.fit,
        onlyMasked: s.initImage?.onlyMasked,
        onlyMaskedPadding: s.initImage?.onlyMaskedPadding,
        outpaint: null,
      },
      maskEditing: false,
      params: { ...s.params, width: record.width, height: record.height },
    }));
  },

  updateInit(patch) {
    set((s) => (s.initImage ? { initImage: { ...s.initImage, ...patch } } : {}));
  },

  clearInit() {
    set({ initImage: null, maskEditing: false });
  },

  setMaskEditing(on) {
    // Painting a mask and outpainting exclude each other (outpaint builds its own mask).
    if (on && get().initImage?.outpaint) get().setOutpaint(null);
    set((s) => ({ maskEditing: on && !!s.initImage }));
  },

  setOutpaint(margins) {
    set((s) => {
      if (!s.initImage) return {};
      const size = margins ? grownSize(s.initImage.width, s.initImage.height, margins) : { width: s.initImage.width, height: s.initImage.height };
      return { initImage: { ...s.initImage, outpaint: margins }, maskEditing: margins ? false : s.maskEditing, params: { ...s.params, ...size } };
    });
  },

  setMaskTool(patch) {
    set(patch);
  },

  async generate() {
    const jobId = await get().enqueue(requestFromParams(get().params, get().initImage), 'workspace');
    if (jobId) set({ followJobs: true });
    return jobId;
  },
});
