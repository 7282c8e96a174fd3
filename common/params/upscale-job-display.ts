/**
 * What an upscale job lists as in the queue (JobSummary.request): the source image's parameters at
 * the size it will have. The one rule, used by the server when it queues the job and by the studio
 * when it shows the job before the server's listing arrives, so both show the same row.
 * Pure code: no Node, no DOM.
 */
import type { GenerateParams } from '../api/schemas';
import type { GenerationParams } from './generation';

export type UpscaleSource = Pick<GenerationParams, 'modelId' | 'prompt' | 'negativePrompt' | 'width' | 'height' | 'steps' | 'guidanceScale' | 'seed' | 'rng'> & { id: string };

export function upscaleJobDisplay(source: UpscaleSource, factor: 2 | 4, upscaler?: string): GenerateParams {
  return {
    modelId: source.modelId,
    prompt: source.prompt,
    negativePrompt: source.negativePrompt,
    width: source.width * factor,
    height: source.height * factor,
    steps: source.steps,
    guidanceScale: source.guidanceScale,
    guidanceRescale: 0,
    seed: source.seed,
    rng: source.rng,
    batchSize: 1,
    parentId: source.id,
    upscale: factor,
    ...(upscaler ? { upscaler } : {}),
  };
}

/** The queue row's text for a job: upscales say so, whatever their display request's prompt. */
export function jobLabel(request: Pick<GenerateParams, 'prompt'> | null | undefined, upscale?: { factor: number }): string {
  const prompt = request?.prompt || '(no prompt)';
  return upscale ? `Upscale ${upscale.factor}× · ${prompt}` : prompt;
}
