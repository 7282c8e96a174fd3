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
    r.provider,
  ].join(' · ');
}
