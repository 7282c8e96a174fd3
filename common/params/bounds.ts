/**
 * Bounds of the numeric generation parameters: the one table that the GenerateRequest schema
 * (common/api/schemas.ts) builds its checks from and that the studio's number fields validate
 * against, so the form and the API can never disagree. Pure code (no Node, no DOM).
 */

export interface NumberBounds {
  min: number;
  max: number;
  /** Whole numbers only. */
  integer: boolean;
  /** The value must be a multiple of this (image sides). */
  multipleOf?: number;
  /** How the allowed range reads in a message, when "from min to max" would mislead (seed −1). */
  rangeText?: string;
}

export const GENERATE_BOUNDS = {
  width: { min: 8, max: 4096, integer: true, multipleOf: 8 },
  height: { min: 8, max: 4096, integer: true, multipleOf: 8 },
  steps: { min: 1, max: 500, integer: true },
  guidanceScale: { min: 0, max: 50, integer: false },
  clipSkip: { min: 1, max: 12, integer: true },
  seed: { min: -1, max: 2 ** 32 - 1, integer: true, rangeText: `-1 (random) or a whole number from 0 to ${2 ** 32 - 1}` },
  batchSize: { min: 1, max: 16, integer: true },
} as const satisfies Record<string, NumberBounds>;

export type BoundedParam = keyof typeof GENERATE_BOUNDS;

export function rangeProblem(b: NumberBounds): string {
  return `must be ${b.rangeText ?? `from ${b.min} to ${b.max}`}`;
}

export const WHOLE_NUMBER_PROBLEM = 'must be a whole number';

export function multipleProblem(multipleOf: number): string {
  return `must be a multiple of ${multipleOf}`;
}

/**
 * What is wrong with `value` as a phrase that completes "<Field> …" (e.g. "must be a multiple of
 * 8"), or null when the bounds allow it. `multipleOf` overrides the table's step (a model whose
 * UNet needs multiples of 32).
 */
export function boundsProblem(value: number, b: NumberBounds, multipleOf = b.multipleOf): string | null {
  if (!Number.isFinite(value)) return 'must be a number';
  if (b.integer && !Number.isInteger(value)) return WHOLE_NUMBER_PROBLEM;
  if (value < b.min || value > b.max) return rangeProblem(b);
  if (multipleOf && value % multipleOf !== 0) return multipleProblem(multipleOf);
  return null;
}
