/** A1111-style parameter text, for "copy params" (the format other tools paste from). */
import type { GenerationRecord } from '../../common/api/contract';

export function toInfotext(r: GenerationRecord): string {
  const lines = [r.prompt];
  if (r.negativePrompt) lines.push(`Negative prompt: ${r.negativePrompt}`);
  lines.push(
    [
      `Steps: ${r.steps}`,
      `Sampler: ${r.scheduler}`,
      `CFG scale: ${r.guidanceScale}`,
      `Seed: ${r.seed}`,
      `Size: ${r.width}x${r.height}`,
      `Model: ${r.modelId}`,
      `RNG: ${r.rng}`,
      // A1111 omits its default (1).
      ...(r.clipSkip > 1 ? [`Clip skip: ${r.clipSkip}`] : []),
    ].join(', '),
  );
  return lines.join('\n');
}
