/**
 * "Copy parameters": the A1111 text other tools paste from — written by the same writer as the
 * `parameters` chunk of saved PNGs (common/infotext.ts), so the clipboard and the file agree.
 */
import type { GenerationRecord } from '../../common/api/contract';
import { formatInfotext, type InfotextParams } from '../../common/infotext';

/** A generation record (the API's names) as the infotext writer's parameters (the library's names). */
export function infotextParamsOf(r: GenerationRecord): Partial<InfotextParams> {
  return {
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    steps: r.steps,
    scheduler: r.scheduler,
    guidanceScale: r.guidanceScale,
    seed: r.seed,
    width: r.width,
    height: r.height,
    modelHash: r.modelHash,
    modelId: r.modelId,
    strength: r.strength ?? null,
    rng: r.rng === 'cuda' ? 'cuda' : 'cpu',
    batchIndex: r.batchIndex,
    clipSkip: r.clipSkip,
    appVersion: r.appVersion,
  };
}

export function toInfotext(r: GenerationRecord): string {
  return formatInfotext(infotextParamsOf(r));
}

/**
 * The viewer's one-line summary of an image. Clip skip appears only above 1, as in the infotext:
 * 1 is everyone's default, while 2+ changes the look and must be visible to reproduce the image.
 */
export function viewerMetaLine(r: GenerationRecord): string {
  return [
    `${r.width}×${r.height}`,
    `seed ${r.seed}`,
    `${r.steps} steps`,
    `CFG ${r.guidanceScale}`,
    r.scheduler.replace(/Scheduler$/, ''),
    ...(r.clipSkip > 1 ? [`clip skip ${r.clipSkip}`] : []),
    // img2img / inpaint: how much of the init image was repainted.
    ...(r.strength != null ? [`strength ${r.strength}`] : []),
    // Which GPU, on a machine with several (settings.gpuDeviceId): "dml GPU 1".
    r.deviceId !== undefined ? `${r.provider} GPU ${r.deviceId}` : r.provider,
  ].join(' · ');
}
