/**
 * Reads generation metadata from an image someone dropped on the app.
 *
 * Best effort and never throws: every failure becomes a line in `warnings`, which the UI
 * shows so the user knows what was (not) recognised. Sources, in priority order:
 * our own `atelier` JSON chunk, A1111 `parameters`, InvokeAI `invokeai_metadata`,
 * ComfyUI `prompt`/`workflow`. PNG text chunks (tEXt/zTXt/iTXt) are read; for JPEG and
 * WebP the EXIF UserComment / ImageDescription and the XMP packet are.
 *
 * Content credentials (C2PA) need the official c2pa-rs reader, which is asynchronous:
 * `readImageMetadataWithCredentials` returns the same metadata plus `c2pa` (valid / invalid /
 * absent, signer, generator, the generation claim), verified by main/provenance.
 */
import { decodeTextChunk, isPng, readPngChunks } from './png-chunks';
import { infotextToParams, parseInfotext } from './infotext';
import { fromComfy as comfySchedulerName, fromInvoke as invokeSchedulerName } from '../../common/schedulers';
import { generationParamsSchema, type GenerationParams } from './types';
import { paramsFromFileJson } from '../../common/params/generation';
import { readExifText, findInJpeg, findInWebp, isJpeg, isWebp } from './exif';
import { readCredentials, type Credentials } from '../provenance';

export type MetadataSource = 'atelier' | 'a1111' | 'invokeai' | 'comfyui' | 'unknown';

export interface ImageMetadata {
  source: MetadataSource;
  generation?: Partial<GenerationParams>;
  raw: Record<string, string>;
  warnings: string[];
  /** Content credentials: filled only by `readImageMetadataWithCredentials` (reading them is asynchronous). */
  c2pa?: Credentials;
}

export interface ImageMetadataWithCredentials extends ImageMetadata {
  c2pa: Credentials;
}

/**
 * The file's metadata and its content credentials, verified with the official C2PA reader. Never
 * throws. `verify` lets a caller that signs (a project library) recognise its own certificate;
 * by default the credentials are read without knowing which certificates are "ours".
 */
export async function readImageMetadataWithCredentials(
  buffer: Uint8Array,
  opts: { verify?: (bytes: Uint8Array) => Promise<Credentials> } = {},
): Promise<ImageMetadataWithCredentials> {
  const meta = readImageMetadata(buffer);
  const notRead = (why: string): Credentials => ({ state: 'absent', aiGenerated: false, actions: [], chain: [], problems: [], untrusted: false, manifests: 0, warnings: [`content credentials not read: ${why}`] });
  let c2pa: Credentials;
  if (!(buffer instanceof Uint8Array)) c2pa = notRead('input is not a byte buffer');
  else if (buffer.length > MAX_INPUT_BYTES) c2pa = notRead(`file is larger than ${MAX_INPUT_BYTES} bytes`);
  else {
    try {
      c2pa = await (opts.verify ?? readCredentials)(buffer);
    } catch (err) {
      // readCredentials never throws; a caller's verifier might.
      c2pa = { ...notRead((err as Error)?.message ?? String(err)), state: 'unknown' };
    }
  }
  return { ...meta, c2pa };
}

/** Input larger than this is not scanned at all (a 2 GB "PNG" is not a drop target). */
const MAX_INPUT_BYTES = 512 * 1024 * 1024;
/** Raw values longer than this are kept but not JSON-parsed. */
const MAX_JSON_CHARS = 4 * 1024 * 1024;
/** Infotext longer than this is kept raw but not parsed (prompts are a few KB). */
const MAX_INFOTEXT_CHARS = 1024 * 1024;
/** XMP larger than this is not regex-scanned. */
const MAX_XMP_CHARS = 1024 * 1024;

