/**
 * A1111 "infotext" (the `parameters` PNG chunk, and what "Copy parameters" puts on the clipboard):
 * the one writer and the one parser, shared by the Node side (saved PNGs, exports) and the
 * renderer (clipboard), so both write the same text for the same image.
 *
 * Parsing follows AUTOMATIC1111's `parse_generation_parameters` (modules/infotext_utils.py): the
 * last line holds `Key: value` pairs when it has at least three of them, values may be JSON-quoted,
 * a `Negative prompt:` line starts the negative prompt (which may span lines), and `WxH` values are
 * split into `Key-1` / `Key-2`. Unlike A1111 we do not inject UI defaults (Clip skip 1, RNG GPU …):
 * `params` holds only what the text says.
 *
 * Sampler names come from the one scheduler table (`common/schedulers.ts`). Pure: no Node, no DOM.
 */
import { fromA1111, schedulerToA1111 } from './schedulers';

export { a1111ToScheduler, schedulerToA1111 } from './schedulers';

import type { GenerationParams, LoraHash, RngKind } from './params/generation';
import { CONTROLNET_KEY_RE, formatControlNetUnit, parseControlNetUnits } from './controlnet-infotext';

export type { LoraHash } from './params/generation';
export type InfotextRng = RngKind;

/** The parameters the infotext carries: a subset of the one GenerationParams schema, same names. */
export type InfotextParams = Pick<
  GenerationParams,
  'prompt' | 'negativePrompt' | 'steps' | 'scheduler' | 'guidanceScale' | 'seed' | 'width' | 'height' | 'modelHash' | 'modelId' | 'strength' | 'rng' | 'batchIndex' | 'batchSize' | 'clipSkip' | 'appVersion' | 'controlNets'
> & {
  /** LoRAs merged for this image: written as A1111's `Lora hashes` (name: first 12 hex digits of the addnet hash). */
  loraHashes: LoraHash[];
};

export interface ParsedInfotext {
  prompt: string;
  negativePrompt: string;
  params: Record<string, string>;
}

// A1111's re_param_code with Python's Unicode \w — but with bounded repetition: unbounded,
// a long line without ':' backtracks quadratically (60 KB took 1.6 s), and infotext comes from
// untrusted files. Real keys are short and quoted values a few KB.
const PARAM_RE = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]{1,63}):\s*("(?:\\.|[^\\"]){1,16384}"|[^,]*)(?:,|$)/gu;
const IMAGE_SIZE_RE = /^(\d+)x(\d+)$/;
const NEGATIVE_PREFIX = 'Negative prompt:';

function unquote(text: string): string {
  if (text.length === 0 || text[0] !== '"' || text[text.length - 1] !== '"') return text;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'string' ? value : text;
  } catch {
    return text;
  }
}

/** A1111's quote(): JSON-quote values that would break the `k: v, k: v` line. */
function quote(value: string): string {
  if (!value.includes(',') && !value.includes('\n') && !value.includes(':')) return value;
  return JSON.stringify(value);
}

function findParams(line: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of line.matchAll(PARAM_RE)) out.push([m[1], m[2]]);
  return out;
}

export function parseInfotext(text: string): ParsedInfotext {
  const lines = String(text ?? '').trim().split('\n');
  let lastLine = lines.pop() ?? '';
  if (findParams(lastLine).length < 3) {
    lines.push(lastLine);
    lastLine = '';
  }

  let prompt = '';
  let negativePrompt = '';
  let doneWithPrompt = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith(NEGATIVE_PREFIX)) {
      doneWithPrompt = true;
      line = line.slice(NEGATIVE_PREFIX.length).trim();
    }
    if (doneWithPrompt) negativePrompt += (negativePrompt === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }

  const params: Record<string, string> = {};
  for (const [key, rawValue] of findParams(lastLine)) {
    const value = rawValue.length > 0 && rawValue[0] === '"' && rawValue[rawValue.length - 1] === '"' ? unquote(rawValue) : rawValue;
    const size = IMAGE_SIZE_RE.exec(value);
    if (size) {
      params[`${key}-1`] = size[1];
      params[`${key}-2`] = size[2];
    } else {
      params[key] = value;
    }
  }
  return { prompt, negativePrompt, params };
}

