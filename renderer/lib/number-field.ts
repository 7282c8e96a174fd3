/**
 * What a number field's text means: a value the request schema accepts, or one sentence saying
 * why not. The bounds are the schema's own (common/params/bounds.ts); nothing is clamped or
 * rounded into some other valid value.
 */
import { boundsProblem, rangeProblem, type NumberBounds } from '../../common/params/bounds';

export type FieldParse = { ok: true; value: number } | { ok: false; error: string };

export interface FieldRules {
  /** The field's name as the user reads it: "Width", "CFG". */
  name: string;
  bounds: NumberBounds;
  /** A stricter step than the schema's (the model's size multiple); named "for this model". */
  multipleOf?: number;
  /** What an empty field means (seed: −1, random); without it, empty is an error. */
  emptyValue?: number;
}

const NUMBER_TEXT = /^-?(\d+\.?\d*|\.\d+)$/;

export function parseFieldText(text: string, rules: FieldRules): FieldParse {
  const { name, bounds } = rules;
  // "−" (U+2212) is what some keyboards and pasted text give for minus.
  const t = text.trim().replace(/\u2212/g, '-');
  if (t === '') {
    if (rules.emptyValue !== undefined) return { ok: true, value: rules.emptyValue };
    return { ok: false, error: `${name} is empty: it ${rangeProblem(bounds)}.` };
  }
  if (!NUMBER_TEXT.test(t)) return { ok: false, error: `${name} must be a number.` };
  const value = Number(t);
  const multiple = Math.max(bounds.multipleOf ?? 0, rules.multipleOf ?? 0) || undefined;
  const problem = boundsProblem(value, bounds, multiple);
  if (problem) {
    const forModel = multiple && multiple !== bounds.multipleOf && problem.includes('multiple') ? ' for this model' : '';
    return { ok: false, error: `${name} ${problem}${forModel}.` };
  }
  return { ok: true, value };
}

/** ArrowUp/ArrowDown: the next value on the field's step grid, or null past the bounds. */
export function stepValue(value: number, direction: 1 | -1, step: number, bounds: NumberBounds): number | null {
  const decimals = (String(step).split('.')[1] ?? '').length;
  const onGrid = Math.round(value / step) * step;
  const next = onGrid !== value && Math.sign(onGrid - value) === direction ? onGrid : onGrid + direction * step;
  const rounded = Number(next.toFixed(decimals));
  return rounded < bounds.min || rounded > bounds.max ? null : rounded;
}
