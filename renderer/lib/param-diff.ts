/**
 * Compare labels: for a set of generations, the parameters that differ across the set — and only
 * those. Prompts are diffed word by word so each tile highlights what it adds or lacks.
 */
import type { GenerationRecord } from '../../common/api/contract';
import { schedulerLabel } from '../../common/schedulers';

export type DiffField =
  | 'prompt'
  | 'negativePrompt'
  | 'seed'
  | 'guidanceScale'
  | 'steps'
  | 'clipSkip'
  | 'strength'
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
> &
  // Optional: records from before clip skip was recorded were all made at 1; strength is absent for text-to-image.
  Partial<Pick<GenerationRecord, 'clipSkip' | 'strength'>>;

const SCALARS: { field: DiffField; label: string; get: (r: Comparable) => string }[] = [
  { field: 'seed', label: 'Seed', get: (r) => String(r.seed) },
  { field: 'guidanceScale', label: 'CFG', get: (r) => String(r.guidanceScale) },
  { field: 'steps', label: 'Steps', get: (r) => String(r.steps) },
  { field: 'clipSkip', label: 'Clip skip', get: (r) => String(r.clipSkip ?? 1) },
  // img2img / inpaint denoising strength: how much of the init image was repainted.
  { field: 'strength', label: 'Strength', get: (r) => (r.strength == null ? 'none' : String(r.strength)) },
  // A1111's names ("DPM++ 2M Karras"), from the one scheduler table.
  { field: 'scheduler', label: 'Sampler', get: (r) => schedulerLabel(r.scheduler) },
  { field: 'size', label: 'Size', get: (r) => `${r.width}×${r.height}` },
  { field: 'modelId', label: 'Model', get: (r) => r.modelId },
  { field: 'rng', label: 'RNG', get: (r) => r.rng },
  { field: 'provider', label: 'EP', get: (r) => r.provider },
];

/** Prompt words, lower-cased for comparison; weight syntax stays attached (`cat:1.2`). */
export function promptWords(prompt: string): string[] {
  return (prompt.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'._:-]*/gu) ?? []).map((w) => w.replace(/[.:]+$/, ''));
}

/** Comma/BREAK/newline-separated phrases, normalised (case, spacing, weight parens kept). */
export function promptPhrases(prompt: string): string[] {
  return prompt
    .split(/,|\n|\bBREAK\b/)
    .map((p) => promptWords(p).join(' '))
    .filter(Boolean);
}

/**
 * Prompt diff in the units people write: phrases (`golden hour`). A phrase that only changed a
 * word or two against a phrase it replaced (`a red car` → `a blue car`, sharing 2+ words) is
 * shown word by word instead (+blue −red).
 */
function promptDiff(prompts: string[]): WordMark[][] {
  const lists = prompts.map(promptPhrases);
  const sets = lists.map((l) => new Set(l));
  return lists.map((own, i) => {
    const added = [...new Set(own)].filter((p) => !sets.every((s) => s.has(p)));
    const others = sets.filter((_, j) => j !== i);
    const removed =
      others.length === 0 ? [] : [...others[0]!].filter((p) => !sets[i]!.has(p) && others.every((s) => s.has(p)));
    const marks: WordMark[] = [];
    const unpaired = [...removed];
    for (const a of added) {
      const aw = a.split(' ');
      let best = -1;
      let bestShared = 1; // need at least 2 shared words to refine
      unpaired.forEach((r, k) => {
        const shared = r.split(' ').filter((w) => aw.includes(w)).length;
        if (shared > bestShared) {
          best = k;
          bestShared = shared;
        }
      });
      if (best < 0) {
        marks.push({ word: a, kind: 'added' });
        continue;
      }
      const rw = unpaired.splice(best, 1)[0]!.split(' ');
      for (const w of aw) if (!rw.includes(w)) marks.push({ word: w, kind: 'added' });
      for (const w of rw) if (!aw.includes(w)) marks.push({ word: w, kind: 'removed' });
    }
    for (const r of unpaired) marks.push({ word: r, kind: 'removed' });
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
    const marks = promptDiff(texts);
    const label = key === 'prompt' ? 'Prompt' : 'Negative';
    records.forEach((_, i) => {
      // Same phrases, different text (order, punctuation), or the base of a variant set: the text itself.
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

/** One-line summary of what changed from a parent to a child image (lineage edges). */
export function edgeLabel(parent: Comparable, child: Comparable): string {
  const labels = diffParams([parent, child])[1]!;
  if (labels.length === 0) return 'same parameters';
  return labels
    .map((l) =>
      l.words
        ? l.words.map((w) => (w.kind === 'added' ? '+' : '−') + w.word).join(' ')
        : l.field === 'prompt' || l.field === 'negativePrompt'
          ? `${l.label.toLowerCase()} reworded`
          : `${l.label} ${l.value}`,
    )
    .join(' · ');
}