function rngToA1111(rng: InfotextRng): string {
  return rng === 'cpu' ? 'CPU' : 'GPU';
}

export function a1111ToRng(value: string | undefined): InfotextRng | undefined {
  if (!value) return undefined;
  const v = value.trim().toUpperCase();
  if (v === 'CPU') return 'cpu';
  if (v === 'GPU' || v === 'NV') return 'cuda';
  return undefined;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/**
 * Formats generation parameters the way A1111 writes them, e.g.
 * `prompt\nNegative prompt: …\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7,
 * Seed: 1, Size: 512x512, Model hash: 0123456789, Model: sd15, Denoising strength: 0.5, RNG: CPU, …`.
 * `extra` pairs are appended verbatim (quoted when needed).
 */
export function formatInfotext(params: Partial<InfotextParams>, extra: Record<string, string | number> = {}): string {
  const pairs: Array<[string, string]> = [];
  const add = (k: string, v: string | number | null | undefined) => {
    if (v === undefined || v === null || v === '') return;
    pairs.push([k, typeof v === 'number' ? formatNumber(v) : v]);
  };
  add('Steps', params.steps);
  if (params.scheduler) {
    const { sampler, scheduleType } = schedulerToA1111(params.scheduler);
    add('Sampler', sampler);
    add('Schedule type', scheduleType);
  }
  add('CFG scale', params.guidanceScale);
  add('Seed', params.seed);
  if (params.width && params.height) add('Size', `${params.width}x${params.height}`);
  if (params.modelHash) add('Model hash', params.modelHash.slice(0, 10));
  add('Model', params.modelId);
  add('Denoising strength', params.strength ?? undefined);
  if (params.rng) add('RNG', rngToA1111(params.rng));
  // A1111 writes both only for batches of 2 or more.
  if (params.batchSize && params.batchSize > 1) add('Batch size', params.batchSize);
  if (params.batchIndex) add('Batch pos', params.batchIndex);
  // A1111 writes Clip skip only above 1 (its default), and reads its absence as 1.
  if (params.clipSkip !== undefined && params.clipSkip > 1) add('Clip skip', params.clipSkip);
  if (params.loraHashes && params.loraHashes.length > 0) add('Lora hashes', formatLoraHashes(params.loraHashes));
  // The sd-webui-controlnet extension's `ControlNet <i>` lines (common/controlnet-infotext.ts).
  for (const [i, unit] of (params.controlNets ?? []).entries()) add(`ControlNet ${i}`, formatControlNetUnit(unit));
  for (const [k, v] of Object.entries(extra)) add(k, v);
  add('Version', params.appVersion ? `Atelier ${params.appVersion}` : undefined);

  const lines: string[] = [params.prompt ?? ''];
  if (params.negativePrompt) lines.push(`${NEGATIVE_PREFIX} ${params.negativePrompt}`);
  lines.push(pairs.map(([k, v]) => `${k}: ${quote(v)}`).join(', '));
  return lines.join('\n');
}

/** Keys `infotextToParams` reads; any other key is named in its notes as not applied. */
const READ_KEYS = new Set(['Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size-1', 'Size-2', 'Model', 'Model hash', 'Denoising strength', 'RNG', 'Clip skip', 'Lora hashes']);
/** Keys that describe the image without changing it (nothing to apply). */
const INFORMATIONAL_KEYS = new Set(['Version', 'Batch pos', 'Batch size', 'Emphasis', 'TI hashes', 'Pad conds', 'Hashes']);

/**
 * A1111's `Lora hashes` value (extensions-builtin/Lora/extra_networks_lora.py): `name: hash, …` with
 * `:` and `,` removed from names and the 12-digit short hash.
 */
export function formatLoraHashes(list: readonly LoraHash[]): string {
  return list.map((l) => `${l.name.replace(/[:,]/g, '')}: ${l.hash.slice(0, 12)}`).join(', ');
}

/** Parse `name: hash, name2: hash2` (A1111 splits on `,` then on the first `:`); malformed parts are skipped. */
export function parseLoraHashes(value: string | undefined): LoraHash[] {
  if (!value) return [];
  const out: LoraHash[] = [];
  for (const part of value.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) continue;
    const name = part.slice(0, colon).trim();
    const hash = part.slice(colon + 1).trim().toLowerCase();
    if (name && /^[0-9a-f]{8,64}$/.test(hash)) out.push({ name, hash });
  }
  return out;
}

