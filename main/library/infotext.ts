/**
 * A1111 "infotext" (the `parameters` PNG chunk) — parse and format.
 *
 * Pure module (no Node or DOM imports) so the renderer may use it too.
 * Parsing follows AUTOMATIC1111's `parse_generation_parameters`
 * (modules/infotext_utils.py): the last line holds `Key: value` pairs when it has at least
 * three of them, values may be JSON-quoted, a `Negative prompt:` line starts the negative
 * prompt (which may span lines), and `WxH` values are split into `Key-1` / `Key-2`.
 * Unlike A1111 we do not inject UI defaults (Clip skip 1, RNG GPU …): `params` holds only
 * what the text says.
 */
import type { GenerationParams, RngKind } from './types';

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

// ---------------------------------------------------------------------------------------
// Scheduler <-> A1111 sampler names

interface SamplerName {
  sampler: string;
  /** A1111 "Schedule type", omitted when automatic. */
  scheduleType?: string;
}

/** diffusers scheduler class (without the "Scheduler" suffix, lower-cased) -> A1111 sampler. */
const DIFFUSERS_TO_A1111: Readonly<Record<string, string>> = Object.freeze({
  eulerdiscrete: 'Euler',
  eulerancestraldiscrete: 'Euler a',
  dpmsolvermultistep: 'DPM++ 2M',
  dpmsolversinglestep: 'DPM++ SDE',
  dpmsolversde: 'DPM++ SDE',
  kdpm2discrete: 'DPM2',
  kdpm2ancestraldiscrete: 'DPM2 a',
  heundiscrete: 'Heun',
  lmsdiscrete: 'LMS',
  ddim: 'DDIM',
  ddpm: 'DDPM',
  pndm: 'PLMS',
  unipcmultistep: 'UniPC',
  lcm: 'LCM',
  deismultistep: 'DEIS',
  tcd: 'TCD',
  edmeuler: 'Euler',
  eulerdiscretekarras: 'Euler',
});

/** Short ids some UIs use (euler_a, dpmpp_2m …) -> diffusers class name. */
const SHORT_IDS: Readonly<Record<string, string>> = Object.freeze({
  euler: 'EulerDiscreteScheduler',
  eulera: 'EulerAncestralDiscreteScheduler',
  eulerancestral: 'EulerAncestralDiscreteScheduler',
  dpmpp2m: 'DPMSolverMultistepScheduler',
  dpmsolver: 'DPMSolverMultistepScheduler',
  dpmppsde: 'DPMSolverSinglestepScheduler',
  dpmpp2msde: 'DPMSolverMultistepScheduler',
  dpm2: 'KDPM2DiscreteScheduler',
  dpm2a: 'KDPM2AncestralDiscreteScheduler',
  heun: 'HeunDiscreteScheduler',
  lms: 'LMSDiscreteScheduler',
  ddim: 'DDIMScheduler',
  ddpm: 'DDPMScheduler',
  pndm: 'PNDMScheduler',
  plms: 'PNDMScheduler',
  unipc: 'UniPCMultistepScheduler',
  lcm: 'LCMScheduler',
  deis: 'DEISMultistepScheduler',
  tcd: 'TCDScheduler',
});

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\+\+/g, 'pp').replace(/[^a-z0-9]/g, '');
}

/**
 * Maps a scheduler id (diffusers class name or a short id, optionally mentioning
 * "karras" / "sde") to A1111's sampler + schedule type. Unknown names pass through.
 */
export function schedulerToA1111(scheduler: string): SamplerName {
  const karras = /karras/i.test(scheduler);
  const sde = /sde/i.test(scheduler);
  let key = normaliseName(scheduler).replace(/karras/g, '');
  key = key.replace(/scheduler$/, '');
  let sampler = DIFFUSERS_TO_A1111[key];
  if (!sampler) {
    const viaShort = SHORT_IDS[key];
    if (viaShort) sampler = DIFFUSERS_TO_A1111[normaliseName(viaShort).replace(/scheduler$/, '')];
  }
  if (!sampler) return { sampler: scheduler };
  if (sampler === 'DPM++ 2M' && sde) sampler = 'DPM++ 2M SDE';
  return karras ? { sampler, scheduleType: 'Karras' } : { sampler };
}

