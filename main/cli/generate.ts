/**
 * `atelier generate`: one-shot text-to-image from the command line. Same validation (the API's
 * GenerateRequest schema), same engine worker and same PNG metadata as the studio.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GenerateRequest, Settings, type GenerateParams } from '../../common/api/schemas';
import { parseProviderChoiceName } from '../../common/providers';
import { assertSizeFits, type ModelEntry } from '../app/model-registry';
import { defaultUserDataDir } from '../app/paths';
import { encodeGenerationPng, type PngSigning } from '../app/png-output';
import { drawSeed, type GenerationResult, type GenerationTarget, type RunHooks } from '../app/generation-service';
import { APP_VERSION, createRuntime, type Runtime } from '../app/runtime';
import { Provenance } from '../provenance';
import { ProgressReporter } from './progress-bar';

export const GENERATE_USAGE = `atelier generate --prompt "…" [--model <folder|id>] [--negative "…"] [--seed N] [--rng cpu|cuda]
                 [--steps N] [--cfg X] [--clip-skip N] [--scheduler <ClassName>[+karras]] [--width W] [--height H] [--batch N]
                 [--init image.png [--strength 0.75] [--fit crop|resize|pad]] [--mask mask.png [--mask-blur 4]]
                 [--outpaint left,right,top,bottom [--outpaint-fill edge|noise|blur]] (with --init)
                 [--upscale 2|4 [--upscaler <installed upscaler id>|lanczos]]
                 [--provider auto|cuda|dml|coreml|webgpu|cpu] [--device-id N] [--out file.png] [--json]
  --device-id N   the GPU CUDA/DirectML runs on (DirectML: DXGI adapter index; default: settings.gpuDeviceId, else 0)`;

/** `--device-id N`: validated by the settings schema, so the CLI and the studio refuse the same values with the same words. */
export function parseDeviceId(value: string): number {
  const parsed = Settings.shape.gpuDeviceId.safeParse(/^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value);
  if (!parsed.success || parsed.data === undefined) throw new Error(`--device-id ${value}: ${parsed.success ? 'missing' : parsed.error.issues[0].message}`);
  return parsed.data;
}

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${flag} must be a number, got "${value}"`);
  return n;
}

/** "0,32,0,0" → pixels to add on the left, right, top and bottom. */
export function parseOutpaint(value: string, fill: string | undefined): { left: number; right: number; top: number; bottom: number; fill?: string } {
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`--outpaint takes four whole pixel counts "left,right,top,bottom" (e.g. 0,32,0,0), got "${value}"`);
  }
  const [left, right, top, bottom] = parts;
  return { left, right, top, bottom, ...(fill ? { fill } : {}) };
}

/** out.png for one image; out-1.png, out-2.png … for a batch. */
export function outputPaths(out: string, count: number): string[] {
  if (count === 1) return [resolve(out)];
  const ext = extname(out) || '.png';
  const base = out.slice(0, out.length - extname(out).length);
  return Array.from({ length: count }, (_, i) => resolve(`${base}-${i + 1}${ext}`));
}

const GENERATE_OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  negative: { type: 'string', default: '' },
  seed: { type: 'string' },
  rng: { type: 'string', default: 'cpu' },
  steps: { type: 'string' },
  cfg: { type: 'string' },
  'clip-skip': { type: 'string' },
  scheduler: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  batch: { type: 'string', default: '1' },
  provider: { type: 'string' },
  'device-id': { type: 'string' },
  init: { type: 'string' },
  strength: { type: 'string' },
  fit: { type: 'string' },
  mask: { type: 'string' },
  'mask-blur': { type: 'string' },
  outpaint: { type: 'string' },
  'outpaint-fill': { type: 'string' },
  upscale: { type: 'string' },
  upscaler: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  home: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

type GenerateFlags = ReturnType<typeof parseArgs<{ options: typeof GENERATE_OPTIONS; strict: true }>>['values'];

export async function runGenerate(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: GENERATE_OPTIONS, strict: true });
  if (values.help) {
    io.stdout.write(`${GENERATE_USAGE}\n`);
    return 0;
  }
  if (values.prompt === undefined) throw new Error(`--prompt is required\n${GENERATE_USAGE}`);

  const deviceId = values['device-id'] === undefined ? undefined : parseDeviceId(values['device-id']);
  const userDataDir = values.home ?? defaultUserDataDir();
  const runtime = createRuntime({ userDataDir });
  if (deviceId !== undefined) {
    // For this run only: the settings file (shared with the studio) keeps its own choice.
    const get = runtime.settings.get.bind(runtime.settings);
    runtime.settings.get = () => ({ ...get(), gpuDeviceId: deviceId });
  }
  try {
    return await generateToFiles(values, runtime, userDataDir, io);
  } finally {
    await runtime.close();
  }
}

/** The generation itself: checked parameters, the engine run, PNG files, then the summary (words or --json). */
async function generateToFiles(values: GenerateFlags, runtime: Runtime, userDataDir: string, io: CliIo): Promise<number> {
  const settings = runtime.settings.get();
  const model = await runtime.models.resolve(values.model ?? settings.defaultModelId, { allowFolder: true });
  const initBytes = values.init ? readFileSync(resolve(values.init)) : null;
  const maskBytes = values.mask ? readFileSync(resolve(values.mask)) : null;
  const req = parseGenerateRequest(values, model.defaults ?? {}, initBytes, maskBytes);
  assertSizeFits(model, req.width, req.height);
  const seed = drawSeed(req.seed);
  const out = values.out ?? `atelier-${seed}.png`;

  // Same service as the studio; the target writes PNG files instead of a project library.
  const paths = outputPaths(out, req.batchSize);
  // Content credentials: signed with the installation's key (or the configured signer.json); --init is the parent.
  const signing = { provenance: new Provenance(userDataDir, { appVersion: APP_VERSION }), parent: initBytes && values.init ? { bytes: initBytes, title: basename(values.init) } : null };
  const target = pngFileTarget(paths, signing);
  const progress = progressBars(io, values.json!);
  const inputRefs = { ...(values.init ? { init: resolve(values.init) } : {}), ...(values.mask ? { mask: resolve(values.mask) } : {}) };
  const provider = values.provider === undefined ? undefined : parseProviderChoiceName(values.provider);
  const result = await runtime.generation.run({ kind: 'generate', params: { ...req, seed }, model, provider, inputRefs }, target, { onProgress: progress.update });
  progress.finish();
  if (values.json) {
    io.stdout.write(`${JSON.stringify(jsonSummary(result, seed, model.id, req, runtime))}\n`);
  } else {
    if (result.truncatedPrompt) io.stderr.write('warning: the prompt was longer than the text encoder accepts and was truncated\n');
    for (const p of result.saved) io.stdout.write(`${p}\n`);
    io.stderr.write(`seed ${seed} · ${result.scheduler} · ${req.steps} steps · provider ${result.provider} · ${Math.round(result.timings.totalMs ?? 0)} ms\n`);
  }
  return 0;
}

/** The flags as the API's GenerateRequest (the model's defaults fill what is not given), checked by its schema. */
function parseGenerateRequest(values: GenerateFlags, defaults: NonNullable<ModelEntry['defaults']>, initBytes: Buffer | null, maskBytes: Buffer | null): GenerateParams {
  const parsed = GenerateRequest.safeParse({
    prompt: values.prompt,
    negativePrompt: values.negative,
    seed: num(values.seed, '--seed') ?? -1,
    rng: values.rng,
    steps: num(values.steps, '--steps') ?? defaults.steps,
    guidanceScale: num(values.cfg, '--cfg') ?? defaults.guidanceScale,
    clipSkip: num(values['clip-skip'], '--clip-skip'),
    scheduler: values.scheduler ?? defaults.scheduler,
    width: num(values.width, '--width') ?? defaults.width,
    height: num(values.height, '--height') ?? defaults.height,
    batchSize: num(values.batch, '--batch'),
    ...(initBytes ? { initImage: { base64: initBytes.toString('base64') } } : {}),
    ...(maskBytes ? { mask: { base64: maskBytes.toString('base64') } } : {}),
    strength: num(values.strength, '--strength'),
    fit: values.fit,
    maskBlur: num(values['mask-blur'], '--mask-blur'),
    upscale: num(values.upscale, '--upscale'),
    upscaler: values.upscaler,
    ...(values.outpaint ? { outpaint: parseOutpaint(values.outpaint, values['outpaint-fill']) } : {}),
  });
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid parameters: ${msg}`);
  }
  return parsed.data;
}

