/** The result every pipeline returns: images plus where the time went (inside session.run or not). */
import type { LoadedModel } from '../loader';
import type { GeneratedImage, Txt2ImgResult } from './types';

export interface PhaseTimes {
  started: number;
  /** model.sessionRunMs() when the pipeline started. */
  runMsAtStart: number;
  encodeMs: number;
  denoiseMs: number;
  decodeMs: number;
  /** session.run time of graphs the model does not own (ControlNets); 0 without. */
  extraRunMs?: number;
}

export function pipelineResult(model: LoadedModel, images: GeneratedImage[], scheduler: string, t: PhaseTimes, truncatedPrompt: boolean): Txt2ImgResult {
  const totalMs = performance.now() - t.started;
  const sessionRunMs = model.sessionRunMs() - t.runMsAtStart + (t.extraRunMs ?? 0);
  return {
    images,
    provider: model.provider,
    scheduler,
    timings: { totalMs, sessionRunMs, overheadMs: Math.max(0, totalMs - sessionRunMs), encodeMs: t.encodeMs, denoiseMs: t.denoiseMs, decodeMs: t.decodeMs },
    truncatedPrompt,
  };
}
