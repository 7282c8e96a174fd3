/**
 * `inspectModel(folder)`: everything about a diffusers-ONNX folder that can be
 * checked without creating sessions — model_index.json, component folders and
 * model.onnx files, external-data files the graphs reference (and whether they
 * are long enough), config.json files, the scheduler config and the tokenizer.
 * Every defect becomes a ModelLoadError naming the file.
 */
import type { PipelineFamily } from '../../common/model-families';
import { existsSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ModelLoadError, type ModelLoadErrorCode } from './model-errors';
import { createScheduler, SUPPORTED_SCHEDULERS } from './schedulers';
import type { SchedulerConfig } from './schedulers/types';
import { EOS_TOKEN, tokenString } from './tokenizer';

/** Scheduler classes the engine implements (from the scheduler factory). */
export { SUPPORTED_SCHEDULERS };

export type ComponentName = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder' | 'vae_encoder';

export interface ComponentFiles {
  name: ComponentName;
  dir: string;
  /** Absolute path of `<component>/model.onnx`. */
  model: string;
  modelBytes: number;
  /** External-data files the graph references (absolute paths), with the bytes the graph needs from each. */
  externalData: Array<{ path: string; requiredBytes: number }>;
  /** Parsed `<component>/config.json` when present (optimum writes one per component). */
  config?: Record<string, unknown>;
}

export interface ModelInfo {
  folder: string;
  /** model_index.json `_class_name` (OnnxStableDiffusionPipeline, ORTStableDiffusionPipeline, …). */
  pipelineClass: string;
  modelIndex: Record<string, unknown>;
  components: Partial<Record<ComponentName, ComponentFiles>> & Pick<Record<ComponentName, ComponentFiles>, 'text_encoder' | 'unet' | 'vae_decoder'>;
  tokenizerDir: string;
  tokenizer2Dir?: string;
  /** Pad token from special_tokens_map.json / tokenizer_config.json. */
  padToken: string;
  schedulerConfig: SchedulerConfig;
  /** VAE latent scaling factor (vae_decoder/config.json, else 0.18215, or 0.13025 when text_encoder_2 exists). */
  scalingFactor: number;
  /** Pad token of tokenizer_2 (SDXL: `!`, id 0, where tokenizer/ pads with `<|endoftext|>`). */
  padToken2?: string;
  /** SDXL: an empty negative prompt becomes zero embeddings (model_index.json; diffusers' default is true). */
  forceZerosForEmptyPrompt: boolean;
  /** SDXL refiner-style micro-conditioning with an aesthetic score (model_index.json `requires_aesthetics_score`). */
  requiresAestheticsScore: boolean;
  /** `vae_decoder/config.json` `force_upcast` (the SDXL VAE overflows in fp16). */
  vaeForceUpcast: boolean;
  /** Family guessed from the config files alone (the loader confirms it from the graphs). */
  family: ModelFamily;
  /** Guidance-distilled SD-Turbo / SDXL-Turbo (trailing timestep spacing, no CFG). */
  turbo: boolean;
  /** Settings the model is meant to be run with. */
  defaults: RecommendedDefaults;
}

/** What the engine detects from the graphs (common/model-families.ts). */
export type ModelFamily = PipelineFamily;

/** Recommended generation settings for a model (same keys as the API's ModelSummary.defaults, plus scheduler options). */
export interface RecommendedDefaults {
  steps: number;
  guidanceScale: number;
  /** diffusers scheduler class name. */
  scheduler: string;
  schedulerOptions?: { timestep_spacing?: 'leading' | 'trailing' | 'linspace' };
  width: number;
  height: number;
}

export interface FamilyEvidence {
  /** UNet takes SDXL `text_embeds` / `time_ids`, or a text_encoder_2 exists. */
  sdxl: boolean;
  /** UNet takes `timestep_cond` / has `time_cond_proj_dim`, or the scheduler is LCMScheduler. */
  lcm: boolean;
  predictionType: string;
  timestepSpacing: string | undefined;
  /** Text encoder is OpenCLIP-H (hidden 1024) or pads with `!` (SD2.x / SD-Turbo). */
  sd2Text: boolean;
}

/** One place that turns evidence (graphs or config files) into a family; `turbo` = distilled for 1–4 steps without CFG. */
export function classifyFamily(e: FamilyEvidence): { family: ModelFamily; turbo: boolean } {
  const trailing = e.timestepSpacing === 'trailing';
  if (e.sdxl) return { family: 'sdxl', turbo: trailing && e.predictionType !== 'v_prediction' };
  if (e.lcm) return { family: 'lcm', turbo: false };
  if (e.predictionType === 'v_prediction') return { family: 'sd2-v', turbo: false };
  if (trailing && e.sd2Text) return { family: 'sd-turbo', turbo: true };
  return { family: e.sd2Text ? 'sd2' : 'sd1', turbo: false };
}