export function readImageMetadata(buffer: Uint8Array): ImageMetadata {
  const warnings: string[] = [];
  const raw: Record<string, string> = {};
  try {
    if (!(buffer instanceof Uint8Array)) {
      warnings.push('input is not a byte buffer');
      return { source: 'unknown', raw, warnings };
    }
    if (buffer.length > MAX_INPUT_BYTES) {
      warnings.push(`file is larger than ${MAX_INPUT_BYTES} bytes; metadata not read`);
      return { source: 'unknown', raw, warnings };
    }
    if (isPng(buffer)) readPngText(buffer, raw, warnings);
    else if (isJpeg(buffer)) readContainerText(findInJpeg(buffer, warnings), raw, warnings);
    else if (isWebp(buffer)) readContainerText(findInWebp(buffer, warnings), raw, warnings);
    else warnings.push('unrecognised image format (expected PNG, JPEG or WebP)');
    return recognise(raw, warnings);
  } catch (err) {
    // Defensive: nothing above should throw, but a drop target must never crash the app.
    warnings.push(`metadata reader failed: ${(err as Error)?.message ?? String(err)}`);
    return { source: 'unknown', raw, warnings };
  }
}

function readPngText(buffer: Uint8Array, raw: Record<string, string>, warnings: string[]): void {
  for (const chunk of readPngChunks(buffer, warnings)) {
    const entry = decodeTextChunk(chunk, warnings);
    if (!entry) continue;
    if (entry.keyword in raw) warnings.push(`duplicate PNG text key "${entry.keyword}"; keeping the first`);
    else raw[entry.keyword] = entry.text;
  }
}

function readContainerText(found: { exif?: Uint8Array; xmp?: string }, raw: Record<string, string>, warnings: string[]): void {
  if (found.exif) {
    const exif = readExifText(found.exif, warnings);
    if (exif.userComment !== undefined) raw['UserComment'] = exif.userComment;
    if (exif.imageDescription !== undefined) raw['ImageDescription'] = exif.imageDescription;
  }
  if (found.xmp !== undefined && found.xmp.length > MAX_XMP_CHARS) {
    warnings.push(`XMP packet too large to scan (${found.xmp.length} chars)`);
    found = { ...found, xmp: undefined };
  }
  if (found.xmp !== undefined) {
    raw['XMP'] = found.xmp;
    const doc = between(found.xmp, '<atelier:document>', '</atelier:document>');
    if (doc) raw['atelier'] = decodeXmlEntities(doc.value);
  }
  // Map container fields onto the PNG keys the recognisers understand.
  for (const candidate of [raw['UserComment'], raw['ImageDescription'], xmpDescription(found.xmp)]) {
    if (!candidate) continue;
    const text = candidate.trim();
    if (text.startsWith('{')) {
      const json = safeJson(text, 'EXIF text', []);
      if (isObject(json) && isObject(json['params'])) {
        if (raw['atelier'] === undefined) raw['atelier'] = text;
      }
      else if (isObject(json) && ('positive_prompt' in json || 'generation_mode' in json) && raw['invokeai_metadata'] === undefined) raw['invokeai_metadata'] = text;
    } else if (raw['parameters'] === undefined && /(^|\n)Steps: /.test(text)) {
      raw['parameters'] = text;
    }
  }
}

/** Text between the first `open` and the next `close` (indexOf: linear on hostile input, unlike lazy regexes). */
function between(text: string, open: string, close: string, from = 0): { value: string; end: number } | undefined {
  const start = text.indexOf(open, from);
  if (start < 0) return undefined;
  const end = text.indexOf(close, start + open.length);
  if (end < 0) return undefined;
  return { value: text.slice(start + open.length, end), end };
}

/** First rdf:li inside the given XMP property (exif:UserComment, else dc:description). */
function xmpDescription(xmp: string | undefined): string | undefined {
  if (!xmp) return undefined;
  for (const prop of ['exif:UserComment', 'dc:description']) {
    const block = between(xmp, `<${prop}>`, `</${prop}>`);
    if (!block) continue;
    const li = block.value.indexOf('<rdf:li');
    if (li < 0) continue;
    const open = block.value.indexOf('>', li);
    const close = block.value.indexOf('</rdf:li>', open);
    if (open < 0 || close < 0) continue;
    return decodeXmlEntities(block.value.slice(open + 1, close));
  }
  return undefined;
}

function decodeXmlEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => safeCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => safeCodePoint(parseInt(d, 10)))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function safeCodePoint(n: number): string {
  return Number.isInteger(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function safeJson(text: string, what: string, warnings: string[]): unknown {
  if (text.length > MAX_JSON_CHARS) {
    warnings.push(`${what} is too large to parse (${text.length} chars)`);
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    warnings.push(`${what} is not valid JSON: ${(err as Error).message}`);
    return undefined;
  }
}

function recognise(raw: Record<string, string>, warnings: string[]): ImageMetadata {
  if (raw['atelier'] !== undefined) {
    const generation = fromAtelier(raw['atelier'], warnings);
    if (generation) return { source: 'atelier', generation, raw, warnings };
  }
  if (raw['parameters'] !== undefined && raw['parameters'].length > MAX_INFOTEXT_CHARS) {
    warnings.push(`A1111 parameters text is ${raw['parameters'].length} chars; too long to parse`);
  } else if (raw['parameters'] !== undefined) {
    const generation = infotextToParams(parseInfotext(raw['parameters']), warnings);
    return { source: 'a1111', generation, raw, warnings };
  }
  if (raw['invokeai_metadata'] !== undefined) {
    const generation = fromInvoke(raw['invokeai_metadata'], warnings);
    if (generation) return { source: 'invokeai', generation, raw, warnings };
  }
  if (raw['prompt'] !== undefined || raw['workflow'] !== undefined) {
    const generation = fromComfy(raw['prompt'], warnings);
    return { source: 'comfyui', generation, raw, warnings };
  }
  return { source: 'unknown', raw, warnings };
}

/** Our own chunk: `{ v: 1, id, params: GenerationParams }`. Validated field by field. */
export function fromAtelier(text: string, warnings: string[]): Partial<GenerationParams> | undefined {
  const json = safeJson(text, 'atelier metadata', warnings);
  if (!isObject(json) || !isObject(json['params'])) {
    if (json !== undefined) warnings.push('atelier metadata has no params object');
    return undefined;
  }
  const fileParams = paramsFromFileJson(json['params']) as Record<string, unknown>;
  const parsed = generationParamsSchema.partial().safeParse(fileParams);
  if (parsed.success) return stripUndefined(parsed.data) as Partial<GenerationParams>;
  // Keep the fields that are individually valid.
  const out: Record<string, unknown> = {};
  const shape = generationParamsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;
  for (const [key, value] of Object.entries(fileParams)) {
    const field = shape[key];
    if (!field) continue;
    const r = field.safeParse(value);
    if (r.success) out[key] = r.data;
    else warnings.push(`atelier metadata field "${key}" is invalid and was ignored`);
  }
  return out as Partial<GenerationParams>;
}

function stripUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const safeInt = (v: unknown) => {
  const n = finite(v);
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

function assign(out: Partial<GenerationParams>, values: Partial<Record<keyof GenerationParams, unknown>>): Partial<GenerationParams> {
  for (const [k, v] of Object.entries(values)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** InvokeAI core metadata (v3+): positive_prompt, negative_prompt, seed, steps, cfg_scale, … */
function fromInvoke(text: string, warnings: string[]): Partial<GenerationParams> | undefined {
  const json = safeJson(text, 'invokeai_metadata', warnings);
  if (!isObject(json)) return undefined;
  const model = isObject(json['model']) ? json['model'] : undefined;
  const scheduler = str(json['scheduler']);
  return assign({}, {
    prompt: str(json['positive_prompt']),
    negativePrompt: str(json['negative_prompt']),
    seed: safeInt(json['seed']),
    steps: safeInt(json['steps']),
    guidanceScale: finite(json['cfg_scale']),
    width: safeInt(json['width']),
    height: safeInt(json['height']),
    scheduler: scheduler ? invokeScheduler(scheduler, warnings) : undefined,
    modelId: str(model?.['name']) ?? str(model?.['model_name']) ?? str(json['model']),
    modelHash: str(model?.['hash']),
    modelFamily: str(model?.['base']) ?? str(model?.['base_model']),
    strength: finite(json['strength']),
    rng: json['rand_device'] === 'cpu' ? 'cpu' : json['rand_device'] === 'cuda' ? 'cuda' : undefined,
  });
}

/** InvokeAI ids (euler, euler_a, dpmpp_2m_k …) through the one scheduler table; problems become warnings. */
function invokeScheduler(name: string, warnings: string[]): string {
  const r = invokeSchedulerName(name);
  warnings.push(...r.notes);
  return r.scheduler;
}

type ComfyNode = { class_type?: unknown; inputs?: Record<string, unknown> };

/** ComfyUI API-format graph in the `prompt` chunk: find the sampler and follow its links. */
function fromComfy(promptText: string | undefined, warnings: string[]): Partial<GenerationParams> | undefined {
  if (promptText === undefined) {
    warnings.push('ComfyUI workflow found but no API-format "prompt" graph; parameters not extracted');
    return undefined;
  }
  const graph = safeJson(promptText, 'ComfyUI prompt', warnings);
  if (!isObject(graph)) return undefined;
  const nodes = graph as Record<string, ComfyNode>;
  const nodeOf = (link: unknown): ComfyNode | undefined => {
    if (!Array.isArray(link) || link.length < 1) return undefined;
    const n = nodes[String(link[0])];
    return isObject(n) ? n : undefined;
  };
  // Follow links through pass-through nodes (conditioning combiners etc.) to find text.
  const textOf = (link: unknown, depth = 0): string | undefined => {
    const node = nodeOf(link);
    if (!node || depth > 16 || !isObject(node.inputs)) return undefined;
    for (const key of ['text', 'text_g', 'prompt']) {
      const v = node.inputs[key];
      if (typeof v === 'string') return v;
      if (Array.isArray(v)) return textOf(v, depth + 1);
    }
    for (const key of ['conditioning', 'conditioning_1', 'conditioning_to']) {
      if (key in node.inputs) return textOf(node.inputs[key], depth + 1);
    }
    return undefined;
  };
  const entries = Object.values(nodes).filter(isObject) as ComfyNode[];
  const sampler = entries.find((n) => typeof n.class_type === 'string' && /KSampler/.test(n.class_type) && isObject(n.inputs));
  if (!sampler || !sampler.inputs) {
    warnings.push('ComfyUI graph has no KSampler node; parameters not extracted');
    return undefined;
  }
  const inp = sampler.inputs;
  const latent = nodeOf(inp['latent_image']);
  const ckpt = entries.find((n) => typeof n.class_type === 'string' && /CheckpointLoader/.test(n.class_type) && isObject(n.inputs));
  const samplerName = str(inp['sampler_name']);
  const schedule = str(inp['scheduler']);
  return assign({}, {
    prompt: textOf(inp['positive']),
    negativePrompt: textOf(inp['negative']),
    seed: safeInt(inp['seed']) ?? safeInt(inp['noise_seed']),
    steps: safeInt(inp['steps']),
    guidanceScale: finite(inp['cfg']),
    width: latent?.inputs ? safeInt(latent.inputs['width']) : undefined,
    height: latent?.inputs ? safeInt(latent.inputs['height']) : undefined,
    scheduler: samplerName ? comfyScheduler(samplerName, schedule, warnings) : undefined,
    modelId: ckpt?.inputs ? str(ckpt.inputs['ckpt_name']) : undefined,
    strength: finite(inp['denoise']) !== undefined && finite(inp['denoise']) !== 1 ? finite(inp['denoise']) : undefined,
  });
}

/** ComfyUI sampler_name + scheduler through the one scheduler table; problems become warnings. */
function comfyScheduler(samplerName: string, schedule: string | undefined, warnings: string[]): string {
  const r = comfySchedulerName(samplerName, schedule);
  warnings.push(...r.notes);
  return r.scheduler;
}
