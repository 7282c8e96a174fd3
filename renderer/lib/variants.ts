/** Turns a source image and an axis into the list of generate requests of a variant grid. */
import type { GenerationRecord } from '../../common/api/contract';
import type { GenerateRequest } from '../../common/api/schemas';
import { appendToPrompt, parseNumberList, randomSeed, type VariantAxis } from './presets';

export interface VariantSpec {
  label: string;
  request: GenerateRequest;
}

export function baseRequest(source: GenerationRecord): GenerateRequest {
  return {
    modelId: source.modelId,
    prompt: source.prompt,
    negativePrompt: source.negativePrompt,
    width: source.width,
    height: source.height,
    steps: source.steps,
    guidanceScale: source.guidanceScale,
    ...(source.clipSkip > 1 ? { clipSkip: source.clipSkip } : {}),
    scheduler: source.scheduler,
    seed: source.seed,
    rng: source.rng === 'cuda' ? 'cuda' : 'cpu',
    batchSize: 1,
    parentId: source.id,
  };
}

export interface VariantOptions {
  /** "Lock composition": run every variant as img2img from the source at this strength (0–1). */
  lockStrength?: number;
}

/** Default img2img strength for locked-composition variants: enough to relight, not to re-frame. */
export const DEFAULT_LOCK_STRENGTH = 0.5;

/**
 * `values` are the axis entries as the user entered/picked them: numbers as text for seed/cfg/steps
 * (a seed entry of "random" or an empty list draws `count` random seeds), names for schedulers,
 * phrases for lighting/reflection/prompt text. Every variant keeps the source seed unless the axis
 * is the seed itself, so only one thing changes.
 */
export function buildVariants(source: GenerationRecord, axis: VariantAxis, values: string[], count = 4, options: VariantOptions = {}): VariantSpec[] {
  const base: GenerateRequest = options.lockStrength === undefined
    ? baseRequest(source)
    : // Lock composition: img2img from the source, so the shot stays and only the axis changes.
      { ...baseRequest(source), initImage: { generationId: source.id }, strength: Math.min(1, Math.max(0.05, options.lockStrength)) };
  const clean = values.map((v) => v.trim()).filter(Boolean);
  switch (axis) {
    case 'seed': {
      const seeds = parseNumberList(clean.join(',')).filter((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32);
      const list = seeds.length > 0 ? seeds : Array.from({ length: count }, randomSeed);
      return list.map((seed) => ({ label: `seed ${seed}`, request: { ...base, seed } }));
    }
    case 'cfg':
      return parseNumberList(clean.join(','))
        .filter((n) => n >= 0 && n <= 50)
        .map((g) => ({ label: `CFG ${g}`, request: { ...base, guidanceScale: g } }));
    case 'steps':
      return parseNumberList(clean.join(','))
        .filter((n) => Number.isInteger(n) && n >= 1 && n <= 500)
        .map((steps) => ({ label: `${steps} steps`, request: { ...base, steps } }));
    case 'scheduler':
      return clean.map((scheduler) => ({ label: scheduler.replace(/Scheduler$/, ''), request: { ...base, scheduler } }));
    case 'lighting':
    case 'reflection':
    case 'prompt':
      return clean.map((phrase) => ({ label: phrase, request: { ...base, prompt: appendToPrompt(source.prompt, phrase) } }));
  }
}
