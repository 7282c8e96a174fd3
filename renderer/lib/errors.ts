/**
 * Turning thrown values into what a toast says: one plain sentence per problem, each said once.
 * The API's validation errors carry `issues` ({ path, message }) and a message that already lists
 * them ("Invalid request for generate: width: must be a multiple of 8"); the issues are the better
 * source, so the message is not repeated after them.
 */
import { AtelierApiError } from '../../common/api/contract';

/** Form names of request fields, so "guidanceScale" reads as the label the user sees. */
const FIELD_NAMES: Record<string, string> = {
  width: 'Width',
  height: 'Height',
  steps: 'Steps',
  guidanceScale: 'CFG',
  guidanceRescale: 'Guidance rescale',
  clipSkip: 'Clip skip',
  seed: 'Seed',
  batchSize: 'Batch',
  negativePrompt: 'Negative prompt',
  prompt: 'Prompt',
  modelId: 'Model',
  initImage: 'Init image',
  maskBlur: 'Mask blur',
  '(payload)': 'The request',
};

/** "outpaint.left" → "Outpaint left"; "guidanceScale" → "CFG". */
export function fieldName(path: string): string {
  if (FIELD_NAMES[path]) return FIELD_NAMES[path];
  const words = path
    .split('.')
    .flatMap((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[\s_]+/))
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  const text = words.join(' ');
  return text ? text[0]!.toUpperCase() + text.slice(1) : 'A value';
}

/** Capital first letter, one full stop at the end. */
export function sentence(text: string): string {
  const t = text.trim().replace(/[ \t]+/g, ' ');
  if (!t) return '';
  const capital = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/** "width" + "must be a multiple of 8" → "Width must be a multiple of 8." */
export function issueSentence(issue: { path: string; message: string }): string {
  const msg = issue.message.trim().replace(/\.$/, '');
  // zod's defaults start with a capital ("Too big: expected…"); ours complete the field's name.
  return /^[A-Z]/.test(msg) ? sentence(`${fieldName(issue.path)}: ${msg}`) : sentence(`${fieldName(issue.path)} ${msg}`);
}

/** Drop a trailing "(…)" that only repeats what the message already says. */
function withoutEcho(message: string): string {
  const m = /^(.*\S)\s*\(([^()]*)\)\s*$/.exec(message.trim());
  if (m && m[1]!.includes(m[2]!.trim())) return m[1]!;
  return message;
}

/** Readable message for any thrown value: one sentence per problem, no repeats. */
export function describeError(err: unknown): string {
  if (err instanceof AtelierApiError && err.issues && err.issues.length > 0) {
    // One sentence per field: a value out of range may also fail the step check; the first says it.
    const seen = new Set<string>();
    const out: string[] = [];
    for (const issue of err.issues) {
      if (seen.has(issue.path)) continue;
      seen.add(issue.path);
      const s = issueSentence(issue);
      if (!out.includes(s)) out.push(s);
    }
    return out.join(' ');
  }
  // Other messages are the engine's or the server's own words: said once, otherwise unchanged
  // (multi-line ones are lists, a validator's "\n  - problem" lines, and keep their layout).
  const raw = (err instanceof Error ? err.message : typeof err === 'string' ? err : String(err)).trim();
  return (raw.includes('\n') ? raw : withoutEcho(raw)) || 'Something went wrong.';
}