/** Writes each image to the next of `paths`, with the studio's PNG metadata and content credentials. */
function pngFileTarget(paths: string[], signing: PngSigning): GenerationTarget<string> {
  let written = 0;
  return {
    imageFile: async () => null,
    record: () => null,
    async save(image, params) {
      const path = paths[written++];
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, await encodeGenerationPng(image, params, signing));
      return path;
    },
  };
}

/** Denoising first; with --upscale the tiles follow, on a second bar. None with --json (stdout carries the JSON). */
function progressBars(io: CliIo, json: boolean): { update: NonNullable<RunHooks['onProgress']>; finish(): void } {
  const progress = json ? null : new ProgressReporter(io.stderr, 'generating');
  let upscaling: ProgressReporter | null = null;
  return {
    update: (step, total, elapsedMs, phase) => {
      if (phase === 'upscale' && !upscaling && !json) {
        progress?.finish();
        upscaling = new ProgressReporter(io.stderr, 'upscaling');
      }
      (phase === 'upscale' ? upscaling : progress)?.update(step, total, step > 0 ? (elapsedMs / step) * (total - step) : NaN);
    },
    finish: () => (upscaling ?? progress)?.finish(),
  };
}

/** The `--json` summary: one line on stdout that scripts parse (its keys are a contract). */
function jsonSummary(result: GenerationResult<string>, seed: number, modelId: string, req: GenerateParams, runtime: Runtime): Record<string, unknown> {
  return {
    outputs: result.saved,
    seed,
    seeds: result.images.map((img) => img.seed),
    model: modelId,
    modelFamily: result.model.family,
    provider: result.provider,
    providerFallbacks: result.model.fallbacks,
    // The GPU index the engine loaded the model on (CUDA/DirectML only).
    ...(runtime.engine.loadedModel?.deviceId !== undefined ? { deviceId: runtime.engine.loadedModel.deviceId } : {}),
    scheduler: result.scheduler,
    steps: req.steps,
    guidanceScale: req.guidanceScale,
    width: result.images[0].width,
    height: result.images[0].height,
    rng: req.rng,
    truncatedPrompt: result.truncatedPrompt,
    timings: result.timings,
  };
}
