import type { StateCreator } from 'zustand';
import type { AtelierState, WorkspaceParams, WorkspaceSlice } from './types';
import { randomSeed } from '../lib/presets';
import { DEFAULT_MASK_BLUR, DEFAULT_STRENGTH, hadPaintedMask, initGenerationOf, initRequestFields, outpaintOf, type InitImageState } from '../lib/init-image';
import type { GenerationRecord, ModelSummary } from '../../common/api/contract';
import type { GenerateRequest } from '../../common/api/schemas';
import { grownSize } from '../lib/outpaint';
import { controlProblems, controlRequestFields, recordedControlNets, unitsFromRecord, type ControlUnitState } from '../lib/control-units';
import { controlGenerateRefusal } from '../lib/controlnet-support';

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

export function requestFromParams(p: WorkspaceParams, init: InitImageState | null = null, control: readonly ControlUnitState[] = []): GenerateRequest {
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
    ...controlRequestFields(control),
    // Last: an outpaint request's size is the grown canvas, whatever the form says.
    ...initRequestFields(init),
  };
}

/** A record's generation settings in the form's terms (not its seed); its model only if installed here. */
export function paramsOfRecord(r: GenerationRecord, models: readonly ModelSummary[]): Partial<WorkspaceParams> {
  return {
    ...(models.some((m) => m.id === r.modelId) ? { modelId: r.modelId } : {}),
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    width: r.width,
    height: r.height,
    steps: r.steps,
    guidanceScale: r.guidanceScale,
    clipSkip: r.clipSkip ?? 1,
    scheduler: r.scheduler,
    rng: r.rng === 'cuda' ? 'cuda' : 'cpu',
  };
}

/** `/thumb/<id>` of another generation, from one we have (same server, same URL scheme). */
function siblingUrl(url: string, id: string, otherId: string): string {
  const at = url.lastIndexOf(id);
  return at < 0 ? url : url.slice(0, at) + otherId + url.slice(at + id.length);
}

export const createWorkspaceSlice: StateCreator<AtelierState, [], [], WorkspaceSlice> = (set, get) => ({
  params: { ...DEFAULT_PARAMS },

  setParams(patch) {
    set((s) => ({ params: { ...s.params, ...patch } }));
  },

  loadParamsFrom(r) {
    const s = get();
    // img2img / inpaint / outpaint results come back with their init image, strength and frame.
    const initId = r.strength != null ? initGenerationOf(r) : null;
    const outpaint = outpaintOf(r);
    const missing: string[] = [];
    let initImage: InitImageState | null = null;
    if (r.strength != null && initId) {
      const src = s.records[initId];
      const grownBy = outpaint ? outpaint.margins : { left: 0, right: 0, top: 0, bottom: 0 };
      initImage = {
        generationId: initId,
        width: src?.width ?? r.width - grownBy.left - grownBy.right,
        height: src?.height ?? r.height - grownBy.top - grownBy.bottom,
        thumbUrl: src?.thumbUrl ?? siblingUrl(r.thumbUrl, r.id, initId),
        strength: r.strength,
        maskBase64: null,
        maskCoverage: null,
        maskBlur: s.initImage?.maskBlur ?? DEFAULT_MASK_BLUR,
        fit: s.initImage?.fit,
        onlyMasked: s.initImage?.onlyMasked,
        onlyMaskedPadding: s.initImage?.onlyMaskedPadding,
        outpaint: outpaint?.margins ?? null,
        ...(outpaint?.fill ? { outpaintFill: outpaint.fill } : {}),
      };
      if (hadPaintedMask(r)) missing.push('its inpainting mask is not saved with the image: paint it again to reproduce it');
    } else if (r.strength != null) {
      missing.push('its init image was an uploaded file the project does not keep: add it again as the init image');
    }
    // ControlNet units come back too (an image without any clears them: Generate reproduces it).
    const control = unitsFromRecord(recordedControlNets(r), s.controlNets, (id) => s.records[id], (id) => siblingUrl(r.thumbUrl, r.id, id));
    missing.push(...control.notRestored);
    set((st) => ({ params: { ...st.params, ...paramsOfRecord(r, st.models), seed: r.seed, seedLocked: true }, initImage, maskEditing: false, controlUnits: control.units }));
    const what = `${initImage ? `, init image and strength ${r.strength}` : ''}${control.units.length > 0 ? `, ${control.units.length} ControlNet unit${control.units.length === 1 ? '' : 's'}` : ''}`;
    const toast = (notRestored: string[]) =>
      get().pushToast({
        kind: 'info',
        title: 'Parameters loaded',
        message: `Seed ${r.seed} locked${what ? `${what} loaded` : ''} — Generate reproduces this image.${notRestored.length ? ` Not restored: ${notRestored.join('; ')}.` : ''}`,
      });
    // Units whose image was an opened file get it from the project; the toast waits to say whether it came back.
    if (control.pending.length === 0) {
      toast(missing);
      return Promise.resolve();
    }
    return get().restoreControlImages(control.pending).then((failed) => toast([...missing, ...failed]));
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
      // The image's own prompt and settings come along (the seed stays as the form has it).
      params: { ...s.params, ...paramsOfRecord(record, s.models), width: record.width, height: record.height },
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
    const s = get();
    const problems = controlProblems(s.controlUnits, s.controlNets);
    if (problems.length > 0) {
      s.pushToast({ kind: 'error', title: 'ControlNet not ready', message: `${problems.join(' ')} Or switch the unit off.` });
      return null;
    }
    const request = requestFromParams(s.params, s.initImage, s.controlUnits);
    const unsupported = controlGenerateRefusal(s.models.find((m) => m.id === s.params.modelId), request.controlNets?.length ?? 0);
    if (unsupported) {
      s.pushToast({ kind: 'error', title: 'ControlNet not available', message: `${unsupported} Or switch the ControlNet units off.` });
      return null;
    }
    const jobId = await get().enqueue(request, 'workspace');
    if (jobId) set({ followJobs: true });
    return jobId;
  },
});
