import { SUPPORTED_SCHEDULER_CLASSES } from '../../common/schedulers';

/** Built-in axes of the variant explorer and the scheduler list (the engine's samplers, from the one table). */
export const SCHEDULERS: readonly string[] = SUPPORTED_SCHEDULER_CLASSES;

export const LIGHTING_PRESETS = [
  'golden hour',
  'blue hour',
  'lit from the left',
  'lit from the right',
  'lit from the top',
  'overcast softbox light',
  'hard noon sun',
  'rim light',
  'neon light',
  'candle-light',
  'studio strobe',
] as const;

export const REFLECTION_PRESETS = [
  'with a reflection on a glossy floor',
  'reflected in a wet street',
  'reflected in glass',
  'reflected in a mirror',
  'chrome reflections',
  'reflected in still water',
] as const;

export type VariantAxis = 'seed' | 'cfg' | 'steps' | 'scheduler' | 'lighting' | 'reflection' | 'prompt';

export const AXIS_LABELS: Record<VariantAxis, string> = {
  seed: 'Seed',
  cfg: 'CFG',
  steps: 'Steps',
  scheduler: 'Scheduler',
  lighting: 'Lighting',
  reflection: 'Reflection',
  prompt: 'Prompt text',
};

/** Appends a phrase to a prompt with a comma, the way people write them. */
export function appendToPrompt(prompt: string, phrase: string): string {
  const base = prompt.trim().replace(/,\s*$/, '');
  return base ? `${base}, ${phrase}` : phrase;
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** "3, 5.5, 7" → [3, 5.5, 7]; ignores junk. */
export function parseNumberList(text: string): number[] {
  return text
    .split(/[\s,;]+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isFinite(n));
}
