/**
 * `atelier generate`: one-shot text-to-image from the command line. Same validation (the API's
 * GenerateRequest schema), same engine worker and same PNG metadata as the studio.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GenerateRequest } from '../../common/api/schemas';
import { APP_VERSION } from '../app/create-backend';
import { assertSizeFits, ModelRegistry } from '../app/model-registry';
import { ModelManager } from '../models/manager';
import { appRoot, bundledDemoModelDir, defaultUserDataDir } from '../app/paths';
import { SettingsStore } from '../app/settings-store';
import { EngineHost } from '../engine-host/engine-host';
import { encodeGenerationPng } from '../app/png-output';
import { ProgressReporter } from './progress-bar';
import { decodeMask, decodeRgb } from '../app/image-inputs';
import { formatSchedulerName } from '../../common/api/scheduler-names';
import { applyOutpaint, generationRecord, NO_IMAGE_INPUTS, planGeneration, type ImageInputs } from '../app/generation-plan';
import { installedUpscalers } from '../app/upscale-job';
import { upscaleInWorker } from '../app/upscale-host';
import { parseProviderChoice } from '../engine';

export const GENERATE_USAGE = `atelier generate --prompt "…" [--model <folder|id>] [--negative "…"] [--seed N] [--rng cpu|cuda]
                 [--steps N] [--cfg X] [--clip-skip N] [--scheduler <ClassName>[+karras]] [--width W] [--height H] [--batch N]
                 [--init image.png [--strength 0.75] [--fit crop|resize|pad]] [--mask mask.png [--mask-blur 4]]
                 [--outpaint left,right,top,bottom [--outpaint-fill edge|noise|blur]] (with --init)
                 [--upscale 2|4 [--upscaler <installed upscaler id>|lanczos]]
                 [--provider auto|cuda|dml|coreml|webgpu|cpu] [--out file.png] [--json]`;

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

export async function runGenerate(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
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
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${GENERATE_USAGE}\n`);
    return 0;
  }
  if (values.prompt === undefined) throw new Error(`--prompt is required\n${GENERATE_USAGE}`);

  const userDataDir = values.home ?? defaultUserDataDir();
  const settings = new SettingsStore(`${userDataDir}/settings.json`, userDataDir).get();
  const registry = new ModelRegistry(new ModelManager({ modelsDir: settings.modelsDir, demoModelDir: bundledDemoModelDir(appRoot()) }));
  const model = await registry.resolve(values.model ?? settings.defaultModelId, { allowFolder: true });
  const defaults = model.defaults ?? {};

  const initBytes = values.init ? readFileSync(resolve(values.init)) : null;
  const maskBytes = values.mask ? readFileSync(resolve(values.mask)) : null;
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
  const req = parsed.data;
  assertSizeFits(model, req.width, req.height);
  const seed = req.seed === -1 ? randomInt(0, 2 ** 32 - 1) : req.seed;
  const out = values.out ?? `atelier-${seed}.png`;

  const engine = new EngineHost();
  const progress = values.json ? null : new ProgressReporter(io.stderr, 'generating');
  try {
    const loaded = await engine.load(model.folder, values.provider ?? settings.provider, settings.lowMemory);
    const given: ImageInputs = {
      ...NO_IMAGE_INPUTS,
      initImage: initBytes ? await decodeRgb(initBytes, '--init') : null,
      mask: maskBytes ? await decodeMask(maskBytes, '--mask') : null,
      initRef: values.init ? resolve(values.init) : null,
      maskRef: values.mask ? resolve(values.mask) : null,
    };
    const inputs = applyOutpaint(req, given, seed, model.sizeMultiple);
    const plan = planGeneration(req, seed, inputs);
    const outcome = await engine.generate(plan.pipeline, 0, {
      onProgress: (p) => progress?.update(p.step, p.total, p.step > 0 ? (p.elapsedMs / p.step) * (p.total - p.step) : NaN),
    });
    progress?.finish();
    let images = outcome.images;
    if (req.upscale) {
      const upscaling = values.json ? null : new ProgressReporter(io.stderr, 'upscaling');
      const candidates = await installedUpscalers(new ModelManager({ modelsDir: settings.modelsDir }));
      const started = performance.now();
      const up = await upscaleInWorker(
        { images, factor: req.upscale, candidates, choice: req.upscaler, provider: parseProviderChoice(values.provider ?? settings.provider) },
        { onTile: (d, t) => upscaling?.update(d, t, ((performance.now() - started) / d) * (t - d)) },
      );
      upscaling?.finish();
      images = images.map((img, i) => ({ ...img, width: up.images[i].width, height: up.images[i].height, rgb: up.images[i].rgb }));
      outcome.timings.upscaleMs = Math.round(up.ms);
      outcome.timings.upscaleFactor = req.upscale;
    }
    const paths = outputPaths(out, images.length);
    const record = { req, plan, inputs, outcome, model: { id: model.id, hash: registry.fingerprint(model.folder), family: loaded.family }, appVersion: APP_VERSION };
    for (const [i, img] of images.entries()) {
      const png = await encodeGenerationPng(img, generationRecord(record, img, i));
      mkdirSync(dirname(paths[i]), { recursive: true });
      writeFileSync(paths[i], png);
    }
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({
          outputs: paths,
          seed,
          seeds: outcome.images.map((img) => img.seed),
          model: model.id,
          modelFamily: loaded.family,
          provider: outcome.provider,
          providerFallbacks: loaded.fallbacks,
          scheduler: formatSchedulerName(outcome.scheduler, plan.schedulerOptions),
          steps: req.steps,
          guidanceScale: req.guidanceScale,
          width: images[0].width,
          height: images[0].height,
          rng: req.rng,
          truncatedPrompt: outcome.truncatedPrompt,
          timings: outcome.timings,
        })}\n`,
      );
    } else {
      if (outcome.truncatedPrompt) io.stderr.write('warning: the prompt was longer than the text encoder accepts and was truncated\n');
      for (const p of paths) io.stdout.write(`${p}\n`);
      io.stderr.write(`seed ${seed} · ${outcome.scheduler} · ${req.steps} steps · provider ${outcome.provider} · ${Math.round(outcome.timings.totalMs ?? 0)} ms\n`);
    }
    return 0;
  } finally {
    await engine.close();
  }
}
