/**
 * Compare labels: for a set of generations, the parameters that differ across the set — and only
 * those. Prompts are diffed word by word so each tile highlights what it adds or lacks.
 */
import type { GenerationRecord } from '../../common/api/contract';

export type DiffField =
  | 'prompt'
  | 'negativePrompt'
  | 'seed'
  | 'guidanceScale'
  | 'steps'
  | 'scheduler'
  | 'size'
  | 'modelId'
  | 'rng'
  | 'provider';

export type WordMark = { word: string; kind: 'added' | 'removed' };

export interface DiffLabel {
  field: DiffField;
  label: string;
  /** Display value for scalar fields. */
  value?: string;
  /** For prompts: words this image has that not every image has, and words all others have but this one lacks. */
  words?: WordMark[];
}

type Comparable = Pick<
  GenerationRecord,
  'prompt' | 'negativePrompt' | 'seed' | 'guidanceScale' | 'steps' | 'scheduler' | 'width' | 'height' | 'modelId' | 'rng' | 'provider'
>;

const SCALARS: { field: DiffField; label: string; get: (r: Comparable) => string }[] = [
  { field: 'seed', label: 'Seed', get: (r) => String(r.seed) },
  { field: 'guidanceScale', label: 'CFG', get: (r) => String(r.guidanceScale) },
  { field: 'steps', label: 'Steps', get: (r) => String(r.steps) },
  { field: 'scheduler', label: 'Sampler', get: (r) => r.scheduler.replace(/Scheduler$/, '') },
  { field: 'size', label: 'Size', get: (r) => `${r.width}×${r.height}` },
  { field: 'modelId', label: 'Model', get: (r) => r.modelId },
  { field: 'rng', label: 'RNG', get: (r) => r.rng },
  { field: 'provider', label: 'EP', get: (r) => r.provider },
];

/** Prompt words, lower-cased for comparison; weight syntax stays attached (`cat:1.2`). */
export function promptWords(prompt: string): string[] {
  return (prompt.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'._:-]*/gu) ?? []).map((w) => w.replace(/[.:]+$/, ''));
}

function wordDiff(prompts: string[]): WordMark[][] {
  const sets = prompts.map((p) => new Set(promptWords(p)));
  return prompts.map((p, i) => {
    const own = promptWords(p);
    const marks: WordMark[] = [];
    const seen = new Set<string>();
    for (const w of own) {
      if (seen.has(w)) continue;
      seen.add(w);
      if (!sets.every((s) => s.has(w))) marks.push({ word: w, kind: 'added' });
    }
    const others = sets.filter((_, j) => j !== i);
    if (others.length > 0) {
      const removed = new Set<string>();
      for (const w of others[0]!) {
        if (!sets[i]!.has(w) && others.every((s) => s.has(w))) removed.add(w);
      }
      for (const w of removed) marks.push({ word: w, kind: 'removed' });
    }
    return marks;
  });
}

/** One list of labels per record, in the same order. Identical sets get empty lists. */
export function diffParams(records: Comparable[]): DiffLabel[][] {
  const out: DiffLabel[][] = records.map(() => []);
  if (records.length < 2) return out;

  for (const key of ['prompt', 'negativePrompt'] as const) {
    const texts = records.map((r) => r[key]);
    if (texts.every((t) => t === texts[0])) continue;
    const marks = wordDiff(texts);
    const label = key === 'prompt' ? 'Prompt' : 'Negative';
    records.forEach((_, i) => {
      // Same words, different text (order, punctuation): show the text itself.
      const words = marks[i]!;
      out[i]!.push(words.length > 0 ? { field: key, label, words } : { field: key, label, value: texts[i] || '(empty)' });
    });
  }

  for (const { field, label, get } of SCALARS) {
    const values = records.map(get);
    if (values.every((v) => v === values[0])) continue;
    values.forEach((value, i) => out[i]!.push({ field, label, value }));
  }
  return out;
}