/**
 * What a model is meant to run with. Turbo: guidance 0 (no CFG batch) with trailing spacing and
 * 4 steps rather than the 1 that txt2img needs, so img2img at the usual strength 0.75 still runs
 * int(4·0.75) = 3 steps; LCM: 4 steps at guidance 8.5 (diffusers' default, fed as the w-embedding);
 * base models: diffusers' guidance defaults (7.5 SD, 5 SDXL) at 30 steps. Size = UNet sample_size·8.
 */
export function recommendedDefaults(
  kind: { family: ModelFamily; turbo: boolean },
  schedulerConfig: SchedulerConfig,
  unetConfig: Record<string, unknown> | undefined,
): RecommendedDefaults {
  const sampleSize = typeof unetConfig?.sample_size === 'number' && unetConfig.sample_size > 0 ? unetConfig.sample_size * 8 : null;
  const scheduler = String(schedulerConfig._class_name ?? 'EulerDiscreteScheduler');
  const nativeSize = kind.family === 'sdxl' ? 1024 : kind.family === 'sd2-v' ? 768 : 512;
  if (kind.turbo) {
    // SDXL-Turbo keeps SDXL's sample_size (1024) in its config but is trained at 512².
    const side = Math.min(sampleSize ?? 512, 512);
    return { steps: 4, guidanceScale: 0, scheduler, schedulerOptions: { timestep_spacing: 'trailing' }, width: side, height: side };
  }
  const side = sampleSize ?? nativeSize;
  if (kind.family === 'lcm') return { steps: 4, guidanceScale: 8.5, scheduler: 'LCMScheduler', width: side, height: side };
  return { steps: 30, guidanceScale: kind.family === 'sdxl' ? 5 : 7.5, scheduler, width: side, height: side };
}

function fail(file: string, code: ModelLoadErrorCode, problem: string, expected: string, hint?: string, cause?: unknown): never {
  throw new ModelLoadError({ file, code, problem, expected, hint, cause });
}

function readJson(file: string, expected: string, required: true): Record<string, unknown>;
function readJson(file: string, expected: string, required: false): Record<string, unknown> | undefined;
function readJson(file: string, expected: string, required: boolean): Record<string, unknown> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    fail(file, 'missing-file', 'file is missing', expected);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(file, 'bad-json', `is not valid JSON (${(err as Error).message})`, expected, undefined, err);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail(file, 'bad-json', 'is not a JSON object', expected);
  return value as Record<string, unknown>;
}

const MAX_SCAN_BYTES = 64 * 1024 * 1024;

/**
 * External-data references live in TensorProto.external_data as protobuf
 * StringStringEntryProto {1: key, 2: value}; the wire bytes are
 * `0A <len> key 12 <len> value`. Scanning for them avoids a protobuf dependency.
 * Only graphs < 64 MB are scanned (external-data graphs are small; big files are self-contained).
 */
export function scanExternalData(modelPath: string): Array<{ location: string; requiredBytes: number }> {
  const size = statSync(modelPath).size;
  if (size > MAX_SCAN_BYTES) return [];
  const buf = readFileSync(modelPath);
  type Hit = { pos: number; key: string; value: string };
  const hits: Hit[] = [];
  for (const key of ['location', 'offset', 'length']) {
    const needle = Buffer.concat([Buffer.from([0x0a, key.length]), Buffer.from(key), Buffer.from([0x12])]);
    for (let pos = buf.indexOf(needle); pos >= 0; pos = buf.indexOf(needle, pos + 1)) {
      let p = pos + needle.length;
      let len = 0;
      let shift = 0;
      for (;;) {
        const b = buf[p++];
        if (b === undefined) break;
        len |= (b & 0x7f) << shift;
        if (b < 0x80) break;
        shift += 7;
        if (shift > 28) break;
      }
      if (len <= 0 || len > 4096 || p + len > buf.length) continue;
      hits.push({ pos, key, value: buf.subarray(p, p + len).toString('utf8') });
    }
  }
  hits.sort((a, b) => a.pos - b.pos);
  // Entries of one tensor are contiguous: location, offset, length in any order; group by proximity.
  const need = new Map<string, number>();
  // offset/length start at -1 = "not seen in this tensor yet".
  let cur: { location?: string; offset: number; length: number } | null = null;
  let lastPos = -Infinity;
  const flush = () => {
    if (cur?.location) {
      const end = Math.max(0, cur.offset) + Math.max(0, cur.length);
      need.set(cur.location, Math.max(need.get(cur.location) ?? 0, end));
    }
  };
  for (const h of hits) {
    const seen = cur && (h.key === 'location' ? cur.location !== undefined : cur[h.key as 'offset' | 'length'] >= 0);
    if (!cur || h.pos - lastPos > 600 || seen) {
      flush();
      cur = { offset: -1, length: -1 };
    }
    lastPos = h.pos;
    if (h.key === 'location') cur.location = h.value;
    else if (/^\d+$/.test(h.value)) cur[h.key as 'offset' | 'length'] = Number(h.value);
  }
  flush();
  return [...need].map(([location, requiredBytes]) => ({ location, requiredBytes }));
}