/** A1111 sampler (+ schedule type) -> diffusers scheduler class name, or the input unchanged. */
export function a1111ToScheduler(sampler: string, scheduleType?: string): string {
  let key = sampler.trim();
  // Old A1111 names carry the schedule in the sampler: "DPM++ 2M Karras".
  let karras = /karras/i.test(scheduleType ?? '');
  if (/\bkarras$/i.test(key)) {
    karras = true;
    key = key.replace(/\s*karras$/i, '');
  }
  const table: Record<string, string> = {
    'euler': 'EulerDiscreteScheduler',
    'euler a': 'EulerAncestralDiscreteScheduler',
    'dpm++ 2m': 'DPMSolverMultistepScheduler',
    'dpm++ 2m sde': 'DPMSolverMultistepScheduler',
    'dpm++ sde': 'DPMSolverSinglestepScheduler',
    'dpm2': 'KDPM2DiscreteScheduler',
    'dpm2 a': 'KDPM2AncestralDiscreteScheduler',
    'heun': 'HeunDiscreteScheduler',
    'lms': 'LMSDiscreteScheduler',
    'ddim': 'DDIMScheduler',
    'ddpm': 'DDPMScheduler',
    'plms': 'PNDMScheduler',
    'unipc': 'UniPCMultistepScheduler',
    'lcm': 'LCMScheduler',
    'deis': 'DEISMultistepScheduler',
    'tcd': 'TCDScheduler',
  };
  const found = table[key.toLowerCase()];
  if (!found) return sampler;
  return karras ? `${found}+karras` : found;
}

function rngToA1111(rng: RngKind): string {
  return rng === 'cpu' ? 'CPU' : 'GPU';
}

export function a1111ToRng(value: string | undefined): RngKind | undefined {
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
 * `prompt\nNegative prompt: …\nSteps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7,
 * Seed: 1, Size: 512x512, Model hash: 0123456789, Model: sd15, …`.
 * `extra` pairs are appended verbatim (quoted when needed).
 */
export function formatInfotext(params: Partial<GenerationParams>, extra: Record<string, string | number> = {}): string {
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
  add('CFG scale', params.cfg);
  add('Seed', params.seed);
  if (params.width && params.height) add('Size', `${params.width}x${params.height}`);
  if (params.modelHash) add('Model hash', params.modelHash.slice(0, 10));
  add('Model', params.modelId);
  add('Denoising strength', params.strength ?? undefined);
  if (params.rng) add('RNG', rngToA1111(params.rng));
  if (params.batchIndex) add('Batch pos', params.batchIndex);
  // A1111 writes Clip skip only above 1 (its default), and reads its absence as 1.
  if (params.clipSkip !== undefined && params.clipSkip > 1) add('Clip skip', params.clipSkip);
  for (const [k, v] of Object.entries(extra)) add(k, v);
  add('Version', params.appVersion ? `Atelier ${params.appVersion}` : undefined);

  const lines: string[] = [params.prompt ?? ''];
  if (params.negativePrompt) lines.push(`${NEGATIVE_PREFIX} ${params.negativePrompt}`);
  lines.push(pairs.map(([k, v]) => `${k}: ${quote(v)}`).join(', '));
  return lines.join('\n');
}

/** Best-effort conversion of parsed A1111 infotext to our parameter names. */
export function infotextToParams(parsed: ParsedInfotext): Partial<GenerationParams> {
  const p = parsed.params;
  const out: Partial<GenerationParams> = { prompt: parsed.prompt, negativePrompt: parsed.negativePrompt };
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
  if (cfg !== undefined) out.cfg = cfg;
  const seed = int(p['Seed']);
  if (seed !== undefined && seed >= 0) out.seed = seed;
  const width = int(p['Size-1']);
  const height = int(p['Size-2']);
  if (width !== undefined && height !== undefined) {
    out.width = width;
    out.height = height;
  }
  if (p['Sampler']) out.scheduler = a1111ToScheduler(p['Sampler'], p['Schedule type']);
  if (p['Model']) out.modelId = p['Model'];
  if (p['Model hash']) out.modelHash = p['Model hash'];
  const strength = num(p['Denoising strength']);
  if (strength !== undefined) out.strength = strength;
  const rng = a1111ToRng(p['RNG']);
  if (rng) out.rng = rng;
  const clipSkip = int(p['Clip skip']);
  if (clipSkip !== undefined && clipSkip >= 1 && clipSkip <= 12) out.clipSkip = clipSkip;
  return out;
}