/**
 * What A1111 does when infotext is pasted (`infotext_pasted` in extra_networks_lora.py): each
 * `<lora:alias:` in the prompt whose alias has a hash in `Lora hashes` is renamed to the local
 * LoRA with that hash (`lookup`: 12-digit hash → local name, or null). `missing` lists the names
 * whose hash matches no local LoRA, so the UI can say which files to get.
 */
export function restoreLoraNames(prompt: string, hashes: readonly LoraHash[], lookup: (shortHash: string) => string | null): { prompt: string; missing: LoraHash[] } {
  const missing: LoraHash[] = [];
  const byName = new Map(hashes.map((h) => [h.name, h]));
  const resolved = new Map<string, string | null>();
  for (const h of hashes) {
    const local = lookup(h.hash.slice(0, 12));
    resolved.set(h.name, local);
    if (!local) missing.push(h);
  }
  const out = prompt.replace(/<lora:([^:>]+)([:>])/g, (whole, alias: string, end: string) => {
    const h = byName.get(alias.replace(/[:,]/g, ''));
    const local = h ? resolved.get(h.name) : null;
    return local ? `<lora:${local}${end}` : whole;
  });
  return { prompt: out, missing };
}

/**
 * Best-effort conversion of parsed A1111 infotext to our parameter names. `notes`, when given,
 * receives one sentence per thing in the text that could not be taken over (an unknown sampler,
 * a schedule Atelier does not run, settings Atelier does not have).
 */
export function infotextToParams(parsed: ParsedInfotext, notes?: string[]): Partial<InfotextParams> {
  const p = parsed.params;
  const out: Partial<InfotextParams> = { prompt: parsed.prompt, negativePrompt: parsed.negativePrompt };
  const int = (v: string | undefined) => {
    if (v === undefined || !/^-?\d+$/.test(v.trim())) return undefined;
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  };
  const num = (v: string | undefined) => {
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const steps = int(p['Steps']);
  if (steps !== undefined) out.steps = steps;
  const cfg = num(p['CFG scale']);
  if (cfg !== undefined) out.guidanceScale = cfg;
  const seed = int(p['Seed']);
  if (seed !== undefined && seed >= 0) out.seed = seed;
  const width = int(p['Size-1']);
  const height = int(p['Size-2']);
  if (width !== undefined && height !== undefined) {
    out.width = width;
    out.height = height;
  }
  if (p['Sampler']) {
    const s = fromA1111(p['Sampler'], p['Schedule type']);
    out.scheduler = s.scheduler;
    notes?.push(...s.notes);
  } else if (p['Schedule type']) {
    notes?.push(`Schedule type “${p['Schedule type']}” — the text names no sampler to apply it to`);
  }
  if (p['Model']) out.modelId = p['Model'];
  if (p['Model hash']) out.modelHash = p['Model hash'];
  const strength = num(p['Denoising strength']);
  if (strength !== undefined) out.strength = strength;
  const rng = a1111ToRng(p['RNG']);
  if (rng) out.rng = rng;
  else if (p['RNG']) notes?.push(`RNG “${p['RNG']}” — Atelier has CPU and GPU noise only`);
  const clipSkip = int(p['Clip skip']);
  if (clipSkip !== undefined && clipSkip >= 1 && clipSkip <= 12) out.clipSkip = clipSkip;
  else if (p['Clip skip'] !== undefined) notes?.push(`Clip skip ${p['Clip skip']} — must be a whole number from 1 to 12`);
  const loraHashes = parseLoraHashes(p['Lora hashes']);
  if (loraHashes.length > 0) out.loraHashes = loraHashes;
  const controlNets = parseControlNetUnits(p, notes);
  if (controlNets.length > 0) out.controlNets = controlNets;
  if (notes) {
    const unused = Object.keys(p).filter((k) => !READ_KEYS.has(k) && !CONTROLNET_KEY_RE.test(k) && !INFORMATIONAL_KEYS.has(k) && !k.startsWith('Size-'));
    const names = [...new Set(unused.map((k) => k.replace(/-[12]$/, '')))];
    if (names.length > 0) notes.push(`${names.join(', ')} — Atelier has no such setting`);
  }
  return out;
}