function inspectComponent(folder: string, name: ComponentName, required: boolean): ComponentFiles | undefined {
  const dir = join(folder, name);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    if (!required) return undefined;
    const flat = join(folder, `${name}.onnx`);
    fail(
      dir,
      'missing-file',
      'component folder is missing',
      `a "${name}/" folder containing model.onnx (diffusers ONNX layout)`,
      existsSync(flat) ? `Found ${name}.onnx at the top level: this is an old non-diffusers layout; re-export with optimum.` : undefined,
    );
  }
  const model = join(dir, 'model.onnx');
  if (!existsSync(model)) {
    fail(model, 'missing-file', 'file is missing', `the ${name} ONNX graph at ${name}/model.onnx`);
  }
  const modelBytes = statSync(model).size;
  if (modelBytes === 0) fail(model, 'corrupt-onnx', 'file is empty (0 bytes)', `a complete ONNX model; re-download ${name}/model.onnx`);
  const sniffed = sniffNonModelFile(model);
  if (sniffed) fail(model, 'corrupt-onnx', sniffed.problem, `the ${name} ONNX graph (protobuf)`, sniffed.hint);
  const externalData: ComponentFiles['externalData'] = [];
  for (const { location, requiredBytes } of scanExternalData(model)) {
    const path = resolve(dir, location);
    if (relative(dir, path).startsWith('..')) {
      fail(model, 'corrupt-onnx', `references external data outside its folder ("${location}")`, 'external data files next to model.onnx');
    }
    if (!existsSync(path)) {
      fail(
        path,
        'missing-external-data',
        `external weights file is missing (referenced by ${name}/model.onnx)`,
        `"${location}" next to ${name}/model.onnx, with at least ${requiredBytes} bytes`,
        'Do not rename external-data files: the name is stored inside model.onnx.',
      );
    }
    const have = statSync(path).size;
    const sniffedData = have > 0 ? sniffNonModelFile(path) : null;
    if (sniffedData) {
      fail(path, 'missing-external-data', sniffedData.problem, `the external weights of ${name}/model.onnx (${requiredBytes} bytes)`, sniffedData.hint);
    }
    if (have < requiredBytes) {
      fail(
        path,
        'missing-external-data',
        `external weights file is truncated (${have} bytes)`,
        `at least ${requiredBytes} bytes as referenced by ${name}/model.onnx; re-download it`,
      );
    }
    externalData.push({ path, requiredBytes });
  }
  const config = readJson(join(dir, 'config.json'), `a JSON object with the ${name} configuration`, false);
  return { name, dir, model, modelBytes, externalData, config };
}

/**
 * Files that are not model data at all, from broken downloads: Git LFS pointers
 * (cloned without `git lfs pull`) and HTML error/login pages. Returns the problem, or null.
 */
export function sniffNonModelFile(file: string): { problem: string; hint: string } | null {
  const fd = openSync(file, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, 64, 0);
    head = buf.subarray(0, n).toString('latin1');
  } finally {
    closeSync(fd);
  }
  if (head.startsWith('version https://git-lfs')) {
    return { problem: 'is a Git LFS pointer file, not the model data', hint: 'The repository was cloned without its LFS objects: run `git lfs pull` in the model folder or download the file directly.' };
  }
  if (/^\s*<(!doctype html|html|\?xml)/i.test(head)) {
    return { problem: 'is an HTML/XML page, not model data (a failed or redirected download)', hint: 'Download the file again.' };
  }
  return null;
}

function inspectTokenizer(dir: string): string {
  // Pad tokens differ between tokenizer/ and tokenizer_2/ of one SDXL model: always read each folder's own files.
  if (!existsSync(dir)) fail(dir, 'tokenizer', 'tokenizer folder is missing', 'a "tokenizer/" folder with vocab.json and merges.txt');
  const vocab = join(dir, 'vocab.json');
  const merges = join(dir, 'merges.txt');
  if (!existsSync(vocab)) fail(vocab, 'tokenizer', 'file is missing', 'the CLIP BPE vocabulary (token → id JSON) in tokenizer/vocab.json');
  if (!existsSync(merges)) fail(merges, 'tokenizer', 'file is missing', 'the CLIP BPE merge list in tokenizer/merges.txt');
  const special = readJson(join(dir, 'special_tokens_map.json'), 'a JSON object of special tokens', false);
  const config = readJson(join(dir, 'tokenizer_config.json'), 'a JSON object with the tokenizer configuration', false);
  return tokenString(special?.pad_token) ?? tokenString(config?.pad_token) ?? EOS_TOKEN;
}

