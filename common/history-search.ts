/**
 * The history search box's language: prompt words, plus field terms for what a studio looks for
 * besides words — `tag:hero` (or `#hero`), `seed:1234`, `model:sd15`, `scheduler:euler a` spelled
 * `scheduler:"euler a"` (also `sampler:`). Values with spaces go in double quotes. A search that is
 * one bare number also finds that seed (the server tries the seed first, then the prompt text).
 *
 * Pure: used by the server (main/app/project-session.ts turns it into library filters) and by the
 * renderer (whether a fresh image belongs in the strip under the current search).
 */

export interface HistorySearch {
  /** The words left for full-text search over prompt + negative prompt ('' when none). */
  text: string;
  tag?: string;
  seed?: number;
  model?: string;
  scheduler?: string;
  /** The whole search was one whole number: a seed, or prompt text if no image has that seed. */
  bareNumber?: number;
}

const FIELDS: Record<string, 'tag' | 'seed' | 'model' | 'scheduler'> = {
  tag: 'tag',
  tags: 'tag',
  seed: 'seed',
  model: 'model',
  scheduler: 'scheduler',
  sampler: 'scheduler',
};

/** Splits on whitespace, keeping "double quoted" runs (with or without a `field:` prefix) together. */
function tokens(input: string): string[] {
  const out: string[] = [];
  const re = /(\S*?)"([^"]*)"?|\S+/g;
  for (const m of input.matchAll(re)) {
    if (m[2] !== undefined) out.push(`${m[1]}\u0000${m[2]}`);
    else out.push(m[0]);
  }
  return out;
}

export function parseHistorySearch(input: string): HistorySearch {
  const words: string[] = [];
  const out: HistorySearch = { text: '' };
  for (const raw of tokens(input.trim())) {
    const quoted = raw.includes('\u0000');
    const [head, quotedValue] = quoted ? raw.split('\u0000') : [raw, undefined];
    const field = /^([A-Za-z]+):(.*)$/.exec(head);
    const key = field ? FIELDS[field[1].toLowerCase()] : undefined;
    if (key) {
      const value = (quotedValue ?? field![2]).trim();
      if (!value) continue; // "tag:" while still typing: no filter yet
      if (key === 'seed') {
        if (/^\d{1,16}$/.test(value)) out.seed = Number(value);
        else words.push(value);
      } else out[key] = value;
      continue;
    }
    if (!quoted && /^#\S/.test(head)) {
      out.tag = head.slice(1);
      continue;
    }
    words.push(quoted ? `${head}${quotedValue}` : head);
  }
  out.text = words.join(' ').trim();
  const onlyNumber = /^\d{1,16}$/.test(out.text) && out.seed === undefined;
  if (onlyNumber && Number.isSafeInteger(Number(out.text))) out.bareNumber = Number(out.text);
  return out;
}

/** True when the search asks for anything (words or fields). */
export function isSearching(s: HistorySearch): boolean {
  return Boolean(s.text || s.tag || s.seed !== undefined || s.model || s.scheduler);
}

/** Scheduler names compared loosely: "Euler a" ≈ "euler_a" ≈ "EulerAncestralDiscreteScheduler" is the server's job; here only case and spacing. */
const loose = (s: string) => s.toLowerCase().replace(/[^a-z0-9+]/g, '');

/**
 * Whether a record fits the search, judged on the client (a fresh generation arriving while a
 * search is shown). Words: every word appears in the prompt or negative prompt, as a word prefix —
 * what the server's full-text search does; fields as the server reads them, approximately.
 */
export function recordMatchesSearch(
  r: { prompt: string; negativePrompt?: string; seed: number; modelId: string; scheduler: string; tags: string[] },
  s: HistorySearch,
): boolean {
  if (s.tag !== undefined && !r.tags.some((t) => t.toLowerCase() === s.tag!.toLowerCase())) return false;
  if (s.seed !== undefined && r.seed !== s.seed) return false;
  if (s.model !== undefined && !r.modelId.toLowerCase().includes(s.model.toLowerCase())) return false;
  if (s.scheduler !== undefined && !loose(r.scheduler).includes(loose(s.scheduler).replace(/scheduler$/, ''))) return false;
  if (s.bareNumber !== undefined && r.seed === s.bareNumber) return true;
  if (!s.text) return true;
  const haystack = `${r.prompt} ${r.negativePrompt ?? ''}`.toLowerCase();
  const have = haystack.match(/[\p{L}\p{N}_]+/gu) ?? [];
  const want = s.text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  return want.every((w) => have.some((h) => h.startsWith(w)));
}