function inspectScheduler(folder: string): SchedulerConfig {
  const file = join(folder, 'scheduler', 'scheduler_config.json');
  const config = readJson(file, 'the diffusers scheduler configuration (scheduler/scheduler_config.json)', true) as SchedulerConfig;
  const cls = config._class_name;
  if (typeof cls !== 'string' || !SUPPORTED_SCHEDULERS.includes(cls)) {
    fail(
      file,
      'unknown-scheduler',
      `_class_name ${JSON.stringify(cls)} is not a scheduler Atelier implements`,
      `one of ${SUPPORTED_SCHEDULERS.join(', ')}`,
    );
  }
  try {
    createScheduler(config);
  } catch (err) {
    fail(file, 'bad-config', `scheduler configuration is invalid (${(err as Error).message})`, `a valid ${cls} configuration`, undefined, err);
  }
  return config;
}

export function inspectModel(folder: string): ModelInfo {
  const root = resolve(folder);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    fail(root, 'missing-file', 'model folder does not exist', 'a diffusers ONNX folder (model_index.json, unet/, text_encoder/, …)');
  }
  const indexFile = join(root, 'model_index.json');
  const modelIndex = readJson(indexFile, 'the diffusers pipeline index (model_index.json with _class_name and components)', true);
  const pipelineClass = modelIndex._class_name;
  if (typeof pipelineClass !== 'string') {
    fail(indexFile, 'bad-config', 'has no "_class_name"', 'a diffusers pipeline class such as "OnnxStableDiffusionPipeline"');
  }

  const components: Partial<Record<ComponentName, ComponentFiles>> = {};
  for (const name of ['text_encoder', 'unet', 'vae_decoder'] as const) components[name] = inspectComponent(root, name, true);
  for (const name of ['vae_encoder', 'text_encoder_2'] as const) {
    const c = inspectComponent(root, name, false);
    if (c) components[name] = c;
  }

  const tokenizerDir = join(root, 'tokenizer');
  const padToken = inspectTokenizer(tokenizerDir);
  let tokenizer2Dir: string | undefined;
  let padToken2: string | undefined;
  if (components.text_encoder_2) {
    tokenizer2Dir = join(root, 'tokenizer_2');
    padToken2 = inspectTokenizer(tokenizer2Dir);
  }

  const schedulerConfig = inspectScheduler(root);

  let scalingFactor = components.text_encoder_2 ? 0.13025 : 0.18215;
  const vaeConfig = components.vae_decoder!.config;
  if (vaeConfig && 'scaling_factor' in vaeConfig) {
    const sf = vaeConfig.scaling_factor;
    if (typeof sf !== 'number' || !(sf > 0)) {
      fail(join(root, 'vae_decoder', 'config.json'), 'bad-config', `scaling_factor is ${JSON.stringify(sf)}`, 'a positive number such as 0.18215');
    }
    scalingFactor = sf;
  }

  const unetConfig = components.unet!.config;
  const hasTimeCond = typeof unetConfig?.time_cond_proj_dim === 'number';
  const teHidden = components.text_encoder!.config?.hidden_size;
  const kind = classifyFamily({
    sdxl: Boolean(components.text_encoder_2),
    lcm: hasTimeCond || schedulerConfig._class_name === 'LCMScheduler',
    predictionType: String(schedulerConfig.prediction_type ?? 'epsilon'),
    timestepSpacing: schedulerConfig.timestep_spacing,
    sd2Text: teHidden === 1024 || padToken === '!',
  });
  const boolOr = (v: unknown, fallback: boolean) => (typeof v === 'boolean' ? v : fallback);

  return {
    folder: root,
    pipelineClass,
    modelIndex,
    components: components as ModelInfo['components'],
    tokenizerDir,
    tokenizer2Dir,
    padToken,
    schedulerConfig,
    scalingFactor,
    ...(padToken2 !== undefined ? { padToken2 } : {}),
    // diffusers StableDiffusionXLPipeline registers force_zeros_for_empty_prompt=True unless the index says otherwise.
    forceZerosForEmptyPrompt: components.text_encoder_2 ? boolOr(modelIndex.force_zeros_for_empty_prompt, true) : false,
    requiresAestheticsScore: boolOr(modelIndex.requires_aesthetics_score, false),
    vaeForceUpcast: boolOr(vaeConfig?.force_upcast, false),
    family: kind.family,
    turbo: kind.turbo,
    defaults: recommendedDefaults(kind, schedulerConfig, unetConfig),
  };
}
